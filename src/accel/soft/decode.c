/*
 * The x86 instruction decoder (SDM vol. 2, 2.1-2.2: legacy prefixes, REX,
 * opcode, ModRM, SIB, displacement, immediate; table 2-1 for 16-bit and
 * 2-2/2-3 for 32/64-bit addressing; 2.2.1.6 RIP-relative addressing).
 *
 * decode_insn walks the opcode tables of decode_tab.c to a final (op,
 * format) entry, decodes the operands the format describes into the
 * standard fields of struct insn, validates LOCK (vol. 3, 8.1.2.2 and the
 * LOCK entry of vol. 2) and asks the operation's select function for the
 * specialised handler. Decoding never executes anything: invalid encodings
 * become an instruction whose handler raises #UD (or #GP(0) past 15 bytes)
 * when, and only if, it is reached.
 */
#include "accel/soft/decode.h"

#include <setjmp.h>
#include <string.h>

#include "accel/soft/codecache.h"

#define MAX_INSN_LEN 15

enum { STOP_CROSS = 1, STOP_LONG };

struct dstate {
	struct cpu *cpu;
	struct fetch *f;
	uint64_t rip;
	unsigned pos;
	jmp_buf stop;
};

static uint8_t next_byte(struct dstate *s)
{
	if (s->pos >= MAX_INSN_LEN)
		longjmp(s->stop, STOP_LONG);
	uint64_t off = s->rip + s->pos - s->f->page;
	uint8_t b;
	if (off < SOFT_PAGE_SIZE) {
		b = s->f->host[0][off];
	} else {
		if (!s->f->host[1]) {
			if (!s->f->allow_cross)
				longjmp(s->stop, STOP_CROSS);
			s->f->host[1] = code_cache_fetch_page(s->cpu, s->f->page + SOFT_PAGE_SIZE);
		}
		b = s->f->host[1][off - SOFT_PAGE_SIZE];
	}
	s->pos++;
	return b;
}

static uint64_t next_bytes(struct dstate *s, unsigned n)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)next_byte(s) << (8 * k);
	return v;
}

/* A register operand as struct insn holds it: byte registers as offsets into gpr. */
static uint8_t byte_reg(unsigned r, bool rex)
{
	if (!rex && r >= 4 && r < 8)
		return (uint8_t)((r - 4) * 8 + 1); /* AH, CH, DH, BH */
	return (uint8_t)(r * 8);
}

/* The memory operand of ModRM (and SIB); *riprel when it is RIP-relative. */
static void decode_ea(struct dstate *s, struct insn *in, unsigned modrm, unsigned rex,
                      unsigned asize, bool long64, int *defseg, bool *riprel)
{
	unsigned mod = modrm >> 6, rm = modrm & 7;
	in->base = in->index = EA_NONE;
	in->scale = 0;
	*defseg = S_DS;
	*riprel = false;
	if (asize == SZ16) {
		static const uint8_t base16[8] = {R_RBX, R_RBX, R_RBP, R_RBP,
		                                  R_RSI, R_RDI, R_RBP, R_RBX};
		static const uint8_t index16[8] = {R_RSI,   R_RDI,   R_RSI,   R_RDI,
		                                   EA_NONE, EA_NONE, EA_NONE, EA_NONE};
		if (mod == 0 && rm == 6) {
			in->disp = next_bytes(s, 2);
		} else {
			in->base = base16[rm];
			in->index = index16[rm];
			if (rm == 2 || rm == 3 || rm == 6)
				*defseg = S_SS;
			in->disp = mod == 1   ? (uint64_t)(int8_t)next_byte(s)
			           : mod == 2 ? next_bytes(s, 2)
			                      : 0;
		}
		return;
	}
	if (rm == 4) {
		uint8_t sib = next_byte(s);
		unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
		unsigned base = (sib & 7) | ((rex & 1) << 3);
		in->scale = sib >> 6;
		in->index = idx == R_RSP ? EA_NONE : (uint8_t)idx;
		if ((sib & 7) == 5 && mod == 0) {
			in->disp = (uint64_t)(int64_t)(int32_t)next_bytes(s, 4);
			return;
		}
		in->base = (uint8_t)base;
		if (base == R_RSP || base == R_RBP)
			*defseg = S_SS;
	} else if (rm == 5 && mod == 0) {
		in->disp = (uint64_t)(int64_t)(int32_t)next_bytes(s, 4);
		*riprel = long64;
		return;
	} else {
		in->base = (uint8_t)(rm | ((rex & 1) << 3));
		if (in->base == R_RBP)
			*defseg = S_SS;
	}
	in->disp = mod == 1   ? (uint64_t)(int64_t)(int8_t)next_byte(s)
	           : mod == 2 ? (uint64_t)(int64_t)(int32_t)next_bytes(s, 4)
	                      : 0;
}

