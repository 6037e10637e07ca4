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
	assert_int_equal(odo_store_next_batch(f->st, 10, 0, ODO_STORE_OLDEST, &sb), ODO_ERR_NOTFOUND);
	/* An ack beyond anything handed out is clamped and reported. */
	assert_int_equal(odo_store_ack(f->st, 1000), ODO_ERR_RANGE);
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 0);
	assert_int_equal(s.inflight, 0);
	assert_int_equal(s.acked, 30);
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
		cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_ranges_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_bound_and_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_first_and_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_and_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_survived, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
