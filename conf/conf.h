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
	unsigned	 seen;			/* keys given, for pass two */
};

struct conf {
	char		*path;			/* owned */
	/* [shim] */
	char		*state_dir;		/* owned, may be NULL */
	char		*device_id;		/* owned, may be NULL */
	char		*user;			/* owned, may be NULL */
	char		*log_level;		/* owned, may be NULL */
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
void		 conf_free(struct conf *);
const char	*listen_mode_name(enum listen_mode);

#endif
