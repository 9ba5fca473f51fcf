/*
 * The test guest's virtio-mmio driver (see virtio.h): discovery through
 * the DSDT, the init sequence, queue 0 as a split ring, polled completion.
 *
 * Discovery (ACPI 6.5 chapter 20 AML, 6.4 resource descriptors): the DSDT
 * body is a TermList; we understand the objects a VMM's DSDT is made of --
 * Name, Scope, Device, Method/Field/Processor (skipped by PkgLength),
 * External -- and stop with an error at anything else. A Device whose
 * _HID is the string "LNRO0005" (what Linux's virtio_mmio driver matches
 * on ACPI) is a virtio-mmio transport; its _CRS buffer holds the window
 * (Memory32Fixed, DWord/QWord memory address space) and the interrupt
 * (Extended Interrupt, or a legacy IRQ descriptor).
 */
#include "virtio.h"

extern char _end[];

#define AML_MAX_DEPTH 16

static struct virtio_bus bus;
static bool bus_scanned;

uint32_t virtio_fnv1a(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x01000193u;
	}
	return h;
}

/* ---- AML --------------------------------------------------------------------- */

struct aml_walk {
	const char *error;
};

/* Inside a Device(): what its Name() objects said. */
struct aml_dev {
	char name[5];
	bool lnro;
	bool have_uid;
	uint64_t uid;
	const uint8_t *crs;
	size_t crs_len;
};

enum aml_kind { AML_INT, AML_STR, AML_BUF, AML_PKG };

struct aml_obj {
	enum aml_kind kind;
	uint64_t value;        /* AML_INT */
	const uint8_t *data;   /* AML_STR (NUL-terminated), AML_BUF */
	size_t len;            /* AML_BUF */
};

/* PkgLength (20.2.4): sets *pkg_end (the length counts its own bytes). */
static bool aml_pkg_length(const uint8_t **pp, const uint8_t *end, const uint8_t **pkg_end)
{
	const uint8_t *p = *pp;

	if (p >= end)
		return false;
	unsigned n = p[0] >> 6;
	if ((size_t)(end - p) < 1 + n)
		return false;
	uint32_t len;
	if (n == 0) {
		len = p[0] & 0x3f;
	} else {
		len = p[0] & 0x0f;
		for (unsigned i = 0; i < n; i++)
			len |= (uint32_t)p[1 + i] << (4 + 8 * i);
	}
	if (len < 1 + n || len > (size_t)(end - p))
		return false;
	*pkg_end = p + len;
	*pp = p + 1 + n;
	return true;
}

/* NameString (20.2.2); seg gets its last NameSeg ("" for NullName). */
static bool aml_name_string(const uint8_t **pp, const uint8_t *end, char seg[5])
{
	const uint8_t *p = *pp;
	unsigned nsegs;

	if (p < end && *p == '\\')
		p++;
	else
		while (p < end && *p == '^')
			p++;
	if (p >= end)
		return false;
	if (*p == 0x00) {
		nsegs = 0;
		p++;
	} else if (*p == 0x2e) { /* DualNamePrefix */
		nsegs = 2;
		p++;
	} else if (*p == 0x2f) { /* MultiNamePrefix SegCount */
		if (p + 1 >= end)
			return false;
		nsegs = p[1];
		p += 2;
	} else {
		nsegs = 1;
	}
	if ((size_t)(end - p) < 4 * (size_t)nsegs)
		return false;
	for (unsigned i = 0; i < nsegs; i++) {
		char c = (char)p[4 * i];
		if (!((c >= 'A' && c <= 'Z') || c == '_'))
			return false;
	}
	seg[0] = '\0';
	if (nsegs) {
		memcpy(seg, p + 4 * (nsegs - 1), 4);
		seg[4] = '\0';
	}
	*pp = p + 4 * nsegs;
	return true;
}

