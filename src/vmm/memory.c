/* Guest RAM: one anonymous mapping laid out around the 32-bit MMIO hole. */
#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/layout.h"

int guest_memory_init(struct guest_memory *mem, uint64_t ram_size)
{
	memset(mem, 0, sizeof(*mem));
	if (ram_size == 0 || ram_size % 4096)
		return -EINVAL;
	/* MAP_NORESERVE: a guest that never touches its RAM costs the host nothing. */
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Transparent huge pages cut EPT/TLB misses for big guests. */
	madvise(p, ram_size, MADV_HUGEPAGE);
	mem->mapping = p;
	mem->mapping_size = ram_size;
	mem->ram_size = ram_size;

	uint64_t low = MIN(ram_size, LAYOUT_MMIO_HOLE_GPA);
	mem->regions[0] = (struct guest_region){.gpa = 0, .size = low, .hva = p};
	mem->nr_regions = 1;
	if (ram_size > low) {
		mem->regions[1] = (struct guest_region){
			.gpa = LAYOUT_HIGH_RAM_GPA, .size = ram_size - low, .hva = (uint8_t *)p + low};
		mem->nr_regions = 2;
	}
	return 0;
}

void guest_memory_fini(struct guest_memory *mem)
{
	if (mem->mapping)
		munmap(mem->mapping, mem->mapping_size);
	memset(mem, 0, sizeof(*mem));
}

void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		/* Written so that no sum can overflow: gpa - r->gpa only when gpa >= r->gpa. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->hva + off;
	}
	return NULL;
}

int guest_memory_write(const struct guest_memory *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_memory_ptr(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_memory_read(const struct guest_memory *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = guest_memory_ptr(mem, gpa, len);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_memory_low_end(const struct guest_memory *mem)
{
	return mem->nr_regions ? mem->regions[0].size : 0;
}
