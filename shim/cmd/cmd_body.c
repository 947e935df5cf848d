/*
 * cmd_body.c - editing a feed body as text for `feed add` and `monitor
 * --write-observed`: set one key of one [section], keeping every other
 * byte (comments, order, blank lines) as the publisher wrote it; a
 * missing section is appended. The result is validated by the callers
 * with the devices' own parser before it is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "shim/cmd/cmd_body.h"

/* The line starting at p (up to and with its newline). */
static size_t
line_len(const char *p, const char *end)
{
	const char	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
}

static bool
is_header(const char *p, size_t n)
{
	return n > 0 && (p[0] == '[');
}

static bool
is_section(const char *p, size_t n, const char *section)
{
	size_t	 sl = strlen(section);

	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n == sl + 2 && p[0] == '[' && memcmp(p + 1, section, sl) == 0 &&
	    p[n - 1] == ']';
}

static bool
is_blank_or_comment(const char *p, size_t n)
{
	size_t	 i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	return i == n || p[i] == '\n' || p[i] == ';' || p[i] == '#';
}

static bool
is_indented(const char *p, size_t n)
{
	return n > 0 && (p[0] == ' ' || p[0] == '\t') &&
	    !is_blank_or_comment(p, n);
}

static bool
is_key(const char *p, size_t n, const char *key)
{
	size_t	 kl = strlen(key), i;

	if (n <= kl || memcmp(p, key, kl) != 0)
		return false;
	for (i = kl; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i < n && p[i] == '=';
}

char *
body_set(const char *body, size_t len, const char *section, const char *key,
    const char *value, size_t *outlen)
{
	const char	*p = body, *end = body + len, *cut = NULL, *cut_end = NULL;
	const char	*q;
	const char	*insert = NULL;
	char		*out, line[4096];
	size_t		 n, ll;
	bool		 in = false;
	FILE		*f;

	for (; p < end; p += n) {
		n = line_len(p, end);
		if (is_header(p, n)) {
			if (in && insert == NULL)
				insert = p;	/* the section ends here */
			in = is_section(p, n, section);
			if (in)
				insert = NULL;
			continue;
		}
		if (in && cut == NULL && is_key(p, n, key)) {
			cut = p;
			cut_end = p + n;
		}
	}
	if (in && insert == NULL)
		insert = end;
	snprintf(line, sizeof(line), "%s = %s\n", key, value);
	ll = strlen(line);
	f = xptr(open_memstream(&out, outlen));
	if (cut != NULL) {			/* replace the key */
		fwrite(body, 1, (size_t)(cut - body), f);
		fwrite(line, 1, ll, f);
		/* inih continues a value on indented lines, across blank and
		 * comment lines, up to the next key or section: those lines
		 * go, the blank and comment lines between them stay */
		for (q = cut_end; q < end; q += n) {
			n = line_len(q, end);
			if (is_indented(q, n))
				continue;
			if (!is_blank_or_comment(q, n))
				break;
			fwrite(q, 1, n, f);
		}
		fwrite(q, 1, (size_t)(end - q), f);
	} else if (insert != NULL) {		/* add it to its section */
		const char	*at = insert;

		/* before the blank lines that end the section */
		while (at > body && at[-1] == '\n' && at - 1 > body &&
		    at[-2] == '\n')
			at--;
		fwrite(body, 1, (size_t)(at - body), f);
		if (at > body && at[-1] != '\n')
			fputc('\n', f);
		fwrite(line, 1, ll, f);
		fwrite(at, 1, (size_t)(end - at), f);
	} else {				/* a new section at the end */
		fwrite(body, 1, len, f);
		if (len > 0 && body[len - 1] != '\n')
			fputc('\n', f);
		fprintf(f, "\n[%s]\n%s", section, line);
	}
	fclose(f);
	return out;
}
