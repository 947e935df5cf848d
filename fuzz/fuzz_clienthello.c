/*
 * fuzz_clienthello.c - the SNI reader over peeked bytes: never reads past
 * them, and a name it returns is a string that fits.
 */
#include "fuzz/fuzz.h"
#include "shim/conn/clienthello.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 sni[256];
	struct ch_offer	 offer;

	if (clienthello_sni(data, size, sni, sizeof(sni), &offer) == CH_OK)
		INVARIANT(memchr(sni, '\0', sizeof(sni)) != NULL);
	else
		INVARIANT(sni[0] == '\0');
	return 0;
}
