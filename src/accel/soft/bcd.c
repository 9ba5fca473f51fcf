/*
 * Decimal arithmetic (SDM vol. 2: "DAA", "DAS", "AAA", "AAS", "AAM", "AAD";
 * vol. 1, 7.3.2.5 and 7.3.2.6) and SALC (AMD APM vol. 3, undocumented by
 * Intel: AL <- CF ? FF : 00). Legacy and compatibility modes only: the
 * decoder makes them #UD in 64-bit mode.
 *
 * The flags the manuals leave undefined follow this AMD host, measured
 * exhaustively (AL x AH x CF/AF x the other flags) with a 32-bit program:
 * DAA/DAS set OF as the 8-bit add/subtract of the whole adjustment (0x06,
 * 0x60 or 0x66) would; AAA/AAS set SF, ZF, PF and OF from the 16-bit
 * AX +/- 0x106 when they adjust and from AX when they do not (OF = 0);
 * AAM clears OF, AF and CF; AAD sets all six as the 8-bit add
 * AL + (AH * imm8 mod 256).
 */
#include "accel/soft/flags.h"
#include "accel/soft/ops.h"

static inline __attribute__((always_inline)) void set_flags(struct cpu *cpu, uint32_t f)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | f;
	cpu->lf.op = LF_NONE;
}

/* ZF, SF and PF of the low 8 << sz bits of v (sz = SZ8 or SZ16). */
static inline uint32_t szp(uint32_t v, unsigned sz)
{
	uint32_t m = sz == SZ8 ? 0xff : 0xffff, f = 0;
	if (!(v & m))
		f |= FLAG_ZF;
	if (v & (m ^ m >> 1))
		f |= FLAG_SF;
	if (!__builtin_parity(v & 0xff))
		f |= FLAG_PF;
	return f;
}

HANDLER(bcd_daa)
{
	uint32_t fl = lf_flags(cpu), al = (uint8_t)cpu->gpr[R_RAX], adj = 0, f = 0, r;
	if ((al & 0xf) > 9 || (fl & FLAG_AF)) {
		adj = 0x06;
		f |= FLAG_AF;
	}
	if (al > 0x99 || (fl & FLAG_CF)) {
		adj |= 0x60;
		f |= FLAG_CF;
	}
	r = (al + adj) & 0xff;
	if ((al ^ r) & (adj ^ r) & 0x80)
		f |= FLAG_OF;
	set_reg8(cpu, 0, (uint8_t)r);
	set_flags(cpu, f | szp(r, SZ8));
	return insn_next(cpu, i);
}

HANDLER(bcd_das)
{
	uint32_t fl = lf_flags(cpu), al = (uint8_t)cpu->gpr[R_RAX], adj = 0, f = 0, r;
	if ((al & 0xf) > 9 || (fl & FLAG_AF)) {
		adj = 0x06;
		f |= FLAG_AF;
		if (al < 6)
			f |= FLAG_CF; /* the borrow of AL - 6 */
	}
	if (al > 0x99 || (fl & FLAG_CF)) {
		adj |= 0x60;
		f |= FLAG_CF;
	}
	r = (al - adj) & 0xff;
	if ((al ^ adj) & (al ^ r) & 0x80)
		f |= FLAG_OF;
	set_reg8(cpu, 0, (uint8_t)r);
	set_flags(cpu, f | szp(r, SZ8));
	return insn_next(cpu, i);
}

/* AAA (sub = false) and AAS: AX +/- 0x106 when AL's low digit needs it, then AL &= 0x0f. */
static inline __attribute__((always_inline)) void ascii_adjust(struct cpu *cpu, bool sub)
{
	uint32_t ax = (uint16_t)cpu->gpr[R_RAX], f, r;
	if ((ax & 0xf) > 9 || (lf_flags(cpu) & FLAG_AF)) {
		r = (sub ? ax - 0x106 : ax + 0x106) & 0xffff;
		f = FLAG_AF | FLAG_CF | szp(r, SZ16);
		if ((sub ? (ax ^ 0x106) & (ax ^ r) : (ax ^ r) & (0x106 ^ r)) & 0x8000)
			f |= FLAG_OF;
	} else {
		r = ax;
		f = szp(r, SZ16);
	}
	reg_set(cpu, SZ16, R_RAX, r & 0xff0f);
	set_flags(cpu, f);
}

HANDLER(bcd_aaa)
{
	ascii_adjust(cpu, false);
	return insn_next(cpu, i);
}

HANDLER(bcd_aas)
{
	ascii_adjust(cpu, true);
	return insn_next(cpu, i);
}

/* AAM imm8: AH <- AL / imm8, AL <- AL mod imm8; #DE for 0. */
HANDLER(bcd_aam)
{
	uint32_t n = (uint8_t)i->imm, al = (uint8_t)cpu->gpr[R_RAX];
	if (!n)
		insn_raise(cpu, i, EXC_DE, 0, false);
	reg_set(cpu, SZ16, R_RAX, (al / n) << 8 | al % n);
	set_flags(cpu, szp(al % n, SZ8));
	return insn_next(cpu, i);
}

/* AAD imm8: AL <- AL + AH * imm8, AH <- 0. */
HANDLER(bcd_aad)
{
	uint32_t al = (uint8_t)cpu->gpr[R_RAX],
	         t = ((uint8_t)(cpu->gpr[R_RAX] >> 8) * (uint32_t)(uint8_t)i->imm) & 0xff;
	uint32_t r = al + t, f = szp(r, SZ8);
	if (r > 0xff)
		f |= FLAG_CF;
	if ((al ^ r) & (t ^ r) & 0x80)
		f |= FLAG_OF;
	if ((al ^ t ^ r) & 0x10)
		f |= FLAG_AF;
	reg_set(cpu, SZ16, R_RAX, r & 0xff);
	set_flags(cpu, f);
	return insn_next(cpu, i);
}

HANDLER(bcd_salc)
{
	set_reg8(cpu, 0, lf_cf(cpu) ? 0xff : 0);
	return insn_next(cpu, i);
}

insn_fn bcd_select(const struct decode *d)
{
	switch (d->op) {
	case OP_DAA:
		return bcd_daa;
	case OP_DAS:
		return bcd_das;
	case OP_AAA:
		return bcd_aaa;
	case OP_AAS:
		return bcd_aas;
	case OP_AAM:
		return bcd_aam;
	case OP_AAD:
		return bcd_aad;
	case OP_SALC:
		return bcd_salc;
	default:
		return NULL;
	}
}
