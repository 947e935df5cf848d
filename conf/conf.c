/*
 * conf.c - load and validate the INI configuration: the [shim],
 * [upstream], [feed] and [listen:NAME] sections, [domain:PATTERN] through
 * pins/rule.c, all read by the table-driven engine in base/ini.c.
 *
 * A second pass checks what spans sections (at least one listener, binds
 * that clash, the interception CA that forward and transparent need, the
 * trust store, what [feed] requires). Nothing is ever ignored.
 *
 * Must never: hand out a configuration that had a single error, or
 * default anything towards less checking (default_policy block, forward
 * listeners allow this host only, CONNECT to port 443 only).
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/util.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include "base/file.h"
#include "base/ini.h"
#include "base/list.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/url.h"
#include "conf/conf.h"
#include "pins/feed_file.h"
#include "pins/rule.h"
#include "pins/tofu.h"

/* --- value parsers ---------------------------------------------------- */

static bool
p_file(struct ini *in, const char *v, void *field, const char **why)
{
	if (!ini_str(in, v, field, why))
		return false;
	if (access(v, R_OK) != 0) {
		*why = "file not readable";
		return false;
	}
	return true;
}

/* client_cert: a readable file, and the line naming it. */
static bool
p_ident_file(struct ini *in, const char *v, void *field, const char **why)
{
	struct ident_file	*f = field;

	if (!p_file(in, v, &f->path, why))
		return false;
	f->line = in->line;
	return true;
}

/* client_key: an absolute path, and the line naming it. Only the keeper
 * (and run -t) read it: the worker, which reloads the INI as [shim] user,
 * may not be able to, and must not. */
static bool
p_ident_key(struct ini *in, const char *v, void *field, const char **why)
{
	struct ident_file	*f = field;

	if (*v != '/') {
		*why = "must be an absolute path";
		return false;
	}
	if (!ini_str(in, v, &f->path, why))
		return false;
	f->line = in->line;
	return true;
}

static bool
p_dir(struct ini *in, const char *v, void *field, const char **why)
{
	if (!ini_str(in, v, field, why))
		return false;
	if (*v != '/') {
		*why = "must be an absolute path";
		return false;
	}
	return true;
}

static bool
p_log_level(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (!log_parse_level(v, field)) {
		*why = "not one of error, warn, info, debug";
		return false;
	}
	return true;
}

static bool
p_log_format(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (!log_parse_format(v, field)) {
		*why = "not one of text, json";
		return false;
	}
	return true;
}

/* rfc3164 (default: what syslog(3) sends; journald and busybox read
 * it) | rfc5424 (year, milliseconds, host: rsyslog, syslog-ng) */
static bool
p_syslog_format(struct ini *in, const char *v, void *field,
    const char **why)
{
	(void)in;
	if (!log_parse_syslog_format(v, field)) {
		*why = "not one of rfc3164, rfc5424";
		return false;
	}
	return true;
}

/* all: a verdict line for every connection and a close line for every
 * relay; refusals: only the lines of refusals and would-refuse (a
 * gateway on flash: info writes two lines per connection otherwise). */
static bool
p_log_connections(struct ini *in, const char *v, void *field,
    const char **why)
{
	(void)in;
	if (strcmp(v, "all") == 0)
		*(bool *)field = false;
	else if (strcmp(v, "refusals") == 0)
		*(bool *)field = true;
	else {
		*why = "not one of all, refusals";
		return false;
	}
	return true;
}

static bool
p_default_policy(struct ini *in, const char *v, void *field,
    const char **why)
{
	if (!rule_policy_value(in, v, field, why))
		return false;
	if (*(enum policy *)field != POLICY_BLOCK &&
	    *(enum policy *)field != POLICY_CA) {
		*why = "must be block or ca (pins belong to [domain:...])";
		return false;
	}
	return true;
}

static bool
p_truncation(struct ini *in, const char *v, void *field, const char **why)
{
	enum truncation	*dst = field;

	(void)in;
	if (strcmp(v, "reset") == 0)
		*dst = TRUNCATION_RESET;
	else if (strcmp(v, "close") == 0)
		*dst = TRUNCATION_CLOSE;
	else {
		*why = "not reset or close";
		return false;
	}
	return true;
}

