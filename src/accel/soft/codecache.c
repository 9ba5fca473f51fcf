/*
 * The code cache (codecache.h): building blocks with the decoder, the
 * (rip, mode, CPL, CS base, host pages) hash table, the per-privilege jump
 * caches, the host-page index and invalidation for self-modifying code
 * (SDM vol. 3, 11.6: a write to code takes effect before the modified
 * instruction executes).
 */
#include "accel/soft/codecache.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/blockopt.h"
#include "accel/soft/decode.h"
#include "accel/soft/mem.h"
#include "accel/soft/tlb.h"

#define PAGE_BUCKETS    4096
/*
 * Past this, everything is dropped and decoded again as it runs: the bound
 * on the VMM's memory per vCPU (Linux's boot decodes ~20 MiB of blocks, most
 * of it init code that never runs again; the hot kernel paths refill within
 * milliseconds).
 */
#define CACHE_MAX_BYTES (8ULL << 20)

/* A host page holding decoded code, and its blocks. */
struct page_head {
	struct page_head *next;
	uintptr_t page;
	struct block_page *blocks;
};

static size_t hash_rip(uint64_t rip, uint64_t cs_base, unsigned mode, unsigned cpl, size_t nbuckets)
{
	uint64_t k = rip ^ (cs_base << 20) ^ ((uint64_t)mode << 60) ^ ((uint64_t)cpl << 58);
	return (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 20) & (nbuckets - 1);
}

static size_t hash_block(const struct block *b, size_t nbuckets)
{
	return hash_rip(b->rip, b->cs_base, b->mode, b->cpl, nbuckets);
}

/* CS base for linear addresses of code: none in 64-bit mode. */
static uint64_t code_base(const struct cpu *cpu)
{
	return cpu->mode == CPU_MODE_LONG64 ? 0 : cpu->seg[S_CS].base;
}

static size_t hash_page(uintptr_t page)
{
	return (size_t)((page >> 12) * 0x9e3779b97f4a7c15ULL >> 40) & (PAGE_BUCKETS - 1);
}

static void jc_bank_clear(struct code_cache *c, unsigned bank)
{
	if (!c->jc_used[bank])
		return; /* e.g. the user bank on CR3 loads while the kernel pokes text */
	memset(c->jc_bank[bank], 0, sizeof(c->jc_bank[bank]));
	memset(c->jc_regions[bank], 0, sizeof(c->jc_regions[bank]));
	c->jc_nonglobal[bank] = 0;
	c->jc_used[bank] = 0;
}

/* The jc_regions bit of the 2 MiB region holding linear address lin. */
static unsigned jc_region_bit(uint64_t lin)
{
	return (unsigned)(((lin >> 21) * 0x9e3779b97f4a7c15ULL) >> 52) & (JC_REGION_BITS - 1);
}

int code_cache_create(struct cpu *cpu)
{
	struct code_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbuckets = 1u << 14;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	c->pages = calloc(PAGE_BUCKETS, sizeof(*c->pages));
	c->step = malloc(sizeof(struct block) + 2 * sizeof(struct insn));
	if (!c->buckets || !c->pages || !c->step) {
		free(c->buckets);
		free(c->pages);
		free(c->step);
		free(c);
		return -ENOMEM;
	}
	c->jc = c->jc_bank[0];
	cpu->jc = c->jc;
	c->jc_ctx[0].mode = c->jc_ctx[1].mode = 0xff; /* no context yet */
	cpu->cache = c;
	return 0;
}

void code_cache_destroy(struct cpu *cpu)
{
	struct code_cache *c = cpu->cache;
	if (!c)
		return;
	cpu->block = NULL;
	cpu_code_flush(cpu);
	code_cache_reap(cpu);
	free(c->buckets);
	free(c->pages);
	free(c->step);
	free(c);
	cpu->cache = NULL;
	cpu->jc = NULL;
}

static struct page_head *page_find(struct code_cache *c, uintptr_t page, bool create)
{
	struct page_head **pp = &c->pages[hash_page(page)];
	for (struct page_head *p = *pp; p; p = p->next)
		if (p->page == page)
			return p;
	if (!create)
		return NULL;
	struct page_head *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->page = page;
	p->next = *pp;
	*pp = p;
	c->npages++;
	return p;
}

