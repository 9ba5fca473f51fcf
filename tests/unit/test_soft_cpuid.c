/*
 * Unit tests for soft_cpuid.c (the software CPU's CPUID table as a VM sees
 * it) together with arch/x86/cpuid.c's per-vCPU normalisation: vendor and
 * model, the features Linux x86-64 requires, nothing the soft CPU lacks,
 * the TSC leaves as Linux's native_calibrate_tsc reads them, the hypervisor
 * leaf and the topology.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "accel/soft/soft_cpuid.h"
#include "arch/x86/cpuid.h"

#define BIT(n) (1u << (n))

static const struct soft_cpuid_config base_cfg = {
    .tsc_khz = 2596130,
    .apic_timer_hz = 1000000000,
    .x2apic = true,
    .tsc_deadline = true,
    .gbpages = true,
};

static size_t table(const struct soft_cpuid_config *cfg, struct cpuid_entry *out)
{
	size_t nr = CPUID_MAX_ENTRIES;
	assert_int_equal(soft_cpuid_table(cfg, out, &nr), 0);
	return nr;
}

static const struct cpuid_entry *leaf(const struct cpuid_entry *t, size_t nr, uint32_t fn,
                                      uint32_t index)
{
	const struct cpuid_entry *e = cpuid_find(t, nr, fn, index);
	assert_non_null(e);
	return e;
}

/* Linux's native_calibrate_tsc, with its 32-bit arithmetic. */
static uint32_t linux_tsc_khz(const struct cpuid_entry *l15)
{
	uint32_t crystal_khz = l15->ecx / 1000;
	return crystal_khz * l15->ebx / l15->eax;
}

static void test_vendor_and_model(void **state)
{
	struct cpuid_entry t[CPUID_MAX_ENTRIES];
	size_t nr = table(&base_cfg, t);
	const struct cpuid_entry *l0 = leaf(t, nr, 0, 0);
	char vendor[13] = {0};
	memcpy(vendor, &l0->ebx, 4);
	memcpy(vendor + 4, &l0->edx, 4);
	memcpy(vendor + 8, &l0->ecx, 4);
	assert_string_equal(vendor, "GenuineIntel");
	assert_true(l0->eax >= 0x16);
	/* Family 6, model 0x36: Linux's NO_SPECULATION whitelist. */
	uint32_t sig = leaf(t, nr, 1, 0)->eax;
	uint32_t family = (sig >> 8) & 0xf, model = ((sig >> 4) & 0xf) | ((sig >> 12) & 0xf0);
	assert_int_equal(family, 6);
	assert_int_equal(model, 0x36);
	assert_int_equal(leaf(t, nr, 0x80000000, 0)->eax, 0x80000008);
	(void)state;
}

static void test_linux_required_features(void **state)
{
	struct cpuid_entry t[CPUID_MAX_ENTRIES];
	size_t nr = table(&base_cfg, t);
	/* arch/x86/include/asm/required-features.h for x86-64, plus what the
	 * boot path and the soft platform rely on. */
	uint32_t edx1 = leaf(t, nr, 1, 0)->edx;
	uint32_t need = BIT(0) /* FPU */ | BIT(4) /* TSC */ | BIT(5) /* MSR */ | BIT(6) /* PAE */ |
	                BIT(8) /* CX8 */ | BIT(9) /* APIC */ | BIT(13) /* PGE */ |
	                BIT(15) /* CMOV */ | BIT(24) /* FXSR */ | BIT(25) /* SSE */ |
	                BIT(26) /* SSE2 */;
	assert_int_equal(edx1 & need, need);
	uint32_t edx81 = leaf(t, nr, 0x80000001, 0)->edx;
	uint32_t need81 = BIT(11) /* SYSCALL */ | BIT(20) /* NX */ | BIT(29) /* LM */;
	assert_int_equal(edx81 & need81, need81);
	assert_true(leaf(t, nr, 0x80000007, 0)->edx & BIT(8)); /* invariant TSC */
	assert_true(leaf(t, nr, 7, 0)->ebx & BIT(1));          /* IA32_TSC_ADJUST */
	assert_true(leaf(t, nr, 6, 0)->eax & BIT(2));          /* ARAT */
	(void)state;
}

static void test_nothing_unimplemented(void **state)
{
	struct cpuid_entry t[CPUID_MAX_ENTRIES];
	size_t nr = table(&base_cfg, t);
	const struct cpuid_entry *l1 = leaf(t, nr, 1, 0), *l7 = leaf(t, nr, 7, 0);
	/* MCE, SEP, MTRR, MCA, PAT, PSE36, MMX, SS, HTT (normalize's), TM. */
	uint32_t no_edx = BIT(7) | BIT(11) | BIT(12) | BIT(14) | BIT(16) | BIT(17) | BIT(23) |
	                  BIT(27) | BIT(28) | BIT(29);
	assert_int_equal(l1->edx & no_edx, 0);
	/* MONITOR, VMX, PDCM, PCID, AES, XSAVE, OSXSAVE, AVX, F16C, hypervisor (added per
	 * vCPU). */
	uint32_t no_ecx = BIT(3) | BIT(5) | BIT(15) | BIT(17) | BIT(25) | BIT(26) | BIT(27) |
	                  BIT(28) | BIT(29) | BIT(31);
	assert_int_equal(l1->ecx & no_ecx, 0);
	/* RDRAND is implemented (getrandom) and advertised. */
	assert_int_equal(l1->ecx & BIT(30), BIT(30));
	/* FSGSBASE, BMI1, AVX2, SMEP, BMI2, INVPCID, RTM, SMAP, AVX-512F. */
	uint32_t no_ebx7 =
	    BIT(0) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | BIT(10) | BIT(11) | BIT(20) | BIT(16);
	assert_int_equal(l7->ebx & no_ebx7, 0);
	/* IA32_ARCH_CAPABILITIES, SPEC_CTRL (the MSRs do not exist). */
	assert_int_equal(l7->edx & (BIT(29) | BIT(26)), 0);
	assert_null(cpuid_find(t, nr, 0xd, 0)); /* no XSAVE leaf */
	assert_null(cpuid_find(t, nr, 0xa, 0)); /* no perfmon */
	(void)state;
}