static bool
p_mode(struct ini *in, const char *v, void *field, const char **why)
{
	enum listen_mode	*dst = field;

	(void)in;
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
p_client_tls(struct ini *in, const char *v, void *field, const char **why)
{
	enum client_tls	*dst = field;

	(void)in;
	if (strcmp(v, "modern") == 0)
		*dst = CLIENT_TLS_MODERN;
	else if (strcmp(v, "compatible") == 0)
		*dst = CLIENT_TLS_COMPATIBLE;
	else {
		*why = "not modern or compatible";
		return false;
	}
	return true;
}

static bool
p_bind(struct ini *in, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = field;
	unsigned char		 buf[16];

	(void)in;
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
p_connect(struct ini *in, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = field;
	char			 host[HOST_MAX + 1];

	(void)in;
	if (!parse_hostport(v, host, sizeof(host), &lc->connect_port)) {
		*why = "not HOST:PORT";
		return false;
	}
	return host_canon(host, lc->connect_host, sizeof(lc->connect_host),
	    why);
}

/* alpn = proto, ...: ALPN protocol names (RFC 7301), 1..255 printable
 * bytes each, each once; kept as wolfSSL takes them: "a,b". Called once
 * more for each continuation line: appends. */
static bool
p_alpn(struct ini *in, const char *v, void *field, const char **why)
{
	char		**dst = field;
	char		 item[256 + 1], *out;
	const char	*p = v, *q;
	enum list_item	 r;
	size_t		 i, len, olen = *dst ? strlen(*dst) : 0;

	(void)in;
	out = xcalloc(1, olen + 1 + strlen(v) + 1);
	if (*dst != NULL)
		memcpy(out, *dst, olen + 1);
	while ((r = list_next(&p, item, sizeof(item))) != LIST_END) {
		len = strlen(item);
		for (i = 0; i < len; i++)
			if (item[i] < 0x21 || item[i] > 0x7e)
				break;
		if (r == LIST_TOO_LONG || len > 255 || i < len) {
			*why = "not a list of protocol names of 1..255 "
			    "printable characters (e.g. h2, http/1.1, "
			    "x-amzn-mqtt-ca)";
			goto bad;
		}
		for (q = out; *q != '\0'; q += strcspn(q, ",") +
		    (q[strcspn(q, ",")] == ',')) {
			if (strcspn(q, ",") == len && memcmp(q, item,
			    len) == 0) {
				*why = "a protocol name is listed twice";
				goto bad;
			}
		}
		if (olen > 0)
			out[olen++] = ',';
		memcpy(out + olen, item, len + 1);
		olen += len;
	}
	if (olen == 0) {
		*why = "an empty list";
		goto bad;
	}
	free(*dst);
	*dst = out;
	return true;
bad:
	free(out);
	return false;
}

/* A list of ADDRESS/BITS onto *arr. */
static bool
cidr_list(const char *v, struct cidr **arr, size_t *n, const char **why)
{
	char			 item[64];
	enum list_item		 r;
	struct cidr		 c;

	while ((r = list_next(&v, item, sizeof(item))) != LIST_END) {
		if (r == LIST_TOO_LONG || !parse_cidr(item, &c)) {
			*why = "not a list of ADDRESS/BITS (e.g. 192.168.1.0/24, "
			    "::1/128)";
			return false;
		}
		*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
		(*arr)[(*n)++] = c;
	}
	return true;
}

static bool
p_allow(struct ini *in, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = field;

	(void)in;
	return cidr_list(v, &lc->allow, &lc->nallow, why);
}

/* log = stderr | syslog | syslog:/PATH */
static bool
p_log(struct ini *in, const char *v, void *field, const char **why)
{
	char	**dst = field;

	(void)in;
	free(*dst);
	*dst = NULL;
	if (strcmp(v, "stderr") == 0)
		return true;
	if (strcmp(v, "syslog") == 0) {
		*dst = xstrdup(LOG_SYSLOG_PATH);
		return true;
	}
	if (strncmp(v, "syslog:/", 8) == 0 && strlen(v + 7) < 108) {
		*dst = xstrdup(v + 7);
		return true;
	}
	*why = "not one of stderr, syslog, syslog:/PATH";
	return false;
}

/* nameservers = IP[:PORT], ...: checked here, handed to evdns as text. */
static bool
p_nameservers(struct ini *in, const char *v, void *field, const char **why)
{
	char			 item[80];
	const char		*p = v;
	enum list_item		 r;
	struct sockaddr_storage	 ss;
	int			 len;
	size_t			 n = 0;

	(void)in;
	while ((r = list_next(&p, item, sizeof(item))) != LIST_END) {
		len = sizeof(ss);
		if (r == LIST_TOO_LONG || evutil_parse_sockaddr_port(item,
		    (struct sockaddr *)&ss, &len) != 0) {
			*why = "not a list of IP or IP:PORT ([::1]:53 for IPv6)";
			return false;
		}
		n++;
	}
	if (n == 0 || n > 8) {
		*why = "1 to 8 nameservers";
		return false;
	}
	*(char **)field = xstrdup(v);
	return true;
}

static bool
p_status(struct ini *in, const char *v, void *field, const char **why)
{
	struct status_conf	*sc = field;
	unsigned char		 buf[16];
	struct sockaddr_un	 un;

	(void)in;
	sc->present = true;
	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/' || strlen(v + 5) >= sizeof(un.sun_path)) {
			*why = "unix: needs an absolute path of at most 107 "
			    "bytes";
			return false;
		}
		sc->unix_path = xstrdup(v + 5);
		return true;
	}
	if (!parse_hostport(v, sc->host, sizeof(sc->host), &sc->port) ||
	    (inet_pton(AF_INET, sc->host, buf) != 1 &&
	    inet_pton(AF_INET6, sc->host, buf) != 1)) {
		*why = "not ADDRESS:PORT (numeric; IPv6 as [::1]:PORT) or "
		    "unix:/PATH";
		return false;
	}
	return true;
}

/* device_id labels metrics and reports and is matched by the feed's
 * per-device overrides: text, the same bytes everywhere it is shown. */
static bool
p_device_id(struct ini *in, const char *v, void *field, const char **why)
{
	if (!str_utf8_printable(v)) {
		*why = "not printable UTF-8 text (a byte that is not UTF-8, "
		    "or a control character)";
		return false;
	}
	return ini_str(in, v, field, why);
}

bool
conf_status_parse(const char *v, struct status_conf *sc, const char **why)
{
	return p_status(NULL, v, sc, why);
}

