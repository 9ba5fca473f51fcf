/* Unit tests for the 16550A UART (src/devices/legacy/serial.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/legacy/serial.h"

#include "fakes.h"

/* Register offsets and bits, spelled out so the tests read like the datasheet. */
enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct fixture {
	struct fake_irq irq;
	struct serial *uart;
	int rfd, wfd; /* the output pipe; rfd is non-blocking */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	f->rfd = fds[0];
	f->wfd = fds[1];
	assert_int_equal(fcntl(f->rfd, F_SETFL, O_NONBLOCK), 0);
	/* A stack temporary: serial_create must copy it. */
	struct irq_line line = fake_irq_line(&f->irq, 4);
	f->uart = serial_create(&line, f->wfd);
	assert_non_null(f->uart);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	serial_destroy(f->uart);
	close(f->rfd);
	close(f->wfd);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, uint64_t off)
{
	uint8_t v = 0;
	serial_access(f->uart, off, &v, 1, false);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint8_t v)
{
	serial_access(f->uart, off, &v, 1, true);
}

/* Reads what is in the pipe right now (non-blocking); returns the count. */
static size_t drain(struct fixture *f, uint8_t *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(f->rfd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Roughly what Linux's 8250 autoconfig and startup do. */
static void test_linux_init(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[16];

	/* IER probe: the low nibble holds what is written, nothing else sticks. */
	wr(f, IER, 0);
	assert_int_equal(rd(f, IER) & 0x0f, 0);
	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IER), 0x0f);
	wr(f, IER, 0x4f); /* UART_IER_UUE must not stick on a 16550A */
	assert_int_equal(rd(f, IER), 0x0f);
	wr(f, IER, 0);

	/* Loopback test: MCR = LOOP | OUT2 | RTS must read MSR[7:4] == 0x9. */
	wr(f, MCR, 0x1a);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90);
	wr(f, MCR, 0);

	/* FIFO detection: IIR[7:6] == 3 means 16550A; bit 5 (64-byte FIFO) clear. */
	wr(f, LCR, 0xbf);
	assert_int_not_equal(rd(f, IIR), 0); /* no EFR on a 16550A */
	wr(f, LCR, 0);
	wr(f, IIR, 0x01);
	assert_int_equal(rd(f, IIR) >> 6, 3);
	assert_int_equal(rd(f, IIR) & 0x20, 0);
	assert_int_equal(rd(f, IIR), 0xc1);

	/* Baud rate through the divisor latch, then 8N1. */
	wr(f, LCR, 0x83);
	wr(f, RBR, 0x01);
	wr(f, IER, 0x00);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	wr(f, IIR, 0x07);
	wr(f, MCR, 0x0b); /* DTR | RTS | OUT2 */
	assert_int_equal(rd(f, MCR), 0x0b);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xb0);
	assert_int_equal(rd(f, IIR), 0xc1);

	/* serial8250_do_startup's THRE re-assertion test must not find UART_BUG_THRE. */
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, IIR), 0xc2);
	wr(f, IER, 0);
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, IIR), 0xc2);
	wr(f, IER, 0);

	/* Scratch register. */
	wr(f, SCR, 0x5a);
	assert_int_equal(rd(f, SCR), 0x5a);

	/* Nothing of the above reached the output. */
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
}

static void test_output_in_order(void **state)
{
	struct fixture *f = *state;
	const char *msg = "hello, 16550A\n";
	uint8_t buf[64];
	for (size_t i = 0; i < strlen(msg); i++)
		wr(f, RBR, (uint8_t)msg[i]);
	assert_int_equal(drain(f, buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	assert_int_equal(serial_tx_errors(f->uart), 0);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x08);
	assert_int_equal(f->irq.level, 0);

	/* ETBEI 0 -> 1 with THR empty raises THRE. */
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(f->irq.gsi, 4);
	/* Reading IIR reports and clears it. */
	assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
	/* Rewriting ETBEI while set does not re-raise. */
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 0);
	/* A THR write re-raises it once the (instant) transmitter empties. */
	wr(f, RBR, 'x');
	assert_int_equal(f->irq.level, 1);
	/* A burst of writes keeps it pending: one rising edge only. */
	int calls = f->irq.calls;
	for (int i = 0; i < 16; i++)
		wr(f, RBR, 'y');
	assert_int_equal(f->irq.calls, calls);
	assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
	assert_int_equal(f->irq.level, 0);
	/* Disabling ETBEI masks it; toggling it on kicks it again. */
	wr(f, RBR, 'z');
	assert_int_equal(f->irq.level, 1);
	wr(f, IER, 0);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
	wr(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
}

static void test_iir_priority(void **state)
{
	struct fixture *f = *state;
	wr(f, IIR, 0x01);
	wr(f, MCR, 0x08);
	wr(f, IER, 0x0f);
	const uint8_t in[2] = {'a', 'b'};
	assert_int_equal(serial_receive(f->uart, in, 2), 2);
	assert_int_equal(f->irq.level, 1);

	/* Received data outranks THRE; reading IIR then does not clear THRE. */
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, RBR), 'b');
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR), 0xc1);

	/* Line status (an overrun, made in loopback) outranks received data. */
	wr(f, MCR, 0x10);
	for (int i = 0; i < 4097; i++)
		wr(f, RBR, (uint8_t)i);
	rd(f, MSR);
	assert_int_equal(rd(f, IIR), 0xc6);
	assert_int_equal(rd(f, LSR) & 0x03, 0x03);
	assert_int_equal(rd(f, IIR), 0xc4);

	/* Modem status comes last. */
	wr(f, IIR, 0x03); /* drops the received bytes */
	wr(f, IER, 0x08);
	wr(f, MCR, 0x11); /* DTR -> DSR changes */
	assert_int_equal(rd(f, IIR), 0xc0);
	assert_int_equal(rd(f, MSR), 0x20 | 0x02);
	assert_int_equal(rd(f, IIR), 0xc1);
}

