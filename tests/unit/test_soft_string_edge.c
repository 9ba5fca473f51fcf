/*
 * Unit tests for the software CPU's string instructions, part 2 (part 1:
 * test_soft_string.c): a fault on a page boundary leaves RCX/RSI/RDI at
 * the faulting element with RIP at the instruction, and re-executing
 * resumes; REP STOS/MOVS over decoded code invalidate it (also the next
 * instruction of the same block); a stop request suspends a long REP
 * between chunks, not retired; INS/OUTS are #GP(0) at CPL 3.
 *
 * `test_soft_string_edge --bench [scale [name]]` measures REP MOVSB (64 B,
 * 4 KiB, 1 MiB) and REP STOSQ (4 KiB, 1 MiB) in GB/s and ns per instruction
 * against host memcpy/memset (the guest loop adds five instructions per REP).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_soft_string.h"

/* ---- faults in the middle: registers at the faulting element, then resume ---- */

struct fault_case {
	const char *name;
	uint8_t code[4];
	uint8_t len;
	bool df;
	uint64_t rsi, rdi, rcx;
	uint32_t err;
	uint64_t cr2;
	uint64_t want_rsi, want_rdi, want_rcx;
};

/* DATA has 2 pages; DATA + 2 * PG is unmapped until the test maps it. */
static const struct fault_case faults[] = {
    {"rep movsb, dst runs into page 3",
     {0xf3, 0xa4},
     2,
     false,
     DATA,
     DATA + 2 * PG - 100,
     300,
     6,
     DATA + 2 * PG,
     DATA + 100,
     DATA + 2 * PG,
     200},
    {"rep movsd, dst element straddles",
     {0xf3, 0xa5},
     2,
     false,
     DATA,
     DATA + 2 * PG - 102,
     100,
     6,
     DATA + 2 * PG,
     DATA + 100,
     DATA + 2 * PG - 2,
     75},
    {"rep movsq, src runs into page 3",
     {0xf3, 0x48, 0xa5},
     3,
     false,
     DATA + 2 * PG - 64,
     DATA,
     20,
     4,
     DATA + 2 * PG,
     DATA + 2 * PG,
     DATA + 64,
     12},
    {"std; rep movsb, src runs below DATA",
     {0xf3, 0xa4},
     2,
     true,
     DATA + 50,
     DATA + PG,
     100,
     4,
     DATA - 1,
     DATA - 1,
     DATA + PG - 51,
     49},
    {"rep stosq, into page 3",
     {0xf3, 0x48, 0xab},
     3,
     false,
     0,
     DATA + 2 * PG - 40,
     9,
     6,
     DATA + 2 * PG,
     0,
     DATA + 2 * PG,
     4},
    {"repe cmpsb, equal until page 3",
     {0xf3, 0xa6},
     2,
     false,
     DATA + 2 * PG - 10,
     DATA,
     30,
     4,
     DATA + 2 * PG,
     DATA + 2 * PG,
     DATA + 10,
     20},
    {"repne scasw, into page 3",
     {0xf2, 0x66, 0xaf},
     3,
     false,
     0,
     DATA + 2 * PG - 6,
     10,
     4,
     DATA + 2 * PG,
     0,
     DATA + 2 * PG,
     7},
    {"rep lodsd, src element straddles",
     {0xf3, 0xad},
     2,
     false,
     DATA + 2 * PG - 13,
     0,
     10,
     4,
     DATA + 2 * PG,
     DATA + 2 * PG - 1,
     0,
     7},
};

