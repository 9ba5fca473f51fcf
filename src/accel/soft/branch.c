/*
 * Near control transfers (SDM vol. 2: JMP, Jcc, CALL, RET, JrCXZ, LOOPcc;
 * vol. 1, 6.3). Each ends its block: during a block cpu->rip already holds
 * the address after the block's last instruction, which is the
 * fall-through and the return address; a taken branch stores its target
 * and returns NULL to the run loop, which finds the next block.
 *
 * Targets wrap to the operand size outside 64-bit mode. In 64-bit mode a
 * non-canonical target raises #GP(0) on the branch, before it changes
 * anything (relative targets are checked at decode time). Near branches in
 * 64-bit mode use a 64-bit operand size whatever the 66 prefix (the Intel
 * behaviour; AMD honours it).
 */
#include "accel/soft/blockopt.h"
#include "accel/soft/codecache.h"
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

static inline uint64_t ip_trunc(uint64_t ip, unsigned sz)
{
	return sz == SZ64 ? ip : ip & size_mask(sz);
}

/* An indirect target: #GP(0) at the branch when it is not canonical. */
static inline uint64_t target_check(struct cpu *cpu, const struct insn *i, uint64_t t)
{
	if (unlikely(!mem_canonical(t)))
		insn_raise(cpu, i, EXC_GP, 0, true);
	return t;
}

/* CALL checks its push before its target (the host's order of faults). */
static inline void call_probe(struct cpu *cpu, const struct insn *i, unsigned sz)
{
	uint64_t slot = stack_addr(cpu, cpu->gpr[R_RSP] - (1u << sz), stack_asize(cpu));
	mem_probe_write(cpu, i, slot, 1u << sz, MEM_STACK);
}

/* A relative branch whose target is not canonical: #GP(0) when taken. */
HANDLER(jrel_noncanonical)
{
	if (i->op == OP_CALL)
		call_probe(cpu, i, SZ64);
	if (i->op == OP_JMP || i->op == OP_CALL || cc_eval(cpu, i->op - OP_JO))
		insn_raise(cpu, i, EXC_GP, 0, true);
	return block_next(cpu, cpu->rip);
}

HANDLER(jmp_rel)
{
	return block_next(cpu, i->imm);
}

#define BY_SZ_DEF(M) M(SZ16) M(SZ32) M(SZ64)

