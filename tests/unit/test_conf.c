/*
 * test_conf.c - the INI loader: every mistake is an error that names the
 * file and line, nothing is ignored; and the strict parsers of shim/util.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "base/ini.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/feed_body.h"

#define PIN_A	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_B	"sha256/ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
/* PIN_A with a non-canonical last character */
#define PIN_BAD	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="

/* What every config needs besides the part under test; "@CA@" is the
 * readable ca_file. Tests put their lines first so line numbers are
 * the ones in the test. */
#define UPSTREAM	"[upstream]\nca_file = @CA@\n"
#define LISTEN		"[listen:api]\nmode = tunnel\n" \
			"bind = 127.0.0.1:8080\nconnect = api.test:443\n"
#define BASE		UPSTREAM LISTEN

static char	 ca_path[300];
static char	 ini_path[300];
static char	*errs;		/* what the last load() wrote */

static int
setup(void **state)
{
	tu_tmpdir_setup(state);
	tu_write_file(tu_tmpdir, "ca.pem", "-----BEGIN CERTIFICATE-----\n"
	    "-----END CERTIFICATE-----\n", ca_path, sizeof(ca_path));
	return 0;
}

static int
teardown(void **state)
{
	free(errs);
	errs = NULL;
	return tu_tmpdir_teardown(state);
}

/* text with every "@CA@" replaced by ca_path; malloc'd */
static char *
expand(const char *text)
{
	const char	*tok = "@CA@", *s, *hit;
	char		*out, *o;
	size_t		 n = 0;

	for (s = text; (hit = strstr(s, tok)) != NULL; s = hit + 4)
		n++;
	out = malloc(strlen(text) + n * strlen(ca_path) + 1);
	assert_non_null(out);
	for (s = text, o = out; (hit = strstr(s, tok)) != NULL; s = hit + 4) {
		memcpy(o, s, (size_t)(hit - s));
		o += hit - s;
		strcpy(o, ca_path);
		o += strlen(ca_path);
	}
	strcpy(o, s);
	return out;
}

/* Write text to a file and load it; the error text goes to errs. */
static struct conf *
load(const char *text)
{
	struct conf	*c;
	char		*full = expand(text);
	size_t		 len = 0;
	FILE		*f;

	tu_write_file(tu_tmpdir, "t.ini", full, ini_path, sizeof(ini_path));
	free(full);
	free(errs);
	errs = NULL;
	f = open_memstream(&errs, &len);
	assert_non_null(f);
	c = conf_load(ini_path, f);
	fclose(f);
	return c;
}

/* errs has a line "PATH:LINE: ...msg..." */
static void
assert_err_at(int line, const char *msg)
{
	char		 prefix[400];
	const char	*s;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", ini_path, line);
	for (s = errs; s != NULL && *s != '\0'; ) {
		const char	*eol = strchr(s, '\n');
		size_t		 n = eol ? (size_t)(eol - s) : strlen(s);

		if (strncmp(s, prefix, strlen(prefix)) == 0) {
			char *one = strndup(s, n);

			assert_non_null(one);
			if (strstr(one, msg) != NULL) {
				free(one);
				return;
			}
			free(one);
		}
		s = eol ? eol + 1 : s + n;
	}
	fail_msg("expected \"%s<...>%s\" in errors:\n%s", prefix, msg,
	    errs ? errs : "(none)");
}

/* The load must fail with msg on line. */
static void
fails_at(const char *text, int line, const char *msg)
{
	struct conf	*c = load(text);

	if (c != NULL) {
		conf_free(c);
		fail_msg("loaded, but wanted \"%s\" at line %d", msg, line);
	}
	assert_err_at(line, msg);
}

static struct conf *
loads(const char *text)
{
	struct conf	*c = load(text);

	if (c == NULL)
		fail_msg("did not load:\n%s", errs ? errs : "(no errors)");
	assert_string_equal(errs, "");
	return c;
}

/* --- structure errors ---------------------------------------------------- */

static void
test_missing_file(void **state)
{
	FILE	*f;
	size_t	 len = 0;

	(void)state;
	free(errs);
	errs = NULL;
	f = open_memstream(&errs, &len);
	assert_null(conf_load("/nonexistent/pinshim.ini", f));
	fclose(f);
	assert_contains(errs, "/nonexistent/pinshim.ini: cannot open");
}

static void
test_unknown_section(void **state)
{
	(void)state;
	fails_at(BASE "[bogus]\nx = 1\n", 7, "[bogus]: unknown section");
}

static void
test_unknown_key(void **state)
{
	(void)state;
	fails_at("[shim]\nuser = nobody\ncolour = blue\n" BASE, 3,
	    "[shim] colour: unknown key");
}

static void
test_key_in_wrong_section(void **state)
{
	(void)state;
	/* a [domain:] key in [upstream] is unknown there */
	fails_at("[upstream]\nca_file = @CA@\npins = " PIN_A "\n" LISTEN, 3,
	    "[upstream] pins: unknown key");
}

static void
test_key_outside_section(void **state)
{
	(void)state;
	fails_at("user = nobody\n" BASE, 1, "user: key outside any section");
}

static void
test_same_section_twice(void **state)
{
	(void)state;
	fails_at("[shim]\nuser = a\n" BASE "[shim]\nlog_level = info\n", 9,
	    "[shim]: section given twice");
}

/* log_connections: all (the default) or refusals, nothing else. */
static void
test_log_connections(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(BASE);
	assert_false(c->log_refusals_only);
	conf_free(c);
	c = loads("[shim]\nlog_connections = refusals\n" BASE);
	assert_true(c->log_refusals_only);
	conf_free(c);
	c = loads("[shim]\nlog_connections = all\n" BASE);
	assert_false(c->log_refusals_only);
	conf_free(c);
	fails_at("[shim]\nlog_connections = none\n" BASE, 2,
	    "[shim] log_connections: not one of all, refusals");
	fails_at("[shim]\nlog_connections = Refusals\n" BASE, 2,
	    "not one of all, refusals");
}

static void
test_key_given_twice(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A "\npolicy = pin\n"
	    "policy = pin-only\n" BASE, 4,
	    "[domain:api.test] policy: key given twice");
}

static void
test_pins_given_twice(void **state)
{
	(void)state;
	/* two pins lines are a mistake; only an indented line continues */
	fails_at("[domain:api.test]\npins = " PIN_A "\npins = " PIN_B "\n"
	    BASE, 3, "[domain:api.test] pins: key given twice");
}

static void
test_continuation_of_non_list_key(void **state)
{
	(void)state;
	fails_at("[shim]\nuser = a\n  b\n" BASE, 3,
	    "[shim] user: key given twice");
}

static void
test_syntax_error_line(void **state)
{
	(void)state;
	fails_at("[shim]\nuser = nobody\ngarbage\n" BASE, 3, "syntax error");
}

static void
test_unclosed_section_header(void **state)
{
	(void)state;
	fails_at(BASE "[shim\nuser = x\n", 7, "syntax error");
}

static void
test_overlong_line(void **state)
{
	char	 text[1024], pad[260];

	(void)state;
	/* a pins line of ~300 characters: an error, never split */
	memset(pad, ' ', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), "[domain:api.test]\npins = " PIN_A
	    "%s" PIN_B "\n" BASE, pad);
	assert_true(strlen(strchr(text, '\n') + 1) > 300);
	fails_at(text, 2, "line longer than");
}

static void
test_overlong_line_not_reported_on_next_line(void **state)
{
	char	 text[1024], pad[260];

	(void)state;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), "[shim]\nuser = %s\n" BASE, pad);
	assert_null(load(text));
	assert_err_at(2, "line longer than");
	assert_not_contains(errs, "unknown");
	assert_not_contains(errs, "syntax error");
}

/* A [shim] user line of exactly n characters. */
static struct conf *
load_line_of(size_t n)
{
	char	 text[1024], val[400];

	assert_true(n > 7 && n - 7 < sizeof(val));
	memset(val, 'x', n - 7);
	val[n - 7] = '\0';
	snprintf(text, sizeof(text), BASE "[shim]\nuser = %s\n", val);
	return load(text);
}

