/*
 * odo-agent — the outbox: records waiting for the collector's acknowledgement.
 *
 * One SQLite file in WAL mode. Every record put gets the device's next
 * sequence number (persistent, strictly increasing across restarts, power
 * loss and clock jumps; never derived from time) and is stored already
 * CBOR-encoded (odo_wire_encode_record) with its kind, priority class and
 * time. Records leave only when the collector acknowledges them
 * (odo_store_ack) or when the cap forces an eviction (samples first, crash
 * records never). docs/store-and-forward.md explains the durability
 * choices (synchronous=NORMAL plus durable sequence reservations), the
 * eviction order and the batch range semantics.
 *
 * Single-threaded: one handle is used from the agent's poll loop only.
 * The per-record path does not allocate: statements are prepared once and
 * records are encoded into buffers inside the handle.
 */
#ifndef ODO_AGENT_STORE_H
#define ODO_AGENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "odo/clock.h"
#include "odo/config.h"
#include "odo/err.h"
#include "odo/wire.h"

#define ODO_STORE_PATH_MAX 256
/* Sequence numbers are reserved durably in blocks of this many: a restart
 * after power loss continues above the block, never inside it. */
#define ODO_STORE_SEQ_BLOCK 4096
/* Bytes of CBOR one batch may carry (leaves room for the batch header). */
#define ODO_STORE_BATCH_BYTES_MAX (ODO_WIRE_MAX_MESSAGE - 256)
/* Version 3 adds the key id of every stored body (0: plaintext; encryption
 * at rest, docs/store-and-forward.md); versions 1 and 2 are migrated in place. */
#define ODO_STORE_SCHEMA_VERSION 3
/* The first trip id of an outbox migrated from version 1: above every id a
 * version 1 agent handed out (it restarted at 1 on every start). */
#define ODO_STORE_V1_TRIP_BASE 4294967296ULL

/* Priority classes, lowest evicted first. */
enum odo_store_prio {
	ODO_PRIO_SAMPLE = 0, /* periodic samples and status records */
	ODO_PRIO_NORMAL = 1, /* trips, events, DTCs, vehicle, phone */
	ODO_PRIO_CRASH = 2,  /* crash events and crash traces: never evicted, sent first */
};

/* Section [store]. */
struct odo_store_cfg {
	char path[ODO_STORE_PATH_MAX]; /* SQLite file */
	long long max_bytes;           /* cap on stored CBOR bytes; 0 = none */
	long long max_records;         /* cap on stored records; 0 = none */
	char key_file[ODO_STORE_PATH_MAX];     /* AES-256 key (64 hex digits, mode 0600): seal every record; "" = plain */
	char old_key_file[ODO_STORE_PATH_MAX]; /* the key being rotated out: read only, until its records drained */
};

extern const struct odo_cfg_key odo_store_cfg_keys[];
extern const size_t odo_store_cfg_nkeys;

struct odo_store;

struct odo_store_stats {
	uint64_t depth;          /* records waiting */
	uint64_t bytes;          /* CBOR bytes waiting */
	uint64_t crash_depth;    /* crash records waiting */
	uint64_t inflight;       /* records handed out by next_batch, not acked/requeued */
	int64_t oldest_t_ms;     /* t_ms of the oldest waiting record; 0 when empty */
	uint64_t oldest_age_s;   /* now (real clock) - oldest_t_ms, 0 when empty or in the future */
	uint64_t evicted;        /* records evicted since the file was created (persistent) */
	uint64_t rejected;       /* records refused since open: cap full of higher classes */
	uint64_t write_errors;   /* failed writes since open (full disk, I/O) */
	uint64_t put;            /* records stored since open */
	uint64_t last_seq;       /* last sequence number handed out; 0 = none */
	uint64_t seq_reserved;   /* durable reservation: no seq <= this is reused */
	uint64_t acked;          /* highest ack applied: the batches' acked floor */
	uint64_t epoch;          /* wire "ep" */
	uint64_t trip_next;      /* the next trip id */
	uint64_t ack_errors;     /* acks refused since open: beyond the last seq handed out */
	uint32_t key_id;         /* id of the key new records are sealed with; 0 = stored in plaintext */
	uint64_t plain_at_open;  /* with a key: records found in plaintext at open (from before it) ... */
	uint64_t resealed_at_open; /* ... of which sealed in place at open (the rest stay plaintext until acked) */
	uint64_t old_key_at_open; /* records (and open trips' checkpoints) sealed with old_key_file's key at open */
	uint64_t unreadable;     /* sealed records that did not authenticate, dropped since open */
};

/* A batch as odo_store_next_batch() hands it out. `cbor` points into the
 * handle and stays valid until the next call on the handle. */
struct odo_store_batch {
	uint64_t epoch;       /* wire "ep": the outbox's epoch */
	uint64_t floor;       /* wire "af": every seq <= floor was acknowledged and deleted */
	uint64_t range_start; /* wire "seq": no other record exists in [range_start, last] */
	uint64_t first, last; /* seqs of the first and last record */
	size_t n;             /* records */
	const uint8_t *cbor;  /* n encoded records, concatenated */
	size_t len;
	int crash;            /* 1: the batch starts with a crash record */
};

enum odo_store_pick {
	ODO_STORE_OLDEST = 0, /* crash records first, then the oldest unsent */
	ODO_STORE_NEWEST = 1, /* crash first, then the newest unsent run (live lane) */
	ODO_STORE_STRICT = 2, /* the oldest unsent, crash records not preferred: the
			       * batch the collector's contiguous ack waits for */
};

/* Priority class of a record (crash events and crash traces are ODO_PRIO_CRASH). */
int odo_store_prio_of(const struct odo_record *r);

