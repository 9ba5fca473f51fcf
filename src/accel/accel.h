/*
 * The accelerator interface: what ember needs from "something that runs
 * vCPUs". KVM implements it today (accel/kvm/); the software CPU implements
 * it too (accel/soft/). Devices, the I/O bus and the boot code never call
 * an accelerator directly: vmm/ does, through this table.
 *
 * Threads: vm_* and map_ram are called from the VMM thread before vCPUs
 * run (dirty_log also while they run). vcpu_run and the vcpu get/set calls
 * are made only by the vCPU's own thread once it started. vcpu_kick,
 * irq_line and signal_msi may be called from any thread.
 * Errors: 0 or -errno.
 */
#ifndef EMBER_ACCEL_ACCEL_H
#define EMBER_ACCEL_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"

struct accel_vm;
struct accel_vcpu;

enum accel_exit_reason {
	ACCEL_EXIT_PIO,		/* port I/O: forward to the PIO bus */
	ACCEL_EXIT_MMIO,	/* access to guest-physical memory that is not RAM */
	ACCEL_EXIT_HALT,	/* HLT with nothing pending (only without in-kernel irqchip) */
	ACCEL_EXIT_SHUTDOWN,	/* triple fault */
	ACCEL_EXIT_RESET,	/* the platform asked for a reset */
	ACCEL_EXIT_POWEROFF,	/* the platform asked for power off */
	ACCEL_EXIT_INTERRUPTED, /* vcpu_kick or a signal: check the VM's state */
	ACCEL_EXIT_ERROR,	/* entry failure, internal error: the vCPU cannot go on */
};

struct accel_exit {
	enum accel_exit_reason reason;
	union {
		/* count > 1 for string I/O (rep ins/outs): data holds count*size bytes. */
		struct {
			uint16_t port;
			uint8_t size;
			bool is_write;
			uint32_t count;
			uint8_t *data;
		} pio;
		struct {
			uint64_t gpa;
			uint8_t size;
			bool is_write;
			uint8_t *data; /* 8 bytes; reads are filled by the bus */
		} mmio;
		struct {
			const char *what; /* static text naming the failure */
			uint64_t code;	  /* accelerator-specific reason code */
		} error;
	};
};

struct accel_vm_params {
	unsigned nr_vcpus;
	/*
	 * Device accesses completed inside vcpu_run: an accelerator that
	 * emulates the CPU itself (the software CPU) cannot return from
	 * vcpu_run in the middle of an instruction, so instead of an
	 * ACCEL_EXIT_PIO/MMIO exit it calls io with an exit of that shape
	 * (pio.count is 1, pio.data/mmio.data point at the operand) and
	 * continues with the data a read filled in. Called on the vCPU's
	 * thread, from inside vcpu_run. KVM never calls it (NULL is allowed
	 * for accelerators that exit instead). io_ctx is passed back as is.
	 */
	void (*io)(void *io_ctx, unsigned vcpu_index, const struct accel_exit *exit);
	void *io_ctx;
};

#define ACCEL_RAM_DIRTY_LOG 1u

struct accel_ops {
	const char *name;

	int (*vm_create)(const struct accel_vm_params *params, struct accel_vm **out, char *err,
			 size_t errlen);
	void (*vm_destroy)(struct accel_vm *vm);
	/* Maps [gpa, gpa+size) of the guest to host memory at hva. */
	int (*map_ram)(struct accel_vm *vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
		       unsigned flags);
	/* Fills entries with what this accelerator can expose; *nr in: capacity, out: count. */
	int (*supported_cpuid)(struct accel_vm *vm, struct cpuid_entry *entries, size_t *nr);
	/* Optional: the VMM or a device wrote guest RAM [gpa, gpa+len) behind
	 * the vCPUs' backs (virtio DMA). The software CPU drops code it decoded
	 * from there; hardware needs nothing (NULL). Any thread. */
	void (*dma_written)(struct accel_vm *vm, uint64_t gpa, uint64_t len);
	/* Reads and clears the dirty bitmap (one bit per 4 KiB page) of a slot. */
	int (*dirty_log)(struct accel_vm *vm, uint32_t slot, uint64_t *bitmap);
	int (*irq_line)(struct accel_vm *vm, uint32_t gsi, int level);
	int (*signal_msi)(struct accel_vm *vm, uint64_t addr, uint32_t data);
	/* Optional fast paths (NULL when absent): an eventfd that raises gsi
	 * when written, and one that is written when the guest writes addr. */
	int (*irqfd)(struct accel_vm *vm, int fd, uint32_t gsi);
	int (*ioeventfd)(struct accel_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio);

	int (*vcpu_create)(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
	void (*vcpu_destroy)(struct accel_vcpu *vcpu);
	int (*vcpu_set_cpuid)(struct accel_vcpu *vcpu, const struct cpuid_entry *entries, size_t nr);
	int (*vcpu_set_msrs)(struct accel_vcpu *vcpu, const struct msr_entry *msrs, size_t nr);
	/* FPU/SSE state as after reset (FCW 0x37f, MXCSR 0x1f80), local APIC
	 * LINT0 = ExtINT and LINT1 = NMI as firmware leaves them. */
	int (*vcpu_init_platform)(struct accel_vcpu *vcpu);
	int (*vcpu_get_regs)(struct accel_vcpu *vcpu, struct x86_regs *regs);
	int (*vcpu_set_regs)(struct accel_vcpu *vcpu, const struct x86_regs *regs);
	int (*vcpu_get_sregs)(struct accel_vcpu *vcpu, struct x86_sregs *sregs);
	int (*vcpu_set_sregs)(struct accel_vcpu *vcpu, const struct x86_sregs *sregs);
	/* Runs until the next exit the VMM must handle; fills *exit. The
	 * pio/mmio data pointers stay valid until the next vcpu_run. */
	int (*vcpu_run)(struct accel_vcpu *vcpu, struct accel_exit *exit);
	/* Makes a running or about-to-run vcpu_run return ACCEL_EXIT_INTERRUPTED. */
	void (*vcpu_kick)(struct accel_vcpu *vcpu);
};

#endif
