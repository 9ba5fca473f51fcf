/*
 * Unit tests for the software accelerator (accel_soft.c, soft_vcpu.c)
 * through accel_soft_ops, as vmm/ drives it: port and MMIO accesses reach
 * the io callback inside vcpu_run, HLT sleeps until a kick, an AP waits for
 * its start-up IPI, a triple fault is ACCEL_EXIT_SHUTDOWN, and the CPUID
 * and TSC the VM gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "accel/soft/accel_soft.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/regs.h"
#include "vmm/memory.h"

#define CODE_GPA   0x100000ULL
#define MMIO_GPA   0xd0000000ULL
#define MMIO_VALUE 0x12345678u

/* What the io callback saw. */
struct io_log {
	_Atomic unsigned count;
	uint16_t ports[16];
	uint32_t values[16];
	uint64_t mmio_gpa;
	unsigned vcpu;
};

static void io_cb(void *ctx, unsigned vcpu, const struct accel_exit *e)
{
	struct io_log *log = ctx;
	unsigned n = atomic_load(&log->count);
	log->vcpu = vcpu;
	if (e->reason == ACCEL_EXIT_MMIO) {
		log->mmio_gpa = e->mmio.gpa;
		if (!e->mmio.is_write) {
			uint32_t v = MMIO_VALUE;
			memcpy(e->mmio.data, &v, e->mmio.size < 4 ? e->mmio.size : 4);
		}
		return;
	}
	assert_int_equal(e->reason, ACCEL_EXIT_PIO);
	assert_int_equal(e->pio.count, 1);
	if (n < 16 && e->pio.is_write) {
		uint32_t v = 0;
		memcpy(&v, e->pio.data, e->pio.size);
		log->ports[n] = e->pio.port;
		log->values[n] = v;
		atomic_store(&log->count, n + 1);
	}
}

struct guest {
	struct accel_vm *vm;
	struct accel_vcpu *vcpu[2];
	struct guest_memory mem;
	struct io_log log;
};

/* A 2-vCPU VM with 2 MiB of RAM; vCPU 0 in flat 32-bit mode at code. */
static void guest_start(struct guest *g, const uint8_t *code, size_t len)
{
	const struct accel_ops *ops = &accel_soft_ops;
	char err[256];
	memset(g, 0, sizeof(*g));
	struct accel_vm_params params = {.nr_vcpus = 2, .io = io_cb, .io_ctx = &g->log};
	assert_int_equal(ops->vm_create(&params, &g->vm, err, sizeof(err)), 0);
	assert_int_equal(guest_memory_init(&g->mem, 2 << 20), 0);
	assert_int_equal(
	    ops->map_ram(g->vm, 0, 0, g->mem.regions[0].hva, g->mem.regions[0].size, 0), 0);
	struct x86_sregs sregs;
	assert_int_equal(x86_setup_flat32(&g->mem, &sregs), 0);
	assert_int_equal(guest_memory_write(&g->mem, CODE_GPA, code, len), 0);

	struct cpuid_entry supported[CPUID_MAX_ENTRIES], cpuid[CPUID_MAX_ENTRIES];
	size_t nr = CPUID_MAX_ENTRIES, n;
	assert_int_equal(ops->supported_cpuid(g->vm, supported, &nr), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ops->vcpu_create(g->vm, i, &g->vcpu[i]), 0);
		assert_int_equal(cpuid_normalize(supported, nr, i, 2, cpuid, &n), 0);
		assert_int_equal(ops->vcpu_set_cpuid(g->vcpu[i], cpuid, n), 0);
		assert_int_equal(ops->vcpu_init_platform(g->vcpu[i]), 0);
	}
	struct x86_regs regs = {.rip = CODE_GPA, .rflags = X86_RFLAGS_RESERVED1};
	assert_int_equal(ops->vcpu_set_sregs(g->vcpu[0], &sregs), 0);
	assert_int_equal(ops->vcpu_set_regs(g->vcpu[0], &regs), 0);
}

static void guest_stop(struct guest *g)
{
	for (unsigned i = 0; i < 2; i++)
		accel_soft_ops.vcpu_destroy(g->vcpu[i]);
	accel_soft_ops.vm_destroy(g->vm);
	guest_memory_fini(&g->mem);
}

struct runner {
	struct accel_vcpu *vcpu;
	struct accel_exit exit;
	int r;
	_Atomic bool done;
};

static void *run_thread(void *arg)
{
	struct runner *run = arg;
	run->r = accel_soft_ops.vcpu_run(run->vcpu, &run->exit);
	atomic_store(&run->done, true);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits (up to 5 s) until cond holds. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		for (int k_ = 0; k_ < 5000 && !(cond); k_++)                                       \
			sleep_ms(1);                                                               \
		assert_true(cond);                                                                 \
	} while (0)

