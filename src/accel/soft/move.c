/*
 * Data movement (SDM vol. 2: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, CBW/
 * CWDE/CDQE, CWD/CDQ/CQO, CMOVcc, SETcc). None of them reads or writes
 * the arithmetic flags except CMOVcc/SETcc, which read them (flags.h).
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

#define EACH_SZ(M, name) M(name, SZ8) M(name, SZ16) M(name, SZ32) M(name, SZ64)
#define FNS(name, f)                                                                               \
	{                                                                                          \
		name##_##f##_SZ8, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64          \
	}

/* ---- MOV ---- */

#define MOV_SZ(name, sz)                                                                           \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->base));                               \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm_##sz)                                                                    \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, mem_read(cpu, i, insn_ea(cpu, i), sz));                   \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mr_##sz)                                                                    \
	{                                                                                          \
		mem_write(cpu, i, insn_ea(cpu, i), sz, reg_get(cpu, sz, i->reg));                  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_ri_##sz)                                                                    \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, i->imm);                                                  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mi_##sz)                                                                    \
	{                                                                                          \
		mem_write(cpu, i, insn_ea(cpu, i), sz, i->imm);                                    \
		return insn_next(cpu, i);                                                          \
	}

EACH_SZ(MOV_SZ, mov)

static const insn_fn mov_fns[FORM_COUNT][4] = {
    [FORM_RR] = FNS(mov, rr), [FORM_RM] = FNS(mov, rm), [FORM_MR] = FNS(mov, mr),
    [FORM_RI] = FNS(mov, ri), [FORM_MI] = FNS(mov, mi),
};

/* ---- MOVZX, MOVSX, MOVSXD: (extension, source size) x destination size x form ---- */

_Static_assert(OP_MOVSXD - OP_MOVZXB == 4, "ops.def order");

static inline __attribute__((always_inline)) uint64_t extend(uint64_t v, unsigned from, bool sx)
{
	return sx ? (uint64_t)size_sext(v, from) : v & size_mask(from);
}

#define MOVX_SZ(name, from, sx, sz)                                                                \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, extend(reg_get(cpu, from, i->base), from, sx));           \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm_##sz)                                                                    \
	{                                                                                          \
		uint64_t v = mem_read(cpu, i, insn_ea(cpu, i), from);                              \
		reg_set(cpu, sz, i->reg, extend(v, from, sx));                                     \
		return insn_next(cpu, i);                                                          \
	}
#define MOVX(name, from, sx)                                                                       \
	MOVX_SZ(name, from, sx, SZ16) MOVX_SZ(name, from, sx, SZ32) MOVX_SZ(name, from, sx, SZ64)

MOVX(movzxb, SZ8, false)
MOVX(movzxw, SZ16, false)
MOVX(movsxb, SZ8, true)
MOVX(movsxw, SZ16, true)
MOVX(movsxd, SZ32, true)

#define MOVX_ROW(name)                                                                             \
	{                                                                                          \
		{NULL, name##_rr_SZ16, name##_rr_SZ32, name##_rr_SZ64},                            \
		{                                                                                  \
			NULL, name##_rm_SZ16, name##_rm_SZ32, name##_rm_SZ64                       \
		}                                                                                  \
	}

static const insn_fn movx_fns[5][2][4] = {
    MOVX_ROW(movzxb), MOVX_ROW(movzxw), MOVX_ROW(movsxb), MOVX_ROW(movsxw), MOVX_ROW(movsxd),
};

/* ---- LEA: the offset part of the address, truncated to the operand size ---- */

#define LEA_SZ(name, sz)                                                                           \
	HANDLER(name##_##sz)                                                                       \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, insn_ea_offset(cpu, i));                                  \
		return insn_next(cpu, i);                                                          \
	}
LEA_SZ(lea, SZ16)
LEA_SZ(lea, SZ32)
LEA_SZ(lea, SZ64)

/* ---- CBW/CWDE/CDQE and CWD/CDQ/CQO ---- */

HANDLER(cbw_SZ16)
{
	reg_set(cpu, SZ16, R_RAX, (uint64_t)(int64_t)(int8_t)cpu->gpr[R_RAX]);
	return insn_next(cpu, i);
}
HANDLER(cbw_SZ32)
{
	reg_set(cpu, SZ32, R_RAX, (uint64_t)(int64_t)(int16_t)cpu->gpr[R_RAX]);
	return insn_next(cpu, i);
}
HANDLER(cbw_SZ64)
{
	cpu->gpr[R_RAX] = (uint64_t)(int64_t)(int32_t)cpu->gpr[R_RAX];
	return insn_next(cpu, i);
}

#define CWD_SZ(sz)                                                                                 \
	HANDLER(cwd_##sz)                                                                          \
	{                                                                                          \
		uint64_t sign = size_sext(cpu->gpr[R_RAX], sz) < 0 ? ~0ULL : 0;                    \
		reg_set(cpu, sz, R_RDX, sign);                                                     \
		return insn_next(cpu, i);                                                          \
	}
CWD_SZ(SZ16)
CWD_SZ(SZ32)
CWD_SZ(SZ64)

/* ---- XCHG (with memory: implicitly locked) ---- */

#define XCHG_SZ(name, sz)                                                                          \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		uint64_t a = reg_get(cpu, sz, i->reg), b = reg_get(cpu, sz, i->base);              \
		reg_set(cpu, sz, i->base, a);                                                      \
		reg_set(cpu, sz, i->reg, b);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_mr_##sz)                                                                    \
	{                                                                                          \
		uint64_t a = insn_ea(cpu, i), v = reg_get(cpu, sz, i->reg), old;                   \
		void *p = mem_lock_ptr(cpu, i, a, 1u << sz);                                       \
		if (p) {                                                                           \
			switch (sz) {                                                              \
			case SZ8:                                                                  \
				old = __atomic_exchange_n((uint8_t *)p, (uint8_t)v,                \
				                          __ATOMIC_SEQ_CST);                       \
				break;                                                             \
			case SZ16:                                                                 \
				old = __atomic_exchange_n((uint16_t *)p, (uint16_t)v,              \
				                          __ATOMIC_SEQ_CST);                       \
				break;                                                             \
			case SZ32:                                                                 \
				old = __atomic_exchange_n((uint32_t *)p, (uint32_t)v,              \
				                          __ATOMIC_SEQ_CST);                       \
				break;                                                             \
			default:                                                                   \
				old = __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST);     \
			}                                                                          \
		} else {                                                                           \
			old = mem_rmw_read(cpu, i, a, sz);                                         \
			mem_write(cpu, i, a, sz, v);                                               \
		}                                                                                  \
		reg_set(cpu, sz, i->reg, old);                                                     \
		return insn_next(cpu, i);                                                          \
	}

EACH_SZ(XCHG_SZ, xchg)

/* ---- CMOVcc (the source is read even when the condition is false) and SETcc ---- */

#define CMOV_CC_SZ(cc, sz)                                                                         \
	HANDLER(cmov##cc##_rr_##sz)                                                                \
	{                                                                                          \
		uint64_t v = reg_get(cpu, sz, i->base);                                            \
		reg_set(cpu, sz, i->reg, cc_test(cpu, cc) ? v : reg_get(cpu, sz, i->reg));         \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(cmov##cc##_rm_##sz)                                                                \
	{                                                                                          \
		uint64_t v = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		reg_set(cpu, sz, i->reg, cc_test(cpu, cc) ? v : reg_get(cpu, sz, i->reg));         \
		return insn_next(cpu, i);                                                          \
	}
#define SETCC(cc)                                                                                  \
	HANDLER(set##cc##_r)                                                                       \
	{                                                                                          \
		set_reg8(cpu, i->reg, cc_test(cpu, cc));                                           \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(set##cc##_m)                                                                       \
	{                                                                                          \
		mem_write8(cpu, i, insn_ea(cpu, i), cc_test(cpu, cc));                             \
		return insn_next(cpu, i);                                                          \
	}
#define CC_ALL(cc) CMOV_CC_SZ(cc, SZ16) CMOV_CC_SZ(cc, SZ32) CMOV_CC_SZ(cc, SZ64) SETCC(cc)

CC_ALL(0)
CC_ALL(1) CC_ALL(2) CC_ALL(3) CC_ALL(4) CC_ALL(5) CC_ALL(6) CC_ALL(7) CC_ALL(8) CC_ALL(9) CC_ALL(10)
    CC_ALL(11) CC_ALL(12) CC_ALL(13) CC_ALL(14) CC_ALL(15)

#define CMOV_ROW(cc)                                                                               \
	{                                                                                          \
		{NULL, cmov##cc##_rr_SZ16, cmov##cc##_rr_SZ32, cmov##cc##_rr_SZ64},                \
		{                                                                                  \
			NULL, cmov##cc##_rm_SZ16, cmov##cc##_rm_SZ32, cmov##cc##_rm_SZ64           \
		}                                                                                  \
	}
        static const insn_fn cmov_fns[16][2][4] = {
            CMOV_ROW(0),  CMOV_ROW(1),  CMOV_ROW(2),  CMOV_ROW(3),  CMOV_ROW(4),  CMOV_ROW(5),
            CMOV_ROW(6),  CMOV_ROW(7),  CMOV_ROW(8),  CMOV_ROW(9),  CMOV_ROW(10), CMOV_ROW(11),
            CMOV_ROW(12), CMOV_ROW(13), CMOV_ROW(14), CMOV_ROW(15),
};
#define SET_ROW(cc)                                                                                \
	{                                                                                          \
		set##cc##_r, set##cc##_m                                                           \
	}
static const insn_fn set_fns[16][2] = {
    SET_ROW(0),  SET_ROW(1),  SET_ROW(2),  SET_ROW(3),  SET_ROW(4),  SET_ROW(5),
    SET_ROW(6),  SET_ROW(7),  SET_ROW(8),  SET_ROW(9),  SET_ROW(10), SET_ROW(11),
    SET_ROW(12), SET_ROW(13), SET_ROW(14), SET_ROW(15),
};

insn_fn move_select(const struct decode *d)
{
	unsigned sz = d->osize;
	bool mem = d->form == FORM_RM;
	switch (d->op) {
	case OP_MOV:
		return mov_fns[d->form][sz];
	case OP_MOVZXB:
	case OP_MOVZXW:
	case OP_MOVSXB:
	case OP_MOVSXW:
	case OP_MOVSXD:
		/* MOVSXD r16/r32 is a MOV, except that the AMD host reads 32 bits from
		 * memory for r16 too (a fault in bytes 2-3 counts): movsxd_rm_SZ16. */
		if (d->op == OP_MOVSXD && sz == SZ32)
			return mem ? mov_fns[FORM_RM][sz] : mov_fns[FORM_RR][sz];
		if (d->op == OP_MOVSXD && sz == SZ16 && !mem)
			return mov_fns[FORM_RR][sz];
		return movx_fns[d->op - OP_MOVZXB][mem][sz];
	case OP_LEA:
		return sz == SZ16 ? lea_SZ16 : sz == SZ32 ? lea_SZ32 : lea_SZ64;
	case OP_CBW:
		return sz == SZ16 ? cbw_SZ16 : sz == SZ32 ? cbw_SZ32 : cbw_SZ64;
	case OP_CWD:
		return sz == SZ16 ? cwd_SZ16 : sz == SZ32 ? cwd_SZ32 : cwd_SZ64;
	case OP_XCHG: {
		static const insn_fn rr[4] = FNS(xchg, rr), mr[4] = FNS(xchg, mr);
		return d->form == FORM_RR ? rr[sz] : mr[sz];
	}
	default:
		break;
	}
	if (d->op >= OP_CMOVO && d->op <= OP_CMOVG)
		return cmov_fns[d->op - OP_CMOVO][mem][sz];
	if (d->op >= OP_SETO && d->op <= OP_SETG)
		return set_fns[d->op - OP_SETO][d->form == FORM_M];
	return NULL;
}
