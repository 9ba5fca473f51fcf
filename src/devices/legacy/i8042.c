/*
 * An 8042 keyboard controller with nothing plugged in, after the IBM PC/AT
 * Technical Reference "Keyboard Controller" section: status register bits,
 * the controller command set (0x20-0x3f read RAM, 0x60-0x7f write RAM with
 * RAM byte 0 the command byte, 0xaa self-test, 0xab/0xa9 interface tests,
 * 0xad/0xae and 0xa7/0xa8 port disable/enable, 0xd0/0xd1 output port,
 * 0xd2-0xd4 output buffer writes, 0xf0-0xff output port pulses) and the
 * output buffer with its IRQ1.
 *
 * A minimal AT keyboard sits on the keyboard port: it acknowledges the
 * commands Linux's atkbd sends (reset with a passed self-test, identify as
 * an MF2 keyboard, LEDs, scan-code set, typematic rate, enable/disable) and
 * types the keys the VMM injects (i8042_send_ctrl_alt_del, the API's
 * SendCtrlAltDel), in scan-code set 2 or translated to set 1 when the
 * command byte asks for translation. Its bytes queue in a FIFO and enter
 * the output buffer one at a time as the guest reads them. No aux port:
 * 0xa9 reports the clock line stuck high and 0xd3 echoes without the
 * aux-data status bit, so Linux's i8042_check_aux gives up at once instead
 * of waiting for an IRQ12 that never comes.
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

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/macros.h"
#include "core/metrics.h"

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

/* Keyboard commands and replies (IBM PS/2 Technical Reference, keyboard). */
#define KBD_CMD_SET_LEDS     0xed
#define KBD_CMD_ECHO         0xee
#define KBD_CMD_SCANCODE_SET 0xf0
#define KBD_CMD_IDENTIFY     0xf2
#define KBD_CMD_TYPEMATIC    0xf3
#define KBD_CMD_ENABLE       0xf4
#define KBD_CMD_DISABLE      0xf5
#define KBD_CMD_DEFAULTS     0xf6
#define KBD_CMD_RESEND       0xfe
#define KBD_CMD_RESET        0xff
#define KBD_REPLY_ACK        0xfa
#define KBD_REPLY_BAT_OK     0xaa
#define KBD_REPLY_RESEND     0xfe
#define KBD_ID_MF2_1         0xab
#define KBD_ID_MF2_2         0x83
#define KBD_FIFO_SIZE        32 /* a power of two */

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
	bool obuf_from_kbd; /* the output buffer holds a keyboard byte */
	bool last_was_cmd;
	uint8_t pending; /* a command waiting for its data byte, 0 if none */
	int irq_level;

	/* The keyboard: bytes it sent that the controller has not yet taken. */
	uint8_t kbd_fifo[KBD_FIFO_SIZE];
	unsigned kbd_head, kbd_count;
	uint8_t kbd_pending;	/* a keyboard command waiting for its argument */
	uint8_t kbd_scanset;	/* 1, 2 or 3; 2 after reset */
	bool kbd_scanning;	/* enabled: keys are sent */
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

/* Under lock: a controller reply takes the output buffer; a keyboard byte
 * still waiting there goes back to the front of the keyboard's queue. */
static void i8042_reply(struct i8042 *dev, uint8_t value)
{
	if (dev->obf && dev->obuf_from_kbd) {
		dev->kbd_head = (dev->kbd_head - 1) & (KBD_FIFO_SIZE - 1);
		dev->kbd_fifo[dev->kbd_head] = dev->obuf;
		dev->kbd_count++;
	}
	dev->obuf = value;
	dev->obf = true;
	dev->obuf_from_kbd = false;
}

/* Under lock: the keyboard queues a byte for the controller. */
static void kbd_queue(struct i8042 *dev, uint8_t byte)
{
	if (dev->kbd_count == KBD_FIFO_SIZE) {
		metrics_inc(&metrics_i8042.missed_write_count);
		return; /* a real keyboard drops keys when its buffer is full */
	}
	dev->kbd_fifo[(dev->kbd_head + dev->kbd_count++) & (KBD_FIFO_SIZE - 1)] = byte;
}

/* Under lock: the next keyboard byte enters the output buffer once it is empty
 * and the keyboard port is enabled. */
static void kbd_fill_obuf(struct i8042 *dev)
{
	if (dev->obf || !dev->kbd_count || (dev->ram[0] & CTR_KBDDIS))
		return;
	uint8_t byte = dev->kbd_fifo[dev->kbd_head];
	dev->kbd_head = (dev->kbd_head + 1) & (KBD_FIFO_SIZE - 1);
	dev->kbd_count--;
	i8042_reply(dev, byte);
	dev->obuf_from_kbd = true;
}

static void kbd_reset(struct i8042 *dev)
{
	dev->kbd_head = dev->kbd_count = 0;
	dev->kbd_pending = 0;
	dev->kbd_scanset = 2;
	dev->kbd_scanning = true;
}

