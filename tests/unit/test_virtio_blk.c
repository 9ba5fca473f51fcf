/*
 * Unit tests for virtio-blk (src/devices/virtio/blk/, virtio 1.2 section
 * 5.2): the request parser on hand-built chains (every request type and
 * every bad case), whole requests through the MMIO transport and a real
 * backend on a temporary image (sync engine, and io_uring where it
 * works). The --disk CLI and config loading are in test_block_backend.c.
 */
#define _GNU_SOURCE /* SEEK_HOLE */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "devices/virtio/blk/blk.h"
#include "devices/virtio/blk/blk_req.h"
#include "devices/virtio/mmio.h"

#include "fakes.h"

/* ---- the parser on hand-built chains ---- */

struct chain {
	struct virtq_seg segs[16];
	struct virtq_chain c;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
	struct blk_request req;
};

static void chain_init(struct chain *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->c.segs = ch->segs;
}

static void seg(struct chain *ch, void *p, uint32_t len, bool writable)
{
	ch->segs[ch->c.nr_segs++] = (struct virtq_seg){p, len, writable};
	if (writable) {
		ch->c.writable_len += len;
	} else {
		ch->c.nr_readable++;
		ch->c.readable_len += len;
	}
}

static void hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
	memset(p, 0, 16);
	memcpy(p, &type, 4);
	memcpy(p + 8, &sector, 8);
}

static void dwz(uint8_t *p, uint64_t sector, uint32_t nr, uint32_t flags)
{
	memcpy(p, &sector, 8);
	memcpy(p + 8, &nr, 4);
	memcpy(p + 12, &flags, 4);
}

static const struct blk_limits lim_rw = {
    .capacity = 2048,
    .discard = true,
    .write_zeroes = true,
    .max_discard_sectors = 1024,
    .max_discard_seg = 1,
    .max_write_zeroes_sectors = 1024,
    .max_write_zeroes_seg = 1,
    .seg_max = VIRTIO_BLK_SEG_MAX,
    .max_data_bytes = (uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX,
};

static int parse(struct chain *ch, const struct blk_limits *lim)
{
	return blk_request_parse(&ch->c, lim, ch->iov, VIRTIO_BLK_SEG_MAX, &ch->req);
}

/* header (R), data (R for OUT or W for IN), status (W) */
static uint8_t h[16], data[4096], st;

static void rw_chain(struct chain *ch, uint32_t type, uint64_t sector, uint32_t len)
{
	chain_init(ch);
	hdr(h, type, sector);
	seg(ch, h, 16, false);
	if (len)
		seg(ch, data, len, type == VIRTIO_BLK_T_IN);
	seg(ch, &st, 1, true);
}

static void test_parse_in_out(void **state)
{
	struct chain ch;
	rw_chain(&ch, VIRTIO_BLK_T_IN, 8, 1024);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ch.req.type, VIRTIO_BLK_T_IN);
	assert_int_equal(ch.req.sector, 8);
	assert_int_equal(ch.req.nr_sectors, 2);
	assert_int_equal(ch.req.data_len, 1024);
	assert_int_equal(ch.req.iovcnt, 1);
	assert_ptr_equal(ch.req.iov[0].iov_base, data);
	assert_ptr_equal(ch.req.status_ptr, &st);
	assert_int_equal(ch.req.used_len, 1025);

	rw_chain(&ch, VIRTIO_BLK_T_OUT, 2047, 512); /* the last sector */
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ch.req.used_len, 1);

	/* Any framing (2.6.4): header split in two, header and data in one
	 * buffer, data and status in one buffer. */
	uint8_t buf[16 + 1024 + 1];
	chain_init(&ch);
	hdr(buf, VIRTIO_BLK_T_OUT, 4);
	seg(&ch, buf, 8, false);
	seg(&ch, buf + 8, 8 + 512, false);
	seg(&ch, buf + 16 + 512, 512, false);
	seg(&ch, &st, 1, true);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.sector, 4);
	assert_int_equal(ch.req.iovcnt, 2);
	assert_ptr_equal(ch.req.iov[0].iov_base, buf + 16);
	assert_int_equal(ch.req.iov[0].iov_len, 512);
	chain_init(&ch);
	hdr(buf, VIRTIO_BLK_T_IN, 0);
	seg(&ch, buf, 16, false);
	seg(&ch, buf + 16, 1025, true);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.data_len, 1024);
	assert_ptr_equal(ch.req.status_ptr, buf + 16 + 1024);

	/* Zero-length transfers are legal and do nothing. */
	rw_chain(&ch, VIRTIO_BLK_T_IN, 2048, 0);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ch.req.data_len, 0);
}