static void block_unlink(struct code_cache *c, struct block *b)
{
	struct block **pp = &c->buckets[hash_block(b, c->nbuckets)];
	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
	for (unsigned k = 0; k < b->npages; k++) {
		struct block_page *bp = &b->pages[k];
		*bp->pprev = bp->next;
		if (bp->next)
			bp->next->pprev = bp->pprev;
	}
	unsigned j = jc_index(b->rip);
	for (unsigned k = 0; k < 2; k++)
		if (c->jc_bank[k][j] == b)
			c->jc_bank[k][j] = NULL;
	c->nblocks--;
	c->bytes -= sizeof(*b) + (b->n + 1) * sizeof(struct insn);
	c->gen++;
}

/* Drops a block; the one executing right now finishes through insn_stale. */
static void block_drop(struct cpu *cpu, struct block *b)
{
	struct code_cache *c = cpu->cache;
	block_unlink(c, b);
	if (b == cpu->block) {
		for (uint32_t k = 0; k <= b->n; k++)
			b->insn[k].fn = insn_stale;
		b->hnext = c->stale;
		c->stale = b;
	} else {
		free(b);
	}
}

void code_cache_reap_slow(struct cpu *cpu)
{
	struct code_cache *c = cpu->cache;
	if (atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed) & CPU_INT_MEM) {
		/* Clear first: a request posted while we sync sets it again. */
		atomic_fetch_and(&cpu->interrupt_request, ~CPU_INT_MEM);
		if (cpu->mem->sync)
			cpu->mem->sync(cpu);
	}
	while (c->stale) {
		struct block *b = c->stale;
		c->stale = b->hnext;
		free(b);
	}
}

void cpu_code_flush(struct cpu *cpu)
{
	struct code_cache *c = cpu->cache;
	if (!c)
		return;
	for (size_t k = 0; k < c->nbuckets; k++)
		while (c->buckets[k])
			block_drop(cpu, c->buckets[k]);
	for (size_t k = 0; k < PAGE_BUCKETS; k++) {
		while (c->pages[k]) {
			struct page_head *p = c->pages[k];
			c->pages[k] = p->next;
			free(p);
		}
	}
	c->npages = 0;
	c->flushes++;
	/* The freed blocks were small allocations spread over the heap: give
	 * their pages back to the host, or RSS would keep the high-water mark. */
	malloc_trim(0);
	code_cache_jc_flush(cpu);
	/* Writes to former code pages may take the fast path again. */
	cpu_tlb_flush(cpu);
}

bool cpu_code_invalidate(struct cpu *cpu, const void *host, size_t len)
{
	struct code_cache *c = cpu->cache;
	uintptr_t start = (uintptr_t)host, end = start + len;
	bool left = false;
	if (!c || len == 0)
		return false;
	for (uintptr_t page = start & SOFT_PAGE_MASK; page < end; page += SOFT_PAGE_SIZE) {
		struct page_head *ph = page_find(c, page, false);
		if (!ph)
			continue;
		unsigned lo = (unsigned)(MAX(start, page) - page);
		unsigned hi = (unsigned)(MIN(end, page + SOFT_PAGE_SIZE) - page);
		struct block_page *bp = ph->blocks, *next;
		for (; bp; bp = next) {
			next = bp->next;
			if (bp->lo < hi && lo < bp->hi)
				block_drop(cpu, bp->block);
		}
		left |= ph->blocks != NULL;
		/* Code gone: later translations may let writes take the fast path. While blocks
		   remain the entries would be refilled the same, and a data write next to code
		   would pay a scan of the TLB each time. */
		if (!ph->blocks)
			tlb_drop_host(cpu, page);
	}
	return left;
}

/* The linear address of CS offset off (32-bit wrap outside 64-bit mode). */
static uint64_t code_linear(const struct cpu *cpu, uint64_t off)
{
	if (cpu->mode == CPU_MODE_LONG64)
		return off;
	return (uint32_t)(off + cpu->seg[S_CS].base);
}

