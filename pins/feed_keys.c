/*
 * feed_keys.c - key sets and what a signed file proves under one: TUF's
 * root-of-trust rotation, cut down to the one-file feed.
 *
 * The device trusts one key set at a time (at first the one configured in
 * [feed]). A file may carry key-set updates before the feed, oldest first.
 * Those not newer than the trusted set are history and skipped; each newer
 * one must be exactly one version on, and be signed by the root threshold
 * of the set before it and by its own, so a stolen old root key cannot
 * make a branch and a new root cannot appear from nowhere. The feed block
 * is then judged by the set the updates end at: the signing role's
 * threshold is required; whether the root threshold also signed is
 * reported, for the caller's weakening rule.
 *
 * A key-set update is parsed before its signatures are checked, but only
 * its version is used before: to skip history without verifying it.
 *
 * A device never goes back: the keeper persists only a chain that ends at
 * the set trusted or after it (feed_chain_forward), and records the last
 * set trusted in pins.keyset, so a lost or damaged chain cannot return it
 * to the configured set (feed_keyset_behind).
 *
 * Must never: use a key or threshold from an update before the root
 * threshold of the set it follows has signed it, accept an update that
 * skips a version, count one key twice towards a threshold, or call a set
 * older than the floor, or a branch beside it, current.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/list.h"
#include "base/mem.h"
#include "pins/feed_keys.h"

#define KEYS(f)		offsetof(struct feed_keyset, f)

bool
feed_role_keys_value(struct ini *in, const char *v, void *field, const char **why)
{
	struct feed_role	*r = field;
	char			 item[128];
	enum list_item		 li;
	uint8_t			 key[FEED_KEY_LEN];

	(void)in;
	while ((li = list_next(&v, item, sizeof(item))) != LIST_END) {
		if (li == LIST_TOO_LONG || !feed_key_parse(item, key)) {
			*why = "not an ed25519:BASE64 public key (as written "
			    "by pinshim feed keygen)";
			return false;
		}
		if (r->n == FEED_KEYS_MAX) {
			*why = "more than 8 keys";
			return false;
		}
		memcpy(r->keys[r->n++], key, FEED_KEY_LEN);
	}
	return true;
}

static const struct ini_key keyset_keys[] = {
	INI_UINT("version", KEYS(version), 0, 2, 4294967295UL,
	    "whole number"),
	INI_KEY("root", feed_role_keys_value, KEYS(root), INI_LIST),
	INI_UINT("root_threshold", KEYS(root.threshold), 0, 1, FEED_KEYS_MAX,
	    "whole number"),
	INI_KEY("sign", feed_role_keys_value, KEYS(sign), INI_LIST),
	INI_UINT("sign_threshold", KEYS(sign.threshold), 0, 1, FEED_KEYS_MAX,
	    "whole number"),
};
/* No defaults: an update says every threshold it sets. */
static const char *const keyset_required[] = { "version", "root",
    "root_threshold", "sign", "sign_threshold", NULL };

static bool
role_has(const struct feed_role *r, const uint8_t key[FEED_KEY_LEN])
{
	size_t	 i;

	for (i = 0; i < r->n; i++)
		if (memcmp(r->keys[i], key, FEED_KEY_LEN) == 0)
			return true;
	return false;
}

bool
feed_roles_share_a_key(const struct feed_role *a, const struct feed_role *b)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (role_has(b, a->keys[i]))
			return true;
	return false;
}

static const char *
role_check(const struct feed_role *r, const char *name)
{
	static char	 why[96];
	size_t		 i, j;

	if (r->n == 0 || r->threshold < 1 || r->threshold > r->n) {
		snprintf(why, sizeof(why), "%s_threshold: %lu, but the %s role "
		    "has %zu key(s)", name, r->threshold, name, r->n);
		return why;
	}
	for (i = 0; i < r->n; i++)
		for (j = i + 1; j < r->n; j++)
			if (memcmp(r->keys[i], r->keys[j], FEED_KEY_LEN) == 0) {
				snprintf(why, sizeof(why), "%s: a key is "
				    "listed twice", name);
				return why;
			}
	return NULL;
}

