/*
 * ACPI tables for x86 guests, ACPI 6.5: RSDP (5.2.5), XSDT (5.2.8) plus an
 * RSDT (5.2.7) for readers that want 32-bit pointers, a hardware-reduced
 * FADT (5.2.9; hardware-reduced ACPI per 4.1), the MADT (5.2.12) and a DSDT
 * (5.2.11.1) whose AML comes from aml.c.
 *
 * The tables are assembled in host memory, checksummed (5.2.6: every byte
 * of a table sums to zero), and copied to LAYOUT_ACPI_GPA in one write, in
 * the order RSDP, XSDT, RSDT, FADT, MADT, DSDT, each 16-byte aligned.
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

/*
 * pvpanic (QEMU docs/specs/pvpanic.rst): a guest writes 1 (panicked) or 2
 * (crash loaded) to this byte port. Linux binds "QEMU0001" to its pvpanic
 * driver. To move into layout.h as LAYOUT_PVPANIC_PORT.
 */
#define ACPI_PVPANIC_PORT 0x505

#define ACPI_OEM_ID           "EMBER "
#define ACPI_OEM_TABLE_ID     "EMBERVM "
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID       "EMBR"
#define ACPI_CREATOR_REVISION 1
#define ACPI_HEADER_LEN       36
#define ACPI_HEADER_CHECKSUM  9
#define ACPI_TABLE_ALIGN      16

/* RSDP, 5.2.5.3. */
#define RSDP_LEN      36
#define RSDP_V1_LEN   20 /* the part the first checksum covers */
#define RSDP_REVISION 2

/* FADT, 5.2.9 (table 5.9): revision 6.5 is 276 bytes. */
#define FADT_LEN                  276
#define FADT_REVISION             6
#define FADT_MINOR_REVISION       5
#define FADT_DSDT                 40
#define FADT_SCI_INT              46
#define FADT_IAPC_BOOT_ARCH       109
#define FADT_FLAGS                112
#define FADT_RESET_REG            116
#define FADT_RESET_VALUE          128
#define FADT_MINOR_VERSION        131
#define FADT_X_DSDT               140
#define FADT_SLEEP_CONTROL_REG    244
#define FADT_SLEEP_STATUS_REG     256
#define FADT_HYPERVISOR_VENDOR_ID 268

/* FADT fixed feature flags (table 5.10). */
#define FADT_F_WBINVD          (1u << 0)
#define FADT_F_PROC_C1         (1u << 2)
#define FADT_F_PWR_BUTTON      (1u << 4) /* set: no fixed-feature power button */
#define FADT_F_SLP_BUTTON      (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* IA-PC boot architecture flags (table 5.11). */
#define IAPC_BOOT_ARCH_LEGACY_DEVICES  (1u << 0)
#define IAPC_BOOT_ARCH_8042            (1u << 1)
#define IAPC_BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)

/* Generic Address Structure, 5.2.3.2. */
#define GAS_LEN             12
#define GAS_SPACE_SYSTEM_IO 1
#define GAS_ACCESS_BYTE     1

/* MADT, 5.2.12. */
#define MADT_REVISION       5
#define MADT_LAPIC_ADDRESS  36
#define MADT_FLAGS          40
#define MADT_ENTRIES        44
#define MADT_PCAT_COMPAT    (1u << 0)
#define MADT_TYPE_LAPIC     0
#define MADT_TYPE_IOAPIC    1
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_LAPIC_LEN      8
#define MADT_IOAPIC_LEN     12
#define MADT_LAPIC_NMI_LEN  6
#define MADT_LAPIC_ENABLED  (1u << 0)
#define MADT_ALL_PROCESSORS 0xff
/* MPS INTI flags (table 5.26): polarity 1:0, trigger mode 3:2. */
#define MPS_INTI_ACTIVE_HIGH 0x0001
#define MPS_INTI_EDGE        0x0004

/*
 * KVM's in-kernel IOAPIC resets its ID register to 0 and ember never
 * rewrites it; the MADT reports what the register holds (as QEMU does).
 * IOAPIC and local APIC ids are separate namespaces on x86-64.
 */
#define ACPI_IOAPIC_ID 0

#define DSDT_REVISION 2 /* 2 and up: AML integers are 64-bit */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Sets p[csum] so that p[0..len) sums to zero. */
static void acpi_checksum(uint8_t *p, size_t len, size_t csum)
{
	uint8_t sum = 0;

	p[csum] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	p[csum] = (uint8_t)-sum;
}

/* The common System Description Table header (5.2.6); the checksum comes last. */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t revision)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = revision;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t + 24, ACPI_OEM_REVISION);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, ACPI_CREATOR_REVISION);
}

/* A one-byte register in port space. */
static void acpi_gas_io(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SPACE_SYSTEM_IO;
	p[1] = 8; /* register bit width */
	p[2] = 0; /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	put64(p + 4, port);
}

