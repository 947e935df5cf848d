/*
 * status.c - [shim] status: what is in force, is it stale, what was
 * refused, is anyone intercepting. GET /metrics is Prometheus text format
 * 0.0.4; GET /status is JSON (with "Accept: text/plain", the summary
 * `pinshim status` prints).
 *
 * Served by a small HTTP/1.1 responder on libevent's listener and
 * bufferevents, with net/http1.c's parser: libevent 2.1's evhttp can
 * neither cap its connections nor give a request an absolute deadline
 * (its timeout restarts on every byte), so a client trickling bytes
 * could hold a descriptor each until the relay ran out.
 *
 * Nothing here changes state. Limits: clients outside status_allow are
 * closed at accept, before they take a slot or count against the rate;
 * at most 16 connections at once (more are closed at accept) and 32 new
 * ones a second (then accepting pauses to the next second); 5 s for a
 * whole connection from its accept, never extended (answers after the
 * first 2 s say "Connection: close", so a client that keeps its
 * connection is told in time); one request at a time: the next one is
 * not read until the answer before it is written in full, so a client
 * that pipelines requests and never reads holds one answer here, not
 * one per request; heads over 8 KiB get 431; methods other than GET and
 * HEAD 405 (and the connection closes, a body is never read); other
 * paths 404. A scrape is linear in listeners, series and rules.
 *
 * Must never: show a private key, block the loop, or let one client hold
 * more than one answer or one slot past its deadline.
 */
#include <sys/socket.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/addr.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/unixsock.h"
#include "conf/conf.h"
#include "shim/keeper.h"
#include "shim/metrics.h"
#include "shim/net/http1.h"
#include "shim/remote/feedsync.h"
#include "shim/remote/report.h"
#include "shim/server.h"
#include "shim/status.h"
#include "shim/tofusync.h"
#include "shim/version.h"

#define STATUS_DEADLINE		5	/* seconds per connection, in all */
#define STATUS_KEEPALIVE	2	/* seconds; then answers close it */
#define STATUS_HEAD_MAX		8192
#define STATUS_ACCEPTS_PER_SEC	32
#define STATUS_CONNS_MAX	16
#define EXPIRING_DAYS		30

struct sconn;

struct status {
	struct server		*srv;
	struct evconnlistener	*evl;		/* owned */
	struct event		*resume;	/* owned; re-enable accepting */
	time_t			 second;
	unsigned		 accepts;	/* in this second */
	time_t			 denied_logged;
	struct sconn		*conns;		/* live; owned */
	size_t			 nconns;
};

struct sconn {
	struct status		*st;
	struct bufferevent	*bev;		/* owned */
	struct event		*deadline;	/* owned; armed once, at accept */
	struct timespec		 born;		/* CLOCK_MONOTONIC */
	bool			 closing;	/* answer, then close */
	struct sconn		*prev, *next;
};

/* --- what the daemon knows --------------------------------------------- */

static long
open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	long		 n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;			/* the DIR's own */
}

/* The earliest expires of a pin set in force; false if none expires. */
static bool
earliest_expiry(const struct snapshot *s, int64_t *out)
{
	size_t	 i;
	bool	 any = false;

	for (i = 0; i < s->nrules; i++)
		if (s->rules[i].has_expires && (!any ||
		    s->rules[i].expires < *out)) {
			*out = s->rules[i].expires;
			any = true;
		}
	return any;
}

enum health { H_OK, H_NO_FEED, H_STALE, H_EXPIRED, H_PIN_EXPIRED };
static const char *const health_names[] = { "ok", "no-feed", "stale",
    "expired", "pin-set-expired" };

/* Stale: no fetch has succeeded for 3 refresh periods (since start, if
 * none ever did); expired: the feed in force is past its expires. */
static enum health
health(const struct status *st, const struct feedsync_stats *fst)
{
	const struct server	*srv = st->srv;
	time_t			 now = clock_now(), since;
	int64_t			 first = 0;

	if (earliest_expiry(srv->snap, &first) && first <= now)
		return H_PIN_EXPIRED;
	if (!srv->conf->feed.present)
		return H_OK;
	if (fst->version != 0 && fst->expires <= now)
		return H_EXPIRED;
	since = fst->last_success ? fst->last_success : srv->started;
	if (now - since > 3 * (time_t)srv->conf->feed.refresh)
		return H_STALE;
	return fst->version == 0 ? H_NO_FEED : H_OK;
}

