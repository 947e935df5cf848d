/*
 * cursor.h - the one way pinshim reads untrusted bytes: a bounds-checked,
 * read-only cursor over a buffer (the idea of s2n-tls's stuffer).
 *
 * Every read checks what is left first and, when it would run past the
 * end, takes nothing, returns false and marks the cursor short (sticky), so
 * a parser can tell "incomplete, wait for more bytes" from "malformed".
 * Nothing that uses a cursor does pointer arithmetic on the buffer itself.
 */
#ifndef PINSHIM_BASE_CURSOR_H
#define PINSHIM_BASE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cursor {
	const uint8_t	*p;		/* borrowed: the next unread byte */
	size_t		 left;
	bool		 short_;	/* a read ran past the end */
};

void	 cursor_init(struct cursor *, const void *buf, size_t len);
bool	 cursor_u8(struct cursor *, unsigned *);
bool	 cursor_u16(struct cursor *, unsigned *);	/* big-endian */
bool	 cursor_u24(struct cursor *, unsigned *);
bool	 cursor_u32(struct cursor *, uint32_t *);
/* The next n bytes: out borrows them (out may be NULL to skip). */
bool	 cursor_take(struct cursor *, size_t n, const uint8_t **out);
/* A cursor over the next n bytes, which this one skips. */
bool	 cursor_sub(struct cursor *, size_t n, struct cursor *out);
/* The next bytes equal s (consumed only if they do). */
bool	 cursor_expect(struct cursor *, const char *s);
/* Up to (not including) the first byte delim; the delimiter is consumed.
 * Short (and nothing taken) when delim does not occur. */
bool	 cursor_until(struct cursor *, uint8_t delim, struct cursor *out);
/* A CRLF-terminated line without its CRLF; a bare LF inside is left in
 * the line for the caller to refuse. */
bool	 cursor_line(struct cursor *, struct cursor *out);
/* Offset of the first occurrence of the n bytes of s, or -1. */
long	 cursor_find(const struct cursor *, const void *s, size_t n);
/* Copy the rest into a NUL-terminated string; false if it does not fit
 * or holds a NUL byte. */
bool	 cursor_str(const struct cursor *, char *buf, size_t sz);
/* The rest equals s exactly; _nocase: ignoring ASCII case. */
bool	 cursor_eq(const struct cursor *, const char *s);
bool	 cursor_eq_nocase(const struct cursor *, const char *s);

#endif
