/* vm_config: defaults, range checks and loading of the files a VM needs. */
#include "config/vm_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "backends/block.h"

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_vcpus = VM_CONFIG_DEFAULT_VCPUS;
	cfg->mem_mib = VM_CONFIG_DEFAULT_MEM_MIB;
	cfg->accel = ACCEL_KIND_AUTO;
}

void vm_config_fini(struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		if (cfg->devices[i].kind == VM_DEVICE_BLK) {
			free(cfg->devices[i].blk.path);
			block_file_close(cfg->devices[i].blk.file);
		}
	}
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->cmdline);
	free(cfg->kernel);
	free(cfg->initrd);
	memset(cfg, 0, sizeof(*cfg));
}

void vm_config_drop_images(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	cfg->kernel = cfg->initrd = NULL;
	cfg->kernel_len = cfg->initrd_len = 0;
}

uint64_t vm_config_host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGE_SIZE);
	if (pages <= 0 || page_size <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)page_size;
}

int vm_config_check(const struct vm_config *cfg, uint64_t host_mem_bytes, char *err, size_t errlen)
{
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > LAYOUT_MAX_VCPUS) {
		snprintf(err, errlen, "--cpus must be between 1 and %d (got %u)", LAYOUT_MAX_VCPUS,
			 cfg->nr_vcpus);
		return -EINVAL;
	}
	if (cfg->mem_mib < VM_CONFIG_MIN_MEM_MIB) {
		snprintf(err, errlen, "--memory must be at least %d MiB (got %llu)",
			 VM_CONFIG_MIN_MEM_MIB, (unsigned long long)cfg->mem_mib);
		return -EINVAL;
	}
	uint64_t host_mib = host_mem_bytes >> 20;
	if (host_mib && cfg->mem_mib > host_mib) {
		snprintf(err, errlen, "--memory %llu MiB is more than this host has (%llu MiB)",
			 (unsigned long long)cfg->mem_mib, (unsigned long long)host_mib);
		return -EINVAL;
	}
	if (!cfg->kernel_path) {
		snprintf(err, errlen, "--kernel is required");
		return -EINVAL;
	}
	unsigned roots = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];
		if (d->kind == VM_DEVICE_RNG && d->rng.rate_bytes_per_sec > VM_CONFIG_MAX_RNG_RATE) {
			snprintf(err, errlen, "--rng: at most %llu bytes per second",
				 (unsigned long long)VM_CONFIG_MAX_RNG_RATE);
			return -EINVAL;
		}
		if (d->kind == VM_DEVICE_BLK && d->blk.root && ++roots > 1) {
			snprintf(err, errlen, "--disk: only one disk can be root");
			return -EINVAL;
		}
		char why[128];
		const struct rate_limiter_config *rl =
			d->kind == VM_DEVICE_BLK ? &d->blk.rate_limiter : &d->rng.rate_limiter;
		if (rate_limiter_config_check(rl, why, sizeof(why))) {
			snprintf(err, errlen, "%s: rate limiter: %s",
				 d->kind == VM_DEVICE_BLK ? "--disk" : "--rng", why);
			return -EINVAL;
		}
	}
	return 0;
}

int vm_config_add_device(struct vm_config *cfg, const struct vm_device_config *dev)
{
	if (cfg->nr_devices >= VM_CONFIG_MAX_DEVICES)
		return -ENOSPC;
	cfg->devices[cfg->nr_devices++] = *dev;
	return 0;
}

int vm_config_add_disk(struct vm_config *cfg, struct vm_disk_config *disk)
{
	unsigned disks = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		disks += cfg->devices[i].kind == VM_DEVICE_BLK;
	struct vm_device_config d = {.kind = VM_DEVICE_BLK, .blk = *disk};
	int r = disks >= VM_CONFIG_MAX_DISKS ? -ENOSPC : vm_config_add_device(cfg, &d);
	if (r)
		free(disk->path);
	disk->path = NULL;
	return r;
}

int vm_config_set_rng(struct vm_config *cfg, uint64_t rate_bytes_per_sec)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		if (cfg->devices[i].kind == VM_DEVICE_RNG) {
			cfg->devices[i].rng.rate_bytes_per_sec = rate_bytes_per_sec;
			return 0;
		}
	}
	struct vm_device_config rng = {.kind = VM_DEVICE_RNG,
				       .rng.rate_bytes_per_sec = rate_bytes_per_sec};
	return vm_config_add_device(cfg, &rng);
}

/* Reads a whole regular file; max bounds what we accept. */
static int read_file(const char *what, const char *path, uint64_t max, uint8_t **data, size_t *len,
		     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s %s: %lld bytes is larger than the %llu MiB of guest RAM",
			 what, path, (long long)st.st_size, (unsigned long long)(max >> 20));
		r = -EFBIG;
		goto out;
	}
	*len = (size_t)st.st_size;
	*data = malloc(*len ? *len : 1);
	if (!*data) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		goto out;
	}
	size_t done = 0;
	while (done < *len) {
		ssize_t n = read(fd, *data + done, *len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s %s: read failed: %s", what, path,
				 n < 0 ? strerror(errno) : "file shrank");
			r = -EIO;
			goto out;
		}
		done += (size_t)n;
	}
