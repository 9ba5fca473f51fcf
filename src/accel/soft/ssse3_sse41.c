/*
 * SSSE3 and SSE4.1 packed integer arithmetic (SDM vol. 2: PSHUFB,
 * PALIGNR, PHADDW/D, PHADDSW, PHSUBW/D, PHSUBSW, PMADDUBSW, PMULHRSW,
 * PSIGNB/W/D, PABSB/W/D; PCMPEQQ, PMINSB/SD/UW/UD, PMAXSB/SD/UW/UD,
 * PMULLD, PMULDQ, PACKUSDW, PBLENDW, PBLENDVB, PHMINPOSUW, MPSADBW, PTEST;
 * SSE4.2's PCMPGTQ; vol. 1, 12.9 "SSSE3 instructions" and 12.10 "SSE4.1").
 * XMM forms only (66 prefix): the MMX forms of SSSE3 are #UD. SSE4.1's
 * moves, extensions, inserts and extracts are sse41_mov.c's.
 */
#include "accel/soft/sse_int.h"

/* ==== SSSE3 ==== */

/* Byte k of the result: 0 when b's byte k has its top bit, else a's byte (b[k] & 15). */
SSE_INLINE xv w_pshufb(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 16; k++)
		r.u8[k] = (y.u8[k] & 0x80) ? 0 : x.u8[y.u8[k] & 15];
	return ux(r);
}

/* The 32-byte concatenation a:b shifted right by imm bytes, low 16 bytes kept. */
SSE_INLINE xv w_palignr(xv a, xv b, unsigned imm)
{
	uint8_t t[48] = {0};
	memcpy(t, &b, 16);
	memcpy(t + 16, &a, 16);
	union cpu_xmm r;
	memcpy(&r, t + (imm < 32 ? imm : 32), 16);
	return ux(r);
}

/* ---- horizontal add/sub: pairs of a, then pairs of b ---- */

#define HORIZ(name, el, n, expr)                                                                   \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		union cpu_xmm x = xu(a), y = xu(b), r;                                             \
		for (unsigned k = 0; k < n / 2; k++) {                                             \
			int64_t p = x.el[2 * k], q = x.el[2 * k + 1];                              \
			r.el[k] = expr;                                                            \
			p = y.el[2 * k], q = y.el[2 * k + 1];                                      \
			r.el[k + n / 2] = expr;                                                    \
		}                                                                                  \
		return ux(r);                                                                      \
	}
HORIZ(w_phaddw, s16, 8, (int16_t)(p + q))
HORIZ(w_phaddd, s32, 4, (int32_t)(p + q))
HORIZ(w_phaddsw, s16, 8, sat16((int32_t)(p + q)))
HORIZ(w_phsubw, s16, 8, (int16_t)(p - q))
HORIZ(w_phsubd, s32, 4, (int32_t)(p - q))
HORIZ(w_phsubsw, s16, 8, sat16((int32_t)(p - q)))

/* Unsigned bytes of a times signed bytes of b, adjacent products summed, saturated. */
SSE_INLINE xv w_pmaddubsw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 8; k++)
		r.s16[k] = sat16(x.u8[2 * k] * y.s8[2 * k] + x.u8[2 * k + 1] * y.s8[2 * k + 1]);
	return ux(r);
}

/* Bits 30-15 of the 32-bit product, rounded: ((a * b >> 14) + 1) >> 1. */
SSE_INLINE xv w_pmulhrsw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 8; k++)
		r.s16[k] = (int16_t)((((int32_t)x.s16[k] * y.s16[k] >> 14) + 1) >> 1);
	return ux(r);
}

/* ---- sign and absolute value ---- */

#define SIGN(name, vt, ut)                                                                         \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		vt x = (vt)a, y = (vt)b, neg = (vt)(y < 0), zero = (vt)(y == 0);                   \
		vt r = (vt)(((ut)x ^ (ut)neg) - (ut)neg); /* -x where y < 0 (wrapping) */          \
		return (xv)(r & ~zero);                                                            \
	}
SIGN(w_psignb, v16s8, v16u8)
SIGN(w_psignw, v8s16, v8u16)
SIGN(w_psignd, v4s32, v4u32)

#define ABS(name, vt, ut)                                                                          \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		vt y = (vt)b, neg = (vt)(y < 0);                                                   \
		return (xv)(((ut)y ^ (ut)neg) - (ut)neg);                                          \
	}
ABS(w_pabsb, v16s8, v16u8)
ABS(w_pabsw, v8s16, v8u16)
ABS(w_pabsd, v4s32, v4u32)

