/*
 * Bit operations (SDM vol. 2: "BT", "BTS", "BTR", "BTC", "BSF", "BSR",
 * "LZCNT", "TZCNT", "POPCNT", "BSWAP"; vol. 1, 7.3.7; AMD APM vol. 3 for
 * LZCNT/ABM): every operand size, register and memory forms, LOCK forms of
 * BTS/BTR/BTC.
 *
 * BT* with a register bit offset and a memory operand address beyond the
 * operand: the offset is signed and selects the operand-sized unit at
 * EA + (offset >> log2(width)) * width/8 (vol. 2 "BT", table 3-2 "Bit
 * offset"); the immediate form takes the offset modulo the width.
 *
 * Undefined results follow this AMD host where they are cheap: BT keeps the
 * other flags when they are materialised (else clears them, ZF excepted);
 * BSF/BSR with a zero source leave the destination (all 64 bits) alone and
 * set ZF, and set PF from the destination; BSWAP of a 16-bit register
 * clears it. TZCNT is not advertised (BMI1 needs VEX), so F3 0F BC is BSF,
 * as on a CPU without BMI1.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

#define BITS(sz) (8u << (sz))

/* ---- BT, BTS, BTR, BTC ---- */

enum { B_BT, B_BTS, B_BTR, B_BTC };
_Static_assert(OP_BTC - OP_BT == B_BTC && OP_BTR - OP_BT == B_BTR, "ops.def order");

/* CF = the bit; ZF kept; OF, SF, AF, PF undefined (kept too when RFLAGS is current). */
static inline __attribute__((always_inline)) void bt_flags(struct cpu *cpu, uint64_t cf)
{
	if (cpu->lf.op == LF_NONE) {
		cpu->rflags = (cpu->rflags & ~(uint64_t)FLAG_CF) | cf;
	} else {
		uint64_t zf = cpu->lf.res == 0 ? FLAG_ZF : 0;
		cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | zf | cf;
		cpu->lf.op = LF_NONE;
	}
}

/* The new value of the operand for operation k on bit n (a constant mask for BT). */
static inline __attribute__((always_inline)) uint64_t bt_apply(unsigned k, uint64_t v, uint64_t bit)
{
	switch (k) {
	case B_BTS:
		return v | bit;
	case B_BTR:
		return v & ~bit;
	case B_BTC:
		return v ^ bit;
	default:
		return v;
	}
}

/* The address of the unit holding bit `off` (signed) of the bit string at the memory operand. */
static inline __attribute__((always_inline)) uint64_t
bt_addr(const struct cpu *cpu, const struct insn *i, unsigned sz, int64_t off)
{
	uint64_t a = cpu->ea_reg[i->base] + (cpu->ea_reg[i->index] << i->scale) + i->disp +
	             ((uint64_t)(off >> (3 + sz)) << sz);
	if (unlikely(i->seg & (INSN_A32 | INSN_A16)))
		a = (i->seg & INSN_A32) ? (uint32_t)a : (uint16_t)a;
	return a + cpu->seg_ea[i->seg & 7].base;
}

/* Memory forms; bit is the mask within the unit at a. */
static inline __attribute__((always_inline)) void
bt_mem(struct cpu *cpu, const struct insn *i, unsigned k, unsigned sz, uint64_t a, uint64_t bit)
{
	uint64_t v;
	if (k == B_BT) {
		v = mem_read(cpu, i, a, sz);
	} else {
		v = mem_rmw_read(cpu, i, a, sz);
		mem_write(cpu, i, a, sz, bt_apply(k, v, bit));
	}
	bt_flags(cpu, (v & bit) != 0);
}

#define ATOMIC_SZ(sz, p, fn, v)                                                                    \
	((sz) == SZ16   ? (uint64_t)fn((uint16_t *)(p), (uint16_t)(v), __ATOMIC_SEQ_CST)           \
	 : (sz) == SZ32 ? (uint64_t)fn((uint32_t *)(p), (uint32_t)(v), __ATOMIC_SEQ_CST)           \
	                : (uint64_t)fn((uint64_t *)(p), (uint64_t)(v), __ATOMIC_SEQ_CST))

