/*
 * The metrics registry and its JSON lines (see metrics.h): the format of
 * Firecracker's docs/metrics.md and src/vmm/src/logger/metrics.rs --
 * one object per flush with utc_timestamp_ms, the process-wide groups and
 * the per-device ones (block_<id> and their aggregate block, entropy),
 * counters as the change since the last flush. Written by hand: keys are
 * fixed identifiers or escaped device ids, values are unsigned integers.
 */
#define _GNU_SOURCE
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"

struct metrics_api_server metrics_api_server;
struct metrics_logger_group metrics_logger;
struct metrics_vcpu metrics_vcpu;
struct metrics_vmm metrics_vmm;
struct metrics_uart metrics_uart;
struct metrics_i8042 metrics_i8042;
struct metrics_seccomp metrics_seccomp;
struct metrics_signals metrics_signals;
struct metrics_latencies metrics_latencies;

#define C(type, m) METRICS_COUNTER_FIELD(struct type, m)
#define G(type, m) METRICS_GAUGE_FIELD(struct type, m)

static const struct metrics_field api_server_fields[] = {
    G(metrics_api_server, process_startup_time_us),
    G(metrics_api_server, process_startup_time_cpu_us),
    C(metrics_api_server, sync_response_fails),
    C(metrics_api_server, sync_vmm_send_timeout_count),
};
static const struct metrics_field i8042_fields[] = {
    C(metrics_i8042, error_count),        C(metrics_i8042, missed_read_count),
    C(metrics_i8042, missed_write_count), C(metrics_i8042, read_count),
    C(metrics_i8042, reset_count),        C(metrics_i8042, write_count),
};
static const struct metrics_field uart_fields[] = {
    C(metrics_uart, error_count),       C(metrics_uart, flush_count),
    C(metrics_uart, missed_read_count), C(metrics_uart, missed_write_count),
    C(metrics_uart, read_count),        C(metrics_uart, write_count),
};
static const struct metrics_field latencies_fields[] = {
    G(metrics_latencies, full_create_snapshot),
    G(metrics_latencies, diff_create_snapshot),
    G(metrics_latencies, load_snapshot),
    G(metrics_latencies, pause_vm),
    G(metrics_latencies, resume_vm),
    G(metrics_latencies, vmm_full_create_snapshot),
    G(metrics_latencies, vmm_diff_create_snapshot),
    G(metrics_latencies, vmm_load_snapshot),
    G(metrics_latencies, vmm_pause_vm),
    G(metrics_latencies, vmm_resume_vm),
};
static const struct metrics_field logger_fields[] = {
    C(metrics_logger_group, missed_metrics_count),
    C(metrics_logger_group, metrics_fails),
    C(metrics_logger_group, missed_log_count),
    C(metrics_logger_group, log_fails),
};
static const struct metrics_field seccomp_fields[] = {G(metrics_seccomp, num_faults)};
static const struct metrics_field vcpu_fields[] = {
    C(metrics_vcpu, exit_io_in),
    C(metrics_vcpu, exit_io_out),
    C(metrics_vcpu, exit_mmio_read),
    C(metrics_vcpu, exit_mmio_write),
    C(metrics_vcpu, failures),
    METRICS_LATENCY_FIELDS(struct metrics_vcpu, exit_io_in_agg),
    METRICS_LATENCY_FIELDS(struct metrics_vcpu, exit_io_out_agg),
    METRICS_LATENCY_FIELDS(struct metrics_vcpu, exit_mmio_read_agg),
    METRICS_LATENCY_FIELDS(struct metrics_vcpu, exit_mmio_write_agg),
};
static const struct metrics_field vmm_fields[] = {
    C(metrics_vmm, device_events),
    G(metrics_vmm, panic_count),
};
static const struct metrics_field signals_fields[] = {
    G(metrics_signals, sigbus),  G(metrics_signals, sigsegv), G(metrics_signals, sigxfsz),
    G(metrics_signals, sigxcpu), C(metrics_signals, sigpipe), G(metrics_signals, sighup),
    G(metrics_signals, sigill),
};

struct metrics_group {
	struct metrics_group *next;
	char name[METRICS_NAME_MAX];
	const struct metrics_field *fields;
	size_t n;
	const void *base;                  /* NULL for an aggregate */
	struct metrics_group *agg;         /* the aggregate this group sums into */
	uint64_t prev[METRICS_MAX_FIELDS]; /* counters at the last written flush */
	uint64_t snap[METRICS_MAX_FIELDS]; /* this flush's values: prev once written */
	uint64_t sum[METRICS_MAX_FIELDS];  /* aggregate: this flush's sums */
};

