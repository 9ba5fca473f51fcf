/* Unit tests for the software platform's local APIC (src/accel/soft/platform/lapic*.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "test_soft_platform.h"

enum {
	ID = 0x20,
	LVR = 0x30,
	TPR = 0x80,
	PPR = 0xa0,
	EOI = 0xb0,
	LDR = 0xd0,
	DFR = 0xe0,
	SVR = 0xf0,
	ISR = 0x100,
	TMR = 0x180,
	IRR = 0x200,
	ESR = 0x280,
	ICR = 0x300,
	ICR2 = 0x310,
	LVTT = 0x320,
	LINT0 = 0x350,
	LINT1 = 0x360,
	LVTERR = 0x370,
	TMICT = 0x380,
	TMCCT = 0x390,
	TDCR = 0x3e0,
};

#define MASKED       (1u << 16)
#define PERIODIC     (1u << 17)
#define TSC_DEADLINE (2u << 17)

static int setup(void **state)
{
	*state = fake_platform(MAX_TEST_CPUS);
	return 0;
}

static int teardown(void **state)
{
	platform_destroy(*state);
	return 0;
}

static uint64_t rdmsr(struct soft_platform *p, unsigned cpu, uint32_t index)
{
	uint64_t v = 0xdead;
	assert_int_equal(platform_rdmsr(p, cpu, index, &v), 0);
	return v;
}

static void wrmsr(struct soft_platform *p, unsigned cpu, uint32_t index, uint64_t v)
{
	assert_int_equal(platform_wrmsr(p, cpu, index, v), 0);
}

static void test_reset_state(void **state)
{
	struct soft_platform *p = *state;
	assert_int_equal(lapic_read(p, 0, ID), 0);
	assert_int_equal(lapic_read(p, 2, ID), 2u << 24);
	assert_int_equal(lapic_read(p, 0, LVR), 0x50014);
	assert_int_equal(lapic_read(p, 0, SVR), 0xff);
	assert_int_equal(lapic_read(p, 0, DFR), 0xffffffff);
	assert_int_equal(lapic_read(p, 0, LVTT), MASKED);
	assert_int_equal(lapic_read(p, 0, LINT0), 0x700); /* BSP: virtual wire */
	assert_int_equal(lapic_read(p, 1, LINT0), MASKED);
	assert_int_equal(rdmsr(p, 0, 0x1b), 0xfee00900);
	assert_int_equal(rdmsr(p, 1, 0x1b), 0xfee00800);
	platform_vcpu_init_lint(p, 1);
	assert_int_equal(lapic_read(p, 1, LINT0), MASKED | 0x700);
	assert_int_equal(lapic_read(p, 1, LINT1), MASKED | 0x400);
	/* Not the platform's MSR. */
	uint64_t v;
	assert_int_equal(platform_rdmsr(p, 0, 0x10, &v), PLATFORM_MSR_NOT_MINE);
	/* The IOAPIC page is not the LAPIC's; an unrelated address is nobody's. */
	uint32_t x = 0;
	assert_false(platform_mmio(p, 0, 0xfed00000, &x, 4, false));
	assert_int_equal(platform_next_deadline_ns(p, 1), UINT64_MAX);
}

static void test_timer_oneshot(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	lapic_write(p, 0, TDCR, 0xb); /* divide by 1 */
	lapic_write(p, 0, LVTT, 0xec);
	uint64_t t0 = fenv.now;
	lapic_write(p, 0, TMICT, 1000);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + 1000);
	fenv.now = t0 + 400;
	assert_int_equal(lapic_read(p, 0, TMCCT), 600);
	take_kicks(0);
	platform_run_timers(p, 0, t0 + 999);
	assert_int_equal(take_kicks(0), 0);
	assert_false(platform_intr_pending(p, 0));
	fenv.now = t0 + 1000;
	platform_run_timers(p, 0, fenv.now);
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(lapic_read(p, 0, IRR + 0x70), 1u << (0xec - 224));
	assert_int_equal(platform_intr_ack(p, 0), 0xec);
	assert_int_equal(lapic_read(p, 0, ISR + 0x70), 1u << (0xec - 224));
	assert_int_equal(lapic_read(p, 0, TMCCT), 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(lapic_read(p, 0, ISR + 0x70), 0);

	/* Divide by 16: 10 counts take 160 ns. */
	lapic_write(p, 0, TDCR, 0x3);
	lapic_write(p, 0, TMICT, 10);
	assert_int_equal(platform_next_deadline_ns(p, 0), fenv.now + 160);
	fenv.now += 80;
	assert_int_equal(lapic_read(p, 0, TMCCT), 5);
	/* Writing 0 stops it. */
	lapic_write(p, 0, TMICT, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
}

static void test_timer_masked_still_expires(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 1);
	lapic_write(p, 1, TDCR, 0xb);
	lapic_write(p, 1, LVTT, MASKED | 0x40);
	lapic_write(p, 1, TMICT, 50);
	platform_run_timers(p, 1, fenv.now + 50);
	assert_int_equal(take_kicks(1), 0);
	assert_int_equal(platform_next_deadline_ns(p, 1), UINT64_MAX);
}

