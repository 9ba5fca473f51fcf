/*
 * Unit tests for the validation of every API body: types, ranges, unknown
 * and missing fields, duplicate keys, ids, rate limiters -- and that a
 * refused request changes nothing that was configured before.
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
#include "api/json.h"
#include "api/router.h"

static const struct api_vm_ops no_ops;

struct ctx {
	struct api_controller c;
	char file[64];
};

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));
	api_controller_init(&x->c, &no_ops, NULL, "test-vm", "test", 51200);
	snprintf(x->file, sizeof(x->file), "/tmp/ember-test-json-XXXXXX");
	int fd = mkstemp(x->file);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 16), 0);
	close(fd);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	api_controller_fini(&x->c);
	unlink(x->file);
	free(x);
	return 0;
}

static unsigned put(struct ctx *x, const char *method, const char *path, const char *body,
                    char *fault)
{
	struct api_request req = {
	    .method = api_method_parse(method),
	    .method_name = method,
	    .path = path,
	    .body = body,
	    .body_len = strlen(body),
	};
	struct api_response resp = {0};
	api_route(&x->c, &req, &resp);
	char buf[1024];
	snprintf(fault, 512, "%s", api_response_fault(&resp, buf, sizeof(buf)));
	unsigned st = resp.status;
	api_response_fini(&resp);
	return st;
}

/* Expects 400 with `needle` in the fault message. */
static void refused(struct ctx *x, const char *method, const char *path, const char *body,
                    const char *needle)
{
	char fault[512];
	unsigned st = put(x, method, path, body, fault);
	if (st != 400 || !strstr(fault, needle))
		fail_msg("%s %s %s: %u '%s' (wanted 400 with '%s')", method, path, body, st, fault,
		         needle);
}

static void accepted(struct ctx *x, const char *method, const char *path, const char *body)
{
	char fault[512];
	unsigned st = put(x, method, path, body, fault);
	if (st != 204)
		fail_msg("%s %s %s: %u '%s'", method, path, body, st, fault);
}

static void test_machine_config(void **state)
{
	struct ctx *x = *state;
	const char *mc = "/machine-config";
	accepted(x, "PUT", mc,
	         "{\"vcpu_count\": 4, \"mem_size_mib\": 256, \"smt\": false, "
	         "\"track_dirty_pages\": true, \"cpu_template\": \"None\", "
	         "\"huge_pages\": \"None\"}");
	refused(x, "PUT", mc, "{\"vcpu_count\": \"4\", \"mem_size_mib\": 256}",
	        "field `vcpu_count`: expected an unsigned integer");
	refused(x, "PUT", mc, "{\"vcpu_count\": -1, \"mem_size_mib\": 256}", "negative");
	refused(x, "PUT", mc, "{\"vcpu_count\": 1.5, \"mem_size_mib\": 256}", "unsigned integer");
	refused(x, "PUT", mc, "{\"vcpu_count\": 1e3, \"mem_size_mib\": 256}", "unsigned integer");
	refused(x, "PUT", mc, "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", "1 to 32");
	refused(x, "PUT", mc, "{\"vcpu_count\": 33, \"mem_size_mib\": 256}", "1 to 32");
	refused(x, "PUT", mc, "{\"vcpu_count\": 99999999999999999999, \"mem_size_mib\": 256}",
	        "not valid JSON");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 15}", "mem_size_mib");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 9223372036854775807}",
	        "mem_size_mib");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2}", "missing field `mem_size_mib`");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": true}", "smt");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": 1}",
	        "expected a boolean");
	refused(x, "PUT", mc,
	        "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}",
	        "CPU template T2");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": \"X\"}",
	        "unknown variant");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"huge_pages\": \"2M\"}",
	        "huge_pages");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"foo\": 1}",
	        "unknown field `foo`");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"vcpu_count\": 3, \"mem_size_mib\": 128}",
	        "duplicate");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128} x", "not valid JSON");
	refused(x, "PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 12", "not valid JSON");
	refused(x, "PUT", mc, "[1]", "JSON object");
	refused(x, "PUT", mc, "null", "not valid JSON");
	refused(x, "PUT", mc, "\"\\u0000\"", "not valid JSON");
	/* None of the refusals changed what the first PUT set. */
	assert_int_equal(x->c.res.machine.vcpu_count, 4);
	assert_int_equal(x->c.res.machine.mem_size_mib, 256);
	assert_true(x->c.res.machine.track_dirty_pages);
	/* PATCH keeps what it does not name; PUT resets the optional fields. */
	accepted(x, "PATCH", mc, "{\"vcpu_count\": 2}");
	assert_int_equal(x->c.res.machine.vcpu_count, 2);
	assert_int_equal(x->c.res.machine.mem_size_mib, 256);
	assert_true(x->c.res.machine.track_dirty_pages);
	refused(x, "PATCH", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 1}", "mem_size_mib");
	assert_int_equal(x->c.res.machine.mem_size_mib, 256);
	accepted(x, "PATCH", mc, "{}");
	accepted(x, "PUT", mc, "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
	assert_false(x->c.res.machine.track_dirty_pages);
}

