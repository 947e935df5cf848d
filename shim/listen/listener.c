/*
 * listener.c - bind (with a backlog that follows net.core.somaxconn),
 * accept, hand each client to its mode's front end (the table in
 * conn/front.c), keep the gate (shim/listen/gate.c) in force: its limits, an
 * accept pause while out of descriptors instead of a spin; and close the
 * listening sockets when the process stops.
 *
 * A listener holds a reference to the configuration its entry is in; a
 * reload points it at the new one's entry of the same name, or, when
 * that needs a rebind, leaves it on the old one, which it keeps alive.
 *
 * Must never: accept on a listener whose configuration is gone, spin on
 * a failing accept, or leave connections waiting in a backlog nobody will
 * accept from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "shim/conn/front.h"
#include "shim/listen/gate.h"
#include "shim/listen/listener.h"
#include "shim/listen/quota.h"
#include "shim/proc/server.h"

#define SOMAXCONN_FILE		"/proc/sys/net/core/somaxconn"
#define BACKLOG_FALLBACK	4096	/* Linux's somaxconn since 5.4 */

static void
listener_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	(void)evl;
	(void)salen;
	l->srv->accepted++;
	l->front->accept(l, fd, sa);
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	l->fd_paused = false;
	gate_apply(l->srv);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void
listener_error(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;
	int		 err = EVUTIL_SOCKET_ERROR();
	struct timeval	 tv = { 1, 0 };

	(void)evl;
	log_err("listener=%s accept: %s%s", l->lc->name, strerror(err),
	    err == EMFILE || err == ENFILE ? " (out of file descriptors: "
	    "pausing accepts for 1s)" : "");
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		l->fd_paused = true;
		gate_apply(l->srv);
		evtimer_add(l->retry, &tv);
	}
}

/* The limits in force (gate_limits), and a word when the INI asks for
 * more than the descriptors allow. */
static void
listener_limits(struct listener *l)
{
	const struct listen_conf	*lc = l->lc;
	unsigned			 cap = l->srv->max_conns;

	if (lc->max_conns > cap)
		log_warn("listener=%s: max_conns %lu is more than "
		    "RLIMIT_NOFILE %lu allows; using %u", lc->name,
		    lc->max_conns, l->srv->nofile, cap);
	gate_limits(lc, cap, &l->max_conns, &l->max_per_client);
}

/* The kernel's cap on a listen() backlog (it clamps larger ones to it
 * silently), read at bind time; BACKLOG_FALLBACK if it cannot be read. */
