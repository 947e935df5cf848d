/*
 * clock.c - the latest time known to be true: the system clock, but never
 * earlier than a floor that only trusted evidence raises — the date of
 * pinshim's own source, the issued time of each accepted feed, the floor an
 * earlier run persisted from those. A gateway that boots at 1970 until NTP
 * answers, or whose clock is set back, cannot make an expired feed, pin
 * set or certificate valid again.
 *
 * Must never: go backwards (but for clock_reset, when the feed keys that
 * raised it were replaced), or be raised by anything an attacker on the
 * network controls (the callers only raise it from signed or local data,
 * and a feed signed by the signing role alone at most a day past a sane
 * system clock: shim/remote/feedsync.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/parse.h"

#ifndef PINSHIM_BUILD_TIME
#define PINSHIM_BUILD_TIME	0	/* no date known for this source */
#endif

static time_t	 floor_t = PINSHIM_BUILD_TIME;
static int64_t	 loaded;		/* as clock_load read it: a
					 * 32-bit time_t may not hold it */
static bool	 behind;		/* said once per episode */

time_t
clock_build_time(void)
{
	return PINSHIM_BUILD_TIME;
}

bool
clock_too_far_ahead(int64_t t, time_t sys)
{
	return sys >= clock_build_time() && t > (int64_t)sys + CLOCK_SKEW;
}

time_t
clock_now(void)
{
	time_t	 now = time(NULL);
	char	 a[32], b[32];

	if (now >= floor_t) {
		behind = false;
		return now;
	}
	if (!behind) {
		behind = true;
		format_rfc3339((int64_t)now, a, sizeof(a));
		format_rfc3339((int64_t)floor_t, b, sizeof(b));
		log_warn("clock: the system clock (%s) is behind the latest "
		    "known time (%s); expiry and certificate validity use the "
		    "latter", a, b);
	}
	return floor_t;
}

bool
clock_raise(time_t t)
{
	if (t <= floor_t)
		return false;
	floor_t = t;
	return true;
}

void
clock_reset(void)
{
	floor_t = PINSHIM_BUILD_TIME;
}

time_t
clock_floor(void)
{
	return floor_t;
}

int64_t
clock_loaded(void)
{
	return loaded;
}

void
clock_load(const char *dir)
{
	char		 path[4096], *buf, a[32], b[32];
	size_t		 len;
	int64_t		 t;
	time_t		 sys = time(NULL);

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, CLOCK_FILE);
	if ((buf = file_read(path, 64, &len, NULL)) == NULL) {
		if (errno != ENOENT)
			log_err("clock: %s: %s", path, strerror(errno));
		return;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	if (parse_rfc3339(buf, &t)) {
		loaded = t;
		/* No writer persists that far ahead of a sane clock (the
		 * keeper refuses it): believed so far would refuse every
		 * certificate, the trust store's at start included. */
		if (clock_too_far_ahead(t, sys)) {
			format_rfc3339(t, a, sizeof(a));
			format_rfc3339((int64_t)sys + CLOCK_SKEW, b, sizeof(b));
			log_warn("clock: %s: %s is over a day past the system "
			    "clock; taken as %s unless the cached feed vouches "
			    "for it", path, a, b);
			t = (int64_t)sys + CLOCK_SKEW;
		}
		clock_raise((time_t)t);
	} else
		log_err("clock: %s: not an RFC 3339 time; ignored", path);
	free(buf);
}

size_t
clock_line(time_t t, char line[CLOCK_LINE_MAX])
{
	format_rfc3339((int64_t)t, line, CLOCK_LINE_MAX - 1);
	strcat(line, "\n");
	return strlen(line);
}

int
clock_save(const char *dir, time_t t)
{
	char	 line[CLOCK_LINE_MAX];
	size_t	 n = clock_line(t, line);

	return file_replace(dir, CLOCK_FILE, line, n);
}
