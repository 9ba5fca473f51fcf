/*
 * An MC146818 CMOS real-time clock at ports 0x70 (index, bit 7 = NMI mask)
 * and 0x71 (data): time and date from the host clock in BCD or binary and
 * 12- or 24-hour form as register B says, the update-in-progress bit of
 * register A for the 244 us before each second, registers C/D, and the
 * CMOS bytes around them (memory size in 0x34/0x35 and 0x5b-0x5d as
 * firmware leaves them).
 */
#ifndef EMBER_DEVICES_LEGACY_RTC_H
#define EMBER_DEVICES_LEGACY_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vmm/irq.h"

#define RTC_PORT_COUNT 2

struct rtc;

/* Reads the current host time; tests pass a fake one. */
typedef void (*rtc_clock_fn)(struct timespec *now);

struct rtc *rtc_create(const struct irq_line *irq, rtc_clock_fn clock, uint64_t ram_size);
void rtc_destroy(struct rtc *rtc);
void rtc_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
