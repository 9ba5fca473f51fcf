/*
 * The VM builder: one top-to-bottom recipe that turns a validated vm_config
 * into a VM ready to run. Reading builder.c tells you everything a VM has.
 */
#ifndef EMBER_VMM_BUILDER_H
#define EMBER_VMM_BUILDER_H

#include <stddef.h>

#include "config/vm_config.h"
#include "core/macros.h"
#include "vmm/vm.h"

/* Builds the VM; on failure err holds one line and *out is NULL. */
int builder_build(const struct vm_config *cfg, const struct accel_ops *accel, struct vm **out,
		  char *err, size_t errlen) must_check;

#endif
