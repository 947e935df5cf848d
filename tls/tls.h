/*
 * tls.h - pinshim's upstream TLS: one client context per configuration
 * (wolfSSL CTX plus the trust anchors), per-connection sessions, and the
 * pin verdict computed over the chain wolfSSL verified.
 */
#ifndef PINSHIM_TLS_H
#define PINSHIM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pins/pin.h"
#include "pins/policy.h"

#define TLS_CHAIN_MAX	10	/* certificates considered per chain */
#define TLS_PRESENTED_LEN (TLS_CHAIN_MAX * (PIN_TEXT_LEN + 1) + 1)
#define TLS_RESUME_MAX	256	/* origins with a cached session */

/* AEAD with forward secrecy only, both directions: Debian's wolfSSL would
 * otherwise offer anonymous, NULL and PSK suites too. */
#define TLS_CIPHERS \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:" \
	"TLS13-CHACHA20-POLY1305-SHA256:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* The app-facing side of a client_tls = compatible listener only: the
 * same, then TLS 1.2's CBC suites with ECDHE (forward secrecy kept) for
 * apps that know nothing newer. Never the upstream's. */
#define TLS_CIPHERS_COMPAT TLS_CIPHERS ":" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:" \
	"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" \
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"

struct tls_anchors;
struct tls_resume;

/* The DER certificates one server presented, leaf first, as wolfSSL's
 * verify callback saw them in this handshake. Immutable and shared once
 * made; for resumption it also names the origin it was verified for. */
struct tls_chain {
	int			 refs;
	int			 n;
	const unsigned char	*der[TLS_CHAIN_MAX];
	size_t			 len[TLS_CHAIN_MAX];
	/* each certificate's SHA-256: the chain's identity, and the keys of
	 * the verified-pairs cache */
	unsigned char		 hash[TLS_CHAIN_MAX][PIN_HASH_LEN];
	char			*key;		/* resumption origin, or NULL */
	unsigned		 gen;		/* the cache's generation */
};

struct tls_client {
	int			 refs;		/* sessions in flight hold one */
	WOLFSSL_CTX		*ctx;		/* owned */
	struct tls_anchors	*anchors;	/* owned */
	struct stat		 file;		/* ca_file as it was loaded */
	struct tls_resume	*resume;	/* owned; NULL: never resume */
	struct tls_pairs	*pairs;		/* owned; verified signatures */
};

struct tls_verdict;

/* The per-connection inputs and findings of verification. Owned by the
 * connection; wolfSSL sees it through the session's ex_data. Release what
 * it holds with tls_check_clear(). */
struct tls_check {
	enum policy		 policy;
	const struct pinset	*pins;		/* borrowed from the snapshot */
	char			 host[256];	/* name checked; "" for none */
	uint16_t		 port;		/* with host: the origin */
	bool			 resume;	/* offer and keep sessions */
	int			 err;		/* first verification error */
	int			 err_depth;
	bool			 trust_waived;	/* pin-only: CA check waived */
	bool			 observe_only;	/* a pin mismatch passes, as
						 * would_refuse */
	bool			 observe;	/* `pin --connect`: record
						 * errors, finish the handshake */
	/* owned: */
	struct tls_chain	*chain;		/* presented in this handshake */
	struct tls_chain	*offered;	/* recorded with the session
						 * offered for resumption */
	WOLFSSL_SESSION		*fresh;		/* issued before the verdict */
	/* A device identity (tls_ident.c): the session presents one, so its
	 * chain is judged in the verify callback, before the client's
	 * Certificate is sent; a chain that would not pass ends the
	 * handshake there, its verdict kept in early. */
	bool			 ident;
	struct tls_client	*client;	/* borrowed, with ident */
	/* the shim's part of that judgement (policy tofu): NULL, or it
	 * may turn v into a refusal */
	void			(*early_check)(struct tls_check *,
				    struct tls_verdict *v, void *arg);
	void			*early_arg;
	struct tls_verdict	*early;		/* owned; the refusal */
	bool			 judged;	/* it passed: the identity may
						 * sign */
	bool			 cert_requested; /* the server asked for a
						 * client certificate */
	bool			 ident_sent;	/* and the identity signed */
	unsigned		 tickets;	/* sessions issued so far */
};

