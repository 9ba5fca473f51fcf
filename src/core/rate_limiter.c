/*
 * Token-bucket rate limiters (see rate_limiter.h; Firecracker's
 * firecracker.yaml RateLimiter/TokenBucket and src/vmm/src/rate_limiter).
 * The bucket arithmetic is pure (time is an argument); the limiter adds a
 * mutex, the all-or-nothing consume over two buckets and a one-shot
 * timerfd on the VMM thread's event loop.
 */
#include "core/rate_limiter.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC  1000000000ULL

typedef unsigned __int128 u128;

struct rate_limiter {
	pthread_mutex_t lock;
	struct token_bucket bw, ops;
	bool blocked; /* a consume failed; the timer is armed and will clear this */
	int timer_fd; /* -1: no loop */
	struct event_loop *loop;
	rate_limiter_resume_fn resume;
	void *opaque;
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static uint64_t sat64(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

bool token_bucket_config_enabled(const struct token_bucket_config *c)
{
	return c->size && c->refill_time_ms;
}

static int bucket_check(const struct token_bucket_config *c, const char *what, char *err,
                        size_t errlen)
{
	if (token_bucket_config_enabled(c) && c->refill_time_ms > TOKEN_BUCKET_MAX_REFILL_MS)
		return err_set(err, errlen, -EINVAL,
		               "%s: refill_time %llu ms is too long (at most %llu)", what,
		               (unsigned long long)c->refill_time_ms,
		               (unsigned long long)TOKEN_BUCKET_MAX_REFILL_MS);
	return 0;
}

int rate_limiter_config_check(const struct rate_limiter_config *c, char *err, size_t errlen)
{
	int r = bucket_check(&c->bandwidth, "bandwidth", err, errlen);
	return r ? r : bucket_check(&c->ops, "ops", err, errlen);
}

void token_bucket_init(struct token_bucket *tb, const struct token_bucket_config *c,
                       uint64_t now_ns)
{
	*tb = (struct token_bucket){0};
	if (!token_bucket_config_enabled(c) || c->refill_time_ms > TOKEN_BUCKET_MAX_REFILL_MS)
		return;
	uint64_t period_ns = c->refill_time_ms * NSEC_PER_MSEC;
	uint64_t g = gcd64(c->size, period_ns);
	tb->size = c->size;
	tb->refill_time_ms = c->refill_time_ms;
	tb->initial_one_time_burst = tb->one_time_burst = c->one_time_burst;
	tb->budget = c->size;
	tb->last_update_ns = now_ns;
	tb->cap = c->size / g;
	tb->period = period_ns / g;
}

void token_bucket_refill(struct token_bucket *tb, uint64_t now_ns)
{
	if (!tb->size || now_ns <= tb->last_update_ns)
		return;
	u128 missing = (u128)tb->debt + (tb->size - tb->budget);
	u128 credit = (u128)(now_ns - tb->last_update_ns) * tb->cap + tb->carry;
	u128 tokens = credit / tb->period;
	tb->last_update_ns = now_ns;
	if (tokens >= missing) {
		/* Full: what it earns beyond that, fraction included, is lost. */
		tb->debt = 0;
		tb->budget = tb->size;
		tb->carry = 0;
		return;
	}
	/* The fraction of a token carries over exactly: no drift. */
	tb->carry = (uint64_t)(credit % tb->period);
	if (tokens <= tb->debt) {
		tb->debt -= (uint64_t)tokens;
		return;
	}
	tokens -= tb->debt;
	tb->debt = 0;
	tb->budget += (uint64_t)tokens; /* tokens < missing: stays <= size */
}

bool token_bucket_can_take(const struct token_bucket *tb, uint64_t n)
{
	if (!tb->size || n <= tb->one_time_burst)
		return true;
	uint64_t rest = n - tb->one_time_burst;
	if (tb->debt)
		return false;
	if (rest <= tb->budget)
		return true;
	/* Larger than the bucket can ever hold: through once it is full. */
	return rest > tb->size && tb->budget == tb->size;
}

void token_bucket_take(struct token_bucket *tb, uint64_t n)
{
	if (!tb->size)
		return;
	if (n <= tb->one_time_burst) {
		tb->one_time_burst -= n;
		return;
	}
	uint64_t rest = n - tb->one_time_burst;
	tb->one_time_burst = 0;
	if (rest <= tb->budget) {
		tb->budget -= rest;
		return;
	}
	tb->debt = rest - tb->budget;
	tb->budget = 0;
}

uint64_t token_bucket_wait_ns(const struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	if (token_bucket_can_take(tb, n))
		return 0;
	uint64_t rest = n - tb->one_time_burst;
	/* Tokens still to earn: up to a full bucket for an oversized request. */
	u128 want = (u128)tb->debt + (rest > tb->size ? tb->size : rest) - tb->budget;
	if (want > UINT64_MAX)
		return UINT64_MAX;                 /* a debt beyond 2^64 tokens: centuries anyway */
	u128 need = want * tb->period - tb->carry; /* carry < period <= want * period */
	u128 t = (need + tb->cap - 1) / tb->cap;
	u128 deadline = (u128)tb->last_update_ns + t;
	return deadline > now_ns ? sat64(deadline - now_ns) : 1;
}

void token_bucket_replenish(struct token_bucket *tb, uint64_t n)
{
	if (!tb->size)
		return;
	if (n <= tb->debt) {
		tb->debt -= n;
		return;
	}
	n -= tb->debt;
	tb->debt = 0;
	tb->budget = n >= tb->size - tb->budget ? tb->size : tb->budget + n;
}

uint64_t token_bucket_available(const struct token_bucket *tb)
{
	if (!tb->size)
		return UINT64_MAX;
	if (tb->debt)
		return tb->one_time_burst;
	return sat64((u128)tb->one_time_burst + tb->budget);
}

uint64_t rate_limiter_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Arms the one-shot timer ns from now. Lock held. */
static int arm_timer(struct rate_limiter *rl, uint64_t ns)
{
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
	                                      .tv_nsec = (long)(ns % NSEC_PER_SEC)}};
	if (timerfd_settime(rl->timer_fd, 0, &its, NULL) < 0) {
		log_warn_ratelimited("rate limiter: cannot arm the timer: %d", errno);
		return -errno;
	}
	return 0;
}

