/*
 * Where things go in guest RAM at boot.
 *
 * The e820 memory map ember reports, in the BIOS INT 15h AX=E820h format
 * (ACPI 6.5 section 15, "System Address Map Interfaces") that both the
 * Linux zero page (boot_params.e820_table) and the PVH
 * hvm_memmap_table_entry use:
 *
 *   [0, EBDA)                 RAM (IVT, BDA, boot structures, command line)
 *   [EBDA, 1 MiB)             reserved (EBDA, VGA hole, BIOS area with the ACPI tables)
 *   [1 MiB, low RAM end)      RAM
 *   [4 GiB, 4 GiB + rest)     RAM, when the guest has more than 3 GiB
 *
 * The MMIO hole [3 GiB, 4 GiB) is simply absent from the map.
 *
 * And the fit rules (Documentation/arch/x86/boot.rst, "initrd_addr_max",
 * "cmdline_size"): the kernel image plus some headroom in low RAM, the
 * initrd page-aligned as high as allowed, the command line within limits.
 */
#include "arch/x86/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "arch/x86/layout.h"
#include "core/log.h"

/* Room above the kernel image for its early allocations, kept clear of the initrd. */
#define BOOT_KERNEL_HEADROOM MIB(4)
#define PAGE_SIZE_4K         4096ULL

static size_t e820_add(struct e820_entry *out, size_t cap, size_t n, uint64_t addr, uint64_t end,
                       uint32_t type)
{
	if (end <= addr || n >= cap)
		return n;
	out[n] = (struct e820_entry){.addr = addr, .size = end - addr, .type = type};
	return n + 1;
}

/*
 * Fills out with at most cap entries, sorted by address and not
 * overlapping, and returns how many it wrote. Pure; any thread.
 */
size_t e820_build(const struct guest_memory *mem, struct e820_entry *out, size_t cap)
{
	uint64_t low_end = guest_memory_low_end(mem);
	size_t n = 0;

	n = e820_add(out, cap, n, 0, MIN(low_end, LAYOUT_EBDA_GPA), E820_RAM);
	n = e820_add(out, cap, n, LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA, E820_RESERVED);
	n = e820_add(out, cap, n, LAYOUT_HIMEM_GPA, low_end, E820_RAM);
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		if (r->gpa >= LAYOUT_HIGH_RAM_GPA)
			n = e820_add(out, cap, n, r->gpa, r->gpa + r->size, E820_RAM);
	}
	return n;
}

static unsigned long long mib_up(uint64_t bytes)
{
	return (unsigned long long)((bytes >> 20) + ((bytes & (MIB(1) - 1)) != 0));
}

/*
 * The command line must fit the kernel's limit and ember's buffer; the
 * kernel image plus BOOT_KERNEL_HEADROOM must fit in low RAM; the initrd
 * goes page-aligned as high as possible, ending at or below
 * min(low RAM end, initrd_addr_max + 1) and starting above the headroom.
 * Returns 0, -E2BIG or -ENOSPC with err. Pure; any thread.
 */
int boot_place_initrd(const struct kernel_info *info, uint64_t ram_size, uint64_t initrd_len,
                      size_t cmdline_len, uint64_t *initrd_gpa, char *err, size_t errlen)
{
	uint64_t low_end = MIN(ram_size, LAYOUT_MMIO_HOLE_GPA); /* as vmm/memory.c lays RAM out */

	*initrd_gpa = 0;
	uint64_t cmdline_max = MIN(info->cmdline_max, LAYOUT_CMDLINE_MAX - 1);
	if (cmdline_len > cmdline_max)
		return err_set(err, errlen, -E2BIG,
		            "cmdline: %zu bytes is longer than the kernel's limit of %llu",
		            cmdline_len, (unsigned long long)cmdline_max);

	uint64_t kernel_end = info->load_end;
	if (kernel_end > low_end || low_end - kernel_end < BOOT_KERNEL_HEADROOM) {
		uint64_t need = kernel_end > UINT64_MAX - BOOT_KERNEL_HEADROOM
		                    ? UINT64_MAX
		                    : kernel_end + BOOT_KERNEL_HEADROOM;
		return err_set(
		    err, errlen, -ENOSPC,
		    "kernel: needs %llu MiB of low RAM (image ends at %#llx), have %llu MiB",
		    mib_up(need), (unsigned long long)kernel_end, mib_up(low_end));
	}

	if (initrd_len == 0)
		return 0;
	uint64_t top = low_end; /* > BOOT_KERNEL_HEADROOM, so top - 1 cannot wrap */
	if (info->initrd_addr_max < top - 1)
		top = info->initrd_addr_max + 1;
	uint64_t lowest = kernel_end + BOOT_KERNEL_HEADROOM;
	if (initrd_len > top || ALIGN_DOWN(top - initrd_len, PAGE_SIZE_4K) < lowest)
		return err_set(err, errlen, -ENOSPC,
		            "initrd: %llu bytes do not fit below %#llx in %llu MiB of RAM",
		            (unsigned long long)initrd_len, (unsigned long long)top,
		            mib_up(ram_size));
	*initrd_gpa = ALIGN_DOWN(top - initrd_len, PAGE_SIZE_4K);
	return 0;
}

/* Checks that kernel, initrd and command line fit in ram_size bytes of RAM. */
int boot_check_fit(const struct kernel_info *info, uint64_t ram_size, uint64_t initrd_len,
                   size_t cmdline_len, char *err, size_t errlen)
{
	uint64_t initrd_gpa;
	return boot_place_initrd(info, ram_size, initrd_len, cmdline_len, &initrd_gpa, err, errlen);
}
