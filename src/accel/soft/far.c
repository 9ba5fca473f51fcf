/*
 * Far control transfers and privilege changes (SDM vol. 2: JMP, CALL and
 * RET "far", IRET/IRETD/IRETQ, INT n/INTO/INT3, SYSCALL, SYSRET; vol. 3,
 * 5.8 "Privilege level checking when transferring program control", 6.14.3
 * IRET in IA-32e mode).
 *
 * Each does its stack reads/writes and descriptor checks before it
 * changes a register, so a fault leaves the state as it was. Call gates
 * and task switches are not supported (#GP with the selector): x86-64
 * Linux uses neither. Every handler here ends its block and returns NULL
 * (the run loop finds the target: the mode or CS base may have changed).
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sys.h"

/* Reads the stack slot at RSP + off (operand size sz), like POP without moving RSP. */
static uint64_t peek(struct cpu *cpu, const struct insn *i, unsigned sz, uint64_t off)
{
	return stack_peek(cpu, i, sz, off);
}

/* Writes n values of size sz below RSP (vals[0] first, highest address); returns the new RSP. */
static uint64_t push_n(struct cpu *cpu, const struct insn *i, unsigned sz, const uint64_t *vals,
                       unsigned n)
{
	unsigned ssz = stack_asize(cpu);
	uint64_t sp = cpu->gpr[R_RSP];
	for (unsigned k = 0; k < n; k++) {
		sp -= 1u << sz;
		mem_write_slow(cpu, i, stack_addr(cpu, sp, ssz), 1u << sz, vals[k],
		               CPU_ACCESS_WRITE | MEM_STACK);
	}
	return sp;
}

/* A far target's offset for the new CS: canonical (64-bit code) or truncated. */
static uint64_t far_offset(struct cpu *cpu, const struct insn *i, const struct cpu_segment *cs,
                           uint64_t off, unsigned sz)
{
	if (cpu_long_mode(cpu) && (cs->attr & SEGA_L)) {
		if (!mem_canonical(off))
			insn_raise(cpu, i, EXC_GP, 0, true);
		return off;
	}
	return sz == SZ16 ? (uint16_t)off : (uint32_t)off;
}

/* ---- far JMP / CALL ---- */

static const struct insn *far_transfer(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                       uint64_t off, unsigned sz, bool call)
{
	uint64_t ret[2] = {cpu->seg[S_CS].selector, cpu->rip};
	if (cpu->mode == CPU_MODE_REAL) {
		if (call)
			stack_set_sp(cpu, push_n(cpu, i, sz, ret, 2), stack_asize(cpu));
		seg_load_real(cpu, S_CS, sel);
		cpu_update_mode(cpu);
		cpu->rip = sz == SZ16 ? (uint16_t)off : (uint32_t)off;
		return NULL;
	}
	unsigned cpl;
	struct cpu_segment cs = seg_check_code(cpu, i, sel, false, &cpl);
	uint64_t target = far_offset(cpu, i, &cs, off, sz);
	if (call)
		stack_set_sp(cpu, push_n(cpu, i, sz, ret, 2), stack_asize(cpu));
	seg_set_cs(cpu, cs, cpl);
	cpu->rip = target;
	return NULL;
}

/* EA / 9A ptr16:16 / ptr16:32: offset in imm, selector in disp. */
HANDLER(jmpf_ptr)
{
	return far_transfer(cpu, i, (uint16_t)i->disp, i->imm, i->scale, false);
}

HANDLER(callf_ptr)
{
	return far_transfer(cpu, i, (uint16_t)i->disp, i->imm, i->scale, true);
}

/* FF /5, FF /3: m16:16, m16:32 or m16:64 (REX.W); the operand size in imm. */
static const struct insn *far_mem(struct cpu *cpu, const struct insn *i, bool call)
{
	unsigned sz = (unsigned)i->imm;
	uint64_t a = insn_ea(cpu, i);
	uint64_t off = mem_read(cpu, i, a, sz);
	uint16_t sel = mem_read16(cpu, i, a + (1u << sz));
	return far_transfer(cpu, i, sel, off, sz, call);
}

HANDLER(jmpf_m)
{
	return far_mem(cpu, i, false);
}

HANDLER(callf_m)
{
	return far_mem(cpu, i, true);
}

/* ---- far RET ---- */

