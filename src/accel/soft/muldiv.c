/*
 * Multiply and divide (SDM vol. 2: "MUL", "IMUL", "DIV", "IDIV"; vol. 1,
 * 7.3.2.4): the one-operand forms on rDX:rAX (AH:AL for bytes), the two-
 * operand IMUL (0F AF) and the three-operand IMUL (69, 6B), every size,
 * register and memory sources.
 *
 * MUL/IMUL set CF = OF = "the upper half is significant"; SF, ZF, AF and PF
 * are undefined: we clear them (no lazy state to evaluate first). DIV/IDIV
 * leave every flag (all undefined) as it was. A zero divisor or a quotient
 * that does not fit the destination (INT_MIN / -1 included) raises #DE
 * before any register changes. 128/64-bit division uses unsigned __int128,
 * with 64-bit fast paths when the dividend fits in 64 bits.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 s128;

/* Writes the arithmetic flags of a multiply: CF = OF = ov, the others cleared. */
static inline __attribute__((always_inline)) void mul_flags(struct cpu *cpu, bool ov)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | (ov ? FLAG_CF | FLAG_OF : 0);
	cpu->lf.op = LF_NONE;
}

/* ---- one operand: rDX:rAX <- rAX * src ---- */

static inline __attribute__((always_inline)) void mul1(struct cpu *cpu, bool sgn, unsigned sz,
                                                       uint64_t b)
{
	uint64_t a = reg_get(cpu, sz, R_RAX), lo, hi;
	bool ov;

	if (sz == SZ64) {
		if (sgn) {
			s128 p = (s128)(int64_t)a * (int64_t)b;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ov = (int64_t)hi != (int64_t)lo >> 63;
		} else {
			u128 p = (u128)a * b;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ov = hi != 0;
		}
	} else {
		unsigned w = 8u << sz;
		uint64_t p = sgn ? (uint64_t)(size_sext(a, sz) * size_sext(b, sz)) : a * b;
		lo = p & size_mask(sz);
		hi = (p >> w) & size_mask(sz);
		ov = sgn ? (int64_t)p != size_sext(lo, sz) : hi != 0;
	}
	if (sz == SZ8) {
		reg_set(cpu, SZ16, R_RAX, hi << 8 | lo);
	} else {
		reg_set(cpu, sz, R_RAX, lo);
		reg_set(cpu, sz, R_RDX, hi);
	}
	mul_flags(cpu, ov);
}

/* ---- rDX:rAX / src -> quotient in rAX, remainder in rDX (AL, AH for bytes) ---- */

static inline __attribute__((always_inline)) void div1(struct cpu *cpu, const struct insn *i,
                                                       bool sgn, unsigned sz, uint64_t d)
{
	const unsigned w = 8u << sz;
	const uint64_t m = size_mask(sz);
	uint64_t lo, hi, q, r;

	if (sz == SZ8) {
		uint64_t ax = reg_get(cpu, SZ16, R_RAX);
		lo = ax & 0xff;
		hi = ax >> 8;
	} else {
		lo = reg_get(cpu, sz, R_RAX);
		hi = reg_get(cpu, sz, R_RDX);
	}
	if (unlikely(!(d & m)))
		insn_raise(cpu, i, EXC_DE, 0, false);
	if (!sgn) {
		d &= m;
		if (hi >= d) /* the quotient would not fit (and 0 / d needs no wide division) */
			insn_raise(cpu, i, EXC_DE, 0, false);
		if (sz == SZ64) {
			if (!hi) {
				q = lo / d;
				r = lo % d;
			} else {
				u128 n = (u128)hi << 64 | lo;
				q = (uint64_t)(n / d);
				r = (uint64_t)(n % d);
			}
		} else {
			uint64_t n = hi << w | lo;
			q = n / d;
			r = n % d;
		}
	} else {
		/* Magnitudes in unsigned arithmetic: no overflow for any dividend. */
		bool nn = (int64_t)(hi << (64 - w)) < 0, nd = size_sext(d, sz) < 0;
		uint64_t ud = nd ? 0 - (uint64_t)size_sext(d, sz) : d & m, uq, ur;
		if (sz == SZ64) {
			if ((int64_t)hi == (int64_t)lo >> 63) {
				uint64_t un = nn ? 0 - lo : lo;
				uq = un / ud;
				ur = un % ud;
			} else {
				u128 n = (u128)hi << 64 | lo;
				u128 un = nn ? 0 - n : n;
				if ((un >> 64) >= ud) /* magnitude of the quotient >= 2^64 */
					insn_raise(cpu, i, EXC_DE, 0, false);
				uq = (uint64_t)(un / ud);
				ur = (uint64_t)(un % ud);
			}
		} else {
			uint64_t n = hi << w | lo;
			uint64_t un = nn ? (0 - n) & (w == 32 ? ~0ULL : (1ULL << 2 * w) - 1) : n;
			uq = un / ud;
			ur = un % ud;
		}
		/* The quotient must fit: -2^(w-1) <= q <= 2^(w-1) - 1. */
		if (uq > (nn != nd ? 1ULL << (w - 1) : (1ULL << (w - 1)) - 1))
			insn_raise(cpu, i, EXC_DE, 0, false);
		q = nn != nd ? 0 - uq : uq;
		r = nn ? 0 - ur : ur;
	}
	if (sz == SZ8) {
		reg_set(cpu, SZ16, R_RAX, (r & 0xff) << 8 | (q & 0xff));
	} else {
		reg_set(cpu, sz, R_RAX, q);
		reg_set(cpu, sz, R_RDX, r);
	}
}

