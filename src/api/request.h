/*
 * One request of the Firecracker-compatible API and its response, as the
 * API thread hands them to the VMM thread (api/channel.h) and the router
 * answers them (api/router.h). Plain data: no HTTP library types.
 *
 * Responses follow Firecracker: 204 with no body for a successful PUT or
 * PATCH, 200 with a JSON body for a GET, 400 with {"fault_message": "..."}
 * for anything refused (413 when the MMDS data store would outgrow its
 * limit, 503 when ember is shutting down).
 */
#ifndef EMBER_API_REQUEST_H
#define EMBER_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/macros.h"

enum api_method {
	API_GET,
	API_PUT,
	API_PATCH,
	API_OTHER, /* any other method: always refused */
};

#define API_STATUS_OK                200
#define API_STATUS_NO_CONTENT        204
#define API_STATUS_BAD_REQUEST       400
#define API_STATUS_PAYLOAD_TOO_LARGE 413
#define API_STATUS_UNAVAILABLE       503

struct api_request {
	enum api_method method;
	const char *method_name; /* as received, for messages */
	const char *path;        /* the absolute path, percent-decoded, no query */
	const char *body;        /* NULL when the request has no body */
	size_t body_len;
};

struct api_response {
	unsigned status;
	char *body; /* malloc'd JSON text, NULL for none */
};

/* Frees the body; the response may be reused. */
void api_response_fini(struct api_response *resp);
/* 204 No Content. */
void api_reply_empty(struct api_response *resp);
/* 200 with obj serialized (compact); takes the reference to obj. */
void api_reply_json(struct api_response *resp, json_t *obj);
/* status with {"fault_message": printf(fmt, ...)}. */
void api_reply_error(struct api_response *resp, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The fault_message of a response body (for tests and logs); "" when none. */
const char *api_response_fault(const struct api_response *resp, char *buf, size_t len);

/* "GET", "PUT", "PATCH" or API_OTHER for anything else (case-sensitive,
 * as HTTP methods are). */
enum api_method api_method_parse(const char *name);

#endif
