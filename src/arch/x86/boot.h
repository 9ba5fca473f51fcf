/*
 * Loading a kernel the way firmware would.
 *
 * bzImage: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst):
 * the setup header is checked (magic "HdrS", protocol >= 2.06, a 64-bit
 * entry in xloadflags), the protected-mode part is loaded at 1 MiB, the
 * zero page (struct boot_params) gets a copy of the setup header, the
 * command line, the initrd (top of low RAM, below initrd_addr_max), the
 * e820 map and the RSDP address; the boot CPU enters at load address +
 * 0x200 in 64-bit mode with RSI pointing at the zero page.
 *
 * PVH: an ELF vmlinux with a XEN_ELFNOTE_PHYS32_ENTRY note: PT_LOAD
 * segments at their physical addresses, a struct hvm_start_info (version 1,
 * with command line, one module for the initrd, memory map and RSDP); the
 * boot CPU enters in 32-bit flat protected mode, paging off, EBX = start
 * info.
 */
#ifndef EMBER_ARCH_X86_BOOT_H
#define EMBER_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"
#include "core/macros.h"
#include "vmm/memory.h"

enum kernel_format {
	KERNEL_FORMAT_BZIMAGE,
	KERNEL_FORMAT_PVH_ELF,
};

struct kernel_info {
	enum kernel_format format;
	uint16_t protocol;	  /* bzImage boot protocol version, e.g. 0x020f */
	uint64_t initrd_addr_max; /* highest byte address an initrd may occupy */
	uint64_t cmdline_max;	  /* longest command line accepted, excluding the NUL */
	uint64_t load_end;	  /* first byte above the loaded kernel image */
	uint64_t entry;		  /* bzImage: 64-bit entry; PVH: 32-bit entry */
};

/*
 * Parses and validates an image without touching guest memory, so the CLI
 * can reject a bad kernel before any VM exists. err gets one line on error.
 */
int boot_probe_kernel(const uint8_t *image, size_t len, struct kernel_info *info, char *err,
		      size_t errlen) must_check;

/* Checks that kernel, initrd and command line fit in ram_size bytes of RAM. */
int boot_check_fit(const struct kernel_info *info, uint64_t ram_size, uint64_t initrd_len,
		   size_t cmdline_len, char *err, size_t errlen) must_check;

/*
 * The placement boot_check_fit checks and boot_load uses: *initrd_gpa is
 * where the initrd goes (page-aligned, as high as allowed), 0 without one.
 */
int boot_place_initrd(const struct kernel_info *info, uint64_t ram_size, uint64_t initrd_len,
		      size_t cmdline_len, uint64_t *initrd_gpa, char *err, size_t errlen) must_check;

struct boot_request {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline;
	uint64_t rsdp_gpa; /* where acpi_build put the RSDP */
};

/* The boot CPU's registers at the kernel's entry point. */
struct boot_entry {
	struct x86_regs regs;
	struct x86_sregs sregs;
};

/* Loads everything into guest memory and fills the entry state. */
int boot_load(struct guest_memory *mem, const struct boot_request *req, struct boot_entry *entry,
	      char *err, size_t errlen) must_check;

/* The e820 map ember reports (shared by the zero page and the PVH memmap). */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));
#define E820_MAX_ENTRIES 8
size_t e820_build(const struct guest_memory *mem, struct e820_entry *out, size_t cap);

#endif