/* --- /metrics ------------------------------------------------------------ */

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value: backslash, quote and newline escaped. */
static void
label(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* what: 0 accepted, 1 active, 2 evicted. */
static void
per_listener(struct evbuffer *b, const struct server *srv, const char *name,
    const char *type, const char *help, int what)
{
	size_t	 i;

	head(b, name, type, help);
	for (i = 0; i < srv->nlisteners; i++) {
		const struct listener	*l = &srv->listeners[i];

		evbuffer_add_printf(b, "%s{listener=", name);
		label(b, l->lc->name);
		evbuffer_add_printf(b, "} %llu\n", what == 0 ? l->accepted :
		    what == 2 ? l->evicted : (unsigned long long)l->nconns);
	}
}

static void
metrics_feed(struct evbuffer *b, const struct status *st,
    const struct feedsync_stats *f)
{
	time_t	 now = time(NULL);
	int	 i;

	head(b, "pinshim_feed_version", "gauge", "Version of the feed in "
	    "force (0: bootstrap pins only).");
	evbuffer_add_printf(b, "pinshim_feed_version %llu\n", f->version);
	if (f->version != 0) {
		head(b, "pinshim_feed_issued_timestamp_seconds", "gauge",
		    "When the feed in force was issued.");
		evbuffer_add_printf(b, "pinshim_feed_issued_timestamp_seconds "
		    "%lld\n", (long long)f->issued);
		head(b, "pinshim_feed_expiry_timestamp_seconds", "gauge",
		    "When the feed in force expires.");
		evbuffer_add_printf(b, "pinshim_feed_expiry_timestamp_seconds "
		    "%lld\n", (long long)f->expires);
	}
	head(b, "pinshim_feed_key_set_version", "gauge", "Version of the "
	    "trusted feed key set.");
	evbuffer_add_printf(b, "pinshim_feed_key_set_version %lu\n",
	    f->keys_version);
	if (f->last_success != 0) {
		head(b, "pinshim_feed_last_success_timestamp_seconds", "gauge",
		    "When a fetch last succeeded (accepted or unchanged).");
		evbuffer_add_printf(b, "pinshim_feed_last_success_timestamp_"
		    "seconds %lld\n", (long long)f->last_success);
		head(b, "pinshim_feed_seconds_since_last_success", "gauge",
		    "Seconds since a fetch last succeeded.");
		evbuffer_add_printf(b, "pinshim_feed_seconds_since_last_success "
		    "%lld\n", (long long)(now - f->last_success));
	}
	head(b, "pinshim_feed_fetches_total", "counter", "Feed fetches by "
	    "outcome.");
	for (i = 0; i < FEED_FETCH_OUTCOMES; i++)
		evbuffer_add_printf(b, "pinshim_feed_fetches_total{outcome="
		    "\"%s\"} %llu\n", feed_outcome_names[i], f->fetches[i]);
	head(b, "pinshim_feed_stale", "gauge", "1 when the feed is past its "
	    "expiry or no fetch has succeeded for 3 refresh periods.");
	i = health(st, f);
	evbuffer_add_printf(b, "pinshim_feed_stale %d\n", i == H_STALE ||
	    i == H_EXPIRED);
}

static void
render_metrics(struct status *st, struct evbuffer *b)
{
	const struct server		*srv = st->srv;
	const struct metrics_series	*s;
	const struct metrics_hist	*h = metrics_handshakes();
	struct feedsync_stats		 f;
	struct report_stats		 r;
	unsigned long long		 dropped, cum = 0;
	unsigned long			 mints = 0, hits = 0;
	size_t				 cached = 0;
	int64_t				 first = 0;
	size_t				 n, i;
	long				 fds = open_fds();

	head(b, "pinshim_build_info", "gauge", "pinshim's version.");
	evbuffer_add_printf(b, "pinshim_build_info{version=\"%s\"} 1\n",
	    PINSHIM_VERSION);
	head(b, "process_start_time_seconds", "gauge", "Start time of the "
	    "process since the Unix epoch in seconds.");
	evbuffer_add_printf(b, "process_start_time_seconds %lld\n",
	    (long long)srv->started);
	if (fds >= 0) {
		head(b, "process_open_fds", "gauge", "Number of open file "
		    "descriptors.");
		evbuffer_add_printf(b, "process_open_fds %ld\n", fds);
	}
	head(b, "process_max_fds", "gauge", "Maximum number of open file "
	    "descriptors.");
	evbuffer_add_printf(b, "process_max_fds %lu\n", srv->nofile);
	head(b, "pinshim_log_dropped_total", "counter", "Log lines the syslog "
	    "socket could not take at once.");
	evbuffer_add_printf(b, "pinshim_log_dropped_total %llu\n",
	    log_dropped());
	per_listener(b, srv, "pinshim_connections_accepted_total", "counter",
	    "Client connections accepted.", 0);
	per_listener(b, srv, "pinshim_connections_active", "gauge",
	    "Client connections held now.", 1);
	per_listener(b, srv, "pinshim_connections_evicted_total", "counter",
	    "Idle connections reset at max_conns to serve a newcomer.", 2);
	head(b, "pinshim_relayed_bytes_total", "counter", "Bytes relayed by "
	    "closed connections: up (app to server) and down.");
	for (i = 0; i < 2; i++) {
		size_t	 j;

		for (j = 0; j < srv->nlisteners; j++) {
			const struct listener	*l = &srv->listeners[j];

			evbuffer_add_printf(b, "pinshim_relayed_bytes_total"
			    "{listener=");
			label(b, l->lc->name);
			evbuffer_add_printf(b, ",direction=\"%s\"} %llu\n",
			    i == 0 ? "up" : "down", i == 0 ? l->bytes_up :
			    l->bytes_down);
		}
	}
	head(b, "pinshim_verdicts_total", "counter", "Verdict lines, by "
	    "listener, policy, verdict (pass, refuse, would-refuse) and "
	    "reason.");
	s = metrics_series(&n, &dropped);
	for (i = 0; i < n; i++) {
		evbuffer_add_printf(b, "pinshim_verdicts_total{listener=");
		label(b, s[i].listener);
		evbuffer_add_printf(b, ",policy=");
		label(b, s[i].policy);
		evbuffer_add_printf(b, ",verdict=");
		label(b, s[i].verdict);
		evbuffer_add_printf(b, ",reason=");
		label(b, s[i].reason);
		evbuffer_add_printf(b, "} %llu\n", s[i].n);
	}
	head(b, "pinshim_verdict_series_dropped_total", "counter", "Verdicts "
	    "not counted above: over 512 label combinations.");
	evbuffer_add_printf(b, "pinshim_verdict_series_dropped_total %llu\n",
	    dropped);
	head(b, "pinshim_upstream_handshake_duration_seconds", "histogram",
	    "TLS handshakes with upstream servers, to the verdict.");
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->bucket[i];
		evbuffer_add_printf(b, "pinshim_upstream_handshake_duration_"
		    "seconds_bucket{le=\"%g\"} %llu\n", metrics_le[i], cum);
	}
	evbuffer_add_printf(b, "pinshim_upstream_handshake_duration_seconds_"
	    "bucket{le=\"+Inf\"} %llu\npinshim_upstream_handshake_duration_"
	    "seconds_sum %.6f\npinshim_upstream_handshake_duration_seconds_"
	    "count %llu\n", h->count, h->sum, h->count);
	if (srv->conf->feed.present) {
		feedsync_stats(srv->feed, &f);
		metrics_feed(b, st, &f);
	}
	if (earliest_expiry(srv->snap, &first)) {
		head(b, "pinshim_pin_set_earliest_expiry_timestamp_seconds",
		    "gauge", "The earliest expires of a pin set in force.");
		evbuffer_add_printf(b, "pinshim_pin_set_earliest_expiry_"
		    "timestamp_seconds %lld\n", (long long)first);
	}
	report_stats(srv->rep, &r);
	head(b, "pinshim_reports_total", "counter", "Pin-failure reports: "
	    "queued (passed the rate limits), delivered, failed, "
	    "suppressed.");
	evbuffer_add_printf(b, "pinshim_reports_total{outcome=\"queued\"} "
	    "%llu\npinshim_reports_total{outcome=\"delivered\"} %llu\n"
	    "pinshim_reports_total{outcome=\"failed\"} %llu\n"
	    "pinshim_reports_total{outcome=\"suppressed\"} %llu\n", r.queued,
	    r.delivered, r.failed, r.suppressed);
	if (srv->ca != NULL) {
		tls_ca_stats(srv->ca, &mints, &hits, &cached);
		head(b, "pinshim_minted_leaves_total", "counter", "Leaves the "
		    "interception CA minted.");
		evbuffer_add_printf(b, "pinshim_minted_leaves_total %lu\n",
		    mints);
		head(b, "pinshim_minted_cache_hits_total", "counter",
		    "Interceptions served a cached minted leaf.");
		evbuffer_add_printf(b, "pinshim_minted_cache_hits_total %lu\n",
		    hits);
		head(b, "pinshim_minted_cache_entries", "gauge", "Minted leaves "
		    "held in the cache.");
		evbuffer_add_printf(b, "pinshim_minted_cache_entries %zu\n",
		    cached);
	}
	if (srv->ca != NULL && srv->keeper != NULL) {
		head(b, "pinshim_mint_refusals_total", "counter", "Names that "
		    "got no leaf: the keeper refused them (its rate, a bad "
		    "name) or too many waited.");
		evbuffer_add_printf(b, "pinshim_mint_refusals_total %lu\n",
		    keeper_unminted(srv->keeper));
	}
	if (srv->tofu != NULL) {
		head(b, "pinshim_tofu_pending_writes", "gauge", "TOFU pins "
		    "held in memory only: their write to state_dir failed and "
		    "is retried.");
		evbuffer_add_printf(b, "pinshim_tofu_pending_writes %zu\n",
		    tofusync_pending(srv->tofusync));
		head(b, "pinshim_tofu_write_retries_total", "counter",
		    "Background attempts to write TOFU pins held in memory "
		    "only.");
		evbuffer_add_printf(b, "pinshim_tofu_write_retries_total "
		    "%llu\n", tofusync_retries(srv->tofusync));
	}
}

