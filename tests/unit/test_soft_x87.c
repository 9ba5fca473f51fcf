/*
 * Unit tests of the software CPU's x87 family (src/accel/soft/x87_*.c):
 * FXSAVE/FXRSTOR and FNSAVE/FRSTOR round trips and their images (abridged
 * vs full tag word), stack overflow and underflow (#IS, masked and not),
 * the pending-exception #MF and its recorded FOP/FIP, precision and
 * rounding control, FCOMIP flags, #NM and the FXSAVE/FXRSTOR #GP cases.
 * The differential harness (tests/softcpu) covers the arithmetic itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"

#include "test_soft_env.h"

/* Runs more code placed at CODE + off (the CPU state carries over). */
static enum cpu_exit run_at(struct env *e, uint64_t off, const void *code, size_t len)
{
	assert_int_equal(user_mem_write(e->m, CODE + off, code, len), 0);
	e->cpu.rip = CODE + off;
	return cpu_run(&e->cpu, 0);
}

static void put(struct env *e, uint64_t off, const void *p, size_t len)
{
	assert_int_equal(user_mem_write(e->m, DATA + off, p, len), 0);
}

static void get(struct env *e, uint64_t off, void *p, size_t len)
{
	assert_int_equal(user_mem_read(e->m, DATA + off, p, len), 0);
}

static uint16_t get16(const uint8_t *b, unsigned off)
{
	uint16_t v;
	memcpy(&v, b + off, 2);
	return v;
}

/* An 80-bit value from its exponent word and significand. */
static void f80(uint8_t out[10], uint16_t se, uint64_t mant)
{
	memcpy(out, &mant, 8);
	memcpy(out + 8, &se, 2);
}

static const uint8_t indefinite[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};

/* fninit; fld1; fldpi; fldz; fld tbyte [DATA+0x300]; fxsave64 [DATA]; fnstenv [DATA+0x400] */
static const uint8_t p_save[] = {
    0xdb, 0xe3,                                           /* fninit */
    0xd9, 0xe8,                                           /* fld1 */
    0xd9, 0xeb,                                           /* fldpi */
    0xd9, 0xee,                                           /* fldz */
    0xdb, 0x2c, 0x25, 0x00, 0x03, 0x60, 0x00,             /* fld tbyte [DATA+0x300] */
    0x48, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, /* fxsave64 [DATA] */
    0xd9, 0x34, 0x25, 0x00, 0x04, 0x60, 0x00,             /* fnstenv [DATA+0x400] */
    0x0f, 0x05,                                           /* syscall */
};
static const uint8_t p_fxrstor64[] = {0x48, 0x0f, 0xae, 0x0c, 0x25, 0x00,
                                      0x00, 0x60, 0x00, 0x0f, 0x05};
static const uint8_t p_fxsave64[] = {0x48, 0x0f, 0xae, 0x04, 0x25, 0x00,
                                     0x00, 0x60, 0x00, 0x0f, 0x05};

