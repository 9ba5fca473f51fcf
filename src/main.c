/*
 * ember: argv -> vm_config -> builder -> run. Nothing else lives here.
 * Invoked as `firecracker` (or with a Firecracker flag first) the process
 * speaks Firecracker's command line and API instead (api/process.c).
 */
#include <signal.h>
#include <stdio.h>

#include "api/controller.h"
#include "api/process.h"
#include "config/cli.h"
#include "config/fc_cli.h"
#include "core/log.h"
#include "cpurun/cpurun.h"
#include "vmm/accel_choice.h"
#include "vmm/builder.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "unknown"
#endif

/* Exit statuses: 0 guest powered off or rebooted, 1 guest crash or host
 * failure after start, 2 bad input (nothing was created). */
#define EXIT_BAD_INPUT 2

/* Firecracker's command line: its own exit codes (fc_cli.h). */
static int firecracker_main(int argc, char **argv)
{
	struct fc_args args;
	char err[512] = "";
	if (fc_cli_parse(argc, argv, &args, err, sizeof(err))) {
		fprintf(stderr, "ember: %s\n", err);
		return FC_EXIT_ARG_PARSING;
	}
	switch (args.action) {
	case FC_HELP:
		fputs(fc_cli_usage(), stdout);
		return FC_EXIT_OK;
	case FC_VERSION:
		printf("ember %s (Firecracker API %s)\n", EMBER_VERSION, API_FIRECRACKER_VERSION);
		return FC_EXIT_OK;
	case FC_SNAPSHOT_VERSION:
	case FC_DESCRIBE_SNAPSHOT:
		fprintf(stderr, "ember: snapshots are not supported yet\n");
		return FC_EXIT_GENERIC;
	case FC_RUN:
		break;
	}
	return api_process_main(&args, EMBER_VERSION);
}

int main(int argc, char **argv)
{
	struct cli cli;
	char err[512] = "";
	if (fc_cli_wanted(argc, argv))
		return firecracker_main(argc, argv);
	if (cli_parse(argc, argv, &cli, err, sizeof(err))) {
		fprintf(stderr, "ember: %s\n", err);
		vm_config_fini(&cli.config);
		return EXIT_BAD_INPUT;
	}
	if (cli.command == CLI_HELP) {
		fputs(cli_usage(), stdout);
		vm_config_fini(&cli.config);
		return 0;
	}
	if (cli.command == CLI_VERSION) {
		printf("ember %s\n", EMBER_VERSION);
		vm_config_fini(&cli.config);
		return 0;
	}
	if (cli.command == CLI_CPU_RUN) {
		vm_config_fini(&cli.config);
		return cpurun_main(argc - 2, argv + 2);
	}

	struct vm_config *cfg = &cli.config;
	if (vm_config_check(cfg, vm_config_host_memory(), err, sizeof(err)) ||
	    vm_config_load(cfg, err, sizeof(err))) {
		fprintf(stderr, "ember: %s\n", err);
		vm_config_fini(cfg);
		return EXIT_BAD_INPUT;
	}
	const struct accel_ops *accel = accel_choose(cfg->accel, err, sizeof(err));
	if (!accel) {
		fprintf(stderr, "ember: %s\n", err);
		vm_config_fini(cfg);
		return EXIT_BAD_INPUT;
	}

	/* A closed stdout must be a counted write error in the UART, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	struct vm *vm;
	if (builder_build(cfg, accel, &vm, err, sizeof(err))) {
		fprintf(stderr, "ember: %s\n", err);
		vm_config_fini(cfg);
		return 1;
	}
	vm_config_drop_images(cfg);
	int status = vm_run(vm);
	vm_destroy(vm);
	vm_config_fini(cfg);
	return status;
}