/* --- /status ------------------------------------------------------------- */

static void
json_time(struct evbuffer *b, int64_t t)
{
	char	 s[32];

	format_rfc3339(t, s, sizeof(s));
	json_str(b, s);
}

static void
json_pins(struct evbuffer *b, const char *list)
{
	char		 one[PIN_TEXT_LEN + 1];
	const char	*sep = "";

	evbuffer_add(b, "[", 1);
	while (list_next(&list, one, sizeof(one)) != LIST_END) {
		evbuffer_add_printf(b, "%s", sep);
		json_str(b, one);
		sep = ",";
	}
	evbuffer_add(b, "]", 1);
}

static void
render_json(struct status *st, struct evbuffer *b)
{
	const struct server	*srv = st->srv;
	const struct metrics_refusal *m;
	struct feedsync_stats	 f;
	time_t			 now = clock_now();
	const char		*sep;
	size_t			 i;
	int			 i2;

	feedsync_stats(srv->feed, &f);
	evbuffer_add_printf(b, "{\"version\":\"%s\",\"started\":",
	    PINSHIM_VERSION);
	json_time(b, srv->started);
	evbuffer_add_printf(b, ",\"uptime_seconds\":%lld,\"health\":\"%s\","
	    "\"device_id\":", (long long)(time(NULL) - srv->started),
	    health_names[health(st, &f)]);
	if (srv->conf->device_id != NULL)
		json_str(b, srv->conf->device_id);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"connections\":{\"held\":%zu,\"passed\":"
	    "%llu,\"refused\":%llu,\"would_refuse\":%llu},\"listeners\":[",
	    srv->nconns, srv->passed, srv->refused, srv->would_refuse);
	for (i = 0; i < srv->nlisteners; i++) {
		const struct listener	*l = &srv->listeners[i];

		evbuffer_add_printf(b, "%s{\"name\":", i ? "," : "");
		json_str(b, l->lc->name);
		evbuffer_add_printf(b, ",\"mode\":\"%s\",\"bind\":",
		    listen_mode_name(l->lc->mode));
		json_str(b, l->lc->bind_host);
		evbuffer_add_printf(b, ",\"port\":%u,\"active\":%zu,"
		    "\"max_conns\":%u,\"accepted\":%llu}", l->lc->bind_port,
		    l->nconns, l->max_conns, l->accepted);
	}
	evbuffer_add(b, "],\"feed\":", 9);
	if (!srv->conf->feed.present)
		evbuffer_add(b, "null", 4);
	else {
		evbuffer_add_printf(b, "{\"version\":%llu,\"key_set\":%lu,",
		    f.version, f.keys_version);
		if (f.version != 0) {
			evbuffer_add_printf(b, "\"issued\":");
			json_time(b, f.issued);
			evbuffer_add_printf(b, ",\"expires\":");
			json_time(b, f.expires);
			evbuffer_add_printf(b, ",\"source\":");
			json_str(b, f.source ? f.source : "");
			evbuffer_add(b, ",", 1);
		}
		evbuffer_add_printf(b, "\"last_success\":");
		if (f.last_success)
			json_time(b, f.last_success);
		else
			evbuffer_add(b, "null", 4);
		evbuffer_add_printf(b, ",\"last_error\":");
		if (f.last_error)
			json_str(b, f.last_error);
		else
			evbuffer_add(b, "null", 4);
		evbuffer_add_printf(b, ",\"fetches\":{");
		for (i2 = 0; i2 < FEED_FETCH_OUTCOMES; i2++)
			evbuffer_add_printf(b, "%s\"%s\":%llu", i2 ? "," : "",
			    feed_outcome_names[i2], f.fetches[i2]);
		evbuffer_add(b, "}}", 2);
	}
	evbuffer_add_printf(b, ",\"recent_refusals\":[");
	for (i = 0; (m = metrics_recent(i)) != NULL; i++) {
		evbuffer_add_printf(b, "%s{\"time\":", i ? "," : "");
		json_time(b, m->when);
		evbuffer_add_printf(b, ",\"listener\":");
		json_str(b, m->listener);
		evbuffer_add_printf(b, ",\"client\":");
		json_str(b, m->client);
		evbuffer_add_printf(b, ",\"host\":");
		json_str(b, m->host);
		evbuffer_add_printf(b, ",\"port\":%u,\"policy\":", m->port);
		json_str(b, m->policy);
		evbuffer_add_printf(b, ",\"verdict\":");
		json_str(b, m->verdict);
		evbuffer_add_printf(b, ",\"reason\":");
		json_str(b, m->reason);
		evbuffer_add_printf(b, ",\"detail\":");
		json_str(b, m->detail);
		evbuffer_add_printf(b, ",\"presented\":");
		json_pins(b, m->presented);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add_printf(b, "],\"not_enforced\":[");
	for (i = 0, sep = ""; i < srv->snap->nrules; i++)
		if (srv->snap->rules[i].observe_only) {
			evbuffer_add_printf(b, "%s", sep);
			json_str(b, srv->snap->rules[i].pattern);
			sep = ",";
		}
	evbuffer_add_printf(b, "],\"expiring_pin_sets\":[");
	for (i = 0, sep = ""; i < srv->snap->nrules; i++) {
		const struct rule	*r = &srv->snap->rules[i];

		if (!r->has_expires || r->expires > now + EXPIRING_DAYS *
		    86400)
			continue;
		evbuffer_add_printf(b, "%s{\"pattern\":", sep);
		json_str(b, r->pattern);
		evbuffer_add_printf(b, ",\"expires\":");
		json_time(b, r->expires);
		evbuffer_add_printf(b, ",\"expired\":%s,\"on_expiry\":\"%s\"}",
		    r->expires <= now ? "true" : "false",
		    policy_name(r->on_expiry));
		sep = ",";
	}
	evbuffer_add(b, "]}\n", 3);
}

