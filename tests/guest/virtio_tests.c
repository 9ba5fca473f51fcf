/*
 * virtio-rng (virtio 1.2 section 5.4) and virtio-blk (5.2) from the
 * driver's side: `virtio-rng`, `virtio-blk` (one line per check, then a
 * summary line), `virtio-blk-read` (hash of the first sectors) and
 * `virtio-blk-bench` (bulk transfer for the host to time).
 *
 * virtio-blk request (5.2.6): a device-readable header {le32 type,
 * le32 reserved, le64 sector}, the data (readable for OUT, writable for
 * IN and GET_ID), and one device-writable status byte at the very end.
 * The device must not depend on how that is split into descriptors
 * (2.6.4), so the checks use several framings.
 */
#include "virtio.h"

/* ---- virtio-rng ---------------------------------------------------------------------- */

bool virtio_rng_request(struct vdev *d, uint32_t len, uint32_t *got, const char **err)
{
	struct vbuf b = {vdma_gpa(d, VIRTIO_SLOT_DATA), len, VRING_DESC_F_WRITE};

	if (!vq_run(d, &b, 1, got, err))
		return false;
	if (*got == 0 || *got > len) {
		*err = "used length is 0 or larger than the buffer";
		return false;
	}
	return true;
}

#define RNG_REQ   64
#define RNG_COUNT 3
#define RNG_FILL  0xa5

void test_virtio_rng(const struct boot_info *bi)
{
	const struct virtio_bus *b = virtio_setup(bi);
	const char *why = b->error;
	struct vdev *d = why ? NULL : virtio_find(bi, VIRTIO_ID_ENTROPY);
	uint32_t lens[RNG_COUNT] = {0}, total = 0;

	if (!why && !d)
		why = "no virtio-rng (device id 4) among the LNRO0005 devices";
	if (!why)
		virtio_init(d, 0, &why);
	uint8_t *buf = why ? NULL : vdma(d, VIRTIO_SLOT_DATA);
	if (buf)
		memset(buf, RNG_FILL, RNG_REQ * RNG_COUNT);
	for (unsigned k = 0; !why && k < RNG_COUNT; k++) {
		struct vbuf vb = {vdma_gpa(d, VIRTIO_SLOT_DATA + k * RNG_REQ), RNG_REQ,
		                  VRING_DESC_F_WRITE};
		if (!vq_run(d, &vb, 1, &lens[k], &why))
			break;
		if (lens[k] == 0 || lens[k] > RNG_REQ) {
			why = "used length is 0 or larger than the buffer";
			break;
		}
		total += lens[k];
		const uint8_t *p = buf + k * RNG_REQ;
		bool changed = false;
		for (uint32_t i = 0; i < lens[k]; i++)
			changed |= p[i] != RNG_FILL;
		if (lens[k] >= 8 && !changed)
			why = "the device returned the buffer unchanged";
	}
	for (unsigned i = 0; !why && i < RNG_COUNT; i++)
		for (unsigned j = i + 1; !why && j < RNG_COUNT; j++) {
			uint32_t n = lens[i] < lens[j] ? lens[i] : lens[j];
			if (n >= 8 && memcmp(buf + i * RNG_REQ, buf + j * RNG_REQ, n) == 0)
				why = "two requests returned the same bytes";
		}
	if (d && !why && !virtio_reset(d))
		why = "Status does not read 0 after the final reset";
	report("virtio-rng", why == NULL,
	       "bytes=%u lens=%u,%u,%u dev=%s base=0x%lx gsi=%u qsize=%u features=0x%lx%s%s",
	       total, lens[0], lens[1], lens[2], d ? d->name : "-", d ? d->base : 0,
	       d ? d->gsi : 0, d ? d->qsize : 0, d ? d->features : 0, why ? " error=" : "",
	       why ? why : "");
}

/* ---- virtio-blk ---------------------------------------------------------------------- */

#define BLK_F_SIZE_MAX     (1ULL << 1)
#define BLK_F_SEG_MAX      (1ULL << 2)
#define BLK_F_RO           (1ULL << 5)
#define BLK_F_BLK_SIZE     (1ULL << 6)
#define BLK_F_FLUSH        (1ULL << 9)
#define BLK_F_DISCARD      (1ULL << 13)
#define BLK_F_WRITE_ZEROES (1ULL << 14)

#define BLK_T_IN           0
#define BLK_T_OUT          1
#define BLK_T_FLUSH        4
#define BLK_T_GET_ID       8
#define BLK_T_DISCARD      11
#define BLK_T_WRITE_ZEROES 13
#define BLK_T_BOGUS        0x7e

#define BLK_S_OK     0
#define BLK_S_IOERR  1
#define BLK_S_UNSUPP 2

#define BLK_ID_BYTES 20
#define SECTOR       512u

/* Config space offsets (5.2.4). */
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX  12
#define BLK_CFG_BLK_SIZE 20

/* Scratch layout inside the device's DMA slot. */
#define BLK_HDR      (VIRTIO_SLOT_SCRATCH + 0x000) /* 16 bytes */
#define BLK_STATUS   (VIRTIO_SLOT_SCRATCH + 0x040) /* 1 byte */
#define BLK_ID       (VIRTIO_SLOT_SCRATCH + 0x080) /* 20 bytes (+ status when merged) */
#define BLK_DWZ      (VIRTIO_SLOT_SCRATCH + 0x0c0) /* discard / write zeroes segment */
#define BLK_INDIRECT (VIRTIO_SLOT_SCRATCH + 0x100) /* an indirect table, 16-aligned */
#define BLK_MERGED   (VIRTIO_SLOT_SCRATCH + 0x800) /* header + one sector, or sector + status */
/* Data: two 16 KiB halves (write, read back), the last 16 KiB free. */
#define BLK_DATA_A (VIRTIO_SLOT_DATA)
#define BLK_DATA_B (VIRTIO_SLOT_DATA + 0x4000)
#define BLK_HALF   0x4000u

uint64_t virtio_blk_features(void)
{
	return BLK_F_SIZE_MAX | BLK_F_SEG_MAX | BLK_F_RO | BLK_F_BLK_SIZE | BLK_F_FLUSH |
	       BLK_F_DISCARD | BLK_F_WRITE_ZEROES | VF_INDIRECT_DESC;
}

struct blk {
	struct vdev *d;
	uint64_t capacity;
	uint32_t size_max, seg_max, blk_size;
	unsigned max_segs;  /* data segments per request */
	uint32_t seg_bytes; /* bytes per data segment (multiple of 512) */
	bool ro;
};

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static void put_hdr(const struct blk *b, uint32_t off, uint32_t type, uint64_t sector)
{
	struct blk_hdr h = {type, 0, sector};
	memcpy(vdma(b->d, off), &h, sizeof(h));
}

