/*
 * The guest-physical memory map of a software-CPU VM (physmap.h): a short
 * array of RAM slots searched linearly (a VM has two or three: low RAM,
 * high RAM above the PCI hole), the per-page code bits and the vCPU
 * registry.
 */
#include "accel/soft/physmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

struct physmap {
	struct physmap_slot slot[PHYSMAP_MAX_SLOTS];
	unsigned nr_slots;
	_Atomic uint64_t code_gen;
	pthread_mutex_t lock; /* cpus[] */
	void *_Atomic cpus[PHYSMAP_MAX_CPUS];
};

struct physmap *physmap_create(void)
{
	struct physmap *pm = calloc(1, sizeof(*pm));
	if (pm)
		pthread_mutex_init(&pm->lock, NULL);
	return pm;
}

static size_t code_bytes(uint64_t size)
{
	return (size_t)(size / PHYSMAP_PAGE) * sizeof(uint64_t);
}

void physmap_destroy(struct physmap *pm)
{
	if (!pm)
		return;
	for (unsigned k = 0; k < pm->nr_slots; k++)
		munmap((void *)pm->slot[k].code, code_bytes(pm->slot[k].size));
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

int physmap_add_ram(struct physmap *pm, uint64_t gpa, uint64_t size, void *host)
{
	if (!size || ((gpa | size | (uintptr_t)host) & (PHYSMAP_PAGE - 1)) || gpa + size < gpa)
		return -EINVAL;
	for (unsigned k = 0; k < pm->nr_slots; k++) {
		const struct physmap_slot *s = &pm->slot[k];
		if (gpa < s->gpa + s->size && s->gpa < gpa + size)
			return -EINVAL;
	}
	if (pm->nr_slots == PHYSMAP_MAX_SLOTS)
		return -ENOSPC;
	/* Zero pages on demand: only pages that ever held code cost memory. */
	void *code = mmap(NULL, code_bytes(size), PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (code == MAP_FAILED)
		return -ENOMEM;
	pm->slot[pm->nr_slots++] =
	    (struct physmap_slot){.gpa = gpa, .size = size, .host = host, .code = code};
	return 0;
}

const struct physmap_slot *physmap_find(const struct physmap *pm, uint64_t gpa)
{
	for (unsigned k = 0; k < pm->nr_slots; k++) {
		const struct physmap_slot *s = &pm->slot[k];
		if (gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

void *physmap_ptr(const struct physmap *pm, uint64_t gpa, uint64_t len)
{
	const struct physmap_slot *s = physmap_find(pm, gpa);
	if (!s || len > s->size - (gpa - s->gpa))
		return NULL;
	return s->host + (gpa - s->gpa);
}

const struct physmap_slot *physmap_find_host(const struct physmap *pm, const void *host,
                                             uint64_t *gpa)
{
	for (unsigned k = 0; k < pm->nr_slots; k++) {
		const struct physmap_slot *s = &pm->slot[k];
		uintptr_t off = (uintptr_t)host - (uintptr_t)s->host;
		if (off < s->size) {
			*gpa = s->gpa + off;
			return s;
		}
	}
	return NULL;
}

int physmap_cpu_register(struct physmap *pm, void *state)
{
	int index = -ENOSPC;
	pthread_mutex_lock(&pm->lock);
	for (int k = 0; k < PHYSMAP_MAX_CPUS; k++) {
		if (!atomic_load(&pm->cpus[k])) {
			atomic_store(&pm->cpus[k], state);
			index = k;
			break;
		}
	}
	pthread_mutex_unlock(&pm->lock);
	return index;
}

void physmap_cpu_unregister(struct physmap *pm, int index)
{
	if (index < 0 || index >= PHYSMAP_MAX_CPUS)
		return;
	pthread_mutex_lock(&pm->lock);
	atomic_store(&pm->cpus[index], NULL);
	pthread_mutex_unlock(&pm->lock);
}

void *physmap_cpu_state(struct physmap *pm, int index)
{
	return atomic_load_explicit(&pm->cpus[index], memory_order_acquire);
}

_Atomic uint64_t *physmap_code_gen(struct physmap *pm)
{
	return &pm->code_gen;
}
