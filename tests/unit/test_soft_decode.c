/*
 * Unit tests for the software CPU's decoder (decode.c, decode_tab.c): a
 * table of encodings with their expected length, operation and operands,
 * the awkward ones first (SDM vol. 2, chapter 2 and appendix A).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/decode.h"
#include "accel/soft/trace.h"
#include "accel/soft/user_mem.h"

#define L64 CPU_MODE_LONG64
#define P32 CPU_MODE_PROT32
#define R16 CPU_MODE_REAL
#define ANY (-1)
#define NO  EA_NONE
#define RIP 0x401000ULL

/*
 * OK: a handler; UD/GP: that fault, always (invalid encodings); DECODED: the
 * op and operands must decode, whether its family has a handler yet is
 * not this test's business (the families' own tests and difftest cover it).
 */
enum expect { OK, UD, GP, DECODED };

struct dcase {
	const char *name;
	int mode;
	const char *hex; /* the bytes */
	unsigned len;
	unsigned op;
	enum expect ex;
	int reg, base, index, scale; /* ANY: not checked */
	int64_t disp;                /* checked when chk & 1 */
	int64_t imm;                 /* checked when chk & 2 */
	int chk;
	int seg; /* ANY or the low 3 bits of insn.seg */
};

#define C(name, mode, hex, len, op, ex) name, mode, hex, len, OP_##op, ex

