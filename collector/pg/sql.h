/*
 * odo-collector — every SQL statement the ingest writer sends, with the
 * column order of its array parameters (the enums). Included by group.c
 * only. All statements are parameterised; the arrays travel in binary
 * format (pgarray.h): integers as int8, floats as float8, narrowed by
 * assignment (a value the column cannot hold is an error, never a silent
 * truncation). No statement here is DDL: partitions are `odo-collector
 * maintain`'s job (maintain.c).
 *
 * Every raw row is keyed by (device_id, epoch, seq) and inserted with
 * ON CONFLICT DO NOTHING, so a redelivered record changes nothing.
 *
 * Privacy (migration 004, docs/collector.md "Privacy: erasure and
 * consent"): every record statement keeps only the rows DROP_WHY() says
 * nothing against: not of an erased (device, window) — its time in a
 * tombstone's window, or its (epoch, seq) in a tombstone's ranges — and,
 * with odo.require_consent on (the connection's [privacy] require_consent),
 * not a personal record of a driver without consent at its time.
 * SQL_DROPS records the dropped ones (arrival_drops) and counts them, with
 * the same expression, in the same transaction: forget and consent changes
 * take the devices' row locks the transaction holds (SQL_LOCK), so both see
 * the same tombstones.
 */
#ifndef ODO_COLLECTOR_PG_SQL_H
#define ODO_COLLECTOR_PG_SQL_H

#define TS(x) "to_timestamp(" x "::double precision / 1000)"

/* Wire record kinds holding personal data (positions, driving, phone use):
 * trip start/end, event, sample, phone, track, crash trace. Status (device
 * health), DTC and VIN reports are kept without consent. */
#define PERSONAL_KINDS "(1, 2, 3, 4, 7, 9, 10)"
#define REQUIRE_CONSENT "coalesce(current_setting('odo.require_consent', true), '') = 'on'"
/* Why a record must not be stored (NULL: store it). d, e, s: device, epoch,
 * seq; t: its time (NULL for a record the decoder refused); personal: SQL
 * boolean. */
#define DROP_WHY(d, e, s, t, personal)                                                              \
	"(CASE WHEN EXISTS (SELECT 1 FROM erasure_ranges xr WHERE xr.device_id = " d " AND xr.epoch = " e \
	" AND " s " BETWEEN xr.seq_lo AND xr.seq_hi) OR EXISTS (SELECT 1 FROM erasures xw"                 \
	" WHERE xw.device_id = " d " AND " t " >= xw.t_from AND " t " < xw.t_to) THEN 'erased'"          \
	" WHEN " personal " AND " REQUIRE_CONSENT " AND NOT odo_consented(" d ", " t ") THEN 'no consent' END)"
#define KEEP(d, e, s, t, personal) " " DROP_WHY(d, e, s, t, personal) " IS NULL"
/* trip_id = '<device>:<epoch as 16 lowercase hex digits>:<device trip id>' (docs/wire-format.md) */
#define TRIP_ID(d, e, tr) d " || ':' || lpad(to_hex(" e "), 16, '0') || ':' || " tr

static const char SQL_DEVICES[] =
	"INSERT INTO devices (device_id) SELECT d FROM unnest($1::text[]) AS u(d) ON CONFLICT (device_id) DO NOTHING";
/* Serialise per device: every collector holds these row locks while it
 * writes the device's trips and computes its high-water marks (taken in
 * order, so two collectors cannot deadlock). */
static const char SQL_LOCK[] =
	"UPDATE devices SET last_seen = now() WHERE device_id IN (SELECT device_id FROM devices"
	" WHERE device_id = ANY($1::text[]) ORDER BY device_id FOR UPDATE)";

enum { EP_DEV, EP_EPOCH, EP__N };
static const char SQL_EPOCHS[] =
	"INSERT INTO device_epochs AS x (device_id, epoch) SELECT DISTINCT d, e"
	" FROM unnest($1::text[], $2::bigint[]) AS u(d, e)"
	" ON CONFLICT (device_id, epoch) DO UPDATE SET last_seen = now()";

enum { S_DEV, S_EPOCH, S_SEQ, S_T, S_TSRC, S_TRIP, S_FIX, S_LAT, S_LON, S_SPEED, S_HEAD, S_EPH, S_ALT, S_RPM,
       S_OBD, S_THR, S_COOL, S_FUEL, S_AX, S_AY, S__N };
