/*
 * String moves: MOVS, STOS, LODS with and without REP (SDM vol. 2, "MOVS/
 * MOVSB/MOVSW/MOVSD/MOVSQ", "STOS/...", "LODS/...", "REP/REPE/REPZ/REPNE/
 * REPNZ"; vol. 1, 7.3.9.3 "Fast-String Operation"), and INS/OUTS, which are
 * #GP(0) until system mode (vol. 1, 19.5.1 "I/O Privilege Level").
 *
 * REP MOVS/STOS run a page-sized chunk at a time with host memmove/memset
 * (string_impl.h has the execution model). x86 copies element by element:
 * when DF = 0 and the destination starts inside the source (or DF = 1 and
 * it ends inside it) later elements read what earlier ones wrote, which
 * memmove would not reproduce; those chunks get a pattern fill or an
 * element loop. F2 on MOVS/STOS/LODS repeats like F3 (measured on the AMD
 * host; Intel documents REP only).
 */
#include "accel/soft/ops.h"
#include "accel/soft/string_impl.h"

uint8_t *str_host_slow(struct cpu *cpu, const struct insn *i, uint64_t a, bool write, unsigned *fl)
{
	const struct cpu_tlb_entry *e = tlb_entry_for(cpu, a);
	uint64_t page = a & SOFT_PAGE_MASK;
	uint64_t tag = write ? e->tag_write : e->tag_read;
	if (tag == TLB_TAG_EMPTY || (tag & ~TLB_FLAGS_MASK) != page) {
		/*
		 * A miss: mem.c's probe fills the entry or raises the fault
		 * (CR2 = a) without touching memory (an MMIO page stays quiet).
		 */
		mem_probe(cpu, i, a, 1, write ? CPU_ACCESS_WRITE : CPU_ACCESS_READ);
		tag = write ? e->tag_write : e->tag_read;
		if (tag == TLB_TAG_EMPTY || (tag & ~TLB_FLAGS_MASK) != page) {
			/* Allowed but not cacheable (TLB_NOFILL): element by element. */
			*fl = TLB_NOFILL;
			return NULL;
		}
	}
	*fl = (unsigned)(tag & TLB_FLAGS_MASK);
	return (uint8_t *)(uintptr_t)((intptr_t)a + e->addend);
}

/* ---- MOVS ---- */

/*
 * Overlapping chunk of len bytes (elements of e bytes): DF = 0 with dst =
 * src + d, or DF = 1 with dst = src - d, 0 < d < len. With d >= e every
 * element reads bytes that earlier elements already wrote, so the result
 * repeats the d bytes first copied (the lowest for DF = 0, the highest for
 * DF = 1); with d < e an element reads partly old bytes: element loop.
 */
static void movs_overlap(uint8_t *dst, const uint8_t *src, size_t len, size_t d, unsigned e,
                         bool df)
{
	uint64_t t;
	if (d < e) {
		for (size_t k = 0; k < len; k += e) {
			size_t o = df ? len - e - k : k;
			memcpy(&t, src + o, e);
			memcpy(dst + o, &t, e);
		}
		return;
	}
	if (!df) {
		memcpy(dst, src, d);
		for (size_t done = d; done < len;) {
			size_t m = MIN(done, len - done);
			memcpy(dst + done, dst, m);
			done += m;
		}
	} else {
		memcpy(dst + len - d, src + len - d, d);
		for (size_t done = d; done < len;) {
			size_t m = MIN(done, len - done);
			memcpy(dst + len - done - m, dst + len - m, m);
			done += m;
		}
	}
}

/* Copies one chunk: dst and src are the lowest bytes of both ranges. */
static inline __attribute__((always_inline)) void movs_copy(uint8_t *dst, const uint8_t *src,
                                                            size_t len, unsigned sz, bool df)
{
	/* Host addresses: two guest pages may alias one host page. */
	uintptr_t up = (uintptr_t)dst - (uintptr_t)src, down = (uintptr_t)src - (uintptr_t)dst;
	if (unlikely(!df ? up - 1 < len - 1 : down - 1 < len - 1))
		movs_overlap(dst, src, len, df ? down : up, 1u << sz, df);
	else
		memmove(dst, src, len);
}

