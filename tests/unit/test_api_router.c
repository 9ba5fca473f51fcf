/*
 * Unit tests for the API router and controller: the method x path table,
 * body presence rules, path ids, the pre-boot / post-boot rules, the
 * InstanceStart flow with a fake VM, pause / resume, MMDS, GET /vm/config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/controller.h"
#include "api/router.h"

/* ---- a fake VM behind the controller's ops ---- */

struct fake {
	int starts, pauses, resumes, updates, limiter_updates, ctrl_alt_dels;
	struct token_bucket_config last_bw;
	bool last_bw_given, last_ops_given;
	int fail_start; /* -errno to return */
	char cmdline[512];
	unsigned vcpus, disks;
	char first_disk[256];
	uint64_t rng_rate;
	bool has_rng;
};

static int fake_start(void *opaque, const struct api_resources *res, struct vm_config *cfg,
                      void **vm, char *err, size_t errlen)
{
	struct fake *f = opaque;
	f->starts++;
	if (f->fail_start) {
		snprintf(err, errlen, "the fake builder says no");
		return f->fail_start;
	}
	snprintf(f->cmdline, sizeof(f->cmdline), "%s", cfg->cmdline);
	f->vcpus = cfg->nr_vcpus;
	f->disks = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		if (cfg->devices[i].kind == VM_DEVICE_BLK && f->disks++ == 0)
			snprintf(f->first_disk, sizeof(f->first_disk), "%s",
			         cfg->devices[i].blk.path);
		if (cfg->devices[i].kind == VM_DEVICE_RNG) {
			f->has_rng = true;
			f->rng_rate = cfg->devices[i].rng.rate_limiter.bandwidth.size;
		}
	}
	*vm = f;
	return 0;
}

static int fake_pause(void *opaque, void *vm)
{
	((struct fake *)opaque)->pauses++;
	return 0;
}

static int fake_resume(void *opaque, void *vm)
{
	((struct fake *)opaque)->resumes++;
	return 0;
}

static int fake_update(void *opaque, void *vm, unsigned disk, const char *path, bool ro, char *err,
                       size_t errlen)
{
	((struct fake *)opaque)->updates++;
	return 0;
}

static int fake_update_limiter(void *opaque, void *vm, unsigned disk,
                               const struct token_bucket_config *bw,
                               const struct token_bucket_config *ops, char *err, size_t errlen)
{
	struct fake *f = opaque;
	f->limiter_updates++;
	f->last_bw_given = bw != NULL;
	f->last_ops_given = ops != NULL;
	if (bw)
		f->last_bw = *bw;
	return 0;
}

static int fake_ctrl_alt_del(void *opaque, void *vm, char *err, size_t errlen)
{
	(void)vm;
	(void)err;
	(void)errlen;
	struct fake *f = opaque;
	f->ctrl_alt_dels++;
	return 0;
}

static const struct api_vm_ops fake_ops = {fake_start,  fake_pause,          fake_resume,
                                           fake_update, fake_update_limiter, fake_ctrl_alt_del};

struct ctx {
	struct api_controller c;
	struct fake fake;
	char kernel[64], disk[64], disk2[64];
};

static void make_file(char *path, size_t len, const char *tag, size_t size)
{
	snprintf(path, len, "/tmp/ember-test-%s-XXXXXX", tag);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));
	api_controller_init(&x->c, &fake_ops, &x->fake, NULL, "test", 1024);
	make_file(x->kernel, sizeof(x->kernel), "kernel", 4096);
	make_file(x->disk, sizeof(x->disk), "disk", 1 << 20);
	make_file(x->disk2, sizeof(x->disk2), "disk2", 1 << 20);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	api_controller_fini(&x->c);
	unlink(x->kernel);
	unlink(x->disk);
	unlink(x->disk2);
	free(x);
	return 0;
}

/* Sends one request; returns the status, the fault message in fault. */
static unsigned call(struct ctx *x, const char *method, const char *path, const char *body,
                     char *fault, size_t len)
{
	struct api_request req = {
	    .method = api_method_parse(method),
	    .method_name = method,
	    .path = path,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	};
	struct api_response resp = {0};
	api_route(&x->c, &req, &resp);
	char buf[1024];
	if (fault)
		snprintf(fault, len, "%s", api_response_fault(&resp, buf, sizeof(buf)));
	unsigned status = resp.status;
	api_response_fini(&resp);
	return status;
}

