/*
 * difftest: differential tests of the software CPU against the host CPU.
 *
 *   difftest [--seed S] [--cases N] [--filter REGEX] [--verbose] [--quiet]
 *            [--case-seed X] [--max-reports K] [--native-only] [--list]
 *
 * Runs N cases, round-robin over the selected forms of forms.def, each
 * natively and in the interpreter, and compares the outcomes. A case where
 * the interpreter raises #UD and the host does not counts as "not
 * implemented" (skipped) while the interpreter has executed no case of the
 * form; once it has executed one, every such case is a failure. Forms with
 * only #UD answers retire after UD_RETIRE cases, leaving the budget to the
 * others. Prints a line per form and "N passed, N failed, N skipped";
 * exits 1 on any failure, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difftest.h"

#define UD_RETIRE 64 /* all-#UD cases after which a form counts as not implemented */

struct form_stats {
	bool selected, advertised, retired;
	uint64_t pass, fail, ud_only, native_faults;
	uint64_t impl; /* cases the interpreter executed (did not answer #UD) */
	uint64_t first_ud_seed;
	unsigned reports;
};

struct opts {
	uint64_t seed, cases, case_seed;
	bool have_case_seed, verbose, quiet, native_only, list;
	unsigned max_reports;
	const char *filter;
};

static uint8_t init_mem[DT_DATA_SIZE], nat_mem[DT_DATA_SIZE];

static uint64_t case_seed(uint64_t seed, uint64_t i)
{
	struct dt_rng r;

	dt_rng_seed(&r, seed ^ (i * 0xd1342543de82ef95ULL));
	return dt_rng_next(&r);
}

