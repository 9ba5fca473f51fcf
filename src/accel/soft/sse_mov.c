/*
 * SSE/SSE2 data movement (SDM vol. 2: MOVD/MOVQ, MOVAPS, MOVUPS, MOVAPD,
 * MOVUPD, MOVDQA, MOVDQU, MOVNTPS, MOVNTPD, MOVNTDQ, MOVNTI, MOVLPS,
 * MOVHPS, MOVLPD, MOVHPD, MOVHLPS, MOVLHPS, MOVSS, MOVSD, MOVMSKPS,
 * MOVMSKPD, PMOVMSKB, PEXTRW, PINSRW, MASKMOVDQU, LDMXCSR, STMXCSR,
 * CLFLUSH) and the family's shared helpers (sse_int.h).
 *
 * The non-temporal stores are ordinary stores here (one CPU, no caches to
 * bypass); they keep their alignment check. MMX forms (no prefix, mm
 * registers) are #UD: MMX is not advertised.
 */
#include "accel/soft/sse_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

void sse_unavailable(struct cpu *cpu, const struct insn *i)
{
	if ((cpu->cr0 & CR0_EM) || !(cpu->cr4 & CR4_OSFXSR))
		insn_raise(cpu, i, EXC_UD, 0, false);
	insn_raise(cpu, i, EXC_NM, 0, false);
}

void sse_misaligned(struct cpu *cpu, const struct insn *i)
{
	insn_raise(cpu, i, EXC_GP, 0, true);
}

insn_fn sse_pick(const struct sse_row *tab, size_t n, const struct decode *d)
{
	for (size_t k = 0; k < n; k++) {
		if (tab[k].op != d->op || tab[k].mpfx != d->mpfx)
			continue;
		if (d->form == FORM_RR || d->form == FORM_RI)
			return tab[k].reg;
		return tab[k].mem;
	}
	return NULL;
}

/* ---- 128-bit moves ---- */

HANDLER(mov128_rr)
{
	sse_enter(cpu, i);
	xmm_set(cpu, i->reg, xmm_get(cpu, i->base));
	return insn_next(cpu, i);
}

#define MOV128(name, al)                                                                           \
	HANDLER(name##_load)                                                                       \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, sse_read128(cpu, i, insn_ea(cpu, i), al));                    \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_store)                                                                      \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		sse_write128(cpu, i, insn_ea(cpu, i), xmm_get(cpu, i->reg), al);                   \
		return insn_next(cpu, i);                                                          \
	}

MOV128(movu, AL_NONE)
MOV128(mova, AL_EXPLICIT)

/* ---- scalar and half moves: MOVSS, MOVSD, MOVQ, MOVLPx, MOVHPx, MOVHLPS, MOVLHPS ---- */

/* MOVSS/MOVSD register form: the low element, the rest of the destination kept. */
HANDLER(movss_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u32[0] = cpu->xmm[i->base].u32[0];
	return insn_next(cpu, i);
}

HANDLER(movsd_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[0] = cpu->xmm[i->base].u64[0];
	return insn_next(cpu, i);
}

/* The load forms zero the rest. */
HANDLER(movss_load)
{
	sse_enter(cpu, i);
	uint32_t v = mem_read32(cpu, i, insn_ea(cpu, i));
	xmm_set(cpu, i->reg, (xv)(v4u32){v, 0, 0, 0});
	return insn_next(cpu, i);
}

HANDLER(movq_load)
{
	sse_enter(cpu, i);
	uint64_t v = mem_read64(cpu, i, insn_ea(cpu, i));
	xmm_set(cpu, i->reg, (xv){v, 0});
	return insn_next(cpu, i);
}

HANDLER(movss_store)
{
	sse_enter(cpu, i);
	mem_write32(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u32[0]);
	return insn_next(cpu, i);
}

HANDLER(movlo_store)
{
	sse_enter(cpu, i);
	mem_write64(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u64[0]);
	return insn_next(cpu, i);
}

HANDLER(movhi_store)
{
	sse_enter(cpu, i);
	mem_write64(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u64[1]);
	return insn_next(cpu, i);
}

/* MOVQ xmm, xmm (F3 0F 7E, 66 0F D6): the low quadword, the high one zeroed. */
HANDLER(movq_rr)
{
	sse_enter(cpu, i);
	xmm_set(cpu, i->reg, (xv){cpu->xmm[i->base].u64[0], 0});
	return insn_next(cpu, i);
}

HANDLER(movlo_load)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[0] = mem_read64(cpu, i, insn_ea(cpu, i));
	return insn_next(cpu, i);
}

HANDLER(movhi_load)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[1] = mem_read64(cpu, i, insn_ea(cpu, i));
	return insn_next(cpu, i);
}

HANDLER(movhlps_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[0] = cpu->xmm[i->base].u64[1];
	return insn_next(cpu, i);
}

HANDLER(movlhps_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u64[1] = cpu->xmm[i->base].u64[0];
	return insn_next(cpu, i);
}

