/*
 * The case generator: from a form (forms.def) and a seed, chooses
 * registers, an addressing mode, prefixes and operand values, encodes the
 * instruction into the code page at DT_CODE_BASE + DT_INSN_OFF, writes the
 * landing stubs, and fills the sandbox memory. Deterministic from the seed.
 *
 * Memory operands: the effective address is chosen first (mostly inside the
 * RW data pages, sometimes across the page boundary, in the read-only page,
 * in a guard page, non-canonical or near NULL), then the base/index
 * registers are solved for it, for every addressing form (base, base+disp8/
 * 32, SIB with all scales, index-only, absolute disp32, RIP-relative) and
 * for 0x67 (32-bit addressing, with garbage in the upper register halves).
 */
#include <string.h>

#include "difftest.h"
#include "gen_internal.h"

enum { M_BASE, M_SIB, M_NOBASE, M_RIP };

#define STUB_LEN 14u

void gen_mem_put(uint64_t a, uint64_t v, unsigned len)
{
	if (in_data(a, len))
		memcpy((void *)a, &v, len);
}

uint64_t gen_mem_get(uint64_t a, unsigned len)
{
	uint64_t v = 0;
	if (in_data(a, len))
		memcpy(&v, (void *)a, len);
	return v;
}
static unsigned mem_len(const struct dt_form *f)
{
	if (f->size == 80)
		return 10;
	return f->size >= 8 ? f->size / 8 : 1;
}

/* Register n as an instruction of this encoding sees it (AH-BH without REX). */ void
gen_set_reg(struct gen *g, int n, unsigned bits, uint64_t v)
{
	uint64_t m = gv_mask(bits);

	if (n < 0)
		return;
	if (bits == 8 && !g->rex && n >= 4 && n < 8) {
		if (!pinned(g, n - 4))
			g->gpr[n - 4] = (g->gpr[n - 4] & ~0xff00ULL) | (v & 0xff) << 8;
		return;
	}
	if (!pinned(g, n))
		g->gpr[n] = (g->gpr[n] & ~m) | (v & m);
}

uint64_t gen_get_reg(struct gen *g, int n, unsigned bits)
{
	if (bits == 8 && !g->rex && n >= 4 && n < 8)
		return (g->gpr[n - 4] >> 8) & 0xff;
	return g->gpr[n] & gv_mask(bits);
}

void gen_set_rm(struct gen *g, unsigned bits, uint64_t v)
{
	if (g->rm >= 0)
		gen_set_reg(g, g->rm, bits, v);
	else if (g->mem)
		gen_mem_put(g->ea, v, bits / 8);
}

uint64_t gen_get_rm(struct gen *g, unsigned bits)
{
	return g->rm >= 0 ? gen_get_reg(g, g->rm, bits) : gen_mem_get(g->ea, bits / 8);
}
/* ---- state ---- */

