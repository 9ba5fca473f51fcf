/*
 * Unit tests for the software CPU's string instructions (src/accel/soft/
 * string.c, string_cmp.c; SDM vol. 2, MOVS/STOS/LODS/CMPS/SCAS and
 * "REP/REPE/REPZ/REPNE/REPNZ"), part 1: random cases against an element-by-
 * element model of the manual's pseudo-code (every size, REP/REPE/REPNE and
 * F2 on moves, DF both ways, 64- and 32-bit addresses, overlapping copies),
 * RCX = 0 touching no memory, 16- and 32-bit addresses that wrap (with
 * segment bases), segment overrides. test_soft_string_edge.c has faults,
 * code writes, stop requests, INS/OUTS and the benchmark.
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

#include "test_soft_string.h"

/* ---- the model: the SDM's pseudo-code, one element at a time ---- */

enum sop { M_MOVS, M_STOS, M_LODS, M_CMPS, M_SCAS, M_COUNT };
static const uint8_t sop_opcode[M_COUNT] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};
static const char *const sop_name[M_COUNT] = {"movs", "stos", "lods", "cmps", "scas"};

struct regs {
	uint64_t rax, rcx, rsi, rdi;
	bool df;
	uint32_t flags;
};

struct model {
	uint8_t *mem; /* a copy of [base, base + size) */
	uint64_t base, size;
};

static uint64_t m_ld(const struct model *m, uint64_t a, unsigned e)
{
	uint64_t v = 0;
	assert_true(a >= m->base && a + e <= m->base + m->size);
	memcpy(&v, m->mem + (a - m->base), e);
	return v;
}

static void m_st(struct model *m, uint64_t a, unsigned e, uint64_t v)
{
	assert_true(a >= m->base && a + e <= m->base + m->size);
	memcpy(m->mem + (a - m->base), &v, e);
}

static uint64_t set_w(uint64_t old, uint64_t v, unsigned bits)
{
	if (bits == 64)
		return v;
	if (bits == 32)
		return (uint32_t)v;
	uint64_t m = (1ULL << bits) - 1;
	return (old & ~m) | (v & m);
}

static uint32_t sub_flags(uint64_t a, uint64_t b, unsigned bits)
{
	uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1, msb = 1ULL << (bits - 1);
	uint64_t r = (a - b) & m;
	uint32_t f = 0;
	f |= a < b ? FLAG_CF : 0;
	f |= r == 0 ? FLAG_ZF : 0;
	f |= (r & msb) ? FLAG_SF : 0;
	f |= ((a ^ b) & (a ^ r) & msb) ? FLAG_OF : 0;
	f |= ((a ^ b ^ r) & 0x10) ? FLAG_AF : 0;
	f |= __builtin_parity((unsigned)(r & 0xff)) ? 0 : FLAG_PF;
	return f;
}

static void model_run(struct model *m, struct regs *s, enum sop op, uint8_t rep, unsigned e,
                      unsigned abits, uint64_t sbase, uint64_t dbase)
{
	uint64_t am = abits == 64 ? ~0ULL : (1ULL << abits) - 1;
	uint64_t em = e == 8 ? ~0ULL : (1ULL << (8 * e)) - 1;
	uint64_t step = s->df ? -(uint64_t)e : e;
	for (;;) {
		if (rep && (s->rcx & am) == 0)
			break;
		uint64_t si = s->rsi & am, di = s->rdi & am, a, b;
		switch (op) {
		case M_MOVS:
			m_st(m, dbase + di, e, m_ld(m, sbase + si, e));
			break;
		case M_STOS:
			m_st(m, dbase + di, e, s->rax & em);
			break;
		case M_LODS:
			s->rax = set_w(s->rax, m_ld(m, sbase + si, e), e == 4 ? 32 : 8 * e);
			break;
		case M_CMPS:
			a = m_ld(m, sbase + si, e);
			b = m_ld(m, dbase + di, e);
			s->flags = sub_flags(a, b, 8 * e);
			break;
		default:
			b = m_ld(m, dbase + di, e);
			s->flags = sub_flags(s->rax & em, b, 8 * e);
			break;
		}
		if (op == M_MOVS || op == M_LODS || op == M_CMPS)
			s->rsi = set_w(s->rsi, si + step, abits);
		if (op != M_LODS)
			s->rdi = set_w(s->rdi, di + step, abits);
		if (!rep)
			break;
		s->rcx = set_w(s->rcx, (s->rcx & am) - 1, abits);
		if (op == M_CMPS || op == M_SCAS) {
			if (rep == 0xf3 && !(s->flags & FLAG_ZF))
				break;
			if (rep == 0xf2 && (s->flags & FLAG_ZF))
				break;
		}
	}
}

