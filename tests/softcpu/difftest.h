/*
 * Differential tests of the software CPU against the host CPU (README.md).
 *
 * One case = one instruction form (forms.def) with generated operands: the
 * instruction runs natively (native.c, native_trampoline.S) and in the
 * interpreter (emulated.c) from the same state; the results are compared
 * field by field, with only the flags the manuals call undefined masked
 * (undef.def, the one table of them).
 */
#ifndef EMBER_TESTS_SOFTCPU_DIFFTEST_H
#define EMBER_TESTS_SOFTCPU_DIFFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The sandbox: fixed addresses, identical for the native and the emulated
 * run (the interpreter's user_mem maps the same host pages at the same
 * addresses). Everything fits below 4 GiB so 0x67 (32-bit addressing)
 * reaches it too.
 */
#define DT_PAGE       0x1000ULL
#define DT_CODE_BASE  0x10000000ULL /* one RWX page: instruction + landing stubs */
#define DT_INSN_OFF   0x800ULL      /* where the instruction under test starts */
#define DT_CODE_GUARD 0x10001000ULL /* PROT_NONE: instructions running off the code page */
#define DT_GUARD_LO   0x1000f000ULL /* PROT_NONE: unmapped for the interpreter */
#define DT_DATA_BASE  0x10010000ULL /* two RW pages: operands and the stack */
#define DT_DATA_SIZE  0x2000ULL
#define DT_RO_BASE    0x10012000ULL /* one read-only page */
#define DT_GUARD_HI   0x10013000ULL /* PROT_NONE */

/* Layout of struct dt_state, shared with native_trampoline.S. */
#define DT_OFF_FX     0
#define DT_OFF_GPR    512
#define DT_OFF_RIP    640
#define DT_OFF_RFLAGS 648

/* FXSAVE64 image offsets. */
#define FX_FCW        0
#define FX_FSW        2
#define FX_FTW        4 /* abridged: one bit per physical register, 1 = valid */
#define FX_FOP        6
#define FX_MXCSR      24
#define FX_MXCSR_MASK 28
#define FX_ST         32  /* ST(i) at 32 + 16 * i (stack order, 10 bytes used) */
#define FX_XMM        160 /* XMMi at 160 + 16 * i */

/* Architectural state before or after one instruction. */
struct dt_state {
	uint8_t fx[512]; /* FXSAVE64 image: x87, MXCSR, XMM0-15 */
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	int32_t vector; /* exception raised, -1 for none */
	uint32_t error; /* its error code (0 when it has none) */
	uint64_t cr2;   /* #PF only */
} __attribute__((aligned(64)));

/* ---- forms.def ---- */

/* ModRM kinds: bits 0-2 /digit, bit 3 has /digit, bits 4-5 rm may be reg (1) / mem (2). */
#define DT_MK_MODRM 0x40
#define DT_MK_OPREG 0x80
#define DT_RM_REG   0x10
#define DT_RM_MEM   0x20
#define DT_HAS_EXT  0x08

/* Immediate kinds. */
enum dt_imm { DT_I0, DT_I8, DT_I16, DT_I32, DT_I64, DT_R8, DT_R32, DT_I16I8 };

/* Generator classes: how operands are set up beyond "random". */
enum dt_class {
	C_GEN,     /* random registers and memory */
	C_SHCL,    /* shift/rotate by CL */
	C_SHI,     /* shift/rotate by imm8 */
	C_SH1,     /* shift/rotate by 1 */
	C_DIV,     /* DIV/IDIV: zero divisor, overflow, INT_MIN/-1, valid quotients */
	C_REL,     /* relative branch: stubs at the fall-through and the target */
	C_RET,     /* RET: [rsp] holds a stub address */
	C_JIND,    /* JMP/CALL r/m: the operand holds a stub address */
	C_STR,     /* string instruction: RSI/RDI in the sandbox, small RCX, DF random */
	C_CX,      /* CMPXCHG: accumulator equal to the destination half the time */
	C_CX8,     /* CMPXCHG8B/16B */
	C_BTM,     /* BT* r/m, r: bit offset register kept near the operand */
	C_MOFFS,   /* MOV moffs: the 64-bit immediate is the address */
	C_POPF,    /* POPF: [rsp] sanitised (no TF/AC) */
	C_XLAT,    /* XLAT: RBX + AL in the sandbox */
	C_SSEF,    /* SSE, single-precision lanes */
	C_SSED,    /* SSE, double-precision lanes */
	C_SSEI,    /* SSE, integer lanes */
	C_PCMPSTR, /* PCMPESTRx: small explicit lengths in EAX/EDX */
	C_X87,     /* x87: random stack, specials in memory operands */
	C_LEAVE,   /* LEAVE: RBP in the sandbox */
	C_ENTER,   /* ENTER: small nesting levels, RBP in the sandbox */
	C_LDMXCSR, /* LDMXCSR: a valid MXCSR in memory most of the time */
};

