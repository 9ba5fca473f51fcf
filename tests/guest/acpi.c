/*
 * ACPI as an OS sees it (ACPI 6.x, chapter 5.2): RSDP (both checksums) ->
 * XSDT -> FADT (flags, X_DSDT, the hardware-reduced sleep control and
 * reset registers) -> DSDT (\_S5_ package) and MADT (local APIC entries).
 * The `acpi` test, and the FADT-driven ways to power off and reset.
 */
#include "guest.h"

#define SDT_HEADER_LEN 36
#define TABLE_MAX_LEN  (1u << 20)
#define BELOW_4G       0x100000000ULL

/* FADT offsets */
#define FADT_DSDT              40
#define FADT_PM1A_CNT_BLK      64
#define FADT_FLAGS             112
#define FADT_RESET_REG         116
#define FADT_RESET_VALUE       128
#define FADT_X_DSDT            140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256
#define FADT_LEN_V5            268 /* through SLEEP_STATUS_REG */
#define FADT_HW_REDUCED_ACPI   (1u << 20)
#define FADT_RESET_REG_SUP     (1u << 10)

/* Generic Address Structure */
#define GAS_SPACE_MEMORY 0
#define GAS_SPACE_IO     1

static struct acpi_info acpi;

static void fail(const char *why)
{
	if (!acpi.error)
		acpi.error = why;
}

static bool sum_ok(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

/* A system description table at addr, checked for length and checksum. */
static const uint8_t *table_at(uint64_t addr, const char *sig, const char *bad)
{
	if (addr == 0 || addr >= BELOW_4G - SDT_HEADER_LEN) {
		fail(bad);
		return NULL;
	}
	const uint8_t *p = phys(addr);
	uint32_t len = rd32(p + 4);
	if (len < SDT_HEADER_LEN || len > TABLE_MAX_LEN || addr + len > BELOW_4G ||
	    (sig && memcmp(p, sig, 4) != 0)) {
		fail(bad);
		return NULL;
	}
	if (!sum_ok(p, len)) {
		fail(bad);
		return NULL;
	}
	return p;
}

/* \_S5_: NameOp "_S5_" PackageOp PkgLength NumElements {SLP_TYPa, ...} */
static int find_s5(const uint8_t *dsdt)
{
	uint32_t len = rd32(dsdt + 4);

	for (uint32_t i = SDT_HEADER_LEN; i + 8 < len; i++) {
		if (rd32(dsdt + i) != 0x5f35535f /* "_S5_" */ || dsdt[i + 4] != 0x12)
			continue;
		uint32_t j = i + 5;
		j += 1 + (dsdt[j] >> 6); /* PkgLength: bits 7:6 count the bytes that follow */
		j++;                     /* NumElements */
		if (j + 1 >= len)
			return -1;
		switch (dsdt[j]) {
		case 0x00: /* ZeroOp */
			return 0;
		case 0x01: /* OneOp */
			return 1;
		case 0x0a: /* BytePrefix */
		case 0x0b: /* WordPrefix */
		case 0x0c: /* DWordPrefix */
			return dsdt[j + 1];
		default:
			return -1;
		}
	}
	return -1;
}

static void parse_madt(const uint8_t *madt)
{
	uint32_t len = rd32(madt + 4);

	for (uint32_t off = 44; off + 2 <= len;) {
		uint8_t type = madt[off], elen = madt[off + 1];
		if (elen < 2 || off + elen > len) {
			fail("MADT entry overruns the table");
			return;
		}
		if (type == 0 && elen >= 8) {
			if (acpi.nr_lapics < ACPI_MAX_CPUS) {
				acpi.apic_ids[acpi.nr_lapics] = madt[off + 3];
				acpi.apic_flags[acpi.nr_lapics] = madt[off + 4];
			}
			acpi.nr_lapics++;
			if (madt[off + 4] & 1)
				acpi.nr_lapics_enabled++;
		} else if (type == 1) {
			acpi.nr_ioapics++;
		} else if (type == 9) {
			acpi.nr_x2apics++;
		}
		off += elen;
	}
}

const struct acpi_info *acpi_scan(const struct boot_info *bi)
{
	if (acpi.scanned)
		return &acpi;
	acpi.scanned = true;
	acpi.s5_slp_typ = -1;
	acpi.rsdp = bi->rsdp;

	if (bi->rsdp == 0 || bi->rsdp >= BELOW_4G - 36) {
		fail("no RSDP address");
		return &acpi;
	}
	const uint8_t *rsdp = phys(bi->rsdp);
	if (memcmp(rsdp, "RSD PTR ", 8) != 0) {
		fail("RSDP signature");
		return &acpi;
	}
	if (!sum_ok(rsdp, 20)) {
		fail("RSDP checksum");
		return &acpi;
	}
	acpi.rsdp_revision = rsdp[15];
	bool use_xsdt = false;
	if (acpi.rsdp_revision >= 2) {
		uint32_t rlen = rd32(rsdp + 20);
		if (rlen < 36 || rlen > 4096 || !sum_ok(rsdp, rlen))
			fail("RSDP extended checksum");
		acpi.xsdt = rd64(rsdp + 24);
		use_xsdt = acpi.xsdt != 0;
	}
	if (!use_xsdt)
		fail("no XSDT (RSDP revision < 2 or XSDT address 0)");

	/* The XSDT when there is one; the RSDT keeps QEMU's tables walkable. */
	const uint8_t *root = use_xsdt
	                          ? table_at(acpi.xsdt, "XSDT", "XSDT signature/length/checksum")
	                          : table_at(rd32(rsdp + 16), "RSDT", "RSDT signature/checksum");
	if (!root)
		return &acpi;
	unsigned esize = use_xsdt ? 8 : 4;
	uint32_t n = (rd32(root + 4) - SDT_HEADER_LEN) / esize;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = root + SDT_HEADER_LEN + i * esize;
		uint64_t addr = use_xsdt ? rd64(e) : rd32(e);
		const uint8_t *t = table_at(addr, NULL, "a table listed in the XSDT is bad");
		if (!t)
			continue;
		acpi.nr_tables++;
		if (memcmp(t, "FACP", 4) == 0)
			acpi.fadt = t;
		else if (memcmp(t, "APIC", 4) == 0)
			acpi.madt = t;
	}
	if (acpi.fadt) {
		uint32_t flen = rd32(acpi.fadt + 4);
		uint64_t dsdt = flen >= FADT_X_DSDT + 8 ? rd64(acpi.fadt + FADT_X_DSDT) : 0;
		if (dsdt == 0) {
			fail("FADT X_DSDT is 0");
			dsdt = rd32(acpi.fadt + FADT_DSDT);
		}
		acpi.dsdt = table_at(dsdt, "DSDT", "DSDT signature/length/checksum");
		if (acpi.dsdt)
			acpi.s5_slp_typ = find_s5(acpi.dsdt);
	} else {
		fail("no FADT (FACP)");
	}
	if (acpi.madt)
		parse_madt(acpi.madt);
	else
		fail("no MADT (APIC)");
	return &acpi;
}

