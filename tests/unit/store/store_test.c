/*
 * Unit tests of the SQLite outbox (agent/store): real SQLite files in a
 * temporary directory, a virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

#define T0_NS (1700000000LL * ODO_NS_PER_S)

struct fx {
	char dir[64];
	struct odo_store_cfg cfg;
	struct odo_clock clock;
	struct odo_store *st;
	struct odo_record recs[ODO_WIRE_MAX_RECORDS];
	uint8_t msg[ODO_WIRE_MAX_MESSAGE];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/odo-store-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cfg.path, sizeof(f->cfg.path), "%s/outbox.db", f->dir);
	odo_clock_init_virtual(&f->clock, T0_NS, 1000 * ODO_NS_PER_S);
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	odo_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	odo_store_close(f->st);
	f->st = NULL;
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
}

static struct odo_record mk(enum odo_record_kind kind, uint64_t tag)
{
	struct odo_record r;
	odo_record_init(&r, kind);
	if (kind == ODO_REC_SAMPLE) {
		r.u.sample.trip_id = tag;
		r.u.sample.fix = ODO_FIX_3D;
		r.u.sample.lat = 48.1;
		r.u.sample.lon = 11.5;
		r.u.sample.speed_mps = 10.0;
	} else if (kind == ODO_REC_EVENT) {
		r.u.event.trip_id = tag;
		r.u.event.kind = ODO_EV_HARD_BRAKE;
		r.u.event.source = ODO_EVSRC_ACCEL;
		r.u.event.duration_ms = 800;
		r.u.event.peak_g = -0.5;
		r.u.event.mean_g = -0.4;
	} else if (kind == ODO_REC_TRIP_START) {
		r.u.trip_start.trip_id = tag;
	}
	return r;
}

static struct odo_record mk_crash(uint64_t tag)
{
	struct odo_record r = mk(ODO_REC_EVENT, tag);
	r.u.event.kind = ODO_EV_CRASH;
	r.u.event.source = ODO_EVSRC_ACCEL_AIRBAG;
	r.u.event.peak_g = -6.0;
	r.u.event.mean_g = -3.0;
	return r;
}

static uint64_t put(struct fx *f, struct odo_record r)
{
	assert_int_equal(odo_store_put(f->st, &r), ODO_OK);
	assert_true(r.seq >= 1);
	return r.seq;
}

static uint64_t tag_of(const struct odo_record *r)
{
	switch (r->kind) {
	case ODO_REC_SAMPLE:
		return r->u.sample.trip_id;
	case ODO_REC_EVENT:
		return r->u.event.trip_id;
	case ODO_REC_TRIP_START:
		return r->u.trip_start.trip_id;
	default:
		return 0;
	}
}

/* Take a batch, wrap it as the uplink does and decode it as the collector does. */
static struct odo_batch take(struct fx *f, size_t max_records, size_t max_bytes, enum odo_store_pick pick,
			     struct odo_store_batch *sb)
{
	assert_int_equal(odo_store_next_batch(f->st, max_records, max_bytes, pick, sb), ODO_OK);
	size_t len = 0;
	assert_int_equal(odo_wire_encode_batch_raw("dev-1", sb->epoch, sb->floor, sb->range_start, sb->n, sb->cbor,
						   sb->len, f->msg, sizeof(f->msg), &len),
			 ODO_OK);
	struct odo_batch b = { .recs = f->recs, .cap = ODO_ARRAY_LEN(f->recs) };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(f->msg, len, NULL, &b, &err), ODO_OK);
	assert_int_equal(b.n, sb->n);
	assert_int_equal(b.seq, sb->range_start);
	assert_true(b.epoch == odo_store_epoch(f->st) && b.floor == sb->floor && b.floor < b.seq);
	assert_int_equal(b.recs[0].seq, sb->first);
	assert_int_equal(b.recs[b.n - 1].seq, sb->last);
	return b;
}