static void test_lsr_bits(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, LSR), 0x60);
	const uint8_t c = 'q';
	serial_receive(f->uart, &c, 1);
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(rd(f, RBR), 'q');
	assert_int_equal(rd(f, LSR), 0x60);
	/* Reading an empty RBR is harmless. */
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(rd(f, LSR), 0x60);
	/* Writes to LSR and MSR are ignored. */
	wr(f, LSR, 0xff);
	wr(f, MSR, 0xff);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, MSR), 0xb0);
}

static void test_rx_ring(void **state)
{
	struct fixture *f = *state;
	size_t big = 5000;
	uint8_t *in = malloc(big);
	assert_non_null(in);
	for (size_t i = 0; i < big; i++)
		in[i] = (uint8_t)(i * 7 + 3);

	wr(f, MCR, 0x08);
	wr(f, IER, 0x01);
	assert_int_equal(serial_rx_space(f->uart), 4096);
	size_t took = serial_receive(f->uart, in, big);
	assert_int_equal(took, 4096);
	assert_int_equal(serial_rx_space(f->uart), 0);
	assert_int_equal(serial_receive(f->uart, in + took, big - took), 0);
	assert_int_equal(f->irq.level, 1);

	for (size_t i = 0; i < 10; i++)
		assert_int_equal(rd(f, RBR), in[i]);
	assert_int_equal(serial_rx_space(f->uart), 10);
	/* The ring wraps: the refused tail goes in now, in order. */
	assert_int_equal(serial_receive(f->uart, in + took, 10), 10);
	for (size_t i = 10; i < took + 10; i++) {
		assert_int_equal(rd(f, LSR) & 0x01, 1);
		assert_int_equal(rd(f, RBR), in[i]);
	}
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
	free(in);
}

static void test_fifo_reset(void **state)
{
	struct fixture *f = *state;
	wr(f, IIR, 0x01);
	const uint8_t in[3] = {1, 2, 3};
	serial_receive(f->uart, in, 3);
	wr(f, IIR, 0x03); /* RCVR FIFO reset */
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(serial_rx_space(f->uart), 4096);
	serial_receive(f->uart, in, 3);
	wr(f, IIR, 0x00); /* disabling the FIFOs empties them too */
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(rd(f, IIR), 0x01);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];
	wr(f, MCR, 0x10);
	wr(f, RBR, 0xa5);
	wr(f, RBR, 0x5a);
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
	assert_int_equal(rd(f, LSR) & 0x01, 1);
	assert_int_equal(rd(f, RBR), 0xa5);
	assert_int_equal(rd(f, RBR), 0x5a);
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	/* Host input is lost while the receiver is looped back. */
	const uint8_t c = 'h';
	assert_int_equal(serial_receive(f->uart, &c, 1), 1);
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	/* MSR mirrors MCR: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	rd(f, MSR);
	wr(f, MCR, 0x11);
	assert_int_equal(rd(f, MSR), 0x20 | 0x02);
	wr(f, MCR, 0x12);
	assert_int_equal(rd(f, MSR), 0x10 | 0x01 | 0x02);
	wr(f, MCR, 0x14);
	assert_int_equal(rd(f, MSR), 0x40 | 0x01);
	wr(f, MCR, 0x18);
	assert_int_equal(rd(f, MSR), 0x80 | 0x08 | 0x04); /* RI fell: TERI */
	assert_int_equal(rd(f, MSR), 0x80);
	wr(f, MCR, 0x1f);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xf0);

	/* Leaving loopback: the fixed modem inputs again, output flows. */
	wr(f, MCR, 0x0b);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xb0);
	wr(f, RBR, 'o');
	assert_int_equal(drain(f, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'o');
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *f = *state;
	wr(f, IER, 0x01);
	const uint8_t c = 'k';
	serial_receive(f->uart, &c, 1);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.calls, 0);
	assert_int_equal(rd(f, IIR) & 0x0f, 0x04); /* pending, just not wired */
	wr(f, MCR, 0x08);
	assert_int_equal(f->irq.level, 1);
	wr(f, MCR, 0x03);
	assert_int_equal(f->irq.level, 0);
	wr(f, MCR, 0x18); /* loopback forces OUT2 inactive */
	assert_int_equal(f->irq.level, 0);
	wr(f, MCR, 0x08);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(rd(f, RBR), 'k');
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.calls, 4);
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];
	wr(f, IER, 0x05);
	wr(f, LCR, 0x80);
	wr(f, RBR, 0x0c);
	wr(f, IER, 0x34);
	assert_int_equal(rd(f, RBR), 0x0c);
	assert_int_equal(rd(f, IER), 0x34);
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, IER), 0x05);
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, RBR), 0x0c);
	assert_int_equal(rd(f, IER), 0x34);
}

