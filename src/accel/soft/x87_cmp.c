/*
 * x87 comparisons and classification (SDM vol. 2: FCOM/FCOMP/FCOMPP,
 * FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST,
 * FXAM; vol. 1, 8.1.3.1 "Condition code flags" and 8.3.4 "Comparison and
 * classification instructions"), including the undocumented register
 * aliases DC D0-DF and DE D0-D7 (FCOM/FCOMP).
 *
 * The comparison itself runs on the host (x87.h): C0/C2/C3 (or ZF/PF/CF
 * for FCOMI) and the invalid-operand rules for NaNs (FCOM: any NaN;
 * FUCOM: SNaN only) come from there. An empty operand is #IS with the
 * "unordered" result when masked.
 */
#include "accel/soft/x87.h"

#define CC_UNORDERED (FSW_C0 | FSW_C2 | FSW_C3)

/* Stack underflow of a comparison: unordered (masked or not), the usual pops when masked. */
static void underflow_cmp(struct cpu *cpu, const struct insn *i, unsigned pops)
{
	bool masked = x87_stack_fault(cpu, i, false);
	x87_set_cc(cpu, CC_UNORDERED, CC_UNORDERED);
	while (masked && pops--)
		x87_pop(cpu);
}

/* ---- FCOM/FCOMP/FICOM/FICOMP with a memory operand ---- */

#define COM_M(name, bits, insn, npop)                                                              \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		x87_enter(cpu, i);                                                                 \
		uint##bits##_t m = mem_read##bits(cpu, i, insn_ea(cpu, i));                        \
		if (unlikely(x87_empty(cpu, 0))) {                                                 \
			underflow_cmp(cpu, i, npop);                                               \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		memcpy(h.m, &m, sizeof(m));                                                        \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		X87_HW(&h, X87_LD1, insn " " X87_M, X87_ST1);                                      \
		x87_hw_status(cpu, i, &h, FSW_CC);                                                 \
		if (x87_hw_pops(&h) == 1)                                                          \
			x87_pop(cpu);                                                              \
		return insn_next(cpu, i);                                                          \
	}

COM_M(fcom_m32fp, 32, "fcoms", 0)
COM_M(fcomp_m32fp, 32, "fcomps", 1)
COM_M(fcom_m64fp, 64, "fcoml", 0)
COM_M(fcomp_m64fp, 64, "fcompl", 1)
COM_M(ficom_m16int, 16, "ficoms", 0)
COM_M(ficomp_m16int, 16, "ficomps", 1)
COM_M(ficom_m32int, 32, "ficoml", 0)
COM_M(ficomp_m32int, 32, "ficompl", 1)

/* By escape (D8, DA, DC, DE) and ModRM.reg 2 / 3. */
static const insn_fn com_m_fns[4][2] = {
    {fcom_m32fp, fcomp_m32fp},
    {ficom_m32int, ficomp_m32int},
    {fcom_m64fp, fcomp_m64fp},
    {ficom_m16int, ficomp_m16int},
};

/* ---- ST(0) with ST(i): FCOM, FCOMP, FUCOM, FUCOMP, FCOMPP, FUCOMPP (ST(1), two pops) ---- */

#define COM_R(name, bytes, npop)                                                                   \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		unsigned r = i->reg;                                                               \
		x87_enter(cpu, i);                                                                 \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, r))) {                             \
			underflow_cmp(cpu, i, npop);                                               \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		h.v[1] = x87_get(cpu, r);                                                          \
		X87_HW(&h, X87_LD2, ".byte " bytes, X87_ST2);                                      \
		x87_hw_status(cpu, i, &h, FSW_CC);                                                 \
		for (int k = x87_hw_pops(&h); k > 0; k--)                                          \
			x87_pop(cpu);                                                              \
		return insn_next(cpu, i);                                                          \
	}

COM_R(fcom_r, "0xd8, 0xd1", 0)
COM_R(fcomp_r, "0xd8, 0xd9", 1)
COM_R(fucom_r, "0xdd, 0xe1", 0)
COM_R(fucomp_r, "0xdd, 0xe9", 1)
COM_R(fcompp, "0xde, 0xd9", 2)
COM_R(fucompp, "0xda, 0xe9", 2)

/* ---- FCOMI, FUCOMI, FCOMIP, FUCOMIP: ZF, PF, CF; OF, SF, AF cleared ---- */

/*
 * The host's flags are preset to the guest's ZF/PF/CF (SAHF) so that an
 * operation stopped by an unmasked exception reports what it left.
 */
