/*
 * ACPI tables (ACPI 6.x): RSDP -> XSDT -> FADT (hardware-reduced, with
 * sleep control/status and reset registers in port space, see layout.h)
 * -> DSDT (AML: _S5_ package, the legacy devices, later the virtio-mmio
 * devices as LNRO0005), and MADT (one local APIC per vCPU, the IOAPIC, the
 * ISA interrupt source overrides). Written at LAYOUT_ACPI_GPA with every
 * checksum right.
 */
#ifndef EMBER_ARCH_X86_ACPI_H
#define EMBER_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"
#include "vmm/memory.h"

struct acpi_mmio_device {
	uint64_t base, size;
	uint32_t gsi;
};

#define ACPI_MAX_MMIO_DEVICES 32

struct acpi_config {
	unsigned nr_vcpus;
	unsigned nr_mmio_devices;
	struct acpi_mmio_device mmio_devices[ACPI_MAX_MMIO_DEVICES];
};

/* Writes all tables; *rsdp_gpa receives the RSDP's address. */
int acpi_build(struct guest_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       char *err, size_t errlen) must_check;

#endif
