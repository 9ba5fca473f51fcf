/*
 * Unit tests for the token-bucket rate limiter (src/core/rate_limiter.c,
 * Firecracker's RateLimiter/TokenBucket model): refill arithmetic on a
 * fake clock, one_time_burst, both buckets at once, disabled buckets,
 * oversized requests, large values, updates, and the timer that resumes
 * a blocked device.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/event_loop.h"
#include "core/rate_limiter.h"

#define MS 1000000ULL
#define T0 1000000000000ULL /* an arbitrary fake "now" */

static struct token_bucket bucket(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct token_bucket tb;
	struct token_bucket_config c = {size, burst, refill_ms};
	token_bucket_init(&tb, &c, T0);
	return tb;
}

/* Refill at now, then take n if possible. */
static bool take_at(struct token_bucket *tb, uint64_t n, uint64_t now)
{
	token_bucket_refill(tb, now);
	if (!token_bucket_can_take(tb, n))
		return false;
	token_bucket_take(tb, n);
	return true;
}

static void test_disabled_is_unlimited(void **state)
{
	struct token_bucket a = bucket(0, 5, 1000), b = bucket(100, 0, 0);
	assert_false(token_bucket_config_enabled(&(struct token_bucket_config){0, 5, 1000}));
	assert_false(token_bucket_config_enabled(&(struct token_bucket_config){100, 0, 0}));
	for (int i = 0; i < 3; i++) {
		assert_true(take_at(&a, UINT64_MAX, T0));
		assert_true(take_at(&b, UINT64_MAX, T0));
	}
	assert_int_equal(token_bucket_available(&a), UINT64_MAX);
	assert_int_equal(token_bucket_wait_ns(&b, UINT64_MAX, T0), 0);
}

static void test_starts_full_and_refills_with_carry(void **state)
{
	/* 1000 tokens per 1000 ms: one per millisecond. */
	struct token_bucket tb = bucket(1000, 0, 1000);
	assert_int_equal(token_bucket_available(&tb), 1000);
	assert_true(take_at(&tb, 1000, T0));
	assert_false(take_at(&tb, 1, T0 + MS / 2));
	assert_int_equal(tb.carry, tb.period / 2); /* half a token carries */
	assert_true(take_at(&tb, 1, T0 + 3 * MS / 2));
	assert_false(take_at(&tb, 1, T0 + 3 * MS / 2));
	assert_int_equal(token_bucket_wait_ns(&tb, 1, T0 + 3 * MS / 2), MS / 2);
	assert_false(take_at(&tb, 1, T0 + 2 * MS - 1));
	assert_true(take_at(&tb, 1, T0 + 2 * MS)); /* the two halves make one */
	assert_false(take_at(&tb, 1, T0 + 2 * MS));
	/* A long idle time fills it, and no further. */
	token_bucket_refill(&tb, T0 + 10000 * MS);
	assert_int_equal(tb.budget, 1000);
}

static void test_no_drift_with_awkward_rates(void **state)
{
	/* 3 tokens per 10 ms: 3.33 ms each, never a whole number of ns. */
	struct token_bucket tb = bucket(3, 0, 10);
	assert_true(take_at(&tb, 3, T0));
	uint64_t got = 0;
	/* Small, irregular steps over exactly 1 s. */
	uint64_t now = T0;
	for (unsigned i = 0; now < T0 + 1000 * MS; i++) {
		now = MIN(now + 7919 + (i % 13) * 1000, T0 + 1000 * MS);
		while (take_at(&tb, 1, now))
			got++;
	}
	assert_int_equal(got, 300);
	/* Exactly at a token boundary: 100 ms more is 30 more tokens. */
	struct token_bucket t2 = bucket(3, 0, 10);
	assert_true(take_at(&t2, 3, T0));
	got = 0;
	for (uint64_t t = T0; t <= T0 + 100 * MS; t += 333333)
		while (take_at(&t2, 1, t))
			got++;
	assert_true(got == 29 || got == 30); /* the last step stops short of 100 ms */
	while (take_at(&t2, 1, T0 + 100 * MS))
		got++;
	assert_int_equal(got, 30);
}

