/*
 * Logging. Lines go to stderr as "ember: <level>: <message>". log_ratelimited
 * is for anything a guest can trigger: it prints at most a few lines per
 * call site per second and counts the rest, so a hostile guest cannot flood
 * the host's logs.
 */
#ifndef EMBER_CORE_LOG_H
#define EMBER_CORE_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints and exits with status 1. Only before the guest runs. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Formats one line of error text into err (when err is not NULL) and
 * returns rc: `return err_set(err, errlen, -EINVAL, "...", ...);`.
 */
int err_set(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct log_ratelimit {
	_Atomic uint64_t window_start_ns;
	_Atomic uint32_t printed;
	_Atomic uint64_t suppressed;
};
/* True when the caller may print now (at most 5 lines per second per site). */
int log_ratelimit_allow(struct log_ratelimit *rl);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_warn_ratelimited(...)                                                                  \
	do {                                                                                       \
		static struct log_ratelimit rl_;                                                   \
		if (log_ratelimit_allow(&rl_))                                                     \
			log_msg(LOG_WARN, __VA_ARGS__);                                            \
	} while (0)

#endif
