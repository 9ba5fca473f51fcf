/*
 * The virtio device contract (virtio 1.2): what every device (rng, later
 * blk, net, vsock ...) provides to a transport (MMIO today, PCI later),
 * and the state every device shares: device status (2.1), feature bits
 * (2.2, 6), the configuration generation (2.5), interrupt status and the
 * virtqueues (2.7). Transports know nothing of block or net; devices know
 * nothing of MMIO or PCI.
 *
 * Threads and locking: one mutex per device (dev->lock) protects all of
 * this state. vCPU threads take it for register accesses (transport), the
 * VMM thread takes it to process queues (virtio_device_process). Every
 * ops callback is called with the lock held.
 *
 * The guest is hostile: anything it does wrong (a malformed chain, a ring
 * outside RAM) ends in virtio_device_fail -- DEVICE_NEEDS_RESET, a config
 * change interrupt, a counted and rate-limited log -- never in a crash.
 */
#ifndef EMBER_DEVICES_VIRTIO_DEVICE_H
#define EMBER_DEVICES_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"
#include "devices/virtio/queue.h"
#include "vmm/memory.h"

/* Device status bits (2.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 1u
#define VIRTIO_CONFIG_S_DRIVER      2u
#define VIRTIO_CONFIG_S_DRIVER_OK   4u
#define VIRTIO_CONFIG_S_FEATURES_OK 8u
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40u
#define VIRTIO_CONFIG_S_FAILED      0x80u

/* Reserved (device-independent) feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_F_RING_RESET    40

/* What the core offers on every device, on top of ops->features. */
#define VIRTIO_CORE_FEATURES                                                                       \
	((1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX) |                         \
	 (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_RESET))

/* InterruptStatus / ISR bits (4.2.2). */
#define VIRTIO_ISR_USED   1u
#define VIRTIO_ISR_CONFIG 2u

/* Device ids (5). */
#define VIRTIO_ID_ENTROPY 4

#define VIRTIO_MAX_QUEUES      8
#define VIRTIO_MAX_CONFIG_SIZE 256

struct virtio_device;

/*
 * One table per device type. Every callback runs with dev->lock held;
 * the thread is the vCPU's for config_* / activate / reset (register
 * writes) and the VMM thread's for queue_notify.
 */
struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	/* Device-specific feature bits; the core adds VIRTIO_CORE_FEATURES. */
	uint64_t features;
	unsigned nr_queues;      /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size; /* a power of 2, <= VIRTQ_MAX_SIZE */
	uint32_t config_size;    /* bytes of device config space, <= VIRTIO_MAX_CONFIG_SIZE */

	/* [offset, offset+len) is inside config_size (the transport checked). */
	void (*config_read)(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len);
	void (*config_write)(struct virtio_device *dev, uint32_t offset, const void *data,
	                     uint32_t len);
	/* Buffers may be available in queue q (ready, device not broken).
	 * Pops, serves and pushes; the core sends the used-buffer interrupt
	 * afterwards when the driver wants one. VMM thread. */
	void (*queue_notify)(struct virtio_device *dev, unsigned q);
	/* The driver set DRIVER_OK; dev->features holds the negotiated set.
	 * A non-zero return puts the device in NEEDS_RESET. */
	int (*activate)(struct virtio_device *dev);
	/* The driver wrote 0 to the status (or the transport reset the
	 * device): forget per-activation state. The core resets the rest. */
	void (*reset)(struct virtio_device *dev);
	/* Snapshot hooks: NULL until the snapshot issue defines sections. */
	int (*save)(struct virtio_device *dev, void *section);
	int (*restore)(struct virtio_device *dev, const void *section);
	/* Frees the device (the struct that embeds struct virtio_device). */
	void (*destroy)(struct virtio_device *dev);
};

