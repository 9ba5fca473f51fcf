/*
 * The 8259A pair (Intel 8259A datasheet: ICW1-4, OCW1-3, fully nested mode
 * with rotation, auto-EOI, special mask, poll) and the ELCR of the PIIX.
 *
 * Edge inputs latch a rising edge into IRR; level inputs (ELCR bit set)
 * keep IRR set while the line is high. The slave's output is the master's
 * IRQ 2 line. Linux initialises the pair (arch/x86/kernel/i8259.c), probes
 * it and masks every line once the IOAPIC runs the show.
 */
#include <string.h>

#include "accel/soft/platform/platform_internal.h"

#define ICW1        0x10
#define ICW1_IC4    0x01
#define ICW1_SINGLE 0x02
#define OCW3        0x08
#define ICW4_AEOI   0x02
#define ICW4_SFNM   0x10
#define CASCADE_IRQ 2

enum { MASTER, SLAVE };

static void pic_chip_init(struct pic_chip *c, uint8_t elcr_mask)
{
	memset(c, 0, sizeof(*c));
	c->elcr_mask = elcr_mask;
}

void pic_init(struct pic *pic, struct soft_platform *p)
{
	memset(pic, 0, sizeof(*pic));
	pthread_mutex_init(&pic->lock, NULL);
	pic->p = p;
	/* IRQs 0, 1, 2 (master) and 8, 13 (slave) are always edge (PIIX). */
	pic_chip_init(&pic->chip[MASTER], 0xf8);
	pic_chip_init(&pic->chip[SLAVE], 0xde);
}

void pic_fini(struct pic *pic)
{
	pthread_mutex_destroy(&pic->lock);
}

static void chip_set_line(struct pic_chip *c, unsigned irq, int level)
{
	uint8_t bit = 1u << irq;
	if (c->elcr & bit) {
		c->irr = level ? c->irr | bit : c->irr & ~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit;
	}
	c->lines = level ? c->lines | bit : c->lines & ~bit;
}

/* Priority of the highest request in mask: 0 highest .. 7, 8 for none. */
static unsigned chip_priority(const struct pic_chip *c, uint8_t mask)
{
	if (!mask)
		return 8;
	unsigned prio = 0;
	while (!(mask & (1u << ((prio + c->priority_add) & 7))))
		prio++;
	return prio;
}

/* The IRQ this chip would signal now, or -1. */
static int chip_pending_irq(const struct pic_chip *c, bool master)
{
	unsigned prio = chip_priority(c, c->irr & ~c->imr);
	if (prio == 8)
		return -1;
	uint8_t in_service = c->isr;
	if (c->special_mask)
		in_service &= ~c->imr;
	/* Special fully nested: the slave may interrupt its own in-service IRQ 2. */
	if (master && c->special_fully_nested)
		in_service &= ~(1u << CASCADE_IRQ);
	if (prio >= chip_priority(c, in_service))
		return -1;
	return (int)((prio + c->priority_add) & 7);
}

/* Recomputes the cascade and INTR; kicks the BSP when INTR is asserted. */
static void pic_update(struct pic *pic)
{
	struct pic_chip *m = &pic->chip[MASTER], *s = &pic->chip[SLAVE];
	/*
	 * The cascade input follows the slave's INT like a level: a request the
	 * slave withdraws (a level line dropped) must not leave a stale IRQ 2.
	 */
	bool slave_int = chip_pending_irq(s, false) >= 0;
	m->irr = slave_int ? m->irr | 1u << CASCADE_IRQ : m->irr & ~(1u << CASCADE_IRQ);
	m->lines = slave_int ? m->lines | 1u << CASCADE_IRQ : m->lines & ~(1u << CASCADE_IRQ);
	pic->output = chip_pending_irq(m, true) >= 0;
	if (pic->output)
		platform_kick(pic->p, 0, PLATFORM_INT_EXTERNAL);
}

static void chip_intack(struct pic_chip *c, unsigned irq)
{
	uint8_t bit = 1u << irq;
	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->priority_add = (irq + 1) & 7;
	} else {
		c->isr |= bit;
	}
	if (!(c->elcr & bit))
		c->irr &= ~bit; /* level requests stay while the line is high */
}

