/*
 * Unit tests of the software CPU's SSE floating-point family (src/accel/soft/sse_fp.c,
 * sse_fpx.c, sse41_fp.c, sse42_str.c): MXCSR flags and rounding control, unmasked
 * exceptions (#XM, the flags each element reports, #UD without CR4.OSXMMEXCPT), #NM/#UD
 * from CR0, alignment, MIN/MAX and COMIS* corner cases, ROUNDSS's immediate, DPPS's
 * step-by-step exceptions, and PCMPxSTRx against the host for every imm8. Expected values
 * follow the SDM and were checked on the AMD development host; the differential harness
 * (tests/softcpu) covers every form with random operands.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "accel/soft/cpu.h"
#include "accel/soft/flags.h"
#include "accel/soft/user_mem.h"

#define CODE 0x400000ULL
#define DATA 0x600000ULL
#define PG   USER_PAGE_SIZE

#define MX_IE  0x01u
#define MX_DE  0x02u
#define MX_ZE  0x04u
#define MX_OE  0x08u
#define MX_UE  0x10u
#define MX_PE  0x20u
#define MX_DEF 0x1f80u
#define MX_IM  0x80u
#define MX_DM  0x100u
#define MX_ZM  0x200u
#define MX_OM  0x400u
#define MX_UM  0x800u
#define MX_PM  0x1000u
#define MX_FTZ 0x8000u
#define MX_MM  (1u << 17)

struct env {
	struct user_mem *m;
	struct cpu cpu;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->m = user_mem_create();
	assert_int_equal(
	    user_mem_map(e->m, CODE, PG, USER_PROT_READ | USER_PROT_WRITE | USER_PROT_EXEC, NULL),
	    0);
	assert_int_equal(user_mem_map(e->m, DATA, PG, USER_PROT_READ | USER_PROT_WRITE, NULL), 0);
	cpu_init_user64(&e->cpu, &user_mem_ops, e->m);
	return e;
}

static void env_free(struct env *e)
{
	cpu_fini(&e->cpu);
	user_mem_destroy(e->m);
	free(e);
}

#define DONE (-1)

/*
 * Runs one instruction from CODE, then UD2 (which keeps every register as the instruction
 * left it); returns DONE, or the vector of the exception the instruction raised.
 */
static int run(struct env *e, const uint8_t *insn, size_t len)
{
	uint8_t code[32];
	memcpy(code, insn, len);
	code[len] = 0x0f;
	code[len + 1] = 0x0b;
	assert_int_equal(user_mem_write(e->m, CODE, code, len + 2), 0);
	e->cpu.rip = CODE;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	if (e->cpu.exc_vector == EXC_UD && e->cpu.rip == CODE + len)
		return DONE;
	assert_int_equal(e->cpu.rip, CODE); /* a fault */
	return e->cpu.exc_vector;
}

static uint32_t f32(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static uint64_t f64(double f)
{
	uint64_t u;
	memcpy(&u, &f, 8);
	return u;
}

static void set_ss(struct env *e, unsigned r, uint32_t lo)
{
	e->cpu.xmm[r].u32[0] = lo;
}

static const uint8_t DIVSS[] = {0xf3, 0x0f, 0x5e, 0xc1};     /* divss xmm0, xmm1 */
static const uint8_t MULSS[] = {0xf3, 0x0f, 0x59, 0xc1};     /* mulss xmm0, xmm1 */
static const uint8_t DIVPS[] = {0x0f, 0x5e, 0xc1};           /* divps xmm0, xmm1 */
static const uint8_t MULPS[] = {0x0f, 0x59, 0xc1};           /* mulps xmm0, xmm1 */
static const uint8_t MINSS[] = {0xf3, 0x0f, 0x5d, 0xc1};     /* minss xmm0, xmm1 */
static const uint8_t MAXSS[] = {0xf3, 0x0f, 0x5f, 0xc1};     /* maxss xmm0, xmm1 */
static const uint8_t COMISS[] = {0x0f, 0x2f, 0xc1};          /* comiss xmm0, xmm1 */
static const uint8_t UCOMISS[] = {0x0f, 0x2e, 0xc1};         /* ucomiss xmm0, xmm1 */
static const uint8_t CVTSD2SI[] = {0xf2, 0x0f, 0x2d, 0xc0};  /* cvtsd2si eax, xmm0 */
static const uint8_t CVTTSD2SI[] = {0xf2, 0x0f, 0x2c, 0xc0}; /* cvttsd2si eax, xmm0 */
/* addps xmm0, [DATA + 4] */
static const uint8_t ADDPS_MIS[] = {0x0f, 0x58, 0x04, 0x25, 0x04, 0x00, 0x60, 0x00};

/* ---- flags and rounding ---- */

static void test_flags_sticky(void **state)
{
	struct env *e = env_new();
	set_ss(e, 0, f32(1.0f));
	set_ss(e, 1, f32(3.0f));
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), DONE);
	assert_int_equal(e->cpu.xmm[0].u32[0], 0x3eaaaaab);
	assert_int_equal(e->cpu.mxcsr, MX_DEF | MX_PE);
	set_ss(e, 0, f32(1.0f));
	set_ss(e, 1, f32(0.0f));
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), DONE);
	assert_int_equal(e->cpu.xmm[0].u32[0], 0x7f800000);
	assert_int_equal(e->cpu.mxcsr, MX_DEF | MX_PE | MX_ZE); /* flags accumulate */
	env_free(e);
}

