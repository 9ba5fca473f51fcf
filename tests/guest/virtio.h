/*
 * A minimal virtio-mmio driver for the test guest (virtio 1.2: 3.1.1
 * device initialization, 4.2 the MMIO transport version 2, 2.7 the split
 * virtqueue), written for a polled, single-request-at-a-time guest:
 *
 *  - discovery walks the DSDT the way Linux finds virtio-mmio on ACPI
 *    systems: Device() objects with _HID "LNRO0005", their _CRS giving
 *    the window (Memory32Fixed or QWordMemory) and the GSI (Extended
 *    Interrupt or IRQ);
 *  - one queue (queue 0) per device, at most VQ_SIZE_MAX entries, with
 *    VIRTQ_AVAIL_F_NO_INTERRUPT set: completions are found by polling
 *    used->idx in guest memory (no VM exit), with a TSC-bounded spin;
 *  - each register access is one VM exit (~9 us on nested KVM), so the
 *    init sequence uses the few the spec requires (about 27).
 *
 * DMA memory: a fixed area of guest RAM, VIRTIO_DMA_BASE.. +VIRTIO_DMA_SIZE
 * (above the guest image, below any sane initrd placement), checked
 * against the e820 map and the initrd by virtio_setup(). Each device gets
 * a 64 KiB slot: rings at +0, scratch (request headers, status bytes,
 * indirect tables) at VIRTIO_SLOT_SCRATCH, data at VIRTIO_SLOT_DATA.
 */
#ifndef EMBER_TEST_GUEST_VIRTIO_H
#define EMBER_TEST_GUEST_VIRTIO_H

#include "guest.h"

/* MMIO registers (4.2.2). */
#define VMMIO_MAGIC           0x000
#define VMMIO_VERSION         0x004
#define VMMIO_DEVICE_ID       0x008
#define VMMIO_VENDOR_ID       0x00c
#define VMMIO_DEV_FEATURES    0x010
#define VMMIO_DEV_FEATURES_SEL 0x014
#define VMMIO_DRV_FEATURES    0x020
#define VMMIO_DRV_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL       0x030
#define VMMIO_QUEUE_NUM_MAX   0x034
#define VMMIO_QUEUE_NUM       0x038
#define VMMIO_QUEUE_READY     0x044
#define VMMIO_QUEUE_NOTIFY    0x050
#define VMMIO_INT_STATUS      0x060
#define VMMIO_INT_ACK         0x064
#define VMMIO_STATUS          0x070
#define VMMIO_QUEUE_DESC_LO   0x080
#define VMMIO_QUEUE_DESC_HI   0x084
#define VMMIO_QUEUE_DRIVER_LO 0x090
#define VMMIO_QUEUE_DRIVER_HI 0x094
#define VMMIO_QUEUE_DEVICE_LO 0x0a0
#define VMMIO_QUEUE_DEVICE_HI 0x0a4
#define VMMIO_CONFIG_GEN      0x0fc
#define VMMIO_CONFIG          0x100

#define VMMIO_MAGIC_VALUE 0x74726976u /* "virt" */

/* Device status (2.1). */
#define VSTAT_ACKNOWLEDGE 0x01u
#define VSTAT_DRIVER      0x02u
#define VSTAT_DRIVER_OK   0x04u
#define VSTAT_FEATURES_OK 0x08u
#define VSTAT_NEEDS_RESET 0x40u
#define VSTAT_FAILED      0x80u

#define VISR_USED   1u
#define VISR_CONFIG 2u

/* Feature bits (6, 5.2.3). */
#define VF_INDIRECT_DESC (1ULL << 28)
#define VF_EVENT_IDX     (1ULL << 29)
#define VF_VERSION_1     (1ULL << 32)

#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_ENTROPY 4

/* Split ring (2.7.5 - 2.7.8). */
#define VRING_DESC_F_NEXT      1u
#define VRING_DESC_F_WRITE     2u
#define VRING_DESC_F_INDIRECT  4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Limits of this driver. */
#define VIRTIO_MAX_DEVS 8
#define VQ_SIZE_MAX     64

/* The DMA area (see the top of this file). */
#define VIRTIO_DMA_BASE     0x200000ULL
#define VIRTIO_SLOT_SIZE    0x10000ULL
#define VIRTIO_DMA_SIZE     (VIRTIO_MAX_DEVS * VIRTIO_SLOT_SIZE)
#define VIRTIO_SLOT_DESC    0x0000u /* VQ_SIZE_MAX * 16 = 1 KiB */
#define VIRTIO_SLOT_AVAIL   0x0400u /* 4 + 2 * 64 + 2 */
#define VIRTIO_SLOT_USED    0x0800u /* 4 + 8 * 64 + 2 */
#define VIRTIO_SLOT_SCRATCH 0x1000u /* 12 KiB */
#define VIRTIO_SLOT_DATA    0x4000u /* 48 KiB */
#define VIRTIO_DATA_SIZE    (VIRTIO_SLOT_SIZE - VIRTIO_SLOT_DATA)

/* How long a device gets to answer, in TSC ticks (1-4 s on 1-4 GHz hosts). */
#define VIRTIO_TIMEOUT_TSC 4000000000ULL

