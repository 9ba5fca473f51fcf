/*
 * The VMM thread's event loop: an epoll set of file descriptors, each with
 * a handler. Later issues add timerfd timers and virtqueue kicks here; the
 * vCPU threads never block on it.
 */
#ifndef EMBER_CORE_EVENT_LOOP_H
#define EMBER_CORE_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/macros.h"

struct event_loop;
typedef void (*event_fn)(struct event_loop *loop, int fd, uint32_t events, void *opaque);

struct event_loop *event_loop_create(void);
void event_loop_destroy(struct event_loop *loop);
/* events: EPOLLIN / EPOLLOUT ...; the handler runs on the loop's thread. */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn,
		   void *opaque) must_check;
int event_loop_del(struct event_loop *loop, int fd);
/* Waits up to timeout_ms (-1 forever) and runs the handlers that are due. */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);
/* Runs until event_loop_stop is called from a handler. */
void event_loop_run(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

#endif
