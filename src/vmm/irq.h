/*
 * Interrupt lines as devices see them. A device holds a struct irq_line and
 * sets its level; it never knows which accelerator delivers it. Edge-style
 * ISA devices simply drive the level they model (the IOAPIC/PIC latch the
 * rising edge). Safe to call from any thread.
 */
#ifndef EMBER_VMM_IRQ_H
#define EMBER_VMM_IRQ_H

#include <stdint.h>

typedef void (*irq_set_fn)(void *ctx, uint32_t gsi, int level);

struct irq_line {
	irq_set_fn set;
	void *ctx;
	uint32_t gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->ctx, line->gsi, level);
}

#endif
