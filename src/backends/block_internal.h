/*
 * What the two block engines (block_uring.c, block_sync.c) share with
 * block.c: the common backend state, the engine table, and the
 * synchronous I/O helpers the io_uring engine falls back to for rare
 * cases (misaligned O_DIRECT buffers, short transfers, write-zeroes on a
 * file system without FALLOC_FL_ZERO_RANGE). Not for use outside
 * src/backends/.
 */
#ifndef EMBER_BACKENDS_BLOCK_INTERNAL_H
#define EMBER_BACKENDS_BLOCK_INTERNAL_H

#include "backends/block.h"

/* The bounce buffer for misaligned O_DIRECT transfers and zero writes. */
#define BLOCK_BOUNCE_SIZE  (256u * 1024u)
#define BLOCK_BOUNCE_ALIGN 4096u

struct block_backend_ops {
	const char *name;
	void (*submit)(struct block_backend *b, struct block_request *req);
	void (*kick)(struct block_backend *b);
	/* Completes what finished, calling req->done; returns the count. */
	unsigned (*poll)(struct block_backend *b);
	/* Waits for requests in flight and frees the engine (not the fds). */
	void (*destroy)(struct block_backend *b);
};

/* The first member of every engine's struct. */
struct block_backend {
	const struct block_backend_ops *ops;
	int fd;
	int event_fd;
	bool direct;
	uint32_t align;
	unsigned queue_depth;
	struct event_loop *loop;
	void (*batch_done)(void *opaque);
	void *opaque;
	uint8_t *bounce; /* BLOCK_BOUNCE_SIZE bytes, allocated on first use */
};

/* Engine constructors: *out embeds a copy of *base. 0 or -errno. */
int block_uring_create(const struct block_backend *base, struct block_backend **out) must_check;
int block_sync_create(const struct block_backend *base, struct block_backend **out) must_check;

/* Makes the backend's eventfd readable (block_backend_poll has work). */
void block_backend_wake(struct block_backend *b);

/* True when an O_DIRECT transfer of req can use its buffers as they are. */
bool block_req_aligned(const struct block_backend *b, const struct block_request *req);
/*
 * Runs req to the end on the calling thread: preadv/pwritev (through the
 * bounce buffer when O_DIRECT and misaligned), fdatasync, fallocate with
 * fallbacks. For READ/WRITE, skip bytes are already done. 0 or -errno.
 */
int block_sync_exec(struct block_backend *b, struct block_request *req, uint64_t skip);

#endif
