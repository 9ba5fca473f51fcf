/*
 * x87 arithmetic (SDM vol. 2: FADD/FADDP/FIADD, FSUB/FSUBP/FISUB,
 * FSUBR/FSUBRP/FISUBR, FMUL/FMULP/FIMUL, FDIV/FDIVP/FIDIV,
 * FDIVR/FDIVRP/FIDIVR with m32fp, m64fp, m16int, m32int and ST(i)
 * operands; FCHS, FABS, FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1 and
 * the transcendentals F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS,
 * FSINCOS; vol. 1, 8.3 and 8.5).
 *
 * Each handler checks the register stack (#IS: an empty operand, a full
 * stack for the pushing FPTAN/FSINCOS/FXTRACT) and hands the values to a
 * host kernel (x87.h) that runs the same operation with ST(1) or a copy of
 * the memory operand; the guest's precision and rounding control and its
 * exception masks apply there, so results, C1 (rounded up) and the
 * exception flags are the hardware's. The TOP movement of the host says
 * whether a popping form completed.
 */
#include "accel/soft/x87.h"

/* Where a result goes: ST(0) (D8 forms), ST(i) (DC), ST(i) then pop (DE). */
enum { DST_ST0, DST_STI, DST_STI_POP };

/* Stack underflow: C2 = 0; masked, the destination gets the QNaN indefinite. */
static void underflow_dst(struct cpu *cpu, const struct insn *i, unsigned dst_reg, bool pop)
{
	x87_set_cc(cpu, FSW_C2, 0);
	if (x87_stack_fault(cpu, i, false)) {
		x87_set(cpu, dst_reg, x87_indefinite());
		if (pop)
			x87_pop(cpu);
	}
}

/* ---- memory operands: ST(0) <- ST(0) op m32fp / m64fp / m16int / m32int ---- */

#define ARITH_M(name, bits, insn)                                                                  \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		uint##bits##_t m = mem_read##bits(cpu, i, insn_ea(cpu, i));                        \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			underflow_dst(cpu, i, 0, false);                                           \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		memcpy(h.m, &m, sizeof(m));                                                        \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		X87_HW(&h, X87_LD1, insn " " X87_M, X87_ST1);                                      \
		x87_hw_status(cpu, i, &h, FSW_C1);                                                 \
		x87_set(cpu, 0, h.v[0]);                                                           \
		return insn_next(cpu, i);                                                          \
	}