static unsigned long
listener_somaxconn(void)
{
	unsigned long	 n;
	size_t		 len;
	char		*text = file_read(SOMAXCONN_FILE, 32, &len, NULL);

	if (text != NULL && len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	if (text == NULL || !parse_uint(text, 1, 0x7fffffff, &n))
		n = BACKLOG_FALLBACK;
	free(text);
	return n;
}

/* The backlog to ask for: [listen] backlog, or somaxconn; a configured
 * one over somaxconn is said, as the kernel will not give it. */
static int
listener_backlog(const struct listen_conf *lc)
{
	unsigned long	 max = listener_somaxconn();

	if (lc->backlog == 0)
		return (int)max;
	if (lc->backlog > max)
		log_warn("listener=%s: backlog %lu is more than "
		    "net.core.somaxconn %lu; the kernel uses %lu", lc->name,
		    lc->backlog, max, max);
	return (int)lc->backlog;
}

static int
listener_bind(struct listener *l)
{
	const struct listen_conf	*lc = l->lc;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	int			 backlog = listener_backlog(lc);
	char			 addr[HOST_MAX + 16];
	unsigned		 flags = LEV_OPT_CLOSE_ON_FREE |
				    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	snprintf(addr, sizeof(addr), strchr(lc->bind_host, ':') ?
	    "[%s]:%u" : "%s:%u", lc->bind_host, lc->bind_port);
	if ((l->front = front_for(lc->mode)) == NULL) {
		log_err("listener=%s: mode %s has no front end", lc->name,
		    listen_mode_name(lc->mode));
		return -1;
	}
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		log_err("listener=%s bind %s: bad address", lc->name, addr);
		return -1;
	}
	/* IPv6 only on an IPv6 socket: [::]:P beside 0.0.0.0:P (conf.c
	 * lets both be bound), and never IPv4 by surprise. */
	if (ss.ss_family == AF_INET6)
		flags |= LEV_OPT_BIND_IPV6ONLY;
	l->evl = evconnlistener_new_bind(l->srv->base, listener_accept, l,
	    flags, backlog, (struct sockaddr *)&ss, sslen);
	if (l->evl == NULL) {
		log_err("listener=%s bind %s: %s", lc->name, addr,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l->evl, listener_error);
	l->retry = xptr(evtimer_new(l->srv->base, listener_resume, l));
	l->quota = quota_new();
	l->accepting = true;
	listener_limits(l);
	if (lc->mode == MODE_TUNNEL)
		log_info("listening listener=%s mode=tunnel bind=%s "
		    "connect=%s:%u max_conns=%u per_client=%u idle=%lus "
		    "backlog=%d", lc->name, addr, lc->connect_host,
		    lc->connect_port, l->max_conns, l->max_per_client,
		    lc->idle_timeout, backlog);
	else
		log_info("listening listener=%s mode=%s bind=%s max_conns=%u "
		    "per_client=%u idle=%lus backlog=%d", lc->name,
		    listen_mode_name(lc->mode), addr, l->max_conns,
		    l->max_per_client, lc->idle_timeout, backlog);
	return 0;
}

int
listeners_open(struct server *srv)
{
	size_t	 i;

	srv->nlisteners = srv->conf->nlisteners;
	srv->listeners = xcalloc(srv->nlisteners, sizeof(*srv->listeners));
	for (i = 0; i < srv->nlisteners; i++) {
		srv->listeners[i].srv = srv;
		srv->listeners[i].conf = conf_ref(srv->conf);
		srv->listeners[i].lc = &srv->conf->listeners[i];
		if (listener_bind(&srv->listeners[i]) == -1)
			return -1;
	}
	return 0;
}

void
listeners_stop(struct server *srv)
{
	size_t	 i;

	/* Closed, not paused: what waits in a backlog is refused now, and a
	 * new client is refused at once, instead of waiting for the exit. */
	for (i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i].evl != NULL) {
			evconnlistener_free(srv->listeners[i].evl);
			srv->listeners[i].evl = NULL;
			srv->listeners[i].accepting = false;
		}
}

void
listeners_close(struct server *srv)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].evl != NULL)
			evconnlistener_free(srv->listeners[i].evl);
		if (srv->listeners[i].retry != NULL)
			event_free(srv->listeners[i].retry);
		quota_free(srv->listeners[i].quota);
		conf_free(srv->listeners[i].conf);
	}
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
}

static struct listener *
listener_named(struct server *srv, const char *name)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++)
		if (strcmp(srv->listeners[i].lc->name, name) == 0)
			return &srv->listeners[i];
	return NULL;
}

void
listeners_reload(struct server *srv, struct conf *next)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++) {
		struct listener			*l = &srv->listeners[i];
		const struct listen_conf	*n = conf_listener(next,
						    l->lc->name);

		if (n == NULL) {
			log_warn("reload: [listen:%s] removed; it keeps "
			    "serving until restart", l->lc->name);
			continue;
		}
		if (n->mode != l->lc->mode || n->bind_port !=
		    l->lc->bind_port || strcmp(n->bind_host,
		    l->lc->bind_host) != 0) {
			log_warn("reload: [listen:%s] mode or bind changed; "
			    "that takes a restart (allow, ports, connect and "
			    "limits are not applied either)", l->lc->name);
			continue;
		}
		conf_free(l->conf);
		l->conf = conf_ref(next);
		l->lc = n;
		listener_limits(l);
	}
	gate_apply(srv);
	for (i = 0; i < next->nlisteners; i++)
		if (listener_named(srv, next->listeners[i].name) == NULL)
			log_warn("reload: [listen:%s] added; it starts serving "
			    "after a restart", next->listeners[i].name);
}
