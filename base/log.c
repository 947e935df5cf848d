/*
 * log.c - the log line writer.
 *
 * Writes a whole line with one write so lines from a busy loop never
 * interleave, and never blocks on anything but stderr itself.
 *
 * Must never: split one line over two writes, or block on anything but
 * stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level	 level = LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };
/* syslog priorities: err, warning, info, debug */
static const int	 priorities[] = { 3, 4, 6, 7 };
static int		 journal = -1;	/* stderr is the journal; -1: not
					 * known yet */

/* Is stderr the journal? systemd says so in JOURNAL_STREAM (device and
 * inode of the stream it gave us); then each line starts with its
 * priority, "<4>", and leaves time and pid to the journal. */
static bool
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (journal != -1)
		return journal;
	journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
	return journal;
}

void
log_set_level(enum log_level l)
{
	level = l;
}

bool
log_parse_level(const char *s, enum log_level *out)
{
	int	 i;

	for (i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	return false;
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	char		 line[2048];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 off;
	va_list		 ap;
	int		 n;

	if (l > level)
		return;
	if (stderr_is_journal()) {
		off = (size_t)snprintf(line, sizeof(line), "<%d>%s: ",
		    priorities[l], names[l]);
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    ".%03ldZ pinshim[%ld] %s: ", (long)tv.tv_usec / 1000,
		    (long)getpid(), names[l]);
	}
	va_start(ap, fmt);
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	off += (size_t)n;
	if (off > sizeof(line) - 2)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}
