/*
 * CPUID as the software CPU reports it (SDM vol. 2A, "CPUID"): a table of
 * exactly what the interpreter implements. Families turn their feature
 * bits on in cpuid.c when they land.
 */
#ifndef EMBER_ACCEL_SOFT_CPUID_H
#define EMBER_ACCEL_SOFT_CPUID_H

#include <stddef.h>
#include <stdint.h>

#include "accel/soft/cpu.h"
#include "arch/x86/cpu_state.h"

/* The default table (static storage); *nr gets its length. */
const struct cpuid_entry *softcpu_default_cpuid(size_t *nr);

/* The entry for (leaf, subleaf) in cpu->cpuid, or NULL (all zeros). */
const struct cpuid_entry *cpuid_lookup(const struct cpu *cpu, uint32_t leaf, uint32_t subleaf);

#endif
