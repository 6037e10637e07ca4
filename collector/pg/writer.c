/* odo-collector — group-committing PostgreSQL writer (see writer.h). */
#include "pg/writer.h"

#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "aggregate/aggregate.h"
#include "decode/decode.h"
#include "odo/log.h"

#define PGW_RETRY_MS 1000     /* between connection attempts */
#define PGW_RETRY_HOLD_MS 200 /* before retrying a group after a transient error */
#define PGW_MAX_QUERIES 32    /* statements in one pipeline */
#define PGW_MAX_COLS 40       /* columns of the widest staging array set */
#define PGW_MONTH_CACHE 256   /* sample partitions known to exist */

/* ---- growable text buffer ------------------------------------------------ */

struct sb {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_need(struct sb *s, size_t more)
{
	if (s->n + more + 1 <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < s->n + more + 1)
		cap *= 2;
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = 1;
		return;
	}
	s->p = p;
	s->cap = cap;
}

static void sb_put(struct sb *s, const char *str, size_t len)
{
	sb_need(s, len);
	if (s->oom)
		return;
	memcpy(s->p + s->n, str, len);
	s->n += len;
	s->p[s->n] = '\0';
}

static void sb_printf(struct sb *s, const char *fmt, ...) ODO_PRINTF(2, 3);
static void sb_printf(struct sb *s, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k < sizeof tmp) {
		sb_put(s, tmp, (size_t)k);
		return;
	}
	sb_need(s, (size_t)k);
	if (s->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	s->n += (size_t)k;
}

static void sb_reset(struct sb *s)
{
	s->n = 0;
	s->oom = 0;
	if (s->p)
		s->p[0] = '\0';
}

/* ---- column sets: one binary-format PostgreSQL array per column ------------
 *
 * Sent as binary parameters (array_recv's format: ndim, has-null flag,
 * element type OID, length, lower bound, then length-prefixed elements,
 * all big-endian), so the server parses no numbers from text. Integers are
 * int8 and floats float8 throughout; the INSERTs narrow by assignment. */

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701
#define ARR_HEADER 20

struct column {
	struct sb b;
	uint32_t oid;
	uint32_t count;
};

struct colset {
	int ncols;
	size_t rows;
	struct column col[PGW_MAX_COLS];
};

static void put_be32(struct sb *s, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			       (unsigned char)v };
	sb_put(s, (const char *)b, 4);
}

static void put_be64(struct sb *s, uint64_t v)
{
	put_be32(s, (uint32_t)(v >> 32));
	put_be32(s, (uint32_t)v);
}

static void cs_reset(struct colset *c, int ncols)
{
	c->ncols = ncols;
	c->rows = 0;
	for (int i = 0; i < PGW_MAX_COLS; i++) {
		sb_reset(&c->col[i].b);
		c->col[i].count = 0;
		c->col[i].oid = 0;
	}
}

static void cs_free(struct colset *c)
{
	for (int i = 0; i < PGW_MAX_COLS; i++)
		free(c->col[i].b.p);
}

/* Start element i of a column, reserving the header on the first. */
static struct sb *cs_elem(struct colset *c, int i, uint32_t oid)
{
	struct column *k = &c->col[i];
	if (k->b.n == 0) {
		static const char zero[ARR_HEADER];
		sb_put(&k->b, zero, ARR_HEADER);
	}
	k->oid = oid;
	k->count++;
	return &k->b;
}

static void cs_null(struct colset *c, int i, uint32_t oid)
{
	put_be32(cs_elem(c, i, oid), 0xFFFFFFFFu);
}

static void cs_i64(struct colset *c, int i, long long v)
{
	struct sb *b = cs_elem(c, i, OID_INT8);
	put_be32(b, 8);
	put_be64(b, (uint64_t)v);
}

static void cs_u64(struct colset *c, int i, unsigned long long v)
{
	cs_i64(c, i, (long long)v);
}

/* Optional double: NaN is SQL NULL. */
static void cs_dbl(struct colset *c, int i, double v)
{
	if (isnan(v) || isinf(v)) {
		cs_null(c, i, OID_FLOAT8);
		return;
	}
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	struct sb *b = cs_elem(c, i, OID_FLOAT8);
	put_be32(b, 8);
	put_be64(b, bits);
}

static void cs_bool(struct colset *c, int i, int v)
{
	struct sb *b = cs_elem(c, i, OID_BOOL);
	put_be32(b, 1);
	sb_put(b, v ? "\1" : "\0", 1);
}

static void cs_bytes(struct colset *c, int i, uint32_t oid, const void *p, size_t len)
{
	struct sb *b = cs_elem(c, i, oid);
	put_be32(b, (uint32_t)len);
	sb_put(b, p, len);
}

static void cs_text(struct colset *c, int i, const char *s)
{
	cs_bytes(c, i, OID_TEXT, s, strlen(s));
}

/* Fill in each column's header. */
static int cs_finish(struct colset *c)
{
	int oom = 0;
	for (int i = 0; i < c->ncols; i++) {
		struct column *k = &c->col[i];
		if (k->b.n == 0) /* cannot happen for a table with rows */
			return ODO_ERR_INVAL;
		oom |= k->b.oom;
		if (k->b.oom)
			continue;
		unsigned char *h = (unsigned char *)k->b.p;
		uint32_t v[5] = { 1, 1, k->oid, k->count, 1 };
		for (int j = 0; j < 5; j++) {
			h[4 * j] = (unsigned char)(v[j] >> 24);
			h[4 * j + 1] = (unsigned char)(v[j] >> 16);
			h[4 * j + 2] = (unsigned char)(v[j] >> 8);
			h[4 * j + 3] = (unsigned char)v[j];
		}
	}
	return oom ? ODO_ERR_NOMEM : ODO_OK;
}

/* ---- SQL ------------------------------------------------------------------ */

#define TS(x) "to_timestamp(" x "::double precision / 1000)"

static const char SQL_DEVICES[] =
	"INSERT INTO devices (device_id) SELECT d FROM unnest($1::text[]) AS u(d) ON CONFLICT (device_id) DO NOTHING";
/* Serialise per device: every collector holds these row locks while it
 * computes the device's high-water mark (ordered, so no deadlocks). */
static const char SQL_LOCK[] =
	"SELECT device_id FROM devices WHERE device_id = ANY($1::text[]) ORDER BY device_id FOR UPDATE";

enum { S_DEV, S_SEQ, S_T, S_TSRC, S_TRIP, S_FIX, S_LAT, S_LON, S_SPEED, S_HEAD, S_EPH, S_ALT, S_RPM, S_OBD,
       S_THR, S_COOL, S_FUEL, S_AX, S_AY, S__N };