/* Open (creating if needed) the outbox at cfg->path. The clock is borrowed
 * and must outlive the handle. A new file gets a new random epoch (63 bits,
 * not 0; getrandom); a version 1 file is migrated in place to epoch 0 with
 * trip ids continuing at ODO_STORE_V1_TRIP_BASE. Every record is marked
 * unsent (a restart resends what was unacknowledged). Returns ODO_OK,
 * ODO_ERR_INVAL, ODO_ERR_NOMEM, ODO_ERR_DB (cannot open / corrupt),
 * ODO_ERR_UNSUPPORTED (a newer schema version), ODO_ERR_IO (no randomness). */
int odo_store_open(const struct odo_store_cfg *cfg, const struct odo_clock *clock,
		   struct odo_store **out) ODO_NODISCARD;
/* The same, with the reason of a failure in `why` (naming the file). With
 * cfg->key_file set every record is sealed (AES-256-GCM) with that key;
 * the outbox may also hold records in plaintext (from before) and sealed
 * with cfg->old_key_file's key (rotation): both are read until acknowledged.
 * Before anything is written, the key files are read (a missing file, a
 * mode giving group or others access, or not a key: ODO_ERR_NOTFOUND /
 * ODO_ERR_CONFIG / ODO_ERR_INVAL) and every key id the outbox holds must be
 * one of them, its oldest record authenticating (else ODO_ERR_CONFIG): a
 * wrong or missing key is refused and nothing in the outbox changes. */
int odo_store_open_why(const struct odo_store_cfg *cfg, const struct odo_clock *clock, struct odo_store **out,
		       char *why, size_t whysz) ODO_NODISCARD;

/* Store one record: assigns r->seq, fills r->t_ms from the real clock with
 * tsrc SYSTEM when r->t_ms is 0, encodes and inserts it, evicting by class
 * when a cap is reached. Crash records, trip starts and trip ends are
 * committed with a full fsync. A trip start opens its trip's checkpoint
 * (a trip that ends where it starts) and a trip end deletes it, each in the
 * same transaction as the record (odo_store_trip_checkpoint()).
 * Returns ODO_OK; ODO_ERR_FULL when the cap holds only records of higher
 * classes (the record is refused and counted) or the disk is full;
 * ODO_ERR_DB / ODO_ERR_IO for a failing write; ODO_ERR_INVAL for a record
 * that does not encode. On error r->seq is 0, nothing else changed, and the
 * handle stays usable. */
int odo_store_put(struct odo_store *st, struct odo_record *r) ODO_NODISCARD;

/* Pick the next batch of unsent records, at most max_records records and
 * max_bytes CBOR bytes (always at least one record), and mark them in
 * flight. A batch is a run of consecutive outbox records (no other
 * waiting record between first and last); see the header of this file.
 * Returns ODO_OK with b->n >= 1, ODO_ERR_NOTFOUND when nothing is unsent,
 * ODO_ERR_DB. */
int odo_store_next_batch(struct odo_store *st, size_t max_records, size_t max_bytes,
			 enum odo_store_pick pick, struct odo_store_batch *b) ODO_NODISCARD;

/* Mark records with first <= seq <= last unsent again (publish failed, ack
 * timed out, link lost). odo_store_requeue(st, 0, UINT64_MAX) for all. */
int odo_store_requeue(struct odo_store *st, uint64_t first, uint64_t last) ODO_NODISCARD;

/* The collector acknowledged n (of this outbox's epoch: the caller checks
 * the epoch): delete every record with seq <= n. An ack beyond the last seq
 * this outbox may have handed out (odo_store_last_seq()) is a protocol
 * error: nothing is deleted, it is counted (stats ack_errors) and
 * ODO_ERR_RANGE returned. An ack at or below the last one is harmless. */
int odo_store_ack(struct odo_store *st, uint64_t n) ODO_NODISCARD;

/* The last sequence number handed out; after an unclean stop, the durable
 * reservation (an upper bound of everything that may have been sent). */
uint64_t odo_store_last_seq(const struct odo_store *st);

/*
 * Trip identity and the open trip's checkpoint (docs/store-and-forward.md):
 *   odo_store_trip_next_id(): the next trip id of this outbox, persisted
 *       with a full sync before it is returned: never handed out twice,
 *       whatever happens to the process or the power. *id is set even when
 *       the write fails (ODO_ERR_*; unique within this run only).
 *   odo_store_trip_checkpoint(): replace the open trip's checkpoint with
 *       `trip_end` (the summary so far; full sync). ODO_ERR_NOTFOUND when
 *       the trip's start was never stored.
 *   odo_store_trip_recover(): at start-up, the checkpoint of a trip an
 *       unclean stop left open (end reason ODO_TRIP_END_RECOVERED, seq 0):
 *       store it (odo_store_put) to close it; ODO_ERR_NOTFOUND when none;
 *       ODO_ERR_PROTOCOL when unreadable (then dropped; trip_id says which).
 */
int odo_store_trip_next_id(struct odo_store *st, uint64_t *id) ODO_NODISCARD;
int odo_store_trip_checkpoint(struct odo_store *st, const struct odo_record *trip_end) ODO_NODISCARD;
int odo_store_trip_recover(struct odo_store *st, struct odo_record *trip_end) ODO_NODISCARD;

/* The outbox's epoch (wire "ep"). */
uint64_t odo_store_epoch(const struct odo_store *st);

/* Records waiting that are not in flight (cheap: no query). */
uint64_t odo_store_unsent(const struct odo_store *st);

/* Counters and gauges (one small query for the oldest record). */
int odo_store_stats(struct odo_store *st, struct odo_store_stats *s) ODO_NODISCARD;

/* Close; NULL is a no-op. Records the exact next sequence number durably
 * so that a clean restart leaves no gap. */
void odo_store_close(struct odo_store *st);

#endif
