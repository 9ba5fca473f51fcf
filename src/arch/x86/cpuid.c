/*
 * Per-vCPU CPUID from the accelerator's supported table (Intel SDM vol. 2A
 * "CPUID"; AMD APM vol. 3 appendix E; Linux Documentation/virt/kvm/x86/
 * cpuid.rst for the KVM leaves). The topology is one socket of nr_vcpus
 * cores with one thread each; APIC id = x2APIC id = vCPU index, matching
 * the MADT (acpi.c).
 *
 * Only leaves the accelerator reports are emitted: a table without KVM's
 * 0x40000000 leaves (the software CPU's) stays without them. The one
 * rewrite that changes the entry count is 0xb/0x1f, whose subleaves are
 * generated here (KVM reports a single, empty subleaf 0).
 */
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/layout.h"

/* Leaf 1. */
#define CPUID1_EBX_CLFLUSH_SHIFT 8
#define CPUID1_EBX_COUNT_SHIFT   16
#define CPUID1_EBX_APIC_ID_SHIFT 24
#define CPUID1_ECX_MONITOR       (1u << 3)
#define CPUID1_ECX_PDCM          (1u << 15)
#define CPUID1_ECX_TSC_DEADLINE  (1u << 24)
#define CPUID1_ECX_HYPERVISOR    (1u << 31)
#define CPUID1_EDX_HTT           (1u << 28)
#define CPUID_CLFLUSH_64_BYTES   8 /* in units of 8 bytes */

/* Leaf 4 and AMD 0x8000001d: deterministic cache parameters. */
#define CACHE_TYPE_MASK     0x1fu
#define CACHE_LEVEL(eax)    (((eax) >> 5) & 7u)
#define CACHE_SHARING_SHIFT 14
#define CACHE_SHARING_MASK  (0xfffu << CACHE_SHARING_SHIFT)
#define CACHE_CORES_SHIFT   26
#define CACHE_CORES_MASK    (0x3fu << CACHE_CORES_SHIFT)

#define CPUID6_EAX_ARAT    (1u << 2)
#define CPUID7_ECX_WAITPKG (1u << 5)

/* 0xb / 0x1f level types. */
#define TOPO_LEVEL_INVALID 0
#define TOPO_LEVEL_SMT     1
#define TOPO_LEVEL_CORE    2
#define TOPO_TYPE_SHIFT    8
#define TOPO_NR_SUBLEAVES  3

/* KVM paravirtual leaves (cpuid.rst). */
#define KVM_CPUID_SIGNATURE           0x40000000u
#define KVM_CPUID_FEATURES            0x40000001u
#define KVM_FEATURE_MMU_OP            2
#define KVM_FEATURE_HC_MAP_GPA_RANGE  16
#define KVM_FEATURE_MIGRATION_CONTROL 17

#define AMD_EXT_ECX_PERFCTR_CORE     (1u << 23)
#define AMD_POWER_EDX_INVARIANT_TSC  (1u << 8)
#define AMD_8_ECX_NC_MASK            0xffu
#define AMD_8_ECX_APIC_ID_SIZE_SHIFT 12
#define AMD_8_ECX_APIC_ID_SIZE_MASK  (0xfu << AMD_8_ECX_APIC_ID_SIZE_SHIFT)

/*
 * KVM features that exit to the VMM (or need it to enable them), which
 * ember does not implement. Everything else KVM reports is handled in the
 * kernel with the in-kernel irqchip, so it is kept:
 *   CLOCKSOURCE(0), CLOCKSOURCE2(3), CLOCKSOURCE_STABLE_BIT(24): kvmclock;
 *   NOP_IO_DELAY(1); ASYNC_PF(4), ASYNC_PF_VMEXIT(10), ASYNC_PF_INT(14);
 *   STEAL_TIME(5); PV_EOI(6); PV_UNHALT(7), PV_SEND_IPI(11) and
 *   PV_SCHED_YIELD(13) (hypercalls the in-kernel LAPIC serves);
 *   PV_TLB_FLUSH(9) (steal-time page); POLL_CONTROL(12);
 *   MSI_EXT_DEST_ID(15): KVM reports it only once its in-kernel IOAPIC
 *   handles extended destination ids, so it is kept when reported.
 * Masked: MMU_OP(2), long removed; HC_MAP_GPA_RANGE(16) exits to userspace
 * (KVM_CAP_EXIT_HYPERCALL); MIGRATION_CONTROL(17) is an MSR the VMM owns.
 * Snapshots must save the MSRs behind the kept bits (kvmclock, async PF,
 * steal time, PV EOI, poll control).
 */
