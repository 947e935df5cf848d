/*
 * log.c - the log line writer.
 *
 * Writes a whole line with one write so lines from a busy loop never
 * interleave, and never blocks on anything but stderr itself. Syslog is
 * spoken here rather than through syslog(3): glibc's send() blocks when
 * the syslog daemon falls behind, and the event loop must not; a line
 * the socket cannot take at once is dropped and counted.
 *
 * Must never: split one line over two writes, or block on anything but
 * stderr.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/parse.h"
#include "log.h"

static enum log_level	 level = LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };
/* syslog priorities: err, warning, info, debug */
static const int	 priorities[] = { 3, 4, 6, 7 };
static int		 journal = -1;	/* stderr is the journal; -1: not
					 * known yet */
static int		 syslog_fd = -1;	/* log = syslog: connected */
static char		 syslog_path[108];
static unsigned long long dropped;

#define FACILITY_DAEMON	3

int
log_to_syslog(const char *path)
{
	struct sockaddr_un	 un;
	int			 fd;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(un.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		int	 e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_fd = fd;
	memcpy(syslog_path, un.sun_path, sizeof(syslog_path));
	return 0;
}

void
log_to_stderr(void)
{
	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_fd = -1;
}

/* The syslog daemon restarted: its socket is new; connect again once. */
static void
syslog_send(const char *line, size_t len)
{
	char	 path[sizeof(syslog_path)];

	if (send(syslog_fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
		return;
	if (errno == ECONNREFUSED || errno == ENOTCONN) {
		memcpy(path, syslog_path, sizeof(path));
		if (log_to_syslog(path) == 0 && send(syslog_fd, line, len,
		    MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return;
	}
	dropped++;
}

unsigned long long
log_dropped(void)
{
	return dropped;
}

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
	if (syslog_fd != -1) {
		/* RFC 3164: "<PRI>Mmm dd hh:mm:ss TAG[PID]: " (local time) */
		time_t	 now = time(NULL);

		localtime_r(&now, &tm);
		off = (size_t)snprintf(line, sizeof(line), "<%d>",
		    FACILITY_DAEMON * 8 + priorities[l]);
		off += strftime(line + off, sizeof(line) - off,
		    "%b %e %H:%M:%S ", &tm);
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "pinshim[%ld]: %s: ", (long)getpid(), names[l]);
		va_start(ap, fmt);
		n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
		va_end(ap);
		str_printable(line + off);	/* a line stays one line */
		off += n > 0 ? (size_t)n : 0;
		if (off > sizeof(line) - 1)
			off = sizeof(line) - 1;
		syslog_send(line, off);
		return;
	}
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
	str_printable(line + off);	/* a line stays one line */
	if (n < 0)
		n = 0;
	off += (size_t)n;
	if (off > sizeof(line) - 2)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}
