/*
 * What the platform tests share (test_soft_lapic.c, test_soft_ioapic.c,
 * test_soft_pic.c, test_soft_pit.c): a struct soft_platform over a fake
 * clock, a guest TSC at 1 GHz (so TSC == ns) and recorded kicks.
 */
#ifndef EMBER_TEST_SOFT_PLATFORM_H
#define EMBER_TEST_SOFT_PLATFORM_H

#include <string.h>

#include "accel/soft/platform/platform.h"

#define MAX_TEST_CPUS 4
#define TSC_KHZ       1000000u /* 1 GHz: the guest TSC equals the fake clock in ns */
#define LAPIC_GPA     0xfee00000ull
#define IOAPIC_GPA    0xfec00000ull

struct fake_platform_env {
	uint64_t now;
	uint32_t kicks[MAX_TEST_CPUS]; /* bits since the last take_kicks */
	unsigned kick_calls[MAX_TEST_CPUS];
};

static struct fake_platform_env fenv;

static inline void fake_kick(void *ctx, unsigned cpu, uint32_t bits)
{
	assert_true(cpu < MAX_TEST_CPUS);
	fenv.kicks[cpu] |= bits;
	fenv.kick_calls[cpu]++;
}

static inline uint64_t fake_now(void *ctx)
{
	return fenv.now;
}

static inline uint64_t fake_tsc(void *ctx, unsigned cpu)
{
	return fenv.now;
}

static inline struct soft_platform *fake_platform(unsigned nr_cpus)
{
	memset(&fenv, 0, sizeof(fenv));
	fenv.now = 1000000000; /* 1 s: nothing special about time 0 */
	struct platform_callbacks cb = {
	    .kick = fake_kick, .now_ns = fake_now, .guest_tsc = fake_tsc};
	struct soft_platform *p = platform_create(nr_cpus, TSC_KHZ, &cb);
	assert_non_null(p);
	return p;
}

/* Returns and clears the kick bits of cpu. */
static inline uint32_t take_kicks(unsigned cpu)
{
	uint32_t bits = fenv.kicks[cpu];
	fenv.kicks[cpu] = 0;
	return bits;
}

static inline void mmio_write32(struct soft_platform *p, unsigned cpu, uint64_t gpa, uint32_t v)
{
	assert_true(platform_mmio(p, cpu, gpa, &v, 4, true));
}

static inline uint32_t mmio_read32(struct soft_platform *p, unsigned cpu, uint64_t gpa)
{
	uint32_t v = 0xdeadbeef;
	assert_true(platform_mmio(p, cpu, gpa, &v, 4, false));
	return v;
}

static inline void lapic_write(struct soft_platform *p, unsigned cpu, uint32_t reg, uint32_t v)
{
	mmio_write32(p, cpu, LAPIC_GPA + reg, v);
}

static inline uint32_t lapic_read(struct soft_platform *p, unsigned cpu, uint32_t reg)
{
	return mmio_read32(p, cpu, LAPIC_GPA + reg);
}

/* Software-enables the local APIC of cpu (SVR: spurious vector 0xff, bit 8). */
static inline void lapic_enable(struct soft_platform *p, unsigned cpu)
{
	lapic_write(p, cpu, 0xf0, 0x1ff);
}

static inline void outb(struct soft_platform *p, uint16_t port, uint8_t v)
{
	assert_true(platform_pio(p, 0, port, &v, 1, true));
}

static inline uint8_t inb(struct soft_platform *p, uint16_t port)
{
	uint8_t v = 0x5a;
	assert_true(platform_pio(p, 0, port, &v, 1, false));
	return v;
}

/* Masks every PIC input, as Linux does once the IOAPIC is in charge. */
static inline void pic_mask_all(struct soft_platform *p)
{
	outb(p, 0x21, 0xff);
	outb(p, 0xa1, 0xff);
}

static inline void ioapic_write(struct soft_platform *p, uint32_t index, uint32_t v)
{
	mmio_write32(p, 0, IOAPIC_GPA, index);
	mmio_write32(p, 0, IOAPIC_GPA + 0x10, v);
}

static inline uint32_t ioapic_read(struct soft_platform *p, uint32_t index)
{
	mmio_write32(p, 0, IOAPIC_GPA, index);
	return mmio_read32(p, 0, IOAPIC_GPA + 0x10);
}

static inline void ioapic_route(struct soft_platform *p, unsigned pin, uint64_t entry)
{
	ioapic_write(p, 0x11 + 2 * pin, (uint32_t)(entry >> 32));
	ioapic_write(p, 0x10 + 2 * pin, (uint32_t)entry);
}

#endif