/* A GAS in port space at FADT offset off, or 0. */
static uint64_t fadt_io_reg(unsigned off)
{
	if (!acpi.fadt || rd32(acpi.fadt + 4) < off + 12 || acpi.fadt[off] != GAS_SPACE_IO)
		return 0;
	return rd64(acpi.fadt + off + 4);
}

void test_acpi(const struct boot_info *bi, const struct guest_config *cfg)
{
	const struct acpi_info *a = acpi_scan(bi);
	const char *why = a->error;
	uint32_t flags = a->fadt ? rd32(a->fadt + FADT_FLAGS) : 0;
	uint64_t slp = fadt_io_reg(FADT_SLEEP_CONTROL_REG);
	uint64_t rst = fadt_io_reg(FADT_RESET_REG);
	unsigned rst_val =
	    a->fadt && rd32(a->fadt + 4) > FADT_RESET_VALUE ? a->fadt[FADT_RESET_VALUE] : 0;

	if (!why && !(flags & FADT_HW_REDUCED_ACPI))
		why = "FADT HW_REDUCED_ACPI not set";
	if (!why && rd32(a->fadt + 4) < FADT_LEN_V5)
		why = "FADT too short for the sleep registers";
	if (!why && a->s5_slp_typ < 0)
		why = "DSDT has no _S5_ package";
	if (!why && a->s5_slp_typ != LAYOUT_ACPI_S5_SLP_TYP)
		why = "_S5_ SLP_TYP differs from layout.h";
	if (!why && slp != LAYOUT_ACPI_SLEEP_CTL_PORT)
		why = "FADT sleep control register is not the layout.h port";
	if (!why && fadt_io_reg(FADT_SLEEP_STATUS_REG) != LAYOUT_ACPI_SLEEP_STS_PORT)
		why = "FADT sleep status register is not the layout.h port";
	if (!why && (rst != LAYOUT_ACPI_RESET_PORT || rst_val != LAYOUT_ACPI_RESET_VALUE ||
	             !(flags & FADT_RESET_REG_SUP)))
		why = "FADT reset register/value/RESET_REG_SUP";
	if (!why && a->nr_lapics == 0)
		why = "MADT has no local APIC";
	if (!why && cfg->cpus) {
		uint64_t seen[ACPI_MAX_CPUS / 64] = {0};
		if (a->nr_lapics != cfg->cpus)
			why = "MADT local APIC count differs from ember.cpus";
		for (unsigned i = 0; !why && i < a->nr_lapics && i < ACPI_MAX_CPUS; i++) {
			uint8_t id = a->apic_ids[i];
			if (id >= cfg->cpus)
				why = "MADT APIC id out of 0..N-1";
			else if (seen[id / 64] & (1ULL << (id % 64)))
				why = "MADT APIC id repeated";
			else if (!(a->apic_flags[i] & 1))
				why = "MADT local APIC not enabled";
			seen[id / 64] |= 1ULL << (id % 64);
		}
	}
	report("acpi", why == NULL,
	       "rsdp=0x%lx rev=%u tables=%u lapics=%u enabled=%u x2apics=%u ioapics=%u cpus=%lu "
	       "hw_reduced=%u s5=%d slp_ctl=0x%lx reset=0x%lx/0x%x%s%s",
	       a->rsdp, a->rsdp_revision, a->nr_tables, a->nr_lapics, a->nr_lapics_enabled,
	       a->nr_x2apics, a->nr_ioapics, cfg->cpus, (flags & FADT_HW_REDUCED_ACPI) ? 1 : 0,
	       a->s5_slp_typ, slp, rst, rst_val, why ? " error=" : "", why ? why : "");
}

