/* Unit tests for the MC146818 RTC / CMOS (src/devices/legacy/rtc.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/macros.h"
#include "devices/legacy/rtc.h"

#include "fakes.h"

enum { SEC = 0, SEC_ALARM, MIN, MIN_ALARM, HOUR, HOUR_ALARM, WDAY, MDAY, MONTH, YEAR };
enum { REG_A = 0x0a, REG_B, REG_C, REG_D, CENTURY = 0x32 };

static struct timespec fake_now;

static void fake_clock(struct timespec *now)
{
	*now = fake_now;
}

static void set_time(int year, int mon, int mday, int hour, int min, int sec, long nsec)
{
	struct tm tm = {.tm_year = year - 1900,
	                .tm_mon = mon - 1,
	                .tm_mday = mday,
	                .tm_hour = hour,
	                .tm_min = min,
	                .tm_sec = sec};
	fake_now.tv_sec = timegm(&tm);
	fake_now.tv_nsec = nsec;
}

static struct fake_irq irq_state;

static int setup(void **state)
{
	/* Thursday, 29 February 2024, 13:05:09 UTC. */
	set_time(2024, 2, 29, 13, 5, 9, 0);
	irq_state.calls = 0;
	struct irq_line line = fake_irq_line(&irq_state, 8);
	struct rtc *rtc = rtc_create(&line, fake_clock, MIB(128));
	assert_non_null(rtc);
	*state = rtc;
	return 0;
}

static int teardown(void **state)
{
	rtc_destroy(*state);
	assert_int_equal(irq_state.calls, 0); /* no timers: the line never moves */
	return 0;
}

static uint8_t rd(struct rtc *rtc, uint8_t index)
{
	uint8_t v = index;
	rtc_access(rtc, 0, &v, 1, true);
	rtc_access(rtc, 1, &v, 1, false);
	return v;
}

static void wr(struct rtc *rtc, uint8_t index, uint8_t value)
{
	rtc_access(rtc, 0, &index, 1, true);
	rtc_access(rtc, 1, &value, 1, true);
}

static void test_bcd_24h(void **state)
{
	struct rtc *rtc = *state;
	assert_int_equal(rd(rtc, REG_A), 0x26);
	assert_int_equal(rd(rtc, REG_B), 0x02);
	assert_int_equal(rd(rtc, REG_D), 0x80);
	assert_int_equal(rd(rtc, SEC), 0x09);
	assert_int_equal(rd(rtc, MIN), 0x05);
	assert_int_equal(rd(rtc, HOUR), 0x13);
	assert_int_equal(rd(rtc, WDAY), 0x05);
	assert_int_equal(rd(rtc, MDAY), 0x29);
	assert_int_equal(rd(rtc, MONTH), 0x02);
	assert_int_equal(rd(rtc, YEAR), 0x24);
	assert_int_equal(rd(rtc, CENTURY), 0x20);
	/* The clock follows the host. */
	fake_now.tv_sec += 51;
	assert_int_equal(rd(rtc, SEC), 0x00);
	assert_int_equal(rd(rtc, MIN), 0x06);
}

static void test_binary(void **state)
{
	struct rtc *rtc = *state;
	wr(rtc, REG_B, 0x06);
	assert_int_equal(rd(rtc, SEC), 9);
	assert_int_equal(rd(rtc, MIN), 5);
	assert_int_equal(rd(rtc, HOUR), 13);
	assert_int_equal(rd(rtc, MDAY), 29);
	assert_int_equal(rd(rtc, MONTH), 2);
	assert_int_equal(rd(rtc, YEAR), 24);
	assert_int_equal(rd(rtc, CENTURY), 20);
	/* 12-hour binary: PM is still bit 7. */
	wr(rtc, REG_B, 0x04);
	assert_int_equal(rd(rtc, HOUR), 0x81);
	set_time(2024, 2, 29, 12, 0, 0, 0);
	assert_int_equal(rd(rtc, HOUR), 0x8c);
}

