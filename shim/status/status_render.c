/*
 * status_render.c - the answers of [shim] status from one gathered view
 * (status_render.h): /metrics in Prometheus text format 0.0.4, /status
 * as JSON, and the summary `pinshim status` prints. A scrape is linear in
 * listeners, series and rules.
 *
 * Must never: read anything but the view it is given (no server, no
 * clock, no file: what a test builds by hand is what is rendered), show
 * a private key, or write text that is not valid in its format (label
 * values and JSON strings are escaped, whatever bytes they hold).
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/json.h"
#include "base/list.h"
#include "base/parse.h"
#include "shim/status/status_render.h"
#include "shim/version.h"

#define EXPIRING_DAYS		30

/* The earliest expires of a pin set in force; false if none expires. */
static bool
earliest_expiry(const struct status_view *v, int64_t *out)
{
	size_t	 i;
	bool	 any = false;

	for (i = 0; i < v->nrules; i++)
		if (v->rules[i].has_expires && (!any ||
		    v->rules[i].expires < *out)) {
			*out = v->rules[i].expires;
			any = true;
		}
	return any;
}

enum health { H_OK, H_NO_FEED, H_STALE, H_EXPIRED, H_PIN_EXPIRED,
    H_REFUSING };
static const char *const health_names[] = { "ok", "no-feed", "stale",
    "expired", "pin-set-expired", "refusing" };

/* Pinned hosts were refused in the last STATUS_REFUSING_WINDOW seconds
 * and none passed in them: the pins no longer match what the servers
 * present (a rotation the feed missed, or an interception). */
static bool
refusing(const struct status_view *v)
{
	const struct metrics_pinned *p = v->pinned;
	time_t			 since = v->wall - STATUS_REFUSING_WINDOW;

	return p != NULL && p->last_refusal != 0 &&
	    p->last_refusal > since && p->last_pass <= since;
}

/* Stale: no fetch has succeeded for 3 refresh periods (since start, if
 * none ever did); expired: the feed in force is past its expires. */
static enum health
health(const struct status_view *v)
{
	const struct feedsync_stats *fst = &v->feed;
	time_t			 since;
	int64_t			 first = 0;

	if (earliest_expiry(v, &first) && first <= v->now)
		return H_PIN_EXPIRED;
	if (v->feed_present && fst->version != 0 && fst->expires <= v->now)
		return H_EXPIRED;
	if (refusing(v))
		return H_REFUSING;
	if (!v->feed_present)
		return H_OK;
	since = fst->last_success ? fst->last_success : v->started;
	if (v->now - since > 3 * (time_t)v->feed_refresh)
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

/* A label value: backslash, quote and newline escaped, and a byte that
 * is not well-formed UTF-8 (the format's encoding) written as U+FFFD. */
static void
label(struct evbuffer *b, const char *s)
{
	size_t	 n;

	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s += n) {
		n = 1;
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else if ((n = str_utf8_len(s)) != 0)
			evbuffer_add(b, s, n);
		else {
			evbuffer_add(b, "\xef\xbf\xbd", 3);
			n = 1;
		}
	}
	evbuffer_add(b, "\"", 1);
}

/* what: 0 accepted, 1 active, 2 evicted. */
static void
per_listener(struct evbuffer *b, const struct status_view *v,
    const char *name, const char *type, const char *help, int what)
{
	size_t	 i;

	head(b, name, type, help);
	for (i = 0; i < v->nlisteners; i++) {
		const struct status_listener *l = &v->listeners[i];

		evbuffer_add_printf(b, "%s{listener=", name);
		label(b, l->name);
		evbuffer_add_printf(b, "} %llu\n", what == 0 ? l->accepted :
		    what == 2 ? l->evicted : (unsigned long long)l->active);
	}
}

static void
metrics_feed(struct evbuffer *b, const struct status_view *v)
{
	const struct feedsync_stats *f = &v->feed;
	time_t	 now = v->wall;
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
		    "\"%s\"} %llu\n", v->fetch_outcomes[i], f->fetches[i]);
	head(b, "pinshim_feed_stale", "gauge", "1 when the feed is past its "
	    "expiry or no fetch has succeeded for 3 refresh periods.");
	i = health(v);
	evbuffer_add_printf(b, "pinshim_feed_stale %d\n", i == H_STALE ||
	    i == H_EXPIRED);
}

