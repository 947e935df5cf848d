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

/* Minting: [shim] mint_rate new names a second (default 1000), with a
 * burst of half a second's worth; the keeper read it at start, so a
 * worker cannot raise it. The worker paces itself at the same rate with a
 * smaller burst (keeper_client.c), so only a worker that does not keep
 * to it, or a backlog the keeper fell behind on, meets a refusal here,
 * and the worker waits that out.
 *
 * Why a rate is the bound, and enough: a leaf names one host (its one
 * SAN, no wildcard), is good for 7 days, serverAuth only, and chains to
 * the CA that only this device's apps trust, and its key is the
 * worker's. So a compromised worker, which already reads every byte it
 * relays for those apps, gains from a leaf only the power to pose as
 * that host to those apps on a path that does not go through pinshim,
 * for a week. A ceiling of names cannot stop that for the few hosts an
 * attacker would target (one a second is enough), and any ceiling a
 * gateway's traffic could reach would let one client that floods names
 * refuse everyone else's; what a rate can do, it does: the keeper
 * spends at most this many signatures a second of its CPU (about 10 %
 * of a core at the default), so it keeps answering state writes and
 * handshake signatures, and each leaf is one line of its log, the
 * audit trail of what a worker asked for. */
#define KEEPER_MINT_BURST(rate)	\
	((rate) / 2 > 0 ? (double)((rate) / 2) : 1)
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
