/*
 * The ember test guest: a freestanding x86-64 program booted the way Linux
 * is (bzImage 64-bit entry or PVH), which checks what the VMM gave it and
 * reports on the UART as `EMBER-TEST <name> PASS|FAIL <detail>` lines.
 *
 * This header is shared by the C files and entry.S (numbers only when
 * __ASSEMBLER__ is defined). See README.md for the command line keys.
 */
#ifndef EMBER_TEST_GUEST_H
#define EMBER_TEST_GUEST_H

/* How we were entered (first argument of guest_main). */
#define BOOT_PATH_BZIMAGE   0 /* 64-bit entry at load address + 0x200, RSI = boot_params */
#define BOOT_PATH_PVH       1 /* 32-bit PVH entry, EBX = hvm_start_info */
#define BOOT_PATH_BZIMAGE32 2 /* 32-bit boot protocol entry, ESI = boot_params */

#define PVH_START_MAGIC 0x336ec578

/* Selectors of the GDT entry.S loads on the 32-bit paths. */
#define GUEST_CS32 0x08
#define GUEST_DS   0x10
#define GUEST_CS64 0x18

/*
 * The AP trampoline: copied to this page (SIPI vector = page number); each
 * AP increments the 16-bit counter with DS = 0 and halts. 0x3000 lies
 * between the boot IDT (0x520) and the PVH start info (0x6000) in layout.h.
 */
#define AP_TRAMPOLINE_GPA 0x3000
#define AP_COUNTER_GPA    0x3ff0

#define GUEST_STACK_SIZE 16384

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/layout.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN      __attribute__((noreturn))
#define PRINTF(f, a)  __attribute__((format(printf, f, a)))

/* ---- port I/O and small CPU helpers -------------------------------------- */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* One VM exit per page under KVM, whatever the length. */
static inline void outsb(uint16_t port, const void *buf, size_t len)
{
	__asm__ volatile("rep outsb" : "+S"(buf), "+c"(len) : "d"(port) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Reads and writes of guest-physical memory (identity mapped below 4 GiB). */
static inline const void *phys(uint64_t gpa)
{
	return (const void *)(uintptr_t)gpa;
}

static inline uint16_t rd16(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t rd32(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t rd64(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- lib.c: strings, formatting, UART, command line ------------------------ */

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* strlen bounded by max; returns max when no NUL was found. */
size_t str_nlen(const char *s, size_t max);

/* Writes bytes to COM1 as one string PIO. */
void uart_write(const void *buf, size_t len);
void uart_puts(const char *s);

/* %s %c %d %u %x %ld %lu %lx %lld %llu %llx %%, optional 0-padding and width. */
size_t vformat(char *buf, size_t size, const char *fmt, va_list ap);
void gprintf(const char *fmt, ...) PRINTF(1, 2);
/* Prints "EMBER-TEST <name> PASS|FAIL <detail>". */
void report(const char *name, bool pass, const char *fmt, ...) PRINTF(3, 4);

/*
 * Finds key=value in the command line (key at the start of a
 * space-separated word). Returns the value and its length, or NULL.
 */
const char *cmdline_get(const char *cmdline, const char *key, size_t *len);
/* Parses a decimal (or 0x-prefixed hex when base is 0) number; false on junk. */
bool parse_u64(const char *s, size_t len, unsigned base, uint64_t *out);

/* ---- boot info (bootinfo.c) ----------------------------------------------- */

#define MEMMAP_MAX 128

struct mem_range {
	uint64_t addr, size;
	uint32_t type; /* E820 numbering: 1 RAM, 2 reserved, 3 ACPI, 4 NVS */
};

struct boot_info {
	uint32_t path;       /* BOOT_PATH_* */
	uint64_t raw;        /* boot_params or hvm_start_info address */
	const char *cmdline; /* "" when none */
	uint64_t cmdline_addr;
	uint64_t initrd_addr, initrd_size;
	uint64_t rsdp;
	uint32_t nr_mem;
	struct mem_range mem[MEMMAP_MAX];
};

/* The command line address from the raw boot structure (hello fast path). */
const char *boot_cmdline(uint32_t path, uint64_t raw);
void boot_info_collect(struct boot_info *bi, uint32_t path, uint64_t raw);
const char *boot_path_name(uint32_t path);

/* ---- the tests ------------------------------------------------------------ */

/* What the command line asked for, parsed once. */
struct guest_config {
	const char *test;
	size_t test_len;
	const char *end;
	size_t end_len;
	uint64_t mem_mib; /* 0: not given */
	uint64_t cpus;    /* 0: not given */
};

void test_bootparams(const struct boot_info *bi);
void test_e820(const struct boot_info *bi, const struct guest_config *cfg);
void test_cmdline(const struct boot_info *bi);
void test_initrd(const struct boot_info *bi);
void test_acpi(const struct boot_info *bi, const struct guest_config *cfg);
void test_smp(const struct boot_info *bi, const struct guest_config *cfg);
void test_rtc(void);
void test_uart(const struct boot_info *bi);
void test_output(void);
void test_spin(void);
void test_pio(const struct boot_info *bi);
void test_echo(void);

/* ---- acpi.c --------------------------------------------------------------- */

#define ACPI_MAX_CPUS 256

struct acpi_info {
	bool scanned;
	const char *error; /* first problem found, NULL when all is well */
	uint64_t rsdp, xsdt;
	unsigned rsdp_revision;
	unsigned nr_tables;
	const uint8_t *fadt, *madt, *dsdt;
	/* MADT: local APIC (type 0) entries, enabled or not. */
	unsigned nr_lapics, nr_lapics_enabled, nr_x2apics, nr_ioapics;
	uint8_t apic_ids[ACPI_MAX_CPUS];
	uint8_t apic_flags[ACPI_MAX_CPUS];
	/* DSDT \_S5_ first element, -1 if not found. */
	int s5_slp_typ;
};

/* Walks the tables once (cached); never fails, sets error instead. */
const struct acpi_info *acpi_scan(const struct boot_info *bi);
/*
 * S5 through the FADT (hardware-reduced sleep control register, or PM1a
 * for QEMU's tables), then the layout.h port. Returns if nothing stopped us.
 */
void acpi_poweroff(const struct boot_info *bi);
/* The FADT reset register and value, then the layout.h ones. */
void acpi_reset(const struct boot_info *bi);

/* ---- main.c: the ways to end -------------------------------------------- */

NORETURN void guest_halt(void);
NORETURN void guest_poweroff_simple(void);
NORETURN void guest_end(const struct boot_info *bi, const char *how, size_t len);
NORETURN void guest_main(uint32_t path, uint64_t raw);
NORETURN void guest_exception(const uint64_t *frame);

/* ---- entry.S ---------------------------------------------------------------- */

extern const char ap_trampoline_start[], ap_trampoline_end[];
extern const char exception_stubs[]; /* 32 stubs, 16 bytes apart */
NORETURN void guest_triple_fault(void);

#endif /* __ASSEMBLER__ */
#endif
