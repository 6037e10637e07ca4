-- odo collector schema, version 2: the field lifecycle (issue #11) and the
-- content of wire format version 2 (docs/wire-format.md, docs/collector.md).
--
-- * Every raw record is keyed by (device_id, epoch, seq): an outbox's epoch
--   is chosen when the outbox file is created, so a replaced gateway (new
--   outbox, same certificate) starts its own sequence numbers without
--   meeting the old ones. Epoch 0 is a v1 outbox (and the rows stored before
--   this migration).
-- * Per (device, epoch) acknowledgement state moves from devices.acked to
--   device_epochs; ranges the server lost (restore, failover) are recorded in
--   lost_at_server; valid records outside the stored time window go to
--   quarantine; dead letters name the record they refuse and why.
-- * New v2 content: tracks (dense track), crash_traces, per-grade trip
--   counts and shares, event grades, mount calibration state.
-- monthly_features is not touched.

-- ---- per (device, epoch) state -------------------------------------------

CREATE TABLE device_epochs (
    device_id   text NOT NULL REFERENCES devices (device_id),
    epoch       bigint NOT NULL CHECK (epoch >= 0),
    -- every seq in [1, acked] of this epoch is stored, dead-lettered,
    -- quarantined, known never to exist, or recorded in lost_at_server
    acked       bigint NOT NULL DEFAULT 0 CHECK (acked >= 0),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, epoch)
);
INSERT INTO device_epochs (device_id, epoch, acked, first_seen, last_seen)
    SELECT device_id, 0, acked, first_seen, last_seen FROM devices;
ALTER TABLE devices DROP COLUMN acked;

-- A batch stated that the device had been acknowledged up to "af" (its acked
-- floor) while this database's ack for (device, epoch) was lower: the server
-- lost [seq_lo, seq_hi] (a restore from a backup, a failover to an
-- asynchronous replica). The device no longer holds those records.
CREATE TABLE lost_at_server (
    id            bigserial PRIMARY KEY,
    device_id     text NOT NULL,
    epoch         bigint NOT NULL,
    seq_lo        bigint NOT NULL CHECK (seq_lo >= 1),
    seq_hi        bigint NOT NULL CHECK (seq_hi >= seq_lo),
    detected_at   timestamptz NOT NULL DEFAULT now(),
    processed_by  text NOT NULL
);
CREATE INDEX lost_at_server_device ON lost_at_server (device_id, epoch, seq_lo);

-- ---- epochs on every raw table and key -----------------------------------

ALTER TABLE batches ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE batches DROP CONSTRAINT batches_pkey;
ALTER TABLE batches ADD PRIMARY KEY (device_id, epoch, seq_lo, seq_hi);
DROP INDEX batches_hi;
CREATE INDEX batches_hi ON batches (device_id, epoch, seq_hi);

ALTER TABLE events ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (device_id, epoch, seq);

ALTER TABLE dtc_reports ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE dtc_reports DROP CONSTRAINT dtc_reports_pkey;
ALTER TABLE dtc_reports ADD PRIMARY KEY (device_id, epoch, seq);

ALTER TABLE vehicle_reports ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE vehicle_reports DROP CONSTRAINT vehicle_reports_pkey;
ALTER TABLE vehicle_reports ADD PRIMARY KEY (device_id, epoch, seq);

ALTER TABLE phone_states ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE phone_states DROP CONSTRAINT phone_states_pkey;
ALTER TABLE phone_states ADD PRIMARY KEY (device_id, epoch, seq);

ALTER TABLE device_status ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE device_status DROP CONSTRAINT device_status_pkey;
ALTER TABLE device_status ADD PRIMARY KEY (device_id, epoch, seq);

-- partitioned: the key keeps the partition key t (see 001)
ALTER TABLE samples ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE samples DROP CONSTRAINT samples_pkey;
ALTER TABLE samples ADD PRIMARY KEY (device_id, epoch, seq, t);

-- ---- trips: key (device, epoch, device trip id), v2 summary -------------

