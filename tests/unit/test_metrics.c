/*
 * Unit tests for the metrics registry and its JSON lines
 * (src/core/metrics.c, Firecracker's docs/metrics.md format): the line
 * parses as JSON with Firecracker's keys, counters are per-flush deltas,
 * gauges persist, block_<id> groups sum into "block", ids are escaped, a
 * full pipe is counted in logger.missed_metrics_count without losing the
 * counts or writing half a line.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"

/* ---- a small strict JSON reader: objects, strings, unsigned integers ---- */

#define JMAX 512
struct jnode {
	char key[96]; /* unescaped */
	int parent;   /* -1: the root object */
	bool is_obj, is_str;
	uint64_t num;
	char str[96];
};
struct jdoc {
	struct jnode n[JMAX];
	int count;
};

static const char *jstring(const char *p, char *out, size_t cap)
{
	size_t k = 0;
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		char c = *p++;
		if (!c || (unsigned char)c < 0x20)
			return NULL;
		if (c == '\\') {
			c = *p++;
			if (c == 'u') {
				unsigned v;
				if (sscanf(p, "%4x", &v) != 1)
					return NULL;
				c = (char)v;
				p += 4;
			} else if (c != '"' && c != '\\') {
				return NULL;
			}
		}
		if (k + 1 >= cap)
			return NULL;
		out[k++] = c;
	}
	out[k] = '\0';
	return p + 1;
}

/* Parses the object at p as children of parent; NULL on any syntax error
 * or duplicate key. */