static void test_boot_source(void **state)
{
	struct ctx *x = *state;
	char body[512];
	snprintf(body, sizeof(body),
	         "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
	         "\"boot_args\": \"console=ttyS0 quiet\"}",
	         x->file, x->file);
	accepted(x, "PUT", "/boot-source", body);
	refused(x, "PUT", "/boot-source", "{}", "missing field `kernel_image_path`");
	refused(x, "PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/k\"}",
	        "cannot open");
	refused(x, "PUT", "/boot-source", "{\"kernel_image_path\": \"/tmp\"}", "regular file");
	refused(x, "PUT", "/boot-source", "{\"kernel_image_path\": \"\"}", "empty");
	refused(x, "PUT", "/boot-source", "{\"kernel_image_path\": 5}", "expected a string");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"a\\nb\"}",
	         x->file);
	refused(x, "PUT", "/boot-source", body, "printable");
	snprintf(body, sizeof(body),
	         "{\"kernel_image_path\": \"%s\", \"initrd_path\": "
	         "\"/nonexistent\"}",
	         x->file);
	refused(x, "PUT", "/boot-source", body, "initrd_path");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"extra\": true}", x->file);
	refused(x, "PUT", "/boot-source", body, "unknown field `extra`");
	assert_string_equal(x->c.res.boot.boot_args, "console=ttyS0 quiet");
}

static void drive(char *buf, size_t len, const char *id, const char *path, const char *extra)
{
	snprintf(buf, len,
	         "{\"drive_id\": \"%s\", \"path_on_host\": \"%s\", "
	         "\"is_root_device\": false, \"is_read_only\": true%s%s}",
	         id, path, extra ? ", " : "", extra ? extra : "");
}

