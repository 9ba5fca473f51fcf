/*
 * /drives/{drive_id} (Drive, PartialDrive). PUT before boot adds a drive
 * or replaces the one with that id (keeping its place); PATCH after boot
 * swaps the image behind a drive (path_on_host: the new file is opened and
 * locked, the guest sees the new capacity through a config change
 * interrupt). Drives map onto ember's --disk: is_root_device puts the
 * drive first (/dev/vda) and adds root=/dev/vda (or root=PARTUUID=...)
 * with rw/ro to the command line; is_read_only is `ro`; the drive id is
 * the virtio-blk GET_ID string (its first 20 characters) and names its
 * metrics (block_<drive_id>). rate_limiter is Firecracker's RateLimiter
 * (core/rate_limiter.c); PATCH changes it on the running device, bucket
 * by bucket. cache_type and io_engine are accepted and reported: ember
 * always honours a guest FLUSH (fdatasync) and uses io_uring where the
 * host has it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

#define MAX_PARTUUID 64

static void reply(struct api_response *resp, const char *err)
{
	api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
}

/* The image must open as it will be used: read-only or read-write. */
static int check_image(const char *path, bool read_only, char *err, size_t errlen)
{
	if (!*path)
		return err_set(err, errlen, -EINVAL, "drives: field `path_on_host` is empty");
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return err_set(
		    err, errlen, -errno, "drives: field `path_on_host`: cannot open %.256s %s: %s",
		    path, read_only ? "for reading" : "for reading and writing", strerror(errno));
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		r = err_set(err, errlen, -EINVAL,
		            "drives: field `path_on_host`: %.256s is not a regular file or a block "
		            "device",
		            path);
	close(fd);
	return r;
}

static int check_partuuid(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);
	bool ok = len > 0 && len <= MAX_PARTUUID;
	for (const char *p = s; ok && *p; p++)
		ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		     (*p >= 'A' && *p <= 'Z') || *p == '-';
	return ok ? 0
	          : err_set(err, errlen, -EINVAL,
	                    "drives: field `partuuid`: not 1 to %d letters, digits and '-'",
	                    MAX_PARTUUID);
}

/* Parses and checks a PUT body into *d (strings duplicated). */
static int parse_put(const struct api_call_args *a, struct api_drive *d, char *err, size_t errlen)
{
	json_t *obj, *rl = NULL;
	const char *id = NULL, *path = NULL, *partuuid = NULL, *cache = NULL, *engine = NULL;
	const char *socket = NULL;
	bool root = false, ro = false, has_ro;
	const struct api_json_field fields[] = {
	    {"drive_id", API_JSON_STRING, true, &id, NULL, 0},
	    {"is_root_device", API_JSON_BOOL, true, &root, NULL, 0},
	    {"partuuid", API_JSON_STRING, false, &partuuid, NULL, 0},
	    {"cache_type", API_JSON_STRING, false, &cache, NULL, 0},
	    {"is_read_only", API_JSON_BOOL, false, &ro, &has_ro, 0},
	    {"path_on_host", API_JSON_STRING, false, &path, NULL, 0},
	    {"rate_limiter", API_JSON_OBJECT, false, &rl, NULL, 0},
	    {"io_engine", API_JSON_STRING, false, &engine, NULL, 0},
	    {"socket", API_JSON_STRING, false, &socket, NULL, 0},
	};
	int r = api_json_parse_object(a->req->body, a->req->body_len, "drives", &obj, err, errlen);
	if (r)
		return r;
	*d = (struct api_drive){.is_root_device = root};
	if ((r = api_json_unpack(obj, "drives", fields, ARRAY_SIZE(fields), err, errlen)))
		goto out;
	r = -EINVAL;
	if (strcmp(id, a->id)) {
		err_set(err, errlen, -EINVAL,
		        "The id from the path does not match the id from the body!");
		goto out;
	}
	if (socket) {
		err_set(err, errlen, -EINVAL,
		        "drives: field `socket`: vhost-user block devices are not "
		        "supported yet");
		goto out;
	}
	if (!path || !has_ro) {
		err_set(err, errlen, -EINVAL,
		        "drives: missing field `%s` (required for a virtio-block drive)",
		        path ? "is_read_only" : "path_on_host");
		goto out;
	}
	if (cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback")) {
		err_set(err, errlen, -EINVAL,
		        "drives: field `cache_type`: unknown variant `%.40s`, expected "
		        "`Unsafe` or `Writeback`",
		        cache);
		goto out;
	}
	if (engine && strcmp(engine, "Sync") && strcmp(engine, "Async")) {
		err_set(err, errlen, -EINVAL,
		        "drives: field `io_engine`: unknown variant `%.40s`, expected "
		        "`Sync` or `Async`",
		        engine);
		goto out;
	}
	if ((partuuid && (r = check_partuuid(partuuid, err, errlen))) ||
	    (rl && (r = api_json_rate_limiter(rl, "drives: field `rate_limiter`", &d->rate_limiter,
	                                      err, errlen))) ||
	    (r = api_rate_limiter_check("drives", &d->rate_limiter, err, errlen)) ||
	    (r = check_image(path, ro, err, errlen)))
		goto out;
	d->is_root_device = root;
	d->is_read_only = ro;
	d->cache_type =
	    cache && !strcmp(cache, "Writeback") ? API_CACHE_WRITEBACK : API_CACHE_UNSAFE;
	d->io_engine = engine && !strcmp(engine, "Async") ? API_IO_ASYNC : API_IO_SYNC;
	d->drive_id = strdup(id);
	d->path_on_host = strdup(path);
	d->partuuid = partuuid ? strdup(partuuid) : NULL;
	r = 0;
	if (!d->drive_id || !d->path_on_host || (partuuid && !d->partuuid)) {
		api_drive_fini(d);
		r = err_set(err, errlen, -ENOMEM, "drives: out of memory");
	}
out:
	json_decref(obj);
	return r;
}