static void test_one_time_burst(void **state)
{
	struct token_bucket tb = bucket(100, 50, 1000);
	assert_int_equal(token_bucket_available(&tb), 150);
	assert_true(take_at(&tb, 30, T0)); /* from the burst */
	assert_int_equal(tb.one_time_burst, 20);
	assert_int_equal(tb.budget, 100);
	assert_true(take_at(&tb, 120, T0)); /* 20 burst + 100 budget */
	assert_int_equal(tb.one_time_burst, 0);
	assert_int_equal(tb.budget, 0);
	/* It never refills: a long wait gives back only the bucket. */
	token_bucket_refill(&tb, T0 + 3600000 * MS);
	assert_int_equal(token_bucket_available(&tb), 100);
	assert_int_equal(tb.initial_one_time_burst, 50);
	/* A burst larger than the size is spent in one go. */
	struct token_bucket big = bucket(10, 1000, 1000);
	assert_true(take_at(&big, 1005, T0));
	assert_int_equal(big.budget, 5);
}

static void test_oversized_request_makes_progress(void **state)
{
	struct token_bucket tb = bucket(100, 0, 1000); /* 0.1 token/ms */
	assert_true(take_at(&tb, 10, T0));
	/* Larger than the bucket: waits until it is full, then goes through. */
	assert_false(take_at(&tb, 250, T0));
	uint64_t w = token_bucket_wait_ns(&tb, 250, T0);
	assert_int_equal(w, 100 * MS); /* 10 tokens at 10 ms each */
	assert_false(take_at(&tb, 250, T0 + w - 1));
	assert_true(take_at(&tb, 250, T0 + w));
	assert_int_equal(tb.debt, 150);
	assert_int_equal(token_bucket_available(&tb), 0);
	/* The debt is paid before anything else: the next token in 1.51 s. */
	uint64_t now = T0 + w;
	assert_int_equal(token_bucket_wait_ns(&tb, 1, now), 1510 * MS);
	assert_false(take_at(&tb, 1, now + 1510 * MS - 1));
	assert_true(take_at(&tb, 1, now + 1510 * MS));
	/* Over time a stream of oversized requests gets exactly the rate. */
	struct token_bucket s = bucket(1000, 0, 1000);
	uint64_t t = T0, done = 0;
	while (t < T0 + 10000 * MS) {
		token_bucket_refill(&s, t);
		if (token_bucket_can_take(&s, 4000)) {
			token_bucket_take(&s, 4000);
			done += 4000;
		}
		t += token_bucket_wait_ns(&s, 4000, t) ?: 1;
	}
	/* 10 s at 1000/s plus the initial full bucket, one request of slack. */
	assert_true(done >= 10000 && done <= 11000 + 4000);
}