enum tls_reason {
	TLS_OK = 0,
	TLS_PIN_MISMATCH,
	TLS_UNTRUSTED,
	TLS_EXPIRED,
	TLS_NOT_YET_VALID,
	TLS_NAME_MISMATCH,
	TLS_BAD_CERT,
	TLS_HANDSHAKE,
	TLS_NO_CERT,
	/* policy tofu, decided by the shim over the facts below */
	TLS_TOFU_CHANGED,
	TLS_TOFU_CONTRADICTED,
	TLS_TOFU_FULL,
	/* the server asked for a client certificate and refused the
	 * handshake (an alert), or the identity could not sign */
	TLS_CLIENT_REFUSED,
};

struct tls_verdict {
	bool		 pass;
	bool		 resumed;	/* judged over the recorded chain */
	enum tls_reason	 reason;
	char		 detail[256];
	int		 matched_depth;	/* which cert matched a pin; -1 none */
	bool		 would_refuse;	/* passed only as enforce = no */
	/* policy tofu, on a pass: the verified path's leaf and its issuer */
	struct pin	 tofu_leaf;
	bool		 tofu_has_issuer;
	struct pin	 tofu_issuer;
	char		 presented[TLS_PRESENTED_LEN];
	char		 anchor[PIN_TEXT_LEN + 1]; /* "" if none reached */
};

int		 tls_init(void);
struct tls_client *tls_client_new(const char *ca_file, char *err,
		    size_t errsz);
struct tls_client *tls_client_ref(struct tls_client *);
/* ca_file is still the file this client loaded (same inode, size and
 * mtime): a reload can keep the client instead of parsing it again. */
bool		 tls_client_same_file(const struct tls_client *,
		    const char *ca_file);
void		 tls_client_free(struct tls_client *);	/* drops a ref */

/* A non-blocking client session on fd with SNI and name check for host;
 * with chk->resume, a cached session for the origin is offered. chk must
 * outlive the handshake; free the session with tls_session_free(). */
WOLFSSL		*tls_session_new(struct tls_client *, int fd,
		    struct tls_check *chk);
void		 tls_session_free(WOLFSSL *);
void		 tls_session_readahead(WOLFSSL *, int fd);
/* Bytes the session holds that epoll cannot see: decrypted data not yet
 * read, or received bytes not yet decrypted. Ask before waiting. */
bool		 tls_session_pending(WOLFSSL *);
void		 tls_check_clear(struct tls_check *);

/* After wolfSSL_connect finished (hs_ret = its return, hs_err = the
 * wolfSSL_get_error code when it failed): the one verdict. A resumed
 * session is judged over the chain recorded at its full handshake. */
void		 tls_verdict(WOLFSSL *, struct tls_client *,
		    const struct tls_check *, int hs_ret, int hs_err,
		    struct tls_verdict *);
/* The server's refusal of a client that presented (or was asked for)
 * a certificate, after a handshake that completed (TLS 1.3 sends it
 * after the client's Finished): hs_err is wolfSSL's error on the first
 * read. */
void		 tls_verdict_client_refused(WOLFSSL *, const struct tls_check *,
		    int hs_err, struct tls_verdict *);

/* Device identities (tls_ident.c). The worker's half: the certificate
 * chain and its public key, never the private key. */
enum tls_sign_scheme {
	TLS_SIGN_ECDSA = 1,		/* in: a digest */
	TLS_SIGN_RSA_PKCS1 = 2,		/* in: a DigestInfo */
	TLS_SIGN_RSA_PSS = 3,		/* in: a digest; hash: wc_HashType */
};
#define TLS_SIGN_IN_MAX		96
#define TLS_SIGN_OUT_MAX	1024	/* RSA 8192 */
/* Sign in with identity n; 0 with the signature in out (*outlen: its
 * size in, the signature's out), or -1. */
typedef int	(*tls_sign_fn)(void *arg, unsigned n, int scheme, int hash,
		    const uint8_t *in, size_t inlen, uint8_t *out,
		    size_t *outlen);
struct tls_ident;
struct tls_ident *tls_ident_load(const char *cert_file, char *err,
		    size_t errsz);
void		 tls_ident_free(struct tls_ident *);
const char	*tls_ident_what(const struct tls_ident *); /* "RSA 2048" */
bool		 tls_ident_same_key(const struct tls_ident *,
		    const struct tls_ident *);
