/*
 * A user-mode software CPU over a small address space for unit tests: code
 * at CODE (4 pages, RWX), data at DATA (2 pages), a 16-page stack below
 * STACK_TOP; RIP at CODE. Include after cmocka.h.
 */
#ifndef EMBER_TESTS_UNIT_TEST_SOFT_ENV_H
#define EMBER_TESTS_UNIT_TEST_SOFT_ENV_H

#include <stdlib.h>

#include "accel/soft/cpu.h"
#include "accel/soft/user_mem.h"

#define CODE      0x400000ULL
#define DATA      0x600000ULL
#define STACK_TOP 0x7fff00000000ULL
#define PG        USER_PAGE_SIZE

struct env {
	struct user_mem *m;
	struct cpu cpu;
};

static inline struct env *env_new(const void *code, size_t len)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->m = user_mem_create();
	assert_non_null(e->m);
	assert_int_equal(user_mem_map(e->m, CODE, 4 * PG,
	                              USER_PROT_READ | USER_PROT_WRITE | USER_PROT_EXEC, NULL),
	                 0);
	assert_int_equal(user_mem_map(e->m, DATA, 2 * PG, USER_PROT_READ | USER_PROT_WRITE, NULL),
	                 0);
	assert_int_equal(user_mem_map(e->m, STACK_TOP - 16 * PG, 16 * PG,
	                              USER_PROT_READ | USER_PROT_WRITE, NULL),
	                 0);
	assert_int_equal(user_mem_write(e->m, CODE, code, len), 0);
	cpu_init_user64(&e->cpu, &user_mem_ops, e->m);
	e->cpu.rip = CODE;
	e->cpu.gpr[R_RSP] = STACK_TOP;
	return e;
}

static inline void env_free(struct env *e)
{
	cpu_fini(&e->cpu);
	user_mem_destroy(e->m);
	free(e);
}

#endif
