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

typedef char v16c __attribute__((vector_size(16)));
typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef int8_t v16s8 __attribute__((vector_size(16)));
typedef uint16_t v8u16 __attribute__((vector_size(16)));
typedef int16_t v8s16 __attribute__((vector_size(16)));

/* One bit per element of a compare result (all-ones or zero elements), SSE2 only. */
static inline uint32_t lane_bits(v16c m, bool words)
{
	if (words)
		m = (v16c)__builtin_ia32_packsswb128((v8s16)m, (v8s16){0});
	return (uint32_t)__builtin_ia32_pmovmskb128(m) & (words ? 0xff : 0xffff);
}

/* Compares every element of b with x (imm8 bits 0-1 the format): b == x, b >= x, b <= x. */
enum { STR_EQ, STR_GE, STR_LE };
static inline uint32_t str_cmp(const union cpu_xmm *b, unsigned fmt, const union cpu_xmm *a,
                               unsigned k, int op)
{
	v16c m;
	switch (fmt) {
	case 0: {
		v16u8 v, x = (v16u8){0} + a->u8[k];
		memcpy(&v, b, 16);
		m = (v16c)(op == STR_EQ ? v == x : op == STR_GE ? v >= x : v <= x);
		break;
	}
	case 1: {
		v8u16 v, x = (v8u16){0} + a->u16[k];
		memcpy(&v, b, 16);
		m = (v16c)(op == STR_EQ ? v == x : op == STR_GE ? v >= x : v <= x);
		break;
	}
	case 2: {
		v16s8 v, x = (v16s8){0} + a->s8[k];
		memcpy(&v, b, 16);
		m = (v16c)(op == STR_EQ ? v == x : op == STR_GE ? v >= x : v <= x);
		break;
	}
	default: {
		v8s16 v, x = (v8s16){0} + a->s16[k];
		memcpy(&v, b, 16);
		m = (v16c)(op == STR_EQ ? v == x : op == STR_GE ? v >= x : v <= x);
		break;
	}
	}
	return lane_bits(m, fmt & 1);
}

/* The implicit length: the index of the first zero element, or n. */
static inline unsigned str_ilen(const union cpu_xmm *v, bool words)
{
	v16c m;
	if (words) {
		v8u16 x;
		memcpy(&x, v, 16);
		m = (v16c)(x == 0);
	} else {
		v16u8 x;
		memcpy(&x, v, 16);
		m = (v16c)(x == 0);
	}
	uint32_t z = lane_bits(m, words);
	return z ? (unsigned)__builtin_ctz(z) : words ? 8 : 16;
}

/* The explicit length in a register: |value| saturated to n (4.1.1). */
static inline unsigned str_elen(uint64_t r, bool w, unsigned n)
{
	int64_t v = w ? (int64_t)r : (int64_t)(int32_t)r;
	uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	return a < n ? (unsigned)a : n;
}

/*
 * IntRes2 of 4.1.4-4.1.6: bit j for element j of b (lengths la, lb; n elements). Each step
 * compares one element of a with all of b at once; invalid elements are forced as table
 * 4-7 says.
 */
static uint32_t str_compare(const union cpu_xmm *a, const union cpu_xmm *b, unsigned la,
                            unsigned lb, unsigned imm, unsigned n)
{
	unsigned fmt = imm & 3;
	uint32_t all = (1u << n) - 1, va = (1u << la) - 1, vb = (1u << lb) - 1, res = 0;

	switch (imm >> 2 & 3) {
	case 0: /* equal any: b[j] is one of a[0..la) */
		for (unsigned k = 0; k < la; k++)
			res |= str_cmp(b, fmt, a, k, STR_EQ);
		res &= vb;
		break;
	case 1: /* ranges: a[k] <= b[j] <= a[k+1] for a pair of valid elements */
		for (unsigned k = 0; k + 1 < la; k += 2)
			res |= str_cmp(b, fmt, a, k, STR_GE) & str_cmp(b, fmt, a, k + 1, STR_LE);
		res &= vb;
		break;
	case 2: { /* equal each: both invalid is true, one invalid false */
		v16c x, y;
		memcpy(&x, a, 16);
		memcpy(&y, b, 16);
		uint32_t eq = fmt & 1 ? lane_bits((v16c)((v8u16)x == (v8u16)y), true)
		                      : lane_bits(x == y, false);
		res = (eq & va & vb) | (all & ~va & ~vb);
		break;
	}
	default: /* equal ordered: a (the needle) starts at b[j]; an ended needle matches */
		res = all;
		for (unsigned k = 0; k < la; k++)
			res &= (str_cmp(b, fmt, a, k, STR_EQ) & vb) >> k | (all & ~(all >> k));
		break;
	}
	switch (imm >> 4 & 3) {
	case 1: /* negative */
		res ^= all;
		break;
	case 3: /* masked negative: only the valid elements of b */
		res ^= vb;
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
		la = str_ilen(a, n == 8);
		lb = str_ilen(b, n == 8);
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
	uint32_t idx = !res              ? n
	               : (i->imm & 0x40) ? 31 - (unsigned)__builtin_clz(res)
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
