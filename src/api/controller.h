/*
 * The API controller: everything the Firecracker-compatible API acts on --
 * the configured resources, the instance state (Not started, Running,
 * Paused), the VM once InstanceStart built it -- and the rules between
 * them. It lives on the VMM thread: requests reach it through the channel
 * (api/channel.h) and the router (api/router.h), config files through the
 * same router (api/process.c), so all three paths apply the same checks.
 *
 * The controller drives the VM through a small ops table, so the unit
 * tests run every rule without KVM; api/process.c supplies the real one
 * (builder_build, vm_start, vm_pause, vm_resume, virtio-blk updates).
 */
#ifndef EMBER_API_CONTROLLER_H
#define EMBER_API_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/request.h"
#include "api/resources.h"
#include "config/vm_config.h"
#include "core/rate_limiter.h"
#include "core/macros.h"

/* The Firecracker API version ember follows (the OpenAPI description in
 * ../shared/reference/firecracker.yaml). */
#define API_FIRECRACKER_VERSION "1.17.0-dev"
#define API_APP_NAME            "ember"
#define API_DEFAULT_INSTANCE_ID "anonymous-instance"
#define API_INSTANCE_ID_MAX     64
/* Firecracker's default request body limit, and the MMDS store's. */
#define API_DEFAULT_MAX_PAYLOAD 51200

enum api_vm_state {
	API_VM_NOT_STARTED,
	API_VM_RUNNING,
	API_VM_PAUSED,
};

struct api_vm_ops {
	/* Builds and starts the VM cfg describes (res for what vm_config does
	 * not carry: the serial output path). *vm: an opaque handle. cfg
	 * stays the controller's while the VM lives. 0 or -errno + err. */
	int (*start)(void *opaque, const struct api_resources *res, struct vm_config *cfg,
	             void **vm, char *err, size_t errlen);
	/* Parks every vCPU (returns once they are parked) / lets them run. */
	int (*pause)(void *opaque, void *vm);
	int (*resume)(void *opaque, void *vm);
	/* Swaps the image behind the disk_index-th disk (creation order):
	 * opens and locks path, reports the new capacity to the guest. NULL
	 * when not possible. */
	int (*update_drive)(void *opaque, void *vm, unsigned disk_index, const char *path,
	                    bool read_only, char *err, size_t errlen);
	/* Firecracker's PATCH semantics per bucket: NULL keeps it, a disabled
	 * one removes it, an enabled one replaces it (full). */
	int (*update_drive_limiter)(void *opaque, void *vm, unsigned disk_index,
	                            const struct token_bucket_config *bandwidth,
	                            const struct token_bucket_config *ops, char *err,
	                            size_t errlen);
	/* Types Ctrl-Alt-Del on the guest's keyboard. NULL when not possible. */
	int (*send_ctrl_alt_del)(void *opaque, void *vm, char *err, size_t errlen);
};

struct api_controller {
	struct api_resources res;
	enum api_vm_state state;
	const struct api_vm_ops *ops;
	void *ops_opaque;
	void *vm;                            /* ops' handle, NULL before InstanceStart */
	struct vm_config cfg;                /* what InstanceStart booted */
	unsigned disk_order[API_MAX_DRIVES]; /* i-th disk -> index in res.drives */
	unsigned nr_disks;
	char instance_id[API_INSTANCE_ID_MAX + 1];
	const char *vmm_version;
	size_t mmds_size_limit; /* bytes of the serialized data store */
	bool metrics_initialized;
};

/* Fills c with defaults. instance_id must satisfy api_instance_id_valid. */
void api_controller_init(struct api_controller *c, const struct api_vm_ops *ops, void *opaque,
                         const char *instance_id, const char *vmm_version, size_t mmds_size_limit);
/* Frees the resources and the booted vm_config (not the VM: its owner
 * destroys it first). */
void api_controller_fini(struct api_controller *c);
/* The request -> response function of the channel (api_serve_fn): routes
 * req with the router. VMM thread. */
void api_controller_serve(void *controller, const struct api_request *req,
                          struct api_response *resp);
/* "Not started", "Running" or "Paused". */
const char *api_vm_state_name(enum api_vm_state state);
/* Firecracker's instance ids (--id): 1 to 64 ASCII letters, digits, '-'. */
bool api_instance_id_valid(const char *id);

#endif
