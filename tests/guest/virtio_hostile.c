/*
 * `virtio-hostile`: a guest that breaks the virtqueue rules (virtio 1.2
 * 2.7.5 descriptors, 2.7.5.3 indirect descriptors, 2.7.6 the available
 * ring) and the register rules (4.2.2.2). The victim is the blk device,
 * or the rng when there is no blk.
 *
 * For every rule broken the device must set DEVICE_NEEDS_RESET (2.1.2)
 * and, DRIVER_OK being set, send a configuration change notification
 * (InterruptStatus bit 1); it must return nothing from the bad chain,
 * stay quiet when kicked again, and work again after a reset and a new
 * initialisation. Meanwhile another device (the rng when the blk is the
 * victim, the blk when the rng is) must keep serving requests.
 *
 * One line per case: EMBER-TEST virtio-hostile-<case> PASS|FAIL, then
 * virtio-hostile-isolation and the summary line virtio-hostile.
 */
#include "virtio.h"

/* Addresses no device may touch. */
#define GPA_OUTSIDE 0xfffff0000000ULL                /* far above any RAM */
#define GPA_HOLE    LAYOUT_VIRTIO_MMIO_GPA           /* the virtio windows themselves */
#define GPA_WRAP    0xffffffffffffff00ULL            /* + 0x200 wraps to 0x100 */

/* Scratch inside the victim's slot (the blk checks use 0x1000-0x10ff and 0x1800+). */
#define H_BUF    VIRTIO_SLOT_DATA
#define H_TABLE  (VIRTIO_SLOT_SCRATCH + 0x400)
#define H_TABLE2 (VIRTIO_SLOT_SCRATCH + 0x500)
#define H_HDR    (VIRTIO_SLOT_SCRATCH + 0x600)
#define H_STATUS (VIRTIO_SLOT_SCRATCH + 0x640)

struct hostile {
	struct vdev *blk, *rng;
	unsigned cases, passed;
	unsigned isolation_checks, isolation_failed;
	const char *isolation_error;
	char failed[200];
	size_t failed_len;
};

static uint64_t want_features(const struct hostile *h, const struct vdev *d)
{
	return d == h->blk ? virtio_blk_features() : VF_INDIRECT_DESC;
}

/* A request that must work: sector 0 from the blk, 16 bytes from the rng. */
static bool good_request(const struct hostile *h, struct vdev *d, const char **err)
{
	uint32_t got;

	if (d == h->blk)
		return virtio_blk_read0(d, err);
	return virtio_rng_request(d, 16, &got, err);
}

static void set_desc(struct vdev *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	volatile struct vring_desc *desc = vq_desc(d);

	desc[i].addr = addr;
	desc[i].len = len;
	desc[i].flags = flags;
	desc[i].next = next;
}

static uint16_t used_idx(const struct vdev *d)
{
	return __atomic_load_n((volatile uint16_t *)(vq_used(d) + 2), __ATOMIC_ACQUIRE);
}

/* ---- the cases: each writes a bad chain (or ring state) and makes it available ----- */

static void arm_loop(struct vdev *d)
{
	uint16_t i = d->next_desc;
	set_desc(d, i, vdma_gpa(d, H_BUF), 64, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, i);
	vq_publish(d, i);
}

static void arm_outside(struct vdev *d)
{
	set_desc(d, d->next_desc, GPA_OUTSIDE, 64, VRING_DESC_F_WRITE, 0);
	vq_publish(d, d->next_desc);
}

static void arm_hole(struct vdev *d)
{
	set_desc(d, d->next_desc, GPA_HOLE, 64, VRING_DESC_F_WRITE, 0);
	vq_publish(d, d->next_desc);
}

static void arm_wrap(struct vdev *d)
{
	set_desc(d, d->next_desc, GPA_WRAP, 0x200, VRING_DESC_F_WRITE, 0);
	vq_publish(d, d->next_desc);
}

/* Starts in RAM, runs through the end of RAM and the MMIO hole. */
static void arm_long(struct vdev *d)
{
	set_desc(d, d->next_desc, vdma_gpa(d, H_BUF), 0xfffff000u, VRING_DESC_F_WRITE, 0);
	vq_publish(d, d->next_desc);
}

static void arm_next(struct vdev *d)
{
	uint16_t i = d->next_desc;
	set_desc(d, i, vdma_gpa(d, H_BUF), 64, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
	         (uint16_t)(d->qsize + 3));
	vq_publish(d, i);
}

