/*
 * Which accelerator runs the VM: `--accel kvm` and `--accel soft` force one;
 * `--accel auto` (the default) takes KVM only when /dev/kvm opens AND a
 * short probe shows that it runs guest ring-0 code at hardware speed. A
 * software-emulated nested KVM (this project's CI machines) runs guest
 * kernel code at about 2 million instructions per second, far slower than
 * the software CPU, so there the software CPU is chosen. One line on the
 * log says which accelerator and why.
 */
#ifndef EMBER_VMM_ACCEL_CHOICE_H
#define EMBER_VMM_ACCEL_CHOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "config/vm_config.h"
#include "core/macros.h"

/* The probe: a ring-0 loop of 2 x ACCEL_PROBE_ITERATIONS instructions that
 * must finish within ACCEL_PROBE_CAP_MS (hardware KVM: 1-2 ms). */
#define ACCEL_PROBE_ITERATIONS 1000000u
#define ACCEL_PROBE_CAP_MS     20u

/* What the KVM speed probe found. */
struct kvm_speed {
	int open_error;        /* 0, or -errno: /dev/kvm cannot be used (why says so) */
	int probe_error;       /* 0, or -errno: the scratch VM failed (why says so) */
	bool finished;         /* the loop ended within the cap */
	uint64_t elapsed_ns;   /* guest run time, up to about the cap */
	uint64_t instructions; /* guest instructions retired in elapsed_ns */
	char why[256];
};

/*
 * Opens /dev/kvm and, if that works, runs the probe VM (about 1 ms on
 * hardware KVM, ACCEL_PROBE_CAP_MS otherwise). Fills *out; never fails
 * (failures are recorded in it). Before any VM exists; VMM thread.
 */
void kvm_speed_probe(struct kvm_speed *out);

/*
 * The decision, pure (unit-tested): requested kind + probe -> *chosen
 * (ACCEL_KIND_KVM or ACCEL_KIND_SOFT) and one line in why saying why.
 * -ENODEV with the reason in why when KVM was forced and cannot be used.
 */
int accel_decide(enum accel_kind requested, const struct kvm_speed *probe, enum accel_kind *chosen,
                 char *why, size_t whylen) must_check;

/*
 * Probes when needed, decides, logs the one line and returns the ops to
 * build the VM with; NULL with one line in err when --accel kvm cannot be
 * honoured (bad input: exit status 2). VMM thread, before any VM.
 */
const struct accel_ops *accel_choose(enum accel_kind requested, char *err, size_t errlen);

#endif
