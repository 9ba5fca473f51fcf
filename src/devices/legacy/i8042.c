/*
 * An 8042 keyboard controller with nothing plugged in, after the IBM PC/AT
 * Technical Reference "Keyboard Controller" section: status register bits,
 * the controller command set (0x20-0x3f read RAM, 0x60-0x7f write RAM with
 * RAM byte 0 the command byte, 0xaa self-test, 0xab/0xa9 interface tests,
 * 0xad/0xae and 0xa7/0xa8 port disable/enable, 0xd0/0xd1 output port,
 * 0xd2-0xd4 output buffer writes, 0xf0-0xff output port pulses) and the
 * output buffer with its IRQ1.
 *
 * No keyboard: data bytes sent to it get no answer, which drivers treat as
 * "no device". No aux port: 0xa9 reports the clock line stuck high and 0xd3
 * echoes without the aux-data status bit, so Linux's i8042_check_aux gives
 * up at once instead of waiting for an IRQ12 that never comes.
 *
 * The reset line: output port bit 0 going low (0xd1 with bit 0 clear, or a
 * pulse command 0xfe) asks the VM to stop with VM_STOP_RESET.
 *
 * The bus range covers 0x60-0x64; 0x61-0x63 read 0xff and ignore writes
 * (0x61, the speaker/NMI status port, is emulated by KVM's in-kernel PIT and
 * never exits here). Wider accesses act on the addressed byte: writes use
 * the low byte, reads return the value in the low byte and 0xff above it.
 */
#include "devices/legacy/i8042.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define I8042_DATA 0
#define I8042_CMD  4 /* command on write, status on read */

/* Status register */
#define STR_OBF     0x01
#define STR_IBF     0x02
#define STR_SYS     0x04
#define STR_CMD     0x08 /* the last write went to the command port */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited */
#define STR_AUXDATA 0x20

/* Command byte (controller RAM byte 0) */
#define CTR_KBDINT  0x01
#define CTR_AUXINT  0x02
#define CTR_SYS     0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40
#define CTR_DEFAULT (CTR_XLATE | CTR_SYS | CTR_KBDINT)

/* Output port */
#define OUTPORT_RESET   0x01 /* 1: CPU reset line inactive */
#define OUTPORT_A20     0x02
#define OUTPORT_KBD_OBF 0x10
#define OUTPORT_AUX_OBF 0x20
#define OUTPORT_DEFAULT (OUTPORT_RESET | OUTPORT_A20)

#define CMD_READ_RAM       0x20 /* .. 0x3f */
#define CMD_WRITE_RAM      0x60 /* .. 0x7f */
#define CMD_AUX_DISABLE    0xa7
#define CMD_AUX_ENABLE     0xa8
#define CMD_AUX_TEST       0xa9
#define CMD_SELF_TEST      0xaa
#define CMD_KBD_TEST       0xab
#define CMD_KBD_DISABLE    0xad
#define CMD_KBD_ENABLE     0xae
#define CMD_READ_OUTPORT   0xd0
#define CMD_WRITE_OUTPORT  0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX      0xd4
#define CMD_PULSE          0xf0 /* .. 0xff: bits 3:0 clear = pulse those output lines */

#define SELF_TEST_OK         0x55
#define PORT_TEST_OK         0x00
#define PORT_TEST_CLOCK_HIGH 0x02

struct i8042 {
	pthread_mutex_t lock;
	struct vm_control ctl;
	struct irq_line irq;
	uint8_t ram[32]; /* ram[0] is the command byte */
	uint8_t outport;
	uint8_t obuf;
	bool obf;
	bool last_was_cmd;
	uint8_t pending; /* a command waiting for its data byte, 0 if none */
	int irq_level;
};

/* Under lock: IRQ1 follows a full output buffer while CTR.KBDINT is set. */
static void i8042_update_irq(struct i8042 *dev)
{
	int level = dev->obf && (dev->ram[0] & CTR_KBDINT);
	if (level != dev->irq_level) {
		dev->irq_level = level;
		irq_line_set(&dev->irq, level);
	}
}

static void i8042_reply(struct i8042 *dev, uint8_t value)
{
	dev->obuf = value;
	dev->obf = true;
}