static void
test_line_limit_matches_message(void **state)
{
	struct conf	*c;
	const char	*msg;
	unsigned long	 limit;

	(void)state;
	assert_null(load_line_of(300));
	msg = strstr(errs, "line longer than ");
	assert_non_null(msg);
	limit = strtoul(msg + strlen("line longer than "), NULL, 10);
	assert_true(limit >= 100);
	/* a line of exactly the limit loads, one more does not */
	c = load_line_of(limit);
	assert_non_null(c);
	conf_free(c);
	c = load_line_of(limit + 1);
	if (c != NULL) {
		conf_free(c);
		fail_msg("a line of %lu characters loaded, yet the message "
		    "says lines longer than %lu are refused", limit + 1,
		    limit);
	}
}

static void
test_reports_every_error(void **state)
{
	(void)state;
	assert_null(load("[shim]\ncolour = red\nuser = x\nshade = blue\n"
	    BASE));
	assert_err_at(2, "[shim] colour: unknown key");
	assert_err_at(4, "[shim] shade: unknown key");
}

static void
test_no_listener(void **state)
{
	(void)state;
	assert_null(load(UPSTREAM));
	assert_contains(errs, "no [listen:NAME] section");
}

#define FEEDKEY	"ed25519:Qmvo5yN5/VIWZQ7rUYchHoPCxIQAsnmx0Ot5EWR45Sc="
#define FEEDKEY2 "ed25519:pP4f6D8D/K+F6RKvsCtjozI1Kzls1tA6ztAeTdaqo9A="
#define FEEDKEY3 "ed25519:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define STATE	"[shim]\nstate_dir = /var/lib/pinshim\n"

static void
test_feed_section_loads(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[feed]\nurl = https://pins.test/p.feed\n"
	    "fallback_url = http://pins.test/p.feed\n"
	    "public_key = " FEEDKEY ",\n  " FEEDKEY2 "\n"
	    "pins = " PIN_A "\n" STATE BASE);
	assert_true(c->feed.present);
	/* today's form: the keys hold both roles, threshold 1, set 1 */
	assert_int_equal(c->feed.keys.root.n, 2);
	assert_int_equal(c->feed.keys.sign.n, 2);
	assert_int_equal(c->feed.keys.root.threshold, 1);
	assert_int_equal(c->feed.keys.sign.threshold, 1);
	assert_int_equal(c->feed.keys.version, 1);
	assert_int_equal(c->feed.pins.n, 1);
	assert_int_equal(c->feed.refresh, FEED_DEFAULT_REFRESH);
	assert_string_equal(c->feed.fallback_url, "http://pins.test/p.feed");
	conf_free(c);
}

static void
test_feed_roles_apart(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[feed]\nurl = https://pins.test/p.feed\n"
	    "public_key = " FEEDKEY ", " FEEDKEY2 "\nroot_threshold = 2\n"
	    "sign_key = " FEEDKEY3 "\nkeys_version = 4\n" STATE BASE);
	assert_int_equal(c->feed.keys.root.n, 2);
	assert_int_equal(c->feed.keys.root.threshold, 2);
	assert_int_equal(c->feed.keys.sign.n, 1);
	assert_int_equal(c->feed.keys.version, 4);
	conf_free(c);
	fails_at("[feed]\nurl = https://pins.test/f\npublic_key = " FEEDKEY
	    "\nroot_threshold = 2\n" STATE BASE, 1, "[feed]: "
	    "root_threshold: 2, but the root role has 1 key(s)");
	fails_at("[feed]\nurl = https://pins.test/f\npublic_key = " FEEDKEY
	    ", " FEEDKEY "\n" STATE BASE, 1, "[feed]: root: a key is listed "
	    "twice");
	fails_at("[feed]\nurl = https://pins.test/f\npublic_key = " FEEDKEY
	    "\nsign_threshold = 9\n" STATE BASE, 4, "[feed] sign_threshold: "
	    "not a whole number in 1..8");
}

static void
test_feed_needs_state_dir(void **state)
{
	(void)state;
	fails_at("[feed]\nurl = https://pins.test/f\npublic_key = " FEEDKEY
	    "\n" BASE, 1, "[shim] state_dir: required with [feed]");
}

static void
test_feed_needs_public_key(void **state)
{
	(void)state;
	fails_at("[feed]\nurl = https://pins.test/f\n" STATE BASE, 1,
	    "[feed] public_key: missing required key");
}

static void
test_feed_url_must_be_https(void **state)
{
	(void)state;
	fails_at("[feed]\nurl = http://pins.test/f\npublic_key = " FEEDKEY
	    "\n" STATE BASE, 1, "[feed] url: must be https://");
}

static void
test_feed_bad_public_key(void **state)
{
	(void)state;
	fails_at("[feed]\nurl = https://pins.test/f\n"
	    "public_key = ed25519:short\n" STATE BASE, 3,
	    "[feed] public_key: not an ed25519:BASE64 public key");
}

static void
test_feed_refresh_range(void **state)
{
	(void)state;
	fails_at("[feed]\nurl = https://pins.test/f\npublic_key = " FEEDKEY
	    "\nrefresh = 5\n" STATE BASE, 4, "[feed] refresh: not a whole "
	    "number of seconds in 10..86400");
}

static void
test_indented_header_at_start_not_ignored(void **state)
{
	struct conf	*c;

	(void)state;
	/* inih reads an indented "[x]" as a section header; the loader must
	 * not silently drop the keys under it (here: a pin rule). */
	c = load("  [domain:api.test]\npins = " PIN_A "\n" BASE);
	if (c != NULL) {
		size_t n = c->snap->nrules;

		conf_free(c);
		if (n != 1)
			fail_msg("loaded with %zu rules: the pins of an "
			    "indented [domain:api.test] were silently "
			    "dropped", n);
	}
}

static void
test_indented_header_after_header_not_misattributed(void **state)
{
	struct conf	*c;

	(void)state;
	/* inih opens [domain:b.test] here; the loader must not hand b's
	 * pins to a.test without a word */
	c = load("[domain:a.test]\n  [domain:b.test]\npins = " PIN_A "\n"
	    BASE);
	if (c != NULL) {
		size_t	 i, n = c->snap->nrules;
		bool	 a_has_pins = false;

		for (i = 0; i < n; i++)
			if (strcmp(c->snap->rules[i].pattern, "a.test") == 0 &&
			    c->snap->rules[i].pins.n > 0)
				a_has_pins = true;
		conf_free(c);
		if (a_has_pins)
			fail_msg("the pins under an indented [domain:b.test] "
			    "went to [domain:a.test]");
	}
}

static void
test_bom_first_section_not_ignored(void **state)
{
	struct conf	*c;

	(void)state;
	/* A UTF-8 BOM (Windows editors) before the first header: inih
	 * strips it; the first section must not be silently dropped. */
	c = load("\xef\xbb\xbf[domain:api.test]\npins = " PIN_A "\n" BASE);
	if (c != NULL) {
		size_t n = c->snap->nrules;

		conf_free(c);
		if (n != 1)
			fail_msg("loaded with %zu rules: the [domain:api.test] "
			    "after a BOM was silently dropped", n);
	}
}

/* --- [domain:*] ---------------------------------------------------------- */

static void
test_bad_pin(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A ", " PIN_BAD "\n" BASE, 2,
	    "[domain:api.test] pins: not a sha256/ pin: \"" PIN_BAD "\"");
}

static void
test_bad_pin_on_continuation_line(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A "\n  sha1/xyz\n" BASE, 3,
	    "not a sha256/ pin: \"sha1/xyz\"");
}

static void
test_pins_continued_on_indented_line(void **state)
{
	struct conf	*c;
	struct pin	 a, b;

	(void)state;
	c = loads("[domain:api.test]\npins = " PIN_A ",\n\t" PIN_B "\n" BASE);
	assert_int_equal(c->snap->nrules, 1);
	assert_int_equal(c->snap->rules[0].pins.n, 2);
	assert_true(pin_parse(PIN_A, &a));
	assert_true(pin_parse(PIN_B, &b));
	assert_true(pinset_contains(&c->snap->rules[0].pins, &a));
	assert_true(pinset_contains(&c->snap->rules[0].pins, &b));
	conf_free(c);
}

