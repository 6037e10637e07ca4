/*
 * odo — wire format version 1 (see odo/wire.h and docs/wire-format.md).
 *
 * Both directions are driven by one table per record kind (key, C type,
 * struct offset, range), so the encoder and the decoder cannot disagree on
 * names or ranges.
 *
 * Encoding uses libcbor's stateless, allocation-free cbor_encode_* functions
 * into the caller's buffer. Every encoded record is decoded again before it is
 * reported as good, so the encoder never emits what the decoder would reject.
 *
 * Decoding is a small hand-written reader for definite-length CBOR rather
 * than libcbor's cbor_stream_decode(): the format is a handful of flat maps,
 * so reading the expected type at each step needs no callback state machine,
 * knows the exact byte offset of every item for error reports, rejects
 * indefinite lengths and tags at the head byte, and never recurses into
 * anything the format does not contain. The only generic walk (finding "k"
 * before the kind-specific keys) is depth-limited.
 */
#include "odo/wire.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cbor.h>

/* Largest ack message accepted by the decoder. */
#define WIRE_MAX_ACK_BYTES 256
/* Longest map key in the format ("canerr", "gpserr", ...), plus slack. */
#define WIRE_MAX_KEY 16
/* Deepest nesting the generic skipper walks (record map > DTC list > code). */
#define WIRE_SKIP_DEPTH 3

/* ---------------------------------------------------------------- tables */

enum ftype {
	FT_U8,    /* uint8_t, CBOR unsigned */
	FT_U16,   /* uint16_t */
	FT_U32,   /* uint32_t */
	FT_U64,   /* uint64_t */
	FT_I64,   /* int64_t, non-negative on the wire */
	FT_DBL,   /* double, CBOR float; NaN = absent when optional */
	FT_BOOL,  /* int 0/1, CBOR true/false */
	FT_MIL,   /* int -1/0/1, CBOR true/false, -1 = absent */
	FT_VIN,   /* char[18], text of 17 or 0 characters */
	FT_DTCS,  /* one DTC list; `off` is the list index */
};

#define F_REQ 1u    /* required */
#define F_HIEXCL 2u /* upper bound exclusive */

struct fdesc {
	const char *key;
	unsigned char type;
	unsigned char flags;
	size_t off;
	uint64_t umin, umax; /* integer types */
	double lo, hi;       /* FT_DBL */
};

#define OFF(m) offsetof(struct odo_record, m)
#define U(k, t, m, mn, mx) { k, t, F_REQ, OFF(m), mn, mx, 0, 0 }
#define D(k, m, fl, ...) { k, FT_DBL, fl, OFF(m), 0, 0, __VA_ARGS__ }
#define B(k, m) { k, FT_BOOL, F_REQ, OFF(m), 0, 1, 0, 0 }
#define INF HUGE_VAL
#define ANY -INF, INF
#define NONNEG 0.0, INF
#define PCT 0.0, 100.0

static const struct fdesc common_fields[] = {
	U("s", FT_U64, seq, 1, UINT64_MAX),
	U("t", FT_I64, t_ms, 0, INT64_MAX),
	U("ts", FT_U8, tsrc, 0, ODO_TSRC_SYSTEM),
	U("k", FT_U8, kind, 1, ODO_REC__MAX),
};
#define COMMON_K 3 /* index of "k" above */

static const struct fdesc trip_start_fields[] = {
	U("trip", FT_U64, u.trip_start.trip_id, 0, UINT64_MAX),
	D("lat", u.trip_start.lat, 0, -90.0, 90.0),
	D("lon", u.trip_start.lon, 0, -180.0, 180.0),
};

