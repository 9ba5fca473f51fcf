/*
 * AML and resource-template byte builder (ACPI 6.5 sections 20.2 and 6.4).
 * See aml.h for the contract; every writer here is a no-op once ->error is
 * set, so the only failure a caller sees is that flag.
 */
#include "arch/x86/aml.h"

#include <string.h>

#include "core/macros.h"

/* AML opcodes and prefixes (20.2.3, 20.2.5). */
#define AML_ZERO_OP           0x00
#define AML_ONE_OP            0x01
#define AML_NAME_OP           0x08
#define AML_BYTE_PREFIX       0x0a
#define AML_WORD_PREFIX       0x0b
#define AML_DWORD_PREFIX      0x0c
#define AML_STRING_PREFIX     0x0d
#define AML_QWORD_PREFIX      0x0e
#define AML_SCOPE_OP          0x10
#define AML_BUFFER_OP         0x11
#define AML_PACKAGE_OP        0x12
#define AML_DUAL_NAME_PREFIX  0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX     0x5b
#define AML_DEVICE_OP         0x82 /* after ExtOpPrefix */
#define AML_ROOT_CHAR         '\\'

/* Resource descriptor tags (6.4.2, 6.4.3). */
#define RES_IRQ_NO_FLAGS   0x22 /* small item 0x04, length 2 */
#define RES_IO             0x47 /* small item 0x08, length 7 */
#define RES_END_TAG        0x79 /* small item 0x0f, length 1 */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXT_IRQ        0x89
#define RES_QWORD_ADDRESS  0x8a

/* The largest PkgLength the 4-byte encoding can hold (20.2.4). */
#define AML_PKG_LENGTH_MAX 0x0fffffffu

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->error = false;
}

void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->error)
		return;
	if (n > a->cap - a->len) {
		a->error = true;
		return;
	}
	memcpy(a->buf + a->len, src, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned width)
{
	uint8_t b[8];

	for (unsigned i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, width);
}

static bool aml_seg_char_ok(char c, bool lead)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !lead && c >= '0' && c <= '9';
}

void aml_namestring(struct aml *a, const char *path)
{
	char segs[16][4];
	unsigned nr = 0;

	if (*path == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
	}
	while (*path) {
		size_t n = strcspn(path, ".");
		if (n == 0 || n > 4 || nr == ARRAY_SIZE(segs))
			goto bad;
		for (size_t i = 0; i < 4; i++) {
			char c = i < n ? path[i] : '_';
			if (!aml_seg_char_ok(c, i == 0))
				goto bad;
			segs[nr][i] = c;
		}
		nr++;
		path += n;
		if (*path == '.' && *++path == '\0')
			goto bad;
	}
	if (nr == 0)
		goto bad;
	if (nr == 2)
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	else if (nr > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nr);
	}
	aml_bytes(a, segs, 4 * (size_t)nr);
	return;
bad:
	a->error = true;
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		/* AsciiCharList is 0x01-0x7f. */
		if ((unsigned char)*p > 0x7f)
			a->error = true;
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	if (a->error)
		return;
	size_t body = a->len - mark;
	unsigned n;
	/* The encoded length counts its own bytes (20.2.4). */
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= AML_PKG_LENGTH_MAX)
		n = 4;
	else
		goto bad;
	if (n > a->cap - a->len)
		goto bad;

	size_t total = body + n;
	uint8_t *p = a->buf + mark;
	memmove(p + n, p, body);
	if (n == 1) {
		p[0] = (uint8_t)total;
	} else {
		/* Lead byte: count of following bytes in 7:6, length bits 3:0. */
		p[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	a->len += n;
	return;
bad:
	a->error = true;
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	size_t mark = a->len;
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t mark = a->len;
	aml_namestring(a, path);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	size_t mark = a->len;
	aml_byte(a, nr_elements);
	return mark;
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	size_t mark = a->len;
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_pkg_end(a, mark);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7)
		return 0;
	/* Three letters in 5 bits each ('A' = 1), then four hex digits. */
	for (unsigned i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v = (v << 5) | (uint32_t)(id[i] - '@');
	}
	for (unsigned i = 3; i < 7; i++) {
		int d = aml_hex_digit(id[i]);
		if (d < 0)
			return 0;
		v = (v << 4) | (uint32_t)d;
	}
	/* The id is stored big-endian: the first letter lands in the first byte. */
	return __builtin_bswap32(v);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	uint32_t v = aml_eisaid(id);

	if (v == 0)
		a->error = true;
	aml_name(a, name);
	/* Always the DWord form so that disassemblers show EisaId(). */
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, v, 4);
}

void aml_res_io(struct aml *a, uint16_t port, uint8_t len)
{
	aml_byte(a, RES_IO);
	aml_byte(a, 0x01);  /* decodes 16 address bits */
	aml_le(a, port, 2); /* minimum base */
	aml_le(a, port, 2); /* maximum base: a fixed range */
	aml_byte(a, 1);     /* alignment */
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	/* IRQNoFlags: edge, active high, exclusive (ISA). */
	if (irq > 15)
		a->error = true;
	aml_byte(a, RES_IRQ_NO_FLAGS);
	aml_le(a, 1u << (irq & 15), 2);
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t size, bool writable)
{
	aml_byte(a, RES_MEMORY32_FIXED);
	aml_le(a, 9, 2);
	aml_byte(a, writable ? 0x01 : 0x00);
	aml_le(a, base, 4);
	aml_le(a, size, 4);
}

void aml_res_qword_memory(struct aml *a, uint64_t base, uint64_t size, bool writable)
{
	if (size == 0 || base + size - 1 < base)
		a->error = true;
	aml_byte(a, RES_QWORD_ADDRESS);
	aml_le(a, 43, 2);
	aml_byte(a, 0);    /* resource type: memory range */
	aml_byte(a, 0x0d); /* consumer, fixed minimum and maximum, positive decode */
	aml_byte(a, writable ? 0x01 : 0x00); /* non-cacheable, memory, no translation */
	aml_le(a, 0, 8);                     /* granularity: none for a fixed range */
	aml_le(a, base, 8);
	aml_le(a, base + size - 1, 8);
	aml_le(a, 0, 8); /* translation offset */
	aml_le(a, size, 8);
}

void aml_res_ext_irq(struct aml *a, uint32_t gsi, unsigned flags)
{
	aml_byte(a, RES_EXT_IRQ);
	aml_le(a, 6, 2);
	aml_byte(a, (uint8_t)(flags & 0x0f));
	aml_byte(a, 1); /* one interrupt number follows */
	aml_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	uint8_t sum = RES_END_TAG;

	if (a->error)
		return;
	for (size_t i = 0; i < a->len; i++)
		sum = (uint8_t)(sum + a->buf[i]);
	aml_byte(a, RES_END_TAG);
	aml_byte(a, (uint8_t)-sum);
}