/* Under lock: a byte from the guest to the keyboard. */
static void kbd_write(struct i8042 *dev, uint8_t byte)
{
	uint8_t cmd = dev->kbd_pending;
	dev->kbd_pending = 0;
	if (cmd == KBD_CMD_SCANCODE_SET) {
		kbd_queue(dev, KBD_REPLY_ACK);
		if (byte == 0)
			kbd_queue(dev, dev->kbd_scanset); /* 0 asks for the current set */
		else if (byte <= 3)
			dev->kbd_scanset = byte;
		return;
	}
	if (cmd == KBD_CMD_SET_LEDS || cmd == KBD_CMD_TYPEMATIC) {
		kbd_queue(dev, KBD_REPLY_ACK); /* no LEDs, no key repeat to configure */
		return;
	}
	switch (byte) {
	case KBD_CMD_SET_LEDS:
	case KBD_CMD_TYPEMATIC:
	case KBD_CMD_SCANCODE_SET:
		dev->kbd_pending = byte;
		kbd_queue(dev, KBD_REPLY_ACK);
		break;
	case KBD_CMD_ECHO:
		kbd_queue(dev, KBD_CMD_ECHO);
		break;
	case KBD_CMD_IDENTIFY:
		kbd_queue(dev, KBD_REPLY_ACK);
		kbd_queue(dev, KBD_ID_MF2_1);
		kbd_queue(dev, KBD_ID_MF2_2);
		break;
	case KBD_CMD_ENABLE:
		dev->kbd_head = dev->kbd_count = 0;
		dev->kbd_scanning = true;
		kbd_queue(dev, KBD_REPLY_ACK);
		break;
	case KBD_CMD_DISABLE:
	case KBD_CMD_DEFAULTS:
		dev->kbd_head = dev->kbd_count = 0;
		dev->kbd_scanset = 2;
		dev->kbd_scanning = byte == KBD_CMD_DEFAULTS;
		kbd_queue(dev, KBD_REPLY_ACK);
		break;
	case KBD_CMD_RESET:
		kbd_reset(dev);
		kbd_queue(dev, KBD_REPLY_ACK);
		kbd_queue(dev, KBD_REPLY_BAT_OK);
		break;
	default:
		/* 0xf7-0xfd (set-3 key types), 0xfe (resend) and unknown bytes. */
		kbd_queue(dev, byte == KBD_CMD_RESEND ? KBD_REPLY_ACK : KBD_REPLY_RESEND);
		break;
	}
}

/*
 * A key as both scan-code sets know it: set 1 make code (break = | 0x80) and
 * set 2 make code (break = 0xf0 prefix), with the 0xe0 prefix for the
 * extended keys.
 */
struct kbd_key {
	uint8_t set1, set2;
	bool extended;
};

static const struct kbd_key KEY_LEFT_CTRL = {0x1d, 0x14, false};
static const struct kbd_key KEY_LEFT_ALT = {0x38, 0x11, false};
static const struct kbd_key KEY_DELETE = {0x53, 0x71, true};

/* Under lock: what the keyboard sends for a key press or release. Set 1 on the
 * wire is what translation produces from set 2, so either way the guest sees
 * set 1 when the command byte has CTR_XLATE. */
static void kbd_key_event(struct i8042 *dev, const struct kbd_key *key, bool release)
{
	bool set1 = dev->kbd_scanset == 1 || (dev->ram[0] & CTR_XLATE);
	if (key->extended)
		kbd_queue(dev, 0xe0);
	if (set1) {
		kbd_queue(dev, (uint8_t)(key->set1 | (release ? 0x80 : 0)));
	} else {
		if (release)
			kbd_queue(dev, 0xf0);
		kbd_queue(dev, key->set2);
	}
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
	case CMD_WRITE_AUX:
		break; /* no aux device listens */
	default:
		/* A byte for the keyboard; sending it enables the keyboard port. */
		dev->ram[0] &= (uint8_t)~CTR_KBDDIS;
		kbd_write(dev, value);
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
	kbd_reset(dev);
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

	metrics_inc(is_write ? &metrics_i8042.write_count : &metrics_i8042.read_count);
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
		/* IRQ1 is an edge: the line drops with the read so that the next
		 * byte the keyboard queued raises it again (one byte per interrupt). */
		i8042_update_irq(dev);
	}
	kbd_fill_obuf(dev);
	i8042_update_irq(dev);
	pthread_mutex_unlock(&dev->lock);

	if (reset) {
		metrics_inc(&metrics_i8042.reset_count);
		vm_control_stop(&dev->ctl, VM_STOP_RESET);
	}
}

/*
 * Types Ctrl-Alt-Del on the keyboard (Firecracker's SendCtrlAltDel): the
 * guest's keyboard driver sees the three keys pressed and released. Any
 * thread. Returns -EBUSY when the keyboard is disabled or its buffer full.
 */
int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	static const struct kbd_key *const keys[] = {&KEY_LEFT_CTRL, &KEY_LEFT_ALT, &KEY_DELETE};
	int r = 0;
	pthread_mutex_lock(&dev->lock);
	/* Up to 3 bytes per event, 6 events. */
	if (!dev->kbd_scanning || dev->kbd_count + 18 > KBD_FIFO_SIZE) {
		r = -EBUSY;
	} else {
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			kbd_key_event(dev, keys[k], false);
		for (size_t k = ARRAY_SIZE(keys); k-- > 0;)
			kbd_key_event(dev, keys[k], true);
		kbd_fill_obuf(dev);
		i8042_update_irq(dev);
	}
	pthread_mutex_unlock(&dev->lock);
	return r;
}
