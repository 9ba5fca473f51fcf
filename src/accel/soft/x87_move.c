/*
 * x87 data transfer (SDM vol. 2: FLD, FST/FSTP, FILD, FIST/FISTP, FISTTP
 * (SSE3), FBLD, FBSTP, FXCH, FCMOVcc, the constants FLD1, FLDL2T, FLDL2E,
 * FLDPI, FLDLG2, FLDLN2, FLDZ; FFREE, FFREEP, FINCSTP, FDECSTP; vol. 1,
 * 8.3.3 "Data transfer instructions", 8.5.1.1 stack overflow/underflow),
 * including the undocumented aliases D9 D8-DF, DF D0-DF (FSTP) and
 * DD C8-CF, DF C8-CF (FXCH).
 *
 * Conversions that can round or raise (m32fp/m64fp, integers and BCD out,
 * BCD in, the constants under RC) run on the host (x87.h); exact moves
 * (m80fp, integers in, register to register) are copies here. A store
 * reads its destination first (as a write: faults come before anything
 * changes) and writes back what the host left in the copy, which is the
 * old value when an unmasked exception suppressed the store.
 */
#include "accel/soft/x87.h"

/* ---- loads that push ---- */

/* A push onto a full stack: masked, the QNaN indefinite is pushed. */
static void overflow_push(struct cpu *cpu, const struct insn *i)
{
	if (x87_stack_fault(cpu, i, true))
		x87_push(cpu, x87_indefinite());
}

/* FLD m32fp / m64fp, FBLD, constants: converted on the host (SNaN -> QNaN with IE, ...). */
#define LOAD_HW(name, read, insn)                                                                  \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		read;                                                                              \
		if (unlikely(x87_full(cpu))) {                                                     \
			overflow_push(cpu, i);                                                     \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		X87_HW(&h, X87_LD0, insn, X87_ST1);                                                \
		x87_hw_status(cpu, i, &h, FSW_C1);                                                 \
		if (x87_hw_pops(&h) < 0)                                                           \
			x87_push(cpu, h.v[0]);                                                     \
		return insn_next(cpu, i);                                                          \
	}

#define READ_INTO_M(bits)                                                                          \
	do {                                                                                       \
		uint##bits##_t m_ = mem_read##bits(cpu, i, insn_ea(cpu, i));                       \
		memcpy(h.m, &m_, sizeof(m_));                                                      \
	} while (0)

LOAD_HW(fld_m32, READ_INTO_M(32), "flds " X87_M)
LOAD_HW(fld_m64, READ_INTO_M(64), "fldl " X87_M)
LOAD_HW(fbld, mem_read_bytes(cpu, i, insn_ea(cpu, i), h.m, 10), "fbld " X87_M)

/* FLD m80fp, FILD: exact, nothing to raise but #IS; C1 = 0. */
#define LOAD_EXACT(name, decl, read, conv)                                                         \
	HANDLER(name)                                                                              \
	{                                                                                          \
		decl;                                                                              \
		x87_enter(cpu, i);                                                                 \
		read;                                                                              \
		if (unlikely(x87_full(cpu))) {                                                     \
			overflow_push(cpu, i);                                                     \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_push(cpu, conv);                                                               \
		x87_set_cc(cpu, FSW_C1, 0);                                                        \
		return insn_next(cpu, i);                                                          \
	}

static inline long double from_m80(const uint8_t b[10])
{
	union x87_bits u;
	memset(&u, 0, sizeof(u));
	memcpy(&u.b.mant, b, 8);
	memcpy(&u.b.se, b + 8, 2);
	return u.f;
}

LOAD_EXACT(fld_m80, uint8_t m[10], mem_read_bytes(cpu, i, insn_ea(cpu, i), m, 10), from_m80(m))
LOAD_EXACT(fild_m16, int16_t m, m = (int16_t)mem_read16(cpu, i, insn_ea(cpu, i)), (long double)m)
LOAD_EXACT(fild_m32, int32_t m, m = (int32_t)mem_read32(cpu, i, insn_ea(cpu, i)), (long double)m)
LOAD_EXACT(fild_m64, int64_t m, m = (int64_t)mem_read64(cpu, i, insn_ea(cpu, i)), (long double)m)

/* The constants: rounded by RC on the host (8.3.8: pi, log2(10), ... have 66-bit images). */
#define CONST(name, insn) LOAD_HW(name, (void)0, insn)
CONST(fld1, "fld1")
CONST(fldl2t, "fldl2t")
CONST(fldl2e, "fldl2e")
CONST(fldpi, "fldpi")
CONST(fldlg2, "fldlg2")
CONST(fldln2, "fldln2")
CONST(fldz, "fldz")

/* FLD ST(i): a copy, no conversion (an SNaN stays one). */
HANDLER(fld_r)
{
	x87_enter(cpu, i);
	if (unlikely(x87_empty(cpu, i->reg) | x87_full(cpu))) {
		if (x87_stack_fault(cpu, i, !x87_empty(cpu, i->reg)))
			x87_push(cpu, x87_indefinite());
		return insn_next(cpu, i);
	}
	x87_push(cpu, x87_get(cpu, i->reg));
	x87_set_cc(cpu, FSW_C1, 0);
	return insn_next(cpu, i);
}

/* ---- stores ---- */

/* The indefinite of each destination format (4.8.3.7, 4.8.3.8; BCD: 4.8.3.9 is below). */
#define INDEF_16  0x8000u
#define INDEF_32  0x80000000u
#define INDEF_64  0x8000000000000000ULL
#define INDEF_F32 0xffc00000u
#define INDEF_F64 0xfff8000000000000ULL

/* FST(P) m32fp/m64fp, FIST(P), FISTTP: rounded / converted on the host. */
#define STORE_HW(name, bits, insn, indef, pop)                                                     \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		uint64_t a = insn_ea(cpu, i);                                                      \
		uint##bits##_t m = mem_rmw_read##bits(cpu, i, a);                                  \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			if (x87_stack_fault(cpu, i, false)) {                                      \
				mem_write##bits(cpu, i, a, indef);                                 \
				if (pop)                                                           \
					x87_pop(cpu);                                              \
			}                                                                          \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		memcpy(h.m, &m, sizeof(m));                                                        \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		X87_HW(&h, X87_LD1, insn " " X87_M, X87_ST1);                                      \
		x87_hw_status(cpu, i, &h, FSW_C1);                                                 \
		memcpy(&m, h.m, sizeof(m));                                                        \
		mem_write##bits(cpu, i, a, m);                                                     \
		if (pop && x87_hw_pops(&h) == 1)                                                   \
			x87_pop(cpu);                                                              \
		return insn_next(cpu, i);                                                          \
	}

