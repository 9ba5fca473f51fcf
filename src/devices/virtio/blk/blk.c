/*
 * virtio-blk (virtio 1.2 section 5.2; see blk.h).
 *
 * Offered features (5.2.3): SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, and
 * either RO (a read-only drive) or DISCARD + WRITE_ZEROES (a writable
 * one). Not offered: GEOMETRY, TOPOLOGY, CONFIG_WCE (the cache is always
 * writeback as far as the driver knows: FLUSH is how it makes writes
 * stable, 5.2.6.2), MQ (one queue for now), LIFETIME, SECURE_ERASE, ZONED.
 *
 * The request path, all on the VMM thread:
 *   kick -> virtio_device_process (dev->lock held) -> blk_queue_notify:
 *   pop each chain, parse it (blk_req.c), complete bad requests at once,
 *   hand the rest to the backend in a free slot; one backend kick (one
 *   io_uring_submit) per pass. The lock is released before any I/O runs.
 *   backend eventfd -> block_backend_poll -> blk_done per request: take
 *   dev->lock, write the status byte, push the used element; then
 *   blk_batch_done once: one used-buffer interrupt if the driver wants
 *   it, and resume the queue if it stalled for want of a slot.
 *
 * Device reset (2.4.1: after the reset completes the device must leave
 * the queues -- and the buffers in them -- alone): the driver's status
 * write of 0 waits, on the vCPU thread, until every request in flight
 * has finished (requests popped meanwhile: none), up to
 * BLK_RESET_DRAIN_MS; only then does Status read 0. The driver polls
 * Status for 0 (2.4.2), as QEMU's drain-on-reset makes it.
 * Should the wait time out (a stuck host disk), or for a queue reset
 * (RING_RESET has no device hook yet), the chains popped before still
 * must not be completed into the rings the driver sets up after: each
 * slot keeps the queue's generation (bumped by every virtq_map), and a
 * completion from an older generation, or for a queue not mapped now, is
 * dropped.
 */
#include "devices/virtio/blk/blk.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/rate_limiter.h"
#include "devices/virtio/blk/blk_req.h"

/* How long a device reset waits for requests in flight. */
#define BLK_RESET_DRAIN_MS 5000

struct virtio_blk;

/* One request in flight. */
struct blk_slot {
	struct block_request breq;
	struct virtio_blk *blk;
	struct blk_slot *next_free;
	uint32_t generation; /* the queue's, when the chain was popped */
	uint16_t head;
	uint32_t used_len;
	uint8_t *status;
	uint64_t data_len;
	uint64_t submit_ns; /* for read_agg / write_agg */
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
};

/* Firecracker's BlockDeviceMetrics (its devices/virtio/block/virtio/metrics.rs);
 * queue_event_count is the transport's kick count. */
struct blk_metrics {
	_Atomic uint64_t activate_fails, cfg_fails, no_avail_buffer, event_fails, execute_fails,
	    invalid_reqs_count, flush_count, rate_limiter_event_count, update_count, update_fails,
	    read_bytes, write_bytes, read_count, write_count, rate_limiter_throttled_events,
	    io_engine_throttled_events, remaining_reqs_count;
	struct metrics_latency read_agg, write_agg;
};

struct virtio_blk {
	struct virtio_device vdev; /* first: container_of is a cast */
	struct block_backend *backend;
	struct virtio_blk_config config;
	uint64_t capacity; /* sectors */
	bool read_only;
	char id[VIRTIO_BLK_ID_BYTES];
	struct blk_slot *slots, *free_slots;
	unsigned inflight; /* slots taken */
	bool pushed;       /* used elements pushed since the last interrupt decision */
	bool stalled;      /* stopped popping for want of a free slot */
	bool draining;     /* a reset waits for inflight to reach 0: pop nothing */
	pthread_cond_t drained;
	pthread_t vmm_thread; /* the thread that serves the queue (and completes) */
	bool vmm_thread_known;
	struct rate_limiter *limiter;
	/* Popped and parsed, off the free list, refused by the limiter: served
	 * first when the limiter's timer resumes the queue. */
	struct blk_slot *throttled;
	struct blk_request throttled_req;
	struct blk_metrics metrics;
	struct metrics_group *metrics_group;
};

