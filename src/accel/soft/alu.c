/*
 * Integer ALU instructions (SDM vol. 2: ADD, OR, ADC, SBB, AND, SUB, XOR,
 * CMP, TEST, INC, DEC, NEG, NOT), every operand size, register, memory and
 * immediate forms, and their LOCK forms (vol. 3, 8.1.2.2).
 *
 * This file is the pattern for a family: one always-inline function does
 * the operation for a size that is a compile-time constant (alu2, alu1),
 * macros stamp out a handler per (operation, form, size), tables collect
 * them, and alu_select picks one at decode time. Flags are lazy (flags.h).
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

/* The binary operations in opcode order: ops.def lists OP_ADD..OP_TEST the same way. */
enum { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP, A_TEST, A_COUNT };
_Static_assert(OP_TEST - OP_ADD == A_TEST && OP_OR - OP_ADD == A_OR, "ops.def order");

/* Does operation k write its destination? (CMP and TEST only set flags.) */
#define WRITES(k) ((k) != A_CMP && (k) != A_TEST)

static inline __attribute__((always_inline)) uint64_t alu2(struct cpu *cpu, unsigned k, unsigned sz,
                                                           uint64_t a, uint64_t b)
{
	uint64_t m = size_mask(sz), r;
	unsigned c;
	b &= m;
	switch (k) {
	case A_ADD:
		r = (a + b) & m;
		lf_set(cpu, LF_ADD, sz, r, a, b);
		break;
	case A_ADC:
		c = lf_cf(cpu);
		r = (a + b + c) & m;
		lf_set_c(cpu, LF_ADC, sz, r, a, b, c);
		break;
	case A_SUB:
	case A_CMP:
		r = (a - b) & m;
		lf_set(cpu, LF_SUB, sz, r, a, b);
		break;
	case A_SBB:
		c = lf_cf(cpu);
		r = (a - b - c) & m;
		lf_set_c(cpu, LF_SBB, sz, r, a, b, c);
		break;
	case A_OR:
		r = a | b;
		lf_set(cpu, LF_LOGIC, sz, r, a, b);
		break;
	case A_XOR:
		r = a ^ b;
		lf_set(cpu, LF_LOGIC, sz, r, a, b);
		break;
	default: /* A_AND, A_TEST */
		r = a & b;
		lf_set(cpu, LF_LOGIC, sz, r, a, b);
		break;
	}
	return r;
}

/* ---- host atomics for the LOCK forms, on an aligned host pointer ---- */

#define ATOMIC_SZ(sz, p, expr_fn, v)                                                               \
	((sz) == SZ8    ? (uint64_t)expr_fn((uint8_t *)(p), (uint8_t)(v), __ATOMIC_SEQ_CST)        \
	 : (sz) == SZ16 ? (uint64_t)expr_fn((uint16_t *)(p), (uint16_t)(v), __ATOMIC_SEQ_CST)      \
	 : (sz) == SZ32 ? (uint64_t)expr_fn((uint32_t *)(p), (uint32_t)(v), __ATOMIC_SEQ_CST)      \
	                : (uint64_t)expr_fn((uint64_t *)(p), (uint64_t)(v), __ATOMIC_SEQ_CST))

/* Compare-and-swap of an sz-sized value; *old is updated on failure. */
static inline __attribute__((always_inline)) bool atomic_cas(void *p, unsigned sz, uint64_t *old,
                                                             uint64_t nv)
{
	switch (sz) {
	case SZ8: {
		uint8_t o = (uint8_t)*old;
		bool ok = __atomic_compare_exchange_n((uint8_t *)p, &o, (uint8_t)nv, false,
		                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case SZ16: {
		uint16_t o = (uint16_t)*old;
		bool ok = __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)nv, false,
		                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case SZ32: {
		uint32_t o = (uint32_t)*old;
		bool ok = __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)nv, false,
		                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)p, old, nv, false, __ATOMIC_SEQ_CST,
		                                   __ATOMIC_SEQ_CST);
	}
}

static inline uint64_t atomic_load_sz(const void *p, unsigned sz)
{
	switch (sz) {
	case SZ8:
		return __atomic_load_n((const uint8_t *)p, __ATOMIC_SEQ_CST);
	case SZ16:
		return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
	case SZ32:
		return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
	default:
		return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
	}
}

