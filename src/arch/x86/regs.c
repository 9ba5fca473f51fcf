/*
 * The CPU state a boot loader leaves behind: boot GDT, identity page tables
 * and the segment/control registers for the two entry modes ember offers.
 *
 * 64-bit entry: Linux x86 boot protocol (Documentation/arch/x86/boot.rst,
 * "64-bit Boot Protocol"): long mode with paging, a GDT with flat 4 GiB
 * descriptors at __BOOT_CS = 0x10 and __BOOT_DS = 0x18, CS = __BOOT_CS,
 * DS/ES/SS = __BOOT_DS, the kernel image, zero page and command line
 * identity mapped.
 * 32-bit entry: Xen PVH boot ABI (docs/misc/pvh.pandoc): protected mode,
 * paging off, CR0.PE only, flat 32-bit CS/DS/ES/SS, TR a 32-bit busy TSS
 * with base 0 and limit 0x67.
 *
 * Both GDTs have the same five slots: 0 and 1 null, 2 code (0x10), 3 data
 * (0x18), 4 TSS (0x20). KVM insists on a usable busy TSS in TR even though
 * neither kernel ever uses this one; it lives at base 0, limit 0x67.
 */
#include "arch/x86/regs.h"

#include <assert.h>
#include <string.h>

#include "arch/x86/layout.h"

#define GDT_SEL_CODE 0x10
#define GDT_SEL_DATA 0x18
#define GDT_SEL_TSS  0x20
#define GDT_ENTRIES  5

/* Accessed bits are set: VMX refuses code/data segments whose type lacks them. */
#define GDT_DESC_CODE64 0x00af9b000000ffffULL /* G, L, P, DPL 0, S, exec/read */
#define GDT_DESC_CODE32 0x00cf9b000000ffffULL /* G, D, P, DPL 0, S, exec/read */
#define GDT_DESC_DATA   0x00cf93000000ffffULL /* G, B, P, DPL 0, S, read/write */
#define GDT_DESC_TSS    0x00008b0000000067ULL /* P, type 11 (32-bit busy TSS), limit 0x67 */

/* Page-table entry bits. */
#define PTE_P           (1ULL << 0)
#define PTE_RW          (1ULL << 1)
#define PTE_PS          (1ULL << 7)
#define PT_ENTRIES      512
#define PT_PAGE_SIZE    4096ULL
#define LARGE_PAGE_SIZE MIB(2)
#define IDENTITY_PDS    4 /* 4 PDs x 512 x 2 MiB = 4 GiB */

/* IA32_APIC_BASE of the bootstrap processor after reset: enabled, BSP, default base. */
#define APIC_BASE_BSP    (1ULL << 8)
#define APIC_BASE_ENABLE (1ULL << 11)

static_assert(GDT_SEL_TSS / 8 == GDT_ENTRIES - 1, "TSS is the last GDT slot");
static_assert(LAYOUT_PDPT_GPA == LAYOUT_PML4_GPA + PT_PAGE_SIZE, "page tables are contiguous");
static_assert(LAYOUT_PD_GPA == LAYOUT_PDPT_GPA + PT_PAGE_SIZE, "page tables are contiguous");
static_assert(LAYOUT_PD_GPA + IDENTITY_PDS * PT_PAGE_SIZE <= LAYOUT_CMDLINE_GPA,
              "page tables end below the command line");
static_assert(LAYOUT_GDT_GPA + GDT_ENTRIES * 8 <= LAYOUT_PVH_INFO_GPA,
              "GDT ends below the PVH start info");

struct x86_segment x86_segment_from_gdt(uint64_t descriptor, uint16_t selector)
{
	struct x86_segment seg = {0};
	uint64_t d = descriptor;

	seg.selector = selector;
	seg.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	seg.limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
	seg.type = (d >> 40) & 0xf;
	seg.s = (d >> 44) & 1;
	seg.dpl = (d >> 45) & 3;
	seg.present = (d >> 47) & 1;
	seg.avl = (d >> 52) & 1;
	seg.l = (d >> 53) & 1;
	seg.db = (d >> 54) & 1;
	seg.g = (d >> 55) & 1;
	/* The descriptor cache holds the byte-granular limit. */
	if (seg.g)
		seg.limit = (seg.limit << 12) | 0xfff;
	seg.unusable = !seg.present;
	return seg;
}

/*
 * Writes the five-slot GDT with the given code descriptor and loads every
 * segment register, GDTR and IDTR in sregs from it.
 */
