/*
 * The soft TLB's slow path (mem.h): fills from the cpu_mem_ops translate
 * hook, splits page-crossing accesses (both pages are checked before a
 * write changes anything, so a fault leaves memory untouched), routes
 * writes to pages holding decoded code through code_written, and raises
 * #GP(0) / #SS(0) for non-canonical addresses (SDM vol. 3, 3.3.7.1).
 */
#include "accel/soft/mem.h"

static uint64_t tag_of(const struct cpu_tlb_entry *e, unsigned access)
{
	if (access & CPU_ACCESS_WRITE)
		return e->tag_write;
	return (access & CPU_ACCESS_FETCH) ? e->tag_fetch : e->tag_read;
}

/*
 * The host address of byte a for an access that stays within a's page;
 * *flags gets the TLB_* bits that sent it here. Raises on a fault.
 */
static uint8_t *page_host(struct cpu *cpu, uint64_t a, unsigned access, unsigned *flags)
{
	unsigned acc = access & (CPU_ACCESS_READ | CPU_ACCESS_WRITE | CPU_ACCESS_FETCH);
	if (cpu->mode == CPU_MODE_LONG64 && !mem_canonical(a)) {
		bool ss = (access & MEM_STACK) || (cpu->cur && (cpu->cur->seg & INSN_SS));
		cpu_raise(cpu, ss ? EXC_SS : EXC_GP, 0, true);
	}
	uint64_t page = a & SOFT_PAGE_MASK;
	struct cpu_tlb_entry *e = &cpu->tlb[(a >> 12) & (CPU_TLB_SIZE - 1)];
	uint64_t tag = tag_of(e, acc);
	if (tag != TLB_TAG_EMPTY && (tag & ~TLB_FLAGS_MASK) == page) {
		*flags = (unsigned)(tag & TLB_FLAGS_MASK);
		return (uint8_t *)(uintptr_t)((intptr_t)a + e->addend);
	}
	unsigned fl = 0;
	uint8_t *host = cpu->mem->translate(cpu, a, acc, &fl);
	intptr_t addend = (intptr_t)(uintptr_t)host - (intptr_t)page;
	if (tlb_entry_page(e) != page || e->addend != addend) {
		tlb_entry_clear(e);
		e->addend = addend;
	}
	if (acc & CPU_ACCESS_WRITE) {
		fl &= TLB_CODE | TLB_MMIO | TLB_NOTDIRTY;
		e->tag_write = page | fl;
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

void mem_read_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, void *dst, size_t len)
{
	unsigned fl;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	const uint8_t *h0 = page_host(cpu, a, CPU_ACCESS_READ, &fl);
	if (first == len) {
		memcpy(dst, h0, len);
		return;
	}
	const uint8_t *h1 = page_host(cpu, a + first, CPU_ACCESS_READ, &fl);
	memcpy(dst, h0, first);
	memcpy((uint8_t *)dst + first, h1, len - first);
}

uint64_t mem_read_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                       unsigned access)
{
	unsigned fl;
	uint64_t v = 0;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	const uint8_t *h0 = page_host(cpu, a, access, &fl);
	if (first == len) {
		memcpy(&v, h0, len);
		return v;
	}
	const uint8_t *h1 = page_host(cpu, a + first, access, &fl);
	uint8_t buf[8];
	memcpy(buf, h0, first);
	memcpy(buf + first, h1, len - first);
	memcpy(&v, buf, len);
	return v;
}

void mem_write_bytes(struct cpu *cpu, const struct insn *i, uint64_t a, const void *src, size_t len)
{
	unsigned fl0, fl1 = 0;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	uint8_t *h0 = page_host(cpu, a, CPU_ACCESS_WRITE, &fl0);
	uint8_t *h1 = NULL;
	if (first < len)
		h1 = page_host(cpu, a + first, CPU_ACCESS_WRITE, &fl1);
	memcpy(h0, src, first);
	if (h1)
		memcpy(h1, (const uint8_t *)src + first, len - first);
	if (fl0 & TLB_CODE)
		cpu->mem->code_written(cpu, a, first);
	if (fl1 & TLB_CODE)
		cpu->mem->code_written(cpu, a + first, len - first);
}

void mem_write_slow(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len, uint64_t v,
                    unsigned access)
{
	unsigned fl0, fl1 = 0;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	uint8_t *h0 = page_host(cpu, a, access, &fl0);
	uint8_t *h1 = NULL;
	if (first < len)
		h1 = page_host(cpu, a + first, access, &fl1);
	memcpy(h0, &v, first);
	if (h1)
		memcpy(h1, (const uint8_t *)&v + first, len - first);
	if (fl0 & TLB_CODE)
		cpu->mem->code_written(cpu, a, first);
	if (fl1 & TLB_CODE)
		cpu->mem->code_written(cpu, a + first, len - first);
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

void mem_probe_write(struct cpu *cpu, const struct insn *i, uint64_t a, unsigned len,
                     unsigned access)
{
	unsigned fl;
	cpu->cur = i;
	unsigned first = first_part(a, len);
	page_host(cpu, a, access | CPU_ACCESS_WRITE, &fl);
	if (first < len)
		page_host(cpu, a + first, access | CPU_ACCESS_WRITE, &fl);
}
