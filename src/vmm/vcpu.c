/*
 * The vCPU loop: run -> exit -> I/O bus -> device, until the VM stops.
 * Nothing the guest does ends this thread with a crash of the process: a
 * triple fault or an accelerator error stops the VM with VM_STOP_CRASH.
 */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "vmm/bus.h"
#include "vmm/vm.h"

static void dispatch_pio(struct vcpu *vcpu, const struct accel_exit *exit)
{
	struct bus *bus = &vcpu->vm->pio_bus;
	uint8_t *data = exit->pio.data;
	vcpu->exits_pio++;
	metrics_inc(exit->pio.is_write ? &metrics_vcpu.exit_io_out : &metrics_vcpu.exit_io_in);
	/* String I/O (rep ins/outs) arrives as count accesses of size bytes. */
	for (uint32_t i = 0; i < exit->pio.count; i++, data += exit->pio.size)
		bus_access(bus, exit->pio.port, data, exit->pio.size, exit->pio.is_write);
}

static void dispatch_mmio(struct vcpu *vcpu, const struct accel_exit *exit)
{
	vcpu->exits_mmio++;
	metrics_inc(exit->mmio.is_write ? &metrics_vcpu.exit_mmio_write :
					  &metrics_vcpu.exit_mmio_read);
	uint32_t size = exit->mmio.size;
	if (unlikely(size == 0 || size > 8)) {
		log_warn_ratelimited("vcpu %u: MMIO access of %u bytes at %#llx ignored",
				     vcpu->index, size, (unsigned long long)exit->mmio.gpa);
		return;
	}
	bus_access(&vcpu->vm->mmio_bus, exit->mmio.gpa, exit->mmio.data, size,
		   exit->mmio.is_write);
}

void vcpu_io(void *vm_ctx, unsigned vcpu_index, const struct accel_exit *exit)
{
	struct vm *vm = vm_ctx;
	struct vcpu *vcpu = &vm->vcpus[vcpu_index];
	if (exit->reason == ACCEL_EXIT_PIO)
		dispatch_pio(vcpu, exit);
	else if (exit->reason == ACCEL_EXIT_MMIO)
		dispatch_mmio(vcpu, exit);
	/* The access stopped the VM (ACPI power off, reset): leave vcpu_run now,
	 * as a KVM exit would have, instead of running on until the VMM
	 * thread's kick arrives. */
	if (unlikely(atomic_load_explicit(&vm->stop_reason, memory_order_relaxed)))
		vcpu_kick(vcpu);
}

void vcpu_dump_registers(struct vcpu *vcpu)
{
	const struct accel_ops *accel = vcpu->vm->accel;
	struct x86_regs r;
	struct x86_sregs s;
	if (accel->vcpu_get_regs(vcpu->accel_vcpu, &r) || accel->vcpu_get_sregs(vcpu->accel_vcpu, &s)) {
		log_error("vcpu %u: cannot read registers", vcpu->index);
		return;
	}
	log_error("vcpu %u registers:\n"
		  "  rip %016llx rflags %016llx rsp %016llx rbp %016llx\n"
		  "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		  "  rsi %016llx rdi %016llx r8  %016llx r9  %016llx\n"
		  "  r10 %016llx r11 %016llx r12 %016llx r13 %016llx\n"
		  "  r14 %016llx r15 %016llx\n"
		  "  cs %04x base %llx l %u db %u  ss %04x  ds %04x  tr %04x\n"
		  "  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		  "  gdt %llx/%x idt %llx/%x",
		  vcpu->index, (unsigned long long)r.rip, (unsigned long long)r.rflags,
		  (unsigned long long)r.rsp, (unsigned long long)r.rbp, (unsigned long long)r.rax,
		  (unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx,
		  (unsigned long long)r.rsi, (unsigned long long)r.rdi, (unsigned long long)r.r8,
		  (unsigned long long)r.r9, (unsigned long long)r.r10, (unsigned long long)r.r11,
		  (unsigned long long)r.r12, (unsigned long long)r.r13, (unsigned long long)r.r14,
		  (unsigned long long)r.r15, s.cs.selector, (unsigned long long)s.cs.base, s.cs.l,
		  s.cs.db, s.ss.selector, s.ds.selector, s.tr.selector, (unsigned long long)s.cr0,
		  (unsigned long long)s.cr2, (unsigned long long)s.cr3, (unsigned long long)s.cr4,
		  (unsigned long long)s.efer, (unsigned long long)s.gdt.base, s.gdt.limit,
		  (unsigned long long)s.idt.base, s.idt.limit);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	const struct accel_ops *accel = vm->accel;
	struct accel_exit exit;

	/* The kick signal must reach this thread; the VMM thread keeps the others. */
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	log_set_thread_name("vcpu %u", vcpu->index);

	while (!atomic_load_explicit(&vm->stop_reason, memory_order_acquire)) {
		/* vm_pause: park between exits, never inside a device access. */
		if (unlikely(atomic_load_explicit(&vm->pause_requested, memory_order_acquire))) {
			vm_vcpu_park(vm);
			continue;
		}
		int r = accel->vcpu_run(vcpu->accel_vcpu, &exit);
		if (unlikely(r < 0)) {
			metrics_inc(&metrics_vcpu.failures);
			log_error("vcpu %u: run failed: %s", vcpu->index, strerror(-r));
			vm_request_stop(vm, VM_STOP_CRASH);
			break;
		}
		switch (exit.reason) {
		case ACCEL_EXIT_PIO:
			dispatch_pio(vcpu, &exit);
			break;
		case ACCEL_EXIT_MMIO:
			dispatch_mmio(vcpu, &exit);
			break;
		case ACCEL_EXIT_INTERRUPTED:
		case ACCEL_EXIT_HALT: /* the in-kernel irqchip handles HLT; nothing to do */
			break;
		case ACCEL_EXIT_POWEROFF:
			vm_request_stop(vm, VM_STOP_POWEROFF);
			break;
		case ACCEL_EXIT_RESET:
			vm_request_stop(vm, VM_STOP_RESET);
			break;
		case ACCEL_EXIT_SHUTDOWN:
			log_error("vcpu %u: triple fault (the guest shut down its CPU)", vcpu->index);
			vcpu_dump_registers(vcpu);
			vm_request_stop(vm, VM_STOP_CRASH);
			break;
		case ACCEL_EXIT_ERROR:
			metrics_inc(&metrics_vcpu.failures);
			log_error("vcpu %u: %s %#llx", vcpu->index, exit.error.what,
				  (unsigned long long)exit.error.code);
			vcpu_dump_registers(vcpu);
			vm_request_stop(vm, VM_STOP_CRASH);
			break;
		}
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	/* The loop needs little stack; a small one keeps the VMM's footprint down. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (vcpu->accel_vcpu)
		vcpu->vm->accel->vcpu_kick(vcpu->accel_vcpu);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}
