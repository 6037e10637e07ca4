/*
 * odo-agent — the SQLite outbox. See store.h and docs/store-and-forward.md.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sqlite3.h>

#include <openssl/crypto.h>

const struct odo_cfg_key odo_store_cfg_keys[] = {
	ODO_CFG_S("path", struct odo_store_cfg, path, "/var/lib/odo/outbox.db",
		  "SQLite file of the outbox (WAL mode; -wal and -shm files beside it)"),
	ODO_CFG_I("max_bytes", struct odo_store_cfg, max_bytes, "67108864", 0, 1e12,
		  "cap on the stored record bytes (CBOR; sealed: 28 more per record), 0 = none; samples are evicted "
		  "first when it is reached"),
	ODO_CFG_I("max_records", struct odo_store_cfg, max_records, "1000000", 0, 1e12,
		  "cap on the stored records, 0 = none; samples are evicted first when it is reached"),
	ODO_CFG_S("key_file", struct odo_store_cfg, key_file, "",
		  "encryption at rest: AES-256 key file (64 hex digits, `openssl rand -hex 32`, mode 0600 or 0400, "
		  "else the agent refuses to start naming it); every record is then sealed with AES-256-GCM; "
		  "empty = records stored in plaintext (docs/store-and-forward.md \"Encryption at rest\")"),
	ODO_CFG_S("old_key_file", struct odo_store_cfg, old_key_file, "",
		  "the key being rotated out (same format): records sealed with it are still read and sent, "
		  "none is sealed with it; remove it once they are acknowledged (the agent logs how many)"),
};
const size_t odo_store_cfg_nkeys = ODO_ARRAY_LEN(odo_store_cfg_keys);

/* Every statement the handle keeps prepared. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_META_GET,
	S_META_SET,
	S_INSERT,
	S_VICTIM,
	S_DELETE_ONE,
	S_FIRST_CRASH,
	S_FIRST_UNSENT,
	S_LAST_UNSENT,
	S_WALK_FWD,
	S_WALK_BACK,
	S_PREV,
	S_MARK_SENT,
	S_REQUEUE,
	S_ACK_SUM,
	S_ACK_DELETE,
	S_OLDEST,
	S_TRIP_OPEN,
	S_TRIP_UPDATE,
	S_TRIP_CLOSE,
	S_TRIP_FIRST,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "UPDATE meta SET value = ?2 WHERE key = ?1",
	[S_INSERT] = "INSERT INTO outbox(seq, kind, prio, t_ms, tsrc, sent, body, kid) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)",
	[S_VICTIM] = "SELECT seq, length(body), sent FROM outbox WHERE prio <= ?1 ORDER BY prio, seq LIMIT 1",
	[S_DELETE_ONE] = "DELETE FROM outbox WHERE seq = ?1",
	[S_FIRST_CRASH] = "SELECT seq FROM outbox WHERE prio = 2 AND sent = 0 ORDER BY seq LIMIT 1",
	[S_FIRST_UNSENT] = "SELECT seq FROM outbox WHERE sent = 0 ORDER BY seq LIMIT 1",
	[S_LAST_UNSENT] = "SELECT seq FROM outbox WHERE sent = 0 ORDER BY seq DESC LIMIT 1",
	[S_WALK_FWD] = "SELECT seq, sent, prio, body, kind, t_ms, tsrc, kid FROM outbox WHERE seq >= ?1 ORDER BY seq",
	[S_WALK_BACK] = "SELECT seq, sent, length(body) FROM outbox WHERE seq <= ?1 ORDER BY seq DESC",
	[S_PREV] = "SELECT max(seq) FROM outbox WHERE seq < ?1",
	[S_MARK_SENT] = "UPDATE outbox SET sent = 1 WHERE seq BETWEEN ?1 AND ?2",
	[S_REQUEUE] = "UPDATE outbox SET sent = 0 WHERE sent = 1 AND seq BETWEEN ?1 AND ?2",
	/* One literal: clang's -Wstring-concatenation flags split ones in arrays. */
	[S_ACK_SUM] = "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(prio = 2), 0), coalesce(sum(sent), 0) FROM outbox WHERE seq <= ?1",
	[S_ACK_DELETE] = "DELETE FROM outbox WHERE seq <= ?1",
	[S_OLDEST] = "SELECT t_ms FROM outbox ORDER BY seq LIMIT 1",
	[S_TRIP_OPEN] = "INSERT OR REPLACE INTO trip_open(trip_id, body, kid) VALUES(?1, ?2, ?3)",
	[S_TRIP_UPDATE] = "UPDATE trip_open SET body = ?2, kid = ?3 WHERE trip_id = ?1",
	[S_TRIP_CLOSE] = "DELETE FROM trip_open WHERE trip_id = ?1",
	[S_TRIP_FIRST] = "SELECT trip_id, body, kid FROM trip_open ORDER BY trip_id LIMIT 1",
};

/* Schema version 3. Sequence numbers are the rowid (INTEGER PRIMARY KEY).
 * meta also holds 'epoch' (inserted with its random value by create()) and
 * 'trip_next'. trip_open holds the open trip's checkpoint: one encoded
 * trip_end record (end reason "recovered") per trip started and not ended.
 * kid: the id of the key a body is sealed with, 0 = plaintext (seal.c). */