/*
 * One request: header, data split into segments of at most seg bytes
 * (0: b->seg_bytes), status. Returns the status byte, or -1 with *err set.
 */
static int blk_req(struct blk *b, uint32_t type, uint64_t sector, uint32_t data_off,
                   uint32_t len, uint32_t seg, uint32_t *used_len, const char **err)
{
	struct vbuf v[VQ_SIZE_MAX];
	unsigned n = 0;
	bool dev_writes = type == BLK_T_IN || type == BLK_T_GET_ID;
	volatile uint8_t *status = vdma(b->d, BLK_STATUS);
	uint32_t ulen;

	if (!seg)
		seg = b->seg_bytes;
	put_hdr(b, BLK_HDR, type, sector);
	v[n++] = (struct vbuf){vdma_gpa(b->d, BLK_HDR), sizeof(struct blk_hdr), 0};
	for (uint32_t done = 0; done < len; done += seg) {
		if (n - 1 >= b->max_segs || n + 2 > b->d->qsize) {
			*err = "request needs more segments than allowed";
			return -1;
		}
		uint32_t l = len - done < seg ? len - done : seg;
		v[n++] = (struct vbuf){vdma_gpa(b->d, data_off + done), l,
		                       dev_writes ? VRING_DESC_F_WRITE : 0};
	}
	*status = 0xee;
	v[n++] = (struct vbuf){vdma_gpa(b->d, BLK_STATUS), 1, VRING_DESC_F_WRITE};
	if (!vq_run(b->d, v, n, used_len ? used_len : &ulen, err))
		return -1;
	return *status;
}

/* The pattern the host test checks: byte i of sector s. */
static uint8_t pattern(uint64_t s, uint32_t i)
{
	return (uint8_t)(s * 131 + i * 7 + 0x5a);
}

static void fill_pattern(uint8_t *p, uint64_t sector, uint32_t nsectors)
{
	for (uint32_t k = 0; k < nsectors; k++)
		for (uint32_t i = 0; i < SECTOR; i++)
			p[k * SECTOR + i] = pattern(sector + k, i);
}

struct blk_run {
	unsigned checks, failed;
	char failed_names[160];
	size_t fn_len;
};

static void check(struct blk_run *r, const char *name, const char *why, const char *fmt, ...)
    PRINTF(4, 5);

static void check(struct blk_run *r, const char *name, const char *why, const char *fmt, ...)
{
	char detail[320];
	va_list ap;

	va_start(ap, fmt);
	vformat(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r->checks++;
	if (why) {
		r->failed++;
		size_t n = strlen(name);
		if (r->fn_len + n + 2 < sizeof(r->failed_names)) {
			if (r->fn_len)
				r->failed_names[r->fn_len++] = ',';
			memcpy(r->failed_names + r->fn_len, name, n);
			r->fn_len += n;
			r->failed_names[r->fn_len] = '\0';
		}
	}
	report(name, why == NULL, "%s%s%s", detail, why ? " error=" : "", why ? why : "");
}

static const char *status_name(int s)
{
	switch (s) {
	case BLK_S_OK:
		return "ok";
	case BLK_S_IOERR:
		return "ioerr";
	case BLK_S_UNSUPP:
		return "unsupp";
	case -1:
		return "none";
	}
	return "bad";
}

/* Finds and initialises the blk device and reads its config. */
static const char *blk_open(const struct boot_info *bi, struct blk *b)
{
	const struct virtio_bus *bus = virtio_setup(bi);
	const char *why = NULL;

	memset(b, 0, sizeof(*b));
	if (bus->error)
		return bus->error;
	b->d = virtio_find(bi, VIRTIO_ID_BLOCK);
	if (!b->d)
		return "no virtio-blk (device id 2) among the LNRO0005 devices";
	if (!virtio_init(b->d, virtio_blk_features(), &why))
		return why;
	uint64_t f = b->d->features;
	b->capacity = vcfg_read64(b->d, BLK_CFG_CAPACITY);
	if (f & BLK_F_SIZE_MAX)
		b->size_max = vcfg_read32(b->d, BLK_CFG_SIZE_MAX);
	if (f & BLK_F_SEG_MAX)
		b->seg_max = vcfg_read32(b->d, BLK_CFG_SEG_MAX);
	if (f & BLK_F_BLK_SIZE)
		b->blk_size = vcfg_read32(b->d, BLK_CFG_BLK_SIZE);
	b->ro = f & BLK_F_RO;
	/* Linux: one segment unless SEG_MAX says more. Keep 2 descriptors for header/status. */
	b->max_segs = (f & BLK_F_SEG_MAX) && b->seg_max ? b->seg_max : 1;
	if (b->max_segs > 16)
		b->max_segs = 16;
	if (b->max_segs > (unsigned)b->d->qsize - 2u)
		b->max_segs = b->d->qsize - 2u;
	b->seg_bytes = 4096;
	if ((f & BLK_F_SIZE_MAX) && b->size_max < b->seg_bytes)
		b->seg_bytes = b->size_max & ~(SECTOR - 1);
	if (b->seg_bytes == 0)
		return "size_max is below one sector";
	return NULL;
}

static bool cmdline_u64(const struct boot_info *bi, const char *key, unsigned base, uint64_t *v,
                        bool *bad)
{
	size_t len;
	const char *s = cmdline_get(bi->cmdline, key, &len);

	if (!s)
		return false;
	if (!parse_u64(s, len, base, v)) {
		*bad = true;
		return false;
	}
	return true;
}

static void blk_config_check(const struct boot_info *bi, struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	uint64_t want_cap = 0, want_ro = 0;
	bool bad = false;
	bool have_cap = cmdline_u64(bi, "ember.blkcap", 10, &want_cap, &bad);
	bool have_ro = cmdline_u64(bi, "ember.blkro", 10, &want_ro, &bad);

	if (bad)
		why = "bad ember.blkcap or ember.blkro";
	else if (b->capacity == 0)
		why = "capacity is 0";
	else if (have_cap && b->capacity != want_cap)
		why = "capacity differs from ember.blkcap";
	else if (have_ro && b->ro != (want_ro != 0))
		why = "VIRTIO_BLK_F_RO differs from ember.blkro";
	else if (b->blk_size && (b->blk_size < SECTOR || (b->blk_size & (b->blk_size - 1))))
		why = "blk_size is not a power of 2 >= 512";
	else if ((b->d->features & BLK_F_SEG_MAX) && b->seg_max == 0)
		why = "seg_max is 0";
	else if (b->capacity < 64)
		why = "capacity below 64 sectors (the checks need 32 KiB)";
	check(r, "virtio-blk-config", why,
	      "capacity=%lu blk_size=%u seg_max=%u size_max=%u ro=%u offered=0x%lx "
	      "features=0x%lx qsize=%u dev=%s base=0x%lx gsi=%u",
	      b->capacity, b->blk_size, b->seg_max, b->size_max, b->ro ? 1 : 0, b->d->offered,
	      b->d->features, b->d->qsize, b->d->name, b->d->base, b->d->gsi);
}

static void blk_id_check(const struct boot_info *bi, struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	char id[BLK_ID_BYTES + 1];
	uint8_t *p = vdma(b->d, BLK_ID);
	size_t want_len;
	const char *want = cmdline_get(bi->cmdline, "ember.blkid", &want_len);

	memset(p, 0xee, BLK_ID_BYTES);
	int s = blk_req(b, BLK_T_GET_ID, 0, BLK_ID, BLK_ID_BYTES, BLK_ID_BYTES, NULL, &why);
	memcpy(id, p, BLK_ID_BYTES);
	id[BLK_ID_BYTES] = '\0';
	size_t n = str_nlen(id, BLK_ID_BYTES);
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			id[i] = '?';
	/* NUL-padded (5.2.6): QEMU writes only the NUL after the string; accept that. */
	bool padded = true;
	for (size_t i = n; i < BLK_ID_BYTES; i++)
		padded &= p[i] == 0;
	if (!why && s != BLK_S_OK)
		why = "GET_ID status not OK";
	if (!why && want && (want_len != n || memcmp(want, id, n) != 0))
		why = "the id differs from ember.blkid";
	check(r, "virtio-blk-id", why, "id=%s status=%s padded=%u", n ? id : "(empty)",
	      status_name(s), padded ? 1 : 0);
}

/* Writes the pattern to sectors 0..7 and capacity-8..capacity-1, reads both back. */
static void blk_rw_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	uint8_t *wa = vdma(b->d, BLK_DATA_A), *rb = vdma(b->d, BLK_DATA_B);
	uint64_t hi = b->capacity - 8;
	uint32_t len = 8 * SECTOR, ulen = 0, rlen = 0;
	int s = 0;

	for (unsigned pass = 0; !why && pass < 2; pass++) {
		uint64_t sector = pass ? hi : 0;
		fill_pattern(wa, sector, 8);
		s = blk_req(b, BLK_T_OUT, sector, BLK_DATA_A, len, 0, &ulen, &why);
		if (!why && s != BLK_S_OK)
			why = "write status not OK";
		memset(rb, 0xcc, len);
		if (!why)
			s = blk_req(b, BLK_T_IN, sector, BLK_DATA_B, len, 0, &rlen, &why);
		if (!why && s != BLK_S_OK)
			why = "read status not OK";
		if (!why && memcmp(wa, rb, len) != 0)
			why = pass ? "sectors capacity-8.. read back differ" : "sectors 0-7 read back differ";
		/* 2.7.8.2: len <= bytes written (data + status). */
		if (!why && (rlen == 0 || rlen > len + 1))
			why = "read used length outside 1..data+1";
	}
	check(r, "virtio-blk-rw", why, "sectors=0-7,%lu-%lu bytes=%u segs=%u read_used_len=%u status=%s",
	      hi, hi + 7, 2 * len, (len + b->seg_bytes - 1) / b->seg_bytes, rlen, status_name(s));
}