#define BLK_C(m) {#m, offsetof(struct virtio_blk, metrics.m), METRICS_COUNTER}
#define BLK_LAT(m)                                                                                 \
	{#m ".min_us", offsetof(struct virtio_blk, metrics.m.min_us), METRICS_GAUGE},              \
	    {#m ".max_us", offsetof(struct virtio_blk, metrics.m.max_us), METRICS_GAUGE},          \
	    {#m ".sum_us", offsetof(struct virtio_blk, metrics.m.sum_us), METRICS_COUNTER}
static const struct metrics_field blk_metrics_fields[] = {
	BLK_C(activate_fails), BLK_C(cfg_fails), BLK_C(no_avail_buffer), BLK_C(event_fails),
	BLK_C(execute_fails), BLK_C(invalid_reqs_count), BLK_C(flush_count),
	{"queue_event_count", offsetof(struct virtio_blk, vdev.metrics.notifications),
	 METRICS_COUNTER},
	BLK_C(rate_limiter_event_count), BLK_C(update_count), BLK_C(update_fails),
	BLK_C(read_bytes), BLK_C(write_bytes), BLK_C(read_count), BLK_C(write_count),
	BLK_LAT(read_agg), BLK_LAT(write_agg), BLK_C(rate_limiter_throttled_events),
	BLK_C(io_engine_throttled_events), BLK_C(remaining_reqs_count),
};

_Static_assert(sizeof(struct virtio_blk_config) == 60, "virtio_blk_config through unused1");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36, "5.2.4 layout");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56, "5.2.4 layout");

static struct virtio_blk *to_blk(struct virtio_device *dev)
{
	return container_of(dev, struct virtio_blk, vdev);
}

static void blk_limits_get(struct virtio_blk *blk, struct blk_limits *lim)
{
	uint64_t f = blk->vdev.features;
	*lim = (struct blk_limits){
	    .capacity = blk->capacity,
	    .read_only = blk->read_only,
	    .discard = f & (1ULL << VIRTIO_BLK_F_DISCARD),
	    .write_zeroes = f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES),
	    .max_discard_sectors = blk->config.max_discard_sectors,
	    .max_discard_seg = blk->config.max_discard_seg,
	    .max_write_zeroes_sectors = blk->config.max_write_zeroes_sectors,
	    .max_write_zeroes_seg = blk->config.max_write_zeroes_seg,
	    .seg_max = VIRTIO_BLK_SEG_MAX,
	    .size_max = VIRTIO_BLK_SIZE_MAX,
	    .max_data_bytes = (uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX,
	};
}

/* Status byte, then the used element (whose index store releases both). */
static void complete(struct virtio_blk *blk, struct virtq *q, uint16_t head, uint8_t *status_ptr,
                     uint32_t used_len, uint8_t status)
{
	*status_ptr = status;
	if (virtq_push(q, head, used_len) == 0)
		blk->pushed = true;
}

static void copy_id(struct virtio_blk *blk, const struct blk_request *req)
{
	size_t off = 0;
	for (unsigned i = 0; i < req->iovcnt; i++) {
		memcpy(req->iov[i].iov_base, blk->id + off, req->iov[i].iov_len);
		off += req->iov[i].iov_len;
	}
}

static void blk_done(struct block_request *breq, int result);

/* Fills the slot's backend request; false when there is no I/O to do. */
static bool prepare_io(struct blk_slot *s, const struct blk_request *req)
{
	struct block_request *b = &s->breq;
	*b = (struct block_request){.offset = req->sector * VIRTIO_BLK_SECTOR_SIZE,
	                            .done = blk_done};
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		b->op = req->type == VIRTIO_BLK_T_IN ? BLOCK_OP_READ : BLOCK_OP_WRITE;
		b->iov = s->iov;
		b->iovcnt = req->iovcnt;
		return req->data_len != 0;
	case VIRTIO_BLK_T_FLUSH:
		b->op = BLOCK_OP_FLUSH;
		b->offset = 0;
		return true;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		b->op =
		    req->type == VIRTIO_BLK_T_DISCARD ? BLOCK_OP_DISCARD : BLOCK_OP_WRITE_ZEROES;
		b->len = req->nr_sectors * VIRTIO_BLK_SECTOR_SIZE;
		b->unmap = req->unmap;
		return req->nr_sectors != 0;
	default:
		return false;
	}
}

