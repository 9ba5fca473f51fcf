/*
 * CPUID of the software CPU as a VM sees it (the accelerator's
 * supported_cpuid; arch/x86/cpuid.c then adds the per-vCPU topology).
 */
#ifndef EMBER_ACCEL_SOFT_SOFT_CPUID_H
#define EMBER_ACCEL_SOFT_SOFT_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"
#include "core/macros.h"

/* Family 6, model 0x36 (Atom "Saltwell"), stepping 1: see soft_cpuid.c. */
#define SOFT_CPUID_SIGNATURE 0x30661u
/* The hypervisor leaf's 12-byte signature (no known hypervisor: Linux
 * stays on its native paths). */
#define SOFT_CPUID_HYPERVISOR "EmberSoftCPU"

struct soft_cpuid_config {
	uint32_t tsc_khz;       /* guest TSC frequency (CPUID 0x15, 0x16) */
	uint32_t apic_timer_hz; /* the LAPIC timer input clock: the 0x15 crystal */
	bool x2apic;            /* the platform implements the x2APIC MSRs */
	bool tsc_deadline;      /* the LAPIC timer has TSC-deadline mode */
	bool gbpages;           /* the MMU maps 1 GiB pages */
};

/*
 * Fills out (capacity *nr) with the table and sets *nr to its length.
 * 0, or -E2BIG when out is too small, -EINVAL for a TSC below 100 MHz or a
 * crystal below 1 kHz. Pure.
 */
int soft_cpuid_table(const struct soft_cpuid_config *cfg, struct cpuid_entry *out,
                     size_t *nr) must_check;

#endif
