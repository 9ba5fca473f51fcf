/*
 * The soft TLB's slow path (mem.h): fills from the cpu_mem_ops translate
 * hook, splits page-crossing accesses (both pages are checked before a
 * write changes anything, so a fault leaves memory untouched), routes
 * writes to pages holding decoded code through code_written and accesses
 * to pages that are not RAM (TLB_MMIO) through the mmio hook, at most 8
 * bytes at a time, and raises #GP(0) / #SS(0) for non-canonical addresses
 * (SDM vol. 3, 3.3.7.1).
 *
 * A TLB_MMIO entry's addend leads to the guest-physical address instead of
 * host memory; its tags always carry the flag, so only this file sees it.
 */
#include "accel/soft/mem.h"

#include "accel/soft/tlb.h"

static uint64_t tag_of(const struct cpu_tlb_entry *e, unsigned access)
{
	if (access & CPU_ACCESS_WRITE)
		return e->tag_write;
	return (access & CPU_ACCESS_FETCH) ? e->tag_fetch : e->tag_read;
}

/* What an entry filled with translate's flags fl maps (cpu->tlb_global). */
static uint8_t entry_info(unsigned fl)
{
	return (uint8_t)(((fl & TLB_GLOBAL) ? TLBE_GLOBAL : 0) |
	                 ((fl & TLB_LARGE) ? TLBE_LARGE : 0) | ((fl & TLB_MMIO) ? TLBE_MMIO : 0));
}

/*
 * The host address of byte a for an access that stays within a's page (the
 * guest-physical address when *flags has TLB_MMIO); *flags gets the TLB_*
 * bits that sent it here. Raises on a fault.
 */
static uint8_t *page_host(struct cpu *cpu, uint64_t a, unsigned access, unsigned *flags)
{
	unsigned acc = access & (CPU_ACCESS_READ | CPU_ACCESS_WRITE | CPU_ACCESS_FETCH);
	if (cpu->mode == CPU_MODE_LONG64 && !mem_canonical(a)) {
		bool ss = (access & MEM_STACK) || (cpu->cur && (cpu->cur->seg & INSN_SS));
		cpu_raise(cpu, ss ? EXC_SS : EXC_GP, 0, true);
	}
	bool user = cpu->cpl == 3;
	if (unlikely(user != cpu->tlb_user) && !cpu->user) {
		/* code_cache_set_mode was not told about a privilege change yet. */
		tlb_set_user(cpu, user);
	}
	uint64_t page = a & SOFT_PAGE_MASK;
	unsigned k = (unsigned)(a >> 12) & (CPU_TLB_SIZE - 1);
	/* An implicit supervisor access at CPL 3 uses the supervisor TLB (in tlb_alt). */
	bool sup = user && (access & CPU_ACCESS_SUPERVISOR) && !cpu->user;
	struct cpu_tlb_entry *e = sup ? &cpu->tlb_alt[k] : &cpu->tlb[k];
	uint8_t *info_k = sup ? &cpu->tlb_alt_global[k] : &cpu->tlb_global[k];
	uint64_t tag = tag_of(e, acc);
	if (tag != TLB_TAG_EMPTY && (tag & ~TLB_FLAGS_MASK) == page) {
		*flags = (unsigned)(tag & TLB_FLAGS_MASK);
		return (uint8_t *)(uintptr_t)((intptr_t)a + e->addend);
	}
	unsigned fl = 0;
	uint8_t *host = cpu->mem->translate(cpu, a, acc | (access & CPU_ACCESS_SUPERVISOR), &fl);
	if (fl & TLB_NOFILL) {
		*flags = fl & (TLB_CODE | TLB_MMIO);
		if (!(acc & CPU_ACCESS_WRITE))
			*flags &= TLB_MMIO;
		return host + (a - page);
	}
	intptr_t addend = (intptr_t)(uintptr_t)host - (intptr_t)page;
	uint8_t info = entry_info(fl);
	if (tlb_entry_page(e) != page || e->addend != addend) {
		tlb_entry_clear(e);
		e->addend = addend;
		*info_k = info;
	} else {
		*info_k =
		    (uint8_t)((*info_k & info & TLBE_GLOBAL) | ((*info_k | info) & ~TLBE_GLOBAL));
	}
	if (acc & CPU_ACCESS_WRITE) {
		fl &= TLB_CODE | TLB_MMIO | TLB_NOTDIRTY;
		e->tag_write = page | fl;
		/* A page the walk allows to write is readable at the same privilege. */
		e->tag_read = page | (fl & TLB_MMIO);
	} else if (acc & CPU_ACCESS_FETCH) {
		fl &= TLB_MMIO;
		e->tag_fetch = page | fl;
	} else {
		fl &= TLB_MMIO;
		e->tag_read = page | fl;
	}
	*flags = fl;
	return host + (a - page);
}

