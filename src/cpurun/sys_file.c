/*
 * cpu-run syscalls on file descriptors: read/write and their vector and
 * positioned forms, sendfile, pipes, dup, fcntl, ioctl (terminal requests
 * only), poll/select, getdents64. Guest fds are the host's fds. Buffers are
 * described to the host as iovecs over the guest's own pages (uaccess.c),
 * so data is not copied twice.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cpurun/syscalls.h"
#include "cpurun/uaccess.h"

#define MAX_RW_COUNT   0x7ffff000ULL /* Linux clamps every read/write to this */
#define MAX_POLL_FDS   65536
#define MAX_DIRENT_BUF MIB(1)

/* A write that hit a closed pipe: SIGPIPE, as the kernel would send it. */
static int64_t write_result(struct cpurun *cr, int64_t r)
{
	if (r == -EPIPE)
		cpurun_raise(cr, SIGPIPE);
	return r;
}

static int64_t do_rw(struct cpurun *cr, const uint64_t a[6], bool write, bool positioned)
{
	struct iovec iov[UACCESS_IOV_MAX];
	uint64_t covered;
	int fd = (int)a[0];
	int n =
	    uaccess_iov(cr->mem, a[1], MIN(a[2], MAX_RW_COUNT),
	                write ? USER_PROT_READ : USER_PROT_WRITE, iov, UACCESS_IOV_MAX, &covered);
	if (n < 0)
		return n;
	long r;
	if (positioned)
		r = write ? pwritev(fd, iov, n, (off_t)a[3]) : preadv(fd, iov, n, (off_t)a[3]);
	else if (n == 0) /* still checks the fd */
		r = write ? (long)syscall(__NR_write, fd, NULL, 0)
		          : (long)syscall(__NR_read, fd, NULL, 0);
	else
		r = write ? writev(fd, iov, n) : readv(fd, iov, n);
	return write ? write_result(cr, syscall_result(r)) : syscall_result(r);
}

static int64_t sys_read(struct cpurun *cr, const uint64_t a[6])
{
	return do_rw(cr, a, false, false);
}

static int64_t sys_write(struct cpurun *cr, const uint64_t a[6])
{
	return do_rw(cr, a, true, false);
}

static int64_t sys_pread64(struct cpurun *cr, const uint64_t a[6])
{
	return do_rw(cr, a, false, true);
}

static int64_t sys_pwrite64(struct cpurun *cr, const uint64_t a[6])
{
	return do_rw(cr, a, true, true);
}

static int64_t do_rwv(struct cpurun *cr, const uint64_t a[6], bool write, bool positioned)
{
	struct iovec iov[UACCESS_IOV_MAX];
	int fd = (int)a[0];
	int n = uaccess_guest_iov(cr->mem, a[1], a[2], write ? USER_PROT_READ : USER_PROT_WRITE,
	                          iov, UACCESS_IOV_MAX);
	if (n < 0)
		return n;
	long r;
	if (positioned)
		r = write ? pwritev(fd, iov, n, (off_t)a[3]) : preadv(fd, iov, n, (off_t)a[3]);
	else
		r = write ? writev(fd, iov, n) : readv(fd, iov, n);
	return write ? write_result(cr, syscall_result(r)) : syscall_result(r);
}

static int64_t sys_readv(struct cpurun *cr, const uint64_t a[6])
{
	return do_rwv(cr, a, false, false);
}

static int64_t sys_writev(struct cpurun *cr, const uint64_t a[6])
{
	return do_rwv(cr, a, true, false);
}

static int64_t sys_preadv(struct cpurun *cr, const uint64_t a[6])
{
	return do_rwv(cr, a, false, true);
}

static int64_t sys_pwritev(struct cpurun *cr, const uint64_t a[6])
{
	return do_rwv(cr, a, true, true);
}

static int64_t sys_sendfile(struct cpurun *cr, const uint64_t a[6])
{
	int64_t off;
	if (a[2] && user_mem_read(cr->mem, a[2], &off, sizeof(off)))
		return -EFAULT;
	long r = sendfile((int)a[0], (int)a[1], a[2] ? &off : NULL, MIN(a[3], MAX_RW_COUNT));
	int64_t res = write_result(cr, syscall_result(r));
	if (res >= 0 && a[2] && user_mem_write(cr->mem, a[2], &off, sizeof(off)))
		return -EFAULT;
	return res;
}

static int64_t sys_pipe2(struct cpurun *cr, const uint64_t a[6])
{
	int fds[2];
	if (pipe2(fds, (int)a[1]) < 0)
		return -errno;
	if (user_mem_write(cr->mem, a[0], fds, sizeof(fds))) {
		close(fds[0]);
		close(fds[1]);
		return -EFAULT;
	}
	return 0;
}

