/*
 * The endpoints of devices and features that later issues bring: network
 * interfaces, vsock, the balloon, memory hotplug, pmem and snapshots. They
 * are routed (so every path of the API description answers, with the
 * pre-boot / post-boot rules applied first) and refused with a 400 naming
 * what is missing, rather than a misleading "invalid path".
 */
#include <string.h>

#include "api/handlers/handlers.h"

void api_not_supported(struct api_controller *c, const struct api_call_args *a,
                       struct api_response *resp)
{
	if (!strcmp(a->what, "snapshots"))
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "snapshots are not supported yet: ember cannot create or load a "
		                "snapshot");
	else
		api_reply_error(resp, API_STATUS_BAD_REQUEST,
		                "%s: not supported yet (ember has no such device; it comes with a "
		                "later release)",
		                a->what);
}
