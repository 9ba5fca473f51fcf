/*
 * The block passes (src/accel/soft/blockopt.c: fused CMP/TEST + Jcc,
 * dead-flag handlers) against the unoptimised interpreter: random
 * sequences of register operations (among them the pairs the pair fusions
 * take: MOV r, r + ALU/shift on the copy, two ALU or shift operations on
 * one register), loads (some of them faulting), PUSHF and flag readers, ending
 * in CMP/TEST + Jcc or SYSCALL, some of them looping on themselves, run once as
 * whole blocks (passes applied) and once stepped with cpu_run(cpu, 1)
 * (one-instruction blocks, never optimised; that path is what the
 * difftest checks against the host CPU). Registers, every RFLAGS bit,
 * RIP, the exit and the exception must agree.
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
#include "accel/soft/user_mem.h"

#define CODE      0x400000ULL
#define DATA      0x600000ULL
#define UNMAPPED  0x800000ULL /* DATA + 2 pages is unmapped too */
#define STACK_TOP 0x7fff00000000ULL
#define PG        USER_PAGE_SIZE

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* rax rcx rdx rbx rbp rsi rdi: never rsp */
static unsigned rreg(void)
{
	static const uint8_t r[] = {0, 1, 2, 3, 5, 6, 7};
	return r[rnd() % 7];
}

struct prog {
	uint8_t b[1024];
	unsigned n;
};

static void emit(struct prog *p, unsigned k, ...)
{
	va_list ap;
	va_start(ap, k);
	for (unsigned j = 0; j < k; j++)
		p->b[p->n++] = (uint8_t)va_arg(ap, unsigned);
	va_end(ap);
}

static void emit32(struct prog *p, uint32_t v)
{
	for (unsigned j = 0; j < 4; j++)
		p->b[p->n++] = (uint8_t)(v >> (8 * j));
}

/* Operand-size prefix: none (32), REX.W (64) or 66 (16). */
static void osz(struct prog *p)
{
	unsigned s = rnd() % 4;
	if (s == 1 || s == 3)
		emit(p, 1, 0x48);
	else if (s == 2)
		emit(p, 1, 0x66);
}

static uint8_t rr(void)
{
	return (uint8_t)(0xc0 | rreg() << 3 | rreg());
}

/* A [abs32] operand: DATA (or an unmapped page when fault is set). */
static void absmem(struct prog *p, unsigned reg, bool fault)
{
	emit(p, 2, 0x04 | reg << 3, 0x25);
	emit32(p, (uint32_t)((fault ? UNMAPPED : DATA) + (rnd() % 64) * 8));
}

/*
 * An instruction with a [r8 + d8] or [r8 + r9*8 + d8] operand (r8 = DATA +
 * 0xf00, r9 = 0..31: some accesses cross into the second data page, a few
 * into the unmapped page after it). sz: 0 byte (opc8), 1 16-bit, 2 32-bit,
 * 3 64-bit.
 */
static void based(struct prog *p, unsigned sz, const uint8_t *opc, unsigned nopc, unsigned reg)
{
	bool idx = rnd() & 1;
	if (sz == 1)
		emit(p, 1, 0x66);
	emit(p, 1, 0x41 | (idx ? 2 : 0) | (sz == 3 ? 8 : 0));
	for (unsigned k = 0; k < nopc; k++)
		emit(p, 1, opc[k]);
	if (idx)
		emit(p, 3, 0x44 | reg << 3, 0xc8, (unsigned)rnd() & 0xff);
	else
		emit(p, 2, 0x40 | reg << 3, (unsigned)rnd() & 0xff);
}

static void random_based(struct prog *p)
{
	static const uint8_t alu[] = {0x8b, 0x03, 0x0b, 0x23, 0x2b, 0x33, 0x3b};
	static const uint8_t alu8[] = {0x8a, 0x02, 0x32, 0x3a};
	unsigned sz = 1 + (unsigned)(rnd() % 3), r = rreg();
	switch (rnd() % 6) {
	case 0:
	case 1:
		based(p, sz, &alu[rnd() % sizeof(alu)], 1, r);
		break;
	case 2:
		based(p, 0, &alu8[rnd() % sizeof(alu8)], 1, r);
		break;
	case 3: { /* movzx, movsx, movsxd */
		static const uint8_t x[][2] = {
		    {0x0f, 0xb6}, {0x0f, 0xb7}, {0x0f, 0xbe}, {0x0f, 0xbf}, {0x63, 0}};
		unsigned k = (unsigned)(rnd() % 5);
		based(p, k == 4 ? 2 + (unsigned)(rnd() % 2) : sz, x[k], k == 4 ? 1 : 2, r);
		break;
	}
	case 4: /* stores */
		based(p, rnd() % 4 == 0 ? 0 : sz, (const uint8_t[]){rnd() % 4 == 0 ? 0x88 : 0x89},
		      1, r);
		break;
	default: /* mov [mem], imm */
		if (rnd() & 1) {
			based(p, 0, (const uint8_t[]){0xc6}, 1, 0);
			emit(p, 1, (unsigned)rnd() & 0xff);
		} else {
			based(p, sz, (const uint8_t[]){0xc7}, 1, 0);
			if (sz == 1)
				emit(p, 2, (unsigned)rnd() & 0xff, (unsigned)rnd() & 0xff);
			else
				emit32(p, (uint32_t)rnd());
		}
		break;
	}
}

