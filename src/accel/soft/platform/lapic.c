/*
 * Local APIC registers, IA32_APIC_BASE and interrupt acceptance (Intel SDM
 * vol. 3A chapter 11 "Advanced Programmable Interrupt Controller (APIC)";
 * 11.12 for x2APIC). The timer is in lapic_timer.c, destination matching
 * and the APIC bus in apic_bus.c.
 *
 * IRR/TMR are word arrays of atomics: senders on other threads set bits and
 * then kick the owner, which moves them to ISR on acknowledge.
 */
#include <string.h>

#include "accel/soft/platform/platform_internal.h"
#include "arch/x86/layout.h"

#define RELAXED memory_order_relaxed

/*
 * Writable bits of each LVT register (SDM figure 11-8): vector and mask;
 * the timer adds its mode (TSC deadline included), thermal/perf the delivery
 * mode, LINT0/1 also polarity and trigger mode.
 */
static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_TIMER] = 0x700ff, [LVT_THERMAL] = 0x107ff, [LVT_PERF] = 0x107ff,
    [LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff,   [LVT_ERROR] = 0x100ff,
};

#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)

#define ICR_DELIVERY_STATUS (1u << 12)
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)

static uint32_t lapic_state(const struct lapic *l)
{
	return atomic_load_explicit(&l->state, RELAXED);
}

static bool lapic_x2apic(const struct lapic *l)
{
	return lapic_state(l) & LAPIC_X2APIC;
}

/* Highest set bit of a 256-bit register, or -1. */
static int highest_bit(const uint32_t reg[8])
{
	for (int w = 7; w >= 0; w--)
		if (reg[w])
			return w * 32 + 31 - __builtin_clz(reg[w]);
	return -1;
}

static int highest_irr(struct lapic *l)
{
	uint32_t irr[8];
	for (int w = 0; w < 8; w++)
		irr[w] = atomic_load_explicit(&l->irr[w], RELAXED);
	return highest_bit(irr);
}

/* The processor priority (SDM 11.8.3.1). */
static uint32_t lapic_ppr(const struct lapic *l)
{
	int isrv = highest_bit(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

int lapic_pending_vector(struct lapic *l)
{
	if (!(lapic_state(l) & LAPIC_HW_ENABLED))
		return -1;
	int v = highest_irr(l);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_ppr(l) & 0xf0))
		return -1;
	return v;
}

int lapic_ack(struct lapic *l)
{
	int v = lapic_pending_vector(l);
	if (v < 0)
		return -1;
	atomic_fetch_and_explicit(&l->irr[v / 32], ~(1u << (v % 32)), memory_order_acquire);
	l->isr[v / 32] |= 1u << (v % 32);
	return v;
}

bool lapic_accepts_pic(struct lapic *l)
{
	if (!(lapic_state(l) & LAPIC_HW_ENABLED))
		return true; /* the APIC is out of the way: INTR goes straight in */
	uint32_t lint0 = l->lvt[LVT_LINT0];
	return !(lint0 & APIC_LVT_MASKED) && ((lint0 >> 8) & 7) == APIC_DM_EXTINT;
}

/* Something may have become deliverable (owner thread). */
static void lapic_recheck(struct lapic *l)
{
	if (lapic_pending_vector(l) >= 0)
		platform_kick(l->p, l->index, PLATFORM_INT_EXTERNAL);
}

static void lapic_eoi(struct lapic *l)
{
	int v = highest_bit(l->isr);
	if (v < 0)
		return;
	l->isr[v / 32] &= ~(1u << (v % 32));
	if (atomic_load_explicit(&l->tmr[v / 32], RELAXED) & (1u << (v % 32)))
		ioapic_eoi(&l->p->ioapic, (uint8_t)v);
	lapic_recheck(l);
}

