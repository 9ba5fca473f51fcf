/*
 * Unit tests for the software CPU's integer families beyond part 1:
 * shift.c (shifts, rotates, SHLD/SHRD), muldiv.c, bitop.c (BT*, BSF/BSR,
 * LZCNT, POPCNT, BSWAP), intmisc.c (MOVBE, CRC32, ADCX/ADOX, XLAT) and
 * bcd.c (DAA ... AAD, SALC in 32-bit mode). Expected values follow the SDM;
 * undefined flags are not checked except where the AMD behaviour we copy
 * is the point. The differential harness (tests/softcpu) is the broad check.
 *
 * `test_soft_intops --bench [N [shift|mul|div|bt|rot]]` runs a loop of that kind
 * and prints MIPS (as test_soft_exec --bench does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accel/soft/cpu.h"
#include "accel/soft/cpuid.h"
#include "accel/soft/flags.h"
#include "accel/soft/user_mem.h"

#include "test_soft_env.h"

/* ---- one instruction, then UD2: registers and flags in and out ---- */

#define NOEXC 0xff /* the case ends at the UD2 */
#define ALL   FLAGS_ARITH
#define CO    (FLAG_CF | FLAG_OF)
#define M32   1 /* run in 32-bit protected mode */

struct icase {
	const char *name;
	uint8_t code[15];
	uint8_t len;
	uint64_t in[4];  /* RAX, RCX, RDX, RBX */
	uint32_t fin;    /* arithmetic flags before */
	uint64_t out[4]; /* expected RAX, RCX, RDX, RBX */
	uint32_t fout, care;
	uint8_t vector; /* NOEXC, or the exception raised at the instruction */
	uint8_t mode;
};

static const uint8_t reg_of[4] = {R_RAX, R_RCX, R_RDX, R_RBX};

static void run_cases(const struct icase *c, size_t n)
{
	for (size_t k = 0; k < n; k++, c++) {
		uint8_t code[32];
		memcpy(code, c->code, c->len);
		code[c->len] = 0x0f; /* ud2 */
		code[c->len + 1] = 0x0b;
		struct env *e = env_new(code, c->len + 2u);
		if (c->mode == M32)
			e->cpu.mode = CPU_MODE_PROT32;
		for (int r = 0; r < 4; r++)
			e->cpu.gpr[reg_of[r]] = c->in[r];
		cpu_set_rflags(&e->cpu, 0x202 | c->fin);
		enum cpu_exit x = cpu_run(&e->cpu, 0);
		uint8_t want_vec = c->vector == NOEXC ? EXC_UD : c->vector;
		uint64_t want_rip = CODE + (c->vector == NOEXC ? c->len : 0);
		if (x != CPU_EXIT_EXCEPTION || e->cpu.exc_vector != want_vec ||
		    e->cpu.rip != want_rip)
			fail_msg("%s: exit %d vector %d rip %#llx, want vector %d rip %#llx",
			         c->name, x, e->cpu.exc_vector, (unsigned long long)e->cpu.rip,
			         want_vec, (unsigned long long)want_rip);
		const uint64_t *want = c->vector == NOEXC ? c->out : c->in;
		for (int r = 0; r < 4; r++)
			if (e->cpu.gpr[reg_of[r]] != want[r])
				fail_msg("%s: reg %d = %#llx, want %#llx", c->name, reg_of[r],
				         (unsigned long long)e->cpu.gpr[reg_of[r]],
				         (unsigned long long)want[r]);
		uint32_t f = (uint32_t)cpu_get_rflags(&e->cpu) & FLAGS_ARITH;
		uint32_t wf = c->vector == NOEXC ? c->fout : c->fin;
		uint32_t care = c->vector == NOEXC ? c->care : ALL;
		if ((f & care) != (wf & care))
			fail_msg("%s: flags %#x, want %#x (mask %#x)", c->name, f, wf, care);
		env_free(e);
	}
}

