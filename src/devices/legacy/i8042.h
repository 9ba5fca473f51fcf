/*
 * An i8042 keyboard controller with a minimal AT keyboard: enough for
 * Linux's probe (self-test, status, command byte, port tests, the keyboard's
 * reset and identify), for Ctrl-Alt-Del typed by the VMM, and for the reset
 * line: command 0xfe pulses CPU reset, which ends the VM with VM_STOP_RESET.
 * Bus handler for the ports 0x60..0x64 (offsets 0 = data, 4 = command/status).
 */
#ifndef EMBER_DEVICES_LEGACY_I8042_H
#define EMBER_DEVICES_LEGACY_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/irq.h"
#include "vmm/vm_control.h"

#define I8042_PORT_COUNT 5

struct i8042;

struct i8042 *i8042_create(const struct vm_control *ctl, const struct irq_line *kbd_irq);
void i8042_destroy(struct i8042 *dev);
void i8042_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);
/* Types Ctrl-Alt-Del; any thread; -EBUSY when the keyboard cannot take it. */
int i8042_send_ctrl_alt_del(struct i8042 *dev);

#endif
