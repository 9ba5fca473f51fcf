/*
 * System mode internals shared by seg.c (descriptors, segment loads, mode
 * and CPL), exc.c (event delivery through the IDT), msr.c and the system
 * instruction files (sys_insn.c, far.c, io.c, segld.c). Not for the rest
 * of the CPU: cpu.h is the public contract.
 *
 * Descriptor layout (SDM vol. 3, 3.4.5): cpu_segment.attr holds bits 40-47
 * (type, S, DPL, P) and 52-55 << 8 (AVL, L, D/B, G) of the descriptor.
 */
#ifndef EMBER_ACCEL_SOFT_SYS_H
#define EMBER_ACCEL_SOFT_SYS_H

#include "accel/soft/insn.h"

/* Control register bits (SDM vol. 3, 2.5). */
#define CR0_PE         (1ULL << 0)
#define CR0_MP         (1ULL << 1)
#define CR0_EM         (1ULL << 2)
#define CR0_TS         (1ULL << 3)
#define CR0_ET         (1ULL << 4)
#define CR0_NE         (1ULL << 5)
#define CR0_WP         (1ULL << 16)
#define CR0_AM         (1ULL << 18)
#define CR0_NW         (1ULL << 29)
#define CR0_CD         (1ULL << 30)
#define CR0_PG         (1ULL << 31)
#define CR4_TSD        (1ULL << 2)
#define CR4_DE         (1ULL << 3)
#define CR4_PSE        (1ULL << 4)
#define CR4_PAE        (1ULL << 5)
#define CR4_MCE        (1ULL << 6)
#define CR4_PGE        (1ULL << 7)
#define CR4_PCE        (1ULL << 8)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define EFER_SCE       (1ULL << 0)
#define EFER_LME       (1ULL << 8)
#define EFER_LMA       (1ULL << 10)
#define EFER_NXE       (1ULL << 11)

#define FLAG_VIF (1u << 19)
#define FLAG_VIP (1u << 20)

/* cpu_segment.attr fields. */
#define SEGA_TYPE   0x000fu
#define SEGA_S      0x0010u /* code/data (1) or system (0) */
#define SEGA_DPL(a) (((a) >> 5) & 3)
#define SEGA_P      0x0080u
#define SEGA_L      0x2000u
#define SEGA_DB     0x4000u
#define SEGA_G      0x8000u
/* Code/data type bits. */
#define SEGT_ACCESSED 1u
#define SEGT_WRITE    2u /* data: writable; code: readable */
#define SEGT_CONFORM  4u /* code: conforming; data: expand-down */
#define SEGT_CODE     8u
/* System types (64-bit mode names where they differ). */
#define SYST_LDT        0x2
#define SYST_TSS16      0x1
#define SYST_TSS_AVAIL  0x9
#define SYST_TSS_BUSY   0xb
#define SYST_CALLGATE   0xc
#define SYST_INTGATE16  0x6
#define SYST_TRAPGATE16 0x7
#define SYST_INTGATE    0xe
#define SYST_TRAPGATE   0xf

/*
 * Implicit supervisor accesses (descriptor tables, the TSS, the IDT and the
 * kernel stack of an interrupt from CPL 3) must not be checked against the
 * U/S bit of the current CPL: the MMU's access flag, when it has one.
 */
#ifdef CPU_ACCESS_SUPERVISOR
#define ACC_SUPER CPU_ACCESS_SUPERVISOR
#else
#define ACC_SUPER 0u
#endif

/* ---- seg.c ---- */

/* A raw 8-byte descriptor as a cached segment (base, expanded limit, attr). */
struct cpu_segment seg_from_desc(uint16_t sel, uint64_t desc);
/* Reads the descriptor of sel from the GDT or LDT; false when sel is beyond the table limit. */
bool desc_read(struct cpu *cpu, const struct insn *i, uint16_t sel, uint64_t *desc);
/* The upper 8 bytes of a 16-byte system descriptor (64-bit mode). */
uint64_t desc_read_high(struct cpu *cpu, const struct insn *i, uint16_t sel);
/* Sets the accessed bit (type bit 0) of a code/data descriptor, as the hardware writes it. */
void desc_set_accessed(struct cpu *cpu, const struct insn *i, uint16_t sel, uint64_t *desc);
/* Loads a data segment register (DS ES FS GS SS) with the checks of MOV/POP (vol. 2, MOV). */
void seg_load(struct cpu *cpu, const struct insn *i, unsigned s, uint16_t sel);
/* Real mode: selector and base = sel << 4 (limit and attributes are kept). */
void seg_load_real(struct cpu *cpu, unsigned s, uint16_t sel);
/* A null selector (DS ES FS GS; SS in 64-bit mode): unusable, base 0. */
void seg_load_null(struct cpu *cpu, unsigned s, uint16_t sel);
/* Reads the descriptor of the code selector sel: #GP for a null selector (error 0, or 1 for an
 * external event) and for anything but a code segment; no privilege or presence checks. */
