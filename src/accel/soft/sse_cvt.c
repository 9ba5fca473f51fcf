/*
 * SSE/SSE2 conversions (SDM vol. 2: CVTSI2SS, CVTSI2SD from 32- and 64-bit integers,
 * CVTSS2SI, CVTSD2SI, CVTTSS2SI, CVTTSD2SI to 32- and 64-bit integers, CVTSS2SD, CVTSD2SS,
 * CVTPS2PD, CVTPD2PS, CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ, CVTDQ2PD, CVTPD2DQ, CVTTPD2DQ).
 *
 * The host's instruction under the guest's MXCSR (sse_fp.h): rounding control, DAZ and the
 * integer indefinite value (0x80000000 / 0x8000000000000000 for NaN and out-of-range
 * sources, with invalid) come out exactly. The MMX forms (CVTPI2PS & co.) are the MMX
 * family's. An unmasked exception leaves the destination, register or XMM, unchanged.
 */
#include "accel/soft/sse_fp.h"

/* ---- integer -> scalar: xmm.low = cvt(r/m32 or r/m64), the rest kept ---- */

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
		fp_enter(cpu, i);                                                                  \
		return name##_do(cpu, i, (T)reg_get(cpu, sz, i->base));                            \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		fp_enter(cpu, i);                                                                  \
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

#define PICK_W(OP, name)                                                                           \
	case OP_##OP:                                                                              \
		return d->osize == SZ64 ? FP_PICK(d, name##64) : FP_PICK(d, name##32);
#define PICK1(OP, name)                                                                            \
	case OP_##OP:                                                                              \
		return FP_PICK(d, name);

insn_fn sse_cvt_select(const struct decode *d)
{
	if (d->form != FORM_RR && d->form != FORM_RM)
		return NULL;
	switch (d->op) {
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
	}
	return NULL;
}
