/*
 * The opcode maps as data (SDM vol. 2, appendix A "Opcode map", tables
 * for the groups; for the x87 escapes).
 * Each byte of a map is a final entry (operation + operand format) or a
 * node that selects a sub-table by ModRM.reg (K_GRP), ModRM.mod (K_MOD),
 * ModRM.rm (K_RM), the mandatory prefix (K_PFX, K_F3) or the mode (K_MODE).
 * Undefined encodings are OP_UD; their execution raises #UD.
 */
#include "accel/soft/decode.h"

/* The tables are laid out by hand. */
/* clang-format off */

/* ---- operand formats ---- */

#define F(lay, sz, im, ...) { .layout = L_##lay, .size = SR_##sz, .imm = I_##im, __VA_ARGS__ }
#define M1 .modrm = 1

const struct fmt_info fmt_info[FMT_COUNT] = {
	[FMT_NONE] = F(NONE, V, NONE),
	[FMT_B] = F(NONE, B, NONE),
	[FMT_EbGb] = F(EG, B, NONE, M1, .regb = 1, .rmb = 1),
	[FMT_EvGv] = F(EG, V, NONE, M1),
	[FMT_GbEb] = F(GE, B, NONE, M1, .regb = 1, .rmb = 1),
	[FMT_GvEv] = F(GE, V, NONE, M1),
	[FMT_ALIb] = F(A, B, B, .regb = 1),
	[FMT_rAXIz] = F(A, V, Z),
	[FMT_Eb] = F(E, B, NONE, M1, .rmb = 1),
	[FMT_Ev] = F(E, V, NONE, M1),
	[FMT_Ew] = F(E, W, NONE, M1),
	[FMT_Ry] = F(E, Y, NONE, M1, .regonly = 1),
	[FMT_EbIb] = F(E, B, B, M1, .rmb = 1),
	[FMT_EvIz] = F(E, V, Z, M1),
	[FMT_EvIb] = F(E, V, B, M1),
	[FMT_Zv] = F(Z, V, NONE),
	[FMT_ZbIb] = F(Z, B, B, .regb = 1),
	[FMT_ZvIv] = F(Z, V, V),
	[FMT_ZvA] = F(ZA, V, NONE),
	[FMT_Jb] = F(I, V, J8),
	[FMT_Jz] = F(I, V, JZ),
	[FMT_Iz] = F(I, V, Z),
	[FMT_Ib] = F(I, V, B),
	[FMT_IbU] = F(I, V, BU),
	[FMT_IbUB] = F(I, B, BU),
	[FMT_Iw] = F(I, V, W),
	[FMT_IwIb] = F(I, V, WB),
	[FMT_Ap] = F(I, V, AP),
	[FMT_GvM] = F(GE, V, NONE, M1, .memonly = 1),
	[FMT_MGv] = F(EG, V, NONE, M1, .memonly = 1),
	[FMT_GvEb] = F(GE, V, NONE, M1, .rmb = 1),
	[FMT_GvEw] = F(GE, V, NONE, M1),
	[FMT_GvEd] = F(GE, V, NONE, M1),
	[FMT_GyEb] = F(GE, Y, NONE, M1, .rmb = 1),
	[FMT_GyEy] = F(GE, Y, NONE, M1),
	[FMT_MGy] = F(EG, Y, NONE, M1, .memonly = 1),
	[FMT_EvSw] = F(EG, V, NONE, M1),
	[FMT_SwEw] = F(GE, W, NONE, M1),
	[FMT_ALOb] = F(AO, B, O, .regb = 1),
	[FMT_rAXOv] = F(AO, V, O),
	[FMT_ObAL] = F(OA, B, O, .regb = 1),
	[FMT_OvrAX] = F(OA, V, O),
	[FMT_EvGvIb] = F(EG, V, B, M1),
	[FMT_GvEvIz] = F(GE, V, Z, M1),
	[FMT_GvEvIb] = F(GE, V, B, M1),
	[FMT_M] = F(E, V, NONE, M1, .memonly = 1),
	[FMT_RC] = F(EG, V, NONE, M1, .modreg = 1),
	[FMT_CR] = F(GE, V, NONE, M1, .modreg = 1),
	[FMT_X87] = F(E, V, NONE, M1),
	[FMT_VW] = F(GE, V, NONE, M1),
	[FMT_WV] = F(EG, V, NONE, M1),
	[FMT_VWIb] = F(GE, V, B, M1),
	[FMT_VM] = F(GE, V, NONE, M1, .memonly = 1),
	[FMT_MV] = F(EG, V, NONE, M1, .memonly = 1),
	[FMT_VU] = F(GE, V, NONE, M1, .regonly = 1),
	[FMT_VE] = F(GE, Y, NONE, M1),
	[FMT_EV] = F(EG, Y, NONE, M1),
	[FMT_GW] = F(GE, Y, NONE, M1),
	[FMT_GU] = F(GE, Y, NONE, M1, .regonly = 1),
	[FMT_VEIb] = F(GE, Y, B, M1),
	[FMT_EVIb] = F(EG, Y, B, M1),
	[FMT_GUIb] = F(GE, Y, B, M1, .regonly = 1),
	[FMT_UIb] = F(E, V, B, M1, .regonly = 1),
	[FMT_VN] = F(GE, V, NONE, M1, .regonly = 1, .mmxrm = 1),
	[FMT_PQ] = F(GE, V, NONE, M1, .mmxreg = 1, .mmxrm = 1),
	[FMT_QP] = F(EG, V, NONE, M1, .mmxreg = 1, .mmxrm = 1),
	[FMT_PQIb] = F(GE, V, B, M1, .mmxreg = 1, .mmxrm = 1),
	[FMT_PE] = F(GE, Y, NONE, M1, .mmxreg = 1),
	[FMT_EP] = F(EG, Y, NONE, M1, .mmxreg = 1),
	[FMT_GN] = F(GE, Y, NONE, M1, .regonly = 1, .mmxrm = 1),
	[FMT_NIb] = F(E, V, B, M1, .regonly = 1, .mmxrm = 1),
	[FMT_GNIb] = F(GE, Y, B, M1, .regonly = 1, .mmxrm = 1),
	[FMT_PEIb] = F(GE, Y, B, M1, .mmxreg = 1),
	[FMT_PU] = F(GE, V, NONE, M1, .regonly = 1, .mmxreg = 1),
	[FMT_PW] = F(GE, V, NONE, M1, .mmxreg = 1),
	[FMT_VQ] = F(GE, V, NONE, M1, .mmxrm = 1),
	[FMT_MP] = F(EG, V, NONE, M1, .memonly = 1, .mmxreg = 1),
	[FMT_PN] = F(GE, V, NONE, M1, .regonly = 1, .mmxreg = 1, .mmxrm = 1),
};

