/*
 * How a device asks the VM to stop: the i8042 reset line, the ACPI sleep
 * and reset registers, a pvpanic write. The request is recorded (the first
 * reason wins) and the VMM thread ends the VM; the calling vCPU thread
 * returns normally. Safe from any thread.
 */
#ifndef EMBER_VMM_VM_CONTROL_H
#define EMBER_VMM_VM_CONTROL_H

enum vm_stop_reason {
	VM_STOP_NONE = 0,
	VM_STOP_POWEROFF, /* exit status 0 */
	VM_STOP_RESET,	  /* exit status 0: a microVM stops where a PC would reboot */
	VM_STOP_CRASH,	  /* triple fault, entry failure, guest panic: status 1 */
	VM_STOP_HOST,	  /* the user quit (escape sequence, signal): status 0 */
};

struct vm_control {
	void (*request_stop)(void *ctx, enum vm_stop_reason reason);
	void *ctx;
};

static inline void vm_control_stop(const struct vm_control *ctl, enum vm_stop_reason reason)
{
	if (ctl && ctl->request_stop)
		ctl->request_stop(ctl->ctx, reason);
}

#endif