enum { D_MUL, D_IMUL1, D_DIV, D_IDIV };

static inline __attribute__((always_inline)) void op1(struct cpu *cpu, const struct insn *i,
                                                      unsigned k, unsigned sz, uint64_t v)
{
	if (k == D_MUL || k == D_IMUL1)
		mul1(cpu, k == D_IMUL1, sz, v);
	else
		div1(cpu, i, k == D_IDIV, sz, v);
}

#define OP1_SZ(k, name, sz)                                                                        \
	HANDLER(name##_r_##sz)                                                                     \
	{                                                                                          \
		op1(cpu, i, k, sz, reg_get(cpu, sz, i->reg));                                      \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_m_##sz)                                                                     \
	{                                                                                          \
		op1(cpu, i, k, sz, mem_read(cpu, i, insn_ea(cpu, i), sz));                         \
		return insn_next(cpu, i);                                                          \
	}
#define OP1(k, name)                                                                               \
	OP1_SZ(k, name, SZ8) OP1_SZ(k, name, SZ16) OP1_SZ(k, name, SZ32) OP1_SZ(k, name, SZ64)

OP1(D_MUL, mul)
OP1(D_IMUL1, imul1)
OP1(D_DIV, div)
OP1(D_IDIV, idiv)

#define FNS4(name, f)                                                                              \
	{                                                                                          \
		name##_##f##_SZ8, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64          \
	}
static const insn_fn op1_fns[4][2][4] = {
    {FNS4(mul, r), FNS4(mul, m)},
    {FNS4(imul1, r), FNS4(imul1, m)},
    {FNS4(div, r), FNS4(div, m)},
    {FNS4(idiv, r), FNS4(idiv, m)},
};

/* ---- IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B): truncated signed product ---- */

static inline __attribute__((always_inline)) uint64_t imul2(struct cpu *cpu, unsigned sz,
                                                            uint64_t a, uint64_t b)
{
	bool ov;
	uint64_t r;
	if (sz == SZ16) {
		int16_t p;
		ov = __builtin_mul_overflow((int16_t)a, (int16_t)b, &p);
		r = (uint16_t)p;
	} else if (sz == SZ32) {
		int32_t p;
		ov = __builtin_mul_overflow((int32_t)a, (int32_t)b, &p);
		r = (uint32_t)p;
	} else {
		int64_t p;
		ov = __builtin_mul_overflow((int64_t)a, (int64_t)b, &p);
		r = (uint64_t)p;
	}
	mul_flags(cpu, ov);
	return r;
}

/* FORM_RR: reg = destination, base = source; FORM_RM: memory source. */
#define IMUL_SZ(sz)                                                                                \
	HANDLER(imul2_rr_##sz)                                                                     \
	{                                                                                          \
		uint64_t v = imul2(cpu, sz, reg_get(cpu, sz, i->reg), reg_get(cpu, sz, i->base));  \
		reg_set(cpu, sz, i->reg, v);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(imul2_rm_##sz)                                                                     \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, imul2(cpu, sz, reg_get(cpu, sz, i->reg), b));             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(imul3_rr_##sz)                                                                     \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, imul2(cpu, sz, reg_get(cpu, sz, i->base), i->imm));       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(imul3_rm_##sz)                                                                     \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, imul2(cpu, sz, b, i->imm));                               \
		return insn_next(cpu, i);                                                          \
	}
IMUL_SZ(SZ16)
IMUL_SZ(SZ32)
IMUL_SZ(SZ64)

#define FNS3(name, f)                                                                              \
	{                                                                                          \
		NULL, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64                      \
	}
static const insn_fn imul_fns[2][2][4] = {
    {FNS3(imul2, rr), FNS3(imul2, rm)},
    {FNS3(imul3, rr), FNS3(imul3, rm)},
};

insn_fn muldiv_select(const struct decode *d)
{
	bool mem = d->form == FORM_M || d->form == FORM_RM;
	switch (d->op) {
	case OP_MUL:
		return op1_fns[D_MUL][mem][d->osize];
	case OP_IMUL1:
		return op1_fns[D_IMUL1][mem][d->osize];
	case OP_DIV:
		return op1_fns[D_DIV][mem][d->osize];
	case OP_IDIV:
		return op1_fns[D_IDIV][mem][d->osize];
	case OP_IMUL:
		return imul_fns[d->map == MAP_1B][mem][d->osize];
	default:
		return NULL;
	}
}
