/*
 * Decode-time passes over a block (docs/softcpu.md, "Block passes").
 *
 * 1. Compare-and-branch fusion: a block ending in CMP/TEST + Jcc gets one
 *    handler at the CMP/TEST that records the lazy flags exactly as the
 *    CMP/TEST would (the flags are live: the block ends), evaluates the
 *    condition straight from the operands in host registers and chains to
 *    the next block. The Jcc stays in the block (lengths, instruction
 *    count, insn_rip) but never runs. Only the CMP/TEST can fault, and it
 *    does so before anything changed, at its own address.
 *
 * 2. Dead flags: a backward liveness pass over ops.def's flags read and
 *    written. An instruction whose flags are all overwritten before any
 *    instruction reads them gets a handler that does not record lazy flags
 *    (cpu->lf keeps an older, self-consistent state that nobody reads).
 *    A fault must see exact flags, so every instruction that can fault,
 *    write memory or leave the block counts as reading all flags
 *    (flags_barrier): a flag write is only dropped when everything up to
 *    the instruction that overwrites it is register-only. Blocks are never
 *    entered in the middle, interrupts are taken between blocks, and a
 *    block can only be dropped under itself by a write to memory, so
 *    nothing else can observe the dropped flags. All flags are live at the
 *    block's end.
 *
 * 3. Fixed address forms for memory operands (below, section 3).
 * 4. and 5. Pairs: MOV r, r + an operation on the copy, and two ALU (or
 *    ALU and shift-by-imm8) operations on one register, run by one handler
 *    (sections 4 and 5).
 */
#include "accel/soft/blockopt.h"

#include "accel/soft/codecache.h"
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"

/* ---- 1. fused CMP/TEST + Jcc ---- */

enum { F_CMP, F_TEST };

/* Condition cc after CMP a, b (r = a - b) or TEST a, b (r = a & b), operands of size sz. */
static inline __attribute__((always_inline)) bool fused_cc(unsigned kind, unsigned cc, unsigned sz,
                                                           uint64_t a, uint64_t b, uint64_t r)
{
	const unsigned w = 8u << sz;
	bool t;
	switch (cc >> 1) {
	case CC_O >> 1:
		t = kind == F_CMP && (((a ^ b) & (a ^ r)) >> (w - 1) & 1);
		break;
	case CC_B >> 1:
		t = kind == F_CMP && a < b;
		break;
	case CC_E >> 1:
		t = r == 0;
		break;
	case CC_BE >> 1:
		t = kind == F_CMP ? a <= b : r == 0;
		break;
	case CC_S >> 1:
		t = (r >> (w - 1)) & 1;
		break;
	case CC_P >> 1:
		t = !__builtin_parity((unsigned)(r & 0xff));
		break;
	case CC_L >> 1:
		t = kind == F_CMP ? size_sext(a, sz) < size_sext(b, sz) : size_sext(r, sz) < 0;
		break;
	default: /* CC_LE */
		t = kind == F_CMP ? size_sext(a, sz) <= size_sext(b, sz) : size_sext(r, sz) <= 0;
		break;
	}
	return t ^ (cc & 1);
}

/* The operands of each form, as alu.c's CMP/TEST handlers read them. */
#define OPND_RR(sz) a = reg_get(cpu, sz, i->reg), b = reg_get(cpu, sz, i->base)
#define OPND_RI(sz) a = reg_get(cpu, sz, i->reg), b = i->imm
#define OPND_RM(sz) b = mem_read(cpu, i, insn_ea(cpu, i), sz), a = reg_get(cpu, sz, i->reg)
#define OPND_MR(sz) a = mem_read(cpu, i, insn_ea(cpu, i), sz), b = reg_get(cpu, sz, i->reg)
#define OPND_MI(sz) a = mem_read(cpu, i, insn_ea(cpu, i), sz), b = i->imm

