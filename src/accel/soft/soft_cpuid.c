/*
 * The CPUID table a software-CPU VM reports (Intel SDM vol. 2A "CPUID";
 * Linux arch/x86/kernel/cpu/{common,intel}.c, tsc.c for how a 6.1 kernel
 * reads it). The rule: advertise only what the interpreter and the soft
 * platform implement. The instruction-set bits come from the user-mode table
 * (cpuid.c), so a family that turns its bit on there shows up here too; this
 * file adds the system bits and the leaves a kernel needs.
 *
 * Vendor and model: "GenuineIntel", family 6, model 0x36 (Atom "Saltwell").
 *  - Linux takes the TSC frequency from CPUID 0x15/0x16 only on Intel
 *    (native_calibrate_tsc), which spares the boot the PIT calibration loop;
 *    Intel family 6 also skips the 10 ms INIT delay when starting APs.
 *  - Model 0x36 is on Linux's cpu_vuln_whitelist with NO_SPECULATION (an
 *    in-order core): the kernel sets no speculation bugs, so it runs without
 *    page-table isolation (a CR3 switch, i.e. a soft-TLB flush, on every
 *    kernel entry), retpolines or VERW buffer clearing -- none of which
 *    protects anything on an interpreter. An unlisted model would get all
 *    of them. Linux has no other quirk for this model that we trigger
 *    (its PSE erratum is model 0x1c; tsc_msr.c lists 0x27/0x35, not 0x36).
 * Hypervisor: CPUID.1:ECX[31] (arch/x86/cpuid.c adds it) and a leaf
 * 0x40000000 whose signature no kernel knows, so Linux uses no hypervisor-
 * specific paths (no kvmclock, no hypercalls the interpreter lacks).
 *
 * Time: invariant TSC (0x80000007 EDX[8]), its frequency in 0x15/0x16, and
 * IA32_TSC_ADJUST (leaf 7 EBX[1]): with the three, Linux trusts the TSC
 * without a clocksource watchdog (check_system_tsc_reliable), whose only
 * reference here would be jiffies, skewed by host scheduling.
 *
 * Deliberately absent: MCE/MCA, MTRR, PAT (Linux 6.1 skips PAT without
 * MTRRs anyway), SEP, PCID, INVPCID, SMEP, SMAP, FSGSBASE, XSAVE/AVX,
 * MONITOR/MWAIT, PDCM/perfmon (leaf 0xa), RDSEED (implemented, leaf 7 bit not set), the
 * IA32_ARCH_CAPABILITIES MSR: the CPU or platform does not implement them.
 */
#include "accel/soft/soft_cpuid.h"

#include <errno.h>
#include <string.h>

#include "accel/soft/cpuid.h"

/* Leaf 1 EDX: the system features the CPU core implements. */
#define F1D_PSE  (1u << 3)
#define F1D_MSR  (1u << 5)
#define F1D_PAE  (1u << 6)
#define F1D_APIC (1u << 9)
#define F1D_PGE  (1u << 13)
/* Leaf 1 ECX. */
#define F1C_X2APIC       (1u << 21)
#define F1C_TSC_DEADLINE (1u << 24)
/* Leaf 7 EBX: IA32_TSC_ADJUST (the adapter keeps it: soft_vcpu.c). */
#define L7B_TSC_ADJUST (1u << 1)
/* Leaf 6 EAX: the APIC timer keeps running in every C-state. */
#define L6A_ARAT (1u << 2)
/* Leaf 0x80000001 EDX. */
#define X1D_PDPE1GB (1u << 26)
/* Leaf 0x80000007 EDX. */
#define X7D_INVARIANT_TSC (1u << 8)

#define MAX_BASIC_LEAF  0x16u
#define MAX_EXT_LEAF    0x80000008u
#define HYPERVISOR_LEAF 0x40000000u

/* Four ASCII bytes as CPUID returns them in a register (little-endian). */
static uint32_t str4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

/* The user-mode table's entry for a leaf (feature bits), or an empty one. */
static struct cpuid_entry user_leaf(uint32_t function)
{
	size_t nr;
	const struct cpuid_entry *t = softcpu_default_cpuid(&nr);
	for (size_t i = 0; i < nr; i++)
		if (t[i].function == function && t[i].index == 0)
			return t[i];
	return (struct cpuid_entry){.function = function};
}

/*
 * CPUID 0x15 = TSC/crystal ratio EBX/EAX and the crystal in ECX. Linux
 * (native_calibrate_tsc) sets lapic_timer_period = crystal / HZ, so the
 * crystal must be the LAPIC timer's input clock, and computes the TSC
 * frequency as crystal_khz * EBX / EAX in 32-bit arithmetic: EBX must stay
 * below 2^32 / crystal_khz. Within that bound the closest fraction to
 * tsc_khz / crystal_khz is taken (a 1 GHz crystal allows numerators up to
 * 4294: about 1 ppm, below the host calibration's own error).
 */
