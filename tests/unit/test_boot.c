/*
 * Unit tests for arch/x86/boot.c and e820.c: synthetic bzImages and PVH
 * ELFs built in memory, probed and loaded into a real guest_memory; the
 * zero page and hvm_start_info are checked at the raw offsets of the specs
 * (bootparam.h, start_info.h), not through boot.c's own structs. Hostile
 * images must be refused without reading outside the file (run under ASan).
 * The guest kit's real kernel is probed and loaded when it exists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

static struct guest_memory mem;
static char err[256];

static int setup_128m(void **state)
{
	(void)state;
	err[0] = 0;
	return guest_memory_init(&mem, MIB(128));
}

static int setup_4g(void **state)
{
	(void)state;
	err[0] = 0;
	return guest_memory_init(&mem, GIB(4));
}

static int teardown(void **state)
{
	(void)state;
	guest_memory_fini(&mem);
	return 0;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static uint64_t gget(uint64_t gpa, size_t size)
{
	uint64_t v = 0;
	assert_int_equal(guest_memory_read(&mem, gpa, &v, size), 0);
	return v;
}

#define assert_err_has(s) assert_non_null(strstr(err, (s)))

/* ---- synthetic bzImage ---- */

struct bz_opts {
	uint8_t setup_sects, hdr_len_byte;
	uint16_t version, xloadflags;
	uint8_t loadflags, relocatable;
	uint32_t kernel_alignment, init_size, cmdline_size, initrd_addr_max;
	uint64_t pref_address;
	size_t pm_size;
};

static const struct bz_opts bz_default = {
    .setup_sects = 0x27,
    .hdr_len_byte = 0x6a,
    .version = 0x020f,
    .xloadflags = 0x7f,
    .loadflags = 0x01,
    .relocatable = 1,
    .kernel_alignment = 0x200000,
    .init_size = 0x800000,
    .cmdline_size = 2047,
    .initrd_addr_max = 0x7fffffff,
    .pref_address = 0x1000000,
    .pm_size = 0x10000,
};

static size_t bz_setup_bytes(const struct bz_opts *o)
{
	return ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
}

/* Junk everywhere the loader must not copy, the header fields where boot.rst puts them. */
static uint8_t *make_bz(const struct bz_opts *o, size_t *len)
{
	size_t setup = bz_setup_bytes(o);
	*len = setup + o->pm_size;
	uint8_t *b = malloc(*len);
	assert_non_null(b);
	memset(b, 0xcc, setup);
	for (size_t i = 0; i < o->pm_size; i++)
		b[setup + i] = (uint8_t)(i * 7 + 3);
	b[0x1ef] = 0xff; /* sentinel: a loader that copies it makes the kernel wipe boot_params */
	b[0x1f1] = o->setup_sects;
	put16(b, 0x1fe, 0xaa55);
	b[0x201] = o->hdr_len_byte;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b, 0x206, o->version);
	b[0x210] = 0;
	b[0x211] = o->loadflags;
	put32(b, 0x218, 0);
	put32(b, 0x21c, 0);
	put16(b, 0x224, 0);
	put32(b, 0x228, 0);
	put32(b, 0x22c, o->initrd_addr_max);
	put32(b, 0x230, o->kernel_alignment);
	b[0x234] = o->relocatable;
	put16(b, 0x236, o->xloadflags);
	put32(b, 0x238, o->cmdline_size);
	put64(b, 0x258, o->pref_address);
	put32(b, 0x260, o->init_size);
	return b;
}

static int probe_opts(const struct bz_opts *o, struct kernel_info *info)
{
	size_t len;
	uint8_t *b = make_bz(o, &len);
	int rc = boot_probe_kernel(b, len, info, err, sizeof(err));
	free(b);
	return rc;
}

