/*
 * The QEMU pvpanic ISA device: one byte at port 0x505 through which a guest
 * kernel reports that it panicked (the VM then stops with VM_STOP_CRASH) or
 * that it panicked with a crash kernel loaded to handle it (logged only). Reads return the events
 * supported. Linux's pvpanic driver finds it through the ACPI device
 * QEMU0001 with this port in its _CRS.
 */
#ifndef EMBER_DEVICES_LEGACY_PVPANIC_H
#define EMBER_DEVICES_LEGACY_PVPANIC_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm_control.h"

#define PVPANIC_PORT       0x505
#define PVPANIC_PORT_COUNT 1

#define PVPANIC_PANICKED     0x01
#define PVPANIC_CRASH_LOADED 0x02

struct pvpanic;

struct pvpanic *pvpanic_create(const struct vm_control *ctl);
void pvpanic_destroy(struct pvpanic *dev);
/* Bus handler for PVPANIC_PORT (one byte). */
void pvpanic_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