const char *
feed_keyset_check(const struct feed_keyset *ks)
{
	const struct feed_role	*roles[2] = { &ks->root, &ks->sign };
	uint8_t			 a[FEED_KEYID_LEN], b[FEED_KEYID_LEN];
	const char		*why;
	size_t			 r, s, i, j;

	if ((why = role_check(&ks->root, "root")) != NULL ||
	    (why = role_check(&ks->sign, "sign")) != NULL)
		return why;
	/* a signature names its key by id: two keys, one id, is refused */
	for (r = 0; r < 2; r++)
		for (i = 0; i < roles[r]->n; i++)
			for (s = 0; s < 2; s++)
				for (j = 0; j < roles[s]->n; j++) {
					if (memcmp(roles[r]->keys[i],
					    roles[s]->keys[j], FEED_KEY_LEN) ==
					    0)
						continue;
					feed_keyid(roles[r]->keys[i], a);
					feed_keyid(roles[s]->keys[j], b);
					if (memcmp(a, b, sizeof(a)) == 0)
						return "two keys share one key "
						    "id";
				}
	return NULL;
}

static bool
role_same(const struct feed_role *a, const struct feed_role *b)
{
	return a->n == b->n && a->threshold == b->threshold &&
	    memcmp(a->keys, b->keys, a->n * FEED_KEY_LEN) == 0;
}

bool
feed_keyset_same(const struct feed_keyset *a, const struct feed_keyset *b)
{
	return a->version == b->version && role_same(&a->root, &b->root) &&
	    role_same(&a->sign, &b->sign);
}

bool
feed_keyset_behind(const struct feed_keyset *ks,
    const struct feed_keyset *floor)
{
	return ks->version < floor->version || (ks->version ==
	    floor->version && !feed_keyset_same(ks, floor));
}

struct keyset_loader {
	struct feed_keyset	*ks;
	bool			 seen;
};

static void *
keyset_open(struct ini *in, void *ctx, const char *arg)
{
	struct keyset_loader	*kl = ctx;

	(void)in;
	(void)arg;
	kl->seen = true;
	return kl->ks;
}

static void
keyset_close(struct ini *in, void *ctx, void *obj)
{
	const char	*why;

	(void)ctx;
	if (in->errors == 0 && (why = feed_keyset_check(obj)) != NULL)
		ini_error(in, in->section_line, "[keys]: %s", why);
}

bool
feed_keyset_parse(const char *name, const char *body, size_t len,
    struct feed_keyset *ks, FILE *errs)
{
	struct keyset_loader	 kl = { ks, false };
	struct ini		 in;
	FILE			*f;
	int			 errors;
	const struct ini_section secs[] = {
		{ .name = "keys", .keys = keyset_keys,
		  .nkeys = nitems(keyset_keys), .required = keyset_required,
		  .open = keyset_open, .close = keyset_close, .ctx = &kl },
	};

	memset(ks, 0, sizeof(*ks));
	if (len == 0 || memchr(body, '\0', len) != NULL) {
		fprintf(errs, "%s: not a [keys] text\n", name);
		return false;
	}
	if ((f = fmemopen((void *)(uintptr_t)body, len, "r")) == NULL) {
		fprintf(errs, "%s: cannot read\n", name);
		return false;
	}
	errors = ini_load(&in, name, f, errs, secs, nitems(secs),
	    "unknown section in a key-set update (want [keys]; only the last "
	    "block of a file is a feed)");
	fclose(f);
	if (errors == 0 && !kl.seen) {
		fprintf(errs, "%s:1: [keys]: missing\n", name);
		errors = 1;
	}
	return errors == 0;
}

static void
role_format(FILE *f, const char *name, const struct feed_role *r)
{
	char	 k[64];
	size_t	 i;

	fprintf(f, "%s = ", name);
	for (i = 0; i < r->n; i++) {
		feed_key_format(r->keys[i], k, sizeof(k));
		fprintf(f, "%s%s", i ? ",\n    " : "", k);
	}
	fprintf(f, "\n%s_threshold = %lu\n", name, r->threshold);
}

char *
feed_keyset_format(const struct feed_keyset *ks, size_t *len)
{
	char	*out = NULL;
	FILE	*f = xptr(open_memstream(&out, len));

	fprintf(f, "[keys]\nversion = %lu\n", ks->version);
	role_format(f, "root", &ks->root);
	role_format(f, "sign", &ks->sign);
	fclose(f);
	return out;
}

