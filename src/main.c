/* ember: argv -> vm_config -> builder -> run. Nothing else lives here. */
#include <signal.h>
#include <stdio.h>

#include "accel/kvm/kvm.h"
#include "config/cli.h"
#include "core/log.h"
#include "cpurun/cpurun.h"
#include "vmm/builder.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "unknown"
#endif

/* Exit statuses: 0 guest powered off or rebooted, 1 guest crash or host
 * failure after start, 2 bad input (nothing was created). */
#define EXIT_BAD_INPUT 2

int main(int argc, char **argv)
{
	struct cli cli;
	char err[512] = "";
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
	if (cfg->accel == ACCEL_KIND_SOFT) {
		fprintf(stderr, "ember: --accel soft: the software CPU is not built yet\n");
		vm_config_fini(cfg);
		return EXIT_BAD_INPUT;
	}

	/* A closed stdout must be a counted write error in the UART, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	struct vm *vm;
	if (builder_build(cfg, &accel_kvm_ops, &vm, err, sizeof(err))) {
		fprintf(stderr, "ember: %s\n", err);
		vm_config_fini(cfg);
		return 1;
	}
	int status = vm_run(vm);
	vm_destroy(vm);
	vm_config_fini(cfg);
	return status;
}
