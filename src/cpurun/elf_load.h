/*
 * Loading a static x86-64 Linux executable into a user_mem, and the initial
 * process stack as Linux's binfmt_elf builds it (System V x86-64 psABI
 * 3.4.1, fs/binfmt_elf.c create_elf_tables).
 */
#ifndef EMBER_CPURUN_ELF_LOAD_H
#define EMBER_CPURUN_ELF_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/soft/user_mem.h"
#include "core/macros.h"

struct elf_image {
	uint64_t entry; /* with the load bias applied */
	uint64_t bias;  /* 0 for ET_EXEC */
	uint64_t phdr;  /* AT_PHDR: the program headers in guest memory (0: not loaded) */
	uint16_t phnum, phent;
	uint64_t end;    /* page-aligned end of the highest PT_LOAD */
	bool exec_stack; /* PT_GNU_STACK asks for an executable stack */
};

/* What goes on the initial stack besides argv and envp. */
struct elf_stack_info {
	const char *execfn; /* AT_EXECFN */
	uint64_t hwcap;     /* AT_HWCAP: CPUID.1:EDX of the CPU that runs the image */
	uint64_t uid, euid, gid, egid;
};

/*
 * Reads the ELF at path and maps its PT_LOAD segments into mem with their
 * protections (.bss zeroed). ET_EXEC is loaded where linked, ET_DYN
 * without PT_INTERP (static-PIE) at CPURUN_PIE_BASE. Returns 0, or -errno
 * with one line in err: -ENOENT & co. for the file, -ENOEXEC for anything
 * that is not a static x86-64 executable, -ENOMEM.
 */
int elf_load_image(struct user_mem *mem, const char *path, struct elf_image *img, char *err,
                   size_t errlen) must_check;

/*
 * Maps the stack below CPURUN_USER_TOP and fills it as Linux does: argc,
 * argv[], NULL, envp[], NULL, auxv (AT_NULL-terminated), then AT_RANDOM's
 * 16 bytes, the platform string and the argument and environment strings.
 * *rsp is the 16-byte-aligned stack pointer at entry (pointing at argc).
 * Returns 0, -E2BIG (with err) or -ENOMEM.
 */
int elf_load_stack(struct user_mem *mem, const struct elf_image *img,
                   const struct elf_stack_info *info, char *const argv[], char *const envp[],
                   uint64_t *rsp, char *err, size_t errlen) must_check;

#endif
