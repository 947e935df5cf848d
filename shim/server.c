/*
 * server.c - the pinshim process: build everything from a valid
 * configuration, bind, drop privileges, run the loop, stop cleanly.
 *
 * Order matters: the pin snapshot and the TLS context exist before any
 * listener accepts, so no connection ever runs without pins. Privileged
 * work (bind, reading keys and CA files) happens before the privilege drop;
 * a failed drop is fatal. SIGHUP builds a whole new configuration and swaps
 * the pins and trust store in only if it is valid; running connections keep
 * the snapshot they started with.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed.h"
#include "log.h"
#include "report.h"
#include "privdrop.h"
#include "server.h"
#include "util.h"

static void
listener_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	(void)evl;
	(void)salen;
	l->srv->accepted++;
	switch (l->lc->mode) {
	case MODE_TUNNEL:
		tunnel_accept(l, fd, sa);
		break;
	case MODE_FORWARD:
	case MODE_TRANSPARENT:
		intercept_accept(l, fd, sa);
		break;
	}
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->evl);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void
listener_error(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;
	int		 err = EVUTIL_SOCKET_ERROR();

	log_err("listener=%s accept: %s%s", l->lc->name, strerror(err),
	    err == EMFILE || err == ENFILE ? " (pausing accepts for 1s)" : "");
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		evconnlistener_disable(evl);
		{
			struct timeval tv = { 1, 0 };

			evtimer_add(l->retry, &tv);
		}
	}
}

static int
listeners_open(struct server *srv)
{
	size_t	 i;

	srv->nlisteners = srv->conf->nlisteners;
	srv->listeners = xcalloc(srv->nlisteners, sizeof(*srv->listeners));
	for (i = 0; i < srv->nlisteners; i++) {
		struct listener		*l = &srv->listeners[i];
		struct listen_conf	*lc = &srv->conf->listeners[i];
		struct sockaddr_storage	 ss;
		int			 sslen = sizeof(ss);
		char			 addr[HOST_MAX + 16];

		l->srv = srv;
		l->lc = lc;
		snprintf(addr, sizeof(addr), strchr(lc->bind_host, ':') ?
		    "[%s]:%u" : "%s:%u", lc->bind_host, lc->bind_port);
		if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
		    &sslen) == -1) {
			log_err("listener=%s bind %s: bad address", lc->name,
			    addr);
			return -1;
		}
		l->evl = evconnlistener_new_bind(srv->base, listener_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC, 128, (struct sockaddr *)&ss, sslen);
		if (l->evl == NULL) {
			log_err("listener=%s bind %s: %s", lc->name, addr,
			    strerror(errno));
			return -1;
		}
		evconnlistener_set_error_cb(l->evl, listener_error);
		l->retry = evtimer_new(srv->base, listener_resume, l);
		if (lc->mode == MODE_TUNNEL)
			log_info("listening listener=%s mode=tunnel bind=%s "
			    "connect=%s:%u", lc->name, addr, lc->connect_host,
			    lc->connect_port);
		else
			log_info("listening listener=%s mode=%s bind=%s",
			    lc->name, listen_mode_name(lc->mode), addr);
	}
	return 0;
}

static int
dns_open(struct server *srv)
{
	srv->dns = evdns_base_new(srv->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (srv->dns == NULL) {
		log_err("cannot start the DNS resolver");
		return -1;
	}
	if (srv->conf->hosts_file != NULL &&
	    evdns_base_load_hosts(srv->dns, srv->conf->hosts_file) != 0) {
		log_err("[upstream] hosts_file %s: cannot load",
		    srv->conf->hosts_file);
		return -1;
	}
	return 0;
}

static void
apply_log_level(const struct conf *c)
{
	enum log_level	 lvl = LOG_INFO;

	if (c->log_level != NULL && !log_parse_level(c->log_level, &lvl))
		log_warn("[shim] log_level %s: unknown, using info",
		    c->log_level);
	log_set_level(lvl);
}

static const struct listen_conf *
find_listener(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			return &c->listeners[i];
	return NULL;
}

/* Move what can change without a rebind from the new configuration into
 * the live listeners (the displaced values are freed with the new conf's
 * array, which the caller swaps out); say what needs a restart. */
static void
reload_listeners(struct conf *live, struct conf *next)
{
	size_t	 i;

	for (i = 0; i < live->nlisteners; i++) {
		struct listen_conf	*l = &live->listeners[i];
		struct listen_conf	*n = (struct listen_conf *)
		    find_listener(next, l->name);
		struct listen_conf	 tmp;

		if (n == NULL) {
			log_warn("reload: [listen:%s] removed; it keeps "
			    "serving until restart", l->name);
			continue;
		}
		if (n->mode != l->mode || n->bind_port != l->bind_port ||
		    strcmp(n->bind_host, l->bind_host) != 0) {
			log_warn("reload: [listen:%s] mode or bind changed; "
			    "that takes a restart (allow, ports and connect "
			    "are not applied either)", l->name);
			continue;
		}
		tmp = *l;
		memcpy(l->connect_host, n->connect_host,
		    sizeof(l->connect_host));
		l->connect_port = n->connect_port;
		l->allow = n->allow;
		l->nallow = n->nallow;
		l->ports = n->ports;
		l->nports = n->nports;
		n->allow = tmp.allow;
		n->ports = tmp.ports;
	}
	for (i = 0; i < next->nlisteners; i++)
		if (find_listener(live, next->listeners[i].name) == NULL)
			log_warn("reload: [listen:%s] added; it starts serving "
			    "after a restart", next->listeners[i].name);
}