static void expect_status(struct chain *ch, const struct blk_limits *lim, uint8_t status)
{
	assert_int_equal(parse(ch, lim), 0);
	assert_int_equal(ch->req.status, status);
	assert_non_null(ch->req.why);
	assert_ptr_equal(ch->req.status_ptr, &st);
}

static void test_parse_bad_rw(void **state)
{
	struct chain ch;
	rw_chain(&ch, VIRTIO_BLK_T_IN, 2048, 512); /* one past the end */
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_IN, 2047, 1024); /* straddles the end */
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 1024); /* sector + len wraps */
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_IN, UINT64_MAX, 0);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_IN, 0, 100); /* not a multiple of 512 */
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_OUT, 0, 513);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);

	/* Data in the wrong direction. */
	chain_init(&ch);
	hdr(h, VIRTIO_BLK_T_IN, 0);
	seg(&ch, h, 16, false);
	seg(&ch, data, 512, false);
	seg(&ch, &st, 1, true);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	chain_init(&ch);
	hdr(h, VIRTIO_BLK_T_OUT, 0);
	seg(&ch, h, 16, false);
	seg(&ch, data, 512, true);
	seg(&ch, &st, 1, true);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);

	/* More data segments than seg_max. */
	struct blk_limits lim = lim_rw;
	lim.seg_max = 2;
	chain_init(&ch);
	hdr(h, VIRTIO_BLK_T_IN, 0);
	seg(&ch, h, 16, false);
	for (int i = 0; i < 3; i++)
		seg(&ch, data + 512 * i, 512, true);
	seg(&ch, &st, 1, true);
	expect_status(&ch, &lim, VIRTIO_BLK_S_IOERR);
	lim.seg_max = 3;
	assert_int_equal(parse(&ch, &lim), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);

	/* A data segment longer than size_max (the header and status are not data). */
	lim.size_max = 256;
	expect_status(&ch, &lim, VIRTIO_BLK_S_IOERR);
	lim.size_max = 512;
	assert_int_equal(parse(&ch, &lim), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);

	/* Read-only: writes fail, reads work (5.2.6.2). */
	lim = lim_rw;
	lim.read_only = true;
	rw_chain(&ch, VIRTIO_BLK_T_OUT, 0, 512);
	expect_status(&ch, &lim, VIRTIO_BLK_S_IOERR);
	rw_chain(&ch, VIRTIO_BLK_T_IN, 0, 512);
	assert_int_equal(parse(&ch, &lim), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
}

static void test_parse_flush_get_id_unknown(void **state)
{
	struct chain ch;
	rw_chain(&ch, VIRTIO_BLK_T_FLUSH, 0, 0);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);

	rw_chain(&ch, VIRTIO_BLK_T_GET_ID, 0, 0);
	ch.c.nr_segs = 1;
	ch.c.writable_len = 0;
	seg(&ch, data, 20, true);
	seg(&ch, &st, 1, true);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ch.req.data_len, 20);
	assert_int_equal(ch.req.iov[0].iov_len, 20);
	assert_int_equal(ch.req.used_len, 21);
	rw_chain(&ch, VIRTIO_BLK_T_GET_ID, 0, 0);
	ch.c.nr_segs = 1;
	ch.c.writable_len = 0;
	seg(&ch, data, 19, true);
	seg(&ch, &st, 1, true);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);

	const uint32_t unsupported[] = {
	    2, 3, 5, VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE, 16, 99, 0x80000000u};
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		rw_chain(&ch, unsupported[i], 0, 0);
		expect_status(&ch, &lim_rw, VIRTIO_BLK_S_UNSUPP);
	}
}