/* The process, and each listener's connections and bytes. */
static void
metrics_process(const struct status_view *v, struct evbuffer *b)
{
	size_t	 i;

	head(b, "pinshim_build_info", "gauge", "pinshim's version and the "
	    "wolfSSL and libevent it runs with.");
	evbuffer_add_printf(b, "pinshim_build_info{version=");
	label(b, PINSHIM_VERSION);
	evbuffer_add_printf(b, ",wolfssl=");
	label(b, v->wolfssl_version ? v->wolfssl_version : "unknown");
	evbuffer_add_printf(b, ",libevent=");
	label(b, v->libevent_version ? v->libevent_version : "unknown");
	evbuffer_add_printf(b, "} 1\n");
	if (v->device_id != NULL) {
		head(b, "pinshim_device_info", "gauge", "The device_id this "
		    "pinshim reports as ([shim] device_id).");
		evbuffer_add_printf(b, "pinshim_device_info{device_id=");
		label(b, v->device_id);
		evbuffer_add_printf(b, "} 1\n");
	}
	head(b, "process_start_time_seconds", "gauge", "Start time of the "
	    "process since the Unix epoch in seconds.");
	evbuffer_add_printf(b, "process_start_time_seconds %lld\n",
	    (long long)v->started);
	if (v->open_fds >= 0) {
		head(b, "process_open_fds", "gauge", "Number of open file "
		    "descriptors.");
		evbuffer_add_printf(b, "process_open_fds %ld\n",
		    v->open_fds);
	}
	head(b, "process_max_fds", "gauge", "Maximum number of open file "
	    "descriptors.");
	evbuffer_add_printf(b, "process_max_fds %lu\n", v->max_fds);
	head(b, "pinshim_log_dropped_total", "counter", "Log lines the syslog "
	    "socket could not take at once.");
	evbuffer_add_printf(b, "pinshim_log_dropped_total %llu\n",
	    v->log_dropped);
	per_listener(b, v, "pinshim_connections_accepted_total", "counter",
	    "Client connections accepted.", 0);
	per_listener(b, v, "pinshim_connections_active", "gauge",
	    "Client connections held now.", 1);
	per_listener(b, v, "pinshim_connections_evicted_total", "counter",
	    "Idle connections reset at max_conns to serve a newcomer.", 2);
	head(b, "pinshim_relayed_bytes_total", "counter", "Bytes relayed, "
	    "counted as they move: up (app to server) and down.");
	for (i = 0; i < 2; i++) {
		size_t	 j;

		for (j = 0; j < v->nlisteners; j++) {
			const struct status_listener *l = &v->listeners[j];

			evbuffer_add_printf(b, "pinshim_relayed_bytes_total"
			    "{listener=");
			label(b, l->name);
			evbuffer_add_printf(b, ",direction=\"%s\"} %llu\n",
			    i == 0 ? "up" : "down", i == 0 ? l->bytes_up :
			    l->bytes_down);
		}
	}
}

/* Verdicts by label, and the upstream handshake histogram. */
static void
metrics_verdicts(const struct status_view *v, struct evbuffer *b)
{
	const struct metrics_series	*s = v->series;
	const struct metrics_hist	*h = v->handshakes;
	unsigned long long		 cum = 0;
	size_t				 i;

	head(b, "pinshim_verdicts_total", "counter", "Verdict lines, by "
	    "listener, policy, verdict (pass, refuse, would-refuse) and "
	    "reason.");
	for (i = 0; i < v->nseries; i++) {
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
	    v->series_dropped);
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
	if (v->connects != NULL) {
		head(b, "pinshim_upstream_connect_attempts_total", "counter",
		    "TCP connects to upstream addresses, by result: connected, "
		    "failed (or slower than a later one), abandoned (another "
		    "won first).");
		evbuffer_add_printf(b, "pinshim_upstream_connect_attempts_total"
		    "{result=\"connected\"} %llu\n"
		    "pinshim_upstream_connect_attempts_total"
		    "{result=\"failed\"} %llu\n"
		    "pinshim_upstream_connect_attempts_total"
		    "{result=\"abandoned\"} %llu\n", v->connects->connected,
		    v->connects->failed, v->connects->abandoned);
	}
}

