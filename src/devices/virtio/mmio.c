/*
 * The virtio-mmio transport, version 2 (virtio 1.2 section 4.2: register
 * layout 4.2.2, initialization and operation 4.2.3). See mmio.h.
 *
 * Control registers take 32-bit aligned accesses only (4.2.2.2); any
 * other access reads 0 or is dropped, and is counted. Writes to
 * read-only registers, reads of write-only ones, and queue set-up while
 * the queue is ready are refused the same way. The device-specific
 * config space (0x100+) takes 8, 16 and 32-bit accesses.
 */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"

struct virtio_mmio {
	struct virtio_device *dev;
	uint64_t base;
	struct irq_line irq;
	int irq_fd; /* -1: pulse irq instead */
	int notify_fd;
	struct event_loop *loop;
	/* Selectors; under dev->lock. */
	uint32_t device_features_sel, driver_features_sel, queue_sel, shm_sel;
};

static void mmio_raise(void *ctx)
{
	struct virtio_mmio *m = ctx;
	if (m->irq_fd >= 0) {
		uint64_t one = 1;
		if (write(m->irq_fd, &one, sizeof(one)) < 0)
			log_warn_ratelimited("virtio-mmio %#llx: irqfd write failed",
			                     (unsigned long long)m->base);
		return;
	}
	/* Edge-triggered: a pulse per interrupt. */
	irq_line_set(&m->irq, 1);
	irq_line_set(&m->irq, 0);
}

static void mmio_kick(struct virtio_mmio *m)
{
	uint64_t one = 1;
	if (write(m->notify_fd, &one, sizeof(one)) < 0)
		log_warn_ratelimited("virtio-mmio %#llx: notify eventfd write failed",
		                     (unsigned long long)m->base);
}

void virtio_mmio_poll(struct virtio_mmio *m)
{
	uint64_t count;
	if (read(m->notify_fd, &count, sizeof(count)) == sizeof(count))
		atomic_fetch_add(&m->dev->metrics.notifications, count);
	/* With no ioeventfd filter on the value, every queue is looked at. */
	virtio_device_process(m->dev);
}

static void on_notify(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	virtio_mmio_poll(opaque);
}

int virtio_mmio_create(const struct virtio_mmio_params *params, struct virtio_device *dev,
                       struct virtio_mmio **out)
{
	struct virtio_mmio *m = calloc(1, sizeof(*m));
	int r = -ENOMEM;
	if (!m)
		goto fail;
	m->dev = dev;
	m->base = params->base;
	m->irq = params->irq;
	m->irq_fd = -1;
	m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->notify_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (params->loop) {
		r = event_loop_add(params->loop, m->notify_fd, EPOLLIN, on_notify, m);
		if (r)
			goto fail;
		m->loop = params->loop;
	}
	dev->raise = mmio_raise;
	dev->raise_ctx = m;
	*out = m;
	return 0;
fail:
	if (m && m->notify_fd >= 0)
		close(m->notify_fd);
	free(m);
	return r;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (!m)
		return;
	if (m->loop)
		event_loop_del(m->loop, m->notify_fd);
	close(m->notify_fd);
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	virtio_device_destroy(m->dev);
	free(m);
}

int virtio_mmio_notify_fd(const struct virtio_mmio *m)
{
	return m->notify_fd;
}

void virtio_mmio_set_irqfd(struct virtio_mmio *m, int fd)
{
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	m->irq_fd = fd;
}

struct virtio_device *virtio_mmio_device(const struct virtio_mmio *m)
{
	return m->dev;
}

static void bad_access(struct virtio_mmio *m, uint64_t offset, uint32_t size, bool is_write)
{
	atomic_fetch_add(&m->dev->metrics.bad_accesses, 1);
	log_warn_ratelimited("virtio-mmio %#llx: %u-byte %s at +%#llx refused",
	                     (unsigned long long)m->base, size, is_write ? "write" : "read",
	                     (unsigned long long)offset);
}

static struct virtq *selected_queue(struct virtio_mmio *m)
{
	return m->queue_sel < m->dev->nr_queues ? &m->dev->queues[m->queue_sel] : NULL;
}

