/*
 * report.c - pin-failure reports: when the feed in force names a
 * report_url, each certificate refusal is queued as a report carrying its
 * evidence (the served chain as PEM, the pins expected and where they
 * came from) and POSTed there in batches, so the backend sees a rotation
 * gone wrong or an attack in progress, and can see who issued the chain.
 *
 * Two formats, the feed's report_format: w3c (the default), the W3C
 * Reporting API's array form, application/reports+json, many reports a
 * POST, each body as docs/report.schema.json says; rfc7469, the HPKP
 * report object of RFC 7469 section 3, one per POST, application/json.
 *
 * Rate-limited so a device under attack (or behind a misconfigured
 * inspection box) cannot flood the report server or itself: one report per
 * host per REPORT_HOST_GAP, at most REPORT_BURST per hour. The queue is
 * bounded in count and bytes; a report that would overflow it drops the
 * oldest waiting one. A batch goes REPORT_DELAY after its first report,
 * or at once when full; one POST in flight. A POST that fails (network,
 * TLS, 408, 429, 5xx) is retried with exponential backoff, its reports
 * kept in order at the head of the queue. What is rate-limited or
 * dropped is counted and sent as "suppressed" with the next report.
 * Reports travel over TLS, checked against ca_file and pinned if the
 * snapshot pins the report host.
 *
 * Must never: send more than the rate limits allow, or anything but the
 * refusal's own evidence; queue more than REPORT_QUEUE_BYTES of reports;
 * keep a reference to a connection's chain past report_refusal().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "base/json.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "pins/feed_body.h"
#include "shim/net/upstream.h"
#include "shim/remote/report.h"
#include "shim/remote/report_queue.h"
#include "shim/remote/web.h"
#include "shim/proc/server.h"
#include "shim/version.h"

#define REPORT_HOST_GAP	600	/* seconds between reports for one host */
#define REPORT_BURST	20	/* reports per hour */
#define REPORT_HOSTS	64	/* hosts remembered for the per-host gap */
#define REPORT_BATCH	16	/* reports per POST, at most */
#define REPORT_DELAY	2	/* seconds a batch waits for company */
#define REPORT_CHAIN_CERTS 4	/* certificates of the chain sent */
#define REPORT_CHAIN_BYTES (16 * 1024)	/* and their PEM bytes */
#define REPORT_CERT_DER	8192	/* a certificate larger is left out */
#define REPORT_CERT_PEM	(REPORT_CERT_DER * 2)	/* room for its PEM */

struct reporter {
	struct server	*srv;
	char		*url;			/* owned, NULL: no reports */
	unsigned long long feed_version;
	int64_t		 feed_expires;
	bool		 rfc7469;
	/* texts: w3c, the envelope after "age"; rfc7469, the object */
	struct report_queue q;
	struct web_req	*inflight;
	struct event	*timer;			/* owned; delay or backoff */
	unsigned	 backoff;		/* seconds; 0: no failure */
	struct {
		char	 host[HOST_MAX + 1];
		time_t	 last;
	}		 recent[REPORT_HOSTS];
	double		 tokens;
	time_t		 refilled;
	unsigned	 suppressed;
	struct report_stats st;
};

static void	flush(evutil_socket_t, short, void *);

struct reporter *
report_new(struct server *srv)
{
	struct reporter	*r = xcalloc(1, sizeof(*r));

	r->srv = srv;
	r->tokens = REPORT_BURST;
	r->refilled = time(NULL);
	r->timer = xptr(evtimer_new(srv->base, flush, r));
	return r;
}

void
report_free(struct reporter *r)
{
	if (r == NULL)
		return;
	web_cancel(r->inflight);
	report_queue_pop(&r->q, r->q.n);
	event_free(r->timer);
	free(r->url);
	free(r);
}

void
report_set_feed(struct reporter *r, const struct feed_body *b)
{
	free(r->url);
	r->url = b != NULL && b->report_url != NULL ?
	    xstrdup(b->report_url) : NULL;
	r->feed_version = b != NULL ? b->version : 0;
	r->feed_expires = b != NULL ? b->expires : 0;
	r->rfc7469 = b != NULL && b->report_rfc7469;
	if (r->url == NULL && r->inflight == NULL)	/* nowhere to go */
		report_queue_pop(&r->q, r->q.n);
}