static void test_bz_probe(void **state)
{
	(void)state;
	struct kernel_info info;
	assert_int_equal(probe_opts(&bz_default, &info), 0);
	assert_int_equal(info.format, KERNEL_FORMAT_BZIMAGE);
	assert_int_equal(info.protocol, 0x020f);
	assert_int_equal(info.entry, 0x100200);
	assert_int_equal(info.initrd_addr_max, 0x7fffffff);
	assert_int_equal(info.cmdline_max, 2047);
	/* Relocatable: runs at max(align_up(1 MiB, 2 MiB), pref_address) = 16 MiB, + init_size. */
	assert_int_equal(info.load_end, 0x1000000 + 0x800000);

	struct bz_opts o = bz_default;
	o.pref_address = 0; /* runs at 2 MiB */
	assert_int_equal(probe_opts(&o, &info), 0);
	assert_int_equal(info.load_end, 0x200000 + 0x800000);
	o.init_size = 0x1000;
	assert_int_equal(probe_opts(&o, &info), 0);
	assert_int_equal(info.load_end, 0x201000);
	o.pm_size = 0x200000; /* the image reaches further than runtime start + init_size */
	assert_int_equal(probe_opts(&o, &info), 0);
	assert_int_equal(info.load_end, 0x100000 + o.pm_size);
	o = bz_default;
	o.relocatable = 0; /* fixed kernels run at pref_address */
	o.pref_address = 0x2000000;
	assert_int_equal(probe_opts(&o, &info), 0);
	assert_int_equal(info.load_end, 0x2000000 + 0x800000);
}

static void test_bz_probe_errors(void **state)
{
	(void)state;
	struct kernel_info info;
	struct bz_opts o = bz_default;

	o.version = 0x0204;
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_string_equal(err, "kernel: bzImage boot protocol 2.04 is too old (need 2.06)");
	o = bz_default;
	o.xloadflags = 0x7e;
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_string_equal(err, "kernel: bzImage has no 64-bit entry point");
	o = bz_default;
	o.version = 0x020b; /* xloadflags is not a field before 2.12, whatever the bytes say */
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_err_has("no 64-bit entry point");
	o = bz_default;
	o.loadflags = 0;
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_err_has("zImage");
	o = bz_default;
	o.kernel_alignment = 0x300000;
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_err_has("kernel_alignment");
	o = bz_default;
	o.pref_address = 0xfffffffffff00000ULL;
	assert_int_equal(probe_opts(&o, &info), -EINVAL);
	assert_err_has("pref_address");

	/* Truncated: the whole setup but no protected-mode byte, and shorter. */
	size_t len;
	uint8_t *b = make_bz(&bz_default, &len);
	size_t setup = bz_setup_bytes(&bz_default);
	assert_int_equal(boot_probe_kernel(b, setup, &info, err, sizeof(err)), -EINVAL);
	assert_err_has("truncated");
	assert_int_equal(boot_probe_kernel(b, 0x280, &info, err, sizeof(err)), -EINVAL);
	assert_err_has("truncated");
	assert_int_equal(boot_probe_kernel(b, setup + 1, &info, err, sizeof(err)), 0);
	/* setup_sects 0 means 4: 2560 bytes of setup. */
	b[0x1f1] = 0;
	assert_int_equal(boot_probe_kernel(b, 2560, &info, err, sizeof(err)), -EINVAL);
	assert_int_equal(boot_probe_kernel(b, 2561, &info, err, sizeof(err)), 0);
	/* Without "HdrS" or the boot flag it is not a kernel at all. */
	b[0x203] = 'X';
	assert_int_equal(boot_probe_kernel(b, len, &info, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "kernel: not a bzImage or an ELF vmlinux with a PVH entry note");
	free(b);

	uint8_t garbage[8192];
	srand(1);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)rand();
	assert_int_equal(boot_probe_kernel(garbage, sizeof(garbage), &info, err, sizeof(err)),
	                 -EINVAL);
	assert_err_has("not a bzImage");
	assert_int_equal(boot_probe_kernel(garbage, 10, &info, err, sizeof(err)), -EINVAL);
	assert_int_equal(boot_probe_kernel(garbage, 0, &info, NULL, 0), -EINVAL);
}

static const uint8_t initrd_data[100000] = {1, 2, 3, [99999] = 0x42};