static void acpi_write_rsdp(uint8_t *p, uint32_t rsdt_gpa, uint64_t xsdt_gpa)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = RSDP_REVISION;
	put32(p + 16, rsdt_gpa);
	put32(p + 20, RSDP_LEN);
	put64(p + 24, xsdt_gpa);
	acpi_checksum(p, RSDP_V1_LEN, 8);
	acpi_checksum(p, RSDP_LEN, 32);
}

/* XSDT (width 8) or RSDT (width 4) listing entries[0..n). */
static void acpi_write_sdt(uint8_t *t, const char *sig, const uint64_t *entries, size_t n,
                           unsigned width)
{
	size_t len = ACPI_HEADER_LEN + n * width;

	acpi_header(t, sig, (uint32_t)len, 1);
	for (size_t i = 0; i < n; i++) {
		if (width == 8)
			put64(t + ACPI_HEADER_LEN + 8 * i, entries[i]);
		else
			put32(t + ACPI_HEADER_LEN + 4 * i, (uint32_t)entries[i]);
	}
	acpi_checksum(t, len, ACPI_HEADER_CHECKSUM);
}

static void acpi_write_fadt(uint8_t *t, uint64_t dsdt_gpa)
{
	acpi_header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* FIRMWARE_CTRL 0: a hardware-reduced platform needs no FACS. */
	put32(t + FADT_DSDT, (uint32_t)dsdt_gpa);
	/*
	 * No SCI: with HW_REDUCED_ACPI Linux neither installs an SCI handler
	 * nor fakes an SCI override, so SCI_INT stays 0 (as in Firecracker).
	 */
	put16(t + FADT_SCI_INT, 0);
	/* The i8042 (reset line) and COM1/RTC exist; there is no VGA. MSI works. */
	put16(t + FADT_IAPC_BOOT_ARCH,
	      IAPC_BOOT_ARCH_LEGACY_DEVICES | IAPC_BOOT_ARCH_8042 | IAPC_BOOT_ARCH_VGA_NOT_PRESENT);
	put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
	                          FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
	                          FADT_F_HW_REDUCED_ACPI);
	acpi_gas_io(t + FADT_RESET_REG, LAYOUT_ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = LAYOUT_ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
	put64(t + FADT_X_DSDT, dsdt_gpa);
	/* No PM1/PM2/PM timer/GPE blocks: hardware-reduced uses these two. */
	acpi_gas_io(t + FADT_SLEEP_CONTROL_REG, LAYOUT_ACPI_SLEEP_CTL_PORT);
	acpi_gas_io(t + FADT_SLEEP_STATUS_REG, LAYOUT_ACPI_SLEEP_STS_PORT);
	memcpy(t + FADT_HYPERVISOR_VENDOR_ID, "EMBERVMM", 8);
	acpi_checksum(t, FADT_LEN, ACPI_HEADER_CHECKSUM);
}

static size_t acpi_madt_len(unsigned nr_vcpus)
{
	return MADT_ENTRIES + (size_t)nr_vcpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN + MADT_LAPIC_NMI_LEN;
}

static void acpi_write_madt(uint8_t *t, unsigned nr_vcpus)
{
	size_t len = acpi_madt_len(nr_vcpus);
	uint8_t *p = t + MADT_ENTRIES;

	acpi_header(t, "APIC", (uint32_t)len, MADT_REVISION);
	put32(t + MADT_LAPIC_ADDRESS, (uint32_t)LAYOUT_LAPIC_GPA);
	/* KVM's in-kernel irqchip includes the dual 8259. */
	put32(t + MADT_FLAGS, MADT_PCAT_COMPAT);

	/* Processor UID = APIC id = vCPU index, matching CPUID leaves 1 and 0xb. */
	for (unsigned i = 0; i < nr_vcpus; i++, p += MADT_LAPIC_LEN) {
		p[0] = MADT_TYPE_LAPIC;
		p[1] = MADT_LAPIC_LEN;
		p[2] = (uint8_t)i;
		p[3] = (uint8_t)i;
		put32(p + 4, MADT_LAPIC_ENABLED);
	}

	p[0] = MADT_TYPE_IOAPIC;
	p[1] = MADT_IOAPIC_LEN;
	p[2] = ACPI_IOAPIC_ID;
	p[3] = 0;
	put32(p + 4, (uint32_t)LAYOUT_IOAPIC_GPA);
	put32(p + 8, 0); /* GSI base: pins 0..23 are GSIs 0..23 */
	p += MADT_IOAPIC_LEN;

	/*
	 * No interrupt source overrides: KVM's default GSI routing wires ISA
	 * IRQ n (the in-kernel PIT included, on IRQ 0) to IOAPIC pin n, so
	 * every ISA IRQ is identity-mapped. (QEMU's IRQ0 -> GSI 2 override
	 * matches its own routing table, not KVM's default one.)
	 */
	/* NMI arrives on LINT1 of every local APIC, edge, active high. */
	p[0] = MADT_TYPE_LAPIC_NMI;
	p[1] = MADT_LAPIC_NMI_LEN;
	p[2] = MADT_ALL_PROCESSORS;
	put16(p + 3, MPS_INTI_ACTIVE_HIGH | MPS_INTI_EDGE);
	p[5] = 1; /* LINT1 */

	acpi_checksum(t, len, ACPI_HEADER_CHECKSUM);
}

