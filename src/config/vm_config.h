/*
 * What a VM is made of, as the CLI (and later the API and config files)
 * describe it. vm_config_load reads and checks the files it names, so every
 * bad input is refused with one line before any VM exists.
 */
#ifndef EMBER_CONFIG_VM_CONFIG_H
#define EMBER_CONFIG_VM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/macros.h"

enum accel_kind {
	ACCEL_KIND_AUTO,
	ACCEL_KIND_KVM,
	ACCEL_KIND_SOFT,
};

#define VM_CONFIG_DEFAULT_VCPUS 1
#define VM_CONFIG_DEFAULT_MEM_MIB 128
#define VM_CONFIG_MIN_MEM_MIB 16
#define VM_CONFIG_DEFAULT_CONSOLE "console=ttyS0"

struct vm_config {
	char *kernel_path;
	char *initrd_path; /* NULL: none */
	char *cmdline;	   /* the final command line (defaults added) */
	unsigned nr_vcpus;
	uint64_t mem_mib;
	enum accel_kind accel;

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
/* Reads kernel and initrd, probes the kernel, checks everything fits. */
int vm_config_load(struct vm_config *cfg, char *err, size_t errlen) must_check;
/* The host's physical memory in bytes (MemTotal), 0 if unknown. */
uint64_t vm_config_host_memory(void);
/* Adds console=ttyS0 when the command line names no console=. Returns a
 * new string (caller frees) or NULL on allocation failure. */
char *vm_config_default_cmdline(const char *user_cmdline);

#endif