static void test_timer_periodic(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	lapic_write(p, 0, TDCR, 0x3); /* divide by 16 */
	lapic_write(p, 0, LVTT, PERIODIC | 0xef);
	uint64_t t0 = fenv.now, period = 10000 * 16;
	lapic_write(p, 0, TMICT, 10000);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + period);
	platform_run_timers(p, 0, t0 + period);
	assert_int_equal(platform_intr_ack(p, 0), 0xef);
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + 2 * period);
	fenv.now = t0 + 2 * period - 16 * 25;
	assert_int_equal(lapic_read(p, 0, TMCCT), 25);
	/* Late by two and a half periods: one interrupt, realigned. */
	platform_run_timers(p, 0, t0 + 4 * period + period / 2);
	assert_int_equal(platform_intr_ack(p, 0), 0xef);
	assert_int_equal(platform_intr_ack(p, 0), -1);
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), t0 + 5 * period);
	/* Switching mode disarms. */
	lapic_write(p, 0, LVTT, 0xef);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
	assert_int_equal(lapic_read(p, 0, TMICT), 0);
}

static void test_timer_tsc_deadline(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	/* Outside TSC-deadline mode the MSR is ignored. */
	wrmsr(p, 0, 0x6e0, fenv.now + 10);
	assert_int_equal(rdmsr(p, 0, 0x6e0), 0);
	lapic_write(p, 0, LVTT, TSC_DEADLINE | 0xec);
	/* TMICT does nothing in this mode. */
	lapic_write(p, 0, TMICT, 5);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
	uint64_t deadline = fenv.now + 5000;
	wrmsr(p, 0, 0x6e0, deadline);
	assert_int_equal(rdmsr(p, 0, 0x6e0), deadline);
	assert_int_equal(platform_next_deadline_ns(p, 0), deadline);
	fenv.now = deadline - 1;
	platform_run_timers(p, 0, fenv.now);
	assert_false(platform_intr_pending(p, 0));
	fenv.now = deadline;
	platform_run_timers(p, 0, fenv.now);
	assert_true(platform_intr_pending(p, 0));
	assert_int_equal(platform_intr_ack(p, 0), 0xec);
	assert_int_equal(rdmsr(p, 0, 0x6e0), 0); /* disarmed once fired */
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
	lapic_write(p, 0, EOI, 0);
	/* A deadline in the past fires at once. */
	take_kicks(0);
	wrmsr(p, 0, 0x6e0, fenv.now - 100);
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 0), 0xec);
	lapic_write(p, 0, EOI, 0);
	/* Writing 0 disarms. */
	wrmsr(p, 0, 0x6e0, fenv.now + 100);
	wrmsr(p, 0, 0x6e0, 0);
	assert_int_equal(platform_next_deadline_ns(p, 0), UINT64_MAX);
}

static void test_timer_tsc_deadline_slow_tsc(void **state)
{
	/* At 2 GHz, 3000 TSC ticks are 1500 ns. */
	memset(&fenv, 0, sizeof(fenv));
	struct platform_callbacks cb = {
	    .kick = fake_kick, .now_ns = fake_now, .guest_tsc = fake_tsc};
	struct soft_platform *p = platform_create(1, 2000000, &cb);
	fenv.now = 1000;
	lapic_enable(p, 0);
	lapic_write(p, 0, LVTT, TSC_DEADLINE | 0xec);
	wrmsr(p, 0, 0x6e0, 4000);
	assert_int_equal(platform_next_deadline_ns(p, 0), 1000 + 1500);
	platform_destroy(p);
}

