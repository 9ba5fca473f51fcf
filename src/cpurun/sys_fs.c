/*
 * cpu-run syscalls on paths: open, the stat family, access, links,
 * directories, getcwd/chdir, readlink. Each guest path is copied in
 * (uaccess_string: -EFAULT, -ENAMETOOLONG) and the call forwarded to the
 * host with the copies; output structs (struct stat, statx, statfs) have
 * the same layout for guest and host, both being Linux x86-64.
 * "/proc/self/exe" names the guest's ELF, not ember.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpurun/syscalls.h"
#include "cpurun/uaccess.h"

#define SELF_EXE "/proc/self/exe"
#define OUT_MAX  256 /* the largest output struct: struct statx */

/* Copies the path at addr; "/proc/self/exe" becomes the guest's ELF. */
static int64_t get_path(struct cpurun *cr, uint64_t addr, char *buf)
{
	long n = uaccess_string(cr->mem, addr, buf, UACCESS_PATH_MAX);
	if (n < 0)
		return n;
	if (!strcmp(buf, SELF_EXE) && strlen(cr->exe_real) < UACCESS_PATH_MAX)
		strcpy(buf, cr->exe_real);
	return 0;
}

/*
 * Forwards syscall nr with the arguments flagged in paths (bit i: a[i] is a
 * path) copied in and, when out_size, a[out] pointing at a host buffer that
 * is copied back on success.
 */
static int64_t path_call(struct cpurun *cr, long nr, const uint64_t a[6], unsigned paths, int out,
                         size_t out_size)
{
	char buf[2][UACCESS_PATH_MAX];
	uint8_t obuf[OUT_MAX] __attribute__((aligned(16)));
	uint64_t h[6];
	int used = 0;
	memcpy(h, a, sizeof(h));
	for (int i = 0; i < 6; i++) {
		if (!(paths & (1u << i)))
			continue;
		int64_t r = get_path(cr, a[i], buf[used]);
		if (r)
			return r;
		h[i] = (uint64_t)(uintptr_t)buf[used++];
	}
	if (out_size)
		h[out] = (uint64_t)(uintptr_t)obuf;
	int64_t r = syscall_result(syscall(nr, h[0], h[1], h[2], h[3], h[4], h[5]));
	if (r >= 0 && out_size && user_mem_write(cr->mem, a[out], obuf, out_size))
		return -EFAULT;
	return r;
}

