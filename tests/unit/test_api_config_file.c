/*
 * Unit tests for Firecracker config files (config/config_file.c) and
 * Firecracker's command line (config/fc_cli.c), and for a config file
 * applied through the router: the same checks as API requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/controller.h"
#include "api/router.h"
#include "config/config_file.h"
#include "config/fc_cli.h"

static void parse_ok(const char *text, struct config_file *cf)
{
	char err[512] = "";
	int r = config_file_parse(text, strlen(text), cf, err, sizeof(err));
	if (r)
		fail_msg("parse failed: %s", err);
}

static void parse_fails(const char *text, const char *needle)
{
	struct config_file cf;
	char err[512] = "";
	int r = config_file_parse(text, strlen(text), &cf, err, sizeof(err));
	config_file_fini(&cf);
	if (!r || !strstr(err, needle))
		fail_msg("'%s': %d '%s' (wanted '%s')", text, r, err, needle);
}

static void test_sections_in_order(void **state)
{
	struct config_file cf;
	parse_ok("{\"drives\": [{\"drive_id\": \"rootfs\", \"is_root_device\": true},"
	         "{\"drive_id\": \"data\", \"is_root_device\": false}],"
	         "\"boot-source\": {\"kernel_image_path\": \"k\", \"boot_args\": \"a b\"},"
	         "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256},"
	         "\"logger\": {\"level\": \"Info\"}, \"entropy\": {},"
	         "\"network-interfaces\": [], \"balloon\": null, \"vsock\": null}",
	         &cf);
	static const char *const want[] = {"/logger",        "/machine-config", "/boot-source",
	                                   "/drives/rootfs", "/drives/data",    "/entropy"};
	assert_int_equal(cf.nr_reqs, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < cf.nr_reqs; i++)
		assert_string_equal(cf.reqs[i].path, want[i]);
	assert_string_equal(cf.reqs[2].body, "{\"kernel_image_path\":\"k\",\"boot_args\":\"a b\"}");
	assert_string_equal(cf.reqs[4].what, "drives[1]");
	config_file_fini(&cf);
}

static void test_bad_documents(void **state)
{
	parse_fails("", "not valid JSON");
	parse_fails("[]", "JSON object");
	parse_fails("{\"boot-source\": {}, \"boot-source\": {}}", "not valid JSON");
	parse_fails("{\"boot_source\": {}}", "unknown section `boot_source`");
	parse_fails("{\"drives\": {}}", "drives: expected a list");
	parse_fails("{\"drives\": [{\"path_on_host\": \"x\"}]}", "drives[0]");
	parse_fails("{\"drives\": [5]}", "drives[0]");
	parse_fails("{\"machine-config\": 5}", "machine-config: expected an object");
	parse_fails("{\"cpu-config\": 5}", "cpu-config");
	parse_fails("{\"cpu-config\": \"/nonexistent.json\"}", "cpu-config");
}

static void test_cpu_config_path(void **state)
{
	char path[] = "/tmp/ember-test-cpu-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"msr_modifiers\": []}", 21), 21);
	close(fd);
	char text[256];
	snprintf(text, sizeof(text), "{\"cpu-config\": \"%s\"}", path);
	struct config_file cf;
	parse_ok(text, &cf);
	assert_int_equal(cf.nr_reqs, 1);
	assert_string_equal(cf.reqs[0].path, "/cpu-config");
	assert_string_equal(cf.reqs[0].body, "{\"msr_modifiers\":[]}");
	config_file_fini(&cf);
	unlink(path);
}

/* A config file goes through the router: bad values are refused alike. */
static void test_applied_through_router(void **state)
{
	static const struct api_vm_ops no_ops;
	struct api_controller c;
	api_controller_init(&c, &no_ops, NULL, NULL, "t", 51200);
	struct config_file cf;
	parse_ok("{\"machine-config\": {\"vcpu_count\": 64, \"mem_size_mib\": 128}}", &cf);
	struct api_request req = {.method = API_PUT,
	                          .method_name = "PUT",
	                          .path = cf.reqs[0].path,
	                          .body = cf.reqs[0].body,
	                          .body_len = strlen(cf.reqs[0].body)};
	struct api_response resp = {0};
	api_route(&c, &req, &resp);
	assert_int_equal(resp.status, 400);
	api_response_fini(&resp);
	config_file_fini(&cf);
	api_controller_fini(&c);
}