/* The interception CA, the keeper and the TOFU store, where there are. */
static void
metrics_helpers(const struct status_view *v, struct evbuffer *b)
{
	if (v->ca) {
		head(b, "pinshim_minted_leaves_total", "counter", "Leaves the "
		    "interception CA minted.");
		evbuffer_add_printf(b, "pinshim_minted_leaves_total %lu\n",
		    v->mints);
		head(b, "pinshim_minted_cache_hits_total", "counter",
		    "Interceptions served a cached minted leaf.");
		evbuffer_add_printf(b, "pinshim_minted_cache_hits_total %lu\n",
		    v->mint_hits);
		head(b, "pinshim_minted_cache_entries", "gauge", "Minted leaves "
		    "held in the cache.");
		evbuffer_add_printf(b, "pinshim_minted_cache_entries %zu\n",
		    v->mint_cached);
	}
	if (v->ca && v->keeper) {
		head(b, "pinshim_mint_refusals_total", "counter", "Names that "
		    "got no leaf: the keeper refused them (a bad name), the "
		    "mint queue was full, or the handshake timeout passed "
		    "waiting.");
		evbuffer_add_printf(b, "pinshim_mint_refusals_total %lu\n",
		    v->mint_refusals);
		head(b, "pinshim_mint_waits_total", "counter", "New names "
		    "that waited in the mint queue for the keeper's rate "
		    "(mint_rate) or its answers.");
		evbuffer_add_printf(b, "pinshim_mint_waits_total %lu\n",
		    v->mint_waits);
		head(b, "pinshim_mint_queued", "gauge", "New names waiting in "
		    "the mint queue now.");
		evbuffer_add_printf(b, "pinshim_mint_queued %zu\n",
		    v->mint_queued);
	}
	if (v->keeper) {
		head(b, "pinshim_keeper_pending_requests", "gauge", "Requests "
		    "to the keeper not answered yet (leaves, state_dir "
		    "writes).");
		evbuffer_add_printf(b, "pinshim_keeper_pending_requests %zu\n",
		    v->keeper_pending);
		head(b, "pinshim_keeper_oldest_request_seconds", "gauge", "How "
		    "long the oldest of them has waited; 0 when none.");
		evbuffer_add_printf(b, "pinshim_keeper_oldest_request_seconds "
		    "%.3f\n", v->keeper_waiting);
	}
	if (v->tofu) {
		head(b, "pinshim_tofu_pending_writes", "gauge", "TOFU pins "
		    "held in memory only: their write to state_dir is on its "
		    "way to the keeper, or failed and is retried.");
		evbuffer_add_printf(b, "pinshim_tofu_pending_writes %zu\n",
		    v->tofu_pending);
		head(b, "pinshim_tofu_write_retries_total", "counter",
		    "Background attempts to write TOFU pins held in memory "
		    "only.");
		evbuffer_add_printf(b, "pinshim_tofu_write_retries_total "
		    "%llu\n", v->tofu_retries);
	}
}