/* The stack p_save builds: ST(0) a denormal (special), zero, pi, 1.0; TOP = 4. */
static void test_fxsave_image_and_round_trip(void **state)
{
	uint8_t den[10], img[512], envb[28];
	struct env *e = env_new(p_save, sizeof(p_save));
	f80(den, 0, 1);
	put(e, 0x300, den, 10);
	memset(img, 0x5a, sizeof(img));
	put(e, 0, img, sizeof(img));
	for (int k = 0; k < 16; k++)
		for (int b = 0; b < 16; b++)
			e->cpu.xmm[k].u8[b] = (uint8_t)(k * 16 + b);
	e->cpu.mxcsr = 0x1f80 | 0x6000 | 0x40; /* RC toward zero, DAZ */

	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	get(e, 0, img, sizeof(img));
	assert_int_equal(get16(img, 0), 0x37f);
	assert_int_equal(get16(img, 2), 4 << 11);
	assert_int_equal(img[4], 0xf0);     /* physical 4-7 in use */
	assert_int_equal(get16(img, 6), 0); /* FOP/FIP/FDP: no exception pending (AMD) */
	for (int k = 8; k < 24; k++)
		assert_int_equal(img[k], 0);
	assert_int_equal(img[24] | img[25] << 8, 0x7fc0);
	assert_int_equal(img[28] | img[29] << 8 | img[30] << 16, 0x2ffff);
	assert_memory_equal(img + 32, den, 10);
	uint8_t zero[10] = {0}, one[10];
	f80(one, 0x3fff, 1ULL << 63);
	assert_memory_equal(img + 48, zero, 10);
	assert_int_equal(get16(img, 64 + 8), 0x4000); /* pi's exponent */
	assert_memory_equal(img + 80, one, 10);
	for (int k = 0; k < 16; k++)
		assert_memory_equal(img + 160 + 16 * k, &e->cpu.xmm[k], 16);
	for (int k = 416; k < 512; k++)
		assert_int_equal(img[k], 0x5a); /* not written */

	/* FNSTENV's full tag word agrees: 7, 6 valid, 5 zero, 4 special, 0-3 empty. */
	get(e, 0x400, envb, sizeof(envb));
	assert_int_equal(get16(envb, 8), 0x06ff);
	assert_int_equal(get16(envb, 4), 4 << 11);

	/* Wreck the state, then FXRSTOR64 brings it back. */
	struct cpu_x87 saved = e->cpu.x87;
	union cpu_xmm xsaved[16];
	memcpy(xsaved, e->cpu.xmm, sizeof(xsaved));
	memset(&e->cpu.x87, 0, sizeof(e->cpu.x87));
	e->cpu.x87.tag = 0xffff;
	memset(e->cpu.xmm, 0, sizeof(e->cpu.xmm));
	e->cpu.mxcsr = 0x1f80;
	assert_int_equal(run_at(e, 0x100, p_fxrstor64, sizeof(p_fxrstor64)), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.x87.cw, saved.cw);
	assert_int_equal(e->cpu.x87.sw, saved.sw);
	assert_int_equal(e->cpu.x87.top, 4);
	assert_int_equal(e->cpu.x87.tag, 0x06ff);
	for (int p = 4; p < 8; p++)
		assert_memory_equal(&e->cpu.x87.st[p], &saved.st[p], 10);
	assert_memory_equal(e->cpu.xmm, xsaved, sizeof(xsaved));
	assert_int_equal(e->cpu.mxcsr, 0x7fc0);
	env_free(e);
}

