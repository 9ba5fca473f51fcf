/*
 * Syscall dispatch for cpu-run (Linux x86-64 ABI: arch/x86/entry/entry_64.S,
 * the numbers of asm/unistd_64.h) and the --trace output. SYSCALL itself
 * (rcx = rip, r11 = rflags) is the CPU's business; here the arguments are
 * taken from rdi, rsi, rdx, r10, r8, r9 and the result goes to rax.
 */
#define _GNU_SOURCE
#include "cpurun/syscalls.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpurun/uaccess.h"

static struct syscall_desc table[SYSCALL_TABLE_SIZE];
static bool table_ready;

static void table_init(void)
{
	sys_file_register(table);
	sys_fs_register(table);
	sys_mem_register(table);
	sys_proc_register(table);
	table_ready = true;
}

static void trace_arg(struct cpurun *cr, const struct syscall_desc *d, unsigned i, uint64_t v)
{
	if (d && (d->strings & (1u << i))) {
		char s[UACCESS_PATH_MAX];
		long n = uaccess_string(cr->mem, v, s, sizeof(s));
		if (n >= 0) {
			fprintf(stderr, "\"%.*s\"%s", 80, s, n > 80 ? "..." : "");
			return;
		}
	}
	/* Small numbers (fds, sizes, errors) in decimal, addresses and flags in hex. */
	if ((int64_t)v > -4096 && (int64_t)v < 65536)
		fprintf(stderr, "%" PRId64, (int64_t)v);
	else
		fprintf(stderr, "%#" PRIx64, v);
}

static void trace(struct cpurun *cr, uint64_t nr, const struct syscall_desc *d, const uint64_t a[6],
                  int64_t r)
{
	if (d)
		fprintf(stderr, "cpu-run: %s(", d->name);
	else
		fprintf(stderr, "cpu-run: syscall_%" PRIu64 "(", nr);
	unsigned nargs = d ? d->nargs : 6;
	for (unsigned i = 0; i < nargs; i++) {
		if (i)
			fputs(", ", stderr);
		trace_arg(cr, d, i, a[i]);
	}
	if (cr->exited)
		fputs(") = ?\n", stderr);
	else if (r < 0 && r > -4096)
		fprintf(stderr, ") = %" PRId64 " %s (%s)\n", r, strerrorname_np((int)-r),
		        strerror((int)-r));
	else if (r >= 0 && r < 65536)
		fprintf(stderr, ") = %" PRId64 "\n", r);
	else
		fprintf(stderr, ") = %#" PRIx64 "\n", (uint64_t)r);
}

void syscalls_dispatch(struct cpurun *cr)
{
	if (!table_ready)
		table_init();
	struct cpu *cpu = cr->cpu;
	uint64_t nr = cpu->gpr[R_RAX];
	const uint64_t a[6] = {
	    cpu->gpr[R_RDI], cpu->gpr[R_RSI], cpu->gpr[R_RDX],
	    cpu->gpr[R_R10], cpu->gpr[R_R8],  cpu->gpr[R_R9],
	};
	const struct syscall_desc *d =
	    nr < SYSCALL_TABLE_SIZE && table[nr].name ? &table[nr] : NULL;
	int64_t r;
	if (!d)
		r = -ENOSYS;
	else if (d->fn)
		r = d->fn(cr, a);
	else
		r = syscall_result(syscall((long)nr, a[0], a[1], a[2], a[3], a[4], a[5]));
	if (cr->trace)
		trace(cr, nr, d, a, r);
	if (!cr->exited)
		cpu->gpr[R_RAX] = (uint64_t)r;
}