void
status_render_metrics(const struct status_view *v, struct evbuffer *b)
{
	const struct report_stats	*r = &v->reports;
	int64_t				 first = 0;

	metrics_process(v, b);
	metrics_verdicts(v, b);
	if (v->feed_present)
		metrics_feed(b, v);
	if (earliest_expiry(v, &first)) {
		head(b, "pinshim_pin_set_earliest_expiry_timestamp_seconds",
		    "gauge", "The earliest expires of a pin set in force.");
		evbuffer_add_printf(b, "pinshim_pin_set_earliest_expiry_"
		    "timestamp_seconds %lld\n", (long long)first);
	}
	head(b, "pinshim_pinned_refusing", "gauge", "1 while pinned hosts "
	    "were refused in the last 300 s and none passed (health "
	    "refusing).");
	evbuffer_add_printf(b, "pinshim_pinned_refusing %d\n", refusing(v));
	if (v->pinned != NULL && v->pinned->last_refusal != 0) {
		head(b, "pinshim_pinned_last_refusal_timestamp_seconds",
		    "gauge", "When a pin check last refused a pinned host.");
		evbuffer_add_printf(b, "pinshim_pinned_last_refusal_timestamp_"
		    "seconds %lld\n", (long long)v->pinned->last_refusal);
	}
	if (v->pinned != NULL && v->pinned->last_pass != 0) {
		head(b, "pinshim_pinned_last_pass_timestamp_seconds", "gauge",
		    "When a pin check last passed a pinned host.");
		evbuffer_add_printf(b, "pinshim_pinned_last_pass_timestamp_"
		    "seconds %lld\n", (long long)v->pinned->last_pass);
	}
	head(b, "pinshim_reports_total", "counter", "Pin-failure reports: "
	    "queued (passed the rate limits), delivered (a collector took "
	    "them), failed (POSTs that did not succeed; retried), suppressed "
	    "(rate-limited, or dropped from a full queue).");
	evbuffer_add_printf(b, "pinshim_reports_total{outcome=\"queued\"} "
	    "%llu\npinshim_reports_total{outcome=\"delivered\"} %llu\n"
	    "pinshim_reports_total{outcome=\"failed\"} %llu\n"
	    "pinshim_reports_total{outcome=\"suppressed\"} %llu\n", r->queued,
	    r->delivered, r->failed, r->suppressed);
	metrics_helpers(v, b);
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

void
status_render_json(const struct status_view *v, struct evbuffer *b)
{
	const struct feedsync_stats *f = &v->feed;
	const struct metrics_refusal *m;
	time_t			 now = v->now;
	const char		*sep;
	size_t			 i;
	int			 i2;

	evbuffer_add_printf(b, "{\"version\":\"%s\",\"started\":",
	    PINSHIM_VERSION);
	json_time(b, v->started);
	evbuffer_add_printf(b, ",\"uptime_seconds\":%lld,\"health\":\"%s\","
	    "\"device_id\":", (long long)(v->wall - v->started),
	    health_names[health(v)]);
	if (v->device_id != NULL)
		json_str(b, v->device_id);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"connections\":{\"held\":%zu,\"passed\":"
	    "%llu,\"refused\":%llu,\"would_refuse\":%llu},\"listeners\":[",
	    v->held, v->passed, v->refused, v->would_refuse);
	for (i = 0; i < v->nlisteners; i++) {
		const struct status_listener *l = &v->listeners[i];

		evbuffer_add_printf(b, "%s{\"name\":", i ? "," : "");
		json_str(b, l->name);
		evbuffer_add_printf(b, ",\"mode\":\"%s\",\"bind\":",
		    l->mode);
		json_str(b, l->bind_host);
		evbuffer_add_printf(b, ",\"port\":%u,\"active\":%zu,"
		    "\"max_conns\":%u,\"accepted\":%llu}", l->port,
		    l->active, l->max_conns, l->accepted);
	}
	evbuffer_add(b, "],\"feed\":", 9);
	if (!v->feed_present)
		evbuffer_add(b, "null", 4);
	else {
		evbuffer_add_printf(b, "{\"version\":%llu,\"key_set\":%lu,",
		    f->version, f->keys_version);
		if (f->version != 0) {
			evbuffer_add_printf(b, "\"issued\":");
			json_time(b, f->issued);
			evbuffer_add_printf(b, ",\"expires\":");
			json_time(b, f->expires);
			evbuffer_add_printf(b, ",\"source\":");
			json_str(b, f->source ? f->source : "");
			evbuffer_add(b, ",", 1);
		}
		evbuffer_add_printf(b, "\"last_success\":");
		if (f->last_success)
			json_time(b, f->last_success);
		else
			evbuffer_add(b, "null", 4);
		evbuffer_add_printf(b, ",\"last_error\":");
		if (f->last_error)
			json_str(b, f->last_error);
		else
			evbuffer_add(b, "null", 4);
		evbuffer_add_printf(b, ",\"fetches\":{");
		for (i2 = 0; i2 < FEED_FETCH_OUTCOMES; i2++)
			evbuffer_add_printf(b, "%s\"%s\":%llu", i2 ? "," : "",
			    v->fetch_outcomes[i2], f->fetches[i2]);
		evbuffer_add(b, "}}", 2);
	}
	evbuffer_add_printf(b, ",\"keeper\":");
	if (!v->keeper)
		evbuffer_add(b, "null", 4);
	else
		evbuffer_add_printf(b, "{\"pid\":%ld,\"pending\":%zu,"
		    "\"oldest_request_seconds\":%.3f,\"stalled\":%s}",
		    v->keeper_pid, v->keeper_pending, v->keeper_waiting,
		    v->keeper_stalled ? "true" : "false");
	evbuffer_add_printf(b, ",\"pinned\":{\"last_pass\":");
	if (v->pinned != NULL && v->pinned->last_pass != 0)
		json_time(b, v->pinned->last_pass);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"last_refusal\":");
	if (v->pinned != NULL && v->pinned->last_refusal != 0)
		json_time(b, v->pinned->last_refusal);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"refusing_window_seconds\":%d}",
	    STATUS_REFUSING_WINDOW);
	evbuffer_add_printf(b, ",\"recent_refusals\":[");
	for (i = 0; i < v->nrecent && (m = v->recent[i]) != NULL; i++) {
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
	for (i = 0, sep = ""; i < v->nrules; i++)
		if (v->rules[i].observe_only) {
			evbuffer_add_printf(b, "%s", sep);
			json_str(b, v->rules[i].pattern);
			sep = ",";
		}
	evbuffer_add_printf(b, "],\"expiring_pin_sets\":[");
	for (i = 0, sep = ""; i < v->nrules; i++) {
		const struct rule	*r = &v->rules[i];

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
void
status_render_text(const struct status_view *v, struct evbuffer *b)
{
	const struct feedsync_stats *f = &v->feed;
	const struct metrics_refusal *m;
	char			 t1[32], t2[32];
	time_t			 now = v->now;
	size_t			 i;

	evbuffer_add_printf(b, "pinshim %s, up %llds, device %s\n",
	    PINSHIM_VERSION, (long long)(v->wall - v->started),
	    v->device_id ? v->device_id : "-");
	for (i = 0; i < v->nlisteners; i++)
		evbuffer_add_printf(b, "listener %s (%s) %s:%u: %zu active, "
		    "%llu accepted\n", v->listeners[i].name,
		    v->listeners[i].mode, v->listeners[i].bind_host,
		    v->listeners[i].port, v->listeners[i].active,
		    v->listeners[i].accepted);
	evbuffer_add_printf(b, "connections: %llu passed, %llu refused, %llu "
	    "would-refuse (not enforced)\n", v->passed, v->refused,
	    v->would_refuse);
	if (refusing(v)) {
		format_rfc3339(v->pinned->last_refusal, t1, sizeof(t1));
		evbuffer_add_printf(b, "REFUSING: pinned hosts refused (last "
		    "%s), none passed in %d s\n", t1, STATUS_REFUSING_WINDOW);
	}
	if (!v->feed_present)
		evbuffer_add_printf(b, "feed: none configured\n");
	else if (f->version == 0)
		evbuffer_add_printf(b, "feed: none in force (bootstrap pins), "
		    "key set %lu\n", f->keys_version);
	else {
		format_rfc3339(f->issued, t1, sizeof(t1));
		format_rfc3339(f->expires, t2, sizeof(t2));
		evbuffer_add_printf(b, "feed: version %llu from %s, issued %s, "
		    "expires %s, key set %lu\n", f->version, f->source ?
		    f->source : "-", t1, t2, f->keys_version);
	}
	if (v->feed_present) {
		if (f->last_success) {
			format_rfc3339(f->last_success, t1, sizeof(t1));
			evbuffer_add_printf(b, "feed: last fetch that worked %s\n",
			    t1);
		} else
			evbuffer_add_printf(b, "feed: no fetch has worked since "
			    "start\n");
		if (f->last_error)
			evbuffer_add_printf(b, "feed: last error: %s\n",
			    f->last_error);
	}
	for (i = 0; i < v->nrules; i++) {
		const struct rule	*r = &v->rules[i];

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
	for (i = 0; i < v->nrecent && (m = v->recent[i]) != NULL; i++) {
		format_rfc3339(m->when, t1, sizeof(t1));
		evbuffer_add_printf(b, "%s %s %s:%u %s (%s) listener %s, "
		    "presented %s\n", t1, m->verdict, m->host, m->port,
		    m->reason, m->detail, m->listener, m->presented[0] ?
		    m->presented : "-");
	}
	evbuffer_add_printf(b, "health: %s\n", health_names[health(v)]);
}

