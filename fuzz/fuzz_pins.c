/*
 * fuzz_pins.c - pin lists: whatever parses formats back to a pin that
 * parses to the same hash (no two spellings of one pin).
 */
#include "fuzz/fuzz.h"
#include "pins/pin.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pinset	 set = { 0, NULL };
	char		*s = fuzz_str(data, size), bad[128], text[PIN_TEXT_LEN + 1];
	struct pin	 p;
	size_t		 i;

	if (pinset_parse_list(&set, s, bad, sizeof(bad)))
		for (i = 0; i < set.n; i++) {
			pin_format(&set.pins[i], text);
			INVARIANT(pin_parse(text, &p));
			INVARIANT(memcmp(p.hash, set.pins[i].hash,
			    PIN_HASH_LEN) == 0);
			INVARIANT(strstr(s, text) != NULL);
		}
	pinset_free(&set);
	free(s);
	return 0;
}