static const struct fdesc trip_end_fields[] = {
	U("trip", FT_U64, u.trip_end.trip_id, 0, UINT64_MAX),
	U("t0", FT_I64, u.trip_end.start_ms, 0, INT64_MAX),
	U("t1", FT_I64, u.trip_end.end_ms, 0, INT64_MAX),
	D("dist", u.trip_end.distance_m, F_REQ, NONNEG),
	D("odist", u.trip_end.obd_distance_m, 0, NONNEG),
	D("dur", u.trip_end.duration_s, F_REQ, NONNEG),
	D("mov", u.trip_end.moving_s, F_REQ, NONNEG),
	D("idle", u.trip_end.idle_s, F_REQ, NONNEG),
	D("vavg", u.trip_end.avg_speed_mps, F_REQ, NONNEG),
	D("vmax", u.trip_end.max_speed_mps, F_REQ, NONNEG),
	D("rpm", u.trip_end.avg_rpm, 0, NONNEG),
	D("night", u.trip_end.night_m, F_REQ, NONNEG),
	D("lnw", u.trip_end.late_night_weekend_m, F_REQ, NONNEG),
	D("rush", u.trip_end.rush_hour_m, F_REQ, NONNEG),
	D("heavy", u.trip_end.heavy_traffic_m, F_REQ, NONNEG),
	D("wiper", u.trip_end.wiper_m, 0, NONNEG),
	D("scr", u.trip_end.screen_on_s, F_REQ, NONNEG),
	D("call", u.trip_end.handheld_call_s, F_REQ, NONNEG),
	U("phc", FT_U32, u.trip_end.phone_handled_count, 0, UINT32_MAX),
	U("hb", FT_U32, u.trip_end.hard_brakes, 0, UINT32_MAX),
	U("ra", FT_U32, u.trip_end.rapid_accels, 0, UINT32_MAX),
	U("hc", FT_U32, u.trip_end.harsh_corners, 0, UINT32_MAX),
	U("sw", FT_U32, u.trip_end.swerves, 0, UINT32_MAX),
	U("cr", FT_U32, u.trip_end.crashes, 0, UINT32_MAX),
	D("jerk", u.trip_end.mean_abs_jerk, F_REQ, NONNEG),
	D("acc", u.trip_end.gps_accuracy_m, 0, NONNEG),
	B("dtc", u.trip_end.has_dtc),
	B("air", u.trip_end.airbag_deployed),
};

static const struct fdesc event_fields[] = {
	U("trip", FT_U64, u.event.trip_id, 0, UINT64_MAX),
	U("ek", FT_U8, u.event.kind, 1, ODO_EV__MAX),
	U("src", FT_U8, u.event.source, 0, ODO_EVSRC_PHONE),
	U("dur", FT_I64, u.event.duration_ms, 0, INT64_MAX),
	D("pk", u.event.peak_g, 0, ANY),  /* required unless phone distraction */
	D("mg", u.event.mean_g, 0, ANY),  /* idem */
	D("v0", u.event.speed_before_mps, 0, NONNEG),
	D("v1", u.event.speed_after_mps, 0, NONNEG),
	D("lat", u.event.lat, 0, -90.0, 90.0),
	D("lon", u.event.lon, 0, -180.0, 180.0),
	D("hdg", u.event.heading_deg, F_HIEXCL, 0.0, 360.0),
};

static const struct fdesc sample_fields[] = {
	U("trip", FT_U64, u.sample.trip_id, 0, UINT64_MAX),
	U("fix", FT_U8, u.sample.fix, 0, ODO_FIX_3D),
	D("lat", u.sample.lat, 0, -90.0, 90.0),
	D("lon", u.sample.lon, 0, -180.0, 180.0),
	D("v", u.sample.speed_mps, 0, NONNEG),
	D("hdg", u.sample.heading_deg, F_HIEXCL, 0.0, 360.0),
	D("eph", u.sample.eph_m, 0, NONNEG),
	D("alt", u.sample.alt_m, 0, ANY),
	D("rpm", u.sample.rpm, 0, NONNEG),
	D("ov", u.sample.obd_speed_mps, 0, NONNEG),
	D("thr", u.sample.throttle_pct, 0, PCT),
	D("cool", u.sample.coolant_c, 0, ANY),
	D("fuel", u.sample.fuel_pct, 0, PCT),
	D("ax", u.sample.ax_g, 0, ANY),
	D("ay", u.sample.ay_g, 0, ANY),
};

static const struct fdesc dtc_fields[] = {
	U("ecu", FT_U16, u.dtc.ecu, 0, UINT16_MAX),
	{ "mil", FT_MIL, 0, OFF(u.dtc.mil), 0, 1, 0, 0 },
	{ "st", FT_DTCS, 0, ODO_DTC_STORED, 0, ODO_WIRE_MAX_DTCS, 0, 0 },
	{ "pd", FT_DTCS, 0, ODO_DTC_PENDING, 0, ODO_WIRE_MAX_DTCS, 0, 0 },
	{ "pm", FT_DTCS, 0, ODO_DTC_PERMANENT, 0, ODO_WIRE_MAX_DTCS, 0, 0 },
	B("air", u.dtc.airbag_deployed),
};

