/*
 * virtio-blk, the block device (virtio 1.2 section 5.2): device id 2,
 * one request queue (5.2.2), the features of 5.2.3 listed below, the
 * configuration layout of 5.2.4, requests as in 5.2.6 (parsed by
 * blk_req.c), served asynchronously by a block backend (backends/block.h:
 * io_uring, or synchronous I/O where io_uring is unavailable).
 */
#ifndef EMBER_DEVICES_VIRTIO_BLK_BLK_H
#define EMBER_DEVICES_VIRTIO_BLK_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/block.h"
#include "core/macros.h"
#include "devices/virtio/device.h"
#include "vmm/memory.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* The configuration space (5.2.4), up to the fields ember fills. */
struct virtio_blk_config {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

#define VIRTIO_BLK_QUEUE_SIZE 256
/* Requests in flight at once (one slot each). */
#define VIRTIO_BLK_MAX_INFLIGHT VIRTIO_BLK_QUEUE_SIZE
#define VIRTIO_BLK_SEG_MAX      BLOCK_MAX_IOV
#define VIRTIO_BLK_SIZE_MAX     (1u << 20)
/* 2 GiB per discard / write-zeroes request, one segment each. */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22)
/* Discard granularity: 4 KiB, the usual file system block. */
#define VIRTIO_BLK_DISCARD_ALIGNMENT 8

struct event_loop;
struct rate_limiter_config;
struct token_bucket_config;

struct virtio_blk_params {
	int fd;                  /* the open, locked image: taken (closed by the device) */
	uint64_t capacity_bytes; /* a multiple of 512 */
	uint32_t logical_block;  /* blk_size: 512, or a block device's sector size */
	bool read_only;
	bool direct;    /* fd has O_DIRECT */
	const char *id; /* GET_ID string, at most 20 bytes; NULL: empty */
	enum block_engine engine;
	/* Firecracker's RateLimiter (copied): a request takes one op, and its
	 * data bytes for IN and OUT. NULL or no bucket enabled: no limit (it
	 * can still be set later with virtio_blk_update_rate_limiter). */
	const struct rate_limiter_config *rate_limiter;
	/* Firecracker's per-drive metrics object "block_<metrics_id>", summed
	 * into "block". NULL: none. */
	const char *metrics_id;
};

/*
 * Creates the device and its backend; completions are served on loop
 * (NULL in tests: call virtio_blk_poll). Builder thread. 0 or -errno; on
 * failure params->fd is closed. Destroy with virtio_device_destroy (or
 * through the transport) after the vCPUs stopped: it waits for I/O in
 * flight, whose buffers are guest memory.
 */
int virtio_blk_create(const struct virtio_blk_params *params, const struct guest_memory *mem,
                      struct event_loop *loop, struct virtio_device **out) must_check;
/*
 * Puts the device on another image (the API's PATCH /drives): waits until
 * the requests in flight completed (polling the backend: call it on the
 * VMM thread, which completes them, with no lock held), replaces the
 * backend with one on params->fd (taken: closed on failure too), and, when
 * the capacity changed, tells the driver with a configuration change
 * interrupt. read_only and id of params are ignored (the guest negotiated
 * them); the logical block size must stay. 0, or -errno with the old
 * image still in place.
 */
int virtio_blk_replace_backing(struct virtio_device *dev, const struct virtio_blk_params *params,
                               struct event_loop *loop) must_check;
/* Delivers finished I/O (what the event loop does when the backend's fd
 * fires). VMM thread, without dev->lock. Returns the requests finished. */
unsigned virtio_blk_poll(struct virtio_device *dev);
/* The backend's eventfd (readable when virtio_blk_poll has work). */
int virtio_blk_backend_fd(struct virtio_device *dev);
/* "io_uring" or "sync". */
const char *virtio_blk_engine(struct virtio_device *dev);
/*
 * PATCH /drives/{id} with a rate_limiter: Firecracker's update semantics
 * (rate_limiter_update: NULL keeps a bucket, a disabled config removes it,
 * an enabled one replaces it with a full bucket); a throttled queue is
 * re-evaluated at once. Counted in update_count / update_fails. Any
 * thread. 0 or -EINVAL (nothing changed).
 */
int virtio_blk_update_rate_limiter(struct virtio_device *dev,
                                   const struct token_bucket_config *bandwidth,
                                   const struct token_bucket_config *ops) must_check;
/* The limits in force now (GET /vm/config). Any thread. */
void virtio_blk_rate_limiter_config(struct virtio_device *dev, struct rate_limiter_config *out);

#endif
