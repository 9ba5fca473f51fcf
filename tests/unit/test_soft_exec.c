/*
 * Unit tests for the software CPU's execution: small programs (hand-
 * assembled bytes) run through user_mem + cpu_run. Expected flag values
 * follow the SDM's definitions; undefined flags (AF after logic ops) are
 * not checked.
 *
 * `test_soft_exec --bench [N [alu|mem|call]]` runs a micro-benchmark of
 * docs/softcpu.md instead (N loop iterations, default 100M).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accel/soft/cpu.h"
#include "accel/soft/flags.h"
#include "accel/soft/user_mem.h"

#include "test_soft_env.h"

static uint64_t flags_of(struct cpu *cpu)
{
	return cpu_get_rflags(cpu) & FLAGS_ARITH;
}

/* ---- arithmetic flags: one instruction, then SYSCALL ---- */

struct arith_case {
	const char *name;
	uint8_t code[4];
	uint64_t rax, rbx;
	bool cf_in;
	uint64_t want_rax;
	uint32_t want_flags, care; /* care: the flags that are defined */
};

#define ALL  FLAGS_ARITH
#define NOAF (FLAGS_ARITH & ~FLAG_AF)
static const struct arith_case arith[] = {
    {"add eax,ebx carry", {0x01, 0xd8}, 0xffffffff, 1, 0, 0, 0x55, ALL},
    {"add al,bl overflow", {0x00, 0xd8}, 0x7f, 1, 0, 0x80, 0x890, ALL},
    {"add ah,bl (no REX)", {0x00, 0xdc}, 0x100, 1, 0, 0x200, 0, ALL},
    {"add eax,ebx zero-extends", {0x01, 0xd8}, 0xffffffff00000001, 1, 0, 2, 0, ALL},
    {"sub rax,rbx borrow", {0x48, 0x29, 0xd8}, 0, 1, 0, ~0ULL, 0x95, ALL},
    {"sub eax,ebx overflow", {0x29, 0xd8}, 0x80000000, 1, 0, 0x7fffffff, 0x814, ALL},
    {"cmp rax,rbx equal", {0x48, 0x39, 0xd8}, 5, 5, 0, 5, 0x44, ALL},
    {"and eax,ebx zero", {0x21, 0xd8}, 0xf0, 0x0f, 0, 0, 0x44, NOAF},
    {"or al,bl sign", {0x08, 0xd8}, 0x80, 0x01, 0, 0x81, 0x84, NOAF},
    {"xor rax,rax", {0x48, 0x31, 0xc0}, 1234, 0, 0, 0, 0x44, NOAF},
    {"adc eax,ebx cf=1", {0x11, 0xd8}, 0xffffffff, 0, 1, 0, 0x55, ALL},
    {"adc ax,bx keeps bits 16-63",
     {0x66, 0x11, 0xd8},
     0x12340000ffff,
     0,
     1,
     0x123400000000,
     0x55,
     ALL},
    {"sbb eax,ebx cf=1", {0x19, 0xd8}, 0, 0, 1, 0xffffffff, 0x95, ALL},
    {"inc eax keeps CF", {0xff, 0xc0}, 0x7fffffff, 0, 1, 0x80000000, 0x895, ALL},
    {"dec eax", {0xff, 0xc8}, 0x80000000, 0, 0, 0x7fffffff, 0x814, ALL},
    {"neg eax 0", {0xf7, 0xd8}, 0, 0, 1, 0, 0x44, ALL},
    {"neg eax 1", {0xf7, 0xd8}, 1, 0, 0, 0xffffffff, 0x95, ALL},
    {"test al,bl", {0x84, 0xd8}, 0x80, 0x80, 0, 0x80, 0x80, NOAF},
    {"not rax (no flags)", {0x48, 0xf7, 0xd0}, 0, 0, 1, ~0ULL, FLAG_CF, ALL},
    {"add rax,imm8 -1", {0x48, 0x83, 0xc0, 0xff}, 1, 0, 0, 0, 0x55, ALL},
    {"cmp al,imm8", {0x3c, 0x10}, 0x0f, 0, 0, 0x0f, 0x85, ALL},
    {"cmp al,imm8 half-borrow", {0x3c, 0x01}, 0x10, 0, 0, 0x10, 0x14, ALL},
};