static void
arm(struct reporter *r, unsigned seconds)
{
	struct timeval	 tv = { seconds, 0 };

	evtimer_add(r->timer, &tv);
}

static void
sent(struct http_result *res, void *arg)
{
	struct reporter	*r = arg;
	size_t		 n = r->q.sending;

	r->inflight = NULL;
	if (res->status >= 200 && res->status <= 299 && res->error == NULL) {
		r->st.delivered += n;
		r->backoff = 0;
		log_info("report: delivered (HTTP %d): %zu report(s)",
		    res->status, n);
		report_queue_pop(&r->q, n);
	} else if (r->url == NULL) {
		log_info("report: %zu dropped: the feed in force names no "
		    "report_url", n);
		report_queue_pop(&r->q, r->q.n);
	} else if (report_queue_retryable(res->status, res->error == NULL)) {
		r->q.sending = 0;	/* kept at the head, in order */
		r->st.failed++;
		r->backoff = report_queue_backoff(r->backoff);
		if (res->error != NULL)
			log_warn("report: %zu not delivered: %s; retry in %us",
			    n, res->error, r->backoff);
		else
			log_warn("report: %zu not accepted: HTTP status %d; "
			    "retry in %us", n, res->status, r->backoff);
		arm(r, r->backoff);
		return;
	} else {
		/* the collector refuses these reports for good (4xx) */
		r->st.failed++;
		log_warn("report: %zu not accepted: HTTP status %d; dropped",
		    n, res->status);
		report_queue_pop(&r->q, n);
	}
	if (r->q.n > 0)
		arm(r, r->q.n >= REPORT_BATCH ? 0 : REPORT_DELAY);
}

/* The head of the queue as one POST body: a W3C batch of the reports in
 * that format, or the one RFC 7469 object at the head. */