#define BUILTIN(name_, fields_, base_)                                                             \
	{                                                                                          \
		.name = name_, .fields = fields_, .n = ARRAY_SIZE(fields_), .base = &base_         \
	}
static struct metrics_group builtins[] = {
    BUILTIN("api_server", api_server_fields, metrics_api_server),
    BUILTIN("i8042", i8042_fields, metrics_i8042),
    BUILTIN("latencies_us", latencies_fields, metrics_latencies),
    BUILTIN("logger", logger_fields, metrics_logger),
    BUILTIN("seccomp", seccomp_fields, metrics_seccomp),
    BUILTIN("signals", signals_fields, metrics_signals),
    BUILTIN("uart", uart_fields, metrics_uart),
    BUILTIN("vcpu", vcpu_fields, metrics_vcpu),
    BUILTIN("vmm", vmm_fields, metrics_vmm),
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_group *groups, *aggregates; /* registration order */
static int out_fd = -1;
static bool out_fifo, emit_id;
static char *pending; /* the tail of a line a pipe took only partly */
static size_t pending_len;
static int timer_fd = -1;
static struct event_loop *timer_loop;

void metrics_latency_record(struct metrics_latency *l, uint64_t us)
{
	metrics_add(&l->sum_us, us);
	uint64_t cur = metrics_load(&l->min_us);
	while ((cur == 0 || us < cur) &&
	       !atomic_compare_exchange_weak_explicit(&l->min_us, &cur, us, memory_order_relaxed,
	                                              memory_order_relaxed))
		;
	cur = metrics_load(&l->max_us);
	while (us > cur && !atomic_compare_exchange_weak_explicit(
	                       &l->max_us, &cur, us, memory_order_relaxed, memory_order_relaxed))
		;
}

static struct metrics_group *find(struct metrics_group *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcmp(list->name, name))
			return list;
	return NULL;
}

static bool name_taken(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		if (!strcmp(builtins[i].name, name))
			return true;
	return find(groups, name) || find(aggregates, name) || !strcmp(name, "utc_timestamp_ms") ||
	       !strcmp(name, "id");
}

static void append(struct metrics_group **list, struct metrics_group *g)
{
	while (*list)
		list = &(*list)->next;
	*list = g;
}

static struct metrics_group *aggregate_get(const char *name, const struct metrics_field *fields,
                                           size_t n)
{
	struct metrics_group *a = find(aggregates, name);
	if (a)
		return a->fields == fields && a->n == n ? a : NULL;
	if (name_taken(name) || !(a = calloc(1, sizeof(*a))))
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->fields = fields;
	a->n = n;
	append(&aggregates, a);
	return a;
}

struct metrics_group *metrics_register(const char *name, const struct metrics_field *fields,
                                       size_t n, const void *base, const char *aggregate)
{
	if (!name || strlen(name) >= METRICS_NAME_MAX || n > METRICS_MAX_FIELDS || !base ||
	    (aggregate && strlen(aggregate) >= METRICS_NAME_MAX))
		return NULL;
	struct metrics_group *g = NULL;
	pthread_mutex_lock(&lock);
	if (name_taken(name) || (aggregate && !strcmp(aggregate, name)) ||
	    !(g = calloc(1, sizeof(*g))))
		goto out;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->fields = fields;
	g->n = n;
	g->base = base;
	if (aggregate && !(g->agg = aggregate_get(aggregate, fields, n))) {
		free(g);
		g = NULL;
		goto out;
	}
	/* Counts from before the registration are reported at the first flush. */
	append(&groups, g);
out:
	pthread_mutex_unlock(&lock);
	return g;
}

void metrics_unregister(struct metrics_group *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&lock);
	for (struct metrics_group **p = &groups; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	free(g);
}

/* ---- JSON ---- */

struct jbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = b->oom ? -1 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = MAX(b->cap * 2, b->len + (size_t)n + 1);
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A JSON string: device ids are user input. */
static void jb_string(struct jbuf *b, const char *s)
{
	jb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			jb_printf(b, "\\%c", c);
		else if (c < 0x20)
			jb_printf(b, "\\u%04x", c);
		else
			jb_printf(b, "%c", c);
	}
	jb_printf(b, "\"");
}