/* Present id as identity n on ssl (right after tls_session_new), its
 * signatures made by fn(arg); chk is the session's. 0, or -1. */
int		 tls_session_identity(WOLFSSL *ssl, const struct tls_ident *id,
		    unsigned n, tls_sign_fn fn, void *arg, struct tls_check *chk);
/* The attempt that owned chk is over (the session lives on). */
void		 tls_session_identity_done(WOLFSSL *);
/* The keeper's half: the private key, checked against the certificate;
 * an encrypted key is refused. */
struct tls_ident_key;
struct tls_ident_key *tls_ident_key_load(const char *cert_file,
		    const char *key_file, char *err, size_t errsz);
void		 tls_ident_key_free(struct tls_ident_key *);
const char	*tls_ident_key_what(const struct tls_ident_key *);
int		 tls_ident_key_sign(struct tls_ident_key *, int scheme,
		    int hash, const uint8_t *in, size_t inlen, uint8_t *out,
		    size_t *outlen, const char **why);

/* The verdict passed: from now on the session may be resumed (tickets
 * that arrive later are kept too), and chk no longer backs it. */
void		 tls_session_passed(struct tls_client *, WOLFSSL *,
		    struct tls_check *);
/* The verdict refused: if a cached session was offered, it goes, so the
 * next connection makes a full handshake and is judged over what the
 * server presents. */
void		 tls_session_refused(struct tls_client *,
		    const struct tls_check *);

/* Session resumption (tls_resume.c): a bounded cache of sessions per
 * origin (host, port, policy), each with the chain its full handshake
 * verified. */
struct tls_resume *tls_resume_new(size_t max);
void		 tls_resume_free(struct tls_resume *);
/* Drop every cached session (the pins changed). */
void		 tls_client_forget(struct tls_client *);

struct tls_chain *tls_chain_new(const WOLFSSL_BUFFER_INFO *, int n);
struct tls_chain *tls_chain_ref(struct tls_chain *);
void		 tls_chain_free(struct tls_chain *);

/* Verified signatures (issuer key over child), by the two certificates'
 * hashes: the pin check re-walks a path without re-verifying it. */
struct tls_pairs;
struct tls_pairs *tls_pairs_new(void);
void		 tls_pairs_free(struct tls_pairs *);
const char	*tls_reason_name(enum tls_reason);
bool		 tls_trust_error(int err);

/* "sha256/A,sha256/B" for a chain (unreadable ones: "?"). */
void		 tls_chain_pins(const struct tls_chain *, char *out, size_t sz);
/* Certificate i of a chain: its key's pin and its notAfter (seconds since
 * the epoch, 64-bit everywhere). false if it cannot be read. */
bool		 tls_chain_cert_info(const struct tls_chain *, int i,
		    struct pin *, int64_t *not_after);
/* Pins of a certificate (shared with `pinshim pin`). */
int		 tls_cert_pin(WOLFSSL_X509 *, struct pin *);
/* Subject as a one-line string into buf. */
void		 tls_cert_subject(WOLFSSL_X509 *, char *buf, size_t);

/* The local interception CA, in two halves: the keeper's holds the CA key
 * and signs (tls_ca_key.c), the worker's serves minted leaves (tls_ca.c). */
#define TLS_CA_PUB_LEN		65	/* P-256 point, X9.63 uncompressed */
#define TLS_CA_CERT_MAX		2048	/* a minted leaf's DER */
#define TLS_CA_LEAFKEY_MAX	256	/* a leaf's private key DER */
#define TLS_CA_RSA_BITS		2048
#define TLS_CA_RSA_PUB_MAX	320	/* its SubjectPublicKeyInfo DER */
#define TLS_CA_RSA_KEY_MAX	1400	/* its private key DER */
/* Which key a minted leaf carries: P-256 for every app that takes it,
 * RSA-2048 for one that offers no ECDSA (client_tls = compatible). */
enum tls_leaf {
	TLS_LEAF_ECDSA = 1,
	TLS_LEAF_RSA = 2,
};
struct tls_ca;
struct tls_ca_key;
int		 tls_ca_init(const char *dir, const char *cn, FILE *errs);
/* The keeper's: the CA key and certificate in dir. */
struct tls_ca_key *tls_ca_key_load(const char *dir, char *err,
		    size_t errsz);
