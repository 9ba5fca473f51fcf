/*
 * The software accelerator, VM half (accel_soft.h): the physical map the
 * vCPUs' soft MMUs share, the interrupt/timer platform, the guest TSC's
 * frequency and epoch, the CPUID table, GSIs and MSIs. The vCPU half is
 * soft_vcpu.c.
 */
#include "accel/soft/accel_soft.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/lockstep.h"
#include "accel/soft/physmap.h"
#include "accel/soft/sysmem.h"
#include "accel/soft/platform/platform.h"
#include "accel/soft/soft_cpuid.h"
#include "accel/soft/soft_internal.h"
#include "core/log.h"

/* ---- the platform's way back to the vCPUs ---- */

static uint32_t cpu_bits(uint32_t platform_bits)
{
	uint32_t bits = 0;
	if (platform_bits & PLATFORM_INT_EXTERNAL)
		bits |= CPU_INT_EXTERNAL;
	if (platform_bits & PLATFORM_INT_NMI)
		bits |= CPU_INT_NMI;
	/* INIT resets the LAPIC too, on the vCPU's thread: soft_vcpu.c takes it
	 * from init_pending after cpu_run returned. */
	if (platform_bits & PLATFORM_INT_INIT)
		bits |= CPU_INT_EXIT;
	if (platform_bits & PLATFORM_INT_SIPI)
		bits |= CPU_INT_SIPI;
	/* A timer reprogrammed by another thread: leave cpu_run so the loop
	 * looks at the deadline again (and wake a sleeper for the same reason). */
	if (platform_bits & PLATFORM_INT_TIMER)
		bits |= CPU_INT_EXIT;
	return bits;
}

static void platform_kick(void *ctx, unsigned index, uint32_t platform_bits)
{
	struct accel_vm *vm = ctx;
	if (index >= vm->nr_vcpus)
		return;
	struct accel_vcpu *vcpu = atomic_load(&vm->vcpus[index]);
	/* Before vcpu_create the request stays in the LAPIC; the new vCPU
	 * starts with CPU_INT_EXTERNAL set to look at it. */
	if (!vcpu)
		return;
	if (platform_bits & PLATFORM_INT_INIT)
		atomic_store(&vcpu->init_pending, true);
	if (platform_bits & PLATFORM_INT_SIPI)
		vcpu->cpu.sipi_vector = platform_sipi_vector(vm->platform, index);
	soft_vcpu_interrupt(vcpu, cpu_bits(platform_bits));
}

static uint64_t platform_now(void *ctx)
{
	return soft_now_ns();
}

static uint64_t platform_guest_tsc(void *ctx, unsigned index)
{
	struct accel_vm *vm = ctx;
	struct accel_vcpu *vcpu = index < vm->nr_vcpus ? atomic_load(&vm->vcpus[index]) : NULL;
	uint64_t offset = vcpu ? vcpu->cpu.tsc_offset : -vm->tsc_epoch;
	return soft_host_tsc() + offset;
}

/* ---- accel_ops, VM half ---- */

static void soft_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	/* After the vCPU threads ended: flushes and closes an EMBER_SOFT_TRACE. */
	lockstep_trace_disable();
	platform_destroy(vm->platform);
	physmap_destroy(vm->physmap);
	free(vm->vcpus);
	free(vm);
}

