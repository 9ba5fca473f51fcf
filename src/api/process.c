/*
 * ember as a Firecracker process (see process.h). Threads: the main
 * thread is the VMM thread -- it owns the controller, serves the API
 * channel from a small pre-boot event loop, builds the VM on
 * InstanceStart, then runs the VM's event loop, on which the channel is
 * registered too. The API thread (libmicrohttpd) only moves requests.
 */
#include "api/process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/channel.h"
#include "api/controller.h"
#include "api/router.h"
#include "api/server.h"
#include "backends/block.h"
#include "config/config_file.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/metrics.h"
#include "devices/legacy/i8042.h"
#include "devices/virtio/blk/blk.h"
#include "devices/virtio/mmio.h"
#include "vmm/accel_choice.h"
#include "vmm/builder.h"
#include "vmm/vm.h"

struct process {
	struct api_controller ctrl;
	struct api_channel *channel; /* NULL with --no-api */
	struct api_server *server;
	int signal_fd;
	bool quit;
	bool boot_timer; /* --boot-timer */
	enum accel_kind accel; /* --accel */
};

static void on_channel(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct process *p = opaque;
	api_channel_serve(p->channel, api_controller_serve, &p->ctrl);
}

/* ---- the controller's VM operations ---- */

static int op_start(void *opaque, const struct api_resources *res, struct vm_config *cfg,
                    void **out, char *err, size_t errlen)
{
	struct process *p = opaque;
	struct vm *vm = NULL;
	int serial_fd = -1;
	if (p->boot_timer) {
		/* Timed from InstanceStart (or the config file's boot), as Firecracker. */
		cfg->boot_timer = true;
		cfg->boot_timer_start_us = metrics_clock_us(CLOCK_MONOTONIC);
		cfg->boot_timer_start_cpu_us = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	}
	int r = vm_config_check(cfg, vm_config_host_memory(), err, errlen);
	if (!r)
		r = vm_config_load(cfg, err, errlen);
	if (!r && res->serial_out_path) {
		serial_fd = open(res->serial_out_path,
		                 O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0600);
		if (serial_fd < 0)
			r = err_set(err, errlen, -errno, "serial_out_path %s: %s",
			            res->serial_out_path, strerror(errno));
	}
	const struct accel_ops *accel = NULL;
	cfg->accel = p->accel;
	if (!r && !(accel = accel_choose(cfg->accel, err, errlen)))
		r = -ENODEV;
	if (!r)
		r = builder_build(cfg, accel, &vm, err, errlen);
	if (!r)
		vm_config_drop_images(cfg);
	if (!r && p->channel &&
	    (r = event_loop_add(vm->loop, api_channel_fd(p->channel), EPOLLIN, on_channel, p)))
		err_set(err, errlen, r, "cannot serve the API from the VM's event loop: %s",
		        strerror(-r));
	if (!r && p->ctrl.metrics_initialized && (r = metrics_attach_loop(vm->loop)))
		err_set(err, errlen, r, "cannot start the metrics timer: %s", strerror(-r));
	if (!r && serial_fd >= 0 && dup2(serial_fd, STDOUT_FILENO) < 0)
		r = err_set(err, errlen, -errno, "serial_out_path: %s", strerror(errno));
	if (!r && (r = vm_start(vm)))
		err_set(err, errlen, r, "cannot start the VM: %s", strerror(-r));
	if (serial_fd >= 0)
		close(serial_fd);
	if (r) {
		if (vm)
			metrics_detach_loop(vm->loop);
		vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

static int op_pause(void *opaque, void *vm)
{
	return vm_pause(vm);
}

static int op_resume(void *opaque, void *vm)
{
	vm_resume(vm);
	return 0;
}

/* The index in cfg->devices (= in vm->virtio) of the disk_index-th disk. */
static int disk_device(const struct vm_config *cfg, unsigned disk_index)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		if (cfg->devices[i].kind == VM_DEVICE_BLK && disk_index-- == 0)
			return (int)i;
	return -1;
}

/* The same image again (a resized file): a new descriptor of the open one,
 * with its new size. */
static int reopen_same(struct block_file *old, struct block_file **out, char *err, size_t errlen)
{
	struct block_file *f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	*f = *old;
	f->fd = fcntl(old->fd, F_DUPFD_CLOEXEC, 0);
	struct stat st;
	int r = 0;
	if (f->fd < 0 || fstat(f->fd, &st) < 0)
		r = err_set(err, errlen, -errno, "%s", strerror(errno));
	else if (f->is_blockdev && ioctl(f->fd, BLKGETSIZE64, &f->size) < 0)
		r = err_set(err, errlen, -errno, "BLKGETSIZE64: %s", strerror(errno));
	else if (!f->is_blockdev)
		f->size = (uint64_t)st.st_size;
	if (!r && f->size % BLOCK_SECTOR_SIZE)
		r = err_set(err, errlen, -EINVAL, "the size, %llu bytes, is not a multiple of %u",
		            (unsigned long long)f->size, BLOCK_SECTOR_SIZE);
	if (r) {
		block_file_close(f);
		return r;
	}
	*out = f;
	return 0;
}

static int op_update_drive(void *opaque, void *vmh, unsigned disk_index, const char *path,
                           bool read_only, char *err, size_t errlen)
{
	struct process *p = opaque;
	struct vm *vm = vmh;
	struct vm_config *cfg = &p->ctrl.cfg;
	int pos = disk_device(cfg, disk_index);
	if (pos < 0 || (unsigned)pos >= vm->nr_virtio)
		return err_set(err, errlen, -ENODEV, "drives: the disk has no device");
	struct vm_disk_config *disk = &cfg->devices[pos].blk;
	struct block_file *f = NULL;
	struct stat st;
	char why[300];
	char *copy = strdup(path);
	int r = copy ? 0 : -ENOMEM;
	if (!r && disk->file && !stat(path, &st) && st.st_dev == disk->file->dev &&
	    st.st_ino == disk->file->ino)
		r = reopen_same(disk->file, &f, why, sizeof(why));
	else if (!r)
		r = block_file_open(path, read_only, false, &f, why, sizeof(why));
	int fd = r ? -1 : fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (!r && fd < 0)
		r = -errno;
	if (!r) {
		struct virtio_blk_params bp = {
		    .fd = fd,
		    .capacity_bytes = f->size,
		    .logical_block = f->logical_block,
		    .read_only = read_only,
		    .direct = f->direct,
		    .engine = BLOCK_ENGINE_AUTO,
		};
		r = virtio_blk_replace_backing(virtio_mmio_device(vm->virtio[pos]), &bp, vm->loop);
		if (r)
			snprintf(why, sizeof(why), "the device cannot switch: %s", strerror(-r));
	}
	if (r) {
		block_file_close(f);
		free(copy);
		return err_set(err, errlen, r, "drives: %s", r == -ENOMEM ? "out of memory" : why);
	}
	block_file_close(disk->file);
	disk->file = f;
	free(disk->path);
	disk->path = copy;
	log_info("api: drive %u now on %s (%llu bytes)", disk_index, path,
	         (unsigned long long)f->size);
	return 0;
}

static int op_update_drive_limiter(void *opaque, void *vmh, unsigned disk_index,
                                   const struct token_bucket_config *bandwidth,
                                   const struct token_bucket_config *ops, char *err, size_t errlen)
{
	struct process *p = opaque;
	struct vm *vm = vmh;
	int pos = disk_device(&p->ctrl.cfg, disk_index);
	if (pos < 0 || (unsigned)pos >= vm->nr_virtio)
		return err_set(err, errlen, -ENODEV, "drives: the disk has no device");
	int r = virtio_blk_update_rate_limiter(virtio_mmio_device(vm->virtio[pos]), bandwidth, ops);
	if (r)
		return err_set(err, errlen, r, "drives: the rate limiter refused the update: %s",
		               strerror(-r));
	return 0;
}

static int op_send_ctrl_alt_del(void *opaque, void *vmh, char *err, size_t errlen)
{
	(void)opaque;
	struct vm *vm = vmh;
	int r = vm->i8042 ? i8042_send_ctrl_alt_del(vm->i8042) : -ENODEV;
	if (r)
		return err_set(err, errlen, r,
		               "the guest's keyboard is %s: it cannot take Ctrl-Alt-Del now",
		               r == -ENODEV ? "missing" : "disabled or its buffer is full");
	return 0;
}

static const struct api_vm_ops process_ops = {
    .start = op_start,
    .pause = op_pause,
    .resume = op_resume,
    .update_drive = op_update_drive,
    .update_drive_limiter = op_update_drive_limiter,
    .send_ctrl_alt_del = op_send_ctrl_alt_del,
};

/* ---- start-up ---- */

/* One request through the router, as if it came over the socket. */
static int put(struct process *p, const char *path, const char *body, const char *what)
{
	struct api_request req = {
	    .method = API_PUT,
	    .method_name = "PUT",
	    .path = path,
	    .body = body,
	    .body_len = strlen(body),
	};
	struct api_response resp = {0};
	api_controller_serve(&p->ctrl, &req, &resp);
	int r = 0;
	if (resp.status >= 300) {
		char fault[512];
		fprintf(stderr, "ember: %s: %s\n", what,
		        api_response_fault(&resp, fault, sizeof(fault)));
		r = -EINVAL;
	}
	api_response_fini(&resp);
	return r;
}

static int apply_config_file(struct process *p, const char *path)
{
	struct config_file cf;
	char err[512];
	int r = config_file_load(path, &cf, err, sizeof(err));
	if (r)
		fprintf(stderr, "ember: config file %s\n", err);
	for (size_t i = 0; !r && i < cf.nr_reqs; i++) {
		char what[128];
		snprintf(what, sizeof(what), "config file %s: %s", path, cf.reqs[i].what);
		r = put(p, cf.reqs[i].path, cf.reqs[i].body, what);
	}
	config_file_fini(&cf);
	if (!r)
		r = put(p, "/actions", "{\"action_type\":\"InstanceStart\"}", "InstanceStart");
	return r;
}

static int apply_metadata(struct process *p, const char *path)
{
	char *text;
	size_t len;
	char err[512];
	int r = config_file_read(path, CONFIG_FILE_MAX_BYTES, &text, &len, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ember: --metadata %s\n", err);
		return r;
	}
	r = put(p, "/mmds", text, "--metadata");
	free(text);
	return r;
}

/* --level, --log-path, --show-level, --show-log-origin, --module. */
static int configure_logger(const struct fc_args *a, int *status)
{
	enum log_level level = LOG_INFO;
	if (a->level && log_level_parse(a->level, &level)) {
		fprintf(stderr,
		        "ember: --level: '%s' is not Error, Warning, Info, Debug, Trace or "
		        "Off\n",
		        a->level);
		*status = FC_EXIT_BAD_CONFIGURATION;
		return -EINVAL;
	}
	if (!a->level && !a->log_path && !a->show_level && !a->show_log_origin && !a->module)
		return 0;
	struct log_config cfg = {
	    .path = a->log_path,
	    .level = (int)level,
	    .show_level = a->show_level ? 1 : LOG_CONFIG_KEEP,
	    .show_origin = a->show_log_origin ? 1 : LOG_CONFIG_KEEP,
	    .module = a->module,
	};
	char err[512];
	int r = log_configure(&cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ember: %s\n", err);
		*status = FC_EXIT_GENERIC;
	}
	return r;
}

static void on_signal(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct process *p = opaque;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("signal %u: exiting before the microVM started", si.ssi_signo);
		p->quit = true;
	}
}