static const char schema_v3[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES(3);"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta VALUES('seq_reserved', 0), ('evicted', 0), ('acked', 0), ('trip_next', 1);"
	"CREATE TABLE outbox("
	" seq INTEGER PRIMARY KEY,"
	" kind INTEGER NOT NULL,"
	" prio INTEGER NOT NULL,"
	" t_ms INTEGER NOT NULL,"
	" tsrc INTEGER NOT NULL,"
	" sent INTEGER NOT NULL DEFAULT 0,"
	" body BLOB NOT NULL,"
	" kid INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX outbox_prio ON outbox(prio, seq);"
	"CREATE INDEX outbox_sent ON outbox(sent, seq);"
	"CREATE TABLE trip_open(trip_id INTEGER PRIMARY KEY, body BLOB NOT NULL, kid INTEGER NOT NULL DEFAULT 0);";

/* Version 1 (the wire version 1 agent's) to 2, in place: the outbox keeps
 * its records and sequence numbers as epoch 0 (what a collector knew of
 * the device before epochs), and trip ids continue at 2^32, above every id
 * the version 1 agent handed out (it restarted them at 1 on every start). */
static const char migrate_v1_v2[] =
	"INSERT INTO meta VALUES('epoch', 0), ('trip_next', 4294967296);"
	"CREATE TABLE trip_open(trip_id INTEGER PRIMARY KEY, body BLOB NOT NULL);"
	"UPDATE schema_version SET version = 2;";

/* Version 2 to 3: the key id of every body; what is stored is plaintext. */
static const char migrate_v2_v3[] =
	"ALTER TABLE outbox ADD COLUMN kid INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE trip_open ADD COLUMN kid INTEGER NOT NULL DEFAULT 0;"
	"UPDATE schema_version SET version = 3;";

struct odo_store {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	const struct odo_clock *clock;
	uint64_t max_bytes, max_records;

	uint64_t epoch;     /* wire "ep": random, chosen when the file was created */
	uint64_t trip_next; /* next trip id (durable: persisted before it is handed out) */
	uint64_t next_seq;  /* next sequence number to hand out */
	uint64_t reserved;  /* durable: nothing <= reserved is ever handed out again */
	uint64_t acked;
	uint64_t evicted;   /* persistent counter */
	uint64_t depth, bytes, crash_depth, inflight;
	uint64_t rejected, write_errors, put, ack_errors;
	uint64_t plain_at_open, old_at_open, unreadable, resealed;

	struct store_seal *seal; /* NULL: records stored in plaintext */
	uint8_t rec_buf[ODO_WIRE_MAX_RECORD_BYTES];
	uint8_t trip_buf[ODO_WIRE_MAX_RECORD_BYTES]; /* the open trip's checkpoint */
	uint8_t seal_buf[ODO_WIRE_MAX_RECORD_BYTES + STORE_SEAL_OVERHEAD];
	uint8_t trip_seal_buf[ODO_WIRE_MAX_RECORD_BYTES + STORE_SEAL_OVERHEAD];
	uint8_t batch_buf[ODO_STORE_BATCH_BYTES_MAX];
};

int odo_store_prio_of(const struct odo_record *r)
{
	switch (r->kind) {
	case ODO_REC_SAMPLE:
	case ODO_REC_STATUS:
		return ODO_PRIO_SAMPLE;
	case ODO_REC_EVENT:
		return r->u.event.kind == ODO_EV_CRASH ? ODO_PRIO_CRASH : ODO_PRIO_NORMAL;
	case ODO_REC_CRASH_TRACE:
		return ODO_PRIO_CRASH;
	default:
		return ODO_PRIO_NORMAL;
	}
}

static int map_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return ODO_OK;
	case SQLITE_FULL:
		return ODO_ERR_FULL;
	case SQLITE_IOERR:
		return ODO_ERR_IO;
	case SQLITE_NOMEM:
		return ODO_ERR_NOMEM;
	default:
		return ODO_ERR_DB;
	}
}

/* Run a statement that returns no rows; reset it. */
static int run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? ODO_OK : map_sqlite(rc == SQLITE_ROW ? SQLITE_ERROR : rc);
}

static int64_t clamp_i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int meta_get(struct odo_store *st, const char *key, uint64_t *v)
{
	sqlite3_stmt *s = st->st[S_META_GET];
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t x = sqlite3_column_int64(s, 0);
		*v = x > 0 ? (uint64_t)x : 0;
		rc = ODO_OK;
	} else {
		rc = rc == SQLITE_DONE ? ODO_ERR_DB : map_sqlite(rc);
	}
	sqlite3_reset(s);
	return rc;
}

static int meta_set(struct odo_store *st, const char *key, uint64_t v)
{
	sqlite3_stmt *s = st->st[S_META_SET];
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clamp_i64(v));
	return run(s);
}

static int set_sync(struct odo_store *st, int full)
{
	/* Rare (crash records, sequence reservations): sqlite3_exec is fine here. */
	int rc = sqlite3_exec(st->db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
			      NULL, NULL, NULL);
	return map_sqlite(rc);
}

static void rollback(struct odo_store *st)
{
	(void)run(st->st[S_ROLLBACK]);
}

/* The disk is full (ENOSPC: SQLITE_FULL; a file-size limit, EFBIG: an
 * I/O error): fold the WAL into the database and truncate it, which
 * gives its space back to the file system (a WAL only shrinks this way).
 * The next write may then fit. */
static void recover_full(struct odo_store *st)
{
	(void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* A random epoch: 63 bits, never 0 (getrandom(2) blocks only until the
 * kernel's pool is first initialised, early in boot). */
static int new_epoch(uint64_t *epoch)
{
	do {
		uint64_t x = 0;
		ssize_t n;
		while ((n = getrandom(&x, sizeof(x), 0)) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(x))
			return ODO_ERR_IO;
		*epoch = x & (uint64_t)INT64_MAX;
	} while (*epoch == 0);
	return ODO_OK;
}

static int exec_tx(sqlite3 *db, const char *sql, uint64_t epoch, int with_epoch)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK && with_epoch) {
		sqlite3_stmt *s = NULL;
		rc = sqlite3_prepare_v2(db, "INSERT INTO meta VALUES('epoch', ?1)", -1, &s, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, (int64_t)epoch);
			rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		}
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return map_sqlite(rc);
	}
	return ODO_OK;
}

static int migrate(struct odo_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "SELECT version FROM schema_version", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		/* No table yet: a new file, a new epoch. Created in one
		 * transaction, committed with a full sync (set_sync FULL). */
		uint64_t epoch;
		if ((rc = new_epoch(&epoch)) != ODO_OK)
			return rc;
		if ((rc = set_sync(st, 1)) != ODO_OK)
			return rc;
		rc = exec_tx(st->db, schema_v3, epoch, 1);
		(void)set_sync(st, 0);
		return rc;
	}
	int64_t version = -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (version == 1 || version == 2) {
		if ((rc = set_sync(st, 1)) != ODO_OK)
			return rc;
		if (version == 1)
			rc = exec_tx(st->db, migrate_v1_v2, 0, 0);
		if (rc == ODO_OK)
			rc = exec_tx(st->db, migrate_v2_v3, 0, 0);
		(void)set_sync(st, 0);
		return rc;
	}
	if (version == ODO_STORE_SCHEMA_VERSION)
		return ODO_OK;
	if (version > ODO_STORE_SCHEMA_VERSION)
		return ODO_ERR_UNSUPPORTED;
	return ODO_ERR_DB;
}

