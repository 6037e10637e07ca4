/*
 * odo — the wire format's field table (see wire_priv.h and
 * docs/wire-format.md), record initialisation, names, and the
 * introspection API over the table.
 *
 * The bounds are those of the PostgreSQL columns the collector writes to:
 * integers that go to `bigint` are <= INT64_MAX, per-trip counters that go
 * to `integer` are <= INT32_MAX, and every timestamp is a non-negative
 * int64 (the receiver narrows it further with its clock, F_TIME).
 */
#include <math.h>
#include <string.h>

#include "wire_priv.h"

#define OFF(m) offsetof(struct odo_record, m)
#define FLD(k_, t_, fl_, sv_, off_, mn_, mx_, lo_, hi_, a_)                                                 \
	{                                                                                                  \
		.key = k_, .type = t_, .flags = fl_, .since = sv_, .off = off_, .umin = mn_, .umax = mx_, \
		.lo = lo_, .hi = hi_, .a = a_                                                             \
	}
/* required unsigned integer, version 1 / 2 */
#define U(k, t, m, mn, mx) FLD(k, t, F_REQ, 1, OFF(m), mn, mx, 0, 0, NULL)
#define U2(k, t, m, mn, mx) FLD(k, t, F_REQ, 2, OFF(m), mn, mx, 0, 0, NULL)
/* required timestamp (UTC ms), subject to the receiver's time window */
#define TM(k, m, sv) FLD(k, FT_I64, F_REQ | F_TIME, sv, OFF(m), 0, INT64_MAX, 0, 0, NULL)
/* optional integer, -1 absent, version 2 */
#define O2(k, m, mn, mx) FLD(k, FT_OI32, 0, 2, OFF(m), mn, mx, 0, 0, NULL)
/* float, version 1 / 2 */
#define D(k, m, fl, ...) FLD(k, FT_DBL, fl, 1, OFF(m), 0, 0, __VA_ARGS__, NULL)
#define D2(k, m, fl, ...) FLD(k, FT_DBL, fl, 2, OFF(m), 0, 0, __VA_ARGS__, NULL)
#define B(k, m) FLD(k, FT_BOOL, F_REQ, 1, OFF(m), 0, 1, 0, 0, NULL)
/* integer list, version 2 */
#define A2(k, m, ad) FLD(k, FT_ARR, F_REQ, 2, OFF(m), 0, 0, 0, 0, &ad)
#define INF HUGE_VAL
#define ANY -INF, INF
#define NONNEG 0.0, INF
#define PCT 0.0, 100.0
#define SHARE 0.0, 1.0
#define U63 ODO_WIRE_MAX_U63
#define CNT ODO_WIRE_MAX_COUNT
#define SPEED 0.0, ODO_WIRE_MAX_SPEED_MPS
#define DIST 0.0, ODO_WIRE_MAX_DIST_M
#define DUR 0.0, ODO_WIRE_MAX_DUR_S
#define RPM 0.0, ODO_WIRE_MAX_RPM
#define GABS 0.0, ODO_WIRE_MAX_G
#define GSIGNED -ODO_WIRE_MAX_G, ODO_WIRE_MAX_G
#define JERK 0.0, ODO_WIRE_MAX_JERK
#define ERRM 0.0, ODO_WIRE_MAX_ERR_M
#define ALT -ODO_WIRE_MAX_ALT_M, ODO_WIRE_MAX_ALT_M
#define TEMP ODO_WIRE_MIN_TEMP_C, ODO_WIRE_MAX_TEMP_C

const struct wire_fdesc wire__common[] = {
	U("s", FT_U64, seq, 1, U63),
	TM("t", t_ms, 1),
	U("ts", FT_U8, tsrc, 0, ODO_TSRC_SYSTEM),
	U("k", FT_U8, kind, 1, ODO_REC__MAX),
};
const size_t wire__ncommon = ODO_ARRAY_LEN(wire__common);

/* Header integers: offsets unused (the header is not a record). */
const struct wire_fdesc wire__batch_ep = FLD("ep", FT_U64, F_REQ, 2, 0, 0, U63, 0, 0, NULL);
const struct wire_fdesc wire__batch_af = FLD("af", FT_U64, F_REQ, 2, 0, 0, U63, 0, 0, NULL);
const struct wire_fdesc wire__batch_seq = FLD("seq", FT_U64, F_REQ, 1, 0, 1, U63, 0, 0, NULL);
const struct wire_fdesc wire__ack_ack = FLD("ack", FT_U64, F_REQ, 1, 0, 0, U63, 0, 0, NULL);

