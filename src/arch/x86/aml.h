/*
 * A small AML byte builder (ACPI 6.5 section 20.2, "AML Grammar
 * Definition") and resource-template builder (section 6.4, "Resource
 * Data Types for ACPI"), enough for the DSDT acpi.c writes: names,
 * scopes, devices, packages, buffers, integers, strings, EISA ids, and
 * IO / IRQ / Memory32Fixed / QWordMemory / Extended Interrupt descriptors.
 *
 * The builder writes into caller storage and never fails mid-way: once a
 * write would not fit (or a name is malformed) it sets ->error and ignores
 * everything after, so a caller checks once at the end.
 */
#ifndef EMBER_ARCH_X86_AML_H
#define EMBER_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool error;
};

/* Starts an empty builder over buf[0..cap). */
void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *src, size_t n);

/*
 * NameString (20.2.2): "\\_SB_.COM1", "_S5_", "_SB.RTC" (segments shorter
 * than four characters are padded with '_'); one, two (DualNamePrefix) or
 * more (MultiNamePrefix) segments.
 */
void aml_namestring(struct aml *a, const char *path);
/* ComputationalData for an integer, in the shortest form (Zero, One, Byte..QWord). */
void aml_integer(struct aml *a, uint64_t v);
/* String (StringPrefix, ASCII, NUL). */
void aml_string(struct aml *a, const char *s);
/* Buffer (BufferOp PkgLength BufferSize ByteList) holding data[0..n). */
void aml_buffer(struct aml *a, const void *data, size_t n);

/*
 * Objects with a PkgLength: *_begin returns a mark, *_end (in reverse
 * order of the begins) inserts the length in front of what was written
 * since, in its shortest 1-4 byte encoding.
 */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *path);
size_t aml_package_begin(struct aml *a, uint8_t nr_elements);
void aml_pkg_end(struct aml *a, size_t mark);

/* Name(name, <object>): the caller writes the object right after. */
void aml_name(struct aml *a, const char *name);
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
/* Name(name, EisaId("PNP0501")); id is three capitals and four hex digits. */
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* The compressed EISA id as a DWord, 0 when id is malformed. */
uint32_t aml_eisaid(const char *id);

/* Resource-template descriptors (6.4.2 small, 6.4.3 large), written to a's buffer. */
void aml_res_io(struct aml *a, uint16_t port, uint8_t len);
void aml_res_irq(struct aml *a, unsigned irq);
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t size, bool writable);
void aml_res_qword_memory(struct aml *a, uint64_t base, uint64_t size, bool writable);

#define AML_IRQ_CONSUMER   (1u << 0)
#define AML_IRQ_EDGE       (1u << 1)
#define AML_IRQ_ACTIVE_LOW (1u << 2)
#define AML_IRQ_SHARED     (1u << 3)
void aml_res_ext_irq(struct aml *a, uint32_t gsi, unsigned flags);
/* End Tag with the checksum that makes the template's bytes sum to zero. */
void aml_res_end(struct aml *a);

#endif
