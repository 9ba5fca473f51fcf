/*
 * The router: (method, path) -> handler, with Firecracker's rules applied
 * in Firecracker's order before any handler runs:
 *   1. the path is split on '/' (leading slashes ignored, one trailing
 *      slash allowed); an unknown method or path is 400 "Invalid request
 *      method and/or path: METHOD /path.";
 *   2. a GET must have no body, a PUT or PATCH must have one;
 *   3. a {id} segment must be a valid resource id (api_id_valid);
 *   4. pre-boot-only and post-boot-only operations are refused in the
 *      other state ("The requested operation is not supported after /
 *      before starting the microVM.").
 * Handlers then parse and validate the whole body before changing
 * anything, so a refused request leaves the configuration as it was.
 */
#ifndef EMBER_API_ROUTER_H
#define EMBER_API_ROUTER_H

#include "api/controller.h"
#include "api/request.h"

enum api_when {
	API_ANY_TIME,
	API_PRE_BOOT,
	API_POST_BOOT,
};

/* What a handler gets besides the controller. */
struct api_call_args {
	const struct api_request *req;
	const char *id;   /* the {id} path segment, or NULL */
	const char *what; /* the resource, for messages ("drives", "vsock"...) */
};

typedef void (*api_handler_fn)(struct api_controller *c, const struct api_call_args *args,
                               struct api_response *resp);

#define API_ROUTE_BODY_OPTIONAL 1u

struct api_route {
	enum api_method method;
	const char *path; /* "drives/{id}", "vm/config", "" for the root */
	enum api_when when;
	const char *what;
	api_handler_fn fn;
	unsigned flags;
};

/* Every route, for the tests and the README's endpoint table. */
extern const struct api_route api_routes[];
extern const size_t api_nr_routes;

/* Answers req. VMM thread. */
void api_route(struct api_controller *c, const struct api_request *req, struct api_response *resp);

#endif
