/* Unit tests for the software platform's IOAPIC and MSIs (src/accel/soft/platform/ioapic.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_soft_platform.h"

#define LEVEL      (1ull << 15)
#define MASK       (1ull << 16)
#define REMOTE_IRR (1u << 14)
#define LOGICAL    (1ull << 11)
#define DEST(n)    ((uint64_t)(n) << 56)
#define MODE(m)    ((uint64_t)(m) << 8)
#define LAPIC_EOI  0xb0
#define LAPIC_TMR  0x180

static int setup(void **state)
{
	struct soft_platform *p = fake_platform(2);
	lapic_enable(p, 0);
	lapic_enable(p, 1);
	pic_mask_all(p); /* the PIC's power-on IMR is 0 and would see GSIs 0-15 too */
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	platform_destroy(*state);
	return 0;
}

static void test_registers(void **state)
{
	struct soft_platform *p = *state;
	assert_int_equal(ioapic_read(p, 0), 0);
	assert_int_equal(ioapic_read(p, 1), 0x170011);
	ioapic_write(p, 0, 0x0b000000);
	assert_int_equal(ioapic_read(p, 0), 0x0b000000);
	assert_int_equal(ioapic_read(p, 2), 0x0b000000); /* arbitration id */
	ioapic_write(p, 1, 0);                           /* version is read-only */
	assert_int_equal(ioapic_read(p, 1), 0x170011);
	for (unsigned pin = 0; pin < 24; pin++)
		assert_int_equal(ioapic_read(p, 0x10 + 2 * pin), MASK);
	/* Remote IRR and delivery status are read-only; the high word keeps 63:56. */
	ioapic_write(p, 0x10 + 2 * 5, 0x1ffff);
	assert_int_equal(ioapic_read(p, 0x10 + 2 * 5), 0x1afff);
	ioapic_write(p, 0x11 + 2 * 5, 0xffffffff);
	assert_int_equal(ioapic_read(p, 0x11 + 2 * 5), 0xff000000);
	assert_int_equal(ioapic_read(p, 0x40), 0); /* beyond the table */
	/* IOREGSEL reads back; other offsets read 0. */
	assert_int_equal(mmio_read32(p, 0, IOAPIC_GPA), 0x40);
	assert_int_equal(mmio_read32(p, 0, IOAPIC_GPA + 0x20), 0);
}

static void test_edge(void **state)
{
	struct soft_platform *p = *state;
	ioapic_route(p, 4, DEST(1) | 0x34);
	take_kicks(1);
	platform_set_irq(p, 4, 1);
	assert_int_equal(take_kicks(1), PLATFORM_INT_EXTERNAL);
	assert_int_equal(take_kicks(0), 0);
	assert_int_equal(platform_intr_ack(p, 1), 0x34);
	lapic_write(p, 1, LAPIC_EOI, 0);
	/* Still high: no new edge. */
	platform_set_irq(p, 4, 1);
	assert_int_equal(take_kicks(1), 0);
	platform_set_irq(p, 4, 0);
	platform_set_irq(p, 4, 1);
	assert_int_equal(platform_intr_ack(p, 1), 0x34);
	lapic_write(p, 1, LAPIC_EOI, 0);
	/* An edge while masked is lost. */
	platform_set_irq(p, 4, 0);
	ioapic_route(p, 4, MASK | DEST(1) | 0x34);
	platform_set_irq(p, 4, 1);
	ioapic_route(p, 4, DEST(1) | 0x34);
	assert_int_equal(platform_intr_ack(p, 1), -1);
}

static void test_level_eoi_redelivers(void **state)
{
	struct soft_platform *p = *state;
	ioapic_route(p, 10, LEVEL | DEST(0) | 0x3a);
	platform_set_irq(p, 10, 1);
	assert_true(ioapic_read(p, 0x10 + 2 * 10) & REMOTE_IRR);
	assert_int_equal(lapic_read(p, 0, LAPIC_TMR + 0x10), 1u << (0x3a - 32));
	assert_int_equal(platform_intr_ack(p, 0), 0x3a);
	/* Asserting again while remote IRR is set: nothing new. */
	platform_set_irq(p, 10, 1);
	assert_false(platform_intr_pending(p, 0));
	/* EOI while the line is still high: delivered again. */
	lapic_write(p, 0, LAPIC_EOI, 0);
	assert_true(ioapic_read(p, 0x10 + 2 * 10) & REMOTE_IRR);
	assert_int_equal(platform_intr_ack(p, 0), 0x3a);
	/* The device drops the line; the EOI clears remote IRR and that's all. */
	platform_set_irq(p, 10, 0);
	lapic_write(p, 0, LAPIC_EOI, 0);
	assert_false(ioapic_read(p, 0x10 + 2 * 10) & REMOTE_IRR);
	assert_int_equal(platform_intr_ack(p, 0), -1);
}

