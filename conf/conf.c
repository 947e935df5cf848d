/*
 * conf.c - load and validate the INI configuration with inih.
 *
 * A table maps {section, key} to a strict parser; the inih handler only
 * dispatches through it and records the line. A second pass checks what
 * spans keys (required keys, duplicate binds, pins that a policy needs).
 * Nothing is ever ignored: an unknown section or key is an error, and every
 * error names the file, the line, the section and the key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/http.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shim/util.h"
#include "conf.h"

enum section_kind {
	SEC_NONE,
	SEC_SHIM,
	SEC_UPSTREAM,
	SEC_DOMAIN,
	SEC_LISTEN,
	SEC_FEED,	/* INI: where the feed comes from */
	SEC_META,	/* feed body: version, issued, expires */
	SEC_DEVICE,	/* feed body: per-device override */
};

struct loader;
typedef bool (*key_parser)(struct loader *, const char *val, void *field,
    const char **why);

enum {
	K_LIST = 1,		/* may continue on indented lines */
};

struct key {
	enum section_kind section;
	const char	*name;
	key_parser	 parse;
	size_t		 off;	/* into the section's struct */
	unsigned	 flags;
};

struct loader {
	struct conf	*conf;
	FILE		*errs;
	FILE		*file;
	int		 line;
	bool		 continuation;	/* line continues the previous key */
	bool		 key_in_section; /* inih's prev_name is set */
	int		 errors;
	int		 last_err_line;
	/* the section being read */
	char		 section[HOST_MAX + 16];
	enum section_kind kind;
	uint64_t	 seen;		/* bit per key index */
	const char	*prev_key;
	int		 section_line;
	struct rule	 rule;		/* [domain:*] under construction */
	bool		 in_rule;
	struct listen_conf *lc;		/* [listen:*] being filled */
	char		**sections;	/* names seen, for duplicates */
	size_t		 nsections;
	enum policy	 default_policy;
	bool		 has_default;
	bool		 has_meta;
};

static void
conf_error(struct loader *l, int line, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(l->errs, "%s:%d: ", l->conf->path, line);
	va_start(ap, fmt);
	vfprintf(l->errs, fmt, ap);
	va_end(ap);
	fputc('\n', l->errs);
	l->errors++;
	l->last_err_line = line;
}

/* --- value parsers ---------------------------------------------------- */

static bool
p_str(struct loader *l, const char *v, void *field, const char **why)
{
	char	**dst = field;

	(void)l;
	if (*v == '\0') {
		*why = "empty value";
		return false;
	}
	free(*dst);
	*dst = xstrdup(v);
	return true;
}

static bool
p_file(struct loader *l, const char *v, void *field, const char **why)
{
	if (!p_str(l, v, field, why))
		return false;
	if (access(v, R_OK) != 0) {
		*why = "file not readable";
		return false;
	}
	return true;
}

static bool
p_dir(struct loader *l, const char *v, void *field, const char **why)
{
	if (!p_str(l, v, field, why))
		return false;
	if (*v != '/') {
		*why = "must be an absolute path";
		return false;
	}
	return true;
}

static bool
p_seconds(struct loader *l, const char *v, void *field, const char **why)
{
	(void)l;
	if (!parse_uint(v, 1, 3600, field)) {
		*why = "not a whole number of seconds in 1..3600";
		return false;
	}
	return true;
}

static bool
p_policy(struct loader *l, const char *v, void *field, const char **why)
{
	enum policy	*dst = field;

	(void)l;
	if (!policy_parse(v, dst)) {
		*why = "not one of pin, pin-only, ca, tofu, block";
		return false;
	}
	if (*dst == POLICY_TOFU) {
		*why = "tofu is not supported by this version yet";
		return false;
	}
	return true;
}

static bool
p_default_policy(struct loader *l, const char *v, void *field,
    const char **why)
{
	(void)field;
	if (!p_policy(l, v, &l->default_policy, why))
		return false;
	if (l->default_policy != POLICY_BLOCK &&
	    l->default_policy != POLICY_CA) {
		*why = "must be block or ca (pins belong to [domain:...])";
		return false;
	}
	l->has_default = true;
	return true;
}

static bool
p_on_expiry(struct loader *l, const char *v, void *field, const char **why)
{
	enum policy	*dst = field;

	(void)l;
	if (strcmp(v, "ca") == 0)
		*dst = POLICY_CA;
	else if (strcmp(v, "block") == 0)
		*dst = POLICY_BLOCK;
	else {
		*why = "not one of ca, block";
		return false;
	}
	return true;
}