static void test_bz_load(void **state)
{
	(void)state;
	size_t len;
	struct bz_opts o = bz_default;
	uint8_t *b = make_bz(&o, &len);
	memset(b + 0x26c, 0xee, 0x290 - 0x26c); /* beyond the declared header */
	const char *cmdline = "console=ttyS0 root=/dev/ram";
	struct boot_request req = {.kernel = b,
	                           .kernel_len = len,
	                           .initrd = initrd_data,
	                           .initrd_len = sizeof(initrd_data),
	                           .cmdline = cmdline,
	                           .rsdp_gpa = 0xe0000};
	struct boot_entry e;
	memset(guest_memory_ptr(&mem, LAYOUT_ZERO_PAGE_GPA, 4096), 0x77, 4096);
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);

	const uint8_t *zp = guest_memory_ptr(&mem, LAYOUT_ZERO_PAGE_GPA, 4096);
	for (size_t i = 0; i < 0x1f1; i++)
		if (i != 0x070 && i != 0x071 && i != 0x072 && i != 0x1e8)
			assert_int_equal(zp[i], 0);
	/* Untouched header bytes are the image's, the rest of the page is zero. */
	static const size_t written[] = {0x210, 0x211, 0x218, 0x219, 0x21a, 0x21b, 0x21c, 0x21d,
	                                 0x21e, 0x21f, 0x224, 0x225, 0x228, 0x229, 0x22a, 0x22b};
	for (size_t i = 0x1f1; i < 0x26c; i++) {
		int skip = 0;
		for (size_t j = 0; j < sizeof(written) / sizeof(written[0]); j++)
			skip |= written[j] == i;
		if (!skip)
			assert_int_equal(zp[i], b[i]);
	}
	for (size_t i = 0x26c; i < 0x2d0; i++)
		assert_int_equal(zp[i], 0);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(gget(0x7000 + 0x206, 2), 0x020f);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(zp[0x211], 0x81);
	assert_int_equal(gget(0x7000 + 0x224, 2), 0xfe00);
	assert_int_equal(gget(0x7000 + 0x228, 4), 0x20000);
	assert_int_equal(gget(0x7000 + 0x0c8, 4), 0);
	/* 100000 bytes = 24.4 pages, top of 128 MiB: 0x8000000 - 25 * 4096. */
	assert_int_equal(gget(0x7000 + 0x218, 4), 0x7fe7000);
	assert_int_equal(gget(0x7000 + 0x21c, 4), sizeof(initrd_data));
	assert_int_equal(gget(0x7000 + 0x0c0, 4), 0);
	assert_int_equal(gget(0x7000 + 0x0c4, 4), 0);
	assert_int_equal(gget(0x7000 + 0x070, 8), 0xe0000);
	assert_int_equal(zp[0x1e8], 3);
	static const uint64_t want[3][3] = {
	    {0, 0x9fc00, 1}, {0x9fc00, 0x60400, 2}, {0x100000, MIB(127), 1}};
	for (size_t i = 0; i < 4; i++) {
		uint64_t at = 0x7000 + 0x2d0 + i * 20;
		assert_int_equal(gget(at, 8), i < 3 ? want[i][0] : 0);
		assert_int_equal(gget(at + 8, 8), i < 3 ? want[i][1] : 0);
		assert_int_equal(gget(at + 16, 4), i < 3 ? want[i][2] : 0);
	}

	assert_string_equal((const char *)guest_memory_ptr(&mem, 0x20000, strlen(cmdline) + 1),
	                    cmdline);
	assert_memory_equal(guest_memory_ptr(&mem, 0x7fe7000, sizeof(initrd_data)), initrd_data,
	                    sizeof(initrd_data));
	assert_memory_equal(guest_memory_ptr(&mem, 0x100000, o.pm_size), b + bz_setup_bytes(&o),
	                    o.pm_size);

	assert_int_equal(e.regs.rip, 0x100200);
	assert_int_equal(e.regs.rsi, 0x7000);
	assert_int_equal(e.regs.rsp, LAYOUT_BOOT_STACK_GPA);
	assert_int_equal(e.regs.rflags, 2);
	assert_int_equal(e.regs.rax | e.regs.rbx | e.regs.rcx | e.regs.rdx | e.regs.rdi, 0);
	assert_int_equal(e.sregs.cs.selector, 0x10);
	assert_int_equal(e.sregs.cs.l, 1);
	assert_int_equal(e.sregs.ds.selector, 0x18);
	assert_int_equal(e.sregs.cr3, LAYOUT_PML4_GPA);
	assert_int_equal(e.sregs.efer, X86_EFER_LME | X86_EFER_LMA);
	assert_true(e.sregs.cr0 & X86_CR0_PG);
	free(b);
}

