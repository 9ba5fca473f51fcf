/*
 * virtio-blk request parsing (virtio 1.2 section 5.2.6; see blk_req.h).
 *
 * Checks, in the spec's words where it has them (5.2.6.1 driver and
 * 5.2.6.2 device requirements):
 *  - IN / OUT: data a multiple of 512 bytes and in the right direction;
 *    [sector, sector + len / 512) within capacity, overflow-safe; at most
 *    seg_max data segments; OUT on a read-only disk is IOERR ("MUST NOT
 *    write any data").
 *  - GET_ID: at least 20 device-writable bytes for the ID string.
 *  - DISCARD / WRITE_ZEROES: only when negotiated (else UNSUPP); data a
 *    non-zero multiple of 16 bytes, at most max_*_seg segments (ember
 *    offers 1); unknown flags and unmap on a discard are UNSUPP; the
 *    range within capacity and max_*_sectors.
 *  - FLUSH: the sector and any data are ignored.
 *  - anything else (GET_LIFETIME, SECURE_ERASE, zoned, legacy SCSI) is
 *    UNSUPP.
 * The header and the discard segment are copied out of guest memory once
 * before they are checked: a racing vCPU cannot change them after.
 */
#include "devices/virtio/blk/blk_req.h"

#include <errno.h>
#include <string.h>

struct blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

_Static_assert(sizeof(struct blk_outhdr) == VIRTIO_BLK_HDR_SIZE, "virtio_blk_req header");
_Static_assert(sizeof(struct blk_dwz) == VIRTIO_BLK_DWZ_SIZE, "virtio_blk_discard_write_zeroes");

/* The segments holding the device-readable (or -writable) byte stream. */
static void stream(const struct virtq_chain *c, bool writable, unsigned *first, unsigned *end)
{
	*first = writable ? c->nr_readable : 0;
	*end = writable ? c->nr_segs : c->nr_readable;
}

/* Copies len bytes of a stream from offset off; the caller checked the
 * stream is long enough. */
static void gather(const struct virtq_chain *c, bool writable, uint64_t off, void *dst, size_t len)
{
	unsigned i, end;
	uint8_t *out = dst;
	for (stream(c, writable, &i, &end); i < end && len; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t k = (size_t)MIN((uint64_t)len, s->len - off);
		memcpy(out, s->ptr + off, k);
		out += k;
		len -= k;
		off = 0;
	}
}

/* Slices [off, off + len) of a stream into iov; -E2BIG past cap entries,
 * -EFBIG for a segment longer than size_max (0: any length). */
static int slice(const struct virtq_chain *c, bool writable, uint64_t off, uint64_t len,
                 struct iovec *iov, unsigned cap, uint64_t size_max, unsigned *cnt)
{
	unsigned i, end;
	*cnt = 0;
	for (stream(c, writable, &i, &end); i < end && len; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t k = MIN(len, s->len - off);
		if (*cnt >= cap)
			return -E2BIG;
		if (size_max && k > size_max)
			return -EFBIG;
		iov[(*cnt)++] = (struct iovec){.iov_base = s->ptr + off, .iov_len = (size_t)k};
		len -= k;
		off = 0;
	}
	return 0;
}

static bool range_ok(uint64_t capacity, uint64_t sector, uint64_t nr)
{
	return sector <= capacity && nr <= capacity - sector;
}

/* A legal request the device refuses: complete it with status. */
static int bad(struct blk_request *req, uint8_t status, const char *why)
{
	req->status = status;
	req->why = why;
	req->iovcnt = 0;
	return 0;
}

