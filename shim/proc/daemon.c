/*
 * daemon.c - the pinshim process: build everything from a valid
 * configuration, bind, drop privileges, run the loop, stop cleanly.
 *
 * Order matters: the keeper (shim/keeper/), when one is needed, is forked
 * first, so the CA key is never read into this process; the pin snapshot
 * and the TLS context exist before any listener accepts, so no connection
 * ever runs without pins. Privileged work (bind, the trust store) happens
 * before the privilege drop and the sandbox; a failed drop is fatal, and
 * so is the keeper's death. A stop (SIGTERM, SIGINT, the keeper's death)
 * closes the listeners, resets connections that have not started to relay,
 * and lets relays finish for up to shutdown_timeout before the rest are
 * reset; a second signal resets them at once. SIGHUP builds a whole new
 * configuration and, only if it is valid, swaps it in with the pins and
 * trust store through inforce_apply(), the one step that changes what is
 * in force; running connections keep what they started with. `run -t`
 * runs daemon_prepare(), the very
 * checks `run` makes before binding, so what the check accepts starts.
 *
 * Must never: accept before the cached feed is in force, keep running as
 * root when [shim] user is set and the drop failed, load the CA key under
 * `run`, or end an unfinished relay with an orderly close.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "pins/tofu.h"
#include "shim/proc/daemon.h"
#include "shim/proc/inforce.h"
#include "shim/keeper/keeper.h"
#include "shim/listen/listener.h"
#include "shim/proc/notify.h"
#include "shim/proc/privdrop.h"
#include "shim/remote/feedsync.h"
#include "shim/remote/report.h"
#include "shim/proc/sandbox.h"
#include "shim/proc/server.h"
#include "shim/status/status.h"
#include "shim/proc/tofusync.h"

#define MINTED_CACHE	256	/* leaves the interception CA keeps */

/* Whether uid:gid may create files in a directory with st's owner and
 * mode without CAP_DAC_OVERRIDE, root included (privdrop leaves exactly
 * one group: the user's own). */
static bool
writable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return (st->st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR);
	if (st->st_gid == gid)
		return (st->st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
	return (st->st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}

/* Whether uid:gid may list and read a directory with st's owner and
 * mode. */
static bool
readable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	mode_t	 rx = st->st_uid == uid ? S_IRUSR | S_IXUSR :
		    st->st_gid == gid ? S_IRGRP | S_IXGRP : S_IROTH | S_IXOTH;

	return uid == 0 || (st->st_mode & rx) == rx;
}

/* Whether state_dir gets written: a feed to cache, or TOFU pins to
 * keep. */
static bool
state_written(const struct conf *c)
{
	size_t	 i;

	for (i = 0; i < c->snap->nrules; i++)
		if (c->snap->rules[i].policy == POLICY_TOFU)
			return c->state_dir != NULL;
	return c->feed.present && c->state_dir != NULL;
}

/* A keeper runs when there is a CA key to hold or a state_dir (a reload
 * may add the [feed] that writes it): the worker only reads state_dir. */
static bool
keeper_needed(const struct conf *c)
{
	return c->ca_dir != NULL || c->state_dir != NULL || c->nidents > 0;
}

/* Free a NULL-terminated table of identities. */
static void
idents_free(struct tls_ident **ids)
{
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++)
		tls_ident_free(ids[i]);
	free(ids);
}

/* The device identities' certificate chains, as the worker presents them
 * (the keys are the keeper's; run -t loads those here to check them,
 * with the keeper's code). With was (a reload), each key must be the one
 * the keeper holds. NULL with err, naming the INI line. */
