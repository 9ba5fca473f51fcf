/*
 * The friendly command line: `ember run --kernel PATH [--initrd PATH]
 * [--cmdline STR] [--cpus N] [--memory MIB] [--accel auto|kvm|soft]`,
 * `ember cpu-run [--trace] [--stats] ELF [ARGS...]` (whose arguments
 * cpurun_main parses), `ember --help`, `ember --version`. Parsing only: no
 * files are opened.
 */
#ifndef EMBER_CONFIG_CLI_H
#define EMBER_CONFIG_CLI_H

#include <stddef.h>

#include "config/vm_config.h"
#include "core/macros.h"

enum cli_command {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
	CLI_CPU_RUN, /* argv[2...] go to cpurun_main */
};

struct cli {
	enum cli_command command;
	struct vm_config config;
};

/* 0 on success; -EINVAL with one line in err on bad input. The caller
 * owns out->config (vm_config_fini) in both cases. */
int cli_parse(int argc, char *const argv[], struct cli *out, char *err, size_t errlen) must_check;
/* The --help text. */
const char *cli_usage(void);

#endif
