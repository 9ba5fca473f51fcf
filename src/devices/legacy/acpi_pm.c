/*
 * The ACPI hardware-reduced sleep and reset registers, after the ACPI
 * specification's "Sleep Control and Status Registers" (SLP_TYPx in bits
 * 4:2 and SLP_EN in bit 5 of the control register, WAK_STS in bit 7 of the
 * status register) and "Reset Register" sections, and the FADT fields
 * SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG and RESET_VALUE that point
 * at the ports of layout.h; the DSDT's \_S5 package gives SLP_TYP 5.
 *
 * Offsets from LAYOUT_ACPI_SLEEP_CTL_PORT: 0 sleep control, 1 sleep status,
 * 2 reset. Only S5 is supported; other sleep types are logged and ignored.
 * The registers are byte wide: wider writes use the low byte, reads return
 * 0 in the low byte and 0xff above it. The device keeps no mutable state,
 * so it needs no lock.
 */
#include "devices/legacy/acpi_pm.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"

#define ACPI_PM_SLEEP_CTL (LAYOUT_ACPI_SLEEP_CTL_PORT - LAYOUT_ACPI_SLEEP_CTL_PORT)
#define ACPI_PM_SLEEP_STS (LAYOUT_ACPI_SLEEP_STS_PORT - LAYOUT_ACPI_SLEEP_CTL_PORT)
#define ACPI_PM_RESET     (LAYOUT_ACPI_RESET_PORT - LAYOUT_ACPI_SLEEP_CTL_PORT)

#define SLP_EN        0x20
#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x7

struct acpi_pm {
	struct vm_control ctl; /* immutable after create */
};

/* Allocates the registers; ctl is copied. NULL when out of memory. VMM thread. */
struct acpi_pm *acpi_pm_create(const struct vm_control *ctl)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	if (ctl)
		pm->ctl = *ctl;
	return pm;
}

/* Frees the registers. No vCPU may be running. */
void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}

static void acpi_pm_sleep(struct acpi_pm *pm, uint8_t value)
{
	if (!(value & SLP_EN))
		return;
	unsigned int typ = (value >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
	if (typ == LAYOUT_ACPI_S5_SLP_TYP) {
		log_info("guest requested ACPI power off (S5)");
		vm_control_stop(&pm->ctl, VM_STOP_POWEROFF);
		return;
	}
	log_warn_ratelimited("acpi: sleep type %u not supported, ignored", typ);
}

/*
 * Bus handler, vCPU threads: S5 requests VM_STOP_POWEROFF, the reset value
 * VM_STOP_RESET; the access returns normally either way.
 */
void acpi_pm_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (size == 0)
		return;
	if (!is_write) {
		/* SLP_TYP/SLP_EN and the reset value are write-only; WAK_STS
		 * stays 0 because the VM never sleeps. */
		memset(data, 0xff, size);
		data[0] = offset < ACPI_PM_PORT_COUNT ? 0 : 0xff;
		return;
	}
	switch (offset) {
	case ACPI_PM_SLEEP_CTL:
		acpi_pm_sleep(pm, data[0]);
		break;
	case ACPI_PM_RESET:
		if (data[0] == LAYOUT_ACPI_RESET_VALUE)
			vm_control_stop(&pm->ctl, VM_STOP_RESET);
		else
			log_warn_ratelimited("acpi: reset register write 0x%02x ignored", data[0]);
		break;
	default:
		/* Sleep status: writing WAK_STS clears it; it is never set. */
		break;
	}
}
