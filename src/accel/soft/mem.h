/*
 * Guest memory access for instruction handlers: the soft-TLB fast path
 * (docs/softcpu.md, "The TLB").
 *
 * An entry maps one guest-virtual page: tag_read/tag_write/tag_fetch hold
 * the page address when that access is allowed (page-aligned, so the low
 * bits are free for TLB_* flags that force the slow path) and
 * host = vaddr + addend. The entry is chosen by the page of the access's
 * LAST byte and its tag compared with the page of the FIRST byte, so one
 * compare checks the permission, the page and that the access does not
 * cross into the next page. Everything else (misses, page-crossing
 * accesses, TLB_CODE writes, faults) is mem.c's slow path.
 *
 * Handlers pass their struct insn so a fault knows which instruction
 * raised it. Read-modify-write instructions read with mem_rmw_read*
 * (checked for write access first, as the hardware's locked cycles are)
 * and then write.
 */
#ifndef EMBER_ACCEL_SOFT_MEM_H
#define EMBER_ACCEL_SOFT_MEM_H

#include <stdint.h>
#include <string.h>

#include "accel/soft/insn.h"

#define TLB_TAG_EMPTY  (~0ULL)
#define TLB_FLAGS_MASK 0xfffULL

static inline bool mem_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* The page an entry maps, or TLB_TAG_EMPTY. */
static inline uint64_t tlb_entry_page(const struct cpu_tlb_entry *e)
{
	uint64_t t = e->tag_read != TLB_TAG_EMPTY    ? e->tag_read
	             : e->tag_write != TLB_TAG_EMPTY ? e->tag_write
	                                             : e->tag_fetch;
	return t == TLB_TAG_EMPTY ? t : t & ~TLB_FLAGS_MASK;
}

static inline void tlb_entry_clear(struct cpu_tlb_entry *e)
{
	e->tag_read = e->tag_write = e->tag_fetch = TLB_TAG_EMPTY;
}

static inline struct cpu_tlb_entry *tlb_entry_for(struct cpu *cpu, uint64_t last)
{
	return &cpu->tlb[(last >> 12) & (CPU_TLB_SIZE - 1)];
}

/* Slow paths (mem.c): they fill the TLB, split page-crossing accesses, raise faults. */
#define MEM_STACK 0x100u /* an SS access: a non-canonical address raises #SS, not #GP */
uint64_t mem_read_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                       unsigned access);
void mem_write_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len, uint64_t v,
                    unsigned access);
/* Any length up to a page; a write is checked on every page before any byte lands. */
void mem_read_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, void *dst, size_t len);
void mem_write_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, const void *src,
                     size_t len);
void *mem_lock_ptr_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len);
/* Raises the fault a write of len bytes at a would raise, without writing. */
void mem_probe_write(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                     unsigned access);
/*
 * The same for any access (CPU_ACCESS_*, MEM_STACK): translates and fills
 * the TLB without touching memory, so probing an MMIO page has no effect
 * on the device.
 */
void mem_probe(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len, unsigned access);

/* ---- fast paths, one per size (sz = SZ8..SZ64 variants for generic handlers) ---- */

