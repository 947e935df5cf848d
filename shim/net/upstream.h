/*
 * upstream.h - open a pinned TLS connection to host:port: policy lookup,
 * asynchronous DNS, every address tried, non-blocking handshake, verdict.
 * Shared by every listener mode; the caller only relays what passes.
 */
#ifndef PINSHIM_NET_UPSTREAM_H
#define PINSHIM_NET_UPSTREAM_H

#include <sys/socket.h>

#include "tls/tls.h"
#include "tls/tls_alpn.h"

struct proxy_conf;
struct server;
struct upstream;

enum upstream_fail {
	UP_OK = 0,
	UP_BLOCKED,		/* policy block, or default_policy block */
	UP_DNS,
	UP_CONNECT,
	UP_TIMEOUT,		/* handshake took too long */
	UP_TLS,			/* see verdict.reason */
	UP_RESOURCE,		/* out of descriptors or memory here */
	UP_PROXY,		/* the upstream proxy refused the CONNECT or
				 * gave no usable answer */
};

struct upstream_result {
	char			 host[HOST_MAX + 1];	/* as asked for */
	uint16_t		 port;
	enum upstream_fail	 fail;
	const char		*reason;	/* stable token for logs */
	char			 detail[512];
	char			 addr[64];	/* address connected to */
	char			 proxy[HOST_MAX + 9]; /* "HOST:PORT" of the
						 * proxy gone through, or "" */
	bool			 local;		/* refused before any policy
						 * applied: policy=- rule=- */
	enum policy		 policy;
	const char		*pattern;	/* matching rule, or NULL */
	/* fail == UP_OK only because the rule says enforce = no: reason and
	 * tv say what would have refused it */
	bool			 would_refuse;
	struct tls_verdict	 tv;
	/* the ALPN protocol the server selected; "" for none */
	char			 alpn[TLS_ALPN_NAME_MAX + 1];
	/* On success ownership passes to the callback's caller: */
	int			 fd;
	WOLFSSL			*ssl;
	/* the device identity presented ("domain:PATTERN", "listen:NAME"),
	 * and whether the server asked for it and it was signed */
	char			 ident[HOST_MAX + 16];
	bool			 ident_sent;
	/* Borrowed, valid only while the callback runs (a pin-failure
	 * report is made from them there; nothing outlives the refusal):
	 * the chain the server presented (or, resumed, the one recorded at
	 * its full handshake), NULL if none; the pins expected, NULL if
	 * none; whether they came from the feed (else the INI). */
	const struct tls_chain	*chain;
	const struct pinset	*pins;
	bool			 pins_from_feed;
};

typedef void (*upstream_cb)(struct upstream_result *, void *arg);

/* For connections whose policy is not the snapshot's (the feed fetcher). */
struct upstream_opts {
	enum policy		 policy;
	const struct pinset	*pins;	/* must outlive the attempt */
	bool			 plain;	/* no TLS at all (http://) */
	const struct sockaddr_storage *addr; /* connect here, no DNS */
	/* ALPN protocols to offer, comma-separated ("h2,http/1.1"); NULL
	 * or "": none (copied: need not outlive the call) */
	const char		*alpn;
	/* through this HTTP CONNECT proxy (conf_proxy()), or NULL: direct.
	 * The proxy's name is resolved here, host never is: the proxy
	 * resolves it (addr is then unused). Copied. */
	const struct proxy_conf	*proxy;
	/* a tunnel's client_cert: its index in conf->idents + 1; 0: the
	 * [domain:] identity of the host, if any */
	size_t			 ident;
};

/* host must be normalised. opts NULL: the snapshot decides. cb runs
 * exactly once, never from inside this call. */
struct upstream	*upstream_open(struct server *, const char *host,
		    uint16_t port, const struct upstream_opts *opts,
		    upstream_cb cb, void *arg);
/* The one verdict line of a connection (every listener mode and pinshim's
 * own requests write theirs here, exactly once), and its count. passes:
 * false leaves out the line of a pass ([shim] log_connections =
 * refusals); refusals and would-refuse are always written. */
void		 upstream_log(const struct upstream_result *,
		    const char *listener, const char *client, const char *host,
		    unsigned port, bool passes);
/* Abandon an attempt in progress; cb will not run. */
void		 upstream_cancel(struct upstream *);

#endif
