/* Parsing of ember's friendly CLI into a vm_config. */
#include "config/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static const char usage[] =
	"usage: ember run --kernel PATH [options]   boot a microVM, its console on this terminal\n"
	"       ember cpu-run [--trace] [--stats] ELF [ARGS...]\n"
	"                                           run a static x86-64 Linux program on the\n"
	"                                           software CPU (user mode, syscalls forwarded)\n"
	"       ember --help | --version\n"
	"\n"
	"options for run:\n"
	"  --kernel PATH     bzImage, or an ELF vmlinux with a PVH entry note (required)\n"
	"  --initrd PATH     initial ramdisk\n"
	"  --cmdline STR     kernel command line (console=ttyS0 is added when absent)\n"
	"  --cpus N          number of vCPUs (default 1)\n"
	"  --memory MIB      guest RAM in MiB (default 128, at least 16)\n"
	"  --accel NAME      auto (default), kvm or soft: auto takes KVM when a short probe\n"
	"                    shows it runs guest code at hardware speed, else the software\n"
	"                    CPU, and says which on stderr\n"
	"  --rng[=RATE]      a virtio-rng device; RATE limits it to RATE bytes/s\n"
	"  --disk PATH[,ro][,root][,id=NAME][,cache=none|writeback][,bw=RATE][,iops=RATE]\n"
	"             [,bw_burst=N][,iops_burst=N]\n"
	"                    a virtio-blk disk (repeatable, at most 8; /dev/vda, vdb... in\n"
	"                    order); root adds root=/dev/vdX to the command line; bw limits\n"
	"                    it to RATE bytes/s, iops to RATE requests/s (suffixes K, M, G:\n"
	"                    powers of 1024); a *_burst is a one-time extra allowance\n"
	"\n"
	"On a terminal, Ctrl-C goes to the guest; press Ctrl-A x to quit ember\n"
	"(Ctrl-A Ctrl-A sends a Ctrl-A). ember exits 0 when the guest powers off\n"
	"or reboots, 1 when the guest crashes, 2 on bad input.\n"
	"\n"
	"options for cpu-run (everything after ELF is the program's):\n"
	"  --trace           print each syscall, its arguments and result to stderr\n"
	"  --stats           print the instruction count and MIPS to stderr at exit\n"
	"The program gets ember's environment; cpu-run exits with its exit status,\n"
	"128+signal when it crashes, 2 on bad input.\n";

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

static const char *const run_options[] = {
	"--kernel", "--initrd", "--cmdline", "--cpus", "--memory", "--accel", "--rng", "--disk",
};

static bool run_option_known(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(run_options); i++)
		if (strlen(run_options[i]) == len && !strncmp(run_options[i], name, len))
			return true;
	return false;
}

/* The GET_ID string: printable ASCII without spaces or commas, 1 to 20 bytes. */
static bool disk_id_ok(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > VM_DISK_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == ',')
			return false;
	return true;
}

