/*
 * odo — wire format encoder, version 2 (see odo/wire.h, wire_priv.h and
 * docs/wire-format.md).
 *
 * Uses libcbor's stateless, allocation-free cbor_encode_* functions into the
 * caller's buffer, driven by the field table. Every encoded record is decoded
 * again before it is reported as good, so the encoder never emits what the
 * decoder would reject.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cbor.h>

#include "wire_priv.h"

struct enc {
	uint8_t *buf;
	size_t cap, len;
	int rc;
};

/* Account for n bytes just written by a cbor_encode_* call. libcbor returns
 * 0 when the buffer is too small and then leaves it untouched (encoding.h). */
static void enc_took(struct enc *e, size_t n)
{
	if (n == 0)
		e->rc = ODO_ERR_TOOBIG;
	else
		e->len += n;
}

static unsigned char *enc_at(struct enc *e)
{
	return e->buf ? e->buf + e->len : NULL;
}

static size_t enc_room(const struct enc *e)
{
	return e->buf ? e->cap - e->len : 0;
}

static void enc_uint(struct enc *e, uint64_t v)
{
	if (e->rc == ODO_OK)
		enc_took(e, cbor_encode_uint(v, enc_at(e), enc_room(e)));
}

/* A signed integer: major type 0 or 1 (-1 - n). */
static void enc_int(struct enc *e, int64_t v)
{
	if (e->rc != ODO_OK)
		return;
	if (v >= 0)
		enc_took(e, cbor_encode_uint((uint64_t)v, enc_at(e), enc_room(e)));
	else
		enc_took(e, cbor_encode_negint((uint64_t)(-(v + 1)), enc_at(e), enc_room(e)));
}

static void enc_null(struct enc *e)
{
	if (e->rc == ODO_OK)
		enc_took(e, cbor_encode_null(enc_at(e), enc_room(e)));
}

static void enc_map(struct enc *e, size_t n)
{
	if (e->rc == ODO_OK)
		enc_took(e, cbor_encode_map_start(n, enc_at(e), enc_room(e)));
}

static void enc_array(struct enc *e, size_t n)
{
	if (e->rc == ODO_OK)
		enc_took(e, cbor_encode_array_start(n, enc_at(e), enc_room(e)));
}

static void enc_bool(struct enc *e, int v)
{
	if (e->rc == ODO_OK)
		enc_took(e, cbor_encode_bool(v != 0, enc_at(e), enc_room(e)));
}

static void enc_raw(struct enc *e, const uint8_t *p, size_t n)
{
	if (e->rc != ODO_OK)
		return;
	if (n > enc_room(e)) {
		e->rc = ODO_ERR_TOOBIG;
		return;
	}
	if (n)
		memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void enc_text(struct enc *e, const char *s, size_t n)
{
	if (e->rc != ODO_OK)
		return;
	enc_took(e, cbor_encode_string_start(n, enc_at(e), enc_room(e)));
	enc_raw(e, (const uint8_t *)s, n);
}

static void enc_key(struct enc *e, const char *k)
{
	enc_text(e, k, strlen(k));
}

/* Deterministic float rule: float32 when the value survives the round trip
 * through float exactly, else float64. Half precision is never produced. */
static void enc_double(struct enc *e, double d)
{
	if (e->rc != ODO_OK)
		return;
	if (fabs(d) <= FLT_MAX && (double)(float)d == d)
		enc_took(e, cbor_encode_single((float)d, enc_at(e), enc_room(e)));
	else
		enc_took(e, cbor_encode_double(d, enc_at(e), enc_room(e)));
}

static const void *fptr(const struct odo_record *r, const struct wire_fdesc *f)
{
	return (const char *)r + f->off;
}

static uint16_t list_count(const struct odo_record *r, const struct wire_fdesc *f)
{
	return *(const uint16_t *)((const char *)r + f->a->cnt_off);
}

static int64_t list_elem(const struct odo_record *r, const struct wire_fdesc *f, size_t i)
{
	const char *p = (const char *)fptr(r, f) + i * f->a->stride;
	switch (f->a->ctype) {
	case C_U32:
		return *(const uint32_t *)p;
	case C_I32:
		return *(const int32_t *)p;
	default:
		return *(const int16_t *)p;
	}
}

/* Is field f present in r (i.e. will it be encoded)? */
static int field_present(const struct odo_record *r, const struct wire_fdesc *f)
{
	switch (f->type) {
	case FT_DBL:
		return (f->flags & F_REQ) || !isnan(*(const double *)fptr(r, f));
	case FT_MIL:
		return *(const int *)fptr(r, f) != -1;
	case FT_OI32:
		return *(const int32_t *)fptr(r, f) != -1;
	case FT_DTCS:
		return r->u.dtc.n[f->off] != 0;
	default:
		return 1;
	}
}

static int enc_list(struct enc *e, const struct odo_record *r, const struct wire_fdesc *f)
{
	const struct wire_adesc *a = f->a;
	uint16_t n = list_count(r, f);
	if (n < 1 || n > a->maxn)
		return ODO_ERR_INVAL;
	enc_array(e, n);
	int64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v = list_elem(r, f, i);
		if ((a->flags & A_NULL) && v == -1) {
			enc_null(e);
			continue;
		}
		if (v < a->min || v > a->max)
			return ODO_ERR_INVAL;
		if (a->flags & A_DELTA) {
			enc_int(e, v - prev); /* |difference| < 2^32: no overflow */
			prev = v;
		} else {
			enc_int(e, v);
		}
	}
	return ODO_OK;
}

