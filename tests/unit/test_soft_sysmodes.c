/*
 * Unit tests for the software CPU's other modes and the transitions between
 * them (docs/softcpu.md, "System mode"): the SIPI trampoline from real mode
 * through protected mode to 64-bit mode, real-mode INT/IRET through the IVT,
 * 32-bit protected-mode delivery with and without a stack switch, far
 * CALL/RETF, POP SS and LDS, compatibility mode (IRETQ, SYSCALL/SYSRET), and
 * the checks at CPL 3 (privileged instructions, POPF, gate DPL, VERR/VERW/
 * LAR). test_soft_system.h has the fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_soft_system.h"

/* pop rbx ; mov rax,[rsp] ; hlt */
static const uint8_t h_gp[] = {
    0x5b, 0x48, 0x8b, 0x04, 0x24, 0xf4,
};
/*
 * mov ecx,0xc0000081 ; xor eax,eax ; mov edx,0x00230010 ; wrmsr ; mov ecx,0xc0000082
 * mov eax,0x11400 ; xor edx,edx ; wrmsr ; mov ecx,0xc0000084 ; mov eax,0x200 ; wrmsr
 * mov ecx,0xc0000080 ; rdmsr ; or eax,1 ; wrmsr ; push 0x2b ; push 0x78000 ; push 0x202
 * push 0x33 ; push 0x20000 ; iretq
 */
static const uint8_t k_to_user[] = {
    0xb9, 0x81, 0x00, 0x00, 0xc0, 0x31, 0xc0, 0xba, 0x10, 0x00, 0x23, 0x00, 0x0f, 0x30, 0xb9,
    0x82, 0x00, 0x00, 0xc0, 0xb8, 0x00, 0x14, 0x01, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x84,
    0x00, 0x00, 0xc0, 0xb8, 0x00, 0x02, 0x00, 0x00, 0x0f, 0x30, 0xb9, 0x80, 0x00, 0x00, 0xc0,
    0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, 0x6a, 0x2b, 0x68, 0x00, 0x80, 0x07, 0x00, 0x68,
    0x02, 0x02, 0x00, 0x00, 0x6a, 0x33, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf,
};
/* hlt */
static const uint8_t h_int3_user[] = {
    0xf4,
};
/*
 * The SIPI trampoline at 0x8000 (CS = 0x0800), as Linux's trampoline_64.S:
 *   mov ax,cs ; mov ds,ax ; lgdt (32-bit) [gdtr] ; mov eax,1 ; mov cr0,eax
 *   jmp dword 0x08:pm32
 * pm32 (32-bit): mov ax,0x18 ; mov ds,ax ; mov ss,ax ; mov eax,cr4 ; or eax,0x20
 *   mov cr4,eax ; mov eax,0x2000 ; mov cr3,eax ; mov ecx,0xc0000080 ; rdmsr
 *   or eax,0x100 ; wrmsr ; mov eax,cr0 ; or eax,0x80000000 ; mov cr0,eax
 *   jmp 0x10:lm64
 * lm64 (64-bit): mov rax,0x123456789 ; hlt
 * gdtr (8-aligned): .word 79 ; .long 0x1000
 */