static void test_level_unmask_delivers(void **state)
{
	struct soft_platform *p = *state;
	ioapic_route(p, 20, MASK | LEVEL | DEST(1) | 0x44);
	platform_set_irq(p, 20, 1); /* GSIs 16-23 are IOAPIC-only */
	assert_int_equal(platform_intr_ack(p, 1), -1);
	ioapic_route(p, 20, LEVEL | DEST(1) | 0x44);
	assert_int_equal(platform_intr_ack(p, 1), 0x44);
	/* A level entry whose target dropped it (disabled APIC) keeps no remote IRR. */
	platform_set_irq(p, 21, 1);
	lapic_write(p, 1, 0xf0, 0xff);
	ioapic_route(p, 21, LEVEL | DEST(1) | 0x45);
	assert_false(ioapic_read(p, 0x10 + 2 * 21) & REMOTE_IRR);
	/* Out-of-range GSIs are ignored. */
	platform_set_irq(p, 24, 1);
	platform_set_irq(p, 1000, 1);
}

static void test_pit_pin_is_zero(void **state)
{
	struct soft_platform *p = *state;
	/* No interrupt source override in ember's MADT: IRQ 0 is pin 0. */
	ioapic_route(p, 0, DEST(0) | 0x30);
	ioapic_route(p, 2, DEST(0) | 0x32);
	platform_set_irq(p, 0, 1);
	platform_set_irq(p, 0, 0);
	assert_int_equal(platform_intr_ack(p, 0), 0x30);
	assert_int_equal(platform_intr_ack(p, 0), -1);
}

static void test_logical_and_lowest(void **state)
{
	struct soft_platform *p = *state;
	lapic_write(p, 0, 0xd0, 0x01000000);
	lapic_write(p, 1, 0xd0, 0x02000000);
	ioapic_route(p, 3, LOGICAL | DEST(0x02) | 0x53);
	platform_set_irq(p, 3, 1);
	assert_int_equal(platform_intr_ack(p, 1), 0x53);
	assert_int_equal(platform_intr_ack(p, 0), -1);
	/* Lowest priority to both: one of them. */
	ioapic_route(p, 6, LOGICAL | MODE(1) | DEST(0x03) | 0x56);
	platform_set_irq(p, 6, 1);
	int got = (platform_intr_ack(p, 0) == 0x56) + (platform_intr_ack(p, 1) == 0x56);
	assert_int_equal(got, 1);
	/* NMI delivery mode. */
	ioapic_route(p, 7, MODE(4) | DEST(1));
	take_kicks(1);
	platform_set_irq(p, 7, 1);
	assert_int_equal(take_kicks(1), PLATFORM_INT_NMI);
}

static void test_extint_to_pic(void **state)
{
	struct soft_platform *p = *state;
	/* PIC: vectors 0x30/0x38, IRQ 3 unmasked. */
	outb(p, 0x20, 0x11);
	outb(p, 0x21, 0x30);
	outb(p, 0x21, 0x04);
	outb(p, 0x21, 0x01);
	outb(p, 0x21, 0xf7);
	/* The BSP's LINT0 masked: only the IOAPIC's ExtINT message reaches a CPU. */
	lapic_write(p, 0, 0x350, 0x10700);
	ioapic_route(p, 5, MODE(7) | DEST(1));
	platform_set_irq(p, 3, 1);
	assert_false(platform_intr_pending(p, 0));
	assert_false(platform_intr_pending(p, 1));
	platform_set_irq(p, 5, 1);
	assert_true(platform_intr_pending(p, 1));
	assert_int_equal(platform_intr_ack(p, 1), 0x33);
}

static void test_msi(void **state)
{
	struct soft_platform *p = *state;
	take_kicks(1);
	platform_msi(p, 0xfee01000, 0x4065);
	assert_int_equal(take_kicks(1), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 1), 0x65);
	/* Logical destination (address bit 2). */
	lapic_write(p, 0, 0xd0, 0x01000000);
	platform_msi(p, 0xfee01004, 0x66);
	assert_int_equal(platform_intr_ack(p, 0), 0x66);
	/* Not an MSI address: dropped. */
	platform_msi(p, 0xfed01000, 0x67);
	assert_false(platform_intr_pending(p, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_eoi_redelivers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_unmask_delivers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pit_pin_is_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logical_and_lowest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_extint_to_pic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msi, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
