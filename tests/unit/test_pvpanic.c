/* Unit tests for the pvpanic device (src/devices/legacy/pvpanic.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "devices/legacy/pvpanic.h"

#include "fakes.h"

struct fixture {
	struct fake_vm vm;
	struct pvpanic *dev;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vm_control ctl = fake_vm_control(&f->vm);
	f->dev = pvpanic_create(&ctl);
	assert_non_null(f->dev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pvpanic_destroy(f->dev);
	free(f);
	return 0;
}

static void wr(struct fixture *f, uint8_t v)
{
	pvpanic_access(f->dev, 0, &v, 1, true);
}

static void test_read_events(void **state)
{
	struct fixture *f = *state;
	uint8_t v = 0;
	pvpanic_access(f->dev, 0, &v, 1, false);
	assert_int_equal(v, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	uint8_t w[4] = {0xaa, 0xaa, 0xaa, 0xaa};
	pvpanic_access(f->dev, 0, w, 4, false);
	assert_int_equal(w[0], 0x03);
	assert_int_equal(w[1], 0);
	assert_int_equal(w[3], 0);
	assert_int_equal(PVPANIC_PORT, 0x505);
}

static void test_panic_stops_vm(void **state)
{
	struct fixture *f = *state;
	wr(f, PVPANIC_PANICKED);
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_CRASH);
	/* Again (logged once, requested again: the VM control keeps the first). */
	wr(f, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	assert_int_equal(f->vm.requests, 2);
	assert_int_equal(f->vm.reason, VM_STOP_CRASH);
}

static void test_crash_loaded_logs_only(void **state)
{
	struct fixture *f = *state;
	wr(f, PVPANIC_CRASH_LOADED);
	wr(f, PVPANIC_CRASH_LOADED);
	assert_int_equal(f->vm.requests, 0);
}

static void test_unknown_bits_ignored(void **state)
{
	struct fixture *f = *state;
	for (unsigned int v = 0; v < 256; v++) {
		if (!(v & PVPANIC_PANICKED))
			wr(f, (uint8_t)v);
	}
	assert_int_equal(f->vm.requests, 0);
	uint8_t v = PVPANIC_PANICKED;
	pvpanic_access(f->dev, 1, &v, 1, true); /* outside the port */
	pvpanic_access(f->dev, 0, &v, 0, true); /* zero-size */
	assert_int_equal(f->vm.requests, 0);
	/* A wide write uses the low byte. */
	uint8_t w[2] = {0x00, PVPANIC_PANICKED};
	pvpanic_access(f->dev, 0, w, 2, true);
	assert_int_equal(f->vm.requests, 0);
}

static void test_no_control(void **state)
{
	struct pvpanic *dev = pvpanic_create(NULL);
	assert_non_null(dev);
	uint8_t v = PVPANIC_PANICKED;
	pvpanic_access(dev, 0, &v, 1, true);
	pvpanic_destroy(dev);
	pvpanic_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_panic_stops_vm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_loaded_logs_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_bits_ignored, setup, teardown),
	    cmocka_unit_test(test_no_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