static const struct fdesc vehicle_fields[] = {
	{ "vin", FT_VIN, F_REQ, OFF(u.vehicle.vin), 0, ODO_VIN_LEN, 0, 0 },
	U("ecu", FT_U16, u.vehicle.ecu, 0, UINT16_MAX),
};

static const struct fdesc phone_fields[] = {
	B("scr", u.phone.screen_on),
	U("call", FT_U8, u.phone.call, 0, ODO_CALL_HANDSFREE),
	B("hand", u.phone.handled),
};

static const struct fdesc status_fields[] = {
	U("up", FT_U64, u.status.uptime_s, 0, UINT64_MAX),
	U("obd", FT_U64, u.status.outbox_depth, 0, UINT64_MAX),
	U("oage", FT_U64, u.status.outbox_oldest_age_s, 0, UINT64_MAX),
	U("evict", FT_U64, u.status.evicted, 0, UINT64_MAX),
	U("rc", FT_U64, u.status.reconnects, 0, UINT64_MAX),
	U("canerr", FT_U64, u.status.can_errors, 0, UINT64_MAX),
	U("gpserr", FT_U64, u.status.gps_errors, 0, UINT64_MAX),
	U("accerr", FT_U64, u.status.accel_errors, 0, UINT64_MAX),
	U("fix", FT_U8, u.status.fix, 0, ODO_FIX_3D),
	U("clk", FT_U8, u.status.clock_source, 0, ODO_TSRC_SYSTEM),
};

struct kdesc {
	const char *name;
	const struct fdesc *f;
	size_t n;
};

#define KD(nm, t) { nm, t, ODO_ARRAY_LEN(t) }
static const struct kdesc kinds[ODO_REC__MAX + 1] = {
	[ODO_REC_TRIP_START] = KD("trip_start", trip_start_fields),
	[ODO_REC_TRIP_END] = KD("trip_end", trip_end_fields),
	[ODO_REC_EVENT] = KD("event", event_fields),
	[ODO_REC_SAMPLE] = KD("sample", sample_fields),
	[ODO_REC_DTC] = KD("dtc", dtc_fields),
	[ODO_REC_VEHICLE] = KD("vehicle", vehicle_fields),
	[ODO_REC_PHONE] = KD("phone", phone_fields),
	[ODO_REC_STATUS] = KD("status", status_fields),
};

static const char *const event_names[ODO_EV__MAX + 1] = {
	[ODO_EV_HARD_BRAKE] = "hard_brake",
	[ODO_EV_RAPID_ACCEL] = "rapid_accel",
	[ODO_EV_CORNER_LEFT] = "corner_left",
	[ODO_EV_CORNER_RIGHT] = "corner_right",
	[ODO_EV_SWERVE] = "swerve",
	[ODO_EV_CRASH] = "crash",
	[ODO_EV_PHONE_DISTRACTION] = "phone_distraction",
};

/* ---------------------------------------------------------------- helpers */

void odo_record_init(struct odo_record *r, enum odo_record_kind kind)
{
	if (!r)
		return;
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	r->tsrc = ODO_TSRC_SYSTEM;
	if ((int)kind < 1 || (int)kind > ODO_REC__MAX)
		return;
	const struct kdesc *k = &kinds[kind];
	for (size_t i = 0; i < k->n; i++) {
		const struct fdesc *f = &k->f[i];
		if (f->type == FT_DBL && !(f->flags & F_REQ))
			*(double *)((char *)r + f->off) = NAN;
		else if (f->type == FT_MIL)
			*(int *)((char *)r + f->off) = -1;
	}
	/* The event's peak/mean are required except for phone events; absent
	 * by default so a forgotten value is caught by the encoder. */
}

