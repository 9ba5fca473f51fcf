/*
 * The I/O APIC (Intel 82093AA datasheet, 3.2 "Register Description").
 *
 * Line levels are logical (1 = asserted) whatever the polarity bit says,
 * as in KVM: devices drive irq_line with "asserted", never with a voltage.
 * Edge pins deliver on a rising edge while unmasked (an edge while masked
 * is lost, as on hardware). Level pins deliver while asserted, unmasked
 * and without remote IRR; the local APIC's EOI of that vector clears the
 * remote IRR and re-delivers if the line is still asserted.
 */
#include <string.h>

#include "accel/soft/platform/platform_internal.h"

#define IOREGSEL 0x00
#define IOWIN    0x10

#define IOAPIC_REG_ID    0x00
#define IOAPIC_REG_VER   0x01
#define IOAPIC_REG_ARB   0x02
#define IOAPIC_REG_REDIR 0x10

#define REDIR_DELIVERY_STATUS (1ull << 12)
#define REDIR_REMOTE_IRR      (1ull << 14)
#define REDIR_LEVEL           (1ull << 15)
#define REDIR_MASKED          (1ull << 16)
#define REDIR_READ_ONLY       (REDIR_DELIVERY_STATUS | REDIR_REMOTE_IRR)

void ioapic_init(struct ioapic *io, struct soft_platform *p)
{
	memset(io, 0, sizeof(*io));
	pthread_mutex_init(&io->lock, NULL);
	io->p = p;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->redir[i] = REDIR_MASKED;
}

void ioapic_fini(struct ioapic *io)
{
	pthread_mutex_destroy(&io->lock);
}

/* Sends pin's message; level pins get remote IRR if an APIC took it. */
static void ioapic_deliver(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	struct apic_msg msg = {
	    .vector = e & 0xff,
	    .mode = (e >> 8) & 7,
	    .logical = e & (1u << 11),
	    .level = e & REDIR_LEVEL,
	    .dest = (uint32_t)(e >> 56),
	};
	unsigned taken = platform_deliver(io->p, &msg);
	if ((e & REDIR_LEVEL) && taken)
		io->redir[pin] |= REDIR_REMOTE_IRR;
}

/* Level pins: deliver if asserted, unmasked and not awaiting EOI. */
static void ioapic_service_level(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	if ((e & REDIR_LEVEL) && !(e & (REDIR_MASKED | REDIR_REMOTE_IRR)) &&
	    (io->lines & (1u << pin)))
		ioapic_deliver(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	if (pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	uint32_t bit = 1u << pin;
	bool was = io->lines & bit;
	io->lines = level ? io->lines | bit : io->lines & ~bit;
	uint64_t e = io->redir[pin];
	if (e & REDIR_LEVEL)
		ioapic_service_level(io, pin);
	else if (level && !was && !(e & REDIR_MASKED))
		ioapic_deliver(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];
		if ((e & 0xff) != vector || !(e & REDIR_LEVEL) || !(e & REDIR_REMOTE_IRR))
			continue;
		io->redir[pin] &= ~REDIR_REMOTE_IRR;
		ioapic_service_level(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static uint32_t ioapic_read_reg(struct ioapic *io)
{
	uint32_t index = io->regsel;
	switch (index) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id << 24;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	default:
		break;
	}
	if (index >= IOAPIC_REG_REDIR && index < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(index - IOAPIC_REG_REDIR) / 2];
		return index & 1 ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;
}

static void ioapic_write_reg(struct ioapic *io, uint32_t val)
{
	uint32_t index = io->regsel;
	if (index == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (index < IOAPIC_REG_REDIR || index >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return; /* version, arbitration: read-only */
	unsigned pin = (index - IOAPIC_REG_REDIR) / 2;
	uint64_t e = io->redir[pin];
	if (index & 1) {
		e = (e & 0xffffffffull) | (uint64_t)(val & 0xff000000u) << 32;
	} else {
		e = (e & (0xffffffff00000000ull | REDIR_READ_ONLY)) | (val & ~REDIR_READ_ONLY);
		if (!(e & REDIR_LEVEL))
			e &= ~REDIR_REMOTE_IRR; /* as KVM: an edge entry has no remote IRR */
	}
	io->redir[pin] = e;
	/* Unmasking a level pin whose line is asserted delivers it now. */
	ioapic_service_level(io, pin);
}

void ioapic_mmio(struct ioapic *io, uint64_t offset, void *data, unsigned size, bool is_write)
{
	uint32_t val = 0;
	pthread_mutex_lock(&io->lock);
	switch (offset) {
	case IOREGSEL:
		if (is_write) {
			memcpy(&val, data, MIN(size, 4u));
			io->regsel = val & 0xff;
		} else {
			val = io->regsel;
		}
		break;
	case IOWIN:
		if (is_write) {
			memcpy(&val, data, MIN(size, 4u));
			ioapic_write_reg(io, val);
		} else {
			val = ioapic_read_reg(io);
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write) {
		memset(data, 0, size);
		memcpy(data, &val, MIN(size, 4u));
	}
}
