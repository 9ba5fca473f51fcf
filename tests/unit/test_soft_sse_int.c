/*
 * Unit tests of the software CPU's SSE/SSE2/SSSE3/SSE4.1 integer and
 * data-movement family (src/accel/soft/sse_*.c, ssse3_sse41.c, sse41_mov.c): small
 * programs run through user_mem + cpu_run. Expected register values were
 * taken from the instructions run natively on the AMD development host;
 * the differential harness (tests/softcpu) covers the forms exhaustively,
 * these are the idioms glibc depends on and the faults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"
#include "accel/soft/flags.h"

#include "test_soft_env.h"

static const union cpu_xmm xa = {.u64 = {0x0123456789abcdefULL, 0xfedcba9876543210ULL}};
static const union cpu_xmm xb = {.u64 = {0x8000ffff7fff0001ULL, 0x0f0e0d0c8b8a0988ULL}};

/* ---- one instruction on xmm1 = xa, xmm2 = xb: the result in xmm1 ---- */

struct xcase {
	const char *name;
	uint8_t code[8];
	size_t len;
	uint64_t want[2];
};

/* clang-format off */
#define XC(name, w0, w1, ...) \
	{name, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), {w0, w1}}
/* clang-format on */

static const struct xcase xcases[] = {
    XC("movss xmm1, xmm2", 0x012345677fff0001ULL, 0xfedcba9876543210ULL, 0xf3, 0x0f, 0x10, 0xca),
    XC("movsd xmm1, xmm2", 0x8000ffff7fff0001ULL, 0xfedcba9876543210ULL, 0xf2, 0x0f, 0x10, 0xca),
    XC("pshufd xmm1, xmm2, 0x1b", 0x8b8a09880f0e0d0cULL, 0x7fff00018000ffffULL, 0x66, 0x0f, 0x70,
       0xca, 0x1b),
    XC("pshufb xmm1, xmm2", 0x00ef0000fe00efcdULL, 0xfedcba9800003200ULL, 0x66, 0x0f, 0x38, 0x00,
       0xca),
    XC("palignr xmm1, xmm2, 5", 0x0c8b8a09888000ffULL, 0x6789abcdef0f0e0dULL, 0x66, 0x0f, 0x3a,
       0x0f, 0xca, 0x05),
    XC("psrldq xmm1, 3", 0x5432100123456789ULL, 0x000000fedcba9876ULL, 0x66, 0x0f, 0x73, 0xd9,
       0x03),
    XC("packuswb xmm1, xmm2", 0x0000ffffffff0000ULL, 0xffff00ff0000ff01ULL, 0x66, 0x0f, 0x67, 0xca),
    XC("pmovzxbw xmm1, xmm2", 0x007f00ff00000001ULL, 0x0080000000ff00ffULL, 0x66, 0x0f, 0x38, 0x30,
       0xca),
    XC("pmovsxwd xmm1, xmm2", 0x00007fff00000001ULL, 0xffff8000ffffffffULL, 0x66, 0x0f, 0x38, 0x23,
       0xca),
    XC("punpcklbw xmm1, xmm2", 0x7f89ffab00cd01efULL, 0x80010023ff45ff67ULL, 0x66, 0x0f, 0x60,
       0xca),
    XC("psraw xmm1, 3", 0x002408acf135f9bdULL, 0xffdbf7530eca0642ULL, 0x66, 0x0f, 0x71, 0xe1, 0x03),
    XC("psllq xmm1, xmm2 (count > 63)", 0, 0, 0x66, 0x0f, 0xf3, 0xca),
    XC("pmaddwd xmm1, xmm2", 0xff6e3a99c4d5c444ULL, 0xfc654b28cc088dc8ULL, 0x66, 0x0f, 0xf5, 0xca),
    XC("phaddw xmm1, xmm2", 0xb974a864468a579aULL, 0x1c1a95127fff8000ULL, 0x66, 0x0f, 0x38, 0x01,
       0xca),
    XC("insertps xmm1, xmm2, 0x9a", 0x0000000089abcdefULL, 0x0000000076543210ULL, 0x66, 0x0f, 0x3a,
       0x21, 0xca, 0x9a),
    XC("pminsd xmm1, xmm2", 0x8000ffff89abcdefULL, 0xfedcba988b8a0988ULL, 0x66, 0x0f, 0x38, 0x39,
       0xca),
    XC("paddsw xmm1, xmm2", 0x8123456609aacdf0ULL, 0x0deac7a401de3b98ULL, 0x66, 0x0f, 0xed, 0xca),
    XC("psubusb xmm1, xmm2", 0x002300000a00cdeeULL, 0xefcead8c00002900ULL, 0x66, 0x0f, 0xd8, 0xca),
    XC("pavgb xmm1, xmm2", 0x4112a2b384d56778ULL, 0x87756452816f1e4cULL, 0x66, 0x0f, 0xe0, 0xca),
    XC("pmulhrsw xmm1, xmm2", 0xfeddffff89ac0000ULL, 0xffdef8ed945703baULL, 0x66, 0x0f, 0x38, 0x0b,
       0xca),
    XC("psignw xmm1, xmm2", 0xfeddba9989abcdefULL, 0xfedcba9889ac3210ULL, 0x66, 0x0f, 0x38, 0x09,
       0xca),
    XC("phminposuw xmm1, xmm2", 1, 0, 0x66, 0x0f, 0x38, 0x41, 0xca),
    XC("mpsadbw xmm1, xmm2, 5", 0x024b0238020701f4ULL, 0x020602060206021aULL, 0x66, 0x0f, 0x3a,
       0x42, 0xca, 0x05),
    XC("shufps xmm1, xmm2, 0x4e", 0xfedcba9876543210ULL, 0x8000ffff7fff0001ULL, 0x0f, 0xc6, 0xca,
       0x4e),
    XC("psadbw xmm1, xmm2", 0x040d, 0x03e2, 0x66, 0x0f, 0xf6, 0xca),
};

