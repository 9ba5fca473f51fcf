/*
 * virtio-rng (virtio 1.2 section 5.4). 5.4.6.1: the driver MUST NOT place
 * device-readable buffers in the queue -- ember treats one as a violation
 * (NEEDS_RESET). 5.4.6.2: the device places one or more random bytes and
 * MAY use less than the whole buffer -- ember fills at most
 * VIRTIO_RNG_MAX_PER_REQUEST bytes per request, fewer when the rate limit
 * leaves fewer tokens.
 *
 * Rate limit: the shared token-bucket limiter (core/rate_limiter.h,
 * Firecracker's RateLimiter for its entropy device). --rng=RATE is a
 * bandwidth bucket of one second's worth of bytes (at least 64). Each
 * request takes one op and a small request's worth (64 bytes) up front --
 * when the limiter refuses, the buffers stay available and its timer
 * resumes the queue, without a guest kick -- then as many more bytes as
 * the bucket holds, up to the buffer and VIRTIO_RNG_MAX_PER_REQUEST.
 *
 * Metrics: the "entropy" object of Firecracker's metrics (entropy_bytes,
 * entropy_event_count = requests served, host_rng_fails,
 * entropy_rate_limiter_throttled, rate_limiter_event_count).
 */
#include "devices/virtio/rng/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/rate_limiter.h"

/* Taken before each request, so the queue waits for at least this many
 * tokens (Linux asks for 32-64 bytes at a time). */
#define RNG_RESUME_BYTES 64u

/* Firecracker's EntropyDeviceMetrics. */
struct rng_metrics {
	_Atomic uint64_t activate_fails, entropy_event_fails, entropy_event_count, entropy_bytes,
	    host_rng_fails, entropy_rate_limiter_throttled, rate_limiter_event_count;
};

#define RNG_FIELD(m) METRICS_COUNTER_FIELD(struct rng_metrics, m)
static const struct metrics_field rng_metrics_fields[] = {
	RNG_FIELD(activate_fails),
	RNG_FIELD(entropy_event_fails),
	RNG_FIELD(entropy_event_count),
	RNG_FIELD(entropy_bytes),
	RNG_FIELD(host_rng_fails),
	RNG_FIELD(entropy_rate_limiter_throttled),
	RNG_FIELD(rate_limiter_event_count),
};

struct virtio_rng {
	struct virtio_device vdev; /* first: container_of is a cast */
	struct rate_limiter *limiter;
	struct rng_metrics metrics;
	struct metrics_group *metrics_group;
};

static struct virtio_rng *to_rng(struct virtio_device *dev)
{
	return container_of(dev, struct virtio_rng, vdev);
}

/* The limiter's timer fired: serve the queue again. VMM thread, no lock. */
static void rng_resume(void *opaque)
{
	struct virtio_rng *rng = opaque;
	metrics_inc(&rng->metrics.rate_limiter_event_count);
	virtio_device_process(&rng->vdev);
}