int
feed_keyset_load(const char *dir, struct feed_keyset *ks, FILE *errs)
{
	char	 path[4096], *buf;
	size_t	 len;
	bool	 ok;

	snprintf(path, sizeof(path), "%s/%s", dir, FEED_KEYSET);
	if ((buf = file_read(path, 64 * 1024, &len, NULL)) == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = feed_keyset_parse(path, buf, len, ks, errs);
	free(buf);
	return ok ? 1 : -1;
}

/* Which of keys[0..n) signed b: a bit each. */
static uint32_t
signed_mask(const uint8_t (*keys)[FEED_KEY_LEN], size_t n, const char *buf,
    const struct feed_block *b)
{
	uint32_t	 m = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (feed_block_signed_by(buf, b, keys[i]))
			m |= 1u << i;
	return m;
}

static void
who_add(char *who, size_t whosz, const uint8_t key[FEED_KEY_LEN])
{
	char	 id[FEED_KEYID_TEXT];
	size_t	 l = strlen(who);

	feed_keyid_text(key, id);
	if (strstr(who, id) == NULL)
		snprintf(who + l, whosz - l, "%s%s", l ? ", " : "", id);
}

size_t
feed_role_signers(const struct feed_role *r, const char *buf,
    const struct feed_block *b, char *who, size_t whosz)
{
	uint32_t	 m = signed_mask((const uint8_t (*)[FEED_KEY_LEN])
			    r->keys, r->n, buf, b);
	size_t		 i, n = 0;

	for (i = 0; i < r->n; i++)
		if (m & (1u << i)) {
			n++;
			if (who != NULL)
				who_add(who, whosz, r->keys[i]);
		}
	return n;
}

/* The feed block under ks: each distinct key verified once, even when it
 * holds both roles (a configured public_key does). */
static void
judge_feed(const struct feed_keyset *ks, const char *buf,
    const struct feed_block *b, struct feed_proof *p)
{
	uint8_t		 keys[2 * FEED_KEYS_MAX][FEED_KEY_LEN];
	uint32_t	 m;
	size_t		 n = 0, i, j;

	for (i = 0; i < ks->sign.n; i++)
		memcpy(keys[n++], ks->sign.keys[i], FEED_KEY_LEN);
	for (i = 0; i < ks->root.n; i++)
		if (!role_has(&ks->sign, ks->root.keys[i]))
			memcpy(keys[n++], ks->root.keys[i], FEED_KEY_LEN);
	m = signed_mask((const uint8_t (*)[FEED_KEY_LEN])keys, n, buf, b);
	p->sign_have = p->root_have = 0;
	p->signers[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!(m & (1u << i)))
			continue;
		who_add(p->signers, sizeof(p->signers), keys[i]);
		for (j = 0; j < ks->sign.n; j++)
			if (memcmp(ks->sign.keys[j], keys[i], FEED_KEY_LEN) ==
			    0)
				p->sign_have++;
		for (j = 0; j < ks->root.n; j++)
			if (memcmp(ks->root.keys[j], keys[i], FEED_KEY_LEN) ==
			    0)
				p->root_have++;
	}
	p->root_met = p->root_have >= ks->root.threshold;
}

/* One key-set update under cur; true when it applied or was history. */
static bool
step(const char *name, size_t k, const char *buf, const struct feed_block *b,
    struct feed_keyset *cur, struct feed_proof *p, FILE *errs)
{
	struct feed_keyset	 next;
	char			 label[600];
	size_t			 old, own;

	snprintf(label, sizeof(label), "%s (key-set update %zu)", name, k + 1);
	if (!feed_keyset_parse(label, buf + b->off, b->len, &next, errs))
		return false;
	p->end = next;
	if (next.version <= cur->version)
		return true;			/* history */
	if (next.version != cur->version + 1) {
		fprintf(errs, "%s: key set %lu follows key set %lu: the "
		    "update(s) in between are missing\n", label, next.version,
		    cur->version);
		return false;
	}
	old = feed_role_signers(&cur->root, buf, b, NULL, 0);
	own = feed_role_signers(&next.root, buf, b, NULL, 0);
	if (old < cur->root.threshold || own < next.root.threshold) {
		fprintf(errs, "%s: key set %lu refused: signed by %zu of the "
		    "%lu root key(s) of key set %lu and %zu of the %lu of its "
		    "own it needs\n", label, next.version, old,
		    cur->root.threshold, cur->version, own,
		    next.root.threshold);
		return false;
	}
	p->applied[p->nupdates].off = b->off;
	p->applied[p->nupdates].len = b->end - b->off;
	p->nupdates++;
	*cur = next;
	return true;
}