/* clang-format off */
#define COMI(name, bytes, npop)                                                                    \
	HANDLER(name)                                                                              \
	{                                                                                          \
		struct x87_hw h;                                                                   \
		unsigned r = i->reg;                                                               \
		x87_enter(cpu, i);                                                                 \
		lf_materialise(cpu);                                                               \
		if (unlikely(x87_empty(cpu, 0) | x87_empty(cpu, r))) {                             \
			bool masked = x87_stack_fault(cpu, i, false);                              \
			comi_flags(cpu, 1, 1, 1); /* unordered, masked or not */                   \
			for (int k = 0; masked && k < npop; k++)                                   \
				x87_pop(cpu);                                                      \
			return insn_next(cpu, i);                                                  \
		}                                                                                  \
		x87_hw_init(cpu, &h);                                                              \
		h.v[0] = x87_get(cpu, 0);                                                          \
		h.v[1] = x87_get(cpu, r);                                                          \
		h.zf = (uint8_t)cpu->rflags;                                                       \
		X87_HW(&h, X87_LD2,                                                                \
		       "movb " X87_F(zf) ", %%ah\n\tsahf\n\t.byte " bytes "\n\t"                   \
		       "setz " X87_F(zf) "\n\tsetp " X87_F(pf) "\n\tsetc " X87_F(cf),              \
		       X87_ST2);                                                                   \
		x87_hw_status(cpu, i, &h, 0); /* C1 is kept (AMD) */                               \
		comi_flags(cpu, h.zf, h.pf, h.cf);                                                 \
		if (x87_hw_pops(&h) == 1)                                                          \
			x87_pop(cpu);                                                              \
		return insn_next(cpu, i);                                                          \
	}
/* clang-format on */

static inline void comi_flags(struct cpu *cpu, unsigned zf, unsigned pf, unsigned cf)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | (zf ? FLAG_ZF : 0) |
	              (pf ? FLAG_PF : 0) | (cf ? FLAG_CF : 0);
}

COMI(fucomi, "0xdb, 0xe9", 0)
COMI(fcomi, "0xdb, 0xf1", 0)
COMI(fucomip, "0xdf, 0xe9", 1)
COMI(fcomip, "0xdf, 0xf1", 1)

/* ---- FTST (compare with +0.0), FXAM (classify) ---- */

HANDLER(ftst)
{
	struct x87_hw h;
	x87_enter(cpu, i);
	if (unlikely(x87_empty(cpu, 0))) {
		underflow_cmp(cpu, i, 0);
		return insn_next(cpu, i);
	}
	x87_hw_init(cpu, &h);
	h.v[0] = x87_get(cpu, 0);
	X87_HW(&h, X87_LD1, "ftst", X87_ST1);
	x87_hw_status(cpu, i, &h, FSW_CC);
	return insn_next(cpu, i);
}

/* FXAM raises nothing; an empty ST(0) is class "empty" (C3, C0), C1 its sign. */
HANDLER(fxam)
{
	struct x87_hw h;
	x87_enter(cpu, i);
	if (x87_empty(cpu, 0)) {
		union x87_bits u;
		memset(&u, 0, sizeof(u));
		u.f = x87_get(cpu, 0);
		x87_set_cc(cpu, FSW_CC, FSW_C3 | FSW_C0 | (u.b.se & 0x8000 ? FSW_C1 : 0));
		return insn_next(cpu, i);
	}
	x87_hw_init(cpu, &h);
	h.v[0] = x87_get(cpu, 0);
	X87_HW(&h, X87_LD1, "fxam", X87_ST1);
	x87_hw_status(cpu, i, &h, FSW_CC);
	return insn_next(cpu, i);
}

insn_fn x87_cmp_fn(unsigned esc, unsigned reg, unsigned rm, bool mem)
{
	if (mem)
		return !(esc & 1) && (reg == 2 || reg == 3) ? com_m_fns[esc >> 1][reg - 2] : NULL;
	switch (esc << 3 | reg) {
	case 0 << 3 | 2: /* D8 D0+i */
	case 4 << 3 | 2: /* DC D0+i, an alias */
		return fcom_r;
	case 0 << 3 | 3: /* D8 D8+i */
	case 4 << 3 | 3: /* DC D8+i, an alias */
	case 6 << 3 | 2: /* DE D0+i, an alias */
		return fcomp_r;
	case 6 << 3 | 3:
		return rm == 1 ? fcompp : NULL;
	case 2 << 3 | 5:
		return rm == 1 ? fucompp : NULL;
	case 5 << 3 | 4:
		return fucom_r;
	case 5 << 3 | 5:
		return fucomp_r;
	case 3 << 3 | 5:
		return fucomi;
	case 3 << 3 | 6:
		return fcomi;
	case 7 << 3 | 5:
		return fucomip;
	case 7 << 3 | 6:
		return fcomip;
	case 1 << 3 | 4:
		return rm == 4 ? ftst : rm == 5 ? fxam : NULL;
	default:
		return NULL;
	}
}
