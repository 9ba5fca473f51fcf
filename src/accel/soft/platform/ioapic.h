/*
 * The I/O APIC (Intel 82093AA datasheet): 24 pins, IOREGSEL/IOWIN at
 * 0xfec00000, redirection entries with edge and level triggering, remote
 * IRR cleared by the local APICs' EOI broadcast.
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_IOAPIC_H
#define EMBER_ACCEL_SOFT_PLATFORM_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_PINS    24
#define IOAPIC_VERSION 0x170011u /* 24 entries (max index 23), version 0x11 */

struct soft_platform;

struct ioapic {
	pthread_mutex_t lock;
	struct soft_platform *p;
	uint32_t regsel;
	uint32_t id;    /* bits 27:24 of register 0 */
	uint32_t lines; /* the level each pin's line is driven at, a bit per pin */
	uint64_t redir[IOAPIC_PINS];
};

void ioapic_init(struct ioapic *io, struct soft_platform *p);
void ioapic_fini(struct ioapic *io);

/* An access to the IOAPIC page at offset (0..0xfff). Any thread. */
void ioapic_mmio(struct ioapic *io, uint64_t offset, void *data, unsigned size, bool is_write);
/* Drives pin to level (1 asserted). Any thread. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* A local APIC's EOI of a level-triggered vector. Any thread. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