static void test_fault_and_resume(void **state)
{
	for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		const struct fault_case *f = &faults[k];
		struct env *e = env_new(2);
		struct cpu *c = &e->cpu;
		memset(e->data, 0x11,
		       2 * PG); /* equal bytes for REPE CMPS; no 0x00 for REPNE SCAS */
		c->gpr[R_RAX] = 0;
		c->gpr[R_RSI] = f->rsi;
		c->gpr[R_RDI] = f->rdi;
		c->gpr[R_RCX] = f->rcx;
		cpu_set_rflags(c, 0x202 | (f->df ? FLAG_DF : 0));
		if (run_at(e, f->code, f->len, 0) != CPU_EXIT_EXCEPTION)
			fail_msg("%s: no fault", f->name);
		if (c->exc_vector != EXC_PF || c->exc_error != f->err || c->cr2 != f->cr2 ||
		    c->rip != CODE || c->icount != 0)
			fail_msg("%s: vector %d error %#x cr2 %#llx rip %#llx icount %llu", f->name,
			         c->exc_vector, c->exc_error, (unsigned long long)c->cr2,
			         (unsigned long long)c->rip, (unsigned long long)c->icount);
		if (c->gpr[R_RSI] != f->want_rsi || c->gpr[R_RDI] != f->want_rdi ||
		    c->gpr[R_RCX] != f->want_rcx)
			fail_msg("%s: rsi %#llx rdi %#llx rcx %llu", f->name,
			         (unsigned long long)c->gpr[R_RSI],
			         (unsigned long long)c->gpr[R_RDI],
			         (unsigned long long)c->gpr[R_RCX]);
		/* Map the missing page (filled like the rest) and re-execute: it resumes. */
		uint64_t miss = f->cr2 & ~(PG - 1);
		assert_int_equal(user_mem_map(e->m, miss, PG, RW, NULL), 0);
		uint8_t fill[PG];
		memset(fill, 0x11, PG);
		assert_int_equal(user_mem_write(e->m, miss, fill, PG), 0);
		c->rip = CODE;
		assert_int_equal(cpu_run(c, 1), CPU_EXIT_BUDGET);
		assert_int_equal(c->rip, CODE + f->len);
		if (f->code[f->len - 1] != 0xa6 && f->code[f->len - 1] != 0xaf)
			assert_int_equal(c->gpr[R_RCX], 0);
		env_free(e);
	}
}

