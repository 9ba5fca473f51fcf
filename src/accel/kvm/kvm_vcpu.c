/*
 * KVM accelerator, vCPU half: creating vCPUs and their shared kvm_run page,
 * CPUID/MSR/FPU/LAPIC set-up, register conversion, and KVM_RUN with its exit
 * reasons translated into struct accel_exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/kvm/kvm_internal.h"
#include "core/macros.h"

/* Local APIC register offsets and LVT delivery modes (SDM vol. 3, 11.5.1). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

int kvm_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	struct accel_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		int r = -errno;
		free(vcpu);
		return r;
	}
	void *run = mmap(NULL, vm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int r = -errno;
		close(vcpu->fd);
		free(vcpu);
		return r;
	}
	vcpu->run = run;
	*out = vcpu;
	return 0;
}

void kvm_vcpu_destroy(struct accel_vcpu *vcpu)
{
	if (!vcpu)
		return;
	munmap(vcpu->run, vcpu->vm->run_mmap_size);
	close(vcpu->fd);
	free(vcpu);
}

int kvm_vcpu_set_cpuid(struct accel_vcpu *vcpu, const struct cpuid_entry *entries, size_t nr)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nr * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = (uint32_t)nr;
	for (size_t i = 0; i < nr; i++) {
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = entries[i].function,
			.index = entries[i].index,
			.flags = (entries[i].flags & CPUID_FLAG_SIGNIFICANT_INDEX) ?
					 KVM_CPUID_FLAG_SIGNIFCANT_INDEX :
					 0,
			.eax = entries[i].eax,
			.ebx = entries[i].ebx,
			.ecx = entries[i].ecx,
			.edx = entries[i].edx,
		};
	}
	int r = ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

int kvm_vcpu_set_msrs(struct accel_vcpu *vcpu, const struct msr_entry *msrs, size_t nr)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + nr * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	m->nmsrs = (uint32_t)nr;
	for (size_t i = 0; i < nr; i++)
		m->entries[i] = (struct kvm_msr_entry){.index = msrs[i].index,
						       .data = msrs[i].value};
	int set = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	free(m);
	/* KVM_SET_MSRS returns how many it set: anything short means one was refused. */
	if (set < 0)
		return -errno;
	return (size_t)set == nr ? 0 : -EINVAL;
}

int kvm_vcpu_init_platform(struct accel_vcpu *vcpu)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;

	struct kvm_lapic_state lapic;
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	uint32_t lint0, lint1;
	memcpy(&lint0, &lapic.regs[APIC_LVT_LINT0], 4);
	memcpy(&lint1, &lapic.regs[APIC_LVT_LINT1], 4);
	/* Delivery mode is bits 10:8. */
	lint0 = (lint0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	lint1 = (lint1 & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, 4);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, 4);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int kvm_vcpu_get_regs(struct accel_vcpu *vcpu, struct x86_regs *regs)
{
	struct kvm_regs k;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	*regs = (struct x86_regs){
		k.rax, k.rbx, k.rcx, k.rdx, k.rsi, k.rdi, k.rsp, k.rbp,
		k.r8,  k.r9,  k.r10, k.r11, k.r12, k.r13, k.r14, k.r15,
		k.rip, k.rflags,
	};
	return 0;
}

int kvm_vcpu_set_regs(struct accel_vcpu *vcpu, const struct x86_regs *r)
{
	struct kvm_regs k = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.r8 = r->r8,   .r9 = r->r9,   .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rip = r->rip, .rflags = r->rflags,
	};
	return ioctl(vcpu->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

static void segment_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
	*s = (struct x86_segment){
		.base = k->base, .limit = k->limit, .selector = k->selector, .type = k->type,
		.present = k->present, .dpl = k->dpl, .db = k->db, .s = k->s, .l = k->l,
		.g = k->g, .avl = k->avl, .unusable = k->unusable,
	};
}

static void segment_to_kvm(struct kvm_segment *k, const struct x86_segment *s)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
		.present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l,
		.g = s->g, .avl = s->avl, .unusable = s->unusable,
	};
}