static const struct wire_fdesc trip_start_fields[] = {
	U("trip", FT_U64, u.trip_start.trip_id, 0, U63),
	D("lat", u.trip_start.lat, 0, -90.0, 90.0),
	D("lon", u.trip_start.lon, 0, -180.0, 180.0),
};

/* Encoding order: version 1 keys in version 1 order, then version 2 keys. */
static const struct wire_fdesc trip_end_fields[] = {
	U("trip", FT_U64, u.trip_end.trip_id, 0, U63),
	TM("t0", u.trip_end.start_ms, 1),
	TM("t1", u.trip_end.end_ms, 1),
	D("dist", u.trip_end.distance_m, F_REQ, DIST),
	D("odist", u.trip_end.obd_distance_m, 0, DIST),
	D("dur", u.trip_end.duration_s, F_REQ, DUR),
	D("mov", u.trip_end.moving_s, F_REQ, DUR),
	D("idle", u.trip_end.idle_s, F_REQ, DUR),
	D("vavg", u.trip_end.avg_speed_mps, F_REQ, SPEED),
	D("vmax", u.trip_end.max_speed_mps, F_REQ, SPEED),
	D("rpm", u.trip_end.avg_rpm, 0, RPM),
	D("night", u.trip_end.night_m, F_REQ, DIST),
	D("lnw", u.trip_end.late_night_weekend_m, F_REQ, DIST),
	D("rush", u.trip_end.rush_hour_m, F_REQ, DIST),
	D("heavy", u.trip_end.heavy_traffic_m, F_REQ, DIST),
	D("wiper", u.trip_end.wiper_m, 0, DIST),
	D("scr", u.trip_end.screen_on_s, F_REQ, DUR),
	D("call", u.trip_end.handheld_call_s, F_REQ, DUR),
	U("phc", FT_U32, u.trip_end.phone_handled_count, 0, CNT),
	U("hb", FT_U32, u.trip_end.hard_brakes, 0, CNT),
	U("ra", FT_U32, u.trip_end.rapid_accels, 0, CNT),
	U("hc", FT_U32, u.trip_end.harsh_corners, 0, CNT),
	U("sw", FT_U32, u.trip_end.swerves, 0, CNT),
	U("cr", FT_U32, u.trip_end.crashes, 0, CNT),
	D("jerk", u.trip_end.mean_abs_jerk, 0, JERK), /* required in version 1, optional since 2 */
	D("acc", u.trip_end.gps_accuracy_m, 0, ERRM),
	B("dtc", u.trip_end.has_dtc),
	B("air", u.trip_end.airbag_deployed),
	O2("end", u.trip_end.end_reason, 0, ODO_TRIP_END_RECOVERED),
	O2("lsrc", u.trip_end.lon_source, 0, ODO_LSRC_BOTH),
	O2("hb1", u.trip_end.hard_brakes_g[0], 0, CNT),
	O2("hb2", u.trip_end.hard_brakes_g[1], 0, CNT),
	O2("hb3", u.trip_end.hard_brakes_g[2], 0, CNT),
	O2("ra1", u.trip_end.rapid_accels_g[0], 0, CNT),
	O2("ra2", u.trip_end.rapid_accels_g[1], 0, CNT),
	O2("ra3", u.trip_end.rapid_accels_g[2], 0, CNT),
	O2("hc1", u.trip_end.harsh_corners_g[0], 0, CNT),
	O2("hc2", u.trip_end.harsh_corners_g[1], 0, CNT),
	O2("hc3", u.trip_end.harsh_corners_g[2], 0, CNT),
	O2("sw1", u.trip_end.swerves_g[0], 0, CNT),
	O2("sw2", u.trip_end.swerves_g[1], 0, CNT),
	O2("sw3", u.trip_end.swerves_g[2], 0, CNT),
	D2("lo1", u.trip_end.lon_share[0], 0, SHARE),
	D2("lo2", u.trip_end.lon_share[1], 0, SHARE),
	D2("lo3", u.trip_end.lon_share[2], 0, SHARE),
	D2("la1", u.trip_end.lat_share[0], 0, SHARE),
	D2("la2", u.trip_end.lat_share[1], 0, SHARE),
	D2("la3", u.trip_end.lat_share[2], 0, SHARE),
	D2("lop", u.trip_end.lon_p95_g, 0, GABS),
	D2("lap", u.trip_end.lat_p95_g, 0, GABS),
	D2("vsd", u.trip_end.speed_sd_mps, 0, SPEED),
	FLD("ph", FT_MIL, 0, 2, OFF(u.trip_end.phone_measured), 0, 1, 0, 0, NULL),
	D2("lmt", u.trip_end.lon_moving_s, 0, DUR),
	D2("amt", u.trip_end.lat_moving_s, 0, DUR),
};

