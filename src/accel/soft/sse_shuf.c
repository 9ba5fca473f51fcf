/*
 * SSE/SSE2 unpacks, packs, shuffles and shifts (SDM vol. 2: PUNPCKLBW/WD/
 * DQ/QDQ, PUNPCKHBW/WD/DQ/QDQ, UNPCKLPS/PD, UNPCKHPS/PD, PACKSSWB,
 * PACKSSDW, PACKUSWB, PSHUFD, PSHUFLW, PSHUFHW, SHUFPS, SHUFPD, PSLLW/D/Q,
 * PSRLW/D/Q, PSRAW/D with an XMM/m128 count or an imm8 (66 0F 71-73),
 * PSLLDQ, PSRLDQ).
 *
 * Counts: the xmm/m128 forms take the whole low quadword of the source;
 * a count past the element width clears the element (PSRAW/D: fills it
 * with the sign), as does a byte count past 15 for PSLLDQ/PSRLDQ.
 */
#include "accel/soft/sse_int.h"

/* ---- unpacks: interleave the low (or high) halves of a and b, a first ---- */

#define UNPACK(name, el, n, hi)                                                                    \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		union cpu_xmm x = xu(a), y = xu(b), r;                                             \
		for (unsigned k = 0; k < n / 2; k++) {                                             \
			r.el[2 * k] = x.el[k + (hi ? n / 2 : 0)];                                  \
			r.el[2 * k + 1] = y.el[k + (hi ? n / 2 : 0)];                              \
		}                                                                                  \
		return ux(r);                                                                      \
	}
UNPACK(w_unpcklbw, u8, 16, 0)
UNPACK(w_unpckhbw, u8, 16, 1)
UNPACK(w_unpcklwd, u16, 8, 0)
UNPACK(w_unpckhwd, u16, 8, 1)
UNPACK(w_unpckldq, u32, 4, 0)
UNPACK(w_unpckhdq, u32, 4, 1)

SSE_INLINE xv w_unpcklqdq(xv a, xv b)
{
	return (xv){a[0], b[0]};
}
SSE_INLINE xv w_unpckhqdq(xv a, xv b)
{
	return (xv){a[1], b[1]};
}

/* ---- packs: a's elements narrowed with saturation, then b's ---- */

#define PACK(name, from, to, n, sat)                                                               \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		union cpu_xmm x = xu(a), y = xu(b), r;                                             \
		for (unsigned k = 0; k < n; k++) {                                                 \
			r.to[k] = sat(x.from[k]);                                                  \
			r.to[k + n] = sat(y.from[k]);                                              \
		}                                                                                  \
		return ux(r);                                                                      \
	}
PACK(w_packsswb, s16, s8, 8, sat8)
PACK(w_packuswb, s16, u8, 8, satu8)
PACK(w_packssdw, s32, s16, 4, sat16)

/* ---- shuffles (imm8: two bits per destination element) ---- */

SSE_INLINE xv w_pshufd(xv a, xv b, unsigned imm)
{
	union cpu_xmm s = xu(b), r;
	for (unsigned k = 0; k < 4; k++)
		r.u32[k] = s.u32[(imm >> (2 * k)) & 3];
	return ux(r);
}

SSE_INLINE xv w_pshuflw(xv a, xv b, unsigned imm)
{
	union cpu_xmm s = xu(b), r;
	for (unsigned k = 0; k < 4; k++)
		r.u16[k] = s.u16[(imm >> (2 * k)) & 3];
	r.u64[1] = s.u64[1];
	return ux(r);
}

SSE_INLINE xv w_pshufhw(xv a, xv b, unsigned imm)
{
	union cpu_xmm s = xu(b), r;
	r.u64[0] = s.u64[0];
	for (unsigned k = 0; k < 4; k++)
		r.u16[4 + k] = s.u16[4 + ((imm >> (2 * k)) & 3)];
	return ux(r);
}

/* The low two elements from a, the high two from b. */
SSE_INLINE xv w_shufps(xv a, xv b, unsigned imm)
{
	union cpu_xmm x = xu(a), y = xu(b), r;
	r.u32[0] = x.u32[imm & 3];
	r.u32[1] = x.u32[(imm >> 2) & 3];
	r.u32[2] = y.u32[(imm >> 4) & 3];
	r.u32[3] = y.u32[(imm >> 6) & 3];
	return ux(r);
}

