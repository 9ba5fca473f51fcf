/*
 * Helpers of the SSE floating-point family (sse_fp.c, sse_fpx.c, sse41_fp.c, sse42_str.c):
 * SDM vol. 1, 10.2.3 (MXCSR), 11.5 (SIMD floating-point exceptions: flags, masks, pre- and
 * post-computation exceptions, #XM), 11.6.8 (the effect of CR4.OSXMMEXCPT); vol. 2A, 2.5
 * (exception classes: #UD for CR0.EM or !CR4.OSFXSR, #NM for CR0.TS, #GP(0) for a
 * misaligned legacy m128 operand).
 *
 * Every floating-point operation runs as the host's own SSE instruction (inline assembly:
 * no intrinsics, no target options) with an MXCSR derived from the guest's loaded around
 * it: the guest's rounding control, DAZ and FTZ, every exception masked and the flags
 * clear. The result and the flags the host raised are then exactly the guest's, denormals
 * and NaN propagation included; only the exceptions the guest unmasked need more work
 * (fp_xm_pre/fp_xm below). ROUNDxx and DPPx need SSE4.1 on the host, ADDSUB/HADD/HSUB
 * SSE3; the host's MXCSR is set back (MXCSR_HOST) before the handler continues.
 */
#ifndef EMBER_ACCEL_SOFT_SSE_FP_H
#define EMBER_ACCEL_SOFT_SSE_FP_H

#include <stdint.h>
#include <string.h>

#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sse_state.h"

#define FP_INLINE static inline __attribute__((always_inline))

/* MXCSR (vol. 1, 10.2.3). */
#define MXCSR_IE    0x01u
#define MXCSR_DE    0x02u
#define MXCSR_ZE    0x04u
#define MXCSR_OE    0x08u
#define MXCSR_UE    0x10u
#define MXCSR_PE    0x20u
#define MXCSR_FLAGS 0x3fu
#define MXCSR_DAZ   0x40u
#define MXCSR_MASKS 0x1f80u
#define MXCSR_UM    0x800u
#define MXCSR_RC    0x6000u
#define MXCSR_FTZ   0x8000u
/* Invalid, denormal and divide-by-zero are detected before the computation (11.5.1). */
#define MXCSR_PRE (MXCSR_IE | MXCSR_DE | MXCSR_ZE)


/* 128 bits in an XMM register of the host (the type only matters to the compiler). */
typedef double fpv __attribute__((vector_size(16)));

/* ---- availability, registers, operands ---- */


FP_INLINE fpv fp_xmm(const struct cpu *cpu, unsigned r)
{
	fpv v;
	memcpy(&v, &cpu->xmm[r], 16);
	return v;
}

FP_INLINE void fp_set_xmm(struct cpu *cpu, unsigned r, fpv v)
{
	memcpy(&cpu->xmm[r], &v, 16);
}

FP_INLINE union cpu_xmm fp_u(fpv v)
{
	union cpu_xmm u;
	memcpy(&u, &v, 16);
	return u;
}

FP_INLINE fpv fp_v(union cpu_xmm u)
{
	fpv v;
	memcpy(&v, &u, 16);
	return v;
}

/* What a memory operand is: its size and whether a legacy m128 must be aligned. */
enum fp_mem { M128A, M128U, M64, M32 };

/*
 * The memory operand as a 128-bit value (m64/m32 in the low bits, the rest zero). The
 * alignment check comes before any page fault; MXCSR.MM (AMD) lifts it.
 */
FP_INLINE fpv fp_load(struct cpu *cpu, const struct insn *i, enum fp_mem k)
{
	uint64_t a = insn_ea(cpu, i);
	union cpu_xmm u = {.u64 = {0, 0}};
	switch (k) {
	case M128A:
		if (unlikely(a & 15) && !(cpu->mxcsr & MXCSR_MM))
			sse_misaligned(cpu, i);
		mem_read128(cpu, i, a, &u);
		break;
	case M128U:
		mem_read128(cpu, i, a, &u);
		break;
	case M64:
		u.u64[0] = mem_read64(cpu, i, a);
		break;
	case M32:
		u.u32[0] = mem_read32(cpu, i, a);
		break;
	}
	return fp_v(u);
}

/* ---- running an operation on the host ---- */

/*
 * The MXCSR the host runs a guest operation with: the guest's RC, DAZ and FTZ, all
 * exceptions masked, no flags. When the guest unmasks underflow, FTZ is forced on: a tiny
 * result then raises UE even when it is exact, which is when an unmasked underflow traps
 * (and that result is never written).
 */
