/*
 * test_keeper.c - the keeper's side of privilege separation without the
 * process: frames round-trip and malformed ones are refused with a reason;
 * a mint is answered only for a valid name and key, and at most
 * KEEPER_MINT_BURST of its mint_rate at once; a save only to its known
 * files, bounded (a clock no run of saves moves past the system clock +
 * a day); a key-set
 * chain only going forward from the set trusted (never back, not even
 * after pins.keys is damaged: pins.keyset holds), a feed only signed by
 * that set; a TOFU entry never replaces another issuer's pins, nor any
 * pins of a host whose rule has no tofu_accept_issuer, and takes only a
 * canonical host name. A handshake signature only with a configured
 * device identity, over a digest of a size TLS signs, within its own
 * bucket (KEEPER_SIGN_BURST); an encrypted device key is refused at load.
 * And the sandbox: after sandbox_apply(), execve,
 * unshare, a new process (fork, vfork, clone without CLONE_THREAD),
 * memfd_create, pidfd_open, modify_ldt and netlink sockets fail with
 * EPERM, while a thread and an ordinary socket still work.
 */
#include "testutil.h"
#include "feedutil.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/netlink.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/tofu.h"
#include "shim/keeper/keeper_answer.h"
#include "shim/proc/sandbox.h"
#include "tls/tls.h"
#include "tls/tls_ca_int.h"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#define PIN_5	"sha256/BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU="

static char		 cadir[300];	/* the test CA, in tu_tmpdir */
/* the configured key set: k1 holds both roles; set 2: root r2, sign s2,
 * signed by k1 and r2; set 3: root r3, sign s3, by r2 and r3 */
static struct feed_key	*k1, *r2, *s2, *r3, *s3;
static uint8_t		 pk1[FEED_KEY_LEN], pr2[FEED_KEY_LEN],
			 ps2[FEED_KEY_LEN], pr3[FEED_KEY_LEN], ps3[FEED_KEY_LEN];
static char		*upd2, *upd3;

/* The rules the keeper starts with (the INI's): a.test takes a new leaf
 * from its pinned issuer, n.test does not, o.test only the one observed. */
static const char	 rules_text[] =
    "[feed]\nversion = 1\nissued = 2026-01-01T00:00:00Z\n"
    "expires = 2099-01-01T00:00:00Z\n"
    "[domain:a.test]\npolicy = tofu\ntofu_accept_issuer = yes\n"
    "[domain:n.test]\npolicy = tofu\n"
    "[domain:o.test]\npolicy = tofu\nobserved = " PIN_5 "\n";

/* [keys] text v, one root and one signing key, signed by by[0..n). */
static char *
update(unsigned long v, const uint8_t *root, const uint8_t *sign,
    struct feed_key **by, size_t n)
{
	char	*t, *out;
	size_t	 len;

	t = keys_text(v, (const uint8_t (*)[FEED_KEY_LEN])root, 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])sign, 1, 1);
	out = sign_text("", t, by, n, true, &len);
	free(t);
	return out;
}

static int
setup(void **state)
{
	struct feed_key	*by[2];
	FILE		*null = fopen("/dev/null", "w");

	tu_tmpdir_setup(state);
	snprintf(cadir, sizeof(cadir), "%s/ca", tu_tmpdir);
	tls_init();
	assert_int_equal(tls_ca_init(cadir, "test CA", null), 0);
	fclose(null);
	load_key(tu_tmpdir, "k1", &k1, pk1);
	load_key(tu_tmpdir, "r2", &r2, pr2);
	load_key(tu_tmpdir, "s2", &s2, ps2);
	load_key(tu_tmpdir, "r3", &r3, pr3);
	load_key(tu_tmpdir, "s3", &s3, ps3);
	by[0] = k1;
	by[1] = r2;
	upd2 = update(2, pr2, ps2, by, 2);
	by[0] = r2;
	by[1] = r3;
	upd3 = update(3, pr3, ps3, by, 2);
	return 0;
}

static int
teardown(void **state)
{
	feed_key_free(k1);
	feed_key_free(r2);
	feed_key_free(s2);
	feed_key_free(r3);
	feed_key_free(s3);
	free(upd2);
	free(upd3);
	return tu_tmpdir_teardown(state);
}

/* A keeper for state directory sdir, with [feed] (key set 1: k1) and the
 * rules above. */
#define MINT_RATE	40	/* [shim] mint_rate: a burst of 20 */

static struct keeper_state *
state_in(const char *sdir)
{
	struct conf		 c;
	struct keeper_state	*ks;
	struct feed_body	*rules;
	char			 err[512];

	rules = feed_body_parse("rules", rules_text, strlen(rules_text), stderr);
	assert_non_null(rules);
	memset(&c, 0, sizeof(c));
	c.ca_dir = cadir;
	c.state_dir = (char *)sdir;
	c.tofu_max = 8;
	c.mint_rate = MINT_RATE;
	c.feed.present = true;
	c.feed.max_size = 1024;
	c.feed.keys.version = 1;
	memcpy(c.feed.keys.root.keys[0], pk1, FEED_KEY_LEN);
	memcpy(c.feed.keys.sign.keys[0], pk1, FEED_KEY_LEN);
	c.feed.keys.root.n = c.feed.keys.sign.n = 1;
	c.feed.keys.root.threshold = c.feed.keys.sign.threshold = 1;
	c.snap = rules->snap;
	ks = keeper_state_new(&c, err, sizeof(err));
	assert_non_null(ks);
	feed_body_free(rules);		/* the keeper holds its reference */
	return ks;
}

