/*
 * Unit tests for arch/x86/regs.c: GDT descriptor decoding, the boot GDT in
 * guest memory, the identity page tables (walked like the MMU would) and
 * the special registers for the 64-bit and the PVH 32-bit entry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/regs.h"

static struct guest_memory mem;

static int setup_128m(void **state)
{
	(void)state;
	return guest_memory_init(&mem, MIB(128));
}

static int teardown(void **state)
{
	(void)state;
	guest_memory_fini(&mem);
	return 0;
}

/* The inverse of x86_segment_from_gdt, written from the SDM's descriptor picture. */
static uint64_t encode(uint32_t base, uint32_t raw_limit, unsigned type, unsigned s, unsigned dpl,
                       unsigned p, unsigned avl, unsigned l, unsigned db, unsigned g)
{
	return (uint64_t)(raw_limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)type << 40) | ((uint64_t)s << 44) | ((uint64_t)dpl << 45) |
	       ((uint64_t)p << 47) | ((uint64_t)((raw_limit >> 16) & 0xf) << 48) |
	       ((uint64_t)avl << 52) | ((uint64_t)l << 53) | ((uint64_t)db << 54) |
	       ((uint64_t)g << 55) | ((uint64_t)(base >> 24) << 56);
}

static void test_decode_known_descriptors(void **state)
{
	(void)state;
	struct x86_segment cs = x86_segment_from_gdt(0x00af9b000000ffffULL, 0x10);
	assert_int_equal(cs.selector, 0x10);
	assert_int_equal(cs.base, 0);
	assert_int_equal(cs.limit, 0xffffffff);
	assert_int_equal(cs.type, 0xb);
	assert_int_equal(cs.s, 1);
	assert_int_equal(cs.dpl, 0);
	assert_int_equal(cs.present, 1);
	assert_int_equal(cs.l, 1);
	assert_int_equal(cs.db, 0);
	assert_int_equal(cs.g, 1);
	assert_int_equal(cs.avl, 0);
	assert_int_equal(cs.unusable, 0);

	struct x86_segment ds = x86_segment_from_gdt(0x00cf93000000ffffULL, 0x18);
	assert_int_equal(ds.type, 3);
	assert_int_equal(ds.db, 1);
	assert_int_equal(ds.l, 0);
	assert_int_equal(ds.limit, 0xffffffff);

	/* Byte granular: the limit is taken as is. */
	struct x86_segment tss = x86_segment_from_gdt(0x00008b0000000067ULL, 0x20);
	assert_int_equal(tss.type, 0xb);
	assert_int_equal(tss.s, 0);
	assert_int_equal(tss.g, 0);
	assert_int_equal(tss.limit, 0x67);
	assert_int_equal(tss.present, 1);

	struct x86_segment null = x86_segment_from_gdt(0, 0);
	assert_int_equal(null.present, 0);
	assert_int_equal(null.unusable, 1);

	/* Scattered base bytes and DPL 3, AVL. */
	struct x86_segment odd = x86_segment_from_gdt(0x12d5f2563478abcdULL, 0x2b);
	assert_int_equal(odd.base, 0x12563478);
	assert_int_equal(odd.limit, ((0x5abcdu << 12) | 0xfff));
	assert_int_equal(odd.type, 2);
	assert_int_equal(odd.s, 1);
	assert_int_equal(odd.dpl, 3);
	assert_int_equal(odd.present, 1);
	assert_int_equal(odd.avl, 1);
	assert_int_equal(odd.l, 0);
	assert_int_equal(odd.db, 1);
	assert_int_equal(odd.g, 1);
}