#define INDIRECT_SZ(sz)                                                                            \
	HANDLER(jmp_r_##sz)                                                                        \
	{                                                                                          \
		return block_next(cpu, target_check(cpu, i, reg_get(cpu, sz, i->reg)));            \
	}                                                                                          \
	HANDLER(jmp_m_##sz)                                                                        \
	{                                                                                          \
		return block_next(cpu,                                                             \
		                  target_check(cpu, i, mem_read(cpu, i, insn_ea(cpu, i), sz)));    \
	}                                                                                          \
	HANDLER(call_rel_##sz)                                                                     \
	{                                                                                          \
		stack_push(cpu, i, sz, cpu->rip);                                                  \
		return block_next(cpu, i->imm);                                                    \
	}                                                                                          \
	HANDLER(call_r_##sz)                                                                       \
	{                                                                                          \
		uint64_t target = reg_get(cpu, sz, i->reg);                                        \
		if (unlikely(!mem_canonical(target))) {                                            \
			call_probe(cpu, i, sz);                                                    \
			target_check(cpu, i, target);                                              \
		}                                                                                  \
		stack_push(cpu, i, sz, cpu->rip);                                                  \
		return block_next(cpu, target);                                                    \
	}                                                                                          \
	HANDLER(call_m_##sz)                                                                       \
	{                                                                                          \
		uint64_t target = mem_read(cpu, i, insn_ea(cpu, i), sz);                           \
		if (unlikely(!mem_canonical(target))) {                                            \
			call_probe(cpu, i, sz);                                                    \
			target_check(cpu, i, target);                                              \
		}                                                                                  \
		stack_push(cpu, i, sz, cpu->rip);                                                  \
		return block_next(cpu, target);                                                    \
	}                                                                                          \
	HANDLER(ret_##sz)                                                                          \
	{                                                                                          \
		uint64_t target = target_check(cpu, i, ip_trunc(stack_peek(cpu, i, sz, 0), sz));   \
		stack_adjust(cpu, (1u << sz) + i->imm);                                            \
		return block_next(cpu, target);                                                    \
	}
BY_SZ_DEF(INDIRECT_SZ)

/* CALL rel32 and RET in 64-bit mode: the stack fast path inline, the rest generic. */
static __attribute__((noinline, cold)) const struct insn *call_rel_slow(struct cpu *cpu,
                                                                        const struct insn *i)
{
	return call_rel_SZ64(cpu, i);
}

static __attribute__((noinline, cold)) const struct insn *ret_slow(struct cpu *cpu,
                                                                   const struct insn *i)
{
	return ret_SZ64(cpu, i);
}

HANDLER(call_rel_l64)
{
	uint64_t sp = cpu->gpr[R_RSP] - 8, ret = cpu->rip;
	void *p = stack64_ptr(cpu, sp, true);
	if (unlikely(!p))
		return call_rel_slow(cpu, i);
	memcpy(p, &ret, 8);
	cpu->gpr[R_RSP] = sp;
	return block_next(cpu, i->imm);
}

HANDLER(ret_l64)
{
	uint64_t sp = cpu->gpr[R_RSP], target;
	const void *p = stack64_ptr(cpu, sp, false);
	if (unlikely(!p))
		return ret_slow(cpu, i);
	memcpy(&target, p, 8);
	if (unlikely(!mem_canonical(target)))
		return ret_slow(cpu, i); /* #GP(0) with nothing changed */
	cpu->gpr[R_RSP] = sp + 8 + i->imm;
	return block_next(cpu, target);
}

/* Jcc: one handler per condition, so cc_test folds to the condition's fast path. */
#define JCC(cc)                                                                                    \
	HANDLER(jcc_##cc)                                                                          \
	{                                                                                          \
		return block_next(cpu, cc_test(cpu, cc) ? i->imm : cpu->rip);                      \
	}
JCC(0)
JCC(1)
JCC(2)
JCC(3)
JCC(4) JCC(5) JCC(6) JCC(7) JCC(8) JCC(9) JCC(10) JCC(11) JCC(12) JCC(13) JCC(14) JCC(15)

    static const insn_fn jcc_fns[16] = {
        jcc_0, jcc_1, jcc_2,  jcc_3,  jcc_4,  jcc_5,  jcc_6,  jcc_7,
        jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15,
};

insn_fn branch_jcc_handler(unsigned cc)
{
	return jcc_fns[cc];
}

/* JrCXZ and LOOPcc count in CX, ECX or RCX by the address size. */
#define COUNT_SZ(asz)                                                                              \
	HANDLER(jrcxz_##asz)                                                                       \
	{                                                                                          \
		return block_next(cpu, reg_get(cpu, asz, R_RCX) == 0 ? i->imm : cpu->rip);         \
	}                                                                                          \
	HANDLER(loop_##asz)                                                                        \
	{                                                                                          \
		uint64_t c = (reg_get(cpu, asz, R_RCX) - 1) & size_mask(asz);                      \
		reg_set(cpu, asz, R_RCX, c);                                                       \
		return block_next(cpu, c != 0 ? i->imm : cpu->rip);                                \
	}                                                                                          \
	HANDLER(loope_##asz)                                                                       \
	{                                                                                          \
		uint64_t c = (reg_get(cpu, asz, R_RCX) - 1) & size_mask(asz);                      \
		reg_set(cpu, asz, R_RCX, c);                                                       \
		return block_next(cpu, (c != 0 && cc_test(cpu, CC_E)) ? i->imm : cpu->rip);        \
	}                                                                                          \
	HANDLER(loopne_##asz)                                                                      \
	{                                                                                          \
		uint64_t c = (reg_get(cpu, asz, R_RCX) - 1) & size_mask(asz);                      \
		reg_set(cpu, asz, R_RCX, c);                                                       \
		return block_next(cpu, (c != 0 && cc_test(cpu, CC_NE)) ? i->imm : cpu->rip);       \
	}
BY_SZ_DEF(COUNT_SZ)

#define BY_SZ(name)                                                                                \
	{                                                                                          \
		NULL, name##_SZ16, name##_SZ32, name##_SZ64                                        \
	}

insn_fn branch_select(const struct decode *d)
{
	static const insn_fn jmp_r[4] = BY_SZ(jmp_r), jmp_m[4] = BY_SZ(jmp_m),
	                     call_rel[4] = BY_SZ(call_rel), call_r[4] = BY_SZ(call_r),
	                     call_m[4] = BY_SZ(call_m), ret[4] = BY_SZ(ret),
	                     jrcxz[4] = BY_SZ(jrcxz), loop[4] = BY_SZ(loop),
	                     loope[4] = BY_SZ(loope), loopne[4] = BY_SZ(loopne);
	unsigned sz = d->osize;
	bool rel = d->op == OP_JMP || d->op == OP_CALL || (d->op >= OP_JO && d->op <= OP_JG);
	if (rel && !mem_canonical(d->insn->imm))
		return jrel_noncanonical;
	if (d->op >= OP_JO && d->op <= OP_JG)
		return jcc_fns[d->op - OP_JO];
	switch (d->op) {
	case OP_JMP:
		return jmp_rel;
	case OP_JMPI:
		return d->form == FORM_R ? jmp_r[sz] : jmp_m[sz];
	case OP_CALL:
		if (sz == SZ64 && d->mode == CPU_MODE_LONG64)
			return call_rel_l64;
		return call_rel[sz];
	case OP_CALLI:
		return d->form == FORM_R ? call_r[sz] : call_m[sz];
	case OP_RET: /* imm: the RET imm16 count, 0 for C3 */
		if (sz == SZ64 && d->mode == CPU_MODE_LONG64)
			return ret_l64;
		return ret[sz];
	case OP_JRCXZ:
		return jrcxz[d->asize];
	case OP_LOOP:
		return loop[d->asize];
	case OP_LOOPE:
		return loope[d->asize];
	case OP_LOOPNE:
		return loopne[d->asize];
	default:
		return NULL;
	}
}