static void test_ipi_fixed(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 2);
	lapic_write(p, 0, ICR2, 2u << 24);
	lapic_write(p, 0, ICR, 0x41);
	assert_int_equal(take_kicks(2), PLATFORM_INT_EXTERNAL);
	assert_int_equal(take_kicks(0) | take_kicks(1) | take_kicks(3), 0);
	assert_int_equal(lapic_read(p, 0, ICR), 0x41); /* delivery status idle */
	assert_int_equal(platform_intr_ack(p, 2), 0x41);
	/* Edge: TMR clear. */
	assert_int_equal(lapic_read(p, 2, TMR + 0x20), 0);

	/* A software-disabled target drops fixed IPIs. */
	lapic_write(p, 0, ICR2, 3u << 24);
	lapic_write(p, 0, ICR, 0x42);
	assert_int_equal(take_kicks(3), 0);

	/* An illegal vector sets the sender's ESR (after an ESR write). */
	lapic_enable(p, 0);
	lapic_write(p, 0, ICR, 0x05);
	lapic_write(p, 0, ESR, 0);
	assert_int_equal(lapic_read(p, 0, ESR), 1u << 5);
	lapic_write(p, 0, ESR, 0);
	assert_int_equal(lapic_read(p, 0, ESR), 0);
}

static void test_ipi_shorthands_and_logical(void **state)
{
	struct soft_platform *p = *state;
	for (unsigned i = 0; i < MAX_TEST_CPUS; i++) {
		lapic_enable(p, i);
		lapic_write(p, i, LDR, (1u << i) << 24); /* flat model: a bit each */
	}
	take_kicks(0);
	/* All excluding self. */
	lapic_write(p, 1, ICR, (3u << 18) | 0x50);
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(take_kicks(1), 0);
	assert_int_equal(take_kicks(3), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 2), 0x50);
	/* Self. */
	lapic_write(p, 1, ICR, (1u << 18) | 0x51);
	assert_int_equal(platform_intr_ack(p, 1), 0x51);
	/* Logical flat: cpus 1 and 3. */
	lapic_write(p, 0, ICR2, 0x0au << 24);
	lapic_write(p, 0, ICR, (1u << 11) | 0x52);
	assert_int_equal(lapic_read(p, 3, IRR + 0x20), (1u << (0x50 - 64)) | (1u << (0x52 - 64)));
	assert_int_equal(lapic_read(p, 2, IRR + 0x20), 0);
	assert_int_equal(lapic_read(p, 1, IRR + 0x20), 1u << (0x52 - 64));
	/* Lowest priority to the same set: exactly one target. */
	lapic_write(p, 0, ICR, (1u << 11) | (1u << 8) | 0x53);
	assert_int_equal(lapic_read(p, 1, IRR + 0x20), (1u << (0x52 - 64)) | (1u << (0x53 - 64)));
	assert_int_equal(lapic_read(p, 3, IRR + 0x20), (1u << (0x50 - 64)) | (1u << (0x52 - 64)));
	/* Logical cluster model: cluster 1, member bit 1 -> cpu 2 only. */
	lapic_write(p, 2, DFR, 0x0fffffff);
	lapic_write(p, 2, LDR, 0x12u << 24);
	lapic_write(p, 0, ICR2, 0x12u << 24);
	lapic_write(p, 0, ICR, (1u << 11) | 0x54);
	assert_int_equal(lapic_read(p, 2, IRR + 0x20), 1u << (0x54 - 64));
	/* Physical broadcast 0xff. */
	lapic_write(p, 0, ICR2, 0xffu << 24);
	lapic_write(p, 0, ICR, 0x60);
	for (unsigned i = 0; i < MAX_TEST_CPUS; i++)
		assert_int_equal(lapic_read(p, i, IRR + 0x30), 1u);
}

