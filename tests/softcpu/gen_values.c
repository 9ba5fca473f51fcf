/*
 * Operand values for the differential tests: a small deterministic PRNG
 * (xorshift64*, seeded through splitmix64) and generators that mix random
 * values with the edge cases of each size (0, 1, -1, sign boundaries,
 * powers of two) and with the special floating-point values (+-0,
 * denormals, +-inf, QNaN/SNaN, rounding and conversion boundaries) for
 * SSE lanes and x87 registers.
 */
#include <string.h>

#include "difftest.h"
#include "gen_internal.h"

void dt_rng_seed(struct dt_rng *r, uint64_t seed)
{
	/* splitmix64: any seed, including 0, gives a good non-zero state */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	r->s = (z ^ (z >> 31)) | 1;
}

uint64_t dt_rng_next(struct dt_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t gv_below(struct dt_rng *r, uint64_t n)
{
	return n ? dt_rng_next(r) % n : 0;
}

uint64_t gv_mask(unsigned bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/* An edge value of the given size, zero-extended. */
static uint64_t edge(struct dt_rng *r, unsigned bits)
{
	uint64_t m = gv_mask(bits), smin = 1ULL << (bits - 1);

	switch (gv_below(r, 12)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return m;
	case 3:
		return smin - 1;
	case 4:
		return smin;
	case 5:
		return smin + 1;
	case 6:
		return (smin - 2) & m;
	case 7:
		return 1ULL << gv_below(r, bits);
	case 8:
		return ((1ULL << gv_below(r, bits)) - 1) & m;
	case 9:
		return (m - 1) & m;
	case 10:
		return 0x5555555555555555ULL & m;
	default:
		return ~(1ULL << gv_below(r, bits)) & m;
	}
}

static const unsigned sizes[4] = {8, 16, 32, 64};

uint64_t gv_int(struct dt_rng *r, unsigned bits)
{
	uint64_t v = dt_rng_next(r);
	unsigned s;

	if (bits == 0 || bits > 64)
		bits = 64;
	switch (gv_below(r, 16)) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
	case 5:
		return v;
	case 6:
		return v & 0xff;
	case 7:
		return -(v & 0xff);
	default:
		s = gv_below(r, 2) ? bits : sizes[gv_below(r, 4)];
		switch (gv_below(r, 4)) {
		case 0:
			v = 0;
			break;
		case 1:
			v = ~0ULL;
			break;
		default:
			break;
		}
		return (v & ~gv_mask(s)) | edge(r, s);
	}
}

uint32_t gv_f32(struct dt_rng *r)
{
	static const uint32_t sp[] = {
	    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000,
	    0x80800000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x3f000000, 0x40200000, 0xbfc00000,
	    0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001,
	    0xff800001, 0x7fa00000, 0x4f000000, 0xcf000000, 0x4effffff, 0xceffffff, 0x5f000000,
	    0xdf000000, 0x4b000000, 0x3effffff, 0x3f7fffff, 0x4b7fffff, 0x40490fdb,
	};
	uint32_t v = (uint32_t)dt_rng_next(r);

	switch (gv_below(r, 8)) {
	case 0:
	case 1:
	case 2:
		return sp[gv_below(r, sizeof(sp) / sizeof(sp[0]))];
	case 3: /* NaN with a random payload, quiet or signalling */
		return (v & 0x803fffff) | 0x7f800001 | (uint32_t)(gv_below(r, 2) << 22);
	case 4: /* moderate magnitudes: exponent near the bias */
		return (v & 0x807fffff) | (uint32_t)(0x70 + gv_below(r, 32)) << 23;
	case 5: /* denormal */
		return v & 0x807fffff;
	default:
		return v;
	}
}

uint64_t gv_f64(struct dt_rng *r)
{
	static const uint64_t sp[] = {
	    0x0000000000000000ULL, 0x8000000000000000ULL, 0x0000000000000001ULL,
	    0x800fffffffffffffULL, 0x0010000000000000ULL, 0x8010000000000000ULL,
	    0x3ff0000000000000ULL, 0xbff0000000000000ULL, 0x3ff8000000000000ULL,
	    0x3fe0000000000000ULL, 0x4004000000000000ULL, 0xbff8000000000000ULL,
	    0x7fefffffffffffffULL, 0xffefffffffffffffULL, 0x7ff0000000000000ULL,
	    0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0xfff8000000000000ULL,
	    0x7ff0000000000001ULL, 0x7ff4000000000000ULL, 0x41e0000000000000ULL,
	    0xc1e0000000000000ULL, 0x41dfffffffe00000ULL, 0xc1e0000000100000ULL,
	    0x43e0000000000000ULL, 0xc3e0000000000000ULL, 0x4330000000000000ULL,
	    0x3fdfffffffffffffULL, 0x400921fb54442d18ULL, 0x47efffffe0000000ULL,
	    0x36a0000000000000ULL,
	};
	uint64_t v = dt_rng_next(r);

	switch (gv_below(r, 8)) {
	case 0:
	case 1:
	case 2:
		return sp[gv_below(r, sizeof(sp) / sizeof(sp[0]))];
	case 3:
		return (v & 0x8007ffffffffffffULL) | 0x7ff0000000000001ULL | (gv_below(r, 2) << 51);
	case 4:
		return (v & 0x800fffffffffffffULL) | (0x3e0 + gv_below(r, 64)) << 52;
	case 5:
		return v & 0x800fffffffffffffULL;
	default:
		return v;
	}
}

/* An 80-bit extended value: mantissa (with the explicit integer bit) and sign|exponent. */
void gv_f80(struct dt_rng *r, uint8_t out[10])
{
	uint64_t mant = dt_rng_next(r), v = dt_rng_next(r);
	uint16_t se;

	switch (gv_below(r, 16)) {
	case 0:
		mant = 0;
		se = 0;
		break; /* +0 */
	case 1:
		mant = 0;
		se = 0x8000;
		break; /* -0 */
	case 2:
		mant = 1ULL << 63;
		se = 0x3fff;
		break; /* 1.0 */
	case 3:
		mant = 1ULL << 63;
		se = 0x7fff;
		break; /* inf */
	case 4:
		mant = (mant >> 2) | 3ULL << 62;
		se = 0x7fff;
		break; /* QNaN */
	case 5:
		mant = (mant >> 3) | 1ULL << 63 | 1;
		se = 0x7fff;
		break; /* SNaN */
	case 6:
		mant >>= 1;
		se = 0;
		break; /* denormal */
	case 7:
		mant = 0xc000000000000000ULL;
		se = 0xffff;
		break; /* indefinite */
	case 8:
		mant |= 1ULL << 63;
		se = 0x7ffe;
		break; /* huge */
	case 9: {      /* small integers, exactly representable */
		uint64_t n = gv_below(r, 1000) + 1;
		int lz = __builtin_clzll(n);
		mant = n << lz;
		se = (uint16_t)(0x3fff + 63 - lz);
		break;
	}
	case 10:
		mant &= ~(1ULL << 63);
		se = (uint16_t)(v & 0x7ffe);
		break; /* unnormal */
	default:
		mant |= 1ULL << 63;
		se = (uint16_t)(0x3fc0 + (v & 0x7f));
		break; /* normal */
	}
	if (v & (1ULL << 40))
		se ^= 0x8000;
	memcpy(out, &mant, 8);
	memcpy(out + 8, &se, 2);
}

void gv_xmm(struct dt_rng *r, uint8_t out[16], unsigned cls)
{
	for (int half = 0; half < 2; half++) {
		uint64_t q;
		unsigned k = (unsigned)gv_below(r, 8);

		if (cls == C_SSEF && k < 5)
			k = 1;
		else if (cls == C_SSED && k < 5)
			k = 2;
		switch (k) {
		case 1:
			q = gv_f32(r) | (uint64_t)gv_f32(r) << 32;
			break;
		case 2:
			q = gv_f64(r);
			break;
		case 3:
			q = gv_int(r, 8u << gv_below(r, 4));
			break;
		default:
			q = dt_rng_next(r);
			break;
		}
		memcpy(out + 8 * half, &q, 8);
	}
}

/* Writes an operand value of bits/8 bytes (sizes 8..128, 80 for x87 m80). */
void gv_mem_value(struct dt_rng *r, uint8_t *dst, unsigned bits, unsigned cls)
{
	uint64_t v;

	if (bits == 80) {
		gv_f80(r, dst);
		return;
	}
	if (bits >= 128) {
		for (unsigned i = 0; i < bits / 128; i++)
			gv_xmm(r, dst + 16 * i, cls);
		return;
	}
	if (cls == C_X87 || cls == C_SSEF || cls == C_SSED) {
		if (bits == 32) {
			uint32_t f = gv_f32(r);
			memcpy(dst, &f, 4);
			return;
		}
		if (bits == 64) {
			v = gv_f64(r);
			memcpy(dst, &v, 8);
			return;
		}
	}
	v = gv_int(r, bits);
	memcpy(dst, &v, bits / 8);
}
