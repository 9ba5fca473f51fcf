/*
 * Guest memory as the syscall layer reaches it: strings, iovecs and plain
 * copies, every range checked through user_mem (a bad guest pointer or
 * length is -EFAULT, never a host access).
 */
#ifndef EMBER_CPURUN_UACCESS_H
#define EMBER_CPURUN_UACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "accel/soft/user_mem.h"
#include "core/macros.h"

/* Most host iovecs one guest buffer is split into; longer transfers are
 * short (as the kernel may make them). */
#define UACCESS_IOV_MAX 1024
/* Longest guest string (a path) copied in, with its NUL. */
#define UACCESS_PATH_MAX 4096

/*
 * Copies the NUL-terminated string at addr into buf (size bytes with the
 * NUL). Returns its length, -EFAULT or -ENAMETOOLONG.
 */
long uaccess_string(struct user_mem *mem, uint64_t addr, char *buf, size_t size) must_check;

/*
 * Describes [addr, addr+len) as host iovecs (pages accessible with prot,
 * host-contiguous pieces merged) in iov[0..max). Returns the number of
 * iovecs and in *covered how many bytes they hold (less than len when max
 * ran out), or -EFAULT when a page in the covered part is not accessible.
 */
int uaccess_iov(struct user_mem *mem, uint64_t addr, uint64_t len, unsigned prot, struct iovec *iov,
                int max, uint64_t *covered) must_check;

/*
 * The same for a guest iovec array (readv/writev): iovcnt entries at addr.
 * Returns the number of host iovecs, -EINVAL for a bad count or total,
 * -EFAULT for a bad array or buffer.
 */
int uaccess_guest_iov(struct user_mem *mem, uint64_t addr, uint64_t iovcnt, unsigned prot,
                      struct iovec *iov, int max) must_check;

#endif
