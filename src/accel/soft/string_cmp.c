/*
 * String compares: CMPS and SCAS with and without REPE/REPNE (SDM vol. 2,
 * "CMPS/CMPSB/CMPSW/CMPSD/CMPSQ", "SCAS/SCASB/SCASW/SCASD", "REP/REPE/
 * REPZ/REPNE/REPNZ"). CMPS sets the flags of [RSI] - [RDI], SCAS those
 * of rAX - [RDI], like CMP (lazy
 * LF_SUB). REPE stops after an element that compares unequal, REPNE after
 * one that compares equal, both when RCX reaches 0; with RCX = 0 nothing is
 * read and the flags are unchanged. CMPS reads ES:[RDI] before [RSI]: the
 * AMD host reports a fault on the destination when both would fault
 * (MOVS reads the source first).
 *
 * The repeated forms search a chunk (string_impl.h) on host pointers for
 * the first element that ends the loop (memchr for REPNE SCASB), then set
 * the flags of that element, or of the chunk's last one, once.
 */
#define _GNU_SOURCE /* memrchr */
#include "accel/soft/flags.h"
#include "accel/soft/ops.h"
#include "accel/soft/string_impl.h"

enum { REP_NONE, REP_E, REP_NE };

static inline __attribute__((always_inline)) void str_cmp_flags(struct cpu *cpu, unsigned sz,
                                                                uint64_t a, uint64_t b)
{
	lf_set(cpu, LF_SUB, sz, (a - b) & size_mask(sz), a, b);
}

/* Does the comparison of a and b end a REPE (unequal) or REPNE (equal) loop? */
static inline __attribute__((always_inline)) bool str_ends(bool ne, uint64_t a, uint64_t b)
{
	return (a == b) == ne;
}

/* The host address of element k of a chunk processed upwards or downwards from p. */
static inline __attribute__((always_inline)) const uint8_t *str_at(const uint8_t *p, uint64_t k,
                                                                   unsigned sz, bool df)
{
	return df ? p - (k << sz) : p + (k << sz);
}

/* ---- SCAS ---- */

/* The first of n elements from p that ends the loop for the value a, or n. */
static inline __attribute__((always_inline)) uint64_t
scas_find(const uint8_t *p, uint64_t n, unsigned sz, bool df, uint64_t a, bool ne)
{
	uint64_t k = 0;
	if (sz == SZ8 && ne) {
		const uint8_t *f = df ? memrchr(p - (n - 1), (int)a, n) : memchr(p, (int)a, n);
		return f ? (uint64_t)(df ? p - f : f - p) : n;
	}
	if (sz == SZ8 && !df) {
		uint64_t pat = a * 0x0101010101010101ULL, x;
		for (; k + 8 <= n; k += 8) {
			memcpy(&x, p + k, 8);
			if (x != pat)
				return k + (unsigned)__builtin_ctzll(x ^ pat) / 8;
		}
	}
	for (; k < n; k++)
		if (str_ends(ne, a, str_ld(str_at(p, k, sz, df), sz)))
			return k;
	return n;
}

static inline __attribute__((always_inline)) void scas_one(struct cpu *cpu, const struct insn *i,
                                                           unsigned sz, unsigned as, bool df)
{
	uint64_t di = str_reg(cpu, as, R_RDI);
	uint64_t b = mem_read(cpu, i, str_dst(cpu, i, di), sz);
	str_cmp_flags(cpu, sz, reg_get(cpu, sz, R_RAX), b);
	str_set(cpu, as, R_RDI, di + (df ? -(uint64_t)(1u << sz) : 1u << sz));
}

static inline __attribute__((always_inline)) const struct insn *
rep_scas(struct cpu *cpu, const struct insn *i, unsigned sz, unsigned as, bool ne)
{
	uint64_t cnt = str_reg(cpu, as, R_RCX), a = reg_get(cpu, sz, R_RAX);
	bool df = str_df(cpu), stop;
	while (cnt) {
		uint64_t di = str_reg(cpu, as, R_RDI), da = str_dst(cpu, i, di);
		uint64_t n = MIN(str_room(da, di, as, sz, df), cnt);
		unsigned fl = 0;
		const uint8_t *h = NULL;
		if (likely(n))
			h = str_host(cpu, i, da, false, &fl);
		if (unlikely(!n || fl)) {
			scas_one(cpu, i, sz, as, df);
			str_set(cpu, as, R_RCX, --cnt);
			stop = (cpu->lf.res == 0) == ne;
		} else {
			uint64_t k = scas_find(h, n, sz, df, a, ne), done = k < n ? k + 1 : n;
			str_cmp_flags(cpu, sz, a, str_ld(str_at(h, done - 1, sz, df), sz));
			str_set(cpu, as, R_RDI, di + (df ? -(done << sz) : done << sz));
			cnt -= done;
			str_set(cpu, as, R_RCX, cnt);
			stop = k < n;
		}
		if (stop || !cnt)
			break;
		if (unlikely(str_yield(cpu)))
			return str_suspend(cpu, i);
	}
	return insn_next(cpu, i);
}

/* ---- CMPS ---- */

static inline __attribute__((always_inline)) uint64_t
cmps_find(const uint8_t *s, const uint8_t *d, uint64_t n, unsigned sz, bool df, bool ne)
{
	uint64_t k = 0;
	if (sz == SZ8 && !df && !ne) {
		uint64_t x, y;
		for (; k + 8 <= n; k += 8) {
			memcpy(&x, s + k, 8);
			memcpy(&y, d + k, 8);
			if (x != y)
				return k + (unsigned)__builtin_ctzll(x ^ y) / 8;
		}
	}
	for (; k < n; k++)
		if (str_ends(ne, str_ld(str_at(s, k, sz, df), sz),
		             str_ld(str_at(d, k, sz, df), sz)))
			return k;
	return n;
}

