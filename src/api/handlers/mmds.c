/*
 * The MMDS data store: GET /mmds, PUT /mmds (replace), PATCH /mmds (a JSON
 * merge patch, RFC 7396), any time; PUT /mmds/config before boot. The
 * store is kept and served here; the guest-facing MMDS (the network stack
 * answering on 169.254.169.254) needs a network device, which ember does
 * not have yet, so /mmds/config -- which must name network interfaces --
 * is refused with the reason. The serialized store is capped at the
 * --mmds-size-limit (default: the API's body limit): a PUT or PATCH that
 * would exceed it gets 413, as in Firecracker, and changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

void api_get_mmds(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp)
{
	api_reply_json(resp, c->res.mmds ? json_incref(c->res.mmds) : json_object());
}

/* RFC 7396 section 2: merges patch into target (which it consumes);
 * returns the result, NULL on allocation failure. */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_incref(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v)) {
			json_object_del(target, key);
			continue;
		}
		json_t *old = json_object_get(target, key);
		json_t *merged = merge_patch(old ? json_incref(old) : NULL, v);
		if (!merged || json_object_set_new(target, key, merged)) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

/* Commits store when it fits the limit; else 413. Consumes store. */
static void commit(struct api_controller *c, json_t *store, struct api_response *resp)
{
	char *text = json_dumps(store, JSON_COMPACT);
	if (!text) {
		json_decref(store);
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "mmds: out of memory");
		return;
	}
	size_t len = strlen(text);
	free(text);
	if (len > c->mmds_size_limit) {
		json_decref(store);
		api_reply_error(resp, API_STATUS_PAYLOAD_TOO_LARGE,
		                "The MMDS data store would be %zu bytes: more than its limit of "
		                "%zu bytes (--mmds-size-limit). Nothing was changed.",
		                len, c->mmds_size_limit);
		return;
	}
	json_decref(c->res.mmds);
	c->res.mmds = store;
	api_reply_empty(resp);
}

static json_t *parse_store(const struct api_call_args *a, struct api_response *resp)
{
	char err[512];
	json_t *v;
	if (api_json_parse_any(a->req->body, a->req->body_len, "mmds", &v, err, sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "mmds: the data store must be a JSON object");
		return NULL;
	}
	return v;
}

void api_put_mmds(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp)
{
	json_t *v = parse_store(a, resp);
	if (v)
		commit(c, v, resp);
}

void api_patch_mmds(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp)
{
	json_t *patch = parse_store(a, resp);
	if (!patch)
		return;
	/* On a copy: a patch that does not fit leaves the store as it was. */
	json_t *copy = c->res.mmds ? json_deep_copy(c->res.mmds) : json_object();
	json_t *merged = copy ? merge_patch(copy, patch) : NULL;
	json_decref(patch);
	if (!merged) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "mmds: out of memory");
		return;
	}
	commit(c, merged, resp);
}

void api_put_mmds_config(struct api_controller *c, const struct api_call_args *a,
                         struct api_response *resp)
{
	char err[512];
	json_t *obj, *ifaces = NULL;
	const char *version = NULL, *addr = NULL;
	bool compat;
	const struct api_json_field fields[] = {
	    {"version", API_JSON_STRING, false, &version, NULL, 0},
	    {"network_interfaces", API_JSON_ARRAY, true, &ifaces, NULL, 0},
	    {"ipv4_address", API_JSON_STRING, false, &addr, NULL, 0},
	    {"imds_compat", API_JSON_BOOL, false, &compat, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "mmds/config", &obj, err,
	                          sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	int r = api_json_unpack(obj, "mmds/config", fields, ARRAY_SIZE(fields), err, sizeof(err));
	if (!r && version && strcmp(version, "V1") && strcmp(version, "V2"))
		r = err_set(err, sizeof(err), -EINVAL,
		            "mmds/config: field `version`: unknown variant `%.40s`, expected `V1` "
		            "or `V2`",
		            version);
	size_t i;
	json_t *v;
	json_array_foreach(r ? NULL : ifaces, i, v)
	{
		if (!json_is_string(v)) {
			r = err_set(err, sizeof(err), -EINVAL,
			            "mmds/config: field `network_interfaces`: item %zu is not a "
			            "string",
			            i);
			break;
		}
	}
	if (!r && !json_array_size(ifaces))
		r = err_set(err, sizeof(err), -EINVAL,
		            "The list of network interface IDs that allow forwarding MMDS requests "
		            "is empty.");
	if (!r)
		r = err_set(err, sizeof(err), -EINVAL,
		            "The list of network interface IDs provided contains at least one ID "
		            "that does not correspond to any existing network interface (ember "
		            "has no network devices yet).");
	api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
	json_decref(obj);
}
