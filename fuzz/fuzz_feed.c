/*
 * fuzz_feed.c - the signed feed file: the signature-line split, the
 * signature check (against a fixed key: must never accept), and the body
 * parser on the same bytes as if they had been signed.
 */
#include "fuzz/fuzz.h"
#include "pins/feed_file.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 key[1][FEED_KEY_LEN] = { { 1, 2, 3 } };
	uint8_t			 sig[FEED_SIG_LEN];
	size_t			 bodylen;
	const char		*why;
	struct feed_body	*b;
	FILE			*null = fopen("/dev/null", "w");

	if (feed_split((const char *)data, size, &bodylen, sig, &why)) {
		INVARIANT(bodylen < size);
		INVARIANT(feed_check_signature((const char *)data, bodylen,
		    sig, key, 1) == -1);
	}
	if ((b = feed_body_parse("fuzz", (const char *)data, size, null))
	    != NULL) {
		INVARIANT(b->version >= 1 && b->expires > b->issued);
		feed_body_free(b);
	}
	fclose(null);
	return 0;
}
