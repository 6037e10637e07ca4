/*
 * odo-collector — monthly per-driver features, erasure and retention.
 * Definitions of every feature: docs/features.md, "Monthly features
 * (collector)". All SQL is parameterised; these functions use a plain
 * (blocking) libpq connection and are meant for the CLI subcommands.
 */
#ifndef ODO_COLLECTOR_AGGREGATE_H
#define ODO_COLLECTOR_AGGREGATE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "odo/err.h"

/* Recompute monthly_features for every driver with a finished trip starting
 * in `month` ("YYYY-MM", UTC). *rows = rows written. ODO_ERR_INVAL for a bad
 * month, ODO_ERR_DB (message in *why, 256 bytes) otherwise. */
int odo_agg_month(PGconn *c, const char *month, long long *rows, char *why) ODO_NODISCARD;

/* The single statement that refreshes every (driver, month) marked dirty by
 * arriving trips and clears the marks (used by the ingest loop). */
const char *odo_agg_refresh_dirty_sql(void);
/* When that statement fails on the data (one driver's trips hold values a
 * feature cannot be computed from: a sum or product out of the range of
 * double precision), the ingest loop refreshes the marked pairs one by one,
 * each in its own transaction, so one driver never holds up the others:
 * the marked pairs (driver_id, month; at most 1000), and the statement that
 * refreshes the pair $1 (driver_id), $2 (month) and clears its mark. */
const char *odo_agg_dirty_pairs_sql(void);
const char *odo_agg_refresh_pair_sql(void);

/* The lock that orders a refresh after every transaction that marks a
 * (driver, month): a marker takes it shared (exclusive = 0) before it marks
 * and holds it to its commit; a refresh takes it exclusively (1) in its own
 * transaction before the refresh statement, whose snapshot then holds every
 * marker's trips. Without it a mark that already existed (ON CONFLICT DO
 * NOTHING) could be deleted by a refresh whose snapshot lacked the marker's
 * trip: that trip uncounted until its month changed again (found by the
 * soak: total_trips 1 for 2 finished trips, no mark left). */
const char *odo_agg_marks_lock_sql(int exclusive);

/* Erase a driver for good (issue 13 finding 5): tombstones for each of
 * their assignment windows (the window and the sequence ranges committed in
 * it), then every row matching them by record time, arrival time or seq in
 * every raw table, the quarantine and the dead letters; their trips,
 * monthly features and behaviour, consent and drivers row (assignments keep
 * device/vehicle history with driver_id NULL); one data_audit row. One
 * transaction, holding the devices' row locks like the writer. The writer
 * drops records that match a tombstone when they arrive later.
 * ODO_ERR_NOTFOUND when the driver is unknown. */
int odo_forget_driver(PGconn *c, const char *driver, const char *by, long long *rows, char *why) ODO_NODISCARD;

/* Delete raw records (samples, events, phone, status, vehicle and DTC
 * reports, dead letters, acknowledged batch ranges) older than `days`
 * days (rows only: `maintain` drops the month partitions left empty). Trips and monthly features are
 * kept. Writes a data_audit row. */
int odo_retention(PGconn *c, int days, const char *by, long long *rows, char *why) ODO_NODISCARD;

/* Apply the embedded migrations (collector/sql/NNN_*.sql) not yet recorded
 * in schema_migrations, each in its own transaction, serialised by an
 * advisory lock. *applied = how many ran now. */
int odo_migrate(PGconn *c, int *applied, char *why) ODO_NODISCARD;

#endif