static struct keeper_state *
state_new(void)
{
	return state_in(tu_tmpdir);
}

/* A fresh state directory under tu_tmpdir. */
static void
subdir(const char *name, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", tu_tmpdir, name);
	assert_int_equal(mkdir(out, 0755), 0);
}

/* Encode m, parse it back as the other side would: the decoded reply of
 * the keeper to it. */
static void
ask(struct keeper_state *ks, struct keeper_msg *m, double now,
    struct keeper_msg *reply, uint8_t *buf, size_t sz)
{
	uint8_t		 frame[4096];
	const char	*why;
	size_t		 n;
	struct keeper_msg got;

	n = keeper_encode(m, frame, sizeof(frame));
	assert_true(n > 0);
	assert_int_equal(keeper_frame_len(frame, n), (long)n - 4);
	assert_int_equal(keeper_parse(frame + 4, n - 4, &got, &why), 0);
	assert_int_equal(got.type, m->type);
	assert_int_equal(got.id, m->id);
	n = keeper_answer(ks, &got, now, buf, sz);
	assert_true(n > 4);
	assert_int_equal(keeper_parse(buf + 4, n - 4, reply, &why), 0);
	assert_int_equal(reply->id, m->id);
}

static void
mint_msg(struct keeper_msg *m, const char *name, const uint8_t *pub)
{
	memset(m, 0, sizeof(*m));
	m->type = KEEPER_MINT;
	m->id = 7;
	snprintf(m->host, sizeof(m->host), "%s", name);
	m->leaf_kind = TLS_LEAF_ECDSA;
	m->pub = pub;
	m->publen = TLS_CA_PUB_LEN;
}

static void
test_malformed_frames_are_refused_with_a_reason(void **state)
{
	struct keeper_msg	 m;
	const char		*why;
	uint8_t			 b[600];
	size_t			 n;

	(void)state;
	/* short header, unknown type, SAVE to a file it does not write */
	why = NULL;
	assert_int_equal(keeper_parse((const uint8_t *)"\x01\x00", 2, &m,
	    &why), -1);
	assert_non_null(why);
	memcpy(b, "\x09\x00\x00\x00\x01", 5);
	assert_int_equal(keeper_parse(b, 5, &m, &why), -1);
	assert_string_equal(why, "unknown message type");
	memcpy(b, "\x02\x00\x00\x00\x01\x09xx", 8);
	assert_int_equal(keeper_parse(b, 8, &m, &why), -1);
	assert_string_equal(why, "SAVE: not a file the keeper writes");
	/* MINT: a NUL in the name, a zero-length name, a short key, a byte
	 * too many, an unknown key kind, an RSA key over its bound */
	memset(b, 0, sizeof(b));
	b[0] = KEEPER_MINT;
	b[5] = 3;
	memcpy(b + 6, "a\0b", 3);
	b[9] = TLS_LEAF_ECDSA;
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_PUB_LEN, &m, &why), -1);
	b[5] = 0;
	assert_int_equal(keeper_parse(b, 7 + TLS_CA_PUB_LEN, &m, &why), -1);
	b[5] = 3;
	memcpy(b + 6, "a.b", 3);
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_PUB_LEN - 1, &m, &why),
	    -1);
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_PUB_LEN, &m, &why), 0);
	assert_string_equal(m.host, "a.b");
	assert_int_equal(m.leaf_kind, TLS_LEAF_ECDSA);
	assert_int_equal(m.publen, TLS_CA_PUB_LEN);
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_PUB_LEN + 1, &m, &why),
	    -1);
	assert_string_equal(why, "bytes after the message");
	b[9] = 3;
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_PUB_LEN, &m, &why), -1);
	assert_string_equal(why, "MINT: bad name or key kind");
	b[9] = TLS_LEAF_RSA;
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_RSA_PUB_MAX, &m, &why),
	    0);
	assert_int_equal(m.publen, TLS_CA_RSA_PUB_MAX);
	assert_int_equal(keeper_parse(b, 10 + TLS_CA_RSA_PUB_MAX + 1, &m,
	    &why), -1);
	assert_string_equal(why, "MINT: bad key length");
	assert_int_equal(keeper_parse(b, 10, &m, &why), -1);
	/* an ECDSA mint whose key is not a point's length is not encoded */
	mint_msg(&m, "a.b", b);
	m.publen = TLS_CA_PUB_LEN + 1;
	assert_int_equal(keeper_encode(&m, b + 300, 300), 0);
	/* an ERR text over the bound */
	memset(&m, 0, sizeof(m));
	m.type = KEEPER_OK;
	m.data = b;
	m.len = KEEPER_TEXT_MAX + 2;	/* with ERR's code byte: one over */
	n = keeper_encode(&m, b + 300, 300);
	assert_true(n > 0);
	b[300 + 4] = KEEPER_ERR;
	assert_int_equal(keeper_parse(b + 304, n - 4, &m, &why), -1);
	/* an encoding that does not fit is refused, not truncated */
	assert_int_equal(keeper_encode(&m, b, 8), 0);
}

