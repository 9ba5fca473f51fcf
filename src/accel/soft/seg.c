/*
 * Segmentation as x86-64 system software uses it (SDM vol. 3, chapter 3
 * "Protected-mode memory management" and 5.5-5.8 "Privilege levels";
 * vol. 2, MOV and POP for the segment-load checks): descriptor reads from
 * the GDT/LDT, the checks Linux depends on, the accessed bit, the CPL and
 * the execution mode derived from CR0.PE, EFER.LMA and CS.
 *
 * Segment limits are not enforced (docs/softcpu.md, "System mode"): the
 * descriptor's limit is cached for SGDT-style readers and LSL only.
 */
#include "accel/soft/codecache.h"
#include "accel/soft/mem.h"
#include "accel/soft/sys.h"

struct cpu_segment seg_from_desc(uint16_t sel, uint64_t desc)
{
	struct cpu_segment s;
	s.selector = sel;
	s.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
	s.limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	s.attr = (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 40) & 0xf000));
	if (s.attr & SEGA_G)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

void sys_raise_sel(struct cpu *cpu, const struct insn *i, uint8_t vector, uint16_t sel)
{
	insn_raise(cpu, i, vector, (sel & 0xfffc) | (cpu->deliver_ext ? 1 : 0), true);
}

/* The linear address of sel's descriptor, or false when it is beyond the table. */
static bool desc_addr(struct cpu *cpu, uint16_t sel, unsigned size, uint64_t *addr)
{
	uint64_t base;
	uint32_t limit;
	if (sel & 4) {
		if (!(cpu->ldtr.attr & SEGA_P) || (cpu->ldtr.selector & 0xfffc) == 0)
			return false;
		base = cpu->ldtr.base;
		limit = cpu->ldtr.limit;
	} else {
		base = cpu->gdtr.base;
		limit = cpu->gdtr.limit;
	}
	uint32_t off = sel & 0xfff8;
	if ((uint64_t)off + size - 1 > limit)
		return false;
	*addr = base + off;
	if (!cpu_long_mode(cpu))
		*addr = (uint32_t)*addr;
	return true;
}

bool desc_read(struct cpu *cpu, const struct insn *i, uint16_t sel, uint64_t *desc)
{
	uint64_t a;
	if (!desc_addr(cpu, sel, 8, &a))
		return false;
	*desc = mem_read_slow(cpu, i, a, 8, CPU_ACCESS_READ | ACC_SUPER);
	return true;
}

uint64_t desc_read_high(struct cpu *cpu, const struct insn *i, uint16_t sel)
{
	uint64_t a;
	if (!desc_addr(cpu, sel, 16, &a))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	return mem_read_slow(cpu, i, a + 8, 8, CPU_ACCESS_READ | ACC_SUPER);
}

void desc_set_accessed(struct cpu *cpu, const struct insn *i, uint16_t sel, uint64_t *desc)
{
	uint64_t a;
	if (*desc & (1ULL << 40))
		return;
	if (!desc_addr(cpu, sel, 8, &a))
		return;
	*desc |= 1ULL << 40;
	mem_write_slow(cpu, i, a + 5, 1, (uint8_t)(*desc >> 40), CPU_ACCESS_WRITE | ACC_SUPER);
}

void seg_load_real(struct cpu *cpu, unsigned s, uint16_t sel)
{
	cpu->seg[s].selector = sel;
	cpu->seg[s].base = (uint64_t)sel << 4;
}

void seg_load_null(struct cpu *cpu, unsigned s, uint16_t sel)
{
	/* Intel clears the base of a null FS/GS too (AMD keeps it: Linux's X86_BUG_NULL_SEG). */
	cpu->seg[s].selector = sel;
	cpu->seg[s].base = 0;
	cpu->seg[s].limit = 0;
	cpu->seg[s].attr = 0; /* not present: unusable */
}

/*
 * MOV/POP/LxS to a data segment register in protected or long mode
 * (vol. 2, MOV "Operation"). Real mode only sets the base.
 */
void seg_load(struct cpu *cpu, const struct insn *i, unsigned s, uint16_t sel)
{
	if (cpu->mode == CPU_MODE_REAL) {
		seg_load_real(cpu, s, sel);
		return;
	}
	unsigned rpl = sel & 3, cpl = cpu->cpl;
	if ((sel & 0xfffc) == 0) {
		/* SS may be null only in 64-bit mode at CPL < 3 with RPL = CPL. */
		if (s == S_SS && (cpu->mode != CPU_MODE_LONG64 || cpl == 3 || rpl != cpl))
			insn_raise(cpu, i, EXC_GP, 0, true);
		seg_load_null(cpu, s, sel);
		return;
	}
	uint64_t desc;
	if (!desc_read(cpu, i, sel, &desc))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	struct cpu_segment seg = seg_from_desc(sel, desc);
	unsigned type = seg.attr & SEGA_TYPE, dpl = SEGA_DPL(seg.attr);
	if (!(seg.attr & SEGA_S))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (s == S_SS) {
		if (rpl != cpl || dpl != cpl || (type & SEGT_CODE) || !(type & SEGT_WRITE))
			sys_raise_sel(cpu, i, EXC_GP, sel);
		if (!(seg.attr & SEGA_P))
			sys_raise_sel(cpu, i, EXC_SS, sel);
	} else {
		/* Data, or readable code; privilege unless conforming code. */
		if ((type & SEGT_CODE) && !(type & SEGT_WRITE))
			sys_raise_sel(cpu, i, EXC_GP, sel);
		if (!((type & SEGT_CODE) && (type & SEGT_CONFORM)) && (rpl > dpl || cpl > dpl))
			sys_raise_sel(cpu, i, EXC_GP, sel);
		if (!(seg.attr & SEGA_P))
			sys_raise_sel(cpu, i, EXC_NP, sel);
	}
	desc_set_accessed(cpu, i, sel, &desc);
	seg.attr |= SEGT_ACCESSED;
	cpu->seg[s] = seg;
}

