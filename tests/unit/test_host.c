/*
 * test_host.c - host name normalisation and host patterns: what decides
 * which pins apply, so leniency here is a pin bypass.
 */
#include "testutil.h"

#include "pins/host.h"

/* Normalise or fail the test; result in a static buffer. */
static const char *
norm(const char *in)
{
	static char	 out[HOST_MAX + 1];
	const char	*why = NULL;

	if (!host_normalize(in, out, sizeof(out), &why))
		fail_msg("host_normalize(\"%s\") refused: %s", in, why);
	return out;
}

/* Refused, with a reason. */
static const char *
refused(const char *in)
{
	char		 out[HOST_MAX + 1];
	const char	*why = NULL;

	if (host_normalize(in, out, sizeof(out), &why))
		fail_msg("host_normalize(\"%s\") accepted as \"%s\"", in, out);
	assert_non_null(why);
	return why;
}

static struct hostpat
pat(const char *in)
{
	struct hostpat	 p;
	const char	*why = NULL;

	memset(&p, 0, sizeof(p));
	if (!hostpat_parse(in, &p, &why))
		fail_msg("hostpat_parse(\"%s\") refused: %s", in, why);
	return p;
}

static void
pat_refused(const char *in)
{
	struct hostpat	 p;
	const char	*why = NULL;

	if (hostpat_parse(in, &p, &why))
		fail_msg("hostpat_parse(\"%s\") accepted (base \"%s\")", in,
		    p.base);
	assert_non_null(why);
}

/* Match a pattern against a raw host, normalised first. */
static int
match(const char *pattern, const char *host)
{
	struct hostpat	 p = pat(pattern);

	return hostpat_match(&p, norm(host));
}

static char *
repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* --- host_normalize: hostile input ------------------------------------- */

static void
test_norm_rejects_empty(void **state)
{
	(void)state;
	refused("");
	refused(".");
}

static void
test_norm_rejects_empty_label_inside(void **state)
{
	(void)state;
	refused("a..b");
	refused("api..example.com");
}

static void
test_norm_rejects_leading_dot(void **state)
{
	(void)state;
	refused(".a");
	refused(".example.com");
	refused("..");
}

static void
test_norm_rejects_two_trailing_dots(void **state)
{
	(void)state;
	/* only ONE trailing dot is dropped; what is left has an empty
	 * last label */
	refused("a..");
	refused("example.com..");
}

static void
test_norm_rejects_long_label(void **state)
{
	char	 label[80], host[160];

	(void)state;
	snprintf(host, sizeof(host), "%s.example",
	    repeat(label, 'a', 64));
	assert_string_equal(refused(host), "label longer than 63 characters");
	snprintf(host, sizeof(host), "x.%s", repeat(label, 'b', 64));
	refused(host);
}

static void
test_norm_accepts_63_char_label(void **state)
{
	char	 label[80], host[160];

	(void)state;
	snprintf(host, sizeof(host), "%s.example", repeat(label, 'a', 63));
	assert_string_equal(norm(host), host);
}

/* n characters: labels of 9 + '.' and a tail, never a label over 63 */
static void
long_name(char *buf, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 10 == 9) ? '.' : 'a';
	if (buf[n - 1] == '.')
		buf[n - 1] = 'a';
	buf[n] = '\0';
}

static void
test_norm_rejects_254_chars(void **state)
{
	char	 host[300];

	(void)state;
	long_name(host, 254);
	refused(host);
}

static void
test_norm_accepts_253_chars_and_trailing_dot(void **state)
{
	char	 host[300], dotted[310];

	(void)state;
	long_name(host, 253);
	assert_string_equal(norm(host), host);
	snprintf(dotted, sizeof(dotted), "%s.", host);
	assert_string_equal(norm(dotted), host);
}

static void
test_norm_respects_outsz(void **state)
{
	char		 out[8];
	const char	*why = NULL;

	(void)state;
	assert_false(host_normalize("abcdefgh.x", out, sizeof(out), &why));
	assert_true(host_normalize("abc.de", out, sizeof(out), &why));
	assert_string_equal(out, "abc.de");
}

static void
test_norm_rejects_raw_utf8_idn(void **state)
{
	(void)state;
	assert_string_equal(refused("b\xc3\xbc" "cher.example"),
	    "non-ASCII host name (write IDNs as xn--)");
	refused("\xff.example");
}