#define CODE1(...) {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})
#define N(a)       (sizeof(a) / sizeof((a)[0]))
/* clang-format off */
#define ARR(...) {__VA_ARGS__}
/* T(name, (code bytes), (RAX, RCX, RDX, RBX in), flags in, (... out), flags out, flags checked) */
#define T(name, code, in, fin, out, fout, care) \
	{name, CODE1 code, ARR in, fin, ARR out, fout, care, NOEXC, 0}
/* TV: the same with the exception expected (NOEXC: none) and the mode (M32 or 0). */
#define TV(name, code, in, fin, out, fout, care, vec, mode) \
	{name, CODE1 code, ARR in, fin, ARR out, fout, care, vec, mode}

static const struct icase shifts[] = {
	T("shl eax,1 CF OF", (0xd1, 0xe0), (0xc0000001), 0, (0x80000002), FLAG_CF | FLAG_SF,
	   ALL & ~FLAG_AF),
	T("shl eax,cl 0: flags kept, upper half cleared", (0xd3, 0xe0), (0xffffffff00000001, 0x20),
	   ALL, (1, 0x20), ALL, ALL),
	T("shl rax,cl 65 = 1", (0x48, 0xd3, 0xe0), (1ULL << 63, 65), 0, (0, 65), FLAG_CF | FLAG_ZF,
	   FLAG_CF | FLAG_ZF | FLAG_SF),
	T("shl al,cl 9 clears", (0xd2, 0xe0), (0x1ff, 9), 0, (0x100, 9), FLAG_ZF | FLAG_PF,
	   FLAG_ZF | FLAG_PF | FLAG_SF),
	T("shr ax,1 OF = old MSB", (0x66, 0xd1, 0xe8), (0x8001), 0, (0x4000),
	   FLAG_CF | FLAG_OF | FLAG_PF, ALL & ~FLAG_AF),
	T("sar bl,7", (0xc0, 0xfb, 0x07), (0, 0, 0, 0x80), 0, (0, 0, 0, 0xff), FLAG_SF | FLAG_PF,
	   ALL & ~(FLAG_AF | FLAG_OF)),
	T("sar eax,31 CF", (0xc1, 0xf8, 0x1f), (0x40000000), 0, (0), FLAG_CF | FLAG_ZF | FLAG_PF,
	   FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF),
	T("shr eax,imm 32 masks to 0", (0xc1, 0xe8, 0x20), (0xffffffff80000000), FLAG_CF,
	   (0x80000000), FLAG_CF, ALL),
	T("rol al,1", (0xd0, 0xc0), (0x81), FLAG_ZF, (0x03), FLAG_CF | FLAG_ZF | FLAG_OF, ALL),
	T("ror eax,4", (0xc1, 0xc8, 0x04), (0x1234567f), 0, (0xf1234567), FLAG_CF, ALL & ~FLAG_OF),
	T("rol al,8 sets CF from bit 0", (0xc0, 0xc0, 0x08), (0x01), 0, (0x01), FLAG_CF,
	   ALL & ~FLAG_OF),
	T("rcl al,1 through CF", (0xd0, 0xd0), (0x80), FLAG_CF, (0x01), FLAG_CF | FLAG_OF, ALL),
	T("rcl al,9 = identity", (0xc0, 0xd0, 0x09), (0x5a), FLAG_CF, (0x5a), FLAG_CF,
	   ALL & ~FLAG_OF),
	T("rcr rax,1", (0x48, 0xd1, 0xd8), (3), FLAG_CF, ((1ULL << 63) | 1), FLAG_CF | FLAG_OF,
	   ALL),
	T("rcr ax,cl 17 = identity", (0x66, 0xd3, 0xd8), (0x1234, 17), 0, (0x1234, 17), 0,
	   ALL & ~FLAG_OF),
	T("shld eax,edx,8", (0x0f, 0xa4, 0xd0, 0x08), (0x11223344, 0, 0xaabbccdd), 0,
	   (0x223344aa, 0, 0xaabbccdd), FLAG_CF, FLAG_CF | FLAG_ZF | FLAG_SF),
	T("shrd rax,rdx,cl", (0x48, 0x0f, 0xad, 0xd0), (0x10, 4, 0xf), 0,
	   (0xf000000000000001, 4, 0xf), FLAG_SF, FLAG_CF | FLAG_ZF | FLAG_SF),
	T("shld ax,dx,16 = dx", (0x66, 0x0f, 0xa4, 0xd0, 0x10), (0x8001, 0, 0x1234), 0,
	   (0x1234, 0, 0x1234), FLAG_CF, FLAG_CF | FLAG_ZF | FLAG_SF),
};
/* clang-format on */

