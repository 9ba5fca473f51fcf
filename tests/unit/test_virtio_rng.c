/*
 * Unit tests for virtio-rng (src/devices/virtio/rng/rng.c, virtio 1.2
 * section 5.4) driven through the MMIO transport like a guest driver
 * would, and for the --rng CLI flag that creates it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/cli.h"
#include "core/event_loop.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng/rng.h"

#include "fakes.h"

#define QSIZE     16
#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x20000ULL
#define USED_GPA  0x30000ULL
#define BUF_GPA   0x100000ULL

struct fixture {
	struct guest_memory mem;
	struct event_loop *loop;
	struct virtio_mmio *m;
	struct virtio_device *dev;
	struct fake_irq irq;
	uint16_t avail_idx;
};

static void make(struct fixture *f, uint64_t rate, bool with_loop)
{
	assert_int_equal(guest_memory_init(&f->mem, MIB(16)), 0);
	if (with_loop) {
		f->loop = event_loop_create();
		assert_non_null(f->loop);
	}
	struct virtio_rng_params rp = {.rate_bytes_per_sec = rate};
	assert_int_equal(virtio_rng_create(&rp, &f->mem, f->loop, &f->dev), 0);
	struct virtio_mmio_params mp = {
	    .base = 0xd0000000, .irq = fake_irq_line(&f->irq, 5), .loop = f->loop};
	assert_int_equal(virtio_mmio_create(&mp, f->dev, &f->m), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	make(f, 0, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_destroy(f->m); /* destroys the rng too */
	event_loop_destroy(f->loop);
	guest_memory_fini(&f->mem);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint32_t v;
	virtio_mmio_access(f->m, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	virtio_mmio_access(f->m, off, (uint8_t *)&v, 4, true);
}

/* What Linux's virtio_mmio + virtio-rng probe does, through the registers. */
static void driver_init(struct fixture *f, bool event_idx)
{
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_ENTROPY);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, event_idx ? 1u << VIRTIO_F_EVENT_IDX : 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	uint32_t st =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, st);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), st);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_mmio_poll(f->m); /* DRIVER_OK kicks; the ring is empty */
}

static void put_desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	struct virtq_desc d = {addr, len, flags, next};
	assert_int_equal(guest_memory_write(&f->mem, DESC_GPA + 16ULL * i, &d, 16), 0);
}

static void offer(struct fixture *f, uint16_t head)
{
	assert_int_equal(
	    guest_memory_write(&f->mem, AVAIL_GPA + 4 + 2ULL * (f->avail_idx % QSIZE), &head, 2),
	    0);
	f->avail_idx++;
	assert_int_equal(guest_memory_write(&f->mem, AVAIL_GPA + 2, &f->avail_idx, 2), 0);
}

static uint16_t used_idx(struct fixture *f)
{
	uint16_t v;
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 2, &v, 2), 0);
	return v;
}

static struct virtq_used_elem used_elem(struct fixture *f, unsigned slot)
{
	struct virtq_used_elem e;
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 4 + 8ULL * slot, &e, 8), 0);
	return e;
}

static bool all_zero(struct fixture *f, uint64_t gpa, size_t len)
{
	const uint8_t *p = guest_memory_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_request_fills_buffer(void **state)
{
	struct fixture *f = *state;
	driver_init(f, false);
	/* Two writable buffers in one chain. */
	put_desc(f, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA + 0x1000, 32, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_poll(f->m);

	assert_int_equal(used_idx(f), 1);
	assert_int_equal(used_elem(f, 0).id, 0);
	assert_int_equal(used_elem(f, 0).len, 96);
	/* 2^-512 and 2^-256 chances of a false failure. */
	assert_false(all_zero(f, BUF_GPA, 64));
	assert_false(all_zero(f, BUF_GPA + 0x1000, 32));
	assert_true(all_zero(f, BUF_GPA + 64, 64)); /* nothing past the buffer */
	assert_int_equal(atomic_load(&f->dev->metrics.bytes), 96);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_USED);
	assert_int_equal(f->irq.calls, 2); /* one edge */
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_polling_driver_with_event_idx(void **state)
{
	struct fixture *f = *state;
	driver_init(f, true);
	/* used_event far away: the driver polls and wants no interrupt. */
	uint16_t used_event = 0x8000;
	assert_int_equal(guest_memory_write(&f->mem, AVAIL_GPA + 4 + 2 * QSIZE, &used_event, 2), 0);
	for (unsigned i = 0; i < 40; i++) {
		put_desc(f, i % QSIZE, BUF_GPA + 16ULL * i, 16, VIRTQ_DESC_F_WRITE, 0);
		offer(f, i % QSIZE);
		wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		virtio_mmio_poll(f->m);
		assert_int_equal(used_idx(f), i + 1);
	}
	assert_int_equal(f->irq.calls, 0);
	/* The device asked to be kicked for the next buffer. */
	uint16_t avail_event;
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 4 + 8 * QSIZE, &avail_event, 2), 0);
	assert_int_equal(avail_event, 40);
}