struct vdev {
	/* From the DSDT. */
	uint64_t base, size;
	uint32_t gsi;
	uint64_t uid;
	char name[5]; /* the AML device name, e.g. V000 */
	/* From the window. */
	uint32_t version, device_id, vendor_id;
	/* The DMA slot (index in discovery order). */
	unsigned slot;
	/* Set by virtio_init. */
	uint64_t offered, features;
	/* Queue 0. */
	uint16_t qsize;      /* negotiated queue size */
	uint16_t qmax;       /* QueueNumMax */
	uint16_t next_desc;  /* next free descriptor (requests never overlap) */
	uint16_t avail_idx;  /* our copy of avail->idx */
	uint16_t last_used;  /* used->idx we have consumed up to */
	/* Overrides for the hostile guest: 0 = the slot's rings. */
	uint64_t desc_override;
};

struct vbuf {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* VRING_DESC_F_WRITE and/or VRING_DESC_F_INDIRECT */
};

struct virtio_bus {
	const char *error; /* why discovery failed, NULL when it did not */
	unsigned nr;
	struct vdev devs[VIRTIO_MAX_DEVS];
};

/* ---- virtio.c ------------------------------------------------------------- */

/*
 * Walks the DSDT for LNRO0005 devices (cached), reads each window's
 * MagicValue, Version and DeviceID, and checks that the DMA area is free
 * RAM. Never fails: bus->error says what went wrong.
 */
const struct virtio_bus *virtio_setup(const struct boot_info *bi);
/* [a, a+len) lies inside one RAM entry of the memory map. */
bool virtio_is_ram(const struct boot_info *bi, uint64_t a, uint64_t len);
/* The first device with this id, or NULL. */
struct vdev *virtio_find(const struct boot_info *bi, uint32_t device_id);

static inline uint32_t vmmio_read(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(d->base + off);
}

static inline void vmmio_write(const struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(d->base + off) = v;
}

static inline uint8_t vcfg_read8(const struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)(uintptr_t)(d->base + VMMIO_CONFIG + off);
}

static inline uint32_t vcfg_read32(const struct vdev *d, uint32_t off)
{
	return vmmio_read(d, VMMIO_CONFIG + off);
}

/* A 64-bit config field read as two halves inside a stable generation (4.2.2.2). */
uint64_t vcfg_read64(const struct vdev *d, uint32_t off);

/* Guest-physical address of offset off in the device's DMA slot, and a pointer to it. */
static inline uint64_t vdma_gpa(const struct vdev *d, uint32_t off)
{
	return VIRTIO_DMA_BASE + d->slot * VIRTIO_SLOT_SIZE + off;
}

static inline void *vdma(const struct vdev *d, uint32_t off)
{
	return (void *)(uintptr_t)vdma_gpa(d, off);
}

/* The rings of queue 0. */
static inline volatile struct vring_desc *vq_desc(const struct vdev *d)
{
	return vdma(d, VIRTIO_SLOT_DESC);
}

static inline volatile uint16_t *vq_avail(const struct vdev *d)
{
	return vdma(d, VIRTIO_SLOT_AVAIL); /* [0] flags, [1] idx, [2..] ring */
}

static inline volatile uint8_t *vq_used(const struct vdev *d)
{
	return vdma(d, VIRTIO_SLOT_USED); /* flags 0, idx 2, ring at 4 (id, len) */
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, feature negotiation (VERSION_1 is always
 * required; want selects the rest from what is offered), FEATURES_OK read
 * back, queue 0 set up with zeroed rings, DRIVER_OK. False with *err set.
 */
bool virtio_init(struct vdev *d, uint64_t want, const char **err);
/* Writes 0 to Status and waits (bounded) for it to read 0. */
bool virtio_reset(struct vdev *d);

/* Writes a descriptor chain for bufs[0..n) and makes its head available; returns the head. */
uint16_t vq_add(struct vdev *d, const struct vbuf *bufs, unsigned n);
/* Puts head into the next available ring slot and publishes avail->idx. */
void vq_publish(struct vdev *d, uint16_t head);
/* QueueNotify (one exit). */
void vq_kick(const struct vdev *d);
/* Polls used->idx until the device returns a buffer; false on timeout. */
bool vq_wait(struct vdev *d, uint32_t *id, uint32_t *len);
/* vq_add + vq_kick + vq_wait, and checks the used id is the head. */
bool vq_run(struct vdev *d, const struct vbuf *bufs, unsigned n, uint32_t *len, const char **err);
/* Reads Status until mask shows up (few exits: a pause spin between reads). */
uint32_t virtio_wait_status(const struct vdev *d, uint32_t mask);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* 32-bit FNV-1a (the initrd test's hash). */
uint32_t virtio_fnv1a(uint32_t h, const void *p, size_t n);
#define FNV1A_INIT 0x811c9dc5u

/* ---- the tests (virtio_tests.c, virtio_hostile.c) ------------------------------ */

void test_virtio_rng(const struct boot_info *bi);
void test_virtio_blk(const struct boot_info *bi);
void test_virtio_blk_read(const struct boot_info *bi);
void test_virtio_blk_bench(const struct boot_info *bi);
void test_virtio_blk_reset(const struct boot_info *bi);
void test_virtio_hostile(const struct boot_info *bi);

/* Shared with the hostile test: one rng request of len bytes; true when it came back. */
bool virtio_rng_request(struct vdev *d, uint32_t len, uint32_t *got, const char **err);
/* One blk read of sector 0 (header, 512 bytes, status); true when status OK. */
bool virtio_blk_read0(struct vdev *d, const char **err);
/* The blk features this driver accepts. */
uint64_t virtio_blk_features(void);

#endif
