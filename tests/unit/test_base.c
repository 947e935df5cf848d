/*
 * test_base.c - the bottom layer: the bounds-checked cursor (hostile
 * cases first: short reads take nothing and stick), the comma-list
 * iterator, the URL parser, the latest known time, and the one JSON
 * string escape (json_str and the log's JSON lines).
 */
#include "testutil.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>

#include <event2/buffer.h>

#include "base/clock.h"
#include "base/cursor.h"
#include "base/file.h"
#include "base/json.h"
#include "base/list.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/strmap.h"
#include "base/url.h"

/* --- cursor -------------------------------------------------------------- */

static void
test_cursor_short_read_takes_nothing(void **state)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03 };
	struct cursor	 c;
	unsigned	 v;

	(void)state;
	cursor_init(&c, b, sizeof(b));
	assert_true(cursor_u24(&c, &v));
	assert_int_equal(v, 0x010203);
	assert_int_equal(c.left, 0);
	cursor_init(&c, b, 2);
	assert_false(cursor_u24(&c, &v));
	assert_true(c.short_);
	assert_int_equal(c.left, 2);		/* nothing consumed */
	assert_true(cursor_u16(&c, &v));
	assert_int_equal(v, 0x0102);
	assert_false(cursor_u8(&c, &v));
	assert_true(c.short_);			/* sticky */
}

static void
test_cursor_sub_is_bounded(void **state)
{
	static const uint8_t b[] = { 0, 3, 'a', 'b', 'c', 'd' };
	struct cursor	 c, s;
	unsigned	 n;
	const uint8_t	*p;

	(void)state;
	cursor_init(&c, b, sizeof(b));
	assert_true(cursor_u16(&c, &n));
	assert_true(cursor_sub(&c, n, &s));
	assert_int_equal(s.left, 3);
	assert_false(cursor_take(&s, 4, &p));	/* not into the parent */
	assert_true(cursor_take(&s, 3, &p));
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(c.left, 1);
	assert_false(cursor_sub(&c, 2, &s));
	cursor_init(&s, NULL, 5);		/* no buffer: nothing to read */
	assert_int_equal(s.left, 0);
}

static void
test_cursor_lines_and_tokens(void **state)
{
	static const char t[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
	struct cursor	 c, line, tok;
	char		 buf[8];

	(void)state;
	cursor_init(&c, t, strlen(t));
	assert_int_equal(cursor_find(&c, "\r\n\r\n", 4), 23);
	assert_int_equal(cursor_find(&c, "nope", 4), -1);
	assert_true(cursor_line(&c, &line));
	assert_true(cursor_until(&line, ' ', &tok));
	assert_true(cursor_eq(&tok, "GET"));
	assert_false(cursor_eq(&tok, "get"));
	assert_true(cursor_eq_nocase(&tok, "get"));
	assert_true(cursor_str(&tok, buf, sizeof(buf)));
	assert_string_equal(buf, "GET");
	assert_false(cursor_str(&line, buf, 2));	/* does not fit */
	assert_true(cursor_expect(&line, "/ "));
	assert_false(cursor_expect(&line, "HTTP/2"));
	assert_true(cursor_expect(&line, "HTTP/1.1"));
	assert_false(cursor_until(&line, ' ', &tok));	/* no delimiter */
	assert_true(cursor_line(&c, &line));
	assert_true(cursor_line(&c, &line));
	assert_int_equal(line.left, 0);
	assert_false(cursor_line(&c, &line));		/* "rest": no CRLF */
	assert_int_equal(c.left, 4);
}

static void
test_cursor_str_refuses_nul(void **state)
{
	struct cursor	 c;
	char		 buf[8];

	(void)state;
	cursor_init(&c, "a\0b", 3);
	assert_false(cursor_str(&c, buf, sizeof(buf)));
}

/* --- list ---------------------------------------------------------------- */

static void
test_list_items_and_separators(void **state)
{
	const char	*s = " ,a,, bb\tccc , ";
	char		 item[4];

	(void)state;
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_ITEM);
	assert_string_equal(item, "a");
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_ITEM);
	assert_string_equal(item, "bb");
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_ITEM);
	assert_string_equal(item, "ccc");
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_END);
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_END);
}

