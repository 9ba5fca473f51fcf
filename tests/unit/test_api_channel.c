/*
 * Unit tests for the API thread -> VMM thread channel: concurrent callers
 * each get their own answer, served on one thread through the eventfd;
 * closing answers everything queued and everything later with 503.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api/channel.h"

#define CALLERS 8
#define CALLS   200

static pthread_t server_thread;
static _Atomic int served;

/* Echoes the path back as the fault message, from the serving thread. */
static void echo(void *opaque, const struct api_request *req, struct api_response *resp)
{
	assert_true(pthread_equal(pthread_self(), server_thread));
	served++;
	api_reply_error(resp, 400, "%s", req->path);
}

struct caller {
	struct api_channel *ch;
	int id;
	int ok;
};

static void *caller(void *arg)
{
	struct caller *c = arg;
	for (int i = 0; i < CALLS; i++) {
		char path[32], fault[64];
		snprintf(path, sizeof(path), "/c%d/%d", c->id, i);
		struct api_request req = {.method = API_GET, .method_name = "GET", .path = path};
		struct api_response resp;
		api_channel_call(c->ch, &req, &resp);
		if (resp.status == 400 &&
		    !strcmp(api_response_fault(&resp, fault, sizeof(fault)), path))
			c->ok++;
		api_response_fini(&resp);
	}
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	struct api_channel *ch;
	assert_int_equal(api_channel_create(&ch), 0);
	server_thread = pthread_self();
	served = 0;
	pthread_t t[CALLERS];
	struct caller c[CALLERS];
	for (int i = 0; i < CALLERS; i++) {
		c[i] = (struct caller){.ch = ch, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, caller, &c[i]), 0);
	}
	while (served < CALLERS * CALLS) {
		struct pollfd pfd = {.fd = api_channel_fd(ch), .events = POLLIN};
		assert_true(poll(&pfd, 1, 5000) > 0);
		api_channel_serve(ch, echo, NULL);
	}
	for (int i = 0; i < CALLERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].ok, CALLS);
	}
	api_channel_close(ch);
	api_channel_destroy(ch);
}

static void *one_call(void *arg)
{
	struct api_channel *ch = arg;
	struct api_request req = {.method = API_GET, .method_name = "GET", .path = "/"};
	struct api_response resp;
	api_channel_call(ch, &req, &resp);
	unsigned status = resp.status;
	api_response_fini(&resp);
	return (void *)(uintptr_t)status;
}

static void test_close(void **state)
{
	struct api_channel *ch;
	assert_int_equal(api_channel_create(&ch), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, one_call, ch), 0);
	/* Wait until the call is queued, then close instead of serving it. */
	struct pollfd pfd = {.fd = api_channel_fd(ch), .events = POLLIN};
	assert_true(poll(&pfd, 1, 5000) > 0);
	api_channel_close(ch);
	void *status;
	pthread_join(t, &status);
	assert_int_equal((uintptr_t)status, 503);
	/* Later calls are answered at once. */
	assert_int_equal((uintptr_t)one_call(ch), 503);
	api_channel_close(ch);
	api_channel_destroy(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_calls),
	    cmocka_unit_test(test_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