#define KVM_FEATURES_MASKED                                                                        \
	((1u << KVM_FEATURE_MMU_OP) | (1u << KVM_FEATURE_HC_MAP_GPA_RANGE) |                       \
	 (1u << KVM_FEATURE_MIGRATION_CONTROL))

/* Bits needed to number n ids: ceil(log2(n)). */
static unsigned cpuid_order(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void cpuid_set_field(uint32_t *reg, uint32_t mask, unsigned shift, uint32_t v)
{
	*reg = (*reg & ~mask) | ((v << shift) & mask);
}

/* EAX[25:14]: one core per vCPU, so only the last-level cache is shared. */
static void cpuid_fix_cache(struct cpuid_entry *e, unsigned nr_vcpus, bool cores_field)
{
	if ((e->eax & CACHE_TYPE_MASK) == 0)
		return; /* no more caches (or a vendor without this leaf) */
	uint32_t sharing = CACHE_LEVEL(e->eax) >= 3 ? nr_vcpus - 1 : 0;
	cpuid_set_field(&e->eax, CACHE_SHARING_MASK, CACHE_SHARING_SHIFT, sharing);
	if (cores_field)
		cpuid_set_field(&e->eax, CACHE_CORES_MASK, CACHE_CORES_SHIFT, nr_vcpus - 1);
}

static void cpuid_fix(struct cpuid_entry *e, unsigned id, unsigned nr_vcpus)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0xffu) | CPUID_CLFLUSH_64_BYTES << CPUID1_EBX_CLFLUSH_SHIFT |
		         nr_vcpus << CPUID1_EBX_COUNT_SHIFT | id << CPUID1_EBX_APIC_ID_SHIFT;
		/*
		 * TSC_DEADLINE passes through as reported; KVM before 6.14 does not
		 * report it, so the KVM backend adds it when KVM_CAP_TSC_DEADLINE_TIMER.
		 * MONITOR: MWAIT exits unless the VMM disables the exit. PDCM: no PMU.
		 */
		e->ecx &= ~(CPUID1_ECX_MONITOR | CPUID1_ECX_PDCM);
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		if (nr_vcpus > 1)
			e->edx |= CPUID1_EDX_HTT;
		else
			e->edx &= ~CPUID1_EDX_HTT;
		break;
	case 4:
		cpuid_fix_cache(e, nr_vcpus, true);
		break;
	case 6:
		/* No thermal or power management; the APIC timer runs in deep C-states. */
		e->eax &= CPUID6_EAX_ARAT;
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 7:
		/* UMWAIT/TPAUSE need IA32_UMWAIT_CONTROL saved and restored by the VMM. */
		if (e->index == 0)
			e->ecx &= ~CPUID7_ECX_WAITPKG;
		break;
	case 0xa:
		/* Architectural perfmon: none (see also PDCM, PERFCTR_CORE, 0x80000022). */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case KVM_CPUID_SIGNATURE:
		/* Another signature (the software CPU's) is the accelerator's to give. */
		if (memcmp(&e->ebx, "KVMK", 4) != 0)
			break;
		e->eax = KVM_CPUID_FEATURES;
		memcpy(&e->ebx, "KVMK", 4);
		memcpy(&e->ecx, "VMKV", 4);
		memcpy(&e->edx, "M\0\0\0", 4);
		break;
	case KVM_CPUID_FEATURES:
		e->eax &= ~KVM_FEATURES_MASKED;
		/* KVM_HINTS_REALTIME (EDX bit 0) promises dedicated pCPUs: not ours to give. */
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~AMD_EXT_ECX_PERFCTR_CORE;
		break;
	case 0x80000007:
		/* Of the power-management bits only invariant TSC means anything in a VM. */
		e->eax = e->ebx = e->ecx = 0;
		e->edx &= AMD_POWER_EDX_INVARIANT_TSC;
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~(AMD_8_ECX_NC_MASK | AMD_8_ECX_APIC_ID_SIZE_MASK)) |
		         (nr_vcpus - 1) | cpuid_order(nr_vcpus) << AMD_8_ECX_APIC_ID_SIZE_SHIFT;
		break;
	case 0x8000001d:
		cpuid_fix_cache(e, nr_vcpus, false);
		break;
	case 0x8000001e:
		/* Extended APIC id; compute unit = core = vCPU, one thread; node 0 of 1. */
		e->eax = id;
		e->ebx = id;
		e->ecx = 0;
		e->edx = 0;
		break;
	case 0x80000022:
		/* AMD PerfMonV2 counters: none. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	default:
		break;
	}
}

/* Subleaves 0 (SMT: one thread), 1 (core: nr_vcpus), 2 (invalid) of 0xb or 0x1f. */
static void cpuid_topology(struct cpuid_entry *out, uint32_t function, unsigned id,
                           unsigned nr_vcpus)
{
	for (uint32_t level = 0; level < TOPO_NR_SUBLEAVES; level++) {
		struct cpuid_entry *e = &out[level];
		*e = (struct cpuid_entry){
		    .function = function,
		    .index = level,
		    .flags = CPUID_FLAG_SIGNIFICANT_INDEX,
		    .ecx = level,
		    .edx = id,
		};
		if (level == 0) {
			e->ebx = 1;
			e->ecx |= TOPO_LEVEL_SMT << TOPO_TYPE_SHIFT;
		} else if (level == 1) {
			e->eax = cpuid_order(nr_vcpus);
			e->ebx = nr_vcpus;
			e->ecx |= TOPO_LEVEL_CORE << TOPO_TYPE_SHIFT;
		} else {
			e->ecx |= TOPO_LEVEL_INVALID << TOPO_TYPE_SHIFT;
		}
	}
}