static void arm_indirect(struct vdev *d)
{
	struct vring_desc *t1 = vdma(d, H_TABLE), *t2 = vdma(d, H_TABLE2);

	t2[0] = (struct vring_desc){vdma_gpa(d, H_BUF), 64, VRING_DESC_F_WRITE, 0};
	t1[0] = (struct vring_desc){vdma_gpa(d, H_TABLE2), sizeof(*t2), VRING_DESC_F_INDIRECT, 0};
	set_desc(d, d->next_desc, vdma_gpa(d, H_TABLE), sizeof(*t1), VRING_DESC_F_INDIRECT, 0);
	vq_publish(d, d->next_desc);
}

/* avail->idx jumps by more than the queue size (2.7.6 / 2.7.13.3). */
static void arm_avail(struct vdev *d)
{
	set_desc(d, d->next_desc, vdma_gpa(d, H_BUF), 64, VRING_DESC_F_WRITE, 0);
	__atomic_store_n(&vq_avail(d)[1], (uint16_t)(d->avail_idx + d->qsize + 5), __ATOMIC_RELEASE);
}

/* An available ring entry naming a descriptor >= the queue size. */
static void arm_head(struct vdev *d)
{
	vq_publish(d, (uint16_t)(d->qsize + 1));
}

/* The descriptor table was placed outside RAM at set-up (desc_override). */
static void arm_ring(struct vdev *d)
{
	set_desc(d, d->next_desc, vdma_gpa(d, H_BUF), 64, VRING_DESC_F_WRITE, 0);
	vq_publish(d, d->next_desc);
}

/* virtio-rng: a device-readable buffer (5.4.6.1: the driver MUST NOT). */
static void arm_rngread(struct vdev *d)
{
	set_desc(d, d->next_desc, vdma_gpa(d, H_BUF), 64, 0, 0);
	vq_publish(d, d->next_desc);
}

/* A readable descriptor after a writable one (2.7.4.2). */
static void arm_order(struct vdev *d)
{
	uint16_t i = d->next_desc, mask = (uint16_t)(d->qsize - 1);
	set_desc(d, i, vdma_gpa(d, H_BUF), 64, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
	         (uint16_t)((i + 1) & mask));
	set_desc(d, (uint16_t)((i + 1) & mask), vdma_gpa(d, H_BUF + 64), 64, 0, 0);
	vq_publish(d, i);
}

enum { ON_VICTIM, ON_RNG };

struct hcase {
	const char *name;
	void (*arm)(struct vdev *d);
	int target;
	bool ring_outside;
};

static const struct hcase cases[] = {
    {"loop", arm_loop, ON_VICTIM, false},         /* (a) next points back at itself */
    {"outside", arm_outside, ON_VICTIM, false},   /* (b) address beyond RAM */
    {"hole", arm_hole, ON_VICTIM, false},         /* (b) address in the MMIO hole */
    {"wrap", arm_wrap, ON_VICTIM, false},         /* (c) addr + len overflows 64 bits */
    {"long", arm_long, ON_VICTIM, false},         /* (c) len runs off the end of RAM */
    {"next", arm_next, ON_VICTIM, false},         /* (d) next >= queue size */
    {"indirect", arm_indirect, ON_VICTIM, false}, /* (e) indirect inside indirect */
    {"avail", arm_avail, ON_VICTIM, false},       /* (f) avail idx far ahead */
    {"head", arm_head, ON_VICTIM, false},         /* head index >= queue size */
    {"order", arm_order, ON_VICTIM, false},       /* readable after writable */
    {"ring", arm_ring, ON_VICTIM, true},          /* descriptor table outside RAM */
    {"rngread", arm_rngread, ON_RNG, false},      /* readable buffer for the rng */
};

static void note_result(struct hostile *h, const char *name, bool pass)
{
	h->cases++;
	if (pass) {
		h->passed++;
		return;
	}
	size_t n = strlen(name);
	if (h->failed_len + n + 2 < sizeof(h->failed)) {
		if (h->failed_len)
			h->failed[h->failed_len++] = ',';
		memcpy(h->failed + h->failed_len, name, n + 1);
		h->failed_len += n;
	}
}