static void test_arith_flags(void **state)
{
	for (size_t k = 0; k < sizeof(arith) / sizeof(arith[0]); k++) {
		const struct arith_case *c = &arith[k];
		uint8_t code[16];
		size_t n = 0;
		while (n < 4 && (c->code[n] || n == 0 || n < 2))
			n++;
		n = c->code[2] || c->code[0] == 0x48 || c->code[0] == 0x66 ? 3 : 2;
		if (c->code[3] || (c->code[0] == 0x48 && c->code[1] == 0x83))
			n = 4;
		memcpy(code, c->code, n);
		code[n] = 0x0f;
		code[n + 1] = 0x05;
		struct env *e = env_new(code, n + 2);
		e->cpu.gpr[R_RAX] = c->rax;
		e->cpu.gpr[R_RBX] = c->rbx;
		cpu_set_rflags(&e->cpu, 0x202 | (c->cf_in ? FLAG_CF : 0));
		assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
		if (e->cpu.gpr[R_RAX] != c->want_rax ||
		    (flags_of(&e->cpu) & c->care) != c->want_flags)
			fail_msg("%s: rax %#llx flags %#llx, want %#llx %#x", c->name,
			         (unsigned long long)e->cpu.gpr[R_RAX],
			         (unsigned long long)flags_of(&e->cpu),
			         (unsigned long long)c->want_rax, c->want_flags);
		env_free(e);
	}
}

/* ---- programs ---- */

/* xor eax,eax; mov ecx,N; l: add eax,ecx; dec ecx; jnz l; syscall */
static const uint8_t sum_loop[] = {0x31, 0xc0, 0xb9, 0xe8, 0x03, 0x00, 0x00, 0x01,
                                   0xc8, 0xff, 0xc9, 0x75, 0xfa, 0x0f, 0x05};

static void test_sum_loop(void **state)
{
	struct env *e = env_new(sum_loop, sizeof(sum_loop));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], 500500);
	assert_int_equal(e->cpu.icount, 2 + 3 * 1000 + 1);
	assert_int_equal(e->cpu.rip, CODE + sizeof(sum_loop));
	assert_int_equal(e->cpu.gpr[R_RCX], CODE + sizeof(sum_loop)); /* SYSCALL's RCX */
	assert_int_equal(e->cpu.gpr[R_R11], cpu_get_rflags(&e->cpu));
	env_free(e);
}

/* Recursive fibonacci(20) with CALL/RET/PUSH/POP (offsets in the comments). */
static const uint8_t fib[] = {
    0xbf, 0x14, 0x00, 0x00, 0x00, /* 0: mov edi, 20 */
    0xe8, 0x02, 0x00, 0x00, 0x00, /* 5: call fib (12) */
    0x0f, 0x05,                   /* 10: syscall */
    0x83, 0xff, 0x02,             /* 12 fib: cmp edi, 2 */
    0x7c, 0x16,                   /* 15: jl base (39) */
    0x57,                         /* 17: push rdi */
    0xff, 0xcf,                   /* 18: dec edi */
    0xe8, 0xf3, 0xff, 0xff, 0xff, /* 20: call fib */
    0x5f,                         /* 25: pop rdi */
    0x50,                         /* 26: push rax */
    0x83, 0xef, 0x02,             /* 27: sub edi, 2 */
    0xe8, 0xe9, 0xff, 0xff, 0xff, /* 30: call fib */
    0x59,                         /* 35: pop rcx */
    0x01, 0xc8,                   /* 36: add eax, ecx */
    0xc3,                         /* 38: ret */
    0x89, 0xf8,                   /* 39 base: mov eax, edi */
    0xc3,                         /* 41: ret */
};

static void test_fib(void **state)
{
	struct env *e = env_new(fib, sizeof(fib));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], 6765);
	assert_int_equal(e->cpu.gpr[R_RSP], STACK_TOP);
	env_free(e);
}

