/*
 * time32.c - RFC 3339 times past 2038 where time_t is 32 bits (armhf, i386
 * without _TIME_BITS=64). Built with -m32 against base/parse.c alone, so
 * no 32-bit cmocka is needed; prints TAP "ok N - name" lines, which
 * tests/run counts like cmocka's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/parse.h"

static int	 n, failed;

static void
check(int cond, const char *name)
{
	printf("%s %d - %s\n", cond ? "ok" : "not ok", ++n, name);
	failed += !cond;
}

int
main(void)
{
	static const struct { const char *s; int64_t t; } v[] = {
		{ "2038-01-19T03:14:07Z", INT64_C(2147483647) },
		{ "2038-01-19T03:14:08Z", INT64_C(2147483648) },
		{ "2039-06-30T00:00:00Z", INT64_C(2193004800) },
		{ "2106-02-07T06:28:16Z", INT64_C(4294967296) },
		{ "9999-12-31T23:59:59Z", INT64_C(253402300799) },
	};
	char	 buf[32], name[96];
	int64_t	 t;
	size_t	 i;

	printf("# time_t is %zu bits here\n", sizeof(time_t) * 8);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(name, sizeof(name), "parse %s", v[i].s);
		check(parse_rfc3339(v[i].s, &t) && t == v[i].t, name);
		format_rfc3339(v[i].t, buf, sizeof(buf));
		snprintf(name, sizeof(name), "format %" PRId64, v[i].t);
		check(strcmp(buf, v[i].s) == 0, name);
	}
	check(!parse_rfc3339("2100-02-29T00:00:00Z", &t), "2100 is common");
	check(parse_rfc3339("2400-02-29T00:00:00Z", &t), "2400 is leap");
	printf("1..%d\n", n);
	return failed != 0;
}
