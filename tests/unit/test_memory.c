/* Unit tests for guest RAM layout and whole-range address checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "arch/x86/layout.h"
#include "vmm/memory.h"

static void test_small_layout(void **state)
{
	struct guest_memory mem;
	assert_int_equal(guest_memory_init(&mem, MIB(128)), 0);
	assert_int_equal(mem.nr_regions, 1);
	assert_int_equal(guest_memory_low_end(&mem), MIB(128));
	assert_non_null(guest_memory_ptr(&mem, 0, MIB(128)));
	assert_null(guest_memory_ptr(&mem, 0, MIB(128) + 1));
	assert_null(guest_memory_ptr(&mem, MIB(128), 1));
	assert_non_null(guest_memory_ptr(&mem, MIB(128) - 1, 1));
	assert_non_null(guest_memory_ptr(&mem, MIB(128), 0));
	guest_memory_fini(&mem);
}

static void test_hole_layout(void **state)
{
	struct guest_memory mem;
	assert_int_equal(guest_memory_init(&mem, GIB(4)), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_int_equal(guest_memory_low_end(&mem), LAYOUT_MMIO_HOLE_GPA);
	assert_int_equal(mem.regions[1].gpa, LAYOUT_HIGH_RAM_GPA);
	assert_int_equal(mem.regions[1].size, GIB(1));
	/* Nothing of the hole is RAM, and no range may straddle it. */
	assert_null(guest_memory_ptr(&mem, LAYOUT_MMIO_HOLE_GPA, 1));
	assert_null(guest_memory_ptr(&mem, LAYOUT_LAPIC_GPA, 4));
	assert_null(guest_memory_ptr(&mem, LAYOUT_MMIO_HOLE_GPA - 4, 8));
	uint8_t *low_last = guest_memory_ptr(&mem, LAYOUT_MMIO_HOLE_GPA - 1, 1);
	uint8_t *high_first = guest_memory_ptr(&mem, LAYOUT_HIGH_RAM_GPA, 1);
	assert_ptr_equal(low_last + 1, high_first); /* one host mapping */
	assert_non_null(guest_memory_ptr(&mem, LAYOUT_HIGH_RAM_GPA + GIB(1) - 8, 8));
	assert_null(guest_memory_ptr(&mem, LAYOUT_HIGH_RAM_GPA + GIB(1) - 8, 9));
	guest_memory_fini(&mem);
}

static void test_overflowing_ranges(void **state)
{
	struct guest_memory mem;
	assert_int_equal(guest_memory_init(&mem, MIB(16)), 0);
	assert_null(guest_memory_ptr(&mem, UINT64_MAX, 2));
	assert_null(guest_memory_ptr(&mem, 0x1000, UINT64_MAX));
	assert_null(guest_memory_ptr(&mem, UINT64_MAX - 0xfff, 0x2000));
	uint8_t buf[16] = {1, 2, 3};
	assert_int_equal(guest_memory_write(&mem, MIB(16) - 8, buf, 16), -EFAULT);
	assert_int_equal(guest_memory_write(&mem, MIB(16) - 16, buf, 16), 0);
	uint8_t back[16];
	assert_int_equal(guest_memory_read(&mem, MIB(16) - 16, back, 16), 0);
	assert_memory_equal(buf, back, 16);
	guest_memory_fini(&mem);
}

static void test_bad_sizes(void **state)
{
	struct guest_memory mem;
	assert_int_equal(guest_memory_init(&mem, 0), -EINVAL);
	assert_int_equal(guest_memory_init(&mem, 4097), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_layout),
		cmocka_unit_test(test_hole_layout),
		cmocka_unit_test(test_overflowing_ranges),
		cmocka_unit_test(test_bad_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