static const char SQL_SAMPLES[] =
	"INSERT INTO samples (device_id, epoch, seq, t, tsrc, device_trip_id, fix, lat, lon, speed_mps,"
	" heading_deg, eph_m, alt_m, rpm, obd_speed_mps, throttle_pct, coolant_c, fuel_pct, ax_g, ay_g)"
	" SELECT d, e, s, " TS("tm") ", ts, tr, fx, la, lo, sp, hd, ep, al, rp, ob, th, co, fu, ax, ay"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],"
	" $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],"
	" $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[], $20::float8[])"
	" AS u(d, e, s, tm, ts, tr, fx, la, lo, sp, hd, ep, al, rp, ob, th, co, fu, ax, ay)"
	" WHERE" KEEP("d", "e", "s", TS("tm"), "true") " ON CONFLICT DO NOTHING";

enum { E_DEV, E_EPOCH, E_SEQ, E_T, E_TSRC, E_TRIP, E_KIND, E_SRC, E_DUR, E_PEAK, E_MEAN, E_SB, E_SA, E_LAT,
       E_LON, E_HEAD, E_GRADE, E__N };
static const char SQL_EVENTS[] =
	"INSERT INTO events (device_id, epoch, seq, t, tsrc, device_trip_id, kind, source, duration_ms, peak_g,"
	" mean_g, speed_before_mps, speed_after_mps, lat, lon, heading_deg, grade)"
	" SELECT d, e, s, " TS("tm") ", ts, tr, k, sr, du, pk, mn, sb, sa, la, lo, hd, gr"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],"
	" $7::text[], $8::bigint[], $9::bigint[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],"
	" $14::float8[], $15::float8[], $16::float8[], $17::bigint[])"
	" AS u(d, e, s, tm, ts, tr, k, sr, du, pk, mn, sb, sa, la, lo, hd, gr)"
	" WHERE" KEEP("d", "e", "s", TS("tm"), "true") " ON CONFLICT DO NOTHING";

enum { D_DEV, D_EPOCH, D_SEQ, D_T, D_ECU, D_MIL, D_ST, D_PE, D_PM, D_AIR, D__N };
static const char SQL_DTC[] =
	"INSERT INTO dtc_reports (device_id, epoch, seq, t, ecu, mil, stored, pending, permanent, airbag_deployed)"
	" SELECT d, ep, s, " TS("tm") ", e, CASE WHEN m < 0 THEN NULL ELSE m = 1 END,"
	" coalesce(string_to_array(NULLIF(c1, ''), ','), '{}'), coalesce(string_to_array(NULLIF(c2, ''), ','), '{}'),"
	" coalesce(string_to_array(NULLIF(c3, ''), ','), '{}'), a"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[],"
	" $8::text[], $9::text[], $10::boolean[]) AS u(d, ep, s, tm, e, m, c1, c2, c3, a)"
	" WHERE" KEEP("d", "ep", "s", TS("tm"), "false") " ON CONFLICT DO NOTHING";

enum { V_DEV, V_EPOCH, V_SEQ, V_T, V_VIN, V_ECU, V__N };
static const char SQL_VEHICLE[] =
	"INSERT INTO vehicle_reports (device_id, epoch, seq, t, vin, ecu)"
	" SELECT d, ep, s, " TS("tm") ", NULLIF(v, ''), e FROM unnest($1::text[], $2::bigint[], $3::bigint[],"
	" $4::bigint[], $5::text[], $6::bigint[]) AS u(d, ep, s, tm, v, e)"
	" WHERE" KEEP("d", "ep", "s", TS("tm"), "false") " ON CONFLICT DO NOTHING";

enum { P_DEV, P_EPOCH, P_SEQ, P_T, P_SCR, P_CALL, P_HND, P__N };
static const char SQL_PHONE[] =
	"INSERT INTO phone_states (device_id, epoch, seq, t, screen_on, call, handled)"
	" SELECT d, e, s, " TS("tm") ", so, c, h FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],"
	" $5::boolean[], $6::bigint[], $7::boolean[]) AS u(d, e, s, tm, so, c, h)"
	" WHERE" KEEP("d", "e", "s", TS("tm"), "true") " ON CONFLICT DO NOTHING";

enum { T_DEV, T_EPOCH, T_SEQ, T_T, T_UP, T_OD, T_OA, T_EV, T_RC, T_CE, T_GE, T_AE, T_FIX, T_CS, T_CAL,
       T_CALQ, T_ROLL, T_PITCH, T_YAW, T_CALT, T_GLAG, T_GYRO, T__N };