/* 32- or 64-bit operand size (the sizes the pair fusions take). */
static unsigned wide(struct prog *p, unsigned rex)
{
	bool w = rnd() & 1;
	if (w || rex)
		emit(p, 1, 0x40 | (w ? 8 : 0) | rex);
	return w;
}

/* ALU r, r (01 09 21 29 31: add or and sub xor), r, imm8 (83 /k) or a shift by imm8/1. */
static void alu_on(struct prog *p, unsigned dst, bool shifts)
{
	static const uint8_t rr_ops[] = {0x01, 0x09, 0x21, 0x29, 0x31};
	static const uint8_t ext[] = {0, 1, 4, 5, 6};
	static const uint8_t grp2[] = {0, 1, 4, 5, 7};
	wide(p, 0);
	switch (rnd() % (shifts ? 4 : 2)) {
	case 0: /* the source may be the destination itself */
		emit(p, 2, rr_ops[rnd() % 5], 0xc0 | (rnd() % 3 ? rreg() : dst) << 3 | dst);
		break;
	case 1:
		emit(p, 3, 0x83, 0xc0 | ext[rnd() % 5] << 3 | dst, (unsigned)rnd() & 0xff);
		break;
	case 2:
		emit(p, 3, 0xc1, 0xc0 | grp2[rnd() % 5] << 3 | dst, (unsigned)(rnd() % 66));
		break;
	default:
		emit(p, 2, 0xd1, 0xc0 | grp2[rnd() % 5] << 3 | dst);
		break;
	}
}

static void random_pair(struct prog *p)
{
	unsigned dst = rreg();
	if (rnd() & 1) { /* mov dst, src (89 /r) */
		wide(p, 0);
		emit(p, 2, 0x89, 0xc0 | rreg() << 3 | dst);
		alu_on(p, dst, true);
	} else { /* ALU + ALU, shift + ALU, ALU + shift, shift + shift */
		alu_on(p, dst, rnd() & 1);
		alu_on(p, dst, rnd() & 1);
	}
}

