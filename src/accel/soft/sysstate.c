/*
 * The system-mode CPU's life cycle and its state as the accelerator
 * interface sees it: RESET and INIT (SDM vol. 3, 9.1 "Initialization
 * overview", table 9-1), and the conversion between struct cpu and the
 * architectural struct x86_regs / x86_sregs (arch/x86/cpu_state.h) that
 * vcpu_get/set_regs/sregs exchange.
 */
#include <string.h>

#include "accel/soft/codecache.h"
#include "accel/soft/cpuid.h"
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/sys.h"
#include "arch/x86/cpu_state.h"
#include "core/log.h"

#define MSR_APIC_BASE 0x1b

/* The registers RESET and INIT both set (table 9-1). */
static void reset_registers(struct cpu *cpu)
{
	memset(cpu->gpr, 0, sizeof(cpu->gpr));
	const struct cpuid_entry *id = cpuid_lookup(cpu, 1, 0);
	cpu->gpr[R_RDX] = id ? id->eax : 0x600; /* the processor signature */
	cpu_set_rflags(cpu, 2);
	cpu->rip = 0xfff0;
	for (unsigned s = S_ES; s <= S_GS; s++)
		cpu->seg[s] = (struct cpu_segment){.limit = 0xffff, .attr = 0x93};
	cpu->seg[S_CS] = (struct cpu_segment){
	    .selector = 0xf000, .base = 0xffff0000, .limit = 0xffff, .attr = 0x9b};
	cpu->gdtr = cpu->idtr = (struct cpu_dtable){.limit = 0xffff};
	cpu->ldtr = (struct cpu_segment){.limit = 0xffff, .attr = 0x82};
	cpu->tr = (struct cpu_segment){.limit = 0xffff, .attr = 0x8b};
	/* CD and NW keep their values on INIT; RESET sets them. */
	cpu->cr0 = (cpu->cr0 & (CR0_CD | CR0_NW)) | CR0_ET;
	cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = 0;
	cpu->efer = 0;
	memset(cpu->dr, 0, sizeof(cpu->dr));
	cpu->dr[6] = 0xffff0ff0;
	cpu->dr[7] = 0x400;
	cpu->nmi_blocked = false;
	cpu->int_shadow = false;
	cpu->cpl = 0;
	cpu_update_mode(cpu);
	cpu_tlb_flush_all(cpu);
}

void cpu_init_system(struct cpu *cpu, const struct cpu_mem_ops *mem, void *mem_ctx,
                     const struct cpu_sys_ops *sys)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->user = false;
	cpu->sys = sys;
	cpu->mem = mem;
	cpu->mem_ctx = mem_ctx;
	cpu->lf.op = LF_NONE;
	cpu->mxcsr = 0x1f80;
	cpu->x87.cw = 0x40; /* RESET (FINIT would give 0x37f) */
	cpu->x87.tag = 0xffff;
	cpu->cr0 = CR0_CD | CR0_NW;
	cpu->msr.pat = 0x0007040600070406ULL;
	cpu->msr.misc_enable = 1; /* fast strings */
	cpu->delivering = -1;
	cpu->cpuid = softcpu_default_cpuid(&cpu->nr_cpuid);
	if (code_cache_create(cpu))
		die("software CPU: out of memory for the code cache");
	if (mem && mem->attach)
		mem->attach(cpu);
	reset_registers(cpu);
	cpu->activity = CPU_ACTIVE;
}

void cpu_init_signal(struct cpu *cpu)
{
	reset_registers(cpu);
	cpu->activity = CPU_WAIT_SIPI;
}

uint32_t cpu_wake_mask(const struct cpu *cpu)
{
	switch (cpu->activity) {
	case CPU_WAIT_SIPI:
		return CPU_INT_INIT | CPU_INT_SIPI | CPU_INT_EXIT;
	case CPU_SHUTDOWN:
		return CPU_INT_INIT | CPU_INT_EXIT;
	default:
		return CPU_INT_INIT | CPU_INT_EXIT | (cpu->nmi_blocked ? 0 : CPU_INT_NMI) |
		       ((cpu->rflags & FLAG_IF) ? CPU_INT_EXTERNAL : 0);
	}
}

/* ---- registers ---- */

void cpu_get_regs(struct cpu *cpu, struct x86_regs *r)
{
	const uint64_t *g = cpu->gpr;
	*r = (struct x86_regs){
	    .rax = g[R_RAX],
	    .rbx = g[R_RBX],
	    .rcx = g[R_RCX],
	    .rdx = g[R_RDX],
	    .rsi = g[R_RSI],
	    .rdi = g[R_RDI],
	    .rsp = g[R_RSP],
	    .rbp = g[R_RBP],
	    .r8 = g[R_R8],
	    .r9 = g[R_R9],
	    .r10 = g[R_R10],
	    .r11 = g[R_R11],
	    .r12 = g[R_R12],
	    .r13 = g[R_R13],
	    .r14 = g[R_R14],
	    .r15 = g[R_R15],
	    .rip = cpu->rip,
	    .rflags = cpu_get_rflags(cpu),
	};
}

