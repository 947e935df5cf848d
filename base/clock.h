/*
 * clock.h - the latest time known to be true, for every check that a
 * clock set back could fool (feed expiry, pin expiry, certificate
 * validity).
 */
#ifndef PINSHIM_BASE_CLOCK_H
#define PINSHIM_BASE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The system clock, or the floor when the system clock is behind it. */
time_t		 clock_now(void);
/* Raise the floor to t (never lowers it); true if it moved. */
bool		 clock_raise(time_t t);
time_t		 clock_floor(void);
/* Back to the build time: what a replaced (possibly stolen) feed key
 * raised the floor to is not evidence any more. */
void		 clock_reset(void);
/* The floor this binary starts with: the date of its source. */
time_t		 clock_build_time(void);

/* How far past the system clock a time is believed without the root
 * threshold's word: a feed's issued is clamped to it (feedsync.c), and
 * the keeper persists no latest known time beyond it. */
#define CLOCK_SKEW	86400
/* t is over CLOCK_SKEW past sys, a sane system clock (not behind the
 * build date). An insane one (an RTC-less boot) bounds nothing: the
 * feed is all the evidence there is. */
bool		 clock_too_far_ahead(int64_t t, time_t sys);

/* The floor an earlier run persisted in DIR/CLOCK_FILE, raised into this
 * one (before anything checks a date), but at most CLOCK_SKEW past a sane
 * system clock; a missing file is no error, a damaged one is logged and
 * ignored. It is evidence only as far as a signed feed vouches for it:
 * feedsync.c raises the floor to all of it when the cached feed's issued
 * time is not before it, and drops it when it is. */
#define CLOCK_FILE	"clock"
void		 clock_load(const char *dir);
/* What clock_load read, before that bound; 0: nothing. */
int64_t		 clock_loaded(void);
/* Persist t there (one RFC 3339 line, crash-safe); -1 and errno. */
int		 clock_save(const char *dir, time_t t);
/* That line, for a writer elsewhere (the keeper); its length. */
#define CLOCK_LINE_MAX	32
size_t		 clock_line(time_t t, char line[CLOCK_LINE_MAX]);

#endif
