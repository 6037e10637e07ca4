/*
 * odo-collector — every SQL statement the ingest writer sends, with the
 * column order of its array parameters (the enums). Included by group.c
 * only. All statements are parameterised; the arrays travel in binary
 * format (pgarray.h): integers as int8, floats as float8, narrowed by
 * assignment.
 */
#ifndef ODO_COLLECTOR_PG_SQL_H
#define ODO_COLLECTOR_PG_SQL_H

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

#endif