static const char SQL_SAMPLES[] =
	"INSERT INTO samples (device_id, seq, t, tsrc, device_trip_id, fix, lat, lon, speed_mps, heading_deg,"
	" eph_m, alt_m, rpm, obd_speed_mps, throttle_pct, coolant_c, fuel_pct, ax_g, ay_g)"
	" SELECT d, s, " TS("tm") ", ts, tr, fx, la, lo, sp, hd, ep, al, rp, ob, th, co, fu, ax, ay"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],"
	" $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],"
	" $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[])"
	" AS u(d, s, tm, ts, tr, fx, la, lo, sp, hd, ep, al, rp, ob, th, co, fu, ax, ay)"
	" ON CONFLICT DO NOTHING";

enum { E_DEV, E_SEQ, E_T, E_TSRC, E_TRIP, E_KIND, E_SRC, E_DUR, E_PEAK, E_MEAN, E_SB, E_SA, E_LAT, E_LON,
       E_HEAD, E__N };
static const char SQL_EVENTS[] =
	"INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms, peak_g, mean_g,"
	" speed_before_mps, speed_after_mps, lat, lon, heading_deg)"
	" SELECT d, s, " TS("tm") ", ts, tr, k, sr, du, pk, mn, sb, sa, la, lo, hd"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[],"
	" $7::bigint[], $8::bigint[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],"
	" $14::float8[], $15::float8[]) AS u(d, s, tm, ts, tr, k, sr, du, pk, mn, sb, sa, la, lo, hd)"
	" ON CONFLICT DO NOTHING";

enum { D_DEV, D_SEQ, D_T, D_ECU, D_MIL, D_ST, D_PE, D_PM, D_AIR, D__N };
static const char SQL_DTC[] =
	"INSERT INTO dtc_reports (device_id, seq, t, ecu, mil, stored, pending, permanent, airbag_deployed)"
	" SELECT d, s, " TS("tm") ", e, CASE WHEN m < 0 THEN NULL ELSE m = 1 END,"
	" coalesce(string_to_array(NULLIF(c1, ''), ','), '{}'), coalesce(string_to_array(NULLIF(c2, ''), ','), '{}'),"
	" coalesce(string_to_array(NULLIF(c3, ''), ','), '{}'), a"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],"
	" $8::text[], $9::boolean[]) AS u(d, s, tm, e, m, c1, c2, c3, a) ON CONFLICT DO NOTHING";

enum { V_DEV, V_SEQ, V_T, V_VIN, V_ECU, V__N };
static const char SQL_VEHICLE[] =
	"INSERT INTO vehicle_reports (device_id, seq, t, vin, ecu)"
	" SELECT d, s, " TS("tm") ", NULLIF(v, ''), e FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[],"
	" $5::bigint[]) AS u(d, s, tm, v, e) ON CONFLICT DO NOTHING";

enum { P_DEV, P_SEQ, P_T, P_SCR, P_CALL, P_HND, P__N };
static const char SQL_PHONE[] =
	"INSERT INTO phone_states (device_id, seq, t, screen_on, call, handled)"
	" SELECT d, s, " TS("tm") ", so, c, h FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::boolean[],"
	" $5::bigint[], $6::boolean[]) AS u(d, s, tm, so, c, h) ON CONFLICT DO NOTHING";

enum { T_DEV, T_SEQ, T_T, T_UP, T_OD, T_OA, T_EV, T_RC, T_CE, T_GE, T_AE, T_FIX, T_CS, T__N };
static const char SQL_STATUS[] =
	"INSERT INTO device_status (device_id, seq, t, uptime_s, outbox_depth, outbox_oldest_age_s, evicted,"
	" reconnects, can_errors, gps_errors, accel_errors, fix, clock_source)"
	" SELECT d, s, " TS("tm") ", up, od, oa, ev, rc, ce, ge, ae, fx, cs FROM unnest($1::text[], $2::bigint[],"
	" $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],"
	" $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])"
	" AS u(d, s, tm, up, od, oa, ev, rc, ce, ge, ae, fx, cs) ON CONFLICT DO NOTHING";

#define DRIVER_AT(dev, ts)                                                                          \
	"(SELECT a.driver_id FROM device_assignments a WHERE a.device_id = " dev " AND a.valid_from <= " ts \
	" AND (a.valid_to IS NULL OR a.valid_to > " ts ") ORDER BY a.valid_from DESC LIMIT 1)"

enum { TS_DEV, TS_TRIP, TS_SEQ, TS_T, TS_LAT, TS_LON, TS__N };
static const char SQL_TRIP_START[] =
	"INSERT INTO trips AS x (trip_id, driver_id, start_time, device_id, device_trip_id, start_seq, start_lat,"
	" start_lon)"
	" SELECT d || ':' || tr, " DRIVER_AT("d", TS("tm")) ", " TS("tm") ", d, tr, s, la, lo"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[])"
	" AS u(d, tr, s, tm, la, lo)"
	/* the trip's end may have been committed first (another collector) */
	" ON CONFLICT (trip_id) DO UPDATE SET start_seq = EXCLUDED.start_seq, start_lat = EXCLUDED.start_lat,"
	" start_lon = EXCLUDED.start_lon, start_time = coalesce(x.start_time, EXCLUDED.start_time),"
	" driver_id = coalesce(x.driver_id, EXCLUDED.driver_id)";

enum { TE_DEV, TE_TRIP, TE_SEQ, TE_START, TE_END, TE_DIST, TE_OBD, TE_DUR, TE_MOV, TE_IDLE, TE_AVG, TE_MAX,
       TE_RPM, TE_NIGHT, TE_LNW, TE_RUSH, TE_HEAVY, TE_WIPER, TE_SCREEN, TE_CALL, TE_HANDLED, TE_HB, TE_RA,
       TE_HC, TE_SW, TE_CR, TE_JERK, TE_GPS, TE_DTC, TE_AIR, TE__N };
