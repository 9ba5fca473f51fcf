/*
 * cpu-run memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise.
 * Every mapping is user_mem pages owned by the map; a private file mapping
 * is a copy of the file read into fresh pages (so a writable MAP_SHARED
 * file mapping, whose writes would have to reach the file, is -ENODEV).
 * Nothing is randomised: mmap(NULL, ...) searches upwards from
 * CPURUN_MMAP_BASE and never enters the stack's guard gap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cpurun/syscalls.h"
#include "cpurun/uaccess.h"

#define PAGE      USER_PAGE_SIZE
#define MAP_LIMIT (CPURUN_STACK_LOW - CPURUN_STACK_GUARD) /* end of what mmap/brk hand out */

static unsigned guest_prot(uint64_t prot)
{
	unsigned p = 0;
	if (prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
		p |= USER_PROT_READ; /* x86: anything mapped is readable */
	if (prot & PROT_WRITE)
		p |= USER_PROT_WRITE;
	if (prot & PROT_EXEC)
		p |= USER_PROT_EXEC;
	return p;
}

/* The protection of a mapped page, or -1 when it is not mapped. */
static int page_prot(struct user_mem *mem, uint64_t va)
{
	if (!user_mem_ptr(mem, va, 1, 0))
		return -1;
	int p = 0;
	static const unsigned bits[] = {USER_PROT_READ, USER_PROT_WRITE, USER_PROT_EXEC};
	for (size_t i = 0; i < ARRAY_SIZE(bits); i++)
		if (user_mem_ptr(mem, va, 1, bits[i]))
			p |= (int)bits[i];
	return p;
}

/* A free range of len bytes at or above hint below MAP_LIMIT, or 0. */
static uint64_t find_free(struct cpurun *cr, uint64_t hint, uint64_t len)
{
	if (hint < CPURUN_MIN_ADDR || hint > MAP_LIMIT || len > MAP_LIMIT - hint)
		hint = CPURUN_MMAP_BASE;
	uint64_t va = user_mem_find_free(cr->mem, hint, len);
	if (va < hint || va > MAP_LIMIT || len > MAP_LIMIT - va || (va & (PAGE - 1)))
		return 0;
	return va;
}

static int64_t sys_brk(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t want = a[0];
	if (want < cr->brk_start || want - cr->brk_start > CPURUN_BRK_MAX)
		return (int64_t)cr->brk_cur; /* brk(0) and refusals: the current break */
	uint64_t old_end = ALIGN_UP(cr->brk_cur, PAGE), new_end = ALIGN_UP(want, PAGE);
	if (new_end > MAP_LIMIT)
		return (int64_t)cr->brk_cur;
	if (new_end > old_end) {
		if (user_mem_find_free(cr->mem, old_end, new_end - old_end) != old_end ||
		    user_mem_map(cr->mem, old_end, new_end - old_end,
		                 USER_PROT_READ | USER_PROT_WRITE, NULL))
			return (int64_t)cr->brk_cur;
	} else if (new_end < old_end) {
		user_mem_unmap(cr->mem, new_end, old_end - new_end);
	}
	cr->brk_cur = want;
	return (int64_t)want;
}

/* Reads the file at off into the fresh pages [va, va+len); past EOF stays zero. */
static int64_t fill_from_file(struct cpurun *cr, int fd, uint64_t off, uint64_t va, uint64_t len)
{
	struct iovec iov[UACCESS_IOV_MAX];
	uint64_t done = 0;
	while (done < len) {
		uint64_t covered;
		int n = uaccess_iov(cr->mem, va + done, len - done, USER_PROT_WRITE, iov,
		                    UACCESS_IOV_MAX, &covered);
		if (n < 0)
			return n;
		ssize_t r = preadv(fd, iov, n, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return 0;
}

/* Checks the fd of a file mapping; *anon when it maps /dev/zero. */
static int64_t check_map_file(int fd, uint64_t prot, unsigned type, bool *anon)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -EBADF;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5) {
		*anon = true;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	if (type != MAP_PRIVATE && (prot & PROT_WRITE))
		return (fl & O_ACCMODE) == O_RDWR ? -ENODEV : -EACCES;
	return 0;
}

static int64_t sys_mmap(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t addr = a[0], len = a[1], prot = a[2], flags = a[3], off = a[5];
	int fd = (int)a[4];
	unsigned type = flags & MAP_TYPE;
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	bool anon = flags & MAP_ANONYMOUS;
	if (!len || (off & (PAGE - 1)) || (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -EINVAL;
	if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (len > CPURUN_USER_TOP)
		return -ENOMEM;
	len = ALIGN_UP(len, PAGE);
	if (!anon) {
		int64_t r = check_map_file(fd, prot, type, &anon);
		if (r)
			return r;
	}
	if (fixed) {
		if (addr & (PAGE - 1))
			return -EINVAL;
		if (addr < CPURUN_MIN_ADDR)
			return -EPERM;
		if (addr > CPURUN_USER_TOP || len > CPURUN_USER_TOP - addr)
			return -ENOMEM;
		if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
		    user_mem_find_free(cr->mem, addr, len) != addr)
			return -EEXIST;
	} else {
		/* The search starts at the hint, then at the mmap base. */
		addr = find_free(cr, ALIGN_UP(addr, PAGE), len);
		if (!addr)
			addr = find_free(cr, CPURUN_MMAP_BASE, len);
		if (!addr)
			return -ENOMEM;
	}
	unsigned gp = guest_prot(prot);
	int r = user_mem_map(cr->mem, addr, len, gp | (anon ? 0 : USER_PROT_WRITE), NULL);
	if (r)
		return r;
	if (!anon) {
		int64_t fr = fill_from_file(cr, fd, off, addr, len);
		if (!fr && !(gp & USER_PROT_WRITE))
			fr = user_mem_protect(cr->mem, addr, len, gp);
		if (fr) {
			user_mem_unmap(cr->mem, addr, len);
			return fr;
		}
	}
	return (int64_t)addr;
}

static int64_t sys_munmap(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t addr = a[0], len = ALIGN_UP(a[1], PAGE);
	if ((addr & (PAGE - 1)) || !a[1] || a[1] > CPURUN_USER_TOP || addr > CPURUN_USER_TOP - len)
		return -EINVAL;
	user_mem_unmap(cr->mem, addr, len);
	return 0;
}

static int64_t sys_mprotect(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t addr = a[0], len = ALIGN_UP(a[1], PAGE), prot = a[2];
	if ((addr & (PAGE - 1)) || a[1] > CPURUN_USER_TOP ||
	    (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN)))
		return -EINVAL;
	if (!len)
		return 0;
	if (addr > CPURUN_USER_TOP - len)
		return -ENOMEM;
	int r = user_mem_protect(cr->mem, addr, len, guest_prot(prot));
	return r;
}

/* Moves [old, old+old_len) to a fresh range of new_len bytes with the same protection. */
static int64_t remap_move(struct cpurun *cr, uint64_t old, uint64_t old_len, uint64_t new_len)
{
	int prot = page_prot(cr->mem, old);
	uint64_t va = find_free(cr, CPURUN_MMAP_BASE, new_len);
	if (prot < 0)
		return -EFAULT;
	if (!va)
		return -ENOMEM;
	int r = user_mem_map(cr->mem, va, new_len, (unsigned)prot, NULL);
	if (r)
		return r;
	for (uint64_t i = 0; i < old_len; i += PAGE) {
		void *src = user_mem_ptr(cr->mem, old + i, PAGE, 0);
		void *dst = user_mem_ptr(cr->mem, va + i, PAGE, 0);
		if (!src || !dst) {
			user_mem_unmap(cr->mem, va, new_len);
			return -EFAULT;
		}
		memcpy(dst, src, PAGE);
	}
	user_mem_unmap(cr->mem, old, old_len);
	return (int64_t)va;
}

static int64_t sys_mremap(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t old = a[0], flags = a[3];
	if ((old & (PAGE - 1)) || !a[2] || (flags & ~(uint64_t)MREMAP_MAYMOVE))
		return -EINVAL; /* MREMAP_FIXED and MREMAP_DONTUNMAP are not supported */
	if (a[1] > CPURUN_USER_TOP || a[2] > CPURUN_USER_TOP)
		return -ENOMEM;
	uint64_t old_len = ALIGN_UP(a[1], PAGE), new_len = ALIGN_UP(a[2], PAGE);
	if (!old_len || old > CPURUN_USER_TOP - MAX(old_len, new_len))
		return -EINVAL; /* old_len 0 duplicates a shared mapping: not supported */
	if (new_len <= old_len) {
		if (new_len < old_len) {
			user_mem_unmap(cr->mem, old + new_len, old_len - new_len);
		}
		return (int64_t)old;
	}
	int prot = page_prot(cr->mem, old + old_len - PAGE);
	if (prot < 0)
		return -EFAULT;
	uint64_t tail = old + old_len, grow = new_len - old_len;
	if (tail + grow <= MAP_LIMIT && user_mem_find_free(cr->mem, tail, grow) == tail) {
		int r = user_mem_map(cr->mem, tail, grow, (unsigned)prot, NULL);
		if (r)
			return r;
		return (int64_t)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	return remap_move(cr, old, old_len, new_len);
}

/* Advice is accepted and ignored (MADV_DONTNEED does not zero the pages). */
static int64_t sys_madvise(struct cpurun *cr, const uint64_t a[6])
{
	return (a[0] & (PAGE - 1)) ? -EINVAL : 0;
}

static int64_t sys_msync(struct cpurun *cr, const uint64_t a[6])
{
	return (a[0] & (PAGE - 1)) ? -EINVAL : 0;
}

void sys_mem_register(struct syscall_desc *t)
{
	SYSCALL_REGISTER(t, brk, 1, 0);
	SYSCALL_REGISTER(t, mmap, 6, 0);
	SYSCALL_REGISTER(t, munmap, 2, 0);
	SYSCALL_REGISTER(t, mprotect, 3, 0);
	SYSCALL_REGISTER(t, mremap, 5, 0);
	SYSCALL_REGISTER(t, madvise, 3, 0);
	SYSCALL_REGISTER(t, msync, 3, 0);
}