static void
test_mint_checks_name_and_key_and_is_rate_limited(void **state)
{
	struct keeper_state	*ks = state_new();
	struct keeper_msg	 m, r;
	struct tls_ca		*ca;
	uint8_t			 pub[TLS_CA_PUB_LEN], priv[TLS_CA_LEAFKEY_MAX];
	uint8_t			 out[4096];
	char			 err[256];
	WOLFSSL			*ssl;
	bool			 missing;
	int			 kl, i;

	(void)state;
	ca = tls_ca_new(4, err, sizeof(err));
	assert_non_null(ca);
	kl = tls_ca_leaf_key(ca, pub, priv, sizeof(priv));
	assert_true(kl > 0);
	mint_msg(&m, "api.test", pub);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	assert_int_equal(tls_ca_leaf_put(ca, "api.test", TLS_LEAF_ECDSA,
	    r.data, r.len, priv, (size_t)kl), 0);
	ssl = tls_ca_session(ca, 0, "api.test", TLS_LEAF_ECDSA, false,
	    &missing);
	assert_non_null(ssl);	/* the leaf matches the worker's own key */
	wolfSSL_free(ssl);

	mint_msg(&m, "API.test", pub);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EINVAL);
	pub[20] ^= 0x5a;
	mint_msg(&m, "api.test", pub);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	pub[20] ^= 0x5a;

	/* the burst (three requests went above: refused ones count too),
	 * then nothing until time passes, then MINT_RATE a second */
	for (i = 3; i < KEEPER_MINT_BURST(MINT_RATE); i++) {
		mint_msg(&m, "api.test", pub);
		ask(ks, &m, 0, &r, out, sizeof(out));
		assert_int_equal(r.type, KEEPER_OK);
	}
	mint_msg(&m, "api.test", pub);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EAGAIN);
	assert_non_null(memmem(r.data, r.len, "names a second", 14));
	/* a tenth of a second: a tenth of the rate */
	for (i = 0; i < MINT_RATE / 10; i++) {
		ask(ks, &m, 0.1, &r, out, sizeof(out));
		assert_int_equal(r.type, KEEPER_OK);
	}
	ask(ks, &m, 0.1, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	/* a long pause refills the burst, never more */
	for (i = 0; i < KEEPER_MINT_BURST(MINT_RATE); i++) {
		ask(ks, &m, 100.0, &r, out, sizeof(out));
		assert_int_equal(r.type, KEEPER_OK);
	}
	ask(ks, &m, 100.0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	tls_ca_free(ca);
	keeper_state_free(ks);
}

/* An RSA mint carries the worker's RSA public key and its kind; the leaf
 * that comes back fits the worker's RSA key, and an RSA key of another
 * size is refused. */
static void
test_rsa_mint_is_its_own_kind(void **state)
{
	struct keeper_state	*ks = state_new();
	struct keeper_msg	 m, r;
	struct tls_ca		*ca;
	uint8_t			 pub[TLS_CA_RSA_PUB_MAX], out[4096];
	char			 err[256];
	WOLFSSL			*ssl;
	bool			 missing;
	int			 pl;

	(void)state;
	ca = tls_ca_new(4, err, sizeof(err));
	assert_non_null(ca);
	assert_int_equal(tls_ca_rsa_pub(ca, pub, sizeof(pub)), -1);
	assert_int_equal(tls_ca_rsa_init(ca), 0);
	pl = tls_ca_rsa_pub(ca, pub, sizeof(pub));
	assert_true(pl > 0);
	mint_msg(&m, "api.test", pub);
	m.leaf_kind = TLS_LEAF_RSA;
	m.publen = (size_t)pl;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	assert_int_equal(tls_ca_leaf_put(ca, "api.test", TLS_LEAF_RSA, r.data,
	    r.len, NULL, 0), 0);
	/* kept apart from the ECDSA leaf the name has not got */
	assert_null(tls_ca_session(ca, 0, "api.test", TLS_LEAF_ECDSA, true,
	    &missing));
	assert_true(missing);
	ssl = tls_ca_session(ca, 0, "api.test", TLS_LEAF_RSA, true, &missing);
	assert_non_null(ssl);	/* the leaf matches the worker's RSA key */
	wolfSSL_free(ssl);
	/* the same bytes called ECDSA, or cut short: refused */
	m.leaf_kind = TLS_LEAF_ECDSA;
	m.publen = TLS_CA_PUB_LEN;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	m.leaf_kind = TLS_LEAF_RSA;
	m.publen = (size_t)pl - 1;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_non_null(memmem(r.data, r.len, "RSA-2048", 8));
	tls_ca_free(ca);
	keeper_state_free(ks);
}

static void
test_save_writes_only_known_files_within_bounds(void **state)
{
	struct keeper_state	*ks = state_new();
	struct keeper_msg	 m, r;
	uint8_t			 out[1024], big[2048];
	char			 path[400], *got;
	size_t			 len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SAVE;
	m.id = 9;
	m.file = KEEPER_FILE_FLOOR;
	m.data = (const uint8_t *)"42\n";
	m.len = 3;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	snprintf(path, sizeof(path), "%s/pins.version", tu_tmpdir);
	got = (char *)tu_read_file(path, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "42\n", 3);
	free(got);
	/* the floor and the clock are lines, not feeds */
	memset(big, 'x', sizeof(big));
	m.data = big;
	m.len = 65;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EFBIG);
	/* the one-line files are checked: a number, a time not past the
	 * system clock + a day */
	m.data = (const uint8_t *)"42; rm\n";
	m.len = 7;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EINVAL);
	m.data = (const uint8_t *)"5\0junk\n";
	m.len = 7;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	m.file = KEEPER_FILE_CLOCK;
	m.data = (const uint8_t *)"9999-01-01T00:00:00Z\n";
	m.len = 21;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	m.data = (const uint8_t *)"2020-01-01T00:00:00Z\n";
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	/* the feed: up to [feed] max_size (1024 here), and signed */
	m.file = KEEPER_FILE_FEED;
	m.data = big;
	m.len = 1024;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EINVAL);
	m.len = 1025;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EFBIG);
	keeper_state_free(ks);
}

