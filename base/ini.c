/*
 * ini.c - the INI engine: inih reads, this file tracks lines and sections
 * exactly as inih classifies them, and dispatches each key through the
 * caller's tables (see ini.h).
 *
 * Must never: ignore a byte of the document (unknown sections and keys,
 * repeated ones, overlong lines and syntax errors are all errors), or
 * call a parser or close() for a section that was refused.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "base/ini.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/strmap.h"
#include "base/url.h"

static void
ini_verror(struct ini *in, const char *where, int line, const char *fmt,
    va_list ap)
{
	if (where != NULL)
		fprintf(in->errs, "%s: ", where);
	else
		fprintf(in->errs, "%s:%d: ", in->path, line);
	vfprintf(in->errs, fmt, ap);
	fputc('\n', in->errs);
	in->errors++;
	if (where == NULL)
		in->last_err_line = line;
}

void
ini_error(struct ini *in, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	ini_verror(in, NULL, line, fmt, ap);
	va_end(ap);
}

void
ini_error_at(struct ini *in, const char *origin, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	ini_verror(in, origin, 0, fmt, ap);
	va_end(ap);
}

const char *
ini_why(struct ini *in, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(in->why, sizeof(in->why), fmt, ap);
	va_end(ap);
	return in->why;
}

static int
key_index(const struct ini_section *s, const char *name)
{
	size_t	 i;

	for (i = 0; s != NULL && i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
ini_seen(const struct ini *in, const char *key)
{
	int	 k = key_index(in->sec, key);

	return k >= 0 && (in->seen & (UINT64_C(1) << k)) != 0;
}

/* Pass two of the section that just ended. */
static void
close_section(struct ini *in)
{
	const struct ini_section *s = in->sec;
	const char *const	*r;

	if (s == NULL)
		return;
	for (r = s->required; r != NULL && *r != NULL; r++)
		if (!ini_seen(in, *r))
			ini_error(in, in->section_line, "[%s] %s: missing "
			    "required key", in->section, *r);
	if (s->close != NULL)
		s->close(in, s->ctx, in->obj);
	in->sec = NULL;
	in->obj = NULL;
}

static const struct ini_section *
find_section(const struct ini *in, const char *name, const char **arg)
{
	size_t	 i, n;

	for (i = 0; i < in->nsecs; i++) {
		const struct ini_section *s = &in->secs[i];

		n = strlen(s->name);
		if (s->prefix ? strncmp(name, s->name, n) == 0 :
		    strcmp(name, s->name) == 0) {
			*arg = name + (s->prefix ? n : 0);
			return s;
		}
	}
	return NULL;
}

/* Hashed: a feed with 20,000 sections loads in linear time. */
static bool
first_time(struct ini *in, const char *name)
{
	if (strmap_add(in->names, name, 0, NULL))
		return true;
	ini_error(in, in->line, "[%s]: section given twice", name);
	return false;
}

static void
open_section(struct ini *in, const char *name)
{
	const struct ini_section *s;
	const char		*arg;

	snprintf(in->section, sizeof(in->section), "%s", name);
	in->seen = 0;
	in->prev_key = NULL;
	in->section_line = in->line;
	if (!first_time(in, name))
		return;
	if ((s = find_section(in, name, &arg)) == NULL) {
		ini_error(in, in->line, "[%s]: %s", name, in->unknown);
		return;
	}
	if (s->unsupported != NULL) {
		ini_error(in, in->line, "[%s]: %s", name, s->unsupported);
		return;
	}
	in->obj = s->open != NULL ? s->open(in, s->ctx, arg) : s->ctx;
	if (in->obj != NULL)
		in->sec = s;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini		*in = user;
	const struct ini_key	*k;
	const char		*why = NULL;
	int			 i;

	/* Section boundaries are tracked by reader(), which sees headers. */
	in->key_in_section = true;
	if (*section == '\0') {
		ini_error(in, in->line, "%s: key outside any section", name);
		return 1;
	}
	if (in->sec == NULL)
		return 1;	/* the section was already reported */
	if ((i = key_index(in->sec, name)) < 0) {
		ini_error(in, in->line, "[%s] %s: unknown key", in->section,
		    name);
		return 1;
	}
	k = &in->sec->keys[i];
	if (k->parse == NULL) {
		ini_error(in, in->line, "[%s] %s: not supported by this "
		    "version yet", in->section, name);
		return 1;
	}
	if ((in->seen & (UINT64_C(1) << i)) && !(in->continuation &&
	    in->prev_key != NULL && strcmp(in->prev_key, name) == 0 &&
	    (k->flags & INI_LIST))) {
		ini_error(in, in->line, "[%s] %s: key given twice",
		    in->section, name);
		return 1;
	}
	in->seen |= UINT64_C(1) << i;
	in->prev_key = k->name;
	in->key = k;
	if (!k->parse(in, value, (char *)in->obj + k->off, &why))
		ini_error(in, in->line, "[%s] %s: %s", in->section, name, why);
	return 1;
}

/* A "[name]" line: close the section before it and open this one. Done
 * here rather than in handler() so empty and repeated sections are seen.
 * Must classify lines exactly as inih does, or keys would land in the
 * wrong section: a BOM on line 1 is skipped, and an indented line is a
 * header only while no key has been read in the current section (after
 * one, inih takes it as a continuation of that key's value). */
