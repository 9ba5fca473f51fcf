/*
 * The code cache (codecache.h): building blocks with the decoder, the
 * (rip, mode) hash table, the host-page index and invalidation for
 * self-modifying code (SDM vol. 3, 11.6: a write to code takes effect
 * before the modified instruction executes).
 */
#include "accel/soft/codecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/decode.h"
#include "accel/soft/mem.h"

#define PAGE_BUCKETS    4096
#define CACHE_MAX_BYTES (256ULL << 20) /* past this, everything is dropped */

/* A host page holding decoded code, and its blocks. */
struct page_head {
	struct page_head *next;
	uintptr_t page;
	struct block_page *blocks;
};

static size_t hash_rip(uint64_t rip, unsigned mode, size_t nbuckets)
{
	return (size_t)(((rip ^ ((uint64_t)mode << 60)) * 0x9e3779b97f4a7c15ULL) >> 20) &
	       (nbuckets - 1);
}

static size_t hash_page(uintptr_t page)
{
	return (size_t)((page >> 12) * 0x9e3779b97f4a7c15ULL >> 40) & (PAGE_BUCKETS - 1);
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
	struct block **pp = &c->buckets[hash_rip(b->rip, b->mode, c->nbuckets)];
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
	if (c->jc[j] == b)
		c->jc[j] = NULL;
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
	while (c->stale) {
		struct block *b = c->stale;
		c->stale = b->hnext;
		free(b);
	}
}

/* Drops the TLB entries that map host page hpage (their flags are stale). */
static void tlb_drop_host(struct cpu *cpu, uintptr_t hpage)
{
	for (unsigned k = 0; k < CPU_TLB_SIZE; k++) {
		struct cpu_tlb_entry *e = &cpu->tlb[k];
		uint64_t page = tlb_entry_page(e);
		if (page != TLB_TAG_EMPTY && (uintptr_t)((intptr_t)page + e->addend) == hpage)
			tlb_entry_clear(e);
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
	memset(c->jc, 0, sizeof(c->jc));
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
		tlb_drop_host(cpu, page);
	}
	return left;
}

const uint8_t *code_cache_fetch_page(struct cpu *cpu, uint64_t vaddr)
{
	if (cpu->mode == CPU_MODE_LONG64 && !mem_canonical(vaddr))
		cpu_raise(cpu, EXC_GP, 0, true);
	unsigned flags = 0;
	uint8_t *host = cpu->mem->translate(cpu, vaddr, CPU_ACCESS_FETCH, &flags);
	/* Entries filled before the page held code would let writes bypass code_written. */
	tlb_drop_host(cpu, (uintptr_t)host);
	return host;
}

static bool ends_block(const struct insn *i)
{
	return i->fn == insn_ud || i->fn == insn_gp0 || (op_info[i->op].attr & OPA_END);
}

/* Decodes up to max instructions at rip into tmp; returns how many. */
static unsigned decode_run(struct cpu *cpu, uint64_t rip, struct insn *tmp, unsigned max,
                           struct fetch *f)
{
	f->page = rip & SOFT_PAGE_MASK;
	f->host[0] = code_cache_fetch_page(cpu, rip);
	f->host[1] = NULL;
	unsigned n = 0;
	uint64_t pc = rip;
	while (n < max) {
		f->allow_cross = n == 0;
		if (decode_insn(cpu, f, pc, &tmp[n]) == DECODE_CROSS)
			break;
		pc += tmp[n].len;
		if (ends_block(&tmp[n++]) || (pc & SOFT_PAGE_MASK) != f->page)
			break;
	}
	return n;
}

static void block_fill(struct cpu *cpu, struct block *b, uint64_t rip, const struct insn *tmp,
                       unsigned n)
{
	b->rip = rip;
	b->n = n;
	b->mode = (uint8_t)cpu->mode;
	b->end_rip = rip;
	for (unsigned k = 0; k < n; k++)
		b->end_rip += tmp[k].len;
	memcpy(b->insn, tmp, n * sizeof(*tmp));
	memset(&b->insn[n], 0, sizeof(b->insn[n]));
	b->insn[n].fn = insn_end;
	b->npages = 0;
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
			size_t h = hash_rip(b->rip, b->mode, n);
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
	size_t h = hash_rip(b->rip, b->mode, c->nbuckets);
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
	struct code_cache *c = cpu->cache;
	if (c->jc_mode != (uint8_t)cpu->mode) {
		memset(c->jc, 0, sizeof(c->jc));
		c->jc_mode = (uint8_t)cpu->mode;
	}
}

struct block *code_cache_find_slow(struct cpu *cpu, uint64_t rip)
{
	struct code_cache *c = cpu->cache;
	uint8_t mode = (uint8_t)cpu->mode;
	for (struct block *b = c->buckets[hash_rip(rip, mode, c->nbuckets)]; b; b = b->hnext) {
		if (b->rip == rip && b->mode == mode) {
			c->jc[jc_index(rip)] = b;
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
	c->jc[jc_index(rip)] = b;
	return b;
step:
	/* Out of memory: run one instruction at a time rather than fail. */
	block_fill(cpu, c->step, rip, tmp, 1);
	return c->step;
}
