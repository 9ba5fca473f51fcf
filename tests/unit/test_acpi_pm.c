/* Unit tests for the ACPI sleep/reset registers (src/devices/legacy/acpi_pm.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "arch/x86/layout.h"
#include "devices/legacy/acpi_pm.h"

#include "fakes.h"

enum { SLEEP_CTL = 0, SLEEP_STS = 1, RESET = 2 };

struct fixture {
	struct fake_vm vm;
	struct acpi_pm *pm;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vm_control ctl = fake_vm_control(&f->vm);
	f->pm = acpi_pm_create(&ctl);
	assert_non_null(f->pm);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	acpi_pm_destroy(f->pm);
	free(f);
	return 0;
}

static void wr(struct fixture *f, uint64_t off, uint8_t v)
{
	acpi_pm_access(f->pm, off, &v, 1, true);
}

static uint8_t rd(struct fixture *f, uint64_t off)
{
	uint8_t v = 0x5a;
	acpi_pm_access(f->pm, off, &v, 1, false);
	return v;
}

static void test_layout(void **state)
{
	assert_int_equal(LAYOUT_ACPI_SLEEP_STS_PORT - LAYOUT_ACPI_SLEEP_CTL_PORT, SLEEP_STS);
	assert_int_equal(LAYOUT_ACPI_RESET_PORT - LAYOUT_ACPI_SLEEP_CTL_PORT, RESET);
	assert_int_equal(ACPI_PM_PORT_COUNT, 3);
}

static void test_s5_powers_off(void **state)
{
	struct fixture *f = *state;
	wr(f, SLEEP_CTL, (uint8_t)(0x20 | (LAYOUT_ACPI_S5_SLP_TYP << 2)));
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_POWEROFF);
}

static void test_s5_wide_write(void **state)
{
	struct fixture *f = *state;
	uint8_t v[4] = {(uint8_t)(0x20 | (LAYOUT_ACPI_S5_SLP_TYP << 2)), 0xff, 0xff, 0xff};
	acpi_pm_access(f->pm, SLEEP_CTL, v, 2, true);
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_POWEROFF);
}

static void test_sleep_ignored(void **state)
{
	struct fixture *f = *state;
	/* S5 type without SLP_EN, and every other type with it. */
	wr(f, SLEEP_CTL, (uint8_t)(LAYOUT_ACPI_S5_SLP_TYP << 2));
	for (unsigned int typ = 0; typ < 8; typ++) {
		if (typ != LAYOUT_ACPI_S5_SLP_TYP)
			wr(f, SLEEP_CTL, (uint8_t)(0x20 | (typ << 2)));
	}
	/* The other bits do not matter: only SLP_EN and SLP_TYP count. */
	wr(f, SLEEP_CTL, 0xc3);
	wr(f, SLEEP_CTL, 0x00);
	assert_int_equal(f->vm.requests, 0);
	assert_int_equal(rd(f, SLEEP_CTL), 0);
}

static void test_sleep_status(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, SLEEP_STS), 0);
	wr(f, SLEEP_STS, 0x80);
	wr(f, SLEEP_STS, 0xff);
	assert_int_equal(rd(f, SLEEP_STS), 0);
	assert_int_equal(f->vm.requests, 0);
	uint8_t v[4] = {0x11, 0x22, 0x33, 0x44};
	acpi_pm_access(f->pm, SLEEP_STS, v, 4, false);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 0xff);
	assert_int_equal(v[3], 0xff);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;
	for (unsigned int v = 0; v < 256; v++) {
		if (v != LAYOUT_ACPI_RESET_VALUE)
			wr(f, RESET, (uint8_t)v);
	}
	assert_int_equal(f->vm.requests, 0);
	wr(f, RESET, LAYOUT_ACPI_RESET_VALUE);
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_RESET);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	wr(f, 3, 0x34);
	wr(f, 100, LAYOUT_ACPI_RESET_VALUE);
	assert_int_equal(rd(f, 3), 0xff);
	uint8_t v = 0;
	acpi_pm_access(f->pm, RESET, &v, 0, true);
	assert_int_equal(f->vm.requests, 0);
}

static void test_no_control(void **state)
{
	/* A NULL vm_control is tolerated (requests go nowhere). */
	struct acpi_pm *pm = acpi_pm_create(NULL);
	assert_non_null(pm);
	uint8_t v = LAYOUT_ACPI_RESET_VALUE;
	acpi_pm_access(pm, RESET, &v, 1, true);
	acpi_pm_destroy(pm);
	acpi_pm_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test_setup_teardown(test_s5_powers_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_s5_wide_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sleep_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sleep_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
	    cmocka_unit_test(test_no_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