static void dwz_chain(struct chain *ch, uint32_t type, uint64_t sector, uint32_t nr, uint32_t flags,
                      unsigned nsegs)
{
	chain_init(ch);
	hdr(h, type, 0);
	seg(ch, h, 16, false);
	for (unsigned i = 0; i < nsegs; i++)
		dwz(data + 16 * i, sector, nr, flags);
	if (nsegs)
		seg(ch, data, 16 * nsegs, false);
	seg(ch, &st, 1, true);
}

static void test_parse_discard_write_zeroes(void **state)
{
	struct chain ch;
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 100, 50, 0, 1);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ch.req.sector, 100);
	assert_int_equal(ch.req.nr_sectors, 50);
	assert_false(ch.req.unmap);
	dwz_chain(&ch, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1024, VIRTIO_BLK_DWZ_F_UNMAP, 1);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.status, VIRTIO_BLK_S_OK);
	assert_true(ch.req.unmap);
	assert_int_equal(ch.req.nr_sectors, 1024);

	/* 5.2.6.2: unmap on a discard and unknown flags are UNSUPP. */
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_DWZ_F_UNMAP, 1);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_UNSUPP);
	dwz_chain(&ch, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2, 1);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_UNSUPP);
	/* Out of range, overflowing, too long, too many segments, no segment. */
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 2040, 9, 0, 1);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	dwz_chain(&ch, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0, 1);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 1025, 0, 1);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 2);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 0);
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 1);
	ch.segs[1].len = 20; /* not a multiple of 16 */
	ch.c.readable_len = 36;
	expect_status(&ch, &lim_rw, VIRTIO_BLK_S_IOERR);
	/* A segment struct split across buffers is fine. */
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 7, 9, 0, 0);
	dwz(data, 7, 9, 0);
	ch.c.nr_segs = 1;
	ch.c.writable_len = 0;
	seg(&ch, data, 5, false);
	seg(&ch, data + 5, 11, false);
	seg(&ch, &st, 1, true);
	assert_int_equal(parse(&ch, &lim_rw), 0);
	assert_int_equal(ch.req.sector, 7);
	assert_int_equal(ch.req.nr_sectors, 9);

	/* Not negotiated: UNSUPP; read-only: IOERR. */
	struct blk_limits lim = lim_rw;
	lim.discard = lim.write_zeroes = false;
	dwz_chain(&ch, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 1);
	expect_status(&ch, &lim, VIRTIO_BLK_S_UNSUPP);
	lim = lim_rw;
	lim.read_only = true;
	dwz_chain(&ch, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, 1);
	expect_status(&ch, &lim, VIRTIO_BLK_S_IOERR);
}

static void test_parse_protocol_violations(void **state)
{
	struct chain ch;
	/* The header in a device-writable buffer. */
	chain_init(&ch);
	hdr(h, VIRTIO_BLK_T_IN, 0);
	seg(&ch, h, 16, true);
	seg(&ch, &st, 1, true);
	assert_int_equal(parse(&ch, &lim_rw), -EPROTO);
	assert_non_null(ch.req.why);
	/* A header too short. */
	chain_init(&ch);
	seg(&ch, h, 15, false);
	seg(&ch, &st, 1, true);
	assert_int_equal(parse(&ch, &lim_rw), -EPROTO);
	/* No status byte: nothing device-writable. */
	chain_init(&ch);
	hdr(h, VIRTIO_BLK_T_OUT, 0);
	seg(&ch, h, 16, false);
	seg(&ch, data, 512, false);
	assert_int_equal(parse(&ch, &lim_rw), -EPROTO);
	/* Only the header. */
	chain_init(&ch);
	seg(&ch, h, 16, false);
	assert_int_equal(parse(&ch, &lim_rw), -EPROTO);
}