static void test_register_ops(void **state)
{
	for (size_t k = 0; k < sizeof(xcases) / sizeof(xcases[0]); k++) {
		const struct xcase *c = &xcases[k];
		uint8_t code[16];
		size_t n = c->len;
		memcpy(code, c->code, n);
		code[n] = 0x0f;
		code[n + 1] = 0x05; /* syscall */
		struct env *e = env_new(code, n + 2);
		e->cpu.xmm[1] = xa;
		e->cpu.xmm[2] = xb;
		assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
		if (e->cpu.xmm[1].u64[0] != c->want[0] || e->cpu.xmm[1].u64[1] != c->want[1])
			fail_msg("%s: %016llx %016llx, want %016llx %016llx", c->name,
			         (unsigned long long)e->cpu.xmm[1].u64[0],
			         (unsigned long long)e->cpu.xmm[1].u64[1],
			         (unsigned long long)c->want[0], (unsigned long long)c->want[1]);
		env_free(e);
	}
}

/* ---- glibc's strlen idiom: pxor, movdqa, pcmpeqb, pmovmskb in a loop ---- */

static void test_strlen_loop(void **state)
{
	static const uint8_t code[] = {
	    0x66, 0x0f, 0xef, 0xc0, /* pxor xmm0, xmm0 */
	    0x66, 0x0f, 0x6f, 0x0f, /* 1: movdqa xmm1, [rdi] */
	    0x66, 0x0f, 0x74, 0xc8, /* pcmpeqb xmm1, xmm0 */
	    0x66, 0x0f, 0xd7, 0xc1, /* pmovmskb eax, xmm1 */
	    0x48, 0x83, 0xc7, 0x10, /* add rdi, 16 */
	    0x85, 0xc0,             /* test eax, eax */
	    0x74, 0xec,             /* jz 1b */
	    0x0f, 0x05,             /* syscall */
	};
	struct env *e = env_new(code, sizeof(code));
	uint8_t str[48];
	memset(str, 'a', sizeof(str));
	str[40] = 0;
	assert_int_equal(user_mem_write(e->m, DATA, str, sizeof(str)), 0);
	e->cpu.gpr[R_RDI] = DATA;
	e->cpu.gpr[R_RAX] = ~0ULL;
	e->cpu.xmm[0].u64[0] = ~0ULL;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RDI], DATA + 48);
	assert_int_equal(e->cpu.gpr[R_RAX], 1u << 8); /* byte 40 = byte 8 of the third block */
	env_free(e);
}

