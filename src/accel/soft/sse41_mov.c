/*
 * SSE4.1 data movement (SDM vol. 2: PMOVZXBW/BD/BQ/WD/WQ/DQ, PMOVSXBW/BD/
 * BQ/WD/WQ/DQ, PEXTRB, PEXTRD/PEXTRQ, EXTRACTPS, PINSRB, PINSRD/PINSRQ,
 * INSERTPS, MOVNTDQA; vol. 1, 12.10). PEXTRW's 0F 3A 15 form is
 * sse_mov.c's (one operation, two encodings).
 *
 * Register forms of extracts have the GPR in reg and the XMM register in
 * base; a GPR destination is zero-extended to 64 bits.
 */
#include "accel/soft/sse_int.h"

/* ---- PMOVZX/PMOVSX: the low elements of the source widened into the whole register ---- */

#define PMOVX(name, from, to, n, msz)                                                              \
	SSE_INLINE xv name##_w(uint64_t v)                                                         \
	{                                                                                          \
		union cpu_xmm s = {.u64 = {v, 0}}, r;                                              \
		for (unsigned k = 0; k < n; k++)                                                   \
			r.to[k] = s.from[k];                                                       \
		return ux(r);                                                                      \
	}                                                                                          \
	HANDLER(name##_rr)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, name##_w(cpu->xmm[i->base].u64[0]));                          \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, name##_w(mem_read(cpu, i, insn_ea(cpu, i), msz)));            \
		return insn_next(cpu, i);                                                          \
	}

PMOVX(pmovzxbw, u8, u16, 8, SZ64)
PMOVX(pmovzxbd, u8, u32, 4, SZ32)
PMOVX(pmovzxbq, u8, u64, 2, SZ16)
PMOVX(pmovzxwd, u16, u32, 4, SZ64)
PMOVX(pmovzxwq, u16, u64, 2, SZ32)
PMOVX(pmovzxdq, u32, u64, 2, SZ64)
PMOVX(pmovsxbw, s8, s16, 8, SZ64)
PMOVX(pmovsxbd, s8, s32, 4, SZ32)
PMOVX(pmovsxbq, s8, s64, 2, SZ16)
PMOVX(pmovsxwd, s16, s32, 4, SZ64)
PMOVX(pmovsxwq, s16, s64, 2, SZ32)
PMOVX(pmovsxdq, s32, s64, 2, SZ64)

/* ---- extracts: PEXTRB (imm & 15), PEXTRD/Q (imm & 3 / 1), EXTRACTPS (a dword) ---- */

HANDLER(pextrb_rr)
{
	sse_enter(cpu, i);
	cpu->gpr[i->reg] = cpu->xmm[i->base].u8[i->imm & 15];
	return insn_next(cpu, i);
}

HANDLER(pextrb_mr)
{
	sse_enter(cpu, i);
	mem_write8(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u8[i->imm & 15]);
	return insn_next(cpu, i);
}

HANDLER(pextrd_rr)
{
	sse_enter(cpu, i);
	cpu->gpr[i->reg] = cpu->xmm[i->base].u32[i->imm & 3];
	return insn_next(cpu, i);
}

HANDLER(pextrd_mr)
{
	sse_enter(cpu, i);
	mem_write32(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u32[i->imm & 3]);
	return insn_next(cpu, i);
}

HANDLER(pextrq_rr)
{
	sse_enter(cpu, i);
	cpu->gpr[i->reg] = cpu->xmm[i->base].u64[i->imm & 1];
	return insn_next(cpu, i);
}

HANDLER(pextrq_mr)
{
	sse_enter(cpu, i);
	mem_write64(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u64[i->imm & 1]);
	return insn_next(cpu, i);
}

/* ---- inserts: PINSRB (r32 low byte or m8), PINSRD/Q ---- */

HANDLER(pinsrb_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u8[i->imm & 15] = (uint8_t)cpu->gpr[i->base];
	return insn_next(cpu, i);
}

HANDLER(pinsrb_rm)
{
	sse_enter(cpu, i);
	uint8_t v = mem_read8(cpu, i, insn_ea(cpu, i));
	cpu->xmm[i->reg].u8[i->imm & 15] = v;
	return insn_next(cpu, i);
}

