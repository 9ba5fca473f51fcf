/*
 * Atomic read-modify-write instructions (SDM vol. 2: XADD, CMPXCHG,
 * CMPXCHG8B/CMPXCHG16B; vol. 3, 8.1). With LOCK (or always, for the 8B/16B
 * forms, which write back on failure anyway) they run as one host atomic
 * on the guest page; a misaligned or page-crossing operand falls back to a
 * plain read and write, exact for one CPU.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

/* ---- XADD: DEST <- DEST + SRC, SRC <- old DEST; flags of the addition ---- */

static inline __attribute__((always_inline)) uint64_t add_flags(struct cpu *cpu, unsigned sz,
                                                                uint64_t a, uint64_t b)
{
	uint64_t r = (a + b) & size_mask(sz);
	lf_set(cpu, LF_ADD, sz, r, a, b);
	return r;
}

static inline __attribute__((always_inline)) uint64_t fetch_add(void *p, unsigned sz, uint64_t v)
{
	switch (sz) {
	case SZ8:
		return __atomic_fetch_add((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST);
	case SZ16:
		return __atomic_fetch_add((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST);
	case SZ32:
		return __atomic_fetch_add((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
	default:
		return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_SEQ_CST);
	}
}

/* CAS of an sz-sized value: returns the old value (== expected when it swapped). */
static inline __attribute__((always_inline)) uint64_t cas(void *p, unsigned sz, uint64_t expected,
                                                          uint64_t desired)
{
	switch (sz) {
	case SZ8:
		return __sync_val_compare_and_swap((uint8_t *)p, (uint8_t)expected,
		                                   (uint8_t)desired);
	case SZ16:
		return __sync_val_compare_and_swap((uint16_t *)p, (uint16_t)expected,
		                                   (uint16_t)desired);
	case SZ32:
		return __sync_val_compare_and_swap((uint32_t *)p, (uint32_t)expected,
		                                   (uint32_t)desired);
	default:
		return __sync_val_compare_and_swap((uint64_t *)p, expected, desired);
	}
}

#define XADD_SZ(sz)                                                                                \
	HANDLER(xadd_rr_##sz)                                                                      \
	{                                                                                          \
		uint64_t a = reg_get(cpu, sz, i->reg), b = reg_get(cpu, sz, i->base);              \
		reg_set(cpu, sz, i->base, a);                                                      \
		reg_set(cpu, sz, i->reg, add_flags(cpu, sz, a, b));                                \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(xadd_mr_##sz)                                                                      \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i), b = reg_get(cpu, sz, i->reg);                       \
		uint64_t a = mem_rmw_read(cpu, i, ea, sz);                                         \
		mem_write(cpu, i, ea, sz, add_flags(cpu, sz, a, b));                               \
		reg_set(cpu, sz, i->reg, a);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(xadd_lmr_##sz)                                                                     \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i), b = reg_get(cpu, sz, i->reg), a;                    \
		void *p = mem_lock_ptr(cpu, i, ea, 1u << sz);                                      \
		if (p) {                                                                           \
			a = fetch_add(p, sz, b);                                                   \
			add_flags(cpu, sz, a, b);                                                  \
		} else {                                                                           \
			a = mem_rmw_read(cpu, i, ea, sz);                                          \
			mem_write(cpu, i, ea, sz, add_flags(cpu, sz, a, b));                       \
		}                                                                                  \
		reg_set(cpu, sz, i->reg, a);                                                       \
		return insn_next(cpu, i);                                                          \
	}

/*
 * CMPXCHG: compare the accumulator with DEST (flags of CMP acc, DEST); equal:
 * DEST <- SRC; else the accumulator <- DEST. A memory DEST is written back
 * with its own value on failure (vol. 2, CMPXCHG "Operation"); a register
 * DEST is left alone (a 32-bit one keeps its upper half, as on the host).
 */
#define CMPXCHG_SZ(sz)                                                                             \
	HANDLER(cmpxchg_rr_##sz)                                                                   \
	{                                                                                          \
		uint64_t acc = reg_get(cpu, sz, R_RAX), dst = reg_get(cpu, sz, i->reg);            \
		lf_set(cpu, LF_SUB, sz, (acc - dst) & size_mask(sz), acc, dst);                    \
		if (acc == dst) {                                                                  \
			reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->base));                       \
		} else {                                                                           \
			reg_set(cpu, sz, R_RAX, dst);                                              \
		}                                                                                  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(cmpxchg_mr_##sz)                                                                   \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i), acc = reg_get(cpu, sz, R_RAX), dst;                 \
		void *p = mem_lock_ptr(cpu, i, ea, 1u << sz);                                      \
		if (p) {                                                                           \
			dst = cas(p, sz, acc, reg_get(cpu, sz, i->reg));                           \
		} else {                                                                           \
			dst = mem_rmw_read(cpu, i, ea, sz);                                        \
			mem_write(cpu, i, ea, sz, dst == acc ? reg_get(cpu, sz, i->reg) : dst);    \
		}                                                                                  \
		lf_set(cpu, LF_SUB, sz, (acc - dst) & size_mask(sz), acc, dst);                    \
		if (acc != dst)                                                                    \
			reg_set(cpu, sz, R_RAX, dst);                                              \
		return insn_next(cpu, i);                                                          \
	}

XADD_SZ(SZ8)
XADD_SZ(SZ16)
XADD_SZ(SZ32)
XADD_SZ(SZ64)
CMPXCHG_SZ(SZ8)
CMPXCHG_SZ(SZ16)
CMPXCHG_SZ(SZ32)
CMPXCHG_SZ(SZ64)

/* ---- CMPXCHG8B / CMPXCHG16B: EDX:EAX (RDX:RAX) against m64 (m128) ---- */

static void set_zf(struct cpu *cpu, bool zf)
{
	lf_materialise(cpu);
	cpu->rflags = zf ? cpu->rflags | FLAG_ZF : cpu->rflags & ~(uint64_t)FLAG_ZF;
}

HANDLER(cmpxchg8b)
{
	uint64_t ea = insn_ea(cpu, i);
	uint64_t expect = (uint32_t)cpu->gpr[R_RAX] | (uint64_t)(uint32_t)cpu->gpr[R_RDX] << 32;
	uint64_t desired = (uint32_t)cpu->gpr[R_RBX] | (uint64_t)(uint32_t)cpu->gpr[R_RCX] << 32;
	uint64_t old;
	void *p = mem_lock_ptr(cpu, i, ea, 8);
	if (p) {
		old = cas(p, SZ64, expect, desired);
	} else {
		old = mem_rmw_read64(cpu, i, ea);
		mem_write64(cpu, i, ea, old == expect ? desired : old);
	}
	set_zf(cpu, old == expect);
	if (old != expect) {
		cpu->gpr[R_RAX] = (uint32_t)old;
		cpu->gpr[R_RDX] = old >> 32;
	}
	return insn_next(cpu, i);
}

static bool cas128(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
	bool ok;
	__asm__ volatile("lock cmpxchg16b %1"
	                 : "=@ccz"(ok), "+m"(*(__int128 *)p), "+a"(*lo), "+d"(*hi)
	                 : "b"(nlo), "c"(nhi)
	                 : "memory");
	return ok;
}

HANDLER(cmpxchg16b)
{
	uint64_t ea = insn_ea(cpu, i);
	if (ea & 15)
		insn_raise(cpu, i, EXC_GP, 0, true);
	uint64_t lo = cpu->gpr[R_RAX], hi = cpu->gpr[R_RDX];
	bool ok;
	void *p = mem_lock_ptr(cpu, i, ea, 16);
	if (p) {
		ok = cas128(p, &lo, &hi, cpu->gpr[R_RBX], cpu->gpr[R_RCX]);
	} else {
		uint64_t old[2];
		mem_read_bytes(cpu, i, ea, old, 16);
		ok = old[0] == lo && old[1] == hi;
		uint64_t nv[2] = {cpu->gpr[R_RBX], cpu->gpr[R_RCX]};
		mem_write_bytes(cpu, i, ea, ok ? nv : old, 16);
		lo = old[0];
		hi = old[1];
	}
	set_zf(cpu, ok);
	if (!ok) {
		cpu->gpr[R_RAX] = lo;
		cpu->gpr[R_RDX] = hi;
	}
	return insn_next(cpu, i);
}

#define FNS(name, f)                                                                               \
	{                                                                                          \
		name##_##f##_SZ8, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64          \
	}

insn_fn atomic_select(const struct decode *d)
{
	static const insn_fn xadd[3][4] = {FNS(xadd, rr), FNS(xadd, mr), FNS(xadd, lmr)};
	static const insn_fn cmpxchg[2][4] = {FNS(cmpxchg, rr), FNS(cmpxchg, mr)};
	switch (d->op) {
	case OP_XADD:
		return xadd[d->form == FORM_RR ? 0 : d->lock ? 2 : 1][d->osize];
	case OP_CMPXCHG:
		return cmpxchg[d->form != FORM_RR][d->osize];
	case OP_CMPXCHG8B:
		return d->osize == SZ64 ? cmpxchg16b : cmpxchg8b;
	default:
		return NULL;
	}
}
