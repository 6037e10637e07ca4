/*
 * odo-collector — what the writer's files share (private; see writer.h):
 * writer.c owns the queue, the connection and the state machine; group.c
 * builds and sends the pipelines from the statements in sql.h.
 */
#ifndef ODO_COLLECTOR_WRITER_INT_H
#define ODO_COLLECTOR_WRITER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "alert/rules.h"
#include "pg/pgarray.h"
#include "pg/writer.h"

#define PGW_RETRY_MS 1000          /* between connection attempts */
#define PGW_BACKOFF_MIN_MS 200     /* first retry after an environment failure ... */
#define PGW_BACKOFF_MAX_MS 30000   /* ... doubling up to this */
#define PGW_CATALOG_MS 60000       /* re-read which partitions exist (maintain may have run) */
#define PGW_ERRMSG 256             /* server message kept per failed transaction */
#define PGW_RECBUF 8192            /* one record re-encoded (when the decoder gave no byte span) */

/* A record PostgreSQL refused on its own (found record by record). */
struct pgw_fail {
	size_t index;
	char state[6];
	char msg[PGW_ERRMSG];
};

enum item_kind { IT_BATCH, IT_DEAD };
/* How far a message went down the failure path (never back up). */
enum item_stage {
	ST_GROUP,   /* with others */
	ST_SOLO,    /* alone, after a data error in a group */
	ST_ISOLATE, /* record by record, after a data error alone */
	ST_SETTLE,  /* isolated: only its range, dead letters and ack left */
};

/* One queued message: the bytes received plus what the writer needs
 * without decoding them again. */
struct item {
	struct item *next;
	enum item_kind kind;
	enum item_stage stage;
	char *topic;
	uint8_t *raw;
	size_t len;
	size_t bytes;              /* what it counts against max_queue_bytes */
	char tdev[ODO_DEVICE_ID_MAX + 1];
	int64_t queued_ms;
	/* IT_DEAD */
	struct odo_wire_error err;
	const char *reason;        /* dead_letters.reason: "decode" or "range" */
	char sqlstate[6];
	/* IT_BATCH: the validated header; the records are decoded again from raw */
	uint32_t v;
	uint64_t epoch, floor, seq, last_seq;
	size_t n;                  /* records the decoder accepted */
	int64_t now_ms;            /* the decoder's time window, to decode again alike */
	size_t nbad;
	struct odo_wire_bad *bad;  /* records the decoder refused alone: dead-lettered with the range */
	size_t nfail;
	struct pgw_fail *fail;
};

/* The column sets of one pipeline, one per statement. */
enum { C_EPOCHS, C_SAMPLES, C_TRACKS, C_TRACK_PTS, C_EVENTS, C_DTC, C_VEH, C_PHONE, C_STATUS, C_CRASH,
       C_CRASH_PTS, C_QUAR, C_TSTART, C_TEND, C_ALERTS, C_BATCH, C_DEAD, C_ARRIVE, C__N };
/* Scratch text buffers. */
enum { X_DTC, X_DEVICES, X__N };

/* PK_REFRESH: every marked (driver, month) in one statement; after it failed on
 * the data, PK_REFRESH_PAIRS reads the marked pairs and PK_REFRESH_ONE
 * refreshes them one per transaction. */
enum pipe_kind { PK_NONE, PK_GROUP, PK_ISOLATE, PK_CATALOG, PK_REFRESH, PK_REFRESH_PAIRS, PK_REFRESH_ONE };
/* What a statement's result is kept for (until its transaction's Sync). */
enum { R_NONE, R_CONFLICT, R_LOST, R_ACK, R_PARTS, R_DEAD, R_QUAR, R_PAIRS, R_RULES, R_ALERTS, R_DROPS };

/* One transaction (statements up to a Sync) of the pipeline in flight. */
struct pgw_unit {
	int failed;
	char state[6];
	char msg[PGW_ERRMSG];
	size_t rec;                /* PK_ISOLATE: the record's index in its batch ... */
	int quar;                  /* ... and whether it went to quarantine */
};

struct pgw_kept {
	size_t unit;
	int tag;
	PGresult *r;
};