/* RETF [imm16]: the operand size in scale, the count in imm. */
HANDLER(retf)
{
	unsigned sz = i->scale, n = 1u << sz;
	uint64_t off = peek(cpu, i, sz, 0);
	uint16_t sel = (uint16_t)peek(cpu, i, sz, n);
	if (cpu->mode == CPU_MODE_REAL) {
		stack_adjust(cpu, 2 * n + i->imm);
		seg_load_real(cpu, S_CS, sel);
		cpu_update_mode(cpu);
		cpu->rip = sz == SZ16 ? (uint16_t)off : (uint32_t)off;
		return NULL;
	}
	unsigned new_cpl, old_cpl = cpu->cpl;
	struct cpu_segment cs = seg_check_code(cpu, i, sel, true, &new_cpl);
	uint64_t target = far_offset(cpu, i, &cs, off, sz);
	if (new_cpl == old_cpl) {
		stack_adjust(cpu, 2 * n + i->imm);
		seg_set_cs(cpu, cs, new_cpl);
		cpu->rip = target;
		return NULL;
	}
	/* To an outer level: the caller's SS:RSP follow the parameters. */
	uint64_t sp = peek(cpu, i, sz, 2 * n + i->imm);
	uint16_t ss_sel = (uint16_t)peek(cpu, i, sz, 3 * n + i->imm);
	if ((ss_sel & 0xfffc) == 0 && !(cs.attr & SEGA_L))
		insn_raise(cpu, i, EXC_GP, 0, true);
	struct cpu_segment ss = seg_check_stack(cpu, i, ss_sel, new_cpl);
	cpu->seg[S_SS] = ss;
	seg_set_cs(cpu, cs, new_cpl);
	stack_set_sp(cpu, sp + i->imm, stack_asize(cpu));
	seg_null_for_cpl(cpu);
	cpu->rip = target;
	return NULL;
}

/* ---- IRET ---- */

/* The RFLAGS bits IRET/POPF may change at this CPL and IOPL (vol. 2, IRET). */
static uint64_t iret_flags(struct cpu *cpu, uint64_t popped, unsigned sz)
{
	uint64_t mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;
	if (cpu->cpl == 0)
		mask |= FLAG_IOPL | FLAG_VIF | FLAG_VIP;
	if (cpu->mode == CPU_MODE_REAL || cpu->cpl <= cpu_iopl(cpu))
		mask |= FLAG_IF;
	if (sz == SZ16)
		mask &= 0xffff;
	/* RF would only suppress instruction breakpoints, which we do not have. */
	return (cpu_get_rflags(cpu) & ~mask) | (popped & mask);
}

HANDLER(iret)
{
	unsigned sz = i->scale, n = 1u << sz;
	uint64_t off = peek(cpu, i, sz, 0);
	uint16_t sel = (uint16_t)peek(cpu, i, sz, n);
	uint64_t fl = peek(cpu, i, sz, 2 * n);
	if (cpu->mode == CPU_MODE_REAL) {
		stack_adjust(cpu, 3 * n);
		cpu_set_rflags(cpu, iret_flags(cpu, fl, sz));
		seg_load_real(cpu, S_CS, sel);
		cpu_update_mode(cpu);
		cpu->rip = sz == SZ16 ? (uint16_t)off : (uint32_t)off;
		cpu->nmi_blocked = false;
		return NULL;
	}
	/* Task returns (NT) and returns to virtual-8086 mode are not supported. */
	if (cpu->rflags & FLAG_NT)
		insn_raise(cpu, i, EXC_GP, 0, true);
	unsigned new_cpl, old_cpl = cpu->cpl;
	struct cpu_segment cs = seg_check_code(cpu, i, sel, true, &new_cpl);
	uint64_t target = far_offset(cpu, i, &cs, off, sz);
	/* 64-bit mode always pops SS:RSP; otherwise only on a return to an outer level. */
	bool pop_stack = cpu->mode == CPU_MODE_LONG64 || new_cpl != old_cpl;
	struct cpu_segment ss = cpu->seg[S_SS];
	uint64_t sp = 0;
	if (pop_stack) {
		sp = peek(cpu, i, sz, 3 * n);
		uint16_t ss_sel = (uint16_t)peek(cpu, i, sz, 4 * n);
		if ((ss_sel & 0xfffc) == 0 && !(cs.attr & SEGA_L))
			insn_raise(cpu, i, EXC_GP, 0, true);
		ss = seg_check_stack(cpu, i, ss_sel, new_cpl);
	}
	uint64_t flags = iret_flags(cpu, fl, sz);
	/* Committed. */
	if (pop_stack) {
		cpu->seg[S_SS] = ss;
		if (cpu_long_mode(cpu))
			cpu->gpr[R_RSP] = sp;
		else
			stack_set_sp(cpu, sp, (ss.attr & SEGA_DB) ? SZ32 : SZ16);
	} else {
		stack_adjust(cpu, 3 * n);
	}
	cpu_set_rflags(cpu, flags);
	seg_set_cs(cpu, cs, new_cpl);
	if (new_cpl > old_cpl)
		seg_null_for_cpl(cpu);
	cpu->rip = target;
	cpu->nmi_blocked = false;
	return NULL;
}

/* ---- software interrupts (system mode; system.c keeps the user-mode behaviour) ---- */