static void test_init_sipi_nmi(void **state)
{
	struct soft_platform *p = *state;
	/* INIT, SIPI and NMI reach even a software-disabled APIC. */
	lapic_write(p, 0, ICR2, 1u << 24);
	lapic_write(p, 0, ICR, 0xc500); /* INIT, level, assert */
	assert_int_equal(take_kicks(1), PLATFORM_INT_INIT);
	lapic_write(p, 0, ICR, 0x8500); /* INIT level de-assert: nothing */
	assert_int_equal(take_kicks(1), 0);
	lapic_write(p, 0, ICR, 0x4608); /* start-up, vector 8 */
	assert_int_equal(take_kicks(1), PLATFORM_INT_SIPI);
	assert_int_equal(platform_sipi_vector(p, 1), 8);
	lapic_write(p, 0, ICR, 0x4400); /* NMI */
	assert_int_equal(take_kicks(1), PLATFORM_INT_NMI);
	/* The INIT on the target: state reset, id kept. */
	lapic_enable(p, 1);
	lapic_write(p, 1, TPR, 0x20);
	platform_vcpu_init(p, 1);
	assert_int_equal(lapic_read(p, 1, SVR), 0xff);
	assert_int_equal(lapic_read(p, 1, TPR), 0);
	assert_int_equal(lapic_read(p, 1, ID), 1u << 24);
	/* All-including-self INIT from the BSP (Linux's old wakeup path). */
	lapic_write(p, 0, ICR, (2u << 18) | 0x4500);
	for (unsigned i = 0; i < MAX_TEST_CPUS; i++)
		assert_int_equal(take_kicks(i), PLATFORM_INT_INIT);
}

static void test_tpr_and_priority(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	lapic_write(p, 0, TPR, 0x60);
	take_kicks(0);
	lapic_write(p, 0, ICR, (1u << 18) | 0x51);
	assert_false(platform_intr_pending(p, 0));
	assert_int_equal(platform_intr_ack(p, 0), -1);
	assert_int_equal(lapic_read(p, 0, PPR), 0x60);
	take_kicks(0);
	lapic_write(p, 0, TPR, 0x40); /* lowering the TPR makes it deliverable */
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 0), 0x51);
	assert_int_equal(lapic_read(p, 0, PPR), 0x50);
	/* Same priority class as in service: held; higher class: taken. */
	lapic_write(p, 0, ICR, (1u << 18) | 0x5f);
	assert_int_equal(platform_intr_ack(p, 0), -1);
	lapic_write(p, 0, ICR, (1u << 18) | 0x61);
	assert_int_equal(platform_intr_ack(p, 0), 0x61);
	/* EOI retires the highest in service; then 0x5f is still held by 0x51. */
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(platform_intr_ack(p, 0), -1);
	take_kicks(0);
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(take_kicks(0), PLATFORM_INT_EXTERNAL);
	assert_int_equal(platform_intr_ack(p, 0), 0x5f);
	lapic_write(p, 0, EOI, 0);
	assert_int_equal(lapic_read(p, 0, PPR), 0x40);
}

static void test_svr_disable_masks_lvts(void **state)
{
	struct soft_platform *p = *state;
	lapic_enable(p, 0);
	lapic_write(p, 0, LVTERR, 0xfe);
	assert_int_equal(lapic_read(p, 0, LVTERR), 0xfe);
	lapic_write(p, 0, SVR, 0xff);
	assert_int_equal(lapic_read(p, 0, LVTERR), MASKED | 0xfe);
	/* While disabled the mask cannot be cleared. */
	lapic_write(p, 0, LVTERR, 0xfe);
	assert_int_equal(lapic_read(p, 0, LVTERR), MASKED | 0xfe);
	/* Byte reads of a register, and a write that is too narrow is dropped. */
	uint8_t b = 0;
	assert_true(platform_mmio(p, 0, LAPIC_GPA + SVR + 1, &b, 1, false));
	assert_int_equal(b, 0);
	uint16_t h = 0x1ff;
	assert_true(platform_mmio(p, 0, LAPIC_GPA + SVR, &h, 2, true));
	assert_int_equal(lapic_read(p, 0, SVR), 0xff);
}

