/*
 * The `smp` test: start every application processor the MADT lists with
 * INIT, SIPI, SIPI through the xAPIC MMIO registers (Intel SDM vol. 3,
 * 10.6 and 8.4.4; MP spec B.4), each AP running a real-mode trampoline
 * that counts itself in low memory and halts.
 */
#include "guest.h"

#define LAPIC_ID         0x20
#define LAPIC_SVR        0xf0
#define LAPIC_ICR_LO     0x300
#define LAPIC_ICR_HI     0x310
#define ICR_INIT         0x00000500
#define ICR_STARTUP      0x00000600
#define ICR_LEVEL_ASSERT 0x00004000
#define ICR_BUSY         0x00001000
#define SVR_ENABLE       0x100

#define MSR_APIC_BASE  0x1b
#define APIC_BASE_EXTD (1u << 10)
#define APIC_BASE_EN   (1u << 11)

/* INIT/SIPI are emulated by KVM: short delays are enough. */
#define IPI_DELAY 3000
/* Bounded wait for the APs: ~5 instructions per turn. */
#define AP_WAIT_SPINS 1000000

static volatile uint32_t *lapic(unsigned reg)
{
	return (volatile uint32_t *)(uintptr_t)(LAYOUT_LAPIC_GPA + reg);
}

static void delay(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

static bool ipi(uint8_t dest, uint32_t lo)
{
	*lapic(LAPIC_ICR_HI) = (uint32_t)dest << 24;
	*lapic(LAPIC_ICR_LO) = lo;
	for (unsigned i = 0; i < 1000; i++) {
		if (!(*lapic(LAPIC_ICR_LO) & ICR_BUSY))
			return true;
		cpu_relax();
	}
	return false;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* The trampoline page must be RAM and hold nothing the boot loader gave us. */
static const char *trampoline_page_problem(const struct boot_info *bi)
{
	const uint64_t page = AP_TRAMPOLINE_GPA, size = 0x1000;
	bool ram = bi->nr_mem == 0;

	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_range *m = &bi->mem[i];
		if (m->type == 1 && m->addr <= page && m->addr + m->size >= page + size)
			ram = true;
	}
	if (!ram)
		return "trampoline page is not RAM";
	/* hvm_start_info is 56 bytes (its memory map was copied), boot_params 4 KiB. */
	if (overlaps(page, size, bi->raw, bi->path == BOOT_PATH_PVH ? 56 : 0x1000))
		return "trampoline page holds the boot structure";
	if (bi->cmdline_addr && overlaps(page, size, bi->cmdline_addr, strlen(bi->cmdline) + 1))
		return "trampoline page holds the command line";
	if (bi->initrd_size && overlaps(page, size, bi->initrd_addr, bi->initrd_size))
		return "trampoline page holds the initrd";
	return NULL;
}

void test_smp(const struct boot_info *bi, const struct guest_config *cfg)
{
	const struct acpi_info *a = acpi_scan(bi);
	uint8_t ids[ACPI_MAX_CPUS];
	unsigned n_ap = 0, cpus;
	uint64_t base = rdmsr(MSR_APIC_BASE);

	if (!(base & APIC_BASE_EN) || (base & APIC_BASE_EXTD) ||
	    (base & ~0xfffULL) != LAYOUT_LAPIC_GPA) {
		report("smp", false,
		       "cpus=1 error=APIC_BASE 0x%lx is not an enabled xAPIC at 0x%llx", base,
		       LAYOUT_LAPIC_GPA);
		return;
	}
	uint32_t bsp_id = *lapic(LAPIC_ID) >> 24;
	if (bsp_id != 0) {
		report("smp", false, "cpus=1 error=BSP APIC id is %u, not 0", bsp_id);
		return;
	}

	if (a->nr_lapics) {
		for (unsigned i = 0; i < a->nr_lapics && i < ACPI_MAX_CPUS; i++) {
			if ((a->apic_flags[i] & 1) && a->apic_ids[i] != bsp_id)
				ids[n_ap++] = a->apic_ids[i];
		}
	} else {
		/* No usable MADT: trust ember.cpus and ids 1..N-1. */
		for (unsigned i = 1; i < cfg->cpus && i < ACPI_MAX_CPUS; i++)
			ids[n_ap++] = (uint8_t)i;
	}
	cpus = n_ap + 1;
	if (n_ap == 0) {
		report("smp", cfg->cpus <= 1, "cpus=1 madt=%u", a->nr_lapics);
		return;
	}

	const char *why = trampoline_page_problem(bi);
	if (why) {
		report("smp", false, "cpus=1 error=%s", why);
		return;
	}
	volatile uint16_t *counter = (volatile uint16_t *)(uintptr_t)AP_COUNTER_GPA;
	memcpy((void *)(uintptr_t)AP_TRAMPOLINE_GPA, ap_trampoline_start,
	       (size_t)(ap_trampoline_end - ap_trampoline_start));
	*counter = 0;

	uint32_t svr = *lapic(LAPIC_SVR);
	*lapic(LAPIC_SVR) = (svr & ~0xffu) | SVR_ENABLE | 0xff;

	const uint32_t vector = AP_TRAMPOLINE_GPA >> 12;
	for (unsigned i = 0; i < n_ap; i++) {
		bool ok = ipi(ids[i], ICR_INIT | ICR_LEVEL_ASSERT);
		delay(IPI_DELAY);
		ok = ipi(ids[i], ICR_STARTUP | ICR_LEVEL_ASSERT | vector) && ok;
		delay(IPI_DELAY);
		ok = ipi(ids[i], ICR_STARTUP | ICR_LEVEL_ASSERT | vector) && ok;
		if (!ok) {
			report("smp", false, "cpus=%u error=ICR stays busy sending to APIC id %u",
			       1 + *counter, ids[i]);
			return;
		}
	}
	unsigned spins = 0;
	while (*counter < n_ap && spins < AP_WAIT_SPINS) {
		cpu_relax();
		spins++;
	}
	unsigned started = *counter;
	why = started != n_ap                    ? "not every AP came up"
	      : (cfg->cpus && cfg->cpus != cpus) ? "MADT CPU count differs from ember.cpus"
	                                         : NULL;
	report("smp", why == NULL, "cpus=%u expected=%u spins=%u%s%s", 1 + started, cpus, spins,
	       why ? " error=" : "", why ? why : "");
}
