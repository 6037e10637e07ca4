/*
 * odo-collector — what the writer's files share (private; see writer.h):
 * writer.c owns the queue, the connection and the state machine; group.c
 * builds and sends one group's pipeline from the statements in sql.h.
 */
#ifndef ODO_COLLECTOR_WRITER_INT_H
#define ODO_COLLECTOR_WRITER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pg/pgarray.h"
#include "pg/writer.h"

#define PGW_RETRY_MS      1000 /* between connection attempts */
#define PGW_RETRY_HOLD_MS 200  /* before retrying a group after a transient error */
#define PGW_MAX_QUERIES   32   /* statements in one pipeline */
#define PGW_MONTH_CACHE   256  /* sample partitions known to exist */

/* One queued message: a decoded batch, or a dead letter (b == NULL). */
struct item {
	struct item *next;
	struct odo_batch *b; /* NULL for a dead letter */
	char *topic;
	uint8_t *raw;
	size_t len;
	struct odo_wire_error err; /* dead letters */
	char tdev[ODO_DEVICE_ID_MAX + 1];
	int64_t queued_ms;
};

/* The column sets of one group, one per statement. */
enum { C_SAMPLES, C_EVENTS, C_DTC, C_VEH, C_PHONE, C_STATUS, C_TSTART, C_TEND, C_BATCH, C_DEAD, C__N };
/* Scratch text buffers of one group. */
enum { X_DTC, X_TEND_KEYS, X_DIRTY_IDS, X_DEVICES, X_TSTART_KEYS, X__N };

struct odo_pgw {
	struct odo_pgw_opts o;
	char *conninfo, *password, *name;
	odo_pgw_ack_fn ack;
	void *ctx;
	PGconn *conn;
	enum { W_DOWN, W_CONNECTING, W_IDLE, W_BUSY } state;
	int connect_wants_write;
	int64_t next_connect_ms;
	struct item *head, *tail; /* waiting */
	size_t nq, qrows;
	struct item *fl; /* in flight */
	size_t fl_n;
	int solo;       /* retry batch by batch after a data error */
	int is_refresh; /* the in-flight pipeline is a feature refresh */
	int64_t next_refresh_ms;
	int64_t hold_until_ms; /* no new group before (after a failure) */
	/* pipeline bookkeeping */
	int nsent, nres, failed, ack_idx;
	char errstate[6];
	char errmsg[512];
	PGresult *ackres;
	int pending_months[PGW_MONTH_CACHE], npending_months;
	int months[PGW_MONTH_CACHE], nmonths;
	struct odo_pgcols cs[C__N];
	struct odo_pgbuf extra[X__N];
	struct odo_pgw_stats st;
};

/* group.c: take a group off the queue (into w->fl) and send it as one
 * pipeline ending in Sync. ODO_ERR_DB when the connection failed. */
int pgw__send_group(struct odo_pgw *w) ODO_NODISCARD;
/* group.c: send one statement of the current pipeline. */
int pgw__send_q(struct odo_pgw *w, const char *sql, int n, const char *const *vals, const int *lens,
                const int *fmts) ODO_NODISCARD;

#endif
