/*
 * The software CPU's architectural state and its public entry points.
 *
 * An interpreter of pre-decoded instructions (decode once, execute many):
 * guest code is decoded into blocks of struct insn (insn.h), each carrying a
 * handler specialised at decode time; blocks are cached per guest page and
 * dropped when the page is written. Flags are evaluated lazily (flags.h).
 * Memory goes through a soft TLB (mem.h) that maps guest-virtual pages
 * straight to host pointers; a miss asks the cpu_mem_ops translate hook,
 * which in user mode (ember cpu-run, the differential tests) is a flat page
 * map and in system mode (part 2) is the x86 page walker.
 *
 * Threads: a struct cpu belongs to one thread; only cpu->stop_request and
 * the interrupt-pending word (part 2) are touched by others.
 */
#ifndef EMBER_ACCEL_SOFT_CPU_H
#define EMBER_ACCEL_SOFT_CPU_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/macros.h"

/* General-purpose registers in ModRM/REX encoding order. */
enum cpu_gpr {
	R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
	R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
};

/* Segment registers in encoding order (sreg field of ModRM). */
enum cpu_sreg { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NONE = 7 };

/* RFLAGS bits. */
#define FLAG_CF (1u << 0)
#define FLAG_PF (1u << 2)
#define FLAG_AF (1u << 4)
#define FLAG_ZF (1u << 6)
#define FLAG_SF (1u << 7)
#define FLAG_TF (1u << 8)
#define FLAG_IF (1u << 9)
#define FLAG_DF (1u << 10)
#define FLAG_OF (1u << 11)
#define FLAG_IOPL (3u << 12)
#define FLAG_NT (1u << 14)
#define FLAG_RF (1u << 16)
#define FLAG_VM (1u << 17)
#define FLAG_AC (1u << 18)
#define FLAG_ID (1u << 21)
#define FLAGS_ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

/* Execution modes: the default operand/address size of the code segment. */
enum cpu_mode {
	CPU_MODE_REAL,	 /* 16-bit, real-mode segmentation */
	CPU_MODE_PROT16, /* protected mode, CS.D = 0 */
	CPU_MODE_PROT32, /* protected mode, CS.D = 1 (or compatibility mode) */
	CPU_MODE_LONG64, /* 64-bit mode, CS.L = 1 */
};

/* Exception vectors (SDM vol. 3, 6.3.1). */
enum cpu_vector {
	EXC_DE = 0, EXC_DB = 1, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6, EXC_NM = 7,
	EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
	EXC_MF = 16, EXC_AC = 17, EXC_XM = 19,
};

struct cpu_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attr; /* descriptor bits 40-47 | 52-55 << 8: type, S, DPL, P, AVL, L, D/B, G */
};

union cpu_xmm {
	uint8_t u8[16];
	uint16_t u16[8];
	uint32_t u32[4];
	uint64_t u64[2];
	int8_t s8[16];
	int16_t s16[8];
	int32_t s32[4];
	int64_t s64[2];
	float f32[4];
	double f64[2];
} __attribute__((aligned(16)));

struct cpu_x87 {
	long double st[8]; /* physical registers; ST(i) = st[(top + i) & 7] */
	uint16_t cw, sw;   /* sw without TOP: TOP lives in top */
	uint16_t tag;	   /* full 16-bit tag word: 2 bits per physical register */
	uint8_t top;
	uint16_t fop;
	uint64_t fip, fdp;
};

/* Lazy flags: the last flag-writing operation (flags.h). */
struct cpu_lazy_flags {
	uint64_t res;	 /* result, zero-extended */
	uint64_t src1;	 /* first operand (destination before the operation) */
	uint64_t src2;	 /* second operand */
	uint32_t op;	 /* LF_* | size, LF_NONE: cpu->rflags holds the arithmetic flags */
	uint32_t cf_in;	 /* carry-in for ADC/SBB, the count for shifts */
};

/* Why cpu_run returned. */
enum cpu_exit {
	CPU_EXIT_NONE,
	CPU_EXIT_SYSCALL,   /* user mode: SYSCALL executed; rip is past it */
	CPU_EXIT_HLT,	    /* HLT with nothing pending */
	CPU_EXIT_EXCEPTION, /* user mode: an exception the host must handle (exc_*) */
	CPU_EXIT_STOP,	    /* cpu->stop_request was set */
	CPU_EXIT_IO,	    /* system mode (part 2): port I/O for the bus */
	CPU_EXIT_BUDGET,    /* the instruction budget given to cpu_run ran out */
};

struct cpu;
struct code_cache;