static void
test_norm_rejects_invalid_chars(void **state)
{
	(void)state;
	refused("a b.example");
	refused("a/b.example");
	refused("a:b.example");
	refused("a*.example");
	refused("a@b.example");
	refused("a\tb");
	refused("[::1]");
}

static void
test_norm_rejects_hyphen_at_label_edge(void **state)
{
	(void)state;
	refused("-a.example");
	refused("a-.example");
	refused("a.example-");
	refused("a.-example");
	refused("-");
}

/* --- host_normalize: the good path ------------------------------------- */

static void
test_norm_lowercases(void **state)
{
	(void)state;
	assert_string_equal(norm("API.Example.COM"), "api.example.com");
}

static void
test_norm_strips_one_trailing_dot(void **state)
{
	(void)state;
	assert_string_equal(norm("example.com."), "example.com");
	assert_string_equal(norm("localhost"), "localhost");
}

static void
test_norm_punycode(void **state)
{
	(void)state;
	assert_string_equal(norm("xn--bcher-kva.example"),
	    "xn--bcher-kva.example");
	assert_string_equal(norm("XN--BCHER-KVA.example"),
	    "xn--bcher-kva.example");
}

static void
test_norm_inner_hyphen_digits_underscore(void **state)
{
	(void)state;
	assert_string_equal(norm("a-b.9x._srv.Example"), "a-b.9x._srv.example");
}

/* --- host_is_ip --------------------------------------------------------- */

static void
test_is_ip(void **state)
{
	(void)state;
	assert_true(host_is_ip("127.0.0.1"));
	assert_true(host_is_ip("::1"));
	assert_true(host_is_ip("2001:db8::1"));
	assert_false(host_is_ip("1.2.3"));
	assert_false(host_is_ip("1.2.3.256"));
	assert_false(host_is_ip("api.test"));
	assert_false(host_is_ip("[::1]"));
	assert_false(host_is_ip(""));
}

/* --- host_canon: one spelling per address ------------------------------ */

static const char *
canon(const char *in)
{
	static char	 out[HOST_MAX + 1];
	const char	*why = NULL;

	if (!host_canon(in, out, sizeof(out), &why))
		fail_msg("host_canon(\"%s\") refused: %s", in, why);
	return out;
}

static void
test_canon_ip_literals(void **state)
{
	char		 out[HOST_MAX + 1];
	const char	*why;

	(void)state;
	assert_string_equal(canon("127.0.0.1"), "127.0.0.1");
	assert_string_equal(canon("2001:DB8:0:0::1"), "2001:db8::1");
	assert_string_equal(canon("0:0:0:0:0:0:0:1"), "::1");
	assert_string_equal(canon("::FFFF:127.0.0.1"), "::ffff:127.0.0.1");
	assert_string_equal(canon("API.test."), "api.test");
	/* a zone or brackets is not an address and not a name */
	assert_false(host_canon("fe80::1%eth0", out, sizeof(out), &why));
	assert_false(host_canon("[::1]", out, sizeof(out), &why));
	/* too small a buffer refuses, never truncates */
	assert_false(host_canon("2001:db8::1", out, 6, &why));
}

/* --- hostpat_parse ------------------------------------------------------ */

static void
test_pat_rejects_inner_star(void **state)
{
	(void)state;
	pat_refused("a*.example.com");
	pat_refused("api.*.com");
	pat_refused("api.example.*");
	pat_refused("*.*.example.com");
	pat_refused("***.example.com");
	pat_refused("*example.com");
}

static void
test_pat_rejects_bare_star(void **state)
{
	(void)state;
	pat_refused("*");
	pat_refused("**");
	pat_refused("*.");
	pat_refused("**.");
}

static void
test_pat_rejects_wildcard_over_tld(void **state)
{
	(void)state;
	pat_refused("*.com");
	pat_refused("**.com");
	pat_refused("*.com.");
	pat_refused("**.COM.");
}

static void
test_pat_rejects_wildcard_over_tld_double_dot(void **state)
{
	(void)state;
	/* "com.." must not slip past the TLD check as "com." */
	pat_refused("*.com..");
	pat_refused("**.com..");
}

static void
test_pat_rejects_bad_base(void **state)
{
	(void)state;
	pat_refused("");
	pat_refused("*.a..example.com");
	pat_refused("**.b\xc3\xbc" "cher.example");
	pat_refused("*.-a.example");
}

