/*
 * The KVM speed probe (accel_choice.h): a scratch KVM VM with 2 MiB of RAM
 * runs a ring-0 loop in flat 32-bit protected mode,
 *
 *     mov ecx, ACCEL_PROBE_ITERATIONS
 *  1: dec ecx
 *     jnz 1b
 *     out 0x80, al        ; the end: a port exit
 *
 * on a thread of its own while the caller waits at most ACCEL_PROBE_CAP_MS;
 * past that it kicks the vCPU and reads ECX to see how far the loop got.
 * Hardware KVM finishes in about a millisecond; a software-emulated nested
 * KVM does a few percent of the loop. It is the C twin of
 * tests/integration/kvm_speed.py, without a process or a guest image.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accel/kvm/kvm.h"
#include "arch/x86/regs.h"
#include "vmm/accel_choice.h"
#include "vmm/memory.h"

#define PROBE_RAM_SIZE  MIB(2)
#define PROBE_CODE_GPA  0x100000ULL
#define PROBE_DONE_PORT 0x80

struct probe_run {
	struct accel_vcpu *vcpu;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool kicked; /* the cap passed: an ACCEL_EXIT_INTERRUPTED is ours */
	bool done;
	int error;     /* 0, or -errno from the accelerator */
	bool finished; /* the loop's port exit came */
	uint64_t elapsed_ns;
	uint64_t ecx; /* what the loop still had to do */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *probe_thread(void *arg)
{
	struct probe_run *run = arg;
	struct accel_exit exit;
	struct x86_regs regs;
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	uint64_t start = now_ns();
	int r;
	/* KVM_RUN also returns for a stray signal: only the cap's kick ends the run. */
	do
		r = accel_kvm_ops.vcpu_run(run->vcpu, &exit);
	while (!r && exit.reason == ACCEL_EXIT_INTERRUPTED && !atomic_load(&run->kicked));
	uint64_t end = now_ns();
	if (!r)
		r = accel_kvm_ops.vcpu_get_regs(run->vcpu, &regs);
	pthread_mutex_lock(&run->lock);
	run->elapsed_ns = end - start;
	run->error = r;
	if (!r) {
		run->finished = exit.reason == ACCEL_EXIT_PIO && exit.pio.port == PROBE_DONE_PORT;
		run->ecx = run->finished ? 0 : (uint32_t)regs.rcx;
		if (!run->finished && exit.reason != ACCEL_EXIT_INTERRUPTED)
			run->error = -EIO;
	}
	run->done = true;
	pthread_cond_signal(&run->cond);
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

/* Waits for the run until the cap, kicks it if it is still going, waits for the end. */
static void wait_capped(struct probe_run *run)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += (long)ACCEL_PROBE_CAP_MS * 1000000L;
	while (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&run->lock);
	int r = 0;
	while (!run->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&run->cond, &run->lock, &deadline);
	if (!run->done) {
		pthread_mutex_unlock(&run->lock);
		atomic_store(&run->kicked, true);
		accel_kvm_ops.vcpu_kick(run->vcpu);
		pthread_mutex_lock(&run->lock);
		while (!run->done)
			pthread_cond_wait(&run->cond, &run->lock);
	}
	pthread_mutex_unlock(&run->lock);
}

static int load_probe(struct accel_vm *avm, struct guest_memory *mem, struct accel_vcpu **vcpu)
{
	/* mov ecx, N (below); 1: dec ecx; jnz 1b; out 0x80, al; hlt */
	uint8_t code[] = {0xb9, 0, 0, 0, 0, 0x49, 0x75, 0xfd, 0xe6, PROBE_DONE_PORT, 0xf4};
	const uint32_t iterations = ACCEL_PROBE_ITERATIONS;
	memcpy(&code[1], &iterations, sizeof(iterations));
	struct x86_sregs sregs;
	struct x86_regs regs = {.rip = PROBE_CODE_GPA, .rflags = X86_RFLAGS_RESERVED1};
	int r = accel_kvm_ops.map_ram(avm, 0, mem->regions[0].gpa, mem->regions[0].hva,
	                              mem->regions[0].size, 0);
	if (!r)
		r = x86_setup_flat32(mem, &sregs);
	if (!r)
		r = guest_memory_write(mem, PROBE_CODE_GPA, code, sizeof(code));
	if (!r)
		r = accel_kvm_ops.vcpu_create(avm, 0, vcpu);
	if (!r)
		r = accel_kvm_ops.vcpu_set_sregs(*vcpu, &sregs);
	if (!r)
		r = accel_kvm_ops.vcpu_set_regs(*vcpu, &regs);
	return r;
}

static void run_probe(struct accel_vm *avm, struct accel_vcpu *vcpu, struct kvm_speed *out)
{
	struct probe_run run = {.vcpu = vcpu};
	pthread_t thread;
	pthread_mutex_init(&run.lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&run.cond, &attr);
	pthread_condattr_destroy(&attr);
	int r = pthread_create(&thread, NULL, probe_thread, &run);
	if (r) {
		out->probe_error = -r;
		snprintf(out->why, sizeof(out->why), "cannot start the probe thread: %s",
		         strerror(r));
	} else {
		wait_capped(&run);
		pthread_join(thread, NULL);
		if (run.error) {
			out->probe_error = run.error;
			snprintf(out->why, sizeof(out->why), "KVM_RUN: %s", strerror(-run.error));
		} else {
			out->finished = run.finished;
			out->elapsed_ns = run.elapsed_ns;
			out->instructions = 2 * (ACCEL_PROBE_ITERATIONS - run.ecx);
		}
	}
	pthread_cond_destroy(&run.cond);
	pthread_mutex_destroy(&run.lock);
}

void kvm_speed_probe(struct kvm_speed *out)
{
	memset(out, 0, sizeof(*out));
	out->open_error = kvm_available(out->why, sizeof(out->why));
	if (out->open_error)
		return;
	struct accel_vm_params params = {.nr_vcpus = 1};
	struct accel_vm *avm = NULL;
	struct accel_vcpu *vcpu = NULL;
	struct guest_memory mem = {0};
	int r = accel_kvm_ops.vm_create(&params, &avm, out->why, sizeof(out->why));
	if (r) {
		out->probe_error = r;
		return;
	}
	r = guest_memory_init(&mem, PROBE_RAM_SIZE);
	if (!r)
		r = load_probe(avm, &mem, &vcpu);
	if (r) {
		out->probe_error = r;
		snprintf(out->why, sizeof(out->why), "setting up the probe VM: %s", strerror(-r));
	} else {
		run_probe(avm, vcpu, out);
	}
	if (vcpu)
		accel_kvm_ops.vcpu_destroy(vcpu);
	accel_kvm_ops.vm_destroy(avm);
	guest_memory_fini(&mem);
}
