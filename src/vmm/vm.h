/*
 * A running VM: its accelerator, guest RAM, the two I/O buses, the devices
 * and the vCPUs. vmm/builder.c fills it in, vm_run runs it to the end.
 */
#ifndef EMBER_VMM_VM_H
#define EMBER_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/vm_control.h"

struct vcpu;
struct serial;
struct i8042;
struct rtc;
struct acpi_pm;
struct pvpanic;
struct boot_timer;
struct console;
struct event_loop;
struct virtio_mmio;

#define VM_MAX_VIRTIO_DEVICES 16

struct vm {
	const struct accel_ops *accel;
	struct accel_vm *avm;
	struct guest_memory mem;
	struct bus pio_bus, mmio_bus;
	unsigned nr_vcpus;
	struct vcpu *vcpus;

	/* The first stop request wins; stop_fd wakes the VMM thread. */
	_Atomic int stop_reason;
	int stop_fd;
	struct vm_control control;

	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct acpi_pm *acpi_pm;
	struct pvpanic *pvpanic;
	struct boot_timer *boot_timer; /* NULL unless --boot-timer */
	struct console *console;

	/* The VMM thread's loop: exists from vm_create so devices can add
	 * their fds (virtqueue kicks, timers) while the builder runs. */
	struct event_loop *loop;
	struct virtio_mmio *virtio[VM_MAX_VIRTIO_DEVICES];
	unsigned nr_virtio;
	unsigned first_virtio_slot; /* 4 KiB windows from LAYOUT_VIRTIO_MMIO_GPA taken before */

	/* vm_start ran: the vCPU threads exist, the console is served. */
	bool started;
	/* Pause (the API's PATCH /vm): vCPUs seeing pause_requested park in
	 * vm_vcpu_park, counted in parked, until it is cleared or the VM stops. */
	_Atomic bool pause_requested;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	unsigned parked;
};

/* How long vm_pause waits for every vCPU to park. */
#define VM_PAUSE_TIMEOUT_MS 5000

/* Allocates an empty VM with its stop machinery and event loop; the
 * builder does the rest. */
int vm_create(struct vm **out) must_check;
/* Tears down everything the VM holds, in reverse order of creation. */
void vm_destroy(struct vm *vm);
/* Records a stop reason (first wins) and wakes the VMM thread. Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);
/* Seals the buses, serves the console and starts the vCPU threads; the
 * VM then runs while the caller's thread goes on (the API answers
 * InstanceStart). A vCPU that cannot start stops the VM (VM_STOP_CRASH).
 * 0 or -errno. VMM thread. */
int vm_start(struct vm *vm) must_check;
/* Starts the VM unless vm_start did, serves its event loop until the VM
 * stops, joins the vCPUs. Returns the process exit status for the stop
 * reason. VMM thread. */
int vm_run(struct vm *vm);
/* Kicks every vCPU out of guest mode and waits (up to VM_PAUSE_TIMEOUT_MS)
 * until each is parked; devices keep serving I/O already submitted. 0,
 * -ETIMEDOUT (the VM is resumed again) or -ESRCH (the VM is stopping).
 * VMM thread. */
int vm_pause(struct vm *vm) must_check;
/* Lets parked vCPUs run again. VMM thread. */
void vm_resume(struct vm *vm);
/* A vCPU thread that saw pause_requested: waits until resumed or stopped. */
void vm_vcpu_park(struct vm *vm);
/* An irq_set_fn that raises a GSI through the VM's accelerator. */
void vm_irq_set(void *vm, uint32_t gsi, int level);

#endif
