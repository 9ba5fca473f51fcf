/*
 * The local APIC of one vCPU (Intel SDM vol. 3A chapter 10 / 11 "Advanced
 * Programmable Interrupt Controller"): xAPIC registers in MMIO, x2APIC
 * registers as MSRs 0x800-0x8ff, the timer in one-shot, periodic and
 * TSC-deadline modes, IPIs.
 *
 * Ownership: everything is read and written by the vCPU's own thread,
 * except what other threads need for delivering to it (atomics below):
 * they set IRR/TMR bits, the SIPI vector and pending errors, and read the
 * id, logical destination and enable state to match destinations.
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_LAPIC_H
#define EMBER_ACCEL_SOFT_PLATFORM_LAPIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct soft_platform;
struct apic_msg;

/* Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + offset/16. */
enum {
	APIC_ID = 0x020,
	APIC_LVR = 0x030,
	APIC_TPR = 0x080,
	APIC_APR = 0x090,
	APIC_PPR = 0x0a0,
	APIC_EOI = 0x0b0,
	APIC_RRD = 0x0c0,
	APIC_LDR = 0x0d0,
	APIC_DFR = 0x0e0,
	APIC_SVR = 0x0f0,
	APIC_ISR = 0x100,
	APIC_TMR = 0x180,
	APIC_IRR = 0x200,
	APIC_ESR = 0x280,
	APIC_LVT_CMCI = 0x2f0,
	APIC_ICR = 0x300,
	APIC_ICR2 = 0x310,
	APIC_LVT_TIMER = 0x320,
	APIC_LVT_THERMAL = 0x330,
	APIC_LVT_PERF = 0x340,
	APIC_LVT_LINT0 = 0x350,
	APIC_LVT_LINT1 = 0x360,
	APIC_LVT_ERROR = 0x370,
	APIC_TMICT = 0x380,
	APIC_TMCCT = 0x390,
	APIC_TDCR = 0x3e0,
	APIC_SELF_IPI = 0x3f0, /* x2APIC only */
};

/* Max LVT entry 5 (timer, thermal, perf, LINT0, LINT1, error), version 0x14. */
#define APIC_VERSION 0x50014u

/* The LVT registers in register order from APIC_LVT_TIMER. */
enum lapic_lvt { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define APIC_LVT_MASKED (1u << 16)
#define APIC_SVR_ENABLE (1u << 8)

/* lapic.state bits. */
#define LAPIC_HW_ENABLED (1u << 0) /* IA32_APIC_BASE.EN */
#define LAPIC_SW_ENABLED (1u << 1) /* SVR bit 8 */
#define LAPIC_X2APIC     (1u << 2) /* IA32_APIC_BASE.EXTD */

/* Timer modes, LVT timer bits 18:17. */
enum lapic_timer_mode { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };

struct lapic {
	struct soft_platform *p;
	unsigned index;

	/* Set by any thread (delivery). */
	_Atomic uint32_t irr[8];
	_Atomic uint32_t tmr[8];
	_Atomic uint32_t esr_pending; /* ESR bits noticed since the last ESR write */
	_Atomic uint32_t sipi_vector;
	_Atomic uint32_t extint; /* an IOAPIC ExtINT message: ask the PIC */

	/* Written by the owner, read by senders matching destinations. */
	_Atomic uint32_t id; /* the APIC id (xAPIC: bits 31:24 of APIC_ID) */
	_Atomic uint32_t ldr;
	_Atomic uint32_t dfr;
	_Atomic uint32_t state; /* LAPIC_* */

	/* Owner only. */
	uint64_t apic_base;
	uint32_t isr[8];
	uint32_t tpr, apr, svr, esr, icr_lo, icr_hi;
	uint32_t lvt[LVT_COUNT];
	uint32_t tmict, tdcr;
	uint64_t timer_due_ns;    /* one-shot/periodic: next expiry; 0 = stopped */
	uint64_t timer_period_ns; /* periodic: tmict * divider */
	uint64_t tsc_deadline;    /* IA32_TSC_DEADLINE; 0 = disarmed */
};

/* Power-on state of vCPU index (BSP = index 0). */
void lapic_init(struct lapic *l, struct soft_platform *p, unsigned index);
/* INIT: everything but the id and APIC base returns to its power-on value. */
void lapic_init_signal(struct lapic *l);

/* xAPIC page access at offset (0..0xfff), size 1..8. */
void lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned size, bool is_write);
/* MSRs 0x1b, 0x6e0, 0x800-0x8ff; returns 0, PLATFORM_MSR_NOT_MINE or PLATFORM_MSR_GP. */
int lapic_rdmsr(struct lapic *l, uint32_t index, uint64_t *value);
int lapic_wrmsr(struct lapic *l, uint32_t index, uint64_t value);

/* Delivery (apic_bus.c): does msg address this APIC? Any thread. */
bool lapic_matches(const struct lapic *l, const struct apic_msg *msg);
/* Accepts msg (already matched); false if dropped (disabled APIC). Any thread. */
bool lapic_accept(struct lapic *l, const struct apic_msg *msg);

/* The highest IRR vector above the PPR, or -1 (owner). */
int lapic_pending_vector(struct lapic *l);
/* Moves it from IRR to ISR and returns it, or -1 (owner). */
int lapic_ack(struct lapic *l);
/* LINT0 takes the PIC's INTR (ExtINT unmasked, or APIC hardware-disabled). */
bool lapic_accepts_pic(struct lapic *l);

/* Timer (lapic_timer.c), owner only. */
uint64_t lapic_timer_next_ns(struct lapic *l);
void lapic_timer_run(struct lapic *l, uint64_t now_ns);
void lapic_timer_write_lvt(struct lapic *l, uint32_t old_lvt);
void lapic_timer_write_tmict(struct lapic *l);
void lapic_timer_write_tdcr(struct lapic *l);
uint32_t lapic_timer_current_count(struct lapic *l);
void lapic_timer_write_deadline(struct lapic *l, uint64_t tsc);
void lapic_timer_stop(struct lapic *l);

/* Raises a local interrupt from an LVT entry (owner). */
void lapic_local_interrupt(struct lapic *l, enum lapic_lvt lvt);

static inline enum lapic_timer_mode lapic_timer_mode(const struct lapic *l)
{
	return (enum lapic_timer_mode)((l->lvt[LVT_TIMER] >> 17) & 3);
}

#endif
