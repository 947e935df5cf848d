/*
 * conf.h - the validated configuration of one pinshim process.
 *
 * A struct conf is only ever handed out complete and valid; a reload builds
 * a new one and swaps it in only when it loaded without a single error.
 */
#ifndef PINSHIM_CONF_H
#define PINSHIM_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "../pins/host.h"
#include "../pins/policy.h"
#include "../shim/util.h"

#define CONF_DEFAULT_PATH	"/etc/pinshim/pinshim.ini"
#define CONF_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"

enum listen_mode {
	MODE_TUNNEL,
	MODE_FORWARD,
	MODE_TRANSPARENT,
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
	uint64_t	 seen;			/* keys given, for pass two */
};

#define FEED_KEYS_MAX		8
#define FEED_KEY_LEN		32	/* Ed25519 public key */
#define FEED_DEFAULT_REFRESH	300
#define FEED_DEFAULT_MAX_SIZE	(1024 * 1024)
#define FEED_DEFAULT_TIMEOUT	30

/* [feed] of the INI: where the signed feed comes from, who may sign it. */
struct feed_conf {
	bool		 present;
	char		*url;			/* owned */
	char		*fallback_url;		/* owned, may be NULL */
	uint8_t		 keys[FEED_KEYS_MAX][FEED_KEY_LEN];
	size_t		 nkeys;
	struct pinset	 pins;			/* the feed server's; owned */
	unsigned long	 refresh;		/* seconds */
	unsigned long	 max_size;		/* bytes */
	unsigned long	 timeout;		/* seconds, whole fetch */
};

/* [device:ID] of a feed body. */
struct device_override {
	char		*id;			/* owned */
	bool		 pinning_off;		/* pin, pin-only become ca */
};

/* [feed] of a feed body. */
struct feed_meta {
	unsigned long long version;
	time_t		 issued;
	time_t		 expires;
	char		*report_url;		/* owned, may be NULL */
	struct device_override *devices;	/* owned */
	size_t		 ndevices;
};

struct conf {
	char		*path;			/* owned */
	bool		 is_feed;		/* a feed body, not an INI */
	struct feed_meta meta;			/* feed bodies only */
	struct feed_conf feed;			/* INI only */
	/* [shim] */
	char		*state_dir;		/* owned, may be NULL */
	char		*device_id;		/* owned, may be NULL */
	char		*user;			/* owned, may be NULL */
	char		*log_level;		/* owned, may be NULL */
	char		*ca_dir;		/* owned; default STATE/ca */
	/* [upstream] */
	char		*ca_file;		/* owned */
	char		*hosts_file;		/* owned, may be NULL */
	unsigned long	 connect_timeout;	/* seconds */
	unsigned long	 handshake_timeout;	/* seconds */
	/* [listen:*] */
	struct listen_conf *listeners;		/* owned */
	size_t		 nlisteners;
	/* [domain:*] and default_policy */
	struct snapshot	*snap;			/* one reference owned */
};

/* Errors go to errs as "FILE:LINE: [section] key: message"; NULL if any. */
struct conf	*conf_load(const char *path, FILE *errs);
/* A feed body (what is signed): [feed] version/issued/expires/report_url,
 * [domain:PATTERN] as in the INI, [device:ID] pinning = on|off. name is
 * used in messages. */
struct conf	*conf_load_feed(const char *name, const char *body, size_t len,
		    FILE *errs);
/* "ed25519:" + base64 of the 32-byte public key. */
bool		 feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN]);
void		 conf_free(struct conf *);
const char	*listen_mode_name(enum listen_mode);

#endif
