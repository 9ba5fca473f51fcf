/*
 * The recipe: accelerator VM -> guest RAM -> legacy devices on the buses ->
 * virtio-mmio devices -> ACPI tables -> kernel, initrd and command line ->
 * vCPUs with CPUID, MSRs and the boot CPU's entry registers. vm_run
 * starts them.
 */
#include "vmm/builder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/msr.h"
#include "core/log.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/boot_timer.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pvpanic.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/blk/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng/rng.h"
#include "vmm/vcpu.h"

/* virtio-mmio GSIs count up from here, skipping the legacy devices' lines. */
#define VIRTIO_FIRST_GSI 5

static void accel_dma_written(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;
	vm->accel->dma_written(vm->avm, gpa, len);
}

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
	if (vm->accel->dma_written) {
		vm->mem.dma_written = accel_dma_written;
		vm->mem.dma_ctx = vm;
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

/* Firecracker puts its boot timer in the first device window, before the
 * virtio devices; guests' init programs write to that address. */
static int create_boot_timer(struct vm *vm, const struct vm_config *cfg, char *err,
			     size_t errlen)
{
	if (!cfg->boot_timer)
		return 0;
	vm->boot_timer = boot_timer_create(cfg->boot_timer_start_us, cfg->boot_timer_start_cpu_us);
	if (!vm->boot_timer)
		return err_set(err, errlen, -ENOMEM, "out of memory for the boot timer");
	int r = bus_register(&vm->mmio_bus, LAYOUT_VIRTIO_MMIO_GPA, BOOT_TIMER_SIZE,
			     boot_timer_access, vm->boot_timer, "boot-timer");
	if (r)
		return err_set(err, errlen, r, "cannot register the boot timer: %s", strerror(-r));
	vm->first_virtio_slot = 1;
	return 0;
}

/* The GSI of the index-th virtio device, 0 when the IOAPIC has no pin left. */
static uint32_t virtio_gsi(unsigned index)
{
	for (uint32_t gsi = VIRTIO_FIRST_GSI; gsi < LAYOUT_IOAPIC_PINS; gsi++) {
		if (gsi == LAYOUT_COM1_GSI || gsi == LAYOUT_RTC_GSI || gsi == LAYOUT_I8042_GSI)
			continue;
		if (index-- == 0)
			return gsi;
	}
	return 0;
}

/*
 * Puts dev behind a virtio-mmio transport: the next 4 KiB window from
 * LAYOUT_VIRTIO_MMIO_GPA, the next GSI, an LNRO0005 entry for the DSDT.
 * With the accelerator's fast paths a kick (QueueNotify) signals the VMM
 * thread without an exit to ember and an interrupt is one eventfd write;
 * without them the transport does both itself. Takes ownership of dev.
 */
static int attach_virtio(struct vm *vm, struct virtio_device *dev, const char *name,
			 struct acpi_config *acpi, char *err, size_t errlen)
{
	unsigned n = vm->nr_virtio;
	uint64_t base = LAYOUT_VIRTIO_MMIO_GPA + (vm->first_virtio_slot + n) * LAYOUT_VIRTIO_MMIO_SIZE;
	uint32_t gsi = virtio_gsi(n);
	struct virtio_mmio *m;
	int r;
	if (n >= VM_MAX_VIRTIO_DEVICES || n >= ACPI_MAX_MMIO_DEVICES || !gsi) {
		virtio_device_destroy(dev);
		snprintf(err, errlen, "too many virtio devices (%u)", n + 1);
		return -ENOSPC;
	}
	struct virtio_mmio_params params = {
		.base = base, .irq = {vm_irq_set, vm, gsi}, .loop = vm->loop};
	if ((r = virtio_mmio_create(&params, dev, &m))) {
		virtio_device_destroy(dev);
		snprintf(err, errlen, "cannot create the %s transport: %s", name, strerror(-r));
		return r;
	}
	vm->virtio[vm->nr_virtio++] = m;
	if ((r = bus_register(&vm->mmio_bus, base, LAYOUT_VIRTIO_MMIO_SIZE, virtio_mmio_access, m,
			      name))) {
		snprintf(err, errlen, "cannot register %s at %#llx: %s", name,
			 (unsigned long long)base, strerror(-r));
		return r;
	}
	/* An accelerator without the ops by design (the software CPU completes
	 * MMIO in its own loop and raises GSIs with a function call) is not
	 * missing anything: only a failing op is worth a warning. */
	const struct accel_ops *accel = vm->accel;
	if (!accel->ioeventfd || !accel->irqfd)
		log_debug("%s: accelerator %s has no %s; the transport does it itself", name,
			  accel->name, !accel->ioeventfd ? "ioeventfd" : "irqfd");
	if (accel->ioeventfd && accel->ioeventfd(vm->avm, virtio_mmio_notify_fd(m),
						 base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, false))
		log_warn("%s: no ioeventfd, queue kicks take an MMIO exit", name);
	if (accel->irqfd) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd >= 0 && accel->irqfd(vm->avm, fd, gsi) == 0) {
			virtio_mmio_set_irqfd(m, fd);
		} else {
			log_warn("%s: no irqfd, interrupts take an ioctl", name);
			if (fd >= 0)
				close(fd);
		}
	}
	acpi->mmio_devices[acpi->nr_mmio_devices++] =
		(struct acpi_mmio_device){.base = base, .size = LAYOUT_VIRTIO_MMIO_SIZE, .gsi = gsi};
	return 0;
}

