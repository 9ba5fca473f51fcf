/* Unit tests for the software CPU's user-mode address space (user_mem.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"
#include "accel/soft/user_mem.h"

#define PG USER_PAGE_SIZE

static void test_map_rw(void **state)
{
	struct user_mem *m = user_mem_create();
	assert_non_null(m);
	assert_int_equal(user_mem_map(m, 0x10000, 3 * PG, USER_PROT_READ | USER_PROT_WRITE, NULL),
	                 0);
	uint8_t buf[8192];
	memset(buf, 0x5a, sizeof(buf));
	/* Cross-page copies, and fresh pages read as zero. */
	assert_int_equal(user_mem_write(m, 0x10ffc, buf, 8), 0);
	uint8_t out[16] = {0};
	assert_int_equal(user_mem_read(m, 0x10ff8, out, 16), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[4], 0x5a);
	assert_int_equal(out[11], 0x5a);
	assert_int_equal(out[12], 0);
	/* The owned pages of one map call are host-contiguous. */
	assert_non_null(user_mem_ptr(m, 0x10ffc, 8, USER_PROT_WRITE));
	assert_null(user_mem_ptr(m, 0x10000, PG, USER_PROT_EXEC));
	assert_non_null(user_mem_ptr(m, 0x10000, PG, 0));
	/* Beyond the mapping. */
	assert_int_equal(user_mem_read(m, 0x12ff8, out, 16), -EFAULT);
	assert_null(user_mem_ptr(m, 0x13000, 1, 0));
	assert_int_equal(user_mem_protect(m, 0x11000, PG, USER_PROT_READ), 0);
	assert_int_equal(user_mem_write(m, 0x10ff8, buf, 16), -EFAULT);
	assert_int_equal(user_mem_protect(m, 0x12000, 2 * PG, USER_PROT_READ), -ENOMEM);
	assert_int_equal(user_mem_unmap(m, 0x11000, PG), 0);
	assert_null(user_mem_ptr(m, 0x11000, 1, 0));
	assert_non_null(user_mem_ptr(m, 0x12000, 1, USER_PROT_READ));
	assert_int_equal(user_mem_map(m, 0x10001, PG, USER_PROT_READ, NULL), -EINVAL);
	user_mem_destroy(m);
}

static void test_host_pages(void **state)
{
	struct user_mem *m = user_mem_create();
	uint8_t *host = aligned_alloc(PG, 2 * PG);
	memset(host, 7, 2 * PG);
	assert_int_equal(user_mem_map(m, 0x7ffff0000000, 2 * PG, USER_PROT_READ, host), 0);
	assert_ptr_equal(user_mem_ptr(m, 0x7ffff0000010, 2, USER_PROT_READ), host + 0x10);
	assert_ptr_equal(user_mem_ptr(m, 0x7ffff0000ff0, 0x20, USER_PROT_READ), host + 0xff0);
	assert_null(user_mem_ptr(m, 0x7ffff0000000, 1, USER_PROT_WRITE));
	user_mem_destroy(m);
	assert_int_equal(host[5], 7); /* not owned: left alone */
	free(host);
}

static void test_find_free(void **state)
{
	struct user_mem *m = user_mem_create();
	assert_int_equal(user_mem_find_free(m, 0x400000, PG), 0x400000);
	assert_int_equal(user_mem_map(m, 0x400000, 4 * PG, USER_PROT_READ, NULL), 0);
	assert_int_equal(user_mem_map(m, 0x406000, PG, USER_PROT_READ, NULL), 0);
	assert_int_equal(user_mem_find_free(m, 0x400000, PG), 0x404000);
	assert_int_equal(user_mem_find_free(m, 0x400000, 2 * PG), 0x404000);
	assert_int_equal(user_mem_find_free(m, 0x400000, 3 * PG), 0x407000);
	assert_int_equal(user_mem_find_free(m, 0x7f0000000000, MIB(1)), 0x7f0000000000);
	assert_int_equal(user_mem_find_free(m, 0x7ffffffff000, 2 * PG), 0);
	user_mem_destroy(m);
}

/* translate: faults with the error code of SDM vol. 3, 4.7. */
static struct cpu tcpu;

static int try_translate(struct user_mem *m, uint64_t va, unsigned access, unsigned *flags)
{
	tcpu.mem_ctx = m;
	tcpu.exc_vector = 0;
	if (setjmp(tcpu.exc_jmp) == 0) {
		user_mem_ops.translate(&tcpu, va, access, flags);
		return -1;
	}
	assert_int_equal(tcpu.exc_vector, EXC_PF);
	assert_int_equal(tcpu.cr2, va);
	return (int)tcpu.exc_error;
}

static void test_translate(void **state)
{
	struct user_mem *m = user_mem_create();
	assert_int_equal(user_mem_map(m, 0x1000, PG, USER_PROT_READ, NULL), 0);
	assert_int_equal(user_mem_map(m, 0x2000, PG, USER_PROT_READ | USER_PROT_EXEC, NULL), 0);
	assert_int_equal(user_mem_map(m, 0x3000, PG, 0, NULL), 0);
	unsigned fl = 99;
	assert_int_equal(try_translate(m, 0x1008, CPU_ACCESS_READ, &fl), -1);
	assert_int_equal(fl, 0);
	assert_int_equal(try_translate(m, 0x1008, CPU_ACCESS_WRITE, &fl), 0x7);
	assert_int_equal(try_translate(m, 0x1008, CPU_ACCESS_FETCH, &fl), 0x15);
	assert_int_equal(try_translate(m, 0x5008, CPU_ACCESS_READ, &fl), 0x4);
	assert_int_equal(try_translate(m, 0x5008, CPU_ACCESS_WRITE, &fl), 0x6);
	assert_int_equal(try_translate(m, 0x3000, CPU_ACCESS_READ, &fl), 0x4); /* PROT_NONE */
	assert_int_equal(try_translate(m, 0x0000800000000000ULL, CPU_ACCESS_READ, &fl), 0x4);
	/* A fetch marks the page as holding code: TLB_CODE from then on. */
	assert_int_equal(try_translate(m, 0x2000, CPU_ACCESS_FETCH, &fl), -1);
	assert_int_equal(try_translate(m, 0x2000, CPU_ACCESS_READ, &fl), -1);
	assert_int_equal(fl, TLB_CODE);
	/* Unmapping the code page forgets it. */
	assert_int_equal(user_mem_unmap(m, 0x2000, PG), 0);
	assert_int_equal(user_mem_map(m, 0x2000, PG, USER_PROT_READ, NULL), 0);
	assert_int_equal(try_translate(m, 0x2000, CPU_ACCESS_READ, &fl), -1);
	assert_int_equal(fl, 0);
	user_mem_ops.detach(&tcpu);
	user_mem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_rw),
	    cmocka_unit_test(test_host_pages),
	    cmocka_unit_test(test_find_free),
	    cmocka_unit_test(test_translate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
