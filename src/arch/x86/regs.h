/*
 * The CPU state a boot loader leaves behind.
 *
 * x86_setup_long_mode writes a GDT (null, 64-bit code 0x10, data 0x18, TSS
 * 0x20 as Linux's boot protocol expects __BOOT_CS/__BOOT_DS) and identity
 * page tables for the first 4 GiB (2 MiB pages) into guest memory at the
 * addresses of layout.h, and fills sregs for 64-bit mode: CR0 PE|PG|ET|NE,
 * CR4 PAE, EFER LME|LMA, CR3 = PML4.
 * x86_setup_flat32 writes a GDT with 32-bit flat code/data and fills sregs
 * for protected mode without paging (the PVH entry).
 */
#ifndef EMBER_ARCH_X86_REGS_H
#define EMBER_ARCH_X86_REGS_H

#include "arch/x86/cpu_state.h"
#include "core/macros.h"
#include "vmm/memory.h"

int x86_setup_long_mode(struct guest_memory *mem, struct x86_sregs *sregs) must_check;
int x86_setup_flat32(struct guest_memory *mem, struct x86_sregs *sregs) must_check;
/* A GDT descriptor's 8 bytes -> the cached segment state the CPU loads. */
struct x86_segment x86_segment_from_gdt(uint64_t descriptor, uint16_t selector);

#endif
