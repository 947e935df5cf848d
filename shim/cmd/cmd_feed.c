/*
 * cmd_feed.c - `pinshim feed keygen|pubkey|sign|cosign|rotate|verify|add`:
 * the publisher's side of the signed feed and its key sets (backend
 * teams, CI pipelines, the holders of root keys).
 *
 * `add` pins a live endpoint's verified chain into a body.
 * `sign` validates the body with the very parser the devices use before it
 * signs anything, so an unusable feed or key set is never published;
 * `cosign` lets holders add signatures one by one; `rotate` writes the
 * next key-set update; `verify` judges a signed file with the device's own
 * rules (pins/feed_accept.c), from the values a device has (its INI, and
 * with --previous the feed it has in force), says which, and which roles
 * and thresholds were met.
 *
 * Must never: sign a body the devices would refuse, or leave a half-written
 * output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/list.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/feed_accept.h"
#include "pins/host.h"
#include "shim/cmd/cmd.h"
#include "shim/cmd/cmd_body.h"
#include "tls/tls.h"

#define FEED_FILE_MAX	(64UL * 1024 * 1024)
/* Each subcommand's usage; cmd_feed_usage is all of them, in this order. */
#define USAGE_KEYGEN	"pinshim feed keygen NAME [--role root|sign]\n" \
	"    write NAME.key (Ed25519, mode 0600) and NAME.pub\n"
#define USAGE_PUBKEY	"pinshim feed pubkey FILE\n" \
	"    print the ed25519: form of a key: an Ed25519 PEM private key\n" \
	"    (openssl genpkey), PEM public key (openssl pkey -pubout) or NAME.pub\n"
#define USAGE_SIGN	"pinshim feed sign --key NAME.key [--key ...] " \
	"[--chain FILE] [--legacy] FILE [-o OUT]\n" \
	"    validate and sign a feed body or a key-set update; --legacy:\n" \
	"    one key, no key id, for devices older than key roles\n"
#define USAGE_COSIGN	"pinshim feed cosign --key NAME.key [--key ...] " \
	"FILE [-o OUT]\n" \
	"    add signatures to a signed file's last block\n"
#define USAGE_ROTATE	"pinshim feed rotate (--after FILE | --version N) " \
	"--root KEY... --root-threshold N\n" \
	"        --sign KEY... --sign-threshold N [-o OUT]\n" \
	"    write the next key-set update, unsigned\n"
#define USAGE_VERIFY	"pinshim feed verify (--pubkey KEY... " \
	"[--root-threshold N] [--sign-key KEY...]\n" \
	"        [--sign-threshold N] [--keys-version N] | -c FILE) " \
	"[--previous FEED] [--device ID] FILE\n" \
	"    judge a signed file as a device would: roles, thresholds,\n" \
	"    weakening, expiry; exit 0 only if devices accept it\n"
#define USAGE_ADD	"pinshim feed add BODY HOST[:PORT] [--pin leaf|" \
	"intermediate|both] [--backup PIN]...\n" \
	"        [--no-backup] [--connect-to ADDR:PORT] [--ca-file FILE]\n" \
	"    pin a live endpoint's verified chain into a feed body\n"

const char cmd_feed_usage[] = USAGE_KEYGEN USAGE_PUBKEY USAGE_SIGN USAGE_COSIGN
    USAGE_ROTATE USAGE_VERIFY USAGE_ADD;

static int
feed_cmd_keygen(int argc, char **argv)
{
	const char	*role = NULL, *hint;

	if (argc == 4 && strcmp(argv[2], "--role") == 0)
		role = argv[3];
	/* NAME is a file name, never an option taken for one */
	if ((argc != 2 && role == NULL) || argv[1][0] == '-' ||
	    (role != NULL && strcmp(role, "root") != 0 &&
	    strcmp(role, "sign") != 0))
		return cmd_usage(stderr, USAGE_KEYGEN);
	if (feed_keygen(argv[1], stderr) == -1)
		return 1;
	hint = role == NULL ? "paste into [feed] public_key" :
	    strcmp(role, "root") == 0 ? "a root key: [feed] public_key, or "
	    "feed rotate --root; keep the .key offline" :
	    "a signing key: [feed] sign_key, or feed rotate --sign";
	printf("wrote %s.key (private, mode 0600: keep it off the devices) "
	    "and %s.pub (%s)\n", argv[1], argv[1], hint);
	return 0;
}

/* The key's public half for [feed] public_key and --pubkey, from what
 * people have: a private key openssl made (the key stays in this
 * process and is wiped), its public PEM, or a NAME.pub. */
