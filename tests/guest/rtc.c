/*
 * The `rtc` test: the MC146818 CMOS clock at ports 0x70/0x71 (index/data).
 * Reads the date as register B says (BCD or binary, 12- or 24-hour) after
 * register A's update-in-progress bit clears, prints it as Unix seconds,
 * then switches register B to binary, reads again, checks both agree and
 * restores register B.
 */
#include "guest.h"

#define RTC_SEC      0x00
#define RTC_MIN      0x02
#define RTC_HOUR     0x04
#define RTC_DAY      0x07
#define RTC_MONTH    0x08
#define RTC_YEAR     0x09
#define RTC_REG_A    0x0a
#define RTC_REG_B    0x0b
#define RTC_CENTURY  0x32 /* the ACPI FADT's default century register */
#define REG_A_UIP    0x80
#define REG_B_24H    0x02
#define REG_B_BINARY 0x04

struct rtc_time {
	unsigned sec, min, hour, day, month, year, century;
};

static uint8_t cmos_read(uint8_t reg)
{
	outb(LAYOUT_RTC_PORT, reg);
	return inb(LAYOUT_RTC_PORT + 1);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(LAYOUT_RTC_PORT, reg);
	outb(LAYOUT_RTC_PORT + 1, v);
}

static unsigned from_bcd(unsigned v)
{
	return (v >> 4) * 10 + (v & 15);
}

/* One consistent snapshot: no update in progress, seconds unchanged after. */
static bool read_time(struct rtc_time *t, uint8_t reg_b)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		unsigned spins = 0;
		while ((cmos_read(RTC_REG_A) & REG_A_UIP) && spins < 2000)
			spins++;
		if (spins == 2000)
			return false;
		t->sec = cmos_read(RTC_SEC);
		t->min = cmos_read(RTC_MIN);
		t->hour = cmos_read(RTC_HOUR);
		t->day = cmos_read(RTC_DAY);
		t->month = cmos_read(RTC_MONTH);
		t->year = cmos_read(RTC_YEAR);
		t->century = cmos_read(RTC_CENTURY);
		if (cmos_read(RTC_SEC) != t->sec)
			continue;
		bool pm = !(reg_b & REG_B_24H) && (t->hour & 0x80);
		t->hour &= 0x7f;
		if (!(reg_b & REG_B_BINARY)) {
			t->sec = from_bcd(t->sec);
			t->min = from_bcd(t->min);
			t->hour = from_bcd(t->hour);
			t->day = from_bcd(t->day);
			t->month = from_bcd(t->month);
			t->year = from_bcd(t->year);
			t->century = from_bcd(t->century);
		}
		if (!(reg_b & REG_B_24H))
			t->hour = t->hour % 12 + (pm ? 12 : 0);
		return true;
	}
	return false;
}

static bool time_valid(const struct rtc_time *t)
{
	return t->sec < 60 && t->min < 60 && t->hour < 24 && t->day >= 1 && t->day <= 31 &&
	       t->month >= 1 && t->month <= 12 && t->year < 100 && t->century >= 19 &&
	       t->century <= 99;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int64_t unix_seconds(const struct rtc_time *t)
{
	int64_t days = days_from_civil((int64_t)t->century * 100 + t->year, t->month, t->day);
	return days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

void test_rtc(void)
{
	uint8_t reg_b = cmos_read(RTC_REG_B);
	struct rtc_time t, b;
	int64_t secs = 0;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (!read_time(&t, reg_b)) {
			report("rtc", false, "error=update-in-progress never cleared");
			return;
		}
		if (!time_valid(&t)) {
			report("rtc", false,
			       "error=bad date %u%02u-%02u-%02u %02u:%02u:%02u (reg B 0x%x)",
			       t.century, t.year, t.month, t.day, t.hour, t.min, t.sec, reg_b);
			return;
		}
		secs = unix_seconds(&t);

		/* The same moment read in binary mode must agree. */
		uint8_t bin_b = (uint8_t)(reg_b | REG_B_BINARY);
		cmos_write(RTC_REG_B, bin_b);
		bool ok = cmos_read(RTC_REG_B) == bin_b && read_time(&b, bin_b);
		cmos_write(RTC_REG_B, reg_b);
		if (!ok) {
			report("rtc", false, "error=binary mode did not stick (reg B 0x%x)", reg_b);
			return;
		}
		int64_t bsecs = unix_seconds(&b);
		if (time_valid(&b) && bsecs == secs && b.century == t.century) {
			report("rtc", true, "%ld", secs);
			return;
		}
		/* A second may have ticked in between: try again, then give up. */
		if (!time_valid(&b) || bsecs - secs > 1 || bsecs < secs || b.century != t.century) {
			report("rtc", false,
			       "error=binary read %u%02u-%02u-%02u %02u:%02u:%02u differs from %ld",
			       b.century, b.year, b.month, b.day, b.hour, b.min, b.sec, secs);
			return;
		}
	}
	report("rtc", false, "error=binary and BCD reads never agreed (%ld)", secs);
}
