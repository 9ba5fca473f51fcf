/*
 * A 16550A UART (COM1): the register model Linux's 8250 driver programs
 * (RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR, DLL/DLM), a 16-byte
 * receive FIFO fed from a larger host-side input buffer, and the interrupt
 * identification priorities (line status > received data > THR empty >
 * modem status). Transmitted bytes go straight to out_fd, so THR is always
 * empty again by the time the guest looks; the THRE interrupt is raised
 * when IER.ETBEI is set (or newly set) and cleared by reading IIR while it
 * is the pending source or by writing THR, as on the real chip.
 *
 * Threads: serial_access runs on vCPU threads, serial_receive on the VMM
 * thread; a mutex orders them.
 */
#ifndef EMBER_DEVICES_LEGACY_SERIAL_H
#define EMBER_DEVICES_LEGACY_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/irq.h"

#define SERIAL_PORT_COUNT 8

struct serial;

/* out_fd: where the guest's output goes (written whole; -1 drops it). */
struct serial *serial_create(const struct irq_line *irq, int out_fd);
void serial_destroy(struct serial *serial);
/* Bus handler for the 8 ports at the UART's base. */
void serial_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);
/* Queues host input for the guest; returns how many bytes were taken. */
size_t serial_receive(struct serial *serial, const uint8_t *buf, size_t len);
/* Free space in the host-side input buffer. */
size_t serial_rx_space(struct serial *serial);
/* Output bytes lost to write errors on out_fd (for metrics). */
uint64_t serial_tx_errors(struct serial *serial);

#endif
