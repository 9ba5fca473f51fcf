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
	CPU_EXIT_SHUTDOWN,  /* system mode: triple fault (or an event in the shutdown state) */
};

/*
 * cpu->interrupt_request bits. Other threads (the platform, the VMM) set
 * them with atomic_fetch_or; the CPU polls the word at every block boundary
 * (block_next) and services it in the run loop (cpu.c): INIT, SIPI, exit
 * requests, NMI, then external interrupts.
 */
#define CPU_INT_EXTERNAL (1u << 0) /* the LAPIC/PIC has an interrupt: intr_ack when IF allows */
#define CPU_INT_NMI	 (1u << 1) /* an NMI (blocked until the handler's IRET) */
#define CPU_INT_INIT	 (1u << 2) /* INIT: reset to the wait-for-SIPI state */
#define CPU_INT_SIPI	 (1u << 3) /* start-up IPI: vector in cpu->sipi_vector */
#define CPU_INT_EXIT	 (1u << 4) /* leave cpu_run soon (CPU_EXIT_STOP): kick, stop, timer */
/* Another vCPU posted memory work (sysmem.c): code_cache_reap runs mem->sync and clears it. */
#define CPU_INT_MEM	 (1u << 5)

/* cpu->activity (SDM vol. 3, 9.1 and 10.4.2: the activity states). */
enum cpu_activity {
	CPU_ACTIVE,	/* executing */
	CPU_HALTED,	/* HLT: until an unmasked interrupt, NMI or INIT */
	CPU_WAIT_SIPI,	/* after INIT: until a SIPI */
	CPU_SHUTDOWN,	/* triple fault: until INIT */
};

struct cpu;

/*
 * The platform behind a system-mode CPU (accel/soft's adapter implements
 * it). Called on the CPU's thread from inside cpu_run.
 */
struct cpu_sys_ops {
	/* One port access (size 1/2/4); string I/O calls it once per element. */
	void (*pio)(struct cpu *cpu, uint16_t port, void *data, unsigned size, bool is_write);
	/* One access to guest-physical memory that is not RAM (size 1..8). */
	void (*mmio)(struct cpu *cpu, uint64_t gpa, void *data, unsigned size, bool is_write);
	/* MSRs the platform owns (APIC base, x2APIC 0x800-0x8ff, TSC_DEADLINE 0x6e0):
	   0 = handled, -1 = not mine (the CPU then handles it or raises #GP). */
	int (*rdmsr)(struct cpu *cpu, uint32_t index, uint64_t *value);
	int (*wrmsr)(struct cpu *cpu, uint32_t index, uint64_t value);
	/* Acknowledges the highest-priority deliverable external interrupt: its vector, or -1. */
	int (*intr_ack)(struct cpu *cpu);
};

/* A descriptor-table register (GDTR, IDTR). */
struct cpu_dtable {
	uint64_t base;
	uint32_t limit;
};

/* The MSRs the CPU itself keeps (msr.c); FS/GS bases live in seg[]. */
struct cpu_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, misc_enable, ucode_rev;
	uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16];
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
	/*
	 * Optional: other threads asked this CPU (CPU_INT_MEM) to catch up
	 * with shared-memory events (code written by another vCPU, pages that
	 * became code). Called on the CPU's thread between blocks
	 * (code_cache_reap, which clears the bit first).
	 */
	void (*sync)(struct cpu *cpu);
	/*
	 * System mode: one access of size 1..8 to a guest-physical address
	 * that is not RAM (translate returned TLB_MMIO, with the guest-physical
	 * page as its "host" pointer). mem.c splits larger accesses.
	 */
	void (*mmio)(struct cpu *cpu, uint64_t gpa, void *data, unsigned size, bool is_write);
};

/*
 * translate's *flags: why accesses to a page must leave the TLB fast path.
 * They sit in the low bits of the TLB tags (page-aligned otherwise), so a
 * tag with any of them set never matches an address on the fast path.
 */
#define TLB_CODE (1u << 0)     /* writes: the page holds decoded code (code_written) */
#define TLB_MMIO (1u << 1)     /* system mode (part 2): not RAM */
#define TLB_NOTDIRTY (1u << 2) /* system mode (part 2): the first write sets the dirty bit */
/* translate's *flags only, never stored in a tag: */
#define TLB_GLOBAL (1u << 3) /* a global page (G, CR4.PGE): kept by cpu_tlb_flush */
#define TLB_NOFILL (1u << 4) /* allow this one access but do not cache it (CR0.WP = 0 writes) */
#define TLB_LARGE (1u << 5)  /* part of a page larger than 4 KiB (INVLPG) */
#define TLB_NEWCODE (1u << 6) /* a fetch made the page hold code just now (drop write entries) */

