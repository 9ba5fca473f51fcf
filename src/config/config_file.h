/*
 * Firecracker's JSON configuration file (--config-file): one object whose
 * keys are the API's resources -- "boot-source", "machine-config",
 * "drives" (a list), "network-interfaces" (a list), "logger", "metrics",
 * "entropy", "serial", "cpu-config" (an object, or the path of a JSON
 * file), "mmds-config", "vsock", "balloon", "pmem" (a list),
 * "memory-hotplug" -- the same document GET /vm/config returns.
 *
 * The file is turned into the list of PUT requests that would configure
 * the same VM through the API (list entries become PUT /drives/{drive_id}
 * and the like), in the order Firecracker applies them; api/process.c
 * sends them through the API's router, so a config file passes exactly
 * the checks API requests pass. A null value is skipped (GET /vm/config's
 * output may be fed back); an unknown key is an error.
 */
#ifndef EMBER_CONFIG_CONFIG_FILE_H
#define EMBER_CONFIG_CONFIG_FILE_H

#include <stddef.h>

#include "core/macros.h"

/* Largest configuration file read. */
#define CONFIG_FILE_MAX_BYTES (16u << 20)

struct config_file_request {
	char *path; /* "/drives/rootfs" */
	char *body; /* the section, as compact JSON */
	char *what; /* "drives[0]", for messages */
};

struct config_file {
	struct config_file_request *reqs;
	size_t nr_reqs;
};

/* Parses text (len bytes) into out. 0, or -EINVAL / -ENOMEM with one line
 * in err. The caller frees out with config_file_fini in both cases. */
int config_file_parse(const char *text, size_t len, struct config_file *out, char *err,
                      size_t errlen) must_check;
/* Reads path (at most CONFIG_FILE_MAX_BYTES) and parses it. */
int config_file_load(const char *path, struct config_file *out, char *err,
                     size_t errlen) must_check;
void config_file_fini(struct config_file *cf);
/* Reads a whole small file (NUL-terminated, *len without it); caller frees. */
int config_file_read(const char *path, size_t max, char **data, size_t *len, char *err,
                     size_t errlen) must_check;

#endif
