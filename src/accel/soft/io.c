/*
 * Port I/O (SDM vol. 2: IN, OUT, INS, OUTS; vol. 1, 19.5 "I/O privilege
 * level"): one cpu->sys->pio call per access (per element for the string
 * forms). In protected and long mode CPL > IOPL is #GP(0); there is no TSS
 * I/O permission bitmap (Linux runs its port drivers at CPL 0). Without a
 * platform (tests) reads return all ones and writes vanish.
 */
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sys.h"

/* insn fields: scale = the access size (SZ8..SZ32); disp = IO_* bits | the address size. */
#define IO_DX  0x100 /* the port is DX (else imm) */
#define IO_REP 0x200 /* REP INS/OUTS */
/* A long REP INS/OUTS looks at interrupt and stop requests this often (elements). */
#define IO_YIELD_EVERY 256

static void io_check(struct cpu *cpu, const struct insn *i)
{
	if (cpu->mode != CPU_MODE_REAL && cpu->cpl > cpu_iopl(cpu))
		insn_raise(cpu, i, EXC_GP, 0, true);
}

static uint32_t pio_in(struct cpu *cpu, uint16_t port, unsigned sz)
{
	uint32_t v = 0xffffffff;
	if (cpu->sys && cpu->sys->pio)
		cpu->sys->pio(cpu, port, &v, 1u << sz, false);
	return v & (uint32_t)size_mask(sz);
}

static void pio_out(struct cpu *cpu, uint16_t port, unsigned sz, uint32_t v)
{
	if (cpu->sys && cpu->sys->pio)
		cpu->sys->pio(cpu, port, &v, 1u << sz, true);
}

static uint16_t io_port(const struct cpu *cpu, const struct insn *i)
{
	return (uint16_t)((i->disp & IO_DX) ? cpu->gpr[R_RDX] : i->imm);
}

HANDLER(io_in)
{
	io_check(cpu, i);
	uint32_t v = pio_in(cpu, io_port(cpu, i), i->scale);
	reg_set(cpu, i->scale, R_RAX, v); /* AL is byte offset 0, AX/EAX register 0 */
	return insn_next(cpu, i);
}

HANDLER(io_out)
{
	io_check(cpu, i);
	pio_out(cpu, io_port(cpu, i), i->scale, (uint32_t)reg_get(cpu, i->scale, R_RAX));
	return insn_next(cpu, i);
}

/* An offset register of the string forms, wrapped to the address size, plus its segment. */
static uint64_t str_addr(const struct cpu *cpu, unsigned as, unsigned r, unsigned seg)
{
	uint64_t a = reg_get(cpu, as, r) + cpu->seg_ea[seg].base;
	return as == SZ64 ? a : cpu->mode == CPU_MODE_LONG64 ? a : (uint32_t)a;
}

static void str_step(struct cpu *cpu, unsigned as, unsigned r, unsigned sz)
{
	uint64_t d = (cpu->rflags & FLAG_DF) ? -(uint64_t)(1u << sz) : (1u << sz);
	reg_set(cpu, as, r, reg_get(cpu, as, r) + d);
}

/* After k iterations with n left: give way to an interrupt or a stop request? */
static inline bool rep_yield(struct cpu *cpu, uint64_t n, unsigned k)
{
	return n && k % IO_YIELD_EVERY == 0 &&
	       (atomic_load_explicit(&cpu->interrupt_request, memory_order_relaxed) ||
	        atomic_load_explicit(&cpu->stop_request, memory_order_relaxed));
}

/* INS: ES:[rDI] <- port DX; the destination is checked before the port is read. */
HANDLER(io_ins)
{
	io_check(cpu, i);
	unsigned sz = i->scale, as = (unsigned)(i->disp & 0xff);
	unsigned dseg = cpu->mode == CPU_MODE_LONG64 ? S_NONE : S_ES;
	bool rep = i->disp & IO_REP;
	uint64_t n = rep ? reg_get(cpu, as, R_RCX) : 1;
	for (unsigned k = 1; n; k++) {
		uint64_t a = str_addr(cpu, as, R_RDI, dseg);
		mem_probe_write(cpu, i, a, 1u << sz, 0);
		mem_write(cpu, i, a, sz, pio_in(cpu, (uint16_t)cpu->gpr[R_RDX], sz));
		str_step(cpu, as, R_RDI, sz);
		if (!rep)
			break;
		reg_set(cpu, as, R_RCX, --n);
		if (rep_yield(cpu, n, k))
			return insn_stale(cpu, i); /* resumes here: RIP = this instruction */
	}
	return insn_next(cpu, i);
}

/* OUTS: port DX <- DS:[rSI] (segment override allowed). */
HANDLER(io_outs)
{
	io_check(cpu, i);
	unsigned sz = i->scale, as = (unsigned)(i->disp & 0xff);
	bool rep = i->disp & IO_REP;
	uint64_t n = rep ? reg_get(cpu, as, R_RCX) : 1;
	for (unsigned k = 1; n; k++) {
		uint64_t a = str_addr(cpu, as, R_RSI, i->seg & 7);
		uint32_t v = (uint32_t)mem_read(cpu, i, a, sz);
		pio_out(cpu, (uint16_t)cpu->gpr[R_RDX], sz, v);
		str_step(cpu, as, R_RSI, sz);
		if (!rep)
			break;
		reg_set(cpu, as, R_RCX, --n);
		if (rep_yield(cpu, n, k))
			return insn_stale(cpu, i); /* resumes here: RIP = this instruction */
	}
	return insn_next(cpu, i);
}

insn_fn io_select(const struct decode *d)
{
	struct insn *in = d->insn;
	/* No 64-bit port accesses: REX.W means 32 bits. */
	in->scale = (uint8_t)(d->osize == SZ64 ? SZ32 : d->osize);
	in->disp = d->asize;
	switch (d->op) {
	case OP_IN:
	case OP_OUT:
		if (d->form != FORM_I)
			in->disp |= IO_DX;
		return d->op == OP_IN ? io_in : io_out;
	case OP_INS:
	case OP_OUTS:
		if (d->rep)
			in->disp |= IO_REP;
		in->seg &= 7;
		return d->op == OP_INS ? io_ins : io_outs;
	default:
		return NULL;
	}
}
