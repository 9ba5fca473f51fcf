/* The API controller's life: defaults, teardown, and the channel's serve function. */
#include "api/controller.h"

#include <stdio.h>
#include <string.h>

#include "api/router.h"
#include "core/log.h"

void api_controller_init(struct api_controller *c, const struct api_vm_ops *ops, void *opaque,
                         const char *instance_id, const char *vmm_version, size_t mmds_size_limit)
{
	memset(c, 0, sizeof(*c));
	api_resources_init(&c->res);
	vm_config_init(&c->cfg);
	c->ops = ops;
	c->ops_opaque = opaque;
	c->state = API_VM_NOT_STARTED;
	snprintf(c->instance_id, sizeof(c->instance_id), "%s",
	         instance_id ? instance_id : API_DEFAULT_INSTANCE_ID);
	c->vmm_version = vmm_version ? vmm_version : "unknown";
	c->mmds_size_limit = mmds_size_limit;
}

void api_controller_fini(struct api_controller *c)
{
	api_resources_fini(&c->res);
	vm_config_fini(&c->cfg);
}

void api_controller_serve(void *controller, const struct api_request *req,
                          struct api_response *resp)
{
	struct api_controller *c = controller;
	api_route(c, req, resp);
	/* One line per refused request: the client sees the reason, the host
	 * log keeps a trace (rate-limited: a client may loop). */
	if (resp->status >= 400) {
		char fault[256];
		log_warn_ratelimited("api: %s %.100s: %u %s", req->method_name, req->path,
		                     resp->status, api_response_fault(resp, fault, sizeof(fault)));
	}
}

const char *api_vm_state_name(enum api_vm_state state)
{
	switch (state) {
	case API_VM_NOT_STARTED:
		return "Not started";
	case API_VM_RUNNING:
		return "Running";
	case API_VM_PAUSED:
		return "Paused";
	}
	return "Not started";
}

bool api_instance_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > API_INSTANCE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return true;
}
