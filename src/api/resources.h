/*
 * What a Firecracker-style client configured, in Firecracker's terms
 * (boot-source, machine-config, drives, entropy, logger, metrics, serial,
 * cpu-config, MMDS), kept until InstanceStart turns it into ember's own
 * vm_config (api_resources_to_vm_config) -- the same struct the friendly
 * CLI fills -- and reported back by GET /vm/config.
 *
 * Plain data, owned by the VMM thread (the controller); no system calls
 * except in api_resources_to_vm_config (none) -- handlers check paths.
 */
#ifndef EMBER_API_RESOURCES_H
#define EMBER_API_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api/json.h"
#include "config/vm_config.h"
#include "core/macros.h"

/* Firecracker's limits where they are stricter than ember's. */
#define API_MAX_VCPUS  32
#define API_MAX_DRIVES VM_CONFIG_MAX_DISKS

/* Firecracker's kernel command line when boot-source has no boot_args. */
#define API_DEFAULT_BOOT_ARGS                                                                      \
	"reboot=k panic=1 pci=off nomodules 8250.nr_uarts=0 i8042.noaux i8042.nomux "              \
	"i8042.nopnp i8042.dumbkbd"

enum api_cache_type { API_CACHE_UNSAFE, API_CACHE_WRITEBACK };
enum api_io_engine { API_IO_SYNC, API_IO_ASYNC };

struct api_drive {
	char *drive_id;
	char *path_on_host;
	char *partuuid; /* NULL: none */
	bool is_root_device;
	bool is_read_only;
	enum api_cache_type cache_type;
	enum api_io_engine io_engine;
	struct api_rate_limiter rate_limiter;
};

struct api_machine_config {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	bool cpu_template_none; /* "cpu_template": "None" was given */
};

struct api_boot_source {
	char *kernel_image_path; /* NULL: not configured */
	char *initrd_path;
	char *boot_args; /* NULL: API_DEFAULT_BOOT_ARGS */
};

struct api_resources {
	struct api_boot_source boot;
	struct api_machine_config machine;
	struct api_drive drives[API_MAX_DRIVES]; /* in the order they were first PUT */
	unsigned nr_drives;
	bool entropy_set;
	struct api_rate_limiter entropy_rate_limiter;
	/* Stored as the validated request bodies (GET /vm/config shows them). */
	json_t *logger, *metrics, *serial, *cpu_config;
	char *serial_out_path; /* from serial, NULL for the terminal */
	json_t *mmds;          /* the data store (an object), NULL until a PUT */
};

void api_resources_init(struct api_resources *res);
void api_resources_fini(struct api_resources *res);
void api_drive_fini(struct api_drive *d);
/* The drive with this id, or NULL. */
struct api_drive *api_resources_drive(struct api_resources *res, const char *id);

/*
 * The vm_config InstanceStart boots: kernel, initrd, the command line
 * (boot_args, or Firecracker's default, plus root=/dev/vda or
 * root=PARTUUID=... and rw/ro for the root drive unless boot_args names a
 * root=), vCPUs, memory, the drives (the root drive first, so it is
 * /dev/vda, as Firecracker orders them; then the others in order), and the
 * entropy device. order[i] receives the index in res->drives of the i-th
 * virtio device that is a disk (so post-boot updates find the device).
 * cfg must be vm_config_init'ed; the caller owns it after, on failure too.
 * 0 or -EINVAL / -ENOMEM with one line in err.
 */
int api_resources_to_vm_config(const struct api_resources *res, struct vm_config *cfg,
                               unsigned order[API_MAX_DRIVES], char *err, size_t errlen) must_check;

/* The FullVmConfiguration document of GET /vm/config (new reference). */
json_t *api_resources_to_json(const struct api_resources *res);
/* The MachineConfiguration of GET /machine-config (new reference). */
json_t *api_machine_config_json(const struct api_machine_config *m);

#endif