static void test_seq_increasing_and_persistent(void **state)
{
	struct fx *f = *state;
	uint64_t prev = 0;
	for (int i = 0; i < 10; i++) {
		uint64_t s = put(f, mk(ODO_REC_SAMPLE, (uint64_t)i));
		assert_true(s > prev);
		prev = s;
	}
	assert_int_equal(prev, 10);
	/* A clean close records where numbering stopped: no gap. */
	reopen(f);
	assert_int_equal(put(f, mk(ODO_REC_SAMPLE, 99)), 11);
	/* The wall clock jumps back a year: numbering does not care. */
	odo_clock_set_real(&f->clock, T0_NS - 365LL * 86400 * ODO_NS_PER_S);
	struct odo_record r = mk(ODO_REC_SAMPLE, 100);
	assert_int_equal(odo_store_put(f->st, &r), ODO_OK);
	assert_int_equal(r.seq, 12);
	assert_int_equal(r.t_ms, (T0_NS - 365LL * 86400 * ODO_NS_PER_S) / ODO_NS_PER_MS);
	assert_int_equal(r.tsrc, ODO_TSRC_SYSTEM);
	/* Even after every record is acknowledged and deleted. */
	assert_int_equal(odo_store_ack(f->st, 12), ODO_OK);
	reopen(f);
	assert_int_equal(put(f, mk(ODO_REC_SAMPLE, 101)), 13);
}

static void test_seq_after_crash_skips_reservation(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 5; i++)
		put(f, mk(ODO_REC_SAMPLE, (uint64_t)i));
	odo_store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A child that stores 3 records and is killed without closing. */
		struct odo_store *c = NULL;
		if (odo_store_open(&f->cfg, &f->clock, &c) != ODO_OK)
			_exit(2);
		struct odo_record r = mk(ODO_REC_SAMPLE, 50);
		for (int i = 0; i < 3; i++)
			if (odo_store_put(c, &r) != ODO_OK)
				_exit(3);
		if (r.seq != 8)
			_exit(4);
		raise(SIGKILL); /* die like a power cut of the process: no close */
		_exit(5);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* The unclean exit left the durable reservation: numbering continues above it. */
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 8);
	uint64_t seq = put(f, mk(ODO_REC_SAMPLE, 60));
	assert_true(seq > 8);
	assert_true(seq > ODO_STORE_SEQ_BLOCK);
}

static void test_time_source(void **state)
{
	struct fx *f = *state;
	struct odo_record r = mk(ODO_REC_SAMPLE, 1);
	r.t_ms = 1650000000123LL;
	r.tsrc = ODO_TSRC_GPS;
	assert_int_equal(odo_store_put(f->st, &r), ODO_OK);
	assert_int_equal(r.t_ms, 1650000000123LL);
	assert_int_equal(r.tsrc, ODO_TSRC_GPS);
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 10, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.recs[0].t_ms, 1650000000123LL);
	assert_int_equal(b.recs[0].tsrc, ODO_TSRC_GPS);
}

