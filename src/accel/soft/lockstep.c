/*
 * The lockstep trace writer of lockstep.h: the spec parser, the window
 * logic (when to single-step, when to record) and the record format that
 * tools/lockstep/compare.py reads (docs/lockstep.md):
 *
 *   # ember-lockstep 1 cpu=0 spec="..."
 *   # start: i=N rip=R
 *   # cpuid 00000001.0: eax=... ebx=... ecx=... edx=...     (the guest's CPUID table)
 *   i=1234 rip=ffffffff81000000 cpl=0 m=64 b=4889e5 insn="mov rbp, rsp" rax=... rbx=...
 *      rcx= rdx= rsi= rdi= rbp= rsp= r8=..r15= rfl= cs= ss= ds= es= fs= gs= fsb= gsb=
 *      cr0= cr2= cr3= cr4= efer=          (one line per record; values in hex)
 *
 * Each record is the state *before* the instruction at rip runs, which is
 * what QEMU's `-d cpu` prints before each translation block (one
 * instruction per block with -singlestep). Register names and order follow
 * QEMU's dump (RAX RBX RCX RDX RSI RDI RBP RSP R8..R15).
 *
 * Code bytes are read without side effects: sysmem_debug_translate (no
 * A/D bits, no TLB fill, no fault) over the physical map in system mode,
 * user_mem_read in user mode.
 */
#include "accel/soft/lockstep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/physmap.h"
#include "accel/soft/sysmem.h"
#include "accel/soft/trace.h"
#include "accel/soft/user_mem.h"
#include "arch/x86/cpu_state.h"

#define MAX_INSN_LEN 15
#define FILE_BUFFER  (1u << 20)

struct lockstep {
	struct lockstep_spec spec;
	FILE *f;
	char *buf; /* the stdio buffer (stderr is left unbuffered) */
	_Atomic bool on;
	bool started;
	uint64_t hits;     /* from=0xRIP: times the RIP was about to run */
	uint64_t written;  /* records */
	uint64_t next_rip; /* every=block: the fall-through of the previous instruction */
	bool have_next;
};

static struct lockstep trace;

/* ---- the spec ---- */

static int parse_u64(const char *s, size_t n, int base, uint64_t *out)
{
	char tmp[32];
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (tmp[0] == '-' || tmp[0] == '+' || tmp[0] == ' ')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tmp, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool key_is(const char *key, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(key, want, n);
}

/* from=N (decimal instruction count) or from=0xRIP[#HITS]. */
static int parse_from(const char *v, size_t n, struct lockstep_spec *out)
{
	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		const char *hash = memchr(v, '#', n);
		size_t rip_len = hash ? (size_t)(hash - v) : n;
		out->from_is_rip = true;
		out->from_hits = 1;
		if (parse_u64(v + 2, rip_len - 2, 16, &out->from))
			return -EINVAL;
		if (hash && (parse_u64(hash + 1, n - rip_len - 1, 10, &out->from_hits) ||
		             out->from_hits == 0))
			return -EINVAL;
		return 0;
	}
	out->from_is_rip = false;
	return parse_u64(v, n, 10, &out->from);
}

int lockstep_spec_parse(const char *spec, struct lockstep_spec *out, char *err, size_t err_size)
{
	memset(out, 0, sizeof(*out));
	out->from_hits = 1;
	strcpy(out->file, "ember-trace.txt");
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (len == 0) {
			p += end ? 1 : 0;
			continue;
		}
		if (!eq) {
			snprintf(err, err_size, "'%.*s' is not key=value", (int)len, p);
			return -EINVAL;
		}
		size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
		const char *v = eq + 1;
		int r = 0;
		uint64_t x;
		if (key_is(p, klen, "from")) {
			r = parse_from(v, vlen, out);
		} else if (key_is(p, klen, "count")) {
			r = parse_u64(v, vlen, 10, &out->count);
		} else if (key_is(p, klen, "file")) {
			if (vlen == 0 || vlen >= sizeof(out->file))
				r = -EINVAL;
			else
				memcpy(out->file, v, vlen), out->file[vlen] = '\0';
		} else if (key_is(p, klen, "every")) {
			if (vlen == 1 && v[0] == '1')
				out->every_block = false;
			else if (vlen == 5 && !memcmp(v, "block", 5))
				out->every_block = true;
			else
				r = -EINVAL;
		} else if (key_is(p, klen, "cpu")) {
			r = parse_u64(v, vlen, 10, &x);
			if (!r && x > 1023)
				r = -EINVAL;
			out->cpu = (unsigned)x;
		} else if (key_is(p, klen, "flush")) {
			r = parse_u64(v, vlen, 10, &x);
			if (!r && x > 1)
				r = -EINVAL;
			out->flush = x == 1;
		} else {
			snprintf(err, err_size,
			         "unknown key '%.*s' (from, count, file, every, cpu, flush)",
			         (int)klen, p);
			return -EINVAL;
		}
		if (r) {
			snprintf(err, err_size, "bad value in '%.*s'", (int)len, p);
			return -EINVAL;
		}
		p += len + (end ? 1 : 0);
	}
	return 0;
}