static void usage(void)
{
	fprintf(stderr, "usage: difftest [--seed S] [--cases N] [--filter REGEX] [--verbose] "
	                "[--quiet]\n                [--case-seed X] [--max-reports K] "
	                "[--native-only] [--list]\n");
	exit(2);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "difftest: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"cases", required_argument, NULL, 'n'},
	    {"filter", required_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"case-seed", required_argument, NULL, 'c'},
	    {"max-reports", required_argument, NULL, 'm'},
	    {"native-only", no_argument, NULL, 'N'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	*o = (struct opts){.seed = 1, .cases = 10000, .max_reports = 20};
	while ((ch = getopt_long(argc, argv, "s:n:f:vqc:m:Nlh", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->seed = parse_u64(optarg, "seed");
			break;
		case 'n':
			o->cases = parse_u64(optarg, "case count");
			break;
		case 'f':
			o->filter = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'c':
			o->case_seed = parse_u64(optarg, "case seed");
			o->have_case_seed = true;
			break;
		case 'm':
			o->max_reports = (unsigned)parse_u64(optarg, "report count");
			break;
		case 'N':
			o->native_only = true;
			break;
		case 'l':
			o->list = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

/* ---- CPUID features: the interpreter's (if it runs CPUID) and the host's ---- */

struct feat_bit {
	uint32_t leaf;
	uint8_t reg, bit; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
};

static const struct feat_bit feat_bits[FT_NR] = {
    [FT_BASE] = {0, 0, 0xff}, [FT_X87] = {1, 3, 0},
    [FT_CMOV] = {1, 3, 15},   [FT_CX8] = {1, 3, 8},
    [FT_CX16] = {1, 2, 13},   [FT_LAHF] = {0x80000001, 2, 0},
    [FT_POPCNT] = {1, 2, 23}, [FT_LZCNT] = {0x80000001, 2, 5},
    [FT_MOVBE] = {1, 2, 22},  [FT_BMI1] = {7, 1, 3},
    [FT_BMI2] = {7, 1, 8},    [FT_ADX] = {7, 1, 19},
    [FT_SSE] = {1, 3, 25},    [FT_SSE2] = {1, 3, 26},
    [FT_SSE3] = {1, 2, 0},    [FT_SSSE3] = {1, 2, 9},
    [FT_SSE41] = {1, 2, 19},  [FT_SSE42] = {1, 2, 20},
    [FT_AES] = {1, 2, 25},    [FT_PCLMUL] = {1, 2, 1},
    [FT_SHA] = {7, 1, 29},
};

static const char *const feat_names[FT_NR] = {
    "base", "x87", "cmov", "cx8",  "cx16",  "lahf",   "popcnt", "lzcnt", "movbe",  "bmi1", "bmi2",
    "adx",  "sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "aes",   "pclmul", "sha",
};

static void features(bool native_only, bool have[FT_NR])
{
	static const uint32_t leaves[3] = {1, 7, 0x80000001};
	uint32_t host[3][4], emu[3][4];

	for (int i = 0; i < 3; i++) {
		dt_native_cpuid(leaves[i], 0, host[i]);
		if (native_only)
			memset(emu[i], 0xff, sizeof(emu[i]));
		else
			dt_emu_cpuid(leaves[i], 0, emu[i]);
	}
	for (int f = 0; f < FT_NR; f++) {
		const struct feat_bit *b = &feat_bits[f];
		int li = b->leaf == 1 ? 0 : b->leaf == 7 ? 1 : 2;
		have[f] = b->bit == 0xff ||
		          ((host[li][b->reg] >> b->bit) & 1 && (emu[li][b->reg] >> b->bit) & 1);
	}
}

/* ---- running ---- */

static bool run_case(const struct dt_case *c, struct dt_state *nat, struct dt_state *emu,
                     bool native_only)
{
	dt_native_set_current(c);
	memcpy(init_mem, (void *)DT_DATA_BASE, DT_DATA_SIZE);
	dt_native_run(c, nat);
	if (native_only)
		return false;
	memcpy(nat_mem, (void *)DT_DATA_BASE, DT_DATA_SIZE);
	memcpy((void *)DT_DATA_BASE, init_mem, DT_DATA_SIZE);
	dt_emu_run(c, emu);
	return true;
}

static void report(const struct dt_case *c, const struct dt_state *nat, const struct dt_state *emu,
                   const char *why)
{
	printf("FAIL %s\n", why);
	dt_print_case(c, nat, emu);
	dt_compare(c, nat, nat_mem, emu, (const uint8_t *)DT_DATA_BASE, true);
	fflush(stdout);
}

/* Re-runs a recorded case to show it (cases are deterministic from their seed). */
static void rerun_report(const struct dt_form *f, uint64_t seed, const char *why)
{
	static struct dt_case c;
	static struct dt_state nat, emu;

	dt_gen_case(f, seed, &c);
	run_case(&c, &nat, &emu, false);
	report(&c, &nat, &emu, why);
}

int main(int argc, char **argv)
{
	static struct dt_case c;
	static struct dt_state nat, emu;
	struct opts o;
	struct form_stats *st;
	bool have[FT_NR];
	size_t *active, nactive = 0, cursor = 0;
	uint64_t passed = 0, failed = 0, skipped = 0, ran = 0;
	unsigned reports = 0;
	regex_t re;
	struct timespec t0, t1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv, &o);
	if (o.filter && regcomp(&re, o.filter, REG_EXTENDED | REG_NOSUB)) {
		fprintf(stderr, "difftest: bad --filter regex '%s'\n", o.filter);
		return 2;
	}
	if (o.list) {
		for (size_t i = 0; i < dt_nr_forms; i++)
			if (!o.filter || !regexec(&re, dt_forms[i].name, 0, NULL, 0))
				printf("%-60s %-8s %s\n", dt_forms[i].name,
				       feat_names[dt_forms[i].feat],
				       dt_undef_name(dt_forms[i].undef));
		return 0;
	}
	if (dt_native_init() || (!o.native_only && dt_emu_init()))
		return 1;
	features(o.native_only, have);
	printf("difftest: seed %" PRIu64 ", %" PRIu64 " cases, features (%s):", o.seed, o.cases,
	       o.native_only ? "host" : "host and interpreter CPUID");
	for (int f = 1; f < FT_NR; f++)
		if (have[f])
			printf(" %s", feat_names[f]);
	printf("\n");

	st = calloc(dt_nr_forms, sizeof(*st));
	active = calloc(dt_nr_forms, sizeof(*active));
	if (!st || !active)
		return 1;
	for (size_t i = 0; i < dt_nr_forms; i++) {
		st[i].selected = !o.filter || !regexec(&re, dt_forms[i].name, 0, NULL, 0);
		st[i].advertised = have[dt_forms[i].feat];
		if (st[i].selected && st[i].advertised)
			active[nactive++] = i;
	}
	if (o.have_case_seed)
		o.cases = nactive;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t n = 0; n < o.cases && nactive; n++) {
		size_t fi;
		size_t tries = 0;
		do {
			fi = active[cursor++ % nactive];
		} while (st[fi].retired && ++tries <= nactive);
		if (tries > nactive)
			break; /* every selected form is retired */
		const struct dt_form *f = &dt_forms[fi];
		struct form_stats *s = &st[fi];
		uint64_t seed = o.have_case_seed ? o.case_seed : case_seed(o.seed, n);

		dt_gen_case(f, seed, &c);
		ran++;
		if (!run_case(&c, &nat, &emu, o.native_only)) {
			s->pass++;
			s->native_faults += nat.vector >= 0;
			continue;
		}
		if (emu.vector == 6 && nat.vector != 6) {
			if (!s->ud_only++)
				s->first_ud_seed = seed;
			if (!s->impl && s->ud_only >= UD_RETIRE)
				s->retired = true;
			continue;
		}
		/* A fetch fault on the instruction itself says nothing about its decoder. */
		s->impl += emu.vector != 6 && !(nat.vector == 14 && (nat.error & 0x10));
		s->native_faults += nat.vector >= 0;
		if (!dt_compare(&c, &nat, nat_mem, &emu, (const uint8_t *)DT_DATA_BASE, false)) {
			s->pass++;
			continue;
		}
		s->fail++;
		if (reports < o.max_reports && s->reports < (o.verbose ? 3u : 1u)) {
			reports++;
			s->reports++;
			report(&c, &nat, &emu, f->name);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	/* Decoder holes: a form the interpreter executes but answers #UD for some encodings. */
	for (size_t i = 0; i < dt_nr_forms && reports < o.max_reports; i++) {
		if (st[i].selected && st[i].impl && st[i].ud_only) {
			char why[256];
			snprintf(why, sizeof(why), "%s (interpreter #UD on a form it implements)",
			         dt_forms[i].name);
			reports++;
			rerun_report(&dt_forms[i], st[i].first_ud_seed, why);
		}
	}

	unsigned fpass = 0, ffail = 0, fni = 0, fna = 0;
	for (size_t i = 0; i < dt_nr_forms; i++) {
		struct form_stats *s = &st[i];
		const char *status;
		if (!s->selected)
			continue;
		if (!s->advertised) {
			fna++;
			if (o.verbose)
				printf("%-5s %52s  %s\n", "n/a", "(feature not advertised)",
				       dt_forms[i].name);
			continue;
		}
		if (s->fail || (s->impl && s->ud_only)) {
			status = "FAIL";
			ffail++;
			failed += s->fail + (s->impl ? s->ud_only : 0);
		} else if (s->ud_only) {
			status = "n/i";
			fni++;
			skipped += s->ud_only;
		} else {
			status = "pass";
			fpass++;
		}
		passed += s->pass;
		if (!o.quiet || strcmp(status, "pass"))
			printf("%-5s %8" PRIu64 " pass %6" PRIu64 " fail %6" PRIu64 " n/i %6" PRIu64
			       " faults  %s\n",
			       status, s->pass, s->fail, s->ud_only, s->native_faults,
			       dt_forms[i].name);
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	printf("forms: %u pass, %u fail, %u not implemented (interpreter #UD), %u not advertised\n",
	       fpass, ffail, fni, fna);
	printf("%" PRIu64 " cases in %.2f s (%.0f cases/s)\n", ran, secs,
	       secs > 0 ? ran / secs : 0);
	printf("%" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped\n", passed, failed,
	       skipped);
	return failed ? 1 : 0;
}