static int enc_field(struct enc *e, const struct odo_record *r, const struct wire_fdesc *f)
{
	const void *p = fptr(r, f);
	enc_key(e, f->key);
	switch (f->type) {
	case FT_U8:
		enc_uint(e, *(const uint8_t *)p);
		break;
	case FT_U16:
		enc_uint(e, *(const uint16_t *)p);
		break;
	case FT_U32:
		enc_uint(e, *(const uint32_t *)p);
		break;
	case FT_U64:
		enc_uint(e, *(const uint64_t *)p);
		break;
	case FT_I64: {
		int64_t v = *(const int64_t *)p;
		if (v < 0)
			return ODO_ERR_INVAL;
		enc_uint(e, (uint64_t)v);
		break;
	}
	case FT_OI32: {
		int32_t v = *(const int32_t *)p;
		if (v < 0)
			return ODO_ERR_INVAL;
		enc_uint(e, (uint64_t)v);
		break;
	}
	case FT_DBL: {
		double d = *(const double *)p;
		if (!isfinite(d))
			return ODO_ERR_INVAL;
		enc_double(e, d);
		break;
	}
	case FT_BOOL:
	case FT_MIL: {
		int v = *(const int *)p;
		if (v != 0 && v != 1)
			return ODO_ERR_INVAL;
		enc_bool(e, v);
		break;
	}
	case FT_VIN: {
		const char *vin = (const char *)p;
		enc_text(e, vin, strnlen(vin, ODO_VIN_LEN + 1));
		break;
	}
	case FT_DTCS: {
		unsigned n = r->u.dtc.n[f->off];
		if (n > ODO_WIRE_MAX_DTCS)
			return ODO_ERR_INVAL;
		enc_array(e, n);
		for (unsigned i = 0; i < n; i++) {
			const char *c = r->u.dtc.codes[f->off][i];
			enc_text(e, c, strnlen(c, ODO_DTC_LEN + 1));
		}
		break;
	}
	case FT_ARR:
		return enc_list(e, r, f);
	default:
		return ODO_ERR_INVAL;
	}
	return ODO_OK;
}

/* Encode r at the end of e without validating it. */
static int enc_record(struct enc *e, const struct odo_record *r)
{
	if (r->kind < 1 || r->kind > ODO_REC__MAX)
		return ODO_ERR_INVAL;
	const struct wire_kdesc *k = &wire__kinds[r->kind];
	size_t nkeys = wire__ncommon;
	for (size_t i = 0; i < k->n; i++)
		nkeys += (size_t)field_present(r, &k->f[i]);
	enc_map(e, nkeys);
	for (size_t i = 0; i < wire__ncommon; i++) {
		int rc = enc_field(e, r, &wire__common[i]);
		if (rc != ODO_OK)
			return rc;
	}
	for (size_t i = 0; i < k->n; i++) {
		if (!field_present(r, &k->f[i]))
			continue;
		int rc = enc_field(e, r, &k->f[i]);
		if (rc != ODO_OK)
			return rc;
	}
	return e->rc;
}

int odo_wire_encode_record(const struct odo_record *r, uint8_t *buf, size_t cap, size_t *len)
{
	if (!r || !len || (!buf && cap))
		return ODO_ERR_INVAL;
	/* Validate first (into a private buffer) so INVAL wins over TOOBIG and
	 * the answer does not depend on the caller's buffer size. */
	uint8_t tmp[ODO_WIRE_MAX_RECORD_BYTES];
	struct enc e = { tmp, sizeof(tmp), 0, ODO_OK };
	int rc = enc_record(&e, r);
	if (rc == ODO_ERR_TOOBIG)
		return ODO_ERR_INVAL; /* larger than any record may be */
	if (rc != ODO_OK)
		return rc;
	struct odo_record back;
	if (odo_wire_decode_record(tmp, e.len, &back, NULL) != ODO_OK)
		return ODO_ERR_INVAL;
	if (e.len > cap)
		return ODO_ERR_TOOBIG;
	memcpy(buf, tmp, e.len);
	*len = e.len;
	return ODO_OK;
}

