/*
 * The 8254 programmable interval timer (Intel 82C54 datasheet) at ports
 * 0x40-0x43: three channels at 1.193182 MHz, channel 0 on IRQ 0, channel
 * 2's gate and output on port 0x61 (the PC's "NMI status and control").
 */
#ifndef EMBER_ACCEL_SOFT_PLATFORM_PIT_H
#define EMBER_ACCEL_SOFT_PLATFORM_PIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct soft_platform;

struct pit_channel {
	uint32_t reload;   /* the count in ticks, 1..0x10000 */
	uint64_t load_ns;  /* when counting (re)started from reload */
	uint64_t pause_ns; /* gate low: counting stopped at this time; 0 = running */
	uint8_t mode;      /* 0-5 */
	uint8_t rw_mode;   /* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool bcd;
	bool counting; /* a count was loaded (clears null count) */
	bool gate;
	bool triggered;           /* modes 1 and 5: a gate rising edge started the count */
	bool read_msb, write_msb; /* the byte flip-flops of rw mode 3 */
	uint8_t write_lsb;
	bool count_latched, status_latched;
	uint16_t latch;
	uint8_t status;
};

struct pit {
	pthread_mutex_t lock;
	struct soft_platform *p;
	struct pit_channel ch[3];
	bool speaker;        /* port 0x61 bit 1 */
	uint64_t irq_due_ns; /* channel 0's next output rising edge; 0 = none */
};

void pit_init(struct pit *pit, struct soft_platform *p);
void pit_fini(struct pit *pit);

/* A byte access from vCPU cpu; false if port is not the PIT's (0x40-0x43, 0x61). */
bool pit_pio(struct pit *pit, unsigned cpu, uint16_t port, uint8_t *val, bool is_write);
/* When IRQ 0 is next due (UINT64_MAX: never). Called by vCPU 0's loop. */
uint64_t pit_next_deadline_ns(struct pit *pit);
/* Raises IRQ 0 if due at now_ns. */
void pit_run(struct pit *pit, uint64_t now_ns);

#endif
