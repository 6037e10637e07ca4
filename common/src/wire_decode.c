/*
 * odo — wire format decoder, versions 1 and 2 (see odo/wire.h, wire_priv.h
 * and docs/wire-format.md).
 *
 * A small hand-written reader for definite-length CBOR rather than libcbor's
 * cbor_stream_decode(): the format is a handful of flat maps, so reading the
 * expected type at each step needs no callback state machine, knows the
 * exact byte offset of every item for error reports, rejects indefinite
 * lengths and tags at the head byte, and never recurses into anything the
 * format does not contain. The only generic walk (skipping a value, finding
 * a record's extent, "s" and "k") is depth-limited.
 *
 * A batch is refused at two levels: the whole message (anything that makes
 * the batch's range or a record's extent unknowable), or one record alone
 * (anything else inside a record whose "s" is good), which goes to
 * out->bad[] with its byte range so the collector can dead-letter it alone.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wire_priv.h"

enum { MT_UINT = 0, MT_NEG = 1, MT_BYTES = 2, MT_TEXT = 3, MT_ARRAY = 4, MT_MAP = 5, MT_TAG = 6, MT_SIMPLE = 7 };

struct rd {
	const uint8_t *b;
	size_t len, pos;
	struct odo_wire_error *err; /* NULL: errors are not described */
	const char *prefix;         /* field path prefix, e.g. "recs[3]." */
	unsigned version;           /* of the message being read */
	const struct odo_wire_limits *lim; /* NULL: no time window */
};

/* One CBOR head: major type, argument, and for floats the value. */
struct head {
	size_t off;
	int major;
	int ai;
	uint64_t val;
};

static int fail(struct rd *r, int code, size_t off, const char *field, const char *fmt, ...) ODO_PRINTF(5, 6);

static int fail(struct rd *r, int code, size_t off, const char *field, const char *fmt, ...)
{
	if (!r->err)
		return code;
	r->err->code = code;
	r->err->offset = off;
	if (!field || !*field) {
		/* the container itself: "recs[3]" rather than "recs[3]." */
		size_t n = strlen(r->prefix);
		snprintf(r->err->field, sizeof(r->err->field), "%.*s", (int)(n ? n - 1 : 0), r->prefix);
	} else {
		snprintf(r->err->field, sizeof(r->err->field), "%s%s", r->prefix, field);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
	va_end(ap);
	return code;
}

static const char *major_name(int m)
{
	static const char *const names[] = { "an unsigned integer", "a negative integer", "a byte string",
					     "a text string",       "an array",           "a map",
					     "a tag",               "a simple value or float" };
	return names[m & 7];
}

/* Read one head at r->pos. Rejects indefinite lengths and reserved
 * additional information; floats and simple values keep their raw bits. */
static int rd_head(struct rd *r, struct head *h, const char *field)
{
	h->off = r->pos;
	if (r->pos >= r->len)
		return fail(r, ODO_ERR_WIRE_MALFORMED, r->pos, field,
			    "The message ends at byte %zu where a CBOR item was expected.", r->pos);
	uint8_t ib = r->b[r->pos++];
	h->major = ib >> 5;
	h->ai = ib & 0x1f;
	size_t extra;
	if (h->ai < 24) {
		h->val = (uint64_t)h->ai;
		return ODO_OK;
	} else if (h->ai <= 27) {
		extra = (size_t)1 << (h->ai - 24);
	} else if (h->ai == 31) {
		return fail(r, ODO_ERR_WIRE_MALFORMED, h->off, field,
			    "Indefinite-length items are not allowed (byte 0x%02x at offset %zu).", ib, h->off);
	} else {
		return fail(r, ODO_ERR_WIRE_MALFORMED, h->off, field,
			    "Byte 0x%02x at offset %zu uses reserved additional information %d.", ib, h->off,
			    h->ai);
	}
	if (extra > r->len - r->pos)
		return fail(r, ODO_ERR_WIRE_MALFORMED, h->off, field,
			    "The message is truncated inside the item starting at offset %zu.", h->off);
	uint64_t v = 0;
	for (size_t i = 0; i < extra; i++)
		v = (v << 8) | r->b[r->pos + i];
	r->pos += extra;
	h->val = v;
	return ODO_OK;
}

static int wrong_type(struct rd *r, const struct head *h, const char *field, const char *want)
{
	if (!*field)
		return fail(r, ODO_ERR_WIRE_TYPE, h->off, field, "The item at offset %zu must be %s, not %s.",
			    h->off, want, major_name(h->major));
	return fail(r, ODO_ERR_WIRE_TYPE, h->off, field, "Field \"%s%s\" must be %s, not %s.", r->prefix, field,
		    want, major_name(h->major));
}

static int rd_uint(struct rd *r, const char *field, uint64_t *out, size_t *off)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	if (off)
		*off = h.off;
	if (h.major == MT_NEG)
		return fail(r, ODO_ERR_WIRE_RANGE, h.off, field, "Field \"%s%s\" must not be negative.", r->prefix,
			    field);
	if (h.major != MT_UINT)
		return wrong_type(r, &h, field, "an unsigned integer");
	*out = h.val;
	return ODO_OK;
}

static double half_to_double(uint16_t x)
{
	int e = (x >> 10) & 0x1f;
	int m = x & 0x3ff;
	double v;
	if (e == 0)
		v = ldexp(m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexp(m + 1024, e - 25);
	return (x & 0x8000) ? -v : v;
}

static int rd_double(struct rd *r, const char *field, double *out, size_t *off)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	*off = h.off;
	if (h.major != MT_SIMPLE || h.ai < 25 || h.ai > 27)
		return wrong_type(r, &h, field, "a float");
	if (h.ai == 25) {
		*out = half_to_double((uint16_t)h.val);
	} else if (h.ai == 26) {
		uint32_t bits = (uint32_t)h.val;
		float f;
		memcpy(&f, &bits, sizeof(f));
		*out = f;
	} else {
		memcpy(out, &h.val, sizeof(*out));
	}
	if (!isfinite(*out))
		return fail(r, ODO_ERR_WIRE_RANGE, h.off, field, "Field \"%s%s\" must be a finite number.",
			    r->prefix, field);
	return ODO_OK;
}

