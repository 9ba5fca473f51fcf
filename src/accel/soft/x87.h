/*
 * The x87 FPU family's internals, shared by x87_arith.c, x87_cmp.c,
 * x87_move.c and x87_ctl.c (SDM vol. 1, chapter 8 "Programming with the
 * x87 FPU": 8.1 the register stack, status word, tag word; 8.5 exceptions,
 * 8.6 #MF delivery; vol. 2 for each instruction; AMD APM vol. 5).
 *
 * State: cpu->x87 (cpu.h) holds the eight physical registers as host long
 * doubles (the 80-bit format, bit for bit: only bytes 0-9 are meaningful),
 * CW, SW without TOP, TOP, and the full tag word. A register's tag is
 * empty (3) or derived from its value whenever it is written (valid 0, zero
 * 1, special 2), so the abridged tags of FXSAVE, the full tag word of
 * FNSTENV and the empty checks here always agree.
 *
 * Arithmetic runs on the host's x87 (this is an x86-64 host): a handler
 * checks the stack itself (empty operands, a full stack: #IS, 8.5.1.1),
 * then a "kernel" loads the operand values into an otherwise empty host
 * stack, loads the guest's control word (precision, rounding and
 * exception masks are the guest's), executes the one operation with
 * ST(1) or a local copy of the memory operand in place of the guest's
 * operand, and reads back the status word (exception flags, C0-C3, TOP)
 * and the registers. Unmasked exceptions need no special code: the host
 * responds as the hardware does (bias-adjusted results, destinations left
 * alone, no pop), only the trap is deferred; the kernel clears it (FNCLEX)
 * before it stores the registers with all exceptions masked, and the TOP
 * difference tells whether the operation pushed or popped. The guest gets
 * ES and #MF at its next waiting instruction (x87_enter).
 */
#ifndef EMBER_ACCEL_SOFT_X87_H
#define EMBER_ACCEL_SOFT_X87_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

#define X87_INLINE static inline __attribute__((always_inline))

/* Status word (8.1.3). */
#define FSW_IE  0x0001u
#define FSW_DE  0x0002u
#define FSW_ZE  0x0004u
#define FSW_OE  0x0008u
#define FSW_UE  0x0010u
#define FSW_PE  0x0020u
#define FSW_SF  0x0040u
#define FSW_ES  0x0080u
#define FSW_C0  0x0100u
#define FSW_C1  0x0200u
#define FSW_C2  0x0400u
#define FSW_TOP 0x3800u
#define FSW_C3  0x4000u
#define FSW_B   0x8000u
#define FSW_EXC 0x003fu
#define FSW_CC  (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

/* Control word (8.1.5): what FNSTCW reads back after FLDCW (bit 6 reads 1). */
#define FCW_IM       0x0001u
#define FCW_WRITABLE 0x1f3fu
#define FCW_ONES     0x0040u

/* Tag values (8.1.7). */
enum { TAG_VALID, TAG_ZERO, TAG_SPECIAL, TAG_EMPTY };

#define CR0_EM_BIT (1ULL << 2)
#define CR0_TS_BIT (1ULL << 3)

/* The 80-bit format. */
union x87_bits {
	long double f;
	struct {
		uint64_t mant;
		uint16_t se;
	} b;
};

/* insn->imm of every x87 instruction: FOP (11 bits) and whether it has a memory operand. */
#define X87_IMM_MEM 0x10000u

/* ---- registers and tags ---- */

X87_INLINE unsigned x87_phys(const struct cpu *cpu, unsigned n)
{
	return (cpu->x87.top + n) & 7;
}

X87_INLINE long double x87_get(const struct cpu *cpu, unsigned n)
{
	return cpu->x87.st[x87_phys(cpu, n)];
}

X87_INLINE unsigned x87_tag_phys(const struct cpu *cpu, unsigned p)
{
	return (cpu->x87.tag >> (2 * p)) & 3;
}

