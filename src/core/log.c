/* Logging to stderr with a per-call-site rate limit for guest-triggered lines. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

__attribute__((format(printf, 2, 0))) static void log_vmsg(enum log_level level, const char *fmt,
							   va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "ember: %s: ", level_names[level]);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One fputs of a whole line, so lines from vCPU threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > current_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

int log_ratelimit_allow(struct log_ratelimit *rl)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uint64_t start = atomic_load(&rl->window_start_ns);
	if (now - start >= 1000000000ULL &&
	    atomic_compare_exchange_strong(&rl->window_start_ns, &start, now))
		atomic_store(&rl->printed, 0);
	if (atomic_fetch_add(&rl->printed, 1) < 5)
		return 1;
	atomic_fetch_add(&rl->suppressed, 1);
	return 0;
}

int err_set(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