static const uint8_t r_trampoline[] = {
    0x8c, 0xc8, 0x8e, 0xd8, 0x66, 0x0f, 0x01, 0x16, 0x60, 0x00, 0x66, 0xb8, 0x01, 0x00, 0x00,
    0x00, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x1b, 0x80, 0x00, 0x00, 0x08, 0x00, 0x66, 0xb8, 0x18,
    0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8,
    0x00, 0x20, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d,
    0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f,
    0x22, 0xc0, 0xea, 0x54, 0x80, 0x00, 0x00, 0x10, 0x00, 0x48, 0xb8, 0x89, 0x67, 0x45, 0x23,
    0x01, 0x00, 0x00, 0x00, 0xf4, 0x90, 0x4f, 0x00, 0x00, 0x10, 0x00, 0x00,
};
/* int 0x80 ; mov eax,2 ; ud2 */
static const uint8_t p_int80[] = {
    0xcd, 0x80, 0xb8, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x0b,
};
/* mov ebx,[esp] ; mov ecx,[esp+4] ; iretd */
static const uint8_t p_h80[] = {
    0x8b, 0x1c, 0x24, 0x8b, 0x4c, 0x24, 0x04, 0xcf,
};
/* mov edx,[esp] ; pusha ; popa ; hlt */
static const uint8_t p_hud[] = {
    0x8b, 0x14, 0x24, 0x60, 0x61, 0xf4,
};
/* int 0x10 ; mov ax,1 ; hlt */
static const uint8_t r_int10[] = {
    0xcd, 0x10, 0xb8, 0x01, 0x00, 0xf4,
};
/* mov bx,0x55 ; mov bp,sp ; mov cx,[bp] ; iret */
static const uint8_t r_h10[] = {
    0xbb, 0x55, 0x00, 0x89, 0xe5, 0x8b, 0x4e, 0x00, 0xcf,
};
/* pushfq ; and qword ptr [rsp],-513 ; popfq ; pushfq ; pop r10 ; cli */
static const uint8_t u_priv[] = {
    0x9c, 0x48, 0x81, 0x24, 0x24, 0xff, 0xfd, 0xff, 0xff, 0x9d, 0x9c, 0x41, 0x5a, 0xfa,
};
/* push 0x2b ; push 0x78000 ; push 0x202 ; push 0x23 ; push 0x20000 ; iretq */
static const uint8_t k_to_compat[] = {
    0x6a, 0x2b, 0x68, 0x00, 0x80, 0x07, 0x00, 0x68, 0x02, 0x02, 0x00,
    0x00, 0x6a, 0x23, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf,
};
/* mov eax,3 ; int3 */
static const uint8_t c_code[] = {
    0xb8, 0x03, 0x00, 0x00, 0x00, 0xcc,
};
/* int 0x81 ; int 0x80 */
static const uint8_t u_int_dpl[] = {
    0xcd,
    0x81,
    0xcd,
    0x80,
};
/* mov r8,[rsp] ; mov r9,[rsp+8] ; hlt */
static const uint8_t h_rec_hlt[] = {
    0x4c, 0x8b, 0x04, 0x24, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0xf4,
};
/* inc r11d ; iretq */
static const uint8_t h_iret[] = {
    0x41, 0xff, 0xc3, 0x48, 0xcf,
};
/* mov r12,rcx ; .byte 0x0f,0x07 */
static const uint8_t h_sysret32[] = {
    0x49, 0x89, 0xcc, 0x0f, 0x07,
};
/* syscall ; mov eax,0x99 ; int3 */
static const uint8_t c_syscall[] = {
    0x0f, 0x05, 0xb8, 0x99, 0x00, 0x00, 0x00, 0xcc,
};
/* push 0x2b ; push 0x78000 ; pushfd ; push 0x23 ; push 0x20000 ; iretd */
static const uint8_t p_to_user[] = {
    0x6a, 0x2b, 0x68, 0x00, 0x80, 0x07, 0x00, 0x9c, 0x6a, 0x23, 0x68, 0x00, 0x00, 0x02, 0x00, 0xcf,
};
/* mov eax,7 ; int 0x80 */
static const uint8_t pu_code[] = {
    0xb8, 0x07, 0x00, 0x00, 0x00, 0xcd, 0x80,
};
/* mov ebx,[esp+4] ; mov ecx,[esp+12] ; mov edx,[esp+16] ; hlt */
static const uint8_t p_h80u[] = {
    0x8b, 0x5c, 0x24, 0x04, 0x8b, 0x4c, 0x24, 0x0c, 0x8b, 0x54, 0x24, 0x10, 0xf4,
};
/* call 0x08:0x10100 ; mov edi,eax ; push 0x18 ; pop ss ; lds esi,[0x7000] ; hlt */
static const uint8_t p_farcall[] = {
    0x9a, 0x00, 0x01, 0x01, 0x00, 0x08, 0x00, 0x89, 0xc7, 0x6a,
    0x18, 0x17, 0xc5, 0x35, 0x00, 0x70, 0x00, 0x00, 0xf4,
};
/* mov eax,0x77 ; retf */
static const uint8_t p_farret[] = {
    0xb8, 0x77, 0x00, 0x00, 0x00, 0xcb,
};
/*
 * mov ax,0x3b ; verr ax ; setz bl ; verw ax ; setz bh ; mov cx,0x10 ; verr cx ; setz dl
 * lar esi,eax ; lar edi,ecx ; setz dh ; int3
 */