SSE_BINOP(pshufb, w_pshufb, AL_16)
SSE_BINOP_IMM(palignr, w_palignr, AL_16)
SSE_BINOP(phaddw, w_phaddw, AL_16)
SSE_BINOP(phaddd, w_phaddd, AL_16)
SSE_BINOP(phaddsw, w_phaddsw, AL_16)
SSE_BINOP(phsubw, w_phsubw, AL_16)
SSE_BINOP(phsubd, w_phsubd, AL_16)
SSE_BINOP(phsubsw, w_phsubsw, AL_16)
SSE_BINOP(pmaddubsw, w_pmaddubsw, AL_16)
SSE_BINOP(pmulhrsw, w_pmulhrsw, AL_16)
SSE_BINOP(psignb, w_psignb, AL_16)
SSE_BINOP(psignw, w_psignw, AL_16)
SSE_BINOP(psignd, w_psignd, AL_16)
SSE_BINOP(pabsb, w_pabsb, AL_16)
SSE_BINOP(pabsw, w_pabsw, AL_16)
SSE_BINOP(pabsd, w_pabsd, AL_16)

static const struct sse_row ssse3_tab[] = {
    SSE_ROW(PSHUFB, 0x66, pshufb),       SSE_ROW(PALIGNR, 0x66, palignr),
    SSE_ROW(PHADDW, 0x66, phaddw),       SSE_ROW(PHADDD, 0x66, phaddd),
    SSE_ROW(PHADDSW, 0x66, phaddsw),     SSE_ROW(PHSUBW, 0x66, phsubw),
    SSE_ROW(PHSUBD, 0x66, phsubd),       SSE_ROW(PHSUBSW, 0x66, phsubsw),
    SSE_ROW(PMADDUBSW, 0x66, pmaddubsw), SSE_ROW(PMULHRSW, 0x66, pmulhrsw),
    SSE_ROW(PSIGNB, 0x66, psignb),       SSE_ROW(PSIGNW, 0x66, psignw),
    SSE_ROW(PSIGND, 0x66, psignd),       SSE_ROW(PABSB, 0x66, pabsb),
    SSE_ROW(PABSW, 0x66, pabsw),         SSE_ROW(PABSD, 0x66, pabsd),
};

insn_fn ssse3_select(const struct decode *d)
{
	return sse_pick(ssse3_tab, sizeof(ssse3_tab) / sizeof(ssse3_tab[0]), d);
}

/* ==== SSE4.1 ==== */

SSE_INLINE xv w_cmpeqq(xv a, xv b)
{
	return (xv)(a == b);
}
SSE_INLINE xv w_cmpgtq(xv a, xv b)
{
	return (xv)((v2s64)a > (v2s64)b);
}

SSE_MINMAX(w_minsb, v16s8, <)
SSE_MINMAX(w_maxsb, v16s8, >)
SSE_MINMAX(w_minuw, v8u16, <)
SSE_MINMAX(w_maxuw, v8u16, >)
SSE_MINMAX(w_minsd, v4s32, <)
SSE_MINMAX(w_maxsd, v4s32, >)
SSE_MINMAX(w_minud, v4u32, <)
SSE_MINMAX(w_maxud, v4u32, >)

SSE_INLINE xv w_mulld(xv a, xv b)
{
	return (xv)((v4u32)a * (v4u32)b);
}

/* Signed 32 x 32 -> 64 of dwords 0 and 2. */
SSE_INLINE xv w_muldq(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b);
	return (xv){(uint64_t)((int64_t)x.s32[0] * y.s32[0]),
	            (uint64_t)((int64_t)x.s32[2] * y.s32[2])};
}

SSE_INLINE xv w_packusdw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 4; k++) {
		r.u16[k] = satu16(x.s32[k]);
		r.u16[k + 4] = satu16(y.s32[k]);
	}
	return ux(r);
}

/* Word k from b where imm bit k is set. */
SSE_INLINE xv w_pblendw(xv a, xv b, unsigned imm)
{
	union cpu_xmm x = xu(a), y = xu(b);
	for (unsigned k = 0; k < 8; k++)
		if (imm & (1u << k))
			x.u16[k] = y.u16[k];
	return ux(x);
}

/* The smallest unsigned word of b (the first on a tie) in word 0, its index in bits 16-18. */
SSE_INLINE xv w_phminposuw(xv a, xv b)
{
	union cpu_xmm y = xu(b);
	unsigned min = y.u16[0], at = 0;
	for (unsigned k = 1; k < 8; k++)
		if (y.u16[k] < min) {
			min = y.u16[k];
			at = k;
		}
	return (xv){min | (uint64_t)at << 16, 0};
}

/*
 * Eight sums of absolute differences: the 4-byte block of b at 4 * imm[1:0]
 * against the 4-byte windows of a starting at 4 * imm[2] + k.
 */
