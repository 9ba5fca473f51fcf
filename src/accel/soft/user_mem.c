/*
 * A user-mode address space for the software CPU (user_mem.h): a 4-level
 * radix tree of 512-entry tables over the 47-bit user half, each leaf entry
 * a host page pointer with the protection and state bits packed into its
 * low (page-offset) bits.
 *
 * Faults follow SDM vol. 3, 4.7 (page-fault error code): P = the page is
 * mapped but the access is not allowed, W/R = write, U/S = 1 (CPL 3),
 * I/D = instruction fetch. Fetch needs USER_PROT_EXEC, write
 * USER_PROT_WRITE, read USER_PROT_READ.
 *
 * Code: a fetch translation marks the page "has code" (the decoder always
 * translates a block's pages), and every later translation of it reports
 * TLB_CODE, so the CPU routes writes to it through code_written. Writes the
 * host makes (user_mem_write, user_mem_ptr with USER_PROT_WRITE) and
 * mapping changes over such pages invalidate the code in every CPU that
 * uses this map (cpu_init_user64 attaches them). One host thread drives a
 * user_mem and its CPUs.
 */
#include "accel/soft/user_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"

#define LEVEL_BITS 9
#define LEVEL_SIZE (1u << LEVEL_BITS)
#define LEVELS     4
#define USER_LIMIT (1ULL << 47) /* the canonical lower half */

/* Leaf entry bits below the page-aligned host pointer. */
#define PE_PROT   7u        /* USER_PROT_* */
#define PE_OWNED  (1u << 3) /* the page was allocated by the map: munmap on release */
#define PE_CODE   (1u << 4) /* decoded code may exist for the page */
#define PE_MAPPED (1u << 5)
#define PE_FLAGS  0xfffu

struct table {
	void *slot[LEVEL_SIZE]; /* inner levels: struct table *; leaves: uintptr_t entries */
};

struct user_mem {
	struct table root;
	struct cpu **cpus; /* the CPUs that use this map (cpu_init_user64 attaches them) */
	size_t nr_cpus, cap_cpus;
};

static unsigned level_index(uint64_t vaddr, int level)
{
	return (unsigned)(vaddr >> (12 + LEVEL_BITS * level)) & (LEVEL_SIZE - 1);
}

/* The leaf entry for vaddr, allocating the path when create is set. */
static uintptr_t *entry_of(struct user_mem *mem, uint64_t vaddr, bool create)
{
	struct table *t = &mem->root;
	for (int level = LEVELS - 1; level > 0; level--) {
		void **slot = &t->slot[level_index(vaddr, level)];
		if (!*slot) {
			if (!create)
				return NULL;
			*slot = calloc(1, sizeof(struct table));
			if (!*slot)
				return NULL;
		}
		t = *slot;
	}
	return (uintptr_t *)&t->slot[level_index(vaddr, 0)];
}

static uintptr_t entry_get(struct user_mem *mem, uint64_t vaddr)
{
	if (vaddr >= USER_LIMIT)
		return 0;
	uintptr_t *e = entry_of(mem, vaddr, false);
	return e ? *e : 0;
}

static uint8_t *entry_host(uintptr_t e)
{
	return (uint8_t *)(e & ~(uintptr_t)PE_FLAGS);
}

static void free_table(struct table *t, int level)
{
	if (level > 0)
		for (unsigned i = 0; i < LEVEL_SIZE; i++)
			if (t->slot[i])
				free_table(t->slot[i], level - 1);
	if (t != NULL && level < LEVELS - 1)
		free(t);
}

struct user_mem *user_mem_create(void)
{
	return calloc(1, sizeof(struct user_mem));
}

static bool range_ok(uint64_t vaddr, uint64_t len)
{
	return !(vaddr & (USER_PAGE_SIZE - 1)) && len <= USER_LIMIT && vaddr <= USER_LIMIT - len;
}

