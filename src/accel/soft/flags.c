/*
 * Lazy flags materialised (flags.h). The formulas follow the SDM's
 * definitions (vol. 1, 3.4.3.1; vol. 2, each instruction's "Flags
 * Affected"): CF is the carry/borrow out of the top bit, OF the signed
 * overflow, AF the carry/borrow out of bit 3, and ZF/SF/PF come from the
 * result for every kind.
 */
#include "accel/soft/flags.h"

uint32_t lf_compute(const struct cpu_lazy_flags *lf)
{
	unsigned sz = LF_SIZE(lf->op);
	uint64_t r = lf->res, a = lf->src1, b = lf->src2;
	uint64_t msb = 1ULL << ((8u << sz) - 1);
	uint32_t f = 0;
	bool cf = false, of = false, af = false;

	if (r == 0)
		f |= FLAG_ZF;
	if (r & msb)
		f |= FLAG_SF;
	if (!__builtin_parity((unsigned)(r & 0xff)))
		f |= FLAG_PF;
	switch (LF_KIND(lf->op)) {
	case LF_ADD:
		cf = r < a;
		goto add;
	case LF_ADC:
		cf = lf->cf_in ? r <= a : r < a;
	add:
		of = ((a ^ r) & (b ^ r) & msb) != 0;
		af = ((a ^ b ^ r) & 0x10) != 0;
		break;
	case LF_SUB:
		cf = a < b;
		goto sub;
	case LF_SBB:
		cf = lf->cf_in ? a <= b : a < b;
	sub:
		of = ((a ^ b) & (a ^ r) & msb) != 0;
		af = ((a ^ b ^ r) & 0x10) != 0;
		break;
	case LF_LOGIC:
		break;
	case LF_INC:
		cf = lf->cf_in;
		of = r == msb;
		af = (r & 0xf) == 0;
		break;
	case LF_DEC:
		cf = lf->cf_in;
		of = r == msb - 1;
		af = (r & 0xf) == 0xf;
		break;
	case LF_SHIFT:
		cf = lf->cf_in;
		of = ((r ^ a) & msb) != 0;
		af = true; /* undefined: what AMD does */
		break;
	case LF_ROT:
		cf = lf->cf_in;
		of = lf->src2 & 1;
		af = lf->src1 & FLAG_AF;
		break;
	}
	if (cf)
		f |= FLAG_CF;
	if (of)
		f |= FLAG_OF;
	if (af)
		f |= FLAG_AF;
	return f;
}

bool cc_eval(const struct cpu *cpu, unsigned cc)
{
	uint32_t f = lf_flags(cpu);
	bool r;
	switch (cc >> 1) {
	case CC_O >> 1:
		r = f & FLAG_OF;
		break;
	case CC_B >> 1:
		r = f & FLAG_CF;
		break;
	case CC_E >> 1:
		r = f & FLAG_ZF;
		break;
	case CC_BE >> 1:
		r = f & (FLAG_CF | FLAG_ZF);
		break;
	case CC_S >> 1:
		r = f & FLAG_SF;
		break;
	case CC_P >> 1:
		r = f & FLAG_PF;
		break;
	case CC_L >> 1:
		r = !(f & FLAG_SF) != !(f & FLAG_OF);
		break;
	default:
		r = (f & FLAG_ZF) || !(f & FLAG_SF) != !(f & FLAG_OF);
		break;
	}
	return r ^ (cc & 1);
}