static void hreport(struct hostile *h, const char *name, bool pass, const char *detail,
                    const char *why)
{
	char full[48] = "virtio-hostile-";
	size_t k = strlen(full), n = strlen(name);
	if (k + n < sizeof(full))
		memcpy(full + k, name, n + 1);
	note_result(h, name, pass);
	report(full, pass, "%s%s%s", detail, why ? " error=" : "", why ? why : "");
}

/* The other device serves a request while the victim is broken. */
static void isolation(struct hostile *h, struct vdev *other)
{
	const char *why = NULL;

	if (!other)
		return;
	h->isolation_checks++;
	if (!good_request(h, other, &why)) {
		h->isolation_failed++;
		if (!h->isolation_error)
			h->isolation_error = why;
	}
}

/* Reset, initialise again, one good request. */
static bool recover(struct hostile *h, struct vdev *d, const char **why)
{
	if (!virtio_reset(d)) {
		*why = "Status does not read 0 after the reset";
		return false;
	}
	if (!virtio_init(d, want_features(h, d), why))
		return false;
	return good_request(h, d, why);
}

static size_t format(char *buf, size_t size, const char *fmt, ...) PRINTF(3, 4);

static size_t format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	size_t n = vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static const char *dev_name(const struct hostile *h, const struct vdev *d)
{
	return d == h->blk ? "blk" : "rng";
}

static void run_case(struct hostile *h, const struct hcase *c, struct vdev *victim,
                     struct vdev *other)
{
	const char *why = NULL;
	char detail[192];

	if (c->ring_outside)
		victim->desc_override = GPA_OUTSIDE;
	bool inited = virtio_init(victim, want_features(h, victim), &why);
	victim->desc_override = 0;
	if (!inited) {
		hreport(h, c->name, false, "init failed", why);
		return;
	}
	uint16_t used_before = used_idx(victim);
	c->arm(victim);
	vq_kick(victim);
	uint32_t st = virtio_wait_status(victim, VSTAT_NEEDS_RESET);
	uint32_t isr = vmmio_read(victim, VMMIO_INT_STATUS);
	/* Kicked again while broken: the device must stay quiet. */
	vq_kick(victim);
	isolation(h, other);
	uint16_t used_after = used_idx(victim);
	const char *rwhy = NULL;
	bool recovered = recover(h, victim, &rwhy);

	if (!(st & VSTAT_NEEDS_RESET))
		why = "no DEVICE_NEEDS_RESET";
	else if (!(isr & VISR_CONFIG))
		why = "no configuration change notification (InterruptStatus bit 1)";
	else if (used_after != used_before)
		why = "the device returned the bad chain";
	else if (!recovered)
		why = rwhy;
	format(detail, sizeof(detail), "dev=%s status=0x%x isr=0x%x used=%u recovered=%u%s",
	       dev_name(h, victim), st, isr, (uint16_t)(used_after - used_before),
	       recovered ? 1 : 0,
	       (c->arm == arm_indirect && !(victim->features & VF_INDIRECT_DESC))
	           ? " indirect_desc=not-negotiated"
	           : "");
	hreport(h, c->name, why == NULL, detail, why);
}

/*
 * Register abuse that the transport must refuse without breaking
 * anything (4.2.2.2): narrow accesses, writes to read-only registers,
 * a queue selector out of range, ring set-up while the queue is ready,
 * a status write that clears bits. The device stays DRIVER_OK and keeps
 * working with the rings it was given.
 */