int odo_wire_device_id_valid(const char *id)
{
	if (!id)
		return 0;
	size_t n = 0;
	for (; id[n]; n++) {
		char c = id[n];
		if (n >= ODO_DEVICE_ID_MAX)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1;
}

const char *odo_record_kind_name(int kind)
{
	if (kind < 1 || kind > ODO_REC__MAX)
		return "?";
	return kinds[kind].name;
}

const char *odo_event_kind_name(int kind)
{
	if (kind < 1 || kind > ODO_EV__MAX)
		return "?";
	return event_names[kind];
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

/* ---------------------------------------------------------------- encoder */

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

static const void *fptr(const struct odo_record *r, const struct fdesc *f)
{
	return (const char *)r + f->off;
}

/* Is field f present in r (i.e. will it be encoded)? */
static int field_present(const struct odo_record *r, const struct fdesc *f)
{
	switch (f->type) {
	case FT_DBL:
		return (f->flags & F_REQ) || !isnan(*(const double *)fptr(r, f));
	case FT_MIL:
		return *(const int *)fptr(r, f) != -1;
	case FT_DTCS:
		return r->u.dtc.n[f->off] != 0;
	default:
		return 1;
	}
}

static int enc_field(struct enc *e, const struct odo_record *r, const struct fdesc *f)
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
	const struct kdesc *k = &kinds[r->kind];
	size_t nkeys = ODO_ARRAY_LEN(common_fields);
	for (size_t i = 0; i < k->n; i++)
		nkeys += (size_t)field_present(r, &k->f[i]);
	enc_map(e, nkeys);
	for (size_t i = 0; i < ODO_ARRAY_LEN(common_fields); i++) {
		int rc = enc_field(e, r, &common_fields[i]);
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

static void enc_header(struct enc *e, const char *device, uint64_t seq, size_t n)
{
	enc_map(e, 4);
	enc_key(e, "v");
	enc_uint(e, ODO_WIRE_VERSION);
	enc_key(e, "dev");
	enc_text(e, device, strlen(device));
	enc_key(e, "seq");
	enc_uint(e, seq);
	enc_key(e, "recs");
	enc_array(e, n);
}

int odo_wire_encode_batch(const char *device, uint64_t seq, const struct odo_record *recs, size_t n,
			  uint8_t *buf, size_t cap, size_t *len)
{
	if (!len || (!buf && cap) || (!recs && n))
		return ODO_ERR_INVAL;
	if (!odo_wire_device_id_valid(device) || n < 1 || n > ODO_WIRE_MAX_RECORDS || seq < 1)
		return ODO_ERR_INVAL;
	if (seq > recs[0].seq)
		return ODO_ERR_INVAL;
	for (size_t i = 1; i < n; i++)
		if (recs[i].seq <= recs[i - 1].seq)
			return ODO_ERR_INVAL;
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_header(&e, device, seq, n);
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

int odo_wire_encode_batch_raw(const char *device, uint64_t seq, size_t n, const uint8_t *recs_cbor,
			      size_t recs_len, uint8_t *buf, size_t cap, size_t *len)
{
	if (!len || (!buf && cap) || (!recs_cbor && recs_len))
		return ODO_ERR_INVAL;
	if (!odo_wire_device_id_valid(device) || n < 1 || n > ODO_WIRE_MAX_RECORDS || seq < 1 ||
	    recs_len < n)
		return ODO_ERR_INVAL;
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_header(&e, device, seq, n);
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
	if (!odo_wire_device_id_valid(a->device))
		return ODO_ERR_INVAL;
	struct enc e = { buf, cap, 0, ODO_OK };
	enc_map(&e, 3);
	enc_key(&e, "v");
	enc_uint(&e, ODO_WIRE_VERSION);
	enc_key(&e, "dev");
	enc_text(&e, a->device, strlen(a->device));
	enc_key(&e, "ack");
	enc_uint(&e, a->ack);
	if (e.rc != ODO_OK)
		return e.rc;
	*len = e.len;
	return ODO_OK;
}

/* ---------------------------------------------------------------- decoder */

enum { MT_UINT = 0, MT_NEG = 1, MT_BYTES = 2, MT_TEXT = 3, MT_ARRAY = 4, MT_MAP = 5, MT_TAG = 6, MT_SIMPLE = 7 };

struct rd {
	const uint8_t *b;
	size_t len, pos;
	struct odo_wire_error *err;
	const char *prefix; /* field path prefix, e.g. "recs[3]." */
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

/* Skip one well-formed item, nesting at most `depth` more levels. */
static int rd_skip(struct rd *r, int depth)
{
	struct head h;
	int rc = rd_head(r, &h, "");
	if (rc != ODO_OK)
		return rc;
	switch (h.major) {
	case MT_BYTES:
	case MT_TEXT:
		if (h.val > r->len - r->pos)
			return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, "",
				    "The string at offset %zu runs past the end of the message.", h.off);
		r->pos += (size_t)h.val;
		return ODO_OK;
	case MT_ARRAY:
	case MT_MAP:
	case MT_TAG: {
		if (depth <= 0)
			return fail(r, ODO_ERR_WIRE_TYPE, h.off, "",
				    "The item at offset %zu is nested deeper than the format allows.", h.off);
		uint64_t items = h.major == MT_TAG ? 1 : h.major == MT_MAP ? h.val * 2 : h.val;
		if (h.major == MT_MAP && h.val > (r->len - r->pos) / 2)
			return fail(r, ODO_ERR_WIRE_MALFORMED, h.off, "",
				    "The map at offset %zu claims more entries than the message holds.", h.off);
		for (uint64_t i = 0; i < items; i++)
			if ((rc = rd_skip(r, depth - 1)) != ODO_OK)
				return rc;
		return ODO_OK;
	}
	default:
		return ODO_OK;
	}
}

static int check_uint(struct rd *r, const struct fdesc *f, uint64_t v, size_t off)
{
	if (v < f->umin || v > f->umax)
		return fail(r, ODO_ERR_WIRE_RANGE, off, f->key,
			    "Field \"%s%s\" is %llu; it must be between %llu and %llu.", r->prefix, f->key,
			    (unsigned long long)v, (unsigned long long)f->umin, (unsigned long long)f->umax);
	return ODO_OK;
}

static int dec_dtcs(struct rd *r, const struct fdesc *f, struct odo_record *out)
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

static int dec_field(struct rd *r, const struct fdesc *f, struct odo_record *out)
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
		if ((rc = rd_uint(r, f->key, &u, &off)) != ODO_OK)
			return rc;
		if ((rc = check_uint(r, f, u, off)) != ODO_OK)
			return rc;
		if (f->type == FT_U8)
			*(uint8_t *)p = (uint8_t)u;
		else if (f->type == FT_U16)
			*(uint16_t *)p = (uint16_t)u;
		else if (f->type == FT_U32)
			*(uint32_t *)p = (uint32_t)u;
		else if (f->type == FT_U64)
			*(uint64_t *)p = u;
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
	default:
		return fail(r, ODO_ERR_WIRE_TYPE, off, f->key, "Field \"%s%s\" has no decoder.", r->prefix, f->key);
	}
}

static const struct fdesc *lookup(const struct fdesc *t, size_t n, const char *key, size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0) {
			*idx = i;
			return &t[i];
		}
	return NULL;
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
	uint64_t kind = 0;
	int have_k = 0;
	for (uint64_t i = 0; i < npairs && !have_k; i++) {
		char key[WIRE_MAX_KEY];
		size_t koff;
		if ((rc = rd_key(r, key, &koff)) != ODO_OK)
			return rc;
		if (strcmp(key, "k") == 0) {
			size_t voff;
			if ((rc = rd_uint(r, "k", &kind, &voff)) != ODO_OK)
				return rc;
			if (kind < 1 || kind > ODO_REC__MAX)
				return fail(r, ODO_ERR_WIRE_UNKNOWN, voff, "k",
					    "Record kind %llu is not known to wire version %d.",
					    (unsigned long long)kind, ODO_WIRE_VERSION);
			have_k = 1;
		} else if ((rc = rd_skip(r, WIRE_SKIP_DEPTH - 1)) != ODO_OK) {
			return rc;
		}
	}
	if (!have_k)
		return fail(r, ODO_ERR_WIRE_MISSING, map_off, "k", "The record at offset %zu has no kind \"k\".",
			    map_off);

	/* Pass 2: decode every key in place. */
	odo_record_init(out, (enum odo_record_kind)kind);
	const struct kdesc *k = &kinds[kind];
	uint64_t seen_common = 0, seen = 0;
	r->pos = body;
	for (uint64_t i = 0; i < npairs; i++) {
		char key[WIRE_MAX_KEY];
		size_t koff, idx;
		if ((rc = rd_key(r, key, &koff)) != ODO_OK)
			return rc;
		const struct fdesc *f;
		uint64_t *mask;
		if ((f = lookup(common_fields, ODO_ARRAY_LEN(common_fields), key, &idx)))
			mask = &seen_common;
		else if ((f = lookup(k->f, k->n, key, &idx)))
			mask = &seen;
		else
			return fail(r, ODO_ERR_WIRE_UNKNOWN, koff, key,
				    "Key \"%s\" is not defined for %s records in wire version %d.", key, k->name,
				    ODO_WIRE_VERSION);
		if (*mask & ((uint64_t)1 << idx))
			return fail(r, ODO_ERR_WIRE_DUPLICATE, koff, key, "Key \"%s%s\" appears twice in one record.",
				    r->prefix, key);
		*mask |= (uint64_t)1 << idx;
		if ((rc = dec_field(r, f, out)) != ODO_OK)
			return rc;
	}

	for (size_t i = 0; i < ODO_ARRAY_LEN(common_fields); i++)
		if (!(seen_common & ((uint64_t)1 << i)))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, common_fields[i].key,
				    "Required field \"%s%s\" is missing.", r->prefix, common_fields[i].key);
	for (size_t i = 0; i < k->n; i++)
		if ((k->f[i].flags & F_REQ) && !(seen & ((uint64_t)1 << i)))
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, k->f[i].key,
				    "Required field \"%s%s\" is missing from a %s record.", r->prefix, k->f[i].key,
				    k->name);

	/* Rules across fields. */
	const double *lat = NULL, *lon = NULL;
	if (kind == ODO_REC_TRIP_START)
		lat = &out->u.trip_start.lat, lon = &out->u.trip_start.lon;
	else if (kind == ODO_REC_EVENT)
		lat = &out->u.event.lat, lon = &out->u.event.lon;
	else if (kind == ODO_REC_SAMPLE)
		lat = &out->u.sample.lat, lon = &out->u.sample.lon;
	if (lat && isnan(*lat) != isnan(*lon))
		return fail(r, ODO_ERR_WIRE_MISSING, map_off, isnan(*lat) ? "lat" : "lon",
			    "Field \"%s%s\" is missing: lat and lon come together.", r->prefix,
			    isnan(*lat) ? "lat" : "lon");
	if (kind == ODO_REC_EVENT && out->u.event.kind != ODO_EV_PHONE_DISTRACTION) {
		const char *miss = isnan(out->u.event.peak_g) ? "pk" : isnan(out->u.event.mean_g) ? "mg" : NULL;
		if (miss)
			return fail(r, ODO_ERR_WIRE_MISSING, map_off, miss,
				    "Field \"%s%s\" is required for %s events.", r->prefix, miss,
				    odo_event_kind_name(out->u.event.kind));
	}
	if (kind == ODO_REC_TRIP_END && out->u.trip_end.end_ms < out->u.trip_end.start_ms)
		return fail(r, ODO_ERR_WIRE_RANGE, map_off, "t1",
			    "Field \"%st1\" (trip end) is before \"t0\" (trip start).", r->prefix);
	return ODO_OK;
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
	struct rd r = { buf, len, 0, err, "" };
	if (!out || (!buf && len))
		return fail(&r, ODO_ERR_INVAL, 0, "", "No record or no input was given.");
	int rc = check_size(&r, ODO_WIRE_MAX_RECORD_BYTES, "record");
	if (rc == ODO_OK)
		rc = dec_record(&r, out);
	if (rc == ODO_OK)
		rc = check_trailing(&r);
	return rc;
}