/* How the CPU reaches memory beyond its TLB. */
struct cpu_mem_ops {
	/*
	 * Translates the page holding vaddr for an access (CPU_ACCESS_*).
	 * Returns a host pointer to the start of that page and, in *flags,
	 * TLB_* bits (e.g. TLB_CODE when the page holds cached code, so writes
	 * take the slow path and invalidate it). On a fault it raises the
	 * exception itself (cpu_raise) and does not return.
	 */
	uint8_t *(*translate)(struct cpu *cpu, uint64_t vaddr, unsigned access, unsigned *flags);
	/* A write reached a page marked TLB_CODE: drop the cached blocks on it. */
	void (*code_written)(struct cpu *cpu, uint64_t vaddr, size_t len);
	/* Optional: cpu_init_user64 / cpu_fini tell the memory about the CPU. */
	void (*attach)(struct cpu *cpu);
	void (*detach)(struct cpu *cpu);
};

/*
 * translate's *flags: why accesses to a page must leave the TLB fast path.
 * They sit in the low bits of the TLB tags (page-aligned otherwise), so a
 * tag with any of them set never matches an address on the fast path.
 */
#define TLB_CODE (1u << 0)     /* writes: the page holds decoded code (code_written) */
#define TLB_MMIO (1u << 1)     /* system mode (part 2): not RAM */
#define TLB_NOTDIRTY (1u << 2) /* system mode (part 2): the first write sets the dirty bit */

#define CPU_ACCESS_READ 1u
#define CPU_ACCESS_WRITE 2u
#define CPU_ACCESS_FETCH 4u

#define CPU_TLB_SIZE 256

struct cpu_tlb_entry {
	uint64_t tag_read; /* page address | TLB_* bits, ~0 when empty (mem.h) */
	uint64_t tag_write;
	uint64_t tag_fetch;
	intptr_t addend; /* host = (intptr_t)vaddr + addend */
};

struct cpu {
	union {
		uint64_t gpr[16];
		uint64_t ea_reg[17]; /* gpr plus ea_reg[EA_NONE] == 0 for address arithmetic */
	};
	uint64_t rip;
	uint64_t rflags; /* all bits but the arithmetic ones while lazy flags are pending */
	struct cpu_lazy_flags lf;
	union {
		struct cpu_segment seg[6];
		struct cpu_segment seg_ea[8]; /* seg_ea[S_NONE].base == 0: no segment base */
	};
	enum cpu_mode mode;
	uint8_t cpl;
	bool user; /* user-mode emulation: SYSCALL and exceptions return to the caller */

	union cpu_xmm xmm[16];
	uint32_t mxcsr;
	struct cpu_x87 x87;

	/* Control state the user-mode runner and part 2 share. */
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t tsc_offset;
	uint32_t tsc_aux; /* IA32_TSC_AUX, what RDTSCP returns in ECX */

	/* Memory. */
	const struct cpu_mem_ops *mem;
	void *mem_ctx;
	struct cpu_tlb_entry tlb[CPU_TLB_SIZE];

	/* Execution. */
	struct code_cache *cache;
	const struct insn *cur; /* the instruction being executed (for faults) */
	struct block *block;	/* the block being executed (codecache.h) */
	uint64_t icount;	/* instructions retired (up to date when cpu_run returns) */
	uint64_t budget_left;	/* instructions the current chunk may still start (cpu.c) */
	uint64_t budget_rest;	/* the rest of cpu_run's budget beyond this chunk */
	jmp_buf exc_jmp;	/* cpu_raise longjmps here, inside cpu_run */
	enum cpu_exit exit;
	uint8_t exc_vector;
	uint32_t exc_error;
	bool exc_has_error;
	_Atomic bool stop_request;

	/* CPUID as the guest sees it (cpuid.c fills a default table). */
	const struct cpuid_entry *cpuid;
	size_t nr_cpuid;
};

/* Sets up a CPU in 64-bit user mode (CS.L, CPL 3, flat segments). */
void cpu_init_user64(struct cpu *cpu, const struct cpu_mem_ops *mem, void *mem_ctx);
void cpu_fini(struct cpu *cpu);
/* Runs until an exit; at most budget instructions (0: no budget). */
enum cpu_exit cpu_run(struct cpu *cpu, uint64_t budget);
/* Raises an exception from inside cpu_run: never returns. */
__attribute__((noreturn)) void cpu_raise(struct cpu *cpu, uint8_t vector, uint32_t error,
					 bool has_error);
/* Drops every TLB entry (CR3 load, mapping changes in user mode; user_mem
 * does it itself for the CPUs that use it). */
void cpu_tlb_flush(struct cpu *cpu);
/* Drops every cached decoded block (and the TLB's code marks). */
void cpu_code_flush(struct cpu *cpu);
/*
 * Drops the cached blocks decoded from host bytes [host, host+len): the host
 * address is the page identity (two guest addresses mapping the same host
 * page share it). Callable from a mem op or between cpu_run calls, on the
 * CPU's thread. Returns true when blocks remain on the page(s) touched.
 */
bool cpu_code_invalidate(struct cpu *cpu, const void *host, size_t len);
/* The full RFLAGS value, with lazy flags evaluated. */
uint64_t cpu_get_rflags(struct cpu *cpu);
void cpu_set_rflags(struct cpu *cpu, uint64_t rflags);

#endif