bool lapic_accept(struct lapic *l, const struct apic_msg *msg)
{
	uint32_t state = lapic_state(l);
	if (!(state & LAPIC_HW_ENABLED))
		return false;
	switch (msg->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST: {
		if (!(state & LAPIC_SW_ENABLED))
			return false; /* as KVM: a software-disabled APIC drops them */
		if (msg->vector < 16) {
			atomic_fetch_or(&l->esr_pending, ESR_RECV_ILLEGAL_VECTOR);
			return false;
		}
		unsigned w = msg->vector / 32;
		uint32_t bit = 1u << (msg->vector % 32);
		if (msg->level)
			atomic_fetch_or_explicit(&l->tmr[w], bit, RELAXED);
		else
			atomic_fetch_and_explicit(&l->tmr[w], ~bit, RELAXED);
		atomic_fetch_or_explicit(&l->irr[w], bit, memory_order_release);
		platform_kick(l->p, l->index, PLATFORM_INT_EXTERNAL);
		break;
	}
	case APIC_DM_NMI:
		platform_kick(l->p, l->index, PLATFORM_INT_NMI);
		break;
	case APIC_DM_INIT:
		platform_kick(l->p, l->index, PLATFORM_INT_INIT);
		break;
	case APIC_DM_STARTUP:
		atomic_store(&l->sipi_vector, msg->vector);
		platform_kick(l->p, l->index, PLATFORM_INT_SIPI);
		break;
	case APIC_DM_EXTINT:
		atomic_store(&l->extint, 1);
		platform_kick(l->p, l->index, PLATFORM_INT_EXTERNAL);
		break;
	default: /* SMI and reserved modes: no SMM here */
		return false;
	}
	return true;
}

void lapic_local_interrupt(struct lapic *l, enum lapic_lvt lvt)
{
	uint32_t e = l->lvt[lvt];
	if (e & APIC_LVT_MASKED)
		return;
	uint8_t mode = lvt == LVT_TIMER ? APIC_DM_FIXED : (e >> 8) & 7;
	/* Only LINT0/1 may be level-triggered (bit 15). */
	bool level = (lvt == LVT_LINT0 || lvt == LVT_LINT1) && (e & (1u << 15));
	struct apic_msg msg = {.vector = e & 0xff, .mode = mode, .level = level, .src = l->index};
	lapic_accept(l, &msg);
}

static void lapic_raise_error(struct lapic *l, uint32_t bits)
{
	atomic_fetch_or(&l->esr_pending, bits);
	lapic_local_interrupt(l, LVT_ERROR);
}

/* A write of the ICR's low word (xAPIC) or of the whole ICR (x2APIC). */
static void lapic_send_ipi(struct lapic *l)
{
	uint32_t lo = l->icr_lo;
	bool x2 = lapic_x2apic(l);
	struct apic_msg msg = {
	    .vector = lo & 0xff,
	    .mode = (lo >> 8) & 7,
	    .logical = lo & (1u << 11),
	    .shorthand = (lo >> 18) & 3,
	    .x2apic = x2,
	    .dest = x2 ? l->icr_hi : l->icr_hi >> 24,
	    .src = l->index,
	};
	/* INIT level de-assert (the 82489DX's arbitration id sync): nothing. */
	if (msg.mode == APIC_DM_INIT && (lo & ICR_TRIGGER_LEVEL) && !(lo & ICR_LEVEL_ASSERT))
		return;
	if ((msg.mode == APIC_DM_FIXED || msg.mode == APIC_DM_LOWEST) && msg.vector < 16) {
		lapic_raise_error(l, ESR_SEND_ILLEGAL_VECTOR);
		return;
	}
	platform_deliver(l->p, &msg);
}

static void lapic_set_svr(struct lapic *l, uint32_t val)
{
	l->svr = val & 0x3ff; /* vector, enable, focus check (no EOI suppression) */
	if (val & APIC_SVR_ENABLE) {
		atomic_fetch_or(&l->state, LAPIC_SW_ENABLED);
		lapic_recheck(l);
		return;
	}
	atomic_fetch_and(&l->state, ~LAPIC_SW_ENABLED);
	/* Software disable masks every LVT entry (SDM 11.4.7.2). */
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] |= APIC_LVT_MASKED;
}

