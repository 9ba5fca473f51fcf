/*
 * State shared by the software accelerator's VM half (accel_soft.c), its
 * vCPU half (soft_vcpu.c) and the host clock (soft_clock.c).
 *
 * Threads: struct accel_vm is written by the VMM thread before the vCPUs
 * run, then only read (the platform and the physical map have their own
 * rules). struct accel_vcpu belongs to its vCPU thread, except the wake-up
 * fields (sleeping, kicked, the condition) and cpu.interrupt_request, which
 * other threads use to wake it.
 */
#ifndef EMBER_ACCEL_SOFT_SOFT_INTERNAL_H
#define EMBER_ACCEL_SOFT_SOFT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "accel/soft/cpu.h"

struct physmap;
struct soft_platform;

struct accel_vm {
	unsigned nr_vcpus;
	void (*io)(void *io_ctx, unsigned vcpu_index, const struct accel_exit *exit);
	void *io_ctx;
	struct physmap *physmap;
	struct soft_platform *platform;
	/* By index, for the platform's kicks; an entry is set by vcpu_create. */
	struct accel_vcpu *_Atomic *vcpus;
	uint32_t tsc_khz;   /* the host TSC frequency = the guest's */
	uint64_t tsc_epoch; /* host TSC at vm_create: guest TSC 0 (see soft_vcpu_set_msrs) */
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	struct cpu cpu;
	struct cpuid_entry cpuid[CPUID_MAX_ENTRIES];

	/* Sleeping in HLT / wait-for-SIPI until interrupt_request or kicked. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	_Atomic bool sleeping;
	_Atomic bool kicked;       /* vcpu_kick: the next chance returns ACCEL_EXIT_INTERRUPTED */
	_Atomic bool init_pending; /* the platform sent INIT (soft_vcpu.c takes it) */

	/* tsc_offset as the VM set it (creation, host TSC writes): the guest's
	 * own changes since are IA32_TSC_ADJUST (soft_vcpu.c). */
	uint64_t tsc_base;
	/* Instructions per ns, measured: sizes run chunks to the next timer. */
	double ips_per_ns;
	uint64_t chunk_end_ns;      /* when the current chunk should end at that speed */
	uint64_t chunk_deadline_ns; /* the timer deadline it was sized for */
	uint8_t mmio_buf[8];
};

/* ---- soft_clock.c ---- */

/* CLOCK_MONOTONIC in ns. */
uint64_t soft_now_ns(void);
/* The host TSC frequency in kHz, measured once per process (about 10 ms). */
uint32_t soft_host_tsc_khz(void);
/* The host TSC (what the guest TSC counts from). */
uint64_t soft_host_tsc(void);

/* ---- soft_vcpu.c ---- */

int soft_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
void soft_vcpu_destroy(struct accel_vcpu *vcpu);
int soft_vcpu_set_cpuid(struct accel_vcpu *vcpu, const struct cpuid_entry *entries, size_t nr);
int soft_vcpu_set_msrs(struct accel_vcpu *vcpu, const struct msr_entry *msrs, size_t nr);
int soft_vcpu_init_platform(struct accel_vcpu *vcpu);
int soft_vcpu_get_regs(struct accel_vcpu *vcpu, struct x86_regs *regs);
int soft_vcpu_set_regs(struct accel_vcpu *vcpu, const struct x86_regs *regs);
int soft_vcpu_get_sregs(struct accel_vcpu *vcpu, struct x86_sregs *sregs);
int soft_vcpu_set_sregs(struct accel_vcpu *vcpu, const struct x86_sregs *sregs);
int soft_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit);
void soft_vcpu_kick(struct accel_vcpu *vcpu);
/* Raises CPU_INT_* bits on the vCPU and wakes it if it sleeps. Any thread. */
void soft_vcpu_interrupt(struct accel_vcpu *vcpu, uint32_t cpu_int_bits);

#endif
