/*
 * host.c - normalise host names and match them against host patterns.
 *
 * Everything that decides "which pins apply to this connection" goes
 * through here, so it must never be lenient: a name it cannot read is
 * rejected, never matched by accident. Names are compared byte for byte
 * after normalisation (ASCII lower case, no trailing dot); address
 * literals after inet_pton/inet_ntop (one spelling per address).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pins/host.h"

static int
count_labels(const char *s)
{
	int	 n = 1;

	for (; *s; s++)
		n += (*s == '.');
	return n;
}

bool
host_is_ip(const char *host)
{
	unsigned char	 buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* An address literal in the one spelling inet_ntop gives it (IPv6: lower
 * case, zeros compressed, "2001:DB8:0::1" is "2001:db8::1"), so a pattern
 * and a connection name the same address with the same bytes. */
static bool
ip_canon(const char *in, char *out, size_t outsz, const char **why)
{
	unsigned char	 buf[sizeof(struct in6_addr)];
	char		 text[INET6_ADDRSTRLEN];
	int		 af = strchr(in, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, in, buf) != 1 ||
	    inet_ntop(af, buf, text, sizeof(text)) == NULL) {
		*why = "not an IP address";
		return false;
	}
	if (strlen(text) >= outsz) {
		*why = "address too long";
		return false;
	}
	snprintf(out, outsz, "%s", text);
	return true;
}

bool
host_canon(const char *in, char *out, size_t outsz, const char **why)
{
	if (!host_is_ip(in))
		return host_normalize(in, out, outsz, why);
	return ip_canon(in, out, outsz, why);
}

bool
host_normalize(const char *in, char *out, size_t outsz, const char **why)
{
	size_t	 len = strlen(in), i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty host name";
		return false;
	}
	if (len > HOST_MAX || len >= outsz) {
		*why = "host name longer than 253 characters";
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0) {
				*why = "empty label in host name";
				return false;
			}
			if (out[i - 1] == '-') {
				*why = "label ends with '-'";
				return false;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || (c == '-' && label > 0)) {
			if (++label > 63) {
				*why = "label longer than 63 characters";
				return false;
			}
		} else if (c >= 0x80) {
			*why = "non-ASCII host name (write IDNs as xn--)";
			return false;
		} else {
			*why = "invalid character in host name";
			return false;
		}
		out[i] = (char)c;
	}
	if (label == 0) {	/* "a.." : the last label is empty */
		*why = "empty label in host name";
		return false;
	}
	if (out[len - 1] == '-') {
		*why = "label ends with '-'";
		return false;
	}
	out[len] = '\0';
	return true;
}

bool
hostpat_parse(const char *in, struct hostpat *out, const char **why)
{
	const char	*base = in;

	if (strncmp(in, "**.", 3) == 0) {
		out->kind = HOSTPAT_ANY_DEPTH;
		base = in + 3;
	} else if (strncmp(in, "*.", 2) == 0) {
		out->kind = HOSTPAT_ONE_LABEL;
		base = in + 2;
	} else
		out->kind = HOSTPAT_EXACT;
	if (strchr(base, '*') != NULL) {
		*why = "'*' is allowed only as a whole leading label "
		    "(*.example.com or **.example.com)";
		return false;
	}
	if (*base == '[') {
		*why = "write an IPv6 address without brackets "
		    "([domain:2001:db8::1])";
		return false;
	}
	if (strchr(base, ':') != NULL) {
		/* An IPv6 literal: only exactly, matched against IP SANs. */
		if (out->kind != HOSTPAT_EXACT) {
			*why = "a wildcard cannot cover an IP address";
			return false;
		}
		if (!ip_canon(base, out->base, sizeof(out->base), why)) {
			*why = "not a host name or IPv6 address";
			return false;
		}
		out->labels = 1;
		return true;
	}
	if (!host_normalize(base, out->base, sizeof(out->base), why))
		return false;
	if (out->kind != HOSTPAT_EXACT && strchr(out->base, '.') == NULL) {
		*why = "wildcard over a top-level domain";
		return false;
	}
	out->labels = count_labels(out->base);
	return true;
}

int
hostpat_match(const struct hostpat *pat, const char *host)
{
	size_t	 hlen = strlen(host), blen = strlen(pat->base);
	int	 score = pat->labels * 4 + (int)pat->kind;

	if (pat->kind == HOSTPAT_EXACT)
		return strcmp(host, pat->base) == 0 ? score : -1;
	if (pat->kind == HOSTPAT_ANY_DEPTH && strcmp(host, pat->base) == 0)
		return score;
	/* host must end in "." + base with at least one label in front */
	if (hlen <= blen + 1 || host[hlen - blen - 1] != '.' ||
	    strcmp(host + hlen - blen, pat->base) != 0)
		return -1;
	if (pat->kind == HOSTPAT_ONE_LABEL &&
	    memchr(host, '.', hlen - blen - 1) != NULL)
		return -1;
	return score;
}

void
hostpat_key_of(enum hostpat_kind kind, const char *base,
    char out[HOSTPAT_KEY_LEN])
{
	snprintf(out, HOSTPAT_KEY_LEN, "%d:%s", (int)kind, base);
}

void
hostpat_key(const struct hostpat *pat, char out[HOSTPAT_KEY_LEN])
{
	hostpat_key_of(pat->kind, pat->base, out);
}
