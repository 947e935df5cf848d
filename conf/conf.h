/*
 * conf.h - the validated INI configuration of one pinshim process.
 *
 * A struct conf is only ever handed out complete and valid; a reload builds
 * a new one and swaps it in only when it loaded without a single error.
 * The feed body is another document with its own type (pins/feed_body.h).
 */
#ifndef PINSHIM_CONF_CONF_H
#define PINSHIM_CONF_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/addr.h"
#include "base/log.h"
#include "pins/feed_keys.h"
#include "pins/host.h"
#include "pins/policy.h"

#define CONF_DEFAULT_PATH	"/etc/pinshim/pinshim.ini"
#define CONF_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"

enum listen_mode {
	MODE_TUNNEL,
	MODE_FORWARD,
	MODE_TRANSPARENT,
};

/* [listen:*] client_tls: what the app-facing side of an interception
 * listener accepts. */
enum client_tls {
	CLIENT_TLS_MODERN,	/* TLS_CIPHERS, ECDSA leaves */
	CLIENT_TLS_COMPATIBLE,	/* also TLS 1.2 CBC, and RSA leaves */
};

/* An upstream HTTP CONNECT proxy: [upstream] proxy, a listener's own, or
 * [feed]'s (feed fetches and reports). */
enum proxy_use {
	PROXY_UNSET = 0,	/* a listener's or [feed]'s: as [upstream] */
	PROXY_NONE,		/* direct */
	PROXY_HTTP,		/* through host:port */
};

struct proxy_conf {
	enum proxy_use	 use;
	char		 host[HOST_MAX + 1];	/* name or IP, no [] */
	uint16_t	 port;
	char		 name[HOST_MAX + 9];	/* "HOST:PORT"; [IPv6] */
	/* owned: base64 of "user:password" (proxy_auth_file), or NULL;
	 * wiped when freed */
	char		*auth;
};

/* [upstream] no_proxy: one host pattern, or an address block. */
struct no_proxy {
	bool		 is_cidr;
	struct hostpat	 pat;
	struct cidr	 cidr;
};

/* A key's file and the line that named it, for errors found later. */
struct ident_file {
	char		*path;			/* owned; NULL: not given */
	int		 line;
};

/* A device identity (mutual TLS upstream): client_cert and client_key of
 * a [domain:PATTERN] (pattern set) or of a tunnel's [listen:NAME]
 * (listener set; it overrides the domain's). A table of its own, never
 * part of a rule: a signed feed replaces the [domain:] rules, not the
 * identities. The keeper holds the private keys, in this order. */
struct ident_conf {
	char		*pattern;		/* owned; NULL: a listener's */
	struct hostpat	 pat;
	char		*listener;		/* owned; NULL: a domain's */
	char		*path;			/* the INI, for errors */
	struct ident_file cert, key;
};

struct listen_conf {
	char		*name;			/* owned */
	char		*origin;		/* "file:line"; owned */
	enum listen_mode mode;
	char		 bind_host[HOST_MAX + 1];
	uint16_t	 bind_port;
	char		 connect_host[HOST_MAX + 1]; /* normalised */
	uint16_t	 connect_port;
	struct cidr	*allow;			/* owned; who may connect */
	size_t		 nallow;
	uint16_t	*ports;			/* owned; CONNECT ports */
	size_t		 nports;
	/* limits; 0 max: derived from RLIMIT_NOFILE at start */
	unsigned long	 max_conns;		/* all clients together */
	unsigned long	 max_per_client;	/* one client */
	unsigned long	 v6_prefix;		/* an IPv6 client's bits */
	unsigned long	 idle_timeout;		/* seconds; 0: none */
	unsigned long	 backlog;		/* listen(); 0: somaxconn */
	enum client_tls	 client_tls;		/* forward, transparent */
	char		*alpn;			/* owned; tunnel: ALPN to offer,
						 * comma-separated, or NULL */
	struct proxy_conf proxy;		/* unset: [upstream]'s */
	/* tunnel: client_cert, client_key; ident is its index in
	 * conf->idents + 1, 0 for none */
	struct ident_file client_cert, client_key;
	size_t		 ident;
};

#define LISTEN_IDLE_DEFAULT	0	/* every mode: none (keepalive) */
#define LISTEN_V6_PREFIX_DEFAULT 64	/* one host's usual IPv6 share */

#define SHUTDOWN_TIMEOUT_DEFAULT 30	/* seconds relays may drain */
/* New names a second the keeper signs leaves for: twice the 500 a
 * gateway should sustain (shim/keeper/keeper_answer.h says why a worker
 * cannot lift it). */
#define MINT_RATE_DEFAULT	1000

/* [upstream] truncation: what the app gets when the upstream closes
 * without close_notify. */
