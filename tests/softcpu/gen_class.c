/*
 * Class-specific operands for the case generator (difftest.h, enum
 * dt_class): shift counts, DIV/IDIV dividends and divisors, string
 * pointers and counts, CMPXCHG accumulators, BT bit offsets, moffs, POPF
 * images, XLAT tables, ENTER/LEAVE frames, PCMPESTRx lengths, LDMXCSR values.
 */
#include <string.h>

#include "difftest.h"
#include "gen_internal.h"

static unsigned pick_count(struct gen *g)
{
	static const uint8_t counts[] = {0,  1,  2,  3,  4,  7,  8,  9,  15,  16,  17,
	                                 24, 31, 32, 33, 48, 63, 64, 65, 127, 128, 255};
	if (chance(g, 25))
		return (unsigned)(rnd(g) & 0xff);
	return counts[below(g, sizeof(counts))];
}
static void setup_div(struct gen *g)
{
	unsigned bits = g->f->size;
	bool sgn = (g->f->modrm & 7) == 7;
	uint64_t m = gv_mask(bits), smin = 1ULL << (bits - 1), d, hi, lo;
	__extension__ typedef unsigned __int128 u128;
	__extension__ typedef __int128 s128;

	switch (below(g, 10)) {
	case 0:
		d = 0;
		break;
	case 1:
		d = 1;
		break;
	case 2:
		d = m;
		break;
	case 3:
		d = smin;
		break;
	case 4:
		d = gv_int(&g->r, bits) & m;
		break;
	default:
		d = (rnd(g) >> below(g, 64)) & m;
		break;
	}
	switch (below(g, 10)) {
	case 0:
	case 1:
	case 2:
	case 3: {
		u128 q, x;
		if (sgn) {
			s128 sd = (int64_t)(d << (64 - bits)) >> (64 - bits);
			s128 sq = (int64_t)((rnd(g) & (m >> 2)) << (64 - bits)) >> (64 - bits);
			s128 r = d ? (s128)(rnd(g) % (sd < 0 ? -(u128)sd : (u128)sd)) : 0;
			x = (u128)(sq * sd + (sq < 0 ? -r : r));
		} else {
			q = rnd(g) & m;
			x = q * d + (d ? rnd(g) % d : 0);
		}
		lo = (uint64_t)x & m;
		hi = (uint64_t)(x >> bits) & m;
		break;
	}
	case 4:
		hi = d + (rnd(g) & 0xff);
		lo = rnd(g);
		break;
	case 5:
		lo = smin;
		hi = m;
		d = m;
		break;
	case 6:
		hi = 0;
		lo = rnd(g);
		break;
	default:
		hi = rnd(g);
		lo = rnd(g);
		break;
	}
	if (bits == 8) {
		gen_set_reg(g, RAX, 16, (hi & 0xff) << 8 | (lo & 0xff));
	} else {
		gen_set_reg(g, RDX, bits, hi);
		gen_set_reg(g, RAX, bits, lo);
	}
	gen_set_rm(g, bits, d);
}

static uint64_t str_ptr(struct gen *g, uint64_t span, unsigned e, bool df)
{
	if (span + e <= DT_DATA_SIZE && chance(g, 92)) {
		if (df)
			return DT_DATA_BASE + span - e + below(g, DT_DATA_SIZE - span + 1);
		return DT_DATA_BASE + below(g, DT_DATA_SIZE - span + 1);
	}
	return gen_pick_ea(g, e, e, 50);
}

static void setup_str(struct gen *g)
{
	const struct dt_form *f = g->f;
	unsigned e = f->size / 8, k = (unsigned)below(g, 100);
	uint8_t op = f->op[0];
	bool rep = false, df = chance(g, 40);
	uint64_t n, si, di, span, hiw = g->addr32 ? rnd(g) & 0xffffffff00000000ULL : 0;

	for (unsigned i = 0; i < f->npfx; i++)
		rep |= f->pfx[i] == 0xf3 || f->pfx[i] == 0xf2;
	n = k < 10 ? 0 : k < 70 ? 1 + below(g, 8) : k < 92 ? 9 + below(g, 56) : 65 + below(g, 1100);
	span = rep ? n * e : e;
	si = str_ptr(g, span, e, df);
	di = str_ptr(g, span, e, df);
	g->c->in.rflags = (g->c->in.rflags & ~(uint64_t)DFLAG) | (df ? DFLAG : 0);
	g->gpr[RSI] = si | hiw;
	g->gpr[RDI] = di | (g->addr32 ? rnd(g) << 32 : 0);
	g->gpr[RCX] = rep ? n | (g->addr32 ? rnd(g) << 32 : 0) : rnd(g);
	pin(g, RSI);
	pin(g, RDI);
	pin(g, RCX);
	if (!rep || !span || !chance(g, 60))
		return;
	uint64_t lo_s = df ? si + e - span : si, lo_d = df ? di + e - span : di;
	if ((op == 0xa6 || op == 0xa7) && in_data(lo_s, span) && in_data(lo_d, span)) {
		memmove((void *)lo_d, (void *)lo_s, span);
		if (chance(g, 50))
			((uint8_t *)lo_d)[below(g, span)] ^= (uint8_t)(1 + below(g, 255));
	} else if ((op == 0xae || op == 0xaf) && in_data(lo_d, span)) {
		for (uint64_t i = 0; i < span; i += e)
			memcpy((void *)(lo_d + i), &g->gpr[RAX], e);
		if (chance(g, 50))
			((uint8_t *)lo_d)[below(g, span)] ^= (uint8_t)(1 + below(g, 255));
	}
}

