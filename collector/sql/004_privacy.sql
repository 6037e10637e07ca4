-- odo collector schema: erasure that lasts, and consent (issue #13 items 4
-- and 5; docs/collector.md "Privacy: erasure and consent"). Plain SQL, no
-- procedural language (a SQL-language function is not one).
--
-- * Tombstones. `forget` leaves one `erasures` row per assignment window of
--   the erased driver (the device and the window; no driver id) and the
--   sequence ranges the collector committed while the window was open
--   (`erasure_ranges`). A record is the erased driver's when its time falls
--   in a window of its device OR its (epoch, seq) falls in a range: the
--   second catches records whose device clock was wrong (1970). Records that
--   match arrive later are dropped by the writer, never stored, counted and
--   audited in `arrival_drops` (no content, only which record and why).
-- * Consent. A driver's consent is a history of intervals (`driver_consent`:
--   granted_at, withdrawn_at) and a current state on `drivers` (consent,
--   consent_at); `odo_consent_set()` changes both and audits it. With
--   `[privacy] require_consent = true` (each connection sets
--   odo.require_consent) the writer keeps no personal record (positions,
--   events, trips, tracks, phone states, crash traces) of a driver without
--   consent at the record's time, and the aggregation skips drivers without
--   consent. Device health (status), DTC and VIN reports are kept.
-- * Who may do what is not here: `migrate` applies the privilege matrix
--   (collector/pg/roles.c) after the migrations.

CREATE TABLE erasures (
    id          bigserial PRIMARY KEY,
    device_id   text NOT NULL,
    t_from      timestamptz NOT NULL,
    t_to        timestamptz NOT NULL CHECK (t_to > t_from),
    erased_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasures_device ON erasures (device_id, t_from);

CREATE TABLE erasure_ranges (
    erasure_id  bigint NOT NULL REFERENCES erasures (id),
    device_id   text NOT NULL,
    epoch       bigint NOT NULL,
    seq_lo      bigint NOT NULL CHECK (seq_lo >= 1),
    seq_hi      bigint NOT NULL CHECK (seq_hi >= seq_lo),
    PRIMARY KEY (device_id, epoch, seq_lo, erasure_id)
);

-- One row per record dropped on arrival (the first time; a redelivery is
-- counted by the collector, not stored again). No content.
CREATE TABLE arrival_drops (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    device_id     text NOT NULL,
    epoch         bigint NOT NULL,
    seq           bigint NOT NULL,
    kind          smallint,                     -- wire record kind; NULL: a record the decoder refused
    reason        text NOT NULL CHECK (reason IN ('erased', 'no consent')),
    processed_by  text NOT NULL,
    UNIQUE (device_id, epoch, seq)
);
CREATE INDEX arrival_drops_received ON arrival_drops (received_at);

-- Is a record of this device, epoch, seq and time an erased driver's?
-- (t may be NULL: a record the decoder refused; only its seq counts then.)
CREATE FUNCTION odo_erased(p_device text, p_epoch bigint, p_seq bigint, p_t timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM erasure_ranges r WHERE r.device_id = p_device AND r.epoch = p_epoch
                   AND p_seq BETWEEN r.seq_lo AND r.seq_hi)
        OR EXISTS (SELECT 1 FROM erasures w WHERE w.device_id = p_device
                   AND p_t >= w.t_from AND p_t < w.t_to)
$$;

-- ---- consent ----------------------------------------------------------------

ALTER TABLE drivers
    ADD COLUMN consent     text CHECK (consent IN ('granted', 'withdrawn')),  -- NULL: never asked
    ADD COLUMN consent_at  timestamptz;                                       -- of the last change

CREATE TABLE driver_consent (
    driver_id     text NOT NULL REFERENCES drivers (driver_id) ON DELETE CASCADE,
    granted_at    timestamptz NOT NULL,
    withdrawn_at  timestamptz CHECK (withdrawn_at >= granted_at),
    PRIMARY KEY (driver_id, granted_at)
);
-- at most one open interval per driver
CREATE UNIQUE INDEX driver_consent_open ON driver_consent (driver_id) WHERE withdrawn_at IS NULL;

-- Did the driver the device was assigned to at time t consent at t?
CREATE FUNCTION odo_consented(p_device text, p_t timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM device_assignments a JOIN driver_consent c ON c.driver_id = a.driver_id
                   WHERE a.device_id = p_device AND a.valid_from <= p_t
                   AND (a.valid_to IS NULL OR a.valid_to > p_t)
                   AND c.granted_at <= p_t AND (c.withdrawn_at IS NULL OR c.withdrawn_at > p_t))
$$;

ALTER TABLE data_audit DROP CONSTRAINT data_audit_action_check;
ALTER TABLE data_audit ADD CONSTRAINT data_audit_action_check
    CHECK (action IN ('forget', 'retention', 'consent'));

-- Grant (true) or withdraw (false) a driver's consent, now; audited. Locks
-- the rows of the devices assigned to the driver first, in device order like
-- the writer, so no batch is half under the old state. Returns the state.
-- An unknown driver: no row changes and NULL is returned. The same state
-- again changes nothing and is not audited again.
CREATE FUNCTION odo_consent_set(p_driver text, p_granted boolean, p_by text)
RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT 1 FROM devices WHERE device_id IN
        (SELECT device_id FROM device_assignments WHERE driver_id = p_driver)
        ORDER BY device_id FOR UPDATE;
    WITH d AS (SELECT driver_id, consent FROM drivers WHERE driver_id = p_driver FOR UPDATE),
    ch AS (SELECT driver_id FROM d
           WHERE consent IS DISTINCT FROM CASE WHEN p_granted THEN 'granted' ELSE 'withdrawn' END),
    up AS (UPDATE drivers x SET consent = CASE WHEN p_granted THEN 'granted' ELSE 'withdrawn' END,
               consent_at = now(), updated_at = now()
           FROM ch WHERE x.driver_id = ch.driver_id RETURNING x.driver_id),
    closed AS (UPDATE driver_consent c SET withdrawn_at = now() FROM up
               WHERE NOT p_granted AND c.driver_id = up.driver_id AND c.withdrawn_at IS NULL
               RETURNING c.driver_id),
    opened AS (INSERT INTO driver_consent (driver_id, granted_at)
               SELECT driver_id, now() FROM up WHERE p_granted RETURNING driver_id),
    audit AS (INSERT INTO data_audit (action, driver_id, rows_deleted, detail, performed_by)
              SELECT 'consent', driver_id, 0,
                     CASE WHEN p_granted THEN 'consent granted' ELSE 'consent withdrawn' END, p_by
              FROM up RETURNING driver_id)
    SELECT CASE WHEN p_granted THEN 'granted' ELSE 'withdrawn' END FROM d
$$;