static void test_shifts(void **state)
{
	run_cases(shifts, N(shifts));
}

/* clang-format off */
static const struct icase muldiv[] = {
	T("mul bl", (0xf6, 0xe3), (0x80, 0, 0, 2), 0, (0x100, 0, 0, 2), CO, CO),
	T("mul ecx", (0xf7, 0xe1), (0xffffffff, 0xffffffff), 0, (1, 0xffffffff, 0xfffffffe), CO,
	   CO),
	T("mul rcx", (0x48, 0xf7, 0xe1), (~0ULL, ~0ULL), 0, (1, ~0ULL, ~0ULL - 1), CO, CO),
	T("imul rcx small", (0x48, 0xf7, 0xe9), (-3ULL, 5), CO, (-15ULL, 5, ~0ULL), 0, CO),
	T("imul cl overflow", (0xf6, 0xe9), (0x40, 2), 0, (0x80, 2), CO, CO),
	T("imul eax,ecx,imm8", (0x6b, 0xc1, 0x02), (0, 0x40000000), 0, (0x80000000, 0x40000000), CO,
	   CO),
	T("imul rax,rcx", (0x48, 0x0f, 0xaf, 0xc1), (3, -4ULL), CO, (-12ULL, -4ULL), 0, CO),
	T("div cl", (0xf6, 0xf1), (0x1234, 0x56), 0, (0x1036, 0x56), 0, 0),
	T("div rcx 128/64", (0x48, 0xf7, 0xf1), (0, 1ULL << 32, 1), 0, (1ULL << 32, 1ULL << 32, 0),
	   0, 0),
	TV("div ecx by 0", (0xf7, 0xf1), (7, 0, 0), 0, (0), 0, 0, EXC_DE, 0),
	TV("div ecx overflow", (0xf7, 0xf1), (0, 2, 2), 0, (0), 0, 0, EXC_DE, 0),
	TV("idiv ecx INT_MIN/-1", (0xf7, 0xf9), (0x80000000, 0xffffffff, 0xffffffff), 0, (0), 0, 0,
	   EXC_DE, 0),
	TV("idiv rcx INT64_MIN/-1", (0x48, 0xf7, 0xf9), (1ULL << 63, ~0ULL, ~0ULL), 0, (0), 0, 0,
	   EXC_DE, 0),
	T("idiv rcx 2^63/-1 fits", (0x48, 0xf7, 0xf9), (1ULL << 63, ~0ULL, 0), 0,
	   (1ULL << 63, ~0ULL, 0), 0, 0),
	T("idiv cl -7/2", (0xf6, 0xf9), ((uint16_t)-7, 2), 0, (0xfffd, 2), 0, 0),
	T("idiv rcx -7/2 (128)", (0x48, 0xf7, 0xf9), (-7ULL, 2, ~0ULL), 0, (-3ULL, 2, ~0ULL), 0, 0),
};
/* clang-format on */

static void test_muldiv(void **state)
{
	run_cases(muldiv, N(muldiv));
}

