/* Strict JSON field checking for API bodies, resource ids, rate limiters. */
#include "api/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/rate_limiter.h"

static int parse(const char *body, size_t len, const char *what, size_t flags, json_t **out,
                 char *err, size_t errlen)
{
	json_error_t jerr;
	*out = NULL;
	if (!body || !len)
		return err_set(err, errlen, -EINVAL, "%s: the request has no body", what);
	json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | flags, &jerr);
	if (!v)
		return err_set(err, errlen, -EINVAL,
		               "%s: the body is not valid JSON: %s (line %d, column %d)", what,
		               jerr.text, jerr.line, jerr.column);
	*out = v;
	return 0;
}

int api_json_parse_object(const char *body, size_t len, const char *what, json_t **out, char *err,
                          size_t errlen)
{
	int r = parse(body, len, what, 0, out, err, errlen);
	if (r)
		return r;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return err_set(err, errlen, -EINVAL, "%s: the body must be a JSON object", what);
	}
	return 0;
}

int api_json_parse_any(const char *body, size_t len, const char *what, json_t **out, char *err,
                       size_t errlen)
{
	return parse(body, len, what, JSON_DECODE_ANY, out, err, errlen);
}

static const char *kind_name(enum api_json_kind kind)
{
	switch (kind) {
	case API_JSON_STRING:
		return "a string";
	case API_JSON_BOOL:
		return "a boolean";
	case API_JSON_U64:
		return "an unsigned integer";
	case API_JSON_OBJECT:
		return "an object";
	case API_JSON_ARRAY:
		return "an array";
	}
	return "?";
}

static int field_names(const struct api_json_field *fields, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", fields[i].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return 0;
}

static int unpack_one(json_t *v, const char *what, const struct api_json_field *f, char *err,
                      size_t errlen)
{
	switch (f->kind) {
	case API_JSON_STRING:
		if (!json_is_string(v))
			break;
		*(const char **)f->out = json_string_value(v);
		return 0;
	case API_JSON_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)f->out = json_is_true(v);
		return 0;
	case API_JSON_U64: {
		if (!json_is_integer(v))
			break;
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return err_set(err, errlen, -EINVAL,
			               "%s: field `%s`: %lld is negative; expected an unsigned "
			               "integer",
			               what, f->name, (long long)i);
		if (f->max && (uint64_t)i > f->max)
			return err_set(
			    err, errlen, -EINVAL,
			    "%s: field `%s`: %lld is more than the largest accepted value, "
			    "%llu",
			    what, f->name, (long long)i, (unsigned long long)f->max);
		*(uint64_t *)f->out = (uint64_t)i;
		return 0;
	}
	case API_JSON_OBJECT:
		if (!json_is_object(v))
			break;
		*(json_t **)f->out = v;
		return 0;
	case API_JSON_ARRAY:
		if (!json_is_array(v))
			break;
		*(json_t **)f->out = v;
		return 0;
	}
	return err_set(err, errlen, -EINVAL, "%s: field `%s`: expected %s", what, f->name,
	               kind_name(f->kind));
}

