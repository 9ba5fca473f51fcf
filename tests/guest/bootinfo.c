/*
 * What the boot loader handed over, in one shape for both paths, and the
 * tests of it: bootparams, e820, cmdline, initrd.
 *
 * bzImage: struct boot_params (the "zero page"), Linux
 * Documentation/arch/x86/zero-page.rst and boot.rst: acpi_rsdp_addr 0x070,
 * ext_ramdisk_image 0x0c0, ext_ramdisk_size 0x0c4, ext_cmd_line_ptr 0x0c8,
 * e820_entries 0x1e8, setup header copy from 0x1f1, e820_table 0x2d0
 * (20-byte entries, at most 128).
 * PVH: struct hvm_start_info (Xen arch-x86/hvm/start_info.h), version 1:
 * magic 0, version 4, flags 8, nr_modules 12, modlist_paddr 16,
 * cmdline_paddr 24, rsdp_paddr 32, memmap_paddr 40, memmap_entries 48;
 * modules are {paddr, size, cmdline_paddr, reserved}, memory map entries
 * {addr, size, type, reserved} (24 bytes).
 */
#include "guest.h"

/* boot_params offsets */
#define BP_ACPI_RSDP         0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_BOOT_FLAG         0x1fe
#define BP_HEADER            0x202
#define BP_VERSION           0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS         0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_CMD_LINE_PTR      0x228
#define BP_CMDLINE_SIZE      0x238
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

/* hvm_start_info offsets */
#define SI_MAGIC          0
#define SI_VERSION        4
#define SI_NR_MODULES     12
#define SI_MODLIST        16
#define SI_CMDLINE        24
#define SI_RSDP           32
#define SI_MEMMAP         40
#define SI_MEMMAP_ENTRIES 48

/* What mkbzimage.py writes into our setup header. */
#define OUR_BOOT_PROTOCOL 0x020f
#define HDRS_MAGIC        0x53726448 /* "HdrS" */

static bool is_pvh(uint32_t path)
{
	return path == BOOT_PATH_PVH;
}

const char *boot_path_name(uint32_t path)
{
	switch (path) {
	case BOOT_PATH_BZIMAGE:
		return "bzimage";
	case BOOT_PATH_PVH:
		return "pvh";
	case BOOT_PATH_BZIMAGE32:
		return "bzimage32";
	}
	return "unknown";
}

static uint64_t cmdline_addr(uint32_t path, uint64_t raw)
{
	const uint8_t *p = phys(raw);

	if (is_pvh(path))
		return rd64(p + SI_CMDLINE);
	return rd32(p + BP_CMD_LINE_PTR) | (uint64_t)rd32(p + BP_EXT_CMD_LINE_PTR) << 32;
}

const char *boot_cmdline(uint32_t path, uint64_t raw)
{
	uint64_t a = cmdline_addr(path, raw);

	if (a == 0 || a >= LAYOUT_MMIO_HOLE_END)
		return "";
	return phys(a);
}

void boot_info_collect(struct boot_info *bi, uint32_t path, uint64_t raw)
{
	const uint8_t *p = phys(raw);

	memset(bi, 0, sizeof(*bi) - sizeof(bi->mem));
	bi->path = path;
	bi->raw = raw;
	bi->cmdline_addr = cmdline_addr(path, raw);
	bi->cmdline = boot_cmdline(path, raw);

	if (is_pvh(path)) {
		bi->rsdp = rd64(p + SI_RSDP);
		if (rd32(p + SI_NR_MODULES) >= 1 && rd64(p + SI_MODLIST)) {
			const uint8_t *mod = phys(rd64(p + SI_MODLIST));
			bi->initrd_addr = rd64(mod);
			bi->initrd_size = rd64(mod + 8);
		}
		if (rd32(p + SI_VERSION) >= 1 && rd64(p + SI_MEMMAP)) {
			const uint8_t *e = phys(rd64(p + SI_MEMMAP));
			uint32_t n = rd32(p + SI_MEMMAP_ENTRIES);
			for (uint32_t i = 0; i < n && i < MEMMAP_MAX; i++, e += 24) {
				bi->mem[i].addr = rd64(e);
				bi->mem[i].size = rd64(e + 8);
				bi->mem[i].type = rd32(e + 16);
				bi->nr_mem++;
			}
		}
		return;
	}

	bi->rsdp = rd64(p + BP_ACPI_RSDP);
	bi->initrd_addr = rd32(p + BP_RAMDISK_IMAGE) | (uint64_t)rd32(p + BP_EXT_RAMDISK_IMAGE)
	                                                   << 32;
	bi->initrd_size = rd32(p + BP_RAMDISK_SIZE) | (uint64_t)rd32(p + BP_EXT_RAMDISK_SIZE) << 32;
	const uint8_t *e = p + BP_E820_TABLE;
	uint32_t n = p[BP_E820_ENTRIES];
	for (uint32_t i = 0; i < n && i < BP_E820_MAX; i++, e += 20) {
		bi->mem[i].addr = rd64(e);
		bi->mem[i].size = rd64(e + 8);
		bi->mem[i].type = rd32(e + 16);
		bi->nr_mem++;
	}
}