static const uint8_t u_selq[] = {
    0x66, 0xb8, 0x3b, 0x00, 0x0f, 0x00, 0xe0, 0x0f, 0x94, 0xc3, 0x0f, 0x00,
    0xe8, 0x0f, 0x94, 0xc7, 0x66, 0xb9, 0x10, 0x00, 0x0f, 0x00, 0xe1, 0x0f,
    0x94, 0xc2, 0x0f, 0x02, 0xf0, 0x0f, 0x02, 0xf9, 0x0f, 0x94, 0xc6, 0xcc,
};
/*
 * mov ecx,0xc0000081 ; xor eax,eax ; mov edx,0x00230010 ; wrmsr ; mov ecx,0xc0000083
 * mov eax,0x11400 ; xor edx,edx ; wrmsr ; mov ecx,0xc0000080 ; rdmsr ; or eax,1 ; wrmsr
 * push 0x2b ; push 0x78000 ; push 0x202 ; push 0x23 ; push 0x20000 ; iretq
 */
static const uint8_t k_to_compat_sc[] = {
    0xb9, 0x81, 0x00, 0x00, 0xc0, 0x31, 0xc0, 0xba, 0x10, 0x00, 0x23, 0x00, 0x0f, 0x30, 0xb9, 0x83,
    0x00, 0x00, 0xc0, 0xb8, 0x00, 0x14, 0x01, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x80, 0x00, 0x00,
    0xc0, 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, 0x6a, 0x2b, 0x68, 0x00, 0x80, 0x07, 0x00, 0x68,
    0x02, 0x02, 0x00, 0x00, 0x6a, 0x23, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf,
};

static void set_gate32(struct env *e, unsigned vec, uint32_t handler, unsigned dpl)
{
	uint64_t g = (handler & 0xffff) | (0x08ULL << 16) | ((uint64_t)(0x8e | dpl << 5) << 40) |
	             (uint64_t)(handler >> 16) << 48;
	put64(e, IDT + vec * 8, g);
}

static struct env *env_prot32(const void *code, size_t len)
{
	struct env *e = env_new(code, len);
	struct x86_sregs sr;
	long_mode_sregs(&sr);
	sr.cs = seg(0x08, 0xb, 0, false, true);
	sr.idt.limit = 256 * 8 - 1;
	sr.cr0 = X86_CR0_PE | X86_CR0_ET;
	sr.cr3 = sr.cr4 = sr.efer = 0;
	cpu_set_sregs(&e->cpu, &sr);
	assert_int_equal(e->cpu.mode, CPU_MODE_PROT32);
	return e;
}

static void test_real_to_long(void **state)
{
	struct env *e = env_new(NULL, 0);
	put(e, 0x8000, r_trampoline, sizeof(r_trampoline));
	cpu_init_signal(&e->cpu);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT); /* waiting for SIPI */
	assert_int_equal(cpu_wake_mask(&e->cpu) & CPU_INT_EXTERNAL, 0);
	e->cpu.sipi_vector = 0x08;
	cpu_interrupt(&e->cpu, CPU_INT_SIPI);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_RAX], 0x123456789ULL);
	assert_int_equal(c->mode, CPU_MODE_LONG64);
	assert_int_equal(c->seg[S_CS].selector, 0x10);
	assert_int_equal(c->seg[S_SS].selector, 0x18);
	assert_true(c->efer & X86_EFER_LMA);
	assert_int_equal(c->gdtr.base, GDT);
	struct x86_sregs sr;
	cpu_get_sregs(c, &sr);
	assert_int_equal(sr.cs.l, 1);
	assert_int_equal(sr.cr3, PML4);
	env_free(e);
}

