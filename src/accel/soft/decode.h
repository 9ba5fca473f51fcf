/*
 * The x86 instruction decoder (SDM vol. 2, chapter 2 "Instruction format"
 * and appendix A "Opcode map"): prefixes, REX, the one-byte, 0F, 0F38 and
 * 0F3A maps, ModRM/SIB/displacement/immediate, in 16-, 32- and 64-bit
 * modes. decode_tab.c holds the opcode maps as data; decode.c walks them.
 */
#ifndef EMBER_ACCEL_SOFT_DECODE_H
#define EMBER_ACCEL_SOFT_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/soft/ops.h"

/*
 * Operand formats, named as in the SDM's opcode map (E = ModRM r/m, G =
 * ModRM reg, I = immediate, J = relative, O = moffs, Z = register in the
 * opcode's low bits, V/W = XMM reg / XMM-or-memory, P/Q = MMX reg /
 * MMX-or-memory, U/N = XMM/MMX register only, M = memory only,
 * y = 32/64-bit by REX.W). decode_tab.c's fmt_info says how to decode each.
 */
enum fmt {
	FMT_NONE,
	FMT_B,
	FMT_EbGb,
	FMT_EvGv,
	FMT_GbEb,
	FMT_GvEv,
	FMT_ALIb,
	FMT_rAXIz,
	FMT_Eb,
	FMT_Ev,
	FMT_Ew,
	FMT_Ry,
	FMT_EbIb,
	FMT_EvIz,
	FMT_EvIb,
	FMT_Zv,
	FMT_ZbIb,
	FMT_ZvIv,
	FMT_ZvA,
	FMT_Jb,
	FMT_Jz,
	FMT_Iz,
	FMT_Ib,
	FMT_IbU,
	FMT_IbUB,
	FMT_Iw,
	FMT_IwIb,
	FMT_Ap,
	FMT_GvM,
	FMT_MGv,
	FMT_GvEb,
	FMT_GvEw,
	FMT_GvEd,
	FMT_GyEb,
	FMT_GyEy,
	FMT_MGy,
	FMT_EvSw,
	FMT_SwEw,
	FMT_ALOb,
	FMT_rAXOv,
	FMT_ObAL,
	FMT_OvrAX,
	FMT_EvGvIb,
	FMT_GvEvIz,
	FMT_GvEvIb,
	FMT_M,
	FMT_RC,
	FMT_CR,
	FMT_X87,
	FMT_VW,
	FMT_WV,
	FMT_VWIb,
	FMT_VM,
	FMT_MV,
	FMT_VU,
	FMT_VE,
	FMT_EV,
	FMT_GW,
	FMT_GU,
	FMT_VEIb,
	FMT_EVIb,
	FMT_GUIb,
	FMT_UIb,
	FMT_VN,
	FMT_PQ,
	FMT_QP,
	FMT_PQIb,
	FMT_PE,
	FMT_EP,
	FMT_GN,
	FMT_NIb,
	FMT_GNIb,
	FMT_PEIb,
	FMT_PU,
	FMT_PW,
	FMT_VQ,
	FMT_MP,
	FMT_PN,
	FMT_COUNT
};

/* Operand layouts: where the operands go in struct insn (insn.h forms). */
enum fmt_layout {
	L_NONE, /* FORM_NONE */
	L_EG,   /* E destination, G source: FORM_RR (reg = rm) / FORM_MR */
	L_GE,   /* G destination, E source: FORM_RR (reg = G, base = rm) / FORM_RM */
	L_E,    /* E only: FORM_R / FORM_M, or FORM_RI / FORM_MI with an immediate */
	L_Z,    /* register in the opcode: FORM_R or FORM_RI */
	L_ZA,   /* register in the opcode and the accumulator: FORM_RR (base = 0) */
	L_A,    /* accumulator and an immediate: FORM_RI (reg = 0) */
	L_AO,   /* accumulator <- moffs: FORM_RM */
	L_OA,   /* moffs <- accumulator: FORM_MR */
	L_I,    /* immediate or branch target only: FORM_I */
};

/* Operand-size rules. */
enum fmt_size { SR_V, SR_B, SR_W, SR_D, SR_Y };

