/*
 * The split virtqueue, device side (virtio 1.2 section 2.7; see queue.h).
 *
 * Rules enforced here, each a violation (NEEDS_RESET) when broken:
 *  - 2.7 / 4.2.2: queue size a power of 2 and <= QueueNumMax; rings
 *    aligned (desc 16, avail 2, used 4) and wholly inside guest RAM.
 *  - 2.7.6: the available index moves by at most the queue size.
 *  - 2.7.5: descriptor indices < queue size; a chain no longer than the
 *    table it lives in (so a loop is caught); driver-readable buffers
 *    before driver-writable ones; every [addr, addr+len) inside RAM.
 *  - 2.7.5.3: INDIRECT only when negotiated, never with NEXT, never
 *    inside an indirect table; the table's length a non-zero multiple of
 *    16 and at most VIRTQ_INDIRECT_MAX entries, inside RAM. ember also
 *    requires the indirect descriptor to be the chain's only top-level
 *    descriptor (what Linux does), which keeps one chain = one table.
 *  - A chain that carries no bytes at all.
 */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio/device.h"

#define VIRTQ_DESC_SIZE 16u
#define VIRTQ_RING_HDR  4u /* flags + idx */

/* Both rings always include their event field: the driver lays them out
 * the same way whether or not EVENT_IDX is negotiated (2.7). */
size_t virtq_avail_bytes(uint16_t size)
{
	return VIRTQ_RING_HDR + 2u * (size_t)size + 2u;
}