static void test_rounding_control(void **state)
{
	static const struct {
		double v;
		int32_t want[4]; /* nearest, down, up, toward zero */
	} cases[] = {
	    {2.5, {2, 2, 3, 2}},
	    {-2.5, {-2, -3, -2, -2}},
	    {3.5, {4, 3, 4, 3}},
	    {-0.75, {-1, -1, 0, 0}},
	};
	struct env *e = env_new();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (uint32_t rc = 0; rc < 4; rc++) {
			e->cpu.mxcsr = MX_DEF | rc << 13;
			e->cpu.xmm[0].u64[0] = f64(cases[k].v);
			e->cpu.gpr[R_RAX] = ~0ULL;
			assert_int_equal(run(e, CVTSD2SI, sizeof(CVTSD2SI)), DONE);
			assert_int_equal(e->cpu.gpr[R_RAX], (uint32_t)cases[k].want[rc]);
			assert_int_equal(e->cpu.mxcsr, MX_DEF | rc << 13 | MX_PE);
			assert_int_equal(run(e, CVTTSD2SI, sizeof(CVTTSD2SI)), DONE);
			assert_int_equal(e->cpu.gpr[R_RAX], (uint32_t)cases[k].want[3]);
		}
	}
	/* NaN and out of range: the integer indefinite value, invalid */
	e->cpu.mxcsr = MX_DEF;
	e->cpu.xmm[0].u64[0] = 0x7ff8000000000000ULL;
	assert_int_equal(run(e, CVTSD2SI, sizeof(CVTSD2SI)), DONE);
	assert_int_equal(e->cpu.gpr[R_RAX], 0x80000000);
	assert_int_equal(e->cpu.mxcsr, MX_DEF | MX_IE);
	e->cpu.xmm[0].u64[0] = f64(3e9);
	assert_int_equal(run(e, CVTTSD2SI, sizeof(CVTTSD2SI)), DONE);
	assert_int_equal(e->cpu.gpr[R_RAX], 0x80000000);
	env_free(e);
}

/* ---- unmasked exceptions ---- */

static void test_xm_basic(void **state)
{
	struct env *e = env_new();
	e->cpu.mxcsr = MX_DEF & ~MX_ZM;
	set_ss(e, 0, f32(1.0f));
	set_ss(e, 1, 0);
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), EXC_XM);
	assert_false(e->cpu.exc_has_error);
	assert_int_equal(e->cpu.xmm[0].u32[0], f32(1.0f)); /* not written */
	assert_int_equal(e->cpu.mxcsr, (MX_DEF & ~MX_ZM) | MX_ZE);

	/* without CR4.OSXMMEXCPT: #UD */
	e->cpu.cr4 &= ~(1ULL << 10);
	e->cpu.mxcsr = MX_DEF & ~MX_ZM;
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), EXC_UD);
	env_free(e);
}