/* The keys of a batch and of an ack. */
enum { BK_V, BK_DEV, BK_SEQ, BK_RECS, BK_ACK, BK__N };
static const char *const top_keys[BK__N] = { "v", "dev", "seq", "recs", "ack" };

static int top_key(struct rd *r, int allowed_mask, uint32_t *seen, int *which)
{
	char key[WIRE_MAX_KEY];
	size_t koff;
	int rc = rd_key(r, key, &koff);
	if (rc != ODO_OK)
		return rc;
	for (int i = 0; i < BK__N; i++) {
		if (!(allowed_mask & (1 << i)) || strcmp(key, top_keys[i]) != 0)
			continue;
		if (*seen & (1u << i))
			return fail(r, ODO_ERR_WIRE_DUPLICATE, koff, key, "Key \"%s\" appears twice.", key);
		*seen |= 1u << i;
		*which = i;
		return ODO_OK;
	}
	return fail(r, ODO_ERR_WIRE_UNKNOWN, koff, key, "Key \"%s\" is not defined in wire version %d.", key,
		    ODO_WIRE_VERSION);
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
	if (u != ODO_WIRE_VERSION)
		return fail(r, ODO_ERR_WIRE_VERSION, off, "v", "Wire version %llu is not supported; only %d is.",
			    (unsigned long long)u, ODO_WIRE_VERSION);
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

static int dec_recs(struct rd *r, struct odo_batch *out)
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
	for (uint64_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "recs[%u].", (unsigned)i);
		r->prefix = prefix;
		size_t roff = r->pos;
		rc = dec_record(r, &out->recs[i]);
		if (rc == ODO_OK && i > 0 && out->recs[i].seq <= out->recs[i - 1].seq)
			rc = fail(r, ODO_ERR_WIRE_RANGE, roff, "s",
				  "Record sequence number %llu does not follow %llu: seqs must strictly increase.",
				  (unsigned long long)out->recs[i].seq, (unsigned long long)out->recs[i - 1].seq);
		r->prefix = "";
		if (rc != ODO_OK)
			return rc;
	}
	out->n = (size_t)n;
	return ODO_OK;
}

