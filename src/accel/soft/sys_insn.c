/*
 * System instructions (SDM vol. 2; vol. 3, 2.5 control registers, 2.6
 * EFER, 17.2 debug registers, 2.4 descriptor-table registers): MOV to/from
 * CR0/CR2/CR3/CR4/CR8 and DR0-DR7, LGDT/LIDT/LLDT/LTR, SGDT/SIDT/SLDT/STR,
 * SMSW/LMSW/CLTS, INVLPG, WBINVD/INVD, SWAPGS, CLI/STI (the interrupt
 * shadow), HLT, RDMSR/WRMSR, LAR/LSL/VERR/VERW.
 *
 * Everything that changes CR0, CR4, EFER, the CPL or the mode ends its
 * block (OPA_END in ops.def): the decoder's assumptions change with them.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sys.h"

#define CR4_WRITABLE                                                                               \
	(CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR |         \
	 CR4_OSXMMEXCPT)
#define CR0_WRITABLE                                                                               \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)

/* ---- control registers ---- */

static void gp0(struct cpu *cpu, const struct insn *i)
{
	insn_raise(cpu, i, EXC_GP, 0, true);
}

/* MOV to CR0 (and LMSW/CLTS): the paging / long-mode transitions of vol. 3, 9.8.5. */
static void cr0_write(struct cpu *cpu, const struct insn *i, uint64_t v)
{
	if (v >> 32)
		gp0(cpu, i);
	v &= CR0_WRITABLE;
	if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
		gp0(cpu, i);
	uint64_t old = cpu->cr0, old_efer = cpu->efer;
	if ((v & CR0_PG) && !(old & CR0_PG) && (cpu->efer & EFER_LME)) {
		/* Activating IA-32e mode: PAE on, and not from a 64-bit code segment. */
		if (!(cpu->cr4 & CR4_PAE) || (cpu->seg[S_CS].attr & SEGA_L))
			gp0(cpu, i);
		cpu->efer |= EFER_LMA;
	} else if (!(v & CR0_PG) && (old & CR0_PG) && (cpu->efer & EFER_LMA)) {
		if (cpu->mode == CPU_MODE_LONG64)
			gp0(cpu, i);
		cpu->efer &= ~EFER_LMA;
	}
	cpu->cr0 = v | CR0_ET;
	if ((old ^ cpu->cr0) & (CR0_PG | CR0_WP | CR0_PE) || old_efer != cpu->efer)
		cpu_tlb_flush_all(cpu);
	cpu_update_mode(cpu);
}

static void cr4_write(struct cpu *cpu, const struct insn *i, uint64_t v)
{
	if (v & ~CR4_WRITABLE)
		gp0(cpu, i);
	if (cpu_long_mode(cpu) && !(v & CR4_PAE))
		gp0(cpu, i);
	uint64_t old = cpu->cr4;
	cpu->cr4 = v;
	if ((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE))
		cpu_tlb_flush_all(cpu);
}

static void cr3_write(struct cpu *cpu, const struct insn *i, uint64_t v)
{
	/* Bits above the 48-bit physical address width are reserved (no PCID: bit 63 too). */
	if (cpu_long_mode(cpu) && (v >> 48))
		gp0(cpu, i);
	cpu->cr3 = v;
	cpu_tlb_flush(cpu);
}

/* The CR of MOV CRn: base for MOV from (the GPR in reg), reg for MOV to (the GPR in base). */
HANDLER(mov_from_cr)
{
	sys_require_cpl0(cpu, i);
	uint64_t v;
	switch (i->base) {
	case 0:
		v = cpu->cr0;
		break;
	case 2:
		v = cpu->cr2;
		break;
	case 3:
		v = cpu->cr3;
		break;
	case 4:
		v = cpu->cr4;
		break;
	default:
		v = cpu->cr8;
		break;
	}
	cpu->gpr[i->reg] = cpu->mode == CPU_MODE_LONG64 ? v : (uint32_t)v;
	return insn_next(cpu, i);
}

