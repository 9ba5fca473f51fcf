/*
 * The software accelerator, vCPU half: one struct cpu in system mode per
 * vCPU, run by the VMM's vCPU thread through vcpu_run.
 *
 * vcpu_run loops: fire the platform timers that are due, run the
 * interpreter for a chunk sized to end near the next timer deadline, and
 * when the CPU halts (HLT, or an AP waiting for its start-up IPI) sleep on a
 * condition variable until an interrupt request, a kick or the deadline. It
 * returns only for a kick (ACCEL_EXIT_INTERRUPTED: the VMM looks at pause and
 * stop), a triple fault (ACCEL_EXIT_SHUTDOWN) or an internal error. Port and
 * MMIO accesses complete inside it: the platform (LAPIC, IOAPIC, PIC, PIT)
 * is asked first, everything else goes to the VMM's buses through
 * accel_vm_params.io. Power-off and reset never come from here: the
 * devices stop the VM themselves (vm_request_stop), which kicks us.
 *
 * INIT is handled here rather than by the CPU core: the LAPIC must be reset
 * on this thread too (platform_vcpu_init), so the platform's INIT becomes
 * init_pending, and the vCPU thread resets both before it runs again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accel/soft/lockstep.h"
#include "accel/soft/physmap.h"
#include "accel/soft/platform/platform.h"
#include "accel/soft/soft_internal.h"
#include "accel/soft/sysmem.h"
#include "core/log.h"

#define MSR_IA32_TSC        0x10
#define MSR_IA32_TSC_ADJUST 0x3b

/* Run chunks: long enough to amortise the loop, short enough that a timer
 * is at most ~1 ms late at typical interpreter speeds, and that
 * interrupt_request arriving from others is seen (the CPU itself polls it
 * at block boundaries, so this only bounds timer latency). */
#define CHUNK_MAX   (1u << 20)
#define CHUNK_MIN   1024u
#define IPS_INITIAL 0.1 /* instructions per ns: 100 MIPS until measured */

static struct accel_vcpu *vcpu_of(struct cpu *cpu)
{
	return cpu->sys_ctx;
}

/* ---- the CPU's platform (cpu_sys_ops) ---- */

/*
 * The guest just wrote a platform register (the TSC deadline, a LAPIC timer
 * register, the PIT): if that moved a timer before the end the current run
 * chunk was sized for, leave cpu_run so the loop fires it in time.
 */
static void timer_maybe_moved(struct accel_vcpu *v)
{
	uint64_t d = platform_next_deadline_ns(v->vm->platform, v->index);
	if (d < v->chunk_deadline_ns && d < v->chunk_end_ns)
		cpu_interrupt(&v->cpu, CPU_INT_EXIT);
}

static void sys_pio(struct cpu *cpu, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct accel_vcpu *v = vcpu_of(cpu);
	struct accel_vm *vm = v->vm;
	if (platform_pio(vm->platform, v->index, port, data, size, is_write)) {
		if (is_write)
			timer_maybe_moved(v);
		return;
	}
	struct accel_exit exit = {.reason = ACCEL_EXIT_PIO};
	exit.pio.port = port;
	exit.pio.size = (uint8_t)size;
	exit.pio.is_write = is_write;
	exit.pio.count = 1;
	exit.pio.data = data;
	vm->io(vm->io_ctx, v->index, &exit);
}

static void sys_mmio(struct cpu *cpu, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct accel_vcpu *v = vcpu_of(cpu);
	struct accel_vm *vm = v->vm;
	if (platform_mmio(vm->platform, v->index, gpa, data, size, is_write)) {
		if (is_write)
			timer_maybe_moved(v);
		return;
	}
	/* The exit's buffer is 8 bytes by contract; the CPU's may be just size. */
	struct accel_exit exit = {.reason = ACCEL_EXIT_MMIO};
	exit.mmio.gpa = gpa;
	exit.mmio.size = (uint8_t)size;
	exit.mmio.is_write = is_write;
	exit.mmio.data = v->mmio_buf;
	memset(v->mmio_buf, 0, sizeof(v->mmio_buf));
	if (is_write)
		memcpy(v->mmio_buf, data, size);
	vm->io(vm->io_ctx, v->index, &exit);
	if (!is_write)
		memcpy(data, v->mmio_buf, size);
}