static int rd_bool(struct rd *r, const char *field, int *out)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	if (h.major != MT_SIMPLE || (h.ai != 20 && h.ai != 21))
		return wrong_type(r, &h, field, "true or false");
	*out = h.ai == 21;
	return ODO_OK;
}

/* A text string of at most `max` bytes; *s points into the input. */
static int rd_text(struct rd *r, const char *field, size_t max, const uint8_t **s, size_t *n, size_t *off)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	*off = h.off;
	if (h.major != MT_TEXT)
		return wrong_type(r, &h, field, "a text string");
	if (h.val > r->len - r->pos)
		return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, field,
			    "The text string at offset %zu runs past the end of the message.", h.off);
	if (h.val > max)
		return fail(r, ODO_ERR_WIRE_TOOLONG, h.off, field,
			    "Field \"%s%s\" is %llu bytes long; at most %zu are allowed.", r->prefix, field,
			    (unsigned long long)h.val, max);
	*s = r->b + r->pos;
	*n = (size_t)h.val;
	r->pos += (size_t)h.val;
	return ODO_OK;
}

static int rd_container(struct rd *r, int major, const char *field, uint64_t *n)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	if (h.major != major)
		return wrong_type(r, &h, field, major == MT_MAP ? "a map" : "an array");
	*n = h.val;
	return ODO_OK;
}

/* A map key: a short text string copied NUL-terminated into key. */
static int rd_key(struct rd *r, char key[WIRE_MAX_KEY], size_t *off)
{
	struct head h;
	int rc = rd_head(r, &h, "<key>");
	if (rc != ODO_OK)
		return rc;
	*off = h.off;
	if (h.major != MT_TEXT)
		return fail(r, ODO_ERR_WIRE_TYPE, h.off, "<key>",
			    "Map keys must be text strings; the key at offset %zu is %s.", h.off,
			    major_name(h.major));
	if (h.val > r->len - r->pos)
		return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, "<key>",
			    "The map key at offset %zu runs past the end of the message.", h.off);
	if (h.val >= WIRE_MAX_KEY)
		return fail(r, ODO_ERR_WIRE_UNKNOWN, h.off, "<key>",
			    "The %llu-byte map key at offset %zu is not a key of this format.",
			    (unsigned long long)h.val, h.off);
	memcpy(key, r->b + r->pos, (size_t)h.val);
	key[h.val] = 0;
	r->pos += (size_t)h.val;
	/* Every key of the format is lowercase letters and digits; anything
	 * else is unknown and is not echoed into the error's field path. */
	int ok = h.val > 0;
	for (size_t i = 0; i < (size_t)h.val; i++)
		ok &= (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9');
	if (!ok)
		return fail(r, ODO_ERR_WIRE_UNKNOWN, h.off, "<key>",
			    "The map key at offset %zu is not a key of this format.", h.off);
	return ODO_OK;
}

/* Skip one well-formed item, nesting at most `depth` more levels; errors
 * name `field`. */
static int rd_skip(struct rd *r, int depth, const char *field)
{
	struct head h;
	int rc = rd_head(r, &h, field);
	if (rc != ODO_OK)
		return rc;
	switch (h.major) {
	case MT_BYTES:
	case MT_TEXT:
		if (h.val > r->len - r->pos)
			return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, field,
				    "The string at offset %zu runs past the end of the message.", h.off);
		r->pos += (size_t)h.val;
		return ODO_OK;
	case MT_ARRAY:
	case MT_MAP:
	case MT_TAG: {
		if (depth <= 0)
			return fail(r, ODO_ERR_WIRE_TYPE, h.off, field,
				    "The item at offset %zu is nested deeper than the format allows.", h.off);
		uint64_t items = h.major == MT_TAG ? 1 : h.major == MT_MAP ? h.val * 2 : h.val;
		if (h.major == MT_MAP && h.val > (r->len - r->pos) / 2)
			return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, field,
				    "The map at offset %zu claims more entries than the message holds.", h.off);
		for (uint64_t i = 0; i < items; i++)
			if ((rc = rd_skip(r, depth - 1, field)) != ODO_OK)
				return rc;
		return ODO_OK;
	}
	default:
		return ODO_OK;
	}
}

/* Walk one record map to its end: well-formed and no deeper than the format
 * allows (that is what lets a refused record be skipped). Errors name the
 * key whose value is at fault. */
static int rd_skip_record(struct rd *r)
{
	uint64_t npairs = 0;
	size_t off = r->pos;
	int rc = rd_container(r, MT_MAP, "", &npairs);
	if (rc != ODO_OK)
		return rc;
	if (npairs > (r->len - r->pos) / 2)
		return fail(r, ODO_ERR_WIRE_MALFORMED, off, "",
			    "The map at offset %zu claims more entries than the message holds.", off);
	for (uint64_t i = 0; i < npairs; i++) {
		char name[WIRE_MAX_KEY] = "<key>";
		size_t koff = r->pos;
		struct head h;
		if ((rc = rd_head(r, &h, "<key>")) != ODO_OK)
			return rc;
		if (h.major == MT_TEXT) {
			if (h.val > r->len - r->pos)
				return fail(r, ODO_ERR_WIRE_MALFORMED, koff, "<key>",
					    "The map key at offset %zu runs past the end of the message.", koff);
			int ok = h.val > 0 && h.val < WIRE_MAX_KEY;
			for (size_t k = 0; ok && k < (size_t)h.val; k++) {
				uint8_t c = r->b[r->pos + k];
				ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
			}
			if (ok) {
				memcpy(name, r->b + r->pos, (size_t)h.val);
				name[h.val] = 0;
			}
			r->pos += (size_t)h.val;
		} else {
			r->pos = koff;
			if ((rc = rd_skip(r, WIRE_SKIP_DEPTH - 1, "<key>")) != ODO_OK)
				return rc;
		}
		if ((rc = rd_skip(r, WIRE_SKIP_DEPTH - 1, name)) != ODO_OK)
			return rc;
	}
	return ODO_OK;
}