/* Serves the channel on this thread until InstanceStart or a stop signal. */
static int serve_preboot(struct process *p)
{
	struct event_loop *loop = event_loop_create();
	if (!loop)
		return -ENOMEM;
	int r = event_loop_add(loop, api_channel_fd(p->channel), EPOLLIN, on_channel, p);
	if (!r && p->signal_fd >= 0)
		r = event_loop_add(loop, p->signal_fd, EPOLLIN, on_signal, p);
	while (!r && !p->ctrl.vm && !p->quit)
		event_loop_run_once(loop, -1);
	event_loop_destroy(loop);
	return r;
}

static void teardown(struct process *p)
{
	if (p->channel)
		api_channel_close(p->channel);
	api_server_destroy(p->server);
	struct vm *vm = p->ctrl.vm;
	if (vm)
		metrics_detach_loop(vm->loop);
	if (p->ctrl.metrics_initialized && metrics_flush())
		log_warn("the last metrics line could not be written");
	vm_destroy(vm);
	api_controller_fini(&p->ctrl);
	api_channel_destroy(p->channel);
	if (p->signal_fd >= 0)
		close(p->signal_fd);
}

int api_process_main(const struct fc_args *a, const char *vmm_version)
{
	uint64_t start_us = metrics_clock_us(CLOCK_MONOTONIC);
	uint64_t start_cpu_us = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	struct process p = {.signal_fd = -1};
	int status = FC_EXIT_GENERIC;
	char err[512];

	if (a->id)
		log_set_instance_id(a->id);
	if (configure_logger(a, &status))
		return status;
	if (a->metrics_path && metrics_configure(a->metrics_path, false, NULL, err, sizeof(err))) {
		fprintf(stderr, "ember: --metrics-path: %s\n", err);
		return FC_EXIT_GENERIC;
	}
	if (a->seccomp_filter || a->enable_pci)
		log_info("--seccomp-filter and --enable-pci are accepted and have no effect in ember "
		         "yet");
	p.boot_timer = a->boot_timer;
	p.accel = a->accel;

	/* A closed client socket or stdout must be an error return, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any thread exists so that every thread inherits it:
	 * the stop signals arrive through signalfds only. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	p.signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);

	size_t mmds_limit = a->has_mmds_size_limit ? a->mmds_size_limit : a->max_payload;
	api_controller_init(&p.ctrl, &process_ops, &p, a->id, vmm_version, mmds_limit);
	p.ctrl.metrics_initialized = a->metrics_path != NULL;

	if (!a->no_api) {
		struct api_server_params sp = {.socket_path = a->api_sock,
		                               .max_payload = a->max_payload};
		int r = api_channel_create(&p.channel);
		if (r) {
			fprintf(stderr, "ember: cannot create the API channel: %s\n", strerror(-r));
			goto out;
		}
		sp.channel = p.channel;
		if (api_server_create(&sp, &p.server, err, sizeof(err))) {
			fprintf(stderr, "ember: %s\n", err);
			goto out;
		}
		metrics_report_startup(a->has_start_time_us ? a->start_time_us : start_us,
		                       a->has_start_time_cpu_us ? a->start_time_cpu_us
		                                                : start_cpu_us,
		                       a->has_parent_cpu_time_us ? a->parent_cpu_time_us : 0);
		log_info("api: serving the Firecracker API on %s", a->api_sock);
	}
	if (a->metadata && apply_metadata(&p, a->metadata)) {
		status = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	if (a->config_file && apply_config_file(&p, a->config_file)) {
		status = FC_EXIT_BAD_CONFIGURATION;
		goto out;
	}
	if (!p.ctrl.vm && p.channel && serve_preboot(&p)) {
		fprintf(stderr, "ember: cannot serve the API\n");
		goto out;
	}
	struct vm *vm = p.ctrl.vm;
	if (!vm) {
		status = FC_EXIT_OK; /* a stop signal before InstanceStart */
		goto out;
	}
	if (p.quit)
		vm_request_stop(vm, VM_STOP_HOST);
	/* The console takes the stop signals from here on. */
	if (p.signal_fd >= 0) {
		close(p.signal_fd);
		p.signal_fd = -1;
	}
	status = vm_run(vm);
out:
	teardown(&p);
	return status;
}