int pic_ack(struct pic *pic)
{
	struct pic_chip *m = &pic->chip[MASTER], *s = &pic->chip[SLAVE];
	pthread_mutex_lock(&pic->lock);
	int irq = chip_pending_irq(m, true), vector;
	if (irq < 0) {
		vector = m->vector_base + 7; /* spurious IRQ 7 */
	} else if (irq == CASCADE_IRQ && !m->single) {
		int sirq = chip_pending_irq(s, false);
		if (sirq >= 0)
			chip_intack(s, (unsigned)sirq);
		else
			sirq = 7; /* spurious IRQ 15 */
		chip_intack(m, CASCADE_IRQ);
		vector = s->vector_base + sirq;
	} else {
		chip_intack(m, (unsigned)irq);
		vector = m->vector_base + irq;
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	return vector;
}

bool pic_output(struct pic *pic)
{
	pthread_mutex_lock(&pic->lock);
	bool out = pic->output;
	pthread_mutex_unlock(&pic->lock);
	return out;
}

void pic_set_irq(struct pic *pic, unsigned irq, int level)
{
	if (irq >= 16 || irq == CASCADE_IRQ)
		return;
	pthread_mutex_lock(&pic->lock);
	chip_set_line(&pic->chip[irq >> 3], irq & 7, level);
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
}

static void chip_write_icw1(struct pic_chip *c, uint8_t val)
{
	/* Edge sense reset, IMR cleared, IRQ 7 lowest, status read = IRR. */
	c->irr = c->lines & c->elcr;
	c->imr = c->isr = 0;
	c->priority_add = 0;
	c->icw4_needed = val & ICW1_IC4;
	c->single = val & ICW1_SINGLE;
	c->auto_eoi = c->rotate_on_aeoi = c->special_fully_nested = false;
	c->read_isr = c->poll = c->special_mask = false;
	c->init_step = 1;
}

static void chip_write_ocw2(struct pic_chip *c, uint8_t val)
{
	unsigned cmd = val >> 5, irq = val & 7;
	switch (cmd) {
	case 0: /* clear rotate in auto-EOI mode */
	case 4: /* set rotate in auto-EOI mode */
		c->rotate_on_aeoi = cmd == 4;
		break;
	case 1:   /* non-specific EOI */
	case 5: { /* rotate on non-specific EOI */
		unsigned prio = chip_priority(c, c->isr);
		if (prio == 8)
			break;
		irq = (prio + c->priority_add) & 7;
		c->isr &= ~(1u << irq);
		if (cmd == 5)
			c->priority_add = (irq + 1) & 7;
		break;
	}
	case 3: /* specific EOI */
		c->isr &= ~(1u << irq);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= ~(1u << irq);
		c->priority_add = (irq + 1) & 7;
		break;
	case 6: /* set priority: irq becomes the lowest */
		c->priority_add = (irq + 1) & 7;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_write_ocw3(struct pic_chip *c, uint8_t val)
{
	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)
		c->read_isr = val & 0x01;
	if (val & 0x40)
		c->special_mask = val & 0x20;
}

static void chip_write_data(struct pic_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case 1: /* ICW2 */
		c->vector_base = val & 0xf8;
		c->init_step = c->single ? (c->icw4_needed ? 3 : 0) : 2;
		break;
	case 2: /* ICW3: the cascade wiring is fixed */
		c->init_step = c->icw4_needed ? 3 : 0;
		break;
	case 3: /* ICW4 */
		c->auto_eoi = val & ICW4_AEOI;
		c->special_fully_nested = val & ICW4_SFNM;
		c->init_step = 0;
		break;
	default: /* OCW1 */
		c->imr = val;
		break;
	}
}

/* A poll command's read: acknowledges the highest request like INTA. */
static uint8_t chip_poll(struct pic *pic, struct pic_chip *c)
{
	c->poll = false;
	int irq = chip_pending_irq(c, c == &pic->chip[MASTER]);
	if (irq < 0)
		return 0;
	chip_intack(c, (unsigned)irq);
	return 0x80 | (uint8_t)irq;
}

bool pic_pio(struct pic *pic, uint16_t port, uint8_t *val, bool is_write)
{
	struct pic_chip *c;
	switch (port) {
	case 0x20:
	case 0x21:
	case 0x4d0:
		c = &pic->chip[MASTER];
		break;
	case 0xa0:
	case 0xa1:
	case 0x4d1:
		c = &pic->chip[SLAVE];
		break;
	default:
		return false;
	}
	pthread_mutex_lock(&pic->lock);
	if (port >= 0x4d0) {
		if (is_write)
			c->elcr = *val & c->elcr_mask;
		else
			*val = c->elcr;
	} else if (!is_write) {
		if (c->poll)
			*val = chip_poll(pic, c);
		else if (port & 1)
			*val = c->imr;
		else
			*val = c->read_isr ? c->isr : c->irr;
	} else if (port & 1) {
		chip_write_data(c, *val);
	} else if (*val & ICW1) {
		chip_write_icw1(c, *val);
	} else if (*val & OCW3) {
		chip_write_ocw3(c, *val);
	} else {
		chip_write_ocw2(c, *val);
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	return true;
}