/* Returns false when the register is not readable. Lock held. */
static bool mmio_read(struct virtio_mmio *m, uint64_t offset, uint32_t *v)
{
	struct virtio_device *dev = m->dev;
	struct virtq *q = selected_queue(m);
	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		*v = VIRTIO_MMIO_MAGIC;
		return true;
	case VIRTIO_MMIO_VERSION:
		*v = VIRTIO_MMIO_VERSION_2;
		return true;
	case VIRTIO_MMIO_DEVICE_ID:
		*v = dev->ops->device_id;
		return true;
	case VIRTIO_MMIO_VENDOR_ID:
		*v = VIRTIO_MMIO_EMBER_VENDOR;
		return true;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		*v = virtio_device_features_read(dev, m->device_features_sel);
		return true;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		*v = q ? q->max_size : 0; /* 0: no such queue */
		return true;
	case VIRTIO_MMIO_QUEUE_READY:
		*v = q ? q->ready : 0;
		return true;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		*v = dev->isr;
		return true;
	case VIRTIO_MMIO_STATUS:
		*v = dev->status;
		return true;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		*v = 0xffffffffu; /* no shared memory regions: length and base are -1 */
		return true;
	case VIRTIO_MMIO_QUEUE_RESET:
		*v = 0; /* a queue reset completes within the write */
		return true;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		*v = dev->config_generation;
		return true;
	default:
		*v = 0;
		return false;
	}
}

/* The 64-bit ring addresses, written as two halves while the queue is off. */
static bool write_half(uint64_t *field, bool high, uint32_t v)
{
	unsigned shift = high ? 32 : 0;
	*field = (*field & ~(0xffffffffULL << shift)) | ((uint64_t)v << shift);
	return true;
}

static bool queue_write(struct virtio_mmio *m, struct virtq *q, uint64_t offset, uint32_t v)
{
	if (!q)
		return false;
	if (offset == VIRTIO_MMIO_QUEUE_READY) {
		if (v > 1)
			return false;
		/* Enabling starts the rings afresh; they are checked on first use. */
		if (v && !q->ready)
			q->mapped = false;
		q->ready = v;
		return true;
	}
	if (offset == VIRTIO_MMIO_QUEUE_RESET) {
		if (!(m->dev->features & (1ULL << VIRTIO_F_RING_RESET)) || v != 1)
			return false;
		virtq_reset(q); /* 2.6.1: synchronous, so QueueReset reads 0 after */
		return true;
	}
	if (q->ready)
		return false; /* 4.2.2.2: no set-up while the queue is ready */
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		if (v == 0 || v > q->max_size || (v & (v - 1)))
			return false;
		q->size = (uint16_t)v;
		return true;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return write_half(&q->desc_gpa, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		return write_half(&q->avail_gpa, offset == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return write_half(&q->used_gpa, offset == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
	default:
		return false;
	}
}

/* Returns false when the write is refused. Lock held. */
static bool mmio_write(struct virtio_mmio *m, uint64_t offset, uint32_t v)
{
	struct virtio_device *dev = m->dev;
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = v;
		return true;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_device_features_write(dev, m->driver_features_sel, v);
		return true;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = v;
		return true;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		return true;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		mmio_kick(m);
		return true;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		virtio_device_ack(dev, v);
		return true;
	case VIRTIO_MMIO_STATUS: {
		bool was_ok = dev->status & VIRTIO_CONFIG_S_DRIVER_OK;
		/* set_status counts and logs a refused write itself. */
		(void)virtio_device_set_status(dev, v);
		/* Buffers made available before DRIVER_OK get served now. */
		if (!was_ok && (dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
			mmio_kick(m);
		return true;
	}
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = v;
		return true;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_RESET:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return queue_write(m, selected_queue(m), offset, v);
	default:
		return false; /* read-only or unknown */
	}
}

static void config_access(struct virtio_mmio *m, uint64_t offset, uint8_t *data, uint32_t size,
                          bool is_write)
{
	if (size != 1 && size != 2 && size != 4) {
		bad_access(m, offset, size, is_write);
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	uint32_t off = (uint32_t)(offset - VIRTIO_MMIO_CONFIG);
	pthread_mutex_lock(&m->dev->lock);
	if (is_write)
		virtio_device_config_write(m->dev, off, data, size);
	else
		virtio_device_config_read(m->dev, off, data, size);
	pthread_mutex_unlock(&m->dev->lock);
}

void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct virtio_mmio *m = opaque;
	if (offset >= VIRTIO_MMIO_WINDOW)
		return; /* the bus only sends accesses inside the window */
	if (offset >= VIRTIO_MMIO_CONFIG) {
		config_access(m, offset, data, size, is_write);
		return;
	}
	if (size != 4 || offset % 4) {
		bad_access(m, offset, size, is_write);
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	uint32_t v = 0;
	bool ok;
	if (is_write)
		memcpy(&v, data, sizeof(v));
	pthread_mutex_lock(&m->dev->lock);
	ok = is_write ? mmio_write(m, offset, v) : mmio_read(m, offset, &v);
	pthread_mutex_unlock(&m->dev->lock);
	if (!is_write)
		memcpy(data, &v, sizeof(v));
	if (!ok)
		bad_access(m, offset, size, is_write);
}