/* Drops the decoded code of a page in every attached CPU. */
static void code_drop(struct user_mem *mem, uintptr_t *e)
{
	if (!(*e & PE_CODE))
		return;
	for (size_t i = 0; i < mem->nr_cpus; i++)
		cpu_code_invalidate(mem->cpus[i], entry_host(*e), USER_PAGE_SIZE);
	*e &= ~(uintptr_t)PE_CODE;
}

/* Mapping changes: every attached CPU's TLB may hold the old translation. */
static void tlb_drop(struct user_mem *mem)
{
	for (size_t i = 0; i < mem->nr_cpus; i++)
		cpu_tlb_flush(mem->cpus[i]);
}

/* Releases the page behind *e (its code, its owned memory) and clears it. */
static void release(struct user_mem *mem, uintptr_t *e)
{
	if (!(*e & PE_MAPPED))
		return;
	code_drop(mem, e);
	if (*e & PE_OWNED)
		munmap(entry_host(*e), USER_PAGE_SIZE);
	*e = 0;
}

void user_mem_destroy(struct user_mem *mem)
{
	if (!mem)
		return;
	for (size_t i = 0; i < mem->nr_cpus; i++)
		mem->cpus[i]->mem_ctx = NULL; /* cpu_fini must not call back into us */
	mem->nr_cpus = 0;
	if (user_mem_unmap(mem, 0, USER_LIMIT) != 0)
		return;
	free_table(&mem->root, LEVELS - 1);
	free(mem->cpus);
	free(mem);
}