SSE_INLINE xv w_shufpd(xv a, xv b, unsigned imm)
{
	return (xv){a[imm & 1], b[(imm >> 1) & 1]};
}

/* ---- shifts by a count (the low quadword of the source) ---- */

SSE_INLINE xv sh_sllw(xv a, uint64_t c)
{
	return c > 15 ? (xv){0, 0} : (xv)((v8u16)a << (unsigned)c);
}
SSE_INLINE xv sh_srlw(xv a, uint64_t c)
{
	return c > 15 ? (xv){0, 0} : (xv)((v8u16)a >> (unsigned)c);
}
SSE_INLINE xv sh_sraw(xv a, uint64_t c)
{
	return (xv)((v8s16)a >> (c > 15 ? 15u : (unsigned)c));
}
SSE_INLINE xv sh_slld(xv a, uint64_t c)
{
	return c > 31 ? (xv){0, 0} : (xv)((v4u32)a << (unsigned)c);
}
SSE_INLINE xv sh_srld(xv a, uint64_t c)
{
	return c > 31 ? (xv){0, 0} : (xv)((v4u32)a >> (unsigned)c);
}
SSE_INLINE xv sh_srad(xv a, uint64_t c)
{
	return (xv)((v4s32)a >> (c > 31 ? 31u : (unsigned)c));
}
SSE_INLINE xv sh_sllq(xv a, uint64_t c)
{
	return c > 63 ? (xv){0, 0} : a << (unsigned)c;
}
SSE_INLINE xv sh_srlq(xv a, uint64_t c)
{
	return c > 63 ? (xv){0, 0} : a >> (unsigned)c;
}

/* Whole-register byte shifts (PSLLDQ/PSRLDQ imm8). */
SSE_INLINE xv sh_slldq(xv a, uint64_t c)
{
	union cpu_xmm s = xu(a), r = {{0}};
	if (c < 16)
		memcpy(&r.u8[c], &s.u8[0], 16 - c);
	return ux(r);
}
SSE_INLINE xv sh_srldq(xv a, uint64_t c)
{
	union cpu_xmm s = xu(a), r = {{0}};
	if (c < 16)
		memcpy(&r.u8[0], &s.u8[c], 16 - c);
	return ux(r);
}

/*
 * Each shift in its two-operand forms (count from xmm or aligned m128:
 * name_rr / name_rm) and its immediate form (66 0F 71-73 /n ib: name_ri,
 * the register in reg).
 */