int kvm_vcpu_get_sregs(struct accel_vcpu *vcpu, struct x86_sregs *s)
{
	struct kvm_sregs k;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	segment_from_kvm(&s->cs, &k.cs);
	segment_from_kvm(&s->ds, &k.ds);
	segment_from_kvm(&s->es, &k.es);
	segment_from_kvm(&s->fs, &k.fs);
	segment_from_kvm(&s->gs, &k.gs);
	segment_from_kvm(&s->ss, &k.ss);
	segment_from_kvm(&s->tr, &k.tr);
	segment_from_kvm(&s->ldt, &k.ldt);
	s->gdt = (struct x86_dtable){k.gdt.base, k.gdt.limit};
	s->idt = (struct x86_dtable){k.idt.base, k.idt.limit};
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

int kvm_vcpu_set_sregs(struct accel_vcpu *vcpu, const struct x86_sregs *s)
{
	/* Start from KVM's view so fields ember does not model (the pending
	 * interrupt bitmap, the APIC base) keep their values. */
	struct kvm_sregs k;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	segment_to_kvm(&k.cs, &s->cs);
	segment_to_kvm(&k.ds, &s->ds);
	segment_to_kvm(&k.es, &s->es);
	segment_to_kvm(&k.fs, &s->fs);
	segment_to_kvm(&k.gs, &s->gs);
	segment_to_kvm(&k.ss, &s->ss);
	segment_to_kvm(&k.tr, &s->tr);
	segment_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	if (s->apic_base)
		k.apic_base = s->apic_base;
	return ioctl(vcpu->fd, KVM_SET_SREGS, &k) < 0 ? -errno : 0;
}

int kvm_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	if (unlikely(!atomic_load_explicit(&vcpu->thread_known, memory_order_relaxed))) {
		vcpu->thread = pthread_self();
		atomic_store(&vcpu->thread_known, true);
	}
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			/* A kick: the caller re-checks the VM's state before running again. */
			__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
			exit->reason = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		return -errno;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit->reason = ACCEL_EXIT_PIO;
		exit->pio.port = run->io.port;
		exit->pio.size = run->io.size;
		exit->pio.is_write = run->io.direction == KVM_EXIT_IO_OUT;
		exit->pio.count = run->io.count;
		exit->pio.data = (uint8_t *)run + run->io.data_offset;
		return 0;
	case KVM_EXIT_MMIO:
		exit->reason = ACCEL_EXIT_MMIO;
		exit->mmio.gpa = run->mmio.phys_addr;
		exit->mmio.size = (uint8_t)run->mmio.len;
		exit->mmio.is_write = run->mmio.is_write;
		exit->mmio.data = run->mmio.data;
		return 0;
	case KVM_EXIT_HLT:
		exit->reason = ACCEL_EXIT_HALT;
		return 0;
	case KVM_EXIT_SHUTDOWN:
		exit->reason = ACCEL_EXIT_SHUTDOWN;
		return 0;
	case KVM_EXIT_INTR:
		exit->reason = ACCEL_EXIT_INTERRUPTED;
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			exit->reason = ACCEL_EXIT_POWEROFF;
			return 0;
		case KVM_SYSTEM_EVENT_RESET:
			exit->reason = ACCEL_EXIT_RESET;
			return 0;
		default:
			exit->reason = ACCEL_EXIT_ERROR;
			exit->error.what = "KVM_EXIT_SYSTEM_EVENT (crash)";
			exit->error.code = run->system_event.type;
			return 0;
		}
	case KVM_EXIT_FAIL_ENTRY:
		exit->reason = ACCEL_EXIT_ERROR;
		exit->error.what = "KVM_EXIT_FAIL_ENTRY (hardware entry failure reason)";
		exit->error.code = run->fail_entry.hardware_entry_failure_reason;
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		exit->reason = ACCEL_EXIT_ERROR;
		exit->error.what = "KVM_EXIT_INTERNAL_ERROR (suberror)";
		exit->error.code = run->internal.suberror;
		return 0;
	default:
		exit->reason = ACCEL_EXIT_ERROR;
		exit->error.what = "unexpected KVM exit reason";
		exit->error.code = run->exit_reason;
		return 0;
	}
}

void kvm_vcpu_kick(struct accel_vcpu *vcpu)
{
	/* immediate_exit covers a kick that lands before KVM_RUN is entered;
	 * the signal covers one that lands while the vCPU is inside it. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (atomic_load(&vcpu->thread_known))
		pthread_kill(vcpu->thread, SIGUSR1);
}