static void case_regs(struct hostile *h, struct vdev *d)
{
	const char *why = NULL;
	char detail[160];
	uint32_t st0 = 0, st1 = 0, magic = 0, num_max99 = 0, byte_read = 0;

	if (!virtio_init(d, want_features(h, d), &why)) {
		hreport(h, "regs", false, "init failed", why);
		return;
	}
	st0 = vmmio_read(d, VMMIO_STATUS);
	byte_read = *(volatile uint8_t *)(uintptr_t)(d->base + VMMIO_STATUS);
	*(volatile uint16_t *)(uintptr_t)(d->base + VMMIO_QUEUE_NOTIFY) = 0;
	vmmio_write(d, VMMIO_MAGIC, 0);
	vmmio_write(d, VMMIO_QUEUE_DESC_LO, 0xdead0000u); /* queue 0 is ready: refused */
	vmmio_write(d, VMMIO_QUEUE_NUM, 1);
	vmmio_write(d, VMMIO_QUEUE_SEL, 99);
	num_max99 = vmmio_read(d, VMMIO_QUEUE_NUM_MAX);
	vmmio_write(d, VMMIO_QUEUE_READY, 1);
	vmmio_write(d, VMMIO_QUEUE_SEL, 0);
	vmmio_write(d, VMMIO_STATUS, VSTAT_ACKNOWLEDGE); /* clears bits: ignored */
	(void)vmmio_read(d, VMMIO_CONFIG + 0xefc);      /* far beyond any config space */
	magic = vmmio_read(d, VMMIO_MAGIC);
	st1 = vmmio_read(d, VMMIO_STATUS);
	bool ok = good_request(h, d, &why);

	if (!why && magic != VMMIO_MAGIC_VALUE)
		why = "MagicValue changed after a write";
	else if (!why && num_max99 != 0)
		why = "QueueNumMax of a queue that does not exist is not 0";
	else if (!why && st1 != st0)
		why = "Status changed after refused accesses";
	else if (!why && !ok)
		why = "a request failed after refused accesses";
	format(detail, sizeof(detail),
	       "dev=%s status=0x%x->0x%x byte_read=0x%x magic=0x%x num_max(99)=%u",
	       dev_name(h, d), st0, st1, byte_read, magic, num_max99);
	hreport(h, "regs", why == NULL, detail, why);
}

/* QueueNotify naming queues that do not exist: ignored. */
static void case_kick(struct hostile *h, struct vdev *d)
{
	const char *why = NULL;
	char detail[96];

	if (!virtio_init(d, want_features(h, d), &why)) {
		hreport(h, "kick", false, "init failed", why);
		return;
	}
	vmmio_write(d, VMMIO_QUEUE_NOTIFY, 7);
	vmmio_write(d, VMMIO_QUEUE_NOTIFY, 0xffffffffu);
	bool ok = good_request(h, d, &why);
	uint32_t st = vmmio_read(d, VMMIO_STATUS);
	if (!why && (st & VSTAT_NEEDS_RESET))
		why = "DEVICE_NEEDS_RESET after kicks of unknown queues";
	else if (!why && !ok)
		why = "a request failed after kicks of unknown queues";
	format(detail, sizeof(detail), "dev=%s status=0x%x", dev_name(h, d), st);
	hreport(h, "kick", why == NULL, detail, why);
}

/*
 * Malformed virtio-blk requests on a well-formed chain. The spec leaves
 * the device's answer open; any of IOERR/UNSUPP or NEEDS_RESET will do,
 * silence will not, and a device that wrote into a readable buffer or
 * called the request OK fails.
 */
enum outcome { OUT_HANG, OUT_DONE, OUT_RESET };

static enum outcome wait_outcome(struct vdev *d, uint32_t *len)
{
	volatile uint16_t *uidx = (volatile uint16_t *)(vq_used(d) + 2);
	uint64_t start = rdtsc();

	for (unsigned spin = 0;; spin++) {
		if (*uidx != d->last_used) {
			uint32_t id;
			vq_wait(d, &id, len);
			return OUT_DONE;
		}
		if ((spin & 63) == 63 && (vmmio_read(d, VMMIO_STATUS) & VSTAT_NEEDS_RESET))
			return OUT_RESET;
		if (rdtsc() - start > VIRTIO_TIMEOUT_TSC)
			return OUT_HANG;
		for (unsigned i = 0; i < 32; i++)
			cpu_relax();
	}
}

struct blkfmt {
	const char *name;
	unsigned n;
	struct {
		uint32_t off, len;
		uint16_t flags;
	} v[3];
	uint32_t hdr_len;  /* bytes of H_HDR that are the request header */
	bool ok_allowed;   /* an OK status is acceptable (unspecified by the spec) */
};

#define W VRING_DESC_F_WRITE
static const struct blkfmt blkfmts[] = {
    {"nostatus", 1, {{H_HDR, 16, 0}}, 16, false},
    {"hdrw", 2, {{H_HDR, 16, W}, {H_STATUS, 1, W}}, 16, false},
    {"short", 2, {{H_HDR, 8, 0}, {H_STATUS, 1, W}}, 8, false},
    {"partial", 3, {{H_HDR, 16, 0}, {H_BUF, 100, W}, {H_STATUS, 1, W}}, 16, true},
    {"statusro", 3, {{H_HDR, 16, 0}, {H_BUF, 512, W}, {H_STATUS, 1, 0}}, 16, false},
};
#undef W

