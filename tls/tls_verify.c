/*
 * tls_verify.c - the pin check: one verdict per upstream connection.
 *
 * Pins are matched only over certificates on a signature-verified path
 * from the leaf (for pin: a path that ends at a trust anchor of ca_file),
 * never over "whatever the peer sent": an attacker holding a rogue but
 * trusted CA can append the real intermediate to its chain, and that
 * certificate must not count. The path is rebuilt here with wolfSSL's own
 * issuer and signature checks because wolfSSL does not expose the path it
 * built; wolfSSL's verification still has to succeed on its own. The
 * chain judged is the one the verify callback saw in this handshake (or,
 * for a resumed session, the one recorded at its full handshake), never
 * what wolfSSL's session object happens to remember.
 *
 * Must never: pass when wolfSSL failed, pass on a name mismatch, or pass a
 * pin/pin-only connection that no path pin matched. In doubt, refuse.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/openssl/x509v3.h>

#include "pins/host.h"
#include "base/mem.h"
#include "base/parse.h"
#include "tls/tls.h"

struct node {
	WOLFSSL_X509	*cert;		/* peer certs owned; anchors borrowed */
	WOLFSSL_EVP_PKEY *key;		/* owned, lazily */
	const unsigned char *hash;	/* of the DER; the chain's or anchor's */
	struct pin	 pin;
	bool		 has_pin;
	bool		 anchor;
	bool		 on_path;	/* on a path that qualifies */
	bool		 reached;	/* the leaf chains up to it */
	bool		 good;		/* it chains up to an anchor */
};

#define WALK_MAX	(TLS_CHAIN_MAX * 2)
#define SIG_BUDGET	32	/* signature checks per connection */

enum { E_UNKNOWN, E_NO, E_YES };

struct walk {
	struct tls_pairs *pairs;	/* signatures verified before */
	struct node	 n[WALK_MAX];
	size_t		 npeer, count;
	bool		 need_anchor;
	uint8_t		 edge[WALK_MAX][WALK_MAX];	/* child, parent */
	unsigned	 sigs;		/* signature checks spent */
	bool		 over_budget;
};

static const char *const reason_names[] = {
	[TLS_OK] = "ok",
	[TLS_PIN_MISMATCH] = "pin-mismatch",
	[TLS_UNTRUSTED] = "untrusted-chain",
	[TLS_EXPIRED] = "cert-expired",
	[TLS_NOT_YET_VALID] = "cert-not-yet-valid",
	[TLS_NAME_MISMATCH] = "name-mismatch",
	[TLS_BAD_CERT] = "bad-certificate",
	[TLS_HANDSHAKE] = "tls-handshake-failed",
	[TLS_NO_CERT] = "no-certificate",
	[TLS_TOFU_CHANGED] = "tofu-changed",
	[TLS_TOFU_CONTRADICTED] = "tofu-contradicts-observed",
	[TLS_TOFU_FULL] = "tofu-store-full",
	[TLS_CLIENT_REFUSED] = "client-cert-refused",
};

const char *
tls_reason_name(enum tls_reason r)
{
	return (size_t)r < nitems(reason_names) ? reason_names[r] : "?";
}

int
tls_cert_pin(WOLFSSL_X509 *x, struct pin *out)
{
	/* get_pubkey_buffer yields the DER SubjectPublicKeyInfo for RSA and
	 * EC alike; i2d_PUBKEY does not (PKCS#1 for RSA) and would give
	 * pins that differ from openssl's. */
	unsigned char	 buf[4096];
	int		 len = sizeof(buf);

	if (wolfSSL_X509_get_pubkey_buffer(x, buf, &len) != WOLFSSL_SUCCESS ||
	    len <= 0)
		return -1;
	return pin_of_spki(buf, (size_t)len, out);
}

void
tls_cert_subject(WOLFSSL_X509 *x, char *buf, size_t sz)
{
	WOLFSSL_X509_NAME	*name = wolfSSL_X509_get_subject_name(x);

	if (name == NULL ||
	    wolfSSL_X509_NAME_oneline(name, buf, (int)sz) == NULL)
		snprintf(buf, sz, "?");
}

/* Did parent's key sign child? Each pair is decided once; signature
 * checks are budgeted, since a hostile chain (many certificates with one
 * name) could otherwise make every pair a candidate. */