/* A DataRefObject: integer constants, String, Buffer, Package. */
static bool aml_data_object(const uint8_t **pp, const uint8_t *end, struct aml_obj *o)
{
	const uint8_t *p = *pp, *pend;
	unsigned width = 0;

	if (p >= end)
		return false;
	uint8_t op = *p++;
	switch (op) {
	case 0x00: /* ZeroOp */
	case 0x01: /* OneOp */
		o->kind = AML_INT;
		o->value = op;
		*pp = p;
		return true;
	case 0xff: /* OnesOp */
		o->kind = AML_INT;
		o->value = ~0ULL;
		*pp = p;
		return true;
	case 0x0a:
		width = 1;
		break;
	case 0x0b:
		width = 2;
		break;
	case 0x0c:
		width = 4;
		break;
	case 0x0e:
		width = 8;
		break;
	case 0x0d: { /* String: ASCII chars, NUL */
		const uint8_t *s = p;
		while (p < end && *p)
			p++;
		if (p >= end)
			return false;
		o->kind = AML_STR;
		o->data = s;
		o->len = (size_t)(p - s);
		*pp = p + 1;
		return true;
	}
	case 0x11: { /* Buffer: PkgLength BufferSize ByteList */
		struct aml_obj size;
		if (!aml_pkg_length(&p, end, &pend) || !aml_data_object(&p, pend, &size) ||
		    size.kind != AML_INT)
			return false;
		o->kind = AML_BUF;
		o->data = p;
		o->len = (size_t)(pend - p);
		if (size.value < o->len)
			o->len = (size_t)size.value;
		*pp = pend;
		return true;
	}
	case 0x12: /* Package */
	case 0x13: /* VarPackage */
		if (!aml_pkg_length(&p, end, &pend))
			return false;
		o->kind = AML_PKG;
		*pp = pend;
		return true;
	default:
		return false;
	}
	if ((size_t)(end - p) < width)
		return false;
	o->kind = AML_INT;
	o->value = 0;
	for (unsigned i = 0; i < width; i++)
		o->value |= (uint64_t)p[i] << (8 * i);
	*pp = p + width;
	return true;
}

/*
 * _CRS of a virtio-mmio device: the first memory range and the first
 * interrupt. Small items: tag bits 6:3 type, 2:0 length; large items:
 * tag, 16-bit length (6.4.1, 6.4.3).
 */
static const char *parse_crs(const uint8_t *p, size_t len, struct vdev *d)
{
	bool mem = false, irq = false;
	size_t i = 0;

	while (i < len) {
		uint8_t tag = p[i];
		if (tag & 0x80) {
			if (len - i < 3)
				return "_CRS: truncated large resource item";
			size_t dlen = rd16(p + i + 1);
			const uint8_t *data = p + i + 3;
			if (len - i - 3 < dlen)
				return "_CRS: large resource item overruns the buffer";
			if (tag == 0x86 && dlen >= 9 && !mem) { /* Memory32Fixed */
				d->base = rd32(data + 1);
				d->size = rd32(data + 5);
				mem = true;
			} else if (tag == 0x87 && dlen >= 23 && data[0] == 0 && !mem) {
				/* DWord address space, memory: min @7, length @19 */
				d->base = rd32(data + 7);
				d->size = rd32(data + 19);
				mem = true;
			} else if (tag == 0x8a && dlen >= 43 && data[0] == 0 && !mem) {
				/* QWord address space, memory: min @11, length @35 */
				d->base = rd64(data + 11);
				d->size = rd64(data + 35);
				mem = true;
			} else if (tag == 0x89 && dlen >= 6 && data[1] >= 1 && !irq) {
				/* Extended Interrupt: flags, count, interrupts[] */
				d->gsi = rd32(data + 2);
				irq = true;
			}
			i += 3 + dlen;
		} else {
			unsigned type = (tag >> 3) & 0x0f, dlen = tag & 7;
			if (type == 0x0f) /* End Tag */
				break;
			if (len - i < 1 + dlen)
				return "_CRS: small resource item overruns the buffer";
			if (type == 0x04 && dlen >= 2 && !irq) { /* IRQ: 16-bit mask */
				uint16_t mask = rd16(p + i + 1);
				if (mask) {
					d->gsi = (uint32_t)__builtin_ctz(mask);
					irq = true;
				}
			}
			i += 1 + dlen;
		}
	}
	if (!mem)
		return "LNRO0005 device without a memory resource in _CRS";
	if (!irq)
		return "LNRO0005 device without an interrupt in _CRS";
	return NULL;
}