/* Name(_CRS, ResourceTemplate() {...}) from a finished descriptor list. */
static void dsdt_name_crs(struct aml *a, struct aml *res)
{
	aml_res_end(res);
	if (res->error)
		a->error = true;
	aml_name(a, "_CRS");
	aml_buffer(a, res->buf, res->len);
}

static void dsdt_legacy_devices(struct aml *a)
{
	uint8_t buf[64];
	struct aml res;
	size_t dev;

	dev = aml_device_begin(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 1);
	aml_init(&res, buf, sizeof(buf));
	aml_res_io(&res, LAYOUT_COM1_PORT, 8);
	aml_res_irq(&res, LAYOUT_COM1_GSI);
	dsdt_name_crs(a, &res);
	aml_pkg_end(a, dev);

	/* Linux's i8042 driver finds the controller through this PNP node. */
	dev = aml_device_begin(a, "PS2K");
	aml_name_eisaid(a, "_HID", "PNP0303");
	aml_init(&res, buf, sizeof(buf));
	aml_res_io(&res, LAYOUT_I8042_DATA_PORT, 1);
	aml_res_io(&res, LAYOUT_I8042_CMD_PORT, 1);
	aml_res_irq(&res, LAYOUT_I8042_GSI);
	dsdt_name_crs(a, &res);
	aml_pkg_end(a, dev);

	dev = aml_device_begin(a, "RTC");
	aml_name_eisaid(a, "_HID", "PNP0B00");
	aml_init(&res, buf, sizeof(buf));
	aml_res_io(&res, LAYOUT_RTC_PORT, 2);
	aml_res_irq(&res, LAYOUT_RTC_GSI);
	dsdt_name_crs(a, &res);
	aml_pkg_end(a, dev);

	dev = aml_device_begin(a, "PEVT");
	aml_name_string(a, "_HID", "QEMU0001");
	aml_name_integer(a, "_STA", 0x0f); /* present, enabled, shown, functioning */
	aml_init(&res, buf, sizeof(buf));
	aml_res_io(&res, ACPI_PVPANIC_PORT, 1);
	dsdt_name_crs(a, &res);
	aml_pkg_end(a, dev);
}

/* Device(Vnnn): a virtio-mmio transport as Linux's virtio_mmio ACPI match wants it. */
static void dsdt_mmio_device(struct aml *a, unsigned index, const struct acpi_mmio_device *d)
{
	uint8_t buf[64];
	struct aml res;
	char name[16];

	snprintf(name, sizeof(name), "V%03u", index);
	size_t dev = aml_device_begin(a, name);
	aml_name_string(a, "_HID", "LNRO0005");
	aml_name_integer(a, "_UID", index);
	/* Cache-coherent DMA; x86 Linux assumes it anyway, arm64 requires _CCA. */
	aml_name_integer(a, "_CCA", 1);
	aml_init(&res, buf, sizeof(buf));
	if (d->base + d->size <= LAYOUT_MMIO_HOLE_END)
		aml_res_memory32_fixed(&res, (uint32_t)d->base, (uint32_t)d->size, true);
	else
		aml_res_qword_memory(&res, d->base, d->size, true);
	/* Edge, active high, exclusive: irqfd injects a pulse per notification. */
	aml_res_ext_irq(&res, d->gsi, AML_IRQ_CONSUMER | AML_IRQ_EDGE);
	dsdt_name_crs(a, &res);
	aml_pkg_end(a, dev);
}