static void test_xm_elements(void **state)
{
	struct env *e = env_new();
	/* element 0: 1/0 with ZE unmasked; element 1: 1/3 inexact: only ZE (pre-computation) */
	e->cpu.mxcsr = MX_DEF & ~MX_ZM;
	e->cpu.xmm[0] = (union cpu_xmm){.f32 = {1, 1, 1, 1}};
	e->cpu.xmm[1] = (union cpu_xmm){.f32 = {0, 3, 1, 1}};
	assert_int_equal(run(e, DIVPS, sizeof(DIVPS)), EXC_XM);
	assert_int_equal(e->cpu.mxcsr & 0x3f, MX_ZE);

	/* element 0 overflows exactly (OE unmasked: no PE), element 1 is inexact: OE | PE */
	e->cpu.mxcsr = MX_DEF & ~MX_OM;
	e->cpu.xmm[0].u32[0] = 0x7f000000;
	e->cpu.xmm[0].f32[1] = 3;
	e->cpu.xmm[1].u32[0] = 0x7f000000;
	e->cpu.xmm[1].u32[1] = 0x3eaaaaab;
	assert_int_equal(run(e, MULPS, sizeof(MULPS)), EXC_XM);
	assert_int_equal(e->cpu.mxcsr & 0x3f, MX_OE | MX_PE);
	e->cpu.xmm[0].f32[1] = 1;
	e->cpu.xmm[1].f32[1] = 1;
	e->cpu.mxcsr = MX_DEF & ~MX_OM;
	assert_int_equal(run(e, MULPS, sizeof(MULPS)), EXC_XM);
	assert_int_equal(e->cpu.mxcsr & 0x3f, MX_OE);
	env_free(e);
}

static void test_xm_underflow(void **state)
{
	static const struct {
		uint32_t a, b, mxcsr, want_flags;
		int want; /* DONE or EXC_XM */
	} cases[] = {
	    /* tiny and exact: traps with UM unmasked (even with FTZ), nothing when masked */
	    {0x00800000, 0x3f000000, MX_DEF & ~MX_UM, MX_UE, EXC_XM},
	    {0x00800000, 0x3f000000, (MX_DEF & ~MX_UM) | MX_FTZ, MX_UE, EXC_XM},
	    {0x00800000, 0x3f000000, MX_DEF, 0, DONE},
	    {0x00800000, 0x3f000000, MX_DEF | MX_FTZ, MX_UE | MX_PE, DONE},
	    /* 2^-126 * (1/3 rounded): exact with an unbounded exponent, so no PE */
	    {0x00800000, 0x3eaaaaab, MX_DEF & ~MX_UM, MX_UE, EXC_XM},
	    /* (2^-126 + ulp) * (1/3 rounded): inexact, PE with the trap */
	    {0x00800001, 0x3eaaaaab, MX_DEF & ~MX_UM, MX_UE | MX_PE, EXC_XM},
	    {0x00800001, 0x3eaaaaab, MX_DEF & ~MX_PM, MX_UE | MX_PE, EXC_XM},
	    /* overflow: 0x7f7fffff * 3 is inexact, 2^127 * 2 exact */
	    {0x7f7fffff, 0x40400000, MX_DEF & ~MX_OM, MX_OE | MX_PE, EXC_XM},
	    {0x7f000000, 0x40000000, MX_DEF & ~MX_OM, MX_OE, EXC_XM},
	    {0x7f000000, 0x40000000, MX_DEF, MX_OE | MX_PE, DONE},
	    /* a denormal operand with DE unmasked: DE alone, before the computation */
	    {0x00000010, 0x3f000000, MX_DEF & ~(MX_DM | MX_UM), MX_DE, EXC_XM},
	};
	struct env *e = env_new();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		e->cpu.mxcsr = cases[k].mxcsr;
		set_ss(e, 0, cases[k].a);
		set_ss(e, 1, cases[k].b);
		int got = run(e, MULSS, sizeof(MULSS));
		if (got != cases[k].want || (e->cpu.mxcsr & 0x3f) != cases[k].want_flags)
			fail_msg("case %zu: %d mxcsr %#x", k, got, e->cpu.mxcsr);
		if (got == EXC_XM)
			assert_int_equal(e->cpu.xmm[0].u32[0], cases[k].a);
	}
	env_free(e);
}

