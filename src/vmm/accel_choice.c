/*
 * Choosing the accelerator (accel_choice.h): the pure decision and the glue
 * that probes, logs the one line and hands back the ops table.
 */
#include "vmm/accel_choice.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "accel/kvm/kvm.h"
#include "accel/soft/accel_soft.h"
#include "core/log.h"

/* Million instructions per second, with one decimal for slow rates. */
static void format_mips(const struct kvm_speed *p, char *buf, size_t len)
{
	double mips = p->elapsed_ns ? (double)p->instructions * 1e3 / (double)p->elapsed_ns : 0;
	if (mips < 100)
		snprintf(buf, len, "%.1f MIPS", mips);
	else
		snprintf(buf, len, "%.0f MIPS", mips);
}

int accel_decide(enum accel_kind requested, const struct kvm_speed *probe, enum accel_kind *chosen,
                 char *why, size_t whylen)
{
	char mips[32];
	switch (requested) {
	case ACCEL_KIND_SOFT:
		*chosen = ACCEL_KIND_SOFT;
		snprintf(why, whylen, "accel soft (--accel soft)");
		return 0;
	case ACCEL_KIND_KVM:
		if (probe->open_error) {
			snprintf(why, whylen, "--accel kvm: %s", probe->why);
			return -ENODEV;
		}
		*chosen = ACCEL_KIND_KVM;
		snprintf(why, whylen, "accel kvm (--accel kvm)");
		return 0;
	case ACCEL_KIND_AUTO:
		break;
	}
	*chosen = ACCEL_KIND_SOFT;
	if (probe->open_error) {
		snprintf(why, whylen, "accel soft (no KVM: %s)", probe->why);
		return 0;
	}
	if (probe->probe_error) {
		snprintf(why, whylen, "accel soft (the KVM probe VM failed: %s)", probe->why);
		return 0;
	}
	format_mips(probe, mips, sizeof(mips));
	if (!probe->finished) {
		snprintf(why, whylen,
		         "accel soft (KVM runs guest kernel code at %s here: probe took >%u ms)",
		         mips, ACCEL_PROBE_CAP_MS);
		return 0;
	}
	*chosen = ACCEL_KIND_KVM;
	snprintf(why, whylen, "accel kvm (KVM runs guest kernel code at %s: probe took %.1f ms)",
	         mips, (double)probe->elapsed_ns / 1e6);
	return 0;
}

const struct accel_ops *accel_choose(enum accel_kind requested, char *err, size_t errlen)
{
	struct kvm_speed probe = {0};
	enum accel_kind chosen;
	char why[512];
	if (requested == ACCEL_KIND_KVM)
		probe.open_error = kvm_available(probe.why, sizeof(probe.why));
	else if (requested == ACCEL_KIND_AUTO)
		kvm_speed_probe(&probe);
	if (accel_decide(requested, &probe, &chosen, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	log_info("%s", why);
	return chosen == ACCEL_KIND_KVM ? &accel_kvm_ops : &accel_soft_ops;
}
