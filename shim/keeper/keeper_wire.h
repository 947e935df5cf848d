/*
 * keeper_wire.h - the keeper channel's format, both directions, one frame
 * per message (keeper_wire.c; the processes either side: keeper.h):
 *   u32 length of what follows | u8 type | u32 id | body
 * Requests (worker to keeper):
 *   MINT  u8 n | name[n] | u8 kind | public key      -> OK: leaf DER
 *         (kind 1: P-256 point[65]; kind 2: RSA-2048 SubjectPublicKeyInfo,
 *         the rest of the frame, at most 320 bytes: enum tls_leaf)
 *   SAVE  u8 file | bytes                            -> OK
 *   TOFU  u8 n | host[n] | leaf[32] | u8 has_issuer | issuer[32] |
 *         u32 since_hi | u32 since_lo | u8 replaces | old leaf[32]
 *                                                    -> OK
 *   SIGN  u16 identity | u8 scheme | u8 hash | bytes (1..TLS_SIGN_IN_MAX)
 *                                                    -> OK: signature
 * Replies: OK (body as above), ERR (u8 errno | text), and READY (id 0)
 * once the keeper is up. Integers are big-endian. Mints go on one
 * socketpair, saves and TOFU writes on a second, handshake signatures on
 * a third (the worker waits for those); each is answered in order.
 */
#ifndef PINSHIM_SHIM_KEEPER_WIRE_H
#define PINSHIM_SHIM_KEEPER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pins/feed_keys.h"
#include "pins/host.h"
#include "pins/pin.h"
#include "tls/tls.h"

enum keeper_type {
	KEEPER_MINT = 1,
	KEEPER_SAVE = 2,
	KEEPER_TOFU = 3,
	KEEPER_SIGN = 4,
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

/* One decoded frame; borrows the buffer it was parsed from. */
struct keeper_msg {
	enum keeper_type type;
	uint32_t	 id;
	/* MINT, TOFU: */
	char		 host[HOST_MAX + 1];
	const uint8_t	*pub;			/* MINT: publen bytes */
	size_t		 publen;
	enum tls_leaf	 leaf_kind;		/* MINT: which key */
	/* TOFU: */
	struct pin	 leaf, issuer;
	bool		 has_issuer;
	int64_t		 since;
	bool		 replaces;		/* a rotation of old, not a */
	struct pin	 old;			/* first use */
	/* SAVE: */
	enum keeper_file file;
	/* SIGN (the bytes in data, len): */
	unsigned	 ident;			/* conf->idents' index */
	unsigned	 scheme, hash;		/* tls.h's tls_sign_scheme */
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
/* Remove what interrupted writes of the keeper's files left in dir (the
 * keeper at start, or the worker that writes them itself when no keeper
 * runs); how many. */
int	 state_clean_temps(const char *dir);
/* dir/pins.version, the version floor, into *v: 1; 0 when there is none;
 * -1 with errno when it cannot be read, EINVAL when it is not one line
 * holding a version number. */
int	 state_floor_load(const char *dir, unsigned long long *v);

#endif
