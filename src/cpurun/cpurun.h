/*
 * ember cpu-run: a Linux x86-64 user-mode process on the software CPU.
 *
 * A static (ET_EXEC) or static-PIE ELF is loaded into a flat user_mem address
 * space (elf_load.c), the CPU runs it in 64-bit user mode, and every SYSCALL
 * comes back to syscalls.c, which forwards it to the host with each guest
 * pointer checked (uaccess.c). One process, one thread: no fork, no signal
 * delivery. The guest's fds are the host process's fds. user_mem keeps the
 * CPU's TLB and decoded code in step with mapping changes and host writes.
 *
 * The address space (no randomisation; constants below):
 *   0x400000...            ET_EXEC images where they were linked
 *   0x555555554000...      ET_DYN (static-PIE) images, then the program break
 *   0x7f0000000000...      mmap(NULL, ...) bottom-up
 *   0x7fffff7ff000         the 8 MiB stack (with a 1 MiB guard gap below it that
 *   ...0x7ffffffff000      mmap never hands out), top of the user half as on Linux
 */
#ifndef EMBER_CPURUN_CPURUN_H
#define EMBER_CPURUN_CPURUN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "accel/soft/cpu.h"
#include "accel/soft/user_mem.h"

#define CPURUN_USER_TOP    0x7ffffffff000ULL /* Linux's TASK_SIZE with 4-level paging */
#define CPURUN_STACK_SIZE  MIB(8)
#define CPURUN_STACK_GUARD MIB(1) /* Linux's stack_guard_gap */
#define CPURUN_STACK_LOW   (CPURUN_USER_TOP - CPURUN_STACK_SIZE)
#define CPURUN_PIE_BASE    0x555555554000ULL /* ELF_ET_DYN_BASE without randomisation */
#define CPURUN_MMAP_BASE   0x7f0000000000ULL
#define CPURUN_BRK_MAX     GIB(1)     /* how far the program break may grow */
#define CPURUN_MIN_ADDR    0x10000ULL /* vm.mmap_min_addr */

#define CPURUN_NSIG 64

/* A guest's struct sigaction as the kernel sees it (rt_sigaction). */
struct cpurun_sigaction {
	uint64_t handler, flags, restorer, mask;
};

/* The state of the one emulated process. */
struct cpurun {
	struct cpu *cpu;
	struct user_mem *mem;
	const char *exe_path; /* as given on the command line: argv[0], AT_EXECFN */
	char *exe_real;       /* absolute path: readlink("/proc/self/exe") */
	bool trace, stats;

	bool exited;
	int exit_status; /* 0-255, as a shell reports it */

	/* Memory layout. */
	uint64_t brk_start, brk_cur;

	/* Recorded, never delivered. */
	struct cpurun_sigaction sigact[CPURUN_NSIG];
	uint64_t sigmask;
	uint64_t altstack[3]; /* stack_t: ss_sp, ss_flags (+pad), ss_size */
	struct rlimit rlim[RLIM_NLIMITS];
};

/*
 * `ember cpu-run [--trace] [--stats] ELF [ARGS...]` with argv[0] the first
 * word after "cpu-run". Returns the process exit status: the guest's exit
 * status, 128+signal when it crashed, 2 on bad input (one `ember: ` line).
 */
int cpurun_main(int argc, char **argv);

/* Ends the process with status (exit_group, a fatal signal). */
void cpurun_exit(struct cpurun *cr, int status);

/*
 * A signal the process sends itself (kill, tgkill, SIGPIPE from a write):
 * with the default action "terminate" and the signal neither blocked nor
 * handled, the process ends with status 128+sig; otherwise nothing happens
 * (handlers are recorded, never run).
 */
void cpurun_raise(struct cpurun *cr, int sig);

#endif