int odo_wire_decode_batch(const uint8_t *buf, size_t len, struct odo_batch *out, struct odo_wire_error *err)
{
	err_clear(err);
	struct rd r = { buf, len, 0, err, "" };
	if (!out || (!buf && len) || (!out->recs && out->cap))
		return fail(&r, ODO_ERR_INVAL, 0, "", "No batch or no input was given.");
	out->v = 0;
	out->device[0] = 0;
	out->seq = 0;
	out->n = 0;
	int rc = check_size(&r, ODO_WIRE_MAX_MESSAGE, "batch");
	if (rc != ODO_OK)
		return rc;
	uint64_t npairs = 0;
	size_t map_off = r.pos, seq_off = 0;
	if ((rc = rd_container(&r, MT_MAP, "", &npairs)) != ODO_OK)
		return rc;
	uint32_t seen = 0;
	for (uint64_t i = 0; i < npairs; i++) {
		int which = -1;
		if ((rc = top_key(&r, (1 << BK_V) | (1 << BK_DEV) | (1 << BK_SEQ) | (1 << BK_RECS), &seen,
				  &which)) != ODO_OK)
			goto fail;
		switch (which) {
		case BK_V:
			rc = dec_version(&r, &out->v);
			break;
		case BK_DEV:
			rc = dec_dev(&r, out->device);
			break;
		case BK_SEQ:
			rc = rd_uint(&r, "seq", &out->seq, &seq_off);
			if (rc == ODO_OK && out->seq == 0)
				rc = fail(&r, ODO_ERR_WIRE_RANGE, seq_off, "seq",
					  "Field \"seq\" is 0; sequence numbers start at 1.");
			break;
		default:
			rc = dec_recs(&r, out);
			break;
		}
		if (rc != ODO_OK)
			goto fail;
	}
	for (int i = 0; i <= BK_RECS; i++)
		if (!(seen & (1u << i))) {
			rc = fail(&r, ODO_ERR_WIRE_MISSING, map_off, top_keys[i],
				  "Required field \"%s\" is missing from the batch.", top_keys[i]);
			goto fail;
		}
	if (out->seq > out->recs[0].seq) {
		rc = fail(&r, ODO_ERR_WIRE_RANGE, seq_off, "seq",
			  "Range start %llu is above the first record's sequence number %llu.",
			  (unsigned long long)out->seq, (unsigned long long)out->recs[0].seq);
		goto fail;
	}
	if ((rc = check_trailing(&r)) != ODO_OK)
		goto fail;
	return ODO_OK;
fail:
	out->n = 0;
	return rc;
}

int odo_wire_decode_ack(const uint8_t *buf, size_t len, struct odo_ack *out, struct odo_wire_error *err)
{
	err_clear(err);
	struct rd r = { buf, len, 0, err, "" };
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
	uint32_t seen = 0, v = 0;
	for (uint64_t i = 0; i < npairs; i++) {
		int which = -1;
		if ((rc = top_key(&r, (1 << BK_V) | (1 << BK_DEV) | (1 << BK_ACK), &seen, &which)) != ODO_OK)
			return rc;
		if (which == BK_V)
			rc = dec_version(&r, &v);
		else if (which == BK_DEV)
			rc = dec_dev(&r, out->device);
		else
			rc = rd_uint(&r, "ack", &out->ack, &off);
		if (rc != ODO_OK)
			return rc;
	}
	static const int need[] = { BK_V, BK_DEV, BK_ACK };
	for (size_t i = 0; i < ODO_ARRAY_LEN(need); i++)
		if (!(seen & (1u << need[i])))
			return fail(&r, ODO_ERR_WIRE_MISSING, map_off, top_keys[need[i]],
				    "Required field \"%s\" is missing from the ack.", top_keys[need[i]]);
	return check_trailing(&r);
}
