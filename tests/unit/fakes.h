/*
 * Test doubles shared by the device unit tests: a VM that records stop
 * requests, and an interrupt line that records its level.
 */
#ifndef EMBER_TESTS_UNIT_FAKES_H
#define EMBER_TESTS_UNIT_FAKES_H

#include <stdint.h>

#include "vmm/irq.h"
#include "vmm/vm_control.h"

struct fake_vm {
	enum vm_stop_reason reason; /* the first request, as vm_request_stop keeps it */
	int requests;
};

static inline void fake_stop(void *ctx, enum vm_stop_reason reason)
{
	struct fake_vm *vm = ctx;
	if (vm->reason == VM_STOP_NONE)
		vm->reason = reason;
	vm->requests++;
}

static inline struct vm_control fake_vm_control(struct fake_vm *vm)
{
	return (struct vm_control){.request_stop = fake_stop, .ctx = vm};
}

struct fake_irq {
	int level;
	int calls;
	uint32_t gsi;
};

static inline void fake_irq_set(void *ctx, uint32_t gsi, int level)
{
	struct fake_irq *f = ctx;
	f->level = level;
	f->calls++;
	f->gsi = gsi;
}

static inline struct irq_line fake_irq_line(struct fake_irq *irq, uint32_t gsi)
{
	return (struct irq_line){.set = fake_irq_set, .ctx = irq, .gsi = gsi};
}

#endif
