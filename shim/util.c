/*
 * util.c - allocation that cannot silently fail, and strict number and
 * address parsing shared by the configuration and the command line.
 *
 * Allocation failure is a broken invariant for a daemon this size: abort
 * loudly rather than limp on with a half-built connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "util.h"

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL) {
		fprintf(stderr, "pinshim: out of memory\n");
		abort();
	}
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL) {
		fprintf(stderr, "pinshim: out of memory\n");
		abort();
	}
	return p;
}

bool
parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool
parse_hostport(const char *s, char *host, size_t hostsz, uint16_t *port)
{
	const char	*colon, *h = s;
	size_t		 hlen;
	unsigned long	 p;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return false;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostsz)
		return false;
	if (!parse_uint(colon + 1, 1, 65535, &p))
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return true;
}

bool
parse_rfc3339(const char *s, time_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct tm	 tm;
	int		 y, mo, d, h, mi, sec, n = 0;
	time_t		 t;

	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t		 i;

	/* sscanf alone would take signs and blanks inside the fields. */
	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != shape[i])
			return false;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
	    &n) != 6 || n != 20)
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)	/* 29 Feb in a common year */
		return false;
	*out = t;
	return true;
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
format_rfc3339(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
file_write(const char *path, const void *buf, size_t len, unsigned mode,
    bool excl)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (excl ? O_EXCL : O_TRUNC), (mode_t)mode);
	if (fd == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, (const char *)buf + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto bad;
	return close(fd);
bad:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int
key_file_write(const char *path, const void *buf, size_t len)
{
	int	 e;

	if (file_write(path, buf, len, 0600, true) == 0)
		return 0;
	e = errno;
	if (e != EEXIST)
		unlink(path);
	errno = e;
	return -1;
}
