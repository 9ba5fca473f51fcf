/*
 * The pre-decoded instruction (docs/softcpu.md, "The instruction"), the
 * handler calling convention, and the inline helpers every instruction
 * family uses: register access by operand size, effective addresses
 * (SDM vol. 2, 2.1.5 and vol. 1, 3.7.5) and raising faults.
 *
 * A handler is specialised at decode time for one operation, operand size
 * and form (register/memory/immediate), so it reads its operands straight
 * from struct insn without decoding anything. It returns the next
 * instruction to run, or NULL to go back to the run loop (block end, taken
 * branch, exit). Handlers end with `return insn_next(cpu, i);`.
 */
#ifndef EMBER_ACCEL_SOFT_INSN_H
#define EMBER_ACCEL_SOFT_INSN_H

#include <stdint.h>
#include <string.h>

#include "accel/soft/cpu.h"

struct insn;
typedef const struct insn *(*insn_fn)(struct cpu *cpu, const struct insn *i);

/*
 * 32 bytes, two per cache line. Field use by form (insn_form below):
 *   reg      the first (destination) register operand; for FORM_MR/MI the
 *            source register. 8-bit register operands hold a byte offset
 *            into cpu->gpr (reg8()), so AH-BH need no special case.
 *   base     FORM_RR: the second register. Memory forms: the EA base
 *            register or EA_NONE; index likewise; scale is the shift (0-3).
 *   disp     EA displacement, sign-extended; absolute for RIP-relative and
 *            moffs operands (base = index = EA_NONE).
 *   imm      immediate, sign-extended to 64 bits unless the format says
 *            zero-extended (port numbers, RET/ENTER counts, INT n); for
 *            direct branches the absolute target.
 *   seg      bits 0-2 the segment whose base the EA adds (S_NONE: none, as
 *            for ES/CS/SS/DS in 64-bit mode); bits 4-5 INSN_A32/INSN_A16
 *            when the address wraps at 4 GiB / 64 KiB.
 */
struct insn {
	insn_fn fn;
	uint64_t disp;
	uint64_t imm;
	uint16_t op; /* OP_* (ops.def): for the tracer and decode-time passes */
	uint8_t len; /* bytes, 1-15 (0 for a block's end marker) */
	uint8_t reg;
	uint8_t base;
	uint8_t index;
	uint8_t scale;
	uint8_t seg;
};
_Static_assert(sizeof(struct insn) == 32, "struct insn is meant to be 32 bytes");

#define SOFT_PAGE_SIZE 4096ULL
#define SOFT_PAGE_MASK (~(SOFT_PAGE_SIZE - 1))

#define EA_NONE  16 /* cpu->ea_reg[EA_NONE] is always 0 */
#define INSN_A32 0x10
#define INSN_A16 0x20
#define INSN_SS  0x40

/* Operand forms: which fields hold the operands (destination first). */
enum insn_form {
	FORM_NONE,
	FORM_RR, /* reg <- reg op base */
	FORM_RM, /* reg <- reg op [mem] */
	FORM_MR, /* [mem] <- [mem] op reg */
	FORM_RI, /* reg <- reg op imm */
	FORM_MI, /* [mem] <- [mem] op imm */
	FORM_R,  /* one register operand: reg */
	FORM_M,  /* one memory operand */
	FORM_I,  /* immediate only (or a branch target) */
	FORM_COUNT,
};

/* Operand sizes as log2 of bytes. */
enum { SZ8, SZ16, SZ32, SZ64 };

/*
 * Dispatch: handlers tail-call the next handler of their block (one
 * indirect jump per instruction, no return to a loop) unless the build
 * asks for the plain loop `while (i) i = i->fn(cpu, i);`, which every
 * handler also supports (docs/softcpu.md has the measurements).
 */
#ifndef SOFTCPU_THREADED
#define SOFTCPU_THREADED 1
#endif
#if SOFTCPU_THREADED
#define insn_next(cpu, i) ((i)[1].fn((cpu), (i) + 1))
#else
#define insn_next(cpu, i) ((i) + 1)
#endif

