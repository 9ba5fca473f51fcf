/*
 * Decode-time passes over a block (docs/softcpu.md, "Block passes"): a
 * CMP/TEST followed by the block's closing Jcc becomes one fused handler,
 * and instructions whose flags are overwritten before anything can see
 * them get handlers that do not record lazy flags.
 */
#ifndef EMBER_ACCEL_SOFT_BLOCKOPT_H
#define EMBER_ACCEL_SOFT_BLOCKOPT_H

#include "accel/soft/ops.h"

/*
 * Rewrites handlers of the n decoded instructions insn[0..n) (d[k] is how
 * insn[k] was decoded). Only for blocks that run whole: never for the
 * one-instruction blocks of exact budgets and single steps.
 */
void block_optimise(struct insn *insn, const struct decode *d, unsigned n);

/* The ordinary Jcc handler of condition cc (branch.c). */
insn_fn branch_jcc_handler(unsigned cc);

#endif
