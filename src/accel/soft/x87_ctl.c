/*
 * x87 control and state (SDM vol. 2: FLDCW, FNSTCW, FNSTSW, FNCLEX,
 * FNINIT, FWAIT, FNOP, FNSTENV, FLDENV, FNSAVE, FRSTOR, FXSAVE, FXRSTOR;
 * vol. 1, 8.1.3 status word, 8.1.5 control word, 8.1.10-8.1.11 pointers
 * and last opcode with figures 8-9 to 8-12 for the protected-mode
 * environment and FNSAVE images (64-bit mode uses them too), 8.6 "x87 FPU
 * exception synchronization"; vol. 2 FXSAVE tables 3-53 "Non-64-bit-mode
 * layout" and 3-56/3-57 "64-bit-mode layout" with and without REX.W; AMD
 * APM vol. 4, FXSAVE), the family's exception helpers (x87.h) and
 * x87_select, the decode-time picker of every x87 handler.
 *
 * Pending exceptions: an operation whose exception is unmasked sets ES
 * (and B) and records FOP, FIP and FDP; the next waiting instruction
 * raises #MF (vector 16; CR0.NE = 1 is assumed, as in user mode) before
 * it does anything. Those pointers are recorded only then (AMD's FXSAVE
 * stores them only while ES is set; FNSTENV stores the last recorded).
 * CR0.EM or CR0.TS: #NM (FWAIT: CR0.MP and CR0.TS). FXSAVE, FXRSTOR,
 * FNSTENV, FNSAVE and the other FN* forms do not wait; FLDENV and FRSTOR do.
 *
 * Tags: the images' full tag words (FNSTENV, FNSAVE) and FXSAVE's abridged
 * byte (one bit per physical register, 1 = not empty) are both derived
 * from the registers, and loading either keeps only "empty or not" and
 * derives the rest from the values again, as the hardware does.
 *
 * FXSAVE's image: FCW, FSW, the abridged tags, FOP, FIP and FDP (64-bit
 * with REX.W, else 32-bit offsets with the CS and DS selectors; stored
 * only while ES = 1, as on the AMD host), MXCSR and MXCSR_MASK,
 * ST(0)-ST(7) in stack order in 16-byte slots, XMM0-15 (XMM0-7 outside
 * 64-bit mode); bytes 416-511 are not written. CR4.OSFXSR clear: MXCSR and
 * the XMM registers are left out. A misaligned (16-byte) operand is
 * #GP(0); FXRSTOR of an MXCSR with bits outside MXCSR_MASK is #GP(0). The
 * real-mode environment layouts are not implemented (part 2).
 */
#include "accel/soft/sse_state.h"
#include "accel/soft/x87.h"

#define CR0_MP_BIT (1ULL << 1)

/* ---- exception helpers (x87.h) ---- */

void x87_enter_slow(struct cpu *cpu, const struct insn *i)
{
	if (cpu->cr0 & (CR0_EM_BIT | CR0_TS_BIT))
		insn_raise(cpu, i, EXC_NM, 0, false);
	insn_raise(cpu, i, EXC_MF, 0, false);
}

void x87_unmasked(struct cpu *cpu, const struct insn *i)
{
	cpu->x87.sw |= FSW_ES | FSW_B;
	cpu->x87.fop = (uint16_t)(i->imm & 0x7ff);
	cpu->x87.fip = insn_rip(cpu, i);
	if (i->imm & X87_IMM_MEM)
		cpu->x87.fdp = insn_ea_offset(cpu, i);
}

bool x87_stack_fault(struct cpu *cpu, const struct insn *i, bool overflow)
{
	cpu->x87.sw =
	    (uint16_t)((cpu->x87.sw & ~FSW_C1) | FSW_IE | FSW_SF | (overflow ? FSW_C1 : 0));
	if (cpu->x87.cw & FCW_IM)
		return true;
	x87_unmasked(cpu, i);
	return false;
}

void x87_update_es(struct cpu *cpu)
{
	if (cpu->x87.sw & ~cpu->x87.cw & FSW_EXC)
		cpu->x87.sw |= FSW_ES | FSW_B;
	else
		cpu->x87.sw &= (uint16_t) ~(FSW_ES | FSW_B);
}