/* Counters; read without the lock (monotonic, for metrics and tests). */
struct virtio_device_metrics {
	_Atomic uint64_t errors;        /* violations that set NEEDS_RESET */
	_Atomic uint64_t notifications; /* driver -> device kicks */
	_Atomic uint64_t interrupts;    /* device -> driver interrupts sent */
	_Atomic uint64_t bytes;         /* payload bytes the device moved */
	_Atomic uint64_t bad_accesses;  /* refused register accesses and status writes */
};

/* Raises the device's interrupt line (transport-specific). Lock held. */
typedef void (*virtio_raise_fn)(void *ctx);

struct virtio_device {
	const struct virtio_device_ops *ops;
	pthread_mutex_t lock;
	const struct guest_memory *mem;

	uint64_t device_features;       /* offered: ops->features | VIRTIO_CORE_FEATURES */
	uint64_t driver_features;       /* as the driver writes them */
	bool driver_features_unoffered; /* a bit >= 64 was accepted */
	uint64_t features;              /* negotiated (valid from FEATURES_OK) */
	uint32_t status;
	uint32_t isr; /* VIRTIO_ISR_* pending until acknowledged */
	uint32_t config_generation;
	bool broken; /* a violation happened: no queue is processed until reset */
	struct virtq queues[VIRTIO_MAX_QUEUES];
	unsigned nr_queues;

	virtio_raise_fn raise;
	void *raise_ctx;
	struct virtio_device_metrics metrics;
};

/* Initialises the common state of a device that embeds *dev. Builder
 * thread, before the device is reachable. 0 or -errno. */
int virtio_device_init(struct virtio_device *dev, const struct virtio_device_ops *ops,
                       const struct guest_memory *mem) must_check;
/* Releases what virtio_device_init took (not the embedding struct). */
void virtio_device_fini(struct virtio_device *dev);
/* Calls ops->destroy (accepts NULL). No thread may still use the device. */
void virtio_device_destroy(struct virtio_device *dev);

/* The rest: dev->lock held by the caller. */

/* Back to the state after creation (status 0, no features, queues off). */
void virtio_device_reset(struct virtio_device *dev);
/* A driver status write (2.1, 3.1.1): 0 resets; clearing bits, skipping
 * steps or a refused feature set are ignored (counted). FEATURES_OK is
 * kept only when the accepted features are offered and include
 * VERSION_1; DRIVER_OK activates. 0 when applied, -EINVAL when refused. */
int virtio_device_set_status(struct virtio_device *dev, uint32_t status);
/* 32 feature bits of word sel (0 or 1; others read 0). */
uint32_t virtio_device_features_read(const struct virtio_device *dev, uint32_t sel);
/* Accepted features, word sel; ignored (counted) once FEATURES_OK is set. */
void virtio_device_features_write(struct virtio_device *dev, uint32_t sel, uint32_t value);
/* Config space access; outside config_size reads 0 / writes nothing (counted). */
void virtio_device_config_read(struct virtio_device *dev, uint32_t offset, void *data,
                               uint32_t len);
void virtio_device_config_write(struct virtio_device *dev, uint32_t offset, const void *data,
                                uint32_t len);
/* A device-side config change: bumps the generation, interrupts (2.5). */
void virtio_device_config_changed(struct virtio_device *dev);
/*
 * The guest broke the rules: NEEDS_RESET, a config change interrupt when
 * DRIVER_OK is set (2.1.2), counted, logged once (rate-limited), and no
 * queue is processed until the driver resets the device.
 */
void virtio_device_fail(struct virtio_device *dev, const char *what);
/* Sends a used-buffer interrupt for queue q when the driver wants one
 * (NO_INTERRUPT / used_event). For devices that complete asynchronously. */
void virtio_device_signal_used(struct virtio_device *dev, unsigned q);
/* Acknowledges interrupt causes (InterruptACK). */
void virtio_device_ack(struct virtio_device *dev, uint32_t bits);

/*
 * Serves every ready queue: ops->queue_notify then the used-buffer
 * interrupt. Does nothing before DRIVER_OK or after a violation. VMM
 * thread; takes dev->lock itself.
 */
void virtio_device_process(struct virtio_device *dev);

#endif