static void free_slot(struct virtio_blk *blk, struct blk_slot *s)
{
	s->next_free = blk->free_slots;
	blk->free_slots = s;
}

/*
 * Takes a valid request's tokens (one op; its data bytes for IN and OUT,
 * as Firecracker) and starts it. s is off the free list. False when the
 * limiter refused: the request waits in blk->throttled, and the limiter's
 * timer resumes the queue -- no guest kick needed. Lock held.
 */
static bool start_request(struct virtio_blk *blk, struct virtq *q, struct blk_slot *s,
                          const struct blk_request *req, bool *submitted)
{
	bool data = req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT;
	if (rate_limiter_consume(blk->limiter, 1, data ? req->data_len : 0)) {
		metrics_inc(&blk->metrics.rate_limiter_throttled_events);
		blk->throttled = s;
		blk->throttled_req = *req;
		return false;
	}
	if (req->type == VIRTIO_BLK_T_GET_ID)
		copy_id(blk, req);
	if (!prepare_io(s, req)) {
		complete(blk, q, s->head, s->status, s->used_len, VIRTIO_BLK_S_OK);
		free_slot(blk, s);
		return true;
	}
	blk->inflight++;
	s->submit_ns = rate_limiter_now_ns();
	block_backend_submit(blk->backend, &s->breq);
	*submitted = true;
	return true;
}

static void blk_queue_notify(struct virtio_device *dev, unsigned qi)
{
	struct virtio_blk *blk = to_blk(dev);
	struct virtq *q = &dev->queues[qi];
	struct blk_limits lim;
	bool submitted = false, popped = false;
	blk->vmm_thread = pthread_self();
	blk->vmm_thread_known = true;
	if (blk->draining)
		return;
	blk_limits_get(blk, &lim);
	struct blk_slot *held = blk->throttled;
	if (held) {
		blk->throttled = NULL;
		if (held->generation != q->generation)
			free_slot(blk, held); /* a queue reset since: not ours to complete */
		else if (!start_request(blk, q, held, &blk->throttled_req, &submitted))
			goto out;
	}
	for (;;) {
		struct blk_slot *s = blk->free_slots;
		if (!s) {
			blk->stalled = true; /* blk_batch_done resumes */
			metrics_inc(&blk->metrics.io_engine_throttled_events);
			break;
		}
		struct virtq_chain c;
		if (virtq_pop(q, dev->features, &c) <= 0) {
			if (!popped && !held)
				metrics_inc(&blk->metrics.no_avail_buffer);
			break;
		}
		popped = true;
		struct blk_request req;
		if (blk_request_parse(&c, &lim, s->iov, VIRTIO_BLK_SEG_MAX, &req)) {
			virtio_device_fail(dev, req.why);
			break;
		}
		if (req.status != VIRTIO_BLK_S_OK) {
			metrics_inc(&blk->metrics.invalid_reqs_count);
			log_warn_ratelimited("virtio-blk: %s (type %u): status %u", req.why,
			                     req.type, req.status);
			complete(blk, q, c.head, req.status_ptr, req.used_len, req.status);
			continue;
		}
		blk->free_slots = s->next_free;
		s->generation = q->generation;
		s->head = c.head;
		s->used_len = req.used_len;
		s->status = req.status_ptr;
		s->data_len = req.data_len;
		if (!start_request(blk, q, s, &req, &submitted))
			break;
	}
out:
	if (submitted)
		block_backend_kick(blk->backend);
}

/* Counts a finished request: Firecracker's read/write/flush metrics. */
static void account(struct virtio_blk *blk, const struct blk_slot *s)
{
	uint64_t us = (rate_limiter_now_ns() - s->submit_ns) / 1000;
	switch (s->breq.op) {
	case BLOCK_OP_READ:
		metrics_add(&blk->metrics.read_bytes, s->data_len);
		metrics_inc(&blk->metrics.read_count);
		metrics_latency_record(&blk->metrics.read_agg, us);
		break;
	case BLOCK_OP_WRITE:
		metrics_add(&blk->metrics.write_bytes, s->data_len);
		metrics_inc(&blk->metrics.write_count);
		metrics_latency_record(&blk->metrics.write_agg, us);
		break;
	case BLOCK_OP_FLUSH:
		metrics_inc(&blk->metrics.flush_count);
		break;
	default:
		break;
	}
}