/* Encodes [67] [rep] [66] [REX.W] opcode; returns the length. */
static size_t encode(uint8_t *p, enum sop op, uint8_t rep, unsigned e, bool p67)
{
	size_t n = 0;
	if (p67)
		p[n++] = 0x67;
	if (rep)
		p[n++] = rep;
	if (e == 2)
		p[n++] = 0x66;
	if (e == 8)
		p[n++] = 0x48;
	p[n++] = (uint8_t)(sop_opcode[op] + (e > 1));
	return n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Runs one instruction on the CPU and in the model from the same state; compares. */
static void check_case(struct env *e, struct model *m, const struct regs *in, enum sop op,
                       uint8_t rep, unsigned es, bool p67, const char *what)
{
	uint8_t code[8];
	size_t len = encode(code, op, rep, es, p67);
	struct regs want = *in;
	memcpy(m->mem, e->data, AREA);
	model_run(m, &want, op, rep, es, p67 ? 32 : 64, 0, 0);

	struct cpu *c = &e->cpu;
	c->gpr[R_RAX] = in->rax;
	c->gpr[R_RCX] = in->rcx;
	c->gpr[R_RSI] = in->rsi;
	c->gpr[R_RDI] = in->rdi;
	cpu_set_rflags(c, 0x202 | in->flags | (in->df ? FLAG_DF : 0));
	enum cpu_exit x = run_at(e, code, len, 1);
	if (x != CPU_EXIT_BUDGET || c->rip != CODE + len)
		fail_msg("%s: exit %d vector %d rip %#llx", what, x, c->exc_vector,
		         (unsigned long long)c->rip);
	if (c->gpr[R_RAX] != want.rax || c->gpr[R_RCX] != want.rcx || c->gpr[R_RSI] != want.rsi ||
	    c->gpr[R_RDI] != want.rdi || arith(c) != want.flags)
		fail_msg("%s: rax %#llx rcx %#llx rsi %#llx rdi %#llx flags %#x; want %#llx %#llx "
		         "%#llx %#llx %#x",
		         what, (unsigned long long)c->gpr[R_RAX], (unsigned long long)c->gpr[R_RCX],
		         (unsigned long long)c->gpr[R_RSI], (unsigned long long)c->gpr[R_RDI],
		         arith(c), (unsigned long long)want.rax, (unsigned long long)want.rcx,
		         (unsigned long long)want.rsi, (unsigned long long)want.rdi, want.flags);
	if (memcmp(m->mem, e->data, AREA) != 0) {
		size_t k = 0;
		while (m->mem[k] == e->data[k])
			k++;
		fail_msg("%s: memory differs at DATA+%#zx: %#x, want %#x", what, k, e->data[k],
		         m->mem[k]);
	}
}

/* Random cases: all sizes, prefixes, directions, overlaps; everything inside DATA. */
static void test_model_random(void **state)
{
	struct env *e = env_new(NPG);
	struct model m = {.mem = malloc(AREA), .base = DATA, .size = AREA};
	assert_non_null(m.mem);
	for (unsigned t = 0; t < 6000; t++) {
		enum sop op = (enum sop)below(M_COUNT);
		unsigned es = 1u << below(4);
		static const uint8_t reps[3] = {0, 0xf3, 0xf2};
		uint8_t rep = reps[below(3)];
		bool p67 = below(4) == 0, df = below(3) == 0;
		uint64_t k = below(100);
		uint64_t n = k < 10   ? 0
		             : k < 50 ? 1 + below(16)
		             : k < 90 ? below(600)
		                      : below(3 * PG);
		if (!rep)
			n = 1;
		n = MIN(n, (AREA / 2) / es);
		uint64_t span = MAX(n, 1) * es;
		uint64_t s_lo = below(AREA - span + 1), d_lo = below(AREA - span + 1);
		if ((op == M_MOVS || op == M_CMPS) && below(2)) {
			/* Overlap by a few bytes or a few elements either way. */
			int64_t d = (int64_t)below(2 * span + 16) - (int64_t)span - 8;
			if (below(2))
				d = (int64_t)below(4 * es + 1) - 2 * (int64_t)es;
			int64_t lo = (int64_t)s_lo + d;
			if (lo >= 0 && (uint64_t)lo + span <= AREA)
				d_lo = (uint64_t)lo;
		}
		for (size_t b = 0; b < AREA; b += 8) {
			uint64_t v = rnd();
			memcpy(e->data + b, &v, 8);
		}
		struct regs in = {.rax = rnd(), .df = df, .flags = (uint32_t)rnd() & ARITH};
		if (op == M_CMPS && below(4))
			memmove(e->data + d_lo, e->data + s_lo, span); /* equal runs for REPE */
		if (op == M_CMPS && below(2))
			e->data[d_lo + below(span)] ^= (uint8_t)(1 + below(255));
		if (op == M_SCAS) {
			uint64_t fillv = below(3) ? in.rax : rnd();
			for (uint64_t b = 0; b < span; b += es)
				memcpy(e->data + d_lo + b, &fillv, es);
			if (below(2))
				e->data[d_lo + below(span)] ^= (uint8_t)(1 + below(255));
		}
		in.rsi = DATA + s_lo + (df ? span - es : 0);
		in.rdi = DATA + d_lo + (df ? span - es : 0);
		in.rcx = rep ? n : rnd();
		if (p67) {
			in.rsi |= rnd() << 32;
			in.rdi |= rnd() << 32;
			in.rcx |= rnd() << 32;
		}
		char what[96];
		snprintf(what, sizeof(what), "case %u: %s%s%s%u%s n=%llu src+%#llx dst+%#llx", t,
		         p67 ? "a32 " : "",
		         rep == 0xf3 ? "rep "
		         : rep       ? "repne "
		                     : "",
		         sop_name[op], 8 * es, df ? " std" : "", (unsigned long long)n,
		         (unsigned long long)s_lo, (unsigned long long)d_lo);
		check_case(e, &m, &in, op, rep, es, p67, what);
	}
	free(m.mem);
	env_free(e);
}

/* ---- RCX = 0 ---- */

static void test_rcx_zero(void **state)
{
	struct env *e = env_new(1);
	static const uint8_t forms[][4] = {
	    {0xf3, 0xa4},       {0xf3, 0x48, 0xa5}, {0xf3, 0xaa},       {0xf3, 0x48, 0xab},
	    {0xf3, 0xac},       {0xf3, 0xa6},       {0xf2, 0xa7},       {0xf3, 0xae},
	    {0xf2, 0x66, 0xaf}, {0x67, 0xf3, 0xa4}, {0x67, 0xf2, 0xae},
	};
	static const uint8_t lens[] = {2, 3, 2, 3, 2, 2, 2, 2, 3, 3, 3};
	for (size_t k = 0; k < sizeof(lens); k++) {
		struct cpu *c = &e->cpu;
		/* Unmapped pointers: any access would fault. */
		c->gpr[R_RSI] = 0x1000;
		c->gpr[R_RDI] = 0x2000;
		c->gpr[R_RAX] = 0x55;
		c->gpr[R_RCX] = forms[k][0] == 0x67 ? 0xabcdef0100000000ULL : 0;
		uint64_t rcx = c->gpr[R_RCX];
		cpu_set_rflags(c, 0x202 | FLAG_CF | FLAG_SF | FLAG_DF);
		assert_int_equal(run_at(e, forms[k], lens[k], 1), CPU_EXIT_BUDGET);
		assert_int_equal(c->rip, CODE + lens[k]);
		assert_int_equal(c->gpr[R_RSI], 0x1000);
		assert_int_equal(c->gpr[R_RDI], 0x2000);
		assert_int_equal(c->gpr[R_RCX], rcx);
		assert_int_equal(c->gpr[R_RAX], 0x55);
		assert_int_equal(arith(c), FLAG_CF | FLAG_SF);
		assert_int_equal(c->icount, k + 1);
	}
	env_free(e);
}

/* ---- 32- and 16-bit addresses wrap ---- */

static void test_address_wrap(void **state)
{
	/* 64-bit mode, 67: ESI wraps from 0xfffffffe to 0 and the upper half is cleared. */
	struct env *e = env_new(1);
	struct cpu *c = &e->cpu;
	assert_int_equal(user_mem_map(e->m, 0xfffff000ULL, PG, RW, NULL), 0);
	assert_int_equal(user_mem_map(e->m, 0, PG, RW, NULL), 0);
	static const uint8_t hi[] = {0xaa, 0xbb}, lo[] = {0xcc, 0xdd};
	assert_int_equal(user_mem_write(e->m, 0xfffffffeULL, hi, 2), 0);
	assert_int_equal(user_mem_write(e->m, 0, lo, 2), 0);
	static const uint8_t a32[] = {0x67, 0xf3, 0xa4};
	c->gpr[R_RSI] = 0x55555555fffffffeULL;
	c->gpr[R_RDI] = 0x1234000000000000ULL | DATA;
	c->gpr[R_RCX] = 0x7777777700000004ULL;
	cpu_set_rflags(c, 0x202);
	assert_int_equal(run_at(e, a32, sizeof(a32), 1), CPU_EXIT_BUDGET);
	assert_int_equal(c->gpr[R_RSI], 2);
	assert_int_equal(c->gpr[R_RDI], DATA + 4);
	assert_int_equal(c->gpr[R_RCX], 0);
	static const uint8_t want4[] = {0xaa, 0xbb, 0xcc, 0xdd};
	assert_memory_equal(e->data, want4, 4);
	env_free(e);

	/* 32-bit code, 67: SI/DI/CX wrap at 64 KiB, the upper halves stay, and the
	 * segment bases (not page-aligned) are added after the wrap. */
	e = env_new(40);
	c = &e->cpu;
	struct model m = {.mem = malloc(e->data_len), .base = DATA, .size = e->data_len};
	assert_non_null(m.mem);
	static const uint8_t forms[][3] = {{0x67, 0xf3, 0xa4},
	                                   {0x67, 0xf3, 0xa5},
	                                   {0x67, 0xf3, 0xaa},
	                                   {0x67, 0xf3, 0xa6},
	                                   {0x67, 0xf2, 0xae}};
	static const enum sop ops[] = {M_MOVS, M_MOVS, M_STOS, M_CMPS, M_SCAS};
	static const unsigned sizes[] = {1, 4, 1, 1, 1};
	for (unsigned t = 0; t < 200; t++) {
		unsigned f = t % 5;
		c->mode = CPU_MODE_PROT32;
		c->seg[S_DS].base = DATA + 0x800 + below(0x800);
		c->seg[S_ES].base = DATA + 0x10000 + 0x800 + below(0x800);
		for (size_t b = 0; b < e->data_len; b++)
			e->data[b] = (uint8_t)(b % 251 == 0 ? rnd() : b % 13);
		struct regs in = {.rax = 0x0c, .df = t & 1, .flags = 0};
		uint64_t around = below(2) ? 0xff00 : 0x0080;
		in.rsi = 0x12340000 | (around + below(0x80));
		in.rdi = 0x56780000 | (0xff80 + below(0x100));
		in.rcx = 0x9abc0000 | (1 + below(0x200));
		struct regs want = in;
		memcpy(m.mem, e->data, e->data_len);
		model_run(&m, &want, ops[f], forms[f][1], sizes[f], 16, c->seg[S_DS].base,
		          c->seg[S_ES].base);
		c->gpr[R_RAX] = in.rax;
		c->gpr[R_RCX] = in.rcx;
		c->gpr[R_RSI] = in.rsi;
		c->gpr[R_RDI] = in.rdi;
		cpu_set_rflags(c, 0x202 | (in.df ? FLAG_DF : 0));
		assert_int_equal(run_at(e, forms[f], 3, 1), CPU_EXIT_BUDGET);
		if (c->gpr[R_RCX] != want.rcx || c->gpr[R_RSI] != want.rsi ||
		    c->gpr[R_RDI] != want.rdi || memcmp(m.mem, e->data, e->data_len) != 0 ||
		    ((ops[f] == M_CMPS || ops[f] == M_SCAS) && arith(c) != want.flags))
			fail_msg(
			    "a16 case %u: rcx %#llx rsi %#llx rdi %#llx, want %#llx %#llx %#llx", t,
			    (unsigned long long)c->gpr[R_RCX], (unsigned long long)c->gpr[R_RSI],
			    (unsigned long long)c->gpr[R_RDI], (unsigned long long)want.rcx,
			    (unsigned long long)want.rsi, (unsigned long long)want.rdi);
	}
	free(m.mem);
	env_free(e);
}

/* ---- segments: overrides on the source, ES fixed for the destination ---- */

static void test_segments(void **state)
{
	struct env *e = env_new(2);
	struct cpu *c = &e->cpu;
	for (size_t b = 0; b < 2 * PG; b++)
		e->data[b] = (uint8_t)b;
	/* 64-bit mode: fs movsb reads FS:RSI; an ES override is ignored. */
	static const uint8_t fs_movs[] = {0x64, 0xa4}, es_movs[] = {0x26, 0xa4};
	c->seg[S_FS].base = DATA;
	c->gpr[R_RSI] = 0x10;
	c->gpr[R_RDI] = DATA + PG;
	cpu_set_rflags(c, 0x202);
	assert_int_equal(run_at(e, fs_movs, 2, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->data[PG], 0x10);
	assert_int_equal(c->gpr[R_RSI], 0x11);
	c->gpr[R_RSI] = DATA + 0x20;
	c->seg[S_ES].base = 0x1000; /* ignored in 64-bit mode */
	assert_int_equal(run_at(e, es_movs, 2, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->data[PG + 1], 0x20);
	/* fs rep cmpsb: FS on the source only. */
	static const uint8_t fs_cmps[] = {0x64, 0xf3, 0xa6};
	c->gpr[R_RSI] = 0x40;
	c->gpr[R_RDI] = DATA + 0x40;
	c->gpr[R_RCX] = 100;
	assert_int_equal(run_at(e, fs_cmps, 3, 1), CPU_EXIT_BUDGET);
	assert_int_equal(c->gpr[R_RCX], 0);
	assert_true(arith(c) & FLAG_ZF);
	/* 32-bit code: ES base for the destination and an ES override on the source. */
	c->mode = CPU_MODE_PROT32;
	c->seg[S_DS].base = DATA;
	c->seg[S_ES].base = DATA + 0x100;
	e->data[0x5] = 0xaa;
	e->data[0x105] = 0xbb;
	c->gpr[R_RSI] = 0x5;
	c->gpr[R_RDI] = 0xf00;
	assert_int_equal(run_at(e, es_movs, 2, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->data[0x1000], 0xbb);
	static const uint8_t rep_stos[] = {0xf3, 0xab};
	c->gpr[R_RAX] = 0xdeadbeef;
	c->gpr[R_RCX] = 2;
	c->gpr[R_RDI] = 0xf04;
	assert_int_equal(run_at(e, rep_stos, 2, 1), CPU_EXIT_BUDGET);
	uint32_t v[2];
	memcpy(v, e->data + 0x1004, 8);
	assert_int_equal(v[0], 0xdeadbeef);
	assert_int_equal(v[1], 0xdeadbeef);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_random),
	    cmocka_unit_test(test_rcx_zero),
	    cmocka_unit_test(test_address_wrap),
	    cmocka_unit_test(test_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