/* DPPS: the products underflow (masked), their sum sees a denormal with DE unmasked. */
static void test_dpps_steps(void **state)
{
	static const uint8_t dpps[] = {0x66, 0x0f, 0x3a, 0x40, 0xc1, 0x31}; /* products 0-1 */
	struct env *e = env_new();
	e->cpu.mxcsr = MX_DEF & ~MX_DM;
	e->cpu.xmm[0] = (union cpu_xmm){.u32 = {0x20000000, 0x3f800000, 0, 0}};
	e->cpu.xmm[1] = (union cpu_xmm){.u32 = {0x1e000001, 0x3f800000, 0, 0}};
	assert_int_equal(run(e, dpps, sizeof(dpps)), EXC_XM);
	assert_int_equal(e->cpu.mxcsr & 0x3f, MX_UE | MX_PE | MX_DE);
	/* masked: the sum in element 0 only (result mask 1) */
	e->cpu.mxcsr = MX_DEF;
	e->cpu.xmm[0] = (union cpu_xmm){.f32 = {1, 2, 3, 4}};
	e->cpu.xmm[1] = (union cpu_xmm){.f32 = {5, 6, 7, 8}};
	assert_int_equal(run(e, dpps, sizeof(dpps)), DONE);
	assert_true(e->cpu.xmm[0].f32[0] == 17.0f);
	assert_int_equal(e->cpu.xmm[0].u32[1] | e->cpu.xmm[0].u32[2] | e->cpu.xmm[0].u32[3], 0);
	env_free(e);
}

/* ---- availability and alignment ---- */

static void test_cr0_and_alignment(void **state)
{
	struct env *e = env_new();
	e->cpu.cr0 |= 1ULL << 3; /* TS */
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), EXC_NM);
	e->cpu.cr0 |= 1ULL << 2; /* EM wins */
	assert_int_equal(run(e, DIVSS, sizeof(DIVSS)), EXC_UD);
	e->cpu.cr0 &= ~(3ULL << 2);

	assert_int_equal(run(e, ADDPS_MIS, sizeof(ADDPS_MIS)), EXC_GP);
	assert_true(e->cpu.exc_has_error);
	assert_int_equal(e->cpu.exc_error, 0);
	e->cpu.mxcsr |= MX_MM; /* AMD's misaligned SSE mode */
	assert_int_equal(run(e, ADDPS_MIS, sizeof(ADDPS_MIS)), DONE);
	env_free(e);
}

/* ---- MIN/MAX and COMIS* ---- */

static void test_minmax(void **state)
{
	static const struct {
		uint32_t a, b, want;
	} cases[] = {
	    {0x00000000, 0x80000000, 0x80000000}, /* +0, -0: the second */
	    {0x80000000, 0x00000000, 0x00000000},
	    {0x7fc00000, 0x3f800000, 0x3f800000}, /* a NaN: the second */
	    {0x3f800000, 0x7fc00001, 0x7fc00001},
	    {0x7fa00000, 0x7fc00002, 0x7fc00002}, /* SNaN first: still the second, IE */
	};
	struct env *e = env_new();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (int mx = 0; mx < 2; mx++) {
			set_ss(e, 0, cases[k].a);
			set_ss(e, 1, cases[k].b);
			e->cpu.mxcsr = MX_DEF;
			assert_int_equal(run(e, mx ? MAXSS : MINSS, 4), DONE);
			assert_int_equal(e->cpu.xmm[0].u32[0], cases[k].want);
			bool nan = (cases[k].a & 0x7fffffff) > 0x7f800000 ||
			           (cases[k].b & 0x7fffffff) > 0x7f800000;
			assert_int_equal(e->cpu.mxcsr, MX_DEF | (nan ? MX_IE : 0));
		}
	}
	env_free(e);
}