/* clang-format off */
static const struct icase bitops[] = {
	T("bt eax,ecx keeps ZF", (0x0f, 0xa3, 0xc8), (0x10, 36), FLAG_ZF, (0x10, 36),
	   FLAG_CF | FLAG_ZF, FLAG_CF | FLAG_ZF),
	T("bts rax,imm8 70", (0x48, 0x0f, 0xba, 0xe8, 70), (0), FLAG_CF, (1 << 6), 0, FLAG_CF),
	T("btr ax,cx", (0x66, 0x0f, 0xb3, 0xc8), (0xffff, 15), 0, (0x7fff, 15), FLAG_CF, FLAG_CF),
	T("btc ecx,imm8", (0x0f, 0xba, 0xf9, 0x1f), (0, 0), 0, (0, 0x80000000), 0, FLAG_CF),
	T("bsf ecx,edx", (0x0f, 0xbc, 0xca), (0, 0, 0x100), FLAG_ZF, (0, 8, 0x100), 0, FLAG_ZF),
	T("bsf zero keeps dest", (0x0f, 0xbc, 0xca), (0, 0x1122334455667788, 0), 0,
	   (0, 0x1122334455667788, 0), FLAG_ZF, FLAG_ZF),
	T("bsr rcx,rdx", (0x48, 0x0f, 0xbd, 0xca), (0, 0, 1ULL << 63), 0, (0, 63, 1ULL << 63), 0,
	   FLAG_ZF),
	T("tzcnt is bsf (no BMI1)", (0xf3, 0x0f, 0xbc, 0xca), (0, 5, 0), 0, (0, 5, 0), FLAG_ZF,
	   FLAG_ZF),
	T("lzcnt ecx,0", (0xf3, 0x0f, 0xbd, 0xca), (0, 5, 0), FLAG_ZF, (0, 32, 0), FLAG_CF,
	   FLAG_CF | FLAG_ZF),
	T("lzcnt ax,1<<15", (0x66, 0xf3, 0x0f, 0xbd, 0xc2), (0xffff, 0, 0x8000), 0, (0, 0, 0x8000),
	   FLAG_ZF, FLAG_CF | FLAG_ZF),
	T("popcnt rcx,rdx", (0xf3, 0x48, 0x0f, 0xb8, 0xca), (0, 0, 0xf0f0), ALL, (0, 8, 0xf0f0), 0,
	   ALL),
	T("popcnt 0 ZF", (0xf3, 0x0f, 0xb8, 0xca), (0, 9, 0), 0, (0, 0, 0), FLAG_ZF, ALL),
	T("bswap eax", (0x0f, 0xc8), (0xffffffff11223344), 0, (0x44332211), 0, 0),
	T("bswap rcx", (0x48, 0x0f, 0xc9), (0, 0x0102030405060708), 0, (0, 0x0807060504030201), 0,
	   0),
	T("bswap ax clears (AMD)", (0x66, 0x0f, 0xc8), (0x12345678), 0, (0x12340000), 0, 0),
};
/* clang-format on */

static void test_bitops(void **state)
{
	run_cases(bitops, N(bitops));
}

/* BT with a register offset reaches beyond the operand, both ways; LOCK BTS. */
static void test_bt_memory(void **state)
{
	/* bts [rbx], rcx; btr dword [rbx], edx; lock btc word [rbx+2], ax; bt qword [rbx], 63 */
	static const uint8_t code[] = {0x48, 0x0f, 0xab, 0x0b, 0x0f, 0xb3, 0x13, 0xf0, 0x66, 0x0f,
	                               0xbb, 0x43, 0x02, 0x48, 0x0f, 0xba, 0x23, 0x3f, 0x0f, 0x0b};
	struct env *e = env_new(code, sizeof(code));
	uint8_t z[64] = {0};
	assert_int_equal(user_mem_write(e->m, DATA, z, sizeof(z)), 0);
	e->cpu.gpr[R_RBX] = DATA + 32;
	e->cpu.gpr[R_RCX] = 8 * 8 + 3;             /* byte 40, bit 3 */
	e->cpu.gpr[R_RDX] = (uint32_t) - (32 * 8); /* byte 0 of DATA, bit 0: already 0 */
	e->cpu.gpr[R_RAX] = (uint16_t)-17;         /* word [rbx+2-4], bit 15: byte 31, bit 7 */
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	uint8_t got[64];
	assert_int_equal(user_mem_read(e->m, DATA, got, sizeof(got)), 0);
	assert_int_equal(got[40], 0x08);
	assert_int_equal(got[31], 0x80);
	for (int k = 0; k < 64; k++)
		if (k != 40 && k != 31)
			assert_int_equal(got[k], 0);
	assert_false(cpu_get_rflags(&e->cpu) & FLAG_CF); /* bit 63 of [rbx] */
	env_free(e);
}

