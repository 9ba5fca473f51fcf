/*
 * The software CPU's run loop and architectural entry points (cpu.h).
 *
 * cpu_run executes blocks from the code cache: per block, not per
 * instruction, it charges the budget (icount is derived from it when
 * cpu_run returns); a block larger than the budget left is replaced by a
 * one-instruction block so budgets are exact. Blocks chain to their
 * successors (codecache.h, block_next); stop requests are polled whenever
 * the run loop gets control back, at least every RUN_CHUNK instructions. Exceptions longjmp back
 * here (cpu_raise); in user mode they end cpu_run with RIP at the faulting
 * instruction (after it for traps) and the vector and error code recorded
 * (SDM vol. 3, 6.5 "Exception classifications").
 */
#include "accel/soft/cpu.h"

#include <stdlib.h>
#include <string.h>

#include "accel/soft/codecache.h"
#include "accel/soft/cpuid.h"
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/sys.h"
#include "arch/x86/cpu_state.h"
#include "core/log.h"

/* Descriptor attributes (cpu_segment.attr): type | S | DPL | P, then AVL L D/B G. */
#define SEG_ATTR(type, dpl, l, db)                                                                 \
	((type) | 0x10 | ((dpl) << 5) | 0x80 | ((l) << 13) | ((db) << 14) | (1 << 15))

void cpu_init_user64(struct cpu *cpu, const struct cpu_mem_ops *mem, void *mem_ctx)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->mode = CPU_MODE_LONG64;
	cpu->cpl = 3;
	cpu->user = true;
	/* Linux's __USER_CS (0x33) and __USER_DS (0x2b), flat. */
	for (int s = S_ES; s <= S_GS; s++) {
		cpu->seg[s].limit = 0xffffffff;
		if (s == S_CS) {
			cpu->seg[s].selector = 0x33;
			cpu->seg[s].attr = SEG_ATTR(0xb, 3, 1, 0);
		} else if (s != S_FS && s != S_GS) {
			cpu->seg[s].selector = 0x2b;
			cpu->seg[s].attr = SEG_ATTR(0x3, 3, 0, 1);
		}
	}
	cpu->rflags = 0x202;
	cpu->lf.op = LF_NONE;
	cpu->mxcsr = 0x1f80;
	cpu->x87.cw = 0x37f;
	cpu->x87.tag = 0xffff;
	cpu->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM |
	           X86_CR0_PG;
	cpu->cr4 = X86_CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	cpu->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	cpu->mem = mem;
	cpu->mem_ctx = mem_ctx;
	if (mem && mem->attach)
		mem->attach(cpu);
	cpu_tlb_flush(cpu);
	cpu->cpuid = softcpu_default_cpuid(&cpu->nr_cpuid);
	if (code_cache_create(cpu))
		die("software CPU: out of memory for the code cache");
}

void cpu_fini(struct cpu *cpu)
{
	code_cache_destroy(cpu);
	if (cpu->mem && cpu->mem->detach && cpu->mem_ctx)
		cpu->mem->detach(cpu);
	cpu->mem = NULL;
}

void cpu_raise(struct cpu *cpu, uint8_t vector, uint32_t error, bool has_error)
{
	cpu->exc_vector = vector;
	cpu->exc_error = has_error ? error : 0;
	cpu->exc_has_error = has_error;
	longjmp(cpu->exc_jmp, 1);
}

