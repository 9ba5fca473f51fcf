/* Unit tests for the software platform's 8254 PIT (src/accel/soft/platform/pit.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_soft_platform.h"

#define PIT_HZ 1193182ull

/* The time after which n PIT ticks have elapsed (rounded up). */
static uint64_t ticks_ns(uint64_t n)
{
	return (n * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static uint16_t read_count(struct soft_platform *p, uint16_t port)
{
	uint8_t lo = inb(p, port);
	return (uint16_t)(lo | inb(p, port) << 8);
}

static int setup(void **state)
{
	struct soft_platform *p = fake_platform(2);
	pic_mask_all(p);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	platform_destroy(*state);
	return 0;
}

static void test_channel2_oneshot_port61(void **state)
{
	struct soft_platform *p = *state;
	/* pit_calibrate_tsc(): gate high, speaker off, mode 0, LSB/MSB. */
	outb(p, 0x61, (inb(p, 0x61) & ~0x02) | 0x01);
	assert_int_equal(inb(p, 0x61) & 0x03, 0x01);
	outb(p, 0x43, 0xb0);
	assert_int_equal(inb(p, 0x61) & 0x20, 0); /* mode 0: output low */
	uint64_t t0 = fenv.now;
	outb(p, 0x42, 1000 & 0xff);
	outb(p, 0x42, 1000 >> 8);
	fenv.now = t0 + ticks_ns(1000) - 100;
	assert_int_equal(inb(p, 0x61) & 0x20, 0);
	fenv.now = t0 + ticks_ns(1000);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
	fenv.now += 1000000;
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20); /* stays high */
	/* Channel 2 never raises an interrupt. */
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
}

static void test_channel2_gate_holds_mode0(void **state)
{
	struct soft_platform *p = *state;
	outb(p, 0x61, 0x00); /* gate low */
	outb(p, 0x43, 0xb0);
	outb(p, 0x42, 0x00);
	outb(p, 0x42, 0x10); /* 4096 */
	fenv.now += ticks_ns(5000);
	assert_int_equal(read_count(p, 0x42), 4096);
	assert_int_equal(inb(p, 0x61) & 0x20, 0);
	outb(p, 0x61, 0x01);
	fenv.now += ticks_ns(96);
	assert_int_equal(read_count(p, 0x42), 4000);
	fenv.now += ticks_ns(4000);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
}

static void test_live_msb_reads(void **state)
{
	struct soft_platform *p = *state;
	/* quick_pit_calibrate(): count from 0xffff, read LSB then MSB. */
	outb(p, 0x61, 0x01);
	outb(p, 0x43, 0xb0);
	outb(p, 0x42, 0xff);
	outb(p, 0x42, 0xff);
	fenv.now += ticks_ns(256);
	(void)inb(p, 0x42);
	assert_int_equal(inb(p, 0x42), 0xfe);
	fenv.now += ticks_ns(256 * 10);
	(void)inb(p, 0x42);
	assert_int_equal(inb(p, 0x42), 0xf4);
}

static void test_latch_and_readback(void **state)
{
	struct soft_platform *p = *state;
	outb(p, 0x43, 0x34); /* channel 0, LSB/MSB, mode 2 */
	outb(p, 0x40, 1000 & 0xff);
	outb(p, 0x40, 1000 >> 8);
	fenv.now += ticks_ns(300);
	outb(p, 0x43, 0x00); /* counter latch */
	fenv.now += ticks_ns(200);
	assert_int_equal(read_count(p, 0x40), 700);
	assert_int_equal(read_count(p, 0x40), 500); /* the latch is gone */
	/* Read-back: status of channel 0 (output high, count loaded, rw 3, mode 2). */
	outb(p, 0x43, 0xe2);
	assert_int_equal(inb(p, 0x40), 0xb4);
	/* Read-back of count and status: status first, then the count. */
	outb(p, 0x43, 0xc2);
	fenv.now += ticks_ns(50);
	assert_int_equal(inb(p, 0x40), 0xb4);
	assert_int_equal(read_count(p, 0x40), 500);
	/* A control word without a count: null count set. */
	outb(p, 0x43, 0x70); /* channel 1, mode 0 */
	outb(p, 0x43, 0xe4);
	assert_int_equal(inb(p, 0x41), 0x70);
	/* LSB-only and MSB-only access modes. */
	outb(p, 0x43, 0x54); /* channel 1, LSB only, mode 2 */
	outb(p, 0x41, 200);
	fenv.now += ticks_ns(20);
	assert_int_equal(inb(p, 0x41), 180);
	outb(p, 0x43, 0x64); /* channel 1, MSB only, mode 2 */
	outb(p, 0x41, 2);    /* 512 */
	fenv.now += ticks_ns(256);
	assert_int_equal(inb(p, 0x41), 1);
	/* BCD: 1000 decimal. */
	outb(p, 0x43, 0x35);
	outb(p, 0x40, 0x00);
	outb(p, 0x40, 0x10);
	fenv.now += ticks_ns(1);
	assert_int_equal(read_count(p, 0x40), 0x0999);
}

static void test_channel0_periodic_irq(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	ioapic_route(p, 0, 0x30); /* pin 0 -> vector 0x30, CPU 0, edge */
	uint64_t t0 = fenv.now;
	outb(p, 0x43, 0x34);
	outb(p, 0x40, 11932 & 0xff);
	outb(p, 0x40, 11932 >> 8);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + ticks_ns(11932));
	assert_int_equal(platform_next_deadline_ns(p, 1), UINT64_MAX); /* the PIT is CPU 0's */
	platform_run_timers(p, 0, t0 + ticks_ns(11932) - 1);
	assert_false(platform_intr_pending(p, 0));
	platform_run_timers(p, 0, t0 + ticks_ns(11932));
	assert_int_equal(platform_intr_ack(p, 0), 0x30);
	lapic_write(p, 0, 0xb0, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + ticks_ns(2 * 11932));
	/* Three periods late: one interrupt, then the next period boundary. */
	platform_run_timers(p, 0, t0 + ticks_ns(5 * 11932) + 5);
	assert_int_equal(platform_intr_ack(p, 0), 0x30);
	assert_int_equal(platform_intr_ack(p, 0), -1);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + ticks_ns(6 * 11932));
	/* Linux's pit_shutdown: mode 0, count 0 -> one last interrupt 65536 ticks on. */
	fenv.now = t0 + ticks_ns(5 * 11932) + 10;
	outb(p, 0x43, 0x30);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
	outb(p, 0x40, 0);
	outb(p, 0x40, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), fenv.now + ticks_ns(65536));
	platform_run_timers(p, 0, fenv.now + ticks_ns(65536));
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
}