static const struct wire_fdesc event_fields[] = {
	U("trip", FT_U64, u.event.trip_id, 0, U63),
	U("ek", FT_U8, u.event.kind, 1, ODO_EV__MAX),
	U("src", FT_U8, u.event.source, 0, ODO_EVSRC_PHONE),
	U("dur", FT_I64, u.event.duration_ms, 0, ODO_WIRE_MAX_EVENT_MS),
	D("pk", u.event.peak_g, 0, GSIGNED), /* required unless phone distraction */
	D("mg", u.event.mean_g, 0, GSIGNED), /* idem */
	D("v0", u.event.speed_before_mps, 0, SPEED),
	D("v1", u.event.speed_after_mps, 0, SPEED),
	D("lat", u.event.lat, 0, -90.0, 90.0),
	D("lon", u.event.lon, 0, -180.0, 180.0),
	D("hdg", u.event.heading_deg, F_HIEXCL, 0.0, 360.0),
	O2("gr", u.event.grade, ODO_GRADE_MODERATE, ODO_GRADE_SEVERE),
};

static const struct wire_fdesc sample_fields[] = {
	U("trip", FT_U64, u.sample.trip_id, 0, U63),
	U("fix", FT_U8, u.sample.fix, 0, ODO_FIX_3D),
	D("lat", u.sample.lat, 0, -90.0, 90.0),
	D("lon", u.sample.lon, 0, -180.0, 180.0),
	D("v", u.sample.speed_mps, 0, SPEED),
	D("hdg", u.sample.heading_deg, F_HIEXCL, 0.0, 360.0),
	D("eph", u.sample.eph_m, 0, ERRM),
	D("alt", u.sample.alt_m, 0, ALT),
	D("rpm", u.sample.rpm, 0, RPM),
	D("ov", u.sample.obd_speed_mps, 0, SPEED),
	D("thr", u.sample.throttle_pct, 0, PCT),
	D("cool", u.sample.coolant_c, 0, TEMP),
	D("fuel", u.sample.fuel_pct, 0, PCT),
	D("ax", u.sample.ax_g, 0, GSIGNED),
	D("ay", u.sample.ay_g, 0, GSIGNED),
};

static const struct wire_fdesc dtc_fields[] = {
	U("ecu", FT_U16, u.dtc.ecu, 0, UINT16_MAX),
	FLD("mil", FT_MIL, 0, 1, OFF(u.dtc.mil), 0, 1, 0, 0, NULL),
	FLD("st", FT_DTCS, 0, 1, ODO_DTC_STORED, 0, ODO_WIRE_MAX_DTCS, 0, 0, NULL),
	FLD("pd", FT_DTCS, 0, 1, ODO_DTC_PENDING, 0, ODO_WIRE_MAX_DTCS, 0, 0, NULL),
	FLD("pm", FT_DTCS, 0, 1, ODO_DTC_PERMANENT, 0, ODO_WIRE_MAX_DTCS, 0, 0, NULL),
	B("air", u.dtc.airbag_deployed),
};

static const struct wire_fdesc vehicle_fields[] = {
	FLD("vin", FT_VIN, F_REQ, 1, OFF(u.vehicle.vin), 0, ODO_VIN_LEN, 0, 0, NULL),
	U("ecu", FT_U16, u.vehicle.ecu, 0, UINT16_MAX),
};

static const struct wire_fdesc phone_fields[] = {
	B("scr", u.phone.screen_on),
	U("call", FT_U8, u.phone.call, 0, ODO_CALL_HANDSFREE),
	B("hand", u.phone.handled),
};

static const struct wire_fdesc status_fields[] = {
	U("up", FT_U64, u.status.uptime_s, 0, U63),
	U("obd", FT_U64, u.status.outbox_depth, 0, U63),
	U("oage", FT_U64, u.status.outbox_oldest_age_s, 0, U63),
	U("evict", FT_U64, u.status.evicted, 0, U63),
	U("rc", FT_U64, u.status.reconnects, 0, U63),
	U("canerr", FT_U64, u.status.can_errors, 0, U63),
	U("gpserr", FT_U64, u.status.gps_errors, 0, U63),
	U("accerr", FT_U64, u.status.accel_errors, 0, U63),
	U("fix", FT_U8, u.status.fix, 0, ODO_FIX_3D),
	U("clk", FT_U8, u.status.clock_source, 0, ODO_TSRC_SYSTEM),
	O2("cal", u.status.calib_state, 0, ODO_CAL_RELEARNING),
	D2("calq", u.status.calib_confidence, 0, SHARE),
	D2("roll", u.status.roll_deg, 0, -180.0, 180.0),
	D2("pitch", u.status.pitch_deg, 0, -90.0, 90.0),
	D2("yaw", u.status.yaw_deg, F_HIEXCL, -180.0, 180.0),
	D2("calt", u.status.calib_ready_s, 0, DUR),
	D2("glag", u.status.gps_lag_s, 0, DUR),
	O2("gyro", u.status.gyro_state, 0, ODO_GYRO_ESTABLISHED),
};

