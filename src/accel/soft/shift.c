/*
 * Shifts and rotates (SDM vol. 2: "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
 * "SHLD", "SHRD"; vol. 1, 7.3.6 and 7.3.6.3), every operand size, register
 * and memory forms, counts of 1 (D0/D1), CL (D2/D3, 0F A5/AD) and imm8
 * (C0/C1, 0F A4/AC).
 *
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count
 * of 0 changes no flag. RCL/RCR of 8/16-bit operands rotate through CF
 * modulo 9/17. OF is defined for a count of 1 only; we compute the count-1
 * formula for every count. Shifts keep their flags lazy (LF_SHIFT: ZF, SF,
 * PF from the result); rotates change CF and OF only, and stay lazy too
 * (LF_ROT keeps the previous result for ZF, SF and PF).
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

/* Group-2 operations in ModRM.reg order: ops.def lists OP_ROL..OP_SAR the same way. */
enum { K_ROL, K_ROR, K_RCL, K_RCR, K_SHL, K_SHR, K_SAL, K_SAR, K_COUNT };
_Static_assert(OP_SAR - OP_ROL == K_SAR && OP_SHL - OP_ROL == K_SHL, "ops.def order");

/* Where the count comes from. */
enum { CNT_1, CNT_CL, CNT_IMM };

#define BITS(sz) (8u << (sz))

static inline __attribute__((always_inline)) unsigned count_mask(unsigned sz)
{
	return sz == SZ64 ? 63 : 31;
}

/* The masked count; CNT_1 and CNT_IMM handlers are only chosen for a non-zero one. */
static inline __attribute__((always_inline)) unsigned
shift_count(const struct cpu *cpu, const struct insn *i, unsigned src, unsigned sz)
{
	if (src == CNT_1)
		return 1;
	if (src == CNT_IMM)
		return (unsigned)i->imm & count_mask(sz);
	return (unsigned)cpu->gpr[R_RCX] & count_mask(sz);
}

/* x << n and x >> n for n up to 64 (64 gives 0), without undefined behaviour. */
static inline __attribute__((always_inline)) uint64_t shl64(uint64_t x, unsigned n)
{
	return n >= 64 ? 0 : x << n;
}

static inline __attribute__((always_inline)) uint64_t shr64(uint64_t x, unsigned n)
{
	return n >= 64 ? 0 : x >> n;
}

/*
 * A rotate's flags: CF and OF change, the rest stay. Without evaluating the
 * previous lazy op: LF_ROT keeps its result and size (ZF, SF, PF) and AF.
 */
static inline __attribute__((always_inline)) void set_cf_of(struct cpu *cpu, unsigned cf,
                                                            unsigned of)
{
	struct cpu_lazy_flags *lf = &cpu->lf;
	if (lf->op == LF_NONE) {
		cpu->rflags = (cpu->rflags & ~(uint64_t)(FLAG_CF | FLAG_OF)) | (cf ? FLAG_CF : 0) |
		              (of ? FLAG_OF : 0);
		return;
	}
	lf->src1 = lf_af(cpu);
	lf->src2 = of;
	lf->cf_in = cf;
	lf->op = LF_OP(LF_ROT, LF_SIZE(lf->op));
}

/* ROL or ROR of a (sz bits) by a masked count c: the result, CF and OF. */
static inline __attribute__((always_inline)) uint64_t rotate(unsigned k, unsigned sz, uint64_t a,
                                                             unsigned c, unsigned *cf, unsigned *of)
{
	const unsigned w = BITS(sz), n = c & (w - 1);
	const uint64_t m = size_mask(sz);
	uint64_t r;
	if (k == K_ROL) {
		r = n ? ((a << n) | (a >> (w - n))) & m : a;
		*cf = r & 1;
		*of = (((r >> (w - 1)) & 1) ^ *cf);
	} else {
		r = n ? ((a >> n) | (a << (w - n))) & m : a;
		*cf = (r >> (w - 1)) & 1;
		*of = ((r >> (w - 1)) ^ (r >> (w - 2))) & 1;
	}
	return r;
}