static void test_12h(void **state)
{
	struct rtc *rtc = *state;
	wr(rtc, REG_B, 0x00);
	assert_int_equal(rd(rtc, HOUR), 0x81); /* 1 PM */
	set_time(2024, 3, 1, 0, 0, 0, 0);
	assert_int_equal(rd(rtc, HOUR), 0x12); /* 12 AM */
	set_time(2024, 3, 1, 0, 59, 59, 0);
	assert_int_equal(rd(rtc, HOUR), 0x12);
	set_time(2024, 3, 1, 1, 0, 0, 0);
	assert_int_equal(rd(rtc, HOUR), 0x01);
	set_time(2024, 3, 1, 11, 59, 59, 0);
	assert_int_equal(rd(rtc, HOUR), 0x11);
	set_time(2024, 3, 1, 12, 0, 0, 0);
	assert_int_equal(rd(rtc, HOUR), 0x92); /* 12 PM */
	set_time(2024, 3, 1, 23, 0, 0, 0);
	assert_int_equal(rd(rtc, HOUR), 0x91);
}

static void test_uip(void **state)
{
	struct rtc *rtc = *state;
	fake_now.tv_nsec = 999755999;
	assert_int_equal(rd(rtc, REG_A), 0x26);
	fake_now.tv_nsec = 999756000;
	assert_int_equal(rd(rtc, REG_A), 0xa6);
	fake_now.tv_nsec = 999999999;
	assert_int_equal(rd(rtc, REG_A), 0xa6);
	fake_now.tv_nsec = 0;
	assert_int_equal(rd(rtc, REG_A), 0x26);
	/* UIP is read-only; no updates while SET. */
	wr(rtc, REG_A, 0xa6);
	assert_int_equal(rd(rtc, REG_A), 0x26);
	fake_now.tv_nsec = 999900000;
	wr(rtc, REG_B, 0x82);
	assert_int_equal(rd(rtc, REG_A), 0x26);
}

static void test_century_and_weekday(void **state)
{
	struct rtc *rtc = *state;
	set_time(1999, 12, 31, 23, 59, 59, 0); /* a Friday */
	assert_int_equal(rd(rtc, YEAR), 0x99);
	assert_int_equal(rd(rtc, CENTURY), 0x19);
	assert_int_equal(rd(rtc, WDAY), 6);
	fake_now.tv_sec++;
	assert_int_equal(rd(rtc, YEAR), 0x00);
	assert_int_equal(rd(rtc, CENTURY), 0x20);
	assert_int_equal(rd(rtc, WDAY), 7); /* Saturday */
	set_time(2024, 3, 3, 0, 0, 0, 0);
	assert_int_equal(rd(rtc, WDAY), 1); /* Sunday */
	set_time(2100, 1, 1, 0, 0, 0, 0);
	assert_int_equal(rd(rtc, CENTURY), 0x21);
	assert_int_equal(rd(rtc, YEAR), 0x00);
}

/* What Linux's mc146818_set_time does for "hwclock -w". */
static void test_set_freezes_and_persists(void **state)
{
	struct rtc *rtc = *state;
	wr(rtc, REG_B, 0x82);
	wr(rtc, REG_A, 0x70); /* divider reset while setting */
	fake_now.tv_sec += 10;
	assert_int_equal(rd(rtc, SEC), 0x09); /* frozen at SET */
	assert_int_equal(rd(rtc, MIN), 0x05);
	wr(rtc, YEAR, 0x30);
	wr(rtc, MONTH, 0x06);
	wr(rtc, MDAY, 0x15);
	wr(rtc, HOUR, 0x08);
	wr(rtc, MIN, 0x00);
	wr(rtc, SEC, 0x00);
	fake_now.tv_sec += 10;
	assert_int_equal(rd(rtc, SEC), 0x00); /* reads return what was written */
	assert_int_equal(rd(rtc, YEAR), 0x30);
	wr(rtc, REG_A, 0x26);
	wr(rtc, REG_B, 0x02);

	fake_now.tv_sec += 5;
	assert_int_equal(rd(rtc, SEC), 0x05);
	assert_int_equal(rd(rtc, MIN), 0x00);
	assert_int_equal(rd(rtc, HOUR), 0x08);
	assert_int_equal(rd(rtc, MDAY), 0x15);
	assert_int_equal(rd(rtc, MONTH), 0x06);
	assert_int_equal(rd(rtc, YEAR), 0x30);
	assert_int_equal(rd(rtc, CENTURY), 0x20);
	assert_int_equal(rd(rtc, WDAY), 0x07); /* 15 June 2030 is a Saturday */
	/* The offset persists as host time moves on. */
	fake_now.tv_sec += 3600;
	assert_int_equal(rd(rtc, HOUR), 0x09);
	assert_int_equal(rd(rtc, SEC), 0x05);
}