static void
test_policy_pin_without_pins(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[domain:api.test]\npolicy = pin\n" LISTEN, 3,
	    "[domain:api.test] pins: required for policy pin");
}

static void
test_domain_without_keys(void **state)
{
	(void)state;
	/* the default policy of a rule is pin, so it needs pins */
	fails_at(UPSTREAM "[domain:api.test]\n" LISTEN, 3,
	    "[domain:api.test] pins: required for policy pin");
}

static void
test_policy_pin_only_without_pins(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[domain:api.test]\npolicy = pin-only\npins =\n"
	    LISTEN, 3, "pins: required for policy pin-only");
}

static void
test_policy_ca_with_pins(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npolicy = ca\npins = " PIN_A "\n" BASE, 1,
	    "[domain:api.test] pins: policy ca never uses pins");
}

static void
test_bad_policy_value(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A "\npolicy = PIN\n" BASE,
	    3, "[domain:api.test] policy: not one of pin, pin-only, ca, "
	    "tofu, block");
}

static void
test_policy_tofu_rules(void **state)
{
	struct conf	*c;

	(void)state;
	fails_at("[domain:api.test]\npolicy = tofu\n" BASE, 1,
	    "[domain:api.test] policy tofu: needs [shim] state_dir");
	fails_at("[domain:api.test]\npolicy = tofu\npins = " PIN_A "\n"
	    STATE BASE, 1, "[domain:api.test] pins: policy tofu learns its pin");
	fails_at("[domain:api.test]\npins = " PIN_A "\nobserved = " PIN_A
	    "\n" BASE, 1, "[domain:api.test] observed: only with policy tofu");
	c = loads("[domain:api.test]\npolicy = tofu\nobserved = " PIN_A "\n"
	    "tofu_accept_issuer = yes\n" STATE BASE);
	assert_int_equal(c->snap->rules[0].policy, POLICY_TOFU);
	assert_int_equal(c->snap->rules[0].observed.n, 1);
	assert_true(c->snap->rules[0].accept_issuer);
	conf_free(c);
}

static void
test_bad_host_pattern(void **state)
{
	(void)state;
	fails_at(BASE "[domain:*.com]\npolicy = ca\n", 7,
	    "[domain:*.com]: bad host pattern: wildcard over a top-level");
	fails_at(BASE "[domain:api.*.test]\npolicy = ca\n", 7,
	    "bad host pattern");
}

static void
test_same_pattern_spelt_twice(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npolicy = ca\n[domain:API.Test.]\n"
	    "policy = block\n" BASE, 3, "same pattern as [domain:api.test]");
}

static void
test_bad_expires(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 2027-02-30T00:00:00Z\n" BASE, 3,
	    "[domain:api.test] expires: not an RFC 3339");
	fails_at("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 2027-01-31\n" BASE, 3, "expires: not an RFC 3339");
	fails_at("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 2027-01-31T00:00:00+01:00\n" BASE, 3,
	    "expires: not an RFC 3339");
}

static void
test_bad_on_expiry(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 2027-01-31T00:00:00Z\non_expiry = pin\n" BASE, 4,
	    "on_expiry: not one of ca, block");
}

static void
test_enforce(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[domain:api.test]\npins = " PIN_A "\nenforce = no\n" BASE);
	assert_true(c->snap->rules[0].observe_only);
	conf_free(c);
	c = loads("[domain:api.test]\npins = " PIN_A "\nenforce = yes\n" BASE);
	assert_false(c->snap->rules[0].observe_only);
	conf_free(c);
	fails_at("[domain:api.test]\npins = " PIN_A "\nenforce = off\n" BASE,
	    3, "[domain:api.test] enforce: not one of yes, no");
	fails_at("[domain:api.test]\npolicy = ca\nenforce = no\n" BASE, 1,
	    "enforce = no: only with policy pin");
}

static void
test_nameservers(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[upstream]\nnameservers = 10.0.0.1, [2001:db8::1]:5353\n"
	    "ca_file = @CA@\n" LISTEN);
	assert_string_equal(c->nameservers, "10.0.0.1, [2001:db8::1]:5353");
	conf_free(c);
	fails_at("[upstream]\nnameservers = dns.google\nca_file = @CA@\n"
	    LISTEN, 2,
	    "[upstream] nameservers: not a list of IP or IP:PORT");
}

static void
test_log_key(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[shim]\nlog = syslog\n" BASE);
	assert_string_equal(c->log_syslog, "/dev/log");
	conf_free(c);
	c = loads("[shim]\nlog = syslog:/run/systemd/journal/dev-log\n" BASE);
	assert_string_equal(c->log_syslog, "/run/systemd/journal/dev-log");
	conf_free(c);
	c = loads("[shim]\nlog = stderr\n" BASE);
	assert_null(c->log_syslog);
	conf_free(c);
	fails_at("[shim]\nlog = file\n" BASE, 2,
	    "[shim] log: not one of stderr, syslog, syslog:/PATH");
	/* syslog_format: RFC 3164 unless told (journald and busybox read
	 * only that); RFC 5424 stays reachable */
	c = loads("[shim]\nlog = syslog\n" BASE);
	assert_int_equal(c->syslog_format, LOG_SYSLOG_RFC3164);
	conf_free(c);
	c = loads("[shim]\nlog = syslog\nsyslog_format = rfc5424\n" BASE);
	assert_int_equal(c->syslog_format, LOG_SYSLOG_RFC5424);
	conf_free(c);
	c = loads("[shim]\nsyslog_format = rfc3164\n" BASE);
	assert_int_equal(c->syslog_format, LOG_SYSLOG_RFC3164);
	conf_free(c);
	fails_at("[shim]\nlog = syslog\nsyslog_format = 5424\n" BASE, 3,
	    "[shim] syslog_format: not one of rfc3164, rfc5424");
}

static void
test_status_keys(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[shim]\nstatus = 127.0.0.1:9090\n" BASE);
	assert_true(c->status.present);
	assert_int_equal(c->status.port, 9090);
	assert_int_equal(c->status.nallow, 2);	/* loopback by default */
	conf_free(c);
	c = loads("[shim]\nstatus = [::]:9090\nstatus_allow = 10.0.0.0/8\n"
	    BASE);
	assert_string_equal(c->status.host, "::");
	assert_int_equal(c->status.nallow, 1);
	conf_free(c);
	c = loads("[shim]\nstatus = unix:/run/pinshim/status\n" BASE);
	assert_string_equal(c->status.unix_path, "/run/pinshim/status");
	conf_free(c);
	fails_at("[shim]\nstatus = localhost:9090\n" BASE, 2,
	    "[shim] status: not ADDRESS:PORT");
	fails_at("[shim]\nstatus = unix:relative\n" BASE, 2,
	    "[shim] status: unix: needs an absolute path");
	fails_at("[shim]\nstatus = 192.168.1.1:9090\n" BASE, 1,
	    "[shim] status: 192.168.1.1 is not a loopback address");
	fails_at("[shim]\nstatus_allow = 10.0.0.0/8\n" BASE, 1,
	    "[shim] status_allow: without [shim] status");
	fails_at("[shim]\nstatus = unix:/run/s\nstatus_allow = ::1/128\n"
	    BASE, 1, "[shim] status_allow: not for a unix socket");
}

static void
test_expires_without_pins(void **state)
{
	(void)state;
	fails_at("[domain:api.test]\npolicy = ca\n"
	    "expires = 2027-01-31T00:00:00Z\n" BASE, 1,
	    "expires: only pin sets expire");
}

static void
test_expires_loads(void **state)
{
	struct conf		*c;
	const struct rule	*r;

	(void)state;
	c = loads("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 2027-01-31T12:00:00Z\non_expiry = ca\n" BASE);
	assert_int_equal(c->snap->nrules, 1);
	r = &c->snap->rules[0];
	assert_int_equal(r->expires, 1801396800);
	assert_int_equal(r->on_expiry, POLICY_CA);
	assert_int_equal(r->policy, POLICY_PIN);
	conf_free(c);
}