size_t virtq_used_bytes(uint16_t size)
{
	return VIRTQ_RING_HDR + sizeof(struct virtq_used_elem) * (size_t)size + 2u;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Marks the queue broken and tells the device; returns -EIO for chaining. */
static int virtq_violation(struct virtq *q, const char *what)
{
	q->broken = true;
	if (q->dev)
		virtio_device_fail(q->dev, what);
	return -EIO;
}

int virtq_init(struct virtq *q, struct virtio_device *dev, unsigned index,
               const struct guest_memory *mem, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	if (!is_pow2(max_size) || max_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	q->max_size = max_size;
	q->index = index;
	q->dev = dev;
	q->mem = mem;
	/* A direct chain has at most size descriptors, an indirect one at most
	 * VIRTQ_INDIRECT_MAX: the store holds the larger. */
	q->seg_cap = MAX((unsigned)max_size, VIRTQ_INDIRECT_MAX);
	q->segs = calloc(q->seg_cap, sizeof(*q->segs));
	if (!q->segs)
		return -ENOMEM;
	virtq_reset(q);
	return 0;
}

void virtq_fini(struct virtq *q)
{
	free(q->segs);
	q->segs = NULL;
}

void virtq_reset(struct virtq *q)
{
	q->size = q->max_size;
	q->ready = false;
	q->desc_gpa = q->avail_gpa = q->used_gpa = 0;
	q->mapped = q->broken = q->event_idx = q->indirect = false;
	q->desc = q->avail = q->used = NULL;
	q->last_avail_idx = q->used_idx = q->signalled_used = 0;
}

int virtq_map(struct virtq *q, uint64_t features)
{
	if (q->broken)
		return -EIO;
	if (!is_pow2(q->size) || q->size > q->max_size)
		return virtq_violation(q, "queue size is not a power of 2 <= QueueNumMax");
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return virtq_violation(q, "misaligned ring address");
	q->desc = guest_memory_ptr(q->mem, q->desc_gpa, (uint64_t)q->size * VIRTQ_DESC_SIZE);
	q->avail = guest_memory_ptr(q->mem, q->avail_gpa, virtq_avail_bytes(q->size));
	q->used = guest_memory_ptr(q->mem, q->used_gpa, virtq_used_bytes(q->size));
	if (!q->desc || !q->avail || !q->used)
		return virtq_violation(q, "ring outside guest RAM");
	q->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	/* A freshly enabled queue starts at index 0 on both rings (the driver
	 * hands over zeroed rings; a snapshot restore will set these). */
	q->last_avail_idx = q->used_idx = q->signalled_used = 0;
	q->generation++;
	q->mapped = true;
	return 0;
}

static uint16_t avail_idx(const struct virtq *q)
{
	/* Acquire: the ring entries and descriptors the driver wrote before
	 * publishing this index are visible once we see it (2.7.13). */
	return __atomic_load_n((uint16_t *)(q->avail + 2), __ATOMIC_ACQUIRE);
}

static uint16_t avail_ring(const struct virtq *q, uint16_t slot)
{
	return __atomic_load_n((uint16_t *)(q->avail + VIRTQ_RING_HDR + 2u * slot),
	                       __ATOMIC_RELAXED);
}

/* Publishes avail_event (2.7.10): kick me once you pass this index. */
static void set_avail_event(struct virtq *q, uint16_t idx)
{
	uint8_t *p = q->used + VIRTQ_RING_HDR + sizeof(struct virtq_used_elem) * q->size;
	__atomic_store_n((uint16_t *)p, idx, __ATOMIC_RELAXED);
}

/* Appends one buffer of a chain after checking it against RAM and order. */
static int add_seg(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (!writable && c->nr_segs > c->nr_readable)
		return virtq_violation(q, "driver-readable buffer after a writable one");
	/* guest_memory_ptr checks the whole range, overflow included. */
	uint8_t *ptr = guest_memory_ptr(q->mem, d->addr, d->len);
	if (!ptr)
		return virtq_violation(q, "buffer outside guest RAM");
	if (d->len == 0)
		return 0; /* carries nothing; the chain total decides */
	if (c->nr_segs >= q->seg_cap)
		return virtq_violation(q, "chain too long");
	c->segs[c->nr_segs++] = (struct virtq_seg){ptr, d->len, writable};
	if (writable) {
		/* The device will write there: decoded guest code from it is stale. */
		guest_memory_dma_written(q->mem, d->addr, d->len);
		c->writable_len += d->len;
	} else {
		c->nr_readable++;
		c->readable_len += d->len;
	}
	return 0;
}

/* Walks an indirect table (2.7.5.3) described by *top. */
static int walk_indirect(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *top)
{
	if (!q->indirect)
		return virtq_violation(q, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	if (top->flags & VIRTQ_DESC_F_NEXT)
		return virtq_violation(q, "indirect descriptor with NEXT");
	if (top->len == 0 || top->len % VIRTQ_DESC_SIZE ||
	    top->len / VIRTQ_DESC_SIZE > VIRTQ_INDIRECT_MAX)
		return virtq_violation(q, "bad indirect table length");
	const uint8_t *table = guest_memory_ptr(q->mem, top->addr, top->len);
	if (!table)
		return virtq_violation(q, "indirect table outside guest RAM");
	uint32_t entries = top->len / VIRTQ_DESC_SIZE;
	uint32_t i = 0;
	for (uint32_t count = 0;; count++) {
		if (count >= entries)
			return virtq_violation(q, "indirect chain longer than its table (loop)");
		struct virtq_desc d;
		/* One copy: the guest may rewrite the table while we look. */
		memcpy(&d, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_violation(q, "indirect descriptor inside an indirect table");
		int r = add_seg(q, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= entries)
			return virtq_violation(q, "indirect next index out of range");
	}
}

static int walk_chain(struct virtq *q, struct virtq_chain *c, uint16_t head)
{
	uint32_t i = head;
	for (uint32_t count = 0;; count++) {
		if (count >= q->size)
			return virtq_violation(q, "chain longer than the queue (loop)");
		struct virtq_desc d;
		memcpy(&d, q->desc + (size_t)i * VIRTQ_DESC_SIZE, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (count != 0)
				return virtq_violation(q, "indirect descriptor inside a chain");
			return walk_indirect(q, c, &d);
		}
		int r = add_seg(q, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= q->size)
			return virtq_violation(q, "next index out of range");
	}
}

int virtq_pop(struct virtq *q, uint64_t features, struct virtq_chain *chain)
{
	if (q->broken)
		return -EIO;
	if (!q->ready)
		return 0; /* 4.2.2: no access to a queue that is not ready */
	if (!q->mapped) {
		int r = virtq_map(q, features);
		if (r)
			return r;
	}
	uint16_t idx = avail_idx(q);
	if (idx == q->last_avail_idx) {
		if (!q->event_idx)
			return 0;
		/*
		 * Ask for a kick at the next buffer, then look again: the driver
		 * may have added one after our load but before it could see the
		 * new avail_event (the full barrier pairs with the driver's).
		 */
		set_avail_event(q, q->last_avail_idx);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idx = avail_idx(q);
		if (idx == q->last_avail_idx)
			return 0;
	}
	if ((uint16_t)(idx - q->last_avail_idx) > q->size)
		return virtq_violation(q, "available index moved by more than the queue size");

	uint16_t head = avail_ring(q, q->last_avail_idx & (q->size - 1));
	if (head >= q->size)
		return virtq_violation(q, "head index out of range");
	*chain = (struct virtq_chain){.head = head, .segs = q->segs};
	int r = walk_chain(q, chain, head);
	if (r)
		return r;
	if (chain->readable_len + chain->writable_len == 0)
		return virtq_violation(q, "chain carries no bytes");
	q->last_avail_idx++;
	/* While the device works through a batch it keeps avail_event behind,
	 * so a busy driver does not kick per buffer; it is advanced only when
	 * the ring runs empty (above). */
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	if (q->broken || !q->mapped)
		return -EIO;
	uint8_t *elem = q->used + VIRTQ_RING_HDR +
	                sizeof(struct virtq_used_elem) * (q->used_idx & (q->size - 1));
	struct virtq_used_elem e = {.id = head, .len = written};
	memcpy(elem, &e, sizeof(e));
	q->used_idx++;
	/* Release: the element (and the buffer contents) before the index. */
	__atomic_store_n((uint16_t *)(q->used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	if (q->broken || !q->mapped)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * suppression fields, or both sides may decide not to act. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = q->signalled_used;
	uint16_t now = q->used_idx;
	q->signalled_used = now;
	if (q->event_idx) {
		uint16_t used_event = __atomic_load_n(
		    (uint16_t *)(q->avail + VIRTQ_RING_HDR + 2u * q->size), __ATOMIC_RELAXED);
		return virtq_need_event(used_event, now, old);
	}
	if (old == now)
		return false;
	uint16_t flags = __atomic_load_n((uint16_t *)q->avail, __ATOMIC_RELAXED);
	return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}