static void on_timer(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct rate_limiter *rl = opaque;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("rate limiter: reading the timerfd failed: %d", errno);
	pthread_mutex_lock(&rl->lock);
	bool was_blocked = rl->blocked;
	rl->blocked = false;
	pthread_mutex_unlock(&rl->lock);
	if (was_blocked && rl->resume)
		rl->resume(rl->opaque);
}

int rate_limiter_create(const struct rate_limiter_config *cfg, struct event_loop *loop,
                        rate_limiter_resume_fn resume, void *opaque, struct rate_limiter **out)
{
	static const struct rate_limiter_config none;
	if (!cfg)
		cfg = &none;
	if (rate_limiter_config_check(cfg, NULL, 0))
		return -EINVAL;
	struct rate_limiter *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	int r = -pthread_mutex_init(&rl->lock, NULL);
	if (r) {
		free(rl);
		return r;
	}
	rl->timer_fd = -1;
	rl->resume = resume;
	rl->opaque = opaque;
	uint64_t now = rate_limiter_now_ns();
	token_bucket_init(&rl->bw, &cfg->bandwidth, now);
	token_bucket_init(&rl->ops, &cfg->ops, now);
	if (loop) {
		rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (rl->timer_fd < 0) {
			r = -errno;
			goto fail;
		}
		if ((r = event_loop_add(loop, rl->timer_fd, EPOLLIN, on_timer, rl)))
			goto fail;
		rl->loop = loop;
	}
	*out = rl;
	return 0;
fail:
	rate_limiter_destroy(rl);
	return r;
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
	if (!rl)
		return;
	if (rl->timer_fd >= 0) {
		if (rl->loop)
			event_loop_del(rl->loop, rl->timer_fd);
		close(rl->timer_fd);
	}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

int rate_limiter_consume_at(struct rate_limiter *rl, uint64_t ops, uint64_t bytes, uint64_t now_ns,
                            uint64_t *wait_ns)
{
	int r = 0;
	uint64_t wait = 0;
	pthread_mutex_lock(&rl->lock);
	token_bucket_refill(&rl->bw, now_ns);
	token_bucket_refill(&rl->ops, now_ns);
	/* Blocked: the timer is armed for the request that failed first, which
	 * the device serves first when it resumes; nothing overtakes it. */
	if (!rl->blocked && token_bucket_can_take(&rl->bw, bytes) &&
	    token_bucket_can_take(&rl->ops, ops)) {
		token_bucket_take(&rl->bw, bytes);
		token_bucket_take(&rl->ops, ops);
		goto out;
	}
	r = -EAGAIN;
	wait = MAX(token_bucket_wait_ns(&rl->bw, bytes, now_ns),
	           token_bucket_wait_ns(&rl->ops, ops, now_ns));
	if (!rl->blocked && rl->timer_fd >= 0 &&
	    arm_timer(rl, MAX(wait, RATE_LIMITER_MIN_WAIT_NS)) == 0)
		rl->blocked = true;
out:
	pthread_mutex_unlock(&rl->lock);
	if (wait_ns)
		*wait_ns = wait;
	return r;
}

int rate_limiter_consume(struct rate_limiter *rl, uint64_t ops, uint64_t bytes)
{
	return rate_limiter_consume_at(rl, ops, bytes, rate_limiter_now_ns(), NULL);
}

void rate_limiter_replenish(struct rate_limiter *rl, uint64_t ops, uint64_t bytes)
{
	pthread_mutex_lock(&rl->lock);
	token_bucket_replenish(&rl->bw, bytes);
	token_bucket_replenish(&rl->ops, ops);
	pthread_mutex_unlock(&rl->lock);
}

uint64_t rate_limiter_available(struct rate_limiter *rl, enum rate_limiter_kind kind)
{
	struct token_bucket *tb = kind == RATE_LIMITER_OPS ? &rl->ops : &rl->bw;
	pthread_mutex_lock(&rl->lock);
	token_bucket_refill(tb, rate_limiter_now_ns());
	uint64_t n = rl->blocked ? 0 : token_bucket_available(tb);
	pthread_mutex_unlock(&rl->lock);
	return n;
}

bool rate_limiter_blocked(struct rate_limiter *rl)
{
	pthread_mutex_lock(&rl->lock);
	bool b = rl->blocked;
	pthread_mutex_unlock(&rl->lock);
	return b;
}

int rate_limiter_update(struct rate_limiter *rl, const struct token_bucket_config *bandwidth,
                        const struct token_bucket_config *ops)
{
	struct rate_limiter_config check = {
	    .bandwidth = bandwidth ? *bandwidth : (struct token_bucket_config){0},
	    .ops = ops ? *ops : (struct token_bucket_config){0},
	};
	if (rate_limiter_config_check(&check, NULL, 0))
		return -EINVAL;
	uint64_t now = rate_limiter_now_ns();
	pthread_mutex_lock(&rl->lock);
	if (bandwidth)
		token_bucket_init(&rl->bw, bandwidth, now);
	if (ops)
		token_bucket_init(&rl->ops, ops, now);
	/* Wake a waiting device now rather than at the old deadline. */
	if (rl->blocked && arm_timer(rl, 1) != 0)
		rl->blocked = false;
	pthread_mutex_unlock(&rl->lock);
	return 0;
}

static void bucket_config(const struct token_bucket *tb, struct token_bucket_config *c)
{
	*c = (struct token_bucket_config){.size = tb->size,
	                                  .one_time_burst = tb->initial_one_time_burst,
	                                  .refill_time_ms = tb->refill_time_ms};
}

void rate_limiter_get_config(struct rate_limiter *rl, struct rate_limiter_config *out)
{
	pthread_mutex_lock(&rl->lock);
	bucket_config(&rl->bw, &out->bandwidth);
	bucket_config(&rl->ops, &out->ops);
	pthread_mutex_unlock(&rl->lock);
}

void rate_limiter_bucket(struct rate_limiter *rl, enum rate_limiter_kind kind,
                         struct token_bucket *out)
{
	pthread_mutex_lock(&rl->lock);
	*out = kind == RATE_LIMITER_OPS ? rl->ops : rl->bw;
	pthread_mutex_unlock(&rl->lock);
}
