/*
 * The platform of a software-CPU VM: creation, and the routing of vCPU
 * accesses, interrupt lines and timers to the LAPICs, IOAPIC, PIC and PIT.
 *
 * GSI n is IOAPIC pin n and, below 16, PIC IRQ n: ember's MADT has no
 * interrupt source override (src/arch/x86/acpi.c), matching KVM's default
 * routing, so the PIT (IRQ 0) is IOAPIC pin 0.
 */
#include <stdlib.h>
#include <string.h>

#include "accel/soft/platform/platform_internal.h"
#include "arch/x86/layout.h"

#define PAGE_MASK           0xfffull
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ull

struct soft_platform *platform_create(unsigned nr_cpus, uint32_t tsc_khz,
                                      const struct platform_callbacks *cb)
{
	if (!nr_cpus || nr_cpus > PLATFORM_MAX_CPUS || !tsc_khz || !cb || !cb->kick ||
	    !cb->now_ns || !cb->guest_tsc)
		return NULL;
	struct soft_platform *p = calloc(1, sizeof(*p) + nr_cpus * sizeof(struct lapic));
	if (!p)
		return NULL;
	p->nr_cpus = nr_cpus;
	p->tsc_khz = tsc_khz;
	p->cb = *cb;
	ioapic_init(&p->ioapic, p);
	pic_init(&p->pic, p);
	pit_init(&p->pit, p);
	for (unsigned i = 0; i < nr_cpus; i++)
		lapic_init(&p->lapic[i], p, i);
	return p;
}

void platform_destroy(struct soft_platform *p)
{
	if (!p)
		return;
	pit_fini(&p->pit);
	pic_fini(&p->pic);
	ioapic_fini(&p->ioapic);
	free(p);
}

void platform_vcpu_init_lint(struct soft_platform *p, unsigned cpu)
{
	struct lapic *l = &p->lapic[cpu];
	l->lvt[LVT_LINT0] = (l->lvt[LVT_LINT0] & ~0x700u) | APIC_DM_EXTINT << 8;
	l->lvt[LVT_LINT1] = (l->lvt[LVT_LINT1] & ~0x700u) | APIC_DM_NMI << 8;
}

void platform_vcpu_init(struct soft_platform *p, unsigned cpu)
{
	lapic_init_signal(&p->lapic[cpu]);
}

uint8_t platform_sipi_vector(struct soft_platform *p, unsigned cpu)
{
	return (uint8_t)atomic_load(&p->lapic[cpu].sipi_vector);
}

static bool platform_owns_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 ||
	       port == 0x4d1 || (port >= 0x40 && port <= 0x43) || port == 0x61;
}

bool platform_pio(struct soft_platform *p, unsigned cpu, uint16_t port, void *data, unsigned size,
                  bool is_write)
{
	if (!platform_owns_port(port))
		return false;
	/* Wider accesses are byte accesses to consecutive ports, as on ISA. */
	uint8_t *bytes = data;
	for (unsigned i = 0; i < size; i++) {
		uint16_t at = (uint16_t)(port + i);
		if (!pic_pio(&p->pic, at, &bytes[i], is_write) &&
		    !pit_pio(&p->pit, cpu, at, &bytes[i], is_write) && !is_write)
			bytes[i] = 0xff;
	}
	return true;
}

bool platform_mmio(struct soft_platform *p, unsigned cpu, uint64_t gpa, void *data, unsigned size,
                   bool is_write)
{
	if ((gpa & ~PAGE_MASK) == LAYOUT_IOAPIC_GPA) {
		ioapic_mmio(&p->ioapic, gpa & PAGE_MASK, data, size, is_write);
		return true;
	}
	struct lapic *l = &p->lapic[cpu];
	uint32_t state = atomic_load_explicit(&l->state, memory_order_relaxed);
	/* The xAPIC page decodes only in xAPIC mode (SDM 11.12.2). */
	if ((state & (LAPIC_HW_ENABLED | LAPIC_X2APIC)) != LAPIC_HW_ENABLED ||
	    (gpa & ~PAGE_MASK) != (l->apic_base & APIC_BASE_ADDR_MASK))
		return false;
	lapic_mmio(l, gpa & PAGE_MASK, data, size, is_write);
	return true;
}

int platform_rdmsr(struct soft_platform *p, unsigned cpu, uint32_t index, uint64_t *value)
{
	return lapic_rdmsr(&p->lapic[cpu], index, value);
}

int platform_wrmsr(struct soft_platform *p, unsigned cpu, uint32_t index, uint64_t value)
{
	return lapic_wrmsr(&p->lapic[cpu], index, value);
}

void platform_set_irq(struct soft_platform *p, uint32_t gsi, int level)
{
	if (gsi < 16)
		pic_set_irq(&p->pic, gsi, level);
	if (gsi < IOAPIC_PINS)
		ioapic_set_irq(&p->ioapic, gsi, level);
}

/*
 * The PIC's INTR reaches the BSP through LINT0 (ExtINT), and any vCPU that
 * an IOAPIC ExtINT message was sent to.
 */
static bool platform_pic_wired(struct soft_platform *p, unsigned cpu)
{
	struct lapic *l = &p->lapic[cpu];
	return atomic_load(&l->extint) || (cpu == 0 && lapic_accepts_pic(l));
}

int platform_intr_ack(struct soft_platform *p, unsigned cpu)
{
	struct lapic *l = &p->lapic[cpu];
	if (platform_pic_wired(p, cpu) && pic_output(&p->pic)) {
		atomic_store(&l->extint, 0);
		return pic_ack(&p->pic);
	}
	return lapic_ack(l);
}

bool platform_intr_pending(struct soft_platform *p, unsigned cpu)
{
	if (platform_pic_wired(p, cpu) && pic_output(&p->pic))
		return true;
	return lapic_pending_vector(&p->lapic[cpu]) >= 0;
}

uint64_t platform_next_deadline_ns(struct soft_platform *p, unsigned cpu)
{
	uint64_t due = lapic_timer_next_ns(&p->lapic[cpu]);
	if (cpu == 0)
		due = MIN(due, pit_next_deadline_ns(&p->pit));
	return due;
}

void platform_run_timers(struct soft_platform *p, unsigned cpu, uint64_t now_ns)
{
	lapic_timer_run(&p->lapic[cpu], now_ns);
	if (cpu == 0)
		pit_run(&p->pit, now_ns);
}
