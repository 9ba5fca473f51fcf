/*
 * The model-specific registers the CPU itself keeps (SDM vol. 4, chapter 2
 * "Model-specific registers"; vol. 3, 5.8.8 for the SYSCALL MSRs, 11.11
 * MTRRs, 11.12 PAT): EFER, STAR/LSTAR/CSTAR/SFMASK, FS/GS/KERNEL_GS base,
 * SYSENTER_*, PAT, TSC (a write moves tsc_offset), TSC_AUX, MISC_ENABLE,
 * the MTRRs as plain storage (MTRRcap = 0: no ranges, no fixed MTRRs
 * advertised) and a few read-as-zero identification MSRs Linux reads on
 * Intel CPUs. The platform's MSRs (APIC base, x2APIC, TSC deadline) go to
 * cpu->sys first. Anything else does not exist: RDMSR/WRMSR raise #GP(0).
 */
#include <x86intrin.h>

#include "accel/soft/mem.h"
#include "accel/soft/sys.h"
#include "arch/x86/msr.h"

#define MSR_IA32_PLATFORM_ID  0x17
#define MSR_IA32_BIOS_SIGN_ID 0x8b /* microcode revision */
#define MSR_MTRRCAP           0xfe
#define MSR_MCG_CAP           0x179
#define MSR_MCG_STATUS        0x17a
#define MSR_MTRR_PHYS_FIRST   0x200
#define MSR_MTRR_PHYS_LAST    0x20f
#define MSR_MTRR_FIX64K       0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_FIRST  0x268
#define MSR_MTRR_FIX4K_LAST   0x26f
#define MSR_PAT               0x277
#define MSR_EFER              0xc0000080
#define MSR_FS_BASE           0xc0000100
#define MSR_GS_BASE           0xc0000101
#define MSR_TSC_AUX           0xc0000103

/* The fixed-range MTRRs in cpu->msr.mtrr_fixed order, or -1. */
static int mtrr_fixed_index(uint32_t index)
{
	if (index == MSR_MTRR_FIX64K)
		return 0;
	if (index == MSR_MTRR_FIX16K_80000 || index == MSR_MTRR_FIX16K_A0000)
		return 1 + (int)(index - MSR_MTRR_FIX16K_80000);
	if (index >= MSR_MTRR_FIX4K_FIRST && index <= MSR_MTRR_FIX4K_LAST)
		return 3 + (int)(index - MSR_MTRR_FIX4K_FIRST);
	return -1;
}

/* The MSR's storage in struct cpu for the plain ones, or NULL. */
static uint64_t *msr_slot(struct cpu *cpu, uint32_t index)
{
	struct cpu_msrs *m = &cpu->msr;
	switch (index) {
	case MSR_STAR:
		return &m->star;
	case MSR_LSTAR:
		return &m->lstar;
	case MSR_CSTAR:
		return &m->cstar;
	case MSR_SYSCALL_MASK:
		return &m->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &m->kernel_gs_base;
	case MSR_FS_BASE:
		return &cpu->seg[S_FS].base;
	case MSR_GS_BASE:
		return &cpu->seg[S_GS].base;
	case MSR_IA32_SYSENTER_CS:
		return &m->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:
		return &m->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:
		return &m->sysenter_eip;
	case MSR_PAT:
		return &m->pat;
	case MSR_IA32_MISC_ENABLE:
		return &m->misc_enable;
	case MSR_IA32_BIOS_SIGN_ID:
		return &m->ucode_rev;
	case MSR_MTRR_DEF_TYPE:
		return &m->mtrr_def_type;
	default:
		break;
	}
	if (index >= MSR_MTRR_PHYS_FIRST && index <= MSR_MTRR_PHYS_LAST)
		return &m->mtrr_var[index - MSR_MTRR_PHYS_FIRST];
	int f = mtrr_fixed_index(index);
	return f >= 0 ? &m->mtrr_fixed[f] : NULL;
}

/* MSRs whose value must be a canonical address (vol. 4: #GP otherwise). */
static bool msr_wants_canonical(uint32_t index)
{
	return index == MSR_LSTAR || index == MSR_CSTAR || index == MSR_KERNEL_GS_BASE ||
	       index == MSR_FS_BASE || index == MSR_GS_BASE || index == MSR_IA32_SYSENTER_ESP ||
	       index == MSR_IA32_SYSENTER_EIP;
}

int msr_read(struct cpu *cpu, uint32_t index, uint64_t *value)
{
	if (cpu->sys && cpu->sys->rdmsr && cpu->sys->rdmsr(cpu, index, value) == 0)
		return 0;
	uint64_t *slot = msr_slot(cpu, index);
	if (slot) {
		*value = *slot;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		*value = cpu->efer;
		return 0;
	case MSR_IA32_TSC:
		*value = __rdtsc() + cpu->tsc_offset;
		return 0;
	case MSR_TSC_AUX:
		*value = cpu->tsc_aux;
		return 0;
	case MSR_IA32_PLATFORM_ID:
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
		*value = 0;
		return 0;
	default:
		return -1;
	}
}

void msr_efer_changed(struct cpu *cpu, uint64_t old)
{
	if ((old ^ cpu->efer) & (EFER_NXE | EFER_LMA | EFER_LME))
		cpu_tlb_flush_all(cpu);
	cpu_update_mode(cpu);
}

/* EFER (vol. 3, 2.2.1): SCE, LME (not while paging is on), NXE; LMA is read-only. */
static int efer_write(struct cpu *cpu, uint64_t v)
{
	const uint64_t writable = EFER_SCE | EFER_LME | EFER_NXE;
	if (v & ~(writable | EFER_LMA))
		return -2;
	if ((cpu->cr0 & CR0_PG) && ((v ^ cpu->efer) & EFER_LME))
		return -2;
	uint64_t old = cpu->efer;
	cpu->efer = (v & writable) | (old & EFER_LMA);
	msr_efer_changed(cpu, old);
	return 0;
}

int msr_write(struct cpu *cpu, uint32_t index, uint64_t value)
{
	if (cpu->sys && cpu->sys->wrmsr && cpu->sys->wrmsr(cpu, index, value) == 0)
		return 0;
	if (msr_wants_canonical(index) && !mem_canonical(value))
		return -2;
	uint64_t *slot = msr_slot(cpu, index);
	if (slot) {
		if (index == MSR_IA32_BIOS_SIGN_ID)
			value = 0; /* a write asks CPUID to load the revision: we have none */
		*slot = value;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		return efer_write(cpu, value);
	case MSR_IA32_TSC:
		cpu->tsc_offset = value - __rdtsc();
		return 0;
	case MSR_TSC_AUX:
		if (value >> 32)
			return -2;
		cpu->tsc_aux = (uint32_t)value;
		return 0;
	case MSR_MCG_STATUS:
		return 0;
	default:
		return -1;
	}
}

int cpu_get_msr(struct cpu *cpu, uint32_t index, uint64_t *value)
{
	return msr_read(cpu, index, value) == 0 ? 0 : -1;
}

int cpu_set_msr(struct cpu *cpu, uint32_t index, uint64_t value)
{
	return msr_write(cpu, index, value) == 0 ? 0 : -1;
}
