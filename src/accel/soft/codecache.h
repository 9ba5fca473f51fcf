/*
 * The code cache: blocks of pre-decoded instructions (docs/softcpu.md,
 * "Blocks and invalidation").
 *
 * A block is up to BLOCK_MAX instructions decoded from one guest page (its
 * first instruction may run into the next page), ending at a control
 * transfer, an exit, an invalid encoding or the page end. Blocks are keyed
 * by (RIP, mode, CPL, CS base) plus the host addresses of the pages their
 * bytes came from (in system mode: the guest-physical pages), so two
 * processes running different code at the same virtual address have
 * different blocks; decoded instructions embed virtual addresses (branch
 * targets, RIP-relative operands), so an alias at another address gets its
 * own block too. A hash table holds them, fronted by a direct-mapped jump
 * cache per privilege (CPL 3, CPL 0-2) keyed by RIP alone, which TLB
 * flushes in system mode clear (a CR3 load keeps blocks from global pages;
 * INVLPG clears only a jump cache that may hold code near the page: tlb.c).
 * The host page lists find the blocks to drop on
 * a write through any alias. A dropped block that is executing right now
 * has its handlers replaced by insn_stale and is freed once the run loop
 * is back.
 */
#ifndef EMBER_ACCEL_SOFT_CODECACHE_H
#define EMBER_ACCEL_SOFT_CODECACHE_H

#include <stdint.h>

#include "accel/soft/insn.h"

#define BLOCK_MAX      64
#define JC_BITS        14
#define JC_SIZE        (1u << JC_BITS) /* Linux's boot runs tens of thousands of blocks */
#define JC_REGION_BITS 4096

struct block;

/* A block's membership in one host page's list. */
struct block_page {
	struct block_page *next, **pprev;
	struct block *block;
	uintptr_t page;  /* host address of the page */
	uint16_t lo, hi; /* the bytes [lo, hi) of the page the block was decoded from */
};

struct block {
	uint64_t rip;     /* offset in CS (the virtual address in 64-bit mode) of the first insn */
	uint64_t end_rip; /* the address after the last one */
	uint64_t cs_base; /* 0 in 64-bit mode */
	struct block *hnext;
	struct block_page pages[2];
	uint32_t n; /* instructions, not counting the end marker */
	uint8_t mode;
	uint8_t cpl;
	uint8_t npages;
	bool global;        /* from global pages: a CR3 load keeps its mapping */
	struct insn insn[]; /* n + 1: insn[n] is the end marker (insn_end) */
};

/* What every block in one jump cache has in common. */
struct jc_context {
	uint64_t cs_base;
	uint8_t mode, cpl;
};

struct code_cache {
	struct block **jc;                 /* the current privilege's jump cache: rip -> block */
	struct block *jc_bank[2][JC_SIZE]; /* [0]: CPL 0-2, [1]: CPL 3 */
	struct jc_context jc_ctx[2];
	/* Per bank, a bit per hash of a 2 MiB region: the bank may hold a block from there. */
	uint64_t jc_regions[2][JC_REGION_BITS / 64];
	unsigned jc_nonglobal[2]; /* blocks not from global pages entered since the last clear */
	unsigned jc_used[2];      /* blocks entered since the last clear (0: nothing to clear) */
	struct block **buckets;
	size_t nbuckets, nblocks, bytes;
	struct page_head **pages;
	size_t npages;
	uint64_t flushes;    /* whole-cache drops (CACHE_MAX_BYTES reached, or asked for) */
	struct block *stale; /* dropped while executing: freed by code_cache_reap */
	struct block *step;  /* scratch block for budget-limited single steps */
	uint64_t gen;        /* bumped whenever a block is dropped */
};

/* Allocates cpu->cache; 0 or -ENOMEM. */
int code_cache_create(struct cpu *cpu) must_check;
void code_cache_destroy(struct cpu *cpu);

/* Multiplicative: XOR-folding let hot pairs of kernel blocks collide all the time. */
static inline unsigned jc_index(uint64_t rip)
{
	return (unsigned)((rip * 0x9e3779b97f4a7c15ULL) >> (64 - JC_BITS));
}

/* The block starting at rip in the current mode, decoding it on a miss. */
struct block *code_cache_find_slow(struct cpu *cpu, uint64_t rip);