static int soft_vm_create(const struct accel_vm_params *params, struct accel_vm **out, char *err,
                          size_t errlen)
{
	if (params->nr_vcpus == 0 || params->nr_vcpus > PHYSMAP_MAX_CPUS ||
	    params->nr_vcpus > PLATFORM_MAX_CPUS) {
		snprintf(err, errlen, "the software CPU runs 1 to %d vCPUs", PHYSMAP_MAX_CPUS);
		return -EINVAL;
	}
	if (!params->io) {
		snprintf(err, errlen, "the software CPU needs the VMM's io callback");
		return -EINVAL;
	}
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	/* The lockstep trace (docs/lockstep.md), when EMBER_SOFT_TRACE asks for
	 * one; it printed its own error line. */
	if (lockstep_trace_enable_from_env()) {
		soft_vm_destroy(vm);
		snprintf(err, errlen, "EMBER_SOFT_TRACE is not usable (see above)");
		return -EINVAL;
	}
	vm->nr_vcpus = params->nr_vcpus;
	vm->io = params->io;
	vm->io_ctx = params->io_ctx;
	vm->tsc_khz = soft_host_tsc_khz();
	vm->tsc_epoch = soft_host_tsc();
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	vm->physmap = physmap_create();
	struct platform_callbacks cb = {
	    .kick = platform_kick,
	    .now_ns = platform_now,
	    .guest_tsc = platform_guest_tsc,
	    .ctx = vm,
	};
	if (vm->vcpus && vm->physmap)
		vm->platform = platform_create(vm->nr_vcpus, vm->tsc_khz, &cb);
	if (!vm->platform) {
		soft_vm_destroy(vm);
		snprintf(err, errlen, "the software CPU: out of memory");
		return -ENOMEM;
	}
	log_debug("software CPU: %u vCPUs, TSC %u kHz", vm->nr_vcpus, vm->tsc_khz);
	*out = vm;
	return 0;
}

static int soft_map_ram(struct accel_vm *vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
                        unsigned flags)
{
	/* Dirty logging needs write tracking in the soft MMU: not yet. */
	if (flags & ACCEL_RAM_DIRTY_LOG)
		return -EOPNOTSUPP;
	return physmap_add_ram(vm->physmap, gpa, size, hva);
}

static int soft_supported_cpuid(struct accel_vm *vm, struct cpuid_entry *entries, size_t *nr)
{
	struct soft_cpuid_config cfg = {
	    .tsc_khz = vm->tsc_khz,
	    .apic_timer_hz = PLATFORM_LAPIC_TIMER_HZ,
	    .x2apic = true,
	    .tsc_deadline = true,
	    .gbpages = true,
	};
	return soft_cpuid_table(&cfg, entries, nr);
}

static void soft_dma_written(struct accel_vm *vm, uint64_t gpa, uint64_t len)
{
	sysmem_dma_written(vm->physmap, gpa, len);
}

static int soft_dirty_log(struct accel_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	return -EOPNOTSUPP;
}

static int soft_irq_line(struct accel_vm *vm, uint32_t gsi, int level)
{
	platform_set_irq(vm->platform, gsi, level);
	return 0;
}

static int soft_signal_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	platform_msi(vm->platform, addr, data);
	return 0;
}

const struct accel_ops accel_soft_ops = {
    .name = "soft",
    .vm_create = soft_vm_create,
    .vm_destroy = soft_vm_destroy,
    .map_ram = soft_map_ram,
    .supported_cpuid = soft_supported_cpuid,
    .dma_written = soft_dma_written,
    .dirty_log = soft_dirty_log,
    .irq_line = soft_irq_line,
    .signal_msi = soft_signal_msi,
    /* No irqfd/ioeventfd: a GSI is a function call, and a queue kick
     * already reaches the VMM thread through the transport's eventfd. */
    .vcpu_create = soft_vcpu_create,
    .vcpu_destroy = soft_vcpu_destroy,
    .vcpu_set_cpuid = soft_vcpu_set_cpuid,
    .vcpu_set_msrs = soft_vcpu_set_msrs,
    .vcpu_init_platform = soft_vcpu_init_platform,
    .vcpu_get_regs = soft_vcpu_get_regs,
    .vcpu_set_regs = soft_vcpu_set_regs,
    .vcpu_get_sregs = soft_vcpu_get_sregs,
    .vcpu_set_sregs = soft_vcpu_set_sregs,
    .vcpu_run = soft_vcpu_run,
    .vcpu_kick = soft_vcpu_kick,
};
