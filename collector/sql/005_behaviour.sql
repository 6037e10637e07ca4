-- odo collector schema: driving behaviour (issue #14; docs/features.md
-- "Driving score" and "Monthly behaviour"). Plain SQL (no procedural
-- language, no triggers: docs/deploy.md, distributed databases).
--
-- * odo_score_v1(): the driving score, version 1, the same formula as
--   common/src/score.c (both checked against tests/data/score/cases.csv).
--   Pure: anyone can recompute a stored score from the stored rows with it.
-- * trips gain their score, its components and the phone-distraction
--   seconds it used: written by the aggregation statement (the incremental
--   refresh after a trip's summary is committed, and `aggregate --month`).
-- * monthly_behaviour: per driver and month, the graded event rates, the
--   smoothness measures and the month's score; keyed and written like
--   monthly_features (the same aggregation statement writes both).
-- * A version 1 agent sent "jerk" 0 when it had measured nothing: stored as
--   NULL (a measured mean |jerk| is never exactly 0), here for the stored
--   trips and by the aggregation for later ones.

CREATE TYPE odo_score AS (
    events_pts    double precision,
    smooth_pts    double precision,
    phone_pts     double precision,
    time_pts      double precision,
    speeding_pts  double precision,
    inputs        smallint,           -- bits of the components used: 1 events, 2 smoothness, 4 phone,
                                      -- 8 time of day, 16 speeding; 0 when not scored
    score         double precision    -- 0..100; NULL when not scored
);

-- Score v1. n1, n2, n3: graded events (all kinds) of grade 1, 2, 3 over
-- graded_m metres (the trips whose events were graded); NULL inputs are
-- components that were not measured and are left out. The components are
-- added in the order E, S, P, T, V, as the C function does.
CREATE FUNCTION odo_score_v1(graded boolean, n1 double precision, n2 double precision, n3 double precision,
                             graded_m double precision, distance_m double precision,
                             lo1 double precision, la1 double precision,
                             phone_s double precision, phone_moving_s double precision,
                             night_m double precision, lnw_m double precision,
                             speeding_m double precision, limit_m double precision)
RETURNS odo_score LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x.ok THEN x.e END, CASE WHEN x.ok THEN x.sm END, CASE WHEN x.ok THEN x.ph END,
           CASE WHEN x.ok THEN x.tm END, CASE WHEN x.ok THEN x.sp END,
           CASE WHEN x.ok THEN (1 | CASE WHEN x.sm IS NOT NULL THEN 2 ELSE 0 END
                                  | CASE WHEN x.ph IS NOT NULL THEN 4 ELSE 0 END
                                  | CASE WHEN x.tm IS NOT NULL THEN 8 ELSE 0 END
                                  | CASE WHEN x.sp IS NOT NULL THEN 16 ELSE 0 END)::smallint
                ELSE 0::smallint END,
           CASE WHEN x.ok THEN greatest(0.0, least(100.0,
                100.0 - (x.e + coalesce(x.sm, 0) + coalesce(x.ph, 0) + coalesce(x.tm, 0) + coalesce(x.sp, 0)))) END
    FROM (SELECT coalesce(graded, false) AND n1 IS NOT NULL AND n2 IS NOT NULL AND n3 IS NOT NULL
                 AND coalesce(graded_m / 1609.344 >= 0.5, false) AS ok,
                 100.0 / (graded_m / 1609.344 + 5.0) * (0.1 * n1 + 0.5 * n2 + 2.0 * n3) AS e,
                 CASE WHEN lo1 IS NOT NULL OR la1 IS NOT NULL
                      THEN coalesce(100.0 * lo1, 0) + coalesce(100.0 * la1, 0) END AS sm,
                 CASE WHEN phone_s IS NOT NULL AND phone_moving_s > 0 THEN 200.0 * phone_s / phone_moving_s END AS ph,
                 CASE WHEN distance_m > 0 AND night_m IS NOT NULL AND lnw_m IS NOT NULL
                      THEN 10.0 * night_m / distance_m + 10.0 * lnw_m / distance_m END AS tm,
                 CASE WHEN limit_m > 0 AND speeding_m IS NOT NULL THEN 100.0 * speeding_m / limit_m END AS sp) x
$$;

ALTER TABLE trips
    ADD COLUMN phone_distraction_s  double precision,  -- s of phone-distraction events; NULL: phone not measured
    ADD COLUMN score                double precision,  -- odo_score_v1 of the trip; NULL: not scored
    ADD COLUMN score_version        smallint,
    ADD COLUMN score_inputs         smallint,
    ADD COLUMN score_events_pts     double precision,
    ADD COLUMN score_smooth_pts     double precision,
    ADD COLUMN score_phone_pts      double precision,
    ADD COLUMN score_time_pts       double precision,
    ADD COLUMN score_speeding_pts   double precision;

CREATE INDEX events_phone_trip ON events (device_id, epoch, device_trip_id) WHERE kind = 'phone_distraction';
CREATE INDEX phone_states_device_t ON phone_states (device_id, t);

-- Version 1's "not measured" jerk, already stored; every stored month is
-- aggregated again by the next refresh (its trips scored, monthly_behaviour
-- written).
UPDATE trips SET mean_abs_jerk = NULL WHERE mean_abs_jerk = 0;
INSERT INTO monthly_features_dirty (driver_id, month)
    SELECT DISTINCT driver_id, to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips
    WHERE driver_id IS NOT NULL AND start_time IS NOT NULL AND end_time IS NOT NULL
    ON CONFLICT DO NOTHING;

-- Per driver and month (UTC month of the trip's start, finished trips, the
-- driver the device was assigned to at the start), like monthly_features;
-- a row exists exactly when the monthly_features row does. Definitions:
-- docs/features.md "Monthly behaviour".
CREATE TABLE monthly_behaviour (
    driver_id                            text NOT NULL,
    month                                text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    score_version                        smallint NOT NULL,
    total_trips                          integer NOT NULL,
    graded_trips                         integer NOT NULL,
    graded_miles                         double precision,
    hard_brake_g1_per_100_miles          double precision,
    hard_brake_g2_per_100_miles          double precision,
    hard_brake_g3_per_100_miles          double precision,
    rapid_accel_g1_per_100_miles         double precision,
    rapid_accel_g2_per_100_miles         double precision,
    rapid_accel_g3_per_100_miles         double precision,
    harsh_corner_g1_per_100_miles        double precision,
    harsh_corner_g2_per_100_miles        double precision,
    harsh_corner_g3_per_100_miles        double precision,
    swerve_g1_per_100_miles              double precision,
    swerve_g2_per_100_miles              double precision,
    swerve_g3_per_100_miles              double precision,
    smooth_moving_hours                  double precision,
    mean_abs_jerk_mps3                   double precision,
    lon_share_g1                         double precision,
    lon_share_g2                         double precision,
    lon_share_g3                         double precision,
    lat_share_g1                         double precision,
    lat_share_g2                         double precision,
    lat_share_g3                         double precision,
    avg_trip_lon_p95_g                   double precision,
    avg_trip_lat_p95_g                   double precision,
    avg_trip_speed_sd_mps                double precision,
    trips_lon_accel                      integer NOT NULL,
    trips_lon_speed                      integer NOT NULL,
    trips_lon_mixed                      integer NOT NULL,
    phone_measured_trips                 integer NOT NULL,
    pct_moving_time_phone_distraction    double precision,
    score_events_pts                     double precision,
    score_smooth_pts                     double precision,
    score_phone_pts                      double precision,
    score_time_pts                       double precision,
    score_speeding_pts                   double precision,
    score_inputs                         smallint,
    score                                double precision,
    created_at                           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (driver_id, month)
);
