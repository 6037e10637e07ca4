-- odo collector schema, version 1. Portable PostgreSQL (15 is the
-- reference): no extensions, no procedural language, declarative
-- partitioning only, so Citus, TimescaleDB and Aurora accept it as is.

-- Drivers (reference columns).
CREATE TABLE drivers (
    driver_id                 text PRIMARY KEY,
    persona_type              text,
    driver_age                integer CHECK (driver_age BETWEEN 14 AND 120),
    years_licensed            integer CHECK (years_licensed >= 0),
    vehicle_age               integer CHECK (vehicle_age >= 0),
    vehicle_make              text,
    vehicle_model             text,
    prior_at_fault_accidents  integer CHECK (prior_at_fault_accidents >= 0),
    prior_claims              integer CHECK (prior_claims >= 0),
    prior_violations          integer CHECK (prior_violations >= 0),
    data_source               text,
    account_created_date      date,
    policy_start_date         date,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vehicles (
    vehicle_id    text PRIMARY KEY,
    vin           text,
    make          text,
    model         text,
    model_year    integer,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per gateway. `acked` is the contiguous committed high-water mark:
-- every seq in [1, acked] is stored or covered by a committed batch range.
CREATE TABLE devices (
    device_id     text PRIMARY KEY,
    acked         bigint NOT NULL DEFAULT 0,
    vin           text,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now()
);

-- Which vehicle and driver a device belonged to, over time ([valid_from, valid_to)).
CREATE TABLE device_assignments (
    id            bigserial PRIMARY KEY,
    device_id     text NOT NULL REFERENCES devices (device_id),
    vehicle_id    text REFERENCES vehicles (vehicle_id),
    driver_id     text REFERENCES drivers (driver_id) ON DELETE SET NULL,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX device_assignments_device ON device_assignments (device_id, valid_from);
CREATE INDEX device_assignments_driver ON device_assignments (driver_id);

-- Every committed batch: the sequence range it covers (persisted in the same
-- transaction as its rows, so every collector computes the same ack) and
-- which collector stored it.
CREATE TABLE batches (
    device_id     text NOT NULL,
    seq_lo        bigint NOT NULL CHECK (seq_lo >= 1),
    seq_hi        bigint NOT NULL CHECK (seq_hi >= seq_lo),
    n_records     integer NOT NULL,
    processed_by  text NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, seq_lo, seq_hi)
);
CREATE INDEX batches_hi ON batches (device_id, seq_hi);

-- Trips (reference columns, then the device's trip summary).
CREATE TABLE trips (
    trip_id               text PRIMARY KEY,         -- '<device>:<device trip id>'
    driver_id             text REFERENCES drivers (driver_id) ON DELETE SET NULL,
    start_time            timestamptz,
    end_time              timestamptz,
    total_distance_miles  double precision,
    avg_speed_mph         double precision,
    duration_minutes      double precision,
    data_source           text NOT NULL DEFAULT 'odo',
    created_at            timestamptz NOT NULL DEFAULT now(),
    device_id             text NOT NULL,
    device_trip_id        bigint NOT NULL,
    start_seq             bigint,
    end_seq               bigint,
    start_lat             double precision,
    start_lon             double precision,
    distance_m            double precision,
    obd_distance_m        double precision,
    duration_s            double precision,
    moving_s              double precision,
    idle_s                double precision,
    avg_speed_mps         double precision,
    max_speed_mps         double precision,
    avg_rpm               double precision,
    night_m               double precision,
    late_night_weekend_m  double precision,
    rush_hour_m           double precision,
    heavy_traffic_m       double precision,
    wiper_m               double precision,
    screen_on_s           double precision,
    handheld_call_s       double precision,
    phone_handled_count   integer,
    hard_brakes           integer,
    rapid_accels          integer,
    harsh_corners         integer,
    swerves               integer,
    crashes               integer,
    mean_abs_jerk         double precision,
    gps_accuracy_m        double precision,
    has_dtc               boolean,
    airbag_deployed       boolean,
    UNIQUE (device_id, device_trip_id)
);
CREATE INDEX trips_driver_start ON trips (driver_id, start_time);

CREATE TABLE events (
    device_id         text NOT NULL,
    seq               bigint NOT NULL,
    t                 timestamptz NOT NULL,
    tsrc              smallint NOT NULL,
    device_trip_id    bigint NOT NULL,
    kind              text NOT NULL,
    source            smallint NOT NULL,
    duration_ms       bigint NOT NULL,
    peak_g            double precision,
    mean_g            double precision,
    speed_before_mps  double precision,
    speed_after_mps   double precision,
    lat               double precision,
    lon               double precision,
    heading_deg       double precision,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX events_t ON events (t);

CREATE TABLE dtc_reports (
    device_id        text NOT NULL,
    seq              bigint NOT NULL,
    t                timestamptz NOT NULL,
    ecu              integer NOT NULL,
    mil              boolean,
    stored           text[] NOT NULL,
    pending          text[] NOT NULL,
    permanent        text[] NOT NULL,
    airbag_deployed  boolean NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX dtc_reports_t ON dtc_reports (device_id, t);

CREATE TABLE vehicle_reports (
    device_id  text NOT NULL,
    seq        bigint NOT NULL,
    t          timestamptz NOT NULL,
    vin        text,
    ecu        integer NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE phone_states (
    device_id  text NOT NULL,
    seq        bigint NOT NULL,
    t          timestamptz NOT NULL,
    screen_on  boolean NOT NULL,
    call       smallint NOT NULL,
    handled    boolean NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX phone_states_t ON phone_states (t);

CREATE TABLE device_status (
    device_id            text NOT NULL,
    seq                  bigint NOT NULL,
    t                    timestamptz NOT NULL,
    uptime_s             bigint, outbox_depth bigint, outbox_oldest_age_s bigint,
    evicted              bigint, reconnects bigint,
    can_errors           bigint, gps_errors bigint, accel_errors bigint,
    fix                  smallint, clock_source smallint,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX device_status_t ON device_status (t);

-- Periodic samples, partitioned by month of t; the collector creates
-- samples_YYYY_MM on demand. The key includes t because a partitioned
-- table's unique keys must contain the partition key; a redelivered record
-- carries the same t, so this is still idempotent on (device_id, seq).
CREATE TABLE samples (
    device_id       text NOT NULL,
    seq             bigint NOT NULL,
    t               timestamptz NOT NULL,
    tsrc            smallint NOT NULL,
    device_trip_id  bigint NOT NULL,
    fix             smallint NOT NULL,
    lat             double precision, lon double precision,
    speed_mps       double precision, heading_deg double precision,
    eph_m           double precision, alt_m double precision,
    rpm             double precision, obd_speed_mps double precision,
    throttle_pct    double precision, coolant_c double precision,
    fuel_pct        double precision, ax_g double precision, ay_g double precision,
    PRIMARY KEY (device_id, seq, t)
) PARTITION BY RANGE (t);

-- Messages the collector refused, with the decoder's precise reason.
CREATE TABLE dead_letters (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    topic         text NOT NULL,
    topic_device  text,
    payload       bytea NOT NULL,
    error_code    integer NOT NULL,
    error_name    text NOT NULL,
    field         text NOT NULL,
    byte_offset   bigint,
    message       text NOT NULL,
    processed_by  text NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);

-- Monthly per-driver features: exactly the reference columns
-- (definitions in docs/features.md).
CREATE TABLE monthly_features (
    driver_id                           text NOT NULL,
    month                               text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    total_trips                         integer NOT NULL,
    total_drive_time_hours              double precision,
    total_miles_driven                  double precision,
    avg_speed_mph                       double precision,
    max_speed_mph                       double precision,
    avg_jerk_rate                       double precision,
    hard_brake_rate_per_100_miles       double precision,
    rapid_accel_rate_per_100_miles      double precision,
    harsh_cornering_rate_per_100_miles  double precision,
    swerving_events_per_100_miles       double precision,
    pct_miles_night                     double precision,
    pct_miles_late_night_weekend        double precision,
    pct_miles_weekday_rush_hour         double precision,
    pct_trip_time_screen_on             double precision,
    handheld_events_rate_per_hour       double precision,
    pct_trip_time_on_call_handheld      double precision,
    avg_engine_rpm                      double precision,
    has_dtc_codes                       boolean,
    airbag_deployment_flag              boolean,
    driver_age                          integer,
    vehicle_age                         integer,
    prior_at_fault_accidents            integer,
    years_licensed                      integer,
    data_source                         text,
    gps_accuracy_avg_meters             double precision,
    driver_passenger_confidence_score   double precision,
    speeding_rate_per_100_miles         double precision,
    max_speed_over_limit_mph            double precision,
    pct_miles_highway                   double precision,
    pct_miles_urban                     double precision,
    pct_miles_in_rain_or_snow           double precision,
    pct_miles_in_heavy_traffic          double precision,
    had_claim_in_period                 boolean,
    created_at                          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (driver_id, month)
);

-- (driver, month) pairs whose features are stale because a trip arrived;
-- the ingest loop refreshes them (incremental aggregation).
CREATE TABLE monthly_features_dirty (
    driver_id  text NOT NULL,
    month      text NOT NULL,
    PRIMARY KEY (driver_id, month)
);

-- Erasures (odo-collector forget) and retention runs: who, when, how much.
CREATE TABLE data_audit (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    action        text NOT NULL CHECK (action IN ('forget', 'retention')),
    driver_id     text,
    retain_days   integer,
    rows_deleted  bigint NOT NULL,
    detail        text NOT NULL,
    performed_by  text NOT NULL
);