static inline __attribute__((always_inline)) void movs_one(struct cpu *cpu, const struct insn *i,
                                                           unsigned sz, unsigned as, bool df)
{
	uint64_t si = str_reg(cpu, as, R_RSI), di = str_reg(cpu, as, R_RDI);
	uint64_t step = df ? -(uint64_t)(1u << sz) : 1u << sz;
	uint64_t v = mem_read(cpu, i, str_src(cpu, i, si), sz);
	mem_write(cpu, i, str_dst(cpu, i, di), sz, v);
	str_set(cpu, as, R_RSI, si + step);
	str_set(cpu, as, R_RDI, di + step);
}

static inline __attribute__((always_inline)) const struct insn *
rep_movs(struct cpu *cpu, const struct insn *i, unsigned sz, unsigned as)
{
	uint64_t cnt = str_reg(cpu, as, R_RCX);
	bool df = str_df(cpu);
	while (cnt) {
		uint64_t si = str_reg(cpu, as, R_RSI), di = str_reg(cpu, as, R_RDI);
		uint64_t sa = str_src(cpu, i, si), da = str_dst(cpu, i, di);
		uint64_t n = MIN(str_room(sa, si, as, sz, df), str_room(da, di, as, sz, df));
		unsigned fs = 0, fd = 0;
		const uint8_t *hs = NULL;
		uint8_t *hd = NULL;
		n = MIN(n, cnt);
		if (likely(n)) {
			hs = str_host(cpu, i, sa, false, &fs);
			hd = str_host(cpu, i, da, true, &fd);
		}
		if (unlikely(!n || ((fs | fd) & ~TLB_CODE))) {
			movs_one(cpu, i, sz, as, df);
			str_set(cpu, as, R_RCX, --cnt);
		} else {
			size_t len = (size_t)n << sz, back = df ? len - (1u << sz) : 0;
			uint64_t delta = df ? -(uint64_t)len : len;
			movs_copy(hd - back, hs - back, len, sz, df);
			if (unlikely(fd & TLB_CODE))
				cpu->mem->code_written(cpu, da - back, len);
			str_set(cpu, as, R_RSI, si + delta);
			str_set(cpu, as, R_RDI, di + delta);
			cnt -= n;
			str_set(cpu, as, R_RCX, cnt);
		}
		if (cnt && unlikely(str_yield(cpu)))
			return str_suspend(cpu, i);
	}
	return insn_next(cpu, i);
}

/* ---- STOS ---- */

static void stos_pattern(uint8_t *p, size_t len, uint64_t pat)
{
	size_t k = 0;
	for (; k + 8 <= len; k += 8)
		memcpy(p + k, &pat, 8);
	memcpy(p + k, &pat, len - k);
}

/* Fills len bytes with elements of 1 << sz bytes of v (p is element-aligned to the chunk). */
static inline __attribute__((always_inline)) void stos_fill(uint8_t *p, size_t len, unsigned sz,
                                                            uint64_t v)
{
	uint64_t pat = v & size_mask(sz);
	if (sz == SZ16)
		pat *= 0x0001000100010001ULL;
	else if (sz == SZ32)
		pat |= pat << 32;
	else if (sz == SZ8)
		pat *= 0x0101010101010101ULL;
	/* Hide len's range from gcc, which would expand memset into a slower rep stos. */
	__asm__("" : "+r"(len));
	if (pat == (pat & 0xff) * 0x0101010101010101ULL)
		memset(p, (int)(pat & 0xff), len);
	else
		stos_pattern(p, len, pat);
}

static inline __attribute__((always_inline)) void stos_one(struct cpu *cpu, const struct insn *i,
                                                           unsigned sz, unsigned as, bool df)
{
	uint64_t di = str_reg(cpu, as, R_RDI);
	mem_write(cpu, i, str_dst(cpu, i, di), sz, cpu->gpr[R_RAX]);
	str_set(cpu, as, R_RDI, di + (df ? -(uint64_t)(1u << sz) : 1u << sz));
}