/* Fills [p, p+len) from the kernel's CSPRNG; returns the bytes written. */
static size_t fill_random(struct virtio_rng *rng, uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn_ratelimited("virtio-rng: getrandom failed: %d", errno);
			metrics_inc(&rng->metrics.host_rng_fails);
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Serves one chain within budget bytes; returns the bytes written. */
static uint32_t serve_chain(struct virtio_rng *rng, const struct virtq_chain *c, uint64_t budget)
{
	uint64_t written = 0;
	for (unsigned i = c->nr_readable; i < c->nr_segs && written < budget; i++) {
		const struct virtq_seg *s = &c->segs[i];
		size_t want = (size_t)MIN((uint64_t)s->len, budget - written);
		size_t got = fill_random(rng, s->ptr, want);
		written += got;
		if (got < want)
			break;
	}
	return (uint32_t)written;
}

static void rng_queue_notify(struct virtio_device *dev, unsigned qi)
{
	struct virtio_rng *rng = to_rng(dev);
	struct virtq *q = &dev->queues[qi];
	for (;;) {
		/* Below a small request's worth, wait rather than hand out a
		 * few bytes per request (the driver would just ask again). */
		if (rate_limiter_consume(rng->limiter, 1, RNG_RESUME_BYTES)) {
			metrics_inc(&rng->metrics.entropy_rate_limiter_throttled);
			return;
		}
		struct virtq_chain c;
		if (virtq_pop(q, dev->features, &c) <= 0) {
			rate_limiter_replenish(rng->limiter, 1, RNG_RESUME_BYTES);
			return;
		}
		if (c.nr_readable) {
			rate_limiter_replenish(rng->limiter, 1, RNG_RESUME_BYTES);
			virtio_device_fail(dev, "device-readable buffer in the entropy queue");
			return;
		}
		uint64_t more = MIN(rate_limiter_available(rng->limiter, RATE_LIMITER_BYTES),
		                    (uint64_t)VIRTIO_RNG_MAX_PER_REQUEST);
		uint64_t budget = more + RNG_RESUME_BYTES;
		budget = MIN(budget, (uint64_t)VIRTIO_RNG_MAX_PER_REQUEST);
		uint32_t written = serve_chain(rng, &c, budget);
		/* Settle: take what went beyond the 64 bytes (the bucket had
		 * them a moment ago, on this thread), give back what did not. */
		if (written > RNG_RESUME_BYTES) {
			if (rate_limiter_consume(rng->limiter, 0, written - RNG_RESUME_BYTES))
				log_warn_ratelimited("virtio-rng: rate limiter lost tokens");
		} else {
			rate_limiter_replenish(rng->limiter, 0, RNG_RESUME_BYTES - written);
		}
		metrics_inc(&rng->metrics.entropy_event_count);
		metrics_add(&rng->metrics.entropy_bytes, written);
		atomic_fetch_add(&dev->metrics.bytes, written);
		if (virtq_push(q, c.head, written))
			return;
	}
}

static int rng_activate(struct virtio_device *dev)
{
	return 0;
}

static void rng_destroy(struct virtio_device *dev)
{
	struct virtio_rng *rng = to_rng(dev);
	metrics_unregister(rng->metrics_group);
	rate_limiter_destroy(rng->limiter);
	virtio_device_fini(dev);
	free(rng);
}

static const struct virtio_device_ops rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_ENTROPY,
    .features = 0,
    .nr_queues = 1,
    .queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
    .config_size = 0,
    .queue_notify = rng_queue_notify,
    .activate = rng_activate,
    .destroy = rng_destroy,
};

/* --rng=RATE as a bandwidth bucket: RATE bytes per second exactly, holding
 * at least RNG_RESUME_BYTES (k seconds' worth when RATE is below that). */
static struct rate_limiter_config rate_config(uint64_t rate)
{
	struct rate_limiter_config c = {0};
	if (rate) {
		uint64_t k = (RNG_RESUME_BYTES + rate - 1) / rate;
		c.bandwidth.size = rate * k;
		c.bandwidth.refill_time_ms = 1000 * k;
	}
	return c;
}

int virtio_rng_create(const struct virtio_rng_params *params, const struct guest_memory *mem,
                      struct event_loop *loop, struct virtio_device **out)
{
	if (params->rate_bytes_per_sec > VIRTIO_RNG_MAX_RATE)
		return -EINVAL;
	struct rate_limiter_config rc = rate_config(params->rate_bytes_per_sec);
	const struct rate_limiter_config *cfg = &rc;
	const struct rate_limiter_config *api = params->rate_limiter;
	if (api && (token_bucket_config_enabled(&api->bandwidth) ||
	            token_bucket_config_enabled(&api->ops)))
		cfg = api;
	if (rate_limiter_config_check(cfg, NULL, 0))
		return -EINVAL;
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	int r = virtio_device_init(&rng->vdev, &rng_ops, mem);
	if (r) {
		free(rng);
		return r;
	}
	if ((r = rate_limiter_create(cfg, loop, rng_resume, rng, &rng->limiter)))
		goto fail;
	/* Best effort: a second entropy device would go without. */
	rng->metrics_group = metrics_register("entropy", rng_metrics_fields,
	                                      ARRAY_SIZE(rng_metrics_fields), &rng->metrics, NULL);
	*out = &rng->vdev;
	return 0;
fail:
	rng_destroy(&rng->vdev);
	return r;
}