/* The summary `pinshim status` prints; its last line is the health. */
static void
render_text(struct status *st, struct evbuffer *b)
{
	const struct server	*srv = st->srv;
	const struct metrics_refusal *m;
	struct feedsync_stats	 f;
	char			 t1[32], t2[32];
	time_t			 now = clock_now();
	enum health		 h;
	size_t			 i;

	feedsync_stats(srv->feed, &f);
	h = health(st, &f);
	evbuffer_add_printf(b, "pinshim %s, up %llds, device %s\n",
	    PINSHIM_VERSION, (long long)(time(NULL) - srv->started),
	    srv->conf->device_id ? srv->conf->device_id : "-");
	for (i = 0; i < srv->nlisteners; i++)
		evbuffer_add_printf(b, "listener %s (%s) %s:%u: %zu active, "
		    "%llu accepted\n", srv->listeners[i].lc->name,
		    listen_mode_name(srv->listeners[i].lc->mode),
		    srv->listeners[i].lc->bind_host,
		    srv->listeners[i].lc->bind_port, srv->listeners[i].nconns,
		    srv->listeners[i].accepted);
	evbuffer_add_printf(b, "connections: %llu passed, %llu refused, %llu "
	    "would-refuse (not enforced)\n", srv->passed, srv->refused,
	    srv->would_refuse);
	if (!srv->conf->feed.present)
		evbuffer_add_printf(b, "feed: none configured\n");
	else if (f.version == 0)
		evbuffer_add_printf(b, "feed: none in force (bootstrap pins), "
		    "key set %lu\n", f.keys_version);
	else {
		format_rfc3339(f.issued, t1, sizeof(t1));
		format_rfc3339(f.expires, t2, sizeof(t2));
		evbuffer_add_printf(b, "feed: version %llu from %s, issued %s, "
		    "expires %s, key set %lu\n", f.version, f.source ?
		    f.source : "-", t1, t2, f.keys_version);
	}
	if (srv->conf->feed.present) {
		if (f.last_success) {
			format_rfc3339(f.last_success, t1, sizeof(t1));
			evbuffer_add_printf(b, "feed: last fetch that worked %s\n",
			    t1);
		} else
			evbuffer_add_printf(b, "feed: no fetch has worked since "
			    "start\n");
		if (f.last_error)
			evbuffer_add_printf(b, "feed: last error: %s\n",
			    f.last_error);
	}
	for (i = 0; i < srv->snap->nrules; i++) {
		const struct rule	*r = &srv->snap->rules[i];

		if (r->observe_only)
			evbuffer_add_printf(b, "NOT ENFORCED: %s (enforce = "
			    "no)\n", r->pattern);
		if (r->has_expires && r->expires <= now + EXPIRING_DAYS *
		    86400) {
			format_rfc3339(r->expires, t1, sizeof(t1));
			evbuffer_add_printf(b, "pins of %s %s %s (then %s)\n",
			    r->pattern, r->expires <= now ? "EXPIRED" :
			    "expire", t1, policy_name(r->on_expiry));
		}
	}
	for (i = 0; (m = metrics_recent(i)) != NULL; i++) {
		format_rfc3339(m->when, t1, sizeof(t1));
		evbuffer_add_printf(b, "%s %s %s:%u %s (%s) listener %s, "
		    "presented %s\n", t1, m->verdict, m->host, m->port,
		    m->reason, m->detail, m->listener, m->presented[0] ?
		    m->presented : "-");
	}
	evbuffer_add_printf(b, "health: %s\n", health_names[h]);
}