/* A compromised worker saves the clock a little under a day past the
 * last time it saved, over and over: each save is judged against the
 * system clock, not against a latest known time its own saves raised, so
 * what is on disk never gets past the system clock + CLOCK_SKEW. */
static void
test_clock_saves_cannot_ratchet_past_the_system_clock(void **state)
{
	struct keeper_state	*ks = state_new();
	struct keeper_msg	 m, r;
	uint8_t			 out[1024];
	char			 line[CLOCK_LINE_MAX], path[400], *got;
	const char		*too_far = "over a day past the system clock";
	size_t			 len;
	int64_t			 t, saved = 0;
	time_t			 want = time(NULL) + CLOCK_SKEW - 600;
	int			 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", tu_tmpdir, CLOCK_FILE);
	unlink(path);
	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SAVE;
	m.id = 3;
	m.file = KEEPER_FILE_CLOCK;
	for (i = 0; i < 40; i++) {
		m.data = (const uint8_t *)line;
		m.len = clock_line(want + (time_t)i * (CLOCK_SKEW - 600), line);
		ask(ks, &m, 0, &r, out, sizeof(out));
		if (i == 0)	/* under a day ahead: fine */
			assert_int_equal(r.type, KEEPER_OK);
		else {
			assert_int_equal(r.type, KEEPER_ERR);
			assert_int_equal(r.err, EINVAL);
			assert_non_null(memmem(r.data, r.len, too_far,
			    strlen(too_far)));
		}
		got = (char *)tu_read_file(path, &len);
		got[len - 1] = '\0';
		assert_true(parse_rfc3339(got, &t));
		free(got);
		assert_true(t <= (int64_t)time(NULL) + CLOCK_SKEW);
		assert_true(t >= saved);
		saved = t;
	}
	/* lower is fine: what a dropped bad value is replaced by */
	m.len = clock_line(time(NULL) - 86400, line);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);
}

static void	tofu_swap(struct keeper_msg *, const char *, uint8_t, int,
		    int);

/* A first use: no replaced leaf. */
static void
tofu_msg(struct keeper_msg *m, const char *host, uint8_t leaf,
    int issuer)
{
	tofu_swap(m, host, leaf, issuer, -1);
}

static void
tofu_swap(struct keeper_msg *m, const char *host, uint8_t leaf,
    int issuer, int replaces)
{
	memset(m, 0, sizeof(*m));
	m->type = KEEPER_TOFU;
	m->id = 11;
	snprintf(m->host, sizeof(m->host), "%s", host);
	memset(m->leaf.hash, leaf, PIN_HASH_LEN);
	if ((m->has_issuer = issuer >= 0))
		memset(m->issuer.hash, issuer, PIN_HASH_LEN);
	m->since = 1700000000;
	if ((m->replaces = replaces >= 0))
		memset(m->old.hash, replaces, PIN_HASH_LEN);
}

static void
test_tofu_never_replaces_another_issuers_pins(void **state)
{
	struct keeper_state	*ks = state_new();
	struct keeper_msg	 m, r;
	const struct tofu_entry	*e;
	struct tofu		*t;
	uint8_t			 out[1024];

	(void)state;
	tofu_msg(&m, "a.test", 1, 2);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	tofu_msg(&m, "a.test", 1, 2);		/* again: idempotent */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	tofu_swap(&m, "a.test", 3, 4, 1);	/* another issuer */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EEXIST);
	tofu_swap(&m, "a.test", 3, -1, 1);	/* no issuer at all */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	tofu_msg(&m, "a.test", 5, 2);		/* a rotation as a first use */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EEXIST);
	tofu_swap(&m, "a.test", 5, 2, 9);	/* of a leaf it does not have */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	tofu_swap(&m, "a.test", 5, 2, 1);	/* same issuer, new leaf */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	tofu_msg(&m, "b.test", 6, -1);		/* no issuer: kept as is */
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	tofu_swap(&m, "b.test", 7, -1, 6);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	/* a host that would write a line of its own, or is not canonical */
	tofu_msg(&m, "x sha256/AAAA - 2020-01-01T00:00:00Z\nc.test", 8, -1);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EINVAL);
	tofu_msg(&m, "C.test", 8, -1);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	/* the time is the keeper's: a worker's -1 is not written */
	tofu_msg(&m, "d.test", 9, -1);
	m.since = -1;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	/* what reached the file */
	t = tofu_open(tu_tmpdir, 4, NULL);
	assert_non_null(t);
	e = tofu_get(t, "a.test");
	assert_non_null(e);
	assert_int_equal(e->leaf.hash[0], 5);
	e = tofu_get(t, "b.test");
	assert_non_null(e);
	assert_int_equal(e->leaf.hash[0], 6);
	assert_null(tofu_get(t, "c.test"));
	assert_non_null(e = tofu_get(t, "d.test"));
	assert_true(e->since > 1700000000);
	assert_int_equal(tofu_count(t), 3);
	tofu_free(t);
	keeper_state_free(ks);
}