static int
feed_cmd_pubkey(int argc, char **argv)
{
	uint8_t		 pub[FEED_KEY_LEN];
	char		 line[128], *text;
	struct feed_key	*k;
	const char	*why;
	size_t		 len;
	bool		 private, ok;
	int		 rc;

	if (argc != 2 || argv[1][0] == '-')
		return cmd_usage(stderr, USAGE_PUBKEY);
	if ((text = file_read(argv[1], 16384, &len, stderr)) == NULL)
		return 1;
	/* a public key is decoded from what was read (a pipe reads once);
	 * a private one is loaded by the signing code, which wipes it */
	private = strstr(text, "PRIVATE KEY-----") != NULL;
	ok = private || feed_key_decode(text, len, pub, &why);
	explicit_bzero(text, len);
	free(text);
	if (!ok) {
		fprintf(stderr, "%s: %s\n", argv[1], why);
		return 1;
	}
	if (private) {
		if ((k = feed_key_load(argv[1], stderr)) == NULL)
			return 1;
		rc = feed_key_public(k, pub);
		feed_key_free(k);
		if (rc == -1) {
			fprintf(stderr, "%s: cannot export the public key\n",
			    argv[1]);
			return 1;
		}
	}
	feed_key_format(pub, line, sizeof(line));
	printf("%s\n", line);
	return 0;
}

/* To stdout, or atomically to out (a crash leaves no half-signed file). */
int
cmd_write_file(const char *out, const char *buf, size_t len)
{
	char		 dir[4096];
	const char	*base;

	if (out == NULL)
		return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ?
		    0 : -1;
	if ((base = file_split(out, dir, sizeof(dir))) == NULL ||
	    file_replace(dir, base, buf, len) == -1) {
		perror(out);
		return -1;
	}
	return 0;
}

int
cmd_edit_file(const char *path, const char *buf, size_t len)
{
	char		 dir[4096], to[4096];
	const char	*base = file_split(path, dir, sizeof(dir));
	ssize_t		 n;

	if (base != NULL && file_update(dir, base, buf, len) == 0)
		return 0;
	if (base == NULL || errno != ELOOP) {
		perror(path);
		return -1;
	}
	n = readlink(path, to, sizeof(to) - 1);
	to[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "%s: a symbolic link (to %s): not written, since the "
	    "edit would replace the link with a plain file and leave its "
	    "target as it was; give the file itself\n", path, to);
	return -1;
}

/* An ed25519:BASE64 key, or a file holding one: NAME.pub, or a PEM
 * public key (openssl pkey -pubout). */
bool
cmd_read_pubkey(const char *arg, uint8_t out[FEED_KEY_LEN])
{
	const char	*why;
	char		*text;
	size_t		 len;
	bool		 ok;

	if (strncmp(arg, "ed25519:", 8) == 0) {
		if ((ok = feed_key_parse(arg, out)) == false)
			fprintf(stderr, "%s: not an ed25519:BASE64 public key\n",
			    arg);
		return ok;
	}
	if ((text = file_read(arg, 16384, &len, stderr)) == NULL)
		return false;
	if ((ok = feed_key_decode(text, len, out, &why)) == false)
		fprintf(stderr, "%s: %s\n", arg, why);
	free(text);
	return ok;
}

static bool
role_add(struct feed_role *r, const char *arg)
{
	if (r->n == FEED_KEYS_MAX) {
		fprintf(stderr, "%s: more than %d keys in one role\n", arg,
		    FEED_KEYS_MAX);
		return false;
	}
	return cmd_read_pubkey(arg, r->keys[r->n]) && (r->n++, true);
}

static bool
number(const char *arg, unsigned long lo, unsigned long hi,
    unsigned long *out)
{
	if (parse_uint(arg, lo, hi, out))
		return true;
	fprintf(stderr, "%s: not a whole number in %lu..%lu\n", arg, lo, hi);
	return false;
}

/* Whether a body is a key-set update: its first section is [keys]. */
static bool
is_keys_body(const char *body, size_t len)
{
	const char	*p = body, *end = body + len;

	while (p < end) {
		p += strspn(p, " \t");
		if (*p == '[')
			return strncmp(p, "[keys]", 6) == 0;
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
	}
	return false;
}

/* Every block of a signed prefix must be a key-set update. */
static bool
chain_usable(const char *name, const char *buf, size_t len)
{
	struct feed_blocks	*bl = xcalloc(1, sizeof(*bl));
	struct feed_keyset	 ks;
	const char		*why;
	size_t			 i;
	bool			 ok;

	if (!(ok = feed_split(buf, len, bl, &why)))
		fprintf(stderr, "%s: %s\n", name, why);
	for (i = 0; ok && i < bl->n; i++)
		ok = feed_keyset_parse(name, buf + bl->b[i].off, bl->b[i].len,
		    &ks, stderr);
	free(bl);
	return ok;
}

static bool
load_keys(char **paths, size_t n, struct feed_key **keys)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((keys[i] = feed_key_load(paths[i], stderr)) == NULL)
			return false;
	return true;
}