/* ---------------------------------------------------------------- values */

static int check_uint(struct rd *r, const struct wire_fdesc *f, uint64_t v, size_t off)
{
	if (v < f->umin || v > f->umax)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
			    "Field \"%s%s\" is %llu; it must be between %llu and %llu.", r->prefix, f->key,
			    (unsigned long long)v, (unsigned long long)f->umin, (unsigned long long)f->umax);
	return ODO_OK;
}

/* The receiver's time window (F_TIME fields, only when limits are given). */
static int check_time(struct rd *r, const struct wire_fdesc *f, uint64_t v, size_t off)
{
	if (!r->lim || !(f->flags & F_TIME))
		return ODO_OK;
	int64_t now = r->lim->now_ms;
	int64_t hi = now > INT64_MAX - ODO_WIRE_TIME_AHEAD_MS ? INT64_MAX : now + ODO_WIRE_TIME_AHEAD_MS;
	if (v < (uint64_t)ODO_WIRE_TIME_MIN_MS || (hi >= 0 && v > (uint64_t)hi) || hi < 0)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
			    "Field \"%s%s\" is %llu ms, outside [%lld, %lld] (2000-01-01 to the receiver's clock + 1 day).",
			    r->prefix, f->key, (unsigned long long)v, (long long)ODO_WIRE_TIME_MIN_MS, (long long)hi);
	return ODO_OK;
}

/* VIN characters per ISO 3779: digits and capitals except I, O, Q. */
static int vin_char_ok(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 1;
	return c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'Q';
}

/* A DTC code: [PCBU][0-3][0-9A-F]{3}. */
static int dtc_ok(const unsigned char *s, size_t n)
{
	if (n != ODO_DTC_LEN)
		return 0;
	if (s[0] != 'P' && s[0] != 'C' && s[0] != 'B' && s[0] != 'U')
		return 0;
	if (s[1] < '0' || s[1] > '3')
		return 0;
	for (size_t i = 2; i < ODO_DTC_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int dec_dtcs(struct rd *r, const struct wire_fdesc *f, struct odo_record *out)
{
	uint64_t n = 0;
	size_t off = r->pos;
	int rc = rd_container(r, MT_ARRAY, f->key, &n);
	if (rc != ODO_OK)
		return rc;
	if (n > ODO_WIRE_MAX_DTCS)
		return fail(r, ODO_ERR_WIRE_TOOLONG, off, f->key,
			    "Field \"%s%s\" lists %llu codes; at most %d are allowed.", r->prefix, f->key,
			    (unsigned long long)n, ODO_WIRE_MAX_DTCS);
	if (n == 0)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
			    "Field \"%s%s\" is an empty list; an empty list is omitted instead.", r->prefix, f->key);
	for (uint64_t i = 0; i < n; i++) {
		char name[WIRE_MAX_KEY + 8];
		snprintf(name, sizeof(name), "%s[%u]", f->key, (unsigned)i);
		const uint8_t *s;
		size_t len, soff;
		if ((rc = rd_text(r, name, ODO_DTC_LEN, &s, &len, &soff)) != ODO_OK)
			return rc;
		if (!dtc_ok(s, len))
			return fail(r, ODO_ERR_WIRE_RANGE, soff, name,
				    "Field \"%s%s\" is not a trouble code like P0301 ([PCBU][0-3][0-9A-F]{3}).",
				    r->prefix, name);
		memcpy(out->u.dtc.codes[f->off][i], s, len);
		out->u.dtc.codes[f->off][i][len] = 0;
	}
	out->u.dtc.n[f->off] = (uint8_t)n;
	return ODO_OK;
}

static void store_elem(const struct wire_fdesc *f, struct odo_record *out, size_t i, int64_t v)
{
	char *p = (char *)out + f->off + i * f->a->stride;
	if (f->a->ctype == C_U32)
		*(uint32_t *)p = (uint32_t)v;
	else if (f->a->ctype == C_I32)
		*(int32_t *)p = (int32_t)v;
	else
		*(int16_t *)p = (int16_t)v;
}

/* An integer list (FT_ARR): length shared by the kind's lists, elements in
 * range (delta lists: every absolute value), null only where allowed. */
static int dec_list(struct rd *r, const struct wire_fdesc *f, struct odo_record *out)
{
	const struct wire_adesc *a = f->a;
	uint64_t n = 0;
	size_t off = r->pos;
	int rc = rd_container(r, MT_ARRAY, f->key, &n);
	if (rc != ODO_OK)
		return rc;
	if (n > a->maxn)
		return fail(r, ODO_ERR_WIRE_TOOLONG, off, f->key,
			    "Field \"%s%s\" has %llu elements; at most %u are allowed.", r->prefix, f->key,
			    (unsigned long long)n, (unsigned)a->maxn);
	if (n == 0)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key, "Field \"%s%s\" is an empty list.", r->prefix,
			    f->key);
	uint16_t *cnt = (uint16_t *)((char *)out + a->cnt_off);
	if (*cnt != 0 && *cnt != n)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
			    "Field \"%s%s\" has %llu elements, another list of the record %u; they must match.",
			    r->prefix, f->key, (unsigned long long)n, (unsigned)*cnt);
	int64_t acc = 0;
	for (uint64_t i = 0; i < n; i++) {
		char name[WIRE_MAX_KEY + 8];
		snprintf(name, sizeof(name), "%s[%u]", f->key, (unsigned)i);
		struct head h;
		if ((rc = rd_head(r, &h, name)) != ODO_OK)
			return rc;
		int64_t v;
		if (h.major == MT_SIMPLE && h.ai == 22 && (a->flags & A_NULL)) {
			store_elem(f, out, (size_t)i, -1);
			continue;
		}
		if (h.major == MT_UINT && h.val <= (uint64_t)INT64_MAX) {
			v = (int64_t)h.val;
		} else if (h.major == MT_NEG && (a->flags & A_SIGNED) && h.val <= (uint64_t)INT64_MAX) {
			v = -1 - (int64_t)h.val;
		} else if (h.major == MT_UINT || (h.major == MT_NEG && (a->flags & A_SIGNED))) {
			return fail(r, ODO_ERR_WIRE_RANGE, h.off, name, "Field \"%s%s\" is out of range.", r->prefix,
				    name);
		} else if (h.major == MT_NEG) {
			return fail(r, ODO_ERR_WIRE_RANGE, h.off, name, "Field \"%s%s\" must not be negative.",
				    r->prefix, name);
		} else {
			return wrong_type(r, &h, name, (a->flags & A_NULL) ? "an integer or null" : "an integer");
		}
		int delta = (a->flags & A_DELTA) && i > 0;
		if (delta) {
			int64_t span = a->max - a->min;
			if (v < -span || v > span)
				return fail(r, ODO_ERR_WIRE_RANGE, h.off, name,
					    "Field \"%s%s\" is a difference of %lld; no two values differ by more than %lld.",
					    r->prefix, name, (long long)v, (long long)span);
			v += acc;
		}
		if (v < a->min || v > a->max)
			return fail(r, ODO_ERR_WIRE_RANGE, h.off, name, "Field \"%s%s\" is %lld%s; it must be between %lld and %lld.",
				    r->prefix, name, (long long)v, delta ? " (with the differences)" : "",
				    (long long)a->min, (long long)a->max);
		acc = v;
		store_elem(f, out, (size_t)i, v);
	}
	*cnt = (uint16_t)n;
	return ODO_OK;
}

