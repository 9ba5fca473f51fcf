/*
 * The software accelerator: the interpreter of accel/soft/ (system mode),
 * the soft MMU over a shared physical map, and the LAPIC/IOAPIC/PIC/PIT
 * platform in userspace, behind accel/accel.h like accel/kvm/. Device
 * accesses complete inside vcpu_run through accel_vm_params.io; there are
 * no irqfd/ioeventfd fast paths (a GSI is a function call here).
 */
#ifndef EMBER_ACCEL_SOFT_ACCEL_SOFT_H
#define EMBER_ACCEL_SOFT_ACCEL_SOFT_H

#include "accel/accel.h"

extern const struct accel_ops accel_soft_ops;

#endif
