/*
 * Routing of Firecracker API requests (paths and methods of the OpenAPI
 * description, ../shared/reference/firecracker.yaml) and the checks every
 * request passes before its handler: see router.h.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"

const struct api_route api_routes[] = {
    {API_GET, "", API_ANY_TIME, "instance info", api_get_instance_info, 0},
    {API_GET, "version", API_ANY_TIME, "version", api_get_version, 0},
    {API_GET, "machine-config", API_ANY_TIME, "machine-config", api_get_machine_config, 0},
    {API_PUT, "machine-config", API_PRE_BOOT, "machine-config", api_put_machine_config, 0},
    {API_PATCH, "machine-config", API_PRE_BOOT, "machine-config", api_patch_machine_config, 0},
    {API_PUT, "boot-source", API_PRE_BOOT, "boot-source", api_put_boot_source, 0},
    {API_PUT, "drives/{id}", API_PRE_BOOT, "drives", api_put_drive, 0},
    {API_PATCH, "drives/{id}", API_POST_BOOT, "drives", api_patch_drive, 0},
    {API_PUT, "entropy", API_PRE_BOOT, "entropy", api_put_entropy, 0},
    {API_PUT, "serial", API_PRE_BOOT, "serial", api_put_serial, 0},
    {API_PUT, "cpu-config", API_PRE_BOOT, "cpu-config", api_put_cpu_config, 0},
    {API_PUT, "logger", API_PRE_BOOT, "logger", api_put_logger, 0},
    {API_PUT, "metrics", API_PRE_BOOT, "metrics", api_put_metrics, 0},
    {API_GET, "mmds", API_ANY_TIME, "mmds", api_get_mmds, 0},
    {API_PUT, "mmds", API_ANY_TIME, "mmds", api_put_mmds, 0},
    {API_PATCH, "mmds", API_ANY_TIME, "mmds", api_patch_mmds, 0},
    {API_PUT, "mmds/config", API_PRE_BOOT, "mmds/config", api_put_mmds_config, 0},
    {API_PUT, "actions", API_ANY_TIME, "actions", api_put_actions, 0},
    {API_PATCH, "vm", API_POST_BOOT, "vm", api_patch_vm, 0},
    {API_GET, "vm/config", API_ANY_TIME, "vm/config", api_get_vm_config, 0},
    /* Later issues: each answers 400 naming what is not supported yet. */
    {API_PUT, "snapshot/create", API_POST_BOOT, "snapshots", api_not_supported, 0},
    {API_PUT, "snapshot/load", API_PRE_BOOT, "snapshots", api_not_supported, 0},
    {API_PUT, "network-interfaces/{id}", API_PRE_BOOT, "network interfaces", api_not_supported, 0},
    {API_PATCH, "network-interfaces/{id}", API_POST_BOOT, "network interfaces", api_not_supported,
     0},
    {API_PUT, "vsock", API_PRE_BOOT, "vsock", api_not_supported, 0},
    {API_GET, "balloon", API_ANY_TIME, "balloon", api_not_supported, 0},
    {API_PUT, "balloon", API_PRE_BOOT, "balloon", api_not_supported, 0},
    {API_PATCH, "balloon", API_POST_BOOT, "balloon", api_not_supported, 0},
    {API_GET, "balloon/statistics", API_POST_BOOT, "balloon", api_not_supported, 0},
    {API_PATCH, "balloon/statistics", API_POST_BOOT, "balloon", api_not_supported, 0},
    {API_PATCH, "balloon/hinting/start", API_POST_BOOT, "balloon", api_not_supported,
     API_ROUTE_BODY_OPTIONAL},
    {API_GET, "balloon/hinting/status", API_POST_BOOT, "balloon", api_not_supported, 0},
    {API_PATCH, "balloon/hinting/stop", API_POST_BOOT, "balloon", api_not_supported,
     API_ROUTE_BODY_OPTIONAL},
    {API_PUT, "hotplug/memory", API_PRE_BOOT, "memory hotplug", api_not_supported, 0},
    {API_PATCH, "hotplug/memory", API_POST_BOOT, "memory hotplug", api_not_supported, 0},
    {API_GET, "hotplug/memory", API_POST_BOOT, "memory hotplug", api_not_supported, 0},
    {API_PUT, "pmem/{id}", API_PRE_BOOT, "pmem", api_not_supported, 0},
    {API_PATCH, "pmem/{id}", API_POST_BOOT, "pmem", api_not_supported, 0},
};
const size_t api_nr_routes = ARRAY_SIZE(api_routes);

