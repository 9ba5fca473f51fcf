/*
 * virtio-rng, the entropy device (virtio 1.2 section 5.4): device id 4,
 * one request queue, no feature bits, no config space. Each writable
 * buffer the driver makes available comes back filled with getrandom(2)
 * bytes, optionally limited to a byte rate by a token bucket.
 */
#ifndef EMBER_DEVICES_VIRTIO_RNG_RNG_H
#define EMBER_DEVICES_VIRTIO_RNG_RNG_H

#include <stdint.h>

#include "core/macros.h"
#include "devices/virtio/device.h"
#include "vmm/memory.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
/* At most this much per request (5.4.6: the device MAY fill less than the
 * whole buffer): one huge buffer cannot hold the VMM thread for long. */
#define VIRTIO_RNG_MAX_PER_REQUEST (64u * 1024u)
/* The largest --rng=RATE ember accepts, in bytes per second. */
#define VIRTIO_RNG_MAX_RATE (1ULL << 30)

struct event_loop;
struct rate_limiter_config;

struct virtio_rng_params {
	/* Bytes per second the guest may draw, 0 for no limit (--rng=RATE).
	 * The bucket holds one second's worth (at least 64 bytes). */
	uint64_t rate_bytes_per_sec;
	/* Firecracker's rate_limiter of PUT /entropy (copied); when it has an
	 * enabled bucket it is used instead of rate_bytes_per_sec. NULL: none. */
	const struct rate_limiter_config *rate_limiter;
};

/*
 * Creates the device and its rate limiter; with a loop (may be NULL in
 * tests) a throttled queue is resumed by the limiter's timer. Registers
 * the "entropy" metrics. Builder thread. 0 or -errno (-EINVAL for a rate
 * above VIRTIO_RNG_MAX_RATE or a bad rate_limiter).
 * Destroy with virtio_device_destroy (or through the transport).
 */
int virtio_rng_create(const struct virtio_rng_params *params, const struct guest_memory *mem,
                      struct event_loop *loop, struct virtio_device **out) must_check;

#endif