static void
test_list_overlong_item_is_flagged(void **state)
{
	const char	*s = "abcd,e";
	char		 item[4];

	(void)state;
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_TOO_LONG);
	assert_string_equal(item, "abc");	/* truncated, for messages */
	assert_int_equal(list_next(&s, item, sizeof(item)), LIST_ITEM);
	assert_string_equal(item, "e");
}

/* --- url ----------------------------------------------------------------- */

static void
test_url_refuses_what_it_must(void **state)
{
	static const char *const bad[] = { "", "pins.feed", "ftp://h/x",
	    "https://", "https://user:pw@h/x", "http:///x", "//h/x" };
	struct url	 u;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (url_parse(bad[i], &u, &why))
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
		url_free(&u);
	}
}

static void
test_url_parts(void **state)
{
	struct url	 u;
	const char	*why;

	(void)state;
	assert_true(url_parse("https://pins.test/a/b.feed?x=1", &u, &why));
	assert_true(u.tls);
	assert_string_equal(u.host, "pins.test");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/a/b.feed?x=1");
	url_free(&u);
	assert_true(url_parse("http://[::1]:8080", &u, &why));
	assert_false(u.tls);
	assert_string_equal(u.host, "::1");	/* no brackets: dialable */
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/");
	url_free(&u);
}

/* --- strmap -------------------------------------------------------------- */

static void
test_strmap_keeps_every_key_across_growth(void **state)
{
	struct strmap	*m = strmap_new();
	char		 key[32];
	size_t		 i, v;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "3:host%zu.test", i);
		assert_true(strmap_add(m, key, i, NULL));
	}
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "3:host%zu.test", i);
		assert_true(strmap_get(m, key, &v));
		assert_int_equal(v, i);
		assert_false(strmap_add(m, key, 99999, &v));	/* duplicate */
		assert_int_equal(v, i);				/* first kept */
	}
	assert_false(strmap_get(m, "3:absent.test", &v));
	strmap_free(m);
}

/* --- clock ---------------------------------------------------------------- */

static void
test_clock_never_goes_back(void **state)
{
	time_t	 now = time(NULL);

	(void)state;
	assert_true(clock_floor() >= clock_build_time());
	assert_true(clock_now() >= now);
	assert_true(clock_raise(now + 86400));
	assert_int_equal(clock_now(), now + 86400);	/* system clock behind */
	assert_false(clock_raise(now));			/* never lowered */
	assert_int_equal(clock_floor(), now + 86400);
}

static void
test_clock_persists_and_ignores_damage(void **state)
{
	char	 dir[256], path[300];
	time_t	 t = time(NULL) + 3600;

	(void)state;
	clock_reset();
	tu_mkdtemp(dir, sizeof(dir));
	assert_int_equal(clock_save(dir, t), 0);
	clock_load(dir);
	assert_int_equal(clock_floor(), t);
	assert_int_equal(clock_loaded(), t);
	tu_write_file(dir, CLOCK_FILE, "next tuesday\n", path, sizeof(path));
	clock_load(dir);				/* logged, ignored */
	assert_int_equal(clock_floor(), t);
	tu_write_file(dir, CLOCK_FILE, "1999-01-01T00:00:00Z\n", path,
	    sizeof(path));
	clock_load(dir);				/* older: no effect */
	assert_int_equal(clock_floor(), t);
	tu_rmrf(dir);
}

/* --- file ---------------------------------------------------------------- */

static void
test_file_split(void **state)
{
	char	 dir[8];

	(void)state;
	assert_null(file_split("/a/long/dir/x", dir, sizeof(dir)));
	assert_string_equal(file_split("/x", dir, sizeof(dir)), "x");
	assert_string_equal(dir, "/");
	assert_string_equal(file_split("x", dir, sizeof(dir)), "x");
	assert_string_equal(dir, ".");
	assert_string_equal(file_split("a/b/", dir, sizeof(dir)), "");
	assert_string_equal(dir, "a/b");
	assert_string_equal(file_split("/run/s", dir, sizeof(dir)), "s");
	assert_string_equal(dir, "/run");
}