/* ---- table-building shorthands ---- */

#define O(o, f) { .op = OP_##o, .fmt = FMT_##f, .kind = K_OP }
#define OF(o, f, fl) { .op = OP_##o, .fmt = FMT_##f, .flags = (fl), .kind = K_OP }
#define UD { .op = OP_UD, .fmt = FMT_NONE, .kind = K_OP }
#define UDF(f) { .op = OP_UD, .fmt = FMT_##f, .kind = K_OP }
#define PREFIX { .kind = K_PREFIX }
#define ESC { .kind = K_ESC }
#define GRP(...) { .kind = K_GRP, .sub = (const struct opdesc[8]){ __VA_ARGS__ } }
#define GRPF(fl, ...) \
	{ .kind = K_GRP, .flags = (fl), .sub = (const struct opdesc[8]){ __VA_ARGS__ } }
#define MOD(m, r) { .kind = K_MOD, .sub = (const struct opdesc[2]){ m, r } }
#define RM(...) { .kind = K_RM, .sub = (const struct opdesc[8]){ __VA_ARGS__ } }
#define PFX(n, p66, f3, f2) { .kind = K_PFX, .sub = (const struct opdesc[4]){ n, p66, f3, f2 } }
#define REPF3(n, f3) { .kind = K_F3, .sub = (const struct opdesc[2]){ n, f3 } }
#define MODE(legacy, long64) { .kind = K_MODE, .sub = (const struct opdesc[2]){ legacy, long64 } }