static const char *jobject(struct jdoc *d, const char *p, int parent)
{
	if (*p++ != '{')
		return NULL;
	if (*p == '}')
		return p + 1;
	for (;;) {
		if (d->count >= JMAX)
			return NULL;
		struct jnode *n = &d->n[d->count];
		int self = d->count++;
		if (!(p = jstring(p, n->key, sizeof(n->key))) || *p++ != ':')
			return NULL;
		n->parent = parent;
		for (int i = 0; i < self; i++)
			if (d->n[i].parent == parent && !strcmp(d->n[i].key, n->key))
				return NULL;
		if (*p == '{') {
			n->is_obj = true;
			if (!(p = jobject(d, p, self)))
				return NULL;
		} else if (*p == '"') {
			n->is_str = true;
			if (!(p = jstring(p, n->str, sizeof(n->str))))
				return NULL;
		} else {
			char *end;
			if (*p < '0' || *p > '9')
				return NULL;
			n->num = strtoull(p, &end, 10);
			p = end;
		}
		if (*p == '}')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static bool jparse(struct jdoc *d, const char *line)
{
	d->count = 0;
	const char *end = jobject(d, line, -1);
	return end && !strcmp(end, "\n");
}

/* The node at "a.b.c" (keys may contain dots only at the last level). */
static struct jnode *jget(struct jdoc *d, const char *path)
{
	int parent = -1;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save, *tok = strtok_r(buf, ".", &save);
	struct jnode *hit = NULL;
	while (tok) {
		hit = NULL;
		for (int i = 0; i < d->count; i++)
			if (d->n[i].parent == parent && !strcmp(d->n[i].key, tok)) {
				hit = &d->n[i];
				parent = i;
				break;
			}
		if (!hit)
			return NULL;
		tok = strtok_r(NULL, ".", &save);
	}
	return hit;
}

static uint64_t jnum(struct jdoc *d, const char *path)
{
	struct jnode *n = jget(d, path);
	if (!n || n->is_obj || n->is_str)
		fail_msg("no number at %s", path);
	return n->num;
}

/* ---- a device-like group ---- */

struct dev_metrics {
	_Atomic uint64_t read_bytes, read_count, queue_size;
	struct metrics_latency read_agg;
};
static const struct metrics_field dev_fields[] = {
    METRICS_COUNTER_FIELD(struct dev_metrics, read_bytes),
    METRICS_COUNTER_FIELD(struct dev_metrics, read_count),
    METRICS_GAUGE_FIELD(struct dev_metrics, queue_size),
    METRICS_LATENCY_FIELDS(struct dev_metrics, read_agg),
};

static char *render_parse(struct jdoc *d)
{
	char *line = metrics_render();
	assert_non_null(line);
	if (!jparse(d, line))
		fail_msg("not strict JSON: %s", line);
	return line;
}

static void test_shape_and_builtin_keys(void **state)
{
	static struct jdoc d;
	free(render_parse(&d));
	assert_true(jnum(&d, "utc_timestamp_ms") > 1600000000000ULL);
	const char *keys[] = {
	    "api_server.process_startup_time_us",
	    "api_server.process_startup_time_cpu_us",
	    "api_server.sync_response_fails",
	    "logger.missed_log_count",
	    "logger.missed_metrics_count",
	    "logger.metrics_fails",
	    "vcpu.exit_io_in",
	    "vcpu.exit_io_out",
	    "vcpu.exit_mmio_read",
	    "vcpu.exit_mmio_write",
	    "vcpu.failures",
	    "vcpu.exit_io_in_agg.min_us",
	    "vcpu.exit_mmio_write_agg.sum_us",
	    "vmm.device_events",
	    "vmm.panic_count",
	    "seccomp.num_faults",
	    "signals.sigsegv",
	    "signals.sigpipe",
	    "uart.read_count",
	    "uart.write_count",
	    "uart.missed_write_count",
	    "i8042.reset_count",
	    "latencies_us.load_snapshot",
	    "latencies_us.vmm_resume_vm",
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		jnum(&d, keys[i]);
	assert_null(jget(&d, "id"));
}

static void test_counters_are_deltas_gauges_persist(void **state)
{
	static struct jdoc d;
	static struct dev_metrics m;
	char path[] = "/tmp/ember-test-metrics-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char err[256];
	assert_int_equal(metrics_configure(path, false, NULL, err, sizeof(err)), 0);
	assert_int_equal(metrics_configure(path, false, NULL, err, sizeof(err)), -EALREADY);
	struct metrics_group *g =
	    metrics_register("block_rootfs", dev_fields, ARRAY_SIZE(dev_fields), &m, "block");
	assert_non_null(g);
	metrics_add(&m.read_bytes, 4096);
	metrics_inc(&m.read_count);
	metrics_store(&m.queue_size, 7);
	metrics_latency_record(&m.read_agg, 30);
	metrics_latency_record(&m.read_agg, 10);
	metrics_latency_record(&m.read_agg, 20);
	metrics_add(&metrics_vcpu.exit_io_out, 5);
	metrics_report_startup(metrics_clock_us(CLOCK_MONOTONIC) - 1500, 0, 100);
	assert_int_equal(metrics_flush(), 0);
	metrics_add(&m.read_bytes, 512);
	assert_int_equal(metrics_flush(), 0);
	assert_int_equal(metrics_flush(), 0);

	FILE *f = fdopen(fd, "r");
	char *line = NULL;
	size_t cap = 0;
	assert_true(getline(&line, &cap, f) > 0);
	assert_true(jparse(&d, line));
	assert_int_equal(jnum(&d, "block_rootfs.read_bytes"), 4096);
	assert_int_equal(jnum(&d, "block_rootfs.read_count"), 1);
	assert_int_equal(jnum(&d, "block_rootfs.queue_size"), 7);
	assert_int_equal(jnum(&d, "block_rootfs.read_agg.min_us"), 10);
	assert_int_equal(jnum(&d, "block_rootfs.read_agg.max_us"), 30);
	assert_int_equal(jnum(&d, "block_rootfs.read_agg.sum_us"), 60);
	assert_int_equal(jnum(&d, "block.read_bytes"), 4096);
	assert_int_equal(jnum(&d, "block.queue_size"), 0); /* gauges do not aggregate */
	assert_int_equal(jnum(&d, "vcpu.exit_io_out"), 5);
	uint64_t startup = jnum(&d, "api_server.process_startup_time_us");
	assert_true(startup >= 1500 && startup < 1000000);
	assert_true(jnum(&d, "api_server.process_startup_time_cpu_us") >= 100);

	assert_true(getline(&line, &cap, f) > 0);
	assert_true(jparse(&d, line));
	assert_int_equal(jnum(&d, "block_rootfs.read_bytes"), 512); /* the change only */
	assert_int_equal(jnum(&d, "block_rootfs.read_count"), 0);
	assert_int_equal(jnum(&d, "block_rootfs.queue_size"), 7);
	assert_int_equal(jnum(&d, "block_rootfs.read_agg.sum_us"), 0);
	assert_int_equal(jnum(&d, "block_rootfs.read_agg.max_us"), 30);
	assert_int_equal(jnum(&d, "vcpu.exit_io_out"), 0);
	assert_true(jnum(&d, "api_server.process_startup_time_us") >= 1500);

	assert_true(getline(&line, &cap, f) > 0);
	assert_true(jparse(&d, line));
	assert_int_equal(jnum(&d, "block_rootfs.read_bytes"), 0);
	assert_int_equal(getline(&line, &cap, f), -1);
	free(line);
	fclose(f);
	unlink(path);
	metrics_unregister(g);
	metrics_reset_output();
}

static void test_aggregate_and_escaping(void **state)
{
	static struct jdoc d;
	static struct dev_metrics a, b, c;
	struct metrics_group *ga =
	    metrics_register("block_a", dev_fields, ARRAY_SIZE(dev_fields), &a, "block");
	struct metrics_group *gb =
	    metrics_register("block_q\"\\x", dev_fields, ARRAY_SIZE(dev_fields), &b, "block");
	assert_non_null(ga);
	assert_non_null(gb);
	/* Taken names, and an aggregate with another table, are refused. */
	assert_null(metrics_register("block_a", dev_fields, ARRAY_SIZE(dev_fields), &c, NULL));
	assert_null(metrics_register("vcpu", dev_fields, ARRAY_SIZE(dev_fields), &c, NULL));
	assert_null(metrics_register("block", dev_fields, ARRAY_SIZE(dev_fields), &c, NULL));
	assert_null(metrics_register("block_c", dev_fields, 2, &c, "block"));
	metrics_add(&a.read_bytes, 100);
	metrics_add(&b.read_bytes, 23);
	metrics_add(&b.read_agg.sum_us, 9);
	free(render_parse(&d));
	assert_int_equal(jnum(&d, "block_a.read_bytes"), 100);
	struct jnode *q = NULL;
	for (int i = 0; i < d.count; i++)
		if (d.n[i].parent == -1 && !strcmp(d.n[i].key, "block_q\"\\x"))
			q = &d.n[i];
	assert_non_null(q);
	assert_int_equal(jnum(&d, "block.read_bytes"), 123);
	assert_int_equal(jnum(&d, "block.read_agg.sum_us"), 9);
	metrics_unregister(ga);
	metrics_unregister(gb);
	free(render_parse(&d));
	assert_null(jget(&d, "block_a"));
	assert_int_equal(jnum(&d, "block.read_bytes"), 0);
}

static void test_emit_id(void **state)
{
	static struct jdoc d;
	log_set_instance_id("vm-42");
	assert_int_equal(metrics_configure("/dev/null", true, NULL, NULL, 0), 0);
	free(render_parse(&d));
	struct jnode *id = jget(&d, "id");
	assert_non_null(id);
	assert_true(id->is_str);
	assert_string_equal(id->str, "vm-42");
	metrics_reset_output();
	log_set_instance_id("");
}

static void test_full_pipe_is_counted_not_lost(void **state)
{
	static struct jdoc d;
	static struct dev_metrics m;
	char dir[] = "/tmp/ember-test-fifo-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/metrics.fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* No reader yet: the open must not block or fail. */
	assert_int_equal(metrics_configure(path, false, NULL, NULL, 0), 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_true(fcntl(rd, F_SETPIPE_SZ, 4096) > 0);
	struct metrics_group *g =
	    metrics_register("block_p", dev_fields, ARRAY_SIZE(dev_fields), &m, "block");
	assert_non_null(g);
	uint64_t missed0 = metrics_load(&metrics_logger.missed_metrics_count);
	int r = 0, written = 0;
	for (int i = 0; i < 100 && r == 0; i++) {
		metrics_inc(&m.read_count);
		if ((r = metrics_flush()) == 0)
			written++;
	}
	assert_int_equal(r, -EAGAIN);
	assert_true(written >= 1);
	assert_int_equal(metrics_load(&metrics_logger.missed_metrics_count), missed0 + 1);
	metrics_inc(&m.read_count);
	assert_int_equal(metrics_flush(), -EAGAIN);
	/* Drain: whole lines only, and their counts add up to what was written. */
	static char buf[65536];
	ssize_t n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(buf[n - 1], '\n');
	int lines = 0;
	uint64_t counted = 0;
	for (char *save, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char one[8192];
		snprintf(one, sizeof(one), "%s\n", l);
		assert_true(jparse(&d, one));
		counted += jnum(&d, "block_p.read_count");
		lines++;
	}
	assert_int_equal(lines, written);
	assert_int_equal(counted, (uint64_t)written);
	/* With room again, the next line carries the counts of the missed flushes. */
	assert_int_equal(metrics_flush(), 0);
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(jparse(&d, buf));
	assert_int_equal(jnum(&d, "block_p.read_count"), 2);
	assert_true(jnum(&d, "logger.missed_metrics_count") >= 2);
	metrics_unregister(g);
	metrics_reset_output();
	close(rd);
	unlink(path);
	rmdir(dir);
}

static void test_unconfigured_flush_is_a_no_op(void **state)
{
	metrics_reset_output();
	assert_int_equal(metrics_flush(), 0);
	char err[256] = "";
	assert_true(metrics_configure("/nonexistent/dir/m.json", false, NULL, err, sizeof(err)) <
	            0);
	assert_non_null(strstr(err, "/nonexistent/dir/m.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape_and_builtin_keys),
	    cmocka_unit_test(test_counters_are_deltas_gauges_persist),
	    cmocka_unit_test(test_aggregate_and_escaping),
	    cmocka_unit_test(test_emit_id),
	    cmocka_unit_test(test_full_pipe_is_counted_not_lost),
	    cmocka_unit_test(test_unconfigured_flush_is_a_no_op),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