uint64_t cpu_get_rflags(struct cpu *cpu)
{
	return (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | lf_flags(cpu) | 2;
}

void cpu_set_rflags(struct cpu *cpu, uint64_t rflags)
{
	/* Bit 1 is always set; 3, 5, 15 and 22-63 are reserved (vol. 1, 3.4.3). */
	cpu->rflags = (rflags & 0x3f7fd5) | 2;
	cpu->lf.op = LF_NONE;
}

uint64_t insn_rip(const struct cpu *cpu, const struct insn *i)
{
	const struct block *b = cpu->block;
	uint64_t rip = b->rip;
	for (const struct insn *p = b->insn; p < i; p++)
		rip += p->len;
	return rip;
}

/* ---- handlers every family shares ---- */

const struct insn *insn_ud(struct cpu *cpu, const struct insn *i)
{
	insn_raise(cpu, i, EXC_UD, 0, false);
}

const struct insn *insn_gp0(struct cpu *cpu, const struct insn *i)
{
	insn_raise(cpu, i, EXC_GP, 0, true);
}

/* Falls through to the next block (cpu->rip is already the block's end). */
const struct insn *insn_end(struct cpu *cpu, const struct insn *i)
{
	return block_next(cpu, cpu->rip);
}

/* The block was dropped under us (self-modifying code): resume at i from a fresh decode. */
const struct insn *insn_stale(struct cpu *cpu, const struct insn *i)
{
	const struct block *b = cpu->block;
	uint32_t done = (uint32_t)(i - b->insn);
	cpu->budget_left += b->n - done;
	cpu->rip = insn_rip(cpu, i);
	return NULL;
}

/* ---- the run loop ---- */

/*
 * The budget is handed out in chunks: block_next (chaining) only checks
 * the chunk, and a stop request is seen whenever a chunk is refilled, at
 * the latest after RUN_CHUNK instructions.
 */
#define RUN_CHUNK 65536

/* After a delivery: false (leave cpu_run) when a tracer wants to see the handler's entry. */
static bool event_delivered(struct cpu *cpu)
{
	if (!cpu->stop_after_event)
		return true;
	cpu->exit = CPU_EXIT_BUDGET;
	return false;
}

/*
 * Services cpu->interrupt_request and the activity state at a block
 * boundary (system mode; SDM vol. 3, 6.9 "Priority among concurrent
 * events"): INIT, SIPI, exit requests, NMI, then external interrupts when
 * IF = 1 and no STI/MOV SS shadow covers the next instruction. Returns
 * false when cpu_run must return (cpu->exit set); *step asks the loop to
 * run exactly one instruction first (the shadow).
 */
static bool interrupts_service(struct cpu *cpu, bool *step)
{
	uint32_t req = atomic_load_explicit(&cpu->interrupt_request, memory_order_acquire);
	if (req & CPU_INT_INIT) {
		atomic_fetch_and(&cpu->interrupt_request, ~(CPU_INT_INIT | CPU_INT_SIPI));
		cpu_init_signal(cpu);
		req &= ~CPU_INT_SIPI;
	}
	if (req & CPU_INT_SIPI) {
		atomic_fetch_and(&cpu->interrupt_request, ~CPU_INT_SIPI);
		if (cpu->activity == CPU_WAIT_SIPI) {
			/* Real mode at vector << 12 (vol. 3, 9.4.4.1 / 10.6.1). */
			seg_load_real(cpu, S_CS, (uint16_t)(cpu->sipi_vector << 8));
			cpu->rip = 0;
			cpu->activity = CPU_ACTIVE;
			cpu_update_mode(cpu);
		}
	}
	if (req & CPU_INT_EXIT) {
		atomic_fetch_and(&cpu->interrupt_request, ~CPU_INT_EXIT);
		cpu->exit = CPU_EXIT_STOP;
		return false;
	}
	if (cpu->activity == CPU_WAIT_SIPI || cpu->activity == CPU_SHUTDOWN) {
		cpu->exit = cpu->activity == CPU_SHUTDOWN ? CPU_EXIT_SHUTDOWN : CPU_EXIT_HLT;
		return false;
	}
	bool shadow = cpu->int_shadow && cpu->rip == cpu->shadow_rip;
	cpu->int_shadow = false;
	if ((req & CPU_INT_NMI) && !cpu->nmi_blocked) {
		if (shadow) {
			*step = true;
			return true;
		}
		atomic_fetch_and(&cpu->interrupt_request, ~CPU_INT_NMI);
		cpu->activity = CPU_ACTIVE;
		cpu->block = NULL;
		cpu->cur = NULL;
		cpu->delivering = 0x100 | 2; /* external: benign for #DF */
		exc_deliver(cpu, NULL, 2, 0, false, EV_EXTERNAL, cpu->rip);
		return event_delivered(cpu);
	}
	if ((req & CPU_INT_EXTERNAL) && (cpu->rflags & FLAG_IF)) {
		if (shadow) {
			*step = true;
			return true;
		}
		atomic_fetch_and(&cpu->interrupt_request, ~CPU_INT_EXTERNAL);
		int v = cpu->sys && cpu->sys->intr_ack ? cpu->sys->intr_ack(cpu) : -1;
		if (v >= 0) {
			cpu->activity = CPU_ACTIVE;
			cpu->block = NULL;
			cpu->cur = NULL;
			cpu->delivering = (int16_t)(0x100 | v);
			exc_deliver(cpu, NULL, (unsigned)v, 0, false, EV_EXTERNAL, cpu->rip);
			return event_delivered(cpu);
		}
	}
	if (cpu->activity == CPU_HALTED) {
		cpu->exit = CPU_EXIT_HLT;
		return false;
	}
	return true;
}

static __attribute__((hot)) void run_blocks(struct cpu *cpu)
{
	for (;;) {
		bool step = false;
		if (unlikely(atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed) |
		             cpu->activity) &&
		    !cpu->user && !interrupts_service(cpu, &step))
			return;
		if (unlikely(atomic_load_explicit(&cpu->stop_request, memory_order_relaxed))) {
			atomic_store_explicit(&cpu->stop_request, false, memory_order_relaxed);
			cpu->exit = CPU_EXIT_STOP;
			return;
		}
		if (cpu->budget_left < RUN_CHUNK && cpu->budget_rest) {
			uint64_t take = MIN(cpu->budget_rest, RUN_CHUNK);
			cpu->budget_rest -= take;
			cpu->budget_left += take;
		}
		if (unlikely(cpu->budget_left == 0)) {
			cpu->exit = CPU_EXIT_BUDGET;
			return;
		}
		code_cache_reap(cpu);
		cpu->block = NULL;
		cpu->cur = NULL;
		struct block *b = code_cache_find(cpu, cpu->rip);
		/* Less budget than the block: exactly what is left, one by one. */
		if (unlikely(b->n > cpu->budget_left || step))
			b = code_cache_single(cpu, cpu->rip);
		cpu->budget_left -= b->n;
		cpu->block = b;
		cpu->rip = b->end_rip;
		const struct insn *i = b->insn;
		while (i)
			i = i->fn(cpu, i);
		if (unlikely(cpu->exit != CPU_EXIT_NONE))
			return;
	}
}