static void test_decode_round_trip(void **state)
{
	(void)state;
	static const uint32_t bases[] = {0, 1, 0xfffff000, 0x12345678, 0xdeadbeef};
	static const uint32_t limits[] = {0, 0x67, 0xfffff, 0x12345};
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
		for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++)
			for (unsigned bits = 0; bits < 256; bits += 7) {
				unsigned type = bits & 0xf, g = (bits >> 4) & 1,
				         l = (bits >> 5) & 1;
				unsigned db = (bits >> 6) & 1, dpl = (bits >> 1) & 3;
				unsigned s = (bits >> 7) & 1, avl = bits & 1, p = (bits >> 3) & 1;
				uint64_t d =
				    encode(bases[b], limits[li], type, s, dpl, p, avl, l, db, g);
				struct x86_segment seg = x86_segment_from_gdt(d, 0x28);
				uint32_t want_limit = g ? (limits[li] << 12) | 0xfff : limits[li];
				assert_int_equal(seg.base, bases[b]);
				assert_int_equal(seg.limit, want_limit);
				assert_int_equal(seg.type, type);
				assert_int_equal(seg.s, s);
				assert_int_equal(seg.dpl, dpl);
				assert_int_equal(seg.present, p);
				assert_int_equal(seg.avl, avl);
				assert_int_equal(seg.l, l);
				assert_int_equal(seg.db, db);
				assert_int_equal(seg.g, g);
				assert_int_equal(seg.selector, 0x28);
			}
}

static uint64_t read_u64(uint64_t gpa)
{
	uint64_t v = 0;
	assert_int_equal(guest_memory_read(&mem, gpa, &v, sizeof(v)), 0);
	return v;
}

/*
 * A 4-level walk as the MMU does it, from CR3, honouring PS at the PDPT and
 * PD levels. Returns 1 and the physical address when mapped, else 0.
 */
static int walk(uint64_t cr3, uint64_t va, uint64_t *pa)
{
	const uint64_t addr_mask = 0x000ffffffffff000ULL;
	uint64_t e = read_u64((cr3 & addr_mask) + ((va >> 39) & 511) * 8);
	if (!(e & 1))
		return 0;
	e = read_u64((e & addr_mask) + ((va >> 30) & 511) * 8);
	if (!(e & 1))
		return 0;
	if (e & 0x80) {
		*pa = (e & 0x000fffffc0000000ULL) | (va & 0x3fffffff);
		return 1;
	}
	e = read_u64((e & addr_mask) + ((va >> 21) & 511) * 8);
	if (!(e & 1))
		return 0;
	if (e & 0x80) {
		*pa = (e & 0x000fffffffe00000ULL) | (va & 0x1fffff);
		return 1;
	}
	e = read_u64((e & addr_mask) + ((va >> 12) & 511) * 8);
	if (!(e & 1))
		return 0;
	*pa = (e & addr_mask) | (va & 0xfff);
	return 1;
}

static void check_gdt(uint64_t code)
{
	uint64_t gdt[5];
	assert_int_equal(guest_memory_read(&mem, LAYOUT_GDT_GPA, gdt, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[1], 0);
	assert_int_equal(gdt[2], code);
	assert_int_equal(gdt[3], 0x00cf93000000ffffULL);
	/* TSS: present, type 11 (busy 32-bit), S = 0, base 0, limit 0x67. */
	struct x86_segment tss = x86_segment_from_gdt(gdt[4], 0x20);
	assert_int_equal(tss.type, 11);
	assert_int_equal(tss.present, 1);
	assert_int_equal(tss.s, 0);
	assert_int_equal(tss.base, 0);
	assert_int_equal(tss.limit, 0x67);
}

static void check_common_sregs(const struct x86_sregs *sr)
{
	assert_int_equal(sr->gdt.base, LAYOUT_GDT_GPA);
	assert_int_equal(sr->gdt.limit, 5 * 8 - 1);
	assert_int_equal(sr->idt.base, LAYOUT_IDT_GPA);
	assert_int_equal(sr->idt.limit, 0);
	assert_int_equal(sr->cs.selector, 0x10);
	const struct x86_segment *data[] = {&sr->ds, &sr->es, &sr->fs, &sr->gs, &sr->ss};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(data[i]->selector, 0x18);
		assert_int_equal(data[i]->base, 0);
		assert_int_equal(data[i]->limit, 0xffffffff);
		assert_int_equal(data[i]->type, 3);
		assert_int_equal(data[i]->s, 1);
		assert_int_equal(data[i]->db, 1);
		assert_int_equal(data[i]->present, 1);
		assert_int_equal(data[i]->unusable, 0);
	}
	assert_int_equal(sr->tr.selector, 0x20);
	assert_int_equal(sr->tr.type, 11);
	assert_int_equal(sr->tr.present, 1);
	assert_int_equal(sr->tr.s, 0);
	assert_int_equal(sr->tr.limit, 0x67);
	assert_int_equal(sr->tr.unusable, 0);
	assert_int_equal(sr->ldt.unusable, 1);
	assert_int_equal(sr->apic_base, 0xfee00900);
}

