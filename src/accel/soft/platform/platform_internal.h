/*
 * What the platform's devices share inside src/accel/soft/platform/: the
 * interrupt message of the APIC bus (ICR, IOAPIC redirection entries and
 * MSIs all produce one) and struct soft_platform itself.
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_INTERNAL_H
#define EMBER_ACCEL_SOFT_PLATFORM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/soft/platform/ioapic.h"
#include "accel/soft/platform/lapic.h"
#include "accel/soft/platform/pic.h"
#include "accel/soft/platform/pit.h"
#include "accel/soft/platform/platform.h"

/* Delivery modes (ICR, LVT, redirection entries, MSI data bits 10:8). */
enum apic_delivery {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7,
};

/* ICR destination shorthands (bits 19:18). */
enum apic_shorthand {
	APIC_DEST_NONE = 0,
	APIC_DEST_SELF = 1,
	APIC_DEST_ALL = 2,
	APIC_DEST_OTHERS = 3,
};

/* One interrupt message on the (virtual) APIC bus. */
struct apic_msg {
	uint32_t dest; /* APIC id, or logical destination */
	uint8_t vector;
	uint8_t mode;      /* enum apic_delivery */
	uint8_t shorthand; /* enum apic_shorthand (ICR only) */
	bool logical;      /* logical destination mode */
	bool level;        /* level-triggered (sets TMR) */
	bool x2apic;       /* 32-bit destination (ICR of an x2APIC); else 8-bit */
	unsigned src;      /* sending vCPU, for the self shorthands */
};

struct soft_platform {
	unsigned nr_cpus;
	uint32_t tsc_khz;
	struct platform_callbacks cb;
	struct ioapic ioapic;
	struct pic pic;
	struct pit pit;
	struct lapic lapic[]; /* nr_cpus */
};

static inline uint64_t platform_now(struct soft_platform *p)
{
	return p->cb.now_ns(p->cb.ctx);
}

static inline void platform_kick(struct soft_platform *p, unsigned cpu, uint32_t bits)
{
	p->cb.kick(p->cb.ctx, cpu, bits);
}

/*
 * Delivers msg to every local APIC it addresses (apic_bus.c); returns how
 * many took it. Any thread; takes no lock of its own.
 */
unsigned platform_deliver(struct soft_platform *p, const struct apic_msg *msg);

#endif