/* ---- bootparams --------------------------------------------------------------- */

static void bootparams_pvh(const struct boot_info *bi)
{
	const uint8_t *p = phys(bi->raw);
	uint32_t magic = rd32(p + SI_MAGIC), version = rd32(p + SI_VERSION);
	const char *why = NULL;

	if (magic != PVH_START_MAGIC)
		why = "bad magic";
	else if (version < 1)
		why = "version < 1 (no memory map)";
	else if (rd64(p + SI_CMDLINE) == 0)
		why = "no cmdline_paddr";
	else if (rd64(p + SI_MEMMAP) == 0 || rd32(p + SI_MEMMAP_ENTRIES) == 0)
		why = "no memory map";
	else if (rd32(p + SI_MEMMAP_ENTRIES) > MEMMAP_MAX)
		why = "memmap_entries > 128";
	else if (rd64(p + SI_RSDP) == 0)
		why = "no rsdp_paddr";
	report("bootparams", why == NULL,
	       "path=pvh info=0x%lx magic=0x%x version=%u modules=%u%s%s", bi->raw, magic, version,
	       rd32(p + SI_NR_MODULES), why ? " error=" : "", why ? why : "");
}

void test_bootparams(const struct boot_info *bi)
{
	if (is_pvh(bi->path)) {
		bootparams_pvh(bi);
		return;
	}

	const uint8_t *p = phys(bi->raw);
	uint16_t version = rd16(p + BP_VERSION);
	uint8_t loader = p[BP_TYPE_OF_LOADER];
	uint32_t cmdline_size = rd32(p + BP_CMDLINE_SIZE);
	size_t len = bi->cmdline_addr ? str_nlen(bi->cmdline, LAYOUT_CMDLINE_MAX) : 0;
	const char *why = NULL;

	if (rd16(p + BP_BOOT_FLAG) != 0xaa55)
		why = "boot_flag != 0xaa55";
	else if (rd32(p + BP_HEADER) != HDRS_MAGIC)
		why = "header != HdrS";
	else if (version != OUR_BOOT_PROTOCOL)
		why = "version differs from our header";
	else if (loader == 0)
		why = "type_of_loader is 0";
	else if (!(p[BP_LOADFLAGS] & 1))
		why = "LOADED_HIGH clear";
	else if (bi->cmdline_addr == 0)
		why = "cmd_line_ptr is 0";
	else if (bi->cmdline_addr >= LAYOUT_MMIO_HOLE_GPA)
		why = "cmd_line_ptr above low RAM";
	else if (len >= LAYOUT_CMDLINE_MAX || len > cmdline_size)
		why = "command line not NUL-terminated within cmdline_size";
	else if (p[BP_E820_ENTRIES] == 0 || p[BP_E820_ENTRIES] > BP_E820_MAX)
		why = "e820_entries out of range";
	report("bootparams", why == NULL,
	       "path=%s zeropage=0x%lx version=0x%x loader=0x%x cmdline=0x%lx len=%u%s%s",
	       boot_path_name(bi->path), bi->raw, version, loader, bi->cmdline_addr, (unsigned)len,
	       why ? " error=" : "", why ? why : "");
}

/* ---- e820 ------------------------------------------------------------------------ */