static void random_insn(struct prog *p)
{
	if (rnd() % 4 == 0) {
		random_based(p);
		return;
	}
	if (rnd() % 6 == 0) {
		random_pair(p);
		return;
	}
	static const uint8_t alu_rr[] = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85};
	static const uint8_t grp2[] = {0, 1, 4, 5, 7, 2};
	switch (rnd() % 16) {
	case 0:
	case 1:
	case 2:
		osz(p);
		emit(p, 2, alu_rr[rnd() % sizeof(alu_rr)], rr());
		break;
	case 3:
		osz(p);
		emit(p, 3, 0x83, 0xc0 | (unsigned)(rnd() % 8) << 3 | rreg(),
		     (unsigned)rnd() & 0xff);
		break;
	case 4: /* inc, dec, not, neg */
		osz(p);
		if (rnd() & 1)
			emit(p, 2, 0xff, 0xc0 | (unsigned)(rnd() % 2) << 3 | rreg());
		else
			emit(p, 2, 0xf7, 0xc0 | (2 + (unsigned)(rnd() % 2)) << 3 | rreg());
		break;
	case 5: /* shifts and rotates by imm8 (counts around 0 and the size) or 1; rcl */
		osz(p);
		if (rnd() & 1)
			emit(p, 3, 0xc1, 0xc0 | grp2[rnd() % 6] << 3 | rreg(),
			     (unsigned)(rnd() % 3 == 0 ? rnd() % 70 : rnd() % 4));
		else
			emit(p, 2, 0xd1, 0xc0 | grp2[rnd() % 6] << 3 | rreg());
		break;
	case 6: /* imul r, r and r, r, imm8 */
		if (rnd() & 1) {
			emit(p, 4, 0x48, 0x0f, 0xaf, rr());
		} else {
			osz(p);
			emit(p, 3, 0x6b, rr(), (unsigned)rnd() & 0xff);
		}
		break;
	case 7:
		osz(p);
		emit(p, 2, 0x89, rr());
		break;
	case 8: /* lea r, [r + r + d8] */
		emit(p, 4, 0x48, 0x8d, 0x44 | rreg() << 3, (rreg() << 3) | rreg());
		emit(p, 1, (unsigned)rnd() & 0xff);
		break;
	case 9: /* setcc r8, cmovcc */
		if (rnd() & 1)
			emit(p, 3, 0x0f, 0x90 | (unsigned)(rnd() % 16), 0xc0 | rreg());
		else
			emit(p, 4, 0x48, 0x0f, 0x40 | (unsigned)(rnd() % 16), rr());
		break;
	case 10: /* loads: mov / add / cmp r, [abs], rarely from an unmapped page */
		osz(p);
		emit(p, 1, (unsigned[]){0x8b, 0x03, 0x3b, 0x23}[rnd() % 4]);
		absmem(p, rreg(), rnd() % 24 == 0);
		break;
	case 11: /* pushf; pop r */
		if (rnd() % 3 == 0)
			emit(p, 2, 0x9c, 0x58 | rreg());
		else
			emit(p, 2, 0x8b, rr()); /* mov r32, r32 */
		break;
	case 12: /* adc / sbb r, imm8 */
		osz(p);
		emit(p, 3, 0x83, 0xc0 | (2 + (unsigned)(rnd() % 2)) << 3 | rreg(),
		     (unsigned)rnd() & 0xff);
		break;
	case 13: /* 8-bit ALU with high registers */
		emit(p, 2, alu_rr[rnd() % sizeof(alu_rr)] - 1, rr());
		break;
	case 14: /* store then more work: a barrier */
		osz(p);
		emit(p, 1, 0x89);
		absmem(p, rreg(), false);
		break;
	default:
		osz(p);
		emit(p, 2, 0x31, rr()); /* xor */
		break;
	}
}

static void random_end(struct prog *p)
{
	switch (rnd() % 6) {
	case 0:
		emit(p, 2, 0x0f, 0x05); /* syscall */
		return;
	case 1:
		osz(p);
		emit(p, 2, 0x39, rr()); /* cmp r, r */
		break;
	case 2:
		osz(p);
		emit(p, 2, 0x85, rr()); /* test r, r */
		break;
	case 3:
		osz(p);
		emit(p, 3, 0x83, 0xf8 | rreg(), (unsigned)rnd() & 0xff); /* cmp r, imm8 */
		break;
	case 4: /* cmp r, [abs] / cmp [abs], imm8 (maybe faulting) */
		osz(p);
		if (rnd() & 1) {
			emit(p, 1, 0x3b);
			absmem(p, rreg(), rnd() % 8 == 0);
		} else {
			emit(p, 1, 0x83);
			absmem(p, 7, rnd() % 8 == 0);
			emit(p, 1, (unsigned)rnd() & 0xff);
		}
		break;
	default: /* test r8, r8 / test r, imm32 */
		if (rnd() & 1) {
			emit(p, 2, 0x84, rr());
		} else {
			emit(p, 2, 0xf7, 0xc0 | rreg());
			emit32(p, (uint32_t)rnd());
		}
		break;
	}
	emit(p, 2, 0x70 | (unsigned)(rnd() % 16), 2); /* jcc +2 */
	emit(p, 4, 0x0f, 0x05, 0x0f, 0x05);           /* syscall; syscall */
}

struct state {
	uint64_t gpr[16], rip, rflags, mem_sum;
	int exit, vector;
};