static const char SQL_TRIP_END[] =
	"INSERT INTO trips AS x (trip_id, driver_id, start_time, end_time, total_distance_miles, avg_speed_mph,"
	" duration_minutes, device_id, device_trip_id, end_seq, distance_m, obd_distance_m, duration_s, moving_s,"
	" idle_s, avg_speed_mps, max_speed_mps, avg_rpm, night_m, late_night_weekend_m, rush_hour_m,"
	" heavy_traffic_m, wiper_m, screen_on_s, handheld_call_s, phone_handled_count, hard_brakes, rapid_accels,"
	" harsh_corners, swerves, crashes, mean_abs_jerk, gps_accuracy_m, has_dtc, airbag_deployed)"
	" SELECT d || ':' || tr, " DRIVER_AT("d", TS("st")) ", " TS("st") ", " TS("en") ", di / 1609.344,"
	" av * 3600 / 1609.344, du / 60, d, tr, s, di, ob, du, mv, id, av, mx, rp, ni, lw, ru, hv, wi, sc, ca, hn,"
	" hb, ra, hc, sw, cr, je, gp, dt, ai"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[],"
	" $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],"
	" $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[],"
	" $20::float8[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[],"
	" $26::bigint[], $27::float8[], $28::float8[], $29::boolean[], $30::boolean[])"
	" AS u(d, tr, s, st, en, di, ob, du, mv, id, av, mx, rp, ni, lw, ru, hv, wi, sc, ca, hn, hb, ra, hc, sw,"
	" cr, je, gp, dt, ai)"
	" ON CONFLICT (trip_id) DO UPDATE SET driver_id = coalesce(x.driver_id, EXCLUDED.driver_id),"
	" start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,"
	" total_distance_miles = EXCLUDED.total_distance_miles, avg_speed_mph = EXCLUDED.avg_speed_mph,"
	" duration_minutes = EXCLUDED.duration_minutes, end_seq = EXCLUDED.end_seq,"
	" distance_m = EXCLUDED.distance_m, obd_distance_m = EXCLUDED.obd_distance_m,"
	" duration_s = EXCLUDED.duration_s, moving_s = EXCLUDED.moving_s, idle_s = EXCLUDED.idle_s,"
	" avg_speed_mps = EXCLUDED.avg_speed_mps, max_speed_mps = EXCLUDED.max_speed_mps,"
	" avg_rpm = EXCLUDED.avg_rpm, night_m = EXCLUDED.night_m,"
	" late_night_weekend_m = EXCLUDED.late_night_weekend_m, rush_hour_m = EXCLUDED.rush_hour_m,"
	" heavy_traffic_m = EXCLUDED.heavy_traffic_m, wiper_m = EXCLUDED.wiper_m,"
	" screen_on_s = EXCLUDED.screen_on_s, handheld_call_s = EXCLUDED.handheld_call_s,"
	" phone_handled_count = EXCLUDED.phone_handled_count, hard_brakes = EXCLUDED.hard_brakes,"
	" rapid_accels = EXCLUDED.rapid_accels, harsh_corners = EXCLUDED.harsh_corners,"
	" swerves = EXCLUDED.swerves, crashes = EXCLUDED.crashes, mean_abs_jerk = EXCLUDED.mean_abs_jerk,"
	" gps_accuracy_m = EXCLUDED.gps_accuracy_m, has_dtc = EXCLUDED.has_dtc,"
	" airbag_deployed = EXCLUDED.airbag_deployed";

/* Trips that just ended make their (driver, month) stale. */
static const char SQL_DIRTY[] =
	"INSERT INTO monthly_features_dirty (driver_id, month)"
	" SELECT DISTINCT driver_id, to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips"
	" WHERE trip_id = ANY($1::text[]) AND driver_id IS NOT NULL AND start_time IS NOT NULL"
	" ON CONFLICT DO NOTHING";

enum { B_DEV, B_LO, B_HI, B_N, B__N };
static const char SQL_BATCHES[] =
	"INSERT INTO batches (device_id, seq_lo, seq_hi, n_records, processed_by)"
	" SELECT d, lo, hi, n, $5 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])"
	" AS u(d, lo, hi, n) ON CONFLICT DO NOTHING";

/*
 * The contiguous high-water mark per device, from the committed ranges
 * above the current mark (gaps and islands): ranges ordered by start; the
 * first whose start lies beyond everything before it + 1 opens a gap.
 */
static const char SQL_ACK[] =
	"WITH d AS (SELECT device_id, acked FROM devices WHERE device_id = ANY($1::text[])),"
	" r AS (SELECT b.device_id, b.seq_lo, b.seq_hi, d.acked,"
	"   max(b.seq_hi) OVER (PARTITION BY b.device_id ORDER BY b.seq_lo, b.seq_hi"
	"     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_hi"
	"   FROM batches b JOIN d ON d.device_id = b.device_id WHERE b.seq_hi > d.acked),"
	" g AS (SELECT device_id, min(seq_lo) AS gap_lo FROM r"
	"   WHERE seq_lo > greatest(coalesce(prev_hi, 0), acked) + 1 GROUP BY device_id),"
	" n AS (SELECT d.device_id, greatest(d.acked, coalesce(max(r.seq_hi)"
	"     FILTER (WHERE g.gap_lo IS NULL OR r.seq_lo < g.gap_lo), 0)) AS acked"
	"   FROM d LEFT JOIN r ON r.device_id = d.device_id LEFT JOIN g ON g.device_id = d.device_id"
	"   GROUP BY d.device_id, d.acked)"
	" UPDATE devices SET acked = n.acked, last_seen = now() FROM n WHERE devices.device_id = n.device_id"
	" RETURNING devices.device_id, devices.acked";

enum { L_TOPIC, L_TDEV, L_PAY, L_CODE, L_NAME, L_FIELD, L_OFF, L_MSG, L__N };
/* The payloads travel as one bytea[] in binary-safe hex text form. */
static const char SQL_DEAD[] =
	"INSERT INTO dead_letters (topic, topic_device, payload, error_code, error_name, field, byte_offset,"
	" message, processed_by)"
	" SELECT tp, NULLIF(td, ''), pl, c, nm, f, o, m, $9 FROM unnest($1::text[], $2::text[], $3::bytea[],"
	" $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[]) AS u(tp, td, pl, c, nm, f, o, m)";

/* ---- queue ------------------------------------------------------------------ */

struct item {
	struct item *next;
	struct odo_batch *b;      /* NULL for a dead letter */
	char *topic;
	uint8_t *raw;
	size_t len;
	struct odo_wire_error err; /* dead letters */
	char tdev[ODO_DEVICE_ID_MAX + 1];
	int64_t queued_ms;
};

struct odo_pgw {
	struct odo_pgw_opts o;
	char *conninfo, *password, *name;
	odo_pgw_ack_fn ack;
	void *ctx;
	PGconn *conn;
	enum { W_DOWN, W_CONNECTING, W_IDLE, W_BUSY } state;
	int connect_wants_write;
	int64_t next_connect_ms;
	struct item *head, *tail; /* waiting */
	size_t nq, qrows;
	struct item *fl;          /* in flight */
	size_t fl_n;
	int solo;                 /* retry batch by batch after a data error */
	int is_refresh;           /* the in-flight pipeline is a feature refresh */
	int64_t next_refresh_ms;
	int64_t hold_until_ms;    /* no new group before (after a failure) */
	/* pipeline bookkeeping */
	int nsent, nres, failed, ack_idx;
	char errstate[6];
	char errmsg[512];
	PGresult *ackres;
	int pending_months[PGW_MONTH_CACHE], npending_months;
	int months[PGW_MONTH_CACHE], nmonths;
	struct colset cs[10];
	struct sb extra[5];
	struct odo_pgw_stats st;
};

