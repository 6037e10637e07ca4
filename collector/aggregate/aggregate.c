/* odo-collector — monthly features, forget, retention (see aggregate.h). */
#include "aggregate/aggregate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_MAX 256
#define MPS_TO_MPH "2.2369362920544025" /* 3600 / 1609.344 */
#define M_PER_MILE "1609.344"

/*
 * One statement body: `pairs(driver_id, month)` is supplied by the caller
 * as the first CTE. Trips count for the month (UTC) their start falls in,
 * and only finished ones (end_time set by the trip summary). The same
 * statement writes monthly_features and monthly_behaviour (CTE mb), so the
 * two tables always hold the same (driver, month) rows from the same trips.
 * Floating-point sums add in trip_id order (sum(x ORDER BY t.trip_id)): the
 * score update moves trip rows, so the next scan returns them in another
 * order, and re-aggregating unchanged rows must store the same bits.
 */
#define AGG_BODY                                                                                          \
	" , t AS (SELECT tr.*, p.month, rd.covered AS rd_cov, rd.matched_m AS rd_m, rd.highway_m AS rd_hw,"  \
	"     rd.urban_m AS rd_urb, rd.speeding_episodes AS rd_ep, rd.max_over_limit_mph AS rd_max,"          \
	"     rd.speeding_m AS rd_sm, rd.limit_m AS rd_lm,"                                                   \
	/* a version 1 agent's jerk 0 meant "not measured" */                                                 \
	"     nullif(tr.mean_abs_jerk, 0) AS jerk0,"                                                          \
	/* phone-measured ("ph", or a v1 trip with a phone state from 5 min before its start): the        \
	 * seconds of its phone-distraction events; NULL when not measured */                               \
	/* once measured it stays: the value is kept when the trip's events or	\
	 * phone states have since been archived (docs/archive.md) */		\
	"     CASE WHEN coalesce(tr.phone_measured, EXISTS (SELECT 1 FROM phone_states ps"                    \
	"       WHERE ps.device_id = tr.device_id AND ps.t >= tr.start_time - interval '300 seconds'"         \
	"       AND ps.t <= tr.end_time)) THEN greatest(tr.phone_distraction_s,"                              \
	"       coalesce((SELECT sum(e.duration_ms) / 1000.0 FROM events e"                                    \
	"       WHERE e.device_id = tr.device_id AND e.epoch = tr.epoch AND e.device_trip_id = tr.device_trip_id" \
	"       AND e.kind = 'phone_distraction'), 0)) ELSE tr.phone_distraction_s END AS pds1"               \
	"     FROM pairs p JOIN trips tr ON tr.driver_id = p.driver_id"                                       \
	"     AND tr.start_time >= ((p.month || '-01')::date)::timestamp AT TIME ZONE 'UTC'"               \
	"     AND tr.start_time < ((p.month || '-01')::date + interval '1 month')::timestamp AT TIME ZONE 'UTC'" \
	"     LEFT JOIN trip_roads rd ON rd.trip_id = tr.trip_id"                                            \
	"     WHERE tr.end_time IS NOT NULL),"                                                              \
	/* every trip's score (odo_score_v1 over its own row), with the jerk and phone fix-ups */             \
	" ts AS (UPDATE trips x SET mean_abs_jerk = q.jerk0, phone_distraction_s = q.pds1,"                    \
	"     score = (q.s).score, score_version = CASE WHEN (q.s).score IS NOT NULL THEN 1 END,"             \
	"     score_inputs = CASE WHEN (q.s).score IS NOT NULL THEN (q.s).inputs END,"                        \
	"     score_events_pts = (q.s).events_pts, score_smooth_pts = (q.s).smooth_pts,"                      \
	"     score_phone_pts = (q.s).phone_pts, score_time_pts = (q.s).time_pts,"                            \
	"     score_speeding_pts = (q.s).speeding_pts"                                                        \
	"   FROM (SELECT t.trip_id, t.jerk0, t.pds1, odo_score_v1(t.hard_brakes_g1 IS NOT NULL,"              \
	"       t.hard_brakes_g1 + t.rapid_accels_g1 + t.harsh_corners_g1 + t.swerves_g1,"                    \
	"       t.hard_brakes_g2 + t.rapid_accels_g2 + t.harsh_corners_g2 + t.swerves_g2,"                    \
	"       t.hard_brakes_g3 + t.rapid_accels_g3 + t.harsh_corners_g3 + t.swerves_g3,"                    \
	"       t.distance_m, t.distance_m, t.lon_share_g1, t.lat_share_g1, t.pds1, t.moving_s, t.night_m,"    \
	"       t.late_night_weekend_m, CASE WHEN t.rd_cov THEN t.rd_sm END, CASE WHEN t.rd_cov THEN t.rd_lm END)" \
	"       AS s FROM t) q WHERE x.trip_id = q.trip_id),"                                                 \
	" dtc AS (SELECT p.driver_id, p.month, bool_or(cardinality(r.stored) + cardinality(r.pending)"      \
	"       + cardinality(r.permanent) > 0) AS any_code, bool_or(r.airbag_deployed) AS airbag"         \
	"     FROM pairs p JOIN device_assignments a ON a.driver_id = p.driver_id"                          \
	"     JOIN dtc_reports r ON r.device_id = a.device_id AND r.t >= a.valid_from"                      \
	"       AND (a.valid_to IS NULL OR r.t < a.valid_to)"                                               \
	"     WHERE r.t >= ((p.month || '-01')::date)::timestamp AT TIME ZONE 'UTC'"                       \
	"       AND r.t < ((p.month || '-01')::date + interval '1 month')::timestamp AT TIME ZONE 'UTC'"   \
	"     GROUP BY p.driver_id, p.month),"                                                              \
	" f AS (SELECT t.driver_id, t.month, count(*) AS total_trips,"                                     \
	"     sum(t.duration_s ORDER BY t.trip_id) / 3600 AS hours, sum(t.distance_m ORDER BY t.trip_id) / " M_PER_MILE " AS miles,"               \
	"     sum(t.distance_m ORDER BY t.trip_id) AS dist, sum(t.duration_s ORDER BY t.trip_id) AS dur,"                                         \
	"     sum(t.distance_m ORDER BY t.trip_id) / nullif(sum(t.moving_s ORDER BY t.trip_id), 0) * " MPS_TO_MPH " AS avg_speed_mph,"            \
	"     max(t.max_speed_mps) * " MPS_TO_MPH " AS max_speed_mph,"                                      \
	"     sum(t.jerk0 * t.duration_s ORDER BY t.trip_id) / nullif(sum(t.duration_s ORDER BY t.trip_id) FILTER (WHERE t.jerk0 IS NOT NULL), 0) AS jerk," \
	"     sum(t.hard_brakes) AS hb, sum(t.rapid_accels) AS ra, sum(t.harsh_corners) AS hc,"             \
	"     sum(t.swerves) AS sw, sum(t.night_m ORDER BY t.trip_id) AS night, sum(t.late_night_weekend_m ORDER BY t.trip_id) AS lnw,"            \
	"     sum(t.rush_hour_m ORDER BY t.trip_id) AS rush, sum(t.heavy_traffic_m ORDER BY t.trip_id) AS heavy,"                                  \
	"     sum(t.screen_on_s ORDER BY t.trip_id) FILTER (WHERE t.pds1 IS NOT NULL) AS screen,"                 \
	"     sum(t.phone_handled_count) FILTER (WHERE t.pds1 IS NOT NULL) AS handled,"        \
	"     sum(t.handheld_call_s ORDER BY t.trip_id) FILTER (WHERE t.pds1 IS NOT NULL) AS calls,"              \
	"     sum(t.duration_s ORDER BY t.trip_id) FILTER (WHERE t.pds1 IS NOT NULL) AS pdur,"                    \
	"     sum(t.avg_rpm * t.duration_s ORDER BY t.trip_id) / nullif(sum(t.duration_s ORDER BY t.trip_id) FILTER (WHERE t.avg_rpm IS NOT NULL), 0) AS rpm," \
	"     sum(t.gps_accuracy_m * t.duration_s ORDER BY t.trip_id) / nullif(sum(t.duration_s ORDER BY t.trip_id) FILTER (WHERE t.gps_accuracy_m IS NOT NULL), 0) AS gps," \
	"     bool_or(t.has_dtc) AS has_dtc, bool_or(t.airbag_deployed) AS airbag,"                         \
	"     sum(t.rd_m ORDER BY t.trip_id) FILTER (WHERE t.rd_cov) AS rd_m, sum(t.rd_hw ORDER BY t.trip_id) FILTER (WHERE t.rd_cov) AS rd_hw,"   \
	"     sum(t.rd_urb ORDER BY t.trip_id) FILTER (WHERE t.rd_cov) AS rd_urb, sum(t.rd_ep) FILTER (WHERE t.rd_cov) AS rd_ep," \
	"     max(t.rd_max) FILTER (WHERE t.rd_cov) AS rd_max,"                                              \
	"     sum(t.wiper_m ORDER BY t.trip_id) FILTER (WHERE t.wiper_m IS NOT NULL) AS wiper,"                                  \
	"     sum(t.distance_m ORDER BY t.trip_id) FILTER (WHERE t.wiper_m IS NOT NULL) AS wiper_dist"                          \
	"   FROM t GROUP BY t.driver_id, t.month),"                                                         \
	" b AS (SELECT t.driver_id, t.month, count(*) AS n,"                                                  \
	"     count(*) FILTER (WHERE t.hard_brakes_g1 IS NOT NULL) AS gn,"                                    \
	"     sum(t.distance_m ORDER BY t.trip_id) FILTER (WHERE t.hard_brakes_g1 IS NOT NULL) AS gm,"                           \
	"     sum(t.hard_brakes_g1) AS ha1, sum(t.hard_brakes_g2) AS ha2, sum(t.hard_brakes_g3) AS ha3,"      \
	"     sum(t.rapid_accels_g1) AS ra1, sum(t.rapid_accels_g2) AS ra2, sum(t.rapid_accels_g3) AS ra3,"   \
	"     sum(t.harsh_corners_g1) AS ha1c, sum(t.harsh_corners_g2) AS ha2c, sum(t.harsh_corners_g3) AS ha3c," \
	"     sum(t.swerves_g1) AS sw1, sum(t.swerves_g2) AS sw2, sum(t.swerves_g3) AS sw3,"                  \
	"     sum(t.moving_s ORDER BY t.trip_id) FILTER (WHERE t.lon_share_g1 IS NOT NULL OR t.lat_share_g1 IS NOT NULL) AS smov," \
	"     sum(t.jerk0 * t.moving_s ORDER BY t.trip_id) / nullif(sum(t.moving_s ORDER BY t.trip_id) FILTER (WHERE t.jerk0 IS NOT NULL), 0) AS jerk," \
	"     sum(t.lon_share_g1 * coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lon_share_g1 IS NOT NULL), 0) AS lo1," \
	"     sum(t.lon_share_g2 * coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lon_share_g2 IS NOT NULL), 0) AS lo2," \
	"     sum(t.lon_share_g3 * coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lon_share_g3 IS NOT NULL), 0) AS lo3," \
	"     sum(t.lat_share_g1 * coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lat_share_g1 IS NOT NULL), 0) AS la1," \
	"     sum(t.lat_share_g2 * coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lat_share_g2 IS NOT NULL), 0) AS la2," \
	"     sum(t.lat_share_g3 * coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lat_share_g3 IS NOT NULL), 0) AS la3," \
	"     sum(t.lon_p95_g * coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lon_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lon_p95_g IS NOT NULL), 0) AS lop," \
	"     sum(t.lat_p95_g * coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) / nullif(sum(coalesce(t.lat_moving_s, t.moving_s) ORDER BY t.trip_id) FILTER (WHERE t.lat_p95_g IS NOT NULL), 0) AS lap," \
	"     sum(t.speed_sd_mps * t.moving_s ORDER BY t.trip_id) / nullif(sum(t.moving_s ORDER BY t.trip_id) FILTER (WHERE t.speed_sd_mps IS NOT NULL), 0) AS vsd," \
	"     count(*) FILTER (WHERE t.lon_source = 0) AS l0, count(*) FILTER (WHERE t.lon_source = 1) AS l1," \
	"     count(*) FILTER (WHERE t.lon_source = 2) AS l2,"                                                \
	"     count(*) FILTER (WHERE t.pds1 IS NOT NULL) AS pn, sum(t.pds1 ORDER BY t.trip_id) AS pds," \
	"     sum(t.moving_s ORDER BY t.trip_id) FILTER (WHERE t.pds1 IS NOT NULL) AS pmov,"                      \
	"     sum(t.distance_m ORDER BY t.trip_id) AS dist, sum(t.night_m ORDER BY t.trip_id) AS night, sum(t.late_night_weekend_m ORDER BY t.trip_id) AS lnw,"        \
	"     sum(t.rd_sm ORDER BY t.trip_id) FILTER (WHERE t.rd_cov) AS sm, sum(t.rd_lm ORDER BY t.trip_id) FILTER (WHERE t.rd_cov) AS lm"         \
	"   FROM t GROUP BY t.driver_id, t.month),"                                                           \
	" mb AS (INSERT INTO monthly_behaviour (driver_id, month, score_version, total_trips, graded_trips,"  \
	"     graded_miles, hard_brake_g1_per_100_miles, hard_brake_g2_per_100_miles, hard_brake_g3_per_100_miles," \
	"     rapid_accel_g1_per_100_miles, rapid_accel_g2_per_100_miles, rapid_accel_g3_per_100_miles,"      \
	"     harsh_corner_g1_per_100_miles, harsh_corner_g2_per_100_miles, harsh_corner_g3_per_100_miles,"   \
	"     swerve_g1_per_100_miles, swerve_g2_per_100_miles, swerve_g3_per_100_miles, smooth_moving_hours," \
	"     mean_abs_jerk_mps3, lon_share_g1, lon_share_g2, lon_share_g3, lat_share_g1, lat_share_g2,"      \
	"     lat_share_g3, avg_trip_lon_p95_g, avg_trip_lat_p95_g, avg_trip_speed_sd_mps, trips_lon_accel,"  \
	"     trips_lon_speed, trips_lon_mixed, phone_measured_trips, pct_moving_time_phone_distraction,"     \
	"     score_events_pts, score_smooth_pts, score_phone_pts, score_time_pts, score_speeding_pts,"       \
	"     score_inputs, score, created_at)"                                                               \
	"   SELECT b.driver_id, b.month, 1, b.n, b.gn, b.gm / " M_PER_MILE ","                                \
	"     100 * b.ha1 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ha2 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ha3 / nullif(b.gm / " M_PER_MILE ", 0)," \
	"     100 * b.ra1 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ra2 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ra3 / nullif(b.gm / " M_PER_MILE ", 0)," \
	"     100 * b.ha1c / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ha2c / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.ha3c / nullif(b.gm / " M_PER_MILE ", 0)," \
	"     100 * b.sw1 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.sw2 / nullif(b.gm / " M_PER_MILE ", 0), 100 * b.sw3 / nullif(b.gm / " M_PER_MILE ", 0)," \
	"     b.smov / 3600, b.jerk, b.lo1, b.lo2, b.lo3, b.la1, b.la2, b.la3, b.lop, b.lap, b.vsd,"          \
	"     b.l0, b.l1, b.l2, b.pn, CASE WHEN b.pn > 0 THEN 100 * b.pds / nullif(b.pmov, 0) END,"           \
	"     (s).events_pts, (s).smooth_pts, (s).phone_pts, (s).time_pts, (s).speeding_pts,"                 \
	"     CASE WHEN (s).score IS NOT NULL THEN (s).inputs END, (s).score, now()"                          \
	"   FROM (SELECT b.*, odo_score_v1(b.gn > 0, b.ha1 + b.ra1 + b.ha1c + b.sw1,"                         \
	"       b.ha2 + b.ra2 + b.ha2c + b.sw2, b.ha3 + b.ra3 + b.ha3c + b.sw3, b.gm, b.dist, b.lo1, b.la1,"  \
	"       CASE WHEN b.pn > 0 THEN b.pds END, b.pmov, b.night, b.lnw, b.sm, b.lm) AS s FROM b) b"        \
	"   ON CONFLICT (driver_id, month) DO UPDATE SET score_version = EXCLUDED.score_version,"             \
	"     total_trips = EXCLUDED.total_trips, graded_trips = EXCLUDED.graded_trips,"                      \
	"     graded_miles = EXCLUDED.graded_miles,"                                                          \
	"     hard_brake_g1_per_100_miles = EXCLUDED.hard_brake_g1_per_100_miles,"                            \
	"     hard_brake_g2_per_100_miles = EXCLUDED.hard_brake_g2_per_100_miles,"                            \
	"     hard_brake_g3_per_100_miles = EXCLUDED.hard_brake_g3_per_100_miles,"                            \
	"     rapid_accel_g1_per_100_miles = EXCLUDED.rapid_accel_g1_per_100_miles,"                          \
	"     rapid_accel_g2_per_100_miles = EXCLUDED.rapid_accel_g2_per_100_miles,"                          \
	"     rapid_accel_g3_per_100_miles = EXCLUDED.rapid_accel_g3_per_100_miles,"                          \
	"     harsh_corner_g1_per_100_miles = EXCLUDED.harsh_corner_g1_per_100_miles,"                        \
	"     harsh_corner_g2_per_100_miles = EXCLUDED.harsh_corner_g2_per_100_miles,"                        \
	"     harsh_corner_g3_per_100_miles = EXCLUDED.harsh_corner_g3_per_100_miles,"                        \
	"     swerve_g1_per_100_miles = EXCLUDED.swerve_g1_per_100_miles,"                                    \
	"     swerve_g2_per_100_miles = EXCLUDED.swerve_g2_per_100_miles,"                                    \
	"     swerve_g3_per_100_miles = EXCLUDED.swerve_g3_per_100_miles,"                                    \
	"     smooth_moving_hours = EXCLUDED.smooth_moving_hours,"                                            \
	"     mean_abs_jerk_mps3 = EXCLUDED.mean_abs_jerk_mps3, lon_share_g1 = EXCLUDED.lon_share_g1,"        \
	"     lon_share_g2 = EXCLUDED.lon_share_g2, lon_share_g3 = EXCLUDED.lon_share_g3,"                    \
	"     lat_share_g1 = EXCLUDED.lat_share_g1, lat_share_g2 = EXCLUDED.lat_share_g2,"                    \
	"     lat_share_g3 = EXCLUDED.lat_share_g3, avg_trip_lon_p95_g = EXCLUDED.avg_trip_lon_p95_g,"        \
	"     avg_trip_lat_p95_g = EXCLUDED.avg_trip_lat_p95_g,"                                              \
	"     avg_trip_speed_sd_mps = EXCLUDED.avg_trip_speed_sd_mps,"                                        \
	"     trips_lon_accel = EXCLUDED.trips_lon_accel, trips_lon_speed = EXCLUDED.trips_lon_speed,"        \
	"     trips_lon_mixed = EXCLUDED.trips_lon_mixed,"                                                    \
	"     phone_measured_trips = EXCLUDED.phone_measured_trips,"                                          \
	"     pct_moving_time_phone_distraction = EXCLUDED.pct_moving_time_phone_distraction,"                \
	"     score_events_pts = EXCLUDED.score_events_pts,"                                                  \
	"     score_smooth_pts = EXCLUDED.score_smooth_pts, score_phone_pts = EXCLUDED.score_phone_pts,"      \
	"     score_time_pts = EXCLUDED.score_time_pts,"                                                      \
	"     score_speeding_pts = EXCLUDED.score_speeding_pts, score_inputs = EXCLUDED.score_inputs,"        \
	"     score = EXCLUDED.score, created_at = EXCLUDED.created_at)"                                     \
	" INSERT INTO monthly_features (driver_id, month, total_trips, total_drive_time_hours,"              \
	"   total_miles_driven, avg_speed_mph, max_speed_mph, avg_jerk_rate, hard_brake_rate_per_100_miles," \
	"   rapid_accel_rate_per_100_miles, harsh_cornering_rate_per_100_miles, swerving_events_per_100_miles," \
	"   pct_miles_night, pct_miles_late_night_weekend, pct_miles_weekday_rush_hour, pct_trip_time_screen_on," \
	"   handheld_events_rate_per_hour, pct_trip_time_on_call_handheld, avg_engine_rpm, has_dtc_codes,"  \
	"   airbag_deployment_flag, driver_age, vehicle_age, prior_at_fault_accidents, years_licensed,"     \
	"   data_source, gps_accuracy_avg_meters, driver_passenger_confidence_score,"                       \
	"   speeding_rate_per_100_miles, max_speed_over_limit_mph, pct_miles_highway, pct_miles_urban,"     \
	"   pct_miles_in_rain_or_snow, pct_miles_in_heavy_traffic, had_claim_in_period, created_at)"        \
	" SELECT f.driver_id, f.month, f.total_trips, f.hours, f.miles, f.avg_speed_mph, f.max_speed_mph,"  \
	"   f.jerk, 100 * f.hb / nullif(f.miles, 0), 100 * f.ra / nullif(f.miles, 0),"                     \
	"   100 * f.hc / nullif(f.miles, 0), 100 * f.sw / nullif(f.miles, 0),"                              \
	"   100 * f.night / nullif(f.dist, 0), 100 * f.lnw / nullif(f.dist, 0),"                            \
	"   100 * f.rush / nullif(f.dist, 0), 100 * f.screen / nullif(f.pdur, 0),"                          \
	"   f.handled / nullif(f.pdur / 3600, 0), 100 * f.calls / nullif(f.pdur, 0), f.rpm,"                \
	"   coalesce(f.has_dtc, false) OR coalesce(dtc.any_code, false),"                                   \
	"   coalesce(f.airbag, false) OR coalesce(dtc.airbag, false),"                                      \
	"   d.driver_age, d.vehicle_age, d.prior_at_fault_accidents, d.years_licensed, 'odo', f.gps,"       \
	"   NULL, 100 * f.rd_ep / nullif(f.rd_m / " M_PER_MILE ", 0), f.rd_max,"                              \
	"   100 * f.rd_hw / nullif(f.rd_m, 0), 100 * f.rd_urb / nullif(f.rd_m, 0),"                         \
	"   100 * f.wiper / nullif(f.wiper_dist, 0), 100 * f.heavy / nullif(f.dist, 0), NULL, now()"         \
	" FROM f LEFT JOIN drivers d ON d.driver_id = f.driver_id"                                          \
	" LEFT JOIN dtc ON dtc.driver_id = f.driver_id AND dtc.month = f.month"                             \
	" ON CONFLICT (driver_id, month) DO UPDATE SET total_trips = EXCLUDED.total_trips,"                 \
	"   total_drive_time_hours = EXCLUDED.total_drive_time_hours,"                                      \
	"   total_miles_driven = EXCLUDED.total_miles_driven, avg_speed_mph = EXCLUDED.avg_speed_mph,"      \
	"   max_speed_mph = EXCLUDED.max_speed_mph, avg_jerk_rate = EXCLUDED.avg_jerk_rate,"                \
	"   hard_brake_rate_per_100_miles = EXCLUDED.hard_brake_rate_per_100_miles,"                        \
	"   rapid_accel_rate_per_100_miles = EXCLUDED.rapid_accel_rate_per_100_miles,"                      \
	"   harsh_cornering_rate_per_100_miles = EXCLUDED.harsh_cornering_rate_per_100_miles,"              \
	"   swerving_events_per_100_miles = EXCLUDED.swerving_events_per_100_miles,"                        \
	"   pct_miles_night = EXCLUDED.pct_miles_night,"                                                    \
	"   pct_miles_late_night_weekend = EXCLUDED.pct_miles_late_night_weekend,"                          \
	"   pct_miles_weekday_rush_hour = EXCLUDED.pct_miles_weekday_rush_hour,"                            \
	"   pct_trip_time_screen_on = EXCLUDED.pct_trip_time_screen_on,"                                    \
	"   handheld_events_rate_per_hour = EXCLUDED.handheld_events_rate_per_hour,"                        \
	"   pct_trip_time_on_call_handheld = EXCLUDED.pct_trip_time_on_call_handheld,"                      \
	"   avg_engine_rpm = EXCLUDED.avg_engine_rpm, has_dtc_codes = EXCLUDED.has_dtc_codes,"              \
	"   airbag_deployment_flag = EXCLUDED.airbag_deployment_flag, driver_age = EXCLUDED.driver_age,"    \
	"   vehicle_age = EXCLUDED.vehicle_age, prior_at_fault_accidents = EXCLUDED.prior_at_fault_accidents," \
	"   years_licensed = EXCLUDED.years_licensed, data_source = EXCLUDED.data_source,"                  \
	"   gps_accuracy_avg_meters = EXCLUDED.gps_accuracy_avg_meters,"                                    \
	"   speeding_rate_per_100_miles = EXCLUDED.speeding_rate_per_100_miles,"                            \
	"   max_speed_over_limit_mph = EXCLUDED.max_speed_over_limit_mph,"                                  \
	"   pct_miles_highway = EXCLUDED.pct_miles_highway, pct_miles_urban = EXCLUDED.pct_miles_urban,"    \
	"   pct_miles_in_rain_or_snow = EXCLUDED.pct_miles_in_rain_or_snow,"                                \
	"   pct_miles_in_heavy_traffic = EXCLUDED.pct_miles_in_heavy_traffic, created_at = EXCLUDED.created_at"

