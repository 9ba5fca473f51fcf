/*
 * libFuzzer target for the split virtqueue walker (src/devices/virtio/
 * queue.c, virtio 1.2 section 2.7): the input builds a descriptor table,
 * an available ring and the memory behind them (indirect tables,
 * buffers) in a small guest, then the device side pops, checks and
 * pushes until the ring is empty or the queue is broken.
 *
 * Guest memory here is two malloc'd regions with a hole between them
 * (0x0-0x8000 and 0x10000-0x18000), so AddressSanitizer catches any host
 * pointer the walker hands out past the end of RAM, and a buffer that
 * straddles the hole must be refused.
 *
 * Input layout (little-endian, short inputs are zero-padded):
 *   [0]    flags: bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 ring
 *          addresses from the input, bit 3 NO_INTERRUPT in avail flags
 *   [1]    queue size = 1 << (byte % 9)   (1..256)
 *   [2..]  with bit 2: desc, avail, used GPAs (3 x u64)
 *   then   the descriptor table (size x 16 bytes) at DESC_GPA
 *   then   the available ring (4 + 2 x size + 2 bytes) at AVAIL_GPA
 *   then   everything else, from DATA_GPA on (and on into region 1)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"

#define R0_SIZE   0x8000u
#define R1_GPA    0x10000u
#define R1_SIZE   0x8000u
#define DESC_GPA  0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA  0x3000u
#define DATA_GPA  0x4000u

static struct guest_memory mem;
static uint8_t *r0, *r1;

static const struct virtio_device_ops fuzz_ops = {
    .name = "fuzz",
    .device_id = 0xff,
    .nr_queues = 1,
    .queue_max_size = 256,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR); /* violations are the normal case here */
	r0 = malloc(R0_SIZE);
	r1 = malloc(R1_SIZE);
	if (!r0 || !r1)
		abort();
	mem.regions[0] = (struct guest_region){.gpa = 0, .size = R0_SIZE, .hva = r0};
	mem.regions[1] = (struct guest_region){.gpa = R1_GPA, .size = R1_SIZE, .hva = r1};
	mem.nr_regions = 2;
	mem.ram_size = R0_SIZE + R1_SIZE;
	return 0;
}

/* Copies the next n input bytes (zero-padded) to dst. */
static void take(const uint8_t **p, size_t *left, void *dst, size_t n)
{
	size_t k = n < *left ? n : *left;
	memcpy(dst, *p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	*p += k;
	*left -= k;
}

static bool in_one_region(const uint8_t *ptr, uint32_t len)
{
	uintptr_t a = (uintptr_t)ptr;
	return (a >= (uintptr_t)r0 && a + len <= (uintptr_t)r0 + R0_SIZE) ||
	       (a >= (uintptr_t)r1 && a + len <= (uintptr_t)r1 + R1_SIZE);
}

/* The walker's promises: every segment in RAM, readable first, sums right. */
static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	uint64_t rd = 0, wr = 0;
	if (c->head >= q->size || c->nr_segs > q->seg_cap || c->nr_readable > c->nr_segs)
		abort();
	for (unsigned i = 0; i < c->nr_segs; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (!in_one_region(s->ptr, s->len) || s->len == 0)
			abort();
		if (s->writable != (i >= c->nr_readable))
			abort();
		if (s->writable) {
			memset(s->ptr, 0xa5, s->len); /* ASan checks the whole range */
			wr += s->len;
		} else {
			volatile uint8_t x = s->ptr[0] ^ s->ptr[s->len - 1];
			(void)x;
			rd += s->len;
		}
	}
	if (rd != c->readable_len || wr != c->writable_len || rd + wr == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	uint8_t hdr[2];
	take(&p, &left, hdr, sizeof(hdr));
	uint16_t qsize = (uint16_t)(1u << (hdr[1] % 9));
	uint64_t gpas[3] = {DESC_GPA, AVAIL_GPA, USED_GPA};
	if (hdr[0] & 4)
		take(&p, &left, gpas, sizeof(gpas));

	memset(r0, 0, R0_SIZE);
	memset(r1, 0, R1_SIZE);
	take(&p, &left, r0 + DESC_GPA, (size_t)qsize * 16);
	take(&p, &left, r0 + AVAIL_GPA, virtq_avail_bytes(qsize));
	if (hdr[0] & 8)
		r0[AVAIL_GPA] |= VIRTQ_AVAIL_F_NO_INTERRUPT;
	take(&p, &left, r0 + DATA_GPA, R0_SIZE - DATA_GPA);
	take(&p, &left, r1, R1_SIZE);

	struct virtio_device dev;
	if (virtio_device_init(&dev, &fuzz_ops, &mem))
		abort();
	dev.features = 1ULL << VIRTIO_F_VERSION_1;
	if (hdr[0] & 1)
		dev.features |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (hdr[0] & 2)
		dev.features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	dev.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	             VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	struct virtq *q = &dev.queues[0];
	q->size = qsize;
	q->desc_gpa = gpas[0];
	q->avail_gpa = gpas[1];
	q->used_gpa = gpas[2];
	q->ready = true;

	/* The avail index may move by at most size: a few more pops than
	 * that must find the ring empty or the queue broken. */
	for (unsigned i = 0; i < 2u * qsize + 2; i++) {
		struct virtq_chain c;
		int r = virtq_pop(q, dev.features, &c);
		if (r < 0) {
			if (!(dev.status & VIRTIO_CONFIG_S_NEEDS_RESET) || !dev.broken)
				abort();
			break;
		}
		if (r == 0)
			break;
		check_chain(q, &c);
		if (virtq_push(q, c.head, (uint32_t)c.writable_len))
			abort();
		(void)virtq_should_notify(q);
		if (i >= qsize)
			abort(); /* more chains than the ring can hold */
	}
	virtio_device_fini(&dev);
	return 0;
}
