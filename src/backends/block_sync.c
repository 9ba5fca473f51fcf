/*
 * The synchronous block engine (see block.h), for hosts where io_uring
 * cannot be set up, and the synchronous helpers the io_uring engine
 * shares for its rare paths.
 *
 * Requests are queued by submit, and run one after the other with
 * preadv/pwritev, fdatasync and fallocate when the backend's eventfd
 * fires on the VMM thread (block_backend_poll) -- never inside submit or
 * kick, so completions keep the same shape as with io_uring: the device
 * never sees its callback run under its own lock.
 *
 * O_DIRECT (cache=none) needs aligned addresses, lengths and offsets.
 * Guest buffers usually are (guest pages are host pages), but nothing
 * forces a guest to use them: a misaligned transfer goes through one
 * aligned bounce buffer of BLOCK_BOUNCE_SIZE, chunk by chunk, so the
 * memory it takes is bounded whatever the request size.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fallocate, preadv, O_DIRECT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/block_internal.h"

struct block_sync {
	struct block_backend base; /* first: a cast converts */
	struct block_request *head, **tail;
};

bool block_req_aligned(const struct block_backend *b, const struct block_request *req)
{
	if (!b->direct)
		return true;
	if (req->offset % b->align)
		return false;
	for (unsigned i = 0; i < req->iovcnt; i++)
		if ((uintptr_t)req->iov[i].iov_base % b->align || req->iov[i].iov_len % b->align)
			return false;
	return true;
}

static uint64_t iov_total(const struct iovec *iov, unsigned cnt)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Drops the first n bytes of iov[*first..cnt) in place. */
static void iov_advance(struct iovec *iov, unsigned cnt, unsigned *first, uint64_t n)
{
	while (n && *first < cnt) {
		struct iovec *v = &iov[*first];
		if (n < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		v->iov_len = 0;
		(*first)++;
	}
}

/* Copies len bytes between buf and the iov bytes from pos on. */
static void iov_copy(const struct iovec *iov, unsigned cnt, uint64_t pos, uint8_t *buf, size_t len,
                     bool to_iov)
{
	for (unsigned i = 0; i < cnt && len; i++) {
		if (pos >= iov[i].iov_len) {
			pos -= iov[i].iov_len;
			continue;
		}
		size_t k = (size_t)MIN((uint64_t)len, iov[i].iov_len - pos);
		uint8_t *p = (uint8_t *)iov[i].iov_base + pos;
		if (to_iov)
			memcpy(p, buf, k);
		else
			memcpy(buf, p, k);
		buf += k;
		len -= k;
		pos = 0;
	}
}

static int get_bounce(struct block_backend *b)
{
	if (b->bounce)
		return 0;
	void *p;
	int r = posix_memalign(&p, BLOCK_BOUNCE_ALIGN, BLOCK_BOUNCE_SIZE);
	if (r)
		return -r;
	b->bounce = p;
	return 0;
}

/* pread/pwrite of exactly len bytes; 0, -errno, or -EIO at end of file. */
static int full_pio(int fd, bool write, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n =
		    write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int rw_bounced(struct block_backend *b, struct block_request *req, uint64_t pos)
{
	bool write = req->op == BLOCK_OP_WRITE;
	uint64_t total = iov_total(req->iov, req->iovcnt);
	int r = get_bounce(b);
	if (r)
		return r;
	if ((req->offset + pos) % b->align || (total - pos) % b->align)
		return -EINVAL; /* O_DIRECT cannot do a partial block */
	while (pos < total) {
		size_t chunk = (size_t)MIN(total - pos, (uint64_t)BLOCK_BOUNCE_SIZE);
		if (write)
			iov_copy(req->iov, req->iovcnt, pos, b->bounce, chunk, false);
		if ((r = full_pio(b->fd, write, b->bounce, chunk, req->offset + pos)))
			return r;
		if (!write)
			iov_copy(req->iov, req->iovcnt, pos, b->bounce, chunk, true);
		pos += chunk;
	}
	return 0;
}

static int rw_vectored(struct block_backend *b, struct block_request *req, uint64_t skip)
{
	bool write = req->op == BLOCK_OP_WRITE;
	uint64_t total = iov_total(req->iov, req->iovcnt);
	uint64_t done = skip;
	unsigned first = 0;
	iov_advance(req->iov, req->iovcnt, &first, skip);
	while (done < total) {
		int cnt = (int)MIN(req->iovcnt - first, (unsigned)IOV_MAX);
		off_t off = (off_t)(req->offset + done);
		ssize_t n = write ? pwritev(b->fd, req->iov + first, cnt, off)
		                  : preadv(b->fd, req->iov + first, cnt, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the image shrank under us */
		done += (uint64_t)n;
		iov_advance(req->iov, req->iovcnt, &first, (uint64_t)n);
	}
	return 0;
}

static int write_zeroes(struct block_backend *b, uint64_t off, uint64_t len, bool unmap)
{
	if (unmap &&
	    !fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (!fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No way to ask the file system: write the zeroes ourselves. */
	int r = get_bounce(b);
	if (r)
		return r;
	memset(b->bounce, 0, BLOCK_BOUNCE_SIZE);
	while (len) {
		size_t chunk = (size_t)MIN(len, (uint64_t)BLOCK_BOUNCE_SIZE);
		if ((r = full_pio(b->fd, true, b->bounce, chunk, off)))
			return r;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

int block_sync_exec(struct block_backend *b, struct block_request *req, uint64_t skip)
{
	switch (req->op) {
	case BLOCK_OP_READ:
	case BLOCK_OP_WRITE:
		if (!block_req_aligned(b, req))
			return rw_bounced(b, req, skip);
		return rw_vectored(b, req, skip);
	case BLOCK_OP_FLUSH:
		return fdatasync(b->fd) ? -errno : 0;
	case BLOCK_OP_DISCARD:
		if (!fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		               (off_t)req->offset, (off_t)req->len))
			return 0;
		/* Discard is a hint (5.2.6.2: the device MAY deallocate). */
		if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
			return 0;
		return -errno;
	case BLOCK_OP_WRITE_ZEROES:
		return write_zeroes(b, req->offset, req->len, req->unmap);
	}
	return -EINVAL;
}

static void sync_submit(struct block_backend *base, struct block_request *req)
{
	struct block_sync *s = (struct block_sync *)base;
	*s->tail = req;
	s->tail = &req->next;
}

static void sync_kick(struct block_backend *base)
{
	struct block_sync *s = (struct block_sync *)base;
	if (s->head)
		block_backend_wake(base);
}

static unsigned sync_poll(struct block_backend *base)
{
	struct block_sync *s = (struct block_sync *)base;
	struct block_request *req = s->head;
	s->head = NULL;
	s->tail = &s->head;
	unsigned n = 0;
	while (req) {
		struct block_request *next = req->next;
		req->done(req, block_sync_exec(base, req, 0));
		req = next;
		n++;
	}
	return n;
}

static void sync_destroy(struct block_backend *base)
{
	free(base);
}

static const struct block_backend_ops sync_ops = {
    .name = "sync",
    .submit = sync_submit,
    .kick = sync_kick,
    .poll = sync_poll,
    .destroy = sync_destroy,
};

int block_sync_create(const struct block_backend *base, struct block_backend **out)
{
	struct block_sync *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = *base;
	s->base.ops = &sync_ops;
	s->tail = &s->head;
	*out = &s->base;
	return 0;
}
