/*
 * Lazy arithmetic flags (docs/softcpu.md, "Lazy flags"; SDM vol. 1, 3.4.3.1
 * and appendix A "EFLAGS cross-reference").
 *
 * A flag-writing instruction stores its result, operands and kind in
 * cpu->lf instead of computing CF, PF, AF, ZF, SF and OF. lf.op is
 * LF_OP(kind, size); LF_NONE means the arithmetic bits of cpu->rflags are
 * current. Invariant for every other kind: lf.res is the result truncated
 * to the operand size, and ZF = (res == 0), SF = its top bit, PF = even
 * parity of its low byte. Kinds differ only in how CF, OF and AF follow
 * from (res, src1, src2, cf_in); lf_compute (flags.c) has one case each.
 *
 * To add a kind (e.g. for shifts): append it to enum lf_kind, store its CF
 * in lf.cf_in (lf_cf reads it from there for every kind after LF_LOGIC),
 * add its case to lf_compute, and, if a condition can be read faster
 * straight from its operands, to cc_test below.
 */
#ifndef EMBER_ACCEL_SOFT_FLAGS_H
#define EMBER_ACCEL_SOFT_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/soft/insn.h"
#include "accel/soft/ops.h"

enum lf_kind {
	LF_NONE,  /* flags are in cpu->rflags */
	LF_ADD,   /* res = src1 + src2 */
	LF_ADC,   /* res = src1 + src2 + cf_in */
	LF_SUB,   /* res = src1 - src2 (SUB, CMP, NEG with src1 = 0) */
	LF_SBB,   /* res = src1 - src2 - cf_in */
	LF_LOGIC, /* AND, OR, XOR, TEST: CF = OF = 0, AF = 0 (undefined) */
	LF_INC,   /* res = src1 + 1, CF = cf_in (INC keeps CF) */
	LF_DEC,   /* res = src1 - 1, CF = cf_in */
	LF_SHIFT, /* SHL/SHR/SAR/SHLD/SHRD: src1 the operand, src2 the count, CF = cf_in,
	           * OF = MSB(res ^ src1) (the count-1 rule of each), AF = 1 (undefined; AMD) */
	LF_ROT,   /* ROL/ROR/RCL/RCR after a lazy op: res and size are the previous op's (ZF, SF,
	           * PF unchanged), CF = cf_in, OF = src2, AF = src1 (the previous AF bit) */
};

#define LF_OP(kind, sz) ((uint32_t)(kind) << 2 | (sz))
#define LF_KIND(op)     ((op) >> 2)
#define LF_SIZE(op)     ((op)&3)

static inline __attribute__((always_inline)) void
lf_set(struct cpu *cpu, unsigned kind, unsigned sz, uint64_t res, uint64_t a, uint64_t b)
{
	cpu->lf.res = res;
	cpu->lf.src1 = a;
	cpu->lf.src2 = b;
	cpu->lf.op = LF_OP(kind, sz);
}

static inline __attribute__((always_inline)) void lf_set_c(struct cpu *cpu, unsigned kind,
                                                           unsigned sz, uint64_t res, uint64_t a,
                                                           uint64_t b, unsigned cf)
{
	lf_set(cpu, kind, sz, res, a, b);
	cpu->lf.cf_in = cf;
}

/* The six arithmetic flags of a pending lazy operation (FLAG_* bits). */
uint32_t lf_compute(const struct cpu_lazy_flags *lf);

/* The arithmetic flags, wherever they are. */
static inline uint32_t lf_flags(const struct cpu *cpu)
{
	if (cpu->lf.op == LF_NONE)
		return (uint32_t)cpu->rflags & FLAGS_ARITH;
	return lf_compute(&cpu->lf);
}

/* Makes cpu->rflags current (before an instruction changes single flags). */
static inline void lf_materialise(struct cpu *cpu)
{
	if (cpu->lf.op != LF_NONE) {
		cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | lf_compute(&cpu->lf);
		cpu->lf.op = LF_NONE;
	}
}

/*
 * CF alone, the common need of ADC, SBB, INC and DEC: inline and without
 * calls for every kind. Rule for kinds after LF_LOGIC: they keep their CF
 * in lf.cf_in (INC and DEC the CF they preserved).
 */
