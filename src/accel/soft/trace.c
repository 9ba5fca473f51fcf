/*
 * The disassembler of trace.h: decodes with decode_insn_full (no CPU, no
 * memory access: the bytes are copied into a private two-page buffer) and
 * prints the operands of the decoded form (insn.h).
 */
#include "accel/soft/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "accel/soft/decode.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->len = MIN(o->size - 1, o->len + (size_t)r);
}

enum reg_kind { RK_GPR, RK_XMM, RK_MMX, RK_X87 };

static enum reg_kind reg_kind(unsigned fmt)
{
	switch (fmt) {
	case FMT_VW:
	case FMT_WV:
	case FMT_VWIb:
	case FMT_VM:
	case FMT_MV:
	case FMT_VU:
	case FMT_VE:
	case FMT_VEIb:
	case FMT_VN:
	case FMT_VQ:
	case FMT_UIb:
		return RK_XMM;
	case FMT_PQ:
	case FMT_QP:
	case FMT_PQIb:
	case FMT_PE:
	case FMT_PEIb:
	case FMT_PU:
	case FMT_PW:
	case FMT_MP:
	case FMT_PN:
	case FMT_NIb:
		return RK_MMX;
	case FMT_X87:
		return RK_X87;
	default:
		return RK_GPR;
	}
}

static void put_reg(struct out *o, enum reg_kind k, unsigned sz, bool byte, unsigned r)
{
	static const char *const names64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
	                                        "rsi", "rdi", "r8",  "r9",  "r10", "r11",
	                                        "r12", "r13", "r14", "r15"};
	static const char *const low8[8] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
	static const char *const high8[4] = {"ah", "ch", "dh", "bh"};
	if (k == RK_XMM) {
		put(o, "xmm%u", r);
		return;
	}
	if (k == RK_MMX) {
		put(o, "mm%u", r & 7);
		return;
	}
	if (k == RK_X87) {
		put(o, "st(%u)", r & 7);
		return;
	}
	if (byte) { /* a byte offset into gpr (insn.h) */
		if (r & 7) {
			put(o, "%s", high8[(r >> 3) & 3]);
			return;
		}
		r >>= 3;
		if (r < 8)
			put(o, "%s", low8[r]);
		else
			put(o, "r%ub", r);
		return;
	}
	if (r >= 16) {
		put(o, "?");
		return;
	}
	if (sz == SZ64) {
		put(o, "%s", names64[r]);
		return;
	}
	if (r >= 8) {
		put(o, "r%u%s", r, sz == SZ32 ? "d" : "w");
		return;
	}
	const char *n = names64[r] + 1; /* "ax", "cx", ... */
	put(o, sz == SZ32 ? "e%s" : "%s", n);
}

static void put_mem(struct out *o, const struct decode *d, const struct insn *in)
{
	static const char *const seg[8] = {"es", "cs", "ss", "ds", "fs", "gs", "?", ""};
	static const char *const width[4] = {"byte", "word", "dword", "qword"};
	if (reg_kind(d->fmt) == RK_GPR && d->fmt != FMT_M)
		put(o, "%s ", width[d->osize]);
	unsigned s = in->seg & 7;
	put(o, "%s%s[", seg[s], seg[s][0] ? ":" : "");
	bool any = false;
	unsigned asz = d->asize;
	if (in->base != EA_NONE) {
		put_reg(o, RK_GPR, asz, false, in->base);
		any = true;
	}
	if (in->index != EA_NONE) {
		put(o, "%s", any ? "+" : "");
		put_reg(o, RK_GPR, asz, false, in->index);
		put(o, "*%u", 1u << in->scale);
		any = true;
	}
	int64_t disp = (int64_t)in->disp;
	if (!any)
		put(o, "%#llx", (unsigned long long)in->disp);
	else if (disp)
		put(o, "%c%#llx", disp < 0 ? '-' : '+',
		    (unsigned long long)(disp < 0 ? -(uint64_t)disp : (uint64_t)disp));
	put(o, "]");
}

unsigned softcpu_disasm(enum cpu_mode mode, uint64_t rip, const uint8_t *bytes, size_t n, char *buf,
                        size_t size)
{
	static _Thread_local uint8_t page[2 * SOFT_PAGE_SIZE] __attribute__((aligned(64)));
	struct out o = {buf, size, 0};
	if (!size)
		return 0;
	buf[0] = 0;
	size_t off = rip & (SOFT_PAGE_SIZE - 1);
	memset(page, 0, sizeof(page));
	memcpy(page + off, bytes, MIN(n, 15));
	struct fetch f = {.page = rip & SOFT_PAGE_MASK,
	                  .host = {page, page + SOFT_PAGE_SIZE},
	                  .allow_cross = true};
	struct insn in;
	struct decode d;
	decode_insn_full(NULL, mode, &f, rip, &in, &d);
	if (in.len > n)
		return 0;
	if (in.fn == insn_gp0) {
		put(&o, "(too long)");
		return in.len;
	}
	put(&o, "%s%s", d.lock ? "lock " : "", op_info[in.op].name);
	const struct fmt_info *fi = &fmt_info[d.fmt];
	enum reg_kind k = reg_kind(d.fmt);
	bool rb = fi->regb || d.osize == SZ8, bb = fi->rmb || d.osize == SZ8;
	bool imm = fi->imm != I_NONE && fi->imm != I_O;
	switch (d.form) {
	case FORM_RR:
		put(&o, " ");
		put_reg(&o, k, d.osize, fi->layout == L_EG ? bb : rb, in.reg);
		put(&o, ", ");
		put_reg(&o, k, d.osize, fi->layout == L_EG ? rb : bb, in.base);
		break;
	case FORM_RM:
		put(&o, " ");
		put_reg(&o, k, d.osize, rb, in.reg);
		put(&o, ", ");
		put_mem(&o, &d, &in);
		break;
	case FORM_MR:
	case FORM_MI:
	case FORM_M:
		put(&o, " ");
		put_mem(&o, &d, &in);
		if (d.form == FORM_MR) {
			put(&o, ", ");
			put_reg(&o, k, d.osize, rb, in.reg);
		}
		break;
	case FORM_RI:
	case FORM_R:
		put(&o, " ");
		put_reg(&o, k, d.osize, fi->layout == L_E ? bb : rb, in.reg);
		break;
	default:
		break;
	}
	if (imm && d.form != FORM_NONE)
		put(&o, "%s%#llx", d.form == FORM_I ? " " : ", ", (unsigned long long)in.imm);
	return in.len;
}
