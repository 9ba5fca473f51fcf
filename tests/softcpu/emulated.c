/*
 * The interpreter side of the differential tests: a struct cpu in 64-bit
 * user mode over a user_mem that maps the sandbox pages at their own host
 * addresses (so both sides see the same bytes), loaded from a case's input
 * state, run for exactly one instruction (cpu_run budget 1), and captured
 * into the same struct dt_state the native side fills.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpu.h"
#include "accel/soft/cpuid.h"
#include "accel/soft/user_mem.h"
#include "difftest.h"

static struct cpu *ecpu;
static struct user_mem *emem;

int dt_emu_init(void)
{
	int ret;

	emem = user_mem_create();
	if (!emem)
		return -ENOMEM;
	ret = user_mem_map(emem, DT_CODE_BASE, DT_PAGE, USER_PROT_READ | USER_PROT_EXEC,
	                   (void *)DT_CODE_BASE);
	if (!ret)
		ret = user_mem_map(emem, DT_DATA_BASE, DT_DATA_SIZE,
		                   USER_PROT_READ | USER_PROT_WRITE, (void *)DT_DATA_BASE);
	if (!ret)
		ret = user_mem_map(emem, DT_RO_BASE, DT_PAGE, USER_PROT_READ, (void *)DT_RO_BASE);
	if (ret) {
		fprintf(stderr, "difftest: user_mem_map: %s\n", strerror(-ret));
		return ret;
	}
	ecpu = aligned_alloc(64, ALIGN_UP(sizeof(*ecpu), 64));
	if (!ecpu)
		return -ENOMEM;
	memset(ecpu, 0, sizeof(*ecpu));
	cpu_init_user64(ecpu, &user_mem_ops, emem);
	return 0;
}

/* The full tag of a valid register, as FXRSTOR derives it from the value. */
static unsigned tag_of(const uint8_t *st)
{
	uint64_t mant;
	uint16_t se;

	memcpy(&mant, st, 8);
	memcpy(&se, st + 8, 2);
	if ((se & 0x7fff) == 0x7fff)
		return 2;
	if ((se & 0x7fff) == 0)
		return mant ? 2 : 1;
	return (mant >> 63) ? 0 : 2;
}

static void load(struct cpu *cpu, const struct dt_state *s)
{
	const uint8_t *fx = s->fx;
	uint16_t fsw = dt_fx16(fx, FX_FSW), tag = 0;
	unsigned top = (fsw >> 11) & 7;

	memcpy(cpu->gpr, s->gpr, sizeof(cpu->gpr));
	cpu->rip = s->rip;
	cpu_set_rflags(cpu, s->rflags);
	for (int i = 0; i < 16; i++)
		memcpy(&cpu->xmm[i], fx + FX_XMM + 16 * i, 16);
	cpu->mxcsr = dt_fx32(fx, FX_MXCSR);

	memset(cpu->x87.st, 0, sizeof(cpu->x87.st));
	for (unsigned i = 0; i < 8; i++) {
		unsigned phys = (top + i) & 7;
		const uint8_t *st = fx + FX_ST + 16 * i;
		memcpy(&cpu->x87.st[phys], st, 10);
		tag |= (uint16_t)(((fx[FX_FTW] >> phys) & 1 ? tag_of(st) : 3) << (2 * phys));
	}
	cpu->x87.cw = dt_fx16(fx, FX_FCW);
	cpu->x87.sw = fsw & ~0x3800;
	cpu->x87.top = (uint8_t)top;
	cpu->x87.tag = tag;
	cpu->x87.fop = 0;
	cpu->x87.fip = cpu->x87.fdp = 0;

	cpu->exit = CPU_EXIT_NONE;
	cpu->exc_vector = 0;
	cpu->exc_error = 0;
	cpu->exc_has_error = false;
	cpu->cr2 = 0;
}

static void capture(struct cpu *cpu, enum cpu_exit exit, struct dt_state *out)
{
	uint8_t *fx = out->fx;
	uint16_t fsw = (uint16_t)((cpu->x87.sw & ~0x3800) | (cpu->x87.top & 7) << 11);
	uint8_t ftw = 0;

	memset(out, 0, sizeof(*out));
	memcpy(out->gpr, cpu->gpr, sizeof(out->gpr));
	out->rip = cpu->rip;
	out->rflags = cpu_get_rflags(cpu);
	memcpy(fx + FX_FCW, &cpu->x87.cw, 2);
	memcpy(fx + FX_FSW, &fsw, 2);
	for (unsigned phys = 0; phys < 8; phys++)
		if (((cpu->x87.tag >> (2 * phys)) & 3) != 3)
			ftw |= (uint8_t)(1u << phys);
	fx[FX_FTW] = ftw;
	memcpy(fx + FX_MXCSR, &cpu->mxcsr, 4);
	for (unsigned i = 0; i < 8; i++)
		memcpy(fx + FX_ST + 16 * i, &cpu->x87.st[(cpu->x87.top + i) & 7], 10);
	for (int i = 0; i < 16; i++)
		memcpy(fx + FX_XMM + 16 * i, &cpu->xmm[i], 16);

	switch (exit) {
	case CPU_EXIT_NONE:
	case CPU_EXIT_BUDGET:
		out->vector = -1;
		break;
	case CPU_EXIT_EXCEPTION:
		out->vector = cpu->exc_vector;
		out->error = cpu->exc_has_error ? cpu->exc_error : 0;
		out->cr2 = cpu->exc_vector == EXC_PF ? cpu->cr2 : 0;
		break;
	default:
		/* SYSCALL, HLT, ...: not an outcome any tested instruction has */
		out->vector = 100 + (int32_t)exit;
		break;
	}
}

void dt_emu_run(const struct dt_case *c, struct dt_state *out)
{
	enum cpu_exit exit;

	/* The code page was rewritten behind the interpreter's back. */
	cpu_code_flush(ecpu);
	load(ecpu, &c->in);
	exit = cpu_run(ecpu, 1);
	capture(ecpu, exit, out);
}

bool dt_emu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	size_t nr;
	const struct cpuid_entry *t = softcpu_default_cpuid(&nr);

	r[0] = r[1] = r[2] = r[3] = 0;
	for (size_t k = 0; k < nr; k++) {
		if (t[k].function != leaf ||
		    ((t[k].flags & CPUID_FLAG_SIGNIFICANT_INDEX) && t[k].index != sub))
			continue;
		r[0] = t[k].eax;
		r[1] = t[k].ebx;
		r[2] = t[k].ecx;
		r[3] = t[k].edx;
		break;
	}
	return true;
}