void test_e820(const struct boot_info *bi, const struct guest_config *cfg)
{
	const uint64_t mib = 1ULL << 20;
	uint64_t ram = 0;
	bool ram_at_1m = false;
	const char *why = NULL;

	if (bi->nr_mem == 0) {
		report("e820", false, "empty memory map");
		return;
	}
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_range *m = &bi->mem[i];
		uint64_t end = m->addr + m->size;
		if (m->size == 0 && !why)
			why = "zero-sized entry";
		if (end < m->addr && !why)
			why = "entry wraps";
		if (i > 0 && !why) {
			const struct mem_range *prev = &bi->mem[i - 1];
			if (m->addr < prev->addr)
				why = "not sorted";
			else if (m->addr < prev->addr + prev->size)
				why = "overlap";
		}
		if (m->type == 1) {
			ram += m->size;
			if (m->addr == LAYOUT_HIMEM_GPA)
				ram_at_1m = true;
			if (m->addr < LAYOUT_MMIO_HOLE_END && end > LAYOUT_MMIO_HOLE_GPA && !why)
				why = "RAM in the 32-bit MMIO hole";
		}
	}
	if (!why && bi->mem[0].addr != 0)
		why = "first entry not at 0";
	if (!why && !ram_at_1m)
		why = "no RAM entry at 1 MiB";
	if (!why && cfg->mem_mib) {
		uint64_t want = cfg->mem_mib * mib;
		if (ram + mib < want || ram > want + mib)
			why = "RAM total not within 1 MiB of ember.mem";
	}
	report("e820", why == NULL, "entries=%u ram=0x%lx ram_kib=%lu mem_mib=%lu%s%s", bi->nr_mem,
	       ram, ram >> 10, cfg->mem_mib, why ? " error=" : "", why ? why : "");
	if (why) {
		for (uint32_t i = 0; i < bi->nr_mem; i++)
			gprintf("  e820[%u] 0x%lx-0x%lx type %u\n", i, bi->mem[i].addr,
			        bi->mem[i].addr + bi->mem[i].size, bi->mem[i].type);
	}
}

/* ---- cmdline ---------------------------------------------------------------------- */

void test_cmdline(const struct boot_info *bi)
{
	size_t len;
	const char *v = cmdline_get(bi->cmdline, "ember.magic", &len);
	char token[128];

	if (!v || len == 0) {
		report("cmdline", false, "no ember.magic= token in \"%s\"", bi->cmdline);
		return;
	}
	if (len >= sizeof(token))
		len = sizeof(token) - 1;
	memcpy(token, v, len);
	token[len] = '\0';
	report("cmdline", true, "%s", token);
}

/* ---- initrd ------------------------------------------------------------------------- */

/* 32-bit FNV-1a: h = 0x811c9dc5; for each byte: h ^= b; h *= 0x01000193. */
static uint32_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint32_t h = 0x811c9dc5u;

	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

void test_initrd(const struct boot_info *bi)
{
	size_t slen, zlen;
	const char *sum = cmdline_get(bi->cmdline, "ember.initrd_sum", &slen);
	const char *size = cmdline_get(bi->cmdline, "ember.initrd_size", &zlen);
	uint64_t want_sum = 0, want_size = 0;

	if (bi->initrd_size == 0 && !sum && !size) {
		report("initrd", true, "none");
		return;
	}
	if ((sum && !parse_u64(sum, slen, 16, &want_sum)) ||
	    (size && !parse_u64(size, zlen, 10, &want_size))) {
		report("initrd", false, "bad ember.initrd_sum or ember.initrd_size");
		return;
	}
	if (bi->initrd_addr == 0 || bi->initrd_size == 0) {
		report("initrd", false, "no initrd given (addr=0x%lx size=%lu)", bi->initrd_addr,
		       bi->initrd_size);
		return;
	}
	if (bi->initrd_addr + bi->initrd_size > LAYOUT_MMIO_HOLE_GPA ||
	    bi->initrd_addr + bi->initrd_size < bi->initrd_addr) {
		report("initrd", false, "initrd 0x%lx+%lu not below the MMIO hole", bi->initrd_addr,
		       bi->initrd_size);
		return;
	}
	uint32_t h = fnv1a(phys(bi->initrd_addr), bi->initrd_size);
	bool ok = (!size || want_size == bi->initrd_size) && (!sum || want_sum == h);
	report("initrd", ok, "size=%lu fnv=%08x addr=0x%lx%s", bi->initrd_size, h, bi->initrd_addr,
	       ok ? "" : " error=mismatch");
}
