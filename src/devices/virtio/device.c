/*
 * The state every virtio device shares (virtio 1.2): the device status
 * state machine (2.1, 3.1.1 device initialization, 2.4 reset), feature
 * negotiation (2.2; VIRTIO_F_VERSION_1 is required, 6), configuration
 * space and its generation (2.5), interrupt causes, and the NEEDS_RESET
 * path for a driver that breaks the rules (2.1.2). See device.h.
 */
#include "devices/virtio/device.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"

#define DRIVER_STATUS_BITS                                                                         \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |      \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

int virtio_device_init(struct virtio_device *dev, const struct virtio_device_ops *ops,
                       const struct guest_memory *mem)
{
	memset(dev, 0, sizeof(*dev));
	if (ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_MAX_CONFIG_SIZE)
		return -EINVAL;
	dev->ops = ops;
	dev->mem = mem;
	dev->device_features = ops->features | VIRTIO_CORE_FEATURES;
	int r = pthread_mutex_init(&dev->lock, NULL);
	if (r)
		return -r;
	for (unsigned i = 0; i < ops->nr_queues; i++) {
		r = virtq_init(&dev->queues[i], dev, i, mem, ops->queue_max_size);
		if (r)
			goto fail;
		dev->nr_queues = i + 1;
	}
	return 0;
fail:
	virtio_device_fini(dev);
	return r;
}

void virtio_device_fini(struct virtio_device *dev)
{
	for (unsigned i = 0; i < dev->nr_queues; i++)
		virtq_fini(&dev->queues[i]);
	dev->nr_queues = 0;
	pthread_mutex_destroy(&dev->lock);
}

void virtio_device_destroy(struct virtio_device *dev)
{
	if (dev && dev->ops->destroy)
		dev->ops->destroy(dev);
}

static void raise_interrupt(struct virtio_device *dev, uint32_t cause)
{
	dev->isr |= cause;
	atomic_fetch_add(&dev->metrics.interrupts, 1);
	if (dev->raise)
		dev->raise(dev->raise_ctx);
}

static void refuse(struct virtio_device *dev, const char *what)
{
	atomic_fetch_add(&dev->metrics.bad_accesses, 1);
	log_warn_ratelimited("virtio-%s: %s (ignored)", dev->ops->name, what);
}

void virtio_device_reset(struct virtio_device *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	dev->status = 0;
	dev->driver_features = dev->features = 0;
	dev->driver_features_unoffered = false;
	dev->isr = 0;
	dev->broken = false;
	for (unsigned i = 0; i < dev->nr_queues; i++)
		virtq_reset(&dev->queues[i]);
}

/* FEATURES_OK (2.2.1, 3.1.1 step 5): a subset of what we offered, with VERSION_1. */
static bool features_acceptable(const struct virtio_device *dev)
{
	if ((dev->driver_features & ~dev->device_features) || dev->driver_features_unoffered)
		return false;
	return dev->driver_features & (1ULL << VIRTIO_F_VERSION_1);
}

int virtio_device_set_status(struct virtio_device *dev, uint32_t value)
{
	if (value == 0) {
		virtio_device_reset(dev);
		return 0;
	}
	uint32_t old = dev->status & DRIVER_STATUS_BITS;
	/* NEEDS_RESET is the device's to set; the driver's copy is ignored. */
	uint32_t want = value & DRIVER_STATUS_BITS;
	if (old & ~want) {
		refuse(dev, "status write clears bits without a reset");
		return -EINVAL;
	}
	uint32_t added = want & ~old;
	if (((added & VIRTIO_CONFIG_S_DRIVER) && !(want & VIRTIO_CONFIG_S_ACKNOWLEDGE)) ||
	    ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !(want & VIRTIO_CONFIG_S_DRIVER)) ||
	    ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(want & VIRTIO_CONFIG_S_FEATURES_OK))) {
		refuse(dev, "status write skips an initialisation step");
		return -EINVAL;
	}
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (!features_acceptable(dev)) {
			/* The driver reads FEATURES_OK back and finds it unset. */
			refuse(dev, "FEATURES_OK with unoffered features or without VERSION_1");
			dev->status |=
			    want & ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
			return -EINVAL;
		}
		dev->features = dev->driver_features;
	}
	dev->status |= want;
	if (added & VIRTIO_CONFIG_S_DRIVER_OK) {
		int r = dev->ops->activate ? dev->ops->activate(dev) : 0;
		if (r)
			virtio_device_fail(dev, "activation failed");
	}
	return 0;
}

uint32_t virtio_device_features_read(const struct virtio_device *dev, uint32_t sel)
{
	if (sel > 1)
		return 0;
	return (uint32_t)(dev->device_features >> (32 * sel));
}

void virtio_device_features_write(struct virtio_device *dev, uint32_t sel, uint32_t value)
{
	if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		refuse(dev, "feature write after FEATURES_OK");
		return;
	}
	if (sel > 1) {
		/* Bits 64+ are never offered: accepting one fails FEATURES_OK. */
		if (value)
			dev->driver_features_unoffered = true;
		return;
	}
	unsigned shift = 32 * sel;
	dev->driver_features &= ~(0xffffffffULL << shift);
	dev->driver_features |= (uint64_t)value << shift;
}

static bool config_range_ok(const struct virtio_device *dev, uint32_t offset, uint32_t len)
{
	return offset <= dev->ops->config_size && len <= dev->ops->config_size - offset;
}

void virtio_device_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	memset(data, 0, len);
	if (!config_range_ok(dev, offset, len)) {
		refuse(dev, "config read outside the config space");
		return;
	}
	if (dev->ops->config_read)
		dev->ops->config_read(dev, offset, data, len);
}

void virtio_device_config_write(struct virtio_device *dev, uint32_t offset, const void *data,
                                uint32_t len)
{
	if (!config_range_ok(dev, offset, len) || !dev->ops->config_write) {
		refuse(dev, "config write outside the writable config space");
		return;
	}
	dev->ops->config_write(dev, offset, data, len);
}

void virtio_device_config_changed(struct virtio_device *dev)
{
	dev->config_generation++;
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_device_fail(struct virtio_device *dev, const char *what)
{
	atomic_fetch_add(&dev->metrics.errors, 1);
	if (dev->broken)
		return;
	dev->broken = true;
	log_warn_ratelimited("virtio-%s: %s: device needs reset", dev->ops->name, what);
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	/* 2.1.2: with DRIVER_OK set, tell the driver by a config change. */
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_device_signal_used(struct virtio_device *dev, unsigned q)
{
	if (q < dev->nr_queues && virtq_should_notify(&dev->queues[q]))
		raise_interrupt(dev, VIRTIO_ISR_USED);
}

void virtio_device_ack(struct virtio_device *dev, uint32_t bits)
{
	dev->isr &= ~bits;
}

void virtio_device_process(struct virtio_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	if (!(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) || dev->broken)
		goto out;
	for (unsigned i = 0; i < dev->nr_queues; i++) {
		struct virtq *q = &dev->queues[i];
		if (!q->ready || q->broken)
			continue;
		if (dev->ops->queue_notify)
			dev->ops->queue_notify(dev, i);
		if (dev->broken)
			break;
		virtio_device_signal_used(dev, i);
	}
out:
	pthread_mutex_unlock(&dev->lock);
}
