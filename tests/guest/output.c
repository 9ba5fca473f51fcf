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
 * Lines go out 64 at a time from page-aligned 4 KiB buffers, one `rep outsb`
 * each (KVM: one exit per page). The letters repeat every 13 buffers
 * (13 * 64 = 832 = 32 * 26 lines), so 13 buffers are filled once and then
 * only each line's 8 digits are stored: ~10 instructions a line, <300k in all.
 */
#include "guest.h"

#define OUT_LINES     16384
#define LINE_LEN      64
#define TAIL_LEN      56 /* ' ' + 54 letters + '\n' */
#define CHUNK         4096
#define CHUNK_LINES   (CHUNK / LINE_LEN)
#define PERIOD_CHUNKS 13

static uint64_t chunks[PERIOD_CHUNKS][CHUNK / 8]
    __attribute__((section(".bss.noclear"), aligned(4096)));

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
	uint64_t tails[26][TAIL_LEN / 8]; /* bytes 8..63 of a line, per starting letter */

	for (unsigned l = 0; l < 26; l++) {
		char t[TAIL_LEN];
		t[0] = ' ';
		for (unsigned k = 0; k < 54; k++)
			t[1 + k] = (char)('a' + (l + k) % 26);
		t[TAIL_LEN - 1] = '\n';
		__builtin_memcpy(tails[l], t, TAIL_LEN);
	}
	for (unsigned line = 0; line < PERIOD_CHUNKS * CHUNK_LINES; line++) {
		uint64_t *q = &chunks[line / CHUNK_LINES][(line % CHUNK_LINES) * 8];
		for (unsigned k = 0; k < TAIL_LEN / 8; k++)
			q[1 + k] = tails[line % 26][k];
	}

	uart_puts("EMBER-OUTPUT-BEGIN\n");
	uint64_t digits = 0x3030303030303030ULL; /* "00000000" */
	unsigned c = 0;
	for (unsigned line = 0; line < OUT_LINES; line += CHUNK_LINES) {
		uint64_t *q = chunks[c];
		for (unsigned k = 0; k < CHUNK_LINES; k++) {
			q[k * 8] = digits;
			digits = digits_increment(digits);
		}
		uart_write(q, CHUNK);
		c = c == PERIOD_CHUNKS - 1 ? 0 : c + 1;
	}
	uart_puts("EMBER-OUTPUT-END\n");
}