static void test_bz_load_variants(void **state)
{
	(void)state;
	size_t len;
	struct boot_entry e;
	struct bz_opts o = bz_default;

	/* Protocol 2.13 has no acpi_rsdp_addr; header length byte 0xff is bounded at 0x290. */
	o.version = 0x020d;
	o.hdr_len_byte = 0xff;
	o.setup_sects = 0;
	uint8_t *b = make_bz(&o, &len);
	memset(b + 0x290, 0xdd, 0x200);
	struct boot_request req = {.kernel = b, .kernel_len = len, .rsdp_gpa = 0xe0000};
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);
	assert_int_equal(gget(0x7000 + 0x070, 8), 0);
	assert_int_equal(gget(0x7000 + 0x290, 8), 0);
	assert_int_equal(gget(0x7000 + 0x218, 8), 0); /* no initrd: image 0, size 0 */
	assert_int_equal(gget(0x20000, 1), 0);        /* NULL cmdline: an empty string */
	assert_memory_equal(guest_memory_ptr(&mem, 0x100000, o.pm_size), b + 2560, o.pm_size);
	free(b);

	/* Hostile headers never get written. */
	o = bz_default;
	o.version = 0x0200;
	b = make_bz(&o, &len);
	req = (struct boot_request){.kernel = b, .kernel_len = len};
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), -EINVAL);
	free(b);
}

/* ---- placement and e820 ---- */

static void test_initrd_placement(void **state)
{
	(void)state;
	struct kernel_info k = {.format = KERNEL_FORMAT_BZIMAGE,
	                        .initrd_addr_max = 0x37ffffff,
	                        .cmdline_max = 2047,
	                        .load_end = MIB(24)};
	uint64_t gpa;

	assert_int_equal(boot_place_initrd(&k, GIB(4), MIB(1) + 1, 0, &gpa, err, 256), 0);
	assert_int_equal(gpa, 0x37eff000);
	k.initrd_addr_max = 0xffffffff; /* above the low RAM end: 3 GiB decides */
	assert_int_equal(boot_place_initrd(&k, GIB(4), MIB(1), 0, &gpa, err, 256), 0);
	assert_int_equal(gpa, 0xc0000000 - MIB(1));
	k.initrd_addr_max = 0x7fffffff;
	assert_int_equal(boot_place_initrd(&k, MIB(128), 0, 0, &gpa, err, 256), 0);
	assert_int_equal(gpa, 0);
	for (uint64_t sz = 1; sz < MIB(3); sz = sz * 3 + 17) {
		assert_int_equal(boot_place_initrd(&k, MIB(128), sz, 0, &gpa, err, 256), 0);
		assert_int_equal(gpa % 4096, 0);
		assert_true(gpa + sz <= MIB(128));
		assert_true(MIB(128) - (gpa + sz) < 4096);
		assert_true(gpa >= k.load_end);
	}
	assert_int_equal(boot_check_fit(&k, MIB(128), MIB(120), 10, err, sizeof(err)), -ENOSPC);
	assert_string_equal(err, "initrd: 125829120 bytes do not fit below 0x8000000 in 128 MiB "
	                         "of RAM");
	assert_int_equal(boot_check_fit(&k, MIB(128), GIB(8), 10, err, sizeof(err)), -ENOSPC);
	assert_int_equal(boot_check_fit(&k, MIB(128), MIB(90), 10, err, sizeof(err)), 0);

	/* The kernel itself: image end plus headroom within low RAM. */
	assert_int_equal(boot_check_fit(&k, MIB(16), 0, 0, err, sizeof(err)), -ENOSPC);
	assert_err_has("kernel: needs");
	k.load_end = UINT64_MAX - 5;
	assert_int_equal(boot_check_fit(&k, GIB(64), 0, 0, err, sizeof(err)), -ENOSPC);
	k.load_end = MIB(24);

	/* Command line: the kernel's limit, then ember's 64 KiB buffer. */
	assert_int_equal(boot_check_fit(&k, MIB(128), 0, 2047, err, sizeof(err)), 0);
	assert_int_equal(boot_check_fit(&k, MIB(128), 0, 2048, err, sizeof(err)), -E2BIG);
	assert_err_has("cmdline");
	k.cmdline_max = 0x100000;
	assert_int_equal(boot_check_fit(&k, MIB(128), 0, 65535, err, sizeof(err)), 0);
	assert_int_equal(boot_check_fit(&k, MIB(128), 0, 65536, err, sizeof(err)), -E2BIG);
}