STORE_HW(fst_m32, 32, "fsts", INDEF_F32, false)
STORE_HW(fstp_m32, 32, "fstps", INDEF_F32, true)
STORE_HW(fst_m64, 64, "fstl", INDEF_F64, false)
STORE_HW(fstp_m64, 64, "fstpl", INDEF_F64, true)
STORE_HW(fist_m16, 16, "fists", INDEF_16, false)
STORE_HW(fistp_m16, 16, "fistps", INDEF_16, true)
STORE_HW(fist_m32, 32, "fistl", INDEF_32, false)
STORE_HW(fistp_m32, 32, "fistpl", INDEF_32, true)
STORE_HW(fistp_m64, 64, "fistpll", INDEF_64, true)
STORE_HW(fisttp_m16, 16, "fisttps", INDEF_16, true)
STORE_HW(fisttp_m32, 32, "fisttpl", INDEF_32, true)
STORE_HW(fisttp_m64, 64, "fisttpll", INDEF_64, true)

/* FBSTP m80bcd: the BCD indefinite is FFFF C000 0000 0000 0000 (sign byte FF, then FF C0). */
HANDLER(fbstp)
{
	static const uint8_t indef[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
	struct x87_hw h;
	x87_enter(cpu, i);
	uint64_t a = insn_ea(cpu, i);
	mem_probe_write(cpu, i, a, 10, CPU_ACCESS_WRITE);
	mem_read_bytes(cpu, i, a, h.m, 10);
	if (unlikely(x87_empty(cpu, 0))) {
		if (x87_stack_fault(cpu, i, false)) {
			mem_write_bytes(cpu, i, a, indef, 10);
			x87_pop(cpu);
		}
		return insn_next(cpu, i);
	}
	x87_hw_init(cpu, &h);
	h.v[0] = x87_get(cpu, 0);
	X87_HW(&h, X87_LD1, "fbstp " X87_M, X87_ST1);
	x87_hw_status(cpu, i, &h, FSW_C1);
	mem_write_bytes(cpu, i, a, h.m, 10);
	if (x87_hw_pops(&h) == 1)
		x87_pop(cpu);
	return insn_next(cpu, i);
}

/* FSTP m80fp: a copy. */
HANDLER(fstp_m80)
{
	union x87_bits u;
	uint8_t b[10];
	x87_enter(cpu, i);
	uint64_t a = insn_ea(cpu, i);
	bool empty = x87_empty(cpu, 0);
	memset(&u, 0, sizeof(u));
	u.f = empty ? x87_indefinite() : x87_get(cpu, 0);
	memcpy(b, &u.b.mant, 8);
	memcpy(b + 8, &u.b.se, 2);
	if (unlikely(empty)) {
		mem_probe_write(cpu, i, a, 10, CPU_ACCESS_WRITE);
		if (!x87_stack_fault(cpu, i, false))
			return insn_next(cpu, i);
		mem_write_bytes(cpu, i, a, b, 10);
	} else {
		mem_write_bytes(cpu, i, a, b, 10);
		x87_set_cc(cpu, FSW_C1, 0);
	}
	x87_pop(cpu);
	return insn_next(cpu, i);
}

/* ---- register to register ---- */

/* FST / FSTP ST(i) (and the FSTP aliases): a copy. */
#define FST_R(name, pop)                                                                           \
	HANDLER(name)                                                                              \
	{                                                                                          \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			if (!x87_stack_fault(cpu, i, false))                                       \
				return insn_next(cpu, i);                                          \
			x87_set(cpu, i->reg, x87_indefinite());                                    \
		} else {                                                                           \
			x87_set(cpu, i->reg, x87_get(cpu, 0));                                     \
			x87_set_cc(cpu, FSW_C1, 0);                                                \
		}                                                                                  \
		if (pop)                                                                           \
			x87_pop(cpu);                                                              \
		return insn_next(cpu, i);                                                          \
	}