ALTER TABLE trips ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE trips DROP CONSTRAINT trips_device_id_device_trip_id_key;
ALTER TABLE trips ADD CONSTRAINT trips_device_epoch_trip_key UNIQUE (device_id, epoch, device_trip_id);
-- trip_id = '<device>:<epoch as 16 lowercase hex digits>:<device trip id>'
UPDATE trips SET trip_id = device_id || ':' || lpad(to_hex(epoch), 16, '0') || ':' || device_trip_id;
ALTER TABLE trips
    ADD COLUMN end_reason         smallint CHECK (end_reason BETWEEN 0 AND 2),  -- 0 stopped, 1 shutdown, 2 recovered
    ADD COLUMN lon_source         smallint CHECK (lon_source BETWEEN 0 AND 2),  -- 0 accel, 1 speed, 2 both; NULL none
    ADD COLUMN hard_brakes_g1     integer, ADD COLUMN hard_brakes_g2   integer, ADD COLUMN hard_brakes_g3   integer,
    ADD COLUMN rapid_accels_g1    integer, ADD COLUMN rapid_accels_g2  integer, ADD COLUMN rapid_accels_g3  integer,
    ADD COLUMN harsh_corners_g1   integer, ADD COLUMN harsh_corners_g2 integer, ADD COLUMN harsh_corners_g3 integer,
    ADD COLUMN swerves_g1         integer, ADD COLUMN swerves_g2       integer, ADD COLUMN swerves_g3       integer,
    ADD COLUMN lon_share_g1       double precision, ADD COLUMN lon_share_g2 double precision,
    ADD COLUMN lon_share_g3       double precision,
    ADD COLUMN lat_share_g1       double precision, ADD COLUMN lat_share_g2 double precision,
    ADD COLUMN lat_share_g3       double precision,
    ADD COLUMN lon_p95_g          double precision,
    ADD COLUMN lat_p95_g          double precision,
    ADD COLUMN speed_sd_mps       double precision,
    ADD COLUMN phone_measured     boolean,           -- a phone source was connected (screen/call/handled measured)
    ADD COLUMN lon_moving_s       double precision,  -- moving seconds with a longitudinal value (lon_share's denominator)
    ADD COLUMN lat_moving_s       double precision;  -- idem lateral
-- mean_abs_jerk (already nullable) is NULL when no longitudinal signal was measured.

ALTER TABLE events ADD COLUMN grade smallint CHECK (grade BETWEEN 1 AND 3);  -- NULL = ungraded

ALTER TABLE device_status
    ADD COLUMN calib_state       smallint CHECK (calib_state BETWEEN 0 AND 2),  -- 0 learning, 1 ready, 2 re-learning
    ADD COLUMN calib_confidence  double precision,
    ADD COLUMN calib_roll_deg    double precision,
    ADD COLUMN calib_pitch_deg   double precision,
    ADD COLUMN calib_yaw_deg     double precision,
    ADD COLUMN calib_ready_s     double precision,
    ADD COLUMN calib_gps_lag_s   double precision,                            -- GPS lag behind the IMU, s
    ADD COLUMN calib_gyro_state  smallint CHECK (calib_gyro_state BETWEEN 0 AND 2);  -- 0 none, 1 learning, 2 established

-- ---- new record kinds -----------------------------------------------------

-- Dense track for map matching: one row per track record (up to 64 points),
-- partitioned by month of t (the first point) like samples.
CREATE TABLE tracks (
    device_id       text NOT NULL,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    t               timestamptz NOT NULL,
    tsrc            smallint NOT NULL,
    device_trip_id  bigint NOT NULL,
    n               smallint NOT NULL CHECK (n BETWEEN 1 AND 64),
    t_ms            bigint[] NOT NULL,            -- absolute UTC ms per point
    lat             double precision[] NOT NULL,
    lon             double precision[] NOT NULL,
    speed_mps       double precision[] NOT NULL,  -- NULL element: not reported
    eph_m           double precision[] NOT NULL,  -- NULL element: not reported
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, epoch, seq, t)
) PARTITION BY RANGE (t);
CREATE INDEX tracks_trip ON tracks (device_id, epoch, device_trip_id, t);

-- The full-rate window around a crash: one row per part.
CREATE TABLE crash_traces (
    device_id       text NOT NULL,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    t               timestamptz NOT NULL,         -- this part's first sample
    tsrc            smallint NOT NULL,
    device_trip_id  bigint NOT NULL,
    crash_t         timestamptz NOT NULL,         -- t of the crash event
    part            smallint NOT NULL,
    parts           smallint NOT NULL,
    hz              smallint NOT NULL,
    frame           smallint NOT NULL,            -- 0 vehicle, 1 sensor
    ax              smallint[] NOT NULL,          -- milli-g
    ay              smallint[] NOT NULL,
    az              smallint[] NOT NULL,
    speed_mps       double precision,
    obd_speed_mps   double precision,
    rpm             double precision,
    airbag          boolean,                      -- NULL: no airbag signal configured
    lat             double precision,
    lon             double precision,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, epoch, seq)
);
CREATE INDEX crash_traces_crash ON crash_traces (device_id, epoch, crash_t);

-- ---- refusals ---------------------------------------------------------------

-- A valid record whose time lies outside the partitions that exist (the
-- window `odo-collector maintain` creates ahead): kept here, whole, instead
-- of letting a device clock create tables. Its seq is settled (acked).
CREATE TABLE quarantine (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    device_id     text NOT NULL,
    epoch         bigint NOT NULL,
    seq           bigint NOT NULL,
    t             timestamptz NOT NULL,
    kind          smallint NOT NULL,             -- wire record kind ("k")
    reason        text NOT NULL,
    record        bytea NOT NULL,                -- the record's CBOR
    topic         text NOT NULL,
    processed_by  text NOT NULL,
    UNIQUE (device_id, epoch, seq)
);
CREATE INDEX quarantine_received ON quarantine (received_at);

-- Dead letters now also name one refused record (seq set) and say why:
--   decode         the whole message was refused by the decoder (seq NULL)
--   record         one record was refused by the decoder (field and message say why)
--   database       PostgreSQL refused the record on its own (sqlstate, message)
--   trip conflict  a trip start/end that contradicts the stored one
--   range          PostgreSQL refused the batch's range itself (sqlstate)
ALTER TABLE dead_letters
    ADD COLUMN reason   text NOT NULL DEFAULT 'decode'
        CHECK (reason IN ('decode', 'record', 'database', 'trip conflict', 'range')),
    ADD COLUMN epoch    bigint,
    ADD COLUMN seq      bigint,
    ADD COLUMN kind     smallint,
    ADD COLUMN sqlstate text;
-- a refused record is dead-lettered once, however often its batch is resent
CREATE UNIQUE INDEX dead_letters_record ON dead_letters (topic_device, epoch, seq) WHERE seq IS NOT NULL;