static bool seg_is(const char *seg, const char *name)
{
	return memcmp(seg, name, 5) == 0;
}

static void add_device(struct aml_walk *w, const struct aml_dev *ad)
{
	if (!ad->crs) {
		w->error = "LNRO0005 device without a _CRS buffer";
		return;
	}
	if (bus.nr >= VIRTIO_MAX_DEVS) {
		w->error = "more LNRO0005 devices than the test guest handles";
		return;
	}
	struct vdev *d = &bus.devs[bus.nr];
	memset(d, 0, sizeof(*d));
	const char *why = parse_crs(ad->crs, ad->crs_len, d);
	if (why) {
		w->error = why;
		return;
	}
	memcpy(d->name, ad->name, 5);
	d->uid = ad->have_uid ? ad->uid : bus.nr;
	d->slot = bus.nr;
	bus.nr++;
}

static bool aml_term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end,
                          struct aml_dev *dev, unsigned depth);

static bool aml_device(struct aml_walk *w, const uint8_t **pp, const uint8_t *end, unsigned depth)
{
	const uint8_t *p = *pp, *pend;
	struct aml_dev ad;

	memset(&ad, 0, sizeof(ad));
	if (!aml_pkg_length(&p, end, &pend) || !aml_name_string(&p, pend, ad.name)) {
		w->error = "DSDT: bad Device() header";
		return false;
	}
	if (!aml_term_list(w, p, pend, &ad, depth + 1))
		return false;
	if (ad.lnro)
		add_device(w, &ad);
	*pp = pend;
	return !w->error;
}

static bool aml_term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end,
                          struct aml_dev *dev, unsigned depth)
{
	const uint8_t *pend;
	char seg[5];

	if (depth > AML_MAX_DEPTH) {
		w->error = "DSDT: objects nested too deep";
		return false;
	}
	while (p < end) {
		uint8_t op = *p++;
		switch (op) {
		case 0x08: { /* NameOp NameString DataRefObject */
			struct aml_obj o;
			if (!aml_name_string(&p, end, seg) || !aml_data_object(&p, end, &o)) {
				w->error = "DSDT: Name() with an object the guest does not parse";
				return false;
			}
			if (!dev)
				break;
			if (seg_is(seg, "_HID") && o.kind == AML_STR && o.len == 8 &&
			    memcmp(o.data, "LNRO0005", 8) == 0)
				dev->lnro = true;
			else if (seg_is(seg, "_UID") && o.kind == AML_INT) {
				dev->uid = o.value;
				dev->have_uid = true;
			} else if (seg_is(seg, "_CRS") && o.kind == AML_BUF) {
				dev->crs = o.data;
				dev->crs_len = o.len;
			}
			break;
		}
		case 0x10: /* ScopeOp PkgLength NameString TermList */
			if (!aml_pkg_length(&p, end, &pend) || !aml_name_string(&p, pend, seg)) {
				w->error = "DSDT: bad Scope() header";
				return false;
			}
			if (!aml_term_list(w, p, pend, NULL, depth + 1))
				return false;
			p = pend;
			break;
		case 0x14: /* MethodOp: skipped whole */
			if (!aml_pkg_length(&p, end, &pend)) {
				w->error = "DSDT: bad Method() length";
				return false;
			}
			p = pend;
			break;
		case 0x15: /* ExternalOp NameString ObjectType ArgumentCount */
			if (!aml_name_string(&p, end, seg) || end - p < 2) {
				w->error = "DSDT: bad External()";
				return false;
			}
			p += 2;
			break;
		case 0x5b: { /* ExtOpPrefix */
			if (p >= end) {
				w->error = "DSDT: truncated extended opcode";
				return false;
			}
			uint8_t ext = *p++;
			if (ext == 0x82) { /* Device */
				if (!aml_device(w, &p, end, depth))
					return false;
			} else if (ext == 0x80) {
				/* OperationRegion: NameString RegionSpace Offset Length
				 * (constant offsets and lengths only) */
				struct aml_obj off, len;
				if (!aml_name_string(&p, end, seg) || p >= end || (p++, false) ||
				    !aml_data_object(&p, end, &off) || !aml_data_object(&p, end, &len) ||
				    off.kind != AML_INT || len.kind != AML_INT) {
					w->error = "DSDT: an OperationRegion() the guest does not parse";
					return false;
				}
			} else if (ext == 0x01) { /* Mutex: NameString SyncFlags */
				if (!aml_name_string(&p, end, seg) || p >= end) {
					w->error = "DSDT: bad Mutex()";
					return false;
				}
				p++;
			} else if (ext == 0x81 || (ext >= 0x83 && ext <= 0x87)) {
				/* Field, Processor, PowerRes, ThermalZone, IndexField, BankField */
				if (!aml_pkg_length(&p, end, &pend)) {
					w->error = "DSDT: bad extended object length";
					return false;
				}
				p = pend;
			} else {
				w->error = "DSDT: an extended AML opcode the guest does not parse";
				return false;
			}
			break;
		}
		default:
			w->error = "DSDT: an AML opcode the guest does not parse";
			return false;
		}
	}
	return true;
}

