/* Unit tests for the software platform's 8259A pair (src/accel/soft/platform/pic.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_soft_platform.h"

enum { MCMD = 0x20, MDATA = 0x21, SCMD = 0xa0, SDATA = 0xa1 };

/* init_8259A() of Linux's arch/x86/kernel/i8259.c, then the given masks. */
static void linux_init(struct soft_platform *p, int auto_eoi, uint8_t mmask, uint8_t smask)
{
	outb(p, MDATA, 0xff);
	outb(p, SDATA, 0xff);
	outb(p, MCMD, 0x11);                    /* ICW1: edge, cascade, ICW4 */
	outb(p, MDATA, 0x30);                   /* ICW2: vectors 0x30-0x37 */
	outb(p, MDATA, 1u << 2);                /* ICW3: slave on IR2 */
	outb(p, MDATA, auto_eoi ? 0x03 : 0x01); /* ICW4: 8086 mode (+ AEOI) */
	outb(p, SCMD, 0x11);
	outb(p, SDATA, 0x38);
	outb(p, SDATA, 2); /* ICW3: cascade identity */
	outb(p, SDATA, 0x01);
	outb(p, MDATA, mmask);
	outb(p, SDATA, smask);
}

static uint8_t read_isr(struct soft_platform *p, uint16_t cmd)
{
	outb(p, cmd, 0x0b);
	return inb(p, cmd);
}

static uint8_t read_irr(struct soft_platform *p, uint16_t cmd)
{
	outb(p, cmd, 0x0a);
	return inb(p, cmd);
}

static void pulse(struct soft_platform *p, unsigned irq)
{
	platform_set_irq(p, irq, 1);
	platform_set_irq(p, irq, 0);
}

static int setup(void **state)
{
	*state = fake_platform(2);
	return 0;
}

static int teardown(void **state)
{
	platform_destroy(*state);
	return 0;
}

static void test_probe_and_init(void **state)
{
	struct soft_platform *p = *state;
	/* probe_8259A: the IMR reads back what was written. */
	outb(p, MDATA, 0xff);
	assert_int_equal(inb(p, MDATA), 0xff);
	linux_init(p, 0, 0xfb, 0xff);
	assert_int_equal(inb(p, MDATA), 0xfb);
	assert_int_equal(inb(p, SDATA), 0xff);
	/* Masked lines are latched in IRR but do not interrupt. */
	take_kicks(0);
	pulse(p, 1);
	assert_int_equal(take_kicks(0), 0);
	assert_false(platform_intr_pending(p, 0));
	assert_int_equal(read_irr(p, MCMD), 0x02);
	/* Unmasking delivers the latched edge. */
	outb(p, MDATA, 0xf9);
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_true(platform_intr_pending(p, 0));
	assert_false(platform_intr_pending(p, 1)); /* only the BSP's LINT0 is wired */
	assert_int_equal(platform_intr_ack(p, 0), 0x31);
	assert_int_equal(read_isr(p, MCMD), 0x02);
	assert_int_equal(read_irr(p, MCMD), 0);
	assert_false(platform_intr_pending(p, 0));
	/* Specific EOI, as Linux's mask_and_ack_8259A. */
	outb(p, MCMD, 0x61);
	assert_int_equal(read_isr(p, MCMD), 0);
	/* The ports are the PIC's, even a 16-bit access. */
	uint16_t w = 0;
	assert_true(platform_pio(p, 0, MDATA - 1, &w, 2, false));
}