/* An ERR reply with err, its text containing what. */
static void
assert_refused(const struct keeper_msg *r, int err, const char *what)
{
	char	 text[KEEPER_TEXT_MAX + 1];

	assert_int_equal(r->type, KEEPER_ERR);
	assert_int_equal(r->err, err);
	snprintf(text, sizeof(text), "%.*s", (int)r->len,
	    (const char *)r->data);
	assert_contains(text, what);
}

/* The keeper's answer to SAVE f of text. */
static void
save(struct keeper_state *ks, enum keeper_file f, const char *text,
    struct keeper_msg *r)
{
	static uint8_t		 out[1024];
	struct keeper_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SAVE;
	m.id = 13;
	m.file = f;
	m.data = (const uint8_t *)text;
	m.len = strlen(text);
	ask(ks, &m, 0, r, out, sizeof(out));
}

static const char	 feed_text[] =
    "[feed]\nversion = 9\nissued = 2026-01-01T00:00:00Z\n"
    "expires = 2099-01-01T00:00:00Z\n"
    "[domain:f.test]\npolicy = tofu\ntofu_accept_issuer = yes\n";

static char *
feed_by(struct feed_key *k)
{
	size_t	 len;

	return sign_text("", feed_text, &k, 1, true, &len);
}

static void
test_key_set_chain_never_goes_back(void **state)
{
	struct keeper_state	*ks;
	struct keeper_msg	 r;
	struct feed_keyset	 floor;
	struct feed_key		*by[2] = { r2, r3 };
	char			 sdir[300], path[400], *chain, *branch, *evil3;
	char			*old, *cur, *got;
	size_t			 len;

	(void)state;
	subdir("keys", sdir, sizeof(sdir));
	ks = state_in(sdir);
	chain = malloc(strlen(upd2) + strlen(upd3) + 1);
	strcat(strcpy(chain, upd2), upd3);
	/* garbage: refused, nothing written */
	save(ks, KEEPER_FILE_KEYS, "[keys]\nversion = 2\n", &r);
	assert_refused(&r, EINVAL, "save pins.keys");
	snprintf(path, sizeof(path), "%s/pins.keys", sdir);
	assert_int_equal(access(path, F_OK), -1);
	/* forward: 1 -> 2 -> 3, the last set trusted recorded each time */
	save(ks, KEEPER_FILE_KEYS, upd2, &r);
	assert_int_equal(r.type, KEEPER_OK);
	assert_int_equal(feed_keyset_load(sdir, &floor, stderr), 1);
	assert_int_equal(floor.version, 2);
	save(ks, KEEPER_FILE_KEYS, chain, &r);
	assert_int_equal(r.type, KEEPER_OK);
	assert_int_equal(feed_keyset_load(sdir, &floor, stderr), 1);
	assert_int_equal(floor.version, 3);
	/* back to set 2: refused, the file keeps set 3 */
	save(ks, KEEPER_FILE_KEYS, upd2, &r);
	assert_refused(&r, EINVAL, "ends at key set 2, before key set 3");
	got = (char *)tu_read_file(path, &len);
	assert_string_equal(got, chain);
	free(got);
	/* a set 3 of another making: a branch */
	evil3 = update(3, pr3, ps2, by, 2);
	branch = malloc(strlen(upd2) + strlen(evil3) + 1);
	strcat(strcpy(branch, upd2), evil3);
	save(ks, KEEPER_FILE_KEYS, branch, &r);
	assert_refused(&r, EINVAL, "a branch");
	/* the feed: by the retired key refused, by set 3's signing key not */
	old = feed_by(k1);
	cur = feed_by(s3);
	save(ks, KEEPER_FILE_FEED, old, &r);
	assert_refused(&r, EINVAL, "bad signature");
	save(ks, KEEPER_FILE_FEED, cur, &r);
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);
	/* after a restart with pins.keys damaged, pins.keyset holds set 3:
	 * nothing older gets in, the real chain still does */
	tu_write_file(sdir, "pins.keys", "garbage\n", path, sizeof(path));
	ks = state_in(sdir);
	save(ks, KEEPER_FILE_FEED, old, &r);
	assert_refused(&r, EINVAL, "of key set 3");
	save(ks, KEEPER_FILE_KEYS, upd2, &r);
	assert_refused(&r, EINVAL, "before key set 3");
	save(ks, KEEPER_FILE_KEYS, chain, &r);
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);
	free(old);
	free(cur);
	free(evil3);
	free(branch);
	free(chain);
}

/* A feed of version v over feed_text's rules, signed by k, with prefix
 * (key-set updates) in front. */
static char *
feed_v(const char *prefix, unsigned v, struct feed_key *k)
{
	char	 text[sizeof(feed_text) + 16];
	size_t	 len;

	snprintf(text, sizeof(text), "[feed]\nversion = %u%s", v,
	    strchr(feed_text, '\n') + strlen("\nversion = 9"));
	return sign_text(prefix, text, &k, 1, true, &len);
}

/* The version floor: a worker can neither write an older feed the trusted
 * key set signed, nor lower pins.version, so a restart cannot bring back
 * a feed the device had moved past; a feed that replaced the signing role
 * resets it, as the device judges. */
