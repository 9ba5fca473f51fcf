/*
 * virtio-blk request parsing (virtio 1.2 section 5.2.6, Device Operation):
 * a pure function from one popped chain to what the device must do, so
 * unit tests and the fuzz target drive it without a device or a backend.
 *
 * A request is struct virtio_blk_req: the header (le32 type, le32
 * reserved, le64 sector) in device-readable bytes, then the data
 * (device-readable for OUT, DISCARD, WRITE_ZEROES; device-writable for
 * IN and GET_ID), then one device-writable status byte -- the last byte
 * of the chain. The device makes no assumption about how these are split
 * into descriptors (2.6.4, message framing): the header may span
 * buffers, data may share a buffer with the header or the status.
 *
 * Two kinds of wrong:
 *  - a protocol violation: the chain cannot carry a request at all (the
 *    header is shorter than 16 device-readable bytes, or there is no
 *    device-writable byte for the status). No status can be written, so
 *    the device goes to NEEDS_RESET (virtio_device_fail).
 *  - a bad request, legal virtio: unknown type (UNSUPP), sector range
 *    past capacity, data not a multiple of 512, a write to a read-only
 *    disk, too many segments, a malformed discard segment (IOERR; UNSUPP
 *    for flags the spec says so for). It completes with that status.
 */
#ifndef EMBER_DEVICES_VIRTIO_BLK_BLK_REQ_H
#define EMBER_DEVICES_VIRTIO_BLK_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/macros.h"
#include "devices/virtio/queue.h"

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN           0u
#define VIRTIO_BLK_T_OUT          1u
#define VIRTIO_BLK_T_FLUSH        4u
#define VIRTIO_BLK_T_GET_ID       8u
#define VIRTIO_BLK_T_GET_LIFETIME 10u
#define VIRTIO_BLK_T_DISCARD      11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_T_SECURE_ERASE 14u

/* Status byte values (5.2.6). */
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_HDR_SIZE    16u
#define VIRTIO_BLK_ID_BYTES    20u
/* struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors,
 * le32 flags (bit 0 unmap, the rest reserved). */
#define VIRTIO_BLK_DWZ_SIZE    16u
#define VIRTIO_BLK_DWZ_F_UNMAP 1u

/* What the device allows; filled from its config and the negotiated features. */
struct blk_limits {
	uint64_t capacity; /* sectors */
	bool read_only;
	bool discard, write_zeroes; /* VIRTIO_BLK_F_DISCARD / _WRITE_ZEROES negotiated */
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint32_t seg_max;        /* data segments of one IN/OUT request */
	uint32_t size_max;       /* bytes of one data segment, 0: no limit */
	uint64_t max_data_bytes; /* data bytes of one IN/OUT request */
};

struct blk_request {
	uint32_t type;
	/* VIRTIO_BLK_S_OK: serve the request. Otherwise complete it at once
	 * with this status (and why says what was wrong). */
	uint8_t status;
	const char *why;
	uint64_t sector;     /* IN / OUT: first sector; DISCARD / WRITE_ZEROES: the segment's */
	uint64_t nr_sectors; /* IN / OUT: data_len / 512; DISCARD / WRITE_ZEROES: the segment's */
	bool unmap;          /* WRITE_ZEROES: the driver allows deallocation */
	/* IN / OUT: the data; GET_ID: the first VIRTIO_BLK_ID_BYTES writable bytes. */
	struct iovec *iov;
	unsigned iovcnt;
	uint64_t data_len;
	uint8_t *status_ptr; /* the status byte in guest memory */
	uint32_t used_len;   /* for the used element: every device-writable byte */
};

/*
 * Parses chain against lim, slicing the data into iov[0..iov_cap) (the
 * caller's storage). Returns 0 with *req filled -- req->status says
 * whether to serve it or complete it at once -- or -EPROTO for a
 * protocol violation (req->why says which; no status byte to write).
 * Reads the header and discard segments from guest memory once each;
 * writes nothing. Any thread; no locks needed beyond the chain's.
 */
int blk_request_parse(const struct virtq_chain *chain, const struct blk_limits *lim,
                      struct iovec *iov, unsigned iov_cap, struct blk_request *req) must_check;

#endif
