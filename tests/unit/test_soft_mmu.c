/*
 * Unit tests for the software CPU's system-mode memory: the physical map,
 * the page walker (sysmem.c), the TLB flushes (tlb.c), MMIO routing (mem.c)
 * and the code cache keyed by physical page (codecache.c), with page tables
 * built by hand in a RAM buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/codecache.h"
#include "accel/soft/cpu.h"
#include "accel/soft/mem.h"
#include "accel/soft/physmap.h"
#include "accel/soft/sysmem.h"
#include "arch/x86/cpu_state.h"

#define RAM_SIZE (8ULL << 20)
#define P        0x001ULL
#define RW       0x002ULL
#define US       0x004ULL
#define A        0x020ULL
#define D        0x040ULL
#define PS       0x080ULL
#define G        0x100ULL
#define NX       (1ULL << 63)
#define CR4_PGE  (1ULL << 7)

#define PF_P    1u
#define PF_W    2u
#define PF_U    4u
#define PF_RSVD 8u
#define PF_I    16u

/* Page-table pages are taken from the top of RAM downwards. */
struct rig {
	uint8_t *ram;
	struct physmap *pm;
	struct cpu *cpu;
	uint64_t next_table;
	/* the fake MMIO bus */
	uint64_t mmio_gpa[16];
	unsigned mmio_size[16];
	bool mmio_write[16];
	uint64_t mmio_data[16];
	unsigned nmmio;
};

static struct rig *cur_rig;

static void fake_mmio(struct cpu *cpu, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct rig *r = cur_rig;
	assert_true(size >= 1 && size <= 8);
	if (r->nmmio < 16) {
		r->mmio_gpa[r->nmmio] = gpa;
		r->mmio_size[r->nmmio] = size;
		r->mmio_write[r->nmmio] = is_write;
		r->mmio_data[r->nmmio] = 0;
		if (is_write)
			memcpy(&r->mmio_data[r->nmmio], data, size);
	}
	r->nmmio++;
	if (!is_write) {
		uint64_t v = 0x1122334455667788ULL ^ gpa;
		memcpy(data, &v, size);
	}
}

static const struct cpu_sys_ops fake_sys = {.mmio = fake_mmio};

static uint64_t *pte_at(struct rig *r, uint64_t gpa)
{
	return (uint64_t *)(r->ram + gpa);
}

static uint64_t new_table(struct rig *r)
{
	r->next_table -= 4096;
	memset(r->ram + r->next_table, 0, 4096);
	return r->next_table;
}

/* The entry for va at level (4 = PML4 ... 1 = PT), creating tables on the way. */
static uint64_t *walk_create(struct rig *r, uint64_t va, int level)
{
	uint64_t table = r->cpu->cr3 & ~0xfffULL;
	for (int l = 4;; l--) {
		uint64_t *e = pte_at(r, table + ((va >> (12 + 9 * (l - 1))) & 511) * 8);
		if (l == level)
			return e;
		if (!(*e & P))
			*e = new_table(r) | P | RW | US;
		table = *e & 0x000ffffffffff000ULL;
	}
}

static void map4k(struct rig *r, uint64_t va, uint64_t gpa, uint64_t flags)
{
	*walk_create(r, va, 1) = gpa | flags;
}

static void cpu_enter_long_mode(struct cpu *cpu, uint64_t cr3)
{
	cpu->user = false;
	cpu->cpl = 0;
	cpu->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP | X86_CR0_ET | X86_CR0_NE;
	cpu->cr4 = X86_CR4_PAE | CR4_PGE | (1ULL << 9);
	cpu->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE;
	cpu->cr3 = cr3;
	cpu->seg[S_CS].attr = 0x209b; /* 64-bit code, DPL 0 */
	cpu->seg[S_CS].selector = 0x10;
	cpu->mode = CPU_MODE_LONG64;
	cpu_tlb_flush_all(cpu);
	code_cache_set_mode(cpu);
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	r->ram = aligned_alloc(4096, RAM_SIZE);
	memset(r->ram, 0, RAM_SIZE);
	r->pm = physmap_create();
	assert_int_equal(physmap_add_ram(r->pm, 0, RAM_SIZE, r->ram), 0);
	r->cpu = calloc(1, sizeof(struct cpu));
	cpu_init_user64(r->cpu, &sysmem_ops, r->pm);
	r->cpu->sys = &fake_sys;
	r->next_table = RAM_SIZE;
	cpu_enter_long_mode(r->cpu, new_table(r));
	cur_rig = r;
	return r;
}