static void
test_file_update_refuses_a_link_and_keeps_a_mode(void **state)
{
	char		 dir[256], real[300], link[300];
	struct stat	 sb;
	unsigned char	*text;
	size_t		 len;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_write_file(dir, "real.body", "old\n", real, sizeof(real));
	assert_int_equal(chmod(real, 0600), 0);
	snprintf(link, sizeof(link), "%s/link.body", dir);
	assert_int_equal(symlink(real, link), 0);
	/* a link: refused, and neither it nor its target changes */
	errno = 0;
	assert_int_equal(file_update(dir, "link.body", "new\n", 4), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	text = tu_read_file(real, &len);
	assert_memory_equal(text, "old\n", len);
	free(text);
	/* a missing file is not created */
	assert_int_equal(file_update(dir, "none.body", "new\n", 4), -1);
	assert_int_equal(errno, ENOENT);
	/* a plain file: replaced, its 0600 kept (file_replace: 0644) */
	assert_int_equal(file_update(dir, "real.body", "new\n", 4), 0);
	text = tu_read_file(real, &len);
	assert_memory_equal(text, "new\n", len);
	free(text);
	assert_int_equal(stat(real, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	tu_rmrf(dir);
}

/* A persisted time years past a sane system clock (what a worker that
 * ratcheted it left) is believed only to a day past that clock: the
 * trust store is loaded at the floor, and would be all expired. */
static void
test_clock_load_bounds_a_time_far_ahead(void **state)
{
	char	 dir[256], path[300];
	time_t	 before, after;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_write_file(dir, CLOCK_FILE, "2136-01-01T00:00:00Z\n", path,
	    sizeof(path));
	clock_reset();
	before = time(NULL);
	clock_load(dir);
	after = time(NULL);
	assert_int_equal(clock_loaded(), 5238432000LL);	/* as written */
	assert_true(clock_floor() >= before + CLOCK_SKEW);
	assert_true(clock_floor() <= after + CLOCK_SKEW);
	tu_rmrf(dir);
}

static void
test_clock_skew_bounds_only_a_sane_clock(void **state)
{
	time_t	 now = time(NULL), b = clock_build_time();

	(void)state;
	assert_true(clock_too_far_ahead((int64_t)now + CLOCK_SKEW + 1, now));
	assert_true(clock_too_far_ahead(INT64_MAX, now));
	assert_false(clock_too_far_ahead((int64_t)now + CLOCK_SKEW, now));
	assert_false(clock_too_far_ahead(0, now));
	/* behind the build date (an RTC-less boot): nothing is too far */
	if (b > 0)
		assert_false(clock_too_far_ahead(INT64_MAX, b - 1));
}

/* Hostile first: bytes that are not UTF-8, cut short, overlong, a
 * surrogate, past U+10FFFF, C0 and C1 controls, DEL; then text. */
static void
test_utf8_printable(void **state)
{
	static const char *const bad[] = { "\xff", "a\xc3", "\xc0\xaf",
	    "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80",
	    "a\tb", "\x1b[2J", "\x7f", "\xc2\x85", "\xc2\x9f" };
	static const char *const good[] = { "", "gw-0042", "Ger\xc3\xa4t",
	    "\xc2\xa0", "\xe2\x9c\x93", "\xf0\x9f\x94\x92", "a b\"\\" };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (str_utf8_printable(bad[i]))
			fail_msg("accepted bad[%zu]", i);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!str_utf8_printable(good[i]))
			fail_msg("refused good[%zu]", i);
	assert_int_equal(str_utf8_len("\xf0\x9f\x94\x92"), 4);
	assert_int_equal(str_utf8_len("\xe2\x82"), 0);
}

/* log_format = json: every line one JSON object python's strict parser
 * takes, whatever bytes the message holds (quotes, backslashes, bytes
 * that are not UTF-8, a message longer than the line); a verdict's
 * key=value fields become members (counts as numbers); a message with a
 * key twice, or one of the object's own, goes whole as msg. */
static void
test_log_json_lines_parse(void **state)
{
	static const char check[] =
	    "import json, sys\n"
	    "ls = [json.loads(l) for l in open(sys.argv[1], 'rb').read()"
	    ".decode('utf-8').splitlines()]\n"
	    "assert len(ls) == 7, ls\n"
	    "amb = ls.pop(1)\n"
	    "assert 'event' not in amb and amb['msg'] == "
	    "'verdict detail=\"a\" b\" up=1'\n"
	    "assert all(set(l) >= {'time', 'level', 'pid', 'msg'} for l in ls)\n"
	    "assert ls[0]['time'][4] == '-' and ls[0]['time'][-1] == 'Z'\n"
	    "v = ls[0]\n"
	    "assert v['event'] == 'verdict' and v['level'] == 'warn', v\n"
	    "assert v['host'] == 'api.test:443' and v['verdict'] == 'refuse'\n"
	    "assert v['detail'] == 'x \\\\ \\ufffd \"q\"!', v['detail']\n"
	    "assert v['up'] == 12 and v['port'] == '007'\n"
	    "assert 'event' not in ls[1] and ls[1]['msg'] == "
	    "'pinshim started: a=b'\n"
	    "assert 'event' not in ls[2], ls[2]\n"   /* a key twice */
	    "assert 'event' not in ls[3], ls[3]\n"   /* level= is ours */
	    "assert ls[4]['msg'].startswith('long ') and len(ls[4]['msg']) > 2000\n"
	    "assert ls[5]['msg'] == 'ctl ?? \\ufffd'\n";
	char	 dir[256], path[512], cmd[1024], big[4096];
	int	 fd, saved;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	tu_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_format(LOG_FORMAT_JSON);
	log_warn("verdict listener=api host=api.test:443 verdict=refuse "
	    "detail=\"%s\" up=12 port=007", "x \\ \xff \"q\"!");
	/* a quote then a blank inside a value: ambiguous, so whole */
	log_warn("verdict detail=\"a\" b\" up=1");
	log_info("pinshim started: a=b");
	log_info("close up=1 up=2");
	log_info("verdict level=err");
	memset(big, '\xe2', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("long %s", big);
	log_info("ctl \x01\x1b \xc0");
	log_set_format(LOG_FORMAT_TEXT);
	dup2(saved, STDERR_FILENO);
	close(saved);
	tu_write_file(dir, "check.py", check, cmd, sizeof(cmd));
	snprintf(cmd, sizeof(cmd), "python3 %s/check.py %s", dir, path);
	assert_int_equal(tu_sh(cmd), 0);
	tu_rmrf(dir);
}

/* --- the one JSON string escape ------------------------------------------ */

/* Each rule of str_json_char, as json_str writes it and as a
 * log_format = json line carries it. */
static const struct {
	const char	*in, *json;
} json_cases[] = {
	{ "say \"hi\"", "say \\\"hi\\\"" },
	{ "a\\b", "a\\\\b" },
	{ "\x01\x1f\t\n", "\\u0001\\u001f\\u0009\\u000a" },
	{ "\x7f", "\\u007f" },
	{ "Ger\xc3\xa4t \xe2\x9c\x93 \xf0\x9f\x94\x92",
	    "Ger\xc3\xa4t \xe2\x9c\x93 \xf0\x9f\x94\x92" },
	/* a stray continuation, 0xff, an overlong form, a surrogate, past
	 * U+10FFFF, cut short: one U+FFFD a byte */
	{ "\x80 \xff \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 a\xe2\x82",
	    "\\ufffd \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd "
	    "\\ufffd\\ufffd\\ufffd\\ufffd a\\ufffd\\ufffd" },
};

/* s as json_str writes it, NUL-terminated, into buf. */
static void
json_of(const char *s, char *buf, size_t sz)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 n;

	assert_non_null(b);
	json_str(b, s);
	n = evbuffer_get_length(b);
	assert_true(n < sz);
	evbuffer_remove(b, buf, n);
	buf[n] = '\0';
	evbuffer_free(b);
}

static void
test_json_escape_rules(void **state)
{
	char	 got[256], want[256], out[STR_JSON_MAX];
	size_t	 i, len;

	(void)state;
	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		json_of(json_cases[i].in, got, sizeof(got));
		snprintf(want, sizeof(want), "\"%s\"", json_cases[i].json);
		if (strcmp(got, want) != 0)
			fail_msg("json_cases[%zu]: %s, not %s", i, got, want);
	}
	json_of("", got, sizeof(got));
	assert_string_equal(got, "\"\"");
	/* the length bounds a sequence: one cut by n is not well formed */
	assert_int_equal(str_json_char("\xc3\xa4", 2, out, &len), 2);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "\xc3\xa4", 2);
	assert_int_equal(str_json_char("\xc3\xa4", 1, out, &len), 1);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "\\ufffd", 6);
	assert_int_equal(str_json_char("\x00", 1, out, &len), 1);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "\\u0000", 6);
}