/* Read-only disk: a write fails with IOERR and writes nothing. */
static void blk_ro_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	uint8_t *wa = vdma(b->d, BLK_DATA_A), *rb = vdma(b->d, BLK_DATA_B);
	uint32_t len = 8 * SECTOR;

	memset(rb, 0xcc, len);
	int s0 = blk_req(b, BLK_T_IN, 0, BLK_DATA_B, len, 0, NULL, &why);
	fill_pattern(wa, 0, 8);
	int s = why ? -1 : blk_req(b, BLK_T_OUT, 0, BLK_DATA_A, len, 0, NULL, &why);
	if (!why && s0 != BLK_S_OK)
		why = "read status not OK";
	if (!why && s != BLK_S_IOERR)
		why = "a write to a read-only disk did not fail with IOERR";
	/* The disk still holds what it held (the host checks the file too). */
	if (!why) {
		uint8_t *again = wa;
		memset(again, 0xdd, len);
		s0 = blk_req(b, BLK_T_IN, 0, BLK_DATA_A, len, 0, NULL, &why);
		if (!why && (s0 != BLK_S_OK || memcmp(again, rb, len) != 0))
			why = "sectors 0-7 changed after a refused write";
	}
	/* Negotiated or not, WRITE_ZEROES must not change a read-only disk. */
	int sz = -1;
	if (!why) {
		struct {
			uint64_t sector;
			uint32_t num, flags;
		} seg = {16, 8, 0};
		memcpy(vdma(b->d, BLK_DWZ), &seg, sizeof(seg));
		sz = blk_req(b, BLK_T_WRITE_ZEROES, 0, BLK_DWZ, sizeof(seg), sizeof(seg), NULL, &why);
		if (!why && sz != BLK_S_IOERR && sz != BLK_S_UNSUPP)
			why = "WRITE_ZEROES on a read-only disk did not fail";
	}
	check(r, "virtio-blk-ro", why, "write=%s write_zeroes=%s%s", status_name(s), status_name(sz),
	      (b->d->features & BLK_F_WRITE_ZEROES) ? "" : "(not-negotiated)");
}

static void blk_flush_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;

	if (!(b->d->features & BLK_F_FLUSH)) {
		check(r, "virtio-blk-flush", NULL, "not-offered");
		return;
	}
	int s = blk_req(b, BLK_T_FLUSH, 0, 0, 0, 0, NULL, &why);
	if (!why && s != BLK_S_OK)
		why = "FLUSH status not OK";
	check(r, "virtio-blk-flush", why, "status=%s", status_name(s));
}

/* The expected content of sectors 0..7 (the pattern, or what a read returned on RO disks). */
static const uint8_t *blk_expected(struct blk *b, const char **why)
{
	uint8_t *e = vdma(b->d, VIRTIO_SLOT_DATA + 2 * BLK_HALF);

	if (!b->ro) {
		fill_pattern(e, 0, 8);
		return e;
	}
	int s = blk_req(b, BLK_T_IN, 0, VIRTIO_SLOT_DATA + 2 * BLK_HALF, 8 * SECTOR, 0, NULL, why);
	if (!*why && s != BLK_S_OK)
		*why = "read status not OK";
	return e;
}