/* --- serving ------------------------------------------------------------- */

static void
sconn_free(struct sconn *c)
{
	struct status	*st = c->st;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	st->nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
}

static bool
allowed(struct status *st, const struct sockaddr *sa)
{
	const struct status_conf *sc = &st->srv->conf->status;
	char			 who[64];
	size_t			 i;

	if (sc->unix_path != NULL)
		return true;		/* the socket's mode decides */
	for (i = 0; i < sc->nallow; i++)
		if (cidr_match(&sc->allow[i], sa))
			return true;
	if (st->denied_logged != time(NULL)) {
		st->denied_logged = time(NULL);
		sockaddr_format(sa, who, sizeof(who));
		log_warn("status: client %s is not in status_allow: closed",
		    who);
	}
	return false;
}

static void
answer(struct sconn *c, int code, const char *reason, const char *type,
    struct evbuffer *body, bool head_only, const char *extra)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
	    code, reason, type, body ? evbuffer_get_length(body) : 0,
	    extra ? extra : "", c->closing ? "Connection: close\r\n" : "");
	if (body != NULL && !head_only)
		evbuffer_add_buffer(out, body);
}

/* An error answer; the connection closes once it is written. */
static void
answer_error(struct sconn *c, int code, const char *reason,
    const char *extra)
{
	struct evbuffer	*b = xptr(evbuffer_new());

	evbuffer_add_printf(b, "%d %s\n", code, reason);
	c->closing = true;
	answer(c, code, reason, "text/plain; charset=utf-8", b, false, extra);
	evbuffer_free(b);
}

