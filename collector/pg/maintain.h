/*
 * odo-collector — `odo-collector maintain`: the month partitions of the
 * partitioned tables (samples, tracks) for a bounded window around now,
 * created ahead of time. Ingest never issues DDL: a record whose month has
 * no partition goes to quarantine (docs/collector.md "Time window and
 * quarantine"), so no device clock can make the collector create tables.
 *
 * Idempotent (CREATE TABLE IF NOT EXISTS, one transaction, serialised by an
 * advisory lock), safe to run while collectors ingest. It runs as the schema
 * owner (the only role with DDL rights: docs/security.md "Database roles"),
 * from `migrate` and from odo-collector-maintain.timer (daily).
 */
#ifndef ODO_COLLECTOR_MAINTAIN_H
#define ODO_COLLECTOR_MAINTAIN_H

#include <libpq-fe.h>

#include "odo/err.h"

/* Ensure a partition of every partitioned table for each month from
 * `months_back` months before the current UTC month (database clock) to
 * `months_ahead` months after it, and drop the empty ones before that
 * window (retention deletes rows; a partition with rows is never dropped).
 * *created / *dropped (may be NULL) = partitions created / dropped now.
 * ODO_ERR_INVAL for a negative window, ODO_ERR_DB (why: 256 bytes) otherwise. */
int odo_maintain(PGconn *c, int months_back, int months_ahead, int *created, int *dropped, char *why) ODO_NODISCARD;

#endif