static void test_eviction_by_class(void **state)
{
	struct fx *f = *state;
	odo_store_close(f->st);
	f->st = NULL;
	f->cfg.max_records = 10;
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);

	uint64_t crash = put(f, mk_crash(1000));
	for (uint64_t i = 0; i < 4; i++)
		put(f, mk(ODO_REC_EVENT, 500 + i));
	for (uint64_t i = 0; i < 20; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 10);
	assert_int_equal(s.evicted, 15);
	/* What is left: the crash, the 4 events, and the 5 newest samples. */
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.recs[0].seq, crash);
	assert_int_equal(b.recs[0].u.event.kind, ODO_EV_CRASH);
	assert_int_equal(b.n, 10);
	for (int i = 1; i <= 4; i++)
		assert_int_equal(tag_of(&b.recs[i]), 500 + (uint64_t)i - 1);
	for (int i = 5; i < 10; i++) {
		assert_int_equal(b.recs[i].kind, ODO_REC_SAMPLE);
		assert_int_equal(tag_of(&b.recs[i]), 15 + (uint64_t)i - 5);
	}
	/* The batch says seqs 1..last hold nothing else: evicted samples are gaps. */
	assert_int_equal(b.seq, 1);
	assert_int_equal(odo_store_requeue(f->st, 0, UINT64_MAX), ODO_OK);

	/* Events push out samples first, then the oldest events. */
	for (uint64_t i = 0; i < 7; i++)
		put(f, mk(ODO_REC_EVENT, 600 + i));
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 10);
	assert_int_equal(s.evicted, 15 + 5 + 2);
	/* Full of events and a crash: a sample is refused, not an event evicted. */
	struct odo_record r = mk(ODO_REC_SAMPLE, 77);
	assert_int_equal(odo_store_put(f->st, &r), ODO_ERR_FULL);
	assert_int_equal(r.seq, 0);
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.rejected, 1);
	assert_int_equal(s.depth, 10);
	/* A crash record is kept even when only crash records would remain. */
	for (uint64_t i = 0; i < 12; i++)
		put(f, mk_crash(2000 + i));
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 13);
	assert_int_equal(s.crash_depth, 13);
	/* The refused record did not consume a seq: numbering has no hole from it. */
	b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	for (size_t i = 0; i < b.n; i++)
		assert_int_equal(b.recs[i].u.event.kind, ODO_EV_CRASH);
	assert_int_equal(b.recs[0].seq, crash);
}

/* A crash trace's parts are crash records: never evicted, sent first. */
static void test_crash_trace_prio(void **state)
{
	struct fx *f = *state;
	odo_store_close(f->st);
	f->st = NULL;
	f->cfg.max_records = 4;
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	for (uint64_t i = 0; i < 3; i++)
		put(f, mk(ODO_REC_EVENT, 700 + i));
	struct odo_record r;
	odo_record_init(&r, ODO_REC_CRASH_TRACE);
	r.t_ms = 1700000000000LL;
	r.u.crash_trace.trip_id = 3;
	r.u.crash_trace.crash_ms = 1700000015000LL;
	r.u.crash_trace.parts = 2;
	r.u.crash_trace.hz = 100;
	r.u.crash_trace.n = 128;
	for (int i = 0; i < 128; i++)
		r.u.crash_trace.az[i] = (int16_t)(-1000 - i);
	assert_int_equal(odo_store_prio_of(&r), ODO_PRIO_CRASH);
	uint64_t p0 = put(f, r);
	r.u.crash_trace.part = 1;
	uint64_t p1 = put(f, r);
	for (uint64_t i = 0; i < 10; i++)
		put(f, mk(ODO_REC_EVENT, 800 + i));
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 4);
	assert_int_equal(s.crash_depth, 2);
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 1, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.recs[0].seq, p0); /* crash first */
	assert_int_equal(b.recs[0].kind, ODO_REC_CRASH_TRACE);
	assert_int_equal(b.recs[0].u.crash_trace.az[127], -1127);
	b = take(f, 1, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.recs[0].seq, p1);
}