/* The value of header name in fields, into buf ("" if absent). */
static void
header(struct cursor fields, const char *name, char *buf, size_t sz)
{
	struct cursor	 n, v;
	const char	*why;

	buf[0] = '\0';
	while (http1_field(&fields, &n, &v, &why))
		if (cursor_eq_nocase(&n, name) && !cursor_str(&v, buf, sz))
			buf[0] = '\0';
}

/* Seconds since the connection was accepted. */
static time_t
age(const struct sconn *c)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - c->born.tv_sec;
}

/* One complete request head. */
static void
request(struct sconn *c, const uint8_t *data, const struct http1_head *h)
{
	struct status	*st = c->st;
	char		 target[512], accept[256], conn[64], *q;
	struct evbuffer	*b;
	bool		 head_only, get;

	get = cursor_eq(&h->method, "GET");
	head_only = cursor_eq(&h->method, "HEAD");
	if (!get && !head_only) {
		answer_error(c, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n");
		return;
	}
	if (!cursor_str(&h->target, target, sizeof(target))) {
		answer_error(c, 404, "Not Found", NULL);
		return;
	}
	if ((q = strchr(target, '?')) != NULL)
		*q = '\0';
	header(h->fields, "Connection", conn, sizeof(conn));
	/* HTTP/1.0, or "close": one request, then close; and so does the
	 * answer to a connection near its deadline */
	c->closing = strcasecmp(conn, "close") == 0 || memmem(data, h->len,
	    "HTTP/1.0\r\n", 10) != NULL || age(c) >= STATUS_KEEPALIVE;
	if (strcmp(target, "/metrics") != 0 && strcmp(target, "/status") != 0) {
		answer_error(c, 404, "Not Found (try /metrics or /status)",
		    NULL);
		return;
	}
	b = xptr(evbuffer_new());
	header(h->fields, "Accept", accept, sizeof(accept));
	if (strcmp(target, "/metrics") == 0) {
		render_metrics(st, b);
		answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
		    b, head_only, NULL);
	} else if (strstr(accept, "text/plain") != NULL) {
		render_text(st, b);
		answer(c, 200, "OK", "text/plain; charset=utf-8", b, head_only,
		    NULL);
	} else {
		render_json(st, b);
		answer(c, 200, "OK", "application/json", b, head_only, NULL);
	}
	evbuffer_free(b);
}

