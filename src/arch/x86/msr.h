/* The MSR values a vCPU starts with, as a real boot leaves them. */
#ifndef EMBER_ARCH_X86_MSR_H
#define EMBER_ARCH_X86_MSR_H

#include <stddef.h>

#include "arch/x86/cpu_state.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MSR_IA32_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MSR_MTRR_DEF_TYPE_E (1ULL << 11)
#define MSR_MTRR_TYPE_WB 6ULL

/* Fills out (capacity cap) with the boot values; returns the count. */
size_t msr_boot_list(struct msr_entry *out, size_t cap);

#endif
