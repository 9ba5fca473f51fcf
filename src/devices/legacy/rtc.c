/*
 * MC146818 real-time clock and CMOS RAM, after the Motorola MC146818A
 * datasheet: address map (time, alarm, registers A-D, user RAM), time and
 * calendar formats (BCD or binary per DM, 12- or 24-hour per 24/12, PM in
 * bit 7 of the hours byte), the update cycle with UIP in register A, SET in
 * register B, and the flags of register C.
 *
 * Time is host time (the clock fn, CLOCK_REALTIME by default) as UTC plus a
 * guest offset in seconds. Register B.SET freezes the time registers into
 * plain CMOS storage: reads return what was frozen or written since, and
 * clearing SET decodes them into a new offset, which is how "hwclock -w"
 * sets the clock. A time-register write without SET moves the offset at
 * once, as the chip counts on from the written value.
 *
 * No timers run and the IRQ stays low: register C's PF, AF and UF are
 * derived when C is read (a periodic tick, an alarm match or an update
 * since the last read). Linux reads the RTC only for the time at boot.
 * The divider bits of register A are stored but do not stop the clock.
 *
 * CMOS bytes 0x34/0x35 hold RAM below 4 GiB above 16 MiB in 64 KiB units,
 * 0x5b-0x5d RAM above 4 GiB in 64 KiB units, as firmware leaves them.
 * Wider accesses act on the addressed byte: writes use the low byte, reads
 * return the value in the low byte and 0xff above it.
 */
#include "devices/legacy/rtc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/macros.h"

#define RTC_INDEX     0
#define RTC_DATA      1
#define RTC_CMOS_SIZE 128

#define RTC_SECONDS          0x00
#define RTC_SECONDS_ALARM    0x01
#define RTC_MINUTES          0x02
#define RTC_MINUTES_ALARM    0x03
#define RTC_HOURS            0x04
#define RTC_HOURS_ALARM      0x05
#define RTC_DAY_OF_WEEK      0x06
#define RTC_DAY_OF_MONTH     0x07
#define RTC_MONTH            0x08
#define RTC_YEAR             0x09
#define RTC_REG_A            0x0a
#define RTC_REG_B            0x0b
#define RTC_REG_C            0x0c
#define RTC_REG_D            0x0d
#define RTC_MEM_ABOVE_16M_LO 0x34
#define RTC_MEM_ABOVE_16M_HI 0x35
#define RTC_CENTURY          0x32
#define RTC_MEM_ABOVE_4G     0x5b /* 3 bytes, low first */

#define REG_A_UIP     0x80
#define REG_A_RS      0x0f
#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define REG_B_SET     0x80
#define REG_B_PIE     0x40
#define REG_B_AIE     0x20
#define REG_B_UIE     0x10
#define REG_B_DM      0x04
#define REG_B_24H     0x02
#define REG_B_DEFAULT REG_B_24H
#define REG_C_IRQF    0x80
#define REG_C_PF      0x40
#define REG_C_AF      0x20
#define REG_C_UF      0x10
#define REG_D_VRT     0x80

#define HOURS_PM        0x80
#define ALARM_DONT_CARE 0xc0 /* both top bits set: matches anything */
#define UIP_WINDOW_NS   244000L
#define SECONDS_PER_DAY 86400

struct rtc {
	pthread_mutex_t lock;
	struct irq_line irq; /* kept for when timers exist; never raised */
	rtc_clock_fn clock;
	uint8_t index;
	bool nmi_disabled;           /* index bit 7: stored, no effect (NMIs are KVM's) */
	uint8_t cmos[RTC_CMOS_SIZE]; /* time bytes here are only used while SET */
	int64_t offset;              /* guest seconds = host seconds + offset */
	struct timespec last_c;      /* host time of the last register C read */
	int64_t last_c_guest;        /* guest seconds at that read */
};

static void rtc_host_clock(struct timespec *now)
{
	clock_gettime(CLOCK_REALTIME, now);
}