static struct tls_ident **
idents_load(const struct conf *c, bool check, struct tls_ident **was,
    char *err, size_t errsz)
{
	struct tls_ident	**ids = xcalloc(c->nidents + 1, sizeof(*ids));
	struct tls_ident_key	*key;
	char			 why[400];
	size_t			 i;

	for (i = 0; i < c->nidents; i++) {
		const struct ident_conf	*id = &c->idents[i];
		const char		*name = id->pattern != NULL ?
					    id->pattern : id->listener;
		const char		*sect = id->pattern != NULL ? "domain" :
					    "listen";

		if ((ids[i] = tls_ident_load(id->cert.path, why,
		    sizeof(why))) == NULL) {
			snprintf(err, errsz, "%s:%d: [%s:%s] client_cert: %s",
			    id->path, id->cert.line, sect, name, why);
			goto bad;
		}
		if (was != NULL && !tls_ident_same_key(ids[i], was[i])) {
			snprintf(err, errsz, "%s:%d: [%s:%s] client_cert: "
			    "another key than the one the keeper holds (a "
			    "new key needs a restart)", id->path,
			    id->cert.line, sect, name);
			goto bad;
		}
		if (!check)
			continue;
		if ((key = tls_ident_key_load(id->cert.path, id->key.path,
		    why, sizeof(why))) == NULL) {
			snprintf(err, errsz, "%s:%d: [%s:%s] client_key: %s",
			    id->path, id->key.line, sect, name, why);
			goto bad;
		}
		tls_ident_key_free(key);
	}
	return ids;
bad:
	idents_free(ids);
	return NULL;
}

/* The feed cache and the TOFU pins live in state_dir: the keeper (this
 * process's user) writes it, the worker (the user after the drop) reads
 * it. A state_dir the worker could write is allowed but said: a worker
 * taken over could then rewrite it. */
