/* Unit tests for the boot-timer device (src/devices/legacy/boot_timer.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "core/metrics.h"
#include "devices/legacy/boot_timer.h"

static void test_signal(void **state)
{
	(void)state;
	struct boot_timer *t = boot_timer_create(metrics_clock_us(CLOCK_MONOTONIC), 0);
	assert_non_null(t);
	uint8_t v = BOOT_TIMER_MAGIC;
	/* Only a one-byte write of 123 at offset 0 counts, as in Firecracker. */
	boot_timer_access(t, 1, &v, 1, true);
	uint8_t wide[4] = {BOOT_TIMER_MAGIC, 0, 0, 0};
	boot_timer_access(t, 0, wide, 4, true);
	uint8_t other = 122;
	boot_timer_access(t, 0, &other, 1, true);
	assert_int_equal(boot_timer_signals(t), 0);
	boot_timer_access(t, 0, &v, 1, true);
	assert_int_equal(boot_timer_signals(t), 1);
	/* Reads return zeros and change nothing. */
	uint8_t r[8];
	boot_timer_access(t, 0, r, 8, false);
	for (int k = 0; k < 8; k++)
		assert_int_equal(r[k], 0);
	assert_int_equal(boot_timer_signals(t), 1);
	boot_timer_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
