/* Unit tests for the i8042 keyboard controller (src/devices/legacy/i8042.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/i8042.h"

#include "fakes.h"

enum { DATA = 0, CMD = 4 };

struct fixture {
	struct fake_vm vm;
	struct fake_irq irq;
	struct i8042 *dev;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vm_control ctl = fake_vm_control(&f->vm);
	struct irq_line irq = fake_irq_line(&f->irq, 1);
	f->dev = i8042_create(&ctl, &irq);
	assert_non_null(f->dev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	i8042_destroy(f->dev);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, uint64_t off)
{
	uint8_t v = 0;
	i8042_access(f->dev, off, &v, 1, false);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint8_t v)
{
	i8042_access(f->dev, off, &v, 1, true);
}

/* Sends a controller command and returns its reply, checking OBF around it. */
static uint8_t command(struct fixture *f, uint8_t cmd)
{
	wr(f, CMD, cmd);
	assert_int_equal(rd(f, CMD) & 0x03, 0x01); /* OBF, never IBF */
	uint8_t v = rd(f, DATA);
	assert_int_equal(rd(f, CMD) & 0x01, 0);
	return v;
}

static void test_self_test(void **state)
{
	struct fixture *f = *state;
	uint8_t st = rd(f, CMD);
	assert_int_equal(st & 0x01, 0);
	assert_int_equal(st & 0x04, 0x04);
	assert_int_equal(command(f, 0xaa), 0x55);
	assert_int_equal(rd(f, CMD) & 0x0c, 0x0c); /* system flag, last write a command */
	assert_int_equal(command(f, 0xab), 0x00);
	assert_int_not_equal(command(f, 0xa9), 0x00); /* no aux port */
	assert_int_equal(f->vm.requests, 0);
}

static void test_command_byte(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(command(f, 0x20), 0x45);
	wr(f, CMD, 0x60);
	wr(f, DATA, 0x74);
	assert_int_equal(rd(f, CMD) & 0x08, 0); /* the last write was data */
	assert_int_equal(command(f, 0x20), 0x74);

	/* Port disable/enable bits as Linux's bit-assignment test expects. */
	wr(f, CMD, 0xa8);
	wr(f, CMD, 0xae);
	assert_int_equal(command(f, 0x20) & 0x30, 0x00);
	wr(f, CMD, 0xa7);
	assert_int_equal(command(f, 0x20) & 0x30, 0x20);
	wr(f, CMD, 0xad);
	assert_int_equal(command(f, 0x20) & 0x30, 0x30);

	/* The other RAM bytes round-trip too. */
	wr(f, CMD, 0x7f);
	wr(f, DATA, 0x99);
	assert_int_equal(command(f, 0x3f), 0x99);

	/* A new command cancels a pending data byte. */
	wr(f, CMD, 0x60);
	wr(f, CMD, 0xae);
	wr(f, DATA, 0x00); /* so this byte goes to the keyboard, which asks to resend */
	assert_int_equal(rd(f, DATA), 0xfe);
	assert_int_equal(command(f, 0x20), 0x64);
}

static void test_irq1(void **state)
{
	struct fixture *f = *state;
	/* Interrupts on (default command byte): a reply raises IRQ1, reading drops it. */
	wr(f, CMD, 0xaa);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, DATA), 0x55);
	assert_int_equal(f->irq.level, 0);
	/* Status reads do not touch the buffer. */
	wr(f, CMD, 0xab);
	rd(f, CMD);
	assert_int_equal(f->irq.level, 1);
	/* Clearing KBDINT drops the line even with OBF set... */
	wr(f, CMD, 0x60);
	wr(f, DATA, 0x44);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, CMD) & 0x01, 1);
	/* ...and setting it with OBF set raises it. */
	wr(f, CMD, 0x60);
	wr(f, DATA, 0x45);
	assert_int_equal(f->irq.level, 1);
	rd(f, DATA);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.calls, 6);
}

static void test_output_port(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(command(f, 0xd0) & 0x03, 0x03);
	/* A20 gate on via 0xd1 (bit 0 set): no reset. */
	wr(f, CMD, 0xd1);
	wr(f, DATA, 0xdf);
	assert_int_equal(f->vm.requests, 0);
	assert_int_equal(command(f, 0xd0) & 0x03, 0x03);
	/* 0xd2/0xd3 echo into the output buffer; 0xd3 without the aux bit. */
	wr(f, CMD, 0xd2);
	wr(f, DATA, 0x12);
	assert_int_equal(rd(f, CMD) & 0x21, 0x01);
	assert_int_equal(rd(f, DATA), 0x12);
	wr(f, CMD, 0xd3);
	wr(f, DATA, 0x5a);
	assert_int_equal(rd(f, CMD) & 0x21, 0x01);
	assert_int_equal(rd(f, DATA), 0x5a);
	/* 0xd4: bytes for the absent aux device get no answer. */
	wr(f, CMD, 0xd4);
	wr(f, DATA, 0xf4);
	assert_int_equal(rd(f, CMD) & 0x01, 0);
	assert_int_equal(f->vm.requests, 0);
}

/* Reads every byte the keyboard has queued (at most max) into out. */
static unsigned drain(struct fixture *f, uint8_t *out, unsigned max)
{
	unsigned n = 0;
	while (n < max && (rd(f, CMD) & 0x01))
		out[n++] = rd(f, DATA);
	return n;
}

