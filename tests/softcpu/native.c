/*
 * The native side of the differential tests: the sandbox pages at fixed
 * addresses, the fault handlers, and running one case on the host CPU
 * through native_trampoline.S.
 *
 * A fault in the instruction under test arrives as a signal on the
 * alternate stack (the test's RSP is arbitrary). The handler copies the
 * faulting state from the ucontext (GPRs, RIP, RFLAGS, the FXSAVE image,
 * trap number, error code, CR2) and makes the sigreturn resume at
 * dt_fault_exit on the trampoline's private stack, which restores the host.
 * A fault anywhere else is a harness bug: the handler steps aside and the
 * process dies with the signal.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "difftest.h"

/* Shared with native_trampoline.S. */
__attribute__((visibility("hidden"))) struct dt_state dt_in, dt_out;
extern int dt_native_enter(void) __attribute__((visibility("hidden")));
extern char dt_tramp_start[], dt_tramp_end[], dt_land0[], dt_land1[], dt_fault_exit[],
    dt_priv_stack_top[] __attribute__((visibility("hidden")));

_Static_assert(offsetof(struct dt_state, fx) == DT_OFF_FX, "layout");
_Static_assert(offsetof(struct dt_state, gpr) == DT_OFF_GPR, "layout");
_Static_assert(offsetof(struct dt_state, rip) == DT_OFF_RIP, "layout");
_Static_assert(offsetof(struct dt_state, rflags) == DT_OFF_RFLAGS, "layout");

static volatile sig_atomic_t dt_active;
static volatile sig_atomic_t dt_faulted;

/* ucontext gregs index for each GPR in encoding order. */
static const int greg_of[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static const struct dt_case *dt_cur;

/*
 * A fault outside the instruction under test: in the interpreter, or a
 * harness bug. Says which case was running, then lets the signal kill us.
 */
static void harness_fault(int sig, uint64_t rip)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg),
	                 "difftest: signal %d at rip %#llx outside the tested instruction (%s); "
	                 "case: %s, --case-seed %#llx\n",
	                 sig, (unsigned long long)rip,
	                 dt_active ? "in the trampoline" : "interpreter or harness",
	                 dt_cur ? dt_cur->form->name : "none",
	                 dt_cur ? (unsigned long long)dt_cur->seed : 0ULL);
	ssize_t r = write(2, msg, n > 0 ? (size_t)n : 0);
	(void)r;
	signal(sig, SIG_DFL);
}

static volatile uint64_t dt_progress;

void dt_native_set_current(const struct dt_case *c)
{
	dt_cur = c;
	dt_progress++;
}

/* SIGALRM every few seconds: a case that makes no progress (a hang) ends the run. */
static void on_alarm(int sig)
{
	static uint64_t last = ~0ULL;

	if (dt_progress == last) {
		char msg[256];
		int n = snprintf(msg, sizeof(msg),
		                 "difftest: no progress for 10 s (a hang); case: %s, --case-seed "
		                 "%#llx\n",
		                 dt_cur ? dt_cur->form->name : "none",
		                 dt_cur ? (unsigned long long)dt_cur->seed : 0ULL);
		ssize_t r = write(2, msg, n > 0 ? (size_t)n : 0);
		(void)r;
		_exit(3);
	}
	last = dt_progress;
	(void)sig;
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP];

	if (!dt_active || (rip >= (uint64_t)dt_tramp_start && rip < (uint64_t)dt_tramp_end)) {
		harness_fault(sig, rip); /* returning re-executes the fault with SIG_DFL */
		return;
	}
	for (int i = 0; i < 16; i++)
		dt_out.gpr[i] = (uint64_t)g[greg_of[i]];
	dt_out.rip = rip;
	dt_out.rflags = (uint64_t)g[REG_EFL];
	if (uc->uc_mcontext.fpregs)
		memcpy(dt_out.fx, uc->uc_mcontext.fpregs, sizeof(dt_out.fx));
	dt_out.vector = (int32_t)g[REG_TRAPNO];
	dt_out.error = (uint32_t)g[REG_ERR];
	dt_out.cr2 = (uint64_t)g[REG_CR2];
	/* SIGTRAP after int3 reports the next RIP; nothing else traps here. */
	dt_faulted = 1;

	g[REG_RIP] = (greg_t)dt_fault_exit;
	g[REG_RSP] = (greg_t)dt_priv_stack_top;
	g[REG_EFL] = 0x202;
	(void)si;
}

static int map_fixed(uint64_t addr, uint64_t len, int prot)
{
	void *p =
	    mmap((void *)addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if ((uint64_t)p != addr) {
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

int dt_native_init(void)
{
	static uint8_t altstack[256 * 1024] __attribute__((aligned(64)));
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;
	int ret;

	if ((ret = map_fixed(DT_CODE_BASE, DT_PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)) ||
	    (ret = map_fixed(DT_CODE_GUARD, DT_PAGE, PROT_NONE)) ||
	    (ret = map_fixed(DT_GUARD_LO, DT_PAGE, PROT_NONE)) ||
	    (ret = map_fixed(DT_DATA_BASE, DT_DATA_SIZE, PROT_READ | PROT_WRITE)) ||
	    (ret = map_fixed(DT_RO_BASE, DT_PAGE, PROT_READ | PROT_WRITE)) ||
	    (ret = map_fixed(DT_GUARD_HI, DT_PAGE, PROT_NONE))) {
		fprintf(stderr, "difftest: cannot map the sandbox at 0x%llx: %s\n", DT_CODE_BASE,
		        strerror(-ret));
		return ret;
	}
	memset((void *)DT_CODE_BASE, 0xcc, DT_PAGE);
	dt_gen_init_ro((uint8_t *)DT_RO_BASE, 0x5eed);
	if (mprotect((void *)DT_RO_BASE, DT_PAGE, PROT_READ))
		return -errno;

	if (sigaltstack(&ss, NULL))
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL) ||
	    sigaction(SIGFPE, &sa, NULL) || sigaction(SIGILL, &sa, NULL) ||
	    sigaction(SIGTRAP, &sa, NULL))
		return -errno;

	struct itimerval it = {.it_interval = {10, 0}, .it_value = {10, 0}};
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		return -errno;
	return 0;
}

uint64_t dt_native_capture_entry(unsigned i)
{
	return (uint64_t)(i ? dt_land1 : dt_land0);
}

void dt_native_run(const struct dt_case *c, struct dt_state *out)
{
	int r;

	dt_in = c->in;
	dt_faulted = 0;
	dt_active = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	r = dt_native_enter();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dt_active = 0;
	*out = dt_out;
	if (r >= 0 && (unsigned)r < c->nland) {
		out->rip = c->land[r];
		out->vector = -1;
		out->error = 0;
		out->cr2 = 0;
	} else if (!dt_faulted) {
		fprintf(stderr, "difftest: native run returned %d without a fault\n", r);
		abort();
	} else if (out->vector == 14 && (out->error & 0x10) && out->rip != c->in.rip) {
		/*
		 * An instruction fetch fault at a branch target: the branch itself
		 * completed (this is its state); the fault belongs to the next
		 * instruction, which a one-instruction run never fetches.
		 */
		out->vector = -1;
		out->error = 0;
	}
	if (out->vector != 14)
		out->cr2 = 0;
}

void dt_native_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
