/*
 * 16550A UART after the National Semiconductor PC16550D datasheet, section 8
 * "Registers": Line Control, Line Status, FIFO Control, Interrupt
 * Identification (Table IV: priorities), Interrupt Enable, Modem Control
 * (loopback), Modem Status and Scratchpad, and the divisor latches.
 *
 * The transmitter is infinitely fast: a THR write goes to out_fd before the
 * OUT instruction completes, so THR and the shift register are always empty
 * (LSR.THRE and LSR.TEMT read 1). The THRE interrupt keeps the chip's
 * semantics, which Linux's 8250 driver depends on: it becomes pending when
 * THR empties (right after every THR write here) and when IER.ETBEI goes
 * from 0 to 1; an IIR read that reports it clears it.
 *
 * The receive FIFO is a 4 KiB host-side ring: the guest sees a FIFO that
 * holds whatever the host queued, with "received data available" pending
 * while any byte is left (the character timeout case is folded into it).
 *
 * The IRQ output is gated by MCR.OUT2, as on a PC, and is inactive in
 * loopback mode, where the datasheet forces the modem outputs (OUT2 among
 * them) to their inactive state. The line is driven only on level changes.
 *
 * Accesses wider than one byte act on the addressed register alone: writes
 * use the low byte, reads return the register in the low byte and 0xff in
 * the others (the undriven lanes of an 8-bit ISA device).
 */
#include "devices/legacy/serial.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/macros.h"

#define SERIAL_RX_RING 4096u

/* Register offsets; DLL/DLM replace RBR/THR and IER while LCR.DLAB is set. */
#define UART_RBR 0 /* read; THR on write */
#define UART_IER 1
#define UART_IIR 2 /* read; FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI  0x04
#define IER_EDSSI 0x08
#define IER_MASK  0x0f

#define IIR_MSI           0x00
#define IIR_NO_INT        0x01
#define IIR_THRI          0x02
#define IIR_RDI           0x04
#define IIR_RLSI          0x06
#define IIR_FIFOS_ENABLED 0xc0

#define FCR_FIFO_ENABLE 0x01
#define FCR_RCVR_RESET  0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

struct serial {
	pthread_mutex_t lock; /* all register state below */
	/* Orders bytes to out_fd; never held together with lock, so a stalled
	 * terminal blocks only the transmitting vCPU, not serial_receive. */
	pthread_mutex_t tx_lock;
	struct irq_line irq;
	int out_fd; /* immutable after create */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_errors; /* OE; cleared by reading LSR */
	uint8_t msr_deltas; /* DCTS/DDSR/TERI/DDCD; cleared by reading MSR */
	bool fifo_enabled;
	bool thre_pending;
	int irq_level;
	size_t rx_head, rx_count;
	uint8_t rx[SERIAL_RX_RING];
	_Atomic uint64_t tx_errors;
};

/* The modem status inputs: constant "carrier, DSR, CTS" unless looped back. */
static uint8_t serial_msr_lines(const struct serial *s)
{
	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	uint8_t v = 0;
	if (s->mcr & MCR_RTS)
		v |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		v |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		v |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

/* The highest-priority enabled interrupt source, as IIR bits 3:0 report it. */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && s->lsr_errors)
		return IIR_RLSI;
	if ((s->ier & IER_ERBFI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && s->msr_deltas)
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * Called under lock after every state change. The line is set inside the
 * lock so two threads cannot deliver their level changes out of order.
 */
static void serial_update_irq(struct serial *s)
{
	bool gate = (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);
	int level = gate && serial_iir_id(s) != IIR_NO_INT;
	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

static bool serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_RX_RING)
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_RING] = byte;
	s->rx_count++;
	return true;
}

static void serial_set_mcr(struct serial *s, uint8_t value)
{
	uint8_t before = serial_msr_lines(s);
	s->mcr = value & MCR_MASK;
	uint8_t after = serial_msr_lines(s);
	uint8_t changed = before ^ after;
	if (changed & MSR_CTS)
		s->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_deltas |= MSR_DDSR;
	if ((before & MSR_RI) && !(after & MSR_RI))
		s->msr_deltas |= MSR_TERI;
	if (changed & MSR_DCD)
		s->msr_deltas |= MSR_DDCD;
}