static void
test_pat_kinds(void **state)
{
	struct hostpat	 p;

	(void)state;
	p = pat("API.Example.COM.");
	assert_int_equal(p.kind, HOSTPAT_EXACT);
	assert_string_equal(p.base, "api.example.com");
	assert_int_equal(p.labels, 3);
	p = pat("*.example.com");
	assert_int_equal(p.kind, HOSTPAT_ONE_LABEL);
	assert_string_equal(p.base, "example.com");
	assert_int_equal(p.labels, 2);
	p = pat("**.Example.com");
	assert_int_equal(p.kind, HOSTPAT_ANY_DEPTH);
	assert_string_equal(p.base, "example.com");
	p = pat("localhost");
	assert_int_equal(p.kind, HOSTPAT_EXACT);
}

/* IPv6 literals: exact only, without brackets, one spelling. */
static void
test_pat_ipv6_literal(void **state)
{
	struct hostpat	 p;
	char		 k1[HOSTPAT_KEY_LEN], k2[HOSTPAT_KEY_LEN];

	(void)state;
	p = pat("2001:DB8:0::1");
	assert_int_equal(p.kind, HOSTPAT_EXACT);
	assert_string_equal(p.base, "2001:db8::1");
	hostpat_key(&p, k1);
	p = pat("2001:db8::0:1");
	hostpat_key(&p, k2);
	assert_string_equal(k1, k2);	/* the same address: a duplicate */
	p = pat("::1");
	assert_string_equal(p.base, "::1");
	pat_refused("[2001:db8::1]");
	pat_refused("[::1");
	pat_refused("*.2001:db8::1");
	pat_refused("**.::1");
	pat_refused("2001:db8::1::2");
	pat_refused("2001:db8::g");
	pat_refused("fe80::1%eth0");
	pat_refused(":");
}

static void
test_match_ip_literals(void **state)
{
	struct hostpat	 p = pat("2001:db8::1");

	(void)state;
	assert_true(hostpat_match(&p, canon("2001:DB8:0:0:0:0:0:1")) >= 0);
	assert_int_equal(hostpat_match(&p, canon("2001:db8::2")), -1);
	assert_int_equal(hostpat_match(&p, canon("::1")), -1);
	p = pat("::1");
	assert_true(hostpat_match(&p, canon("0::1")) >= 0);
	assert_int_equal(hostpat_match(&p, canon("127.0.0.1")), -1);
	p = pat("127.0.0.1");
	assert_true(hostpat_match(&p, canon("127.0.0.1")) >= 0);
	assert_int_equal(hostpat_match(&p, canon("::ffff:127.0.0.1")), -1);
}

/* --- hostpat_match ------------------------------------------------------ */

static void
test_match_exact_case_insensitive(void **state)
{
	(void)state;
	assert_true(match("API.Example.COM", "api.example.com") >= 0);
	assert_true(match("api.example.com", "API.EXAMPLE.com") >= 0);
	assert_int_equal(match("api.example.com", "api.example.co"), -1);
	assert_int_equal(match("api.example.com", "xapi.example.com"), -1);
	assert_int_equal(match("api.example.com", "a.api.example.com"), -1);
}

static void
test_match_trailing_dots(void **state)
{
	(void)state;
	assert_true(match("api.example.com.", "api.example.com") >= 0);
	assert_true(match("api.example.com", "api.example.com.") >= 0);
	assert_true(match("*.example.com.", "a.example.com.") >= 0);
	assert_true(match("**.example.com.", "example.com.") >= 0);
}

static void
test_match_one_label(void **state)
{
	(void)state;
	assert_true(match("*.example.com", "a.example.com") >= 0);
	assert_true(match("*.example.com", "A.EXAMPLE.COM") >= 0);
	assert_int_equal(match("*.example.com", "example.com"), -1);
	assert_int_equal(match("*.example.com", "a.b.example.com"), -1);
	assert_int_equal(match("*.example.com", "badexample.com"), -1);
	assert_int_equal(match("*.example.com", "a.example.com.evil"), -1);
}

static void
test_match_any_depth(void **state)
{
	(void)state;
	assert_true(match("**.example.com", "example.com") >= 0);
	assert_true(match("**.example.com", "a.example.com") >= 0);
	assert_true(match("**.example.com", "a.b.example.com") >= 0);
	assert_true(match("**.example.com", "x.y.z.example.com") >= 0);
	assert_int_equal(match("**.example.com", "badexample.com"), -1);
	assert_int_equal(match("**.example.com", "example.com.evil"), -1);
	assert_int_equal(match("**.example.com", "example.co"), -1);
	assert_int_equal(match("**.example.com", "com"), -1);
}

