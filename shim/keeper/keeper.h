/*
 * keeper.h - privilege separation, as the worker sees it
 * (keeper_client.c): the keeper process, which alone holds the
 * interception CA key and writes state_dir, and the worker's side of the
 * channel to it.
 *
 * `pinshim run` with an interception CA or a state_dir forks the keeper
 * before it reads anything from the network or loads the key. The keeper
 * loads the CA key and answers requests on two socketpairs; the worker
 * (the event loop, which parses everything hostile) drops to [shim] user,
 * locks itself down (shim/proc/sandbox.c) and never has the key in its address
 * space. What runs in the keeper, with the key: keeper_proc.c,
 * keeper_answer.c, keeper_trust.c, keeper_wire.c and tls/tls_ca_key.c.
 * The worker never waits for an answer: it goes to a callback.
 */
#ifndef PINSHIM_SHIM_KEEPER_H
#define PINSHIM_SHIM_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "shim/keeper/keeper_wire.h"
#include "tls/tls.h"

#define KEEPER_MINTS_IN_FLIGHT	64	/* names asked for, not answered */
/* Names that wait for their turn to be asked for, at most: 2 s of the
 * default mint_rate. Fewer when the names ahead could not be signed at
 * mint_rate within the newcomer's handshake timeout: it is refused at
 * once rather than late. */
#define KEEPER_MINT_QUEUE_MAX	2048
/* A request unanswered this long (s) is reported (log, /status,
 * /metrics), then again every KEEPER_STALL_REPEAT; never a reason to stop
 * the traffic that does not need the keeper. */
#define KEEPER_STALL		5
#define KEEPER_STALL_REPEAT	60

struct conf;
struct server;
struct keeper;

/* Fork the keeper for conf (with an interception CA or a state_dir) and
 * wait until it is ready (holds the CA key, if any). The worker's end, or
 * NULL with err (the keeper said why, or died). Call before anything
 * reads the network. */
struct keeper *keeper_start(const struct conf *, char *err, size_t errsz);
/* From now on, requests go out on srv's loop, and the keeper's death
 * (EOF) ends that loop with an error. */
void	 keeper_watch(struct keeper *, struct server *srv);
bool	 keeper_gone(const struct keeper *);
pid_t	 keeper_pid(const struct keeper *);
uid_t	 keeper_uid(const struct keeper *);
/* Names that got no leaf: refused by the keeper (a bad name), the
 * queue full, or a connection whose handshake timeout passed waiting. */
unsigned long keeper_unminted(const struct keeper *);
/* The [feed] max_size the keeper started with: saves are bounded by it. */
size_t	 keeper_feed_max(const struct keeper *);
/* Before the loop runs (start) or after it stopped: send the saves and
 * TOFU entries queued and wait up to ms for their answers, which go to
 * their callbacks. Blocks: never call it from the loop. */
void	 keeper_flush(struct keeper *, int ms);
/* Close the channel, after what is queued was flushed (2 s at most): the
 * keeper exits on EOF and is reaped. Mints still waiting fail; answers to
 * other requests go to nobody (their owners are stopped first). */
void	 keeper_stop(struct keeper *);

/* A handshake signature with device identity ident (conf->idents'
 * index): a tls_sign_fn for arg = the keeper. The one request the worker
 * waits for (wolfSSL's PK callbacks cannot wait), at most this long. */
#define KEEPER_SIGN_WAIT_MS	1000
int	 keeper_sign(void *arg, unsigned ident, int scheme, int hash,
	    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);

/* A connection waiting for a leaf; embedded in it. */
struct keeper_wait {
	TAILQ_ENTRY(keeper_wait) entry;
	struct keeper_mint	*mint;		/* NULL: not waiting */
	/* reason NULL: the leaf is in the CA's cache; else a refusal's
	 * reason (mint-queue-full, mint-refused, mint-failed, keeper-gone)
	 * and why, in words */
	void			(*done)(struct keeper_wait *,
				    const char *reason, const char *why);
};

/* Ask for a leaf of that kind for name (canonical); w->done runs once it
 * is in ca's cache, or with why there is none: the keeper refused it,
 * or it cannot be asked (at once: the queue is full for a wait of
 * wait_s, the keeper is gone). Requests for the same name and kind share
 * one mint. Over KEEPER_MINTS_IN_FLIGHT, or over the worker's pace of
 * mint_rate, a name waits in the queue (a wait, counted); the caller
 * bounds the wait (keeper_mint_expired). */
void	 keeper_mint(struct keeper *, struct tls_ca *, const char *name,
	    enum tls_leaf, unsigned wait_s, struct keeper_wait *w);
/* w no longer waits (its connection is closing). */
void	 keeper_mint_cancel(struct keeper_wait *w);
/* w waited its whole handshake timeout: no longer waits, counted as a
 * name that got no leaf. */
void	 keeper_mint_expired(struct keeper_wait *w);

/* The keeper's answer to a request: err 0 with the OK's body, or an errno
 * (the keeper's refusal with its text in why, or EPIPE: the keeper is
 * gone). req is what was asked, without its bytes. */
struct keeper_answer {
	const struct keeper_msg	*req;
	int			 err;
	const char		*why;		/* "" when err is 0 */
	const uint8_t		*data;
	size_t			 len;
};
typedef void	(*keeper_done)(void *arg, const struct keeper_answer *);

/* Write state_dir/file through the keeper, never waiting: done(arg) runs
 * with its answer. 0; -1 with errno when it could not be asked (EPIPE:
 * the keeper is gone), and done never runs. */
int	 keeper_save(struct keeper *, enum keeper_file, const void *buf,
	    size_t len, keeper_done done, void *arg);
/* Answers to requests made with arg go to nobody from now on (arg is
 * being freed). */
void	 keeper_forget(struct keeper *, void *arg);

/* How the keeper keeps up: requests sent and not answered yet, how long
 * the oldest has waited, and whether that was reported as a stall. */
struct keeper_stats {
	size_t	 pending;
	double	 waiting;		/* s; 0 when none */
	bool	 stalled;
	size_t	 mint_queued;		/* names waiting to be asked for */
	unsigned long mint_waits;	/* names that waited, since start */
};
void	 keeper_stats(const struct keeper *, struct keeper_stats *);

/* A tofu_writer (pins/tofu.h) for arg = the server: the entry goes to the
 * keeper (TOFU_SENT), its answer to srv->tofu by tofu_written. */
struct tofu_entry;
int	 state_tofu(void *srv, const struct tofu_entry *,
	    const struct pin *replaces, const char **why);

/* state_dir/file written through the keeper (under run, every
 * configuration that writes state_dir has one): keeper_save's contract. */
int	 state_save(struct server *, enum keeper_file, const void *buf,
	    size_t len, keeper_done done, void *arg);
/* keeper_forget, when there is a keeper. */
void	 state_forget(struct server *, void *arg);

#endif