static int dec_field(struct rd *r, const struct wire_fdesc *f, struct odo_record *out)
{
	void *p = (char *)out + f->off;
	uint64_t u = 0;
	size_t off = r->pos;
	int rc;
	switch (f->type) {
	case FT_U8:
	case FT_U16:
	case FT_U32:
	case FT_U64:
	case FT_I64:
	case FT_OI32:
		if ((rc = rd_uint(r, f->key, &u, &off)) != ODO_OK)
			return rc;
		if ((rc = check_uint(r, f, u, off)) != ODO_OK)
			return rc;
		if ((rc = check_time(r, f, u, off)) != ODO_OK)
			return rc;
		if (f->type == FT_U8)
			*(uint8_t *)p = (uint8_t)u;
		else if (f->type == FT_U16)
			*(uint16_t *)p = (uint16_t)u;
		else if (f->type == FT_U32)
			*(uint32_t *)p = (uint32_t)u;
		else if (f->type == FT_U64)
			*(uint64_t *)p = u;
		else if (f->type == FT_OI32)
			*(int32_t *)p = (int32_t)u;
		else
			*(int64_t *)p = (int64_t)u;
		return ODO_OK;
	case FT_DBL: {
		double d;
		if ((rc = rd_double(r, f->key, &d, &off)) != ODO_OK)
			return rc;
		if (d < f->lo || d > f->hi || ((f->flags & F_HIEXCL) && d >= f->hi))
			return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
				    "Field \"%s%s\" is %g; it must be in [%g, %g%s.", r->prefix, f->key, d, f->lo,
				    f->hi, (f->flags & F_HIEXCL) ? ")" : "]");
		*(double *)p = d;
		return ODO_OK;
	}
	case FT_BOOL:
	case FT_MIL:
		return rd_bool(r, f->key, (int *)p);
	case FT_VIN: {
		const uint8_t *s;
		size_t n;
		if ((rc = rd_text(r, f->key, ODO_VIN_LEN, &s, &n, &off)) != ODO_OK)
			return rc;
		if (n != 0 && n != ODO_VIN_LEN)
			return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
				    "Field \"%s%s\" has %zu characters; a VIN has exactly 17 (or is empty).",
				    r->prefix, f->key, n);
		for (size_t i = 0; i < n; i++)
			if (!vin_char_ok(s[i]))
				return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
					    "Field \"%s%s\" contains a character not allowed in a VIN.", r->prefix,
					    f->key);
		memcpy(p, s, n);
		((char *)p)[n] = 0;
		return ODO_OK;
	}
	case FT_DTCS:
		return dec_dtcs(r, f, out);
	case FT_ARR:
		return dec_list(r, f, out);
	default:
		return fail(r, ODO_ERR_WIRE_TYPE, off, f->key, "Field \"%s%s\" has no decoder.", r->prefix, f->key);
	}
}

/* The field `key` of table t as known to wire version `version`. */
static const struct wire_fdesc *lookup(const struct wire_fdesc *t, size_t n, const char *key, unsigned version,
				       size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].since <= version && strcmp(t[i].key, key) == 0) {
			*idx = i;
			return &t[i];
		}
	return NULL;
}

/* Where key `want` is in the map whose npairs pairs start at r->pos: how
 * often, the offset of its first value and of its second key. Reads nothing
 * into r (the map's extent is known to be well-formed). `first` stops at the
 * first occurrence. */
struct keyscan {
	unsigned count;
	size_t val_off, dup_off;
};

static void scan_key(const struct rd *r0, uint64_t npairs, const char *want, int depth, int first,
		     struct keyscan *ks)
{
	struct rd q = *r0;
	q.err = NULL;
	memset(ks, 0, sizeof(*ks));
	size_t wl = strlen(want);
	for (uint64_t i = 0; i < npairs; i++) {
		size_t koff = q.pos;
		struct head h;
		if (rd_head(&q, &h, "") != ODO_OK)
			return;
		if (h.major == MT_TEXT) {
			if (h.val > q.len - q.pos)
				return;
			int hit = h.val == wl && memcmp(q.b + q.pos, want, wl) == 0;
			q.pos += (size_t)h.val;
			if (hit && ks->count++ == 0)
				ks->val_off = q.pos;
			else if (hit && ks->count == 2)
				ks->dup_off = koff;
			if (hit && first)
				return;
		} else {
			q.pos = koff;
			if (rd_skip(&q, depth, "") != ODO_OK)
				return;
		}
		if (rd_skip(&q, depth, "") != ODO_OK)
			return;
	}
}

