/*
 * SSE/SSE2 packed integer arithmetic and the bitwise logic of all types
 * (SDM vol. 2: PAND, PANDN, POR, PXOR, ANDPS/PD, ANDNPS/PD, ORPS/PD,
 * XORPS/PD, PADDB/W/D/Q, PSUBB/W/D/Q, PADDSB/W, PADDUSB/W, PSUBSB/W,
 * PSUBUSB/W, PCMPEQB/W/D, PCMPGTB/W/D, PMULLW, PMULHW, PMULHUW, PMULUDQ,
 * PMADDWD, PAVGB/W, PMINUB, PMAXUB, PMINSW, PMAXSW, PSADBW; vol. 1, 11.4.3
 * "SSE2 128-bit SIMD integer instructions").
 *
 * The XMM forms (66 prefix, or none for the PS logic ops) with an aligned
 * m128 or register source; the MMX forms are #UD (no MMX advertised).
 */
#include "accel/soft/sse_int.h"

/* ---- bitwise ---- */

SSE_INLINE xv w_and(xv a, xv b)
{
	return a & b;
}
SSE_INLINE xv w_andn(xv a, xv b)
{
	return ~a & b;
}
SSE_INLINE xv w_or(xv a, xv b)
{
	return a | b;
}
SSE_INLINE xv w_xor(xv a, xv b)
{
	return a ^ b;
}

/* ---- wrapping add/sub ---- */

SSE_INLINE xv w_addb(xv a, xv b)
{
	return (xv)((v16u8)a + (v16u8)b);
}
SSE_INLINE xv w_addw(xv a, xv b)
{
	return (xv)((v8u16)a + (v8u16)b);
}
SSE_INLINE xv w_addd(xv a, xv b)
{
	return (xv)((v4u32)a + (v4u32)b);
}
SSE_INLINE xv w_addq(xv a, xv b)
{
	return a + b;
}
SSE_INLINE xv w_subb(xv a, xv b)
{
	return (xv)((v16u8)a - (v16u8)b);
}
SSE_INLINE xv w_subw(xv a, xv b)
{
	return (xv)((v8u16)a - (v8u16)b);
}
SSE_INLINE xv w_subd(xv a, xv b)
{
	return (xv)((v4u32)a - (v4u32)b);
}
SSE_INLINE xv w_subq(xv a, xv b)
{
	return a - b;
}

/* ---- saturating add/sub ---- */

SSE_INLINE xv w_addusb(xv a, xv b)
{
	v16u8 s = (v16u8)a + (v16u8)b;
	return (xv)(s | (v16u8)(s < (v16u8)a)); /* carry: all ones */
}
SSE_INLINE xv w_addusw(xv a, xv b)
{
	v8u16 s = (v8u16)a + (v8u16)b;
	return (xv)(s | (v8u16)(s < (v8u16)a));
}
SSE_INLINE xv w_subusb(xv a, xv b)
{
	v16u8 x = (v16u8)a, y = (v16u8)b;
	return (xv)((x - y) & (v16u8)(x > y));
}
SSE_INLINE xv w_subusw(xv a, xv b)
{
	v8u16 x = (v8u16)a, y = (v8u16)b;
	return (xv)((x - y) & (v8u16)(x > y));
}

#define SAT_LOOP(name, n, el, op, sat)                                                             \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		union cpu_xmm x = xu(a), y = xu(b), r;                                             \
		for (unsigned k = 0; k < n; k++)                                                   \
			r.el[k] = sat((int32_t)x.el[k] op(int32_t) y.el[k]);                       \
		return ux(r);                                                                      \
	}
SAT_LOOP(w_addsb, 16, s8, +, sat8)
SAT_LOOP(w_addsw, 8, s16, +, sat16)
SAT_LOOP(w_subsb, 16, s8, -, sat8)
SAT_LOOP(w_subsw, 8, s16, -, sat16)

/* ---- compares: all ones where true ---- */