/* CRC-32C steps from ~0 over a zero byte and a zero qword (values from a reference model). */
/* clang-format off */
static const struct icase misc[] = {
	T("crc32 eax,cl", (0xf2, 0x0f, 0x38, 0xf0, 0xc1), (0xffffffff, 0), 0,
	   (0xad7d5351 ^ 0x00ffffff, 0), 0, 0),
	T("crc32 rax,rcx zero-extends", (0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc1),
	   (0xffffffffffffffff, 0), 0, (0x0000000073d74d75, 0), 0, 0),
	T("adcx eax,ecx keeps ZF/OF", (0x66, 0x0f, 0x38, 0xf6, 0xc1), (0xffffffff, 0),
	   FLAG_CF | FLAG_ZF | FLAG_OF, (0, 0), FLAG_CF | FLAG_ZF | FLAG_OF, ALL),
	T("adox rax,rcx", (0xf3, 0x48, 0x0f, 0x38, 0xf6, 0xc1), (~0ULL, 1), FLAG_CF, (0, 1),
	   FLAG_CF | FLAG_OF, ALL),
};
/* clang-format on */

static void test_misc(void **state)
{
	run_cases(misc, N(misc));
}

/* MOVBE both ways, 16/32/64; XLAT. */
static void test_movbe_xlat(void **state)
{
	static const uint8_t code[] = {
	    0x0f, 0x38, 0xf0, 0x03,       /* movbe eax, [rbx] */
	    0x48, 0x0f, 0x38, 0xf1, 0x4b, /* movbe [rbx+8], rcx */
	    0x08, 0x66, 0x0f, 0x38, 0xf0, /* movbe dx, [rbx+16] */
	    0x53, 0x10, 0xb0, 0x05,       /* mov al, 5 */
	    0x48, 0x8d, 0x5b, 0x18,       /* lea rbx, [rbx+24] */
	    0xd7,                         /* xlat */
	    0x0f, 0x0b,
	};
	struct env *e = env_new(code, sizeof(code));
	uint8_t d[32];
	for (int k = 0; k < 32; k++)
		d[k] = (uint8_t)(0x10 + k);
	assert_int_equal(user_mem_write(e->m, DATA, d, sizeof(d)), 0);
	e->cpu.gpr[R_RBX] = DATA;
	e->cpu.gpr[R_RCX] = 0x0102030405060708;
	e->cpu.gpr[R_RDX] = 0xffffffffffffffff;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	assert_int_equal(e->cpu.gpr[R_RAX], 0x10111200 | (0x10 + 24 + 5));
	assert_int_equal(e->cpu.gpr[R_RDX], 0xffffffffffff2021);
	uint64_t q;
	assert_int_equal(user_mem_read(e->m, DATA + 8, &q, 8), 0);
	assert_int_equal(q, 0x0807060504030201);
	env_free(e);
}

/* BCD in 32-bit mode (#UD in 64-bit mode); flag values measured on AMD. */
/* clang-format off */
static const struct icase bcd[] = {
	TV("daa 0x7a -> 0x80 OF", (0x27), (0x7a), 0, (0x80), FLAG_AF | FLAG_SF | FLAG_OF, ALL,
	   NOEXC, M32),
	TV("daa 0x9b CF", (0x27), (0x9b), 0, (0x01), FLAG_CF | FLAG_AF, ALL, NOEXC, M32),
	TV("das 0x03 AF borrow", (0x2f), (0x03), FLAG_AF, (0xfd), FLAG_CF | FLAG_AF | FLAG_SF, ALL,
	   NOEXC, M32),
	TV("aaa 0x99fb AF CF", (0x37), (0x99fb), ALL, (0x9b01), FLAG_SF | FLAG_AF | FLAG_CF, ALL,
	   NOEXC, M32),
	TV("aas 0x0105", (0x3f), (0x0105), FLAG_AF, (0xff0f), FLAG_AF | FLAG_CF | FLAG_SF | FLAG_PF,
	   ALL, NOEXC, M32),
	TV("aam 10", (0xd4, 0x0a), (0x3f), 0, (0x0603), FLAG_PF, ALL, NOEXC, M32),
	TV("aam 0 #DE", (0xd4, 0x00), (0x3f), 0, (0), 0, 0, EXC_DE, M32),
	TV("aad 10", (0xd5, 0x0a), (0x0603), 0, (0x3f), FLAG_PF, ALL, NOEXC, M32),
	TV("salc", (0xd6), (0x1234), FLAG_CF, (0x12ff), FLAG_CF, ALL, NOEXC, M32),
	TV("daa #UD in 64-bit", (0x27), (0x7a), 0, (0), 0, 0, EXC_UD, 0),
};
/* clang-format on */