/* Sector 0 as header | data | status: 3 descriptors, the layout Linux uses. */
static void blk_chain3_check(struct blk *b, struct blk_run *r, const uint8_t *expect)
{
	const char *why = NULL;
	uint8_t *rb = vdma(b->d, BLK_DATA_B);
	volatile uint8_t *status = vdma(b->d, BLK_STATUS);
	uint32_t ulen = 0;

	memset(rb, 0xcc, SECTOR);
	put_hdr(b, BLK_HDR, BLK_T_IN, 0);
	*status = 0xee;
	struct vbuf v[3] = {
	    {vdma_gpa(b->d, BLK_HDR), sizeof(struct blk_hdr), 0},
	    {vdma_gpa(b->d, BLK_DATA_B), SECTOR, VRING_DESC_F_WRITE},
	    {vdma_gpa(b->d, BLK_STATUS), 1, VRING_DESC_F_WRITE},
	};
	vq_run(b->d, v, 3, &ulen, &why);
	if (!why && *status != BLK_S_OK)
		why = "status not OK";
	if (!why && memcmp(rb, expect, SECTOR) != 0)
		why = "sector 0 differs from what was written";
	if (!why && ulen != SECTOR + 1)
		why = "used length is not 513 (data + status)";
	check(r, "virtio-blk-chain3", why, "descs=3 used_len=%u status=%s", ulen,
	      status_name(why && !*status ? -1 : *status));
}

/*
 * Other framings of the same requests (2.6.4: the device must not assume
 * one): sectors 0..7 in 512-byte segments; header + data in one readable
 * descriptor (OUT); data + status in one writable descriptor (IN); the id
 * and status in one descriptor; the whole request in an indirect table.
 */
static void blk_framing_check(struct blk *b, struct blk_run *r, const uint8_t *expect)
{
	const char *why = NULL;
	uint8_t *rb = vdma(b->d, BLK_DATA_B);
	uint8_t *m = vdma(b->d, BLK_MERGED);
	uint32_t ulen = 0;
	unsigned segs = b->max_segs < 8 ? b->max_segs : 8;
	uint32_t seg = 8 * SECTOR / segs;
	char done[96] = "";
	size_t dl = 0;
#define DONE(s)                                                                                    \
	do {                                                                                       \
		size_t n_ = strlen(s);                                                             \
		if (dl + n_ + 2 < sizeof(done)) {                                                  \
			if (dl)                                                                    \
				done[dl++] = ',';                                                  \
			memcpy(done + dl, s, n_ + 1);                                              \
			dl += n_;                                                                  \
		}                                                                                  \
	} while (0)

	/* Scatter-gather read. */
	seg &= ~(SECTOR - 1);
	memset(rb, 0xcc, 8 * SECTOR);
	int s = blk_req(b, BLK_T_IN, 0, BLK_DATA_B, 8 * SECTOR, seg, NULL, &why);
	if (!why && (s != BLK_S_OK || memcmp(rb, expect, 8 * SECTOR) != 0))
		why = "scatter-gather read of sectors 0-7 wrong";
	if (!why)
		DONE(segs == 8 ? "sg8" : "sg");

	/* IN: header | data+status (513 bytes, one writable descriptor). */
	if (!why) {
		memset(m, 0xcc, SECTOR + 1);
		m[SECTOR] = 0xee;
		put_hdr(b, BLK_HDR, BLK_T_IN, 0);
		struct vbuf v[2] = {{vdma_gpa(b->d, BLK_HDR), sizeof(struct blk_hdr), 0},
		                    {vdma_gpa(b->d, BLK_MERGED), SECTOR + 1, VRING_DESC_F_WRITE}};
		if (vq_run(b->d, v, 2, &ulen, &why) &&
		    (m[SECTOR] != BLK_S_OK || memcmp(m, expect, SECTOR) != 0))
			why = "read with data and status in one descriptor wrong";
		if (!why)
			DONE("in-merged");
	}
	/*
	 * OUT: header+data (528 bytes, one readable descriptor) | status.
	 * Sector 1 gets the inverted pattern, is read back, then restored.
	 */
	if (!why && !b->ro) {
		volatile uint8_t *st = vdma(b->d, BLK_STATUS);
		uint8_t *data = m + sizeof(struct blk_hdr);
		put_hdr(b, BLK_MERGED, BLK_T_OUT, 1);
		for (uint32_t i = 0; i < SECTOR; i++)
			data[i] = (uint8_t)~expect[SECTOR + i];
		*st = 0xee;
		struct vbuf v[2] = {{vdma_gpa(b->d, BLK_MERGED), sizeof(struct blk_hdr) + SECTOR, 0},
		                    {vdma_gpa(b->d, BLK_STATUS), 1, VRING_DESC_F_WRITE}};
		if (vq_run(b->d, v, 2, &ulen, &why) && *st != BLK_S_OK)
			why = "write with header and data in one descriptor failed";
		if (!why) {
			memset(rb, 0xcc, SECTOR);
			s = blk_req(b, BLK_T_IN, 1, BLK_DATA_B, SECTOR, 0, NULL, &why);
			if (!why && (s != BLK_S_OK || memcmp(rb, data, SECTOR) != 0))
				why = "sector 1 wrong after a header+data write";
		}
		if (!why) {
			memcpy(rb, expect + SECTOR, SECTOR);
			s = blk_req(b, BLK_T_OUT, 1, BLK_DATA_B, SECTOR, 0, NULL, &why);
			if (!why && s != BLK_S_OK)
				why = "restoring sector 1 failed";
		}
		if (!why)
			DONE("out-merged");
	}
	/* GET_ID: header | id+status (21 bytes). */
	if (!why) {
		uint8_t *idp = vdma(b->d, BLK_ID);
		memset(idp, 0xee, BLK_ID_BYTES + 1);
		put_hdr(b, BLK_HDR, BLK_T_GET_ID, 0);
		struct vbuf v[2] = {{vdma_gpa(b->d, BLK_HDR), sizeof(struct blk_hdr), 0},
		                    {vdma_gpa(b->d, BLK_ID), BLK_ID_BYTES + 1, VRING_DESC_F_WRITE}};
		if (vq_run(b->d, v, 2, &ulen, &why) && idp[BLK_ID_BYTES] != BLK_S_OK)
			why = "GET_ID with id and status in one descriptor failed";
		if (!why)
			DONE("id-merged");
	}
	/* Indirect: the three parts of a sector-2 read in a table. */
	if (!why && (b->d->features & VF_INDIRECT_DESC)) {
		struct vring_desc *t = vdma(b->d, BLK_INDIRECT);
		volatile uint8_t *st = vdma(b->d, BLK_STATUS);
		put_hdr(b, BLK_HDR, BLK_T_IN, 2);
		memset(rb, 0xcc, SECTOR);
		*st = 0xee;
		t[0] = (struct vring_desc){vdma_gpa(b->d, BLK_HDR), sizeof(struct blk_hdr),
		                           VRING_DESC_F_NEXT, 1};
		t[1] = (struct vring_desc){vdma_gpa(b->d, BLK_DATA_B), SECTOR,
		                           VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2};
		t[2] = (struct vring_desc){vdma_gpa(b->d, BLK_STATUS), 1, VRING_DESC_F_WRITE, 0};
		struct vbuf v = {vdma_gpa(b->d, BLK_INDIRECT), 3 * sizeof(struct vring_desc),
		                 VRING_DESC_F_INDIRECT};
		if (vq_run(b->d, &v, 1, &ulen, &why) &&
		    (*st != BLK_S_OK || memcmp(rb, expect + 2 * SECTOR, SECTOR) != 0))
			why = "indirect read of sector 2 wrong";
		if (!why)
			DONE("indirect");
	}
#undef DONE
	check(r, "virtio-blk-framing", why, "ok=%s seg_bytes=%u", dl ? done : "-", seg);
}