static void test_channel0_through_pic(void **state)
{
	struct soft_platform *p = *state;
	/* Early boot: PIC at 0x30 with only IRQ 0 unmasked, LINT0 in ExtINT mode. */
	outb(p, 0x20, 0x11);
	outb(p, 0x21, 0x30);
	outb(p, 0x21, 0x04);
	outb(p, 0x21, 0x01);
	outb(p, 0x21, 0xfe);
	outb(p, 0x43, 0x34);
	outb(p, 0x40, 100);
	outb(p, 0x40, 0);
	take_kicks(0);
	platform_run_timers(p, 0, fenv.now + ticks_ns(100));
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 0), 0x30);
}

static void test_reprogram_from_other_cpu_kicks(void **state)
{
	struct soft_platform *p = *state;
	uint8_t v = 0x34;
	take_kicks(0);
	assert_true(platform_pio(p, 1, 0x43, &v, 1, true));
	v = 0x10;
	assert_true(platform_pio(p, 1, 0x40, &v, 1, true));
	assert_true(platform_pio(p, 1, 0x40, &v, 1, true));
	assert_int_equal(take_kicks(0), PLATFORM_INT_TIMER);
}

static void test_mode3_square_wave(void **state)
{
	struct soft_platform *p = *state;
	outb(p, 0x61, 0x01);
	outb(p, 0x43, 0xb6); /* channel 2, LSB/MSB, mode 3 */
	outb(p, 0x42, 100);
	outb(p, 0x42, 0);
	uint64_t t0 = fenv.now;
	fenv.now = t0 + ticks_ns(10);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
	assert_int_equal(read_count(p, 0x42), 80);
	fenv.now = t0 + ticks_ns(60);
	assert_int_equal(inb(p, 0x61) & 0x20, 0);
	fenv.now = t0 + ticks_ns(110);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
	/* Gate low forces the output high; a rising edge restarts the count. */
	fenv.now = t0 + ticks_ns(160);
	outb(p, 0x61, 0x00);
	assert_int_equal(inb(p, 0x61) & 0x20, 0x20);
	outb(p, 0x61, 0x01);
	fenv.now += ticks_ns(60);
	assert_int_equal(inb(p, 0x61) & 0x20, 0);
	/* The control register cannot be read; 0x61 bit 4 (refresh) toggles. */
	assert_int_equal(inb(p, 0x43), 0xff);
	uint8_t a = inb(p, 0x61) & 0x10;
	fenv.now += 15085;
	assert_int_not_equal(inb(p, 0x61) & 0x10, a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_channel2_oneshot_port61, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel2_gate_holds_mode0, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_msb_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latch_and_readback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel0_periodic_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel0_through_pic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reprogram_from_other_cpu_kicks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_square_wave, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
