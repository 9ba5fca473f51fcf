/*
 * Metrics in Firecracker's format (Firecracker's docs/metrics.md and
 * src/vmm/src/logger/metrics.rs; firecracker.yaml Metrics): one JSON
 * object per line, appended to a named pipe or file at every flush --
 * every 60 s on the VMM thread's event loop, on FlushMetrics, at exit:
 *
 *   {"utc_timestamp_ms":1714644672123,"api_server":{"process_startup_time_us":8123,...},
 *    "block_rootfs":{"read_bytes":4096,...},"block":{...},"entropy":{...},...}
 *
 * Counters (METRICS_COUNTER) report the change since the last successful
 * flush, as Firecracker's SharedIncMetric does; gauges (METRICS_GAUGE,
 * Firecracker's SharedStoreMetric) report their value. A field named
 * "a.b" is field b of a nested object a ("read_agg.min_us").
 *
 * Design: every component keeps its counters as _Atomic uint64_t in a
 * struct of its own and bumps them with metrics_inc/metrics_add (relaxed
 * atomics, no lock). It registers the struct once with a table naming
 * each field (metrics_register); the registry remembers each counter's
 * value at the last flush. Groups that name an aggregate ("block") are
 * also summed into it, after the per-device objects, as Firecracker does
 * for block_<drive_id> and block. Process-wide groups (api_server,
 * logger, vcpu, vmm, uart, i8042, seccomp, signals, latencies_us) are
 * built in: their structs are the globals below.
 *
 * Unlike Firecracker, a flush that cannot be written (a full pipe, which
 * is counted in logger.missed_metrics_count) does not lose the counts: the
 * next flush reports them. A line is written whole or not at all.
 *
 * Threads: metrics_inc/add/store/latency from any thread, lock-free. The
 * rest takes the registry's mutex: any thread (the flush timer runs on the
 * VMM thread).
 */
#ifndef EMBER_CORE_METRICS_H
#define EMBER_CORE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/macros.h"

#define METRICS_FLUSH_INTERVAL_MS 60000u
#define METRICS_MAX_FIELDS        48
#define METRICS_NAME_MAX          64

enum metrics_kind {
	METRICS_COUNTER, /* reported as the change since the last flush */
	METRICS_GAUGE,   /* reported as is */
};

struct metrics_field {
	const char *name; /* "field" or "object.field" (one level of nesting) */
	size_t offset;    /* of an _Atomic uint64_t in the registered struct */
	enum metrics_kind kind;
};

/* Table entries: the member's path is its JSON name ("read_agg.sum_us" too). */
#define METRICS_COUNTER_FIELD(type, member)                                                        \
	{                                                                                          \
#member, offsetof(type, member), METRICS_COUNTER                                   \
	}
#define METRICS_GAUGE_FIELD(type, member)                                                          \
	{                                                                                          \
#member, offsetof(type, member), METRICS_GAUGE                                     \
	}

static inline void metrics_add(_Atomic uint64_t *m, uint64_t n)
{
	atomic_fetch_add_explicit(m, n, memory_order_relaxed);
}
static inline void metrics_inc(_Atomic uint64_t *m)
{
	metrics_add(m, 1);
}
static inline void metrics_store(_Atomic uint64_t *m, uint64_t v)
{
	atomic_store_explicit(m, v, memory_order_relaxed);
}
static inline uint64_t metrics_load(_Atomic uint64_t *m)
{
	return atomic_load_explicit(m, memory_order_relaxed);
}

/* Firecracker's LatencyAggregateMetrics: min and max are gauges (0: none
 * yet), sum a counter. Table it with METRICS_LATENCY_FIELDS. */
struct metrics_latency {
	_Atomic uint64_t min_us, max_us, sum_us;
};
#define METRICS_LATENCY_FIELDS(type, member)                                                       \
	METRICS_GAUGE_FIELD(type, member.min_us), METRICS_GAUGE_FIELD(type, member.max_us),        \
	    METRICS_COUNTER_FIELD(type, member.sum_us)
/* Records one duration. Any thread. */
void metrics_latency_record(struct metrics_latency *l, uint64_t us);

struct metrics_group;
struct event_loop;

/*
 * Adds a group: base points at the struct holding the fields (it must
 * outlive the registration), name is the JSON key (copied, escaped on
 * output). aggregate (NULL: none) names an object that sums the counters
 * of every group naming it with the same field table; gauges read 0 there.
 * NULL when name is taken, too long, fields > METRICS_MAX_FIELDS, the
 * aggregate's table differs, or out of memory: metrics are best effort
 * and the caller goes on without them. Any thread.
 */