static void
test_expires_at_epoch_is_not_never(void **state)
{
	struct conf		*c;
	struct verdict_policy	 vp;

	(void)state;
	/* expires == 0 means "never" inside a rule: a pin set written to
	 * expire at 1970-01-01T00:00:00Z must be refused or already
	 * expired, never turned into one that never expires */
	c = load("[domain:api.test]\npins = " PIN_A "\n"
	    "expires = 1970-01-01T00:00:00Z\non_expiry = ca\n" BASE);
	if (c == NULL)
		return;
	snapshot_resolve(c->snap, "api.test", time(NULL), &vp);
	conf_free(c);
	if (!vp.expired)
		fail_msg("expires = 1970-01-01T00:00:00Z loaded as a pin set "
		    "that never expires");
}

/* --- [upstream] ---------------------------------------------------------- */

static void
test_default_policy_defaults_to_block(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(BASE);
	assert_int_equal(c->snap->default_policy, POLICY_BLOCK);
	conf_free(c);
}

static void
test_default_policy_ca(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[upstream]\nca_file = @CA@\ndefault_policy = ca\n" LISTEN);
	assert_int_equal(c->snap->default_policy, POLICY_CA);
	conf_free(c);
}

static void
test_default_policy_pin_refused(void **state)
{
	(void)state;
	fails_at("[upstream]\nca_file = @CA@\ndefault_policy = pin\n" LISTEN,
	    3, "[upstream] default_policy: must be block or ca");
	fails_at("[upstream]\nca_file = @CA@\ndefault_policy = pin-only\n"
	    LISTEN, 3, "default_policy: must be block or ca");
	fails_at("[upstream]\nca_file = @CA@\ndefault_policy = none\n"
	    LISTEN, 3, "default_policy: not one of");
}

static void
test_ca_file_unreadable(void **state)
{
	(void)state;
	fails_at("[upstream]\nca_file = /nonexistent/ca.pem\n" LISTEN, 2,
	    "[upstream] ca_file: file not readable");
}

static void
test_timeouts_range(void **state)
{
	(void)state;
	fails_at("[upstream]\nca_file = @CA@\nconnect_timeout = 0\n" LISTEN,
	    3, "[upstream] connect_timeout: not a whole number of seconds "
	    "in 1..3600");
	fails_at("[upstream]\nca_file = @CA@\nhandshake_timeout = 3601\n"
	    LISTEN, 3, "[upstream] handshake_timeout: not a whole number");
	fails_at("[upstream]\nca_file = @CA@\nconnect_timeout = 5s\n"
	    LISTEN, 3, "connect_timeout: not a whole number");
}

static void
test_timeouts_load(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads("[upstream]\nca_file = @CA@\nconnect_timeout = 3600\n"
	    "handshake_timeout = 1\n" LISTEN);
	assert_int_equal(c->connect_timeout, 3600);
	assert_int_equal(c->handshake_timeout, 1);
	conf_free(c);
}

static void
test_shim_values(void **state)
{
	(void)state;
	fails_at("[shim]\nstate_dir = var/lib/pinshim\n" BASE, 2,
	    "[shim] state_dir: must be an absolute path");
	fails_at("[shim]\nuser =\n" BASE, 2, "[shim] user: empty value");
}

/* --- [listen:*] ---------------------------------------------------------- */

static void
test_listen_missing_connect(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n",
	    3, "[listen:x] connect: missing required key");
}

static void
test_listen_missing_bind(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nconnect = a.test:1\n",
	    3, "[listen:x] bind: missing required key");
}

static void
test_listen_missing_mode(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\n", 3, "[listen:x] mode: missing required key");
}

static void
test_listen_empty_section(void **state)
{
	(void)state;
	fails_at(BASE "[listen:x]\n", 7, "[listen:x] mode: missing required "
	    "key");
	fails_at("[listen:x]\n" BASE, 1, "[listen:x] mode: missing required "
	    "key");
}

static void
test_listen_bad_name(void **state)
{
	(void)state;
	fails_at(BASE "[listen:a b]\nmode = tunnel\n", 7,
	    "[listen:a b]: listener names use");
	fails_at(BASE "[listen:]\nmode = tunnel\n", 7,
	    "[listen:]: listener names use");
}

static void
test_listen_mode_forward(void **state)
{
	(void)state;
	struct conf	*c;

	fails_at(UPSTREAM "[listen:x]\nmode = forward\nbind = 127.0.0.1:1\n",
	    3, "[listen:x] mode: forward needs the interception CA");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nconnect = a.test:443\n", 5,
	    "[listen:x] connect: only for mode tunnel");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = transparent\n"
	    "bind = 127.0.0.1:1\n", 5, "[listen:x] allow: missing required");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nallow = 10.0.0.0/33\n", 8,
	    "[listen:x] allow: not a list of ADDRESS/BITS");
	c = loads(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\n");
	assert_int_equal(c->listeners[0].nallow, 2);	/* loopback only */
	assert_int_equal(c->listeners[0].nports, 1);
	assert_int_equal(c->listeners[0].ports[0], 443);
	assert_string_equal(c->ca_dir, "/var/lib/pinshim/ca");
	/* no idle cut-off by default in any mode (keepalive finds the dead) */
	assert_int_equal(c->listeners[0].idle_timeout, 0);
	conf_free(c);
	c = loads(STATE UPSTREAM "[listen:x]\nmode = transparent\n"
	    "bind = 127.0.0.1:1\nallow = 10.0.0.0/8\n");
	assert_int_equal(c->listeners[0].idle_timeout, 0);
	conf_free(c);
	c = loads(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nidle_timeout = 300\n");
	assert_int_equal(c->listeners[0].idle_timeout, 300);
	conf_free(c);
	fails_at(UPSTREAM "[listen:x]\nmode = socks\nbind = 127.0.0.1:1\n",
	    4, "[listen:x] mode: not one of tunnel");
}

static void
test_listen_client_tls(void **state)
{
	struct conf	*c;

	(void)state;
	fails_at(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nclient_tls = legacy\n", 8,
	    "[listen:x] client_tls: not modern or compatible");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nclient_tls = \n", 8,
	    "[listen:x] client_tls:");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nclient_tls = compatible\n", 3,
	    "[listen:x] client_tls: only for mode forward or transparent");
	c = loads(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\n\n[listen:y]\nmode = transparent\n"
	    "bind = 127.0.0.1:2\nallow = 10.0.0.0/8\n"
	    "client_tls = compatible\n");
	assert_int_equal(c->listeners[0].client_tls, CLIENT_TLS_MODERN);
	assert_int_equal(c->listeners[1].client_tls, CLIENT_TLS_COMPATIBLE);
	conf_free(c);
}

static void
test_listen_alpn(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nalpn = x-amzn-mqtt-ca, h2,\n  http/1.1\n");
	assert_string_equal(c->listeners[0].alpn, "x-amzn-mqtt-ca,h2,http/1.1");
	conf_free(c);
	c = loads(BASE);
	assert_null(c->listeners[0].alpn);		/* none offered */
	conf_free(c);
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nalpn = h2, http/1.1, h2\n", 7,
	    "[listen:x] alpn: a protocol name is listed twice");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nalpn = h\x7f" "2\n", 7,
	    "[listen:x] alpn: not a list of protocol names of 1..255 "
	    "printable");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nalpn = ,\n", 7,
	    "[listen:x] alpn: an empty list");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = forward\n"
	    "bind = 127.0.0.1:1\nalpn = h2\n", 5,
	    "[listen:x] alpn: only for mode tunnel");
	fails_at(STATE UPSTREAM "[listen:x]\nmode = transparent\n"
	    "bind = 127.0.0.1:1\nallow = 10.0.0.0/8\nalpn = h2\n", 5,
	    "[listen:x] alpn: only for mode tunnel");
}

static void
test_listen_ipv6_client_prefix(void **state)
{
	struct conf	*c;

	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nipv6_client_prefix = 0\n", 7,
	    "[listen:x] ipv6_client_prefix: not a prefix length in 1..128");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nipv6_client_prefix = 129\n", 7,
	    "[listen:x] ipv6_client_prefix: not a prefix length in 1..128");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = a.test:1\nipv6_client_prefix = /64\n", 7,
	    "[listen:x] ipv6_client_prefix: not a prefix length");
	c = loads(BASE);
	assert_int_equal(c->listeners[0].v6_prefix, 64);	/* default */
	conf_free(c);
	c = loads(BASE "ipv6_client_prefix = 56\n");
	assert_int_equal(c->listeners[0].v6_prefix, 56);
	conf_free(c);
}