static void
test_version_floor_never_goes_back(void **state)
{
	struct keeper_state	*ks;
	struct keeper_msg	 r;
	struct feed_key		*root = k1;
	char			 sdir[300], *v5, *v9, *rot, *upd;

	(void)state;
	subdir("floor", sdir, sizeof(sdir));
	ks = state_in(sdir);
	v5 = feed_v("", 5, k1);
	v9 = feed_v("", 9, k1);
	save(ks, KEEPER_FILE_FEED, v9, &r);
	assert_int_equal(r.type, KEEPER_OK);
	save(ks, KEEPER_FILE_FLOOR, "9\n", &r);
	assert_int_equal(r.type, KEEPER_OK);
	save(ks, KEEPER_FILE_FEED, v5, &r);
	/* the device's own rule and reason (pins/feed_accept.c) */
	assert_refused(&r, EINVAL, "rollback refused: version 5 is older "
	    "than 9, the highest accepted");
	save(ks, KEEPER_FILE_FLOOR, "5\n", &r);
	assert_refused(&r, EINVAL, "version 5 is below 9");
	save(ks, KEEPER_FILE_FLOOR, "10\n", &r);
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);
	/* a restart: the floor is what pins.version says */
	ks = state_in(sdir);
	save(ks, KEEPER_FILE_FEED, v9, &r);
	assert_refused(&r, EINVAL, "older than 10");
	save(ks, KEEPER_FILE_FLOOR, "9\n", &r);
	assert_refused(&r, EINVAL, "below 10");
	/* the signing role replaced (set 2: s3 signs): version 1 passes,
	 * and the floor may then go down to it */
	upd = update(2, pk1, ps3, &root, 1);
	rot = feed_v(upd, 1, s3);
	save(ks, KEEPER_FILE_FEED, rot, &r);
	assert_int_equal(r.type, KEEPER_OK);
	save(ks, KEEPER_FILE_FLOOR, "1\n", &r);
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);
	free(v5);
	free(v9);
	free(upd);
	free(rot);
}

static void
test_tofu_swap_needs_the_hosts_rule(void **state)
{
	struct keeper_state	*ks;
	struct keeper_msg	 m, r;
	struct tofu		*t;
	uint8_t			 out[1024];
	char			 sdir[300], *feed;
	static const struct {
		const char	*host;
		uint8_t		 leaf;
		int		 issuer, replaces;
		bool		 ok;
	} cases[] = {
		/* no tofu_accept_issuer: the same issuer is not enough */
		{ "n.test", 1, 2, -1, true },
		{ "n.test", 3, 2, 1, false },
		/* observed: only to a leaf it lists (5) */
		{ "o.test", 1, 2, -1, true },
		{ "o.test", 3, 2, 1, false },
		{ "o.test", 5, 2, 1, true },
		/* tofu_accept_issuer: only under the pinned issuer */
		{ "a.test", 1, 2, -1, true },
		{ "a.test", 3, 4, 1, false },
		{ "a.test", 3, 2, 1, true },
		/* no rule at all */
		{ "u.test", 1, 2, -1, true },
		{ "u.test", 3, 2, 1, false },
		/* f.test's rule comes with the feed, not written yet */
		{ "f.test", 1, 2, -1, true },
		{ "f.test", 3, 2, 1, false },
	};
	size_t			 i;

	(void)state;
	subdir("tofu", sdir, sizeof(sdir));
	ks = state_in(sdir);
	for (i = 0; i < nitems(cases); i++) {
		tofu_swap(&m, cases[i].host, cases[i].leaf, cases[i].issuer,
		    cases[i].replaces);
		ask(ks, &m, 0, &r, out, sizeof(out));
		if (cases[i].ok)
			assert_int_equal(r.type, KEEPER_OK);
		else
			assert_refused(&r, EEXIST, "tofu");
	}
	tofu_swap(&m, "n.test", 3, 2, 1);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_refused(&r, EEXIST, "has no tofu_accept_issuer");
	/* once the keeper wrote the feed, its rule counts */
	feed = feed_by(k1);
	save(ks, KEEPER_FILE_FEED, feed, &r);
	assert_int_equal(r.type, KEEPER_OK);
	tofu_swap(&m, "f.test", 3, 2, 1);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	free(feed);
	/* what reached the file */
	t = tofu_open(sdir, 8, NULL);
	assert_non_null(t);
	assert_int_equal(tofu_get(t, "n.test")->leaf.hash[0], 1);
	assert_int_equal(tofu_get(t, "o.test")->leaf.hash[0], 5);
	assert_int_equal(tofu_get(t, "a.test")->leaf.hash[0], 3);
	assert_int_equal(tofu_get(t, "u.test")->leaf.hash[0], 1);
	assert_int_equal(tofu_get(t, "f.test")->leaf.hash[0], 3);
	tofu_free(t);
	keeper_state_free(ks);
}

/* The worker's side of the TOFU store: each entry goes to the writer
 * with the leaf it replaces; one the writer refuses is dropped, and the
 * file (the keeper's) decides. */
static struct pin	 last_replaced;
static bool		 last_had_replaced;
static int		 writer_answer;

static int
fake_writer(void *arg, const struct tofu_entry *e, const struct pin *old,
    const char **why)
{
	(void)arg;
	(void)e;
	if ((last_had_replaced = old != NULL))
		last_replaced = *old;
	*why = "refused by the test";
	return writer_answer;
}