static uint64_t pick_rsp(struct gen *g)
{
	unsigned k = (unsigned)below(g, 100);
	uint64_t a;

	/* RET and POPF must read what the generator wrote, never the RO page's bytes */
	if (!(g->f->fl & DT_F_STK) || k < 90 || g->f->cls == C_RET || g->f->cls == C_POPF)
		a = DT_DATA_BASE + 0x400 + below(g, 0x1800);
	else if (k < 94)
		a = DT_DATA_BASE + below(g, 40);
	else if (k < 98)
		a = DT_DATA_BASE + DT_DATA_SIZE - below(g, 40);
	else
		a = DT_RO_BASE + below(g, DT_PAGE);
	if (chance(g, 85))
		a &= ~7ULL;
	return a;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void random_fpu(struct gen *g)
{
	static const uint16_t pcs[3] = {0, 2, 3};
	uint8_t *fx = g->c->in.fx;
	unsigned top = (unsigned)below(g, 8);
	uint16_t cw = (uint16_t)(0x7f | pcs[below(g, 3)] << 8 | below(g, 4) << 10);
	uint16_t flags = 0, sw;
	uint32_t mxcsr;

	if (g->f->cls == C_X87 && chance(g, 4))
		cw &= (uint16_t) ~(rnd(g) & 0x3f);
	if (chance(g, 20))
		flags = (uint16_t)(rnd(g) & cw & 0x3f);
	if ((cw & 1) && chance(g, 10))
		flags |= 0x40;
	sw = (uint16_t)((rnd(g) & 0x4700) | flags | top << 11);
	put16(fx + FX_FCW, cw);
	put16(fx + FX_FSW, sw);
	fx[FX_FTW] = chance(g, 10) ? 0 : chance(g, 30) ? 0xff : (uint8_t)(rnd(g) | rnd(g));
	for (int i = 0; i < 8; i++)
		gv_f80(&g->r, fx + FX_ST + 16 * i);

	mxcsr = 0x1f80 | (uint32_t)below(g, 4) << 13;
	if (chance(g, 25))
		mxcsr |= 0x8000; /* FTZ */
	if (chance(g, 25))
		mxcsr |= 0x40; /* DAZ */
	if (chance(g, 20))
		mxcsr |= (uint32_t)(rnd(g) & 0x3f);
	if ((g->f->cls == C_SSEF || g->f->cls == C_SSED) && chance(g, 5))
		mxcsr &= ~(uint32_t)((rnd(g) & 0x3f) << 7);
	memcpy(fx + FX_MXCSR, &mxcsr, 4);
	for (int i = 0; i < 16; i++)
		gv_xmm(&g->r, fx + FX_XMM + 16 * i, g->f->cls);
}

static void random_state(struct gen *g)
{
	struct dt_state *s = &g->c->in;
	unsigned bits = g->f->size && g->f->size <= 64 ? g->f->size : 64;

	for (int i = 0; i < 16; i++)
		s->gpr[i] = gv_int(&g->r, bits);
	s->gpr[RSP] = pick_rsp(g);
	s->rflags = 0x202 | (rnd(g) & ARITH) | (chance(g, 25) ? DFLAG : 0);
	s->vector = -1;
	random_fpu(g);

	uint64_t *d = (uint64_t *)DT_DATA_BASE;
	for (unsigned i = 0; i < DT_DATA_SIZE / 8; i++)
		d[i] = rnd(g);
}
/* ---- memory operands ---- */

uint64_t gen_pick_ea(struct gen *g, unsigned len, unsigned align, unsigned aligned_pct)
{
	unsigned k = (unsigned)below(g, 1000);
	uint64_t span = len > 1 ? len - 1 : 1, a;

	if (k < 840) {
		a = DT_DATA_BASE + below(g, DT_DATA_SIZE - len + 1);
		if (align > 1 && chance(g, aligned_pct))
			a &= ~(uint64_t)(align - 1);
	} else if (k < 890) {
		a = DT_DATA_BASE + DT_PAGE - 1 - below(g, span); /* across the middle boundary */
	} else if (k < 930 && !g->safe_ea) {
		a = DT_RO_BASE + below(g, DT_PAGE - len + 1);
	} else if (k < 950 && !g->safe_ea) {
		a = DT_RO_BASE - 1 - below(g, span); /* RW -> RO */
	} else if (k < 950) {
		a = DT_DATA_BASE + below(g, DT_DATA_SIZE - len + 1);
	} else if (k < 965) {
		a = chance(g, 50) ? DT_GUARD_HI - 1 - below(g, span)
		                  : DT_GUARD_HI + below(g, DT_PAGE);
	} else if (k < 975) {
		a = chance(g, 50) ? DT_DATA_BASE - 1 - below(g, span)
		                  : DT_GUARD_LO + below(g, DT_PAGE);
	} else if (k < 990) {
		a = chance(g, 50) ? 0x0000800000000000ULL + below(g, 1ULL << 32)
		                  : 0x8000000000000000ULL | (DT_DATA_BASE + below(g, DT_DATA_SIZE));
	} else {
		a = below(g, DT_PAGE);
	}
	if (g->addr32)
		a &= 0xffffffffULL;
	return a;
}

static int pick_gpr(struct gen *g, int avoid1, int avoid2, bool allow_rsp)
{
	for (;;) {
		int n = (int)below(g, 16);
		if (n != avoid1 && n != avoid2 && (allow_rsp || n != RSP))
			return n;
	}
}

static int64_t pick_disp(struct gen *g, int kind)
{
	if (kind == 0)
		return 0;
	if (kind == 1)
		return (int64_t)below(g, 240) - 120; /* room to adjust by up to 8 */
	if (chance(g, 50))
		return (int64_t)below(g, 0x20000) - 0x10000;
	return (int32_t)(uint32_t)rnd(g) / 2;
}

static bool fits32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* A register used in an address: 32-bit addressing leaves garbage above bit 31. */
void gen_set_addr_reg(struct gen *g, int n, uint64_t v)
{
	if (g->addr32)
		v = (v & 0xffffffffULL) | (rnd(g) & 0xffffffff00000000ULL);
	g->gpr[n] = v;
	pin(g, n);
}

static void choose_mem(struct gen *g)
{
	const struct dt_form *f = g->f;
	unsigned len = mem_len(f);
	unsigned align = len >= 16 ? 16 : (len & (len - 1)) ? 8 : len;
	uint64_t am = g->addr32 ? 0xffffffffULL : ~0ULL;
	int avoid = f->cls == C_BTM ? g->reg : -1;
	uint64_t ea = gen_pick_ea(g, len, align, f->fl & DT_F_A16 ? 90 : 60);
	unsigned k = (unsigned)below(g, 100);
	uint8_t val[64];

	g->base = g->index = -1;
	g->mode = k < 30 ? M_BASE : k < 60 ? M_SIB : k < 72 ? M_NOBASE : M_RIP;
	if (g->mode == M_RIP && !g->addr32 &&
	    !fits32((int64_t)(ea - (DT_CODE_BASE + DT_INSN_OFF + 16))))
		g->mode = M_BASE;
	if (g->mode == M_NOBASE && !g->addr32 && chance(g, 30) && fits32((int64_t)ea)) {
		g->dispkind = 2;
		g->disp = (int64_t)ea;
	} else if (g->mode == M_NOBASE) {
		g->index = pick_gpr(g, RSP, avoid, false);
		g->scale = (unsigned)below(g, 4);
		g->dispkind = 2;
		g->disp = pick_disp(g, 1);
		uint64_t t = (ea - (uint64_t)g->disp) & am, r = t % (1u << g->scale);
		g->disp += (int64_t)r;
		gen_set_addr_reg(g, g->index, (t - r) >> g->scale);
	} else if (g->mode == M_BASE || g->mode == M_SIB) {
		g->base = pick_gpr(g, avoid, -1, true);
		g->dispkind = (int)below(g, 3);
		if ((g->base & 7) == 5 && g->dispkind == 0)
			g->dispkind = 1;
		g->disp = pick_disp(g, g->dispkind);
		if (g->mode == M_SIB) {
			g->index = pick_gpr(g, RSP, avoid, false);
			g->scale = (unsigned)below(g, 4);
		}
		if (g->mode == M_BASE && pinned(g, g->base)) {
			uint64_t bv = g->gpr[g->base];
			int64_t d = (int64_t)(ea - bv);
			if (g->addr32)
				d = (int32_t)(uint32_t)d;
			if (g->dispkind == 2 && fits32(d))
				g->disp = d;
			ea = (bv + (uint64_t)g->disp) & am;
		} else if (g->mode == M_BASE) {
			gen_set_addr_reg(g, g->base, (ea - (uint64_t)g->disp) & am);
		} else if (pinned(g, g->base)) {
			uint64_t t = (ea - g->gpr[g->base] - (uint64_t)g->disp) & am;
			uint64_t r = t % (1u << g->scale);
			g->disp += (int64_t)r;
			if (g->dispkind == 0 && r)
				g->dispkind = 1;
			gen_set_addr_reg(g, g->index, (t - r) >> g->scale);
		} else if (g->base == g->index) {
			uint64_t m = 1 + (1u << g->scale);
			uint64_t t = (ea - (uint64_t)g->disp) & am, r = t % m;
			g->disp += (int64_t)r;
			if (g->dispkind == 0 && r)
				g->dispkind = 1;
			gen_set_addr_reg(g, g->base, (t - r) / m);
		} else {
			uint64_t iv;
			switch (below(g, 4)) {
			case 0:
				iv = 0;
				break;
			case 1:
				iv = gv_int(&g->r, 64);
				break;
			default:
				iv = below(g, 128) - 64;
				break;
			}
			gen_set_addr_reg(g, g->index, iv);
			gen_set_addr_reg(g, g->base,
			                 (ea - (uint64_t)g->disp - (g->gpr[g->index] << g->scale)) &
			                     am);
		}
	} else {
		g->riprel = true; /* disp patched once the length is known */
	}
	g->ea = ea;
	g->c->ea = ea;
	g->c->has_mem = true;
	gv_mem_value(&g->r, val, f->size, f->cls);
	if (in_data(ea, len))
		memcpy((void *)ea, val, len);
}
/* ---- operands and prefixes ---- */

static void choose_operands(struct gen *g)
{
	const struct dt_form *f = g->f;
	bool norex = f->fl & DT_F_NOREX;
	int lim = norex ? 8 : 16;

	g->reg = g->rm = g->opreg = g->vvvv = -1;
	if (f->modrm & DT_MK_MODRM) {
		if (!(f->modrm & DT_HAS_EXT))
			g->reg = (int)below(g, (uint64_t)lim);
		g->mem = (f->modrm & DT_RM_MEM) && (!(f->modrm & DT_RM_REG) || chance(g, 50));
		if (!g->mem) {
			do
				g->rm = (int)below(g, f->fl & DT_F_RMX87 ? 8 : (uint64_t)lim);
			while ((f->fl & DT_F_NOSP) && g->rm == RSP);
		}
	}
	if (f->modrm & DT_MK_OPREG)
		g->opreg = (int)below(g, (uint64_t)lim);
	if (f->vex) {
		g->vvvv = (f->fl & DT_F_NOVVVV) && chance(g, 90) ? 0 : (int)below(g, 16);
		g->vex_l = chance(g, 3);
	}
	g->c->rm_reg = g->rm;
	if (g->mem && chance(g, 8))
		g->addr32 = true;
	if ((f->cls == C_STR || f->cls == C_XLAT) && chance(g, 10))
		g->addr32 = true;
}

static void choose_prefixes(struct gen *g)
{
	const struct dt_form *f = g->f;
	static const uint8_t segs[4] = {0x26, 0x2e, 0x36, 0x3e};
	bool need;

	if (!f->vex) {
		if (f->fl & DT_F_LOCK)
			g->lock = g->mem ? chance(g, 25) : chance(g, 3);
		else
			g->lock = below(g, 200) == 0;
	}
	if (g->mem && chance(g, 5))
		g->seg = segs[below(g, 4)];
	need = (f->fl & DT_F_W) || g->reg >= 8 || g->rm >= 8 || g->opreg >= 8 || g->base >= 8 ||
	       g->index >= 8;
	if (f->vex)
		g->rex = true; /* for byte-register semantics: VEX forms have none */
	else
		g->rex = need || (!(f->fl & DT_F_NOREX) && chance(g, 20));
}
/* ---- encoding ---- */

static unsigned imm_len(unsigned kind)
{
	static const uint8_t len[] = {[DT_I0] = 0,  [DT_I8] = 1, [DT_I16] = 2, [DT_I32] = 4,
	                              [DT_I64] = 8, [DT_R8] = 1, [DT_R32] = 4, [DT_I16I8] = 3};
	return len[kind];
}

static void encode(struct gen *g)
{
	const struct dt_form *f = g->f;
	struct dt_case *c = g->c;
	uint8_t *p = c->insn;
	int regf = (f->modrm & DT_HAS_EXT) ? (f->modrm & 7) : g->reg;
	unsigned R = g->reg >= 8, X = g->index >= 8;
	unsigned B = g->mem ? g->base >= 8 : (g->rm >= 8 || g->opreg >= 8);
	unsigned W = (f->fl & DT_F_W) != 0;

	if (g->lock)
		*p++ = 0xf0;
	if (g->seg)
		*p++ = g->seg;
	if (g->addr32)
		*p++ = 0x67;
	memcpy(p, f->pfx, f->npfx);
	p += f->npfx;
	if (f->vex) {
		*p++ = 0xc4;
		*p++ = (uint8_t)(!R << 7 | !X << 6 | !B << 5 | (f->vex & 3));
		*p++ = (uint8_t)(((f->vex >> 6) & 1) << 7 | (~g->vvvv & 15) << 3 | g->vex_l << 2 |
		                 ((f->vex >> 4) & 3));
	} else if (g->rex) {
		*p++ = (uint8_t)(0x40 | W << 3 | R << 2 | X << 1 | B);
	}
	memcpy(p, f->op, f->nop);
	p += f->nop;
	if (f->modrm & DT_MK_OPREG)
		p[-1] |= (uint8_t)(g->opreg & 7);
	if (f->modrm & DT_MK_MODRM) {
		unsigned rf = (unsigned)(regf & 7) << 3;
		if (!g->mem) {
			*p++ = (uint8_t)(0xc0 | rf | (g->rm & 7));
		} else if (g->riprel) {
			*p++ = (uint8_t)(rf | 5);
			g->disp_pos = (unsigned)(p - c->insn);
			p += 4;
		} else {
			unsigned mod = g->mode == M_NOBASE ? 0 : (unsigned)g->dispkind;
			if (g->mode == M_BASE && (g->base & 7) != 4) {
				*p++ = (uint8_t)(mod << 6 | rf | (g->base & 7));
			} else {
				unsigned idx = g->index >= 0 ? (unsigned)g->index & 7 : 4;
				unsigned base = g->mode == M_NOBASE ? 5 : (unsigned)g->base & 7;
				*p++ = (uint8_t)(mod << 6 | rf | 4);
				*p++ = (uint8_t)(g->scale << 6 | idx << 3 | base);
			}
			if (g->mode == M_NOBASE || g->dispkind == 2) {
				int32_t d = (int32_t)g->disp;
				memcpy(p, &d, 4);
				p += 4;
			} else if (g->dispkind == 1) {
				*p++ = (uint8_t)(int8_t)g->disp;
			}
		}
	}
	g->imm_pos = (unsigned)(p - c->insn);
	memcpy(p, &g->imm, imm_len(f->imm));
	p += imm_len(f->imm);
	c->len = (unsigned)(p - c->insn);
}

/* ---- code page: the instruction and its landing stubs ---- */

static void put_stub(uint64_t at, unsigned idx)
{
	uint8_t *p = (uint8_t *)at;
	uint64_t entry = dt_native_capture_entry(idx);

	if (at < DT_CODE_BASE || at > DT_CODE_BASE + DT_PAGE - STUB_LEN)
		return;
	p[0] = 0xff; /* jmp [rip+0] */
	p[1] = 0x25;
	memset(p + 2, 0, 4);
	memcpy(p + 6, &entry, 8);
}

static uint64_t pick_stub(struct gen *g, uint64_t start, uint64_t next)
{
	for (;;) {
		uint64_t a = DT_CODE_BASE + below(g, DT_PAGE - STUB_LEN);
		if (a + STUB_LEN <= start || a >= next + STUB_LEN)
			return a;
	}
}

/* A branch target for RET/JMP r/m/CALL r/m: a stub, sometimes a faulting address. */
static uint64_t pick_target(struct gen *g, const struct dt_case *c)
{
	unsigned k = (unsigned)below(g, 100);

	if (k < 3)
		return DT_DATA_BASE + below(g, DT_DATA_SIZE);
	if (k < 5)
		return 0x0000800000000000ULL + below(g, 1ULL << 32);
	return k < 50 ? c->land[0] : c->land[1];
}

static void place(struct gen *g)
{
	const struct dt_form *f = g->f;
	struct dt_case *c = g->c;
	uint8_t *code = (uint8_t *)DT_CODE_BASE;
	uint64_t off = DT_INSN_OFF, start, next;
	unsigned inside = c->len;
	int64_t disp = 0;

	/* Sometimes the instruction runs off the code page into the guard page: fetch #PF. */
	if (f->cls != C_REL && f->cls != C_RET && f->cls != C_JIND && c->len > 1 && chance(g, 2)) {
		inside = 1 + (unsigned)below(g, c->len - 1);
		off = DT_PAGE - inside;
	}
	start = DT_CODE_BASE + off;
	next = start + c->len;

	if (g->riprel) {
		int32_t d = (int32_t)(uint32_t)(g->ea - next);
		memcpy(c->insn + g->disp_pos, &d, 4);
	}
	c->in.rip = start;
	c->land[0] = next;
	c->nland = 1;
	switch (f->cls) {
	case C_REL:
		if (chance(g, 10)) {
			disp = 0;
		} else if (f->imm == DT_R8) {
			if (chance(g, 50))
				disp = 14 + (int64_t)below(g, 114);
			else
				disp = -(int64_t)(c->len + STUB_LEN) -
				       (int64_t)below(g, 128 - c->len - STUB_LEN + 1);
		} else if (chance(g, 5)) {
			disp = (int64_t)(DT_DATA_BASE + below(g, DT_DATA_SIZE) - next);
		} else {
			disp = (int64_t)(pick_stub(g, start, next) - next);
		}
		memcpy(c->insn + g->imm_pos, &disp, imm_len(f->imm));
		if (disp) {
			c->land[1] = next + (uint64_t)disp;
			c->nland = 2;
		}
		break;
	case C_RET:
	case C_JIND:
		c->land[1] = pick_stub(g, start, next);
		c->nland = 2;
		if (f->cls == C_RET)
			gen_mem_put(g->gpr[RSP], pick_target(g, c), 8);
		else
			gen_set_rm(g, 64, pick_target(g, c));
		break;
	default:
		break;
	}
	memset(code, 0xcc, DT_PAGE);
	memcpy(code + off, c->insn, inside);
	put_stub(c->land[0], 0);
	if (c->nland > 1)
		put_stub(c->land[1], 1);
}

void dt_gen_case(const struct dt_form *f, uint64_t seed, struct dt_case *c)
{
	struct gen g;

	memset(&g, 0, sizeof(g));
	memset(c, 0, sizeof(*c));
	g.c = c;
	g.f = f;
	g.gpr = c->in.gpr;
	g.base = g.index = -1;
	c->form = f;
	c->seed = seed;
	c->rm_reg = -1;
	dt_rng_seed(&g.r, seed);

	random_state(&g);
	choose_operands(&g);
	if (f->fl & DT_F_STK)
		pin(&g, RSP);
	g.safe_ea = f->cls == C_JIND;
	if (g.mem)
		choose_mem(&g);
	choose_prefixes(&g);
	g.imm = f->cls == C_SSEF || f->cls == C_SSED || f->cls == C_SSEI || f->cls == C_PCMPSTR
	            ? rnd(&g)
	            : gv_int(&g.r, imm_len(f->imm) * 8);
	gen_setup_class(&g);
	encode(&g);
	place(&g);
}

void dt_gen_init_ro(uint8_t *ro_page, uint64_t seed)
{
	struct dt_rng r;

	dt_rng_seed(&r, seed);
	for (unsigned i = 0; i < DT_PAGE; i += 8) {
		uint64_t v = dt_rng_next(&r);
		memcpy(ro_page + i, &v, 8);
	}
}