bool
feed_prove(const char *name, const char *buf, size_t len,
    const struct feed_keyset *trusted, bool feed, struct feed_proof *p,
    FILE *errs)
{
	struct feed_blocks	*bl = xcalloc(1, sizeof(*bl));
	const struct feed_block	*fb;
	const char		*why;
	size_t			 i, nupd;
	bool			 ok = false;

	memset(p, 0, sizeof(*p));
	p->keys = *trusted;
	if (!feed_split(buf, len, bl, &why)) {
		fprintf(errs, "%s: %s\n", name, why);
		goto out;
	}
	nupd = feed ? bl->n - 1 : bl->n;
	for (i = 0; i < nupd; i++)
		if (!step(name, i, buf, &bl->b[i], &p->keys, p, errs))
			goto out;
	p->sign_rotated = p->nupdates > 0 &&
	    !feed_roles_share_a_key(&p->keys.sign, &trusted->sign) &&
	    !feed_roles_share_a_key(&p->keys.sign, &trusted->root);
	if (!feed) {
		ok = true;
		goto out;
	}
	fb = &bl->b[bl->n - 1];
	judge_feed(&p->keys, buf, fb, p);
	if (p->sign_have < p->keys.sign.threshold) {
		if (p->sign_have == 0)
			fprintf(errs, "%s: bad signature: made by none of the "
			    "%zu signing key(s) of key set %lu, or the file "
			    "was altered\n", name, p->keys.sign.n,
			    p->keys.version);
		else
			fprintf(errs, "%s: bad signature: %zu of the %lu "
			    "signing-role signatures key set %lu needs\n", name,
			    p->sign_have, p->keys.sign.threshold,
			    p->keys.version);
		goto out;
	}
	p->body.off = fb->off;
	p->body.len = fb->len;
	ok = true;
out:
	free(bl);
	return ok;
}

bool
feed_chain_forward(const char *name, const char *buf, size_t len,
    const struct feed_keyset *trusted, struct feed_keyset *to, FILE *errs)
{
	struct feed_proof	*p = xcalloc(1, sizeof(*p));
	bool			 ok = false;

	if (!feed_prove(name, buf, len, trusted, false, p, errs))
		goto out;
	/* its last update must be the set it proves to: one before it (a
	 * chain older than the trusted set is all history), or another of
	 * the same version (a branch), would be a step back */
	if (p->end.version < p->keys.version)
		fprintf(errs, "%s: ends at key set %lu, before key set %lu, "
		    "trusted already: a key set never goes back\n", name,
		    p->end.version, p->keys.version);
	else if (!feed_keyset_same(&p->end, &p->keys))
		fprintf(errs, "%s: ends at another key set %lu than the one "
		    "trusted (a branch)\n", name, p->end.version);
	else {
		*to = p->keys;
		ok = true;
	}
out:
	free(p);
	return ok;
}

int
feed_chain_load(const char *dir, const struct feed_keyset *configured,
    struct feed_keyset *keys, char **chain, size_t *len, FILE *errs)
{
	struct feed_proof	*p;
	char			 path[4096], *buf;
	int			 rc = -1;

	*keys = *configured;
	*chain = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, FEED_KEYS);
	if ((buf = file_read(path, FEED_CHAIN_MAX, len, NULL)) == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	if (feed_prove(path, buf, *len, configured, false, p, errs)) {
		*keys = p->keys;
		*chain = buf;
		buf = NULL;
		rc = 1;
	} else
		*len = 0;
	free(p);
	free(buf);
	return rc;
}

struct feed_body *
feed_open(const char *name, const char *buf, size_t len,
    const struct feed_keyset *trusted, FILE *errs, struct feed_proof *p)
{
	struct feed_proof	 local;

	if (p == NULL)
		p = &local;
	if (!feed_prove(name, buf, len, trusted, true, p, errs))
		return NULL;
	/* Only now, with the bytes proven, is the body parsed. */
	return feed_body_parse(name, buf + p->body.off, p->body.len, errs);
}
