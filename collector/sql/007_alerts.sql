-- odo-collector migration 007: real-time alerts (#16 item 2; docs/alerts.md).
--
-- alert_rules  what raises an alert: the crash, the airbag deployment, or a
--              threshold on a record field (metric names: docs/alerts.md; the
--              collector checks them when it loads the rules and logs a rule
--              it cannot use, naming the field).
-- alerts       one row per (device, epoch, seq, rule): written by the ingest
--              writer in the same transaction as the record that raised it,
--              so a record is never stored without its alert nor an alert
--              without its record, and a redelivered record raises nothing.
-- alert_deliveries  one row per alert and delivery target (webhook, mqtt):
--              the queue the collectors deliver from, with attempts, the next
--              try (exponential backoff) and a lease, so retries survive a
--              collector restart and two collectors never deliver one at once.

CREATE TABLE alert_rules (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    metric      text NOT NULL,
    op          text CHECK (op IN ('>', '>=', '<', '<=')),
    threshold   double precision
                CHECK (threshold IS NULL OR threshold NOT IN ('NaN', 'Infinity', '-Infinity')),
    cooldown_s  integer NOT NULL DEFAULT 0 CHECK (cooldown_s BETWEEN 0 AND 604800),
    max_age_s   integer CHECK (max_age_s >= 0),   -- NULL: no limit
    severity    text NOT NULL DEFAULT 'warning' CHECK (severity IN ('critical', 'warning', 'info')),
    enabled     boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    CHECK ((op IS NULL) = (threshold IS NULL))
);

-- The defaults (docs/alerts.md gives the source of each number).
INSERT INTO alert_rules (name, metric, op, threshold, cooldown_s, max_age_s, severity, description) VALUES
    ('crash', 'crash', NULL, NULL, 0, NULL, 'critical',
     'a crash detected by the accelerometer (impact confirmed by 8 km/h within 150 ms)'),
    ('airbag', 'airbag', NULL, NULL, 0, NULL, 'critical',
     'a crash with the vehicle''s airbag deployment / crash signal'),
    ('overspeed', 'sample.speed_mps', '>', 36.11, 600, 3600, 'warning',
     'above 130 km/h, the highest general motorway limit in the EU (ETSC)'),
    ('coolant_hot', 'sample.coolant_c', '>', 120, 1800, 3600, 'warning',
     'engine coolant above 120 degC, where dashboard over-temperature warnings light');

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    device_id       text NOT NULL,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    rule            text NOT NULL,               -- alert_rules.name when it was raised
    metric          text NOT NULL,
    severity        text NOT NULL,
    t               timestamptz NOT NULL,        -- the record's time
    kind            smallint NOT NULL,           -- the record's kind
    device_trip_id  bigint,
    value           double precision,            -- the metric's value; NULL: none (an airbag-only crash)
    op              text,
    threshold       double precision,
    details         jsonb NOT NULL,              -- the record's fields (docs/alerts.md "Payload")
    received_at     timestamptz NOT NULL,        -- when the collector received the record's message
    raised_at       timestamptz NOT NULL DEFAULT now(),  -- the transaction that stored the record
    processed_by    text NOT NULL,
    UNIQUE (device_id, epoch, seq, rule)
);
CREATE INDEX alerts_cooldown ON alerts (device_id, rule, t);

CREATE TABLE alert_deliveries (
    alert_id        bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    target          text NOT NULL CHECK (target IN ('webhook', 'mqtt')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    lease_by        text,                        -- the collector delivering it now ...
    lease_until     timestamptz,                 -- ... until then (a crashed collector's lease lapses)
    last_status     integer,                     -- HTTP status of the last attempt; NULL: no answer
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, target)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_at) WHERE state = 'pending';
