/*
 * keeper_answer.h - the keeper's request handling without the process
 * (keeper_answer.c): it runs in the keeper, with the CA key. Unit-tested
 * as it is (test_keeper.c).
 */
#ifndef PINSHIM_SHIM_KEEPER_ANSWER_H
#define PINSHIM_SHIM_KEEPER_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "shim/keeper/keeper_wire.h"

/* Minting: a burst of this many names, then this many a second: more
 * than apps can open connections to new names, far fewer than a
 * compromised worker would want certificates. */
#define KEEPER_MINT_BURST	128
#define KEEPER_MINT_RATE	16
/* Handshake signatures with the device identities, all together: a
 * burst of 32, then 8 a second. A gateway's mTLS connections are few and
 * long-lived (resumed ones need no signature); a compromised worker gets
 * a slow signing oracle for the handshakes it could make anyway, each
 * one in the keeper's log. */
#define KEEPER_SIGN_BURST	32
#define KEEPER_SIGN_RATE	8

struct conf;
struct keeper_state;

/* The state a keeper serves from: the CA key of conf->ca_dir, state_dir
 * for SAVE and TOFU, the device identities' keys for SIGN; nothing of
 * conf is kept. NULL with err. */
struct keeper_state *keeper_state_new(const struct conf *, char *err,
	    size_t errsz);
void	 keeper_state_free(struct keeper_state *);
/* Answer request m at time now (seconds, monotonic): the reply into out
 * (at most sz bytes); its length. */
size_t	 keeper_answer(struct keeper_state *, const struct keeper_msg *m,
	    double now, uint8_t *out, size_t sz);
/* The ERR for a request that did not parse (why), into out. */
size_t	 keeper_refuse(struct keeper_state *, const struct keeper_msg *m,
	    const char *why, uint8_t *out, size_t sz);
/* The longest request frame the keeper reads. */
size_t	 keeper_state_frame_max(const struct keeper_state *);

#endif