struct cpu_segment seg_read_code(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                 uint64_t *desc);
/* cs (read by seg_read_code, all checks passed) as CS at cpl: sets the accessed bit. */
struct cpu_segment seg_enter_code(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                  uint64_t *desc, struct cpu_segment cs, unsigned cpl);

/*
 * The checks of a far JMP/CALL/RET/IRET target code segment (non-gate):
 * raises #GP(sel)/#NP(sel); returns the cached segment (RPL := new CPL).
 * ret: RETF/IRET rules (RPL >= CPL, the new CPL is the RPL).
 */
struct cpu_segment seg_check_code(struct cpu *cpu, const struct insn *i, uint16_t sel, bool ret,
                                  unsigned *new_cpl);
/* The SS checks of a return to another privilege level / IRET (RPL = DPL = cpl, writable). */
struct cpu_segment seg_check_stack(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                   unsigned cpl);
/* Commits CS (+ CPL) and recomputes the mode (code cache and TLB told). */
void seg_set_cs(struct cpu *cpu, struct cpu_segment cs, unsigned cpl);
/* Recomputes cpu->mode from CR0.PE, EFER.LMA and CS.L/D; tells the code cache. */
void cpu_update_mode(struct cpu *cpu);
/* Changes the CPL and recomputes the mode (the TLB has a bank per user/supervisor). */
void cpu_set_cpl(struct cpu *cpu, unsigned cpl);
/* On a return to an outer level: data segments the new CPL may not use become null. */
void seg_null_for_cpl(struct cpu *cpu);

/* ---- exc.c ---- */

/* Kinds of events for delivery (the DPL check and the EXT bit depend on it). */
enum event_kind {
	EV_EXCEPTION, /* a processor exception */
	EV_EXTERNAL,  /* an external interrupt or NMI */
	EV_SOFT,      /* INT n, INT3, INTO: the gate's DPL is checked against the CPL */
};

/*
 * Delivers an event through the IDT (real, protected or long mode):
 * every read and push first, then the state changes, so a fault during
 * delivery leaves the CPU as it was. ret_rip is the RIP to push.
 */
void exc_deliver(struct cpu *cpu, const struct insn *i, unsigned vector, uint32_t error,
                 bool has_error, enum event_kind kind, uint64_t ret_rip);
/*
 * cpu_run's handler for an exception raised in system mode (cpu->rip is the
 * faulting instruction or the next one for traps): the #DF / triple-fault
 * rules (SDM vol. 3, table 6-5), then delivery. May longjmp again.
 */
void exc_dispatch(struct cpu *cpu, unsigned vector, uint32_t error, bool has_error);

/* ---- far.c: the system-mode side of system.c's SYSCALL, INT n, INT3, INTO ---- */

const struct insn *sys_soft_int(struct cpu *cpu, const struct insn *i, unsigned vector);
const struct insn *sys_syscall(struct cpu *cpu, const struct insn *i);

/* ---- msr.c ---- */

/* 0, or -1 when the MSR does not exist (RDMSR/WRMSR raise #GP(0)); -2: bad value. */
int msr_read(struct cpu *cpu, uint32_t index, uint64_t *value);
int msr_write(struct cpu *cpu, uint32_t index, uint64_t value);
/* EFER writes also come from cpu_set_sregs: the LME/LMA/NXE side effects. */
void msr_efer_changed(struct cpu *cpu, uint64_t old);

/* ---- helpers ---- */

static inline bool cpu_long_mode(const struct cpu *cpu)
{
	return (cpu->efer & EFER_LMA) != 0;
}

static inline unsigned cpu_iopl(const struct cpu *cpu)
{
	return (unsigned)(cpu->rflags & FLAG_IOPL) >> 12;
}

/* Privileged instruction at CPL > 0: #GP(0) (real mode is CPL 0). */
static inline void sys_require_cpl0(struct cpu *cpu, const struct insn *i)
{
	if (unlikely(cpu->cpl != 0))
		insn_raise(cpu, i, EXC_GP, 0, true);
}

/* Raises a fault whose error code is a selector (EXT bit from the event being delivered). */
__attribute__((noreturn)) void sys_raise_sel(struct cpu *cpu, const struct insn *i, uint8_t vector,
                                             uint16_t sel);

#endif
