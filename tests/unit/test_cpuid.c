/*
 * Unit tests for cpuid.c (per-vCPU normalisation of a supported CPUID
 * table: topology leaves 1, 4, 0xb, 0x1f, 0x80000008, 0x8000001d/1e, the
 * KVM leaves, the masked features) and msr.c (boot MSR list).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"

#define SIG CPUID_FLAG_SIGNIFICANT_INDEX

/* Cache descriptor EAX: type, level, and host values in the sharing/core fields. */
#define CACHE_EAX(type, level) ((type) | (level) << 5 | 0x3fu << 26 | 0xfffu << 14)

/* A host-like supported table with deliberately "wrong" topology values. */
static const struct cpuid_entry supported[] = {
    {0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69},
    {1, 0, 0, 0x000906ea, 0xab123456, 1u << 0 | 1u << 3 | 1u << 15 | 1u << 21 | 1u << 24,
     0x078bfbffu | 1u << 28},
    {4, 0, SIG, CACHE_EAX(1, 1), 0x01c0003f, 0x3f, 0},
    {4, 1, SIG, CACHE_EAX(2, 1), 0x01c0003f, 0x3f, 0},
    {4, 2, SIG, CACHE_EAX(3, 2), 0x01c0003f, 0x3ff, 0},
    {4, 3, SIG, CACHE_EAX(3, 3), 0x02c0003f, 0x3fff, 6},
    {4, 4, SIG, 0, 0, 0, 0},
    {6, 0, 0, 0x77, 1, 9, 3},
    {7, 0, SIG, 0, 0x029c6fbf, 1u << 5 | 1u << 2, 0xbc000400},
    {7, 1, SIG, 0, 0, 1u << 5, 0},
    {0xa, 0, 0, 0x07300805, 0, 0, 0x603},
    {0xb, 0, SIG, 1, 2, 0x100, 7},
    {0xb, 1, SIG, 5, 16, 0x201, 7},
    {0xb, 2, SIG, 0, 0, 2, 7},
    {0xd, 0, SIG, 0x7, 0x340, 0x340, 0},
    {0xd, 1, SIG, 0xf, 0, 0, 0},
    {0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d},
    {0x40000001, 0, 0, 0x0103ffff, 0, 0, 1},
    {0x80000000, 0, 0, 0x80000022, 0x68747541, 0x444d4163, 0x69746e65},
    {0x80000001, 0, 0, 0x00a20f10, 0, 1u << 0 | 1u << 22 | 1u << 23, 0x2fd3fbff},
    {0x80000007, 0, 0, 0, 0, 0, 0x1ff},
    {0x80000008, 0, 0, 0x3030, 0x0100d000, 0x0001f0ff, 0},
    {0x8000001d, 0, SIG, CACHE_EAX(1, 1), 0x01c0003f, 0x3f, 0},
    {0x8000001d, 1, SIG, CACHE_EAX(3, 2), 0x01c0003f, 0x3ff, 2},
    {0x8000001d, 2, SIG, CACHE_EAX(3, 3), 0x03c0003f, 0x7fff, 1},
    {0x8000001d, 3, SIG, 0, 0, 0, 0},
    {0x8000001e, 0, 0, 0x11, 0x0105, 0x0300, 0},
    {0x80000022, 0, 0, 0x7, 0x3f, 0, 0},
};
#define NR_SUPPORTED (sizeof(supported) / sizeof(supported[0]))

static struct cpuid_entry out[CPUID_MAX_ENTRIES];

static const struct cpuid_entry *get(size_t nr, uint32_t fn, uint32_t index)
{
	const struct cpuid_entry *e = cpuid_find(out, nr, fn, index);
	assert_non_null(e);
	return e;
}

static size_t normalize(unsigned index, unsigned nr_vcpus)
{
	size_t nr = 0;
	assert_int_equal(cpuid_normalize(supported, NR_SUPPORTED, index, nr_vcpus, out, &nr), 0);
	return nr;
}