int
conf_status_only(const char *path, struct status_conf *sc, FILE *errs)
{
	char		 val[1024];
	const char	*why;
	FILE		*f;
	int		 line;

	memset(sc, 0, sizeof(*sc));
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	line = ini_find(f, "shim", "status", val, sizeof(val));
	fclose(f);
	if (line == -1) {
		fprintf(errs, "%s: cannot read the file\n", path);
		return -1;
	}
	if (line > 0 && !conf_status_parse(val, sc, &why)) {
		fprintf(errs, "%s:%d: [shim] status: %s\n", path, line, why);
		return -1;
	}
	return 0;
}

static bool
p_status_allow(struct ini *in, const char *v, void *field, const char **why)
{
	struct status_conf	*sc = field;

	(void)in;
	return cidr_list(v, &sc->allow, &sc->nallow, why);
}

static bool
p_ports(struct ini *in, const char *v, void *field, const char **why)
{
	struct listen_conf	*lc = field;
	char			 item[16];
	enum list_item		 r;
	unsigned long		 p;

	(void)in;
	while ((r = list_next(&v, item, sizeof(item))) != LIST_END) {
		if (r == LIST_TOO_LONG || !parse_uint(item, 1, 65535, &p)) {
			*why = "not a list of ports in 1..65535";
			return false;
		}
		lc->ports = xreallocarray(lc->ports, lc->nports + 1,
		    sizeof(*lc->ports));
		lc->ports[lc->nports++] = (uint16_t)p;
	}
	return true;
}

/* proxy = http://HOST:PORT | none: plain HTTP to the proxy, which only
 * ever carries CONNECT; TLS runs end to end through it. */
static bool
p_proxy(struct ini *in, const char *v, void *field, const char **why)
{
	struct proxy_conf	*pc = field;
	struct url		 u;
	bool			 ok;

	(void)in;
	if (strcmp(v, "none") == 0) {
		pc->use = PROXY_NONE;
		return true;
	}
	if (strchr(v, '@') != NULL) {
		*why = "credentials go in proxy_auth_file, never in the INI";
		return false;
	}
	if (strncmp(v, "http://", 7) != 0 || !url_parse(v, &u, why)) {
		*why = "want http://HOST:PORT or none";
		return false;
	}
	/* nothing after the authority but an optional "/" */
	ok = (strchr(v + 7, '/') == NULL || strcmp(strchr(v + 7, '/'), "/") ==
	    0) && strpbrk(v + 7, "?#") == NULL &&
	    host_canon(u.host, pc->host, sizeof(pc->host), why);
	pc->port = u.port;
	url_free(&u);
	if (!ok) {
		*why = "want http://HOST:PORT or none (no path)";
		return false;
	}
	pc->use = PROXY_HTTP;
	snprintf(pc->name, sizeof(pc->name), strchr(pc->host, ':') ?
	    "[%s]:%u" : "%s:%u", pc->host, pc->port);
	return true;
}

#define PROXY_AUTH_MAX	384	/* bytes of "user:password" */

/* proxy_auth_file = FILE: one line "user:password", read now (as root,
 * before privileges drop) and kept base64-encoded for Proxy-Authorization;
 * a file others may read is refused, as ssh refuses such a key. */
