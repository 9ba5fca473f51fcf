/*
 * Unit tests for the lockstep trace writer (accel/soft/lockstep.h): the
 * spec parser, and traces of a tiny user-mode loop run the way a run loop
 * uses the API (lockstep_trace_step before every cpu_run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel/soft/cpu.h"
#include "accel/soft/lockstep.h"
#include "accel/soft/user_mem.h"

#define CODE      0x400000ULL
#define STACK_TOP 0x7fff00000000ULL

/*
 *   400000: mov eax, 1        b8 01 00 00 00
 *   400005: mov ecx, 3        b9 03 00 00 00
 *   40000a: add eax, eax      01 c0            <- loop
 *   40000c: dec ecx           ff c9
 *   40000e: jnz 40000a        75 fa
 *   400010: syscall           0f 05
 * 2 + 3 * 3 + 1 = 12 instructions; rax ends at 8.
 */
static const uint8_t prog[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xb9, 0x03, 0x00, 0x00,
                               0x00, 0x01, 0xc0, 0xff, 0xc9, 0x75, 0xfa, 0x0f, 0x05};

struct env {
	struct user_mem *m;
	struct cpu cpu;
	char path[64];
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->m = user_mem_create();
	assert_int_equal(user_mem_map(e->m, CODE, USER_PAGE_SIZE,
	                              USER_PROT_READ | USER_PROT_WRITE | USER_PROT_EXEC, NULL),
	                 0);
	assert_int_equal(user_mem_map(e->m, STACK_TOP - USER_PAGE_SIZE, USER_PAGE_SIZE,
	                              USER_PROT_READ | USER_PROT_WRITE, NULL),
	                 0);
	assert_int_equal(user_mem_write(e->m, CODE, prog, sizeof(prog)), 0);
	cpu_init_user64(&e->cpu, &user_mem_ops, e->m);
	e->cpu.rip = CODE;
	e->cpu.gpr[R_RSP] = STACK_TOP;
	strcpy(e->path, "/tmp/test_soft_lockstep.XXXXXX");
	int fd = mkstemp(e->path);
	assert_true(fd >= 0);
	close(fd);
	return e;
}

static void env_free(struct env *e)
{
	unlink(e->path);
	cpu_fini(&e->cpu);
	user_mem_destroy(e->m);
	free(e);
}

/* Runs the program to its SYSCALL the way a run loop does; how many cpu_run calls. */
static unsigned run_traced(struct env *e, unsigned vcpu)
{
	unsigned calls = 0;
	for (;;) {
		uint64_t budget = lockstep_trace_on() ? lockstep_trace_step(&e->cpu, vcpu, 0) : 0;
		calls++;
		enum cpu_exit why = cpu_run(&e->cpu, budget);
		if (why == CPU_EXIT_SYSCALL)
			break;
		assert_int_equal(why, CPU_EXIT_BUDGET);
		assert_true(calls < 100);
	}
	lockstep_trace_disable();
	assert_int_equal(e->cpu.gpr[R_RAX], 8);
	return calls;
}

/* Enables a trace into the env's file: spec is the rest of the options ("" or "a=b,"). */
static void enable(struct env *e, const char *spec)
{
	char full[256];
	snprintf(full, sizeof(full), "%sfile=%s", spec, e->path);
	assert_int_equal(lockstep_trace_enable(full), 0);
}

/* The trace's lines: records (not starting with '#') and comments. */
struct lines {
	char rec[32][640];
	unsigned n_rec;
	char comment[64][256];
	unsigned n_comment;
	unsigned n_cpuid;
};

static void read_lines(const char *path, struct lines *l)
{
	memset(l, 0, sizeof(*l));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");
		line[n] = '\0';
		if (!strncmp(line, "# cpuid ", 8)) {
			l->n_cpuid++;
		} else if (line[0] == '#') {
			assert_true(l->n_comment < 64 && n < sizeof(l->comment[0]));
			memcpy(l->comment[l->n_comment++], line, n + 1);
		} else {
			assert_true(l->n_rec < 32 && n < sizeof(l->rec[0]));
			memcpy(l->rec[l->n_rec++], line, n + 1);
		}
	}
	fclose(f);
}

