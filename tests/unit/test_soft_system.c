/*
 * Unit tests for the software CPU's system mode in 64-bit mode
 * (docs/softcpu.md, "System mode"): exceptions through the IDT with error
 * codes, CR2, #DF on an IST stack and the triple fault; SYSCALL/SYSRET and
 * IRETQ to CPL 3; external interrupts, NMI, the STI and MOV SS shadows, HLT
 * and exit requests; port I/O, far returns, segment loads, control and
 * descriptor-table registers, SWAPGS and the sregs interface.
 * test_soft_system.h has the fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_soft_system.h"

/* int3 ; mov eax,1 ; hlt */
static const uint8_t k_int3[] = {
    0xcc, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4,
};
/* mov ebx,0x33 ; mov rdx,[rsp] ; iretq */
static const uint8_t h_int3[] = {
    0xbb, 0x33, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x14, 0x24, 0x48, 0xcf,
};
/* ud2 */
static const uint8_t k_ud2[] = {
    0x0f,
    0x0b,
};
/* mov rax,[rsp] ; hlt */
static const uint8_t h_ud[] = {
    0x48, 0x8b, 0x04, 0x24, 0xf4,
};
/* mov ecx,0x12345 ; wrmsr */
static const uint8_t k_wrmsr_bad[] = {
    0xb9, 0x45, 0x23, 0x01, 0x00, 0x0f, 0x30,
};
/* pop rbx ; mov rax,[rsp] ; hlt */
static const uint8_t h_gp[] = {
    0x5b, 0x48, 0x8b, 0x04, 0x24, 0xf4,
};
/* mov rdi,0x40000000 ; mov dword ptr [rdi],5 */
static const uint8_t k_pf[] = {
    0x48, 0xc7, 0xc7, 0x00, 0x00, 0x00, 0x40, 0xc7, 0x07, 0x05, 0x00, 0x00, 0x00,
};
/* mov rax,cr2 ; pop rbx ; mov rcx,[rsp] ; hlt */
static const uint8_t h_pf[] = {
    0x0f, 0x20, 0xd0, 0x5b, 0x48, 0x8b, 0x0c, 0x24, 0xf4,
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
/* mov eax,60 ; syscall ; mov ebx,7 ; lsl edx,esi ; int3 */
static const uint8_t u_code[] = {
    0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbb, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x03, 0xd6, 0xcc,
};
/* mov r12,rcx ; mov r13,r11 ; pushfq ; pop r14 ; mov r15,rsp ; mov esi,0x3b ; sysretq */
static const uint8_t h_syscall[] = {
    0x49, 0x89, 0xcc, 0x4d, 0x89, 0xdd, 0x9c, 0x41, 0x5e, 0x49,
    0x89, 0xe7, 0xbe, 0x3b, 0x00, 0x00, 0x00, 0x48, 0x0f, 0x07,
};
/* hlt */
static const uint8_t h_int3_user[] = {
    0xf4,
};
/* sti ; hlt ; mov eax,5 ; hlt */
static const uint8_t k_sti_hlt[] = {
    0xfb, 0xf4, 0xb8, 0x05, 0x00, 0x00, 0x00, 0xf4,
};
/* mov ecx,0x20 ; mov rdx,[rsp] ; iretq */
static const uint8_t h_ext[] = {
    0xb9, 0x20, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x14, 0x24, 0x48, 0xcf,
};
/* cli ; hlt ; mov eax,6 ; hlt */
static const uint8_t k_nmi[] = {
    0xfa, 0xf4, 0xb8, 0x06, 0x00, 0x00, 0x00, 0xf4,
};
/* inc r8d ; mov rdx,[rsp] ; iretq */
static const uint8_t h_nmi[] = {
    0x41, 0xff, 0xc0, 0x48, 0x8b, 0x14, 0x24, 0x48, 0xcf,
};
/* mov rdi,0x40000000 ; mov eax,[rdi] */
static const uint8_t k_df[] = {
    0x48, 0xc7, 0xc7, 0x00, 0x00, 0x00, 0x40, 0x8b, 0x07,
};
/* pop rbx ; mov rax,rsp ; hlt */
static const uint8_t h_df[] = {
    0x5b, 0x48, 0x89, 0xe0, 0xf4,
};
/*
 * mov dx,0x3f8 ; mov al,0x41 ; out dx,al ; in al,dx ; out 0x80,al ; mov ax,0x1234 ; out dx,ax
 * in eax,0x71 ; mov r9d,eax ; lea rsi,[rip+msg] ; mov ecx,3 ; rep outsb ; hlt
 * msg: .ascii "xyz"
 */
static const uint8_t k_io[] = {
    0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xec, 0xe6, 0x80, 0x66, 0xb8, 0x34,
    0x12, 0x66, 0xef, 0xe5, 0x71, 0x41, 0x89, 0xc1, 0x48, 0x8d, 0x35, 0x08, 0x00,
    0x00, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0xf3, 0x6e, 0xf4, 0x78, 0x79, 0x7a,
};
/* push 0x10 ; lea rax,[rip+t] ; push rax ; lretq ; hlt ; t: mov ebx,9 ; hlt */
static const uint8_t k_lretq[] = {
    0x6a, 0x10, 0x48, 0x8d, 0x05, 0x04, 0x00, 0x00, 0x00, 0x50,
    0x48, 0xcb, 0xf4, 0xbb, 0x09, 0x00, 0x00, 0x00, 0xf4,
};
/* mov ax,0x18 ; mov ds,ax ; mov es,ax ; mov ax,0x48 ; mov fs,ax ; hlt */
static const uint8_t k_movss[] = {
    0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xe0, 0xf4,
};
/* mov rax,cr4 ; bts rax,18 ; mov cr4,rax */
static const uint8_t k_crs[] = {
    0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x12, 0x0f, 0x22, 0xe0,
};
/* sgdt [0x7000] ; sidt [0x7010] ; str ax ; smsw ecx ; mov di,0x40 ; ltr di ; ltr di */
static const uint8_t k_tables[] = {
    0x0f, 0x01, 0x04, 0x25, 0x00, 0x70, 0x00, 0x00, 0x0f, 0x01, 0x0c,
    0x25, 0x10, 0x70, 0x00, 0x00, 0x66, 0x0f, 0x00, 0xc8, 0x0f, 0x01,
    0xe1, 0x66, 0xbf, 0x40, 0x00, 0x0f, 0x00, 0xdf, 0x0f, 0x00, 0xdf,
};
/*
 * mov ecx,0xc0000101 ; mov eax,0x1000 ; xor edx,edx ; wrmsr ; mov ecx,0xc0000102
 * mov eax,0x7000 ; wrmsr ; swapgs ; mov rbx,gs:[0] ; rdmsr ; hlt
 */
static const uint8_t k_swapgs[] = {
    0xb9, 0x01, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x10, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30,
    0xb9, 0x02, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x70, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x01,
    0xf8, 0x65, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x32, 0xf4,
};
/* mov ax,0x18 ; sti ; mov ss,ax ; mov ebx,1 ; mov ecx,2 ; hlt */
static const uint8_t k_ss_shadow[] = {
    0x66, 0xb8, 0x18, 0x00, 0xfb, 0x8e, 0xd0, 0xbb, 0x01,
    0x00, 0x00, 0x00, 0xb9, 0x02, 0x00, 0x00, 0x00, 0xf4,
};
/* mov rdx,[rsp] ; iretq */
static const uint8_t h_rec[] = {
    0x48, 0x8b, 0x14, 0x24, 0x48, 0xcf,
};

/* mov rdi,0x100000 ; mov ecx,0x20000 ; mov al,0x5a ; rep stosb ; hlt */
static const uint8_t k_rep_stos[] = {
    0x48, 0xc7, 0xc7, 0x00, 0x00, 0x10, 0x00, 0xb9, 0x00, 0x00, 0x02, 0x00,
    0xb0, 0x5a, 0xf3, 0xaa, 0xf4,
};
static void test_int3_iretq(void **state)
{
	struct env *e = env_new(k_int3, sizeof(k_int3));
	set_gate(e, 3, HANDLERS, 3, 0, 0xf);
	put(e, HANDLERS, h_int3, sizeof(h_int3));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0x33);
	assert_int_equal(e->cpu.gpr[R_RDX], KCODE + 1); /* a trap: the next instruction */
	assert_int_equal(e->cpu.gpr[R_RAX], 1);
	assert_int_equal(e->cpu.gpr[R_RSP], KSTACK);
	assert_int_equal(e->cpu.rip, KCODE + sizeof(k_int3));
	env_free(e);
}

