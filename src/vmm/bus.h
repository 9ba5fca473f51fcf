/*
 * The I/O bus: maps port-I/O or MMIO address ranges to device handlers.
 *
 * Registration happens on the VMM thread before vCPUs run and rejects
 * overlaps. The lookup on a vCPU exit takes no lock: it reads the current
 * immutable range map through one atomic pointer load. Replacing the map
 * while vCPUs run (hotplug) needs a grace period before the old map is
 * freed; until then bus_register refuses once the bus is sealed.
 */
#ifndef EMBER_VMM_BUS_H
#define EMBER_VMM_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

/* offset is relative to the range's base; size is 1, 2, 4 or 8. */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			      bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_access_fn access;
	void *opaque;
	const char *name;
};

struct bus_map {
	size_t nr;
	struct bus_range ranges[]; /* sorted by base, non-overlapping */
};

struct bus {
	const char *name;
	_Atomic(struct bus_map *) map;
	bool sealed;
	_Atomic uint64_t unclaimed_reads, unclaimed_writes;
};

void bus_init(struct bus *bus, const char *name);
void bus_fini(struct bus *bus);
/* -EINVAL for an empty or wrapping range, -EEXIST on overlap, -EBUSY once sealed. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access, void *opaque,
		 const char *name) must_check;
/* Called when vCPUs start: the map is immutable from here on. */
void bus_seal(struct bus *bus);
/*
 * Dispatches one access from a vCPU thread. An access not wholly inside
 * one range is unclaimed: reads return all ones, writes are dropped, and
 * both are counted. Returns true when a device claimed it.
 */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t size, bool is_write);
/* The range holding addr, or NULL (for tests and diagnostics). */
const struct bus_range *bus_find(struct bus *bus, uint64_t addr);

#endif
