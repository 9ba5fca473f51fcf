/*
 * Evaluates undef.def (the one table of undefined flags) for a case: which
 * RFLAGS bits and x87 condition codes are compared, and whether the
 * destination itself is undefined (SHLD/SHRD with a count above the size).
 */
#include "difftest.h"

#define CF   0x001u
#define PF   0x004u
#define AF   0x010u
#define ZF   0x040u
#define SF   0x080u
#define DF   0x400u
#define OF   0x800u
#define ALL6 (CF | PF | AF | ZF | SF | OF)

#define C0 0x0100u
#define C1 0x0200u
#define C2 0x0400u
#define C3 0x4000u

enum rule { R_NONE, R_SHIFT, R_SAR, R_ROT, R_SHXD };

static const struct {
	uint32_t rflags;
	uint16_t fsw;
	uint8_t rule;
	const char *name;
	const char *sdm;
} table[] = {
#define UNDEF(id, rflags, fsw, rule, sdm) {rflags, fsw, rule, #id, sdm},
#include "undef.def"
#undef UNDEF
};

_Static_assert(sizeof(table) / sizeof(table[0]) == U_NR, "undef.def");

const char *dt_undef_name(unsigned id)
{
	return id < U_NR ? table[id].name : "?";
}

const char *dt_undef_sdm(unsigned id)
{
	return id < U_NR ? table[id].sdm : "";
}

void dt_undef_mask(const struct dt_case *c, struct dt_mask *m)
{
	const struct dt_form *f = c->form;
	unsigned size = f->size, undef = table[f->undef].rflags;
	unsigned cnt = c->count & (f->fl & DT_F_W ? 63u : 31u);

	m->dest_undef = false;
	switch (table[f->undef].rule) {
	case R_SHIFT:
		if (cnt) {
			undef |= AF;
			if (cnt != 1)
				undef |= OF;
			if (cnt >= size)
				undef |= CF;
		}
		break;
	case R_SAR:
		if (cnt) {
			undef |= AF;
			if (cnt > 1)
				undef |= OF;
		}
		break;
	case R_ROT:
		if (cnt && cnt != 1)
			undef |= OF;
		break;
	case R_SHXD:
		if (cnt > size) {
			undef |= ALL6;
			m->dest_undef = true;
		} else if (cnt) {
			undef |= AF;
			if (cnt != 1)
				undef |= OF;
		}
		break;
	default:
		break;
	}
	m->rflags = (ALL6 | DF) & ~(uint64_t)undef;
	m->fsw = (uint16_t)~table[f->undef].fsw;
}