static void test_write_without_set(void **state)
{
	struct rtc *rtc = *state;
	wr(rtc, MIN, 0x30);
	assert_int_equal(rd(rtc, MIN), 0x30);
	assert_int_equal(rd(rtc, HOUR), 0x13);
	fake_now.tv_sec += 60;
	assert_int_equal(rd(rtc, MIN), 0x31);
	assert_int_equal(rd(rtc, SEC), 0x09);
	/* Writing the day of week changes nothing: it is derived. */
	wr(rtc, WDAY, 0x01);
	assert_int_equal(rd(rtc, WDAY), 0x05);
	assert_int_equal(rd(rtc, MIN), 0x31);
	/* 12-hour writes: 0x92 is noon. */
	wr(rtc, REG_B, 0x00);
	wr(rtc, HOUR, 0x92);
	wr(rtc, REG_B, 0x02);
	assert_int_equal(rd(rtc, HOUR), 0x12);
}

static void test_reg_c(void **state)
{
	struct rtc *rtc = *state;
	assert_int_equal(rd(rtc, REG_C), 0x00);
	fake_now.tv_sec += 1;
	assert_int_equal(rd(rtc, REG_C), 0x50); /* periodic tick, update ended */
	assert_int_equal(rd(rtc, REG_C), 0x00); /* read clears */
	/* A don't-care alarm matches every second. */
	wr(rtc, SEC_ALARM, 0xc0);
	wr(rtc, MIN_ALARM, 0xff);
	wr(rtc, HOUR_ALARM, 0xc5);
	fake_now.tv_sec += 1;
	assert_int_equal(rd(rtc, REG_C), 0x70);
	/* An exact alarm: 13:05:30 BCD, passed within the next minute. */
	wr(rtc, SEC_ALARM, 0x30);
	wr(rtc, MIN_ALARM, 0x05);
	wr(rtc, HOUR_ALARM, 0x13);
	fake_now.tv_sec += 5;
	assert_int_equal(rd(rtc, REG_C) & 0x20, 0x00);
	fake_now.tv_sec += 30;
	assert_int_equal(rd(rtc, REG_C) & 0x20, 0x20);
	/* A day later it has matched again. */
	fake_now.tv_sec += 3 * 86400;
	assert_int_equal(rd(rtc, REG_C) & 0x20, 0x20);
	/* IRQF when an enabled flag is set. */
	wr(rtc, REG_B, 0x12);
	fake_now.tv_sec += 1;
	assert_int_equal(rd(rtc, REG_C), 0x90 | 0x40);
	/* No periodic rate: no PF. */
	wr(rtc, REG_A, 0x20);
	fake_now.tv_nsec += 500000000;
	assert_int_equal(rd(rtc, REG_C), 0x00);
	/* C and D are read-only. */
	wr(rtc, REG_C, 0xff);
	wr(rtc, REG_D, 0x00);
	assert_int_equal(rd(rtc, REG_C), 0x00);
	assert_int_equal(rd(rtc, REG_D), 0x80);
	/* SET clears UIE. */
	wr(rtc, REG_B, 0x92);
	assert_int_equal(rd(rtc, REG_B), 0x82);
}

