/*
 * keeper_trust.c - the keeper's own view of trust (keeper_trust.h): the
 * worker may ask for pins.keys and pins.feed to be written, but what is
 * written must not roll trust back, so the keeper judges it with the same
 * code the device trusts at start: the chain with pins/feed_keys.c, a feed
 * with pins/feed_accept.c, the device's own rules.
 *
 * The key set: the configured one moved on by pins.keys, never behind
 * pins.keyset, the last set trusted, which this file alone writes, and
 * only raises. A chain is written only when it proves under the trusted
 * set and ends at it or after it; pins.keyset goes first, so a crash in
 * between leaves a floor the chain on disk has not reached, which the
 * device then trusts (feedsync keeps it). A feed is written only when the
 * trusted set (after the updates it carries) signed it, and its version is
 * not below the highest the device accepted (the version floor) unless it
 * proves the signing role was replaced: feed_accept() decides, as it does
 * for the device's cache at start; its rules then decide, with the INI's the keeper started
 * with, which TOFU hosts may have their leaf replaced. pins.version, the
 * floor on disk, is only ever raised, but for that reset.
 *
 * Must never: write a chain that ends before the trusted set or beside it,
 * lower pins.keyset, write a feed the trusted set did not sign or one
 * older than the floor, lower pins.version but for a proven signing-role
 * replacement, or allow a TOFU swap for a host whose rule does not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "pins/feed_accept.h"
#include "pins/feed_keys.h"
#include "pins/policy.h"
#include "shim/keeper/keeper_trust.h"

struct keeper_trust {
	char			*dir;		/* owned: state_dir */
	struct feed_keyset	 keys;		/* trusted */
	unsigned long		 floor;		/* pins.keyset's version, or 0 */
	unsigned long		 configured;	/* the INI's keys_version */
	unsigned long long	 vfloor;	/* highest feed version the
						 * device accepted, or 0 */
	struct snapshot		*ini;		/* one ref owned; the INI's */
	struct snapshot		*snap;		/* one ref owned; with the
						 * feed's rules */
	char			*device_id;	/* owned, may be NULL */
	size_t			 feed_max;
};

/* What a check wrote to its FILE: the first line, into why. */
static void
first_line(char *text, char *why, size_t whysz)
{
	text[strcspn(text, "\n")] = '\0';
	snprintf(why, whysz, "%s", text);
}

/* pins.keyset := ks, if that raises it. Only a set updates led to: the
 * INI's own is no floor (a hand reconfiguration at the same keys_version
 * would then be overruled). 0, or -1 with errno. */
static int
floor_raise(struct keeper_trust *kt, const struct feed_keyset *ks)
{
	char	*text;
	size_t	 len;
	int	 rc;

	if (ks->version <= kt->floor || ks->version <= kt->configured)
		return 0;
	text = feed_keyset_format(ks, &len);
	if ((rc = file_replace(kt->dir, FEED_KEYSET, text, len)) == 0) {
		kt->floor = ks->version;
		log_info("keeper: key set %lu recorded in %s/%s: no older one "
		    "is trusted again", ks->version, kt->dir, FEED_KEYSET);
	}
	free(text);
	return rc;
}

/* The key set at start: the same rules as the device's (feedsync.c). */
static void
keys_load(struct keeper_trust *kt, const struct conf *c, FILE *errs)
{
	struct feed_keyset	 floor;
	char			*chain;
	size_t			 len;

	(void)feed_chain_load(kt->dir, &c->feed.keys, &kt->keys, &chain, &len,
	    errs);
	free(chain);
	if (feed_keyset_load(kt->dir, &floor, errs) != 1)
		return;
	kt->floor = floor.version;
	if (feed_keyset_behind(&kt->keys, &floor))
		kt->keys = floor;
}

/* The version floor as the device reads it at start: pins.version, or
 * none (a damaged one is the worker's to log). */
static void
vfloor_load(struct keeper_trust *kt)
{
	unsigned long long	 v;

	if (state_floor_load(kt->dir, &v) == 1)
		kt->vfloor = v;
}

/* The device's own rules (pins/feed_accept.c) over a file the worker
 * hands over, judged as the device judges its cache at start: proven
 * under the trusted set, and not below the version floor unless it
 * replaced the signing role. Expiry and weakening were the device's to
 * judge when it fetched the file; it would not be here otherwise. */
static void
judge(const struct keeper_trust *kt, const char *name, const char *buf,
    size_t len, struct feed_decision *d)
{
	struct feed_trust	 t;
	struct feed_device	 dev;

	memset(&t, 0, sizeof(t));
	t.keys = kt->keys;
	t.floor = kt->vfloor;
	memset(&dev, 0, sizeof(dev));
	dev.base = kt->ini;
	dev.device_id = kt->device_id;
	dev.now = (int64_t)clock_now();
	dev.sys = (int64_t)time(NULL);
	dev.cached = true;
	feed_accept(name, buf, len, &t, &dev, d);
}

/* What an accepted file moves: the rules TOFU swaps are judged by (the
 * INI's, with the feed's over them), and the floor. */
static void
take(struct keeper_trust *kt, struct feed_decision *d)
{
	snapshot_unref(kt->snap);
	kt->snap = d->snap;
	d->snap = NULL;
	kt->vfloor = d->next.floor;
}

/* The feed on disk, if the trusted set signed it: its rules, and its
 * version for the floor (a crash between it and pins.version left the
 * floor behind, or, after a signing-role replacement, ahead). */
