/*
 * ini.h - table-driven INI loading on inih, for every INI-shaped document
 * pinshim reads (the configuration and the feed body).
 *
 * A document is described by a table of sections, each with a table of
 * keys {name, parser, offset}. The engine tracks lines and sections the
 * way inih reads them, refuses unknown sections and keys, sections and
 * keys given twice (a list key may continue on indented lines), and
 * reports every error as "FILE:LINE: [section] key: message". Pass two of
 * a section (required keys, rules across keys) is the section's close().
 */
#ifndef PINSHIM_BASE_INI_H
#define PINSHIM_BASE_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ini;

/* Parse val into field; false with *why (a constant or ini_why()). */
typedef bool (*ini_parse_fn)(struct ini *, const char *val, void *field,
    const char **why);

#define INI_LIST	0x1	/* may continue on indented lines */
#define INI_WIDE	0x2	/* ini_uint: the field is unsigned long long */

struct ini_key {
	const char	*name;
	ini_parse_fn	 parse;		/* NULL: refused as not supported yet */
	size_t		 off;		/* into the section's object */
	unsigned	 flags;
	/* for ini_uint: the range, and what the number is */
	unsigned long	 min, max;
	const char	*unit;		/* "whole number of seconds" */
};

/* Table entries: a key, and a key read by ini_uint in [lo, hi]. */
#define INI_KEY(n, p, o, f)	{ .name = (n), .parse = (p), .off = (o),	\
				  .flags = (f) }
#define INI_UINT(...)		INI_UINT_(__VA_ARGS__)
#define INI_UINT_(n, o, f, lo, hi, u) { .name = (n), .parse = ini_uint,	\
				  .off = (o), .flags = (f), .min = (lo),	\
				  .max = (hi), .unit = (u) }

struct ini_section {
	const char	*name;		/* "shim", or a prefix "domain:" */
	bool		 prefix;	/* name is a prefix; the rest is arg */
	const char	*unsupported;	/* set: the section is refused so */
	const struct ini_key *keys;
	size_t		 nkeys;		/* at most 64 */
	const char *const *required;	/* NULL-terminated, or NULL */
	/* The object keys write into (arg: after the prefix), or NULL after
	 * reporting why the section is unusable. NULL open: ctx itself. */
	void		*(*open)(struct ini *, void *ctx, const char *arg);
	void		 (*close)(struct ini *, void *ctx, void *obj);
	void		*ctx;		/* the loader's, for open/close */
};

struct ini {
	const char	*path;		/* borrowed; for messages */
	FILE		*errs;		/* borrowed */
	int		 errors;
	/* the section being read, for parsers and close() */
	char		 section[300];	/* its full name */
	int		 section_line;
	/* private */
	const struct ini_section *secs, *sec;
	size_t		 nsecs;
	const char	*unknown;	/* message for an unknown section */
	const struct ini_key *key;	/* the key being parsed */
	void		*obj;
	uint64_t	 seen;
	const char	*prev_key;
	FILE		*file;
	int		 line, last_err_line;
	bool		 continuation, key_in_section;
	struct strmap	*names;		/* sections seen; owned */
	char		 why[256];
};

/* Read f through the section table; unknown: the message for a section
 * not in it. Returns the number of errors (0: every byte was accepted). */
int	 ini_load(struct ini *, const char *path, FILE *f, FILE *errs,
	    const struct ini_section *, size_t nsecs, const char *unknown);
void	 ini_error(struct ini *, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* An error at "FILE:LINE" given as text (a listener's origin). */
void	 ini_error_at(struct ini *, const char *origin, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Whether key was given in the current section. */
bool	 ini_seen(const struct ini *, const char *key);
/* A formatted *why that lives as long as the loader. */
const char *ini_why(struct ini *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The value of one key, read leniently: nothing else in the file is
 * checked, so a half-edited file still yields it (`pinshim status` only
 * needs [shim] status). The line it was on, 0 if absent, -1 if the
 * file could not be read. */
int	 ini_find(FILE *, const char *section, const char *key, char *val,
	    size_t valsz);

/* Value parsers that several documents share (field types in brackets). */
bool	 ini_str(struct ini *, const char *, void *, const char **); /* char * */
/* unsigned long (unsigned long long with INI_WIDE) in the key's range */
bool	 ini_uint(struct ini *, const char *, void *, const char **);
bool	 ini_time(struct ini *, const char *, void *, const char **); /* int64_t */
bool	 ini_yesno(struct ini *, const char *, void *, const char **); /* bool */
bool	 ini_url(struct ini *, const char *, void *, const char **); /* char * */
bool	 ini_https_url(struct ini *, const char *, void *, const char **);

#endif