static void check_e820(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_128m(void **state)
{
	(void)state;
	struct e820_entry map[E820_MAX_ENTRIES];
	assert_int_equal(e820_build(&mem, map, E820_MAX_ENTRIES), 3);
	check_e820(&map[0], 0, 0x9fc00, E820_RAM);
	check_e820(&map[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_e820(&map[2], 0x100000, MIB(127), E820_RAM);
	assert_int_equal(e820_build(&mem, map, 2), 2);
	assert_int_equal(e820_build(&mem, map, 0), 0);
}

static void test_e820_4g(void **state)
{
	(void)state;
	struct e820_entry map[E820_MAX_ENTRIES];
	assert_int_equal(e820_build(&mem, map, E820_MAX_ENTRIES), 4);
	check_e820(&map[0], 0, 0x9fc00, E820_RAM);
	check_e820(&map[1], 0x9fc00, 0x60400, E820_RESERVED);
	check_e820(&map[2], 0x100000, 0xc0000000 - 0x100000, E820_RAM);
	check_e820(&map[3], 0x100000000ULL, GIB(1), E820_RAM);
}

/* ---- synthetic PVH ELF ---- */

#define ELF_LEN   0x3800
#define NOTE_OFF  0x100
#define PVH_ENTRY 0x1000850

static size_t add_note(uint8_t *b, size_t off, const char *name, uint32_t type, const void *desc,
                       uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	put32(b, off, namesz);
	put32(b, off + 4, descsz);
	put32(b, off + 8, type);
	off += 12;
	memcpy(b + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memcpy(b + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/* ehdr, 3 phdrs (NOTE, LOAD, LOAD+bss), notes with the PVH one last; entry as a .long or .quad. */
static uint8_t *make_elf(int quad_entry)
{
	uint8_t *b = calloc(1, ELF_LEN);
	assert_non_null(b);
	Elf64_Ehdr eh = {.e_type = ET_EXEC,
	                 .e_machine = EM_X86_64,
	                 .e_version = EV_CURRENT,
	                 .e_entry = 0xffffffff81000000ULL,
	                 .e_phoff = sizeof(Elf64_Ehdr),
	                 .e_ehsize = sizeof(Elf64_Ehdr),
	                 .e_phentsize = sizeof(Elf64_Phdr),
	                 .e_phnum = 3};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(b, &eh, sizeof(eh));

	uint8_t gnu[20] = {0xab};
	size_t end = add_note(b, NOTE_OFF, "GNU", 3, gnu, sizeof(gnu));
	end = add_note(b, end, "Xen", 6, "linux", 6);
	uint64_t entry = PVH_ENTRY;
	end = add_note(b, end, "Xen", 18, &entry, quad_entry ? 8 : 4);

	Elf64_Phdr ph[3] = {
	    {.p_type = PT_NOTE,
	     .p_offset = NOTE_OFF,
	     .p_filesz = end - NOTE_OFF,
	     .p_memsz = end - NOTE_OFF,
	     .p_align = 4},
	    {.p_type = PT_LOAD,
	     .p_offset = 0x1000,
	     .p_vaddr = 0xffffffff81000000ULL,
	     .p_paddr = 0x1000000,
	     .p_filesz = 0x2000,
	     .p_memsz = 0x2000,
	     .p_align = 0x1000},
	    {.p_type = PT_LOAD,
	     .p_offset = 0x3000,
	     .p_paddr = 0x1200000,
	     .p_filesz = 0x800,
	     .p_memsz = 0x5000,
	     .p_align = 0x1000},
	};
	memcpy(b + sizeof(eh), ph, sizeof(ph));
	for (size_t i = 0x1000; i < ELF_LEN; i++)
		b[i] = (uint8_t)(i * 13 + 1);
	return b;
}

static size_t phdr_field(unsigned i, size_t field)
{
	return sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr) + field;
}

static void test_pvh_probe(void **state)
{
	(void)state;
	struct kernel_info info;
	for (int quad = 0; quad < 2; quad++) {
		uint8_t *b = make_elf(quad);
		assert_int_equal(boot_probe_kernel(b, ELF_LEN, &info, err, sizeof(err)), 0);
		assert_int_equal(info.format, KERNEL_FORMAT_PVH_ELF);
		assert_int_equal(info.entry, PVH_ENTRY);
		assert_int_equal(info.load_end, 0x1205000);
		assert_int_equal(info.initrd_addr_max, 0xbfffffff);
		assert_int_equal(info.cmdline_max, LAYOUT_CMDLINE_MAX - 1);
		/* Every truncation is refused without reading past the end (ASan watches). */
		for (size_t len = 0; len < ELF_LEN; len += (len < 0x200 ? 1 : 0x100)) {
			uint8_t *cut = malloc(len ? len : 1);
			memcpy(cut, b, len);
			assert_int_equal(boot_probe_kernel(cut, len, &info, err, sizeof(err)),
			                 -EINVAL);
			free(cut);
		}
		free(b);
	}
}

static void test_pvh_load(void **state)
{
	(void)state;
	uint8_t *b = make_elf(0);
	struct boot_request req = {.kernel = b,
	                           .kernel_len = ELF_LEN,
	                           .initrd = initrd_data,
	                           .initrd_len = sizeof(initrd_data),
	                           .cmdline = "console=hvc0",
	                           .rsdp_gpa = 0xe0000};
	struct boot_entry e;
	uint8_t *bss = guest_memory_ptr(&mem, 0x1200000, 0x6000);
	memset(bss, 0xaa, 0x6000);
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);

	assert_memory_equal(guest_memory_ptr(&mem, 0x1000000, 0x2000), b + 0x1000, 0x2000);
	assert_memory_equal(bss, b + 0x3000, 0x800);
	for (size_t i = 0x800; i < 0x5000; i++)
		assert_int_equal(bss[i], 0);
	assert_int_equal(bss[0x5000], 0xaa); /* nothing past p_memsz */

	const uint64_t si = LAYOUT_PVH_INFO_GPA;
	assert_int_equal(gget(si + 0, 4), 0x336ec578);
	assert_int_equal(gget(si + 4, 4), 1);
	assert_int_equal(gget(si + 8, 4), 0);
	assert_int_equal(gget(si + 12, 4), 1);
	uint64_t modlist = gget(si + 16, 8);
	assert_int_equal(gget(si + 24, 8), 0x20000);
	assert_int_equal(gget(si + 32, 8), 0xe0000);
	uint64_t memmap = gget(si + 40, 8);
	uint64_t entries = gget(si + 48, 4);
	assert_string_equal((const char *)guest_memory_ptr(&mem, 0x20000, 13), "console=hvc0");

	assert_true(modlist >= si + 56 && modlist + 32 <= si + 4096);
	assert_int_equal(gget(modlist, 8), 0x7fe7000);
	assert_int_equal(gget(modlist + 8, 8), sizeof(initrd_data));
	assert_int_equal(gget(modlist + 16, 8), 0);
	assert_memory_equal(guest_memory_ptr(&mem, 0x7fe7000, sizeof(initrd_data)), initrd_data,
	                    sizeof(initrd_data));

	assert_int_equal(entries, 3);
	assert_true(memmap >= si + 56 && memmap + entries * 24 <= si + 4096);
	assert_true(memmap + entries * 24 <= modlist || memmap >= modlist + 32);
	struct e820_entry map[E820_MAX_ENTRIES];
	assert_int_equal(e820_build(&mem, map, E820_MAX_ENTRIES), 3);
	for (size_t i = 0; i < entries; i++) {
		assert_int_equal(gget(memmap + i * 24, 8), map[i].addr);
		assert_int_equal(gget(memmap + i * 24 + 8, 8), map[i].size);
		assert_int_equal(gget(memmap + i * 24 + 16, 4), map[i].type);
		assert_int_equal(gget(memmap + i * 24 + 20, 4), 0);
	}

	assert_int_equal(e.regs.rip, PVH_ENTRY);
	assert_int_equal(e.regs.rbx, LAYOUT_PVH_INFO_GPA);
	assert_int_equal(e.regs.rflags, 2);
	assert_int_equal(e.sregs.cs.selector, 0x10);
	assert_int_equal(e.sregs.cs.db, 1);
	assert_int_equal(e.sregs.cs.l, 0);
	assert_int_equal(e.sregs.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(e.sregs.efer, 0);

	/* Without an initrd: no module list. */
	req.initrd = NULL;
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);
	assert_int_equal(gget(si + 12, 4), 0);
	assert_int_equal(gget(si + 16, 8), 0);
	free(b);
}

struct mutation {
	size_t off, size;
	uint64_t value;
	const char *msg;
};

static void test_pvh_hostile(void **state)
{
	(void)state;
	const size_t note3 = NOTE_OFF + 12 + 4 + 20 + 12 + 4 + 8; /* the PVH note's header */
	static const char outside[] = "outside the file", bad[] = "bad address or size";
	static const char table[] = "program header table", malformed[] = "runs past its segment";
	const struct mutation m[] = {
	    {phdr_field(1, offsetof(Elf64_Phdr, p_offset)), 8, ELF_LEN, outside},
	    {phdr_field(1, offsetof(Elf64_Phdr, p_offset)), 8, 0xfffffffffffff000ULL, outside},
	    {phdr_field(1, offsetof(Elf64_Phdr, p_filesz)), 8, ELF_LEN, outside},
	    {phdr_field(0, offsetof(Elf64_Phdr, p_filesz)), 8, ELF_LEN, outside},
	    {phdr_field(1, offsetof(Elf64_Phdr, p_filesz)), 8, 0x2001, bad}, /* > memsz */
	    {phdr_field(1, offsetof(Elf64_Phdr, p_paddr)), 8, 0xfffffffffffff000ULL, bad},
	    {phdr_field(2, offsetof(Elf64_Phdr, p_memsz)), 8, UINT64_MAX, bad},
	    {phdr_field(1, offsetof(Elf64_Phdr, p_paddr)), 8, 0x7000, bad}, /* the zero page */
	    {offsetof(Elf64_Ehdr, e_phnum), 2, 0xffff, table},
	    {offsetof(Elf64_Ehdr, e_phnum), 2, 0, table},
	    {offsetof(Elf64_Ehdr, e_phoff), 8, ELF_LEN - 8, table},
	    {offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 16, table},
	    {offsetof(Elf64_Ehdr, e_phentsize), 2, 32, table},
	    {NOTE_OFF, 4, 0xffffffff, malformed},
	    {NOTE_OFF + 4, 4, 0xfffffff0, malformed},
	    {note3 + 4, 4, 2, "4 or 8"},
	    {note3 + 8, 4, 19, "no PVH entry note"},
	    {note3 + 12, 1, 'x', "no PVH entry note"},
	    {EI_CLASS, 1, ELFCLASS32, "64-bit x86-64"},
	    {offsetof(Elf64_Ehdr, e_machine), 2, EM_386, "64-bit x86-64"},
	    {offsetof(Elf64_Ehdr, e_type), 2, ET_DYN, "not an executable"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		uint8_t *b = make_elf(0);
		memcpy(b + m[i].off, &m[i].value, m[i].size);
		struct kernel_info info;
		err[0] = 0;
		int rc = boot_probe_kernel(b, ELF_LEN, &info, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, m[i].msg))
			fail_msg("mutation %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err,
			         m[i].msg);
		struct boot_request req = {.kernel = b, .kernel_len = ELF_LEN};
		struct boot_entry e;
		assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), -EINVAL);
		free(b);
	}

	/* An entry quad above 4 GiB cannot be a 32-bit entry point. */
	uint8_t *b = make_elf(1);
	put64(b, note3 + 16, 0x100001000ULL);
	struct kernel_info info;
	assert_int_equal(boot_probe_kernel(b, ELF_LEN, &info, err, sizeof(err)), -EINVAL);
	assert_err_has("32-bit");
	/* Well formed but above RAM: probe accepts, the fit check refuses. */
	free(b);
	b = make_elf(0);
	put64(b, phdr_field(2, offsetof(Elf64_Phdr, p_paddr)), MIB(200));
	assert_int_equal(boot_probe_kernel(b, ELF_LEN, &info, err, sizeof(err)), 0);
	assert_int_equal(boot_check_fit(&info, MIB(128), 0, 0, err, sizeof(err)), -ENOSPC);
	struct boot_request req = {.kernel = b, .kernel_len = ELF_LEN};
	struct boot_entry e;
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), -ENOSPC);
	free(b);
}

