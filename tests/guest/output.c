/*
 * UART output tests.
 *
 * `uart`: one line, the path every other line takes too.
 *
 * `output` (ember.test=output, not part of `all`): exactly 1 MiB between
 *
 *     EMBER-OUTPUT-BEGIN\n
 *     <16384 lines of 64 bytes>
 *     EMBER-OUTPUT-END\n
 *
 * Line i (0-based) is: i as 8-digit zero-padded decimal, one space, 54
 * letters a-z cycling and starting at letter i % 26, then '\n'
 * (8 + 1 + 54 + 1 = 64 bytes). In Python:
 *
 *     alpha = "abcdefghijklmnopqrstuvwxyz"
 *     line = lambda i: "%08d " % i + "".join(alpha[(i + k) % 26] for k in range(54)) + "\n"
 *     data = "".join(line(i) for i in range(16384))   # len(data) == 1048576
 *
 * Lines are built 64 at a time in a page-aligned 4 KiB buffer and sent with
 * one `rep outsb` each (KVM: one exit per page), about 25 instructions a line.
 */
#include "guest.h"

#define OUT_LINES 16384
#define LINE_LEN 64
#define TAIL_LEN 56 /* ' ' + 54 letters + '\n' */
#define CHUNK 4096

static uint64_t chunk[CHUNK / 8] __attribute__((section(".bss.noclear"), aligned(4096)));
/* Bytes 8..63 of a line, for each starting letter. */
static uint64_t tails[26][TAIL_LEN / 8] __attribute__((section(".bss.noclear")));

void test_uart(const struct boot_info *bi)
{
	report("uart", true, "path=%s", boot_path_name(bi->path));
}

/* "00000000" as a little-endian qword: byte 0 is the most significant digit. */
static uint64_t digits_increment(uint64_t d)
{
	for (int byte = 7; byte >= 0; byte--) {
		unsigned shift = (unsigned)byte * 8;
		if (((d >> shift) & 0xff) != '9')
			return d + (1ULL << shift);
		d = (d & ~(0xffULL << shift)) | ((uint64_t)'0' << shift);
	}
	return d;
}

void test_output(void)
{
	for (unsigned s = 0; s < 26; s++) {
		char t[TAIL_LEN];
		t[0] = ' ';
		for (unsigned k = 0; k < 54; k++)
			t[1 + k] = (char)('a' + (s + k) % 26);
		t[TAIL_LEN - 1] = '\n';
		__builtin_memcpy(tails[s], t, TAIL_LEN);
	}

	uart_puts("EMBER-OUTPUT-BEGIN\n");
	uint64_t digits = 0x3030303030303030ULL; /* "00000000" */
	unsigned letter = 0;
	for (unsigned line = 0; line < OUT_LINES;) {
		uint64_t *q = chunk;
		for (unsigned k = 0; k < CHUNK / LINE_LEN; k++, line++, q += 8) {
			const uint64_t *t = tails[letter];
			q[0] = digits;
			q[1] = t[0];
			q[2] = t[1];
			q[3] = t[2];
			q[4] = t[3];
			q[5] = t[4];
			q[6] = t[5];
			q[7] = t[6];
			digits = digits_increment(digits);
			letter = letter == 25 ? 0 : letter + 1;
		}
		uart_write(chunk, CHUNK);
	}
	uart_puts("EMBER-OUTPUT-END\n");
}
