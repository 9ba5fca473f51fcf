/*
 * SSE3 data movement and SSE4.1 floating point (SDM vol. 2: MOVSHDUP, MOVSLDUP, MOVDDUP,
 * LDDQU; ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD, BLENDPS, BLENDPD, BLENDVPS, BLENDVPD, DPPS,
 * DPPD; vol. 1, 12.10 "SSE4.1"). INSERTPS and EXTRACTPS are sse41_mov.c's.
 *
 * ROUNDxx and DPPx run as the host's SSE4.1 instruction under the guest's MXCSR (sse_fp.h):
 * ROUNDxx with its immediate's rounding control put into that MXCSR (imm8 bit 2 clear) and
 * the precision exception dropped when imm8 bit 3 says so; DPPx with one handler per
 * multiply mask (imm8 bits 4-7), the result mask (bits 0-3) applied afterwards, since
 * which elements receive the sum does not change how it is computed.
 */
#include "accel/soft/sse_fp.h"

/* ---- SSE3: MOVSHDUP, MOVSLDUP, MOVDDUP, LDDQU ---- */

#define MOVE_OP(name, mk, expr)                                                                    \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv sv)      \
	{                                                                                          \
		union cpu_xmm s = fp_u(sv), r;                                                     \
		expr;                                                                              \
		cpu->xmm[i->reg] = r;                                                              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

MOVE_OP(movshdup, M128A, (r.u32[0] = r.u32[1] = s.u32[1], r.u32[2] = r.u32[3] = s.u32[3]))
MOVE_OP(movsldup, M128A, (r.u32[0] = r.u32[1] = s.u32[0], r.u32[2] = r.u32[3] = s.u32[2]))
MOVE_OP(movddup, M64, (r.u64[0] = r.u64[1] = s.u64[0]))

/* LDDQU: an unaligned 16-byte load (memory only: the decoder rejects a register). */
HANDLER(lddqu_rm)
{
	sse_enter(cpu, i);
	fp_set_xmm(cpu, i->reg, fp_load(cpu, i, M128U));
	return insn_next(cpu, i);
}

/* ---- ROUNDxx ---- */

#define ROUND(name, mk)                                                                            \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		fpv r = fp_xmm(cpu, i->reg);                                                       \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		if (!(i->imm & 4))                                                                 \
			csr = (csr & ~MXCSR_RC) | (uint32_t)(i->imm & 3) << 13;                    \
		FP_ASMC(#name " $4, %[s], %[d]", fl, csr, "+x"(r), "x"(s));                        \
		if (i->imm & 8)                                                                    \
			fl &= ~MXCSR_PE;                                                           \
		fp_commit(cpu, i, fl);                                                             \
		fp_set_xmm(cpu, i->reg, r);                                                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

ROUND(roundps, M128A)
ROUND(roundpd, M128A)
ROUND(roundss, M32)
ROUND(roundsd, M64)

/* ---- BLENDPS, BLENDPD (imm8 mask), BLENDVPS, BLENDVPD (XMM0's sign bits) ---- */

typedef int32_t v4i __attribute__((vector_size(16)));
typedef int64_t v2i __attribute__((vector_size(16)));

#define BLEND(name, mk, V, mask)                                                                   \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv sv)      \
	{                                                                                          \
		V d, s, m;                                                                         \
		memcpy(&d, &cpu->xmm[i->reg], 16);                                                 \
		memcpy(&s, &sv, 16);                                                               \
		mask;                                                                              \
		d = (d & ~m) | (s & m);                                                            \
		memcpy(&cpu->xmm[i->reg], &d, 16);                                                 \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

FP_INLINE v4i imm_mask_4(uint64_t imm)
{
	return -(v4i){(int32_t)(imm & 1), (int32_t)(imm >> 1 & 1), (int32_t)(imm >> 2 & 1),
	              (int32_t)(imm >> 3 & 1)};
}

FP_INLINE v2i imm_mask_2(uint64_t imm)
{
	return -(v2i){(int64_t)(imm & 1), (int64_t)(imm >> 1 & 1)};
}

#define IMM_MASK(n)  (m = imm_mask_##n(i->imm))
#define SIGN_MASK(n) (memcpy(&m, &cpu->xmm[0], 16), m >>= (int)(sizeof(m[0]) * 8 - 1))

BLEND(blendps, M128A, v4i, IMM_MASK(4))
BLEND(blendpd, M128A, v2i, IMM_MASK(2))
BLEND(blendvps, M128A, v4i, SIGN_MASK(4))
BLEND(blendvpd, M128A, v2i, SIGN_MASK(2))

/* ---- DPPS, DPPD: one handler per multiply mask; the result mask applied after ---- */

/*
 * An unmasked exception: the SDM's steps, each checked in turn (vol. 2, DPPS: "exceptions
 * are determined separately for each add and multiply operation, in the order of their
 * execution"): the products of the selected elements (+0.0 for the others), the sums of
 * pairs, the final sum. A step that raises an unmasked exception traps with the flags of
 * the steps before it and its own (pre-computation ones only, if it has one unmasked).
 */
FP_POST(dp_mulps, "mulps", LK_PS, XOP_MUL)
FP_POST(dp_addps, "addps", LK_PS, XOP_ADD)
FP_POST(dp_addss, "addss", LK_SS, XOP_ADD)
FP_POST(dp_mulpd, "mulpd", LK_PD, XOP_MUL)
FP_POST(dp_addsd, "addsd", LK_SD, XOP_ADD)

#define DP_STEP(mnem, post, x, y)                                                                  \
	do {                                                                                       \
		fpv r_ = x;                                                                        \
		uint32_t sf_;                                                                      \
		FP_ASM(mnem " %[s], %[d]", sf_, csr, "+x"(r_), "x"(y));                            \
		if (sf_ & um) {                                                                    \
			if (sf_ & um & MXCSR_PRE)                                                  \
				fp_xm(cpu, i, done | (sf_ & MXCSR_PRE));                           \
			fp_xm(cpu, i, done | post(x, y, csr, um));                                 \
		}                                                                                  \
		done |= sf_;                                                                       \
		x = r_;                                                                            \
	} while (0)

static __attribute__((cold, noinline, noreturn)) void dp_xm(struct cpu *cpu, const struct insn *i,
                                                            fpv d, fpv s, bool single)
{
	uint32_t csr = fp_csr(cpu->mxcsr), um = fp_unmasked(cpu->mxcsr), done = 0;
	union cpu_xmm ud = fp_u(d), us = fp_u(s), lo, hi;
	if (single) {
		for (unsigned k = 0; k < 4; k++)
			if (!(i->imm >> (4 + k) & 1))
				ud.u32[k] = us.u32[k] = 0;
		fpv t = fp_v(ud), b = fp_v(us);
		DP_STEP("mulps", dp_mulps, t, b);
		ud = fp_u(t);
		lo = (union cpu_xmm){.u32 = {ud.u32[0], ud.u32[2], 0, 0}};
		hi = (union cpu_xmm){.u32 = {ud.u32[1], ud.u32[3], 0, 0}};
		fpv x = fp_v(lo), y = fp_v(hi);
		DP_STEP("addps", dp_addps, x, y);
		ud = fp_u(x);
		lo = (union cpu_xmm){.u32 = {ud.u32[0], 0, 0, 0}};
		hi = (union cpu_xmm){.u32 = {ud.u32[1], 0, 0, 0}};
		x = fp_v(lo);
		y = fp_v(hi);
		DP_STEP("addss", dp_addss, x, y);
	} else {
		for (unsigned k = 0; k < 2; k++)
			if (!(i->imm >> (4 + k) & 1))
				ud.u64[k] = us.u64[k] = 0;
		fpv t = fp_v(ud), b = fp_v(us);
		DP_STEP("mulpd", dp_mulpd, t, b);
		ud = fp_u(t);
		lo = (union cpu_xmm){.u64 = {ud.u64[0], 0}};
		hi = (union cpu_xmm){.u64 = {ud.u64[1], 0}};
		fpv x = fp_v(lo), y = fp_v(hi);
		DP_STEP("addsd", dp_addsd, x, y);
	}
	fp_xm(cpu, i, done); /* not reached: the host's run raised the same flags */
}

#define DP(name, mnem, hi, lo, nl)                                                                 \
	FP_INLINE const struct insn *name##_##hi##_do(struct cpu *cpu, const struct insn *i,       \
	                                              fpv s)                                       \
	{                                                                                          \
		fpv d = fp_xmm(cpu, i->reg), r = d;                                                \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		FP_ASMC(mnem " $0x" #hi #lo ", %[s], %[d]", fl, csr, "+x"(r), "x"(s));             \
		if (unlikely(fl & fp_unmasked(cpu->mxcsr)))                                        \
			dp_xm(cpu, i, d, s, nl == 4);                                              \
		cpu->mxcsr |= fl;                                                                  \
		union cpu_xmm u = fp_u(r);                                                         \
		for (unsigned k = 0; k < nl; k++) {                                                \
			if (i->imm >> k & 1)                                                       \
				continue;                                                          \
			if (nl == 4)                                                               \
				u.u32[k] = 0;                                                      \
			else                                                                       \
				u.u64[k] = 0;                                                      \
		}                                                                                  \
		cpu->xmm[i->reg] = u;                                                              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name##_##hi, M128A)

#define DPPS(hi) DP(dpps, "dpps", hi, f, 4)
#define DPPD(hi) DP(dppd, "dppd", hi, 3, 2)
/* clang-format off */
DPPS(0) DPPS(1) DPPS(2) DPPS(3) DPPS(4) DPPS(5) DPPS(6) DPPS(7)
DPPS(8) DPPS(9) DPPS(a) DPPS(b) DPPS(c) DPPS(d) DPPS(e) DPPS(f)
DPPD(0) DPPD(1) DPPD(2) DPPD(3)

#define DP_ROW(name, hi) {name##_##hi##_rr, name##_##hi##_rm}
static const insn_fn dpps_fns[16][2] = {
    DP_ROW(dpps, 0), DP_ROW(dpps, 1), DP_ROW(dpps, 2), DP_ROW(dpps, 3),
    DP_ROW(dpps, 4), DP_ROW(dpps, 5), DP_ROW(dpps, 6), DP_ROW(dpps, 7),
    DP_ROW(dpps, 8), DP_ROW(dpps, 9), DP_ROW(dpps, a), DP_ROW(dpps, b),
    DP_ROW(dpps, c), DP_ROW(dpps, d), DP_ROW(dpps, e), DP_ROW(dpps, f),
};
static const insn_fn dppd_fns[4][2] = {
    DP_ROW(dppd, 0), DP_ROW(dppd, 1), DP_ROW(dppd, 2), DP_ROW(dppd, 3),
};
/* clang-format on */

#define PICK1(OP, name)                                                                            \
	case OP_##OP:                                                                              \
		return FP_PICK(d, name);

insn_fn sse41_fp_select(const struct decode *d)
{
	if (d->form != FORM_RR && d->form != FORM_RM)
		return NULL;
	switch (d->op) {
		PICK1(MOVSHDUP, movshdup)
		PICK1(MOVSLDUP, movsldup)
		PICK1(MOVDDUP, movddup)
		PICK1(ROUNDPS, roundps)
		PICK1(ROUNDPD, roundpd)
		PICK1(ROUNDSS, roundss)
		PICK1(ROUNDSD, roundsd)
		PICK1(BLENDPS, blendps)
		PICK1(BLENDPD, blendpd)
		PICK1(BLENDVPS, blendvps)
		PICK1(BLENDVPD, blendvpd)
	case OP_LDDQU:
		return d->form == FORM_RM ? lddqu_rm : NULL;
	case OP_DPPS:
		return dpps_fns[d->insn->imm >> 4 & 15][d->form == FORM_RM];
	case OP_DPPD:
		return dppd_fns[d->insn->imm >> 4 & 3][d->form == FORM_RM];
	}
	return NULL;
}
