/*
 * keeper.h - privilege separation: the keeper process, which alone holds
 * the interception CA key and writes state_dir, and the worker's side of
 * the channel to it.
 *
 * `pinshim run` with an interception CA or a state_dir forks the keeper
 * before it reads anything from the network or loads the key. The keeper loads the CA key
 * and answers requests on two socketpairs; the worker (the event loop,
 * which parses everything hostile) drops to [shim] user, locks itself
 * down (shim/sandbox.c) and never has the key in its address space.
 *
 * The wire format (keeper_wire.c), both directions, one frame per message:
 *   u32 length of what follows | u8 type | u32 id | body
 * Requests (worker to keeper):
 *   MINT  u8 n | name[n] | P-256 public key[65]      -> OK: leaf DER
 *   SAVE  u8 file | bytes                            -> OK
 *   TOFU  u8 n | host[n] | leaf[32] | u8 has_issuer | issuer[32] |
 *         u32 since_hi | u32 since_lo | u8 replaces | old leaf[32]
 *                                                    -> OK
 * Replies: OK (body as above), ERR (u8 errno | text), and READY (id 0)
 * once the keeper is up. Integers are big-endian. Mints go on one
 * socketpair, saves and TOFU writes on the other; each is answered in
 * order, and the worker never waits for an answer: it goes to a callback.
 */
#ifndef PINSHIM_SHIM_KEEPER_H
#define PINSHIM_SHIM_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "pins/feed_keys.h"
#include "pins/host.h"
#include "pins/pin.h"
#include "tls/tls.h"

enum keeper_type {
	KEEPER_MINT = 1,
	KEEPER_SAVE = 2,
	KEEPER_TOFU = 3,
	KEEPER_OK = 0x80,
	KEEPER_ERR = 0x81,
	KEEPER_READY = 0x82,
};

/* The files in state_dir the keeper writes for the worker: no others
 * (with base/clock.h's CLOCK_FILE, pins/tofu.h's TOFU_FILE, and
 * pins/feed_keys.h's FEED_KEYS; its FEED_KEYSET the keeper writes on its
 * own account, never on request). */
#define FEED_CACHE	"pins.feed"
#define FEED_FLOOR	"pins.version"	/* survives a dropped feed */

enum keeper_file {
	KEEPER_FILE_FEED = 1,		/* pins.feed */
	KEEPER_FILE_FLOOR,		/* pins.version */
	KEEPER_FILE_KEYS,		/* pins.keys */
	KEEPER_FILE_CLOCK,		/* clock */
	KEEPER_FILE_N
};

#define KEEPER_HEAD		9	/* length, type, id */
#define KEEPER_TEXT_MAX		200	/* an ERR's text */
/* Minting: a burst of this many names, then this many a second: more
 * than apps can open connections to new names, far fewer than a
 * compromised worker would want certificates. */
#define KEEPER_MINT_BURST	128
#define KEEPER_MINT_RATE	16
#define KEEPER_MINTS_IN_FLIGHT	64	/* names the worker waits for */
/* A request unanswered this long (s) is reported (log, /status,
 * /metrics), then again every KEEPER_STALL_REPEAT; never a reason to stop
 * the traffic that does not need the keeper. */
#define KEEPER_STALL		5
#define KEEPER_STALL_REPEAT	60

/* One decoded frame; borrows the buffer it was parsed from. */
struct keeper_msg {
	enum keeper_type type;
	uint32_t	 id;
	/* MINT, TOFU: */
	char		 host[HOST_MAX + 1];
	const uint8_t	*pub;			/* MINT: 65 bytes */
	/* TOFU: */
	struct pin	 leaf, issuer;
	bool		 has_issuer;
	int64_t		 since;
	bool		 replaces;		/* a rotation of old, not a */
	struct pin	 old;			/* first use */
	/* SAVE: */
	enum keeper_file file;
	/* SAVE bytes, OK body, ERR text: */
	const uint8_t	*data;
	size_t		 len;
	int		 err;			/* ERR: an errno value */
};

/* The frame's length field: how many bytes follow it, or -1 when fewer
 * than 4 bytes are there yet. */
long	 keeper_frame_len(const uint8_t *buf, size_t len);
/* Decode type, id and body (the frame without its length field) into m.
 * 0, or -1 with *why naming what is wrong. Every field is bounded and a
 * request's host is a NUL-free string of at most 253 bytes; whether it is
 * a valid name is for the keeper to judge. */
int	 keeper_parse(const uint8_t *buf, size_t len, struct keeper_msg *m,
	    const char **why);
/* Encode m into buf (at most sz bytes); the frame's length, or 0 if it
 * does not fit. */
size_t	 keeper_encode(const struct keeper_msg *m, uint8_t *buf, size_t sz);
const char *keeper_file_name(enum keeper_file);

/* --- the keeper's request handling (keeper.c), without the process --- */

struct conf;
struct keeper_state;

/* The state a keeper serves from: the CA key of conf->ca_dir, state_dir
 * for SAVE and TOFU. NULL with err. */
struct keeper_state *keeper_state_new(const struct conf *, char *err,
	    size_t errsz);
void	 keeper_state_free(struct keeper_state *);
/* Answer request m at time now (seconds, monotonic): the reply into out
 * (at most sz bytes); its length. */
size_t	 keeper_answer(struct keeper_state *, const struct keeper_msg *m,
	    double now, uint8_t *out, size_t sz);

/* --- the worker's side (keeper.c) ------------------------------------- */

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
/* Names that got no leaf: refused by the keeper (its rate, a bad name)
 * or too many waiting. */
unsigned long keeper_unminted(const struct keeper *);
/* The [feed] max_size the keeper started with: saves are bounded by it. */
size_t	 keeper_feed_max(const struct keeper *);
/* Close the channel; the keeper exits on EOF and is reaped. Mints still
 * waiting fail; other requests are dropped unanswered (their owners are
 * stopped first). */
void	 keeper_stop(struct keeper *);

/* A connection waiting for a leaf; embedded in it. */
struct keeper_wait {
	TAILQ_ENTRY(keeper_wait) entry;
	struct keeper_mint	*mint;		/* NULL: not waiting */
	void			(*done)(struct keeper_wait *, bool ok);
};

/* Ask for a leaf for name (canonical); w->done runs once it is in ca's
 * cache (ok) or the keeper refused it (or at once, when it cannot be
 * asked). Requests for the same name share one mint. */
void	 keeper_mint(struct keeper *, struct tls_ca *, const char *name,
	    struct keeper_wait *w);
/* w no longer waits (its connection is closing). */
void	 keeper_mint_cancel(struct keeper_wait *w);

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
/* Remove what interrupted writes of the keeper's files left in dir; how
 * many. */
int	 state_clean_temps(const char *dir);

#endif
