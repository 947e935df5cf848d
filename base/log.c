/*
 * log.c - the log line writer: text ("TIME pinshim[PID] LEVEL: message")
 * or, with [shim] log_format = json, one JSON object per line whose
 * members are the time, level, pid and the message, and for a
 * "EVENT key=value ..." message (verdict, close) each field, so a log
 * pipeline reads them as they are. Times are RFC 3339 in UTC with
 * milliseconds: RFC 5424's TIMESTAMP, also in that syslog header.
 *
 * To syslog each line is one datagram, by default in RFC 3164's local
 * form, "<PRI>Mmm dd hh:mm:ss pinshim[PID]: LEVEL: message", what glibc's
 * syslog(3) writes to /dev/log: systemd-journald, busybox syslogd,
 * OpenWrt's logd, rsyslog and syslog-ng all read it. With [shim]
 * syslog_format = rfc5424 the head is RFC 5424's ("<PRI>1 TIMESTAMP
 * HOSTNAME pinshim PID - - "), with the year, milliseconds and host,
 * which rsyslog and syslog-ng parse but journald and busybox do not.
 * The message after the head is the same in both.
 *
 * Writes a whole line with one write so lines from a busy loop never
 * interleave, and never blocks on anything but stderr itself. Syslog is
 * spoken here rather than through syslog(3): glibc's send() blocks when
 * the syslog daemon falls behind, and the event loop must not; a line
 * the socket cannot take at once is dropped and counted.
 *
 * Must never: split one line over two writes, block on anything but
 * stderr, or write a JSON line that does not parse (whatever bytes the
 * message holds; a line too long is cut at a character and closed).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
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
static enum log_format	 format = LOG_FORMAT_TEXT;
static char		 hostname[256] = "-";	/* RFC 5424's HOSTNAME */
static enum log_syslog_format syslog_format = LOG_SYSLOG_RFC3164;

#define FACILITY_DAEMON	3
#define LOG_MSG_MAX	2048
#define LOG_LINE_MAX	(512 + 2 * 6 * LOG_MSG_MAX)

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
	/* RFC 5424 6.2.4: printable US-ASCII, no blank; else "-" */
	if (gethostname(hostname, sizeof(hostname) - 1) == -1 ||
	    hostname[0] == '\0' || hostname[strspn(hostname,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    ".-_")] != '\0')
		snprintf(hostname, sizeof(hostname), "-");
	tzset();	/* RFC 3164's time is local: read the zone now */
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

void
log_set_format(enum log_format f)
{
	format = f;
}

bool
log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

void
log_set_syslog_format(enum log_syslog_format f)
{
	syslog_format = f;
}