/* LOCK <op> [mem], b: one host atomic, then the flags from the old value. */
static inline __attribute__((always_inline)) void alu2_locked(struct cpu *cpu, const struct insn *i,
                                                              unsigned k, unsigned sz, uint64_t b)
{
	uint64_t a = insn_ea(cpu, i), m = size_mask(sz), old;
	void *p = mem_lock_ptr(cpu, i, a, 1u << sz);
	if (!p) {
		mem_write(cpu, i, a, sz, alu2(cpu, k, sz, mem_rmw_read(cpu, i, a, sz), b));
		return;
	}
	switch (k) {
	case A_ADD:
		old = ATOMIC_SZ(sz, p, __atomic_fetch_add, b);
		break;
	case A_SUB:
		old = ATOMIC_SZ(sz, p, __atomic_fetch_sub, b);
		break;
	case A_AND:
		old = ATOMIC_SZ(sz, p, __atomic_fetch_and, b);
		break;
	case A_OR:
		old = ATOMIC_SZ(sz, p, __atomic_fetch_or, b);
		break;
	case A_XOR:
		old = ATOMIC_SZ(sz, p, __atomic_fetch_xor, b);
		break;
	default: { /* ADC, SBB: the carry makes it a CAS loop */
		unsigned c = lf_cf(cpu);
		old = atomic_load_sz(p, sz);
		while (!atomic_cas(p, sz, &old,
		                   k == A_ADC ? (old + (b & m) + c) & m : (old - (b & m) - c) & m))
			;
	}
	}
	alu2(cpu, k, sz, old, b); /* recomputes the stored result, for the flags */
}

/* ---- binary handlers: RR, RM, MR, RI, MI (+ LOCK MR, MI) per size ---- */

