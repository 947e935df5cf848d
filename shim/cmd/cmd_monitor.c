/*
 * cmd_monitor.c - `pinshim monitor FEED`: the publisher's vantage point.
 * Every host the (verified) feed pins is probed at every address it
 * resolves to, and judged exactly as a device would judge it: a mismatch
 * is found here before it bricks a fleet. Also: pins expiring within 30
 * days, pin sets with no backup pin, and, for tofu hosts, the leaf keys
 * seen, which --write-observed puts in a body as observed = for the
 * devices' attested first contact.
 *
 * Probes run concurrently on one event loop (probe.c): at most --parallel
 * at a time, each bounded by --timeout, so dead endpoints cost a round
 * their timeout once, not one after another. Every round reads the feed
 * file again, and with --url fetches the published copy, each judged by
 * the devices' rules (feedwatch.c): a bad re-publish is a state of its
 * own, and the hosts probed stay the last good copy's. Every line carries
 * its RFC 3339 time.
 *
 * One round by default; --every SECONDS loops, running --alert CMD once
 * per change of an endpoint's or a feed's state, after the round. Exit 1
 * on a mismatch or a feed devices refuse, 3 on unreachable endpoints only,
 * 0 otherwise (--fail-on lowers the bar).
 *
 * Must never: probe a feed whose signatures it has not verified, or call
 * a host matching that a device would refuse.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "base/file.h"
#include "base/json.h"
#include "base/list.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/strmap.h"
#include "base/url.h"
#include "conf/conf.h"
#include "pins/feed_keys.h"
#include "shim/cmd/cmd.h"
#include "shim/cmd/cmd_body.h"
#include "shim/cmd/feedwatch.h"
#include "shim/cmd/probe.h"
#include "tls/tls.h"

#define SOON_DAYS	30
#define MAX_ADDRS	16
#define MAX_OVERRIDES	32
#define MAX_SEEN	65536	/* endpoint states remembered for --alert */
#define ALERT_WAIT	30	/* seconds an alert command may run */
#define FEED_FILE_MAX	(64UL << 20)
#define PARALLEL_DEFAULT 64
#define PARALLEL_MAX	1024
#define TIMEOUT_DEFAULT	5

/* --fail-on: what makes the exit status non-zero. */
enum fail_on {
	FAIL_UNREACHABLE,	/* 1 mismatch, 3 unreachable only */
	FAIL_MISMATCH,		/* 1 mismatch; unreachable is 0 */
	FAIL_NONE,		/* 0 whatever was found */
};

struct override {
	char		 host[HOST_MAX + 1];
	struct sockaddr_storage ss;
};

struct args {
	const char	*feed, *ini, *ca_file, *alert, *write_observed;
	const char	*url, *hosts;
	struct feed_keyset keys;
	unsigned long	 every, rounds, port, parallel, timeout;
	enum fail_on	 fail_on;
	bool		 json;
	struct override	 ov[MAX_OVERRIDES];
	size_t		 nov;
};

/* One finding's state, remembered between rounds for --alert. */
struct seen {
	char		*state;		/* owned */
};

/* An alert to run once the round is over: a slow command must not hold
 * the probes' clocks. */
struct alert {
	char		*state, *host, *addr, *line;	/* owned */
};

/* A host of the round. */
struct mhost {
	struct monitor	*m;
	const struct rule *r;		/* borrowed from m->body */
	bool		 backup_checked;
	/* tofu: the leaf keys seen, for --write-observed; or NULL */
	char		*obs;		/* owned */
};

struct monitor {
	struct args	*a;
	struct event_base *base;	/* owned */
	struct evdns_base *dns;		/* owned */
	struct probe_pool *pool;	/* owned */
	struct feed_body *body;		/* the last good copy of the file
					 * (at first: the first verified),
					 * whose hosts are probed; owned */
	struct feedwatch file, web;	/* the file's and the URL's judges */
	struct url	 url;		/* with --url */
	const struct pinset *feed_pins;	/* -c: [feed] pins; borrowed */
	struct pinset	 url_pins;	/* this round's for the URL; owned */
	struct strmap	*seenmap;	/* "host addr kind" -> seen index */
	struct seen	*seen;		/* owned */
	size_t		 nseen;
	struct alert	*alerts;	/* owned, this round's */
	size_t		 nalerts;
	struct mhost	*hosts;		/* owned, this round's */
	size_t		 nhosts;
	bool		 partial;	/* a tofu host not seen everywhere */
	/* over every round, for the exit status */
	unsigned long	 bad, unreachable;
	/* this round's endpoints, for its summary */
	unsigned long	 n_match, n_mismatch, n_unreach;
	bool		 stop;
};