bool
log_parse_syslog_format(const char *s, enum log_syslog_format *out)
{
	if (strcmp(s, "rfc3164") == 0)
		*out = LOG_SYSLOG_RFC3164;
	else if (strcmp(s, "rfc5424") == 0)
		*out = LOG_SYSLOG_RFC5424;
	else
		return false;
	return true;
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

/* --- log_format = json ------------------------------------------------ */

/* A JSON line under construction. LOG_LINE_MAX holds the longest: every
 * message byte escaped to six, twice (a field and msg), and the head. */
struct jline {
	char	*buf;
	size_t	 off, cap;
	bool	 full;		/* cannot happen; then the line is replaced */
};

static void
jput(struct jline *j, const char *s, size_t n)
{
	if (j->full || n > j->cap - j->off) {
		j->full = true;
		return;
	}
	memcpy(j->buf + j->off, s, n);
	j->off += n;
}

/* n bytes of s as a JSON string, escaped by parse.c's str_json_char as
 * base/json.c's json_str is, into a fixed buffer: the log has no
 * evbuffer (every tool and test links it without libevent's buffers). */
static void
jstr(struct jline *j, const char *s, size_t n)
{
	char	 out[STR_JSON_MAX];
	size_t	 k, len;

	jput(j, "\"", 1);
	for (; n > 0; s += k, n -= k) {
		k = str_json_char(s, n, out, &len);
		jput(j, out, len);
	}
	jput(j, "\"", 1);
}

/* A key=value field of the message at *p: key [a-z_]+, value up to a
 * blank, or "quoted" up to a quote that ends the message or precedes a
 * blank. */
static bool
field(const char **p, const char **k, size_t *kn, const char **v,
    size_t *vn)
{
	const char	*s = *p, *e;

	*k = s;
	while ((*s >= 'a' && *s <= 'z') || *s == '_')
		s++;
	if (s == *k || *s != '=')
		return false;
	*kn = (size_t)(s - *k);
	s++;
	if (*s == '"') {
		for (e = s + 1; *e != '\0'; e++)
			if (*e == '"' && (e[1] == '\0' || e[1] == ' '))
				break;
		if (*e != '"')
			return false;
		*v = s + 1;
		*vn = (size_t)(e - s - 1);
		s = e + 1;
	} else {
		*v = s;
		s += strcspn(s, " ");
		*vn = (size_t)(s - *v);
	}
	if (*s == ' ')
		s++;
	*p = s;
	return true;
}

/* A value that is a decimal number (a count) is written as one. */
static bool
is_count(const char *v, size_t n)
{
	size_t	 i;

	if (n == 0 || n > 15 || (v[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* Does the message read "EVENT key=value ..." with each key once and
 * none of the object's own (time, level, pid, event, msg)? Then its
 * fields become members; otherwise it goes whole, as "msg". */
static bool
fields_ok(const char *msg)
{
	static const char *const own[] = { "time", "level", "pid", "event",
	    "msg" };
	const char	*p, *k, *v, *seen[32];
	size_t		 kn, vn, nseen = 0, i;

	p = msg + strcspn(msg, " =");
	if (p == msg || *p != ' ')
		return false;
	for (p++; *p != '\0'; ) {
		if (!field(&p, &k, &kn, &v, &vn) || nseen == 32)
			return false;
		for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			if (strlen(own[i]) == kn && memcmp(own[i], k, kn) == 0)
				return false;
		for (i = 0; i < nseen; i++)
			if (strncmp(seen[i], k, kn) == 0 && seen[i][kn] == '=')
				return false;	/* a key twice: ambiguous */
		seen[nseen++] = k;
	}
	return nseen > 0;
}

/* {"time":…,"level":…,"pid":…,"event":…,FIELDS…,"msg":…} into j: the
 * key=value fields of a verdict or close line as members, the whole
 * message as msg, so a pipeline takes either. */
static void
json_body(struct jline *j, const char *stamp, enum log_level l,
    const char *msg)
{
	char		 head[128];
	const char	*p, *k, *v;
	size_t		 kn, vn, en;

	snprintf(head, sizeof(head), "{\"time\":\"%s\",\"level\":\"%s\","
	    "\"pid\":%ld", stamp, names[l], (long)getpid());
	jput(j, head, strlen(head));
	if (fields_ok(msg)) {
		en = strcspn(msg, " ");
		jput(j, ",\"event\":", 9);
		jstr(j, msg, en);
		for (p = msg + en + 1; *p != '\0' && field(&p, &k, &kn, &v,
		    &vn); ) {
			jput(j, ",", 1);
			jstr(j, k, kn);
			jput(j, ":", 1);
			if (is_count(v, vn))
				jput(j, v, vn);
			else
				jstr(j, v, vn);
		}
	}
	jput(j, ",\"msg\":", 7);
	jstr(j, msg, strlen(msg));
}

/* The line's time, RFC 3339 / RFC 5424 TIMESTAMP: year, milliseconds and
 * zone (UTC). */
static void
stamp_now(char *buf, size_t sz)
{
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, sz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sz - n, ".%03ldZ", (long)tv.tv_usec / 1000);
}

/* A syslog datagram's head into buf: RFC 5424's, or RFC 3164's local
 * form as syslog(3) writes it (local time, day padded with a blank; no
 * host, the daemon adds its own). */
static size_t
syslog_head(char *buf, size_t sz, enum log_level l, const char *stamp)
{
	char		 ts[32];
	struct tm	 tm;
	time_t		 now;
	int		 pri = FACILITY_DAEMON * 8 + priorities[l];

	if (syslog_format == LOG_SYSLOG_RFC5424)
		return (size_t)snprintf(buf, sz, "<%d>1 %s %s pinshim %ld - - ",
		    pri, stamp, hostname, (long)getpid());
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
	return (size_t)snprintf(buf, sz, "<%d>%s pinshim[%ld]: ", pri, ts,
	    (long)getpid());
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	static char	 line[LOG_LINE_MAX];
	char		 msg[LOG_MSG_MAX], stamp[40];
	struct jline	 j;
	size_t		 off;
	va_list		 ap;

	if (l > level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	str_printable(msg);		/* a line stays one line */
	stamp_now(stamp, sizeof(stamp));
	/* the destination's head: syslog's (RFC 3164 or 5424), the priority
	 * for the journal (which keeps time and pid), time and pid else */
	if (syslog_fd != -1)
		off = syslog_head(line, sizeof(line), l, stamp);
	else if (stderr_is_journal())
		off = (size_t)snprintf(line, sizeof(line), "<%d>",
		    priorities[l]);
	else if (format == LOG_FORMAT_JSON)
		off = 0;		/* the time is a member */
	else
		off = (size_t)snprintf(line, sizeof(line), "%s pinshim[%ld] ",
		    stamp, (long)getpid());
	if (format == LOG_FORMAT_JSON) {
		j.buf = line + off;
		j.off = 0;
		j.cap = sizeof(line) - off - 1;		/* and a newline */
		j.full = false;
		json_body(&j, stamp, l, msg);
		jput(&j, "}", 1);
		if (j.full) {
			j.off = 0;
			j.full = false;
			json_body(&j, stamp, l, "log line too long");
			jput(&j, "}", 1);
		}
		off += j.off;
	} else {
		off += (size_t)snprintf(line + off, sizeof(line) - off - 1,
		    "%s: %s", names[l], msg);
		if (off > sizeof(line) - 2)
			off = sizeof(line) - 2;
	}
	if (syslog_fd != -1) {
		syslog_send(line, off);		/* a datagram: no newline */
		return;
	}
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}