/*
 * Many requests in flight at once (one kick): 6 one-sector writes to
 * sectors 32..37 and 6 one-sector reads of sectors 0..5. The device may
 * complete them in any order; every head must come back exactly once with
 * its own status, then sectors 32..37 read back as written.
 */
#define BATCH_N      6
#define BATCH_HDRS   (VIRTIO_SLOT_SCRATCH + 0x200)
#define BATCH_STATUS (VIRTIO_SLOT_SCRATCH + 0x300)
#define BATCH_SECTOR 32

static void blk_batch_check(struct blk *b, struct blk_run *r, const uint8_t *expect)
{
	const char *why = NULL;
	unsigned nreq = b->ro ? BATCH_N : 2 * BATCH_N, got = 0, out_of_order = 0;
	uint16_t heads[2 * BATCH_N];
	bool seen[2 * BATCH_N] = {false};
	volatile uint8_t *st = vdma(b->d, BATCH_STATUS);
	uint8_t *wbuf = vdma(b->d, BLK_DATA_A), *rbuf = vdma(b->d, BLK_DATA_B);

	if (nreq * 3 > b->d->qsize) {
		check(r, "virtio-blk-batch", NULL, "skipped=queue-too-small");
		return;
	}
	fill_pattern(wbuf, BATCH_SECTOR, BATCH_N);
	memset(rbuf, 0xcc, BATCH_N * SECTOR);
	for (unsigned k = 0; k < nreq; k++) {
		bool write = k >= BATCH_N;
		unsigned i = write ? k - BATCH_N : k;
		uint32_t hoff = BATCH_HDRS + 16 * k;
		put_hdr(b, hoff, write ? BLK_T_OUT : BLK_T_IN, write ? BATCH_SECTOR + i : i);
		st[k] = 0xee;
		struct vbuf v[3] = {
		    {vdma_gpa(b->d, hoff), sizeof(struct blk_hdr), 0},
		    {vdma_gpa(b->d, (write ? BLK_DATA_A : BLK_DATA_B) + i * SECTOR), SECTOR,
		     write ? 0 : VRING_DESC_F_WRITE},
		    {vdma_gpa(b->d, BATCH_STATUS + k), 1, VRING_DESC_F_WRITE},
		};
		heads[k] = vq_add(b->d, v, 3);
		vq_publish(b->d, heads[k]);
	}
	vq_kick(b->d);
	for (got = 0; !why && got < nreq; got++) {
		uint32_t id, len;
		if (!vq_wait(b->d, &id, &len)) {
			why = "timeout: not every request came back";
			break;
		}
		unsigned k = 0;
		while (k < nreq && heads[k] != id)
			k++;
		if (k == nreq || seen[k])
			why = k == nreq ? "a used id that is no request's head"
			                : "a request came back twice";
		else
			seen[k] = true;
		out_of_order += k != got;
	}
	for (unsigned k = 0; !why && k < nreq; k++)
		if (st[k] != BLK_S_OK)
			why = "a batched request did not return OK";
	if (!why && memcmp(rbuf, expect, BATCH_N * SECTOR) != 0)
		why = "batched reads of sectors 0-5 wrong";
	if (!why && !b->ro) {
		memset(rbuf, 0xcc, BATCH_N * SECTOR);
		int s = blk_req(b, BLK_T_IN, BATCH_SECTOR, BLK_DATA_B, BATCH_N * SECTOR, 0, NULL, &why);
		if (!why && (s != BLK_S_OK || memcmp(rbuf, wbuf, BATCH_N * SECTOR) != 0))
			why = "sectors 32-37 wrong after batched writes";
	}
	check(r, "virtio-blk-batch", why, "requests=%u completed=%u out_of_order=%u", nreq, got,
	      out_of_order);
}

/* Reads past the end: IOERR, never data, never a hang. */
static void blk_oob_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	static const char *const names[] = {"cap", "straddle", "huge", "write-cap"};
	uint64_t sectors[] = {b->capacity, b->capacity - 1, 0xffffffffffffff00ULL, b->capacity};
	uint32_t lens[] = {SECTOR, 2 * SECTOR, SECTOR, SECTOR};
	int st[4] = {-1, -1, -1, -1};
	unsigned n = b->ro ? 3 : 4;

	for (unsigned i = 0; !why && i < n; i++) {
		uint32_t type = i == 3 ? BLK_T_OUT : BLK_T_IN;
		if (type == BLK_T_OUT)
			fill_pattern(vdma(b->d, BLK_DATA_A), 0, 1);
		st[i] = blk_req(b, type, sectors[i], type == BLK_T_OUT ? BLK_DATA_A : BLK_DATA_B,
		                lens[i], 0, NULL, &why);
		if (!why && st[i] != BLK_S_IOERR) {
			why = "an out-of-range request did not fail with IOERR";
			gprintf("  virtio-blk-oob: %s sector=0x%lx -> %s\n", names[i], sectors[i],
			        status_name(st[i]));
		}
	}
	check(r, "virtio-blk-oob", why, "cap=%s straddle=%s huge=%s write-cap=%s",
	      status_name(st[0]), status_name(st[1]), status_name(st[2]),
	      b->ro ? "skipped" : status_name(st[3]));
}

static void blk_unsupp_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	int s = blk_req(b, BLK_T_BOGUS, 0, 0, 0, 0, NULL, &why);

	if (!why && s != BLK_S_UNSUPP)
		why = "an unknown request type did not return UNSUPP";
	check(r, "virtio-blk-unsupp", why, "type=0x%x status=%s", BLK_T_BOGUS, status_name(s));
}