enum { C_SAMPLES, C_EVENTS, C_DTC, C_VEH, C_PHONE, C_STATUS, C_TSTART, C_TEND, C_BATCH, C_DEAD };

int odo_pgw_open(const struct odo_pgw_opts *o, odo_pgw_ack_fn ack, void *ctx, struct odo_pgw **out)
{
	*out = NULL;
	if (!o || !o->conninfo || !o->name || !ack)
		return ODO_ERR_INVAL;
	struct odo_pgw *w = calloc(1, sizeof *w);
	if (!w)
		return ODO_ERR_NOMEM;
	w->o = *o;
	w->conninfo = strdup(o->conninfo);
	w->name = strdup(o->name);
	w->password = o->password && o->password[0] ? strdup(o->password) : NULL;
	if (!w->conninfo || !w->name || (o->password && o->password[0] && !w->password)) {
		odo_pgw_close(w);
		return ODO_ERR_NOMEM;
	}
	if (!w->o.max_group_rows)
		w->o.max_group_rows = 5000;
	if (!w->o.max_queue_msgs)
		w->o.max_queue_msgs = 20000;
	w->ack = ack;
	w->ctx = ctx;
	w->state = W_DOWN;
	*out = w;
	return ODO_OK;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	odo_decode_free(it->b);
	free(it->topic);
	free(it->raw);
	free(it);
}

static void list_free(struct item *it)
{
	while (it) {
		struct item *n = it->next;
		item_free(it);
		it = n;
	}
}

void odo_pgw_close(struct odo_pgw *w)
{
	if (!w)
		return;
	if (w->conn)
		PQfinish(w->conn);
	list_free(w->head);
	list_free(w->fl);
	PQclear(w->ackres);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->cs); i++)
		cs_free(&w->cs[i]);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->extra); i++)
		free(w->extra[i].p);
	if (w->password) {
		memset(w->password, 0, strlen(w->password));
		free(w->password);
	}
	free(w->conninfo);
	free(w->name);
	free(w);
}

static void enqueue(struct odo_pgw *w, struct item *it)
{
	it->next = NULL;
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->nq++;
	w->qrows += it->b ? it->b->n : 1;
}

