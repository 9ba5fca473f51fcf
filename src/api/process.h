/*
 * ember as a Firecracker process: what main() runs when fc_cli_wanted()
 * says argv is Firecracker's command line. It sets up logging and metrics
 * from the flags, starts the API server (unless --no-api), applies a
 * config file (and boots at once) or serves pre-boot requests on the main
 * thread until InstanceStart, then runs the VM -- whose event loop keeps
 * serving the API -- until the guest stops.
 */
#ifndef EMBER_API_PROCESS_H
#define EMBER_API_PROCESS_H

#include "config/fc_cli.h"

/* Runs the process; returns its exit status (Firecracker's codes: 0, 1,
 * 152 bad configuration, 153 bad arguments). Main thread. */
int api_process_main(const struct fc_args *args, const char *vmm_version);

#endif
