/* The API's configured resources: defaults, vm_config conversion, GET /vm/config. */
#include "api/resources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void api_resources_init(struct api_resources *res)
{
	memset(res, 0, sizeof(*res));
	res->machine.vcpu_count = VM_CONFIG_DEFAULT_VCPUS;
	res->machine.mem_size_mib = VM_CONFIG_DEFAULT_MEM_MIB;
}

void api_drive_fini(struct api_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void api_resources_fini(struct api_resources *res)
{
	free(res->boot.kernel_image_path);
	free(res->boot.initrd_path);
	free(res->boot.boot_args);
	for (unsigned i = 0; i < res->nr_drives; i++)
		api_drive_fini(&res->drives[i]);
	json_decref(res->logger);
	json_decref(res->metrics);
	json_decref(res->serial);
	json_decref(res->cpu_config);
	json_decref(res->mmds);
	free(res->serial_out_path);
	memset(res, 0, sizeof(*res));
}

struct api_drive *api_resources_drive(struct api_resources *res, const char *id)
{
	for (unsigned i = 0; i < res->nr_drives; i++)
		if (!strcmp(res->drives[i].drive_id, id))
			return &res->drives[i];
	return NULL;
}

/* A whole-word root= in the command line. */
static bool names_root(const char *cmdline)
{
	for (const char *p = cmdline; (p = strstr(p, "root=")); p++)
		if (p == cmdline || p[-1] == ' ')
			return true;
	return false;
}

static char *build_cmdline(const struct api_resources *res)
{
	const char *args = res->boot.boot_args ? res->boot.boot_args : API_DEFAULT_BOOT_ARGS;
	const struct api_drive *root = NULL;
	for (unsigned i = 0; i < res->nr_drives; i++)
		if (res->drives[i].is_root_device)
			root = &res->drives[i];
	if (!root || names_root(args))
		return strdup(args);
	char dev[128];
	if (root->partuuid)
		snprintf(dev, sizeof(dev), "PARTUUID=%s", root->partuuid);
	else
		snprintf(dev, sizeof(dev), "/dev/vda");
	size_t len = strlen(args) + strlen(dev) + sizeof(" root= rw");
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%s%sroot=%s %s", args, *args ? " " : "", dev,
		         root->is_read_only ? "ro" : "rw");
	return s;
}

static int add_drive(struct vm_config *cfg, const struct api_drive *d)
{
	struct vm_disk_config disk = {
	    .path = strdup(d->path_on_host),
	    .read_only = d->is_read_only,
	    /* Both cache types are the host page cache; a guest FLUSH is
	     * always an fdatasync (README: deviations). */
	    .cache = VM_DISK_CACHE_WRITEBACK,
	};
	if (!disk.path)
		return -ENOMEM;
	api_rate_limiter_to_config(&d->rate_limiter, &disk.rate_limiter);
	/* The GET_ID string: the drive id, cut to what virtio-blk holds. */
	snprintf(disk.id, sizeof(disk.id), "%s", d->drive_id);
	return vm_config_add_disk(cfg, &disk);
}