#define ALU2_SZ(k, name, sz)                                                                       \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		uint64_t r =                                                                       \
		    alu2(cpu, k, sz, reg_get(cpu, sz, i->reg), reg_get(cpu, sz, i->base));         \
		if (WRITES(k))                                                                     \
			reg_set(cpu, sz, i->reg, r);                                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm_##sz)                                                                    \
	{                                                                                          \
		uint64_t b = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		uint64_t r = alu2(cpu, k, sz, reg_get(cpu, sz, i->reg), b);                        \
		if (WRITES(k))                                                                     \
			reg_set(cpu, sz, i->reg, r);                                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mr_##sz)                                                                    \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i);                                                      \
		uint64_t v = WRITES(k) ? mem_rmw_read(cpu, i, a, sz) : mem_read(cpu, i, a, sz);    \
		uint64_t r = alu2(cpu, k, sz, v, reg_get(cpu, sz, i->reg));                        \
		if (WRITES(k))                                                                     \
			mem_write(cpu, i, a, sz, r);                                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_ri_##sz)                                                                    \
	{                                                                                          \
		uint64_t r = alu2(cpu, k, sz, reg_get(cpu, sz, i->reg), i->imm);                   \
		if (WRITES(k))                                                                     \
			reg_set(cpu, sz, i->reg, r);                                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mi_##sz)                                                                    \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i);                                                      \
		uint64_t v = WRITES(k) ? mem_rmw_read(cpu, i, a, sz) : mem_read(cpu, i, a, sz);    \
		uint64_t r = alu2(cpu, k, sz, v, i->imm);                                          \
		if (WRITES(k))                                                                     \
			mem_write(cpu, i, a, sz, r);                                               \
		return insn_next(cpu, i);                                                          \
	}

#define ALU2_LOCK_SZ(k, name, sz)                                                                  \
	HANDLER(name##_lmr_##sz)                                                                   \
	{                                                                                          \
		alu2_locked(cpu, i, k, sz, reg_get(cpu, sz, i->reg));                              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_lmi_##sz)                                                                   \
	{                                                                                          \
		alu2_locked(cpu, i, k, sz, i->imm);                                                \
		return insn_next(cpu, i);                                                          \
	}

#define EACH_SZ(M, k, name) M(k, name, SZ8) M(k, name, SZ16) M(k, name, SZ32) M(k, name, SZ64)
#define ALU2(k, name)       EACH_SZ(ALU2_SZ, k, name)
#define ALU2_LOCK(k, name)  EACH_SZ(ALU2_SZ, k, name) EACH_SZ(ALU2_LOCK_SZ, k, name)

ALU2_LOCK(A_ADD, add)
ALU2_LOCK(A_OR, or)
ALU2_LOCK(A_ADC, adc)
ALU2_LOCK(A_SBB, sbb)
ALU2_LOCK(A_AND, and)
ALU2_LOCK(A_SUB, sub)
ALU2_LOCK(A_XOR, xor)
ALU2(A_CMP, cmp)
ALU2(A_TEST, test)

#define FNS(name, f)                                                                               \
	{                                                                                          \
		name##_##f##_SZ8, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64          \
	}
#define ALU2_ROW(name)                                                                             \
	{                                                                                          \
		[FORM_RR] = FNS(name, rr), [FORM_RM] = FNS(name, rm), [FORM_MR] = FNS(name, mr),   \
		[FORM_RI] = FNS(name, ri), [FORM_MI] = FNS(name, mi)                               \
	}

static const insn_fn alu2_fns[A_COUNT][FORM_COUNT][4] = {
    ALU2_ROW(add), ALU2_ROW(or),  ALU2_ROW(adc), ALU2_ROW(sbb),  ALU2_ROW(and),
    ALU2_ROW(sub), ALU2_ROW(xor), ALU2_ROW(cmp), ALU2_ROW(test),
};

static const insn_fn alu2_lock_fns[A_COUNT][2][4] = {
    {FNS(add, lmr), FNS(add, lmi)}, {FNS(or, lmr), FNS(or, lmi)},   {FNS(adc, lmr), FNS(adc, lmi)},
    {FNS(sbb, lmr), FNS(sbb, lmi)}, {FNS(and, lmr), FNS(and, lmi)}, {FNS(sub, lmr), FNS(sub, lmi)},
    {FNS(xor, lmr), FNS(xor, lmi)},
};

/* ---- unary: INC, DEC, NEG, NOT ---- */

enum { U_INC, U_DEC, U_NEG, U_NOT, U_COUNT };
_Static_assert(OP_NOT - OP_INC == U_NOT && OP_NEG - OP_INC == U_NEG, "ops.def order");

static inline __attribute__((always_inline)) uint64_t alu1(struct cpu *cpu, unsigned k, unsigned sz,
                                                           uint64_t a)
{
	uint64_t m = size_mask(sz), r;
	switch (k) {
	case U_INC:
		r = (a + 1) & m;
		lf_set_c(cpu, LF_INC, sz, r, a, 1, lf_cf(cpu));
		break;
	case U_DEC:
		r = (a - 1) & m;
		lf_set_c(cpu, LF_DEC, sz, r, a, 1, lf_cf(cpu));
		break;
	case U_NEG:
		r = (0 - a) & m;
		lf_set(cpu, LF_SUB, sz, r, 0, a);
		break;
	default:
		r = ~a & m;
		break;
	}
	return r;
}

#define ALU1_SZ(k, name, sz)                                                                       \
	HANDLER(name##_r_##sz)                                                                     \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, alu1(cpu, k, sz, reg_get(cpu, sz, i->reg)));              \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_m_##sz)                                                                     \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i);                                                      \
		mem_write(cpu, i, a, sz, alu1(cpu, k, sz, mem_rmw_read(cpu, i, a, sz)));           \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_lm_##sz)                                                                    \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i), old;                                                 \
		void *p = mem_lock_ptr(cpu, i, a, 1u << sz);                                       \
		if (!p) {                                                                          \
			mem_write(cpu, i, a, sz, alu1(cpu, k, sz, mem_rmw_read(cpu, i, a, sz)));   \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		if (k == U_INC)                                                                    \
			old = ATOMIC_SZ(sz, p, __atomic_fetch_add, 1);                             \
		else if (k == U_DEC)                                                               \
			old = ATOMIC_SZ(sz, p, __atomic_fetch_sub, 1);                             \
		else if (k == U_NOT)                                                               \
			old = ATOMIC_SZ(sz, p, __atomic_fetch_xor, size_mask(sz));                 \
		else                                                                               \
			for (old = atomic_load_sz(p, sz);                                          \
			     !atomic_cas(p, sz, &old, (0 - old) & size_mask(sz));)                 \
				;                                                                  \
		alu1(cpu, k, sz, old);                                                             \
		return insn_next(cpu, i);                                                          \
	}

EACH_SZ(ALU1_SZ, U_INC, inc)
EACH_SZ(ALU1_SZ, U_DEC, dec)
EACH_SZ(ALU1_SZ, U_NEG, neg)
EACH_SZ(ALU1_SZ, U_NOT, not )

static const insn_fn alu1_fns[U_COUNT][3][4] = {
    {FNS(inc, r), FNS(inc, m), FNS(inc, lm)},
    {FNS(dec, r), FNS(dec, m), FNS(dec, lm)},
    {FNS(neg, r), FNS(neg, m), FNS(neg, lm)},
    {FNS(not, r), FNS(not, m), FNS(not, lm)},
};

insn_fn alu_select(const struct decode *d)
{
	if (d->op >= OP_INC && d->op <= OP_NOT) {
		unsigned k = d->op - OP_INC;
		if (d->form == FORM_R)
			return alu1_fns[k][0][d->osize];
		return alu1_fns[k][d->lock ? 2 : 1][d->osize];
	}
	unsigned k = d->op - OP_ADD;
	if (d->lock)
		return alu2_lock_fns[k][d->form == FORM_MI][d->osize];
	return alu2_fns[k][d->form][d->osize];
}