static void test_fault_rip_and_error_codes(void **state)
{
	/* #UD: the faulting instruction's address, no error code. */
	struct env *e = env_new(k_ud2, sizeof(k_ud2));
	set_gate(e, 6, HANDLERS + 0x100, 0, 0, 0xe);
	put(e, HANDLERS + 0x100, h_ud, sizeof(h_ud));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RAX], KCODE);
	/* The frame: RIP CS RFLAGS RSP SS, 16-byte aligned below the old RSP. */
	uint64_t sp = e->cpu.gpr[R_RSP];
	assert_int_equal(sp, KSTACK - 40);
	assert_int_equal(get64(e, sp + 8), 0x10);
	assert_int_equal(get64(e, sp + 24), KSTACK);
	assert_int_equal(get64(e, sp + 32), 0x18);
	env_free(e);

	/* WRMSR of an MSR that does not exist: #GP(0). */
	e = env_new(k_wrmsr_bad, sizeof(k_wrmsr_bad));
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	e->cpu.gpr[R_RBX] = 99;
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0);
	assert_int_equal(e->cpu.gpr[R_RAX], KCODE + 5);
	env_free(e);

	/* #PF: CR2 and the error code (write, not present, supervisor = 2). */
	e = env_new(k_pf, sizeof(k_pf));
	set_gate(e, 14, HANDLERS + 0x300, 0, 0, 0xe);
	put(e, HANDLERS + 0x300, h_pf, sizeof(h_pf));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RAX], UNMAPPED);
	assert_int_equal(e->cpu.gpr[R_RBX], 2);
	assert_int_equal(e->cpu.gpr[R_RCX], KCODE + 7);
	assert_false(e->cpu.rflags & FLAG_IF);
	env_free(e);
}