static const char SQL_STATUS[] =
	"INSERT INTO device_status (device_id, epoch, seq, t, uptime_s, outbox_depth, outbox_oldest_age_s, evicted,"
	" reconnects, can_errors, gps_errors, accel_errors, fix, clock_source, calib_state, calib_confidence,"
	" calib_roll_deg, calib_pitch_deg, calib_yaw_deg, calib_ready_s, calib_gps_lag_s, calib_gyro_state)"
	" SELECT d, e, s, " TS("tm") ", up, od, oa, ev, rc, ce, ge, ae, fx, cs, cl, cq, ro, pi, ya, ct, gl, gy"
	" FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],"
	" $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],"
	" $14::bigint[], $15::bigint[], $16::float8[], $17::float8[], $18::float8[], $19::float8[], $20::float8[],"
	" $21::float8[], $22::bigint[])"
	" AS u(d, e, s, tm, up, od, oa, ev, rc, ce, ge, ae, fx, cs, cl, cq, ro, pi, ya, ct, gl, gy)"
	" WHERE" KEEP("d", "e", "s", TS("tm"), "false") " ON CONFLICT DO NOTHING";

/* Tracks: one row per record (K_*), its points flattened (KP_*: record
 * index, point index, values), aggregated back into arrays in order. */
enum { K_IDX, K_DEV, K_EPOCH, K_SEQ, K_T, K_TSRC, K_TRIP, K_N, K__N };
enum { KP_IDX, KP_K, KP_TMS, KP_LAT, KP_LON, KP_SPEED, KP_EPH, KP__N };
static const char SQL_TRACKS[] =
	"WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],"
	"   $6::bigint[], $7::bigint[], $8::bigint[]) AS r(i, d, e, s, tm, ts, tr, n)),"
	" p AS (SELECT * FROM unnest($9::bigint[], $10::bigint[], $11::bigint[], $12::float8[], $13::float8[],"
	"   $14::float8[], $15::float8[]) AS p(i, k, tp, la, lo, sp, eh))"
	" INSERT INTO tracks (device_id, epoch, seq, t, tsrc, device_trip_id, n, t_ms, lat, lon, speed_mps, eph_m)"
	" SELECT r.d, r.e, r.s, " TS("r.tm") ", r.ts, r.tr, r.n, array_agg(p.tp ORDER BY p.k),"
	" array_agg(p.la ORDER BY p.k), array_agg(p.lo ORDER BY p.k), array_agg(p.sp ORDER BY p.k),"
	" array_agg(p.eh ORDER BY p.k)"
	" FROM r JOIN p ON p.i = r.i WHERE" KEEP("r.d", "r.e", "r.s", TS("r.tm"), "true")
	" GROUP BY r.i, r.d, r.e, r.s, r.tm, r.ts, r.tr, r.n ON CONFLICT DO NOTHING";

/* Crash-trace parts: one row per part (CT_*), samples flattened (CP_*). */
enum { CT_IDX, CT_DEV, CT_EPOCH, CT_SEQ, CT_T, CT_TSRC, CT_TRIP, CT_CRASH, CT_PART, CT_PARTS, CT_HZ, CT_FRAME,
       CT_SPEED, CT_OBD, CT_RPM, CT_AIR, CT_LAT, CT_LON, CT__N };
enum { CP_IDX, CP_K, CP_AX, CP_AY, CP_AZ, CP__N };
static const char SQL_CRASH_TRACES[] =
	"WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],"
	"   $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],"
	"   $13::float8[], $14::float8[], $15::float8[], $16::bigint[], $17::float8[], $18::float8[])"
	"   AS r(i, d, e, s, tm, ts, tr, ct, pa, np, hz, fr, sp, ob, rp, ai, la, lo)),"
	" p AS (SELECT * FROM unnest($19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[])"
	"   AS p(i, k, ax, ay, az))"
	" INSERT INTO crash_traces (device_id, epoch, seq, t, tsrc, device_trip_id, crash_t, part, parts, hz, frame,"
	" ax, ay, az, speed_mps, obd_speed_mps, rpm, airbag, lat, lon)"
	" SELECT r.d, r.e, r.s, " TS("r.tm") ", r.ts, r.tr, " TS("r.ct") ", r.pa, r.np, r.hz, r.fr,"
	" array_agg(p.ax::smallint ORDER BY p.k), array_agg(p.ay::smallint ORDER BY p.k),"
	" array_agg(p.az::smallint ORDER BY p.k), r.sp, r.ob, r.rp, CASE WHEN r.ai < 0 THEN NULL ELSE r.ai = 1 END,"
	" r.la, r.lo"
	" FROM r JOIN p ON p.i = r.i WHERE" KEEP("r.d", "r.e", "r.s", TS("r.tm"), "true")
	" GROUP BY r.i, r.d, r.e, r.s, r.tm, r.ts, r.tr, r.ct, r.pa, r.np, r.hz, r.fr, r.sp, r.ob, r.rp, r.ai, r.la, r.lo"
	" ON CONFLICT DO NOTHING";