static void test_byte_cap(void **state)
{
	struct fx *f = *state;
	odo_store_close(f->st);
	f->st = NULL;
	f->cfg.max_bytes = 2000;
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	for (uint64_t i = 0; i < 200; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_true(s.bytes <= 2000);
	assert_true(s.depth > 5);
	assert_int_equal(s.depth + s.evicted, 200);
}

static void test_batches_ranges_and_ack(void **state)
{
	struct fx *f = *state;
	for (uint64_t i = 1; i <= 30; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 10, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 1);
	assert_int_equal(sb.last, 10);
	assert_int_equal(sb.range_start, 1);
	b = take(f, 10, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 11);
	assert_int_equal(sb.range_start, 11); /* 10 is in flight: not covered */
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.inflight, 20);
	assert_int_equal(odo_store_unsent(f->st), 10);

	/* The collector acks 10: 1..10 leave; the window of 11..20 stays out. */
	assert_int_equal(odo_store_ack(f->st, 10), ODO_OK);
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 20);
	assert_int_equal(s.inflight, 10);
	/* Timeout: requeue 11..20; the next batch starts at 11 again, and
	 * the range start is above the last ack. */
	assert_int_equal(odo_store_requeue(f->st, 11, 20), ODO_OK);
	b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 11);
	assert_int_equal(sb.last, 30);
	assert_int_equal(sb.range_start, 11);
	assert_int_equal(tag_of(&b.recs[0]), 11);
	assert_int_equal(sb.floor, 10); /* the batch states the acked floor */
	assert_int_equal(b.floor, 10);
	assert_int_equal(odo_store_next_batch(f->st, 10, 0, ODO_STORE_OLDEST, &sb), ODO_ERR_NOTFOUND);
	/* An ack beyond anything handed out (another outbox's, finding 2 of
	 * #11: the version 1 store clamped it and deleted all) deletes nothing. */
	assert_int_equal(odo_store_last_seq(f->st), 30);
	assert_int_equal(odo_store_ack(f->st, 1000), ODO_ERR_RANGE);
	assert_int_equal(odo_store_ack(f->st, 31), ODO_ERR_RANGE);
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 20);
	assert_int_equal(s.inflight, 20);
	assert_int_equal(s.acked, 10);
	assert_int_equal(s.ack_errors, 2);
	/* An old ack below the floor is harmless; the true one deletes. */
	assert_int_equal(odo_store_ack(f->st, 5), ODO_OK);
	assert_int_equal(odo_store_ack(f->st, 30), ODO_OK);
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 0);
	assert_int_equal(s.inflight, 0);
	assert_int_equal(s.acked, 30);
	assert_int_equal(s.ack_errors, 2);
}

/* A new outbox gets a new random epoch (finding 2 of #11: a fresh outbox
 * restarted seq at 1 under the same identity); the epoch stays with the file. */
static void test_epoch(void **state)
{
	struct fx *f = *state;
	uint64_t e1 = odo_store_epoch(f->st);
	assert_true(e1 != 0 && e1 <= (uint64_t)INT64_MAX);
	put(f, mk(ODO_REC_SAMPLE, 1));
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 10, 0, ODO_STORE_OLDEST, &sb);
	assert_true(sb.epoch == e1 && b.epoch == e1 && b.floor == 0);
	reopen(f);
	assert_true(odo_store_epoch(f->st) == e1);
	/* a fresh outbox (SD card swapped, gateway replaced, file moved aside) */
	struct odo_store_cfg c2 = f->cfg;
	snprintf(c2.path, sizeof(c2.path), "%s/fresh.db", f->dir);
	struct odo_store *s2 = NULL;
	assert_int_equal(odo_store_open(&c2, &f->clock, &s2), ODO_OK);
	uint64_t e2 = odo_store_epoch(s2);
	assert_true(e2 != 0 && e2 != e1);
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(s2, &s), ODO_OK);
	assert_true(s.epoch == e2 && s.trip_next == 1 && s.last_seq == 0);
	/* nothing was ever handed out: any ack but 0 is another outbox's */
	assert_int_equal(odo_store_ack(s2, 179), ODO_ERR_RANGE);
	odo_store_close(s2);
}

/* An outbox written by the version 1 agent is migrated in place: its
 * records and numbering stay, as epoch 0, and trip ids continue at 2^32. */