/* ---- enable / disable ---- */

int lockstep_trace_enable(const char *spec)
{
	char err[160] = "";
	struct lockstep_spec s;
	if (atomic_load(&trace.on) || trace.f) {
		fprintf(stderr, "ember: " LOCKSTEP_ENV ": a trace is already on\n");
		return -EBUSY;
	}
	if (lockstep_spec_parse(spec, &s, err, sizeof(err))) {
		fprintf(stderr, "ember: " LOCKSTEP_ENV ": %s\n", err);
		return -EINVAL;
	}
	memset(&trace, 0, sizeof(trace));
	trace.spec = s;
	if (!strcmp(s.file, "-")) {
		trace.f = stderr;
	} else {
		trace.f = fopen(s.file, "w");
		if (!trace.f) {
			int e = errno;
			fprintf(stderr, "ember: " LOCKSTEP_ENV ": cannot create %s: %s\n", s.file,
			        strerror(e));
			return -e;
		}
		/* Records are written one by one: a big buffer keeps that cheap. */
		trace.buf = malloc(FILE_BUFFER);
		if (trace.buf)
			setvbuf(trace.f, trace.buf, _IOFBF, FILE_BUFFER);
	}
	fprintf(trace.f, "# ember-lockstep 1 cpu=%u spec=\"%s\"\n", s.cpu, spec);
	atomic_store(&trace.on, true);
	return 0;
}

int lockstep_trace_enable_from_env(void)
{
	const char *spec = getenv(LOCKSTEP_ENV);
	if (!spec || !*spec)
		return 0;
	return lockstep_trace_enable(spec);
}

/* The trace has what it asked for: stop single-stepping. */
static void finish(const char *why)
{
	if (!atomic_load_explicit(&trace.on, memory_order_relaxed))
		return;
	fprintf(trace.f, "# end: %s, %" PRIu64 " records\n", why, trace.written);
	fflush(trace.f);
	atomic_store(&trace.on, false);
}

void lockstep_trace_disable(void)
{
	if (!trace.f)
		return;
	finish(trace.started ? "the run ended" : "the run ended before the trace started");
	if (trace.f != stderr)
		fclose(trace.f);
	free(trace.buf);
	trace.f = NULL;
	trace.buf = NULL;
}

bool lockstep_trace_on(void)
{
	return atomic_load_explicit(&trace.on, memory_order_relaxed);
}

/* ---- one record ---- */

/* The linear address of CS:rip (outside 64-bit mode offsets wrap at 4 GiB). */
static uint64_t code_linear(const struct cpu *cpu, uint64_t rip)
{
	if (cpu->mode == CPU_MODE_LONG64)
		return rip;
	return (cpu->seg[S_CS].base + rip) & 0xffffffffu;
}

/* Copies up to n code bytes at linear address lin; how many were readable. */
static size_t read_code(struct cpu *cpu, uint64_t lin, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		uint64_t a = lin + got;
		size_t chunk = MIN(n - got, (size_t)(4096 - (a & 4095)));
		if (cpu->mem == &sysmem_ops) {
			uint32_t error;
			uint64_t gpa = sysmem_debug_translate(cpu, a, CPU_ACCESS_FETCH, &error);
			const void *p = gpa == (uint64_t)-1
			                    ? NULL
			                    : physmap_ptr(sysmem_physmap(cpu), gpa, chunk);
			if (!p)
				break;
			memcpy(buf + got, p, chunk);
		} else if (cpu->mem == &user_mem_ops && cpu->mem_ctx) {
			if (user_mem_read(cpu->mem_ctx, a, buf + got, chunk))
				break;
		} else {
			break;
		}
		got += chunk;
	}
	return got;
}

static const char *mode_name(enum cpu_mode m)
{
	switch (m) {
	case CPU_MODE_REAL:
		return "16r";
	case CPU_MODE_PROT16:
		return "16";
	case CPU_MODE_PROT32:
		return "32";
	case CPU_MODE_LONG64:
		return "64";
	}
	return "?";
}

/* The instruction at cpu->rip as text and bytes; its length (0: unknown). */
static unsigned disassemble(struct cpu *cpu, char *text, size_t text_size, uint8_t *bytes)
{
	size_t n = read_code(cpu, code_linear(cpu, cpu->rip), bytes, MAX_INSN_LEN);
	unsigned len = n ? softcpu_disasm(cpu->mode, cpu->rip, bytes, n, text, text_size) : 0;
	if (!len)
		snprintf(text, text_size, "%s",
		         n ? "(bad or cut encoding)" : "(code not readable)");
	/* The disassembler's text must not end the quoted field. */
	for (char *c = text; *c; c++)
		if (*c == '"')
			*c = '\'';
	return len;
}