/* WRITE_ZEROES on sectors 16..23 (read back zero), DISCARD on 24..31. */
static void blk_zeroes_check(struct blk *b, struct blk_run *r)
{
	const char *why = NULL;
	struct {
		uint64_t sector;
		uint32_t num, flags;
	} seg;
	int sz = -1, sd = -1;
	uint64_t f = b->d->features;

	if (f & BLK_F_WRITE_ZEROES) {
		seg.sector = 16;
		seg.num = 8;
		seg.flags = 0;
		memcpy(vdma(b->d, BLK_DWZ), &seg, sizeof(seg));
		sz = blk_req(b, BLK_T_WRITE_ZEROES, 0, BLK_DWZ, sizeof(seg), sizeof(seg), NULL, &why);
		if (!why && sz != BLK_S_OK)
			why = "WRITE_ZEROES status not OK";
		uint8_t *rb = vdma(b->d, BLK_DATA_B);
		memset(rb, 0xcc, 8 * SECTOR);
		int s = why ? 0 : blk_req(b, BLK_T_IN, 16, BLK_DATA_B, 8 * SECTOR, 0, NULL, &why);
		for (uint32_t i = 0; !why && i < 8 * SECTOR; i++)
			if (s != BLK_S_OK || rb[i] != 0)
				why = "sectors 16-23 not zero after WRITE_ZEROES";
	}
	if (!why && (f & BLK_F_DISCARD)) {
		seg.sector = 24;
		seg.num = 8;
		seg.flags = 0;
		memcpy(vdma(b->d, BLK_DWZ), &seg, sizeof(seg));
		sd = blk_req(b, BLK_T_DISCARD, 0, BLK_DWZ, sizeof(seg), sizeof(seg), NULL, &why);
		if (!why && sd != BLK_S_OK)
			why = "DISCARD status not OK";
	}
	check(r, "virtio-blk-zeroes", why, "write_zeroes=%s discard=%s",
	      (f & BLK_F_WRITE_ZEROES) ? status_name(sz) : "not-offered",
	      (f & BLK_F_DISCARD) ? status_name(sd) : "not-offered");
}

void test_virtio_blk(const struct boot_info *bi)
{
	struct blk b;
	struct blk_run r;
	const char *why = blk_open(bi, &b);

	memset(&r, 0, sizeof(r));
	if (why) {
		report("virtio-blk", false, "error=%s", why);
		return;
	}
	blk_config_check(bi, &b, &r);
	if (r.failed) {
		report("virtio-blk", false, "checks=%u failed=%s", r.checks, r.failed_names);
		virtio_reset(b.d);
		return;
	}
	blk_id_check(bi, &b, &r);
	if (b.ro)
		blk_ro_check(&b, &r);
	else
		blk_rw_check(&b, &r);
	blk_flush_check(&b, &r);
	const char *ewhy = NULL;
	const uint8_t *expect = blk_expected(&b, &ewhy);
	if (ewhy) {
		check(&r, "virtio-blk-chain3", ewhy, "reading sectors 0-7 failed");
	} else {
		blk_chain3_check(&b, &r, expect);
		blk_framing_check(&b, &r, expect);
		blk_batch_check(&b, &r, expect);
	}
	blk_oob_check(&b, &r);
	blk_unsupp_check(&b, &r);
	if (!b.ro)
		blk_zeroes_check(&b, &r);
	uint32_t st = vmmio_read(b.d, VMMIO_STATUS);
	if (st & (VSTAT_NEEDS_RESET | VSTAT_FAILED))
		check(&r, "virtio-blk-status", "the device wants a reset after valid requests",
		      "status=0x%x", st);
	if (!virtio_reset(b.d))
		check(&r, "virtio-blk-status", "Status does not read 0 after the final reset", "-");
	report("virtio-blk", r.failed == 0, "checks=%u failed=%u%s%s capacity=%lu ro=%u", r.checks,
	       r.failed, r.failed ? " names=" : "", r.failed ? r.failed_names : "", b.capacity,
	       b.ro ? 1 : 0);
}

/* ---- virtio-blk-read --------------------------------------------------------------- */

#define BLK_READ_CHUNK 0x8000u /* 32 KiB per request */

void test_virtio_blk_read(const struct boot_info *bi)
{
	struct blk b;
	const char *why = blk_open(bi, &b);
	uint64_t n = 64, want = 0;
	bool bad = false, have_sum = cmdline_u64(bi, "ember.blksum", 16, &want, &bad);
	uint32_t h = FNV1A_INIT, requests = 0;

	cmdline_u64(bi, "ember.blksectors", 10, &n, &bad);
	if (!why && bad)
		why = "bad ember.blksectors or ember.blksum";
	if (!why && n > b.capacity)
		why = "ember.blksectors is beyond the capacity";
	if (!why && n > 1u << 20)
		why = "ember.blksectors above 1M sectors (the hash would take too long)";
	uint32_t chunk = why ? 0 : b.max_segs * b.seg_bytes;
	if (chunk > BLK_READ_CHUNK)
		chunk = BLK_READ_CHUNK;
	for (uint64_t s = 0; !why && s < n;) {
		uint64_t left = (n - s) * SECTOR;
		uint32_t len = left < chunk ? (uint32_t)left : chunk;
		int st = blk_req(&b, BLK_T_IN, s, VIRTIO_SLOT_DATA, len, 0, NULL, &why);
		if (!why && st != BLK_S_OK)
			why = "read status not OK";
		if (!why)
			h = virtio_fnv1a(h, vdma(b.d, VIRTIO_SLOT_DATA), len);
		s += len / SECTOR;
		requests++;
	}
	if (!why && have_sum && want != h)
		why = "hash differs from ember.blksum";
	if (b.d && b.d->qsize)
		virtio_reset(b.d);
	report("virtio-blk-read", why == NULL, "sectors=%lu fnv=%08x requests=%u%s%s", n, h,
	       requests, why ? " error=" : "", why ? why : "");
}

/* ---- virtio-blk-bench -------------------------------------------------------------- */

/*
 * Moves ember.benchkib KiB (default 4096) in requests of ember.benchreq
 * bytes (default 32 KiB), BENCH_DEPTH requests per kick, reading -- or
 * writing with ember.benchop=write -- from sector 0 on, wrapping at the
 * capacity. "EMBER-BENCH start" goes out before the first request so the
 * host times the transfer on the console; nothing is hashed, so the time
 * is the device's. The guest kicks once per batch and then only polls: a
 * rate-limited device must resume a throttled batch by itself.
 */
#define BENCH_DEPTH  4
#define BENCH_HDRS   (VIRTIO_SLOT_SCRATCH + 0x400) /* BENCH_DEPTH * 16 bytes */
#define BENCH_STATUS (VIRTIO_SLOT_SCRATCH + 0x480) /* BENCH_DEPTH bytes */
#define BENCH_MAX    0x8000u