/*
 * IA32_TSC_ADJUST (SDM vol. 3, 18.17.3) is the sum of every change made to
 * this vCPU's TSC since reset: tsc_offset minus the offset the VM gave it
 * (tsc_base). So a guest WRMSR to IA32_TSC (msr.c moves tsc_offset) shows
 * here as it must, and a write here moves the TSC. Linux keeps the TSC
 * clocksource without a watchdog when CPUID advertises this MSR (with
 * invariant TSC): the watchdog's reference on a VM without HPET is jiffies,
 * which a host scheduling vCPU threads late makes look skewed.
 */
static bool tsc_adjust_msr(struct accel_vcpu *v, uint32_t index, uint64_t *value, bool write)
{
	if (index != MSR_IA32_TSC_ADJUST)
		return false;
	if (write)
		v->cpu.tsc_offset = v->tsc_base + *value;
	else
		*value = v->cpu.tsc_offset - v->tsc_base;
	return true;
}

static int sys_rdmsr(struct cpu *cpu, uint32_t index, uint64_t *value)
{
	struct accel_vcpu *v = vcpu_of(cpu);
	if (tsc_adjust_msr(v, index, value, false))
		return 0;
	/* PLATFORM_MSR_GP falls through to the CPU, which has no such MSR: #GP. */
	return platform_rdmsr(v->vm->platform, v->index, index, value) == 0 ? 0 : -1;
}

static int sys_wrmsr(struct cpu *cpu, uint32_t index, uint64_t value)
{
	struct accel_vcpu *v = vcpu_of(cpu);
	if (tsc_adjust_msr(v, index, &value, true))
		return 0;
	if (platform_wrmsr(v->vm->platform, v->index, index, value) != 0)
		return -1;
	timer_maybe_moved(v);
	return 0;
}

static int sys_intr_ack(struct cpu *cpu)
{
	struct accel_vcpu *v = vcpu_of(cpu);
	int vector = platform_intr_ack(v->vm->platform, v->index);
	/* The CPU cleared CPU_INT_EXTERNAL before asking; another interrupt may
	 * still be waiting (a lower priority one, the PIC behind the LAPIC). */
	if (platform_intr_pending(v->vm->platform, v->index))
		cpu_interrupt(cpu, CPU_INT_EXTERNAL);
	return vector;
}

static const struct cpu_sys_ops soft_sys_ops = {
    .pio = sys_pio,
    .mmio = sys_mmio,
    .rdmsr = sys_rdmsr,
    .wrmsr = sys_wrmsr,
    .intr_ack = sys_intr_ack,
};

/* ---- waking and sleeping ---- */