static void test_comiss(void **state)
{
	struct env *e = env_new();
	cpu_set_rflags(&e->cpu, 0x202 | FLAG_OF | FLAG_SF | FLAG_AF);
	set_ss(e, 0, f32(1.0f));
	set_ss(e, 1, f32(2.0f));
	assert_int_equal(run(e, COMISS, sizeof(COMISS)), DONE);
	assert_int_equal(cpu_get_rflags(&e->cpu) & FLAGS_ARITH, FLAG_CF);
	set_ss(e, 1, f32(1.0f));
	assert_int_equal(run(e, COMISS, sizeof(COMISS)), DONE);
	assert_int_equal(cpu_get_rflags(&e->cpu) & FLAGS_ARITH, FLAG_ZF);
	/* QNaN: unordered; COMISS signals invalid, UCOMISS does not */
	set_ss(e, 1, 0x7fc00000);
	e->cpu.mxcsr = MX_DEF & ~MX_IM;
	assert_int_equal(run(e, UCOMISS, sizeof(UCOMISS)), DONE);
	assert_int_equal(cpu_get_rflags(&e->cpu) & FLAGS_ARITH, FLAG_ZF | FLAG_PF | FLAG_CF);
	assert_int_equal(e->cpu.mxcsr, MX_DEF & ~MX_IM);
	cpu_set_rflags(&e->cpu, 0x202);
	assert_int_equal(run(e, COMISS, sizeof(COMISS)), EXC_XM);
	assert_int_equal(cpu_get_rflags(&e->cpu) & FLAGS_ARITH, 0); /* unchanged */
	env_free(e);
}

/* ---- ROUNDSS: the immediate's rounding control and precision suppression ---- */

static void test_roundss(void **state)
{
	static const struct {
		uint8_t imm;
		uint32_t mxcsr;
		float want;
		bool pe;
	} cases[] = {
	    {0x0, MX_DEF, 2, true},           {0x1, MX_DEF, 2, true},  {0x2, MX_DEF, 3, true},
	    {0x3, MX_DEF, 2, true},           {0x8, MX_DEF, 2, false}, {0xa, MX_DEF, 3, false},
	    {0x4, MX_DEF | 0x4000, 3, true}, /* bit 2: MXCSR.RC (up) */
	    {0xc, MX_DEF | 0x2000, 2, false},
	};
	struct env *e = env_new();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint8_t insn[] = {0x66, 0x0f, 0x3a, 0x0a, 0xc1, cases[k].imm};
		e->cpu.mxcsr = cases[k].mxcsr;
		set_ss(e, 1, f32(2.5f));
		assert_int_equal(run(e, insn, sizeof(insn)), DONE);
		assert_true(e->cpu.xmm[0].f32[0] == cases[k].want);
		assert_int_equal(e->cpu.mxcsr, cases[k].mxcsr | (cases[k].pe ? MX_PE : 0));
	}
	env_free(e);
}

/* ---- PCMPxSTRx against the host ---- */

struct str_in {
	uint8_t a[16], b[16];
	uint64_t rax, rdx, rcx;
};
struct str_out {
	uint8_t xmm0[16];
	uint64_t rcx, rflags;
};

/*
 * A host function running one PCMPxSTRx (opcode op, REX.W if w, imm8) on a str_in and
 * storing a str_out: movdqu xmm0/xmm1, mov rax/rdx/rcx, the instruction, pushfq/pop r8,
 * the stores, ret.
 */
static void host_stub(uint8_t *p, uint8_t op, bool w, uint8_t imm)
{
	static const uint8_t pre[] = {
	    0xf3, 0x0f, 0x6f, 0x07,       /* movdqu xmm0, [rdi] */
	    0xf3, 0x0f, 0x6f, 0x4f, 0x10, /* movdqu xmm1, [rdi+16] */
	    0x48, 0x8b, 0x47, 0x20,       /* mov rax, [rdi+32] */
	    0x48, 0x8b, 0x57, 0x28,       /* mov rdx, [rdi+40] */
	    0x48, 0x8b, 0x4f, 0x30,       /* mov rcx, [rdi+48] */
	};
	static const uint8_t post[] = {
	    0x9c, 0x41, 0x58,       /* pushfq; pop r8 */
	    0xf3, 0x0f, 0x7f, 0x06, /* movdqu [rsi], xmm0 */
	    0x48, 0x89, 0x4e, 0x10, /* mov [rsi+16], rcx */
	    0x4c, 0x89, 0x46, 0x18, /* mov [rsi+24], r8 */
	    0xc3,                   /* ret */
	};
	memcpy(p, pre, sizeof(pre));
	p += sizeof(pre);
	*p++ = 0x66;
	if (w)
		*p++ = 0x48;
	*p++ = 0x0f;
	*p++ = 0x3a;
	*p++ = op;
	*p++ = 0xc1;
	*p++ = imm;
	memcpy(p, post, sizeof(post));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Strings from a small alphabet (so that elements match), zeros now and then. */
static void rnd_str(uint8_t *s)
{
	static const uint8_t alpha[] = {'a', 'b', 'c', 0x80, 0xff, 0x7f, 0x01};
	for (int k = 0; k < 16; k++)
		s[k] = rnd() % 24 == 0 ? 0 : alpha[rnd() % sizeof(alpha)];
}

static uint64_t rnd_len(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd(); /* anything: saturates */
	case 1:
		return (uint64_t) - (int64_t)(rnd() % 20);
	case 2:
		return 0xffffffff00000000ULL | (rnd() % 20); /* only with REX.W is it huge */
	default:
		return rnd() % 20;
	}
}