X87_INLINE bool x87_empty(const struct cpu *cpu, unsigned n)
{
	return x87_tag_phys(cpu, x87_phys(cpu, n)) == TAG_EMPTY;
}

/* The tag a non-empty register holding v has (8.1.7, figure 8-7 "x87 FPU tag word"). */
X87_INLINE unsigned x87_tag_of(long double v)
{
	union x87_bits u;
	memset(&u, 0, sizeof(u));
	u.f = v;
	unsigned e = u.b.se & 0x7fff;
	if (e == 0x7fff)
		return TAG_SPECIAL;
	if (e == 0)
		return u.b.mant ? TAG_SPECIAL : TAG_ZERO;
	return (u.b.mant >> 63) ? TAG_VALID : TAG_SPECIAL; /* unnormals are special */
}

X87_INLINE void x87_set_tag_phys(struct cpu *cpu, unsigned p, unsigned tag)
{
	cpu->x87.tag = (uint16_t)((cpu->x87.tag & ~(3u << (2 * p))) | tag << (2 * p));
}

/* ST(n) = v, tag derived from v. */
X87_INLINE void x87_set(struct cpu *cpu, unsigned n, long double v)
{
	unsigned p = x87_phys(cpu, n);
	cpu->x87.st[p] = v;
	x87_set_tag_phys(cpu, p, x87_tag_of(v));
}

X87_INLINE void x87_free(struct cpu *cpu, unsigned n)
{
	x87_set_tag_phys(cpu, x87_phys(cpu, n), TAG_EMPTY);
}

X87_INLINE void x87_pop(struct cpu *cpu)
{
	x87_free(cpu, 0);
	cpu->x87.top = (cpu->x87.top + 1) & 7;
}

X87_INLINE void x87_push(struct cpu *cpu, long double v)
{
	cpu->x87.top = (cpu->x87.top - 1) & 7;
	x87_set(cpu, 0, v);
}

/* Would a push overflow (ST(7) is in use)? */
X87_INLINE bool x87_full(const struct cpu *cpu)
{
	return !x87_empty(cpu, 7);
}

/* The QNaN floating-point indefinite (4.8.3.7): what masked invalid operations produce. */
X87_INLINE long double x87_indefinite(void)
{
	union x87_bits u;
	memset(&u, 0, sizeof(u));
	u.b.mant = 0xc000000000000000ULL;
	u.b.se = 0xffff;
	return u.f;
}

X87_INLINE void x87_set_cc(struct cpu *cpu, unsigned mask, unsigned v)
{
	cpu->x87.sw = (uint16_t)((cpu->x87.sw & ~mask) | (v & mask));
}

/* The status word with TOP, as FNSTSW, FNSTENV, FXSAVE store it. */
X87_INLINE uint16_t x87_full_sw(const struct cpu *cpu)
{
	return (uint16_t)((cpu->x87.sw & ~FSW_TOP) | (cpu->x87.top & 7) << 11);
}

X87_INLINE void x87_load_cw(struct cpu *cpu, uint16_t v)
{
	cpu->x87.cw = (uint16_t)((v & FCW_WRITABLE) | FCW_ONES);
}

/* FNINIT's state (also after FNSAVE). */
X87_INLINE void x87_reset(struct cpu *cpu)
{
	cpu->x87.cw = 0x37f;
	cpu->x87.sw = 0;
	cpu->x87.top = 0;
	cpu->x87.tag = 0xffff;
	cpu->x87.fop = 0;
	cpu->x87.fip = cpu->x87.fdp = 0;
}

/* ---- exceptions (x87_ctl.c) ---- */

/* Raises #NM (CR0.EM or CR0.TS) or #MF (an unmasked exception is pending). */
__attribute__((noreturn, cold)) void x87_enter_slow(struct cpu *cpu, const struct insn *i);
/* ES/B set by instruction i: records FOP, FIP and FDP for the handler (8.1.8). */
__attribute__((cold)) void x87_unmasked(struct cpu *cpu, const struct insn *i);
/*
 * A stack fault (8.5.1.1): underflow (C1 = 0) or overflow (C1 = 1) sets
 * IE and SF. Returns true when IE is masked: the caller then stores its
 * QNaN indefinite results and pops or pushes as usual; false when the
 * instruction must leave everything else alone.
 */