static unsigned first_part(uint64_t a, size_t len)
{
	uint64_t room = SOFT_PAGE_SIZE - (a & (SOFT_PAGE_SIZE - 1));
	return (unsigned)MIN(room, len);
}

/*
 * len bytes at p (within one page) to or from buf: host memory, or for
 * TLB_MMIO the device at guest-physical p, in accesses of at most 8 bytes
 * that do not cross an 8-byte boundary (an access of 8 bytes or less is
 * passed whole: the device sees the guest's access size).
 */
static void part_copy(struct cpu *cpu, uint8_t *p, unsigned fl, void *buf, size_t len, bool write)
{
	if (likely(!(fl & TLB_MMIO))) {
		if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		return;
	}
	uint64_t gpa = (uint64_t)(uintptr_t)p;
	uint8_t *b = buf;
	while (len) {
		size_t n = len <= 8 ? len : MIN(len, 8 - (gpa & 7));
		cpu->mem->mmio(cpu, gpa, b, (unsigned)n, write);
		gpa += n;
		b += n;
		len -= n;
	}
}

/* Reads len bytes (up to a page) at a with access; both pages translate first. */
static void read_parts(struct cpu *cpu, uint64_t a, void *dst, size_t len, unsigned access)
{
	unsigned fl0, fl1;
	unsigned first = first_part(a, len);
	uint8_t *h0 = page_host(cpu, a, access, &fl0);
	if (likely(first == len)) {
		part_copy(cpu, h0, fl0, dst, len, false);
		return;
	}
	uint8_t *h1 = page_host(cpu, a + first, access, &fl1);
	part_copy(cpu, h0, fl0, dst, first, false);
	part_copy(cpu, h1, fl1, (uint8_t *)dst + first, len - first, false);
}

/* Writes len bytes (up to a page): every page is checked before any byte lands. */
static void write_parts(struct cpu *cpu, uint64_t a, const void *src, size_t len, unsigned access)
{
	unsigned fl0, fl1 = 0;
	unsigned first = first_part(a, len);
	uint8_t *h0 = page_host(cpu, a, access, &fl0);
	uint8_t *h1 = NULL;
	if (first < len)
		h1 = page_host(cpu, a + first, access, &fl1);
	part_copy(cpu, h0, fl0, (void *)src, first, true);
	if (h1)
		part_copy(cpu, h1, fl1, (uint8_t *)src + first, len - first, true);
	if (fl0 & TLB_CODE)
		cpu->mem->code_written(cpu, a, first);
	if (fl1 & TLB_CODE)
		cpu->mem->code_written(cpu, a + first, len - first);
}

void mem_read_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, void *dst, size_t len)
{
	cpu->cur = i;
	read_parts(cpu, a, dst, len, CPU_ACCESS_READ);
}

uint64_t mem_read_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                       unsigned access)
{
	uint64_t v = 0;
	cpu->cur = i;
	read_parts(cpu, a, &v, len, access);
	return v;
}

void mem_write_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, const void *src, size_t len)
{
	cpu->cur = i;
	write_parts(cpu, a, src, len, CPU_ACCESS_WRITE);
}

void mem_write_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len, uint64_t v,
                    unsigned access)
{
	cpu->cur = i;
	write_parts(cpu, a, &v, len, access);
}

void *mem_lock_ptr_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len)
{
	unsigned fl;
	if ((a & (len - 1)) || first_part(a, len) < len)
		return NULL;
	cpu->cur = i;
	uint8_t *h = page_host(cpu, a, CPU_ACCESS_READ | CPU_ACCESS_WRITE, &fl);
	return (fl & (TLB_CODE | TLB_MMIO)) ? NULL : h;
}

void mem_probe(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len, unsigned access)
{
	unsigned fl;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	page_host(cpu, a, access, &fl);
	if (first < len)
		page_host(cpu, a + first, access, &fl);
}

void mem_probe_write(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                     unsigned access)
{
	mem_probe(cpu, i, a, len, access | CPU_ACCESS_WRITE);
}
