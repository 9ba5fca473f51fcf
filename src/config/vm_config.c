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

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_vcpus = VM_CONFIG_DEFAULT_VCPUS;
	cfg->mem_mib = VM_CONFIG_DEFAULT_MEM_MIB;
	cfg->accel = ACCEL_KIND_AUTO;
}

void vm_config_fini(struct vm_config *cfg)
{
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->cmdline);
	free(cfg->kernel);
	free(cfg->initrd);
	memset(cfg, 0, sizeof(*cfg));
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
	return 0;
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