static void lapic_set_lvt(struct lapic *l, enum lapic_lvt lvt, uint32_t val)
{
	uint32_t old = l->lvt[lvt];
	val &= lvt_writable[lvt];
	if (!(lapic_state(l) & LAPIC_SW_ENABLED))
		val |= APIC_LVT_MASKED;
	l->lvt[lvt] = val;
	if (lvt == LVT_TIMER)
		lapic_timer_write_lvt(l, old);
}

/*
 * Reads register reg (offset in the xAPIC page). False if it does not
 * exist in the current mode (x2APIC: #GP; xAPIC: reads as 0).
 */
static bool lapic_read_reg(struct lapic *l, uint32_t reg, uint32_t *val)
{
	bool x2 = lapic_x2apic(l);
	*val = 0;
	if (reg >= APIC_ISR && reg < APIC_ESR) {
		unsigned w = (reg & 0x70) >> 4;
		if (reg < APIC_TMR)
			*val = l->isr[w];
		else if (reg < APIC_IRR)
			*val = atomic_load_explicit(&l->tmr[w], RELAXED);
		else
			*val = atomic_load_explicit(&l->irr[w], RELAXED);
		return true;
	}
	if (reg >= APIC_LVT_TIMER && reg <= APIC_LVT_ERROR) {
		*val = l->lvt[(reg - APIC_LVT_TIMER) >> 4];
		return true;
	}
	switch (reg) {
	case APIC_ID: {
		uint32_t id = atomic_load_explicit(&l->id, RELAXED);
		*val = x2 ? id : id << 24;
		return true;
	}
	case APIC_LVR:
		*val = APIC_VERSION;
		return true;
	case APIC_TPR:
		*val = l->tpr;
		return true;
	case APIC_PPR:
		*val = lapic_ppr(l);
		return true;
	case APIC_LDR:
		*val = atomic_load_explicit(&l->ldr, RELAXED);
		return true;
	case APIC_SVR:
		*val = l->svr;
		return true;
	case APIC_ESR:
		*val = l->esr;
		return true;
	case APIC_ICR:
		*val = l->icr_lo;
		return true;
	case APIC_TMICT:
		*val = l->tmict;
		return true;
	case APIC_TMCCT:
		*val = lapic_timer_current_count(l);
		return true;
	case APIC_TDCR:
		*val = l->tdcr;
		return true;
	/* xAPIC only. */
	case APIC_APR:
		*val = l->apr;
		return !x2;
	case APIC_DFR:
		*val = atomic_load_explicit(&l->dfr, RELAXED);
		return !x2;
	case APIC_ICR2:
		*val = l->icr_hi;
		return !x2;
	case APIC_EOI: /* write-only */
	case APIC_RRD:
	default:
		return !x2;
	}
}

