/*
 * Guest RAM: one anonymous MAP_NORESERVE mapping, split around the 32-bit
 * MMIO hole: the first min(size, 3 GiB) at guest-physical 0, the rest at
 * 4 GiB. Every translation from a guest-physical range to a host pointer
 * goes through guest_memory_ptr, which checks the whole range (with
 * overflow checks), not just its start.
 */
#ifndef EMBER_VMM_MEMORY_H
#define EMBER_VMM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

#define GUEST_MEMORY_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_memory {
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_size;
	void *mapping;
	size_t mapping_size;
	/* Told about RAM devices write behind the vCPUs (DMA), NULL when the
	 * accelerator does not care (guest_memory_dma_written). */
	void (*dma_written)(void *ctx, uint64_t gpa, uint64_t len);
	void *dma_ctx;
};

/*
 * A device is about to write [gpa, gpa+len) of guest RAM (a device-writable
 * virtio buffer): an accelerator that caches decoded guest code (the
 * software CPU) drops what came from there. Any thread.
 */
static inline void guest_memory_dma_written(const struct guest_memory *mem, uint64_t gpa,
                                            uint64_t len)
{
	if (mem->dma_written)
		mem->dma_written(mem->dma_ctx, gpa, len);
}

/* Maps ram_size bytes (a multiple of 4 KiB) and lays them out. */
int guest_memory_init(struct guest_memory *mem, uint64_t ram_size) must_check;
void guest_memory_fini(struct guest_memory *mem);
/* Host pointer for [gpa, gpa+len) when it lies wholly inside one region, else NULL. */
void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);
int guest_memory_write(const struct guest_memory *mem, uint64_t gpa, const void *src,
		       uint64_t len) must_check;
int guest_memory_read(const struct guest_memory *mem, uint64_t gpa, void *dst,
		      uint64_t len) must_check;
/* End of RAM below the hole (the "low RAM" size). */
uint64_t guest_memory_low_end(const struct guest_memory *mem);

#endif