static void test_apic_base_relocation_and_disable(void **state)
{
	struct soft_platform *p = *state;
	wrmsr(p, 1, 0x1b, 0xfed00800);
	uint32_t v;
	assert_false(platform_mmio(p, 1, LAPIC_GPA + ID, &v, 4, false));
	assert_int_equal(mmio_read32(p, 1, 0xfed00000 + ID), 1u << 24);
	assert_int_equal(rdmsr(p, 1, 0x1b), 0xfed00800);
	/* Hardware disable: the page is gone and IPIs do not reach it. */
	wrmsr(p, 1, 0x1b, 0xfed00000);
	assert_false(platform_mmio(p, 1, 0xfed00000 + ID, &v, 4, false));
	lapic_write(p, 0, ICR2, 1u << 24);
	lapic_write(p, 0, ICR, 0x4400);
	assert_int_equal(take_kicks(1), 0);
	/* Reserved bit 9: #GP. */
	assert_int_equal(platform_wrmsr(p, 1, 0x1b, 0xfee00a00), PLATFORM_MSR_GP);
	/* Disabled -> x2APIC directly: #GP. */
	assert_int_equal(platform_wrmsr(p, 1, 0x1b, 0xfee00c00), PLATFORM_MSR_GP);
	wrmsr(p, 1, 0x1b, 0xfee00800);
	assert_int_equal(lapic_read(p, 1, ID), 1u << 24);
	assert_int_equal(lapic_read(p, 1, SVR), 0xff);
	/* The BSP bit cannot be changed by the guest. */
	wrmsr(p, 0, 0x1b, 0xfee00800);
	assert_int_equal(rdmsr(p, 0, 0x1b), 0xfee00900);
}

static void test_x2apic(void **state)
{
	struct soft_platform *p = *state;
	uint64_t v;
	/* x2APIC MSRs #GP in xAPIC mode. */
	assert_int_equal(platform_rdmsr(p, 1, 0x802, &v), PLATFORM_MSR_GP);
	for (unsigned i = 0; i < MAX_TEST_CPUS; i++)
		wrmsr(p, i, 0x1b, 0xfee00c00 | (i == 0 ? 0x100 : 0));
	assert_int_equal(rdmsr(p, 1, 0x1b), 0xfee00c00);
	/* The xAPIC page no longer decodes. */
	uint32_t x;
	assert_false(platform_mmio(p, 1, LAPIC_GPA + ID, &x, 4, false));
	assert_int_equal(rdmsr(p, 3, 0x802), 3);
	assert_int_equal(rdmsr(p, 3, 0x803), 0x50014);
	assert_int_equal(rdmsr(p, 3, 0x80d), 0x8); /* cluster 0, bit 3 */
	/* x2APIC -> xAPIC is invalid. */
	assert_int_equal(platform_wrmsr(p, 1, 0x1b, 0xfee00800), PLATFORM_MSR_GP);
	/* Read-only, write-only and missing registers #GP. */
	assert_int_equal(platform_wrmsr(p, 1, 0x802, 5), PLATFORM_MSR_GP);
	assert_int_equal(platform_wrmsr(p, 1, 0x80d, 5), PLATFORM_MSR_GP);
	assert_int_equal(platform_rdmsr(p, 1, 0x80b, &v), PLATFORM_MSR_GP); /* EOI */
	assert_int_equal(platform_rdmsr(p, 1, 0x83f, &v), PLATFORM_MSR_GP); /* SELF IPI */
	assert_int_equal(platform_rdmsr(p, 1, 0x80e, &v), PLATFORM_MSR_GP); /* no DFR */
	assert_int_equal(platform_rdmsr(p, 1, 0x831, &v), PLATFORM_MSR_GP); /* no ICR2 */
	assert_int_equal(platform_wrmsr(p, 1, 0x80b, 1), PLATFORM_MSR_GP);  /* EOI of 1 */
	assert_int_equal(platform_wrmsr(p, 1, 0x808, 1ull << 32), PLATFORM_MSR_GP);

	for (unsigned i = 0; i < MAX_TEST_CPUS; i++)
		wrmsr(p, i, 0x80f, 0x1ff);
	/* One 64-bit ICR write, destination in bits 63:32. */
	take_kicks(2);
	wrmsr(p, 0, 0x830, (2ull << 32) | 0x45);
	assert_int_equal(take_kicks(2), PLATFORM_INT_EXTERNAL);
	assert_int_equal(rdmsr(p, 0, 0x830), (2ull << 32) | 0x45);
	assert_int_equal(platform_intr_ack(p, 2), 0x45);
	assert_int_equal(rdmsr(p, 2, 0x810 + 2), 1u << 5); /* ISR word 2 */
	wrmsr(p, 2, 0x80b, 0);
	assert_int_equal(rdmsr(p, 2, 0x812), 0);
	/* Logical cluster destination: cluster 0, bits for cpus 1 and 3. */
	wrmsr(p, 0, 0x830, (0x0aull << 32) | (1u << 11) | 0x46);
	assert_int_equal(platform_intr_ack(p, 1), 0x46);
	assert_int_equal(platform_intr_ack(p, 3), 0x46);
	assert_int_equal(platform_intr_ack(p, 2), -1);
	wrmsr(p, 1, 0x80b, 0);
	wrmsr(p, 3, 0x80b, 0);
	/* SELF_IPI. */
	wrmsr(p, 3, 0x83f, 0x47);
	assert_int_equal(platform_intr_ack(p, 3), 0x47);
	/* Broadcast 0xffffffff. */
	wrmsr(p, 0, 0x830, (0xffffffffull << 32) | 0x48);
	wrmsr(p, 3, 0x80b, 0);
	for (unsigned i = 0; i < MAX_TEST_CPUS; i++)
		assert_int_equal(platform_intr_ack(p, i), 0x48);
	/* TPR and the timer through MSRs. */
	wrmsr(p, 1, 0x808, 0x30);
	assert_int_equal(rdmsr(p, 1, 0x808), 0x30);
	wrmsr(p, 1, 0x83e, 0xb);
	wrmsr(p, 1, 0x832, 0xe0);
	wrmsr(p, 1, 0x838, 100);
	fenv.now += 30;
	assert_int_equal(rdmsr(p, 1, 0x839), 70);
}