static void
test_worker_store_sends_what_it_replaces_and_obeys_refusals(void **state)
{
	char		 wdir[300], path[400];
	struct tofu	*t;
	struct pin	 a, b;
	const char	*why;
	FILE		*f;

	(void)state;
	snprintf(wdir, sizeof(wdir), "%s/worker", tu_tmpdir);
	assert_int_equal(mkdir(wdir, 0755), 0);
	memset(a.hash, 0xaa, PIN_HASH_LEN);
	memset(b.hash, 0xbb, PIN_HASH_LEN);
	t = tofu_open(wdir, 8, NULL);
	assert_non_null(t);
	tofu_set_writer(t, fake_writer, NULL);
	writer_answer = 0;
	assert_int_equal(tofu_put(t, "w.test", &a, NULL, 1700000000, &why),
	    0);
	assert_false(last_had_replaced);		/* a first use */
	assert_int_equal(tofu_put(t, "w.test", &b, NULL, 1700000001, &why),
	    0);
	assert_true(last_had_replaced);			/* a rotation of a */
	assert_memory_equal(last_replaced.hash, a.hash, PIN_HASH_LEN);
	/* refused: dropped, and what the file says applies (here: the
	 * keeper's a for x.test) */
	snprintf(path, sizeof(path), "%s/%s", wdir, TOFU_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "x.test sha256/qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo= "
	    "- 2023-11-14T22:13:20Z\n");
	fclose(f);
	writer_answer = TOFU_REFUSED;
	assert_int_equal(tofu_put(t, "x.test", &b, NULL, 1700000002, &why),
	    -1);
	assert_string_equal(why, "refused by the test");
	assert_non_null(tofu_get(t, "x.test"));
	assert_memory_equal(tofu_get(t, "x.test")->leaf.hash, a.hash,
	    PIN_HASH_LEN);
	/* a refused first use of an unknown host: gone */
	assert_int_equal(tofu_put(t, "y.test", &b, NULL, 1700000003, &why),
	    -1);
	assert_null(tofu_get(t, "y.test"));
	/* and a host that would write a line of its own never gets there */
	writer_answer = 0;
	assert_int_equal(tofu_put(t, "z.test\nq.test", &b, NULL, 1700000004,
	    &why), -1);
	tofu_free(t);
}

/* Run body in a child after sandbox_apply(); its exit status, 0 when
 * every check held. 6: no filter took (qemu-user refuses them): said, and
 * only no-new-privileges is checked. */
static void
sandboxed(int (*body)(void))
{
	pid_t		 pid;
	int		 st;
	char		 err[256];
	const char	*emu;

	if ((pid = fork()) == 0) {
		if (sandbox_apply(err, sizeof(err)) == -1)
			_exit(2);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(3);
		if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
			_exit(6);	/* no filter took (warned) */
		_exit(body());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	emu = getenv("EMU");
	if (WEXITSTATUS(st) == 6 && emu != NULL && *emu != '\0') {
		printf("# under %s: no seccomp filter can be installed; "
		    "no-new-privileges checked\n", emu);
		return;
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The call failed with EPERM, as the filter says. */
#define DENIED(call)	((call) == -1 && errno == EPERM)

static int
execve_and_unshare(void)
{
	char	*argv[] = { "true", NULL };

	if (!DENIED(unshare(CLONE_NEWUSER)))
		return 5;
	execv("/bin/true", argv);
	return errno == EPERM ? 0 : 4;
}

static void
test_sandbox_denies_execve(void **state)
{
	(void)state;
	sandboxed(execve_and_unshare);
}

static void *
thread_main(void *arg)
{
	return arg;
}

static int
no_process_but_threads(void)
{
	pthread_t	 t;
	void		*ret = NULL;
	int		 fd;
	pid_t		 pid;

	if ((pid = fork()) == 0)
		_exit(0);
	if (pid != -1 || errno != EPERM)
		return 10;
	if ((pid = vfork()) == 0)
		_exit(0);
	if (pid != -1 || errno != EPERM)
		return 11;
	/* clone as fork makes it, straight from the kernel */
	if ((pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)) == 0)
		_exit(0);
	if (pid != -1 || errno != EPERM)
		return 12;
	if (!DENIED(syscall(SYS_memfd_create, "x", 0)))
		return 13;
#ifdef SYS_pidfd_open
	if (!DENIED(syscall(SYS_pidfd_open, getpid(), 0)))
		return 14;
#endif
#ifdef SYS_modify_ldt
	{
		char	 ldt[16];

		if (!DENIED(syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt))))
			return 15;
	}
#endif
	if (!DENIED(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)))
		return 16;
	/* what the daemon does make still works: sockets, threads */
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 17;
	close(fd);
	if (pthread_create(&t, NULL, thread_main, &fd) != 0 ||
	    pthread_join(t, &ret) != 0 || ret != &fd)
		return 18;
	return 0;
}

static void
test_sandbox_denies_new_processes_not_threads(void **state)
{
	(void)state;
	sandboxed(no_process_but_threads);
}

/* A device identity made here: an EC key and a self-signed certificate,
 * written as PEM to tu_tmpdir/dev.{pem,key}; its key is in *key. */
