/*
 * cmd_monitor.c - `pinshim monitor FEED`: the publisher's vantage point.
 * Every host the (verified) feed pins is probed at every address it
 * resolves to, and judged exactly as a device would judge it: a mismatch
 * is found here before it bricks a fleet. Also: pins expiring within 30
 * days, pin sets with no backup pin, and, for tofu hosts, the leaf keys
 * seen, which --write-observed puts in a body as observed = for the
 * devices' attested first contact.
 *
 * One round by default (exit 1 on any mismatch); --every SECONDS loops,
 * running --alert CMD once per change of an endpoint's state.
 *
 * Must never: probe a feed whose signatures it has not verified, or call
 * a host matching that a device would refuse.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/util.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "base/addr.h"
#include "base/file.h"
#include "base/json.h"
#include "base/list.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/feed_keys.h"
#include "shim/cmd/cmd.h"
#include "shim/cmd/cmd_body.h"
#include "tls/tls.h"

#define SOON_DAYS	30
#define PROBE_TIMEOUT	10	/* seconds per connect and per handshake */
#define MAX_ADDRS	16
#define MAX_OVERRIDES	32
#define MAX_SEEN	4096	/* endpoint states remembered for --alert */
#define ALERT_WAIT	30	/* seconds an alert command may run */

struct override {
	char		 host[HOST_MAX + 1];
	char		 addr[80];	/* ADDR:PORT, for evutil */
};

struct args {
	const char	*feed, *ini, *ca_file, *alert, *write_observed;
	struct feed_keyset keys;
	unsigned long	 every, rounds, port;
	bool		 json;
	struct override	 ov[MAX_OVERRIDES];
	size_t		 nov;
};

/* One finding's state, remembered between rounds for --alert. */
struct seen {
	char		*key;		/* "host addr kind" */
	char		*state;
};

