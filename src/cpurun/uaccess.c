/*
 * Guest memory for the syscall layer (uaccess.h): strings and iovecs are
 * walked page by page through user_mem_ptr, so nothing past a checked page
 * is ever touched on the host.
 */
#include "cpurun/uaccess.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

long uaccess_string(struct user_mem *mem, uint64_t addr, char *buf, size_t size)
{
	size_t done = 0;
	while (done < size) {
		uint64_t va = addr + done;
		if (va < addr)
			return -EFAULT;
		uint64_t in_page = USER_PAGE_SIZE - (va & (USER_PAGE_SIZE - 1));
		size_t chunk = (size_t)MIN(in_page, (uint64_t)(size - done));
		const char *p = user_mem_ptr(mem, va, chunk, USER_PROT_READ);
		if (!p)
			return -EFAULT;
		const char *nul = memchr(p, '\0', chunk);
		size_t n = nul ? (size_t)(nul - p) + 1 : chunk;
		memcpy(buf + done, p, n);
		done += n;
		if (nul)
			return (long)done - 1;
	}
	return -ENAMETOOLONG;
}

int uaccess_iov(struct user_mem *mem, uint64_t addr, uint64_t len, unsigned prot, struct iovec *iov,
                int max, uint64_t *covered)
{
	*covered = 0;
	if (len == 0)
		return 0;
	if (addr + len < addr)
		return -EFAULT;
	/* The common case: one host-contiguous range. */
	void *whole = user_mem_ptr(mem, addr, len, prot);
	if (whole && max > 0) {
		iov[0] = (struct iovec){.iov_base = whole, .iov_len = len};
		*covered = len;
		return 1;
	}
	int n = 0;
	uint64_t done = 0;
	while (done < len) {
		uint64_t va = addr + done;
		uint64_t chunk = MIN(USER_PAGE_SIZE - (va & (USER_PAGE_SIZE - 1)), len - done);
		char *p = user_mem_ptr(mem, va, chunk, prot);
		if (!p)
			return -EFAULT;
		if (n > 0 && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == p) {
			iov[n - 1].iov_len += chunk;
		} else {
			if (n == max)
				break;
			iov[n++] = (struct iovec){.iov_base = p, .iov_len = chunk};
		}
		done += chunk;
	}
	*covered = done;
	return n;
}

int uaccess_guest_iov(struct user_mem *mem, uint64_t addr, uint64_t iovcnt, unsigned prot,
                      struct iovec *iov, int max)
{
	if (iovcnt > UACCESS_IOV_MAX)
		return -EINVAL;
	uint64_t total = 0;
	int n = 0;
	for (uint64_t i = 0; i < iovcnt; i++) {
		uint64_t g[2]; /* struct iovec: base, len */
		if (user_mem_read(mem, addr + i * sizeof(g), g, sizeof(g)))
			return -EFAULT;
		if (g[1] > (uint64_t)SSIZE_MAX || total + g[1] > (uint64_t)SSIZE_MAX)
			return -EINVAL;
		total += g[1];
		if (n == max)
			continue; /* a short transfer; the rest is still validated */
		uint64_t covered;
		int r = uaccess_iov(mem, g[0], g[1], prot, iov + n, max - n, &covered);
		if (r < 0)
			return r;
		n += r;
		if (covered < g[1])
			n = max; /* nothing after a partly described buffer */
	}
	return n;
}