/* The eight ALU encodings 00-05 (+8 each): Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib rAX,Iz. */
#define ALU6(o) O(o, EbGb), O(o, EvGv), O(o, GbEb), O(o, GvEv), O(o, ALIb), O(o, rAXIz)
#define CC16(p, f, fl)                                                                             \
	OF(p##O, f, fl), OF(p##NO, f, fl), OF(p##B, f, fl), OF(p##AE, f, fl), OF(p##E, f, fl),     \
		OF(p##NE, f, fl), OF(p##BE, f, fl), OF(p##A, f, fl), OF(p##S, f, fl),              \
		OF(p##NS, f, fl), OF(p##P, f, fl), OF(p##NP, f, fl), OF(p##L, f, fl),              \
		OF(p##GE, f, fl), OF(p##LE, f, fl), OF(p##G, f, fl)
#define R8(o, f) O(o, f), O(o, f), O(o, f), O(o, f), O(o, f), O(o, f), O(o, f), O(o, f)
#define R8F(o, f, fl) \
	OF(o, f, fl), OF(o, f, fl), OF(o, f, fl), OF(o, f, fl), OF(o, f, fl), OF(o, f, fl), \
	OF(o, f, fl), OF(o, f, fl)
#define GRP1(f, fl)                                                                                \
	GRPF(fl, OF(ADD, f, fl), OF(OR, f, fl), OF(ADC, f, fl), OF(SBB, f, fl), OF(AND, f, fl),    \
	     OF(SUB, f, fl), OF(XOR, f, fl), OF(CMP, f, fl))
#define GRP2(f) GRP(O(ROL, f), O(ROR, f), O(RCL, f), O(RCR, f), O(SHL, f), O(SHR, f), O(SAL, f), \
		    O(SAR, f))
/* x87: memory forms by ModRM.reg, register forms by ModRM.reg (or .rm). */
#define X87(...) GRP(__VA_ARGS__)
#define XO(o) O(o, X87)

/* ---- the one-byte map (table A-2) ---- */

const struct opdesc decode_map1[256] = {
	[0x00] = ALU6(ADD), OF(PUSHSR, NONE, OF_I64), OF(POPSR, NONE, OF_I64),
	[0x08] = ALU6(OR), OF(PUSHSR, NONE, OF_I64), ESC,
	[0x10] = ALU6(ADC), OF(PUSHSR, NONE, OF_I64), OF(POPSR, NONE, OF_I64),
	[0x18] = ALU6(SBB), OF(PUSHSR, NONE, OF_I64), OF(POPSR, NONE, OF_I64),
	[0x20] = ALU6(AND), PREFIX, OF(DAA, NONE, OF_I64),
	[0x28] = ALU6(SUB), PREFIX, OF(DAS, NONE, OF_I64),
	[0x30] = ALU6(XOR), PREFIX, OF(AAA, NONE, OF_I64),
	[0x38] = ALU6(CMP), PREFIX, OF(AAS, NONE, OF_I64),
	/* 40-4f: INC/DEC in legacy modes, REX in 64-bit mode (the prefix loop). */
	[0x40] = R8(INC, Zv), R8(DEC, Zv),
	/* 50 */
	[0x50] = R8F(PUSH, Zv, OF_D64), R8F(POP, Zv, OF_D64),
	/* 60 */
	[0x60] = OF(PUSHA, NONE, OF_I64), OF(POPA, NONE, OF_I64), OF(BOUND, GvM, OF_I64),
	MODE(O(ARPL, EvGv), O(MOVSXD, GvEd)),
	PREFIX, PREFIX, PREFIX, PREFIX,
	OF(PUSH, Iz, OF_D64), O(IMUL, GvEvIz), OF(PUSH, Ib, OF_D64), O(IMUL, GvEvIb),
	O(INS, B), O(INS, NONE), O(OUTS, B), O(OUTS, NONE),
	/* 70 */
	[0x70] = CC16(J, Jb, OF_F64),
	/* 80 */
	[0x80] = GRP1(EbIb, 0), GRP1(EvIz, 0), GRP1(EbIb, OF_I64), GRP1(EvIb, 0),
	O(TEST, EbGb), O(TEST, EvGv), O(XCHG, EbGb), O(XCHG, EvGv),
	O(MOV, EbGb), O(MOV, EvGv), O(MOV, GbEb), O(MOV, GvEv),
	O(MOVSR, EvSw), O(LEA, GvM), O(MOVTOSR, SwEw),
	GRP(OF(POP, Ev, OF_D64), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev)),
	/* 90: 90 itself (NOP, PAUSE, XCHG r8) is special-cased by the decoder */
	[0x90] = PFX(O(NOP, NONE), O(NOP, NONE), O(PAUSE, NONE), O(NOP, NONE)),
	O(XCHG, ZvA), O(XCHG, ZvA), O(XCHG, ZvA), O(XCHG, ZvA), O(XCHG, ZvA), O(XCHG, ZvA),
	O(XCHG, ZvA),
	O(CBW, NONE), O(CWD, NONE), OF(CALLF, Ap, OF_I64), O(FWAIT, NONE),
	OF(PUSHF, NONE, OF_D64), OF(POPF, NONE, OF_D64), O(SAHF, NONE), O(LAHF, NONE),
	/* a0 */
	[0xa0] = O(MOV, ALOb), O(MOV, rAXOv), O(MOV, ObAL), O(MOV, OvrAX),
	O(MOVS, B), O(MOVS, NONE), O(CMPS, B), O(CMPS, NONE),
	O(TEST, ALIb), O(TEST, rAXIz), O(STOS, B), O(STOS, NONE),
	O(LODS, B), O(LODS, NONE), O(SCAS, B), O(SCAS, NONE),
	/* b0 */
	[0xb0] = R8(MOV, ZbIb), R8(MOV, ZvIv),
	/* c0: C4/C5 are VEX in 64-bit mode (the decoder's business) */
	[0xc0] = GRP2(EbIb), GRP2(EvIb), OF(RET, Iw, OF_F64), OF(RET, NONE, OF_F64),
	OF(LES, GvM, OF_I64), OF(LDS, GvM, OF_I64),
	GRP(O(MOV, EbIb), UDF(EbIb), UDF(EbIb), UDF(EbIb), UDF(EbIb), UDF(EbIb), UDF(EbIb),
	    MOD(UDF(EbIb), RM(O(TSX, EbIb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb),
			       UDF(Eb)))),
	GRP(O(MOV, EvIz), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev),
	    MOD(UDF(Ev), RM(O(TSX, Jz), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev), UDF(Ev),
			     UDF(Ev)))),
	OF(ENTER, IwIb, OF_D64), OF(LEAVE, NONE, OF_D64), O(RETF, Iw), O(RETF, NONE),
	O(INT3, NONE), O(INT, IbU), OF(INTO, NONE, OF_I64), O(IRET, NONE),
	/* d0 */
	[0xd0] = GRP2(Eb), GRP2(Ev), GRP2(Eb), GRP2(Ev),
	OF(AAM, IbU, OF_I64), OF(AAD, IbU, OF_I64), OF(SALC, NONE, OF_I64), O(XLAT, B),
	/* d8-df: x87 escapes (tables) */
	[0xd8] = MOD(X87(XO(FADD), XO(FMUL), XO(FCOM), XO(FCOMP), XO(FSUB), XO(FSUBR), XO(FDIV),
		     XO(FDIVR)),
	    X87(XO(FADD), XO(FMUL), XO(FCOM), XO(FCOMP), XO(FSUB), XO(FSUBR), XO(FDIV), XO(FDIVR))),
	MOD(X87(XO(FLD), UDF(X87), XO(FST), XO(FSTP), XO(FLDENV), XO(FLDCW), XO(FNSTENV),
		XO(FNSTCW)),
	    X87(XO(FLD), XO(FXCH), RM(XO(FNOP), UDF(X87), UDF(X87), UDF(X87), UDF(X87), UDF(X87),
				      UDF(X87), UDF(X87)),
		XO(FSTP),
		RM(XO(FCHS), XO(FABS), UDF(X87), UDF(X87), XO(FTST), XO(FXAM), UDF(X87), UDF(X87)),
		RM(XO(FLD1), XO(FLDL2T), XO(FLDL2E), XO(FLDPI), XO(FLDLG2), XO(FLDLN2), XO(FLDZ),
		   UDF(X87)),
		RM(XO(F2XM1), XO(FYL2X), XO(FPTAN), XO(FPATAN), XO(FXTRACT), XO(FPREM1),
		   XO(FDECSTP), XO(FINCSTP)),
		RM(XO(FPREM), XO(FYL2XP1), XO(FSQRT), XO(FSINCOS), XO(FRNDINT), XO(FSCALE),
		   XO(FSIN), XO(FCOS)))),
	MOD(X87(XO(FIADD), XO(FIMUL), XO(FICOM), XO(FICOMP), XO(FISUB), XO(FISUBR), XO(FIDIV),
		XO(FIDIVR)),
	    X87(XO(FCMOVB), XO(FCMOVE), XO(FCMOVBE), XO(FCMOVU), UDF(X87),
		RM(UDF(X87), XO(FUCOMPP), UDF(X87), UDF(X87), UDF(X87), UDF(X87), UDF(X87),
		   UDF(X87)),
		UDF(X87), UDF(X87))),
	MOD(X87(XO(FILD), XO(FISTTP), XO(FIST), XO(FISTP), UDF(X87), XO(FLD), UDF(X87), XO(FSTP)),
	    X87(XO(FCMOVNB), XO(FCMOVNE), XO(FCMOVNBE), XO(FCMOVNU),
		RM(XO(FNOP), XO(FNOP), XO(FNCLEX), XO(FNINIT), XO(FNOP), UDF(X87), UDF(X87),
		   UDF(X87)),
		XO(FUCOMI), XO(FCOMI), UDF(X87))),
	MOD(X87(XO(FADD), XO(FMUL), XO(FCOM), XO(FCOMP), XO(FSUB), XO(FSUBR), XO(FDIV), XO(FDIVR)),
	    X87(XO(FADD), XO(FMUL), XO(FCOM), XO(FCOMP), XO(FSUBR), XO(FSUB), XO(FDIVR), XO(FDIV))),
	MOD(X87(XO(FLD), XO(FISTTP), XO(FST), XO(FSTP), XO(FRSTOR), UDF(X87), XO(FNSAVE),
		XO(FNSTSW)),
	    X87(XO(FFREE), XO(FXCH), XO(FST), XO(FSTP), XO(FUCOM), XO(FUCOMP), UDF(X87), UDF(X87))),
	MOD(X87(XO(FIADD), XO(FIMUL), XO(FICOM), XO(FICOMP), XO(FISUB), XO(FISUBR), XO(FIDIV),
		XO(FIDIVR)),
	    X87(XO(FADDP), XO(FMULP), XO(FCOMP),
		RM(UDF(X87), XO(FCOMPP), UDF(X87), UDF(X87), UDF(X87), UDF(X87), UDF(X87),
		   UDF(X87)),
		XO(FSUBRP), XO(FSUBP), XO(FDIVRP), XO(FDIVP))),
	MOD(X87(XO(FILD), XO(FISTTP), XO(FIST), XO(FISTP), XO(FBLD), XO(FILD), XO(FBSTP),
		XO(FISTP)),
	    X87(XO(FFREEP), XO(FXCH), XO(FSTP), XO(FSTP),
		RM(XO(FNSTSW), UDF(X87), UDF(X87), UDF(X87), UDF(X87), UDF(X87), UDF(X87),
		   UDF(X87)),
		XO(FUCOMIP), XO(FCOMIP), UDF(X87))),
	/* e0 */
	[0xe0] = OF(LOOPNE, Jb, OF_F64), OF(LOOPE, Jb, OF_F64), OF(LOOP, Jb, OF_F64),
	OF(JRCXZ, Jb, OF_F64),
	O(IN, IbUB), O(IN, IbU), O(OUT, IbUB), O(OUT, IbU),
	OF(CALL, Jz, OF_F64), OF(JMP, Jz, OF_F64), OF(JMPF, Ap, OF_I64), OF(JMP, Jb, OF_F64),
	O(IN, B), O(IN, NONE), O(OUT, B), O(OUT, NONE),
	/* f0 */
	[0xf0] = PREFIX, O(INT1, NONE), PREFIX, PREFIX, O(HLT, NONE), O(CMC, NONE),
	GRP(O(TEST, EbIb), O(TEST, EbIb), O(NOT, Eb), O(NEG, Eb), O(MUL, Eb), O(IMUL1, Eb),
	    O(DIV, Eb), O(IDIV, Eb)),
	GRP(O(TEST, EvIz), O(TEST, EvIz), O(NOT, Ev), O(NEG, Ev), O(MUL, Ev), O(IMUL1, Ev),
	    O(DIV, Ev), O(IDIV, Ev)),
	O(CLC, NONE), O(STC, NONE), O(CLI, NONE), O(STI, NONE), O(CLD, NONE), O(STD, NONE),
	GRP(O(INC, Eb), O(DEC, Eb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb), UDF(Eb)),
	GRP(O(INC, Ev), O(DEC, Ev), OF(CALLI, Ev, OF_F64), O(CALLF, M), OF(JMPI, Ev, OF_F64),
	    O(JMPF, M), OF(PUSH, Ev, OF_D64), UDF(Ev)),
};
_Static_assert(sizeof(decode_map1) / sizeof(decode_map1[0]) == 256, "one-byte map");