struct cpu_segment seg_read_code(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                 uint64_t *desc)
{
	if ((sel & 0xfffc) == 0)
		insn_raise(cpu, i, EXC_GP, cpu->deliver_ext ? 1 : 0, true);
	if (!desc_read(cpu, i, sel, desc))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	struct cpu_segment cs = seg_from_desc(sel, *desc);
	if (!(cs.attr & SEGA_S) || !(cs.attr & SEGA_TYPE & SEGT_CODE))
		sys_raise_sel(cpu, i, EXC_GP, sel); /* call/task gates: not supported */
	return cs;
}

struct cpu_segment seg_enter_code(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                  uint64_t *desc, struct cpu_segment cs, unsigned cpl)
{
	desc_set_accessed(cpu, i, sel, desc);
	cs.attr |= SEGT_ACCESSED;
	cs.selector = (uint16_t)((sel & 0xfffc) | cpl);
	return cs;
}

struct cpu_segment seg_check_code(struct cpu *cpu, const struct insn *i, uint16_t sel, bool ret,
                                  unsigned *new_cpl)
{
	uint64_t desc;
	unsigned rpl = sel & 3, cpl = cpu->cpl;
	struct cpu_segment cs = seg_read_code(cpu, i, sel, &desc);
	unsigned type = cs.attr & SEGA_TYPE, dpl = SEGA_DPL(cs.attr);
	if (ret) {
		/* RETF/IRET: RPL >= CPL; conforming DPL <= RPL, else DPL = RPL. */
		if (rpl < cpl || ((type & SEGT_CONFORM) ? dpl > rpl : dpl != rpl))
			sys_raise_sel(cpu, i, EXC_GP, sel);
		*new_cpl = rpl;
	} else {
		/* JMP/CALL: conforming DPL <= CPL; else RPL <= CPL and DPL = CPL. */
		if ((type & SEGT_CONFORM) ? dpl > cpl : (rpl > cpl || dpl != cpl))
			sys_raise_sel(cpu, i, EXC_GP, sel);
		*new_cpl = cpl;
	}
	if (!(cs.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_NP, sel);
	if (cpu_long_mode(cpu) && (cs.attr & SEGA_L) && (cs.attr & SEGA_DB))
		sys_raise_sel(cpu, i, EXC_GP, sel); /* L and D both set is reserved */
	return seg_enter_code(cpu, i, sel, &desc, cs, *new_cpl);
}

struct cpu_segment seg_check_stack(struct cpu *cpu, const struct insn *i, uint16_t sel,
                                   unsigned cpl)
{
	uint64_t desc;
	if ((sel & 0xfffc) == 0) {
		/* A null SS is allowed when returning to 64-bit code at CPL < 3. */
		if (cpl == 3 || (sel & 3) != cpl)
			insn_raise(cpu, i, EXC_GP, 0, true);
		return (struct cpu_segment){.selector = sel};
	}
	if (!desc_read(cpu, i, sel, &desc))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	struct cpu_segment ss = seg_from_desc(sel, desc);
	unsigned type = ss.attr & SEGA_TYPE;
	if ((sel & 3) != cpl || SEGA_DPL(ss.attr) != cpl || !(ss.attr & SEGA_S) ||
	    (type & SEGT_CODE) || !(type & SEGT_WRITE))
		sys_raise_sel(cpu, i, EXC_GP, sel);
	if (!(ss.attr & SEGA_P))
		sys_raise_sel(cpu, i, EXC_SS, sel);
	desc_set_accessed(cpu, i, sel, &desc);
	ss.attr |= SEGT_ACCESSED;
	return ss;
}

void cpu_update_mode(struct cpu *cpu)
{
	enum cpu_mode m;
	const struct cpu_segment *cs = &cpu->seg[S_CS];
	if (!(cpu->cr0 & CR0_PE))
		m = CPU_MODE_REAL;
	else if (cpu_long_mode(cpu) && (cs->attr & SEGA_L))
		m = CPU_MODE_LONG64;
	else
		m = (cs->attr & SEGA_DB) ? CPU_MODE_PROT32 : CPU_MODE_PROT16;
	cpu->mode = m;
	code_cache_set_mode(cpu);
}

void cpu_set_cpl(struct cpu *cpu, unsigned cpl)
{
	cpu->cpl = (uint8_t)cpl;
	/* code_cache_set_mode also switches the TLB between its user and supervisor banks. */
	cpu_update_mode(cpu);
}

void seg_set_cs(struct cpu *cpu, struct cpu_segment cs, unsigned cpl)
{
	cpu->seg[S_CS] = cs;
	cpu_set_cpl(cpu, cpl);
}

void seg_null_for_cpl(struct cpu *cpu)
{
	static const unsigned segs[] = {S_ES, S_DS, S_FS, S_GS};
	for (unsigned k = 0; k < 4; k++) {
		struct cpu_segment *s = &cpu->seg[segs[k]];
		unsigned type = s->attr & SEGA_TYPE;
		bool conforming_code = (type & SEGT_CODE) && (type & SEGT_CONFORM);
		if ((s->selector & 0xfffc) && !conforming_code && SEGA_DPL(s->attr) < cpu->cpl) {
			uint64_t base = s->base;
			seg_load_null(cpu, segs[k], 0);
			/* 64-bit mode keeps the FS/GS bases (MSRs) of a nulled register. */
			if (cpu->mode == CPU_MODE_LONG64 && (segs[k] == S_FS || segs[k] == S_GS))
				s->base = base;
		}
	}
}
