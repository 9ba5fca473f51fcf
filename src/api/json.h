/*
 * Strict reading of the API's JSON bodies (jansson): a body must be one
 * JSON object with no duplicate keys and nothing after it; each field is
 * checked against a small table (name, kind, required), unknown fields are
 * refused, integers must be unsigned and within bounds. Errors are one
 * line naming the resource, the field and the reason, e.g.
 * "machine-config: field `vcpu_count`: expected an unsigned integer".
 *
 * Also the pieces several resources share: Firecracker's resource ids and
 * the RateLimiter / TokenBucket objects.
 */
#ifndef EMBER_API_JSON_H
#define EMBER_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/macros.h"

enum api_json_kind {
	API_JSON_STRING, /* out: const char ** (borrowed from the object) */
	API_JSON_BOOL,   /* out: bool * */
	API_JSON_U64,    /* out: uint64_t *, at most max (0: no bound but int64) */
	API_JSON_OBJECT, /* out: json_t ** (borrowed) */
	API_JSON_ARRAY,  /* out: json_t ** (borrowed) */
};

struct api_json_field {
	const char *name;
	enum api_json_kind kind;
	bool required;
	void *out;
	bool *present; /* set to whether the field was there; may be NULL */
	uint64_t max;
};

/* Parses body into a JSON object. 0 or -EINVAL with err "<what>: ...". */
int api_json_parse_object(const char *body, size_t len, const char *what, json_t **out, char *err,
                          size_t errlen) must_check;
/* Parses any JSON value (MMDS contents). */
int api_json_parse_any(const char *body, size_t len, const char *what, json_t **out, char *err,
                       size_t errlen) must_check;
/* Checks obj against fields (unknown names refused, required ones
 * present, kinds and bounds) and fills the outs of the fields present.
 * On failure outs may be partly written: callers unpack into scratch
 * storage and apply it only after every check passed. */
int api_json_unpack(json_t *obj, const char *what, const struct api_json_field *fields, size_t n,
                    char *err, size_t errlen) must_check;

/* Firecracker's resource ids: not empty, ASCII letters, digits and '_'.
 * At most API_ID_MAX bytes. */
#define API_ID_MAX 64
bool api_id_valid(const char *id);

/* A TokenBucket: size tokens, refilled over refill_time ms, plus a one-time
 * burst. A bucket with size 0 or refill_time 0 limits nothing. */
struct api_token_bucket {
	bool set;
	uint64_t size, one_time_burst, refill_time;
};
struct api_rate_limiter {
	bool set;
	struct api_token_bucket bandwidth, ops;
};

int api_json_token_bucket(json_t *obj, const char *what, struct api_token_bucket *out, char *err,
                          size_t errlen) must_check;
int api_json_rate_limiter(json_t *obj, const char *what, struct api_rate_limiter *out, char *err,
                          size_t errlen) must_check;
/* Whether a bucket / limiter actually limits anything. */
bool api_token_bucket_limits(const struct api_token_bucket *b);
bool api_rate_limiter_limits(const struct api_rate_limiter *rl);
struct token_bucket_config;
struct rate_limiter_config;
/* The core/rate_limiter.h form (an absent bucket is a disabled one). */
void api_token_bucket_to_config(const struct api_token_bucket *b, struct token_bucket_config *out);
void api_rate_limiter_to_config(const struct api_rate_limiter *rl, struct rate_limiter_config *out);
/* What core/rate_limiter.c accepts. 0 or -EINVAL with "<what>: field ...". */
int api_rate_limiter_check(const char *what, const struct api_rate_limiter *rl, char *err,
                           size_t errlen) must_check;
/* The JSON form of a bucket / limiter (new reference; NULL when not set). */
json_t *api_token_bucket_json(const struct api_token_bucket *b);
json_t *api_rate_limiter_json(const struct api_rate_limiter *rl);

#endif