/* Month partitions that exist, per partitioned table (yyyy*100+mm, sorted). */
enum { PART_SAMPLES, PART_TRACKS, PART__N };
struct pgw_months {
	int *m;
	size_t n, cap;
};

struct odo_pgw {
	struct odo_pgw_opts o;
	char *conninfo, *password, *name, *user, *options;
	odo_pgw_ack_fn ack;
	void *ctx;
	PGconn *conn;
	enum { W_DOWN, W_CONNECTING, W_IDLE, W_BUSY } state;
	int connect_wants_write;
	int64_t next_connect_ms;
	struct item *head, *tail;  /* waiting */
	size_t nq, qrows, qbytes;  /* qbytes counts waiting and in-flight items */
	struct item *fl;           /* in flight */
	size_t fl_n;
	int64_t next_refresh_ms;
	int refresh_isolate;       /* the last refresh failed on the data: pair by pair next */
	char **rpairs;             /* PK_REFRESH_ONE: driver_id, month of each pair (2 per pair) */
	size_t nrpairs;
	int64_t hold_until_ms;     /* no new group before (backoff) */
	int env_streak;            /* consecutive environment failures */
	/* the pipeline in flight */
	enum pipe_kind pk;
	int *tags;                 /* per statement sent */
	size_t ntags, tags_cap, nres;
	struct pgw_unit *units;    /* per Sync */
	size_t nunits, units_cap, unit_done;
	struct pgw_kept *kept;
	size_t nkept, kept_cap;
	/* what the group in flight did, counted when it commits */
	size_t g_records;
	/* partitions */
	struct pgw_months parts[PART__N];
	int parts_loaded;
	int64_t next_catalog_ms;
	/* building */
	struct odo_batch *scratch; /* one decoded message */
	uint8_t recbuf[PGW_RECBUF];
	struct odo_pgcols cs[C__N];
	struct odo_pgbuf extra[X__N];
	struct odo_pgw_stats st;
	/* the record times of the group in flight, for hooks->committed
	 * (lag_n (size_t)-1: not known, out of memory) */
	int64_t *lag_t;
	size_t lag_n, lag_cap;
	/* alerts: the enabled rules, and the candidates of the pipeline being
	 * built (for the cooldown within one transaction) */
	struct odo_alert_rules rules;
	struct pgw_alert_cand *cand;
	size_t ncand, cand_cap;
	struct odo_pgbuf details;
};

/* An alert of the pipeline being built (one per transaction unit). */
struct pgw_alert_cand {
	const char *dev;           /* the item's device (valid while the pipeline is built) */
	size_t rule;
	int64_t t_ms;
	size_t unit;               /* the transaction it belongs to */
};

/* group.c: take the next group off the queue into w->fl and send it (a
 * group, one message record by record, or one message's settlement).
 * ODO_ERR_DB when the connection failed (the caller resets it). */
int pgw__send_group(struct odo_pgw *w) ODO_NODISCARD;
/* group.c: send the query of which partitions exist. */
int pgw__send_catalog(struct odo_pgw *w) ODO_NODISCARD;
/* group.c: take the catalog result into w->parts. */
void pgw__take_catalog(struct odo_pgw *w, const PGresult *r);
/* group.c: take the enabled alert rules (bad rows logged, counted). */
void pgw__take_rules(struct odo_pgw *w, const PGresult *r);
/* group.c: one statement of the current pipeline, its result kept for `tag`. */
int pgw__send_q(struct odo_pgw *w, int tag, const char *sql, int n, const char *const *vals, const int *lens,
		const int *fmts) ODO_NODISCARD;
/* group.c: end the current transaction of the pipeline (Sync). */
int pgw__sync(struct odo_pgw *w, size_t rec) ODO_NODISCARD;
/* group.c: the decoded records of an item, into w->scratch. */
int pgw__decode(struct odo_pgw *w, const struct item *it) ODO_NODISCARD;

/* group.c: note the time of a record the group writes (for the hooks). */
void pgw__note_time(struct odo_pgw *w, int64_t t_ms);

/* writer.c */
void pgw__item_free(struct item *it);
size_t pgw__item_bytes(const struct item *it);
/* Put items (a list) back at the head of the queue. */
void pgw__requeue(struct odo_pgw *w, struct item *list);

#endif
