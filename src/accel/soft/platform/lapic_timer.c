/*
 * The local APIC timer (Intel SDM vol. 3A 11.5.4): one-shot and periodic
 * modes counting at PLATFORM_LAPIC_TIMER_HZ / divider, and TSC-deadline mode
 * compared against the guest TSC. Nothing runs in the background: the
 * counter is computed from CLOCK_MONOTONIC when read, and the vCPU loop
 * asks lapic_timer_next_ns when to call lapic_timer_run.
 *
 * A periodic timer that fell behind (the vCPU thread was descheduled) fires
 * once and realigns to its period instead of replaying every lost tick.
 */
#include "accel/soft/platform/platform_internal.h"

_Static_assert(1000000000ull % PLATFORM_LAPIC_TIMER_HZ == 0, "whole ns per timer tick");
#define NS_PER_TICK (1000000000ull / PLATFORM_LAPIC_TIMER_HZ)

/* Divide configuration register: bits 0, 1 and 3 (SDM figure 11-10). */
static uint64_t lapic_timer_divider(const struct lapic *l)
{
	uint32_t v = (l->tdcr & 3) | ((l->tdcr & 8) >> 1);
	return v == 7 ? 1 : 2u << v;
}

static uint64_t lapic_timer_ns_per_count(const struct lapic *l)
{
	return lapic_timer_divider(l) * NS_PER_TICK;
}

void lapic_timer_stop(struct lapic *l)
{
	l->timer_due_ns = 0;
	l->timer_period_ns = 0;
}

/* As KVM's min_timer_period_us: a tiny periodic timer would starve the guest. */
#define MIN_PERIOD_NS 100000u

static void lapic_timer_start(struct lapic *l, uint64_t now)
{
	l->timer_period_ns = (uint64_t)l->tmict * lapic_timer_ns_per_count(l);
	if (lapic_timer_mode(l) == TIMER_PERIODIC && l->timer_period_ns < MIN_PERIOD_NS)
		l->timer_period_ns = MIN_PERIOD_NS;
	l->timer_due_ns = now + l->timer_period_ns;
}

void lapic_timer_write_lvt(struct lapic *l, uint32_t old_lvt)
{
	/* A mode change disarms the timer, as KVM does. */
	if (((old_lvt ^ l->lvt[LVT_TIMER]) >> 17) & 3) {
		lapic_timer_stop(l);
		l->tmict = 0;
		l->tsc_deadline = 0;
	}
}

void lapic_timer_write_tmict(struct lapic *l)
{
	if (lapic_timer_mode(l) == TIMER_TSC_DEADLINE)
		return; /* TMICT is ignored in TSC-deadline mode */
	lapic_timer_stop(l);
	if (l->tmict)
		lapic_timer_start(l, platform_now(l->p));
}

void lapic_timer_write_tdcr(struct lapic *l)
{
	/* The running count keeps its expiry; later periods use the new divider. */
	if (l->timer_due_ns)
		l->timer_period_ns = (uint64_t)l->tmict * lapic_timer_ns_per_count(l);
}

uint32_t lapic_timer_current_count(struct lapic *l)
{
	if (lapic_timer_mode(l) == TIMER_TSC_DEADLINE || !l->timer_due_ns || !l->timer_period_ns)
		return 0;
	uint64_t now = platform_now(l->p), left;
	if (now < l->timer_due_ns)
		left = l->timer_due_ns - now;
	else if (lapic_timer_mode(l) == TIMER_PERIODIC)
		left = l->timer_period_ns - (now - l->timer_due_ns) % l->timer_period_ns;
	else
		return 0;
	uint64_t count = left / lapic_timer_ns_per_count(l);
	return count > l->tmict ? l->tmict : (uint32_t)count;
}

static uint64_t guest_tsc(struct lapic *l)
{
	return l->p->cb.guest_tsc(l->p->cb.ctx, l->index);
}

void lapic_timer_write_deadline(struct lapic *l, uint64_t tsc)
{
	l->tsc_deadline = tsc;
	/* A deadline already in the past fires at once (SDM 11.5.4.1). */
	if (tsc && guest_tsc(l) >= tsc) {
		l->tsc_deadline = 0;
		lapic_local_interrupt(l, LVT_TIMER);
	}
}

uint64_t lapic_timer_next_ns(struct lapic *l)
{
	if (lapic_timer_mode(l) != TIMER_TSC_DEADLINE)
		return l->timer_due_ns ? l->timer_due_ns : UINT64_MAX;
	if (!l->tsc_deadline)
		return UINT64_MAX;
	uint64_t now = platform_now(l->p), tsc = guest_tsc(l);
	if (tsc >= l->tsc_deadline)
		return now;
	/* Round up so the deadline has passed when the loop wakes. */
	unsigned __int128 ns =
	    ((unsigned __int128)(l->tsc_deadline - tsc) * 1000000u + l->p->tsc_khz - 1) /
	    l->p->tsc_khz;
	return ns >= UINT64_MAX - now ? UINT64_MAX : now + (uint64_t)ns;
}

void lapic_timer_run(struct lapic *l, uint64_t now)
{
	if (lapic_timer_mode(l) == TIMER_TSC_DEADLINE) {
		if (l->tsc_deadline && guest_tsc(l) >= l->tsc_deadline) {
			l->tsc_deadline = 0;
			lapic_local_interrupt(l, LVT_TIMER);
		}
		return;
	}
	if (!l->timer_due_ns || now < l->timer_due_ns)
		return;
	if (lapic_timer_mode(l) == TIMER_PERIODIC && l->timer_period_ns) {
		uint64_t late = now - l->timer_due_ns;
		l->timer_due_ns = now + l->timer_period_ns - late % l->timer_period_ns;
	} else {
		l->timer_due_ns = 0;
	}
	lapic_local_interrupt(l, LVT_TIMER);
}
