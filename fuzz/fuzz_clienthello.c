/*
 * fuzz_clienthello.c - the SNI and ALPN reader over peeked bytes: never
 * reads past them, a name it returns is a string that fits, and an ALPN
 * list it returns is well formed (non-empty names that fill it exactly).
 */
#include "fuzz/fuzz.h"
#include "shim/conn/clienthello.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_hello	 h;
	size_t		 i;

	if (clienthello_parse(data, size, &h) == CH_OK) {
		INVARIANT(memchr(h.sni, '\0', sizeof(h.sni)) != NULL);
		INVARIANT(h.alpn_len <= sizeof(h.alpn));
		for (i = 0; i < h.alpn_len; i += 1 + h.alpn[i])
			INVARIANT(h.alpn[i] != 0);
		INVARIANT(i == h.alpn_len);
	} else {
		INVARIANT(h.sni[0] == '\0' && h.alpn_len == 0);
	}
	return 0;
}
