/*
 * parse.c - strict parsing of numbers, times and host:port strings.
 *
 * Must never: accept a value with anything left over (a sign, a blank, a
 * trailing byte), or a time outside the calendar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

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
format_rfc3339(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
