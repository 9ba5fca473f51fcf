/*
 * Parsing of Firecracker's command line (its src/firecracker/src/main.rs
 * flags and rules: --no-api requires --config-file, --seccomp-filter and
 * --no-seccomp exclude each other, each flag at most once, no positional
 * arguments) into struct fc_args.
 */
#include "config/fc_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static const char usage[] =
    "usage: firecracker [--api-sock PATH] [--config-file PATH [--no-api]] [options]\n"
    "       ember --api-sock PATH ...        the same, from the ember binary\n"
    "\n"
    "ember with Firecracker's command line and API: an HTTP API on a Unix socket\n"
    "(the Firecracker API, see README.md), or a VM described by a JSON config file.\n"
    "\n"
    "  --api-sock PATH        the API socket (default " FC_DEFAULT_API_SOCK ")\n"
    "  --config-file PATH     boot at once from a Firecracker JSON configuration\n"
    "  --no-api               serve no API (requires --config-file)\n"
    "  --id ID                the instance id (1 to 64 letters, digits, '-')\n"
    "  --metadata PATH        initial MMDS data store (a JSON object)\n"
    "  --level LEVEL          log level: Error, Warning, Info, Debug, Trace, Off\n"
    "  --log-path PATH        write the log to this file or named pipe\n"
    "  --module PATH          log only lines from source files under PATH\n"
    "  --show-level           put the level in each log line\n"
    "  --show-log-origin      put the source file and line in each log line\n"
    "  --metrics-path PATH    write metrics lines to this file or named pipe\n"
    "  --http-api-max-payload-size N   largest request body (default 51200 bytes)\n"
    "  --mmds-size-limit N    largest MMDS data store (default: the body limit)\n"
    "  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
    "                         process start times from a launcher (for metrics)\n"
    "  --boot-timer           log the guest's boot-complete signal (write 123 to 0xd0000000)\n"
    "  --no-seccomp, --seccomp-filter PATH\n"
    "                         accepted with no effect: ember installs no seccomp\n"
    "                         filters until the jailer issue lands\n"
    "  --enable-pci           accepted with no effect: ember's devices are virtio-mmio\n"
    "  --accel auto|kvm|soft  (ember only) the accelerator: auto (default) takes KVM when\n"
    "                         it runs guest code at hardware speed, else the software CPU\n"
    "  --describe-snapshot PATH, --snapshot-version\n"
    "                         refused: snapshots are not supported yet\n"
    "  --version, --help\n"
    "\n"
    "Exit status: 0 when the guest powers off or reboots, 1 on a generic error or a\n"
    "guest crash, 152 for a bad configuration (config file), 153 for bad arguments.\n";

const char *fc_cli_usage(void)
{
	return usage;
}

enum kind { FLAG, VALUE, NUMBER };

struct option {
	const char *name;
	enum kind kind;
};

static const struct option options[] = {
    {"api-sock", VALUE},
    {"config-file", VALUE},
    {"no-api", FLAG},
    {"id", VALUE},
    {"metadata", VALUE},
    {"level", VALUE},
    {"log-path", VALUE},
    {"module", VALUE},
    {"show-level", FLAG},
    {"show-log-origin", FLAG},
    {"metrics-path", VALUE},
    {"boot-timer", FLAG},
    {"no-seccomp", FLAG},
    {"seccomp-filter", VALUE},
    {"start-time-us", NUMBER},
    {"start-time-cpu-us", NUMBER},
    {"parent-cpu-time-us", NUMBER},
    {"http-api-max-payload-size", NUMBER},
    {"mmds-size-limit", NUMBER},
    {"enable-pci", FLAG},
    {"accel", VALUE},
    {"describe-snapshot", VALUE},
    {"snapshot-version", FLAG},
    {"version", FLAG},
    {"help", FLAG},
};

static const struct option *find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
			return &options[i];
	return NULL;
}

bool fc_cli_wanted(int argc, char *const argv[])
{
	if (argc < 1 || !argv[0])
		return false;
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "firecracker"))
		return true;
	/* `ember --api-sock ...`: a Firecracker flag where a command would be
	 * (--help and --version stay the friendly CLI's). */
	if (argc < 2 || strncmp(argv[1], "--", 2) != 0)
		return false;
	const char *name = argv[1] + 2;
	size_t len = strcspn(name, "=");
	const struct option *o = find(name, len);
	return o && strcmp(o->name, "help") && strcmp(o->name, "version");
}

static int parse_number(const char *name, const char *s, uint64_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (!s || *s < '0' || *s > '9' || errno || *end)
		return err_set(err, errlen, -EINVAL,
		               "--%s: '%.40s' is not an unsigned 64-bit number", name, s ? s : "");
	*out = v;
	return 0;
}