/* lat/lon of a kind, or NULL. */
static void latlon_of(struct odo_record *out, double **lat, double **lon)
{
	*lat = *lon = NULL;
	switch (out->kind) {
	case ODO_REC_TRIP_START:
		*lat = &out->u.trip_start.lat, *lon = &out->u.trip_start.lon;
		break;
	case ODO_REC_EVENT:
		*lat = &out->u.event.lat, *lon = &out->u.event.lon;
		break;
	case ODO_REC_SAMPLE:
		*lat = &out->u.sample.lat, *lon = &out->u.sample.lon;
		break;
	case ODO_REC_CRASH_TRACE:
		*lat = &out->u.crash_trace.lat, *lon = &out->u.crash_trace.lon;
		break;
	default:
		break;
	}
}

/* Trip-end grade counts: a family's three keys come together, and its
 * harsh-and-above total is the sum of grades 2 and 3. */
static int check_grades(struct rd *r, size_t map_off, const struct odo_record *out)
{
	const struct odo_rec_trip_end *e = &out->u.trip_end;
	static const char *const fam[4] = { "hb", "ra", "hc", "sw" };
	const int32_t *g[4] = { e->hard_brakes_g, e->rapid_accels_g, e->harsh_corners_g, e->swerves_g };
	const uint32_t tot[4] = { e->hard_brakes, e->rapid_accels, e->harsh_corners, e->swerves };
	for (int k = 0; k < 4; k++) {
		int have = (g[k][0] >= 0) + (g[k][1] >= 0) + (g[k][2] >= 0);
		if (have == 0)
			continue;
		if (have != ODO_GRADES) {
			int miss = g[k][0] < 0 ? 1 : g[k][1] < 0 ? 2 : 3;
			char key[8];
			snprintf(key, sizeof(key), "%s%d", fam[k], miss);
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, key,
				    "Field \"%s%s\" is missing: %s1, %s2 and %s3 come together.", r->prefix, key,
				    fam[k], fam[k], fam[k]);
		}
		if ((uint64_t)g[k][1] + (uint64_t)g[k][2] != tot[k])
			return fail(r, ODO_ERR_WIRE_RANGE, map_off, fam[k],
				    "Field \"%s%s\" is %u; it must equal %s2 + %s3 (%lld).", r->prefix, fam[k],
				    (unsigned)tot[k], fam[k], fam[k], (long long)g[k][1] + g[k][2]);
	}
	return ODO_OK;
}

/* Rules across the fields of one record. */
static int check_record(struct rd *r, size_t map_off, struct odo_record *out)
{
	double *lat, *lon;
	latlon_of(out, &lat, &lon);
	if (lat && isnan(*lat) != isnan(*lon))
		return fail(r, ODO_ERR_WIRE_MISSING, map_off, isnan(*lat) ? "lat" : "lon",
			    "Field \"%s%s\" is missing: lat and lon come together.", r->prefix,
			    isnan(*lat) ? "lat" : "lon");
	switch (out->kind) {
	case ODO_REC_EVENT: {
		const struct odo_rec_event *e = &out->u.event;
		if (e->kind != ODO_EV_PHONE_DISTRACTION) {
			const char *miss = isnan(e->peak_g) ? "pk" : isnan(e->mean_g) ? "mg" : NULL;
			if (miss)
				return fail(r, ODO_ERR_WIRE_MISSING, map_off, miss,
					    "Field \"%s%s\" is required for %s events.", r->prefix, miss,
					    odo_event_kind_name(e->kind));
		}
		if (e->grade >= 0 && (e->kind == ODO_EV_CRASH || e->kind == ODO_EV_PHONE_DISTRACTION))
			return fail(r, ODO_ERR_WIRE_RANGE, map_off, "gr",
				    "Field \"%sgr\" is not defined for %s events.", r->prefix,
				    odo_event_kind_name(e->kind));
		return ODO_OK;
	}
	case ODO_REC_TRIP_END:
		if (out->u.trip_end.end_ms < out->u.trip_end.start_ms)
			return fail(r, ODO_ERR_WIRE_RANGE, map_off, "t1",
				    "Field \"%st1\" (trip end) is before \"t0\" (trip start).", r->prefix);
		/* the jerk is measured from the accelerometer only (wire-v2 A4) */
		if (out->u.trip_end.lon_source == ODO_LSRC_SPEED && !isnan(out->u.trip_end.mean_abs_jerk))
			return fail(r, ODO_ERR_WIRE_RANGE, map_off, "jerk",
				    "Field \"%sjerk\" is sent with \"lsrc\" 1: the jerk comes from the accelerometer only.",
				    r->prefix);
		if (r->version < 2 && isnan(out->u.trip_end.mean_abs_jerk))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, "jerk",
				    "Required field \"%sjerk\" is missing from a version 1 trip_end record.",
				    r->prefix);
		return check_grades(r, map_off, out);
	case ODO_REC_CRASH_TRACE:
		if (out->u.crash_trace.part >= out->u.crash_trace.parts)
			return fail(r, ODO_ERR_WIRE_RANGE, map_off, "i",
				    "Field \"%si\" is %u; a part number is below \"n\" (%u).", r->prefix,
				    (unsigned)out->u.crash_trace.part, (unsigned)out->u.crash_trace.parts);
		return ODO_OK;
	default:
		return ODO_OK;
	}
}