SSE_INLINE xv w_mpsadbw(xv a, xv b, unsigned imm)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	unsigned so = (imm & 3) * 4, d0 = (imm & 4) ? 4 : 0;
	for (unsigned k = 0; k < 8; k++) {
		unsigned s = 0;
		for (unsigned j = 0; j < 4; j++) {
			int v = (int)x.u8[d0 + k + j] - (int)y.u8[so + j];
			s += (unsigned)(v < 0 ? -v : v);
		}
		r.u16[k] = (uint16_t)s;
	}
	return ux(r);
}

SSE_BINOP(pcmpeqq, w_cmpeqq, AL_16)
SSE_BINOP(pcmpgtq, w_cmpgtq, AL_16)
SSE_BINOP(pminsb, w_minsb, AL_16)
SSE_BINOP(pmaxsb, w_maxsb, AL_16)
SSE_BINOP(pminuw, w_minuw, AL_16)
SSE_BINOP(pmaxuw, w_maxuw, AL_16)
SSE_BINOP(pminsd, w_minsd, AL_16)
SSE_BINOP(pmaxsd, w_maxsd, AL_16)
SSE_BINOP(pminud, w_minud, AL_16)
SSE_BINOP(pmaxud, w_maxud, AL_16)
SSE_BINOP(pmulld, w_mulld, AL_16)
SSE_BINOP(pmuldq, w_muldq, AL_16)
SSE_BINOP(packusdw, w_packusdw, AL_16)
SSE_BINOP(phminposuw, w_phminposuw, AL_16)
SSE_BINOP_IMM(pblendw, w_pblendw, AL_16)
SSE_BINOP_IMM(mpsadbw, w_mpsadbw, AL_16)

/* ---- PBLENDVB: byte k from the source where XMM0's byte k has its top bit ---- */

SSE_INLINE void pblendvb(struct cpu *cpu, const struct insn *i, xv s)
{
	v16s8 m = (v16s8)xmm_get(cpu, 0) >> 7; /* all ones where the top bit is set */
	xv d = xmm_get(cpu, i->reg);
	xmm_set(cpu, i->reg, (d & ~(xv)m) | (s & (xv)m));
}

HANDLER(pblendvb_rr)
{
	sse_enter(cpu, i);
	pblendvb(cpu, i, xmm_get(cpu, i->base));
	return insn_next(cpu, i);
}

HANDLER(pblendvb_rm)
{
	sse_enter(cpu, i);
	pblendvb(cpu, i, sse_read128(cpu, i, insn_ea(cpu, i), AL_16));
	return insn_next(cpu, i);
}

/* ---- PTEST: ZF = (a AND b) == 0, CF = (NOT a AND b) == 0; AF, OF, PF, SF cleared ---- */

SSE_INLINE void ptest(struct cpu *cpu, xv a, xv b)
{
	xv z = a & b, c = ~a & b;
	uint64_t f = ((z[0] | z[1]) ? 0 : FLAG_ZF) | ((c[0] | c[1]) ? 0 : FLAG_CF);
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | f;
	cpu->lf.op = LF_NONE;
}

HANDLER(ptest_rr)
{
	sse_enter(cpu, i);
	ptest(cpu, xmm_get(cpu, i->reg), xmm_get(cpu, i->base));
	return insn_next(cpu, i);
}

HANDLER(ptest_rm)
{
	sse_enter(cpu, i);
	xv s = sse_read128(cpu, i, insn_ea(cpu, i), AL_16);
	ptest(cpu, xmm_get(cpu, i->reg), s);
	return insn_next(cpu, i);
}

static const struct sse_row sse41_tab[] = {
    SSE_ROW(PCMPEQQ, 0x66, pcmpeqq),   SSE_ROW(PCMPGTQ, 0x66, pcmpgtq),
    SSE_ROW(PMINSB, 0x66, pminsb),     SSE_ROW(PMAXSB, 0x66, pmaxsb),
    SSE_ROW(PMINUW, 0x66, pminuw),     SSE_ROW(PMAXUW, 0x66, pmaxuw),
    SSE_ROW(PMINSD, 0x66, pminsd),     SSE_ROW(PMAXSD, 0x66, pmaxsd),
    SSE_ROW(PMINUD, 0x66, pminud),     SSE_ROW(PMAXUD, 0x66, pmaxud),
    SSE_ROW(PMULLD, 0x66, pmulld),     SSE_ROW(PMULDQ, 0x66, pmuldq),
    SSE_ROW(PACKUSDW, 0x66, packusdw), SSE_ROW(PHMINPOSUW, 0x66, phminposuw),
    SSE_ROW(PBLENDW, 0x66, pblendw),   SSE_ROW(MPSADBW, 0x66, mpsadbw),
    SSE_ROW(PBLENDVB, 0x66, pblendvb), SSE_ROW(PTEST, 0x66, ptest),
};

insn_fn sse41_select(const struct decode *d)
{
	return sse_pick(sse41_tab, sizeof(sse41_tab) / sizeof(sse41_tab[0]), d);
}
