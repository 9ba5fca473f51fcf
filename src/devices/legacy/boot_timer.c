/*
 * The boot-timer device (boot_timer.h). Firecracker handles only one-byte
 * writes at offset 0; so does this.
 */
#include "devices/legacy/boot_timer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"

struct boot_timer {
	uint64_t start_us, start_cpu_us;
	_Atomic unsigned signals;
};

struct boot_timer *boot_timer_create(uint64_t start_us, uint64_t start_cpu_us)
{
	struct boot_timer *dev = calloc(1, sizeof(*dev));
	if (dev) {
		dev->start_us = start_us;
		dev->start_cpu_us = start_cpu_us;
	}
	return dev;
}

void boot_timer_destroy(struct boot_timer *dev)
{
	free(dev);
}

void boot_timer_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
                       bool is_write)
{
	struct boot_timer *dev = opaque;
	if (!is_write) {
		memset(data, 0, size);
		return;
	}
	if (size != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	uint64_t now = metrics_clock_us(CLOCK_MONOTONIC);
	uint64_t cpu = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t us = now > dev->start_us ? now - dev->start_us : 0;
	uint64_t cpu_us = cpu > dev->start_cpu_us ? cpu - dev->start_cpu_us : 0;
	atomic_fetch_add(&dev->signals, 1);
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
	         (unsigned long long)us, (unsigned long long)(us / 1000),
	         (unsigned long long)cpu_us, (unsigned long long)(cpu_us / 1000));
}

unsigned boot_timer_signals(const struct boot_timer *dev)
{
	return atomic_load((_Atomic unsigned *)&dev->signals);
}