static bool
p_expires(struct loader *l, const char *v, void *field, const char **why)
{
	if (!parse_rfc3339(v, field)) {
		*why = "not an RFC 3339 UTC time like 2027-01-31T00:00:00Z";
		return false;
	}
	l->rule.has_expires = true;
	return true;
}

static bool
p_pins(struct loader *l, const char *v, void *field, const char **why)
{
	static char	 msg[200];
	const char	*bad;

	(void)l;
	if (!pinset_parse_list(field, v, &bad)) {
		snprintf(msg, sizeof(msg), "not a sha256/ pin: \"%.80s\" "
		    "(want sha256/ + 44 base64 characters)", bad);
		*why = msg;
		return false;
	}
	return true;
}

static bool
p_mode(struct loader *l, const char *v, void *field, const char **why)
{
	enum listen_mode	*dst = field;

	(void)l;
	if (strcmp(v, "tunnel") == 0)
		*dst = MODE_TUNNEL;
	else if (strcmp(v, "forward") == 0)
		*dst = MODE_FORWARD;
	else if (strcmp(v, "transparent") == 0)
		*dst = MODE_TRANSPARENT;
	else {
		*why = "not one of tunnel, forward, transparent";
		return false;
	}
	return true;
}

static bool
p_bind(struct loader *l, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = l->lc;
	unsigned char		 buf[16];

	(void)field;
	if (!parse_hostport(v, lc->bind_host, sizeof(lc->bind_host),
	    &lc->bind_port)) {
		*why = "not ADDRESS:PORT (IPv6 as [::1]:PORT)";
		return false;
	}
	if (inet_pton(AF_INET, lc->bind_host, buf) != 1 &&
	    inet_pton(AF_INET6, lc->bind_host, buf) != 1) {
		*why = "bind needs a numeric IPv4 or IPv6 address";
		return false;
	}
	return true;
}

static bool
p_connect(struct loader *l, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = l->lc;
	char			 host[HOST_MAX + 1];

	(void)field;
	if (!parse_hostport(v, host, sizeof(host), &lc->connect_port)) {
		*why = "not HOST:PORT";
		return false;
	}
	if (host_is_ip(host)) {
		snprintf(lc->connect_host, sizeof(lc->connect_host), "%s",
		    host);
		return true;
	}
	return host_normalize(host, lc->connect_host,
	    sizeof(lc->connect_host), why);
}

static bool
p_url(struct loader *l, const char *v, void *field, const char **why)
{
	struct evhttp_uri	*u;
	const char		*scheme;
	bool			 ok;

	if ((u = evhttp_uri_parse_with_flags(v, 0)) == NULL) {
		*why = "not a URL";
		return false;
	}
	scheme = evhttp_uri_get_scheme(u);
	ok = scheme != NULL && (strcmp(scheme, "https") == 0 ||
	    strcmp(scheme, "http") == 0) && evhttp_uri_get_host(u) != NULL &&
	    *evhttp_uri_get_host(u) != '\0' && evhttp_uri_get_userinfo(u) == NULL;
	evhttp_uri_free(u);
	if (!ok) {
		*why = "want http://HOST[:PORT]/PATH or https://...";
		return false;
	}
	return p_str(l, v, field, why);
}

static bool
p_https_url(struct loader *l, const char *v, void *field, const char **why)
{
	if (strncmp(v, "https://", 8) != 0) {
		*why = "must be an https:// URL";
		return false;
	}
	return p_url(l, v, field, why);
}

static bool
p_pubkeys(struct loader *l, const char *v, void *field, const char **why)
{
	struct feed_conf	*fc = field;
	char			 item[128];
	const char		*s = v;

	(void)l;
	for (;;) {
		size_t len;

		s += strspn(s, ", \t");
		if (*s == '\0')
			return true;
		len = strcspn(s, ", \t");
		if (len >= sizeof(item) ||
		    (memcpy(item, s, len), item[len] = '\0',
		    !feed_key_parse(item, fc->keys[fc->nkeys < FEED_KEYS_MAX ?
		    fc->nkeys : 0]))) {
			*why = "not an ed25519:BASE64 public key (as written "
			    "by pinshim feed keygen)";
			return false;
		}
		if (fc->nkeys == FEED_KEYS_MAX) {
			*why = "more than 8 keys";
			return false;
		}
		fc->nkeys++;
		s += len;
	}
}