#define FUSED(kind, name, form, sz, cc)                                                            \
	HANDLER(name##_##form##_##sz##_##cc)                                                       \
	{                                                                                          \
		uint64_t a, b, r;                                                                  \
		OPND_##form(sz);                                                                   \
		b &= size_mask(sz);                                                                \
		if (kind == F_CMP) {                                                               \
			r = (a - b) & size_mask(sz);                                               \
			lf_set(cpu, LF_SUB, sz, r, a, b);                                          \
		} else {                                                                           \
			r = a & b;                                                                 \
			lf_set(cpu, LF_LOGIC, sz, r, a, b);                                        \
		}                                                                                  \
		return block_next(cpu, fused_cc(kind, cc, sz, a, b, r) ? i[1].imm : cpu->rip);     \
	}

#define FUSED_CC(kind, name, form, sz)                                                             \
	FUSED(kind, name, form, sz, 0)                                                             \
	FUSED(kind, name, form, sz, 1)                                                             \
	FUSED(kind, name, form, sz, 2)                                                             \
	FUSED(kind, name, form, sz, 3)                                                             \
	FUSED(kind, name, form, sz, 4)                                                             \
	FUSED(kind, name, form, sz, 5)                                                             \
	FUSED(kind, name, form, sz, 6)                                                             \
	FUSED(kind, name, form, sz, 7)                                                             \
	FUSED(kind, name, form, sz, 8)                                                             \
	FUSED(kind, name, form, sz, 9) FUSED(kind, name, form, sz, 10)                             \
	    FUSED(kind, name, form, sz, 11) FUSED(kind, name, form, sz, 12)                        \
	        FUSED(kind, name, form, sz, 13) FUSED(kind, name, form, sz, 14)                    \
	            FUSED(kind, name, form, sz, 15)
#define FUSED_SZ(kind, name, form)                                                                 \
	FUSED_CC(kind, name, form, SZ8)                                                            \
	FUSED_CC(kind, name, form, SZ16)                                                           \
	FUSED_CC(kind, name, form, SZ32) FUSED_CC(kind, name, form, SZ64)
#define FUSED_FORMS(kind, name)                                                                    \
	FUSED_SZ(kind, name, RR)                                                                   \
	FUSED_SZ(kind, name, RI)                                                                   \
	FUSED_SZ(kind, name, RM) FUSED_SZ(kind, name, MR) FUSED_SZ(kind, name, MI)

FUSED_FORMS(F_CMP, fcmp)
FUSED_FORMS(F_TEST, ftest)

#define ROW_CC(name, form, sz)                                                                     \
	{                                                                                          \
		name##_##form##_##sz##_0, name##_##form##_##sz##_1, name##_##form##_##sz##_2,      \
		    name##_##form##_##sz##_3, name##_##form##_##sz##_4, name##_##form##_##sz##_5,  \
		    name##_##form##_##sz##_6, name##_##form##_##sz##_7, name##_##form##_##sz##_8,  \
		    name##_##form##_##sz##_9, name##_##form##_##sz##_10,                           \
		    name##_##form##_##sz##_11, name##_##form##_##sz##_12,                          \
		    name##_##form##_##sz##_13, name##_##form##_##sz##_14,                          \
		    name##_##form##_##sz##_15                                                      \
	}
#define ROW_SZ(name, form)                                                                         \
	{                                                                                          \
		ROW_CC(name, form, SZ8), ROW_CC(name, form, SZ16), ROW_CC(name, form, SZ32),       \
		    ROW_CC(name, form, SZ64)                                                       \
	}
#define ROW_FORMS(name)                                                                            \
	{                                                                                          \
		[FORM_RR] = ROW_SZ(name, RR), [FORM_RI] = ROW_SZ(name, RI),                        \
		[FORM_RM] = ROW_SZ(name, RM), [FORM_MR] = ROW_SZ(name, MR),                        \
		[FORM_MI] = ROW_SZ(name, MI)                                                       \
	}

static const insn_fn fused_fns[2][FORM_COUNT][4][16] = {ROW_FORMS(fcmp), ROW_FORMS(ftest)};

/* ---- 2. handlers that leave the lazy flags alone ---- */

HANDLER(nf_nop)
{
	return insn_next(cpu, i);
}

enum { N_ADD, N_OR, N_AND, N_SUB, N_XOR, N_COUNT };

static inline __attribute__((always_inline)) uint64_t nf_alu2(unsigned k, uint64_t a, uint64_t b)
{
	switch (k) {
	case N_ADD:
		return a + b;
	case N_OR:
		return a | b;
	case N_AND:
		return a & b;
	case N_SUB:
		return a - b;
	default:
		return a ^ b;
	}
}

#define NF_ALU2_SZ(k, name, sz)                                                                    \
	HANDLER(nf_##name##_rr_##sz)                                                               \
	{                                                                                          \
		reg_set(cpu, sz, i->reg,                                                           \
		        nf_alu2(k, reg_get(cpu, sz, i->reg), reg_get(cpu, sz, i->base)));          \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_##name##_ri_##sz)                                                               \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, nf_alu2(k, reg_get(cpu, sz, i->reg), i->imm));            \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_##name##_rm_##sz)                                                               \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, nf_alu2(k, reg_get(cpu, sz, i->reg), b));                 \
		return insn_next(cpu, i);                                                          \
	}

#define EACH_SZ(M, k, name) M(k, name, SZ8) M(k, name, SZ16) M(k, name, SZ32) M(k, name, SZ64)
/* E(M, kind, name) for each operation of a family: the handler sets of passes 2 and 4. */
#define EACH_ALU2(E, M)                                                                            \
	E(M, N_ADD, add) E(M, N_OR, or) E(M, N_AND, and) E(M, N_SUB, sub) E(M, N_XOR, xor)
#define EACH_SHIFT(E, M)                                                                           \
	E(M, S_ROL, rol) E(M, S_ROR, ror) E(M, S_SHL, shl) E(M, S_SHR, shr) E(M, S_SAR, sar)
EACH_ALU2(EACH_SZ, NF_ALU2_SZ)

#define NF_FNS(name, f)                                                                            \
	{                                                                                          \
		nf_##name##_##f##_SZ8, nf_##name##_##f##_SZ16, nf_##name##_##f##_SZ32,             \
		    nf_##name##_##f##_SZ64                                                         \
	}
#define NF_ROW(name)                                                                               \
	{                                                                                          \
		[FORM_RR] = NF_FNS(name, rr), [FORM_RI] = NF_FNS(name, ri),                        \
		[FORM_RM] = NF_FNS(name, rm)                                                       \
	}
static const insn_fn nf_alu2_fns[N_COUNT][FORM_COUNT][4] = {
    NF_ROW(add), NF_ROW(or), NF_ROW(and), NF_ROW(sub), NF_ROW(xor),
};

/* INC, DEC, NEG of a register. */
#define NF_ALU1_SZ(expr, name, sz)                                                                 \
	HANDLER(nf_##name##_r_##sz)                                                                \
	{                                                                                          \
		uint64_t a = reg_get(cpu, sz, i->reg);                                             \
		reg_set(cpu, sz, i->reg, expr);                                                    \
		return insn_next(cpu, i);                                                          \
	}
EACH_SZ(NF_ALU1_SZ, a + 1, inc)
EACH_SZ(NF_ALU1_SZ, a - 1, dec)
EACH_SZ(NF_ALU1_SZ, 0 - a, neg)
static const insn_fn nf_alu1_fns[3][4] = {NF_FNS(inc, r), NF_FNS(dec, r), NF_FNS(neg, r)};

/*
 * Shifts and rotates of a register by an immediate count (C0/C1, masked
 * count non-zero: shift.c picks a no-flags handler for 0) or by 1 (D0/D1).
 */
enum { S_ROL, S_ROR, S_SHL, S_SHR, S_SAR, S_COUNT };

static inline __attribute__((always_inline)) uint64_t nf_shift(unsigned k, unsigned sz, uint64_t a,
                                                               unsigned c)
{
	const unsigned w = 8u << sz;
	const uint64_t m = size_mask(sz);
	unsigned n = c & (w - 1);
	switch (k) {
	case S_ROL:
		return n ? ((a << n) | (a >> (w - n))) & m : a;
	case S_ROR:
		return n ? ((a >> n) | (a << (w - n))) & m : a;
	case S_SHL:
		return a << c; /* c <= 63; reg_set truncates */
	case S_SHR:
		return a >> c;
	default:
		return (uint64_t)(size_sext(a, sz) >> c);
	}
}

#define NF_SHIFT_SZ(k, name, sz)                                                                   \
	HANDLER(nf_##name##_ri_##sz)                                                               \
	{                                                                                          \
		unsigned c = (unsigned)i->imm & (sz == SZ64 ? 63 : 31);                            \
		reg_set(cpu, sz, i->reg, nf_shift(k, sz, reg_get(cpu, sz, i->reg), c));            \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_##name##_r1_##sz)                                                               \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, nf_shift(k, sz, reg_get(cpu, sz, i->reg), 1));            \
		return insn_next(cpu, i);                                                          \
	}
EACH_SHIFT(EACH_SZ, NF_SHIFT_SZ)
static const insn_fn nf_shift_fns[S_COUNT][2][4] = {
    {NF_FNS(rol, ri), NF_FNS(rol, r1)}, {NF_FNS(ror, ri), NF_FNS(ror, r1)},
    {NF_FNS(shl, ri), NF_FNS(shl, r1)}, {NF_FNS(shr, ri), NF_FNS(shr, r1)},
    {NF_FNS(sar, ri), NF_FNS(sar, r1)},
};

/* IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B): the truncated product. */
#define NF_IMUL_SZ(sz)                                                                             \
	HANDLER(nf_imul2_rr_##sz)                                                                  \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->reg) * reg_get(cpu, sz, i->base));    \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_imul2_rm_##sz)                                                                  \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->reg) * b);                            \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_imul3_rr_##sz)                                                                  \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->base) * i->imm);                      \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(nf_imul3_rm_##sz)                                                                  \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, b * i->imm);                                              \
		return insn_next(cpu, i);                                                          \
	}
NF_IMUL_SZ(SZ16)
NF_IMUL_SZ(SZ32)
NF_IMUL_SZ(SZ64)
#define NF_FNS3(name, f)                                                                           \
	{                                                                                          \
		NULL, nf_##name##_##f##_SZ16, nf_##name##_##f##_SZ32, nf_##name##_##f##_SZ64       \
	}
static const insn_fn nf_imul_fns[2][2][4] = {
    {NF_FNS3(imul2, rr), NF_FNS3(imul2, rm)},
    {NF_FNS3(imul3, rr), NF_FNS3(imul3, rm)},
};

/*
 * ---- 3. memory operands: the address form fixed at decode time ----
 *
 * In 64-bit addressing without a segment base (the common case, kernel
 * included), the effective address is base + disp (EA_BD) or base +
 * (index << scale) + disp (EA_BISD): no segment lookup, no address-size
 * wrap. The handlers below do the TLB fast path inline; on a miss they
 * tail-call a cold twin that runs the generic code (insn_ea, mem.h's slow
 * path), so the fast path makes no calls and needs no stack frame. Each
 * does exactly what move.c's or alu.c's handler for the instruction does.
 */
enum { EA_BD, EA_BISD };

static inline __attribute__((always_inline)) uint64_t ea_fixed(const struct cpu *cpu,
                                                               const struct insn *i, unsigned ea)
{
	if (ea == EA_BD)
		return cpu->ea_reg[i->base] + i->disp;
	return cpu->ea_reg[i->base] + (cpu->ea_reg[i->index] << i->scale) + i->disp;
}

/* The host address of an access of 1 << sz bytes at a, or NULL (slow path). */
static inline __attribute__((always_inline)) void *tlb_ptr(struct cpu *cpu, uint64_t a, unsigned sz,
                                                           bool write)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + ((1u << sz) - 1));
	uint64_t tag = write ? e->tag_write : e->tag_read;
	if (likely(tag == (a & SOFT_PAGE_MASK)))
		return (void *)(uintptr_t)((intptr_t)a + e->addend);
	return NULL;
}

static inline __attribute__((always_inline)) uint64_t host_load(const void *p, unsigned sz)
{
	switch (sz) {
	case SZ8:
		return *(const uint8_t *)p;
	case SZ16: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case SZ32: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

static inline __attribute__((always_inline)) void host_store(void *p, unsigned sz, uint64_t v)
{
	switch (sz) {
	case SZ8:
		*(uint8_t *)p = (uint8_t)v;
		break;
	case SZ16: {
		uint16_t w = (uint16_t)v;
		memcpy(p, &w, 2);
		break;
	}
	case SZ32: {
		uint32_t w = (uint32_t)v;
		memcpy(p, &w, 4);
		break;
	}
	default:
		memcpy(p, &v, 8);
	}
}

/* Loads into a register: MOV (X_MOV) and the zero/sign extensions from a smaller size. */
enum { X_MOV, X_ZX, X_SX };

static inline __attribute__((always_inline)) uint64_t ext(unsigned x, unsigned from, uint64_t v)
{
	return x == X_SX ? (uint64_t)size_sext(v, from) : v;
}

#define LOAD_SZ(name, x, from, sz)                                                                 \
	static __attribute__((noinline, cold))                                                     \
	const struct insn *name##_slow_##sz(struct cpu *cpu, const struct insn *i)                 \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, ext(x, from, mem_read(cpu, i, insn_ea(cpu, i), from)));   \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_bd_##sz)                                                                    \
	{                                                                                          \
		const void *p = tlb_ptr(cpu, ea_fixed(cpu, i, EA_BD), from, false);                \
		if (unlikely(!p))                                                                  \
			return name##_slow_##sz(cpu, i);                                           \
		reg_set(cpu, sz, i->reg, ext(x, from, host_load(p, from)));                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_bisd_##sz)                                                                  \
	{                                                                                          \
		const void *p = tlb_ptr(cpu, ea_fixed(cpu, i, EA_BISD), from, false);              \
		if (unlikely(!p))                                                                  \
			return name##_slow_##sz(cpu, i);                                           \
		reg_set(cpu, sz, i->reg, ext(x, from, host_load(p, from)));                        \
		return insn_next(cpu, i);                                                          \
	}

LOAD_SZ(ld_mov, X_MOV, SZ8, SZ8)
LOAD_SZ(ld_mov, X_MOV, SZ16, SZ16)
LOAD_SZ(ld_mov, X_MOV, SZ32, SZ32)
LOAD_SZ(ld_mov, X_MOV, SZ64, SZ64)
#define LOAD_X(name, x, from)                                                                      \
	LOAD_SZ(name, x, from, SZ16) LOAD_SZ(name, x, from, SZ32) LOAD_SZ(name, x, from, SZ64)
LOAD_X(ld_zxb, X_ZX, SZ8)
LOAD_X(ld_zxw, X_ZX, SZ16)
LOAD_X(ld_sxb, X_SX, SZ8)
LOAD_X(ld_sxw, X_SX, SZ16)
LOAD_SZ(ld_sxd, X_SX, SZ32, SZ64)

#define EA_FNS(name, ea)                                                                           \
	{                                                                                          \
		name##_##ea##_SZ8, name##_##ea##_SZ16, name##_##ea##_SZ32, name##_##ea##_SZ64      \
	}
#define EA_FNS3(name, ea)                                                                          \
	{                                                                                          \
		NULL, name##_##ea##_SZ16, name##_##ea##_SZ32, name##_##ea##_SZ64                   \
	}
/* [extension: OP_MOVZXB..OP_MOVSXW order][EA_*][size] */
static const insn_fn ld_movx_fns[4][2][4] = {
    {EA_FNS3(ld_zxb, bd), EA_FNS3(ld_zxb, bisd)},
    {EA_FNS3(ld_zxw, bd), EA_FNS3(ld_zxw, bisd)},
    {EA_FNS3(ld_sxb, bd), EA_FNS3(ld_sxb, bisd)},
    {EA_FNS3(ld_sxw, bd), EA_FNS3(ld_sxw, bisd)},
};
static const insn_fn ld_mov_fns[2][4] = {EA_FNS(ld_mov, bd), EA_FNS(ld_mov, bisd)};
static const insn_fn ld_sxd_fns[2] = {ld_sxd_bd_SZ64, ld_sxd_bisd_SZ64};

/* MOV [mem], reg (FORM_MR) and MOV [mem], imm (FORM_MI). */
#define STORE_SZ(name, sz)                                                                         \
	static __attribute__((noinline, cold))                                                     \
	const struct insn *name##_slow_##sz(struct cpu *cpu, const struct insn *i)                 \
	{                                                                                          \
		mem_write(cpu, i, insn_ea(cpu, i), sz, VAL_##name(sz));                            \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_bd_##sz)                                                                    \
	{                                                                                          \
		void *p = tlb_ptr(cpu, ea_fixed(cpu, i, EA_BD), sz, true);                         \
		if (unlikely(!p))                                                                  \
			return name##_slow_##sz(cpu, i);                                           \
		host_store(p, sz, VAL_##name(sz));                                                 \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_bisd_##sz)                                                                  \
	{                                                                                          \
		void *p = tlb_ptr(cpu, ea_fixed(cpu, i, EA_BISD), sz, true);                       \
		if (unlikely(!p))                                                                  \
			return name##_slow_##sz(cpu, i);                                           \
		host_store(p, sz, VAL_##name(sz));                                                 \
		return insn_next(cpu, i);                                                          \
	}
#define STORE(name)                                                                                \
	STORE_SZ(name, SZ8) STORE_SZ(name, SZ16) STORE_SZ(name, SZ32) STORE_SZ(name, SZ64)
#define VAL_st_mr(sz) reg_get(cpu, sz, i->reg)
#define VAL_st_mi(sz) i->imm
STORE(st_mr)
STORE(st_mi)
static const insn_fn st_fns[2][2][4] = {
    {EA_FNS(st_mr, bd), EA_FNS(st_mr, bisd)},
    {EA_FNS(st_mi, bd), EA_FNS(st_mi, bisd)},
};

/*
 * ALU reg, [mem] (FORM_RM) with the flags alu.c's alu2 records, and
 * without them (ADD..XOR only, for dead flags).
 */
enum { M_ADD, M_OR, M_AND, M_SUB, M_XOR, M_CMP, M_COUNT };

static inline __attribute__((always_inline)) uint64_t
m_alu(struct cpu *cpu, unsigned k, unsigned sz, bool flags, uint64_t a, uint64_t b)
{
	uint64_t m = size_mask(sz), r;
	b &= m;
	switch (k) {
	case M_ADD:
		r = (a + b) & m;
		if (flags)
			lf_set(cpu, LF_ADD, sz, r, a, b);
		return r;
	case M_SUB:
	case M_CMP:
		r = (a - b) & m;
		if (flags)
			lf_set(cpu, LF_SUB, sz, r, a, b);
		return r;
	case M_OR:
		r = a | b;
		break;
	case M_AND:
		r = a & b;
		break;
	default:
		r = a ^ b;
		break;
	}
	if (flags)
		lf_set(cpu, LF_LOGIC, sz, r, a, b);
	return r;
}

#define ALU_RM_EA(k, name, flags, sz, ea, EA)                                                      \
	HANDLER(name##_##ea##_##sz)                                                                \
	{                                                                                          \
		const void *p = tlb_ptr(cpu, ea_fixed(cpu, i, EA), sz, false);                     \
		if (unlikely(!p))                                                                  \
			return name##_slow_##sz(cpu, i);                                           \
		uint64_t r = m_alu(cpu, k, sz, flags, reg_get(cpu, sz, i->reg), host_load(p, sz)); \
		if (k != M_CMP)                                                                    \
			reg_set(cpu, sz, i->reg, r);                                               \
		return insn_next(cpu, i);                                                          \
	}
#define ALU_RM_SZ(k, name, flags, sz)                                                              \
	static __attribute__((noinline, cold))                                                     \
	const struct insn *name##_slow_##sz(struct cpu *cpu, const struct insn *i)                 \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		uint64_t r = m_alu(cpu, k, sz, flags, reg_get(cpu, sz, i->reg), b);                \
		if (k != M_CMP)                                                                    \
			reg_set(cpu, sz, i->reg, r);                                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	ALU_RM_EA(k, name, flags, sz, bd, EA_BD)                                                   \
	ALU_RM_EA(k, name, flags, sz, bisd, EA_BISD)
#define ALU_RM(k, name, flags)                                                                     \
	ALU_RM_SZ(k, name, flags, SZ8)                                                             \
	ALU_RM_SZ(k, name, flags, SZ16)                                                            \
	ALU_RM_SZ(k, name, flags, SZ32) ALU_RM_SZ(k, name, flags, SZ64)
ALU_RM(M_ADD, m_add, true)
ALU_RM(M_OR, m_or, true)
ALU_RM(M_AND, m_and, true)
ALU_RM(M_SUB, m_sub, true)
ALU_RM(M_XOR, m_xor, true)
ALU_RM(M_CMP, m_cmp, true)
ALU_RM(M_ADD, m_nf_add, false)
ALU_RM(M_OR, m_nf_or, false)
ALU_RM(M_AND, m_nf_and, false)
ALU_RM(M_SUB, m_nf_sub, false)
ALU_RM(M_XOR, m_nf_xor, false)
/* [flags recorded][M_*][EA_*][size] */
static const insn_fn m_alu_fns[2][M_COUNT][2][4] = {
    {
        {EA_FNS(m_nf_add, bd), EA_FNS(m_nf_add, bisd)},
        {EA_FNS(m_nf_or, bd), EA_FNS(m_nf_or, bisd)},
        {EA_FNS(m_nf_and, bd), EA_FNS(m_nf_and, bisd)},
        {EA_FNS(m_nf_sub, bd), EA_FNS(m_nf_sub, bisd)},
        {EA_FNS(m_nf_xor, bd), EA_FNS(m_nf_xor, bisd)},
    },
    {
        {EA_FNS(m_add, bd), EA_FNS(m_add, bisd)},
        {EA_FNS(m_or, bd), EA_FNS(m_or, bisd)},
        {EA_FNS(m_and, bd), EA_FNS(m_and, bisd)},
        {EA_FNS(m_sub, bd), EA_FNS(m_sub, bisd)},
        {EA_FNS(m_xor, bd), EA_FNS(m_xor, bisd)},
        {EA_FNS(m_cmp, bd), EA_FNS(m_cmp, bisd)},
    },
};

/* LEA with 64-bit addressing: the offset, truncated to the operand size by reg_set. */
#define LEA_SZ(sz)                                                                                 \
	HANDLER(lea_bd_##sz)                                                                       \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, ea_fixed(cpu, i, EA_BD));                                 \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(lea_bisd_##sz)                                                                     \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, ea_fixed(cpu, i, EA_BISD));                               \
		return insn_next(cpu, i);                                                          \
	}
LEA_SZ(SZ16)
LEA_SZ(SZ32)
LEA_SZ(SZ64)
static const insn_fn lea_fns[2][4] = {EA_FNS3(lea, bd), EA_FNS3(lea, bisd)};

/*
 * ---- 4. MOV r, r followed by an operation on the copy ----
 *
 * x86's two-operand forms make "copy, then modify the copy" the commonest
 * pair in compiled code (mov %rdx,%rcx; shr $17,%rcx). When the second
 * instruction is a register-only operation whose flags are dead (it got a
 * no-flags handler above), the MOV's handler does both: one dispatch and
 * one trip of the value through cpu->gpr fewer. Neither can fault, so the
 * skipped instruction needs no exact RIP.
 */
#define MV_ALU2_SZ(k, name, sz)                                                                    \
	HANDLER(mv_##name##_rr_##sz)                                                               \
	{                                                                                          \
		uint64_t v = reg_get(cpu, sz, i->base);                                            \
		uint64_t b = i[1].base == i->reg ? v : reg_get(cpu, sz, i[1].base);                \
		reg_set(cpu, sz, i->reg, nf_alu2(k, v, b));                                        \
		return insn_next(cpu, i + 1);                                                      \
	}                                                                                          \
	HANDLER(mv_##name##_ri_##sz)                                                               \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, nf_alu2(k, reg_get(cpu, sz, i->base), i[1].imm));         \
		return insn_next(cpu, i + 1);                                                      \
	}
#define MV_SHIFT_SZ(k, name, sz)                                                                   \
	HANDLER(mv_##name##_ri_##sz)                                                               \
	{                                                                                          \
		unsigned c = (unsigned)i[1].imm & (sz == SZ64 ? 63 : 31);                          \
		reg_set(cpu, sz, i->reg, nf_shift(k, sz, reg_get(cpu, sz, i->base), c));           \
		return insn_next(cpu, i + 1);                                                      \
	}                                                                                          \
	HANDLER(mv_##name##_r1_##sz)                                                               \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, nf_shift(k, sz, reg_get(cpu, sz, i->base), 1));           \
		return insn_next(cpu, i + 1);                                                      \
	}
#define EACH_WIDE(M, k, name) M(k, name, SZ32) M(k, name, SZ64)
EACH_ALU2(EACH_WIDE, MV_ALU2_SZ)
EACH_SHIFT(EACH_WIDE, MV_SHIFT_SZ)

#define MV_FNS(name, f)                                                                            \
	{                                                                                          \
		NULL, NULL, mv_##name##_##f##_SZ32, mv_##name##_##f##_SZ64                         \
	}
/* [N_*][0: rr, 1: ri][size] and [S_*][0: imm, 1: by 1][size] */
static const insn_fn mv_alu2_fns[N_COUNT][2][4] = {
    {MV_FNS(add, rr), MV_FNS(add, ri)}, {MV_FNS(or, rr), MV_FNS(or, ri)},
    {MV_FNS(and, rr), MV_FNS(and, ri)}, {MV_FNS(sub, rr), MV_FNS(sub, ri)},
    {MV_FNS(xor, rr), MV_FNS(xor, ri)},
};
static const insn_fn mv_shift_fns[S_COUNT][2][4] = {
    {MV_FNS(rol, ri), MV_FNS(rol, r1)}, {MV_FNS(ror, ri), MV_FNS(ror, r1)},
    {MV_FNS(shl, ri), MV_FNS(shl, r1)}, {MV_FNS(shr, ri), MV_FNS(shr, r1)},
    {MV_FNS(sar, ri), MV_FNS(sar, r1)},
};

/* The fused handler for MOV r, r (size sz) followed by next, or NULL. */
static insn_fn mv_select(insn_fn next, unsigned sz)
{
	for (unsigned k = 0; k < N_COUNT; k++)
		for (unsigned f = 0; f < 2; f++)
			if (next == nf_alu2_fns[k][f ? FORM_RI : FORM_RR][sz])
				return mv_alu2_fns[k][f][sz];
	for (unsigned k = 0; k < S_COUNT; k++)
		for (unsigned f = 0; f < 2; f++)
			if (next == nf_shift_fns[k][f][sz])
				return mv_shift_fns[k][f][sz];
	return NULL;
}

/*
 * ---- 5. two ALU operations on one register ----
 *
 * ADD/OR/AND/SUB/XOR r, r/imm twice in a row on the same destination
 * (MD5's xor/and/xor/add chains, accumulations): one handler, the value
 * stays in a host register between the two. The first one's flags are
 * always dead (the second writes all of them and neither can fault); the
 * second records its flags when they are live (fl).
 */
enum { P_RR, P_RI };

#define P_OPND(f, in, sz) ((f) == P_RR ? reg_get(cpu, sz, (in)->base) : (in)->imm)

#define PAIR(k1, f1, k2, f2, fl, sz)                                                               \
	HANDLER(pr_##k1##_##f1##_##k2##_##f2##_##fl##_##sz)                                        \
	{                                                                                          \
		uint64_t t =                                                                       \
		    m_alu(cpu, k1, sz, false, reg_get(cpu, sz, i->reg), P_OPND(f1, i, sz));        \
		uint64_t b = f2 == P_RR && i[1].base == i->reg ? t : P_OPND(f2, &i[1], sz);        \
		reg_set(cpu, sz, i->reg, m_alu(cpu, k2, sz, fl, t, b));                            \
		return insn_next(cpu, i + 1);                                                      \
	}
#define PAIR_SZ(k1, f1, k2, f2, fl) PAIR(k1, f1, k2, f2, fl, SZ32) PAIR(k1, f1, k2, f2, fl, SZ64)
#define PAIR_FL(k1, f1, k2, f2)     PAIR_SZ(k1, f1, k2, f2, 0) PAIR_SZ(k1, f1, k2, f2, 1)
#define PAIR_F2(k1, f1, k2)         PAIR_FL(k1, f1, k2, P_RR) PAIR_FL(k1, f1, k2, P_RI)
/* X(..., kind) for the five ALU kinds and the five shift kinds (the generated handler sets). */
#define EACH_M1(X)       X(M_ADD) X(M_OR) X(M_AND) X(M_SUB) X(M_XOR)
#define EACH_M3(X, a, b) X(a, b, M_ADD) X(a, b, M_OR) X(a, b, M_AND) X(a, b, M_SUB) X(a, b, M_XOR)
#define EACH_S1(X)       X(S_ROL) X(S_ROR) X(S_SHL) X(S_SHR) X(S_SAR)
#define EACH_S3(X, a, b) X(a, b, S_ROL) X(a, b, S_ROR) X(a, b, S_SHL) X(a, b, S_SHR) X(a, b, S_SAR)
/* The same as initializer lists. */
#define LIST_M3(X, a, b)                                                                           \
	X(a, b, M_ADD), X(a, b, M_OR), X(a, b, M_AND), X(a, b, M_SUB), X(a, b, M_XOR)
#define LIST_S3(X, a, b)                                                                           \
	X(a, b, S_ROL), X(a, b, S_ROR), X(a, b, S_SHL), X(a, b, S_SHR), X(a, b, S_SAR)
#define PAIR_K2(k1, f1) EACH_M3(PAIR_F2, k1, f1)
#define PAIR_F1(k1)     PAIR_K2(k1, P_RR) PAIR_K2(k1, P_RI)
EACH_M1(PAIR_F1)

#define PT_SZ(k1, f1, k2, f2, fl)                                                                  \
	{                                                                                          \
		pr_##k1##_##f1##_##k2##_##f2##_##fl##_SZ32,                                        \
		    pr_##k1##_##f1##_##k2##_##f2##_##fl##_SZ64                                     \
	}
#define PT_FL(k1, f1, k2, f2)                                                                      \
	{                                                                                          \
		PT_SZ(k1, f1, k2, f2, 0), PT_SZ(k1, f1, k2, f2, 1)                                 \
	}
#define PT_F2(k1, f1, k2)                                                                          \
	{                                                                                          \
		PT_FL(k1, f1, k2, P_RR), PT_FL(k1, f1, k2, P_RI)                                   \
	}
#define PT_K2(k1, f1)                                                                              \
	{                                                                                          \
		LIST_M3(PT_F2, k1, f1)                                                             \
	}
#define PT_F1(k1)                                                                                  \
	{                                                                                          \
		PT_K2(k1, P_RR), PT_K2(k1, P_RI)                                                   \
	}
/* [first M_*][first P_*][second M_*][second P_*][second's flags live][SZ32, SZ64] */
static const insn_fn pair_fns[5][2][5][2][2][2] = {
    PT_F1(M_ADD), PT_F1(M_OR), PT_F1(M_AND), PT_F1(M_SUB), PT_F1(M_XOR),
};

/* Is insn (decoded as d) an ADD/OR/AND/SUB/XOR r, r/imm of 32 or 64 bits? Its M_* and P_*. */
static bool pair_part(const struct decode *d, const struct insn *in, unsigned *k, unsigned *f)
{
	static const int8_t kinds[] = {[OP_ADD - OP_ADD] = M_ADD, [OP_OR - OP_ADD] = M_OR,
	                               [OP_ADC - OP_ADD] = -1,    [OP_SBB - OP_ADD] = -1,
	                               [OP_AND - OP_ADD] = M_AND, [OP_SUB - OP_ADD] = M_SUB,
	                               [OP_XOR - OP_ADD] = M_XOR};
	if (d->op < OP_ADD || d->op > OP_XOR || kinds[d->op - OP_ADD] < 0 || d->lock ||
	    (d->osize != SZ32 && d->osize != SZ64) || (d->form != FORM_RR && d->form != FORM_RI) ||
	    in->fn == insn_ud || in->fn == insn_gp0)
		return false;
	*k = (unsigned)kinds[d->op - OP_ADD];
	*f = d->form == FORM_RR ? P_RR : P_RI;
	return true;
}

static insn_fn pair_select(const struct insn *insn, const struct decode *d)
{
	unsigned k1, f1, k2, f2, sz = d[0].osize;
	if (!pair_part(&d[0], &insn[0], &k1, &f1) || !pair_part(&d[1], &insn[1], &k2, &f2) ||
	    d[1].osize != sz || insn[1].reg != insn[0].reg)
		return NULL;
	_Static_assert((int)M_ADD == N_ADD && (int)M_OR == N_OR && (int)M_AND == N_AND &&
	                   (int)M_SUB == N_SUB && (int)M_XOR == N_XOR,
	               "one numbering for both tables");
	bool live = insn[1].fn != nf_alu2_fns[k2][d[1].form][sz];
	return pair_fns[k1][f1][k2][f2][live][sz - SZ32];
}

/*
 * Shifts and rotates by an immediate next to an ALU operation on the same
 * register (hash rounds: add, rol, add; the LCG's shr, xor). Shift + ALU:
 * the shift's flags are dead (the ALU writes all six); the ALU records
 * its flags when they are live. ALU + shift: only when both already have
 * no-flags handlers (the shift writes CF/OF at most, so the ALU's other
 * flags would otherwise survive it).
 */
#define SA(s, k2, f2, fl, sz)                                                                      \
	HANDLER(sa_##s##_##k2##_##f2##_##fl##_##sz)                                                \
	{                                                                                          \
		unsigned c = (unsigned)i->imm & (sz == SZ64 ? 63 : 31);                            \
		uint64_t t = nf_shift(s, sz, reg_get(cpu, sz, i->reg), c) & size_mask(sz);         \
		uint64_t b = f2 == P_RR && i[1].base == i->reg ? t : P_OPND(f2, &i[1], sz);        \
		reg_set(cpu, sz, i->reg, m_alu(cpu, k2, sz, fl, t, b));                            \
		return insn_next(cpu, i + 1);                                                      \
	}
#define AS(k1, f1, s, sz)                                                                          \
	HANDLER(as_##k1##_##f1##_##s##_##sz)                                                       \
	{                                                                                          \
		uint64_t t =                                                                       \
		    m_alu(cpu, k1, sz, false, reg_get(cpu, sz, i->reg), P_OPND(f1, i, sz));        \
		unsigned c = (unsigned)i[1].imm & (sz == SZ64 ? 63 : 31);                          \
		reg_set(cpu, sz, i->reg, nf_shift(s, sz, t, c));                                   \
		return insn_next(cpu, i + 1);                                                      \
	}
#define SA_FL(s, k2, f2)                                                                           \
	SA(s, k2, f2, 0, SZ32) SA(s, k2, f2, 0, SZ64) SA(s, k2, f2, 1, SZ32) SA(s, k2, f2, 1, SZ64)
#define SA_K2(s, unused, k2) SA_FL(s, k2, P_RR) SA_FL(s, k2, P_RI)
#define SA_S(s)              EACH_M3(SA_K2, s, 0)
#define AS_SZ(k1, f1, s)     AS(k1, f1, s, SZ32) AS(k1, f1, s, SZ64)
#define AS_K1(k1)            EACH_S3(AS_SZ, k1, P_RR) EACH_S3(AS_SZ, k1, P_RI)
EACH_S1(SA_S)
EACH_M1(AS_K1)

#define SAT_FL(s, k2, f2)                                                                          \
	{                                                                                          \
		{sa_##s##_##k2##_##f2##_0_SZ32, sa_##s##_##k2##_##f2##_0_SZ64},                    \
		{                                                                                  \
			sa_##s##_##k2##_##f2##_1_SZ32, sa_##s##_##k2##_##f2##_1_SZ64               \
		}                                                                                  \
	}
#define SAT_K2(s, unused, k2)                                                                      \
	{                                                                                          \
		SAT_FL(s, k2, P_RR), SAT_FL(s, k2, P_RI)                                           \
	}
#define SAT_S(s)                                                                                   \
	{                                                                                          \
		LIST_M3(SAT_K2, s, 0)                                                              \
	}
#define AST_SZ(k1, f1, s)                                                                          \
	{                                                                                          \
		as_##k1##_##f1##_##s##_SZ32, as_##k1##_##f1##_##s##_SZ64                           \
	}
#define AST_S(k1, f1)                                                                              \
	{                                                                                          \
		LIST_S3(AST_SZ, k1, f1)                                                            \
	}
#define AST_K1(k1)                                                                                 \
	{                                                                                          \
		AST_S(k1, P_RR), AST_S(k1, P_RI)                                                   \
	}
/* [S_*][second M_*][second P_*][second's flags live][SZ32, SZ64] */
static const insn_fn sa_fns[S_COUNT][5][2][2][2] = {SAT_S(S_ROL), SAT_S(S_ROR), SAT_S(S_SHL),
                                                    SAT_S(S_SHR), SAT_S(S_SAR)};
/* [first M_*][first P_*][S_*][SZ32, SZ64] */
static const insn_fn as_fns[5][2][S_COUNT][2] = {AST_K1(M_ADD), AST_K1(M_OR), AST_K1(M_AND),
                                                 AST_K1(M_SUB), AST_K1(M_XOR)};

/* The S_* of a no-flags shift/rotate by imm8 handler of size sz, or -1. */
static int nf_shift_imm_kind(insn_fn fn, unsigned sz)
{
	for (unsigned k = 0; k < S_COUNT; k++)
		if (fn == nf_shift_fns[k][0][sz])
			return (int)k;
	return -1;
}

static insn_fn shift_pair_select(const struct insn *insn, const struct decode *d)
{
	unsigned k, f, sz = d[0].osize;
	if ((sz != SZ32 && sz != SZ64) || d[1].osize != sz || insn[1].reg != insn[0].reg)
		return NULL;
	int s = nf_shift_imm_kind(insn[0].fn, sz);
	if (s >= 0 && pair_part(&d[1], &insn[1], &k, &f)) {
		bool live = insn[1].fn != nf_alu2_fns[k][d[1].form][sz];
		return sa_fns[s][k][f][live][sz - SZ32];
	}
	s = nf_shift_imm_kind(insn[1].fn, sz);
	if (s >= 0 && pair_part(&d[0], &insn[0], &k, &f) &&
	    insn[0].fn == nf_alu2_fns[k][d[0].form][sz])
		return as_fns[k][f][s][sz - SZ32];
	return NULL;
}

/* Passes 4 and 5, left to right: an instruction is in at most one pair. */
static void fuse_pairs(struct insn *insn, const struct decode *d, unsigned n)
{
	for (unsigned k = 0; k + 1 < n; k++) {
		unsigned sz = d[k].osize;
		insn_fn f = NULL;
		if (d[k].op == OP_MOV && d[k].form == FORM_RR && (sz == SZ32 || sz == SZ64) &&
		    d[k + 1].osize == sz && insn[k + 1].reg == insn[k].reg)
			f = mv_select(insn[k + 1].fn, sz);
		else if (!(f = pair_select(&insn[k], &d[k])))
			f = shift_pair_select(&insn[k], &d[k]);
		if (f) {
			insn[k].fn = f;
			k++;
		}
	}
}

/*
 * A handler with a fixed address form for d (flags: the instruction's
 * flags are live), or NULL. Only 64-bit addressing without a segment base.
 */
static insn_fn memform_select(const struct decode *d, const struct insn *in, bool flags)
{
	/* LEA adds no segment base: only the address size matters. */
	if (d->op == OP_LEA && d->mode == CPU_MODE_LONG64 && d->asize == SZ64 &&
	    !(in->seg & (INSN_A32 | INSN_A16)) && d->form == FORM_RM)
		return lea_fns[in->index == EA_NONE ? EA_BD : EA_BISD][d->osize];
	if (d->mode != CPU_MODE_LONG64 || d->asize != SZ64 || d->lock || (in->seg & 7) != S_NONE ||
	    (in->seg & (INSN_A32 | INSN_A16)))
		return NULL;
	unsigned ea = in->index == EA_NONE ? EA_BD : EA_BISD, sz = d->osize;
	switch (d->op) {
	case OP_MOV:
		if (d->form == FORM_RM)
			return ld_mov_fns[ea][sz];
		if (d->form == FORM_MR || d->form == FORM_MI)
			return st_fns[d->form == FORM_MI][ea][sz];
		return NULL;
	case OP_MOVZXB:
	case OP_MOVZXW:
	case OP_MOVSXB:
	case OP_MOVSXW:
		return d->form == FORM_RM ? ld_movx_fns[d->op - OP_MOVZXB][ea][sz] : NULL;
	case OP_MOVSXD:
		/* move_select: r32 is a MOV, r16 reads 32 bits (not here) */
		if (d->form != FORM_RM)
			return NULL;
		return sz == SZ64 ? ld_sxd_fns[ea] : sz == SZ32 ? ld_mov_fns[ea][SZ32] : NULL;
	case OP_ADD:
	case OP_OR:
	case OP_AND:
	case OP_SUB:
	case OP_XOR:
	case OP_CMP: {
		static const uint8_t k[] = {[OP_ADD - OP_ADD] = M_ADD, [OP_OR - OP_ADD] = M_OR,
		                            [OP_AND - OP_ADD] = M_AND, [OP_SUB - OP_ADD] = M_SUB,
		                            [OP_XOR - OP_ADD] = M_XOR, [OP_CMP - OP_ADD] = M_CMP};
		if (d->form != FORM_RM || (!flags && d->op == OP_CMP))
			return NULL;
		return m_alu_fns[flags][k[d->op - OP_ADD]][ea][sz];
	}
	default:
		return NULL;
	}
}

static bool is_mem_form(unsigned form)
{
	return form == FORM_RM || form == FORM_MR || form == FORM_MI || form == FORM_M;
}

/* A shift/rotate group-2 opcode: count 1 (D0/D1), CL (D2/D3) or imm8 (C0/C1). */
static bool shift_by_imm(const struct decode *d)
{
	return d->map == MAP_1B && (d->opcode == 0xc0 || d->opcode == 0xc1);
}

static bool shift_by_1(const struct decode *d)
{
	return d->map == MAP_1B && (d->opcode == 0xd0 || d->opcode == 0xd1);
}

/* The handler that does what d's does without recording flags, or NULL. */
static insn_fn noflags_select(const struct decode *d)
{
	unsigned sz = d->osize;
	if (d->lock)
		return NULL;
	switch (d->op) {
	case OP_ADD:
	case OP_OR:
	case OP_AND:
	case OP_SUB:
	case OP_XOR: {
		static const uint8_t k[] = {[OP_ADD - OP_ADD] = N_ADD,
		                            [OP_OR - OP_ADD] = N_OR,
		                            [OP_AND - OP_ADD] = N_AND,
		                            [OP_SUB - OP_ADD] = N_SUB,
		                            [OP_XOR - OP_ADD] = N_XOR};
		if (d->form != FORM_RR && d->form != FORM_RI && d->form != FORM_RM)
			return NULL;
		return nf_alu2_fns[k[d->op - OP_ADD]][d->form][sz];
	}
	case OP_CMP:
	case OP_TEST:
		/* Nothing but flags: gone (memory forms still read, for their faults). */
		return d->form == FORM_RR || d->form == FORM_RI ? nf_nop : NULL;
	case OP_INC:
	case OP_DEC:
	case OP_NEG:
		return d->form == FORM_R ? nf_alu1_fns[d->op - OP_INC][sz] : NULL;
	case OP_ROL:
	case OP_ROR:
	case OP_SHL:
	case OP_SAL:
	case OP_SHR:
	case OP_SAR: {
		static const uint8_t k[] = {[OP_ROL - OP_ROL] = S_ROL, [OP_ROR - OP_ROL] = S_ROR,
		                            [OP_SHL - OP_ROL] = S_SHL, [OP_SAL - OP_ROL] = S_SHL,
		                            [OP_SHR - OP_ROL] = S_SHR, [OP_SAR - OP_ROL] = S_SAR};
		if (is_mem_form(d->form) || (!shift_by_imm(d) && !shift_by_1(d)))
			return NULL;
		return nf_shift_fns[k[d->op - OP_ROL]][shift_by_1(d)][sz];
	}
	case OP_IMUL:
		if (sz == SZ8)
			return NULL;
		return nf_imul_fns[d->map == MAP_1B][d->form == FORM_RM || d->form == FORM_M][sz];
	default:
		return NULL;
	}
}

/* The flags insn really reads and writes (ops.def, refined for shifts by a constant). */
static void flags_rw(const struct decode *d, const struct insn *in, uint32_t *rd, uint32_t *wr)
{
	const struct op_info *oi = &op_info[d->op];
	*rd = oi->flags_read;
	*wr = oi->flags_written;
	if (d->op >= OP_ROL && d->op <= OP_SAR && d->op != OP_RCL && d->op != OP_RCR &&
	    (shift_by_imm(d) || shift_by_1(d))) {
		/* A constant count: no "count 0 keeps the flags" read. */
		unsigned c = shift_by_1(d) ? 1 : (unsigned)in->imm & (d->osize == SZ64 ? 63 : 31);
		*rd = 0;
		if (!c)
			*wr = 0;
	}
}

/*
 * Can insn fault, touch memory, read flags ops.def does not list, or leave
 * the block early? Everything not known to be a plain register operation.
 */
static bool flags_barrier(const struct decode *d, const struct insn *in)
{
	if (in->fn == insn_ud || in->fn == insn_gp0 || d->lock)
		return true;
	if (d->op == OP_LEA || d->op == OP_NOP)
		return false; /* an address, no access */
	if (is_mem_form(d->form))
		return true;
	switch (d->op) {
	case OP_ADD ... OP_NOT:
	case OP_MOV ... OP_XCHG:
	case OP_CMOVO ... OP_SETG:
	case OP_ROL ... OP_SAR:
	case OP_IMUL:
	case OP_BSWAP:
		return false;
	default:
		return true;
	}
}

void block_optimise(struct insn *insn, const struct decode *d, unsigned n)
{
	unsigned fused_at = n; /* none */
	if (n >= 2) {
		unsigned k = n - 2, op = d[n - 1].op;
		if (op >= OP_JO && op <= OP_JG &&
		    insn[n - 1].fn == branch_jcc_handler(op - OP_JO) &&
		    (d[k].op == OP_CMP || d[k].op == OP_TEST) && !d[k].lock &&
		    insn[k].fn != insn_ud && insn[k].fn != insn_gp0) {
			insn_fn f =
			    fused_fns[d[k].op == OP_TEST][d[k].form][d[k].osize][op - OP_JO];
			if (f) {
				insn[k].fn = f;
				fused_at = k;
			}
		}
	}
	/*
	 * Backwards from the block's end, where every flag is live. The Jcc of
	 * a fused pair is a barrier, so the fused CMP/TEST is never rewritten.
	 */
	uint32_t live = FLAGS_ARITH;
	for (unsigned k = n; k-- > 0;) {
		uint32_t rd, wr;
		bool fused = k == fused_at;
		flags_rw(&d[k], &insn[k], &rd, &wr);
		if (insn[k].fn != insn_ud && insn[k].fn != insn_gp0 && !fused) {
			bool dead = wr && !(wr & live);
			insn_fn f = memform_select(&d[k], &insn[k], !dead);
			if (!f && dead)
				f = noflags_select(&d[k]);
			if (f)
				insn[k].fn = f;
		}
		live = flags_barrier(&d[k], &insn[k]) ? FLAGS_ARITH : rd | (live & ~wr);
	}
	fuse_pairs(insn, d, n);
}