static void test_bcd(void **state)
{
	run_cases(bcd, N(bcd));
}

/*
 * Rotates, BT* and ADCX/ADOX change some flags and keep the others, and
 * stay lazy after a lazy op (LF_ROT, flags.h). The differential harness
 * starts every case with RFLAGS materialised, so check the lazy path here:
 * "prefix; op" must give the flags "prefix; pushf; popf; op" gives.
 */
struct enc {
	uint8_t b[8], n;
};
#define E(...)                                                                                     \
	{                                                                                          \
		{__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})                                    \
	}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void run_seq(const struct enc *const *parts, size_t nparts, const uint64_t in[4],
                    uint32_t fin, uint64_t out[4])
{
	uint8_t code[64];
	size_t n = 0;
	for (size_t k = 0; k < nparts; k++) {
		memcpy(code + n, parts[k]->b, parts[k]->n);
		n += parts[k]->n;
	}
	/* setb sil; sete dil; pushf; pop rdx; ud2 */
	static const uint8_t tail[] = {0x40, 0x0f, 0x92, 0xc6, 0x40, 0x0f,
	                               0x94, 0xc7, 0x9c, 0x5a, 0x0f, 0x0b};
	memcpy(code + n, tail, sizeof(tail));
	struct env *e = env_new(code, n + sizeof(tail));
	for (int r = 0; r < 4; r++)
		e->cpu.gpr[reg_of[r]] = in[r];
	cpu_set_rflags(&e->cpu, 0x202 | fin);
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	out[0] = e->cpu.gpr[R_RAX];
	out[1] = e->cpu.gpr[R_RDX] & FLAGS_ARITH;
	out[2] = e->cpu.gpr[R_RSI] & 0xff;
	out[3] = e->cpu.gpr[R_RDI] & 0xff;
	env_free(e);
}

