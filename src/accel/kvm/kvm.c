/*
 * KVM accelerator, VM half: opening /dev/kvm, the API version and the
 * capabilities ember relies on, the VM with its in-kernel irqchip and PIT,
 * guest RAM slots, interrupts (KVM_IRQ_LINE, KVM_SIGNAL_MSI, irqfd) and
 * ioeventfds, dirty logging. See the KVM API document (api.rst) sections 4.x.
 */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel/kvm/kvm_internal.h"
#include "core/macros.h"

/* Placed in the MMIO hole, below the IOAPIC; Intel VMX needs both pages. */
#define KVM_TSS_GPA 0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_HLT, "KVM_CAP_HLT"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_PIT_STATE2, "KVM_CAP_PIT_STATE2"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
	{KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK"},
	{KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
	{KVM_CAP_TSC_DEADLINE_TIMER, "KVM_CAP_TSC_DEADLINE_TIMER"},
};

static void kick_signal_handler(int sig)
{
	(void)sig; /* its only job is to make KVM_RUN return -EINTR */
}

int kvm_available(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "/dev/kvm does not exist: load the kvm module or "
					      "enable virtualization in the firmware");
		else
			snprintf(err, errlen, "cannot open /dev/kvm: %s (is this user in the kvm group?)",
				 strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

static int kvm_vm_create(const struct accel_vm_params *params, struct accel_vm **out, char *err,
			 size_t errlen)
{
	int r = kvm_available(err, errlen);
	if (r)
		return r;
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->vm_fd = -1;
	vm->nr_vcpus = params->nr_vcpus;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
		goto fail;
	}
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, ember needs %d", version,
			 KVM_API_VERSION);
		r = -ENOTSUP;
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "this KVM lacks %s, which ember needs",
				 required_caps[i].name);
			r = -ENOTSUP;
			goto fail;
		}
	}
	int max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus > 0 && params->nr_vcpus > (unsigned)max_vcpus) {
		snprintf(err, errlen, "this KVM supports at most %d vCPUs", max_vcpus);
		r = -EINVAL;
		goto fail;
	}
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed");
		r = -EIO;
		goto fail;
	}
	vm->run_mmap_size = (size_t)mmap_size;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto fail;
	}
	uint64_t identity = KVM_IDENTITY_MAP_GPA;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		goto fail;
	}
	/* Local APICs, IOAPIC and the 8259 pair in the kernel; default GSI routing. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto fail;
	}
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		goto fail;
	}
	struct sigaction sa = {.sa_handler = kick_signal_handler}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	*out = vm;
	return 0;
fail:
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm);
	return r;
}

static void kvm_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	close(vm->vm_fd);
	close(vm->kvm_fd);
	free(vm);
}

static int kvm_map_ram(struct accel_vm *vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
		       unsigned flags)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = (flags & ACCEL_RAM_DIRTY_LOG) ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

static int kvm_supported_cpuid(struct accel_vm *vm, struct cpuid_entry *entries, size_t *nr)
{
	size_t cap = MIN(*nr, (size_t)CPUID_MAX_ENTRIES);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = (uint32_t)cap;
	int r = 0;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		r = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		entries[i] = (struct cpuid_entry){
			.function = e->function,
			.index = e->index,
			.flags = (e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ?
					 CPUID_FLAG_SIGNIFICANT_INDEX :
					 0,
			.eax = e->eax,
			.ebx = e->ebx,
			.ecx = e->ecx,
			.edx = e->edx,
		};
	}
	*nr = c->nent;
out:
	free(c);
	return r;
}

static int kvm_dirty_log(struct accel_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bitmap};
	return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -errno : 0;
}

static int kvm_irq_line(struct accel_vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

static int kvm_signal_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};
	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

static int kvm_irqfd(struct accel_vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi};
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int kvm_ioeventfd(struct accel_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio)
{
	struct kvm_ioeventfd ioev = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = pio ? KVM_IOEVENTFD_FLAG_PIO : 0,
	};
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0 ? -errno : 0;
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.map_ram = kvm_map_ram,
	.supported_cpuid = kvm_supported_cpuid,
	.dirty_log = kvm_dirty_log,
	.irq_line = kvm_irq_line,
	.signal_msi = kvm_signal_msi,
	.irqfd = kvm_irqfd,
	.ioeventfd = kvm_ioeventfd,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_set_cpuid = kvm_vcpu_set_cpuid,
	.vcpu_set_msrs = kvm_vcpu_set_msrs,
	.vcpu_init_platform = kvm_vcpu_init_platform,
	.vcpu_get_regs = kvm_vcpu_get_regs,
	.vcpu_set_regs = kvm_vcpu_set_regs,
	.vcpu_get_sregs = kvm_vcpu_get_sregs,
	.vcpu_set_sregs = kvm_vcpu_set_sregs,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
};
