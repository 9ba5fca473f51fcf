/*
 * Unit tests for the logger (src/core/log.c): the CLI's stderr format
 * before configuration, Firecracker's line format after it (docs/logger.md:
 * timestamp, [instance_id:thread:LEVEL:file:line]), level and module
 * filtering, thread names, switching the output, and a full named pipe
 * dropping whole lines into logger.missed_log_count.
 *
 * The logger is process-global and cannot be unconfigured: the tests run
 * in order.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"

static char dir[] = "/tmp/ember-test-log-XXXXXX";

static char *path_in_dir(const char *name)
{
	static char buf[4][128];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

/* The whole file, NUL-terminated (caller frees). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
	bool ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void configure(const char *path, int level, int show_level, int show_origin,
                      const char *module)
{
	struct log_config c = {path, level, show_level, show_origin, module};
	char err[256];
	if (log_configure(&c, err, sizeof(err)))
		fail_msg("log_configure: %s", err);
}

static void test_level_parse(void **state)
{
	enum log_level l;
	const struct {
		const char *s;
		enum log_level l;
	} ok[] = {{"Error", LOG_ERROR}, {"WARNING", LOG_WARN}, {"warn", LOG_WARN},
	          {"Info", LOG_INFO},   {"debug", LOG_DEBUG},  {"TrAcE", LOG_TRACE},
	          {"Off", LOG_OFF}};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(log_level_parse(ok[i].s, &l), 0);
		assert_int_equal(l, ok[i].l);
	}
	assert_int_equal(log_level_parse("verbose", &l), -EINVAL);
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
}

static void test_stderr_before_configuration(void **state)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	log_warn("disk %d is slow", 3);
	log_debug("not at the default level");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	char buf[256] = {0};
	assert_true(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
	close(pipefd[0]);
	assert_string_equal(buf, "ember: warning: disk 3 is slow\n");
}

static void test_firecracker_format(void **state)
{
	char *file = path_in_dir("log.file");
	close(open(file, O_CREAT | O_WRONLY, 0600));
	configure(file, LOG_INFO, 1, 1, NULL);
	int line = __LINE__ + 1;
	log_warn("hello %s", "world");
	log_info("plain");
	log_debug("filtered out");
	char *text = slurp(file);
	char want[256];
	snprintf(want, sizeof(want),
	         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "
	         "\\[anonymous-instance:main:WARN:tests/unit/test_log\\.c:%d\\] hello world$",
	         line);
	assert_true(matches(text, want));
	assert_true(matches(text,
	                    "\\[anonymous-instance:main:INFO:tests/unit/test_log\\.c:[0-9]+\\] "
	                    "plain$"));
	assert_null(strstr(text, "filtered"));
	free(text);

	/* Firecracker's defaults: neither level nor origin. */
	configure(NULL, LOG_CONFIG_KEEP, 0, 0, NULL);
	log_set_instance_id("vm-7");
	log_error("bare");
	text = slurp(file);
	assert_true(matches(text, "^[-0-9T:.]{29} \\[vm-7:main\\] bare$"));
	free(text);
	log_set_instance_id(NULL);
}

static void *named_thread(void *arg)
{
	log_set_thread_name("vcpu %u", 3u);
	log_warn("from a vCPU");
	return NULL;
}

static void *unnamed_thread(void *arg)
{
	log_warn("from nowhere");
	return NULL;
}

static void test_thread_names(void **state)
{
	char *file = path_in_dir("threads.file");
	close(open(file, O_CREAT | O_WRONLY, 0600));
	configure(file, LOG_INFO, 1, 0, NULL); /* a new path: the output switches */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, named_thread, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(pthread_create(&t, NULL, unnamed_thread, NULL), 0);
	pthread_join(t, NULL);
	char *text = slurp(file);
	assert_true(matches(text, "\\[anonymous-instance:vcpu 3:WARN\\] from a vCPU$"));
	assert_true(matches(text, "\\[anonymous-instance:-:WARN\\] from nowhere$"));
	free(text);
	text = slurp(path_in_dir("log.file"));
	assert_null(strstr(text, "vCPU")); /* the old output got nothing more */
	free(text);
}

static void test_levels_and_module_filter(void **state)
{
	char *file = path_in_dir("levels.file");
	close(open(file, O_CREAT | O_WRONLY, 0600));
	configure(file, LOG_WARN, 1, 0, NULL);
	log_error("e1");
	log_warn("w1");
	log_info("i1");
	configure(NULL, LOG_OFF, LOG_CONFIG_KEEP, LOG_CONFIG_KEEP, NULL);
	log_error("e2");
	assert_false(log_enabled(LOG_ERROR));
	configure(NULL, LOG_TRACE, LOG_CONFIG_KEEP, LOG_CONFIG_KEEP, NULL);
	log_trace("t3");
	configure(NULL, LOG_TRACE, LOG_CONFIG_KEEP, LOG_CONFIG_KEEP, "devices/virtio");
	log_error("e4 filtered by module");
	configure(NULL, LOG_TRACE, LOG_CONFIG_KEEP, LOG_CONFIG_KEEP, "tests/unit");
	log_info("i5");
	configure(NULL, LOG_INFO, LOG_CONFIG_KEEP, LOG_CONFIG_KEEP, "");
	log_info("i6");
	char *text = slurp(file);
	assert_non_null(strstr(text, ":ERROR] e1\n"));
	assert_non_null(strstr(text, ":WARN] w1\n"));
	assert_null(strstr(text, "i1"));
	assert_null(strstr(text, "e2"));
	assert_non_null(strstr(text, ":TRACE] t3\n"));
	assert_null(strstr(text, "e4"));
	assert_non_null(strstr(text, ":INFO] i5\n"));
	assert_non_null(strstr(text, ":INFO] i6\n"));
	free(text);
	/* Bad input changes nothing. */
	struct log_config bad = {path_in_dir("no/such/dir"), LOG_ERROR, 0, 0, NULL};
	char err[256];
	assert_true(log_configure(&bad, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no/such/dir"));
	assert_int_equal(log_get_level(), LOG_INFO);
	bad = (struct log_config){NULL, 42, 0, 0, NULL};
	assert_int_equal(log_configure(&bad, err, sizeof(err)), -EINVAL);
}

static void test_full_pipe_drops_whole_lines(void **state)
{
	char *fifo = path_in_dir("log.fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* Opens without a reader (O_RDWR, as Firecracker). */
	configure(fifo, LOG_INFO, 0, 0, NULL);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_true(fcntl(rd, F_SETPIPE_SZ, 4096) > 0);
	uint64_t missed0 = metrics_load(&metrics_logger.missed_log_count);
	char pad[200];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		log_warn("line %03d %s", i, pad);
	uint64_t missed = metrics_load(&metrics_logger.missed_log_count) - missed0;
	assert_true(missed > 50 && missed < 100);
	static char buf[65536];
	ssize_t n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(buf[n - 1], '\n');
	int lines = 0;
	for (char *save, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_true(matches(l, "^[-0-9T:.]{29} \\[anonymous-instance:main\\] line [0-9]{3} "
		                       "x{199}$"));
		lines++;
	}
	assert_int_equal((uint64_t)lines + missed, 100);
	/* Room again: lines flow. */
	log_warn("after");
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	close(rd);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test(test_stderr_before_configuration),
	    cmocka_unit_test(test_firecracker_format),
	    cmocka_unit_test(test_thread_names),
	    cmocka_unit_test(test_levels_and_module_filter),
	    cmocka_unit_test(test_full_pipe_drops_whole_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