static void test_lazy_keeps_flags(void **state)
{
	static const struct enc prefix[] = {
	    E(0x48, 0x01, 0xd8),       E(0x48, 0x11, 0xd8),
	    E(0x48, 0x29, 0xd8),       E(0x48, 0x19, 0xd8),
	    E(0x48, 0x21, 0xd8),       E(0xff, 0xc0),
	    E(0x66, 0xff, 0xc8),       E(0x48, 0xf7, 0xd8),
	    E(0x48, 0xd3, 0xe0),       E(0xd1, 0xe8),
	    E(0xc0, 0xf8, 0x03),       E(0x48, 0xc1, 0xc0, 0x05),
	    E(0x48, 0x0f, 0xa3, 0xd8), E(0x38, 0xc3),
	    E(0x48, 0x0f, 0xaf, 0xc3), E(0xf3, 0x48, 0x0f, 0xb8, 0xc3),
	    E(0x48, 0x0f, 0xa5, 0xd8),
	};
	/* op, flags it must agree on */
	static const struct {
		struct enc op;
		uint32_t care;
	} ops[] = {
	    {E(0x48, 0xc1, 0xc0, 0x07), ALL},               /* rol rax, 7 */
	    {E(0xd1, 0xc8), ALL},                           /* ror eax, 1 */
	    {E(0x66, 0xc1, 0xd0, 0x03), ALL},               /* rcl ax, 3 */
	    {E(0x48, 0xd3, 0xd8), ALL},                     /* rcr rax, cl */
	    {E(0xd2, 0xc0), ALL},                           /* rol al, cl */
	    {E(0x48, 0xd1, 0xc0), ALL},                     /* rol rax, 1 */
	    {E(0x48, 0x0f, 0xa3, 0xc8), FLAG_CF | FLAG_ZF}, /* bt rax, rcx */
	    {E(0x0f, 0xba, 0xfb, 0x03), FLAG_CF | FLAG_ZF}, /* btc ebx, 3 */
	    {E(0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3), ALL},   /* adcx rax, rbx */
	    {E(0xf3, 0x0f, 0x38, 0xf6, 0xc3), ALL},         /* adox eax, ebx */
	};
	static const struct enc popf = E(0x9c, 0x9d); /* pushf; popf: materialises */
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (size_t p = 0; p < N(prefix); p++) {
		for (size_t o = 0; o < N(ops); o++) {
			for (int k = 0; k < 24; k++) {
				uint64_t in[4], a[4], b[4];
				for (int r = 0; r < 4; r++)
					in[r] = xorshift(&seed) >> (xorshift(&seed) & 63);
				in[1] &= 0xff; /* a count in CL */
				uint32_t fin = (uint32_t)xorshift(&seed) & FLAGS_ARITH;
				const struct enc *lazy[] = {&prefix[p], &ops[o].op};
				const struct enc *eager[] = {&prefix[p], &popf, &ops[o].op};
				run_seq(lazy, 2, in, fin, a);
				run_seq(eager, 3, in, fin, b);
				uint32_t care = ops[o].care;
				if (a[0] != b[0] || (a[1] & care) != (b[1] & care) ||
				    a[2] != b[2] || a[3] != b[3])
					fail_msg("prefix %zu op %zu: lazy rax %#llx flags %#llx "
					         "setb %llu "
					         "sete %llu, eager %#llx %#llx %llu %llu",
					         p, o, (unsigned long long)a[0],
					         (unsigned long long)a[1], (unsigned long long)a[2],
					         (unsigned long long)a[3], (unsigned long long)b[0],
					         (unsigned long long)b[1], (unsigned long long)b[2],
					         (unsigned long long)b[3]);
			}
		}
	}
}

/* The CPUID bits this work turns on (and BMI1, which it must not). */
static void test_cpuid_bits(void **state)
{
	size_t n;
	const struct cpuid_entry *t = softcpu_default_cpuid(&n);
	uint32_t c1 = 0, x1c = 0, l7b = 0;
	for (size_t k = 0; k < n; k++) {
		if (t[k].function == 1)
			c1 = t[k].ecx;
		if (t[k].function == 0x80000001)
			x1c = t[k].ecx;
		if (t[k].function == 7 && t[k].index == 0)
			l7b = t[k].ebx;
	}
	assert_true(c1 & (1u << 23));  /* POPCNT */
	assert_true(c1 & (1u << 22));  /* MOVBE */
	assert_true(x1c & (1u << 5));  /* ABM: LZCNT */
	assert_true(l7b & (1u << 19)); /* ADX */
	assert_false(l7b & (1u << 3)); /* no BMI1 (VEX) */
}

/* ---- micro-benchmarks ---- */