static const struct dcase cases[] = {
    /* Register forms; 8-bit registers are byte offsets into gpr (AH = 1, SPL = 32). */
    {C("add rax,rbx", L64, "48 01 d8", 3, ADD, OK), 0, 3, ANY, ANY, 0, 0, 0, ANY},
    {C("mov al,ah", L64, "88 e0", 2, MOV, OK), 0, 1, ANY, ANY, 0, 0, 0, ANY},
    {C("mov al,spl (REX)", L64, "40 88 e0", 3, MOV, OK), 0, 32, ANY, ANY, 0, 0, 0, ANY},
    {C("mov r9b,r10b", L64, "45 88 d1", 3, MOV, OK), 72, 80, ANY, ANY, 0, 0, 0, ANY},
    {C("add r12,[rax]", L64, "4c 03 20", 3, ADD, OK), 12, 0, NO, 0, 1, 0, 0, S_NONE},
    /* RIP-relative: relative to the end of the instruction, immediate included. */
    {C("add dword [rip+0x100],imm32", L64, "81 05 00 01 00 00 78 56 34 12", 10, ADD, OK), ANY, NO,
     NO, ANY, RIP + 10 + 0x100, 0x12345678, 3, S_NONE},
    {C("mov dword [rip-4],imm32", L64, "c7 05 fc ff ff ff ff ff ff ff", 10, MOV, OK), ANY, NO, NO,
     ANY, RIP + 10 - 4, -1, 3, ANY},
    {C("mov qword [rip],imm32", L64, "48 c7 05 00 00 00 00 01 00 00 00", 11, MOV, OK), ANY, NO, NO,
     ANY, RIP + 11, 1, 3, ANY},
    {C("add word [rip],imm16", L64, "66 81 05 10 00 00 00 34 12", 9, ADD, OK), ANY, NO, NO, ANY,
     RIP + 9 + 0x10, 0x1234, 3, ANY},
    {C("cmp byte [rip],imm8", L64, "80 3d 00 00 00 00 7f", 7, CMP, OK), ANY, NO, NO, ANY, RIP + 7,
     0x7f, 3, ANY},
    /* SIB without base, index, REX.X, r12/r13 bases. */
    {C("mov eax,[disp32]", L64, "8b 04 25 00 10 00 00", 7, MOV, OK), 0, NO, NO, 0, 0x1000, 0, 1,
     ANY},
    {C("mov eax,[rcx*4+0x10]", L64, "8b 04 8d 10 00 00 00", 7, MOV, OK), 0, NO, 1, 2, 0x10, 0, 1,
     ANY},
    {C("mov eax,[r13+0]", L64, "41 8b 45 00", 4, MOV, OK), 0, 13, NO, ANY, 0, 0, 1, ANY},
    {C("mov eax,[r12]", L64, "41 8b 04 24", 4, MOV, OK), 0, 12, NO, ANY, 0, 0, 1, ANY},
    {C("mov eax,[rax+r12]", L64, "42 8b 04 20", 4, MOV, OK), 0, 0, 12, 0, 0, 0, 1, ANY},
    {C("mov r8,[rbp-8]", L64, "4c 8b 45 f8", 4, MOV, OK), 8, 5, NO, ANY, -8, 0, 1, ANY},
    {C("lea rax,[rsp+rbx*8+0x12345678]", L64, "48 8d 84 dc 78 56 34 12", 8, LEA, OK), 0, 4, 3, 3,
     0x12345678, 0, 1, ANY},
    /* Address size and segments. */
    {C("67 mov eax,[eax]", L64, "67 8b 00", 3, MOV, OK), 0, 0, NO, ANY, 0, 0, 1, S_NONE},
    {C("fs: mov rax,[rbx]", L64, "64 48 8b 03", 4, MOV, OK), 0, 3, ANY, ANY, 0, 0, 1, S_FS},
    {C("es: ignored in 64-bit mode", L64, "26 8b 00", 3, MOV, OK), ANY, ANY, ANY, ANY, 0, 0, 0,
     S_NONE},
    {C("32-bit: mov eax,[ebp+4]", P32, "8b 45 04", 3, MOV, OK), 0, 5, NO, ANY, 4, 0, 1, S_SS},
    {C("32-bit: mov eax,[disp32]", P32, "8b 05 00 00 00 80", 6, MOV, OK), 0, NO, NO, ANY,
     (int64_t)0xffffffff80000000ULL, 0, 1, S_DS},
    /* 16-bit ModRM forms (table 2-1). */
    {C("16: mov ax,[bx+si]", R16, "8b 00", 2, MOV, OK), 0, 3, 6, 0, 0, 0, 1, S_DS},
    {C("16: mov ax,[bp-2]", R16, "8b 46 fe", 3, MOV, OK), 0, 5, NO, ANY, -2, 0, 1, S_SS},
    {C("16: mov ax,[0x1234]", R16, "8b 06 34 12", 4, MOV, OK), 0, NO, NO, ANY, 0x1234, 0, 1, S_DS},
    {C("16: mov cx,[bp+di+0x1234]", R16, "8b 8b 34 12", 4, MOV, OK), 1, 5, 7, 0, 0x1234, 0, 1,
     S_SS},
    {C("16: 66 mov eax,imm32", R16, "66 b8 78 56 34 12", 6, MOV, OK), 0, ANY, ANY, ANY, 0,
     0x12345678, 2, ANY},
    {C("16: 67 mov ax,[eax*2]", R16, "67 8b 04 45 00 00 00 00", 8, MOV, OK), 0, NO, 0, 1, 0, 0, 1,
     ANY},
    /* Immediates and moffs. */
    {C("mov rax,imm64", L64, "48 b8 88 77 66 55 44 33 22 11", 10, MOV, OK), 0, ANY, ANY, ANY, 0,
     0x1122334455667788LL, 2, ANY},
    {C("mov eax,[moffs64]", L64, "a1 88 77 66 55 44 33 22 11", 9, MOV, OK), 0, NO, NO, ANY,
     0x1122334455667788LL, 0, 1, ANY},
    {C("67 mov eax,[moffs32]", L64, "67 a1 44 33 22 11", 6, MOV, OK), 0, NO, NO, ANY, 0x11223344, 0,
     1, ANY},
    {C("add rax,imm8 sign-extended", L64, "48 83 c0 ff", 4, ADD, OK), 0, ANY, ANY, ANY, 0, -1, 2,
     ANY},
    {C("enter 16,1", L64, "c8 10 00 01", 4, ENTER, OK), ANY, ANY, ANY, ANY, 0, 0x10010, 2, ANY},
    {C("ret 8", L64, "c2 08 00", 3, RET, OK), ANY, ANY, ANY, ANY, 0, 8, 2, ANY},
    {C("call rel32", L64, "e8 00 01 00 00", 5, CALL, OK), ANY, ANY, ANY, ANY, 0, RIP + 5 + 0x100, 2,
     ANY},
    {C("jmp $", L64, "eb fe", 2, JMP, OK), ANY, ANY, ANY, ANY, 0, RIP, 2, ANY},
    {C("jnz rel32", L64, "0f 85 f0 ff ff ff", 6, JNE, OK), ANY, ANY, ANY, ANY, 0, RIP + 6 - 16, 2,
     ANY},
    {C("16: jmp wraps at 64K", R16, "e9 00 f0", 3, JMP, OK), ANY, ANY, ANY, ANY, 0,
     (RIP + 3 + 0xf000) & 0xffff, 2, ANY},
    /* NOPs and hints. */
    {C("nop", L64, "90", 1, NOP, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("xchg r8,rax", L64, "49 90", 2, XCHG, OK), 8, 0, ANY, ANY, 0, 0, 0, ANY},
    {C("pause", L64, "f3 90", 2, PAUSE, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("nop dword [rax+rax+0]", L64, "0f 1f 44 00 00", 5, NOP, OK), ANY, ANY, ANY, ANY, 0, 0, 0,
     ANY},
    {C("nop word [rax+rax+0] 9 bytes", L64, "66 0f 1f 84 00 00 00 00 00", 9, NOP, OK), ANY, ANY,
     ANY, ANY, 0, 0, 0, ANY},
    {C("endbr64", L64, "f3 0f 1e fa", 4, ENDBR64, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    /* Mandatory prefixes select the SSE row. */
    {C("movups", L64, "0f 10 c1", 3, MOVUPS, OK), 0, 1, ANY, ANY, 0, 0, 0, ANY},
    {C("movupd", L64, "66 0f 10 c1", 4, MOVUPD, OK), 0, 1, ANY, ANY, 0, 0, 0, ANY},
    {C("movss", L64, "f3 0f 10 c1", 4, MOVSS, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("movsd", L64, "f2 0f 10 c1", 4, MOVSD_X, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("movups xmm9,[r8] store form", L64, "45 0f 11 08", 4, MOVUPS, OK), 9, 8, NO, ANY, 0, 0, 1,
     ANY},
    {C("addps", L64, "0f 58 c1", 3, ADDPS, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("addpd", L64, "66 0f 58 c1", 4, ADDPD, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("addss", L64, "f3 0f 58 c1", 4, ADDSS, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("66 f2: f2 wins", L64, "66 f2 0f 58 c1", 5, ADDSD, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("popcnt", L64, "f3 0f b8 c1", 4, POPCNT, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("bsf (66 stays operand size)", L64, "66 0f bc c1", 4, BSF, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0,
     ANY},
    {C("tzcnt", L64, "f3 0f bc c1", 4, TZCNT, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("pshufd imm8", L64, "66 0f 70 c1 1b", 5, PSHUFD, OK), ANY, ANY, ANY, ANY, 0, 0x1b, 2, ANY},
    {C("movq xmm0,[rip] (f3 0f 7e)", L64, "f3 0f 7e 05 00 00 00 00", 8, MOVQ, OK), 0, NO, NO, ANY,
     RIP + 8, 0, 1, ANY},
    {C("pshufb mm (0f 38)", L64, "0f 38 00 c1", 4, PSHUFB, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("palignr (0f 3a)", L64, "66 0f 3a 0f c1 08", 6, PALIGNR, OK), ANY, ANY, ANY, ANY, 0, 8, 2,
     ANY},
    {C("pcmpistri [rip],imm8", L64, "66 0f 3a 63 05 00 00 00 00 0a", 10, PCMPISTRI, DECODED), ANY, NO,
     NO, ANY, RIP + 10, 0x0a, 3, ANY},
    {C("psrldq xmm1,4 (group 14)", L64, "66 0f 73 d9 04", 5, PSRLDQ, OK), 1, ANY, ANY, ANY, 0, 4, 2,
     ANY},
    {C("undefined 0f 3a ff has modrm+imm8", L64, "66 0f 3a ff c1 00", 6, UD, UD), ANY, ANY, ANY,
     ANY, 0, 0, 0, ANY},
    /* x87 */
    {C("fld st0", L64, "d9 c0", 2, FLD, DECODED), 0, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("fld qword [rip]", L64, "dd 05 00 00 00 00", 6, FLD, DECODED), ANY, NO, NO, ANY, RIP + 6, 0, 1,
     ANY},
    {C("fldz", L64, "d9 ee", 2, FLDZ, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("fnstsw ax", L64, "df e0", 2, FNSTSW, DECODED), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("fsubr st(1),st (dc e1)", L64, "dc e1", 2, FSUBR, DECODED), 1, ANY, ANY, ANY, 0, 0, 0, ANY},
    /* System and misc. */
    {C("syscall", L64, "0f 05", 2, SYSCALL, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("rdtscp", L64, "0f 01 f9", 3, RDTSCP, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lfence", L64, "0f ae e8", 3, LFENCE, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("clflush [rax]", L64, "0f ae 38", 3, CLFLUSH, OK), ANY, 0, ANY, ANY, 0, 0, 0, ANY},
    {C("cmpxchg16b [rsi]", L64, "48 0f c7 0e", 4, CMPXCHG8B, OK), ANY, 6, ANY, ANY, 0, 0, 0, ANY},
    {C("ud2", L64, "0f 0b", 2, UD2, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("32-bit: 40 is inc eax", P32, "40", 1, INC, OK), 0, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("32-bit: 63 is arpl", P32, "63 c1", 2, ARPL, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("64-bit: 63 is movsxd", L64, "48 63 c1", 3, MOVSXD, OK), 0, 1, ANY, ANY, 0, 0, 0, ANY},
    {C("32-bit: 82 is group 1", P32, "82 c0 01", 3, ADD, OK), ANY, ANY, ANY, ANY, 0, 1, 2, ANY},
    /* Invalid: #UD. */
    {C("64-bit: 82 is invalid", L64, "82 c0 01", 3, ADD, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("64-bit: push es invalid", L64, "06", 1, PUSHSR, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lock mov", L64, "f0 48 89 d8", 0, MOV, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lock add reg,reg", L64, "f0 01 d8", 0, ADD, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lock cmp [rax],ebx", L64, "f0 39 18", 0, CMP, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lock add [rax],ebx", L64, "f0 01 18", 3, ADD, OK), ANY, 0, ANY, ANY, 0, 0, 0, ANY},
    {C("lock xchg [rax],ebx", L64, "f0 87 18", 3, XCHG, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lock cmpxchg8b", L64, "f0 0f c7 0e", 4, CMPXCHG8B, OK), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("vex c5 (vzeroupper)", L64, "c5 f8 77", 0, UD, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("vex c4", L64, "c4 e2 79 18 00", 0, UD, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("lea with a register", L64, "48 8d c0", 0, LEA, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    {C("8f /1 (not pop)", L64, "8f c8", 2, UD, UD), ANY, ANY, ANY, ANY, 0, 0, 0, ANY},
    /* 15 bytes are fine, 16 are #GP(0). */
    {C("15 bytes", L64, "66 66 66 66 66 66 66 66 66 66 66 66 48 89 d8", 15, MOV, OK), 0, 3, ANY,
     ANY, 0, 0, 0, ANY},
    {C("16 bytes", L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 48 89 d8", 15, UD, GP), ANY, ANY,
     ANY, ANY, 0, 0, 0, ANY},
    /* A legacy prefix after REX cancels the REX: mov ax,bx (no REX.W). */
    {C("rex then 66", L64, "48 66 89 d8", 4, MOV, OK), 0, 3, ANY, ANY, 0, 0, 0, ANY},
};

static struct cpu *dcpu;
static uint8_t *pages;

static size_t parse_hex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		out[n++] = (uint8_t)strtoul((char[3]){p[0], p[1], 0}, NULL, 16);
		p += 2;
	}
	return n;
}

/* Decodes bytes placed at rip (two host pages: crossing needs no translate). */
static struct insn decode_at(const uint8_t *bytes, size_t n, int mode, uint64_t rip)
{
	memset(pages, 0xcc, 2 * USER_PAGE_SIZE);
	memcpy(pages + (rip & (USER_PAGE_SIZE - 1)), bytes, n);
	struct fetch f = {.page = rip & ~(USER_PAGE_SIZE - 1),
	                  .host = {pages, pages + USER_PAGE_SIZE},
	                  .allow_cross = true};
	struct insn in;
	dcpu->mode = (enum cpu_mode)mode;
	assert_int_equal(decode_insn(dcpu, &f, rip, &in), DECODE_OK);
	return in;
}

static void test_table(void **state)
{
	unsigned bad = 0;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct dcase *c = &cases[k];
		uint8_t b[32];
		size_t n = parse_hex(c->hex, b);
		struct insn in = decode_at(b, n, c->mode, RIP);
		char why[160] = "";
		enum expect ex = in.fn == insn_ud ? UD : in.fn == insn_gp0 ? GP : OK;
		if (c->ex != DECODED && ex != c->ex)
			snprintf(why, sizeof(why), "expected %s",
			         c->ex == UD   ? "#UD"
			         : c->ex == GP ? "#GP"
			                       : "a handler");
		else if (c->len && in.len != c->len)
			snprintf(why, sizeof(why), "len %u, want %u", in.len, c->len);
		else if (c->ex != GP && c->len && in.op != c->op)
			snprintf(why, sizeof(why), "op %s, want %s", op_info[in.op].name,
			         op_info[c->op].name);
		else if (c->reg != ANY && in.reg != c->reg)
			snprintf(why, sizeof(why), "reg %u, want %d", in.reg, c->reg);
		else if (c->base != ANY && in.base != c->base)
			snprintf(why, sizeof(why), "base %u, want %d", in.base, c->base);
		else if (c->index != ANY && in.index != c->index)
			snprintf(why, sizeof(why), "index %u, want %d", in.index, c->index);
		else if (c->scale != ANY && in.scale != c->scale)
			snprintf(why, sizeof(why), "scale %u, want %d", in.scale, c->scale);
		else if ((c->chk & 1) && in.disp != (uint64_t)c->disp)
			snprintf(why, sizeof(why), "disp %#llx, want %#llx",
			         (unsigned long long)in.disp, (unsigned long long)c->disp);
		else if ((c->chk & 2) && in.imm != (uint64_t)c->imm)
			snprintf(why, sizeof(why), "imm %#llx, want %#llx",
			         (unsigned long long)in.imm, (unsigned long long)c->imm);
		else if (c->seg != ANY && (in.seg & 7) != c->seg)
			snprintf(why, sizeof(why), "seg %u, want %d", in.seg & 7, c->seg);
		if (why[0]) {
			print_error("%s (%s): %s\n", c->name, c->hex, why);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_address_size_flags(void **state)
{
	uint8_t b[8];
	size_t n = parse_hex("67 8b 00", b);
	struct insn in = decode_at(b, n, L64, RIP);
	assert_int_equal(in.seg & (INSN_A32 | INSN_A16), INSN_A32);
	n = parse_hex("8b 00", b);
	in = decode_at(b, n, R16, RIP);
	assert_int_equal(in.seg & (INSN_A32 | INSN_A16), INSN_A16);
	in = decode_at(b, n, L64, RIP);
	assert_int_equal(in.seg & (INSN_A32 | INSN_A16), 0);
}

static void test_page_crossing(void **state)
{
	uint8_t b[16];
	size_t n = parse_hex("48 81 c0 78 56 34 12", b); /* add rax, 0x12345678 */
	uint64_t rip = 0x401ffd;                         /* three bytes on the first page */
	struct insn in = decode_at(b, n, L64, rip);
	assert_int_equal(in.len, 7);
	assert_int_equal(in.op, OP_ADD);
	assert_int_equal(in.imm, 0x12345678);
	/* Without permission to cross, the decoder stops before the instruction. */
	struct fetch f = {.page = 0x401000, .host = {pages, NULL}, .allow_cross = false};
	assert_int_equal(decode_insn(dcpu, &f, rip, &in), DECODE_CROSS);
}

static void test_every_opcode_decodes(void **state)
{
	/* Every one-byte and 0F opcode with a ModRM, SIB, disp32 and imm32 after it: each
	 * decodes to some length between 1 and 15 without reading past 15 bytes. */
	for (unsigned map = 0; map < 4; map++) {
		for (unsigned op = 0; op < 256; op++) {
			uint8_t b[20];
			size_t n = 0;
			if (map)
				b[n++] = 0x0f;
			if (map == 2)
				b[n++] = 0x38;
			if (map == 3)
				b[n++] = 0x3a;
			b[n++] = (uint8_t)op;
			b[n++] = 0x84; /* ModRM: [SIB + disp32] */
			b[n++] = 0x24;
			for (int k = 0; k < 8; k++)
				b[n++] = 0x11;
			struct insn in = decode_at(b, n, L64, RIP);
			assert_true(in.len >= 1 && in.len <= 15);
		}
	}
}

static void test_disasm(void **state)
{
	static const struct {
		const char *hex, *text;
	} t[] = {
	    {"48 01 d8", "add rax, rbx"},
	    {"88 e0", "mov al, ah"},
	    {"40 88 e0", "mov al, spl"},
	    {"f0 48 0f c1 06", "lock xadd qword [rsi], rax"},
	    {"81 05 00 01 00 00 78 56 34 12", "add dword [0x40110a], 0x12345678"},
	    {"64 48 8b 04 25 28 00 00 00", "mov rax, qword fs:[0x28]"},
	    {"48 8d 44 8b f8", "lea rax, qword [rbx+rcx*4-0x8]"},
	    {"0f 84 10 00 00 00", "je 0x401016"},
	    {"66 0f 58 c1", "addpd xmm0, xmm1"},
	    {"c3", "ret"},
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		uint8_t b[16];
		char text[96];
		size_t n = parse_hex(t[k].hex, b);
		assert_int_equal(softcpu_disasm(L64, RIP, b, n, text, sizeof(text)), n);
		assert_string_equal(text, t[k].text);
		assert_int_equal(softcpu_disasm(L64, RIP, b, n - 1, text, sizeof(text)), 0);
	}
}

static int setup(void **state)
{
	dcpu = calloc(1, sizeof(*dcpu));
	cpu_init_user64(dcpu, NULL, NULL);
	pages = aligned_alloc(USER_PAGE_SIZE, 2 * USER_PAGE_SIZE);
	return 0;
}

static int teardown(void **state)
{
	cpu_fini(dcpu);
	free(dcpu);
	free(pages);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),         cmocka_unit_test(test_address_size_flags),
	    cmocka_unit_test(test_page_crossing), cmocka_unit_test(test_every_opcode_decodes),
	    cmocka_unit_test(test_disasm),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