static int load_state(struct odo_store *st)
{
	int rc;
	if ((rc = meta_get(st, "seq_reserved", &st->reserved)) != ODO_OK ||
	    (rc = meta_get(st, "evicted", &st->evicted)) != ODO_OK ||
	    (rc = meta_get(st, "acked", &st->acked)) != ODO_OK ||
	    (rc = meta_get(st, "epoch", &st->epoch)) != ODO_OK ||
	    (rc = meta_get(st, "trip_next", &st->trip_next)) != ODO_OK)
		return rc;
	if (st->trip_next == 0)
		st->trip_next = 1;

	sqlite3_stmt *s = NULL;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(prio = 2), 0), "
				"coalesce(max(seq), 0) FROM outbox",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_sqlite(rc);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return ODO_ERR_DB;
	}
	st->depth = (uint64_t)sqlite3_column_int64(s, 0);
	st->bytes = (uint64_t)sqlite3_column_int64(s, 1);
	st->crash_depth = (uint64_t)sqlite3_column_int64(s, 2);
	uint64_t max_seq = (uint64_t)sqlite3_column_int64(s, 3);
	sqlite3_finalize(s);

	/* Continue above the durable reservation: any number up to it may have
	 * been handed out (and sent) before a crash or power loss. */
	st->next_seq = st->reserved + 1;
	if (max_seq >= st->next_seq)
		st->next_seq = max_seq + 1;
	if (st->acked >= st->next_seq)
		st->next_seq = st->acked + 1;

	/* Nothing is in flight after a restart: everything waiting is resent. */
	rc = sqlite3_exec(st->db, "UPDATE outbox SET sent = 0 WHERE sent <> 0", NULL, NULL, NULL);
	return map_sqlite(rc);
}

static int check_wal(struct odo_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_sqlite(rc);
	int ok = sqlite3_step(s) == SQLITE_ROW &&
		 strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	return ok ? ODO_OK : ODO_ERR_DB;
}

static int quick_check(struct odo_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_sqlite(rc);
	int ok = sqlite3_step(s) == SQLITE_ROW &&
		 strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
	sqlite3_finalize(s);
	return ok ? ODO_OK : ODO_ERR_DB;
}