static bool
p_refresh(struct loader *l, const char *v, void *field, const char **why)
{
	(void)l;
	/* 10 s is for labs and tests; fleets want minutes (default 300) */
	if (!parse_uint(v, 10, 86400, field)) {
		*why = "not a whole number of seconds in 10..86400";
		return false;
	}
	return true;
}

static bool
p_size(struct loader *l, const char *v, void *field, const char **why)
{
	(void)l;
	if (!parse_uint(v, 1024, 64UL * 1024 * 1024, field)) {
		*why = "not a byte count in 1024..67108864";
		return false;
	}
	return true;
}

static bool
p_version(struct loader *l, const char *v, void *field, const char **why)
{
	unsigned long	 n;

	(void)l;
	/* unsigned long is 32 bits on some gateways: stay inside it */
	if (!parse_uint(v, 1, 4294967295UL, &n)) {
		*why = "not a whole number in 1..4294967295";
		return false;
	}
	*(unsigned long long *)field = n;
	return true;
}

static bool
p_time(struct loader *l, const char *v, void *field, const char **why)
{
	(void)l;
	if (!parse_rfc3339(v, field)) {
		*why = "not an RFC 3339 UTC time like 2027-01-31T00:00:00Z";
		return false;
	}
	return true;
}

static bool
p_onoff(struct loader *l, const char *v, void *field, const char **why)
{
	(void)field;
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
		*why = "not one of on, off";
		return false;
	}
	l->conf->meta.devices[l->conf->meta.ndevices - 1].pinning_off =
	    strcmp(v, "off") == 0;
	return true;
}

static bool
p_allow(struct loader *l, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = l->lc;
	char			 item[64];
	const char		*s = v;

	(void)field;
	for (;;) {
		size_t	 len;

		s += strspn(s, ", \t");
		if (*s == '\0')
			return true;
		len = strcspn(s, ", \t");
		lc->allow = realloc(lc->allow, (lc->nallow + 1) *
		    sizeof(*lc->allow));
		if (lc->allow == NULL)
			abort();
		if (len >= sizeof(item) || (memcpy(item, s, len),
		    item[len] = '\0', !parse_cidr(item, &lc->allow[lc->nallow]))) {
			*why = "not a list of ADDRESS/BITS (e.g. 192.168.1.0/24, "
			    "::1/128)";
			return false;
		}
		lc->nallow++;
		s += len;
	}
}

static bool
p_ports(struct loader *l, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = l->lc;
	char			 item[16];
	const char		*s = v;

	(void)field;
	for (;;) {
		unsigned long	 p;
		size_t		 len;

		s += strspn(s, ", \t");
		if (*s == '\0')
			return true;
		len = strcspn(s, ", \t");
		if (len >= sizeof(item) || (memcpy(item, s, len),
		    item[len] = '\0', !parse_uint(item, 1, 65535, &p))) {
			*why = "not a list of ports in 1..65535";
			return false;
		}
		lc->ports = realloc(lc->ports, (lc->nports + 1) *
		    sizeof(*lc->ports));
		if (lc->ports == NULL)
			abort();
		lc->ports[lc->nports++] = (uint16_t)p;
		s += len;
	}
}

static bool
p_yesno(struct loader *l, const char *v, void *field, const char **why)
{
	(void)l;
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		*why = "not one of yes, no";
		return false;
	}
	*(bool *)field = strcmp(v, "yes") == 0;
	return true;
}

#define SHIM(f)		offsetof(struct conf, f)
#define RULE(f)		offsetof(struct rule, f)
#define LISTEN(f)	offsetof(struct listen_conf, f)