/* With [privacy] require_consent (the connection's odo.require_consent),
 * features are computed only for drivers whose consent is granted now. */
#define CONSENT_OK(d)                                                                                    \
	" (coalesce(current_setting('odo.require_consent', true), '') <> 'on'"                          \
	"   OR " d " IN (SELECT driver_id FROM drivers WHERE consent = 'granted'))"

static const char SQL_AGG_MONTH[] =
	"WITH pairs AS (SELECT DISTINCT driver_id, $1::text AS month FROM trips"
	"   WHERE driver_id IS NOT NULL AND end_time IS NOT NULL"
	"   AND start_time >= (($1::text || '-01')::date)::timestamp AT TIME ZONE 'UTC'"
	"   AND start_time < (($1::text || '-01')::date + interval '1 month')::timestamp AT TIME ZONE 'UTC'"
	"   AND" CONSENT_OK("driver_id") ")"
	AGG_BODY;

static const char SQL_AGG_DIRTY[] =
	"WITH marks AS (DELETE FROM monthly_features_dirty RETURNING driver_id, month),"
	" pairs AS (SELECT * FROM marks WHERE" CONSENT_OK("driver_id") ")" AGG_BODY;

static const char SQL_AGG_DIRTY_PAIRS[] =
	"SELECT driver_id, month FROM monthly_features_dirty ORDER BY driver_id, month LIMIT 1000";