int api_resources_to_vm_config(const struct api_resources *res, struct vm_config *cfg,
                               unsigned order[API_MAX_DRIVES], char *err, size_t errlen)
{
	if (!res->boot.kernel_image_path)
		return err_set(err, errlen, -EINVAL,
		               "Cannot start microvm without kernel configuration: PUT "
		               "/boot-source first");
	cfg->kernel_path = strdup(res->boot.kernel_image_path);
	cfg->initrd_path = res->boot.initrd_path ? strdup(res->boot.initrd_path) : NULL;
	cfg->cmdline = build_cmdline(res);
	if (!cfg->kernel_path || !cfg->cmdline || (res->boot.initrd_path && !cfg->initrd_path))
		return err_set(err, errlen, -ENOMEM, "out of memory");
	cfg->nr_vcpus = res->machine.vcpu_count;
	cfg->mem_mib = res->machine.mem_size_mib;
	cfg->accel = ACCEL_KIND_KVM;

	unsigned n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < res->nr_drives; i++) {
			const struct api_drive *d = &res->drives[i];
			if (d->is_root_device != (pass == 0))
				continue;
			int r = add_drive(cfg, d);
			if (r)
				return err_set(err, errlen, r, "drive %s: %s", d->drive_id,
				               r == -ENOMEM ? "out of memory" : "too many devices");
			order[n++] = i;
		}
	}
	if (res->entropy_set) {
		if (vm_config_set_rng(cfg, 0))
			return err_set(err, errlen, -EINVAL, "entropy: too many devices");
		for (unsigned i = 0; i < cfg->nr_devices; i++)
			if (cfg->devices[i].kind == VM_DEVICE_RNG)
				api_rate_limiter_to_config(&res->entropy_rate_limiter,
				                           &cfg->devices[i].rng.rate_limiter);
	}
	return 0;
}

json_t *api_machine_config_json(const struct api_machine_config *m)
{
	json_t *obj = json_pack("{s:i,s:I,s:b,s:b,s:s}", "vcpu_count", (int)m->vcpu_count,
	                        "mem_size_mib", (json_int_t)m->mem_size_mib, "smt", m->smt,
	                        "track_dirty_pages", m->track_dirty_pages, "huge_pages", "None");
	if (obj && m->cpu_template_none)
		json_object_set_new(obj, "cpu_template", json_string("None"));
	return obj;
}

static void set_string(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

static json_t *drive_json(const struct api_drive *d)
{
	json_t *obj = json_pack("{s:s,s:s,s:b,s:b,s:s,s:s}", "drive_id", d->drive_id,
	                        "path_on_host", d->path_on_host, "is_root_device",
	                        d->is_root_device, "is_read_only", d->is_read_only, "cache_type",
	                        d->cache_type == API_CACHE_UNSAFE ? "Unsafe" : "Writeback",
	                        "io_engine", d->io_engine == API_IO_SYNC ? "Sync" : "Async");
	if (!obj)
		return NULL;
	set_string(obj, "partuuid", d->partuuid);
	if (d->rate_limiter.set)
		json_object_set_new(obj, "rate_limiter", api_rate_limiter_json(&d->rate_limiter));
	return obj;
}

static void set_copy(json_t *obj, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(obj, key, json_deep_copy(value));
}

json_t *api_resources_to_json(const struct api_resources *res)
{
	json_t *obj = json_object();
	json_t *drives = json_array();
	if (!obj || !drives) {
		json_decref(obj);
		json_decref(drives);
		return NULL;
	}
	if (res->boot.kernel_image_path) {
		json_t *boot = json_pack("{s:s}", "kernel_image_path", res->boot.kernel_image_path);
		if (boot) {
			set_string(boot, "initrd_path", res->boot.initrd_path);
			set_string(boot, "boot_args", res->boot.boot_args);
		}
		json_object_set_new(obj, "boot-source", boot);
	}
	json_object_set_new(obj, "machine-config", api_machine_config_json(&res->machine));
	for (unsigned i = 0; i < res->nr_drives; i++)
		json_array_append_new(drives, drive_json(&res->drives[i]));
	json_object_set_new(obj, "drives", drives);
	json_object_set_new(obj, "network-interfaces", json_array());
	json_object_set_new(obj, "pmem", json_array());
	if (res->entropy_set) {
		json_t *e = json_object();
		if (e && res->entropy_rate_limiter.set)
			json_object_set_new(e, "rate_limiter",
			                    api_rate_limiter_json(&res->entropy_rate_limiter));
		json_object_set_new(obj, "entropy", e);
	}
	set_copy(obj, "logger", res->logger);
	set_copy(obj, "metrics", res->metrics);
	set_copy(obj, "cpu-config", res->cpu_config);
	/* serial is not part of FullVmConfiguration in the API description. */
	return obj;
}