static void test_v1_outbox_migrated(void **state)
{
	struct fx *f = *state;
	odo_store_close(f->st);
	f->st = NULL;
	snprintf(f->cfg.path, sizeof(f->cfg.path), "%s/v1.db", f->dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->cfg.path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
			 SQLITE_OK);
	/* the version 1 schema, verbatim, with the state of a used outbox */
	static const char v1[] =
		"PRAGMA journal_mode=WAL;"
		"CREATE TABLE schema_version(version INTEGER NOT NULL);"
		"INSERT INTO schema_version VALUES(1);"
		"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
		"INSERT INTO meta VALUES('seq_reserved', 8192), ('evicted', 3), ('acked', 40);"
		"CREATE TABLE outbox(seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, prio INTEGER NOT NULL,"
		" t_ms INTEGER NOT NULL, tsrc INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL);"
		"CREATE INDEX outbox_prio ON outbox(prio, seq);"
		"CREATE INDEX outbox_sent ON outbox(sent, seq);";
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *ins = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO outbox VALUES(?1, 4, 0, ?2, 1, 1, ?3)", -1, &ins, NULL),
			 SQLITE_OK);
	for (int64_t seq = 41; seq <= 45; seq++) {
		struct odo_record r = mk(ODO_REC_SAMPLE, (uint64_t)seq);
		r.seq = (uint64_t)seq;
		r.t_ms = 1700000000000LL + seq;
		uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
		size_t len;
		assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
		sqlite3_bind_int64(ins, 1, seq);
		sqlite3_bind_int64(ins, 2, r.t_ms);
		sqlite3_bind_blob(ins, 3, buf, (int)len, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	sqlite3_close(db);

	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.epoch, 0);
	assert_true(s.trip_next == ODO_STORE_V1_TRIP_BASE);
	assert_int_equal(s.depth, 5);
	assert_int_equal(s.acked, 40);
	assert_int_equal(s.evicted, 3);
	/* the records go out as epoch 0, floor 40, range 41.. */
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	assert_true(b.epoch == 0 && b.floor == 40 && b.seq == 41 && b.n == 5 && tag_of(&b.recs[4]) == 45);
	/* numbering continues above the version 1 reservation */
	assert_true(put(f, mk(ODO_REC_SAMPLE, 99)) > 8192);
	uint64_t id = 0;
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_true(id == ODO_STORE_V1_TRIP_BASE);
	reopen(f);
	assert_int_equal(odo_store_epoch(f->st), 0);
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_true(id == ODO_STORE_V1_TRIP_BASE + 1);
	db = NULL;
	assert_int_equal(sqlite3_open_v2(f->cfg.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), ODO_STORE_SCHEMA_VERSION);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* Trip ids come from a durable counter: never the same twice across clean
 * and unclean restarts (finding 1 of #11: every restart started at 1). */
static void test_trip_ids_durable(void **state)
{
	struct fx *f = *state;
	uint64_t id = 0;
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_int_equal(id, 1);
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_int_equal(id, 2);
	reopen(f);
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_int_equal(id, 3);
	odo_store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct odo_store *c = NULL;
		uint64_t x = 0;
		if (odo_store_open(&f->cfg, &f->clock, &c) != ODO_OK || odo_store_trip_next_id(c, &x) != ODO_OK || x != 4)
			_exit(2);
		raise(SIGKILL); /* no close */
		_exit(3);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	assert_int_equal(odo_store_trip_next_id(f->st, &id), ODO_OK);
	assert_int_equal(id, 5);
}

static struct odo_record mk_trip_end(uint64_t trip, int64_t t0, int64_t t1, double dist)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_TRIP_END);
	r.t_ms = t1;
	r.u.trip_end.trip_id = trip;
	r.u.trip_end.start_ms = t0;
	r.u.trip_end.end_ms = t1;
	r.u.trip_end.distance_m = dist;
	r.u.trip_end.duration_s = (double)(t1 - t0) / 1000;
	r.u.trip_end.moving_s = r.u.trip_end.duration_s;
	r.u.trip_end.end_reason = ODO_TRIP_END_STOPPED;
	return r;
}

/* The open trip's checkpoint: opened with the trip start, replaced by
 * checkpoints, recovered after an unclean stop, gone with the trip end. */