static const char SQL_AGG_PAIR[] =
	"WITH marks AS (DELETE FROM monthly_features_dirty WHERE driver_id = $1 AND month = $2"
	"   RETURNING driver_id, month),"
	" pairs AS (SELECT * FROM marks WHERE" CONSENT_OK("driver_id") ")" AGG_BODY;

const char *odo_agg_refresh_dirty_sql(void)
{
	return SQL_AGG_DIRTY;
}

const char *odo_agg_dirty_pairs_sql(void)
{
	return SQL_AGG_DIRTY_PAIRS;
}

const char *odo_agg_refresh_pair_sql(void)
{
	return SQL_AGG_PAIR;
}

/* Advisory lock key of the marks (migrate 7301000001, maintain ...02, roads import ...15). */
#define MARKS_LOCK_KEY "7301000030"

const char *odo_agg_marks_lock_sql(int exclusive)
{
	return exclusive ? "SELECT pg_advisory_xact_lock(" MARKS_LOCK_KEY ")"
			 : "SELECT pg_advisory_xact_lock_shared(" MARKS_LOCK_KEY ")";
}

static int db_fail(PGresult *r, PGconn *c, char *why)
{
	snprintf(why, WHY_MAX, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	why[strcspn(why, "\n")] = '\0';
	PQclear(r);
	return ODO_ERR_DB;
}

static int month_valid(const char *m)
{
	if (strlen(m) != 7 || m[4] != '-')
		return 0;
	for (int i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)m[i]))
			return 0;
	int mo = (m[5] - '0') * 10 + (m[6] - '0');
	return mo >= 1 && mo <= 12;
}

