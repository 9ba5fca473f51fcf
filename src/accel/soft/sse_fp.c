/*
 * SSE/SSE2/SSE3 floating-point arithmetic (SDM vol. 2: ADDPS/ADDSS/ADDPD/ADDSD, SUB*, MUL*,
 * DIV*, MIN*, MAX*, SQRT*, RCPPS/RCPSS, RSQRTPS/RSQRTSS, ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD)
 * (vol. 1, 11.5 for the exceptions; the cold paths are sse_fpx.c's).
 *
 * Each operation is the host's instruction under the guest's MXCSR (sse_fp.h), so results
 * are bit-exact: MIN/MAX return the second operand for NaNs and zeros of either sign,
 * RCP/RSQRT give the host's approximations (within the 1.5 * 2^-12 the SDM allows; the
 * differential tests compare them with a tolerance). When an exception the guest unmasked
 * occurs in an operation that can overflow or underflow, the flags are recomputed element
 * by element (FP_PACKED, fp_lane_flags): which ones are reported depends on the element.
 */
#include "accel/soft/sse_fp.h"

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
	}
	return NULL;
}