/* The schema version of an existing file; 0 for a new one. */
static int64_t file_version(struct odo_store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT version FROM schema_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* One table's key ids: each must be a key this handle holds and its oldest
 * body must authenticate with it. Reads only. */
static int check_kids(struct odo_store *st, const struct odo_store_cfg *cfg, uint64_t epoch, int trips, char *why,
		      size_t whysz)
{
	sqlite3_stmt *g = NULL, *one = NULL;
	int rc = sqlite3_prepare_v2(st->db,
				    trips ? "SELECT kid, count(*), min(trip_id) FROM trip_open GROUP BY kid"
					  : "SELECT kid, count(*), min(seq) FROM outbox GROUP BY kid",
				    -1, &g, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(st->db,
					trips ? "SELECT body, trip_id, 0, 0, 0, 0 FROM trip_open WHERE trip_id = ?1"
					      : "SELECT body, seq, kind, prio, tsrc, t_ms FROM outbox WHERE seq = ?1",
					-1, &one, NULL);
	const char *path = cfg->path;
	if (rc != SQLITE_OK) {
		sqlite3_finalize(g);
		snprintf(why, whysz, "outbox %s: %s", path, sqlite3_errmsg(st->db));
		return ODO_ERR_DB;
	}
	const char *what = trips ? "open trip checkpoint(s)" : "record(s)";
	rc = ODO_OK;
	while (rc == ODO_OK && sqlite3_step(g) == SQLITE_ROW) {
		uint32_t kid = (uint32_t)sqlite3_column_int64(g, 0);
		long long n = sqlite3_column_int64(g, 1);
		int64_t first = sqlite3_column_int64(g, 2);
		if (kid == 0)
			continue; /* plaintext: sealed in place after the migration (reseal) */
		if (!st->seal) {
			snprintf(why, whysz,
				 "outbox %s holds %lld %s sealed with key id %08x and [store] key_file is not set: "
				 "set it to that key's file (nothing was changed)",
				 path, n, what, kid);
			rc = ODO_ERR_CONFIG;
			break;
		}
		if (!store__seal_knows(st->seal, kid)) {
			snprintf(why, whysz,
				 "outbox %s holds %lld %s sealed with key id %08x, which is not the key in [store] "
				 "key_file %s (id %08x)%s%s: the wrong key file? (nothing was changed)",
				 path, n, what, kid, cfg->key_file, store__seal_kid(st->seal),
				 cfg->old_key_file[0] ? " or old_key_file " : "", cfg->old_key_file);
			rc = ODO_ERR_CONFIG;
			break;
		}
		if (kid != store__seal_kid(st->seal))
			st->old_at_open += (uint64_t)n; /* records and open trips' checkpoints */
		sqlite3_bind_int64(one, 1, first);
		if (sqlite3_step(one) == SQLITE_ROW) {
			uint8_t aad[STORE_AAD_MAX];
			size_t alen = trips ? store__aad_trip(aad, epoch, (uint64_t)first, kid)
					    : store__aad_row(aad, epoch, (uint64_t)first, sqlite3_column_int(one, 2),
							     sqlite3_column_int(one, 3), sqlite3_column_int(one, 4),
							     sqlite3_column_int64(one, 5), kid);
			const uint8_t *body = sqlite3_column_blob(one, 0);
			size_t blen = (size_t)sqlite3_column_bytes(one, 0), m = 0;
			if (!body || store__unseal(st->seal, kid, aad, alen, body, blen, st->rec_buf, sizeof st->rec_buf,
						   &m) != ODO_OK) {
				snprintf(why, whysz,
					 "outbox %s: %s %lld, sealed with key id %08x, does not authenticate with the key "
					 "of that id in %s: a wrong key file or a damaged outbox (nothing was changed)",
					 path, trips ? "trip checkpoint" : "record seq", (long long)first, kid,
					 kid == store__seal_kid(st->seal) ? cfg->key_file : cfg->old_key_file);
				rc = ODO_ERR_CONFIG;
			}
			OPENSSL_cleanse(st->rec_buf, sizeof st->rec_buf);
		}
		sqlite3_reset(one);
	}
	sqlite3_finalize(g);
	sqlite3_finalize(one);
	return rc;
}

/* Seal, in place, what an outbox holds in plaintext from before key_file
 * was set (records and open trips' checkpoints), in one transaction with
 * secure_delete on, then VACUUM (no free page keeps an old cell) and
 * truncate the WAL: no plaintext is left in the files (a flash card's
 * wear levelling may keep old blocks: docs/store-and-forward.md). Not fatal:
 * on failure they stay in plaintext until acknowledged (stats say how many). */
static void reseal(struct odo_store *st)
{
	sqlite3_stmt *q = NULL, *u = NULL;
	int ok = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM outbox WHERE kid = 0", -1, &q, NULL) == SQLITE_OK &&
		 sqlite3_step(q) == SQLITE_ROW;
	uint64_t plain = ok ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	q = NULL;
	ok = ok && sqlite3_prepare_v2(st->db, "SELECT count(*) FROM trip_open WHERE kid = 0", -1, &q, NULL) == SQLITE_OK &&
	     sqlite3_step(q) == SQLITE_ROW;
	uint64_t plain_trips = ok ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	q = NULL;
	st->plain_at_open = plain;
	if (!ok || plain + plain_trips == 0)
		return;
	uint32_t kid = store__seal_kid(st->seal);
	uint64_t done = 0, added = 0;
	/* once, at start-up: the page buffer is allocated here, not per record */
	enum { RESEAL_PAGE = 256, RESEAL_MAX = ODO_WIRE_MAX_RECORD_BYTES + STORE_SEAL_OVERHEAD };
	uint8_t *page = malloc((size_t)RESEAL_PAGE * RESEAL_MAX);
	int64_t ids[RESEAL_PAGE];
	size_t lens[RESEAL_PAGE];
	if (!page)
		return;
	(void)sqlite3_exec(st->db, "PRAGMA secure_delete=ON", NULL, NULL, NULL);
	ok = set_sync(st, 1) == ODO_OK && sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	for (int trips = 0; trips < 2 && ok; trips++) {
		ok = sqlite3_prepare_v2(st->db,
					trips ? "SELECT trip_id, 0, 0, 0, 0, body FROM trip_open WHERE kid = 0 AND trip_id > ?1"
						" ORDER BY trip_id LIMIT 256"
					      : "SELECT seq, kind, prio, tsrc, t_ms, body FROM outbox WHERE kid = 0 AND seq > ?1"
						" ORDER BY seq LIMIT 256",
					-1, &q, NULL) == SQLITE_OK &&
		     sqlite3_prepare_v2(st->db,
					trips ? "UPDATE trip_open SET body = ?2, kid = ?3 WHERE trip_id = ?1"
					      : "UPDATE outbox SET body = ?2, kid = ?3 WHERE seq = ?1",
					-1, &u, NULL) == SQLITE_OK;
		int64_t after = -1;
		for (int more = 1; ok && more;) {
			/* a page of rows sealed into `page`, then updated: no update under a running scan */
			int n = 0;
			size_t used = 0;
			sqlite3_bind_int64(q, 1, after);
			while (ok && n < RESEAL_PAGE && sqlite3_step(q) == SQLITE_ROW) {
				int64_t id = sqlite3_column_int64(q, 0);
				uint8_t aad[STORE_AAD_MAX];
				size_t alen = trips ? store__aad_trip(aad, st->epoch, (uint64_t)id, kid)
						    : store__aad_row(aad, st->epoch, (uint64_t)id, sqlite3_column_int(q, 1),
								     sqlite3_column_int(q, 2), sqlite3_column_int(q, 3),
								     sqlite3_column_int64(q, 4), kid);
				const uint8_t *body = sqlite3_column_blob(q, 5);
				size_t blen = (size_t)sqlite3_column_bytes(q, 5), slen = 0;
				ok = body && store__seal(st->seal, aad, alen, body, blen, page + used,
							 RESEAL_PAGE * RESEAL_MAX - used, &slen) == ODO_OK;
				ids[n] = id;
				lens[n++] = slen;
				used += slen;
				after = id;
			}
			sqlite3_reset(q);
			more = n == RESEAL_PAGE;
			used = 0;
			for (int k = 0; ok && k < n; k++) {
				sqlite3_bind_int64(u, 1, ids[k]);
				sqlite3_bind_blob(u, 2, page + used, (int)lens[k], SQLITE_STATIC);
				sqlite3_bind_int64(u, 3, kid);
				ok = run(u) == ODO_OK;
				sqlite3_clear_bindings(u);
				used += lens[k];
				if (!trips)
					added += STORE_SEAL_OVERHEAD, done++;
			}
		}
		sqlite3_finalize(q);
		sqlite3_finalize(u);
		q = u = NULL;
	}
	if (ok)
		ok = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok)
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	(void)set_sync(st, 0);
	if (ok) {
		st->bytes += added;
		st->resealed = done;
		/* the old cells: compact the file, then give the WAL's frames back */
		(void)sqlite3_exec(st->db, "VACUUM", NULL, NULL, NULL);
		(void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	(void)sqlite3_exec(st->db, "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
	OPENSSL_cleanse(page, (size_t)RESEAL_PAGE * RESEAL_MAX);
	free(page);
}

static int check_keys(struct odo_store *st, const struct odo_store_cfg *cfg, char *why, size_t whysz)
{
	sqlite3_stmt *s = NULL;
	uint64_t epoch = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'epoch'", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		epoch = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	int rc = check_kids(st, cfg, epoch, 0, why, whysz);
	return rc ? rc : check_kids(st, cfg, epoch, 1, why, whysz);
}

int odo_store_open(const struct odo_store_cfg *cfg, const struct odo_clock *clock, struct odo_store **out)
{
	char why[8];
	return odo_store_open_why(cfg, clock, out, why, sizeof why);
}

int odo_store_open_why(const struct odo_store_cfg *cfg, const struct odo_clock *clock, struct odo_store **out,
		       char *why, size_t whysz)
{
	if (why && whysz)
		why[0] = '\0';
	if (!cfg || !clock || !out || !why || whysz == 0 || cfg->path[0] == '\0' || cfg->max_bytes < 0 ||
	    cfg->max_records < 0)
		return ODO_ERR_INVAL;
	*out = NULL;
	if (cfg->old_key_file[0] && !cfg->key_file[0]) {
		snprintf(why, whysz, "[store] old_key_file is set without key_file: rotation reads the old key and "
				     "seals with the new one");
		return ODO_ERR_CONFIG;
	}
	struct odo_store *st = calloc(1, sizeof(*st));
	if (!st)
		return ODO_ERR_NOMEM;
	st->clock = clock;
	st->max_bytes = (uint64_t)cfg->max_bytes;
	st->max_records = (uint64_t)cfg->max_records;

	/* The keys first: a missing or unusable key file touches no file. */
	int rc = ODO_OK;
	if (cfg->key_file[0]) {
		struct store_key cur = { 0 }, old = { 0 };
		rc = store__key_load("[store] key_file", cfg->key_file, &cur, why, whysz);
		if (rc == ODO_OK && cfg->old_key_file[0])
			rc = store__key_load("[store] old_key_file", cfg->old_key_file, &old, why, whysz);
		if (rc == ODO_OK && cfg->old_key_file[0] && old.id == cur.id) {
			snprintf(why, whysz, "[store] old_key_file %s holds the same key as key_file %s", cfg->old_key_file,
				 cfg->key_file);
			rc = ODO_ERR_CONFIG;
		}
		if (rc == ODO_OK && (rc = store__seal_new(&cur, cfg->old_key_file[0] ? &old : NULL, &st->seal)) != ODO_OK)
			snprintf(why, whysz, "[store] key_file %s: OpenSSL cannot set up AES-256-GCM", cfg->key_file);
		OPENSSL_cleanse(&cur, sizeof cur);
		OPENSSL_cleanse(&old, sizeof old);
		if (rc != ODO_OK) {
			free(st);
			return rc;
		}
	}

	rc = map_sqlite(sqlite3_open_v2(cfg->path, &st->db,
					SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL));
	if (rc != ODO_OK) {
		rc = ODO_ERR_DB;
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* Short: the loop must not block on another process holding the file. */
	sqlite3_busy_timeout(st->db, 100);
	if ((rc = check_wal(st)) != ODO_OK)
		goto fail;
	/* NORMAL in WAL mode: a commit is atomic and the file consistent after
	 * power loss, but the last commits before the cut may roll back. The
	 * sequence reservation and crash records are committed with FULL. */
	if ((rc = set_sync(st, 0)) != ODO_OK)
		goto fail;
	sqlite3_exec(st->db, "PRAGMA journal_size_limit=4194304", NULL, NULL, NULL);
	if ((rc = quick_check(st)) != ODO_OK)
		goto fail;
	/* Every key id stored must be one of ours, before anything is written. */
	if (file_version(st) >= 3 && (rc = check_keys(st, cfg, why, whysz)) != ODO_OK)
		goto fail;
	if ((rc = migrate(st)) != ODO_OK)
		goto fail;
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL) !=
		    SQLITE_OK) {
			rc = ODO_ERR_DB;
			goto fail;
		}
	}
	if ((rc = load_state(st)) != ODO_OK)
		goto fail;
	if (st->seal)
		reseal(st);
	*out = st;
	return ODO_OK;
fail:
	if (!why[0])
		snprintf(why, whysz, "outbox %s: %s", cfg->path,
			 rc == ODO_ERR_UNSUPPORTED ? "written by a newer agent (schema version)" : odo_strerror(rc));
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	store__seal_free(st->seal);
	free(st);
	return rc;
}

static int over_cap(const struct odo_store *st, uint64_t depth, uint64_t bytes, size_t size)
{
	if (st->max_records && depth + 1 > st->max_records)
		return 1;
	if (st->max_bytes && bytes + size > st->max_bytes)
		return 1;
	return 0;
}

/* The checkpoint a trip starts with: a trip that ends where it started
 * (replaced by the engine's checkpoints as the trip goes on). */
static int trip_seed(struct odo_store *st, const struct odo_record *start, size_t *size)
{
	struct odo_record ck;
	odo_record_init(&ck, ODO_REC_TRIP_END);
	ck.seq = 1; /* the record is stored, not sent: its seq comes at recovery */
	ck.t_ms = start->t_ms;
	ck.tsrc = start->tsrc;
	ck.u.trip_end.trip_id = start->u.trip_start.trip_id;
	ck.u.trip_end.start_ms = ck.u.trip_end.end_ms = start->t_ms;
	ck.u.trip_end.end_reason = ODO_TRIP_END_RECOVERED;
	return odo_wire_encode_record(&ck, st->trip_buf, sizeof(st->trip_buf), size);
}

int odo_store_put(struct odo_store *st, struct odo_record *r)
{
	if (!st || !r)
		return ODO_ERR_INVAL;
	int prio = odo_store_prio_of(r);
	int trip_kind = r->kind == ODO_REC_TRIP_START || r->kind == ODO_REC_TRIP_END;
	if (r->t_ms == 0) {
		r->t_ms = odo_clock_real_ns(st->clock) / ODO_NS_PER_MS;
		r->tsrc = ODO_TSRC_SYSTEM;
	}
	uint64_t seq = st->next_seq;
	r->seq = seq;
	size_t size = 0;
	int rc = odo_wire_encode_record(r, st->rec_buf, sizeof(st->rec_buf), &size);
	size_t ck_size = 0;
	if (rc == ODO_OK && r->kind == ODO_REC_TRIP_START)
		rc = trip_seed(st, r, &ck_size);
	if (rc != ODO_OK) {
		r->seq = 0;
		return ODO_ERR_INVAL;
	}

	/* Sealed (issue 13 item 6): bound to this row (epoch, seq, kind, class,
	 * time, key id), so a body cannot be moved to another row. */
	const uint8_t *body = st->rec_buf, *ck_body = st->trip_buf;
	uint32_t kid = store__seal_kid(st->seal);
	if (st->seal) {
		uint8_t aad[STORE_AAD_MAX];
		size_t alen = store__aad_row(aad, st->epoch, seq, r->kind, prio, r->tsrc, r->t_ms, kid);
		rc = store__seal(st->seal, aad, alen, st->rec_buf, size, st->seal_buf, sizeof st->seal_buf, &size);
		if (rc == ODO_OK && ck_size) {
			alen = store__aad_trip(aad, st->epoch, r->u.trip_start.trip_id, kid);
			rc = store__seal(st->seal, aad, alen, st->trip_buf, ck_size, st->trip_seal_buf,
					 sizeof st->trip_seal_buf, &ck_size);
		}
		if (rc != ODO_OK) {
			st->write_errors++;
			r->seq = 0;
			return rc;
		}
		body = st->seal_buf;
		ck_body = st->trip_seal_buf;
	}

	int reserve = seq > st->reserved;
	uint64_t new_reserved = reserve ? seq + ODO_STORE_SEQ_BLOCK - 1 : st->reserved;
	/* Trip starts and ends are rare and carry the trip's identity: a power
	 * cut must not roll one back after it may have been sent. */
	int full_sync = reserve || prio == ODO_PRIO_CRASH || trip_kind;
	uint64_t depth = st->depth, bytes = st->bytes, inflight = st->inflight, evicted = 0;

	if (full_sync && (rc = set_sync(st, 1)) != ODO_OK)
		goto fail_nosync;
	if ((rc = run(st->st[S_BEGIN])) != ODO_OK)
		goto fail;
	if (reserve && (rc = meta_set(st, "seq_reserved", new_reserved)) != ODO_OK)
		goto fail_tx;

	/* Evict by class, oldest first: samples before anything else, other
	 * classes only for a record of at least their class, crash never. */
	int victim_max = prio < ODO_PRIO_NORMAL ? prio : ODO_PRIO_NORMAL;
	while (over_cap(st, depth, bytes, size)) {
		sqlite3_stmt *v = st->st[S_VICTIM];
		sqlite3_bind_int(v, 1, victim_max);
		int vrc = sqlite3_step(v);
		if (vrc != SQLITE_ROW) {
			sqlite3_reset(v);
			if (vrc != SQLITE_DONE) {
				rc = map_sqlite(vrc);
				goto fail_tx;
			}
			if (prio == ODO_PRIO_CRASH)
				break; /* crash records are kept even over the cap */
			rollback(st);
			if (full_sync)
				(void)set_sync(st, 0);
			st->rejected++;
			r->seq = 0;
			return ODO_ERR_FULL;
		}
		int64_t vseq = sqlite3_column_int64(v, 0);
		uint64_t vlen = (uint64_t)sqlite3_column_int64(v, 1);
		int vsent = sqlite3_column_int(v, 2);
		sqlite3_reset(v);
		sqlite3_bind_int64(st->st[S_DELETE_ONE], 1, vseq);
		if ((rc = run(st->st[S_DELETE_ONE])) != ODO_OK)
			goto fail_tx;
		depth--;
		bytes -= vlen;
		if (vsent && inflight)
			inflight--;
		evicted++;
	}
	if (evicted && (rc = meta_set(st, "evicted", st->evicted + evicted)) != ODO_OK)
		goto fail_tx;

	sqlite3_stmt *ins = st->st[S_INSERT];
	sqlite3_bind_int64(ins, 1, (int64_t)seq);
	sqlite3_bind_int(ins, 2, r->kind);
	sqlite3_bind_int(ins, 3, prio);
	sqlite3_bind_int64(ins, 4, r->t_ms);
	sqlite3_bind_int(ins, 5, r->tsrc);
	sqlite3_bind_blob(ins, 6, body, (int)size, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 7, kid);
	rc = run(ins);
	sqlite3_clear_bindings(ins);
	if (rc != ODO_OK)
		goto fail_tx;
	/* The open trip's checkpoint starts and ends with the trip, in the
	 * same transaction as its start / end record: a trip start always has
	 * a checkpoint to recover from, a stored trip end never leaves one. */
	if (r->kind == ODO_REC_TRIP_START) {
		sqlite3_stmt *t = st->st[S_TRIP_OPEN];
		sqlite3_bind_int64(t, 1, (int64_t)r->u.trip_start.trip_id);
		sqlite3_bind_blob(t, 2, ck_body, (int)ck_size, SQLITE_STATIC);
		sqlite3_bind_int64(t, 3, kid);
		rc = run(t);
		sqlite3_clear_bindings(t);
	} else if (r->kind == ODO_REC_TRIP_END) {
		sqlite3_bind_int64(st->st[S_TRIP_CLOSE], 1, (int64_t)r->u.trip_end.trip_id);
		rc = run(st->st[S_TRIP_CLOSE]);
	}
	if (rc != ODO_OK)
		goto fail_tx;
	if ((rc = run(st->st[S_COMMIT])) != ODO_OK)
		goto fail_tx;
	if (full_sync)
		(void)set_sync(st, 0);

	st->next_seq = seq + 1;
	st->reserved = new_reserved;
	st->depth = depth + 1;
	st->bytes = bytes + size;
	st->inflight = inflight;
	st->evicted += evicted;
	if (prio == ODO_PRIO_CRASH)
		st->crash_depth++;
	st->put++;
	return ODO_OK;

fail_tx:
	rollback(st);
fail:
	if (full_sync)
		(void)set_sync(st, 0);
fail_nosync:
	st->write_errors++;
	if (rc == ODO_ERR_FULL || rc == ODO_ERR_IO)
		recover_full(st);
	r->seq = 0;
	return rc;
}

static int first_seq(sqlite3_stmt *s, uint64_t *seq)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(s, 0);
		rc = ODO_OK;
	} else {
		rc = rc == SQLITE_DONE ? ODO_ERR_NOTFOUND : map_sqlite(rc);
	}
	sqlite3_reset(s);
	return rc;
}