/*
 * Would a far BT offset (a random register) reach what gen_pick_ea never
 * picks: a canonical kernel-half address (the host faults there with P = 1,
 * user_mem with P = 0: docs/softcpu.md, "Limits") or the code page (RWX
 * natively, read-only for the interpreter)?
 */
static bool btm_off_limits(struct gen *g)
{
	unsigned bits = g->f->size, sh = 64 - bits;
	int64_t off = (int64_t)(gen_get_reg(g, g->reg, bits) << sh) >> sh;
	uint64_t a = g->ea + ((uint64_t)(off >> __builtin_ctz(bits)) << __builtin_ctz(bits / 8));
	if (g->addr32)
		a &= 0xffffffffULL;
	return a >= 0xffff800000000000ULL || (a >= DT_CODE_BASE - 8 && a < DT_CODE_BASE + DT_PAGE);
}

void gen_setup_class(struct gen *g)
{
	const struct dt_form *f = g->f;
	struct dt_case *c = g->c;
	uint64_t v;

	switch (f->cls) {
	case C_SHCL:
		gen_set_reg(g, RCX, 8, pick_count(g));
		c->count = (unsigned)(g->gpr[RCX] & 0xff);
		break;
	case C_SHI:
		g->imm = pick_count(g);
		c->count = (unsigned)g->imm;
		break;
	case C_SH1:
		c->count = 1;
		break;
	case C_DIV:
		setup_div(g);
		break;
	case C_STR:
		setup_str(g);
		break;
	case C_CX:
		if (chance(g, 50))
			gen_set_reg(g, RAX, f->size, gen_get_rm(g, f->size));
		break;
	case C_CX8:
		if (chance(g, 50)) {
			unsigned h = f->size / 2;
			gen_set_reg(g, RAX, h, gen_mem_get(g->ea, h / 8));
			gen_set_reg(g, RDX, h, gen_mem_get(g->ea + h / 8, h / 8));
		}
		break;
	case C_BTM:
		if (g->mem && chance(g, 85))
			gen_set_reg(g, g->reg, f->size, below(g, 1024) - 512);
		if (g->mem && btm_off_limits(g))
			gen_set_reg(g, g->reg, f->size, below(g, 512));
		break;
	case C_MOFFS:
		g->ea = gen_pick_ea(g, f->size / 8, f->size / 8, 60);
		g->imm = g->ea;
		c->ea = g->ea;
		c->has_mem = true;
		break;
	case C_POPF:
		v = 0x202 | (rnd(g) & (ARITH | DFLAG | 0x8028)) | (chance(g, 50) ? 1u << 21 : 0);
		gen_mem_put(g->gpr[RSP], v, f->size / 8);
		break;
	case C_XLAT:
		g->ea = gen_pick_ea(g, 1, 1, 0);
		gen_set_addr_reg(g, RBX, g->ea - (g->gpr[RAX] & 0xff));
		break;
	case C_LEAVE:
		g->gpr[RBP] = gen_pick_ea(g, 8, 8, 90);
		pin(g, RBP);
		break;
	case C_ENTER:
		g->gpr[RBP] = DT_DATA_BASE + 0x200 + (below(g, 0x1c00) & ~7ULL);
		g->gpr[RSP] = DT_DATA_BASE + 0x1000 + (below(g, 0xf00) & ~7ULL);
		pin(g, RBP);
		v = chance(g, 90) ? below(g, 65) : below(g, 0x10000);
		if (chance(g, 30))
			g->imm = v;
		else if (chance(g, 45))
			g->imm = v | 1ULL << 16;
		else if (chance(g, 85))
			g->imm = v | (2 + below(g, 3)) << 16;
		else
			g->imm = v | below(g, 32) << 16;
		break;
	case C_LDMXCSR:
		if (chance(g, 85))
			gen_mem_put(g->ea, rnd(g) & 0xffff, 4);
		break;
	case C_PCMPSTR:
		gen_set_reg(g, RAX, 64, chance(g, 80) ? below(g, 41) - 20 : gv_int(&g->r, 32));
		gen_set_reg(g, RDX, 64, chance(g, 80) ? below(g, 41) - 20 : gv_int(&g->r, 32));
		break;
	default:
		break;
	}
}