static void rig_free(struct rig *r)
{
	cpu_fini(r->cpu);
	free(r->cpu);
	physmap_destroy(r->pm);
	free(r->ram);
	free(r);
}

/* ---- accesses that may fault ---- */

struct fault {
	int vector; /* -1: none */
	uint32_t error;
	uint64_t cr2;
};

static struct fault last;

static bool do_read(struct cpu *cpu, uint64_t va, uint64_t *v)
{
	last.vector = -1;
	if (setjmp(cpu->exc_jmp)) {
		last = (struct fault){cpu->exc_vector, cpu->exc_error, cpu->cr2};
		return false;
	}
	*v = mem_read64(cpu, NULL, va);
	return true;
}

static bool do_write(struct cpu *cpu, uint64_t va, uint64_t v)
{
	last.vector = -1;
	if (setjmp(cpu->exc_jmp)) {
		last = (struct fault){cpu->exc_vector, cpu->exc_error, cpu->cr2};
		return false;
	}
	mem_write64(cpu, NULL, va, v);
	return true;
}

static bool do_fetch(struct cpu *cpu, uint64_t va)
{
	last.vector = -1;
	if (setjmp(cpu->exc_jmp)) {
		last = (struct fault){cpu->exc_vector, cpu->exc_error, cpu->cr2};
		return false;
	}
	code_cache_fetch_page(cpu, va);
	return true;
}

static void expect_pf(uint32_t error, uint64_t cr2)
{
	assert_int_equal(last.vector, EXC_PF);
	assert_int_equal(last.error, error);
	assert_int_equal(last.cr2, cr2);
}

static void set_cpl(struct cpu *cpu, unsigned cpl)
{
	cpu->cpl = (uint8_t)cpl;
	code_cache_set_mode(cpu);
}

/* ---- tests ---- */

static void test_physmap(void **state)
{
	struct physmap *pm = physmap_create();
	static uint8_t ram[3 * 4096] __attribute__((aligned(4096)));
	assert_int_equal(physmap_add_ram(pm, 0x100000, 2 * 4096, ram), 0);
	assert_int_equal(physmap_add_ram(pm, 0x101000, 4096, ram), -EINVAL);
	assert_int_equal(physmap_add_ram(pm, 0x200001, 4096, ram), -EINVAL);
	assert_int_equal(physmap_add_ram(pm, 0x300000, 0, ram), -EINVAL);
	assert_int_equal(physmap_add_ram(pm, 0x300000, 4096, ram + 2 * 4096), 0);
	assert_ptr_equal(physmap_ptr(pm, 0x100010, 8), ram + 0x10);
	assert_ptr_equal(physmap_ptr(pm, 0x300ff8, 8), ram + 0x2ff8);
	assert_null(physmap_ptr(pm, 0x101ffc, 8)); /* runs off the slot */
	assert_null(physmap_ptr(pm, 0xfee00000, 4));
	assert_null(physmap_find(pm, 0x102000));
	uint64_t gpa = 0;
	assert_non_null(physmap_find_host(pm, ram + 0x1008, &gpa));
	assert_int_equal(gpa, 0x101008);
	physmap_destroy(pm);
}