/* out = [prefix] body, then one signature line per key. */
static char *
append_sigs(const char *prefix, size_t plen, const char *body, size_t blen,
    const char *tail, size_t tlen, struct feed_key **keys, size_t nkeys,
    bool named, size_t *outlen)
{
	char	 line[FEED_SIG_LINE_MAX], *out;
	size_t	 i, n, len = plen + blen + tlen;

	out = xcalloc(1, len + nkeys * FEED_SIG_LINE_MAX + 1);
	memcpy(out, prefix, plen);
	memcpy(out + plen, body, blen);
	memcpy(out + plen + blen, tail, tlen);
	for (i = 0; i < nkeys; i++) {
		if ((n = feed_sig_line(body, blen, keys[i], named, line)) ==
		    0) {
			free(out);
			return NULL;
		}
		memcpy(out + len, line, n);
		len += n;
	}
	*outlen = len;
	return out;
}

struct sign_args {
	char		*keys[FEED_SIGS_MAX];
	size_t		 nkeys;
	const char	*in, *out, *chain;
	bool		 legacy;
};

static bool
sign_args(int argc, char **argv, struct sign_args *a, bool cosign)
{
	int	 i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
			if (a->nkeys == FEED_SIGS_MAX) {
				fprintf(stderr, "more than %d --key\n",
				    FEED_SIGS_MAX);
				return false;
			}
			a->keys[a->nkeys++] = argv[++i];
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			a->out = argv[++i];
		else if (!cosign && strcmp(argv[i], "--chain") == 0 &&
		    i + 1 < argc)
			a->chain = argv[++i];
		else if (!cosign && strcmp(argv[i], "--legacy") == 0)
			a->legacy = true;
		else if (argv[i][0] != '-' && a->in == NULL)
			a->in = argv[i];
		else
			return false;
	}
	return a->nkeys > 0 && a->in != NULL;
}

/* Parse a body the way the devices will, before it is signed. */
static bool
body_usable(const char *in, const char *body, size_t len, bool *keys,
    unsigned long long *version, size_t *nrules)
{
	struct feed_keyset	 ks;
	struct feed_body	*c;

	if ((*keys = is_keys_body(body, len))) {
		if (!feed_keyset_parse(in, body, len, &ks, stderr))
			return false;
		*version = ks.version;
		*nrules = 0;
		return true;
	}
	if ((c = feed_body_parse(in, body, len, stderr)) == NULL)
		return false;	/* FILE:LINE errors printed */
	*version = c->version;
	*nrules = c->snap->nrules;
	if (c->expires <= time(NULL)) {
		fprintf(stderr, "%s: [feed] expires: in the past; devices "
		    "would refuse this feed\n", in);
		feed_body_free(c);
		return false;
	}
	feed_body_free(c);
	return true;
}

static int
feed_cmd_sign(int argc, char **argv)
{
	struct sign_args	 a;
	struct feed_key		*keys[FEED_SIGS_MAX] = { NULL };
	char			*buf = NULL, *chain = NULL, *out = NULL, *pre;
	size_t			 len, clen = 0, plen, outlen, nrules, i;
	unsigned long long	 version;
	bool			 is_keys;
	int			 status = 2;

	if (!sign_args(argc, argv, &a, false) || (a.legacy && a.nkeys != 1)) {
		return cmd_usage(stderr, USAGE_SIGN);
	}
	if ((buf = file_read(a.in, FEED_FILE_MAX, &len, stderr)) == NULL)
		return 1;
	if (a.chain != NULL && (chain = file_read(a.chain, FEED_FILE_MAX,
	    &clen, stderr)) == NULL) {
		status = 1;
		goto out;
	}
	/* Signed blocks in front (key-set updates) are kept as they are;
	 * what follows the last signature line is the body to sign. */
	plen = feed_signed_prefix(buf, len);
	if (plen == len) {
		fprintf(stderr, "%s: already signed (feed cosign adds a "
		    "signature; remove the signature lines to sign again)\n",
		    a.in);
		goto out;
	}
	if ((chain != NULL && !chain_usable(a.chain, chain, clen)) ||
	    (plen > 0 && !chain_usable(a.in, buf, plen)))
		goto out;
	if (a.legacy && (plen > 0 || chain != NULL)) {
		fprintf(stderr, "%s: --legacy cannot sign a file with key-set "
		    "updates (devices that read it know no key roles)\n", a.in);
		goto out;
	}
	if (!body_usable(a.in, buf + plen, len - plen, &is_keys, &version,
	    &nrules))
		goto out;
	if (!load_keys(a.keys, a.nkeys, keys)) {
		status = 1;
		goto out;
	}
	/* --chain's blocks, the file's own signed blocks, the body: only
	 * the body is signed */
	pre = xcalloc(1, clen + plen + 1);
	memcpy(pre, chain ? chain : "", clen);
	memcpy(pre + clen, buf, plen);
	out = append_sigs(pre, clen + plen, buf + plen, len - plen, "", 0,
	    keys, a.nkeys, !a.legacy, &outlen);
	free(pre);
	if (out == NULL) {
		fprintf(stderr, "%s: signing failed\n", a.in);
		status = 1;
		goto out;
	}
	if (cmd_write_file(a.out, out, outlen) == -1) {
		status = 1;
		goto out;
	}
	if (a.out != NULL) {
		if (is_keys)
			fprintf(stderr, "signed %s: key set %llu, %zu "
			    "signature(s), wrote %s\n", a.in, version, a.nkeys,
			    a.out);
		else
			fprintf(stderr, "signed %s: version %llu, %zu host "
			    "rule(s), %zu signature(s), wrote %s\n", a.in,
			    version, nrules, a.nkeys, a.out);
	}
	status = 0;
out:
	for (i = 0; i < a.nkeys; i++)
		feed_key_free(keys[i]);
	free(out);
	free(chain);
	free(buf);
	return status;
}