static bool
issued_by(struct walk *w, size_t child, size_t parent)
{
	struct node	*p = &w->n[parent];
	uint8_t		*e = &w->edge[child][parent];

	if (*e != E_UNKNOWN)
		return *e == E_YES;
	*e = E_NO;
	if (wolfSSL_X509_check_issued(p->cert, w->n[child].cert) !=
	    X509_V_OK)
		return false;
	if (tls_pairs_known(w->pairs, w->n[child].hash, p->hash)) {
		*e = E_YES;
		return true;
	}
	if (++w->sigs > SIG_BUDGET) {
		w->over_budget = true;
		return false;
	}
	if (p->key == NULL &&
	    (p->key = wolfSSL_X509_get_pubkey(p->cert)) == NULL)
		return false;
	if (wolfSSL_X509_verify(w->n[child].cert, p->key) == WOLFSSL_SUCCESS) {
		*e = E_YES;
		tls_pairs_add(w->pairs, w->n[child].hash, p->hash);
	}
	return *e == E_YES;
}

static bool
same_key_and_name(struct node *a, struct node *b)
{
	return a->has_pin && b->has_pin &&
	    memcmp(a->pin.hash, b->pin.hash, PIN_HASH_LEN) == 0 &&
	    wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_subject_name(a->cert),
	    wolfSSL_X509_get_subject_name(b->cert)) == 0;
}

/* Mark the nodes on a qualifying path: reached from the leaf by issuer
 * links and (for pin) able to reach a trust anchor, anchors being where a
 * path ends. Breadth-first plus a fixed point: O(n^2) decided pairs, never
 * a search over every ordering. true if the leaf itself qualifies. */