/* ---- setup ------------------------------------------------------------------------ */

/* [a, a+len) inside one RAM entry of the memory map. */
bool virtio_is_ram(const struct boot_info *bi, uint64_t a, uint64_t len)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_range *m = &bi->mem[i];
		if (m->type == 1 && a >= m->addr && a + len <= m->addr + m->size)
			return true;
	}
	return false;
}

const struct virtio_bus *virtio_setup(const struct boot_info *bi)
{
	if (bus_scanned)
		return &bus;
	bus_scanned = true;

	uint64_t lo = VIRTIO_DMA_BASE, hi = VIRTIO_DMA_BASE + VIRTIO_DMA_SIZE;
	if ((uint64_t)(uintptr_t)_end > lo) {
		bus.error = "the guest image reaches into the DMA area";
		return &bus;
	}
	if (!virtio_is_ram(bi, lo, hi - lo)) {
		bus.error = "the DMA area 0x200000-0x280000 is not RAM in the memory map";
		return &bus;
	}
	if (bi->initrd_size && bi->initrd_addr < hi && bi->initrd_addr + bi->initrd_size > lo) {
		bus.error = "the initrd overlaps the DMA area 0x200000-0x280000";
		return &bus;
	}

	const struct acpi_info *a = acpi_scan(bi);
	if (!a->dsdt) {
		bus.error = a->error ? a->error : "no DSDT";
		return &bus;
	}
	struct aml_walk w = {NULL};
	const uint8_t *dsdt = a->dsdt;
	aml_term_list(&w, dsdt + 36, dsdt + rd32(dsdt + 4), NULL, 0);
	if (w.error) {
		bus.error = w.error;
		return &bus;
	}
	for (unsigned i = 0; i < bus.nr; i++) {
		struct vdev *d = &bus.devs[i];
		if (d->size < 0x200 || d->base < LAYOUT_MMIO_HOLE_GPA ||
		    d->base + d->size > LAYOUT_MMIO_HOLE_END) {
			bus.error = "an LNRO0005 window is too small or outside the 32-bit MMIO hole";
			return &bus;
		}
		if (vmmio_read(d, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE) {
			bus.error = "an LNRO0005 window does not read MagicValue \"virt\"";
			return &bus;
		}
		d->version = vmmio_read(d, VMMIO_VERSION);
		d->device_id = vmmio_read(d, VMMIO_DEVICE_ID);
		d->vendor_id = vmmio_read(d, VMMIO_VENDOR_ID);
		if (d->version != 2) {
			bus.error = "a virtio-mmio device is not Version 2 (legacy)";
			return &bus;
		}
	}
	return &bus;
}

struct vdev *virtio_find(const struct boot_info *bi, uint32_t device_id)
{
	virtio_setup(bi);
	for (unsigned i = 0; i < bus.nr; i++)
		if (bus.devs[i].device_id == device_id)
			return &bus.devs[i];
	return NULL;
}

/* ---- device ----------------------------------------------------------------------- */

uint64_t vcfg_read64(const struct vdev *d, uint32_t off)
{
	uint32_t gen, lo, hi;

	for (unsigned tries = 0; tries < 16; tries++) {
		gen = vmmio_read(d, VMMIO_CONFIG_GEN);
		lo = vcfg_read32(d, off);
		hi = vcfg_read32(d, off + 4);
		if (vmmio_read(d, VMMIO_CONFIG_GEN) == gen)
			break;
	}
	return (uint64_t)hi << 32 | lo;
}

uint32_t virtio_wait_status(const struct vdev *d, uint32_t mask)
{
	uint64_t start = rdtsc();
	uint32_t s;

	for (;;) {
		s = vmmio_read(d, VMMIO_STATUS);
		if ((s & mask) || rdtsc() - start > VIRTIO_TIMEOUT_TSC)
			return s;
		for (unsigned i = 0; i < 256; i++)
			cpu_relax();
	}
}

bool virtio_reset(struct vdev *d)
{
	uint64_t start = rdtsc();

	vmmio_write(d, VMMIO_STATUS, 0);
	/* 4.2.3.1.1 / 2.4.2: wait until the reset is visible before reinitialising. */
	while (vmmio_read(d, VMMIO_STATUS) != 0) {
		if (rdtsc() - start > VIRTIO_TIMEOUT_TSC)
			return false;
		for (unsigned i = 0; i < 256; i++)
			cpu_relax();
	}
	return true;
}

bool virtio_init(struct vdev *d, uint64_t want, const char **err)
{
	if (!virtio_reset(d)) {
		*err = "Status does not read 0 after a reset";
		return false;
	}
	vmmio_write(d, VMMIO_STATUS, VSTAT_ACKNOWLEDGE);
	vmmio_write(d, VMMIO_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);

	vmmio_write(d, VMMIO_DEV_FEATURES_SEL, 0);
	uint64_t offered = vmmio_read(d, VMMIO_DEV_FEATURES);
	vmmio_write(d, VMMIO_DEV_FEATURES_SEL, 1);
	offered |= (uint64_t)vmmio_read(d, VMMIO_DEV_FEATURES) << 32;
	d->offered = offered;
	if (!(offered & VF_VERSION_1)) {
		*err = "the device does not offer VIRTIO_F_VERSION_1";
		vmmio_write(d, VMMIO_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FAILED);
		return false;
	}
	d->features = (offered & want) | VF_VERSION_1;
	vmmio_write(d, VMMIO_DRV_FEATURES_SEL, 0);
	vmmio_write(d, VMMIO_DRV_FEATURES, (uint32_t)d->features);
	vmmio_write(d, VMMIO_DRV_FEATURES_SEL, 1);
	vmmio_write(d, VMMIO_DRV_FEATURES, (uint32_t)(d->features >> 32));

	uint32_t st = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK;
	vmmio_write(d, VMMIO_STATUS, st);
	if (!(vmmio_read(d, VMMIO_STATUS) & VSTAT_FEATURES_OK)) {
		*err = "FEATURES_OK did not stick";
		vmmio_write(d, VMMIO_STATUS, st | VSTAT_FAILED);
		return false;
	}

	/* Queue 0 (4.2.3.2). */
	vmmio_write(d, VMMIO_QUEUE_SEL, 0);
	if (vmmio_read(d, VMMIO_QUEUE_READY) != 0) {
		*err = "QueueReady is not 0 after a reset";
		return false;
	}
	uint32_t max = vmmio_read(d, VMMIO_QUEUE_NUM_MAX);
	if (max == 0 || max > 32768) {
		*err = "QueueNumMax is 0 or above 32768";
		return false;
	}
	d->qmax = (uint16_t)max;
	uint16_t size = VQ_SIZE_MAX;
	while (size > max)
		size >>= 1;
	d->qsize = size;
	d->next_desc = d->avail_idx = d->last_used = 0;
	memset(vdma(d, 0), 0, VIRTIO_SLOT_SCRATCH);
	/* Polled: ask the device not to interrupt for used buffers. */
	vq_avail(d)[0] = VRING_AVAIL_F_NO_INTERRUPT;

	uint64_t desc = d->desc_override ? d->desc_override : vdma_gpa(d, VIRTIO_SLOT_DESC);
	uint64_t avail = vdma_gpa(d, VIRTIO_SLOT_AVAIL), used = vdma_gpa(d, VIRTIO_SLOT_USED);
	vmmio_write(d, VMMIO_QUEUE_NUM, size);
	vmmio_write(d, VMMIO_QUEUE_DESC_LO, (uint32_t)desc);
	vmmio_write(d, VMMIO_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
	vmmio_write(d, VMMIO_QUEUE_DRIVER_LO, (uint32_t)avail);
	vmmio_write(d, VMMIO_QUEUE_DRIVER_HI, (uint32_t)(avail >> 32));
	vmmio_write(d, VMMIO_QUEUE_DEVICE_LO, (uint32_t)used);
	vmmio_write(d, VMMIO_QUEUE_DEVICE_HI, (uint32_t)(used >> 32));
	vmmio_write(d, VMMIO_QUEUE_READY, 1);

	vmmio_write(d, VMMIO_STATUS, st | VSTAT_DRIVER_OK);
	return true;
}

/* ---- the split ring ------------------------------------------------------------------ */

uint16_t vq_add(struct vdev *d, const struct vbuf *bufs, unsigned n)
{
	volatile struct vring_desc *desc = vq_desc(d);
	uint16_t mask = (uint16_t)(d->qsize - 1), head = d->next_desc, i = head;

	for (unsigned k = 0; k < n; k++) {
		uint16_t next = (uint16_t)((i + 1) & mask);
		bool more = k + 1 < n;
		desc[i].addr = bufs[k].addr;
		desc[i].len = bufs[k].len;
		desc[i].flags = (uint16_t)(bufs[k].flags | (more ? VRING_DESC_F_NEXT : 0));
		desc[i].next = more ? next : 0;
		i = next;
	}
	d->next_desc = i;
	return head;
}

void vq_publish(struct vdev *d, uint16_t head)
{
	volatile uint16_t *avail = vq_avail(d);

	avail[2 + (d->avail_idx & (d->qsize - 1))] = head;
	d->avail_idx++;
	/* Release: the descriptors and ring entry before the index (2.7.13). */
	__atomic_store_n(&avail[1], d->avail_idx, __ATOMIC_RELEASE);
}

void vq_kick(const struct vdev *d)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vmmio_write(d, VMMIO_QUEUE_NOTIFY, 0);
}

bool vq_wait(struct vdev *d, uint32_t *id, uint32_t *len)
{
	volatile uint8_t *used = vq_used(d);
	volatile uint16_t *used_idx = (volatile uint16_t *)(used + 2);
	uint64_t start = rdtsc();

	while (__atomic_load_n(used_idx, __ATOMIC_ACQUIRE) == d->last_used) {
		if (rdtsc() - start > VIRTIO_TIMEOUT_TSC)
			return false;
		for (unsigned i = 0; i < 32; i++)
			cpu_relax();
	}
	volatile uint32_t *elem = (volatile uint32_t *)(used + 4 + 8 * (d->last_used & (d->qsize - 1)));
	*id = elem[0];
	*len = elem[1];
	d->last_used++;
	return true;
}

bool vq_run(struct vdev *d, const struct vbuf *bufs, unsigned n, uint32_t *len, const char **err)
{
	uint32_t id;

	if (n == 0 || n > d->qsize) {
		*err = "chain longer than the queue";
		return false;
	}
	uint16_t head = vq_add(d, bufs, n);
	vq_publish(d, head);
	vq_kick(d);
	if (!vq_wait(d, &id, len)) {
		*err = "timeout: the device did not return the buffer";
		return false;
	}
	if (id != head) {
		*err = "used element id is not the chain's head";
		return false;
	}
	return true;
}