static int
state_dir_usable(const struct conf *c, const struct runas *who, char *err,
    size_t errsz)
{
	struct stat	 st;

	if (!state_written(c))
		return 0;
	errno = 0;
	if (stat(c->state_dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "[shim] state_dir %s: %s (it must exist "
		    "and be writable: the feed cache is kept there)",
		    c->state_dir, errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (access(c->state_dir, W_OK | X_OK) == -1) {
		snprintf(err, errsz, "[shim] state_dir %s: %s (it must be "
		    "writable: the feed cache is kept there)", c->state_dir,
		    strerror(errno));
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	/* the keeper writes it as root with no capability left */
	if (!writable_by(&st, 0, getegid())) {
		snprintf(err, errsz, "[shim] state_dir %s: not writable by its "
		    "mode for root (owner uid %ld, mode %03o), and the keeper "
		    "gives up CAP_DAC_OVERRIDE; chown it to root",
		    c->state_dir, (long)st.st_uid,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (who->name == NULL)
		return 0;
	if (!readable_by(&st, who->uid, who->gid)) {
		snprintf(err, errsz, "[shim] state_dir %s: not readable by "
		    "user %s (owner uid %ld, mode %03o): the worker reads the "
		    "cached feed and TOFU pins there; chmod 755 it",
		    c->state_dir, c->user, (long)st.st_uid,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (writable_by(&st, who->uid, who->gid))
		log_warn("[shim] state_dir %s: writable by user %s: the keeper "
		    "writes it, so a worker taken over need not; chown it "
		    "to root", c->state_dir, c->user);
	return 0;
}

static int
dns_open(struct server *srv, int flags, char *err, size_t errsz)
{
	const char	*ns = srv->conf->nameservers;
	char		 item[80];
	enum list_item	 r;

	/* [upstream] nameservers replace /etc/resolv.conf (Android and some
	 * gateways have none: evdns would ask 127.0.0.1) */
	if (ns != NULL)
		flags &= ~EVDNS_BASE_INITIALIZE_NAMESERVERS;
	srv->dns = evdns_base_new(srv->base, flags);
	if (srv->dns == NULL) {
		snprintf(err, errsz, "cannot start the DNS resolver");
		return -1;
	}
	while (ns != NULL && (r = list_next(&ns, item, sizeof(item))) !=
	    LIST_END)
		if (evdns_base_nameserver_ip_add(srv->dns, item) != 0) {
			snprintf(err, errsz, "[upstream] nameservers: %s: "
			    "cannot use it", item);
			return -1;
		}
	if (srv->conf->hosts_file != NULL &&
	    evdns_base_load_hosts(srv->dns, srv->conf->hosts_file) != 0) {
		snprintf(err, errsz, "[upstream] hosts_file %s: cannot load",
		    srv->conf->hosts_file);
		return -1;
	}
	return 0;
}

/* SIGHUP: the new hosts_file's entries replace the old ones (evdns only
 * appends). conf_load has refused a hosts_file it cannot read, so this
 * fails only if the file went away in between: then say so. */
static void
dns_hosts_reload(struct server *srv, const struct conf *c)
{
	evdns_base_clear_host_addresses(srv->dns);
	if (c->nameservers == NULL)	/* what resolv.conf parsing added */
		(void)evdns_base_load_hosts(srv->dns, NULL);
	if (c->hosts_file != NULL &&
	    evdns_base_load_hosts(srv->dns, c->hosts_file) != 0)
		log_err("reload: [upstream] hosts_file %s: cannot load; its "
		    "names now go to DNS", c->hosts_file);
}

#define FD_RESERVE	32	/* listeners, resolver, feed, log, CA files */

/* Raise the descriptor limit to its hard maximum, and size the
 * connection budget from it: each client connection holds two (its own
 * and the upstream's). */
static void
fd_budget(struct server *srv)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1024;
	srv->nofile = (unsigned long)rl.rlim_cur;
	srv->max_conns = srv->nofile > FD_RESERVE + 2 ?
	    (unsigned)((srv->nofile - FD_RESERVE) / 2) : 1;
}

/* libevent makes a small record the first time each descriptor number is
 * watched, and keeps it. Made during a burst, those records land between
 * the connections' buffers and afterwards pin the heap's pages (9,000
 * connections closed: 45 MB resident, 1 MB in use). Made now, for every
 * descriptor the listeners' limits can reach, they sit together at the
 * bottom of the heap (~40 bytes each). A pipe's end lends each number a
 * descriptor epoll accepts. */
static void
fd_slots_reserve(struct server *srv)
{
	unsigned long	 upto = FD_RESERVE;
	struct event	*ev;
	size_t		 i;
	int		 p[2], fd;

	for (i = 0; i < srv->nlisteners; i++)
		upto += 2 * (unsigned long)srv->listeners[i].max_conns;
	if (upto > srv->nofile)
		upto = srv->nofile;
	if (pipe2(p, O_CLOEXEC) == -1)
		return;		/* only the heap's shape is at stake */
	ev = xptr(event_new(srv->base, -1, 0, NULL, NULL));
	for (fd = 0; (unsigned long)fd < upto; fd++) {
		if (fcntl(fd, F_GETFD) != -1)
			continue;	/* in use: already has its record */
		if (dup3(p[0], fd, O_CLOEXEC) == -1)
			break;
		event_assign(ev, srv->base, fd, EV_READ, NULL, NULL);
		if (event_add(ev, NULL) == 0)
			event_del(ev);
		close(fd);
	}
	event_free(ev);
	close(p[0]);
	close(p[1]);
}

/* The RSA leaf key, made when a client_tls = compatible listener may need
 * it and not before: RSA-2048 key generation blocks the loop for tens of
 * milliseconds (logged), once per process. */
static int
ca_rsa(struct server *srv, const struct conf *c)
{
	struct timespec	 t0, t1;
	size_t		 i;

	if (srv->ca == NULL || tls_ca_has_rsa(srv->ca))
		return 0;
	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].mode != MODE_TUNNEL &&
		    c->listeners[i].client_tls == CLIENT_TLS_COMPATIBLE)
			break;
	if (i == c->nlisteners)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (tls_ca_rsa_init(srv->ca) == -1)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("interception CA: RSA-%d leaf key for client_tls = "
	    "compatible made in %ld ms", TLS_CA_RSA_BITS,
	    (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return 0;
}

/* Everything up to binding: the same for run and run -t. With an
 * interception CA or a state_dir, run forks the keeper first, before
 * anything else is loaded, and only the keeper reads the CA key; run -t
 * loads it here to check it, with the same code. */
static int
daemon_prepare(struct server *srv, struct conf *conf, bool check,
    int dns_flags, struct runas *who, char *err, size_t errsz)
{
	struct tls_ca_key	*key;
	char			 why[400];

	memset(srv, 0, sizeof(*srv));
	srv->started = time(NULL);
	TAILQ_INIT(&srv->live);
	srv->conf = conf;
	log_set_level(conf->log_level);
	log_set_format(conf->log_format);
	log_set_syslog_format(conf->syslog_format);
	if (conf->log_syslog != NULL && log_to_syslog(conf->log_syslog) ==
	    -1) {
		snprintf(err, errsz, "[shim] log: syslog socket %s: %s",
		    conf->log_syslog, strerror(errno));
		return -1;
	}
	if (!check && keeper_needed(conf) &&
	    (srv->keeper = keeper_start(conf, err, errsz)) == NULL)
		return -1;
	/* Before anything checks a date (the trust store's, at load). */
	clock_load(conf->state_dir);
	if (tls_init() == -1) {
		snprintf(err, errsz, "wolfSSL initialisation failed");
		return -1;
	}
	if ((srv->base = event_base_new()) == NULL) {
		snprintf(err, errsz, "cannot create the event loop");
		return -1;
	}
	if ((srv->tls = tls_client_new(conf->ca_file, why, sizeof(why))) ==
	    NULL) {
		snprintf(err, errsz, "[upstream] ca_file: %s", why);
		return -1;
	}
	srv->snap = snapshot_ref(conf->snap);
	if ((srv->idents = idents_load(conf, check, NULL, err, errsz)) ==
	    NULL)
		return -1;
	if (check && conf->ca_dir != NULL) {
		if ((key = tls_ca_key_load(conf->ca_dir, why, sizeof(why))) ==
		    NULL) {
			snprintf(err, errsz, "interception CA: %s", why);
			return -1;
		}
		tls_ca_key_free(key);
	}
	if (conf->ca_dir != NULL && (srv->ca = tls_ca_new(MINTED_CACHE, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errsz, "interception CA: %s", why);
		return -1;
	}
	if (!check && ca_rsa(srv, conf) == -1) {
		snprintf(err, errsz, "interception CA: cannot make the RSA "
		    "leaf key for client_tls = compatible");
		return -1;
	}
	/* privdrop() happens after binding; whether it can is known now. */
	if (privdrop_check(conf->user, who, err, errsz) == -1 ||
	    state_dir_usable(conf, who, err, errsz) == -1 ||
	    status_check(conf, err, errsz) == -1)
		return -1;
	if (conf->state_dir != NULL && (srv->tofu = tofu_open(conf->state_dir,
	    conf->tofu_max, NULL)) == NULL) {
		snprintf(err, errsz, "%s/%s: unreadable or damaged (pinshim tofu "
		    "list says where)", conf->state_dir, TOFU_FILE);
		return -1;
	}
	if (srv->tofu != NULL && srv->keeper != NULL)
		tofu_set_writer(srv->tofu, state_tofu, srv);
	if (srv->tofu != NULL && !check)
		srv->tofusync = tofusync_new(srv->base, srv->tofu);
	return dns_open(srv, dns_flags, err, errsz);
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
daemon_reload(struct server *srv)
{
	struct conf		*c;
	struct tls_client	*tls;
	struct tls_ident	**ids;
	struct inforce_next	 next;
	char			 err[256];

	log_info("SIGHUP: reloading %s", srv->conf->path);
	if ((c = conf_load(srv->conf->path, stderr)) == NULL) {
		log_err("reload: %s has errors; keeping the running "
		    "configuration", srv->conf->path);
		return;
	}
	/* The keeper holds the CA and writes the state_dir it started with,
	 * takes feeds up to the max_size it started with, and only those
	 * the [feed] key set it started with leads to. */
	if (keeper_needed(c) != (srv->keeper != NULL) ||
	    (srv->keeper != NULL && (!same_str(c->ca_dir, srv->conf->ca_dir) ||
	    !same_str(c->state_dir, srv->conf->state_dir) ||
	    c->tofu_max != srv->conf->tofu_max ||
	    c->feed.max_size > keeper_feed_max(srv->keeper) ||
	    c->feed.present != srv->conf->feed.present ||
	    !feed_keyset_same(&c->feed.keys, &srv->conf->feed.keys)))) {
		log_err("reload: [shim] state_dir, ca_dir, tofu_max, a larger "
		    "[feed] max_size, or another [feed] or key set need a "
		    "restart (the keeper holds what it started with); keeping "
		    "the running configuration");
		conf_free(c);
		return;
	}
	/* The keeper signs at the rate it started with: a worker cannot
	 * raise it, a reload neither. */
	if (srv->keeper != NULL && c->mint_rate != srv->conf->mint_rate) {
		log_err("reload: [shim] mint_rate: the keeper signs at the rate "
		    "it started with; restart to change it; keeping the "
		    "running configuration");
		conf_free(c);
		return;
	}
	/* The keeper holds the device identities' keys it started with: the
	 * same table, or a restart. Their certificates are read again (a
	 * renewal over the same key applies now). */
	if (!conf_idents_same(c, srv->conf)) {
		log_err("reload: client_cert / client_key added, removed or "
		    "moved: the keeper holds the keys it started with; restart "
		    "to change them; keeping the running configuration");
		conf_free(c);
		return;
	}
	if ((ids = idents_load(c, false, srv->idents, err, sizeof(err))) ==
	    NULL) {
		log_err("reload: %s; keeping the running configuration", err);
		conf_free(c);
		return;
	}
	if (ca_rsa(srv, c) == -1) {
		log_err("reload: cannot make the RSA leaf key for client_tls "
		    "= compatible; keeping the running configuration");
		idents_free(ids);
		conf_free(c);
		return;
	}
	idents_free(srv->idents);
	srv->idents = ids;
	/* An unchanged trust store is not parsed again (144 certificates
	 * cost ~20 ms of loop time). */
	if (strcmp(c->ca_file, srv->conf->ca_file) == 0 &&
	    tls_client_same_file(srv->tls, c->ca_file))
		tls = tls_client_ref(srv->tls);
	else if ((tls = tls_client_new(c->ca_file, err, sizeof(err))) ==
	    NULL) {
		log_err("reload: %s; keeping the running configuration", err);
		conf_free(c);
		return;
	}
	/* status_allow applies now; the address needs a restart (a rebind,
	 * as for listeners). */
	if (c->status.present != srv->conf->status.present ||
	    strcmp(c->status.host, srv->conf->status.host) != 0 ||
	    c->status.port != srv->conf->status.port ||
	    (c->status.unix_path == NULL) !=
	    (srv->conf->status.unix_path == NULL) ||
	    (c->status.unix_path != NULL && strcmp(c->status.unix_path,
	    srv->conf->status.unix_path) != 0))
		log_warn("reload: [shim] status changed: takes effect at the "
		    "next start");
	/* The configuration and the trust store change now, and so do each
	 * listener's allow, ports and connect; binds stay (a rebind may need
	 * privileges we no longer have). The pins follow: the INI's, or
	 * the feed's over them once feedsync has re-checked it. */
	memset(&next, 0, sizeof(next));
	next.conf = c;
	next.tls = tls;
	dns_hosts_reload(srv, c);
	inforce_apply(srv, &next);
	log_set_level(c->log_level);
	log_set_format(c->log_format);
	log_set_syslog_format(c->syslog_format);
	if (c->log_syslog == NULL)
		log_to_stderr();
	else if (log_to_syslog(c->log_syslog) == -1)
		log_err("reload: [shim] log: syslog socket %s: %s; logging to "
		    "stderr", c->log_syslog, strerror(errno));
	if (c->feed.present && srv->feed != NULL)
		feedsync_reload(srv->feed);
	else if (c->feed.present)
		srv->feed = feedsync_start(srv);
	else if (srv->feed != NULL) {
		log_info("reload: [feed] removed; bootstrap pins apply");
		feedsync_stop(srv->feed);
		srv->feed = NULL;
		report_set_feed(srv->rep, NULL);
	}
	if (srv->feed == NULL) {
		next.snap = snapshot_ref(c->snap);
		inforce_apply(srv, &next);
	}
	log_info("reload: %zu domain rule(s), default_policy %s",
	    c->snap->nrules, policy_name(c->snap->default_policy));
}

static void
on_reload(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	notify_reloading();
	daemon_reload(srv);
	notify_send("READY=1");
}

/* The service manager's watchdog: a ping from the loop itself, so a loop
 * that stalls is restarted. */
static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

static void
watchdog_start(struct server *srv)
{
	unsigned long long	 usec = notify_watchdog_usec() / 2;
	struct timeval		 tv;

	if (usec == 0)
		return;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	srv->watchdog = xptr(event_new(srv->base, -1, EV_PERSIST, on_watchdog,
	    srv));
	event_add(srv->watchdog, &tv);
	log_info("watchdog: pinging the service manager every %llu ms",
	    usec / 1000);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* libevent runs this once per SIGHUP that arrived; activating
		 * one event coalesces a burst into a single reload. */
		event_active(srv->reload, 0, 0);
		return;
	}
	log_info("%s: stopping (%zu connection(s) open)",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", srv->nlive);
	if (srv->drain == NULL) {
		event_active(srv->stop, 0, 0);
		return;
	}
	/* a second signal: the operator will not wait for the drain */
	log_warn("shutdown: stopping again: resetting %zu connection(s) now",
	    srv->nconns);
	event_base_loopbreak(srv->base);
}

/* The drain is over: every connection ended, or shutdown_timeout came
 * (daemon_free then resets what is left). */
static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	if (srv->nconns > 0)
		log_warn("shutdown: %zu connection(s) still relaying after "
		    "%lus (shutdown_timeout): resetting them", srv->nconns,
		    srv->conf->shutdown_timeout);
	else
		log_info("shutdown: every connection finished");
	event_base_loopbreak(srv->base);
}

/* Stop: accept nothing more, reset what has not started relaying (the
 * keeper's work among it), let relays finish within shutdown_timeout.
 * Never a FIN on an unfinished stream: what is left is reset. Once only:
 * the keeper's death during a drain does not cut it short. */
static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv = { (time_t)srv->conf->shutdown_timeout, 0 };
	struct live	*lv, *next;

	(void)fd;
	(void)what;
	if (srv->drain != NULL)
		return;
	notify_send("STOPPING=1");
	listeners_stop(srv);
	srv->drain = xptr(evtimer_new(srv->base, on_drain, srv));
	for (lv = TAILQ_FIRST(&srv->live); lv != NULL; lv = next) {
		next = TAILQ_NEXT(lv, entry);
		if (lv->stop != NULL)
			lv->stop(lv);	/* may free lv, never another */
	}
	if (srv->nconns == 0) {
		event_active(srv->drain, EV_TIMEOUT, 0);
		return;
	}
	log_info("shutdown: listeners closed; %zu relayed connection(s) may "
	    "finish within %lus (shutdown_timeout)", srv->nconns,
	    srv->conf->shutdown_timeout);
	evtimer_add(srv->drain, &tv);
}

/* After a burst: glibc keeps a heap that many connections fragmented
 * (10,000 closed: 1 GB resident, 13 MB in use); give it back. Armed by
 * conn_free on the next turn of the loop once the count has halved and
 * at least 64 connections have gone since the last trim. */
static void
on_trim(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
#ifdef __GLIBC__
	malloc_trim(0);		/* musl returns memory on its own */
#endif
	srv->nconns_peak = srv->nconns;
	/* mid-burst: once more when its last connection goes */
	srv->trim_tail = srv->nconns > 0;
}

static int
signals_open(struct server *srv)
{
	srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, on_signal, srv);
	srv->reload = xptr(event_new(srv->base, -1, 0, on_reload, srv));
	srv->trim = xptr(evtimer_new(srv->base, on_trim, srv));
	if (srv->sig_term == NULL || srv->sig_int == NULL ||
	    srv->sig_hup == NULL || evsignal_add(srv->sig_term, NULL) == -1 ||
	    evsignal_add(srv->sig_int, NULL) == -1 ||
	    evsignal_add(srv->sig_hup, NULL) == -1) {
		log_err("cannot install signal handlers");
		return -1;
	}
	return 0;
}

static void
daemon_free(struct server *srv)
{
	struct live	*lv;

	status_free(srv->status);
	tofusync_free(srv->tofusync);
	tofu_free(srv->tofu);
	report_free(srv->rep);
	feedsync_stop(srv->feed);
	while ((lv = TAILQ_FIRST(&srv->live)) != NULL)
		lv->abort(lv);
	listeners_close(srv);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->sig_hup)
		event_free(srv->sig_hup);
	if (srv->reload)
		event_free(srv->reload);
	if (srv->trim)
		event_free(srv->trim);
	if (srv->stop)
		event_free(srv->stop);
	if (srv->drain)
		event_free(srv->drain);
	if (srv->watchdog)
		event_free(srv->watchdog);
	if (srv->dns != NULL)
		evdns_base_free(srv->dns, 1);
	tls_client_free(srv->tls);
	idents_free(srv->idents);
	tls_ca_free(srv->ca);
	keeper_stop(srv->keeper);
	snapshot_unref(srv->snap);
	conf_free(srv->conf);
	if (srv->base != NULL)
		event_base_free(srv->base);
}

int
daemon_check(struct conf *conf)
{
	struct server	 srv;
	struct runas	 who;
	char		 err[512];
	int		 status = 0;

	if (daemon_prepare(&srv, conf, true, 0, &who, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "%s: %s\n", conf->path, err);
		status = 2;
	} else
		printf("%s: configuration OK (%zu listener(s), %zu domain "
		    "rule(s))\n", conf->path, conf->nlisteners,
		    conf->snap->nrules);
	daemon_free(&srv);
	log_to_stderr();	/* the check only proved syslog reachable */
	return status;
}

int
daemon_run(struct conf *conf)
{
	struct server	 srv;
	struct runas	 who;
	char		 err[512];
	int		 status = 1;
	sigset_t	 late;

	signal(SIGPIPE, SIG_IGN);
	if (daemon_prepare(&srv, conf, false,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE, &who, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	fd_budget(&srv);
	notify_open();		/* the manager's socket, before the drop */
	if (listeners_open(&srv) == -1)
		goto out;
	/* the unix socket (0660) belongs to the user pinshim becomes, so
	 * that user's group reads it */
	if (conf->status.present && (srv.status = status_open(&srv,
	    who.name != NULL ? who.uid : (uid_t)-1,
	    who.name != NULL ? who.gid : (gid_t)-1, err, sizeof(err))) ==
	    NULL) {
		log_err("%s", err);
		goto out;
	}
	fd_slots_reserve(&srv);
	if (privdrop(&who) == -1)
		goto out;
	if (sandbox_apply(err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	/* before the keeper is watched: its death stops through it */
	srv.stop = xptr(event_new(srv.base, -1, 0, on_stop, &srv));
	if (srv.keeper != NULL) {
		keeper_watch(srv.keeper, &srv);
		if (geteuid() == keeper_uid(srv.keeper))
			log_warn("keeper: the worker runs as the keeper's user "
			    "(set [shim] user and start as root to separate "
			    "them): the %s out of its memory, not out of its "
			    "reach", srv.conf->nidents == 0 ? "CA key is" :
			    srv.conf->ca_dir != NULL ? "device keys and the CA "
			    "key are" : "device keys are");
	}
	/* The cached feed is verified and in force before the loop runs,
	 * so no connection is ever served on bootstrap pins by mistake. */
	srv.rep = report_new(&srv);
	srv.feed = feedsync_start(&srv);
	if (srv.feed == NULL) {
		struct inforce_next	 next = { .snap = snapshot_ref(conf->snap) };

		inforce_apply(&srv, &next);
	}
	/* the keeper lost before the loop ran (a save from the cache) */
	if (srv.failed || signals_open(&srv) == -1)
		goto out;
	log_info("pinshim started: %zu listener(s), %zu domain rule(s), "
	    "default_policy %s, ca_file %s, %lu file descriptors (%u "
	    "connections)", srv.nlisteners, srv.snap->nrules,
	    policy_name(srv.snap->default_policy), conf->ca_file, srv.nofile,
	    srv.max_conns);
	watchdog_start(&srv);
	if (srv.feed == NULL)
		notify_send("READY=1\nSTATUS=%zu listener(s), bootstrap pins "
		    "(no [feed])", srv.nlisteners);
	else
		notify_send("READY=1");	/* feedsync said which feed */
	if (event_base_dispatch(srv.base) == -1) {
		log_err("event loop failed");
		goto out;
	}
	log_info("stopped: accepted %llu, passed %llu, refused %llu",
	    srv.accepted, srv.passed, srv.refused);
	status = srv.failed ? 1 : 0;
	/* stopped: a late SIGTERM (a service manager's, an impatient
	 * operator's third) must not turn the teardown's exit status into
	 * death by a signal once libevent's handlers are gone (freeing them
	 * restores the default action): blocked, it stays pending and dies
	 * with the process */
	sigemptyset(&late);
	sigaddset(&late, SIGTERM);
	sigaddset(&late, SIGINT);
	sigaddset(&late, SIGHUP);
	sigprocmask(SIG_BLOCK, &late, NULL);
out:
	daemon_free(&srv);
	return status;
}