HANDLER(mov_to_cr)
{
	sys_require_cpl0(cpu, i);
	uint64_t v = cpu->gpr[i->base];
	if (cpu->mode != CPU_MODE_LONG64)
		v = (uint32_t)v;
	switch (i->reg) {
	case 0:
		cr0_write(cpu, i, v);
		break;
	case 2:
		cpu->cr2 = v;
		break;
	case 3:
		cr3_write(cpu, i, v);
		break;
	case 4:
		cr4_write(cpu, i, v);
		break;
	default:
		if (v >> 4)
			gp0(cpu, i);
		cpu->cr8 = v;
		break;
	}
	return insn_next(cpu, i);
}

/* ---- debug registers: stored, no breakpoints ---- */

static unsigned dr_index(struct cpu *cpu, const struct insn *i, unsigned n)
{
	sys_require_cpl0(cpu, i);
	if (n == 4 || n == 5) {
		if (cpu->cr4 & CR4_DE)
			insn_raise(cpu, i, EXC_UD, 0, false);
		n += 2;
	}
	return n;
}

HANDLER(mov_from_dr)
{
	unsigned n = dr_index(cpu, i, i->base);
	uint64_t v = cpu->dr[n];
	cpu->gpr[i->reg] = cpu->mode == CPU_MODE_LONG64 ? v : (uint32_t)v;
	return insn_next(cpu, i);
}

HANDLER(mov_to_dr)
{
	unsigned n = dr_index(cpu, i, i->reg);
	uint64_t v = cpu->gpr[i->base];
	if (cpu->mode != CPU_MODE_LONG64)
		v = (uint32_t)v;
	if (n >= 6 && (v >> 32))
		gp0(cpu, i);
	if (n == 6)
		v = (v & 0xe00f) | 0xffff0ff0;
	else if (n == 7)
		v = (v & 0xffff2bff) | 0x400;
	cpu->dr[n] = v;
	return insn_next(cpu, i);
}

/* ---- descriptor-table registers ---- */

/* LGDT/LIDT m16&32 (m16&24 with a 16-bit operand) or m16&64 in 64-bit mode. */
static struct cpu_dtable dtable_load(struct cpu *cpu, const struct insn *i)
{
	sys_require_cpl0(cpu, i);
	uint64_t a = insn_ea(cpu, i);
	uint16_t limit = mem_read16(cpu, i, a);
	uint64_t base;
	if (cpu->mode == CPU_MODE_LONG64) {
		base = mem_read64(cpu, i, a + 2);
		if (!mem_canonical(base))
			gp0(cpu, i);
	} else {
		base = mem_read32(cpu, i, a + 2);
		if ((i->imm & 0xff) == SZ16)
			base &= 0xffffff;
	}
	return (struct cpu_dtable){.base = base, .limit = limit};
}

HANDLER(lgdt)
{
	cpu->gdtr = dtable_load(cpu, i);
	return insn_next(cpu, i);
}

HANDLER(lidt)
{
	cpu->idtr = dtable_load(cpu, i);
	return insn_next(cpu, i);
}

static void dtable_store(struct cpu *cpu, const struct insn *i, const struct cpu_dtable *t)
{
	uint64_t a = insn_ea(cpu, i);
	unsigned n = cpu->mode == CPU_MODE_LONG64 ? 8 : 4;
	uint8_t buf[10];
	uint16_t limit = (uint16_t)t->limit;
	memcpy(buf, &limit, 2);
	memcpy(buf + 2, &t->base, n);
	mem_write_bytes(cpu, i, a, buf, 2 + n);
}

HANDLER(sgdt)
{
	dtable_store(cpu, i, &cpu->gdtr);
	return insn_next(cpu, i);
}

HANDLER(sidt)
{
	dtable_store(cpu, i, &cpu->idtr);
	return insn_next(cpu, i);
}

/*
 * Operand kinds of the Ew/Ev forms, in imm (set by sys_select): the operand
 * size in the low byte, IMM_MEM when the operand is in memory.
 */
#define IMM_MEM 0x100

