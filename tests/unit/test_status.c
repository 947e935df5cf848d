/*
 * test_status.c - the renderers of [shim] status over a hand-built view:
 * /metrics is Prometheus text format (every sample a well-formed line of
 * a family declared before it, label values escaped), /status is valid
 * JSON whatever bytes the configuration put in device_id, and the text
 * summary says what is in force and ends with the health.
 */
#include "testutil.h"

#include <ctype.h>

#include <event2/buffer.h>

#include "shim/status/status_render.h"
#include "shim/version.h"

#define NOW	1750000000		/* 2025-06-15 */

static const char *const outcomes[FEED_FETCH_OUTCOMES] = { "a", "b", "c",
    "d" };

struct fixture {
	struct status_view	 v;
	struct status_listener	 ls[2];
	struct metrics_series	 series[2];
	struct metrics_hist	 hist;
	struct metrics_refusal	 refusal;
	struct rule		 rules[2];
};

static struct fixture	 fx;

/* A view of a daemon with two listeners (one with a name that needs
 * escaping), two verdict series, a refusal, a feed and two rules: one
 * not enforced, one whose pins expire in a week. */
static void
build_view(void)
{
	struct status_view	*v = &fx.v;

	memset(&fx, 0, sizeof(fx));
	fx.ls[0] = (struct status_listener){ .name = "web", .mode = "tunnel",
	    .bind_host = "127.0.0.1", .port = 8443, .active = 3,
	    .max_conns = 100, .accepted = 10, .bytes_up = 5, .bytes_down = 7 };
	fx.ls[1] = (struct status_listener){ .name = "q\"b\\n\nx",
	    .mode = "forward", .bind_host = "::1", .port = 3128 };
	snprintf(fx.series[0].listener, sizeof(fx.series[0].listener), "web");
	snprintf(fx.series[0].policy, sizeof(fx.series[0].policy), "pin");
	snprintf(fx.series[0].verdict, sizeof(fx.series[0].verdict), "pass");
	snprintf(fx.series[0].reason, sizeof(fx.series[0].reason), "ok");
	fx.series[0].n = 9;
	fx.series[1] = fx.series[0];
	snprintf(fx.series[1].verdict, sizeof(fx.series[1].verdict),
	    "refuse");
	snprintf(fx.series[1].reason, sizeof(fx.series[1].reason),
	    "pin-mismatch");
	fx.series[1].n = 1;
	fx.hist.bucket[0] = 2;
	fx.hist.bucket[3] = 1;
	fx.hist.count = 3;
	fx.hist.sum = 0.06;
	fx.refusal = (struct metrics_refusal){ .when = NOW - 5, .port = 443 };
	snprintf(fx.refusal.listener, sizeof(fx.refusal.listener), "web");
	snprintf(fx.refusal.client, sizeof(fx.refusal.client), "127.0.0.1");
	snprintf(fx.refusal.host, sizeof(fx.refusal.host), "api.example");
	snprintf(fx.refusal.policy, sizeof(fx.refusal.policy), "pin");
	snprintf(fx.refusal.verdict, sizeof(fx.refusal.verdict), "refuse");
	snprintf(fx.refusal.reason, sizeof(fx.refusal.reason),
	    "pin-mismatch");
	snprintf(fx.refusal.detail, sizeof(fx.refusal.detail),
	    "no pin matched");
	snprintf(fx.refusal.presented, sizeof(fx.refusal.presented),
	    "sha256/AAAA,sha256/BBBB");
	fx.rules[0].pattern = "*.example";
	fx.rules[0].observe_only = true;
	fx.rules[1].pattern = "api.example";
	fx.rules[1].has_expires = true;
	fx.rules[1].expires = NOW + 7 * 86400;
	fx.rules[1].on_expiry = POLICY_CA;

	v->now = v->wall = NOW;
	v->started = NOW - 100;
	v->device_id = "gw-7";
	v->wolfssl_version = "5.7.2";
	v->libevent_version = "2.1.12-stable";
	v->open_fds = 12;
	v->max_fds = 1024;
	v->listeners = fx.ls;
	v->nlisteners = 2;
	v->held = 3;
	v->passed = 9;
	v->refused = 1;
	v->series = fx.series;
	v->nseries = 2;
	v->handshakes = &fx.hist;
	v->recent[0] = &fx.refusal;
	v->nrecent = 1;
	v->rules = fx.rules;
	v->nrules = 2;
	v->feed_present = true;
	v->feed_refresh = 3600;
	v->feed.version = 4;
	v->feed.issued = NOW - 3600;
	v->feed.expires = NOW + 86400;
	v->feed.keys_version = 2;
	v->feed.source = "https://feed.example/pins";
	v->feed.last_success = NOW - 60;
	v->feed.fetches[0] = 5;
	v->fetch_outcomes = outcomes;
	v->ca = true;
	v->mints = 2;
	v->tofu = true;
}

