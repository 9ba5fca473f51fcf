/*
 * Assorted integer instructions (SDM vol. 2: "MOVBE", "CRC32", "ADCX",
 * "ADOX", "XLAT/XLATB").
 *
 * MOVBE: a load or store with the bytes reversed (memory operand only).
 * CRC32: CRC-32C (polynomial 0x11EDC6F41, bit-reflected, no inversion: the
 * instruction is one step of the usual algorithm) of an 8/16/32/64-bit
 * source into a 32-bit accumulator, zero-extended into a 64-bit
 * destination; byte-wise with a table. ADCX/ADOX: add with carry through
 * CF resp. OF only, every other flag kept. XLAT: AL <- [seg:rBX + AL].
 *
 * Operand sizes the decoder's mandatory-prefix rows hide: 66 selects the
 * MOVBE row but is still its operand-size prefix, and with F2 (CRC32) the
 * 66 prefix sizes the source.
 */
#include "accel/soft/flags.h"
#include "accel/soft/mem.h"
#include "accel/soft/ops.h"

/* ---- MOVBE ---- */

static inline __attribute__((always_inline)) uint64_t bswap_sz(uint64_t v, unsigned sz)
{
	switch (sz) {
	case SZ16:
		return __builtin_bswap16((uint16_t)v);
	case SZ32:
		return __builtin_bswap32((uint32_t)v);
	default:
		return __builtin_bswap64(v);
	}
}