static void test_options(void **state)
{
	struct cpuid_entry t[CPUID_MAX_ENTRIES];
	struct soft_cpuid_config cfg = base_cfg;
	size_t nr = table(&cfg, t);
	assert_true(leaf(t, nr, 1, 0)->ecx & BIT(21));          /* x2APIC */
	assert_true(leaf(t, nr, 1, 0)->ecx & BIT(24));          /* TSC deadline */
	assert_true(leaf(t, nr, 0x80000001, 0)->edx & BIT(26)); /* 1 GiB pages */
	cfg.x2apic = cfg.tsc_deadline = cfg.gbpages = false;
	nr = table(&cfg, t);
	assert_false(leaf(t, nr, 1, 0)->ecx & BIT(21));
	assert_false(leaf(t, nr, 1, 0)->ecx & BIT(24));
	assert_false(leaf(t, nr, 0x80000001, 0)->edx & BIT(26));
	(void)state;
}

static void test_tsc_leaves(void **state)
{
	static const uint32_t khz[] = {100000,  1000000, 1999999, 2596130,
	                               2900000, 3609599, 4999991};
	for (size_t k = 0; k < sizeof(khz) / sizeof(khz[0]); k++) {
		struct soft_cpuid_config cfg = base_cfg;
		cfg.tsc_khz = khz[k];
		struct cpuid_entry t[CPUID_MAX_ENTRIES];
		size_t nr = table(&cfg, t);
		const struct cpuid_entry *l15 = leaf(t, nr, 0x15, 0);
		/* The crystal is the LAPIC timer (Linux: lapic_timer_period = crystal / HZ). */
		assert_int_equal(l15->ecx, 1000000000);
		assert_true(l15->eax != 0 && l15->ebx != 0);
		/* No 32-bit overflow in crystal_khz * EBX, and within 2 ppm (+1 kHz truncation). */
		assert_true((uint64_t)(l15->ecx / 1000) * l15->ebx <= UINT32_MAX);
		double got = linux_tsc_khz(l15), want = khz[k];
		assert_true(got >= want - want * 2e-6 - 1 && got <= want + want * 2e-6 + 1);
		const struct cpuid_entry *l16 = leaf(t, nr, 0x16, 0);
		assert_int_equal(l16->eax, khz[k] / 1000);
		assert_int_equal(l16->ecx, 1000);
	}
	/* A crystal that divides the TSC gives it exactly. */
	struct soft_cpuid_config cfg = base_cfg;
	cfg.tsc_khz = 3000000;
	struct cpuid_entry t[CPUID_MAX_ENTRIES];
	size_t nr = table(&cfg, t);
	assert_int_equal(linux_tsc_khz(leaf(t, nr, 0x15, 0)), 3000000);
	(void)state;
}

static void test_hypervisor_leaf_survives_normalize(void **state)
{
	struct cpuid_entry t[CPUID_MAX_ENTRIES], out[CPUID_MAX_ENTRIES];
	size_t nr = table(&base_cfg, t), n;
	assert_int_equal(cpuid_normalize(t, nr, 2, 4, out, &n), 0);
	const struct cpuid_entry *hv = leaf(out, n, 0x40000000, 0);
	char sig[13] = {0};
	memcpy(sig, &hv->ebx, 4);
	memcpy(sig + 4, &hv->ecx, 4);
	memcpy(sig + 8, &hv->edx, 4);
	assert_string_equal(sig, SOFT_CPUID_HYPERVISOR);
	assert_int_equal(hv->eax, 0x40000000);
	assert_null(cpuid_find(out, n, 0x40000001, 0));
	/* Per vCPU: APIC id, count, hypervisor and HTT bits, the 0xb subleaves. */
	const struct cpuid_entry *l1 = leaf(out, n, 1, 0);
	assert_int_equal(l1->ebx >> 24, 2);
	assert_int_equal((l1->ebx >> 16) & 0xff, 4);
	assert_true(l1->ecx & BIT(31));
	assert_true(l1->edx & BIT(28));
	assert_int_equal(leaf(out, n, 0xb, 0)->edx, 2);
	assert_int_equal(leaf(out, n, 0xb, 1)->ebx, 4);
	assert_int_equal(leaf(out, n, 0xb, 2)->ecx >> 8, 0);
	(void)state;
}

static void test_errors(void **state)
{
	struct cpuid_entry t[4];
	size_t nr = 4;
	assert_int_equal(soft_cpuid_table(&base_cfg, t, &nr), -E2BIG);
	struct soft_cpuid_config cfg = base_cfg;
	cfg.tsc_khz = 0;
	nr = 4;
	assert_int_equal(soft_cpuid_table(&cfg, t, &nr), -EINVAL);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vendor_and_model),
	    cmocka_unit_test(test_linux_required_features),
	    cmocka_unit_test(test_nothing_unimplemented),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_tsc_leaves),
	    cmocka_unit_test(test_hypervisor_leaf_survives_normalize),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