/* The renderer's output as a NUL-terminated string, malloc'd. */
static char *
render(void (*fn)(const struct status_view *, struct evbuffer *))
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 n;
	char		*s;

	assert_non_null(b);
	fn(&fx.v, b);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* A metric name at *p ([a-zA-Z_:][a-zA-Z0-9_:]*), copied into out. */
static bool
prom_name(const char **p, char *out, size_t sz)
{
	size_t	 n = 0;

	if (!isalpha((unsigned char)**p) && **p != '_' && **p != ':')
		return false;
	while (isalnum((unsigned char)**p) || **p == '_' || **p == ':') {
		if (n + 1 < sz)
			out[n++] = **p;
		(*p)++;
	}
	out[n] = '\0';
	return true;
}

/* One sample line: name{label="value",...} number. The value escapes are
 * the three the format allows. */
static bool
prom_sample(const char *p, char *name, size_t sz)
{
	char	 lname[64], *end;

	if (!prom_name(&p, name, sz))
		return false;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!prom_name(&p, lname, sizeof(lname)) || *p++ != '=' ||
			    *p++ != '"')
				return false;
			for (; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					return false;
				if (*p == '\\' && *++p != '\\' && *p != '"' &&
				    *p != 'n')
					return false;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	if (strcmp(p, "+Inf") == 0)
		return true;
	strtod(p, &end);
	return end != p && *end == '\0';
}

/* Every line of text is a HELP, a TYPE or a sample of a family whose
 * TYPE came before it (a histogram's _bucket, _sum and _count too). */
static void
assert_prometheus(char *text)
{
	char	 types[64][96], name[96], *line, *save = NULL;
	size_t	 ntypes = 0, i, lines = 0;

	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), lines++) {
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			const char	*p = line + 7;

			assert_true(prom_name(&p, name, sizeof(name)));
			if (strcmp(p, " counter") != 0 && strcmp(p, " gauge") !=
			    0 && strcmp(p, " histogram") != 0)
				fail_msg("bad TYPE line: %s", line);
			assert_true(ntypes < 64);
			snprintf(types[ntypes++], sizeof(types[0]), "%s", name);
			continue;
		}
		if (!prom_sample(line, name, sizeof(name)))
			fail_msg("not a sample line: %s", line);
		for (i = 0; i < ntypes; i++) {
			size_t	 n = strlen(types[i]);

			if (strncmp(name, types[i], n) == 0 && (name[n] ==
			    '\0' || strcmp(name + n, "_bucket") == 0 ||
			    strcmp(name + n, "_sum") == 0 ||
			    strcmp(name + n, "_count") == 0))
				break;
		}
		if (i == ntypes)
			fail_msg("sample of an undeclared family: %s", line);
	}
	assert_true(lines > 20);
}

