/* An epoll-based event loop in the style of Redis' ae: fds and handlers. */
#include "core/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENT_LOOP_MAX_FDS 64

struct event_handler {
	int fd;
	event_fn fn;
	void *opaque;
	bool used;
};

struct event_loop {
	int epoll_fd;
	bool stopped;
	struct event_handler handlers[EVENT_LOOP_MAX_FDS];
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epoll_fd);
	free(loop);
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque)
{
	for (size_t i = 0; i < EVENT_LOOP_MAX_FDS; i++) {
		struct event_handler *h = &loop->handlers[i];
		if (h->used)
			continue;
		struct epoll_event ev = {.events = events, .data.ptr = h};
		if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*h = (struct event_handler){fd, fn, opaque, true};
		return 0;
	}
	return -ENOSPC;
}

int event_loop_del(struct event_loop *loop, int fd)
{
	for (size_t i = 0; i < EVENT_LOOP_MAX_FDS; i++) {
		struct event_handler *h = &loop->handlers[i];
		if (h->used && h->fd == fd) {
			epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
			h->used = false;
			return 0;
		}
	}
	return -ENOENT;
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[16];
	int n = epoll_wait(loop->epoll_fd, events, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct event_handler *h = events[i].data.ptr;
		/* A handler earlier in this batch may have removed this one. */
		if (h->used)
			h->fn(loop, h->fd, events[i].events, h->opaque);
	}
	return n;
}

void event_loop_run(struct event_loop *loop)
{
	loop->stopped = false;
	while (!loop->stopped)
		event_loop_run_once(loop, -1);
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stopped = true;
}