static void test_real_mode_int(void **state)
{
	struct env *e = env_new(NULL, 0);
	put(e, 0x7000, r_int10, sizeof(r_int10));
	put(e, 0x9000, r_h10, sizeof(r_h10));
	uint32_t ivt = 0x09000000; /* 0900:0000 */
	put(e, 0x10 * 4, &ivt, 4);
	cpu_init_signal(&e->cpu);
	e->cpu.sipi_vector = 0x07;
	cpu_interrupt(&e->cpu, CPU_INT_SIPI);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->mode, CPU_MODE_REAL);
	assert_int_equal(c->gpr[R_RBX], 0x55);
	assert_int_equal(c->gpr[R_RCX], 2); /* the pushed IP */
	assert_int_equal(c->gpr[R_RAX], 1);
	assert_int_equal(c->seg[S_CS].selector, 0x0700);
	assert_int_equal(c->gpr[R_RSP] & 0xffff, 0);
	env_free(e);
}

static void test_prot32_int_iretd(void **state)
{
	struct env *e = env_prot32(p_int80, sizeof(p_int80));
	set_gate32(e, 0x80, HANDLERS, 0);
	set_gate32(e, 6, HANDLERS + 0x100, 0);
	put(e, HANDLERS, p_h80, sizeof(p_h80));
	put(e, HANDLERS + 0x100, p_hud, sizeof(p_hud));
	e->cpu.gpr[R_RSI] = 0x5151;
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_RBX], KCODE + 2); /* INT 0x80 pushed the next EIP */
	assert_int_equal(c->gpr[R_RCX], 0x08);
	assert_int_equal(c->gpr[R_RAX], 2);
	assert_int_equal(c->gpr[R_RDX], KCODE + 7); /* #UD: the UD2 itself */
	assert_int_equal(c->gpr[R_RSI], 0x5151);    /* PUSHA/POPA */
	assert_int_equal(c->gpr[R_RSP], KSTACK - 12);
	env_free(e);
}

/* 32-bit protected mode: IRETD to CPL 3, INT 0x80 back through the 32-bit TSS. */
static void test_prot32_ring3(void **state)
{
	struct env *e = env_prot32(p_to_user, sizeof(p_to_user));
	put(e, UCODE, pu_code, sizeof(pu_code));
	put(e, HANDLERS, p_h80u, sizeof(p_h80u));
	set_gate32(e, 0x80, HANDLERS, 3);
	put64(e, TSS + 4, RSP0);
	put64(e, TSS + 8, 0x18);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_RAX], 7);
	assert_int_equal(c->gpr[R_RBX], 0x23);
	assert_int_equal(c->gpr[R_RCX], USTACK);
	assert_int_equal(c->gpr[R_RDX], 0x2b);
	assert_int_equal(c->gpr[R_RSP], RSP0 - 20);
	assert_int_equal(c->seg[S_SS].selector, 0x18);
	assert_int_equal(c->cpl, 0);
	env_free(e);
}

static void test_prot32_far_call(void **state)
{
	struct env *e = env_prot32(p_farcall, sizeof(p_farcall));
	put(e, 0x10100, p_farret, sizeof(p_farret));
	uint32_t off = 0x12345678;
	uint16_t sel = 0x18;
	put(e, 0x7000, &off, 4);
	put(e, 0x7004, &sel, 2);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_RDI], 0x77);
	assert_int_equal(c->gpr[R_RSP], KSTACK);
	assert_int_equal(c->gpr[R_RSI], 0x12345678);
	assert_int_equal(c->seg[S_DS].selector, 0x18);
	assert_int_equal(c->seg[S_SS].selector, 0x18);
	env_free(e);
}

static void test_iretq_to_compat(void **state)
{
	struct env *e = env_new(k_to_compat, sizeof(k_to_compat));
	put(e, UCODE, c_code, sizeof(c_code));
	set_gate(e, 3, HANDLERS, 3, 0, 0xf);
	put(e, HANDLERS, h_int3_user, sizeof(h_int3_user));
	assert_int_equal(cpu_run(&e->cpu, 3), CPU_EXIT_BUDGET);
	/* The five pushes, then IRETQ: now in compatibility mode. */
	assert_int_equal(cpu_run(&e->cpu, 4), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.mode, CPU_MODE_PROT32);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(cpu_run(&e->cpu, 100), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->mode, CPU_MODE_LONG64);
	assert_int_equal(c->gpr[R_RAX], 3);
	uint64_t sp = c->gpr[R_RSP];
	assert_int_equal(get64(e, sp), UCODE + sizeof(c_code));
	assert_int_equal(get64(e, sp + 8), 0x23);
	assert_int_equal(get64(e, sp + 24), USTACK);
	assert_int_equal(get64(e, sp + 32), 0x2b);
	env_free(e);
}

