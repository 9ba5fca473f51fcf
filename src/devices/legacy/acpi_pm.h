/*
 * The ACPI hardware-reduced sleep control, sleep status and reset
 * registers the FADT points at (ports in layout.h). Writing SLP_EN with
 * SLP_TYP = S5 powers the VM off (VM_STOP_POWEROFF); writing the reset
 * value to the reset register ends it with VM_STOP_RESET.
 */
#ifndef EMBER_DEVICES_LEGACY_ACPI_PM_H
#define EMBER_DEVICES_LEGACY_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm_control.h"

#define ACPI_PM_PORT_COUNT 3

struct acpi_pm;

struct acpi_pm *acpi_pm_create(const struct vm_control *ctl);
void acpi_pm_destroy(struct acpi_pm *pm);
/* Bus handler for LAYOUT_ACPI_SLEEP_CTL_PORT .. +ACPI_PM_PORT_COUNT. */
void acpi_pm_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
