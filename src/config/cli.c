/* Parsing of ember's friendly CLI into a vm_config. */
#include "config/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: ember run --kernel PATH [options]   boot a microVM, its console on this terminal\n"
	"       ember --help | --version\n"
	"\n"
	"options for run:\n"
	"  --kernel PATH     bzImage, or an ELF vmlinux with a PVH entry note (required)\n"
	"  --initrd PATH     initial ramdisk\n"
	"  --cmdline STR     kernel command line (console=ttyS0 is added when absent)\n"
	"  --cpus N          number of vCPUs (default 1)\n"
	"  --memory MIB      guest RAM in MiB (default 128, at least 16)\n"
	"  --accel NAME      auto (default), kvm or soft\n"
	"\n"
	"On a terminal, Ctrl-C goes to the guest; press Ctrl-A x to quit ember\n"
	"(Ctrl-A Ctrl-A sends a Ctrl-A). ember exits 0 when the guest powers off\n"
	"or reboots, 1 when the guest crashes, 2 on bad input.\n";

const char *cli_usage(void)
{
	return usage;
}

/* A decimal number with no sign, no junk and no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_string(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int parse_run_option(struct vm_config *cfg, const char *name, const char *value, char *err,
			    size_t errlen)
{
	uint64_t n;
	if (!strcmp(name, "--kernel"))
		return set_string(&cfg->kernel_path, value);
	if (!strcmp(name, "--initrd"))
		return set_string(&cfg->initrd_path, value);
	if (!strcmp(name, "--cmdline"))
		return set_string(&cfg->cmdline, value);
	if (!strcmp(name, "--cpus")) {
		if (parse_u64(value, &n) || n > 1024) {
			snprintf(err, errlen, "--cpus: '%s' is not a vCPU count", value);
			return -EINVAL;
		}
		cfg->nr_vcpus = (unsigned)n;
		return 0;
	}
	if (!strcmp(name, "--memory")) {
		/* Bounded so that MiB -> bytes cannot overflow. */
		if (parse_u64(value, &n) || n > (UINT64_C(1) << 40)) {
			snprintf(err, errlen, "--memory: '%s' is not a size in MiB", value);
			return -EINVAL;
		}
		cfg->mem_mib = n;
		return 0;
	}
	if (!strcmp(name, "--accel")) {
		if (!strcmp(value, "auto"))
			cfg->accel = ACCEL_KIND_AUTO;
		else if (!strcmp(value, "kvm"))
			cfg->accel = ACCEL_KIND_KVM;
		else if (!strcmp(value, "soft"))
			cfg->accel = ACCEL_KIND_SOFT;
		else {
			snprintf(err, errlen, "--accel: '%s' is not one of auto, kvm, soft", value);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown option '%s' (see ember --help)", name);
	return -EINVAL;
}

static int parse_run(int argc, char *const argv[], struct vm_config *cfg, char *err, size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			snprintf(err, errlen, "help");
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s' (see ember --help)", arg);
			return -EINVAL;
		}
		/* Both "--name value" and "--name=value". */
		char name[32];
		const char *value;
		const char *eq = strchr(arg, '=');
		if (eq) {
			size_t len = (size_t)(eq - arg);
			if (len >= sizeof(name)) {
				snprintf(err, errlen, "unknown option '%.40s' (see ember --help)",
					 arg);
				return -EINVAL;
			}
			memcpy(name, arg, len);
			name[len] = '\0';
			value = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
			if (strlen(arg) >= sizeof(name) || i + 1 >= argc) {
				if (strlen(arg) < sizeof(name) &&
				    parse_run_option(cfg, name, "", err, errlen) == -EINVAL &&
				    strstr(err, "unknown option"))
					return -EINVAL;
				snprintf(err, errlen, "option '%.40s' needs a value", arg);
				return -EINVAL;
			}
			value = argv[++i];
		}
		int r = parse_run_option(cfg, name, value, err, errlen);
		if (r)
			return r == -ENOMEM ? (snprintf(err, errlen, "out of memory"), r) : r;
	}
	if (!cfg->kernel_path) {
		snprintf(err, errlen, "--kernel is required (see ember --help)");
		return -EINVAL;
	}
	char *cmdline = vm_config_default_cmdline(cfg->cmdline);
	if (!cmdline) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(cfg->cmdline);
	cfg->cmdline = cmdline;
	return 0;
}

int cli_parse(int argc, char *const argv[], struct cli *out, char *err, size_t errlen)
{
	vm_config_init(&out->config);
	out->command = CLI_HELP;
	if (argc < 2) {
		snprintf(err, errlen, "no command given (see ember --help)");
		return -EINVAL;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
		return 0;
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		out->command = CLI_VERSION;
		return 0;
	}
	if (strcmp(cmd, "run") != 0) {
		snprintf(err, errlen, "unknown command '%s' (see ember --help)", cmd);
		return -EINVAL;
	}
	out->command = CLI_RUN;
	int r = parse_run(argc - 2, argv + 2, &out->config, err, errlen);
	if (r == 1) {
		out->command = CLI_HELP;
		return 0;
	}
	return r;
}
