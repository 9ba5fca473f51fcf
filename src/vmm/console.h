/*
 * The terminal side of the guest's serial console, on the VMM thread: host
 * stdin goes to the UART's receive buffer; when stdin is a terminal it is
 * put in raw mode (so Ctrl-C reaches the guest) and the escape sequence
 * Ctrl-A x quits ember (Ctrl-A Ctrl-A sends one Ctrl-A). SIGINT, SIGTERM and
 * SIGHUP stop the VM cleanly.
 */
#ifndef EMBER_VMM_CONSOLE_H
#define EMBER_VMM_CONSOLE_H

#include "core/event_loop.h"
#include "vmm/vm_control.h"

struct serial;
struct console;

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */

struct console *console_create(struct serial *serial, struct event_loop *loop,
			       const struct vm_control *ctl, int in_fd);
/* Restores the terminal. */
void console_destroy(struct console *console);
/* Moves buffered input into the UART; returns true while input is pending. */
bool console_flush_input(struct console *console);

/* The pure escape-sequence filter (unit-tested): copies in to out, dropping
 * escape sequences; sets *quit when Ctrl-A x was seen. Returns bytes written. */
size_t console_filter_escape(bool *escape_pending, const uint8_t *in, size_t len, uint8_t *out,
			     bool *quit);

#endif