static bool
p_proxy_auth(struct ini *in, const char *v, void *field, const char **why)
{
	struct proxy_conf	*pc = field;
	char			 buf[PROXY_AUTH_MAX + 3];
	byte			 b64[(PROXY_AUTH_MAX + 2) / 3 * 4 + 1];
	word32			 blen = sizeof(b64) - 1;
	struct stat		 st;
	ssize_t			 n;
	size_t			 len, i;
	int			 fd;

	if ((fd = open(v, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = ini_why(in, "%s: %s", v, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = ini_why(in, "%s: not a regular file", v);
		return false;
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		*why = ini_why(in, "%s: readable or writable by group or "
		    "others (mode %03o): chmod 600 it", v,
		    (unsigned)st.st_mode & 0777);
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	len = n > 0 ? (size_t)n : 0;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	*why = NULL;
	if (n == -1)
		*why = ini_why(in, "%s: %s", v, strerror(errno));
	else if (len > PROXY_AUTH_MAX)
		*why = ini_why(in, "%s: longer than %d bytes", v,
		    PROXY_AUTH_MAX);
	else if (len == 0 || buf[0] == ':' || memchr(buf, ':', len) == NULL)
		*why = ini_why(in, "%s: want one line user:password", v);
	for (i = 0; *why == NULL && i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			*why = ini_why(in, "%s: want one line user:password "
			    "(a control byte or a second line)", v);
	if (*why == NULL && Base64_Encode_NoNl((const byte *)buf, (word32)len,
	    b64, &blen) != 0)
		*why = "cannot encode";
	explicit_bzero(buf, sizeof(buf));
	if (*why != NULL) {
		explicit_bzero(b64, sizeof(b64));
		return false;
	}
	b64[blen] = '\0';
	if (pc->auth != NULL) {
		explicit_bzero(pc->auth, strlen(pc->auth));
		free(pc->auth);
	}
	pc->auth = xstrdup((const char *)b64);
	explicit_bzero(b64, sizeof(b64));
	return true;
}

/* no_proxy = PATTERN | IP[/BITS], ...: hosts reached directly. */
static bool
p_no_proxy(struct ini *in, const char *v, void *field, const char **why)
{
	struct conf		*c = field;
	struct no_proxy		 np;
	char			 item[HOST_MAX + 8];
	enum list_item		 r;

	(void)in;
	while ((r = list_next(&v, item, sizeof(item))) != LIST_END) {
		memset(&np, 0, sizeof(np));
		if (r == LIST_TOO_LONG) {
			*why = "an item longer than a host name";
			return false;
		}
		if (parse_cidr(item, &np.cidr))
			np.is_cidr = true;
		else if (!hostpat_parse(item, &np.pat, why)) {
			*why = ini_why(in, "%s: %s (want host patterns as in "
			    "[domain:...], or IP[/BITS])", item, *why);
			return false;
		}
		c->no_proxy = xreallocarray(c->no_proxy, c->nno_proxy + 1,
		    sizeof(*c->no_proxy));
		c->no_proxy[c->nno_proxy++] = np;
	}
	return true;
}

/* proxy_auth_file goes with the proxy of its own section. */
static void
check_proxy_auth(struct ini *in, int line, const struct proxy_conf *pc)
{
	if (pc->auth != NULL && pc->use != PROXY_HTTP)
		ini_error(in, line, "[%s] proxy_auth_file: without proxy = "
		    "http://HOST:PORT in this section", in->section);
}

/* --- sections ---------------------------------------------------------- */

#define SHIM(f)		offsetof(struct conf, f)
#define SECONDS		1, 3600, "whole number of seconds"
#define LISTEN(f)	offsetof(struct listen_conf, f)

static const struct ini_key shim_keys[] = {
	INI_KEY("state_dir", p_dir, SHIM(state_dir), 0),
	INI_KEY("device_id", p_device_id, SHIM(device_id), 0),
	INI_KEY("user", ini_str, SHIM(user), 0),
	INI_KEY("log_level", p_log_level, SHIM(log_level), 0),
	INI_KEY("log", p_log, SHIM(log_syslog), 0),
	INI_KEY("log_format", p_log_format, SHIM(log_format), 0),
	INI_KEY("syslog_format", p_syslog_format, SHIM(syslog_format), 0),
	INI_KEY("log_connections", p_log_connections,
	    SHIM(log_refusals_only), 0),
	INI_UINT("tofu_max", SHIM(tofu_max), 0, 1, 16384, "whole number"),
	INI_KEY("ca_dir", p_dir, SHIM(ca_dir), 0),
	INI_UINT("mint_rate", SHIM(mint_rate), 0, 1, 100000, "whole number "
	    "of names a second"),
	INI_KEY("status", p_status, SHIM(status), 0),
	INI_KEY("status_allow", p_status_allow, SHIM(status), INI_LIST),
	INI_UINT("shutdown_timeout", SHIM(shutdown_timeout), 0, 0, 3600,
	    "whole number of seconds"),
};

static const struct ini_key upstream_keys[] = {
	INI_KEY("ca_file", p_file, SHIM(ca_file), 0),
	INI_KEY("default_policy", p_default_policy, SHIM(default_policy),
	    0),
	INI_KEY("hosts_file", p_file, SHIM(hosts_file), 0),
	INI_KEY("nameservers", p_nameservers, SHIM(nameservers), INI_LIST),
	INI_UINT("connect_timeout", SHIM(connect_timeout), 0, SECONDS),
	INI_UINT("handshake_timeout", SHIM(handshake_timeout), 0, SECONDS),
	INI_KEY("truncation", p_truncation, SHIM(truncation), 0),
	INI_KEY("proxy", p_proxy, SHIM(proxy), 0),
	INI_KEY("proxy_auth_file", p_proxy_auth, SHIM(proxy), 0),
	INI_KEY("no_proxy", p_no_proxy, 0, INI_LIST),
};

/* [feed] public_key, sign_key: each KEY ed25519:BASE64, or the absolute
 * path of a file holding one (NAME.pub) or a PEM public key (openssl
 * pkey -pubout), read here so `run -t` checks it. Feed bodies' key sets
 * take only the inline form (feed_role_keys_value): a published file
 * never names a path on the device. */
static bool
p_feed_keys(struct ini *in, const char *v, void *field, const char **why)
{
	struct feed_role	*r = field;
	char			 item[4096], *text;
	enum list_item		 li;
	size_t			 len;
	bool			 ok;

	while ((li = list_next(&v, item, sizeof(item))) != LIST_END) {
		if (li == LIST_TOO_LONG) {
			*why = "an item too long for a key or a path";
			return false;
		}
		if (item[0] != '/') {	/* inline: feed bodies' parser */
			if (!feed_role_keys_value(in, item, r, why))
				return false;
			continue;
		}
		if (r->n == FEED_KEYS_MAX) {
			*why = "more than 8 keys";
			return false;
		}
		if ((text = file_read(item, 16384, &len, NULL)) == NULL) {
			*why = ini_why(in, "%s: %s", item, strerror(errno));
			return false;
		}
		ok = feed_key_decode(text, len, r->keys[r->n], why);
		free(text);
		if (!ok) {
			*why = ini_why(in, "%s: %s", item, *why);
			return false;
		}
		r->n++;
	}
	return true;
}

static const struct ini_key feed_keys[] = {
	INI_KEY("url", ini_url, SHIM(feed.url), 0),
	INI_KEY("fallback_url", ini_url, SHIM(feed.fallback_url), 0),
	INI_KEY("public_key", p_feed_keys, SHIM(feed.keys.root), INI_LIST),
	INI_UINT("root_threshold", SHIM(feed.keys.root.threshold), 0, 1,
	    FEED_KEYS_MAX, "whole number"),
	INI_KEY("sign_key", p_feed_keys, SHIM(feed.keys.sign), INI_LIST),
	INI_UINT("sign_threshold", SHIM(feed.keys.sign.threshold), 0, 1,
	    FEED_KEYS_MAX, "whole number"),
	INI_UINT("keys_version", SHIM(feed.keys.version), 0, 1, 4294967295UL,
	    "whole number"),
	INI_KEY("pins", rule_pins_value, SHIM(feed.pins), INI_LIST),
	/* 10 s is for labs and tests; fleets want minutes (default 300) */
	INI_UINT("refresh", SHIM(feed.refresh), 0, 10, 86400,
	    "whole number of seconds"),
	INI_UINT("max_size", SHIM(feed.max_size), 0, 1024,
	    64UL * 1024 * 1024, "byte count"),
	INI_UINT("timeout", SHIM(feed.timeout), 0, SECONDS),
	INI_KEY("proxy", p_proxy, SHIM(feed.proxy), 0),
	INI_KEY("proxy_auth_file", p_proxy_auth, SHIM(feed.proxy), 0),
};
static const char *const feed_required[] = { "url", "public_key", NULL };

static const struct ini_key listen_keys[] = {
	INI_KEY("mode", p_mode, LISTEN(mode), 0),
	INI_KEY("bind", p_bind, 0, 0),
	INI_KEY("connect", p_connect, 0, 0),
	INI_KEY("alpn", p_alpn, LISTEN(alpn), INI_LIST),
	INI_KEY("allow", p_allow, 0, INI_LIST),
	INI_KEY("ports", p_ports, 0, INI_LIST),
	INI_UINT("max_conns", LISTEN(max_conns), 0, 1, 1000000,
	    "whole number"),
	INI_UINT("max_conns_per_client", LISTEN(max_per_client), 0, 1,
	    1000000, "whole number"),
	INI_UINT("ipv6_client_prefix", LISTEN(v6_prefix), 0, 1, 128,
	    "prefix length"),
	INI_UINT("idle_timeout", LISTEN(idle_timeout), 0, 0, 86400,
	    "whole number of seconds"),
	INI_UINT("backlog", LISTEN(backlog), 0, 1, 65535, "whole number"),
	INI_KEY("client_tls", p_client_tls, LISTEN(client_tls), 0),
	INI_KEY("proxy", p_proxy, LISTEN(proxy), 0),
	INI_KEY("proxy_auth_file", p_proxy_auth, LISTEN(proxy), 0),
	INI_KEY("client_cert", p_ident_file, LISTEN(client_cert), 0),
	INI_KEY("client_key", p_ident_key, LISTEN(client_key), 0),
};

/* [domain:PATTERN] in the INI: the rule's keys (pins/rule.c, shared with
 * the feed body) and the device identity's, which the feed never has.
 * The identity's fields follow the rule loader, so the one object the
 * section writes into (the rule being read) reaches them at offsets past
 * the rule; at the close they move to conf->idents, out of the rule. */
struct domain_loader {
	struct rule_loader	 rl;		/* first: rl.rule is the object */
	struct ident_file	 cert, key;
	struct conf		*c;
	struct ini_section	 rule;		/* pins/rule.c's section */
	struct ini_key		 keys[64];
};
#define DOMAIN(f)	(offsetof(struct domain_loader, f) - \
			    offsetof(struct domain_loader, rl.rule))

static const struct ini_key domain_ident_keys[] = {
	INI_KEY("client_cert", p_ident_file, DOMAIN(cert), 0),
	INI_KEY("client_key", p_ident_key, DOMAIN(key), 0),
};

/* Both keys or neither: an error, or false for neither. */
static bool
ident_pair(struct ini *in, const struct ident_file *cert,
    const struct ident_file *key)
{
	if (cert->path != NULL && key->path == NULL)
		ini_error(in, cert->line, "[%s] client_key: required with "
		    "client_cert", in->section);
	else if (key->path != NULL && cert->path == NULL)
		ini_error(in, key->line, "[%s] client_cert: required with "
		    "client_key", in->section);
	else
		return cert->path != NULL;
	return false;
}

static size_t
ident_add(struct conf *c, const char *pattern, const struct hostpat *pat,
    const char *listener, struct ident_file *cert, struct ident_file *key)
{
	struct ident_conf	*id;

	c->idents = xreallocarray(c->idents, c->nidents + 1,
	    sizeof(*c->idents));
	id = &c->idents[c->nidents++];
	memset(id, 0, sizeof(*id));
	id->pattern = pattern != NULL ? xstrdup(pattern) : NULL;
	if (pat != NULL)
		id->pat = *pat;
	id->listener = listener != NULL ? xstrdup(listener) : NULL;
	id->path = c->path;
	id->cert = *cert;
	id->key = *key;
	cert->path = key->path = NULL;		/* taken */
	return c->nidents;
}

static void *
domain_open(struct ini *in, void *ctx, const char *pattern)
{
	struct domain_loader	*dl = ctx;

	memset(&dl->cert, 0, sizeof(dl->cert));
	memset(&dl->key, 0, sizeof(dl->key));
	return dl->rule.open(in, &dl->rl, pattern);
}

static void
domain_close(struct ini *in, void *ctx, void *obj)
{
	struct domain_loader	*dl = ctx;
	struct rule		*r = obj;

	if (ident_pair(in, &dl->cert, &dl->key))
		(void)ident_add(dl->c, r->pattern, &r->pat, NULL, &dl->cert,
		    &dl->key);
	free(dl->cert.path);
	free(dl->key.path);
	dl->rule.close(in, &dl->rl, obj);
}

static struct ini_section
domain_section(struct domain_loader *dl)
{
	struct ini_section	 s;

	dl->rule = rule_section(&dl->rl);
	memcpy(dl->keys, dl->rule.keys, dl->rule.nkeys * sizeof(dl->keys[0]));
	memcpy(dl->keys + dl->rule.nkeys, domain_ident_keys,
	    sizeof(domain_ident_keys));
	s = dl->rule;
	s.keys = dl->keys;
	s.nkeys = dl->rule.nkeys + nitems(domain_ident_keys);
	s.open = domain_open;
	s.close = domain_close;
	s.ctx = dl;
	return s;
}

static void *
feed_section_open(struct ini *in, void *ctx, const char *arg)
{
	struct conf	*c = ctx;

	(void)in;
	(void)arg;
	c->feed.present = true;
	return c;
}

/* The key set the device trusts until the feed rotates it: public_key
 * holds both roles unless sign_key names the signing role apart. */
static void
feed_section_close(struct ini *in, void *ctx, void *obj)
{
	struct feed_keyset	*ks = &((struct conf *)ctx)->feed.keys;
	const char		*why;

	(void)obj;
	if (ks->sign.n == 0) {
		memcpy(ks->sign.keys, ks->root.keys, sizeof(ks->sign.keys));
		ks->sign.n = ks->root.n;
	}
	if (ks->root.n > 0 && (why = feed_keyset_check(ks)) != NULL)
		ini_error(in, in->section_line, "[feed]: %s", why);
	check_proxy_auth(in, in->section_line,
	    &((struct conf *)ctx)->feed.proxy);
}

static void
upstream_close(struct ini *in, void *ctx, void *obj)
{
	(void)obj;
	check_proxy_auth(in, in->section_line, &((struct conf *)ctx)->proxy);
}

static void *
listen_open(struct ini *in, void *ctx, const char *name)
{
	struct conf		*c = ctx;
	struct listen_conf	*lc;
	char			 origin[512];

	if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(name)) {
		ini_error(in, in->section_line, "[%s]: listener names use "
		    "letters, digits, '_', '-' and '.'", in->section);
		return NULL;
	}
	c->listeners = xreallocarray(c->listeners, c->nlisteners + 1,
	    sizeof(*c->listeners));
	lc = &c->listeners[c->nlisteners++];
	memset(lc, 0, sizeof(*lc));
	lc->name = xstrdup(name);
	snprintf(origin, sizeof(origin), "%s:%d", c->path, in->section_line);
	lc->origin = xstrdup(origin);
	return lc;
}

/* The first required key a listener of its mode lacks, or NULL. */
static const char *
listen_missing(struct ini *in, const struct listen_conf *lc)
{
	if (!ini_seen(in, "mode"))
		return "mode";
	if (!ini_seen(in, "bind"))
		return "bind";
	if (lc->mode == MODE_TUNNEL && !ini_seen(in, "connect"))
		return "connect";
	if (lc->mode == MODE_TRANSPARENT && !ini_seen(in, "allow"))
		return "allow";		/* which clients may be intercepted */
	return NULL;
}

static void
listen_defaults(struct ini *in, struct listen_conf *lc)
{
	/* No idle cut-off unless asked: MQTT-style connections idle for
	 * hours in every mode, and TCP keepalive (base/sock.h) already ends
	 * a relay whose peer vanished. */
	if (!ini_seen(in, "idle_timeout"))
		lc->idle_timeout = LISTEN_IDLE_DEFAULT;
	if (!ini_seen(in, "ipv6_client_prefix"))
		lc->v6_prefix = LISTEN_V6_PREFIX_DEFAULT;
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
listen_close(struct ini *in, void *ctx, void *obj)
{
	struct listen_conf	*lc = obj;
	const char		*missing = listen_missing(in, lc);
	int			 line = in->section_line;

	if (missing != NULL) {
		ini_error(in, line, "[%s] %s: missing required key",
		    in->section, missing);
		return;
	}
	if (lc->mode != MODE_TUNNEL && ini_seen(in, "connect"))
		ini_error(in, line, "[%s] connect: only for mode tunnel (%s "
		    "listeners take the destination from the app)", in->section,
		    listen_mode_name(lc->mode));
	if (lc->mode != MODE_TUNNEL && ini_seen(in, "alpn"))
		ini_error(in, line, "[%s] alpn: only for mode tunnel (%s "
		    "listeners offer the app's own ALPN list)", in->section,
		    listen_mode_name(lc->mode));
	if (lc->mode != MODE_FORWARD && ini_seen(in, "ports"))
		ini_error(in, line, "[%s] ports: only for mode forward",
		    in->section);
	if (lc->mode == MODE_TUNNEL && ini_seen(in, "allow"))
		ini_error(in, line, "[%s] allow: not for mode tunnel (bind "
		    "it to a local address instead)", in->section);
	if (lc->mode == MODE_TUNNEL && ini_seen(in, "client_tls"))
		ini_error(in, line, "[%s] client_tls: only for mode forward "
		    "or transparent (a tunnel's app speaks no TLS to "
		    "pinshim)", in->section);
	if (lc->max_conns != 0 && lc->max_per_client > lc->max_conns)
		ini_error(in, line, "[%s] max_conns_per_client: more than "
		    "max_conns (%lu)", in->section, lc->max_conns);
	check_proxy_auth(in, line, &lc->proxy);
	if (lc->mode != MODE_TUNNEL && (lc->client_cert.path != NULL ||
	    lc->client_key.path != NULL))
		ini_error(in, lc->client_cert.path != NULL ?
		    lc->client_cert.line : lc->client_key.line, "[%s] %s: only "
		    "for mode tunnel (%s listeners present the [domain:] "
		    "identity of the host)", in->section,
		    lc->client_cert.path != NULL ? "client_cert" : "client_key",
		    listen_mode_name(lc->mode));
	else if (ident_pair(in, &lc->client_cert, &lc->client_key))
		lc->ident = ident_add(ctx, NULL, NULL, lc->name,
		    &lc->client_cert, &lc->client_key);
	listen_defaults(in, lc);
}

/* --- the whole file --------------------------------------------------- */

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
	/* IPv6 listeners are IPV6_V6ONLY: the families never overlap, so
	 * 0.0.0.0:P and [::]:P may both be bound. */
	if (fx != fy)
		return false;
	memset(any, 0, sizeof(any));
	if (memcmp(x, any, fx == AF_INET ? 4 : 16) == 0 ||
	    memcmp(y, any, fy == AF_INET ? 4 : 16) == 0)
		return true;	/* a wildcard clashes with its family */
	return memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

/* Loopback needs no status_allow (it defaults to loopback); any other
 * address must say who may read the status. */
static void
check_status(struct ini *in, struct status_conf *sc)
{
	unsigned char	 a[16];
	const char	*why;

	if (!sc->present) {
		if (sc->nallow > 0)
			ini_error(in, 1, "[shim] status_allow: without [shim] "
			    "status");
		return;
	}
	if (sc->unix_path != NULL) {
		if (sc->nallow > 0)
			ini_error(in, 1, "[shim] status_allow: not for a unix "
			    "socket (its file mode, 0660, decides)");
		return;
	}
	if (sc->nallow > 0)
		return;
	if ((inet_pton(AF_INET, sc->host, a) == 1 && a[0] == 127) ||
	    (inet_pton(AF_INET6, sc->host, a) == 1 &&
	    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0)) {
		cidr_list("127.0.0.0/8, ::1/128", &sc->allow, &sc->nallow,
		    &why);
		return;
	}
	ini_error(in, 1, "[shim] status: %s is not a loopback address: "
	    "status_allow must list who may read it", sc->host);
}

static void
check_binds(struct ini *in, const struct conf *c)
{
	size_t	 i, j;

	for (i = 0; i < c->nlisteners; i++)
		for (j = 0; j < i; j++)
			if (binds_clash(&c->listeners[i], &c->listeners[j]))
				ini_error_at(in, c->listeners[i].origin,
				    "[listen:%s] bind: %s:%u already used by "
				    "[listen:%s] at %s", c->listeners[i].name,
				    c->listeners[i].bind_host,
				    c->listeners[i].bind_port,
				    c->listeners[j].name,
				    c->listeners[j].origin);
}

/* forward and transparent mint leaves: they need the CA's directory. */
static void
check_ca_dir(struct ini *in, struct conf *c)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners && c->ca_dir == NULL; i++) {
		if (c->listeners[i].mode == MODE_TUNNEL)
			continue;
		if (c->state_dir == NULL) {
			ini_error_at(in, c->listeners[i].origin, "[listen:%s] "
			    "mode: %s needs the interception CA: set [shim] "
			    "state_dir (CA in STATE/ca) or ca_dir",
			    c->listeners[i].name,
			    listen_mode_name(c->listeners[i].mode));
			return;
		}
		c->ca_dir = xcalloc(1, strlen(c->state_dir) + 4);
		sprintf(c->ca_dir, "%s/ca", c->state_dir);
	}
}

static void
check_whole(struct ini *in, struct conf *c)
{
	if (c->nlisteners == 0)
		ini_error(in, in->line > 0 ? in->line : 1,
		    "no [listen:NAME] section: nothing to serve");
	check_binds(in, c);
	check_ca_dir(in, c);
	if (c->ca_file == NULL) {
		if (access(CONF_DEFAULT_CA_FILE, R_OK) != 0)
			ini_error(in, 1, "[upstream] ca_file: not set and the "
			    "system store %s is not readable",
			    CONF_DEFAULT_CA_FILE);
		c->ca_file = xstrdup(CONF_DEFAULT_CA_FILE);
	}
	c->snap->default_policy = c->default_policy;
	check_status(in, &c->status);
	for (size_t i = 0; c->state_dir == NULL && i < c->snap->nrules; i++)
		if (c->snap->rules[i].policy == POLICY_TOFU) {
			ini_error_at(in, c->snap->rules[i].origin, "[domain:%s] "
			    "policy tofu: needs [shim] state_dir (the pins it "
			    "learns are kept there)", c->snap->rules[i].pattern);
			break;
		}
	if (!c->feed.present)
		return;
	if (c->state_dir == NULL)
		ini_error(in, 1, "[shim] state_dir: required with [feed] "
		    "(the last good feed is kept there)");
	if (c->feed.url != NULL && strncmp(c->feed.url, "https://", 8) != 0)
		ini_error(in, 1, "[feed] url: must be https:// (the plain "
		    "fallback_url is the place for http://)");
}

static struct conf *
conf_new(const char *path)
{
	struct conf	*c = xcalloc(1, sizeof(*c));

	c->refs = 1;
	c->path = xstrdup(path);
	c->log_level = LOG_INFO;
	c->default_policy = POLICY_BLOCK;
	c->connect_timeout = 10;
	c->handshake_timeout = 10;
	c->shutdown_timeout = SHUTDOWN_TIMEOUT_DEFAULT;
	c->truncation = TRUNCATION_RESET;
	c->feed.refresh = FEED_DEFAULT_REFRESH;
	c->feed.max_size = FEED_DEFAULT_MAX_SIZE;
	c->feed.timeout = FEED_DEFAULT_TIMEOUT;
	c->tofu_max = TOFU_DEFAULT_MAX;
	c->mint_rate = MINT_RATE_DEFAULT;
	c->feed.keys.version = 1;
	c->feed.keys.root.threshold = 1;
	c->feed.keys.sign.threshold = 1;
	c->snap = snapshot_new(POLICY_BLOCK);
	return c;
}

struct conf *
conf_load(const char *path, FILE *errs)
{
	struct conf		*c = conf_new(path);
	struct domain_loader	 dl = { .rl = { .snap = c->snap }, .c = c };
	const struct ini_section secs[] = {
		{ .name = "shim", .keys = shim_keys,
		  .nkeys = nitems(shim_keys), .ctx = c },
		{ .name = "upstream", .keys = upstream_keys,
		  .nkeys = nitems(upstream_keys), .close = upstream_close,
		  .ctx = c },
		{ .name = "feed", .keys = feed_keys,
		  .nkeys = nitems(feed_keys), .required = feed_required,
		  .open = feed_section_open, .close = feed_section_close,
		  .ctx = c },
		domain_section(&dl),
		{ .name = "listen:", .prefix = true, .keys = listen_keys,
		  .nkeys = nitems(listen_keys), .open = listen_open,
		  .close = listen_close, .ctx = c },
		{ .name = "monitor", .unsupported = "not supported by this "
		  "version yet" },
	};
	struct ini		 in;
	FILE			*f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		conf_free(c);
		return NULL;
	}
	if (ini_load(&in, c->path, f, errs, secs, nitems(secs), "unknown "
	    "section (want shim, upstream, domain:PATTERN or listen:NAME)") ==
	    0)
		check_whole(&in, c);
	fclose(f);
	if (in.errors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static void
proxy_conf_clear(struct proxy_conf *pc)
{
	if (pc->auth != NULL) {
		explicit_bzero(pc->auth, strlen(pc->auth));
		free(pc->auth);
		pc->auth = NULL;
	}
}

struct conf *
conf_ref(struct conf *c)
{
	c->refs++;
	return c;
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL || --c->refs > 0)
		return;
	for (i = 0; i < c->nlisteners; i++) {
		proxy_conf_clear(&c->listeners[i].proxy);
		free(c->listeners[i].name);
		free(c->listeners[i].origin);
		free(c->listeners[i].allow);
		free(c->listeners[i].ports);
		free(c->listeners[i].alpn);
		free(c->listeners[i].client_cert.path);
		free(c->listeners[i].client_key.path);
	}
	for (i = 0; i < c->nidents; i++) {
		free(c->idents[i].pattern);
		free(c->idents[i].listener);
		free(c->idents[i].cert.path);
		free(c->idents[i].key.path);
	}
	free(c->idents);
	free(c->listeners);
	free(c->status.unix_path);
	free(c->log_syslog);
	free(c->status.allow);
	snapshot_unref(c->snap);
	free(c->state_dir);
	free(c->device_id);
	free(c->user);
	free(c->ca_dir);
	free(c->ca_file);
	free(c->hosts_file);
	free(c->nameservers);
	free(c->feed.url);
	free(c->feed.fallback_url);
	pinset_free(&c->feed.pins);
	proxy_conf_clear(&c->feed.proxy);
	proxy_conf_clear(&c->proxy);
	free(c->no_proxy);
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

const struct listen_conf *
conf_listener(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			return &c->listeners[i];
	return NULL;
}

static bool
no_proxy_match(const struct conf *c, const char *host)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	bool			 ip;
	size_t			 i;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		ip = true;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		ip = true;
	} else
		ip = false;
	for (i = 0; i < c->nno_proxy; i++) {
		if (c->no_proxy[i].is_cidr ? ip &&
		    cidr_match(&c->no_proxy[i].cidr, (struct sockaddr *)&ss) :
		    hostpat_match(&c->no_proxy[i].pat, host) >= 0)
			return true;
	}
	return false;
}

const struct proxy_conf *
conf_proxy(const struct conf *c, const struct proxy_conf *own,
    const char *host)
{
	const struct proxy_conf	*pc = &c->proxy;

	if (own != NULL && own->use != PROXY_UNSET)
		pc = own;
	if (pc->use != PROXY_HTTP || no_proxy_match(c, host))
		return NULL;
	return pc;
}

int
conf_ident(const struct conf *c, const struct listen_conf *lc,
    const char *host)
{
	int	 best = -1, score, top = -1;
	size_t	 i;

	if (lc != NULL && lc->ident > 0)
		return (int)lc->ident - 1;
	for (i = 0; i < c->nidents; i++) {
		if (c->idents[i].pattern == NULL)
			continue;
		if ((score = hostpat_match(&c->idents[i].pat, host)) > top) {
			top = score;
			best = (int)i;
		}
	}
	return best;
}

static bool
same_path(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool
conf_idents_same(const struct conf *a, const struct conf *b)
{
	size_t	 i;

	if (a->nidents != b->nidents)
		return false;
	for (i = 0; i < a->nidents; i++)
		if (!same_path(a->idents[i].pattern, b->idents[i].pattern) ||
		    !same_path(a->idents[i].listener, b->idents[i].listener) ||
		    !same_path(a->idents[i].cert.path, b->idents[i].cert.path) ||
		    !same_path(a->idents[i].key.path, b->idents[i].key.path))
			return false;
	return true;
}