/* A log_format = json line writes a field and its message the way
 * json_str does, byte for byte. The log makes control bytes and DEL '?'
 * first (str_printable), so those arrive as '?'. */
static void
test_log_json_agrees_with_json_str(void **state)
{
	char	 msg[256], line[4096], detail[256], whole[512], want[1024];
	int	 p[2], saved;
	size_t	 i, n;
	ssize_t	 got;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		assert_int_equal(pipe(p), 0);
		saved = dup(STDERR_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		log_set_format(LOG_FORMAT_JSON);
		log_info("verdict detail=\"%s\"", json_cases[i].in);
		log_set_format(LOG_FORMAT_TEXT);
		dup2(saved, STDERR_FILENO);
		close(saved);
		got = read(p[0], line, sizeof(line) - 1);
		close(p[0]);
		assert_true(got > 0);
		line[got] = '\0';

		snprintf(msg, sizeof(msg), "%s", json_cases[i].in);
		str_printable(msg);
		json_of(msg, detail, sizeof(detail));
		snprintf(msg, sizeof(msg), "verdict detail=\"%s\"",
		    json_cases[i].in);
		str_printable(msg);
		json_of(msg, whole, sizeof(whole));
		snprintf(want, sizeof(want),
		    ",\"event\":\"verdict\",\"detail\":%s,\"msg\":%s}\n",
		    detail, whole);
		n = strlen(want);
		if ((size_t)got < n || strcmp(line + got - n, want) != 0)
			fail_msg("json_cases[%zu]: %s, not ...%s", i, line,
			    want);
		if (strpbrk(json_cases[i].in, "\x01\x7f") != NULL)
			assert_contains(line, "\"detail\":\"?");
	}
}

