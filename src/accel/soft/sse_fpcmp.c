/*
 * SSE/SSE2 floating-point compares (SDM vol. 2: CMPPS, CMPSS, CMPPD, CMPSD with the imm8
 * predicates 0-7, COMISS, COMISD, UCOMISS, UCOMISD; vol. 1, 11.5.2.1 for which compares
 * signal invalid on a QNaN: the ordered ones, LT/LE/NLT/NLE and COMIS*).
 *
 * The host's instruction runs under the guest's MXCSR (sse_fp.h), one handler per
 * predicate: legacy encodings use imm8 bits 0-2 only. COMIS* write ZF, PF and CF as the
 * host's compare leaves them and clear OF, SF and AF; an unmasked exception leaves RFLAGS
 * as they were.
 */
#include "accel/soft/sse_fp.h"

/* ---- CMPxx: an all-ones or all-zeros mask per element ---- */

#define CMP_P(op, p, mk) FP_SIMPLE(op##_##p, #op " $" #p ",", mk)
#define CMP_OP(op, mk)                                                                             \
	CMP_P(op, 0, mk)                                                                           \
	CMP_P(op, 1, mk)                                                                           \
	CMP_P(op, 2, mk)                                                                           \
	CMP_P(op, 3, mk)                                                                           \
	CMP_P(op, 4, mk)                                                                           \
	CMP_P(op, 5, mk)                                                                           \
	CMP_P(op, 6, mk)                                                                           \
	CMP_P(op, 7, mk)

CMP_OP(cmpps, M128A)
CMP_OP(cmppd, M128A)
CMP_OP(cmpss, M32)
CMP_OP(cmpsd, M64)

#define CMP_ROW(op)                                                                                \
	{                                                                                          \
		{op##_0_rr, op##_1_rr, op##_2_rr, op##_3_rr,                                       \
		 op##_4_rr, op##_5_rr, op##_6_rr, op##_7_rr},                                      \
		{                                                                                  \
			op##_0_rm, op##_1_rm, op##_2_rm, op##_3_rm, op##_4_rm, op##_5_rm,          \
			    op##_6_rm, op##_7_rm                                                   \
		}                                                                                  \
	}

/* [CMPPS, CMPPD, CMPSS, CMPSD][register, memory][predicate] */
static const insn_fn cmp_fns[4][2][8] = {
    CMP_ROW(cmpps),
    CMP_ROW(cmppd),
    CMP_ROW(cmpss),
    CMP_ROW(cmpsd),
};

/* ---- COMISS, UCOMISS, COMISD, UCOMISD ---- */

#define COMI(name, mk)                                                                             \
	FP_INLINE const struct insn *name##_do(struct cpu *cpu, const struct insn *i, fpv s)       \
	{                                                                                          \
		fpv d = fp_xmm(cpu, i->reg);                                                       \
		uint32_t g = cpu->mxcsr, mx = fp_csr(g);                                           \
		bool zf, pf, cf;                                                                   \
		__asm__ volatile("movl %[x], %[m]\n\t"                                             \
		                 "ldmxcsr %[m]\n\t" #name " %[s], %[d]\n\t"                        \
		                 "stmxcsr %[m]\n\t"                                                \
		                 "movl %[m], %[x]\n\t"                                             \
		                 "movl $%c[h], %[m]\n\t"                                           \
		                 "ldmxcsr %[m]\n\t"                                                \
		                 "movl %[g], %[m]"                                                 \
		                 : [m] "+m"(cpu->mxcsr), [x] "+&r"(mx), "=@ccz"(zf), "=@ccp"(pf),  \
		                   "=@ccc"(cf)                                                     \
		                 : [d] "x"(d), [s] "x"(s), [g] "r"(g), [h] "i"(MXCSR_HOST));       \
		fp_commit(cpu, i, mx &MXCSR_FLAGS);                                                \
		fp_set_rflags(cpu, (zf ? FLAG_ZF : 0) | (pf ? FLAG_PF : 0) | (cf ? FLAG_CF : 0));  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	FP_FORMS(name, mk)

COMI(comiss, M32)
COMI(ucomiss, M32)
COMI(comisd, M64)
COMI(ucomisd, M64)

insn_fn sse_fpcmp_select(const struct decode *d)
{
	if (d->form != FORM_RR && d->form != FORM_RM)
		return NULL;
	switch (d->op) {
	case OP_CMPPS:
	case OP_CMPPD:
	case OP_CMPSS:
	case OP_CMPSD_X: {
		_Static_assert(OP_CMPSD_X - OP_CMPPS == 3, "ops.def order");
		return cmp_fns[d->op - OP_CMPPS][d->form == FORM_RM][d->insn->imm & 7];
	}
	case OP_COMISS:
		return FP_PICK(d, comiss);
	case OP_UCOMISS:
		return FP_PICK(d, ucomiss);
	case OP_COMISD:
		return FP_PICK(d, comisd);
	case OP_UCOMISD:
		return FP_PICK(d, ucomisd);
	}
	return NULL;
}