static void test_large_values(void **state)
{
	/* Near the limits: no overflow in elapsed * size. */
	uint64_t size = UINT64_MAX / 2;
	struct token_bucket tb = bucket(size, 0, TOKEN_BUCKET_MAX_REFILL_MS);
	assert_true(take_at(&tb, size, T0));
	uint64_t half = TOKEN_BUCKET_MAX_REFILL_MS * MS / 2;
	token_bucket_refill(&tb, T0 + half);
	assert_true(tb.budget >= size / 2 - 1 && tb.budget <= size / 2 + 1);
	/* A huge rate over a short time. */
	struct token_bucket fast = bucket(1ULL << 62, 0, 1);
	assert_true(take_at(&fast, 1ULL << 62, T0));
	token_bucket_refill(&fast, T0 + MS / 4);
	assert_int_equal(fast.budget, 1ULL << 60);
	assert_int_equal(token_bucket_wait_ns(&fast, 1ULL << 61, T0 + MS / 4), MS / 4);
	/* refill_time that does not fit 64-bit nanoseconds is refused. */
	struct rate_limiter_config bad = {.ops = {1, 0, TOKEN_BUCKET_MAX_REFILL_MS + 1}};
	char err[128];
	assert_int_equal(rate_limiter_config_check(&bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ops"));
	struct rate_limiter *rl;
	assert_int_equal(rate_limiter_create(&bad, NULL, NULL, NULL, &rl), -EINVAL);
}

static void test_replenish(void **state)
{
	struct token_bucket tb = bucket(100, 0, 1000);
	assert_true(take_at(&tb, 60, T0));
	token_bucket_replenish(&tb, 20);
	assert_int_equal(tb.budget, 60);
	token_bucket_replenish(&tb, 1000);
	assert_int_equal(tb.budget, 100); /* capped */
	assert_true(take_at(&tb, 300, T0));
	token_bucket_replenish(&tb, 50);
	assert_int_equal(tb.debt, 150);
	token_bucket_replenish(&tb, 170);
	assert_int_equal(tb.debt, 0);
	assert_int_equal(tb.budget, 20);
}

static void test_both_buckets_at_once(void **state)
{
	struct rate_limiter_config c = {.bandwidth = {1000, 0, 1000}, .ops = {2, 0, 1000}};
	struct rate_limiter *rl;
	assert_int_equal(rate_limiter_create(&c, NULL, NULL, NULL, &rl), 0);
	uint64_t now = rate_limiter_now_ns(), wait = 0;
	assert_int_equal(rate_limiter_consume_at(rl, 1, 100, now, &wait), 0);
	assert_int_equal(rate_limiter_consume_at(rl, 1, 100, now, &wait), 0);
	/* The ops bucket is empty: the bytes are not taken either. */
	assert_int_equal(rate_limiter_consume_at(rl, 1, 100, now, &wait), -EAGAIN);
	assert_int_equal(wait, 500 * MS);
	struct token_bucket bw;
	rate_limiter_bucket(rl, RATE_LIMITER_BYTES, &bw);
	assert_int_equal(bw.budget, 800);
	assert_int_equal(rate_limiter_consume_at(rl, 1, 1000, now + 500 * MS, &wait), 0);
	/* The bytes bucket short, ops fine: nothing taken; the wait is the bytes'. */
	assert_int_equal(rate_limiter_consume_at(rl, 1, 600, now + 1000 * MS, &wait), -EAGAIN);
	assert_int_equal(wait, 100 * MS);
	struct token_bucket ops;
	rate_limiter_bucket(rl, RATE_LIMITER_OPS, &ops);
	assert_int_equal(ops.budget, 1);
	assert_int_equal(rate_limiter_consume_at(rl, 1, 600, now + 1100 * MS, &wait), 0);
	/* No timer without a loop: never latched as blocked. */
	assert_false(rate_limiter_blocked(rl));
	/* Zero tokens always pass. */
	assert_int_equal(rate_limiter_consume_at(rl, 0, 0, now + 600 * MS, NULL), 0);
	rate_limiter_destroy(rl);

	/* No buckets: unlimited. */
	assert_int_equal(rate_limiter_create(NULL, NULL, NULL, NULL, &rl), 0);
	assert_int_equal(rate_limiter_consume(rl, UINT64_MAX, UINT64_MAX), 0);
	assert_int_equal(rate_limiter_available(rl, RATE_LIMITER_BYTES), UINT64_MAX);
	rate_limiter_destroy(rl);
}

static void test_update(void **state)
{
	struct rate_limiter_config c = {.bandwidth = {1000, 0, 1000}, .ops = {10, 5, 100}};
	struct rate_limiter *rl;
	assert_int_equal(rate_limiter_create(&c, NULL, NULL, NULL, &rl), 0);
	assert_int_equal(rate_limiter_consume(rl, 3, 900), 0);
	/* NULL keeps a bucket as it is (state included). */
	struct token_bucket_config ops2 = {20, 0, 2000};
	assert_int_equal(rate_limiter_update(rl, NULL, &ops2), 0);
	struct rate_limiter_config got;
	rate_limiter_get_config(rl, &got);
	assert_int_equal(got.bandwidth.size, 1000);
	assert_int_equal(got.bandwidth.refill_time_ms, 1000);
	assert_int_equal(got.ops.size, 20);
	assert_int_equal(got.ops.refill_time_ms, 2000);
	assert_int_equal(got.ops.one_time_burst, 0);
	struct token_bucket tb;
	rate_limiter_bucket(rl, RATE_LIMITER_BYTES, &tb);
	assert_true(tb.budget < 200); /* kept its state */
	rate_limiter_bucket(rl, RATE_LIMITER_OPS, &tb);
	assert_int_equal(tb.budget, 20); /* a replaced bucket starts full */
	/* A disabled config removes the bucket. */
	struct token_bucket_config off = {0, 0, 1000};
	assert_int_equal(rate_limiter_update(rl, &off, NULL), 0);
	rate_limiter_get_config(rl, &got);
	assert_int_equal(got.bandwidth.size, 0);
	assert_int_equal(rate_limiter_consume(rl, 0, UINT64_MAX), 0);
	/* A bad update changes nothing. */
	struct token_bucket_config bad = {1, 0, UINT64_MAX};
	assert_int_equal(rate_limiter_update(rl, &bad, &off), -EINVAL);
	rate_limiter_get_config(rl, &got);
	assert_int_equal(got.ops.size, 20);
	rate_limiter_destroy(rl);
}

struct resume_count {
	int calls;
};

static void on_resume(void *opaque)
{
	((struct resume_count *)opaque)->calls++;
}

static void test_timer_resumes(void **state)
{
	struct event_loop *loop = event_loop_create();
	assert_non_null(loop);
	struct resume_count rc = {0};
	/* 100 ops per second: one every 10 ms. */
	struct rate_limiter_config c = {.ops = {100, 0, 1000}};
	struct rate_limiter *rl;
	assert_int_equal(rate_limiter_create(&c, loop, on_resume, &rc, &rl), 0);
	assert_int_equal(rate_limiter_consume(rl, 100, 0), 0);
	uint64_t start = rate_limiter_now_ns();
	assert_int_equal(rate_limiter_consume(rl, 2, 0), -EAGAIN);
	assert_true(rate_limiter_blocked(rl));
	/* Blocked: even a request that would fit waits for the timer. */
	assert_int_equal(rate_limiter_consume(rl, 0, 0), -EAGAIN);
	for (int i = 0; i < 100 && !rc.calls; i++)
		event_loop_run_once(loop, 50);
	uint64_t waited = rate_limiter_now_ns() - start;
	assert_int_equal(rc.calls, 1);
	assert_false(rate_limiter_blocked(rl));
	assert_true(waited >= 19 * MS && waited < 500 * MS);
	assert_int_equal(rate_limiter_consume(rl, 2, 0), 0);

	/* An update while blocked wakes the device at once. */
	assert_int_equal(rate_limiter_consume(rl, 50, 0), -EAGAIN);
	assert_true(rate_limiter_blocked(rl));
	struct token_bucket_config off = {0};
	start = rate_limiter_now_ns();
	assert_int_equal(rate_limiter_update(rl, NULL, &off), 0);
	for (int i = 0; i < 100 && rc.calls < 2; i++)
		event_loop_run_once(loop, 50);
	assert_int_equal(rc.calls, 2);
	assert_true(rate_limiter_now_ns() - start < 200 * MS);
	assert_int_equal(rate_limiter_consume(rl, 50, 0), 0);
	rate_limiter_destroy(rl);
	event_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disabled_is_unlimited),
	    cmocka_unit_test(test_starts_full_and_refills_with_carry),
	    cmocka_unit_test(test_no_drift_with_awkward_rates),
	    cmocka_unit_test(test_one_time_burst),
	    cmocka_unit_test(test_oversized_request_makes_progress),
	    cmocka_unit_test(test_large_values),
	    cmocka_unit_test(test_replenish),
	    cmocka_unit_test(test_both_buckets_at_once),
	    cmocka_unit_test(test_update),
	    cmocka_unit_test(test_timer_resumes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