static int set(struct fc_args *a, const struct option *o, const char *v, char *err, size_t errlen)
{
	const char *n = o->name;
	uint64_t num = 0;
	if (o->kind == NUMBER && parse_number(n, v, &num, err, errlen))
		return -EINVAL;
	if (!strcmp(n, "api-sock"))
		a->api_sock = v;
	else if (!strcmp(n, "config-file"))
		a->config_file = v;
	else if (!strcmp(n, "no-api"))
		a->no_api = true;
	else if (!strcmp(n, "id"))
		a->id = v;
	else if (!strcmp(n, "metadata"))
		a->metadata = v;
	else if (!strcmp(n, "level"))
		a->level = v;
	else if (!strcmp(n, "log-path"))
		a->log_path = v;
	else if (!strcmp(n, "module"))
		a->module = v;
	else if (!strcmp(n, "show-level"))
		a->show_level = true;
	else if (!strcmp(n, "show-log-origin"))
		a->show_log_origin = true;
	else if (!strcmp(n, "metrics-path"))
		a->metrics_path = v;
	else if (!strcmp(n, "boot-timer"))
		a->boot_timer = true;
	else if (!strcmp(n, "no-seccomp"))
		a->no_seccomp = true;
	else if (!strcmp(n, "seccomp-filter"))
		a->seccomp_filter = v;
	else if (!strcmp(n, "start-time-us"))
		a->has_start_time_us = true, a->start_time_us = num;
	else if (!strcmp(n, "start-time-cpu-us"))
		a->has_start_time_cpu_us = true, a->start_time_cpu_us = num;
	else if (!strcmp(n, "parent-cpu-time-us"))
		a->has_parent_cpu_time_us = true, a->parent_cpu_time_us = num;
	else if (!strcmp(n, "http-api-max-payload-size"))
		a->max_payload = num;
	else if (!strcmp(n, "mmds-size-limit"))
		a->has_mmds_size_limit = true, a->mmds_size_limit = num;
	else if (!strcmp(n, "enable-pci"))
		a->enable_pci = true;
	else if (!strcmp(n, "accel") && !strcmp(v, "auto"))
		a->accel = ACCEL_KIND_AUTO;
	else if (!strcmp(n, "accel") && !strcmp(v, "kvm"))
		a->accel = ACCEL_KIND_KVM;
	else if (!strcmp(n, "accel") && !strcmp(v, "soft"))
		a->accel = ACCEL_KIND_SOFT;
	else if (!strcmp(n, "accel"))
		return err_set(err, errlen, -EINVAL, "--accel: '%.40s' is not one of auto, kvm, soft",
		               v);
	else if (!strcmp(n, "describe-snapshot"))
		a->describe_snapshot = v, a->action = FC_DESCRIBE_SNAPSHOT;
	else if (!strcmp(n, "snapshot-version"))
		a->action = FC_SNAPSHOT_VERSION;
	else if (!strcmp(n, "version"))
		a->action = FC_VERSION;
	else if (!strcmp(n, "help"))
		a->action = FC_HELP;
	return 0;
}

/* The combinations Firecracker refuses, and values it checks at start. */
static int check(const struct fc_args *a, char *err, size_t errlen)
{
	if (a->no_api && !a->config_file)
		return err_set(err, errlen, -EINVAL, "--no-api requires --config-file");
	if (a->no_seccomp && a->seccomp_filter)
		return err_set(err, errlen, -EINVAL,
		               "--seccomp-filter and --no-seccomp cannot be used together");
	if (a->max_payload == 0 || a->max_payload > (UINT64_C(1) << 30))
		return err_set(err, errlen, -EINVAL,
		               "--http-api-max-payload-size: %llu is not 1 byte to 1 GiB",
		               (unsigned long long)a->max_payload);
	if (a->has_mmds_size_limit && a->mmds_size_limit > (UINT64_C(1) << 30))
		return err_set(err, errlen, -EINVAL, "--mmds-size-limit: at most 1 GiB");
	if (a->id) {
		size_t len = strlen(a->id);
		bool ok = len >= 1 && len <= 64;
		for (const char *p = a->id; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '-';
		if (!ok)
			return err_set(err, errlen, -EINVAL,
			               "--id: '%.70s' is not 1 to 64 letters, digits and '-'",
			               a->id);
	}
	return 0;
}

int fc_cli_parse(int argc, char *const argv[], struct fc_args *out, char *err, size_t errlen)
{
	*out = (struct fc_args){
	    .action = FC_RUN,
	    .api_sock = FC_DEFAULT_API_SOCK,
	    .max_payload = FC_DEFAULT_MAX_PAYLOAD,
	};
	bool seen[ARRAY_SIZE(options)] = {false};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0)
			return err_set(
			    err, errlen, -EINVAL,
			    "Found argument '%.60s' which wasn't expected, or isn't valid "
			    "in this context (see --help)",
			    arg);
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct option *o = find(name, len);
		if (!o)
			return err_set(
			    err, errlen, -EINVAL,
			    "Found argument '%.60s' which wasn't expected, or isn't valid "
			    "in this context (see --help)",
			    arg);
		size_t idx = (size_t)(o - options);
		if (seen[idx])
			return err_set(err, errlen, -EINVAL, "the argument --%s was given twice",
			               o->name);
		seen[idx] = true;
		const char *value = NULL;
		if (o->kind == FLAG) {
			if (eq)
				return err_set(err, errlen, -EINVAL, "--%s takes no value",
				               o->name);
		} else if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return err_set(err, errlen, -EINVAL, "--%s needs a value", o->name);
		}
		if (set(out, o, value, err, errlen))
			return -EINVAL;
	}
	return out->action == FC_RUN ? check(out, err, errlen) : 0;
}