static void
now_rfc3339(char *buf, size_t sz)
{
	format_rfc3339((int64_t)time(NULL), buf, sz);
}

static void
run_alert(const char *cmd, const char *state, const char *host,
    const char *addr, const char *line)
{
	int	 p[2];
	pid_t	 pid;

	if (pipe(p) == -1)
		return;
	if ((pid = fork()) == 0) {
		signal(SIGPIPE, SIG_DFL);	/* ignored here; not for it */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		dup2(p[0], STDIN_FILENO);
		close(p[0]);
		close(p[1]);
		setenv("PINSHIM_MONITOR_STATE", state, 1);
		setenv("PINSHIM_MONITOR_HOST", host, 1);
		setenv("PINSHIM_MONITOR_ADDR", addr, 1);
		setenv("PINSHIM_MONITOR_LINE", line, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (pid > 0) {
		(void)!write(p[1], line, strlen(line));
		(void)!write(p[1], "\n", 1);
	}
	close(p[1]);
	/* a hung alert (a webhook without a timeout) must not stop the
	 * monitoring: it gets ALERT_WAIT seconds. Polled every 10 ms: a
	 * round that changed hundreds of endpoints runs as many alerts */
	for (int i = 0; pid > 0 && i < ALERT_WAIT * 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	if (pid > 0) {
		fprintf(stderr, "pinshim monitor: --alert still running after "
		    "%d s: killed\n", ALERT_WAIT);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Print a finding; queue an alert when its state changed since the last
 * round (a first round's "match", or "feed-ok", is no change). */
static void
finding(struct monitor *m, const char *state, const char *host,
    const char *addr, const char *kind, const char *detail,
    const char *presented)
{
	const struct args *a = m->a;
	char		 key[HOST_MAX + 200], line[2048], t[32];
	const char	*fine;
	size_t		 i;
	bool		 quiet;

	now_rfc3339(t, sizeof(t));
	snprintf(line, sizeof(line), "%s %s %s %s %s", t, state, host, addr,
	    detail);
	/* one line per endpoint and per copy of the feed; the date and
	 * backup checks speak up only when they found something (their
	 * return to fine still alerts) */
	quiet = strcmp(kind, "probe") != 0 && strcmp(kind, "feed") != 0 &&
	    strcmp(state, "match") == 0;
	if (!quiet && a->json) {
		char		 one[PIN_TEXT_LEN + 1];
		const char	*p = presented ? presented : "", *sep = "";
		struct evbuffer	*b = xptr(evbuffer_new());

		evbuffer_add_printf(b, "{\"time\":\"%s\",\"state\":", t);
		json_str(b, state);
		evbuffer_add_printf(b, ",\"host\":");
		json_str(b, host);
		evbuffer_add_printf(b, ",\"addr\":");
		json_str(b, addr);
		evbuffer_add_printf(b, ",\"detail\":");
		json_str(b, detail);
		evbuffer_add_printf(b, ",\"presented\":[");
		while (list_next(&p, one, sizeof(one)) != LIST_END) {
			evbuffer_add_printf(b, "%s", sep);
			json_str(b, one);
			sep = ",";
		}
		evbuffer_add_printf(b, "]}\n");
		evbuffer_write(b, STDOUT_FILENO);
		evbuffer_free(b);
	} else if (!quiet) {
		printf("%s\n", line);
		fflush(stdout);
	}
	snprintf(key, sizeof(key), "%s %s %s", host, addr, kind);
	fine = strcmp(kind, "feed") == 0 ? "feed-ok" : "match";
	if (!strmap_get(m->seenmap, key, &i)) {
		if (m->nseen == MAX_SEEN)
			return;		/* printed; not remembered */
		i = m->nseen++;
		strmap_add(m->seenmap, key, i, NULL);
		m->seen = xreallocarray(m->seen, m->nseen, sizeof(*m->seen));
		m->seen[i].state = xstrdup(fine);
	}
	if (strcmp(state, "skip") != 0 && strcmp(m->seen[i].state, state) !=
	    0) {
		free(m->seen[i].state);
		m->seen[i].state = xstrdup(state);
		if (a->alert != NULL) {
			struct alert	*al;

			m->alerts = xreallocarray(m->alerts, m->nalerts + 1,
			    sizeof(*m->alerts));
			al = &m->alerts[m->nalerts++];
			al->state = xstrdup(state);
			al->host = xstrdup(host);
			al->addr = xstrdup(addr);
			al->line = xstrdup(line);
		}
	}
}

static void
alerts_run(struct monitor *m)
{
	size_t	 i;

	for (i = 0; i < m->nalerts; i++) {
		struct alert	*al = &m->alerts[i];

		run_alert(m->a->alert, al->state, al->host, al->addr,
		    al->line);
		free(al->state);
		free(al->host);
		free(al->addr);
		free(al->line);
	}
	free(m->alerts);
	m->alerts = NULL;
	m->nalerts = 0;
}

/* Dates: the leaf, and any pinned certificate, expiring soon. */
static void
check_dates(struct monitor *m, const struct rule *r, const char *host,
    const char *addr, const struct tls_chain *ch)
{
	struct pin	 p;
	int64_t		 na, now = time(NULL);
	char		 t[32], detail[256];
	int		 i;
	bool		 soon = false;

	for (i = 0; ch != NULL && i < ch->n && !soon; i++) {
		if (!tls_chain_cert_info(ch, i, &p, &na) ||
		    (i > 0 && !pinset_contains(&r->pins, &p)) ||
		    na > now + SOON_DAYS * 86400)
			continue;
		format_rfc3339(na, t, sizeof(t));
		if (i == 0)
			snprintf(detail, sizeof(detail), "the leaf expires %s "
			    "(in %lld days)", t, (long long)((na - now) / 86400));
		else
			snprintf(detail, sizeof(detail), "the pinned certificate "
			    "at depth %d expires %s (in %lld days)", i, t,
			    (long long)((na - now) / 86400));
		soon = true;
	}
	finding(m, soon ? "expires-soon" : "match", host, addr, "dates",
	    soon ? detail : "dates ok", NULL);
}

/* A pin set whose every pin is on the chain served now has no backup:
 * the day that key is replaced, every device refuses the server until a
 * feed reaches it. */
static void
check_backup(struct monitor *m, const struct rule *r, const char *host,
    const struct tls_verdict *v)
{
	size_t	 k;
	bool	 backup = false;

	for (k = 0; k < r->pins.n && !backup; k++)
		backup = !cmd_pin_in_use(v, &r->pins.pins[k]);
	finding(m, backup ? "match" : "no-backup", host, "-", "backup",
	    backup ? "a backup pin is published" : "every pin is on the "
	    "chain served now: publish a backup pin (a key not yet in use), "
	    "or replacing this key bricks every device until a feed arrives",
	    NULL);
}

/* One address of a host probed: judged as a device judges it. */
static void
host_probed(struct probe_result *res, void *arg)
{
	struct mhost		*h = arg;
	struct monitor		*m = h->m;
	const struct rule	*r = h->r;
	const char		*host = res->host;
	struct tls_verdict	*v = res->v;
	char			 leaf[PIN_TEXT_LEN + 1];

	if (res->error != NULL || v == NULL) {
		finding(m, "unreachable", host, res->addr, "probe",
		    res->error != NULL ? res->error : "no verdict", NULL);
		m->n_unreach++;
		m->partial |= h->obs != NULL;
		return;
	}
	if (v->pass && r->policy == POLICY_TOFU && res->chk->chain != NULL) {
		struct pin	 p;
		int64_t		 na;

		if (tls_chain_cert_info(res->chk->chain, 0, &p, &na)) {
			pin_format(&p, leaf);
			/* what a device verified here: the CA check passed;
			 * observed = says whether the publisher knew it yet */
			if (h->obs != NULL && strstr(h->obs, leaf) == NULL)
				snprintf(h->obs + strlen(h->obs), MAX_ADDRS *
				    (PIN_TEXT_LEN + 2) - strlen(h->obs),
				    "%s%s", h->obs[0] ? ", " : "", leaf);
			if (r->observed.n > 0 &&
			    !pinset_contains(&r->observed, &p)) {
				v->pass = false;
				snprintf(v->detail, sizeof(v->detail),
				    "leaf key %s is not in observed =", leaf);
			} else
				snprintf(v->detail, sizeof(v->detail),
				    "tofu: leaf key %s", leaf);
		}
	}
	if (!v->pass && (v->reason == TLS_HANDSHAKE ||
	    res->chk->chain == NULL)) {
		finding(m, "unreachable", host, res->addr, "probe", v->detail,
		    NULL);
		m->n_unreach++;
		m->partial |= h->obs != NULL;
		return;
	}
	finding(m, v->pass ? "match" : "mismatch", host, res->addr, "probe",
	    v->detail, v->presented);
	if (v->pass)
		m->n_match++;
	else
		m->n_mismatch++;
	check_dates(m, r, host, res->addr, res->chk->chain);
	/* against the chain a device accepts */
	if (v->pass && !h->backup_checked && r->pins.n > 0) {
		check_backup(m, r, host, v);
		h->backup_checked = true;
	}
}

static const struct sockaddr_storage *
override(const struct args *a, const char *host)
{
	size_t	 i;

	for (i = 0; i < a->nov; i++)
		if (strcmp(a->ov[i].host, host) == 0)
			return &a->ov[i].ss;
	return NULL;
}

/* A feed copy's state: printed, counted, and its body if good. */
static struct feed_body *
feed_state(struct monitor *m, const char *source, const char *addr,
    struct feedwatch *w, const char *buf, size_t len)
{
	struct feedwatch_state	 st;

	feedwatch_judge(w, buf, len, (int64_t)time(NULL), &st);
	finding(m, st.state, source, addr, "feed", st.detail, NULL);
	if (st.bad)
		m->bad++;
	return st.body;
}

static void
feed_unreachable(struct monitor *m, const char *source, const char *addr,
    const char *why)
{
	finding(m, "feed-unreachable", source, addr, "feed", why, NULL);
	m->unreachable++;
}

/* The published copy fetched (--url), judged as a device would. */
static void
url_fetched(struct probe_result *res, void *arg)
{
	struct monitor	*m = arg;
	char		 why[400];

	if (res->error != NULL)
		feed_unreachable(m, m->a->url, res->addr, res->error);
	else if (res->v != NULL && !res->v->pass) {
		snprintf(why, sizeof(why), "the feed server's certificate: %s",
		    res->v->detail);
		feed_unreachable(m, m->a->url, res->addr, why);
	} else if (res->status != 200) {
		snprintf(why, sizeof(why), "HTTP status %d", res->status);
		feed_unreachable(m, m->a->url, res->addr, why);
	} else
		feed_body_free(feed_state(m, m->a->url, res->addr, &m->web,
		    res->body, res->bodylen));
}

/* The feed file, read again: a good copy replaces the hosts probed. */
static void
feed_file(struct monitor *m)
{
	struct feed_body	*c;
	char			*buf, *errtext = NULL;
	size_t			 len, errlen = 0;
	FILE			*errs = open_memstream(&errtext, &errlen);

	buf = file_read(m->a->feed, FEED_FILE_MAX, &len, errs ? errs : stderr);
	if (errs != NULL)
		fclose(errs);
	if (buf == NULL) {
		if (errtext != NULL)
			errtext[strcspn(errtext, "\n")] = '\0';
		feed_unreachable(m, m->a->feed, "-", errtext && errtext[0] ?
		    errtext : "cannot read it");
		free(errtext);
		return;
	}
	free(errtext);
	if ((c = feed_state(m, m->a->feed, "-", &m->file, buf, len)) != NULL) {
		feed_body_free(m->body);
		m->body = c;
	}
	free(buf);
}

static void
hosts_free(struct monitor *m)
{
	size_t	 i;

	for (i = 0; i < m->nhosts; i++)
		free(m->hosts[i].obs);
	free(m->hosts);
	m->hosts = NULL;
	m->nhosts = 0;
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The feed server's pins as a device has them: [feed] pins (with -c),
 * and the pins in force for its host; none: the CA check alone. */
static void
url_pins(struct monitor *m)
{
	struct verdict_policy	 vp;
	size_t			 i;

	pinset_free(&m->url_pins);
	for (i = 0; m->feed_pins != NULL && i < m->feed_pins->n; i++)
		pinset_add(&m->url_pins, &m->feed_pins->pins[i]);
	snapshot_resolve(m->file.enforced, m->url.host, (int64_t)time(NULL),
	    &vp);
	if (vp.rule != NULL && (vp.policy == POLICY_PIN ||
	    vp.policy == POLICY_PIN_ONLY))
		for (i = 0; i < vp.rule->pins.n; i++)
			pinset_add(&m->url_pins, &vp.rule->pins.pins[i]);
}

/* One round: the feed, then every pinned host at once. false if a
 * signal broke it. */
static bool
round_run(struct monitor *m, unsigned long n)
{
	const struct args	*a = m->a;
	const struct snapshot	*snap;
	struct timespec		 t0;
	char			 t[32];
	size_t			 i;
	bool			 whole;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	m->n_match = m->n_mismatch = m->n_unreach = 0;
	m->partial = false;
	hosts_free(m);
	feed_file(m);
	if (a->url != NULL) {
		struct probe_task	 pt;

		memset(&pt, 0, sizeof(pt));
		pt.host = m->url.host;
		pt.port = m->url.port;
		pt.addr = override(a, m->url.host);
		pt.plain = !m->url.tls;
		url_pins(m);
		pt.policy = m->url_pins.n > 0 ? POLICY_PIN : POLICY_CA;
		pt.pins = &m->url_pins;
		pt.path = m->url.path;
		pt.max_body = FEED_FILE_MAX;
		probe_pool_add(m->pool, &pt, url_fetched, m);
	}
	snap = m->body->snap;
	m->hosts = xcalloc(snap->nrules, sizeof(*m->hosts));
	for (i = 0; i < snap->nrules; i++) {
		const struct rule	*r = &snap->rules[i];
		struct mhost		*h;
		struct probe_task	 pt;

		if (r->pins.n == 0 && r->policy != POLICY_TOFU)
			continue;
		if (r->pat.kind != HOSTPAT_EXACT) {
			finding(m, "skip", r->pattern, "-", "probe", "a "
			    "wildcard names no host to probe", NULL);
			continue;
		}
		h = &m->hosts[m->nhosts++];
		h->m = m;
		h->r = r;
		if (r->policy == POLICY_TOFU)
			h->obs = xcalloc(1, MAX_ADDRS * (PIN_TEXT_LEN + 2));
		memset(&pt, 0, sizeof(pt));
		pt.host = r->pattern;
		pt.port = (uint16_t)a->port;
		pt.addr = override(a, r->pattern);
		/* tofu: the CA check, then the leaf against observed = */
		pt.policy = r->policy == POLICY_TOFU ? POLICY_CA : r->policy;
		pt.pins = &r->pins;
		probe_pool_add(m->pool, &pt, host_probed, h);
	}
	whole = probe_pool_run(m->pool);
	if (!whole) {
		/* a signal: what still runs is abandoned, not judged */
		probe_pool_free(m->pool);
		m->pool = NULL;
	}
	now_rfc3339(t, sizeof(t));
	fprintf(stderr, "%s pinshim monitor: round %lu: %lu match, %lu "
	    "mismatch, %lu unreachable in %.1f s%s\n", t, n, m->n_match,
	    m->n_mismatch, m->n_unreach, elapsed(&t0), whole ? "" :
	    " (interrupted)");
	m->bad += m->n_mismatch;
	m->unreachable += m->n_unreach;
	alerts_run(m);
	return whole;
}

static int
write_observed(const struct monitor *m)
{
	const char	*path = m->a->write_observed;
	char		*body, *next;
	size_t		 len, nlen, i, written = 0;
	struct feed_body *c;
	int		 rc;

	if ((body = file_read(path, FEED_FILE_MAX, &len, stderr)) == NULL)
		return 1;
	for (i = 0; i < m->nhosts; i++) {
		char	 section[HOST_MAX + 16];

		if (m->hosts[i].obs == NULL || m->hosts[i].obs[0] == '\0')
			continue;
		written++;
		snprintf(section, sizeof(section), "domain:%s",
		    m->hosts[i].r->pattern);
		next = body_set(body, len, section, "observed",
		    m->hosts[i].obs, &nlen);
		free(body);
		body = next;
		len = nlen;
	}
	/* the devices' parser decides whether the result is usable */
	c = feed_body_parse(path, body, len, stderr);
	rc = 1;
	if (c != NULL && cmd_edit_file(path, body, len) == 0) {
		fprintf(stderr, "wrote observed = for %zu tofu host(s) in %s: "
		    "sign it and publish\n", written, path);
		rc = 0;
	}
	feed_body_free(c);
	free(body);
	return rc;
}

static bool
parse_args(int argc, char **argv, struct args *a)
{
	int	 i;

	memset(a, 0, sizeof(a[0]));
	a->port = 443;
	a->parallel = PARALLEL_DEFAULT;
	a->timeout = TIMEOUT_DEFAULT;
	a->keys.version = a->keys.root.threshold = a->keys.sign.threshold = 1;
	for (i = 1; i < argc; i++) {
		const char	*o = argv[i], *v = i + 1 < argc ? argv[i + 1] :
				    NULL;

		if (strcmp(o, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (o[0] != '-' && a->feed == NULL) {
			a->feed = o;
			continue;
		}
		if (v == NULL)
			return false;
		i++;
		if (strcmp(o, "--pubkey") == 0) {
			if (a->keys.root.n == FEED_KEYS_MAX ||
			    !cmd_read_pubkey(v, a->keys.root.keys[
			    a->keys.root.n]))
				return false;
			a->keys.root.n++;
		} else if (strcmp(o, "-c") == 0)
			a->ini = v;
		else if (strcmp(o, "--ca-file") == 0)
			a->ca_file = v;
		else if (strcmp(o, "--alert") == 0)
			a->alert = v;
		else if (strcmp(o, "--write-observed") == 0)
			a->write_observed = v;
		else if (strcmp(o, "--url") == 0)
			a->url = v;
		else if (strcmp(o, "--hosts") == 0)
			a->hosts = v;
		else if (strcmp(o, "--every") == 0) {
			if (!parse_uint(v, 1, 86400, &a->every))
				return false;
		} else if (strcmp(o, "--rounds") == 0) {
			if (!parse_uint(v, 1, 1000000, &a->rounds))
				return false;
		} else if (strcmp(o, "--port") == 0) {
			if (!parse_uint(v, 1, 65535, &a->port))
				return false;
		} else if (strcmp(o, "--parallel") == 0) {
			if (!parse_uint(v, 1, PARALLEL_MAX, &a->parallel)) {
				fprintf(stderr, "pinshim monitor: --parallel: "
				    "1 to %d\n", PARALLEL_MAX);
				return false;
			}
		} else if (strcmp(o, "--timeout") == 0) {
			if (!parse_uint(v, 1, 300, &a->timeout)) {
				fprintf(stderr, "pinshim monitor: --timeout: "
				    "1 to 300 seconds\n");
				return false;
			}
		} else if (strcmp(o, "--fail-on") == 0) {
			if (strcmp(v, "unreachable") == 0)
				a->fail_on = FAIL_UNREACHABLE;
			else if (strcmp(v, "mismatch") == 0)
				a->fail_on = FAIL_MISMATCH;
			else if (strcmp(v, "none") == 0)
				a->fail_on = FAIL_NONE;
			else {
				fprintf(stderr, "pinshim monitor: --fail-on: "
				    "mismatch, unreachable or none\n");
				return false;
			}
		} else if (strcmp(o, "--connect-to") == 0) {
			const char	*eq = strchr(v, '=');
			int		 len = sizeof(a->ov[0].ss);

			if (eq == NULL || a->nov == MAX_OVERRIDES ||
			    (size_t)(eq - v) > HOST_MAX ||
			    evutil_parse_sockaddr_port(eq + 1,
			    (struct sockaddr *)&a->ov[a->nov].ss, &len) != 0) {
				fprintf(stderr, "pinshim monitor: --connect-to "
				    "%s: not HOST=ADDR:PORT (at most %d)\n", v,
				    MAX_OVERRIDES);
				return false;
			}
			snprintf(a->ov[a->nov].host, sizeof(a->ov[a->nov].host),
			    "%.*s", (int)(eq - v), v);
			a->nov++;
		} else
			return false;
	}
	return a->feed != NULL && (a->ini == NULL) != (a->keys.root.n == 0);
}

const char cmd_monitor_usage[] =
    "pinshim monitor FEED (--pubkey KEY... | -c FILE) [--ca-file FILE]\n"
    "        [--url URL] [--every SECONDS [--rounds N]] [--alert CMD]\n"
    "        [--parallel N] [--timeout SECONDS] [--json]\n"
    "        [--fail-on mismatch|unreachable|none] [--port N] "
    "[--hosts FILE]\n"
    "        [--connect-to HOST=ADDR:PORT]... [--write-observed BODY]\n"
    "    probe every pinned host of a verified feed, --parallel at a time;\n"
    "    exit 1 on a mismatch or a feed devices refuse, 3 on unreachable\n"
    "    endpoints only\n";

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct monitor	*m = arg;

	(void)sig;
	(void)what;
	m->stop = true;
	event_base_loopbreak(m->base);
}

/* Room for --parallel sockets besides the few the process holds. */
static bool
enough_files(unsigned long parallel)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)parallel + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return false;
	if (rl.rlim_cur >= need)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr, "pinshim monitor: --parallel %lu needs %lu "
		    "descriptors; the hard limit is %lu\n", parallel,
		    (unsigned long)need, (unsigned long)rl.rlim_max);
		return false;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* evdns as the device has it: -c's [upstream] nameservers instead of
 * resolv.conf, and its hosts_file unless --hosts names another. */
static bool
resolver(struct monitor *m, const struct conf *conf)
{
	const char	*ns = conf != NULL ? conf->nameservers : NULL;
	char		 item[80];

	m->dns = evdns_base_new(m->base, ns != NULL ? 0 :
	    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (m->dns == NULL) {
		fprintf(stderr, "pinshim monitor: cannot start the resolver\n");
		return false;
	}
	while (ns != NULL && list_next(&ns, item, sizeof(item)) != LIST_END)
		if (evdns_base_nameserver_ip_add(m->dns, item) != 0) {
			fprintf(stderr, "pinshim monitor: [upstream] "
			    "nameservers: %s: cannot use it\n", item);
			return false;
		}
	if (m->a->hosts == NULL && conf != NULL)
		m->a->hosts = conf->hosts_file;
	return true;
}

static int
exit_status(const struct monitor *m)
{
	if (m->a->fail_on == FAIL_NONE)
		return 0;
	if (m->bad > 0)
		return 1;
	if (m->unreachable > 0 && m->a->fail_on == FAIL_UNREACHABLE)
		return 3;
	return 0;
}

int
cmd_monitor(int argc, char **argv)
{
	struct args		 a;
	struct monitor		 m;
	struct conf		*conf = NULL;
	struct snapshot		*base = NULL;
	struct tls_client	*tls = NULL;
	struct event		*sigs[2] = { NULL, NULL };
	const char		*device = NULL, *why;
	char			*buf = NULL, err[256];
	size_t			 len, i;
	unsigned long		 done = 0;
	int			 status = 2;

	memset(&m, 0, sizeof(m));
	if (!parse_args(argc, argv, &a))
		return cmd_usage(stderr, cmd_monitor_usage);
	m.a = &a;
	if (a.url != NULL && !url_parse(a.url, &m.url, &why)) {
		fprintf(stderr, "pinshim monitor: --url %s: %s\n", a.url, why);
		return 2;
	}
	if (!enough_files(a.parallel))
		goto out;
	if (a.ini != NULL) {
		if ((conf = conf_load(a.ini, stderr)) == NULL ||
		    !conf->feed.present) {
			if (conf != NULL)
				fprintf(stderr, "%s: no [feed]\n", a.ini);
			goto out;
		}
		a.keys = conf->feed.keys;
		if (a.ca_file == NULL)
			a.ca_file = conf->ca_file;
		base = snapshot_ref(conf->snap);
		device = conf->device_id;
		m.feed_pins = &conf->feed.pins;
	} else {
		memcpy(a.keys.sign.keys, a.keys.root.keys,
		    sizeof(a.keys.sign.keys));
		a.keys.sign.n = a.keys.root.n;
		base = snapshot_new(POLICY_BLOCK);	/* conf's default */
	}
	if (a.ca_file == NULL)
		a.ca_file = CONF_DEFAULT_CA_FILE;
	feedwatch_init(&m.file, a.feed, &a.keys, base, device);
	feedwatch_init(&m.web, a.url, &a.keys, base, device);
	status = 1;
	/* the first copy must verify: there is nothing to probe before. Its
	 * hosts are probed until a copy devices accept replaces it (an
	 * expired one is reported, and still probed) */
	if ((buf = file_read(a.feed, FEED_FILE_MAX, &len, stderr)) == NULL ||
	    (m.body = feed_open(a.feed, buf, len, &a.keys, stderr, NULL)) ==
	    NULL)
		goto out;
	tls_init();
	if ((tls = tls_client_new(a.ca_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pinshim monitor: %s\n", err);
		goto out;
	}
	m.base = xptr(event_base_new());
	if (!resolver(&m, conf))
		goto out;
	if (a.hosts != NULL && evdns_base_load_hosts(m.dns, a.hosts) != 0) {
		fprintf(stderr, "pinshim monitor: --hosts %s: cannot load\n",
		    a.hosts);
		goto out;
	}
	snprintf(err, sizeof(err), "%lu", a.timeout);
	evdns_base_set_option(m.dns, "timeout:", err);
	m.seenmap = strmap_new();
	sigs[0] = xptr(evsignal_new(m.base, SIGINT, on_signal, &m));
	sigs[1] = xptr(evsignal_new(m.base, SIGTERM, on_signal, &m));
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct timespec	 t0;
		double		 spent;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (m.pool == NULL)
			m.pool = probe_pool_new(m.base, m.dns, tls,
			    (unsigned)a.parallel, (unsigned)a.timeout);
		if (!round_run(&m, ++done) || m.stop)
			break;
		if (a.every == 0 || (a.rounds && done >= a.rounds))
			break;
		/* every SECONDS from one round's start to the next's */
		if ((spent = elapsed(&t0)) < (double)a.every) {
			double		 w = (double)a.every - spent;
			struct timeval	 tv;

			tv.tv_sec = (time_t)w;
			tv.tv_usec = (suseconds_t)((w - (double)tv.tv_sec) * 1e6);
			event_base_loopexit(m.base, &tv);
			event_base_dispatch(m.base);
			if (m.stop)
				break;
		}
	}
	status = exit_status(&m);
	if (a.write_observed != NULL) {
		/* observed = from a whole view only: an address not reached
		 * would make its devices refuse their first contact */
		if (m.stop || m.partial) {
			fprintf(stderr, "pinshim monitor: %s not written: %s\n",
			    a.write_observed, m.stop ? "interrupted" : "a tofu "
			    "host was not reached at every address");
			status = 1;
		} else if (write_observed(&m) != 0)
			status = 1;
	}
out:
	hosts_free(&m);
	for (i = 0; i < m.nseen; i++)
		free(m.seen[i].state);
	free(m.seen);
	strmap_free(m.seenmap);
	probe_pool_free(m.pool);
	for (i = 0; i < 2; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (m.dns != NULL)
		evdns_base_free(m.dns, 0);
	if (m.base != NULL)
		event_base_free(m.base);
	feedwatch_clear(&m.file);
	feedwatch_clear(&m.web);
	feed_body_free(m.body);
	tls_client_free(tls);
	snapshot_unref(base);
	url_free(&m.url);
	pinset_free(&m.url_pins);
	free(buf);
	conf_free(conf);
	return status;
}