/* A valid record outside the stored time window (no partition for its month). */
enum { Q_DEV, Q_EPOCH, Q_SEQ, Q_T, Q_KIND, Q_REASON, Q_RAW, Q_TOPIC, Q__N };
static const char SQL_QUARANTINE[] =
	"INSERT INTO quarantine (device_id, epoch, seq, t, kind, reason, record, topic, processed_by)"
	" SELECT d, e, s, " TS("tm") ", k, r, raw, tp, $9 FROM unnest($1::text[], $2::bigint[], $3::bigint[],"
	" $4::bigint[], $5::bigint[], $6::text[], $7::bytea[], $8::text[]) AS u(d, e, s, tm, k, r, raw, tp)"
	" WHERE" KEEP("d", "e", "s", TS("tm"), "k IN " PERSONAL_KINDS)
	" ON CONFLICT (device_id, epoch, seq) DO NOTHING RETURNING seq";

#define DRIVER_AT(dev, ts)                                                                          \
	"(SELECT a.driver_id FROM device_assignments a WHERE a.device_id = " dev " AND a.valid_from <= " ts \
	" AND (a.valid_to IS NULL OR a.valid_to > " ts ") ORDER BY a.valid_from DESC LIMIT 1)"

/* A trip start or end whose (device, epoch, trip) already holds another
 * start/end seq contradicts it: it is dead-lettered (reason "trip
 * conflict"), never merged; the same record again (a redelivery) is a
 * no-op. The upsert keeps every stored value (coalesce / CASE on the stored
 * seq) and returns the stored seq; rows whose seq differs are conflicts.
 * Within one statement the lowest seq of a key is the candidate. Returns
 * the conflicts dead-lettered now (not again on a redelivery). */
#define TRIP_CONFLICTS(col, what)                                                                    \
	" bad AS (SELECT u.*, ins.stored FROM u JOIN ins ON ins.device_id = u.d AND ins.epoch = u.e"        \
	"   AND ins.device_trip_id = u.tr WHERE ins.stored <> u.s),"                                         \
	" dl AS (INSERT INTO dead_letters (topic, topic_device, payload, error_code, error_name, field,"     \
	"   byte_offset, message, processed_by, reason, epoch, seq, kind)"                                  \
	"   SELECT tp, d, raw, 4, 'ODO_ERR_PROTOCOL', 'trip', NULL,"                                         \
	"   format('trip %s of epoch %s already has its " what " at seq %s; this one has seq %s', tr, e, stored, s)," \
	"   $" col ", 'trip conflict', e, s, k FROM bad"                                                     \
	"   ON CONFLICT (topic_device, epoch, seq) WHERE seq IS NOT NULL DO NOTHING RETURNING seq)"          \
	" SELECT b.d, b.e, b.tr, b.s, b.stored FROM bad b JOIN dl ON dl.seq = b.s"

enum { TS_DEV, TS_EPOCH, TS_TRIP, TS_SEQ, TS_T, TS_LAT, TS_LON, TS_RAW, TS_TOPIC, TS__N };
static const char SQL_TRIP_START[] =
	"WITH u AS (SELECT *, 1 AS k FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],"
	"   $6::float8[], $7::float8[], $8::bytea[], $9::text[]) AS u(d, e, tr, s, tm, la, lo, raw, tp)),"
	" w AS (SELECT DISTINCT ON (d, e, tr) * FROM u WHERE" KEEP("d", "e", "s", TS("tm"), "true")
	"   ORDER BY d, e, tr, s),"
	" ins AS (INSERT INTO trips AS x (trip_id, driver_id, start_time, device_id, epoch, device_trip_id,"
	"   start_seq, start_lat, start_lon)"
	"   SELECT " TRIP_ID("d", "e", "tr") ", " DRIVER_AT("d", TS("tm")) ", " TS("tm") ", d, e, tr, s, la, lo"
	"   FROM w"
	/* the trip's end may have been committed first (out of order, another collector) */
	"   ON CONFLICT (device_id, epoch, device_trip_id) DO UPDATE SET"
	"   start_seq = coalesce(x.start_seq, EXCLUDED.start_seq),"
	"   start_lat = CASE WHEN x.start_seq IS NULL THEN EXCLUDED.start_lat ELSE x.start_lat END,"
	"   start_lon = CASE WHEN x.start_seq IS NULL THEN EXCLUDED.start_lon ELSE x.start_lon END,"
	"   start_time = coalesce(x.start_time, EXCLUDED.start_time),"
	"   driver_id = coalesce(x.driver_id, EXCLUDED.driver_id)"
	"   RETURNING x.device_id, x.epoch, x.device_trip_id, x.start_seq AS stored),"
	TRIP_CONFLICTS("10", "start");