/* A #PF whose gate is not present: #NP while delivering #PF is a #DF (on IST 1). */
static void test_double_fault(void **state)
{
	struct env *e = env_new(k_df, sizeof(k_df));
	set_gate(e, 8, HANDLERS + 0x700, 0, 1, 0xe);
	put(e, HANDLERS + 0x700, h_df, sizeof(h_df));
	put64(e, IDT + 14 * 16, 0x0000ee0000100000ULL & ~(1ULL << 47)); /* P = 0 */
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0); /* #DF's error code */
	assert_int_equal(e->cpu.gpr[R_RAX], IST1 - 40);
	env_free(e);
}

/* No usable IDT at all: #UD -> #GP (IDT) -> #DF -> shutdown. */
static void test_triple_fault(void **state)
{
	struct env *e = env_new(k_ud2, sizeof(k_ud2));
	e->cpu.idtr.limit = 0;
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_SHUTDOWN);
	assert_int_equal(e->cpu.activity, CPU_SHUTDOWN);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_SHUTDOWN);
	/* INIT leaves the shutdown state. */
	cpu_interrupt(&e->cpu, CPU_INT_INIT);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.activity, CPU_WAIT_SIPI);
	env_free(e);
}

static void test_user_round_trip(void **state)
{
	struct env *e = env_new(k_to_user, sizeof(k_to_user));
	put(e, UCODE, u_code, sizeof(u_code));
	put(e, HANDLERS + 0x400, h_syscall, sizeof(h_syscall));
	put(e, HANDLERS, h_int3_user, sizeof(h_int3_user));
	set_gate(e, 3, HANDLERS, 3, 0, 0xf);
	assert_int_equal(cpu_run(&e->cpu, 10000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	/* SYSCALL saw RCX = the user RIP after it and R11 = the user RFLAGS; SFMASK cleared IF. */
	assert_int_equal(c->gpr[R_R12], UCODE + 7);
	assert_int_equal(c->gpr[R_R13], 0x202);
	assert_int_equal(c->gpr[R_R14] & FLAG_IF, 0);
	assert_int_equal(c->gpr[R_R15], USTACK); /* SYSCALL does not switch stacks */
	/* LSL at CPL 3 on the DPL-3 segment 0x3b (vDSO getcpu uses it). */
	assert_int_equal(c->gpr[R_RDX], 0x1234);
	assert_int_equal(c->gpr[R_RBX], 7);
	/* INT3 from CPL 3: the stack switched to RSP0, SS became NULL, the frame is the user's. */
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->seg[S_CS].selector, 0x10);
	assert_int_equal(c->seg[S_SS].selector, 0);
	uint64_t sp = c->gpr[R_RSP];
	assert_int_equal(sp, RSP0 - 40);
	assert_int_equal(get64(e, sp), UCODE + sizeof(u_code));
	assert_int_equal(get64(e, sp + 8), 0x33);
	assert_int_equal(get64(e, sp + 16) & FLAG_IF, FLAG_IF);
	assert_int_equal(get64(e, sp + 24), USTACK);
	assert_int_equal(get64(e, sp + 32), 0x2b);
	env_free(e);
}

static void test_external_interrupt(void **state)
{
	struct env *e = env_new(k_sti_hlt, sizeof(k_sti_hlt));
	set_gate(e, 0x20, HANDLERS + 0x500, 0, 0, 0xe);
	put(e, HANDLERS + 0x500, h_ext, sizeof(h_ext));
	/* Nothing pending: STI, HLT, back to the caller halted. */
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.activity, CPU_HALTED);
	assert_int_equal(cpu_wake_mask(&e->cpu) & CPU_INT_EXTERNAL, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT); /* still nothing */
	e->intr_vector = 0x20;
	cpu_interrupt(&e->cpu, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RCX], 0x20);
	assert_int_equal(e->cpu.gpr[R_RDX], KCODE + 2); /* after the HLT */
	assert_int_equal(e->cpu.gpr[R_RAX], 5);
	assert_int_equal(e->cpu.interrupt_request, 0);
	env_free(e);

	/* Pending before STI: the shadow lets HLT execute first, then the interrupt wakes it. */
	e = env_new(k_sti_hlt, sizeof(k_sti_hlt));
	set_gate(e, 0x20, HANDLERS + 0x500, 0, 0, 0xe);
	put(e, HANDLERS + 0x500, h_ext, sizeof(h_ext));
	e->intr_vector = 0x20;
	cpu_interrupt(&e->cpu, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RDX], KCODE + 2);
	assert_int_equal(e->cpu.gpr[R_RAX], 5);
	assert_int_equal(e->acks, 1);
	env_free(e);

	/* IF = 0: the request waits; an intr_ack that finds nothing (-1) delivers nothing. */
	e = env_new(k_nmi, sizeof(k_nmi));
	cpu_interrupt(&e->cpu, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->acks, 0);
	assert_int_equal(cpu_wake_mask(&e->cpu) & CPU_INT_EXTERNAL, 0);
	env_free(e);
}