static void
device_identity(ecc_key *key, WC_RNG *rng, char *cert, char *keyf,
    size_t sz)
{
	uint8_t	 der[2048], pem[4096];
	int	 n, m;
	FILE	*f;

	assert_int_equal(wc_ecc_init(key), 0);
	assert_int_equal(wc_ecc_make_key(rng, 32, key), 0);
	n = tls_ca_selfsigned(key, rng, "device", false, der, sizeof(der));
	assert_true(n > 0);
	m = wc_DerToPem(der, (word32)n, pem, sizeof(pem), CERT_TYPE);
	assert_true(m > 0);
	snprintf(cert, sz, "%s/dev.pem", tu_tmpdir);
	assert_non_null(f = fopen(cert, "w"));
	fwrite(pem, 1, (size_t)m, f);
	fclose(f);
	n = wc_EccKeyToDer(key, der, sizeof(der));
	assert_true(n > 0);
	m = wc_DerToPem(der, (word32)n, pem, sizeof(pem), ECC_PRIVATEKEY_TYPE);
	assert_true(m > 0);
	snprintf(keyf, sz, "%s/dev.key", tu_tmpdir);
	assert_non_null(f = fopen(keyf, "w"));
	fwrite(pem, 1, (size_t)m, f);
	fclose(f);
}

static void
sign_msg(struct keeper_msg *m, unsigned ident, const uint8_t *in,
    size_t len)
{
	memset(m, 0, sizeof(*m));
	m->type = KEEPER_SIGN;
	m->id = 9;
	m->ident = ident;
	m->scheme = TLS_SIGN_ECDSA;
	m->data = in;
	m->len = len;
}

static void
test_sign_only_for_an_identity_a_digest_and_within_its_rate(void **state)
{
	struct keeper_state	*ks;
	struct keeper_msg	 m, r;
	struct ident_conf	 id;
	struct conf		 c;
	ecc_key			 key;
	WC_RNG			 rng;
	uint8_t			 digest[32], out[4096];
	char			 cert[300], keyf[300], err[512];
	int			 i, ok = 0;
	FILE			*f;

	(void)state;
	assert_int_equal(wc_InitRng(&rng), 0);
	device_identity(&key, &rng, cert, keyf, sizeof(cert));
	memset(&id, 0, sizeof(id));
	id.pattern = (char *)"broker.test";
	id.path = (char *)"test.ini";
	id.cert.path = cert;
	id.key.path = keyf;
	id.key.line = 7;
	memset(&c, 0, sizeof(c));
	c.idents = &id;
	c.nidents = 1;
	ks = keeper_state_new(&c, err, sizeof(err));
	assert_non_null(ks);
	memset(digest, 0x42, sizeof(digest));

	sign_msg(&m, 0, digest, sizeof(digest));
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	assert_int_equal(wc_ecc_verify_hash(r.data, (word32)r.len, digest,
	    sizeof(digest), &ok, &key), 0);
	assert_int_equal(ok, 1);	/* the device key's signature */
	/* no such identity; not a digest's size; not its scheme */
	sign_msg(&m, 1, digest, sizeof(digest));
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_non_null(memmem(r.data, r.len, "no device identity 1", 20));
	sign_msg(&m, 0, digest, 20);
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	sign_msg(&m, 0, digest, sizeof(digest));
	m.scheme = TLS_SIGN_RSA_PSS;
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	/* the burst (three above: the two refused for what they asked
	 * count, the unknown identity does not), then EAGAIN until time
	 * passes */
	for (i = 3; i < KEEPER_SIGN_BURST; i++) {
		sign_msg(&m, 0, digest, sizeof(digest));
		ask(ks, &m, 0, &r, out, sizeof(out));
		assert_int_equal(r.type, KEEPER_OK);
	}
	ask(ks, &m, 0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_ERR);
	assert_int_equal(r.err, EAGAIN);
	ask(ks, &m, 1.0, &r, out, sizeof(out));
	assert_int_equal(r.type, KEEPER_OK);
	keeper_state_free(ks);

	/* an encrypted key: refused at load, naming the INI line */
	assert_non_null(f = fopen(keyf, "w"));
	fputs("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
	    "-----END ENCRYPTED PRIVATE KEY-----\n", f);
	fclose(f);
	assert_null(keeper_state_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "test.ini:7: [domain:broker.test] "
	    "client_key: "));
	assert_non_null(strstr(err, "an encrypted private key"));
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_frames_are_refused_with_a_reason),
		cmocka_unit_test(
		    test_mint_checks_name_and_key_and_is_rate_limited),
		cmocka_unit_test(test_rsa_mint_is_its_own_kind),
		cmocka_unit_test(test_save_writes_only_known_files_within_bounds),
		cmocka_unit_test(
		    test_clock_saves_cannot_ratchet_past_the_system_clock),
		cmocka_unit_test(test_tofu_never_replaces_another_issuers_pins),
		cmocka_unit_test(test_key_set_chain_never_goes_back),
		cmocka_unit_test(test_version_floor_never_goes_back),
		cmocka_unit_test(test_tofu_swap_needs_the_hosts_rule),
		cmocka_unit_test(
		    test_worker_store_sends_what_it_replaces_and_obeys_refusals),
		cmocka_unit_test(
		    test_sign_only_for_an_identity_a_digest_and_within_its_rate),
		cmocka_unit_test(test_sandbox_denies_execve),
		cmocka_unit_test(test_sandbox_denies_new_processes_not_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