static inline __attribute__((always_inline)) void cmps_one(struct cpu *cpu, const struct insn *i,
                                                           unsigned sz, unsigned as, bool df)
{
	uint64_t si = str_reg(cpu, as, R_RSI), di = str_reg(cpu, as, R_RDI);
	uint64_t step = df ? -(uint64_t)(1u << sz) : 1u << sz;
	uint64_t b = mem_read(cpu, i, str_dst(cpu, i, di), sz);
	uint64_t a = mem_read(cpu, i, str_src(cpu, i, si), sz);
	str_cmp_flags(cpu, sz, a, b);
	str_set(cpu, as, R_RSI, si + step);
	str_set(cpu, as, R_RDI, di + step);
}

static inline __attribute__((always_inline)) const struct insn *
rep_cmps(struct cpu *cpu, const struct insn *i, unsigned sz, unsigned as, bool ne)
{
	uint64_t cnt = str_reg(cpu, as, R_RCX);
	bool df = str_df(cpu), stop;
	while (cnt) {
		uint64_t si = str_reg(cpu, as, R_RSI), di = str_reg(cpu, as, R_RDI);
		uint64_t sa = str_src(cpu, i, si), da = str_dst(cpu, i, di);
		uint64_t n = MIN(str_room(sa, si, as, sz, df), str_room(da, di, as, sz, df));
		unsigned fs = 0, fd = 0;
		const uint8_t *hs = NULL, *hd = NULL;
		n = MIN(n, cnt);
		if (likely(n)) {
			hd = str_host(cpu, i, da, false, &fd);
			hs = str_host(cpu, i, sa, false, &fs);
		}
		if (unlikely(!n || fs || fd)) {
			cmps_one(cpu, i, sz, as, df);
			str_set(cpu, as, R_RCX, --cnt);
			stop = (cpu->lf.res == 0) == ne;
		} else {
			uint64_t k = cmps_find(hs, hd, n, sz, df, ne), done = k < n ? k + 1 : n;
			uint64_t delta = df ? -(done << sz) : done << sz;
			str_cmp_flags(cpu, sz, str_ld(str_at(hs, done - 1, sz, df), sz),
			              str_ld(str_at(hd, done - 1, sz, df), sz));
			str_set(cpu, as, R_RSI, si + delta);
			str_set(cpu, as, R_RDI, di + delta);
			cnt -= done;
			str_set(cpu, as, R_RCX, cnt);
			stop = k < n;
		}
		if (stop || !cnt)
			break;
		if (unlikely(str_yield(cpu)))
			return str_suspend(cpu, i);
	}
	return insn_next(cpu, i);
}

/* ---- handlers: operation x REP kind x address size x operand size ---- */

#define STR_CMP_H(sz, as)                                                                          \
	HANDLER(scas_##sz##_##as)                                                                  \
	{                                                                                          \
		scas_one(cpu, i, sz, as, str_df(cpu));                                             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(repe_scas_##sz##_##as)                                                             \
	{                                                                                          \
		return rep_scas(cpu, i, sz, as, false);                                            \
	}                                                                                          \
	HANDLER(repne_scas_##sz##_##as)                                                            \
	{                                                                                          \
		return rep_scas(cpu, i, sz, as, true);                                             \
	}                                                                                          \
	HANDLER(cmps_##sz##_##as)                                                                  \
	{                                                                                          \
		cmps_one(cpu, i, sz, as, str_df(cpu));                                             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(repe_cmps_##sz##_##as)                                                             \
	{                                                                                          \
		return rep_cmps(cpu, i, sz, as, false);                                            \
	}                                                                                          \
	HANDLER(repne_cmps_##sz##_##as)                                                            \
	{                                                                                          \
		return rep_cmps(cpu, i, sz, as, true);                                             \
	}
#define STR_CMP_AS(as)                                                                             \
	STR_CMP_H(SZ8, as) STR_CMP_H(SZ16, as) STR_CMP_H(SZ32, as) STR_CMP_H(SZ64, as)

STR_CMP_AS(SZ16)
STR_CMP_AS(SZ32)
STR_CMP_AS(SZ64)

#define STR_ROW(name, as)                                                                          \
	{                                                                                          \
		name##_SZ8_##as, name##_SZ16_##as, name##_SZ32_##as, name##_SZ64_##as              \
	}
#define STR_TABLE(name)                                                                            \
	{                                                                                          \
		STR_ROW(name, SZ16), STR_ROW(name, SZ32), STR_ROW(name, SZ64)                      \
	}

/* [REP_NONE / REP_E / REP_NE][address size - SZ16][operand size] */
static const insn_fn scas_fns[3][3][4] = {STR_TABLE(scas), STR_TABLE(repe_scas),
                                          STR_TABLE(repne_scas)};
static const insn_fn cmps_fns[3][3][4] = {STR_TABLE(cmps), STR_TABLE(repe_cmps),
                                          STR_TABLE(repne_cmps)};

insn_fn string_cmp_select(const struct decode *d)
{
	struct insn *in = d->insn;
	unsigned rep = d->rep == 0xf3 ? REP_E : d->rep == 0xf2 ? REP_NE : REP_NONE;
	unsigned as = d->asize - SZ16;
	/* Source segment as decoded (string_impl.h); ES for the destination. */
	in->seg &= 7;
	in->index = d->mode == CPU_MODE_LONG64 ? S_NONE : S_ES;
	switch (d->op) {
	case OP_SCAS:
		return scas_fns[rep][as][d->osize];
	case OP_CMPS:
		return cmps_fns[rep][as][d->osize];
	default:
		return NULL;
	}
}