int odo_agg_month(PGconn *c, const char *month, long long *rows, char *why)
{
	*rows = 0;
	if (!month_valid(month)) {
		snprintf(why, WHY_MAX, "month '%s' is not YYYY-MM", month);
		return ODO_ERR_INVAL;
	}
	const char *v[1] = { month };
	PGresult *r = PQexecParams(c, SQL_AGG_MONTH, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_fail(r, c, why);
	*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	return ODO_OK;
}

/* Run one parameterised command inside the current transaction, adding its
 * row count to *rows. */
static int run(PGconn *c, const char *sql, int n, const char *const *v, long long *rows, char *why)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return db_fail(r, c, why);
	if (rows && s == PGRES_COMMAND_OK)
		*rows += atoll(PQcmdTuples(r));
	PQclear(r);
	return ODO_OK;
}

static void rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

/* Raw tables with (device_id, epoch, seq, t), erased per window; those with
 * received_at are also matched by arrival. */
static const struct {
	const char *table;
	int received_at;
} RAW[] = { { "samples", 0 },	  { "tracks", 1 },	 { "events", 0 },	  { "dtc_reports", 0 },
	    { "vehicle_reports", 0 }, { "phone_states", 0 }, { "device_status", 0 }, { "crash_traces", 1 },
	    { "quarantine", 1 },      { "alerts", 1 } /* with their delivery rows (ON DELETE CASCADE) */ };