/* Walk back from `last` over unsent records within the limits; the start of the run. */
static int run_start_back(struct odo_store *st, uint64_t last, size_t max_records, size_t max_bytes,
			  uint64_t *start)
{
	sqlite3_stmt *s = st->st[S_WALK_BACK];
	sqlite3_bind_int64(s, 1, (int64_t)last);
	size_t n = 0, bytes = 0;
	int rc;
	*start = last;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
		size_t len = (size_t)sqlite3_column_int64(s, 2);
		if (sqlite3_column_int(s, 1) != 0 || n >= max_records || (n > 0 && bytes + len > max_bytes))
			break;
		*start = seq;
		n++;
		bytes += len;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ODO_OK : map_sqlite(rc);
}

int odo_store_next_batch(struct odo_store *st, size_t max_records, size_t max_bytes, enum odo_store_pick pick,
			 struct odo_store_batch *b)
{
	if (!st || !b || max_records == 0)
		return ODO_ERR_INVAL;
	memset(b, 0, sizeof(*b));
	if (max_records > ODO_WIRE_MAX_RECORDS)
		max_records = ODO_WIRE_MAX_RECORDS;
	if (max_bytes == 0 || max_bytes > sizeof(st->batch_buf))
		max_bytes = sizeof(st->batch_buf);

again:
	b->crash = 0;
	uint64_t start = 0;
	int rc = ODO_ERR_NOTFOUND;
	if (st->crash_depth > 0 && pick != ODO_STORE_STRICT)
		rc = first_seq(st->st[S_FIRST_CRASH], &start);
	if (rc == ODO_OK) {
		b->crash = 1;
	} else if (rc != ODO_ERR_NOTFOUND) {
		return rc;
	} else if (pick == ODO_STORE_NEWEST) {
		uint64_t last = 0;
		if ((rc = first_seq(st->st[S_LAST_UNSENT], &last)) != ODO_OK)
			return rc;
		if ((rc = run_start_back(st, last, max_records, max_bytes, &start)) != ODO_OK)
			return rc;
	} else {
		if ((rc = first_seq(st->st[S_FIRST_UNSENT], &start)) != ODO_OK)
			return rc;
	}

