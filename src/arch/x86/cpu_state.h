/*
 * Architectural x86-64 vCPU state as the boot code and the accelerators
 * exchange it. The layout follows the architecture (segment descriptor
 * cache, descriptor-table registers, control registers), not any one
 * accelerator; accel/kvm converts field by field.
 */
#ifndef EMBER_ARCH_X86_CPU_STATE_H
#define EMBER_ARCH_X86_CPU_STATE_H

#include <stdint.h>

struct x86_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type; /* descriptor type field (4 bits) */
	uint8_t present, dpl, db, s, l, g, avl;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct x86_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct x86_sregs {
	struct x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* One CPUID leaf/subleaf; the flags say whether index is significant. */
#define CPUID_FLAG_SIGNIFICANT_INDEX 1u
struct cpuid_entry {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};
#define CPUID_MAX_ENTRIES 256

struct msr_entry {
	uint32_t index;
	uint64_t value;
};

/* Control-register and EFER bits the boot code uses. */
#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_AM (1ULL << 18)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_EFER_SCE (1ULL << 0)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_EFER_NXE (1ULL << 11)
#define X86_RFLAGS_RESERVED1 (1ULL << 1)

#endif
