/*
 * The operation table of ops.def: names for the tracer and test messages,
 * the families' select functions, flag liveness and attributes.
 */
#include "accel/soft/ops.h"

const struct op_info op_info[OP_COUNT] = {
#define OP(id, mnemonic, sel, rd, wr, at)                                                          \
	[OP_##id] = {                                                                              \
	    .name = mnemonic, .select = sel, .flags_read = rd, .flags_written = wr, .attr = at},
#include "accel/soft/ops.def"
#undef OP
};
