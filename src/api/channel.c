/* API thread -> VMM thread request channel: a locked queue and an eventfd. */
#include "api/channel.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"

/* One call; lives on the calling API thread's stack. */
struct api_call {
	const struct api_request *req;
	struct api_response resp;
	bool done;
	pthread_cond_t cond;
	struct api_call *next;
};

struct api_channel {
	pthread_mutex_t lock;
	int event_fd;
	struct api_call *head, **tail;
	bool closed;
};

int api_channel_create(struct api_channel **out)
{
	struct api_channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ch->event_fd < 0) {
		int r = -errno;
		free(ch);
		return r;
	}
	pthread_mutex_init(&ch->lock, NULL);
	ch->tail = &ch->head;
	*out = ch;
	return 0;
}

void api_channel_destroy(struct api_channel *ch)
{
	if (!ch)
		return;
	close(ch->event_fd);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}

int api_channel_fd(const struct api_channel *ch)
{
	return ch->event_fd;
}

static void reply_closed(struct api_response *resp)
{
	api_reply_error(resp, API_STATUS_UNAVAILABLE,
	                "The microVM has stopped: ember is exiting and serves no more requests.");
}

void api_channel_call(struct api_channel *ch, const struct api_request *req,
                      struct api_response *resp)
{
	struct api_call call = {.req = req};
	pthread_cond_init(&call.cond, NULL);
	pthread_mutex_lock(&ch->lock);
	if (ch->closed) {
		pthread_mutex_unlock(&ch->lock);
		pthread_cond_destroy(&call.cond);
		*resp = (struct api_response){0};
		reply_closed(resp);
		return;
	}
	*ch->tail = &call;
	ch->tail = &call.next;
	uint64_t one = 1;
	if (write(ch->event_fd, &one, sizeof(one)) < 0)
		log_warn("api: cannot wake the VMM thread: eventfd write failed");
	while (!call.done)
		pthread_cond_wait(&call.cond, &ch->lock);
	pthread_mutex_unlock(&ch->lock);
	pthread_cond_destroy(&call.cond);
	*resp = call.resp;
}

/* Takes the first queued call, or NULL. Lock held. */
static struct api_call *pop(struct api_channel *ch)
{
	struct api_call *call = ch->head;
	if (call) {
		ch->head = call->next;
		if (!ch->head)
			ch->tail = &ch->head;
	}
	return call;
}

/* Publishes the answer; the caller may free call as soon as the lock drops. */
static void finish(struct api_channel *ch, struct api_call *call)
{
	call->done = true;
	pthread_cond_signal(&call->cond);
}

void api_channel_serve(struct api_channel *ch, api_serve_fn fn, void *opaque)
{
	uint64_t count;
	if (read(ch->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("api: reading the channel eventfd failed");
	for (;;) {
		pthread_mutex_lock(&ch->lock);
		struct api_call *call = pop(ch);
		pthread_mutex_unlock(&ch->lock);
		if (!call)
			return;
		/* The caller waits for done: call and its request stay valid. */
		struct api_response resp = {0};
		fn(opaque, call->req, &resp);
		pthread_mutex_lock(&ch->lock);
		call->resp = resp;
		finish(ch, call);
		pthread_mutex_unlock(&ch->lock);
	}
}

void api_channel_close(struct api_channel *ch)
{
	pthread_mutex_lock(&ch->lock);
	ch->closed = true;
	struct api_call *call;
	while ((call = pop(ch))) {
		call->resp = (struct api_response){0};
		reply_closed(&call->resp);
		finish(ch, call);
	}
	pthread_mutex_unlock(&ch->lock);
}
