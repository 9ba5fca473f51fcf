/*
 * The SSE floating-point family's cold paths (sse_fp.h): #UD/#NM, the alignment #GP, #XM,
 * and the flags of elements whose overflow or underflow exception is unmasked (SDM vol. 1,
 * 11.5.1 "Handling SIMD floating-point exceptions" and 11.5.2.4-6; vol. 1, 4.9.1.5-6 for
 * what the precision exception means then).
 *
 * Measured on the AMD host (and what the SDM's rules give): when an element traps on an
 * unmasked overflow or underflow, its precision flag reports whether the result rounded
 * to the destination's precision with an unbounded exponent is inexact, not whether the
 * masked response would be. The masked host run cannot tell, so the element is recomputed
 * in a wider format (singles in double precision, doubles in the x87's extended format),
 * where neither overflows nor underflows.
 */
#include "accel/soft/sse_fp.h"

void fp_xm(struct cpu *cpu, const struct insn *i, uint32_t flags)
{
	cpu->mxcsr |= flags;
	/* Without CR4.OSXMMEXCPT an unmasked exception is #UD (vol. 1, 11.6.2). */
	insn_raise(cpu, i, (cpu->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0, false);
}

/* ---- isolating one result element ---- */

static bool lanes_single(enum fp_lanes lk)
{
	return lk == LK_PS || lk == LK_HPS || lk == LK_SS;
}

/* Which input elements result element k reads: dst (*da, *db) or src (*sa, *sb); -1 none. */
static void lane_inputs(enum fp_lanes lk, unsigned k, int *da, int *db, int *sa, int *sb)
{
	*da = *db = *sa = *sb = -1;
	switch (lk) {
	case LK_HPS:
	case LK_HPD:
		if (k < FP_NLANES(lk) / 2) {
			*da = (int)(2 * k);
			*db = (int)(2 * k + 1);
		} else {
			*sa = (int)(2 * k - FP_NLANES(lk));
			*sb = (int)(2 * k - FP_NLANES(lk) + 1);
		}
		break;
	default:
		*da = *sa = (int)k;
		break;
	}
}

void fp_isolate(enum fp_lanes lk, unsigned k, fpv *d, fpv *s)
{
	union cpu_xmm ud = fp_u(*d), us = fp_u(*s);
	unsigned n = lanes_single(lk) ? 4 : 2;
	int da, db, sa, sb;

	if (lk == LK_SS || lk == LK_SD)
		return; /* the other elements are copied, they raise nothing */
	lane_inputs(lk, k, &da, &db, &sa, &sb);
	for (int j = 0; j < (int)n; j++) {
		bool kd = j == da || j == db, ks = j == sa || j == sb;
		if (n == 4) {
			if (!kd)
				ud.f32[j] = 1.0f;
			if (!ks)
				us.f32[j] = 1.0f;
		} else {
			if (!kd)
				ud.f64[j] = 1.0;
			if (!ks)
				us.f64[j] = 1.0;
		}
	}
	*d = fp_v(ud);
	*s = fp_v(us);
}

/* ---- exactness with an unbounded exponent ---- */

/* Whether a significand (any position) has more than p significant bits. */
static bool wider_than(uint64_t m, unsigned p)
{
	if (!m)
		return false;
	m >>= __builtin_ctzll(m);
	return m >> p != 0;
}

/* The significand of a finite double, implicit bit included. */
static uint64_t f64_sig(uint64_t b)
{
	uint64_t frac = b & ((1ULL << 52) - 1);
	return (b >> 52 & 0x7ff) ? frac | 1ULL << 52 : frac;
}

static uint32_t daz32(uint32_t b, uint32_t csr)
{
	return (csr & MXCSR_DAZ) && !(b & 0x7f800000) ? b & 0x80000000 : b;
}

static uint64_t daz64(uint64_t b, uint32_t csr)
{
	return (csr & MXCSR_DAZ) && !(b & 0x7ff0000000000000ULL) ? b & (1ULL << 63) : b;
}

/* a op b of two singles is inexact in 24 bits: computed exactly enough in double. */
static bool inexact24(enum fp_xop op, uint32_t ab, uint32_t bb)
{
	float af, bf;
	memcpy(&af, &ab, 4);
	memcpy(&bf, &bb, 4);
	fpv x = {af, 0}, y = {bf, 0};
	uint32_t csr = MXCSR_MASKS, fl = 0;
	switch (op) {
	case XOP_ADD:
		FP_ASM("addsd %[s], %[d]", fl, csr, "+x"(x), "x"(y));
		break;
	case XOP_SUB:
		FP_ASM("subsd %[s], %[d]", fl, csr, "+x"(x), "x"(y));
		break;
	case XOP_MUL:
		FP_ASM("mulsd %[s], %[d]", fl, csr, "+x"(x), "x"(y));
		break;
	default:
		FP_ASM("divsd %[s], %[d]", fl, csr, "+x"(x), "x"(y));
		break;
	}
	uint64_t rb;
	memcpy(&rb, &x, 8);
	return (fl & MXCSR_PE) || wider_than(f64_sig(rb), 24);
}

/* a op b of two doubles is inexact in 53 bits: computed in the x87's 64-bit precision. */
static bool inexact53(enum fp_xop op, uint64_t ab, uint64_t bb)
{
	double a, b;
	uint16_t save, cw = 0x37f, sw;
	uint8_t r[10];
	memcpy(&a, &ab, 8);
	memcpy(&b, &bb, 8);
#define X87_OP(m)                                                                                  \
	__asm__ volatile("fnstcw %[save]\n\t"                                                      \
	                 "fldcw %[cw]\n\t"                                                         \
	                 "fnclex\n\t"                                                              \
	                 "fldl %[a]\n\t" m " %[b]\n\t"                                             \
	                 "fnstsw %[sw]\n\t"                                                        \
	                 "fstpt %[r]\n\t"                                                          \
	                 "fnclex\n\t"                                                              \
	                 "fldcw %[save]"                                                           \
	                 : [save] "=m"(save), [sw] "=m"(sw), [r] "=m"(r)                           \
	                 : [cw] "m"(cw), [a] "m"(a), [b] "m"(b))
	switch (op) {
	case XOP_ADD:
		X87_OP("faddl");
		break;
	case XOP_SUB:
		X87_OP("fsubl");
		break;
	case XOP_MUL:
		X87_OP("fmull");
		break;
	default:
		X87_OP("fdivl");
		break;
	}
#undef X87_OP
	uint64_t sig;
	memcpy(&sig, r, 8);
	return (sw & 0x20) || wider_than(sig, 53);
}

/*
 * Whether result element k (of kind lk, computing xop) is inexact when rounded to its
 * precision with an unbounded exponent.
 */
static bool lane_inexact(enum fp_lanes lk, enum fp_xop xop, unsigned k, fpv d, fpv s, uint32_t csr)
{
	union cpu_xmm ud = fp_u(d), us = fp_u(s);
	int da, db, sa, sb;
	enum fp_xop op = xop;

	if (xop == XOP_CVT) /* double source element k to single */
		return wider_than(f64_sig(daz64(us.u64[k], csr)), 24);
	if (xop == XOP_ADDSUB)
		op = (k & 1) ? XOP_ADD : XOP_SUB;
	lane_inputs(lk, k, &da, &db, &sa, &sb);
	bool single = lanes_single(lk);
	uint64_t a, b;
	if (da >= 0 && db >= 0) { /* horizontal, from dst */
		a = single ? ud.u32[da] : ud.u64[da];
		b = single ? ud.u32[db] : ud.u64[db];
	} else if (da < 0) { /* horizontal, from src */
		a = single ? us.u32[sa] : us.u64[sa];
		b = single ? us.u32[sb] : us.u64[sb];
	} else {
		a = single ? ud.u32[da] : ud.u64[da];
		b = single ? us.u32[sa] : us.u64[sa];
	}
	if (single)
		return inexact24(op, daz32((uint32_t)a, csr), daz32((uint32_t)b, csr));
	return inexact53(op, daz64(a, csr), daz64(b, csr));
}

uint32_t fp_lane_flags(uint32_t f, uint32_t um, enum fp_lanes lk, enum fp_xop xop, unsigned k,
                       fpv d, fpv s, uint32_t csr)
{
	if (!(f & um & (MXCSR_OE | MXCSR_UE)))
		return f;
	f &= ~MXCSR_PE;
	if (lane_inexact(lk, xop, k, d, s, csr))
		f |= MXCSR_PE;
	return f;
}
