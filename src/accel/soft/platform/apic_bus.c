/*
 * The APIC bus: which local APICs an interrupt message addresses (Intel SDM
 * vol. 3A 11.6.2 "Determining IPI Destination", 11.12.9-10 for x2APIC) and
 * MSI decoding (11.11 "Message Signalled Interrupts").
 *
 * Lowest-priority delivery picks the lowest-numbered matching vCPU: allowed
 * by the SDM (the arbitration is model specific) and what Linux expects of
 * a VM (it only uses fixed delivery on modern kernels).
 */
#include "accel/soft/platform/platform_internal.h"

#define RELAXED memory_order_relaxed

static bool logical_match_x2apic(uint32_t ldr, uint32_t dest)
{
	return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
}

bool lapic_matches(const struct lapic *l, const struct apic_msg *msg)
{
	uint32_t state = atomic_load_explicit(&l->state, RELAXED);
	if (!(state & LAPIC_HW_ENABLED))
		return false;
	uint32_t broadcast = msg->x2apic ? 0xffffffffu : 0xffu;
	if (msg->dest == broadcast)
		return true;
	if (!msg->logical)
		return msg->dest == atomic_load_explicit(&l->id, RELAXED);

	uint32_t ldr = atomic_load_explicit(&l->ldr, RELAXED);
	if (state & LAPIC_X2APIC) {
		if (msg->x2apic)
			return logical_match_x2apic(ldr, msg->dest);
		/* An 8-bit logical destination (IOAPIC, MSI): cluster in 7:4. */
		return logical_match_x2apic(ldr, (msg->dest >> 4) << 16 | (msg->dest & 0xf));
	}
	uint32_t dest = msg->dest & 0xff, id = ldr >> 24;
	if ((atomic_load_explicit(&l->dfr, RELAXED) >> 28) == 0xf)
		return dest & id;                             /* flat model: a bit per APIC */
	return (dest >> 4) == (id >> 4) && (dest & id & 0xf); /* cluster model */
}

unsigned platform_deliver(struct soft_platform *p, const struct apic_msg *msg)
{
	unsigned taken = 0;
	switch (msg->shorthand) {
	case APIC_DEST_SELF:
		return lapic_accept(&p->lapic[msg->src], msg);
	case APIC_DEST_ALL:
	case APIC_DEST_OTHERS:
		for (unsigned i = 0; i < p->nr_cpus; i++)
			if (msg->shorthand == APIC_DEST_ALL || i != msg->src)
				taken += lapic_accept(&p->lapic[i], msg);
		return taken;
	default:
		break;
	}
	for (unsigned i = 0; i < p->nr_cpus; i++) {
		if (!lapic_matches(&p->lapic[i], msg) || !lapic_accept(&p->lapic[i], msg))
			continue;
		taken++;
		if (msg->mode == APIC_DM_LOWEST)
			break;
	}
	return taken;
}

void platform_msi(struct soft_platform *p, uint64_t addr, uint32_t data)
{
	/* Address: 0xfee, destination 19:12, redirection hint 3, dest mode 2. */
	if ((addr >> 20) != 0xfee)
		return;
	struct apic_msg msg = {
	    .dest = (addr >> 12) & 0xff,
	    .logical = addr & (1u << 2),
	    .vector = data & 0xff,
	    .mode = (data >> 8) & 7,
	    /* MSIs are edge-triggered; the trigger bit only matters for remapping. */
	};
	platform_deliver(p, &msg);
}