/* Operation k on a (zero-extended, sz bits) by a masked count c != 0; sets the flags. */
static inline __attribute__((always_inline)) uint64_t shift_op(struct cpu *cpu, unsigned k,
                                                               unsigned sz, uint64_t a, unsigned c)
{
	const unsigned w = BITS(sz);
	const uint64_t m = size_mask(sz);
	uint64_t r, t;
	unsigned cf, n;

	switch (k) {
	case K_SHL:
	case K_SAL:
		t = a << (c - 1); /* c - 1 <= 62: the last bit out is bit w - 1 of t */
		cf = (t >> (w - 1)) & 1;
		r = (t << 1) & m;
		lf_set_c(cpu, LF_SHIFT, sz, r, a, c, cf);
		return r;
	case K_SHR:
		t = a >> (c - 1);
		cf = t & 1;
		r = t >> 1;
		lf_set_c(cpu, LF_SHIFT, sz, r, a, c, cf);
		return r;
	case K_SAR:
		t = (uint64_t)(size_sext(a, sz) >> (c - 1));
		cf = t & 1;
		r = (uint64_t)((int64_t)t >> 1) & m;
		lf_set_c(cpu, LF_SHIFT, sz, r, a, c, cf);
		return r;
	case K_ROL:
	case K_ROR:
		r = rotate(k, sz, a, c, &cf, &n);
		set_cf_of(cpu, cf, n);
		return r;
	case K_RCL:
		n = sz == SZ8 ? c % 9 : sz == SZ16 ? c % 17 : c;
		cf = lf_cf(cpu);
		if (n) {
			r = (shl64(a, n) | (uint64_t)cf << (n - 1) | shr64(a, w + 1 - n)) & m;
			cf = (a >> (w - n)) & 1;
		} else {
			r = a;
		}
		set_cf_of(cpu, cf, ((r >> (w - 1)) & 1) ^ cf);
		return r;
	default: /* K_RCR */
		n = sz == SZ8 ? c % 9 : sz == SZ16 ? c % 17 : c;
		cf = lf_cf(cpu);
		if (n) {
			r = (shr64(a, n) | (uint64_t)cf << (w - n) | shl64(a, w + 1 - n)) & m;
			cf = (a >> (n - 1)) & 1;
		} else {
			r = a;
		}
		set_cf_of(cpu, cf, ((r >> (w - 1)) ^ (r >> (w - 2))) & 1);
		return r;
	}
}

/*
 * Handlers per (operation, count source, form, size). A masked count of 0
 * changes neither flags nor value, but the destination is still written
 * (a 32-bit register is zero-extended, a memory operand must be writable).
 */
