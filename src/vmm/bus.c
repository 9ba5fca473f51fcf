/*
 * The I/O bus: a sorted array of ranges behind one atomic pointer, searched
 * by binary search on every exit without a lock.
 */
#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	struct bus_map *empty = calloc(1, sizeof(*empty));
	atomic_store(&bus->map, empty);
}

void bus_fini(struct bus *bus)
{
	free(atomic_load(&bus->map));
	atomic_store(&bus->map, NULL);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access, void *opaque,
		 const char *name)
{
	if (len == 0 || base + len < base || !access)
		return -EINVAL;
	if (bus->sealed)
		return -EBUSY;
	struct bus_map *old = atomic_load(&bus->map);
	size_t pos = 0;
	while (pos < old->nr && old->ranges[pos].base < base)
		pos++;
	/* Neighbours on both sides must end before / start after the new range. */
	if (pos > 0) {
		const struct bus_range *prev = &old->ranges[pos - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < old->nr && old->ranges[pos].base < base + len)
		return -EEXIST;

	struct bus_map *map = malloc(sizeof(*map) + (old->nr + 1) * sizeof(map->ranges[0]));
	if (!map)
		return -ENOMEM;
	map->nr = old->nr + 1;
	memcpy(map->ranges, old->ranges, pos * sizeof(map->ranges[0]));
	map->ranges[pos] = (struct bus_range){base, len, access, opaque, name};
	memcpy(&map->ranges[pos + 1], &old->ranges[pos], (old->nr - pos) * sizeof(map->ranges[0]));
	atomic_store_explicit(&bus->map, map, memory_order_release);
	/* Safe only because no vCPU runs before the bus is sealed (see bus.h). */
	free(old);
	return 0;
}

void bus_seal(struct bus *bus)
{
	bus->sealed = true;
}

const struct bus_range *bus_find(struct bus *bus, uint64_t addr)
{
	const struct bus_map *map = atomic_load_explicit(&bus->map, memory_order_acquire);
	size_t lo = 0, hi = map->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &map->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t size, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	if (likely(r && size <= r->len - (addr - r->base))) {
		r->access(r->opaque, addr - r->base, data, size, is_write);
		return true;
	}
	if (is_write) {
		atomic_fetch_add_explicit(&bus->unclaimed_writes, 1, memory_order_relaxed);
	} else {
		memset(data, 0xff, size);
		atomic_fetch_add_explicit(&bus->unclaimed_reads, 1, memory_order_relaxed);
	}
	return false;
}
