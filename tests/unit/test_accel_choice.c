/*
 * Unit tests for accel_choice.c: which accelerator --accel auto|kvm|soft
 * picks for each probe outcome, and the one line that says why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/accel_choice.h"

static const struct kvm_speed no_kvm = {
    .open_error = -ENOENT,
    .why = "/dev/kvm does not exist: load the kvm module",
};
static const struct kvm_speed broken_kvm = {
    .probe_error = -ENOTSUP,
    .why = "this KVM lacks KVM_CAP_IRQCHIP, which ember needs",
};
/* Nested, emulated: 100k of the 2M instructions in 50 ms. */
static const struct kvm_speed slow_kvm = {
    .elapsed_ns = 50000000,
    .instructions = 100000,
};
/* Hardware: the whole loop in 0.8 ms. */
static const struct kvm_speed fast_kvm = {
    .finished = true,
    .elapsed_ns = 800000,
    .instructions = 2 * ACCEL_PROBE_ITERATIONS,
};

static enum accel_kind decide_ok(enum accel_kind requested, const struct kvm_speed *probe,
                                 char *why, size_t len)
{
	enum accel_kind chosen = (enum accel_kind) - 1;
	assert_int_equal(accel_decide(requested, probe, &chosen, why, len), 0);
	return chosen;
}

static void test_soft_is_always_soft(void **state)
{
	char why[256];
	const struct kvm_speed *probes[] = {&no_kvm, &broken_kvm, &slow_kvm, &fast_kvm};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(decide_ok(ACCEL_KIND_SOFT, probes[i], why, sizeof(why)),
		                 ACCEL_KIND_SOFT);
		assert_string_equal(why, "accel soft (--accel soft)");
	}
	(void)state;
}

static void test_kvm_forced(void **state)
{
	char why[256];
	/* Forced KVM is used even when slow; only an unusable /dev/kvm refuses. */
	assert_int_equal(decide_ok(ACCEL_KIND_KVM, &slow_kvm, why, sizeof(why)), ACCEL_KIND_KVM);
	assert_string_equal(why, "accel kvm (--accel kvm)");
	assert_int_equal(decide_ok(ACCEL_KIND_KVM, &fast_kvm, why, sizeof(why)), ACCEL_KIND_KVM);
	enum accel_kind chosen;
	assert_int_equal(accel_decide(ACCEL_KIND_KVM, &no_kvm, &chosen, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "--accel kvm: "));
	assert_non_null(strstr(why, "/dev/kvm does not exist"));
	(void)state;
}

static void test_auto(void **state)
{
	char why[256];
	assert_int_equal(decide_ok(ACCEL_KIND_AUTO, &no_kvm, why, sizeof(why)), ACCEL_KIND_SOFT);
	assert_string_equal(why,
	                    "accel soft (no KVM: /dev/kvm does not exist: load the kvm module)");

	assert_int_equal(decide_ok(ACCEL_KIND_AUTO, &broken_kvm, why, sizeof(why)),
	                 ACCEL_KIND_SOFT);
	assert_non_null(strstr(why, "accel soft (the KVM probe VM failed: this KVM lacks"));

	assert_int_equal(decide_ok(ACCEL_KIND_AUTO, &slow_kvm, why, sizeof(why)), ACCEL_KIND_SOFT);
	assert_string_equal(why, "accel soft (KVM runs guest kernel code at 2.0 MIPS here: probe "
	                         "took >20 ms)");

	assert_int_equal(decide_ok(ACCEL_KIND_AUTO, &fast_kvm, why, sizeof(why)), ACCEL_KIND_KVM);
	assert_string_equal(why, "accel kvm (KVM runs guest kernel code at 2500 MIPS: probe took "
	                         "0.8 ms)");
	(void)state;
}

static void test_slow_even_if_finished_late(void **state)
{
	/* Only finishing within the cap counts: a kicked probe is slow whatever it did. */
	struct kvm_speed p = {.elapsed_ns = 50000000, .instructions = 1999998};
	char why[256];
	assert_int_equal(decide_ok(ACCEL_KIND_AUTO, &p, why, sizeof(why)), ACCEL_KIND_SOFT);
	assert_non_null(strstr(why, "40.0 MIPS"));
	(void)state;
}

/* The probe itself, on whatever this host has: it must never fail, and
 * when KVM opened it either finished or reports progress. */
static void test_probe_runs(void **state)
{
	struct kvm_speed p;
	kvm_speed_probe(&p);
	if (p.open_error || p.probe_error) {
		assert_true(p.why[0] != '\0');
		return;
	}
	assert_true(p.elapsed_ns > 0);
	assert_true(p.instructions <= 2 * ACCEL_PROBE_ITERATIONS);
	if (p.finished)
		assert_int_equal(p.instructions, 2 * ACCEL_PROBE_ITERATIONS);
	else
		assert_true(p.elapsed_ns >= ACCEL_PROBE_CAP_MS * 1000000ull / 2);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_soft_is_always_soft),
	    cmocka_unit_test(test_kvm_forced),
	    cmocka_unit_test(test_auto),
	    cmocka_unit_test(test_slow_even_if_finished_late),
	    cmocka_unit_test(test_probe_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