/* ---- the two-byte map 0F (tables) ---- */

/* SSE rows: PFX(no prefix, 66, F3, F2). */
#define PS_PD_SS_SD(b, f) PFX(O(b##PS, f), O(b##PD, f), O(b##SS, f), O(b##SD, f))
#define PS_PD(b, f) PFX(O(b##PS, f), O(b##PD, f), UDF(f), UDF(f))
/* MMX (no prefix) and SSE2 (66) forms of one integer operation. */
#define MMX_SSE(o) PFX(O(o, PQ), O(o, VW), UDF(VW), UDF(VW))
#define SSE66(o) PFX(UDF(VW), O(o, VW), UDF(VW), UDF(VW))
#define SSE66F(o, f) PFX(UDF(f), O(o, f), UDF(f), UDF(f))
#define HINT O(HINTNOP, Ev)

const struct opdesc decode_map0f[256] = {
	[0x00] = GRP(O(SLDT, Ew), O(STR, Ew), O(LLDT, Ew), O(LTR, Ew), O(VERR, Ew), O(VERW, Ew),
		     UDF(Ew), UDF(Ew)),
	[0x01] = MOD(GRP(O(SGDT, M), O(SIDT, M), O(LGDT, M), O(LIDT, M), O(SMSW, Ew), UDF(M),
			 O(LMSW, Ew), O(INVLPG, M)),
		     GRP(RM(UD, O(VMX, NONE), O(VMX, NONE), O(VMX, NONE), O(VMX, NONE), UD, UD, UD),
			 RM(O(MONITOR, NONE), O(MWAIT, NONE), O(CLAC, NONE), O(STAC, NONE), UD, UD,
			    UD, UD),
			 RM(O(XGETBV, NONE), O(XSETBV, NONE), UD, UD, O(VMX, NONE), O(TSX, NONE),
			    O(TSX, NONE), UD),
			 RM(O(SVM, NONE), O(SVM, NONE), O(SVM, NONE), O(SVM, NONE), O(SVM, NONE),
			    O(SVM, NONE), O(SVM, NONE), O(SVM, NONE)),
			 O(SMSW, Ev),
			 RM(UD, UD, UD, UD, UD, UD, O(RDPKRU, NONE), O(WRPKRU, NONE)),
			 O(LMSW, Ew),
			 RM(O(SWAPGS, NONE), O(RDTSCP, NONE), UD, UD, UD, UD, UD, UD))),
	[0x02] = O(LAR, GvEw), O(LSL, GvEw), UD, O(SYSCALL, NONE),
	[0x06] = O(CLTS, NONE), O(SYSRET, NONE), O(INVD, NONE), O(WBINVD, NONE), UD, O(UD2, NONE),
	[0x0c] = UD, O(PREFETCH, M), UD, UDF(PQIb),
	/* 10 */
	[0x10] = PFX(O(MOVUPS, VW), O(MOVUPD, VW), O(MOVSS, VW), O(MOVSD_X, VW)),
	[0x11] = PFX(O(MOVUPS, WV), O(MOVUPD, WV), O(MOVSS, WV), O(MOVSD_X, WV)),
	[0x12] = PFX(MOD(O(MOVLPS, VM), O(MOVHLPS, VU)), O(MOVLPD, VM), O(MOVSLDUP, VW),
		     O(MOVDDUP, VW)),
	[0x13] = PS_PD(MOVL, MV),
	[0x14] = PS_PD(UNPCKL, VW), PS_PD(UNPCKH, VW),
	[0x16] = PFX(MOD(O(MOVHPS, VM), O(MOVLHPS, VU)), O(MOVHPD, VM), O(MOVSHDUP, VW), UDF(VW)),
	[0x17] = PS_PD(MOVH, MV),
	[0x18] = O(PREFETCH, Ev), HINT, HINT, HINT, HINT, HINT,
	[0x1e] = PFX(HINT, HINT,
		     MOD(HINT, GRP(HINT, HINT, HINT, HINT, HINT, HINT, HINT,
				   RM(HINT, HINT, O(ENDBR64, Ev), O(ENDBR32, Ev), HINT, HINT, HINT,
				      HINT))),
		     HINT),
	[0x1f] = O(NOP, Ev),
	/* 20 */
	[0x20] = OF(MOVFROMCR, RC, OF_F64), OF(MOVFROMDR, RC, OF_F64), OF(MOVTOCR, CR, OF_F64),
	OF(MOVTODR, CR, OF_F64),
	[0x28] = PS_PD(MOVA, VW), PS_PD(MOVA, WV),
	[0x2a] = PFX(O(CVTPI2PS, VQ), O(CVTPI2PD, VQ), O(CVTSI2SS, VE), O(CVTSI2SD, VE)),
	[0x2b] = PS_PD(MOVNT, MV),
	[0x2c] = PFX(O(CVTTPS2PI, PW), O(CVTTPD2PI, PW), O(CVTTSS2SI, GW), O(CVTTSD2SI, GW)),
	[0x2d] = PFX(O(CVTPS2PI, PW), O(CVTPD2PI, PW), O(CVTSS2SI, GW), O(CVTSD2SI, GW)),
	[0x2e] = PFX(O(UCOMISS, VW), O(UCOMISD, VW), UDF(VW), UDF(VW)),
	[0x2f] = PFX(O(COMISS, VW), O(COMISD, VW), UDF(VW), UDF(VW)),
	/* 30: 38 and 3A are the three-byte escapes (the decoder's business) */
	[0x30] = O(WRMSR, NONE), O(RDTSC, NONE), O(RDMSR, NONE), O(RDPMC, NONE),
	O(SYSENTER, NONE), O(SYSEXIT, NONE), UD, O(VMX, NONE),
	/* 40 */
	[0x40] = CC16(CMOV, GvEv, 0),
	/* 50 */
	[0x50] = PS_PD(MOVMSK, GU), PS_PD_SS_SD(SQRT, VW),
	[0x52] = PFX(O(RSQRTPS, VW), UDF(VW), O(RSQRTSS, VW), UDF(VW)),
	[0x53] = PFX(O(RCPPS, VW), UDF(VW), O(RCPSS, VW), UDF(VW)),
	[0x54] = PS_PD(AND, VW), PS_PD(ANDN, VW), PS_PD(OR, VW), PS_PD(XOR, VW),
	[0x58] = PS_PD_SS_SD(ADD, VW), PS_PD_SS_SD(MUL, VW),
	[0x5a] = PFX(O(CVTPS2PD, VW), O(CVTPD2PS, VW), O(CVTSS2SD, VW), O(CVTSD2SS, VW)),
	[0x5b] = PFX(O(CVTDQ2PS, VW), O(CVTPS2DQ, VW), O(CVTTPS2DQ, VW), UDF(VW)),
	[0x5c] = PS_PD_SS_SD(SUB, VW), PS_PD_SS_SD(MIN, VW), PS_PD_SS_SD(DIV, VW),
	PS_PD_SS_SD(MAX, VW),
	/* 60 */
	[0x60] = MMX_SSE(PUNPCKLBW), MMX_SSE(PUNPCKLWD), MMX_SSE(PUNPCKLDQ), MMX_SSE(PACKSSWB),
	MMX_SSE(PCMPGTB), MMX_SSE(PCMPGTW), MMX_SSE(PCMPGTD), MMX_SSE(PACKUSWB),
	MMX_SSE(PUNPCKHBW), MMX_SSE(PUNPCKHWD), MMX_SSE(PUNPCKHDQ), MMX_SSE(PACKSSDW),
	SSE66(PUNPCKLQDQ), SSE66(PUNPCKHQDQ),
	[0x6e] = PFX(O(MOVD, PE), O(MOVD, VE), UDF(VE), UDF(VE)),
	[0x6f] = PFX(O(MOVQ, PQ), O(MOVDQA, VW), O(MOVDQU, VW), UDF(VW)),
	/* 70 */
	[0x70] = PFX(O(PSHUFW, PQIb), O(PSHUFD, VWIb), O(PSHUFHW, VWIb), O(PSHUFLW, VWIb)),
	[0x71] = PFX(GRP(UDF(NIb), UDF(NIb), O(PSRLW, NIb), UDF(NIb), O(PSRAW, NIb), UDF(NIb),
			 O(PSLLW, NIb), UDF(NIb)),
		     GRP(UDF(UIb), UDF(UIb), O(PSRLW, UIb), UDF(UIb), O(PSRAW, UIb), UDF(UIb),
			 O(PSLLW, UIb), UDF(UIb)),
		     UDF(UIb), UDF(UIb)),
	[0x72] = PFX(GRP(UDF(NIb), UDF(NIb), O(PSRLD, NIb), UDF(NIb), O(PSRAD, NIb), UDF(NIb),
			 O(PSLLD, NIb), UDF(NIb)),
		     GRP(UDF(UIb), UDF(UIb), O(PSRLD, UIb), UDF(UIb), O(PSRAD, UIb), UDF(UIb),
			 O(PSLLD, UIb), UDF(UIb)),
		     UDF(UIb), UDF(UIb)),
	[0x73] = PFX(GRP(UDF(NIb), UDF(NIb), O(PSRLQ, NIb), UDF(NIb), UDF(NIb), UDF(NIb),
			 O(PSLLQ, NIb), UDF(NIb)),
		     GRP(UDF(UIb), UDF(UIb), O(PSRLQ, UIb), O(PSRLDQ, UIb), UDF(UIb), UDF(UIb),
			 O(PSLLQ, UIb), O(PSLLDQ, UIb)),
		     UDF(UIb), UDF(UIb)),
	[0x74] = MMX_SSE(PCMPEQB), MMX_SSE(PCMPEQW), MMX_SSE(PCMPEQD),
	[0x77] = PFX(O(EMMS, NONE), UD, UD, UD),
	[0x78] = PFX(O(VMX, EvGv), UDF(VW), UDF(VW), UDF(VW)),
	[0x79] = PFX(O(VMX, GvEv), UDF(VW), UDF(VW), UDF(VW)),
	[0x7c] = PFX(UDF(VW), O(HADDPD, VW), UDF(VW), O(HADDPS, VW)),
	[0x7d] = PFX(UDF(VW), O(HSUBPD, VW), UDF(VW), O(HSUBPS, VW)),
	[0x7e] = PFX(O(MOVD, EP), O(MOVD, EV), O(MOVQ, VW), UDF(VW)),
	[0x7f] = PFX(O(MOVQ, QP), O(MOVDQA, WV), O(MOVDQU, WV), UDF(VW)),
	/* 80 */
	[0x80] = CC16(J, Jz, OF_F64),
	[0x90] = CC16(SET, Eb, 0),
	/* a0 */
	[0xa0] = OF(PUSHSR, NONE, OF_D64), OF(POPSR, NONE, OF_D64), O(CPUID, NONE), O(BT, EvGv),
	O(SHLD, EvGvIb), O(SHLD, EvGv), UD, UD,
	OF(PUSHSR, NONE, OF_D64), OF(POPSR, NONE, OF_D64), O(RSM, NONE), O(BTS, EvGv),
	O(SHRD, EvGvIb), O(SHRD, EvGv),
	[0xae] = PFX(MOD(GRP(O(FXSAVE, M), O(FXRSTOR, M), O(LDMXCSR, M), O(STMXCSR, M),
			     O(XSAVE, M), O(XRSTOR, M), O(XSAVEOPT, M), O(CLFLUSH, M)),
			 GRP(UD, UD, UD, UD, UD, O(LFENCE, NONE), O(MFENCE, NONE),
			     O(SFENCE, NONE))),
		     MOD(GRP(UDF(M), UDF(M), UDF(M), UDF(M), UDF(M), UDF(M), O(CLWB, M),
			     O(CLFLUSHOPT, M)),
			 UD),
		     MOD(UDF(M), GRP(O(RDFSBASE, Ry), O(RDGSBASE, Ry), O(WRFSBASE, Ry),
				     O(WRGSBASE, Ry), UD, UD, UD, UD)),
		     MOD(UDF(M), UD)),
	[0xaf] = O(IMUL, GvEv),
	/* b0 */
	[0xb0] = O(CMPXCHG, EbGb), O(CMPXCHG, EvGv), O(LSS, GvM), O(BTR, EvGv), O(LFS, GvM),
	O(LGS, GvM), O(MOVZXB, GvEb), O(MOVZXW, GvEw),
	[0xb8] = REPF3(UD, O(POPCNT, GvEv)), O(UD1, GvEv),
	GRP(UDF(EvIb), UDF(EvIb), UDF(EvIb), UDF(EvIb), O(BT, EvIb), O(BTS, EvIb), O(BTR, EvIb),
	    O(BTC, EvIb)),
	O(BTC, EvGv), REPF3(O(BSF, GvEv), O(TZCNT, GvEv)), REPF3(O(BSR, GvEv), O(LZCNT, GvEv)),
	O(MOVSXB, GvEb), O(MOVSXW, GvEw),
	/* c0 */
	[0xc0] = O(XADD, EbGb), O(XADD, EvGv),
	PFX(O(CMPPS, VWIb), O(CMPPD, VWIb), O(CMPSS, VWIb), O(CMPSD_X, VWIb)),
	[0xc3] = PFX(O(MOVNTI, MGy), UDF(MGy), UDF(MGy), UDF(MGy)),
	[0xc4] = PFX(O(PINSRW, PEIb), O(PINSRW, VEIb), UDF(VEIb), UDF(VEIb)),
	[0xc5] = PFX(O(PEXTRW, GNIb), O(PEXTRW, GUIb), UDF(GUIb), UDF(GUIb)),
	[0xc6] = PS_PD(SHUF, VWIb),
	[0xc7] = GRP(UDF(M), O(CMPXCHG8B, M), UDF(M), O(XRSTORS, M), O(XSAVEC, M), O(XSAVES, M),
		     MOD(O(VMX, M), O(RDRAND, Ry)),
		     MOD(O(VMX, M), REPF3(O(RDSEED, Ry), O(RDPID, Ry)))),
	[0xc8] = R8(BSWAP, Zv),
	/* d0 */
	[0xd0] = PFX(UDF(VW), O(ADDSUBPD, VW), UDF(VW), O(ADDSUBPS, VW)),
	MMX_SSE(PSRLW), MMX_SSE(PSRLD), MMX_SSE(PSRLQ), MMX_SSE(PADDQ), MMX_SSE(PMULLW),
	PFX(UDF(VW), O(MOVQ, WV), O(MOVQ2DQ, VN), O(MOVDQ2Q, PU)),
	PFX(O(PMOVMSKB, GN), O(PMOVMSKB, GU), UDF(GU), UDF(GU)),
	MMX_SSE(PSUBUSB), MMX_SSE(PSUBUSW), MMX_SSE(PMINUB), MMX_SSE(PAND), MMX_SSE(PADDUSB),
	MMX_SSE(PADDUSW), MMX_SSE(PMAXUB), MMX_SSE(PANDN),
	/* e0 */
	[0xe0] = MMX_SSE(PAVGB), MMX_SSE(PSRAW), MMX_SSE(PSRAD), MMX_SSE(PAVGW), MMX_SSE(PMULHUW),
	MMX_SSE(PMULHW),
	PFX(UDF(VW), O(CVTTPD2DQ, VW), O(CVTDQ2PD, VW), O(CVTPD2DQ, VW)),
	PFX(O(MOVNTQ, MP), O(MOVNTDQ, MV), UDF(MV), UDF(MV)),
	MMX_SSE(PSUBSB), MMX_SSE(PSUBSW), MMX_SSE(PMINSW), MMX_SSE(POR), MMX_SSE(PADDSB),
	MMX_SSE(PADDSW), MMX_SSE(PMAXSW), MMX_SSE(PXOR),
	/* f0 */
	[0xf0] = PFX(UDF(VM), UDF(VM), UDF(VM), O(LDDQU, VM)),
	MMX_SSE(PSLLW), MMX_SSE(PSLLD), MMX_SSE(PSLLQ), MMX_SSE(PMULUDQ), MMX_SSE(PMADDWD),
	MMX_SSE(PSADBW),
	PFX(O(MASKMOVQ, PN), O(MASKMOVDQU, VU), UDF(VU), UDF(VU)),
	MMX_SSE(PSUBB), MMX_SSE(PSUBW), MMX_SSE(PSUBD), MMX_SSE(PSUBQ), MMX_SSE(PADDB),
	MMX_SSE(PADDW), MMX_SSE(PADDD), O(UD0, GvEv),
};