/* A datagram from the syslog socket at fd, NUL-terminated. */
static size_t
recv_line(int fd, char *buf, size_t sz)
{
	ssize_t	 n = recv(fd, buf, sz - 1, 0);

	assert_true(n > 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* "Mmm dd hh:mm:ss" of t, eight hours west of UTC (TZ=PST8 below): RFC
 * 3164's time is local, day padded with a blank, as syslog(3) writes. */
static void
stamp3164(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	t -= 8 * 3600;
	gmtime_r(&t, &tm);
	strftime(buf, sz, "%b %e %H:%M:%S", &tm);
}

/* log = syslog: one datagram per line to a socket we bind, in RFC 3164's
 * local form by default and RFC 5424's with syslog_format = rfc5424; the
 * message after the head is the same in both, and a socket that takes
 * nothing more drops lines (counted) rather than blocking. */
static void
test_log_syslog_framing(void **state)
{
	struct sockaddr_un	 un;
	char			 dir[256], buf[8192], want[8192], ts0[32],
				 ts1[32], host[256];
	const char		*body = "warn: verdict listener=api "
	    "host=api.test:443 verdict=refuse reason=pin-mismatch "
	    "presented=sha256/A";
	time_t			 t0, t1;
	size_t			 n;
	unsigned long long	 dropped;
	int			 fd, i;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	setenv("TZ", "PST8", 1);
	tu_mkdtemp(dir, sizeof(dir));
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_true(strlen(dir) + 4 < sizeof(un.sun_path));
	memcpy(un.sun_path, dir, strlen(dir));
	memcpy(un.sun_path + strlen(dir), "/log", 4);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(log_to_syslog(un.sun_path), 0);

	/* the default: "<PRI>Mmm dd hh:mm:ss pinshim[PID]: " */
	t0 = time(NULL);
	log_warn("%s", body + 6);
	t1 = time(NULL);
	n = recv_line(fd, buf, sizeof(buf));
	stamp3164(t0, ts0, sizeof(ts0));
	stamp3164(t1, ts1, sizeof(ts1));
	snprintf(want, sizeof(want), "<28>%s pinshim[%ld]: %s",
	    strncmp(buf + 4, ts0, strlen(ts0)) == 0 ? ts0 : ts1,
	    (long)getpid(), body);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));	/* no newline, no NUL */
	log_info("pinshim started: x");
	recv_line(fd, buf, sizeof(buf));
	assert_true(strncmp(buf, "<30>", 4) == 0);
	assert_true(strstr(buf, "]: info: pinshim started: x") != NULL);
	/* what busybox and journald look for, "Mmm dd hh:mm:ss ", and the
	 * 16 bytes OpenWrt's logd strips when the 16th is a blank */
	assert_true(buf[7] == ' ' && buf[10] == ' ' && buf[13] == ':' &&
	    buf[16] == ':' && buf[19] == ' ');

	/* json: the same head, the object after it */
	log_set_format(LOG_FORMAT_JSON);
	log_info("close up=1");
	log_set_format(LOG_FORMAT_TEXT);
	recv_line(fd, buf, sizeof(buf));
	snprintf(want, sizeof(want), " pinshim[%ld]: {\"time\":\"",
	    (long)getpid());
	assert_true(strncmp(buf + 19, want, strlen(want)) == 0);
	assert_true(strstr(buf, ",\"event\":\"close\",\"up\":1,") != NULL);

	/* rfc5424: "<PRI>1 TIMESTAMP HOSTNAME pinshim PID - - " */
	log_set_syslog_format(LOG_SYSLOG_RFC5424);
	log_warn("%s", body + 6);
	recv_line(fd, buf, sizeof(buf));
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "-");
	assert_true(strncmp(buf, "<28>1 ", 6) == 0);
	/* 2026-12-07T11:58:28.123Z */
	assert_true(buf[10] == '-' && buf[16] == 'T' && buf[25] == '.' &&
	    buf[29] == 'Z' && buf[30] == ' ');
	snprintf(want, sizeof(want), " %s pinshim %ld - - %s", host,
	    (long)getpid(), body);
	assert_string_equal(buf + 30, want);
	log_set_syslog_format(LOG_SYSLOG_RFC3164);

	/* nobody reads: lines are dropped and counted, never waited for */
	dropped = log_dropped();
	for (i = 0; i < 2000; i++)
		log_info("fill %d", i);
	assert_true(log_dropped() > dropped);

	log_to_stderr();
	close(fd);
	unsetenv("TZ");
	tu_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cursor_short_read_takes_nothing),
		cmocka_unit_test(test_cursor_sub_is_bounded),
		cmocka_unit_test(test_cursor_lines_and_tokens),
		cmocka_unit_test(test_cursor_str_refuses_nul),
		cmocka_unit_test(test_list_items_and_separators),
		cmocka_unit_test(test_list_overlong_item_is_flagged),
		cmocka_unit_test(test_url_refuses_what_it_must),
		cmocka_unit_test(test_url_parts),
		cmocka_unit_test(test_strmap_keeps_every_key_across_growth),
		cmocka_unit_test(test_clock_never_goes_back),
		cmocka_unit_test(test_clock_persists_and_ignores_damage),
		cmocka_unit_test(test_file_split),
		cmocka_unit_test(test_file_update_refuses_a_link_and_keeps_a_mode),
		cmocka_unit_test(test_clock_load_bounds_a_time_far_ahead),
		cmocka_unit_test(test_clock_skew_bounds_only_a_sane_clock),
		cmocka_unit_test(test_utf8_printable),
		cmocka_unit_test(test_log_json_lines_parse),
		cmocka_unit_test(test_json_escape_rules),
		cmocka_unit_test(test_log_json_agrees_with_json_str),
		cmocka_unit_test(test_log_syslog_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