/* ---- whole requests through the MMIO transport ---- */

#define QSIZE     16
#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x20000ULL
#define USED_GPA  0x30000ULL
#define HDR_GPA   0x40000ULL
#define ST_GPA    0x41000ULL
#define BUF_GPA   0x100000ULL
#define IMG_SIZE  (1u << 20)

struct fixture {
	enum block_engine engine;
	bool read_only;
	char path[64];
	int fd;
	struct guest_memory mem;
	struct event_loop *loop;
	struct virtio_mmio *m;
	struct virtio_device *dev;
	struct fake_irq irq;
	uint16_t avail_idx;
	unsigned next_desc;
};

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

static bool make_device(struct fixture *f)
{
	int fd = open(f->path, (f->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	assert_true(fd >= 0);
	struct virtio_blk_params p = {.fd = fd,
	                              .capacity_bytes = IMG_SIZE,
	                              .logical_block = 512,
	                              .read_only = f->read_only,
	                              .id = "ember-test-disk",
	                              .engine = f->engine};
	int r = virtio_blk_create(&p, &f->mem, f->loop, &f->dev);
	if (r && f->engine == BLOCK_ENGINE_URING) {
		printf("io_uring unavailable here (%s): skipping\n", strerror(-r));
		return false;
	}
	assert_int_equal(r, 0);
	struct virtio_mmio_params mp = {
	    .base = 0xd0000000, .irq = fake_irq_line(&f->irq, 5), .loop = f->loop};
	assert_int_equal(virtio_mmio_create(&mp, f->dev, &f->m), 0);
	return true;
}

static int setup(void **state, enum block_engine engine, bool read_only)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	*state = f;
	f->engine = engine;
	f->read_only = read_only;
	strcpy(f->path, "/tmp/ember-vblk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	uint8_t *img = malloc(IMG_SIZE);
	assert_non_null(img);
	for (size_t i = 0; i < IMG_SIZE; i++)
		img[i] = (uint8_t)(i / 512 + 1);
	assert_int_equal(pwrite(f->fd, img, IMG_SIZE, 0), IMG_SIZE);
	free(img);
	assert_int_equal(guest_memory_init(&f->mem, MIB(16)), 0);
	f->loop = event_loop_create();
	assert_non_null(f->loop);
	if (!make_device(f))
		skip();
	return 0;
}

static int setup_sync(void **state)
{
	return setup(state, BLOCK_ENGINE_SYNC, false);
}

static int setup_uring(void **state)
{
	return setup(state, BLOCK_ENGINE_URING, false);
}

static int setup_ro(void **state)
{
	return setup(state, BLOCK_ENGINE_SYNC, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_destroy(f->m);
	event_loop_destroy(f->loop);
	guest_memory_fini(&f->mem);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

#define BLK_DRIVER_FEATURES                                                                        \
	((1u << VIRTIO_BLK_F_SIZE_MAX) | (1u << VIRTIO_BLK_F_SEG_MAX) |                            \
	 (1u << VIRTIO_BLK_F_BLK_SIZE) | (1u << VIRTIO_BLK_F_FLUSH) | (1u << VIRTIO_BLK_F_RO) |    \
	 (1u << VIRTIO_BLK_F_DISCARD) | (1u << VIRTIO_BLK_F_WRITE_ZEROES))

static void driver_init(struct fixture *f)
{
	f->avail_idx = 0;
	f->next_desc = 0;
	memset(guest_memory_ptr(&f->mem, AVAIL_GPA, 4096), 0, 4096);
	memset(guest_memory_ptr(&f->mem, USED_GPA, 4096), 0, 4096);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t offered = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, offered & BLK_DRIVER_FEATURES);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	uint32_t st_ =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, st_);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), st_);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, st_ | VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_mmio_poll(f->m);
}