	/* Collect consecutive unsent records from `start`. */
	sqlite3_stmt *s = st->st[S_WALK_FWD];
	sqlite3_bind_int64(s, 1, (int64_t)start);
	size_t n = 0, len = 0;
	uint64_t last = start;
	int64_t bad = 0; /* a sealed record that does not authenticate */
	int bad_prio = 0;
	size_t bad_len = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_int(s, 1) != 0 || n >= max_records)
			break;
		const uint8_t *body = sqlite3_column_blob(s, 3);
		size_t blen = (size_t)sqlite3_column_bytes(s, 3);
		uint32_t kid = (uint32_t)sqlite3_column_int64(s, 7);
		size_t plen = !kid ? blen : blen > STORE_SEAL_OVERHEAD ? blen - STORE_SEAL_OVERHEAD : 0;
		if (len + plen > max_bytes && n > 0)
			break;
		if (len + plen > sizeof(st->batch_buf) || !body)
			break; /* cannot happen: records are at most ODO_WIRE_MAX_RECORD_BYTES */
		int64_t seq = sqlite3_column_int64(s, 0);
		if (kid == 0) {
			memcpy(st->batch_buf + len, body, blen);
		} else {
			uint8_t aad[STORE_AAD_MAX];
			size_t alen = store__aad_row(aad, st->epoch, (uint64_t)seq, sqlite3_column_int(s, 4),
						     sqlite3_column_int(s, 2), sqlite3_column_int(s, 6),
						     sqlite3_column_int64(s, 5), kid);
			if (store__unseal(st->seal, kid, aad, alen, body, blen, st->batch_buf + len,
					  sizeof st->batch_buf - len, &plen) != ODO_OK) {
				bad = seq;
				bad_prio = sqlite3_column_int(s, 2);
				bad_len = blen;
				break;
			}
		}
		len += plen;
		last = (uint64_t)seq;
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return map_sqlite(rc);
	if (n == 0 && bad) {
		/* Tampered with or damaged (the keys were checked at open): it can
		 * never be sent; dropped and counted (stats unreadable), not retried. */
		sqlite3_bind_int64(st->st[S_DELETE_ONE], 1, bad);
		if ((rc = run(st->st[S_DELETE_ONE])) != ODO_OK) {
			st->write_errors++;
			return rc;
		}
		st->unreadable++;
		st->depth -= st->depth ? 1 : 0;
		st->bytes -= bad_len < st->bytes ? bad_len : st->bytes;
		if (bad_prio == ODO_PRIO_CRASH && st->crash_depth)
			st->crash_depth--;
		goto again;
	}
	if (n == 0)
		return ODO_ERR_NOTFOUND;

	/* Range start: just above the nearest waiting record below the batch
	 * (it exists and is not in this batch); with none, just above the last
	 * ack (everything below was acknowledged, evicted or never handed out). */
	uint64_t prev = 0;
	sqlite3_stmt *p = st->st[S_PREV];
	sqlite3_bind_int64(p, 1, (int64_t)start);
	if (sqlite3_step(p) == SQLITE_ROW && sqlite3_column_type(p, 0) != SQLITE_NULL)
		prev = (uint64_t)sqlite3_column_int64(p, 0);
	sqlite3_reset(p);
	uint64_t range = prev ? prev + 1 : st->acked + 1;
	if (range > start)
		range = start;

	sqlite3_stmt *m = st->st[S_MARK_SENT];
	sqlite3_bind_int64(m, 1, (int64_t)start);
	sqlite3_bind_int64(m, 2, (int64_t)last);
	if ((rc = run(m)) != ODO_OK) {
		st->write_errors++;
		return rc;
	}
	st->inflight += n;

	b->epoch = st->epoch;
	b->floor = st->acked;
	b->range_start = range;
	b->first = start;
	b->last = last;
	b->n = n;
	b->cbor = st->batch_buf;
	b->len = len;
	return ODO_OK;
}

