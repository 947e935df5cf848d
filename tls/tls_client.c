/*
 * tls_client.c - wolfSSL client contexts and sessions for upstream TLS.
 *
 * Every session: TLS 1.2 or newer, SNI always sent for names, the peer
 * chain verified against ca_file, the name checked. The verify callback only
 * records what wolfSSL found (and, for pin-only, waives the one error that
 * policy exists to waive: no trusted issuer); the verdict itself is made
 * afterwards in tls_verify.c, before any application byte moves.
 *
 * Must never: allow TLS below 1.2 or a suite without forward secrecy, or
 * let the verify callback turn an error into a pass (but for pin-only's one
 * waiver).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfio.h>

#include <wolfssl/wolfcrypt/asn_public.h>

#include "base/clock.h"
#include "pins/host.h"
#include "base/mem.h"
#include "tls/tls.h"

/* wolfSSL's certificate dates (the handshake's, the pin check's, a
 * minted leaf's) follow the latest known time, not a clock set back. */
static time_t
wolf_time(time_t *t)
{
	time_t	 now = clock_now();

	if (t != NULL)
		*t = now;
	return now;
}

int
tls_init(void)
{
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		return -1;
	wc_SetTimeCb(wolf_time);
	return 0;
}

static bool	early_verdict(struct tls_check *);

static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_check	*chk = store->userCtx;
	int			 err = wolfSSL_X509_STORE_CTX_get_error(store);

	if (chk == NULL)
		return preverify;
	/* Called for every certificate, passed or not (the build defines
	 * WOLFSSL_ALWAYS_VERIFY_CB): the first call takes the chain this
	 * handshake presented, the only one the verdict may judge. */
	if (chk->chain == NULL)
		chk->chain = tls_chain_new(store->certs, store->totalCerts);
	if (!preverify && chk->policy == POLICY_PIN_ONLY &&
	    tls_trust_error(err)) {
		chk->trust_waived = true;
		preverify = 1;
	}
	if (!preverify && chk->err == 0) {
		chk->err = err;
		chk->err_depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
	}
	if (!preverify && !chk->observe)
		return 0;
	/* The leaf comes last: with a device identity, the whole verdict
	 * now, before the client's Certificate (TLS 1.2: after
	 * ServerHelloDone; 1.3: after the server's Finished) can go out. */
	if (chk->ident && chk->early == NULL &&
	    wolfSSL_X509_STORE_CTX_get_error_depth(store) == 0)
		return early_verdict(chk) ? preverify : 0;
	return preverify ? preverify : (chk->observe ? 1 : 0);
}

/* The identity goes only to a server whose chain passes outright (enforce
 * = no does not extend to it). false: the verdict, a refusal, is kept in
 * chk->early and the handshake ends here. */
static bool
early_verdict(struct tls_check *chk)
{
	struct tls_verdict	 v;

	if (chk->err != 0)
		return false;		/* the error decides, as ever */
	if (chk->client == NULL) {	/* nothing to judge with: no identity */
		memset(&v, 0, sizeof(v));
		v.reason = TLS_BAD_CERT;
		snprintf(v.detail, sizeof(v.detail), "no verdict before the "
		    "device identity (internal error): not sent");
	} else
		tls_chain_verdict(chk->client, chk, &v);
	if (v.pass && chk->early_check != NULL)
		chk->early_check(chk, &v, chk->early_arg);
	if (v.pass && !v.would_refuse) {
		chk->judged = true;
		return true;
	}
	if (v.would_refuse) {
		v.pass = false;
		v.would_refuse = false;
	}
	chk->early = xreallocarray(NULL, 1, sizeof(v));
	*chk->early = v;
	return false;
}

/* The server asked for a client certificate and the session has none:
 * recorded (its refusal will say so); an empty Certificate is sent. */
static int
no_client_cert_cb(WOLFSSL *ssl, WOLFSSL_X509 **x509, WOLFSSL_EVP_PKEY **pkey)
{
	struct tls_check	*chk = wolfSSL_get_ex_data(ssl, TLS_EX_CHECK);

	(void)x509;
	(void)pkey;
	if (chk != NULL)
		chk->cert_requested = true;
	return 0;
}

struct tls_client *
tls_client_new(const char *ca_file, char *err, size_t errsz)
{
	struct tls_client	*c = xcalloc(1, sizeof(*c));

	c->refs = 1;
	c->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (c->ctx == NULL) {
		snprintf(err, errsz, "wolfSSL_CTX_new failed");
		goto bad;
	}
	if (wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errsz, "cannot require TLS 1.2");
		goto bad;
	}
	/* Debian's wolfSSL offers anonymous, NULL and PSK suites by default:
	 * never let an upstream pick one. AEAD with forward secrecy only. */
	if (wolfSSL_CTX_set_cipher_list(c->ctx, TLS_CIPHERS) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errsz, "cannot set the cipher list");
		goto bad;
	}
	/* X25519 first: the cheapest key exchange, and the key share sent
	 * in the ClientHello, so a server that has it needs no retry. A
	 * wolfSSL without it keeps its default order. */
	{
		int	 groups[] = { WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1,
		    WOLFSSL_ECC_SECP384R1 };

		if (wolfSSL_CTX_set_groups(c->ctx, groups,
		    (int)nitems(groups)) != WOLFSSL_SUCCESS)
			(void)wolfSSL_CTX_set_groups(c->ctx, groups + 1,
			    (int)nitems(groups) - 1);
	}
	/* The bundle is read and decoded once, into the anchors the pin
	 * check walks; wolfSSL's store gets their DER from there. */
	if (stat(ca_file, &c->file) == -1) {
		snprintf(err, errsz, "%s: %s", ca_file, strerror(errno));
		goto bad;
	}
	if ((c->anchors = tls_anchors_load(ca_file, err, errsz)) == NULL)
		goto bad;
	if (tls_anchors_trust(c->anchors, c->ctx) == 0) {
		snprintf(err, errsz, "%s: cannot load CA certificates",
		    ca_file);
		goto bad;
	}
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, verify_cb);
	wolfSSL_CTX_set_client_cert_cb(c->ctx, no_client_cert_cb);
	tls_ident_attach(c->ctx);
	c->pairs = tls_pairs_new();
	c->resume = tls_resume_new(TLS_RESUME_MAX);
	tls_resume_attach(c);
	return c;
