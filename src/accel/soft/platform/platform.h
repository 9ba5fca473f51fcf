/*
 * The interrupt and timer platform of one software-CPU VM: a local APIC per
 * vCPU (xAPIC MMIO and x2APIC MSRs), the IOAPIC, the 8259 PIC pair and the
 * 8254 PIT -- what KVM's in-kernel irqchip provides, in userspace.
 *
 * The adapter (accel_soft.c) owns one struct soft_platform per VM. It offers
 * every port, MMIO and MSR access of a vCPU to the platform first, asks it for
 * the vector when the CPU can take an interrupt, and runs its timers from the
 * vCPU loop: there is no thread per timer. The platform reaches the adapter
 * only through struct platform_callbacks.
 *
 * Threads: functions taking `cpu` are called from that vCPU's thread only;
 * platform_set_irq and platform_msi from any thread. The platform takes its
 * own device locks and may call kick() while holding them, so kick must not
 * call back into the platform (setting bits and waking a sleeper is fine).
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_PLATFORM_H
#define EMBER_ACCEL_SOFT_PLATFORM_PLATFORM_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/macros.h"

/*
 * What kick() asks of a vCPU (the adapter maps these to CPU_INT_*):
 * EXTERNAL: an interrupt may be deliverable, call platform_intr_ack when IF
 *   allows (it returns -1 when it is not deliverable after all, e.g. TPR);
 * NMI, INIT: as the names say (INIT: call platform_vcpu_init on that vCPU);
 * SIPI: start-up IPI, vector in platform_sipi_vector();
 * TIMER: a timer of this vCPU was reprogrammed by another thread: re-read
 *   platform_next_deadline_ns before sleeping again.
 */
enum platform_int {
	PLATFORM_INT_EXTERNAL = 1u << 0,
	PLATFORM_INT_NMI = 1u << 1,
	PLATFORM_INT_INIT = 1u << 2,
	PLATFORM_INT_SIPI = 1u << 3,
	PLATFORM_INT_TIMER = 1u << 4,
};

struct platform_callbacks {
	/* Sets interrupt-request bits of vCPU cpu and wakes it if it sleeps. */
	void (*kick)(void *ctx, unsigned cpu, uint32_t bits);
	/* CLOCK_MONOTONIC in ns (tests substitute a fake clock). */
	uint64_t (*now_ns)(void *ctx);
	/* The guest TSC of vCPU cpu now (ticks at tsc_khz). */
	uint64_t (*guest_tsc)(void *ctx, unsigned cpu);
	void *ctx;
};

/*
 * The local APIC timer counts at this rate before the divider (KVM's
 * choice). Linux takes lapic_timer_period from CPUID 0x15 (crystal clock),
 * so the adapter must report this frequency as the crystal in ECX of 0x15.
 */
#define PLATFORM_LAPIC_TIMER_HZ 1000000000ull
#define PLATFORM_PIT_HZ         1193182ull

/* MSRs the platform owns. */
#define MSR_IA32_APIC_BASE    0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST      0x800
#define MSR_X2APIC_LAST       0x8ff

/* IA32_APIC_BASE bits. */
#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

#define PLATFORM_MAX_CPUS 255

struct soft_platform;

/*
 * Creates the platform of a VM with nr_cpus vCPUs (1..PLATFORM_MAX_CPUS) in
 * the state after RESET: LAPIC ids = vCPU index, xAPIC mode at 0xfee00000,
 * vCPU 0 the BSP with LINT0 in ExtINT mode (virtual wire, as KVM). NULL on
 * bad arguments or no memory. cb is copied.
 */
struct soft_platform *platform_create(unsigned nr_cpus, uint32_t tsc_khz,
                                      const struct platform_callbacks *cb);
void platform_destroy(struct soft_platform *p);

/*
 * Sets LINT0 = ExtINT and LINT1 = NMI delivery modes keeping their mask
 * bits, as firmware leaves them (accel_ops vcpu_init_platform).
 */
void platform_vcpu_init_lint(struct soft_platform *p, unsigned cpu);

/*
 * The vCPU took an INIT: its local APIC returns to the INIT state (id and
 * APIC base kept, everything else reset). Call from that vCPU's thread
 * before it waits for SIPI.
 */
void platform_vcpu_init(struct soft_platform *p, unsigned cpu);

/* The vector of the last start-up IPI sent to cpu. */
uint8_t platform_sipi_vector(struct soft_platform *p, unsigned cpu);

/*
 * One port access of vCPU cpu (size 1, 2 or 4; data in guest byte order).
 * True if the port is the platform's (0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1,
 * 0x40-0x43, 0x61): then it is complete (reads filled in).
 */
bool platform_pio(struct soft_platform *p, unsigned cpu, uint16_t port, void *data, unsigned size,
                  bool is_write);

/*
 * One MMIO access of vCPU cpu (size 1..8). True if gpa is in this vCPU's
 * xAPIC page (at its APIC base, only in xAPIC mode) or the IOAPIC page
 * 0xfec00000.
 */
bool platform_mmio(struct soft_platform *p, unsigned cpu, uint64_t gpa, void *data, unsigned size,
                   bool is_write);

/*
 * RDMSR/WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range.
 * 0 handled, -1 not the platform's MSR, -EINVAL: #GP (a reserved
 * bit, a read-only or missing register, x2APIC access in xAPIC mode).
 */
int platform_rdmsr(struct soft_platform *p, unsigned cpu, uint32_t index, uint64_t *value);
int platform_wrmsr(struct soft_platform *p, unsigned cpu, uint32_t index, uint64_t value);
#define PLATFORM_MSR_NOT_MINE (-1)
#define PLATFORM_MSR_GP       (-EINVAL)

/*
 * Drives GSI gsi to level (1 asserted, 0 not). GSIs 0-15 reach the PIC
 * (except the cascade IRQ 2) and IOAPIC pin gsi, 16-23 the IOAPIC only
 * (ember's MADT has no interrupt source override). Any thread.
 */
void platform_set_irq(struct soft_platform *p, uint32_t gsi, int level);

/* A message-signalled interrupt (address 0xfeexxxxx, data). Any thread. */
void platform_msi(struct soft_platform *p, uint64_t addr, uint32_t data);

/*
 * Interrupt acknowledge of vCPU cpu (the CPU has IF=1 and no shadow): the
 * vector of the highest-priority deliverable interrupt, now in service,
 * or -1. For the vCPU whose LINT0 is ExtINT (the BSP) the PIC's vector
 * comes first (INTA cycle).
 */
int platform_intr_ack(struct soft_platform *p, unsigned cpu);

/* Whether platform_intr_ack would return a vector now (no side effect). */
bool platform_intr_pending(struct soft_platform *p, unsigned cpu);

/*
 * The earliest CLOCK_MONOTONIC time (ns) at which a timer of this vCPU
 * (its LAPIC timer; for vCPU 0 also the PIT) is due; UINT64_MAX if none.
 */
uint64_t platform_next_deadline_ns(struct soft_platform *p, unsigned cpu);

/* Fires the timers of this vCPU that are due at now_ns. */
void platform_run_timers(struct soft_platform *p, unsigned cpu, uint64_t now_ns);

#endif