static const struct opdesc xchg_r8 = {.op = OP_XCHG, .fmt = FMT_ZvA, .kind = K_OP};

/* Everything after setjmp: fills *in and *d; returns false for #UD. */
static bool decode_body(struct dstate *s, struct decode *d)
{
	struct insn *in = d->insn;
	bool long64 = d->mode == CPU_MODE_LONG64;
	bool def16 = d->mode == CPU_MODE_REAL || d->mode == CPU_MODE_PROT16;
	bool p66 = false, p67 = false, lock = false;
	uint8_t rep = 0, rex = 0, b;
	int seg = -1;

	/* Legacy prefixes in any order; REX only right before the opcode (2.2.1). */
	for (;;) {
		b = next_byte(s);
		switch (b) {
		case 0x66:
			p66 = true;
			break;
		case 0x67:
			p67 = true;
			break;
		case 0xf0:
			lock = true;
			break;
		case 0xf2:
		case 0xf3:
			rep = b;
			break;
		case 0x26:
			seg = S_ES;
			break;
		case 0x2e:
			seg = S_CS;
			break;
		case 0x36:
			seg = S_SS;
			break;
		case 0x3e:
			seg = S_DS;
			break;
		case 0x64:
			seg = S_FS;
			break;
		case 0x65:
			seg = S_GS;
			break;
		default:
			if (long64 && (b & 0xf0) == 0x40) {
				rex = b;
				continue;
			}
			goto opcode;
		}
		rex = 0; /* a legacy prefix after REX cancels it */
	}
opcode:;
	const struct opdesc *map = decode_map1;
	d->map = MAP_1B;
	if (b == 0x0f) {
		b = next_byte(s);
		if (b == 0x38 || b == 0x3a) {
			map = b == 0x38 ? decode_map0f38 : decode_map0f3a;
			d->map = b == 0x38 ? MAP_0F38 : MAP_0F3A;
			b = next_byte(s);
		} else {
			map = decode_map0f;
			d->map = MAP_0F;
		}
	} else if (long64 && (b == 0xc4 || b == 0xc5)) {
		return false; /* VEX: we expose no AVX */
	}
	d->opcode = b;
	d->rex = rex;
	d->pfx66 = p66;
	d->lock = lock;
	d->asize = long64 ? (p67 ? SZ32 : SZ64) : (def16 != p67 ? SZ16 : SZ32);

	/* Walk the table to the final entry. */
	const struct opdesc *e = &map[b];
	if (d->map == MAP_1B && b == 0x90 && (rex & 1))
		e = &xchg_r8;
	unsigned flags = 0;
	for (;;) {
		flags |= e->flags;
		if (e->kind == K_OP)
			break;
		if ((e->kind == K_GRP || e->kind == K_MOD || e->kind == K_RM) && !d->has_modrm) {
			d->modrm = next_byte(s);
			d->has_modrm = true;
		}
		switch (e->kind) {
		case K_GRP:
			e = &e->sub[(d->modrm >> 3) & 7];
			break;
		case K_MOD:
			e = &e->sub[(d->modrm >> 6) == 3];
			break;
		case K_RM:
			e = &e->sub[d->modrm & 7];
			break;
		case K_PFX:
			d->mpfx = rep ? rep : p66 ? 0x66 : 0;
			e = &e->sub[rep == 0xf3 ? 2 : rep == 0xf2 ? 3 : p66 ? 1 : 0];
			if (rep)
				rep = 0;
			break;
		case K_F3:
			e = &e->sub[rep == 0xf3];
			if (rep == 0xf3) {
				d->mpfx = 0xf3;
				rep = 0;
			}
			break;
		case K_MODE:
			e = &e->sub[long64];
			break;
		default:
			return false;
		}
	}
	d->rep = rep;
	d->op = e->op;
	unsigned fmt = e->fmt;
	/* Undefined 0F38 / 0F3A encodings still have a ModRM (and an imm8). */
	if (e->op == OP_UD && fmt == FMT_NONE && d->map >= MAP_0F38)
		fmt = d->map == MAP_0F38 ? FMT_GvEv : FMT_VWIb;
	d->fmt = (uint8_t)fmt;
	const struct fmt_info *fi = &fmt_info[fmt];
	/* Invalid encodings are still decoded to their full length. */
	bool invalid = (flags & OF_I64) && long64;
	if (fi->modrm && !d->has_modrm) {
		d->modrm = next_byte(s);
		d->has_modrm = true;
	}

	/* Operand size (2.2.1.2, table 2-4). */
	bool os66 = p66 && d->mpfx != 0x66;
	switch (fi->size) {
	case SR_B:
		d->osize = SZ8;
		break;
	case SR_W:
		d->osize = SZ16;
		break;
	case SR_D:
		d->osize = SZ32;
		break;
	case SR_Y:
		d->osize = (rex & 8) ? SZ64 : SZ32;
		break;
	default:
		if (!long64)
			d->osize = def16 != os66 ? SZ16 : SZ32;
		else if ((rex & 8) || (flags & OF_F64))
			d->osize = SZ64;
		else
			d->osize = os66 ? SZ16 : (flags & OF_D64) ? SZ64 : SZ32;
	}

	/* Operands. */
	int defseg = S_DS;
	bool riprel = false, mem = false;
	unsigned greg = 0, rmreg = 0;
	in->base = in->index = EA_NONE;
	if (d->has_modrm && fi->modrm) {
		unsigned mod = d->modrm >> 6;
		greg = ((d->modrm >> 3) & 7) | (fi->mmxreg ? 0 : (rex & 4) << 1);
		rmreg = (d->modrm & 7) | (fi->mmxrm ? 0 : (rex & 1) << 3);
		mem = mod != 3 && !fi->modreg;
		if ((fi->memonly && !mem) || (fi->regonly && mem))
			invalid = true;
		if (mem)
			decode_ea(s, in, d->modrm, rex, d->asize, long64, &defseg, &riprel);
		if (fi->regb)
			greg = byte_reg(greg, rex);
		if (fi->rmb && !mem)
			rmreg = byte_reg(rmreg, rex);
	}
	if (fi->layout == L_Z || fi->layout == L_ZA) {
		greg = (b & 7) | ((rex & 1) << 3);
		if (fi->regb)
			greg = byte_reg(greg, rex);
	}

	/* Immediates. */
	uint64_t imm = 0, rel = 0;
	bool branch = false;
	switch (fi->imm) {
	case I_B:
		imm = (uint64_t)(int64_t)(int8_t)next_byte(s);
		break;
	case I_BU:
		imm = next_byte(s);
		break;
	case I_W:
		imm = next_bytes(s, 2);
		break;
	case I_Z:
		imm = d->osize == SZ16 ? (uint64_t)(int64_t)(int16_t)next_bytes(s, 2)
		                       : (uint64_t)(int64_t)(int32_t)next_bytes(s, 4);
		break;
	case I_V:
		imm = next_bytes(s, 2u << (d->osize > SZ16 ? d->osize - SZ16 : 0));
		break;
	case I_WB:
		imm = next_bytes(s, 2);
		imm |= (uint64_t)next_byte(s) << 16;
		break;
	case I_J8:
		rel = (uint64_t)(int64_t)(int8_t)next_byte(s);
		branch = true;
		break;
	case I_JZ:
		rel = d->osize == SZ16 ? (uint64_t)(int64_t)(int16_t)next_bytes(s, 2)
		                       : (uint64_t)(int64_t)(int32_t)next_bytes(s, 4);
		branch = true;
		break;
	case I_O:
		in->disp = next_bytes(s, 2u << (d->asize - SZ16));
		mem = true;
		break;
	case I_AP:
		imm = next_bytes(s, d->osize == SZ16 ? 2 : 4);
		in->disp = next_bytes(s, 2);
		break;
	}
	in->len = (uint8_t)s->pos;
	uint64_t next_rip = s->rip + s->pos;
	if (branch) {
		imm = next_rip + rel;
		if (d->osize != SZ64)
			imm &= d->osize == SZ16 ? 0xffff : 0xffffffff;
	}
	if (riprel)
		in->disp = d->asize == SZ32 ? (uint32_t)(next_rip + in->disp) : next_rip + in->disp;
	in->imm = imm;

	/* Segment: in 64-bit mode only FS and GS have a base (3.2.4 vol. 3). */
	int sg = seg >= 0 ? seg : defseg;
	in->seg = (uint8_t)(long64 ? (sg == S_FS || sg == S_GS ? sg : S_NONE) : sg);
	if (mem && d->asize != SZ64)
		in->seg |= d->asize == SZ32 ? INSN_A32 : INSN_A16;
	/* #SS instead of #GP: in 64-bit mode only for RSP/RBP bases (an SS override
	 * still faults #GP on AMD), else whenever the operand is in SS. */
	if (mem && (long64 ? defseg == S_SS : sg == S_SS))
		in->seg |= INSN_SS;

	/* The standard fields of the form (insn.h). */
	bool has_imm = fi->imm != I_NONE;
	switch (fi->layout) {
	case L_NONE:
		d->form = FORM_NONE;
		break;
	case L_EG:
		d->form = mem ? FORM_MR : FORM_RR;
		in->reg = (uint8_t)(mem ? greg : rmreg);
		if (!mem)
			in->base = (uint8_t)greg;
		break;
	case L_GE:
		d->form = mem ? FORM_RM : FORM_RR;
		in->reg = (uint8_t)greg;
		if (!mem)
			in->base = (uint8_t)rmreg;
		break;
	case L_E:
		d->form = mem ? (has_imm ? FORM_MI : FORM_M) : (has_imm ? FORM_RI : FORM_R);
		if (!mem)
			in->reg = (uint8_t)rmreg;
		break;
	case L_Z:
		d->form = has_imm ? FORM_RI : FORM_R;
		in->reg = (uint8_t)greg;
		break;
	case L_ZA:
		d->form = FORM_RR;
		in->reg = (uint8_t)greg;
		in->base = R_RAX;
		break;
	case L_A:
		d->form = FORM_RI;
		in->reg = R_RAX;
		break;
	case L_AO:
		d->form = FORM_RM;
		in->reg = R_RAX;
		break;
	case L_OA:
		d->form = FORM_MR;
		in->reg = R_RAX;
		break;
	case L_I:
		d->form = FORM_I;
		break;
	}

	/* LOCK: only lockable operations with a memory destination. */
	if (lock && (!(op_info[d->op].attr & OPA_LOCK) ||
	             (d->form != FORM_MR && d->form != FORM_MI && d->form != FORM_M)))
		return false;
	return !invalid;
}