/* Set a summary column only while the trip has no end yet. */
#define END1(c) " " c " = CASE WHEN x.end_seq IS NULL THEN EXCLUDED." c " ELSE x." c " END,"

enum { TE_DEV, TE_EPOCH, TE_TRIP, TE_SEQ, TE_START, TE_END, TE_DIST, TE_OBD, TE_DUR, TE_MOV, TE_IDLE, TE_AVG,
       TE_MAX, TE_RPM, TE_NIGHT, TE_LNW, TE_RUSH, TE_HEAVY, TE_WIPER, TE_SCREEN, TE_CALL, TE_HANDLED, TE_HB,
       TE_RA, TE_HC, TE_SW, TE_CR, TE_JERK, TE_GPS, TE_DTC, TE_AIR, TE_REASON, TE_LSRC, TE_HB1, TE_HB2, TE_HB3,
       TE_RA1, TE_RA2, TE_RA3, TE_HC1, TE_HC2, TE_HC3, TE_SW1, TE_SW2, TE_SW3, TE_LO1, TE_LO2, TE_LO3, TE_LA1,
       TE_LA2, TE_LA3, TE_LOP, TE_LAP, TE_VSD, TE_PH, TE_LMT, TE_AMT, TE_RAW, TE_TOPIC, TE__N };
