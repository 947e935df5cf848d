/*
 * feed_body.c - parse the body of a signed feed with the same engine and
 * the same [domain:PATTERN] rules as the INI, so a publisher's body means
 * exactly what a bootstrap configuration would.
 *
 * Must never: be handed bytes whose signature has not been verified (the
 * daemon and `feed verify` go through feed_open), or accept a body with a
 * NUL byte, without a final newline, or without [feed] version, issued and
 * expires.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/ini.h"
#include "base/mem.h"
#include "pins/feed_body.h"
#include "pins/rule.h"

#define META(f)		offsetof(struct feed_body, f)

static bool
onoff_value(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
		*why = "not one of on, off";
		return false;
	}
	*(bool *)field = strcmp(v, "off") == 0;
	return true;
}

static bool
report_format_value(struct ini *in, const char *v, void *field,
    const char **why)
{
	(void)in;
	if (strcmp(v, "w3c") != 0 && strcmp(v, "rfc7469") != 0) {
		*why = "not one of w3c, rfc7469";
		return false;
	}
	*(bool *)field = strcmp(v, "rfc7469") == 0;
	return true;
}

struct body_loader {
	struct feed_body	*b;		/* borrowed */
	bool			 has_meta;	/* [feed] was there */
};

static void *
meta_open(struct ini *in, void *ctx, const char *arg)
{
	struct body_loader	*bl = ctx;

	(void)in;
	(void)arg;
	bl->has_meta = true;
	return bl->b;
}

static void *
device_open(struct ini *in, void *ctx, const char *id)
{
	struct feed_body	*b = ((struct body_loader *)ctx)->b;
	struct device_override	*d;

	if (*id == '\0') {
		ini_error(in, in->section_line, "[%s]: empty device id",
		    in->section);
		return NULL;
	}
	b->devices = xreallocarray(b->devices, b->ndevices + 1,
	    sizeof(*b->devices));
	d = &b->devices[b->ndevices++];
	d->id = xstrdup(id);
	d->pinning_off = false;
	return d;
}

static const struct ini_key meta_keys[] = {
	/* unsigned long is 32 bits on some gateways: stay inside it */
	INI_UINT("version", META(version), INI_WIDE, 1, 4294967295UL,
	    "whole number"),
	INI_KEY("issued", ini_time, META(issued), 0),
	INI_KEY("expires", ini_time, META(expires), 0),
	INI_KEY("report_url", ini_https_url, META(report_url), 0),
	INI_KEY("report_format", report_format_value, META(report_rfc7469), 0),
};
static const char *const meta_required[] = { "version", "issued", "expires",
    NULL };
static const struct ini_key device_keys[] = {
	INI_KEY("pinning", onoff_value, offsetof(struct device_override,
	    pinning_off), 0),
};
static const char *const device_required[] = { "pinning", NULL };

static bool
body_usable(const char *name, const char *body, size_t len, FILE *errs)
{
	const char	*nul = memchr(body, '\0', len);

	if (nul != NULL) {
		fprintf(errs, "%s: NUL byte at offset %zu\n", name,
		    (size_t)(nul - body));
		return false;
	}
	if (len == 0 || body[len - 1] != '\n') {
		fprintf(errs, "%s: does not end with a newline "
		    "(truncated?)\n", name);
		return false;
	}
	return true;
}

struct feed_body *
feed_body_parse(const char *name, const char *body, size_t len, FILE *errs)
{
	struct feed_body	*b;
	struct rule_loader	 rl;
	struct body_loader	 bl;
	struct ini		 in;
	FILE			*f;
	size_t			 i;
	bool			 ok;

	if (!body_usable(name, body, len, errs))
		return NULL;
	if ((f = fmemopen((void *)(uintptr_t)body, len, "r")) == NULL) {
		fprintf(errs, "%s: %s\n", name, strerror(errno));
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	b->snap = snapshot_new(POLICY_BLOCK);
	memset(&rl, 0, sizeof(rl));
	rl.snap = b->snap;
	bl.b = b;
	bl.has_meta = false;
	{
		const struct ini_section secs[] = {
			{ .name = "feed", .keys = meta_keys,
			  .nkeys = nitems(meta_keys), .required = meta_required,
			  .open = meta_open, .ctx = &bl },
			{ .name = "device:", .prefix = true,
			  .keys = device_keys, .nkeys = nitems(device_keys),
			  .required = device_required, .open = device_open,
			  .ctx = &bl },
			rule_section(&rl),
		};

		ok = ini_load(&in, name, f, errs, secs, nitems(secs),
		    "unknown section in a feed (want feed, domain:PATTERN or "
		    "device:ID)") == 0;
	}
	fclose(f);
	/* Pass two over the whole body. */
	if (ok && !bl.has_meta)
		ok = (ini_error(&in, 1, "[feed]: missing (version, issued, "
		    "expires)"), false);
	else if (ok && b->expires <= b->issued)
		ok = (ini_error(&in, 1, "[feed] expires: not after issued"),
		    false);
	if (!ok) {
		feed_body_free(b);
		return NULL;
	}
	for (i = 0; i < b->snap->nrules; i++)	/* reports name the source */
		b->snap->rules[i].from_feed = true;
	return b;
}

void
feed_body_free(struct feed_body *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	snapshot_unref(b->snap);
	free(b->report_url);
	for (i = 0; i < b->ndevices; i++)
		free(b->devices[i].id);
	free(b->devices);
	free(b);
}

bool
feed_body_pinning_off(const struct feed_body *b, const char *device_id)
{
	bool	 off = false;
	size_t	 i;

	for (i = 0; b != NULL && device_id != NULL && i < b->ndevices; i++)
		if (strcmp(b->devices[i].id, device_id) == 0)
			off = b->devices[i].pinning_off;
	return off;
}

struct snapshot *
feed_body_snapshot(const struct snapshot *base, const struct feed_body *b,
    const char *device_id)
{
	return snapshot_merge(base, b != NULL ? b->snap : NULL,
	    feed_body_pinning_off(b, device_id));
}
