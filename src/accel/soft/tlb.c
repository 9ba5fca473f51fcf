/*
 * Soft-TLB maintenance (cpu.h, docs/softcpu.md "The soft MMU"): flushes for
 * CR3 loads (global pages survive when CR4.PGE is set, SDM vol. 3, 4.10.2.4),
 * full flushes for paging-mode changes, INVLPG (4.10.4.1: the page's
 * translation whatever its size, global or not), and the swap between the
 * two privilege levels' TLBs.
 *
 * There is one TLB per privilege (CPL 3 and CPL 0-2): an entry filled by
 * the kernel for a supervisor page must never serve a user access, and the
 * fast path in mem.h cannot afford a privilege check. The current one is
 * cpu->tlb (fixed address: the fast path indexes it directly); the other
 * waits in cpu->tlb_alt and the two are exchanged when the privilege
 * changes (code_cache_set_mode), which costs a 16 KiB copy per kernel entry
 * or exit instead of a refill of the kernel's working set.
 */
#include <string.h>

#include "accel/soft/codecache.h"
#include "accel/soft/mem.h"
#include "accel/soft/tlb.h"

#define CR4_PGE (1ULL << 7)

/* Clears the entries of one bank; keep_global leaves global pages. */
static void bank_flush(struct cpu_tlb_entry *tlb, uint8_t *info, bool keep_global)
{
	for (unsigned k = 0; k < CPU_TLB_SIZE; k++) {
		if (keep_global && (info[k] & TLBE_GLOBAL))
			continue;
		tlb_entry_clear(&tlb[k]);
		tlb[k].addend = 0;
		info[k] = 0;
	}
}

void cpu_tlb_flush(struct cpu *cpu)
{
	bool keep = !cpu->user && (cpu->cr4 & CR4_PGE);
	bank_flush(cpu->tlb, cpu->tlb_global, keep);
	bank_flush(cpu->tlb_alt, cpu->tlb_alt_global, keep);
	/* The jump caches map virtual RIPs: they may now reach other code. */
	if (!cpu->user && cpu->cache) {
		if (keep)
			code_cache_jc_flush_nonglobal(cpu);
		else
			code_cache_jc_flush(cpu);
	}
}

void cpu_tlb_flush_all(struct cpu *cpu)
{
	bank_flush(cpu->tlb, cpu->tlb_global, false);
	bank_flush(cpu->tlb_alt, cpu->tlb_alt_global, false);
	if (!cpu->user && cpu->cache)
		code_cache_jc_flush(cpu);
}

/* Drops vaddr's page and any large-page entry of the same 1 GiB region. */
static void bank_flush_page(struct cpu_tlb_entry *tlb, uint8_t *info, uint64_t vaddr)
{
	uint64_t page = vaddr & SOFT_PAGE_MASK;
	unsigned k = (unsigned)(vaddr >> 12) & (CPU_TLB_SIZE - 1);
	if (tlb_entry_page(&tlb[k]) == page) {
		tlb_entry_clear(&tlb[k]);
		info[k] = 0;
	}
	for (k = 0; k < CPU_TLB_SIZE; k++) {
		if (!(info[k] & TLBE_LARGE))
			continue;
		uint64_t p = tlb_entry_page(&tlb[k]);
		if (p != TLB_TAG_EMPTY && (p ^ vaddr) >> 30 == 0) {
			tlb_entry_clear(&tlb[k]);
			info[k] = 0;
		}
	}
}

void cpu_tlb_flush_page(struct cpu *cpu, uint64_t vaddr)
{
	bank_flush_page(cpu->tlb, cpu->tlb_global, vaddr);
	bank_flush_page(cpu->tlb_alt, cpu->tlb_alt_global, vaddr);
	if (!cpu->user && cpu->cache)
		code_cache_jc_flush_page(cpu, vaddr);
}

/* Exchanges n bytes (a multiple of 8) in one pass. */
static void swap_words(void *restrict x, void *restrict y, size_t n)
{
	uint64_t *a = x, *b = y;
	for (size_t k = 0; k < n / 8; k++) {
		uint64_t t = a[k];
		a[k] = b[k];
		b[k] = t;
	}
}

void tlb_set_user(struct cpu *cpu, bool user)
{
	if (cpu->tlb_user == user)
		return;
	swap_words(cpu->tlb, cpu->tlb_alt, sizeof(cpu->tlb));
	swap_words(cpu->tlb_global, cpu->tlb_alt_global, sizeof(cpu->tlb_global));
	cpu->tlb_user = user;
}

/* Drops the write permission of every entry whose writes skip the slow path. */
static void bank_drop_writes(struct cpu_tlb_entry *tlb)
{
	for (unsigned k = 0; k < CPU_TLB_SIZE; k++)
		if (tlb[k].tag_write != TLB_TAG_EMPTY && !(tlb[k].tag_write & TLB_CODE))
			tlb[k].tag_write = TLB_TAG_EMPTY;
}

void tlb_drop_fast_writes(struct cpu *cpu)
{
	bank_drop_writes(cpu->tlb);
	bank_drop_writes(cpu->tlb_alt);
}

static void bank_drop_host(struct cpu_tlb_entry *tlb, uint8_t *info, uintptr_t hpage)
{
	for (unsigned k = 0; k < CPU_TLB_SIZE; k++) {
		struct cpu_tlb_entry *e = &tlb[k];
		uint64_t page = tlb_entry_page(e);
		if (page != TLB_TAG_EMPTY && !(info[k] & TLBE_MMIO) &&
		    (uintptr_t)((intptr_t)page + e->addend) == hpage) {
			tlb_entry_clear(e);
			info[k] = 0;
		}
	}
}

void tlb_drop_host(struct cpu *cpu, uintptr_t hpage)
{
	bank_drop_host(cpu->tlb, cpu->tlb_global, hpage);
	bank_drop_host(cpu->tlb_alt, cpu->tlb_alt_global, hpage);
}
