/*
 * host.h - host names and host patterns: exact, "*." (one label) and
 * "**." (any depth, the apex included, as in OkHttp).
 */
#ifndef PINSHIM_HOST_H
#define PINSHIM_HOST_H

#include <stdbool.h>
#include <stddef.h>

#define HOST_MAX	253

enum hostpat_kind {
	HOSTPAT_ANY_DEPTH = 1,	/* **.example.com */
	HOSTPAT_ONE_LABEL = 2,	/* *.example.com */
	HOSTPAT_EXACT = 3,	/* api.example.com */
};

struct hostpat {
	enum hostpat_kind kind;
	/* normalised, no wildcard; an IPv6 literal (exact only) in
	 * host_canon's spelling */
	char		 base[HOST_MAX + 1];
	int		 labels;		/* labels in base */
};

/* Lower-case, drop one trailing dot, check LDH labels (and '_'), 1..63 per
 * label, 253 in all. Non-ASCII is refused: IDNs are written as xn--. */
bool	 host_normalize(const char *in, char *out, size_t outsz,
	    const char **why);
bool	 host_is_ip(const char *host);
/* The name pinshim checks and matches: an address literal in inet_ntop's
 * spelling (IPv6 lower case, zeros compressed), a name normalised. */
bool	 host_canon(const char *in, char *out, size_t outsz,
	    const char **why);

bool	 hostpat_parse(const char *in, struct hostpat *out, const char **why);
/* A string naming the pattern exactly (kind and base), for hashing. */
#define HOSTPAT_KEY_LEN	(HOST_MAX + 4)
void	 hostpat_key(const struct hostpat *, char out[HOSTPAT_KEY_LEN]);
/* The key a pattern of this kind and base would have. */
void	 hostpat_key_of(enum hostpat_kind, const char *base,
	    char out[HOSTPAT_KEY_LEN]);
/* -1 if pat does not match the normalised host; otherwise a specificity
 * score where larger is more specific. */
int	 hostpat_match(const struct hostpat *pat, const char *host);

#endif