static struct timespec now_ts(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static int64_t mono_ms(void)
{
	struct timespec ts = now_ts();
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int odo_pgw_add_batch(struct odo_pgw *w, struct odo_batch *b, const char *topic, const uint8_t *raw, size_t len)
{
	if (w->nq >= w->o.max_queue_msgs) {
		w->st.shed++;
		odo_decode_free(b);
		return ODO_ERR_FULL;
	}
	struct item *it = calloc(1, sizeof *it);
	if (!it) {
		odo_decode_free(b);
		return ODO_ERR_NOMEM;
	}
	it->b = b;
	it->topic = strdup(topic);
	it->raw = malloc(len ? len : 1);
	if (!it->topic || !it->raw) {
		item_free(it);
		return ODO_ERR_NOMEM;
	}
	memcpy(it->raw, raw, len);
	it->len = len;
	snprintf(it->tdev, sizeof it->tdev, "%s", b->device);
	it->queued_ms = mono_ms();
	enqueue(w, it);
	return ODO_OK;
}

int odo_pgw_add_dead(struct odo_pgw *w, const char *topic, const char *topic_device, const uint8_t *raw,
		     size_t len, const struct odo_wire_error *err)
{
	struct item *it = calloc(1, sizeof *it);
	if (!it)
		return ODO_ERR_NOMEM;
	it->topic = strdup(topic);
	it->raw = malloc(len ? len : 1);
	if (!it->topic || !it->raw) {
		item_free(it);
		return ODO_ERR_NOMEM;
	}
	if (len)
		memcpy(it->raw, raw, len);
	it->len = len;
	it->err = *err;
	snprintf(it->tdev, sizeof it->tdev, "%s", topic_device ? topic_device : "");
	it->queued_ms = mono_ms();
	enqueue(w, it);
	return ODO_OK;
}

int odo_pgw_socket(const struct odo_pgw *w, short *events)
{
	*events = 0;
	if (!w->conn || w->state == W_DOWN)
		return -1;
	int fd = PQsocket(w->conn);
	if (fd < 0)
		return -1;
	if (w->state == W_CONNECTING) {
		*events = w->connect_wants_write ? POLLOUT : POLLIN;
		return fd;
	}
	*events = POLLIN;
	if (PQflush(w->conn) == 1)
		*events |= POLLOUT;
	return fd;
}

static int group_due(const struct odo_pgw *w, int64_t now_ms)
{
	if (!w->head || now_ms < w->hold_until_ms)
		return 0;
	if (w->qrows >= w->o.max_group_rows)
		return 1;
	return now_ms - w->head->queued_ms >= w->o.commit_ms;
}

int odo_pgw_timeout_ms(const struct odo_pgw *w, int64_t now_ms)
{
	int64_t t = 1000;
	if (w->state == W_DOWN)
		t = w->next_connect_ms - now_ms;
	else if (w->state == W_IDLE && w->head)
		t = w->head->queued_ms + w->o.commit_ms - now_ms;
	if (w->state == W_IDLE && w->o.refresh_s > 0 && w->next_refresh_ms - now_ms < t)
		t = w->next_refresh_ms - now_ms;
	if (t < 0)
		t = 0;
	if (t > 1000)
		t = 1000;
	return (int)t;
}

int odo_pgw_idle(const struct odo_pgw *w)
{
	return !w->head && !w->fl;
}

int odo_pgw_connected(const struct odo_pgw *w)
{
	return w->state == W_IDLE || w->state == W_BUSY;
}

void odo_pgw_get_stats(const struct odo_pgw *w, struct odo_pgw_stats *st)
{
	*st = w->st;
}

/* ---- connection --------------------------------------------------------- */

static void go_down(struct odo_pgw *w, int64_t now_ms, const char *why)
{
	if (w->state != W_DOWN)
		ODO_LOG(WARN, "db", "database connection lost (%s); acknowledgements paused, retrying", why);
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->state = W_DOWN;
	w->next_connect_ms = now_ms + PGW_RETRY_MS;
	/* Whatever was in flight is not known to be committed: queue it again
	 * in front (idempotent), and ack nothing for it. */
	if (w->fl) {
		struct item *last = w->fl;
		size_t n = 1, rows = last->b ? last->b->n : 1;
		while (last->next) {
			last = last->next;
			n++;
			rows += last->b ? last->b->n : 1;
		}
		last->next = w->head;
		if (!w->head)
			w->tail = last;
		w->head = w->fl;
		w->nq += n;
		w->qrows += rows;
		w->fl = NULL;
		w->fl_n = 0;
	}
	PQclear(w->ackres);
	w->ackres = NULL;
	w->is_refresh = 0;
}

static void start_connect(struct odo_pgw *w, int64_t now_ms)
{
	const char *kw[] = { "dbname", "password", "application_name", "connect_timeout", NULL };
	const char *val[] = { w->conninfo, w->password, "odo-collector", "10", NULL };
	if (!w->password) {
		kw[1] = "application_name";
		val[1] = "odo-collector";
		kw[2] = "connect_timeout";
		val[2] = "10";
		kw[3] = NULL;
		val[3] = NULL;
	}
	w->conn = PQconnectStartParams(kw, val, 1);
	if (!w->conn || PQstatus(w->conn) == CONNECTION_BAD) {
		go_down(w, now_ms, w->conn ? PQerrorMessage(w->conn) : "out of memory");
		return;
	}
	w->state = W_CONNECTING;
	w->connect_wants_write = 1;
}

static void connect_step(struct odo_pgw *w, int64_t now_ms)
{
	switch (PQconnectPoll(w->conn)) {
	case PGRES_POLLING_READING:
		w->connect_wants_write = 0;
		return;
	case PGRES_POLLING_WRITING:
		w->connect_wants_write = 1;
		return;
	case PGRES_POLLING_OK:
		break;
	default: {
		char why[256];
		snprintf(why, sizeof why, "%s", PQerrorMessage(w->conn));
		why[strcspn(why, "\n")] = '\0';
		if (w->st.commits == 0 && w->st.failures == 0)
			ODO_LOG(WARN, "db", "cannot connect: %s", why);
		w->state = W_DOWN;
		PQfinish(w->conn);
		w->conn = NULL;
		w->next_connect_ms = now_ms + PGW_RETRY_MS;
		return;
	}
	}
	if (PQsetnonblocking(w->conn, 1) != 0 || PQenterPipelineMode(w->conn) != 1) {
		go_down(w, now_ms, "cannot enter pipeline mode");
		return;
	}
	w->state = W_IDLE;
	ODO_LOG(INFO, "db", "connected to the database (server %d)", PQserverVersion(w->conn));
}

/* ---- building a group ------------------------------------------------------ */

static int month_known(const int *m, int n, int ym)
{
	for (int i = 0; i < n; i++)
		if (m[i] == ym)
			return 1;
	return 0;
}

static int ym_of_ms(int64_t t_ms)
{
	time_t s = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0 ? 1 : 0));
	struct tm tm;
	gmtime_r(&s, &tm);
	return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

static int send_q(struct odo_pgw *w, const char *sql, int n, const char *const *vals, const int *lens,
		  const int *fmts)
{
	if (w->nsent >= PGW_MAX_QUERIES)
		return ODO_ERR_FULL;
	if (!PQsendQueryParams(w->conn, sql, n, NULL, vals, lens, fmts, 0))
		return ODO_ERR_DB;
	w->nsent++;
	return ODO_OK;
}

static int send_cs(struct odo_pgw *w, const char *sql, struct colset *c, const char *extra)
{
	const char *vals[PGW_MAX_COLS + 1];
	int lens[PGW_MAX_COLS + 1], fmts[PGW_MAX_COLS + 1];
	int rc = cs_finish(c);
	if (rc)
		return rc;
	for (int i = 0; i < c->ncols; i++) {
		vals[i] = c->col[i].b.p;
		lens[i] = (int)c->col[i].b.n;
		fmts[i] = 1;
	}
	int n = c->ncols;
	if (extra) {
		vals[n] = extra;
		lens[n] = 0;
		fmts[n++] = 0;
	}
	return send_q(w, sql, n, vals, lens, fmts);
}

static void dtc_join(struct sb *s, const struct odo_rec_dtc *d, int list)
{
	sb_reset(s);
	for (int i = 0; i < d->n[list] && i < ODO_WIRE_MAX_DTCS; i++) {
		if (i)
			sb_put(s, ",", 1);
		sb_put(s, d->codes[list][i], strlen(d->codes[list][i]));
	}
	if (!s->p)
		sb_put(s, "", 0);
}

static void add_record(struct odo_pgw *w, const char *dev, const struct odo_record *r)
{
	struct colset *c;
	switch (r->kind) {
	case ODO_REC_SAMPLE: {
		const struct odo_rec_sample *s = &r->u.sample;
		c = &w->cs[C_SAMPLES];
		cs_text(c, S_DEV, dev), cs_u64(c, S_SEQ, r->seq), cs_i64(c, S_T, r->t_ms), cs_i64(c, S_TSRC, r->tsrc);
		cs_u64(c, S_TRIP, s->trip_id), cs_i64(c, S_FIX, s->fix), cs_dbl(c, S_LAT, s->lat), cs_dbl(c, S_LON, s->lon);
		cs_dbl(c, S_SPEED, s->speed_mps), cs_dbl(c, S_HEAD, s->heading_deg), cs_dbl(c, S_EPH, s->eph_m);
		cs_dbl(c, S_ALT, s->alt_m), cs_dbl(c, S_RPM, s->rpm), cs_dbl(c, S_OBD, s->obd_speed_mps);
		cs_dbl(c, S_THR, s->throttle_pct), cs_dbl(c, S_COOL, s->coolant_c), cs_dbl(c, S_FUEL, s->fuel_pct);
		cs_dbl(c, S_AX, s->ax_g), cs_dbl(c, S_AY, s->ay_g);
		int ym = ym_of_ms(r->t_ms);
		if (!month_known(w->months, w->nmonths, ym) &&
		    !month_known(w->pending_months, w->npending_months, ym) && w->npending_months < PGW_MONTH_CACHE)
			w->pending_months[w->npending_months++] = ym;
		break;
	}
	case ODO_REC_EVENT: {
		const struct odo_rec_event *e = &r->u.event;
		c = &w->cs[C_EVENTS];
		cs_text(c, E_DEV, dev), cs_u64(c, E_SEQ, r->seq), cs_i64(c, E_T, r->t_ms), cs_i64(c, E_TSRC, r->tsrc);
		cs_u64(c, E_TRIP, e->trip_id), cs_text(c, E_KIND, odo_event_kind_name(e->kind));
		cs_i64(c, E_SRC, e->source), cs_i64(c, E_DUR, e->duration_ms), cs_dbl(c, E_PEAK, e->peak_g);
		cs_dbl(c, E_MEAN, e->mean_g), cs_dbl(c, E_SB, e->speed_before_mps), cs_dbl(c, E_SA, e->speed_after_mps);
		cs_dbl(c, E_LAT, e->lat), cs_dbl(c, E_LON, e->lon), cs_dbl(c, E_HEAD, e->heading_deg);
		break;
	}
	case ODO_REC_DTC: {
		const struct odo_rec_dtc *d = &r->u.dtc;
		c = &w->cs[C_DTC];
		cs_text(c, D_DEV, dev), cs_u64(c, D_SEQ, r->seq), cs_i64(c, D_T, r->t_ms), cs_i64(c, D_ECU, d->ecu);
		cs_i64(c, D_MIL, d->mil);
		for (int l = 0; l < ODO_DTC__LISTS; l++) {
			dtc_join(&w->extra[0], d, l);
			cs_text(c, D_ST + l, w->extra[0].p ? w->extra[0].p : "");
		}
		cs_bool(c, D_AIR, d->airbag_deployed);
		break;
	}
	case ODO_REC_VEHICLE:
		c = &w->cs[C_VEH];
		cs_text(c, V_DEV, dev), cs_u64(c, V_SEQ, r->seq), cs_i64(c, V_T, r->t_ms);
		cs_text(c, V_VIN, r->u.vehicle.vin), cs_i64(c, V_ECU, r->u.vehicle.ecu);
		break;
	case ODO_REC_PHONE:
		c = &w->cs[C_PHONE];
		cs_text(c, P_DEV, dev), cs_u64(c, P_SEQ, r->seq), cs_i64(c, P_T, r->t_ms);
		cs_bool(c, P_SCR, r->u.phone.screen_on), cs_i64(c, P_CALL, r->u.phone.call);
		cs_bool(c, P_HND, r->u.phone.handled);
		break;
	case ODO_REC_STATUS: {
		const struct odo_rec_status *s = &r->u.status;
		c = &w->cs[C_STATUS];
		cs_text(c, T_DEV, dev), cs_u64(c, T_SEQ, r->seq), cs_i64(c, T_T, r->t_ms), cs_u64(c, T_UP, s->uptime_s);
		cs_u64(c, T_OD, s->outbox_depth), cs_u64(c, T_OA, s->outbox_oldest_age_s), cs_u64(c, T_EV, s->evicted);
		cs_u64(c, T_RC, s->reconnects), cs_u64(c, T_CE, s->can_errors), cs_u64(c, T_GE, s->gps_errors);
		cs_u64(c, T_AE, s->accel_errors), cs_i64(c, T_FIX, s->fix), cs_i64(c, T_CS, s->clock_source);
		break;
	}
	case ODO_REC_TRIP_START: {
		/* One upsert cannot touch a row twice: skip a trip already in this group. */
		char key[ODO_DEVICE_ID_MAX + 32];
		snprintf(key, sizeof key, "\"%s:%llu\"", dev, (unsigned long long)r->u.trip_start.trip_id);
		if (w->extra[4].p && strstr(w->extra[4].p, key))
			return;
		sb_put(&w->extra[4], key, strlen(key));
		c = &w->cs[C_TSTART];
		cs_text(c, TS_DEV, dev), cs_u64(c, TS_TRIP, r->u.trip_start.trip_id), cs_u64(c, TS_SEQ, r->seq);
		cs_i64(c, TS_T, r->t_ms), cs_dbl(c, TS_LAT, r->u.trip_start.lat), cs_dbl(c, TS_LON, r->u.trip_start.lon);
		break;
	}
	case ODO_REC_TRIP_END: {
		const struct odo_rec_trip_end *e = &r->u.trip_end;
		c = &w->cs[C_TEND];
		/* One upsert cannot touch a row twice: skip a trip already in this group. */
		char key[ODO_DEVICE_ID_MAX + 32];
		snprintf(key, sizeof key, "\"%s:%llu\"", dev, (unsigned long long)e->trip_id);
		if (w->extra[1].p && strstr(w->extra[1].p, key))
			return;
		sb_put(&w->extra[1], key, strlen(key));
		c->rows++;
		cs_text(c, TE_DEV, dev), cs_u64(c, TE_TRIP, e->trip_id), cs_u64(c, TE_SEQ, r->seq);
		cs_i64(c, TE_START, e->start_ms), cs_i64(c, TE_END, e->end_ms), cs_dbl(c, TE_DIST, e->distance_m);
		cs_dbl(c, TE_OBD, e->obd_distance_m), cs_dbl(c, TE_DUR, e->duration_s), cs_dbl(c, TE_MOV, e->moving_s);
		cs_dbl(c, TE_IDLE, e->idle_s), cs_dbl(c, TE_AVG, e->avg_speed_mps), cs_dbl(c, TE_MAX, e->max_speed_mps);
		cs_dbl(c, TE_RPM, e->avg_rpm), cs_dbl(c, TE_NIGHT, e->night_m), cs_dbl(c, TE_LNW, e->late_night_weekend_m);
		cs_dbl(c, TE_RUSH, e->rush_hour_m), cs_dbl(c, TE_HEAVY, e->heavy_traffic_m), cs_dbl(c, TE_WIPER, e->wiper_m);
		cs_dbl(c, TE_SCREEN, e->screen_on_s), cs_dbl(c, TE_CALL, e->handheld_call_s);
		cs_u64(c, TE_HANDLED, e->phone_handled_count), cs_u64(c, TE_HB, e->hard_brakes);
		cs_u64(c, TE_RA, e->rapid_accels), cs_u64(c, TE_HC, e->harsh_corners), cs_u64(c, TE_SW, e->swerves);
		cs_u64(c, TE_CR, e->crashes), cs_dbl(c, TE_JERK, e->mean_abs_jerk), cs_dbl(c, TE_GPS, e->gps_accuracy_m);
		cs_bool(c, TE_DTC, e->has_dtc), cs_bool(c, TE_AIR, e->airbag_deployed);
		/* the trip ids for the dirty marks: extra[2] is a text[] literal */
		sb_put(&w->extra[2], w->extra[2].n ? "," : "{", 1);
		sb_put(&w->extra[2], key, strlen(key));
		return;
	}
	default:
		return;
	}
	c->rows++;
}

static const int ncols_of[] = { S__N, E__N, D__N, V__N, P__N, T__N, TS__N, TE__N, B__N, L__N };
static const char *const sql_of[] = { SQL_SAMPLES, SQL_EVENTS, SQL_DTC, SQL_VEHICLE, SQL_PHONE, SQL_STATUS };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Take a group off the queue and send it as one pipeline ending in Sync. */
static int send_group(struct odo_pgw *w)
{
	size_t rows = 0, n = 0;
	struct item *it;
	w->fl = NULL;
	struct item **tailp = &w->fl;
	while (w->head && (n == 0 || (!w->solo && rows < w->o.max_group_rows))) {
		it = w->head;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		it->next = NULL;
		*tailp = it;
		tailp = &it->next;
		size_t r = it->b ? it->b->n : 1;
		rows += r;
		n++;
		w->nq--;
		w->qrows -= r;
	}
	w->fl_n = n;
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->cs); i++)
		cs_reset(&w->cs[i], ncols_of[i]);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->extra); i++)
		sb_reset(&w->extra[i]);
	w->npending_months = 0;

	/* devices of the group, sorted and unique, for the ordered row locks */
	const char **devs = malloc(n * sizeof *devs);
	if (!devs)
		return ODO_ERR_NOMEM;
	size_t nd = 0;
	for (it = w->fl; it; it = it->next) {
		if (!it->b)
			continue;
		devs[nd++] = it->b->device;
		struct colset *bc = &w->cs[C_BATCH];
		uint64_t hi = it->b->recs[it->b->n - 1].seq;
		cs_text(bc, B_DEV, it->b->device), cs_u64(bc, B_LO, it->b->seq), cs_u64(bc, B_HI, hi);
		cs_u64(bc, B_N, it->b->n);
		bc->rows++;
		/* a batch seen twice in one group adds its rows once */
		int dup = 0;
		for (struct item *p = w->fl; p != it; p = p->next)
			if (p->b && p->b->seq == it->b->seq && p->b->n == it->b->n &&
			    strcmp(p->b->device, it->b->device) == 0 && p->b->recs[p->b->n - 1].seq == hi)
				dup = 1;
		if (dup)
			continue;
		for (size_t k = 0; k < it->b->n; k++)
			add_record(w, it->b->device, &it->b->recs[k]);
	}
	qsort(devs, nd, sizeof *devs, cmp_str);
	struct sb *dl = &w->extra[3];
	size_t u = 0;
	sb_put(dl, "{", 1);
	for (size_t i = 0; i < nd; i++) {
		if (i && strcmp(devs[i], devs[i - 1]) == 0)
			continue;
		sb_printf(dl, "%s\"%s\"", u++ ? "," : "", devs[i]); /* ids are [A-Za-z0-9._-] */
	}
	sb_put(dl, "}", 1);
	free(devs);
	for (it = w->fl; it; it = it->next) {
		if (it->b)
			continue;
		struct colset *c = &w->cs[C_DEAD];
		cs_text(c, L_TOPIC, it->topic), cs_text(c, L_TDEV, it->tdev);
		cs_bytes(c, L_PAY, OID_BYTEA, it->raw, it->len);
		cs_i64(c, L_CODE, it->err.code), cs_text(c, L_NAME, odo_decode_code_name(it->err.code));
		cs_text(c, L_FIELD, it->err.field), cs_i64(c, L_OFF, (long long)it->err.offset);
		cs_text(c, L_MSG, it->err.msg);
		c->rows++;
	}

	w->nsent = w->nres = w->failed = 0;
	w->ack_idx = -1;
	w->errstate[0] = w->errmsg[0] = '\0';
	int rc = ODO_OK;
	const char *dv[1] = { dl->p };
	if (u) {
		rc = rc ? rc : send_q(w, SQL_DEVICES, 1, dv, NULL, NULL);
		rc = rc ? rc : send_q(w, SQL_LOCK, 1, dv, NULL, NULL);
	}
	for (int i = 0; i < w->npending_months && !rc; i++) {
		int y = w->pending_months[i] / 100, m = w->pending_months[i] % 100;
		int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
		char ddl[256];
		/* Identifiers and bounds from validated integers only. */
		snprintf(ddl, sizeof ddl,
			 "CREATE TABLE IF NOT EXISTS samples_%04d_%02d PARTITION OF samples FOR VALUES FROM "
			 "('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')",
			 y, m, y, m, ny, nm);
		rc = send_q(w, ddl, 0, NULL, NULL, NULL);
	}
	for (int i = C_SAMPLES; i <= C_STATUS && !rc; i++)
		if (w->cs[i].rows)
			rc = send_cs(w, sql_of[i], &w->cs[i], NULL);
	if (!rc && w->cs[C_TSTART].rows)
		rc = send_cs(w, SQL_TRIP_START, &w->cs[C_TSTART], NULL);
	if (!rc && w->cs[C_TEND].rows) {
		rc = send_cs(w, SQL_TRIP_END, &w->cs[C_TEND], NULL);
		sb_put(&w->extra[2], "}", 1);
		const char *tv[1] = { w->extra[2].p };
		rc = rc ? rc : send_q(w, SQL_DIRTY, 1, tv, NULL, NULL);
	}
	if (!rc && u) {
		rc = send_cs(w, SQL_BATCHES, &w->cs[C_BATCH], w->name);
		w->ack_idx = w->nsent;
		rc = rc ? rc : send_q(w, SQL_ACK, 1, dv, NULL, NULL);
	}
	if (!rc && w->cs[C_DEAD].rows)
		rc = send_cs(w, SQL_DEAD, &w->cs[C_DEAD], w->name);
	if (rc) {
		/* Could not send the whole group: make the transaction fail so
		 * nothing of it commits; it is retried when the Sync comes back. */
		ODO_LOG(WARN, "db", "could not send a group (%s); rolling it back", odo_strerror(rc));
		w->failed = 1;
		if (!PQsendQueryParams(w->conn, "SELECT 1 / 0", 0, NULL, NULL, NULL, NULL, 0))
			return ODO_ERR_DB;
	}
	if (PQpipelineSync(w->conn) != 1)
		return ODO_ERR_DB;
	PQflush(w->conn);
	w->state = W_BUSY;
	return ODO_OK;
}

