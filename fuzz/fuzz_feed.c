/*
 * fuzz_feed.c - the signed feed file: the block and signature-line split,
 * the proof under a fixed key set (must never accept: no key made these
 * bytes, as a feed nor as the chain the keeper would persist), the feed
 * rules (pins/feed_accept.c) on the same bytes, fetched and as the cache
 * (always rejected with a reason, trust unmoved, nothing left over), and
 * the key-set and body parsers on them as if they had been signed.
 */
#include "fuzz/fuzz.h"
#include "pins/feed_accept.h"

/* The feed rules never take unsigned bytes, and never move trust on a
 * rejection. */
static void
fuzz_accept(const uint8_t *data, size_t size,
    const struct feed_keyset *ks, bool cached)
{
	struct feed_trust	 t;
	struct feed_device	 d;
	struct feed_decision	 out;
	struct snapshot		*base = snapshot_new(POLICY_BLOCK);

	memset(&t, 0, sizeof(t));
	t.keys = *ks;
	t.floor = 3;
	t.in_force = true;
	t.version = 3;
	memset(&d, 0, sizeof(d));
	d.base = d.enforced = base;
	d.now = d.sys = 1893456000;
	d.cached = cached;
	feed_accept("fuzz", (const char *)data, size, &t, &d, &out);
	INVARIANT(out.verdict == FEED_REJECTED && out.why[0] != '\0' &&
	    out.snap == NULL && out.body == NULL &&
	    out.next.floor == t.floor && out.next.version == t.version &&
	    feed_keyset_same(&out.next.keys, &t.keys));
	feed_accept_clear(&out);
	snapshot_unref(base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct feed_keyset	 ks = { .version = 1,
	    .root = { .keys = { { 1, 2, 3 } }, .n = 1, .threshold = 1 },
	    .sign = { .keys = { { 4, 5, 6 } }, .n = 1, .threshold = 1 } };
	static struct feed_blocks	 bl;
	struct feed_proof		 p;
	struct feed_keyset		 parsed, to;
	const char			*why;
	struct feed_body		*b;
	size_t				 i;
	FILE				*null = fopen("/dev/null", "w");

	if (feed_split((const char *)data, size, &bl, &why)) {
		INVARIANT(bl.n >= 1 && bl.n <= FEED_BLOCKS_MAX);
		for (i = 0; i < bl.n; i++)
			INVARIANT(bl.b[i].len > 0 && bl.b[i].nsigs >= 1 &&
			    bl.b[i].off + bl.b[i].len < bl.b[i].end &&
			    bl.b[i].end <= size);
		INVARIANT(bl.b[bl.n - 1].end == size);
		/* no key made these: nothing may be proven */
		INVARIANT(!feed_prove("fuzz", (const char *)data, size, &ks,
		    true, &p, null));
		INVARIANT(!feed_chain_forward("fuzz", (const char *)data, size,
		    &ks, &to, null));
	}
	fuzz_accept(data, size, &ks, false);
	fuzz_accept(data, size, &ks, true);
	if (feed_keyset_parse("fuzz", (const char *)data, size, &parsed,
	    null))
		INVARIANT(feed_keyset_check(&parsed) == NULL &&
		    parsed.version >= 2);
	if ((b = feed_body_parse("fuzz", (const char *)data, size, null))
	    != NULL) {
		INVARIANT(b->version >= 1 && b->expires > b->issued);
		feed_body_free(b);
	}
	fclose(null);
	return 0;
}