static void
test_metrics_prometheus_lines(void **state)
{
	char	*m;

	(void)state;
	build_view();
	m = render(status_render_metrics);
	assert_contains(m, "pinshim_build_info{version=\"" PINSHIM_VERSION
	    "\",wolfssl=\"5.7.2\",libevent=\"2.1.12-stable\"} 1\n");
	assert_contains(m, "\npinshim_device_info{device_id=\"gw-7\"} 1\n");
	assert_contains(m, "\nprocess_open_fds 12\n");
	assert_contains(m, "\nprocess_max_fds 1024\n");
	assert_contains(m, "\npinshim_connections_active{listener=\"web\"} "
	    "3\n");
	/* a quote, a backslash and a newline in a label value, escaped */
	assert_contains(m, "\npinshim_connections_accepted_total{listener="
	    "\"q\\\"b\\\\n\\nx\"} 0\n");
	assert_contains(m, "\npinshim_relayed_bytes_total{listener=\"web\","
	    "direction=\"down\"} 7\n");
	assert_contains(m, "\npinshim_verdicts_total{listener=\"web\","
	    "policy=\"pin\",verdict=\"refuse\",reason=\"pin-mismatch\"} 1\n");
	/* buckets are cumulative and end at +Inf = count */
	assert_contains(m, "_bucket{le=\"0.005\"} 2\n");
	assert_contains(m, "_bucket{le=\"0.05\"} 3\n");
	assert_contains(m, "_bucket{le=\"+Inf\"} 3\n");
	assert_contains(m, "\npinshim_feed_version 4\n");
	assert_contains(m, "\npinshim_feed_seconds_since_last_success 60\n");
	assert_contains(m, "\npinshim_feed_fetches_total{outcome=\"a\"} 5\n");
	assert_contains(m, "\npinshim_feed_stale 0\n");
	assert_contains(m, "\npinshim_pin_set_earliest_expiry_timestamp_"
	    "seconds 1750604800\n");
	assert_contains(m, "\npinshim_minted_leaves_total 2\n");
	assert_contains(m, "\npinshim_tofu_pending_writes 0\n");
	/* the keeper's count only with a keeper */
	assert_not_contains(m, "pinshim_mint_refusals_total");
	assert_prometheus(m);
	free(m);
}

/* What is not there is not shown: no feed, no CA, no TOFU, no fds. */
static void
test_metrics_without_optional_parts(void **state)
{
	char	*m;

	(void)state;
	build_view();
	fx.v.feed_present = fx.v.ca = fx.v.tofu = false;
	fx.v.open_fds = -1;
	fx.v.nrules = 0;
	m = render(status_render_metrics);
	assert_not_contains(m, "pinshim_feed_");
	assert_not_contains(m, "pinshim_minted_");
	assert_not_contains(m, "pinshim_tofu_");
	assert_not_contains(m, "process_open_fds");
	assert_not_contains(m, "pinshim_pin_set_earliest");
	assert_prometheus(m);
	free(m);
}

/* Is text one valid JSON document in UTF-8? (python3's strict parser) */
static bool
valid_json(const char *text)
{
	char	 dir[256], path[512], cmd[1024];
	int	 rc;

	tu_mkdtemp(dir, sizeof(dir));
	tu_write_file(dir, "status.json", text, path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json, sys; "
	    "json.loads(open(sys.argv[1], \"rb\").read().decode(\"utf-8\"))' "
	    "%s", path);
	rc = tu_sh(cmd);
	tu_rmrf(dir);
	return rc == 0;
}

static void
test_json_valid(void **state)
{
	char	*j;

	(void)state;
	build_view();
	j = render(status_render_json);
	assert_true(valid_json(j));
	assert_contains(j, "\"device_id\":\"gw-7\"");
	assert_contains(j, "\"uptime_seconds\":100,\"health\":\"ok\"");
	assert_contains(j, "\"connections\":{\"held\":3,\"passed\":9,"
	    "\"refused\":1,\"would_refuse\":0}");
	assert_contains(j, "{\"name\":\"q\\\"b\\\\n\\u000ax\",\"mode\":"
	    "\"forward\",\"bind\":\"::1\",\"port\":3128");
	assert_contains(j, "\"presented\":[\"sha256/AAAA\",\"sha256/BBBB\"]");
	assert_contains(j, "\"not_enforced\":[\"*.example\"]");
	assert_contains(j, "\"expiring_pin_sets\":[{\"pattern\":"
	    "\"api.example\",\"expires\":\"2025-06-22T15:06:40Z\","
	    "\"expired\":false,\"on_expiry\":\"ca\"}]");
	free(j);
	fx.v.device_id = NULL;
	fx.v.feed_present = false;
	j = render(status_render_json);
	assert_true(valid_json(j));
	assert_contains(j, "\"device_id\":null");
	assert_contains(j, "\"feed\":null");
	free(j);
}

