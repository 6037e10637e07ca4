/*
 * odo-collector — the batched, group-committing PostgreSQL writer.
 *
 * Non-blocking libpq in pipeline mode, driven by the program's poll loop:
 * the writer never blocks (connecting included), so MQTT traffic keeps
 * flowing while a commit or a reconnect is in progress.
 *
 * Accepted messages and dead letters queue in memory as the bytes received
 * (a batch is decoded again when it is written), bounded in bytes and in
 * messages. When the connection is idle and either enough records are
 * queued or the oldest has waited commit_ms, one pipeline carries the whole
 * group as one implicit transaction: rows, quarantined records, covered
 * sequence ranges, ranges lost at the server, dead letters, ack update.
 * Only when its Sync reports success are the new (device, epoch) acks
 * handed to the ack callback. No statement is DDL.
 *
 * Failures (docs/collector.md "Failures"): an error the environment causes
 * (privileges, read-only, disk full, connection, serialization, shutdown;
 * sqlstate.h) keeps every message and retries with exponential backoff,
 * logged at ERROR with its SQLSTATE. An error the data causes splits the
 * group: each message alone, then a message that still fails record by
 * record (one transaction each, one pipeline), so a record PostgreSQL
 * refuses is dead-lettered alone with its SQLSTATE and CBOR and the rest of
 * the batch is stored and its range settled. Every step makes progress, so
 * a batch is stored or dead-lettered within a bounded number of round trips.
 */
#ifndef ODO_COLLECTOR_WRITER_H
#define ODO_COLLECTOR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "odo/wire.h"

struct odo_pgw;

/* Optional observers (the metrics), called from odo_pgw_service(); either
 * function may be NULL. */
struct odo_pgw_hooks {
	void *ctx;
	/* A group transaction committed: the record time of each record it
	 * wrote (t_ms, n of them; valid during the call), and the wall-clock
	 * time of the commit. */
	void (*committed)(void *ctx, const int64_t *t_ms, size_t n, int64_t commit_wall_ms);
	/* A transaction or the connection failed: the SQLSTATE, "" when the
	 * server sent none (connection lost or refused, client-side error). */
	void (*db_error)(void *ctx, const char *sqlstate);
};

struct odo_pgw_opts {
	const char *conninfo;      /* libpq connection string (no password in it) */
	const char *password;      /* NULL or the secret read from a file/env */
	const char *user;          /* NULL or "": the conninfo's; else the role to log in as */
	const char *options;       /* NULL or libpq "options" (-c odo.require_consent=on) */
	const char *name;          /* this collector, stored in processed_by */
	size_t max_group_rows;     /* flush when this many records are queued */
	int commit_ms;             /* ... or when the oldest waited this long */
	size_t max_queue_msgs;     /* refuse (unacked, the device resends) beyond ... */
	size_t max_queue_bytes;    /* ... or beyond this many bytes held (every message counted) */
	int refresh_s;             /* incremental monthly-feature refresh period; 0 = off */
	const struct odo_pgw_hooks *hooks; /* NULL = none (borrowed; must outlive the writer) */
	/* Alerts (docs/alerts.md): the rules are read from alert_rules with the
	 * partitions; a record that fires one gets its alert row, and a delivery
	 * row per target, in its own transaction. */
	const char *alert_targets; /* text[] literal of the delivery targets, e.g. "{webhook}"; NULL = "{}" */
	/* After a commit: one call per alert it raised (may be NULL). */
	void (*alert_raised)(void *ctx, const char *rule);
	void *alert_ctx;
	/* 1: raises no alerts and does not read alert_rules (the feature-refresh
	 * connection, whose role odo_aggregate may not read them) */
	int no_alerts;
};

/* Called after a commit for each (device, epoch) in it, with the wire
 * version to answer in: every seq <= ack of that epoch is settled. */
typedef void (*odo_pgw_ack_fn)(void *ctx, const char *device, uint64_t epoch, uint32_t version, uint64_t ack);

struct odo_pgw_stats {
	uint64_t batches, records;      /* batches settled, records written (a resent one again) */
	uint64_t dead;                  /* whole messages dead-lettered */
	uint64_t dead_records;          /* records dead-lettered alone (decoder, database, trip conflict) */
	uint64_t poison;                /* ... of which PostgreSQL refused */
	uint64_t conflicts;             /* ... of which contradicted a stored trip start/end */
	uint64_t quarantined;           /* valid records outside the stored time window */
	uint64_t lost_ranges, lost_seqs;/* ranges lost at the server (restore / failover) */
	uint64_t shed, shed_bytes;      /* messages refused because the queue was full */
	uint64_t commits, failures;     /* transactions committed / failed */
	uint64_t env_failures;          /* ... failed for the environment's reasons */
	uint64_t isolations;            /* messages written record by record */
	uint64_t dropped;               /* dead letters the database refused (logged, gone) */
	uint64_t alerts;                /* alerts raised (committed) */
	uint64_t bad_rules;             /* alert_rules rows that could not be used (logged at each reload) */
	uint64_t erased_drops;          /* records of an erased (device, window) dropped on arrival */
	uint64_t consent_drops;         /* personal records of a driver without consent, dropped */
	size_t queue_msgs, queue_bytes; /* held now */
	char last_sqlstate[6];          /* of the last failure ("" none) */
};

/* Create a writer; it starts connecting on the first odo_pgw_service().
 * ODO_ERR_NOMEM / ODO_ERR_INVAL. */
int odo_pgw_open(const struct odo_pgw_opts *o, odo_pgw_ack_fn ack, void *ctx, struct odo_pgw **out) ODO_NODISCARD;
/* Close (NULL is a no-op); queued, uncommitted messages are dropped (unacked). */
void odo_pgw_close(struct odo_pgw *w);

/* Queue a batch odo_decode_message() accepted with `now_ms` (b is borrowed:
 * its header and refused records are copied, its records are not; raw is
 * copied and decoded again when written). ODO_ERR_FULL when the queue is
 * full in messages or bytes (not taken: not acked, the device resends;
 * counted as shed). ODO_ERR_NOMEM. */
int odo_pgw_add_batch(struct odo_pgw *w, const struct odo_batch *b, int64_t now_ms, const char *topic,
		      const uint8_t *raw, size_t len) ODO_NODISCARD;
/* Queue a dead letter for a message refused whole (everything copied).
 * ODO_ERR_FULL (dropped and counted as shed) / ODO_ERR_NOMEM. */
int odo_pgw_add_dead(struct odo_pgw *w, const char *topic, const char *topic_device, const uint8_t *raw,
		     size_t len, const struct odo_wire_error *err) ODO_NODISCARD;

/* Socket to poll (-1: none now) and the events wanted. */
int odo_pgw_socket(const struct odo_pgw *w, short *events);
/* Milliseconds until odo_pgw_service() needs calling without I/O. */
int odo_pgw_timeout_ms(const struct odo_pgw *w, int64_t now_ms);
/* Do whatever is due: connect, send a group, read results, emit acks. */
void odo_pgw_service(struct odo_pgw *w, int64_t now_ms, short revents);
/* 1 when nothing is queued or in flight. */
int odo_pgw_idle(const struct odo_pgw *w);
/* 1 when connected. */
int odo_pgw_connected(const struct odo_pgw *w);
void odo_pgw_get_stats(const struct odo_pgw *w, struct odo_pgw_stats *st);

#endif