__attribute__((cold)) bool x87_stack_fault(struct cpu *cpu, const struct insn *i, bool overflow);
/* ES (and B) from the flags and the masks: after FLDCW, FLDENV, FRSTOR, FXRSTOR. */
void x87_update_es(struct cpu *cpu);

/* Every waiting x87 instruction starts here (8.6: #MF before the instruction). */
X87_INLINE void x87_enter(struct cpu *cpu, const struct insn *i)
{
	if (unlikely((cpu->x87.sw & FSW_ES) | (cpu->cr0 & (CR0_EM_BIT | CR0_TS_BIT))))
		x87_enter_slow(cpu, i);
}

/* The non-waiting control instructions (FNINIT, FNSTSW, ...) only check CR0. */
X87_INLINE void x87_enter_nowait(struct cpu *cpu, const struct insn *i)
{
	if (unlikely(cpu->cr0 & (CR0_EM_BIT | CR0_TS_BIT)))
		x87_enter_slow(cpu, i);
}

/* ---- host kernels ---- */

/*
 * In: v[] the operands for ST(0), ST(1), ST(2) (as many as the kernel
 * loads), m the memory operand, cw the guest's control word. Out: v[] the
 * host stack after the operation from ST(0) down, sw0 / sw the host status
 * word before / after the operation (exception flags of this operation
 * only, C0-C3, TOP), zf/pf/cf for FCOMI.
 */
struct x87_hw {
	long double v[3];
	uint8_t m[16] __attribute__((aligned(16)));
	uint8_t env[28]; /* X87_HW_CC: the FLDENV image x87_hw_init_cc builds */
	uint16_t cw, cwm, hcw, sw0, sw;
	uint8_t zf, pf, cf;
	uint8_t gf; /* host status bits that need FNCLEX first: not (guest flag and masked) */
};

X87_INLINE void x87_hw_init(const struct cpu *cpu, struct x87_hw *h)
{
	h->cw = cpu->x87.cw;
	h->cwm = (uint16_t)(cpu->x87.cw | FSW_EXC);
	h->gf = (uint8_t) ~(cpu->x87.sw & cpu->x87.cw & FSW_EXC);
}

/* For X87_HW_CC: CW, C0-C3 (no flags), an empty stack. */
X87_INLINE void x87_hw_init_cc(const struct cpu *cpu, struct x87_hw *h)
{
	x87_hw_init(cpu, h);
	memset(h->env, 0, sizeof(h->env));
	uint16_t sw = cpu->x87.sw & FSW_CC, tag = 0xffff;
	memcpy(h->env, &h->cw, 2);
	memcpy(h->env + 4, &sw, 2);
	memcpy(h->env + 8, &tag, 2);
}

#define X87_F(f) "%c[o_" #f "](%[h])"
#define X87_LD0  ""
#define X87_LD1  "fldt " X87_F(v0) "\n\t"
#define X87_LD2  "fldt " X87_F(v1) "\n\t" X87_LD1
#define X87_ST1  "fstpt " X87_F(v0) "\n\t"
#define X87_ST2  X87_ST1 "fstpt " X87_F(v1) "\n\t"
#define X87_ST3  X87_ST2 "fstpt " X87_F(v2) "\n\t"
#define X87_M    X87_F(m)

/*
 * Runs op on the host: load = X87_LDn (n operands), store = X87_STn with n
 * the most values the host stack can hold afterwards (stores of empty
 * registers are harmless: exceptions are masked by then, and the host
 * stack ends empty either way, as the ABI wants). FNCLEX is slow, so the
 * host's flags are cleared only when they hold more than flags the guest
 * already has and masks (those change nothing when ORed in again, and
 * cannot trap under the guest's control word), and after the operation
 * only when it left an unmasked exception pending (so the stores cannot
 * trap in the host). X87_HW_CC also gives
 * the host the guest's C0-C3 first (FLDENV, slower), for operations that
 * leave some of them unchanged in some cases (FPREM with a NaN, ...).
 */