static void case_blkfmt(struct hostile *h, struct vdev *d)
{
	char detail[192];
	size_t dl = 0;
	const char *why = NULL;

	detail[0] = '\0';
	for (unsigned k = 0; k < ARRAY_SIZE(blkfmts); k++) {
		const struct blkfmt *f = &blkfmts[k];
		struct vbuf v[3];
		uint8_t hdr[16] = {0}; /* IN, sector 0 */
		uint32_t len = 0;
		volatile uint8_t *stp = vdma(d, H_STATUS);

		if (!virtio_init(d, want_features(h, d), &why))
			break;
		memcpy(vdma(d, H_HDR), hdr, sizeof(hdr));
		*stp = 0xee;
		for (unsigned i = 0; i < f->n; i++)
			v[i] = (struct vbuf){vdma_gpa(d, f->v[i].off), f->v[i].len, f->v[i].flags};
		vq_publish(d, vq_add(d, v, f->n));
		vq_kick(d);
		enum outcome o = wait_outcome(d, &len);
		const char *what = "hang";
		if (o == OUT_RESET) {
			what = "reset";
		} else if (o == OUT_DONE) {
			uint8_t s = *stp;
			what = s == 0 ? "ok" : s == 1 ? "ioerr" : s == 2 ? "unsupp" : "done";
			/* nostatus/statusro: the device had no writable status byte. */
			if (memcmp(vdma(d, H_HDR), hdr, f->hdr_len) != 0 && !(f->v[0].flags & VRING_DESC_F_WRITE))
				why = "the device wrote into the readable request header";
			else if (f->v[f->n - 1].flags == 0 && s != 0xee)
				why = "the device wrote into a readable status byte";
			else if (s == 0 && !f->ok_allowed)
				why = "a malformed request completed with status OK";
		} else {
			why = "neither a completion nor DEVICE_NEEDS_RESET";
		}
		dl += format(detail + dl, sizeof(detail) - dl, "%s%s=%s", dl ? " " : "", f->name,
		             what);
		const char *rwhy = NULL;
		if (!recover(h, d, &rwhy) && !why)
			why = rwhy;
		if (why)
			break;
	}
	hreport(h, "blkfmt", why == NULL, detail, why);
}

void test_virtio_hostile(const struct boot_info *bi)
{
	const struct virtio_bus *b = virtio_setup(bi);
	struct hostile h;
	const char *why = b->error;

	memset(&h, 0, sizeof(h));
	if (why) {
		report("virtio-hostile", false, "error=%s", why);
		return;
	}
	h.blk = virtio_find(bi, VIRTIO_ID_BLOCK);
	h.rng = virtio_find(bi, VIRTIO_ID_ENTROPY);
	struct vdev *victim = h.blk ? h.blk : h.rng;
	struct vdev *other = h.blk ? h.rng : NULL;
	if (!victim) {
		report("virtio-hostile", false, "error=no virtio-blk or virtio-rng device");
		return;
	}
	if (other && !virtio_init(other, want_features(&h, other), &why)) {
		report("virtio-hostile", false, "error=the other device does not initialise: %s", why);
		return;
	}

	case_regs(&h, victim);
	case_kick(&h, victim);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct hcase *c = &cases[i];
		if (c->target == ON_RNG) {
			/* The rng breaks, the blk (if any) keeps working. */
			if (h.rng)
				run_case(&h, c, h.rng, h.blk);
			continue;
		}
		run_case(&h, c, victim, other);
	}
	if (h.blk)
		case_blkfmt(&h, h.blk);

	if (h.isolation_checks) {
		report("virtio-hostile-isolation", h.isolation_failed == 0,
		       "requests=%u failed=%u%s%s", h.isolation_checks, h.isolation_failed,
		       h.isolation_error ? " error=" : "",
		       h.isolation_error ? h.isolation_error : "");
		note_result(&h, "isolation", h.isolation_failed == 0);
	} else {
		report("virtio-hostile-isolation", true, "skipped=only-one-device");
	}
	virtio_reset(victim);
	if (other)
		virtio_reset(other);
	report("virtio-hostile", h.passed == h.cases, "cases=%u passed=%u victim=%s other=%s%s%s",
	       h.cases, h.passed, dev_name(&h, victim), other ? dev_name(&h, other) : "none",
	       h.passed == h.cases ? "" : " failed=", h.passed == h.cases ? "" : h.failed);
}