static void test_vcpu_3_of_4(void **state)
{
	size_t nr = normalize(3, 4);
	const struct cpuid_entry *e;

	assert_int_equal(nr, NR_SUPPORTED); /* 0xb: three subleaves in, three out */

	e = get(nr, 0, 0);
	assert_int_equal(e->eax, 0xd);
	assert_int_equal(e->ebx, 0x756e6547);

	e = get(nr, 1, 0);
	assert_int_equal(e->eax, 0x000906ea);
	assert_int_equal(e->ebx >> 24, 3);          /* initial APIC id */
	assert_int_equal((e->ebx >> 16) & 0xff, 4); /* logical processors */
	assert_int_equal((e->ebx >> 8) & 0xff, 8);  /* CLFLUSH: 64 bytes */
	assert_int_equal(e->ebx & 0xff, 0x56);      /* brand index kept */
	assert_true(e->ecx & (1u << 31));           /* hypervisor */
	assert_true(e->ecx & (1u << 24));           /* TSC deadline, as supported */
	assert_false(e->ecx & (1u << 3));           /* MONITOR */
	assert_false(e->ecx & (1u << 15));          /* PDCM: no PMU */
	assert_true(e->ecx & (1u << 21));           /* x2APIC kept */
	assert_true(e->ecx & 1);                    /* SSE3 kept */
	assert_true(e->edx & (1u << 28));           /* HTT */
	assert_int_equal(e->edx & ~(1u << 28), 0x078bfbff);

	static const struct {
		uint32_t sharing;
	} want4[] = {{0}, {0}, {0}, {3}};
	for (uint32_t i = 0; i < 4; i++) {
		e = get(nr, 4, i);
		assert_int_equal(e->eax >> 26, 3);
		assert_int_equal((e->eax >> 14) & 0xfff, want4[i].sharing);
		assert_int_equal(e->eax & 0x3fff, supported[2 + i].eax & 0x3fff);
		assert_int_equal(e->ebx, supported[2 + i].ebx);
		assert_int_equal(e->ecx, supported[2 + i].ecx);
	}
	assert_int_equal(get(nr, 4, 4)->eax, 0);

	e = get(nr, 6, 0);
	assert_int_equal(e->eax, 1u << 2); /* ARAT only */
	assert_int_equal(e->ebx | e->ecx | e->edx, 0);

	e = get(nr, 7, 0);
	assert_int_equal(e->ecx, 1u << 2); /* WAITPKG gone, the rest kept */
	assert_int_equal(e->ebx, 0x029c6fbf);
	assert_int_equal(e->edx, 0xbc000400);
	assert_int_equal(get(nr, 7, 1)->eax, 0); /* subleaf 1 untouched */
	assert_int_equal(get(nr, 7, 1)->ecx, 1u << 5);

	e = get(nr, 0xa, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);

	e = get(nr, 0xb, 0);
	assert_int_equal(e->flags, SIG);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 1);
	assert_int_equal(e->ecx, 0 | 1u << 8);
	assert_int_equal(e->edx, 3);
	e = get(nr, 0xb, 1);
	assert_int_equal(e->eax, 2); /* 4 vCPUs: 2 bits */
	assert_int_equal(e->ebx, 4);
	assert_int_equal(e->ecx, 1 | 2u << 8);
	assert_int_equal(e->edx, 3);
	e = get(nr, 0xb, 2);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->ecx, 2);
	assert_int_equal(e->edx, 3);
	assert_null(cpuid_find(out, nr, 0xb, 3));
	assert_null(cpuid_find(out, nr, 0x1f, 0)); /* not reported, not invented */

	e = get(nr, 0xd, 1);
	assert_int_equal(e->eax, 0xf);

	e = get(nr, 0x40000000, 0);
	assert_int_equal(e->eax, 0x40000001);
	assert_memory_equal(&e->ebx, "KVMK", 4);
	assert_memory_equal(&e->ecx, "VMKV", 4);
	assert_memory_equal(&e->edx, "M\0\0\0", 4);

	e = get(nr, 0x40000001, 0);
	/* Kept: 0,1,3-15, 24 (kvmclock, PV EOI, steal time, ...); masked: 2, 16, 17. */
	assert_int_equal(e->eax, 0x0100fffbu);
	assert_int_equal(e->edx, 0); /* no KVM_HINTS_REALTIME */

	e = get(nr, 0x80000001, 0);
	assert_int_equal(e->ecx, 1u << 0 | 1u << 22); /* PERFCTR_CORE gone */
	assert_int_equal(e->edx, 0x2fd3fbff);

	e = get(nr, 0x80000007, 0);
	assert_int_equal(e->edx, 1u << 8);

	e = get(nr, 0x80000008, 0);
	assert_int_equal(e->eax, 0x3030);
	assert_int_equal(e->ebx, 0x0100d000);
	assert_int_equal(e->ecx & 0xff, 3);              /* NC = nr_vcpus - 1 */
	assert_int_equal((e->ecx >> 12) & 0xf, 2);       /* ApicIdSize */
	assert_int_equal(e->ecx & 0xffff0f00u, 0x10000); /* PerfTscSize kept */

	assert_int_equal((get(nr, 0x8000001d, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((get(nr, 0x8000001d, 1)->eax >> 14) & 0xfff, 0);
	assert_int_equal((get(nr, 0x8000001d, 2)->eax >> 14) & 0xfff, 3);
	assert_int_equal(get(nr, 0x8000001d, 2)->eax >> 26, 0x3f); /* no core field on AMD */

	e = get(nr, 0x8000001e, 0);
	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx & 0xff, 3);        /* core id */
	assert_int_equal((e->ebx >> 8) & 0xff, 0); /* one thread per core */
	assert_int_equal(e->ecx, 0);

	e = get(nr, 0x80000022, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	(void)state;
}

static void test_one_and_many_vcpus(void **state)
{
	size_t nr = normalize(0, 1);
	const struct cpuid_entry *e = get(nr, 1, 0);
	assert_int_equal(e->ebx >> 16, 1);
	assert_false(e->edx & (1u << 28));
	assert_int_equal(get(nr, 4, 3)->eax >> 14, 0); /* 1 core, nothing shared */
	assert_int_equal(get(nr, 0xb, 1)->eax, 0);
	assert_int_equal(get(nr, 0xb, 1)->ebx, 1);
	assert_int_equal(get(nr, 0x80000008, 0)->ecx & 0xf0ff, 0);

	nr = normalize(63, 64);
	e = get(nr, 1, 0);
	assert_int_equal(e->ebx >> 24, 63);
	assert_int_equal((e->ebx >> 16) & 0xff, 64);
	assert_int_equal(get(nr, 4, 3)->eax >> 26, 63);
	assert_int_equal((get(nr, 4, 3)->eax >> 14) & 0xfff, 63);
	assert_int_equal(get(nr, 0xb, 1)->eax, 6);
	assert_int_equal(get(nr, 0xb, 1)->ebx, 64);
	assert_int_equal(get(nr, 0xb, 0)->edx, 63);
	assert_int_equal(get(nr, 0x80000008, 0)->ecx & 0xf0ff, 6u << 12 | 63);

	nr = normalize(2, 3); /* not a power of two: 2 bits */
	assert_int_equal(get(nr, 0xb, 1)->eax, 2);
	(void)state;
}

static void test_leaf_1f_and_no_kvm_leaves(void **state)
{
	/* A table with one 0x1f entry (as KVM reports it) and no KVM leaves. */
	static const struct cpuid_entry t[] = {
	    {0, 0, 0, 0x1f, 0, 0, 0},
	    {0xb, 0, SIG, 0, 0, 0, 0},
	    {0x1f, 0, SIG, 0, 0, 0, 0},
	    {0x80000000, 0, 0, 0x80000008, 0, 0, 0},
	};
	size_t nr = 0;
	assert_int_equal(cpuid_normalize(t, 4, 1, 2, out, &nr), 0);
	assert_int_equal(nr, 2 + 3 + 3);
	for (uint32_t fn = 0xb; fn <= 0x1f; fn += 0x1f - 0xb) {
		assert_int_equal(get(nr, fn, 0)->ecx, 1u << 8);
		assert_int_equal(get(nr, fn, 1)->ecx, 1 | 2u << 8);
		assert_int_equal(get(nr, fn, 1)->eax, 1);
		assert_int_equal(get(nr, fn, 2)->ecx, 2);
		assert_int_equal(get(nr, fn, 2)->edx, 1);
	}
	assert_null(cpuid_find(out, nr, 0x40000000, 0));
	assert_null(cpuid_find(out, nr, 0x40000001, 0));
	(void)state;
}

static void test_errors(void **state)
{
	static struct cpuid_entry big[CPUID_MAX_ENTRIES];
	size_t nr = 12345;

	assert_int_equal(cpuid_normalize(supported, NR_SUPPORTED, 4, 4, out, &nr), -EINVAL);
	assert_int_equal(cpuid_normalize(supported, NR_SUPPORTED, 0, 0, out, &nr), -EINVAL);
	assert_int_equal(cpuid_normalize(supported, NR_SUPPORTED, 0, 65, out, &nr), -EINVAL);
	assert_int_equal(nr, 12345);

	/* A full table fits as long as nothing grows... */
	for (size_t i = 0; i < CPUID_MAX_ENTRIES; i++)
		big[i] = (struct cpuid_entry){.function = 0x80000000u + (uint32_t)i};
	assert_int_equal(cpuid_normalize(big, CPUID_MAX_ENTRIES, 0, 1, out, &nr), 0);
	assert_int_equal(nr, CPUID_MAX_ENTRIES);
	/* ...but one 0xb entry becomes three. */
	big[0].function = 0xb;
	assert_int_equal(cpuid_normalize(big, CPUID_MAX_ENTRIES, 0, 1, out, &nr), -E2BIG);
	/* The boundary: 253 plain entries and a 0xb leaf fit exactly; one more does not. */
	big[0].function = 0x80000000u;
	big[253].function = 0xb;
	assert_int_equal(cpuid_normalize(big, 254, 0, 1, out, &nr), 0);
	assert_int_equal(nr, CPUID_MAX_ENTRIES);
	big[253].function = 0x80000000u;
	big[254].function = 0xb;
	assert_int_equal(cpuid_normalize(big, 255, 0, 1, out, &nr), -E2BIG);
	(void)state;
}

static void test_find(void **state)
{
	static const struct cpuid_entry t[] = {
	    {1, 7, 0, 0x11, 0, 0, 0}, /* index not significant */
	    {4, 0, SIG, 0x40, 0, 0, 0},
	    {4, 1, SIG, 0x41, 0, 0, 0},
	};
	assert_int_equal(cpuid_find(t, 3, 1, 0)->eax, 0x11);
	assert_int_equal(cpuid_find(t, 3, 1, 99)->eax, 0x11);
	assert_int_equal(cpuid_find(t, 3, 4, 1)->eax, 0x41);
	assert_int_equal(cpuid_find(t, 3, 4, 0)->eax, 0x40);
	assert_null(cpuid_find(t, 3, 4, 2));
	assert_null(cpuid_find(t, 3, 2, 0));
	assert_null(cpuid_find(t, 0, 1, 0));
	(void)state;
}

static void test_msr_boot_list(void **state)
{
	struct msr_entry m[32];
	size_t n = msr_boot_list(m, 32);
	static const struct msr_entry want[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_LSTAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_IA32_TSC, 0},
	    {MSR_IA32_MISC_ENABLE, 1},
	    {MSR_MTRR_DEF_TYPE, 0x806},
	};
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		/* Every MSR exactly once, with the expected value. */
		size_t found = 0;
		for (size_t j = 0; j < n; j++) {
			if (m[j].index == want[i].index) {
				assert_int_equal(m[j].value, want[i].value);
				found++;
			}
		}
		assert_int_equal(found, 1);
	}

	struct msr_entry small[3] = {{0, 0}, {0, 0}, {0xdead, 7}};
	assert_int_equal(msr_boot_list(small, 2), 2);
	assert_int_equal(small[0].index, m[0].index);
	assert_int_equal(small[2].index, 0xdead); /* nothing past cap */
	assert_int_equal(msr_boot_list(small, 0), 0);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vcpu_3_of_4),
	    cmocka_unit_test(test_one_and_many_vcpus),
	    cmocka_unit_test(test_leaf_1f_and_no_kvm_leaves),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_msr_boot_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
