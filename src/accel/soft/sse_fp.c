/*
 * SSE/SSE2/SSE3 floating-point arithmetic, compares and conversions (SDM vol. 2: ADDPS/
 * ADDSS/ADDPD/ADDSD, SUB*, MUL*, DIV*, MIN*, MAX*, SQRT*, RCPPS/RCPSS, RSQRTPS/RSQRTSS,
 * ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD; CMPPS/CMPSS/CMPPD/CMPSD with the imm8 predicates 0-7,
 * COMISS, COMISD, UCOMISS, UCOMISD; CVTSI2SS/CVTSI2SD from 32- and 64-bit integers,
 * CVTSS2SI/CVTSD2SI/CVTTSS2SI/CVTTSD2SI to them, CVTSS2SD, CVTSD2SS, CVTPS2PD, CVTPD2PS,
 * CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ, CVTDQ2PD, CVTPD2DQ, CVTTPD2DQ; vol. 1, 11.5 for the
 * exceptions, whose cold paths are sse_fpx.c's).
 *
 * Each operation is the host's instruction under the guest's MXCSR (sse_fp.h), so results
 * are bit-exact: MIN/MAX return the second operand for NaNs and zeros of either sign,
 * RCP/RSQRT give the host's approximations (within the 1.5 * 2^-12 the SDM allows; the
 * differential tests compare them with a tolerance), conversions honour RC and DAZ and
 * give the integer indefinite value (0x80000000 / 0x8000000000000000, invalid) for NaN
 * and out-of-range sources. When an exception the guest unmasked occurs in an operation
 * that can overflow or underflow, the flags are recomputed element by element
 * (FP_PACKED, fp_lane_flags): which ones are reported depends on the element. An
 * unmasked exception leaves the destination (XMM, GPR, RFLAGS) unchanged. The MMX
 * conversions (CVTPI2PS & co.) are the MMX family's.
 */
#include "accel/soft/sse_fp.h"

/* ---- arithmetic ---- */