static void test_nmi(void **state)
{
	struct env *e = env_new(k_nmi, sizeof(k_nmi));
	set_gate(e, 2, HANDLERS + 0x600, 0, 0, 0xe);
	put(e, HANDLERS + 0x600, h_nmi, sizeof(h_nmi));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(cpu_wake_mask(&e->cpu) & CPU_INT_NMI, CPU_INT_NMI);
	cpu_interrupt(&e->cpu, CPU_INT_NMI);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT); /* NMI ignores IF = 0 */
	assert_int_equal(e->cpu.gpr[R_R8], 1);
	assert_int_equal(e->cpu.gpr[R_RDX], KCODE + 2);
	assert_int_equal(e->cpu.gpr[R_RAX], 6);
	assert_false(e->cpu.nmi_blocked); /* IRETQ unblocked it */
	env_free(e);
}

static void test_exit_request(void **state)
{
	struct env *e = env_new(k_sti_hlt, sizeof(k_sti_hlt));
	cpu_interrupt(&e->cpu, CPU_INT_EXIT);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_STOP);
	assert_int_equal(e->cpu.rip, KCODE);
	assert_int_equal(e->cpu.interrupt_request, 0);
	env_free(e);
}

static void test_mov_ss_shadow(void **state)
{
	struct env *e = env_new(k_ss_shadow, sizeof(k_ss_shadow));
	set_gate(e, 0x20, HANDLERS + 0x500, 0, 0, 0xe);
	put(e, HANDLERS + 0x500, h_rec, sizeof(h_rec));
	e->intr_vector = 0x20;
	cpu_interrupt(&e->cpu, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	/* STI's shadow covers MOV SS, whose shadow covers MOV EBX: delivered before MOV ECX. */
	assert_int_equal(e->cpu.gpr[R_RDX], KCODE + 12);
	assert_int_equal(e->cpu.gpr[R_RCX], 2);
	env_free(e);
}

static void test_port_io(void **state)
{
	struct env *e = env_new(k_io, sizeof(k_io));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	const uint32_t want[][2] = {{0x3f8, 0x41}, {0x80, 0x48}, {0x3f8, 0x1234},
	                            {0x3f8, 'x'},  {0x3f8, 'y'}, {0x3f8, 'z'}};
	assert_int_equal(e->nout, 6);
	for (unsigned k = 0; k < 6; k++) {
		assert_int_equal(e->out[k][0], want[k][0]);
		assert_int_equal(e->out[k][1], want[k][1]);
	}
	assert_int_equal(e->cpu.gpr[R_R9], 0x41);
	assert_int_equal(e->cpu.gpr[R_RCX], 0);
	env_free(e);
}

static void test_lretq_and_segment_loads(void **state)
{
	struct env *e = env_new(k_lretq, sizeof(k_lretq));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 9);
	assert_int_equal(e->cpu.gpr[R_RSP], KSTACK);
	env_free(e);

	/* MOV FS, 0x48: beyond the GDT limit, #GP(0x48). */
	e = env_new(k_movss, sizeof(k_movss));
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0x48);
	assert_int_equal(e->cpu.gpr[R_RAX], KCODE + 12);
	assert_int_equal(e->cpu.seg[S_ES].selector, 0x18);
	env_free(e);
}

