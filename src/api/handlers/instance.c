/*
 * The instance as a whole: GET / (InstanceInfo), GET /version
 * (FirecrackerVersion), PATCH /vm (Vm: Paused / Resumed), GET /vm/config
 * (FullVmConfiguration).
 */
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

void api_get_instance_info(struct api_controller *c, const struct api_call_args *a,
                           struct api_response *resp)
{
	api_reply_json(resp, json_pack("{s:s,s:s,s:s,s:s}", "id", c->instance_id, "state",
	                               api_vm_state_name(c->state), "vmm_version", c->vmm_version,
	                               "app_name", API_APP_NAME));
}

void api_get_version(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp)
{
	api_reply_json(resp, json_pack("{s:s}", "firecracker_version", API_FIRECRACKER_VERSION));
}

void api_get_vm_config(struct api_controller *c, const struct api_call_args *a,
                       struct api_response *resp)
{
	api_reply_json(resp, api_resources_to_json(&c->res));
}

void api_patch_vm(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp)
{
	char err[512];
	json_t *obj;
	const char *state = NULL;
	const struct api_json_field fields[] = {
	    {"state", API_JSON_STRING, true, &state, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "vm", &obj, err, sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (api_json_unpack(obj, "vm", fields, ARRAY_SIZE(fields), err, sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		goto out;
	}
	bool pause;
	if (!strcmp(state, "Paused"))
		pause = true;
	else if (!strcmp(state, "Resumed"))
		pause = false;
	else {
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "vm: field `state`: unknown variant `%.40s`, expected `Paused` or "
		                "`Resumed`",
		                state);
		goto out;
	}
	/* Pausing a paused VM (or resuming a running one) changes nothing. */
	if (pause == (c->state == API_VM_PAUSED)) {
		api_reply_empty(resp);
		goto out;
	}
	int r = pause ? c->ops->pause(c->ops_opaque, c->vm) : c->ops->resume(c->ops_opaque, c->vm);
	if (r) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "Failed to %s the microVM: %s",
		                pause ? "pause" : "resume", strerror(-r));
		goto out;
	}
	c->state = pause ? API_VM_PAUSED : API_VM_RUNNING;
	log_info("api: the microVM is %s", pause ? "paused" : "running again");
	api_reply_empty(resp);
out:
	json_decref(obj);
}