/* At most one request is handled per answer written: while an answer is
 * unsent, reading stops (the kernel's buffers then push back on the
 * client), and on_write() takes the next request once it is out. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sconn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http1_head	 h;
	const char		*why;
	size_t			 len;
	uint8_t			*data;

	if (c->closing || (len = evbuffer_get_length(in)) == 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (len > STATUS_HEAD_MAX + 1)
		len = STATUS_HEAD_MAX + 1;
	data = evbuffer_pullup(in, (ev_ssize_t)len);
	switch (http1_request(data, len, &h, &why)) {
	case HTTP1_MORE:
		if (len <= STATUS_HEAD_MAX)
			return;			/* the rest is on its way */
		answer_error(c, 431, "Request Header Fields Too Large", NULL);
		break;
	case HTTP1_BAD:
		answer_error(c, 400, "Bad Request", NULL);
		break;
	case HTTP1_OK:
		request(c, data, &h);
		evbuffer_drain(in, h.len);
		break;
	}
	bufferevent_disable(bev, EV_READ);	/* until the answer is out */
}

/* The answer is written in full: close, or take the next request (one
 * may already wait in the input, pipelined behind the last). */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sconn	*c = arg;

	if (c->closing) {
		sconn_free(c);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	on_read(bev, c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	sconn_free(arg);	/* EOF, error */
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sconn_free(arg);
}

static void
resume(evutil_socket_t fd, short what, void *arg)
{
	struct status	*st = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(st->evl);
}

/* Each accepted connection: outside status_allow, closed before it
 * counts for anything; over the cap, closed; over the rate, accepting
 * pauses to the next second (the backlog waits in the kernel). The
 * deadline is the connection's whole life: nothing re-arms it. */
static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct status	*st = arg;
	struct sconn	*c;
	struct timeval	 tv = { STATUS_DEADLINE, 0 };
	time_t		 now = time(NULL);

	(void)l;
	(void)salen;
	if (!allowed(st, sa)) {
		evutil_closesocket(fd);
		return;
	}
	if (now != st->second) {
		st->second = now;
		st->accepts = 0;
	}
	if (++st->accepts >= STATUS_ACCEPTS_PER_SEC) {
		struct timeval	 sec = { 1, 0 };

		evconnlistener_disable(st->evl);
		evtimer_add(st->resume, &sec);
	}
	if (st->nconns >= STATUS_CONNS_MAX) {
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	clock_gettime(CLOCK_MONOTONIC, &c->born);
	c->bev = xptr(bufferevent_socket_new(st->srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE));
	c->deadline = xptr(evtimer_new(st->srv->base, on_deadline, c));
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->deadline, &tv);
	if ((c->next = st->conns) != NULL)
		c->next->prev = c;
	st->conns = c;
	st->nconns++;
}

