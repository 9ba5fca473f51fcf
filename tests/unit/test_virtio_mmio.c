/*
 * Unit tests for the virtio-mmio transport (src/devices/virtio/mmio.c)
 * and the device status machine under it (device.c): identity registers,
 * feature windows, status transitions, queue set-up, interrupts, config
 * space and refused accesses (virtio 1.2 sections 2.1, 2.2, 4.2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"

#include "fakes.h"

#define DESC_GPA         0x10000ULL
#define AVAIL_GPA        0x20000ULL
#define USED_GPA         0x30000ULL
#define BUF_GPA          0x100000ULL
#define TEST_FEATURE_BIT 5

struct test_dev {
	struct virtio_device vdev;
	uint8_t config[8];
	int activated, resets, notified;
};

static void t_config_read(struct virtio_device *dev, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, container_of(dev, struct test_dev, vdev)->config + off, len);
}

static void t_config_write(struct virtio_device *dev, uint32_t off, const void *data, uint32_t len)
{
	memcpy(container_of(dev, struct test_dev, vdev)->config + off, data, len);
}

/* Serves each chain by filling its writable part with 0xab. */
static void t_queue_notify(struct virtio_device *dev, unsigned qi)
{
	struct test_dev *t = container_of(dev, struct test_dev, vdev);
	struct virtq_chain c;
	t->notified++;
	while (virtq_pop(&dev->queues[qi], dev->features, &c) == 1) {
		for (unsigned i = c.nr_readable; i < c.nr_segs; i++)
			memset(c.segs[i].ptr, 0xab, c.segs[i].len);
		if (virtq_push(&dev->queues[qi], c.head, (uint32_t)c.writable_len))
			return;
	}
}

static int t_activate(struct virtio_device *dev)
{
	container_of(dev, struct test_dev, vdev)->activated++;
	return 0;
}

static void t_reset(struct virtio_device *dev)
{
	container_of(dev, struct test_dev, vdev)->resets++;
}

static const struct virtio_device_ops t_ops = {
    .name = "test",
    .device_id = 42,
    .features = 1ULL << TEST_FEATURE_BIT,
    .nr_queues = 2,
    .queue_max_size = 64,
    .config_size = 8,
    .config_read = t_config_read,
    .config_write = t_config_write,
    .queue_notify = t_queue_notify,
    .activate = t_activate,
    .reset = t_reset,
};

struct fixture {
	struct guest_memory mem;
	struct test_dev *t;
	struct virtio_mmio *m;
	struct fake_irq irq;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_memory_init(&f->mem, MIB(16)), 0);
	f->t = calloc(1, sizeof(*f->t));
	assert_non_null(f->t);
	assert_int_equal(virtio_device_init(&f->t->vdev, &t_ops, &f->mem), 0);
	memcpy(f->t->config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	struct virtio_mmio_params p = {.base = 0xd0000000, .irq = fake_irq_line(&f->irq, 5)};
	assert_int_equal(virtio_mmio_create(&p, &f->t->vdev, &f->m), 0);
	*state = f;
	return 0;
}

static void t_free(struct test_dev *t)
{
	virtio_device_fini(&t->vdev);
	free(t);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	/* The test device has no destroy op: the transport leaves it to us. */
	virtio_mmio_destroy(f->m);
	t_free(f->t);
	guest_memory_fini(&f->mem);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	virtio_mmio_access(f->m, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	virtio_mmio_access(f->m, off, (uint8_t *)&v, 4, true);
}

static uint64_t bad(struct fixture *f)
{
	return atomic_load(&f->t->vdev.metrics.bad_accesses);
}

/* ACKNOWLEDGE, DRIVER, features (VERSION_1 + extra_hi/lo), FEATURES_OK. */
static void negotiate(struct fixture *f, uint32_t lo, uint32_t hi)
{
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
}

#define STATUS_UP_TO_FEATURES_OK                                                                   \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK)
#define V1_HI (1u << (VIRTIO_F_VERSION_1 - 32))

static void driver_ok(struct fixture *f)
{
	wr(f, VIRTIO_MMIO_STATUS, STATUS_UP_TO_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void setup_queue0(struct fixture *f, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_EMBER_VENDOR);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(bad(f), 0);
	/* Read-only registers refuse writes. */
	wr(f, VIRTIO_MMIO_MAGIC_VALUE, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(bad(f), 1);
}

static void test_feature_windows(void **state)
{
	struct fixture *f = *state;
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (1u << TEST_FEATURE_BIT) |
	                                                         (1u << VIRTIO_F_INDIRECT_DESC) |
	                                                         (1u << VIRTIO_F_EVENT_IDX));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
	                 V1_HI | (1u << (VIRTIO_F_RING_RESET - 32)));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	negotiate(f, 1u << VIRTIO_F_EVENT_IDX, V1_HI);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), STATUS_UP_TO_FEATURES_OK);
	assert_true(f->t->vdev.features ==
	            ((1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_VERSION_1)));
	/* After FEATURES_OK the accepted set is frozen. */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	uint64_t before = bad(f);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(bad(f), before + 1);
}