/* Random byte flips in the headers: probe and load must fail cleanly or succeed sanely. */
static void test_fuzz_headers(void **state)
{
	(void)state;
	srand(7);
	for (int iter = 0; iter < 3000; iter++) {
		size_t len;
		int elf = iter & 1;
		uint8_t *b = elf ? make_elf(iter & 2) : make_bz(&bz_default, &len);
		if (elf)
			len = ELF_LEN;
		size_t lo = elf ? 0 : 0x1f0, span = elf ? 0x200 : 0x80;
		for (int k = 0; k < 1 + rand() % 4; k++)
			b[lo + (size_t)rand() % span] = (uint8_t)rand();
		struct kernel_info info;
		if (boot_probe_kernel(b, len, &info, err, sizeof(err)) == 0) {
			assert_true(info.load_end > LAYOUT_HIMEM_GPA);
			struct boot_request req = {.kernel = b, .kernel_len = len};
			struct boot_entry e;
			int rc = boot_load(&mem, &req, &e, err, sizeof(err));
			assert_true(rc == 0 || rc == -ENOSPC || rc == -E2BIG);
		} else {
			assert_true(strncmp(err, "kernel: ", 8) == 0);
		}
		free(b);
	}
}

/* ---- the guest kit's real kernel ---- */

static uint8_t *read_kit_file(const char *env, const char *name, size_t *len)
{
	char path[512];
	const char *dirs[] = {"build/guest-kit", "guest-kit", "../guest-kit", "../build/guest-kit",
	                      "/work/main/build/guest-kit"};
	FILE *f = NULL;
	if (getenv(env))
		f = fopen(getenv(env), "rb");
	for (size_t i = 0; !f && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		f = fopen(path, "rb");
	}
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	uint8_t *b = malloc((size_t)n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void test_real_kernels(void **state)
{
	(void)state;
	size_t len, ilen = 0, vlen;
	uint8_t *bz = read_kit_file("KIT_BZIMAGE", "bzImage", &len);
	if (!bz)
		skip();
	struct kernel_info info;
	assert_int_equal(boot_probe_kernel(bz, len, &info, err, sizeof(err)), 0);
	assert_int_equal(info.format, KERNEL_FORMAT_BZIMAGE);
	assert_true(info.protocol >= 0x020c);
	assert_int_equal(info.entry, 0x100200);
	assert_true(info.load_end > LAYOUT_HIMEM_GPA + len / 2);
	uint8_t *initrd = read_kit_file("KIT_INITRD", "initrd.img", &ilen);
	struct boot_request req = {.kernel = bz,
	                           .kernel_len = len,
	                           .initrd = initrd,
	                           .initrd_len = ilen,
	                           .cmdline = "console=ttyS0",
	                           .rsdp_gpa = LAYOUT_ACPI_GPA};
	struct boot_entry e;
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);
	assert_memory_equal(guest_memory_ptr(&mem, 0x7000 + 0x202, 4), "HdrS", 4);
	free(bz);
	free(initrd);

	uint8_t *vm = read_kit_file("KIT_VMLINUX", "vmlinux", &vlen);
	if (!vm)
		return;
	assert_int_equal(boot_probe_kernel(vm, vlen, &info, err, sizeof(err)), 0);
	assert_int_equal(info.format, KERNEL_FORMAT_PVH_ELF);
	if (getenv("KIT_PVH_ENTRY"))
		assert_int_equal(info.entry, strtoull(getenv("KIT_PVH_ENTRY"), NULL, 0));
	req = (struct boot_request){.kernel = vm, .kernel_len = vlen, .cmdline = "console=ttyS0"};
	assert_int_equal(boot_load(&mem, &req, &e, err, sizeof(err)), 0);
	assert_int_equal(e.regs.rip, info.entry);
	free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bz_probe),
	    cmocka_unit_test(test_bz_probe_errors),
	    cmocka_unit_test_setup_teardown(test_bz_load, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_load_variants, setup_128m, teardown),
	    cmocka_unit_test(test_initrd_placement),
	    cmocka_unit_test_setup_teardown(test_e820_128m, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_e820_4g, setup_4g, teardown),
	    cmocka_unit_test(test_pvh_probe),
	    cmocka_unit_test_setup_teardown(test_pvh_load, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_hostile, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_fuzz_headers, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_real_kernels, setup_4g, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
