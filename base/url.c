/*
 * url.c - parse an http(s) URL with libevent's evhttp_uri (no URL parsing
 * of our own) and keep scheme, host, port and path.
 *
 * Must never: accept a URL with user info (credentials would end up in
 * logs), another scheme, or an empty host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "base/mem.h"
#include "base/url.h"

static bool
url_host(const char *h, struct url *out)
{
	size_t	 len = strlen(h);

	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {	/* IPv6 */
		h++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(out->host))
		return false;
	memcpy(out->host, h, len);
	out->host[len] = '\0';
	return true;
}

bool
url_parse(const char *s, struct url *out, const char **why)
{
	struct evhttp_uri	*u;
	const char		*scheme, *h, *p, *q;
	int			 port;
	bool			 ok;

	memset(out, 0, sizeof(*out));
	*why = "want http://HOST[:PORT]/PATH or https://...";
	if ((u = evhttp_uri_parse_with_flags(s, 0)) == NULL) {
		*why = "not a URL";
		return false;
	}
	scheme = evhttp_uri_get_scheme(u);
	h = evhttp_uri_get_host(u);
	ok = scheme != NULL && (strcasecmp(scheme, "https") == 0 ||
	    strcasecmp(scheme, "http") == 0) && h != NULL &&
	    evhttp_uri_get_userinfo(u) == NULL && url_host(h, out);
	if (ok) {
		out->tls = strcasecmp(scheme, "https") == 0;
		port = evhttp_uri_get_port(u);
		out->port = (uint16_t)(port > 0 ? port : out->tls ? 443 : 80);
		p = evhttp_uri_get_path(u);
		q = evhttp_uri_get_query(u);
		out->path = xcalloc(1, strlen(p ? p : "") + 2 +
		    (q ? strlen(q) + 1 : 0));
		sprintf(out->path, "%s%s%s", p && *p ? p : "/", q ? "?" : "",
		    q ? q : "");
	}
	evhttp_uri_free(u);
	return ok;
}

void
url_free(struct url *u)
{
	free(u->path);
	u->path = NULL;
}