/* ---- MOVD/MOVQ between XMM and general registers or memory ---- */

#define MOVD_SZ(sz)                                                                                \
	HANDLER(movd_to_xmm_rr_##sz) /* 66 0F 6E: zero-extended into the XMM register */           \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, (xv){reg_get(cpu, sz, i->base), 0});                          \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(movd_to_xmm_rm_##sz)                                                               \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, (xv){mem_read(cpu, i, insn_ea(cpu, i), sz), 0});              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(movd_from_xmm_rr_##sz) /* 66 0F 7E: reg = the GPR, base = the XMM register */      \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		reg_set(cpu, sz, i->reg, cpu->xmm[i->base].u64[0]);                                \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(movd_from_xmm_mr_##sz)                                                             \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		mem_write(cpu, i, insn_ea(cpu, i), sz, cpu->xmm[i->reg].u64[0]);                   \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(movnti_##sz)                                                                       \
	{                                                                                          \
		mem_write(cpu, i, insn_ea(cpu, i), sz, reg_get(cpu, sz, i->reg));                  \
		return insn_next(cpu, i);                                                          \
	}

MOVD_SZ(SZ32)
MOVD_SZ(SZ64)

/* ---- sign masks: MOVMSKPS, MOVMSKPD, PMOVMSKB (zero-extended into the GPR) ---- */

/* The top bit of each byte of v, packed into 8 bits (byte k -> bit k). */
SSE_INLINE uint64_t byte_signs(uint64_t v)
{
	return ((v & 0x8080808080808080ULL) * 0x0002040810204081ULL) >> 56;
}

/* The 16 byte signs of an XMM register: one host PMOVMSKB where the host has SSE2. */
SSE_INLINE unsigned xmm_byte_signs(const union cpu_xmm *x)
{
#ifdef __SSE2__
	__m128i v;
	memcpy(&v, x, 16);
	return (unsigned)_mm_movemask_epi8(v);
#else
	return (unsigned)(byte_signs(x->u64[0]) | byte_signs(x->u64[1]) << 8);
#endif
}

HANDLER(pmovmskb_rr)
{
	sse_enter(cpu, i);
	cpu->gpr[i->reg] = xmm_byte_signs(&cpu->xmm[i->base]);
	return insn_next(cpu, i);
}

HANDLER(movmskps_rr)
{
	sse_enter(cpu, i);
	const union cpu_xmm *x = &cpu->xmm[i->base];
	cpu->gpr[i->reg] = (x->u32[0] >> 31) | (x->u32[1] >> 31) << 1 | (x->u32[2] >> 31) << 2 |
	                   (x->u32[3] >> 31) << 3;
	return insn_next(cpu, i);
}

HANDLER(movmskpd_rr)
{
	sse_enter(cpu, i);
	const union cpu_xmm *x = &cpu->xmm[i->base];
	cpu->gpr[i->reg] = (x->u64[0] >> 63) | (x->u64[1] >> 63) << 1;
	return insn_next(cpu, i);
}

/*
 * PEXTRW (0F C5 and SSE4.1's 0F 3A 15: GPR, zero-extended, or m16 <- word),
 * PINSRW (0F C4: word <- r32 or m16). The register forms have the GPR in reg.
 */

HANDLER(pextrw_rr)
{
	sse_enter(cpu, i);
	cpu->gpr[i->reg] = cpu->xmm[i->base].u16[i->imm & 7];
	return insn_next(cpu, i);
}

HANDLER(pextrw_mr)
{
	sse_enter(cpu, i);
	mem_write16(cpu, i, insn_ea(cpu, i), cpu->xmm[i->reg].u16[i->imm & 7]);
	return insn_next(cpu, i);
}

HANDLER(pinsrw_rr)
{
	sse_enter(cpu, i);
	cpu->xmm[i->reg].u16[i->imm & 7] = (uint16_t)cpu->gpr[i->base];
	return insn_next(cpu, i);
}

HANDLER(pinsrw_rm)
{
	sse_enter(cpu, i);
	uint16_t v = mem_read16(cpu, i, insn_ea(cpu, i));
	cpu->xmm[i->reg].u16[i->imm & 7] = v;
	return insn_next(cpu, i);
}

/* ---- MASKMOVDQU: the bytes of reg selected by the top bits of base, to [rDI] ---- */

SSE_INLINE void maskmov(struct cpu *cpu, const struct insn *i, unsigned asz)
{
	union cpu_xmm v = cpu->xmm[i->reg];
	unsigned mask = xmm_byte_signs(&cpu->xmm[i->base]);
	if (!mask)
		return;
	unsigned first = (unsigned)__builtin_ctz(mask), last = 31 - (unsigned)__builtin_clz(mask);
	uint64_t a = reg_get(cpu, asz, R_RDI) + cpu->seg_ea[i->seg & 7].base;
	/* Every page is checked before a byte lands (one instruction, one fault). */
	mem_probe_write(cpu, i, a + first, last - first + 1, 0);
	for (unsigned k = first; k <= last; k++)
		if (mask & (1u << k))
			mem_write8(cpu, i, a + k, v.u8[k]);
}

#define MASKMOV_SZ(asz)                                                                            \
	HANDLER(maskmovdqu_##asz)                                                                  \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		maskmov(cpu, i, asz);                                                              \
		return insn_next(cpu, i);                                                          \
	}
MASKMOV_SZ(SZ16)
MASKMOV_SZ(SZ32)
MASKMOV_SZ(SZ64)

/* ---- MXCSR and CLFLUSH ---- */

HANDLER(ldmxcsr)
{
	sse_enter(cpu, i);
	uint32_t v = mem_read32(cpu, i, insn_ea(cpu, i));
	if (v & ~SSE_MXCSR_MASK)
		insn_raise(cpu, i, EXC_GP, 0, true);
	cpu->mxcsr = v;
	return insn_next(cpu, i);
}

HANDLER(stmxcsr)
{
	sse_enter(cpu, i);
	mem_write32(cpu, i, insn_ea(cpu, i), cpu->mxcsr);
	return insn_next(cpu, i);
}

/* No caches to flush: what remains is the fault a byte load would raise. */
HANDLER(clflush)
{
	mem_read8(cpu, i, insn_ea(cpu, i));
	return insn_next(cpu, i);
}

/* ---- select ---- */

static insn_fn pick3(const struct decode *d, insn_fn rr, insn_fn load, insn_fn store)
{
	switch (d->form) {
	case FORM_RR:
		return rr;
	case FORM_RM:
		return load;
	case FORM_MR:
		return store;
	default:
		return NULL;
	}
}

insn_fn sse_mov_select(const struct decode *d)
{
	bool q = d->osize == SZ64;
	switch (d->op) {
	case OP_MOVUPS:
	case OP_MOVUPD:
	case OP_MOVDQU:
		return pick3(d, mov128_rr, movu_load, movu_store);
	case OP_MOVAPS:
	case OP_MOVAPD:
	case OP_MOVDQA:
	case OP_MOVNTPS:
	case OP_MOVNTPD:
	case OP_MOVNTDQ:
		return pick3(d, mov128_rr, mova_load, mova_store);
	case OP_MOVSS:
		return pick3(d, movss_rr, movss_load, movss_store);
	case OP_MOVSD_X:
		return pick3(d, movsd_rr, movq_load, movlo_store);
	case OP_MOVLPS:
	case OP_MOVLPD:
		return pick3(d, NULL, movlo_load, movlo_store);
	case OP_MOVHPS:
	case OP_MOVHPD:
		return pick3(d, NULL, movhi_load, movhi_store);
	case OP_MOVHLPS:
		return pick3(d, movhlps_rr, NULL, NULL);
	case OP_MOVLHPS:
		return pick3(d, movlhps_rr, NULL, NULL);
	case OP_MOVD:
		if (d->mpfx != 0x66)
			return NULL;   /* MMX */
		if (d->opcode == 0x6e) /* to XMM; 0x7e: from XMM */
			return d->form == FORM_RR ? (q ? movd_to_xmm_rr_SZ64 : movd_to_xmm_rr_SZ32)
			                          : (q ? movd_to_xmm_rm_SZ64 : movd_to_xmm_rm_SZ32);
		return d->form == FORM_RR ? (q ? movd_from_xmm_rr_SZ64 : movd_from_xmm_rr_SZ32)
		                          : (q ? movd_from_xmm_mr_SZ64 : movd_from_xmm_mr_SZ32);
	case OP_MOVQ: /* F3 0F 7E (xmm <- xmm/m64), 66 0F D6 (xmm/m64 <- xmm); no prefix: MMX */
		if (d->mpfx != 0xf3 && d->mpfx != 0x66)
			return NULL;
		return pick3(d, movq_rr, movq_load, movlo_store);
	case OP_MOVNTI:
		return d->form == FORM_MR ? (q ? movnti_SZ64 : movnti_SZ32) : NULL;
	case OP_PMOVMSKB:
		return d->mpfx == 0x66 ? pmovmskb_rr : NULL;
	case OP_MOVMSKPS:
		return movmskps_rr;
	case OP_MOVMSKPD:
		return movmskpd_rr;
	case OP_PEXTRW:
		if (d->mpfx != 0x66)
			return NULL;
		return d->form == FORM_RR ? pextrw_rr : pextrw_mr;
	case OP_PINSRW:
		if (d->mpfx != 0x66)
			return NULL;
		return d->form == FORM_RR ? pinsrw_rr : pinsrw_rm;
	case OP_MASKMOVDQU:
		if (d->mpfx != 0x66)
			return NULL;
		return d->asize == SZ64   ? maskmovdqu_SZ64
		       : d->asize == SZ32 ? maskmovdqu_SZ32
		                          : maskmovdqu_SZ16;
	case OP_LDMXCSR:
		return ldmxcsr;
	case OP_STMXCSR:
		return stmxcsr;
	case OP_CLFLUSH:
		return clflush;
	default:
		return NULL;
	}
}