int user_mem_map(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot, void *host)
{
	len = ALIGN_UP(len, USER_PAGE_SIZE);
	if (!range_ok(vaddr, len) || ((uintptr_t)host & (USER_PAGE_SIZE - 1)))
		return -EINVAL;
	if (len == 0)
		return 0;
	uint8_t *pages = host;
	uintptr_t owned = 0;
	if (!pages) {
		pages = mmap(NULL, len, PROT_READ | PROT_WRITE,
		             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (pages == MAP_FAILED)
			return -ENOMEM;
		owned = PE_OWNED;
	}
	/* Build the whole path first so a failure leaves the old mapping intact. */
	for (uint64_t off = 0; off < len; off += USER_PAGE_SIZE) {
		if (!entry_of(mem, vaddr + off, true)) {
			if (owned)
				munmap(pages, len);
			return -ENOMEM;
		}
	}
	for (uint64_t off = 0; off < len; off += USER_PAGE_SIZE) {
		uintptr_t *e = entry_of(mem, vaddr + off, false);
		release(mem, e);
		*e = (uintptr_t)(pages + off) | owned | PE_MAPPED | (prot & PE_PROT);
	}
	tlb_drop(mem);
	return 0;
}

/* The leaf entry for va, or NULL with *next set past the missing table's span. */
static uintptr_t *entry_or_skip(struct user_mem *mem, uint64_t va, uint64_t *next)
{
	struct table *t = &mem->root;
	for (int level = LEVELS - 1; level > 0; level--) {
		struct table *n = t->slot[level_index(va, level)];
		if (!n) {
			uint64_t span = USER_PAGE_SIZE << (LEVEL_BITS * level);
			*next = ALIGN_DOWN(va, span) + span;
			return NULL;
		}
		t = n;
	}
	*next = va + USER_PAGE_SIZE;
	return (uintptr_t *)&t->slot[level_index(va, 0)];
}

int user_mem_unmap(struct user_mem *mem, uint64_t vaddr, uint64_t len)
{
	len = ALIGN_UP(len, USER_PAGE_SIZE);
	if (!range_ok(vaddr, len))
		return -EINVAL;
	uint64_t end = vaddr + len;
	for (uint64_t va = vaddr, next; va < end; va = next) {
		uintptr_t *e = entry_or_skip(mem, va, &next);
		if (e)
			release(mem, e);
	}
	tlb_drop(mem);
	return 0;
}

int user_mem_protect(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot)
{
	len = ALIGN_UP(len, USER_PAGE_SIZE);
	if (!range_ok(vaddr, len))
		return -EINVAL;
	for (uint64_t off = 0; off < len; off += USER_PAGE_SIZE)
		if (!(entry_get(mem, vaddr + off) & PE_MAPPED))
			return -ENOMEM;
	for (uint64_t off = 0; off < len; off += USER_PAGE_SIZE) {
		uintptr_t *e = entry_of(mem, vaddr + off, false);
		if (!(prot & USER_PROT_EXEC))
			code_drop(mem, e);
		*e = (*e & ~(uintptr_t)PE_PROT) | (prot & PE_PROT);
	}
	tlb_drop(mem);
	return 0;
}

void *user_mem_ptr(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot)
{
	if (vaddr >= USER_LIMIT || (len && len - 1 >= USER_LIMIT - vaddr))
		return NULL;
	uint64_t first = ALIGN_DOWN(vaddr, USER_PAGE_SIZE);
	uint64_t last = len ? ALIGN_DOWN(vaddr + len - 1, USER_PAGE_SIZE) : first;
	uint8_t *base = NULL;
	for (uint64_t va = first; va <= last; va += USER_PAGE_SIZE) {
		uintptr_t *e = entry_of(mem, va, false);
		if (!e || !(*e & PE_MAPPED) || (*e & prot & PE_PROT) != (prot & PE_PROT))
			return NULL;
		if (va == first)
			base = entry_host(*e);
		else if (entry_host(*e) != base + (va - first))
			return NULL;
	}
	/* The caller is about to write behind the CPU's back. */
	if (prot & USER_PROT_WRITE)
		for (uint64_t va = first; va <= last; va += USER_PAGE_SIZE)
			code_drop(mem, entry_of(mem, va, false));
	return base + (vaddr - first);
}

/* Copies between host memory and [vaddr, vaddr+len), page by page. */
static int copy(struct user_mem *mem, uint64_t vaddr, void *buf, uint64_t len, bool write)
{
	if (len && (vaddr >= USER_LIMIT || len - 1 >= USER_LIMIT - vaddr))
		return -EFAULT;
	/* Check everything first: a failed copy changes nothing. */
	unsigned need = write ? USER_PROT_WRITE : USER_PROT_READ;
	for (uint64_t done = 0; done < len;) {
		uint64_t va = vaddr + done;
		if (!(entry_get(mem, va) & need))
			return -EFAULT;
		done += USER_PAGE_SIZE - (va & (USER_PAGE_SIZE - 1));
	}
	uint8_t *b = buf;
	for (uint64_t done = 0; done < len;) {
		uint64_t va = vaddr + done;
		uint64_t n = MIN(USER_PAGE_SIZE - (va & (USER_PAGE_SIZE - 1)), len - done);
		uintptr_t *e = entry_of(mem, va, false);
		uint8_t *h = entry_host(*e) + (va & (USER_PAGE_SIZE - 1));
		if (write) {
			code_drop(mem, e);
			memcpy(h, b + done, n);
		} else {
			memcpy(b + done, h, n);
		}
		done += n;
	}
	return 0;
}

int user_mem_read(struct user_mem *mem, uint64_t vaddr, void *dst, uint64_t len)
{
	return copy(mem, vaddr, dst, len, false);
}

int user_mem_write(struct user_mem *mem, uint64_t vaddr, const void *src, uint64_t len)
{
	return copy(mem, vaddr, (void *)src, len, true);
}

/* The first mapped page at or above va (below USER_LIMIT), or USER_LIMIT. */
static uint64_t next_mapped(struct user_mem *mem, uint64_t va)
{
	for (uint64_t next; va < USER_LIMIT; va = next) {
		uintptr_t *e = entry_or_skip(mem, va, &next);
		if (e && (*e & PE_MAPPED))
			return va;
	}
	return USER_LIMIT;
}

uint64_t user_mem_find_free(struct user_mem *mem, uint64_t hint, uint64_t len)
{
	len = ALIGN_UP(len, USER_PAGE_SIZE);
	uint64_t va = ALIGN_UP(MAX(hint, USER_PAGE_SIZE), USER_PAGE_SIZE);
	if (len == 0 || len > USER_LIMIT)
		return 0;
	while (va <= USER_LIMIT - len) {
		uint64_t used = next_mapped(mem, va);
		if (used - va >= len)
			return va;
		/* Skip past the mapped run. */
		va = used;
		while (va < USER_LIMIT && (entry_get(mem, va) & PE_MAPPED))
			va += USER_PAGE_SIZE;
	}
	return 0;
}

/* ---- cpu_mem_ops ---- */

/* Remembers a CPU that uses the map (cpu_init_user64). */
static void um_attach(struct cpu *cpu)
{
	struct user_mem *mem = cpu->mem_ctx;
	if (!mem)
		return;
	for (size_t i = 0; i < mem->nr_cpus; i++)
		if (mem->cpus[i] == cpu)
			return;
	if (mem->nr_cpus == mem->cap_cpus) {
		size_t cap = mem->cap_cpus ? mem->cap_cpus * 2 : 4;
		struct cpu **n = realloc(mem->cpus, cap * sizeof(*n));
		if (!n)
			die("user_mem: out of memory");
		mem->cpus = n;
		mem->cap_cpus = cap;
	}
	mem->cpus[mem->nr_cpus++] = cpu;
}

static uint8_t *um_translate(struct cpu *cpu, uint64_t vaddr, unsigned access, unsigned *flags)
{
	struct user_mem *mem = cpu->mem_ctx;
	uintptr_t *e = vaddr < USER_LIMIT ? entry_of(mem, vaddr, false) : NULL;
	unsigned need = access & CPU_ACCESS_FETCH   ? USER_PROT_EXEC
	                : access & CPU_ACCESS_WRITE ? USER_PROT_WRITE
	                                            : USER_PROT_READ;
	if (!e || !(*e & PE_MAPPED) || !(*e & need)) {
		uint32_t err = 1u << 2; /* U/S: the access came from CPL 3 */
		if (e && (*e & PE_MAPPED) && (*e & PE_PROT))
			err |= 1u << 0; /* P: present, protection violation */
		if (access & CPU_ACCESS_WRITE)
			err |= 1u << 1;
		if (access & CPU_ACCESS_FETCH)
			err |= 1u << 4;
		cpu->cr2 = vaddr;
		cpu_raise(cpu, EXC_PF, err, true);
	}
	unsigned newcode = 0;
	if ((access & CPU_ACCESS_FETCH) && !(*e & PE_CODE)) {
		*e |= PE_CODE;
		newcode = TLB_NEWCODE;
	}
	*flags = (*e & PE_CODE) ? TLB_CODE | newcode : 0;
	return entry_host(*e);
}

static void um_code_written(struct cpu *cpu, uint64_t vaddr, size_t len)
{
	struct user_mem *mem = cpu->mem_ctx;
	uint64_t end = vaddr + len;
	for (uint64_t va = ALIGN_DOWN(vaddr, USER_PAGE_SIZE); va < end; va += USER_PAGE_SIZE) {
		uintptr_t *e = va < USER_LIMIT ? entry_of(mem, va, false) : NULL;
		if (!e || !(*e & PE_CODE))
			continue;
		uint64_t lo = MAX(va, vaddr), hi = MIN(va + USER_PAGE_SIZE, end);
		uint8_t *h = entry_host(*e) + (lo - va);
		bool left = false;
		for (size_t i = 0; i < mem->nr_cpus; i++)
			left |= cpu_code_invalidate(mem->cpus[i], h, (size_t)(hi - lo));
		if (!left)
			*e &= ~(uintptr_t)PE_CODE;
	}
}

static void um_detach(struct cpu *cpu)
{
	struct user_mem *mem = cpu->mem_ctx;
	if (!mem)
		return;
	for (size_t i = 0; i < mem->nr_cpus; i++) {
		if (mem->cpus[i] == cpu) {
			mem->cpus[i] = mem->cpus[--mem->nr_cpus];
			return;
		}
	}
}

const struct cpu_mem_ops user_mem_ops = {
    .translate = um_translate,
    .code_written = um_code_written,
    .attach = um_attach,
    .detach = um_detach,
};