/* ---- moves between XMM, GPRs and memory ---- */

static void test_moves(void **state)
{
	static const uint8_t code[] = {
	    0x66, 0x48, 0x0f, 0x7e, 0xc8,       /* movq rax, xmm1 */
	    0x66, 0x0f, 0x6e, 0xd8,             /* movd xmm3, eax */
	    0x66, 0x0f, 0xc5, 0xd1, 0x05,       /* pextrw edx, xmm1, 5 */
	    0x66, 0x0f, 0xc4, 0xe2, 0x02,       /* pinsrw xmm4, edx, 2 */
	    0xf3, 0x0f, 0x10, 0x2e,             /* movss xmm5, [rsi] (zeroes the rest) */
	    0x0f, 0x16, 0x36,                   /* movhps xmm6, [rsi] */
	    0x48, 0x0f, 0xc3, 0x46, 0x10,       /* movnti [rsi+16], rax */
	    0x66, 0x0f, 0x3a, 0x14, 0xcf, 0x09, /* pextrb edi, xmm1, 9 */
	    0x0f, 0x05,
	};
	struct env *e = env_new(code, sizeof(code));
	uint64_t mem = 0x1122334455667788ULL;
	assert_int_equal(user_mem_write(e->m, DATA, &mem, 8), 0);
	e->cpu.gpr[R_RSI] = DATA;
	e->cpu.gpr[R_RDI] = ~0ULL;
	e->cpu.xmm[1] = xa;
	e->cpu.xmm[3] = xb;
	e->cpu.xmm[4] = xb;
	e->cpu.xmm[5] = xb;
	e->cpu.xmm[6] = xb;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], xa.u64[0]);
	assert_int_equal(e->cpu.xmm[3].u64[0], 0x89abcdefULL);
	assert_int_equal(e->cpu.xmm[3].u64[1], 0);
	assert_int_equal(e->cpu.gpr[R_RDX], 0x7654);
	assert_int_equal(e->cpu.xmm[4].u64[0], 0x800076547fff0001ULL);
	assert_int_equal(e->cpu.xmm[4].u64[1], xb.u64[1]);
	assert_int_equal(e->cpu.xmm[5].u64[0], 0x55667788ULL);
	assert_int_equal(e->cpu.xmm[5].u64[1], 0);
	assert_int_equal(e->cpu.xmm[6].u64[0], xb.u64[0]);
	assert_int_equal(e->cpu.xmm[6].u64[1], mem);
	assert_int_equal(e->cpu.gpr[R_RDI], 0x32);
	uint64_t back = 0;
	assert_int_equal(user_mem_read(e->m, DATA + 16, &back, 8), 0);
	assert_int_equal(back, xa.u64[0]);
	env_free(e);
}

/* ---- MASKMOVDQU: only the selected bytes are written ---- */

static void test_maskmovdqu(void **state)
{
	static const uint8_t code[] = {0x66, 0x0f, 0xf7,
	                               0xca, 0x0f, 0x05}; /* maskmovdqu xmm1, xmm2 */
	struct env *e = env_new(code, sizeof(code));
	uint8_t before[16], after[16];
	memset(before, 0x5a, sizeof(before));
	assert_int_equal(user_mem_write(e->m, DATA + 3, before, 16), 0);
	e->cpu.gpr[R_RDI] = DATA + 3;
	e->cpu.xmm[1] = xa;
	e->cpu.xmm[2] = xb;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(user_mem_read(e->m, DATA + 3, after, 16), 0);
	for (unsigned k = 0; k < 16; k++)
		assert_int_equal(after[k], (xb.u8[k] & 0x80) ? xa.u8[k] : 0x5a);
	env_free(e);
}

/* ---- PTEST sets ZF and CF, clears the other arithmetic flags ---- */