static void test_page_fault(void **state)
{
	/* nop; nop; mov rax, [0x1000]; syscall */
	static const uint8_t code[] = {0x90, 0x90, 0x48, 0x8b, 0x04, 0x25,
	                               0x00, 0x10, 0x00, 0x00, 0x0f, 0x05};
	struct env *e = env_new(code, sizeof(code));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_PF);
	assert_true(e->cpu.exc_has_error);
	assert_int_equal(e->cpu.exc_error, 0x4); /* U, read, not present */
	assert_int_equal(e->cpu.cr2, 0x1000);
	assert_int_equal(e->cpu.rip, CODE + 2);
	assert_int_equal(e->cpu.icount, 2);
	env_free(e);
}

static void test_self_modifying(void **state)
{
	/* CODE: mov eax, 1; syscall.  CODE+0x100: mov dword [CODE+1], 2; jmp CODE */
	static const uint8_t code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05};
	static const uint8_t patch[] = {0xc7, 0x04, 0x25, 0x01, 0x00, 0x40, 0x00, 0x02,
	                                0x00, 0x00, 0x00, 0xe9, 0xf0, 0xfe, 0xff, 0xff};
	struct env *e = env_new(code, sizeof(code));
	assert_int_equal(user_mem_write(e->m, CODE + 0x100, patch, sizeof(patch)), 0);
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], 1);
	e->cpu.rip = CODE + 0x100;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], 2);
	/* A write from the host side (user_mem_write) is seen too. */
	static const uint8_t three[] = {3};
	assert_int_equal(user_mem_write(e->m, CODE + 1, three, 1), 0);
	e->cpu.rip = CODE;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX], 3);
	env_free(e);
}

static void test_self_modifying_same_block(void **state)
{
	/* mov byte [rip+1], 5 (the imm8 of the next instruction); mov al, 1; syscall */
	static const uint8_t code[] = {0xc6, 0x05, 0x01, 0x00, 0x00, 0x00,
	                               0x05, 0xb0, 0x01, 0x0f, 0x05};
	struct env *e = env_new(code, sizeof(code));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RAX] & 0xff, 5);
	assert_int_equal(e->cpu.icount, 3);
	env_free(e);
}

static void test_single_step(void **state)
{
	struct env *e = env_new(sum_loop, sizeof(sum_loop));
	/* Exactly one instruction per call. */
	assert_int_equal(cpu_run(&e->cpu, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.rip, CODE + 2);
	assert_int_equal(cpu_run(&e->cpu, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.rip, CODE + 7);
	assert_int_equal(e->cpu.gpr[R_RCX], 1000);
	assert_int_equal(cpu_run(&e->cpu, 3), CPU_EXIT_BUDGET); /* add, dec, jnz */
	assert_int_equal(e->cpu.rip, CODE + 7);
	assert_int_equal(e->cpu.gpr[R_RAX], 1000);
	assert_int_equal(cpu_run(&e->cpu, 7), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.icount, 12);
	assert_int_equal(e->cpu.rip, CODE + 9); /* stopped after an add */
	uint64_t steps = 0;
	enum cpu_exit x;
	while ((x = cpu_run(&e->cpu, 1)) == CPU_EXIT_BUDGET)
		steps++;
	assert_int_equal(x, CPU_EXIT_SYSCALL);
	assert_int_equal(steps, 3003 - 12 - 1);
	assert_int_equal(e->cpu.gpr[R_RAX], 500500);
	assert_int_equal(e->cpu.icount, 3003);
	env_free(e);
}

static void test_teardown_order(void **state)
{
	/* user_mem_destroy before cpu_fini is fine too (ASan checks it). */
	struct env *e = env_new(sum_loop, sizeof(sum_loop));
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_SYSCALL);
	user_mem_destroy(e->m);
	cpu_fini(&e->cpu);
	free(e);
}

static void *stop_later(void *arg)
{
	struct cpu *cpu = arg;
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	atomic_store(&cpu->stop_request, true);
	return NULL;
}

static void test_budget_and_stop(void **state)
{
	/* A budget larger than the run loop's chunk is still exact. */
	static const uint8_t spin[] = {0xff, 0xc0, 0xeb, 0xfc}; /* l: inc eax; jmp l */
	struct env *e = env_new(spin, sizeof(spin));
	assert_int_equal(cpu_run(&e->cpu, 200001), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.icount, 200001);
	assert_int_equal(e->cpu.gpr[R_RAX], 100001);
	assert_int_equal(e->cpu.rip, CODE + 2);
	/* A stop request from another thread ends an endless loop. */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_later, &e->cpu), 0);
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_STOP);
	pthread_join(t, NULL);
	assert_false(atomic_load(&e->cpu.stop_request));
	assert_int_equal(e->cpu.icount & 1, (e->cpu.rip == CODE + 2) ? 1 : 0);
	env_free(e);
}

