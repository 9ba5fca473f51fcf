/*
 * Segment register moves and the legacy stack forms (SDM vol. 2: MOV to and
 * from a segment register, POP Sreg, LDS/LES/LFS/LGS/LSS, PUSHA/POPA). The
 * descriptor checks are seg.c's (seg_load). MOV SS and POP SS block
 * interrupts until the next instruction has completed (vol. 3, 6.8.3):
 * they end their block and arm the interrupt shadow (cpu.c).
 */
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sys.h"

/* The segment register of these forms is in imm (set by segld_select). */

/* MOV r/m, Sreg: a register gets the selector zero-extended (16-bit: merged), memory 16 bits. */
HANDLER(mov_from_sr_r)
{
	reg_set(cpu, i->scale, i->reg, cpu->seg[i->imm].selector);
	return insn_next(cpu, i);
}

HANDLER(mov_from_sr_m)
{
	mem_write16(cpu, i, insn_ea(cpu, i), cpu->seg[i->imm].selector);
	return insn_next(cpu, i);
}

static void ss_shadow(struct cpu *cpu, unsigned s)
{
	if (s == S_SS) {
		cpu->int_shadow = true;
		cpu->shadow_rip = cpu->rip; /* these end their block: rip is the next instruction */
	}
}

HANDLER(mov_to_sr_r)
{
	seg_load(cpu, i, (unsigned)i->imm, (uint16_t)cpu->gpr[i->base]);
	ss_shadow(cpu, (unsigned)i->imm);
	return insn_next(cpu, i);
}

HANDLER(mov_to_sr_m)
{
	seg_load(cpu, i, (unsigned)i->imm, mem_read16(cpu, i, insn_ea(cpu, i)));
	ss_shadow(cpu, (unsigned)i->imm);
	return insn_next(cpu, i);
}

/* POP Sreg: the load (which may fault) comes before RSP moves. Operand size in scale. */
HANDLER(pop_sr)
{
	uint16_t sel = (uint16_t)stack_peek(cpu, i, i->scale, 0);
	seg_load(cpu, i, (unsigned)i->imm, sel);
	stack_adjust(cpu, 1u << i->scale);
	ss_shadow(cpu, (unsigned)i->imm);
	return insn_next(cpu, i);
}

/* LDS/LES/LSS/LFS/LGS r, m16:16/32/64: offset, then the selector; the segment first. */
#define LXS_SZ(sz)                                                                                 \
	HANDLER(lxs_##sz)                                                                          \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i);                                                      \
		uint64_t off = mem_read(cpu, i, a, sz);                                            \
		uint16_t sel = mem_read16(cpu, i, a + (1u << sz));                                 \
		seg_load(cpu, i, (unsigned)i->imm, sel);                                           \
		reg_set(cpu, sz, i->reg, off);                                                     \
		return insn_next(cpu, i);                                                          \
	}
LXS_SZ(SZ16)
LXS_SZ(SZ32)
LXS_SZ(SZ64)

/* PUSHA/PUSHAD: AX CX DX BX, the original SP, BP SI DI; every write before SP moves. */
#define PUSHA_SZ(sz)                                                                               \
	HANDLER(pusha_##sz)                                                                        \
	{                                                                                          \
		unsigned ssz = stack_asize(cpu), n = 1u << sz;                                     \
		uint64_t sp = cpu->gpr[R_RSP];                                                     \
		for (unsigned r = R_RAX; r <= R_RDI; r++) {                                        \
			sp -= n;                                                                   \
			mem_write_slow(cpu, i, stack_addr(cpu, sp, ssz), n, cpu->gpr[r],           \
			               CPU_ACCESS_WRITE | MEM_STACK);                              \
		}                                                                                  \
		stack_set_sp(cpu, sp, ssz);                                                        \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(popa_##sz)                                                                         \
	{                                                                                          \
		unsigned n = 1u << sz;                                                             \
		uint64_t v[8];                                                                     \
		for (unsigned k = 0; k < 8; k++)                                                   \
			v[k] = stack_peek(cpu, i, sz, k * n);                                      \
		for (unsigned k = 0; k < 8; k++)                                                   \
			if (R_RDI - k != R_RSP)                                                    \
				reg_set(cpu, sz, R_RDI - k, v[k]);                                 \
		stack_adjust(cpu, 8 * n);                                                          \
		return insn_next(cpu, i);                                                          \
	}
PUSHA_SZ(SZ16)
PUSHA_SZ(SZ32)

/* POP ES/SS/DS (07 17 1F) and POP FS/GS (0F A1/A9). */
static unsigned popsr_seg(const struct decode *d)
{
	if (d->map == MAP_0F)
		return d->opcode == 0xa1 ? S_FS : S_GS;
	return d->opcode >> 3;
}

insn_fn segld_select(const struct decode *d)
{
	struct insn *in = d->insn;
	unsigned sreg = (d->modrm >> 3) & 7;
	bool mem = d->form == FORM_MR || d->form == FORM_RM || d->form == FORM_M;
	static const insn_fn lxs[4] = {NULL, lxs_SZ16, lxs_SZ32, lxs_SZ64};
	switch (d->op) {
	case OP_MOVSR:
		if (sreg > S_GS)
			return NULL;
		in->imm = sreg;
		if (mem)
			return mov_from_sr_m;
		in->scale = d->osize;
		return mov_from_sr_r;
	case OP_MOVTOSR:
		if (sreg > S_GS || sreg == S_CS)
			return NULL;
		in->imm = sreg;
		return mem ? mov_to_sr_m : mov_to_sr_r;
	case OP_POPSR:
		in->imm = popsr_seg(d);
		in->scale = d->osize;
		return pop_sr;
	case OP_LES:
	case OP_LDS:
	case OP_LSS:
	case OP_LFS:
	case OP_LGS: {
		static const uint8_t seg_of[] = {[OP_LES - OP_LES] = S_ES,
		                                 [OP_LDS - OP_LES] = S_DS,
		                                 [OP_LSS - OP_LES] = S_SS,
		                                 [OP_LFS - OP_LES] = S_FS,
		                                 [OP_LGS - OP_LES] = S_GS};
		in->imm = seg_of[d->op - OP_LES];
		return lxs[d->osize];
	}
	case OP_PUSHA:
		return d->osize == SZ16 ? pusha_SZ16 : pusha_SZ32;
	case OP_POPA:
		return d->osize == SZ16 ? popa_SZ16 : popa_SZ32;
	default:
		return NULL;
	}
}