static void
test_match_suffix_confusion(void **state)
{
	(void)state;
	assert_int_equal(match("*.ample.com", "a.example.com"), -1);
	assert_int_equal(match("**.ample.com", "a.example.com"), -1);
	assert_int_equal(match("**.ample.com", "example.com"), -1);
	assert_int_equal(match("ample.com", "example.com"), -1);
}

static void
test_match_idn_label(void **state)
{
	(void)state;
	assert_true(match("XN--BCHER-KVA.example", "xn--bcher-kva.example") >=
	    0);
	assert_true(match("*.xn--bcher-kva.example",
	    "API.XN--bcher-KVA.example") >= 0);
}

static void
test_specificity_same_base(void **state)
{
	int	 exact, one, any;

	(void)state;
	exact = match("a.example.com", "a.example.com");
	one = match("*.example.com", "a.example.com");
	any = match("**.example.com", "a.example.com");
	assert_true(any >= 0);
	assert_true(one > any);
	assert_true(exact > one);
}

static void
test_specificity_apex(void **state)
{
	(void)state;
	/* exact apex beats **.apex on the apex itself */
	assert_true(match("example.com", "example.com") >
	    match("**.example.com", "example.com"));
}

static void
test_specificity_deeper_base_wins(void **state)
{
	(void)state;
	/* b.example.com: "**.b.example.com" (its apex) beats
	 * "*.example.com" */
	assert_true(match("*.example.com", "b.example.com") >= 0);
	assert_true(match("**.b.example.com", "b.example.com") >
	    match("*.example.com", "b.example.com"));
	/* a.b.example.com: *.example.com does not match at all */
	assert_int_equal(match("*.example.com", "a.b.example.com"), -1);
	assert_true(match("**.b.example.com", "a.b.example.com") >
	    match("**.example.com", "a.b.example.com"));
	assert_true(match("*.b.example.com", "a.b.example.com") >
	    match("**.example.com", "a.b.example.com"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_norm_rejects_empty),
		cmocka_unit_test(test_norm_rejects_empty_label_inside),
		cmocka_unit_test(test_norm_rejects_leading_dot),
		cmocka_unit_test(test_norm_rejects_two_trailing_dots),
		cmocka_unit_test(test_norm_rejects_long_label),
		cmocka_unit_test(test_norm_accepts_63_char_label),
		cmocka_unit_test(test_norm_rejects_254_chars),
		cmocka_unit_test(test_norm_accepts_253_chars_and_trailing_dot),
		cmocka_unit_test(test_norm_respects_outsz),
		cmocka_unit_test(test_norm_rejects_raw_utf8_idn),
		cmocka_unit_test(test_norm_rejects_invalid_chars),
		cmocka_unit_test(test_norm_rejects_hyphen_at_label_edge),
		cmocka_unit_test(test_norm_lowercases),
		cmocka_unit_test(test_norm_strips_one_trailing_dot),
		cmocka_unit_test(test_norm_punycode),
		cmocka_unit_test(test_norm_inner_hyphen_digits_underscore),
		cmocka_unit_test(test_is_ip),
		cmocka_unit_test(test_canon_ip_literals),
		cmocka_unit_test(test_pat_ipv6_literal),
		cmocka_unit_test(test_match_ip_literals),
		cmocka_unit_test(test_pat_rejects_inner_star),
		cmocka_unit_test(test_pat_rejects_bare_star),
		cmocka_unit_test(test_pat_rejects_wildcard_over_tld),
		cmocka_unit_test(test_pat_rejects_wildcard_over_tld_double_dot),
		cmocka_unit_test(test_pat_rejects_bad_base),
		cmocka_unit_test(test_pat_kinds),
		cmocka_unit_test(test_match_exact_case_insensitive),
		cmocka_unit_test(test_match_trailing_dots),
		cmocka_unit_test(test_match_one_label),
		cmocka_unit_test(test_match_any_depth),
		cmocka_unit_test(test_match_suffix_confusion),
		cmocka_unit_test(test_match_idn_label),
		cmocka_unit_test(test_specificity_same_base),
		cmocka_unit_test(test_specificity_apex),
		cmocka_unit_test(test_specificity_deeper_base_wins),
	};

	return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