static const char SQL_TRIP_END[] =
	"WITH u AS (SELECT *, 2 AS k FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],"
	"   $5::bigint[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[],"
	"   $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[],"
	"   $19::float8[], $20::float8[], $21::float8[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[],"
	"   $26::bigint[], $27::bigint[], $28::float8[], $29::float8[], $30::boolean[], $31::boolean[],"
	"   $32::bigint[], $33::bigint[], $34::bigint[], $35::bigint[], $36::bigint[], $37::bigint[], $38::bigint[],"
	"   $39::bigint[], $40::bigint[], $41::bigint[], $42::bigint[], $43::bigint[], $44::bigint[], $45::bigint[],"
	"   $46::float8[], $47::float8[], $48::float8[], $49::float8[], $50::float8[], $51::float8[],"
	"   $52::float8[], $53::float8[], $54::float8[], $55::bigint[], $56::float8[], $57::float8[], $58::bytea[],"
	"   $59::text[])"
	"   AS u(d, e, tr, s, st, en, di, ob, du, mv, id, av, mx, rp, ni, lw, ru, hv, wi, sc, ca, hn, hb, ra, hc, sw,"
	"   cr, je, gp, dt, ai, er, ls, hb1, hb2, hb3, ra1, ra2, ra3, hc1, hc2, hc3, sw1, sw2, sw3, lo1, lo2, lo3,"
	"   la1, la2, la3, lop, lap, vsd, ph, lmt, amt, raw, tp)),"
	" w AS (SELECT DISTINCT ON (d, e, tr) * FROM u WHERE" KEEP("d", "e", "s", TS("st"), "true")
	"   ORDER BY d, e, tr, s),"
	" ins AS (INSERT INTO trips AS x (trip_id, driver_id, start_time, end_time, total_distance_miles,"
	"   avg_speed_mph, duration_minutes, device_id, epoch, device_trip_id, end_seq, distance_m, obd_distance_m,"
	"   duration_s, moving_s, idle_s, avg_speed_mps, max_speed_mps, avg_rpm, night_m, late_night_weekend_m,"
	"   rush_hour_m, heavy_traffic_m, wiper_m, screen_on_s, handheld_call_s, phone_handled_count, hard_brakes,"
	"   rapid_accels, harsh_corners, swerves, crashes, mean_abs_jerk, gps_accuracy_m, has_dtc, airbag_deployed,"
	"   end_reason, lon_source, hard_brakes_g1, hard_brakes_g2, hard_brakes_g3, rapid_accels_g1,"
	"   rapid_accels_g2, rapid_accels_g3, harsh_corners_g1, harsh_corners_g2, harsh_corners_g3, swerves_g1,"
	"   swerves_g2, swerves_g3, lon_share_g1, lon_share_g2, lon_share_g3, lat_share_g1, lat_share_g2,"
	"   lat_share_g3, lon_p95_g, lat_p95_g, speed_sd_mps, phone_measured, lon_moving_s, lat_moving_s)"
	"   SELECT " TRIP_ID("d", "e", "tr") ", " DRIVER_AT("d", TS("st")) ", " TS("st") ", " TS("en") ","
	"   di / 1609.344, av * 3600 / 1609.344, du / 60, d, e, tr, s, di, ob, du, mv, id, av, mx, rp, ni, lw, ru,"
	"   hv, wi, sc, ca, hn, hb, ra, hc, sw, cr, je, gp, dt, ai, er, ls, hb1, hb2, hb3, ra1, ra2, ra3, hc1, hc2,"
	"   hc3, sw1, sw2, sw3, lo1, lo2, lo3, la1, la2, la3, lop, lap, vsd, CASE WHEN ph < 0 THEN NULL ELSE ph = 1 END,"
	"   lmt, amt FROM w"
	"   ON CONFLICT (device_id, epoch, device_trip_id) DO UPDATE SET"
	"   driver_id = coalesce(x.driver_id, EXCLUDED.driver_id),"
	END1("start_time") END1("end_time") END1("total_distance_miles") END1("avg_speed_mph")
	END1("duration_minutes") END1("distance_m") END1("obd_distance_m") END1("duration_s") END1("moving_s")
	END1("idle_s") END1("avg_speed_mps") END1("max_speed_mps") END1("avg_rpm") END1("night_m")
	END1("late_night_weekend_m") END1("rush_hour_m") END1("heavy_traffic_m") END1("wiper_m")
	END1("screen_on_s") END1("handheld_call_s") END1("phone_handled_count") END1("hard_brakes")
	END1("rapid_accels") END1("harsh_corners") END1("swerves") END1("crashes") END1("mean_abs_jerk")
	END1("gps_accuracy_m") END1("has_dtc") END1("airbag_deployed") END1("end_reason") END1("lon_source")
	END1("hard_brakes_g1") END1("hard_brakes_g2") END1("hard_brakes_g3") END1("rapid_accels_g1")
	END1("rapid_accels_g2") END1("rapid_accels_g3") END1("harsh_corners_g1") END1("harsh_corners_g2")
	END1("harsh_corners_g3") END1("swerves_g1") END1("swerves_g2") END1("swerves_g3") END1("lon_share_g1")
	END1("lon_share_g2") END1("lon_share_g3") END1("lat_share_g1") END1("lat_share_g2") END1("lat_share_g3")
	END1("lon_p95_g") END1("lat_p95_g") END1("speed_sd_mps") END1("phone_measured") END1("lon_moving_s")
	END1("lat_moving_s")
	"   end_seq = coalesce(x.end_seq, EXCLUDED.end_seq)"
	"   RETURNING x.device_id, x.epoch, x.device_trip_id, x.end_seq AS stored, x.driver_id, x.start_time),"
	/* a finished trip makes its (driver, month) stale */
	" dirty AS (INSERT INTO monthly_features_dirty (driver_id, month)"
	"   SELECT DISTINCT driver_id, to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') FROM ins"
	"   WHERE driver_id IS NOT NULL AND start_time IS NOT NULL ON CONFLICT DO NOTHING),"
	TRIP_CONFLICTS("60", "end");

enum { B_DEV, B_EPOCH, B_LO, B_HI, B_N, B_FLOOR, B__N };
static const char SQL_BATCHES[] =
	"INSERT INTO batches (device_id, epoch, seq_lo, seq_hi, n_records, processed_by)"
	" SELECT d, e, lo, hi, n, $7 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],"
	" $6::bigint[]) AS u(d, e, lo, hi, n, af) ON CONFLICT DO NOTHING";

/*
 * Restore / failover: a batch's acked floor "af" above this database's ack
 * for (device, epoch) means the device was acknowledged for [ack+1, af] and
 * no longer holds it, while the database does not have it. The parts of
 * that range no committed batch covers are recorded as lost at the server,
 * and the ack jumps to af so the device is acknowledged again. Runs after
 * the group's own ranges are inserted (they are not lost). Takes the
 * SQL_BATCHES parameters; returns the lost ranges.
 */
