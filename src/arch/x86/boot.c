/*
 * Kernel loading the way firmware would.
 *
 * bzImage: Linux x86 boot protocol (Documentation/arch/x86/boot.rst; the
 * structures are arch/x86/include/uapi/asm/bootparam.h), 64-bit entry.
 * PVH: Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h,
 * XEN_ELFNOTE_PHYS32_ENTRY from xen/include/public/elfnote.h), 32-bit entry.
 *
 * Everything read from the kernel file is untrusted: every offset and size
 * is checked against the file length without arithmetic that can wrap, and
 * every write into the guest goes through guest_memory_write/ptr, which
 * check whole ranges.
 */
#include "arch/x86/boot.h"

#include <assert.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "core/log.h"

/* ---- Linux boot protocol structures (bootparam.h) ---- */

struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

#define SETUP_HDR_OFFSET   0x1f1
#define SETUP_HDR_AREA_END 0x290 /* hdr plus _pad7: where edd_mbr_sig_buffer starts */

struct boot_params {
	uint8_t screen_info[0x40];
	uint8_t apm_bios_info[0x14];
	uint8_t _pad2[4];
	uint64_t tboot_addr;
	uint8_t ist_info[0x10];
	uint64_t acpi_rsdp_addr;
	uint8_t _pad3[8];
	uint8_t hd0_info[16];
	uint8_t hd1_info[16];
	uint8_t sys_desc_table[0x10];
	uint8_t olpc_ofw_header[0x10];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad4[112];
	uint32_t cc_blob_address;
	uint8_t edid_info[0x80];
	uint8_t efi_info[0x20];
	uint32_t alt_mem_k;
	uint32_t scratch;
	uint8_t e820_entries;
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t _pad5[2];
	uint8_t sentinel;
	uint8_t _pad6[1];
	struct setup_header hdr;
	uint8_t _pad7[SETUP_HDR_AREA_END - SETUP_HDR_OFFSET - sizeof(struct setup_header)];
	uint32_t edd_mbr_sig_buffer[16];
	struct e820_entry e820_table[128];
	uint8_t _pad8[48];
	uint8_t eddbuf[0x1ec];
	uint8_t _pad9[276];
} __attribute__((packed));

static_assert(sizeof(struct e820_entry) == 20, "boot_e820_entry is 20 bytes");
static_assert(offsetof(struct setup_header, boot_flag) == 0x1fe - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, header) == 0x202 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, type_of_loader) == 0x210 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, heap_end_ptr) == 0x224 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, cmd_line_ptr) == 0x228 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, xloadflags) == 0x236 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, pref_address) == 0x258 - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct setup_header, init_size) == 0x260 - SETUP_HDR_OFFSET, "hdr");
static_assert(sizeof(struct setup_header) == 0x26c - SETUP_HDR_OFFSET, "hdr");
static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "boot_params");
static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "boot_params");
static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "boot_params");
static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "boot_params");
static_assert(offsetof(struct boot_params, sentinel) == 0x1ef, "boot_params");
static_assert(offsetof(struct boot_params, hdr) == SETUP_HDR_OFFSET, "boot_params");
static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "boot_params");
static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

#define BOOT_FLAG_MAGIC       0xaa55
#define HDRS_MAGIC            "HdrS"
#define LOADED_HIGH           (1u << 0)
#define CAN_USE_HEAP          (1u << 7)
#define XLF_KERNEL_64         (1u << 0)
#define LOADER_TYPE_UNDEFINED 0xff
#define HEAP_END_PTR          0xfe00
#define SECTOR_SIZE           512u
#define DEFAULT_SETUP_SECTS   4u
#define ENTRY_64_OFFSET       0x200
#define INITRD_ADDR_MAX_OLD   0x37ffffffULL /* before protocol 2.03 */

/* ---- PVH structures (start_info.h) ---- */

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY  18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Everything ember hands a PVH kernel, laid out in the one page at LAYOUT_PVH_INFO_GPA. */
struct pvh_page {
	struct hvm_start_info info;
	struct hvm_modlist_entry module;
	struct hvm_memmap_table_entry memmap[E820_MAX_ENTRIES];
};