#define MEM_ACCESSORS(BITS)                                                                        \
	static inline uint##BITS##_t mem_read##BITS(struct cpu *cpu, const struct insn *i,         \
	                                            uint64_t a)                                    \
	{                                                                                          \
		const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + (BITS / 8 - 1));            \
		if (likely(e->tag_read == (a & SOFT_PAGE_MASK))) {                                 \
			uint##BITS##_t v;                                                          \
			memcpy(&v, (const void *)(uintptr_t)((intptr_t)a + e->addend), sizeof(v)); \
			return v;                                                                  \
		}                                                                                  \
		return (uint##BITS##_t)mem_read_slow(cpu, i, a, BITS / 8, CPU_ACCESS_READ);        \
	}                                                                                          \
	static inline uint##BITS##_t mem_rmw_read##BITS(struct cpu *cpu, const struct insn *i,     \
	                                                uint64_t a)                                \
	{                                                                                          \
		const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + (BITS / 8 - 1));            \
		if (likely(e->tag_write == (a & SOFT_PAGE_MASK))) {                                \
			uint##BITS##_t v;                                                          \
			memcpy(&v, (const void *)(uintptr_t)((intptr_t)a + e->addend), sizeof(v)); \
			return v;                                                                  \
		}                                                                                  \
		return (uint##BITS##_t)mem_read_slow(cpu, i, a, BITS / 8,                          \
		                                     CPU_ACCESS_READ | CPU_ACCESS_WRITE);          \
	}                                                                                          \
	static inline void mem_write##BITS(struct cpu *cpu, const struct insn *i, uint64_t a,      \
	                                   uint##BITS##_t v)                                       \
	{                                                                                          \
		const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + (BITS / 8 - 1));            \
		if (likely(e->tag_write == (a & SOFT_PAGE_MASK))) {                                \
			memcpy((void *)(uintptr_t)((intptr_t)a + e->addend), &v, sizeof(v));       \
			return;                                                                    \
		}                                                                                  \
		mem_write_slow(cpu, i, a, BITS / 8, v, CPU_ACCESS_WRITE);                          \
	}

MEM_ACCESSORS(8)
MEM_ACCESSORS(16)
MEM_ACCESSORS(32)
MEM_ACCESSORS(64)

static inline __attribute__((always_inline)) uint64_t
mem_read(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned sz)
{
	switch (sz) {
	case SZ8:
		return mem_read8(cpu, i, a);
	case SZ16:
		return mem_read16(cpu, i, a);
	case SZ32:
		return mem_read32(cpu, i, a);
	default:
		return mem_read64(cpu, i, a);
	}
}

static inline __attribute__((always_inline)) uint64_t
mem_rmw_read(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned sz)
{
	switch (sz) {
	case SZ8:
		return mem_rmw_read8(cpu, i, a);
	case SZ16:
		return mem_rmw_read16(cpu, i, a);
	case SZ32:
		return mem_rmw_read32(cpu, i, a);
	default:
		return mem_rmw_read64(cpu, i, a);
	}
}

static inline __attribute__((always_inline)) void mem_write(struct cpu *cpu, const struct insn *i,
                                                            uint64_t a, unsigned sz, uint64_t v)
{
	switch (sz) {
	case SZ8:
		mem_write8(cpu, i, a, (uint8_t)v);
		break;
	case SZ16:
		mem_write16(cpu, i, a, (uint16_t)v);
		break;
	case SZ32:
		mem_write32(cpu, i, a, (uint32_t)v);
		break;
	default:
		mem_write64(cpu, i, a, v);
	}
}

/* 128-bit (SSE) accesses; alignment checks (#GP for MOVAPS & co.) are the caller's. */
static inline void mem_read128(struct cpu *cpu, const struct insn *i, uint64_t a, void *dst)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + 15);
	if (likely(e->tag_read == (a & SOFT_PAGE_MASK)))
		memcpy(dst, (const void *)(uintptr_t)((intptr_t)a + e->addend), 16);
	else
		mem_read_bytes(cpu, i, a, dst, 16);
}

static inline void mem_write128(struct cpu *cpu, const struct insn *i, uint64_t a, const void *src)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + 15);
	if (likely(e->tag_write == (a & SOFT_PAGE_MASK)))
		memcpy((void *)(uintptr_t)((intptr_t)a + e->addend), src, 16);
	else
		mem_write_bytes(cpu, i, a, src, 16);
}

/*
 * The host address for a LOCKed read-modify-write of len bytes at a, or
 * NULL when it cannot be done with one host atomic (misaligned, crossing
 * a page, a code page): the caller then does mem_rmw_read + mem_write,
 * which is exact for one CPU (a "split lock"). Faults like a write.
 */
static inline void *mem_lock_ptr(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + (len - 1));
	if (likely(e->tag_write == (a & SOFT_PAGE_MASK) && !(a & (len - 1))))
		return (void *)(uintptr_t)((intptr_t)a + e->addend);
	return mem_lock_ptr_slow(cpu, i, a, len);
}

