/* Host terminal <-> guest UART, raw mode, escape sequence and stop signals. */
#include "vmm/console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/legacy/serial.h"

struct console {
	struct serial *serial;
	struct event_loop *loop;
	struct vm_control ctl;
	int in_fd;
	bool in_registered;
	int signal_fd;
	bool is_tty;
	struct termios saved;
	bool escape_pending;
	uint8_t pending[4096];
	size_t pending_len, pending_off;
};

size_t console_filter_escape(bool *escape_pending, const uint8_t *in, size_t len, uint8_t *out,
			     bool *quit)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (*escape_pending) {
			*escape_pending = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return n;
			}
			if (c == CONSOLE_ESCAPE_CHAR)
				out[n++] = c;
			/* any other key after Ctrl-A is dropped with it */
			continue;
		}
		if (c == CONSOLE_ESCAPE_CHAR) {
			*escape_pending = true;
			continue;
		}
		out[n++] = c;
	}
	return n;
}

static void on_input(struct event_loop *loop, int fd, uint32_t events, void *opaque);

static void watch_input(struct console *c, bool on)
{
	if (on == c->in_registered)
		return;
	if (on)
		c->in_registered = event_loop_add(c->loop, c->in_fd, EPOLLIN, on_input, c) == 0;
	else {
		event_loop_del(c->loop, c->in_fd);
		c->in_registered = false;
	}
}

bool console_flush_input(struct console *c)
{
	if (!c || c->pending_off == c->pending_len)
		return false;
	c->pending_off += serial_receive(c->serial, c->pending + c->pending_off,
					 c->pending_len - c->pending_off);
	if (c->pending_off < c->pending_len)
		return true;
	c->pending_off = c->pending_len = 0;
	watch_input(c, true);
	return false;
}

static void on_input(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *c = opaque;
	uint8_t buf[sizeof(c->pending)];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		watch_input(c, false); /* EOF: the guest keeps running without input */
		return;
	}
	bool quit = false;
	size_t len = (size_t)n;
	if (c->is_tty)
		len = console_filter_escape(&c->escape_pending, buf, len, c->pending, &quit);
	else
		memcpy(c->pending, buf, len);
	if (quit) {
		vm_control_stop(&c->ctl, VM_STOP_HOST);
		return;
	}
	c->pending_len = len;
	c->pending_off = 0;
	/* Stop reading until the UART took it all; the VMM loop retries. */
	if (console_flush_input(c))
		watch_input(c, false);
}

static void on_signal(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *c = opaque;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("signal %u: stopping the VM", si.ssi_signo);
		vm_control_stop(&c->ctl, VM_STOP_HOST);
	}
}

struct console *console_create(struct serial *serial, struct event_loop *loop,
			       const struct vm_control *ctl, int in_fd)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->serial = serial;
	c->loop = loop;
	c->ctl = *ctl;
	c->in_fd = in_fd;
	c->signal_fd = -1;

	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	/* Blocked here, before vCPU threads exist, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	c->signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->signal_fd >= 0 && event_loop_add(loop, c->signal_fd, EPOLLIN, on_signal, c) < 0) {
		close(c->signal_fd);
		c->signal_fd = -1;
	}

	if (in_fd >= 0 && isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		/* Input raw (Ctrl-C, Ctrl-Z go to the guest); output processing kept. */
		raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
					   ICRNL | IXON);
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			c->is_tty = true;
	}
	/* Regular files cannot be polled (EPERM): such stdin is simply not read. */
	if (in_fd >= 0)
		watch_input(c, true);
	return c;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	if (c->is_tty)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	watch_input(c, false);
	if (c->signal_fd >= 0) {
		event_loop_del(c->loop, c->signal_fd);
		close(c->signal_fd);
	}
	free(c);
}