static void test_cr4_reserved_bit(void **state)
{
	struct env *e = env_new(k_crs, sizeof(k_crs));
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	uint64_t cr4 = e->cpu.cr4;
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0);
	assert_int_equal(e->cpu.gpr[R_RAX], KCODE + 8);
	assert_int_equal(e->cpu.cr4, cr4);
	env_free(e);
}

static void test_descriptor_tables(void **state)
{
	struct env *e = env_new(k_tables, sizeof(k_tables));
	set_gate(e, 13, HANDLERS + 0x200, 0, 0, 0xe);
	put(e, HANDLERS + 0x200, h_gp, sizeof(h_gp));
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	struct cpu *c = &e->cpu;
	uint16_t limit;
	memcpy(&limit, e->ram + 0x7000, 2);
	assert_int_equal(limit, sizeof(gdt) - 1);
	assert_int_equal(get64(e, 0x7002), GDT);
	memcpy(&limit, e->ram + 0x7010, 2);
	assert_int_equal(limit, 256 * 16 - 1);
	assert_int_equal(get64(e, 0x7012), IDT);
	assert_int_equal(c->gpr[R_RCX], (uint32_t)c->cr0);
	/* The first LTR marks the TSS busy in the GDT, the second one raises #GP(0x40). */
	assert_int_equal((get64(e, GDT + 0x40) >> 40) & 0xf, 0xb);
	assert_int_equal(c->tr.selector, 0x40);
	assert_int_equal(c->gpr[R_RBX], 0x40);
	assert_int_equal(c->gpr[R_RAX], KCODE + 30);
	env_free(e);
}

static void test_swapgs(void **state)
{
	struct env *e = env_new(k_swapgs, sizeof(k_swapgs));
	put64(e, 0x7000, 0xfeed);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RBX], 0xfeed); /* GS:[0] after SWAPGS */
	assert_int_equal(e->cpu.gpr[R_RAX], 0x1000); /* KERNEL_GS_BASE: the old GS base */
	assert_int_equal(e->cpu.seg[S_GS].base, 0x7000);
	assert_int_equal(e->cpu.msr.kernel_gs_base, 0x1000);
	env_free(e);
}