/* ECX counts the iterations (bytes 1-4 are the count). */
static const uint8_t bench_shift[] = {
    0xb9, 0,    0,    0,    0, /* mov ecx, N */
    0x48, 0xc1, 0xe0, 0x05,    /* l: shl rax, 5 */
    0x48, 0x31, 0xc8,          /* xor rax, rcx */
    0x48, 0xd3, 0xea,          /* shr rdx, cl */
    0x48, 0xc1, 0xc3, 0x0d,    /* rol rbx, 13 */
    0xff, 0xc9,                /* dec ecx */
    0x75, 0xef,                /* jnz l */
    0x0f, 0x05,
};
static const uint8_t bench_mul[] = {
    0xb9, 0,    0,    0,    0, /* mov ecx, N */
    0x48, 0x89, 0xc8,          /* l: mov rax, rcx */
    0x48, 0xf7, 0xe6,          /* mul rsi */
    0x48, 0x0f, 0xaf, 0xf9,    /* imul rdi, rcx */
    0x48, 0x01, 0xc7,          /* add rdi, rax */
    0xff, 0xc9,                /* dec ecx */
    0x75, 0xef,                /* jnz l */
    0x0f, 0x05,
};
static const uint8_t bench_div[] = {
    0xb9, 0,    0,    0, 0, /* mov ecx, N */
    0x48, 0x89, 0xf8,       /* l: mov rax, rdi */
    0x31, 0xd2,             /* xor edx, edx */
    0x48, 0xf7, 0xf1,       /* div rcx */
    0xff, 0xc9,             /* dec ecx */
    0x75, 0xf4,             /* jnz l */
    0x0f, 0x05,
};
static const uint8_t bench_bt[] = {
    0xb9, 0,    0,    0,    0,       /* mov ecx, N */
    0x89, 0xca,                      /* l: mov edx, ecx */
    0x81, 0xe2, 0xff, 0x03, 0,    0, /* and edx, 1023 */
    0x48, 0x0f, 0xab, 0x16,          /* bts [rsi], rdx */
    0x48, 0x0f, 0xa3, 0xc8,          /* bt rax, rcx */
    0x48, 0x0f, 0xbc, 0xd1,          /* bsf rdx, rcx */
    0xf3, 0x48, 0x0f, 0xb8, 0xd9,    /* popcnt rbx, rcx */
    0xff, 0xc9,                      /* dec ecx */
    0x75, 0xe3,                      /* jnz l */
    0x0f, 0x05,
};
/* Rotates between flag-writing ALU instructions (each rotate must keep SF/ZF/AF/PF). */
static const uint8_t bench_rot[] = {
    0xb9, 0,    0,    0,    0, /* mov ecx, N */
    0x48, 0x31, 0xc8,          /* l: xor rax, rcx */
    0x48, 0xc1, 0xc0, 0x0d,    /* rol rax, 13 */
    0x48, 0x01, 0xc3,          /* add rbx, rax */
    0x48, 0xc1, 0xcb, 0x07,    /* ror rbx, 7 */
    0xff, 0xc9,                /* dec ecx */
    0x75, 0xee,                /* jnz l */
    0x0f, 0x05,
};

static int bench(uint64_t iters, const char *kind)
{
	static const struct {
		const char *name;
		const uint8_t *code;
		size_t len;
	} kinds[] = {
	    {"shift", bench_shift, sizeof(bench_shift)}, {"mul", bench_mul, sizeof(bench_mul)},
	    {"div", bench_div, sizeof(bench_div)},       {"bt", bench_bt, sizeof(bench_bt)},
	    {"rot", bench_rot, sizeof(bench_rot)},
	};
	size_t k = 0;
	while (k < N(kinds) - 1 && strcmp(kinds[k].name, kind) != 0)
		k++;
	uint8_t code[64];
	uint32_t n = (uint32_t)iters;
	memcpy(code, kinds[k].code, kinds[k].len);
	memcpy(code + 1, &n, 4);
	struct env *e = env_new(code, kinds[k].len);
	e->cpu.gpr[R_RSI] = DATA;
	e->cpu.gpr[R_RDI] = ~0ULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	enum cpu_exit x = cpu_run(&e->cpu, 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	printf("%s: %llu instructions in %.3f s of CPU time: %.0f MIPS\n", kinds[k].name,
	       (unsigned long long)e->cpu.icount, s, (double)e->cpu.icount / s / 1e6);
	env_free(e);
	return x == CPU_EXIT_SYSCALL ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc > 2 ? strtoull(argv[2], NULL, 0) : 100000000,
		             argc > 3 ? argv[3] : "shift");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shifts),
	    cmocka_unit_test(test_muldiv),
	    cmocka_unit_test(test_bitops),
	    cmocka_unit_test(test_bt_memory),
	    cmocka_unit_test(test_misc),
	    cmocka_unit_test(test_movbe_xlat),
	    cmocka_unit_test(test_bcd),
	    cmocka_unit_test(test_cpuid_bits),
	    cmocka_unit_test(test_lazy_keeps_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