/* Translates linear page lin for a fetch and fills the TLB's fetch tag. */
static uint8_t *fetch_translate(struct cpu *cpu, uint64_t lin)
{
	if (cpu->mode == CPU_MODE_LONG64 && !mem_canonical(lin))
		cpu_raise(cpu, EXC_GP, 0, true);
	if (!cpu->user && cpu->tlb_user != (cpu->cpl == 3))
		tlb_set_user(cpu, cpu->cpl == 3);
	unsigned flags = 0;
	uint64_t page = lin & SOFT_PAGE_MASK;
	uint8_t *host = cpu->mem->translate(cpu, lin, CPU_ACCESS_FETCH, &flags);
	/* Entries filled before the page held code would let writes bypass code_written. */
	if (flags & TLB_NEWCODE)
		tlb_drop_host(cpu, (uintptr_t)host);
	struct cpu_tlb_entry *e = tlb_entry_for(cpu, page);
	intptr_t addend = (intptr_t)(uintptr_t)host - (intptr_t)page;
	unsigned k = (unsigned)(page >> 12) & (CPU_TLB_SIZE - 1);
	if (tlb_entry_page(e) != page || e->addend != addend) {
		tlb_entry_clear(e);
		e->addend = addend;
		cpu->tlb_global[k] = (uint8_t)(((flags & TLB_GLOBAL) ? TLBE_GLOBAL : 0) |
		                               ((flags & TLB_LARGE) ? TLBE_LARGE : 0));
	}
	if (!(flags & TLB_NOFILL))
		e->tag_fetch = page;
	return host;
}

/* The host page holding linear address lin, for a lookup: the TLB's fetch tag first. */
static uintptr_t fetch_host(struct cpu *cpu, uint64_t lin)
{
	uint64_t page = lin & SOFT_PAGE_MASK;
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, page);
	if (likely(e->tag_fetch == page && (cpu->user || cpu->tlb_user == (cpu->cpl == 3))))
		return (uintptr_t)((intptr_t)page + e->addend);
	return (uintptr_t)fetch_translate(cpu, lin);
}

const uint8_t *code_cache_fetch_page(struct cpu *cpu, uint64_t vaddr)
{
	return fetch_translate(cpu, code_linear(cpu, vaddr));
}

static bool ends_block(const struct insn *i)
{
	return i->fn == insn_ud || i->fn == insn_gp0 || (op_info[i->op].attr & OPA_END);
}

/* Decodes up to max instructions at rip into tmp; returns how many. */
static unsigned decode_run(struct cpu *cpu, uint64_t rip, struct insn *tmp, unsigned max,
                           struct fetch *f)
{
	/* f->page is the CS offset of the linear page's start: not aligned when CS base is not. */
	uint64_t lin = code_linear(cpu, rip);
	f->page = rip - (lin & ~SOFT_PAGE_MASK);
	f->host[0] = fetch_translate(cpu, lin);
	f->host[1] = NULL;
	struct decode d[BLOCK_MAX];
	unsigned n = 0;
	uint64_t pc = rip;
	while (n < max) {
		f->allow_cross = n == 0;
		if (decode_insn_full(cpu, cpu->mode, f, pc, &tmp[n], &d[n]) == DECODE_CROSS)
			break;
		pc += tmp[n].len;
		if (ends_block(&tmp[n++]) || pc - f->page >= SOFT_PAGE_SIZE)
			break;
	}
	/* Not for single steps: the passes assume the whole block runs (blockopt.c). */
	if (max > 1)
		block_optimise(tmp, d, n);
	return n;
}

static void block_fill(struct cpu *cpu, struct block *b, uint64_t rip, const struct insn *tmp,
                       unsigned n)
{
	b->rip = rip;
	b->n = n;
	b->mode = (uint8_t)cpu->mode;
	b->cpl = cpu->cpl;
	b->cs_base = code_base(cpu);
	b->end_rip = rip;
	for (unsigned k = 0; k < n; k++)
		b->end_rip += tmp[k].len;
	memcpy(b->insn, tmp, n * sizeof(*tmp));
	memset(&b->insn[n], 0, sizeof(b->insn[n]));
	b->insn[n].fn = insn_end;
	b->npages = 0;
	b->global = false;
}