/* The hex value of key in a record ("rip", "rax", ...). */
static uint64_t field(const char *rec, const char *key)
{
	char pat[16];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *p = strstr(rec, pat);
	if (!p && !strncmp(rec, pat + 1, strlen(pat) - 1))
		p = rec - 1;
	assert_non_null(p);
	return strtoull(p + strlen(pat), NULL, !strcmp(key, "i") ? 10 : 16);
}

static void test_spec_parse(void **state)
{
	struct lockstep_spec s;
	char err[160];
	assert_int_equal(lockstep_spec_parse("", &s, err, sizeof(err)), 0);
	assert_false(s.from_is_rip);
	assert_int_equal(s.from, 0);
	assert_int_equal(s.count, 0);
	assert_string_equal(s.file, "ember-trace.txt");

	assert_int_equal(lockstep_spec_parse("from=0xffffffff81000000#3,count=10,file=/x/y,"
	                                     "every=block,cpu=2,flush=1",
	                                     &s, err, sizeof(err)),
	                 0);
	assert_true(s.from_is_rip);
	assert_int_equal(s.from, 0xffffffff81000000ULL);
	assert_int_equal(s.from_hits, 3);
	assert_int_equal(s.count, 10);
	assert_string_equal(s.file, "/x/y");
	assert_true(s.every_block);
	assert_int_equal(s.cpu, 2);
	assert_true(s.flush);

	assert_int_equal(lockstep_spec_parse("from=123456,every=1", &s, err, sizeof(err)), 0);
	assert_false(s.from_is_rip);
	assert_int_equal(s.from, 123456);
	assert_int_equal(s.from_hits, 1);
	assert_false(s.every_block);

	static const char *const bad[] = {"from=",      "from=12x", "from=0x", "from=0x10#0",
	                                  "from=0x10#", "count=-1", "every=2", "cpu=9999",
	                                  "nosuch=1",   "count",    "flush=2", "file="};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err[0] = '\0';
		assert_int_equal(lockstep_spec_parse(bad[k], &s, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
	}
}

static void test_enable_errors(void **state)
{
	assert_int_equal(lockstep_trace_enable("count=x"), -EINVAL);
	assert_false(lockstep_trace_on());
	assert_int_equal(lockstep_trace_enable("file=/nonexistent-dir/t"), -ENOENT);
	assert_false(lockstep_trace_on());
	unsetenv(LOCKSTEP_ENV);
	assert_int_equal(lockstep_trace_enable_from_env(), 0);
	assert_false(lockstep_trace_on());
	lockstep_trace_disable(); /* nothing on: a no-op */
}

/* Every instruction from the start: 12 records, each the state before it runs. */
static void test_trace_every_instruction(void **state)
{
	struct env *e = env_new();
	enable(e, "");
	run_traced(e, 0);
	struct lines l;
	read_lines(e->path, &l);
	assert_int_equal(l.n_rec, 12);
	static const uint64_t rips[12] = {0x400000, 0x400005, 0x40000a, 0x40000c,
	                                  0x40000e, 0x40000a, 0x40000c, 0x40000e,
	                                  0x40000a, 0x40000c, 0x40000e, 0x400010};
	for (unsigned k = 0; k < 12; k++) {
		assert_int_equal(field(l.rec[k], "rip"), rips[k]);
		assert_int_equal(field(l.rec[k], "i"), k);
	}
	/* Registers are those before the instruction: add eax, eax doubles rax. */
	assert_int_equal(field(l.rec[2], "rax"), 1);
	assert_int_equal(field(l.rec[3], "rax"), 2);
	assert_int_equal(field(l.rec[11], "rax"), 8);
	assert_int_equal(field(l.rec[11], "rcx"), 0);
	/* dec ecx reaching 0 set ZF (bit 6) by the time of the syscall. */
	assert_true(field(l.rec[11], "rfl") & 0x40);
	assert_non_null(strstr(l.rec[0], " cpl=3 m=64 b=b801000000 insn=\"mov"));
	assert_non_null(strstr(l.rec[2], "b=01c0 insn=\"add"));
	assert_non_null(strstr(l.rec[11], "insn=\"syscall"));
	assert_non_null(strstr(l.rec[0], " cs=0033 "));
	assert_non_null(strstr(l.comment[0], "# ember-lockstep 1 cpu=0"));
	assert_non_null(strstr(l.comment[1], "# start: i=0 rip=400000"));
	assert_non_null(strstr(l.comment[2], "# end: the run ended, 12 records"));
	/* The user-mode CPUID table, leaf 0 first. */
	assert_true(l.n_cpuid > 3);
	env_free(e);
}

/* from=N runs freely to instruction N; count ends the window and the stepping. */
static void test_trace_from_count(void **state)
{
	struct env *e = env_new();
	enable(e, "from=4,count=3,");
	unsigned calls = run_traced(e, 0);
	struct lines l;
	read_lines(e->path, &l);
	assert_int_equal(l.n_rec, 3);
	assert_int_equal(field(l.rec[0], "i"), 4);
	assert_int_equal(field(l.rec[0], "rip"), 0x40000e);
	assert_int_equal(field(l.rec[2], "i"), 6);
	assert_non_null(strstr(l.comment[2], "# end: count reached, 3 records"));
	/* One free run to 4, three single steps, then the rest in one go. */
	assert_int_equal(calls, 5);
	env_free(e);
}

/* from=0xRIP#2: the second time the loop head is about to run. */
static void test_trace_from_rip_hits(void **state)
{
	struct env *e = env_new();
	enable(e, "from=0x40000a#2,count=2,");
	run_traced(e, 0);
	struct lines l;
	read_lines(e->path, &l);
	assert_int_equal(l.n_rec, 2);
	assert_int_equal(field(l.rec[0], "rip"), 0x40000a);
	assert_int_equal(field(l.rec[0], "i"), 5);
	assert_int_equal(field(l.rec[0], "rax"), 2);
	assert_int_equal(field(l.rec[1], "rip"), 0x40000c);
	env_free(e);
}

/* every=block keeps only instructions not reached by falling through. */
static void test_trace_every_block(void **state)
{
	struct env *e = env_new();
	enable(e, "every=block,");
	run_traced(e, 0);
	struct lines l;
	read_lines(e->path, &l);
	/* The entry, then the two taken jnz targets. */
	assert_int_equal(l.n_rec, 3);
	assert_int_equal(field(l.rec[0], "rip"), 0x400000);
	assert_int_equal(field(l.rec[1], "rip"), 0x40000a);
	assert_int_equal(field(l.rec[1], "i"), 5);
	assert_int_equal(field(l.rec[2], "i"), 8);
	env_free(e);
}

/* Another vCPU's loop gets its budget back untouched and writes nothing. */
static void test_trace_other_cpu(void **state)
{
	struct env *e = env_new();
	enable(e, "cpu=1,");
	assert_int_equal(lockstep_trace_step(&e->cpu, 0, 12345), 12345);
	unsigned calls = run_traced(e, 0);
	assert_int_equal(calls, 1);
	struct lines l;
	read_lines(e->path, &l);
	assert_int_equal(l.n_rec, 0);
	assert_non_null(strstr(l.comment[1], "before the trace started"));
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_parse),
	    cmocka_unit_test(test_enable_errors),
	    cmocka_unit_test(test_trace_every_instruction),
	    cmocka_unit_test(test_trace_from_count),
	    cmocka_unit_test(test_trace_from_rip_hits),
	    cmocka_unit_test(test_trace_every_block),
	    cmocka_unit_test(test_trace_other_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
