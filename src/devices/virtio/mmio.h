/*
 * The virtio-mmio transport, version 2 register layout (virtio 1.2
 * section 4.2): one 4 KiB window and one interrupt line per device.
 *
 * Register accesses arrive on vCPU threads through the MMIO bus and take
 * the device lock. Queue work never happens there: a QueueNotify write
 * signals the transport's notify eventfd -- directly in the kernel when
 * the builder registered it as an ioeventfd, from the MMIO exit
 * otherwise -- and the VMM thread's event loop serves every ready queue.
 * A driver that only polls the used ring therefore makes progress with
 * no interrupt at all.
 *
 * Interrupts set InterruptStatus and pulse the line (ember's DSDT
 * describes virtio-mmio interrupts as edge-triggered, active high):
 * through an irqfd when the builder gave one, else through the irq_line.
 */
#ifndef EMBER_DEVICES_VIRTIO_MMIO_H
#define EMBER_DEVICES_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/macros.h"
#include "devices/virtio/device.h"
#include "vmm/irq.h"

/* Register offsets (4.2.2); all 32-bit, config space from 0x100. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC        0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION_2    2u
#define VIRTIO_MMIO_EMBER_VENDOR 0x52424d45u /* "EMBR" */
#define VIRTIO_MMIO_WINDOW       0x1000u

struct event_loop;
struct virtio_mmio;

struct virtio_mmio_params {
	uint64_t base;           /* guest-physical base of the window (for logs) */
	struct irq_line irq;     /* the device's GSI, used without an irqfd */
	struct event_loop *loop; /* serves kicks; NULL: the caller calls virtio_mmio_poll */
};

/* Wraps dev (which it then owns) in an MMIO transport. Builder thread,
 * before vCPUs run. 0 or -errno; on failure dev is left to the caller. */
int virtio_mmio_create(const struct virtio_mmio_params *params, struct virtio_device *dev,
                       struct virtio_mmio **out) must_check;
/* Removes it from the loop, closes its fds, destroys the device. NULL ok.
 * After the vCPUs were joined. */
void virtio_mmio_destroy(struct virtio_mmio *m);
/* The bus handler (vCPU threads; takes the device lock). */
void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);
/* The eventfd a QueueNotify write signals (for the accelerator's ioeventfd). */
int virtio_mmio_notify_fd(const struct virtio_mmio *m);
/* Interrupts go through fd (an irqfd on the GSI) from now on; m owns it. */
void virtio_mmio_set_irqfd(struct virtio_mmio *m, int fd);
/* Serves pending kicks now: drains the notify eventfd, processes queues.
 * VMM thread (the event loop calls it; tests without a loop too). */
void virtio_mmio_poll(struct virtio_mmio *m);
struct virtio_device *virtio_mmio_device(const struct virtio_mmio *m);

#endif