/* ---- the three-byte maps 0F 38 and 0F 3A (tables) ---- */

const struct opdesc decode_map0f38[256] = {
	[0x00] = MMX_SSE(PSHUFB), MMX_SSE(PHADDW), MMX_SSE(PHADDD), MMX_SSE(PHADDSW),
	MMX_SSE(PMADDUBSW), MMX_SSE(PHSUBW), MMX_SSE(PHSUBD), MMX_SSE(PHSUBSW), MMX_SSE(PSIGNB),
	MMX_SSE(PSIGNW), MMX_SSE(PSIGND), MMX_SSE(PMULHRSW),
	[0x10] = SSE66(PBLENDVB),
	[0x14] = SSE66(BLENDVPS), SSE66(BLENDVPD),
	[0x17] = SSE66(PTEST),
	[0x1c] = MMX_SSE(PABSB), MMX_SSE(PABSW), MMX_SSE(PABSD),
	[0x20] = SSE66(PMOVSXBW), SSE66(PMOVSXBD), SSE66(PMOVSXBQ), SSE66(PMOVSXWD),
	SSE66(PMOVSXWQ), SSE66(PMOVSXDQ),
	[0x28] = SSE66(PMULDQ), SSE66(PCMPEQQ), SSE66F(MOVNTDQA, VM), SSE66(PACKUSDW),
	[0x30] = SSE66(PMOVZXBW), SSE66(PMOVZXBD), SSE66(PMOVZXBQ), SSE66(PMOVZXWD),
	SSE66(PMOVZXWQ), SSE66(PMOVZXDQ),
	[0x37] = SSE66(PCMPGTQ), SSE66(PMINSB), SSE66(PMINSD), SSE66(PMINUW), SSE66(PMINUD),
	SSE66(PMAXSB), SSE66(PMAXSD), SSE66(PMAXUW), SSE66(PMAXUD),
	[0x40] = SSE66(PMULLD), SSE66(PHMINPOSUW),
	[0x80] = SSE66F(VMX, GvM), SSE66F(VMX, GvM), SSE66F(INVPCID, GvM),
	[0xc8] = PFX(O(SHA1NEXTE, VW), UDF(VW), UDF(VW), UDF(VW)),
	PFX(O(SHA1MSG1, VW), UDF(VW), UDF(VW), UDF(VW)),
	PFX(O(SHA1MSG2, VW), UDF(VW), UDF(VW), UDF(VW)),
	PFX(O(SHA256RNDS2, VW), UDF(VW), UDF(VW), UDF(VW)),
	PFX(O(SHA256MSG1, VW), UDF(VW), UDF(VW), UDF(VW)),
	PFX(O(SHA256MSG2, VW), UDF(VW), UDF(VW), UDF(VW)),
	[0xcf] = SSE66(GF2P8MULB),
	[0xdb] = SSE66(AESIMC), SSE66(AESENC), SSE66(AESENCLAST), SSE66(AESDEC), SSE66(AESDECLAST),
	[0xf0] = PFX(O(MOVBE, GvM), O(MOVBE, GvM), UDF(GvEv), O(CRC32, GyEb)),
	PFX(O(MOVBE, MGv), O(MOVBE, MGv), UDF(GvEv), O(CRC32, GyEy)),
	[0xf6] = PFX(UDF(GvEv), O(ADCX, GyEy), O(ADOX, GyEy), UDF(GvEv)),
};