void soft_vcpu_interrupt(struct accel_vcpu *v, uint32_t bits)
{
	cpu_interrupt(&v->cpu, bits);
	/* Pairs with the sleeper's store to sleeping and load of the request
	 * word: one of the two sides sees the other's write. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&v->sleeping)) {
		pthread_mutex_lock(&v->lock);
		pthread_cond_signal(&v->wake);
		pthread_mutex_unlock(&v->lock);
	}
}

void soft_vcpu_kick(struct accel_vcpu *v)
{
	atomic_store(&v->kicked, true);
	soft_vcpu_interrupt(v, CPU_INT_EXIT);
}

static bool wake_pending(struct accel_vcpu *v)
{
	uint32_t req = atomic_load(&v->cpu.interrupt_request);
	return (req & cpu_wake_mask(&v->cpu)) || atomic_load(&v->kicked) ||
	       atomic_load(&v->init_pending);
}

static void timespec_from_ns(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Sleeps until something can wake the halted CPU or deadline_ns passes. */
static void sleep_until(struct accel_vcpu *v, uint64_t deadline_ns)
{
	struct timespec ts;
	timespec_from_ns(&ts, deadline_ns);
	pthread_mutex_lock(&v->lock);
	atomic_store(&v->sleeping, true);
	while (!wake_pending(v) && soft_now_ns() < deadline_ns) {
		if (deadline_ns == UINT64_MAX)
			pthread_cond_wait(&v->wake, &v->lock);
		else if (pthread_cond_timedwait(&v->wake, &v->lock, &ts) == ETIMEDOUT)
			break;
	}
	atomic_store(&v->sleeping, false);
	pthread_mutex_unlock(&v->lock);
}

/* ---- the run loop ---- */

/* The platform's INIT: the LAPIC and the CPU return to the INIT state. */
static void take_init(struct accel_vcpu *v)
{
	atomic_store(&v->init_pending, false);
	platform_vcpu_init(v->vm->platform, v->index);
	cpu_init_signal(&v->cpu);
}

/* Instructions until the deadline at the measured speed, within the chunk bounds. */
static uint64_t chunk_for(const struct accel_vcpu *v, uint64_t now, uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return CHUNK_MAX;
	if (deadline <= now)
		return CHUNK_MIN;
	double n = (double)(deadline - now) * v->ips_per_ns;
	if (n >= CHUNK_MAX)
		return CHUNK_MAX;
	return n <= CHUNK_MIN ? CHUNK_MIN : (uint64_t)n;
}

static void measure_speed(struct accel_vcpu *v, uint64_t insns, uint64_t ns)
{
	/* Only chunks long enough to time; a moving average smooths the rest. */
	if (insns < CHUNK_MIN || ns < 10000)
		return;
	v->ips_per_ns = 0.75 * v->ips_per_ns + 0.25 * ((double)insns / (double)ns);
}

int soft_vcpu_run(struct accel_vcpu *v, struct accel_exit *exit)
{
	struct cpu *cpu = &v->cpu;
	struct soft_platform *p = v->vm->platform;
	for (;;) {
		if (atomic_exchange(&v->kicked, false)) {
			exit->reason = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		if (atomic_load(&v->init_pending))
			take_init(v);
		uint64_t now = soft_now_ns();
		platform_run_timers(p, v->index, now);
		uint64_t deadline = platform_next_deadline_ns(p, v->index);
		/* A safety net for interrupts that became deliverable without a
		 * kick (an EOI or TPR write on this vCPU unmasking an older one). */
		if (platform_intr_pending(p, v->index))
			cpu_interrupt(cpu, CPU_INT_EXTERNAL);

		uint64_t budget = chunk_for(v, now, deadline);
		if (unlikely(lockstep_trace_on()))
			budget = lockstep_trace_step(cpu, v->index, budget);
		v->chunk_deadline_ns = deadline;
		v->chunk_end_ns = now + (uint64_t)((double)budget / v->ips_per_ns);
		uint64_t before = cpu->icount;
		enum cpu_exit why = cpu_run(cpu, budget);
		uint64_t after_ns = soft_now_ns();
		measure_speed(v, cpu->icount - before, after_ns - now);
		switch (why) {
		case CPU_EXIT_BUDGET:
		case CPU_EXIT_STOP:
		case CPU_EXIT_NONE:
			break;
		case CPU_EXIT_HLT:
			if (!wake_pending(v)) {
				platform_run_timers(p, v->index, after_ns);
				sleep_until(v, platform_next_deadline_ns(p, v->index));
			}
			break;
		case CPU_EXIT_SHUTDOWN:
			lockstep_trace_note(v->index, "exit: triple fault");
			exit->reason = ACCEL_EXIT_SHUTDOWN;
			return 0;
		case CPU_EXIT_SYSCALL:
		case CPU_EXIT_EXCEPTION:
		case CPU_EXIT_IO:
			exit->reason = ACCEL_EXIT_ERROR;
			exit->error.what = "software CPU: a user-mode exit in system mode";
			exit->error.code = why;
			return 0;
		}
	}
}

/* ---- creation and state ---- */

int soft_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	if (index >= vm->nr_vcpus || atomic_load(&vm->vcpus[index]))
		return -EINVAL;
	struct accel_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->ips_per_ns = IPS_INITIAL;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->wake, &attr);
	pthread_condattr_destroy(&attr);

	cpu_init_system(&v->cpu, &sysmem_ops, vm->physmap, &soft_sys_ops);
	v->cpu.sys_ctx = v;
	/* The guest TSC starts at 0 at vm_create on every vCPU alike. */
	v->tsc_base = -vm->tsc_epoch;
	v->cpu.tsc_offset = v->tsc_base;
	/* Application processors wait for INIT/SIPI (the BSP gets its entry
	 * registers from the builder). */
	if (index != 0)
		cpu_init_signal(&v->cpu);
	/* Anything the platform raised before this vCPU existed is in its LAPIC. */
	cpu_interrupt(&v->cpu, CPU_INT_EXTERNAL);
	atomic_store(&vm->vcpus[index], v);
	*out = v;
	return 0;
}

