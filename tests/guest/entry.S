/*
 * Entry points of the test guest (loaded at 0x100000; guest.ld).
 *
 *   0x100000  32-bit entry: PVH (EBX = hvm_start_info, Xen PVH ABI) or the
 *             Linux 32-bit boot protocol (ESI = boot_params). Flat protected
 *             mode, paging off. Loads our GDT and the identity page tables
 *             below (4 GiB, 2 MiB pages), enables PAE, EFER.LME and paging
 *             and jumps to 64-bit code.
 *   0x100200  64-bit entry of the Linux boot protocol (bzImage): long mode,
 *             identity paging, RSI = boot_params (Documentation/arch/x86/boot.rst).
 *
 * Both end in guest_main(path, boot structure address) on our own stack.
 * Also here: exception stubs, the AP trampoline (16-bit, copied low),
 * the triple-fault helper and the XEN_ELFNOTE_PHYS32_ENTRY note.
 */
#include "guest.h"

#define X86_CR0_PE 0x00000001
#define X86_CR0_PG 0x80000000
#define X86_CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define PTE_P_RW 0x003
#define PDE_2M (0x080 | PTE_P_RW)

	.section .head, "ax", @progbits
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl $BOOT_PATH_PVH, %edi
	cmpl $PVH_START_MAGIC, (%ebx)
	je 1f
	movl $BOOT_PATH_BZIMAGE32, %edi
	movl %esi, %ebx
1:	lgdt gdt_desc
	movl $GUEST_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl $stack_top, %esp
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $X86_CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(X86_CR0_PG | X86_CR0_PE), %eax
	movl %eax, %cr0
	ljmp $GUEST_CS64, $from32

	.code64
from32:
	movl %ebx, %esi		/* zero-extends: boot structure address */
	jmp common64

	/* The Linux boot protocol's 64-bit entry: load address + 0x200. */
	.org 0x200
	.globl startup_64
startup_64:
	cli
	cld
	xorl %edi, %edi		/* BOOT_PATH_BZIMAGE; RSI = boot_params */
common64:
	movl $stack_top, %esp
	call guest_main
2:	cli
	hlt
	jmp 2b

	.text
/*
 * Exception stubs: 16 bytes each so the IDT can be filled by arithmetic.
 * Frame given to guest_exception: vector, error code, then the CPU's
 * RIP, CS, RFLAGS, RSP, SS.
 */
	.macro EXC_STUB vec
	.balign 16
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp exception_common
	.endm

	.balign 16
	.globl exception_stubs
exception_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC_STUB \v
	.endr

exception_common:
	movq %rsp, %rdi
	andq $-16, %rsp
	call guest_exception
3:	cli
	hlt
	jmp 3b

/* IDT limit 0: the next exception cannot be delivered -> triple fault. */
	.globl guest_triple_fault
guest_triple_fault:
	lidt idt_null(%rip)
	ud2
4:	cli
	hlt
	jmp 4b

	.section .rodata
/*
 * AP trampoline, copied to AP_TRAMPOLINE_GPA and started by SIPI there in
 * real mode (CS = page << 8, IP = 0). Position independent.
 */
	.code16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lock incw AP_COUNTER_GPA
5:	cli
	hlt
	jmp 5b
ap_trampoline_end:
	.code64

	.balign 8
idt_null:
	.word 0
	.quad 0

	.data
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit flat code */
	.quad 0x00cf93000000ffff	/* 0x10: flat data */
	.quad 0x00af9b000000ffff	/* 0x18: 64-bit code */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

/*
 * Identity map of the first 4 GiB with 2 MiB pages, built by the
 * assembler so the 32-bit entry spends no instructions on it.
 */
	.balign 4096
pml4:
	.quad pdpt + PTE_P_RW
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + PTE_P_RW
	.quad pd + 0x1000 + PTE_P_RW
	.quad pd + 0x2000 + PTE_P_RW
	.quad pd + 0x3000 + PTE_P_RW
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) + PDE_2M
	.set i, i + 1
	.endr

	.section .bss.noclear, "aw", @nobits
	.balign 16
stack:
	.skip GUEST_STACK_SIZE
stack_top:

/*
 * Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18): a 4-byte desc.
 * guest.ld follows it with 4 zero bytes outside the PT_NOTE because QEMU
 * reads the desc as 8 bytes.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start32

	.section .note.GNU-stack, "", @progbits
