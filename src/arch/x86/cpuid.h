/*
 * CPUID as each vCPU sees it: the accelerator's supported set, normalised
 * per vCPU: APIC ids and topology leaves (0x1, 0xb, 0x1f, 0x4, 0x8000001e)
 * saying one core per vCPU in one socket, the hypervisor bit, the KVM
 * paravirtual leaves 0x40000000/0x40000001 (kvmclock, PV EOI, steal time),
 * the TSC frequency leaves when known, and nothing advertised that the
 * platform does not provide.
 */
#ifndef EMBER_ARCH_X86_CPUID_H
#define EMBER_ARCH_X86_CPUID_H

#include <stddef.h>

#include "arch/x86/cpu_state.h"
#include "core/macros.h"

/* out must hold CPUID_MAX_ENTRIES; *nr_out receives the count. */
int cpuid_normalize(const struct cpuid_entry *supported, size_t nr_supported,
		    unsigned vcpu_index, unsigned nr_vcpus, struct cpuid_entry *out,
		    size_t *nr_out) must_check;
/* Finds a leaf/subleaf in a table (index ignored where not significant). */
const struct cpuid_entry *cpuid_find(const struct cpuid_entry *entries, size_t nr,
				     uint32_t function, uint32_t index);

#endif