/* A count with an optional K, M or G suffix (powers of 1024), 1 to 2^50. */
static int parse_amount(const char *s, uint64_t *out)
{
	char num[24];
	size_t len = strlen(s);
	unsigned shift = 0;
	if (len && strchr("KMG", s[len - 1])) {
		shift = s[len - 1] == 'K' ? 10 : s[len - 1] == 'M' ? 20 : 30;
		len--;
	}
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	uint64_t v;
	if (parse_u64(num, &v) || v == 0 || v > (UINT64_C(1) << (50 - shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* bw=, iops=, bw_burst=, iops_burst=: Firecracker token buckets holding one
 * second's worth (size RATE, refill_time 1000 ms) plus the one-time burst. */
static int parse_limit_key(struct vm_disk_config *d, const char *key, char *err, size_t errlen)
{
	static const char *const names[] = {"bw=", "iops=", "bw_burst=", "iops_burst="};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i]);
		if (strncmp(key, names[i], n))
			continue;
		uint64_t v;
		if (parse_amount(key + n, &v))
			return err_set(err, errlen, -EINVAL,
				       "--disk: %.*s '%.24s' is not a number from 1 to 2^50 (K, M, "
				       "G suffixes allowed)",
				       (int)n - 1, key, key + n);
		struct token_bucket_config *b =
			i % 2 == 0 ? &d->rate_limiter.bandwidth : &d->rate_limiter.ops;
		if (i < 2) {
			b->size = v;
			b->refill_time_ms = 1000;
		} else {
			b->one_time_burst = v;
		}
		return 0;
	}
	return 1;
}

/* One key of --disk PATH[,ro][,root][,id=NAME][,cache=none|writeback][,bw=..][,iops=..]. */
static int parse_disk_key(struct vm_disk_config *d, const char *key, char *err, size_t errlen)
{
	int r = parse_limit_key(d, key, err, errlen);
	if (r <= 0)
		return r;
	if (!strcmp(key, "ro"))
		d->read_only = true;
	else if (!strcmp(key, "root"))
		d->root = true;
	else if (!strcmp(key, "cache=none"))
		d->cache = VM_DISK_CACHE_NONE;
	else if (!strcmp(key, "cache=writeback"))
		d->cache = VM_DISK_CACHE_WRITEBACK;
	else if (!strncmp(key, "id=", 3) && disk_id_ok(key + 3))
		snprintf(d->id, sizeof(d->id), "%s", key + 3);
	else if (!strncmp(key, "id=", 3))
		return err_set(err, errlen, -EINVAL,
			       "--disk: id '%.40s' is not 1 to %d printable characters", key + 3,
			       VM_DISK_ID_MAX);
	else
		return err_set(err, errlen, -EINVAL,
			       "--disk: unknown option '%.40s' (ro, root, id=NAME, "
			       "cache=none|writeback, bw=RATE, iops=RATE, bw_burst=N, "
			       "iops_burst=N)",
			       key);
	return 0;
}

static int parse_disk(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
	struct vm_disk_config d = {0};
	char *spec = strdup(value);
	if (!spec)
		return -ENOMEM;
	char *save, *tok = strtok_r(spec, ",", &save);
	int r = 0;
	if (!tok || value[0] == ',') {
		r = err_set(err, errlen, -EINVAL, "--disk: PATH is required");
		goto out;
	}
	d.path = strdup(tok);
	if (!d.path) {
		r = -ENOMEM;
		goto out;
	}
	while (!r && (tok = strtok_r(NULL, ",", &save)))
		r = parse_disk_key(&d, tok, err, errlen);
	if (!r && ((d.rate_limiter.bandwidth.one_time_burst && !d.rate_limiter.bandwidth.size) ||
		   (d.rate_limiter.ops.one_time_burst && !d.rate_limiter.ops.size)))
		r = err_set(err, errlen, -EINVAL,
			    "--disk: bw_burst needs bw, iops_burst needs iops");
	for (unsigned i = 0; !r && d.root && i < cfg->nr_devices; i++)
		if (cfg->devices[i].kind == VM_DEVICE_BLK && cfg->devices[i].blk.root)
			r = err_set(err, errlen, -EINVAL, "--disk: only one disk can be root");
	if (r) {
		free(d.path);
		goto out;
	}
	if (vm_config_add_disk(cfg, &d))
		r = err_set(err, errlen, -EINVAL, "--disk: at most %d disks (and %d devices)",
			    VM_CONFIG_MAX_DISKS, VM_CONFIG_MAX_DEVICES);
out:
	free(spec);
	return r;
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
	if (!strcmp(name, "--rng")) {
		if (parse_u64(value, &n) || n == 0 || n > VM_CONFIG_MAX_RNG_RATE) {
			snprintf(err, errlen, "--rng=RATE: '%s' is not a rate of 1 to %llu bytes/s",
				 value, (unsigned long long)VM_CONFIG_MAX_RNG_RATE);
			return -EINVAL;
		}
		if (vm_config_set_rng(cfg, n)) {
			snprintf(err, errlen, "too many devices");
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(name, "--disk"))
		return parse_disk(cfg, value, err, errlen);
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
		/* "--name value", "--name=value", or a bare flag. */
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		char name[32];
		if (len >= sizeof(name) || !run_option_known(arg, len)) {
			snprintf(err, errlen, "unknown option '%.*s' (see ember --help)",
				 (int)MIN(len, (size_t)40), arg);
			return -EINVAL;
		}
		memcpy(name, arg, len);
		name[len] = '\0';
		const char *value;
		if (eq) {
			value = eq + 1;
		} else if (!strcmp(name, "--rng")) {
			/* "--rng" alone: an entropy device without a rate limit. */
			if (vm_config_set_rng(cfg, 0)) {
				snprintf(err, errlen, "too many devices");
				return -EINVAL;
			}
			continue;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, errlen, "option '%s' needs a value", name);
			return -EINVAL;
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
	if (!strcmp(cmd, "cpu-run")) {
		out->command = CLI_CPU_RUN;
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
