/*
 * Unit tests for the split virtqueue (src/devices/virtio/queue.c): chain
 * walks against hand-built rings in guest memory, the hostile cases that
 * must end in NEEDS_RESET (never a crash), the used ring, and the
 * EVENT_IDX arithmetic (virtio 1.2 sections 2.7.5-2.7.10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"

#define QSIZE     16
#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x20000ULL
#define USED_GPA  0x30000ULL
#define TABLE_GPA 0x40000ULL
#define BUF_GPA   0x100000ULL

#define ALL_FEATURES                                                                               \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |                         \
	 (1ULL << VIRTIO_F_EVENT_IDX))

static const struct virtio_device_ops test_ops = {
    .name = "test",
    .device_id = 99,
    .nr_queues = 1,
    .queue_max_size = 256,
};

struct fixture {
	struct guest_memory mem;
	struct virtio_device dev;
	struct virtq *q;
	uint16_t avail_idx;
	int raised;
};

static void count_raise(void *ctx)
{
	((struct fixture *)ctx)->raised++;
}

static int setup_with(void **state, uint64_t ram)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_memory_init(&f->mem, ram), 0);
	assert_int_equal(virtio_device_init(&f->dev, &test_ops, &f->mem), 0);
	f->dev.raise = count_raise;
	f->dev.raise_ctx = f;
	f->dev.features = ALL_FEATURES;
	f->dev.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	                VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	f->q = &f->dev.queues[0];
	f->q->size = QSIZE;
	f->q->desc_gpa = DESC_GPA;
	f->q->avail_gpa = AVAIL_GPA;
	f->q->used_gpa = USED_GPA;
	f->q->ready = true;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, MIB(16));
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_device_fini(&f->dev);
	guest_memory_fini(&f->mem);
	free(f);
	return 0;
}

static void *gptr(struct fixture *f, uint64_t gpa, uint64_t len)
{
	void *p = guest_memory_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

static void put_desc(struct fixture *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {addr, len, flags, next};
	memcpy(gptr(f, table + 16ULL * i, 16), &d, 16);
}

static void desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	put_desc(f, DESC_GPA, i, addr, len, flags, next);
}

static uint16_t *avail16(struct fixture *f, unsigned field)
{
	return gptr(f, AVAIL_GPA + 2ULL * field, 2);
}

/* Makes head available: ring[idx % size] = head, then idx++. */
static void offer(struct fixture *f, uint16_t head)
{
	*avail16(f, 2 + (f->avail_idx % QSIZE)) = head;
	*avail16(f, 1) = ++f->avail_idx;
}

static uint16_t used_idx(struct fixture *f)
{
	return *(uint16_t *)gptr(f, USED_GPA + 2, 2);
}

static struct virtq_used_elem used_elem(struct fixture *f, unsigned slot)
{
	struct virtq_used_elem e;
	memcpy(&e, gptr(f, USED_GPA + 4 + 8ULL * slot, 8), 8);
	return e;
}

static int pop(struct fixture *f, struct virtq_chain *c)
{
	return virtq_pop(f->q, f->dev.features, c);
}

static void assert_violation(struct fixture *f)
{
	struct virtq_chain c;
	assert_int_equal(pop(f, &c), -EIO);
	assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(f->dev.broken);
	assert_int_equal(atomic_load(&f->dev.metrics.errors), 1);
	/* The driver learns of it through a config change interrupt. */
	assert_true(f->dev.isr & VIRTIO_ISR_CONFIG);
	assert_int_equal(f->raised, 1);
	/* The queue stays stopped and nothing was consumed. */
	assert_int_equal(pop(f, &c), -EIO);
	assert_int_equal(virtq_push(f->q, 0, 0), -EIO);
	assert_int_equal(used_idx(f), 0);
}