static unsigned bench_batch(struct blk *b, bool write, uint32_t req, uint64_t *sector,
                            uint64_t left)
{
	volatile uint8_t *st = vdma(b->d, BENCH_STATUS);
	uint64_t per = req / SECTOR;
	unsigned n = 0;

	for (; n < BENCH_DEPTH && (uint64_t)n * req < left; n++) {
		struct vbuf v[VQ_SIZE_MAX];
		unsigned k = 0;
		if (*sector + per > b->capacity)
			*sector = 0;
		put_hdr(b, BENCH_HDRS + 16 * n, write ? BLK_T_OUT : BLK_T_IN, *sector);
		st[n] = 0xee;
		v[k++] = (struct vbuf){vdma_gpa(b->d, BENCH_HDRS + 16 * n), sizeof(struct blk_hdr),
		                       0};
		for (uint32_t off = 0; off < req; off += b->seg_bytes)
			v[k++] = (struct vbuf){vdma_gpa(b->d, VIRTIO_SLOT_DATA + off),
			                       req - off < b->seg_bytes ? req - off : b->seg_bytes,
			                       write ? 0 : VRING_DESC_F_WRITE};
		v[k++] = (struct vbuf){vdma_gpa(b->d, BENCH_STATUS + n), 1, VRING_DESC_F_WRITE};
		vq_publish(b->d, vq_add(b->d, v, k));
		*sector += per;
	}
	vq_kick(b->d);
	return n;
}

void test_virtio_blk_bench(const struct boot_info *bi)
{
	struct blk b;
	const char *why = blk_open(bi, &b);
	uint64_t kib = 4096, req = BENCH_MAX, sector = 0, bytes = 0, requests = 0;
	bool bad = false, write = false;
	size_t oplen = 0;
	const char *op = cmdline_get(bi->cmdline, "ember.benchop", &oplen);
	volatile uint8_t *st = why ? NULL : vdma(b.d, BENCH_STATUS);

	cmdline_u64(bi, "ember.benchkib", 10, &kib, &bad);
	cmdline_u64(bi, "ember.benchreq", 10, &req, &bad);
	if (op && oplen == 5 && !memcmp(op, "write", 5))
		write = true;
	else if (op && !(oplen == 4 && !memcmp(op, "read", 4)))
		bad = true;
	if (!why && (bad || !req || req % SECTOR || req > BENCH_MAX))
		why = "bad ember.benchkib, ember.benchop or ember.benchreq (512 to 32768, "
		      "whole sectors)";
	if (!why && write && b.ro)
		why = "ember.benchop=write on a read-only disk";
	uint64_t segs = why ? 0 : (req + b.seg_bytes - 1) / b.seg_bytes;
	if (!why && (segs > b.max_segs || (segs + 2) * BENCH_DEPTH > b.d->qsize))
		why = "ember.benchreq needs more segments than the queue allows";
	if (!why && b.capacity < req / SECTOR)
		why = "the disk is smaller than one request";
	uart_puts("EMBER-BENCH start\n");
	while (!why && bytes < kib * 1024) {
		unsigned n = bench_batch(&b, write, (uint32_t)req, &sector, kib * 1024 - bytes);
		for (unsigned k = 0; !why && k < n; k++) {
			uint32_t id, len;
			if (!vq_wait(b.d, &id, &len))
				why = "timeout: the device stalled mid-batch (no kick follows)";
		}
		for (unsigned k = 0; !why && k < n; k++)
			if (st[k] != BLK_S_OK)
				why = "a request did not return OK";
		requests += n;
		bytes += n * req;
	}
	if (b.d && b.d->qsize)
		virtio_reset(b.d);
	report("virtio-blk-bench", why == NULL, "op=%s bytes=%lu requests=%lu req=%lu%s%s",
	       write ? "write" : "read", bytes, requests, req, why ? " error=" : "",
	       why ? why : "");
}

/* ---- shared with the hostile test ----------------------------------------------------- */

bool virtio_blk_read0(struct vdev *d, const char **err)
{
	volatile uint8_t *st = vdma(d, BLK_STATUS);
	struct blk_hdr h = {BLK_T_IN, 0, 0};
	uint32_t len;

	memcpy(vdma(d, BLK_HDR), &h, sizeof(h));
	*st = 0xee;
	struct vbuf v[3] = {
	    {vdma_gpa(d, BLK_HDR), sizeof(h), 0},
	    {vdma_gpa(d, BLK_DATA_B), SECTOR, VRING_DESC_F_WRITE},
	    {vdma_gpa(d, BLK_STATUS), 1, VRING_DESC_F_WRITE},
	};
	if (!vq_run(d, v, 3, &len, err))
		return false;
	if (*st != BLK_S_OK) {
		*err = "read of sector 0 did not return OK";
		return false;
	}
	return true;
}

/* ---- virtio-blk-reset -------------------------------------------------------------- */

/*
 * A device reset with reads in flight (2.4.1: once Status reads 0 the
 * device MUST NOT interact with the queues until re-initialised; Linux's
 * virtio_reset_device relies on it to free the buffers). The guest makes
 * 16 reads of 1 MiB available -- each 16 segments of 64 KiB that all
 * point at one of 4 buffers, so 16 MiB of I/O lands in 256 KiB of RAM --
 * kicks, waits until the device has taken them, and resets the device.
 * When Status reads 0 it refills the buffers with a marker, resets the
 * status bytes, waits ~20 ms and looks for anything the device wrote
 * after the reset: buffer bytes, status bytes, used ring entries. Then
 * it initialises again and reads. Best run on a cache=none disk, where
 * the reads are still in flight at the reset.
 */
#define RESET_AREA      0x1000000ULL /* 16 MiB, above the DMA area */
#define RESET_AREA_SIZE 0x40000ULL   /* 256 KiB: 4 buffers of 64 KiB */
#define RESET_REQS      16
#define RESET_HDRS      (VIRTIO_SLOT_SCRATCH + 0x200)
#define RESET_TABLES    (VIRTIO_SLOT_SCRATCH + 0x1000) /* 16 indirect tables of 18 */
#define RESET_SEGS      16
#define RESET_STATUS    (VIRTIO_SLOT_SCRATCH + 0x300)
#define RESET_MARK      0x5a5a5a5a5a5a5a5aULL
#define RESET_WAIT_TSC  60000000ULL /* 20-60 ms */

/* Offset of the first qword at or after p that is not val, or n. */
static uint64_t first_diff(const uint64_t *p, uint64_t n, uint64_t val)
{
	const uint64_t *di = p;
	uint64_t cnt = n;
	bool ne;

	if (!n)
		return 0;
	__asm__ volatile("repe scasq; setne %2" : "+D"(di), "+c"(cnt), "=q"(ne) : "a"(val) : "cc", "memory");
	return ne ? (uint64_t)(di - p) - 1 : n;
}

