/*
 * Event delivery in system mode (SDM vol. 3, chapter 6 "Interrupt and
 * exception handling": 6.12 protected mode, 6.14 IA-32e mode, 6.15 the
 * exception classes and #DF; 20.1.4 real mode's interrupt vector table).
 *
 * Delivery reads the gate, the target code segment and (on a privilege
 * change or with an IST) the TSS, writes the whole frame to the new stack,
 * and only then changes registers: a fault anywhere on the way leaves the
 * CPU as it was, so the run loop can deliver the second exception with the
 * same RIP, or a #DF, or shut down (exc_dispatch).
 */
#include "accel/soft/mem.h"
#include "accel/soft/sys.h"

enum exc_class { C_BENIGN, C_CONTRIB, C_PF, C_DF };

static enum exc_class exc_class(unsigned v)
{
	switch (v) {
	case EXC_DE:
	case EXC_TS:
	case EXC_NP:
	case EXC_SS:
	case EXC_GP:
		return C_CONTRIB;
	case EXC_PF:
		return C_PF;
	case EXC_DF:
		return C_DF;
	default:
		return C_BENIGN;
	}
}

/* The error code of a fault caused by IDT entry vector: index, IDT bit, EXT. */
static uint32_t idt_error(const struct cpu *cpu, unsigned vector)
{
	return vector * 8 + 2 + (cpu->deliver_ext ? 1 : 0);
}