/* The unix socket: mode 0660, its owner the user the worker becomes, so
 * that user's group reads it; created race-free (base/unixsock.c). */
static int
bind_unix(const struct status_conf *sc, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	char	 why[400];
	int	 fd;

	if ((fd = unixsock_listen(sc->unix_path, 0660, uid, gid,
	    STATUS_CONNS_MAX, why, sizeof(why))) == -1)
		snprintf(err, errsz, "[shim] status: %s", why);
	return fd;
}

static int
bind_tcp(const struct status_conf *sc, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	char			 addr[HOST_MAX + 16];
	int			 fd, one = 1, sslen = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	snprintf(addr, sizeof(addr), strchr(sc->host, ':') ? "[%s]:%u" :
	    "%s:%u", sc->host, sc->port);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errsz, "[shim] status: bad address %s", addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 ||
	    listen(fd, STATUS_CONNS_MAX) == -1) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errsz, "[shim] status: %s:%u: %s", sc->host, sc->port,
	    strerror(errno));
	return -1;
}

int
status_check(const struct conf *conf, char *err, size_t errsz)
{
	char	 why[400];

	if (conf->status.unix_path == NULL)
		return 0;
	if (unixsock_check(conf->status.unix_path, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "[shim] status: %s", why);
		return -1;
	}
	return 0;
}

struct status *
status_open(struct server *srv, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	const struct status_conf *sc = &srv->conf->status;
	struct status	*st;
	int		 fd;

	if (!sc->present)
		return NULL;
	fd = sc->unix_path != NULL ? bind_unix(sc, uid, gid, err, errsz) :
	    bind_tcp(sc, err, errsz);
	if (fd == -1)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->srv = srv;
	st->resume = xptr(evtimer_new(srv->base, resume, st));
	if ((st->evl = evconnlistener_new(srv->base, on_accept, st,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		snprintf(err, errsz, "[shim] status: cannot listen on it");
		close(fd);
		status_free(st);
		return NULL;
	}
	if (sc->unix_path != NULL)
		log_info("status: serving /metrics and /status on unix:%s",
		    sc->unix_path);
	else
		log_info("status: serving /metrics and /status on %s:%u",
		    sc->host, sc->port);
	return st;
}

void
status_free(struct status *st)
{
	if (st == NULL)
		return;
	while (st->conns != NULL)
		sconn_free(st->conns);
	if (st->resume != NULL)
		event_free(st->resume);
	if (st->evl != NULL)
		evconnlistener_free(st->evl);
	free(st);
}