static const struct key keys[] = {
	{ SEC_SHIM, "state_dir", p_dir, SHIM(state_dir), 0 },
	{ SEC_SHIM, "device_id", p_str, SHIM(device_id), 0 },
	{ SEC_SHIM, "user", p_str, SHIM(user), 0 },
	{ SEC_SHIM, "log_level", p_str, SHIM(log_level), 0 },
	{ SEC_SHIM, "ca_dir", p_dir, SHIM(ca_dir), 0 },
	{ SEC_UPSTREAM, "ca_file", p_file, SHIM(ca_file), 0 },
	{ SEC_UPSTREAM, "default_policy", p_default_policy, 0, 0 },
	{ SEC_UPSTREAM, "hosts_file", p_file, SHIM(hosts_file), 0 },
	{ SEC_UPSTREAM, "connect_timeout", p_seconds, SHIM(connect_timeout),
	    0 },
	{ SEC_UPSTREAM, "handshake_timeout", p_seconds,
	    SHIM(handshake_timeout), 0 },
	{ SEC_DOMAIN, "pins", p_pins, RULE(pins), K_LIST },
	{ SEC_DOMAIN, "policy", p_policy, RULE(policy), 0 },
	{ SEC_DOMAIN, "expires", p_expires, RULE(expires), 0 },
	{ SEC_DOMAIN, "on_expiry", p_on_expiry, RULE(on_expiry), 0 },
	{ SEC_DOMAIN, "upgrade", p_yesno, RULE(upgrade), 0 },
	{ SEC_FEED, "url", p_url, SHIM(feed.url), 0 },
	{ SEC_FEED, "fallback_url", p_url, SHIM(feed.fallback_url), 0 },
	{ SEC_FEED, "public_key", p_pubkeys, SHIM(feed), K_LIST },
	{ SEC_FEED, "pins", p_pins, SHIM(feed.pins), K_LIST },
	{ SEC_FEED, "refresh", p_refresh, SHIM(feed.refresh), 0 },
	{ SEC_FEED, "max_size", p_size, SHIM(feed.max_size), 0 },
	{ SEC_FEED, "timeout", p_seconds, SHIM(feed.timeout), 0 },
	{ SEC_META, "version", p_version, SHIM(meta.version), 0 },
	{ SEC_META, "issued", p_time, SHIM(meta.issued), 0 },
	{ SEC_META, "expires", p_time, SHIM(meta.expires), 0 },
	{ SEC_META, "report_url", p_https_url, SHIM(meta.report_url), 0 },
	{ SEC_DEVICE, "pinning", p_onoff, 0, 0 },
	{ SEC_LISTEN, "mode", p_mode, LISTEN(mode), 0 },
	{ SEC_LISTEN, "bind", p_bind, 0, 0 },
	{ SEC_LISTEN, "connect", p_connect, 0, 0 },
	{ SEC_LISTEN, "allow", p_allow, 0, K_LIST },
	{ SEC_LISTEN, "ports", p_ports, 0, K_LIST },
};

/* seen is a 64-bit mask over this table */
_Static_assert(sizeof(keys) / sizeof(keys[0]) <= 64, "keys[] outgrew seen");