static void test_paging_off(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	cpu->cr0 = X86_CR0_PE;
	cpu->efer = 0;
	cpu->mode = CPU_MODE_PROT32;
	cpu_tlb_flush_all(cpu);
	uint64_t v = 0;
	memcpy(r->ram + 0x5000, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(do_read(cpu, 0x5000, &v));
	assert_int_equal(v, 0x0807060504030201ULL);
	assert_true(do_write(cpu, 0x5ffc, 0xaabbccddeeff0011ULL)); /* crosses a page */
	assert_int_equal(r->ram[0x5ffc], 0x11);
	assert_int_equal(r->ram[0x6003], 0xaa);
	/* Above RAM: the MMIO bus. */
	assert_true(do_read(cpu, 0xfee00020, &v));
	assert_int_equal(r->nmmio, 1);
	assert_int_equal(r->mmio_gpa[0], 0xfee00020);
	assert_int_equal(r->mmio_size[0], 8);
	assert_int_equal(v, 0x1122334455667788ULL ^ 0xfee00020);
	rig_free(r);
}

static void test_4level_4k_and_ad_bits(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	map4k(r, 0x400000, 0x200000, P | RW | US);
	*(uint64_t *)(r->ram + 0x200010) = 0x1234;
	uint64_t v = 0;
	assert_true(do_read(cpu, 0x400010, &v));
	assert_int_equal(v, 0x1234);
	uint64_t *pte = walk_create(r, 0x400000, 1);
	assert_int_equal(*pte & (A | D), A);
	for (int l = 2; l <= 4; l++)
		assert_true(*walk_create(r, 0x400000, l) & A);
	/* The read fill does not allow writes without D: the write walks and sets it. */
	assert_true(do_write(cpu, 0x400018, 0x5678));
	assert_int_equal(*pte & (A | D), A | D);
	assert_int_equal(*(uint64_t *)(r->ram + 0x200018), 0x5678);
	/* Only the leaf gets D. */
	assert_false(*walk_create(r, 0x400000, 2) & D);
	/* Debug translation touches nothing. */
	uint32_t err = 0;
	assert_int_equal(sysmem_debug_translate(cpu, 0x400abc, CPU_ACCESS_READ, &err), 0x200abc);
	assert_int_equal(sysmem_debug_translate(cpu, 0x800000, CPU_ACCESS_WRITE, &err),
	                 (uint64_t)-1);
	assert_int_equal(err, PF_W);
	rig_free(r);
}

static void test_large_pages(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	/* 2 MiB page: va 0x40000000 -> gpa 0x200000. */
	*walk_create(r, 0x40000000, 2) = 0x200000 | P | RW | PS;
	/* 1 GiB page: the direct map at 0xffff888000000000 -> gpa 0. */
	*walk_create(r, 0xffff888000000000ULL, 3) = 0 | P | RW | PS | G;
	*(uint64_t *)(r->ram + 0x3ff000) = 0xabcdef;
	uint64_t v = 0;
	assert_true(do_read(cpu, 0x401ff000, &v));
	assert_int_equal(v, 0xabcdef);
	assert_true(do_read(cpu, 0xffff8880003ff000ULL, &v));
	assert_int_equal(v, 0xabcdef);
	/* Reserved address bits inside a large page (bit 13 of a 2 MiB PDE). */
	*walk_create(r, 0x40200000, 2) = 0x400000 | (1ULL << 13) | P | RW | PS;
	assert_false(do_read(cpu, 0x40200008, &v));
	expect_pf(PF_P | PF_RSVD, 0x40200008);
	/* INVLPG of any address in a large page drops all of its 4 KiB entries. */
	assert_true(do_write(cpu, 0x40000000, 1));
	*walk_create(r, 0x40000000, 2) = 0x600000 | P | RW | PS;
	assert_true(do_read(cpu, 0x40000000, &v));
	assert_int_equal(v, 1); /* still the old translation */
	cpu_tlb_flush_page(cpu, 0x401ff123);
	assert_true(do_read(cpu, 0x40000000, &v));
	assert_int_equal(v, 0); /* gpa 0x600000 */
	rig_free(r);
}

static void test_faults(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t v;
	map4k(r, 0x400000, 0x200000, P | US); /* user, read-only */
	map4k(r, 0x401000, 0x201000, P | RW); /* supervisor */
	map4k(r, 0x402000, 0x202000, P | RW | US | NX);
	map4k(r, 0x403000, 0x203000, P | RW | US | (1ULL << 50)); /* reserved (MAXPHYADDR 48) */
	/* Not present. */
	assert_false(do_read(cpu, 0x404008, &v));
	expect_pf(0, 0x404008);
	assert_false(do_write(cpu, 0x7000000123, 1));
	expect_pf(PF_W, 0x7000000123);
	/* CR0.WP: a supervisor write to a read-only page faults... */
	assert_false(do_write(cpu, 0x400100, 1));
	expect_pf(PF_P | PF_W, 0x400100);
	/* ...and is allowed without it, but not cached for later (user) writes. */
	cpu->cr0 &= ~X86_CR0_WP;
	cpu_tlb_flush_all(cpu);
	assert_true(do_write(cpu, 0x400100, 7));
	assert_int_equal(r->ram[0x200100], 7);
	set_cpl(cpu, 3);
	assert_false(do_write(cpu, 0x400100, 1));
	expect_pf(PF_P | PF_W | PF_U, 0x400100);
	assert_true(do_read(cpu, 0x400100, &v));
	assert_int_equal(v, 7);
	/* U/S. */
	assert_false(do_read(cpu, 0x401ff9, &v));
	expect_pf(PF_P | PF_U, 0x401ff9);
	/* NX: fetch fault with I/D. */
	assert_false(do_fetch(cpu, 0x402010));
	expect_pf(PF_P | PF_U | PF_I, 0x402010);
	assert_true(do_read(cpu, 0x402010, &v));
	/* Reserved bits. */
	assert_false(do_read(cpu, 0x403000, &v));
	expect_pf(PF_P | PF_U | PF_RSVD, 0x403000);
	/* NX is a reserved bit when EFER.NXE = 0. */
	set_cpl(cpu, 0);
	cpu->efer &= ~X86_EFER_NXE;
	cpu_tlb_flush_all(cpu);
	assert_false(do_read(cpu, 0x402010, &v));
	expect_pf(PF_P | PF_RSVD, 0x402010);
	/* Implicit supervisor accesses at CPL 3 (descriptor tables). */
	set_cpl(cpu, 3);
	last.vector = -1;
	if (!setjmp(cpu->exc_jmp))
		mem_read_slow(cpu, NULL, 0x401000, 8, CPU_ACCESS_READ | CPU_ACCESS_SUPERVISOR);
	assert_int_equal(last.vector, -1);
	/* ... did not open the page to user accesses. */
	assert_false(do_read(cpu, 0x401000, &v));
	expect_pf(PF_P | PF_U, 0x401000);
	rig_free(r);
}

static void test_tlb_flushes_and_global(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t v;
	map4k(r, 0x400000, 0x200000, P | RW);
	map4k(r, 0xffffffff81001000ULL, 0x210000, P | RW | G);
	r->ram[0x200000] = 1;
	r->ram[0x201000] = 2;
	r->ram[0x210000] = 3;
	r->ram[0x211000] = 4;
	assert_true(do_read(cpu, 0x400000, &v));
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	/* Remap both without telling the CPU: the TLB keeps the old translations. */
	map4k(r, 0x400000, 0x201000, P | RW);
	map4k(r, 0xffffffff81001000ULL, 0x211000, P | RW | G);
	assert_true(do_read(cpu, 0x400000, &v));
	assert_int_equal(v & 0xff, 1);
	/* A CR3 load keeps the global page. */
	cpu_tlb_flush(cpu);
	assert_true(do_read(cpu, 0x400000, &v));
	assert_int_equal(v & 0xff, 2);
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	assert_int_equal(v & 0xff, 3);
	/* INVLPG drops it. */
	cpu_tlb_flush_page(cpu, 0xffffffff81001abcULL);
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	assert_int_equal(v & 0xff, 4);
	/* So does a full flush; without CR4.PGE a CR3 load drops global pages too. */
	map4k(r, 0xffffffff81001000ULL, 0x210000, P | RW | G);
	cpu_tlb_flush_all(cpu);
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	assert_int_equal(v & 0xff, 3);
	cpu->cr4 &= ~CR4_PGE;
	cpu_tlb_flush_all(cpu);
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	map4k(r, 0xffffffff81001000ULL, 0x211000, P | RW | G);
	cpu_tlb_flush(cpu);
	assert_true(do_read(cpu, 0xffffffff81001000ULL, &v));
	assert_int_equal(v & 0xff, 4);
	rig_free(r);
}

static void test_privilege_banks(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t v;
	map4k(r, 0x400000, 0x200000, P | RW);      /* supervisor */
	map4k(r, 0x501000, 0x300000, P | RW | US); /* user */
	assert_true(do_read(cpu, 0x400000, &v));
	assert_true(do_write(cpu, 0x501000, 5)); /* the kernel writes a user page */
	set_cpl(cpu, 3);
	assert_false(do_read(cpu, 0x400000, &v));
	expect_pf(PF_P | PF_U, 0x400000);
	assert_true(do_read(cpu, 0x501000, &v));
	assert_int_equal(v, 5);
	set_cpl(cpu, 0);
	/* The kernel's entry survived the trip to user mode. */
	uint64_t *pte = walk_create(r, 0x400000, 1);
	*pte = 0; /* would fault if walked again */
	assert_true(do_read(cpu, 0x400000, &v));
	rig_free(r);
}

static void test_mmio_routing(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t v;
	map4k(r, 0xffffffffff5fc000ULL, 0xfee00000, P | RW);
	map4k(r, 0xffffffffff5fb000ULL, 0x200000, P | RW);
	uint64_t base = 0xffffffffff5fc000ULL;
	cpu->cur = NULL;
	last.vector = -1;
	if (!setjmp(cpu->exc_jmp)) {
		assert_int_equal(mem_read32(cpu, NULL, base + 0x20),
		                 (uint32_t)(0x55667788 ^ 0xfee00020));
		mem_write32(cpu, NULL, base + 0xb0, 0);
		/* Again: the TLB entry keeps sending accesses to the bus. */
		mem_write32(cpu, NULL, base + 0xb0, 0x77);
		uint8_t buf[16];
		memset(buf, 0xab, sizeof(buf));
		mem_write128(cpu, NULL, base + 0x300, buf);
		/* A read that crosses from RAM into MMIO. */
		r->ram[0x200fff] = 0x42;
		v = mem_read16(cpu, NULL, base - 1);
		assert_int_equal(v & 0xff, 0x42);
		assert_int_equal(v >> 8, (0x88 ^ 0x00));
	}
	assert_int_equal(last.vector, -1);
	assert_int_equal(r->nmmio, 6);
	assert_int_equal(r->mmio_gpa[0], 0xfee00020);
	assert_int_equal(r->mmio_size[0], 4);
	assert_false(r->mmio_write[0]);
	assert_true(r->mmio_write[2]);
	assert_int_equal(r->mmio_data[2], 0x77);
	/* 16 bytes: two 8-byte accesses. */
	assert_int_equal(r->mmio_gpa[3], 0xfee00300);
	assert_int_equal(r->mmio_size[3], 8);
	assert_int_equal(r->mmio_gpa[4], 0xfee00308);
	assert_int_equal(r->mmio_data[4], 0xababababababababULL);
	assert_int_equal(r->mmio_gpa[5], 0xfee00000);
	assert_int_equal(r->mmio_size[5], 1);
	/* LOCKed operations fall back to read + write. */
	assert_null(mem_lock_ptr(cpu, NULL, base + 0x40, 4));
	/* An instruction fetch from MMIO is #GP(0). */
	assert_false(do_fetch(cpu, base));
	assert_int_equal(last.vector, EXC_GP);
	(void)v;
	rig_free(r);
}

/* ---- code ---- */

/* mov eax, imm32; hlt */
static void put_code(uint8_t *p, uint32_t imm)
{
	p[0] = 0xb8;
	memcpy(p + 1, &imm, 4);
	p[5] = 0xf4;
}

static uint32_t run_at(struct cpu *cpu, uint64_t rip)
{
	cpu->rip = rip;
	cpu->gpr[R_RAX] = 0;
	cpu->activity = CPU_ACTIVE; /* the last HLT */
	enum cpu_exit e = cpu_run(cpu, 1000);
	assert_int_equal(e, CPU_EXIT_HLT);
	return (uint32_t)cpu->gpr[R_RAX];
}

static void test_two_processes(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t cr3_a = cpu->cr3;
	uint64_t cr3_b = new_table(r);
	map4k(r, 0x400000, 0x200000, P | RW | US);
	cpu->cr3 = cr3_b;
	map4k(r, 0x400000, 0x300000, P | RW | US);
	put_code(r->ram + 0x200000, 1);
	put_code(r->ram + 0x300000, 2);
	cpu->cr3 = cr3_a;
	cpu_tlb_flush(cpu);
	assert_int_equal(run_at(cpu, 0x400000), 1);
	cpu->cr3 = cr3_b;
	cpu_tlb_flush(cpu);
	assert_int_equal(run_at(cpu, 0x400000), 2);
	cpu->cr3 = cr3_a;
	cpu_tlb_flush(cpu);
	assert_int_equal(run_at(cpu, 0x400000), 1);
	/* Both blocks stay cached: no decoding on the way back. */
	assert_int_equal(cpu->cache->nblocks, 2);
	rig_free(r);
}

static void test_alias_write_invalidates(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	map4k(r, 0xffffffff81000000ULL, 0x200000, P | G);       /* text, read-only */
	map4k(r, 0xffffffffff000000ULL, 0x200000, P | RW | NX); /* text_poke's alias */
	put_code(r->ram + 0x200000, 1);
	assert_int_equal(run_at(cpu, 0xffffffff81000000ULL), 1);
	last.vector = -1;
	if (!setjmp(cpu->exc_jmp))
		mem_write32(cpu, NULL, 0xffffffffff000001ULL, 9);
	assert_int_equal(last.vector, -1);
	assert_int_equal(run_at(cpu, 0xffffffff81000000ULL), 9);
	rig_free(r);
}

static void test_dma_write_invalidates(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	map4k(r, 0x400000, 0x200000, P | RW | US);
	put_code(r->ram + 0x200000, 1);
	assert_int_equal(run_at(cpu, 0x400000), 1);
	/* A device writes the page (virtio-blk reading a program into the page cache). */
	put_code(r->ram + 0x200000, 3);
	sysmem_dma_written(r->pm, 0x200000, 6);
	assert_true(atomic_load(&cpu->interrupt_request) & CPU_INT_MEM);
	assert_int_equal(run_at(cpu, 0x400000), 3);
	/* Nothing there: no request. */
	sysmem_dma_written(r->pm, 0x300000, 4096);
	sysmem_dma_written(r->pm, 0xfee00000, 4); /* not RAM */
	assert_false(atomic_load(&cpu->interrupt_request) & CPU_INT_MEM);
	rig_free(r);
}

static void test_cross_cpu_invalidation(void **state)
{
	struct rig *r = rig_new();
	struct cpu *a = r->cpu;
	struct cpu *b = calloc(1, sizeof(struct cpu));
	cpu_init_user64(b, &sysmem_ops, r->pm);
	b->sys = &fake_sys;
	cpu_enter_long_mode(b, a->cr3);
	map4k(r, 0x400000, 0x200000, P | RW);
	put_code(r->ram + 0x200000, 1);
	/* A's write entry for the page is filled before the page holds code. */
	assert_true(do_write(a, 0x400100, 0));
	assert_int_equal(run_at(b, 0x400000), 1);
	/* B's decode asked A to drop its fast write entries at its next block boundary. */
	assert_true(atomic_load(&a->interrupt_request) & CPU_INT_MEM);
	code_cache_reap(a);
	assert_false(atomic_load(&a->interrupt_request) & CPU_INT_MEM);
	/* A patches the code: B is told, and drops the block before running it again. */
	last.vector = -1;
	if (!setjmp(a->exc_jmp))
		mem_write32(a, NULL, 0x400001, 7);
	assert_int_equal(last.vector, -1);
	assert_true(atomic_load(&b->interrupt_request) & CPU_INT_MEM);
	assert_int_equal(run_at(b, 0x400000), 7);
	/* Once B has no code left on the page, writes stop being routed to it. */
	assert_int_equal(run_at(a, 0x400000), 7);
	cpu_code_flush(b);
	last.vector = -1;
	if (!setjmp(a->exc_jmp))
		mem_write32(a, NULL, 0x400001, 8);
	code_cache_reap(b);
	assert_int_equal(run_at(a, 0x400000), 8);
	cpu_fini(b);
	free(b);
	rig_free(r);
}

/* mov rsi, src ; mov rdi, dst ; mov ecx, 4 ; rep movsb ; hlt */
static void put_rep_movsb(uint8_t *p, uint64_t src, uint64_t dst)
{
	p[0] = 0x48, p[1] = 0xbe;
	memcpy(p + 2, &src, 8);
	p[10] = 0x48, p[11] = 0xbf;
	memcpy(p + 12, &dst, 8);
	memcpy(p + 20, "\xb9\x04\x00\x00\x00\xf3\xa4\xf4", 8);
}

static void test_string_mmio(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t mmio = 0xffffffffff5fc000ULL;
	map4k(r, mmio, 0xfee00000, P | RW);
	map4k(r, 0x400000, 0x200000, P | RW);
	map4k(r, 0x401000, 0x201000, P | RW);
	memcpy(r->ram + 0x200100, "ABCD", 4);
	/* RAM -> MMIO: one device write per element, nothing read from the device. */
	put_rep_movsb(r->ram + 0x201000, 0x400100, mmio + 0x10);
	cpu->rip = 0x401000;
	assert_int_equal(cpu_run(cpu, 100), CPU_EXIT_HLT);
	assert_int_equal(r->nmmio, 4);
	for (unsigned k = 0; k < 4; k++) {
		assert_true(r->mmio_write[k]);
		assert_int_equal(r->mmio_gpa[k], 0xfee00010 + k);
		assert_int_equal(r->mmio_size[k], 1);
		assert_int_equal(r->mmio_data[k], (uint64_t) "ABCD"[k]);
	}
	/* MMIO -> RAM: one device read per element. */
	r->nmmio = 0;
	put_rep_movsb(r->ram + 0x201800, mmio + 0x20, 0x400200);
	cpu->rip = 0x401800;
	cpu->activity = CPU_ACTIVE;
	assert_int_equal(cpu_run(cpu, 100), CPU_EXIT_HLT);
	assert_int_equal(r->nmmio, 4);
	for (unsigned k = 0; k < 4; k++) {
		assert_false(r->mmio_write[k]);
		assert_int_equal(r->ram[0x200200 + k], (uint8_t)(0x88 ^ (0x20 + k)));
	}
	rig_free(r);
}

static void test_pae_and_32bit_paging(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	uint64_t v;
	/* PAE (no long mode): PDPT of 4 entries at CR3, 8-byte PDE/PTE, NX. */
	uint64_t pdpt = 0x100000, pd = 0x101000, pt = 0x102000;
	cpu->efer = X86_EFER_NXE;
	cpu->cr4 = X86_CR4_PAE;
	cpu->cr3 = pdpt;
	cpu->mode = CPU_MODE_PROT32;
	cpu->seg[S_CS].attr = 0xc09b;
	code_cache_set_mode(cpu);
	cpu_tlb_flush_all(cpu);
	*pte_at(r, pdpt + 8 * 1) = pd | P; /* 0x40000000-0x7fffffff */
	*pte_at(r, pd + 8 * 0) = pt | P | RW | US;
	*pte_at(r, pt + 8 * 5) = 0x200000 | P | RW | US | NX; /* 0x40005000 */
	*pte_at(r, pd + 8 * 1) = 0x400000 | P | PS;           /* 0x40200000: 2 MiB, read-only */
	*(uint64_t *)(r->ram + 0x200008) = 0x55;
	*(uint64_t *)(r->ram + 0x400010) = 0x66;
	assert_true(do_read(cpu, 0x40005008, &v));
	assert_int_equal(v, 0x55);
	assert_true(do_read(cpu, 0x40200010, &v));
	assert_int_equal(v, 0x66);
	assert_false(do_write(cpu, 0x40200010, 1));
	expect_pf(PF_P | PF_W, 0x40200010);
	assert_false(do_fetch(cpu, 0x40005000));
	expect_pf(PF_P | PF_I, 0x40005000);
	assert_false(do_read(cpu, 0x80000000, &v)); /* PDPTE 2 not present */
	expect_pf(0, 0x80000000);
	*pte_at(r, pdpt + 8 * 3) = 0x103000 | P | RW; /* R/W is reserved in a PAE PDPTE */
	assert_false(do_read(cpu, 0xc0000000, &v));
	expect_pf(PF_P | PF_RSVD, 0xc0000000);

	/* 32-bit paging: 4-byte entries, 4 MiB pages with CR4.PSE, no NX (no I/D bit). */
	uint64_t pd32 = 0x104000, pt32 = 0x105000;
	memset(r->ram + pd32, 0, 0x2000);
	cpu->cr4 = 1ULL << 4; /* PSE */
	cpu->cr3 = pd32;
	cpu_tlb_flush_all(cpu);
	uint32_t *pde = (uint32_t *)(r->ram + pd32), *pte = (uint32_t *)(r->ram + pt32);
	pde[1] = (uint32_t)(pt32 | P | RW);   /* 0x00400000 */
	pte[2] = 0x200000 | P | RW;           /* 0x00402000 */
	pde[2] = 0x400000 | P | RW | US | PS; /* 0x00800000: 4 MiB */
	assert_true(do_read(cpu, 0x402008, &v));
	assert_int_equal(v, 0x55);
	assert_true(pde[1] & A);
	assert_true(do_write(cpu, 0x800010, 0x77));
	assert_int_equal(*(uint64_t *)(r->ram + 0x400010), 0x77);
	assert_true(pde[2] & D);
	set_cpl(cpu, 3);
	assert_false(do_read(cpu, 0x402008, &v));
	expect_pf(PF_P | PF_U, 0x402008);
	assert_false(do_fetch(cpu, 0xc00000));
	expect_pf(PF_U, 0xc00000);
	rig_free(r);
}

static void test_real_mode_code_base(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	/* Real mode, paging off, CS base 0x9a010: linear = base + IP, not page-aligned. */
	cpu->cr0 = 0;
	cpu->cr4 = 0;
	cpu->efer = 0;
	cpu->mode = CPU_MODE_REAL;
	cpu->seg[S_CS] = (struct cpu_segment){
	    .base = 0x9a010, .limit = 0xffff, .selector = 0x9a01, .attr = 0x9b};
	code_cache_set_mode(cpu);
	cpu_tlb_flush_all(cpu);
	/* mov ax, 0x1234 ; hlt at IP 0xfed: it runs from linear 0x9affd into the next page. */
	memcpy(r->ram + 0x9affd, "\xb8\x34\x12\xf4", 4);
	cpu->rip = 0xfed;
	cpu->activity = CPU_ACTIVE;
	assert_int_equal(cpu_run(cpu, 100), CPU_EXIT_HLT);
	assert_int_equal(cpu->gpr[R_RAX] & 0xffff, 0x1234);
	assert_int_equal(cpu->rip, 0xff1);
	/* The same IP with another CS base is other code. */
	cpu->seg[S_CS].base = 0x9b000;
	code_cache_set_mode(cpu);
	memcpy(r->ram + 0x9bfed, "\xb8\x78\x56\xf4", 4);
	cpu->rip = 0xfed;
	cpu->activity = CPU_ACTIVE;
	assert_int_equal(cpu_run(cpu, 100), CPU_EXIT_HLT);
	assert_int_equal(cpu->gpr[R_RAX] & 0xffff, 0x5678);
	rig_free(r);
}

static void test_global_code_survives_cr3(void **state)
{
	struct rig *r = rig_new();
	struct cpu *cpu = r->cpu;
	map4k(r, 0xffffffff81000000ULL, 0x200000, P | G);
	map4k(r, 0xffffffff81200000ULL, 0x201000, P);
	put_code(r->ram + 0x200000, 1);
	put_code(r->ram + 0x201000, 2);
	assert_int_equal(run_at(cpu, 0xffffffff81000000ULL), 1);
	assert_int_equal(run_at(cpu, 0xffffffff81200000ULL), 2);
	struct code_cache *c = cpu->cache;
	cpu_tlb_flush(cpu); /* a CR3 load */
	assert_non_null(c->jc_bank[0][jc_index(0xffffffff81000000ULL)]);
	assert_null(c->jc_bank[0][jc_index(0xffffffff81200000ULL)]);
	/* INVLPG of a data page far from any code keeps the lookups... */
	cpu_tlb_flush_page(cpu, 0x7f0000801000ULL);
	assert_non_null(c->jc_bank[0][jc_index(0xffffffff81000000ULL)]);
	/* ...but not of a page in the same 2 MiB as code. */
	cpu_tlb_flush_page(cpu, 0xffffffff81005000ULL);
	assert_null(c->jc_bank[0][jc_index(0xffffffff81000000ULL)]);
	assert_int_equal(run_at(cpu, 0xffffffff81000000ULL), 1);
	cpu_tlb_flush_page(cpu, 0xffffffff81000000ULL);
	assert_null(c->jc_bank[0][jc_index(0xffffffff81000000ULL)]);
	rig_free(r);
}

/* vCPU B spins in `L: mov eax, imm ; jmp L` on its own thread while A patches imm. */
struct spin {
	struct cpu *cpu;
	atomic_int seen; /* the last EAX B saw between cpu_run calls */
	int rounds;
};

static void *spin_thread(void *arg)
{
	struct spin *sp = arg;
	sp->cpu->rip = 0x400000;
	for (sp->rounds = 0; sp->rounds < 200000; sp->rounds++) {
		if (cpu_run(sp->cpu, 5000) != CPU_EXIT_BUDGET)
			break;
		atomic_store(&sp->seen, (int)sp->cpu->gpr[R_RAX]);
		if (sp->cpu->gpr[R_RAX] == 2)
			break;
	}
	return NULL;
}

static void test_cross_cpu_threads(void **state)
{
	struct rig *r = rig_new();
	struct cpu *a = r->cpu;
	struct cpu *b = calloc(1, sizeof(struct cpu));
	cpu_init_user64(b, &sysmem_ops, r->pm);
	b->sys = &fake_sys;
	cpu_enter_long_mode(b, a->cr3);
	map4k(r, 0x400000, 0x200000, P | RW);
	memcpy(r->ram + 0x200000, "\xb8\x01\x00\x00\x00\xeb\xf9", 7);
	/* A maps the page for writing before B runs it. */
	assert_true(do_write(a, 0x400800, 0));
	struct spin sp = {.cpu = b};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, spin_thread, &sp), 0);
	while (atomic_load(&sp.seen) != 1)
		;
	/* A reaches a block boundary (its run loop would), then patches B's loop. */
	code_cache_reap(a);
	last.vector = -1;
	if (!setjmp(a->exc_jmp))
		mem_write32(a, NULL, 0x400001, 2);
	assert_int_equal(last.vector, -1);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&sp.seen), 2);
	assert_true(sp.rounds < 200000);
	cpu_fini(b);
	free(b);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_physmap),
	    cmocka_unit_test(test_paging_off),
	    cmocka_unit_test(test_4level_4k_and_ad_bits),
	    cmocka_unit_test(test_large_pages),
	    cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_tlb_flushes_and_global),
	    cmocka_unit_test(test_privilege_banks),
	    cmocka_unit_test(test_mmio_routing),
	    cmocka_unit_test(test_two_processes),
	    cmocka_unit_test(test_alias_write_invalidates),
	    cmocka_unit_test(test_dma_write_invalidates),
	    cmocka_unit_test(test_cross_cpu_invalidation),
	    cmocka_unit_test(test_string_mmio),
	    cmocka_unit_test(test_pae_and_32bit_paging),
	    cmocka_unit_test(test_real_mode_code_base),
	    cmocka_unit_test(test_global_code_survives_cr3),
	    cmocka_unit_test(test_cross_cpu_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
