/*
 * Unit tests for acpi.c and aml.c: every table's checksum, the pointer chain
 * RSDP -> XSDT/RSDT -> FADT/MADT -> DSDT, the FADT's hardware-reduced fields
 * (ACPI 6.5 5.2.9), MADT entries per vCPU count (5.2.12), the DSDT's _S5_
 * package and devices, the AML encodings (20.2), configuration errors, and,
 * when iasl is installed, that the DSDT disassembles and recompiles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static size_t count_occurrences(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i + n <= len; i++)
		count += memcmp(hay + i, needle, n) == 0;
	return count;
}

/* A checked table: inside the ACPI area, 16-byte aligned, right signature and checksum. */
static const uint8_t *table_at(struct guest_memory *mem, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= LAYOUT_ACPI_GPA && gpa < LAYOUT_ACPI_END);
	assert_int_equal(gpa % 16, 0);
	const uint8_t *t = guest_memory_ptr(mem, gpa, 36);
	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	uint32_t len = rd32(t + 4);
	assert_true(gpa + len <= LAYOUT_ACPI_END);
	t = guest_memory_ptr(mem, gpa, len);
	assert_int_equal(sum8(t, len), 0);
	assert_memory_equal(t + 10, "EMBER ", 6);
	assert_memory_equal(t + 16, "EMBERVM ", 8);
	assert_memory_equal(t + 28, "EMBR", 4);
	return t;
}

struct walk {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	uint64_t fadt_gpa, madt_gpa, dsdt_gpa;
};

static void walk_tables(struct guest_memory *mem, uint64_t rsdp_gpa, struct walk *w)
{
	assert_int_equal(rsdp_gpa % 16, 0);
	w->rsdp = guest_memory_ptr(mem, rsdp_gpa, 36);
	assert_memory_equal(w->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(w->rsdp, 20), 0);
	assert_int_equal(sum8(w->rsdp, 36), 0);
	assert_int_equal(w->rsdp[15], 2);
	assert_int_equal(rd32(w->rsdp + 20), 36);
	assert_memory_equal(w->rsdp + 9, "EMBER ", 6);

	w->xsdt = table_at(mem, rd64(w->rsdp + 24), "XSDT");
	assert_int_equal(rd32(w->xsdt + 4), 36 + 2 * 8);
	w->fadt_gpa = w->madt_gpa = 0;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t gpa = rd64(w->xsdt + 36 + 8 * i);
		const uint8_t *t = guest_memory_ptr(mem, gpa, 4);
		if (memcmp(t, "FACP", 4) == 0)
			w->fadt_gpa = gpa;
		else if (memcmp(t, "APIC", 4) == 0)
			w->madt_gpa = gpa;
	}
	w->fadt = table_at(mem, w->fadt_gpa, "FACP");
	w->madt = table_at(mem, w->madt_gpa, "APIC");

	/* The RSDT lists the same tables with 32-bit pointers. */
	const uint8_t *rsdt = table_at(mem, rd32(w->rsdp + 16), "RSDT");
	assert_int_equal(rd32(rsdt + 4), 36 + 2 * 4);
	assert_int_equal(rd32(rsdt + 36), rd64(w->xsdt + 36));
	assert_int_equal(rd32(rsdt + 40), rd64(w->xsdt + 44));

	w->dsdt_gpa = rd64(w->fadt + 140);
	assert_int_equal(rd32(w->fadt + 40), w->dsdt_gpa);
	w->dsdt = table_at(mem, w->dsdt_gpa, "DSDT");
	assert_int_equal(w->dsdt[8], 2);
}

static int setup_mem(void **state)
{
	struct guest_memory *mem = calloc(1, sizeof(*mem));
	if (!mem || guest_memory_init(mem, MIB(16)))
		return -1;
	*state = mem;
	return 0;
}

static int teardown_mem(void **state)
{
	guest_memory_fini(*state);
	free(*state);
	return 0;
}