/* Keeps setjmp's frame free of variables the body modifies (-Wclobbered). */
static int decode_guarded(struct dstate *s, struct decode *d, bool *ok)
{
	int r = setjmp(s->stop);
	if (r == 0)
		*ok = decode_body(s, d);
	return r;
}

enum decode_result decode_insn_full(struct cpu *cpu, enum cpu_mode mode, struct fetch *f,
                                    uint64_t rip, struct insn *out, struct decode *d)
{
	struct dstate s = {.cpu = cpu, .f = f, .rip = rip};
	bool ok = false;
	memset(d, 0, sizeof(*d));
	d->insn = out;
	d->mode = (uint8_t)mode;
	memset(out, 0, sizeof(*out));
	int r = decode_guarded(&s, d, &ok);
	if (r == STOP_CROSS)
		return DECODE_CROSS;
	if (r == STOP_LONG) {
		/* More than 15 bytes: #GP(0) (vol. 2, 2.3.11). */
		memset(out, 0, sizeof(*out));
		out->fn = insn_gp0;
		out->len = MAX_INSN_LEN;
		d->op = OP_UD;
		return DECODE_OK;
	}
	out->len = (uint8_t)s.pos;
	out->op = d->op;
	if (!ok) {
		out->fn = insn_ud;
		return DECODE_OK;
	}
	const struct op_info *oi = &op_info[d->op];
	insn_fn fn = oi->select ? oi->select(d) : NULL;
	out->fn = fn ? fn : insn_ud;
	return DECODE_OK;
}

enum decode_result decode_insn(struct cpu *cpu, struct fetch *f, uint64_t rip, struct insn *out)
{
	struct decode d;
	return decode_insn_full(cpu, cpu->mode, f, rip, out, &d);
}