#define SHIFT(name, w)                                                                             \
	SSE_INLINE xv w##_x(xv a, xv b)                                                            \
	{                                                                                          \
		return w(a, b[0]);                                                                 \
	}                                                                                          \
	SSE_BINOP(name, w##_x, AL_16)                                                              \
	HANDLER(name##_ri)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, w(xmm_get(cpu, i->reg), (uint8_t)i->imm));                    \
		return insn_next(cpu, i);                                                          \
	}

SHIFT(psllw, sh_sllw)
SHIFT(psrlw, sh_srlw)
SHIFT(psraw, sh_sraw)
SHIFT(pslld, sh_slld)
SHIFT(psrld, sh_srld)
SHIFT(psrad, sh_srad)
SHIFT(psllq, sh_sllq)
SHIFT(psrlq, sh_srlq)

HANDLER(pslldq_ri)
{
	sse_enter(cpu, i);
	xmm_set(cpu, i->reg, sh_slldq(xmm_get(cpu, i->reg), (uint8_t)i->imm));
	return insn_next(cpu, i);
}

HANDLER(psrldq_ri)
{
	sse_enter(cpu, i);
	xmm_set(cpu, i->reg, sh_srldq(xmm_get(cpu, i->reg), (uint8_t)i->imm));
	return insn_next(cpu, i);
}

SSE_BINOP(punpcklbw, w_unpcklbw, AL_16)
SSE_BINOP(punpckhbw, w_unpckhbw, AL_16)
SSE_BINOP(punpcklwd, w_unpcklwd, AL_16)
SSE_BINOP(punpckhwd, w_unpckhwd, AL_16)
SSE_BINOP(punpckldq, w_unpckldq, AL_16)
SSE_BINOP(punpckhdq, w_unpckhdq, AL_16)
SSE_BINOP(punpcklqdq, w_unpcklqdq, AL_16)
SSE_BINOP(punpckhqdq, w_unpckhqdq, AL_16)
SSE_BINOP(packsswb, w_packsswb, AL_16)
SSE_BINOP(packuswb, w_packuswb, AL_16)
SSE_BINOP(packssdw, w_packssdw, AL_16)
SSE_BINOP_IMM(pshufd, w_pshufd, AL_16)
SSE_BINOP_IMM(pshuflw, w_pshuflw, AL_16)
SSE_BINOP_IMM(pshufhw, w_pshufhw, AL_16)
SSE_BINOP_IMM(shufps, w_shufps, AL_16)
SSE_BINOP_IMM(shufpd, w_shufpd, AL_16)

static const struct sse_row shuf_tab[] = {
    /* UNPCKLPS/HPS and UNPCKLPD/HPD are the DQ and QDQ integer unpacks. */
    SSE_ROW(UNPCKLPS, 0, punpckldq),
    SSE_ROW(UNPCKHPS, 0, punpckhdq),
    SSE_ROW(UNPCKLPD, 0x66, punpcklqdq),
    SSE_ROW(UNPCKHPD, 0x66, punpckhqdq),
    SSE_ROW(PUNPCKLBW, 0x66, punpcklbw),
    SSE_ROW(PUNPCKHBW, 0x66, punpckhbw),
    SSE_ROW(PUNPCKLWD, 0x66, punpcklwd),
    SSE_ROW(PUNPCKHWD, 0x66, punpckhwd),
    SSE_ROW(PUNPCKLDQ, 0x66, punpckldq),
    SSE_ROW(PUNPCKHDQ, 0x66, punpckhdq),
    SSE_ROW(PUNPCKLQDQ, 0x66, punpcklqdq),
    SSE_ROW(PUNPCKHQDQ, 0x66, punpckhqdq),
    SSE_ROW(PACKSSWB, 0x66, packsswb),
    SSE_ROW(PACKUSWB, 0x66, packuswb),
    SSE_ROW(PACKSSDW, 0x66, packssdw),
    SSE_ROW(PSHUFD, 0x66, pshufd),
    SSE_ROW(PSHUFLW, 0xf2, pshuflw),
    SSE_ROW(PSHUFHW, 0xf3, pshufhw),
    SSE_ROW(SHUFPS, 0, shufps),
    SSE_ROW(SHUFPD, 0x66, shufpd),
    SSE_ROW(PSLLW, 0x66, psllw),
    SSE_ROW(PSRLW, 0x66, psrlw),
    SSE_ROW(PSRAW, 0x66, psraw),
    SSE_ROW(PSLLD, 0x66, pslld),
    SSE_ROW(PSRLD, 0x66, psrld),
    SSE_ROW(PSRAD, 0x66, psrad),
    SSE_ROW(PSLLQ, 0x66, psllq),
    SSE_ROW(PSRLQ, 0x66, psrlq),
};

/* The imm8 group forms (66 0F 71-73 /n ib, FORM_RI). */
static const struct {
	uint16_t op;
	insn_fn fn;
} shift_imm[] = {
    {OP_PSLLW, psllw_ri},   {OP_PSRLW, psrlw_ri},   {OP_PSRAW, psraw_ri}, {OP_PSLLD, pslld_ri},
    {OP_PSRLD, psrld_ri},   {OP_PSRAD, psrad_ri},   {OP_PSLLQ, psllq_ri}, {OP_PSRLQ, psrlq_ri},
    {OP_PSLLDQ, pslldq_ri}, {OP_PSRLDQ, psrldq_ri},
};

insn_fn sse_shuf_select(const struct decode *d)
{
	if (d->form == FORM_RI) {
		if (d->mpfx != 0x66)
			return NULL; /* MMX */
		for (size_t k = 0; k < sizeof(shift_imm) / sizeof(shift_imm[0]); k++)
			if (shift_imm[k].op == d->op)
				return shift_imm[k].fn;
		return NULL;
	}
	return sse_pick(shuf_tab, sizeof(shuf_tab) / sizeof(shuf_tab[0]), d);
}
