/*
 * vCPU threads: one host thread per vCPU runs the accelerator until an exit
 * and dispatches it: port I/O and MMIO to the buses, shutdown and errors to
 * a VM stop with a register dump.
 */
#ifndef EMBER_VMM_VCPU_H
#define EMBER_VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "core/macros.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index;
	struct accel_vcpu *accel_vcpu;
	pthread_t thread;
	bool started;
	/* Per-vCPU counters, read only for diagnostics and metrics. */
	uint64_t exits_pio, exits_mmio;
};

int vcpu_start(struct vcpu *vcpu) must_check;
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
/*
 * accel_vm_params.io: a port or MMIO access the accelerator completes inside
 * vcpu_run (the software CPU), dispatched and counted exactly like the
 * ACCEL_EXIT_PIO/MMIO exits of the loop. vm_ctx is the struct vm. Runs on
 * the thread of vCPU vcpu_index.
 */
void vcpu_io(void *vm_ctx, unsigned vcpu_index, const struct accel_exit *exit);
/* Logs the vCPU's registers (on a crash). Only from the vCPU's own thread. */
void vcpu_dump_registers(struct vcpu *vcpu);

#endif