/* Decode one record map at r->pos into out. */
static int dec_record(struct rd *r, struct odo_record *out)
{
	size_t map_off = r->pos;
	uint64_t npairs = 0;
	int rc = rd_container(r, MT_MAP, "", &npairs);
	if (rc != ODO_OK)
		return rc;
	size_t body = r->pos;

	/* Pass 1: find the kind, which decides the meaning of the other keys. */
	struct keyscan ks;
	scan_key(r, npairs, "k", WIRE_SKIP_DEPTH - 1, 1, &ks);
	if (ks.count == 0) {
		/* Not found: either absent, or the map cannot be walked (the
		 * key-by-key pass below says where). */
		odo_record_init(out, (enum odo_record_kind)0);
	} else {
		uint64_t kind = 0;
		size_t voff;
		r->pos = ks.val_off;
		if ((rc = rd_uint(r, "k", &kind, &voff)) != ODO_OK)
			return rc;
		if (kind < 1 || kind > ODO_REC__MAX || wire__kinds[kind].since > r->version)
			return fail(r, ODO_ERR_WIRE_UNKNOWN, voff, "k", "Record kind %llu is not known to wire version %u.",
				    (unsigned long long)kind, r->version);
		odo_record_init(out, (enum odo_record_kind)kind);
	}

	/* Pass 2: decode every key in place. */
	const struct wire_kdesc *k = ks.count ? &wire__kinds[out->kind] : NULL;
	uint64_t seen_common = 0, seen = 0;
	r->pos = body;
	for (uint64_t i = 0; i < npairs; i++) {
		char key[WIRE_MAX_KEY];
		size_t koff, idx;
		if ((rc = rd_key(r, key, &koff)) != ODO_OK)
			return rc;
		const struct wire_fdesc *f;
		uint64_t *mask;
		if ((f = lookup(wire__common, wire__ncommon, key, r->version, &idx)))
			mask = &seen_common;
		else if (k && (f = lookup(k->f, k->n, key, r->version, &idx)))
			mask = &seen;
		else if (k)
			return fail(r, ODO_ERR_WIRE_UNKNOWN, koff, key,
				    "Key \"%s\" is not defined for %s records in wire version %u.", key, k->name,
				    r->version);
		else
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, "k",
				    "The record at offset %zu has no kind \"k\".", map_off);
		if (*mask & ((uint64_t)1 << idx))
			return fail(r, ODO_ERR_WIRE_DUPLICATE, koff, key, "Key \"%s%s\" appears twice in one record.",
				    r->prefix, key);
		*mask |= (uint64_t)1 << idx;
		if (mask == &seen_common && idx == WIRE_COMMON_K) {
			/* read in pass 1; the kind's table is chosen */
			uint64_t kv;
			size_t voff;
			if ((rc = rd_uint(r, "k", &kv, &voff)) != ODO_OK)
				return rc;
			continue;
		}
		if ((rc = dec_field(r, f, out)) != ODO_OK)
			return rc;
	}
	if (!k)
		return fail(r, ODO_ERR_WIRE_MISSING, map_off, "k", "The record at offset %zu has no kind \"k\".",
			    map_off);

	for (size_t i = 0; i < wire__ncommon; i++)
		if (!(seen_common & ((uint64_t)1 << i)))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, wire__common[i].key,
				    "Required field \"%s%s\" is missing.", r->prefix, wire__common[i].key);
	for (size_t i = 0; i < k->n; i++)
		if ((k->f[i].flags & F_REQ) && k->f[i].since <= r->version && !(seen & ((uint64_t)1 << i)))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, k->f[i].key,
				    "Required field \"%s%s\" is missing from a %s record.", r->prefix, k->f[i].key,
				    k->name);
	return check_record(r, map_off, out);
}

static void err_clear(struct odo_wire_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static int check_device(struct rd *r, const uint8_t *s, size_t n, size_t off, char *dst)
{
	memcpy(dst, s, n);
	dst[n] = 0;
	if (n == 0 || memchr(s, 0, n) || !odo_wire_device_id_valid(dst)) {
		dst[0] = 0;
		return fail(r, ODO_ERR_WIRE_RANGE, off, "dev",
			    "Field \"dev\" is not a device id (1 to %d characters of [A-Za-z0-9._-]).",
			    ODO_DEVICE_ID_MAX);
	}
	return ODO_OK;
}

static int check_size(struct rd *r, size_t max, const char *what)
{
	if (r->len > max)
		return fail(r, ODO_ERR_WIRE_TOOLONG, 0, "",
			    "The %s is %zu bytes long; at most %zu are allowed.", what, r->len, max);
	return ODO_OK;
}

static int check_trailing(struct rd *r)
{
	if (r->pos != r->len)
		return fail(r, ODO_ERR_WIRE_TRAILING, r->pos, "",
			    "%zu bytes follow the message's top-level item at offset %zu.", r->len - r->pos, r->pos);
	return ODO_OK;
}

int odo_wire_decode_record(const uint8_t *buf, size_t len, struct odo_record *out, struct odo_wire_error *err)
{
	err_clear(err);
	struct rd r = { buf, len, 0, err, "", ODO_WIRE_VERSION, NULL };
	if (!out || (!buf && len))
		return fail(&r, ODO_ERR_INVAL, 0, "", "No record or no input was given.");
	int rc = check_size(&r, ODO_WIRE_MAX_RECORD_BYTES, "record");
	if (rc == ODO_OK)
		rc = dec_record(&r, out);
	if (rc == ODO_OK)
		rc = check_trailing(&r);
	return rc;
}

/* ---------------------------------------------------------------- messages */

/* The keys of a batch and of an ack, with the version each appeared in. */
enum { BK_V, BK_DEV, BK_EP, BK_AF, BK_SEQ, BK_RECS, BK_ACK, BK__N };
static const char *const top_keys[BK__N] = { "v", "dev", "ep", "af", "seq", "recs", "ack" };
static const unsigned char top_since[BK__N] = { 1, 1, 2, 2, 1, 1, 1 };

static int top_key(struct rd *r, unsigned allowed_mask, uint32_t *seen, int *which)
{
	char key[WIRE_MAX_KEY];
	size_t koff;
	int rc = rd_key(r, key, &koff);
	if (rc != ODO_OK)
		return rc;
	for (int i = 0; i < BK__N; i++) {
		if (!(allowed_mask & (1u << i)) || top_since[i] > r->version || strcmp(key, top_keys[i]) != 0)
			continue;
		if (*seen & (1u << i))
			return fail(r, ODO_ERR_WIRE_DUPLICATE, koff, key, "Key \"%s\" appears twice.", key);
		*seen |= 1u << i;
		*which = i;
		return ODO_OK;
	}
	return fail(r, ODO_ERR_WIRE_UNKNOWN, koff, key, "Key \"%s\" is not defined in wire version %u.", key,
		    r->version);
}

/* Missing required top-level keys of the message's version. */
static int top_missing(struct rd *r, unsigned need_mask, uint32_t seen, size_t map_off, const char *what)
{
	for (int i = 0; i < BK__N; i++)
		if ((need_mask & (1u << i)) && top_since[i] <= r->version && !(seen & (1u << i)))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, top_keys[i],
				    "Required field \"%s\" is missing from the %s.", top_keys[i], what);
	return ODO_OK;
}