/* ---- more instructions: one program per topic, checked after SYSCALL ---- */

static struct env *run_code(const uint8_t *code, size_t len, enum cpu_exit want)
{
	struct env *e = env_new(code, len);
	e->cpu.gpr[R_RSI] = DATA;
	enum cpu_exit x = cpu_run(&e->cpu, 0);
	if (x != want)
		fail_msg("exit %d (vector %d at %#llx), want %d", x, e->cpu.exc_vector,
		         (unsigned long long)e->cpu.rip, want);
	return e;
}

static uint64_t data64(struct env *e, uint64_t off)
{
	uint64_t v;
	assert_int_equal(user_mem_read(e->m, DATA + off, &v, 8), 0);
	return v;
}

static void test_locked_and_atomics(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0xc7, 0x06, 0x0a, 0x00, 0x00, 0x00, /* mov qword [rsi], 10 */
	    0xf0, 0x48, 0x83, 0x06, 0x05,             /* lock add qword [rsi], 5 */
	    0xb8, 0x03, 0x00, 0x00, 0x00,             /* mov eax, 3 */
	    0xf0, 0x48, 0x0f, 0xc1, 0x06,             /* lock xadd [rsi], rax: rax=15 */
	    0xb9, 0x63, 0x00, 0x00, 0x00,             /* mov ecx, 99 */
	    0x48, 0x89, 0xc2,                         /* mov rdx, rax (15) */
	    0x48, 0x83, 0xc0, 0x03,                   /* add rax, 3: 18 = [rsi] */
	    0xf0, 0x48, 0x0f, 0xb1, 0x0e,             /* lock cmpxchg [rsi], rcx: ZF=1 */
	    0x0f, 0x94, 0xc3,                         /* sete bl */
	    0xf0, 0x48, 0x0f, 0xb1, 0x0e,             /* lock cmpxchg [rsi], rcx: ZF=0, rax=99 */
	    0x0f, 0x94, 0xc7,                         /* sete bh */
	    0x48, 0x87, 0x56, 0x08,                   /* xchg [rsi+8], rdx */
	    0xf0, 0xff, 0x4e, 0x08,                   /* lock dec dword [rsi+8] */
	    0x0f, 0x05,
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_SYSCALL);
	assert_int_equal(data64(e, 0), 99);
	assert_int_equal(e->cpu.gpr[R_RAX], 99);
	assert_int_equal(e->cpu.gpr[R_RBX] & 0xffff, 0x0001);
	assert_int_equal(data64(e, 8), 14);
	assert_int_equal(e->cpu.gpr[R_RDX], 0);
	env_free(e);
}

/* RDRAND/RDSEED: random values from the host, CF=1, the other flags clear. */
static void test_rdrand(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0x83, 0xc8, 0xff,       /* or rax, -1: SF=1, CF=0 */
	    0x48, 0x0f, 0xc7, 0xf0,       /* rdrand rax */
	    0x9c,                         /* pushf */
	    0x5b,                         /* pop rbx */
	    0x48, 0x0f, 0xc7, 0xf9,       /* rdseed rcx */
	    0x66, 0x0f, 0xc7, 0xf2,       /* rdrand dx */
	    0x48, 0x0f, 0xc7, 0xf7,       /* rdrand rdi */
	    0x0f, 0x05,
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_SYSCALL);
	assert_int_equal(e->cpu.gpr[R_RBX] & 0x8d5, 0x001); /* CF only, of OF SF ZF AF PF CF */
	/* 2^-64 chances of a false failure per pair. */
	assert_true(e->cpu.gpr[R_RAX] != e->cpu.gpr[R_RCX] || e->cpu.gpr[R_RAX] != e->cpu.gpr[R_RDI]);
	env_free(e);
}