/* The six arithmetic operations of a memory type, in ModRM.reg order (2, 3 are compares). */
#define ARITH_M6(t, bits, p, s)                                                                    \
	ARITH_M(fadd_##t, bits, p "add" s)                                                         \
	ARITH_M(fmul_##t, bits, p "mul" s)                                                         \
	ARITH_M(fsub_##t, bits, p "sub" s)                                                         \
	ARITH_M(fsubr_##t, bits, p "subr" s)                                                       \
	ARITH_M(fdiv_##t, bits, p "div" s)                                                         \
	ARITH_M(fdivr_##t, bits, p "divr" s)

ARITH_M6(m32fp, 32, "f", "s")
ARITH_M6(m64fp, 64, "f", "l")
ARITH_M6(m16int, 16, "fi", "s")
ARITH_M6(m32int, 32, "fi", "l")

#define ARITH_M_ROW(t)                                                                             \
	{                                                                                          \
		fadd_##t, fmul_##t, NULL, NULL, fsub_##t, fsubr_##t, fdiv_##t, fdivr_##t           \
	}

/* By escape (D8 m32fp, DA m32int, DC m64fp, DE m16int) and ModRM.reg. */
static const insn_fn arith_m_fns[4][8] = {
    ARITH_M_ROW(m32fp),
    ARITH_M_ROW(m32int),
    ARITH_M_ROW(m64fp),
    ARITH_M_ROW(m16int),
};

/* ---- register operands: D8 ST(0) <- ST(0) op ST(i), DC ST(i) <- ST(i) op ST(0), DE +pop ---- */

/* bytes: the host instruction with ST(1) in place of ST(i) (encoded: AT&T swaps fsub/fsubr). */
#define ARITH_R(name, bytes, dst)                                                                  \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		unsigned r = i->reg;                                                               \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, r))) {                             \
			underflow_dst(cpu, i, dst == DST_ST0 ? 0 : r, dst == DST_STI_POP);         \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		h.v[1] = x87_get(cpu, r);                                                          \
		X87_HW(&h, X87_LD2, ".byte " bytes, X87_ST2);                                      \
		x87_hw_status(cpu, i, &h, FSW_C1);                                                 \
		if (dst == DST_ST0) {                                                              \
			x87_set(cpu, 0, h.v[0]);                                                   \
		} else if (dst == DST_STI) {                                                       \
			x87_set(cpu, r, h.v[1]);                                                   \
		} else if (x87_hw_pops(&h) == 1) { /* else an unmasked exception stopped it */     \
			x87_set(cpu, r, h.v[0]);                                                   \
			x87_pop(cpu);                                                              \
		}                                                                                  \
		return insn_next(cpu, i);                                                          \
	}

/* The six arithmetic operations of an escape byte, host ModRM C1 + 8 * reg. */
#define ARITH_R6(t, esc, dst)                                                                      \
	ARITH_R(t##_r0, esc ", 0xc1", dst)                                                         \
	ARITH_R(t##_r1, esc ", 0xc9", dst)                                                         \
	ARITH_R(t##_r4, esc ", 0xe1", dst)                                                         \
	ARITH_R(t##_r5, esc ", 0xe9", dst)                                                         \
	ARITH_R(t##_r6, esc ", 0xf1", dst)                                                         \
	ARITH_R(t##_r7, esc ", 0xf9", dst)

ARITH_R6(d8, "0xd8", DST_ST0)
ARITH_R6(dc, "0xdc", DST_STI)
ARITH_R6(de, "0xde", DST_STI_POP)

#define ARITH_R_ROW(t)                                                                             \
	{                                                                                          \
		t##_r0, t##_r1, NULL, NULL, t##_r4, t##_r5, t##_r6, t##_r7                         \
	}

static const insn_fn arith_r_fns[3][8] = {ARITH_R_ROW(d8), ARITH_R_ROW(dc), ARITH_R_ROW(de)};

/* ---- FCHS, FABS: sign bit only, no exception but #IS; C1 = 0 ---- */

#define SIGN_OP(name, expr)                                                                        \
	HANDLER(name)                                                                              \
	{                                                                                          \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			underflow_dst(cpu, i, 0, false);                                           \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		union x87_bits u;                                                                  \
		memset(&u, 0, sizeof(u));                                                          \
		u.f = x87_get(cpu, 0);                                                             \
		u.b.se = (uint16_t)(expr);                                                         \
		x87_set(cpu, 0, u.f);                                                              \
		x87_set_cc(cpu, FSW_C1, 0);                                                        \
		return insn_next(cpu, i);                                                          \
	}

SIGN_OP(fchs, u.b.se ^ 0x8000)
SIGN_OP(fabs_, u.b.se & 0x7fff)

/* ---- ST(0) <- op ST(0): FSQRT, FRNDINT, F2XM1, FSIN, FCOS ---- */

#define UNARY(name, insn, cc)                                                                      \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			underflow_dst(cpu, i, 0, false);                                           \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		X87_HW(&h, X87_LD1, insn, X87_ST1);                                                \
		x87_hw_status(cpu, i, &h, cc);                                                     \
		x87_set(cpu, 0, h.v[0]);                                                           \
		return insn_next(cpu, i);                                                          \
	}

UNARY(fsqrt, "fsqrt", FSW_C1)
UNARY(frndint, "frndint", FSW_C1)
UNARY(f2xm1, "f2xm1", FSW_C1)
UNARY(fsin, "fsin", FSW_C1 | FSW_C2) /* C2: operand out of range, ST(0) unchanged */
UNARY(fcos, "fcos", FSW_C1 | FSW_C2)

/* ---- ST(0) <- ST(0) op ST(1): FSCALE, FPREM, FPREM1 ---- */

#define BINARY(name, insn, cc, KERNEL, INIT)                                                       \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, 1))) {                             \
			underflow_dst(cpu, i, 0, false);                                           \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		INIT(cpu, &h);                                                                     \
		h.v[0] = x87_get(cpu, 0);                                                          \
		h.v[1] = x87_get(cpu, 1);                                                          \
		KERNEL(&h, X87_LD2, insn, X87_ST2);                                                \
		x87_hw_status(cpu, i, &h, cc);                                                     \
		x87_set(cpu, 0, h.v[0]);                                                           \
		return insn_next(cpu, i);                                                          \
	}

BINARY(fscale, "fscale", FSW_C1, X87_HW, x87_hw_init)
/* C0, C3, C1: quotient bits 2, 1, 0; C2: incomplete; a NaN result keeps C0 and C3 */
BINARY(fprem, "fprem", FSW_CC, X87_HW_CC, x87_hw_init_cc)
BINARY(fprem1, "fprem1", FSW_CC, X87_HW_CC, x87_hw_init_cc)

/* ---- ST(1) <- ST(1) op ST(0), pop: FYL2X, FPATAN, FYL2XP1 ---- */

#define BINARY_POP(name, insn)                                                                     \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, 1))) {                             \
			underflow_dst(cpu, i, 1, true);                                            \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		h.v[1] = x87_get(cpu, 1);                                                          \
		X87_HW(&h, X87_LD2, insn, X87_ST2);                                                \
		x87_hw_status(cpu, i, &h, FSW_C1);                                                 \
		if (x87_hw_pops(&h) == 1) {                                                        \
			x87_set(cpu, 1, h.v[0]);                                                   \
			x87_pop(cpu);                                                              \
		}                                                                                  \
		return insn_next(cpu, i);                                                          \
	}

BINARY_POP(fyl2x, "fyl2x")
BINARY_POP(fpatan, "fpatan")
BINARY_POP(fyl2xp1, "fyl2xp1")

/* ---- ST(0) <- f(ST(0)), push g(ST(0)): FPTAN (1.0), FSINCOS (cos), FXTRACT (significand) ---- */

#define PUSHING(name, insn, cc)                                                                    \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_full(cpu))) {                                 \
			x87_set_cc(cpu, FSW_C2, 0);                                                \
			if (x87_stack_fault(cpu, i, !x87_empty(cpu, 0))) {                         \
				x87_set(cpu, 0, x87_indefinite());                                 \
				x87_push(cpu, x87_indefinite());                                   \
			}                                                                          \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		X87_HW(&h, X87_LD1, insn, X87_ST2);                                                \
		x87_hw_status(cpu, i, &h, cc);                                                     \
		if (x87_hw_pops(&h) < 0) {                                                         \
			x87_set(cpu, 0, h.v[1]);                                                   \
			x87_push(cpu, h.v[0]);                                                     \
		} else { /* out of range (C2) or an unmasked exception: no push */                 \
			x87_set(cpu, 0, h.v[0]);                                                   \
		}                                                                                  \
		return insn_next(cpu, i);                                                          \
	}

PUSHING(fptan, "fptan", FSW_C1 | FSW_C2)
PUSHING(fsincos, "fsincos", FSW_C1 | FSW_C2)
PUSHING(fxtract, "fxtract", FSW_C1)

/* D9 E0-FF by ModRM.reg 4-7 and .rm (NULL: another file's or invalid). */
static const insn_fn d9_fns[4][8] = {
    {fchs, fabs_, NULL, NULL, NULL, NULL, NULL, NULL},
    {NULL},
    {f2xm1, fyl2x, fptan, fpatan, fxtract, fprem1, NULL, NULL},
    {fprem, fyl2xp1, fsqrt, fsincos, frndint, fscale, fsin, fcos},
};

insn_fn x87_arith_fn(unsigned esc, unsigned reg, unsigned rm, bool mem)
{
	if (mem)
		return (esc & 1) ? NULL : arith_m_fns[esc >> 1][reg];
	switch (esc) {
	case 0:
		return arith_r_fns[0][reg];
	case 4:
		return arith_r_fns[1][reg];
	case 6:
		return arith_r_fns[2][reg];
	case 1:
		return reg >= 4 ? d9_fns[reg - 4][rm] : NULL;
	default:
		return NULL;
	}
}
