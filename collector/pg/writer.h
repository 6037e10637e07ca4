/*
 * odo-collector — the batched, group-committing PostgreSQL writer.
 *
 * Non-blocking libpq in pipeline mode, driven by the program's poll loop:
 * the writer never blocks (connecting included), so MQTT traffic keeps
 * flowing while a commit or a reconnect is in progress.
 *
 * Accepted batches and dead letters queue in memory; when the connection is
 * idle and either enough rows are queued or the oldest has waited
 * commit_ms, one pipeline carries the whole group as one implicit
 * transaction (rows, covered sequence ranges, dead letters, ack update).
 * Only when its Sync reports success are the new per-device acks handed to
 * the ack callback. A failed group is retried (connection errors: after
 * reconnecting; data errors: batch by batch, a batch the database refuses
 * alone goes to the dead letters with the server's message).
 */
#ifndef ODO_COLLECTOR_WRITER_H
#define ODO_COLLECTOR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "odo/wire.h"

struct odo_pgw;

struct odo_pgw_opts {
	const char *conninfo;      /* libpq connection string (no password in it) */
	const char *password;      /* NULL or the secret read from a file/env */
	const char *name;          /* this collector, stored in processed_by */
	size_t max_group_rows;     /* flush when this many records are queued */
	int commit_ms;             /* ... or when the oldest waited this long */
	size_t max_queue_msgs;     /* shed (unacked, the device resends) beyond */
	int refresh_s;             /* incremental monthly-feature refresh period; 0 = off */
};

/* Called after a commit for each device in it: every seq <= ack is stored.
 * The ack answers in the wire version and epoch of the device's last batch
 * in the group. TODO(collector-life, #11): the high-water mark is still per
 * device (devices.acked), not per (device, epoch). */
typedef void (*odo_pgw_ack_fn)(void *ctx, const char *device, unsigned version, uint64_t epoch, uint64_t ack);

struct odo_pgw_stats {
	uint64_t batches, records, dead, shed, commits, failures;
};

/* Create a writer; it starts connecting on the first odo_pgw_service().
 * ODO_ERR_NOMEM / ODO_ERR_INVAL. */
int odo_pgw_open(const struct odo_pgw_opts *o, odo_pgw_ack_fn ack, void *ctx, struct odo_pgw **out) ODO_NODISCARD;
/* Close (NULL is a no-op); queued, uncommitted batches are dropped (unacked). */
void odo_pgw_close(struct odo_pgw *w);

/* Queue a decoded batch (ownership of b passes to the writer; it is freed
 * with odo_decode_free) with a copy of its raw payload. ODO_ERR_FULL when the
 * queue is full (the batch is freed, not acked; counted as shed). */
int odo_pgw_add_batch(struct odo_pgw *w, struct odo_batch *b, const char *topic, const uint8_t *raw, size_t len);
/* Queue a dead letter (everything copied). */
int odo_pgw_add_dead(struct odo_pgw *w, const char *topic, const char *topic_device, const uint8_t *raw,
		     size_t len, const struct odo_wire_error *err);

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
