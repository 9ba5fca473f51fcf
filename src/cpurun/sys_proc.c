/*
 * cpu-run syscalls of the process itself: exit, identity, thread-pointer
 * setup (arch_prctl), limits, uname/sysinfo, time, getrandom, and signals,
 * which are recorded but never delivered (one thread, no signal frames).
 * fork, clone and execve are -ENOSYS: a shell pipeline cannot run here.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cpurun/syscalls.h"
#include "cpurun/uaccess.h"

#define GETRANDOM_MAX 33554431 /* Linux returns at most this much at once */
#define SIGSET_SIZE   8

static int64_t sys_exit_group(struct cpurun *cr, const uint64_t a[6])
{
	cpurun_exit(cr, (int)(a[0] & 0xff));
	return 0;
}

/* One thread: ending it ends the process. */
static int64_t sys_exit(struct cpurun *cr, const uint64_t a[6])
{
	return sys_exit_group(cr, a);
}

static bool canonical(uint64_t va)
{
	return va < 0x800000000000ULL || va >= 0xffff800000000000ULL;
}

static int64_t sys_arch_prctl(struct cpurun *cr, const uint64_t a[6])
{
	struct cpu_segment *fs = &cr->cpu->seg[S_FS], *gs = &cr->cpu->seg[S_GS];
	switch (a[0]) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (!canonical(a[1]))
			return -EPERM;
		(a[0] == ARCH_SET_FS ? fs : gs)->base = a[1];
		return 0;
	case ARCH_GET_FS:
	case ARCH_GET_GS: {
		uint64_t base = (a[0] == ARCH_GET_FS ? fs : gs)->base;
		return user_mem_write(cr->mem, a[1], &base, sizeof(base)) ? -EFAULT : 0;
	}
	case ARCH_GET_CPUID:
		return 1; /* CPUID does not fault */
	default:
		return -EINVAL;
	}
}

static int64_t sys_set_tid_address(struct cpurun *cr, const uint64_t a[6])
{
	return getpid(); /* the only thread's id is the process id */
}

static int64_t sys_set_robust_list(struct cpurun *cr, const uint64_t a[6])
{
	return a[1] == 24 ? 0 : -EINVAL; /* sizeof(struct robust_list_head) */
}

static int64_t sys_rseq(struct cpurun *cr, const uint64_t a[6])
{
	return -ENOSYS; /* glibc then does without */
}

static int64_t sys_gettid(struct cpurun *cr, const uint64_t a[6])
{
	return getpid();
}

static int64_t sys_getgroups(struct cpurun *cr, const uint64_t a[6])
{
	int size = (int)a[0];
	if (size < 0)
		return -EINVAL;
	gid_t *list = malloc((size_t)MAX(size, 1) * sizeof(gid_t));
	if (!list)
		return -ENOMEM;
	int64_t r = syscall_result(getgroups(size, list));
	if (r > 0 && size && user_mem_write(cr->mem, a[1], list, (uint64_t)r * sizeof(gid_t)))
		r = -EFAULT;
	free(list);
	return r;
}

static int64_t sys_uname(struct cpurun *cr, const uint64_t a[6])
{
	struct utsname u;
	if (uname(&u) < 0)
		return -errno;
	snprintf(u.machine, sizeof(u.machine), "x86_64");
	return user_mem_write(cr->mem, a[0], &u, sizeof(u)) ? -EFAULT : 0;
}

static int64_t sys_sysinfo(struct cpurun *cr, const uint64_t a[6])
{
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return -errno;
	return user_mem_write(cr->mem, a[0], &si, sizeof(si)) ? -EFAULT : 0;
}

static int64_t sys_getrusage(struct cpurun *cr, const uint64_t a[6])
{
	struct rusage ru;
	int64_t r = syscall_result(syscall(__NR_getrusage, (int)a[0], &ru));
	if (r == 0 && user_mem_write(cr->mem, a[1], &ru, sizeof(ru)))
		return -EFAULT;
	return r;
}

static int64_t sys_times(struct cpurun *cr, const uint64_t a[6])
{
	struct tms t;
	int64_t r = (int64_t)syscall(__NR_times, &t);
	if (a[0] && user_mem_write(cr->mem, a[0], &t, sizeof(t)))
		return -EFAULT;
	return r;
}

