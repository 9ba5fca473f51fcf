/*
 * The guest-physical memory map of one VM on the software CPU, shared by
 * all of its vCPUs (docs/softcpu.md, "The soft MMU"): RAM slots (guest
 * range -> host memory, the accelerator's map_ram); every other address
 * is MMIO and goes to cpu->sys->mmio.
 *
 * It also records, per 4 KiB RAM page, which vCPUs may hold decoded code
 * from the page (one bit per vCPU), which is how a write by one vCPU finds
 * the code another vCPU must drop (sysmem.c).
 *
 * Threads: slots are added before any vCPU runs and never change after
 * that, so lookups take no lock. vCPUs register (sysmem attach) before they
 * run and unregister after they stopped; the registry has a mutex. The
 * code bits are atomics.
 */
#ifndef EMBER_ACCEL_SOFT_PHYSMAP_H
#define EMBER_ACCEL_SOFT_PHYSMAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

#define PHYSMAP_MAX_SLOTS 16
#define PHYSMAP_MAX_CPUS  64 /* LAYOUT_MAX_VCPUS: one code bit each */
#define PHYSMAP_PAGE      4096ULL

struct physmap_slot {
	uint64_t gpa, size; /* page-aligned */
	uint8_t *host;
	_Atomic uint64_t *code; /* per page: bit k = vCPU k may hold decoded code from it */
};

struct physmap;

struct physmap *physmap_create(void);
/* Frees the map (not the RAM it points to). Accepts NULL. */
void physmap_destroy(struct physmap *pm);
/*
 * Adds RAM [gpa, gpa+size) backed by host (page-aligned, outliving the
 * map). Only before vCPUs run. 0, -EINVAL (misaligned, empty, overlapping),
 * -ENOSPC (too many slots) or -ENOMEM.
 */
int physmap_add_ram(struct physmap *pm, uint64_t gpa, uint64_t size, void *host) must_check;
/* The RAM slot holding gpa, or NULL (MMIO). Any thread. */
const struct physmap_slot *physmap_find(const struct physmap *pm, uint64_t gpa);
/* Host pointer for [gpa, gpa+len) when it is RAM of one slot, else NULL. Any thread. */
void *physmap_ptr(const struct physmap *pm, uint64_t gpa, uint64_t len);
/* The inverse: the slot whose RAM holds host, with its guest-physical address. */
const struct physmap_slot *physmap_find_host(const struct physmap *pm, const void *host,
                                             uint64_t *gpa);

/* The code bits of the RAM page holding gpa (s = physmap_find(pm, gpa)). */
static inline _Atomic uint64_t *physmap_code_word(const struct physmap_slot *s, uint64_t gpa)
{
	return &s->code[(gpa - s->gpa) / PHYSMAP_PAGE];
}

/*
 * The vCPU registry: a vCPU's per-CPU memory state (opaque here) gets an
 * index, its bit in the code words. -ENOSPC when full.
 */
int physmap_cpu_register(struct physmap *pm, void *state) must_check;
void physmap_cpu_unregister(struct physmap *pm, int index);
/* The state registered at index, or NULL. */
void *physmap_cpu_state(struct physmap *pm, int index);

/* Bumped whenever a RAM page gets its first code bit (sysmem.c). */
_Atomic uint64_t *physmap_code_gen(struct physmap *pm);

#endif
