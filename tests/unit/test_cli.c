/* Unit tests for CLI parsing, config range checks and the console escape filter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/cli.h"
#include "vmm/console.h"

#define ARGV(...) ((char *const[]){"ember", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((const char *[]){"ember", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cli, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cli, err, sizeof(err))

static void test_defaults(void **state)
{
	struct cli cli;
	char err[256] = "";
	assert_int_equal(PARSE(&cli, err, "run", "--kernel", "k"), 0);
	assert_int_equal(cli.command, CLI_RUN);
	assert_string_equal(cli.config.kernel_path, "k");
	assert_null(cli.config.initrd_path);
	assert_int_equal(cli.config.nr_vcpus, 1);
	assert_int_equal(cli.config.mem_mib, 128);
	assert_string_equal(cli.config.cmdline, "console=ttyS0");
	assert_int_equal(cli.config.accel, ACCEL_KIND_AUTO);
	vm_config_fini(&cli.config);
}

static void test_all_options(void **state)
{
	struct cli cli;
	char err[256] = "";
	assert_int_equal(PARSE(&cli, err, "run", "--kernel=k", "--initrd", "i", "--cpus", "4",
			       "--memory=256", "--cmdline", "quiet console=hvc0", "--accel", "kvm"),
			 0);
	assert_string_equal(cli.config.initrd_path, "i");
	assert_int_equal(cli.config.nr_vcpus, 4);
	assert_int_equal(cli.config.mem_mib, 256);
	assert_string_equal(cli.config.cmdline, "quiet console=hvc0");
	assert_int_equal(cli.config.accel, ACCEL_KIND_KVM);
	vm_config_fini(&cli.config);
}

static void test_console_added(void **state)
{
	char *s = vm_config_default_cmdline("quiet");
	assert_string_equal(s, "console=ttyS0 quiet");
	free(s);
	s = vm_config_default_cmdline("xconsole=1");
	assert_string_equal(s, "console=ttyS0 xconsole=1");
	free(s);
	s = vm_config_default_cmdline("a console=ttyS1");
	assert_string_equal(s, "a console=ttyS1");
	free(s);
}

static void test_help_version(void **state)
{
	struct cli cli;
	char err[256] = "";
	assert_int_equal(PARSE(&cli, err, "--help"), 0);
	assert_int_equal(cli.command, CLI_HELP);
	vm_config_fini(&cli.config);
	assert_int_equal(PARSE(&cli, err, "--version"), 0);
	assert_int_equal(cli.command, CLI_VERSION);
	vm_config_fini(&cli.config);
	assert_int_equal(PARSE(&cli, err, "run", "--help"), 0);
	assert_int_equal(cli.command, CLI_HELP);
	vm_config_fini(&cli.config);
	assert_non_null(strstr(cli_usage(), "Ctrl-A x"));
}

struct bad_case {
	int argc;
	char *const *argv;
	const char *message;
};

static void test_bad_input(void **state)
{
	const struct bad_case cases[] = {
		{ARGC("frobnicate"), ARGV("frobnicate"), "unknown command"},
		{ARGC("run"), ARGV("run"), "--kernel is required"},
		{ARGC("run", "--kernel"), ARGV("run", "--kernel"), "needs a value"},
		{ARGC("run", "--kernel", "k", "--bogus", "1"), ARGV("run", "--kernel", "k", "--bogus", "1"),
		 "unknown option '--bogus'"},
		{ARGC("run", "--kernel", "k", "--bogus"), ARGV("run", "--kernel", "k", "--bogus"),
		 "unknown option '--bogus'"},
		{ARGC("run", "--kernel", "k", "--cpus", "two"), ARGV("run", "--kernel", "k", "--cpus", "two"),
		 "--cpus"},
		{ARGC("run", "--kernel", "k", "--cpus", "-1"), ARGV("run", "--kernel", "k", "--cpus", "-1"),
		 "--cpus"},
		{ARGC("run", "--kernel", "k", "--memory", "12x"),
		 ARGV("run", "--kernel", "k", "--memory", "12x"), "--memory"},
		{ARGC("run", "--kernel", "k", "--memory", "99999999999999999999999"),
		 ARGV("run", "--kernel", "k", "--memory", "99999999999999999999999"), "--memory"},
		{ARGC("run", "--kernel", "k", "--accel", "tcg"), ARGV("run", "--kernel", "k", "--accel", "tcg"),
		 "--accel"},
		{ARGC("run", "stray"), ARGV("run", "stray"), "unexpected argument"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli cli;
		char err[256] = "";
		assert_int_not_equal(cli_parse(cases[i].argc, cases[i].argv, &cli, err, sizeof(err)), 0);
		if (!strstr(err, cases[i].message))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].message);
		vm_config_fini(&cli.config);
	}
}

static void test_range_checks(void **state)
{
	struct vm_config cfg;
	char err[256];
	vm_config_init(&cfg);
	cfg.kernel_path = strdup("k");
	assert_int_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	cfg.nr_vcpus = 0;
	assert_int_not_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "--cpus must be between 1 and"));
	cfg.nr_vcpus = 65;
	assert_int_not_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	cfg.nr_vcpus = 64;
	cfg.mem_mib = 15;
	assert_int_not_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "at least 16 MiB"));
	cfg.mem_mib = 16;
	assert_int_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	cfg.mem_mib = 24 * 1024 + 1;
	assert_int_not_equal(vm_config_check(&cfg, GIB(24), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "more than this host has"));
	vm_config_fini(&cfg);
}

static void test_escape_filter(void **state)
{
	uint8_t out[16];
	bool pending = false, quit = false;
	size_t n = console_filter_escape(&pending, (const uint8_t *)"ab\x03", 3, out, &quit);
	assert_int_equal(n, 3); /* Ctrl-C passes through to the guest */
	assert_memory_equal(out, "ab\x03", 3);
	n = console_filter_escape(&pending, (const uint8_t *)"\x01\x01z", 3, out, &quit);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x01z", 2);
	assert_false(quit);
	/* The sequence split across two reads still quits. */
	n = console_filter_escape(&pending, (const uint8_t *)"q\x01", 2, out, &quit);
	assert_int_equal(n, 1);
	assert_true(pending);
	n = console_filter_escape(&pending, (const uint8_t *)"xrest", 5, out, &quit);
	assert_int_equal(n, 0);
	assert_true(quit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),	cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_console_added),	cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_bad_input),	cmocka_unit_test(test_range_checks),
		cmocka_unit_test(test_escape_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