static void run(const struct prog *p, const uint64_t *regs, bool step, struct state *out)
{
	struct user_mem *m = user_mem_create();
	assert_non_null(m);
	assert_int_equal(
	    user_mem_map(m, CODE, 2 * PG, USER_PROT_READ | USER_PROT_WRITE | USER_PROT_EXEC, NULL),
	    0);
	assert_int_equal(user_mem_map(m, DATA, 2 * PG, USER_PROT_READ | USER_PROT_WRITE, NULL), 0);
	assert_int_equal(
	    user_mem_map(m, STACK_TOP - 4 * PG, 4 * PG, USER_PROT_READ | USER_PROT_WRITE, NULL), 0);
	assert_int_equal(user_mem_write(m, CODE, p->b, p->n), 0);
	uint64_t data[PG / 8];
	for (unsigned k = 0; k < PG / 8; k++)
		data[k] = regs[k % 16] * (k + 1);
	assert_int_equal(user_mem_write(m, DATA, data, PG), 0);
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	assert_non_null(cpu);
	cpu_init_user64(cpu, &user_mem_ops, m);
	memcpy(cpu->gpr, regs, sizeof(cpu->gpr));
	cpu->gpr[R_RSP] = STACK_TOP;
	cpu->gpr[8] = DATA + 0xf00;
	cpu->gpr[9] = regs[9] % 32;
	cpu_set_rflags(cpu,
	               (cpu_get_rflags(cpu) & ~(uint64_t)FLAGS_ARITH) | (regs[4] & FLAGS_ARITH));
	cpu->rip = CODE;
	enum cpu_exit x;
	if (step) {
		unsigned guard = 0;
		while ((x = cpu_run(cpu, 1)) == CPU_EXIT_BUDGET)
			assert_true(++guard < 10000);
	} else {
		x = cpu_run(cpu, 0);
	}
	memcpy(out->gpr, cpu->gpr, sizeof(out->gpr));
	out->rip = cpu->rip;
	out->rflags = cpu_get_rflags(cpu);
	out->exit = x;
	out->mem_sum = 0;
	for (unsigned k = 0; k < 2 * PG / 8; k++) {
		uint64_t v;
		assert_int_equal(user_mem_read(m, DATA + 8 * k, &v, 8), 0);
		out->mem_sum = out->mem_sum * 31 + v;
	}
	out->vector = x == CPU_EXIT_EXCEPTION ? cpu->exc_vector : -1;
	cpu_fini(cpu);
	free(cpu);
	user_mem_destroy(m);
}

static void test_blocks_match_steps(void **state)
{
	unsigned faults = 0, taken = 0, loops = 0;
	for (unsigned t = 0; t < 4000; t++) {
		struct prog p = {.n = 0};
		unsigned len = 1 + (unsigned)(rnd() % 24);
		/* A quarter loop on themselves: mov $n, %r11d; L: body; dec %r11d; jnz L. */
		bool loop = rnd() % 4 == 0;
		if (loop) {
			emit(&p, 2, 0x41, 0xbb);
			emit32(&p, 1 + (uint32_t)(rnd() % 5));
		}
		unsigned head = p.n;
		for (unsigned k = 0; k < len; k++)
			random_insn(&p);
		if (loop) {
			emit(&p, 3, 0x41, 0xff, 0xcb);
			emit(&p, 2, 0x0f, 0x85); /* jnz rel32 */
			emit32(&p, (uint32_t)(head - (p.n + 4)));
			loops++;
		}
		random_end(&p);
		uint64_t regs[16];
		for (unsigned k = 0; k < 16; k++) {
			uint64_t v = rnd();
			switch (rnd() % 5) {
			case 0:
				v = 0;
				break;
			case 1:
				v = (uint64_t)-1;
				break;
			case 2:
				v = 1ULL << (rnd() % 64);
				break;
			case 3:
				v &= 0xff;
				break;
			}
			regs[k] = v;
		}
		struct state a, b;
		run(&p, regs, false, &a);
		run(&p, regs, true, &b);
		if (memcmp(a.gpr, b.gpr, sizeof(a.gpr)) || a.rip != b.rip || a.rflags != b.rflags ||
		    a.exit != b.exit || a.vector != b.vector || a.mem_sum != b.mem_sum) {
			for (unsigned k = 0; k < p.n; k++)
				print_message("%02x ", p.b[k]);
			print_message("\n");
			for (unsigned k = 0; k < 16; k++)
				if (a.gpr[k] != b.gpr[k])
					print_message("r%u: blocks %#llx stepped %#llx\n", k,
					              (unsigned long long)a.gpr[k],
					              (unsigned long long)b.gpr[k]);
			fail_msg(
			    "case %u: rip %#llx/%#llx rflags %#llx/%#llx exit %d/%d vector %d/%d",
			    t, (unsigned long long)a.rip, (unsigned long long)b.rip,
			    (unsigned long long)a.rflags, (unsigned long long)b.rflags, a.exit,
			    b.exit, a.vector, b.vector);
		}
		faults += a.exit == CPU_EXIT_EXCEPTION;
		taken += a.exit == CPU_EXIT_SYSCALL && a.rip == CODE + p.n;
	}
	/* The generator reaches both outcomes of the branches and the faults. */
	assert_true(faults > 50);
	assert_true(taken > 200);
	assert_true(loops > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocks_match_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