static void test_index_and_cmos(void **state)
{
	struct rtc *rtc = *state;
	wr(rtc, 0x8e, 0x55); /* bit 7 is the NMI mask */
	assert_int_equal(rd(rtc, 0x0e), 0x55);
	wr(rtc, 0xff, 0xaa); /* wraps to 0x7f */
	assert_int_equal(rd(rtc, 0x7f), 0xaa);
	assert_int_equal(rd(rtc, 0x10), 0x00);
	wr(rtc, 0x40, 0x12);
	assert_int_equal(rd(rtc, 0xc0), 0x12);
	/* The index port reads 0xff; wide accesses use the low byte. */
	uint8_t v[4] = {0};
	rtc_access(rtc, 0, v, 1, false);
	assert_int_equal(v[0], 0xff);
	v[0] = 0x0e;
	rtc_access(rtc, 0, v, 2, true);
	rtc_access(rtc, 1, v, 4, false);
	assert_int_equal(v[0], 0x55);
	assert_int_equal(v[1], 0xff);
	rtc_access(rtc, 5, v, 1, false);
	assert_int_equal(v[0], 0xff);
	rtc_access(rtc, 5, v, 1, true);
}

static void test_memory_size(void **state)
{
	struct rtc *rtc = *state;
	/* 128 MiB: 112 MiB above 16 MiB = 0x0700 units of 64 KiB, nothing above 4 GiB. */
	assert_int_equal(rd(rtc, 0x34), 0x00);
	assert_int_equal(rd(rtc, 0x35), 0x07);
	assert_int_equal(rd(rtc, 0x5b), 0x00);
	assert_int_equal(rd(rtc, 0x5c), 0x00);
	assert_int_equal(rd(rtc, 0x5d), 0x00);

	/* 6 GiB: 3 GiB below the MMIO hole (0xbf00 units above 16 MiB), 3 GiB above 4 GiB. */
	struct rtc *big = rtc_create(NULL, fake_clock, GIB(6));
	assert_non_null(big);
	assert_int_equal(rd(big, 0x34), 0x00);
	assert_int_equal(rd(big, 0x35), 0xbf);
	assert_int_equal(rd(big, 0x5b), 0x00);
	assert_int_equal(rd(big, 0x5c), 0xc0);
	assert_int_equal(rd(big, 0x5d), 0x00);
	rtc_destroy(big);

	/* Tiny guests report 0; huge ones saturate the 24-bit field. */
	struct rtc *tiny = rtc_create(NULL, NULL, MIB(8));
	assert_non_null(tiny);
	assert_int_equal(rd(tiny, 0x35), 0x00);
	rtc_destroy(tiny);
	struct rtc *huge = rtc_create(NULL, fake_clock, GIB(1) << 20);
	assert_non_null(huge);
	assert_int_equal(rd(huge, 0x5d), 0xff);
	assert_int_equal(rd(huge, 0x5c), 0xff);
	rtc_destroy(huge);
}

static void test_host_clock(void **state)
{
	/* NULL clock: host CLOCK_REALTIME; the century must be 20 for decades. */
	struct rtc *rtc = rtc_create(NULL, NULL, MIB(64));
	assert_non_null(rtc);
	assert_int_equal(rd(rtc, CENTURY), 0x20);
	rtc_destroy(rtc);
}

static void test_garbage(void **state)
{
	struct rtc *rtc = *state;
	srand(7);
	for (int i = 0; i < 200000; i++) {
		uint8_t v[8];
		for (size_t j = 0; j < sizeof(v); j++)
			v[j] = (uint8_t)rand();
		static const uint32_t sizes[] = {1, 2, 4, 8};
		rtc_access(rtc, (uint64_t)(rand() % 3), v, sizes[rand() % 4], rand() & 1);
		if (i % 1000 == 0)
			fake_now.tv_sec += rand() % 100000;
	}
	rtc_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bcd_24h, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_12h, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_century_and_weekday, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_freezes_and_persists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_without_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reg_c, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_and_cmos, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_size, setup, teardown),
	    cmocka_unit_test(test_host_clock),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