static void test_wide_access(void **state)
{
	struct fixture *f = *state;
	uint8_t v[4] = {0x42, 0x99, 0x99, 0x99};
	serial_access(f->uart, SCR, v, 4, true);
	memset(v, 0, sizeof(v));
	serial_access(f->uart, SCR, v, 2, false);
	assert_int_equal(v[0], 0x42);
	assert_int_equal(v[1], 0xff);
	serial_access(f->uart, SCR, v, 4, false);
	assert_int_equal(v[3], 0xff);
	/* Out-of-range offsets and zero sizes are tolerated. */
	serial_access(f->uart, 8, v, 1, false);
	assert_int_equal(v[0], 0xff);
	serial_access(f->uart, 100, v, 1, true);
	serial_access(f->uart, 0, v, 0, true);
}

static void test_garbage(void **state)
{
	struct fake_irq irq = {0};
	struct irq_line line = {.set = fake_irq_set, .ctx = &irq};
	struct serial *s = serial_create(&line, -1);
	assert_non_null(s);
	srand(1234);
	for (int i = 0; i < 200000; i++) {
		uint8_t v[8];
		for (size_t j = 0; j < sizeof(v); j++)
			v[j] = (uint8_t)rand();
		static const uint32_t sizes[] = {1, 2, 4, 8};
		serial_access(s, (uint64_t)(rand() % 9), v, sizes[rand() % 4], rand() & 1);
		if (i % 97 == 0)
			serial_receive(s, v, sizeof(v));
	}
	serial_destroy(s);
	serial_destroy(NULL);
}

struct reader {
	int fd;
	uint8_t *buf;
	size_t len, got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (r->got < r->len) {
		ssize_t n = read(r->fd, r->buf + r->got, r->len - r->got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void test_one_mib_intact(void **state)
{
	struct fixture *f = *state;
	const size_t len = 1u << 20;
	uint8_t *out = malloc(len);
	struct reader r = {.fd = f->rfd, .buf = malloc(len), .len = len};
	assert_non_null(out);
	assert_non_null(r.buf);
	assert_int_equal(fcntl(f->rfd, F_SETFL, 0), 0); /* the reader blocks */
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)((i * 131) ^ (i >> 9));

	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	wr(f, MCR, 0x0b);
	wr(f, IER, 0x02);
	for (size_t i = 0; i < len; i++)
		wr(f, RBR, out[i]);
	pthread_join(t, NULL);
	assert_int_equal(r.got, len);
	assert_memory_equal(r.buf, out, len);
	assert_int_equal(serial_tx_errors(f->uart), 0);
	free(r.buf);
	free(out);
}

struct producer {
	struct serial *uart;
	size_t len;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	size_t sent = 0;
	while (sent < p->len) {
		uint8_t chunk[64];
		size_t n = p->len - sent < sizeof(chunk) ? p->len - sent : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)(sent + i);
		size_t took = serial_receive(p->uart, chunk, n);
		sent += took;
		if (!took)
			sched_yield();
	}
	return NULL;
}

/* The VMM thread feeds input while a vCPU drains it: order survives. */
static void test_concurrent_rx(void **state)
{
	struct fixture *f = *state;
	struct producer p = {.uart = f->uart, .len = 200000};
	pthread_t t;
	wr(f, MCR, 0x08);
	wr(f, IER, 0x01);
	assert_int_equal(pthread_create(&t, NULL, producer_main, &p), 0);
	for (size_t got = 0; got < p.len;) {
		if (!(rd(f, LSR) & 0x01)) {
			sched_yield();
			continue;
		}
		assert_int_equal(rd(f, RBR), (uint8_t)got);
		got++;
	}
	pthread_join(t, NULL);
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(f->irq.level, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_linux_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lsr_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_ring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out2_gates_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test_setup_teardown(test_one_mib_intact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_rx, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