static uint16_t put_desc(struct fixture *f, uint64_t addr, uint32_t len, uint16_t flags,
                         bool chain_next)
{
	uint16_t i = (uint16_t)(f->next_desc++ % QSIZE);
	struct virtq_desc d = {addr, len, (uint16_t)(flags | (chain_next ? VIRTQ_DESC_F_NEXT : 0)),
	                       (uint16_t)((i + 1) % QSIZE)};
	assert_int_equal(guest_memory_write(&f->mem, DESC_GPA + 16ULL * i, &d, 16), 0);
	return i;
}

static uint16_t used_idx(struct fixture *f)
{
	uint16_t v;
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 2, &v, 2), 0);
	return v;
}

static void offer(struct fixture *f, uint16_t head)
{
	assert_int_equal(
	    guest_memory_write(&f->mem, AVAIL_GPA + 4 + 2ULL * (f->avail_idx % QSIZE), &head, 2),
	    0);
	f->avail_idx++;
	assert_int_equal(guest_memory_write(&f->mem, AVAIL_GPA + 2, &f->avail_idx, 2), 0);
}

/* Runs the VMM thread's loop until the used ring holds want entries. */
static void serve(struct fixture *f, uint16_t want)
{
	for (int i = 0; i < 500 && used_idx(f) != want; i++)
		event_loop_run_once(f->loop, 10);
	assert_int_equal(used_idx(f), want);
}

/* Makes a request of header + data (writable for IN and GET_ID) + status
 * available (slot k of the header/status areas) without kicking. */
static void queue_req(struct fixture *f, unsigned k, uint32_t type, uint64_t sector,
                      uint64_t data_gpa, uint32_t data_len, bool data_writable)
{
	uint8_t hb[16];
	hdr(hb, type, sector);
	assert_int_equal(guest_memory_write(&f->mem, HDR_GPA + 16 * k, hb, 16), 0);
	uint8_t poison = 0xee;
	assert_int_equal(guest_memory_write(&f->mem, ST_GPA + k, &poison, 1), 0);
	uint16_t head = put_desc(f, HDR_GPA + 16 * k, 16, 0, true);
	if (data_len)
		put_desc(f, data_gpa, data_len, data_writable ? VIRTQ_DESC_F_WRITE : 0, true);
	put_desc(f, ST_GPA + k, 1, VIRTQ_DESC_F_WRITE, false);
	offer(f, head);
}

static uint8_t status_of(struct fixture *f, unsigned k)
{
	uint8_t v;
	assert_int_equal(guest_memory_read(&f->mem, ST_GPA + k, &v, 1), 0);
	return v;
}

/* One request, kicked and served; returns its status byte. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, uint64_t data_gpa,
                       uint32_t data_len, bool data_writable)
{
	uint16_t before = used_idx(f);
	queue_req(f, 0, type, sector, data_gpa, data_len, data_writable);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	serve(f, (uint16_t)(before + 1));
	return status_of(f, 0);
}

static uint8_t *gptr(struct fixture *f, uint64_t gpa, size_t len)
{
	uint8_t *p = guest_memory_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	uint64_t cap = (uint64_t)rd(f, VIRTIO_MMIO_CONFIG) | (uint64_t)rd(f, VIRTIO_MMIO_CONFIG + 4)
	                                                         << 32;
	assert_int_equal(cap, IMG_SIZE / 512);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 8), VIRTIO_BLK_SIZE_MAX);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 12), VIRTIO_BLK_SEG_MAX);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 20), 512);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 36), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 40), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 44), VIRTIO_BLK_DISCARD_ALIGNMENT);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 48), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 52), 1);
	uint8_t unmap;
	virtio_mmio_access(f->m, VIRTIO_MMIO_CONFIG + 56, &unmap, 1, false);
	assert_int_equal(unmap, 1);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t feat = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(feat & (1u << VIRTIO_BLK_F_FLUSH));
	assert_true(feat & (1u << VIRTIO_BLK_F_DISCARD));
	assert_true(feat & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(feat & (1u << VIRTIO_BLK_F_RO));
	/* Past the config space: 0 (and counted). */
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 60), 0);
}