SSE_INLINE xv w_cmpeqb(xv a, xv b)
{
	return (xv)((v16u8)a == (v16u8)b);
}
SSE_INLINE xv w_cmpeqw(xv a, xv b)
{
	return (xv)((v8u16)a == (v8u16)b);
}
SSE_INLINE xv w_cmpeqd(xv a, xv b)
{
	return (xv)((v4u32)a == (v4u32)b);
}
SSE_INLINE xv w_cmpgtb(xv a, xv b)
{
	return (xv)((v16s8)a > (v16s8)b);
}
SSE_INLINE xv w_cmpgtw(xv a, xv b)
{
	return (xv)((v8s16)a > (v8s16)b);
}
SSE_INLINE xv w_cmpgtd(xv a, xv b)
{
	return (xv)((v4s32)a > (v4s32)b);
}

/* ---- min/max/average ---- */

SSE_MINMAX(w_minub, v16u8, <)
SSE_MINMAX(w_maxub, v16u8, >)
SSE_MINMAX(w_minsw, v8s16, <)
SSE_MINMAX(w_maxsw, v8s16, >)

/* (a + b + 1) >> 1 without the wider type: (a | b) - ((a ^ b) >> 1). */
SSE_INLINE xv w_avgb(xv a, xv b)
{
	v16u8 x = (v16u8)a, y = (v16u8)b;
	return (xv)((x | y) - ((x ^ y) >> 1));
}
SSE_INLINE xv w_avgw(xv a, xv b)
{
	v8u16 x = (v8u16)a, y = (v8u16)b;
	return (xv)((x | y) - ((x ^ y) >> 1));
}

/* ---- multiplies ---- */

SSE_INLINE xv w_mullw(xv a, xv b)
{
	return (xv)((v8u16)a * (v8u16)b);
}
SSE_INLINE xv w_mulhw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 8; k++)
		r.u16[k] = (uint16_t)(((int32_t)x.s16[k] * y.s16[k]) >> 16);
	return ux(r);
}
SSE_INLINE xv w_mulhuw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 8; k++)
		r.u16[k] = (uint16_t)(((uint32_t)x.u16[k] * y.u16[k]) >> 16);
	return ux(r);
}
SSE_INLINE xv w_muludq(xv a, xv b)
{
	return (a & 0xffffffffULL) * (b & 0xffffffffULL);
}
SSE_INLINE xv w_maddwd(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	for (unsigned k = 0; k < 4; k++)
		r.u32[k] = (uint32_t)((int32_t)x.s16[2 * k] * y.s16[2 * k]) +
		           (uint32_t)((int32_t)x.s16[2 * k + 1] * y.s16[2 * k + 1]);
	return ux(r);
}
SSE_INLINE xv w_sadbw(xv a, xv b)
{
	union cpu_xmm x = xu(a), y = xu(b);
	uint64_t s[2] = {0, 0};
	for (unsigned k = 0; k < 16; k++)
		s[k >> 3] += x.u8[k] > y.u8[k] ? x.u8[k] - y.u8[k] : y.u8[k] - x.u8[k];
	return (xv){s[0], s[1]};
}

SSE_BINOP(pand, w_and, AL_16)
SSE_BINOP(pandn, w_andn, AL_16)
SSE_BINOP(por, w_or, AL_16)
SSE_BINOP(pxor, w_xor, AL_16)
SSE_BINOP(paddb, w_addb, AL_16)
SSE_BINOP(paddw, w_addw, AL_16)
SSE_BINOP(paddd, w_addd, AL_16)
SSE_BINOP(paddq, w_addq, AL_16)
SSE_BINOP(psubb, w_subb, AL_16)
SSE_BINOP(psubw, w_subw, AL_16)
SSE_BINOP(psubd, w_subd, AL_16)
SSE_BINOP(psubq, w_subq, AL_16)
SSE_BINOP(paddusb, w_addusb, AL_16)
SSE_BINOP(paddusw, w_addusw, AL_16)
SSE_BINOP(psubusb, w_subusb, AL_16)
SSE_BINOP(psubusw, w_subusw, AL_16)
SSE_BINOP(paddsb, w_addsb, AL_16)
SSE_BINOP(paddsw, w_addsw, AL_16)
SSE_BINOP(psubsb, w_subsb, AL_16)
SSE_BINOP(psubsw, w_subsw, AL_16)
SSE_BINOP(pcmpeqb, w_cmpeqb, AL_16)
SSE_BINOP(pcmpeqw, w_cmpeqw, AL_16)
SSE_BINOP(pcmpeqd, w_cmpeqd, AL_16)
SSE_BINOP(pcmpgtb, w_cmpgtb, AL_16)
SSE_BINOP(pcmpgtw, w_cmpgtw, AL_16)
SSE_BINOP(pcmpgtd, w_cmpgtd, AL_16)
SSE_BINOP(pminub, w_minub, AL_16)
SSE_BINOP(pmaxub, w_maxub, AL_16)
SSE_BINOP(pminsw, w_minsw, AL_16)
SSE_BINOP(pmaxsw, w_maxsw, AL_16)
SSE_BINOP(pavgb, w_avgb, AL_16)
SSE_BINOP(pavgw, w_avgw, AL_16)
SSE_BINOP(pmullw, w_mullw, AL_16)
SSE_BINOP(pmulhw, w_mulhw, AL_16)
SSE_BINOP(pmulhuw, w_mulhuw, AL_16)
SSE_BINOP(pmuludq, w_muludq, AL_16)
SSE_BINOP(pmaddwd, w_maddwd, AL_16)
SSE_BINOP(psadbw, w_sadbw, AL_16)

