/*
 * Firecracker JSON configuration files -> the PUT requests that configure
 * the same VM (see config_file.h). The order is Firecracker's
 * (VmResources::from_json): logger and metrics first, then the machine,
 * the boot source and the devices.
 */
#include "config/config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"

enum section_kind {
	ONE,     /* an object: PUT path */
	LIST,    /* a list of objects: PUT path/<id_field> each */
	CPU_CFG, /* an object, or the path of a JSON file holding it */
};

struct section {
	const char *key;
	const char *path;
	enum section_kind kind;
	const char *id_field;
};

static const struct section sections[] = {
    {"logger", "/logger", ONE, NULL},
    {"metrics", "/metrics", ONE, NULL},
    {"machine-config", "/machine-config", ONE, NULL},
    {"cpu-config", "/cpu-config", CPU_CFG, NULL},
    {"boot-source", "/boot-source", ONE, NULL},
    {"drives", "/drives", LIST, "drive_id"},
    {"pmem", "/pmem", LIST, "id"},
    {"network-interfaces", "/network-interfaces", LIST, "iface_id"},
    {"vsock", "/vsock", ONE, NULL},
    {"balloon", "/balloon", ONE, NULL},
    {"mmds-config", "/mmds/config", ONE, NULL},
    {"entropy", "/entropy", ONE, NULL},
    {"memory-hotplug", "/hotplug/memory", ONE, NULL},
    {"serial", "/serial", ONE, NULL},
};

void config_file_fini(struct config_file *cf)
{
	for (size_t i = 0; i < cf->nr_reqs; i++) {
		free(cf->reqs[i].path);
		free(cf->reqs[i].body);
		free(cf->reqs[i].what);
	}
	free(cf->reqs);
	cf->reqs = NULL;
	cf->nr_reqs = 0;
}

int config_file_read(const char *path, size_t max, char **data, size_t *len, char *err,
                     size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	int r = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = err_set(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = err_set(err, errlen, -EFBIG, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	size_t size = (size_t)st.st_size, done = 0;
	if (!(buf = malloc(size + 1))) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = err_set(err, errlen, -EIO, "%s: read failed", path);
			goto out;
		}
		done += (size_t)n;
	}
	buf[size] = '\0';
	*data = buf;
	*len = size;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

static int add(struct config_file *cf, const char *path, const char *id, json_t *body,
               const char *what, char *err, size_t errlen)
{
	struct config_file_request *reqs = realloc(cf->reqs, (cf->nr_reqs + 1) * sizeof(*cf->reqs));
	if (!reqs)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	cf->reqs = reqs;
	struct config_file_request *r = &reqs[cf->nr_reqs];
	size_t len = strlen(path) + (id ? strlen(id) + 1 : 0) + 1;
	r->path = malloc(len);
	r->body = json_dumps(body, JSON_COMPACT);
	r->what = strdup(what);
	if (r->path)
		snprintf(r->path, len, "%s%s%s", path, id ? "/" : "", id ? id : "");
	cf->nr_reqs++;
	if (!r->path || !r->body || !r->what)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int add_list(struct config_file *cf, const struct section *s, json_t *v, char *err,
                    size_t errlen)
{
	if (!json_is_array(v))
		return err_set(err, errlen, -EINVAL, "%s: expected a list", s->key);
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		char what[64];
		snprintf(what, sizeof(what), "%s[%zu]", s->key, i);
		const char *id = json_string_value(json_object_get(item, s->id_field));
		if (!json_is_object(item) || !id)
			return err_set(err, errlen, -EINVAL,
			               "%s: expected an object with a string "
			               "`%s`",
			               what, s->id_field);
		int r = add(cf, s->path, id, item, what, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* "cpu-config" in a config file is the path of a CPU template file. */
static int add_cpu_config(struct config_file *cf, const struct section *s, json_t *v, char *err,
                          size_t errlen)
{
	if (json_is_object(v))
		return add(cf, s->path, NULL, v, s->key, err, errlen);
	if (!json_is_string(v))
		return err_set(err, errlen, -EINVAL, "%s: expected a path or an object", s->key);
	char *text;
	size_t len;
	char why[300];
	int r = config_file_read(json_string_value(v), CONFIG_FILE_MAX_BYTES, &text, &len, why,
	                         sizeof(why));
	if (r)
		return err_set(err, errlen, r, "%s: %s", s->key, why);
	json_error_t jerr;
	json_t *tpl = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!tpl)
		return err_set(err, errlen, -EINVAL, "%s: %s: line %d: %s", s->key,
		               json_string_value(v), jerr.line, jerr.text);
	r = add(cf, s->path, NULL, tpl, s->key, err, errlen);
	json_decref(tpl);
	return r;
}

int config_file_parse(const char *text, size_t len, struct config_file *out, char *err,
                      size_t errlen)
{
	*out = (struct config_file){0};
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return err_set(err, errlen, -EINVAL, "not valid JSON: %s (line %d, column %d)",
		               jerr.text, jerr.line, jerr.column);
	int r = 0;
	if (!json_is_object(doc)) {
		r = err_set(err, errlen, -EINVAL, "the configuration must be a JSON object");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v)
	{
		size_t i = 0;
		while (i < ARRAY_SIZE(sections) && strcmp(sections[i].key, key))
			i++;
		if (i == ARRAY_SIZE(sections)) {
			r = err_set(err, errlen, -EINVAL, "unknown section `%.64s`", key);
			goto out;
		}
	}
	for (size_t i = 0; !r && i < ARRAY_SIZE(sections); i++) {
		const struct section *s = &sections[i];
		v = json_object_get(doc, s->key);
		if (!v || json_is_null(v))
			continue;
		if (s->kind == LIST)
			r = add_list(out, s, v, err, errlen);
		else if (s->kind == CPU_CFG)
			r = add_cpu_config(out, s, v, err, errlen);
		else if (!json_is_object(v))
			r = err_set(err, errlen, -EINVAL, "%s: expected an object", s->key);
		else
			r = add(out, s->path, NULL, v, s->key, err, errlen);
	}
out:
	json_decref(doc);
	return r;
}

int config_file_load(const char *path, struct config_file *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	*out = (struct config_file){0};
	int r = config_file_read(path, CONFIG_FILE_MAX_BYTES, &text, &len, err, errlen);
	if (r)
		return r;
	char why[400];
	r = config_file_parse(text, len, out, why, sizeof(why));
	if (r)
		err_set(err, errlen, r, "%s: %s", path, why);
	free(text);
	return r;
}