/* Raw tables retention prunes by t (trip_match_points: by its fixes' t). */
static const char *const RAW_TABLES[] = { "samples", "tracks", "events", "dtc_reports", "vehicle_reports",
					  "phone_states", "device_status", "crash_traces", "trip_match_points",
					  "alerts" /* with their delivery rows (ON DELETE CASCADE) */ };

/* x (the table's alias) falls in tombstone e: its time in the window, or its
 * (epoch, seq) in a range the collector committed while the window was open. */
#define IN_WINDOW(col) " (x." col " >= e.t_from AND x." col " < e.t_to)"
#define IN_RANGES(seq)                                                                                   \
	" EXISTS (SELECT 1 FROM erasure_ranges r WHERE r.erasure_id = e.id AND r.epoch = x.epoch"        \
	" AND x." seq " BETWEEN r.seq_lo AND r.seq_hi)"

/*
 * Erasure (issue 13 finding 5), one transaction:
 *  1. the rows of the driver's devices are locked in device order, as the
 *     writer locks them, so no batch commits half before, half after;
 *  2. tombstones: one `erasures` row per assignment window (an open one ends
 *     now), and the sequence ranges of every batch committed inside it
 *     (`erasure_ranges`, merged), whatever the records' own clocks said;
 *  3. every row of those devices matching a tombstone (time in the window,
 *     arrival in the window, or seq in a range) is deleted from every raw
 *     table, the quarantine and the dead letters; the driver's trips,
 *     features, consent and driver row; assignments keep device history;
 *  4. one data_audit row. The writer drops later arrivals that match.
 */