/* Writes register reg; false if that is a #GP in x2APIC mode. */
static bool lapic_write_reg(struct lapic *l, uint32_t reg, uint32_t val)
{
	bool x2 = lapic_x2apic(l);
	if (reg >= APIC_LVT_TIMER && reg <= APIC_LVT_ERROR) {
		lapic_set_lvt(l, (enum lapic_lvt)((reg - APIC_LVT_TIMER) >> 4), val);
		return true;
	}
	switch (reg) {
	case APIC_TPR:
		l->tpr = val & 0xff;
		lapic_recheck(l);
		return true;
	case APIC_EOI:
		if (x2 && val)
			return false;
		lapic_eoi(l);
		return true;
	case APIC_SVR:
		lapic_set_svr(l, val);
		return true;
	case APIC_ESR:
		if (x2 && val)
			return false;
		l->esr = atomic_exchange(&l->esr_pending, 0);
		return true;
	case APIC_ICR: /* xAPIC; the x2APIC's 64-bit ICR is lapic_wrmsr's */
		l->icr_lo = val & ~ICR_DELIVERY_STATUS;
		lapic_send_ipi(l);
		return true;
	case APIC_TMICT:
		l->tmict = val;
		lapic_timer_write_tmict(l);
		return true;
	case APIC_TDCR:
		l->tdcr = val & 0xb;
		lapic_timer_write_tdcr(l);
		return true;
	case APIC_SELF_IPI:
		if (x2) {
			struct apic_msg msg = {.vector = val & 0xff,
			                       .mode = APIC_DM_FIXED,
			                       .shorthand = APIC_DEST_SELF,
			                       .src = l->index};
			platform_deliver(l->p, &msg);
		}
		return x2;
	/* Writable in xAPIC mode only (read-only or absent in x2APIC). */
	case APIC_ID:
		if (!x2)
			atomic_store(&l->id, val >> 24);
		return !x2;
	case APIC_APR:
		if (!x2)
			l->apr = val & 0xff;
		return !x2;
	case APIC_LDR:
		if (!x2)
			atomic_store(&l->ldr, val & 0xff000000u);
		return !x2;
	case APIC_DFR:
		if (!x2)
			atomic_store(&l->dfr, val | 0x0fffffffu);
		return !x2;
	case APIC_ICR2:
		if (!x2)
			l->icr_hi = val & 0xff000000u;
		return !x2;
	default: /* read-only (ID, version, PPR, ISR/TMR/IRR, current count) or absent */
		return !x2;
	}
}

void lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned size, bool is_write)
{
	uint32_t reg = offset & 0xff0;
	unsigned byte = offset & 0xf;
	if (is_write) {
		/* Registers take aligned 32-bit writes; others are dropped, as KVM. */
		if (byte == 0 && size >= 4) {
			uint32_t val;
			memcpy(&val, data, 4);
			lapic_write_reg(l, reg, val);
		}
		return;
	}
	uint8_t bytes[16] = {0};
	uint32_t val;
	lapic_read_reg(l, reg, &val);
	memcpy(bytes, &val, 4);
	memcpy(data, bytes + byte, MIN(size, 16 - byte));
	if (size > 16 - byte)
		memset((uint8_t *)data + (16 - byte), 0, size - (16 - byte));
}

/* x2APIC's logical id is derived from the APIC id (SDM 11.12.10.2). */
static uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 15));
}

static void lapic_reset_registers(struct lapic *l)
{
	for (int w = 0; w < 8; w++) {
		atomic_store(&l->irr[w], 0);
		atomic_store(&l->tmr[w], 0);
		l->isr[w] = 0;
	}
	atomic_store(&l->esr_pending, 0);
	atomic_store(&l->extint, 0);
	atomic_store(&l->ldr, lapic_x2apic(l) ? x2apic_ldr(l->index) : 0);
	atomic_store(&l->dfr, 0xffffffffu);
	l->tpr = l->apr = l->esr = l->icr_lo = l->icr_hi = 0;
	l->svr = 0xff;
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = APIC_LVT_MASKED;
	l->tmict = l->tdcr = 0;
	lapic_timer_stop(l);
	l->tsc_deadline = 0;
	atomic_fetch_and(&l->state, ~LAPIC_SW_ENABLED);
}

void lapic_init(struct lapic *l, struct soft_platform *p, unsigned index)
{
	memset(l, 0, sizeof(*l));
	l->p = p;
	l->index = index;
	l->apic_base = LAYOUT_LAPIC_GPA | APIC_BASE_ENABLE | (index == 0 ? APIC_BASE_BSP : 0);
	atomic_store(&l->id, index);
	atomic_store(&l->state, LAPIC_HW_ENABLED);
	lapic_reset_registers(l);
	/* As KVM's reset: the BSP's LINT0 is an unmasked ExtINT (virtual wire). */
	if (index == 0)
		l->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
}