/* Reads a field of the current TSS: #TS(TR) beyond its limit. */
static uint64_t tss_read(struct cpu *cpu, const struct insn *i, uint32_t off, unsigned len)
{
	if ((uint64_t)off + len - 1 > cpu->tr.limit || !(cpu->tr.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_TS, cpu->tr.selector);
	return mem_read_slow(cpu, i, cpu->tr.base + off, len, CPU_ACCESS_READ | ACC_SUPER);
}

/*
 * Writes a frame of n values of width bytes below sp (wrapped to the stack
 * size ssz) in the stack segment with base ss_base; returns the new sp.
 * vals[0] is pushed first (the highest address).
 */
static uint64_t push_frame(struct cpu *cpu, const struct insn *i, uint64_t ss_base, uint64_t sp,
                           unsigned ssz, unsigned width, const uint64_t *vals, unsigned n,
                           unsigned acc)
{
	for (unsigned k = 0; k < n; k++) {
		sp -= width;
		uint64_t off = ssz == SZ64 ? sp : ssz == SZ32 ? (uint32_t)sp : (uint16_t)sp;
		uint64_t a = ssz == SZ64 ? off : (uint32_t)(ss_base + off);
		mem_write_slow(cpu, i, a, width, vals[k], CPU_ACCESS_WRITE | MEM_STACK | acc);
	}
	return sp;
}

/* The target code segment of a gate (vol. 3, 6.12.1.1): returns it and the new CPL. */
static struct cpu_segment gate_code(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                    unsigned *new_cpl)
{
	uint64_t desc;
	struct cpu_segment cs = seg_read_code(cpu, i, sel, &desc);
	unsigned type = cs.attr & SEGA_TYPE, dpl = SEGA_DPL(cs.attr);
	if (dpl > cpu->cpl)
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (!(cs.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_NP, sel);
	if (cpu_long_mode(cpu) && (!(cs.attr & SEGA_L) || (cs.attr & SEGA_DB)))
		sys_raise_sel(cpu, i, EXC_GP, sel); /* IA-32e gates must lead to 64-bit code */
	*new_cpl = (type & SEGT_CONFORM) ? cpu->cpl : dpl;
	return seg_enter_code(cpu, i, sel, &desc, cs, *new_cpl);
}

/* The RFLAGS image pushed: faults set RF (vol. 3, 17.3.1.1), traps and interrupts do not. */
static uint64_t pushed_rflags(struct cpu *cpu, unsigned vector, enum event_kind kind)
{
	uint64_t f = cpu_get_rflags(cpu);
	if (kind == EV_EXCEPTION && vector != EXC_DB && vector != EXC_BP && vector != EXC_OF)
		f |= FLAG_RF;
	return f;
}

/* RFLAGS after delivery: TF, NT, RF and VM clear; IF clear through an interrupt gate. */
static void enter_handler_flags(struct cpu *cpu, bool intgate)
{
	uint64_t clear = FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM | (intgate ? FLAG_IF : 0);
	cpu->rflags &= ~clear;
}

/* IA-32e mode (vol. 3, 6.14): 16-byte gates, 64-bit frame, IST, SS = NULL on a CPL change. */
static void deliver_long(struct cpu *cpu, const struct insn *i, unsigned vector, uint32_t error,
                         bool has_error, enum event_kind kind, uint64_t ret_rip)
{
	uint32_t ierr = idt_error(cpu, vector);
	if (vector * 16 + 15 > cpu->idtr.limit)
		insn_raise(cpu, i, EXC_GP, ierr, true);
	uint64_t ga = cpu->idtr.base + vector * 16;
	uint64_t lo = mem_read_slow(cpu, i, ga, 8, CPU_ACCESS_READ | ACC_SUPER);
	uint64_t hi = mem_read_slow(cpu, i, ga + 8, 8, CPU_ACCESS_READ | ACC_SUPER);
	unsigned type = (lo >> 40) & 0x1f, dpl = (lo >> 45) & 3;
	if (type != SYST_INTGATE && type != SYST_TRAPGATE)
		insn_raise(cpu, i, EXC_GP, ierr, true);
	if (kind == EV_SOFT && dpl < cpu->cpl)
		insn_raise(cpu, i, EXC_GP, ierr, true);
	if (!(lo & (1ULL << 47)))
		insn_raise(cpu, i, EXC_NP, ierr, true);
	uint64_t target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000) | (hi << 32);
	unsigned ist = (lo >> 32) & 7, new_cpl;
	struct cpu_segment cs = gate_code(cpu, i, (uint16_t)(lo >> 16), &new_cpl);
	if (!mem_canonical(target))
		insn_raise(cpu, i, EXC_GP, cpu->deliver_ext ? 1 : 0, true);

	uint64_t rsp = cpu->gpr[R_RSP];
	if (ist)
		rsp = tss_read(cpu, i, 0x24 + 8 * (ist - 1), 8);
	else if (new_cpl < cpu->cpl)
		rsp = tss_read(cpu, i, 4 + 8 * new_cpl, 8);
	rsp &= ~0xfULL;
	uint64_t frame[6] = {
	    cpu->seg[S_SS].selector, cpu->gpr[R_RSP], pushed_rflags(cpu, vector, kind),
	    cpu->seg[S_CS].selector, ret_rip,         error};
	unsigned acc = new_cpl < 3 ? ACC_SUPER : 0;
	rsp = push_frame(cpu, i, 0, rsp, SZ64, 8, frame, has_error ? 6 : 5, acc);

	/* Committed: nothing below can fault. */
	if (new_cpl != cpu->cpl)
		seg_load_null(cpu, S_SS, (uint16_t)new_cpl);
	cpu->gpr[R_RSP] = rsp;
	enter_handler_flags(cpu, type == SYST_INTGATE);
	seg_set_cs(cpu, cs, new_cpl);
	cpu->rip = target;
}

/* Protected mode (vol. 3, 6.12): 8-byte gates, 16- or 32-bit frames, TSS stack switch. */
static void deliver_prot(struct cpu *cpu, const struct insn *i, unsigned vector, uint32_t error,
                         bool has_error, enum event_kind kind, uint64_t ret_rip)
{
	uint32_t ierr = idt_error(cpu, vector);
	if (vector * 8 + 7 > cpu->idtr.limit)
		insn_raise(cpu, i, EXC_GP, ierr, true);
	uint64_t g = mem_read_slow(cpu, i, (uint32_t)(cpu->idtr.base + vector * 8), 8,
	                           CPU_ACCESS_READ | ACC_SUPER);
	unsigned type = (g >> 40) & 0x1f, dpl = (g >> 45) & 3;
	bool gate32 = type == SYST_INTGATE || type == SYST_TRAPGATE;
	if (!gate32 && type != SYST_INTGATE16 && type != SYST_TRAPGATE16)
		insn_raise(cpu, i, EXC_GP, ierr, true); /* task gates are not supported */
	if (kind == EV_SOFT && dpl < cpu->cpl)
		insn_raise(cpu, i, EXC_GP, ierr, true);
	if (!(g & (1ULL << 47)))
		insn_raise(cpu, i, EXC_NP, ierr, true);
	uint32_t target = (uint32_t)((g & 0xffff) | ((g >> 32) & 0xffff0000));
	if (!gate32)
		target &= 0xffff;
	unsigned new_cpl, width = gate32 ? 4 : 2;
	struct cpu_segment cs = gate_code(cpu, i, (uint16_t)(g >> 16), &new_cpl);

	struct cpu_segment ss = cpu->seg[S_SS];
	uint64_t sp = cpu->gpr[R_RSP];
	uint64_t frame[8];
	unsigned n = 0;
	if (new_cpl < cpu->cpl) {
		/* The inner stack from the TSS (32-bit: ESPn at 4 + 8n; 16-bit: SPn at 2 + 4n). */
		bool tss32 = (cpu->tr.attr & SEGA_TYPE) != SYST_TSS16 &&
		             (cpu->tr.attr & SEGA_TYPE) != (SYST_TSS16 | 2);
		uint16_t ss_sel;
		if (tss32) {
			sp = tss_read(cpu, i, 4 + 8 * new_cpl, 4);
			ss_sel = (uint16_t)tss_read(cpu, i, 8 + 8 * new_cpl, 2);
		} else {
			sp = tss_read(cpu, i, 2 + 4 * new_cpl, 2);
			ss_sel = (uint16_t)tss_read(cpu, i, 4 + 4 * new_cpl, 2);
		}
		if ((ss_sel & 0xfffc) == 0)
			sys_raise_sel(cpu, i, EXC_TS, ss_sel);
		ss = seg_check_stack(cpu, i, ss_sel, new_cpl);
		frame[n++] = cpu->seg[S_SS].selector;
		frame[n++] = cpu->gpr[R_RSP];
	}
	frame[n++] = pushed_rflags(cpu, vector, kind);
	frame[n++] = cpu->seg[S_CS].selector;
	frame[n++] = ret_rip;
	if (has_error)
		frame[n++] = error;
	unsigned ssz = (ss.attr & SEGA_DB) ? SZ32 : SZ16;
	unsigned acc = new_cpl < 3 ? ACC_SUPER : 0;
	sp = push_frame(cpu, i, ss.base, sp, ssz, width, frame, n, acc);

	cpu->seg[S_SS] = ss;
	stack_set_sp(cpu, sp, ssz);
	enter_handler_flags(cpu, type == SYST_INTGATE || type == SYST_INTGATE16);
	seg_set_cs(cpu, cs, new_cpl);
	cpu->rip = target;
}

/* Real mode (vol. 3, 20.1.4): the IVT's 4-byte entries, FLAGS CS IP pushed, no error code. */
static void deliver_real(struct cpu *cpu, const struct insn *i, unsigned vector, uint64_t ret_rip)
{
	if (vector * 4 + 3 > cpu->idtr.limit)
		insn_raise(cpu, i, EXC_GP, 0, true);
	uint32_t ent = (uint32_t)mem_read_slow(cpu, i, (uint32_t)(cpu->idtr.base + vector * 4), 4,
	                                       CPU_ACCESS_READ);
	uint64_t frame[3] = {cpu_get_rflags(cpu) & 0xffff, cpu->seg[S_CS].selector,
	                     ret_rip & 0xffff};
	unsigned ssz = (cpu->seg[S_SS].attr & SEGA_DB) ? SZ32 : SZ16;
	uint64_t sp = push_frame(cpu, i, cpu->seg[S_SS].base, cpu->gpr[R_RSP], ssz, 2, frame, 3, 0);
	stack_set_sp(cpu, sp, ssz);
	cpu->rflags &= ~(uint64_t)(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
	seg_load_real(cpu, S_CS, (uint16_t)(ent >> 16));
	cpu_update_mode(cpu);
	cpu->rip = ent & 0xffff;
}

void exc_deliver(struct cpu *cpu, const struct insn *i, unsigned vector, uint32_t error,
                 bool has_error, enum event_kind kind, uint64_t ret_rip)
{
	cpu->deliver_ext = kind != EV_SOFT;
	/* An NMI handler runs with NMIs blocked until its IRET. */
	if (vector == 2 && kind == EV_EXTERNAL)
		cpu->nmi_blocked = true;
	if (cpu->mode == CPU_MODE_REAL)
		deliver_real(cpu, i, vector, ret_rip);
	else if (cpu_long_mode(cpu))
		deliver_long(cpu, i, vector, error, has_error, kind, ret_rip);
	else
		deliver_prot(cpu, i, vector, error, has_error, kind, ret_rip);
	cpu->deliver_ext = false;
	cpu->delivering = -1;
}

void exc_dispatch(struct cpu *cpu, unsigned vector, uint32_t error, bool has_error)
{
	if (cpu->delivering >= 0) {
		enum exc_class first = exc_class((unsigned)cpu->delivering);
		enum exc_class second = exc_class(vector);
		if (first == C_DF) {
			/* A fault while delivering #DF: triple fault (vol. 3, 6.15, interrupt 8).
			 */
			cpu->delivering = -1;
			cpu->deliver_ext = false;
			cpu->activity = CPU_SHUTDOWN;
			cpu->exit = CPU_EXIT_SHUTDOWN;
			return;
		}
		if ((first == C_CONTRIB && second == C_CONTRIB) ||
		    (first == C_PF && second != C_BENIGN)) {
			vector = EXC_DF;
			error = 0;
			has_error = true;
		}
	}
	cpu->delivering = (int16_t)vector;
	/* cpu->rip is the faulting instruction (faults) or the next one (traps). */
	exc_deliver(cpu, NULL, vector, error, has_error, EV_EXCEPTION, cpu->rip);
}