static struct evbuffer *
batch(struct reporter *r, size_t *n)
{
	struct evbuffer	*b = xptr(evbuffer_new());
	const struct report_item *v = r->q.v;
	struct timespec	 now;
	long long	 age;
	size_t		 i;

	if (v[0].rfc7469) {
		evbuffer_add(b, v[0].text, v[0].len);
		*n = 1;
		return b;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	evbuffer_add(b, "[", 1);
	for (i = 0; i < r->q.n && i < REPORT_BATCH && !v[i].rfc7469; i++) {
		age = (now.tv_sec - v[i].made.tv_sec) * 1000LL +
		    (now.tv_nsec - v[i].made.tv_nsec) / 1000000;
		evbuffer_add_printf(b, "%s{\"type\":\"pinshim-pin-failure\","
		    "\"age\":%lld,", i > 0 ? "," : "", age < 0 ? 0 : age);
		evbuffer_add(b, v[i].text, v[i].len);
	}
	evbuffer_add(b, "]", 1);
	*n = i;
	return b;
}

static void
flush(evutil_socket_t fd, short what, void *arg)
{
	struct reporter	*r = arg;
	struct evbuffer	*b;
	struct web_opts	 o;

	(void)fd;
	(void)what;
	if (r->inflight != NULL || r->q.n == 0)
		return;
	if (r->url == NULL) {		/* the feed dropped report_url */
		report_queue_pop(&r->q, r->q.n);
		return;
	}
	b = batch(r, &r->q.sending);
	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.label = "report";
	o.snapshot_pins = true;
	o.jsonlen = evbuffer_get_length(b);
	o.json = (const char *)evbuffer_pullup(b, -1);
	o.json_type = r->q.v[0].rfc7469 ? "application/json" :
	    "application/reports+json";
	o.timeout = 15;
	r->inflight = web_request(r->srv, r->url, &o, sent, r);
	evbuffer_free(b);
}

/* Per-host gap and the hourly bucket. */
static bool
allowed(struct reporter *r, const char *host, time_t now)
{
	size_t	 i, oldest = 0;

	r->tokens += (double)(now - r->refilled) * REPORT_BURST / 3600.0;
	if (r->tokens > REPORT_BURST)
		r->tokens = REPORT_BURST;
	r->refilled = now;
	for (i = 0; i < REPORT_HOSTS; i++) {
		if (strcmp(r->recent[i].host, host) == 0) {
			if (now - r->recent[i].last < REPORT_HOST_GAP)
				return false;
			oldest = i;
			break;
		}
		if (r->recent[i].last < r->recent[oldest].last)
			oldest = i;
	}
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	snprintf(r->recent[oldest].host, sizeof(r->recent[oldest].host), "%s",
	    host);
	r->recent[oldest].last = now;
	return true;
}

/* The served chain as a JSON array of PEM strings, leaf first, at most
 * REPORT_CHAIN_CERTS and REPORT_CHAIN_BYTES of PEM; true if cut short. */
static bool
add_chain(struct evbuffer *b, const struct tls_chain *ch)
{
	char		*pem = xcalloc(1, REPORT_CERT_PEM + 1);
	size_t		 total = 0;
	int		 i, n, sent = 0;
	bool		 cut = false;

	evbuffer_add(b, "[", 1);
	for (i = 0; ch != NULL && i < ch->n; i++) {
		if (sent == REPORT_CHAIN_CERTS || ch->len[i] > REPORT_CERT_DER ||
		    (n = wc_DerToPem(ch->der[i], (word32)ch->len[i],
		    (byte *)pem, REPORT_CERT_PEM, CERT_TYPE)) <= 0 ||
		    total + (size_t)n > REPORT_CHAIN_BYTES) {
			cut = true;
			break;
		}
		pem[n] = '\0';
		total += (size_t)n;
		if (sent++ > 0)
			evbuffer_add(b, ",", 1);
		json_str(b, pem);
	}
	evbuffer_add(b, "]", 1);
	free(pem);
	return cut;
}

static void
add_pins(struct evbuffer *b, const struct pinset *pins, bool hpkp)
{
	char	 one[PIN_TEXT_LEN + 1], hp[PIN_TEXT_LEN + 16];
	size_t	 i;

	evbuffer_add(b, "[", 1);
	for (i = 0; pins != NULL && i < pins->n; i++) {
		pin_format(&pins->pins[i], one);
		if (i > 0)
			evbuffer_add(b, ",", 1);
		if (hpkp) {	/* sha256/B64 as pin-sha256="B64" */
			snprintf(hp, sizeof(hp), "pin-sha256=\"%s\"",
			    one + strlen("sha256/"));
			json_str(b, hp);
		} else
			json_str(b, one);
	}
	evbuffer_add(b, "]", 1);
}

/* The W3C envelope after "age" and the body (docs/report.schema.json). */
static void
w3c_report(struct reporter *r, struct evbuffer *b,
    const struct upstream_result *res, const char *listener, time_t now)
{
	char		 t[32], one[PIN_TEXT_LEN + 1], url[HOST_MAX + 32];
	const char	*p, *sep;
	const char	*device = r->srv->conf->device_id ?
			    r->srv->conf->device_id : "";
	bool		 cut;

	snprintf(url, sizeof(url), strchr(res->host, ':') != NULL ?
	    "https://[%s]:%u/" : "https://%s:%u/", res->host, res->port);
	evbuffer_add_printf(b, "\"url\":");
	json_str(b, url);
	evbuffer_add_printf(b, ",\"user_agent\":\"pinshim/%s\",\"body\":{"
	    "\"schema_version\":%d,\"pinshim_version\":\"%s\",",
	    PINSHIM_VERSION, REPORT_SCHEMA, PINSHIM_VERSION);
	format_rfc3339(now, t, sizeof(t));
	evbuffer_add_printf(b, "\"verdict\":\"%s\",\"time\":\"%s\","
	    "\"device_id\":", res->would_refuse ? "would-refuse" : "refuse",
	    t);
	json_str(b, device);
	evbuffer_add_printf(b, ",\"listener\":");
	json_str(b, listener);
	evbuffer_add_printf(b, ",\"host\":");
	json_str(b, res->host);
	evbuffer_add_printf(b, ",\"port\":%u,\"addr\":", res->port);
	json_str(b, res->addr);
	evbuffer_add_printf(b, ",\"policy\":\"%s\",\"rule\":",
	    policy_name(res->policy));
	if (res->pattern != NULL)
		json_str(b, res->pattern);
	else
		evbuffer_add_printf(b, "null");
	evbuffer_add_printf(b, ",\"reason\":\"%s\",\"detail\":", res->reason);
	json_str(b, res->detail);
	evbuffer_add_printf(b, ",\"presented\":[");
	for (p = res->tv.presented, sep = ""; list_next(&p, one,
	    sizeof(one)) != LIST_END; sep = ",") {
		evbuffer_add(b, sep, strlen(sep));
		json_str(b, one);
	}
	evbuffer_add_printf(b, "],\"anchor\":");
	json_str(b, res->tv.anchor);
	evbuffer_add_printf(b, ",\"expected_pins\":");
	add_pins(b, res->pins, false);
	evbuffer_add_printf(b, ",\"pins_source\":\"%s\",\"served_chain\":",
	    res->pins == NULL || res->pins->n == 0 ? "none" :
	    res->pins_from_feed ? "feed" : "ini");
	cut = add_chain(b, res->chain);
	evbuffer_add_printf(b, ",\"chain_truncated\":%s,\"feed_version\":%llu,"
	    "\"suppressed\":%u}}", cut ? "true" : "false", r->feed_version,
	    r->suppressed);
}

/* RFC 7469 section 3: the fields it names, nothing else. pinshim keeps
 * no path of its own apart from the served chain: it is sent as both. */
static void
rfc7469_report(struct reporter *r, struct evbuffer *b,
    const struct upstream_result *res, time_t now)
{
	char		 t[32];
	const char	*noted = res->pattern != NULL ? res->pattern : res->host;
	bool		 sub = noted[0] == '*';

	while (*noted == '*')		/* "*.x", "**.x": x and below */
		noted++;
	if (*noted == '.')
		noted++;
	format_rfc3339(now, t, sizeof(t));
	evbuffer_add_printf(b, "{\"date-time\":\"%s\",\"hostname\":", t);
	json_str(b, res->host);
	format_rfc3339(r->feed_expires > now ? r->feed_expires : now, t,
	    sizeof(t));
	evbuffer_add_printf(b, ",\"port\":%u,\"effective-expiration-date\":"
	    "\"%s\",\"include-subdomains\":%s,\"noted-hostname\":", res->port,
	    t, sub ? "true" : "false");
	json_str(b, noted);
	evbuffer_add_printf(b, ",\"served-certificate-chain\":");
	add_chain(b, res->chain);
	evbuffer_add_printf(b, ",\"validated-certificate-chain\":");
	add_chain(b, res->chain);
	evbuffer_add_printf(b, ",\"known-pins\":");
	add_pins(b, res->pins, true);
	evbuffer_add(b, "}", 1);
}

void
report_refusal(struct reporter *r, const struct upstream_result *res,
    const char *listener)
{
	const char	*host = res->host;
	struct evbuffer	*b;
	char		*text;
	time_t		 now = time(NULL);
	size_t		 len;
	unsigned	 dropped, unsaid, carried;
	bool		 ok;

	if (r == NULL || r->url == NULL ||
	    (res->fail != UP_TLS && !res->would_refuse) ||
	    strcmp(listener, "report") == 0)
		return;
	if (!allowed(r, host, now)) {
		r->suppressed++;
		r->st.suppressed++;
		log_info("report: rate-limited (host %s, %u suppressed)", host,
		    r->suppressed);
		return;
	}
	b = xptr(evbuffer_new());
	if (r->rfc7469)
		rfc7469_report(r, b, res, now);
	else
		w3c_report(r, b, res, listener, now);
	len = evbuffer_get_length(b);
	text = xcalloc(1, len + 1);
	evbuffer_remove(b, text, len);
	evbuffer_free(b);
	carried = r->rfc7469 ? 0 : r->suppressed;  /* w3c bodies say it */
	r->suppressed -= carried;
	ok = report_queue_push(&r->q, text, len, r->rfc7469, carried,
	    &dropped, &unsaid);
	if (dropped > 0) {
		r->suppressed += unsaid;
		r->st.suppressed += dropped;
		log_warn("report: queue full, %u dropped (oldest first)",
		    dropped);
	}
	if (!ok)
		return;
	r->st.queued++;
	if (r->inflight != NULL || (r->backoff > 0 &&
	    evtimer_pending(r->timer, NULL)))
		return;			/* sent with the next POST */
	if (r->q.n >= REPORT_BATCH || r->rfc7469)
		arm(r, 0);
	else if (!evtimer_pending(r->timer, NULL))
		arm(r, REPORT_DELAY);
}

void
report_stats(const struct reporter *r, struct report_stats *st)
{
	if (r == NULL)
		memset(st, 0, sizeof(*st));
	else
		*st = r->st;
}