static void test_cmpxchg16b(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0xc7, 0x06, 0x01, 0x00, 0x00, 0x00,       /* mov qword [rsi], 1 */
	    0x48, 0xc7, 0x46, 0x08, 0x02, 0x00, 0x00, 0x00, /* mov qword [rsi+8], 2 */
	    0xb8, 0x01, 0x00, 0x00, 0x00,                   /* mov eax, 1 */
	    0xba, 0x02, 0x00, 0x00, 0x00,                   /* mov edx, 2 */
	    0xbb, 0x07, 0x00, 0x00, 0x00,                   /* mov ebx, 7 */
	    0xb9, 0x08, 0x00, 0x00, 0x00,                   /* mov ecx, 8 */
	    0xf0, 0x48, 0x0f, 0xc7, 0x0e,                   /* lock cmpxchg16b [rsi] */
	    0x0f, 0x94, 0xc0,                               /* sete al */
	    0x0f, 0xc7, 0x4e, 0x10,                         /* cmpxchg8b [rsi+16]: ZF=0 */
	    0x0f, 0x05,
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_SYSCALL);
	assert_int_equal(data64(e, 0), 7);
	assert_int_equal(data64(e, 8), 8);
	/* cmpxchg8b compared EDX:EAX = 2:1 with 0 and loaded it */
	assert_int_equal(e->cpu.gpr[R_RAX], 0);
	assert_int_equal(e->cpu.gpr[R_RDX], 0);
	env_free(e);
}

static void test_moves(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x81, /* mov rax, imm64 */
	    0x48, 0x89, 0x06,                                           /* mov [rsi], rax */
	    0x48, 0x0f, 0xbe, 0x1e,                                     /* movsx rbx, byte [rsi] */
	    0x0f, 0xb7, 0x4e, 0x06,       /* movzx ecx, word [rsi+6] */
	    0x48, 0x63, 0x6e, 0x04,       /* movsxd rbp, [rsi+4] */
	    0x48, 0x8d, 0x7c, 0x8e, 0x10, /* lea rdi, [rsi+rcx*4+16] */
	    0x48, 0x98,                   /* cdqe */
	    0x48, 0x99,                   /* cqo */
	    0x40, 0x88, 0xe6,             /* mov sil, spl */
	    0x0f, 0x0b,                   /* ud2: stop */
	};
	struct env *e = env_new(code, sizeof(code));
	e->cpu.gpr[R_RSI] = DATA;
	e->cpu.gpr[R_RSP] = STACK_TOP - 0x10; /* spl = 0xf0 */
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	assert_int_equal(e->cpu.gpr[R_RBX], 0xffffffffffffff88ULL);
	assert_int_equal(e->cpu.gpr[R_RCX], 0x8122);
	assert_int_equal(e->cpu.gpr[R_RBP], 0xffffffff81223344ULL);
	assert_int_equal(e->cpu.gpr[R_RDI], DATA + 0x8122 * 4 + 16);
	assert_int_equal(e->cpu.gpr[R_RAX], 0x55667788);
	assert_int_equal(e->cpu.gpr[R_RDX], 0); /* cqo of a positive rax */
	assert_int_equal(e->cpu.gpr[R_RSI], DATA | 0xf0);
	env_free(e);
}

static void test_cmov_setcc_jcc(void **state)
{
	static const uint8_t code[] = {
	    0xb8, 0xff, 0xff, 0xff, 0xff,             /* mov eax, -1 */
	    0xbb, 0x01, 0x00, 0x00, 0x00,             /* mov ebx, 1 */
	    0x39, 0xd8,                               /* cmp eax, ebx */
	    0x0f, 0x9c, 0xc1,                         /* setl cl: 1 */
	    0x0f, 0x92, 0xc5,                         /* setb ch: 0 (unsigned -1 > 1) */
	    0x48, 0x0f, 0x47, 0xd3,                   /* cmova rdx, rbx: rdx = 1 */
	    0x48, 0xc7, 0xc7, 0xff, 0xff, 0xff, 0xff, /* mov rdi, -1 */
	    0x0f, 0x42, 0xfb, /* cmovb edi, ebx: false, still zero-extends */
	    0x7f, 0x02,       /* jg +2: not taken */
	    0xeb, 0x02,       /* jmp +2 */
	    0x0f, 0x0b,       /* ud2 (skipped) */
	    0xcc,             /* int3: stop */
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_BP);
	assert_int_equal(e->cpu.gpr[R_RCX] & 0xffff, 0x0001);
	assert_int_equal(e->cpu.gpr[R_RDX], 1);
	assert_int_equal(e->cpu.gpr[R_RDI], 0xffffffff);
	env_free(e);
}