static void test_sregs_round_trip(void **state)
{
	struct env *e = env_new(NULL, 0);
	struct x86_sregs in, out;
	long_mode_sregs(&in);
	cpu_set_sregs(&e->cpu, &in);
	cpu_get_sregs(&e->cpu, &out);
	assert_int_equal(out.cs.selector, 0x10);
	assert_int_equal(out.cs.l, 1);
	assert_int_equal(out.ss.db, 1);
	assert_int_equal(out.tr.base, TSS);
	assert_int_equal(out.tr.type, 0xb);
	assert_int_equal(out.gdt.limit, sizeof(gdt) - 1);
	assert_int_equal(out.efer, in.efer);
	assert_int_equal(out.cr0, in.cr0);
	assert_int_equal(e->cpu.mode, CPU_MODE_LONG64);
	assert_int_equal(e->cpu.cpl, 0);
	uint64_t v;
	assert_int_equal(cpu_set_msr(&e->cpu, 0xc0000102, 0x1234000), 0);
	assert_int_equal(cpu_get_msr(&e->cpu, 0xc0000102, &v), 0);
	assert_int_equal(v, 0x1234000);
	assert_int_equal(cpu_get_msr(&e->cpu, 0x12345, &v), -1);
	env_free(e);
}

/* A masked interrupt request makes a long REP STOS stop between chunks; it still completes. */
static void test_rep_with_masked_interrupt(void **state)
{
	struct env *e = env_new(k_rep_stos, sizeof(k_rep_stos));
	cpu_interrupt(&e->cpu, CPU_INT_EXTERNAL);
	assert_int_equal(cpu_run(&e->cpu, 1000), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[R_RCX], 0);
	assert_int_equal(e->cpu.gpr[R_RDI], 0x120000);
	assert_int_equal(e->ram[0x100000], 0x5a);
	assert_int_equal(e->ram[0x11ffff], 0x5a);
	assert_int_equal(e->ram[0x120000], 0);
	assert_int_equal(e->acks, 0);
	assert_int_equal(e->cpu.icount, 5);
	env_free(e);
}

/* Tracers: with stop_after_event, a delivered exception ends cpu_run at the handler's entry. */
static void test_stop_after_event(void **state)
{
	struct env *e = env_new(k_ud2, sizeof(k_ud2));
	set_gate(e, 6, HANDLERS + 0x100, 0, 0, 0xe);
	put(e, HANDLERS + 0x100, h_ud, sizeof(h_ud));
	e->cpu.stop_after_event = true;
	assert_int_equal(cpu_run(&e->cpu, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.rip, HANDLERS + 0x100);
	assert_int_equal(e->cpu.icount, 0);
	assert_int_equal(cpu_run(&e->cpu, 1), CPU_EXIT_BUDGET);
	assert_int_equal(e->cpu.gpr[R_RAX], KCODE);
	assert_int_equal(e->cpu.icount, 1);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_int3_iretq),
	    cmocka_unit_test(test_fault_rip_and_error_codes),
	    cmocka_unit_test(test_double_fault),
	    cmocka_unit_test(test_triple_fault),
	    cmocka_unit_test(test_user_round_trip),
	    cmocka_unit_test(test_external_interrupt),
	    cmocka_unit_test(test_nmi),
	    cmocka_unit_test(test_exit_request),
	    cmocka_unit_test(test_mov_ss_shadow),
	    cmocka_unit_test(test_port_io),
	    cmocka_unit_test(test_lretq_and_segment_loads),
	    cmocka_unit_test(test_cr4_reserved_bit),
	    cmocka_unit_test(test_descriptor_tables),
	    cmocka_unit_test(test_swapgs),
	    cmocka_unit_test(test_sregs_round_trip),
	    cmocka_unit_test(test_rep_with_masked_interrupt),
	    cmocka_unit_test(test_stop_after_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
