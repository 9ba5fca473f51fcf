/*
 * The 8254 PIT (Intel 82C54 datasheet: control word, counter latch,
 * read-back, modes 0-5, access modes, BCD). Nothing ticks in the
 * background: counts and outputs are computed from CLOCK_MONOTONIC at the
 * access, and channel 0's next output rising edge is a deadline that vCPU
 * 0's loop services (pit_run), raising IRQ 0 as an edge.
 *
 * A periodic channel 0 that fell behind fires once and realigns, like the
 * local APIC timer: Linux keeps time with the TSC, not by counting ticks.
 *
 * Linux's PIT uses: the i8253 clockevent (mode 2 periodic / mode 0 one-shot
 * on channel 0, until the local APIC timer takes over) and the TSC
 * calibration fallbacks, which run channel 2 in mode 0 with the gate on
 * port 0x61 and poll its output (bit 5) or read its count's MSB.
 */
#include <string.h>

#include "accel/soft/platform/platform_internal.h"

#define PORT_61_GATE2   0x01
#define PORT_61_SPEAKER 0x02
#define PORT_61_REFRESH 0x10
#define PORT_61_OUT2    0x20
/* DRAM refresh toggles bit 4 about every 15 us; BIOS-era delay loops poll it. */
#define REFRESH_NS 15085u

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PLATFORM_PIT_HZ / 1000000000u);
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * 1000000000u + PLATFORM_PIT_HZ - 1) /
	                  PLATFORM_PIT_HZ);
}

void pit_init(struct pit *pit, struct soft_platform *p)
{
	memset(pit, 0, sizeof(*pit));
	pthread_mutex_init(&pit->lock, NULL);
	pit->p = p;
	for (int i = 0; i < 3; i++) {
		pit->ch[i].reload = 0x10000;
		pit->ch[i].rw_mode = 3;
		pit->ch[i].gate = i != 2; /* channel 2's gate is port 0x61 bit 0, off */
	}
}

void pit_fini(struct pit *pit)
{
	pthread_mutex_destroy(&pit->lock);
}

/* Ticks counted since the load (frozen while the gate holds the count). */
static uint64_t channel_elapsed(const struct pit_channel *c, uint64_t now)
{
	uint64_t t = c->pause_ns ? c->pause_ns : now;
	return t > c->load_ns ? ns_to_ticks(t - c->load_ns) : 0;
}

/* Modes 1 and 5 wait for a gate edge; the others count once loaded. */
static bool channel_started(const struct pit_channel *c)
{
	return c->counting && ((c->mode != 1 && c->mode != 5) || c->triggered);
}

static uint32_t channel_count(const struct pit_channel *c, uint64_t now)
{
	if (!channel_started(c))
		return c->reload & 0xffff;
	uint64_t d = channel_elapsed(c, now);
	switch (c->mode) {
	case 2:
		return c->reload - (uint32_t)(d % c->reload);
	case 3: /* counts down by two, twice per period */
		return (c->reload - (uint32_t)((2 * d) % c->reload)) & 0xfffe;
	default: /* 0, 1, 4, 5: down to 0, then on from 0xffff */
		return (uint32_t)(c->reload - d) & 0xffff;
	}
}

static bool channel_output(const struct pit_channel *c, uint64_t now)
{
	if (!c->counting)
		return c->mode != 0; /* after the control word: mode 0 low, others high */
	if (!channel_started(c))
		return true;
	if ((c->mode == 2 || c->mode == 3) && !c->gate)
		return true;
	uint64_t d = channel_elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		return d >= c->reload;
	case 2:
		return d % c->reload != c->reload - 1;
	case 3:
		return d % c->reload < (c->reload + 1) / 2;
	default: /* 4, 5: a one-tick low strobe at the terminal count */
		return d != c->reload;
	}
}

/* Channel 0's next output rising edge after now (IRQ 0), or 0. */
static uint64_t channel0_next_edge(const struct pit_channel *c, uint64_t now)
{
	if (!channel_started(c))
		return 0;
	uint64_t d = channel_elapsed(c, now), edge;
	switch (c->mode) {
	case 0:
	case 4:
		edge = c->mode == 0 ? c->reload : c->reload + 1ull;
		if (d >= edge)
			return 0;
		break;
	case 2:
	case 3:
		edge = (d / c->reload + 1) * c->reload;
		break;
	default:
		return 0;
	}
	return c->load_ns + ticks_to_ns(edge);
}

static void pit_schedule(struct pit *pit, unsigned cpu, uint64_t now)
{
	uint64_t old = pit->irq_due_ns;
	pit->irq_due_ns = channel0_next_edge(&pit->ch[0], now);
	/* vCPU 0 may be asleep with the old deadline. */
	if (pit->irq_due_ns != old && cpu != 0)
		platform_kick(pit->p, 0, PLATFORM_INT_TIMER);
}

static uint32_t from_bcd(uint32_t v)
{
	return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 +
	       ((v >> 12) & 0xf) * 1000;
}

static uint32_t to_bcd(uint32_t v)
{
	v %= 10000;
	return (v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000) << 12;
}

static void channel_load(struct pit *pit, unsigned cpu, unsigned n, uint32_t value, uint64_t now)
{
	struct pit_channel *c = &pit->ch[n];
	if (c->bcd)
		value = from_bcd(value);
	c->reload = value ? value : (c->bcd ? 10000 : 0x10000);
	c->counting = true;
	c->triggered = false;
	c->load_ns = now;
	/* Gate low holds modes 0 and 4 (counting resumes on the rising edge). */
	c->pause_ns = (!c->gate && (c->mode == 0 || c->mode == 4)) ? now : 0;
	if (n == 0)
		pit_schedule(pit, cpu, now);
}