static void test_ptest(void **state)
{
	static const uint8_t code[] = {0x66, 0x0f, 0x38, 0x17,
	                               0xca, 0x0f, 0x05}; /* ptest xmm1, xmm2 */
	static const struct {
		union cpu_xmm a, b;
		uint32_t want;
	} cases[] = {
	    {{.u64 = {0xff, 0}}, {.u64 = {0xff00, 0}}, FLAG_ZF},
	    {{.u64 = {0xff, 1}}, {.u64 = {0x0f, 1}}, FLAG_CF},
	    {{.u64 = {0, 0}}, {.u64 = {0, 0}}, FLAG_ZF | FLAG_CF},
	    {{.u64 = {1, 0}}, {.u64 = {3, 0}}, 0},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct env *e = env_new(code, sizeof(code));
		e->cpu.xmm[1] = cases[k].a;
		e->cpu.xmm[2] = cases[k].b;
		cpu_set_rflags(&e->cpu, 0x202 | FLAGS_ARITH);
		assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
		assert_int_equal(cpu_get_rflags(&e->cpu) & FLAGS_ARITH, cases[k].want);
		env_free(e);
	}
}

/* ---- faults: alignment, CR0.EM/TS, MXCSR reserved bits, MXCSR.MM ---- */

static struct env *run_fault(const uint8_t *code, size_t len, uint64_t rsi, uint8_t vector)
{
	struct env *e = env_new(code, len);
	e->cpu.gpr[R_RSI] = rsi;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, vector);
	assert_int_equal(e->cpu.rip, CODE);
	return e;
}

static void test_faults(void **state)
{
	static const uint8_t movaps[] = {0x0f, 0x28, 0x06, 0x0f, 0x05}; /* movaps xmm0, [rsi] */
	static const uint8_t movups[] = {0x0f, 0x10, 0x06, 0x0f, 0x05}; /* movups xmm0, [rsi] */
	static const uint8_t paddb[] = {0x66, 0x0f, 0xfc, 0x06, 0x0f, 0x05}; /* paddb xmm0, [rsi] */
	static const uint8_t ldmxcsr[] = {0x0f, 0xae, 0x16, 0x0f, 0x05};     /* ldmxcsr [rsi] */

	/* Misaligned m128: #GP(0), before the #PF of an unmapped page. */
	struct env *e = run_fault(movaps, sizeof(movaps), DATA + 8, EXC_GP);
	assert_int_equal(e->cpu.exc_error, 0);
	env_free(e);
	env_free(run_fault(paddb, sizeof(paddb), 0x10008, EXC_GP));
	e = env_new(movups, sizeof(movups));
	e->cpu.gpr[R_RSI] = DATA + 8;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	env_free(e);

	/* CR0.EM: #UD; CR0.TS: #NM (part 2 changes CR0; user mode never does). */
	e = env_new(paddb, sizeof(paddb));
	e->cpu.cr0 |= 1u << 2;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	env_free(e);
	e = env_new(paddb, sizeof(paddb));
	e->cpu.cr0 |= 1u << 3;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_NM);
	env_free(e);

	/* LDMXCSR: reserved bits #GP(0); MM (bit 17) is accepted and lifts the
	 * alignment check of ordinary m128 operands, not of MOVAPS. */
	e = env_new(ldmxcsr, sizeof(ldmxcsr));
	uint32_t v = 0x1f80 | (1u << 18);
	assert_int_equal(user_mem_write(e->m, DATA, &v, 4), 0);
	e->cpu.gpr[R_RSI] = DATA;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	assert_int_equal(e->cpu.mxcsr, 0x1f80);
	env_free(e);

	e = env_new(paddb, sizeof(paddb));
	e->cpu.mxcsr = 0x1f80 | (1u << 17);
	e->cpu.gpr[R_RSI] = DATA + 8;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	env_free(e);
	e = env_new(movaps, sizeof(movaps));
	e->cpu.mxcsr = 0x1f80 | (1u << 17);
	e->cpu.gpr[R_RSI] = DATA + 8;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	env_free(e);
}

/* MMX forms (no prefix, mm registers) stay #UD: MMX is not advertised. */
static void test_mmx_ud(void **state)
{
	static const uint8_t pxor_mm[] = {0x0f, 0xef, 0xc0, 0x0f, 0x05}; /* pxor mm0, mm0 */
	struct env *e = run_fault(pxor_mm, sizeof(pxor_mm), 0, EXC_UD);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_ops), cmocka_unit_test(test_strlen_loop),
	    cmocka_unit_test(test_moves),        cmocka_unit_test(test_maskmovdqu),
	    cmocka_unit_test(test_ptest),        cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_mmx_ud),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