static void test_fxsave_faults(void **state)
{
	/* fxsave64 [DATA+8]: misaligned */
	static const uint8_t misaligned[] = {0x48, 0x0f, 0xae, 0x04, 0x25, 0x08,
	                                     0x00, 0x60, 0x00, 0x0f, 0x05};
	uint8_t img[512] = {0};
	struct env *e = env_new(misaligned, sizeof(misaligned));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	assert_int_equal(e->cpu.exc_error, 0);
	assert_int_equal(e->cpu.rip, CODE);

	/* FXRSTOR of an MXCSR with a reserved bit: #GP(0), nothing loaded. */
	uint32_t bad = 0x1f80 | 1u << 18;
	img[0] = 0x7f; /* FCW 0x7f */
	memcpy(img + 24, &bad, 4);
	put(e, 0, img, sizeof(img));
	assert_int_equal(run_at(e, 0x100, p_fxrstor64, sizeof(p_fxrstor64)), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	assert_int_equal(e->cpu.x87.cw, 0x37f);
	assert_int_equal(e->cpu.mxcsr, 0x1f80);

	/* CR0.TS: #NM, for x87 instructions and FXSAVE alike. */
	static const uint8_t fld1[] = {0xd9, 0xe8, 0x0f, 0x05};
	e->cpu.cr0 |= 1u << 3;
	assert_int_equal(run_at(e, 0x200, fld1, sizeof(fld1)), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_NM);
	assert_int_equal(run_at(e, 0x100, p_fxsave64, sizeof(p_fxsave64)), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_NM);
	env_free(e);
}

/* FNSAVE then FRSTOR restores everything FNSAVE reinitialised. */
static void test_fnsave_frstor(void **state)
{
	static const uint8_t code[] = {
	    0xdd, 0x34, 0x25, 0x00, 0x01, 0x60, 0x00, /* fnsave [DATA+0x100] */
	    0xd9, 0xe8,                               /* fld1 */
	    0xdd, 0x24, 0x25, 0x00, 0x01, 0x60, 0x00, /* frstor [DATA+0x100] */
	    0xdf, 0xe0,                               /* fnstsw ax */
	    0x0f, 0x05,
	};
	uint8_t den[10];
	struct env *e = env_new(p_save, sizeof(p_save));
	f80(den, 0, 1);
	put(e, 0x300, den, 10);
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	struct cpu_x87 saved = e->cpu.x87;
	assert_int_equal(run_at(e, 0x100, code, sizeof(code)), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.x87.top, 4);
	assert_int_equal(e->cpu.x87.tag, 0x06ff);
	assert_int_equal(e->cpu.x87.cw, saved.cw);
	assert_int_equal(e->cpu.gpr[R_RAX] & 0xffff, 4 << 11);
	for (int p = 4; p < 8; p++)
		assert_memory_equal(&e->cpu.x87.st[p], &saved.st[p], 10);
	uint8_t img[108];
	get(e, 0x100, img, sizeof(img));
	assert_int_equal(get16(img, 8), 0x06ff); /* the image's tag word */
	assert_memory_equal(img + 28, den, 10);  /* ST(0) first */
	env_free(e);
}

/* fninit; fldcw [DATA+0x10]; fld1 x 9; fnstsw ax; fld1; syscall */
static const uint8_t p_overflow[] = {
    0xdb, 0xe3, 0xd9, 0x2c, 0x25, 0x10, 0x00, 0x60, 0x00,       /* fninit; fldcw */
    0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, /* fld1 x 5 */
    0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8,             /* fld1 x 4: the 9th at 25 */
    0xdf, 0xe0,                                                 /* 27: fnstsw ax */
    0xd9, 0xe8,                                                 /* 29: fld1 */
    0x0f, 0x05,
};

static void test_stack_overflow(void **state)
{
	uint16_t cw = 0x37f;
	uint8_t img[512];
	struct env *e = env_new(p_overflow, sizeof(p_overflow));

	/* Masked: IE, SF, C1 = 1 and the QNaN indefinite pushed; the 10th push overflows too. */
	put(e, 0x10, &cw, 2);
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX] & 0xffff, 0x0241 | 7 << 11);
	assert_int_equal(e->cpu.x87.top, 6);
	assert_memory_equal(&e->cpu.x87.st[6], indefinite, 10);
	assert_memory_equal(&e->cpu.x87.st[7], indefinite, 10);
	assert_int_equal(e->cpu.x87.tag, 0xa000); /* 6, 7 special, the rest valid (1.0) */

	/* Unmasked: nothing pushed, ES and B set; FNSTSW does not wait, the next FLD1 takes #MF. */
	cw = 0x37e;
	put(e, 0x10, &cw, 2);
	assert_int_equal(run_at(e, 0, p_overflow, sizeof(p_overflow)), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_MF);
	assert_false(e->cpu.exc_has_error);
	assert_int_equal(e->cpu.rip, CODE + 29);
	assert_int_equal(e->cpu.gpr[R_RAX] & 0xffff, 0x82c1);
	assert_int_equal(e->cpu.x87.top, 0);
	assert_int_equal(e->cpu.x87.tag, 0);

	/* FXSAVE does not wait either, and stores the FOP and FIP of the 9th FLD1. */
	assert_int_equal(run_at(e, 0x100, p_fxsave64, sizeof(p_fxsave64)), CPU_EXIT_SYSCALL);
	get(e, 0, img, sizeof(img));
	assert_int_equal(get16(img, 2), 0x82c1);
	assert_int_equal(get16(img, 6), 0x1e8);
	uint64_t fip;
	memcpy(&fip, img + 8, 8);
	assert_int_equal(fip, CODE + 25);
	assert_int_equal(img[4], 0xff);

	/* The 32-bit images: FXSAVE without REX.W (FIP, CS), FNSTENV (FIP, CS:FOP, ones). */
	static const uint8_t fxsave32_fnstenv[] = {
	    0x0f, 0xae, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, /* fxsave [DATA] */
	    0xd9, 0x34, 0x25, 0x00, 0x04, 0x60, 0x00,       /* fnstenv [DATA+0x400] */
	    0x0f, 0x05,
	};
	assert_int_equal(run_at(e, 0x100, fxsave32_fnstenv, sizeof(fxsave32_fnstenv)),
	                 CPU_EXIT_SYSCALL);
	get(e, 0, img, sizeof(img));
	assert_int_equal(get16(img, 6), 0x1e8);
	memcpy(&fip, img + 8, 8);
	assert_int_equal(fip, 0x33ULL << 32 | (CODE + 25));
	uint8_t envb[28];
	get(e, 0x400, envb, sizeof(envb));
	assert_int_equal(get16(envb, 0), 0x37e);
	assert_int_equal(get16(envb, 2), 0xffff);
	assert_int_equal(get16(envb, 4), 0x82c1);
	assert_int_equal(get16(envb, 8), 0);
	uint32_t ip32;
	memcpy(&ip32, envb + 12, 4);
	assert_int_equal(ip32, CODE + 25);
	assert_int_equal(get16(envb, 16), 0x33);
	assert_int_equal(get16(envb, 18), 0x1e8);
	assert_int_equal(e->cpu.x87.cw, 0x37f); /* FNSTENV masks every exception */
	env_free(e);
}

