/*
 * A disassembler for traces and test messages: the decoder's view of one
 * instruction as text (operation names from ops.def, operands from the
 * decoded form). Intel-like syntax, good enough to read a trace; not a
 * full disassembler (mixed GPR/XMM operands print with one register kind).
 */
#ifndef EMBER_ACCEL_SOFT_TRACE_H
#define EMBER_ACCEL_SOFT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "accel/soft/cpu.h"

/*
 * Formats the instruction whose bytes are bytes[0..n) and whose address is
 * rip into buf (always NUL-terminated). Returns its length, or 0 when n
 * bytes do not hold the whole instruction. Pure: any thread.
 */
unsigned softcpu_disasm(enum cpu_mode mode, uint64_t rip, const uint8_t *bytes, size_t n, char *buf,
                        size_t size);

#endif