/* ---- control and status words ---- */

HANDLER(fldcw)
{
	x87_enter(cpu, i);
	x87_load_cw(cpu, mem_read16(cpu, i, insn_ea(cpu, i)));
	x87_update_es(cpu);
	return insn_next(cpu, i);
}

HANDLER(fnstcw)
{
	x87_enter_nowait(cpu, i);
	mem_write16(cpu, i, insn_ea(cpu, i), cpu->x87.cw);
	return insn_next(cpu, i);
}

HANDLER(fnstsw_m)
{
	x87_enter_nowait(cpu, i);
	mem_write16(cpu, i, insn_ea(cpu, i), x87_full_sw(cpu));
	return insn_next(cpu, i);
}

HANDLER(fnstsw_ax)
{
	x87_enter_nowait(cpu, i);
	reg_set(cpu, SZ16, R_RAX, x87_full_sw(cpu));
	return insn_next(cpu, i);
}

/* Clears the exception flags, SF, ES and B; C0-C3 keep their value. */
HANDLER(fnclex)
{
	x87_enter_nowait(cpu, i);
	cpu->x87.sw &= FSW_CC;
	return insn_next(cpu, i);
}

HANDLER(fninit)
{
	x87_enter_nowait(cpu, i);
	x87_reset(cpu);
	return insn_next(cpu, i);
}

/* FWAIT: #MF if an exception is pending; #NM only with CR0.MP and CR0.TS. */
HANDLER(fwait)
{
	if (unlikely((cpu->cr0 & (CR0_MP_BIT | CR0_TS_BIT)) == (CR0_MP_BIT | CR0_TS_BIT)))
		insn_raise(cpu, i, EXC_NM, 0, false);
	if (unlikely(cpu->x87.sw & FSW_ES))
		insn_raise(cpu, i, EXC_MF, 0, false);
	return insn_next(cpu, i);
}

HANDLER(fnop)
{
	x87_enter(cpu, i);
	return insn_next(cpu, i);
}

/* FENI, FDISI, FSETPM (DB E0, E1, E4): 8087/287 controls, no-ops since the 387. */
HANDLER(fnop_nowait)
{
	x87_enter_nowait(cpu, i);
	return insn_next(cpu, i);
}

/* ---- FNSTENV / FLDENV / FNSAVE / FRSTOR ---- */

/* The full tag word, derived from the registers for the ones not empty. */
static uint16_t full_tag(const struct cpu *cpu)
{
	uint16_t t = 0;
	for (unsigned p = 0; p < 8; p++) {
		unsigned tag = x87_tag_phys(cpu, p);
		if (tag != TAG_EMPTY)
			tag = x87_tag_of(cpu->x87.st[p]);
		t |= (uint16_t)(tag << (2 * p));
	}
	return t;
}

static void load_tag(struct cpu *cpu, uint16_t t)
{
	for (unsigned p = 0; p < 8; p++)
		x87_set_tag_phys(cpu, p,
		                 ((t >> (2 * p)) & 3) == TAG_EMPTY ? TAG_EMPTY
		                                                   : x87_tag_of(cpu->x87.st[p]));
}

static void put16(uint8_t *b, unsigned off, uint16_t v)
{
	memcpy(b + off, &v, 2);
}