static int
feed_cmd_cosign(int argc, char **argv)
{
	struct sign_args	 a;
	struct feed_key		*keys[FEED_SIGS_MAX] = { NULL };
	struct feed_blocks	*bl = xcalloc(1, sizeof(*bl));
	const struct feed_block	*b;
	char			*buf = NULL, *out = NULL, id[FEED_KEYID_TEXT];
	uint8_t			 pub[FEED_KEY_LEN];
	const char		*why;
	size_t			 len, outlen, i;
	int			 status = 2;

	if (!sign_args(argc, argv, &a, true)) {
		free(bl);
		return cmd_usage(stderr, USAGE_COSIGN);
	}
	if ((buf = file_read(a.in, FEED_FILE_MAX, &len, stderr)) == NULL) {
		status = 1;
		goto out;
	}
	if (!feed_split(buf, len, bl, &why)) {
		fprintf(stderr, "%s: %s\n", a.in, why);
		goto out;
	}
	b = &bl->b[bl->n - 1];
	if (b->nsigs + a.nkeys > FEED_SIGS_MAX || !b->sigs[0].named) {
		fprintf(stderr, "%s: %s\n", a.in, !b->sigs[0].named ?
		    "signed in the legacy form (no key id): sign it again "
		    "without --legacy to add signatures" :
		    "more than 16 signatures on one block");
		goto out;
	}
	if (!load_keys(a.keys, a.nkeys, keys)) {
		status = 1;
		goto out;
	}
	for (i = 0; i < a.nkeys; i++) {
		if (feed_key_public(keys[i], pub) == -1)
			goto out;
		if (feed_block_signed_by(buf, b, pub)) {
			feed_keyid_text(pub, id);
			fprintf(stderr, "%s: already signed by key %s (%s)\n",
			    a.in, id, a.keys[i]);
			goto out;
		}
	}
	/* The body's bytes, the signatures it has, then the new ones. */
	out = append_sigs(buf, b->off, buf + b->off, b->len, buf + b->off +
	    b->len, b->end - b->off - b->len, keys, a.nkeys, true, &outlen);
	if (out == NULL || cmd_write_file(a.out, out, outlen) == -1) {
		status = 1;
		goto out;
	}
	if (a.out != NULL)
		fprintf(stderr, "cosigned %s: %zu signature(s) now, wrote %s\n",
		    a.in, b->nsigs + a.nkeys, a.out);
	status = 0;
out:
	for (i = 0; i < a.nkeys; i++)
		feed_key_free(keys[i]);
	free(out);
	free(buf);
	free(bl);
	return status;
}

/* The version of the last key-set update in a file, or 0 with none. */
static bool
last_keys_version(const char *path, unsigned long *v)
{
	struct feed_blocks	*bl = xcalloc(1, sizeof(*bl));
	struct feed_keyset	 ks;
	const char		*why;
	char			*buf;
	size_t			 len, i;
	bool			 ok = false;

	*v = 0;
	if ((buf = file_read(path, FEED_FILE_MAX, &len, stderr)) == NULL)
		goto out;
	if (!feed_split(buf, len, bl, &why)) {
		fprintf(stderr, "%s: %s\n", path, why);
		goto out;
	}
	for (i = 0; i < bl->n; i++)
		if (is_keys_body(buf + bl->b[i].off, bl->b[i].len)) {
			if (!feed_keyset_parse(path, buf + bl->b[i].off,
			    bl->b[i].len, &ks, stderr))
				goto out;
			*v = ks.version;
		}
	ok = true;
out:
	free(buf);
	free(bl);
	return ok;
}

