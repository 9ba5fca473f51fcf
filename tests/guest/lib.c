/*
 * The little libc the test guest needs: memory and string helpers, a
 * printf subset that formats into a buffer, UART output as one string PIO
 * per line (ember's 16550 keeps THR empty, so no LSR polling), and command
 * line lookup.
 */
#include "guest.h"

/* The compiler may call these for struct copies; keep them out of its own reach. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	unsigned char *de = d + n - 1;
	const unsigned char *se = s + n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(de), "+S"(se), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *ret = dst;
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t str_nlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

void uart_write(const void *buf, size_t len)
{
	outsb(LAYOUT_COM1_PORT, buf, len);
}

void uart_puts(const char *s)
{
	uart_write(s, strlen(s));
}

/* ---- formatting ------------------------------------------------------------- */

struct sink {
	char *buf;
	size_t size, len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool neg, unsigned width, char pad)
{
	char tmp[24];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width > n) {
		put(s, pad);
		width--;
	}
	while (n)
		put(s, tmp[--n]);
}

size_t vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = {buf, size, 0};

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		unsigned width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			size_t n = strlen(str ? str : "(null)");
			for (; width > n; width--)
				put(&s, ' ');
			for (const char *p = str ? str : "(null)"; *p; p++)
				put(&s, *p);
			break;
		}
		case 'c':
			put(&s, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&s, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(&s, v, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case '%':
			put(&s, '%');
			break;
		default: /* unknown conversion or a trailing '%': stop */
			goto out;
		}
	}
out:
	if (s.size)
		s.buf[s.len < s.size ? s.len : s.size - 1] = '\0';
	return s.len < s.size ? s.len : (s.size ? s.size - 1 : 0);
}

static char line_buf[512];

void gprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	size_t n = vformat(line_buf, sizeof(line_buf), fmt, ap);
	va_end(ap);
	uart_write(line_buf, n);
}

void report(const char *name, bool pass, const char *fmt, ...)
{
	va_list ap;
	struct sink s = {line_buf, sizeof(line_buf), 0};
	const char *prefix = "EMBER-TEST ";

	for (const char *p = prefix; *p; p++)
		put(&s, *p);
	for (const char *p = name; *p; p++)
		put(&s, *p);
	for (const char *p = pass ? " PASS" : " FAIL"; *p; p++)
		put(&s, *p);
	if (fmt[0])
		put(&s, ' ');
	/* Leave room for the newline even when the detail is cut short. */
	size_t room = s.len + 1 < sizeof(line_buf) ? sizeof(line_buf) - s.len - 1 : 1;
	va_start(ap, fmt);
	size_t n = s.len + vformat(line_buf + s.len, room, fmt, ap);
	va_end(ap);
	line_buf[n++] = '\n';
	uart_write(line_buf, n);
}

/* ---- command line ------------------------------------------------------------ */

const char *cmdline_get(const char *cmdline, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - word) > klen && memcmp(word, key, klen) == 0 &&
		    word[klen] == '=') {
			*len = (size_t)(p - word) - klen - 1;
			return word + klen + 1;
		}
	}
	return NULL;
}

bool parse_u64(const char *s, size_t len, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	if (base == 0) {
		base = 10;
		if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			base = 16;
			s += 2;
			len -= 2;
		}
	} else if (base == 16 && len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (d >= base || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}