static const struct sse_row int_tab[] = {
    SSE_ROW(PAND, 0x66, pand),       SSE_ROW(PANDN, 0x66, pandn),
    SSE_ROW(POR, 0x66, por),         SSE_ROW(PXOR, 0x66, pxor),
    SSE_ROW(ANDPS, 0, pand),         SSE_ROW(ANDPD, 0x66, pand),
    SSE_ROW(ANDNPS, 0, pandn),       SSE_ROW(ANDNPD, 0x66, pandn),
    SSE_ROW(ORPS, 0, por),           SSE_ROW(ORPD, 0x66, por),
    SSE_ROW(XORPS, 0, pxor),         SSE_ROW(XORPD, 0x66, pxor),
    SSE_ROW(PADDB, 0x66, paddb),     SSE_ROW(PADDW, 0x66, paddw),
    SSE_ROW(PADDD, 0x66, paddd),     SSE_ROW(PADDQ, 0x66, paddq),
    SSE_ROW(PSUBB, 0x66, psubb),     SSE_ROW(PSUBW, 0x66, psubw),
    SSE_ROW(PSUBD, 0x66, psubd),     SSE_ROW(PSUBQ, 0x66, psubq),
    SSE_ROW(PADDUSB, 0x66, paddusb), SSE_ROW(PADDUSW, 0x66, paddusw),
    SSE_ROW(PSUBUSB, 0x66, psubusb), SSE_ROW(PSUBUSW, 0x66, psubusw),
    SSE_ROW(PADDSB, 0x66, paddsb),   SSE_ROW(PADDSW, 0x66, paddsw),
    SSE_ROW(PSUBSB, 0x66, psubsb),   SSE_ROW(PSUBSW, 0x66, psubsw),
    SSE_ROW(PCMPEQB, 0x66, pcmpeqb), SSE_ROW(PCMPEQW, 0x66, pcmpeqw),
    SSE_ROW(PCMPEQD, 0x66, pcmpeqd), SSE_ROW(PCMPGTB, 0x66, pcmpgtb),
    SSE_ROW(PCMPGTW, 0x66, pcmpgtw), SSE_ROW(PCMPGTD, 0x66, pcmpgtd),
    SSE_ROW(PMINUB, 0x66, pminub),   SSE_ROW(PMAXUB, 0x66, pmaxub),
    SSE_ROW(PMINSW, 0x66, pminsw),   SSE_ROW(PMAXSW, 0x66, pmaxsw),
    SSE_ROW(PAVGB, 0x66, pavgb),     SSE_ROW(PAVGW, 0x66, pavgw),
    SSE_ROW(PMULLW, 0x66, pmullw),   SSE_ROW(PMULHW, 0x66, pmulhw),
    SSE_ROW(PMULHUW, 0x66, pmulhuw), SSE_ROW(PMULUDQ, 0x66, pmuludq),
    SSE_ROW(PMADDWD, 0x66, pmaddwd), SSE_ROW(PSADBW, 0x66, psadbw),
};

insn_fn sse_int_select(const struct decode *d)
{
	return sse_pick(int_tab, sizeof(int_tab) / sizeof(int_tab[0]), d);
}