static int setup_gdt(struct guest_memory *mem, uint64_t code, struct x86_sregs *sregs)
{
	const uint64_t gdt[GDT_ENTRIES] = {0, 0, code, GDT_DESC_DATA, GDT_DESC_TSS};
	int rc = guest_memory_write(mem, LAYOUT_GDT_GPA, gdt, sizeof(gdt));
	if (rc)
		return rc;

	sregs->gdt = (struct x86_dtable){.base = LAYOUT_GDT_GPA, .limit = sizeof(gdt) - 1};
	/*
	 * An empty IDT: any interrupt before the kernel loads its own one is a
	 * triple fault, which is the honest outcome. With limit 0 the bytes at
	 * its base are never read, so nothing is written there (the fifth GDT
	 * slot, 0x520..0x527, shares them with LAYOUT_IDT_GPA harmlessly).
	 */
	sregs->idt = (struct x86_dtable){.base = LAYOUT_IDT_GPA, .limit = 0};

	sregs->cs = x86_segment_from_gdt(gdt[GDT_SEL_CODE / 8], GDT_SEL_CODE);
	struct x86_segment data = x86_segment_from_gdt(gdt[GDT_SEL_DATA / 8], GDT_SEL_DATA);
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	sregs->tr = x86_segment_from_gdt(gdt[GDT_SEL_TSS / 8], GDT_SEL_TSS);
	/* No LDT: type 2 (LDT) but marked unusable, which VMX accepts for LDTR. */
	sregs->ldt = (struct x86_segment){.type = 2, .unusable = 1};
	sregs->apic_base = LAYOUT_LAPIC_GPA | APIC_BASE_ENABLE | APIC_BASE_BSP;
	return 0;
}

/* PML4[0] -> PDPT, PDPT[0..3] -> four PDs of 2 MiB pages: 0..4 GiB mapped 1:1. */
static int setup_identity_map(struct guest_memory *mem)
{
	uint64_t page[PT_ENTRIES];
	int rc;

	memset(page, 0, sizeof(page));
	page[0] = LAYOUT_PDPT_GPA | PTE_P | PTE_RW;
	rc = guest_memory_write(mem, LAYOUT_PML4_GPA, page, sizeof(page));
	if (rc)
		return rc;

	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < IDENTITY_PDS; i++)
		page[i] = (LAYOUT_PD_GPA + i * PT_PAGE_SIZE) | PTE_P | PTE_RW;
	rc = guest_memory_write(mem, LAYOUT_PDPT_GPA, page, sizeof(page));
	if (rc)
		return rc;

	for (unsigned i = 0; i < IDENTITY_PDS; i++) {
		for (unsigned j = 0; j < PT_ENTRIES; j++) {
			uint64_t gpa = ((uint64_t)i * PT_ENTRIES + j) * LARGE_PAGE_SIZE;
			page[j] = gpa | PTE_P | PTE_RW | PTE_PS;
		}
		rc = guest_memory_write(mem, LAYOUT_PD_GPA + i * PT_PAGE_SIZE, page, sizeof(page));
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Writes the boot GDT and identity page tables into guest memory and fills
 * sregs for 64-bit mode. Returns 0 or -EFAULT when RAM does not reach the
 * page tables. Called before any vCPU runs.
 */
int x86_setup_long_mode(struct guest_memory *mem, struct x86_sregs *sregs)
{
	memset(sregs, 0, sizeof(*sregs));
	int rc = setup_gdt(mem, GDT_DESC_CODE64, sregs);
	if (rc)
		return rc;
	rc = setup_identity_map(mem);
	if (rc)
		return rc;
	sregs->cr3 = LAYOUT_PML4_GPA;
	sregs->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_NE;
	sregs->cr4 = X86_CR4_PAE;
	sregs->efer = X86_EFER_LME | X86_EFER_LMA;
	return 0;
}

/*
 * Writes the boot GDT with 32-bit flat segments and fills sregs for
 * protected mode without paging (PVH entry). Returns 0 or -EFAULT.
 */
int x86_setup_flat32(struct guest_memory *mem, struct x86_sregs *sregs)
{
	memset(sregs, 0, sizeof(*sregs));
	int rc = setup_gdt(mem, GDT_DESC_CODE32, sregs);
	if (rc)
		return rc;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs->cr4 = 0;
	sregs->efer = 0;
	return 0;
}
