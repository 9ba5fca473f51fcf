/*
 * The code cache: blocks of pre-decoded instructions (docs/softcpu.md,
 * "Blocks and invalidation").
 *
 * A block is up to BLOCK_MAX instructions decoded from one guest page (its
 * first instruction may run into the next page), ending at a control
 * transfer, an exit, an invalid encoding or the page end. Blocks are keyed
 * by (guest-virtual start, mode) in a hash table fronted by a direct-mapped
 * jump cache, and indexed by the host pages their bytes came from: the
 * host address is the page identity, so a write through any alias of the
 * page finds them. A dropped block that is executing right now has its
 * handlers replaced by insn_stale and is freed once the run loop is back.
 */
#ifndef EMBER_ACCEL_SOFT_CODECACHE_H
#define EMBER_ACCEL_SOFT_CODECACHE_H

#include <stdint.h>

#include "accel/soft/insn.h"

#define BLOCK_MAX 64
#define JC_SIZE   4096

struct block;

/* A block's membership in one host page's list. */
struct block_page {
	struct block_page *next, **pprev;
	struct block *block;
	uintptr_t page;  /* host address of the page */
	uint16_t lo, hi; /* the bytes [lo, hi) of the page the block was decoded from */
};

struct block {
	uint64_t rip;     /* guest-virtual address of the first instruction */
	uint64_t end_rip; /* the address after the last one */
	struct block *hnext;
	struct block_page pages[2];
	uint32_t n; /* instructions, not counting the end marker */
	uint8_t mode;
	uint8_t npages;
	struct insn insn[]; /* n + 1: insn[n] is the end marker (insn_end) */
};

struct code_cache {
	struct block *jc[JC_SIZE]; /* direct-mapped: rip -> block */
	struct block **buckets;
	size_t nbuckets, nblocks, bytes;
	struct page_head **pages;
	size_t npages;
	struct block *stale; /* dropped while executing: freed by code_cache_reap */
	struct block *step;  /* scratch block for budget-limited single steps */
	uint64_t gen;        /* bumped whenever a block is dropped */
	uint8_t jc_mode;     /* every block in jc[] has this mode */
};

/* Allocates cpu->cache; 0 or -ENOMEM. */
int code_cache_create(struct cpu *cpu) must_check;
void code_cache_destroy(struct cpu *cpu);

static inline unsigned jc_index(uint64_t rip)
{
	return (unsigned)(rip ^ (rip >> 12)) & (JC_SIZE - 1);
}

/* The block starting at rip in the current mode, decoding it on a miss. */
struct block *code_cache_find_slow(struct cpu *cpu, uint64_t rip);

/* The jump cache holds blocks of one mode: call when cpu->mode may have changed. */
void code_cache_set_mode(struct cpu *cpu);

static inline struct block *code_cache_find(struct cpu *cpu, uint64_t rip)
{
	struct block *b = cpu->cache->jc[jc_index(rip)];
	if (likely(b && b->rip == rip))
		return b;
	return code_cache_find_slow(cpu, rip);
}

/*
 * Block chaining: a handler that ends a block returns block_next(cpu,
 * target). When the next block is in the jump cache and fits in the
 * current budget chunk, this does the run loop's per-block work (charge
 * the budget, make the block current) and returns its first instruction,
 * so execution continues without going back to cpu_run's loop; otherwise
 * it returns NULL and the loop handles the rest (decoding, stop requests,
 * refilling the chunk, exits).
 */
static inline const struct insn *block_next(struct cpu *cpu, uint64_t rip)
{
	struct block *b = cpu->cache->jc[jc_index(rip)];
	cpu->rip = rip;
	if (likely(b && b->rip == rip && b->n <= cpu->budget_left)) {
		cpu->budget_left -= b->n;
		cpu->block = b;
		cpu->rip = b->end_rip;
		return b->insn;
	}
	return NULL;
}

/* A one-instruction block at rip, not cached (exact budgets, single steps). */
struct block *code_cache_single(struct cpu *cpu, uint64_t rip);

/* Frees blocks dropped while they were executing. */
void code_cache_reap_slow(struct cpu *cpu);

static inline void code_cache_reap(struct cpu *cpu)
{
	if (unlikely(cpu->cache->stale))
		code_cache_reap_slow(cpu);
}

/*
 * Translates a page for instruction fetch (the decoder's only way to code
 * bytes): raises #GP(0) for a non-canonical address, #PF through the mem
 * ops, and makes sure writes to the page leave the TLB fast path.
 */
const uint8_t *code_cache_fetch_page(struct cpu *cpu, uint64_t vaddr);

#endif
