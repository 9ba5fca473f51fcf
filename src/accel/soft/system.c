/*
 * Hints, flag instructions, traps and the system instructions a user-mode
 * program uses (SDM vol. 2: NOP, PAUSE, ENDBR64, PREFETCHh, LFENCE/MFENCE/
 * SFENCE, CLC/STC/CMC/CLD/STD, SAHF/LAHF, CPUID, RDTSC/RDTSCP, SYSCALL,
 * HLT, INT3, INT n, INT1).
 *
 * User mode (cpu->user: ember cpu-run, the differential tests) has no
 * kernel behind the CPU: SYSCALL ends cpu_run with CPU_EXIT_SYSCALL, and
 * software interrupts become exceptions the caller handles. In system mode
 * they go to far.c (SYSCALL to LSTAR, delivery through the IDT) and HLT
 * puts the CPU in the halted state (cpu.c wakes it).
 */
#include <string.h>
#include <sys/random.h>
#include <x86intrin.h>

#include "accel/soft/cpuid.h"
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"
#include "accel/soft/sys.h"

HANDLER(nop)
{
	return insn_next(cpu, i);
}

HANDLER(mfence)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return insn_next(cpu, i);
}

/* ---- flags ---- */

HANDLER(clc)
{
	lf_materialise(cpu);
	cpu->rflags &= ~(uint64_t)FLAG_CF;
	return insn_next(cpu, i);
}

HANDLER(stc)
{
	lf_materialise(cpu);
	cpu->rflags |= FLAG_CF;
	return insn_next(cpu, i);
}

HANDLER(cmc)
{
	lf_materialise(cpu);
	cpu->rflags ^= FLAG_CF;
	return insn_next(cpu, i);
}

HANDLER(cld)
{
	cpu->rflags &= ~(uint64_t)FLAG_DF;
	return insn_next(cpu, i);
}

HANDLER(std)
{
	cpu->rflags |= FLAG_DF;
	return insn_next(cpu, i);
}

/* SAHF / LAHF: SF ZF AF PF CF <-> AH (bit 1 reads as 1). */
#define AH_FLAGS (FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF)

HANDLER(sahf)
{
	lf_materialise(cpu);
	uint64_t ah = (cpu->gpr[R_RAX] >> 8) & AH_FLAGS;
	cpu->rflags = (cpu->rflags & ~(uint64_t)AH_FLAGS) | ah;
	return insn_next(cpu, i);
}

HANDLER(lahf)
{
	uint64_t f = (lf_flags(cpu) & AH_FLAGS) | 2;
	cpu->gpr[R_RAX] = (cpu->gpr[R_RAX] & ~0xff00ULL) | f << 8;
	return insn_next(cpu, i);
}

/* ---- CPUID, time stamp counter ---- */

HANDLER(cpuid)
{
	const struct cpuid_entry *e =
	    cpuid_lookup(cpu, (uint32_t)cpu->gpr[R_RAX], (uint32_t)cpu->gpr[R_RCX]);
	cpu->gpr[R_RAX] = e ? e->eax : 0;
	cpu->gpr[R_RBX] = e ? e->ebx : 0;
	cpu->gpr[R_RCX] = e ? e->ecx : 0;
	cpu->gpr[R_RDX] = e ? e->edx : 0;
	return insn_next(cpu, i);
}

/*
 * The guest TSC is the host's read after the loads and stores of the
 * instructions before it: the host may otherwise execute RDTSC ahead of an
 * emulated load, and Linux's cross-CPU TSC warp check (lock; read the other
 * CPU's last TSC; RDTSC) then sees time go backwards. One host LFENCE per
 * guest RDTSC stands for the guest's own LFENCE/MFENCE around it.
 */
static uint64_t guest_tsc(const struct cpu *cpu)
{
	_mm_lfence();
	return __rdtsc() + cpu->tsc_offset;
}

static void tsc_check(struct cpu *cpu, const struct insn *i)
{
	if ((cpu->cr4 & CR4_TSD) && cpu->cpl > 0)
		insn_raise(cpu, i, EXC_GP, 0, true);
}

HANDLER(rdtsc)
{
	tsc_check(cpu, i);
	uint64_t t = guest_tsc(cpu);
	cpu->gpr[R_RAX] = (uint32_t)t;
	cpu->gpr[R_RDX] = t >> 32;
	return insn_next(cpu, i);
}

HANDLER(rdtscp)
{
	tsc_check(cpu, i);
	uint64_t t = guest_tsc(cpu);
	cpu->gpr[R_RAX] = (uint32_t)t;
	cpu->gpr[R_RDX] = t >> 32;
	cpu->gpr[R_RCX] = cpu->tsc_aux;
	return insn_next(cpu, i);
}

/* ---- leaving the CPU: SYSCALL, HLT, software interrupts ---- */