static int64_t sys_pipe(struct cpurun *cr, const uint64_t a[6])
{
	const uint64_t b[6] = {a[0], 0};
	return sys_pipe2(cr, b);
}

static int64_t sys_fcntl(struct cpurun *cr, const uint64_t a[6])
{
	int fd = (int)a[0], cmd = (int)a[1];
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
	case F_GETFD:
	case F_SETFD:
	case F_GETFL:
	case F_SETFL:
	case F_GETOWN:
	case F_SETOWN:
	case F_GETSIG:
	case F_SETSIG:
	case F_GETLEASE:
	case F_SETLEASE:
	case F_NOTIFY:
	case F_GETPIPE_SZ:
	case F_SETPIPE_SZ:
	case F_ADD_SEALS:
	case F_GET_SEALS:
		return syscall_result(syscall(__NR_fcntl, fd, cmd, a[2]));
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW: {
		struct flock fl;
		if (user_mem_read(cr->mem, a[2], &fl, sizeof(fl)))
			return -EFAULT;
		int64_t r = syscall_result(syscall(__NR_fcntl, fd, cmd, &fl));
		if (r == 0 && user_mem_write(cr->mem, a[2], &fl, sizeof(fl)))
			return -EFAULT;
		return r;
	}
	default:
		return -EINVAL;
	}
}

/* Terminal ioctls passed through: request, argument size, direction. */
#define KERNEL_TERMIOS_SIZE 36 /* struct termios of asm-generic/termbits.h */
static const struct ioctl_desc {
	unsigned long req;
	unsigned size;
	bool out; /* the kernel writes the argument */
} ioctls[] = {
    {0x5401 /* TCGETS */, KERNEL_TERMIOS_SIZE, true},
    {0x5402 /* TCSETS */, KERNEL_TERMIOS_SIZE, false},
    {0x5403 /* TCSETSW */, KERNEL_TERMIOS_SIZE, false},
    {0x5404 /* TCSETSF */, KERNEL_TERMIOS_SIZE, false},
    {0x540f /* TIOCGPGRP */, 4, true},
    {0x5410 /* TIOCSPGRP */, 4, false},
    {0x5413 /* TIOCGWINSZ */, 8, true},
    {0x5414 /* TIOCSWINSZ */, 8, false},
    {0x541b /* FIONREAD */, 4, true},
    {0x5421 /* FIONBIO */, 4, false},
    {0x5450 /* FIONCLEX */, 0, false},
    {0x5451 /* FIOCLEX */, 0, false},
};

static int64_t sys_ioctl(struct cpurun *cr, const uint64_t a[6])
{
	uint32_t req = (uint32_t)a[1]; /* the kernel takes an unsigned int */
	for (size_t i = 0; i < ARRAY_SIZE(ioctls); i++) {
		const struct ioctl_desc *d = &ioctls[i];
		if (d->req != req)
			continue;
		uint8_t buf[64] = {0};
		if (d->size && !d->out && user_mem_read(cr->mem, a[2], buf, d->size))
			return -EFAULT;
		int64_t r = syscall_result(
		    syscall(__NR_ioctl, (int)a[0], (unsigned long)req, d->size ? buf : NULL));
		if (r >= 0 && d->out && user_mem_write(cr->mem, a[2], buf, d->size))
			return -EFAULT;
		return r;
	}
	/* Still report a bad fd as the kernel would. */
	if (fcntl((int)a[0], F_GETFD) < 0)
		return -EBADF;
	return -ENOTTY;
}