static void
test_stop_keys(void **state)
{
	struct conf	*c;

	(void)state;
	fails_at("[shim]\nshutdown_timeout = 3601\n" BASE, 2,
	    "[shim] shutdown_timeout: not a whole number of seconds in "
	    "0..3600");
	fails_at("[shim]\nshutdown_timeout = -1\n" BASE, 2,
	    "[shim] shutdown_timeout: not a whole number");
	fails_at(UPSTREAM "truncation = fin\n" LISTEN, 3,
	    "[upstream] truncation: not reset or close");
	fails_at(BASE "backlog = 0\n", 7,
	    "[listen:api] backlog: not a whole number in 1..65535");
	fails_at(BASE "backlog = 65536\n", 7, "[listen:api] backlog: not");
	c = loads(BASE);
	assert_int_equal(c->shutdown_timeout, 30);	/* defaults */
	assert_int_equal(c->truncation, TRUNCATION_RESET);
	assert_int_equal(c->listeners[0].backlog, 0);	/* somaxconn */
	conf_free(c);
	c = loads("[shim]\nshutdown_timeout = 0\n" UPSTREAM
	    "truncation = close\n" LISTEN "backlog = 1024\n");
	assert_int_equal(c->shutdown_timeout, 0);
	assert_int_equal(c->truncation, TRUNCATION_CLOSE);
	assert_int_equal(c->listeners[0].backlog, 1024);
	conf_free(c);
}

/* The keeper's mint rate: a positive count, bounded, default 1000. */
static void
test_mint_rate(void **state)
{
	struct conf	*c;

	(void)state;
	fails_at("[shim]\nmint_rate = 0\n" BASE, 2,
	    "[shim] mint_rate: not a whole number of names a second in "
	    "1..100000");
	fails_at("[shim]\nmint_rate = 100001\n" BASE, 2,
	    "[shim] mint_rate: not a whole number");
	fails_at("[shim]\nmint_rate = 10/s\n" BASE, 2,
	    "[shim] mint_rate: not a whole number");
	c = loads(BASE);
	assert_int_equal(c->mint_rate, MINT_RATE_DEFAULT);
	conf_free(c);
	c = loads("[shim]\nmint_rate = 50\n" BASE);
	assert_int_equal(c->mint_rate, 50);
	conf_free(c);
}

static void
test_duplicate_binds(void **state)
{
	char	 want[800];

	(void)state;
	assert_null(load(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = 127.0.0.1:8080\nconnect = b.test:443\n"));
	/* reported at the second listener's header */
	snprintf(want, sizeof(want), "%s:7: [listen:b] bind: 127.0.0.1:8080 "
	    "already used by [listen:api] at %s:3", ini_path, ini_path);
	assert_contains(errs, want);
}

static void
test_duplicate_binds_wildcard(void **state)
{
	(void)state;
	assert_null(load(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = 0.0.0.0:8080\nconnect = b.test:443\n"));
	assert_err_at(7, "[listen:b] bind: 0.0.0.0:8080 already used by "
	    "[listen:api]");
}

/* IPv6 listeners are IPV6_V6ONLY: 0.0.0.0:P and [::]:P are two sockets;
 * [::]:P twice, or [::]:P beside [::1]:P, is still a clash. */
static void
test_v4_and_v6_wildcards_both_bind(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = [::]:8080\nconnect = b.test:443\n"
	    "[listen:c]\nmode = tunnel\n"
	    "bind = 0.0.0.0:9090\nconnect = b.test:443\n"
	    "[listen:d]\nmode = tunnel\n"
	    "bind = [::]:9090\nconnect = b.test:443\n");
	assert_int_equal(c->nlisteners, 4);
	conf_free(c);
	assert_null(load(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = [::]:8080\nconnect = b.test:443\n"
	    "[listen:c]\nmode = tunnel\n"
	    "bind = [0::0]:8080\nconnect = b.test:443\n"));
	assert_err_at(11, "[listen:c] bind: 0::0:8080 already used by "
	    "[listen:b]");
	assert_null(load(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = [::]:8080\nconnect = b.test:443\n"
	    "[listen:c]\nmode = tunnel\n"
	    "bind = [::1]:8080\nconnect = b.test:443\n"));
	assert_err_at(11, "[listen:c] bind: ::1:8080 already used by "
	    "[listen:b]");
}

static void
test_same_port_other_address_ok(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(BASE "[listen:b]\nmode = tunnel\n"
	    "bind = 127.0.0.2:8080\nconnect = b.test:443\n");
	assert_int_equal(c->nlisteners, 2);
	conf_free(c);
}

static void
test_bind_hostname_refused(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = localhost:80\n"
	    "connect = a.test:1\n", 5,
	    "[listen:x] bind: bind needs a numeric IPv4 or IPv6 address");
}

static void
test_bind_port_range(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:0\n"
	    "connect = a.test:1\n", 5, "[listen:x] bind: not ADDRESS:PORT");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\n"
	    "bind = 127.0.0.1:70000\nconnect = a.test:1\n", 5,
	    "[listen:x] bind: not ADDRESS:PORT");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\n"
	    "bind = 127.0.0.1:65536\nconnect = a.test:1\n", 5,
	    "[listen:x] bind: not ADDRESS:PORT");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\n"
	    "bind = 127.0.0.1:-1\nconnect = a.test:1\n", 5,
	    "[listen:x] bind: not ADDRESS:PORT");
}

static void
test_bind_ipv6(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(UPSTREAM "[listen:x]\nmode = tunnel\nbind = [::1]:8080\n"
	    "connect = a.test:443\n");
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].bind_host, "::1");
	assert_int_equal(c->listeners[0].bind_port, 8080);
	conf_free(c);
}

static void
test_bind_ipv6_unbracketed_refused(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = ::1:8080\n"
	    "connect = a.test:443\n", 5, "[listen:x] bind: not ADDRESS:PORT");
}

static void
test_connect_port_missing(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = api.test\n", 6, "[listen:x] connect: not HOST:PORT");
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = api.test:\n", 6, "[listen:x] connect: not HOST:PORT");
}

static void
test_connect_bad_host(void **state)
{
	(void)state;
	fails_at(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = b\xc3\xbc" "cher.test:443\n", 6,
	    "[listen:x] connect: non-ASCII host name");
}

static void
test_connect_normalised(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = API.Test.:8443\n");
	assert_string_equal(c->listeners[0].connect_host, "api.test");
	assert_int_equal(c->listeners[0].connect_port, 8443);
	conf_free(c);
}

static void
test_connect_ipv6(void **state)
{
	struct conf	*c;

	(void)state;
	c = loads(UPSTREAM "[listen:x]\nmode = tunnel\nbind = 127.0.0.1:1\n"
	    "connect = [2001:db8::1]:443\n");
	assert_string_equal(c->listeners[0].connect_host, "2001:db8::1");
	assert_int_equal(c->listeners[0].connect_port, 443);
	conf_free(c);
}

/* --- a whole valid configuration ------------------------------------------ */