static int
key_index(enum section_kind kind, const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(keys); i++)
		if (keys[i].section == kind && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

#define SEEN(kind, name)	(UINT64_C(1) << key_index(kind, name))

/* --- sections ---------------------------------------------------------- */

static void
finish_rule(struct loader *l)
{
	struct rule	*r = &l->rule;
	int		 line = l->section_line;

	if (!l->in_rule)
		return;
	l->in_rule = false;
	if (!(l->seen & SEEN(SEC_DOMAIN, "policy")))
		r->policy = POLICY_PIN;
	if ((r->policy == POLICY_PIN || r->policy == POLICY_PIN_ONLY) &&
	    r->pins.n == 0)
		conf_error(l, line, "[%s] pins: required for policy %s",
		    l->section, policy_name(r->policy));
	else if ((r->policy == POLICY_CA || r->policy == POLICY_BLOCK) &&
	    r->pins.n > 0)
		conf_error(l, line, "[%s] pins: policy %s never uses pins; "
		    "remove them or use policy pin", l->section,
		    policy_name(r->policy));
	else if ((l->seen & (SEEN(SEC_DOMAIN, "expires") |
	    SEEN(SEC_DOMAIN, "on_expiry"))) && r->pins.n == 0)
		conf_error(l, line, "[%s] expires: only pin sets expire",
		    l->section);
	else {
		size_t i;

		for (i = 0; i < l->conf->snap->nrules; i++)
			if (strcmp(l->conf->snap->rules[i].pat.base,
			    r->pat.base) == 0 &&
			    l->conf->snap->rules[i].pat.kind == r->pat.kind) {
				conf_error(l, line, "[%s]: same pattern as "
				    "[domain:%s] at %s", l->section,
				    l->conf->snap->rules[i].pattern,
				    l->conf->snap->rules[i].origin);
				break;
			}
		if (i == l->conf->snap->nrules) {
			if (snapshot_add_rule(l->conf->snap, r) == 0)
				return;
			conf_error(l, line, "out of memory");
		}
	}
	free(r->pattern);
	free(r->origin);
	pinset_free(&r->pins);
	memset(r, 0, sizeof(*r));
}

static void
finish_listener(struct loader *l)
{
	struct listen_conf	*lc = l->lc;
	int			 line = l->section_line;
	const char		*missing = NULL;

	if (lc == NULL)
		return;
	l->lc = NULL;
	lc->seen = l->seen;
	if (!(l->seen & SEEN(SEC_LISTEN, "mode")))
		missing = "mode";
	else if (!(l->seen & SEEN(SEC_LISTEN, "bind")))
		missing = "bind";
	else if (lc->mode == MODE_TUNNEL &&
	    !(l->seen & SEEN(SEC_LISTEN, "connect")))
		missing = "connect";
	else if (lc->mode == MODE_TRANSPARENT &&
	    !(l->seen & SEEN(SEC_LISTEN, "allow")))
		missing = "allow";	/* which clients may be intercepted */
	if (missing != NULL) {
		conf_error(l, line, "[%s] %s: missing required key",
		    l->section, missing);
		return;
	}
	if (lc->mode != MODE_TUNNEL && (l->seen & SEEN(SEC_LISTEN, "connect")))
		conf_error(l, line, "[%s] connect: only for mode tunnel (%s "
		    "listeners take the destination from the app)", l->section,
		    listen_mode_name(lc->mode));
	if (lc->mode != MODE_FORWARD && (l->seen & SEEN(SEC_LISTEN, "ports")))
		conf_error(l, line, "[%s] ports: only for mode forward",
		    l->section);
	if (lc->mode == MODE_TUNNEL && (l->seen & SEEN(SEC_LISTEN, "allow")))
		conf_error(l, line, "[%s] allow: not for mode tunnel (bind "
		    "it to a local address instead)", l->section);
	if (lc->mode == MODE_FORWARD && lc->nallow == 0) {
		/* default: this host only, never an open proxy */
		free(lc->allow);	/* grown by a failed parse, if any */
		lc->allow = xcalloc(2, sizeof(*lc->allow));
		parse_cidr("127.0.0.0/8", &lc->allow[0]);
		parse_cidr("::1/128", &lc->allow[1]);
		lc->nallow = 2;
	}
	if (lc->mode == MODE_FORWARD && lc->nports == 0) {
		free(lc->ports);
		lc->ports = xcalloc(1, sizeof(*lc->ports));
		lc->ports[0] = 443;
		lc->nports = 1;
	}
}

static void
finish_simple(struct loader *l, const char *const *required)
{
	for (; *required != NULL; required++)
		if (!(l->seen & SEEN(l->kind, *required)))
			conf_error(l, l->section_line, "[%s] %s: missing "
			    "required key", l->section, *required);
}

static void
finish_section(struct loader *l)
{
	static const char *const meta_req[] = { "version", "issued",
	    "expires", NULL };
	static const char *const feed_req[] = { "url", "public_key", NULL };
	static const char *const device_req[] = { "pinning", NULL };

	if (l->kind == SEC_DOMAIN)
		finish_rule(l);
	else if (l->kind == SEC_LISTEN)
		finish_listener(l);
	else if (l->kind == SEC_META)
		finish_simple(l, meta_req);
	else if (l->kind == SEC_FEED)
		finish_simple(l, feed_req);
	else if (l->kind == SEC_DEVICE)
		finish_simple(l, device_req);
	l->kind = SEC_NONE;
}

/* Returns false when the section itself is in error (keys then skipped). */
static bool
start_section(struct loader *l, const char *name)
{
	size_t	 i;

	snprintf(l->section, sizeof(l->section), "%s", name);
	l->seen = 0;
	l->prev_key = NULL;
	l->section_line = l->line;
	l->kind = SEC_NONE;

	for (i = 0; i < l->nsections; i++)
		if (strcmp(l->sections[i], name) == 0) {
			conf_error(l, l->line, "[%s]: section given twice",
			    name);
			return false;
		}
	l->sections = realloc(l->sections,
	    (l->nsections + 1) * sizeof(*l->sections));
	if (l->sections == NULL)
		abort();
	l->sections[l->nsections++] = xstrdup(name);

	if (l->conf->is_feed) {
		if (strcmp(name, "feed") == 0) {
			l->kind = SEC_META;
			l->has_meta = true;
			return true;
		}
		if (strncmp(name, "device:", 7) == 0) {
			struct feed_meta *m = &l->conf->meta;

			if (name[7] == '\0') {
				conf_error(l, l->line, "[%s]: empty device id",
				    name);
				return false;
			}
			m->devices = realloc(m->devices,
			    (m->ndevices + 1) * sizeof(*m->devices));
			if (m->devices == NULL)
				abort();
			m->devices[m->ndevices].id = xstrdup(name + 7);
			m->devices[m->ndevices++].pinning_off = false;
			l->kind = SEC_DEVICE;
			return true;
		}
		if (strncmp(name, "domain:", 7) != 0) {
			conf_error(l, l->line, "[%s]: unknown section in a "
			    "feed (want feed, domain:PATTERN or device:ID)",
			    name);
			return false;
		}
	}
	if (strcmp(name, "shim") == 0)
		l->kind = SEC_SHIM;
	else if (strcmp(name, "upstream") == 0)
		l->kind = SEC_UPSTREAM;
	else if (strcmp(name, "feed") == 0) {
		l->kind = SEC_FEED;
		l->conf->feed.present = true;
	} else if (strncmp(name, "domain:", 7) == 0) {
		const char	*why;
		char		 origin[512];

		memset(&l->rule, 0, sizeof(l->rule));
		if (!hostpat_parse(name + 7, &l->rule.pat, &why)) {
			conf_error(l, l->line, "[%s]: bad host pattern: %s",
			    name, why);
			return false;
		}
		l->rule.pattern = xstrdup(name + 7);
		snprintf(origin, sizeof(origin), "%s:%d", l->conf->path,
		    l->line);
		l->rule.origin = xstrdup(origin);
		l->rule.on_expiry = POLICY_BLOCK;
		l->in_rule = true;
		l->kind = SEC_DOMAIN;
	} else if (strncmp(name, "listen:", 7) == 0) {
		struct conf	*c = l->conf;
		char		 origin[512];
		const char	*n = name + 7;

		if (*n == '\0' || strspn(n, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(n)) {
			conf_error(l, l->line, "[%s]: listener names use "
			    "letters, digits, '_', '-' and '.'", name);
			return false;
		}
		c->listeners = realloc(c->listeners,
		    (c->nlisteners + 1) * sizeof(*c->listeners));
		if (c->listeners == NULL)
			abort();
		l->lc = &c->listeners[c->nlisteners++];
		memset(l->lc, 0, sizeof(*l->lc));
		l->lc->name = xstrdup(n);
		snprintf(origin, sizeof(origin), "%s:%d", c->path, l->line);
		l->lc->origin = xstrdup(origin);
		l->kind = SEC_LISTEN;
	} else if (strcmp(name, "monitor") == 0) {
		conf_error(l, l->line, "[%s]: not supported by this version "
		    "yet", name);
		return false;
	} else {
		conf_error(l, l->line, "[%s]: unknown section (want shim, "
		    "upstream, domain:PATTERN or listen:NAME)", name);
		return false;
	}
	return true;
}

static void *
section_base(struct loader *l)
{
	switch (l->kind) {
	case SEC_SHIM:
	case SEC_UPSTREAM:
	case SEC_FEED:
	case SEC_META:
	case SEC_DEVICE:
		return l->conf;
	case SEC_DOMAIN:
		return &l->rule;
	case SEC_LISTEN:
		return l->lc;
	default:
		return NULL;
	}
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader	*l = user;
	const char	*why = NULL;
	int		 k;

	/* Section boundaries are tracked by reader(), which sees headers. */
	l->key_in_section = true;
	if (*section == '\0') {
		conf_error(l, l->line, "%s: key outside any section", name);
		return 1;
	}
	if (l->kind == SEC_NONE)
		return 1;	/* the section was already reported */

	k = key_index(l->kind, name);
	if (k < 0) {
		if (l->kind == SEC_SHIM && strcmp(name, "status") == 0)
			conf_error(l, l->line, "[%s] %s: not supported by "
			    "this version yet", l->section, name);
		else
			conf_error(l, l->line, "[%s] %s: unknown key",
			    l->section, name);
		return 1;
	}
	if (l->seen & (UINT64_C(1) << k)) {
		bool cont = l->continuation && l->prev_key != NULL &&
		    strcmp(l->prev_key, name) == 0;

		if (!cont || !(keys[k].flags & K_LIST)) {
			conf_error(l, l->line, "[%s] %s: key given twice",
			    l->section, name);
			return 1;
		}
	}
	l->seen |= UINT64_C(1) << k;
	l->prev_key = keys[k].name;
	if (!keys[k].parse(l, value, (char *)section_base(l) + keys[k].off,
	    &why))
		conf_error(l, l->line, "[%s] %s: %s", l->section, name, why);
	return 1;
}

/* A "[name]" line: close the section before it and open this one. Done
 * here rather than in handler() so empty and repeated sections are seen.
 * Must classify lines exactly as inih does, or keys would land in the
 * wrong section: a BOM on line 1 is skipped, and an indented line is a
 * header only while no key has been read in the current section (after
 * one, inih takes it as a continuation of that key's value). */
static void
header_line(struct loader *l, const char *str, bool indented)
{
	const char	*s = str, *end;
	char		 name[sizeof(l->section)];
	size_t		 len;

	if (l->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s += strspn(s, " \t");
	if (*s != '[' || (end = strchr(s, ']')) == NULL)
		return;
	if (indented && l->key_in_section)
		return;
	len = (size_t)(end - s - 1);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, s + 1, len);
	name[len] = '\0';
	finish_section(l);
	start_section(l, name);
	l->key_in_section = false;
}

/* inih reader: counts lines, tracks sections, reports overlong lines. */
static char *
reader(char *str, int num, void *stream)
{
	struct loader	*l = stream;
	bool		 indented;
	int		 c;

	if (fgets(str, num, l->file) == NULL)
		return NULL;
	l->line++;
	if (strchr(str, '\n') == NULL && !feof(l->file)) {
		while ((c = fgetc(l->file)) != EOF && c != '\n')
			;
		str[0] = '\0';	/* inih skips it; the error is ours */
		conf_error(l, l->line, "line longer than %d characters "
		    "(continue pin lists on indented lines)", num - 2);
		return str;
	}
	indented = (str[0] == ' ' || str[0] == '\t');
	l->continuation = indented && l->key_in_section;
	header_line(l, str, indented);
	return str;
}

static bool
binds_clash(const struct listen_conf *a, const struct listen_conf *b)
{
	unsigned char	 x[16], y[16], any[16];
	int		 fx, fy;

	if (a->bind_port != b->bind_port)
		return false;
	/* Compare addresses, not spellings ([::1] is [0::1]). */
	fx = strchr(a->bind_host, ':') ? AF_INET6 : AF_INET;
	fy = strchr(b->bind_host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fx, a->bind_host, x) != 1 ||
	    inet_pton(fy, b->bind_host, y) != 1)
		return true;	/* unreachable: p_bind checked them */
	memset(any, 0, sizeof(any));
	if (memcmp(x, any, fx == AF_INET ? 4 : 16) == 0 ||
	    memcmp(y, any, fy == AF_INET ? 4 : 16) == 0)
		return true;	/* a wildcard clashes with everything */
	return fx == fy && memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

static void
check_whole(struct loader *l)
{
	struct conf	*c = l->conf;
	size_t		 i, j;

	if (c->nlisteners == 0)
		conf_error(l, l->line > 0 ? l->line : 1,
		    "no [listen:NAME] section: nothing to serve");
	for (i = 0; i < c->nlisteners; i++)
		for (j = 0; j < i; j++)
			if ((c->listeners[i].seen & SEEN(SEC_LISTEN, "bind")) &&
			    (c->listeners[j].seen & SEEN(SEC_LISTEN, "bind")) &&
			    binds_clash(&c->listeners[i], &c->listeners[j])) {
				fprintf(l->errs, "%s: [listen:%s] bind: "
				    "%s:%u already used by [listen:%s] at "
				    "%s\n", c->listeners[i].origin,
				    c->listeners[i].name,
				    c->listeners[i].bind_host,
				    c->listeners[i].bind_port,
				    c->listeners[j].name,
				    c->listeners[j].origin);
				l->errors++;
			}
	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].mode != MODE_TUNNEL && c->ca_dir == NULL) {
			if (c->state_dir == NULL) {
				fprintf(l->errs, "%s: [listen:%s] mode: %s needs "
				    "the interception CA: set [shim] state_dir "
				    "(CA in STATE/ca) or ca_dir\n",
				    c->listeners[i].origin,
				    c->listeners[i].name,
				    listen_mode_name(c->listeners[i].mode));
				l->errors++;
				break;
			}
			c->ca_dir = xcalloc(1, strlen(c->state_dir) + 4);
			sprintf(c->ca_dir, "%s/ca", c->state_dir);
		}
	if (c->ca_file == NULL) {
		if (access(CONF_DEFAULT_CA_FILE, R_OK) != 0)
			conf_error(l, 1, "[upstream] ca_file: not set and the "
			    "system store %s is not readable",
			    CONF_DEFAULT_CA_FILE);
		c->ca_file = xstrdup(CONF_DEFAULT_CA_FILE);
	}
	c->snap->default_policy = l->has_default ? l->default_policy :
	    POLICY_BLOCK;
}