static bool
walk(struct walk *w)
{
	size_t	 queue[WALK_MAX], head = 0, tail = 0, i, j;
	bool	 changed;

	w->n[0].reached = true;
	queue[tail++] = 0;
	while (head < tail) {
		i = queue[head++];
		if (w->n[i].anchor)
			continue;
		for (j = 0; j < w->count; j++)
			if (j != i && issued_by(w, i, j) && !w->n[j].reached) {
				w->n[j].reached = true;
				queue[tail++] = j;
			}
	}
	for (i = 0; i < w->count; i++)
		w->n[i].good = w->n[i].reached &&
		    (w->n[i].anchor || !w->need_anchor);
	do {
		changed = false;
		for (i = 0; i < w->count; i++) {
			if (!w->n[i].reached || w->n[i].good || w->n[i].anchor)
				continue;
			for (j = 0; j < w->count; j++)
				if (w->n[j].good && w->edge[i][j] == E_YES) {
					w->n[i].good = changed = true;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < w->count; i++)
		w->n[i].on_path = w->n[i].reached && w->n[i].good;
	return w->n[0].on_path;
}

/* Errors that only say "no trusted issuer": what pin-only waives, and
 * what the log calls untrusted-chain. wolfSSL reports both its own codes
 * and OpenSSL's X509_V_ERR ones, depending on the path. */
bool
tls_trust_error(int err)
{
	switch (err) {
	case ASN_NO_SIGNER_E:
	case ASN_SELF_SIGNED_E:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		return true;
	default:
		return false;
	}
}

/* Debian's wolfSSL names its own (negative) codes but not the OpenSSL
 * verify codes its callback reports; name the ones classify() sorts. */
static const char *
verify_error_text(int err)
{
	switch (err) {
	case ASN_AFTER_DATE_E:		/* how other wolfSSL builds say it */
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return "certificate has expired";
	case ASN_BEFORE_DATE_E:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		return "certificate is not yet valid";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "self-signed certificate";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "self-signed certificate in the chain";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		return "issuer not in the trust store";
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "cannot verify the leaf's signature";
	default:
		return err < 0 ? wolfSSL_ERR_reason_error_string(
		    (unsigned long)err) : "certificate verification error";
	}
}

static WOLFSSL_X509 *
chain_cert(const struct tls_chain *ch, int i)
{
	const unsigned char	*der = ch->der[i];

	return wolfSSL_d2i_X509(NULL, &der, (int)ch->len[i]);
}

bool
tls_chain_cert_info(const struct tls_chain *ch, int i, struct pin *pin,
    int64_t *not_after)
{
	WOLFSSL_X509		*x;
	WOLFSSL_ASN1_TIME	*na;
	struct tm		 tm;
	char			 text[32];
	bool			 ok = false;

	if (ch == NULL || i < 0 || i >= ch->n || (x = chain_cert(ch, i)) ==
	    NULL)
		return false;
	/* through RFC 3339 text: our parser is 64-bit where timegm is not */
	if (tls_cert_pin(x, pin) == 0 &&
	    (na = wolfSSL_X509_get_notAfter(x)) != NULL &&
	    wolfSSL_ASN1_TIME_to_tm(na, &tm) == WOLFSSL_SUCCESS &&
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		ok = parse_rfc3339(text, not_after);
	wolfSSL_X509_free(x);
	return ok;
}

void
tls_chain_pins(const struct tls_chain *ch, char *out, size_t sz)
{
	char	 text[PIN_TEXT_LEN + 1];
	size_t	 off = 0;
	int	 i;

	out[0] = '\0';
	for (i = 0; ch != NULL && i < ch->n; i++) {
		WOLFSSL_X509		*x = chain_cert(ch, i);
		struct pin		 p;

		if (x != NULL && tls_cert_pin(x, &p) == 0)
			pin_format(&p, text);
		else
			snprintf(text, sizeof(text), "?");
		wolfSSL_X509_free(x);
		off += (size_t)snprintf(out + off, sz - off, "%s%s",
		    i ? "," : "", text);
		if (off >= sz)
			break;
	}
}

static void
classify(int err, struct tls_verdict *v, const char *what)
{
	if (tls_trust_error(err)) {
		v->reason = TLS_UNTRUSTED;
		goto detail;
	}
	switch (err) {
	case ASN_AFTER_DATE_E:
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:	/* wolfSSL's mapping */
		v->reason = TLS_EXPIRED;
		break;
	case ASN_BEFORE_DATE_E:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		v->reason = TLS_NOT_YET_VALID;
		break;
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
		v->reason = TLS_NAME_MISMATCH;
		break;
	default:
		v->reason = TLS_BAD_CERT;
		break;
	}
detail:
	snprintf(v->detail, sizeof(v->detail), "%s (%d: %s)", what, err,
	    verify_error_text(err));
}

static void
list_presented(struct walk *w, struct tls_verdict *v)
{
	char	 text[PIN_TEXT_LEN + 1];
	size_t	 i, off = 0;

	v->presented[0] = '\0';
	for (i = 0; i < w->npeer; i++) {
		if (w->n[i].has_pin)
			pin_format(&w->n[i].pin, text);
		else
			snprintf(text, sizeof(text), "?");
		off += (size_t)snprintf(v->presented + off,
		    sizeof(v->presented) - off, "%s%s", i ? "," : "", text);
		if (off >= sizeof(v->presented))
			break;
	}
}

/* Is the leaf inside its validity period? (pin-only: the waived CA error
 * can hide a date error, so dates are checked here as well.) */
static bool
leaf_dates(WOLFSSL_X509 *leaf, struct tls_verdict *v)
{
	WOLFSSL_ASN1_TIME	*nb = wolfSSL_X509_get_notBefore(leaf);
	WOLFSSL_ASN1_TIME	*na = wolfSSL_X509_get_notAfter(leaf);

	if (nb == NULL || na == NULL) {
		v->reason = TLS_BAD_CERT;
		snprintf(v->detail, sizeof(v->detail), "leaf has no validity");
		return false;
	}
	if (wolfSSL_X509_cmp_current_time(nb) > 0) {
		v->reason = TLS_NOT_YET_VALID;
		snprintf(v->detail, sizeof(v->detail), "leaf not yet valid");
		return false;
	}
	if (wolfSSL_X509_cmp_current_time(na) < 0) {
		v->reason = TLS_EXPIRED;
		snprintf(v->detail, sizeof(v->detail), "leaf expired");
		return false;
	}
	return true;
}

/* The presented chain, as nodes 0..npeer-1 (the leaf first). */
static void
add_presented(struct walk *w, const struct tls_chain *ch)
{
	int	 i;

	for (i = 0; i < ch->n; i++) {
		struct node *nd = &w->n[w->count];

		if ((nd->cert = chain_cert(ch, i)) == NULL)
			continue;
		nd->has_pin = tls_cert_pin(nd->cert, &nd->pin) == 0;
		nd->hash = ch->hash[i];
		w->count++;
	}
	w->npeer = w->count;
}

/* Anchors that could sign something presented join the pool; a
 * presented certificate that is an anchor is marked as one. Only anchors
 * with the right subject name are looked at. */
static void
add_anchors(struct walk *w, struct tls_anchors *anchors)
{
	size_t	 added[WALK_MAX], nadded = 0, i, j, k, first, n;

	for (j = 0; j < w->npeer; j++) {
		WOLFSSL_X509		*x = w->n[j].cert;
		const struct pin	*ap;
		const unsigned char	*ah;
		WOLFSSL_X509		*a;

		n = tls_anchors_named(anchors,
		    wolfSSL_X509_subject_name_hash(x), &first);
		for (k = first; k < first + n; k++) {
			struct node tmp = { .has_pin = true };

			if ((tmp.cert = tls_anchors_get(anchors, k, &ap,
			    &ah)) == NULL)
				continue;
			tmp.pin = *ap;
			if (same_key_and_name(&tmp, &w->n[j]))
				w->n[j].anchor = true;
		}
		n = tls_anchors_named(anchors,
		    wolfSSL_X509_issuer_name_hash(x), &first);
		for (k = first; k < first + n; k++) {
			for (i = 0; i < nadded && added[i] != k; i++)
				;
			if (i < nadded || w->count == nitems(w->n) ||
			    (a = tls_anchors_get(anchors, k, &ap, &ah)) ==
			    NULL || wolfSSL_X509_check_issued(a, x) !=
			    X509_V_OK)
				continue;
			added[nadded++] = k;
			w->n[w->count].cert = a;
			w->n[w->count].hash = ah;
			w->n[w->count].pin = *ap;
			w->n[w->count].has_pin = true;
			w->n[w->count].anchor = true;
			w->count++;
		}
	}
}

/* The verdict over the qualifying path: a pin on it, or a mismatch. */
static void
match_pins(const struct walk *w, const struct tls_check *chk,
    struct tls_verdict *v)
{
	size_t	 i;

	for (i = 0; i < w->count; i++) {
		if (!w->n[i].on_path || !w->n[i].has_pin ||
		    !pinset_contains(chk->pins, &w->n[i].pin))
			continue;
		v->pass = true;
		v->reason = TLS_OK;
		v->matched_depth = i < w->npeer ? (int)i : (int)w->npeer;
		snprintf(v->detail, sizeof(v->detail), "pin matched %s",
		    i == 0 ? "the leaf" : i >= w->npeer || w->n[i].anchor ?
		    "the root" : "an intermediate");
		return;
	}
	v->reason = TLS_PIN_MISMATCH;
	snprintf(v->detail, sizeof(v->detail), "no certificate of the %s "
	    "chain matches the %zu pin(s) for this host%s",
	    chk->policy == POLICY_PIN ? "verified" : "signed", chk->pins->n,
	    chk->observe_only ? " (enforce = no: let through on the CA check)"
	    : "");
	/* Observe only: the chain is CA-verified (policy pin; the rule
	 * refuses enforce = no for pin-only), only the pins failed. */
	if (chk->observe_only && chk->policy == POLICY_PIN) {
		v->pass = true;
		v->would_refuse = true;
	}
}

/* tofu: the path verified; what the shim compares with what it first saw
 * is the leaf's key, and the key of the leaf's issuer on that path. */
static void
tofu_facts(const struct walk *w, struct tls_verdict *v)
{
	size_t	 j;

	if (!w->n[0].has_pin) {
		v->reason = TLS_NO_CERT;
		snprintf(v->detail, sizeof(v->detail), "unreadable leaf key");
		return;
	}
	v->tofu_leaf = w->n[0].pin;
	for (j = 1; j < w->count; j++)
		if (w->edge[0][j] == E_YES && w->n[j].on_path &&
		    w->n[j].has_pin) {
			v->tofu_issuer = w->n[j].pin;
			v->tofu_has_issuer = true;
			break;
		}
	v->pass = true;
	v->reason = TLS_OK;
	snprintf(v->detail, sizeof(v->detail), "chain verified by the CA "
	    "store");
}

static void
walk_free(struct walk *w)
{
	size_t	 i;

	for (i = 0; i < w->count; i++) {
		if (w->n[i].key != NULL)
			wolfSSL_EVP_PKEY_free(w->n[i].key);
		if (i < w->npeer)
			wolfSSL_X509_free(w->n[i].cert);
	}
}

/* Rebuild the path, list the presented pins and, for pin and pin-only,
 * decide. With match false (policy ca) only the listing is wanted. */
static void
judge_path(const struct tls_chain *ch, struct tls_client *c,
    const struct tls_check *chk, bool match, struct tls_verdict *v)
{
	struct walk		 w;
	size_t			 i;

	memset(&w, 0, sizeof(w));
	w.pairs = c->pairs;
	add_presented(&w, ch);
	list_presented(&w, v);
	if (w.npeer == 0) {
		v->reason = TLS_NO_CERT;
		snprintf(v->detail, sizeof(v->detail), "unreadable chain");
		goto out;
	}
	add_anchors(&w, c->anchors);
	w.need_anchor = chk->policy != POLICY_PIN_ONLY;
	if (!walk(&w) && w.over_budget && match) {
		v->reason = TLS_BAD_CERT;
		snprintf(v->detail, sizeof(v->detail), "certificate chain too "
		    "tangled to check (over %d signature checks)", SIG_BUDGET);
		goto out;
	}
	if (!w.n[0].on_path && match) {
		v->reason = TLS_UNTRUSTED;
		snprintf(v->detail, sizeof(v->detail), "no path from the leaf "
		    "to a trust anchor of ca_file");
		goto out;
	}
	for (i = 0; i < w.count; i++)
		if (w.n[i].on_path && w.n[i].anchor && i >= w.npeer)
			pin_format(&w.n[i].pin, v->anchor);
	if (match && chk->policy == POLICY_TOFU)
		tofu_facts(&w, v);
	else if (match)
		match_pins(&w, chk, v);
out:
	walk_free(&w);
}

/* An iPAddress SAN equal to the address literal ip, byte for byte
 * (wolfSSL's check_ip_asc compares text, and writes IPv6 SANs in full:
 * "::1" would never match). */
static bool
cert_has_ip(WOLFSSL_X509 *x, const char *ip)
{
	unsigned char			 want[16];
	int				 len, i, n;
	bool				 found = false;
	WOLF_STACK_OF(WOLFSSL_GENERAL_NAME) *gens;

	if (inet_pton(AF_INET, ip, want) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, ip, want) == 1)
		len = 16;
	else
		return false;
	gens = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? wolfSSL_sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n && !found; i++) {
		WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(gens, i);

		found = g != NULL && g->type == GEN_IPADD &&
		    wolfSSL_ASN1_STRING_length(g->d.iPAddress) == len &&
		    memcmp(wolfSSL_ASN1_STRING_get0_data(g->d.iPAddress), want,
		    (size_t)len) == 0;
	}
	wolfSSL_GENERAL_NAMES_free(gens);
	return found;
}

/* The chain to judge: the one this handshake presented, or, for a
 * resumed session (no certificates were sent), the one its full handshake
 * presented. Anything else has no chain. */
static const struct tls_chain *
judged_chain(WOLFSSL *ssl, const struct tls_check *chk, bool *resumed)
{
	*resumed = false;
	if (chk->chain != NULL)
		return chk->chain;
	if (chk->offered != NULL && wolfSSL_session_reused(ssl)) {
		*resumed = true;
		return chk->offered;
	}
	return NULL;
}

static void
policy_verdict(const struct tls_chain *ch, struct tls_client *c,
    const struct tls_check *chk, struct tls_verdict *v)
{
	WOLFSSL_X509	*leaf;
	bool		 dates;

	if ((leaf = chain_cert(ch, 0)) == NULL) {
		v->reason = TLS_NO_CERT;
		snprintf(v->detail, sizeof(v->detail), "unreadable leaf");
		return;
	}
	if (chk->host[0] != '\0' && !(host_is_ip(chk->host) ?
	    cert_has_ip(leaf, chk->host) : wolfSSL_X509_check_host(leaf,
	    chk->host, strlen(chk->host), 0, NULL) == WOLFSSL_SUCCESS)) {
		v->reason = TLS_NAME_MISMATCH;
		snprintf(v->detail, sizeof(v->detail), "certificate is not "
		    "valid for %s", chk->host);
		wolfSSL_X509_free(leaf);
		tls_chain_pins(ch, v->presented, sizeof(v->presented));
		return;
	}
	/* pin-only: the waived CA error can hide a date error; resumed: the
	 * dates were checked when the chain was first presented. */
	dates = chk->policy == POLICY_PIN_ONLY || v->resumed ?
	    leaf_dates(leaf, v) : true;
	wolfSSL_X509_free(leaf);
	if (!dates) {
		tls_chain_pins(ch, v->presented, sizeof(v->presented));
		return;
	}

	switch (chk->policy) {
	case POLICY_CA:
		/* The listing costs a path rebuild; only `pin --connect` shows
		 * it on a pass (the daemon logs pins on refusals only). */
		if (chk->observe)
			judge_path(ch, c, chk, false, v);
		v->pass = true;
		v->reason = TLS_OK;
		snprintf(v->detail, sizeof(v->detail), "chain verified by the "
		    "CA store (policy ca: no pins)");
		return;
	case POLICY_PIN:
	case POLICY_PIN_ONLY:
	case POLICY_TOFU:
		judge_path(ch, c, chk, true, v);
		return;
	default:
		v->reason = TLS_BAD_CERT;
		snprintf(v->detail, sizeof(v->detail), "policy %s cannot "
		    "verify a connection", policy_name(chk->policy));
		return;
	}
}

void
tls_chain_verdict(struct tls_client *c, const struct tls_check *chk,
    struct tls_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->matched_depth = -1;
	v->reason = TLS_NO_CERT;
	snprintf(v->detail, sizeof(v->detail), "no certificate chain to "
	    "judge");
	if (chk->chain != NULL)
		policy_verdict(chk->chain, c, chk, v);
}

/* TLS alert descriptions (RFC 8446 6.2), as the RFC spells them. */
static const char *
alert_name(int code)
{
	static const struct {
		int		 code;
		const char	*name;
	} names[] = {
		{ 0, "close_notify" }, { 10, "unexpected_message" },
		{ 20, "bad_record_mac" }, { 40, "handshake_failure" },
		{ 42, "bad_certificate" }, { 43, "unsupported_certificate" },
		{ 44, "certificate_revoked" }, { 45, "certificate_expired" },
		{ 46, "certificate_unknown" }, { 47, "illegal_parameter" },
		{ 48, "unknown_ca" }, { 49, "access_denied" },
		{ 50, "decode_error" }, { 51, "decrypt_error" },
		{ 70, "protocol_version" }, { 71, "insufficient_security" },
		{ 80, "internal_error" }, { 90, "user_canceled" },
		{ 109, "missing_extension" }, { 110, "unsupported_extension" },
		{ 112, "unrecognized_name" }, { 116, "certificate_required" },
		{ 120, "no_application_protocol" },
	};
	size_t	 i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].code == code)
			return names[i].name;
	return "unknown";
}