/* device_id is the configuration's, as the file spelled it: control
 * bytes are escaped and bytes that are not UTF-8 become U+FFFD, so the
 * document stays valid JSON; well-formed UTF-8 passes as it is. */
static void
test_json_device_id_escaped(void **state)
{
	char	*j;

	(void)state;
	build_view();
	fx.v.device_id = "gw\x01\t\xff\"\xc3\xa9\xe2\x82\xac"
	    "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
	j = render(status_render_json);
	assert_true(valid_json(j));
	assert_contains(j, "\"device_id\":\"gw\\u0001\\u0009\\ufffd\\\""
	    "\xc3\xa9\xe2\x82\xac"			/* e-acute, euro */
	    "\\ufffd\\ufffd"				/* overlong */
	    "\\ufffd\\ufffd\\ufffd"			/* a surrogate */
	    "\\ufffd\\ufffd\\ufffd\\ufffd"		/* past U+10FFFF */
	    "\\ufffd\\ufffd\",");			/* cut short */
	free(j);
}

/* The device_id label: escaped as the text format says, and bytes that
 * are not UTF-8 (the format's encoding) written as U+FFFD. */
static void
test_metrics_device_label(void **state)
{
	char	*m;

	(void)state;
	build_view();
	fx.v.device_id = "a\"b\\c\nd\xff\xc3\xa9\xe2\x82";
	m = render(status_render_metrics);
	assert_contains(m, "\npinshim_device_info{device_id=\"a\\\"b\\\\c"
	    "\\nd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
	free(m);
	fx.v.device_id = NULL;
	m = render(status_render_metrics);
	assert_not_contains(m, "pinshim_device_info");
	free(m);
}

static void
test_text_summary(void **state)
{
	char	*t;

	(void)state;
	build_view();
	t = render(status_render_text);
	assert_contains(t, "pinshim " PINSHIM_VERSION ", up 100s, device "
	    "gw-7\n");
	assert_contains(t, "\nlistener web (tunnel) 127.0.0.1:8443: 3 active, "
	    "10 accepted\n");
	assert_contains(t, "\nconnections: 9 passed, 1 refused, 0 "
	    "would-refuse (not enforced)\n");
	assert_contains(t, "\nfeed: version 4 from https://feed.example/pins, "
	    "issued 2025-06-15T14:06:40Z, expires 2025-06-16T15:06:40Z, key "
	    "set 2\n");
	assert_contains(t, "\nNOT ENFORCED: *.example (enforce = no)\n");
	assert_contains(t, "\npins of api.example expire 2025-06-22T15:06:40Z "
	    "(then ca)\n");
	assert_contains(t, "\n2025-06-15T15:06:35Z refuse api.example:443 "
	    "pin-mismatch (no pin matched) listener web, presented "
	    "sha256/AAAA,sha256/BBBB\n");
	assert_true(strlen(t) > 12 &&
	    strcmp(t + strlen(t) - 11, "health: ok\n") == 0);
	free(t);
}

/* The health, case by case: the last line of the summary, and the
 * feed's stale gauge. */
static void
test_health(void **state)
{
	static const struct {
		const char	*name;
		bool		 feed;		/* [feed] configured */
		unsigned long long version;	/* in force; 0: none */
		time_t		 last_success;	/* ago; 0: never */
		time_t		 expires;	/* feed's, from now */
		int64_t		 pins_expire;	/* from now */
		const char	*want;
		int		 stale;		/* the gauge; -1: absent */
		time_t		 up;		/* 0: 100 s */
	} cases[] = {
		{ "no feed configured", false, 0, 0, 0, 86400, "ok", -1, 0 },
		{ "pins expired", false, 0, 0, 0, 0, "pin-set-expired", -1, 0 },
		{ "fresh feed", true, 4, 60, 86400, 86400, "ok", 0, 0 },
		{ "none yet, in time", true, 0, 0, 86400, 86400, "no-feed",
		    0, 0 },
		{ "feed expired", true, 4, 60, 0, 86400, "expired", 1, 0 },
		/* 3 refresh periods (3 h) without a fetch that worked */
		{ "stale", true, 4, 3 * 3600 + 1, 86400, 86400, "stale", 1, 0 },
		{ "stale since start", true, 0, 0, 86400, 86400, "stale", 1,
		    3 * 3600 + 1 },
	};
	char	 want[64], *t, *m;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build_view();
		fx.v.feed_present = cases[i].feed;
		fx.v.feed.version = cases[i].version;
		fx.v.feed.last_success = cases[i].last_success ? NOW -
		    cases[i].last_success : 0;
		fx.v.feed.expires = NOW + cases[i].expires;
		fx.rules[1].expires = NOW + cases[i].pins_expire;
		if (cases[i].up != 0)
			fx.v.started = NOW - cases[i].up;
		t = render(status_render_text);
		snprintf(want, sizeof(want), "health: %s\n", cases[i].want);
		if (strcmp(t + strlen(t) - strlen(want), want) != 0)
			fail_msg("%s: want %s in:\n%s", cases[i].name, want, t);
		free(t);
		m = render(status_render_metrics);
		snprintf(want, sizeof(want), "\npinshim_feed_stale %d\n",
		    cases[i].stale);
		if (cases[i].stale == -1)
			assert_not_contains(m, "pinshim_feed_stale");
		else if (strstr(m, want) == NULL)
			fail_msg("%s: want %s", cases[i].name, want);
		free(m);
	}
}