static inline __attribute__((always_inline)) const struct insn *
rep_stos(struct cpu *cpu, const struct insn *i, unsigned sz, unsigned as)
{
	uint64_t cnt = str_reg(cpu, as, R_RCX);
	bool df = str_df(cpu);
	while (cnt) {
		uint64_t di = str_reg(cpu, as, R_RDI), da = str_dst(cpu, i, di);
		uint64_t n = MIN(str_room(da, di, as, sz, df), cnt);
		unsigned fd = 0;
		uint8_t *hd = NULL;
		if (likely(n))
			hd = str_host(cpu, i, da, true, &fd);
		if (unlikely(!n || (fd & ~TLB_CODE))) {
			stos_one(cpu, i, sz, as, df);
			str_set(cpu, as, R_RCX, --cnt);
		} else {
			size_t len = (size_t)n << sz, back = df ? len - (1u << sz) : 0;
			stos_fill(hd - back, len, sz, cpu->gpr[R_RAX]);
			if (unlikely(fd & TLB_CODE))
				cpu->mem->code_written(cpu, da - back, len);
			str_set(cpu, as, R_RDI, di + (df ? -(uint64_t)len : len));
			cnt -= n;
			str_set(cpu, as, R_RCX, cnt);
		}
		if (cnt && unlikely(str_yield(cpu)))
			return str_suspend(cpu, i);
	}
	return insn_next(cpu, i);
}

/* ---- LODS (REP LODS leaves the last element in the accumulator) ---- */

static inline __attribute__((always_inline)) void lods_one(struct cpu *cpu, const struct insn *i,
                                                           unsigned sz, unsigned as, bool df)
{
	uint64_t si = str_reg(cpu, as, R_RSI);
	reg_set(cpu, sz, R_RAX, mem_read(cpu, i, str_src(cpu, i, si), sz));
	str_set(cpu, as, R_RSI, si + (df ? -(uint64_t)(1u << sz) : 1u << sz));
}

static inline __attribute__((always_inline)) const struct insn *
rep_lods(struct cpu *cpu, const struct insn *i, unsigned sz, unsigned as)
{
	uint64_t cnt = str_reg(cpu, as, R_RCX);
	bool df = str_df(cpu);
	while (cnt) {
		uint64_t si = str_reg(cpu, as, R_RSI), sa = str_src(cpu, i, si);
		uint64_t n = MIN(str_room(sa, si, as, sz, df), cnt);
		unsigned fs = 0;
		const uint8_t *hs = NULL;
		if (likely(n))
			hs = str_host(cpu, i, sa, false, &fs);
		if (unlikely(!n || fs)) {
			lods_one(cpu, i, sz, as, df);
			str_set(cpu, as, R_RCX, --cnt);
		} else {
			/* Reading RAM has no side effects: only the last element matters. */
			size_t len = (size_t)n << sz, last = len - (1u << sz);
			reg_set(cpu, sz, R_RAX, str_ld(df ? hs - last : hs + last, sz));
			str_set(cpu, as, R_RSI, si + (df ? -(uint64_t)len : len));
			cnt -= n;
			str_set(cpu, as, R_RCX, cnt);
		}
		if (cnt && unlikely(str_yield(cpu)))
			return str_suspend(cpu, i);
	}
	return insn_next(cpu, i);
}

/* ---- handlers: operation x REP x address size x operand size ---- */