/* LOCK BTS/BTR/BTC: one host atomic when the unit is aligned and on one page. */
static inline __attribute__((always_inline)) void
bt_locked(struct cpu *cpu, const struct insn *i, unsigned k, unsigned sz, uint64_t a, uint64_t bit)
{
	void *p = mem_lock_ptr(cpu, i, a, 1u << sz);
	uint64_t old;
	if (!p) {
		bt_mem(cpu, i, k, sz, a, bit);
		return;
	}
	if (k == B_BTS)
		old = ATOMIC_SZ(sz, p, __atomic_fetch_or, bit);
	else if (k == B_BTR)
		old = ATOMIC_SZ(sz, p, __atomic_fetch_and, ~bit);
	else
		old = ATOMIC_SZ(sz, p, __atomic_fetch_xor, bit);
	bt_flags(cpu, (old & bit) != 0);
}

/*
 * Forms: rr (reg = operand, base = offset register), mr (memory operand,
 * reg = offset register), ri / mi (imm8 offset), lmr / lmi (LOCK).
 */
#define BT_SZ(k, name, sz)                                                                         \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		uint64_t v = reg_get(cpu, sz, i->reg);                                             \
		uint64_t bit = 1ULL << (reg_get(cpu, sz, i->base) & (BITS(sz) - 1));               \
		if (k != B_BT)                                                                     \
			reg_set(cpu, sz, i->reg, bt_apply(k, v, bit));                             \
		bt_flags(cpu, (v & bit) != 0);                                                     \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_ri_##sz)                                                                    \
	{                                                                                          \
		uint64_t v = reg_get(cpu, sz, i->reg), bit = 1ULL << (i->imm & (BITS(sz) - 1));    \
		if (k != B_BT)                                                                     \
			reg_set(cpu, sz, i->reg, bt_apply(k, v, bit));                             \
		bt_flags(cpu, (v & bit) != 0);                                                     \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mr_##sz)                                                                    \
	{                                                                                          \
		int64_t off = size_sext(reg_get(cpu, sz, i->reg), sz);                             \
		bt_mem(cpu, i, k, sz, bt_addr(cpu, i, sz, off), 1ULL << (off & (BITS(sz) - 1)));   \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mi_##sz)                                                                    \
	{                                                                                          \
		bt_mem(cpu, i, k, sz, insn_ea(cpu, i), 1ULL << (i->imm & (BITS(sz) - 1)));         \
		return insn_next(cpu, i);                                                          \
	}
#define BT_LOCK_SZ(k, name, sz)                                                                    \
	HANDLER(name##_lmr_##sz)                                                                   \
	{                                                                                          \
		int64_t off = size_sext(reg_get(cpu, sz, i->reg), sz);                             \
		bt_locked(cpu, i, k, sz, bt_addr(cpu, i, sz, off),                                 \
		          1ULL << (off & (BITS(sz) - 1)));                                         \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_lmi_##sz)                                                                   \
	{                                                                                          \
		bt_locked(cpu, i, k, sz, insn_ea(cpu, i), 1ULL << (i->imm & (BITS(sz) - 1)));      \
		return insn_next(cpu, i);                                                          \
	}

#define EACH_SZ3(M, k, name) M(k, name, SZ16) M(k, name, SZ32) M(k, name, SZ64)
EACH_SZ3(BT_SZ, B_BT, bt)
EACH_SZ3(BT_SZ, B_BTS, bts)
EACH_SZ3(BT_SZ, B_BTR, btr)
EACH_SZ3(BT_SZ, B_BTC, btc)
EACH_SZ3(BT_LOCK_SZ, B_BTS, bts)
EACH_SZ3(BT_LOCK_SZ, B_BTR, btr)
EACH_SZ3(BT_LOCK_SZ, B_BTC, btc)

#define FNS3(name, f)                                                                              \
	{                                                                                          \
		NULL, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64                      \
	}
#define BT_ROW(name)                                                                               \
	{                                                                                          \
		FNS3(name, rr), FNS3(name, ri), FNS3(name, mr), FNS3(name, mi)                     \
	}
/* [op][rr, ri, mr, mi][size] */
static const insn_fn bt_fns[4][4][4] = {BT_ROW(bt), BT_ROW(bts), BT_ROW(btr), BT_ROW(btc)};
/* [op - BTS][lmr, lmi][size] */
static const insn_fn bt_lock_fns[3][2][4] = {
    {FNS3(bts, lmr), FNS3(bts, lmi)},
    {FNS3(btr, lmr), FNS3(btr, lmi)},
    {FNS3(btc, lmr), FNS3(btc, lmi)},
};

/* ---- BSF, BSR, LZCNT, POPCNT: destination G, source r/m ---- */

enum { S_BSF, S_BSR, S_LZCNT, S_POPCNT };

/* Sets all six flags at once: the old ones need not be evaluated. */
static inline __attribute__((always_inline)) void set_flags(struct cpu *cpu, uint64_t f)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | f;
	cpu->lf.op = LF_NONE;
}

static inline __attribute__((always_inline)) uint64_t parity_flag(uint64_t v)
{
	return __builtin_parity((unsigned)(v & 0xff)) ? 0 : FLAG_PF;
}

static inline __attribute__((always_inline)) void scan(struct cpu *cpu, const struct insn *i,
                                                       unsigned k, unsigned sz, uint64_t v)
{
	const unsigned w = BITS(sz);
	uint64_t r;
	switch (k) {
	case S_BSF:
	case S_BSR:
		if (!v) { /* destination unchanged (AMD; Linux relies on it) */
			set_flags(cpu, FLAG_ZF | parity_flag(reg_get(cpu, sz, i->reg)));
			return;
		}
		r = k == S_BSF ? (unsigned)__builtin_ctzll(v) : 63u - (unsigned)__builtin_clzll(v);
		reg_set(cpu, sz, i->reg, r);
		set_flags(cpu, parity_flag(r));
		return;
	case S_LZCNT:
		r = v ? (unsigned)__builtin_clzll(v) - (64 - w) : w;
		reg_set(cpu, sz, i->reg, r);
		set_flags(cpu, (v ? 0 : FLAG_CF) | (r ? 0 : FLAG_ZF));
		return;
	default: /* S_POPCNT */
		reg_set(cpu, sz, i->reg, (unsigned)__builtin_popcountll(v));
		set_flags(cpu, v ? 0 : FLAG_ZF);
		return;
	}
}

#define SCAN_SZ(k, name, sz)                                                                       \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		scan(cpu, i, k, sz, reg_get(cpu, sz, i->base));                                    \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm_##sz)                                                                    \
	{                                                                                          \
		scan(cpu, i, k, sz, mem_read(cpu, i, insn_ea(cpu, i), sz));                        \
		return insn_next(cpu, i);                                                          \
	}
EACH_SZ3(SCAN_SZ, S_BSF, bsf)
EACH_SZ3(SCAN_SZ, S_BSR, bsr)
EACH_SZ3(SCAN_SZ, S_LZCNT, lzcnt)
EACH_SZ3(SCAN_SZ, S_POPCNT, popcnt)

static const insn_fn scan_fns[4][2][4] = {
    {FNS3(bsf, rr), FNS3(bsf, rm)},
    {FNS3(bsr, rr), FNS3(bsr, rm)},
    {FNS3(lzcnt, rr), FNS3(lzcnt, rm)},
    {FNS3(popcnt, rr), FNS3(popcnt, rm)},
};

/* ---- BSWAP (a 16-bit operand is undefined: this host clears it) ---- */

HANDLER(bswap_SZ16)
{
	reg_set(cpu, SZ16, i->reg, 0);
	return insn_next(cpu, i);
}
HANDLER(bswap_SZ32)
{
	reg_set(cpu, SZ32, i->reg, __builtin_bswap32((uint32_t)cpu->gpr[i->reg]));
	return insn_next(cpu, i);
}
HANDLER(bswap_SZ64)
{
	cpu->gpr[i->reg] = __builtin_bswap64(cpu->gpr[i->reg]);
	return insn_next(cpu, i);
}

insn_fn bitop_select(const struct decode *d)
{
	unsigned sz = d->osize;
	bool mem = d->form == FORM_MR || d->form == FORM_MI || d->form == FORM_RM;
	bool imm = d->form == FORM_RI || d->form == FORM_MI;

	switch (d->op) {
	case OP_BT:
	case OP_BTS:
	case OP_BTR:
	case OP_BTC:
		if (d->lock)
			return bt_lock_fns[d->op - OP_BTS][imm][sz];
		return bt_fns[d->op - OP_BT][mem * 2 + imm][sz];
	case OP_BSF:
	case OP_TZCNT: /* without BMI1, F3 0F BC is BSF */
		return scan_fns[S_BSF][mem][sz];
	case OP_BSR:
		return scan_fns[S_BSR][mem][sz];
	case OP_LZCNT:
		return scan_fns[S_LZCNT][mem][sz];
	case OP_POPCNT:
		return scan_fns[S_POPCNT][mem][sz];
	case OP_BSWAP:
		return sz == SZ16 ? bswap_SZ16 : sz == SZ32 ? bswap_SZ32 : bswap_SZ64;
	default:
		return NULL;
	}
}