#define HANDLER(name) static const struct insn *name(struct cpu *cpu, const struct insn *i)

/* ---- registers ---- */

static inline uint8_t reg8(const struct cpu *cpu, unsigned off)
{
	return ((const uint8_t *)cpu->gpr)[off];
}

static inline void set_reg8(struct cpu *cpu, unsigned off, uint8_t v)
{
	((uint8_t *)cpu->gpr)[off] = v;
}

/* Reads a register operand of size sz (a constant after inlining). */
static inline __attribute__((always_inline)) uint64_t reg_get(const struct cpu *cpu, unsigned sz,
                                                              unsigned r)
{
	switch (sz) {
	case SZ8:
		return reg8(cpu, r);
	case SZ16:
		return (uint16_t)cpu->gpr[r];
	case SZ32:
		return (uint32_t)cpu->gpr[r];
	default:
		return cpu->gpr[r];
	}
}

/* Writes a register operand: 32-bit writes zero-extend, 8/16-bit merge. */
static inline __attribute__((always_inline)) void reg_set(struct cpu *cpu, unsigned sz, unsigned r,
                                                          uint64_t v)
{
	switch (sz) {
	case SZ8:
		set_reg8(cpu, r, (uint8_t)v);
		break;
	case SZ16:
		cpu->gpr[r] = (cpu->gpr[r] & ~0xffffULL) | (uint16_t)v;
		break;
	case SZ32:
		cpu->gpr[r] = (uint32_t)v;
		break;
	default:
		cpu->gpr[r] = v;
	}
}

static inline uint64_t size_mask(unsigned sz)
{
	return sz == SZ64 ? ~0ULL : (1ULL << (8u << sz)) - 1;
}

/* Sign-extends the low 8 << sz bits of v. */
static inline int64_t size_sext(uint64_t v, unsigned sz)
{
	unsigned sh = 64 - (8u << sz);
	return (int64_t)(v << sh) >> sh;
}

/* ---- effective addresses ---- */

/* The offset part of the address (no segment base): LEA's result. */
static inline uint64_t insn_ea_offset(const struct cpu *cpu, const struct insn *i)
{
	uint64_t ea = cpu->ea_reg[i->base] + (cpu->ea_reg[i->index] << i->scale) + i->disp;
	if (unlikely(i->seg & (INSN_A32 | INSN_A16)))
		ea = (i->seg & INSN_A32) ? (uint32_t)ea : (uint16_t)ea;
	return ea;
}

/* The linear address of the memory operand. */
static inline uint64_t insn_ea(const struct cpu *cpu, const struct insn *i)
{
	return insn_ea_offset(cpu, i) + cpu->seg_ea[i->seg & 7].base;
}

/* ---- faults ---- */

/*
 * Raises an exception for the instruction i (a fault: RIP is i's address).
 * Every raise from a handler goes through here or insn_raise_trap so the
 * run loop knows which instruction faulted.
 */
__attribute__((noreturn, cold)) static inline void
insn_raise(struct cpu *cpu, const struct insn *i, uint8_t vector, uint32_t error, bool has_error)
{
	cpu->cur = i;
	cpu_raise(cpu, vector, error, has_error);
}

/* A trap (INT3, INT n): the instruction completes, RIP is the next one. */
__attribute__((noreturn, cold)) static inline void
insn_raise_trap(struct cpu *cpu, const struct insn *i, uint8_t vector)
{
	cpu->cur = i + 1;
	cpu_raise(cpu, vector, 0, false);
}

/* The address of instruction i of the running block (slow: walks the block). */
uint64_t insn_rip(const struct cpu *cpu, const struct insn *i);

/* Handlers shared by every family (cpu.c). */
const struct insn *insn_ud(struct cpu *cpu, const struct insn *i);    /* #UD */
const struct insn *insn_gp0(struct cpu *cpu, const struct insn *i);   /* #GP(0) */
const struct insn *insn_stale(struct cpu *cpu, const struct insn *i); /* block was invalidated */
const struct insn *insn_end(struct cpu *cpu, const struct insn *i);   /* block end marker */

#endif
