/*
 * Runs one instruction natively (native.c): loads the whole register state
 * from dt_in, jumps to the instruction, and captures the state into dt_out
 * when the instruction reaches a landing stub. A stub (written into the code
 * page by gen.c) is "jmp *[rip]" to dt_land0 or dt_land1, so it changes no
 * register and no flag; the entry records which stub was reached.
 *
 * int dt_native_enter(void): returns the landing stub index (0 or 1), or -1
 * when the instruction faulted (native.c's signal handler records the state
 * and resumes at dt_fault_exit on the private stack).
 *
 * The test state's RSP is arbitrary: nothing here touches the test stack;
 * pushfq/popfq run on a private stack. The host's callee-saved registers,
 * x87/SSE control state and DF are restored on every path out.
 */
#define DT_OFF_FX 0
#define DT_OFF_GPR 512
#define DT_OFF_RIP 640
#define DT_OFF_RFLAGS 648
#define GPR(n) (DT_OFF_GPR + 8 * (n))

	.intel_syntax noprefix

	.bss
	.balign 64
dt_host_fx:
	.skip 512
dt_priv_stack:
	.skip 4096
dt_priv_stack_top:
	.skip 64
dt_host_rsp:
	.skip 8
dt_landed:
	.skip 8

	.text
	.globl dt_native_enter
	.hidden dt_native_enter
	.globl dt_tramp_start
	.hidden dt_tramp_start
	.globl dt_tramp_end
	.hidden dt_tramp_end
	.globl dt_land0
	.hidden dt_land0
	.globl dt_land1
	.hidden dt_land1
	.globl dt_fault_exit
	.hidden dt_fault_exit
	.globl dt_priv_stack_top
	.hidden dt_priv_stack_top

	.balign 64
dt_tramp_start:
	.type dt_native_enter, @function
dt_native_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	mov [rip + dt_host_rsp], rsp
	fxsave64 [rip + dt_host_fx]

	lea rsp, [rip + dt_priv_stack_top]
	push qword ptr [rip + dt_in + DT_OFF_RFLAGS]
	popfq
	fxrstor64 [rip + dt_in + DT_OFF_FX]
	mov rax, [rip + dt_in + GPR(0)]
	mov rcx, [rip + dt_in + GPR(1)]
	mov rdx, [rip + dt_in + GPR(2)]
	mov rbx, [rip + dt_in + GPR(3)]
	mov rbp, [rip + dt_in + GPR(5)]
	mov rsi, [rip + dt_in + GPR(6)]
	mov rdi, [rip + dt_in + GPR(7)]
	mov r8, [rip + dt_in + GPR(8)]
	mov r9, [rip + dt_in + GPR(9)]
	mov r10, [rip + dt_in + GPR(10)]
	mov r11, [rip + dt_in + GPR(11)]
	mov r12, [rip + dt_in + GPR(12)]
	mov r13, [rip + dt_in + GPR(13)]
	mov r14, [rip + dt_in + GPR(14)]
	mov r15, [rip + dt_in + GPR(15)]
	mov rsp, [rip + dt_in + GPR(4)]
	jmp qword ptr [rip + dt_in + DT_OFF_RIP]
	.size dt_native_enter, . - dt_native_enter

	/* Landing entries: MOV stores no flags. */
dt_land0:
	mov qword ptr [rip + dt_landed], 0
	jmp dt_capture
dt_land1:
	mov qword ptr [rip + dt_landed], 1
	jmp dt_capture

dt_capture:
	mov [rip + dt_out + GPR(0)], rax
	mov [rip + dt_out + GPR(1)], rcx
	mov [rip + dt_out + GPR(2)], rdx
	mov [rip + dt_out + GPR(3)], rbx
	mov [rip + dt_out + GPR(4)], rsp
	mov [rip + dt_out + GPR(5)], rbp
	mov [rip + dt_out + GPR(6)], rsi
	mov [rip + dt_out + GPR(7)], rdi
	mov [rip + dt_out + GPR(8)], r8
	mov [rip + dt_out + GPR(9)], r9
	mov [rip + dt_out + GPR(10)], r10
	mov [rip + dt_out + GPR(11)], r11
	mov [rip + dt_out + GPR(12)], r12
	mov [rip + dt_out + GPR(13)], r13
	mov [rip + dt_out + GPR(14)], r14
	mov [rip + dt_out + GPR(15)], r15
	lea rsp, [rip + dt_priv_stack_top]
	pushfq
	pop qword ptr [rip + dt_out + DT_OFF_RFLAGS]
	fxsave64 [rip + dt_out + DT_OFF_FX]
	mov eax, [rip + dt_landed]
	jmp dt_exit

	/* Reached from the signal handler (on the private stack) after a fault. */
dt_fault_exit:
	mov eax, -1

dt_exit:
	fxrstor64 [rip + dt_host_fx]
	mov rsp, [rip + dt_host_rsp]
	/* Clean RFLAGS for the host: DF, AC, ID and the rest back to a known value. */
	push 0x202
	popfq
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
dt_tramp_end:

	.section .note.GNU-stack, "", @progbits
