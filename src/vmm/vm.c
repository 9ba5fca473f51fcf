/*
 * The VM's life after it is built: start the vCPU threads, serve the
 * console and stop requests on the VMM thread, then stop and join the
 * vCPUs and free everything.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/boot_timer.h"
#include "devices/legacy/pvpanic.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/mmio.h"
#include "vmm/console.h"
#include "vmm/vcpu.h"

static void control_stop(void *ctx, enum vm_stop_reason reason)
{
	vm_request_stop(ctx, reason);
}

int vm_create(struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		int r = -errno;
		free(vm);
		return r;
	}
	vm->loop = event_loop_create();
	if (!vm->loop) {
		close(vm->stop_fd);
		free(vm);
		return -ENOMEM;
	}
	bus_init(&vm->pio_bus, "pio");
	bus_init(&vm->mmio_bus, "mmio");
	vm->control = (struct vm_control){.request_stop = control_stop, .ctx = vm};
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, &attr);
	pthread_condattr_destroy(&attr);
	*out = vm;
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int none = VM_STOP_NONE;
	if (atomic_compare_exchange_strong(&vm->stop_reason, &none, (int)reason)) {
		uint64_t one = 1;
		if (write(vm->stop_fd, &one, sizeof(one)) < 0)
			log_warn("cannot signal the VMM thread to stop");
	}
}

void vm_irq_set(void *opaque, uint32_t gsi, int level)
{
	struct vm *vm = opaque;
	int r = vm->accel->irq_line(vm->avm, gsi, level);
	if (r)
		log_warn_ratelimited("raising GSI %u failed: %d", gsi, r);
}

static void on_stop(struct event_loop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("reading the stop eventfd failed");
	event_loop_stop(loop);
}

static int exit_status(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_STOP_POWEROFF:
	case VM_STOP_RESET:
	case VM_STOP_HOST:
		return 0;
	default:
		return 1;
	}
}

int vm_start(struct vm *vm)
{
	struct event_loop *loop = vm->loop;
	if (vm->started)
		return 0;
	int r = event_loop_add(loop, vm->stop_fd, EPOLLIN, on_stop, vm);
	if (r < 0) {
		log_error("cannot watch the stop eventfd");
		return r;
	}
	vm->console = console_create(vm->serial, loop, &vm->control, STDIN_FILENO);

	bus_seal(&vm->pio_bus);
	bus_seal(&vm->mmio_bus);
	vm->started = true;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r) {
			log_error("cannot start vcpu %u: %d", i, r);
			vm_request_stop(vm, VM_STOP_CRASH);
			break;
		}
	}
	return 0;
}

/* Wakes parked vCPUs for good (the VM stops) or for now (resume). */
static void unpark(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_vcpu_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stop_reason))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause(struct vm *vm)
{
	unsigned running = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		running += vm->vcpus[i].started;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += VM_PAUSE_TIMEOUT_MS / 1000;
	deadline.tv_nsec += (long)(VM_PAUSE_TIMEOUT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	atomic_store(&vm->pause_requested, true);
	/* The vCPU checks pause_requested before each run; a kick ends a run
	 * in progress or one about to start (immediate_exit). */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	int r = 0;
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < running && !r && !atomic_load(&vm->stop_reason))
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	if (!r && atomic_load(&vm->stop_reason))
		r = ESRCH;
	pthread_mutex_unlock(&vm->pause_lock);
	if (r) {
		unpark(vm);
		return -r;
	}
	return 0;
}

void vm_resume(struct vm *vm)
{
	unpark(vm);
}

int vm_run(struct vm *vm)
{
	struct event_loop *loop = vm->loop;
	if (!vm->started && vm_start(vm))
		return 1;

	while (!atomic_load(&vm->stop_reason)) {
		/* With input waiting for room in the UART, poll again soon. */
		int timeout = console_flush_input(vm->console) ? 10 : -1;
		event_loop_run_once(loop, timeout);
	}

	unpark(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);

	console_destroy(vm->console);
	vm->console = NULL;
	event_loop_del(loop, vm->stop_fd);
	enum vm_stop_reason reason = (enum vm_stop_reason)atomic_load(&vm->stop_reason);
	return exit_status(reason);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		vcpu_join(&vm->vcpus[i]);
		if (vm->vcpus[i].accel_vcpu)
			vm->accel->vcpu_destroy(vm->vcpus[i].accel_vcpu);
	}
	free(vm->vcpus);
	/* After the vCPUs: nothing can reach a device's registers any more. */
	for (unsigned i = vm->nr_virtio; i-- > 0;)
		virtio_mmio_destroy(vm->virtio[i]);
	pvpanic_destroy(vm->pvpanic);
	boot_timer_destroy(vm->boot_timer);
	acpi_pm_destroy(vm->acpi_pm);
	rtc_destroy(vm->rtc);
	i8042_destroy(vm->i8042);
	serial_destroy(vm->serial);
	bus_fini(&vm->mmio_bus);
	bus_fini(&vm->pio_bus);
	if (vm->avm)
		vm->accel->vm_destroy(vm->avm);
	guest_memory_fini(&vm->mem);
	event_loop_destroy(vm->loop);
	close(vm->stop_fd);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	free(vm);
}