static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "start_info");
static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "start_info");
static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "start_info");
static_assert(sizeof(struct hvm_start_info) == 56, "start_info");
static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry");
static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry");
static_assert(sizeof(struct pvh_page) <= 4096, "PVH start info fits its page");
static_assert(LAYOUT_PVH_INFO_GPA + 4096 <= LAYOUT_ZERO_PAGE_GPA, "PVH page below zero page");

#define ELF_MAX_PHDRS 64

/* [off, off + size) lies inside a file of len bytes; no sum can wrap. */
static bool in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* ---- bzImage ---- */

/* Bytes of real-mode setup before the protected-mode image: (setup_sects + 1) sectors. */
static uint64_t bz_setup_size(const uint8_t *image)
{
	uint8_t sects = image[SETUP_HDR_OFFSET];
	return ((uint64_t)(sects ? sects : DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE;
}

static int probe_bzimage(const uint8_t *image, size_t len, struct kernel_info *info, char *err,
                         size_t errlen)
{
	struct setup_header hdr;

	if (len < SETUP_HDR_AREA_END)
		return err_set(err, errlen, -EINVAL, "kernel: bzImage is truncated (%zu bytes)", len);
	memcpy(&hdr, image + SETUP_HDR_OFFSET, sizeof(hdr));

	uint16_t version = hdr.version;
	if (version < 0x0206)
		return err_set(err, errlen, -EINVAL,
		            "kernel: bzImage boot protocol %u.%02u is too old (need 2.06)",
		            version >> 8, version & 0xff);
	if (!(hdr.loadflags & LOADED_HIGH))
		return err_set(err, errlen, -EINVAL,
		            "kernel: zImage (not loaded high) is not supported");
	/* xloadflags exists from protocol 2.12; older kernels have no 64-bit entry. */
	uint16_t xloadflags = version >= 0x020c ? hdr.xloadflags : 0;
	if (!(xloadflags & XLF_KERNEL_64))
		return err_set(err, errlen, -EINVAL, "kernel: bzImage has no 64-bit entry point");

	uint64_t setup_size = bz_setup_size(image);
	if (setup_size >= len)
		return err_set(err, errlen, -EINVAL,
		            "kernel: bzImage is truncated (setup is %llu bytes, file is %zu)",
		            (unsigned long long)setup_size, len);
	uint64_t pm_size = len - setup_size;
	uint64_t load_end = LAYOUT_HIMEM_GPA + pm_size;

	/*
	 * From 2.10 the kernel says how much memory it needs from its runtime
	 * start address (boot.rst, "init_size"): a relocatable kernel runs at
	 * the load address aligned up to kernel_alignment but no lower than
	 * pref_address; a fixed one at pref_address.
	 */
	if (version >= 0x020a) {
		uint64_t start = hdr.pref_address;
		if (hdr.relocatable_kernel) {
			uint64_t align = hdr.kernel_alignment;
			if (align == 0 || (align & (align - 1)) || align > GIB(1))
				return err_set(err, errlen, -EINVAL,
				            "kernel: bzImage kernel_alignment %#llx is not a power "
				            "of two up to 1 GiB",
				            (unsigned long long)align);
			start = MAX(ALIGN_UP(LAYOUT_HIMEM_GPA, align), hdr.pref_address);
		}
		if (start > UINT64_MAX - hdr.init_size)
			return err_set(err, errlen, -EINVAL,
			            "kernel: bzImage pref_address %#llx is out of range",
			            (unsigned long long)hdr.pref_address);
		load_end = MAX(load_end, start + hdr.init_size);
	}

	*info = (struct kernel_info){
	    .format = KERNEL_FORMAT_BZIMAGE,
	    .protocol = version,
	    .initrd_addr_max = version >= 0x0203 ? hdr.initrd_addr_max : INITRD_ADDR_MAX_OLD,
	    .cmdline_max = hdr.cmdline_size,
	    .load_end = load_end,
	    .entry = LAYOUT_HIMEM_GPA + ENTRY_64_OFFSET,
	};
	return 0;
}

static int load_bzimage(struct guest_memory *mem, const struct boot_request *req,
                        const struct kernel_info *info, uint64_t initrd_gpa, uint64_t initrd_len,
                        struct boot_entry *entry)
{
	const uint8_t *image = req->kernel;
	struct boot_params bp;
	int rc;

	memset(&bp, 0, sizeof(bp));
	/* The header ends at 0x202 + the byte at 0x201 (boot.rst); probe checked the length. */
	size_t hdr_end = MIN((size_t)0x202 + image[0x201], (size_t)SETUP_HDR_AREA_END);
	memcpy((uint8_t *)&bp + SETUP_HDR_OFFSET, image + SETUP_HDR_OFFSET,
	       hdr_end - SETUP_HDR_OFFSET);

	bp.hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp.hdr.loadflags |= CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = HEAP_END_PTR;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE_GPA >> 32);
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp.hdr.ramdisk_size = (uint32_t)initrd_len;
	bp.ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	if (info->protocol >= 0x020e)
		bp.acpi_rsdp_addr = req->rsdp_gpa;
	bp.e820_entries = (uint8_t)e820_build(mem, bp.e820_table, ARRAY_SIZE(bp.e820_table));

	rc = guest_memory_write(mem, LAYOUT_ZERO_PAGE_GPA, &bp, sizeof(bp));
	if (rc)
		return rc;
	uint64_t setup_size = bz_setup_size(image);
	rc = guest_memory_write(mem, LAYOUT_HIMEM_GPA, image + setup_size,
	                        req->kernel_len - setup_size);
	if (rc)
		return rc;

	entry->regs.rip = info->entry;
	entry->regs.rsi = LAYOUT_ZERO_PAGE_GPA;
	entry->regs.rsp = LAYOUT_BOOT_STACK_GPA;
	entry->regs.rbp = LAYOUT_BOOT_STACK_GPA;
	entry->regs.rflags = X86_RFLAGS_RESERVED1;
	return x86_setup_long_mode(mem, &entry->sregs);
}

/* ---- ELF with a PVH entry note ---- */

static void elf_phdr(const uint8_t *image, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, image + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/*
 * Walks one PT_NOTE segment for XEN_ELFNOTE_PHYS32_ENTRY. Returns 1 and sets
 * *entry when found, 0 when absent, -EINVAL (with err) when malformed.
 */
static int find_pvh_note(const uint8_t *p, uint64_t size, uint64_t align, uint64_t *entry,
                         char *err, size_t errlen)
{
	uint64_t off = 0;

	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		if (nh.n_namesz > size - off)
			return err_set(err, errlen, -EINVAL,
			            "kernel: ELF note name runs past its segment");
		const uint8_t *name = p + off;
		off += MIN(ALIGN_UP((uint64_t)nh.n_namesz, align), size - off);
		if (nh.n_descsz > size - off)
			return err_set(err, errlen, -EINVAL,
			            "kernel: ELF note data runs past its segment");
		const uint8_t *desc = p + off;
		off += MIN(ALIGN_UP((uint64_t)nh.n_descsz, align), size - off);

		if (nh.n_namesz != 4 || memcmp(name, "Xen", 4) ||
		    nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY)
			continue;
		/* Linux emits a 4-byte .long, other kernels an 8-byte .quad. */
		if (nh.n_descsz == 4) {
			uint32_t v;
			memcpy(&v, desc, sizeof(v));
			*entry = v;
		} else if (nh.n_descsz == 8) {
			memcpy(entry, desc, sizeof(*entry));
		} else {
			return err_set(err, errlen, -EINVAL,
			            "kernel: PVH entry note has a %u-byte value (need 4 or 8)",
			            (unsigned)nh.n_descsz);
		}
		if (*entry > UINT32_MAX)
			return err_set(err, errlen, -EINVAL,
			            "kernel: PVH entry %#llx is not a 32-bit address",
			            (unsigned long long)*entry);
		return 1;
	}
	return 0;
}

static int probe_elf(const uint8_t *image, size_t len, struct kernel_info *info, char *err,
                     size_t errlen)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return err_set(err, errlen, -EINVAL, "kernel: ELF header is truncated");
	memcpy(&eh, image, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return err_set(err, errlen, -EINVAL, "kernel: ELF file is not a 64-bit x86-64 image");
	if (eh.e_type != ET_EXEC)
		return err_set(err, errlen, -EINVAL, "kernel: ELF file is not an executable");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS ||
	    !in_file(len, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
		return err_set(err, errlen, -EINVAL,
		            "kernel: ELF program header table is invalid (%u entries at %#llx)",
		            (unsigned)eh.e_phnum, (unsigned long long)eh.e_phoff);

	uint64_t load_end = 0, entry = 0;
	bool have_entry = false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		elf_phdr(image, &eh, i, &ph);
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (!in_file(len, ph.p_offset, ph.p_filesz))
			return err_set(err, errlen, -EINVAL,
			            "kernel: ELF segment %u lies outside the file", i);
		if (ph.p_type == PT_NOTE) {
			if (have_entry)
				continue;
			int rc = find_pvh_note(image + ph.p_offset, ph.p_filesz,
			                       ph.p_align == 8 ? 8 : 4, &entry, err, errlen);
			if (rc < 0)
				return rc;
			have_entry = rc == 1;
			continue;
		}
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr < LAYOUT_HIMEM_GPA ||
		    ph.p_memsz > UINT64_MAX - ph.p_paddr)
			return err_set(err, errlen, -EINVAL,
			            "kernel: ELF segment %u has a bad address or size "
			            "(paddr %#llx, filesz %#llx, memsz %#llx)",
			            i, (unsigned long long)ph.p_paddr,
			            (unsigned long long)ph.p_filesz,
			            (unsigned long long)ph.p_memsz);
		load_end = MAX(load_end, ph.p_paddr + ph.p_memsz);
	}
	if (!have_entry)
		return err_set(err, errlen, -EINVAL,
		            "kernel: ELF vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (load_end == 0)
		return err_set(err, errlen, -EINVAL, "kernel: ELF vmlinux has no loadable segment");

	*info = (struct kernel_info){
	    .format = KERNEL_FORMAT_PVH_ELF,
	    .protocol = 0,
	    .initrd_addr_max = LAYOUT_MMIO_HOLE_GPA - 1,
	    .cmdline_max = LAYOUT_CMDLINE_MAX - 1,
	    .load_end = load_end,
	    .entry = entry,
	};
	return 0;
}

static int load_pvh(struct guest_memory *mem, const struct boot_request *req,
                    const struct kernel_info *info, uint64_t initrd_gpa, uint64_t initrd_len,
                    struct boot_entry *entry)
{
	const uint8_t *image = req->kernel;
	Elf64_Ehdr eh;
	int rc;

	/* probe_elf validated the header table and every PT_LOAD against the file. */
	memcpy(&eh, image, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		elf_phdr(image, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		uint8_t *dst = guest_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return -EFAULT;
		memcpy(dst, image + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}

	struct e820_entry map[E820_MAX_ENTRIES];
	size_t n = e820_build(mem, map, ARRAY_SIZE(map));
	struct pvh_page page;
	memset(&page, 0, sizeof(page));
	page.info = (struct hvm_start_info){
	    .magic = XEN_HVM_START_MAGIC_VALUE,
	    .version = 1,
	    .cmdline_paddr = LAYOUT_CMDLINE_GPA,
	    .rsdp_paddr = req->rsdp_gpa,
	    .memmap_paddr = LAYOUT_PVH_INFO_GPA + offsetof(struct pvh_page, memmap),
	    .memmap_entries = (uint32_t)n,
	};
	if (initrd_len) {
		page.info.nr_modules = 1;
		page.info.modlist_paddr = LAYOUT_PVH_INFO_GPA + offsetof(struct pvh_page, module);
		page.module = (struct hvm_modlist_entry){.paddr = initrd_gpa, .size = initrd_len};
	}
	for (size_t i = 0; i < n; i++)
		page.memmap[i] = (struct hvm_memmap_table_entry){
		    .addr = map[i].addr, .size = map[i].size, .type = map[i].type};
	rc = guest_memory_write(mem, LAYOUT_PVH_INFO_GPA, &page, sizeof(page));
	if (rc)
		return rc;

	entry->regs.rip = info->entry;
	entry->regs.rbx = LAYOUT_PVH_INFO_GPA;
	/* The ABI does not promise a stack; a valid one costs nothing. */
	entry->regs.rsp = LAYOUT_BOOT_STACK_GPA;
	entry->regs.rflags = X86_RFLAGS_RESERVED1;
	return x86_setup_flat32(mem, &entry->sregs);
}

/* ---- common ---- */

/*
 * Parses and validates an image without touching guest memory. Returns 0
 * or -EINVAL with one line in err. Pure; any thread.
 */
int boot_probe_kernel(const uint8_t *image, size_t len, struct kernel_info *info, char *err,
                      size_t errlen)
{
	uint16_t boot_flag;

	if (len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0)
		return probe_elf(image, len, info, err, errlen);
	if (len >= 0x206) {
		memcpy(&boot_flag, image + 0x1fe, sizeof(boot_flag));
		if (boot_flag == BOOT_FLAG_MAGIC && memcmp(image + 0x202, HDRS_MAGIC, 4) == 0)
			return probe_bzimage(image, len, info, err, errlen);
	}
	return err_set(err, errlen, -EINVAL,
	            "kernel: not a bzImage or an ELF vmlinux with a PVH entry note");
}

/*
 * ember has no firmware, but a kernel may still jump to the real-mode reset
 * vector f000:fff0 to reboot (Linux's last-resort BOOT_BIOS method, after
 * ACPI and the keyboard controller). The few bytes there do what a BIOS
 * would end up doing: they reset the machine, through the ACPI reset
 * register, which stops the VM with VM_STOP_RESET:
 *     mov dx, LAYOUT_ACPI_RESET_PORT; mov al, LAYOUT_ACPI_RESET_VALUE;
 *     out dx, al; 1: hlt; jmp 1b
 */
static int write_reset_stub(struct guest_memory *mem)
{
	static const uint8_t stub[] = {
	    0xba, LAYOUT_ACPI_RESET_PORT & 0xff, LAYOUT_ACPI_RESET_PORT >> 8,
	    0xb0, LAYOUT_ACPI_RESET_VALUE,
	    0xee,
	    0xf4,
	    0xeb, 0xfd,
	};
	if (mem->ram_size < LAYOUT_RESET_VECTOR_GPA + sizeof(stub))
		return 0;
	return guest_memory_write(mem, LAYOUT_RESET_VECTOR_GPA, stub, sizeof(stub));
}

/*
 * Probes the kernel again, places and writes command line, initrd, kernel,
 * zero page or PVH start info, boot GDT and (64-bit) page tables into guest
 * memory, and fills the boot CPU's entry state. Returns 0 or -errno with
 * err. Before any vCPU runs.
 */
int boot_load(struct guest_memory *mem, const struct boot_request *req, struct boot_entry *entry,
              char *err, size_t errlen)
{
	struct kernel_info info;
	uint64_t initrd_gpa;
	int rc;

	rc = boot_probe_kernel(req->kernel, req->kernel_len, &info, err, errlen);
	if (rc)
		return rc;
	const char *cmdline = req->cmdline ? req->cmdline : "";
	size_t cmdline_len = strlen(cmdline);
	uint64_t initrd_len = req->initrd ? req->initrd_len : 0;
	rc = boot_place_initrd(&info, mem->ram_size, initrd_len, cmdline_len, &initrd_gpa, err,
	                       errlen);
	if (rc)
		return rc;

	memset(entry, 0, sizeof(*entry));
	rc = guest_memory_write(mem, LAYOUT_CMDLINE_GPA, cmdline, cmdline_len + 1);
	if (rc)
		goto out;
	if (initrd_len) {
		rc = guest_memory_write(mem, initrd_gpa, req->initrd, initrd_len);
		if (rc)
			goto out;
	}
	rc = write_reset_stub(mem);
	if (rc)
		goto out;
	if (info.format == KERNEL_FORMAT_BZIMAGE)
		rc = load_bzimage(mem, req, &info, initrd_gpa, initrd_len, entry);
	else
		rc = load_pvh(mem, req, &info, initrd_gpa, initrd_len, entry);
out:
	if (rc)
		return err_set(err, errlen, rc, "boot: writing into guest memory failed: %s",
		            strerror(-rc));
	return 0;
}