#define STR_MOVE_H(sz, as)                                                                         \
	HANDLER(movs_##sz##_##as)                                                                  \
	{                                                                                          \
		movs_one(cpu, i, sz, as, str_df(cpu));                                             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(rep_movs_##sz##_##as)                                                              \
	{                                                                                          \
		return rep_movs(cpu, i, sz, as);                                                   \
	}                                                                                          \
	HANDLER(stos_##sz##_##as)                                                                  \
	{                                                                                          \
		stos_one(cpu, i, sz, as, str_df(cpu));                                             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(rep_stos_##sz##_##as)                                                              \
	{                                                                                          \
		return rep_stos(cpu, i, sz, as);                                                   \
	}                                                                                          \
	HANDLER(lods_##sz##_##as)                                                                  \
	{                                                                                          \
		lods_one(cpu, i, sz, as, str_df(cpu));                                             \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(rep_lods_##sz##_##as)                                                              \
	{                                                                                          \
		return rep_lods(cpu, i, sz, as);                                                   \
	}
#define STR_MOVE_AS(as)                                                                            \
	STR_MOVE_H(SZ8, as) STR_MOVE_H(SZ16, as) STR_MOVE_H(SZ32, as) STR_MOVE_H(SZ64, as)

STR_MOVE_AS(SZ16)
STR_MOVE_AS(SZ32)
STR_MOVE_AS(SZ64)

#define STR_ROW(name, as)                                                                          \
	{                                                                                          \
		name##_SZ8_##as, name##_SZ16_##as, name##_SZ32_##as, name##_SZ64_##as              \
	}
#define STR_TABLE(name)                                                                            \
	{                                                                                          \
		STR_ROW(name, SZ16), STR_ROW(name, SZ32), STR_ROW(name, SZ64)                      \
	}

/* [REP][address size - SZ16][operand size] */
static const insn_fn movs_fns[2][3][4] = {STR_TABLE(movs), STR_TABLE(rep_movs)};
static const insn_fn stos_fns[2][3][4] = {STR_TABLE(stos), STR_TABLE(rep_stos)};
static const insn_fn lods_fns[2][3][4] = {STR_TABLE(lods), STR_TABLE(rep_lods)};

/* ---- INS / OUTS ---- */

/*
 * Part 2 hook: port I/O for INS/OUTS once the access is allowed. System
 * mode turns the instruction into CPU_EXIT_IO for the bus: port DX, the
 * operand size (INS/OUTS have no 64-bit form: REX.W means 32 bits), INS
 * writes ES:RDI (probe the write before reading the port), OUTS reads
 * DS:RSI (segment override allowed); RSI/RDI step by DF, and a REP form
 * does RCX elements (at the address size), one exit per element or a
 * batch, leaving RCX/RSI/RDI/RIP consistent between exits like REP MOVS.
 * Until then nothing is allowed, as in user mode: #GP(0).
 */
static const struct insn *string_io_exit(struct cpu *cpu, const struct insn *i)
{
	insn_raise(cpu, i, EXC_GP, 0, true);
}

/*
 * INS/OUTS check I/O privilege before anything else, REP or not, even with
 * RCX = 0 (the AMD host raises #GP(0) then too): in protected mode CPL >
 * IOPL (part 2: then the TSS I/O permission bitmap, vol. 1, 19.5.2) is
 * #GP(0). User mode is CPL 3, IOPL 0.
 */
HANDLER(string_io)
{
	unsigned iopl = (unsigned)(cpu->rflags & FLAG_IOPL) >> 12;
	if (cpu->mode != CPU_MODE_REAL && cpu->cpl > iopl)
		insn_raise(cpu, i, EXC_GP, 0, true);
	return string_io_exit(cpu, i);
}

/* ---- select ---- */

insn_fn string_select(const struct decode *d)
{
	struct insn *in = d->insn;
	unsigned rep = d->rep != 0, as = d->asize - SZ16, sz = d->osize;
	/* The decoder's source segment (DS or the override; in 64-bit mode FS/GS or none). */
	in->seg &= 7;
	in->index = d->mode == CPU_MODE_LONG64 ? S_NONE : S_ES;
	switch (d->op) {
	case OP_MOVS:
		return movs_fns[rep][as][sz];
	case OP_STOS:
		return stos_fns[rep][as][sz];
	case OP_LODS:
		return lods_fns[rep][as][sz];
	case OP_INS:
	case OP_OUTS:
		return string_io;
	default:
		return NULL;
	}
}