static void serial_set_fcr(struct serial *s, uint8_t value)
{
	bool enable = value & FCR_FIFO_ENABLE;
	/* Changing FCR0 empties the FIFOs; the other bits need FCR0 set. */
	if (enable != s->fifo_enabled || (enable && (value & FCR_RCVR_RESET)))
		serial_rx_clear(s);
	s->fifo_enabled = enable;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t offset)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t v;

	switch (offset) {
	case UART_RBR:
		if (dlab)
			return s->dll;
		if (!s->rx_count) {
			metrics_inc(&metrics_uart.missed_read_count);
			return 0;
		}
		metrics_inc(&metrics_uart.read_count);
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_RING;
		s->rx_count--;
		return v;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir_id(s);
		if (v == IIR_THRI)
			s->thre_pending = false;
		return v | (s->fifo_enabled ? IIR_FIFOS_ENABLED : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_errors | (s->rx_count ? LSR_DR : 0);
		s->lsr_errors = 0;
		return v;
	case UART_MSR:
		v = serial_msr_lines(s) | s->msr_deltas;
		s->msr_deltas = 0;
		return v;
	case UART_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

/* Everything but a THR write outside loopback, which serial_transmit handles. */
static void serial_write_reg(struct serial *s, uint64_t offset, uint8_t value)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (offset) {
	case UART_RBR:
		if (dlab) {
			s->dll = value;
		} else {
			/* Loopback: the byte comes straight back to the receiver. */
			if (!serial_rx_push(s, value))
				s->lsr_errors |= LSR_OE;
			s->thre_pending = true;
		}
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = value;
			break;
		}
		if (!(s->ier & IER_ETBEI) && (value & IER_ETBEI))
			s->thre_pending = true;
		s->ier = value & IER_MASK;
		break;
	case UART_IIR:
		serial_set_fcr(s, value);
		break;
	case UART_LCR:
		s->lcr = value;
		break;
	case UART_MCR:
		serial_set_mcr(s, value);
		break;
	case UART_SCR:
		s->scr = value;
		break;
	default:
		/* LSR and MSR writes are factory test modes: ignored. */
		break;
	}
}

/* Writes one byte to fd, riding out EINTR and a non-blocking fd being full. */
static void serial_output(struct serial *s, int fd, uint8_t byte)
{
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = write(fd, &byte, 1);
		if (n == 1) {
			metrics_inc(&metrics_uart.write_count);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			(void)poll(&pfd, 1, -1);
			continue;
		}
		int err = n < 0 ? errno : EIO;
		atomic_fetch_add(&s->tx_errors, 1);
		metrics_inc(&metrics_uart.error_count);
		log_warn_ratelimited("serial: output write failed: %s", strerror(err));
		return;
	}
}

static void serial_transmit(struct serial *s, uint8_t byte)
{
	/* The byte is out before THRE is raised again, so a vCPU that takes
	 * the THRE interrupt elsewhere cannot overtake it. */
	pthread_mutex_lock(&s->tx_lock);
	serial_output(s, s->out_fd, byte);
	pthread_mutex_unlock(&s->tx_lock);

	pthread_mutex_lock(&s->lock);
	s->thre_pending = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Allocates a UART in its reset state (IER, LCR, MCR zero, FIFOs off).
 * irq is copied. Returns NULL when out of memory. VMM thread.
 */
struct serial *serial_create(const struct irq_line *irq, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	if (pthread_mutex_init(&s->tx_lock, NULL)) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	if (irq)
		s->irq = *irq;
	s->out_fd = out_fd;
	return s;
}

/* Frees the UART (out_fd is the caller's). No vCPU may be running. */
void serial_destroy(struct serial *serial)
{
	if (!serial)
		return;
	pthread_mutex_destroy(&serial->tx_lock);
	pthread_mutex_destroy(&serial->lock);
	free(serial);
}

/*
 * Bus handler, vCPU threads. A THR write blocks until the byte is written
 * to out_fd (so a stalled terminal stalls the guest's output, never drops it).
 */
void serial_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct serial *s = opaque;
	if (size == 0)
		return;

	if (!is_write) {
		memset(data, 0xff, size);
		pthread_mutex_lock(&s->lock);
		data[0] = serial_read_reg(s, offset);
		serial_update_irq(s);
		pthread_mutex_unlock(&s->lock);
		return;
	}

	pthread_mutex_lock(&s->lock);
	bool tx = offset == UART_RBR && !(s->lcr & LCR_DLAB) && !(s->mcr & MCR_LOOP);
	if (!tx) {
		serial_write_reg(s, offset, data[0]);
		serial_update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	if (tx)
		serial_transmit(s, data[0]);
}

/*
 * Queues host input, as much as fits in the ring. In loopback mode the
 * receiver is disconnected from the line, so input is consumed and lost,
 * as on the chip. Returns the bytes taken. VMM thread.
 */
size_t serial_receive(struct serial *serial, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&serial->lock);
	if (serial->mcr & MCR_LOOP) {
		pthread_mutex_unlock(&serial->lock);
		return len;
	}
	size_t n = MIN(len, SERIAL_RX_RING - serial->rx_count);
	if (n < len)
		metrics_inc(&metrics_uart.missed_write_count); /* host input the guest has no room for */
	for (size_t i = 0; i < n; i++)
		serial_rx_push(serial, buf[i]);
	serial_update_irq(serial);
	pthread_mutex_unlock(&serial->lock);
	return n;
}

/* Free bytes in the input ring. Any thread. */
size_t serial_rx_space(struct serial *serial)
{
	pthread_mutex_lock(&serial->lock);
	size_t space = SERIAL_RX_RING - serial->rx_count;
	pthread_mutex_unlock(&serial->lock);
	return space;
}

/* Output bytes lost to write errors on out_fd (for metrics). Any thread. */
uint64_t serial_tx_errors(struct serial *serial)
{
	return atomic_load(&serial->tx_errors);
}
