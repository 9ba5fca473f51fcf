/* The table of instruction forms (forms.def) as an array. */
#include "difftest.h"

#define RM    (DT_MK_MODRM | DT_RM_REG | DT_RM_MEM)
#define RMR   (DT_MK_MODRM | DT_RM_REG)
#define RMM   (DT_MK_MODRM | DT_RM_MEM)
#define E(n)  (RM | DT_HAS_EXT | (n))
#define ER(n) (RMR | DT_HAS_EXT | (n))
#define EM(n) (RMM | DT_HAS_EXT | (n))
#define OPR   DT_MK_OPREG
#define NONE  0

#define I0    DT_I0
#define I8    DT_I8
#define I16   DT_I16
#define I32   DT_I32
#define I64   DT_I64
#define R8    DT_R8
#define R32   DT_R32
#define I16I8 DT_I16I8

#define W   DT_F_W
#define LK  DT_F_LOCK
#define NSP DT_F_NOSP
#define STK DT_F_STK
#define A16 DT_F_A16
#define STI DT_F_RMX87
#define APX DT_F_APPROX
#define NVV DT_F_NOVVVV

#define F(name_, pfx_, op_, modrm_, imm_, size_, cls_, undef_, feat_, fl_)                         \
	{.name = name_,                                                                            \
	 .pfx = (const uint8_t *)pfx_,                                                             \
	 .npfx = sizeof(pfx_) - 1,                                                                 \
	 .op = (const uint8_t *)op_,                                                               \
	 .nop = sizeof(op_) - 1,                                                                   \
	 .modrm = modrm_,                                                                          \
	 .imm = imm_,                                                                              \
	 .size = size_,                                                                            \
	 .cls = cls_,                                                                              \
	 .undef = undef_,                                                                          \
	 .feat = feat_,                                                                            \
	 .fl = fl_},
#define V(name_, vex_, op_, modrm_, imm_, size_, cls_, undef_, feat_, fl_)                         \
	{.name = name_,                                                                            \
	 .pfx = (const uint8_t *)"",                                                               \
	 .vex = vex_,                                                                              \
	 .op = (const uint8_t *)op_,                                                               \
	 .nop = sizeof(op_) - 1,                                                                   \
	 .modrm = modrm_,                                                                          \
	 .imm = imm_,                                                                              \
	 .size = size_,                                                                            \
	 .cls = cls_,                                                                              \
	 .undef = undef_,                                                                          \
	 .feat = feat_,                                                                            \
	 .fl = fl_},

const struct dt_form dt_forms[] = {
#include "forms.def"
};

const size_t dt_nr_forms = sizeof(dt_forms) / sizeof(dt_forms[0]);
