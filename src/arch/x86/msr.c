/*
 * Boot MSR values: the state a firmware hands a kernel (Intel SDM vol. 3A,
 * "Fast System Calls in 64-Bit Mode" for STAR/LSTAR/CSTAR/FMASK and the
 * SYSENTER MSRs, "IA32_MTRR_DEF_TYPE MSR"; vol. 4 for IA32_MISC_ENABLE):
 * no system-call entry points, TSC at zero, fast strings on, and
 * write-back as the default memory type so that guest RAM is cacheable
 * without any variable-range MTRRs.
 */
#include "arch/x86/msr.h"

#include "core/macros.h"

static const struct msr_entry msr_boot_values[] = {
    {MSR_IA32_SYSENTER_CS, 0},
    {MSR_IA32_SYSENTER_ESP, 0},
    {MSR_IA32_SYSENTER_EIP, 0},
    /* The kernel sets the SYSCALL MSRs itself; start them clean. */
    {MSR_STAR, 0},
    {MSR_LSTAR, 0},
    {MSR_CSTAR, 0},
    {MSR_SYSCALL_MASK, 0},
    {MSR_KERNEL_GS_BASE, 0},
    /* Written on every vCPU in the same instant, so KVM keeps the TSCs in sync. */
    {MSR_IA32_TSC, 0},
    /* The kernel's memset/memcpy use REP STOSB/MOVSB when fast strings are on. */
    {MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE_FAST_STRING},
    /* MTRRs enabled, no fixed or variable ranges: everything is write-back. */
    {MSR_MTRR_DEF_TYPE, MSR_MTRR_DEF_TYPE_E | MSR_MTRR_TYPE_WB},
};

/*
 * Copies up to cap boot MSRs into out and returns how many it wrote
 * (ARRAY_SIZE(msr_boot_values) when cap allows). Pure; any thread.
 */
size_t msr_boot_list(struct msr_entry *out, size_t cap)
{
	size_t n = MIN(cap, ARRAY_SIZE(msr_boot_values));

	for (size_t i = 0; i < n; i++)
		out[i] = msr_boot_values[i];
	return n;
}
