/*
 * PUT /logger (Logger) and PUT /metrics (Metrics), before boot, and the
 * FlushMetrics action. Both hand over to ember's logger and metrics
 * (core/log.h: log_configure; core/metrics.h: metrics_configure,
 * metrics_flush), which write Firecracker's formats to a file or named
 * pipe. As in Firecracker, a level that is not given means Info, and the
 * metrics system is configured once. Metrics' "properties" (API 1.17) are
 * refused until core/metrics.h can emit them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"
#include "core/metrics.h"

static void reply(struct api_response *resp, const char *err)
{
	api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
}

void api_put_logger(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp)
{
	char err[512];
	json_t *obj;
	const char *level = NULL, *path = NULL, *module = NULL;
	bool show_level = false, show_origin = false, has_show_level, has_show_origin;
	enum log_level lvl = LOG_INFO;
	const struct api_json_field fields[] = {
	    {"level", API_JSON_STRING, false, &level, NULL, 0},
	    {"log_path", API_JSON_STRING, false, &path, NULL, 0},
	    {"show_level", API_JSON_BOOL, false, &show_level, &has_show_level, 0},
	    {"show_log_origin", API_JSON_BOOL, false, &show_origin, &has_show_origin, 0},
	    {"module", API_JSON_STRING, false, &module, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "logger", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	int r = api_json_unpack(obj, "logger", fields, ARRAY_SIZE(fields), err, sizeof(err));
	if (!r && level && log_level_parse(level, &lvl))
		r = err_set(err, sizeof(err), -EINVAL,
		            "logger: field `level`: unknown level `%.40s` (Error, Warning, Info, "
		            "Debug, Trace or Off)",
		            level);
	if (!r && path && !*path)
		r = err_set(err, sizeof(err), -EINVAL, "logger: field `log_path` is empty");
	if (!r) {
		struct log_config cfg = {
		    .path = path,
		    .level = (int)lvl,
		    .show_level = has_show_level ? show_level : LOG_CONFIG_KEEP,
		    .show_origin = has_show_origin ? show_origin : LOG_CONFIG_KEEP,
		    .module = module,
		};
		r = log_configure(&cfg, err, sizeof(err));
	}
	if (r) {
		reply(resp, err);
		goto out;
	}
	json_decref(c->res.logger);
	c->res.logger = json_incref(obj);
	api_reply_empty(resp);
out:
	json_decref(obj);
}

void api_put_metrics(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp)
{
	char err[512];
	json_t *obj, *props = NULL;
	const char *path = NULL;
	bool emit_id = false;
	const struct api_json_field fields[] = {
	    {"metrics_path", API_JSON_STRING, true, &path, NULL, 0},
	    {"emit_id", API_JSON_BOOL, false, &emit_id, NULL, 0},
	    {"properties", API_JSON_OBJECT, false, &props, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "metrics", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	int r = api_json_unpack(obj, "metrics", fields, ARRAY_SIZE(fields), err, sizeof(err));
	if (!r && props && json_object_size(props))
		r = err_set(err, sizeof(err), -EINVAL,
		            "metrics: field `properties`: not supported yet (ember's metrics lines "
		            "carry no operator-defined properties)");
	if (!r && !*path)
		r = err_set(err, sizeof(err), -EINVAL, "metrics: field `metrics_path` is empty");
	if (!r && c->metrics_initialized)
		r = err_set(err, sizeof(err), -EALREADY,
		            "Reinitialization of metrics not allowed.");
	/* The 60 s flush timer joins the VM's event loop at InstanceStart. */
	if (!r && (r = metrics_configure(path, emit_id, NULL, err, sizeof(err))) == -EALREADY)
		err_set(err, sizeof(err), r, "Reinitialization of metrics not allowed.");
	if (r) {
		reply(resp, err);
		goto out;
	}
	c->metrics_initialized = true;
	json_decref(c->res.metrics);
	c->res.metrics = json_incref(obj);
	api_reply_empty(resp);
out:
	json_decref(obj);
}

int api_flush_metrics(struct api_controller *c, char *err, size_t errlen)
{
	int r = metrics_flush();
	if (r == -EAGAIN)
		return err_set(err, errlen, r,
		               "Cannot flush the metrics: the metrics pipe is full (the counts go "
		               "out with the next flush)");
	if (r)
		return err_set(err, errlen, r, "Cannot flush the metrics: %s", strerror(-r));
	return 0;
}