static void build_ok(struct guest_memory *mem, const struct acpi_config *cfg, struct walk *w)
{
	char err[256] = "";
	uint64_t rsdp = 0;
	int ret = acpi_build(mem, cfg, &rsdp, err, sizeof(err));
	if (ret)
		print_error("acpi_build: %s\n", err);
	assert_int_equal(ret, 0);
	assert_int_equal(rsdp, LAYOUT_ACPI_GPA);
	walk_tables(mem, rsdp, w);
}

static void test_madt_per_vcpu_count(void **state)
{
	static const unsigned counts[] = {1, 2, 4, 64};

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct acpi_config cfg = {.nr_vcpus = counts[c]};
		struct walk w;
		build_ok(*state, &cfg, &w);

		const uint8_t *m = w.madt;
		uint32_t len = rd32(m + 4);
		assert_int_equal(rd32(m + 36), LAYOUT_LAPIC_GPA);
		assert_int_equal(rd32(m + 40), 1); /* PCAT_COMPAT */
		unsigned lapics = 0, ioapics = 0, nmis = 0, isos = 0;
		for (uint32_t off = 44; off < len; off += m[off + 1]) {
			const uint8_t *e = m + off;
			assert_true(e[1] >= 2 && off + e[1] <= len);
			switch (e[0]) {
			case 0:
				assert_int_equal(e[1], 8);
				assert_int_equal(e[2], lapics); /* processor UID */
				assert_int_equal(e[3], lapics); /* APIC id */
				assert_int_equal(rd32(e + 4), 1);
				lapics++;
				break;
			case 1:
				assert_int_equal(e[1], 12);
				assert_int_equal(rd32(e + 4), LAYOUT_IOAPIC_GPA);
				assert_int_equal(rd32(e + 8), 0);
				ioapics++;
				break;
			case 4:
				assert_int_equal(e[1], 6);
				assert_int_equal(e[2], 0xff);
				assert_int_equal(e[5], 1); /* LINT1 */
				nmis++;
				break;
			default:
				fail_msg("unexpected MADT entry type %u", e[0]);
			}
		}
		assert_int_equal(lapics, counts[c]);
		assert_int_equal(ioapics, 1);
		/* KVM's default routing is identity: no source overrides. */
		assert_int_equal(isos, 0);
		assert_int_equal(nmis, 1);
	}
}

static void test_fadt_fields(void **state)
{
	struct acpi_config cfg = {.nr_vcpus = 2};
	struct walk w;
	build_ok(*state, &cfg, &w);
	const uint8_t *f = w.fadt;

	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 5); /* minor revision */
	uint32_t flags = rd32(f + 112);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_true(flags & (1u << 4));  /* PWR_BUTTON: no fixed button */
	uint16_t boot = rd16(f + 109);
	assert_true(boot & (1u << 1));     /* 8042 */
	assert_true(boot & (1u << 2));     /* VGA not present */
	assert_false(boot & (1u << 3));    /* MSI works */
	assert_false(boot & (1u << 5));    /* CMOS RTC present */
	assert_int_equal(rd32(f + 36), 0); /* no FACS */
	assert_int_equal(rd64(f + 132), 0);

	static const struct {
		size_t off;
		uint16_t port;
	} gas[] = {
	    {116, LAYOUT_ACPI_RESET_PORT},
	    {244, LAYOUT_ACPI_SLEEP_CTL_PORT},
	    {256, LAYOUT_ACPI_SLEEP_STS_PORT},
	};
	for (size_t i = 0; i < sizeof(gas) / sizeof(gas[0]); i++) {
		const uint8_t *g = f + gas[i].off;
		assert_int_equal(g[0], 1); /* system I/O */
		assert_int_equal(g[1], 8);
		assert_int_equal(g[2], 0);
		assert_int_equal(g[3], 1); /* byte access */
		assert_int_equal(rd64(g + 4), gas[i].port);
	}
	assert_int_equal(f[128], LAYOUT_ACPI_RESET_VALUE);
	/* No PM1/PM timer/GPE blocks in either form. */
	for (size_t off = 56; off < 88; off++)
		assert_int_equal(f[off], 0);
	for (size_t off = 148; off < 244; off++)
		assert_int_equal(f[off], 0);
}

