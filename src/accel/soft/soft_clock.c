/*
 * Host time for the software accelerator: CLOCK_MONOTONIC for the
 * platform's timers, and the host TSC, which the guest TSC counts from
 * (guest TSC = host TSC + cpu->tsc_offset, at the host's frequency; the host
 * TSC is invariant on any machine ember supports, and the CPUID table says
 * so with 0x80000007 EDX[8]).
 *
 * The frequency is measured once per process against CLOCK_MONOTONIC over
 * CALIBRATION_NS: each end is the (TSC, time) pair with the shortest TSC
 * bracket out of a few reads, so each is off by a few tens of ns at most,
 * which is a few ppm over 10 ms -- about what a refined Linux calibration
 * achieves and well inside what NTP and the guest's clocksource expect.
 */
#include <pthread.h>
#include <time.h>
#include <x86intrin.h>

#include "accel/soft/soft_internal.h"

#define CALIBRATION_NS 10000000ull
#define SAMPLE_TRIES   8

uint64_t soft_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t soft_host_tsc(void)
{
	return __rdtsc();
}

/* One (TSC, ns) pair: the read of the clock with the tightest TSC bracket. */
static void sample(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;
	for (int k = 0; k < SAMPLE_TRIES; k++) {
		uint64_t t0 = __rdtsc();
		uint64_t now = soft_now_ns();
		uint64_t t1 = __rdtsc();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*tsc = t0 + (t1 - t0) / 2;
			*ns = now;
		}
	}
}

static uint32_t tsc_khz;
static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;

static void calibrate(void)
{
	uint64_t tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
	sample(&tsc0, &ns0);
	struct timespec pause = {.tv_nsec = (long)CALIBRATION_NS};
	while (nanosleep(&pause, &pause))
		;
	sample(&tsc1, &ns1);
	/* ticks per ms, rounded: (ticks * 1e6 / ns) kHz */
	tsc_khz = (uint32_t)(((tsc1 - tsc0) * 1000000ull + (ns1 - ns0) / 2) / (ns1 - ns0));
}

uint32_t soft_host_tsc_khz(void)
{
	pthread_once(&tsc_once, calibrate);
	return tsc_khz;
}