static void
server_reload(struct server *srv)
{
	struct conf		*c;
	struct tls_client	*tls;
	char			 err[256];

	log_info("SIGHUP: reloading %s", srv->conf->path);
	if ((c = conf_load(srv->conf->path, stderr)) == NULL) {
		log_err("reload: %s has errors; keeping the running "
		    "configuration", srv->conf->path);
		return;
	}
	if ((tls = tls_client_new(c->ca_file, err, sizeof(err))) == NULL) {
		log_err("reload: %s; keeping the running configuration", err);
		conf_free(c);
		return;
	}
	/* Pins, policies and the trust store change now; so do each
	 * listener's allow, ports and connect. Binds stay (a rebind may need
	 * privileges we no longer have). */
	reload_listeners(srv->conf, c);
	snapshot_unref(srv->snap);
	srv->snap = snapshot_ref(c->snap);
	tls_client_free(srv->tls);
	srv->tls = tls;
	/* The listeners point into the old conf: keep their entries. */
	{
		struct listen_conf *keep = srv->conf->listeners;
		size_t nkeep = srv->conf->nlisteners;

		srv->conf->listeners = c->listeners;
		srv->conf->nlisteners = c->nlisteners;
		c->listeners = keep;
		c->nlisteners = nkeep;
	}
	conf_free(srv->conf);
	srv->conf = c;
	apply_log_level(c);
	if (c->feed.present && c->state_dir != NULL && srv->feed != NULL)
		feed_reload(srv->feed);
	else if (c->feed.present) {
		srv->feed = feed_start(srv);
	} else if (srv->feed != NULL) {
		log_info("reload: [feed] removed; bootstrap pins apply");
		feed_stop(srv->feed);
		srv->feed = NULL;
	}
	log_info("reload: %zu domain rule(s), default_policy %s",
	    c->snap->nrules, policy_name(c->snap->default_policy));
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		server_reload(srv);
		return;
	}
	log_info("%s: stopping (%zu connection(s) open)",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", srv->nconns);
	event_base_loopbreak(srv->base);
}

void
server_conn_add(struct server *srv, struct conn *c)
{
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
}

void
server_conn_del(struct server *srv, struct conn *c)
{
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
}

static void
server_free(struct server *srv)
{
	struct conn	*c;
	size_t		 i;

	report_free(srv->rep);
	feed_stop(srv->feed);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		c->abort(c);
	for (i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].evl != NULL)
			evconnlistener_free(srv->listeners[i].evl);
		if (srv->listeners[i].retry != NULL)
			event_free(srv->listeners[i].retry);
	}
	free(srv->listeners);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->sig_hup)
		event_free(srv->sig_hup);
	if (srv->dns != NULL)
		evdns_base_free(srv->dns, 1);
	tls_client_free(srv->tls);
	tls_ca_free(srv->ca);
	snapshot_unref(srv->snap);
	conf_free(srv->conf);
	if (srv->base != NULL)
		event_base_free(srv->base);
}

int
server_run(struct conf *conf)
{
	struct server	 srv;
	char		 err[256];
	int		 status = 1;

	memset(&srv, 0, sizeof(srv));
	TAILQ_INIT(&srv.conns);
	srv.conf = conf;
	apply_log_level(conf);
	signal(SIGPIPE, SIG_IGN);

	if (tls_init() == -1) {
		log_err("wolfSSL initialisation failed");
		goto out;
	}
	if ((srv.base = event_base_new()) == NULL) {
		log_err("cannot create the event loop");
		goto out;
	}
	if ((srv.tls = tls_client_new(conf->ca_file, err, sizeof(err))) ==
	    NULL) {
		log_err("[upstream] ca_file: %s", err);
		goto out;
	}
	srv.snap = snapshot_ref(conf->snap);
	if (conf->ca_dir != NULL && (srv.ca = tls_ca_load(conf->ca_dir, 256,
	    err, sizeof(err))) == NULL) {
		log_err("interception CA: %s", err);
		goto out;
	}
	if (dns_open(&srv) == -1 || listeners_open(&srv) == -1)
		goto out;
	if (conf->user != NULL && privdrop(conf->user) == -1)
		goto out;
	/* The cached feed is verified and in force before the loop runs,
	 * so no connection is ever served on bootstrap pins by mistake. */
	srv.rep = report_new(&srv);
	srv.feed = feed_start(&srv);

	srv.sig_term = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
	srv.sig_int = evsignal_new(srv.base, SIGINT, on_signal, &srv);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, on_signal, &srv);
	if (srv.sig_term == NULL || srv.sig_int == NULL || srv.sig_hup == NULL ||
	    evsignal_add(srv.sig_term, NULL) == -1 ||
	    evsignal_add(srv.sig_int, NULL) == -1 ||
	    evsignal_add(srv.sig_hup, NULL) == -1) {
		log_err("cannot install signal handlers");
		goto out;
	}
	log_info("pinshim started: %zu listener(s), %zu domain rule(s), "
	    "default_policy %s, ca_file %s", srv.nlisteners,
	    srv.snap->nrules, policy_name(srv.snap->default_policy),
	    conf->ca_file);
	if (event_base_dispatch(srv.base) == -1) {
		log_err("event loop failed");
		goto out;
	}
	log_info("stopped: accepted %llu, passed %llu, refused %llu",
	    srv.accepted, srv.passed, srv.refused);
	status = 0;
out:
	server_free(&srv);
	return status;
}
