/*
 * Firecracker's command line, for ember invoked as `firecracker` (the
 * basename of argv[0]) or with a Firecracker flag first (`ember --api-sock
 * PATH ...`): --api-sock, --config-file, --no-api, --id, --metadata,
 * --level, --log-path, --module, --show-level, --show-log-origin,
 * --metrics-path, --boot-timer, --no-seccomp, --seccomp-filter,
 * --start-time-us, --start-time-cpu-us, --parent-cpu-time-us,
 * --http-api-max-payload-size, --mmds-size-limit, --enable-pci,
 * --describe-snapshot, --snapshot-version, --version, --help, and ember's
 * own --accel auto|kvm|soft.
 * "--flag value" and "--flag=value" both work. Parsing only: no files
 * are opened (api/process.c runs what it describes).
 */
#ifndef EMBER_CONFIG_FC_CLI_H
#define EMBER_CONFIG_FC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/vm_config.h"
#include "core/macros.h"

#define FC_DEFAULT_API_SOCK    "/run/firecracker.socket"
#define FC_DEFAULT_MAX_PAYLOAD 51200

/* Firecracker's exit codes (its FcExitCode). */
#define FC_EXIT_OK                0
#define FC_EXIT_GENERIC           1
#define FC_EXIT_BAD_CONFIGURATION 152
#define FC_EXIT_ARG_PARSING       153

enum fc_action {
	FC_RUN,
	FC_HELP,
	FC_VERSION,
	FC_SNAPSHOT_VERSION,
	FC_DESCRIBE_SNAPSHOT,
};

struct fc_args {
	enum fc_action action;
	const char *api_sock; /* FC_DEFAULT_API_SOCK unless given */
	const char *config_file, *metadata;
	bool no_api;
	const char *id; /* NULL: the default instance id */
	const char *level, *log_path, *module, *metrics_path;
	bool show_level, show_log_origin;
	bool boot_timer, no_seccomp, enable_pci;
	enum accel_kind accel; /* --accel, ACCEL_KIND_AUTO unless given */
	const char *seccomp_filter;
	const char *describe_snapshot;
	bool has_start_time_us, has_start_time_cpu_us, has_parent_cpu_time_us;
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	uint64_t max_payload;     /* --http-api-max-payload-size */
	bool has_mmds_size_limit; /* else the MMDS limit is max_payload */
	uint64_t mmds_size_limit;
};

/* True when argv asks for Firecracker's command line. */
bool fc_cli_wanted(int argc, char *const argv[]);
/* 0, or -EINVAL with one line in err (exit FC_EXIT_ARG_PARSING). The
 * strings point into argv. */
int fc_cli_parse(int argc, char *const argv[], struct fc_args *out, char *err,
                 size_t errlen) must_check;
/* The --help text. */
const char *fc_cli_usage(void);

#endif