void lapic_init_signal(struct lapic *l)
{
	lapic_reset_registers(l);
}

static int lapic_set_apic_base(struct lapic *l, uint64_t val)
{
	const uint64_t reserved = 0xff | (1ull << 9) | ~((1ull << 52) - 1);
	bool en = val & APIC_BASE_ENABLE, extd = val & APIC_BASE_EXTD;
	uint32_t state = lapic_state(l);
	bool was_en = state & LAPIC_HW_ENABLED, was_x2 = state & LAPIC_X2APIC;
	if ((val & reserved) || (extd && !en))
		return PLATFORM_MSR_GP;
	/* SDM 11.12.5: x2APIC -> xAPIC and disabled -> x2APIC are invalid. */
	if ((was_x2 && en && !extd) || (!was_en && extd))
		return PLATFORM_MSR_GP;
	l->apic_base = (val & ~APIC_BASE_BSP) | (l->apic_base & APIC_BASE_BSP);
	if (!en) {
		if (was_en) {
			atomic_store(&l->state, 0);
			atomic_store(&l->id, l->index);
			lapic_reset_registers(l);
		}
		return 0;
	}
	if (!was_en) {
		atomic_store(&l->id, l->index);
		atomic_fetch_or(&l->state, LAPIC_HW_ENABLED);
	}
	if (extd && !was_x2) {
		atomic_store(&l->id, l->index);
		atomic_store(&l->ldr, x2apic_ldr(l->index));
		atomic_fetch_or(&l->state, LAPIC_X2APIC);
	}
	return 0;
}

/* The xAPIC register offset an x2APIC MSR maps to (SDM 11.12.1.2), or the MSR's fate. */
static int x2apic_msr_reg(const struct lapic *l, uint32_t index, uint32_t *reg)
{
	if (index < MSR_X2APIC_FIRST || index > MSR_X2APIC_LAST)
		return PLATFORM_MSR_NOT_MINE;
	if (!lapic_x2apic(l))
		return PLATFORM_MSR_GP;
	*reg = (index - MSR_X2APIC_FIRST) << 4;
	return 0;
}

int lapic_rdmsr(struct lapic *l, uint32_t index, uint64_t *value)
{
	if (index == MSR_IA32_APIC_BASE) {
		*value = l->apic_base;
		return 0;
	}
	if (index == MSR_IA32_TSC_DEADLINE) {
		*value = lapic_timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
		return 0;
	}
	uint32_t reg;
	int r = x2apic_msr_reg(l, index, &reg);
	if (r)
		return r;
	if (reg == APIC_ICR) {
		*value = (uint64_t)l->icr_hi << 32 | l->icr_lo;
		return 0;
	}
	uint32_t val;
	if (!lapic_read_reg(l, reg, &val) || reg == APIC_EOI || reg == APIC_SELF_IPI)
		return PLATFORM_MSR_GP;
	*value = val;
	return 0;
}

int lapic_wrmsr(struct lapic *l, uint32_t index, uint64_t value)
{
	if (index == MSR_IA32_APIC_BASE)
		return lapic_set_apic_base(l, value);
	if (index == MSR_IA32_TSC_DEADLINE) {
		/* Ignored outside TSC-deadline mode (SDM 11.5.4.1). */
		if (lapic_timer_mode(l) == TIMER_TSC_DEADLINE)
			lapic_timer_write_deadline(l, value);
		return 0;
	}
	uint32_t reg;
	int r = x2apic_msr_reg(l, index, &reg);
	if (r)
		return r;
	if (reg == APIC_ICR) {
		l->icr_lo = (uint32_t)value & ~ICR_DELIVERY_STATUS;
		l->icr_hi = (uint32_t)(value >> 32);
		lapic_send_ipi(l);
		return 0;
	}
	if (value >> 32)
		return PLATFORM_MSR_GP;
	return lapic_write_reg(l, reg, (uint32_t)value) ? 0 : PLATFORM_MSR_GP;
}
