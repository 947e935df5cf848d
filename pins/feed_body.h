/*
 * feed_body.h - what a signed feed says, once its signature has been
 * checked (feed_file.h): version, issued, expires, report_url, per-device
 * overrides, and the host rules as a pin snapshot.
 */
#ifndef PINSHIM_PINS_FEED_BODY_H
#define PINSHIM_PINS_FEED_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "pins/policy.h"

/* [device:ID]: settings for one named device. */
struct device_override {
	char		*id;			/* owned */
	bool		 pinning_off;		/* pin, pin-only become ca */
};

struct feed_body {
	unsigned long long version;
	int64_t		 issued;		/* seconds since the epoch */
	int64_t		 expires;
	char		*report_url;		/* owned, may be NULL */
	bool		 report_rfc7469;	/* report_format = rfc7469:
						 * one RFC 7469 object per POST,
						 * else W3C Reporting batches */
	struct device_override *devices;	/* owned */
	size_t		 ndevices;
	struct snapshot	*snap;			/* [domain:*]; one ref owned */
};

/* Parse a body: [feed] version/issued/expires/report_url/report_format,
 * [domain:PATTERN] as in the INI, [device:ID] pinning = on|off. NULL with
 * "NAME:LINE: ..." errors on errs. */
struct feed_body *feed_body_parse(const char *name, const char *body,
		    size_t len, FILE *errs);
void		 feed_body_free(struct feed_body *);
/* Whether the body turns pinning off for this device (id may be NULL). */
bool		 feed_body_pinning_off(const struct feed_body *,
		    const char *device_id);
/* What a device enforces under body b (NULL: none): b's rules over
 * base's (its INI's), with b's override for device_id applied. */
struct snapshot	*feed_body_snapshot(const struct snapshot *base,
		    const struct feed_body *b, const char *device_id);

#endif
