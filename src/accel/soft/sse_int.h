/*
 * Helpers of the SSE/SSE2/SSSE3/SSE4.1 integer and data-movement family
 * (sse_mov.c, sse_int.c, sse_shuf.c, ssse3_sse41.c, sse41_mov.c).
 *
 * SDM vol. 1, chapters 10-12 (the SSE-SSE4 execution environment) and
 * vol. 2A, 2.5 (exception classes: #UD when CR0.EM is set or CR4.OSFXSR
 * clear, #NM when CR0.TS is set, #GP(0) for a misaligned 16-byte operand
 * of a legacy SSE instruction other than the unaligned moves); AMD APM
 * vol. 1, the MXCSR description (MM, "misaligned exception mask": the AMD
 * host the differential tests run on accepts it in LDMXCSR).
 *
 * Values are handled as GCC vector types (xv = two 64-bit lanes, cast to
 * the element type an operation needs); the host compiler turns most of
 * them into one host SSE2 instruction. Workers are always_inline and take
 * and return values, so a destination that is also a source needs no care.
 */
#ifndef EMBER_ACCEL_SOFT_SSE_INT_H
#define EMBER_ACCEL_SOFT_SSE_INT_H

#include <stdint.h>
#include <string.h>

#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sse_state.h"

#define SSE_INLINE static inline __attribute__((always_inline))

typedef uint64_t xv __attribute__((vector_size(16)));
typedef int64_t v2s64 __attribute__((vector_size(16)));
typedef uint32_t v4u32 __attribute__((vector_size(16)));
typedef int32_t v4s32 __attribute__((vector_size(16)));
typedef uint16_t v8u16 __attribute__((vector_size(16)));
typedef int16_t v8s16 __attribute__((vector_size(16)));
typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef int8_t v16s8 __attribute__((vector_size(16)));

/* ---- registers ---- */

SSE_INLINE xv xmm_get(const struct cpu *cpu, unsigned r)
{
	xv v;
	memcpy(&v, &cpu->xmm[r], 16);
	return v;
}

SSE_INLINE void xmm_set(struct cpu *cpu, unsigned r, xv v)
{
	memcpy(&cpu->xmm[r], &v, 16);
}

SSE_INLINE union cpu_xmm xu(xv v)
{
	union cpu_xmm u;
	memcpy(&u, &v, 16);
	return u;
}

SSE_INLINE xv ux(union cpu_xmm u)
{
	xv v;
	memcpy(&v, &u, 16);
	return v;
}

/* ---- 16-byte memory operands ---- */

enum sse_align {
	AL_NONE,     /* MOVUPS, MOVDQU & co.: any address */
	AL_16,       /* legacy SSE m128 operand: #GP(0) unless aligned (or MXCSR.MM) */
	AL_EXPLICIT, /* MOVAPS, MOVDQA, MOVNT*: #GP(0) unless aligned, MXCSR.MM or not */
};

__attribute__((noreturn, cold)) void sse_misaligned(struct cpu *cpu, const struct insn *i);

/* The alignment check comes before any page fault of the access. */
SSE_INLINE void sse_align_check(struct cpu *cpu, const struct insn *i, uint64_t a,
                                enum sse_align al)
{
	if (al != AL_NONE && unlikely(a & 15) && (al == AL_EXPLICIT || !(cpu->mxcsr & MXCSR_MM)))
		sse_misaligned(cpu, i);
}

SSE_INLINE xv sse_read128(struct cpu *cpu, const struct insn *i, uint64_t a, enum sse_align al)
{
	xv v;
	sse_align_check(cpu, i, a, al);
	mem_read128(cpu, i, a, &v);
	return v;
}

SSE_INLINE void sse_write128(struct cpu *cpu, const struct insn *i, uint64_t a, xv v,
                             enum sse_align al)
{
	sse_align_check(cpu, i, a, al);
	mem_write128(cpu, i, a, &v);
}

/* ---- handler generators ---- */

/*
 * dst = w(dst, src) with src an XMM register or an m128 operand aligned per
 * al: handlers name##_rr and name##_rm.
 */
#define SSE_BINOP(name, w, al)                                                                     \
	HANDLER(name##_rr)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg, w(xmm_get(cpu, i->reg), xmm_get(cpu, i->base)));              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xv s = sse_read128(cpu, i, insn_ea(cpu, i), al);                                   \
		xmm_set(cpu, i->reg, w(xmm_get(cpu, i->reg), s));                                  \
		return insn_next(cpu, i);                                                          \
	}

/* The same with the imm8 as a third argument. */
#define SSE_BINOP_IMM(name, w, al)                                                                 \
	HANDLER(name##_rr)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xmm_set(cpu, i->reg,                                                               \
		        w(xmm_get(cpu, i->reg), xmm_get(cpu, i->base), (uint8_t)i->imm));          \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm)                                                                         \
	{                                                                                          \
		sse_enter(cpu, i);                                                                 \
		xv s = sse_read128(cpu, i, insn_ea(cpu, i), al);                                   \
		xmm_set(cpu, i->reg, w(xmm_get(cpu, i->reg), s, (uint8_t)i->imm));                 \
		return insn_next(cpu, i);                                                          \
	}

/*
 * One row of a family's table: the operation, the mandatory prefix that
 * selects the XMM form (the MMX form, no prefix, stays #UD), and the
 * handlers for the register form (FORM_RR / FORM_RI) and the memory form
 * (FORM_RM / FORM_MR / FORM_M).
 */
struct sse_row {
	uint16_t op;
	uint8_t mpfx;
	insn_fn reg, mem;
};

#define SSE_ROW(o, pfx, name)                                                                      \
	{                                                                                          \
		OP_##o, pfx, name##_rr, name##_rm                                                  \
	}

/* The handler of d's form from a table, NULL (#UD) when d is not in it. */
insn_fn sse_pick(const struct sse_row *tab, size_t n, const struct decode *d);

/* ---- lane helpers ---- */

/* Element-wise minimum (op <) or maximum (op >) of vector type vt. */
#define SSE_MINMAX(name, vt, op)                                                                   \
	SSE_INLINE xv name(xv a, xv b)                                                             \
	{                                                                                          \
		vt x = (vt)a, y = (vt)b, m = (vt)(x op y);                                         \
		return (xv)((x & m) | (y & ~m));                                                   \
	}

SSE_INLINE int16_t sat16(int32_t v)
{
	return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

SSE_INLINE int8_t sat8(int32_t v)
{
	return (int8_t)(v > INT8_MAX ? INT8_MAX : v < INT8_MIN ? INT8_MIN : v);
}

SSE_INLINE uint8_t satu8(int32_t v)
{
	return (uint8_t)(v > UINT8_MAX ? UINT8_MAX : v < 0 ? 0 : v);
}

SSE_INLINE uint16_t satu16(int32_t v)
{
	return (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v < 0 ? 0 : v);
}

#endif