static void
test_valid_config(void **state)
{
	struct conf		*c;
	const struct rule	*r;
	struct verdict_policy	 vp;
	struct pin		 a, b;

	(void)state;
	c = loads("; pinshim test configuration\n"
	    "[shim]\n"
	    "user = nobody\n"
	    "log_level = debug\n"
	    "state_dir = /var/lib/pinshim\n"
	    "\n"
	    "[upstream]\n"
	    "ca_file = @CA@\n"
	    "connect_timeout = 5\n"
	    "\n"
	    "[domain:api.test]\n"
	    "pins = " PIN_A ", " PIN_B "\n"
	    "policy = pin-only\n"
	    "\n"
	    "# a comment\n"
	    "[domain:**.cdn.test]\n"
	    "policy = ca\n"
	    "\n"
	    "[listen:api]\n"
	    "mode = tunnel\n"
	    "bind = 127.0.0.1:8080\n"
	    "connect = api.test:443\n");
	assert_string_equal(c->path, ini_path);
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_string_equal(c->state_dir, "/var/lib/pinshim");
	assert_string_equal(c->ca_file, ca_path);
	assert_int_equal(c->connect_timeout, 5);
	assert_int_equal(c->handshake_timeout, 10);
	assert_null(c->device_id);

	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].name, "api");
	assert_int_equal(c->listeners[0].mode, MODE_TUNNEL);
	assert_string_equal(c->listeners[0].bind_host, "127.0.0.1");
	assert_int_equal(c->listeners[0].bind_port, 8080);
	assert_string_equal(c->listeners[0].connect_host, "api.test");
	assert_int_equal(c->listeners[0].connect_port, 443);

	assert_int_equal(c->snap->default_policy, POLICY_BLOCK);
	assert_int_equal(c->snap->nrules, 2);
	r = &c->snap->rules[0];
	assert_string_equal(r->pattern, "api.test");
	assert_int_equal(r->policy, POLICY_PIN_ONLY);
	assert_int_equal(r->pins.n, 2);
	assert_true(pin_parse(PIN_A, &a));
	assert_true(pin_parse(PIN_B, &b));
	assert_memory_equal(r->pins.pins[0].hash, a.hash, PIN_HASH_LEN);
	assert_memory_equal(r->pins.pins[1].hash, b.hash, PIN_HASH_LEN);
	assert_int_equal(r->expires, 0);
	r = &c->snap->rules[1];
	assert_string_equal(r->pattern, "**.cdn.test");
	assert_int_equal(r->policy, POLICY_CA);
	assert_int_equal(r->pins.n, 0);

	snapshot_resolve(c->snap, "img.cdn.test", 0, &vp);
	assert_ptr_equal(vp.rule, &c->snap->rules[1]);
	snapshot_resolve(c->snap, "other.test", 0, &vp);
	assert_null(vp.rule);
	assert_int_equal(vp.policy, POLICY_BLOCK);
	conf_free(c);
}

static void
test_rule_origin(void **state)
{
	struct conf	*c;
	char		 want[400];

	(void)state;
	c = loads(BASE "\n[domain:api.test]\npins = " PIN_A "\n");
	snprintf(want, sizeof(want), "%s:8", ini_path);
	assert_string_equal(c->snap->rules[0].origin, want);
	snprintf(want, sizeof(want), "%s:3", ini_path);
	assert_string_equal(c->listeners[0].origin, want);
	conf_free(c);
}

/* --- base/parse: parse_rfc3339 --------------------------------------------- */

static bool
rfc3339(const char *s, int64_t *t)
{
	*t = -1;
	return parse_rfc3339(s, t);
}

static void
test_rfc3339_valid(void **state)
{
	int64_t	 t;

	(void)state;
	assert_true(rfc3339("2027-01-31T12:00:00Z", &t));
	assert_int_equal(t, 1801396800);
	assert_true(rfc3339("1970-01-01T00:00:01Z", &t));
	assert_int_equal(t, 1);
	assert_true(rfc3339("2000-02-29T23:59:59Z", &t));
	assert_int_equal(t, 951868799);
}

static void
test_rfc3339_leap_day(void **state)
{
	int64_t	 t;

	(void)state;
	assert_true(rfc3339("2024-02-29T00:00:00Z", &t));
	assert_int_equal(t, 1709164800);
	assert_false(rfc3339("2023-02-29T00:00:00Z", &t));
	assert_false(rfc3339("2100-02-29T00:00:00Z", &t));	/* century */
	assert_false(rfc3339("2024-02-30T00:00:00Z", &t));
	assert_false(rfc3339("2027-04-31T00:00:00Z", &t));
}

static void
test_rfc3339_rejects_offsets(void **state)
{
	int64_t	 t;

	(void)state;
	assert_false(rfc3339("2027-01-31T12:00:00+00:00", &t));
	assert_false(rfc3339("2027-01-31T12:00:00+01:00", &t));
	assert_false(rfc3339("2027-01-31T12:00:00-05:00", &t));
	assert_false(rfc3339("2027-01-31T12:00:00", &t));
	assert_false(rfc3339("2027-01-31T12:00:00.5Z", &t));
	assert_false(rfc3339("2027-01-31T12:00:00z", &t));
	assert_false(rfc3339("2027-01-31 12:00:00Z", &t));
}

static void
test_rfc3339_rejects_out_of_range(void **state)
{
	int64_t	 t;

	(void)state;
	assert_false(rfc3339("2027-00-10T00:00:00Z", &t));
	assert_false(rfc3339("2027-13-10T00:00:00Z", &t));
	assert_false(rfc3339("2027-01-00T00:00:00Z", &t));
	assert_false(rfc3339("2027-01-32T00:00:00Z", &t));
	assert_false(rfc3339("2027-01-31T24:00:00Z", &t));
	assert_false(rfc3339("2027-01-31T23:60:00Z", &t));
	assert_false(rfc3339("2027-01-31T23:59:60Z", &t));
	assert_false(rfc3339("1969-12-31T23:59:59Z", &t));
	assert_false(rfc3339("", &t));
	assert_false(rfc3339("2027-1-31T12:00:00Z", &t));
	assert_false(rfc3339("2027-01-31T12:00:00Zx", &t));
}

static void
test_rfc3339_rejects_signs_and_spaces(void **state)
{
	int64_t	 t;

	(void)state;
	/* each is 20 characters; scanf's %d would take a sign or a blank */
	assert_false(rfc3339("2027-+1-31T00:00:00Z", &t));
	assert_false(rfc3339("2027- 1-31T00:00:00Z", &t));
	assert_false(rfc3339("2027-01-31T-0:00:00Z", &t));
	assert_false(rfc3339("2027-01-+3T00:00:00Z", &t));
}

static void
test_rfc3339_untouched_on_failure(void **state)
{
	int64_t	 t = 42;

	(void)state;
	assert_false(parse_rfc3339("2023-02-29T00:00:00Z", &t));
	assert_int_equal(t, 42);
}

/* --- base/parse: parse_hostport, parse_uint -------------------------------- */

static void
test_hostport_rejects(void **state)
{
	static const char *const bad[] = { "", ":80", "host", "host:",
	    "host:0", "host:65536", "host:80x", "host: 80", "host:+80",
	    "host:-1", "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80",
	    "a:b:80", "[::1]:", "host:99999999999999999999" };
	char		 host[64];
	uint16_t	 port = 7;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_hostport(bad[i], host, sizeof(host), &port))
			fail_msg("parse_hostport(\"%s\") accepted: %s %u",
			    bad[i], host, port);
	assert_int_equal(port, 7);
}

static void
test_hostport_valid(void **state)
{
	char		 host[64];
	uint16_t	 port;

	(void)state;
	assert_true(parse_hostport("api.test:443", host, sizeof(host), &port));
	assert_string_equal(host, "api.test");
	assert_int_equal(port, 443);
	assert_true(parse_hostport("[::1]:65535", host, sizeof(host), &port));
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	assert_true(parse_hostport("1.2.3.4:1", host, sizeof(host), &port));
	assert_string_equal(host, "1.2.3.4");
	assert_int_equal(port, 1);
}

static void
test_hostport_host_too_long(void **state)
{
	char		 host[8];
	uint16_t	 port;

	(void)state;
	assert_false(parse_hostport("abcdefgh:80", host, sizeof(host), &port));
	assert_true(parse_hostport("abcdefg:80", host, sizeof(host), &port));
	assert_string_equal(host, "abcdefg");
}

static void
test_uint(void **state)
{
	unsigned long	 v = 99;

	(void)state;
	assert_false(parse_uint("", 0, 10, &v));
	assert_false(parse_uint("-1", 0, 10, &v));
	assert_false(parse_uint("+1", 0, 10, &v));
	assert_false(parse_uint(" 1", 0, 10, &v));
	assert_false(parse_uint("1 ", 0, 10, &v));
	assert_false(parse_uint("0x1", 0, 10, &v));
	assert_false(parse_uint("11", 0, 10, &v));
	assert_false(parse_uint("0", 1, 10, &v));
	assert_false(parse_uint("99999999999999999999999", 0, ~0UL, &v));
	assert_false(parse_uint(NULL, 0, 10, &v));
	assert_int_equal(v, 99);
	assert_true(parse_uint("10", 0, 10, &v));
	assert_int_equal(v, 10);
	assert_true(parse_uint("007", 1, 10, &v));
	assert_int_equal(v, 7);
}