static void test_priority_and_nesting(void **state)
{
	struct soft_platform *p = *state;
	linux_init(p, 0, 0x00, 0xff);
	pulse(p, 3);
	assert_int_equal(platform_intr_ack(p, 0), 0x33);
	/* IRQ 5 (lower priority) waits for the EOI; IRQ 1 (higher) nests. */
	pulse(p, 5);
	assert_false(platform_intr_pending(p, 0));
	pulse(p, 1);
	assert_int_equal(platform_intr_ack(p, 0), 0x31);
	assert_int_equal(read_isr(p, MCMD), 0x0a);
	outb(p, MCMD, 0x20); /* non-specific EOI retires the highest: IRQ 1 */
	assert_int_equal(read_isr(p, MCMD), 0x08);
	assert_false(platform_intr_pending(p, 0));
	outb(p, MCMD, 0x20);
	assert_int_equal(platform_intr_ack(p, 0), 0x35);
	outb(p, MCMD, 0x20);
	/* Nothing pending: INTR is low, so the acknowledge is not the PIC's. */
	assert_int_equal(platform_intr_ack(p, 0), -1);
	assert_int_equal(read_isr(p, MCMD), 0);
	/* Rotation: "set priority" makes IRQ 4 the lowest, so IRQ 5 beats IRQ 3. */
	outb(p, MCMD, 0xc4);
	pulse(p, 3);
	pulse(p, 5);
	assert_int_equal(platform_intr_ack(p, 0), 0x35);
}

static void test_cascade(void **state)
{
	struct soft_platform *p = *state;
	linux_init(p, 0, 0xfb, 0xef); /* IRQ 2 and 12 unmasked */
	pulse(p, 12);
	assert_true(platform_intr_pending(p, 0));
	assert_int_equal(platform_intr_ack(p, 0), 0x3c);
	assert_int_equal(read_isr(p, SCMD), 0x10);
	assert_int_equal(read_isr(p, MCMD), 0x04);
	/* EOI to the slave, then the cascade on the master, as Linux does. */
	outb(p, SCMD, 0x64);
	outb(p, MCMD, 0x62);
	assert_int_equal(read_isr(p, SCMD), 0);
	assert_int_equal(read_isr(p, MCMD), 0);
	/* A GSI 2 does not reach the PIC's cascade input. */
	pulse(p, 2);
	assert_false(platform_intr_pending(p, 0));
}

static void test_auto_eoi_and_poll(void **state)
{
	struct soft_platform *p = *state;
	linux_init(p, 1, 0x00, 0xff);
	pulse(p, 4);
	assert_int_equal(platform_intr_ack(p, 0), 0x34);
	assert_int_equal(read_isr(p, MCMD), 0);
	/* Poll command: the next read acknowledges the highest request. */
	pulse(p, 6);
	outb(p, MCMD, 0x0c);
	assert_int_equal(inb(p, MCMD), 0x86);
	assert_int_equal(read_irr(p, MCMD), 0);
}

static void test_elcr_level(void **state)
{
	struct soft_platform *p = *state;
	outb(p, 0x4d0, 0xff);
	assert_int_equal(inb(p, 0x4d0), 0xf8);
	outb(p, 0x4d1, 0xff);
	assert_int_equal(inb(p, 0x4d1), 0xde);
	outb(p, 0x4d0, 0x00);
	outb(p, 0x4d1, 0x04); /* IRQ 10 level */
	linux_init(p, 0, 0xfb, 0xfb);
	platform_set_irq(p, 10, 1);
	assert_int_equal(platform_intr_ack(p, 0), 0x3a);
	outb(p, SCMD, 0x20);
	outb(p, MCMD, 0x20);
	/* Still asserted: interrupts again after the EOIs. */
	assert_int_equal(platform_intr_ack(p, 0), 0x3a);
	outb(p, SCMD, 0x20);
	outb(p, MCMD, 0x20);
	platform_set_irq(p, 10, 0);
	assert_false(platform_intr_pending(p, 0));
	assert_int_equal(read_irr(p, SCMD), 0);
}

static void test_lint0_masked(void **state)
{
	struct soft_platform *p = *state;
	linux_init(p, 0, 0x00, 0xff);
	/* Linux masks LINT0 once the IOAPIC is in charge. */
	lapic_enable(p, 0);
	lapic_write(p, 0, 0x350, 0x10700);
	pulse(p, 1);
	assert_false(platform_intr_pending(p, 0));
	assert_int_equal(platform_intr_ack(p, 0), -1);
	/* A hardware-disabled local APIC passes INTR straight through. */
	assert_int_equal(platform_wrmsr(p, 0, 0x1b, 0xfee00100), 0);
	assert_int_equal(platform_intr_ack(p, 0), 0x31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_probe_and_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_and_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_eoi_and_poll, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lint0_masked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
