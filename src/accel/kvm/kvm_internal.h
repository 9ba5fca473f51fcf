/* State shared by the KVM accelerator's VM and vCPU halves. */
#ifndef EMBER_ACCEL_KVM_INTERNAL_H
#define EMBER_ACCEL_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "accel/accel.h"

struct accel_vm {
	int kvm_fd; /* /dev/kvm */
	int vm_fd;
	size_t run_mmap_size;
	unsigned nr_vcpus;
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	_Atomic bool thread_known;
};

int kvm_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
void kvm_vcpu_destroy(struct accel_vcpu *vcpu);
int kvm_vcpu_set_cpuid(struct accel_vcpu *vcpu, const struct cpuid_entry *entries, size_t nr);
int kvm_vcpu_set_msrs(struct accel_vcpu *vcpu, const struct msr_entry *msrs, size_t nr);
int kvm_vcpu_init_platform(struct accel_vcpu *vcpu);
int kvm_vcpu_get_regs(struct accel_vcpu *vcpu, struct x86_regs *regs);
int kvm_vcpu_set_regs(struct accel_vcpu *vcpu, const struct x86_regs *regs);
int kvm_vcpu_get_sregs(struct accel_vcpu *vcpu, struct x86_sregs *sregs);
int kvm_vcpu_set_sregs(struct accel_vcpu *vcpu, const struct x86_sregs *sregs);
int kvm_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit);
void kvm_vcpu_kick(struct accel_vcpu *vcpu);

#endif
