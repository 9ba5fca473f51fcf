/*
 * `ember cpu-run [--trace] [--stats] ELF [ARGS...]`: runs a static Linux
 * x86-64 program on the software CPU in user mode. The ELF is loaded and
 * its stack built (elf_load.c), then cpu_run is called in a loop: a SYSCALL
 * exit is served by syscalls.c, an exception ends the process as the
 * matching signal would (a one-line report, status 128+signal).
 *
 * The guest gets ember's environment and its own argv (the ELF path first,
 * as a shell would pass it to execve).
 */
#define _GNU_SOURCE
#include "cpurun/cpurun.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel/soft/lockstep.h"
#include "arch/x86/cpu_state.h"
#include "cpurun/elf_load.h"
#include "cpurun/syscalls.h"

#define EXIT_BAD_INPUT    2
#define EXIT_HOST_FAILURE 1
#define USAGE             "usage: ember cpu-run [--trace] [--stats] ELF [ARGS...]"

void cpurun_exit(struct cpurun *cr, int status)
{
	if (cr->exited)
		return;
	cr->exited = true;
	cr->exit_status = status & 0xff;
}

/* Signals whose default action is to do nothing (or to stop, which cannot happen here). */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT ||
	       sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

void cpurun_raise(struct cpurun *cr, int sig)
{
	if (sig <= 0 || sig > CPURUN_NSIG)
		return;
	if (sig != SIGKILL) {
		uint64_t handler = cr->sigact[sig - 1].handler;
		if ((cr->sigmask & (1ULL << (sig - 1))) ||
		    handler == (uint64_t)(uintptr_t)SIG_IGN || default_ignored(sig))
			return;
		if (handler != (uint64_t)(uintptr_t)SIG_DFL) {
			if (cr->trace)
				fprintf(stderr, "cpu-run: signal %d has a handler: not delivered\n",
				        sig);
			return;
		}
	}
	cpurun_exit(cr, 128 + sig);
}

static const char *const vector_names[32] = {
    [EXC_DE] = "#DE", [EXC_DB] = "#DB", [EXC_BP] = "#BP", [EXC_OF] = "#OF",
    [EXC_BR] = "#BR", [EXC_UD] = "#UD", [EXC_NM] = "#NM", [EXC_DF] = "#DF",
    [EXC_TS] = "#TS", [EXC_NP] = "#NP", [EXC_SS] = "#SS", [EXC_GP] = "#GP",
    [EXC_PF] = "#PF", [EXC_MF] = "#MF", [EXC_AC] = "#AC", [EXC_XM] = "#XM",
};

/* The signal Linux sends for an exception in user mode (arch/x86/kernel/traps.c). */
static int vector_signal(uint8_t vector)
{
	switch (vector) {
	case EXC_DE:
	case EXC_MF:
	case EXC_XM:
		return SIGFPE;
	case EXC_DB:
	case EXC_BP:
		return SIGTRAP;
	case EXC_UD:
		return SIGILL;
	case EXC_AC:
		return SIGBUS;
	default:
		return SIGSEGV;
	}
}

static void dump_registers(const struct cpu *cpu)
{
	static const char *const names[16] = {
	    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
	};
	for (int i = 0; i < 16; i++) {
		fprintf(stderr, "%s%-3s %016" PRIx64, i % 4 ? "  " : "ember cpu-run:   ", names[i],
		        cpu->gpr[i]);
		if (i % 4 == 3)
			fputc('\n', stderr);
	}
	fprintf(stderr, "ember cpu-run:   fs.base %#" PRIx64 "  gs.base %#" PRIx64 "\n",
	        cpu->seg[S_FS].base, cpu->seg[S_GS].base);
}

/* An exception the guest did not handle: report it as the crash it is. */
static void report_fault(struct cpurun *cr, uint8_t vector)
{
	struct cpu *cpu = cr->cpu;
	const char *name = vector < 32 && vector_names[vector] ? vector_names[vector] : "#??";
	fprintf(stderr, "ember cpu-run: guest fault: %s at rip %#" PRIx64, name, cpu->rip);
	if (vector == EXC_PF) {
		uint32_t ec = cpu->exc_error;
		fprintf(stderr, " addr %#" PRIx64 " (%s, %s)", cpu->cr2,
		        ec & 16  ? "fetch"
		        : ec & 2 ? "write"
		                 : "read",
		        ec & 1 ? "protection" : "not mapped");
	} else if (cpu->exc_has_error) {
		fprintf(stderr, " error %#x", cpu->exc_error);
	}
	fputs(" bytes:", stderr);
	uint8_t b;
	for (uint64_t i = 0; i < 15 && !user_mem_read(cr->mem, cpu->rip + i, &b, 1); i++)
		fprintf(stderr, " %02x", b);
	fputc('\n', stderr);
	if (cr->trace)
		dump_registers(cpu);
	cpurun_exit(cr, 128 + vector_signal(vector));
}

/* AT_HWCAP: CPUID.1:EDX as this CPU reports it. */
static uint64_t cpu_hwcap(const struct cpu *cpu)
{
	for (size_t i = 0; cpu->cpuid && i < cpu->nr_cpuid; i++)
		if (cpu->cpuid[i].function == 1 && cpu->cpuid[i].index == 0)
			return cpu->cpuid[i].edx;
	return 0;
}