#define MAX_SEGMENTS 8
#define MAX_PATH     1024

/* Splits path into segments in buf: leading '/'s dropped, one trailing
 * '/' allowed ("a/b/" is a, b), empty inner segments kept ("a//b" is a,
 * "", b, and "" is an empty id). Returns the count, -1 when too long. */
static int split(const char *path, char *buf, char *seg[MAX_SEGMENTS])
{
	while (*path == '/')
		path++;
	size_t len = strlen(path);
	if (len >= MAX_PATH)
		return -1;
	memcpy(buf, path, len + 1);
	if (len && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (!len)
		return 0;
	int n = 0;
	for (char *p = buf;;) {
		if (n == MAX_SEGMENTS)
			return -1;
		seg[n++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			return n;
		*slash = '\0';
		p = slash + 1;
	}
}

enum match { NO_MATCH, MATCH, MATCH_NO_ID };

/* Matches pattern ("drives/{id}") against segments; *id gets the {id}. */
static enum match match(const char *pattern, char *seg[], int n, const char **id)
{
	char pbuf[64];
	char *pseg[MAX_SEGMENTS];
	int pn = split(pattern, pbuf, pseg);
	*id = NULL;
	bool has_id = pn > 0 && !strcmp(pseg[pn - 1], "{id}");
	if (has_id && n == pn - 1) {
		for (int i = 0; i < n; i++)
			if (strcmp(pseg[i], seg[i]))
				return NO_MATCH;
		return MATCH_NO_ID;
	}
	if (pn != n)
		return NO_MATCH;
	for (int i = 0; i < n; i++) {
		if (has_id && i == n - 1)
			*id = seg[i];
		else if (strcmp(pseg[i], seg[i]))
			return NO_MATCH;
	}
	return MATCH;
}

static void invalid_path(const struct api_request *req, struct api_response *resp)
{
	api_reply_error(resp, API_STATUS_BAD_REQUEST,
	                "Invalid request method and/or path: %.16s %.200s.",
	                req->method_name ? req->method_name : "?", req->path);
}

void api_route(struct api_controller *c, const struct api_request *req, struct api_response *resp)
{
	char buf[MAX_PATH];
	char *seg[MAX_SEGMENTS];
	int n = split(req->path, buf, seg);
	const struct api_route *route = NULL;
	enum match m = NO_MATCH;
	const char *id = NULL;
	for (size_t i = 0; n >= 0 && i < api_nr_routes && !route; i++) {
		if (api_routes[i].method != req->method)
			continue;
		m = match(api_routes[i].path, seg, n, &id);
		if (m != NO_MATCH)
			route = &api_routes[i];
	}
	bool has_body = req->body && req->body_len;
	/* Firecracker's order: a misplaced or missing body before an unknown path. */
	if (req->method == API_GET && has_body) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "GET request cannot have a body.");
		return;
	}
	if (!route) {
		if (req->method == API_PUT && !has_body)
			api_reply_error(resp, API_STATUS_BAD_REQUEST, "Empty PUT request.");
		else if (req->method == API_PATCH && !has_body)
			api_reply_error(resp, API_STATUS_BAD_REQUEST, "Empty PATCH request.");
		else
			invalid_path(req, resp);
		return;
	}
	if (req->method != API_GET && !has_body && !(route->flags & API_ROUTE_BODY_OPTIONAL)) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "Empty %s request.",
		                req->method == API_PUT ? "PUT" : "PATCH");
		return;
	}
	if (m == MATCH_NO_ID || (id && !*id)) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "The ID cannot be empty.");
		return;
	}
	if (id && !api_id_valid(id)) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "API Resource IDs can only contain alphanumeric characters and "
		                "underscores (and have at most %d of them).",
		                API_ID_MAX);
		return;
	}
	bool booted = c->state != API_VM_NOT_STARTED;
	if (route->when == API_PRE_BOOT && booted) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "The requested operation is not supported after starting the "
		                "microVM.");
		return;
	}
	if (route->when == API_POST_BOOT && !booted) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "The requested operation is not supported before starting the "
		                "microVM.");
		return;
	}
	struct api_call_args args = {.req = req, .id = id, .what = route->what};
	route->fn(c, &args, resp);
}