/* FORM_RM: reg <- swapped [mem]; FORM_MR: [mem] <- swapped reg. */
#define MOVBE_SZ(sz)                                                                               \
	HANDLER(movbe_rm_##sz)                                                                     \
	{                                                                                          \
		reg_set(cpu, sz, i->reg, bswap_sz(mem_read(cpu, i, insn_ea(cpu, i), sz), sz));     \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(movbe_mr_##sz)                                                                     \
	{                                                                                          \
		mem_write(cpu, i, insn_ea(cpu, i), sz, bswap_sz(reg_get(cpu, sz, i->reg), sz));    \
		return insn_next(cpu, i);                                                          \
	}
MOVBE_SZ(SZ16)
MOVBE_SZ(SZ32)
MOVBE_SZ(SZ64)

static const insn_fn movbe_fns[2][4] = {
    {NULL, movbe_rm_SZ16, movbe_rm_SZ32, movbe_rm_SZ64},
    {NULL, movbe_mr_SZ16, movbe_mr_SZ32, movbe_mr_SZ64},
};

/* ---- CRC32 ---- */

/* crc32c_table[n]: n shifted through the reflected polynomial 0x82F63B78 eight times. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static inline __attribute__((always_inline)) uint32_t crc32c(uint32_t crc, uint64_t v, unsigned sz)
{
	for (unsigned k = 0; k < (1u << sz); k++, v >>= 8)
		crc = crc32c_table[(crc ^ v) & 0xff] ^ crc >> 8;
	return crc;
}

/* The accumulator is the low 32 bits of reg; the result is zero-extended. */
#define CRC_SZ(sz)                                                                                 \
	HANDLER(crc32_rr_##sz)                                                                     \
	{                                                                                          \
		uint64_t v = reg_get(cpu, sz, i->base);                                            \
		cpu->gpr[i->reg] = crc32c((uint32_t)cpu->gpr[i->reg], v, sz);                      \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(crc32_rm_##sz)                                                                     \
	{                                                                                          \
		uint64_t v = mem_read(cpu, i, insn_ea(cpu, i), sz);                                \
		cpu->gpr[i->reg] = crc32c((uint32_t)cpu->gpr[i->reg], v, sz);                      \
		return insn_next(cpu, i);                                                          \
	}
CRC_SZ(SZ8)
CRC_SZ(SZ16)
CRC_SZ(SZ32)
CRC_SZ(SZ64)

static const insn_fn crc32_fns[2][4] = {
    {crc32_rr_SZ8, crc32_rr_SZ16, crc32_rr_SZ32, crc32_rr_SZ64},
    {crc32_rm_SZ8, crc32_rm_SZ16, crc32_rm_SZ32, crc32_rm_SZ64},
};

/* ---- ADCX / ADOX: reg <- reg + src + carry, the carry in and out is CF / OF ---- */

static inline __attribute__((always_inline)) void adx(struct cpu *cpu, const struct insn *i,
                                                      uint32_t flag, unsigned sz, uint64_t b)
{
	lf_materialise(cpu);
	uint64_t a = reg_get(cpu, sz, i->reg), c = (cpu->rflags & flag) != 0, r;
	bool out;
	if (sz == SZ64) {
		r = a + b + c;
		out = c ? r <= a : r < a;
	} else {
		r = (a & 0xffffffff) + (b & 0xffffffff) + c;
		out = r >> 32;
	}
	reg_set(cpu, sz, i->reg, r);
	cpu->rflags = (cpu->rflags & ~(uint64_t)flag) | (out ? flag : 0);
}

#define ADX_SZ(name, flag, sz)                                                                     \
	HANDLER(name##_rr_##sz)                                                                    \
	{                                                                                          \
		adx(cpu, i, flag, sz, reg_get(cpu, sz, i->base));                                  \
		return insn_next(cpu, i);                                                          \
	}                                                                                          \
	HANDLER(name##_rm_##sz)                                                                    \
	{                                                                                          \
		adx(cpu, i, flag, sz, mem_read(cpu, i, insn_ea(cpu, i), sz));                      \
		return insn_next(cpu, i);                                                          \
	}
ADX_SZ(adcx, FLAG_CF, SZ32)
ADX_SZ(adcx, FLAG_CF, SZ64)
ADX_SZ(adox, FLAG_OF, SZ32)
ADX_SZ(adox, FLAG_OF, SZ64)

/* [adox][memory][size] */
static const insn_fn adx_fns[2][2][4] = {
    {{[SZ32] = adcx_rr_SZ32, [SZ64] = adcx_rr_SZ64},
     {[SZ32] = adcx_rm_SZ32, [SZ64] = adcx_rm_SZ64}},
    {{[SZ32] = adox_rr_SZ32, [SZ64] = adox_rr_SZ64},
     {[SZ32] = adox_rm_SZ32, [SZ64] = adox_rm_SZ64}},
};

/* ---- XLAT: per address size (the table address wraps like any other) ---- */

#define XLAT_AS(name, wrap)                                                                        \
	HANDLER(name)                                                                              \
	{                                                                                          \
		uint64_t a = wrap(cpu->gpr[R_RBX] + (uint8_t)cpu->gpr[R_RAX]);                     \
		set_reg8(cpu, 0, mem_read8(cpu, i, a + cpu->seg_ea[i->seg & 7].base));             \
		return insn_next(cpu, i);                                                          \
	}
#define WRAP64(x) (x)
XLAT_AS(xlat_a64, WRAP64)
XLAT_AS(xlat_a32, (uint32_t))
XLAT_AS(xlat_a16, (uint16_t))

insn_fn intmisc_select(const struct decode *d)
{
	bool mem = d->form == FORM_RM || d->form == FORM_MR;
	bool def16 = d->mode == CPU_MODE_REAL || d->mode == CPU_MODE_PROT16;
	unsigned sz = d->osize;

	switch (d->op) {
	case OP_MOVBE:
		if (d->mpfx == 0x66 && !(d->rex & 8))
			sz = def16 ? SZ32 : SZ16;
		return movbe_fns[d->form == FORM_MR][sz];
	case OP_CRC32:
		if (d->opcode == 0xf0)
			sz = SZ8;
		else
			sz = (d->rex & 8) ? SZ64 : def16 != d->pfx66 ? SZ16 : SZ32;
		return crc32_fns[mem][sz];
	case OP_ADCX:
	case OP_ADOX:
		return adx_fns[d->op == OP_ADOX][mem][sz];
	case OP_XLAT:
		return d->asize == SZ64 ? xlat_a64 : d->asize == SZ32 ? xlat_a32 : xlat_a16;
	default:
		return NULL;
	}
}