static void test_normal_chain(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	desc(f, 3, BUF_GPA, 100, VIRTQ_DESC_F_NEXT, 7);
	desc(f, 7, BUF_GPA + 0x1000, 20, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA + 0x2000, 512, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(pop(f, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nr_segs, 3);
	assert_int_equal(c.nr_readable, 2);
	assert_int_equal(c.readable_len, 120);
	assert_int_equal(c.writable_len, 512);
	assert_ptr_equal(c.segs[0].ptr, gptr(f, BUF_GPA, 100));
	assert_ptr_equal(c.segs[2].ptr, gptr(f, BUF_GPA + 0x2000, 512));
	assert_false(c.segs[1].writable);
	assert_true(c.segs[2].writable);
	assert_int_equal(pop(f, &c), 0);

	assert_int_equal(virtq_push(f->q, 3, 512), 0);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(used_elem(f, 0).id, 3);
	assert_int_equal(used_elem(f, 0).len, 512);
	assert_false(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

struct dma_record {
	unsigned calls;
	uint64_t gpa[4], len[4];
};

static void record_dma(void *ctx, uint64_t gpa, uint64_t len)
{
	struct dma_record *r = ctx;
	if (r->calls < 4) {
		r->gpa[r->calls] = gpa;
		r->len[r->calls] = len;
	}
	r->calls++;
}

/* The accelerator hears of every device-writable buffer (the software CPU
 * drops decoded code there), and of no device-readable one. */
static void test_writable_buffers_are_announced(void **state)
{
	struct fixture *f = *state;
	struct dma_record rec = {0};
	f->mem.dma_written = record_dma;
	f->mem.dma_ctx = &rec;
	struct virtq_chain c;
	desc(f, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA + 0x1000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(f, 2, BUF_GPA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), 1);
	assert_int_equal(rec.calls, 2);
	assert_int_equal(rec.gpa[0], BUF_GPA + 0x1000);
	assert_int_equal(rec.len[0], 4096);
	assert_int_equal(rec.gpa[1], BUF_GPA + 0x3000);
	assert_int_equal(rec.len[1], 1);
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(f, TABLE_GPA, 2, BUF_GPA + 0x100, 64, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc(f, TABLE_GPA, 1, BUF_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 5, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 5);
	assert_int_equal(pop(f, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nr_segs, 3);
	assert_int_equal(c.nr_readable, 1);
	assert_int_equal(c.writable_len, 65);
	assert_ptr_equal(c.segs[1].ptr, gptr(f, BUF_GPA + 0x100, 64));
}

static void test_loop(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_self_loop(void **state)
{
	struct fixture *f = *state;
	desc(f, 4, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	offer(f, 4);
	assert_violation(f);
}

static void test_indirect_loop(void **state)
{
	struct fixture *f = *state;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(f, 0);
	assert_violation(f);
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;
	offer(f, QSIZE);
	assert_violation(f);
}

static void test_length_wraps(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, UINT64_MAX - 10, 100, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, MIB(32), 16, 0, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_buffer_straddles_end_of_ram(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, MIB(16) - 8, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_buffer_at_end_of_ram_is_fine(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	desc(f, 0, MIB(16) - 16, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), 1);
	assert_int_equal(c.writable_len, 16);
}

static int setup_big(void **state)
{
	/* Low RAM up to the hole at 3 GiB, 16 MiB more at 4 GiB (MAP_NORESERVE). */
	return setup_with(state, LAYOUT_MMIO_HOLE_GPA + MIB(16));
}

static void test_buffers_and_the_mmio_hole(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	/* In high RAM: fine. */
	desc(f, 0, LAYOUT_HIGH_RAM_GPA + 0x1000, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), 1);
	/* Straddling the start of the hole. */
	desc(f, 1, LAYOUT_MMIO_HOLE_GPA - 8, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 1);
	assert_violation(f);
}

static void test_buffer_in_mmio_hole(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, LAYOUT_VIRTIO_MMIO_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_in_indirect(void **state)
{
	struct fixture *f = *state;
	put_desc(f, TABLE_GPA, 0, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(f, TABLE_GPA + 0x100, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_bad_length(void **state)
{
	struct fixture *f = *state;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 0, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_empty_table(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_too_big(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, TABLE_GPA, (VIRTQ_INDIRECT_MAX + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_outside_ram(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, MIB(16) - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_with_next(void **state)
{
	struct fixture *f = *state;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;
	f->dev.features = 1ULL << VIRTIO_F_VERSION_1;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_indirect_after_direct(void **state)
{
	struct fixture *f = *state;
	put_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_zero_length_chain(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA + 8, 8, 0, 0);
	offer(f, 0);
	assert_violation(f);
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	*avail16(f, 1) = QSIZE + 1;
	assert_violation(f);
}

static void test_avail_idx_full_ring_is_fine(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	for (unsigned i = 0; i < QSIZE; i++) {
		desc(f, i, BUF_GPA + 64 * i, 64, VIRTQ_DESC_F_WRITE, 0);
		offer(f, (uint16_t)i);
	}
	for (unsigned i = 0; i < QSIZE; i++) {
		assert_int_equal(pop(f, &c), 1);
		assert_int_equal(c.head, i);
	}
	assert_int_equal(pop(f, &c), 0);
}

static void test_bad_ring_config(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	offer(f, 0);

	f->q->size = 3; /* not a power of 2 */
	assert_int_equal(pop(f, &c), -EIO);
	assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);

	virtio_device_reset(&f->dev);
	f->q->size = QSIZE;
	f->q->ready = true;
	f->q->avail_gpa = AVAIL_GPA;
	f->q->used_gpa = USED_GPA;
	f->q->desc_gpa = DESC_GPA + 8; /* misaligned */
	assert_int_equal(pop(f, &c), -EIO);
	assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);

	virtio_device_reset(&f->dev);
	f->q->ready = true;
	f->q->size = QSIZE;
	f->q->desc_gpa = DESC_GPA;
	f->q->avail_gpa = AVAIL_GPA;
	f->q->used_gpa = MIB(16) - 8; /* the used ring runs off the end of RAM */
	assert_int_equal(pop(f, &c), -EIO);
	assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(atomic_load(&f->dev.metrics.errors), 3);
}

static void test_not_ready_is_not_touched(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	f->q->ready = false;
	f->q->used_gpa = UINT64_MAX; /* would be a violation if looked at */
	assert_int_equal(pop(f, &c), 0);
	assert_false(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_need_event(void **state)
{
	/* event_idx in (old, new]: notify. */
	assert_true(virtq_need_event(0, 1, 0));
	assert_false(virtq_need_event(1, 1, 0));
	assert_true(virtq_need_event(1, 5, 0));
	assert_false(virtq_need_event(5, 5, 0));
	assert_false(virtq_need_event(3, 3, 3));
	/* Wrap-around of the 16-bit indices. */
	assert_true(virtq_need_event(0xffff, 0x0001, 0xfffe));
	assert_true(virtq_need_event(0x0000, 0x0001, 0xfffe));
	assert_false(virtq_need_event(0xfffd, 0x0001, 0xfffe));
	assert_false(virtq_need_event(0x0001, 0x0001, 0xfffe));
	assert_true(virtq_need_event(0xfffe, 0xffff, 0xfffe));
}

static void serve_one(struct fixture *f, uint16_t head)
{
	struct virtq_chain c;
	offer(f, head);
	assert_int_equal(pop(f, &c), 1);
	assert_int_equal(virtq_push(f->q, c.head, 4), 0);
}

static void test_event_idx_suppression(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	desc(f, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	*avail16(f, 2 + QSIZE) = 1; /* used_event: interrupt when used idx passes 1 */
	serve_one(f, 0);
	assert_false(virtq_should_notify(f->q)); /* used idx 1 */
	serve_one(f, 0);
	assert_true(virtq_should_notify(f->q)); /* used idx 2 crossed 1 */
	serve_one(f, 0);
	assert_false(virtq_should_notify(f->q));
	/* Nothing new since the last decision: no interrupt. */
	*avail16(f, 2 + QSIZE) = 2;
	assert_false(virtq_should_notify(f->q));

	/* Ring empty: the device asks for a kick at the next buffer. */
	assert_int_equal(pop(f, &c), 0);
	uint16_t avail_event = *(uint16_t *)gptr(f, USED_GPA + 4 + 8 * QSIZE, 2);
	assert_int_equal(avail_event, 3);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	f->dev.features = 1ULL << VIRTIO_F_VERSION_1;
	desc(f, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	serve_one(f, 0);
	assert_true(virtq_should_notify(f->q));
	*avail16(f, 0) = VIRTQ_AVAIL_F_NO_INTERRUPT;
	serve_one(f, 0);
	assert_false(virtq_should_notify(f->q));
	*avail16(f, 0) = 0;
	assert_false(virtq_should_notify(f->q)); /* nothing pushed since */
}

static void test_index_wrap_around(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	desc(f, 2, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < 70000; i++) {
		offer(f, 2);
		assert_int_equal(pop(f, &c), 1);
		assert_int_equal(virtq_push(f->q, 2, 1), 0);
	}
	assert_int_equal(used_idx(f), (uint16_t)70000);
	assert_int_equal(pop(f, &c), 0);
	assert_false(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_normal_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writable_buffers_are_announced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_length_wraps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffer_straddles_end_of_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffer_at_end_of_ram_is_fine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffers_and_the_mmio_hole, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_buffer_in_mmio_hole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_in_indirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_bad_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_empty_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_with_next, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_after_direct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_avail_idx_full_ring_is_fine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_ring_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_ready_is_not_touched, setup, teardown),
	    cmocka_unit_test(test_need_event),
	    cmocka_unit_test_setup_teardown(test_event_idx_suppression, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_wrap_around, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