/* A request finished. VMM thread, from block_backend_poll, no lock held. */
static void blk_done(struct block_request *breq, int result)
{
	struct blk_slot *s = container_of(breq, struct blk_slot, breq);
	struct virtio_blk *blk = s->blk;
	struct virtio_device *dev = &blk->vdev;
	struct virtq *q = &dev->queues[0];
	pthread_mutex_lock(&dev->lock);
	if (!dev->broken && q->mapped && !q->broken && q->generation == s->generation) {
		if (result) {
			metrics_inc(&blk->metrics.execute_fails);
			log_warn_ratelimited("virtio-blk: I/O error at byte %llu: %s",
			                     (unsigned long long)breq->offset, strerror(-result));
		} else {
			account(blk, s);
			if (breq->op == BLOCK_OP_READ || breq->op == BLOCK_OP_WRITE)
				atomic_fetch_add(&dev->metrics.bytes, s->data_len);
		}
		complete(blk, q, s->head, s->status, s->used_len,
		         result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	}
	s->next_free = blk->free_slots;
	blk->free_slots = s;
	if (--blk->inflight == 0 && blk->draining)
		pthread_cond_broadcast(&blk->drained);
	pthread_mutex_unlock(&dev->lock);
}

/* After a batch of completions: one interrupt decision, and a queue that
 * stalled on slots is served again. VMM thread, no lock held. */
static void blk_batch_done(void *opaque)
{
	struct virtio_blk *blk = opaque;
	struct virtio_device *dev = &blk->vdev;
	pthread_mutex_lock(&dev->lock);
	bool resume = blk->stalled && blk->free_slots;
	if (resume)
		blk->stalled = false;
	if (blk->pushed) {
		blk->pushed = false;
		virtio_device_signal_used(dev, 0);
	}
	pthread_mutex_unlock(&dev->lock);
	if (resume)
		virtio_device_process(dev);
}

static void blk_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct virtio_blk *blk = to_blk(dev);
	if (offset <= sizeof(blk->config) && len <= sizeof(blk->config) - offset)
		memcpy(data, (const uint8_t *)&blk->config + offset, len);
}

static int blk_activate(struct virtio_device *dev)
{
	return 0;
}

/* Waits (dev->lock released meanwhile) until no request is in flight or
 * BLK_RESET_DRAIN_MS passed. Not on the thread that completes requests. */
static void drain(struct virtio_blk *blk)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += BLK_RESET_DRAIN_MS / 1000;
	deadline.tv_nsec += (long)(BLK_RESET_DRAIN_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	blk->draining = true;
	while (blk->inflight) {
		if (pthread_cond_timedwait(&blk->drained, &blk->vdev.lock, &deadline) ==
		    ETIMEDOUT) {
			log_warn_ratelimited(
			    "virtio-blk: reset with %u requests still in flight after "
			    "%d ms; their buffers may be written later",
			    blk->inflight, BLK_RESET_DRAIN_MS);
			break;
		}
	}
	blk->draining = false;
}

/* A device reset (vCPU thread, dev->lock held): completes only when the
 * requests in flight have (see the file header). */
static void blk_reset(struct virtio_device *dev)
{
	struct virtio_blk *blk = to_blk(dev);
	bool on_vmm_thread =
	    blk->vmm_thread_known && pthread_equal(blk->vmm_thread, pthread_self());
	if (blk->inflight && !on_vmm_thread && !blk->draining)
		drain(blk);
	/* A request the rate limiter held was never started: drop it. */
	if (blk->throttled) {
		free_slot(blk, blk->throttled);
		blk->throttled = NULL;
	}
	blk->pushed = false;
	blk->stalled = false;
}

/* The rate limiter's timer fired: serve the queue again, the held request
 * first. VMM thread, no lock held. */
static void blk_rl_resume(void *opaque)
{
	struct virtio_blk *blk = opaque;
	metrics_inc(&blk->metrics.rate_limiter_event_count);
	virtio_device_process(&blk->vdev);
}

static void blk_destroy(struct virtio_device *dev)
{
	struct virtio_blk *blk = to_blk(dev);
	metrics_unregister(blk->metrics_group);
	block_backend_destroy(blk->backend);
	rate_limiter_destroy(blk->limiter);
	free(blk->slots);
	pthread_cond_destroy(&blk->drained);
	virtio_device_fini(dev);
	free(blk);
}