/* ---- the stack (SDM vol. 1, 6.2) ---- */

/* The stack pointer width: 64-bit mode, else SS.B (attr bit 14: D/B). */
static inline unsigned stack_asize(const struct cpu *cpu)
{
	if (cpu->mode == CPU_MODE_LONG64)
		return SZ64;
	return (cpu->seg[S_SS].attr & 0x4000) ? SZ32 : SZ16;
}

static inline uint64_t stack_addr(const struct cpu *cpu, uint64_t sp, unsigned ssz)
{
	if (ssz == SZ64)
		return sp;
	return (ssz == SZ32 ? (uint32_t)sp : (uint16_t)sp) + cpu->seg[S_SS].base;
}

static inline void stack_set_sp(struct cpu *cpu, uint64_t sp, unsigned ssz)
{
	if (ssz == SZ64)
		cpu->gpr[R_RSP] = sp;
	else if (ssz == SZ32)
		cpu->gpr[R_RSP] = (uint32_t)sp;
	else
		cpu->gpr[R_RSP] = (cpu->gpr[R_RSP] & ~0xffffULL) | (uint16_t)sp;
}

/* PUSH of an sz-sized value: the write may fault, RSP changes only after it. */
static inline __attribute__((always_inline)) void stack_push(struct cpu *cpu, const struct insn *i,
                                                             unsigned sz, uint64_t v)
{
	unsigned ssz = stack_asize(cpu);
	uint64_t sp = cpu->gpr[R_RSP] - (1u << sz);
	uint64_t a = stack_addr(cpu, sp, ssz);
	if (sz == SZ64 && ssz == SZ64) {
		const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + 7);
		if (likely(e->tag_write == (a & SOFT_PAGE_MASK)))
			memcpy((void *)(uintptr_t)((intptr_t)a + e->addend), &v, 8);
		else
			mem_write_slow(cpu, i, a, 8, v, CPU_ACCESS_WRITE | MEM_STACK);
	} else {
		mem_write_slow(cpu, i, a, 1u << sz, v, CPU_ACCESS_WRITE | MEM_STACK);
	}
	stack_set_sp(cpu, sp, ssz);
}

/* Reads the value POP would return (RSP unchanged: the caller commits). */
static inline __attribute__((always_inline)) uint64_t
stack_peek(struct cpu *cpu, const struct insn *i, unsigned sz, uint64_t offset)
{
	unsigned ssz = stack_asize(cpu);
	uint64_t a = stack_addr(cpu, cpu->gpr[R_RSP] + offset, ssz);
	if (sz == SZ64 && ssz == SZ64) {
		const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a + 7);
		if (likely(e->tag_read == (a & SOFT_PAGE_MASK))) {
			uint64_t v;
			memcpy(&v, (const void *)(uintptr_t)((intptr_t)a + e->addend), 8);
			return v;
		}
	}
	return mem_read_slow(cpu, i, a, 1u << sz, CPU_ACCESS_READ | MEM_STACK);
}

/*
 * 64-bit mode with a 64-bit operand (handlers chosen at decode time for it):
 * the stack address is RSP itself, no SS base and no wrap. The host
 * address of the 8 bytes at sp, or NULL when the TLB fast path does not
 * hold it (then the caller tail-calls its generic handler, which faults
 * or takes the slow path: no stack frame on the fast path).
 */
static inline __attribute__((always_inline)) void *stack64_ptr(struct cpu *cpu, uint64_t sp,
                                                               bool write)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, sp + 7);
	if (likely((write ? e->tag_write : e->tag_read) == (sp & SOFT_PAGE_MASK)))
		return (void *)(uintptr_t)((intptr_t)sp + e->addend);
	return NULL;
}

static inline void stack_adjust(struct cpu *cpu, uint64_t delta)
{
	unsigned ssz = stack_asize(cpu);
	stack_set_sp(cpu, cpu->gpr[R_RSP] + delta, ssz);
}

#endif
