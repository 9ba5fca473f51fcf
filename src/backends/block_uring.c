/*
 * The io_uring block engine (see block.h), on liburing.
 *
 * Batching: submit only prepares an SQE; kick hands every prepared SQE
 * to the kernel with one io_uring_submit, so a queue-processing pass
 * that pops many chains costs one system call. Completions: the
 * backend's eventfd is registered with the ring (io_uring_register_eventfd)
 * and watched by the VMM thread's event loop; block_backend_poll reaps
 * the CQEs and calls each request's done.
 *
 * Rare paths run synchronously on the VMM thread, from poll, through
 * block_sync_exec: O_DIRECT transfers whose guest buffers are not
 * aligned (bounced), the rest of a short read or write, write-zeroes on
 * a file system without FALLOC_FL_ZERO_RANGE, and a request that found
 * no free SQE.
 *
 * In flight at most queue_depth requests (the device keeps to that), so
 * the ring (queue_depth SQEs, twice as many CQEs) never overflows.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* FALLOC_FL_* */
#endif
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "backends/block_internal.h"
#include "core/log.h"

struct block_uring {
	struct block_backend base; /* first: a cast converts */
	struct io_uring ring;
	unsigned inflight;    /* SQEs prepared and not yet reaped */
	unsigned unsubmitted; /* SQEs prepared since the last successful submit */
	struct block_request *deferred, **deferred_tail;
};

static struct block_uring *to_uring(struct block_backend *b)
{
	return (struct block_uring *)b;
}

static void defer(struct block_uring *u, struct block_request *req)
{
	*u->deferred_tail = req;
	u->deferred_tail = &req->next;
}

/* Hands prepared SQEs to the kernel. Failures there are transient
 * (-EAGAIN, -EBUSY, -EINTR): the SQEs stay in the ring and the next poll
 * tries again, which the eventfd write guarantees. */
static void flush_sq(struct block_uring *u)
{
	if (!u->unsubmitted)
		return;
	int r = io_uring_submit(&u->ring);
	if (r >= 0) {
		u->unsubmitted -= MIN((unsigned)r, u->unsubmitted);
		return;
	}
	log_warn_ratelimited("block: io_uring_submit failed: %s (retrying)", strerror(-r));
	block_backend_wake(&u->base);
}

static void uring_submit(struct block_backend *b, struct block_request *req)
{
	struct block_uring *u = to_uring(b);
	bool rw = req->op == BLOCK_OP_READ || req->op == BLOCK_OP_WRITE;
	if (rw && !block_req_aligned(b, req)) {
		defer(u, req);
		return;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		flush_sq(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (!sqe) {
		defer(u, req);
		return;
	}
	switch (req->op) {
	case BLOCK_OP_READ:
		io_uring_prep_readv(sqe, b->fd, req->iov, req->iovcnt, req->offset);
		break;
	case BLOCK_OP_WRITE:
		io_uring_prep_writev(sqe, b->fd, req->iov, req->iovcnt, req->offset);
		break;
	case BLOCK_OP_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLOCK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		                        (off_t)req->offset, (off_t)req->len);
		break;
	case BLOCK_OP_WRITE_ZEROES: {
		int mode = req->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, b->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)req->offset,
		                        (off_t)req->len);
		break;
	}
	}
	io_uring_sqe_set_data(sqe, req);
	u->unsubmitted++;
	u->inflight++;
}

static void uring_kick(struct block_backend *b)
{
	struct block_uring *u = to_uring(b);
	flush_sq(u);
	if (u->deferred)
		block_backend_wake(b);
}

static bool unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
}

/* The request's result from its CQE, finishing it synchronously where
 * the kernel did only part. */
static int finish(struct block_backend *b, struct block_request *req, int res)
{
	switch (req->op) {
	case BLOCK_OP_READ:
	case BLOCK_OP_WRITE: {
		if (res < 0)
			return res;
		uint64_t total = 0;
		for (unsigned i = 0; i < req->iovcnt; i++)
			total += req->iov[i].iov_len;
		if ((uint64_t)res >= total)
			return 0;
		if (res == 0)
			return -EIO; /* the image shrank under us */
		return block_sync_exec(b, req, (uint64_t)res);
	}
	case BLOCK_OP_FLUSH:
		return res;
	case BLOCK_OP_DISCARD:
		/* A hint (5.2.6.2: the device MAY deallocate). */
		return res < 0 && unsupported(res) ? 0 : res;
	case BLOCK_OP_WRITE_ZEROES:
		return res < 0 && unsupported(res) ? block_sync_exec(b, req, 0) : res;
	}
	return -EINVAL;
}

static unsigned uring_poll(struct block_backend *b)
{
	struct block_uring *u = to_uring(b);
	unsigned n = 0;
	flush_sq(u);
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct block_request *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		req->done(req, finish(b, req, res));
		n++;
	}
	struct block_request *req = u->deferred;
	u->deferred = NULL;
	u->deferred_tail = &u->deferred;
	while (req) {
		struct block_request *next = req->next;
		req->done(req, block_sync_exec(b, req, 0));
		req = next;
		n++;
	}
	return n;
}

static void uring_destroy(struct block_backend *b)
{
	struct block_uring *u = to_uring(b);
	/* The kernel may still be writing guest memory: wait for it. */
	if (u->unsubmitted)
		(void)io_uring_submit(&u->ring);
	while (u->inflight) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&u->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
	}
	io_uring_queue_exit(&u->ring);
	free(u);
}

static const struct block_backend_ops uring_ops = {
    .name = "io_uring",
    .submit = uring_submit,
    .kick = uring_kick,
    .poll = uring_poll,
    .destroy = uring_destroy,
};

int block_uring_create(const struct block_backend *base, struct block_backend **out)
{
	struct block_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->base = *base;
	u->base.ops = &uring_ops;
	u->deferred_tail = &u->deferred;
	int r = io_uring_queue_init(base->queue_depth, &u->ring, 0);
	if (r) {
		free(u);
		return r;
	}
	r = io_uring_register_eventfd(&u->ring, base->event_fd);
	if (r) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	*out = &u->base;
	return 0;
}