static void test_huge_buffer_is_capped(void **state)
{
	struct fixture *f = *state;
	driver_init(f, false);
	put_desc(f, 0, BUF_GPA, MIB(1), VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	virtio_mmio_poll(f->m);
	assert_int_equal(used_elem(f, 0).len, VIRTIO_RNG_MAX_PER_REQUEST);
	assert_true(all_zero(f, BUF_GPA + VIRTIO_RNG_MAX_PER_REQUEST, 4096));
}

static void test_readable_buffer_needs_reset(void **state)
{
	struct fixture *f = *state;
	driver_init(f, false);
	put_desc(f, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA + 16, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	virtio_mmio_poll(f->m);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	assert_int_equal(used_idx(f), 0);
	/* A reset and a fresh start work again. */
	f->avail_idx = 0;
	memset(guest_memory_ptr(&f->mem, USED_GPA, 4096), 0, 4096);
	memset(guest_memory_ptr(&f->mem, AVAIL_GPA, 4096), 0, 4096);
	driver_init(f, false);
	put_desc(f, 0, BUF_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	virtio_mmio_poll(f->m);
	assert_int_equal(used_idx(f), 1);
}

static void test_rate_limit(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	make(f, 1000, true); /* 1000 bytes/s: a 1000-byte bucket */
	driver_init(f, false);
	for (unsigned i = 0; i < 3; i++) {
		put_desc(f, i, BUF_GPA + 0x1000ULL * i, 600, VIRTQ_DESC_F_WRITE, 0);
		offer(f, (uint16_t)i);
	}
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(event_loop_run_once(f->loop, 0) >= 1); /* the kick */
	assert_int_equal(used_idx(f), 2);
	assert_int_equal(used_elem(f, 0).len, 600);
	assert_true(used_elem(f, 1).len >= 400 && used_elem(f, 1).len < 420);
	/* The third waits for the timer (~64 ms for 64 bytes). */
	for (int i = 0; i < 50 && used_idx(f) < 3; i++)
		event_loop_run_once(f->loop, 100);
	assert_int_equal(used_idx(f), 3);
	assert_true(used_elem(f, 2).len >= 1 && used_elem(f, 2).len <= 600);
}

static int parse(struct cli *cli, char *err, const char *a, const char *b)
{
	char *argv[] = {"ember", "run", "--kernel", "k", (char *)a, (char *)b, NULL};
	int argc = b ? 6 : 5;
	return cli_parse(argc, argv, cli, err, 256);
}

static void test_cli_rng(void **state)
{
	struct cli cli;
	char err[256];
	assert_int_equal(parse(&cli, err, "--rng", NULL), 0);
	assert_int_equal(cli.config.nr_devices, 1);
	assert_int_equal(cli.config.devices[0].kind, VM_DEVICE_RNG);
	assert_int_equal(cli.config.devices[0].rng.rate_bytes_per_sec, 0);
	vm_config_fini(&cli.config);

	assert_int_equal(parse(&cli, err, "--rng=4096", NULL), 0);
	assert_int_equal(cli.config.nr_devices, 1);
	assert_int_equal(cli.config.devices[0].rng.rate_bytes_per_sec, 4096);
	vm_config_fini(&cli.config);

	/* Given twice: still one device, the last rate wins. */
	assert_int_equal(parse(&cli, err, "--rng=10", "--rng"), 0);
	assert_int_equal(cli.config.nr_devices, 1);
	assert_int_equal(cli.config.devices[0].rng.rate_bytes_per_sec, 0);
	vm_config_fini(&cli.config);

	const char *bad[] = {"--rng=", "--rng=0", "--rng=abc", "--rng=-5", "--rng=1073741825"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&cli, err, bad[i], NULL), -EINVAL);
		assert_non_null(strstr(err, "--rng"));
		vm_config_fini(&cli.config);
	}
	/* The flag takes no value: a following word is not its rate. */
	assert_int_equal(parse(&cli, err, "--rng", "100"), -EINVAL);
	vm_config_fini(&cli.config);
	assert_non_null(strstr(cli_usage(), "--rng"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_request_fills_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_polling_driver_with_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_huge_buffer_is_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_buffer_needs_reset, setup, teardown),
	    cmocka_unit_test_teardown(test_rate_limit, teardown),
	    cmocka_unit_test(test_cli_rng),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