/* --- upstream proxy ------------------------------------------------------ */

static void
test_proxy_choice_and_no_proxy(void **state)
{
	struct conf		*c;
	const struct proxy_conf	*up, *p;

	(void)state;
	c = loads("[upstream]\nca_file = @CA@\n"
	    "proxy = http://Proxy.Test:3128/\n"
	    "no_proxy = **.lan.test, 10.0.0.0/8, api.direct, 2001:db8::/32\n"
	    LISTEN
	    "[listen:own]\nmode = tunnel\nbind = 127.0.0.1:8081\n"
	    "connect = api.test:443\nproxy = http://[::1]:8080\n"
	    "[listen:direct]\nmode = tunnel\nbind = 127.0.0.1:8082\n"
	    "connect = api.test:443\nproxy = none\n");
	up = conf_proxy(c, &conf_listener(c, "api")->proxy, "api.test");
	assert_non_null(up);
	assert_ptr_equal(up, &c->proxy);
	assert_string_equal(up->host, "proxy.test");
	assert_int_equal(up->port, 3128);
	assert_string_equal(up->name, "proxy.test:3128");
	assert_null(up->auth);
	/* no_proxy: ** takes the apex and any depth; addresses by block */
	assert_null(conf_proxy(c, NULL, "lan.test"));
	assert_null(conf_proxy(c, NULL, "a.b.lan.test"));
	assert_null(conf_proxy(c, NULL, "10.1.2.3"));
	assert_null(conf_proxy(c, NULL, "api.direct"));
	assert_null(conf_proxy(c, NULL, "2001:db8::1"));
	assert_ptr_equal(conf_proxy(c, NULL, "x.api.direct"), up);
	assert_ptr_equal(conf_proxy(c, NULL, "11.0.0.1"), up);
	assert_ptr_equal(conf_proxy(c, NULL, "2001:db9::1"), up);
	/* a listener's own proxy, or none */
	p = conf_proxy(c, &conf_listener(c, "own")->proxy, "api.test");
	assert_non_null(p);
	assert_string_equal(p->name, "[::1]:8080");
	assert_null(conf_proxy(c, &conf_listener(c, "direct")->proxy,
	    "api.test"));
	/* no_proxy applies to a listener's own proxy as well */
	assert_null(conf_proxy(c, &conf_listener(c, "own")->proxy,
	    "10.0.0.1"));
	conf_free(c);
	/* without [upstream] proxy: direct */
	c = loads(BASE);
	assert_null(conf_proxy(c, &conf_listener(c, "api")->proxy,
	    "api.test"));
	conf_free(c);
}

static void
test_proxy_bad_values(void **state)
{
	(void)state;
	fails_at("[upstream]\nproxy = http://u:pw@proxy:3128\n" LISTEN, 2,
	    "[upstream] proxy: credentials go in proxy_auth_file");
	fails_at("[upstream]\nproxy = https://proxy:3128\n" LISTEN, 2,
	    "[upstream] proxy: want http://HOST:PORT or none");
	fails_at("[upstream]\nproxy = http://proxy:3128/x\n" LISTEN, 2,
	    "[upstream] proxy: want http://HOST:PORT or none (no path)");
	fails_at("[upstream]\nproxy = http://proxy:3128?a\n" LISTEN, 2,
	    "[upstream] proxy: want http://HOST:PORT or none");
	fails_at("[upstream]\nproxy = proxy:3128\n" LISTEN, 2,
	    "[upstream] proxy: want http://HOST:PORT or none");
	fails_at("[upstream]\nno_proxy = a.test, *.*.b\n" LISTEN, 2,
	    "[upstream] no_proxy: *.*.b:");
	fails_at(LISTEN "proxy = socks5://p:1\n" UPSTREAM, 5,
	    "[listen:api] proxy: want http://HOST:PORT or none");
}

static void
test_proxy_auth_file(void **state)
{
	struct conf	*c;
	char		 good[300], loose[300], bad[300], text[1200];
	char		 longer[500];
	static const char *const malformed[] = {
		"", "\n", "nocolon\n", ":pw\n", "u:pw\nsecond:line\n",
		"u:p\tw\n",
	};
	size_t		 i;

	(void)state;
	tu_write_file(tu_tmpdir, "good", "user:pw\n", good, sizeof(good));
	chmod(good, 0600);
	snprintf(text, sizeof(text), "[upstream]\nca_file = @CA@\n"
	    "proxy = http://p.test:3128\nproxy_auth_file = %s\n" LISTEN, good);
	c = loads(text);
	assert_string_equal(c->proxy.auth, "dXNlcjpwdw==");	/* user:pw */
	conf_free(c);

	/* others may read it: refused, naming the file and its mode */
	tu_write_file(tu_tmpdir, "loose", "user:pw\n", loose, sizeof(loose));
	chmod(loose, 0640);
	snprintf(text, sizeof(text), "[upstream]\nproxy = http://p.test:3128\n"
	    "proxy_auth_file = %s\n" LISTEN, loose);
	fails_at(text, 3, "[upstream] proxy_auth_file: ");
	assert_contains(errs, "readable or writable by group or others "
	    "(mode 640): chmod 600 it");

	for (i = 0; i < nitems(malformed); i++) {
		tu_write_file(tu_tmpdir, "bad", malformed[i], bad, sizeof(bad));
		chmod(bad, 0600);
		snprintf(text, sizeof(text), "[upstream]\nproxy = "
		    "http://p.test:3128\nproxy_auth_file = %s\n" LISTEN, bad);
		fails_at(text, 3, "want one line user:password");
	}
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	longer[3] = ':';
	tu_write_file(tu_tmpdir, "bad", longer, bad, sizeof(bad));
	chmod(bad, 0600);
	snprintf(text, sizeof(text), "[upstream]\nproxy = http://p.test:3128\n"
	    "proxy_auth_file = %s\n" LISTEN, bad);
	fails_at(text, 3, "longer than 384 bytes");
	snprintf(text, sizeof(text), "[upstream]\nproxy = http://p.test:3128\n"
	    "proxy_auth_file = %s/none\n" LISTEN, tu_tmpdir);
	fails_at(text, 3, "No such file or directory");

	/* credentials go with the proxy of their own section */
	snprintf(text, sizeof(text), "[upstream]\nca_file = @CA@\n"
	    "proxy = http://p.test:3128\n" LISTEN "proxy_auth_file = %s\n",
	    good);
	fails_at(text, 4, "[listen:api] proxy_auth_file: without proxy = "
	    "http://HOST:PORT in this section");
	snprintf(text, sizeof(text), LISTEN "proxy = http://q.test:1\n"
	    "proxy_auth_file = %s\n" UPSTREAM, good);
	c = loads(text);
	assert_null(c->proxy.auth);
	assert_string_equal(conf_listener(c, "api")->proxy.auth,
	    "dXNlcjpwdw==");
	conf_free(c);
}

/* --- device identities -------------------------------------------------- */