/* Immediate kinds. */
enum fmt_imm {
	I_NONE,
	I_B,  /* imm8, sign-extended */
	I_BU, /* imm8, zero-extended */
	I_W,  /* imm16, zero-extended */
	I_Z,  /* imm16 or imm32 (operand size), sign-extended */
	I_V,  /* imm16/32/64 by operand size */
	I_WB, /* ENTER: imm16 in bits 0-15, imm8 in bits 16-23 */
	I_J8, /* rel8: imm becomes the absolute target */
	I_JZ, /* rel16/rel32 */
	I_O,  /* moffs: address-size offset into disp */
	I_AP, /* ptr16:16/32: offset in imm, selector in disp */
};

struct fmt_info {
	uint8_t layout; /* enum fmt_layout */
	uint8_t size;   /* enum fmt_size */
	uint8_t imm;    /* enum fmt_imm */
	uint8_t modrm : 1;
	uint8_t memonly : 1; /* r/m must be memory, else #UD */
	uint8_t regonly : 1; /* r/m must be a register, else #UD */
	uint8_t modreg : 1;  /* MOV CR/DR: mod is ignored, r/m is always a register */
	uint8_t regb : 1;    /* the G (or Z, or accumulator) operand is a byte register */
	uint8_t rmb : 1;     /* the r/m register is a byte register */
	uint8_t mmxreg : 1;  /* ModRM.reg names an MMX register (REX.R ignored) */
	uint8_t mmxrm : 1;   /* ModRM.rm names an MMX register (REX.B ignored) */
};

extern const struct fmt_info fmt_info[FMT_COUNT];

/* Opcode-table nodes: a final entry or a sub-table selected by a field. */
enum opdesc_kind {
	K_OP,     /* final: op + fmt */
	K_PREFIX, /* a prefix byte (the decoder's prefix loop handles it) */
	K_ESC,    /* 0F escape */
	K_GRP,    /* sub[ModRM.reg] */
	K_MOD,    /* sub[0] memory form, sub[1] register form */
	K_RM,     /* sub[ModRM.rm] */
	K_PFX,    /* sub[none, 66, F3, F2]: mandatory prefix */
	K_F3,     /* sub[0] without, sub[1] with an F3 prefix (66 stays operand size) */
	K_MODE,   /* sub[0] legacy modes, sub[1] 64-bit mode */
};

/* Entry flags. */
#define OF_I64 0x01 /* invalid in 64-bit mode */
#define OF_D64 0x02 /* operand size defaults to 64 in 64-bit mode (66: 16) */
#define OF_F64 0x04 /* operand size is 64 in 64-bit mode */

struct opdesc {
	uint16_t op;
	uint8_t fmt;
	uint8_t flags;
	uint8_t kind;
	const struct opdesc *sub;
};

extern const struct opdesc decode_map1[256];
extern const struct opdesc decode_map0f[256];
extern const struct opdesc decode_map0f38[256];
extern const struct opdesc decode_map0f3a[256];

/* Where decode_insn reads bytes: one page, and the next once needed. */
struct fetch {
	uint64_t page;          /* guest-virtual address of the first page */
	const uint8_t *host[2]; /* host addresses of the first and the next page */
	bool allow_cross;       /* may the instruction run into the next page? */
};

enum decode_result {
	DECODE_OK,
	DECODE_CROSS, /* the instruction would cross into the next page: stop before it */
};

/*
 * Decodes the instruction at rip (in f's first page) into *out, handler
 * included (the family's select function; insn_ud / insn_gp0 for invalid
 * or too-long encodings). Translating the next page may raise #PF; nothing
 * else raises. Runs on the CPU's thread.
 */
enum decode_result decode_insn(struct cpu *cpu, struct fetch *f, uint64_t rip, struct insn *out);
/* The same for a given mode, also returning what the select function saw (the
 * disassembler's view). cpu may be NULL when f has both pages. */
enum decode_result decode_insn_full(struct cpu *cpu, enum cpu_mode mode, struct fetch *f,
                                    uint64_t rip, struct insn *out, struct decode *d);

#endif