/* A completed copy across the boundary after resuming equals one without the fault. */
static void test_fault_resume_copy(void **state)
{
	struct env *e = env_new(4);
	struct cpu *c = &e->cpu;
	for (size_t b = 0; b < 2 * PG; b++)
		e->data[b] = (uint8_t)(b * 7 + 3);
	assert_int_equal(user_mem_protect(e->m, DATA + 3 * PG, PG, USER_PROT_READ), 0);
	static const uint8_t code[] = {0xf3, 0x48, 0xa5}; /* rep movsq */
	c->gpr[R_RSI] = DATA + 8;
	c->gpr[R_RDI] = DATA + 2 * PG + 0x800;
	c->gpr[R_RCX] = 0x300;
	cpu_set_rflags(c, 0x202);
	assert_int_equal(run_at(e, code, sizeof(code), 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(c->exc_vector, EXC_PF);
	assert_int_equal(c->exc_error, 7); /* present, write, user */
	assert_int_equal(c->cr2, DATA + 3 * PG);
	assert_int_equal(c->gpr[R_RCX], 0x300 - 0x100);
	assert_int_equal(user_mem_protect(e->m, DATA + 3 * PG, PG, RW), 0);
	c->rip = CODE;
	assert_int_equal(cpu_run(c, 1), CPU_EXIT_BUDGET);
	assert_int_equal(c->gpr[R_RCX], 0);
	assert_int_equal(c->gpr[R_RSI], DATA + 8 + 0x1800);
	assert_memory_equal(e->data + 2 * PG + 0x800, e->data + 8, 0x1800);
	env_free(e);
}

/* ---- writes over decoded code invalidate it ---- */

static void test_code_invalidation(void **state)
{
	struct env *e = env_new(1);
	struct cpu *c = &e->cpu;
	static const uint8_t target[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05}; /* mov eax,1 */
	static const uint8_t two[] = {0xb8, 0x02, 0x00, 0x00, 0x00};                /* mov eax,2 */
	assert_int_equal(user_mem_write(e->m, CODE + 0x800, target, sizeof(target)), 0);
	assert_int_equal(user_mem_write(e->m, CODE + 0x900, two, sizeof(two)), 0);
	/* Decode and cache the target block. */
	c->rip = CODE + 0x800;
	assert_int_equal(cpu_run(c, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(c->gpr[R_RAX], 1);
	/* mov rdi, CODE+0x800; mov ecx, 5; mov eax, 0x90; rep stosb (five NOPs); jmp CODE+0x800 */
	static const uint8_t stos[] = {0x48, 0xc7, 0xc7, 0x00, 0x08, 0x40, 0x00, 0xb9,
	                               0x05, 0x00, 0x00, 0x00, 0xb8, 0x90, 0x00, 0x00,
	                               0x00, 0xf3, 0xaa, 0xe9, 0xe8, 0x07, 0x00, 0x00};
	assert_int_equal(run_at(e, stos, sizeof(stos), 0), CPU_EXIT_SYSCALL);
	assert_int_equal(c->gpr[R_RAX], 0x90);
	/* rep movsb copies "mov eax, 2" over the NOPs the same way. */
	c->rip = CODE + 0x800;
	assert_int_equal(cpu_run(c, 0), CPU_EXIT_SYSCALL);
	static const uint8_t movs[] = {0x48, 0xc7, 0xc7, 0x00, 0x08, 0x40, 0x00, 0xb9, 0x05,
	                               0x00, 0x00, 0x00, 0x48, 0xc7, 0xc6, 0x00, 0x09, 0x40,
	                               0x00, 0xf3, 0xa4, 0xe9, 0xe6, 0x07, 0x00, 0x00};
	assert_int_equal(run_at(e, movs, sizeof(movs), 0), CPU_EXIT_SYSCALL);
	assert_int_equal(c->gpr[R_RAX], 2);
	/* The same block: rep stosb turns the next instruction into NOPs. */
	static const uint8_t same[] = {
	    0xb8, 0x90, 0x00, 0x00, 0x00,             /* mov eax, 0x90 */
	    0xb9, 0x05, 0x00, 0x00, 0x00,             /* mov ecx, 5 */
	    0x48, 0x8d, 0x3d, 0x02, 0x00, 0x00, 0x00, /* lea rdi, [rip+2] */
	    0xf3, 0xaa,                               /* rep stosb */
	    0xb8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 (overwritten) */
	    0x0f, 0x05,                               /* syscall */
	};
	c->icount = 0;
	assert_int_equal(run_at(e, same, sizeof(same), 0), CPU_EXIT_SYSCALL);
	assert_int_equal(c->gpr[R_RAX], 0x90);
	assert_int_equal(c->icount, 10); /* 4 + five NOPs + syscall: the REP counts once */
	env_free(e);
}

/* ---- a stop request suspends a long REP between chunks ---- */

static uint64_t trigger_page;
static struct cpu_mem_ops stop_ops;

static uint8_t *stop_translate(struct cpu *cpu, uint64_t vaddr, unsigned access, unsigned *flags)
{
	if ((vaddr & ~(PG - 1)) == trigger_page)
		atomic_store(&cpu->stop_request, true);
	return user_mem_ops.translate(cpu, vaddr, access, flags);
}

static void test_stop_request(void **state)
{
	stop_ops = user_mem_ops;
	stop_ops.translate = stop_translate;
	trigger_page = DATA + 5 * PG;
	struct env *e = env_new_ops(32, &stop_ops);
	struct cpu *c = &e->cpu;
	static const uint8_t code[] = {
	    0xb9, 0x00, 0x40, 0x00, 0x00,                               /* mov ecx, 0x4000 */
	    0x48, 0xb8, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* mov rax, imm64 */
	    0xbf, 0x00, 0x00, 0x60, 0x00,                               /* mov edi, DATA */
	    0xf3, 0x48, 0xab,                                           /* rep stosq */
	    0x0f, 0x05,                                                 /* syscall */
	};
	assert_int_equal(run_at(e, code, sizeof(code), 0), CPU_EXIT_STOP);
	assert_int_equal(c->rip, CODE + 20);
	assert_int_equal(c->icount, 3);
	assert_int_equal(c->gpr[R_RCX], 0x4000 - 6 * PG / 8);
	assert_int_equal(c->gpr[R_RDI], DATA + 6 * PG);
	uint64_t v;
	memcpy(&v, e->data + 6 * PG - 8, 8);
	assert_int_equal(v, 0x0123456789abcdefULL);
	memcpy(&v, e->data + 6 * PG, 8);
	assert_int_equal(v, 0);
	/* Resuming finishes it; the REP retires once. */
	assert_int_equal(cpu_run(c, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(c->icount, 5);
	assert_int_equal(c->gpr[R_RDI], DATA + 32 * PG); /* (SYSCALL wrote RCX) */
	memcpy(&v, e->data + 32 * PG - 8, 8);
	assert_int_equal(v, 0x0123456789abcdefULL);
	env_free(e);
}

/* ---- INS/OUTS: #GP(0) at CPL 3 with IOPL 0, REP or not, whatever RCX ---- */

static void test_ins_outs(void **state)
{
	struct env *e = env_new(1);
	struct cpu *c = &e->cpu;
	static const uint8_t forms[][3] = {{0x6c}, {0x6d},       {0x66, 0x6d}, {0x6e},
	                                   {0x6f}, {0xf3, 0x6c}, {0xf3, 0x6f}, {0xf3, 0x48, 0x6d}};
	static const uint8_t lens[] = {1, 1, 2, 1, 1, 2, 2, 3};
	for (size_t k = 0; k < sizeof(lens); k++) {
		c->gpr[R_RSI] = DATA;
		c->gpr[R_RDI] = DATA;
		c->gpr[R_RCX] = k & 1;
		c->gpr[R_RDX] = 0x3f8;
		assert_int_equal(run_at(e, forms[k], lens[k], 0), CPU_EXIT_EXCEPTION);
		assert_int_equal(c->exc_vector, EXC_GP);
		assert_true(c->exc_has_error);
		assert_int_equal(c->exc_error, 0);
		assert_int_equal(c->rip, CODE);
		assert_int_equal(c->gpr[R_RSI], DATA);
		assert_int_equal(c->gpr[R_RDI], DATA);
		assert_int_equal(c->gpr[R_RCX], k & 1);
	}
	env_free(e);
}

/* ---- the benchmark ---- */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * The destination is 1.5 MiB + 4 KiB after the source: its pages do not
 * share TLB entries (or L1 sets) with the source's, as two random pages
 * usually do not.
 */
#define BENCH_DST (MIB(1) + KIB(516))

/* Guest loop: mov r8d, iters; l: mov esi, SRC; mov edi, DST; mov ecx, n; op; dec r8d; jnz l. */
static double bench_guest(const uint8_t *op, size_t oplen, uint32_t n, uint32_t iters,
                          uint64_t bytes)
{
	struct env *e = env_new(3 * 256 + 1);
	uint8_t code[64];
	size_t p = 0;
	uint32_t src = (uint32_t)DATA, dst = (uint32_t)(DATA + BENCH_DST);
	code[p++] = 0x41;
	code[p++] = 0xb8;
	memcpy(code + p, &iters, 4);
	p += 4;
	size_t loop = p;
	code[p++] = 0xbe;
	memcpy(code + p, &src, 4);
	p += 4;
	code[p++] = 0xbf;
	memcpy(code + p, &dst, 4);
	p += 4;
	code[p++] = 0xb9;
	memcpy(code + p, &n, 4);
	p += 4;
	memcpy(code + p, op, oplen);
	p += oplen;
	code[p++] = 0x41;
	code[p++] = 0xff;
	code[p++] = 0xc8;
	code[p++] = 0x75;
	code[p] = (uint8_t)(loop - (p + 1));
	p++;
	code[p++] = 0x0f;
	code[p++] = 0x05;
	memset(e->data, 0x5a, e->data_len);
	e->cpu.gpr[R_RAX] = 0;
	double t0 = now();
	enum cpu_exit x = run_at(e, code, p, 0);
	double t = now() - t0;
	assert_int_equal(x, CPU_EXIT_SYSCALL);
	env_free(e);
	return (double)bytes * iters / t / 1e9;
}

static double bench_host(bool copy, size_t len, uint32_t iters)
{
	uint8_t *a = aligned_alloc(PG, MIB(3));
	assert_non_null(a);
	memset(a, 0x5a, MIB(3));
	double t0 = now();
	for (uint32_t k = 0; k < iters; k++) {
		if (copy)
			memcpy(a + BENCH_DST, a, len);
		else
			memset(a + BENCH_DST, 0, len);
		__asm__ volatile("" ::"r"(a) : "memory");
	}
	double t = now() - t0;
	free(a);
	return (double)len * iters / t / 1e9;
}

static int bench(double scale, const char *only)
{
	static const uint8_t movsb[] = {0xf3, 0xa4}, stosq[] = {0xf3, 0x48, 0xab};
	struct {
		const char *name;
		const uint8_t *op;
		size_t oplen;
		uint32_t n;
		size_t bytes;
		bool copy;
	} k[] = {
	    {"rep movsb 64 B", movsb, 2, 64, 64, true},
	    {"rep movsb 4 KiB", movsb, 2, 4096, 4096, true},
	    {"rep movsb 1 MiB", movsb, 2, 1 << 20, 1 << 20, true},
	    {"rep stosq 4 KiB", stosq, 3, 512, 4096, false},
	    {"rep stosq 1 MiB", stosq, 3, 1 << 17, 1 << 20, false},
	};
	for (size_t j = 0; j < sizeof(k) / sizeof(k[0]); j++) {
		if (only && !strstr(k[j].name, only))
			continue;
		uint32_t iters = (uint32_t)(scale * 4e9 / (double)k[j].bytes) + 1;
		double g = bench_guest(k[j].op, k[j].oplen, k[j].n, iters, k[j].bytes);
		double h = bench_host(k[j].copy, k[j].bytes, iters);
		printf("%-16s %7.2f GB/s %8.1f ns   host %s %7.2f GB/s %8.1f ns   (%.0f%%)\n",
		       k[j].name, g, (double)k[j].bytes / g, k[j].copy ? "memcpy" : "memset", h,
		       (double)k[j].bytes / h, 100 * g / h);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc > 2 ? strtod(argv[2], NULL) : 1.0, argc > 3 ? argv[3] : NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fault_and_resume),  cmocka_unit_test(test_fault_resume_copy),
	    cmocka_unit_test(test_code_invalidation), cmocka_unit_test(test_stop_request),
	    cmocka_unit_test(test_ins_outs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