#define TRACK_LIST(ct, fl, mn, mx)                                                                          \
	{                                                                                                  \
		.cnt_off = OFF(u.track.n), .stride = sizeof(struct odo_track_point), .ctype = ct, .flags = fl, \
		.maxn = ODO_WIRE_MAX_TRACK, .min = mn, .max = mx                                           \
	}
static const struct wire_adesc track_dt = TRACK_LIST(C_U32, 0, 0, UINT16_MAX);
static const struct wire_adesc track_lat = TRACK_LIST(C_I32, A_DELTA | A_SIGNED, -90000000, 90000000);
static const struct wire_adesc track_lon = TRACK_LIST(C_I32, A_DELTA | A_SIGNED, -180000000, 180000000);
static const struct wire_adesc track_opt = TRACK_LIST(C_I32, A_NULL, 0, UINT16_MAX);

static const struct wire_fdesc track_fields[] = {
	U2("trip", FT_U64, u.track.trip_id, 0, U63),
	A2("dt", u.track.pt[0].dt_ds, track_dt),
	A2("la", u.track.pt[0].lat_e6, track_lat),
	A2("lo", u.track.pt[0].lon_e6, track_lon),
	A2("v", u.track.pt[0].v_dms, track_opt),
	A2("e", u.track.pt[0].eph_m, track_opt),
};

static const struct wire_adesc trace_axis = {
	.cnt_off = OFF(u.crash_trace.n),
	.stride = sizeof(int16_t),
	.ctype = C_I16,
	.flags = A_SIGNED,
	.maxn = ODO_WIRE_MAX_TRACE,
	.min = INT16_MIN,
	.max = INT16_MAX,
};

static const struct wire_fdesc crash_trace_fields[] = {
	U2("trip", FT_U64, u.crash_trace.trip_id, 0, U63),
	TM("ct", u.crash_trace.crash_ms, 2),
	U2("i", FT_U16, u.crash_trace.part, 0, ODO_WIRE_MAX_TRACE_PARTS - 1),
	U2("n", FT_U16, u.crash_trace.parts, 1, ODO_WIRE_MAX_TRACE_PARTS),
	U2("hz", FT_U16, u.crash_trace.hz, 1, 1000),
	U2("fr", FT_U8, u.crash_trace.frame, 0, ODO_FRAME_SENSOR),
	A2("ax", u.crash_trace.ax[0], trace_axis),
	A2("ay", u.crash_trace.ay[0], trace_axis),
	A2("az", u.crash_trace.az[0], trace_axis),
	D2("v", u.crash_trace.speed_mps, 0, SPEED),
	D2("ov", u.crash_trace.obd_speed_mps, 0, SPEED),
	D2("rpm", u.crash_trace.rpm, 0, RPM),
	FLD("air", FT_MIL, 0, 2, OFF(u.crash_trace.airbag), 0, 1, 0, 0, NULL),
	D2("lat", u.crash_trace.lat, 0, -90.0, 90.0),
	D2("lon", u.crash_trace.lon, 0, -180.0, 180.0),
};