/*
 * Copies the supported table into out with the per-vCPU changes above.
 * Returns 0, -EINVAL for a bad vCPU index/count, -E2BIG when the result
 * would exceed CPUID_MAX_ENTRIES. Pure function; any thread.
 */
int cpuid_normalize(const struct cpuid_entry *supported, size_t nr_supported, unsigned vcpu_index,
                    unsigned nr_vcpus, struct cpuid_entry *out, size_t *nr_out)
{
	bool topo_done_b = false, topo_done_1f = false;
	size_t n = 0;

	/* APIC ids are 8 bits in leaf 1; leaf 4 counts cores in 6 bits. */
	if (nr_vcpus == 0 || nr_vcpus > LAYOUT_MAX_VCPUS || vcpu_index >= nr_vcpus)
		return -EINVAL;
	for (size_t i = 0; i < nr_supported; i++) {
		const struct cpuid_entry *e = &supported[i];

		if (e->function == 0xb || e->function == 0x1f) {
			bool *done = e->function == 0xb ? &topo_done_b : &topo_done_1f;
			if (*done)
				continue;
			if (CPUID_MAX_ENTRIES - n < TOPO_NR_SUBLEAVES)
				return -E2BIG;
			cpuid_topology(&out[n], e->function, vcpu_index, nr_vcpus);
			n += TOPO_NR_SUBLEAVES;
			*done = true;
			continue;
		}
		if (n == CPUID_MAX_ENTRIES)
			return -E2BIG;
		out[n] = *e;
		cpuid_fix(&out[n], vcpu_index, nr_vcpus);
		n++;
	}
	*nr_out = n;
	return 0;
}

const struct cpuid_entry *cpuid_find(const struct cpuid_entry *entries, size_t nr,
                                     uint32_t function, uint32_t index)
{
	for (size_t i = 0; i < nr; i++) {
		const struct cpuid_entry *e = &entries[i];
		if (e->function != function)
			continue;
		if (!(e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}
