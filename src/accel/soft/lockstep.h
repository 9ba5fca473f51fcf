/*
 * Lockstep tracing of the software CPU (docs/lockstep.md): one text record
 * per executed instruction -- instruction count, RIP, the disassembly and
 * the registers -- in a format tools/lockstep/compare.py aligns with QEMU's
 * (`-d cpu` logs, or tools/lockstep/qemu_trace.py over the gdbstub) to find
 * the first instruction where ember and QEMU TCG disagree.
 *
 * Configured once per process from a spec string, normally the environment
 * variable EMBER_SOFT_TRACE:
 *     from=N | from=0xRIP[#HITS]   start at instruction count N (the traced
 *                                  vCPU's cpu->icount; default 0), or when
 *                                  RIP is reached (the HITS-th time, default 1)
 *     count=N                      records to write, then stop (default: no end)
 *     file=PATH                    where (default ember-trace.txt; "-" = stderr)
 *     every=1|block                every instruction (default), or only those
 *                                  not reached by falling through (jump and
 *                                  call targets, handler entries): a smaller
 *                                  control-flow trace
 *     cpu=K                        the vCPU index to trace (default 0)
 *     flush=1                      flush after every record (a crash keeps all)
 * e.g. EMBER_SOFT_TRACE="from=0x1000000,count=200000,file=/tmp/e.trace".
 *
 * Use from a run loop that calls cpu_run (the accelerator's vCPU loop,
 * ember cpu-run):
 *     if (unlikely(lockstep_trace_on()))
 *             budget = lockstep_trace_step(cpu, vcpu_index, budget);
 *     why = cpu_run(cpu, budget);
 * lockstep_trace_step returns budget unchanged for other vCPUs and once the
 * trace is done; fewer instructions so that cpu_run stops where a from=N
 * trace starts; and 1 while recording (or while looking for from=0xRIP),
 * in which case it has written the record of the instruction at cpu->rip
 * first. Single-stepping is slow (a one-instruction block per step): only
 * the window being traced pays for it with from=N; from=0xRIP steps from
 * the start.
 *
 * Known limit: an interrupt or exception delivered inside that cpu_run(cpu,
 * 1) also runs the handler's first instruction unrecorded (the next record
 * is its second); compare.py resynchronises over the gap.
 *
 * Threads: lockstep_trace_enable and lockstep_trace_disable run while no
 * vCPU runs; lockstep_trace_step and lockstep_trace_note only on the traced
 * vCPU's thread (the others only read the immutable configuration).
 */
#ifndef EMBER_ACCEL_SOFT_LOCKSTEP_H
#define EMBER_ACCEL_SOFT_LOCKSTEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/soft/cpu.h"

#define LOCKSTEP_ENV "EMBER_SOFT_TRACE"

/* A parsed spec (lockstep_spec_parse). */
struct lockstep_spec {
	bool from_is_rip;
	uint64_t from;      /* instruction count, or RIP when from_is_rip */
	uint64_t from_hits; /* from=0xRIP#HITS: the HITS-th time (>= 1) */
	uint64_t count;     /* 0: no end */
	char file[256];     /* "-": stderr */
	bool every_block;
	unsigned cpu;
	bool flush;
};

/* Parses spec into *out: 0, or -EINVAL with the reason in err. Pure. */
int lockstep_spec_parse(const char *spec, struct lockstep_spec *out, char *err,
                        size_t err_size) must_check;

/*
 * Parses spec and opens the trace file. 0; -EINVAL for a bad spec or
 * -errno for the file, with one "ember: EMBER_SOFT_TRACE: ..." line on
 * stderr; -EBUSY when a trace is already on. Before any vCPU runs.
 */
int lockstep_trace_enable(const char *spec) must_check;
/* lockstep_trace_enable(getenv(LOCKSTEP_ENV)); 0 and nothing when it is unset or empty. */
int lockstep_trace_enable_from_env(void) must_check;
/* Flushes and closes the trace (writes how it ended). Idempotent; after the vCPUs stopped. */
void lockstep_trace_disable(void);

/* True while a trace is configured and not finished: the cheap test for run loops. */
bool lockstep_trace_on(void);
/*
 * Before each cpu_run of vCPU vcpu: returns the budget to run with (0 keeps
 * meaning "no limit"), and when that is 1 and the trace is recording, it has
 * written the record of the instruction at cpu->rip. Between cpu_run calls,
 * on the vCPU's thread.
 */
uint64_t lockstep_trace_step(struct cpu *cpu, unsigned vcpu, uint64_t budget);
/* A comment line ("# ...") in the trace, e.g. "halted", "exit: shutdown"; only while recording. */
void lockstep_trace_note(unsigned vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
