/*
 * Block images on the host (see block.h): opening, sizing and OFD locking
 * of an image file or block device, and the engine-independent half of
 * the asynchronous backend (engine choice, eventfd, event-loop wiring).
 * The guest-facing device is devices/virtio/blk (virtio 1.2 section 5.2).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_SETLK, O_DIRECT */
#endif
#include "backends/block.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/block_internal.h"
#include "core/event_loop.h"
#include "core/log.h"

/* Bounds the /proc walk that names a lock holder (an error path only). */
#define HOLDER_SCAN_MAX_PIDS 65536

/* A decimal name in /proc (a pid or an fd number), else -1. */
static long proc_number(const char *name)
{
	char *end;
	if (name[0] < '0' || name[0] > '9')
		return -1;
	long v = strtol(name, &end, 10);
	return *end ? -1 : v;
}

/* True when /proc/pid/fdinfo/fd shows an OFD lock held through that fd. */
static bool fdinfo_has_ofd_lock(long pid, long fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%ld", pid, fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[256];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "lock:", 5) && strstr(line, "OFDLCK");
	fclose(f);
	return found;
}

/* Whether process pid has an fd on (dev, ino) carrying an OFD lock. */
static bool pid_holds_lock(long pid, dev_t dev, ino_t ino, int own_fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	DIR *fds = opendir(path);
	if (!fds)
		return false; /* gone, or not ours to look at */
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(fds))) {
		long fd = proc_number(e->d_name);
		if (fd < 0 || (pid == (long)getpid() && fd == own_fd))
			continue;
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%ld/fd/%ld", pid, fd);
		if (stat(path, &st) || st.st_dev != dev || st.st_ino != ino)
			continue;
		found = fdinfo_has_ofd_lock(pid, fd);
	}
	closedir(fds);
	return found;
}

/* Another process holding an OFD lock on (dev, ino), found through /proc
 * (OFD locks report no pid through F_OFD_GETLK): fills who with
 * "pid N, COMM" and returns true when one is found. */
static bool find_lock_holder(dev_t dev, ino_t ino, int own_fd, char *who, size_t wholen)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return false;
	bool found = false;
	unsigned scanned = 0;
	struct dirent *p;
	while (!found && (p = readdir(proc)) && scanned++ < HOLDER_SCAN_MAX_PIDS) {
		long pid = proc_number(p->d_name);
		if (pid <= 0 || !pid_holds_lock(pid, dev, ino, own_fd))
			continue;
		char path[64], comm[64] = "";
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(who, wholen, "pid %ld%s%.60s", pid, comm[0] ? ", " : "", comm);
		found = true;
	}
	closedir(proc);
	return found;
}