enum truncation {
	TRUNCATION_RESET,	/* a reset: the stream may have been cut */
	TRUNCATION_CLOSE,	/* a FIN, as if it ended cleanly */
};

#define FEED_DEFAULT_REFRESH	200
#define FEED_DEFAULT_MAX_SIZE	(1024 * 1024)
#define FEED_DEFAULT_TIMEOUT	30

/* [feed]: where the signed feed comes from, who may sign it. */
struct feed_conf {
	bool		 present;
	char		*url;			/* owned */
	char		*fallback_url;		/* owned, may be NULL */
	struct feed_keyset keys;		/* the configured ones */
	struct pinset	 pins;			/* the feed server's; owned */
	unsigned long	 refresh;		/* seconds */
	unsigned long	 max_size;		/* bytes */
	unsigned long	 timeout;		/* seconds, whole fetch */
	struct proxy_conf proxy;		/* unset: [upstream]'s */
};

/* [shim] status: the /metrics and /status endpoint. */
struct status_conf {
	bool		 present;
	char		 host[HOST_MAX + 1];	/* numeric; "" for unix */
	uint16_t	 port;
	char		*unix_path;		/* owned, or NULL */
	struct cidr	*allow;			/* owned; default loopback */
	size_t		 nallow;
};

struct conf {
	char		*path;			/* owned */
	struct status_conf status;
	struct feed_conf feed;
	/* [shim] */
	char		*state_dir;		/* owned, may be NULL */
	char		*device_id;		/* owned, may be NULL */
	char		*user;			/* owned, may be NULL */
	enum log_level	 log_level;
	enum log_format	 log_format;		/* default text */
	bool		 log_refusals_only;	/* log_connections = refusals */
	char		*log_syslog;		/* owned; NULL: stderr */
	enum log_syslog_format syslog_format;	/* default rfc3164 */
	unsigned long	 tofu_max;		/* hosts the TOFU store holds */
	char		*ca_dir;		/* owned; default STATE/ca */
	unsigned long	 mint_rate;		/* new names a second the
						 * keeper signs */
	unsigned long	 shutdown_timeout;	/* seconds relays may drain */
	/* [upstream] */
	char		*ca_file;		/* owned */
	char		*hosts_file;		/* owned, may be NULL */
	char		*nameservers;		/* owned; NULL: resolv.conf */
	enum policy	 default_policy;
	unsigned long	 connect_timeout;	/* seconds */
	unsigned long	 handshake_timeout;	/* seconds */
	enum truncation	 truncation;
	/* [listen:*] */
	struct listen_conf *listeners;		/* owned */
	size_t		 nlisteners;
	/* [domain:*] and default_policy */
	struct snapshot	*snap;			/* one reference owned */
	int		 refs;			/* conf_ref, conf_free */
	/* [upstream] proxy, no_proxy */
	struct proxy_conf proxy;
	struct no_proxy	*no_proxy;		/* owned */
	size_t		 nno_proxy;
	/* device identities, domains' and listeners' */
	struct ident_conf *idents;		/* owned */
	size_t		 nidents;
};

/* Errors go to errs as "FILE:LINE: [section] key: message"; NULL if any. */
struct conf	*conf_load(const char *path, FILE *errs);
/* [shim] status's value v into sc (sc->unix_path is the caller's to
 * free); false with why. */
bool		 conf_status_parse(const char *v, struct status_conf *sc,
		    const char **why);
/* [shim] status alone from the file at path, the rest unread (a
 * half-edited file still names the daemon to ask): 0 (sc->present
 * false if the key is absent), or -1 with the error on errs. */
int		 conf_status_only(const char *path, struct status_conf *sc,
		    FILE *errs);
/* A configuration is shared: the process, each listener and each
 * connection hold a reference to the one they run under, so a reload is a
 * pointer swap and nothing running sees a value change under it. */
struct conf	*conf_ref(struct conf *);
/* Drop one reference; the last frees it (NULL is a no-op). */
void		 conf_free(struct conf *);
const char	*listen_mode_name(enum listen_mode);
const struct listen_conf *conf_listener(const struct conf *,
		    const char *name);
/* The proxy a connection to host (normalised) goes through, or NULL for
 * direct: own (a listener's, [feed]'s) unless unset, else [upstream]'s;
 * none for a host no_proxy matches. Lives as long as the conf. */
const struct proxy_conf *conf_proxy(const struct conf *,
		    const struct proxy_conf *own, const char *host);
/* The device identity a connection to host presents: the listener's
 * (lc may be NULL), else the most specific [domain:] pattern's with one,
 * as pins/host.c matches; its index in c->idents, or -1 for none. */
int		 conf_ident(const struct conf *, const struct listen_conf *lc,
		    const char *host);
/* Two tables naming the same identities, files and places alike. */
bool		 conf_idents_same(const struct conf *, const struct conf *);

#endif