#define CALL(x, m, p, b) call(x, m, p, b, NULL, 0)

/* GET with the body returned as JSON (caller decrefs). */
static json_t *get(struct ctx *x, const char *path)
{
	struct api_request req = {.method = API_GET, .method_name = "GET", .path = path};
	struct api_response resp = {0};
	api_route(&x->c, &req, &resp);
	assert_int_equal(resp.status, 200);
	json_t *v = json_loads(resp.body, 0, NULL);
	assert_non_null(v);
	api_response_fini(&resp);
	return v;
}

static void configure(struct ctx *x)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"quiet\"}",
	         x->kernel);
	assert_int_equal(CALL(x, "PUT", "/boot-source", body), 204);
	snprintf(body, sizeof(body),
	         "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
	         "\"is_read_only\": true}",
	         x->disk2);
	assert_int_equal(CALL(x, "PUT", "/drives/data", body), 204);
	snprintf(body, sizeof(body),
	         "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
	         "\"is_read_only\": false}",
	         x->disk);
	assert_int_equal(CALL(x, "PUT", "/drives/rootfs", body), 204);
	assert_int_equal(
	    CALL(x, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}"), 204);
}

static void start(struct ctx *x)
{
	configure(x);
	assert_int_equal(CALL(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_int_equal(x->c.state, API_VM_RUNNING);
}

/* ---- the method x path table ---- */

static const char *const paths[] = {
    "/",
    "/version",
    "/machine-config",
    "/boot-source",
    "/drives/a",
    "/entropy",
    "/serial",
    "/cpu-config",
    "/logger",
    "/metrics",
    "/mmds",
    "/mmds/config",
    "/actions",
    "/vm",
    "/vm/config",
    "/snapshot/create",
    "/snapshot/load",
    "/network-interfaces/eth0",
    "/vsock",
    "/balloon",
    "/balloon/statistics",
    "/balloon/hinting/start",
    "/balloon/hinting/status",
    "/balloon/hinting/stop",
    "/hotplug/memory",
    "/pmem/p0",
    "/nope",
    "/vm/nope",
    "/machine-config/x",
    "/drives/a/b",
};

static bool routed(const char *method, const char *path)
{
	char pattern[64];
	const char *p = path + 1;
	for (size_t i = 0; i < api_nr_routes; i++) {
		const struct api_route *r = &api_routes[i];
		if (api_method_parse(method) != r->method)
			continue;
		snprintf(pattern, sizeof(pattern), "%s", r->path);
		char *brace = strstr(pattern, "{id}");
		if (brace) {
			size_t n = (size_t)(brace - pattern);
			if (!strncmp(p, pattern, n) && strchr(p + n, '/') == NULL && p[n])
				return true;
		} else if (!strcmp(p, pattern)) {
			return true;
		}
	}
	return false;
}

static void test_method_path_table(void **state)
{
	struct ctx *x = *state;
	static const char *const methods[] = {"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD"};
	for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
			char fault[512];
			const char *body = strcmp(methods[m], "GET") ? "{}" : NULL;
			unsigned st = call(x, methods[m], paths[i], body, fault, sizeof(fault));
			bool invalid = strstr(fault, "Invalid request method and/or path") != NULL;
			if (routed(methods[m], paths[i])) {
				if (invalid)
					fail_msg("%s %s: routed but answered '%s'", methods[m],
					         paths[i], fault);
			} else {
				if (!invalid || st != 400)
					fail_msg("%s %s: not routed but answered %u '%s'",
					         methods[m], paths[i], st, fault);
			}
		}
	}
}

static void test_every_route_answers_json(void **state)
{
	struct ctx *x = *state;
	for (size_t i = 0; i < api_nr_routes; i++) {
		const struct api_route *r = &api_routes[i];
		char path[64];
		snprintf(path, sizeof(path), "/%s", r->path);
		char *brace = strstr(path, "{id}");
		if (brace)
			strcpy(brace, "x1");
		const char *method = r->method == API_GET   ? "GET"
		                     : r->method == API_PUT ? "PUT"
		                                            : "PATCH";
		struct api_request req = {
		    .method = r->method,
		    .method_name = method,
		    .path = path,
		    .body = r->method == API_GET ? NULL : "{}",
		    .body_len = r->method == API_GET ? 0 : 2,
		};
		struct api_response resp = {0};
		api_route(&x->c, &req, &resp);
		if (resp.status != 204) {
			assert_non_null(resp.body);
			json_t *v = json_loads(resp.body, 0, NULL);
			if (!json_is_object(v))
				fail_msg("%s %s: body is not a JSON object: %s", method, path,
				         resp.body);
			if (resp.status >= 400 &&
			    !json_is_string(json_object_get(v, "fault_message")))
				fail_msg("%s %s: error without fault_message", method, path);
			json_decref(v);
		}
		api_response_fini(&resp);
	}
}

