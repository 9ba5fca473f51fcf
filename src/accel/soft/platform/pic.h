/*
 * The 8259A programmable interrupt controller pair of the PC (Intel 8259A
 * datasheet): master at 0x20/0x21, slave at 0xa0/0xa1 cascaded on IRQ 2,
 * and the edge/level control registers (ELCR) at 0x4d0/0x4d1. Its INTR
 * output reaches the CPU through LINT0 of the BSP's local APIC (ExtINT).
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_PIC_H
#define EMBER_ACCEL_SOFT_PLATFORM_PIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct soft_platform;

struct pic_chip {
	uint8_t irr, imr, isr;
	uint8_t lines; /* input levels, for edge detection */
	uint8_t elcr, elcr_mask;
	uint8_t vector_base;  /* ICW2 */
	uint8_t priority_add; /* the IRQ with the highest priority (rotation) */
	uint8_t init_step;    /* 0 ready, 1-3: expecting ICW2, ICW3, ICW4 */
	bool icw4_needed, single, auto_eoi, rotate_on_aeoi, special_fully_nested;
	bool read_isr, poll, special_mask;
};

struct pic {
	pthread_mutex_t lock;
	struct soft_platform *p;
	struct pic_chip chip[2]; /* master, slave */
	bool output;             /* INTR */
};

void pic_init(struct pic *pic, struct soft_platform *p);
void pic_fini(struct pic *pic);

/* A byte access to one of the PIC's ports; false if port is not the PIC's. */
bool pic_pio(struct pic *pic, uint16_t port, uint8_t *val, bool is_write);
/* Drives ISA IRQ irq (0-15, not 2) to level. Any thread. */
void pic_set_irq(struct pic *pic, unsigned irq, int level);
/* Whether INTR is asserted. */
bool pic_output(struct pic *pic);
/* The INTA cycle: the vector of the highest-priority request (spurious IRQ 7/15 if none). */
int pic_ack(struct pic *pic);

#endif