FP_INLINE uint32_t fp_csr(uint32_t guest)
{
	uint32_t c = (guest & (MXCSR_RC | MXCSR_DAZ | MXCSR_FTZ)) | MXCSR_MASKS;
	if (!(guest & MXCSR_UM))
		c |= MXCSR_FTZ;
	return c;
}

/* The exception flags the guest has unmasked. */
FP_INLINE uint32_t fp_unmasked(uint32_t guest)
{
	return ~guest >> 7 & MXCSR_FLAGS;
}

/*
 * The MXCSR of the host thread between guest operations: the ABI's default, which ember
 * never changes (restoring a constant instead of a saved value halves the cost: the
 * store-load round trip of STMXCSR/LDMXCSR is slow on the AMD host).
 */
#define MXCSR_HOST 0x1f80u

/*
 * Runs mnem (AT&T syntax, operands %[s] and %[d]) with MXCSR = csr and stores the flags
 * it raised in fl. DOUT/SIN are the constraint-decorated operands, e.g. "+x"(d), "x"(s).
 * For the cold paths: its MXCSR images are on the stack.
 */
#define FP_ASM(mnem, fl, csr, DOUT, SIN)                                                           \
	do {                                                                                       \
		uint32_t h_ = MXCSR_HOST, f_;                                                      \
		__asm__ volatile("ldmxcsr %[c]\n\t" mnem "\n\t"                                    \
		                 "stmxcsr %[f]\n\t"                                                \
		                 "ldmxcsr %[h]"                                                    \
		                 : [d] DOUT, [f] "=m"(f_)                                          \
		                 : [s] SIN, [c] "m"(csr), [h] "m"(h_));                            \
		(fl) = f_ & MXCSR_FLAGS;                                                           \
	} while (0)

/*
 * The same in handlers: the MXCSR images pass through cpu->mxcsr (restored to the guest's
 * value at the end), since a stack slot whose address the asm takes would keep the
 * compiler from tail-calling the next handler.
 */
#define FP_ASMC(mnem, fl, csr, DOUT, SIN)                                                          \
	do {                                                                                       \
		uint32_t g_ = cpu->mxcsr, c_ = (csr);                                              \
		__asm__ volatile("movl %[c], %[m]\n\t"                                             \
		                 "ldmxcsr %[m]\n\t" mnem "\n\t"                                    \
		                 "stmxcsr %[m]\n\t"                                                \
		                 "movl %[m], %[c]\n\t"                                             \
		                 "movl $%c[h], %[m]\n\t"                                           \
		                 "ldmxcsr %[m]\n\t"                                                \
		                 "movl %[g], %[m]"                                                 \
		                 : [d] DOUT, [m] "+m"(cpu->mxcsr), [c] "+&r"(c_)                   \
		                 : [s] SIN, [g] "r"(g_), [h] "i"(MXCSR_HOST));                     \
		(fl) = c_ & MXCSR_FLAGS;                                                           \
	} while (0)

/* ---- unmasked exceptions (vol. 1, 11.5.1) ---- */

/* Sets the flags and raises #XM (#UD when CR4.OSXMMEXCPT is clear). */
__attribute__((noreturn, cold)) void fp_xm(struct cpu *cpu, const struct insn *i, uint32_t flags);

/*
 * An unmasked pre-computation exception (invalid, denormal, divide by zero) in any element
 * ends the instruction before the computation: only the pre-computation flags of all
 * elements are set. Returns when there is none: an unmasked post-computation exception
 * (overflow, underflow, precision) then reports every element's flags (fp_lane_flags).
 */
FP_INLINE void fp_xm_pre(struct cpu *cpu, const struct insn *i, uint32_t fl)
{
	if (fl & fp_unmasked(cpu->mxcsr) & MXCSR_PRE)
		fp_xm(cpu, i, fl & MXCSR_PRE);
}

/* Commits the flags of an operation that cannot overflow or underflow; #XM when unmasked. */
FP_INLINE void fp_commit(struct cpu *cpu, const struct insn *i, uint32_t fl)
{
	if (unlikely(fl & fp_unmasked(cpu->mxcsr))) {
		fp_xm_pre(cpu, i, fl);
		fp_xm(cpu, i, fl);
	}
	cpu->mxcsr |= fl;
}

/* How the elements of an operation's result depend on its inputs (fp_isolate). */
enum fp_lanes {
	LK_PS,  /* element-wise, 4 singles */
	LK_PD,  /* element-wise, 2 doubles */
	LK_HPS, /* horizontal pairs of singles: HADDPS, HSUBPS */
	LK_HPD, /* horizontal pairs of doubles: HADDPD, HSUBPD */
	LK_SS,  /* the low single only */
	LK_SD,  /* the low double only */
};
#define FP_NLANES(lk)                                                                              \
	((lk) == LK_PS || (lk) == LK_HPS ? 4u : (lk) == LK_PD || (lk) == LK_HPD ? 2u : 1u)

