/*
 * report.c - pin-failure reports: when the feed in force names a
 * report_url, each certificate refusal is POSTed there as one JSON object,
 * so the backend sees a rotation gone wrong or an attack in progress.
 *
 * Rate-limited so a device under attack (or behind a misconfigured
 * inspection box) cannot flood the report server or itself: one report per
 * host per REPORT_HOST_GAP, at most REPORT_BURST per hour, at most
 * REPORT_QUEUE waiting, one in flight. What is dropped is counted and sent
 * as "suppressed" with the next report. Reports travel over TLS, checked
 * against ca_file and pinned if the snapshot pins the report host.
 *
 * Must never: send more than the rate limits allow, or anything but the
 * refusal's own evidence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "base/json.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "shim/net/upstream.h"
#include "shim/remote/report.h"
#include "shim/remote/web.h"
#include "shim/proc/server.h"

#define REPORT_HOST_GAP	600	/* seconds between reports for one host */
#define REPORT_BURST	20	/* reports per hour */
#define REPORT_QUEUE	16
#define REPORT_HOSTS	64	/* hosts remembered for the per-host gap */

struct reporter {
	struct server	*srv;
	char		*url;			/* owned, NULL: no reports */
	unsigned long long feed_version;
	char		*queue[REPORT_QUEUE];	/* owned JSON texts */
	size_t		 nqueue;
	struct web_req	*inflight;
	struct {
		char	 host[HOST_MAX + 1];
		time_t	 last;
	}		 recent[REPORT_HOSTS];
	double		 tokens;
	time_t		 refilled;
	unsigned	 suppressed;
	struct report_stats st;
};

struct reporter *
report_new(struct server *srv)
{
	struct reporter	*r = xcalloc(1, sizeof(*r));

	r->srv = srv;
	r->tokens = REPORT_BURST;
	r->refilled = time(NULL);
	return r;
}

void
report_free(struct reporter *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	web_cancel(r->inflight);
	for (i = 0; i < r->nqueue; i++)
		free(r->queue[i]);
	free(r->url);
	free(r);
}

void
report_set_feed(struct reporter *r, const char *url,
    unsigned long long version)
{
	free(r->url);
	r->url = url != NULL ? xstrdup(url) : NULL;
	r->feed_version = version;
}

static void	send_next(struct reporter *);

static void
sent(struct http_result *res, void *arg)
{
	struct reporter	*r = arg;

	r->inflight = NULL;
	if (res->error != NULL) {
		r->st.failed++;
		log_warn("report: not delivered: %s", res->error);
	} else if (res->status < 200 || res->status > 299) {
		r->st.failed++;
		log_warn("report: not accepted: HTTP status %d", res->status);
	} else {
		r->st.delivered++;
		log_info("report: delivered (HTTP %d)", res->status);
	}
	send_next(r);
}

static void
send_next(struct reporter *r)
{
	const char	*url = r->url;
	struct web_opts	 o;
	char		*json;

	if (r->inflight != NULL || r->nqueue == 0)
		return;
	json = r->queue[0];
	memmove(r->queue, r->queue + 1, --r->nqueue * sizeof(r->queue[0]));
	if (url == NULL) {		/* the feed dropped report_url */
		free(json);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.label = "report";
	o.snapshot_pins = true;
	o.json = json;
	o.jsonlen = strlen(json);
	o.timeout = 15;
	r->inflight = web_request(r->srv, url, &o, sent, r);
	free(json);
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
	if (r->tokens < 1.0 || r->nqueue == REPORT_QUEUE)
		return false;
	r->tokens -= 1.0;
	snprintf(r->recent[oldest].host, sizeof(r->recent[oldest].host), "%s",
	    host);
	r->recent[oldest].last = now;
	return true;
}

void
report_refusal(struct reporter *r, const struct upstream_result *res,
    const char *listener)
{
	const char	*host = res->host;
	unsigned	 port = res->port;
	struct evbuffer	*b;
	char		 t[32], one[PIN_TEXT_LEN + 1], *json;
	const char	*p, *sep, *device;
	time_t		 now = time(NULL);
	size_t		 len;

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
	device = r->srv->conf->device_id ? r->srv->conf->device_id : "";
	format_rfc3339(now, t, sizeof(t));
	b = xptr(evbuffer_new());
	evbuffer_add_printf(b, "{\"type\":\"pin-failure\",\"verdict\":\"%s\","
	    "\"time\":\"%s\",\"device_id\":", res->would_refuse ?
	    "would-refuse" : "refuse", t);
	json_str(b, device);
	evbuffer_add_printf(b, ",\"listener\":");
	json_str(b, listener);
	evbuffer_add_printf(b, ",\"host\":");
	json_str(b, host);
	evbuffer_add_printf(b, ",\"port\":%u,\"addr\":", port);
	json_str(b, res->addr);
	evbuffer_add_printf(b, ",\"policy\":\"%s\",\"reason\":\"%s\","
	    "\"detail\":", policy_name(res->policy), res->reason);
	json_str(b, res->detail);
	evbuffer_add_printf(b, ",\"presented\":[");
	for (p = res->tv.presented, sep = ""; list_next(&p, one,
	    sizeof(one)) != LIST_END; sep = ",") {
		evbuffer_add(b, sep, strlen(sep));
		json_str(b, one);
	}
	evbuffer_add_printf(b, "],\"anchor\":");
	json_str(b, res->tv.anchor);
	evbuffer_add_printf(b, ",\"feed_version\":%llu,\"suppressed\":%u}\n",
	    r->feed_version, r->suppressed);
	r->suppressed = 0;
	len = evbuffer_get_length(b);
	json = xcalloc(1, len + 1);
	evbuffer_remove(b, json, len);
	evbuffer_free(b);
	r->queue[r->nqueue++] = json;
	r->st.queued++;
	send_next(r);
}

void
report_stats(const struct reporter *r, struct report_stats *st)
{
	if (r == NULL)
		memset(st, 0, sizeof(*st));
	else
		*st = r->st;
}