void test_virtio_blk_reset(const struct boot_info *bi)
{
	struct blk b;
	const char *why = blk_open(bi, &b);
	uint64_t *area = (uint64_t *)(uintptr_t)RESET_AREA;
	uint64_t nq = RESET_AREA_SIZE / 8, late_q = 0, first_late = 0;
	unsigned late_status = 0, nreq = 0;
	uint16_t late_used = 0;
	bool popped = false;
	uint32_t len = 0;

	if (!why && (!virtio_is_ram(bi, RESET_AREA, RESET_AREA_SIZE) ||
	             (bi->initrd_size && bi->initrd_addr < RESET_AREA + RESET_AREA_SIZE &&
	              bi->initrd_addr + bi->initrd_size > RESET_AREA)))
		why = "16-20 MiB is not free RAM (give the guest at least 32 MiB, no big initrd)";
	/* EVENT_IDX tells us when the device has popped the requests. */
	if (!why)
		virtio_init(b.d, virtio_blk_features() | VF_EVENT_IDX, &why);
	unsigned nseg = 0;
	bool indirect = false;
	if (!why) {
		/* 16 segments per request (fewer if seg_max says so), each one buffer. */
		len = (uint32_t)(RESET_AREA_SIZE / 4);
		if ((b.d->features & BLK_F_SIZE_MAX) && b.size_max < len)
			len = b.size_max & ~(SECTOR - 1);
		nseg = b.max_segs < RESET_SEGS ? b.max_segs : RESET_SEGS;
		while (nseg > 1 && b.capacity * SECTOR < 4ULL * nseg * len)
			nseg--;
		if (b.capacity * SECTOR < 4ULL * len)
			len = (uint32_t)(b.capacity * SECTOR / 4) & ~(SECTOR - 1);
		if (len == 0)
			why = "the disk is too small";
		indirect = b.d->features & VF_INDIRECT_DESC;
	}
	if (!why) {
		nreq = RESET_REQS;
		if (!indirect && nreq * (nseg + 2) > b.d->qsize)
			nreq = b.d->qsize / (nseg + 2);
		memset(area, 0, RESET_AREA_SIZE);
		volatile uint8_t *st = vdma(b.d, RESET_STATUS);
		for (unsigned k = 0; k < nreq; k++) {
			uint32_t hoff = RESET_HDRS + 16 * k;
			struct vbuf v[RESET_SEGS + 2];
			unsigned n = 0;
			put_hdr(&b, hoff, BLK_T_IN, (uint64_t)(k % 4) * nseg * (len / SECTOR));
			st[k] = 0xee;
			v[n++] = (struct vbuf){vdma_gpa(b.d, hoff), sizeof(struct blk_hdr), 0};
			for (unsigned i = 0; i < nseg; i++)
				v[n++] = (struct vbuf){RESET_AREA + (uint64_t)(k % 4) * len, len,
				                       VRING_DESC_F_WRITE};
			v[n++] = (struct vbuf){vdma_gpa(b.d, RESET_STATUS + k), 1, VRING_DESC_F_WRITE};
			if (!indirect) {
				vq_publish(b.d, vq_add(b.d, v, n));
				continue;
			}
			uint32_t toff = RESET_TABLES + k * (RESET_SEGS + 2) * 16;
			struct vring_desc *t = vdma(b.d, toff);
			for (unsigned i = 0; i < n; i++)
				t[i] = (struct vring_desc){v[i].addr, v[i].len,
				                           (uint16_t)(v[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				                           (uint16_t)(i + 1 < n ? i + 1 : 0)};
			struct vbuf top = {vdma_gpa(b.d, toff), n * 16, VRING_DESC_F_INDIRECT};
			vq_publish(b.d, vq_add(b.d, &top, 1));
		}
		volatile uint16_t *uidx = (volatile uint16_t *)(vq_used(b.d) + 2);
		/* used ring: flags, idx, ring[qsize], avail_event (2.7.10) */
		volatile uint16_t *avail_event = (volatile uint16_t *)(vq_used(b.d) + 4 + 8 * b.d->qsize);
		uint16_t used0 = *uidx;
		vq_kick(b.d);
		/*
		 * Reset once the device has taken the requests: with EVENT_IDX it
		 * publishes avail_event when it finds the ring empty, i.e. after
		 * popping them all; without it, at the first completion.
		 */
		uint64_t t = rdtsc();
		while (rdtsc() - t < VIRTIO_TIMEOUT_TSC / 4) {
			if ((b.d->features & VF_EVENT_IDX) ? *avail_event == b.d->avail_idx
			                                   : *uidx != used0) {
				popped = true;
				break;
			}
			cpu_relax();
		}
		if (!virtio_reset(b.d))
			why = "Status does not read 0 after the reset";
		/* From here the device must leave the queue's memory alone. */
		uint16_t used1 = __atomic_load_n((volatile uint16_t *)(vq_used(b.d) + 2), __ATOMIC_ACQUIRE);
		memset(area, 0x5a, RESET_AREA_SIZE);
		for (unsigned k = 0; k < nreq; k++)
			st[k] = 0xee;
		uint64_t t0 = rdtsc();
		while (rdtsc() - t0 < RESET_WAIT_TSC)
			cpu_relax();
		late_used = (uint16_t)(__atomic_load_n((volatile uint16_t *)(vq_used(b.d) + 2),
		                                       __ATOMIC_ACQUIRE) - used1);
		for (unsigned k = 0; k < nreq; k++)
			late_status += st[k] != 0xee;
		first_late = first_diff(area, nq, RESET_MARK);
		for (uint64_t i = first_late; i < nq && late_q < 4096;) {
			late_q++;
			i++;
			i += first_diff(area + i, nq - i, RESET_MARK);
		}
		if (!why && (late_q || late_status || late_used))
			why = "the device wrote guest memory after the reset completed (2.4.1)";
		const char *rwhy = NULL;
		if (!virtio_init(b.d, virtio_blk_features(), &rwhy) || !virtio_blk_read0(b.d, &rwhy)) {
			if (!why)
				why = rwhy;
		}
		virtio_reset(b.d);
	}
	report("virtio-blk-reset", why == NULL,
	       "requests=%u popped=%u bytes=%lu late_qwords=%lu%s first_late=0x%lx late_status=%u late_used=%u%s%s",
	       nreq, popped ? 1 : 0, (uint64_t)nreq * nseg * len, late_q, late_q >= 4096 ? "+" : "",
	       late_q ? (uint64_t)(RESET_AREA + first_late * 8) : 0, late_status, late_used,
	       why ? " error=" : "", why ? why : "");
}