/* Senders on other threads race the owner's acknowledges and EOIs. */
static _Atomic unsigned threaded_kicks, senders_done;

static void counting_kick(void *ctx, unsigned cpu, uint32_t bits)
{
	atomic_fetch_add(&threaded_kicks, 1);
}

#define IPIS_PER_SENDER 20000

static void *send_msis(void *arg)
{
	struct soft_platform *p = arg;
	for (unsigned i = 0; i < IPIS_PER_SENDER; i++)
		platform_msi(p, 0xfee00000, 0x40 + (i & 0x3f));
	atomic_fetch_add(&senders_done, 1);
	return NULL;
}

static void test_concurrent_senders(void **state)
{
	struct platform_callbacks cb = {
	    .kick = counting_kick, .now_ns = fake_now, .guest_tsc = fake_tsc};
	struct soft_platform *p = platform_create(1, TSC_KHZ, &cb);
	assert_non_null(p);
	lapic_enable(p, 0);
	atomic_store(&threaded_kicks, 0);
	atomic_store(&senders_done, 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, send_msis, p), 0);
	unsigned taken = 0;
	while (atomic_load(&senders_done) < 2) {
		int v = platform_intr_ack(p, 0);
		if (v >= 0) {
			assert_true(v >= 0x40 && v < 0x80);
			taken++;
			lapic_write(p, 0, EOI, 0);
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* Whatever is left is still pending and drains in priority order. */
	int last = 0x100, v;
	while ((v = platform_intr_ack(p, 0)) >= 0) {
		assert_true(v < last);
		last = v;
		lapic_write(p, 0, EOI, 0);
		taken++;
	}
	assert_true(taken > 0);
	/* Every message kicked (EOIs of a still-pending IRR kick too). */
	assert_true(atomic_load(&threaded_kicks) >= 2 * IPIS_PER_SENDER);
	assert_int_equal(lapic_read(p, 0, ISR + 0x20) | lapic_read(p, 0, ISR + 0x30), 0);
	assert_int_equal(lapic_read(p, 0, IRR + 0x20) | lapic_read(p, 0, IRR + 0x30), 0);
	platform_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_oneshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_masked_still_expires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_tsc_deadline, setup, teardown),
	    cmocka_unit_test(test_timer_tsc_deadline_slow_tsc),
	    cmocka_unit_test_setup_teardown(test_ipi_fixed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipi_shorthands_and_logical, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_sipi_nmi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tpr_and_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_svr_disable_masks_lvts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apic_base_relocation_and_disable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_x2apic, setup, teardown),
	    cmocka_unit_test(test_concurrent_senders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