HANDLER(pinsrd_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u32[i->imm & 3] = (uint32_t)cpu->gpr[i->base];
	return insn_next(cpu, i);
}

HANDLER(pinsrd_rm)
{
	sse_enter(cpu, i);
	uint32_t v = mem_read32(cpu, i, insn_ea(cpu, i));
	cpu->xmm[i->reg].u32[i->imm & 3] = v;
	return insn_next(cpu, i);
}

HANDLER(pinsrq_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[i->imm & 1] = cpu->gpr[i->base];
	return insn_next(cpu, i);
}

HANDLER(pinsrq_rm)
{
	sse_enter(cpu, i);
	uint64_t v = mem_read64(cpu, i, insn_ea(cpu, i));
	cpu->xmm[i->reg].u64[i->imm & 1] = v;
	return insn_next(cpu, i);
}

/*
 * INSERTPS: a dword (the source's element imm[7:6], or m32) into element
 * imm[5:4] of the destination, then the elements set in imm[3:0] zeroed.
 */
SSE_INLINE void insertps(struct cpu *cpu, const struct insn *i, uint32_t v)
{
	union cpu_xmm *d = &cpu->xmm[i->reg];
	unsigned imm = (uint8_t)i->imm;
	d->u32[(imm >> 4) & 3] = v;
	for (unsigned k = 0; k < 4; k++)
		if (imm & (1u << k))
			d->u32[k] = 0;
}

HANDLER(insertps_rr)
{
	sse_enter(cpu, i);
	insertps(cpu, i, cpu->xmm[i->base].u32[((uint8_t)i->imm >> 6) & 3]);
	return insn_next(cpu, i);
}

HANDLER(insertps_rm)
{
	sse_enter(cpu, i);
	insertps(cpu, i, mem_read32(cpu, i, insn_ea(cpu, i)));
	return insn_next(cpu, i);
}

/* MOVNTDQA: an aligned load (the non-temporal hint has nothing to act on). */
HANDLER(movntdqa_rm)
{
	sse_enter(cpu, i);
	xmm_set(cpu, i->reg, sse_read128(cpu, i, insn_ea(cpu, i), AL_EXPLICIT));
	return insn_next(cpu, i);
}

/* ---- select ---- */

#define ROW2(o, name)                                                                              \
	{                                                                                          \
		OP_##o, 0x66, name##_rr, name##_rm                                                 \
	}

static const struct sse_row pmovx_tab[] = {
    ROW2(PMOVZXBW, pmovzxbw),
    ROW2(PMOVZXBD, pmovzxbd),
    ROW2(PMOVZXBQ, pmovzxbq),
    ROW2(PMOVZXWD, pmovzxwd),
    ROW2(PMOVZXWQ, pmovzxwq),
    ROW2(PMOVZXDQ, pmovzxdq),
    ROW2(PMOVSXBW, pmovsxbw),
    ROW2(PMOVSXBD, pmovsxbd),
    ROW2(PMOVSXBQ, pmovsxbq),
    ROW2(PMOVSXWD, pmovsxwd),
    ROW2(PMOVSXWQ, pmovsxwq),
    ROW2(PMOVSXDQ, pmovsxdq),
    ROW2(PINSRB, pinsrb),
    ROW2(INSERTPS, insertps),
    {OP_PEXTRB, 0x66, pextrb_rr, pextrb_mr},
    {OP_EXTRACTPS, 0x66, pextrd_rr, pextrd_mr},
    {OP_MOVNTDQA, 0x66, NULL, movntdqa_rm},
};

insn_fn sse41_mov_select(const struct decode *d)
{
	bool q = d->osize == SZ64;
	if (d->mpfx != 0x66)
		return NULL;
	switch (d->op) {
	case OP_PEXTRD: /* PEXTRQ with REX.W */
		if (d->form == FORM_RR)
			return q ? pextrq_rr : pextrd_rr;
		return q ? pextrq_mr : pextrd_mr;
	case OP_PINSRD: /* PINSRQ with REX.W */
		if (d->form == FORM_RR)
			return q ? pinsrq_rr : pinsrd_rr;
		return q ? pinsrq_rm : pinsrd_rm;
	default:
		return sse_pick(pmovx_tab, sizeof(pmovx_tab) / sizeof(pmovx_tab[0]), d);
	}
}