static const char SQL_LOST[] =
	"WITH f AS (SELECT d, e, max(af) AS f FROM unnest($1::text[], $2::bigint[], $6::bigint[]) AS u(d, e, af)"
	"   GROUP BY d, e),"
	" s AS (SELECT f.d, f.e, f.f, x.acked AS a FROM f JOIN device_epochs x ON x.device_id = f.d AND x.epoch = f.e"
	"   WHERE f.f > x.acked),"
	" r AS (SELECT s.d, s.e, s.a, b.seq_lo, b.seq_hi, greatest(s.a, max(b.seq_hi) OVER (PARTITION BY s.d, s.e"
	"   ORDER BY b.seq_lo, b.seq_hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS cur"
	"   FROM s JOIN batches b ON b.device_id = s.d AND b.epoch = s.e AND b.seq_hi > s.a AND b.seq_lo <= s.f),"
	" gaps AS (SELECT d, e, coalesce(cur, a) + 1 AS lo, seq_lo - 1 AS hi FROM r WHERE seq_lo > coalesce(cur, a) + 1"
	"   UNION ALL SELECT s.d, s.e, greatest(s.a, coalesce(max(r.seq_hi), s.a)) + 1, s.f"
	"   FROM s LEFT JOIN r ON r.d = s.d AND r.e = s.e GROUP BY s.d, s.e, s.a, s.f"
	"   HAVING greatest(s.a, coalesce(max(r.seq_hi), s.a)) < s.f),"
	" up AS (UPDATE device_epochs x SET acked = s.f FROM s WHERE x.device_id = s.d AND x.epoch = s.e)"
	" INSERT INTO lost_at_server (device_id, epoch, seq_lo, seq_hi, processed_by)"
	" SELECT d, e, lo, hi, $7 FROM gaps ORDER BY d, e, lo RETURNING device_id, epoch, seq_lo, seq_hi";

/*
 * The contiguous high-water mark per (device, epoch), from the committed
 * ranges above the current mark (gaps and islands): ranges ordered by
 * start; the first whose start lies beyond everything before it + 1 opens
 * a gap. Takes the SQL_EPOCHS parameters.
 */
static const char SQL_ACK[] =
	"WITH k AS (SELECT DISTINCT d, e FROM unnest($1::text[], $2::bigint[]) AS u(d, e)),"
	" c AS (SELECT x.device_id, x.epoch, x.acked FROM device_epochs x JOIN k ON x.device_id = k.d AND x.epoch = k.e),"
	" r AS (SELECT b.device_id, b.epoch, b.seq_lo, b.seq_hi, c.acked,"
	"   max(b.seq_hi) OVER (PARTITION BY b.device_id, b.epoch ORDER BY b.seq_lo, b.seq_hi"
	"     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_hi"
	"   FROM batches b JOIN c ON c.device_id = b.device_id AND c.epoch = b.epoch WHERE b.seq_hi > c.acked),"
	" g AS (SELECT device_id, epoch, min(seq_lo) AS gap_lo FROM r"
	"   WHERE seq_lo > greatest(coalesce(prev_hi, 0), acked) + 1 GROUP BY device_id, epoch),"
	" n AS (SELECT c.device_id, c.epoch, greatest(c.acked, coalesce(max(r.seq_hi)"
	"     FILTER (WHERE g.gap_lo IS NULL OR r.seq_lo < g.gap_lo), 0)) AS acked"
	"   FROM c LEFT JOIN r ON r.device_id = c.device_id AND r.epoch = c.epoch"
	"   LEFT JOIN g ON g.device_id = c.device_id AND g.epoch = c.epoch GROUP BY c.device_id, c.epoch, c.acked)"
	" UPDATE device_epochs x SET acked = n.acked, last_seen = now() FROM n"
	" WHERE x.device_id = n.device_id AND x.epoch = n.epoch RETURNING x.device_id, x.epoch, x.acked";

/* Refused messages (seq NULL) and refused records (seq set: once each).
 * Returns the reason of each row inserted now. A refused record of an
 * erased (device, window) is not kept (SQL_DROPS counts it); with consent
 * required, a dead letter of a device whose driver has not consented now
 * keeps no payload (its CBOR may hold positions). */
enum { L_TOPIC, L_TDEV, L_PAY, L_CODE, L_NAME, L_FIELD, L_OFF, L_MSG, L_REASON, L_EPOCH, L_SEQ, L_KIND,
       L_STATE, L__N };