static void test_features_ok_needs_version_1(void **state)
{
	struct fixture *f = *state;
	negotiate(f, 1u << VIRTIO_F_EVENT_IDX, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
	                 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	/* DRIVER_OK cannot follow a refused FEATURES_OK. */
	driver_ok(f);
	assert_int_equal(f->t->activated, 0);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
	/* The driver can still fix its set and try again. */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, V1_HI);
	wr(f, VIRTIO_MMIO_STATUS, STATUS_UP_TO_FEATURES_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), STATUS_UP_TO_FEATURES_OK);
}

static void test_features_ok_refuses_unoffered(void **state)
{
	struct fixture *f = *state;
	negotiate(f, 1u << 7, V1_HI);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, V1_HI);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2); /* bits 64..95: never offered */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(f, VIRTIO_MMIO_STATUS, STATUS_UP_TO_FEATURES_OK);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_status_transitions(void **state)
{
	struct fixture *f = *state;
	/* Skipping a step is refused. */
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	negotiate(f, 0, V1_HI);
	/* Clearing a bit without a reset is refused. */
	uint64_t before = bad(f);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), STATUS_UP_TO_FEATURES_OK);
	assert_int_equal(bad(f), before + 1);
	/* The driver cannot set NEEDS_RESET. */
	wr(f, VIRTIO_MMIO_STATUS, STATUS_UP_TO_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), STATUS_UP_TO_FEATURES_OK);

	driver_ok(f);
	assert_int_equal(f->t->activated, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS),
	                 STATUS_UP_TO_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	driver_ok(f); /* the same value again: no second activation */
	assert_int_equal(f->t->activated, 1);

	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->t->resets, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_true(f->t->vdev.features == 0);
}

static void test_queue_setup(void **state)
{
	struct fixture *f = *state;
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	uint64_t before = bad(f);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 128); /* > QueueNumMax */
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 3);   /* not a power of 2 */
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 0);
	assert_int_equal(bad(f), before + 3);
	assert_int_equal(f->t->vdev.queues[0].size, 64);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 32);
	assert_int_equal(f->t->vdev.queues[0].size, 32);

	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x2);
	assert_true(f->t->vdev.queues[0].desc_gpa == 0x200001000ULL);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	/* No set-up while ready. */
	before = bad(f);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	assert_int_equal(bad(f), before + 2);
	assert_int_equal(f->t->vdev.queues[0].size, 32);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);

	/* A queue that does not exist. */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 7);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	before = bad(f);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(bad(f), before + 1);
}

static void put_desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc d = {addr, len, flags, 0};
	assert_int_equal(guest_memory_write(&f->mem, DESC_GPA + 16ULL * i, &d, 16), 0);
}

static void offer(struct fixture *f, uint16_t slot, uint16_t head)
{
	uint16_t idx = slot + 1;
	assert_int_equal(guest_memory_write(&f->mem, AVAIL_GPA + 4 + 2ULL * slot, &head, 2), 0);
	assert_int_equal(guest_memory_write(&f->mem, AVAIL_GPA + 2, &idx, 2), 0);
}

