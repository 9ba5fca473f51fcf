/*
 * What the string instruction tests share (test_soft_string.c,
 * test_soft_string_edge.c): a user-mode CPU over user_mem with code at CODE
 * and caller-visible data pages at DATA.
 */
#ifndef EMBER_TEST_SOFT_STRING_H
#define EMBER_TEST_SOFT_STRING_H

#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"
#include "accel/soft/user_mem.h"

#define CODE  0x400000ULL
#define DATA  0x600000ULL
#define PG    USER_PAGE_SIZE
#define NPG   8 /* data pages of the model tests */
#define AREA  (NPG * PG)
#define RW    (USER_PROT_READ | USER_PROT_WRITE)
#define RWX   (RW | USER_PROT_EXEC)
#define ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

struct env {
	struct user_mem *m;
	uint8_t *data; /* host view of DATA, data_len bytes */
	size_t data_len;
	struct cpu cpu;
};

static inline struct env *env_new_ops(size_t data_pages, const struct cpu_mem_ops *ops)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->m = user_mem_create();
	e->data_len = data_pages * PG;
	e->data = aligned_alloc(PG, e->data_len);
	assert_non_null(e->data);
	memset(e->data, 0, e->data_len);
	assert_int_equal(user_mem_map(e->m, CODE, 4 * PG, RWX, NULL), 0);
	assert_int_equal(user_mem_map(e->m, DATA, e->data_len, RW, e->data), 0);
	cpu_init_user64(&e->cpu, ops, e->m);
	return e;
}

static inline struct env *env_new(size_t data_pages)
{
	return env_new_ops(data_pages, &user_mem_ops);
}

static inline void env_free(struct env *e)
{
	cpu_fini(&e->cpu);
	user_mem_destroy(e->m);
	free(e->data);
	free(e);
}

/* Puts code at CODE and runs budget instructions (1: exactly the first). */
static inline enum cpu_exit run_at(struct env *e, const uint8_t *code, size_t len, uint64_t budget)
{
	assert_int_equal(user_mem_write(e->m, CODE, code, len), 0);
	e->cpu.rip = CODE;
	return cpu_run(&e->cpu, budget);
}

static inline uint32_t arith(struct cpu *cpu)
{
	return (uint32_t)cpu_get_rflags(cpu) & ARITH;
}

#endif
