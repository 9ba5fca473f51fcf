/*
 * System-mode memory for the software CPU (docs/softcpu.md, "The soft
 * MMU"): the cpu_mem_ops that walk the guest's page tables over a physical
 * map shared by all vCPUs of a VM (physmap.h).
 *
 * Use (the accelerator, before the vCPU threads run):
 *     struct physmap *pm = physmap_create();
 *     physmap_add_ram(pm, gpa, size, host);          (each RAM range)
 *     cpu_init_system(cpu, &sysmem_ops, pm);         (or set cpu->mem/mem_ctx and
 *                                                     call sysmem_ops.attach(cpu))
 * attach registers the vCPU with the map (its code bit) and replaces
 * cpu->mem_ctx by the vCPU's own state; cpu_fini (detach) undoes it. The
 * map must outlive its vCPUs.
 *
 * Translation (SDM vol. 3, chapter 4): CR0.PG = 0: linear = physical;
 * 4-level paging (EFER.LMA), PAE and 32-bit paging (CR4.PSE 4 MiB pages)
 * with P, R/W, U/S, NX (EFER.NXE, else bit 63 is reserved), CR0.WP, the
 * reserved bits, 2 MiB / 1 GiB / 4 MiB pages and global pages (CR4.PGE);
 * accessed and dirty bits set with atomic compare-and-swap as the walk
 * uses an entry (another vCPU may be changing it); #PF with CR2 and the
 * error code (P, W/R, U/S, RSVD, I/D when NX is on). User accesses are
 * those at CPL 3 without CPU_ACCESS_SUPERVISOR. Guest-physical addresses
 * outside RAM come back as TLB_MMIO (mem.c calls mmio: cpu->sys->mmio); an
 * instruction fetch from them is #GP(0), logged.
 *
 * Code: a fetch marks the RAM page as holding code of this vCPU; every
 * vCPU's writes to such a page take the slow path (TLB_CODE), and the
 * writer drops its own blocks and posts the range to the other vCPUs with
 * code there; they drop theirs at their next block boundary (mem_pending,
 * sysmem sync from code_cache_reap). When a page first becomes code, the
 * other vCPUs drop their fast write entries the same way.
 */
#ifndef EMBER_ACCEL_SOFT_SYSMEM_H
#define EMBER_ACCEL_SOFT_SYSMEM_H

#include "accel/soft/cpu.h"
#include "accel/soft/physmap.h"

/* mem_ctx for cpu init: the struct physmap. */
extern const struct cpu_mem_ops sysmem_ops;

/* The physical map of a CPU using sysmem_ops (after attach). */
struct physmap *sysmem_physmap(const struct cpu *cpu);

/*
 * A device (DMA) or the VMM wrote guest RAM [gpa, gpa+len) behind the
 * CPUs' backs: every vCPU holding decoded code from those bytes drops it
 * before it runs another block. Any thread; cheap when no code is there.
 */
void sysmem_dma_written(struct physmap *pm, uint64_t gpa, uint64_t len);

/*
 * Translates vaddr for access like an instruction would, without touching
 * the TLB (debuggers, the lockstep tool): the guest-physical address, or
 * -1 with *error set to the #PF error code it would raise (nothing is
 * raised, no A/D bit is set).
 */
uint64_t sysmem_debug_translate(struct cpu *cpu, uint64_t vaddr, unsigned access, uint32_t *error);

#endif