static inline __attribute__((always_inline)) bool lf_cf(const struct cpu *cpu)
{
	const struct cpu_lazy_flags *lf = &cpu->lf;
	switch (LF_KIND(lf->op)) {
	case LF_NONE:
		return cpu->rflags & FLAG_CF;
	case LF_ADD:
		return lf->res < lf->src1;
	case LF_ADC:
		return lf->cf_in ? lf->res <= lf->src1 : lf->res < lf->src1;
	case LF_SUB:
		return lf->src1 < lf->src2;
	case LF_SBB:
		return lf->cf_in ? lf->src1 <= lf->src2 : lf->src1 < lf->src2;
	case LF_LOGIC:
		return false;
	default:
		return lf->cf_in;
	}
}

/* AF alone, for instructions that keep it (rotates): inline for the common kinds. */
static inline __attribute__((always_inline)) uint32_t lf_af(const struct cpu *cpu)
{
	const struct cpu_lazy_flags *lf = &cpu->lf;
	switch (LF_KIND(lf->op)) {
	case LF_NONE:
		return (uint32_t)cpu->rflags & FLAG_AF;
	case LF_ADD:
	case LF_ADC:
	case LF_SUB:
	case LF_SBB:
		return (uint32_t)(lf->src1 ^ lf->src2 ^ lf->res) & FLAG_AF;
	case LF_LOGIC:
		return 0;
	case LF_SHIFT:
		return FLAG_AF;
	case LF_ROT:
		return (uint32_t)lf->src1 & FLAG_AF;
	default:
		return lf_compute(lf) & FLAG_AF;
	}
}

/* Evaluates condition code cc (0-15, constant after inlining) for Jcc, SETcc, CMOVcc. */
static inline __attribute__((always_inline)) bool cc_test(const struct cpu *cpu, unsigned cc)
{
	const struct cpu_lazy_flags *lf = &cpu->lf;
	unsigned kind = LF_KIND(lf->op), sz = LF_SIZE(lf->op);
	bool r;
	switch (cc >> 1) {
	case CC_B >> 1:
		if (kind == LF_SUB)
			r = lf->src1 < lf->src2;
		else
			r = lf_cf(cpu);
		break;
	case CC_E >> 1:
		r = kind != LF_NONE ? lf->res == 0 : (cpu->rflags & FLAG_ZF) != 0;
		break;
	case CC_BE >> 1:
		if (kind == LF_SUB)
			r = lf->src1 <= lf->src2;
		else if (kind == LF_LOGIC)
			r = lf->res == 0;
		else
			r = (lf_flags(cpu) & (FLAG_CF | FLAG_ZF)) != 0;
		break;
	case CC_S >> 1:
		r = kind != LF_NONE ? (lf->res >> ((8u << sz) - 1)) & 1
		                    : (cpu->rflags & FLAG_SF) != 0;
		break;
	case CC_L >> 1:
		if (kind == LF_SUB)
			r = size_sext(lf->src1, sz) < size_sext(lf->src2, sz);
		else if (kind == LF_LOGIC)
			r = size_sext(lf->res, sz) < 0;
		else
			r = !(lf_flags(cpu) & FLAG_SF) != !(lf_flags(cpu) & FLAG_OF);
		break;
	case CC_LE >> 1:
		if (kind == LF_SUB) {
			r = size_sext(lf->src1, sz) <= size_sext(lf->src2, sz);
		} else if (kind == LF_LOGIC) {
			r = size_sext(lf->res, sz) <= 0;
		} else {
			uint32_t f = lf_flags(cpu);
			r = (f & FLAG_ZF) || !(f & FLAG_SF) != !(f & FLAG_OF);
		}
		break;
	case CC_O >> 1:
		r = (lf_flags(cpu) & FLAG_OF) != 0;
		break;
	default: /* CC_P */
		r = (lf_flags(cpu) & FLAG_PF) != 0;
		break;
	}
	return r ^ (cc & 1);
}

/* Not inlined: for code that has cc only at run time. */
bool cc_eval(const struct cpu *cpu, unsigned cc);

#endif