static void test_long_mode(void **state)
{
	(void)state;
	struct x86_sregs sr;
	/* Dirty the page-table area: the setup must write whole pages, not rely on zeroes. */
	memset(guest_memory_ptr(&mem, LAYOUT_PML4_GPA, 0x6000), 0xa5, 0x6000);
	assert_int_equal(x86_setup_long_mode(&mem, &sr), 0);

	check_gdt(0x00af9b000000ffffULL);
	check_common_sregs(&sr);
	assert_int_equal(sr.cs.l, 1);
	assert_int_equal(sr.cs.db, 0);
	assert_int_equal(sr.cs.type, 0xb);
	assert_int_equal(sr.cs.present, 1);
	assert_int_equal(sr.cr0, X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_NE);
	assert_int_equal(sr.cr0 & ((1ULL << 30) | (1ULL << 29)), 0); /* CD, NW clear */
	assert_int_equal(sr.cr3, LAYOUT_PML4_GPA);
	assert_int_equal(sr.cr4, X86_CR4_PAE);
	assert_int_equal(sr.efer, X86_EFER_LME | X86_EFER_LMA);

	static const uint64_t identity[] = {0x0,        0x1234567,  0x100200,   0x7000,
	                                    0xfee00000, 0xbfffffff, 0xffffffff, 0xc0000000};
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
		uint64_t pa = ~0ULL;
		assert_true(walk(sr.cr3, identity[i], &pa));
		assert_int_equal(pa, identity[i]);
	}
	/* Only the first 4 GiB are mapped. */
	uint64_t pa;
	assert_false(walk(sr.cr3, 0x100000000ULL, &pa));
	assert_false(walk(sr.cr3, 0xffffffff81000000ULL, &pa));
	/* The PDs are where layout.h says, with 2 MiB present+rw+PS entries. */
	assert_int_equal(read_u64(LAYOUT_PD_GPA), 0x83);
	assert_int_equal(read_u64(LAYOUT_PD_GPA + 3 * 4096 + 511 * 8), 0xffe00000 | 0x83);
	assert_int_equal(read_u64(LAYOUT_PML4_GPA + 8), 0);
	assert_int_equal(read_u64(LAYOUT_PDPT_GPA + 4 * 8), 0);
}

static void test_flat32(void **state)
{
	(void)state;
	struct x86_sregs sr;
	memset(&sr, 0x5a, sizeof(sr));
	assert_int_equal(x86_setup_flat32(&mem, &sr), 0);
	check_gdt(0x00cf9b000000ffffULL);
	check_common_sregs(&sr);
	assert_int_equal(sr.cs.l, 0);
	assert_int_equal(sr.cs.db, 1);
	assert_int_equal(sr.cs.base, 0);
	assert_int_equal(sr.cs.limit, 0xffffffff);
	assert_int_equal(sr.cs.type, 0xb);
	assert_int_equal(sr.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(sr.cr3, 0);
	assert_int_equal(sr.cr4, 0);
	assert_int_equal(sr.efer, 0);
}

static void test_too_little_ram(void **state)
{
	(void)state;
	struct guest_memory tiny;
	struct x86_sregs sr;
	/* 40 KiB reaches the GDT but not the page directories. */
	assert_int_equal(guest_memory_init(&tiny, KIB(40)), 0);
	assert_int_not_equal(x86_setup_long_mode(&tiny, &sr), 0);
	assert_int_equal(x86_setup_flat32(&tiny, &sr), 0);
	guest_memory_fini(&tiny);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_known_descriptors),
	    cmocka_unit_test(test_decode_round_trip),
	    cmocka_unit_test_setup_teardown(test_long_mode, setup_128m, teardown),
	    cmocka_unit_test_setup_teardown(test_flat32, setup_128m, teardown),
	    cmocka_unit_test(test_too_little_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