/* SYSCALL (64-bit mode): RCX = next RIP, R11 = RFLAGS with RF clear. */
HANDLER(syscall)
{
	if (!cpu->user)
		return sys_syscall(cpu, i);
	if (!(cpu->efer & 1) || cpu->mode != CPU_MODE_LONG64)
		insn_raise(cpu, i, EXC_UD, 0, false);
	cpu->gpr[R_RCX] = cpu->rip;
	cpu->gpr[R_R11] = cpu_get_rflags(cpu) & ~(uint64_t)FLAG_RF;
	cpu->exit = CPU_EXIT_SYSCALL;
	return NULL;
}

HANDLER(hlt)
{
	if (cpu->cpl > 0)
		insn_raise(cpu, i, EXC_GP, 0, true);
	if (!cpu->user) {
		cpu->activity = CPU_HALTED;
		return NULL;
	}
	cpu->exit = CPU_EXIT_HLT;
	return NULL;
}

HANDLER(int3)
{
	if (!cpu->user)
		return sys_soft_int(cpu, i, EXC_BP);
	insn_raise_trap(cpu, i, EXC_BP);
}

HANDLER(int1)
{
	insn_raise_trap(cpu, i, EXC_DB);
}

HANDLER(into)
{
	if (cc_test(cpu, CC_O)) {
		if (!cpu->user)
			return sys_soft_int(cpu, i, EXC_OF);
		insn_raise_trap(cpu, i, EXC_OF);
	}
	return NULL;
}

/*
 * INT n in user mode: Linux's IDT lets CPL 3 use only vectors 3, 4 and
 * 0x80 (the 32-bit system call); any other gate has DPL 0, so INT n raises
 * #GP with the error code of the IDT entry (vol. 3, 6.13: index << 3 | IDT).
 */
HANDLER(int_n)
{
	unsigned n = (unsigned)i->imm & 0xff;
	if (!cpu->user)
		return sys_soft_int(cpu, i, n);
	if (n == 3 || n == 4 || n == 0x80)
		insn_raise_trap(cpu, i, (uint8_t)n);
	insn_raise(cpu, i, EXC_GP, n << 3 | 2, true);
}

/* ---- RDRAND / RDSEED: the host's getrandom(2) ---- */

/*
 * A small per-thread pool so that a guest seeding its RNG does not cost a
 * system call per instruction. When the host has no entropy to give
 * (getrandom would block), the instruction reports failure with CF=0, as
 * hardware does when its generator is drained: software retries.
 */
static _Thread_local uint8_t rng_pool[256];
static _Thread_local unsigned rng_left;

static bool rng_take(void *out, unsigned len)
{
	if (rng_left < len) {
		ssize_t n = getrandom(rng_pool, sizeof(rng_pool), GRND_NONBLOCK);
		if (n != (ssize_t)sizeof(rng_pool))
			return false;
		rng_left = sizeof(rng_pool);
	}
	rng_left -= len;
	memcpy(out, rng_pool + rng_left, len);
	memset(rng_pool + rng_left, 0, len); /* handed out once */
	return true;
}

/* The destination gets the random value (or 0); CF says which; OF SF ZF AF PF clear. */
static const struct insn *rdrand_sz(struct cpu *cpu, const struct insn *i, unsigned sz)
{
	uint64_t v = 0;
	bool ok = rng_take(&v, 1u << sz);
	reg_set(cpu, sz, i->reg, v);
	lf_materialise(cpu);
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | (ok ? FLAG_CF : 0);
	return insn_next(cpu, i);
}

HANDLER(rdrand_SZ16)
{
	return rdrand_sz(cpu, i, SZ16);
}
HANDLER(rdrand_SZ32)
{
	return rdrand_sz(cpu, i, SZ32);
}
HANDLER(rdrand_SZ64)
{
	return rdrand_sz(cpu, i, SZ64);
}

insn_fn system_select(const struct decode *d)
{
	switch (d->op) {
	case OP_NOP:
	case OP_PAUSE:
	case OP_ENDBR64:
	case OP_ENDBR32:
	case OP_HINTNOP:
	case OP_PREFETCH:
	case OP_LFENCE:
	case OP_SFENCE:
		return nop;
	case OP_MFENCE:
		return mfence;
	case OP_CLC:
		return clc;
	case OP_STC:
		return stc;
	case OP_CMC:
		return cmc;
	case OP_CLD:
		return cld;
	case OP_STD:
		return std;
	case OP_SAHF:
		return sahf;
	case OP_LAHF:
		return lahf;
	case OP_CPUID:
		return cpuid;
	case OP_RDRAND:
	case OP_RDSEED:
		return d->osize == SZ16 ? rdrand_SZ16 : d->osize == SZ32 ? rdrand_SZ32 : rdrand_SZ64;
	case OP_RDTSC:
		return rdtsc;
	case OP_RDTSCP:
		return rdtscp;
	case OP_SYSCALL:
		return syscall;
	case OP_HLT:
		return hlt;
	case OP_INT3:
		return int3;
	case OP_INT1:
		return int1;
	case OP_INTO:
		return into;
	case OP_INT:
		return int_n;
	default:
		return NULL;
	}
}
