/*
 * libFuzzer target for the virtio-blk request parser
 * (src/devices/virtio/blk/blk_req.c, virtio 1.2 section 5.2.6): the
 * input describes the device's limits and one chain as the virtqueue
 * walker hands it over (readable segments first, none empty), each
 * segment in its own malloc'd buffer so AddressSanitizer catches any
 * byte the parser or its output points past.
 *
 * Input layout (little-endian, short inputs are zero-padded):
 *   [0]      flags: bit 0 read-only, bit 1 DISCARD, bit 2 WRITE_ZEROES
 *   [1..8]   capacity in sectors (bit 3 of flags: keep it small, % 4096)
 *   [9]      seg_max = byte % 8 + 1 (the iov storage is exactly that big)
 *   [10]     number of segments = byte % 12
 *   per seg  le16 length (% 2048 + 1), u8 writable (bit 0)
 *   then     the segments' bytes, in order
 *
 * Beyond sanitizer reports the target aborts when a result breaks the
 * parser's contract: a status byte that is not the chain's last writable
 * byte, data outside the right direction or overlapping the status,
 * lengths that do not add up, a range past capacity accepted, a write
 * accepted on a read-only disk, a violation reported for a chain that
 * has a header and a status byte (or the other way round).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/blk/blk_req.h"

#define MAX_SEGS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void take(const uint8_t **p, size_t *left, void *dst, size_t n)
{
	size_t k = n < *left ? n : *left;
	memcpy(dst, *p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	*p += k;
	*left -= k;
}

/* Which segment holds [p, p + len), and is it the right direction. */
static int owner(const struct virtq_chain *c, const uint8_t *p, size_t len, bool writable)
{
	for (unsigned i = 0; i < c->nr_segs; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (p >= s->ptr && p + len <= s->ptr + s->len)
			return s->writable == writable ? (int)i : -1;
	}
	return -1;
}

static void check_data(const struct virtq_chain *c, const struct blk_request *r, bool writable,
                       unsigned cap)
{
	uint64_t sum = 0;
	if (r->iovcnt > cap)
		abort();
	for (unsigned i = 0; i < r->iovcnt; i++) {
		const uint8_t *b = r->iov[i].iov_base;
		size_t n = r->iov[i].iov_len;
		if (n == 0 || owner(c, b, n, writable) < 0)
			abort();
		if (r->status_ptr >= b && r->status_ptr < b + n)
			abort(); /* data over the status byte */
		volatile uint8_t x = b[0] ^ b[n - 1];
		(void)x;
		sum += n;
	}
	if (sum != r->data_len)
		abort();
}

static void check(const struct virtq_chain *c, const struct blk_limits *lim,
                  const struct blk_request *r, int rc, unsigned cap)
{
	bool has_hdr = c->readable_len >= VIRTIO_BLK_HDR_SIZE;
	bool has_status = c->writable_len > 0;
	if (rc == -EPROTO) {
		if ((has_hdr && has_status) || !r->why)
			abort();
		return;
	}
	if (rc != 0 || !has_hdr || !has_status)
		abort();
	const struct virtq_seg *last = &c->segs[c->nr_segs - 1];
	if (r->status_ptr != last->ptr + last->len - 1 || !last->writable)
		abort();
	if (r->used_len != (c->writable_len > UINT32_MAX ? UINT32_MAX : c->writable_len))
		abort();
	if (r->status != VIRTIO_BLK_S_OK) {
		if ((r->status != VIRTIO_BLK_S_IOERR && r->status != VIRTIO_BLK_S_UNSUPP) ||
		    !r->why)
			abort();
		return;
	}
	uint64_t end = r->sector + r->nr_sectors;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if ((r->type == VIRTIO_BLK_T_OUT && lim->read_only) || r->data_len % 512 ||
		    r->nr_sectors != r->data_len / 512 || end < r->sector || end > lim->capacity)
			abort();
		check_data(c, r, r->type == VIRTIO_BLK_T_IN, cap);
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (r->data_len != VIRTIO_BLK_ID_BYTES)
			abort();
		check_data(c, r, true, cap);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
		if (lim->read_only || !(zeroes ? lim->write_zeroes : lim->discard) ||
		    (!zeroes && r->unmap) || end < r->sector || end > lim->capacity)
			abort();
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		break;
	default:
		abort(); /* an unknown type accepted */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	uint8_t flags, seg_max, nsegs;
	uint64_t capacity;
	take(&p, &left, &flags, 1);
	take(&p, &left, &capacity, 8);
	take(&p, &left, &seg_max, 1);
	take(&p, &left, &nsegs, 1);
	struct blk_limits lim = {
	    .capacity = (flags & 8) ? capacity % 4096 : capacity,
	    .read_only = flags & 1,
	    .discard = flags & 2,
	    .write_zeroes = flags & 4,
	    .max_discard_sectors = 4096,
	    .max_discard_seg = 1,
	    .max_write_zeroes_sectors = 4096,
	    .max_write_zeroes_seg = 1,
	    .seg_max = (unsigned)(seg_max % 8) + 1,
	    .max_data_bytes = 64 * 1024,
	};
	unsigned cap = lim.seg_max;
	struct virtq_seg segs[MAX_SEGS];
	struct virtq_chain c = {.segs = segs};
	bool writable = false;
	for (unsigned i = 0; i < nsegs % (MAX_SEGS + 1u); i++) {
		uint8_t d[3];
		take(&p, &left, d, sizeof(d));
		uint32_t len = (uint32_t)((d[0] | d[1] << 8) % 2048) + 1;
		writable = writable || (d[2] & 1); /* the walker puts readable first */
		segs[i] = (struct virtq_seg){.len = len, .writable = writable};
		c.nr_segs++;
		if (writable) {
			c.writable_len += len;
		} else {
			c.nr_readable++;
			c.readable_len += len;
		}
	}
	for (unsigned i = 0; i < c.nr_segs; i++) {
		segs[i].ptr = malloc(segs[i].len);
		if (!segs[i].ptr)
			abort();
		take(&p, &left, segs[i].ptr, segs[i].len);
	}
	struct iovec *iov = malloc(cap * sizeof(*iov));
	if (!iov)
		abort();
	struct blk_request req;
	int rc = blk_request_parse(&c, &lim, iov, cap, &req);
	check(&c, &lim, &req, rc, cap);
	free(iov);
	for (unsigned i = 0; i < c.nr_segs; i++)
		free(segs[i].ptr);
	return 0;
}