static int
feed_cmd_rotate(int argc, char **argv)
{
	struct feed_keyset	 ks;
	const char		*after = NULL, *out = NULL, *why;
	char			*text;
	size_t			 len;
	bool			 rt = false, st = false;
	int			 i, status;

	memset(&ks, 0, sizeof(ks));
	for (i = 1; i < argc; i++) {
		const char	*o = argv[i], *v = i + 1 < argc ? argv[i + 1] :
				    NULL;

		if (v == NULL)
			goto usage;
		i++;
		if (strcmp(o, "--after") == 0)
			after = v;
		else if (strcmp(o, "--version") == 0) {
			if (!number(v, 2, 4294967295UL, &ks.version))
				return 2;
		} else if (strcmp(o, "--root") == 0) {
			if (!role_add(&ks.root, v))
				return 2;
		} else if (strcmp(o, "--sign") == 0) {
			if (!role_add(&ks.sign, v))
				return 2;
		} else if (strcmp(o, "--root-threshold") == 0) {
			if (!number(v, 1, FEED_KEYS_MAX, &ks.root.threshold))
				return 2;
			rt = true;
		} else if (strcmp(o, "--sign-threshold") == 0) {
			if (!number(v, 1, FEED_KEYS_MAX, &ks.sign.threshold))
				return 2;
			st = true;
		} else if (strcmp(o, "-o") == 0)
			out = v;
		else
			goto usage;
	}
	if ((after == NULL) == (ks.version == 0) || !rt || !st ||
	    ks.root.n == 0 || ks.sign.n == 0)
		goto usage;
	if (after != NULL) {
		if (!last_keys_version(after, &ks.version))
			return 1;
		if (ks.version == 0) {
			fprintf(stderr, "%s: no key-set update in it; the "
			    "first rotation is --version 2 (the configured "
			    "set is 1, or [feed] keys_version)\n", after);
			return 2;
		}
		ks.version++;
	}
	if ((why = feed_keyset_check(&ks)) != NULL) {
		fprintf(stderr, "key set %lu: %s\n", ks.version, why);
		return 2;
	}
	text = feed_keyset_format(&ks, &len);
	status = cmd_write_file(out, text, len) == -1 ? 1 : 0;
	free(text);
	if (status == 0 && out != NULL)
		fprintf(stderr, "wrote key set %lu to %s: now sign it with the "
		    "root threshold of key set %lu and of its own\n",
		    ks.version, out, ks.version - 1);
	return status;
usage:
	cmd_usage(stderr, USAGE_ROTATE);
	return 2;
}

/* What `verify` judges against: a device's trust and what it enforces,
 * made from the same values the device starts from. Owned refs. */
struct verify_device {
	struct feed_trust	 trust;
	struct feed_device	 dev;
	struct snapshot		*base;		/* one reference owned */
	struct snapshot		*enforced;	/* one reference owned */
	char			 feed[300];	/* the feed in force, said */
};

/* Read path whole; NULL after saying why. */
static char *
verify_read(const char *path, size_t *len)
{
	return file_read(path, FEED_FILE_MAX, len, stderr);
}

/* The device after it took `previous` as its feed in force: judged as it
 * judges its own cache at start (proven under the key set, not behind the
 * floor; a stale feed stays in force), so its key set, floor, rules and
 * the time its issued attests are the device's. */
static bool
verify_previous(struct verify_device *v, const char *previous)
{
	struct feed_decision	 d;
	char			*buf;
	size_t			 len;

	if ((buf = verify_read(previous, &len)) == NULL)
		return false;
	v->dev.cached = true;
	feed_accept(previous, buf, len, &v->trust, &v->dev, &d);
	v->dev.cached = false;
	free(buf);
	if (d.verdict != FEED_ACCEPTED) {
		fprintf(stderr, "%s: not a feed a device with this key set can "
		    "have in force: %s\n", previous, d.why);
		feed_accept_clear(&d);
		return false;
	}
	v->trust = d.next;
	snapshot_unref(v->enforced);
	v->enforced = d.snap;
	v->dev.enforced = v->enforced;
	d.snap = NULL;
	if (d.attested > v->dev.now)
		v->dev.now = d.attested;
	snprintf(v->feed, sizeof(v->feed), "feed version %llu in force "
	    "(--previous %s)", d.body->version, previous);
	feed_accept_clear(&d);
	return true;
}

/* One line: the values the verdict was reached from. */
static void
verify_said(const struct verify_device *v, const char *ini, FILE *out)
{
	fprintf(out, "judged against: %s key set %lu, %s (%zu host rule(s), "
	    "default_policy %s), %s, floor %llu, %s%s\n",
	    ini != NULL ? "the INI's" : "the --pubkey", v->trust.keys.version,
	    ini != NULL ? "the INI's rules" : "no INI rules",
	    v->base->nrules, policy_name(v->base->default_policy), v->feed,
	    v->trust.floor, v->dev.device_id != NULL ? "device " :
	    "no device_id", v->dev.device_id != NULL ? v->dev.device_id : "");
}

/* Overrides for devices this run did not judge. */
static void
verify_overrides(const struct feed_body *c, const char *device)
{
	size_t	 i;

	for (i = 0; i < c->ndevices; i++)
		if (c->devices[i].pinning_off && (device == NULL ||
		    strcmp(device, c->devices[i].id) != 0))
			printf("note: [device:%s] pinning = off is a weakening on "
			    "that device unless its feed in force already has "
			    "it (--device %s judges it)\n", c->devices[i].id,
			    c->devices[i].id);
}

