/*
 * Firecracker's boot-timer device (`--boot-timer`): one MMIO byte at the
 * first device window (0xd0000000, where guests' init programs written for
 * Firecracker write it). When the guest writes 123 there, the time since
 * the device's start (InstanceStart, or process start in config-file mode)
 * and the CPU time ember spent meanwhile are logged:
 *   Guest-boot-time =   1234 us 1 ms,    567 CPU us 0 CPU ms
 * Other writes and all reads are ignored (reads return 0).
 */
#ifndef EMBER_DEVICES_LEGACY_BOOT_TIMER_H
#define EMBER_DEVICES_LEGACY_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_SIZE  0x1000
#define BOOT_TIMER_MAGIC 123

struct boot_timer;

/* start_us / start_cpu_us: CLOCK_MONOTONIC and process CPU time, in us. */
struct boot_timer *boot_timer_create(uint64_t start_us, uint64_t start_cpu_us);
void boot_timer_destroy(struct boot_timer *dev);
/* Bus handler for the BOOT_TIMER_SIZE window; vCPU threads. */
void boot_timer_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
                       bool is_write);
/* How many times the guest signalled (tests). */
unsigned boot_timer_signals(const struct boot_timer *dev);

#endif