const struct insn *sys_soft_int(struct cpu *cpu, const struct insn *i, unsigned vector)
{
	/* A fault while delivering is a fault of this instruction. */
	cpu->cur = i;
	exc_deliver(cpu, i, vector, 0, false, EV_SOFT, cpu->rip);
	return NULL;
}

/* ---- SYSCALL / SYSRET (vol. 2; vol. 3, 5.8.8) ---- */

/* The flat segments SYSCALL/SYSRET load: code (L or D) and data, DPL dpl. */
static struct cpu_segment flat(uint16_t sel, unsigned dpl, bool code, bool l)
{
	uint16_t attr = (uint16_t)((code ? 0xb : 0x3) | SEGA_S | dpl << 5 | SEGA_P | SEGA_G |
	                           (code && l ? SEGA_L : SEGA_DB));
	return (struct cpu_segment){.selector = sel, .base = 0, .limit = 0xffffffff, .attr = attr};
}

const struct insn *sys_syscall(struct cpu *cpu, const struct insn *i)
{
	if (!(cpu->efer & EFER_SCE))
		insn_raise(cpu, i, EXC_UD, 0, false);
	uint16_t sel = (uint16_t)(cpu->msr.star >> 32);
	uint64_t rf = cpu_get_rflags(cpu);
	if (cpu_long_mode(cpu)) {
		cpu->gpr[R_RCX] = cpu->rip;
		cpu->gpr[R_R11] = rf & ~(uint64_t)FLAG_RF;
		cpu_set_rflags(cpu, rf & ~cpu->msr.sfmask & ~(uint64_t)FLAG_RF);
		cpu->rip = cpu->mode == CPU_MODE_LONG64 ? cpu->msr.lstar : cpu->msr.cstar;
		cpu->seg[S_SS] = flat((uint16_t)((sel + 8) & 0xfffc), 0, false, false);
		seg_set_cs(cpu, flat(sel & 0xfffc, 0, true, true), 0);
	} else {
		/* Legacy mode (AMD): EIP from STAR[31:0]. */
		cpu->gpr[R_RCX] = (uint32_t)cpu->rip;
		cpu_set_rflags(cpu, rf & ~(uint64_t)(FLAG_VM | FLAG_IF | FLAG_RF));
		cpu->rip = (uint32_t)cpu->msr.star;
		cpu->seg[S_SS] = flat((uint16_t)((sel + 8) & 0xfffc), 0, false, false);
		seg_set_cs(cpu, flat(sel & 0xfffc, 0, true, false), 0);
	}
	return NULL;
}

/* SYSRET: REX.W returns to 64-bit code (RIP = RCX), else to compatibility mode (ECX). */
static const struct insn *sysret(struct cpu *cpu, const struct insn *i, bool to64)
{
	if (!(cpu->efer & EFER_SCE) || cpu->mode != CPU_MODE_LONG64)
		insn_raise(cpu, i, EXC_UD, 0, false);
	if (cpu->cpl != 0)
		insn_raise(cpu, i, EXC_GP, 0, true);
	uint64_t rip = cpu->gpr[R_RCX];
	/* Intel raises #GP(0) at CPL 0 for a non-canonical RCX (AMD faults at CPL 3). */
	if (to64 && !mem_canonical(rip))
		insn_raise(cpu, i, EXC_GP, 0, true);
	uint16_t sel = (uint16_t)(cpu->msr.star >> 48);
	cpu_set_rflags(cpu, (cpu->gpr[R_R11] & 0x3c7fd7) | 2);
	cpu->seg[S_SS] = flat((uint16_t)((sel + 8) | 3), 3, false, false);
	seg_set_cs(cpu, flat((uint16_t)((to64 ? sel + 16 : sel) | 3), 3, true, to64), 3);
	cpu->rip = to64 ? rip : (uint32_t)rip;
	return NULL;
}

HANDLER(sysret64)
{
	return sysret(cpu, i, true);
}

HANDLER(sysret32)
{
	return sysret(cpu, i, false);
}

/* ---- select ---- */

insn_fn far_select(const struct decode *d)
{
	struct insn *in = d->insn;
	switch (d->op) {
	case OP_JMPF:
	case OP_CALLF:
		if (d->form == FORM_I) {
			in->scale = d->osize; /* scale is free: no memory operand */
			return d->op == OP_JMPF ? jmpf_ptr : callf_ptr;
		}
		in->imm = d->osize;
		return d->op == OP_JMPF ? jmpf_m : callf_m;
	case OP_RETF:
		in->scale = d->osize;
		return retf;
	case OP_IRET:
		in->scale = d->osize;
		return iret;
	case OP_SYSRET:
		return d->osize == SZ64 ? sysret64 : sysret32;
	default:
		return NULL;
	}
}