/* Form flags. */
#define DT_F_W      0x01  /* REX.W */
#define DT_F_LOCK   0x02  /* LOCK allowed with a memory operand */
#define DT_F_NOSP   0x04  /* rm register may not be RSP */
#define DT_F_STK    0x08  /* uses the stack: RSP must stay in the sandbox */
#define DT_F_A16    0x10  /* memory operand mostly 16-byte aligned */
#define DT_F_NOREX  0x20  /* never add a REX prefix (ModRM reg is AH-BH meaningful) */
#define DT_F_RMX87  0x40  /* rm register is ST(i): 0-7 */
#define DT_F_APPROX 0x80  /* result is implementation-specific (x87 transcendentals) */
#define DT_F_NOVVVV 0x100 /* VEX.vvvv unused: must be 1111b (else #UD) */

/* VEX: map (1 0F, 2 0F38, 3 0F3A), pp (0 none, 1 66, 2 F3, 3 F2), W. */
#define DT_VEX(map, pp, w) (0x8000 | (map) | ((pp) << 4) | ((w) << 6))

/* CPUID features a form needs. */
enum dt_feat {
	FT_BASE,
	FT_X87,
	FT_CMOV,
	FT_CX8,
	FT_CX16,
	FT_LAHF,
	FT_POPCNT,
	FT_LZCNT,
	FT_MOVBE,
	FT_BMI1,
	FT_BMI2,
	FT_ADX,
	FT_SSE,
	FT_SSE2,
	FT_SSE3,
	FT_SSSE3,
	FT_SSE41,
	FT_SSE42,
	FT_AES,
	FT_PCLMUL,
	FT_SHA,
	FT_NR
};

/* Undefined-flag rules: one per line of undef.def. */
enum dt_undef {
#define UNDEF(id, rflags, fsw, rule, sdm) id,
#include "undef.def"
#undef UNDEF
	U_NR
};

struct dt_form {
	const char *name;
	const uint8_t *pfx;
	const uint8_t *op;
	uint8_t npfx, nop;
	uint16_t vex;
	uint8_t modrm;
	uint8_t imm;
	uint16_t size; /* operand size in bits (memory operand size for loads/stores) */
	uint8_t cls;
	uint8_t undef;
	uint8_t feat;
	uint16_t fl;
};

extern const struct dt_form dt_forms[];
extern const size_t dt_nr_forms;

/* ---- one generated case ---- */

struct dt_case {
	const struct dt_form *form;
	uint64_t seed;
	uint8_t insn[24];
	unsigned len;
	uint64_t land[2]; /* landing stub addresses: [0] fall-through, [1] branch target */
	unsigned nland;
	struct dt_state in;
	/* The rm operand (for "result undefined" rules). */
	int rm_reg;  /* register number, or -1 */
	uint64_t ea; /* memory operand address when rm_reg < 0 and has_mem */
	bool has_mem;
	unsigned count; /* shift count as encoded (before masking) */
};

/* gen.c */
struct dt_rng {
	uint64_t s;
};
uint64_t dt_rng_next(struct dt_rng *r);
void dt_rng_seed(struct dt_rng *r, uint64_t seed);
/* Builds a case for form from seed: writes code and sandbox memory. */
void dt_gen_case(const struct dt_form *form, uint64_t seed, struct dt_case *c);
/* Fills the fixed (read-only) page once. */
void dt_gen_init_ro(uint8_t *ro_page, uint64_t seed);

/* native.c */
int dt_native_init(void);
/* Host address of landing stub i's capture entry (0 or 1). */
uint64_t dt_native_capture_entry(unsigned i);
void dt_native_run(const struct dt_case *c, struct dt_state *out);
/* The case a crash report names (the interpreter runs outside the handler's scope). */
void dt_native_set_current(const struct dt_case *c);
/* CPUID on the host. */
void dt_native_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* emulated.c */
int dt_emu_init(void);
void dt_emu_run(const struct dt_case *c, struct dt_state *out);
/* CPUID as the interpreter advertises it (softcpu_default_cpuid). */
bool dt_emu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* undef.c */
struct dt_mask {
	uint64_t rflags; /* compared RFLAGS bits */
	uint16_t fsw;    /* compared x87 status word bits */
	bool dest_undef; /* the rm operand's value is undefined */
};
void dt_undef_mask(const struct dt_case *c, struct dt_mask *m);
const char *dt_undef_name(unsigned id);
const char *dt_undef_sdm(unsigned id);

/* compare.c */
/* Number of differences; prints them when out is non-NULL. */
unsigned dt_compare(const struct dt_case *c, const struct dt_state *nat, const uint8_t *nat_mem,
                    const struct dt_state *emu, const uint8_t *emu_mem, bool print);
void dt_print_case(const struct dt_case *c, const struct dt_state *nat, const struct dt_state *emu);

/* Little helpers for the FXSAVE image. */
static inline uint16_t dt_fx16(const uint8_t *fx, unsigned off)
{
	return (uint16_t)(fx[off] | fx[off + 1] << 8);
}
static inline uint32_t dt_fx32(const uint8_t *fx, unsigned off)
{
	return (uint32_t)fx[off] | (uint32_t)fx[off + 1] << 8 | (uint32_t)fx[off + 2] << 16 |
	       (uint32_t)fx[off + 3] << 24;
}

#endif