static void
header_line(struct ini *in, const char *str, bool indented)
{
	const char	*s = str, *end;
	char		 name[sizeof(in->section)];
	size_t		 len;

	if (in->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s += strspn(s, " \t");
	if (*s != '[' || (end = strchr(s, ']')) == NULL)
		return;
	if (indented && in->key_in_section)
		return;
	len = (size_t)(end - s - 1);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, s + 1, len);
	name[len] = '\0';
	close_section(in);
	open_section(in, name);
	in->key_in_section = false;
}

/* inih reader: counts lines, tracks sections, reports overlong lines. */
static char *
reader(char *str, int num, void *stream)
{
	struct ini	*in = stream;
	bool		 indented;
	int		 c;

	if (fgets(str, num, in->file) == NULL)
		return NULL;
	in->line++;
	if (strchr(str, '\n') == NULL && !feof(in->file)) {
		while ((c = fgetc(in->file)) != EOF && c != '\n')
			;
		str[0] = '\0';	/* inih skips it; the error is ours */
		ini_error(in, in->line, "line longer than %d characters "
		    "(continue pin lists on indented lines)", num - 2);
		return str;
	}
	indented = (str[0] == ' ' || str[0] == '\t');
	in->continuation = indented && in->key_in_section;
	header_line(in, str, indented);
	return str;
}

int
ini_load(struct ini *in, const char *path, FILE *f, FILE *errs,
    const struct ini_section *secs, size_t nsecs, const char *unknown)
{
	int	 rc;

	memset(in, 0, sizeof(*in));
	in->path = path;
	in->errs = errs;
	in->file = f;
	in->secs = secs;
	in->nsecs = nsecs;
	in->unknown = unknown;
	in->names = strmap_new();
	rc = ini_parse_stream(reader, in, handler, in);
	close_section(in);
	if (rc > 0 && rc != in->last_err_line)
		ini_error(in, rc, "syntax error (want [section] or "
		    "key = value)");
	else if (rc < 0)
		ini_error(in, 1, "cannot read the file");
	strmap_free(in->names);
	in->names = NULL;
	return in->errors;
}

/* --- shared value parsers --------------------------------------------- */

bool
ini_str(struct ini *in, const char *v, void *field, const char **why)
{
	char	**dst = field;

	(void)in;
	if (*v == '\0') {
		*why = "empty value";
		return false;
	}
	free(*dst);
	*dst = xstrdup(v);
	return true;
}

bool
ini_uint(struct ini *in, const char *v, void *field, const char **why)
{
	const struct ini_key	*k = in->key;
	unsigned long		 n;

	if (!parse_uint(v, k->min, k->max, &n)) {
		*why = ini_why(in, "not a %s in %lu..%lu", k->unit, k->min,
		    k->max);
		return false;
	}
	if (k->flags & INI_WIDE)
		*(unsigned long long *)field = n;
	else
		*(unsigned long *)field = n;
	return true;
}

bool
ini_time(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (!parse_rfc3339(v, field)) {
		*why = "not an RFC 3339 UTC time like 2027-01-31T00:00:00Z";
		return false;
	}
	return true;
}

bool
ini_yesno(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		*why = "not one of yes, no";
		return false;
	}
	*(bool *)field = strcmp(v, "yes") == 0;
	return true;
}

bool
ini_url(struct ini *in, const char *v, void *field, const char **why)
{
	struct url	 u;

	if (!url_parse(v, &u, why))
		return false;
	url_free(&u);
	return ini_str(in, v, field, why);
}

bool
ini_https_url(struct ini *in, const char *v, void *field, const char **why)
{
	if (strncmp(v, "https://", 8) != 0) {
		*why = "must be an https:// URL";
		return false;
	}
	return ini_url(in, v, field, why);
}

/* --- one key, leniently ------------------------------------------------- */

struct find {
	FILE		*file;
	int		 line, found_line;
	bool		 continuation;	/* the line continues the key before */
	bool		 key_seen;	/* in the section, so far */
	const char	*section, *key;
	char		*val;
	size_t		 valsz;
};

static char *
find_reader(char *str, int num, void *stream)
{
	struct find	*f = stream;

	if (fgets(str, num, f->file) == NULL)
		return NULL;
	f->line++;
	/* as inih reads it (and base/ini.c's reader above) */
	f->continuation = (str[0] == ' ' || str[0] == '\t') && f->key_seen;
	if (str[strspn(str, " \t")] == '[')
		f->key_seen = false;
	return str;
}

static int
find_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct find	*f = user;

	/* the last one given wins (a strict reader refuses a second); a
	 * continuation line is not a value of its own */
	if (name == NULL)
		return 1;		/* a section header */
	if (strcmp(section, f->section) == 0 && strcmp(name, f->key) == 0 &&
	    value != NULL && !f->continuation) {
		snprintf(f->val, f->valsz, "%s", value);
		f->found_line = f->line;
	}
	f->key_seen = true;
	return 1;
}

int
ini_find(FILE *file, const char *section, const char *key, char *val,
    size_t valsz)
{
	struct find	 f = { file, 0, 0, false, false, section, key, val,
			     valsz };

	val[0] = '\0';
	if (ini_parse_stream(find_reader, &f, find_handler, &f) == -1)
		return -1;
	return f.found_line;
}