static void test_pcmpstr_host(void **state)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("sse4.2"))
		skip();
	uint8_t *stub = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stub == MAP_FAILED)
		skip(); /* no executable anonymous memory here */
	struct env *e = env_new();
	static const struct {
		uint8_t op;
		bool w;
	} ops[] = {{0x60, false}, {0x60, true},  {0x61, false},
	           {0x61, true},  {0x62, false}, {0x63, false}};
	for (unsigned imm = 0; imm < 256; imm++) {
		for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
			host_stub(stub, ops[o].op, ops[o].w, (uint8_t)imm);
			void (*fn)(const struct str_in *, struct str_out *) =
			    (void (*)(const struct str_in *, struct str_out *))(uintptr_t)stub;
			uint8_t insn[] = {0x66, 0x48, 0x0f, 0x3a, ops[o].op, 0xc1, (uint8_t)imm};
			const uint8_t *ip = ops[o].w ? insn : insn + 1;
			size_t ilen = ops[o].w ? sizeof(insn) : sizeof(insn) - 1;
			if (!ops[o].w)
				insn[1] = 0x66;
			for (int n = 0; n < 12; n++) {
				struct str_in in;
				struct str_out want;
				rnd_str(in.a);
				rnd_str(in.b);
				if (rnd() % 4 == 0)
					memcpy(in.b + rnd() % 8, in.a, 4); /* a substring */
				in.rax = rnd_len();
				in.rdx = rnd_len();
				in.rcx = 0x5555555555555555ULL;
				fn(&in, &want);
				memcpy(&e->cpu.xmm[0], in.a, 16);
				memcpy(&e->cpu.xmm[1], in.b, 16);
				e->cpu.gpr[R_RAX] = in.rax;
				e->cpu.gpr[R_RDX] = in.rdx;
				e->cpu.gpr[R_RCX] = in.rcx;
				assert_int_equal(run(e, ip, ilen), DONE);
				uint64_t flags = cpu_get_rflags(&e->cpu) & FLAGS_ARITH;
				if (flags != (want.rflags & FLAGS_ARITH) ||
				    e->cpu.gpr[R_RCX] != want.rcx ||
				    memcmp(&e->cpu.xmm[0], want.xmm0, 16))
					fail_msg(
					    "op %02x w %d imm %02x: flags %#llx rcx %#llx, want "
					    "%#llx %#llx",
					    ops[o].op, ops[o].w, imm, (unsigned long long)flags,
					    (unsigned long long)e->cpu.gpr[R_RCX],
					    (unsigned long long)want.rflags & FLAGS_ARITH,
					    (unsigned long long)want.rcx);
			}
		}
	}
	env_free(e);
	munmap(stub, 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags_sticky),
	    cmocka_unit_test(test_rounding_control),
	    cmocka_unit_test(test_xm_basic),
	    cmocka_unit_test(test_xm_elements),
	    cmocka_unit_test(test_xm_underflow),
	    cmocka_unit_test(test_dpps_steps),
	    cmocka_unit_test(test_cr0_and_alignment),
	    cmocka_unit_test(test_minmax),
	    cmocka_unit_test(test_comiss),
	    cmocka_unit_test(test_roundss),
	    cmocka_unit_test(test_pcmpstr_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