/* Refusing: a pinned host refused within the window and none passed;
 * a pass in the window, or a refusal older than it, is not. */
static void
test_refusing(void **state)
{
	static const struct {
		const char	*name;
		time_t		 refusal, pass;	/* ago; 0: never */
		const char	*want;
	} cases[] = {
		{ "never refused", 0, 0, "ok" },
		{ "refused, never passed", 10, 0, "refusing" },
		{ "refused, passed before the window", 10,
		    STATUS_REFUSING_WINDOW + 1, "refusing" },
		{ "refused, then passed", 10, 5, "ok" },
		{ "passed, then refused, in the window", 5, 10, "ok" },
		{ "refused before the window", STATUS_REFUSING_WINDOW, 0, "ok" },
	};
	struct metrics_pinned	 p;
	char			 want[64], *t, *j, *m;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build_view();
		p.last_refusal = cases[i].refusal ? NOW - cases[i].refusal : 0;
		p.last_pass = cases[i].pass ? NOW - cases[i].pass : 0;
		fx.v.pinned = &p;
		t = render(status_render_text);
		snprintf(want, sizeof(want), "health: %s\n", cases[i].want);
		if (strcmp(t + strlen(t) - strlen(want), want) != 0)
			fail_msg("%s: want %s in:\n%s", cases[i].name, want, t);
		free(t);
		m = render(status_render_metrics);
		snprintf(want, sizeof(want), "\npinshim_pinned_refusing %d\n",
		    strcmp(cases[i].want, "refusing") == 0);
		if (strstr(m, want) == NULL)
			fail_msg("%s: want %s", cases[i].name, want);
		free(m);
		j = render(status_render_json);
		assert_true(valid_json(j));
		snprintf(want, sizeof(want), "\"health\":\"%s\"",
		    cases[i].want);
		if (strstr(j, want) == NULL)
			fail_msg("%s: want %s in:\n%s", cases[i].name, want, j);
		free(j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_prometheus_lines),
		cmocka_unit_test(test_metrics_without_optional_parts),
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_json_device_id_escaped),
		cmocka_unit_test(test_metrics_device_label),
		cmocka_unit_test(test_refusing),
		cmocka_unit_test(test_text_summary),
		cmocka_unit_test(test_health),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
