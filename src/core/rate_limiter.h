/*
 * I/O rate limiters: Firecracker's token-bucket model (the RateLimiter
 * and TokenBucket definitions of firecracker.yaml; Firecracker's
 * src/vmm/src/rate_limiter). A limiter has an optional bandwidth bucket
 * (tokens are bytes) and an optional ops bucket (tokens are requests).
 * Each bucket holds at most `size` tokens, starts full, and refills from
 * empty to full in `refill_time` milliseconds at a constant rate; an extra
 * `one_time_burst` budget is spent first and never refills. A bucket whose
 * size or refill_time is 0 is absent: that kind is unlimited.
 *
 * Where ember differs from Firecracker, on purpose:
 *  - a request takes its tokens from both buckets at once or from none
 *    (Firecracker takes ops, then bytes, and gives the ops back by hand);
 *  - a request larger than a bucket (more than size tokens beyond what is
 *    left of one_time_burst) goes through once the bucket is full, and the
 *    excess becomes a debt the refill pays back before the bucket holds
 *    tokens again. Firecracker lets it through at once and blocks for the
 *    excess, but then also refills during that block, so a stream of
 *    oversized requests gets twice the rate; the debt keeps it exact and
 *    no request can wait forever;
 *  - a blocked limiter arms its timer for the moment the waiting request's
 *    tokens will be there (at least RATE_LIMITER_MIN_WAIT_NS), not a fixed
 *    100 ms;
 *  - an update while blocked re-arms the timer to fire at once, so the
 *    device re-evaluates under the new limits.
 *
 * Refill is integer arithmetic without drift: tokens = elapsed_ns * size /
 * (refill_time_ms * 10^6), the fraction reduced by its gcd (as Firecracker),
 * products in 128 bits, and the remainder of the division kept exactly
 * (Firecracker rounds the time it keeps up to a nanosecond per refill).
 *
 * The arithmetic (token_bucket_*, rate_limiter_consume_at) takes the time
 * as an argument, so unit tests drive a fake clock. The timer is a
 * timerfd on the VMM thread's event loop: when a blocked limiter's timer
 * fires it calls the owner's resume callback, and the device serves its
 * queue again without a guest kick.
 *
 * Threads: a limiter has its own mutex; every function may be called from
 * any thread, with or without the owning device's lock held (the device
 * lock is always taken before the limiter's). The resume callback runs on
 * the event loop's thread with no lock held.
 */
#ifndef EMBER_CORE_RATE_LIMITER_H
#define EMBER_CORE_RATE_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

/* A blocked limiter never sleeps less than this (batches wake-ups). */
#define RATE_LIMITER_MIN_WAIT_NS 1000000ULL
/* refill_time_ms must fit in 64 bits of nanoseconds. */
#define TOKEN_BUCKET_MAX_REFILL_MS (UINT64_MAX / 1000000ULL)

/* One bucket as the API and the CLI describe it (firecracker.yaml TokenBucket). */
struct token_bucket_config {
	uint64_t size;           /* tokens; 0: no bucket (unlimited) */
	uint64_t one_time_burst; /* extra initial tokens, never refilled */
	uint64_t refill_time_ms; /* empty to full; 0: no bucket (unlimited) */
};

/* firecracker.yaml RateLimiter: both buckets disabled (all zero) = no limit. */
struct rate_limiter_config {
	struct token_bucket_config bandwidth; /* bytes */
	struct token_bucket_config ops;       /* requests */
};

struct token_bucket {
	uint64_t size, refill_time_ms, initial_one_time_burst;
	uint64_t one_time_burst; /* what is left of it */
	uint64_t budget;         /* tokens in the bucket, <= size */
	uint64_t debt;           /* owed by an oversized request; budget is 0 while > 0 */
	uint64_t last_update_ns; /* the refill clock: credited up to here */
	uint64_t carry;          /* a fraction of a token, in units of 1/period token */
	uint64_t cap, period;    /* tokens per ns = cap / period = size / (refill_time_ms * 10^6) */
};

enum rate_limiter_kind {
	RATE_LIMITER_BYTES,
	RATE_LIMITER_OPS,
};

/* True when the bucket limits anything (size and refill_time both set). */
bool token_bucket_config_enabled(const struct token_bucket_config *c);
/* Both buckets: 0, or -EINVAL (err says why) for a refill_time above
 * TOKEN_BUCKET_MAX_REFILL_MS. Any thread. */