out:
	close(fd);
	return r;
}

/* One image listed twice, writable at least once, would be two writers
 * (and our own OFD lock would call it "locked by another process"). */
static int check_duplicate_disks(const struct vm_config *cfg, char *err, size_t errlen)
{
	struct stat st[VM_CONFIG_MAX_DEVICES];
	bool known[VM_CONFIG_MAX_DEVICES] = {false};
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct vm_device_config *a = &cfg->devices[i];
		if (a->kind != VM_DEVICE_BLK || stat(a->blk.path, &st[i]))
			continue; /* opening it reports the error */
		known[i] = true;
		for (unsigned j = 0; j < i; j++) {
			const struct vm_device_config *b = &cfg->devices[j];
			if (!known[j] || st[i].st_dev != st[j].st_dev || st[i].st_ino != st[j].st_ino)
				continue;
			if (a->blk.read_only && b->blk.read_only)
				continue;
			snprintf(err, errlen,
				 "--disk %s: the same image as --disk %s; a writable image can be "
				 "attached once",
				 a->blk.path, b->blk.path);
			return -EINVAL;
		}
	}
	return 0;
}

static int open_disks(struct vm_config *cfg, char *err, size_t errlen)
{
	int r = check_duplicate_disks(cfg, err, errlen);
	for (unsigned i = 0; !r && i < cfg->nr_devices; i++) {
		struct vm_disk_config *d = &cfg->devices[i].blk;
		if (cfg->devices[i].kind != VM_DEVICE_BLK || d->file)
			continue;
		r = block_file_open(d->path, d->read_only, d->cache == VM_DISK_CACHE_NONE, &d->file,
				    err, errlen);
	}
	return r;
}

/* A whole-word key= in the command line. */
static bool cmdline_has(const char *cmdline, const char *key)
{
	for (const char *p = cmdline; p && (p = strstr(p, key)); p++)
		if (p == cmdline || p[-1] == ' ')
			return true;
	return false;
}

/* root=/dev/vdX for the root disk, X by its place among the disks, unless
 * the command line names a root already. */
static int add_root_arg(struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned index = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];
		if (d->kind != VM_DEVICE_BLK)
			continue;
		if (!d->blk.root) {
			index++;
			continue;
		}
		if (cmdline_has(cfg->cmdline, "root="))
			return 0;
		const char *old = cfg->cmdline ? cfg->cmdline : "";
		size_t len = strlen(old) + sizeof(" root=/dev/vda");
		char *s = malloc(len);
		if (!s) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		snprintf(s, len, "%s%sroot=/dev/vd%c", old, *old ? " " : "", 'a' + (int)index);
		free(cfg->cmdline);
		cfg->cmdline = s;
		return 0;
	}
	return 0;
}

int vm_config_load(struct vm_config *cfg, char *err, size_t errlen)
{
	uint64_t ram = cfg->mem_mib << 20;
	int r = read_file("kernel", cfg->kernel_path, ram, &cfg->kernel, &cfg->kernel_len, err,
			  errlen);
	if (r)
		return r;
	char why[200];
	if (boot_probe_kernel(cfg->kernel, cfg->kernel_len, &cfg->kernel_info, why,
			      sizeof(why))) {
		snprintf(err, errlen, "%s: %s", cfg->kernel_path, why);
		return -EINVAL;
	}
	if (cfg->initrd_path) {
		r = read_file("initrd", cfg->initrd_path, ram, &cfg->initrd, &cfg->initrd_len, err,
			      errlen);
		if (r)
			return r;
	}
	if ((r = open_disks(cfg, err, errlen)) || (r = add_root_arg(cfg, err, errlen)))
		return r;
	if (boot_check_fit(&cfg->kernel_info, ram, cfg->initrd_len,
			   cfg->cmdline ? strlen(cfg->cmdline) : 0, err, errlen))
		return -EINVAL;
	return 0;
}

char *vm_config_default_cmdline(const char *user)
{
	if (!user || !*user)
		return strdup(VM_CONFIG_DEFAULT_CONSOLE);
	/* A console= anywhere as a whole word means the user chose one. */
	for (const char *p = user; (p = strstr(p, "console=")); p++)
		if (p == user || p[-1] == ' ')
			return strdup(user);
	size_t len = strlen(VM_CONFIG_DEFAULT_CONSOLE) + 1 + strlen(user) + 1;
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%s %s", VM_CONFIG_DEFAULT_CONSOLE, user);
	return s;
}
