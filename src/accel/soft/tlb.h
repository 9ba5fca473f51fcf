/*
 * Soft-TLB maintenance inside the software CPU (tlb.c); the flushes other
 * code calls (cpu_tlb_flush, cpu_tlb_flush_all, cpu_tlb_flush_page) are
 * declared in cpu.h.
 */
#ifndef EMBER_ACCEL_SOFT_TLB_H
#define EMBER_ACCEL_SOFT_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/soft/cpu.h"

/* cpu->tlb_global[k]: what the entry maps, beyond its tags. */
#define TLBE_GLOBAL 1u /* a global page: survives cpu_tlb_flush while CR4.PGE is set */
#define TLBE_LARGE  2u /* part of a 2 MiB / 4 MiB / 1 GiB page (INVLPG drops it wholesale) */
#define TLBE_MMIO   4u /* addend leads to the guest-physical address, not to host memory */

/* Makes cpu->tlb the TLB of CPL 3 (user) or CPL 0-2 (swapping the banks). */
void tlb_set_user(struct cpu *cpu, bool user);
/* Forces every write to take the slow path once more (a page became code). */
void tlb_drop_fast_writes(struct cpu *cpu);
/* Drops the entries (both banks) that map host page hpage. */
void tlb_drop_host(struct cpu *cpu, uintptr_t hpage);

#endif