static int lock_image(const char *path, struct block_file *f, char *err, size_t errlen)
{
	struct flock fl = {.l_type = f->read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(f->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	int r = -errno;
	if (r != -EAGAIN && r != -EACCES)
		return err_set(err, errlen, r, "--disk %s: cannot lock: %s", path, strerror(-r));
	char who[128];
	if (find_lock_holder(f->dev, f->ino, f->fd, who, sizeof(who)))
		return err_set(err, errlen, -EBUSY, "--disk %s: is locked by another process (%s)",
		               path, who);
	return err_set(err, errlen, -EBUSY, "--disk %s: is locked by another process", path);
}

static int image_size(const char *path, struct block_file *f, const struct stat *st, char *err,
                      size_t errlen)
{
	f->logical_block = BLOCK_SECTOR_SIZE;
	if (!f->is_blockdev) {
		f->size = (uint64_t)st->st_size;
	} else {
		int lbs = 0;
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0 || ioctl(f->fd, BLKSSZGET, &lbs) < 0)
			return err_set(err, errlen, -errno, "--disk %s: cannot read its size: %s",
			               path, strerror(errno));
		if (lbs > (int)BLOCK_SECTOR_SIZE && lbs <= 65536 && !(lbs & (lbs - 1)))
			f->logical_block = (uint32_t)lbs;
	}
	if (f->size % BLOCK_SECTOR_SIZE)
		return err_set(err, errlen, -EINVAL,
		               "--disk %s: its size (%llu bytes) is not a multiple of 512", path,
		               (unsigned long long)f->size);
	return 0;
}

int block_file_open(const char *path, bool read_only, bool direct, struct block_file **out,
                    char *err, size_t errlen)
{
	*out = NULL;
	struct block_file *f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(err, errlen, -ENOMEM, "--disk %s: out of memory", path);
	f->read_only = read_only;
	f->direct = direct;
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
	int r;
	f->fd = open(path, flags);
	if (f->fd < 0) {
		r = -errno;
		if (r == -EINVAL && direct)
			err_set(err, errlen, r,
			        "--disk %s: cache=none: O_DIRECT is not supported here", path);
		else if (r == -EROFS || (r == -EACCES && !read_only))
			err_set(err, errlen, r, "--disk %s: %s (add ,ro for a read-only disk)",
			        path, strerror(-r));
		else
			err_set(err, errlen, r, "--disk %s: %s", path, strerror(-r));
		goto fail;
	}
	struct stat st;
	if (fstat(f->fd, &st) < 0) {
		r = err_set(err, errlen, -errno, "--disk %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = err_set(err, errlen, -EINVAL, "--disk %s: not a regular file or block device",
		            path);
		goto fail;
	}
	f->is_blockdev = S_ISBLK(st.st_mode);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if ((r = image_size(path, f, &st, err, errlen)))
		goto fail;
	if ((r = lock_image(path, f, err, errlen)))
		goto fail;
	*out = f;
	return 0;
fail:
	block_file_close(f);
	return r;
}

void block_file_close(struct block_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

void block_backend_wake(struct block_backend *b)
{
	uint64_t one = 1;
	if (write(b->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("block: eventfd write failed: %s", strerror(errno));
}

static void on_event(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	block_backend_poll(opaque);
}

int block_backend_create(const struct block_backend_params *params, struct block_backend **out)
{
	struct block_backend base = {
	    .fd = params->fd,
	    .event_fd = -1,
	    .direct = params->direct,
	    .align = params->align ? params->align : BLOCK_SECTOR_SIZE,
	    .queue_depth = params->queue_depth ? params->queue_depth : 128,
	    .batch_done = params->batch_done,
	    .opaque = params->opaque,
	};
	struct block_backend *b = NULL;
	int r;
	if (base.align & (base.align - 1) || base.align > BLOCK_BOUNCE_ALIGN) {
		r = -EINVAL;
		goto fail;
	}
	base.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (base.event_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = -ENOSYS;
	if (params->engine != BLOCK_ENGINE_SYNC) {
		r = block_uring_create(&base, &b);
		if (r && params->engine == BLOCK_ENGINE_URING)
			goto fail;
		if (r) {
			/* Once per process: a sandbox without io_uring says so once. */
			static bool told;
			if (!told)
				log_info("io_uring unavailable (%s): disks use synchronous I/O",
				         strerror(-r));
			told = true;
		}
	}
	if (r && (r = block_sync_create(&base, &b)))
		goto fail;
	if (params->loop) {
		if ((r = event_loop_add(params->loop, b->event_fd, EPOLLIN, on_event, b))) {
			b->ops->destroy(b);
			b = NULL;
			goto fail;
		}
		b->loop = params->loop;
	}
	*out = b;
	return 0;
fail:
	if (base.event_fd >= 0)
		close(base.event_fd);
	if (base.fd >= 0)
		close(base.fd);
	return r;
}

void block_backend_destroy(struct block_backend *b)
{
	if (!b)
		return;
	if (b->loop)
		event_loop_del(b->loop, b->event_fd);
	int fd = b->fd, event_fd = b->event_fd;
	free(b->bounce);
	b->ops->destroy(b);
	close(event_fd);
	close(fd);
}

void block_backend_submit(struct block_backend *b, struct block_request *req)
{
	req->next = NULL;
	b->ops->submit(b, req);
}

void block_backend_kick(struct block_backend *b)
{
	b->ops->kick(b);
}

unsigned block_backend_poll(struct block_backend *b)
{
	uint64_t count;
	/* Drain first: a completion that lands after this read wakes us again. */
	if (read(b->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("block: eventfd read failed: %s", strerror(errno));
	unsigned n = b->ops->poll(b);
	if (n && b->batch_done)
		b->batch_done(b->opaque);
	return n;
}

int block_backend_fd(const struct block_backend *b)
{
	return b->event_fd;
}

const char *block_backend_name(const struct block_backend *b)
{
	return b->ops->name;
}
