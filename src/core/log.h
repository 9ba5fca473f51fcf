/*
 * Logging. Until log_configure is called, lines go to stderr as
 * "ember: <level>: <message>" (the CLI's format). After it, they take
 * Firecracker's format (Firecracker's docs/logger.md and its logger's
 * Log impl; firecracker.yaml Logger):
 *
 *   2024-05-02T10:11:12.123456789 [anonymous-instance:vcpu 0:WARN:src/vmm/vcpu.c:42] text
 *
 * local time with nanoseconds, then [instance_id:thread_name], then
 * ":LEVEL" when show_level, then ":file:line" when show_log_origin, then
 * the message. Levels are ERROR, WARN, INFO, DEBUG, TRACE; the filter also
 * takes Off. The output is a named pipe or a file, opened non-blocking:
 * a line that does not fit (a full pipe) is dropped and counted in
 * logger.missed_log_count, so a stalled reader never stalls a vCPU.
 *
 * log_ratelimited is for anything a guest can trigger: it prints at most a
 * few lines per call site per second and counts the rest, so a hostile
 * guest cannot flood the host's logs.
 *
 * Threads: every function may be called from any thread. One line is one
 * write(2) of at most LOG_LINE_MAX bytes (< PIPE_BUF, so lines from
 * different threads never interleave in a pipe).
 */
#ifndef EMBER_CORE_LOG_H
#define EMBER_CORE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

/* Message levels, most severe first; LOG_OFF is only a filter value. */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

#define LOG_LINE_MAX            1024
#define LOG_THREAD_NAME_MAX     16
#define LOG_DEFAULT_INSTANCE_ID "anonymous-instance"
#define LOG_INSTANCE_ID_MAX     64
#define LOG_MODULE_MAX          128

/* log_config fields that can be left as they are. */
#define LOG_CONFIG_KEEP (-2)

/*
 * What PUT /logger (or --log-path and friends) asks for. Firecracker's
 * update rules: a missing level means Info; a missing path, show_level,
 * show_origin or module keeps what was set before.
 */
struct log_config {
	const char *path; /* named pipe or file; NULL: keep the current output */
	int level;        /* enum log_level (LOG_OFF too), or LOG_CONFIG_KEEP */
	int show_level;   /* 1, 0 or LOG_CONFIG_KEEP */
	int show_origin;  /* 1, 0 or LOG_CONFIG_KEEP */
	/* Only lines whose origin file starts with this ("devices/virtio" or
	 * "src/devices/virtio/blk"); NULL keeps the filter, "" clears it. */
	const char *module;
};

/*
 * Switches to Firecracker's format and applies cfg. The path is opened
 * O_RDWR|O_NONBLOCK|O_APPEND (O_RDWR so a named pipe opens without a
 * reader, as Firecracker does; O_WRONLY when only writing is allowed);
 * reconfiguring to a new path swaps the output atomically. Without a path
 * ever given, lines go to stderr in the new format. 0, or -errno with err
 * naming the path (nothing changed). Any thread.
 */
int log_configure(const struct log_config *cfg, char *err, size_t errlen) must_check;
/* "Error", "Warning"/"Warn", "Info", "Debug", "Trace", "Off", any case. 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out) must_check;
/* The instance id of every line (and of metrics' "id"); "" restores the default. */
void log_set_instance_id(const char *id);
/* Copies the instance id into buf (at most len bytes with the NUL). */
void log_instance_id(char *buf, size_t len);
/* Names the calling thread in log lines ("vmm", "api", "vcpu 0"; at most 15
 * characters). Unnamed threads show "main" (the process's first thread) or
 * "-". Also names the thread for ps/gdb, except the main thread. */
void log_set_thread_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The level filter alone (the CLI's -v); LOG_OFF silences everything. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* True when a line of this level would be written. */
bool log_enabled(enum log_level level);

/* A line with its origin (what the macros below call). */
void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A line without an origin (shown as "?:0"). */
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

#define log_error(...) log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_msg_at(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn_ratelimited(...)                                                                  \
	do {                                                                                       \
		static struct log_ratelimit rl_;                                                   \
		if (log_ratelimit_allow(&rl_))                                                     \
			log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__);                     \
	} while (0)

#endif