static void test_write_read_flush(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	memset(gptr(f, BUF_GPA, 4096), 0x77, 4096);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 16, BUF_GPA, 4096, false), VIRTIO_BLK_S_OK);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	uint8_t check[4096];
	assert_int_equal(pread(f->fd, check, 4096, 16 * 512), 4096);
	assert_memory_equal(check, gptr(f, BUF_GPA, 4096), 4096);
	/* Read back, and a neighbouring sector that was not written. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 16, BUF_GPA + 8192, 4608, true),
	                 VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, BUF_GPA + 8192, 4096), gptr(f, BUF_GPA, 4096), 4096);
	assert_int_equal(gptr(f, BUF_GPA + 8192 + 4096, 1)[0], 16 + 8 + 1);
	struct virtq_used_elem e;
	assert_int_equal(guest_memory_read(&f->mem, USED_GPA + 4 + 8 * 2, &e, 8), 0);
	assert_int_equal(e.len, 4608 + 1);
	assert_int_equal(atomic_load(&f->dev->metrics.bytes), 4096 + 4608);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_USED);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_many_requests_one_kick(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	/* Five reads of different sectors, one kick: one pass, one batch. */
	for (unsigned k = 0; k < 5; k++)
		queue_req(f, k, VIRTIO_BLK_T_IN, 100 * k, BUF_GPA + 0x1000 * k, 512, true);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	serve(f, 5);
	for (unsigned k = 0; k < 5; k++) {
		assert_int_equal(status_of(f, k), VIRTIO_BLK_S_OK);
		assert_int_equal(gptr(f, BUF_GPA + 0x1000 * k, 1)[0], (uint8_t)(100 * k + 1));
	}
}

static void test_discard_write_zeroes(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	uint8_t *seg_p = gptr(f, BUF_GPA, 16);
	dwz(seg_p, 512, 256, 0); /* 128 KiB at 256 KiB */
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF_GPA, 16, false), VIRTIO_BLK_S_OK);
	assert_int_equal(lseek(f->fd, 0, SEEK_HOLE), 256 * 1024);
	dwz(seg_p, 8, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF_GPA, 16, false),
	                 VIRTIO_BLK_S_OK);
	dwz(seg_p, 1024, 16, VIRTIO_BLK_DWZ_F_UNMAP);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF_GPA, 16, false),
	                 VIRTIO_BLK_S_OK);
	uint8_t check[8192];
	assert_int_equal(pread(f->fd, check, 4096, 8 * 512), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(check[i], 0);
	assert_int_equal(pread(f->fd, check, 8192, 1024 * 512), 8192);
	for (int i = 0; i < 8192; i++)
		assert_int_equal(check[i], 0);
	assert_int_equal(pread(f->fd, check, 1, 16 * 512), 1);
	assert_int_equal(check[0], 17); /* untouched after the range */
	/* Unmap on a discard: UNSUPP, nothing happens. */
	dwz(seg_p, 0, 8, VIRTIO_BLK_DWZ_F_UNMAP);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF_GPA, 16, false),
	                 VIRTIO_BLK_S_UNSUPP);
}

static void test_get_id_and_bad_requests(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	memset(gptr(f, BUF_GPA, 32), 0xff, 32);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, BUF_GPA, 20), "ember-test-disk\0\0\0\0\0", 20);
	assert_int_equal(gptr(f, BUF_GPA + 20, 1)[0], 0xff);
	/* Legal but refused: the device stays healthy. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, IMG_SIZE / 512, BUF_GPA, 512, true),
	                 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, BUF_GPA, 100, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, 42, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* A host I/O error: the image shrank under the device. */
	assert_int_equal(ftruncate(f->fd, 4096), 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 100, BUF_GPA, 512, true), VIRTIO_BLK_S_IOERR);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_violation_needs_reset(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	/* The header in a device-writable buffer: no request at all. */
	uint16_t head = put_desc(f, HDR_GPA, 16, VIRTQ_DESC_F_WRITE, true);
	put_desc(f, ST_GPA, 1, VIRTQ_DESC_F_WRITE, false);
	offer(f, head);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 5; i++)
		event_loop_run_once(f->loop, 10);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(atomic_load(&f->dev->metrics.errors), 1);
	/* After a reset it works again. */
	driver_init(f);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true), VIRTIO_BLK_S_OK);
}

