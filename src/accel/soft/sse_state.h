/*
 * The architectural state every SSE family and FXSAVE/FXRSTOR share, in one
 * place so they cannot drift apart: the control-register bits that gate SSE
 * (SDM vol. 2A, 2.5: #UD when CR0.EM is set or CR4.OSFXSR clear, #NM when
 * CR0.TS is set; #XM needs CR4.OSXMMEXCPT), the MXCSR bits LDMXCSR and
 * FXRSTOR accept (the AMD host's MXCSR_MASK, DAZ and MM (bit 17, AMD's
 * misaligned SSE mode) included), and the cold paths that raise the
 * availability and alignment faults.
 */
#ifndef EMBER_ACCEL_SOFT_SSE_STATE_H
#define EMBER_ACCEL_SOFT_SSE_STATE_H

#include "accel/soft/mem.h"

#define CR0_EM         (1ULL << 2)
#define CR0_TS         (1ULL << 3)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)

#define SSE_MXCSR_MASK 0x2ffffu
#define MXCSR_MM       (1u << 17)

/* #UD (CR0.EM or !CR4.OSFXSR) or #NM (CR0.TS): never returns. */
__attribute__((noreturn, cold)) void sse_unavailable(struct cpu *cpu, const struct insn *i);
/* #GP(0) for a misaligned 16-byte operand. */
__attribute__((noreturn, cold)) void sse_misaligned(struct cpu *cpu, const struct insn *i);

/* Every SSE handler's entry check. Constant in user mode: one never-taken branch. */
static inline __attribute__((always_inline)) void sse_enter(struct cpu *cpu,
							  const struct insn *i)
{
	if (unlikely((cpu->cr0 & (CR0_EM | CR0_TS)) | (~cpu->cr4 & CR4_OSFXSR)))
		sse_unavailable(cpu, i);
}

#endif