#define KD(nm, t, sv) { nm, t, ODO_ARRAY_LEN(t), sv }
const struct wire_kdesc wire__kinds[ODO_REC__MAX + 1] = {
	[ODO_REC_TRIP_START] = KD("trip_start", trip_start_fields, 1),
	[ODO_REC_TRIP_END] = KD("trip_end", trip_end_fields, 1),
	[ODO_REC_EVENT] = KD("event", event_fields, 1),
	[ODO_REC_SAMPLE] = KD("sample", sample_fields, 1),
	[ODO_REC_DTC] = KD("dtc", dtc_fields, 1),
	[ODO_REC_VEHICLE] = KD("vehicle", vehicle_fields, 1),
	[ODO_REC_PHONE] = KD("phone", phone_fields, 1),
	[ODO_REC_STATUS] = KD("status", status_fields, 1),
	[ODO_REC_TRACK] = KD("track", track_fields, 2),
	[ODO_REC_CRASH_TRACE] = KD("crash_trace", crash_trace_fields, 2),
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

void odo_record_init(struct odo_record *r, enum odo_record_kind kind)
{
	if (!r)
		return;
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	r->tsrc = ODO_TSRC_SYSTEM;
	if ((int)kind < 1 || (int)kind > ODO_REC__MAX)
		return;
	const struct wire_kdesc *k = &wire__kinds[kind];
	for (size_t i = 0; i < k->n; i++) {
		const struct wire_fdesc *f = &k->f[i];
		void *p = (char *)r + f->off;
		if (f->type == FT_DBL && !(f->flags & F_REQ))
			*(double *)p = NAN;
		else if (f->type == FT_MIL)
			*(int *)p = -1;
		else if (f->type == FT_OI32)
			*(int32_t *)p = -1;
		else if (f->type == FT_ARR && (f->a->flags & A_NULL))
			for (size_t j = 0; j < f->a->maxn; j++)
				*(int32_t *)((char *)p + j * f->a->stride) = -1;
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
	return wire__kinds[kind].name;
}

const char *odo_event_kind_name(int kind)
{
	if (kind < 1 || kind > ODO_EV__MAX)
		return "?";
	return event_names[kind];
}

/* ---------------------------------------------------------------- introspection */

static void describe(int kind, const struct wire_fdesc *f, struct odo_wire_field *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->key = f->key;
	out->required = (f->flags & F_REQ) != 0;
	out->since = f->since;
	out->time_window = (f->flags & F_TIME) != 0;
	switch (f->type) {
	case FT_DBL:
		out->type = ODO_WT_FLOAT;
		out->fmin = f->lo;
		out->fmax = f->hi;
		out->fmax_open = (f->flags & F_HIEXCL) != 0;
		break;
	case FT_BOOL:
	case FT_MIL:
		out->type = ODO_WT_BOOL;
		out->imin = 0;
		out->imax = 1;
		break;
	case FT_VIN:
		out->type = ODO_WT_TEXT;
		out->max_len = ODO_VIN_LEN;
		break;
	case FT_DTCS:
		out->type = ODO_WT_TEXT_LIST;
		out->max_len = ODO_WIRE_MAX_DTCS;
		break;
	case FT_ARR:
		out->type = (f->a->flags & A_SIGNED) ? ODO_WT_INT_LIST : ODO_WT_UINT_LIST;
		out->imin = f->a->min;
		out->imax = (uint64_t)f->a->max;
		out->max_len = f->a->maxn;
		out->nullable = (f->a->flags & A_NULL) != 0;
		out->delta = (f->a->flags & A_DELTA) != 0;
		break;
	default:
		out->type = ODO_WT_UINT;
		out->imin = (int64_t)f->umin;
		out->imax = f->umax;
		break;
	}
}

/* The header integers, then record-common, then every kind's fields. */
#define HEADER_FIELDS 5

size_t odo_wire_field_count(void)
{
	size_t n = HEADER_FIELDS + wire__ncommon;
	for (int k = 1; k <= ODO_REC__MAX; k++)
		n += wire__kinds[k].n;
	return n;
}

int odo_wire_field_at(size_t i, struct odo_wire_field *out)
{
	if (!out)
		return ODO_ERR_INVAL;
	static const struct {
		int kind;
		const struct wire_fdesc *f;
	} header[] = {
		{ ODO_WIRE_KIND_BATCH, &wire__batch_ep }, { ODO_WIRE_KIND_BATCH, &wire__batch_af },
		{ ODO_WIRE_KIND_BATCH, &wire__batch_seq }, { ODO_WIRE_KIND_ACK, &wire__batch_ep },
		{ ODO_WIRE_KIND_ACK, &wire__ack_ack },
	};
	_Static_assert(ODO_ARRAY_LEN(header) == HEADER_FIELDS, "HEADER_FIELDS");
	if (i < ODO_ARRAY_LEN(header)) {
		describe(header[i].kind, header[i].f, out);
		return ODO_OK;
	}
	i -= ODO_ARRAY_LEN(header);
	if (i < wire__ncommon) {
		describe(ODO_WIRE_KIND_COMMON, &wire__common[i], out);
		return ODO_OK;
	}
	i -= wire__ncommon;
	for (int k = 1; k <= ODO_REC__MAX; k++) {
		if (i < wire__kinds[k].n) {
			describe(k, &wire__kinds[k].f[i], out);
			return ODO_OK;
		}
		i -= wire__kinds[k].n;
	}
	return ODO_ERR_NOTFOUND;
}
