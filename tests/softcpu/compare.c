/*
 * Compares the native and the emulated outcome of a case field by field
 * (exception vector, error code, CR2, RIP, GPRs, RFLAGS under the undef.def
 * mask, x87 control/status/tag/registers, MXCSR, XMM, the sandbox memory)
 * and prints cases and differences for humans.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "difftest.h"

static const char *const gpr_names[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

static const char *vector_name(int v)
{
	static const char *const names[20] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD",
	                                      "#NM", "#DF", "9",   "#TS", "#NP", "#SS", "#GP",
	                                      "#PF", "15",  "#MF", "#AC", "#MC", "#XM"};
	static char buf[32];

	if (v < 0)
		return "none";
	if (v < 20)
		return names[v];
	snprintf(buf, sizeof(buf), v >= 100 ? "exit %d" : "vector %d", v >= 100 ? v - 100 : v);
	return buf;
}

static const char *flag_names(uint64_t f, char *buf, size_t len)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} fl[] = {{0x1, "CF"},  {0x4, "PF"},   {0x10, "AF"}, {0x40, "ZF"},
	          {0x80, "SF"}, {0x400, "DF"}, {0x800, "OF"}};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if (f & fl[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", fl[i].name);
	return buf;
}

static bool has_error_code(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

/* Relative tolerance for results the manuals leave implementation-specific. */
static bool close_f32(uint32_t a, uint32_t b)
{
	float x, y;

	memcpy(&x, &a, 4);
	memcpy(&y, &b, 4);
	if (a == b || (isnan(x) && isnan(y)))
		return true;
	if (isinf(x) || isinf(y) || signbit(x) != signbit(y))
		return false;
	return fabsf(x - y) <= ldexpf(fmaxf(fabsf(x), fabsf(y)), -10);
}

static bool close_f80(const uint8_t *a, const uint8_t *b)
{
	long double x = 0, y = 0;

	if (!memcmp(a, b, 10))
		return true;
	memcpy(&x, a, 10);
	memcpy(&y, b, 10);
	if (isnan(x) && isnan(y))
		return true;
	if (isinf(x) || isinf(y) || signbit(x) != signbit(y))
		return false;
	return fabsl(x - y) <= ldexpl(fmaxl(fabsl(x), fabsl(y)), -58);
}

static void hex(const uint8_t *p, unsigned n, char *buf)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02x", p[n - 1 - i]);
}

#define DIFF(...)                                                                                  \
	do {                                                                                       \
		nd++;                                                                              \
		if (print)                                                                         \
			printf("    differs: " __VA_ARGS__);                                       \
	} while (0)

unsigned dt_compare(const struct dt_case *c, const struct dt_state *nat, const uint8_t *nat_mem,
                    const struct dt_state *emu, const uint8_t *emu_mem, bool print)
{
	const struct dt_form *f = c->form;
	bool approx = f->fl & DT_F_APPROX;
	struct dt_mask m;
	unsigned nd = 0;
	char b1[64], b2[64], b3[64];

	dt_undef_mask(c, &m);
	if (approx && f->cls == C_X87)
		m.fsw &= (uint16_t)~0x0200; /* C1 reports the rounding of an approximation */

	if (nat->vector != emu->vector)
		DIFF("exception: native %s, emulated %s\n", vector_name(nat->vector),
		     vector_name(emu->vector));
	else if (has_error_code(nat->vector) && nat->error != emu->error)
		DIFF("error code: native %#x, emulated %#x\n", nat->error, emu->error);
	if (nat->vector == 14 && emu->vector == 14 && nat->cr2 != emu->cr2)
		DIFF("cr2: native %#" PRIx64 ", emulated %#" PRIx64 "\n", nat->cr2, emu->cr2);
	if (nat->rip != emu->rip)
		DIFF("rip: native %#" PRIx64 ", emulated %#" PRIx64 "\n", nat->rip, emu->rip);
	for (int i = 0; i < 16; i++) {
		uint64_t mask = ~0ULL;
		if (m.dest_undef && c->rm_reg == i)
			mask = f->size >= 64 ? 0 : ~((1ULL << f->size) - 1);
		if ((nat->gpr[i] ^ emu->gpr[i]) & mask)
			DIFF("%s: native %#" PRIx64 ", emulated %#" PRIx64 "\n", gpr_names[i],
			     nat->gpr[i], emu->gpr[i]);
	}
	if ((nat->rflags ^ emu->rflags) & m.rflags)
		DIFF("rflags: native %#" PRIx64 " [%s], emulated %#" PRIx64 " [%s]; bits: %s\n",
		     nat->rflags, flag_names(nat->rflags & m.rflags, b1, sizeof(b1)), emu->rflags,
		     flag_names(emu->rflags & m.rflags, b2, sizeof(b2)),
		     flag_names((nat->rflags ^ emu->rflags) & m.rflags, b3, sizeof(b3)));

	const uint8_t *nf = nat->fx, *ef = emu->fx;
	if (dt_fx16(nf, FX_FCW) != dt_fx16(ef, FX_FCW))
		DIFF("fcw: native %#x, emulated %#x\n", dt_fx16(nf, FX_FCW), dt_fx16(ef, FX_FCW));
	if ((dt_fx16(nf, FX_FSW) ^ dt_fx16(ef, FX_FSW)) & m.fsw)
		DIFF("fsw: native %#x, emulated %#x (compared bits %#x)\n", dt_fx16(nf, FX_FSW),
		     dt_fx16(ef, FX_FSW), m.fsw);
	if (nf[FX_FTW] != ef[FX_FTW])
		DIFF("ftw (abridged): native %#x, emulated %#x\n", nf[FX_FTW], ef[FX_FTW]);
	for (int i = 0; i < 8; i++) {
		const uint8_t *a = nf + FX_ST + 16 * i, *b = ef + FX_ST + 16 * i;
		if (approx ? !close_f80(a, b) : memcmp(a, b, 10) != 0) {
			hex(a, 10, b1);
			hex(b, 10, b2);
			DIFF("st(%d): native %s, emulated %s\n", i, b1, b2);
		}
	}
	if (dt_fx32(nf, FX_MXCSR) != dt_fx32(ef, FX_MXCSR))
		DIFF("mxcsr: native %#x, emulated %#x\n", dt_fx32(nf, FX_MXCSR),
		     dt_fx32(ef, FX_MXCSR));
	for (int i = 0; i < 16; i++) {
		const uint8_t *a = nf + FX_XMM + 16 * i, *b = ef + FX_XMM + 16 * i;
		bool same = !memcmp(a, b, 16);
		if (!same && approx) {
			same = true;
			for (int l = 0; l < 4; l++)
				same &= close_f32(dt_fx32(a, 4u * l), dt_fx32(b, 4u * l));
		}
		if (!same) {
			hex(a, 16, b1);
			hex(b, 16, b2);
			DIFF("xmm%d: native %s, emulated %s\n", i, b1, b2);
		}
	}

	if (memcmp(nat_mem, emu_mem, DT_DATA_SIZE)) {
		unsigned shown = 0;
		for (unsigned i = 0; i < DT_DATA_SIZE; i++) {
			uint64_t a = DT_DATA_BASE + i;
			if (nat_mem[i] == emu_mem[i])
				continue;
			if (m.dest_undef && c->rm_reg < 0 && a >= c->ea && a < c->ea + f->size / 8)
				continue;
			nd++;
			if (print && shown++ < 16)
				printf("    differs: memory %#" PRIx64
				       ": native %02x, emulated %02x\n",
				       a, nat_mem[i], emu_mem[i]);
		}
		if (print && shown > 16)
			printf("    (%u more memory bytes differ)\n", shown - 16);
	}
	return nd;
}