int odo_store_requeue(struct odo_store *st, uint64_t first, uint64_t last)
{
	if (!st || first > last)
		return ODO_ERR_INVAL;
	sqlite3_stmt *s = st->st[S_REQUEUE];
	sqlite3_bind_int64(s, 1, clamp_i64(first));
	sqlite3_bind_int64(s, 2, clamp_i64(last));
	int rc = run(s);
	if (rc != ODO_OK) {
		st->write_errors++;
		return rc;
	}
	uint64_t ch = (uint64_t)sqlite3_changes(st->db);
	st->inflight = st->inflight > ch ? st->inflight - ch : 0;
	return ODO_OK;
}

static int ack_once(struct odo_store *st, uint64_t n);

int odo_store_ack(struct odo_store *st, uint64_t n)
{
	if (!st)
		return ODO_ERR_INVAL;
	if (n > st->next_seq - 1) {
		/* Beyond everything this outbox may have handed out: the ack
		 * belongs to another outbox (or a confused collector). Deleting
		 * "up to n" would delete records never acknowledged. */
		st->ack_errors++;
		return ODO_ERR_RANGE;
	}
	if (n <= st->acked)
		return ODO_OK;
	int rc = ack_once(st, n);
	if (rc == ODO_ERR_FULL || rc == ODO_ERR_IO) {
		/* Deleting needs WAL space too: free the WAL and try once more. */
		recover_full(st);
		rc = ack_once(st, n);
	}
	return rc;
}

static int ack_once(struct odo_store *st, uint64_t n)
{
	int rc;
	if ((rc = run(st->st[S_BEGIN])) != ODO_OK)
		goto fail;
	sqlite3_stmt *s = st->st[S_ACK_SUM];
	sqlite3_bind_int64(s, 1, (int64_t)n);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		rc = ODO_ERR_DB;
		goto fail_tx;
	}
	uint64_t cnt = (uint64_t)sqlite3_column_int64(s, 0);
	uint64_t bytes = (uint64_t)sqlite3_column_int64(s, 1);
	uint64_t crash = (uint64_t)sqlite3_column_int64(s, 2);
	uint64_t sent = (uint64_t)sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	sqlite3_bind_int64(st->st[S_ACK_DELETE], 1, (int64_t)n);
	if ((rc = run(st->st[S_ACK_DELETE])) != ODO_OK)
		goto fail_tx;
	if ((rc = meta_set(st, "acked", n)) != ODO_OK)
		goto fail_tx;
	if ((rc = run(st->st[S_COMMIT])) != ODO_OK)
		goto fail_tx;
	st->acked = n;
	st->depth -= cnt < st->depth ? cnt : st->depth;
	st->bytes -= bytes < st->bytes ? bytes : st->bytes;
	st->crash_depth -= crash < st->crash_depth ? crash : st->crash_depth;
	st->inflight -= sent < st->inflight ? sent : st->inflight;
	return ODO_OK;
fail_tx:
	rollback(st);
fail:
	st->write_errors++;
	return rc;
}

uint64_t odo_store_epoch(const struct odo_store *st)
{
	return st ? st->epoch : 0;
}

uint64_t odo_store_last_seq(const struct odo_store *st)
{
	return st ? st->next_seq - 1 : 0;
}

int odo_store_trip_next_id(struct odo_store *st, uint64_t *id)
{
	if (!st || !id)
		return ODO_ERR_INVAL;
	*id = st->trip_next++;
	/* Durable before the id is used: a power cut must never hand it out
	 * again. One full sync per trip. */
	int rc = set_sync(st, 1);
	if (rc == ODO_OK) {
		rc = meta_set(st, "trip_next", st->trip_next);
		(void)set_sync(st, 0);
	}
	if (rc != ODO_OK) {
		/* Still never reused in this run; a restart before the next
		 * successful write could reuse it (logged by the caller). */
		st->write_errors++;
		if (rc == ODO_ERR_FULL || rc == ODO_ERR_IO)
			recover_full(st);
	}
	return rc;
}