void		 tls_ca_key_free(struct tls_ca_key *);
/* A leaf for name (a canonical host name or address literal, checked
 * here) over the public key pub of that kind (P-256: X9.63 point;
 * RSA-2048, e = 65537: SubjectPublicKeyInfo DER); every other field is
 * the keeper's choice. Its DER length into der, or -1 with *why. */
int		 tls_ca_key_sign(struct tls_ca_key *, const char *name,
		    enum tls_leaf, const uint8_t *pub, size_t publen,
		    uint8_t *der, size_t sz, const char **why);
/* The worker's: cache is how many minted leaves to keep. */
struct tls_ca	*tls_ca_new(size_t cache, char *err, size_t errsz);
void		 tls_ca_free(struct tls_ca *);
/* A new leaf key pair: the public half into pub, the private half as DER
 * into key; its length, or -1. */
int		 tls_ca_leaf_key(struct tls_ca *, uint8_t pub[TLS_CA_PUB_LEN],
		    uint8_t *key, size_t keysz);
/* Make the worker's one RSA leaf key (every RSA leaf carries it: an
 * RSA-2048 key pair costs tens of milliseconds, too slow for a mint on
 * the loop). Once, at start; 0 (also when it exists), or -1. */
int		 tls_ca_rsa_init(struct tls_ca *);
bool		 tls_ca_has_rsa(const struct tls_ca *);
/* Its public half as SubjectPublicKeyInfo DER: the length, or -1. */
int		 tls_ca_rsa_pub(const struct tls_ca *, uint8_t *pub,
		    size_t sz);
/* Keep the leaf the keeper signed for name over key's public half (an
 * RSA leaf: the RSA key's; key NULL). ECDSA and RSA leaves of one name
 * are kept apart. */
int		 tls_ca_leaf_put(struct tls_ca *, const char *name,
		    enum tls_leaf, const uint8_t *cert, size_t certlen,
		    const uint8_t *key, size_t keylen);
/* A server session on fd presenting the cached leaf of that kind for
 * name; NULL with *missing when there is none younger than a day (mint
 * one first). compat: the app may also take TLS_CIPHERS_COMPAT. */
WOLFSSL		*tls_ca_session(struct tls_ca *, int fd, const char *name,
		    enum tls_leaf, bool compat, bool *missing);
/* Its handshake is done: the session lets go of the leaf's key. */
void		 tls_ca_session_done(WOLFSSL *);
void		 tls_ca_stats(const struct tls_ca *, unsigned long *mints,
		    unsigned long *hits, size_t *cached);

/* Trust anchors, for path building. */
struct tls_anchors *tls_anchors_load(const char *file, char *err,
		    size_t errsz);
void		 tls_anchors_free(struct tls_anchors *);
/* Add every anchor to ctx's verify store; how many were taken. */
size_t		 tls_anchors_trust(const struct tls_anchors *, WOLFSSL_CTX *);
/* The anchors whose subject has this name hash (wolfSSL's
 * X509_subject_name_hash): how many, from index *first on. */
size_t		 tls_anchors_named(const struct tls_anchors *,
		    unsigned long name, size_t *first);
/* Anchor i, parsed on first use (NULL if it cannot be). */
WOLFSSL_X509	*tls_anchors_get(struct tls_anchors *, size_t i,
		    const struct pin **pin, const unsigned char **hash);

/* Inside tls/ only. */
#define TLS_EX_IO	2	/* ex_data slot: the session's read-ahead */
#define TLS_EX_CHECK	0	/* ex_data slot: the session's tls_check */
void		 tls_ident_attach(WOLFSSL_CTX *);	/* sign callbacks */
void		 tls_session_identity_free(WOLFSSL *);
/* The verdict over chk's chain as the verify callback has it. */
void		 tls_chain_verdict(struct tls_client *,
		    const struct tls_check *, struct tls_verdict *);
void		 tls_resume_release(WOLFSSL *);	/* before freeing it */
void		 tls_resume_attach(struct tls_client *);
void		 tls_resume_detach(struct tls_client *);
void		 tls_resume_offer(struct tls_client *, WOLFSSL *,
		    struct tls_check *);
bool		 tls_pairs_known(const struct tls_pairs *,
		    const unsigned char *child, const unsigned char *parent);
void		 tls_pairs_add(struct tls_pairs *, const unsigned char *child,
		    const unsigned char *parent);

#endif