static int64_t do_poll(struct cpurun *cr, uint64_t ufds, uint64_t nfds, int timeout,
                       struct timespec *ts, bool use_ts)
{
	if (nfds > MAX_POLL_FDS)
		return -EINVAL;
	struct pollfd *fds = malloc(MAX(nfds, 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	int64_t r = -EFAULT;
	if (user_mem_read(cr->mem, ufds, fds, nfds * sizeof(*fds)))
		goto out;
	/* ppoll's signal mask is not applied: no signal reaches the guest anyway. */
	if (use_ts)
		r = syscall_result(syscall(__NR_ppoll, fds, nfds, ts, NULL, sizeof(uint64_t)));
	else
		r = syscall_result(poll(fds, nfds, timeout));
	if (r >= 0 && user_mem_write(cr->mem, ufds, fds, nfds * sizeof(*fds)))
		r = -EFAULT;
out:
	free(fds);
	return r;
}

static int64_t sys_poll(struct cpurun *cr, const uint64_t a[6])
{
	return do_poll(cr, a[0], a[1], (int)a[2], NULL, false);
}

static int64_t sys_ppoll(struct cpurun *cr, const uint64_t a[6])
{
	struct timespec ts;
	if (a[2] && user_mem_read(cr->mem, a[2], &ts, sizeof(ts)))
		return -EFAULT;
	int64_t r = do_poll(cr, a[0], a[1], 0, a[2] ? &ts : NULL, true);
	if (a[2] && r >= 0 && user_mem_write(cr->mem, a[2], &ts, sizeof(ts)))
		return -EFAULT;
	return r;
}

/* select and pselect6: fd_sets of nfds bits, the timeout (timeval or timespec). */
static int64_t do_select(struct cpurun *cr, const uint64_t a[6], size_t tsize, bool pselect)
{
	int nfds = (int)a[0];
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	size_t bytes = (size_t)ALIGN_UP(nfds, 64) / 8;
	fd_set sets[3];
	void *host[3] = {NULL, NULL, NULL};
	for (int i = 0; i < 3; i++) {
		memset(&sets[i], 0, sizeof(sets[i]));
		if (!a[1 + i])
			continue;
		if (user_mem_read(cr->mem, a[1 + i], &sets[i], bytes))
			return -EFAULT;
		host[i] = &sets[i];
	}
	uint64_t t[2];
	if (a[4] && user_mem_read(cr->mem, a[4], t, tsize))
		return -EFAULT;
	long r;
	if (pselect)
		r = syscall(__NR_pselect6, nfds, host[0], host[1], host[2], a[4] ? t : NULL, NULL);
	else
		r = syscall(__NR_select, nfds, host[0], host[1], host[2], a[4] ? t : NULL);
	int64_t res = syscall_result(r);
	if (res < 0)
		return res;
	for (int i = 0; i < 3; i++)
		if (host[i] && user_mem_write(cr->mem, a[1 + i], &sets[i], bytes))
			return -EFAULT;
	if (a[4] && user_mem_write(cr->mem, a[4], t, tsize))
		return -EFAULT;
	return res;
}

static int64_t sys_select(struct cpurun *cr, const uint64_t a[6])
{
	return do_select(cr, a, 16, false);
}

static int64_t sys_pselect6(struct cpurun *cr, const uint64_t a[6])
{
	return do_select(cr, a, 16, true);
}

static int64_t sys_getdents64(struct cpurun *cr, const uint64_t a[6])
{
	size_t count = (size_t)MIN(a[2], MAX_DIRENT_BUF);
	void *buf = malloc(MAX(count, 1));
	if (!buf)
		return -ENOMEM;
	int64_t r = syscall_result(syscall(__NR_getdents64, (int)a[0], buf, count));
	if (r > 0 && user_mem_write(cr->mem, a[1], buf, (uint64_t)r))
		r = -EFAULT;
	free(buf);
	return r;
}

void sys_file_register(struct syscall_desc *t)
{
	SYSCALL_REGISTER(t, read, 3, 0);
	SYSCALL_REGISTER(t, write, 3, 0);
	SYSCALL_REGISTER(t, pread64, 4, 0);
	SYSCALL_REGISTER(t, pwrite64, 4, 0);
	SYSCALL_REGISTER(t, readv, 3, 0);
	SYSCALL_REGISTER(t, writev, 3, 0);
	SYSCALL_REGISTER(t, preadv, 4, 0);
	SYSCALL_REGISTER(t, pwritev, 4, 0);
	SYSCALL_REGISTER(t, sendfile, 4, 0);
	SYSCALL_REGISTER(t, pipe, 1, 0);
	SYSCALL_REGISTER(t, pipe2, 2, 0);
	SYSCALL_REGISTER(t, fcntl, 3, 0);
	SYSCALL_REGISTER(t, ioctl, 3, 0);
	SYSCALL_REGISTER(t, poll, 3, 0);
	SYSCALL_REGISTER(t, ppoll, 4, 0);
	SYSCALL_REGISTER(t, select, 5, 0);
	SYSCALL_REGISTER(t, pselect6, 6, 0);
	SYSCALL_REGISTER(t, getdents64, 3, 0);
	SYSCALL_FORWARD(t, close, 1);
	SYSCALL_FORWARD(t, lseek, 3);
	SYSCALL_FORWARD(t, dup, 1);
	SYSCALL_FORWARD(t, dup2, 2);
	SYSCALL_FORWARD(t, dup3, 3);
	SYSCALL_FORWARD(t, fsync, 1);
	SYSCALL_FORWARD(t, fdatasync, 1);
	SYSCALL_FORWARD(t, ftruncate, 2);
	SYSCALL_FORWARD(t, fchmod, 2);
	SYSCALL_FORWARD(t, fchown, 3);
	SYSCALL_FORWARD(t, fchdir, 1);
	SYSCALL_FORWARD(t, flock, 2);
	SYSCALL_FORWARD(t, fadvise64, 4);
	SYSCALL_FORWARD(t, fallocate, 4);
}