static uint8_t i8042_status(const struct i8042 *dev)
{
	uint8_t v = STR_KEYLOCK;
	if (dev->obf)
		v |= STR_OBF;
	if (dev->ram[0] & CTR_SYS)
		v |= STR_SYS;
	if (dev->last_was_cmd)
		v |= STR_CMD;
	return v;
}

/* Returns true when the command asks for a CPU reset. */
static bool i8042_command(struct i8042 *dev, uint8_t cmd)
{
	dev->pending = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
		i8042_reply(dev, dev->ram[cmd & 0x1f]);
		return false;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		dev->pending = cmd;
		return false;
	}
	if (cmd >= CMD_PULSE)
		return !(cmd & OUTPORT_RESET);

	switch (cmd) {
	case CMD_AUX_DISABLE:
		dev->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		dev->ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
		i8042_reply(dev, PORT_TEST_CLOCK_HIGH);
		break;
	case CMD_SELF_TEST:
		dev->ram[0] |= CTR_SYS;
		i8042_reply(dev, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		i8042_reply(dev, PORT_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		dev->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		dev->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		i8042_reply(dev, (uint8_t)(dev->outport | (dev->obf ? OUTPORT_KBD_OBF : 0)));
		break;
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		dev->pending = cmd;
		break;
	default:
		log_warn_ratelimited("i8042: unsupported command 0x%02x ignored", cmd);
		break;
	}
	return false;
}

/* A data-port write: the argument of a pending command, else for the keyboard. */
static bool i8042_data(struct i8042 *dev, uint8_t value)
{
	uint8_t cmd = dev->pending;
	dev->pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		dev->ram[cmd & 0x1f] = value;
		return false;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPORT:
		/* The reset line cannot stay asserted: we stop instead. */
		dev->outport = value | OUTPORT_RESET;
		return !(value & OUTPORT_RESET);
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
		/* No aux port: 0xd3 echoes as keyboard data (see the header). */
		i8042_reply(dev, value);
		break;
	default:
		/* 0xd4 (to the aux device) or a byte for the keyboard: nobody listens. */
		break;
	}
	return false;
}

/*
 * Allocates the controller as firmware leaves it (self-test passed, command
 * byte 0x45, output port with reset and A20 high). ctl and kbd_irq are
 * copied. Returns NULL when out of memory. VMM thread.
 */
struct i8042 *i8042_create(const struct vm_control *ctl, const struct irq_line *kbd_irq)
{
	struct i8042 *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	if (pthread_mutex_init(&dev->lock, NULL)) {
		free(dev);
		return NULL;
	}
	if (ctl)
		dev->ctl = *ctl;
	if (kbd_irq)
		dev->irq = *kbd_irq;
	dev->ram[0] = CTR_DEFAULT;
	dev->outport = OUTPORT_DEFAULT;
	return dev;
}

/* Frees the controller. No vCPU may be running. */
void i8042_destroy(struct i8042 *dev)
{
	if (!dev)
		return;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

/*
 * Bus handler, vCPU threads. A reset request goes to the vm_control after
 * the device lock is dropped; the access itself completes normally.
 */
void i8042_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct i8042 *dev = opaque;
	bool reset = false;
	if (size == 0)
		return;
	if (!is_write)
		memset(data, 0xff, size);
	if (offset != I8042_DATA && offset != I8042_CMD)
		return;

	pthread_mutex_lock(&dev->lock);
	if (is_write && offset == I8042_CMD) {
		dev->last_was_cmd = true;
		reset = i8042_command(dev, data[0]);
	} else if (is_write) {
		dev->last_was_cmd = false;
		reset = i8042_data(dev, data[0]);
	} else if (offset == I8042_CMD) {
		data[0] = i8042_status(dev);
	} else {
		/* Reading an empty buffer returns the stale byte, as the chip does. */
		data[0] = dev->obuf;
		dev->obf = false;
	}
	i8042_update_irq(dev);
	pthread_mutex_unlock(&dev->lock);

	if (reset)
		vm_control_stop(&dev->ctl, VM_STOP_RESET);
}