static void finish_group(struct odo_pgw *w, int64_t now_ms)
{
	struct item *fl = w->fl;
	w->fl = NULL;
	size_t n = w->fl_n;
	w->fl_n = 0;
	w->state = W_IDLE;
	if (w->is_refresh) {
		w->is_refresh = 0;
		if (w->failed)
			ODO_LOG(WARN, "aggregate", "incremental refresh failed: %s", w->errmsg);
		return;
	}
	if (!w->failed) {
		w->st.commits++;
		for (struct item *it = fl; it; it = it->next) {
			if (it->b) {
				w->st.batches++;
				w->st.records += it->b->n;
			} else {
				w->st.dead++;
			}
		}
		for (int i = 0; i < w->npending_months && w->nmonths < PGW_MONTH_CACHE; i++)
			w->months[w->nmonths++] = w->pending_months[i];
		w->solo = w->solo > 0 ? w->solo - 1 : 0;
		list_free(fl);
		if (w->ackres) {
			for (int r = 0; r < PQntuples(w->ackres); r++)
				w->ack(w->ctx, PQgetvalue(w->ackres, r, 0),
				       strtoull(PQgetvalue(w->ackres, r, 1), NULL, 10));
		}
		PQclear(w->ackres);
		w->ackres = NULL;
		return;
	}
	PQclear(w->ackres);
	w->ackres = NULL;
	w->st.failures++;
	int transient = w->errstate[0] == '\0' || strncmp(w->errstate, "40", 2) == 0 ||
			(strncmp(w->errstate, "08", 2) == 0 && strcmp(w->errstate, "08P01") != 0) || strncmp(w->errstate, "53", 2) == 0 ||
			strncmp(w->errstate, "57", 2) == 0 || strcmp(w->errstate, "42P07") == 0 ||
			strcmp(w->errstate, "23505") == 0;
	ODO_LOG(WARN, "db", "group of %zu messages not committed (SQLSTATE %s): %s", n,
		w->errstate[0] ? w->errstate : "-", w->errmsg);
	if (n == 1 && !transient && fl->b) {
		/* The database refuses this batch on its own: dead-letter it with
		 * the server's reason rather than retrying forever. */
		struct odo_wire_error e = { .code = ODO_ERR_DB };
		snprintf(e.field, sizeof e.field, "sqlstate %s", w->errstate);
		snprintf(e.msg, sizeof e.msg, "%.*s", (int)sizeof e.msg - 1, w->errmsg);
		if (odo_pgw_add_dead(w, fl->topic, fl->tdev, fl->raw, fl->len, &e) != ODO_OK)
			ODO_LOG(ERROR, "db", "out of memory dead-lettering a refused batch");
		item_free(fl);
		return;
	}
	/* Put the group back in front and retry; after a data error, one by one. */
	if (!transient)
		w->solo = (int)n;
	w->fl = fl;
	w->fl_n = n;
	struct item *last = w->fl;
	size_t rows = 0, cnt = 0;
	for (struct item *p = w->fl; p; p = p->next) {
		last = p;
		rows += p->b ? p->b->n : 1;
		cnt++;
	}
	last->next = w->head;
	if (!w->head)
		w->tail = last;
	w->head = w->fl;
	w->nq += cnt;
	w->qrows += rows;
	w->fl = NULL;
	w->fl_n = 0;
	w->hold_until_ms = now_ms + (transient ? PGW_RETRY_HOLD_MS : 0);
}