/* The fatal alert the server sent in this handshake, if any. */
static bool
server_alert(WOLFSSL *ssl, int *code)
{
	WOLFSSL_ALERT_HISTORY	 h;

	memset(&h, 0, sizeof(h));
	if (wolfSSL_get_alert_history(ssl, &h) != WOLFSSL_SUCCESS ||
	    h.last_rx.level != alert_fatal)
		return false;
	*code = h.last_rx.code;
	return true;
}

/* What the server's last alert says, for a refused client. */
static bool
client_refused(WOLFSSL *ssl, const struct tls_check *chk, int hs_err,
    struct tls_verdict *v)
{
	WOLFSSL_ALERT_HISTORY	 h;
	char			 buf[WOLFSSL_MAX_ERROR_SZ];
	const char		*sent;

	memset(&h, 0, sizeof(h));
	(void)wolfSSL_get_alert_history(ssl, &h);
	/* a server that never asked refused something else (its ALPN, its
	 * name, a version): not the client, whatever identity is loaded */
	if (!chk->cert_requested)
		return false;
	if (chk->cert_requested && !chk->ident)
		sent = "none configured for this host: an empty Certificate "
		    "was sent";
	else
		sent = "the device identity (client_cert) was sent";
	v->pass = false;
	v->reason = TLS_CLIENT_REFUSED;
	if (chk->ident && chk->cert_requested && !chk->ident_sent) {
		snprintf(v->detail, sizeof(v->detail), "the server asked for "
		    "a client certificate and the device identity did not "
		    "sign (the keeper refused or did not answer in time: see "
		    "its log; or no server chain was judged in this "
		    "handshake); the handshake was abandoned");
		return true;
	}
	if (h.last_rx.level == alert_fatal) {
		snprintf(v->detail, sizeof(v->detail), "the server refused "
		    "the client: alert %s (%d); it asked for a client "
		    "certificate: %s", alert_name(h.last_rx.code),
		    h.last_rx.code, sent);
		return true;
	}
	if (!chk->cert_requested)
		return false;
	wolfSSL_ERR_error_string_n((unsigned long)hs_err, buf, sizeof(buf));
	snprintf(v->detail, sizeof(v->detail), "the server ended the "
	    "connection without an alert we could read (%d: %.40s; a reset "
	    "can overtake it); it asked for a client certificate: %s",
	    hs_err, buf, sent);
	return true;
}