/* What an element computes, for the exactness of a trapping overflow or underflow. */
enum fp_xop {
	XOP_ADD,
	XOP_SUB,
	XOP_MUL,
	XOP_DIV,
	XOP_ADDSUB, /* SUB in even elements, ADD in odd ones */
	XOP_CVT,    /* double source element to single */
};

/* Reduces d and s to the inputs of result element k; the others become 1.0 (sse_fpx.c). */
void fp_isolate(enum fp_lanes lk, unsigned k, fpv *d, fpv *s);

/*
 * The flags result element k reports (f: what the masked host run of that element alone
 * raised; um: the unmasked exceptions): an element whose overflow or underflow traps
 * reports precision when its result is inexact with an unbounded exponent (sse_fpx.c).
 */
uint32_t fp_lane_flags(uint32_t f, uint32_t um, enum fp_lanes lk, enum fp_xop xop, unsigned k,
                       fpv d, fpv s, uint32_t csr);

/* Replaces the arithmetic flags (COMISS, PCMPxSTRx: every one of them is written). */
FP_INLINE void fp_set_rflags(struct cpu *cpu, uint32_t f)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | f;
	cpu->lf.op = LF_NONE;
}

/* ---- handler generators ---- */

/*
 * name##_rr and name##_rm around an always_inline worker name##_do(cpu, i, src) that
 * takes the source operand as a 128-bit value (the register, or memory of kind mk).
 */
#define FP_FORMS(name, mk)                                                                         \
	HANDLER(name##_rr)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                  \
		return name##_do(cpu, i, fp_xmm(cpu, i->base));                                    \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                  \
		return name##_do(cpu, i, fp_load(cpu, i, mk));                                     \
	}

/* dst = mnem(dst, src) for operations that cannot overflow or underflow. */
#define FP_SIMPLE(name, mnem, mk)                                                                  \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		fpv r = fp_xmm(cpu, i->reg);                                                       \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		FP_ASMC(mnem " %[s], %[d]", fl, csr, "+x"(r), "x"(s));                             \
		fp_commit(cpu, i, fl);                                                             \
		fp_set_xmm(cpu, i->reg, r);                                                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

/*
 * uint32_t name(fpv d, fpv s, uint32_t csr, uint32_t um): the flags mnem(d, s) reports when
 * an exception in um (unmasked) is not a pre-computation one, element by element: lk says
 * how result elements depend on the inputs, xop what each computes (fp_lane_flags).
 */
#define FP_POST(name, mnem, lk, xop)                                                               \
	static __attribute__((cold, noinline)) uint32_t name(fpv d, fpv s, uint32_t csr,           \
	                                                     uint32_t um)                          \
	{                                                                                          \
		uint32_t out = 0;                                                                  \
		for (unsigned k = 0; k < FP_NLANES(lk); k++) {                                     \
			fpv dk = d, sk = s;                                                        \
			uint32_t f;                                                                \
			fp_isolate(lk, k, &dk, &sk);                                               \
			FP_ASM(mnem " %[s], %[d]", f, csr, "+x"(dk), "x"(sk));                     \
			out |= fp_lane_flags(f, um, lk, xop, k, d, s, csr);                        \
		}                                                                                  \
		return out;                                                                        \
	}

/* dst = mnem(dst, src) for operations whose elements can overflow or underflow. */
#define FP_PACKED(name, mnem, mk, lk, xop)                                                         \
	FP_POST(name##_post, mnem, lk, xop)                                                        \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		fpv d = fp_xmm(cpu, i->reg), r = d;                                                \
		uint32_t csr = fp_csr(cpu->mxcsr), fl;                                             \
		FP_ASMC(mnem " %[s], %[d]", fl, csr, "+x"(r), "x"(s));                             \
		if (unlikely(fl & fp_unmasked(cpu->mxcsr))) {                                      \
			fp_xm_pre(cpu, i, fl);                                                     \
			fp_xm(cpu, i, name##_post(d, s, csr, fp_unmasked(cpu->mxcsr)));            \
		}                                                                                  \
		cpu->mxcsr |= fl;                                                                  \
		fp_set_xmm(cpu, i->reg, r);                                                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

/* The handler for d's form: the register or the memory one. */
#define FP_PICK(d, name) ((d)->form == FORM_RR ? name##_rr : name##_rm)

#endif