static void test_stack_underflow(void **state)
{
	static const uint8_t code[] = {
	    0xdb, 0xe3,                                           /* fninit */
	    0xd8, 0xc1,                                           /* fadd st(0), st(1) */
	    0xdf, 0xe0,                                           /* fnstsw ax */
	    0xdd, 0x1c, 0x25, 0x40, 0x02, 0x60, 0x00,             /* fstp qword [DATA+0x240] */
	    0xdf, 0x1c, 0x25, 0x48, 0x02, 0x60, 0x00,             /* fistp word [DATA+0x248] */
	    0x48, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, /* fxsave64 [DATA] */
	    0x0f, 0x05,
	};
	uint8_t img[512];
	uint64_t d;
	uint16_t w;
	struct env *e = env_new(code, sizeof(code));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	/* FADD: IE, SF, C1 = 0; ST(0) = the indefinite, tagged special. */
	assert_int_equal(e->cpu.gpr[R_RAX] & 0xffff, 0x0041);
	/* FSTP stores it as the m64fp indefinite; FISTP of the empty ST(0): integer indefinite. */
	get(e, 0x240, &d, 8);
	assert_int_equal(d, 0xfff8000000000000ULL);
	get(e, 0x248, &w, 2);
	assert_int_equal(w, 0x8000);
	get(e, 0, img, sizeof(img));
	assert_int_equal(img[4], 0x00);
	assert_int_equal(get16(img, 2) & 0x3fff, 0x0041 | 2 << 11);
	env_free(e);
}

/* Precision control (single), rounding control (up), FCOMIP's flags, FISTP. */
static void test_control_word(void **state)
{
	static const uint8_t code[] = {
	    0xdb, 0xe3,                               /* fninit */
	    0xd9, 0x2c, 0x25, 0x10, 0x00, 0x60, 0x00, /* fldcw [DATA+0x10] */
	    0xd9, 0xe8,                               /* fld1 */
	    0xdb, 0x04, 0x25, 0x20, 0x00, 0x60, 0x00, /* fild dword [DATA+0x20] (3) */
	    0xde, 0xf9,                               /* fdivp st(1), st(0): 1/3 */
	    0xdd, 0x14, 0x25, 0x28, 0x00, 0x60, 0x00, /* fst qword [DATA+0x28] */
	    0xd9, 0xe8,                               /* fld1 */
	    0xdf, 0xf1,                               /* fcomip st(0), st(1) */
	    0xdb, 0x1c, 0x25, 0x30, 0x00, 0x60, 0x00, /* fistp dword [DATA+0x30] */
	    0x0f, 0x05,
	};
	uint16_t cw = 0x087f; /* PC single, RC up */
	int32_t three = 3, n = 7;
	uint32_t third_f = 0x3eaaaaab;
	float third;
	double got;
	struct env *e = env_new(code, sizeof(code));
	put(e, 0x10, &cw, 2);
	put(e, 0x20, &three, 4);
	cpu_set_rflags(&e->cpu, 0x202 | 0x8c5); /* CF PF ZF SF OF */
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	memcpy(&third, &third_f, 4);
	get(e, 0x28, &got, 8);
	assert_true(got == (double)third); /* 1/3 rounded to 24 bits, upward */
	/* 1.0 > 1/3: ZF = PF = CF = 0, and OF, SF, AF cleared too. */
	assert_int_equal(cpu_get_rflags(&e->cpu) & 0x8d5, 0);
	get(e, 0x30, &n, 4);
	assert_int_equal(n, 1); /* 1/3 rounded up */
	assert_int_equal(e->cpu.x87.tag, 0xffff);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fxsave_image_and_round_trip),
	    cmocka_unit_test(test_fxsave_faults),
	    cmocka_unit_test(test_fnsave_frstor),
	    cmocka_unit_test(test_stack_overflow),
	    cmocka_unit_test(test_stack_underflow),
	    cmocka_unit_test(test_control_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
