/*
 * The API's resource handlers, one file per resource (the router names
 * them in its table). Each runs on the VMM thread, parses and checks the
 * whole request first, and only then changes the controller.
 */
#ifndef EMBER_API_HANDLERS_HANDLERS_H
#define EMBER_API_HANDLERS_HANDLERS_H

#include "api/router.h"

/* instance.c: GET /, GET /version, PATCH /vm, GET /vm/config */
void api_get_instance_info(struct api_controller *c, const struct api_call_args *a,
                           struct api_response *resp);
void api_get_version(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp);
void api_patch_vm(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp);
void api_get_vm_config(struct api_controller *c, const struct api_call_args *a,
                       struct api_response *resp);

/* machine_config.c */
void api_get_machine_config(struct api_controller *c, const struct api_call_args *a,
                            struct api_response *resp);
void api_put_machine_config(struct api_controller *c, const struct api_call_args *a,
                            struct api_response *resp);
void api_patch_machine_config(struct api_controller *c, const struct api_call_args *a,
                              struct api_response *resp);

/* boot_source.c */
void api_put_boot_source(struct api_controller *c, const struct api_call_args *a,
                         struct api_response *resp);

/* drives.c */
void api_put_drive(struct api_controller *c, const struct api_call_args *a,
                   struct api_response *resp);
void api_patch_drive(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp);

/* devices.c: PUT /entropy, PUT /serial, PUT /cpu-config */
void api_put_entropy(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp);
void api_put_serial(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp);
void api_put_cpu_config(struct api_controller *c, const struct api_call_args *a,
                        struct api_response *resp);

/* logger.c: PUT /logger, PUT /metrics */
void api_put_logger(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp);
void api_put_metrics(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp);
/* FlushMetrics: one line to the metrics file. 0 or -errno with err. */
int api_flush_metrics(struct api_controller *c, char *err, size_t errlen) must_check;

/* mmds.c */
void api_get_mmds(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp);
void api_put_mmds(struct api_controller *c, const struct api_call_args *a,
                  struct api_response *resp);
void api_patch_mmds(struct api_controller *c, const struct api_call_args *a,
                    struct api_response *resp);
void api_put_mmds_config(struct api_controller *c, const struct api_call_args *a,
                         struct api_response *resp);

/* actions.c: PUT /actions (InstanceStart, SendCtrlAltDel, FlushMetrics) */
void api_put_actions(struct api_controller *c, const struct api_call_args *a,
                     struct api_response *resp);

/* unsupported.c: the devices and features later issues bring */
void api_not_supported(struct api_controller *c, const struct api_call_args *a,
                       struct api_response *resp);

#endif