int odo_store_trip_checkpoint(struct odo_store *st, const struct odo_record *trip_end)
{
	if (!st || !trip_end || trip_end->kind != ODO_REC_TRIP_END)
		return ODO_ERR_INVAL;
	struct odo_record ck = *trip_end;
	ck.seq = 1; /* a stored checkpoint, not a sent record */
	ck.u.trip_end.end_reason = ODO_TRIP_END_RECOVERED;
	size_t size = 0;
	if (odo_wire_encode_record(&ck, st->trip_buf, sizeof(st->trip_buf), &size) != ODO_OK)
		return ODO_ERR_INVAL;
	const uint8_t *body = st->trip_buf;
	uint32_t kid = store__seal_kid(st->seal);
	if (st->seal) {
		uint8_t aad[STORE_AAD_MAX];
		size_t alen = store__aad_trip(aad, st->epoch, ck.u.trip_end.trip_id, kid);
		int src = store__seal(st->seal, aad, alen, st->trip_buf, size, st->trip_seal_buf,
				      sizeof st->trip_seal_buf, &size);
		if (src != ODO_OK)
			return src;
		body = st->trip_seal_buf;
	}
	int rc = set_sync(st, 1);
	if (rc != ODO_OK)
		return rc;
	sqlite3_stmt *u = st->st[S_TRIP_UPDATE];
	sqlite3_bind_int64(u, 1, (int64_t)ck.u.trip_end.trip_id);
	sqlite3_bind_blob(u, 2, body, (int)size, SQLITE_STATIC);
	sqlite3_bind_int64(u, 3, kid);
	rc = run(u);
	sqlite3_clear_bindings(u);
	(void)set_sync(st, 0);
	if (rc != ODO_OK) {
		st->write_errors++;
		if (rc == ODO_ERR_FULL || rc == ODO_ERR_IO)
			recover_full(st);
		return rc;
	}
	return sqlite3_changes(st->db) == 1 ? ODO_OK : ODO_ERR_NOTFOUND;
}

int odo_store_trip_recover(struct odo_store *st, struct odo_record *trip_end)
{
	if (!st || !trip_end)
		return ODO_ERR_INVAL;
	sqlite3_stmt *q = st->st[S_TRIP_FIRST];
	int rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return rc == SQLITE_DONE ? ODO_ERR_NOTFOUND : map_sqlite(rc);
	}
	int64_t id = sqlite3_column_int64(q, 0);
	const uint8_t *body = sqlite3_column_blob(q, 1);
	size_t len = (size_t)sqlite3_column_bytes(q, 1);
	uint32_t kid = (uint32_t)sqlite3_column_int64(q, 2);
	if (body && kid) {
		uint8_t aad[STORE_AAD_MAX];
		size_t alen = store__aad_trip(aad, st->epoch, (uint64_t)id, kid);
		if (store__unseal(st->seal, kid, aad, alen, body, len, st->trip_buf, sizeof st->trip_buf, &len) == ODO_OK)
			body = st->trip_buf;
		else
			body = NULL;
	}
	rc = body ? odo_wire_decode_record(body, len, trip_end, NULL) : ODO_ERR_WIRE_MALFORMED;
	sqlite3_reset(q);
	if (rc != ODO_OK || trip_end->kind != ODO_REC_TRIP_END || trip_end->u.trip_end.trip_id != (uint64_t)id) {
		/* Unreadable: drop it (the caller logs), never loop on it. */
		odo_record_init(trip_end, ODO_REC_TRIP_END);
		trip_end->u.trip_end.trip_id = (uint64_t)id;
		sqlite3_bind_int64(st->st[S_TRIP_CLOSE], 1, id);
		(void)run(st->st[S_TRIP_CLOSE]);
		return ODO_ERR_PROTOCOL;
	}
	trip_end->seq = 0;
	trip_end->off = trip_end->len = 0;
	trip_end->u.trip_end.end_reason = ODO_TRIP_END_RECOVERED;
	return ODO_OK;
}

uint64_t odo_store_unsent(const struct odo_store *st)
{
	if (!st)
		return 0;
	return st->depth > st->inflight ? st->depth - st->inflight : 0;
}

int odo_store_stats(struct odo_store *st, struct odo_store_stats *s)
{
	if (!st || !s)
		return ODO_ERR_INVAL;
	memset(s, 0, sizeof(*s));
	s->depth = st->depth;
	s->bytes = st->bytes;
	s->crash_depth = st->crash_depth;
	s->inflight = st->inflight;
	s->evicted = st->evicted;
	s->rejected = st->rejected;
	s->write_errors = st->write_errors;
	s->put = st->put;
	s->last_seq = st->next_seq - 1;
	s->seq_reserved = st->reserved;
	s->acked = st->acked;
	s->epoch = st->epoch;
	s->trip_next = st->trip_next;
	s->ack_errors = st->ack_errors;
	s->key_id = store__seal_kid(st->seal);
	s->plain_at_open = st->plain_at_open;
	s->resealed_at_open = st->resealed;
	s->old_key_at_open = st->old_at_open;
	s->unreadable = st->unreadable;
	sqlite3_stmt *q = st->st[S_OLDEST];
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		s->oldest_t_ms = sqlite3_column_int64(q, 0);
		int64_t now_ms = odo_clock_real_ns(st->clock) / ODO_NS_PER_MS;
		if (now_ms > s->oldest_t_ms)
			s->oldest_age_s = (uint64_t)(now_ms - s->oldest_t_ms) / 1000;
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ODO_OK : map_sqlite(rc);
}

void odo_store_close(struct odo_store *st)
{
	if (!st)
		return;
	/* Clean shutdown: record exactly where numbering stopped, durably, so a
	 * restart continues without a gap. Failure only costs a gap. */
	uint64_t on_disk = 0;
	if (st->st[S_META_SET] && st->next_seq - 1 != st->reserved && meta_get(st, "seq_reserved", &on_disk) == ODO_OK &&
	    on_disk == st->reserved && set_sync(st, 1) == ODO_OK) {
		(void)meta_set(st, "seq_reserved", st->next_seq - 1);
		(void)set_sync(st, 0);
	}
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	store__seal_free(st->seal);
	/* the last records' plaintext */
	OPENSSL_cleanse(st->rec_buf, sizeof st->rec_buf);
	OPENSSL_cleanse(st->trip_buf, sizeof st->trip_buf);
	OPENSSL_cleanse(st->batch_buf, sizeof st->batch_buf);
	free(st);
}
