/*
 * The split virtqueue, device side (virtio 1.2 section 2.7): descriptor
 * table (2.7.5), indirect descriptors (2.7.5.3), available ring (2.7.6),
 * used ring (2.7.8), and notification suppression both ways (2.7.7,
 * 2.7.10: VIRTQ_AVAIL_F_NO_INTERRUPT and VIRTIO_F_EVENT_IDX).
 *
 * Every value the driver supplies is checked before use: queue size,
 * ring addresses and alignment, descriptor indices, chain lengths (no
 * loops), indirect tables, every buffer range [addr, addr+len) against
 * guest RAM, and the available index. A violation marks the queue broken
 * and reports it to the owning device (virtio_device_fail: NEEDS_RESET).
 *
 * The guest runs on other vCPUs while the device reads the rings: the
 * available index is loaded with acquire, the used index stored with
 * release, and each descriptor is copied once into host memory before it
 * is checked, so a racing guest cannot change a value between its check
 * and its use. Ring fields are little-endian; ember runs on x86-64 hosts.
 *
 * Threads: configuration (size, addresses, ready) under the device lock
 * from vCPU threads; pop/push/notify decisions on the VMM thread, also
 * under the device lock. One consumer per queue.
 */
#ifndef EMBER_DEVICES_VIRTIO_QUEUE_H
#define EMBER_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"
#include "vmm/memory.h"

#define VIRTQ_DESC_F_NEXT          1u
#define VIRTQ_DESC_F_WRITE         2u
#define VIRTQ_DESC_F_INDIRECT      4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u

/* The split ring's limit (2.7: Queue Size <= 32768). */
#define VIRTQ_MAX_SIZE 32768u
/* Our limit on one indirect table (entries). Linux uses one entry per
 * scatter-gather element, far below this. */
#define VIRTQ_INDIRECT_MAX 1024u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One guest buffer of a chain, already translated and range-checked. */
struct virtq_seg {
	uint8_t *ptr;
	uint32_t len;
	bool writable;
};

/* A popped chain: readable segments first, then writable ones. The
 * segments live in the queue and stay valid until the next pop. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_segs, nr_readable;
	uint64_t readable_len, writable_len;
	struct virtq_seg *segs;
};

struct virtio_device;

struct virtq {
	/* Set by the transport (device lock held). */
	uint16_t max_size;
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Device-side state. */
	unsigned index;
	struct virtio_device *dev; /* told about violations; may be NULL */
	const struct guest_memory *mem;
	bool mapped, broken, event_idx, indirect;
	uint8_t *desc;  /* size * 16 bytes */
	uint8_t *avail; /* flags, idx, ring[size], used_event */
	uint8_t *used;  /* flags, idx, ring[size], avail_event */
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used; /* used_idx when the driver was last considered for an interrupt */
	/* Bumped by every virtq_map: chains popped before a reset belong to an
	 * older generation, and a device that completes them later (virtio-blk)
	 * drops them instead of pushing into the new rings. */
	uint32_t generation;
	struct virtq_seg *segs;
	unsigned seg_cap;
};

/* Allocates the segment store for a queue of at most max_size entries
 * (a power of 2, 1..VIRTQ_MAX_SIZE). Builder thread. 0 or -errno. */
int virtq_init(struct virtq *q, struct virtio_device *dev, unsigned index,
               const struct guest_memory *mem, uint16_t max_size) must_check;
void virtq_fini(struct virtq *q);
/* Forgets the driver's configuration: not ready, size = max, no rings. */
void virtq_reset(struct virtq *q);
/*
 * Checks the driver's configuration and translates the rings: the size
 * a power of 2 <= max_size; desc 16-aligned, avail 2-aligned, used
 * 4-aligned; each whole ring inside guest RAM. features is the
 * negotiated set (EVENT_IDX, INDIRECT_DESC). 0, or -EINVAL after
 * reporting the violation. Called by virtq_pop on first use.
 */
int virtq_map(struct virtq *q, uint64_t features) must_check;
/*
 * Takes the next available chain: 1 with *chain filled, 0 when the ring
 * is empty (with EVENT_IDX, avail_event is set first so the driver kicks
 * for the next buffer), -EIO when the queue is broken (a violation now or
 * before). VMM thread, device lock held.
 */
int virtq_pop(struct virtq *q, uint64_t features, struct virtq_chain *chain) must_check;
/* Returns a chain to the driver: used element (head, written bytes), then
 * the used index with release order. -EIO when the queue is broken. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written) must_check;
/*
 * After one or more pushes: true when the driver asked to be interrupted
 * (EVENT_IDX: used_event crossed since the last call; otherwise
 * NO_INTERRUPT clear). A full barrier orders the used index store before
 * the driver's fields are read.
 */
bool virtq_should_notify(struct virtq *q);
/* vring_need_event (2.7.7.1): true when event_idx lies in (old, new_idx]. */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* Bytes of the available / used ring of a queue of size entries. */
size_t virtq_avail_bytes(uint16_t size);
size_t virtq_used_bytes(uint16_t size);

#endif