static void test_drives(void **state)
{
	struct ctx *x = *state;
	char body[1024];
	drive(body, sizeof(body), "d0", x->file,
	      "\"cache_type\": \"Writeback\", \"io_engine\": "
	      "\"Async\", \"partuuid\": \"0eaa91a0-01\"");
	accepted(x, "PUT", "/drives/d0", body);
	refused(x, "PUT", "/drives/d1", body, "The id from the path does not match");
	drive(body, sizeof(body), "d1", x->file, "\"cache_type\": \"None\"");
	refused(x, "PUT", "/drives/d1", body, "cache_type");
	drive(body, sizeof(body), "d1", x->file, "\"io_engine\": \"Uring\"");
	refused(x, "PUT", "/drives/d1", body, "io_engine");
	drive(body, sizeof(body), "d1", x->file, "\"socket\": \"/tmp/vhost\"");
	refused(x, "PUT", "/drives/d1", body, "vhost-user");
	drive(body, sizeof(body), "d1", x->file, "\"partuuid\": \"a b\"");
	refused(x, "PUT", "/drives/d1", body, "partuuid");
	drive(body, sizeof(body), "d1", "/nonexistent", NULL);
	refused(x, "PUT", "/drives/d1", body, "cannot open");
	drive(body, sizeof(body), "d1", x->file,
	      "\"rate_limiter\": {\"bandwidth\": {\"size\": 100, \"refill_time\": 10}, "
	      "\"ops\": {\"size\": 10, \"one_time_burst\": 5, \"refill_time\": 1000}}");
	accepted(x, "PUT", "/drives/d1", body);
	assert_int_equal(x->c.res.drives[1].rate_limiter.ops.one_time_burst, 5);
	drive(body, sizeof(body), "d1", x->file,
	      "\"rate_limiter\": {\"bandwidth\": {\"size\": 100}}");
	refused(x, "PUT", "/drives/d1", body, "missing field `refill_time`");
	drive(body, sizeof(body), "d1", x->file,
	      "\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 1, \"x\": 1}}");
	refused(x, "PUT", "/drives/d1", body, "unknown field `x`");
	drive(body, sizeof(body), "d1", x->file,
	      "\"rate_limiter\": {\"bandwidth\": {\"size\": 0, \"refill_time\": 0}}");
	accepted(x, "PUT", "/drives/d1", body);
	refused(x, "PUT", "/drives/d2", "{\"drive_id\": \"d2\", \"is_root_device\": false}",
	        "path_on_host");
	snprintf(body, sizeof(body),
	         "{\"drive_id\": \"d2\", \"is_root_device\": false, "
	         "\"path_on_host\": \"%s\"}",
	         x->file);
	refused(x, "PUT", "/drives/d2", body, "is_read_only");
	/* One root device. */
	snprintf(body, sizeof(body),
	         "{\"drive_id\": \"r1\", \"path_on_host\": \"%s\", "
	         "\"is_root_device\": true, \"is_read_only\": true}",
	         x->file);
	accepted(x, "PUT", "/drives/r1", body);
	accepted(x, "PUT", "/drives/r1", body); /* replacing itself is fine */
	snprintf(body, sizeof(body),
	         "{\"drive_id\": \"r2\", \"path_on_host\": \"%s\", "
	         "\"is_root_device\": true, \"is_read_only\": true}",
	         x->file);
	refused(x, "PUT", "/drives/r2", body, "A root block device already exists!");
	/* At most 8 drives; an update keeps its place. */
	for (int i = 3; i < 8; i++) {
		char id[16], path[32];
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(path, sizeof(path), "/drives/d%d", i);
		drive(body, sizeof(body), id, x->file, NULL);
		accepted(x, "PUT", path, body);
	}
	assert_int_equal(x->c.res.nr_drives, 8);
	drive(body, sizeof(body), "d9", x->file, NULL);
	refused(x, "PUT", "/drives/d9", body, "at most 8");
	drive(body, sizeof(body), "d0", x->file, NULL);
	accepted(x, "PUT", "/drives/d0", body);
	assert_string_equal(x->c.res.drives[0].drive_id, "d0");
	assert_null(x->c.res.drives[0].partuuid);
}

