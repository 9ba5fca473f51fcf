/*
 * What the string instruction files (string.c, string_cmp.c) share: SDM
 * vol. 1, 7.3.9 "String Operations"; vol. 2, "REP/REPE/REPZ/REPNE/REPNZ",
 * MOVS, STOS, LODS, SCAS, CMPS; AMD APM vol. 3, 1.2.6 "Repeat Prefixes".
 *
 * Fields the select functions set in struct insn:
 *   seg    bits 0-2: the source segment (seg_ea index): DS or the override,
 *          S_NONE in 64-bit mode unless FS/GS
 *   index  the destination segment: S_ES (no override), S_NONE in 64-bit mode
 * The operand size and the address size (the width of RCX, RSI and RDI)
 * are constants of each handler.
 *
 * A REP instruction checks the count before every element and updates
 * RCX/RSI/RDI after every element, so a fault leaves them at the element
 * that faulted, with RIP at the instruction: running it again resumes
 * where it stopped (vol. 2, "REP/REPE/REPZ/REPNE/REPNZ", on interrupts and
 * exceptions during repeated string operations).
 * Handlers do this a chunk at a time: the largest run of whole elements
 * that stays in the current source and destination pages, does not wrap
 * an offset at the address size and is within RCX. Each page of a chunk
 * is translated through the TLB (a fault there is the fault of the
 * chunk's first element, whose address is the one translated), the
 * elements are moved with host memory operations and the registers
 * committed; an element that crosses a page or wraps takes the
 * one-element path through mem.h. A whole REP counts as one instruction.
 * Between chunks a stop request (system mode: also a pending interrupt,
 * part 2) suspends the instruction the way an interrupt does: the
 * registers show the progress and RIP stays at the instruction.
 */
#ifndef EMBER_ACCEL_SOFT_STRING_IMPL_H
#define EMBER_ACCEL_SOFT_STRING_IMPL_H

#include <stdatomic.h>

#include "accel/soft/mem.h"

/* The address-size mask of RCX/RSI/RDI. */
static inline __attribute__((always_inline)) uint64_t str_amask(unsigned as)
{
	return as == SZ64 ? ~0ULL : as == SZ32 ? 0xffffffffULL : 0xffffULL;
}

static inline __attribute__((always_inline)) uint64_t str_reg(const struct cpu *cpu, unsigned as,
                                                              unsigned r)
{
	return cpu->gpr[r] & str_amask(as);
}

/* A 32-bit update zero-extends (as any 32-bit register write), 16-bit merges. */
static inline __attribute__((always_inline)) void str_set(struct cpu *cpu, unsigned as, unsigned r,
                                                          uint64_t v)
{
	reg_set(cpu, as, r, v);
}

/* Linear addresses of the source (DS or override) and destination (ES) offsets. */
static inline uint64_t str_src(const struct cpu *cpu, const struct insn *i, uint64_t off)
{
	return off + cpu->seg_ea[i->seg & 7].base;
}

static inline uint64_t str_dst(const struct cpu *cpu, const struct insn *i, uint64_t off)
{
	return off + cpu->seg_ea[i->index].base;
}

static inline bool str_df(const struct cpu *cpu)
{
	return (cpu->rflags & FLAG_DF) != 0;
}

/*
 * How many whole elements of 1 << sz bytes, starting with the one at offset
 * off (linear address a) and going up (df = false) or down, stay in a's
 * page and do not wrap the offset at the address size. 0 when that element
 * itself crosses a page or wraps: the caller takes the one-element path.
 */
static inline __attribute__((always_inline)) uint64_t str_room(uint64_t a, uint64_t off,
                                                               unsigned as, unsigned sz, bool df)
{
	unsigned e = 1u << sz, pofs = (unsigned)(a & (SOFT_PAGE_SIZE - 1));
	uint64_t n, mask = str_amask(as);
	if (pofs + e > SOFT_PAGE_SIZE)
		return 0;
	if (!df) {
		n = (SOFT_PAGE_SIZE - pofs) >> sz;
		if (as != SZ64)
			n = MIN(n, (mask - off + 1) >> sz);
	} else {
		n = (pofs >> sz) + 1;
		if (as != SZ64)
			n = off + e - 1 > mask ? 0 : MIN(n, (off >> sz) + 1);
	}
	return n;
}

/*
 * The host address of byte a, translated through the TLB for a read or a
 * write (faults like the first access of an element at a). *fl gets the
 * page's TLB_* bits: TLB_CODE (writes: the caller calls code_written after
 * writing), anything else (MMIO, not-dirty pages of part 2) means the
 * chunk must go element by element through mem.h.
 */
uint8_t *str_host_slow(struct cpu *cpu, const struct insn *i, uint64_t a, bool write, unsigned *fl);

static inline __attribute__((always_inline)) uint8_t *
str_host(struct cpu *cpu, const struct insn *i, uint64_t a, bool write, unsigned *fl)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a);
	if (likely((write ? e->tag_write : e->tag_read) == (a & SOFT_PAGE_MASK))) {
		*fl = 0;
		return (uint8_t *)(uintptr_t)((intptr_t)a + e->addend);
	}
	return str_host_slow(cpu, i, a, write, fl);
}

/*
 * Should a long REP stop between chunks? The stop request and the
 * interrupt-request word the run loop polls (cpu.c), so an interrupt is not
 * held up by a long copy (the instruction resumes after it).
 */
static inline bool str_yield(struct cpu *cpu)
{
	return atomic_load_explicit(&cpu->stop_request, memory_order_relaxed) ||
	       atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed);
}

/*
 * Suspends REP instruction i after a chunk: RIP = i, i and the rest of the
 * block not retired (exactly what insn_stale does for a dropped block), back
 * to the run loop, which sees the request.
 */
static inline const struct insn *str_suspend(struct cpu *cpu, const struct insn *i)
{
	return insn_stale(cpu, i);
}

/* A host element load. */
static inline __attribute__((always_inline)) uint64_t str_ld(const uint8_t *p, unsigned sz)
{
	uint8_t b;
	uint16_t w;
	uint32_t d;
	uint64_t q;
	switch (sz) {
	case SZ8:
		memcpy(&b, p, 1);
		return b;
	case SZ16:
		memcpy(&w, p, 2);
		return w;
	case SZ32:
		memcpy(&d, p, 4);
		return d;
	default:
		memcpy(&q, p, 8);
		return q;
	}
}

#endif