static void
feed_load(struct keeper_trust *kt)
{
	struct feed_decision	 d;
	char			 path[4096], *buf;
	size_t			 len;

	snprintf(path, sizeof(path), "%s/%s", kt->dir, FEED_CACHE);
	if ((buf = file_read(path, kt->feed_max, &len, NULL)) == NULL)
		return;
	judge(kt, path, buf, len, &d);
	if (d.verdict == FEED_ACCEPTED)
		take(kt, &d);
	feed_accept_clear(&d);
	free(buf);
}

struct keeper_trust *
keeper_trust_new(const struct conf *c)
{
	struct keeper_trust	*kt = xcalloc(1, sizeof(*kt));
	char			*text = NULL;
	size_t			 len;
	FILE			*errs = xptr(open_memstream(&text, &len));

	kt->dir = xstrdup(c->state_dir);
	kt->device_id = c->device_id != NULL ? xstrdup(c->device_id) : NULL;
	kt->feed_max = c->feed.max_size;
	kt->configured = c->feed.keys.version;
	kt->ini = c->snap != NULL ? snapshot_ref(c->snap) :
	    snapshot_new(POLICY_CA);
	kt->snap = snapshot_ref(kt->ini);
	/* what a damaged file says is the worker's to log, once */
	keys_load(kt, c, errs);
	if (c->feed.present && floor_raise(kt, &kt->keys) == -1)
		log_warn("keeper: cannot record key set %lu in %s/%s: %s",
		    kt->keys.version, kt->dir, FEED_KEYSET, strerror(errno));
	if (c->feed.present) {
		vfloor_load(kt);
		feed_load(kt);
	}
	fclose(errs);
	free(text);
	return kt;
}

void
keeper_trust_free(struct keeper_trust *kt)
{
	if (kt == NULL)
		return;
	snapshot_unref(kt->snap);
	snapshot_unref(kt->ini);
	free(kt->device_id);
	free(kt->dir);
	free(kt);
}

/* The chain: forward from the trusted set, recorded in pins.keyset before
 * pins.keys (after a crash in between, the device trusts the floor, not
 * the chain that was not written yet). */
static int
save_keys(struct keeper_trust *kt, const char *label, const char *text,
    size_t len, FILE *errs, char *why, size_t whysz)
{
	struct feed_keyset	 to;

	if (!feed_chain_forward(label, text, len, &kt->keys, &to, errs)) {
		errno = EINVAL;
		return -1;
	}
	if (floor_raise(kt, &to) == -1) {
		snprintf(why, whysz, "%s/%s: %s", kt->dir, FEED_KEYSET,
		    strerror(errno));
		return -1;
	}
	if (file_replace(kt->dir, FEED_KEYS, text, len) == -1) {
		snprintf(why, whysz, "%s/%s: %s", kt->dir, FEED_KEYS,
		    strerror(errno));
		return -1;
	}
	kt->keys = to;
	return 0;
}

/* The feed: what the device's rules accept (judge); its rules then judge
 * swaps. */
static int
save_feed(struct keeper_trust *kt, const char *label, const char *text,
    size_t len, FILE *errs, char *why, size_t whysz)
{
	struct feed_decision	 d;

	(void)errs;
	judge(kt, label, text, len, &d);
	if (d.verdict != FEED_ACCEPTED) {
		snprintf(why, whysz, "%s", d.why);
		feed_accept_clear(&d);
		errno = EINVAL;
		return -1;
	}
	if (file_replace(kt->dir, FEED_CACHE, text, len) == -1) {
		snprintf(why, whysz, "%s/%s: %s", kt->dir, FEED_CACHE,
		    strerror(errno));
		feed_accept_clear(&d);
		return -1;
	}
	take(kt, &d);
	feed_accept_clear(&d);
	return 0;
}

bool
keeper_trust_floor_ok(struct keeper_trust *kt, unsigned long long v,
    char *why, size_t whysz)
{
	if (v < kt->vfloor) {
		snprintf(why, whysz, "version %llu is below %llu, the highest "
		    "the device accepted (only a feed that replaced the "
		    "signing role lowers it, and it is written first)", v,
		    kt->vfloor);
		return false;
	}
	kt->vfloor = v;
	return true;
}

int
keeper_trust_save(struct keeper_trust *kt, enum keeper_file f,
    const uint8_t *buf, size_t len, char *why, size_t whysz)
{
	char	 label[64], *errt = NULL;
	size_t	 errlen;
	FILE	*errs = xptr(open_memstream(&errt, &errlen));
	int	 rc, saved;

	snprintf(label, sizeof(label), "save %s", keeper_file_name(f));
	*why = '\0';
	rc = (f == KEEPER_FILE_KEYS ? save_keys : save_feed)(kt, label,
	    (const char *)buf, len, errs, why, whysz);
	saved = errno;
	fclose(errs);
	if (rc == -1 && *why == '\0')	/* refused: what the check said */
		first_line(errt, why, whysz);
	free(errt);
	errno = saved;
	return rc;
}

bool
keeper_trust_swap_ok(const struct keeper_trust *kt, const char *host,
    const struct pin *leaf, char *why, size_t whysz)
{
	struct verdict_policy	 vp;

	snapshot_resolve(kt->snap, host, (int64_t)clock_now(), &vp);
	if (vp.policy != POLICY_TOFU || vp.rule == NULL) {
		snprintf(why, whysz, "no tofu rule covers it (policy %s)",
		    policy_name(vp.policy));
		return false;
	}
	if (vp.rule->accept_issuer || pinset_contains(&vp.rule->observed,
	    leaf))
		return true;
	snprintf(why, whysz, "its rule (%s) has no tofu_accept_issuer, nor "
	    "the new leaf in observed", vp.rule->origin != NULL ?
	    vp.rule->origin : vp.rule->pattern);
	return false;
}
