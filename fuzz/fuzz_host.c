/*
 * fuzz_host.c - host names and patterns: "PATTERN\nHOST". Invariants: a
 * normalised name is its own normal form; whether a pattern matches does
 * not depend on case or on one trailing dot; a canonical name or address
 * is its own canonical form, and as an exact pattern matches itself.
 */
#include <ctype.h>

#include "fuzz/fuzz.h"
#include "pins/host.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s = fuzz_str(data, size), *nl, *host;
	char		 norm[HOST_MAX + 1], again[HOST_MAX + 1];
	char		 canon[HOST_MAX + 1];
	char		 upper[HOST_MAX + 3];
	struct hostpat	 pat;
	const char	*why;
	size_t		 i;
	int		 m;

	if ((nl = strchr(s, '\n')) == NULL)
		goto out;
	*nl = '\0';
	host = nl + 1;
	if (host_canon(host, canon, sizeof(canon), &why)) {
		INVARIANT(host_canon(canon, again, sizeof(again), &why));
		INVARIANT(strcmp(canon, again) == 0);
		INVARIANT(hostpat_parse(canon, &pat, &why));
		INVARIANT(hostpat_match(&pat, canon) >= 0);
	}
	if (!host_normalize(host, norm, sizeof(norm), &why))
		goto out;
	INVARIANT(host_normalize(norm, again, sizeof(again), &why));
	INVARIANT(strcmp(norm, again) == 0);
	if (!hostpat_parse(s, &pat, &why))
		goto out;
	m = hostpat_match(&pat, norm);
	for (i = 0; norm[i] != '\0'; i++)
		upper[i] = (char)toupper((unsigned char)norm[i]);
	upper[i++] = '.';			/* one trailing dot */
	upper[i] = '\0';
	INVARIANT(host_normalize(upper, again, sizeof(again), &why));
	INVARIANT(hostpat_match(&pat, again) == m);
out:
	free(s);
	return 0;
}
