/*
 * fuzz_keeper.c - the keeper's request parser: one frame, as a worker
 * taken over could send it (length field included). Invariants: the
 * length field is honoured exactly; a frame that parses re-encodes to the
 * same bytes, and parses back to the same message; a request's host is a
 * NUL-free string of 1..253 bytes.
 */
#include "fuzz/fuzz.h"
#include "shim/keeper/keeper_wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keeper_msg	 m, again;
	const char		*why;
	uint8_t			*out;
	long			 len = keeper_frame_len(data, size);
	size_t			 n, hl;

	if (len < 0 || (size_t)len > size - 4)
		return 0;
	if (keeper_parse(data + 4, (size_t)len, &m, &why) == -1) {
		INVARIANT(why != NULL);
		return 0;
	}
	if (m.type == KEEPER_MINT || m.type == KEEPER_TOFU) {
		hl = strlen(m.host);
		INVARIANT(hl >= 1 && hl <= HOST_MAX);
	}
	if (m.type == KEEPER_SAVE)
		INVARIANT(keeper_file_name(m.file) != NULL);
	out = malloc((size_t)len + 4);
	n = keeper_encode(&m, out, (size_t)len + 4);
	INVARIANT(n == (size_t)len + 4);
	INVARIANT(memcmp(out, data, n) == 0);
	INVARIANT(keeper_parse(out + 4, n - 4, &again, &why) == 0);
	INVARIANT(again.type == m.type && again.id == m.id &&
	    again.len == m.len && strcmp(again.host, m.host) == 0 &&
	    again.leaf_kind == m.leaf_kind && again.publen == m.publen);
	free(out);
	return 0;
}