/* {"a":1,"obj":{"x":2,"y":3},...}: "obj.x" fields nest one level. */
static void jb_fields(struct jbuf *b, const struct metrics_field *f, size_t n, const uint64_t *v)
{
	const char *open = NULL;
	size_t open_len = 0;
	bool first = true, first_in = true;
	jb_printf(b, "{");
	for (size_t i = 0; i < n; i++) {
		const char *dot = strchr(f[i].name, '.');
		size_t olen = dot ? (size_t)(dot - f[i].name) : 0;
		if (open && (!dot || olen != open_len || strncmp(f[i].name, open, olen))) {
			jb_printf(b, "}");
			open = NULL;
		}
		if (dot && !open) {
			jb_printf(b, "%s\"%.*s\":{", first ? "" : ",", (int)olen, f[i].name);
			open = f[i].name;
			open_len = olen;
			first = false;
			first_in = true;
		}
		bool *first_p = open ? &first_in : &first;
		jb_printf(b, "%s\"%s\":%" PRIu64, *first_p ? "" : ",", dot ? dot + 1 : f[i].name,
		          v[i]);
		*first_p = false;
	}
	jb_printf(b, open ? "}}" : "}");
}

/* One group's values into g->snap and out (deltas for counters). Lock held. */
static void render_group(struct jbuf *b, struct metrics_group *g)
{
	uint64_t v[METRICS_MAX_FIELDS];
	for (size_t i = 0; i < g->n; i++) {
		_Atomic uint64_t *m = (_Atomic uint64_t *)((char *)g->base + g->fields[i].offset);
		uint64_t cur = metrics_load(m);
		g->snap[i] = cur;
		v[i] = g->fields[i].kind == METRICS_COUNTER ? cur - g->prev[i] : cur;
		if (g->agg && g->fields[i].kind == METRICS_COUNTER)
			g->agg->sum[i] += v[i];
	}
	jb_printf(b, ",");
	jb_string(b, g->name);
	jb_printf(b, ":");
	jb_fields(b, g->fields, g->n, v);
}