void api_put_drive(struct api_controller *c, const struct api_call_args *a,
                   struct api_response *resp)
{
	char err[512];
	struct api_drive d;
	if (parse_put(a, &d, err, sizeof(err))) {
		reply(resp, err);
		return;
	}
	struct api_resources *res = &c->res;
	struct api_drive *old = api_resources_drive(res, d.drive_id);
	for (unsigned i = 0; d.is_root_device && i < res->nr_drives; i++) {
		if (res->drives[i].is_root_device && &res->drives[i] != old) {
			api_drive_fini(&d);
			reply(resp, "A root block device already exists!");
			return;
		}
	}
	if (!old && res->nr_drives == API_MAX_DRIVES) {
		api_drive_fini(&d);
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "drives: at most %d drives",
		                API_MAX_DRIVES);
		return;
	}
	if (old)
		api_drive_fini(old);
	else
		old = &res->drives[res->nr_drives++];
	*old = d;
	api_reply_empty(resp);
}

void api_patch_drive(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp)
{
	char err[512];
	json_t *obj, *rl_json = NULL;
	const char *id = NULL, *path = NULL;
	struct api_rate_limiter rl = {0};
	const struct api_json_field fields[] = {
	    {"drive_id", API_JSON_STRING, true, &id, NULL, 0},
	    {"path_on_host", API_JSON_STRING, false, &path, NULL, 0},
	    {"rate_limiter", API_JSON_OBJECT, false, &rl_json, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "drives", &obj, err,
	                          sizeof(err))) {
		reply(resp, err);
		return;
	}
	struct api_drive *d = NULL;
	unsigned disk = 0;
	int r = api_json_unpack(obj, "drives", fields, ARRAY_SIZE(fields), err, sizeof(err));
	if (!r && strcmp(id, a->id))
		r = err_set(err, sizeof(err), -EINVAL,
		            "The id from the path does not match the id from the body!");
	if (!r && !(d = api_resources_drive(&c->res, id)))
		r = err_set(err, sizeof(err), -ENOENT, "drives: no drive has the id %s", id);
	if (!r && rl_json)
		r = api_json_rate_limiter(rl_json, "drives: field `rate_limiter`", &rl, err,
		                          sizeof(err));
	if (!r)
		r = api_rate_limiter_check("drives", &rl, err, sizeof(err));
	if (!r && path)
		r = check_image(path, d->is_read_only, err, sizeof(err));
	if (r)
		goto fail;
	while (disk < c->nr_disks && &c->res.drives[c->disk_order[disk]] != d)
		disk++;
	if (path) {
		char *copy = strdup(path);
		r = copy ? -ENOTSUP : -ENOMEM;
		if (copy && c->ops->update_drive && disk < c->nr_disks)
			r = c->ops->update_drive(c->ops_opaque, c->vm, disk, path, d->is_read_only,
			                         err, sizeof(err));
		if (r) {
			free(copy);
			if (r == -ENOTSUP || r == -ENOMEM)
				err_set(err, sizeof(err), r,
				        "drives: cannot change path_on_host: %s",
				        r == -ENOMEM ? "out of memory" : "not supported here");
			goto fail;
		}
		free(d->path_on_host);
		d->path_on_host = copy;
	}
	/* After the image (which can fail): a checked limiter update cannot. */
	if (rl.set) {
		struct token_bucket_config bw, ops;
		api_token_bucket_to_config(&rl.bandwidth, &bw);
		api_token_bucket_to_config(&rl.ops, &ops);
		r = c->ops->update_drive_limiter && disk < c->nr_disks
		        ? c->ops->update_drive_limiter(c->ops_opaque, c->vm, disk,
		                                       rl.bandwidth.set ? &bw : NULL,
		                                       rl.ops.set ? &ops : NULL, err, sizeof(err))
		        : err_set(err, sizeof(err), -ENOTSUP,
		                  "drives: cannot change the rate limiter here");
		if (r)
			goto fail;
		d->rate_limiter.set = true;
		if (rl.bandwidth.set)
			d->rate_limiter.bandwidth = rl.bandwidth;
		if (rl.ops.set)
			d->rate_limiter.ops = rl.ops;
	}
	api_reply_empty(resp);
	json_decref(obj);
	return;
fail:
	reply(resp, err);
	json_decref(obj);
}