static void test_request_and_interrupt(void **state)
{
	struct fixture *f = *state;
	negotiate(f, 0, V1_HI);
	setup_queue0(f, DESC_GPA, AVAIL_GPA, USED_GPA);
	put_desc(f, 0, BUF_GPA, 32, VIRTQ_DESC_F_WRITE);
	offer(f, 0, 0);
	/* Before DRIVER_OK a kick is not served. */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_poll(f->m);
	assert_int_equal(f->t->notified, 0);

	driver_ok(f);
	virtio_mmio_poll(f->m); /* DRIVER_OK itself kicked */
	assert_int_equal(f->t->notified, 1);
	uint16_t used_idx;
	uint8_t buf[32];
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 2, &used_idx, 2), 0);
	assert_int_equal(used_idx, 1);
	assert_int_equal(guest_memory_read(&f->mem, BUF_GPA, buf, 32), 0);
	assert_int_equal(buf[31], 0xab);
	/* Used-buffer interrupt: status bit 0 and one edge on GSI 5. */
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_USED);
	assert_int_equal(f->irq.calls, 2);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.gsi, 5);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_USED);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_true(atomic_load(&f->t->vdev.metrics.notifications) >= 1);
}

static void test_rings_outside_ram_need_reset(void **state)
{
	struct fixture *f = *state;
	negotiate(f, 0, V1_HI);
	setup_queue0(f, DESC_GPA, AVAIL_GPA, 0xd0000000ULL); /* used ring in the MMIO hole */
	driver_ok(f);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_poll(f->m);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	assert_int_equal(atomic_load(&f->t->vdev.metrics.errors), 1);
	/* Nothing is served until the driver resets the device. */
	int served = f->t->notified;
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_poll(f->m);
	assert_int_equal(f->t->notified, served);
	/* The driver may mark it FAILED, then reset it. */
	wr(f, VIRTIO_MMIO_STATUS, rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FAILED);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FAILED);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_false(f->t->vdev.broken);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void test_wrong_size_accesses(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8];
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(f->m, VIRTIO_MMIO_MAGIC_VALUE, b, 1, false);
	assert_int_equal(b[0], 0);
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(f->m, VIRTIO_MMIO_MAGIC_VALUE, b, 8, false);
	assert_int_equal(b[0] | b[7], 0);
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(f->m, VIRTIO_MMIO_MAGIC_VALUE + 2, b, 4, false); /* unaligned */
	assert_int_equal(b[0] | b[3], 0);
	b[0] = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	b[1] = 0;
	virtio_mmio_access(f->m, VIRTIO_MMIO_STATUS, b, 2, true);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(bad(f), 4);
	/* Reading a write-only register is refused too. */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(bad(f), 5);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8] = {0};
	virtio_mmio_access(f->m, VIRTIO_MMIO_CONFIG + 1, b, 1, false);
	assert_int_equal(b[0], 0x02);
	virtio_mmio_access(f->m, VIRTIO_MMIO_CONFIG + 2, b, 2, false);
	assert_int_equal(b[0] | b[1] << 8, 0x0403);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 4), 0x08070605);
	wr(f, VIRTIO_MMIO_CONFIG, 0xa1b2c3d4);
	assert_int_equal(f->t->config[0], 0xd4);
	/* Past the end of the config space, or 8 bytes wide: refused. */
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 6), 0);
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(f->m, VIRTIO_MMIO_CONFIG, b, 8, false);
	assert_int_equal(b[0], 0);
	wr(f, VIRTIO_MMIO_CONFIG + 0xefc, 1);
	assert_int_equal(bad(f), 3);

	/* A device-side change bumps the generation and, once DRIVER_OK, interrupts. */
	uint32_t gen = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
	negotiate(f, 0, V1_HI);
	driver_ok(f);
	pthread_mutex_lock(&f->t->vdev.lock);
	virtio_device_config_changed(&f->t->vdev);
	pthread_mutex_unlock(&f->t->vdev.lock);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
}

static void test_queue_reset(void **state)
{
	struct fixture *f = *state;
	/* Without VIRTIO_F_RING_RESET, QueueReset is refused. */
	negotiate(f, 0, V1_HI);
	setup_queue0(f, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_RESET, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);

	wr(f, VIRTIO_MMIO_STATUS, 0);
	negotiate(f, 0, V1_HI | (1u << (VIRTIO_F_RING_RESET - 32)));
	setup_queue0(f, DESC_GPA, AVAIL_GPA, USED_GPA);
	driver_ok(f);
	wr(f, VIRTIO_MMIO_QUEUE_RESET, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_RESET), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(f->t->vdev.queues[0].size, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feature_windows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features_ok_needs_version_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features_ok_refuses_unoffered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_transitions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_and_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rings_outside_ram_need_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_size_accesses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_reset, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