#define SH_SZ(k, name, src, sn, sz)                                                                \
	HANDLER(name##_r##sn##_##sz)                                                               \
	{                                                                                          \
		unsigned c = shift_count(cpu, i, src, sz);                                         \
		uint64_t a = reg_get(cpu, sz, i->reg);                                             \
		if (src != CNT_CL || likely(c))                                                    \
			a = shift_op(cpu, k, sz, a, c);                                            \
		reg_set(cpu, sz, i->reg, a);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_m##sn##_##sz)                                                               \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i);                                                     \
		uint64_t a = mem_rmw_read(cpu, i, ea, sz);                                         \
		unsigned c = shift_count(cpu, i, src, sz);                                         \
		if (src != CNT_CL || likely(c))                                                    \
			a = shift_op(cpu, k, sz, a, c);                                            \
		mem_write(cpu, i, ea, sz, a);                                                      \
		return insn_next(cpu, i);                                                          \
	}

#define EACH_SZ(M, k, name, src, sn)                                                               \
	M(k, name, src, sn, SZ8)                                                                   \
	M(k, name, src, sn, SZ16) M(k, name, src, sn, SZ32) M(k, name, src, sn, SZ64)
#define SH_OP(k, name)                                                                             \
	EACH_SZ(SH_SZ, k, name, CNT_1, 1)                                                          \
	EACH_SZ(SH_SZ, k, name, CNT_CL, c) EACH_SZ(SH_SZ, k, name, CNT_IMM, i)

SH_OP(K_ROL, rol)
SH_OP(K_ROR, ror)
SH_OP(K_RCL, rcl)
SH_OP(K_RCR, rcr)
SH_OP(K_SHL, shl)
SH_OP(K_SHR, shr)
SH_OP(K_SAR, sar)

/*
 * ROL/ROR r, imm8 or 1 when the lazy flags are an ADD/ADC/SUB/SBB's (MD5,
 * hashes: add, rotate, add): AF is bit 4 of src1 ^ src2 ^ res, and LF_ROT
 * reads AF from bit 4 of src1, so the rotate folds it in without the
 * switch of lf_af. Any other kind tail-calls the general handler, so the
 * fast path needs no stack frame.
 */
#define ROTF_SZ(k, name, src, sn, sz)                                                              \
	HANDLER(name##f_r##sn##_##sz)                                                              \
	{                                                                                          \
		struct cpu_lazy_flags *lf = &cpu->lf;                                              \
		if (unlikely(LF_KIND(lf->op) - LF_ADD > LF_SBB - LF_ADD))                          \
			return name##_r##sn##_##sz(cpu, i);                                        \
		unsigned cf, of;                                                                   \
		uint64_t r = rotate(k, sz, reg_get(cpu, sz, i->reg), shift_count(cpu, i, src, sz), \
		                    &cf, &of);                                                     \
		lf->src1 ^= lf->src2 ^ lf->res;                                                    \
		lf->src2 = of;                                                                     \
		lf->cf_in = cf;                                                                    \
		lf->op = LF_OP(LF_ROT, LF_SIZE(lf->op));                                           \
		reg_set(cpu, sz, i->reg, r);                                                       \
		return insn_next(cpu, i);                                                          \
	}
_Static_assert(FLAG_AF == 0x10 && LF_ADC == LF_ADD + 1 && LF_SUB == LF_ADD + 2 &&
                   LF_SBB == LF_ADD + 3,
               "AF is bit 4; the add/sub kinds are adjacent");
#define ROTF(k, name)                                                                              \
	ROTF_SZ(k, name, CNT_1, 1, SZ32)                                                           \
	ROTF_SZ(k, name, CNT_1, 1, SZ64)                                                           \
	ROTF_SZ(k, name, CNT_IMM, i, SZ32) ROTF_SZ(k, name, CNT_IMM, i, SZ64)
ROTF(K_ROL, rol)
ROTF(K_ROR, ror)
/* [ROR][count 1, imm8][SZ32, SZ64] */
static const insn_fn rotf_fns[2][2][2] = {
    {{rolf_r1_SZ32, rolf_r1_SZ64}, {rolf_ri_SZ32, rolf_ri_SZ64}},
    {{rorf_r1_SZ32, rorf_r1_SZ64}, {rorf_ri_SZ32, rorf_ri_SZ64}},
};

/* An immediate count that masks to 0: the write without the operation. */
#define SHZ_SZ(sz)                                                                                 \
	HANDLER(shz_r_##sz)                                                                        \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, reg_get(cpu, sz, i->reg));                                \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(shz_m_##sz)                                                                        \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i);                                                     \
		mem_write(cpu, i, ea, sz, mem_rmw_read(cpu, i, ea, sz));                           \
		return insn_next(cpu, i);                                                          \
	}
SHZ_SZ(SZ8)
SHZ_SZ(SZ16)
SHZ_SZ(SZ32)
SHZ_SZ(SZ64)

#define FNS4(name, f)                                                                              \
	{                                                                                          \
		name##_##f##_SZ8, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64          \
	}
/* [count source][memory][size] */
#define SH_ROW(name)                                                                               \
	{                                                                                          \
		{FNS4(name, r1), FNS4(name, m1)}, {FNS4(name, rc), FNS4(name, mc)},                \
		{                                                                                  \
			FNS4(name, ri), FNS4(name, mi)                                             \
		}                                                                                  \
	}

static const insn_fn shift_fns[K_COUNT][3][2][4] = {
    [K_ROL] = SH_ROW(rol), [K_ROR] = SH_ROW(ror), [K_RCL] = SH_ROW(rcl), [K_RCR] = SH_ROW(rcr),
    [K_SHL] = SH_ROW(shl), [K_SHR] = SH_ROW(shr), [K_SAL] = SH_ROW(shl), [K_SAR] = SH_ROW(sar),
};
static const insn_fn shz_fns[2][4] = {FNS4(shz, r), FNS4(shz, m)};

/* ---- SHLD / SHRD: dest <- dest:src shifted; 16-bit counts above 16 are undefined ---- */

static inline __attribute__((always_inline)) uint64_t
shxd_op(struct cpu *cpu, bool left, unsigned sz, uint64_t d, uint64_t s, unsigned c)
{
	const unsigned w = BITS(sz);
	const uint64_t m = size_mask(sz);
	uint64_t r;
	unsigned cf;

	if (sz == SZ16 && c > 16) {
		/* Undefined: shift the 48-bit d:s:d (what several CPUs do), no UB here. */
		uint64_t v = left ? d << 32 | s << 16 | d : d | s << 16 | d << 32;
		c -= 16;
		if (left) {
			cf = (v >> (48 - c)) & 1;
			r = (v >> (32 - c)) & m;
		} else {
			cf = (v >> (c - 1)) & 1;
			r = (v >> c) & m;
		}
	} else if (left) {
		cf = (d >> (w - c)) & 1;
		r = (shl64(d, c) | shr64(s, w - c)) & m;
	} else {
		cf = (d >> (c - 1)) & 1;
		r = (d >> c | shl64(s, w - c)) & m;
	}
	lf_set_c(cpu, LF_SHIFT, sz, r, d, c, cf);
	return r;
}

/* FORM_RR: reg = destination, base = source; FORM_MR: memory destination, reg = source. */
#define SHXD_SZ(left, name, src, sn, sz)                                                           \
	HANDLER(name##_r##sn##_##sz)                                                               \
	{                                                                                          \
		unsigned c = shift_count(cpu, i, src, sz);                                         \
		uint64_t d = reg_get(cpu, sz, i->reg);                                             \
		if (likely(c))                                                                     \
			d = shxd_op(cpu, left, sz, d, reg_get(cpu, sz, i->base), c);               \
		reg_set(cpu, sz, i->reg, d);                                                       \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_m##sn##_##sz)                                                               \
	{                                                                                          \
		uint64_t ea = insn_ea(cpu, i);                                                     \
		uint64_t d = mem_rmw_read(cpu, i, ea, sz);                                         \
		unsigned c = shift_count(cpu, i, src, sz);                                         \
		if (likely(c))                                                                     \
			d = shxd_op(cpu, left, sz, d, reg_get(cpu, sz, i->reg), c);                \
		mem_write(cpu, i, ea, sz, d);                                                      \
		return insn_next(cpu, i);                                                          \
	}
#define SHXD_OP(left, name)                                                                        \
	SHXD_SZ(left, name, CNT_CL, c, SZ16)                                                       \
	SHXD_SZ(left, name, CNT_CL, c, SZ32)                                                       \
	SHXD_SZ(left, name, CNT_CL, c, SZ64)                                                       \
	SHXD_SZ(left, name, CNT_IMM, i, SZ16)                                                      \
	SHXD_SZ(left, name, CNT_IMM, i, SZ32) SHXD_SZ(left, name, CNT_IMM, i, SZ64)

SHXD_OP(true, shld)
SHXD_OP(false, shrd)

#define FNS3(name, f)                                                                              \
	{                                                                                          \
		NULL, name##_##f##_SZ16, name##_##f##_SZ32, name##_##f##_SZ64                      \
	}
/* [right][imm][memory][size] */
static const insn_fn shxd_fns[2][2][2][4] = {
    {{FNS3(shld, rc), FNS3(shld, mc)}, {FNS3(shld, ri), FNS3(shld, mi)}},
    {{FNS3(shrd, rc), FNS3(shrd, mc)}, {FNS3(shrd, ri), FNS3(shrd, mi)}},
};

insn_fn shift_select(const struct decode *d)
{
	unsigned sz = d->osize;
	bool mem = d->form == FORM_MR || d->form == FORM_MI || d->form == FORM_M;

	if (d->op == OP_SHLD || d->op == OP_SHRD) {
		bool imm = d->opcode == 0xa4 || d->opcode == 0xac;
		return shxd_fns[d->op == OP_SHRD][imm][mem][sz];
	}
	if (d->op < OP_ROL || d->op > OP_SAR)
		return NULL;
	unsigned src = d->opcode >= 0xd2 ? CNT_CL : d->opcode >= 0xd0 ? CNT_1 : CNT_IMM;
	if (src == CNT_IMM && !(d->insn->imm & count_mask(sz)))
		return shz_fns[mem][sz];
	if ((d->op == OP_ROL || d->op == OP_ROR) && src != CNT_CL && !mem && sz >= SZ32)
		return rotf_fns[d->op == OP_ROR][src == CNT_IMM][sz - SZ32];
	return shift_fns[d->op - OP_ROL][src][mem][sz];
}
