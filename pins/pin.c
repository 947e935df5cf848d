/*
 * pin.c - parse, print and compute sha256/ pins.
 *
 * The format is the HPKP/OkHttp/TrustKit one so pins from those tools work
 * unchanged. Parsing is strict (exact length, canonical base64): a pin that
 * could mean two things is a configuration error, never a guess.
 *
 * Must never: accept two spellings of one pin.
 */
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "pins/pin.h"

bool
pin_parse(const char *text, struct pin *out)
{
	const char	*b64;
	byte		 buf[PIN_HASH_LEN + 4];
	word32		 len = sizeof(buf);
	char		 again[PIN_TEXT_LEN + 1];
	size_t		 i;

	if (strncmp(text, PIN_PREFIX, strlen(PIN_PREFIX)) != 0)
		return false;
	b64 = text + strlen(PIN_PREFIX);
	if (strlen(b64) != PIN_B64_LEN || b64[PIN_B64_LEN - 1] != '=')
		return false;
	for (i = 0; i < PIN_B64_LEN - 1; i++) {
		char c = b64[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	if (Base64_Decode((const byte *)b64, PIN_B64_LEN, buf, &len) != 0 ||
	    len != PIN_HASH_LEN)
		return false;
	memcpy(out->hash, buf, PIN_HASH_LEN);
	/* Reject non-canonical spellings (stray low bits before the '='). */
	pin_format(out, again);
	return strcmp(again, text) == 0;
}

void
pin_format(const struct pin *p, char out[PIN_TEXT_LEN + 1])
{
	word32	 len = PIN_B64_LEN + 1;

	memcpy(out, PIN_PREFIX, strlen(PIN_PREFIX));
	if (Base64_Encode_NoNl(p->hash, PIN_HASH_LEN,
	    (byte *)out + strlen(PIN_PREFIX), &len) != 0 || len != PIN_B64_LEN)
		memset(out + strlen(PIN_PREFIX), '?', PIN_B64_LEN);
	out[PIN_TEXT_LEN] = '\0';
}

int
pin_of_spki(const uint8_t *der, size_t len, struct pin *out)
{
	if (der == NULL || len == 0 || len > UINT32_MAX)
		return -1;
	return wc_Sha256Hash(der, (word32)len, out->hash) == 0 ? 0 : -1;
}