int api_json_unpack(json_t *obj, const char *what, const struct api_json_field *fields, size_t n,
                    char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return err_set(err, errlen, -EINVAL, "%s: expected a JSON object", what);
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		size_t i = 0;
		while (i < n && strcmp(fields[i].name, key) != 0)
			i++;
		if (i == n) {
			char names[512];
			field_names(fields, n, names, sizeof(names));
			return err_set(err, errlen, -EINVAL,
			               "%s: unknown field `%.64s` (the fields are: %s)", what, key,
			               names);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct api_json_field *f = &fields[i];
		v = json_object_get(obj, f->name);
		if (f->present)
			*f->present = v != NULL;
		if (!v) {
			if (f->required)
				return err_set(err, errlen, -EINVAL, "%s: missing field `%s`", what,
				               f->name);
			continue;
		}
		int r = unpack_one(v, what, f, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

bool api_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > API_ID_MAX)
		return false;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* Bounds of a token bucket: sizes and times fit in 63 bits after the
 * millisecond-to-nanosecond conversion a rate limiter does. */
#define BUCKET_MAX_SIZE      (UINT64_C(1) << 62)
#define BUCKET_MAX_REFILL_MS (UINT64_C(1) << 40)

int api_json_token_bucket(json_t *obj, const char *what, struct api_token_bucket *out, char *err,
                          size_t errlen)
{
	struct api_token_bucket b = {.set = true};
	const struct api_json_field fields[] = {
	    {"size", API_JSON_U64, true, &b.size, NULL, BUCKET_MAX_SIZE},
	    {"one_time_burst", API_JSON_U64, false, &b.one_time_burst, NULL, BUCKET_MAX_SIZE},
	    {"refill_time", API_JSON_U64, true, &b.refill_time, NULL, BUCKET_MAX_REFILL_MS},
	};
	int r = api_json_unpack(obj, what, fields, ARRAY_SIZE(fields), err, errlen);
	if (!r)
		*out = b;
	return r;
}

int api_json_rate_limiter(json_t *obj, const char *what, struct api_rate_limiter *out, char *err,
                          size_t errlen)
{
	struct api_rate_limiter rl = {.set = true};
	json_t *bw = NULL, *ops = NULL;
	const struct api_json_field fields[] = {
	    {"bandwidth", API_JSON_OBJECT, false, &bw, NULL, 0},
	    {"ops", API_JSON_OBJECT, false, &ops, NULL, 0},
	};
	char sub[96];
	int r = api_json_unpack(obj, what, fields, ARRAY_SIZE(fields), err, errlen);
	if (!r && bw) {
		snprintf(sub, sizeof(sub), "%s.bandwidth", what);
		r = api_json_token_bucket(bw, sub, &rl.bandwidth, err, errlen);
	}
	if (!r && ops) {
		snprintf(sub, sizeof(sub), "%s.ops", what);
		r = api_json_token_bucket(ops, sub, &rl.ops, err, errlen);
	}
	if (!r)
		*out = rl;
	return r;
}

bool api_token_bucket_limits(const struct api_token_bucket *b)
{
	return b->set && b->size && b->refill_time;
}

bool api_rate_limiter_limits(const struct api_rate_limiter *rl)
{
	return rl->set &&
	       (api_token_bucket_limits(&rl->bandwidth) || api_token_bucket_limits(&rl->ops));
}

void api_token_bucket_to_config(const struct api_token_bucket *b, struct token_bucket_config *out)
{
	*out = (struct token_bucket_config){0};
	if (b->set)
		*out = (struct token_bucket_config){.size = b->size,
		                                    .one_time_burst = b->one_time_burst,
		                                    .refill_time_ms = b->refill_time};
}

void api_rate_limiter_to_config(const struct api_rate_limiter *rl, struct rate_limiter_config *out)
{
	api_token_bucket_to_config(&rl->bandwidth, &out->bandwidth);
	api_token_bucket_to_config(&rl->ops, &out->ops);
}

int api_rate_limiter_check(const char *what, const struct api_rate_limiter *rl, char *err,
                           size_t errlen)
{
	struct rate_limiter_config cfg;
	char why[200];
	api_rate_limiter_to_config(rl, &cfg);
	if (rate_limiter_config_check(&cfg, why, sizeof(why)))
		return err_set(err, errlen, -EINVAL, "%s: field `rate_limiter`: %s", what, why);
	return 0;
}

json_t *api_token_bucket_json(const struct api_token_bucket *b)
{
	if (!b->set)
		return NULL;
	return json_pack("{s:I,s:I,s:I}", "size", (json_int_t)b->size, "one_time_burst",
	                 (json_int_t)b->one_time_burst, "refill_time", (json_int_t)b->refill_time);
}

json_t *api_rate_limiter_json(const struct api_rate_limiter *rl)
{
	if (!rl->set)
		return NULL;
	json_t *obj = json_object();
	if (!obj)
		return NULL;
	if (rl->bandwidth.set)
		json_object_set_new(obj, "bandwidth", api_token_bucket_json(&rl->bandwidth));
	if (rl->ops.set)
		json_object_set_new(obj, "ops", api_token_bucket_json(&rl->ops));
	return obj;
}
