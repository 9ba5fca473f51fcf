/* Unit tests for the I/O bus: registration, overlap rejection, lookup, unclaimed accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

struct fake_dev {
	uint64_t last_offset;
	uint32_t last_size;
	bool last_write;
	uint8_t last_byte;
	int calls;
};

static void fake_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct fake_dev *d = opaque;
	d->calls++;
	d->last_offset = offset;
	d->last_size = size;
	d->last_write = is_write;
	if (is_write)
		d->last_byte = data[0];
	else
		memset(data, 0x5a, size);
}

static void test_register_and_dispatch(void **state)
{
	struct bus bus;
	struct fake_dev a = {0}, b = {0};
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, fake_access, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x60, 5, fake_access, &b, "b"), 0);

	uint8_t data[8] = {0x42};
	assert_true(bus_access(&bus, 0x3fd, data, 1, true));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_offset, 5);
	assert_int_equal(a.last_byte, 0x42);
	assert_true(bus_access(&bus, 0x64, data, 1, false));
	assert_int_equal(b.last_offset, 4);
	assert_int_equal(data[0], 0x5a);
	assert_ptr_equal(bus_find(&bus, 0x3f8)->opaque, &a);
	assert_null(bus_find(&bus, 0x400));
	assert_null(bus_find(&bus, 0x3f7));
	bus_fini(&bus);
}

static void test_overlap_rejected(void **state)
{
	struct bus bus;
	struct fake_dev a = {0};
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x100, 0x10, fake_access, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x10f, 1, fake_access, &a, "tail"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf0, 0x11, fake_access, &a, "head"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x104, 2, fake_access, &a, "inside"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x0, 0x1000, fake_access, &a, "around"), -EEXIST);
	/* Touching ends are fine. */
	assert_int_equal(bus_register(&bus, 0xf0, 0x10, fake_access, &a, "before"), 0);
	assert_int_equal(bus_register(&bus, 0x110, 0x10, fake_access, &a, "after"), 0);
	assert_int_equal(bus_register(&bus, 0x200, 0, fake_access, &a, "empty"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 1, 4, fake_access, &a, "wrap"), -EINVAL);
	bus_seal(&bus);
	assert_int_equal(bus_register(&bus, 0x300, 1, fake_access, &a, "late"), -EBUSY);
	bus_fini(&bus);
}

static void test_unclaimed(void **state)
{
	struct bus bus;
	struct fake_dev a = {0};
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x70, 2, fake_access, &a, "rtc"), 0);
	uint8_t data[4] = {0, 0, 0, 0};
	assert_false(bus_access(&bus, 0x80, data, 4, false));
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_false(bus_access(&bus, 0x80, data, 1, true));
	/* An access running past the end of a range is not the device's. */
	assert_false(bus_access(&bus, 0x71, data, 2, false));
	assert_int_equal(a.calls, 0);
	assert_int_equal(atomic_load(&bus.unclaimed_reads), 2);
	assert_int_equal(atomic_load(&bus.unclaimed_writes), 1);
	bus_fini(&bus);
}

static void test_many_ranges_sorted(void **state)
{
	struct bus bus;
	struct fake_dev devs[64];
	memset(devs, 0, sizeof(devs));
	bus_init(&bus, "test");
	/* Register out of order; lookups must still find every range. */
	for (int i = 0; i < 64; i++) {
		int slot = (i * 37) % 64;
		assert_int_equal(bus_register(&bus, 0x1000 + (uint64_t)slot * 0x10, 8, fake_access,
					      &devs[slot], "d"),
				 0);
	}
	for (int slot = 0; slot < 64; slot++) {
		uint8_t data = 0;
		assert_true(bus_access(&bus, 0x1000 + (uint64_t)slot * 0x10 + 7, &data, 1, false));
		assert_int_equal(devs[slot].calls, 1);
		assert_false(bus_access(&bus, 0x1000 + (uint64_t)slot * 0x10 + 8, &data, 1, false));
	}
	bus_fini(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_dispatch),
		cmocka_unit_test(test_overlap_rejected),
		cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_many_ranges_sorted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