/* Resource limits are the guest's own copy: setting one does not limit ember. */
static int64_t sys_prlimit64(struct cpurun *cr, const uint64_t a[6])
{
	if (a[0] && a[0] != (uint64_t)getpid())
		return -EPERM;
	if (a[1] >= RLIM_NLIMITS)
		return -EINVAL;
	struct rlimit *cur = &cr->rlim[a[1]], lim;
	if (a[2]) {
		if (user_mem_read(cr->mem, a[2], &lim, sizeof(lim)))
			return -EFAULT;
		if (lim.rlim_cur > lim.rlim_max)
			return -EINVAL;
	}
	if (a[3] && user_mem_write(cr->mem, a[3], cur, sizeof(*cur)))
		return -EFAULT;
	if (a[2])
		*cur = lim;
	return 0;
}

static int64_t sys_getrlimit(struct cpurun *cr, const uint64_t a[6])
{
	const uint64_t b[6] = {0, a[0], 0, a[1]};
	return sys_prlimit64(cr, b);
}

static int64_t sys_setrlimit(struct cpurun *cr, const uint64_t a[6])
{
	const uint64_t b[6] = {0, a[0], a[1], 0};
	return sys_prlimit64(cr, b);
}

/* Copies var to the guest at addr unless addr is NULL: 0 or -EFAULT. */
#define COPY_OUT(cr, addr, var)                                                                    \
	((addr) && user_mem_write((cr)->mem, (addr), &(var), sizeof(var)) ? -EFAULT : 0)

static int64_t sys_clock_gettime(struct cpurun *cr, const uint64_t a[6])
{
	struct timespec ts;
	if (clock_gettime((clockid_t)a[0], &ts) < 0)
		return -errno;
	return a[1] ? COPY_OUT(cr, a[1], ts) : -EFAULT;
}

static int64_t sys_clock_getres(struct cpurun *cr, const uint64_t a[6])
{
	struct timespec ts;
	if (clock_getres((clockid_t)a[0], &ts) < 0)
		return -errno;
	return COPY_OUT(cr, a[1], ts);
}

static int64_t sys_gettimeofday(struct cpurun *cr, const uint64_t a[6])
{
	struct timeval tv;
	struct timezone tz = {0, 0};
	if (syscall(__NR_gettimeofday, &tv, &tz) < 0)
		return -errno;
	if (COPY_OUT(cr, a[0], tv) || COPY_OUT(cr, a[1], tz))
		return -EFAULT;
	return 0;
}

static int64_t sys_time(struct cpurun *cr, const uint64_t a[6])
{
	int64_t t = (int64_t)time(NULL);
	return COPY_OUT(cr, a[0], t) ? -EFAULT : t;
}

static int64_t do_nanosleep(struct cpurun *cr, clockid_t clk, int flags, uint64_t ureq,
                            uint64_t urem)
{
	struct timespec req, rem = {0, 0};
	if (user_mem_read(cr->mem, ureq, &req, sizeof(req)))
		return -EFAULT;
	int r = -clock_nanosleep(clk, flags, &req, &rem); /* returns the error itself */
	if (r == -EINTR && urem && COPY_OUT(cr, urem, rem))
		return -EFAULT;
	return r;
}

static int64_t sys_nanosleep(struct cpurun *cr, const uint64_t a[6])
{
	return do_nanosleep(cr, CLOCK_MONOTONIC, 0, a[0], a[1]);
}

static int64_t sys_clock_nanosleep(struct cpurun *cr, const uint64_t a[6])
{
	return do_nanosleep(cr, (clockid_t)a[0], (int)a[1], a[2], a[3]);
}