#define ARGV(...) ((char *const[]){"firecracker", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((const char *[]){"firecracker", __VA_ARGS__}) / sizeof(char *)))
#define FC_PARSE(a, err, ...)                                                                      \
	fc_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), a, err, sizeof(err))

static void test_fc_cli(void **state)
{
	struct fc_args a;
	char err[256];
	char *const none[] = {"firecracker", NULL};
	assert_int_equal(fc_cli_parse(1, none, &a, err, sizeof(err)), 0);
	assert_string_equal(a.api_sock, "/run/firecracker.socket");
	assert_int_equal(a.max_payload, 51200);
	assert_int_equal(a.action, FC_RUN);
	assert_int_equal(FC_PARSE(&a, err, "--api-sock", "/tmp/s", "--id", "vm-1", "--level",
	                          "Debug", "--show-level", "--show-log-origin", "--boot-timer",
	                          "--start-time-us=12", "--http-api-max-payload-size", "100",
	                          "--mmds-size-limit", "7", "--seccomp-filter", "f"),
	                 0);
	assert_string_equal(a.api_sock, "/tmp/s");
	assert_string_equal(a.id, "vm-1");
	assert_string_equal(a.level, "Debug");
	assert_true(a.show_level && a.show_log_origin && a.boot_timer);
	assert_true(a.has_start_time_us);
	assert_int_equal(a.start_time_us, 12);
	assert_int_equal(a.max_payload, 100);
	assert_int_equal(a.mmds_size_limit, 7);
	assert_int_equal(FC_PARSE(&a, err, "--no-api", "--config-file", "c.json"), 0);
	assert_true(a.no_api);
	assert_int_not_equal(FC_PARSE(&a, err, "--no-api"), 0);
	assert_non_null(strstr(err, "--config-file"));
	assert_int_not_equal(FC_PARSE(&a, err, "--no-seccomp", "--seccomp-filter", "f"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--api-sock"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--api-sock", "a", "--api-sock", "b"), 0);
	assert_non_null(strstr(err, "twice"));
	assert_int_not_equal(FC_PARSE(&a, err, "--bogus"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "run"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--id", "bad_id"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--start-time-us", "-1"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--start-time-us", "99999999999999999999"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--http-api-max-payload-size", "0"), 0);
	assert_int_not_equal(FC_PARSE(&a, err, "--no-api=1", "--config-file", "x"), 0);
	assert_int_equal(FC_PARSE(&a, err, "--version"), 0);
	assert_int_equal(a.action, FC_VERSION);
	assert_int_equal(FC_PARSE(&a, err, "--describe-snapshot", "s"), 0);
	assert_int_equal(a.action, FC_DESCRIBE_SNAPSHOT);
	/* ember's own --accel: auto unless given. */
	assert_int_equal(FC_PARSE(&a, err, "--api-sock", "s"), 0);
	assert_int_equal(a.accel, ACCEL_KIND_AUTO);
	assert_int_equal(FC_PARSE(&a, err, "--accel", "soft", "--api-sock", "s"), 0);
	assert_int_equal(a.accel, ACCEL_KIND_SOFT);
	assert_int_equal(FC_PARSE(&a, err, "--accel=kvm"), 0);
	assert_int_equal(a.accel, ACCEL_KIND_KVM);
	assert_int_not_equal(FC_PARSE(&a, err, "--accel", "tcg"), 0);
	assert_non_null(strstr(err, "auto, kvm, soft"));
}

static void test_fc_cli_wanted(void **state)
{
	char *const fc[] = {"/usr/bin/firecracker", NULL};
	char *const ember_run[] = {"ember", "run", "--kernel", "k", NULL};
	char *const ember_sock[] = {"./ember", "--api-sock", "/tmp/s", NULL};
	char *const ember_cfg[] = {"ember", "--config-file=x", "--no-api", NULL};
	char *const ember_version[] = {"ember", "--version", NULL};
	char *const ember_none[] = {"ember", NULL};
	assert_true(fc_cli_wanted(1, fc));
	assert_false(fc_cli_wanted(4, ember_run));
	assert_true(fc_cli_wanted(3, ember_sock));
	assert_true(fc_cli_wanted(3, ember_cfg));
	assert_false(fc_cli_wanted(2, ember_version));
	assert_false(fc_cli_wanted(1, ember_none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections_in_order),
	    cmocka_unit_test(test_bad_documents),
	    cmocka_unit_test(test_cpu_config_path),
	    cmocka_unit_test(test_applied_through_router),
	    cmocka_unit_test(test_fc_cli),
	    cmocka_unit_test(test_fc_cli_wanted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