static void test_dsdt_contents(void **state)
{
	struct acpi_config cfg = {.nr_vcpus = 4, .nr_mmio_devices = ACPI_MAX_MMIO_DEVICES};
	for (unsigned i = 0; i < cfg.nr_mmio_devices; i++)
		cfg.mmio_devices[i] = (struct acpi_mmio_device){
		    .base = LAYOUT_VIRTIO_MMIO_GPA + i * LAYOUT_VIRTIO_MMIO_SIZE,
		    .size = LAYOUT_VIRTIO_MMIO_SIZE,
		    .gsi = 5 + i % 19,
		};
	/* One window above 4 GiB needs the QWord descriptor. */
	cfg.mmio_devices[7].base = 0x200000000ULL;
	struct walk w;
	build_ok(*state, &cfg, &w);
	const uint8_t *d = w.dsdt;
	size_t len = rd32(d + 4);

	static const uint8_t s5[] = {0x08, '_',  'S',  '5',  '_',  0x12, 0x08,
	                             0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	assert_int_equal(count_occurrences(d, len, s5, sizeof(s5)), 1);
	assert_int_equal(count_occurrences(d, len, "\x0dLNRO0005", 10), ACPI_MAX_MMIO_DEVICES);
	assert_int_equal(count_occurrences(d, len, "\x0dQEMU0001", 10), 1);
	/* EisaId("PNP0501"), ("PNP0303"), ("PNP0B00") as DWords after _HID. */
	assert_int_equal(count_occurrences(d, len, "_HID\x0c\x41\xd0\x05\x01", 9), 1);
	assert_int_equal(count_occurrences(d, len, "_HID\x0c\x41\xd0\x03\x03", 9), 1);
	assert_int_equal(count_occurrences(d, len, "_HID\x0c\x41\xd0\x0b\x00", 9), 1);
	assert_int_equal(count_occurrences(d, len, "_CCA\x01", 5), ACPI_MAX_MMIO_DEVICES);
	assert_int_equal(count_occurrences(d, len, "V000", 4), 1);
	assert_int_equal(count_occurrences(d, len, "V031", 4), 1);

	/* Memory32Fixed(ReadWrite, base, 0x1000) for device 1, QWordMemory for device 7. */
	uint8_t m32[12] = {0x86, 0x09, 0x00, 0x01};
	uint32_t base1 = (uint32_t)cfg.mmio_devices[1].base;
	memcpy(m32 + 4, &base1, 4);
	memcpy(m32 + 8, "\x00\x10\x00\x00", 4);
	assert_int_equal(count_occurrences(d, len, m32, sizeof(m32)), 1);
	assert_int_equal(count_occurrences(d, len, "\x8a\x2b\x00\x00\x0d\x01", 6), 1);
	/* Extended Interrupt: consumer, edge, active high, exclusive, GSI 6 (devices 1, 20). */
	assert_int_equal(count_occurrences(d, len, "\x89\x06\x00\x03\x01\x06\x00\x00\x00", 9), 2);
	/* COM1: IO(Decode16, 0x3f8, 0x3f8, 1, 8) and IRQNoFlags(){4}. */
	assert_int_equal(
	    count_occurrences(d, len, "\x47\x01\xf8\x03\xf8\x03\x01\x08\x22\x10\x00", 11), 1);
}

static void expect_error(struct guest_memory *mem, const struct acpi_config *cfg, int want)
{
	char err[256] = "";
	uint64_t rsdp = 0xdead;
	assert_int_equal(acpi_build(mem, cfg, &rsdp, err, sizeof(err)), want);
	assert_int_equal(rsdp, 0xdead);
	assert_true(strncmp(err, "acpi: ", 6) == 0);
}

static void test_config_errors(void **state)
{
	struct acpi_config cfg = {.nr_vcpus = 1, .nr_mmio_devices = ACPI_MAX_MMIO_DEVICES + 1};
	expect_error(*state, &cfg, -E2BIG);

	cfg.nr_mmio_devices = 0;
	cfg.nr_vcpus = 0;
	expect_error(*state, &cfg, -EINVAL);
	cfg.nr_vcpus = LAYOUT_MAX_VCPUS + 1;
	expect_error(*state, &cfg, -EINVAL);

	cfg.nr_vcpus = 1;
	cfg.nr_mmio_devices = 1;
	cfg.mmio_devices[0] = (struct acpi_mmio_device){LAYOUT_VIRTIO_MMIO_GPA, 0x1000, 24};
	expect_error(*state, &cfg, -EINVAL);
	cfg.mmio_devices[0] = (struct acpi_mmio_device){LAYOUT_VIRTIO_MMIO_GPA, 0, 5};
	expect_error(*state, &cfg, -EINVAL);
	cfg.mmio_devices[0] = (struct acpi_mmio_device){UINT64_MAX - 0xfff, 0x2000, 5};
	expect_error(*state, &cfg, -EINVAL);

	/* RAM that ends below the ACPI area. */
	struct guest_memory small;
	assert_int_equal(guest_memory_init(&small, KIB(512)), 0);
	cfg.nr_mmio_devices = 0;
	expect_error(&small, &cfg, -EFAULT);
	guest_memory_fini(&small);

	/* A NULL error buffer is allowed. */
	uint64_t rsdp;
	cfg.nr_vcpus = 0;
	assert_int_equal(acpi_build(*state, &cfg, &rsdp, NULL, 0), -EINVAL);
}

static void test_aml_pkg_length(void **state)
{
	static uint8_t buf[0x20000], body[0x10010];
	/* Body sizes that straddle each encoding's limit: 1, 2, 3 bytes. */
	static const struct {
		size_t body;
		unsigned bytes;
	} cases[] = {{0x3e, 1}, {0x3f, 2}, {0xffd, 2}, {0xffe, 3}, {0x10000, 3}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;
		aml_init(&a, buf, sizeof(buf));
		size_t mark = a.len;
		aml_bytes(&a, body, cases[i].body);
		aml_pkg_end(&a, mark);
		assert_false(a.error);
		size_t total = cases[i].body + cases[i].bytes;
		assert_int_equal(a.len, total);
		assert_int_equal(buf[0] >> 6, cases[i].bytes - 1);
		size_t decoded = cases[i].bytes == 1 ? buf[0] : buf[0] & 0xf;
		for (unsigned b = 1; b < cases[i].bytes; b++)
			decoded |= (size_t)buf[b] << (4 + 8 * (b - 1));
		assert_int_equal(decoded, total);
	}
	(void)state;
}

static void test_aml_pkg_length_4_bytes(void **state)
{
	size_t cap = 0x100010;
	uint8_t *buf = calloc(1, cap);
	struct aml a;

	assert_non_null(buf);
	aml_init(&a, buf, cap);
	a.len = 0xffffd; /* a body the 3-byte form cannot hold once it counts itself */
	aml_pkg_end(&a, 0);
	assert_false(a.error);
	assert_int_equal(a.len, 0x100001);
	assert_int_equal(buf[0], 0xc1);
	assert_int_equal(buf[1], 0x00);
	assert_int_equal(buf[2], 0x00);
	assert_int_equal(buf[3], 0x01);
	free(buf);
	(void)state;
}

static void test_aml_encodings(void **state)
{
	uint8_t buf[64];
	struct aml a;

	assert_int_equal(aml_eisaid("PNP0501"), 0x0105d041);
	assert_int_equal(aml_eisaid("PNP0A03"), 0x030ad041);
	assert_int_equal(aml_eisaid("pnp0501"), 0);
	assert_int_equal(aml_eisaid("PNP050"), 0);

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	static const uint8_t ints[] = {0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01,
	                               0x0c, 0x00, 0x00, 0x01, 0x00, 0x0e, 0x00,
	                               0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
	assert_false(a.error);
	assert_int_equal(a.len, sizeof(ints));
	assert_memory_equal(buf, ints, sizeof(ints));

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "RTC");
	aml_namestring(&a, "_SB.A.B");
	assert_false(a.error);
	assert_memory_equal(buf, "\\\x2e_SB_PCI0RTC_\x2f\x03_SB_A___B___", 28);
	assert_int_equal(a.len, 28);

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "TOOLONG");
	assert_true(a.error);
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "1BAD");
	assert_true(a.error);
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "_SB.");
	assert_true(a.error);

	/* End tag checksum: the whole template sums to zero. */
	aml_init(&a, buf, sizeof(buf));
	aml_res_io(&a, 0x3f8, 8);
	aml_res_irq(&a, 4);
	aml_res_end(&a);
	assert_false(a.error);
	assert_int_equal(a.len, 13);
	assert_int_equal(buf[11], 0x79);
	uint8_t s = 0;
	for (size_t i = 0; i < a.len; i++)
		s = (uint8_t)(s + buf[i]);
	assert_int_equal(s, 0);

	aml_init(&a, buf, sizeof(buf));
	aml_res_irq(&a, 16);
	assert_true(a.error);
	(void)state;
}

