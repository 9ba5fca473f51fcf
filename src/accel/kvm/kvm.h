/*
 * The KVM accelerator: hardware-assisted vCPUs through /dev/kvm, with the
 * in-kernel local APIC, IOAPIC, PIC pair and PIT.
 */
#ifndef EMBER_ACCEL_KVM_H
#define EMBER_ACCEL_KVM_H

#include "accel/accel.h"

extern const struct accel_ops accel_kvm_ops;

/* Checks that /dev/kvm can be opened; err gets one line when not. */
int kvm_available(char *err, size_t errlen);

#endif