static void test_reset_drops_inflight(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	queue_req(f, 0, VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true);
	virtio_mmio_poll(f->m); /* popped and submitted; not completed yet */
	assert_int_equal(used_idx(f), 0);
	driver_init(f); /* reset and a fresh ring before the I/O finishes */
	for (int i = 0; i < 20; i++)
		event_loop_run_once(f->loop, 10);
	/* The old chain does not show up in the new ring... */
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(status_of(f, 0), 0xee);
	/* ...and its slot came back. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 1, BUF_GPA, 512, true), VIRTIO_BLK_S_OK);
}

struct resetter {
	struct fixture *f;
	_Atomic bool done;
};

static void *reset_from_vcpu(void *opaque)
{
	struct resetter *r = opaque;
	wr(r->f, VIRTIO_MMIO_STATUS, 0);
	atomic_store(&r->done, true);
	return NULL;
}

static void test_reset_waits_for_inflight(void **state)
{
	struct fixture *f = *state;
	driver_init(f);
	queue_req(f, 0, VIRTIO_BLK_T_IN, 3, BUF_GPA, 4096, true);
	virtio_mmio_poll(f->m); /* this thread serves the queue: the VMM thread */
	/* A vCPU resets the device while the read is in flight: the status
	 * write returns only once the read finished (2.4.1). */
	struct resetter r = {.f = f};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, reset_from_vcpu, &r), 0);
	usleep(50 * 1000);
	assert_false(atomic_load(&r.done));
	assert_int_not_equal(rd(f, VIRTIO_MMIO_STATUS), 0); /* not reset yet */
	for (int i = 0; i < 500 && !atomic_load(&r.done); i++)
		event_loop_run_once(f->loop, 10);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&r.done));
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	/* The read completed before the reset did, nothing after. */
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(status_of(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(gptr(f, BUF_GPA, 1)[0], 4);
	driver_init(f);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 1, BUF_GPA, 512, true), VIRTIO_BLK_S_OK);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t feat = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(feat & (1u << VIRTIO_BLK_F_RO));
	assert_false(feat & (1u << VIRTIO_BLK_F_DISCARD));
	assert_false(feat & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	driver_init(f);
	memset(gptr(f, BUF_GPA, 512), 0x99, 512);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, BUF_GPA, 512, false), VIRTIO_BLK_S_IOERR);
	uint8_t b;
	assert_int_equal(pread(f->fd, &b, 1, 0), 1);
	assert_int_equal(b, 1); /* not written */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(gptr(f, BUF_GPA, 1)[0], 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	dwz(gptr(f, BUF_GPA, 16), 0, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF_GPA, 16, false),
	                 VIRTIO_BLK_S_UNSUPP);
}

#define BOTH(fn)                                                                                   \
	{#fn "/sync", fn, setup_sync, teardown, NULL},                                             \
	{                                                                                          \
#fn "/io_uring", fn, setup_uring, teardown, NULL                                   \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_in_out),
	    cmocka_unit_test(test_parse_bad_rw),
	    cmocka_unit_test(test_parse_flush_get_id_unknown),
	    cmocka_unit_test(test_parse_discard_write_zeroes),
	    cmocka_unit_test(test_parse_protocol_violations),
	    cmocka_unit_test_setup_teardown(test_config_space, setup_sync, teardown),
	    BOTH(test_write_read_flush),
	    BOTH(test_many_requests_one_kick),
	    BOTH(test_discard_write_zeroes),
	    BOTH(test_get_id_and_bad_requests),
	    cmocka_unit_test_setup_teardown(test_violation_needs_reset, setup_sync, teardown),
	    BOTH(test_reset_drops_inflight),
	    BOTH(test_reset_waits_for_inflight),
	    cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