static void test_entropy_serial_cpu(void **state)
{
	struct ctx *x = *state;
	accepted(x, "PUT", "/entropy", "{}");
	accepted(x, "PUT", "/entropy",
	         "{\"rate_limiter\": {\"bandwidth\": {\"size\": 4096, "
	         "\"refill_time\": 1000}}}");
	accepted(x, "PUT", "/entropy",
	         "{\"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": "
	         "1000}}}");
	accepted(x, "PUT", "/entropy",
	         "{\"rate_limiter\": {\"bandwidth\": {\"size\": 4096, "
	         "\"one_time_burst\": 9, \"refill_time\": 1000}}}");
	refused(x, "PUT", "/entropy",
	        "{\"rate_limiter\": {\"bandwidth\": {\"size\": "
	        "4611686018427387905, \"refill_time\": 1}}}",
	        "largest accepted value");
	refused(x, "PUT", "/entropy", "{\"rate_limiter\": 5}", "expected an object");
	refused(x, "PUT", "/entropy",
	        "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1, "
	        "\"refill_time\": 18446744073709551615}}}",
	        "not valid JSON");
	assert_int_equal(x->c.res.entropy_rate_limiter.bandwidth.size, 4096);

	accepted(x, "PUT", "/serial", "{\"serial_out_path\": \"/tmp/ember-serial\"}");
	refused(x, "PUT", "/serial", "{\"serial_out_path\": \"\"}", "empty");
	refused(x, "PUT", "/serial", "{\"rate_limiter\": {\"size\": 10, \"refill_time\": 10}}",
	        "not supported yet");
	refused(x, "PUT", "/serial", "{\"serial_out_path\": 1}", "expected a string");
	assert_string_equal(x->c.res.serial_out_path, "/tmp/ember-serial");

	accepted(x, "PUT", "/cpu-config", "{}");
	accepted(x, "PUT", "/cpu-config", "{\"cpuid_modifiers\": [], \"msr_modifiers\": []}");
	refused(x, "PUT", "/cpu-config", "{\"kvm_capabilities\": [\"!121\"]}", "kvm_capabilities");
	refused(x, "PUT", "/cpu-config", "{\"cpuid_modifiers\": {}}", "expected an array");
	refused(x, "PUT", "/cpu-config", "{\"x\": []}", "unknown field");
}

static void test_logger_metrics_actions(void **state)
{
	struct ctx *x = *state;
	refused(x, "PUT", "/logger", "{\"level\": \"Loud\"}", "unknown level");
	refused(x, "PUT", "/logger", "{\"level\": 3}", "expected a string");
	refused(x, "PUT", "/logger", "{\"log_path\": \"/nonexistent/dir/log\"}", "log_path");
	refused(x, "PUT", "/logger", "{\"show_level\": \"yes\"}", "expected a boolean");
	refused(x, "PUT", "/logger", "{\"colour\": true}", "unknown field `colour`");
	refused(x, "PUT", "/metrics", "{}", "missing field `metrics_path`");
	refused(x, "PUT", "/metrics", "{\"metrics_path\": \"\"}", "empty");
	refused(x, "PUT", "/metrics",
	        "{\"metrics_path\": \"/tmp/m\", \"properties\": {\"a\": "
	        "\"b\"}}",
	        "properties");
	refused(x, "PUT", "/actions", "{}", "missing field `action_type`");
	refused(x, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", "unknown variant");
	refused(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"x\": 1}",
	        "unknown field");
	refused(x, "PUT", "/actions", "{\"action_type\": null}", "expected a string");
}

static void test_ids(void **state)
{
	assert_true(api_id_valid("rootfs"));
	assert_true(api_id_valid("Disk_01"));
	assert_false(api_id_valid(""));
	assert_false(api_id_valid("a-b"));
	assert_false(api_id_valid("a b"));
	assert_false(api_id_valid("d\xc3\xa9"));
	char longid[API_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_false(api_id_valid(longid));
	longid[API_ID_MAX] = '\0';
	assert_true(api_id_valid(longid));
	assert_true(api_instance_id_valid("anonymous-instance"));
	assert_false(api_instance_id_valid("a_b"));
	assert_false(api_instance_id_valid(""));
}

static void test_token_bucket(void **state)
{
	json_t *obj =
	    json_loads("{\"size\": 100, \"refill_time\": 1000, \"one_time_burst\": 5}", 0, NULL);
	struct api_token_bucket b;
	char err[256];
	assert_int_equal(api_json_token_bucket(obj, "t", &b, err, sizeof(err)), 0);
	assert_true(api_token_bucket_limits(&b));
	assert_int_equal(b.one_time_burst, 5);
	json_t *back = api_token_bucket_json(&b);
	assert_true(json_equal(obj, back));
	json_decref(back);
	json_decref(obj);
	obj = json_loads("{\"size\": 100, \"refill_time\": 2199023255553}", 0, NULL);
	assert_int_not_equal(api_json_token_bucket(obj, "t", &b, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "refill_time"));
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_machine_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_boot_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drives, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_entropy_serial_cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logger_metrics_actions, setup, teardown),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_token_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
