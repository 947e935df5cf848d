/*
 * parse.c - strict parsing of numbers, times and host:port strings, and
 * the rules for UTF-8 and JSON string text.
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

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm). Our own because timegm() overflows where time_t is 32 bits
 * (armhf): a feed expiring in 2039 must mean 2039 there too. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		 era;
	unsigned	 doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool
parse_rfc3339(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	int		 y, mo, d, h, mi, sec, n = 0;
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
	    (mo == 2 && d == 29 && !leap(y)) || h > 23 || mi > 59 || sec > 59)
		return false;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	return true;
}

void
format_rfc3339(int64_t t, char *buf, size_t sz)
{
	int64_t		 days = (t >= 0 ? t : t - 86399) / 86400, y;
	int64_t		 rem = t - days * 86400;
	unsigned	 m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, sz, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
	    (long long)y, m, d, (long long)(rem / 3600),
	    (long long)(rem / 60 % 60), (long long)(rem % 60));
}

/* RFC 3629's table: the second byte's range narrows after E0 (overlong),
 * ED (surrogates), F0 (overlong) and F4 (past U+10FFFF). Reads no byte
 * past s[max - 1], nor past the first one out of range (a NUL is). */
static size_t
utf8_len(const unsigned char *s, size_t max)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n > max || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t
str_utf8_len(const char *str)
{
	return utf8_len((const unsigned char *)str, 4);
}

/* The one JSON string escape (json_str, the log's JSON lines): only what
 * JSON requires plus DEL, lowercase hex, so both write the same bytes. */
size_t
str_json_char(const char *str, size_t n, char out[STR_JSON_MAX],
    size_t *outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len;

	if (s[0] == '"' || s[0] == '\\') {
		out[0] = '\\';
		out[1] = (char)s[0];
		*outlen = 2;
		return 1;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[s[0] >> 4];
		out[5] = hex[s[0] & 0xf];
		*outlen = 6;
		return 1;
	}
	if ((len = utf8_len(s, n)) == 0) {
		memcpy(out, "\\ufffd", 6);
		*outlen = 6;
		return 1;
	}
	memcpy(out, s, len);
	*outlen = len;
	return len;
}

bool
str_utf8_printable(const char *s)
{
	size_t	 n;

	for (; *s != '\0'; s += n) {
		if ((n = str_utf8_len(s)) == 0)
			return false;
		if ((unsigned char)s[0] < 0x20 || s[0] == 0x7f)
			return false;		/* C0 controls, DEL */
		if ((unsigned char)s[0] == 0xc2 &&
		    (unsigned char)s[1] < 0xa0)
			return false;		/* C1 controls */
	}
	return true;
}

void
str_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}
