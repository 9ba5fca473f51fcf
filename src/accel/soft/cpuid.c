/*
 * The software CPU's CPUID table (SDM vol. 2A "CPUID", tables 3-8 to 3-20;
 * AMD APM vol. 3, appendix E for the 0x8000xxxx leaves). It advertises
 * only what the interpreter implements: the x86-64 baseline (FPU, TSC,
 * CX8, CMOV, FXSR, SSE, SSE2, SYSCALL, NX, LM) plus CMPXCHG16B, RDTSCP,
 * LAHF/SAHF, POPCNT, MOVBE, LZCNT (ABM), ADX (not BMI1: it needs VEX),
 * CLFLUSH, SSE3, SSSE3, SSE4.1 and SSE4.2; ERMS and FSRM so Linux copies and clears with REP
 * MOVSB/STOSB, which the interpreter runs a page at a time (string.c).
 * No MMX, no MONITOR/MWAIT, no AVX, no XSAVE: as a family lands, its
 * engineer sets its bit here (and tests it).
 */
#include "accel/soft/cpuid.h"

#include "core/macros.h"

/* Leaf 1 EDX / ECX. */
#define F1D_FPU  (1u << 0)
#define F1D_TSC  (1u << 4)
#define F1D_CX8  (1u << 8)
#define F1D_CMOV (1u << 15)
#define F1D_FXSR (1u << 24)
#define F1D_SSE  (1u << 25)
#define F1D_SSE2 (1u << 26)
#define F1C_CX16 (1u << 13)
#define F1C_MOVBE  (1u << 22)
#define F1C_POPCNT (1u << 23)
#define F1C_SSSE3  (1u << 9)
#define F1C_SSE41  (1u << 19)
#define F1C_SSE3   (1u << 0)
#define F1C_SSE42  (1u << 20)
#define F1C_RDRAND (1u << 30)
#define F1D_CLFSH  (1u << 19)
/* Leaf 0x80000001 EDX / ECX. */
#define X1D_SYSCALL (1u << 11)
#define X1D_NX      (1u << 20)
#define X1D_RDTSCP  (1u << 27)
#define X1D_LM      (1u << 29)
#define X1C_LAHF    (1u << 0)
#define X1C_ABM     (1u << 5) /* LZCNT */
/* Leaf 7 subleaf 0 EBX. */
#define L7B_ADX (1u << 19)
#define L7B_ERMS (1u << 9) /* enhanced REP MOVSB/STOSB (string.c) */
/* Leaf 7 subleaf 0 EDX. */
#define L7D_FSRM (1u << 4) /* fast short REP MOVSB (string.c) */
/* Leaf 0x80000007 EDX. */
#define X7D_INVARIANT_TSC (1u << 8)

/* Four ASCII bytes as CPUID returns them in a register (little-endian). */
#define STR4(a, b, c, d)                                                                           \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static const struct cpuid_entry default_table[] = {
    /* Max basic leaf 7; vendor "EmberSoftCPU" in EBX, EDX, ECX. */
    {.function = 0,
     .eax = 7,
     .ebx = STR4('E', 'm', 'b', 'e'),
     .edx = STR4('r', 'S', 'o', 'f'),
     .ecx = STR4('t', 'C', 'P', 'U')},
    /* Family 6, model 1, stepping 0; CLFLUSH line 64 bytes; one logical CPU. */
    {.function = 1,
     .eax = 0x610,
     .ebx = (8u << 8) | (1u << 16),
     .ecx = F1C_CX16 | F1C_MOVBE | F1C_POPCNT | F1C_SSE3 | F1C_SSSE3 | F1C_SSE41 | F1C_SSE42 |
            F1C_RDRAND,
     .edx = F1D_FPU | F1D_TSC | F1D_CX8 | F1D_CMOV | F1D_CLFSH | F1D_FXSR | F1D_SSE |
            F1D_SSE2},
    {.function = 7, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX,
     .ebx = L7B_ADX | L7B_ERMS,
     .edx = L7D_FSRM},
    {.function = 0x80000000,
     .eax = 0x80000008,
     .ebx = STR4('E', 'm', 'b', 'e'),
     .edx = STR4('r', 'S', 'o', 'f'),
     .ecx = STR4('t', 'C', 'P', 'U')},
    {.function = 0x80000001,
     .ecx = X1C_LAHF | X1C_ABM,
     .edx = X1D_SYSCALL | X1D_NX | X1D_RDTSCP | X1D_LM},
    /* Brand string "ember software CPU" (48 bytes, NUL-padded). */
    {.function = 0x80000002,
     .eax = STR4('e', 'm', 'b', 'e'),
     .ebx = STR4('r', ' ', 's', 'o'),
     .ecx = STR4('f', 't', 'w', 'a'),
     .edx = STR4('r', 'e', ' ', 'C')},
    {.function = 0x80000003, .eax = STR4('P', 'U', 0, 0)},
    {.function = 0x80000004},
    {.function = 0x80000007, .edx = X7D_INVARIANT_TSC},
    /* 48 physical and 48 linear address bits. */
    {.function = 0x80000008, .eax = 0x3030},
};

const struct cpuid_entry *softcpu_default_cpuid(size_t *nr)
{
	*nr = ARRAY_SIZE(default_table);
	return default_table;
}

const struct cpuid_entry *cpuid_lookup(const struct cpu *cpu, uint32_t leaf, uint32_t subleaf)
{
	for (size_t k = 0; k < cpu->nr_cpuid; k++) {
		const struct cpuid_entry *e = &cpu->cpuid[k];
		if (e->function == leaf &&
		    (!(e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) || e->index == subleaf))
			return e;
	}
	return NULL;
}