void
tls_verdict_client_refused(WOLFSSL *ssl, const struct tls_check *chk,
    int hs_err, struct tls_verdict *v)
{
	char	 presented[TLS_PRESENTED_LEN];

	memcpy(presented, v->presented, sizeof(presented));
	if (!client_refused(ssl, chk, hs_err, v)) {
		v->pass = false;
		v->reason = TLS_CLIENT_REFUSED;
		snprintf(v->detail, sizeof(v->detail), "the server closed the "
		    "connection right after the handshake (%d)", hs_err);
	}
	memcpy(v->presented, presented, sizeof(presented));
}

void
tls_verdict(WOLFSSL *ssl, struct tls_client *c,
    const struct tls_check *chk, int hs_ret, int hs_err,
    struct tls_verdict *v)
{
	const struct tls_chain	*ch;

	memset(v, 0, sizeof(*v));
	v->matched_depth = -1;
	v->reason = TLS_HANDSHAKE;
	ch = judged_chain(ssl, chk, &v->resumed);

	/* judged in the verify callback, before the identity was sent */
	if (chk->early != NULL) {
		*v = *chk->early;
		if (v->presented[0] == '\0')
			tls_chain_pins(ch, v->presented, sizeof(v->presented));
		return;
	}

	if (chk->err != 0) {
		classify(chk->err, v, chk->err_depth == 0 ? "leaf" :
		    "chain");
		tls_chain_pins(ch, v->presented, sizeof(v->presented));
		return;
	}
	if (hs_ret != WOLFSSL_SUCCESS) {
		char	 buf[WOLFSSL_MAX_ERROR_SZ];
		int	 alert;

		wolfSSL_ERR_error_string_n((unsigned long)hs_err, buf,
		    sizeof(buf));
		tls_chain_pins(ch, v->presented, sizeof(v->presented));
		if (hs_err == DOMAIN_NAME_MISMATCH ||
		    hs_err == ASN_AFTER_DATE_E || hs_err == ASN_BEFORE_DATE_E ||
		    hs_err == ASN_NO_SIGNER_E) {
			classify(hs_err, v, "leaf");
			return;
		}
		if (client_refused(ssl, chk, hs_err, v))
			return;
		if (server_alert(ssl, &alert))
			snprintf(v->detail, sizeof(v->detail), "handshake "
			    "failed: the server sent alert %s (%d)",
			    alert_name(alert), alert);
		else
			snprintf(v->detail, sizeof(v->detail), "handshake "
			    "failed (%d: %s)", hs_err, buf);
		return;
	}

	/* The handshake succeeded: wolfSSL's checks passed. Now ours. */
	if (ch == NULL) {
		v->reason = TLS_NO_CERT;
		snprintf(v->detail, sizeof(v->detail), "no certificate chain "
		    "to judge");
		return;
	}
	policy_verdict(ch, c, chk, v);
	if (v->pass && v->resumed) {
		size_t	 off = strlen(v->detail);

		snprintf(v->detail + off, sizeof(v->detail) - off,
		    " (resumed; judged over the chain of its full handshake)");
	}
}