static void test_trip_checkpoint(void **state)
{
	struct fx *f = *state;
	struct odo_record r;
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_ERR_NOTFOUND);
	struct odo_record ts = mk(ODO_REC_TRIP_START, 7);
	ts.t_ms = 1700000100000LL;
	ts.tsrc = ODO_TSRC_GPS;
	put(f, ts);
	/* right after the start: a trip that ends where it started */
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_OK);
	assert_int_equal(r.kind, ODO_REC_TRIP_END);
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.u.trip_end.trip_id, 7);
	assert_int_equal(r.u.trip_end.start_ms, 1700000100000LL);
	assert_int_equal(r.u.trip_end.end_ms, 1700000100000LL);
	assert_int_equal(r.u.trip_end.end_reason, ODO_TRIP_END_RECOVERED);
	assert_int_equal(r.tsrc, ODO_TSRC_GPS);
	/* a checkpoint replaces it */
	struct odo_record ck = mk_trip_end(7, 1700000100000LL, 1700000160000LL, 1234.5);
	assert_int_equal(odo_store_trip_checkpoint(f->st, &ck), ODO_OK);
	struct odo_record other = mk_trip_end(8, 1700000100000LL, 1700000160000LL, 1.0);
	assert_int_equal(odo_store_trip_checkpoint(f->st, &other), ODO_ERR_NOTFOUND); /* never started */
	/* an unclean stop keeps it */
	odo_store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct odo_store *c = NULL;
		struct odo_record c2 = mk_trip_end(7, 1700000100000LL, 1700000220000LL, 2000.0);
		if (odo_store_open(&f->cfg, &f->clock, &c) != ODO_OK || odo_store_trip_checkpoint(c, &c2) != ODO_OK)
			_exit(2);
		raise(SIGKILL);
		_exit(3);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_OK);
	assert_true(r.u.trip_end.distance_m == 2000.0);
	assert_int_equal(r.u.trip_end.end_ms, 1700000220000LL);
	assert_int_equal(r.u.trip_end.end_reason, ODO_TRIP_END_RECOVERED);
	/* storing the recovered trip end closes the trip, in the same transaction */
	put(f, r);
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_ERR_NOTFOUND);
	reopen(f);
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_ERR_NOTFOUND);
	/* a trip that ends normally leaves nothing to recover */
	put(f, mk(ODO_REC_TRIP_START, 9));
	struct odo_record te = mk_trip_end(9, 1700000300000LL, 1700000400000LL, 5.0);
	put(f, te);
	reopen(f);
	assert_int_equal(odo_store_trip_recover(f->st, &r), ODO_ERR_NOTFOUND);
}

static void test_byte_bound_and_gaps(void **state)
{
	struct fx *f = *state;
	for (uint64_t i = 1; i <= 20; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 1000, 1, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.n, 1); /* always at least one record */
	size_t one = sb.len;
	b = take(f, 1000, one * 3 + one / 2, ODO_STORE_OLDEST, &sb);
	assert_int_equal(b.n, 3);
	assert_true(sb.len <= one * 3 + one / 2);
	/* Restart: nothing in flight, the next batch starts at 1 again. */
	reopen(f);
	b = take(f, 4, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 1);
	assert_int_equal(sb.n, 4);
}

static void test_crash_first_and_newest(void **state)
{
	struct fx *f = *state;
	for (uint64_t i = 1; i <= 10; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	uint64_t c = put(f, mk_crash(99));
	for (uint64_t i = 12; i <= 20; i++)
		put(f, mk(ODO_REC_SAMPLE, i));
	struct odo_store_batch sb;
	struct odo_batch b = take(f, 3, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.crash, 1);
	assert_int_equal(sb.first, c);
	assert_int_equal(b.recs[0].u.event.kind, ODO_EV_CRASH);
	assert_int_equal(sb.range_start, c); /* 10 waits below, not covered */
	assert_int_equal(sb.last, c + 2);
	/* The live lane takes the newest run. */
	b = take(f, 3, 0, ODO_STORE_NEWEST, &sb);
	assert_int_equal(sb.first, 18);
	assert_int_equal(sb.last, 20);
	assert_int_equal(sb.range_start, 18);
	/* Oldest first resumes at 1 and stops before the crash batch (in flight). */
	b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 1);
	assert_int_equal(sb.last, 10);
	b = take(f, 100, 0, ODO_STORE_OLDEST, &sb);
	assert_int_equal(sb.first, 14);
	assert_int_equal(sb.last, 17);
	assert_int_equal(sb.range_start, 14);
}