static void
check_feed_body(struct loader *l)
{
	struct feed_meta	*m = &l->conf->meta;

	if (!l->has_meta)
		conf_error(l, 1, "[feed]: missing (version, issued, expires)");
	else if (m->expires <= m->issued)
		conf_error(l, 1, "[feed] expires: not after issued");
}

static void
check_feed_conf(struct loader *l)
{
	struct conf	*c = l->conf;

	if (!c->feed.present)
		return;
	if (c->state_dir == NULL)
		conf_error(l, 1, "[shim] state_dir: required with [feed] "
		    "(the last good feed is kept there)");
	if (c->feed.url != NULL && strncmp(c->feed.url, "https://", 8) != 0)
		conf_error(l, 1, "[feed] url: must be https:// (the plain "
		    "fallback_url is the place for http://)");
}

/* Both file kinds go through here: one loader, one set of rules. */
static struct conf *
conf_parse(struct conf *c, FILE *f, FILE *errs)
{
	struct loader	 l;
	size_t		 i;
	int		 rc;

	memset(&l, 0, sizeof(l));
	l.conf = c;
	l.errs = errs;
	l.file = f;
	rc = ini_parse_stream(reader, &l, handler, &l);
	finish_section(&l);
	if (rc > 0 && rc != l.last_err_line)
		conf_error(&l, rc, "syntax error (want [section] or "
		    "key = value)");
	else if (rc < 0)
		conf_error(&l, 1, "cannot read the file");
	if (l.errors == 0) {
		if (c->is_feed)
			check_feed_body(&l);
		else {
			check_whole(&l);
			check_feed_conf(&l);
		}
	}
	for (i = 0; i < l.nsections; i++)
		free(l.sections[i]);
	free(l.sections);
	if (l.errors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static struct conf *
conf_new(const char *path)
{
	struct conf	*c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->connect_timeout = 10;
	c->handshake_timeout = 10;
	c->feed.refresh = FEED_DEFAULT_REFRESH;
	c->feed.max_size = FEED_DEFAULT_MAX_SIZE;
	c->feed.timeout = FEED_DEFAULT_TIMEOUT;
	c->snap = snapshot_new(POLICY_BLOCK);
	return c;
}

struct conf *
conf_load(const char *path, FILE *errs)
{
	struct conf	*c = conf_new(path);
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		conf_free(c);
		return NULL;
	}
	c = conf_parse(c, f, errs);
	fclose(f);
	return c;
}

struct conf *
conf_load_feed(const char *name, const char *body, size_t len, FILE *errs)
{
	struct conf	*c;
	const char	*nul;
	FILE		*f;

	if ((nul = memchr(body, '\0', len)) != NULL) {
		fprintf(errs, "%s: NUL byte at offset %zu\n", name,
		    (size_t)(nul - body));
		return NULL;
	}
	if (len == 0 || body[len - 1] != '\n') {
		fprintf(errs, "%s: does not end with a newline "
		    "(truncated?)\n", name);
		return NULL;
	}
	if ((f = fmemopen((void *)(uintptr_t)body, len, "r")) == NULL) {
		fprintf(errs, "%s: %s\n", name, strerror(errno));
		return NULL;
	}
	c = conf_new(name);
	c->is_feed = true;
	c = conf_parse(c, f, errs);
	fclose(f);
	return c;
}

bool
feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN])
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	/* Same shape as a pin (32 bytes, canonical base64): reuse its
	 * strict parser rather than write another. */
	if (strncmp(s, "ed25519:", 8) != 0 || strlen(s + 8) != PIN_B64_LEN)
		return false;
	snprintf(text, sizeof(text), "%s%s", PIN_PREFIX, s + 8);
	if (!pin_parse(text, &p))
		return false;
	memcpy(out, p.hash, FEED_KEY_LEN);
	return true;
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].origin);
		free(c->listeners[i].allow);
		free(c->listeners[i].ports);
	}
	free(c->listeners);
	snapshot_unref(c->snap);
	free(c->state_dir);
	free(c->device_id);
	free(c->user);
	free(c->log_level);
	free(c->ca_dir);
	free(c->ca_file);
	free(c->hosts_file);
	free(c->feed.url);
	free(c->feed.fallback_url);
	pinset_free(&c->feed.pins);
	free(c->meta.report_url);
	for (i = 0; i < c->meta.ndevices; i++)
		free(c->meta.devices[i].id);
	free(c->meta.devices);
	free(c->path);
	free(c);
}

const char *
listen_mode_name(enum listen_mode m)
{
	switch (m) {
	case MODE_TUNNEL:
		return "tunnel";
	case MODE_FORWARD:
		return "forward";
	case MODE_TRANSPARENT:
		return "transparent";
	}
	return "?";
}