/* SLDT/STR/SMSW: a register gets the operand size (zero-extended), memory 16 bits. */
static const struct insn *store16(struct cpu *cpu, const struct insn *i, uint64_t v)
{
	if (i->imm & IMM_MEM)
		mem_write16(cpu, i, insn_ea(cpu, i), (uint16_t)v);
	else
		reg_set(cpu, (unsigned)(i->imm & 0xff), i->reg, v);
	return insn_next(cpu, i);
}

HANDLER(sldt)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	return store16(cpu, i, cpu->ldtr.selector);
}

HANDLER(str)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	return store16(cpu, i, cpu->tr.selector);
}

HANDLER(smsw)
{
	return store16(cpu, i, cpu->cr0);
}

/* The 16-bit source of LLDT/LTR/LMSW/LAR/LSL/VERR/VERW (Ew). */
static uint16_t src16(struct cpu *cpu, const struct insn *i, unsigned r)
{
	if (i->imm & IMM_MEM)
		return mem_read16(cpu, i, insn_ea(cpu, i));
	return (uint16_t)cpu->gpr[r];
}

HANDLER(lmsw)
{
	sys_require_cpl0(cpu, i);
	uint16_t v = src16(cpu, i, i->reg);
	/* PE can be set but not cleared; MP, EM, TS follow the source. */
	uint64_t cr0 = (cpu->cr0 & ~0xeULL) | (v & 0xf) | (cpu->cr0 & CR0_PE);
	cr0_write(cpu, i, cr0);
	return insn_next(cpu, i);
}

HANDLER(clts)
{
	sys_require_cpl0(cpu, i);
	cpu->cr0 &= ~CR0_TS;
	return insn_next(cpu, i);
}

/* A system descriptor of the GDT (LLDT/LTR): 16 bytes in IA-32e mode. */
static struct cpu_segment sysdesc_load(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                       uint64_t *desc)
{
	if (sel & 4)
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (!desc_read(cpu, i, sel, desc))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	struct cpu_segment s = seg_from_desc(sel, *desc);
	if (cpu_long_mode(cpu))
		s.base |= (desc_read_high(cpu, i, sel) & 0xffffffff) << 32;
	return s;
}

HANDLER(lldt)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	sys_require_cpl0(cpu, i);
	uint16_t sel = src16(cpu, i, i->reg);
	if ((sel & 0xfffc) == 0) {
		cpu->ldtr = (struct cpu_segment){.selector = sel};
		return insn_next(cpu, i);
	}
	uint64_t desc;
	struct cpu_segment s = sysdesc_load(cpu, i, sel, &desc);
	if ((s.attr & (SEGA_S | SEGA_TYPE)) != SYST_LDT)
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (!(s.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_NP, sel);
	cpu->ldtr = s;
	return insn_next(cpu, i);
}

HANDLER(ltr)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	sys_require_cpl0(cpu, i);
	uint16_t sel = src16(cpu, i, i->reg);
	if ((sel & 0xfffc) == 0)
		gp0(cpu, i);
	uint64_t desc;
	struct cpu_segment s = sysdesc_load(cpu, i, sel, &desc);
	unsigned type = s.attr & (SEGA_S | SEGA_TYPE);
	if (type != SYST_TSS_AVAIL && (cpu_long_mode(cpu) || type != SYST_TSS16))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (!(s.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_NP, sel);
	/* Mark it busy in the GDT, as the hardware does. */
	uint64_t a = cpu->gdtr.base + (sel & 0xfff8) + 5;
	mem_write_slow(cpu, i, a, 1, (uint8_t)((desc >> 40) | 2), CPU_ACCESS_WRITE | ACC_SUPER);
	s.attr |= 2;
	cpu->tr = s;
	return insn_next(cpu, i);
}

/* ---- caches and TLB ---- */

HANDLER(invlpg)
{
	sys_require_cpl0(cpu, i);
	cpu_tlb_flush_page(cpu, insn_ea(cpu, i));
	return insn_next(cpu, i);
}

HANDLER(wbinvd)
{
	sys_require_cpl0(cpu, i);
	return insn_next(cpu, i);
}