static void print_state(const char *what, const struct dt_state *s, const struct dt_case *c,
                        bool fp)
{
	char buf[64];

	printf("  %s: exception %s", what, vector_name(s->vector));
	if (s->vector >= 0)
		printf(" error %#x cr2 %#" PRIx64, s->error, s->cr2);
	printf(", rip %#" PRIx64 ", rflags %#" PRIx64 " [%s]\n", s->rip, s->rflags,
	       flag_names(s->rflags, buf, sizeof(buf)));
	for (int i = 0; i < 16; i++)
		printf("%s%-3s %016" PRIx64 "%s", i % 4 ? "  " : "    ", gpr_names[i], s->gpr[i],
		       i % 4 == 3 ? "\n" : "");
	if (!fp)
		return;
	printf("    fcw %04x fsw %04x ftw %02x mxcsr %08x\n", dt_fx16(s->fx, FX_FCW),
	       dt_fx16(s->fx, FX_FSW), s->fx[FX_FTW], dt_fx32(s->fx, FX_MXCSR));
	if (c->form->cls == C_X87) {
		for (int i = 0; i < 8; i++) {
			hex(s->fx + FX_ST + 16 * i, 10, buf);
			printf("%sst%d %s%s", i % 4 ? "  " : "    ", i, buf,
			       i % 4 == 3 ? "\n" : "");
		}
	} else {
		for (int i = 0; i < 16; i++) {
			hex(s->fx + FX_XMM + 16 * i, 16, buf);
			printf("%sxmm%-2d %s%s", i % 2 ? "  " : "    ", i, buf, i % 2 ? "\n" : "");
		}
	}
}

void dt_print_case(const struct dt_case *c, const struct dt_state *nat, const struct dt_state *emu)
{
	const struct dt_form *f = c->form;
	bool fp = f->cls >= C_SSEF && f->cls <= C_X87;

	printf("  form: %s (undef %s)\n  bytes:", f->name, dt_undef_name(f->undef));
	for (unsigned i = 0; i < c->len; i++)
		printf(" %02x", c->insn[i]);
	printf("\n  rerun: difftest --case-seed %#" PRIx64 " --filter '^", c->seed);
	for (const char *p = f->name; *p; p++)
		printf("%s%c", strchr("\\^$.|?*+()[]{}", *p) ? "\\" : "", *p);
	printf("$'\n");
	if (c->has_mem)
		printf("  memory operand: %#" PRIx64 "\n", c->ea);
	print_state("input", &c->in, c, fp);
	if (nat)
		print_state("native", nat, c, fp);
	if (emu)
		print_state("emulated", emu, c, fp);
}
