/*
 * PUT /boot-source (BootSource): kernel_image_path (required),
 * initrd_path, boot_args; before boot. As in Firecracker the files must
 * open when the request arrives; ember reads and probes them at
 * InstanceStart (vm_config_load), so a kernel it cannot boot is refused
 * there with the loader's reason. boot_args are used as given (no
 * console= is added, unlike `ember run`); without them the guest gets
 * Firecracker's default command line.
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

/* Linux's largest x86 command line; the kernel's own limit is checked at boot. */
#define MAX_BOOT_ARGS 4096

/* A regular file this process can read. */
static int check_file(const char *field, const char *path, char *err, size_t errlen)
{
	if (!*path)
		return err_set(err, errlen, -EINVAL, "boot-source: field `%s` is empty", field);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno,
		               "boot-source: field `%s`: cannot open %.256s: %s", field, path,
		               strerror(errno));
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = err_set(err, errlen, -EINVAL,
		            "boot-source: field `%s`: %.256s is not a regular file", field, path);
	close(fd);
	return r;
}

static int check_args(const char *args, char *err, size_t errlen)
{
	size_t len = strlen(args);
	if (len >= MAX_BOOT_ARGS)
		return err_set(err, errlen, -EINVAL,
		               "boot-source: field `boot_args`: %zu bytes is longer than %d", len,
		               MAX_BOOT_ARGS - 1);
	for (const char *p = args; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return err_set(err, errlen, -EINVAL,
			               "boot-source: field `boot_args`: byte %#x at offset %zu is "
			               "not printable ASCII",
			               (unsigned char)*p, (size_t)(p - args));
	return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

void api_put_boot_source(struct api_controller *c, const struct api_call_args *a,
                         struct api_response *resp)
{
	char err[512];
	json_t *obj;
	const char *kernel = NULL, *initrd = NULL, *args = NULL;
	const struct api_json_field fields[] = {
	    {"kernel_image_path", API_JSON_STRING, true, &kernel, NULL, 0},
	    {"initrd_path", API_JSON_STRING, false, &initrd, NULL, 0},
	    {"boot_args", API_JSON_STRING, false, &args, NULL, 0},
	};
	if (api_json_parse_object(a->req->body, a->req->body_len, "boot-source", &obj, err,
	                          sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	if (api_json_unpack(obj, "boot-source", fields, ARRAY_SIZE(fields), err, sizeof(err)) ||
	    check_file("kernel_image_path", kernel, err, sizeof(err)) ||
	    (initrd && check_file("initrd_path", initrd, err, sizeof(err))) ||
	    (args && check_args(args, err, sizeof(err)))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		goto out;
	}
	bool oom = false;
	struct api_boot_source b = {
	    .kernel_image_path = dup_or_null(kernel, &oom),
	    .initrd_path = dup_or_null(initrd, &oom),
	    .boot_args = dup_or_null(args, &oom),
	};
	if (oom) {
		free(b.kernel_image_path);
		free(b.initrd_path);
		free(b.boot_args);
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "boot-source: out of memory");
		goto out;
	}
	free(c->res.boot.kernel_image_path);
	free(c->res.boot.initrd_path);
	free(c->res.boot.boot_args);
	c->res.boot = b;
	api_reply_empty(resp);
out:
	json_decref(obj);
}
