/*
 * The channel from the API thread to the VMM thread: a mutex-protected
 * queue of calls plus an eventfd the VMM thread's event loop watches.
 * The API thread enqueues a request and sleeps on the call's condition
 * variable until the VMM thread has answered it, so the VM and the
 * configured resources are only ever touched by the VMM thread.
 *
 * Pre-boot the main thread serves the channel from its own small event
 * loop; after InstanceStart the VM's event loop serves it (api/process.c).
 */
#ifndef EMBER_API_CHANNEL_H
#define EMBER_API_CHANNEL_H

#include "api/request.h"
#include "core/macros.h"

struct api_channel;

/* The VMM thread's answer to one request. */
typedef void (*api_serve_fn)(void *opaque, const struct api_request *req,
                             struct api_response *resp);

int api_channel_create(struct api_channel **out) must_check;
/* After api_channel_close and after the API thread is gone. NULL ok. */
void api_channel_destroy(struct api_channel *ch);
/* The eventfd: readable while calls wait (register it EPOLLIN). */
int api_channel_fd(const struct api_channel *ch);

/*
 * Hands req to the VMM thread and waits for the answer in resp (which the
 * caller then owns: api_response_fini). After api_channel_close, answers
 * 503 at once. API thread; req must stay valid until it returns.
 */
void api_channel_call(struct api_channel *ch, const struct api_request *req,
                      struct api_response *resp);
/* Answers every queued call with fn, in order. VMM thread. */
void api_channel_serve(struct api_channel *ch, api_serve_fn fn, void *opaque);
/* Answers every queued and future call with 503 (ember is stopping).
 * Any thread; idempotent. */
void api_channel_close(struct api_channel *ch);

#endif
