/*
 * The smaller pre-boot resources:
 *   PUT /entropy (EntropyDevice): a virtio-rng device, ember's --rng,
 *     with Firecracker's RateLimiter (bytes and requests, one-time
 *     bursts) applied by core/rate_limiter.c.
 *   PUT /serial (SerialDevice): serial_out_path sends the guest's COM1
 *     output to that file instead of the terminal; rate limiting the
 *     serial output is not supported yet.
 *   PUT /cpu-config (CpuConfig): ember cannot apply CPUID, MSR, register
 *     or KVM capability modifiers yet, so only an empty template is taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

static void reply(struct api_response *resp, const char *err)
{
	api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
}

void api_put_entropy(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp)
{
	char err[512];
	json_t *obj, *rl_json = NULL;
	struct api_rate_limiter rl = {0};
	const struct api_json_field fields[] = {
	    {"rate_limiter", API_JSON_OBJECT, false, &rl_json, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "entropy", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	if (api_json_unpack(obj, "entropy", fields, ARRAY_SIZE(fields), err, sizeof(err)) ||
	    (rl_json && api_json_rate_limiter(rl_json, "entropy: field `rate_limiter`", &rl, err,
	                                      sizeof(err))) ||
	    api_rate_limiter_check("entropy", &rl, err, sizeof(err))) {
		reply(resp, err);
		goto out;
	}
	c->res.entropy_set = true;
	c->res.entropy_rate_limiter = rl;
	api_reply_empty(resp);
out:
	json_decref(obj);
}

void api_put_serial(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp)
{
	char err[512];
	json_t *obj, *bucket_json = NULL;
	const char *path = NULL;
	struct api_token_bucket bucket = {0};
	const struct api_json_field fields[] = {
	    {"serial_out_path", API_JSON_STRING, false, &path, NULL, 0},
	    {"rate_limiter", API_JSON_OBJECT, false, &bucket_json, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "serial", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	int r = api_json_unpack(obj, "serial", fields, ARRAY_SIZE(fields), err, sizeof(err));
	if (!r && bucket_json)
		r = api_json_token_bucket(bucket_json, "serial: field `rate_limiter`", &bucket, err,
		                          sizeof(err));
	if (!r && api_token_bucket_limits(&bucket))
		r = err_set(err, sizeof(err), -EINVAL,
		            "serial: field `rate_limiter`: rate limiting the serial output is not "
		            "supported yet");
	if (!r && path && !*path)
		r = err_set(err, sizeof(err), -EINVAL, "serial: field `serial_out_path` is empty");
	char *copy = NULL;
	if (!r && path && !(copy = strdup(path)))
		r = err_set(err, sizeof(err), -ENOMEM, "serial: out of memory");
	if (r) {
		reply(resp, err);
		goto out;
	}
	free(c->res.serial_out_path);
	c->res.serial_out_path = copy;
	json_decref(c->res.serial);
	c->res.serial = json_incref(obj);
	api_reply_empty(resp);
out:
	json_decref(obj);
}

void api_put_cpu_config(struct api_controller *c, const struct api_call_args *a,
                        struct api_response *resp)
{
	char err[512];
	json_t *obj;
	json_t *arrays[5] = {NULL};
	const struct api_json_field fields[] = {
	    {"kvm_capabilities", API_JSON_ARRAY, false, &arrays[0], NULL, 0},
	    {"cpuid_modifiers", API_JSON_ARRAY, false, &arrays[1], NULL, 0},
	    {"msr_modifiers", API_JSON_ARRAY, false, &arrays[2], NULL, 0},
	    {"reg_modifiers", API_JSON_ARRAY, false, &arrays[3], NULL, 0},
	    {"vcpu_features", API_JSON_ARRAY, false, &arrays[4], NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "cpu-config", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	int r = api_json_unpack(obj, "cpu-config", fields, ARRAY_SIZE(fields), err, sizeof(err));
	for (size_t i = 0; !r && i < ARRAY_SIZE(arrays); i++)
		if (arrays[i] && json_array_size(arrays[i]))
			r = err_set(err, sizeof(err), -EINVAL,
			            "cpu-config: field `%s`: ember cannot apply CPU modifiers yet "
			            "(only an empty template is accepted)",
			            fields[i].name);
	if (r) {
		reply(resp, err);
		goto out;
	}
	json_decref(c->res.cpu_config);
	c->res.cpu_config = json_incref(obj);
	api_reply_empty(resp);
out:
	json_decref(obj);
}