void acpi_poweroff(const struct boot_info *bi)
{
	const struct acpi_info *a = acpi_scan(bi);
	unsigned typ = a->s5_slp_typ >= 0 ? (unsigned)a->s5_slp_typ : LAYOUT_ACPI_S5_SLP_TYP;

	if (a->fadt && (rd32(a->fadt + FADT_FLAGS) & FADT_HW_REDUCED_ACPI) &&
	    rd32(a->fadt + 4) >= FADT_LEN_V5) {
		const uint8_t *gas = a->fadt + FADT_SLEEP_CONTROL_REG;
		uint64_t addr = rd64(gas + 4);
		uint8_t val = (uint8_t)(((typ & 7) << 2) | (1 << 5)); /* SLP_TYP 4:2, SLP_EN 5 */
		if (gas[0] == GAS_SPACE_IO && addr && addr < 0x10000)
			outb((uint16_t)addr, val);
		else if (gas[0] == GAS_SPACE_MEMORY && addr && addr < BELOW_4G)
			*(volatile uint8_t *)(uintptr_t)addr = val;
	} else if (a->fadt) {
		/* Legacy PM1a control block (QEMU): SLP_TYP bits 12:10, SLP_EN bit 13. */
		uint32_t port = rd32(a->fadt + FADT_PM1A_CNT_BLK);
		if (port && port < 0x10000)
			outw((uint16_t)port, (uint16_t)(((typ & 7) << 10) | (1 << 13)));
	}
	outb(LAYOUT_ACPI_SLEEP_CTL_PORT, (LAYOUT_ACPI_S5_SLP_TYP << 2) | (1 << 5));
}

void acpi_reset(const struct boot_info *bi)
{
	const struct acpi_info *a = acpi_scan(bi);

	if (a->fadt && rd32(a->fadt + 4) > FADT_RESET_VALUE) {
		const uint8_t *gas = a->fadt + FADT_RESET_REG;
		uint64_t addr = rd64(gas + 4);
		uint8_t val = a->fadt[FADT_RESET_VALUE];
		if (gas[0] == GAS_SPACE_IO && addr && addr < 0x10000)
			outb((uint16_t)addr, val);
		else if (gas[0] == GAS_SPACE_MEMORY && addr && addr < BELOW_4G)
			*(volatile uint8_t *)(uintptr_t)addr = val;
	}
	outb(LAYOUT_ACPI_RESET_PORT, LAYOUT_ACPI_RESET_VALUE);
}
