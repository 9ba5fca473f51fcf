/*
 * Host-side block storage for virtio-blk (virtio 1.2 section 5.2 is the
 * guest-facing half, in devices/virtio/blk/): an image file or a block
 * device, opened and locked once (block_file), and an asynchronous
 * backend that moves requests to and from it (block_backend).
 *
 * Two engines implement the backend: io_uring (block_uring.c, batched:
 * one io_uring_submit per kick) and a preadv/pwritev fallback
 * (block_sync.c) used when io_uring cannot be set up. Both deliver every
 * completion from block_backend_poll, which the VMM thread's event loop
 * calls when the backend's eventfd fires -- never from inside
 * block_backend_submit or block_backend_kick -- so a device may submit
 * with its lock held and take that lock again in the callback.
 *
 * Locking of images: an OFD lock (F_OFD_SETLK) over the whole file, a
 * write lock for a writable drive and a read lock for a read-only one, so
 * two VMs cannot open one writable image, while any number may share a
 * read-only one. The lock lives as long as the open file description
 * (every dup of the fd).
 *
 * Threads: block_file_* before the VM runs (config loading); everything
 * else on the VMM thread. A backend is not thread-safe.
 */
#ifndef EMBER_BACKENDS_BLOCK_H
#define EMBER_BACKENDS_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/macros.h"

#define BLOCK_SECTOR_SIZE 512u
/* Most data segments in one request (the device's seg_max). */
#define BLOCK_MAX_IOV 126u

/* An opened, locked image. */
struct block_file {
	int fd;
	uint64_t size;          /* bytes, a multiple of BLOCK_SECTOR_SIZE */
	uint32_t logical_block; /* 512, or the block device's logical sector size */
	bool read_only, direct, is_blockdev;
	dev_t dev;
	ino_t ino;
};

/*
 * Opens path (O_RDONLY for read_only, else O_RDWR; O_DIRECT for direct),
 * checks it is a regular file or block device whose size is a multiple
 * of 512 bytes, and takes the OFD lock. On failure err holds one line
 * naming the path (and, for a lock conflict, the holder when /proc tells)
 * and -errno is returned. Before the VM runs; any thread.
 */
int block_file_open(const char *path, bool read_only, bool direct, struct block_file **out,
                    char *err, size_t errlen) must_check;
/* Closes the fd (dropping the lock unless a dup lives on). NULL ok. */
void block_file_close(struct block_file *f);

enum block_op {
	BLOCK_OP_READ,
	BLOCK_OP_WRITE,
	BLOCK_OP_FLUSH,        /* fdatasync: everything completed before is stable */
	BLOCK_OP_DISCARD,      /* fallocate PUNCH_HOLE | KEEP_SIZE; advisory */
	BLOCK_OP_WRITE_ZEROES, /* reads of the range return zeroes afterwards */
};

struct block_request;
/* result: 0, or -errno (a short read at the end of the file is -EIO). */
typedef void (*block_done_fn)(struct block_request *req, int result);

/*
 * One request, in storage the caller owns until done is called. The
 * backend may rewrite iov[] while the request runs (short transfers).
 */
struct block_request {
	enum block_op op;
	uint64_t offset; /* bytes */
	uint64_t len;    /* DISCARD / WRITE_ZEROES: bytes */
	bool unmap;      /* WRITE_ZEROES: the range may be deallocated */
	struct iovec *iov;
	unsigned iovcnt; /* READ / WRITE: at most BLOCK_MAX_IOV */
	block_done_fn done;
	/* The backend's. */
	struct block_request *next;
};

enum block_engine {
	BLOCK_ENGINE_AUTO,  /* io_uring, else sync (one info line says so) */
	BLOCK_ENGINE_URING, /* io_uring or fail */
	BLOCK_ENGINE_SYNC,
};

struct event_loop;

struct block_backend_params {
	int fd;               /* taken: the backend closes it */
	bool direct;          /* fd has O_DIRECT: misaligned buffers are bounced */
	uint32_t align;       /* O_DIRECT alignment of addresses, lengths, offsets */
	unsigned queue_depth; /* most requests in flight at once */
	enum block_engine engine;
	struct event_loop *loop; /* NULL: the caller calls block_backend_poll */
	/* After each batch of completions (VMM thread, no lock held). */
	void (*batch_done)(void *opaque);
	void *opaque;
};

struct block_backend;

/* Creates a backend. 0 or -errno; on failure params->fd is closed. */
int block_backend_create(const struct block_backend_params *params,
                         struct block_backend **out) must_check;
/* Waits for requests in flight (their callbacks are not called), closes
 * the fd. NULL ok. The guest memory their buffers point to must still be
 * mapped. */
void block_backend_destroy(struct block_backend *b);
/* Queues req; it starts at the next block_backend_kick. Errors arrive
 * through req->done, from block_backend_poll. */
void block_backend_submit(struct block_backend *b, struct block_request *req);
/* Starts everything submitted since the last kick (one system call). */
void block_backend_kick(struct block_backend *b);
/* Delivers finished requests' callbacks, then batch_done once if any.
 * Returns how many requests finished. Called by the event loop. */
unsigned block_backend_poll(struct block_backend *b);
/* The eventfd that becomes readable when block_backend_poll has work. */
int block_backend_fd(const struct block_backend *b);
/* "io_uring" or "sync". */
const char *block_backend_name(const struct block_backend *b);

#endif