#define X87_HW(hw, load, op, store)                                                                \
	X87_ASM(hw, X87_CLEX(1, X87_F(gf)) "fldcw " X87_F(cw) "\n\t", load, op, store)
#define X87_HW_CC(hw, load, op, store) X87_ASM(hw, "fldenv " X87_F(env) "\n\t", load, op, store)

/* FNCLEX (slow: ~50 ns here) only when the host's status (left in AX) has a bit of mask. */
#define X87_CLEX(l, mask) "fnstsw %%ax\n\ttestb " mask ", %%al\n\tjz " #l "f\n\tfnclex\n" #l ":\n\t"

/* clang-format off */
#define X87_ASM(hw, pre, load, op, store)                                                          \
	asm volatile("fnstcw " X87_F(hcw) "\n\t" pre load "fnstsw " X87_F(sw0) "\n\t" op "\n\t"    \
	             X87_CLEX(2, "$0x80") "movw %%ax, " X87_F(sw) "\n\t"                            \
	             "fldcw " X87_F(cwm) "\n\t" store "fldcw " X87_F(hcw)                          \
	             :                                                                             \
	             : [h] "r"(hw), [o_v0] "i"(offsetof(struct x87_hw, v[0])),                     \
	               [o_v1] "i"(offsetof(struct x87_hw, v[1])),                                  \
	               [o_v2] "i"(offsetof(struct x87_hw, v[2])),                                  \
	               [o_m] "i"(offsetof(struct x87_hw, m)),                                      \
	               [o_env] "i"(offsetof(struct x87_hw, env)),                                  \
	               [o_cw] "i"(offsetof(struct x87_hw, cw)),                                    \
	               [o_cwm] "i"(offsetof(struct x87_hw, cwm)),                                  \
	               [o_hcw] "i"(offsetof(struct x87_hw, hcw)),                                  \
	               [o_sw0] "i"(offsetof(struct x87_hw, sw0)),                                  \
	               [o_sw] "i"(offsetof(struct x87_hw, sw)),                                    \
	               [o_zf] "i"(offsetof(struct x87_hw, zf)),                                    \
	               [o_pf] "i"(offsetof(struct x87_hw, pf)),                                    \
	               [o_cf] "i"(offsetof(struct x87_hw, cf)),                                    \
	               [o_gf] "i"(offsetof(struct x87_hw, gf))                                     \
	             : "memory", "cc", "rax", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",   \
	               "st(6)", "st(7)")
/* clang-format on */

/* How the host's stack moved: 0, 1 or 2 pops, or -1 for a push. */
X87_INLINE int x87_hw_pops(const struct x87_hw *h)
{
	int d = ((h->sw >> 11) - (h->sw0 >> 11)) & 7;
	return d == 7 ? -1 : d;
}

/*
 * Merges the kernel's status into the guest's: its exception flags, and
 * the condition codes in cc (the ones the operation defines; the others
 * keep their value). ES comes with an unmasked exception.
 */
X87_INLINE void x87_hw_status(struct cpu *cpu, const struct insn *i, const struct x87_hw *h,
                              unsigned cc)
{
	cpu->x87.sw = (uint16_t)((cpu->x87.sw & ~cc) | (h->sw & cc) | (h->sw & FSW_EXC));
	if (unlikely(h->sw & FSW_ES))
		x87_unmasked(cpu, i);
}

/* ---- the family's pieces: handler pickers by escape (0-7 for D8-DF), ModRM fields ---- */

insn_fn x87_arith_fn(unsigned esc, unsigned reg, unsigned rm, bool mem);
insn_fn x87_cmp_fn(unsigned esc, unsigned reg, unsigned rm, bool mem);
insn_fn x87_move_fn(unsigned esc, unsigned reg, unsigned rm, bool mem);

#endif