static void read_results(struct odo_pgw *w, int64_t now_ms)
{
	if (!PQconsumeInput(w->conn)) {
		go_down(w, now_ms, PQerrorMessage(w->conn));
		return;
	}
	while (w->state == W_BUSY && !PQisBusy(w->conn)) {
		PGresult *r = PQgetResult(w->conn);
		if (!r) {
			if (PQstatus(w->conn) == CONNECTION_BAD) {
				go_down(w, now_ms, PQerrorMessage(w->conn));
				return;
			}
			continue;
		}
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			finish_group(w, now_ms);
			return;
		}
		if (s == PGRES_FATAL_ERROR || s == PGRES_PIPELINE_ABORTED || s == PGRES_NONFATAL_ERROR) {
			if (!w->failed && s != PGRES_PIPELINE_ABORTED) {
				const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(w->errstate, sizeof w->errstate, "%s", st ? st : "");
				snprintf(w->errmsg, sizeof w->errmsg, "%s", PQresultErrorMessage(r));
				w->errmsg[strcspn(w->errmsg, "\n")] = '\0';
			}
			w->failed = 1;
		} else if (w->nres == w->ack_idx && s == PGRES_TUPLES_OK) {
			PQclear(w->ackres);
			w->ackres = r;
			r = NULL;
		}
		w->nres++;
		PQclear(r);
	}
	if (w->state == W_BUSY && PQstatus(w->conn) == CONNECTION_BAD)
		go_down(w, now_ms, PQerrorMessage(w->conn));
}