/* Find "v" before the other keys (keys may come in any order, and the
 * version decides which keys exist): the message's version when "v" is a
 * supported one, else the newest (the key-by-key pass reports the error). */
static void find_version(struct rd *r, uint64_t npairs)
{
	struct keyscan ks;
	r->version = ODO_WIRE_VERSION;
	scan_key(r, npairs, "v", WIRE_SKIP_DEPTH + 1, 1, &ks);
	if (ks.count == 0)
		return;
	struct rd q = *r;
	q.err = NULL;
	q.pos = ks.val_off;
	uint64_t v;
	size_t off;
	if (rd_uint(&q, "v", &v, &off) == ODO_OK && v >= ODO_WIRE_VERSION_MIN && v <= ODO_WIRE_VERSION)
		r->version = (unsigned)v;
}

static int dec_version(struct rd *r, uint32_t *v)
{
	uint64_t u = 0;
	size_t off = r->pos;
	int rc;
	if (off < r->len && (r->b[off] >> 5) == MT_NEG)
		return fail(r, ODO_ERR_WIRE_VERSION, off, "v", "Wire version must be a positive integer.");
	if ((rc = rd_uint(r, "v", &u, &off)) != ODO_OK)
		return rc;
	if (u < ODO_WIRE_VERSION_MIN || u > ODO_WIRE_VERSION)
		return fail(r, ODO_ERR_WIRE_VERSION, off, "v",
			    "Wire version %llu is not supported; versions %d to %d are.", (unsigned long long)u,
			    ODO_WIRE_VERSION_MIN, ODO_WIRE_VERSION);
	*v = (uint32_t)u;
	return ODO_OK;
}

static int dec_dev(struct rd *r, char *dst)
{
	const uint8_t *s;
	size_t n, off;
	int rc = rd_text(r, "dev", ODO_DEVICE_ID_MAX, &s, &n, &off);
	if (rc != ODO_OK)
		return rc;
	return check_device(r, s, n, off, dst);
}

static int dec_u63(struct rd *r, const struct wire_fdesc *f, uint64_t *out, size_t *off)
{
	int rc = rd_uint(r, f->key, out, off);
	if (rc == ODO_OK && *out == 0 && f->umin == 1)
		return fail(r, ODO_ERR_WIRE_RANGE, *off, f->key, "Field \"%s\" is 0; sequence numbers start at 1.",
			    f->key);
	return rc == ODO_OK ? check_uint(r, f, *out, *off) : rc;
}

/* The record's "s": found, valid and above `prev` (message-level rules). */
static int rec_seq(struct rd *r, size_t roff, uint64_t npairs, uint64_t prev, int has_prev, uint64_t *s)
{
	struct keyscan ks;
	scan_key(r, npairs, "s", WIRE_SKIP_DEPTH - 1, 0, &ks);
	if (ks.count == 0)
		return fail(r, ODO_ERR_WIRE_MISSING, roff, "s", "Required field \"%ss\" is missing.", r->prefix);
	if (ks.count > 1)
		return fail(r, ODO_ERR_WIRE_DUPLICATE, ks.dup_off, "s", "Key \"%ss\" appears twice in one record.",
			    r->prefix);
	size_t off;
	r->pos = ks.val_off;
	int rc = rd_uint(r, "s", s, &off);
	if (rc == ODO_OK)
		rc = check_uint(r, &wire__common[WIRE_COMMON_S], *s, off);
	if (rc == ODO_OK && has_prev && *s <= prev)
		rc = fail(r, ODO_ERR_WIRE_RANGE, roff, "s",
			  "Record sequence number %llu does not follow %llu: seqs must strictly increase.",
			  (unsigned long long)*s, (unsigned long long)prev);
	return rc;
}

/* The records: each one's extent and "s" are message-level; anything else
 * wrong inside one refuses that record alone (out->bad). */
static int dec_recs(struct rd *r, struct odo_batch *out, uint64_t *first_s)
{
	uint64_t n = 0;
	size_t off = r->pos;
	int rc = rd_container(r, MT_ARRAY, "recs", &n);
	if (rc != ODO_OK)
		return rc;
	if (n > ODO_WIRE_MAX_RECORDS || n > out->cap)
		return fail(r, ODO_ERR_WIRE_TOOLONG, off, "recs",
			    "The batch holds %llu records; at most %zu are accepted.", (unsigned long long)n,
			    out->cap < ODO_WIRE_MAX_RECORDS ? out->cap : (size_t)ODO_WIRE_MAX_RECORDS);
	if (n == 0)
		return fail(r, ODO_ERR_WIRE_RANGE, off, "recs", "A batch must carry at least one record.");
	char prefix[32];
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n && rc == ODO_OK; i++) {
		snprintf(prefix, sizeof(prefix), "recs[%u].", (unsigned)i);
		r->prefix = prefix;
		size_t roff = r->pos;
		uint64_t npairs = 0, s = 0;
		/* extent: a well-formed map no deeper than the format allows */
		if ((rc = rd_container(r, MT_MAP, "", &npairs)) != ODO_OK)
			break;
		size_t body = r->pos;
		r->pos = roff;
		if ((rc = rd_skip_record(r)) != ODO_OK)
			break;
		size_t rlen = r->pos - roff;
		r->pos = body;
		if ((rc = rec_seq(r, roff, npairs, prev, i > 0, &s)) != ODO_OK)
			break;
		prev = s;
		if (i == 0)
			*first_s = s;
		out->last_seq = s;
		/* the record itself */
		struct odo_wire_error rerr;
		memset(&rerr, 0, sizeof(rerr));
		struct odo_wire_error *outer = r->err;
		r->err = &rerr;
		r->pos = roff;
		int rrc = dec_record(r, &out->recs[out->n]);
		r->err = outer;
		if (rrc == ODO_OK) {
			out->recs[out->n].off = roff;
			out->recs[out->n].len = rlen;
			out->n++;
		} else if (out->bad && out->nbad < out->bad_cap) {
			struct odo_wire_bad *b = &out->bad[out->nbad++];
			b->index = (size_t)i;
			b->seq = s;
			b->off = roff;
			b->len = rlen;
			b->err = rerr;
		} else {
			if (r->err)
				*r->err = rerr;
			rc = rrc;
		}
		r->pos = roff + rlen;
	}
	r->prefix = "";
	return rc;
}

