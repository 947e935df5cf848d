/*
 * tls_alpn.c - ALPN on pinshim's sessions (see tls_alpn.h). wolfSSL does
 * the negotiation; this only feeds it lists in the form it takes (one
 * comma-separated string) and reads its answer back.
 *
 * Must never: report a protocol the handshake did not select, or let an
 * app-facing session select one the upstream did not.
 */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "tls/tls_alpn.h"

bool
tls_alpn_offer(WOLFSSL *ssl, const char *list)
{
	char	*copy;
	bool	 ok;

	if (list == NULL || list[0] == '\0')
		return true;
	copy = xstrdup(list);		/* wolfSSL's prototype is not const */
	ok = wolfSSL_UseALPN(ssl, copy, (unsigned)strlen(copy),
	    WOLFSSL_ALPN_FAILED_ON_MISMATCH) == WOLFSSL_SUCCESS;
	free(copy);
	return ok;
}

void
tls_alpn_selected(WOLFSSL *ssl, char *buf, size_t sz)
{
	char		*name = NULL;
	unsigned short	 len = 0;

	buf[0] = '\0';
	if (wolfSSL_ALPN_GetProtocol(ssl, &name, &len) != WOLFSSL_SUCCESS ||
	    name == NULL || len == 0 || len >= sz)
		return;
	memcpy(buf, name, len);
	buf[len] = '\0';
}

bool
tls_alpn_answer(WOLFSSL *ssl, const char *proto)
{
	return tls_alpn_offer(ssl, proto);
}

size_t
tls_alpn_text(const uint8_t *list, size_t len, char *out, size_t sz)
{
	size_t	 i, n, w = 0, names = 0;

	if (sz == 0)
		return 0;
	for (i = 0; i < len; i += 1 + n) {
		n = list[i];
		if (i + 1 + n > len)
			break;				/* not well formed */
		if (n == 0 || memchr(list + i + 1, ',', n) != NULL ||
		    memchr(list + i + 1, '\0', n) != NULL)
			continue;			/* wolfSSL cannot say it */
		if (w + (w > 0) + n + 1 > sz)
			break;
		if (w > 0)
			out[w++] = ',';
		memcpy(out + w, list + i + 1, n);
		w += n;
		names++;
	}
	out[w] = '\0';
	return names;
}