static void test_body_rules(void **state)
{
	struct ctx *x = *state;
	char fault[512];
	assert_int_equal(call(x, "GET", "/", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "GET request cannot have a body.");
	assert_int_equal(call(x, "GET", "/nope", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "GET request cannot have a body.");
	assert_int_equal(call(x, "PUT", "/boot-source", NULL, fault, sizeof(fault)), 400);
	assert_string_equal(fault, "Empty PUT request.");
	assert_int_equal(call(x, "PATCH", "/machine-config", NULL, fault, sizeof(fault)), 400);
	assert_string_equal(fault, "Empty PATCH request.");
	assert_int_equal(call(x, "PUT", "/nope", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "Invalid request method and/or path: PUT /nope.");
	assert_int_equal(call(x, "POST", "/", NULL, fault, sizeof(fault)), 400);
	assert_string_equal(fault, "Invalid request method and/or path: POST /.");
}

static void test_paths_and_ids(void **state)
{
	struct ctx *x = *state;
	char fault[512];
	assert_int_equal(CALL(x, "GET", "//machine-config/", NULL), 200);
	assert_int_equal(CALL(x, "GET", "", NULL), 200);
	assert_int_equal(call(x, "PUT", "/drives", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "The ID cannot be empty.");
	assert_int_equal(call(x, "PUT", "/drives/", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "The ID cannot be empty.");
	assert_int_equal(call(x, "PUT", "/drives//", "{}", fault, sizeof(fault)), 400);
	assert_string_equal(fault, "The ID cannot be empty.");
	assert_int_equal(call(x, "PUT", "/drives/a-b", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "alphanumeric characters and underscores"));
	assert_int_equal(call(x, "PUT", "/drives/a.b", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "alphanumeric"));
	assert_int_equal(call(x, "PUT", "/drives/a/b", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "Invalid request method and/or path"));
	char longpath[2048];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(call(x, "GET", longpath, NULL, fault, sizeof(fault)), 400);
	assert_int_equal(CALL(x, "GET", "/a/b/c/d/e/f/g/h/i/j/k", NULL), 400);
}

static void test_preboot_rules(void **state)
{
	struct ctx *x = *state;
	char fault[512];
	assert_int_equal(call(x, "PATCH", "/vm", "{\"state\": \"Paused\"}", fault, sizeof(fault)),
	                 400);
	assert_string_equal(
	    fault, "The requested operation is not supported before starting the microVM.");
	assert_int_equal(
	    call(x, "PATCH", "/drives/a", "{\"drive_id\": \"a\"}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "before starting"));
	assert_int_equal(call(x, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", fault,
	                      sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "before starting"));
	assert_int_equal(
	    call(x, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", fault, sizeof(fault)),
	    400);
	assert_int_equal(call(x, "PUT", "/snapshot/create", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "before starting"));
	assert_int_equal(call(x, "PUT", "/snapshot/load", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "snapshots are not supported yet"));
	assert_int_equal(call(x, "PUT", "/vsock", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "vsock: not supported yet"));
	assert_int_equal(call(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", fault,
	                      sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "without kernel configuration"));
	assert_int_equal(x->fake.starts, 0);
	assert_int_equal(x->c.state, API_VM_NOT_STARTED);
}

static void test_instance_start(void **state)
{
	struct ctx *x = *state;
	json_t *info = get(x, "/");
	assert_string_equal(json_string_value(json_object_get(info, "state")), "Not started");
	json_decref(info);
	start(x);
	assert_int_equal(x->fake.starts, 1);
	assert_int_equal(x->fake.vcpus, 2);
	assert_int_equal(x->fake.disks, 2);
	/* The root drive first (/dev/vda), whatever order the PUTs came in. */
	assert_string_equal(x->fake.first_disk, x->disk);
	assert_string_equal(x->fake.cmdline, "quiet root=/dev/vda rw");
	info = get(x, "/");
	assert_string_equal(json_string_value(json_object_get(info, "state")), "Running");
	assert_string_equal(json_string_value(json_object_get(info, "id")), "anonymous-instance");
	json_decref(info);
}

static void test_postboot_rules(void **state)
{
	struct ctx *x = *state;
	start(x);
	static const char *const preboot[][2] = {
	    {"PUT", "/boot-source"},
	    {"PUT", "/machine-config"},
	    {"PATCH", "/machine-config"},
	    {"PUT", "/drives/data"},
	    {"PUT", "/entropy"},
	    {"PUT", "/serial"},
	    {"PUT", "/cpu-config"},
	    {"PUT", "/logger"},
	    {"PUT", "/metrics"},
	    {"PUT", "/mmds/config"},
	    {"PUT", "/vsock"},
	    {"PUT", "/balloon"},
	    {"PUT", "/pmem/p"},
	    {"PUT", "/network-interfaces/eth0"},
	    {"PUT", "/hotplug/memory"},
	    {"PUT", "/snapshot/load"},
	};
	char fault[512];
	for (size_t i = 0; i < sizeof(preboot) / sizeof(*preboot); i++) {
		assert_int_equal(call(x, preboot[i][0], preboot[i][1], "{}", fault, sizeof(fault)),
		                 400);
		if (strcmp(fault, "The requested operation is not supported after starting the "
		                  "microVM."))
			fail_msg("%s %s: '%s'", preboot[i][0], preboot[i][1], fault);
	}
	assert_int_equal(call(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", fault,
	                      sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "after starting"));
	assert_int_equal(x->fake.starts, 1);
	/* Still answered after boot. */
	assert_int_equal(CALL(x, "GET", "/machine-config", NULL), 200);
	assert_int_equal(CALL(x, "GET", "/vm/config", NULL), 200);
	assert_int_equal(CALL(x, "PUT", "/mmds", "{\"a\": 1}"), 204);
	assert_int_equal(CALL(x, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 204);
	assert_int_equal(x->fake.ctrl_alt_dels, 1);
	assert_int_equal(call(x, "PUT", "/snapshot/create", "{}", fault, sizeof(fault)), 400);
	assert_non_null(strstr(fault, "snapshots are not supported yet"));
}

static void test_failed_start_keeps_config(void **state)
{
	struct ctx *x = *state;
	configure(x);
	x->fake.fail_start = -EINVAL;
	char fault[512];
	assert_int_equal(call(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", fault,
	                      sizeof(fault)),
	                 400);
	assert_string_equal(fault, "Start microvm error: the fake builder says no");
	assert_int_equal(x->c.state, API_VM_NOT_STARTED);
	assert_int_equal(x->c.res.nr_drives, 2);
	/* Fixed, it boots. */
	x->fake.fail_start = 0;
	assert_int_equal(CALL(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
}

static void test_pause_resume(void **state)
{
	struct ctx *x = *state;
	start(x);
	char fault[512];
	assert_int_equal(call(x, "PATCH", "/vm", "{\"state\": \"Stopped\"}", fault, sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "Paused"));
	assert_int_equal(CALL(x, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204);
	assert_int_equal(x->c.state, API_VM_PAUSED);
	json_t *info = get(x, "/");
	assert_string_equal(json_string_value(json_object_get(info, "state")), "Paused");
	json_decref(info);
	assert_int_equal(CALL(x, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204);
	assert_int_equal(x->fake.pauses, 1); /* idempotent */
	assert_int_equal(CALL(x, "PATCH", "/vm", "{\"state\": \"Resumed\"}"), 204);
	assert_int_equal(x->fake.resumes, 1);
	assert_int_equal(x->c.state, API_VM_RUNNING);
}

static void test_patch_drive(void **state)
{
	struct ctx *x = *state;
	start(x);
	char body[512], fault[512];
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}",
	         x->kernel);
	assert_int_equal(CALL(x, "PATCH", "/drives/rootfs", body), 204);
	assert_int_equal(x->fake.updates, 1);
	assert_string_equal(x->c.res.drives[1].path_on_host, x->kernel);
	assert_int_equal(
	    call(x, "PATCH", "/drives/nope", "{\"drive_id\": \"nope\"}", fault, sizeof(fault)),
	    400);
	assert_non_null(strstr(fault, "no drive"));
	assert_int_equal(call(x, "PATCH", "/drives/rootfs",
	                      "{\"drive_id\": \"rootfs\", \"is_read_only\": true}", fault,
	                      sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "unknown field `is_read_only`"));
	assert_int_equal(call(x, "PATCH", "/drives/rootfs",
	                      "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/nonexistent\"}",
	                      fault, sizeof(fault)),
	                 400);
	assert_int_equal(x->fake.updates, 1);
	assert_int_equal(CALL(x, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"), 204);
	/* A rate limiter update: only the buckets given are passed on. */
	assert_int_equal(CALL(x, "PATCH", "/drives/rootfs",
	                      "{\"drive_id\": \"rootfs\", \"rate_limiter\": {\"bandwidth\": "
	                      "{\"size\": 5000, \"refill_time\": 100}}}"),
	                 204);
	assert_int_equal(x->fake.limiter_updates, 1);
	assert_true(x->fake.last_bw_given);
	assert_false(x->fake.last_ops_given);
	assert_int_equal(x->fake.last_bw.size, 5000);
	assert_int_equal(x->fake.last_bw.refill_time_ms, 100);
	assert_int_equal(x->c.res.drives[1].rate_limiter.bandwidth.size, 5000);
	assert_int_equal(call(x, "PATCH", "/drives/rootfs",
	                      "{\"drive_id\": \"rootfs\", \"rate_limiter\": {\"ops\": "
	                      "{\"size\": 1}}}",
	                      fault, sizeof(fault)),
	                 400);
	assert_int_equal(x->fake.limiter_updates, 1);
}

static void test_mmds(void **state)
{
	struct ctx *x = *state;
	json_t *v = get(x, "/mmds");
	assert_int_equal(json_object_size(v), 0);
	json_decref(v);
	assert_int_equal(CALL(x, "PUT", "/mmds", "{\"a\": {\"b\": 1, \"c\": 2}, \"d\": [1]}"), 204);
	assert_int_equal(CALL(x, "PATCH", "/mmds", "{\"a\": {\"b\": null, \"e\": 3}, \"d\": 5}"),
	                 204);
	v = get(x, "/mmds");
	json_t *want = json_loads("{\"a\": {\"c\": 2, \"e\": 3}, \"d\": 5}", 0, NULL);
	assert_true(json_equal(v, want));
	json_decref(want);
	json_decref(v);
	assert_int_equal(CALL(x, "PUT", "/mmds", "[1, 2]"), 400);
	assert_int_equal(CALL(x, "PUT", "/mmds", "{bad"), 400);
	/* The limit is 1024 bytes here: too big is 413 and changes nothing. */
	char big[2048];
	snprintf(big, sizeof(big), "{\"x\": \"%01500d\"}", 0);
	char fault[512];
	assert_int_equal(call(x, "PUT", "/mmds", big, fault, sizeof(fault)), 413);
	assert_int_equal(call(x, "PATCH", "/mmds", big, fault, sizeof(fault)), 413);
	v = get(x, "/mmds");
	assert_true(json_is_integer(json_object_get(v, "d")));
	json_decref(v);
	assert_int_equal(call(x, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}",
	                      fault, sizeof(fault)),
	                 400);
	assert_non_null(strstr(fault, "network interface"));
}

static void test_vm_config(void **state)
{
	struct ctx *x = *state;
	configure(x);
	assert_int_equal(CALL(x, "PUT", "/entropy",
	                      "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
	                      "\"refill_time\": 100}}}"),
	                 204);
	json_t *v = get(x, "/vm/config");
	json_t *boot = json_object_get(v, "boot-source");
	assert_string_equal(json_string_value(json_object_get(boot, "kernel_image_path")),
	                    x->kernel);
	assert_string_equal(json_string_value(json_object_get(boot, "boot_args")), "quiet");
	json_t *mc = json_object_get(v, "machine-config");
	assert_int_equal(json_integer_value(json_object_get(mc, "vcpu_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(mc, "mem_size_mib")), 64);
	json_t *drives = json_object_get(v, "drives");
	assert_int_equal(json_array_size(drives), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(drives, 0), "drive_id")), "data");
	json_t *bw = json_object_get(json_object_get(json_object_get(v, "entropy"), "rate_limiter"),
	                             "bandwidth");
	assert_int_equal(json_integer_value(json_object_get(bw, "size")), 1000);
	json_decref(v);
	assert_int_equal(CALL(x, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	assert_true(x->fake.has_rng);
	assert_int_equal(x->fake.rng_rate, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_method_path_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_route_answers_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths_and_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_preboot_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_instance_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_postboot_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_start_keeps_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_patch_drive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vm_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