static int parse_rw(const struct virtq_chain *c, const struct blk_limits *lim, uint64_t sector,
                    bool in, uint64_t rd_data, uint64_t wr_data, unsigned cap,
                    struct blk_request *req)
{
	if (in && rd_data)
		return bad(req, VIRTIO_BLK_S_IOERR, "read request with device-readable data");
	if (!in && wr_data)
		return bad(req, VIRTIO_BLK_S_IOERR, "write request with device-writable data");
	if (!in && lim->read_only)
		return bad(req, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
	uint64_t len = in ? wr_data : rd_data;
	if (len % VIRTIO_BLK_SECTOR_SIZE)
		return bad(req, VIRTIO_BLK_S_IOERR, "data length is not a multiple of 512");
	if (len > lim->max_data_bytes)
		return bad(req, VIRTIO_BLK_S_IOERR, "request larger than seg_max * size_max");
	uint64_t nr = len / VIRTIO_BLK_SECTOR_SIZE;
	if (!range_ok(lim->capacity, sector, nr))
		return bad(req, VIRTIO_BLK_S_IOERR, "sector range past the capacity");
	unsigned cnt;
	int r = slice(c, in, in ? 0 : VIRTIO_BLK_HDR_SIZE, len, req->iov, MIN(cap, lim->seg_max),
	              lim->size_max, &cnt);
	if (r == -EFBIG)
		return bad(req, VIRTIO_BLK_S_IOERR, "a data segment larger than size_max");
	if (r)
		return bad(req, VIRTIO_BLK_S_IOERR, "more data segments than seg_max");
	req->sector = sector;
	req->nr_sectors = nr;
	req->data_len = len;
	req->iovcnt = cnt;
	return 0;
}

static int parse_get_id(const struct virtq_chain *c, uint64_t rd_data, uint64_t wr_data,
                        unsigned cap, struct blk_request *req)
{
	if (rd_data)
		return bad(req, VIRTIO_BLK_S_IOERR, "GET_ID with device-readable data");
	if (wr_data < VIRTIO_BLK_ID_BYTES)
		return bad(req, VIRTIO_BLK_S_IOERR, "GET_ID buffer shorter than 20 bytes");
	unsigned cnt;
	if (slice(c, true, 0, VIRTIO_BLK_ID_BYTES, req->iov, cap, 0, &cnt))
		return bad(req, VIRTIO_BLK_S_IOERR, "GET_ID buffer in too many segments");
	req->data_len = VIRTIO_BLK_ID_BYTES;
	req->iovcnt = cnt;
	return 0;
}

static int parse_dwz(const struct virtq_chain *c, const struct blk_limits *lim, bool zeroes,
                     uint64_t rd_data, uint64_t wr_data, struct blk_request *req)
{
	if (!(zeroes ? lim->write_zeroes : lim->discard))
		return bad(req, VIRTIO_BLK_S_UNSUPP, "discard or write zeroes not negotiated");
	if (lim->read_only)
		return bad(req, VIRTIO_BLK_S_IOERR, "discard or write zeroes on a read-only disk");
	if (wr_data)
		return bad(req, VIRTIO_BLK_S_IOERR, "discard or write zeroes with writable data");
	if (rd_data == 0 || rd_data % VIRTIO_BLK_DWZ_SIZE)
		return bad(req, VIRTIO_BLK_S_IOERR,
		           "discard or write zeroes data not n * 16 bytes");
	uint32_t max_seg = zeroes ? lim->max_write_zeroes_seg : lim->max_discard_seg;
	/* One segment is what ember offers and what the device serves. */
	if (rd_data / VIRTIO_BLK_DWZ_SIZE > MIN(max_seg, 1u))
		return bad(req, VIRTIO_BLK_S_IOERR,
		           "more discard or write zeroes segments than max");
	struct blk_dwz seg;
	gather(c, false, VIRTIO_BLK_HDR_SIZE, &seg, sizeof(seg));
	if (seg.flags & ~VIRTIO_BLK_DWZ_F_UNMAP)
		return bad(req, VIRTIO_BLK_S_UNSUPP, "unknown discard or write zeroes flags");
	if (!zeroes && (seg.flags & VIRTIO_BLK_DWZ_F_UNMAP))
		return bad(req, VIRTIO_BLK_S_UNSUPP, "discard with the unmap flag");
	uint32_t max_sectors = zeroes ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;
	if (seg.num_sectors > max_sectors)
		return bad(req, VIRTIO_BLK_S_IOERR,
		           "more discard or write zeroes sectors than max");
	if (!range_ok(lim->capacity, seg.sector, seg.num_sectors))
		return bad(req, VIRTIO_BLK_S_IOERR,
		           "discard or write zeroes range past the capacity");
	req->sector = seg.sector;
	req->nr_sectors = seg.num_sectors;
	req->unmap = seg.flags & VIRTIO_BLK_DWZ_F_UNMAP;
	return 0;
}

int blk_request_parse(const struct virtq_chain *chain, const struct blk_limits *lim,
                      struct iovec *iov, unsigned iov_cap, struct blk_request *req)
{
	memset(req, 0, sizeof(*req));
	req->iov = iov;
	if (chain->readable_len < VIRTIO_BLK_HDR_SIZE) {
		req->why = "request header shorter than 16 device-readable bytes";
		return -EPROTO;
	}
	if (chain->writable_len == 0 || chain->nr_segs == 0) {
		req->why = "request without a device-writable status byte";
		return -EPROTO;
	}
	struct blk_outhdr hdr;
	gather(chain, false, 0, &hdr, sizeof(hdr));
	req->type = hdr.type;
	/* The status is the chain's last byte; writable buffers come last. */
	const struct virtq_seg *last = &chain->segs[chain->nr_segs - 1];
	req->status_ptr = last->ptr + last->len - 1;
	req->used_len = (uint32_t)MIN(chain->writable_len, (uint64_t)UINT32_MAX);
	uint64_t rd_data = chain->readable_len - VIRTIO_BLK_HDR_SIZE;
	uint64_t wr_data = chain->writable_len - 1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(chain, lim, hdr.sector, hdr.type == VIRTIO_BLK_T_IN, rd_data,
		                wr_data, iov_cap, req);
	case VIRTIO_BLK_T_FLUSH:
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		return parse_get_id(chain, rd_data, wr_data, iov_cap, req);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_dwz(chain, lim, hdr.type == VIRTIO_BLK_T_WRITE_ZEROES, rd_data,
		                 wr_data, req);
	default:
		return bad(req, VIRTIO_BLK_S_UNSUPP, "unsupported request type");
	}
}