FST_R(fst_r, false)
FST_R(fstp_r, true)

HANDLER(fxch)
{
	unsigned r = i->reg;
	x87_enter(cpu, i);
	if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, r))) {
		if (!x87_stack_fault(cpu, i, false))
			return insn_next(cpu, i);
		if (x87_empty(cpu, 0))
			x87_set(cpu, 0, x87_indefinite());
		if (x87_empty(cpu, r))
			x87_set(cpu, r, x87_indefinite());
	} else {
		x87_set_cc(cpu, FSW_C1, 0);
	}
	long double t = x87_get(cpu, 0);
	x87_set(cpu, 0, x87_get(cpu, r));
	x87_set(cpu, r, t);
	return insn_next(cpu, i);
}

/* FCMOVcc ST(0), ST(i) (P6): the conditions of CMOVcc B, E, BE, U and their negations. */
#define FCMOV(name, cc)                                                                            \
	HANDLER(name)                                                                              \
	{                                                                                          \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, i->reg))) {                        \
			if (x87_stack_fault(cpu, i, false))                                        \
				x87_set(cpu, 0, x87_indefinite());                                 \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		if (cc_test(cpu, cc))                                                              \
			x87_set(cpu, 0, x87_get(cpu, i->reg));                                     \
		return insn_next(cpu, i);                                                          \
	}

FCMOV(fcmovb, CC_B)
FCMOV(fcmove, CC_E)
FCMOV(fcmovbe, CC_BE)
FCMOV(fcmovu, CC_P)
FCMOV(fcmovnb, CC_AE)
FCMOV(fcmovne, CC_NE)
FCMOV(fcmovnbe, CC_A)
FCMOV(fcmovnu, CC_NP)

/* FFREE ST(i): only the tag; FFREEP (DF C0+i) also pops. */
HANDLER(ffree)
{
	x87_enter(cpu, i);
	x87_free(cpu, i->reg);
	return insn_next(cpu, i);
}

HANDLER(ffreep)
{
	x87_enter(cpu, i);
	x87_free(cpu, i->reg);
	x87_pop(cpu);
	return insn_next(cpu, i);
}

/* FINCSTP / FDECSTP: TOP only, tags and registers unchanged; C1 = 0. */
HANDLER(fincstp)
{
	x87_enter(cpu, i);
	cpu->x87.top = (cpu->x87.top + 1) & 7;
	x87_set_cc(cpu, FSW_C1, 0);
	return insn_next(cpu, i);
}

HANDLER(fdecstp)
{
	x87_enter(cpu, i);
	cpu->x87.top = (cpu->x87.top - 1) & 7;
	x87_set_cc(cpu, FSW_C1, 0);
	return insn_next(cpu, i);
}

/* ---- picking a handler: memory forms by escape and ModRM.reg ---- */

static const insn_fn move_m_fns[4][8] = {
    /* D9 */ {fld_m32, NULL, fst_m32, fstp_m32},
    /* DB */ {fild_m32, fisttp_m32, fist_m32, fistp_m32, NULL, fld_m80, NULL, fstp_m80},
    /* DD */ {fld_m64, fisttp_m64, fst_m64, fstp_m64},
    /* DF */ {fild_m16, fisttp_m16, fist_m16, fistp_m16, fbld, fild_m64, fbstp, fistp_m64},
};

/* Register forms of D9, DB, DD, DF by ModRM.reg 0-3. */
static const insn_fn move_r_fns[4][4] = {
    /* D9 */ {fld_r, fxch, NULL, fstp_r},
    /* DB */ {fcmovnb, fcmovne, fcmovnbe, fcmovnu},
    /* DD */ {ffree, fxch, fst_r, fstp_r},
    /* DF */ {ffreep, fxch, fstp_r, fstp_r},
};

static const insn_fn da_fns[4] = {fcmovb, fcmove, fcmovbe, fcmovu};
static const insn_fn const_fns[8] = {fld1, fldl2t, fldl2e, fldpi, fldlg2, fldln2, fldz, NULL};

insn_fn x87_move_fn(unsigned esc, unsigned reg, unsigned rm, bool mem)
{
	if (mem)
		return (esc & 1) ? move_m_fns[esc >> 1][reg] : NULL;
	if (esc == 2)
		return reg < 4 ? da_fns[reg] : NULL;
	if (!(esc & 1))
		return NULL;
	if (reg < 4)
		return move_r_fns[esc >> 1][reg];
	if (esc == 1 && reg == 5)
		return const_fns[rm];
	if (esc == 1 && reg == 6 && rm >= 6)
		return rm == 6 ? fdecstp : fincstp;
	return NULL;
}