static struct seen	*seen;
static size_t		 nseen;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
run_alert(const struct args *a, const char *state, const char *host,
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
		execl("/bin/sh", "sh", "-c", a->alert, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (pid > 0) {
		(void)!write(p[1], line, strlen(line));
		(void)!write(p[1], "\n", 1);
	}
	close(p[1]);
	/* a hung alert (a webhook without a timeout) must not stop the
	 * monitoring: it gets ALERT_WAIT seconds */
	for (int i = 0; pid > 0 && i < ALERT_WAIT * 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(100000);
	}
	if (pid > 0) {
		fprintf(stderr, "pinshim monitor: --alert still running after "
		    "%d s: killed\n", ALERT_WAIT);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Print a finding; alert when its state changed since the last round
 * (a first round's "match" is no change). */
static void
finding(const struct args *a, const char *state, const char *host,
    const char *addr, const char *kind, const char *detail,
    const char *presented)
{
	char		 key[HOST_MAX + 200], line[2048];
	struct evbuffer	*b;
	size_t		 i;
	bool		 quiet;

	snprintf(line, sizeof(line), "%s %s %s %s", state, host, addr, detail);
	/* one line per endpoint; the date and backup checks speak up only
	 * when they found something (their return to fine still alerts) */
	quiet = strcmp(kind, "probe") != 0 && strcmp(state, "match") == 0;
	if (!quiet && a->json) {
		char		 one[PIN_TEXT_LEN + 1];
		const char	*p = presented ? presented : "", *sep = "";

		b = xptr(evbuffer_new());
		evbuffer_add_printf(b, "{\"state\":");
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
	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].key, key) == 0)
			break;
	if (i == nseen && nseen == MAX_SEEN)
		return;			/* printed; not remembered */
	if (i == nseen) {
		seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
		seen[nseen].key = xstrdup(key);
		seen[nseen].state = xstrdup("match");
		nseen++;
	}
	if (strcmp(state, "skip") != 0 && strcmp(seen[i].state, state) != 0) {
		free(seen[i].state);
		seen[i].state = xstrdup(state);
		if (a->alert != NULL)
			run_alert(a, state, host, addr, line);
	}
}

/* The addresses to probe host at: --connect-to, or every one it
 * resolves to. */
static size_t
addresses(const struct args *a, const char *host,
    struct sockaddr_storage *ss, int *lens, char (*names)[64],
    char *err, size_t errsz)
{
	struct addrinfo	 hints, *res, *ai;
	char		 port[8];
	size_t		 i, n = 0;
	int		 rc;

	for (i = 0; i < a->nov; i++)
		if (strcmp(a->ov[i].host, host) == 0) {
			lens[0] = sizeof(ss[0]);
			if (evutil_parse_sockaddr_port(a->ov[i].addr,
			    (struct sockaddr *)&ss[0], &lens[0]) != 0)
				return 0;
			sockaddr_format((struct sockaddr *)&ss[0], names[0], 64);
			return 1;
		}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%lu", a->port);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errsz, "%s", gai_strerror(rc));
		return 0;
	}
	for (ai = res; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next) {
		memcpy(&ss[n], ai->ai_addr, ai->ai_addrlen);
		lens[n] = (int)ai->ai_addrlen;
		sockaddr_format(ai->ai_addr, names[n], 64);
		for (i = 0; i < n && strcmp(names[i], names[n]) != 0; i++)
			;
		if (i == n)
			n++;
	}
	freeaddrinfo(res);
	return n;
}

static int
connect_to(const struct sockaddr_storage *ss, int len, char *err,
    size_t errsz)
{
	struct timeval	 tv = { PROBE_TIMEOUT, 0 };
	int		 fd;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (const struct sockaddr *)ss, (socklen_t)len) == -1) {
		/* SO_SNDTIMEO ends a connect with EINPROGRESS */
		snprintf(err, errsz, "connect: %s", errno == EINPROGRESS ?
		    "timed out" : strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Dates: the leaf, and any pinned certificate, expiring soon. */
static void
check_dates(const struct args *a, const struct rule *r, const char *host,
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
	finding(a, soon ? "expires-soon" : "match", host, addr, "dates",
	    soon ? detail : "dates ok", NULL);
}

/* A pin set whose every pin is on the chain served now has no backup:
 * the day that key is replaced, every device refuses the server until a
 * feed reaches it. */
static void
check_backup(const struct args *a, const struct rule *r, const char *host,
    const struct tls_verdict *v)
{
	size_t	 k;
	bool	 backup = false;

	for (k = 0; k < r->pins.n && !backup; k++)
		backup = !cmd_pin_in_use(v, &r->pins.pins[k]);
	finding(a, backup ? "match" : "no-backup", host, "-", "backup",
	    backup ? "a backup pin is published" : "every pin is on the "
	    "chain served now: publish a backup pin (a key not yet in use), "
	    "or replacing this key bricks every device until a feed arrives",
	    NULL);
}

struct round {
	unsigned	 mismatches;
	bool		 partial;	/* a tofu host not seen everywhere */
	/* tofu hosts: the leaf keys seen, for --write-observed */
	char		 observed[FEED_SIGS_MAX * 8][HOST_MAX + 1];
	char		 pins[FEED_SIGS_MAX * 8][MAX_ADDRS * (PIN_TEXT_LEN + 2)];
	size_t		 nobserved;
};

static void
probe_host(const struct args *a, struct tls_client *tls,
    const struct rule *r, struct round *rd)
{
	struct sockaddr_storage	 ss[MAX_ADDRS];
	int			 lens[MAX_ADDRS];
	char			 names[MAX_ADDRS][64], err[256], leaf[PIN_TEXT_LEN + 1];
	const char		*host = r->pattern;
	size_t			 n, i;
	bool			 backup_checked = false;
	char			*obs = NULL;

	if (r->pat.kind != HOSTPAT_EXACT) {
		finding(a, "skip", host, "-", "probe", "a wildcard names no "
		    "host to probe", NULL);
		return;
	}
	if (r->policy == POLICY_TOFU && rd->nobserved < nitems(rd->observed)) {
		snprintf(rd->observed[rd->nobserved], HOST_MAX + 1, "%s", host);
		obs = rd->pins[rd->nobserved++];
		obs[0] = '\0';
	}
	err[0] = '\0';
	if ((n = addresses(a, host, ss, lens, names, err, sizeof(err))) == 0) {
		finding(a, "unreachable", host, "-", "probe", err[0] ? err :
		    "no address", NULL);
		rd->partial |= obs != NULL;
		return;
	}
	for (i = 0; i < n; i++) {
		struct tls_check	 chk;
		struct tls_verdict	 v;
		WOLFSSL			*ssl;
		int			 fd, ret;

		if ((fd = connect_to(&ss[i], lens[i], err, sizeof(err))) ==
		    -1) {
			finding(a, "unreachable", host, names[i], "probe", err,
			    NULL);
			rd->partial |= obs != NULL;
			continue;
		}
		memset(&chk, 0, sizeof(chk));
		/* tofu: the CA check, then the leaf against observed = */
		chk.policy = r->policy == POLICY_TOFU ? POLICY_CA : r->policy;
		chk.pins = &r->pins;
		snprintf(chk.host, sizeof(chk.host), "%s", host);
		if ((ssl = tls_session_new(tls, fd, &chk)) == NULL) {
			close(fd);
			continue;
		}
		wolfSSL_set_using_nonblock(ssl, 0);
		ret = wolfSSL_connect(ssl);
		tls_verdict(ssl, tls, &chk, ret, ret == WOLFSSL_SUCCESS ? 0 :
		    wolfSSL_get_error(ssl, ret), &v);
		if (v.pass && r->policy == POLICY_TOFU && chk.chain != NULL) {
			struct pin	 p;
			int64_t		 na;

			if (tls_chain_cert_info(chk.chain, 0, &p, &na)) {
				pin_format(&p, leaf);
				/* what a device verified here: the CA check
				 * passed; observed = says whether the publisher
				 * knew it yet */
				if (obs != NULL && strstr(obs, leaf) == NULL)
					snprintf(obs + strlen(obs), MAX_ADDRS *
					    (PIN_TEXT_LEN + 2) - strlen(obs),
					    "%s%s", obs[0] ? ", " : "", leaf);
				if (r->observed.n > 0 &&
				    !pinset_contains(&r->observed, &p)) {
					v.pass = false;
					snprintf(v.detail, sizeof(v.detail),
					    "leaf key %s is not in observed =",
					    leaf);
				} else
					snprintf(v.detail, sizeof(v.detail),
					    "tofu: leaf key %s", leaf);
			}
		}
		if (!v.pass && (v.reason == TLS_HANDSHAKE || chk.chain ==
		    NULL)) {
			finding(a, "unreachable", host, names[i], "probe",
			    v.detail, NULL);
			rd->partial |= obs != NULL;
		}
		else {
			finding(a, v.pass ? "match" : "mismatch", host,
			    names[i], "probe", v.detail, v.presented);
			if (!v.pass)
				rd->mismatches++;
			check_dates(a, r, host, names[i], chk.chain);
			/* against the chain a device accepts */
			if (v.pass && !backup_checked && r->pins.n > 0) {
				check_backup(a, r, host, &v);
				backup_checked = true;
			}
		}
		tls_session_free(ssl);
		tls_check_clear(&chk);
		close(fd);
	}
}

static int
write_observed(const struct args *a, const struct round *rd)
{
	char		*body, *next;
	size_t		 len, nlen, i, written = 0;
	struct feed_body *c;
	int		 rc;

	if ((body = file_read(a->write_observed, 64UL << 20, &len, stderr)) ==
	    NULL)
		return 1;
	for (i = 0; i < rd->nobserved; i++) {
		char	 section[HOST_MAX + 16];

		if (rd->pins[i][0] == '\0')
			continue;
		written++;
		snprintf(section, sizeof(section), "domain:%s",
		    rd->observed[i]);
		next = body_set(body, len, section, "observed", rd->pins[i],
		    &nlen);
		free(body);
		body = next;
		len = nlen;
	}
	/* the devices' parser decides whether the result is usable */
	c = feed_body_parse(a->write_observed, body, len, stderr);
	rc = 1;
	if (c != NULL && cmd_edit_file(a->write_observed, body, len) == 0) {
		fprintf(stderr, "wrote observed = for %zu tofu host(s) in %s: "
		    "sign it and publish\n", written, a->write_observed);
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
		else if (strcmp(o, "--every") == 0) {
			if (!parse_uint(v, 1, 86400, &a->every))
				return false;
		} else if (strcmp(o, "--rounds") == 0) {
			if (!parse_uint(v, 1, 1000000, &a->rounds))
				return false;
		} else if (strcmp(o, "--port") == 0) {
			if (!parse_uint(v, 1, 65535, &a->port))
				return false;
		} else if (strcmp(o, "--connect-to") == 0) {
			const char	*eq = strchr(v, '=');

			if (eq == NULL || a->nov == MAX_OVERRIDES ||
			    (size_t)(eq - v) > HOST_MAX)
				return false;
			snprintf(a->ov[a->nov].host, sizeof(a->ov[a->nov].host),
			    "%.*s", (int)(eq - v), v);
			snprintf(a->ov[a->nov].addr, sizeof(a->ov[a->nov].addr),
			    "%s", eq + 1);
			a->nov++;
		} else
			return false;
	}
	return a->feed != NULL && (a->ini == NULL) != (a->keys.root.n == 0);
}

const char cmd_monitor_usage[] =
    "pinshim monitor FEED (--pubkey KEY... | -c FILE) [--ca-file FILE]\n"
    "        [--every SECONDS [--rounds N]] [--alert CMD] [--json] "
    "[--port N]\n"
    "        [--connect-to HOST=ADDR:PORT]... [--write-observed BODY]\n"
    "    probe every pinned host of a verified feed; exit 1 on a "
    "mismatch\n";

int
cmd_monitor(int argc, char **argv)
{
	struct args		 a;
	struct conf		*conf = NULL;
	struct feed_body	*c = NULL;
	struct tls_client	*tls = NULL;
	struct round		*rd = xcalloc(1, sizeof(*rd));
	char			*buf = NULL, err[256];
	size_t			 len, i;
	unsigned long		 done = 0, mismatches = 0;
	int			 status = 2;

	if (!parse_args(argc, argv, &a)) {
		free(rd);
		return cmd_usage(stderr, cmd_monitor_usage);
	}
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
	} else {
		memcpy(a.keys.sign.keys, a.keys.root.keys,
		    sizeof(a.keys.sign.keys));
		a.keys.sign.n = a.keys.root.n;
	}
	if (a.ca_file == NULL)
		a.ca_file = CONF_DEFAULT_CA_FILE;
	status = 1;
	if ((buf = file_read(a.feed, 64UL << 20, &len, stderr)) == NULL ||
	    (c = feed_open(a.feed, buf, len, &a.keys, stderr, NULL)) == NULL)
		goto out;
	tls_init();
	if ((tls = tls_client_new(a.ca_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pinshim monitor: %s\n", err);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		memset(rd, 0, sizeof(*rd));
		for (i = 0; i < c->snap->nrules && !stop; i++) {
			const struct rule	*r = &c->snap->rules[i];

			if (r->pins.n > 0 || r->policy == POLICY_TOFU)
				probe_host(&a, tls, r, rd);
		}
		done++;
		mismatches += rd->mismatches;	/* any round's counts */
		if (a.every == 0 || stop || (a.rounds && done >= a.rounds))
			break;
		for (i = 0; i < a.every && !stop; i++)
			sleep(1);
	}
	status = mismatches > 0 ? 1 : 0;
	if (a.write_observed != NULL) {
		/* observed = from a whole view only: an address not reached
		 * would make its devices refuse their first contact */
		if (stop || rd->partial) {
			fprintf(stderr, "pinshim monitor: %s not written: %s\n",
			    a.write_observed, stop ? "interrupted" : "a tofu "
			    "host was not reached at every address");
			status = 1;
		} else if (write_observed(&a, rd) != 0)
			status = 1;
	}
out:
	for (i = 0; i < nseen; i++) {
		free(seen[i].key);
		free(seen[i].state);
	}
	free(seen);
	free(rd);
	tls_client_free(tls);
	feed_body_free(c);
	free(buf);
	conf_free(conf);
	return status;
}