static int
feed_cmd_verify(int argc, char **argv)
{
	struct verify_device	 v;
	struct feed_keyset	 ks;
	struct feed_decision	 d;
	const struct feed_proof	*p = &d.proof;
	struct conf		*conf = NULL;
	const struct feed_body	*c;
	const char		*file = NULL, *ini = NULL, *previous = NULL,
				*device = NULL, *why;
	char			*buf = NULL, iss[32], exp[32];
	size_t			 len;
	bool			 sign_given = false;
	int			 i, status = 2;

	memset(&ks, 0, sizeof(ks));
	memset(&v, 0, sizeof(v));
	memset(&d, 0, sizeof(d));
	ks.version = ks.root.threshold = ks.sign.threshold = 1;
	for (i = 1; i < argc; i++) {
		const char	*o = argv[i], *val = i + 1 < argc ? argv[i + 1] :
				    NULL;

		if (o[0] != '-' && file == NULL) {
			file = o;
			continue;
		}
		if (val == NULL)
			goto usage;
		i++;
		if (strcmp(o, "--pubkey") == 0) {
			if (!role_add(&ks.root, val))
				return 2;
		} else if (strcmp(o, "--sign-key") == 0) {
			if (!role_add(&ks.sign, val))
				return 2;
			sign_given = true;
		} else if (strcmp(o, "--root-threshold") == 0) {
			if (!number(val, 1, FEED_KEYS_MAX, &ks.root.threshold))
				return 2;
		} else if (strcmp(o, "--sign-threshold") == 0) {
			if (!number(val, 1, FEED_KEYS_MAX, &ks.sign.threshold))
				return 2;
		} else if (strcmp(o, "--keys-version") == 0) {
			if (!number(val, 1, 4294967295UL, &ks.version))
				return 2;
		} else if (strcmp(o, "-c") == 0)
			ini = val;
		else if (strcmp(o, "--previous") == 0)
			previous = val;
		else if (strcmp(o, "--device") == 0)
			device = val;
		else
			goto usage;
	}
	if (file == NULL || (ini == NULL) == (ks.root.n == 0))
		goto usage;
	if (ini != NULL) {
		if ((conf = conf_load(ini, stderr)) == NULL)
			return 2;
		if (!conf->feed.present) {
			fprintf(stderr, "%s: no [feed] section\n", ini);
			goto out;
		}
		ks = conf->feed.keys;
		v.base = snapshot_ref(conf->snap);
		if (device == NULL)
			device = conf->device_id;
	} else {
		if (!sign_given) {
			memcpy(ks.sign.keys, ks.root.keys, sizeof(ks.sign.keys));
			ks.sign.n = ks.root.n;
		}
		if ((why = feed_keyset_check(&ks)) != NULL) {
			fprintf(stderr, "key set: %s\n", why);
			goto out;
		}
		v.base = snapshot_new(POLICY_BLOCK);	/* conf's default */
	}
	/* A device as it starts: the INI's key set and rules, no feed, no
	 * floor, and the latest known time this binary knows (its build
	 * date, or the system clock). */
	v.trust.keys = ks;
	v.enforced = feed_body_snapshot(v.base, NULL, device);
	v.dev.base = v.base;
	v.dev.enforced = v.enforced;
	v.dev.device_id = device;
	v.dev.now = clock_now();
	v.dev.sys = time(NULL);
	snprintf(v.feed, sizeof(v.feed), "no feed in force");
	status = 1;
	if ((previous != NULL && !verify_previous(&v, previous)) ||
	    (buf = verify_read(file, &len)) == NULL)
		goto out;
	feed_accept(file, buf, len, &v.trust, &v.dev, &d);
	if ((c = d.body) == NULL) {
		fprintf(stderr, "%s\n", d.why);
		verify_said(&v, ini, stderr);
		goto out;
	}
	format_rfc3339(c->issued, iss, sizeof(iss));
	format_rfc3339(c->expires, exp, sizeof(exp));
	verify_said(&v, ini, stdout);
	printf("%s: signature good\nkey set %lu", file, p->keys.version);
	if (p->nupdates > 0)
		printf(" (%zu update(s) on from key set %lu%s)", p->nupdates,
		    v.trust.keys.version, p->sign_rotated ? "; signing role "
		    "replaced: devices reset their version floor" : "");
	printf("\nsigning role: %zu of %lu needed: met\nroot role: %zu of %lu "
	    "needed: %s\nsigned by: %s\nversion %llu\nissued %s\nexpires %s\n"
	    "hosts %zu\ndevice overrides %zu\n", p->sign_have,
	    p->keys.sign.threshold, p->root_have, p->keys.root.threshold,
	    p->root_met ? "met" : "not met", p->signers, c->version, iss, exp,
	    c->snap->nrules, c->ndevices);
	if (d.weakens && !p->root_met)
		printf("%s: WEAKENS pinning (%s) without the root threshold: "
		    "devices will refuse it\n", file, d.weakened);
	else if (d.verdict == FEED_ACCEPTED)
		printf("weakens pinning: %s%s%s\n", d.weakens ? "yes (" : "no",
		    d.weakens ? d.weakened : "", d.weakens ?
		    "), root threshold met" : "");
	verify_overrides(c, device);
	if (d.verdict == FEED_ACCEPTED)
		printf("verdict: accepted\n");
	else
		printf("verdict: %s: %s\n", feed_verdict_name(d.verdict), d.why);
	status = d.verdict == FEED_REJECTED ? 1 : 0;
out:
	feed_accept_clear(&d);
	snapshot_unref(v.enforced);
	snapshot_unref(v.base);
	conf_free(conf);
	free(buf);
	return status;
usage:
	cmd_usage(stderr, USAGE_VERIFY);
	return 2;
}