#define CPU_ACCESS_READ 1u
#define CPU_ACCESS_WRITE 2u
#define CPU_ACCESS_FETCH 4u
/* An implicit supervisor access (GDT/LDT/IDT/TSS) even at CPL 3: system mode only. */
#define CPU_ACCESS_SUPERVISOR 8u

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
	struct cpu_tlb_entry tlb[CPU_TLB_SIZE]; /* translations for the current privilege */
	uint8_t tlb_global[CPU_TLB_SIZE];	/* the entry maps a global page (tlb.c) */
	/* The other privilege's TLB (CPL 3 vs 0-2), swapped in by code_cache_set_mode. */
	struct cpu_tlb_entry tlb_alt[CPU_TLB_SIZE];
	uint8_t tlb_alt_global[CPU_TLB_SIZE];
	bool tlb_user;			/* tlb[] holds CPL-3 translations */

	/* Execution. */
	struct code_cache *cache;
	struct block **jc;	/* cache->jc, here to save a load per block (codecache.h) */
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
	_Atomic uint32_t interrupt_request; /* CPU_INT_* */

	/* System mode (cpu->user == false): docs/softcpu.md, "System mode". */
	struct cpu_dtable gdtr, idtr;
	struct cpu_segment ldtr, tr;
	uint64_t cr8;
	uint64_t dr[8]; /* DR0-DR3, DR6, DR7 (4 and 5 unused): stored, no breakpoints */
	struct cpu_msrs msr;
	const struct cpu_sys_ops *sys;
	void *sys_ctx;
	uint8_t activity;    /* enum cpu_activity */
	uint8_t sipi_vector; /* set before CPU_INT_SIPI */
	bool nmi_blocked;    /* from NMI delivery to the next IRET */
	bool int_shadow;     /* STI / MOV SS: no interrupt before the instruction at shadow_rip */
	uint64_t shadow_rip;
	int16_t delivering;  /* exc.c: the exception being delivered (-1: none; 0x100 | vector: an
	                        interrupt), for the #DF rules */
	bool deliver_ext;    /* ... and whether it was external (the EXT bit of error codes) */
	/* Tracers stepping with cpu_run(cpu, 1): return (CPU_EXIT_BUDGET) right after an
	   interrupt or exception was delivered, before the handler's first instruction. */
	bool stop_after_event;

	/* CPUID as the guest sees it (cpuid.c fills a default table). */
	const struct cpuid_entry *cpuid;
	size_t nr_cpuid;
};

/* Sets up a CPU in 64-bit user mode (CS.L, CPL 3, flat segments). */
void cpu_init_user64(struct cpu *cpu, const struct cpu_mem_ops *mem, void *mem_ctx);
/*
 * Sets up a system-mode CPU in the state after RESET (SDM vol. 3, 9.1.1):
 * real mode, CS = f000 (base ffff0000), IP = fff0, caches and paging off.
 * sys (may be NULL in tests) is the platform; set cpu->sys_ctx after.
 */
void cpu_init_system(struct cpu *cpu, const struct cpu_mem_ops *mem, void *mem_ctx,
		     const struct cpu_sys_ops *sys);
/* INIT (SDM vol. 3, table 9-1): the reset state but MSRs/x87/SSE kept, then wait for SIPI. */
void cpu_init_signal(struct cpu *cpu);
void cpu_fini(struct cpu *cpu);
/* Runs until an exit; at most budget instructions (0: no budget). */
enum cpu_exit cpu_run(struct cpu *cpu, uint64_t budget);
/* Raises an exception from inside cpu_run: never returns. */
__attribute__((noreturn)) void cpu_raise(struct cpu *cpu, uint8_t vector, uint32_t error,
					 bool has_error);
/* A CR3 load: drops every TLB entry but global pages' when CR4.PGE is set
 * (mapping changes in user mode; user_mem does it itself for the CPUs that
 * use it). Also forgets virtual-address lookups of cached code (tlb.c). */
void cpu_tlb_flush(struct cpu *cpu);
/* Drops everything, global pages too (CR4.PGE/PAE/PSE, CR0.PG/WP, EFER.NXE changes). */
void cpu_tlb_flush_all(struct cpu *cpu);
/* INVLPG: drops the translations of the page holding vaddr (global or not). */
void cpu_tlb_flush_page(struct cpu *cpu, uint64_t vaddr);
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

/*
 * The architectural state as the accelerator interface exchanges it
 * (arch/x86/cpu_state.h); between cpu_run calls, on the CPU's thread.
 * cpu_set_sregs recomputes the mode and CPL (CS.RPL; 0 in real mode),
 * flushes the TLB and, with sys->wrmsr, passes apic_base to the platform.
 */
struct x86_regs;
struct x86_sregs;
void cpu_get_regs(struct cpu *cpu, struct x86_regs *regs);
void cpu_set_regs(struct cpu *cpu, const struct x86_regs *regs);
void cpu_get_sregs(struct cpu *cpu, struct x86_sregs *sregs);
void cpu_set_sregs(struct cpu *cpu, const struct x86_sregs *sregs);
/* MSR access for the host (no privilege checks): 0, or -1 for an MSR the CPU does not have. */
int cpu_get_msr(struct cpu *cpu, uint32_t index, uint64_t *value);
int cpu_set_msr(struct cpu *cpu, uint32_t index, uint64_t value);
/*
 * Which CPU_INT_* bits would make cpu_run do something now that it has
 * returned CPU_EXIT_HLT (halted: INIT, NMI, EXIT, and EXTERNAL when IF = 1;
 * waiting for SIPI: INIT, SIPI, EXIT). The adapter sleeps while
 * (interrupt_request & cpu_wake_mask(cpu)) == 0.
 */
uint32_t cpu_wake_mask(const struct cpu *cpu);
/* Raises bits in interrupt_request (any thread); the caller wakes a sleeping vCPU. */
static inline void cpu_interrupt(struct cpu *cpu, uint32_t bits)
{
	atomic_fetch_or_explicit(&cpu->interrupt_request, bits, memory_order_release);
}

#endif
