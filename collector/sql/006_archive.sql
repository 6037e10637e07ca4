-- odo collector schema: tiered retention (issue #16 item 4). Raw records
-- older than the hot window are exported to monthly archive files
-- (docs/archive.md), verified, and only then removed from PostgreSQL;
-- `odo-collector archive restore` brings a month back. This table is the
-- database's record of every archive file: which rows left the database in
-- it, with the checksums that were verified, so that a removal is exact and
-- a restore or an erasure (`forget`) finds every file.

CREATE TABLE archive_parts (
    tbl            text NOT NULL,                 -- the table the rows came from
    month          text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    part           integer NOT NULL CHECK (part >= 1),
    -- exported:   the file is written and verified, the rows are still here
    -- dropped:    the rows were removed from the table; they live in the file only
    -- restored:   the rows were loaded back (the file stays)
    -- superseded: replaced by a later part of the same month (its file deleted)
    -- expired:    past [archive] expire_days: the file was deleted
    state          text NOT NULL CHECK (state IN ('exported', 'dropped', 'restored', 'superseded', 'expired')),
    path           text NOT NULL,                 -- relative to [archive] dir
    columns        text NOT NULL,                 -- the archived columns, "name type" per line
    rows           bigint NOT NULL CHECK (rows >= 0),
    csv_sha256     text NOT NULL,                 -- of the uncompressed CSV
    gz_sha256      text NOT NULL,                 -- of the file
    gz_bytes       bigint NOT NULL,
    sum_hi         numeric NOT NULL,              -- row checksum (docs/archive.md)
    sum_lo         numeric NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    dropped_at     timestamptz,
    restored_at    timestamptz,
    rewritten_at   timestamptz,                   -- last rewrite by forget
    rows_forgotten bigint NOT NULL DEFAULT 0,     -- rows erased from the file by forget
    ended_at       timestamptz,                   -- superseded or expired
    performed_by   text NOT NULL,
    PRIMARY KEY (tbl, month, part)
);

-- Archive runs, restores, expiries and erasures in archives are audited
-- like forget and retention (and consent changes, migration 004).
ALTER TABLE data_audit DROP CONSTRAINT data_audit_action_check;
ALTER TABLE data_audit ADD CONSTRAINT data_audit_action_check
    CHECK (action IN ('forget', 'retention', 'consent', 'archive', 'archive restore', 'archive expire', 'forget archive'));

-- The archive selects a month of each table by its time column.
CREATE INDEX IF NOT EXISTS vehicle_reports_t ON vehicle_reports (t);
CREATE INDEX IF NOT EXISTS crash_traces_t ON crash_traces (t);
