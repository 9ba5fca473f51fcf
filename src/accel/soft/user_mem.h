/*
 * A user-mode address space for the software CPU: a sparse map from guest
 * virtual pages to host memory with per-page protection, for `ember
 * cpu-run` (a Linux process image) and the differential tests (pages
 * mapped at their own host addresses, so native and emulated runs share
 * them). Its cpu_mem_ops translate raises #PF (CR2, error code with P, W/R,
 * U/S=1, I/D bits as hardware would) for unmapped pages and protection
 * violations.
 *
 * The map knows the CPUs that run code from it: map/unmap/protect flush
 * their TLBs, and host-side writes to pages holding decoded code
 * (user_mem_write, user_mem_ptr with USER_PROT_WRITE, unmapping) drop that
 * code. Anything else that changes guest code through a host pointer
 * calls cpu_code_invalidate or cpu_code_flush. One thread drives a map
 * and its CPUs; cpu_fini and user_mem_destroy may come in either order.
 */
#ifndef EMBER_ACCEL_SOFT_USER_MEM_H
#define EMBER_ACCEL_SOFT_USER_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "accel/soft/cpu.h"
#include "core/macros.h"

#define USER_PAGE_SIZE 4096ULL

#define USER_PROT_READ 1u
#define USER_PROT_WRITE 2u
#define USER_PROT_EXEC 4u

struct user_mem;

struct user_mem *user_mem_create(void);
void user_mem_destroy(struct user_mem *mem);
/*
 * Maps [vaddr, vaddr+len) (page-aligned) to host memory: host == NULL
 * allocates zeroed pages owned by the map; otherwise the caller's memory
 * (page-aligned, outliving the mapping) is used. Replaces existing pages.
 */
int user_mem_map(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot,
		 void *host) must_check;
int user_mem_unmap(struct user_mem *mem, uint64_t vaddr, uint64_t len);
int user_mem_protect(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot);
/* Host pointer for [vaddr, vaddr+len) if mapped with at least prot, else NULL
 * (the syscall layer's copy-in/copy-out; len may span pages only when they
 * are contiguous on the host). */
void *user_mem_ptr(struct user_mem *mem, uint64_t vaddr, uint64_t len, unsigned prot);
/* Copies across page boundaries; -EFAULT when any byte is not accessible. */
int user_mem_read(struct user_mem *mem, uint64_t vaddr, void *dst, uint64_t len);
int user_mem_write(struct user_mem *mem, uint64_t vaddr, const void *src, uint64_t len);
/* Finds a free range of len bytes at or above hint (for mmap(NULL, ...)). */
uint64_t user_mem_find_free(struct user_mem *mem, uint64_t hint, uint64_t len);

/* The cpu_mem_ops to hand to cpu_init_user64, with the user_mem as mem_ctx. */
extern const struct cpu_mem_ops user_mem_ops;

#endif