struct block *code_cache_single(struct cpu *cpu, uint64_t rip)
{
	struct insn tmp[1];
	struct fetch f;
	decode_run(cpu, rip, tmp, 1, &f);
	block_fill(cpu, cpu->cache->step, rip, tmp, 1);
	return cpu->cache->step;
}

static void grow_buckets(struct code_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct block **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t k = 0; k < c->nbuckets; k++) {
		while (c->buckets[k]) {
			struct block *b = c->buckets[k];
			c->buckets[k] = b->hnext;
			size_t h = hash_block(b, n);
			b->hnext = nb[h];
			nb[h] = b;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

/* Links b into the hash table and the page lists; false when out of memory. */
static bool block_insert(struct code_cache *c, struct block *b, const struct fetch *f)
{
	uint64_t first_end = MIN(b->end_rip, f->page + SOFT_PAGE_SIZE);
	struct {
		uintptr_t page;
		unsigned lo, hi;
	} span[2] = {
	    {(uintptr_t)f->host[0], (unsigned)(b->rip - f->page), (unsigned)(first_end - f->page)},
	    {(uintptr_t)f->host[1], 0, (unsigned)(b->end_rip - first_end)},
	};
	unsigned npages = b->end_rip > first_end ? 2 : 1;
	struct page_head *ph[2] = {NULL, NULL};
	for (unsigned k = 0; k < npages; k++)
		if (!(ph[k] = page_find(c, span[k].page, true)))
			return false;
	for (unsigned k = 0; k < npages; k++) {
		struct block_page *bp = &b->pages[k];
		bp->block = b;
		bp->page = span[k].page;
		bp->lo = (uint16_t)span[k].lo;
		bp->hi = (uint16_t)span[k].hi;
		bp->next = ph[k]->blocks;
		bp->pprev = &ph[k]->blocks;
		if (bp->next)
			bp->next->pprev = &bp->next;
		ph[k]->blocks = bp;
	}
	b->npages = (uint8_t)npages;
	size_t h = hash_block(b, c->nbuckets);
	b->hnext = c->buckets[h];
	c->buckets[h] = b;
	c->nblocks++;
	c->bytes += sizeof(*b) + (b->n + 1) * sizeof(struct insn);
	if (c->nblocks > 2 * c->nbuckets)
		grow_buckets(c);
	return true;
}

void code_cache_set_mode(struct cpu *cpu)
{
	bool user = cpu->cpl == 3;
	if (!cpu->user)
		tlb_set_user(cpu, user);
	struct code_cache *c = cpu->cache;
	if (!c)
		return;
	struct jc_context *ctx = &c->jc_ctx[user];
	uint64_t base = code_base(cpu);
	c->jc = c->jc_bank[user];
	cpu->jc = c->jc;
	if (ctx->mode != (uint8_t)cpu->mode || ctx->cpl != cpu->cpl || ctx->cs_base != base) {
		jc_bank_clear(c, user);
		ctx->mode = (uint8_t)cpu->mode;
		ctx->cpl = cpu->cpl;
		ctx->cs_base = base;
	}
}

void code_cache_jc_flush(struct cpu *cpu)
{
	jc_bank_clear(cpu->cache, 0);
	jc_bank_clear(cpu->cache, 1);
}

void code_cache_jc_flush_nonglobal(struct cpu *cpu)
{
	struct code_cache *c = cpu->cache;
	/* User code is not global in practice: clearing beats looking at each block. */
	jc_bank_clear(c, 1);
	if (!c->jc_nonglobal[0])
		return; /* the usual case: only kernel text */
	for (unsigned k = 0; k < JC_SIZE; k++)
		if (c->jc_bank[0][k] && !c->jc_bank[0][k]->global)
			c->jc_bank[0][k] = NULL;
	c->jc_nonglobal[0] = 0;
}

void code_cache_jc_flush_page(struct cpu *cpu, uint64_t linear)
{
	struct code_cache *c = cpu->cache;
	/* By 2 MiB region: INVLPG drops a large page's translation wherever in it. */
	unsigned bit = jc_region_bit(linear);
	for (unsigned bank = 0; bank < 2; bank++)
		if (c->jc_regions[bank][bit / 64] & (1ULL << (bit % 64)))
			jc_bank_clear(c, bank);
}

/* Remembers b in the current jump cache. */
static void jc_insert(struct cpu *cpu, struct block *b)
{
	struct code_cache *c = cpu->cache;
	unsigned bank = (unsigned)(c->jc - c->jc_bank[0]) / JC_SIZE;
	uint64_t lin = b->cs_base + b->rip;
	c->jc[jc_index(b->rip)] = b;
	/* A block may end in the next region: its last byte's region counts too. */
	unsigned bits[2] = {jc_region_bit(lin), jc_region_bit(b->cs_base + b->end_rip - 1)};
	for (unsigned k = 0; k < 2; k++)
		c->jc_regions[bank][bits[k] / 64] |= 1ULL << (bits[k] % 64);
	c->jc_nonglobal[bank] += !b->global;
	c->jc_used[bank]++;
}

/* Is linear page lin mapped global in the fetch TLB (just filled by the decoder)? */
static bool fetch_global(const struct cpu *cpu, uint64_t lin)
{
	uint64_t page = lin & SOFT_PAGE_MASK;
	unsigned k = (unsigned)(page >> 12) & (CPU_TLB_SIZE - 1);
	return cpu->tlb[k].tag_fetch == page && (cpu->tlb_global[k] & TLBE_GLOBAL);
}

/* Does b, cached for this (rip, mode, CPL, CS base), come from the pages rip reaches now? */
static bool block_pages_match(struct cpu *cpu, const struct block *b, uintptr_t host0)
{
	if (b->pages[0].page != host0)
		return false;
	if (b->npages < 2)
		return true;
	uint64_t next = (code_linear(cpu, b->rip) & SOFT_PAGE_MASK) + SOFT_PAGE_SIZE;
	if (cpu->mode != CPU_MODE_LONG64)
		next = (uint32_t)next;
	return b->pages[1].page == fetch_host(cpu, next);
}

struct block *code_cache_find_slow(struct cpu *cpu, uint64_t rip)
{
	struct code_cache *c = cpu->cache;
	uint8_t mode = (uint8_t)cpu->mode, cpl = cpu->cpl;
	uint64_t base = code_base(cpu);
	uintptr_t host0 = fetch_host(cpu, code_linear(cpu, rip));
	for (struct block *b = c->buckets[hash_rip(rip, base, mode, cpl, c->nbuckets)]; b;
	     b = b->hnext) {
		if (b->rip == rip && b->mode == mode && b->cpl == cpl && b->cs_base == base &&
		    block_pages_match(cpu, b, host0)) {
			jc_insert(cpu, b);
			return b;
		}
	}
	if (c->bytes > CACHE_MAX_BYTES)
		cpu_code_flush(cpu);
	struct insn tmp[BLOCK_MAX];
	struct fetch f;
	unsigned n = decode_run(cpu, rip, tmp, BLOCK_MAX, &f);
	struct block *b = malloc(sizeof(*b) + (n + 1) * sizeof(struct insn));
	if (!b)
		goto step;
	block_fill(cpu, b, rip, tmp, n);
	if (!block_insert(c, b, &f)) {
		free(b);
		goto step;
	}
	uint64_t lin = code_linear(cpu, rip);
	b->global = !cpu->user && fetch_global(cpu, lin) &&
	            (b->npages < 2 || fetch_global(cpu, (lin & SOFT_PAGE_MASK) + SOFT_PAGE_SIZE));
	jc_insert(cpu, b);
	return b;
step:
	/* Out of memory: run one instruction at a time rather than fail (decoded
	 * again: tmp[0] may have a handler of a block pass that runs two). */
	return code_cache_single(cpu, rip);
}
