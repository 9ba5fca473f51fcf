/*
 * Stack instructions (SDM vol. 2: PUSH, POP, PUSHF, POPF, LEAVE, ENTER;
 * vol. 1, 6.2-6.5). Each one does every access that can fault before it
 * changes RSP, so a fault leaves the registers as they were.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

#define PUSHPOP_SZ(sz)                                                                             \
	HANDLER(push_r_##sz)                                                                       \
	{                                                                                          \
		stack_push(cpu, i, sz, reg_get(cpu, sz, i->reg));                                  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(push_m_##sz)                                                                       \
	{                                                                                          \
		stack_push(cpu, i, sz, mem_read(cpu, i, insn_ea(cpu, i), sz));                     \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(push_i_##sz)                                                                       \
	{                                                                                          \
		stack_push(cpu, i, sz, i->imm);                                                    \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(pop_r_##sz)                                                                        \
	{                                                                                          \
		uint64_t v = stack_peek(cpu, i, sz, 0);                                            \
		stack_adjust(cpu, 1u << sz); /* POP RSP: the popped value wins */                  \
		reg_set(cpu, sz, i->reg, v);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(pop_m_##sz)                                                                        \
	{                                                                                          \
		uint64_t v = stack_peek(cpu, i, sz, 0), rsp = cpu->gpr[R_RSP];                     \
		/* The address is computed with RSP already incremented (SDM POP). */              \
		stack_adjust(cpu, 1u << sz);                                                       \
		uint64_t a = insn_ea(cpu, i);                                                      \
		cpu->gpr[R_RSP] = rsp;                                                             \
		mem_write(cpu, i, a, sz, v);                                                       \
		stack_adjust(cpu, 1u << sz);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(pushsr_##sz)                                                                       \
	{                                                                                          \
		stack_push(cpu, i, sz, cpu->seg[i->reg].selector);                                 \
		return insn_next(cpu, i);                                                          \
	}

PUSHPOP_SZ(SZ16)
PUSHPOP_SZ(SZ32)
PUSHPOP_SZ(SZ64)

/* PUSHF: the image has VM and RF clear (vol. 2, PUSHF). */
#define PUSHF_SZ(sz)                                                                               \
	HANDLER(pushf_##sz)                                                                        \
	{                                                                                          \
		uint64_t f = cpu_get_rflags(cpu) & ~(uint64_t)(FLAG_VM | FLAG_RF);                 \
		stack_push(cpu, i, sz, f);                                                         \
		return insn_next(cpu, i);                                                          \
	}

/*
 * POPF outside virtual-8086 mode: IOPL changes only at CPL 0, IF only when
 * CPL <= IOPL, VM/VIF/VIP never, RF is cleared; a 16-bit POPF keeps the
 * upper half.
 */
#define POPF_SZ(sz)                                                                                \
	HANDLER(popf_##sz)                                                                         \
	{                                                                                          \
		uint64_t v = stack_peek(cpu, i, sz, 0);                                            \
		uint64_t mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;     \
		if (cpu->cpl == 0)                                                                 \
			mask |= FLAG_IOPL;                                                         \
		if (cpu->cpl <= ((cpu->rflags & FLAG_IOPL) >> 12))                                 \
			mask |= FLAG_IF;                                                           \
		if (sz == SZ16)                                                                    \
			mask &= 0xffff;                                                            \
		stack_adjust(cpu, 1u << sz);                                                       \
		uint64_t f = (cpu->rflags & ~mask) | (v & mask);                                   \
		cpu_set_rflags(cpu, f & ~(uint64_t)FLAG_RF);                                       \
		return insn_next(cpu, i);                                                          \
	}

PUSHF_SZ(SZ16)
PUSHF_SZ(SZ64)
POPF_SZ(SZ16)
POPF_SZ(SZ64)
PUSHF_SZ(SZ32)
POPF_SZ(SZ32)

/* LEAVE: RSP = RBP, then POP RBP; the read comes first. */
#define LEAVE_SZ(sz)                                                                               \
	HANDLER(leave_##sz)                                                                        \
	{                                                                                          \
		unsigned ssz = stack_asize(cpu);                                                   \
		uint64_t v = mem_read_slow(cpu, i, stack_addr(cpu, cpu->gpr[R_RBP], ssz),          \
		                           1u << sz, CPU_ACCESS_READ | MEM_STACK);                 \
		stack_set_sp(cpu, cpu->gpr[R_RBP] + (1u << sz), ssz);                              \
		reg_set(cpu, sz, R_RBP, v);                                                        \
		return insn_next(cpu, i);                                                          \
	}
LEAVE_SZ(SZ16)
LEAVE_SZ(SZ32)
LEAVE_SZ(SZ64)

/*
 * ENTER size, level (vol. 2, ENTER): push RBP, copy level-1 frame pointers
 * from the old frame, push the new frame pointer, allocate size bytes.
 * Registers change only once every write has succeeded; then, as on the
 * host CPU, the final stack pointer is probed for a write.
 */
static const struct insn *enter(struct cpu *cpu, const struct insn *i, unsigned sz)
{
	unsigned ssz = stack_asize(cpu), n = 1u << sz;
	unsigned alloc = i->imm & 0xffff, level = (i->imm >> 16) & 31;
	uint64_t sp = cpu->gpr[R_RSP] - n, bp = cpu->gpr[R_RBP];
	mem_write_slow(cpu, i, stack_addr(cpu, sp, ssz), n, reg_get(cpu, sz, R_RBP),
	               CPU_ACCESS_WRITE | MEM_STACK);
	uint64_t frame = sp;
	if (level > 0) {
		for (unsigned k = 1; k < level; k++) {
			bp -= n;
			uint64_t v = mem_read_slow(cpu, i, stack_addr(cpu, bp, ssz), n,
			                           CPU_ACCESS_READ | MEM_STACK);
			sp -= n;
			mem_write_slow(cpu, i, stack_addr(cpu, sp, ssz), n, v,
			               CPU_ACCESS_WRITE | MEM_STACK);
		}
		sp -= n;
		mem_write_slow(cpu, i, stack_addr(cpu, sp, ssz), n, frame,
		               CPU_ACCESS_WRITE | MEM_STACK);
	}
	/* Like the host CPU, check that the final stack pointer is writable last. */
	mem_probe_write(cpu, i, stack_addr(cpu, sp - alloc, ssz), 1, MEM_STACK);
	reg_set(cpu, ssz == SZ16 ? SZ16 : sz, R_RBP, frame);
	stack_set_sp(cpu, sp - alloc, ssz);
	return insn_next(cpu, i);
}

HANDLER(enter_SZ16)
{
	return enter(cpu, i, SZ16);
}
HANDLER(enter_SZ32)
{
	return enter(cpu, i, SZ32);
}
HANDLER(enter_SZ64)
{
	return enter(cpu, i, SZ64);
}

#define BY_SZ(name)                                                                                \
	{                                                                                          \
		NULL, name##_SZ16, name##_SZ32, name##_SZ64                                        \
	}

/* The segment register of PUSH ES/CS/SS/DS (06/0E/16/1E) and PUSH FS/GS (0F A0/A8). */
static unsigned pushsr_seg(const struct decode *d)
{
	if (d->map == MAP_0F)
		return d->opcode == 0xa0 ? S_FS : S_GS;
	return d->opcode >> 3;
}

/* PUSH r64 / POP r64 in 64-bit mode: the fast path inline, the rest in the generic handler. */
static __attribute__((noinline, cold)) const struct insn *push_r_slow(struct cpu *cpu,
                                                                      const struct insn *i)
{
	return push_r_SZ64(cpu, i);
}

static __attribute__((noinline, cold)) const struct insn *pop_r_slow(struct cpu *cpu,
                                                                     const struct insn *i)
{
	return pop_r_SZ64(cpu, i);
}

HANDLER(push_r_l64)
{
	uint64_t sp = cpu->gpr[R_RSP] - 8, v = cpu->gpr[i->reg]; /* PUSH RSP: the old value */
	void *p = stack64_ptr(cpu, sp, true);
	if (unlikely(!p))
		return push_r_slow(cpu, i);
	memcpy(p, &v, 8);
	cpu->gpr[R_RSP] = sp;
	return insn_next(cpu, i);
}

HANDLER(pop_r_l64)
{
	uint64_t sp = cpu->gpr[R_RSP], v;
	const void *p = stack64_ptr(cpu, sp, false);
	if (unlikely(!p))
		return pop_r_slow(cpu, i);
	memcpy(&v, p, 8);
	cpu->gpr[R_RSP] = sp + 8;
	cpu->gpr[i->reg] = v; /* POP RSP: the popped value wins */
	return insn_next(cpu, i);
}

insn_fn stack_select(const struct decode *d)
{
	static const insn_fn push_r[4] = BY_SZ(push_r), push_m[4] = BY_SZ(push_m),
	                     push_i[4] = BY_SZ(push_i), pop_r[4] = BY_SZ(pop_r),
	                     pop_m[4] = BY_SZ(pop_m), pushsr[4] = BY_SZ(pushsr),
	                     pushf[4] = BY_SZ(pushf), popf[4] = BY_SZ(popf),
	                     leave[4] = BY_SZ(leave), enter_fns[4] = BY_SZ(enter);
	unsigned sz = d->osize;
	switch (d->op) {
	case OP_PUSH:
		if (d->form == FORM_R && sz == SZ64 && d->mode == CPU_MODE_LONG64)
			return push_r_l64;
		return d->form == FORM_R ? push_r[sz] : d->form == FORM_M ? push_m[sz] : push_i[sz];
	case OP_POP:
		if (d->form == FORM_R && sz == SZ64 && d->mode == CPU_MODE_LONG64)
			return pop_r_l64;
		return d->form == FORM_R ? pop_r[sz] : pop_m[sz];
	case OP_PUSHSR:
		d->insn->reg = (uint8_t)pushsr_seg(d);
		return pushsr[sz];
	case OP_PUSHF:
		return pushf[sz];
	case OP_POPF:
		return popf[sz];
	case OP_LEAVE:
		return leave[sz];
	case OP_ENTER:
		return enter_fns[sz];
	default:
		return NULL;
	}
}