struct metrics_group *metrics_register(const char *name, const struct metrics_field *fields,
                                       size_t n, const void *base, const char *aggregate);
/* Removes a group (its last unflushed counts are dropped). NULL ok. */
void metrics_unregister(struct metrics_group *g);

/*
 * PUT /metrics: opens path (O_RDWR|O_NONBLOCK|O_APPEND, O_WRONLY when only
 * writing is allowed) and, with a loop, flushes every 60 s on it (the loop
 * may be given later with metrics_attach_loop). emit_id adds the instance
 * id (log_set_instance_id) as a top-level "id". 0; -EALREADY once
 * configured (Firecracker refuses to re-initialise); -errno with err
 * naming the path.
 */
int metrics_configure(const char *path, bool emit_id, struct event_loop *loop, char *err,
                      size_t errlen) must_check;
/* Starts the 60 s flush timer on loop (VMM thread's). Idempotent. 0 or -errno. */
int metrics_attach_loop(struct event_loop *loop) must_check;
/* Stops the timer; call before destroying the loop it was attached to. */
void metrics_detach_loop(struct event_loop *loop);
/*
 * Writes one line now (FlushMetrics, exit). 0 when written; 0 too when
 * metrics are not configured (nothing to do, as Firecracker); -EAGAIN when
 * the pipe had no room (counted in logger.missed_metrics_count; the counts
 * go out with the next flush); -errno on a write error (also counted).
 */
int metrics_flush(void);
/* The line metrics_flush would write, without counting it as flushed
 * (tests, GET-style debugging). Caller frees; NULL on out of memory. */
char *metrics_render(void);
/* Forgets the output and the timer (tests). Registered groups stay. */
void metrics_reset_output(void);

/* api_server.process_startup_time_us and _cpu_us (Firecracker's
 * ProcessTimeReporter): start_us is CLOCK_MONOTONIC at process start (from
 * the jailer's --start-time-us, or taken first thing in main), start_cpu_us
 * CLOCK_PROCESS_CPUTIME_ID then (usually 0), parent_cpu_us the jailer's
 * CPU time. Call when the API server is ready to serve. */
void metrics_report_startup(uint64_t start_us, uint64_t start_cpu_us, uint64_t parent_cpu_us);
/* A clock in microseconds (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID ...). */
uint64_t metrics_clock_us(clockid_t clock);

/* ---- built-in groups (Firecracker's names); bump with metrics_inc ---- */

struct metrics_api_server {
	_Atomic uint64_t process_startup_time_us, process_startup_time_cpu_us; /* gauges */
	_Atomic uint64_t sync_response_fails, sync_vmm_send_timeout_count;
};
struct metrics_logger_group {
	_Atomic uint64_t missed_metrics_count, metrics_fails, missed_log_count, log_fails;
};
/* Summed over vCPUs: an exit handled by the VMM (PIO in/out, MMIO read/write). */
struct metrics_vcpu {
	_Atomic uint64_t exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write, failures;
	struct metrics_latency exit_io_in_agg, exit_io_out_agg, exit_mmio_read_agg,
	    exit_mmio_write_agg;
};
struct metrics_vmm {
	_Atomic uint64_t device_events;
	_Atomic uint64_t panic_count; /* gauge */
};
struct metrics_uart {
	_Atomic uint64_t error_count, flush_count, missed_read_count, missed_write_count,
	    read_count, write_count;
};
struct metrics_i8042 {
	_Atomic uint64_t error_count, missed_read_count, missed_write_count, read_count,
	    reset_count, write_count;
};
struct metrics_seccomp {
	_Atomic uint64_t num_faults; /* gauge */
};
struct metrics_signals {
	/* gauges but sigpipe, as Firecracker (a deadly signal is 0 or 1) */
	_Atomic uint64_t sigbus, sigsegv, sigxfsz, sigxcpu, sigpipe, sighup, sigill;
};
/* Durations in microseconds, gauges (the last one measured). */
struct metrics_latencies {
	_Atomic uint64_t full_create_snapshot, diff_create_snapshot, load_snapshot, pause_vm,
	    resume_vm, vmm_full_create_snapshot, vmm_diff_create_snapshot, vmm_load_snapshot,
	    vmm_pause_vm, vmm_resume_vm;
};

extern struct metrics_api_server metrics_api_server;
extern struct metrics_logger_group metrics_logger;
extern struct metrics_vcpu metrics_vcpu;
extern struct metrics_vmm metrics_vmm;
extern struct metrics_uart metrics_uart;
extern struct metrics_i8042 metrics_i8042;
extern struct metrics_seccomp metrics_seccomp;
extern struct metrics_signals metrics_signals;
extern struct metrics_latencies metrics_latencies;

#endif