static void run(struct cpurun *cr)
{
	while (!cr->exited) {
		/* EMBER_SOFT_TRACE (docs/lockstep.md): single steps while it records. */
		uint64_t budget = 0;
		if (unlikely(lockstep_trace_on()))
			budget = lockstep_trace_step(cr->cpu, 0, 0);
		enum cpu_exit e = cpu_run(cr->cpu, budget);
		switch (e) {
		case CPU_EXIT_SYSCALL:
			syscalls_dispatch(cr);
			break;
		case CPU_EXIT_EXCEPTION:
			report_fault(cr, cr->cpu->exc_vector);
			break;
		case CPU_EXIT_HLT: /* HLT at CPL 3 is #GP(0) */
			cr->cpu->exc_has_error = true;
			cr->cpu->exc_error = 0;
			report_fault(cr, EXC_GP);
			break;
		case CPU_EXIT_STOP:
		case CPU_EXIT_BUDGET:
			break;
		default:
			fprintf(stderr,
			        "ember cpu-run: unexpected CPU exit %d at rip %#" PRIx64 "\n",
			        (int)e, cr->cpu->rip);
			cpurun_exit(cr, EXIT_HOST_FAILURE);
			break;
		}
	}
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Everything up to the first instruction; 0 or an exit status. */
static int setup(struct cpurun *cr, char **argv)
{
	char err[512] = "";
	struct elf_image img;
	cr->mem = user_mem_create();
	cr->cpu = aligned_alloc(64, ALIGN_UP(sizeof(*cr->cpu), 64));
	if (!cr->mem || !cr->cpu) {
		fprintf(stderr, "ember: cpu-run: out of memory\n");
		return EXIT_HOST_FAILURE;
	}
	memset(cr->cpu, 0, sizeof(*cr->cpu));
	int r = elf_load_image(cr->mem, cr->exe_path, &img, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ember: %s\n", err);
		return r == -ENOMEM ? EXIT_HOST_FAILURE : EXIT_BAD_INPUT;
	}
	cpu_init_user64(cr->cpu, &user_mem_ops, cr->mem);
	struct elf_stack_info info = {
	    .execfn = cr->exe_path,
	    .hwcap = cpu_hwcap(cr->cpu),
	    .uid = getuid(),
	    .euid = geteuid(),
	    .gid = getgid(),
	    .egid = getegid(),
	};
	uint64_t rsp;
	r = elf_load_stack(cr->mem, &img, &info, argv, environ, &rsp, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ember: %s\n", err);
		cpu_fini(cr->cpu);
		return r == -E2BIG ? EXIT_BAD_INPUT : EXIT_HOST_FAILURE;
	}
	/* As Linux's ELF_PLAT_INIT and start_thread: every other register zero. */
	cr->cpu->rip = img.entry;
	cr->cpu->gpr[R_RSP] = rsp;
	cr->brk_start = cr->brk_cur = img.end;
	cr->altstack[1] = SS_DISABLE;
	for (int i = 0; i < RLIM_NLIMITS; i++)
		getrlimit(i, &cr->rlim[i]);
	cr->rlim[RLIMIT_STACK].rlim_cur = CPURUN_STACK_SIZE;
	cr->rlim[RLIMIT_STACK].rlim_max = MAX(cr->rlim[RLIMIT_STACK].rlim_max, CPURUN_STACK_SIZE);
	return 0;
}

int cpurun_main(int argc, char **argv)
{
	bool trace = false, stats = false;
	int i = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--trace")) {
			trace = true;
		} else if (!strcmp(argv[i], "--stats")) {
			stats = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts(USAGE);
			return 0;
		} else {
			fprintf(stderr, "ember: cpu-run: unknown option '%s' (%s)\n", argv[i],
			        USAGE);
			return EXIT_BAD_INPUT;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "ember: cpu-run: no ELF given (%s)\n", USAGE);
		return EXIT_BAD_INPUT;
	}

	if (lockstep_trace_enable_from_env())
		return EXIT_BAD_INPUT;

	struct cpurun *cr = calloc(1, sizeof(*cr));
	if (!cr) {
		fprintf(stderr, "ember: cpu-run: out of memory\n");
		return EXIT_HOST_FAILURE;
	}
	cr->exe_path = argv[i];
	cr->exe_real = realpath(argv[i], NULL);
	cr->trace = trace;
	cr->stats = stats;
	int status = setup(cr, argv + i);
	if (status == 0 && !cr->exe_real)
		cr->exe_real = strdup(cr->exe_path);
	if (status == 0 && !cr->exe_real) {
		fprintf(stderr, "ember: cpu-run: out of memory\n");
		status = EXIT_HOST_FAILURE;
	}
	if (status == 0) {
		/* A write to a closed pipe is the guest's SIGPIPE (cpurun_raise), not ember's. */
		signal(SIGPIPE, SIG_IGN);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run(cr);
		lockstep_trace_disable();
		status = cr->exit_status;
		if (stats) {
			double s = seconds_since(&t0);
			fprintf(stderr,
			        "ember cpu-run: %" PRIu64 " instructions in %.3f s: %.1f MIPS\n",
			        cr->cpu->icount, s,
			        s > 0 ? (double)cr->cpu->icount / s / 1e6 : 0.0);
		}
		cpu_fini(cr->cpu);
	}
	free(cr->cpu);
	user_mem_destroy(cr->mem);
	free(cr->exe_real);
	free(cr);
	return status;
}