#define SSE66I(o) SSE66F(o, VWIb)

const struct opdesc decode_map0f3a[256] = {
	[0x08] = SSE66I(ROUNDPS), SSE66I(ROUNDPD), SSE66I(ROUNDSS), SSE66I(ROUNDSD),
	SSE66I(BLENDPS), SSE66I(BLENDPD), SSE66I(PBLENDW),
	PFX(O(PALIGNR, PQIb), O(PALIGNR, VWIb), UDF(VWIb), UDF(VWIb)),
	[0x14] = SSE66F(PEXTRB, EVIb), SSE66F(PEXTRW, EVIb), SSE66F(PEXTRD, EVIb),
	SSE66F(EXTRACTPS, EVIb),
	[0x20] = SSE66F(PINSRB, VEIb), SSE66I(INSERTPS), SSE66F(PINSRD, VEIb),
	[0x40] = SSE66I(DPPS), SSE66I(DPPD), SSE66I(MPSADBW),
	[0x44] = SSE66I(PCLMULQDQ),
	[0x60] = SSE66I(PCMPESTRM), SSE66I(PCMPESTRI), SSE66I(PCMPISTRM), SSE66I(PCMPISTRI),
	[0xcc] = PFX(O(SHA1RNDS4, VWIb), UDF(VWIb), UDF(VWIb), UDF(VWIb)),
	[0xce] = SSE66I(GF2P8AFFINEQB), SSE66I(GF2P8AFFINEINVQB),
	[0xdf] = SSE66I(AESKEYGENASSIST),
};

/* clang-format on */