static void rtc_now(const struct rtc *rtc, struct timespec *now)
{
	rtc->clock(now);
	if (now->tv_nsec < 0 || now->tv_nsec >= 1000000000L)
		now->tv_nsec = 0;
}

static bool rtc_binary(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & REG_B_DM;
}

static uint8_t rtc_encode(const struct rtc *rtc, int v)
{
	if (rtc_binary(rtc))
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int rtc_decode(const struct rtc *rtc, uint8_t v)
{
	if (rtc_binary(rtc))
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hours(const struct rtc *rtc, int hour)
{
	if (rtc->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_encode(rtc, hour);
	int h12 = hour % 12 ? hour % 12 : 12;
	return (uint8_t)(rtc_encode(rtc, h12) | (hour >= 12 ? HOURS_PM : 0));
}

static int rtc_decode_hours(const struct rtc *rtc, uint8_t v)
{
	if (rtc->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_decode(rtc, v);
	int hour = rtc_decode(rtc, v & (uint8_t)~HOURS_PM) % 12;
	return (v & HOURS_PM) ? hour + 12 : hour;
}

static bool rtc_is_time_reg(uint8_t index)
{
	switch (index) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

/* Writes the time registers of regs[] for guest time t in the current format. */
static void rtc_time_to_regs(const struct rtc *rtc, int64_t t, uint8_t *regs)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof(tm));
	int year = tm.tm_year + 1900;
	regs[RTC_SECONDS] = rtc_encode(rtc, tm.tm_sec);
	regs[RTC_MINUTES] = rtc_encode(rtc, tm.tm_min);
	regs[RTC_HOURS] = rtc_encode_hours(rtc, tm.tm_hour);
	regs[RTC_DAY_OF_WEEK] = rtc_encode(rtc, tm.tm_wday + 1);
	regs[RTC_DAY_OF_MONTH] = rtc_encode(rtc, tm.tm_mday);
	regs[RTC_MONTH] = rtc_encode(rtc, tm.tm_mon + 1);
	regs[RTC_YEAR] = rtc_encode(rtc, year % 100);
	regs[RTC_CENTURY] = rtc_encode(rtc, year / 100);
}

/*
 * The guest time the time registers of regs[] name. Whatever the guest
 * wrote decodes to bounded numbers; timegm normalises out-of-range fields
 * (month 0, second 99), and the day of week is derived, not read.
 */
static int64_t rtc_regs_to_time(const struct rtc *rtc, const uint8_t *regs)
{
	struct tm tm = {0};
	tm.tm_sec = rtc_decode(rtc, regs[RTC_SECONDS]);
	tm.tm_min = rtc_decode(rtc, regs[RTC_MINUTES]);
	tm.tm_hour = rtc_decode_hours(rtc, regs[RTC_HOURS]);
	tm.tm_mday = rtc_decode(rtc, regs[RTC_DAY_OF_MONTH]);
	tm.tm_mon = rtc_decode(rtc, regs[RTC_MONTH]) - 1;
	tm.tm_year =
	    rtc_decode(rtc, regs[RTC_CENTURY]) * 100 + rtc_decode(rtc, regs[RTC_YEAR]) - 1900;
	return (int64_t)timegm(&tm);
}

/* Does the alarm (registers 1, 3, 5) match any guest second in (from, to]? */
static bool rtc_alarm_hit(const struct rtc *rtc, int64_t from, int64_t to)
{
	uint8_t as = rtc->cmos[RTC_SECONDS_ALARM], am = rtc->cmos[RTC_MINUTES_ALARM];
	uint8_t ah = rtc->cmos[RTC_HOURS_ALARM];
	/* A day holds every h:m:s; the loop costs at most one step per second
	 * that passed since the last read of C. */
	if (to - from > SECONDS_PER_DAY)
		from = to - SECONDS_PER_DAY;
	for (int64_t t = from + 1; t <= to; t++) {
		int64_t sod = ((t % SECONDS_PER_DAY) + SECONDS_PER_DAY) % SECONDS_PER_DAY;
		int s = (int)(sod % 60), m = (int)(sod / 60 % 60), h = (int)(sod / 3600);
		if ((as & ALARM_DONT_CARE) != ALARM_DONT_CARE && as != rtc_encode(rtc, s))
			continue;
		if ((am & ALARM_DONT_CARE) != ALARM_DONT_CARE && am != rtc_encode(rtc, m))
			continue;
		if ((ah & ALARM_DONT_CARE) != ALARM_DONT_CARE && ah != rtc_encode_hours(rtc, h))
			continue;
		return true;
	}
	return false;
}

/* Periodic ticks are counted in 32.768 kHz cycles; RS 1 and 2 alias RS 8 and 9. */
static uint64_t rtc_periodic_ticks(const struct timespec *ts, unsigned int rs)
{
	unsigned int shift = rs <= 2 ? rs + 6 : rs - 1;
	uint64_t cycles =
	    (uint64_t)ts->tv_sec * 32768u + (uint64_t)ts->tv_nsec * 32768u / 1000000000u;
	return cycles >> shift;
}

/* Register C: the flags of what happened since the last read, then cleared. */
static uint8_t rtc_read_reg_c(struct rtc *rtc, const struct timespec *now)
{
	uint8_t flags = 0, b = rtc->cmos[RTC_REG_B];
	int64_t guest = (int64_t)now->tv_sec + rtc->offset;
	unsigned int rs = rtc->cmos[RTC_REG_A] & REG_A_RS;

	if (rs && rtc_periodic_ticks(now, rs) != rtc_periodic_ticks(&rtc->last_c, rs))
		flags |= REG_C_PF;
	if (!(b & REG_B_SET) && guest > rtc->last_c_guest) {
		flags |= REG_C_UF;
		if (rtc_alarm_hit(rtc, rtc->last_c_guest, guest))
			flags |= REG_C_AF;
	}
	if (flags & b & (REG_B_PIE | REG_B_AIE | REG_B_UIE))
		flags |= REG_C_IRQF;
	rtc->last_c = *now;
	rtc->last_c_guest = guest;
	return flags;
}

static uint8_t rtc_read(struct rtc *rtc, uint8_t index)
{
	struct timespec now;
	uint8_t regs[RTC_CMOS_SIZE];
	bool set = rtc->cmos[RTC_REG_B] & REG_B_SET;

	switch (index) {
	case RTC_REG_A:
		rtc_now(rtc, &now);
		if (!set && now.tv_nsec >= 1000000000L - UIP_WINDOW_NS)
			return rtc->cmos[RTC_REG_A] | REG_A_UIP;
		return rtc->cmos[RTC_REG_A];
	case RTC_REG_C:
		rtc_now(rtc, &now);
		return rtc_read_reg_c(rtc, &now);
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		break;
	}
	if (!rtc_is_time_reg(index) || set)
		return rtc->cmos[index];
	rtc_now(rtc, &now);
	rtc_time_to_regs(rtc, (int64_t)now.tv_sec + rtc->offset, regs);
	return regs[index];
}

static void rtc_write_reg_b(struct rtc *rtc, uint8_t value)
{
	struct timespec now;
	uint8_t old = rtc->cmos[RTC_REG_B];
	if (value & REG_B_SET)
		value &= (uint8_t)~REG_B_UIE; /* SET clears UIE */
	rtc->cmos[RTC_REG_B] = value;

	rtc_now(rtc, &now);
	if (!(old & REG_B_SET) && (value & REG_B_SET))
		rtc_time_to_regs(rtc, (int64_t)now.tv_sec + rtc->offset, rtc->cmos);
	else if ((old & REG_B_SET) && !(value & REG_B_SET))
		rtc->offset = rtc_regs_to_time(rtc, rtc->cmos) - (int64_t)now.tv_sec;
}

static void rtc_write(struct rtc *rtc, uint8_t index, uint8_t value)
{
	struct timespec now;
	uint8_t regs[RTC_CMOS_SIZE];

	switch (index) {
	case RTC_REG_A:
		rtc->cmos[RTC_REG_A] = value & (uint8_t)~REG_A_UIP;
		return;
	case RTC_REG_B:
		rtc_write_reg_b(rtc, value);
		return;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	default:
		break;
	}
	if (!rtc_is_time_reg(index) || (rtc->cmos[RTC_REG_B] & REG_B_SET)) {
		rtc->cmos[index] = value;
		return;
	}
	/* The clock goes on from the written value. */
	rtc_now(rtc, &now);
	rtc_time_to_regs(rtc, (int64_t)now.tv_sec + rtc->offset, regs);
	regs[index] = value;
	rtc->offset = rtc_regs_to_time(rtc, regs) - (int64_t)now.tv_sec;
}

static void rtc_set_memory_size(struct rtc *rtc, uint64_t ram_size)
{
	uint64_t low = MIN(ram_size, LAYOUT_MMIO_HOLE_GPA);
	uint64_t high = ram_size - low;
	uint64_t above_16m = low > MIB(16) ? (low - MIB(16)) >> 16 : 0;
	above_16m = MIN(above_16m, 0xffffu);
	uint64_t above_4g = MIN(high >> 16, 0xffffffu);

	rtc->cmos[RTC_MEM_ABOVE_16M_LO] = (uint8_t)above_16m;
	rtc->cmos[RTC_MEM_ABOVE_16M_HI] = (uint8_t)(above_16m >> 8);
	rtc->cmos[RTC_MEM_ABOVE_4G] = (uint8_t)above_4g;
	rtc->cmos[RTC_MEM_ABOVE_4G + 1] = (uint8_t)(above_4g >> 8);
	rtc->cmos[RTC_MEM_ABOVE_4G + 2] = (uint8_t)(above_4g >> 16);
}

/*
 * Allocates the RTC: registers A and B at their defaults (0x26, 0x02: 24-hour
 * BCD), time = clock (host CLOCK_REALTIME when NULL), memory-size bytes from
 * ram_size split at the 32-bit MMIO hole. irq is copied. NULL when out of
 * memory. VMM thread.
 */
struct rtc *rtc_create(const struct irq_line *irq, rtc_clock_fn clock, uint64_t ram_size)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return NULL;
	if (pthread_mutex_init(&rtc->lock, NULL)) {
		free(rtc);
		return NULL;
	}
	if (irq)
		rtc->irq = *irq;
	rtc->clock = clock ? clock : rtc_host_clock;
	rtc->cmos[RTC_REG_A] = REG_A_DEFAULT;
	rtc->cmos[RTC_REG_B] = REG_B_DEFAULT;
	rtc_set_memory_size(rtc, ram_size);
	rtc_now(rtc, &rtc->last_c);
	rtc->last_c_guest = (int64_t)rtc->last_c.tv_sec;
	return rtc;
}

/* Frees the RTC. No vCPU may be running. */
void rtc_destroy(struct rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

/*
 * Bus handler for the index (offset 0, write-only: reads 0xff) and data
 * (offset 1) ports. The index keeps bits 6:0, so indices wrap at 128;
 * bit 7, the NMI mask, is stored and has no effect. vCPU threads.
 */
void rtc_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct rtc *rtc = opaque;
	if (size == 0)
		return;
	if (!is_write)
		memset(data, 0xff, size);
	if (offset != RTC_INDEX && offset != RTC_DATA)
		return;

	pthread_mutex_lock(&rtc->lock);
	if (offset == RTC_INDEX) {
		if (is_write) {
			rtc->index = data[0] & 0x7f;
			rtc->nmi_disabled = data[0] & 0x80;
		}
	} else if (is_write) {
		rtc_write(rtc, rtc->index, data[0]);
	} else {
		data[0] = rtc_read(rtc, rtc->index);
	}
	pthread_mutex_unlock(&rtc->lock);
}
