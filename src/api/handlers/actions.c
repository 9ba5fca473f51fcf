/*
 * PUT /actions (InstanceActionInfo):
 *   InstanceStart (before boot): the configured resources become a
 *     vm_config, which is checked, loaded, built and started; any error
 *     is a 400 carrying the loader's or builder's message, and the
 *     configuration stays as it was so the client can fix it and retry.
 *   FlushMetrics (after boot): one metrics line (handlers/logger.c).
 *   SendCtrlAltDel (after boot): the i8042's keyboard types Ctrl-Alt-Del;
 *     what the guest does with it is its business (Linux: signals init).
 */
#include <errno.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

static void not_in_state(struct api_response *resp, bool booted)
{
	api_reply_error(resp, API_STATUS_BAD_REQUEST,
	                "The requested operation is not supported %s starting the microVM.",
	                booted ? "after" : "before");
}

static void instance_start(struct api_controller *c, struct api_response *resp)
{
	char err[512] = "";
	struct vm_config cfg;
	unsigned order[API_MAX_DRIVES];
	void *vm = NULL;
	vm_config_init(&cfg);
	int r = api_resources_to_vm_config(&c->res, &cfg, order, err, sizeof(err));
	if (!r)
		r = c->ops->start(c->ops_opaque, &c->res, &cfg, &vm, err, sizeof(err));
	if (r) {
		vm_config_fini(&cfg);
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "Start microvm error: %s",
		                err[0] ? err : strerror(-r));
		return;
	}
	vm_config_fini(&c->cfg);
	c->cfg = cfg;
	c->vm = vm;
	/* Every drive became a disk, in the order order[] names. */
	c->nr_disks = c->res.nr_drives;
	memcpy(c->disk_order, order, sizeof(order));
	c->state = API_VM_RUNNING;
	log_info("api: InstanceStart: the microVM is running");
	api_reply_empty(resp);
}

void api_put_actions(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp)
{
	char err[512];
	json_t *obj;
	const char *type = NULL;
	const struct api_json_field fields[] = {
	    {"action_type", API_JSON_STRING, true, &type, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "actions", &obj, err,
	                          sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (api_json_unpack(obj, "actions", fields, ARRAY_SIZE(fields), err, sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		goto out;
	}
	bool booted = c->state != API_VM_NOT_STARTED;
	if (!strcmp(type, "InstanceStart")) {
		if (booted)
			not_in_state(resp, booted);
		else
			instance_start(c, resp);
	} else if (!strcmp(type, "FlushMetrics")) {
		if (!booted)
			not_in_state(resp, booted);
		else if (api_flush_metrics(c, err, sizeof(err)))
			api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		else
			api_reply_empty(resp);
	} else if (!strcmp(type, "SendCtrlAltDel")) {
		if (!booted)
			not_in_state(resp, booted);
		else if (!c->ops->send_ctrl_alt_del)
			api_reply_error(resp, API_STATUS_BAD_REQUEST,
			                "SendCtrlAltDel is not supported by this VMM");
		else if (c->ops->send_ctrl_alt_del(c->ops_opaque, c->vm, err, sizeof(err)))
			api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		else
			api_reply_empty(resp);
	} else {
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "actions: field `action_type`: unknown variant `%.40s`, expected "
		                "`InstanceStart`, `SendCtrlAltDel` or `FlushMetrics`",
		                type);
	}
out:
	json_decref(obj);
}