/* Writes the DSDT into t[0..cap); returns its length, 0 when it does not fit. */
static size_t acpi_write_dsdt(uint8_t *t, size_t cap, const struct acpi_config *cfg)
{
	struct aml a;

	if (cap < ACPI_HEADER_LEN)
		return 0;
	aml_init(&a, t + ACPI_HEADER_LEN, cap - ACPI_HEADER_LEN);

	/* \_S5_: SLP_TYPa, SLP_TYPb, reserved; Linux powers off by writing SLP_TYPa. */
	aml_name(&a, "_S5");
	size_t pkg = aml_package_begin(&a, 4);
	aml_integer(&a, LAYOUT_ACPI_S5_SLP_TYP);
	aml_integer(&a, LAYOUT_ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_pkg_end(&a, pkg);

	size_t scope = aml_scope_begin(&a, "\\_SB");
	dsdt_legacy_devices(&a);
	for (unsigned i = 0; i < cfg->nr_mmio_devices; i++)
		dsdt_mmio_device(&a, i, &cfg->mmio_devices[i]);
	aml_pkg_end(&a, scope);

	if (a.error || a.len > UINT32_MAX - ACPI_HEADER_LEN)
		return 0;
	size_t len = ACPI_HEADER_LEN + a.len;
	acpi_header(t, "DSDT", (uint32_t)len, DSDT_REVISION);
	acpi_checksum(t, len, ACPI_HEADER_CHECKSUM);
	return len;
}

static void acpi_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void acpi_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int acpi_check_config(const struct acpi_config *cfg, char *err, size_t errlen)
{
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > LAYOUT_MAX_VCPUS) {
		acpi_err(err, errlen, "acpi: %u vCPUs (1..%u supported)", cfg->nr_vcpus,
		         LAYOUT_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->nr_mmio_devices > ACPI_MAX_MMIO_DEVICES) {
		acpi_err(err, errlen, "acpi: %u virtio-mmio devices (at most %u fit)",
		         cfg->nr_mmio_devices, ACPI_MAX_MMIO_DEVICES);
		return -E2BIG;
	}
	for (unsigned i = 0; i < cfg->nr_mmio_devices; i++) {
		const struct acpi_mmio_device *d = &cfg->mmio_devices[i];
		if (d->size == 0 || d->base + d->size < d->base || d->gsi >= LAYOUT_IOAPIC_PINS) {
			acpi_err(err, errlen,
			         "acpi: virtio-mmio device %u: bad window 0x%llx+0x%llx or GSI %u",
			         i, (unsigned long long)d->base, (unsigned long long)d->size,
			         d->gsi);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Builds every table and copies them into guest memory. Runs on the
 * builder thread before the vCPUs start (and again on a reset); no locks.
 */
int acpi_build(struct guest_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
               char *err, size_t errlen)
{
	const size_t area = LAYOUT_ACPI_END - LAYOUT_ACPI_GPA;
	uint8_t *buf = NULL;
	int ret = acpi_check_config(cfg, err, errlen);

	if (ret)
		goto out;
	buf = calloc(1, area);
	if (!buf) {
		acpi_err(err, errlen, "acpi: out of memory");
		ret = -ENOMEM;
		goto out;
	}

	/* Offsets inside the area; every table but the DSDT has a known size. */
	size_t rsdp = 0;
	size_t xsdt = ALIGN_UP(rsdp + RSDP_LEN, ACPI_TABLE_ALIGN);
	size_t rsdt = ALIGN_UP(xsdt + ACPI_HEADER_LEN + 2 * 8, ACPI_TABLE_ALIGN);
	size_t fadt = ALIGN_UP(rsdt + ACPI_HEADER_LEN + 2 * 4, ACPI_TABLE_ALIGN);
	size_t madt = ALIGN_UP(fadt + FADT_LEN, ACPI_TABLE_ALIGN);
	size_t dsdt = ALIGN_UP(madt + acpi_madt_len(cfg->nr_vcpus), ACPI_TABLE_ALIGN);
	uint64_t base = LAYOUT_ACPI_GPA;

	size_t dsdt_len = dsdt < area ? acpi_write_dsdt(buf + dsdt, area - dsdt, cfg) : 0;
	if (dsdt_len == 0) {
		acpi_err(err, errlen, "acpi: tables do not fit in [0x%llx, 0x%llx)",
		         (unsigned long long)LAYOUT_ACPI_GPA, (unsigned long long)LAYOUT_ACPI_END);
		ret = -ENOSPC;
		goto out;
	}
	acpi_write_madt(buf + madt, cfg->nr_vcpus);
	acpi_write_fadt(buf + fadt, base + dsdt);
	const uint64_t entries[] = {base + fadt, base + madt};
	acpi_write_sdt(buf + xsdt, "XSDT", entries, ARRAY_SIZE(entries), 8);
	acpi_write_sdt(buf + rsdt, "RSDT", entries, ARRAY_SIZE(entries), 4);
	acpi_write_rsdp(buf + rsdp, (uint32_t)(base + rsdt), base + xsdt);

	ret = guest_memory_write(mem, base, buf, dsdt + dsdt_len);
	if (ret) {
		acpi_err(err, errlen, "acpi: guest RAM does not cover 0x%llx..0x%llx",
		         (unsigned long long)base, (unsigned long long)(base + dsdt + dsdt_len));
		goto out;
	}
	*rsdp_gpa = base + rsdp;
out:
	free(buf);
	return ret;
}