static void test_keyboard_commands(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8];
	wr(f, DATA, 0xff); /* reset: ACK, self-test passed */
	assert_int_equal(drain(f, b, 8), 2);
	assert_int_equal(b[0], 0xfa);
	assert_int_equal(b[1], 0xaa);
	wr(f, DATA, 0xf2); /* identify: ACK, MF2 keyboard */
	assert_int_equal(drain(f, b, 8), 3);
	assert_memory_equal(b, ((uint8_t[]){0xfa, 0xab, 0x83}), 3);
	wr(f, DATA, 0xed); /* LEDs take an argument, each byte ACKed */
	wr(f, DATA, 0x07);
	assert_int_equal(drain(f, b, 8), 2);
	assert_memory_equal(b, ((uint8_t[]){0xfa, 0xfa}), 2);
	wr(f, DATA, 0xf0); /* scan-code set query */
	wr(f, DATA, 0x00);
	assert_int_equal(drain(f, b, 8), 3);
	assert_memory_equal(b, ((uint8_t[]){0xfa, 0xfa, 0x02}), 3);
	wr(f, DATA, 0xee); /* echo */
	assert_int_equal(drain(f, b, 8), 1);
	assert_int_equal(b[0], 0xee);
	wr(f, DATA, 0x42); /* not a command: resend */
	assert_int_equal(drain(f, b, 8), 1);
	assert_int_equal(b[0], 0xfe);
	/* IRQ1 follows the output buffer while the keyboard interrupt is on. */
	wr(f, DATA, 0xf4);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, DATA), 0xfa);
	assert_int_equal(f->irq.level, 0);
}

static void test_ctrl_alt_del(void **state)
{
	struct fixture *f = *state;
	uint8_t b[32];
	/* Translation on (the default command byte): set 1 codes. */
	assert_int_equal(i8042_send_ctrl_alt_del(f->dev), 0);
	assert_int_equal(f->irq.level, 1);
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	assert_int_equal(drain(f, b, 32), sizeof(set1));
	assert_memory_equal(b, set1, sizeof(set1));
	/* Translation off: set 2 codes with 0xf0 break prefixes. */
	wr(f, CMD, 0x60);
	wr(f, DATA, 0x05);
	assert_int_equal(i8042_send_ctrl_alt_del(f->dev), 0);
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11,
	                               0xf0, 0x14};
	assert_int_equal(drain(f, b, 32), sizeof(set2));
	assert_memory_equal(b, set2, sizeof(set2));
	/* A disabled keyboard (0xf5) cannot type. */
	wr(f, DATA, 0xf5);
	drain(f, b, 32);
	assert_int_equal(i8042_send_ctrl_alt_del(f->dev), -EBUSY);
	/* Keys wait while the keyboard port is disabled by the controller. */
	wr(f, DATA, 0xf4);
	drain(f, b, 32);
	wr(f, CMD, 0xad);
	assert_int_equal(i8042_send_ctrl_alt_del(f->dev), 0);
	assert_int_equal(rd(f, CMD) & 0x01, 0);
	wr(f, CMD, 0xae);
	wr(f, CMD, 0x20); /* any access refills the output buffer; this one answers */
	assert_int_equal(rd(f, DATA), 0x05); /* the reply comes first, the keys wait */
	assert_int_equal(drain(f, b, 32), sizeof(set2));
}

static void test_reset_pulse(void **state)
{
	struct fixture *f = *state;
	wr(f, CMD, 0xff); /* pulses nothing */
	wr(f, CMD, 0xf1); /* pulses bits 1-3 only */
	assert_int_equal(f->vm.requests, 0);
	wr(f, CMD, 0xfe);
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_RESET);
}

static void test_reset_outport(void **state)
{
	struct fixture *f = *state;
	wr(f, CMD, 0xd1);
	wr(f, DATA, 0xfe);
	assert_int_equal(f->vm.requests, 1);
	assert_int_equal(f->vm.reason, VM_STOP_RESET);
	/* The controller keeps working; the reset line reads inactive. */
	assert_int_equal(command(f, 0xd0) & 0x01, 0x01);
}

static void test_other_ports(void **state)
{
	struct fixture *f = *state;
	for (uint64_t off = 1; off < 4; off++) {
		wr(f, off, 0xfe);
		assert_int_equal(rd(f, off), 0xff);
	}
	uint8_t v[4] = {0xaa, 0, 0, 0};
	i8042_access(f->dev, CMD, v, 2, true); /* low byte: self-test */
	memset(v, 0, sizeof(v));
	i8042_access(f->dev, DATA, v, 4, false);
	assert_int_equal(v[0], 0x55);
	assert_int_equal(v[1], 0xff);
	assert_int_equal(v[3], 0xff);
	assert_int_equal(f->vm.requests, 0);
}

static void test_garbage(void **state)
{
	struct fixture *f = *state;
	srand(42);
	for (int i = 0; i < 100000; i++) {
		uint8_t v[8];
		for (size_t j = 0; j < sizeof(v); j++)
			v[j] = (uint8_t)rand();
		static const uint32_t sizes[] = {1, 2, 4, 8};
		i8042_access(f->dev, (uint64_t)(rand() % 6), v, sizes[rand() % 4], rand() & 1);
	}
	/* Only reset requests can come out of it. */
	assert_true(f->vm.reason == VM_STOP_NONE || f->vm.reason == VM_STOP_RESET);
	i8042_destroy(NULL);
}

static void test_no_irq_no_ctl(void **state)
{
	struct i8042 *dev = i8042_create(NULL, NULL);
	assert_non_null(dev);
	uint8_t v = 0xfe;
	i8042_access(dev, CMD, &v, 1, true);
	v = 0xaa;
	i8042_access(dev, CMD, &v, 1, true);
	i8042_access(dev, DATA, &v, 1, false);
	assert_int_equal(v, 0x55);
	i8042_destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_self_test, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_pulse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_outport, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del, setup, teardown),
	    cmocka_unit_test(test_no_irq_no_ctl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