void cpu_set_regs(struct cpu *cpu, const struct x86_regs *r)
{
	const uint64_t v[16] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
	                        r->r8,  r->r9,  r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};
	memcpy(cpu->gpr, v, sizeof(v));
	cpu->rip = r->rip;
	cpu_set_rflags(cpu, r->rflags);
}

/* ---- segments and control registers ---- */

static void seg_out(const struct cpu_segment *s, struct x86_segment *o)
{
	*o = (struct x86_segment){
	    .base = s->base,
	    .limit = s->limit,
	    .selector = s->selector,
	    .type = s->attr & SEGA_TYPE,
	    .s = (s->attr & SEGA_S) != 0,
	    .dpl = SEGA_DPL(s->attr),
	    .present = (s->attr & SEGA_P) != 0,
	    .avl = (s->attr >> 12) & 1,
	    .l = (s->attr & SEGA_L) != 0,
	    .db = (s->attr & SEGA_DB) != 0,
	    .g = (s->attr & SEGA_G) != 0,
	    .unusable = !(s->attr & SEGA_P),
	};
}

static void seg_in(struct cpu_segment *s, const struct x86_segment *o)
{
	s->base = o->base;
	s->limit = o->limit;
	s->selector = o->selector;
	s->attr = (uint16_t)((o->type & 0xf) | (o->s ? SEGA_S : 0) | (o->dpl & 3) << 5 |
	                     (o->present ? SEGA_P : 0) | (o->avl & 1) << 12 | (o->l ? SEGA_L : 0) |
	                     (o->db ? SEGA_DB : 0) | (o->g ? SEGA_G : 0));
	if (o->unusable)
		s->attr &= (uint16_t)~SEGA_P;
}

void cpu_get_sregs(struct cpu *cpu, struct x86_sregs *sr)
{
	memset(sr, 0, sizeof(*sr));
	seg_out(&cpu->seg[S_CS], &sr->cs);
	seg_out(&cpu->seg[S_DS], &sr->ds);
	seg_out(&cpu->seg[S_ES], &sr->es);
	seg_out(&cpu->seg[S_FS], &sr->fs);
	seg_out(&cpu->seg[S_GS], &sr->gs);
	seg_out(&cpu->seg[S_SS], &sr->ss);
	seg_out(&cpu->tr, &sr->tr);
	seg_out(&cpu->ldtr, &sr->ldt);
	sr->gdt = (struct x86_dtable){.base = cpu->gdtr.base, .limit = (uint16_t)cpu->gdtr.limit};
	sr->idt = (struct x86_dtable){.base = cpu->idtr.base, .limit = (uint16_t)cpu->idtr.limit};
	sr->cr0 = cpu->cr0;
	sr->cr2 = cpu->cr2;
	sr->cr3 = cpu->cr3;
	sr->cr4 = cpu->cr4;
	sr->cr8 = cpu->cr8;
	sr->efer = cpu->efer;
	if (cpu->sys && cpu->sys->rdmsr)
		cpu->sys->rdmsr(cpu, MSR_APIC_BASE, &sr->apic_base);
}

void cpu_set_sregs(struct cpu *cpu, const struct x86_sregs *sr)
{
	seg_in(&cpu->seg[S_CS], &sr->cs);
	seg_in(&cpu->seg[S_DS], &sr->ds);
	seg_in(&cpu->seg[S_ES], &sr->es);
	seg_in(&cpu->seg[S_FS], &sr->fs);
	seg_in(&cpu->seg[S_GS], &sr->gs);
	seg_in(&cpu->seg[S_SS], &sr->ss);
	seg_in(&cpu->tr, &sr->tr);
	seg_in(&cpu->ldtr, &sr->ldt);
	cpu->gdtr = (struct cpu_dtable){.base = sr->gdt.base, .limit = sr->gdt.limit};
	cpu->idtr = (struct cpu_dtable){.base = sr->idt.base, .limit = sr->idt.limit};
	cpu->cr0 = sr->cr0 | CR0_ET;
	cpu->cr2 = sr->cr2;
	cpu->cr3 = sr->cr3;
	cpu->cr4 = sr->cr4;
	cpu->cr8 = sr->cr8;
	cpu->efer = sr->efer;
	if (cpu->sys && cpu->sys->wrmsr && sr->apic_base)
		cpu->sys->wrmsr(cpu, MSR_APIC_BASE, sr->apic_base);
	cpu->cpl = (cpu->cr0 & CR0_PE) ? (sr->cs.selector & 3) : 0;
	cpu_update_mode(cpu);
	cpu_tlb_flush_all(cpu);
	/* A vCPU given a state to run is no longer waiting for a SIPI. */
	if (cpu->activity == CPU_WAIT_SIPI || cpu->activity == CPU_SHUTDOWN)
		cpu->activity = CPU_ACTIVE;
}
