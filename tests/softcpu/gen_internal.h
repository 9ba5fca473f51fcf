/* The case generator's internals, shared by gen.c, gen_class.c and gen_values.c. */
#ifndef EMBER_TESTS_SOFTCPU_GEN_INTERNAL_H
#define EMBER_TESTS_SOFTCPU_GEN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "difftest.h"

/* Uniform in [0, n). */
uint64_t gv_below(struct dt_rng *r, uint64_t n);
/* All ones in the low bits (64 for >= 64). */
uint64_t gv_mask(unsigned bits);
/* Random with edge cases of size bits mixed in (upper bits random, 0 or 1). */
uint64_t gv_int(struct dt_rng *r, unsigned bits);
uint32_t gv_f32(struct dt_rng *r);
uint64_t gv_f64(struct dt_rng *r);
void gv_f80(struct dt_rng *r, uint8_t out[10]);
/* One XMM register biased by class (C_SSEF: floats, C_SSED: doubles). */
void gv_xmm(struct dt_rng *r, uint8_t out[16], unsigned cls);
/* A memory operand value of bits/8 bytes (80: an x87 extended real). */
void gv_mem_value(struct dt_rng *r, uint8_t *dst, unsigned bits, unsigned cls);

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

#define ARITH 0x8d5u
#define DFLAG 0x400u

/* One case being generated (gen.c builds it, gen_class.c adds class-specific operands). */
struct gen {
	struct dt_rng r;
	struct dt_case *c;
	const struct dt_form *f;
	uint64_t *gpr;
	uint32_t pinned;
	bool lock, addr32, rex, riprel;
	bool safe_ea; /* the operand is a branch target: never read the RO page's random bytes */
	uint8_t seg;
	int reg, rm, opreg, vvvv;
	bool vex_l;
	bool mem;
	int mode, base, index, dispkind;
	unsigned scale;
	int64_t disp;
	uint64_t ea;
	uint64_t imm;
	unsigned disp_pos, imm_pos;
};

static inline uint64_t rnd(struct gen *g)
{
	return dt_rng_next(&g->r);
}

static inline uint64_t below(struct gen *g, uint64_t n)
{
	return gv_below(&g->r, n);
}

static inline bool chance(struct gen *g, unsigned pct)
{
	return below(g, 100) < pct;
}

static inline bool pinned(struct gen *g, int n)
{
	return n >= 0 && (g->pinned >> n) & 1;
}

static inline void pin(struct gen *g, int n)
{
	if (n >= 0)
		g->pinned |= 1u << n;
}

static inline bool in_data(uint64_t a, uint64_t len)
{
	return a >= DT_DATA_BASE && a + len >= a && a + len <= DT_DATA_BASE + DT_DATA_SIZE;
}

/* Sandbox memory, when [a, a+len) is inside the data pages (else nothing / 0). */
void gen_mem_put(uint64_t a, uint64_t v, unsigned len);
uint64_t gen_mem_get(uint64_t a, unsigned len);
/* Register n as this encoding sees it (AH-BH without REX); pinned registers stay. */
void gen_set_reg(struct gen *g, int n, unsigned bits, uint64_t v);
uint64_t gen_get_reg(struct gen *g, int n, unsigned bits);
/* The ModRM r/m operand, register or memory. */
void gen_set_rm(struct gen *g, unsigned bits, uint64_t v);
uint64_t gen_get_rm(struct gen *g, unsigned bits);
/* An address for a len-byte access: mostly data, sometimes a faulting one. */
uint64_t gen_pick_ea(struct gen *g, unsigned len, unsigned align, unsigned aligned_pct);
/* Sets and pins an address register (garbage upper half under 0x67). */
void gen_set_addr_reg(struct gen *g, int n, uint64_t v);
/* Class-specific operands (gen_class.c), after the ModRM operands are chosen. */
void gen_setup_class(struct gen *g);

#endif