static int64_t sys_getrandom(struct cpurun *cr, const uint64_t a[6])
{
	struct iovec iov[UACCESS_IOV_MAX];
	uint64_t covered;
	int n = uaccess_iov(cr->mem, a[0], MIN(a[1], GETRANDOM_MAX), USER_PROT_WRITE, iov,
	                    UACCESS_IOV_MAX, &covered);
	if (n < 0)
		return n;
	int64_t done = 0;
	for (int i = 0; i < n; i++) {
		ssize_t r = getrandom(iov[i].iov_base, iov[i].iov_len, (unsigned)a[2]);
		if (r < 0)
			return done ? done : -errno;
		done += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	if (n == 0 && getrandom(NULL, 0, (unsigned)a[2]) < 0)
		return -errno; /* bad flags */
	return done;
}

static int64_t sys_rt_sigaction(struct cpurun *cr, const uint64_t a[6])
{
	int sig = (int)a[0];
	if (a[3] != SIGSET_SIZE || sig < 1 || sig > CPURUN_NSIG)
		return -EINVAL;
	struct cpurun_sigaction act;
	if (a[1]) {
		if (sig == SIGKILL || sig == SIGSTOP)
			return -EINVAL;
		if (user_mem_read(cr->mem, a[1], &act, sizeof(act)))
			return -EFAULT;
	}
	if (a[2] && user_mem_write(cr->mem, a[2], &cr->sigact[sig - 1], sizeof(act)))
		return -EFAULT;
	if (a[1])
		cr->sigact[sig - 1] = act;
	return 0;
}

static int64_t sys_rt_sigprocmask(struct cpurun *cr, const uint64_t a[6])
{
	if (a[3] != SIGSET_SIZE)
		return -EINVAL;
	uint64_t set = 0, old = cr->sigmask;
	if (a[1] && user_mem_read(cr->mem, a[1], &set, sizeof(set)))
		return -EFAULT;
	if (a[1]) {
		switch (a[0]) {
		case SIG_BLOCK:
			cr->sigmask |= set;
			break;
		case SIG_UNBLOCK:
			cr->sigmask &= ~set;
			break;
		case SIG_SETMASK:
			cr->sigmask = set;
			break;
		default:
			return -EINVAL;
		}
		cr->sigmask &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	}
	return COPY_OUT(cr, a[2], old);
}

static int64_t sys_sigaltstack(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t ss[3];
	if (a[0] && user_mem_read(cr->mem, a[0], ss, sizeof(ss)))
		return -EFAULT;
	if (a[1] && user_mem_write(cr->mem, a[1], cr->altstack, sizeof(cr->altstack)))
		return -EFAULT;
	if (a[0])
		memcpy(cr->altstack, ss, sizeof(ss));
	return 0;
}

static int64_t sys_rt_sigreturn(struct cpurun *cr, const uint64_t a[6])
{
	return -ENOSYS; /* no signal frame was ever pushed */
}

static int64_t sys_kill(struct cpurun *cr, const uint64_t a[6])
{
	int pid = (int)a[0], sig = (int)a[1];
	if (sig < 0 || sig > CPURUN_NSIG)
		return -EINVAL;
	if (pid == 0 || pid == getpid()) {
		cpurun_raise(cr, sig);
		return 0;
	}
	if (pid < 0)
		return -EPERM; /* process groups and "everyone" are not the guest's to signal */
	return syscall_result(kill(pid, sig));
}

static int64_t sys_tgkill(struct cpurun *cr, const uint64_t a[6])
{
	int sig = (int)a[2];
	if (sig < 0 || sig > CPURUN_NSIG)
		return -EINVAL;
	if ((int)a[0] != getpid() || (int)a[1] != getpid())
		return -ESRCH;
	cpurun_raise(cr, sig);
	return 0;
}

static int64_t sys_tkill(struct cpurun *cr, const uint64_t a[6])
{
	const uint64_t b[6] = {a[0], a[0], a[1]};
	return sys_tgkill(cr, b);
}

static int64_t sys_sched_getaffinity(struct cpurun *cr, const uint64_t a[6])
{
	uint64_t mask = 1; /* one CPU */
	if (a[1] < sizeof(mask) || (a[1] & (sizeof(mask) - 1)))
		return -EINVAL;
	return COPY_OUT(cr, a[2], mask) ? -EFAULT : (int64_t)sizeof(mask);
}

static int64_t sys_futex(struct cpurun *cr, const uint64_t a[6])
{
	uint32_t val;
	switch (a[1] & FUTEX_CMD_MASK) {
	case FUTEX_WAKE:
		return 0; /* nobody else to wake */
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (user_mem_read(cr->mem, a[0], &val, sizeof(val)))
			return -EFAULT;
		/* With one thread nothing can ever change the word. */
		return val != (uint32_t)a[2] ? -EAGAIN : a[3] ? -ETIMEDOUT : -EDEADLK;
	default:
		return -ENOSYS;
	}
}

static int64_t sys_wait4(struct cpurun *cr, const uint64_t a[6])
{
	return -ECHILD; /* no child can exist */
}

static int64_t sys_unsupported(struct cpurun *cr, const uint64_t a[6])
{
	return -ENOSYS;
}
/* Registered under their own names (sys_##name below expands to these). */
#define sys_fork     sys_unsupported
#define sys_vfork    sys_unsupported
#define sys_clone    sys_unsupported
#define sys_clone3   sys_unsupported
#define sys_execve   sys_unsupported
#define sys_execveat sys_unsupported
#define sys_waitid   sys_wait4

void sys_proc_register(struct syscall_desc *t)
{
	SYSCALL_REGISTER(t, exit, 1, 0);
	SYSCALL_REGISTER(t, exit_group, 1, 0);
	SYSCALL_REGISTER(t, arch_prctl, 2, 0);
	SYSCALL_REGISTER(t, set_tid_address, 1, 0);
	SYSCALL_REGISTER(t, set_robust_list, 2, 0);
	SYSCALL_REGISTER(t, rseq, 4, 0);
	SYSCALL_REGISTER(t, gettid, 0, 0);
	SYSCALL_REGISTER(t, getgroups, 2, 0);
	SYSCALL_REGISTER(t, uname, 1, 0);
	SYSCALL_REGISTER(t, sysinfo, 1, 0);
	SYSCALL_REGISTER(t, getrusage, 2, 0);
	SYSCALL_REGISTER(t, times, 1, 0);
	SYSCALL_REGISTER(t, prlimit64, 4, 0);
	SYSCALL_REGISTER(t, getrlimit, 2, 0);
	SYSCALL_REGISTER(t, setrlimit, 2, 0);
	SYSCALL_REGISTER(t, clock_gettime, 2, 0);
	SYSCALL_REGISTER(t, clock_getres, 2, 0);
	SYSCALL_REGISTER(t, gettimeofday, 2, 0);
	SYSCALL_REGISTER(t, time, 1, 0);
	SYSCALL_REGISTER(t, nanosleep, 2, 0);
	SYSCALL_REGISTER(t, clock_nanosleep, 4, 0);
	SYSCALL_REGISTER(t, getrandom, 3, 0);
	SYSCALL_REGISTER(t, rt_sigaction, 4, 0);
	SYSCALL_REGISTER(t, rt_sigprocmask, 4, 0);
	SYSCALL_REGISTER(t, sigaltstack, 2, 0);
	SYSCALL_REGISTER(t, rt_sigreturn, 0, 0);
	SYSCALL_REGISTER(t, kill, 2, 0);
	SYSCALL_REGISTER(t, tgkill, 3, 0);
	SYSCALL_REGISTER(t, tkill, 2, 0);
	SYSCALL_REGISTER(t, sched_getaffinity, 3, 0);
	SYSCALL_REGISTER(t, futex, 6, 0);
	SYSCALL_REGISTER(t, wait4, 4, 0);
	SYSCALL_REGISTER(t, waitid, 5, 0);
	SYSCALL_REGISTER(t, fork, 0, 0);
	SYSCALL_REGISTER(t, vfork, 0, 0);
	SYSCALL_REGISTER(t, clone, 5, 0);
	SYSCALL_REGISTER(t, clone3, 2, 0);
	SYSCALL_REGISTER(t, execve, 3, 1);
	SYSCALL_REGISTER(t, execveat, 5, 2);
	SYSCALL_FORWARD(t, getpid, 0);
	SYSCALL_FORWARD(t, getppid, 0);
	SYSCALL_FORWARD(t, getuid, 0);
	SYSCALL_FORWARD(t, geteuid, 0);
	SYSCALL_FORWARD(t, getgid, 0);
	SYSCALL_FORWARD(t, getegid, 0);
	SYSCALL_FORWARD(t, getpgrp, 0);
	SYSCALL_FORWARD(t, getpgid, 1);
	SYSCALL_FORWARD(t, getsid, 1);
	SYSCALL_FORWARD(t, setpgid, 2);
	SYSCALL_FORWARD(t, setsid, 0);
	SYSCALL_FORWARD(t, umask, 1);
	SYSCALL_FORWARD(t, sched_yield, 0);
}
