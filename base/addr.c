/*
 * addr.c - CIDR rules (allow lists) and printing socket addresses.
 *
 * Must never: match an address against a rule of the other family except
 * through its IPv4-mapped form.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/addr.h"
#include "base/parse.h"

bool
parse_cidr(const char *s, struct cidr *out)
{
	char		 buf[64], *slash;
	unsigned long	 bits;
	unsigned	 max;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else
		return false;
	if (slash == NULL)
		bits = max;
	else if (!parse_uint(slash + 1, 0, max, &bits))
		return false;
	out->bits = (unsigned)bits;
	return true;
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t	*a;
	uint8_t		 mapped[16];
	unsigned	 full, rest;

	if (sa->sa_family == AF_INET && c->family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		const uint8_t *a6 = (const uint8_t *)&((const struct
		    sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (c->family == AF_INET6)
			a = a6;
		else {		/* ::ffff:a.b.c.d against an IPv4 rule */
			static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0,
			    0, 0, 0, 0xff, 0xff };

			if (memcmp(a6, pfx, 12) != 0)
				return false;
			memcpy(mapped, a6 + 12, 4);
			a = mapped;
		}
	} else
		return false;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ c->addr[full]) &
	    (uint8_t)(0xff << (8 - rest))) == 0;
}

void
sockaddr_format(const struct sockaddr *sa, char *buf, size_t sz)
{
	char	 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, sz, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, sz, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else
		snprintf(buf, sz, "?");
}

void
sockaddr_host(const struct sockaddr *sa, char *buf, size_t sz)
{
	const void	*a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)sz) ==
	    NULL)
		snprintf(buf, sz, "?");
}

uint16_t
sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->
		    sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_port);
	return 0;
}