HANDLER(swapgs)
{
	sys_require_cpl0(cpu, i);
	uint64_t t = cpu->seg[S_GS].base;
	cpu->seg[S_GS].base = cpu->msr.kernel_gs_base;
	cpu->msr.kernel_gs_base = t;
	return insn_next(cpu, i);
}

/* ---- interrupt flag, HLT ---- */

/* CLI/STI outside virtual-8086 mode without VME/PVI: CPL <= IOPL (vol. 2, CLI). */
static void if_check(struct cpu *cpu, const struct insn *i)
{
	if (cpu->mode != CPU_MODE_REAL && cpu->cpl > cpu_iopl(cpu))
		gp0(cpu, i);
}

HANDLER(cli)
{
	if_check(cpu, i);
	cpu->rflags &= ~(uint64_t)FLAG_IF;
	return insn_next(cpu, i);
}

/* STI: interrupts stay blocked until the next instruction has completed (sti; hlt). */
HANDLER(sti)
{
	if_check(cpu, i);
	if (!(cpu->rflags & FLAG_IF)) {
		cpu->int_shadow = true;
		cpu->shadow_rip = cpu->rip; /* STI ends its block: rip is the next instruction */
	}
	cpu->rflags |= FLAG_IF;
	return insn_next(cpu, i);
}

/* ---- MSRs ---- */

HANDLER(rdmsr)
{
	sys_require_cpl0(cpu, i);
	uint64_t v;
	if (msr_read(cpu, (uint32_t)cpu->gpr[R_RCX], &v))
		gp0(cpu, i);
	cpu->gpr[R_RAX] = (uint32_t)v;
	cpu->gpr[R_RDX] = v >> 32;
	return insn_next(cpu, i);
}

HANDLER(wrmsr)
{
	sys_require_cpl0(cpu, i);
	uint64_t v = (uint32_t)cpu->gpr[R_RAX] | cpu->gpr[R_RDX] << 32;
	if (msr_write(cpu, (uint32_t)cpu->gpr[R_RCX], v))
		gp0(cpu, i);
	return insn_next(cpu, i);
}

/* ---- LAR, LSL, VERR, VERW (vol. 2): ZF says whether the selector passed ---- */

enum sel_query { Q_LAR, Q_LSL, Q_VERR, Q_VERW };

/* Is sel visible to the query at this CPL/RPL? Reads its descriptor into *desc. */
static bool sel_query(struct cpu *cpu, const struct insn *i, uint16_t sel, enum sel_query q,
                      uint64_t *desc)
{
	if ((sel & 0xfffc) == 0 || !desc_read(cpu, i, sel, desc))
		return false;
	unsigned attr = (unsigned)(*desc >> 40) & 0xff, type = attr & 0xf, dpl = (attr >> 5) & 3;
	bool conforming_code =
	    (attr & SEGA_S) && (type & (SEGT_CODE | SEGT_CONFORM)) == (SEGT_CODE | SEGT_CONFORM);
	if (!conforming_code && (dpl < cpu->cpl || dpl < (sel & 3u)))
		return false;
	if (attr & SEGA_S) {
		if (q == Q_VERR)
			return !(type & SEGT_CODE) || (type & SEGT_WRITE);
		if (q == Q_VERW)
			return !(type & SEGT_CODE) && (type & SEGT_WRITE);
		return true;
	}
	if (q == Q_VERR || q == Q_VERW)
		return false;
	/* System types: LDT and TSS for both; call gates for LAR. 16-bit ones only legacy. */
	bool legacy = !cpu_long_mode(cpu);
	switch (type) {
	case SYST_LDT:
	case SYST_TSS_AVAIL:
	case SYST_TSS_BUSY:
		return true;
	case SYST_TSS16:
	case SYST_TSS16 | 2:
		return legacy;
	case SYST_CALLGATE:
		return q == Q_LAR;
	case 4: /* 16-bit call gate */
	case 5: /* task gate */
		return q == Q_LAR && legacy;
	default:
		return false;
	}
}

