/*
 * Tests that measure or exercise the host rather than check boot state:
 *   spin  a ring-0 loop of about 2 million instructions: the host times it
 *         to tell hardware-speed KVM from an emulated one (kvm_speed.py);
 *   pio   ember.count=N port writes to the UART scratch register, one VM
 *         exit each: the benchmark's exit round-trip cost through the bus;
 *   echo  reads one line from the UART (polling LSR.DR) and prints it back,
 *         so the host input path (stdin -> console -> UART FIFO) is tested.
 */
#include "guest.h"

#define SPIN_ITERATIONS 1000000u
#define UART_SCR (LAYOUT_COM1_PORT + 7)
#define UART_LSR (LAYOUT_COM1_PORT + 5)
#define UART_LSR_DR 0x01

void test_spin(void)
{
	unsigned n = SPIN_ITERATIONS;
	/* dec + jnz: two instructions per iteration, nothing the compiler can fold. */
	__asm__ volatile("1: dec %0; jnz 1b" : "+r"(n));
	report("spin", n == 0, "iterations=%u", SPIN_ITERATIONS);
}

void test_pio(const struct boot_info *bi)
{
	uint64_t count = 100000;
	size_t len;
	const char *v = cmdline_get(bi->cmdline, "ember.count", &len);
	if (v && !parse_u64(v, len, 10, &count)) {
		report("pio", false, "bad ember.count");
		return;
	}
	for (uint64_t i = 0; i < count; i++)
		outb(UART_SCR, (uint8_t)i);
	report("pio", true, "count=%llu", (unsigned long long)count);
}

void test_echo(void)
{
	char line[128];
	size_t n = 0;
	uart_puts("EMBER-ECHO ready\n");
	/* Bounded: each LSR read is one exit; about 20 s on the slowest KVM. */
	for (unsigned polls = 0; polls < 2000000 && n < sizeof(line) - 1; polls++) {
		if (!(inb(UART_LSR) & UART_LSR_DR))
			continue;
		char c = (char)inb(LAYOUT_COM1_PORT);
		if (c == '\r' || c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	report("echo", n > 0, "%s", n ? line : "no input");
}
