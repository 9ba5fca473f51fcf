/*
 * The Linux x86-64 syscall ABI for cpu-run: the number in rax, arguments in
 * rdi, rsi, rdx, r10, r8, r9, the result (or -errno) back in rax. Handlers
 * live in one file per area (sys_file.c, sys_mem.c, sys_proc.c) and
 * register themselves in one table indexed by number; anything not in it is
 * -ENOSYS.
 */
#ifndef EMBER_CPURUN_SYSCALLS_H
#define EMBER_CPURUN_SYSCALLS_H

#include <asm/unistd_64.h>
#include <errno.h>
#include <stdint.h>

#include "cpurun/cpurun.h"

#define SYSCALL_TABLE_SIZE 512

/* A handler: the six raw arguments in; the result or -errno out. */
typedef int64_t (*syscall_fn)(struct cpurun *cr, const uint64_t a[6]);

struct syscall_desc {
	const char *name;
	syscall_fn fn;   /* NULL: integer arguments only, forwarded to the host as they are */
	uint8_t nargs;   /* how many arguments --trace prints */
	uint8_t strings; /* bit i: argument i is a guest string (--trace prints it) */
};

/* Registers handler sys_NAME for __NR_NAME. */
#define SYSCALL_REGISTER(table, name, nargs, strings)                                              \
	((table)[__NR_##name] = (struct syscall_desc){#name, sys_##name, (nargs), (strings)})
/* Registers a syscall whose arguments are all integers (fds, flags, ids). */
#define SYSCALL_FORWARD(table, name, nargs)                                                        \
	((table)[__NR_##name] = (struct syscall_desc){#name, NULL, (nargs), 0})

/* Executes the syscall the CPU stopped at (cpu_run returned CPU_EXIT_SYSCALL)
 * and puts its result in rax; may end the process (cr->exited). */
void syscalls_dispatch(struct cpurun *cr);

void sys_file_register(struct syscall_desc *table);
void sys_fs_register(struct syscall_desc *table);
void sys_mem_register(struct syscall_desc *table);
void sys_proc_register(struct syscall_desc *table);

/* A host call's result as the guest sees it: r, or -errno when r is -1. */
static inline int64_t syscall_result(long r)
{
	return r == -1 ? -(int64_t)errno : r;
}

#endif
