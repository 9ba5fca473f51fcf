/*
 * What a VM is made of, as the CLI (and later the API and config files)
 * describe it. vm_config_load reads and checks the files it names, so every
 * bad input is refused with one line before any VM exists.
 */
#ifndef EMBER_CONFIG_VM_CONFIG_H
#define EMBER_CONFIG_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/macros.h"
#include "core/rate_limiter.h"

enum accel_kind {
	ACCEL_KIND_AUTO,
	ACCEL_KIND_KVM,
	ACCEL_KIND_SOFT,
};

#define VM_CONFIG_DEFAULT_VCPUS 1
#define VM_CONFIG_DEFAULT_MEM_MIB 128
#define VM_CONFIG_MIN_MEM_MIB 16
#define VM_CONFIG_DEFAULT_CONSOLE "console=ttyS0"

/* Paravirtual (virtio-mmio) devices, attached in list order. */
enum vm_device_kind {
	VM_DEVICE_RNG,
	VM_DEVICE_BLK,
};

#define VM_CONFIG_MAX_DEVICES 16
#define VM_CONFIG_MAX_RNG_RATE (UINT64_C(1) << 30) /* bytes per second */
#define VM_CONFIG_MAX_DISKS 8
#define VM_DISK_ID_MAX 20 /* the virtio-blk GET_ID string */

enum vm_disk_cache {
	VM_DISK_CACHE_WRITEBACK, /* the host page cache; FLUSH is fdatasync */
	VM_DISK_CACHE_NONE,      /* O_DIRECT */
};

struct block_file;

/* A virtio-blk drive. Disks appear to Linux as /dev/vda, vdb... in the
 * order they are listed (the DSDT lists virtio-mmio devices in creation
 * order, and the driver names disks in probe order). */
struct vm_disk_config {
	char *path;
	char id[VM_DISK_ID_MAX + 1]; /* "" for none */
	bool read_only;
	bool root; /* add root=/dev/vdX to the command line */
	enum vm_disk_cache cache;
	/* Firecracker's RateLimiter (--disk ...,bw=,iops=); all zero: no limit. */
	struct rate_limiter_config rate_limiter;
	struct block_file *file; /* opened and locked by vm_config_load */
};

struct vm_device_config {
	enum vm_device_kind kind;
	union {
		struct {
			uint64_t rate_bytes_per_sec; /* 0: no limit */
			/* PUT /entropy's rate_limiter; used instead of the
			 * rate when it has an enabled bucket. */
			struct rate_limiter_config rate_limiter;
		} rng;
		struct vm_disk_config blk;
	};
};

struct vm_config {
	char *kernel_path;
	char *initrd_path; /* NULL: none */
	char *cmdline;	   /* the final command line (defaults added) */
	unsigned nr_vcpus;
	uint64_t mem_mib;
	enum accel_kind accel;
	struct vm_device_config devices[VM_CONFIG_MAX_DEVICES];
	unsigned nr_devices;
	/* Firecracker's --boot-timer: log the guest's boot-complete signal,
	 * timed from these CLOCK_MONOTONIC / process CPU times (us). */
	bool boot_timer;
	uint64_t boot_timer_start_us, boot_timer_start_cpu_us;

	/* Filled by vm_config_load. */
	uint8_t *kernel;
	size_t kernel_len;
	uint8_t *initrd;
	size_t initrd_len;
	struct kernel_info kernel_info;
};

void vm_config_init(struct vm_config *cfg);
void vm_config_fini(struct vm_config *cfg);
/* Range checks that need no files: vCPUs, memory against host_mem_bytes. */
int vm_config_check(const struct vm_config *cfg, uint64_t host_mem_bytes, char *err,
		    size_t errlen) must_check;
/* Appends a device; -ENOSPC past VM_CONFIG_MAX_DEVICES. */
int vm_config_add_device(struct vm_config *cfg, const struct vm_device_config *dev) must_check;
/* The entropy device: sets the rate of the one already listed, or adds one. */
int vm_config_set_rng(struct vm_config *cfg, uint64_t rate_bytes_per_sec) must_check;
/* Appends a disk, taking disk->path (freed on failure too); -ENOSPC
 * past VM_CONFIG_MAX_DISKS or VM_CONFIG_MAX_DEVICES. */
int vm_config_add_disk(struct vm_config *cfg, struct vm_disk_config *disk) must_check;
/* Reads kernel and initrd, probes the kernel, opens and locks the disks
 * (refusing one writable image listed twice), adds root=/dev/vdX for a
 * root disk, checks everything fits. */
int vm_config_load(struct vm_config *cfg, char *err, size_t errlen) must_check;
/* Frees the kernel and initrd bytes once they are in guest memory: the VMM
 * would otherwise carry a copy of both (megabytes) for the VM's life. */
void vm_config_drop_images(struct vm_config *cfg);
/* The host's physical memory in bytes (MemTotal), 0 if unknown. */
uint64_t vm_config_host_memory(void);
/* Adds console=ttyS0 when the command line names no console=. Returns a
 * new string (caller frees) or NULL on allocation failure. */
char *vm_config_default_cmdline(const char *user_cmdline);

#endif