/*
 * A jump cache holds blocks of one (mode, CPL, CS base): call after any of
 * them may have changed (cpu_update_mode does). Also makes cpu->tlb the
 * TLB of the current privilege (tlb.c). Cheap when nothing changed.
 */
void code_cache_set_mode(struct cpu *cpu);
/* Forgets every RIP -> block lookup (the virtual-to-physical mapping changed). */
void code_cache_jc_flush(struct cpu *cpu);
/* The same for a CR3 load with CR4.PGE: lookups of blocks from global pages stay. */
void code_cache_jc_flush_nonglobal(struct cpu *cpu);
/* The same for INVLPG of linear: only when a bank may hold code from its 2 MiB region. */
void code_cache_jc_flush_page(struct cpu *cpu, uint64_t linear);

static inline struct block *code_cache_find(struct cpu *cpu, uint64_t rip)
{
	struct block *b = cpu->jc[jc_index(rip)];
	if (likely(b && b->rip == rip))
		return b;
	return code_cache_find_slow(cpu, rip);
}

/*
 * Block chaining: a handler that ends a block returns block_next(cpu,
 * target). When the next block is in the jump cache and fits in the
 * current budget chunk, this does the run loop's per-block work (charge
 * the budget, make the block current) and continues with its first
 * instruction without going back to cpu_run's loop; otherwise it returns
 * NULL and the loop handles the rest (decoding, stop requests, refilling
 * the chunk, exits).
 *
 * "Continues": with SOFTCPU_CHAIN_TAIL (meson sets it for builds at -O2
 * and above without sanitizers, where GCC turns the call into a jump) it
 * tail-calls the block's first handler, so each block end has an indirect
 * jump of its own that the host predicts per site, instead of all blocks
 * funnelling through the run loop's one indirect call. Without sibling
 * calls that would nest a host frame per chained block (up to a budget
 * chunk), so other builds return the instruction to the loop.
 */
#ifndef SOFTCPU_CHAIN_TAIL
#define SOFTCPU_CHAIN_TAIL 0
#endif
#if SOFTCPU_CHAIN_TAIL && !SOFTCPU_THREADED
#error "SOFTCPU_CHAIN_TAIL needs SOFTCPU_THREADED"
#endif
static inline __attribute__((always_inline)) const struct insn *block_next(struct cpu *cpu,
                                                                           uint64_t rip)
{
	/*
	 * A loop that is one block branches to itself: no lookup. The running
	 * block is of the current mode, CPL and CS base by construction (an
	 * instruction that changes them ends the block through the run loop);
	 * the uncached one-instruction block (npages 0) is left to the loop.
	 */
	struct block *b = cpu->block;
	if (b->rip != rip || !b->npages)
		b = cpu->jc[jc_index(rip)];
	/* A pending interrupt request (cpu.h CPU_INT_*) goes back to the run loop. */
	if (likely(b && b->rip == rip && b->n <= cpu->budget_left &&
	           !atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed))) {
		cpu->budget_left -= b->n;
		cpu->block = b;
		cpu->rip = b->end_rip;
#if SOFTCPU_CHAIN_TAIL
		return b->insn[0].fn(cpu, b->insn);
#else
		return b->insn;
#endif
	}
	cpu->rip = rip;
	return NULL;
}

/* A one-instruction block at rip, not cached (exact budgets, single steps). */
struct block *code_cache_single(struct cpu *cpu, uint64_t rip);

/*
 * Between blocks (the run loop): frees blocks dropped while they were
 * executing and, when another vCPU asked (CPU_INT_MEM), runs mem->sync.
 */
void code_cache_reap_slow(struct cpu *cpu);

static inline void code_cache_reap(struct cpu *cpu)
{
	if (unlikely(cpu->cache->stale ||
	             (atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed) &
	              CPU_INT_MEM)))
		code_cache_reap_slow(cpu);
}

/*
 * Translates a page for instruction fetch (the decoder's only way to code
 * bytes); vaddr is an offset in CS (linear = CS base + vaddr outside
 * 64-bit mode). Raises #GP(0) for a non-canonical address, #PF through the
 * mem ops, and makes sure writes to the page leave the TLB fast path.
 */
const uint8_t *code_cache_fetch_page(struct cpu *cpu, uint64_t vaddr);

#endif