static void put32(uint8_t *b, unsigned off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static uint16_t get16(const uint8_t *b, unsigned off)
{
	uint16_t v;
	memcpy(&v, b + off, 2);
	return v;
}

static uint32_t get32(const uint8_t *b, unsigned off)
{
	uint32_t v;
	memcpy(&v, b + off, 4);
	return v;
}

/* The environment image (figures 8-9/8-10 protected mode; 14 or 28 bytes); returns its size. */
static unsigned store_env(const struct cpu *cpu, uint8_t *b, bool env16)
{
	const struct cpu_x87 *x = &cpu->x87;
	uint16_t cs = cpu->seg[S_CS].selector, ds = cpu->seg[S_DS].selector;
	if (env16) {
		put16(b, 0, x->cw);
		put16(b, 2, x87_full_sw(cpu));
		put16(b, 4, full_tag(cpu));
		put16(b, 6, (uint16_t)x->fip);
		put16(b, 8, cs);
		put16(b, 10, (uint16_t)x->fdp);
		put16(b, 12, ds);
		return 14;
	}
	/* The reserved upper halves read as ones on the AMD host. */
	put32(b, 0, 0xffff0000u | x->cw);
	put32(b, 4, 0xffff0000u | x87_full_sw(cpu));
	put32(b, 8, 0xffff0000u | full_tag(cpu));
	put32(b, 12, (uint32_t)x->fip);
	put32(b, 16, cs | (uint32_t)(x->fop & 0x7ff) << 16);
	put32(b, 20, (uint32_t)x->fdp);
	put32(b, 24, 0xffff0000u | ds);
	return 28;
}

/* Loads an environment image: control, status (TOP), tags, pointers. */
static unsigned load_env(struct cpu *cpu, const uint8_t *b, bool env16)
{
	struct cpu_x87 *x = &cpu->x87;
	unsigned s = env16 ? 2 : 4;
	uint16_t sw = get16(b, s);
	x87_load_cw(cpu, get16(b, 0));
	x->sw = sw & (uint16_t)~FSW_TOP;
	x->top = (sw >> 11) & 7;
	load_tag(cpu, get16(b, 2 * s));
	if (env16) {
		x->fip = get16(b, 6);
		x->fdp = get16(b, 10);
	} else {
		x->fip = get32(b, 12);
		x->fop = (uint16_t)(get32(b, 16) >> 16 & 0x7ff);
		x->fdp = get32(b, 20);
	}
	x87_update_es(cpu);
	return env16 ? 14 : 28;
}

#define ENV_HANDLERS(sfx, env16)                                                                   \
	HANDLER(fnstenv##sfx)                                                                      \
	{                                                                                          \
		uint8_t b[28];                                                                     \
		x87_enter_nowait(cpu, i);                                                          \
		unsigned n = store_env(cpu, b, env16);                                             \
		mem_write_bytes(cpu, i, insn_ea(cpu, i), b, n);                                    \
		cpu->x87.cw |= FSW_EXC; /* then masks every exception */                           \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(fldenv##sfx)                                                                       \
	{                                                                                          \
		uint8_t b[28];                                                                     \
		x87_enter(cpu, i);                                                                 \
		mem_read_bytes(cpu, i, insn_ea(cpu, i), b, env16 ? 14 : 28);                       \
		load_env(cpu, b, env16);                                                           \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(fnsave##sfx)                                                                       \
	{                                                                                          \
		uint8_t b[108];                                                                    \
		x87_enter_nowait(cpu, i);                                                          \
		unsigned n = store_env(cpu, b, env16);                                             \
		for (unsigned k = 0; k < 8; k++)                                                   \
			memcpy(b + n + 10 * k, &cpu->x87.st[x87_phys(cpu, k)], 10);                \
		mem_write_bytes(cpu, i, insn_ea(cpu, i), b, n + 80);                               \
		x87_reset(cpu);                                                                    \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(frstor##sfx)                                                                       \
	{                                                                                          \
		uint8_t b[108];                                                                    \
		unsigned n = env16 ? 14 : 28;                                                      \
		x87_enter(cpu, i);                                                                 \
		mem_read_bytes(cpu, i, insn_ea(cpu, i), b, n + 80);                                \
		uint16_t sw = get16(b, env16 ? 2 : 4);                                             \
		for (unsigned k = 0; k < 8; k++) {                                                 \
			union x87_bits u;                                                          \
			memset(&u, 0, sizeof(u));                                                  \
			memcpy(&u.b.mant, b + n + 10 * k, 8);                                      \
			memcpy(&u.b.se, b + n + 10 * k + 8, 2);                                    \
			cpu->x87.st[(((sw >> 11) & 7) + k) & 7] = u.f;                             \
		}                                                                                  \
		load_env(cpu, b, env16);                                                           \
		return insn_next(cpu, i);                                                          \
	}

ENV_HANDLERS(16, true)
ENV_HANDLERS(32, false)

/* ---- FXSAVE / FXRSTOR ---- */

#define CR4_OSFXSR_BIT (1ULL << 9)


#define FX_SIZE    512
#define FX_WRITTEN 416

static unsigned nr_xmm(const struct cpu *cpu)
{
	if (!(cpu->cr4 & CR4_OSFXSR_BIT))
		return 0;
	return cpu->mode == CPU_MODE_LONG64 ? 16 : 8;
}

static void fx_enter(struct cpu *cpu, const struct insn *i, uint64_t a)
{
	x87_enter_nowait(cpu, i);
	if (unlikely(a & 15))
		insn_raise(cpu, i, EXC_GP, 0, true);
}

static void fxsave_image(const struct cpu *cpu, uint8_t *b, bool w64)
{
	const struct cpu_x87 *x = &cpu->x87;
	uint16_t sw = x87_full_sw(cpu);
	uint8_t ftw = 0;
	bool pending = x->sw & FSW_ES;

	memset(b, 0, FX_WRITTEN);
	memcpy(b, &x->cw, 2);
	memcpy(b + 2, &sw, 2);
	for (unsigned p = 0; p < 8; p++)
		if (x87_tag_phys(cpu, p) != TAG_EMPTY)
			ftw |= (uint8_t)(1u << p);
	b[4] = ftw;
	if (pending) {
		uint16_t fop = x->fop & 0x7ff;
		memcpy(b + 6, &fop, 2);
		if (w64) {
			memcpy(b + 8, &x->fip, 8);
			memcpy(b + 16, &x->fdp, 8);
		} else {
			uint32_t ip = (uint32_t)x->fip, dp = (uint32_t)x->fdp;
			memcpy(b + 8, &ip, 4);
			memcpy(b + 12, &cpu->seg[S_CS].selector, 2);
			memcpy(b + 16, &dp, 4);
			memcpy(b + 20, &cpu->seg[S_DS].selector, 2);
		}
	}
	if (cpu->cr4 & CR4_OSFXSR_BIT) {
		uint32_t mask = SSE_MXCSR_MASK;
		memcpy(b + 24, &cpu->mxcsr, 4);
		memcpy(b + 28, &mask, 4);
	}
	for (unsigned k = 0; k < 8; k++)
		memcpy(b + 32 + 16 * k, &x->st[x87_phys(cpu, k)], 10);
	memcpy(b + 160, cpu->xmm, 16 * nr_xmm(cpu));
}

#define FXSAVE(name, w64)                                                                          \
	HANDLER(name)                                                                              \
	{                                                                                          \
		uint8_t b[FX_WRITTEN];                                                             \
		uint64_t a = insn_ea(cpu, i);                                                      \
		fx_enter(cpu, i, a);                                                               \
		mem_probe_write(cpu, i, a, FX_SIZE, CPU_ACCESS_WRITE);                             \
		fxsave_image(cpu, b, w64);                                                         \
		mem_write_bytes(cpu, i, a, b, FX_WRITTEN);                                         \
		return insn_next(cpu, i);                                                          \
	}

FXSAVE(fxsave32, false)
FXSAVE(fxsave64, true)

#define FXRSTOR(name, w64)                                                                         \
	HANDLER(name)                                                                              \
	{                                                                                          \
		uint8_t b[FX_SIZE];                                                                \
		uint64_t a = insn_ea(cpu, i);                                                      \
		fx_enter(cpu, i, a);                                                               \
		mem_read_bytes(cpu, i, a, b, FX_SIZE);                                             \
		fxrstor_image(cpu, i, b, w64);                                                     \
		return insn_next(cpu, i);                                                          \
	}

static void fxrstor_image(struct cpu *cpu, const struct insn *i, const uint8_t *b, bool w64)
{
	struct cpu_x87 *x = &cpu->x87;
	uint32_t mxcsr;
	uint16_t cw, sw;

	memcpy(&mxcsr, b + 24, 4);
	if ((cpu->cr4 & CR4_OSFXSR_BIT) && (mxcsr & ~SSE_MXCSR_MASK))
		insn_raise(cpu, i, EXC_GP, 0, true);

	memcpy(&cw, b, 2);
	memcpy(&sw, b + 2, 2);
	x87_load_cw(cpu, cw);
	x->sw = sw & (uint16_t)~FSW_TOP;
	x->top = (sw >> 11) & 7;
	for (unsigned k = 0; k < 8; k++) {
		union x87_bits u;
		memset(&u, 0, sizeof(u));
		memcpy(&u.b.mant, b + 32 + 16 * k, 8);
		memcpy(&u.b.se, b + 32 + 16 * k + 8, 2);
		x->st[x87_phys(cpu, k)] = u.f;
	}
	/* The abridged tags say empty or not; the rest follows from the values. */
	for (unsigned p = 0; p < 8; p++)
		x87_set_tag_phys(cpu, p, (b[4] >> p) & 1 ? x87_tag_of(x->st[p]) : TAG_EMPTY);
	memcpy(&x->fop, b + 6, 2);
	x->fop &= 0x7ff;
	if (w64) {
		memcpy(&x->fip, b + 8, 8);
		memcpy(&x->fdp, b + 16, 8);
	} else {
		uint32_t ip, dp;
		memcpy(&ip, b + 8, 4);
		memcpy(&dp, b + 16, 4);
		x->fip = ip;
		x->fdp = dp;
	}
	x87_update_es(cpu);
	if (cpu->cr4 & CR4_OSFXSR_BIT) {
		cpu->mxcsr = mxcsr;
		memcpy(cpu->xmm, b + 160, 16 * nr_xmm(cpu));
	}
}

FXRSTOR(fxrstor32, false)
FXRSTOR(fxrstor64, true)

/* The state-image handlers: FXSAVE, FXRSTOR and the memory forms D9 /4 /6, DD /4 /6. */
static insn_fn state_fn(const struct decode *d, unsigned esc, unsigned reg, bool mem)
{
	bool w64 = d->osize == SZ64, env16 = d->osize == SZ16;
	if (d->op == OP_FXSAVE)
		return w64 ? fxsave64 : fxsave32;
	if (d->op == OP_FXRSTOR)
		return w64 ? fxrstor64 : fxrstor32;
	if (!mem)
		return NULL;
	switch (esc << 3 | reg) {
	case 1 << 3 | 4:
		return env16 ? fldenv16 : fldenv32;
	case 1 << 3 | 6:
		return env16 ? fnstenv16 : fnstenv32;
	case 5 << 3 | 4:
		return env16 ? frstor16 : frstor32;
	case 5 << 3 | 6:
		return env16 ? fnsave16 : fnsave32;
	default:
		return NULL;
	}
}

/* ---- the decode-time picker ---- */

static insn_fn ctl_fn(const struct decode *d, unsigned esc, unsigned reg, unsigned rm, bool mem)
{
	if (mem) {
		switch (esc << 3 | reg) {
		case 1 << 3 | 5:
			return fldcw;
		case 1 << 3 | 7:
			return fnstcw;
		case 5 << 3 | 7:
			return fnstsw_m;
		default:
			return state_fn(d, esc, reg, mem);
		}
	}
	if (esc == 1 && reg == 2 && rm == 0)
		return fnop;
	if (esc == 3 && reg == 4) {
		static const insn_fn db_e0[8] = {fnop_nowait, fnop_nowait, fnclex, fninit,
		                                 fnop_nowait};
		return db_e0[rm];
	}
	if (esc == 7 && reg == 4 && rm == 0)
		return fnstsw_ax;
	return NULL;
}

insn_fn x87_select(const struct decode *d)
{
	struct insn *in = d->insn;
	if (d->op == OP_FWAIT)
		return fwait;
	if (d->op == OP_FXSAVE || d->op == OP_FXRSTOR)
		return state_fn(d, 0, 0, true);
	if (d->opcode < 0xd8 || !d->has_modrm)
		return NULL;
	unsigned esc = d->opcode - 0xd8, reg = (d->modrm >> 3) & 7, rm = d->modrm & 7;
	bool mem = d->form == FORM_M;
	in->imm = (uint64_t)(esc << 8 | d->modrm) | (mem ? X87_IMM_MEM : 0);
	if (!mem)
		in->reg = (uint8_t)rm; /* ST(i): REX.B does not apply */
	insn_fn fn = x87_arith_fn(esc, reg, rm, mem);
	if (!fn)
		fn = x87_cmp_fn(esc, reg, rm, mem);
	if (!fn)
		fn = x87_move_fn(esc, reg, rm, mem);
	if (!fn)
		fn = ctl_fn(d, esc, reg, rm, mem);
	return fn;
}