static const char SQL_DEAD[] =
	"INSERT INTO dead_letters (topic, topic_device, payload, error_code, error_name, field, byte_offset,"
	" message, reason, epoch, seq, kind, sqlstate, processed_by)"
	" SELECT tp, NULLIF(td, ''), CASE WHEN " REQUIRE_CONSENT " AND NOT odo_consented(td, now()) THEN '\\x'::bytea"
	" ELSE pl END, c, nm, f, o, m, r, ep, s, k, st, $14 FROM unnest($1::text[], $2::text[],"
	" $3::bytea[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],"
	" $11::bigint[], $12::bigint[], $13::text[]) AS u(tp, td, pl, c, nm, f, o, m, r, ep, s, k, st)"
	" WHERE s IS NULL OR" KEEP("td", "ep", "s", "NULL::timestamptz", "false")
	" ON CONFLICT (topic_device, epoch, seq) WHERE seq IS NOT NULL DO NOTHING RETURNING reason";

/*
 * Alerts raised by this transaction's records (docs/alerts.md): one row per
 * (device, epoch, seq, rule), none when a row of the same device and rule
 * lies within the rule's cooldown of the record's time (the group's own
 * candidates are thinned the same way before), and a delivery row per
 * target ($17, a text[] literal). Returns the alerts raised now (not again
 * on a redelivery).
 */
enum { AL_DEV, AL_EPOCH, AL_SEQ, AL_T, AL_KIND, AL_TRIP, AL_RULE, AL_METRIC, AL_SEV, AL_VALUE, AL_OP, AL_THR,
       AL_COOL, AL_DETAILS, AL_RECV, AL__N };
static const char SQL_ALERTS[] =
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],"
	"   $6::bigint[], $7::text[], $8::text[], $9::text[], $10::float8[], $11::text[], $12::float8[],"
	"   $13::bigint[], $14::text[], $15::bigint[])"
	"   AS u(d, e, s, tm, k, tr, ru, me, sv, va, op, th, cd, de, rc)),"
	" ins AS (INSERT INTO alerts (device_id, epoch, seq, t, kind, device_trip_id, rule, metric, severity, value,"
	"   op, threshold, details, received_at, processed_by)"
	"   SELECT d, e, s, " TS("tm") ", k, tr, ru, me, sv, va, NULLIF(op, ''), th, de::jsonb, " TS("rc") ", $16"
	"   FROM u WHERE" KEEP("d", "e", "s", TS("tm"), "k IN " PERSONAL_KINDS) " AND (cd = 0 OR NOT EXISTS"
	"   (SELECT 1 FROM alerts a WHERE a.device_id = u.d AND a.rule = u.ru"
	"     AND a.t > " TS("u.tm") " - make_interval(secs => u.cd) AND a.t < " TS("u.tm") " + make_interval(secs => u.cd)))"
	"   ON CONFLICT (device_id, epoch, seq, rule) DO NOTHING RETURNING id, rule, device_id, seq),"
	" del AS (INSERT INTO alert_deliveries (alert_id, target)"
	"   SELECT ins.id, tg FROM ins CROSS JOIN unnest($17::text[]) AS tg)"
	" SELECT rule, device_id, seq, id FROM ins";

/* The enabled alert rules (read with the partitions). */
static const char SQL_ALERT_RULES[] =
	"SELECT name, metric, coalesce(op, ''), coalesce(threshold::text, ''), cooldown_s::text,"
	" coalesce(max_age_s::text, ''), severity FROM alert_rules WHERE enabled ORDER BY name";

/* Records of the group an erasure or a missing consent keeps out: noted
 * once each in arrival_drops (no content), counted per reason, redeliveries
 * included. t and k are NULL for a record the decoder refused. */
enum { A_DEV, A_EPOCH, A_SEQ, A_T, A_KIND, A__N };
static const char SQL_DROPS[] =
	"WITH u AS (SELECT d, e, s, k," DROP_WHY("d", "e", "s", TS("tm"), "k IN " PERSONAL_KINDS) " AS why"
	"   FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(d, e, s, tm, k)),"
	" x AS (SELECT * FROM u WHERE why IS NOT NULL),"
	" ins AS (INSERT INTO arrival_drops (device_id, epoch, seq, kind, reason, processed_by)"
	"   SELECT DISTINCT ON (d, e, s) d, e, s, k, why, $6 FROM x ORDER BY d, e, s"
	"   ON CONFLICT (device_id, epoch, seq) DO NOTHING)"
	" SELECT why, count(*) FROM x GROUP BY why";

/* The month partitions that exist (ingest never creates one). */
static const char SQL_PARTITIONS[] =
	"SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
	" JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhparent IN ('samples'::regclass, 'tracks'::regclass)";

#endif