static void test_io_then_hlt_until_kick(void **state)
{
	static const uint8_t code[] = {
	    0xb0, 0x42,                   /* mov al, 0x42 */
	    0xe6, 0x80,                   /* out 0x80, al */
	    0xa1, 0x00, 0x00, 0x00, 0xd0, /* mov eax, [0xd0000000] */
	    0x66, 0xba, 0x84, 0x00,       /* mov dx, 0x84 */
	    0xef,                         /* out dx, eax */
	    0xf4,                         /* hlt (IF = 0: sleeps until kicked) */
	    0xeb, 0xfd,                   /* jmp hlt */
	};
	struct guest g;
	guest_start(&g, code, sizeof(code));
	struct runner run = {.vcpu = g.vcpu[0]};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_thread, &run), 0);
	WAIT_FOR(atomic_load(&g.log.count) >= 2);
	assert_int_equal(g.log.ports[0], 0x80);
	assert_int_equal(g.log.values[0], 0x42);
	assert_int_equal(g.log.mmio_gpa, MMIO_GPA);
	assert_int_equal(g.log.ports[1], 0x84);
	assert_int_equal(g.log.values[1], MMIO_VALUE);
	assert_int_equal(g.log.vcpu, 0);
	/* Halted with interrupts off: vcpu_run sleeps, only a kick ends it. */
	sleep_ms(50);
	assert_false(atomic_load(&run.done));
	accel_soft_ops.vcpu_kick(g.vcpu[0]);
	pthread_join(t, NULL);
	assert_int_equal(run.r, 0);
	assert_int_equal(run.exit.reason, ACCEL_EXIT_INTERRUPTED);
	struct x86_regs regs;
	assert_int_equal(accel_soft_ops.vcpu_get_regs(g.vcpu[0], &regs), 0);
	assert_int_equal(regs.rip, CODE_GPA + 15); /* after the HLT */
	guest_stop(&g);
	(void)state;
}

static void test_ap_waits_for_sipi(void **state)
{
	static const uint8_t code[] = {0xf4};
	struct guest g;
	guest_start(&g, code, sizeof(code));
	struct runner run = {.vcpu = g.vcpu[1]};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_thread, &run), 0);
	sleep_ms(50);
	assert_false(atomic_load(&run.done));
	accel_soft_ops.vcpu_kick(g.vcpu[1]);
	pthread_join(t, NULL);
	assert_int_equal(run.exit.reason, ACCEL_EXIT_INTERRUPTED);
	assert_int_equal(atomic_load(&g.log.count), 0);
	guest_stop(&g);
	(void)state;
}

static void test_triple_fault_is_shutdown(void **state)
{
	/* The IDT has limit 0: #UD cannot be delivered, nor #GP, nor #DF. */
	static const uint8_t code[] = {0x0f, 0x0b}; /* ud2 */
	struct guest g;
	guest_start(&g, code, sizeof(code));
	struct accel_exit exit;
	assert_int_equal(accel_soft_ops.vcpu_run(g.vcpu[0], &exit), 0);
	assert_int_equal(exit.reason, ACCEL_EXIT_SHUTDOWN);
	guest_stop(&g);
	(void)state;
}

static void test_msrs_and_tsc(void **state)
{
	static const uint8_t code[] = {
	    0x0f, 0x31, /* rdtsc */
	    0xe7, 0x80, /* out 0x80, eax */
	    0x89, 0xd0, /* mov eax, edx */
	    0xe7, 0x81, /* out 0x81, eax */
	    0xf4,       /* hlt */
	};
	struct guest g;
	guest_start(&g, code, sizeof(code));
	/* Everything the builder writes is accepted; an unknown MSR is refused (as KVM). */
	struct msr_entry boot[16];
	size_t nr = msr_boot_list(boot, 16);
	assert_int_equal(accel_soft_ops.vcpu_set_msrs(g.vcpu[0], boot, nr), 0);
	assert_int_equal(accel_soft_ops.vcpu_set_msrs(g.vcpu[1], boot, nr), 0);
	struct msr_entry bogus = {.index = 0xdeadbeef, .value = 1};
	assert_int_not_equal(accel_soft_ops.vcpu_set_msrs(g.vcpu[0], &bogus, 1), 0);
	/* A host write of the TSC counts from the VM's creation. */
	const uint64_t base = 1ull << 40;
	struct msr_entry tsc = {.index = 0x10, .value = base};
	assert_int_equal(accel_soft_ops.vcpu_set_msrs(g.vcpu[0], &tsc, 1), 0);
	struct runner run = {.vcpu = g.vcpu[0]};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_thread, &run), 0);
	WAIT_FOR(atomic_load(&g.log.count) >= 2);
	accel_soft_ops.vcpu_kick(g.vcpu[0]);
	pthread_join(t, NULL);
	uint64_t guest_tsc = (uint64_t)g.log.values[1] << 32 | g.log.values[0];
	assert_true(guest_tsc >= base);
	assert_true(guest_tsc - base < 60ull * 5000000000ull); /* under a minute at 5 GHz */
	guest_stop(&g);
	(void)state;
}

static void test_kick_before_run(void **state)
{
	static const uint8_t code[] = {0xeb, 0xfe}; /* jmp $ */
	struct guest g;
	guest_start(&g, code, sizeof(code));
	accel_soft_ops.vcpu_kick(g.vcpu[0]);
	struct accel_exit exit;
	assert_int_equal(accel_soft_ops.vcpu_run(g.vcpu[0], &exit), 0);
	assert_int_equal(exit.reason, ACCEL_EXIT_INTERRUPTED);
	guest_stop(&g);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_io_then_hlt_until_kick),
	    cmocka_unit_test(test_ap_waits_for_sipi),
	    cmocka_unit_test(test_triple_fault_is_shutdown),
	    cmocka_unit_test(test_msrs_and_tsc),
	    cmocka_unit_test(test_kick_before_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
