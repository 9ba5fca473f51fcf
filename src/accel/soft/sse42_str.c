/*
 * SSE4.2 string compares (SDM vol. 2B: PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM; vol. 2A,
 * 4.1 "Imm8 control byte operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").
 *
 * The first operand (the XMM register in ModRM.reg) holds the set, the ranges or the
 * needle; the second (XMM register or an m128 that needs no alignment) the string. Lengths
 * are explicit (EAX/EDX, RAX/RDX with REX.W: absolute values saturated to the element
 * count) or implicit (up to the first zero element). imm8: bits 0-1 the element format
 * (unsigned/signed bytes/words), 2-3 the aggregation (equal any, ranges, equal each, equal
 * ordered), 4-5 the polarity, 6 the index (least/most significant bit) or the mask format
 * (bits or expanded elements). They write ECX or XMM0 and CF = result != 0, ZF = the
 * string is shorter than the register, SF = the same for the first operand, OF = result
 * bit 0, AF = PF = 0. No floating point: MXCSR is untouched.
 */
#include "accel/soft/sse_fp.h"

/* One element of v as a signed value (format fmt: imm8 bits 0-1). */
static inline int32_t str_elem(const union cpu_xmm *v, unsigned fmt, unsigned k)
{
	switch (fmt) {
	case 0:
		return v->u8[k];
	case 1:
		return v->u16[k];
	case 2:
		return v->s8[k];
	default:
		return v->s16[k];
	}
}

/* The implicit length: the index of the first zero element, or n. */
static inline unsigned str_ilen(const union cpu_xmm *v, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if ((n == 16 ? v->u8[k] : v->u16[k]) == 0)
			return k;
	return n;
}

/* The explicit length in a register: |value| saturated to n (4.1.1). */
static inline unsigned str_elen(uint64_t r, bool w, unsigned n)
{
	int64_t v = w ? (int64_t)r : (int64_t)(int32_t)r;
	uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	return a < n ? (unsigned)a : n;
}

/* IntRes2 of 4.1.4-4.1.6: bit j for element j of b (lengths la, lb; n elements). */
static uint32_t str_compare(const union cpu_xmm *a, const union cpu_xmm *b, unsigned la,
                            unsigned lb, unsigned imm, unsigned n)
{
	unsigned fmt = imm & 3;
	uint32_t res = 0, all = (1u << n) - 1;
	int32_t ea[16], eb[16];

	for (unsigned k = 0; k < n; k++) {
		ea[k] = str_elem(a, fmt, k);
		eb[k] = str_elem(b, fmt, k);
	}
	switch (imm >> 2 & 3) {
	case 0: /* equal any: b[j] is one of a[0..la) */
		for (unsigned j = 0; j < lb; j++)
			for (unsigned k = 0; k < la; k++)
				if (ea[k] == eb[j]) {
					res |= 1u << j;
					break;
				}
		break;
	case 1: /* ranges: a[k] <= b[j] <= a[k+1] for a pair of valid elements */
		for (unsigned j = 0; j < lb; j++)
			for (unsigned k = 0; k + 1 < la; k += 2)
				if (ea[k] <= eb[j] && eb[j] <= ea[k + 1]) {
					res |= 1u << j;
					break;
				}
		break;
	case 2: /* equal each: both invalid is true, one invalid false */
		for (unsigned j = 0; j < n; j++) {
			bool va = j < la, vb = j < lb;
			if (va && vb ? ea[j] == eb[j] : !va && !vb)
				res |= 1u << j;
		}
		break;
	default: /* equal ordered: a (the needle) starts at b[j]; an ended needle matches */
		for (unsigned j = 0; j < n; j++) {
			bool m = true;
			for (unsigned k = 0; m && k < la && j + k < n; k++)
				m = j + k < lb && ea[k] == eb[j + k];
			if (m)
				res |= 1u << j;
		}
		break;
	}
	switch (imm >> 4 & 3) {
	case 1: /* negative */
		res ^= all;
		break;
	case 3: /* masked negative: only the valid elements of b */
		res ^= (1u << lb) - 1;
		break;
	}
	return res;
}

/* Compares and sets the flags; returns IntRes2. */
static uint32_t str_run(struct cpu *cpu, const struct insn *i, const union cpu_xmm *b,
                        bool explicit_len, bool w)
{
	const union cpu_xmm *a = &cpu->xmm[i->reg];
	unsigned imm = (uint8_t)i->imm, n = imm & 1 ? 8 : 16, la, lb;
	if (explicit_len) {
		la = str_elen(cpu->gpr[R_RAX], w, n);
		lb = str_elen(cpu->gpr[R_RDX], w, n);
	} else {
		la = str_ilen(a, n);
		lb = str_ilen(b, n);
	}
	uint32_t res = str_compare(a, b, la, lb, imm, n);
	fp_set_rflags(cpu, (res ? FLAG_CF : 0) | (lb < n ? FLAG_ZF : 0) | (la < n ? FLAG_SF : 0) |
	                       (res & 1 ? FLAG_OF : 0));
	return res;
}

/* PCMPxSTRI: ECX = the index of the least (imm8 bit 6: most) significant bit, or n. */
static void str_index(struct cpu *cpu, const struct insn *i, uint32_t res)
{
	unsigned n = i->imm & 1 ? 8 : 16;
	uint32_t idx = !res ? n : (i->imm & 0x40) ? 31 - (unsigned)__builtin_clz(res)
	                                          : (unsigned)__builtin_ctz(res);
	reg_set(cpu, SZ32, R_RCX, idx);
}

/* PCMPxSTRM: XMM0 = the bits (imm8 bit 6: each element all ones or zeros). */
static void str_mask(struct cpu *cpu, const struct insn *i, uint32_t res)
{
	union cpu_xmm m = {.u64 = {0, 0}};
	if (!(i->imm & 0x40))
		m.u32[0] = res;
	else if (i->imm & 1)
		for (unsigned k = 0; k < 8; k++)
			m.u16[k] = res >> k & 1 ? 0xffff : 0;
	else
		for (unsigned k = 0; k < 16; k++)
			m.u8[k] = res >> k & 1 ? 0xff : 0;
	cpu->xmm[0] = m;
}

#define STR_OP(name, expl, w, out)                                                                 \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		union cpu_xmm b = fp_u(s);                                                         \
		out(cpu, i, str_run(cpu, i, &b, expl, w));                                         \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, M128U)

STR_OP(pcmpestri, true, false, str_index)
STR_OP(pcmpestri64, true, true, str_index)
STR_OP(pcmpestrm, true, false, str_mask)
STR_OP(pcmpestrm64, true, true, str_mask)
STR_OP(pcmpistri, false, false, str_index)
STR_OP(pcmpistrm, false, false, str_mask)

insn_fn sse42_select(const struct decode *d)
{
	if (d->form != FORM_RR && d->form != FORM_RM)
		return NULL;
	bool w = d->rex & 8;
	switch (d->op) {
	case OP_PCMPESTRI:
		return w ? FP_PICK(d, pcmpestri64) : FP_PICK(d, pcmpestri);
	case OP_PCMPESTRM:
		return w ? FP_PICK(d, pcmpestrm64) : FP_PICK(d, pcmpestrm);
	case OP_PCMPISTRI:
		return FP_PICK(d, pcmpistri);
	case OP_PCMPISTRM:
		return FP_PICK(d, pcmpistrm);
	}
	return NULL;
}