/* The whole line, values snapshotted into each group. Lock held. */
static char *render(size_t *len)
{
	struct jbuf b = {0};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	jb_printf(&b, "{\"utc_timestamp_ms\":%" PRIu64,
	          (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (emit_id) {
		char id[LOG_INSTANCE_ID_MAX];
		log_instance_id(id, sizeof(id));
		jb_printf(&b, ",\"id\":");
		jb_string(&b, id);
	}
	for (struct metrics_group *a = aggregates; a; a = a->next)
		memset(a->sum, 0, sizeof(a->sum));
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		render_group(&b, &builtins[i]);
	for (struct metrics_group *g = groups; g; g = g->next)
		render_group(&b, g);
	for (struct metrics_group *a = aggregates; a; a = a->next) {
		jb_printf(&b, ",");
		jb_string(&b, a->name);
		jb_printf(&b, ":");
		jb_fields(&b, a->fields, a->n, a->sum);
	}
	jb_printf(&b, "}\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static void commit(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		memcpy(builtins[i].prev, builtins[i].snap, sizeof(builtins[i].prev));
	for (struct metrics_group *g = groups; g; g = g->next)
		memcpy(g->prev, g->snap, sizeof(g->prev));
}

char *metrics_render(void)
{
	size_t len;
	pthread_mutex_lock(&lock);
	char *line = render(&len);
	pthread_mutex_unlock(&lock);
	return line;
}

/* ---- output ---- */

/* Free bytes in the pipe, or SIZE_MAX when it cannot tell. */
static size_t pipe_room(int fd)
{
	int cap = fcntl(fd, F_GETPIPE_SZ);
	int used = 0;
	if (cap < 0 || ioctl(fd, FIONREAD, &used) < 0 || used > cap)
		return SIZE_MAX;
	return (size_t)(cap - used);
}

/* Writes p whole. A line that does not fit the pipe is refused (-EAGAIN)
 * so none of it is written; should the writer get only part of it out (a
 * full disk), the rest is owed in `pending` so the output stays whole
 * lines. Lock held. */
static int write_out(const char *p, size_t len)
{
	if (out_fifo && pipe_room(out_fd) < len)
		return -EAGAIN;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(out_fd, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (done == 0)
			return n < 0 ? -errno : -EAGAIN;
		break;
	}
	if (done < len) {
		if (!(pending = malloc(len - done)))
			return -ENOMEM;
		memcpy(pending, p + done, len - done);
		pending_len = len - done;
	}
	return 0;
}

int metrics_flush(void)
{
	int r = 0;
	size_t len = 0;
	pthread_mutex_lock(&lock);
	if (out_fd < 0)
		goto out;
	if (pending_len) {
		char *t = pending;
		size_t tl = pending_len;
		pending = NULL;
		pending_len = 0;
		r = write_out(t, tl);
		if (r) {
			pending = t; /* still owed before any new line */
			pending_len = tl;
			goto missed;
		}
		free(t);
		if (pending_len) {
			r = -EAGAIN;
			goto missed;
		}
	}
	char *line = render(&len);
	if (!line) {
		r = -ENOMEM;
		goto missed;
	}
	r = write_out(line, len);
	free(line);
	if (r == 0) {
		commit();
		goto out;
	}
missed:
	metrics_inc(&metrics_logger.missed_metrics_count);
	if (r != -EAGAIN)
		metrics_inc(&metrics_logger.metrics_fails);
out:
	pthread_mutex_unlock(&lock);
	return r;
}

static void on_timer(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("metrics: reading the timerfd failed: %d", errno);
	int r = metrics_flush();
	if (r && r != -EAGAIN)
		log_warn_ratelimited("metrics: cannot write the metrics: %s", strerror(-r));
}

int metrics_attach_loop(struct event_loop *loop)
{
	int r = 0;
	pthread_mutex_lock(&lock);
	if (timer_loop) {
		r = timer_loop == loop ? 0 : -EBUSY;
		goto out;
	}
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	struct timespec period = {.tv_sec = METRICS_FLUSH_INTERVAL_MS / 1000,
	                          .tv_nsec = (long)(METRICS_FLUSH_INTERVAL_MS % 1000) * 1000000L};
	struct itimerspec its = {.it_interval = period, .it_value = period};
	if (timerfd_settime(fd, 0, &its, NULL) < 0 ||
	    (r = event_loop_add(loop, fd, EPOLLIN, on_timer, NULL))) {
		r = r ? r : -errno;
		close(fd);
		goto out;
	}
	timer_fd = fd;
	timer_loop = loop;
out:
	pthread_mutex_unlock(&lock);
	return r;
}

void metrics_detach_loop(struct event_loop *loop)
{
	pthread_mutex_lock(&lock);
	if (timer_loop && timer_loop == loop) {
		event_loop_del(loop, timer_fd);
		close(timer_fd);
		timer_fd = -1;
		timer_loop = NULL;
	}
	pthread_mutex_unlock(&lock);
}

int metrics_configure(const char *path, bool want_id, struct event_loop *loop, char *err,
                      size_t errlen)
{
	int flags = O_NONBLOCK | O_APPEND | O_CLOEXEC | O_NOCTTY;
	pthread_mutex_lock(&lock);
	bool done = out_fd >= 0;
	pthread_mutex_unlock(&lock);
	if (done)
		return err_set(err, errlen, -EALREADY, "metrics: already configured");
	/* O_RDWR: a named pipe opens without a reader (as Firecracker's). */
	int fd = open(path, O_RDWR | flags);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | flags);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0)
		return err_set(err, errlen, -errno, "metrics: cannot open metrics_path %s: %s",
		               path, strerror(errno));
	pthread_mutex_lock(&lock);
	if (out_fd >= 0) {
		pthread_mutex_unlock(&lock);
		close(fd);
		return err_set(err, errlen, -EALREADY, "metrics: already configured");
	}
	out_fd = fd;
	out_fifo = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	emit_id = want_id;
	pthread_mutex_unlock(&lock);
	int r = loop ? metrics_attach_loop(loop) : 0;
	if (r)
		log_warn("metrics: no periodic flush: %s", strerror(-r));
	return 0;
}

void metrics_reset_output(void)
{
	pthread_mutex_lock(&lock);
	if (out_fd >= 0)
		close(out_fd);
	out_fd = -1;
	free(pending);
	pending = NULL;
	pending_len = 0;
	struct event_loop *loop = timer_loop;
	pthread_mutex_unlock(&lock);
	if (loop)
		metrics_detach_loop(loop);
}

uint64_t metrics_clock_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

void metrics_report_startup(uint64_t start_us, uint64_t start_cpu_us, uint64_t parent_cpu_us)
{
	uint64_t now = metrics_clock_us(CLOCK_MONOTONIC);
	uint64_t cpu = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	metrics_store(&metrics_api_server.process_startup_time_us,
	              now > start_us ? now - start_us : 0);
	metrics_store(&metrics_api_server.process_startup_time_cpu_us,
	              (cpu > start_cpu_us ? cpu - start_cpu_us : 0) + parent_cpu_us);
}