static void set_zf(struct cpu *cpu, bool zf)
{
	lf_materialise(cpu);
	cpu->rflags = zf ? cpu->rflags | FLAG_ZF : cpu->rflags & ~(uint64_t)FLAG_ZF;
}

/* LAR/LSL: reg = destination, base = the source register (or memory: IMM_MEM). */
static const struct insn *lar_lsl(struct cpu *cpu, const struct insn *i, enum sel_query q)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	uint16_t sel = src16(cpu, i, i->base);
	uint64_t desc;
	bool ok = sel_query(cpu, i, sel, q, &desc);
	if (ok) {
		unsigned sz = (unsigned)(i->imm & 0xff);
		uint64_t v;
		if (q == Q_LAR)
			v = (desc >> 32) & (sz == SZ16 ? 0xff00 : 0x00f0ff00);
		else
			v = seg_from_desc(sel, desc).limit;
		reg_set(cpu, sz, i->reg, sz == SZ16 ? v : (uint32_t)v);
	}
	set_zf(cpu, ok);
	return insn_next(cpu, i);
}

HANDLER(lar)
{
	return lar_lsl(cpu, i, Q_LAR);
}

HANDLER(lsl)
{
	return lar_lsl(cpu, i, Q_LSL);
}

HANDLER(verr)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	uint64_t desc;
	set_zf(cpu, sel_query(cpu, i, src16(cpu, i, i->reg), Q_VERR, &desc));
	return insn_next(cpu, i);
}

HANDLER(verw)
{
	if (cpu->mode == CPU_MODE_REAL)
		insn_raise(cpu, i, EXC_UD, 0, false);
	uint64_t desc;
	set_zf(cpu, sel_query(cpu, i, src16(cpu, i, i->reg), Q_VERW, &desc));
	return insn_next(cpu, i);
}

/* ---- select ---- */

static bool is_mem(const struct decode *d)
{
	return d->form == FORM_M || d->form == FORM_RM || d->form == FORM_MR;
}

insn_fn sys_select(const struct decode *d)
{
	struct insn *in = d->insn;
	in->imm = d->osize | (is_mem(d) ? IMM_MEM : 0);
	switch (d->op) {
	case OP_MOVFROMCR:
	case OP_MOVTOCR: {
		unsigned cr = d->op == OP_MOVFROMCR ? in->base : in->reg;
		if (cr != 0 && cr != 2 && cr != 3 && cr != 4 &&
		    !(cr == 8 && d->mode == CPU_MODE_LONG64))
			return NULL;
		return d->op == OP_MOVFROMCR ? mov_from_cr : mov_to_cr;
	}
	case OP_MOVFROMDR:
	case OP_MOVTODR: {
		unsigned dr = d->op == OP_MOVFROMDR ? in->base : in->reg;
		if (dr > 7)
			return NULL;
		return d->op == OP_MOVFROMDR ? mov_from_dr : mov_to_dr;
	}
	case OP_LGDT:
	case OP_LIDT:
		return d->op == OP_LGDT ? lgdt : lidt;
	case OP_SGDT:
		return sgdt;
	case OP_SIDT:
		return sidt;
	case OP_SLDT:
		return sldt;
	case OP_STR:
		return str;
	case OP_SMSW:
		return smsw;
	case OP_LMSW:
		return lmsw;
	case OP_CLTS:
		return clts;
	case OP_LLDT:
		return lldt;
	case OP_LTR:
		return ltr;
	case OP_INVLPG:
		return invlpg;
	case OP_WBINVD:
	case OP_INVD:
		return wbinvd;
	case OP_SWAPGS:
		return d->mode == CPU_MODE_LONG64 ? swapgs : NULL;
	case OP_CLI:
		return cli;
	case OP_STI:
		return sti;
	case OP_RDMSR:
		return rdmsr;
	case OP_WRMSR:
		return wrmsr;
	case OP_LAR:
	case OP_LSL:
		return d->op == OP_LAR ? lar : lsl;
	case OP_VERR:
		return verr;
	case OP_VERW:
		return verw;
	default:
		return NULL;
	}
}