static void test_aml_overflow(void **state)
{
	uint8_t buf[8];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");
	assert_true(a.error);
	size_t len = a.len;
	aml_byte(&a, 0);
	assert_int_equal(a.len, len); /* nothing more is written */

	/* No room left for the PkgLength byte. */
	aml_init(&a, buf, sizeof(buf));
	aml_bytes(&a, "12345678", 8);
	aml_pkg_end(&a, 0);
	assert_true(a.error);
	(void)state;
}

/* Disassembles the DSDT with iasl and compiles the result again, when iasl exists. */
static void test_dsdt_iasl(void **state)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		skip();

	struct acpi_config cfg = {.nr_vcpus = 2, .nr_mmio_devices = 2};
	cfg.mmio_devices[0] = (struct acpi_mmio_device){LAYOUT_VIRTIO_MMIO_GPA, 0x1000, 5};
	cfg.mmio_devices[1] = (struct acpi_mmio_device){0x300000000ULL, 0x1000, 6};
	struct walk w;
	build_ok(*state, &cfg, &w);

	char dir[] = "/tmp/ember-acpi-XXXXXX", path[128], cmd[512];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(w.dsdt, 1, rd32(w.dsdt + 4), f), rd32(w.dsdt + 4));
	fclose(f);

	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && iasl -d dsdt.dat >log 2>&1 && grep -q 'Name (_S5, Package (0x04)' dsdt.dsl"
	    " && grep -q 'EisaId (\"PNP0501\")' dsdt.dsl && grep -q 'EisaId (\"PNP0303\")' dsdt.dsl"
	    " && grep -q 'EisaId (\"PNP0B00\")' dsdt.dsl && grep -q '\"QEMU0001\"' dsdt.dsl"
	    " && test $(grep -c '\"LNRO0005\"' dsdt.dsl) -eq 2 && grep -q QWordMemory dsdt.dsl"
	    " && iasl -p re dsdt.dsl >>log 2>&1 && grep -q ' 0 Errors, 0 Warnings' log",
	    dir);
	int ret = system(cmd);
	if (ret != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/log >&2", dir);
		(void)!system(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	assert_int_equal(ret, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_madt_per_vcpu_count, setup_mem, teardown_mem),
	    cmocka_unit_test_setup_teardown(test_fadt_fields, setup_mem, teardown_mem),
	    cmocka_unit_test_setup_teardown(test_dsdt_contents, setup_mem, teardown_mem),
	    cmocka_unit_test_setup_teardown(test_config_errors, setup_mem, teardown_mem),
	    cmocka_unit_test_setup_teardown(test_dsdt_iasl, setup_mem, teardown_mem),
	    cmocka_unit_test(test_aml_pkg_length),
	    cmocka_unit_test(test_aml_pkg_length_4_bytes),
	    cmocka_unit_test(test_aml_encodings),
	    cmocka_unit_test(test_aml_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
