/*
 * fuzz_http1.c - HTTP/1.x heads: the forward proxy's request head and the
 * response head of pinshim's own requests. The first input byte picks
 * which. Invariants: a head that parses lies inside the input, holds no
 * control byte but HTAB, and every field line of it splits cleanly; a
 * request's body length is found, or refused with a reason. The upstream
 * proxy's answer (second bit): its head lies inside the input and its
 * status line, as logged, holds no control byte and no quote.
 */
#include "fuzz/fuzz.h"
#include "shim/net/http1.h"
#include "shim/net/proxy.h"

static void
within(const struct cursor *c, const uint8_t *buf, size_t size)
{
	INVARIANT(c->left == 0 || (c->p >= buf && c->p + c->left <=
	    buf + size));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_head	 h;
	struct cursor		 f, name, value;
	const char		*why;
	size_t			 i;
	unsigned long		 body;
	bool			 coded;

	if (size == 0)
		return 0;
	if (data[0] & 2) {
		char	 line[256];
		size_t	 hl;
		int	 st;

		if (proxy_answer(data + 1, size - 1, &st, &hl, line,
		    sizeof(line), &why) == HTTP1_OK) {
			INVARIANT(hl <= size - 1 && st >= 100 && st <= 599);
			for (i = 0; line[i] != '\0'; i++)
				INVARIANT((unsigned char)line[i] >= 0x20 &&
				    line[i] != 0x7f && line[i] != '"');
		}
	}
	if ((data[0] & 1 ? http1_response(data + 1, size - 1, &h, &why) :
	    http1_request(data + 1, size - 1, &h, &why)) != HTTP1_OK)
		return 0;
	INVARIANT(h.len <= size - 1);
	within(&h.method, data + 1, size - 1);
	within(&h.target, data + 1, size - 1);
	within(&h.fields, data + 1, size - 1);
	f = h.fields;
	while (http1_field(&f, &name, &value, &why)) {
		INVARIANT(name.left > 0);
		for (i = 0; i < value.left; i++)
			INVARIANT(value.p[i] >= 0x20 || value.p[i] == '\t');
	}
	INVARIANT(why == NULL);		/* every field was well formed */
	if (!(data[0] & 1)) {
		if (http1_body_len(&h, &body, &coded, &why))
			INVARIANT(!coded && why == NULL);
		else
			INVARIANT(why != NULL);
	}
	return 0;
}