bad:
	tls_client_free(c);
	return NULL;
}

bool
tls_client_same_file(const struct tls_client *c, const char *ca_file)
{
	struct stat	 st;

	return stat(ca_file, &st) == 0 && st.st_dev == c->file.st_dev &&
	    st.st_ino == c->file.st_ino && st.st_size == c->file.st_size &&
	    st.st_mtim.tv_sec == c->file.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->file.st_mtim.tv_nsec;
}

struct tls_client *
tls_client_ref(struct tls_client *c)
{
	c->refs++;
	return c;
}

void
tls_client_free(struct tls_client *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	tls_anchors_free(c->anchors);
	tls_resume_free(c->resume);
	tls_pairs_free(c->pairs);
	if (c->ctx != NULL) {
		/* Relayed sessions keep the context alive: a ticket they get
		 * later must not find this client. */
		tls_resume_detach(c);
		wolfSSL_CTX_free(c->ctx);
	}
	free(c);
}

/* Read-ahead. wolfSSL asks its I/O for exactly what it needs next: a
 * record's 5-byte header, then its body, a recv() each. Asked for a
 * header, this reads what the socket has (up to a full record beyond it)
 * and serves the next requests from there: one syscall per record, the
 * cost one memcpy. The buffer exists only while it holds bytes, so an idle
 * connection keeps none. Bytes held here are invisible to epoll: callers
 * ask tls_session_pending(). */
#define RA_SIZE		(16 * 1024 + 512)	/* a record and its header */

struct tls_io {
	int		 fd;		/* first: EmbedReceive's context */
	unsigned char	*buf;		/* owned while len > 0 */
	size_t		 off, len;
};

static int
io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls_io	*io = ctx;
	size_t		 n;
	int		 got;

	if (io->len == 0 && sz >= RA_SIZE / 2)
		return EmbedReceive(ssl, buf, sz, &io->fd);	/* a body */
	if (io->len == 0) {
		io->buf = xreallocarray(NULL, 1, RA_SIZE);
		if ((got = EmbedReceive(ssl, (char *)io->buf, RA_SIZE,
		    &io->fd)) <= 0) {
			free(io->buf);
			io->buf = NULL;
			return got;
		}
		io->off = 0;
		io->len = (size_t)got;
	}
	n = io->len < (size_t)sz ? io->len : (size_t)sz;
	memcpy(buf, io->buf + io->off, n);
	io->off += n;
	if ((io->len -= n) == 0) {
		free(io->buf);
		io->buf = NULL;
	}
	return (int)n;
}

void
tls_session_free(WOLFSSL *ssl)
{
	struct tls_io	*io;

	if (ssl == NULL)
		return;
	tls_resume_release(ssl);
	tls_session_identity_free(ssl);
	if ((io = wolfSSL_get_ex_data(ssl, TLS_EX_IO)) != NULL) {
		free(io->buf);
		free(io);
	}
	wolfSSL_free(ssl);
}

/* Reads through the read-ahead: a record's header and a small record
 * come in one recv (a body read is straight). Either side's session; it
 * is freed with tls_session_free. */
void
tls_session_readahead(WOLFSSL *ssl, int fd)
{
	struct tls_io	*io = wolfSSL_get_ex_data(ssl, TLS_EX_IO);

	if (io == NULL) {
		io = xcalloc(1, sizeof(*io));
		wolfSSL_set_ex_data(ssl, TLS_EX_IO, io);
	}
	io->fd = fd;
	wolfSSL_SSLSetIORecv(ssl, io_recv);
	wolfSSL_SetIOReadCtx(ssl, io);
}

bool
tls_session_pending(WOLFSSL *ssl)
{
	struct tls_io	*io = wolfSSL_get_ex_data(ssl, TLS_EX_IO);

	return wolfSSL_has_pending(ssl) || (io != NULL && io->len > 0);
}

WOLFSSL *
tls_session_new(struct tls_client *c, int fd, struct tls_check *chk)
{
	WOLFSSL		*ssl;

	if ((ssl = wolfSSL_new(c->ctx)) == NULL)
		return NULL;
	if (wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
		goto bad;
	tls_session_readahead(ssl, fd);
	wolfSSL_set_using_nonblock(ssl, 1);
	wolfSSL_SetCertCbCtx(ssl, chk);
	tls_resume_offer(c, ssl, chk);

	if (chk->host[0] != '\0' && !host_is_ip(chk->host)) {
		if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, chk->host,
		    (unsigned short)strlen(chk->host)) != WOLFSSL_SUCCESS)
			goto bad;
		if (wolfSSL_check_domain_name(ssl, chk->host) !=
		    WOLFSSL_SUCCESS)
			goto bad;
	}
	return ssl;
bad:
	tls_session_free(ssl);
	return NULL;
}