static void test_traps_and_faults(void **state)
{
	static const uint8_t int3[] = {0x90, 0xcc, 0x90};
	struct env *e = run_code(int3, sizeof(int3), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_BP);
	assert_int_equal(e->cpu.rip, CODE + 2); /* a trap: after the INT3 */
	assert_int_equal(e->cpu.icount, 2);
	env_free(e);

	static const uint8_t ud2[] = {0x90, 0x0f, 0x0b};
	e = run_code(ud2, sizeof(ud2), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_UD);
	assert_int_equal(e->cpu.rip, CODE + 1);
	env_free(e);

	/* A write to a read-only page: #PF with P and W. */
	static const uint8_t ro[] = {0x48, 0x89, 0x06}; /* mov [rsi], rax */
	e = env_new(ro, sizeof(ro));
	assert_int_equal(user_mem_protect(e->m, DATA, PG, USER_PROT_READ), 0);
	e->cpu.gpr[R_RSI] = DATA + 8;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_PF);
	assert_int_equal(e->cpu.exc_error, 0x7);
	assert_int_equal(e->cpu.cr2, DATA + 8);
	env_free(e);

	/* Non-canonical: #GP(0); HLT at CPL 3: #GP(0). */
	static const uint8_t nc[] = {0x48, 0x8b, 0x06}; /* mov rax, [rsi] */
	e = env_new(nc, sizeof(nc));
	e->cpu.gpr[R_RSI] = 0x8000000000000000ULL;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	env_free(e);
	static const uint8_t hlt[] = {0xf4};
	e = run_code(hlt, sizeof(hlt), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_vector, EXC_GP);
	env_free(e);

	/* Executing an unmapped page: #PF with I/D; a push below the stack: W. */
	static const uint8_t jmp[] = {0xff, 0xe0}; /* jmp rax */
	e = env_new(jmp, sizeof(jmp));
	e->cpu.gpr[R_RAX] = 0x10000;
	assert_int_equal(cpu_run(&e->cpu, 0), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc_error, 0x14);
	assert_int_equal(e->cpu.rip, 0x10000);
	env_free(e);
}

static void test_stack_ops(void **state)
{
	static const uint8_t code[] = {
	    0x6a, 0xfe,                   /* push -2 */
	    0x68, 0x00, 0x10, 0x00, 0x00, /* push 0x1000 */
	    0x9c,                         /* pushf */
	    0x58,                         /* pop rax (flags) */
	    0x5b,                         /* pop rbx: 0x1000 */
	    0x8f, 0x06,                   /* pop qword [rsi]: -2 */
	    0xff, 0x36,                   /* push qword [rsi] */
	    0x59,                         /* pop rcx */
	    0x55,                         /* push rbp */
	    0x48, 0x89, 0xe5,             /* mov rbp, rsp */
	    0x48, 0x83, 0xec, 0x20,       /* sub rsp, 32 */
	    0xc9,                         /* leave */
	    0x0f, 0x0b,                   /* ud2: stop */
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.gpr[R_RAX] & 0x202, 0x202);
	assert_int_equal(e->cpu.gpr[R_RBX], 0x1000);
	assert_int_equal(e->cpu.gpr[R_RCX], (uint64_t)-2);
	assert_int_equal(data64(e, 0), (uint64_t)-2);
	assert_int_equal(e->cpu.gpr[R_RSP], STACK_TOP);
	env_free(e);
}