static int header_ok(const char *device, uint64_t epoch, uint64_t floor, uint64_t seq, size_t n)
{
	return odo_wire_device_id_valid(device) && n >= 1 && n <= ODO_WIRE_MAX_RECORDS && seq >= 1 &&
	       seq <= ODO_WIRE_MAX_U63 && epoch <= ODO_WIRE_MAX_U63 && floor < seq;
}

static void enc_header(struct enc *e, const char *device, uint64_t epoch, uint64_t floor, uint64_t seq, size_t n)
{
	enc_map(e, 6);
	enc_key(e, "v");
	enc_uint(e, ODO_WIRE_VERSION);
	enc_key(e, "dev");
	enc_text(e, device, strlen(device));
	enc_key(e, "ep");
	enc_uint(e, epoch);
	enc_key(e, "af");
	enc_uint(e, floor);
	enc_key(e, "seq");
	enc_uint(e, seq);
	enc_key(e, "recs");
	enc_array(e, n);
}

int odo_wire_encode_batch(const char *device, uint64_t epoch, uint64_t floor, uint64_t seq,
			  const struct odo_record *recs, size_t n, uint8_t *buf, size_t cap, size_t *len)
{
	if (!len || (!buf && cap) || (!recs && n))
		return ODO_ERR_INVAL;
	if (!header_ok(device, epoch, floor, seq, n) || seq > recs[0].seq)
		return ODO_ERR_INVAL;
	for (size_t i = 1; i < n; i++)
		if (recs[i].seq <= recs[i - 1].seq)
			return ODO_ERR_INVAL;
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_header(&e, device, epoch, floor, seq, n);
	int toobig = e.rc != ODO_OK;
	for (size_t i = 0; i < n; i++) {
		size_t rl = 0;
		int rc = odo_wire_encode_record(&recs[i], enc_at(&e), toobig ? 0 : enc_room(&e), &rl);
		if (rc == ODO_ERR_TOOBIG)
			toobig = 1; /* keep going: an invalid later record still says INVAL */
		else if (rc != ODO_OK)
			return rc;
		else
			e.len += rl;
	}
	if (toobig)
		return ODO_ERR_TOOBIG;
	if (e.len > ODO_WIRE_MAX_MESSAGE)
		return ODO_ERR_TOOBIG;
	*len = e.len;
	return ODO_OK;
}

int odo_wire_encode_batch_raw(const char *device, uint64_t epoch, uint64_t floor, uint64_t seq, size_t n,
			      const uint8_t *recs_cbor, size_t recs_len, uint8_t *buf, size_t cap, size_t *len)
{
	if (!len || (!buf && cap) || (!recs_cbor && recs_len))
		return ODO_ERR_INVAL;
	if (!header_ok(device, epoch, floor, seq, n) || recs_len < n)
		return ODO_ERR_INVAL;
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_header(&e, device, epoch, floor, seq, n);
	enc_raw(&e, recs_cbor, recs_len);
	if (e.rc != ODO_OK)
		return e.rc;
	if (e.len > ODO_WIRE_MAX_MESSAGE)
		return ODO_ERR_TOOBIG;
	*len = e.len;
	return ODO_OK;
}

int odo_wire_encode_ack(const struct odo_ack *a, uint8_t *buf, size_t cap, size_t *len)
{
	if (!a || !len || (!buf && cap))
		return ODO_ERR_INVAL;
	if (!odo_wire_device_id_valid(a->device) || a->ack > ODO_WIRE_MAX_U63 || a->epoch > ODO_WIRE_MAX_U63)
		return ODO_ERR_INVAL;
	if (a->v != 1 && a->v != 2)
		return ODO_ERR_INVAL;
	if (a->v == 1 && a->epoch != 0)
		return ODO_ERR_INVAL; /* version 1 has only epoch 0 */
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_map(&e, a->v == 1 ? 3 : 4);
	enc_key(&e, "v");
	enc_uint(&e, a->v);
	enc_key(&e, "dev");
	enc_text(&e, a->device, strlen(a->device));
	if (a->v >= 2) {
		enc_key(&e, "ep");
		enc_uint(&e, a->epoch);
	}
	enc_key(&e, "ack");
	enc_uint(&e, a->ack);
	if (e.rc != ODO_OK)
		return e.rc;
	*len = e.len;
	return ODO_OK;
}
