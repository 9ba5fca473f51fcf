/*
 * The interface between the decoder and the instruction families: the
 * operation ids of ops.def, their static properties, and struct decode,
 * what a family's select function sees when it picks a handler.
 */
#ifndef EMBER_ACCEL_SOFT_OPS_H
#define EMBER_ACCEL_SOFT_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/soft/insn.h"

enum op_id {
#define OP(id, name, select, rd, wr, attr) OP_##id,
#include "accel/soft/ops.def"
#undef OP
	OP_COUNT
};

#define OPA_LOCK 1u /* LOCK allowed with a memory destination */
#define OPA_END  2u /* ends its block */

/* Opcode maps. */
enum { MAP_1B, MAP_0F, MAP_0F38, MAP_0F3A };

/*
 * A decoded instruction as select functions see it. The decoder has
 * already filled the standard fields of *insn for the form (insn.h); a
 * select function returns the handler, or NULL for #UD, and may rewrite
 * insn fields its handlers want in another shape.
 */
struct decode {
	struct insn *insn;
	uint16_t op;    /* OP_* */
	uint8_t form;   /* FORM_* */
	uint8_t osize;  /* operand size SZ8..SZ64 after prefixes and the format's rule */
	uint8_t asize;  /* address size SZ16, SZ32 or SZ64 */
	uint8_t mode;   /* enum cpu_mode */
	uint8_t map;    /* MAP_* */
	uint8_t opcode; /* the opcode byte (the last one) */
	uint8_t modrm;  /* raw ModRM byte when has_modrm */
	uint8_t rex;    /* the REX prefix (0x40-0x4f) or 0 */
	uint8_t rep;    /* 0xf2 / 0xf3 (the last one) unless it selected an SSE row */
	uint8_t mpfx;   /* the mandatory prefix that selected the row: 0, 0x66, 0xf3, 0xf2 */
	uint8_t fmt;    /* FMT_* (decode.h) */
	bool has_modrm;
	bool lock;  /* a LOCK prefix (already checked against OPA_LOCK and the form) */
	bool pfx66; /* an operand-size prefix was present */
};

typedef insn_fn (*op_select_fn)(const struct decode *d);

struct op_info {
	const char *name;
	op_select_fn select; /* NULL: not implemented, #UD */
	uint32_t flags_read, flags_written;
	uint32_t attr;
};

extern const struct op_info op_info[OP_COUNT];

/* The families' select functions, named in ops.def. */
insn_fn alu_select(const struct decode *d);
insn_fn move_select(const struct decode *d);
insn_fn stack_select(const struct decode *d);
insn_fn branch_select(const struct decode *d);
insn_fn atomic_select(const struct decode *d);
insn_fn system_select(const struct decode *d);
insn_fn string_select(const struct decode *d);     /* string.c */
insn_fn string_cmp_select(const struct decode *d); /* string_cmp.c */
insn_fn sse_mov_select(const struct decode *d);  /* sse_mov.c */
insn_fn sse_int_select(const struct decode *d);  /* sse_int.c */
insn_fn sse_shuf_select(const struct decode *d); /* sse_shuf.c */
insn_fn ssse3_select(const struct decode *d);    /* ssse3_sse41.c */
insn_fn sse41_select(const struct decode *d);    /* ssse3_sse41.c */
insn_fn sse41_mov_select(const struct decode *d); /* sse41_mov.c */
insn_fn shift_select(const struct decode *d);  /* shift.c */
insn_fn muldiv_select(const struct decode *d); /* muldiv.c */
insn_fn bitop_select(const struct decode *d);  /* bitop.c */
insn_fn intmisc_select(const struct decode *d); /* intmisc.c */
insn_fn bcd_select(const struct decode *d);    /* bcd.c */
insn_fn sse_fp_select(const struct decode *d);    /* sse_fp.c */
insn_fn sse41_fp_select(const struct decode *d);  /* sse41_fp.c */
insn_fn sse42_select(const struct decode *d);     /* sse42_str.c */
insn_fn x87_select(const struct decode *d); /* x87_ctl.c (x87_*.c: x87, FXSAVE, FXRSTOR) */
insn_fn sys_select(const struct decode *d);   /* sys_insn.c: CRs, DRs, tables, MSRs, CLI/STI */
insn_fn far_select(const struct decode *d);   /* far.c: far JMP/CALL/RET, IRET, SYSRET */
insn_fn io_select(const struct decode *d);    /* io.c: IN, OUT, INS, OUTS */
insn_fn segld_select(const struct decode *d); /* segld.c: MOV/POP Sreg, LxS, PUSHA/POPA */

/* Condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc). */
enum cpu_cc {
	CC_O,
	CC_NO,
	CC_B,
	CC_AE,
	CC_E,
	CC_NE,
	CC_BE,
	CC_A,
	CC_S,
	CC_NS,
	CC_P,
	CC_NP,
	CC_L,
	CC_GE,
	CC_LE,
	CC_G,
};

#endif