static void
test_client_identities_are_their_own_table(void **state)
{
	struct conf	*c;
	struct feed_body *b;
	const char	 feed[] = "[feed]\nversion = 1\n"
	    "issued = 2026-01-01T00:00:00Z\nexpires = 2099-01-01T00:00:00Z\n"
	    "[domain:api.test]\npolicy = ca\nclient_cert = /x.pem\n";

	(void)state;
	c = loads("[domain:**.example.test]\npolicy = ca\n"
	    "client_cert = @CA@\nclient_key = /etc/k1.key\n"
	    "[domain:a.example.test]\npolicy = ca\n"
	    "client_cert = @CA@\nclient_key = /etc/k2.key\n"
	    "[domain:b.example.test]\npolicy = ca\n"
	    UPSTREAM LISTEN "client_cert = @CA@\nclient_key = /etc/k3.key\n");
	assert_int_equal(c->nidents, 3);
	assert_string_equal(c->idents[0].pattern, "**.example.test");
	assert_string_equal(c->idents[0].key.path, "/etc/k1.key");
	assert_int_equal(c->idents[0].key.line, 4);
	/* the most specific pattern with an identity; none elsewhere */
	assert_int_equal(conf_ident(c, NULL, "a.example.test"), 1);
	assert_int_equal(conf_ident(c, NULL, "b.example.test"), 0);
	assert_int_equal(conf_ident(c, NULL, "example.test"), 0);
	assert_int_equal(conf_ident(c, NULL, "api.test"), -1);
	/* a tunnel's own wins */
	assert_string_equal(c->idents[2].listener, "api");
	assert_int_equal(c->listeners[0].ident, 3);
	assert_int_equal(conf_ident(c, &c->listeners[0], "a.example.test"), 2);
	/* the rules hold no identity: three rules, three identities */
	assert_int_equal(c->snap->nrules, 3);
	assert_true(conf_idents_same(c, c));
	conf_free(c);

	fails_at("[domain:api.test]\npolicy = ca\nclient_cert = @CA@\n"
	    UPSTREAM LISTEN, 3, "[domain:api.test] client_key: required with "
	    "client_cert");
	fails_at("[domain:api.test]\npolicy = ca\nclient_cert = @CA@\n"
	    "client_key = k.key\n" UPSTREAM LISTEN, 4, "[domain:api.test] "
	    "client_key: must be an absolute path");
	fails_at(UPSTREAM "[listen:p]\nmode = forward\nbind = 127.0.0.1:1\n"
	    "client_key = /k\n", 6, "[listen:p] client_key: only for mode "
	    "tunnel");
	/* a feed cannot set one: its [domain:] has no such key */
	b = feed_body_parse("feed", feed, strlen(feed), stderr);
	assert_null(b);
}

/* `pinshim status` reads [shim] status alone: whatever else the file
 * holds (garbage, unknown sections, other sections' status), the key's
 * value and line; a continuation line is not a value; absent: 0. */
static void
test_ini_find_reads_one_key_leniently(void **state)
{
	static const struct {
		const char	*text;
		int		 line;
		const char	*val;
	} cases[] = {
		{ "", 0, "" },
		{ "[feed]\nstatus = 1.1.1.1:1\n", 0, "" },
		{ "junk\n[shim]\nbogus\nstatus = 127.0.0.1:9\n[x\n", 4,
		    "127.0.0.1:9" },
		{ "[shim]\nstatus = a\n  b\n", 2, "a" },
		{ "[shim]\n  status = a\n", 2, "a" },
		{ "[shim]\nstatus = a\n[listen:x]\nstatus = b\n[shim]\n"
		    "status = c\n", 6, "c" },
	};
	char	 val[64];
	size_t	 i;
	FILE	*f;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = fmemopen((void *)(uintptr_t)cases[i].text,
		    strlen(cases[i].text) ? strlen(cases[i].text) : 1, "r");
		assert_non_null(f);
		if (ini_find(f, "shim", "status", val, sizeof(val)) !=
		    cases[i].line || strcmp(val, cases[i].val) != 0)
			fail_msg("case %zu: line or value", i);
		fclose(f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_proxy_choice_and_no_proxy),
		cmocka_unit_test(test_proxy_bad_values),
		cmocka_unit_test(test_proxy_auth_file),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_key_in_wrong_section),
		cmocka_unit_test(test_key_outside_section),
		cmocka_unit_test(test_same_section_twice),
		cmocka_unit_test(test_log_connections),
		cmocka_unit_test(test_key_given_twice),
		cmocka_unit_test(test_pins_given_twice),
		cmocka_unit_test(test_continuation_of_non_list_key),
		cmocka_unit_test(test_syntax_error_line),
		cmocka_unit_test(test_unclosed_section_header),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_overlong_line_not_reported_on_next_line),
		cmocka_unit_test(test_line_limit_matches_message),
		cmocka_unit_test(test_reports_every_error),
		cmocka_unit_test(test_no_listener),
		cmocka_unit_test(test_feed_section_loads),
		cmocka_unit_test(test_feed_roles_apart),
		cmocka_unit_test(test_enforce),
		cmocka_unit_test(test_status_keys),
		cmocka_unit_test(test_log_key),
		cmocka_unit_test(test_nameservers),
		cmocka_unit_test(test_feed_needs_state_dir),
		cmocka_unit_test(test_feed_needs_public_key),
		cmocka_unit_test(test_feed_url_must_be_https),
		cmocka_unit_test(test_feed_bad_public_key),
		cmocka_unit_test(test_feed_refresh_range),
		cmocka_unit_test(test_indented_header_at_start_not_ignored),
		cmocka_unit_test(test_indented_header_after_header_not_misattributed),
		cmocka_unit_test(test_bom_first_section_not_ignored),
		cmocka_unit_test(test_bad_pin),
		cmocka_unit_test(test_bad_pin_on_continuation_line),
		cmocka_unit_test(test_pins_continued_on_indented_line),
		cmocka_unit_test(test_policy_pin_without_pins),
		cmocka_unit_test(test_domain_without_keys),
		cmocka_unit_test(test_policy_pin_only_without_pins),
		cmocka_unit_test(test_policy_ca_with_pins),
		cmocka_unit_test(test_bad_policy_value),
		cmocka_unit_test(test_policy_tofu_rules),
		cmocka_unit_test(test_bad_host_pattern),
		cmocka_unit_test(test_same_pattern_spelt_twice),
		cmocka_unit_test(test_bad_expires),
		cmocka_unit_test(test_bad_on_expiry),
		cmocka_unit_test(test_expires_without_pins),
		cmocka_unit_test(test_expires_loads),
		cmocka_unit_test(test_expires_at_epoch_is_not_never),
		cmocka_unit_test(test_default_policy_defaults_to_block),
		cmocka_unit_test(test_default_policy_ca),
		cmocka_unit_test(test_default_policy_pin_refused),
		cmocka_unit_test(test_ca_file_unreadable),
		cmocka_unit_test(test_timeouts_range),
		cmocka_unit_test(test_timeouts_load),
		cmocka_unit_test(test_shim_values),
		cmocka_unit_test(test_listen_missing_connect),
		cmocka_unit_test(test_listen_missing_bind),
		cmocka_unit_test(test_listen_missing_mode),
		cmocka_unit_test(test_listen_empty_section),
		cmocka_unit_test(test_listen_bad_name),
		cmocka_unit_test(test_listen_mode_forward),
		cmocka_unit_test(test_listen_client_tls),
		cmocka_unit_test(test_listen_ipv6_client_prefix),
		cmocka_unit_test(test_listen_alpn),
		cmocka_unit_test(test_stop_keys),
		cmocka_unit_test(test_mint_rate),
		cmocka_unit_test(test_duplicate_binds),
		cmocka_unit_test(test_duplicate_binds_wildcard),
		cmocka_unit_test(test_v4_and_v6_wildcards_both_bind),
		cmocka_unit_test(test_same_port_other_address_ok),
		cmocka_unit_test(test_bind_hostname_refused),
		cmocka_unit_test(test_bind_port_range),
		cmocka_unit_test(test_bind_ipv6),
		cmocka_unit_test(test_bind_ipv6_unbracketed_refused),
		cmocka_unit_test(test_connect_port_missing),
		cmocka_unit_test(test_connect_bad_host),
		cmocka_unit_test(test_connect_normalised),
		cmocka_unit_test(test_connect_ipv6),
		cmocka_unit_test(test_valid_config),
		cmocka_unit_test(test_rule_origin),
		cmocka_unit_test(test_rfc3339_valid),
		cmocka_unit_test(test_rfc3339_leap_day),
		cmocka_unit_test(test_rfc3339_rejects_offsets),
		cmocka_unit_test(test_rfc3339_rejects_out_of_range),
		cmocka_unit_test(test_rfc3339_rejects_signs_and_spaces),
		cmocka_unit_test(test_rfc3339_untouched_on_failure),
		cmocka_unit_test(test_hostport_rejects),
		cmocka_unit_test(test_hostport_valid),
		cmocka_unit_test(test_hostport_host_too_long),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_client_identities_are_their_own_table),
		cmocka_unit_test(test_ini_find_reads_one_key_leniently),
	};

	return cmocka_run_group_tests_name("conf", tests, setup, teardown);
}