void soft_vcpu_destroy(struct accel_vcpu *v)
{
	if (!v)
		return;
	atomic_store(&v->vm->vcpus[v->index], NULL);
	cpu_fini(&v->cpu);
	pthread_cond_destroy(&v->wake);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

int soft_vcpu_set_cpuid(struct accel_vcpu *v, const struct cpuid_entry *entries, size_t nr)
{
	if (nr > CPUID_MAX_ENTRIES)
		return -E2BIG;
	memcpy(v->cpuid, entries, nr * sizeof(*entries));
	v->cpu.cpuid = v->cpuid;
	v->cpu.nr_cpuid = nr;
	return 0;
}

int soft_vcpu_set_msrs(struct accel_vcpu *v, const struct msr_entry *msrs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		/* A host write of the TSC means "the guest TSC read value at
		 * vm_create": relative to the VM's epoch, not to now, so every
		 * vCPU written in turn ends up with the same offset (KVM matches
		 * writes made in the same instant for the same reason). */
		if (msrs[i].index == MSR_IA32_TSC) {
			v->tsc_base = msrs[i].value - v->vm->tsc_epoch;
			v->cpu.tsc_offset = v->tsc_base;
			continue;
		}
		if (cpu_set_msr(&v->cpu, msrs[i].index, msrs[i].value)) {
			log_debug("software CPU: MSR %#x refused", msrs[i].index);
			return -EINVAL;
		}
	}
	return 0;
}

int soft_vcpu_init_platform(struct accel_vcpu *v)
{
	/* FNINIT state (the RESET state has FCW 0x40); MXCSR is 0x1f80 already. */
	v->cpu.x87.cw = 0x37f;
	v->cpu.mxcsr = 0x1f80;
	platform_vcpu_init_lint(v->vm->platform, v->index);
	return 0;
}

int soft_vcpu_get_regs(struct accel_vcpu *v, struct x86_regs *regs)
{
	cpu_get_regs(&v->cpu, regs);
	return 0;
}

int soft_vcpu_set_regs(struct accel_vcpu *v, const struct x86_regs *regs)
{
	cpu_set_regs(&v->cpu, regs);
	return 0;
}

int soft_vcpu_get_sregs(struct accel_vcpu *v, struct x86_sregs *sregs)
{
	cpu_get_sregs(&v->cpu, sregs);
	return 0;
}

int soft_vcpu_set_sregs(struct accel_vcpu *v, const struct x86_sregs *sregs)
{
	/* Also makes an AP waiting for SIPI run from these registers. */
	cpu_set_sregs(&v->cpu, sregs);
	return 0;
}