static void send_refresh(struct odo_pgw *w)
{
	w->nsent = w->nres = w->failed = 0;
	w->ack_idx = -1;
	w->is_refresh = 1;
	w->npending_months = 0;
	if (send_q(w, odo_agg_refresh_dirty_sql(), 0, NULL, NULL, NULL) != ODO_OK || PQpipelineSync(w->conn) != 1) {
		w->failed = 1;
		snprintf(w->errmsg, sizeof w->errmsg, "%s", PQerrorMessage(w->conn));
	}
	PQflush(w->conn);
	w->state = W_BUSY;
}

void odo_pgw_service(struct odo_pgw *w, int64_t now_ms, short revents)
{
	if (w->state == W_DOWN) {
		if (now_ms >= w->next_connect_ms)
			start_connect(w, now_ms);
		return;
	}
	if (w->state == W_CONNECTING) {
		if (revents)
			connect_step(w, now_ms);
		if (w->state != W_IDLE)
			return;
	}
	if (w->state == W_BUSY) {
		if (revents & POLLOUT)
			PQflush(w->conn);
		if (revents & (POLLIN | POLLERR | POLLHUP))
			read_results(w, now_ms);
		if (w->state != W_IDLE)
			return;
	} else if (w->state == W_IDLE && (revents & (POLLIN | POLLERR | POLLHUP))) {
		/* Idle: notices, or the server going away. */
		if (!PQconsumeInput(w->conn) || PQstatus(w->conn) == CONNECTION_BAD) {
			go_down(w, now_ms, PQerrorMessage(w->conn));
			return;
		}
	}
	if (w->state == W_IDLE && group_due(w, now_ms)) {
		if (send_group(w) != ODO_OK)
			go_down(w, now_ms, PQerrorMessage(w->conn));
	} else if (w->state == W_IDLE && w->o.refresh_s > 0 && now_ms >= w->next_refresh_ms) {
		w->next_refresh_ms = now_ms + (int64_t)w->o.refresh_s * 1000;
		send_refresh(w);
	}
}