#define P(i) (1u << (i))
#define PATH_SYSCALL(name, paths)                                                                  \
	static int64_t sys_##name(struct cpurun *cr, const uint64_t a[6])                          \
	{                                                                                          \
		return path_call(cr, __NR_##name, a, (paths), 0, 0);                               \
	}
#define PATH_OUT_SYSCALL(name, paths, out, size)                                                   \
	static int64_t sys_##name(struct cpurun *cr, const uint64_t a[6])                          \
	{                                                                                          \
		return path_call(cr, __NR_##name, a, (paths), (out), (size));                      \
	}

PATH_SYSCALL(open, P(0))
PATH_SYSCALL(openat, P(1))
PATH_SYSCALL(creat, P(0))
PATH_SYSCALL(access, P(0))
PATH_SYSCALL(faccessat, P(1))
PATH_SYSCALL(faccessat2, P(1))
PATH_SYSCALL(chdir, P(0))
PATH_SYSCALL(unlink, P(0))
PATH_SYSCALL(unlinkat, P(1))
PATH_SYSCALL(rmdir, P(0))
PATH_SYSCALL(mkdir, P(0))
PATH_SYSCALL(mkdirat, P(1))
PATH_SYSCALL(rename, P(0) | P(1))
PATH_SYSCALL(renameat, P(1) | P(3))
PATH_SYSCALL(renameat2, P(1) | P(3))
PATH_SYSCALL(symlink, P(0) | P(1))
PATH_SYSCALL(symlinkat, P(0) | P(2))
PATH_SYSCALL(link, P(0) | P(1))
PATH_SYSCALL(linkat, P(1) | P(3))
PATH_SYSCALL(chmod, P(0))
PATH_SYSCALL(fchmodat, P(1))
PATH_SYSCALL(chown, P(0))
PATH_SYSCALL(lchown, P(0))
PATH_SYSCALL(fchownat, P(1))
PATH_SYSCALL(truncate, P(0))
PATH_SYSCALL(mknod, P(0))
PATH_SYSCALL(mknodat, P(1))
PATH_OUT_SYSCALL(stat, P(0), 1, sizeof(struct stat))
PATH_OUT_SYSCALL(lstat, P(0), 1, sizeof(struct stat))
PATH_OUT_SYSCALL(fstat, 0, 1, sizeof(struct stat))
PATH_OUT_SYSCALL(newfstatat, P(1), 2, sizeof(struct stat))
PATH_OUT_SYSCALL(statx, P(1), 4, sizeof(struct statx))
PATH_OUT_SYSCALL(statfs, P(0), 1, 120) /* struct statfs */
PATH_OUT_SYSCALL(fstatfs, 0, 1, 120)

static int64_t sys_utimensat(struct cpurun *cr, const uint64_t a[6])
{
	char path[UACCESS_PATH_MAX];
	struct timespec times[2];
	if (a[1]) { /* NULL: the file dirfd refers to */
		int64_t r = get_path(cr, a[1], path);
		if (r)
			return r;
	}
	if (a[2] && user_mem_read(cr->mem, a[2], times, sizeof(times)))
		return -EFAULT;
	return syscall_result(
	    syscall(__NR_utimensat, (int)a[0], a[1] ? path : NULL, a[2] ? times : NULL, (int)a[3]));
}

static int64_t sys_getcwd(struct cpurun *cr, const uint64_t a[6])
{
	char buf[PATH_MAX];
	int64_t r = syscall_result(syscall(__NR_getcwd, buf, (size_t)MIN(a[1], sizeof(buf))));
	if (r > 0 && user_mem_write(cr->mem, a[0], buf, (uint64_t)r))
		return -EFAULT;
	return r;
}

static int64_t do_readlink(struct cpurun *cr, int dirfd, uint64_t upath, uint64_t ubuf,
                           uint64_t size)
{
	char path[UACCESS_PATH_MAX], target[PATH_MAX];
	if ((int)size <= 0)
		return -EINVAL;
	long n = uaccess_string(cr->mem, upath, path, sizeof(path));
	if (n < 0)
		return n;
	int64_t r;
	if (!strcmp(path, SELF_EXE)) {
		r = (int64_t)MIN(strlen(cr->exe_real), sizeof(target));
		memcpy(target, cr->exe_real, (size_t)r);
	} else {
		r = syscall_result(syscall(__NR_readlinkat, dirfd, path, target, sizeof(target)));
	}
	if (r < 0)
		return r;
	r = (int64_t)MIN((uint64_t)r, size); /* truncated silently, as readlink(2) does */
	if (user_mem_write(cr->mem, ubuf, target, (uint64_t)r))
		return -EFAULT;
	return r;
}

static int64_t sys_readlink(struct cpurun *cr, const uint64_t a[6])
{
	return do_readlink(cr, AT_FDCWD, a[0], a[1], a[2]);
}

static int64_t sys_readlinkat(struct cpurun *cr, const uint64_t a[6])
{
	return do_readlink(cr, (int)a[0], a[1], a[2], a[3]);
}

void sys_fs_register(struct syscall_desc *t)
{
	SYSCALL_REGISTER(t, open, 3, P(0));
	SYSCALL_REGISTER(t, openat, 4, P(1));
	SYSCALL_REGISTER(t, creat, 2, P(0));
	SYSCALL_REGISTER(t, access, 2, P(0));
	SYSCALL_REGISTER(t, faccessat, 3, P(1));
	SYSCALL_REGISTER(t, faccessat2, 4, P(1));
	SYSCALL_REGISTER(t, chdir, 1, P(0));
	SYSCALL_REGISTER(t, unlink, 1, P(0));
	SYSCALL_REGISTER(t, unlinkat, 3, P(1));
	SYSCALL_REGISTER(t, rmdir, 1, P(0));
	SYSCALL_REGISTER(t, mkdir, 2, P(0));
	SYSCALL_REGISTER(t, mkdirat, 3, P(1));
	SYSCALL_REGISTER(t, rename, 2, P(0) | P(1));
	SYSCALL_REGISTER(t, renameat, 4, P(1) | P(3));
	SYSCALL_REGISTER(t, renameat2, 5, P(1) | P(3));
	SYSCALL_REGISTER(t, symlink, 2, P(0) | P(1));
	SYSCALL_REGISTER(t, symlinkat, 3, P(0) | P(2));
	SYSCALL_REGISTER(t, link, 2, P(0) | P(1));
	SYSCALL_REGISTER(t, linkat, 5, P(1) | P(3));
	SYSCALL_REGISTER(t, chmod, 2, P(0));
	SYSCALL_REGISTER(t, fchmodat, 3, P(1));
	SYSCALL_REGISTER(t, chown, 3, P(0));
	SYSCALL_REGISTER(t, lchown, 3, P(0));
	SYSCALL_REGISTER(t, fchownat, 5, P(1));
	SYSCALL_REGISTER(t, truncate, 2, P(0));
	SYSCALL_REGISTER(t, mknod, 3, P(0));
	SYSCALL_REGISTER(t, mknodat, 4, P(1));
	SYSCALL_REGISTER(t, stat, 2, P(0));
	SYSCALL_REGISTER(t, lstat, 2, P(0));
	SYSCALL_REGISTER(t, fstat, 2, 0);
	SYSCALL_REGISTER(t, newfstatat, 4, P(1));
	SYSCALL_REGISTER(t, statx, 5, P(1));
	SYSCALL_REGISTER(t, statfs, 2, P(0));
	SYSCALL_REGISTER(t, fstatfs, 2, 0);
	SYSCALL_REGISTER(t, utimensat, 4, P(1));
	SYSCALL_REGISTER(t, getcwd, 2, 0);
	SYSCALL_REGISTER(t, readlink, 3, P(0));
	SYSCALL_REGISTER(t, readlinkat, 4, P(1));
}
