/*
 * Logging (see log.h): stderr in the CLI's format until log_configure,
 * then Firecracker's line format (Firecracker's docs/logger.md; the Log
 * impl of src/vmm/src/logger/logging.rs) to a non-blocking pipe or file,
 * with dropped lines counted in logger.missed_log_count. A per-call-site
 * rate limit keeps guest-triggered lines from flooding the host.
 */
#define _GNU_SOURCE
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"

static _Atomic int current_level = LOG_INFO;
/* Once configured: Firecracker's format. */
static atomic_bool fc_format;
static atomic_bool show_level, show_origin;
/* The output's descriptor: set once, later paths are dup3'd onto it so a
 * writer on another thread never sees a closed number. -1: stderr. */
static _Atomic int out_fd = -1;

/* Strings a writer copies under the lock. */
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static char instance_id[LOG_INSTANCE_ID_MAX] = LOG_DEFAULT_INSTANCE_ID;
static char module_filter[LOG_MODULE_MAX];

static _Thread_local char thread_name[LOG_THREAD_NAME_MAX];

static const char *const cli_names[] = {"error", "warning", "info", "debug", "trace"};
static const char *const fc_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

bool log_enabled(enum log_level level)
{
	return level >= LOG_ERROR && level <= LOG_TRACE &&
	       (int)level <= atomic_load(&current_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"off", LOG_OFF},    {"error", LOG_ERROR}, {"warning", LOG_WARN},
	             {"warn", LOG_WARN},  {"info", LOG_INFO},   {"debug", LOG_DEBUG},
	             {"trace", LOG_TRACE}};
	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	return -EINVAL;
}

void log_set_instance_id(const char *id)
{
	pthread_mutex_lock(&cfg_lock);
	snprintf(instance_id, sizeof(instance_id), "%s", id && *id ? id : LOG_DEFAULT_INSTANCE_ID);
	pthread_mutex_unlock(&cfg_lock);
}

void log_instance_id(char *buf, size_t len)
{
	pthread_mutex_lock(&cfg_lock);
	snprintf(buf, len, "%s", instance_id);
	pthread_mutex_unlock(&cfg_lock);
}

void log_set_thread_name(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(thread_name, sizeof(thread_name), fmt, ap);
	va_end(ap);
	/* Renaming the main thread would rename the process (ps, pgrep). */
	if (gettid() != getpid())
		pthread_setname_np(pthread_self(), thread_name);
}

static const char *current_thread_name(void)
{
	if (thread_name[0])
		return thread_name;
	return gettid() == getpid() ? "main" : "-";
}

/*
 * The path relative to the source root, wherever the build directory is:
 * "../src/core/log.c" or "../../ember/src/core/log.c" -> "src/core/log.c".
 * The last "src/" or "tests/" component wins, so a checkout under some
 * other ".../src/" folder is still cut at the right place.
 */
static const char *origin_path(const char *file)
{
	if (!file)
		return "?";
	const char *best = file;
	for (const char *p = file; *p; p++) {
		if (p != file && p[-1] != '/')
			continue;
		if (!strncmp(p, "src/", 4) || !strncmp(p, "tests/", 6))
			best = p;
	}
	while (!strncmp(best, "../", 3) || !strncmp(best, "./", 2))
		best += best[1] == '/' ? 2 : 3;
	return best;
}

static bool module_matches(const char *file, const char *module)
{
	size_t n = strlen(module);
	if (!strncmp(file, module, n))
		return true;
	return !strncmp(file, "src/", 4) && !strncmp(file + 4, module, n);
}

/* One whole line, one write; a short or failed write is a missed line. */
static void emit(int fd, const char *line, size_t len)
{
	ssize_t n = write(fd, line, len);
	if (n == (ssize_t)len)
		return;
	metrics_inc(&metrics_logger.missed_log_count);
	if (n < 0 && errno != EAGAIN)
		metrics_inc(&metrics_logger.log_fails);
}

/* "2024-05-02T10:11:12.123456789 [id:thread:LEVEL:file:line] " into buf. */
static int fc_prefix(char *buf, size_t len, enum log_level level, const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	char id[LOG_INSTANCE_ID_MAX];
	pthread_mutex_lock(&cfg_lock);
	memcpy(id, instance_id, sizeof(id));
	pthread_mutex_unlock(&cfg_lock);
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec,
	                 id, current_thread_name());
	if (atomic_load(&show_level))
		n += snprintf(buf + n, len - (size_t)n, ":%s", fc_names[level]);
	if (atomic_load(&show_origin))
		n += snprintf(buf + n, len - (size_t)n, ":%s:%d", file, line);
	n += snprintf(buf + n, len - (size_t)n, "] ");
	return n;
}

__attribute__((format(printf, 4, 0))) static void log_vmsg(enum log_level level, const char *file,
                                                           int lineno, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n;
	file = origin_path(file);
	if (!atomic_load(&fc_format)) {
		n = snprintf(line, sizeof(line), "ember: %s: ", cli_names[level]);
	} else {
		pthread_mutex_lock(&cfg_lock);
		bool skip = module_filter[0] && !module_matches(file, module_filter);
		pthread_mutex_unlock(&cfg_lock);
		if (skip)
			return;
		n = fc_prefix(line, sizeof(line), level, file, lineno);
	}
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	int m = vsnprintf(line + n, sizeof(line) - 1 - (size_t)n, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : MIN((size_t)m, sizeof(line) - 2 - (size_t)n));
	line[len++] = '\n';
	int fd = atomic_load(&out_fd);
	emit(fd >= 0 ? fd : STDERR_FILENO, line, len);
}

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, file, line, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* O_RDWR lets a named pipe open before its reader (Firecracker does the
 * same); a file we may only write falls back to O_WRONLY. */
static int open_output(const char *path)
{
	int flags = O_NONBLOCK | O_APPEND | O_CLOEXEC | O_NOCTTY;
	int fd = open(path, O_RDWR | flags);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | flags);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	return fd;
}

int log_configure(const struct log_config *cfg, char *err, size_t errlen)
{
	int level = cfg->level;
	if (level != LOG_CONFIG_KEEP && (level < LOG_OFF || level > LOG_TRACE))
		return err_set(err, errlen, -EINVAL, "logger: level %d is not a level", level);
	if (cfg->module && strlen(cfg->module) >= LOG_MODULE_MAX)
		return err_set(err, errlen, -EINVAL, "logger: module is longer than %d bytes",
		               LOG_MODULE_MAX - 1);
	int fd = -1;
	if (cfg->path) {
		fd = open_output(cfg->path);
		if (fd < 0)
			return err_set(err, errlen, fd, "logger: cannot open log_path %s: %s",
			               cfg->path, strerror(-fd));
	}
	pthread_mutex_lock(&cfg_lock);
	if (fd >= 0) {
		int cur = atomic_load(&out_fd);
		if (cur < 0) {
			atomic_store(&out_fd, fd);
		} else {
			/* Atomic swap under the same number: no writer sees it closed. */
			dup3(fd, cur, O_CLOEXEC);
			close(fd);
		}
	}
	if (level != LOG_CONFIG_KEEP)
		atomic_store(&current_level, level);
	if (cfg->show_level != LOG_CONFIG_KEEP)
		atomic_store(&show_level, cfg->show_level != 0);
	if (cfg->show_origin != LOG_CONFIG_KEEP)
		atomic_store(&show_origin, cfg->show_origin != 0);
	if (cfg->module)
		snprintf(module_filter, sizeof(module_filter), "%s", cfg->module);
	atomic_store(&fc_format, true);
	pthread_mutex_unlock(&cfg_lock);
	return 0;
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