/* Bookkeeping after cpu_raise: which instruction faulted, how many retired. */
static void exception_exit(struct cpu *cpu)
{
	const struct block *b = cpu->block;
	const struct insn *i = cpu->cur;
	if (b && i && i >= b->insn && i <= b->insn + b->n) {
		uint32_t done = (uint32_t)(i - b->insn);
		cpu->budget_left += b->n - done;
		cpu->rip = insn_rip(cpu, i);
	}
	/* else the fault came from decoding or delivery: cpu->rip is the instruction's address */
	cpu->block = NULL;
	cpu->cur = NULL;
	if (cpu->user) {
		cpu->exit = CPU_EXIT_EXCEPTION;
		return;
	}
	/* System mode: through the IDT (a fault in delivery longjmps back here). */
	exc_dispatch(cpu, cpu->exc_vector, cpu->exc_error, cpu->exc_has_error);
	if (cpu->exit == CPU_EXIT_NONE)
		event_delivered(cpu);
}

/* setjmp in a frame of its own: cpu_run's locals stay out of longjmp's way. */
static void run_guarded(struct cpu *cpu)
{
	if (setjmp(cpu->exc_jmp))
		exception_exit(cpu);
	else
		run_blocks(cpu);
}

enum cpu_exit cpu_run(struct cpu *cpu, uint64_t budget)
{
	const uint64_t total = budget ? budget : UINT64_MAX;
	cpu->exit = CPU_EXIT_NONE;
	cpu->budget_left = 0;
	cpu->budget_rest = total;
	cpu->block = NULL;
	cpu->cur = NULL;
	cpu->delivering = -1;
	cpu->deliver_ext = false;
	code_cache_set_mode(cpu);
	/* System mode keeps running after an exception was delivered. */
	do
		run_guarded(cpu);
	while (cpu->exit == CPU_EXIT_NONE);
	cpu->icount += total - cpu->budget_left - cpu->budget_rest;
	cpu->block = NULL;
	cpu->cur = NULL;
	code_cache_reap(cpu);
	return cpu->exit;
}