static void channel_set_gate(struct pit_channel *c, bool gate, uint64_t now)
{
	if (gate == c->gate)
		return;
	c->gate = gate;
	switch (c->mode) {
	case 0:
	case 4:
		if (!gate) {
			c->pause_ns = now;
		} else if (c->pause_ns) {
			c->load_ns += now - c->pause_ns;
			c->pause_ns = 0;
		}
		break;
	default: /* 1, 2, 3, 5: a rising edge (re)starts the count */
		if (gate) {
			c->load_ns = now;
			c->pause_ns = 0;
			c->triggered = true;
		} else if (c->mode == 2 || c->mode == 3) {
			c->pause_ns = now;
		}
		break;
	}
}

static void channel_latch_count(struct pit_channel *c, uint64_t now)
{
	if (c->count_latched)
		return;
	uint32_t count = channel_count(c, now);
	c->latch = (uint16_t)(c->bcd ? to_bcd(count) : count);
	c->count_latched = true;
	c->read_msb = false;
}

static void channel_latch_status(struct pit_channel *c, uint64_t now)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(channel_output(c, now) << 7 | !c->counting << 6 | c->rw_mode << 4 |
	                      c->mode << 1 | c->bcd);
	c->status_latched = true;
}

static void pit_write_control(struct pit *pit, unsigned cpu, uint8_t val, uint64_t now)
{
	unsigned sc = val >> 6, rw = (val >> 4) & 3;
	if (sc == 3) { /* read-back: bit 5 = don't latch count, bit 4 = don't latch status */
		for (unsigned n = 0; n < 3; n++) {
			if (!(val & (2u << n)))
				continue;
			if (!(val & 0x20))
				channel_latch_count(&pit->ch[n], now);
			if (!(val & 0x10))
				channel_latch_status(&pit->ch[n], now);
		}
		return;
	}
	struct pit_channel *c = &pit->ch[sc];
	if (rw == 0) {
		channel_latch_count(c, now);
		return;
	}
	unsigned mode = (val >> 1) & 7;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode); /* 6, 7 are 2, 3 */
	c->rw_mode = (uint8_t)rw;
	c->bcd = val & 1;
	c->counting = false;
	c->triggered = false;
	c->pause_ns = 0;
	c->read_msb = c->write_msb = false;
	c->count_latched = c->status_latched = false;
	if (sc == 0)
		pit_schedule(pit, cpu, now);
}

static uint8_t channel_read(struct pit_channel *c, uint64_t now)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint32_t count;
	if (c->count_latched) {
		count = c->latch;
	} else {
		count = channel_count(c, now);
		if (c->bcd)
			count = to_bcd(count);
	}
	bool msb = c->rw_mode == 2 || (c->rw_mode == 3 && c->read_msb);
	if (c->rw_mode == 3)
		c->read_msb = !c->read_msb;
	if (c->count_latched && (c->rw_mode != 3 || !c->read_msb))
		c->count_latched = false; /* all bytes of the latch were read */
	return msb ? (uint8_t)(count >> 8) : (uint8_t)count;
}

static void channel_write(struct pit *pit, unsigned cpu, unsigned n, uint8_t val, uint64_t now)
{
	struct pit_channel *c = &pit->ch[n];
	switch (c->rw_mode) {
	case 1:
		channel_load(pit, cpu, n, val, now);
		break;
	case 2:
		channel_load(pit, cpu, n, (uint32_t)val << 8, now);
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = val;
		} else {
			channel_load(pit, cpu, n, c->write_lsb | (uint32_t)val << 8, now);
		}
		c->write_msb = !c->write_msb;
		break;
	}
}

bool pit_pio(struct pit *pit, unsigned cpu, uint16_t port, uint8_t *val, bool is_write)
{
	if ((port < 0x40 || port > 0x43) && port != 0x61)
		return false;
	uint64_t now = platform_now(pit->p);
	pthread_mutex_lock(&pit->lock);
	struct pit_channel *c2 = &pit->ch[2];
	if (port == 0x61) {
		if (is_write) {
			channel_set_gate(c2, *val & PORT_61_GATE2, now);
			pit->speaker = *val & PORT_61_SPEAKER;
		} else {
			*val = (uint8_t)((c2->gate ? PORT_61_GATE2 : 0) |
			                 (pit->speaker ? PORT_61_SPEAKER : 0) |
			                 ((now / REFRESH_NS) & 1 ? PORT_61_REFRESH : 0) |
			                 (channel_output(c2, now) ? PORT_61_OUT2 : 0));
		}
	} else if (port == 0x43) {
		if (is_write)
			pit_write_control(pit, cpu, *val, now);
		else
			*val = 0xff; /* the control word register cannot be read */
	} else if (is_write) {
		channel_write(pit, cpu, port - 0x40u, *val, now);
	} else {
		*val = channel_read(&pit->ch[port - 0x40], now);
	}
	pthread_mutex_unlock(&pit->lock);
	return true;
}

uint64_t pit_next_deadline_ns(struct pit *pit)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t due = pit->irq_due_ns;
	pthread_mutex_unlock(&pit->lock);
	return due ? due : UINT64_MAX;
}

void pit_run(struct pit *pit, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	bool fire = pit->irq_due_ns && now_ns >= pit->irq_due_ns;
	if (fire)
		pit_schedule(pit, 0, now_ns);
	pthread_mutex_unlock(&pit->lock);
	if (fire) { /* an edge: the IOAPIC and the PIC latch the rise */
		platform_set_irq(pit->p, 0, 1);
		platform_set_irq(pit->p, 0, 0);
	}
}