static void test_syscall_sysret_compat(void **state)
{
	struct env *e = env_new(k_to_compat_sc, sizeof(k_to_compat_sc));
	put(e, UCODE, c_syscall, sizeof(c_syscall));
	put(e, HANDLERS + 0x400, h_sysret32, sizeof(h_sysret32));
	put(e, HANDLERS, h_int3_user, sizeof(h_int3_user));
	set_gate(e, 3, HANDLERS, 3, 0, 0xf);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_R12], UCODE + 2); /* SYSCALL from compat mode: CSTAR */
	assert_int_equal(c->gpr[R_RAX], 0x99);
	uint64_t sp = c->gpr[R_RSP];
	assert_int_equal(get64(e, sp + 8), 0x23); /* SYSRET without REX.W: 32-bit code */
	assert_int_equal(get64(e, sp + 32), 0x2b);
	env_free(e);
}

static void test_user_privilege(void **state)
{
	struct env *e = env_new(k_to_user, sizeof(k_to_user));
	put(e, UCODE, u_priv, sizeof(u_priv));
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_R10] & FLAG_IF, FLAG_IF); /* POPF at CPL 3 kept IF */
	assert_int_equal(c->gpr[R_RBX], 0);                 /* CLI: #GP(0) */
	assert_int_equal(c->gpr[R_RAX], UCODE + sizeof(u_priv) - 1);
	assert_int_equal(get64(e, c->gpr[R_RSP] + 8), 0x33);
	env_free(e);
}

static void test_int_gate_dpl(void **state)
{
	struct env *e = env_new(k_to_user, sizeof(k_to_user));
	put(e, UCODE, u_int_dpl, sizeof(u_int_dpl));
	set_gate(e, 0x81, HANDLERS + 0x900, 3, 0, 0xe);
	set_gate(e, 0x80, HANDLERS + 0x800, 0, 0, 0xe);
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x900, h_iret, sizeof(h_iret));
	put(e, HANDLERS + 0x800, h_rec_hlt, sizeof(h_rec_hlt));
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_R11], 1);            /* INT 0x81 through the DPL-3 gate */
	assert_int_equal(e->cpu.gpr[R_RBX], 0x80 * 8 + 2); /* INT 0x80: DPL 0 < CPL 3 */
	assert_int_equal(e->cpu.gpr[R_RAX], UCODE + 2);    /* a fault of the INT itself */
	env_free(e);
}

/* VERR, VERW and LAR at CPL 3: DPL 3 data passes, the kernel's code segment does not. */
static void test_selector_queries(void **state)
{
	struct env *e = env_new(k_to_user, sizeof(k_to_user));
	put(e, UCODE, u_selq, sizeof(u_selq));
	put(e, HANDLERS, h_int3_user, sizeof(h_int3_user));
	set_gate(e, 3, HANDLERS, 3, 0, 0xf);
	e->cpu.gpr[R_RDI] = 0xabcd;
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	assert_int_equal(c->gpr[R_RBX] & 0xffff, 0x0101);
	assert_int_equal(c->gpr[R_RDX] & 0xffff, 0);
	assert_int_equal(c->gpr[R_RSI], 0x0040f300);
	assert_int_equal(c->gpr[R_RDI], 0xabcd);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_to_long),          cmocka_unit_test(test_real_mode_int),
	    cmocka_unit_test(test_prot32_int_iretd),      cmocka_unit_test(test_prot32_ring3),
	    cmocka_unit_test(test_prot32_far_call),       cmocka_unit_test(test_iretq_to_compat),
	    cmocka_unit_test(test_syscall_sysret_compat), cmocka_unit_test(test_user_privilege),
	    cmocka_unit_test(test_int_gate_dpl),          cmocka_unit_test(test_selector_queries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