static void test_schema_and_pragmas(void **state)
{
	struct fx *f = *state;
	put(f, mk(ODO_REC_TRIP_START, 1));
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->cfg.path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), ODO_STORE_SCHEMA_VERSION);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	/* A newer schema is refused, not misread. */
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	odo_store_close(f->st);
	f->st = NULL;
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_ERR_UNSUPPORTED);
	assert_null(f->st);
	/* Garbage is refused with ODO_ERR_DB, nothing crashes. */
	FILE *g = fopen(f->cfg.path, "w");
	assert_non_null(g);
	fputs("this is not a database, just some text long enough to be looked at..........\n", g);
	fclose(g);
	char wal[300];
	snprintf(wal, sizeof(wal), "%s-wal", f->cfg.path);
	unlink(wal);
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_ERR_DB);
	assert_null(f->st);
	/* teardown closes NULL */
}

static void test_full_disk_survived(void **state)
{
	struct fx *f = *state;
	for (uint64_t i = 1; i <= 10; i++)
		put(f, mk(ODO_REC_EVENT, i));
	odo_store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child gets a file-size limit a little above the current files. */
		signal(SIGXFSZ, SIG_IGN);
		struct odo_store *c = NULL;
		if (odo_store_open(&f->cfg, &f->clock, &c) != ODO_OK)
			_exit(2);
		struct stat sd;
		if (stat(f->cfg.path, &sd) != 0)
			_exit(3);
		struct rlimit rl = { .rlim_cur = (rlim_t)sd.st_size + 256 * 1024, .rlim_max = RLIM_INFINITY };
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(4);
		int fails = 0, ok = 0, other = 0;
		for (uint64_t i = 0; i < 5000 && fails < 50; i++) {
			struct odo_record r = mk(ODO_REC_EVENT, 100 + i);
			int rc = odo_store_put(c, &r);
			if (rc == ODO_OK)
				ok++;
			else if (rc == ODO_ERR_FULL || rc == ODO_ERR_IO)
				fails++;
			else
				other++;
		}
		struct odo_store_stats s;
		if (odo_store_stats(c, &s) != ODO_OK)
			_exit(5);
		printf("full disk: %d stored, %d refused (write_errors %llu), %d other\n", ok, fails,
		       (unsigned long long)s.write_errors, other);
		/* Survived: an ack frees space and records can be stored again. */
		int arc = odo_store_ack(c, s.last_seq);
		if (arc != ODO_OK) {
			printf("ack after full disk: %s\n", odo_strerror(arc));
			fflush(stdout);
			_exit(6);
		}
		struct odo_record r = mk(ODO_REC_EVENT, 9999);
		int rc = odo_store_put(c, &r);
		printf("after ack: put -> %s\n", odo_strerror(rc));
		odo_store_close(c);
		_exit(fails > 0 && other == 0 && s.write_errors == (uint64_t)fails && ok > 0 && rc == ODO_OK ? 0 : 7);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The file is consistent and numbering continues. */
	assert_int_equal(odo_store_open(&f->cfg, &f->clock, &f->st), ODO_OK);
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 1);
	uint64_t seq = put(f, mk(ODO_REC_EVENT, 10000));
	assert_true(seq > s.last_seq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seq_increasing_and_persistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_after_crash_skips_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_by_class, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_trace_prio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_ranges_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_bound_and_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_first_and_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_and_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_survived, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_outbox_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trip_ids_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trip_checkpoint, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
