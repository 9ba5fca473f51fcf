/*
 * What the system-mode tests share (test_soft_system.c: exceptions,
 * interrupts and system instructions in 64-bit mode; test_soft_sysmodes.c:
 * real, protected and compatibility mode and the transitions between
 * privilege levels): a system-mode CPU over sysmem and one RAM buffer, with
 * a fake platform (a port log, a programmable interrupt controller). The
 * fixture builds a Linux-like GDT (x86-64 Linux's selectors), identity-
 * mapped 2 MiB pages for the first 4 MiB (user accessible), an IDT and a
 * 64-bit TSS, and starts in 64-bit mode at CPL 0 through cpu_set_sregs,
 * the adapter's path. Programs are hand-assembled; the assembly is in the
 * comment above each array.
 */
#ifndef EMBER_TEST_SOFT_SYSTEM_H
#define EMBER_TEST_SOFT_SYSTEM_H

#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"
#include "accel/soft/physmap.h"
#include "accel/soft/sysmem.h"
#include "arch/x86/cpu_state.h"

#define RAM_SIZE (4u << 20)
#define GDT      0x1000
#define PML4     0x2000
#define IDT      0x5000
#define TSS      0x6000
#define KCODE    0x10000
#define HANDLERS 0x11000
#define UCODE    0x20000
#define USTACK   0x78000
#define KSTACK   0x80000
#define RSP0     0x90000
#define IST1     0x88000
#define UNMAPPED 0x40000000ULL

/* Linux's GDT (arch/x86/include/asm/segment.h) plus a DPL-3 data segment and the TSS. */
static const uint64_t gdt[] = {
    0,
    0x00cf9b000000ffffULL,                         /* 0x08 KERNEL32_CS */
    0x00af9b000000ffffULL,                         /* 0x10 KERNEL_CS */
    0x00cf93000000ffffULL,                         /* 0x18 KERNEL_DS */
    0x00cffb000000ffffULL,                         /* 0x23 USER32_CS */
    0x00cff3000000ffffULL,                         /* 0x2b USER_DS */
    0x00affb000000ffffULL,                         /* 0x33 USER_CS */
    0x0040f30000001234ULL,                         /* 0x3b data, DPL 3, limit 0x1234 (LSL) */
    0x0000890000000067ULL | ((uint64_t)TSS << 16), /* 0x40 TSS (16 bytes) */
    0,
};

struct env {
	uint8_t *ram;
	struct physmap *pm;
	struct cpu cpu;
	uint32_t out[64][2]; /* port writes: port, value */
	unsigned nout;
	int intr_vector; /* what intr_ack returns once (-1: nothing) */
	unsigned acks;
};

static inline void fake_pio(struct cpu *cpu, uint16_t port, void *data, unsigned size,
                            bool is_write)
{
	struct env *e = cpu->sys_ctx;
	if (is_write) {
		uint32_t v = 0;
		memcpy(&v, data, size);
		if (e->nout < 64) {
			e->out[e->nout][0] = port;
			e->out[e->nout++][1] = v;
		}
	} else {
		uint32_t v = 0x40u + (port & 0xf);
		memcpy(data, &v, size);
	}
}

static inline int fake_intr_ack(struct cpu *cpu)
{
	struct env *e = cpu->sys_ctx;
	int v = e->intr_vector;
	e->intr_vector = -1;
	e->acks++;
	return v;
}

static const struct cpu_sys_ops fake_sys = {.pio = fake_pio, .intr_ack = fake_intr_ack};

static inline void put(struct env *e, uint64_t gpa, const void *src, size_t len)
{
	assert_true(gpa + len <= RAM_SIZE);
	memcpy(e->ram + gpa, src, len);
}

static inline uint64_t get64(struct env *e, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, e->ram + gpa, 8);
	return v;
}

static inline void put64(struct env *e, uint64_t gpa, uint64_t v)
{
	put(e, gpa, &v, 8);
}

/* A 64-bit IDT gate: type 0xe (interrupt) or 0xf (trap). */
static inline void set_gate(struct env *e, unsigned vec, uint64_t handler, unsigned dpl,
                            unsigned ist, unsigned type)
{
	uint64_t lo = (handler & 0xffff) | (0x10ULL << 16) | ((uint64_t)ist << 32) |
	              ((uint64_t)(0x80 | dpl << 5 | type) << 40) | ((handler >> 16) & 0xffff) << 48;
	put64(e, IDT + vec * 16, lo);
	put64(e, IDT + vec * 16 + 8, handler >> 32);
}

static inline struct x86_segment seg(uint16_t sel, unsigned type, unsigned dpl, bool l, bool db)
{
	return (struct x86_segment){.selector = sel,
	                            .limit = 0xffffffff,
	                            .type = (uint8_t)type,
	                            .present = 1,
	                            .dpl = (uint8_t)dpl,
	                            .s = 1,
	                            .l = l,
	                            .db = db,
	                            .g = 1};
}

static inline void long_mode_sregs(struct x86_sregs *sr)
{
	memset(sr, 0, sizeof(*sr));
	sr->cs = seg(0x10, 0xb, 0, true, false);
	sr->ds = sr->es = sr->ss = seg(0x18, 0x3, 0, false, true);
	sr->fs = sr->gs = seg(0, 0x3, 0, false, true);
	sr->fs.unusable = sr->gs.unusable = 1;
	sr->tr = (struct x86_segment){
	    .selector = 0x40, .base = TSS, .limit = 0x67, .type = 0xb, .present = 1};
	sr->ldt = (struct x86_segment){.unusable = 1};
	sr->gdt = (struct x86_dtable){.base = GDT, .limit = sizeof(gdt) - 1};
	sr->idt = (struct x86_dtable){.base = IDT, .limit = 256 * 16 - 1};
	sr->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	sr->cr3 = PML4;
	sr->cr4 = X86_CR4_PAE | (1 << 9) | (1 << 10);
	sr->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
}

/* RAM, GDT, page tables, TSS; the CPU in 64-bit mode at CPL 0 running code at KCODE. */
static struct env *env_new(const void *code, size_t len)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(e->ram);
	memset(e->ram, 0, RAM_SIZE);
	e->pm = physmap_create();
	assert_non_null(e->pm);
	assert_int_equal(physmap_add_ram(e->pm, 0, RAM_SIZE, e->ram), 0);
	e->intr_vector = -1;
	put(e, GDT, gdt, sizeof(gdt));
	put64(e, PML4, (PML4 + 0x1000) | 7);
	put64(e, PML4 + 0x1000, (PML4 + 0x2000) | 7);
	put64(e, PML4 + 0x2000, 0x000000 | 0x87);
	put64(e, PML4 + 0x2008, 0x200000 | 0x87);
	put64(e, TSS + 4, RSP0);
	put64(e, TSS + 0x24, IST1);
	if (code)
		put(e, KCODE, code, len);
	cpu_init_system(&e->cpu, &sysmem_ops, e->pm, &fake_sys);
	e->cpu.sys_ctx = e;
	struct x86_sregs sr;
	long_mode_sregs(&sr);
	cpu_set_sregs(&e->cpu, &sr);
	struct x86_regs r = {.rip = KCODE, .rsp = KSTACK, .rflags = 2};
	cpu_set_regs(&e->cpu, &r);
	return e;
}

static inline void env_free(struct env *e)
{
	cpu_fini(&e->cpu);
	physmap_destroy(e->pm);
	free(e->ram);
	free(e);
}

#endif