/* The four forms of a basic operation: PS, PD (packed, per element), SS, SD. */
#define FP_ARITH4(op, xop)                                                                         \
	FP_PACKED(op##ps, #op "ps", M128A, LK_PS, xop)                                             \
	FP_PACKED(op##pd, #op "pd", M128A, LK_PD, xop)                                             \
	FP_PACKED(op##ss, #op "ss", M32, LK_SS, xop)                                               \
	FP_PACKED(op##sd, #op "sd", M64, LK_SD, xop)

/* MIN, MAX and SQRT cannot overflow or underflow: no per-element work. */
#define FP_SIMPLE4(op)                                                                             \
	FP_SIMPLE(op##ps, #op "ps", M128A)                                                         \
	FP_SIMPLE(op##pd, #op "pd", M128A)                                                         \
	FP_SIMPLE(op##ss, #op "ss", M32)                                                           \
	FP_SIMPLE(op##sd, #op "sd", M64)

FP_ARITH4(add, XOP_ADD)
FP_ARITH4(sub, XOP_SUB)
FP_ARITH4(mul, XOP_MUL)
FP_ARITH4(div, XOP_DIV)
FP_SIMPLE4(min)
FP_SIMPLE4(max)
FP_SIMPLE4(sqrt)

/* Approximations: no exceptions at all (denormal inputs count as zero, no DE). */
FP_SIMPLE(rcpps, "rcpps", M128A)
FP_SIMPLE(rcpss, "rcpss", M32)
FP_SIMPLE(rsqrtps, "rsqrtps", M128A)
FP_SIMPLE(rsqrtss, "rsqrtss", M32)

/* SSE3 */
FP_PACKED(addsubps, "addsubps", M128A, LK_PS, XOP_ADDSUB)
FP_PACKED(addsubpd, "addsubpd", M128A, LK_PD, XOP_ADDSUB)
FP_PACKED(haddps, "haddps", M128A, LK_HPS, XOP_ADD)
FP_PACKED(haddpd, "haddpd", M128A, LK_HPD, XOP_ADD)
FP_PACKED(hsubps, "hsubps", M128A, LK_HPS, XOP_SUB)
FP_PACKED(hsubpd, "hsubpd", M128A, LK_HPD, XOP_SUB)

/*
 * ---- CMPxx: an all-ones or all-zeros mask per element; one handler per predicate (legacy
 * encodings use imm8 bits 0-2 only). The ordered predicates signal invalid on a QNaN too.
 */

#define CMP_P(op, p, mk) FP_SIMPLE(op##_##p, #op " $" #p ",", mk)
#define CMP_OP(op, mk)                                                                             \
	CMP_P(op, 0, mk)                                                                           \
	CMP_P(op, 1, mk)                                                                           \
	CMP_P(op, 2, mk)                                                                           \
	CMP_P(op, 3, mk)                                                                           \
	CMP_P(op, 4, mk)                                                                           \
	CMP_P(op, 5, mk)                                                                           \
	CMP_P(op, 6, mk)                                                                           \
	CMP_P(op, 7, mk)

CMP_OP(cmpps, M128A)
CMP_OP(cmppd, M128A)
CMP_OP(cmpss, M32)
CMP_OP(cmpsd, M64)

#define CMP_ROW(op)                                                                                \
	{                                                                                          \
		{op##_0_rr, op##_1_rr, op##_2_rr, op##_3_rr,                                       \
		 op##_4_rr, op##_5_rr, op##_6_rr, op##_7_rr},                                      \
		{                                                                                  \
			op##_0_rm, op##_1_rm, op##_2_rm, op##_3_rm, op##_4_rm, op##_5_rm,          \
			    op##_6_rm, op##_7_rm                                                   \
		}                                                                                  \
	}

/* [CMPPS, CMPPD, CMPSS, CMPSD][register, memory][predicate] */
static const insn_fn cmp_fns[4][2][8] = {
    CMP_ROW(cmpps),
    CMP_ROW(cmppd),
    CMP_ROW(cmpss),
    CMP_ROW(cmpsd),
};

/* ---- COMISS, UCOMISS, COMISD, UCOMISD: ZF, PF, CF as the host's compare sets them ---- */

#define COMI(name, mk)                                                                             \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		fpv d = fp_xmm(cpu, i->reg);                                                       \
		uint32_t g = cpu->mxcsr, mx = fp_csr(g);                                           \
		bool zf, pf, cf;                                                                   \
		__asm__ volatile("movl %[x], %[m]\n\t"                                             \
		                 "ldmxcsr %[m]\n\t" #name " %[s], %[d]\n\t"                        \
		                 "stmxcsr %[m]\n\t"                                                \
		                 "movl %[m], %[x]\n\t"                                             \
		                 "movl $%c[h], %[m]\n\t"                                           \
		                 "ldmxcsr %[m]\n\t"                                                \
		                 "movl %[g], %[m]"                                                 \
		                 : [m] "+m"(cpu->mxcsr), [x] "+&r"(mx), "=@ccz"(zf), "=@ccp"(pf),  \
		                   "=@ccc"(cf)                                                     \
		                 : [d] "x"(d), [s] "x"(s), [g] "r"(g), [h] "i"(MXCSR_HOST));       \
		fp_commit(cpu, i, mx &MXCSR_FLAGS);                                                \
		fp_set_rflags(cpu, (zf ? FLAG_ZF : 0) | (pf ? FLAG_PF : 0) | (cf ? FLAG_CF : 0));  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

COMI(comiss, M32)
COMI(ucomiss, M32)
COMI(comisd, M64)
COMI(ucomisd, M64)

/* ---- conversions: integer -> scalar: xmm.low = cvt(r/m32 or r/m64), the rest kept ---- */

#define CVT_FROM_INT(name, mnem, T, sz)                                                            \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, T s)         \
	{                                                                                          \
		fpv r = fp_xmm(cpu, i->reg);                                                       \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		FP_ASMC(mnem " %[s], %[d]", fl, csr, "+x"(r), "r"(s));                             \
		fp_commit(cpu, i, fl);                                                             \
		fp_set_xmm(cpu, i->reg, r);                                                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rr)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                  \
		return name##_do(cpu, i, (T)reg_get(cpu, sz, i->base));                            \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                  \
		return name##_do(cpu, i, (T)mem_read(cpu, i, insn_ea(cpu, i), sz));                \
	}

CVT_FROM_INT(cvtsi2ss32, "cvtsi2ssl", uint32_t, SZ32)
CVT_FROM_INT(cvtsi2ss64, "cvtsi2ssq", uint64_t, SZ64)
CVT_FROM_INT(cvtsi2sd32, "cvtsi2sdl", uint32_t, SZ32)
CVT_FROM_INT(cvtsi2sd64, "cvtsi2sdq", uint64_t, SZ64)

/* ---- scalar -> integer: r32/r64 = cvt(xmm/m32 or xmm/m64) ---- */

#define CVT_TO_INT(name, mnem, T, R, sz, mk)                                                       \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		T r;                                                                               \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		FP_ASMC(mnem " %[s], %" R "[d]", fl, csr, "=&r"(r), "x"(s));                       \
		fp_commit(cpu, i, fl);                                                             \
		reg_set(cpu, sz, i->reg, r);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

CVT_TO_INT(cvtss2si32, "cvtss2si", uint32_t, "k", SZ32, M32)
CVT_TO_INT(cvtss2si64, "cvtss2si", uint64_t, "q", SZ64, M32)
CVT_TO_INT(cvttss2si32, "cvttss2si", uint32_t, "k", SZ32, M32)
CVT_TO_INT(cvttss2si64, "cvttss2si", uint64_t, "q", SZ64, M32)
CVT_TO_INT(cvtsd2si32, "cvtsd2si", uint32_t, "k", SZ32, M64)
CVT_TO_INT(cvtsd2si64, "cvtsd2si", uint64_t, "q", SZ64, M64)
CVT_TO_INT(cvttsd2si32, "cvttsd2si", uint32_t, "k", SZ32, M64)
CVT_TO_INT(cvttsd2si64, "cvttsd2si", uint64_t, "q", SZ64, M64)

/* ---- XMM -> XMM ---- */

FP_SIMPLE(cvtss2sd, "cvtss2sd", M32)
FP_PACKED(cvtsd2ss, "cvtsd2ss", M64, LK_SD, XOP_CVT)
FP_SIMPLE(cvtps2pd, "cvtps2pd", M64)
/* two doubles can each overflow or underflow */
FP_PACKED(cvtpd2ps, "cvtpd2ps", M128A, LK_PD, XOP_CVT)
FP_SIMPLE(cvtdq2ps, "cvtdq2ps", M128A)
FP_SIMPLE(cvtps2dq, "cvtps2dq", M128A)
FP_SIMPLE(cvttps2dq, "cvttps2dq", M128A)
FP_SIMPLE(cvtdq2pd, "cvtdq2pd", M64)
FP_SIMPLE(cvtpd2dq, "cvtpd2dq", M128A)
FP_SIMPLE(cvttpd2dq, "cvttpd2dq", M128A)

#define PICK4(OP, name)                                                                            \
	case OP_##OP##PS:                                                                          \
		return FP_PICK(d, name##ps);                                                       \
	case OP_##OP##PD:                                                                          \
		return FP_PICK(d, name##pd);                                                       \
	case OP_##OP##SS:                                                                          \
		return FP_PICK(d, name##ss);                                                       \
	case OP_##OP##SD:                                                                          \
		return FP_PICK(d, name##sd);
#define PICK1(OP, name)                                                                            \
	case OP_##OP:                                                                              \
		return FP_PICK(d, name);

#define PICK_W(OP, name)                                                                           \
	case OP_##OP:                                                                              \
		return d->osize == SZ64 ? FP_PICK(d, name##64) : FP_PICK(d, name##32);

insn_fn sse_fp_select(const struct decode *d)
{
	if (d->form != FORM_RR && d->form != FORM_RM)
		return NULL;
	switch (d->op) {
		PICK4(ADD, add)
		PICK4(SUB, sub)
		PICK4(MUL, mul)
		PICK4(DIV, div)
		PICK4(MIN, min)
		PICK4(MAX, max)
		PICK1(SQRTPS, sqrtps)
		PICK1(SQRTPD, sqrtpd)
		PICK1(SQRTSS, sqrtss)
		PICK1(SQRTSD, sqrtsd)
		PICK1(RCPPS, rcpps)
		PICK1(RCPSS, rcpss)
		PICK1(RSQRTPS, rsqrtps)
		PICK1(RSQRTSS, rsqrtss)
		PICK1(ADDSUBPS, addsubps)
		PICK1(ADDSUBPD, addsubpd)
		PICK1(HADDPS, haddps)
		PICK1(HADDPD, haddpd)
		PICK1(HSUBPS, hsubps)
		PICK1(HSUBPD, hsubpd)
		PICK_W(CVTSI2SS, cvtsi2ss)
		PICK_W(CVTSI2SD, cvtsi2sd)
		PICK_W(CVTSS2SI, cvtss2si)
		PICK_W(CVTTSS2SI, cvttss2si)
		PICK_W(CVTSD2SI, cvtsd2si)
		PICK_W(CVTTSD2SI, cvttsd2si)
		PICK1(CVTSS2SD, cvtss2sd)
		PICK1(CVTSD2SS, cvtsd2ss)
		PICK1(CVTPS2PD, cvtps2pd)
		PICK1(CVTPD2PS, cvtpd2ps)
		PICK1(CVTDQ2PS, cvtdq2ps)
		PICK1(CVTPS2DQ, cvtps2dq)
		PICK1(CVTTPS2DQ, cvttps2dq)
		PICK1(CVTDQ2PD, cvtdq2pd)
		PICK1(CVTPD2DQ, cvtpd2dq)
		PICK1(CVTTPD2DQ, cvttpd2dq)
	case OP_CMPPS:
	case OP_CMPPD:
	case OP_CMPSS:
	case OP_CMPSD_X: {
		_Static_assert(OP_CMPSD_X - OP_CMPPS == 3, "ops.def order");
		return cmp_fns[d->op - OP_CMPPS][d->form == FORM_RM][d->insn->imm & 7];
	}
	case OP_COMISS:
		return FP_PICK(d, comiss);
	case OP_UCOMISS:
		return FP_PICK(d, ucomiss);
	case OP_COMISD:
		return FP_PICK(d, comisd);
	case OP_UCOMISD:
		return FP_PICK(d, ucomisd);
	}
	return NULL;
}