int odo_wire_decode_batch(const uint8_t *buf, size_t len, const struct odo_wire_limits *lim,
			  struct odo_batch *out, struct odo_wire_error *err)
{
	err_clear(err);
	struct rd r = { buf, len, 0, err, "", ODO_WIRE_VERSION, lim };
	if (!out || (!buf && len) || (!out->recs && out->cap) || (!out->bad && out->bad_cap))
		return fail(&r, ODO_ERR_INVAL, 0, "", "No batch or no input was given.");
	out->v = 0;
	out->device[0] = 0;
	out->epoch = out->floor = out->seq = out->last_seq = 0;
	out->n = out->nbad = 0;
	int rc = check_size(&r, ODO_WIRE_MAX_MESSAGE, "batch");
	if (rc != ODO_OK)
		return rc;
	uint64_t npairs = 0, first_s = 0;
	size_t map_off = r.pos, seq_off = 0, af_off = 0, off;
	if ((rc = rd_container(&r, MT_MAP, "", &npairs)) != ODO_OK)
		return rc;
	find_version(&r, npairs);
	uint32_t seen = 0;
	const unsigned allowed = (1u << BK_V) | (1u << BK_DEV) | (1u << BK_EP) | (1u << BK_AF) | (1u << BK_SEQ) |
				 (1u << BK_RECS);
	for (uint64_t i = 0; i < npairs; i++) {
		int which = -1;
		if ((rc = top_key(&r, allowed, &seen, &which)) != ODO_OK)
			goto fail;
		switch (which) {
		case BK_V:
			rc = dec_version(&r, &out->v);
			break;
		case BK_DEV:
			rc = dec_dev(&r, out->device);
			break;
		case BK_EP:
			rc = dec_u63(&r, &wire__batch_ep, &out->epoch, &off);
			break;
		case BK_AF:
			rc = dec_u63(&r, &wire__batch_af, &out->floor, &af_off);
			break;
		case BK_SEQ:
			rc = dec_u63(&r, &wire__batch_seq, &out->seq, &seq_off);
			break;
		default:
			rc = dec_recs(&r, out, &first_s);
			break;
		}
		if (rc != ODO_OK)
			goto fail;
	}
	if ((rc = top_missing(&r, allowed, seen, map_off, "batch")) != ODO_OK)
		goto fail;
	if (out->floor >= out->seq) {
		rc = fail(&r, ODO_ERR_WIRE_RANGE, af_off, "af",
			  "Acked floor %llu is not below the range start %llu.", (unsigned long long)out->floor,
			  (unsigned long long)out->seq);
		goto fail;
	}
	if (out->seq > first_s) {
		rc = fail(&r, ODO_ERR_WIRE_RANGE, seq_off, "seq",
			  "Range start %llu is above the first record's sequence number %llu.",
			  (unsigned long long)out->seq, (unsigned long long)first_s);
		goto fail;
	}
	if ((rc = check_trailing(&r)) != ODO_OK)
		goto fail;
	return ODO_OK;
fail:
	out->n = out->nbad = 0;
	return rc;
}

int odo_wire_decode_ack(const uint8_t *buf, size_t len, struct odo_ack *out, struct odo_wire_error *err)
{
	err_clear(err);
	struct rd r = { buf, len, 0, err, "", ODO_WIRE_VERSION, NULL };
	if (!out || (!buf && len))
		return fail(&r, ODO_ERR_INVAL, 0, "", "No ack or no input was given.");
	memset(out, 0, sizeof(*out));
	int rc = check_size(&r, WIRE_MAX_ACK_BYTES, "ack");
	if (rc != ODO_OK)
		return rc;
	uint64_t npairs = 0;
	size_t map_off = r.pos, off;
	if ((rc = rd_container(&r, MT_MAP, "", &npairs)) != ODO_OK)
		return rc;
	find_version(&r, npairs);
	uint32_t seen = 0;
	const unsigned allowed = (1u << BK_V) | (1u << BK_DEV) | (1u << BK_EP) | (1u << BK_ACK);
	for (uint64_t i = 0; i < npairs; i++) {
		int which = -1;
		if ((rc = top_key(&r, allowed, &seen, &which)) != ODO_OK)
			return rc;
		if (which == BK_V)
			rc = dec_version(&r, &out->v);
		else if (which == BK_DEV)
			rc = dec_dev(&r, out->device);
		else if (which == BK_EP)
			rc = dec_u63(&r, &wire__batch_ep, &out->epoch, &off);
		else
			rc = dec_u63(&r, &wire__ack_ack, &out->ack, &off);
		if (rc != ODO_OK)
			return rc;
	}
	if ((rc = top_missing(&r, allowed, seen, map_off, "ack")) != ODO_OK)
		return rc;
	return check_trailing(&r);
}
