/*
 * virtio-rng (virtio 1.2 section 5.4). 5.4.6.1: the driver MUST NOT place
 * device-readable buffers in the queue -- ember treats one as a violation
 * (NEEDS_RESET). 5.4.6.2: the device places one or more random bytes and
 * MAY use less than the whole buffer -- ember fills at most
 * VIRTIO_RNG_MAX_PER_REQUEST bytes per request, fewer when the rate limit
 * leaves fewer tokens.
 *
 * Rate limit: a token bucket of one second's worth of bytes, refilled by
 * CLOCK_MONOTONIC time. When it holds less than a small request's worth
 * (64 bytes) the queue is left alone (the buffers stay available) and a
 * one-shot timerfd on the VMM thread's event loop resumes processing once
 * that much came back.
 */
#include "devices/virtio/rng/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"

#define NSEC_PER_SEC 1000000000ULL
/* Wait for at least this many tokens before resuming (Linux asks for
 * 32-64 bytes at a time). */
#define RNG_RESUME_BYTES 64u

struct virtio_rng {
	struct virtio_device vdev; /* first: container_of is a cast */
	uint64_t rate;             /* bytes/s, 0: unlimited */
	uint64_t tokens, capacity;
	uint64_t last_refill_ns;
	int timer_fd; /* -1: none */
	bool timer_armed;
	struct event_loop *loop;
};

static struct virtio_rng *to_rng(struct virtio_device *dev)
{
	return container_of(dev, struct virtio_rng, vdev);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void bucket_refill(struct virtio_rng *rng)
{
	uint64_t now = now_ns();
	uint64_t elapsed = now - rng->last_refill_ns;
	/* Clamping at the time a full refill takes keeps the product below
	 * 2^64: either capacity == rate <= 2^30 and that time is 1 s, or
	 * rate < 64 and it is at most 64 s. */
	uint64_t full_ns = rng->capacity * NSEC_PER_SEC / rng->rate;
	if (elapsed >= full_ns) {
		rng->tokens = rng->capacity;
		rng->last_refill_ns = now;
		return;
	}
	uint64_t add = elapsed * rng->rate / NSEC_PER_SEC;
	if (add == 0)
		return; /* let the fraction accumulate */
	rng->tokens = MIN(rng->capacity, rng->tokens + add);
	/* Advance by the time those tokens took, keeping the remainder. */
	rng->last_refill_ns += add * NSEC_PER_SEC / rng->rate;
}

static uint64_t bucket_threshold(const struct virtio_rng *rng)
{
	return MIN(rng->capacity, (uint64_t)RNG_RESUME_BYTES);
}

/* Arms the one-shot timer for when a small request's worth is back. */
static void bucket_wait(struct virtio_rng *rng)
{
	if (rng->timer_fd < 0 || rng->timer_armed)
		return;
	uint64_t want = bucket_threshold(rng);
	uint64_t missing = want > rng->tokens ? want - rng->tokens : 1;
	uint64_t ns = (missing * NSEC_PER_SEC + rng->rate - 1) / rng->rate;
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
	                                      .tv_nsec = (long)(ns % NSEC_PER_SEC)}};
	if (ns == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(rng->timer_fd, 0, &its, NULL) < 0) {
		log_warn_ratelimited("virtio-rng: cannot arm the rate-limit timer");
		return;
	}
	rng->timer_armed = true;
}

static void on_timer(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_rng *rng = opaque;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("virtio-rng: reading the timerfd failed");
	pthread_mutex_lock(&rng->vdev.lock);
	rng->timer_armed = false;
	pthread_mutex_unlock(&rng->vdev.lock);
	virtio_device_process(&rng->vdev);
}

/* Fills [p, p+len) from the kernel's CSPRNG; returns the bytes written. */
static size_t fill_random(uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn_ratelimited("virtio-rng: getrandom failed: %d", errno);
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Serves one chain within budget bytes; returns the bytes written. */
static uint32_t serve_chain(const struct virtq_chain *c, uint64_t budget)
{
	uint64_t written = 0;
	for (unsigned i = c->nr_readable; i < c->nr_segs && written < budget; i++) {
		const struct virtq_seg *s = &c->segs[i];
		size_t want = (size_t)MIN((uint64_t)s->len, budget - written);
		size_t got = fill_random(s->ptr, want);
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
		if (rng->rate) {
			bucket_refill(rng);
			/* Below a small request's worth, wait rather than hand out
			 * a few bytes per request (the driver would just ask again). */
			if (rng->tokens < bucket_threshold(rng)) {
				bucket_wait(rng);
				return;
			}
		}
		struct virtq_chain c;
		if (virtq_pop(q, dev->features, &c) <= 0)
			return;
		if (c.nr_readable) {
			virtio_device_fail(dev, "device-readable buffer in the entropy queue");
			return;
		}
		uint64_t budget = VIRTIO_RNG_MAX_PER_REQUEST;
		if (rng->rate)
			budget = MIN(budget, rng->tokens);
		uint32_t written = serve_chain(&c, budget);
		if (rng->rate)
			rng->tokens -= written;
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
	if (rng->timer_fd >= 0) {
		if (rng->loop)
			event_loop_del(rng->loop, rng->timer_fd);
		close(rng->timer_fd);
	}
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

int virtio_rng_create(const struct virtio_rng_params *params, const struct guest_memory *mem,
                      struct event_loop *loop, struct virtio_device **out)
{
	if (params->rate_bytes_per_sec > VIRTIO_RNG_MAX_RATE)
		return -EINVAL;
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	rng->timer_fd = -1;
	int r = virtio_device_init(&rng->vdev, &rng_ops, mem);
	if (r) {
		free(rng);
		return r;
	}
	rng->rate = params->rate_bytes_per_sec;
	if (rng->rate) {
		rng->capacity = MAX(rng->rate, (uint64_t)RNG_RESUME_BYTES);
		rng->tokens = rng->capacity;
		rng->last_refill_ns = now_ns();
	}
	if (rng->rate && loop) {
		rng->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (rng->timer_fd < 0) {
			r = -errno;
			goto fail;
		}
		if ((r = event_loop_add(loop, rng->timer_fd, EPOLLIN, on_timer, rng)))
			goto fail;
		rng->loop = loop;
	}
	*out = &rng->vdev;
	return 0;
fail:
	rng_destroy(&rng->vdev);
	return r;
}
