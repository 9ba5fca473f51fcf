/* Building API responses: 204, 200 with JSON, errors with a fault_message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"

void api_response_fini(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

void api_reply_empty(struct api_response *resp)
{
	api_response_fini(resp);
	resp->status = API_STATUS_NO_CONTENT;
}

void api_reply_json(struct api_response *resp, json_t *obj)
{
	api_response_fini(resp);
	resp->body = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(obj);
	if (!resp->body) {
		api_reply_error(resp, 500, "out of memory building the response");
		return;
	}
	resp->status = API_STATUS_OK;
}

void api_reply_error(struct api_response *resp, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_response_fini(resp);
	resp->status = status;
	/* json_pack escapes the message; invalid UTF-8 (a path from the
	 * request) cannot be a JSON string, so it is replaced. */
	json_t *obj = json_pack("{s:s}", "fault_message", msg);
	if (!obj) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		obj = json_pack("{s:s}", "fault_message", msg);
	}
	resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!resp->body)
		resp->body = strdup("{\"fault_message\":\"out of memory\"}");
}

const char *api_response_fault(const struct api_response *resp, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!resp->body)
		return buf;
	json_t *obj = json_loads(resp->body, 0, NULL);
	const char *msg = json_string_value(json_object_get(obj, "fault_message"));
	if (msg)
		snprintf(buf, len, "%s", msg);
	json_decref(obj);
	return buf;
}

enum api_method api_method_parse(const char *name)
{
	if (!strcmp(name, "GET"))
		return API_GET;
	if (!strcmp(name, "PUT"))
		return API_PUT;
	if (!strcmp(name, "PATCH"))
		return API_PATCH;
	return API_OTHER;
}
