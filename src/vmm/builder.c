/*
 * The recipe: accelerator VM -> guest RAM -> legacy devices on the buses ->
 * ACPI tables -> kernel, initrd and command line -> vCPUs with CPUID, MSRs
 * and the boot CPU's entry registers. vm_run starts them.
 */
#include "vmm/builder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/msr.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pvpanic.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "vmm/vcpu.h"

static int map_guest_ram(struct vm *vm, uint64_t ram_size, char *err, size_t errlen)
{
	int r = guest_memory_init(&vm->mem, ram_size);
	if (r) {
		snprintf(err, errlen, "cannot map %llu MiB of guest RAM: %s",
			 (unsigned long long)(ram_size >> 20), strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *region = &vm->mem.regions[i];
		r = vm->accel->map_ram(vm->avm, i, region->gpa, region->hva, region->size, 0);
		if (r) {
			snprintf(err, errlen, "cannot map guest RAM slot %u: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int attach(struct vm *vm, uint64_t port, uint64_t len, bus_access_fn fn, void *dev,
		  const char *name, char *err, size_t errlen)
{
	if (!dev) {
		snprintf(err, errlen, "cannot create device %s", name);
		return -ENOMEM;
	}
	int r = bus_register(&vm->pio_bus, port, len, fn, dev, name);
	if (r)
		snprintf(err, errlen, "cannot register %s at port %#llx: %s", name,
			 (unsigned long long)port, strerror(-r));
	return r;
}

static int create_legacy_devices(struct vm *vm, char *err, size_t errlen)
{
	struct irq_line com1_irq = {vm_irq_set, vm, LAYOUT_COM1_GSI};
	struct irq_line kbd_irq = {vm_irq_set, vm, LAYOUT_I8042_GSI};
	struct irq_line rtc_irq = {vm_irq_set, vm, LAYOUT_RTC_GSI};
	int r;

	vm->serial = serial_create(&com1_irq, STDOUT_FILENO);
	if ((r = attach(vm, LAYOUT_COM1_PORT, SERIAL_PORT_COUNT, serial_access, vm->serial,
			"serial (COM1)", err, errlen)))
		return r;
	vm->i8042 = i8042_create(&vm->control, &kbd_irq);
	if ((r = attach(vm, LAYOUT_I8042_DATA_PORT, I8042_PORT_COUNT, i8042_access, vm->i8042,
			"i8042", err, errlen)))
		return r;
	vm->rtc = rtc_create(&rtc_irq, NULL, vm->mem.ram_size);
	if ((r = attach(vm, LAYOUT_RTC_PORT, RTC_PORT_COUNT, rtc_access, vm->rtc, "rtc", err,
			errlen)))
		return r;
	vm->acpi_pm = acpi_pm_create(&vm->control);
	if ((r = attach(vm, LAYOUT_ACPI_SLEEP_CTL_PORT, ACPI_PM_PORT_COUNT, acpi_pm_access,
			vm->acpi_pm, "acpi-pm", err, errlen)))
		return r;
	vm->pvpanic = pvpanic_create(&vm->control);
	return attach(vm, PVPANIC_PORT, 1, pvpanic_access, vm->pvpanic, "pvpanic", err, errlen);
}

static int load_guest(struct vm *vm, const struct vm_config *cfg, struct boot_entry *entry,
		      char *err, size_t errlen)
{
	struct acpi_config acpi = {.nr_vcpus = cfg->nr_vcpus};
	struct boot_request req = {
		.kernel = cfg->kernel,
		.kernel_len = cfg->kernel_len,
		.initrd = cfg->initrd,
		.initrd_len = cfg->initrd_len,
		.cmdline = cfg->cmdline,
	};
	int r = acpi_build(&vm->mem, &acpi, &req.rsdp_gpa, err, errlen);
	if (r)
		return r;
	return boot_load(&vm->mem, &req, entry, err, errlen);
}

static int create_vcpus(struct vm *vm, const struct boot_entry *entry, char *err, size_t errlen)
{
	const struct accel_ops *accel = vm->accel;
	struct cpuid_entry *supported = calloc(2, CPUID_MAX_ENTRIES * sizeof(*supported));
	if (!supported)
		return -ENOMEM;
	struct cpuid_entry *cpuid = supported + CPUID_MAX_ENTRIES;
	size_t nr_supported = CPUID_MAX_ENTRIES;
	struct msr_entry msrs[16];
	size_t nr_msrs = msr_boot_list(msrs, ARRAY_SIZE(msrs));
	int r = accel->supported_cpuid(vm->avm, supported, &nr_supported);
	if (r) {
		snprintf(err, errlen, "cannot read the supported CPUID: %s", strerror(-r));
		goto out;
	}
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		size_t nr_cpuid = 0;
		vcpu->vm = vm;
		vcpu->index = i;
		const char *step = "create";
		if ((r = accel->vcpu_create(vm->avm, i, &vcpu->accel_vcpu)))
			goto vcpu_failed;
		step = "normalise CPUID for";
		if ((r = cpuid_normalize(supported, nr_supported, i, vm->nr_vcpus, cpuid,
					 &nr_cpuid)))
			goto vcpu_failed;
		step = "set CPUID of";
		if ((r = accel->vcpu_set_cpuid(vcpu->accel_vcpu, cpuid, nr_cpuid)))
			goto vcpu_failed;
		step = "set MSRs of";
		if ((r = accel->vcpu_set_msrs(vcpu->accel_vcpu, msrs, nr_msrs)))
			goto vcpu_failed;
		step = "initialise FPU/LAPIC of";
		if ((r = accel->vcpu_init_platform(vcpu->accel_vcpu)))
			goto vcpu_failed;
		/* Application processors wait in the in-kernel LAPIC for INIT/SIPI. */
		if (i == 0) {
			step = "set entry registers of";
			if ((r = accel->vcpu_set_sregs(vcpu->accel_vcpu, &entry->sregs)) ||
			    (r = accel->vcpu_set_regs(vcpu->accel_vcpu, &entry->regs)))
				goto vcpu_failed;
		}
		continue;
vcpu_failed:
		snprintf(err, errlen, "cannot %s vcpu %u: %s", step, i, strerror(-r));
		goto out;
	}
out:
	free(supported);
	return r;
}

int builder_build(const struct vm_config *cfg, const struct accel_ops *accel, struct vm **out,
		  char *err, size_t errlen)
{
	struct vm *vm;
	struct boot_entry entry;
	*out = NULL;
	int r = vm_create(&vm);
	if (r) {
		snprintf(err, errlen, "cannot allocate the VM: %s", strerror(-r));
		return r;
	}
	vm->accel = accel;
	vm->nr_vcpus = cfg->nr_vcpus;
	struct accel_vm_params params = {.nr_vcpus = cfg->nr_vcpus};
	if ((r = accel->vm_create(&params, &vm->avm, err, errlen)))
		goto fail;
	if ((r = map_guest_ram(vm, cfg->mem_mib << 20, err, errlen)))
		goto fail;
	if ((r = create_legacy_devices(vm, err, errlen)))
		goto fail;
	if ((r = load_guest(vm, cfg, &entry, err, errlen)))
		goto fail;
	if ((r = create_vcpus(vm, &entry, err, errlen)))
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r ? r : -EINVAL;
}