/* Read-only and writable drives offer different features: two tables. */
#define BLK_COMMON_FEATURES                                                                        \
	((1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |                        \
	 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH))

#define BLK_OPS(features_)                                                                         \
	{                                                                                          \
		.name = "blk", .device_id = VIRTIO_ID_BLOCK, .features = (features_),              \
		.nr_queues = 1, .queue_max_size = VIRTIO_BLK_QUEUE_SIZE,                           \
		.config_size = sizeof(struct virtio_blk_config), .config_read = blk_config_read,   \
		.queue_notify = blk_queue_notify, .activate = blk_activate, .reset = blk_reset,    \
		.destroy = blk_destroy,                                                            \
	}

static const struct virtio_device_ops blk_rw_ops = BLK_OPS(
    BLK_COMMON_FEATURES | (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
static const struct virtio_device_ops blk_ro_ops =
    BLK_OPS(BLK_COMMON_FEATURES | (1ULL << VIRTIO_BLK_F_RO));

static void fill_config(struct virtio_blk *blk, const struct virtio_blk_params *p)
{
	struct virtio_blk_config *c = &blk->config;
	c->capacity = blk->capacity;
	c->size_max = VIRTIO_BLK_SIZE_MAX;
	c->seg_max = VIRTIO_BLK_SEG_MAX;
	c->blk_size = MAX(p->logical_block, VIRTIO_BLK_SECTOR_SIZE);
	if (!p->read_only) {
		c->max_discard_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS;
		c->max_discard_seg = 1;
		c->discard_sector_alignment = VIRTIO_BLK_DISCARD_ALIGNMENT;
		c->max_write_zeroes_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS;
		c->max_write_zeroes_seg = 1;
		/* An unmap write-zeroes punches a hole (5.2.6.2: MAY deallocate). */
		c->write_zeroes_may_unmap = 1;
	}
}

int virtio_blk_create(const struct virtio_blk_params *params, const struct guest_memory *mem,
                      struct event_loop *loop, struct virtio_device **out)
{
	struct virtio_blk *blk = NULL;
	int fd = params->fd; /* ours until the backend takes it */
	int r = -EINVAL;
	if (params->capacity_bytes % VIRTIO_BLK_SECTOR_SIZE ||
	    (params->id && strlen(params->id) > VIRTIO_BLK_ID_BYTES))
		goto fail;
	r = -ENOMEM;
	if (!(blk = calloc(1, sizeof(*blk))))
		goto fail;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = -pthread_cond_init(&blk->drained, &attr);
	pthread_condattr_destroy(&attr);
	if (r) {
		free(blk);
		blk = NULL;
		goto fail;
	}
	r = virtio_device_init(&blk->vdev, params->read_only ? &blk_ro_ops : &blk_rw_ops, mem);
	if (r) {
		pthread_cond_destroy(&blk->drained);
		free(blk);
		blk = NULL;
		goto fail;
	}
	blk->capacity = params->capacity_bytes / VIRTIO_BLK_SECTOR_SIZE;
	blk->read_only = params->read_only;
	if (params->id)
		memcpy(blk->id, params->id, strlen(params->id)); /* NUL-padded (calloc) */
	fill_config(blk, params);
	r = rate_limiter_create(params->rate_limiter, loop, blk_rl_resume, blk, &blk->limiter);
	if (r)
		goto fail;
	r = -ENOMEM;
	if (!(blk->slots = calloc(VIRTIO_BLK_MAX_INFLIGHT, sizeof(*blk->slots))))
		goto fail;
	for (unsigned i = VIRTIO_BLK_MAX_INFLIGHT; i-- > 0;) {
		blk->slots[i].blk = blk;
		blk->slots[i].next_free = blk->free_slots;
		blk->free_slots = &blk->slots[i];
	}
	struct block_backend_params bp = {
	    .fd = fd,
	    .direct = params->direct,
	    .align = blk->config.blk_size,
	    .queue_depth = VIRTIO_BLK_MAX_INFLIGHT,
	    .engine = params->engine,
	    .loop = loop,
	    .batch_done = blk_batch_done,
	    .opaque = blk,
	};
	fd = -1; /* the backend closes it, on failure too */
	if ((r = block_backend_create(&bp, &blk->backend)))
		goto fail;
	if (params->metrics_id) {
		char name[METRICS_NAME_MAX];
		snprintf(name, sizeof(name), "block_%s", params->metrics_id);
		blk->metrics_group = metrics_register(name, blk_metrics_fields,
		                                      ARRAY_SIZE(blk_metrics_fields), blk, "block");
		if (!blk->metrics_group)
			log_warn("virtio-blk: no metrics for %s (the name is taken)", name);
	}
	*out = &blk->vdev;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (blk)
		blk_destroy(&blk->vdev);
	return r;
}

unsigned virtio_blk_poll(struct virtio_device *dev)
{
	return block_backend_poll(to_blk(dev)->backend);
}

int virtio_blk_backend_fd(struct virtio_device *dev)
{
	return block_backend_fd(to_blk(dev)->backend);
}

const char *virtio_blk_engine(struct virtio_device *dev)
{
	return block_backend_name(to_blk(dev)->backend);
}

int virtio_blk_update_rate_limiter(struct virtio_device *dev,
                                   const struct token_bucket_config *bandwidth,
                                   const struct token_bucket_config *ops)
{
	struct virtio_blk *blk = to_blk(dev);
	int r = rate_limiter_update(blk->limiter, bandwidth, ops);
	metrics_inc(r ? &blk->metrics.update_fails : &blk->metrics.update_count);
	return r;
}

void virtio_blk_rate_limiter_config(struct virtio_device *dev, struct rate_limiter_config *out)
{
	rate_limiter_get_config(to_blk(dev)->limiter, out);
}

/* Completes what is in flight by polling the backend on this (the VMM)
 * thread, up to BLK_RESET_DRAIN_MS. 0 or -ETIMEDOUT. No lock held. */
static int drain_here(struct virtio_blk *blk)
{
	struct virtio_device *dev = &blk->vdev;
	for (int waited = 0;; waited += 10) {
		pthread_mutex_lock(&dev->lock);
		unsigned inflight = blk->inflight;
		pthread_mutex_unlock(&dev->lock);
		if (!inflight)
			return 0;
		if (waited >= BLK_RESET_DRAIN_MS)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = block_backend_fd(blk->backend), .events = POLLIN};
		poll(&pfd, 1, 10);
		block_backend_poll(blk->backend);
	}
}

int virtio_blk_replace_backing(struct virtio_device *dev, const struct virtio_blk_params *params,
                               struct event_loop *loop)
{
	struct virtio_blk *blk = to_blk(dev);
	int fd = params->fd;
	if (params->capacity_bytes % VIRTIO_BLK_SECTOR_SIZE ||
	    MAX(params->logical_block, VIRTIO_BLK_SECTOR_SIZE) != blk->config.blk_size) {
		close(fd);
		return -EINVAL;
	}
	pthread_mutex_lock(&dev->lock);
	blk->draining = true; /* pop nothing while the backend changes */
	pthread_mutex_unlock(&dev->lock);
	struct block_backend *nb = NULL;
	int r = drain_here(blk);
	if (r) {
		close(fd);
	} else {
		struct block_backend_params bp = {
		    .fd = fd,
		    .direct = params->direct,
		    .align = blk->config.blk_size,
		    .queue_depth = VIRTIO_BLK_MAX_INFLIGHT,
		    .engine = params->engine,
		    .loop = loop,
		    .batch_done = blk_batch_done,
		    .opaque = blk,
		};
		r = block_backend_create(&bp, &nb);
	}
	struct block_backend *old = NULL;
	bool resized = false;
	pthread_mutex_lock(&dev->lock);
	if (!r) {
		old = blk->backend;
		blk->backend = nb;
		uint64_t capacity = params->capacity_bytes / VIRTIO_BLK_SECTOR_SIZE;
		resized = capacity != blk->capacity;
		blk->capacity = blk->config.capacity = capacity;
	}
	blk->draining = false;
	blk->stalled = false;
	/* 5.2.2: the driver re-reads capacity on a configuration change. */
	if (resized)
		virtio_device_config_changed(dev);
	pthread_mutex_unlock(&dev->lock);
	block_backend_destroy(old);
	/* Requests that arrived while draining wait in the ring: serve them. */
	virtio_device_process(dev);
	return r;
}