static void tsc_ratio(uint32_t tsc_khz, uint32_t crystal_khz, uint32_t *num, uint32_t *den)
{
	uint64_t max_num = UINT32_MAX / crystal_khz;
	uint64_t best_num = 1, best_den = 1;
	double best_err = -1;
	for (uint64_t d = 1; d <= UINT32_MAX; d++) {
		uint64_t n = ((uint64_t)tsc_khz * d + crystal_khz / 2) / crystal_khz;
		if (n > max_num)
			break;
		if (n == 0)
			continue;
		double err = (double)n * crystal_khz / (double)d - (double)tsc_khz;
		if (err < 0)
			err = -err;
		if (best_err < 0 || err < best_err) {
			best_err = err;
			best_num = n;
			best_den = d;
		}
		if (err == 0)
			break;
	}
	*num = (uint32_t)best_num;
	*den = (uint32_t)best_den;
}

int soft_cpuid_table(const struct soft_cpuid_config *cfg, struct cpuid_entry *out, size_t *nr)
{
	/* Below 100 MHz the ratio search would be long; no host TSC is that slow. */
	if (cfg->tsc_khz < 100000 || cfg->apic_timer_hz < 1000)
		return -EINVAL;
	const struct cpuid_entry u1 = user_leaf(1), u7 = user_leaf(7);
	const struct cpuid_entry ux1 = user_leaf(0x80000001), ubrand2 = user_leaf(0x80000002),
	                         ubrand3 = user_leaf(0x80000003), ubrand4 = user_leaf(0x80000004);
	uint32_t crystal_khz = cfg->apic_timer_hz / 1000, num, den;
	tsc_ratio(cfg->tsc_khz, crystal_khz, &num, &den);
	const char *hv = SOFT_CPUID_HYPERVISOR;
	const struct cpuid_entry table[] = {
	    {.function = 0,
	     .eax = MAX_BASIC_LEAF,
	     .ebx = str4("Genu"),
	     .edx = str4("ineI"),
	     .ecx = str4("ntel")},
	    /* EBX (CLFLUSH size, count, APIC id), HTT and the hypervisor
	     * bit are per vCPU: cpuid_normalize sets them. */
	    {.function = 1,
	     .eax = SOFT_CPUID_SIGNATURE,
	     .ecx = u1.ecx | (cfg->x2apic ? F1C_X2APIC : 0) |
	            (cfg->tsc_deadline ? F1C_TSC_DEADLINE : 0),
	     .edx = u1.edx | F1D_PSE | F1D_MSR | F1D_PAE | F1D_APIC | F1D_PGE},
	    /* One descriptor round, all null: caches are described by nothing. */
	    {.function = 2, .eax = 1},
	    /* Deterministic cache parameters: none (type 0 ends the list). */
	    {.function = 4, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX},
	    {.function = 6, .eax = L6A_ARAT},
	    {.function = 7,
	     .index = 0,
	     .flags = CPUID_FLAG_SIGNIFICANT_INDEX,
	     .ebx = u7.ebx | L7B_TSC_ADJUST,
	     .ecx = u7.ecx,
	     .edx = u7.edx},
	    /* A placeholder: cpuid_normalize writes the SMT/core subleaves. */
	    {.function = 0xb, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX},
	    {.function = 0x15, .eax = den, .ebx = num, .ecx = cfg->apic_timer_hz},
	    {.function = 0x16,
	     .eax = cfg->tsc_khz / 1000,
	     .ebx = cfg->tsc_khz / 1000,
	     .ecx = cfg->apic_timer_hz / 1000000},
	    {.function = HYPERVISOR_LEAF,
	     .eax = HYPERVISOR_LEAF,
	     .ebx = str4(hv),
	     .ecx = str4(hv + 4),
	     .edx = str4(hv + 8)},
	    {.function = 0x80000000, .eax = MAX_EXT_LEAF},
	    {.function = 0x80000001,
	     .ecx = ux1.ecx,
	     .edx = ux1.edx | (cfg->gbpages ? X1D_PDPE1GB : 0)},
	    {.function = 0x80000002,
	     .eax = ubrand2.eax,
	     .ebx = ubrand2.ebx,
	     .ecx = ubrand2.ecx,
	     .edx = ubrand2.edx},
	    {.function = 0x80000003,
	     .eax = ubrand3.eax,
	     .ebx = ubrand3.ebx,
	     .ecx = ubrand3.ecx,
	     .edx = ubrand3.edx},
	    {.function = 0x80000004,
	     .eax = ubrand4.eax,
	     .ebx = ubrand4.ebx,
	     .ecx = ubrand4.ecx,
	     .edx = ubrand4.edx},
	    {.function = 0x80000006},
	    /* The guest TSC is the host's invariant TSC plus an offset. */
	    {.function = 0x80000007, .edx = X7D_INVARIANT_TSC},
	    /* 48 physical and 48 linear address bits, as the soft MMU walks them. */
	    {.function = 0x80000008, .eax = 0x3030},
	};
	if (*nr < ARRAY_SIZE(table))
		return -E2BIG;
	memcpy(out, table, sizeof(table));
	*nr = ARRAY_SIZE(table);
	return 0;
}
