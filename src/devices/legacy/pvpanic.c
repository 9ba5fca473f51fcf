/*
 * The pvpanic device after QEMU's docs/specs/pvpanic.rst: an ISA port whose
 * reads return the supported events (bit 0 PANICKED, bit 1 CRASH_LOADED)
 * and to which the guest writes the event that happened. PANICKED ("the
 * host should process it") stops the VM with VM_STOP_CRASH. CRASH_LOADED
 * means the guest panicked but its own crash kernel (kdump) takes over:
 * logged, the guest keeps running. Other bits (such as SHUTDOWN, which we
 * do not advertise) are ignored.
 *
 * The only state is two "already logged" flags, kept atomic instead of
 * under a lock. A wider access acts on the low byte; reads return the
 * event mask in the low byte and 0 above it.
 */
#include "devices/legacy/pvpanic.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

struct pvpanic {
	struct vm_control ctl; /* immutable after create */
	atomic_bool panic_logged;
	atomic_bool crash_loaded_logged;
};

/* Allocates the device; ctl is copied. NULL when out of memory. VMM thread. */
struct pvpanic *pvpanic_create(const struct vm_control *ctl)
{
	struct pvpanic *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	if (ctl)
		dev->ctl = *ctl;
	atomic_init(&dev->panic_logged, false);
	atomic_init(&dev->crash_loaded_logged, false);
	return dev;
}

/* Frees the device. No vCPU may be running. */
void pvpanic_destroy(struct pvpanic *dev)
{
	free(dev);
}

/*
 * Bus handler, vCPU threads. A PANICKED write requests VM_STOP_CRASH every
 * time (the first stop reason wins) but logs once; the access returns.
 */
void pvpanic_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct pvpanic *dev = opaque;
	if (size == 0)
		return;
	if (!is_write) {
		memset(data, 0, size);
		data[0] = offset == 0 ? PVPANIC_EVENTS : 0xff;
		return;
	}
	if (offset != 0)
		return;
	uint8_t event = data[0];
	if (event & PVPANIC_PANICKED) {
		if (!atomic_exchange(&dev->panic_logged, true))
			log_error("guest kernel panicked");
		vm_control_stop(&dev->ctl, VM_STOP_CRASH);
		return;
	}
	if ((event & PVPANIC_CRASH_LOADED) && !atomic_exchange(&dev->crash_loaded_logged, true))
		log_warn("guest kernel panicked; its crash kernel takes over");
}
