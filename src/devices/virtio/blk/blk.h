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

struct virtio_blk_params {
	int fd;                  /* the open, locked image: taken (closed by the device) */
	uint64_t capacity_bytes; /* a multiple of 512 */
	uint32_t logical_block;  /* blk_size: 512, or a block device's sector size */
	bool read_only;
	bool direct;    /* fd has O_DIRECT */
	const char *id; /* GET_ID string, at most 20 bytes; NULL: empty */
	enum block_engine engine;
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
/* Delivers finished I/O (what the event loop does when the backend's fd
 * fires). VMM thread, without dev->lock. Returns the requests finished. */
unsigned virtio_blk_poll(struct virtio_device *dev);
/* The backend's eventfd (readable when virtio_blk_poll has work). */
int virtio_blk_backend_fd(struct virtio_device *dev);
/* "io_uring" or "sync". */
const char *virtio_blk_engine(struct virtio_device *dev);

#endif