/*
 * A virtio-blk device on the image vm_config_load opened and locked. The
 * device gets its own descriptor of the same open file (the OFD lock
 * belongs to the description, so it holds while either is open).
 */
static int create_blk(struct vm *vm, const struct vm_disk_config *disk, unsigned index,
		      struct virtio_device **dev, char *err, size_t errlen)
{
	const struct block_file *f = disk->file;
	int fd = f ? fcntl(f->fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0) {
		int r = f ? -errno : -EBADF;
		snprintf(err, errlen, "--disk %s: %s", disk->path, f ? strerror(-r) : "not opened");
		return r;
	}
	struct virtio_blk_params p = {
		.fd = fd,
		.capacity_bytes = f->size,
		.logical_block = f->logical_block,
		.read_only = disk->read_only,
		.direct = f->direct,
		.id = disk->id,
		.engine = BLOCK_ENGINE_AUTO,
		.rate_limiter = &disk->rate_limiter,
	};
	/* Metrics as block_<id>, or block_vda, block_vdb... without an id. */
	char vdx[4] = {'v', 'd', (char)('a' + index), '\0'};
	p.metrics_id = disk->id[0] ? disk->id : vdx;
	int r = virtio_blk_create(&p, &vm->mem, vm->loop, dev);
	if (r)
		snprintf(err, errlen, "cannot create virtio-blk for %s: %s", disk->path,
			 strerror(-r));
	return r;
}

static int create_virtio_devices(struct vm *vm, const struct vm_config *cfg,
				 struct acpi_config *acpi, char *err, size_t errlen)
{
	unsigned disks = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];
		struct virtio_device *dev = NULL;
		int r = -EINVAL;
		switch (d->kind) {
		case VM_DEVICE_RNG: {
			struct virtio_rng_params p = {
				.rate_bytes_per_sec = d->rng.rate_bytes_per_sec,
				.rate_limiter = &d->rng.rate_limiter,
			};
			if ((r = virtio_rng_create(&p, &vm->mem, vm->loop, &dev))) {
				snprintf(err, errlen, "cannot create virtio-rng: %s", strerror(-r));
				return r;
			}
			r = attach_virtio(vm, dev, "virtio-rng", acpi, err, errlen);
			break;
		}
		case VM_DEVICE_BLK:
			if ((r = create_blk(vm, &d->blk, disks++, &dev, err, errlen)))
				return r;
			r = attach_virtio(vm, dev, "virtio-blk", acpi, err, errlen);
			break;
		}
		if (r)
			return r;
	}
	return 0;
}

static int load_guest(struct vm *vm, const struct vm_config *cfg, const struct acpi_config *acpi,
		      struct boot_entry *entry, char *err, size_t errlen)
{
	struct boot_request req = {
		.kernel = cfg->kernel,
		.kernel_len = cfg->kernel_len,
		.initrd = cfg->initrd,
		.initrd_len = cfg->initrd_len,
		.cmdline = cfg->cmdline,
	};
	int r = acpi_build(&vm->mem, acpi, &req.rsdp_gpa, err, errlen);
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
	struct acpi_config acpi = {.nr_vcpus = cfg->nr_vcpus};
	*out = NULL;
	int r = vm_create(&vm);
	if (r) {
		snprintf(err, errlen, "cannot allocate the VM: %s", strerror(-r));
		return r;
	}
	vm->accel = accel;
	vm->nr_vcpus = cfg->nr_vcpus;
	struct accel_vm_params params = {.nr_vcpus = cfg->nr_vcpus, .io = vcpu_io, .io_ctx = vm};
	if ((r = accel->vm_create(&params, &vm->avm, err, errlen)))
		goto fail;
	if ((r = map_guest_ram(vm, cfg->mem_mib << 20, err, errlen)))
		goto fail;
	if ((r = create_legacy_devices(vm, err, errlen)))
		goto fail;
	if ((r = create_boot_timer(vm, cfg, err, errlen)))
		goto fail;
	if ((r = create_virtio_devices(vm, cfg, &acpi, err, errlen)))
		goto fail;
	if ((r = load_guest(vm, cfg, &acpi, &entry, err, errlen)))
		goto fail;
	if ((r = create_vcpus(vm, &entry, err, errlen)))
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r ? r : -EINVAL;
}