int rate_limiter_config_check(const struct rate_limiter_config *c, char *err,
                              size_t errlen) must_check;

/* A full bucket at now_ns (disabled when the config is). */
void token_bucket_init(struct token_bucket *tb, const struct token_bucket_config *c,
                       uint64_t now_ns);
/* Credits the tokens earned up to now_ns (debt first, then the budget). */
void token_bucket_refill(struct token_bucket *tb, uint64_t now_ns);
/* After a refill: true when n tokens can be taken now (always when disabled). */
bool token_bucket_can_take(const struct token_bucket *tb, uint64_t n);
/* Takes n tokens: one_time_burst first, then the budget, an oversized
 * rest as debt. Only after token_bucket_can_take said yes. */
void token_bucket_take(struct token_bucket *tb, uint64_t n);
/* After a refill at now_ns: nanoseconds until n tokens can be taken
 * (0 when they can now). */
uint64_t token_bucket_wait_ns(const struct token_bucket *tb, uint64_t n, uint64_t now_ns);
/* Gives n tokens back (an undone request): debt first, budget capped at size. */
void token_bucket_replenish(struct token_bucket *tb, uint64_t n);
/* Tokens that could be taken now: one_time_burst + budget; UINT64_MAX when disabled. */
uint64_t token_bucket_available(const struct token_bucket *tb);

struct event_loop;
struct rate_limiter;
/* Called when a blocked limiter's timer fired (loop thread, no lock held). */
typedef void (*rate_limiter_resume_fn)(void *opaque);

/*
 * Creates a limiter (with both buckets disabled it limits nothing but can
 * be updated later). With a loop, a blocked limiter arms a timerfd on it
 * and calls resume(opaque) when it fires; without one (unit tests) a
 * failed consume is just refused. Builder thread. 0, or -EINVAL for a bad
 * config, -errno for timerfd/loop failures.
 */
int rate_limiter_create(const struct rate_limiter_config *cfg, struct event_loop *loop,
                        rate_limiter_resume_fn resume, void *opaque,
                        struct rate_limiter **out) must_check;
/* Removes the timer from the loop and frees. NULL ok. Not while the loop
 * runs the timer's handler on another thread. */
void rate_limiter_destroy(struct rate_limiter *rl);

/*
 * Takes ops tokens from the ops bucket and bytes tokens from the bandwidth
 * bucket, both or neither. 0 when taken; -EAGAIN when not: the limiter is
 * then blocked (every consume fails) until its timer fires and calls
 * resume. The caller stops serving its queue and keeps the request.
 */
int rate_limiter_consume(struct rate_limiter *rl, uint64_t ops, uint64_t bytes) must_check;
/* The same at a given time; *wait_ns (may be NULL) gets the time until it
 * would succeed. Arms the timer for that long when it fails. */
int rate_limiter_consume_at(struct rate_limiter *rl, uint64_t ops, uint64_t bytes, uint64_t now_ns,
                            uint64_t *wait_ns) must_check;
/* Gives tokens back (a request taken and then not served). */
void rate_limiter_replenish(struct rate_limiter *rl, uint64_t ops, uint64_t bytes);
/* Tokens of one kind that could be taken now; UINT64_MAX when unlimited. */
uint64_t rate_limiter_available(struct rate_limiter *rl, enum rate_limiter_kind kind);
/* True while a failed consume waits for the timer. */
bool rate_limiter_blocked(struct rate_limiter *rl);

/*
 * PATCH semantics (Firecracker's BucketUpdate): for each bucket, NULL
 * keeps it as it is; a config that is not enabled (size or refill_time 0)
 * removes it; an enabled one replaces it with a fresh, full bucket. A
 * blocked limiter is woken at once so the device re-evaluates. 0 or
 * -EINVAL (nothing changed).
 */
int rate_limiter_update(struct rate_limiter *rl, const struct token_bucket_config *bandwidth,
                        const struct token_bucket_config *ops) must_check;
/* The current configuration (what GET /vm/config reports). */
void rate_limiter_get_config(struct rate_limiter *rl, struct rate_limiter_config *out);
/* A bucket's state, copied (tests, diagnostics). */
void rate_limiter_bucket(struct rate_limiter *rl, enum rate_limiter_kind kind,
                         struct token_bucket *out);

/* CLOCK_MONOTONIC in nanoseconds: the clock rate_limiter_consume uses. */
uint64_t rate_limiter_now_ns(void);

#endif