bool
cmd_pin_in_use(const struct tls_verdict *v, const struct pin *p)
{
	char		 text[PIN_TEXT_LEN + 1], one[PIN_TEXT_LEN + 1];
	const char	*l = v->presented;

	pin_format(p, text);
	if (strcmp(v->anchor, text) == 0)
		return true;
	while (list_next(&l, one, sizeof(one)) != LIST_END)
		if (strcmp(one, text) == 0)
			return true;
	return false;
}

/* feed add: the verdict over the live chain, from a verified handshake
 * (policy tofu: its leaf and issuer keys). */
static int
live_pins(const char *host, uint16_t port, const char *connect_to,
    const char *ca_file, struct tls_verdict *v)
{
	struct tls_client	*tls;
	struct tls_check	 chk;
	WOLFSSL			*ssl = NULL;
	char			 addr[64], err[256], chost[HOST_MAX + 1];
	uint16_t		 cport = port;
	int			 fd, ret, rc = 1;

	tls_init();
	if ((tls = tls_client_new(ca_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pinshim feed add: %s\n", err);
		return 1;
	}
	if (connect_to != NULL && !parse_hostport(connect_to, chost,
	    sizeof(chost), &cport)) {
		fprintf(stderr, "--connect-to %s: not ADDRESS:PORT\n",
		    connect_to);
		tls_client_free(tls);
		return 2;
	}
	if ((fd = cmd_dial("pinshim feed add", connect_to ? chost : host,
	    cport, addr, sizeof(addr))) == -1) {
		tls_client_free(tls);
		return 1;
	}
	memset(&chk, 0, sizeof(chk));
	/* tofu: the CA check, and the verified path's leaf and issuer */
	chk.policy = POLICY_TOFU;
	snprintf(chk.host, sizeof(chk.host), "%s", host);
	if ((ssl = tls_session_new(tls, fd, &chk)) != NULL) {
		wolfSSL_set_using_nonblock(ssl, 0);
		ret = wolfSSL_connect(ssl);
		tls_verdict(ssl, tls, &chk, ret, ret == WOLFSSL_SUCCESS ? 0 :
		    wolfSSL_get_error(ssl, ret), v);
		if (!v->pass)
			fprintf(stderr, "pinshim feed add: %s (%s): refusing to "
			    "pin a chain that does not verify: %s: %s\n", host,
			    addr, tls_reason_name(v->reason), v->detail);
		else
			rc = 0;
	}
	tls_session_free(ssl);
	tls_check_clear(&chk);
	close(fd);
	tls_client_free(tls);
	return rc;
}

static int
feed_cmd_add(int argc, char **argv)
{
	const char	*body_path = NULL, *target = NULL, *mode = "leaf";
	const char	*connect_to = NULL, *ca_file = CONF_DEFAULT_CA_FILE, *why;
	char		 host[HOST_MAX + 1], canon[HOST_MAX + 1], section[300];
	char		 list[(FEED_SIGS_MAX + 2) * (PIN_TEXT_LEN + 2)], text[PIN_TEXT_LEN + 1];
	char		 t[32];
	struct tls_verdict live;
	const struct rule *r;
	struct hostpat	 hp;
	struct pin	 backups[FEED_SIGS_MAX];
	size_t		 nb = 0, len, outlen, k;
	uint16_t	 port = 443;
	bool		 no_backup = false, backup;
	char		*body = NULL, *out = NULL;
	struct feed_body *c = NULL;
	int		 i, rc;

	for (i = 1; i < argc; i++) {
		const char	*o = argv[i], *v = i + 1 < argc ? argv[i + 1] :
				    NULL;

		if (strcmp(o, "--no-backup") == 0)
			no_backup = true;
		else if (o[0] != '-' && body_path == NULL)
			body_path = o;
		else if (o[0] != '-' && target == NULL)
			target = o;
		else if (v != NULL && strcmp(o, "--pin") == 0)
			mode = argv[++i];
		else if (v != NULL && strcmp(o, "--connect-to") == 0)
			connect_to = argv[++i];
		else if (v != NULL && strcmp(o, "--ca-file") == 0)
			ca_file = argv[++i];
		else if (v != NULL && strcmp(o, "--backup") == 0 &&
		    nb < FEED_SIGS_MAX) {
			if (!pin_parse(v, &backups[nb])) {
				fprintf(stderr, "--backup %s: not a sha256/ pin\n",
				    v);
				return 2;
			}
			nb++;
			i++;
		} else
			target = NULL, body_path = NULL, i = argc;
	}
	if (body_path == NULL || target == NULL ||
	    (strcmp(mode, "leaf") != 0 && strcmp(mode, "intermediate") != 0 &&
	    strcmp(mode, "both") != 0)) {
		return cmd_usage(stderr, USAGE_ADD);
	}
	if (!parse_hostport(target, host, sizeof(host), &port))
		snprintf(host, sizeof(host), "%s", target);
	if (!host_canon(host, canon, sizeof(canon), &why)) {
		fprintf(stderr, "%s: %s\n", host, why);
		return 2;
	}
	if ((body = file_read(body_path, FEED_FILE_MAX, &len, stderr)) == NULL)
		return 1;
	if ((rc = live_pins(canon, port, connect_to, ca_file, &live)) != 0)
		goto out;
	rc = 2;
	if (strcmp(mode, "leaf") != 0 && !live.tofu_has_issuer) {
		fprintf(stderr, "%s: the verified path has no intermediate to "
		    "pin (use --pin leaf)\n", canon);
		goto out;
	}
	list[0] = '\0';
	if (strcmp(mode, "intermediate") != 0) {
		pin_format(&live.tofu_leaf, text);
		strcat(list, text);
	}
	if (strcmp(mode, "leaf") != 0) {
		pin_format(&live.tofu_issuer, text);
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", list[0] ? ", " : "", text);
	}
	backup = false;
	for (k = 0; k < nb; k++) {
		pin_format(&backups[k], text);
		if (strstr(list, text) != NULL)
			continue;
		backup |= !cmd_pin_in_use(&live, &backups[k]);
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    ", %s", text);
	}
	if (!backup && !no_backup) {
		fprintf(stderr, "%s: no backup pin: every pin would be on the "
		    "chain served now, and the day that key is replaced every "
		    "device refuses the server until a new feed arrives (a bank "
		    "bricked its app that way). Add --backup sha256/... (the "
		    "pin of a key you hold in reserve), or --no-backup\n",
		    canon);
		goto out;
	}
	snprintf(section, sizeof(section), "domain:%s", canon);
	out = body_set(body, len, section, "pins", list, &outlen);
	/* the devices' own parser decides whether it is usable, and must
	 * read exactly the pins written */
	if ((c = feed_body_parse(body_path, out, outlen, stderr)) == NULL)
		goto out;
	if (!hostpat_parse(canon, &hp, &why) ||
	    (r = snapshot_rule(c->snap, &hp)) == NULL ||
	    r->pins.n != (size_t)(strlen(list) + 2) / (PIN_TEXT_LEN + 2)) {
		fprintf(stderr, "%s: [%s] does not read back as the pins "
		    "written (hand-edited continuation lines?): not written\n",
		    body_path, section);
		goto out;
	}
	if (r->has_expires && r->expires <= time(NULL) + 30 * 86400) {
		format_rfc3339(r->expires, t, sizeof(t));
		fprintf(stderr, "%s: [%s] expires = %s: the new pins would "
		    "expire %s; update or remove that line first\n", body_path,
		    section, t, r->expires <= time(NULL) ? "on arrival" :
		    "within 30 days");
		goto out;
	}
	if (cmd_edit_file(body_path, out, outlen) == -1) {
		rc = 1;
		goto out;
	}
	fprintf(stderr, "%s: [%s] pins = %s (from %s; sign and publish)\n",
	    body_path, section, list, mode);
	rc = 0;
out:
	feed_body_free(c);
	free(out);
	free(body);
	return rc;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} feed_subs[] = {
	{ "keygen", feed_cmd_keygen, USAGE_KEYGEN },
	{ "pubkey", feed_cmd_pubkey, USAGE_PUBKEY },
	{ "sign", feed_cmd_sign, USAGE_SIGN },
	{ "cosign", feed_cmd_cosign, USAGE_COSIGN },
	{ "rotate", feed_cmd_rotate, USAGE_ROTATE },
	{ "verify", feed_cmd_verify, USAGE_VERIFY },
	{ "add", feed_cmd_add, USAGE_ADD },
};

const char *
cmd_feed_usage_of(const char *sub)
{
	size_t	 i;

	for (i = 0; i < sizeof(feed_subs) / sizeof(feed_subs[0]); i++)
		if (strcmp(sub, feed_subs[i].name) == 0)
			return feed_subs[i].usage;
	return cmd_feed_usage;
}

int
cmd_feed(int argc, char **argv)
{
	size_t	 i;

	for (i = 0; argc >= 2 && i < sizeof(feed_subs) / sizeof(feed_subs[0]);
	    i++)
		if (strcmp(argv[1], feed_subs[i].name) == 0)
			return feed_subs[i].fn(argc - 1, argv + 1);
	return cmd_usage(stderr, cmd_feed_usage);
}