int odo_forget_driver(PGconn *c, const char *driver, const char *by, long long *rows, char *why)
{
	*rows = 0;
	const char *v[1] = { driver };
	char sql[1024];
	int rc = run(c, "BEGIN", 0, NULL, NULL, why);
	if (rc)
		return rc;
	rc = run(c, "SELECT 1 FROM devices WHERE device_id IN (SELECT device_id FROM device_assignments"
		    " WHERE driver_id = $1) ORDER BY device_id FOR UPDATE", 1, v, NULL, why);
	if (rc)
		goto fail;
	PGresult *r = PQexecParams(c, "SELECT driver_id FROM drivers WHERE driver_id = $1 FOR UPDATE", 1, NULL, v,
				   NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_fail(r, c, why);
		goto fail;
	}
	int found = PQntuples(r) > 0;
	PQclear(r);
	r = PQexecParams(c, "SELECT 1 FROM trips WHERE driver_id = $1 UNION ALL"
			    " SELECT 1 FROM device_assignments WHERE driver_id = $1 LIMIT 1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_fail(r, c, why);
		goto fail;
	}
	found |= PQntuples(r) > 0;
	PQclear(r);
	if (!found) {
		snprintf(why, WHY_MAX, "no driver '%s'", driver);
		rc = ODO_ERR_NOTFOUND;
		goto fail;
	}
	/* 2. tombstones */
	r = PQexecParams(c, "WITH e AS (INSERT INTO erasures (device_id, t_from, t_to)"
			    " SELECT device_id, valid_from, greatest(coalesce(valid_to, now()), valid_from + interval '1 ms')"
			    " FROM device_assignments WHERE driver_id = $1 RETURNING id)"
			    " SELECT coalesce('{' || string_agg(id::text, ',') || '}', '{}'), count(*) FROM e",
			 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		rc = db_fail(r, c, why);
		goto fail;
	}
	char ids[4096];
	if (strlen(PQgetvalue(r, 0, 0)) >= sizeof ids) {
		PQclear(r);
		snprintf(why, WHY_MAX, "driver '%s' has too many assignment windows for one forget", driver);
		rc = ODO_ERR_TOOBIG;
		goto fail;
	}
	snprintf(ids, sizeof ids, "%s", PQgetvalue(r, 0, 0));
	long long windows = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	const char *iv[1] = { ids };
	/* the ranges committed inside each window, merged (gaps and islands) */
	rc = run(c, "WITH b AS (SELECT e.id, b.device_id, b.epoch, b.seq_lo, b.seq_hi FROM erasures e"
		    "   JOIN batches b ON b.device_id = e.device_id AND b.committed_at >= e.t_from"
		    "   AND b.committed_at < e.t_to WHERE e.id = ANY($1::bigint[])),"
		    " m AS (SELECT *, max(seq_hi) OVER (PARTITION BY id, device_id, epoch ORDER BY seq_lo, seq_hi"
		    "   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM b),"
		    " g AS (SELECT *, sum(CASE WHEN prev IS NULL OR seq_lo > prev + 1 THEN 1 ELSE 0 END)"
		    "   OVER (PARTITION BY id, device_id, epoch ORDER BY seq_lo, seq_hi) AS grp FROM m)"
		    " INSERT INTO erasure_ranges (erasure_id, device_id, epoch, seq_lo, seq_hi)"
		    " SELECT id, device_id, epoch, min(seq_lo), max(seq_hi) FROM g GROUP BY id, device_id, epoch, grp"
		    " ON CONFLICT DO NOTHING", 1, iv, NULL, why);
	if (rc)
		goto fail;
	/* 3. the rows */
	for (size_t i = 0; i < ODO_ARRAY_LEN(RAW); i++) {
		/* table names from the constant list above, never from input */
		snprintf(sql, sizeof sql,
			 "DELETE FROM %s x USING erasures e WHERE e.id = ANY($1::bigint[]) AND x.device_id = e.device_id"
			 " AND (" IN_WINDOW("t") "%s OR" IN_RANGES("seq") ")",
			 RAW[i].table, RAW[i].received_at ? " OR" IN_WINDOW("received_at") : "");
		if ((rc = run(c, sql, 1, iv, rows, why)))
			goto fail;
	}
	static const char *const by_tombstone[] = {
		"DELETE FROM dead_letters x USING erasures e WHERE e.id = ANY($1::bigint[])"
		" AND x.topic_device = e.device_id AND (" IN_WINDOW("received_at") " OR (x.seq IS NOT NULL AND"
		IN_RANGES("seq") "))",
		"DELETE FROM trips x USING erasures e WHERE e.id = ANY($1::bigint[]) AND x.device_id = e.device_id"
		" AND (" IN_WINDOW("start_time") " OR" IN_RANGES("start_seq") " OR" IN_RANGES("end_seq") ")",
		"DELETE FROM trip_match_points x USING erasures e WHERE e.id = ANY($1::bigint[])"
		" AND x.device_id = e.device_id AND" IN_WINDOW("t"),
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(by_tombstone); i++)
		if ((rc = run(c, by_tombstone[i], 1, iv, rows, why)))
			goto fail;
	static const char *const per_driver[] = {
		"DELETE FROM trips WHERE driver_id = $1",
		"DELETE FROM monthly_features WHERE driver_id = $1",
		"DELETE FROM monthly_behaviour WHERE driver_id = $1",
		"DELETE FROM monthly_features_dirty WHERE driver_id = $1",
		"DELETE FROM driver_consent WHERE driver_id = $1",
		"UPDATE device_assignments SET driver_id = NULL WHERE driver_id = $1",
		"DELETE FROM drivers WHERE driver_id = $1",
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(per_driver); i++)
		if ((rc = run(c, per_driver[i], 1, v, strncmp(per_driver[i], "UPDATE", 6) == 0 ? NULL : rows, why)))
			goto fail;
	/* 4. the audit */
	char n[32], detail[256];
	snprintf(n, sizeof n, "%lld", *rows);
	snprintf(detail, sizeof detail,
		 "personal data, trips, features and raw records erased; %lld tombstone(s) %.100s keep later"
		 " arrivals out", windows, ids);
	const char *av[4] = { driver, n, by, detail };
	rc = run(c, "INSERT INTO data_audit (action, driver_id, rows_deleted, detail, performed_by)"
		    " VALUES ('forget', $1, $2::bigint, $4, $3)",
		 4, av, NULL, why);
	if (rc)
		goto fail;
	return run(c, "COMMIT", 0, NULL, NULL, why);
fail:
	rollback(c);
	return rc;
}