static void test_cpuid_rdtsc(void **state)
{
	static const uint8_t code[] = {
	    0x31, 0xc0,       /* xor eax, eax */
	    0x0f, 0xa2,       /* cpuid */
	    0x89, 0x1e,       /* mov [rsi], ebx */
	    0x89, 0x56, 0x04, /* mov [rsi+4], edx */
	    0x89, 0x4e, 0x08, /* mov [rsi+8], ecx */
	    0x0f, 0x31,       /* rdtsc */
	    0x0f, 0x05,
	};
	struct env *e = run_code(code, sizeof(code), CPU_EXIT_SYSCALL);
	char vendor[13] = {0};
	assert_int_equal(user_mem_read(e->m, DATA, vendor, 12), 0);
	assert_string_equal(vendor, "EmberSoftCPU");
	assert_true(e->cpu.gpr[R_RAX] != 0 || e->cpu.gpr[R_RDX] != 0);
	env_free(e);
}

/* ---- the micro-benchmarks (docs/softcpu.md) ---- */

/* Loop kernels; ECX counts the iterations (bytes 1-4 of each are the count). */
static const uint8_t bench_alu[] = {
    0xb9, 0,    0, 0, 0, /* mov ecx, N */
    0x01, 0xc8,          /* l: add eax, ecx */
    0xff, 0xc9,          /* dec ecx */
    0x75, 0xfa,          /* jnz l */
    0x0f, 0x05,
};
static const uint8_t bench_mem[] = {
    0xb9, 0,    0,    0,    0, /* mov ecx, N */
    0x48, 0x8b, 0x06,          /* l: mov rax, [rsi] */
    0x48, 0x01, 0xc8,          /* add rax, rcx */
    0x48, 0x89, 0x06,          /* mov [rsi], rax */
    0x48, 0x3b, 0x46, 0x08,    /* cmp rax, [rsi+8] */
    0xff, 0xc9,                /* dec ecx */
    0x75, 0xef,                /* jnz l */
    0x0f, 0x05,
};
static const uint8_t bench_call[] = {
    0xb9, 0,    0,    0,    0,    /* mov ecx, N */
    0xe8, 0x06, 0x00, 0x00, 0x00, /* l: call f */
    0xff, 0xc9,                   /* dec ecx */
    0x75, 0xf7,                   /* jnz l */
    0x0f, 0x05,                   /* syscall */
    0x48, 0xff, 0xc0,             /* f: inc rax */
    0xc3,                         /* ret */
};

static int bench(uint64_t iters, const char *kind)
{
	const uint8_t *k = bench_alu;
	size_t len = sizeof(bench_alu);
	if (strcmp(kind, "mem") == 0) {
		k = bench_mem;
		len = sizeof(bench_mem);
	} else if (strcmp(kind, "call") == 0) {
		k = bench_call;
		len = sizeof(bench_call);
	}
	uint8_t code[64];
	uint32_t n = (uint32_t)iters;
	memcpy(code, k, len);
	memcpy(code + 1, &n, 4);
	struct env *e = env_new(code, len);
	e->cpu.gpr[R_RSI] = DATA;
	/* CPU time, not wall time: the machine may be shared. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	enum cpu_exit x = cpu_run(&e->cpu, 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	printf("%s: %llu instructions in %.3f s of CPU time: %.0f MIPS\n", kind,
	       (unsigned long long)e->cpu.icount, s, (double)e->cpu.icount / s / 1e6);
	env_free(e);
	return x == CPU_EXIT_SYSCALL ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc > 2 ? strtoull(argv[2], NULL, 0) : 100000000,
		             argc > 3 ? argv[3] : "alu");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arith_flags),
	    cmocka_unit_test(test_sum_loop),
	    cmocka_unit_test(test_fib),
	    cmocka_unit_test(test_page_fault),
	    cmocka_unit_test(test_self_modifying),
	    cmocka_unit_test(test_self_modifying_same_block),
	    cmocka_unit_test(test_single_step),
	    cmocka_unit_test(test_budget_and_stop),
	    cmocka_unit_test(test_teardown_order),
	    cmocka_unit_test(test_locked_and_atomics),
	    cmocka_unit_test(test_cmpxchg16b),
	    cmocka_unit_test(test_rdrand),
	    cmocka_unit_test(test_moves),
	    cmocka_unit_test(test_cmov_setcc_jcc),
	    cmocka_unit_test(test_traps_and_faults),
	    cmocka_unit_test(test_stack_ops),
	    cmocka_unit_test(test_cpuid_rdtsc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