static void write_record(struct cpu *cpu, const char *text, const uint8_t *bytes, unsigned len)
{
	/* QEMU's order: RAX RBX RCX RDX RSI RDI RBP RSP R8..R15. */
	static const struct {
		const char *name;
		enum cpu_gpr r;
	} gprs[16] = {
	    {"rax", R_RAX}, {"rbx", R_RBX}, {"rcx", R_RCX}, {"rdx", R_RDX},
	    {"rsi", R_RSI}, {"rdi", R_RDI}, {"rbp", R_RBP}, {"rsp", R_RSP},
	    {"r8", R_R8},   {"r9", R_R9},   {"r10", R_R10}, {"r11", R_R11},
	    {"r12", R_R12}, {"r13", R_R13}, {"r14", R_R14}, {"r15", R_R15},
	};
	static const struct {
		const char *name;
		enum cpu_sreg s;
	} sregs[6] = {{"cs", S_CS}, {"ss", S_SS}, {"ds", S_DS},
	              {"es", S_ES}, {"fs", S_FS}, {"gs", S_GS}};
	FILE *f = trace.f;
	fprintf(f, "i=%" PRIu64 " rip=%" PRIx64 " cpl=%u m=%s b=", cpu->icount, cpu->rip, cpu->cpl,
	        mode_name(cpu->mode));
	for (unsigned k = 0; k < len; k++)
		fprintf(f, "%02x", bytes[k]);
	if (!len)
		fputc('-', f);
	fprintf(f, " insn=\"%s\"", text);
	for (unsigned k = 0; k < 16; k++)
		fprintf(f, " %s=%" PRIx64, gprs[k].name, cpu->gpr[gprs[k].r]);
	fprintf(f, " rfl=%" PRIx64, cpu_get_rflags(cpu));
	for (unsigned k = 0; k < 6; k++)
		fprintf(f, " %s=%04x", sregs[k].name, cpu->seg[sregs[k].s].selector);
	fprintf(f,
	        " fsb=%" PRIx64 " gsb=%" PRIx64 " cr0=%" PRIx64 " cr2=%" PRIx64 " cr3=%" PRIx64
	        " cr4=%" PRIx64 " efer=%" PRIx64 "\n",
	        cpu->seg[S_FS].base, cpu->seg[S_GS].base, cpu->cr0, cpu->cr2, cpu->cr3, cpu->cr4,
	        cpu->efer);
	if (trace.spec.flush)
		fflush(f);
}

/*
 * The CPUID table the guest sees: Linux takes different paths (alternatives,
 * vendor quirks) for different CPUIDs, so QEMU must be given the same one
 * (tools/lockstep/qemu_cpu.py turns these lines into a -cpu option).
 */
static void write_cpuid(const struct cpu *cpu)
{
	for (size_t k = 0; cpu->cpuid && k < cpu->nr_cpuid; k++) {
		const struct cpuid_entry *e = &cpu->cpuid[k];
		fprintf(trace.f,
		        "# cpuid %08" PRIx32 ".%" PRIx32 ": eax=%08" PRIx32 " ebx=%08" PRIx32
		        " ecx=%08" PRIx32 " edx=%08" PRIx32 "\n",
		        e->function, e->index, e->eax, e->ebx, e->ecx, e->edx);
	}
}

/* The instruction at cpu->rip is about to run and the window is open. */
static void record(struct cpu *cpu)
{
	char text[128];
	uint8_t bytes[MAX_INSN_LEN];
	unsigned len = disassemble(cpu, text, sizeof(text), bytes);
	bool target = !trace.have_next || cpu->rip != trace.next_rip;
	trace.next_rip = cpu->rip + len;
	trace.have_next = len != 0;
	if (trace.spec.every_block && !target)
		return;
	write_record(cpu, text, bytes, len);
	trace.written++;
}

uint64_t lockstep_trace_step(struct cpu *cpu, unsigned vcpu, uint64_t budget)
{
	if (vcpu != trace.spec.cpu || !lockstep_trace_on())
		return budget;
	if (!trace.started) {
		if (trace.spec.from_is_rip) {
			/* Step until the RIP is about to run for the HITS-th time. */
			if (cpu->rip != trace.spec.from || ++trace.hits < trace.spec.from_hits)
				return 1;
		} else if (cpu->icount < trace.spec.from) {
			/* Run freely up to the first instruction of the window. */
			uint64_t left = trace.spec.from - cpu->icount;
			return budget == 0 || budget > left ? left : budget;
		}
		trace.started = true;
		fprintf(trace.f, "# start: i=%" PRIu64 " rip=%" PRIx64 "\n", cpu->icount, cpu->rip);
		write_cpuid(cpu);
	}
	if (trace.spec.count && trace.written >= trace.spec.count) {
		finish("count reached");
		return budget;
	}
	record(cpu);
	return 1;
}

void lockstep_trace_note(unsigned vcpu, const char *fmt, ...)
{
	if (vcpu != trace.spec.cpu || !lockstep_trace_on() || !trace.started)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", trace.f);
	vfprintf(trace.f, fmt, ap);
	fputc('\n', trace.f);
	va_end(ap);
	if (trace.spec.flush)
		fflush(trace.f);
}