int odo_retention(PGconn *c, int days, const char *by, long long *rows, char *why)
{
	*rows = 0;
	if (days < 1) {
		snprintf(why, WHY_MAX, "--days must be at least 1");
		return ODO_ERR_INVAL;
	}
	char d[16];
	snprintf(d, sizeof d, "%d", days);
	const char *v[1] = { d };
	char sql[512];
	int rc = run(c, "BEGIN", 0, NULL, NULL, why);
	if (rc)
		return rc;
	/* Rows only: dropping the month partitions they leave empty is DDL, the
	 * owner's (`maintain` drops empty ones before its window). */
	for (size_t i = 0; i < ODO_ARRAY_LEN(RAW_TABLES); i++) {
		snprintf(sql, sizeof sql, "DELETE FROM %s WHERE t < now() - make_interval(days => $1::int)",
			 RAW_TABLES[i]);
		if ((rc = run(c, sql, 1, v, rows, why)))
			goto fail;
	}
	rc = run(c, "DELETE FROM dead_letters WHERE received_at < now() - make_interval(days => $1::int)", 1, v,
		 rows, why);
	rc = rc ? rc : run(c, "DELETE FROM quarantine WHERE received_at < now() - make_interval(days => $1::int)", 1,
			   v, rows, why);
	if (rc)
		goto fail;
	/* Batch ranges at or below the device's ack are no longer needed. */
	rc = run(c, "DELETE FROM batches b USING device_epochs x WHERE x.device_id = b.device_id"
		    " AND x.epoch = b.epoch AND b.seq_hi <= x.acked"
		    " AND b.committed_at < now() - make_interval(days => $1::int)",
		 1, v, rows, why);
	if (rc)
		goto fail;
	char n[32];
	snprintf(n, sizeof n, "%lld", *rows);
	const char *av[3] = { d, n, by };
	rc = run(c, "INSERT INTO data_audit (action, retain_days, rows_deleted, detail, performed_by)"
		    " VALUES ('retention', $1::int, $2::bigint, 'raw records older than the window pruned;"
		    " trips and monthly features kept', $3)", 3, av, NULL, why);
	if (rc)
		goto fail;
	return run(c, "COMMIT", 0, NULL, NULL, why);
fail:
	rollback(c);
	return rc;
}
