/*
 * url.h - the one URL parser: http:// and https:// URLs of the feed, the
 * report collector and the forward proxy's absolute-form requests, parsed
 * by libevent's evhttp_uri and reduced to what pinshim dials.
 */
#ifndef PINSHIM_BASE_URL_H
#define PINSHIM_BASE_URL_H

#include <stdbool.h>
#include <stdint.h>

struct url {
	bool		 tls;		/* https */
	char		 host[256];	/* as written; IPv6 without [] */
	uint16_t	 port;		/* explicit, or 443 / 80 */
	char		*path;		/* owned: path[?query], at least "/" */
};

/* false with *why set: not a URL, another scheme, no host, user info. */
bool	 url_parse(const char *s, struct url *out, const char **why);
void	 url_free(struct url *);

#endif
