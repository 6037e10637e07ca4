/*
 * The encrypted outbox (issue 13 item 6; agent/store/seal.c,
 * docs/store-and-forward.md "Encryption at rest"): real SQLite files and
 * key files in a temporary directory.
 *
 *   no plaintext       with [store] key_file, the outbox's files (database,
 *                      -wal, -shm), open and after close, hold none of the
 *                      records' coordinates, VIN or trip start position
 *                      (the same records in a plain outbox: all found - the
 *                      search works); batches are byte for byte the plain
 *                      outbox's; an open trip's checkpoint is sealed too
 *   key errors         a missing key file, one group or others may read,
 *                      one that is no key: a start-up error naming the file,
 *                      the outbox file unchanged byte for byte
 *   wrong key          an outbox sealed with key A opened with key B, or
 *                      with no key: refused naming the key ids, the file
 *                      unchanged byte for byte; with A everything is there
 *   rotation           A -> B with old_key_file = A: the old records are
 *                      read and sent, new ones sealed with B; after the ack
 *                      B alone opens it; plaintext records from before the
 *                      key are read too
 *   rows bound         bodies swapped between rows (or a row's time edited)
 *                      do not authenticate: dropped and counted, never sent
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

#define T0_NS (1700000000LL * ODO_NS_PER_S)
#define VIN "WVWZZZ1KZAW000815"
#define LAT 48.1371546
#define LON 11.5761249

static const char KEY_A[] = "6f646f2d6f7574626f782d746573742d6b65792d412d30313233343536373839\n";
static const char KEY_B[] = "1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001\n";

struct fx {
	char dir[64];
	char key_a[96], key_b[96];
	struct odo_clock clock;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/odo-seal-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->key_a, sizeof f->key_a, "%s/a.key", f->dir);
	snprintf(f->key_b, sizeof f->key_b, "%s/b.key", f->dir);
	write_file(f->key_a, KEY_A, 0600);
	write_file(f->key_b, KEY_B, 0400);
	odo_clock_init_virtual(&f->clock, T0_NS, 1000 * ODO_NS_PER_S);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct odo_store_cfg cfg(const struct fx *f, const char *name, const char *key, const char *old)
{
	struct odo_store_cfg c;
	memset(&c, 0, sizeof c);
	snprintf(c.path, sizeof c.path, "%s/%s", f->dir, name);
	if (key)
		snprintf(c.key_file, sizeof c.key_file, "%s", key);
	if (old)
		snprintf(c.old_key_file, sizeof c.old_key_file, "%s", old);
	return c;
}

static struct odo_store *open_ok(struct fx *f, const struct odo_store_cfg *c)
{
	struct odo_store *st = NULL;
	char why[512];
	int rc = odo_store_open_why(c, &f->clock, &st, why, sizeof why);
	if (rc != ODO_OK)
		fail_msg("open %s: %s", c->path, why);
	return st;
}

/* The records of a short drive: trip start (position), samples, a VIN, a
 * crash event; with `end` its trip end (else the trip stays open: its
 * checkpoint is kept). */
static void put_drive(struct odo_store *st, uint64_t trip, int n, int end)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_TRIP_START);
	r.u.trip_start.trip_id = trip;
	r.u.trip_start.lat = LAT + 0.5;
	r.u.trip_start.lon = LON + 0.5;
	assert_int_equal(odo_store_put(st, &r), ODO_OK);
	for (int i = 0; i < n; i++) {
		odo_record_init(&r, ODO_REC_SAMPLE);
		r.u.sample.trip_id = trip;
		r.u.sample.fix = ODO_FIX_3D;
		r.u.sample.lat = LAT;
		r.u.sample.lon = LON;
		r.u.sample.speed_mps = 13.0;
		assert_int_equal(odo_store_put(st, &r), ODO_OK);
	}
	odo_record_init(&r, ODO_REC_VEHICLE);
	snprintf(r.u.vehicle.vin, sizeof r.u.vehicle.vin, "%s", VIN);
	r.u.vehicle.ecu = 0x7e8;
	assert_int_equal(odo_store_put(st, &r), ODO_OK);
	odo_record_init(&r, ODO_REC_EVENT);
	r.u.event.trip_id = trip;
	r.u.event.kind = ODO_EV_CRASH;
	r.u.event.source = ODO_EVSRC_ACCEL;
	r.u.event.duration_ms = 90;
	r.u.event.peak_g = -6.0;
	r.u.event.mean_g = -3.0;
	r.u.event.lat = LAT;
	r.u.event.lon = LON;
	assert_int_equal(odo_store_put(st, &r), ODO_OK);
	if (end) {
		odo_record_init(&r, ODO_REC_TRIP_END);
		r.u.trip_end.trip_id = trip;
		r.u.trip_end.start_ms = 1700000000000LL;
		r.u.trip_end.end_ms = 1700000100000LL;
		r.u.trip_end.end_reason = ODO_TRIP_END_SHUTDOWN;
		assert_int_equal(odo_store_put(st, &r), ODO_OK);
	}
}

/* The encoded value of a sample's "lat" / "lon" and the VIN: what a thief would search for. */
static size_t needles(uint8_t nd[4][16], size_t len[4])
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_SAMPLE);
	r.seq = 1;
	r.t_ms = 1;
	r.u.sample.trip_id = 1;
	r.u.sample.fix = ODO_FIX_3D;
	r.u.sample.lat = LAT;
	r.u.sample.lon = LON;
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t n = 0, k = 0;
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof buf, &n), ODO_OK);
	static const char *const keys[] = { "\x63lat", "\x63lon" };
	for (int i = 0; i < 2; i++) {
		uint8_t *p = memmem(buf, n, keys[i], 4);
		assert_non_null(p);
		p += 4;
		assert_true(p[0] == 0xfb || p[0] == 0xfa); /* a float: 9 or 5 bytes */
		len[k] = p[0] == 0xfb ? 9 : 5;
		memcpy(nd[k], p, len[k]);
		k++;
	}
	memcpy(nd[k], VIN, strlen(VIN));
	len[k++] = strlen(VIN);
	return k;
}

/* How many of the needles occur in the outbox's files (database, -wal, -shm, -journal). */
static int found_in_files(const char *db, int *files_read)
{
	uint8_t nd[4][16];
	size_t len[4];
	size_t k = needles(nd, len);
	int found = 0;
	*files_read = 0;
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	for (int i = 0; i < 4; i++) {
		char p[320];
		snprintf(p, sizeof p, "%s%s", db, sfx[i]);
		FILE *fp = fopen(p, "rb");
		if (!fp)
			continue;
		static uint8_t data[16 << 20];
		size_t n = fread(data, 1, sizeof data, fp);
		fclose(fp);
		if (n)
			(*files_read)++;
		for (size_t j = 0; j < k; j++)
			if (memmem(data, n, nd[j], len[j]))
				found |= 1 << j;
	}
	return found;
}

static int file_bytes(const char *path, uint8_t **out, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	*out = malloc((size_t)sz + 1);
	*n = fread(*out, 1, (size_t)sz, fp);
	fclose(fp);
	return 0;
}

static void test_no_plaintext(void **state)
{
	struct fx *f = *state;
	struct odo_store_cfg pc = cfg(f, "plain.db", NULL, NULL), sc = cfg(f, "sealed.db", f->key_a, NULL);
	struct odo_store *plain = open_ok(f, &pc), *sealed = open_ok(f, &sc);
	put_drive(plain, 7, 50, 0);
	put_drive(sealed, 7, 50, 0);
	int files = 0;
	/* the control: the same search finds all of it in the plain outbox */
	assert_int_equal(found_in_files(pc.path, &files), 0x7);
	/* while open: the records are in the WAL */
	int got = found_in_files(sc.path, &files);
	assert_true(files >= 2);
	if (got)
		fail_msg("the sealed outbox's files hold plaintext (needle mask %#x)", got);
	struct odo_store_stats ss;
	assert_int_equal(odo_store_stats(sealed, &ss), ODO_OK);
	assert_true(ss.key_id != 0);
	/* the batches are the same bytes */
	struct odo_store_batch pb, sb;
	assert_int_equal(odo_store_next_batch(plain, 100, 0, ODO_STORE_STRICT, &pb), ODO_OK);
	uint8_t copy[ODO_STORE_BATCH_BYTES_MAX];
	size_t plen = pb.len;
	memcpy(copy, pb.cbor, plen);
	assert_int_equal(odo_store_next_batch(sealed, 100, 0, ODO_STORE_STRICT, &sb), ODO_OK);
	assert_int_equal(sb.n, pb.n);
	assert_int_equal(sb.n, 53);
	assert_int_equal(sb.len, plen);
	assert_memory_equal(sb.cbor, copy, plen);
	/* the open trip's checkpoint, sealed, recovered after a restart */
	odo_store_close(sealed);
	odo_store_close(plain);
	got = found_in_files(sc.path, &files);
	assert_true(files >= 1);
	if (got)
		fail_msg("the sealed outbox's file holds plaintext after close (needle mask %#x)", got);
	sealed = open_ok(f, &sc);
	struct odo_record te;
	assert_int_equal(odo_store_trip_recover(sealed, &te), ODO_OK);
	assert_int_equal(te.u.trip_end.trip_id, 7);
	assert_int_equal(odo_store_stats(sealed, &ss), ODO_OK);
	assert_int_equal(ss.depth, 53);
	assert_int_equal(ss.unreadable, 0);
	assert_int_equal(odo_store_next_batch(sealed, 100, 0, ODO_STORE_STRICT, &sb), ODO_OK);
	assert_int_equal(sb.len, plen);
	assert_memory_equal(sb.cbor, copy, plen);
	odo_store_close(sealed);
}

static void expect_refused(struct fx *f, const struct odo_store_cfg *c, int want, const char *must1,
			   const char *must2)
{
	struct odo_store *st = NULL;
	char why[512];
	int rc = odo_store_open_why(c, &f->clock, &st, why, sizeof why);
	assert_null(st);
	if (rc != want || !strstr(why, must1) || (must2 && !strstr(why, must2)))
		fail_msg("want %d with \"%s\" / \"%s\", got %d: %s", want, must1, must2 ? must2 : "", rc, why);
	print_message("refused: %s\n", why);
}

static void test_key_errors(void **state)
{
	struct fx *f = *state;
	struct odo_store_cfg c = cfg(f, "k.db", f->key_a, NULL);
	struct odo_store *st = open_ok(f, &c);
	put_drive(st, 1, 5, 0);
	odo_store_close(st);
	uint8_t *before, *after;
	size_t nb, na;
	assert_int_equal(file_bytes(c.path, &before, &nb), 0);

	char missing[128], loose[128], notkey[128];
	snprintf(missing, sizeof missing, "%s/none.key", f->dir);
	snprintf(loose, sizeof loose, "%s/loose.key", f->dir);
	snprintf(notkey, sizeof notkey, "%s/notkey.key", f->dir);
	write_file(loose, KEY_A, 0640);
	write_file(notkey, "correct horse battery staple\n", 0600);
	struct odo_store_cfg e = c;
	snprintf(e.key_file, sizeof e.key_file, "%s", missing);
	expect_refused(f, &e, ODO_ERR_NOTFOUND, missing, "No such file");
	snprintf(e.key_file, sizeof e.key_file, "%s", loose);
	expect_refused(f, &e, ODO_ERR_CONFIG, loose, "0640");
	snprintf(e.key_file, sizeof e.key_file, "%s", notkey);
	expect_refused(f, &e, ODO_ERR_INVAL, notkey, "64 hex digits");
	e = c;
	snprintf(e.old_key_file, sizeof e.old_key_file, "%s", loose);
	expect_refused(f, &e, ODO_ERR_CONFIG, loose, "old_key_file");
	e = cfg(f, "k.db", NULL, f->key_b);
	expect_refused(f, &e, ODO_ERR_CONFIG, "old_key_file is set without key_file", NULL);
	/* nothing was created for a refused key either */
	struct odo_store_cfg n = cfg(f, "never.db", missing, NULL);
	expect_refused(f, &n, ODO_ERR_NOTFOUND, missing, NULL);
	assert_int_not_equal(access(n.path, F_OK), 0);

	assert_int_equal(file_bytes(c.path, &after, &na), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
}

static void test_wrong_key(void **state)
{
	struct fx *f = *state;
	struct odo_store_cfg a = cfg(f, "w.db", f->key_a, NULL);
	struct odo_store *st = open_ok(f, &a);
	put_drive(st, 3, 20, 0);
	odo_store_close(st);
	uint8_t *before, *after;
	size_t nb, na;
	assert_int_equal(file_bytes(a.path, &before, &nb), 0);

	struct odo_store_cfg b = cfg(f, "w.db", f->key_b, NULL), none = cfg(f, "w.db", NULL, NULL);
	expect_refused(f, &b, ODO_ERR_CONFIG, a.path, "the wrong key file?");
	expect_refused(f, &none, ODO_ERR_CONFIG, a.path, "key_file is not set");
	assert_int_equal(file_bytes(a.path, &after, &na), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb); /* byte for byte */
	free(after);
	char wal[320];
	snprintf(wal, sizeof wal, "%s-wal", a.path);
	assert_int_not_equal(access(wal, F_OK), 0); /* and no WAL written */

	st = open_ok(f, &a);
	struct odo_store_stats ss;
	assert_int_equal(odo_store_stats(st, &ss), ODO_OK);
	assert_int_equal(ss.depth, 23);
	struct odo_store_batch bt;
	assert_int_equal(odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &bt), ODO_OK);
	assert_int_equal(bt.n, 23);
	odo_store_close(st);
	free(before);
}

static void test_rotation(void **state)
{
	struct fx *f = *state;
	/* plaintext from before the key (sealed in place when A is set), then A -> B */
	struct odo_store_cfg p = cfg(f, "r.db", NULL, NULL), a = cfg(f, "r.db", f->key_a, NULL),
			     ab = cfg(f, "r.db", f->key_b, f->key_a), b = cfg(f, "r.db", f->key_b, NULL);
	struct odo_store *st = open_ok(f, &p);
	put_drive(st, 1, 1, 1); /* 5 */
	put_drive(st, 9, 1, 0); /* 9, and trip 9 stays open */
	odo_store_close(st);
	int files = 0;
	assert_int_equal(found_in_files(p.path, &files), 0x7); /* the control */
	/* turned on: what was stored in plaintext is sealed in place */
	st = open_ok(f, &a);
	struct odo_store_stats ss;
	assert_int_equal(odo_store_stats(st, &ss), ODO_OK);
	assert_int_equal(ss.plain_at_open, 9);
	assert_int_equal(ss.resealed_at_open, 9);
	int got = found_in_files(p.path, &files);
	if (got)
		fail_msg("plaintext left after sealing in place (needle mask %#x)", got);
	uint32_t kid_a = ss.key_id;
	struct odo_record te;
	assert_int_equal(odo_store_trip_recover(st, &te), ODO_OK); /* its checkpoint, sealed too */
	assert_int_equal(te.u.trip_end.trip_id, 9);
	assert_int_equal(odo_store_put(st, &te), ODO_OK); /* 10: closes it, as the agent does */
	odo_store_close(st);
	assert_int_equal(found_in_files(p.path, &files), 0);
	/* B alone cannot read A's records */
	expect_refused(f, &b, ODO_ERR_CONFIG, "which is not the key in [store] key_file", f->key_b);
	st = open_ok(f, &ab);
	assert_int_equal(odo_store_stats(st, &ss), ODO_OK);
	assert_int_equal(ss.old_key_at_open, 10);
	assert_int_equal(ss.plain_at_open, 0);
	assert_true(ss.key_id != kid_a && ss.key_id != 0);
	put_drive(st, 3, 1, 1); /* 15 */
	assert_int_equal(odo_store_ack(st, 2), ODO_OK);
	struct odo_store_batch bt;
	assert_int_equal(odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &bt), ODO_OK);
	assert_int_equal(bt.n, 13);
	/* every record decodes (plaintext, A's and B's alike), as the collector will */
	static uint8_t msg[ODO_WIRE_MAX_MESSAGE];
	static struct odo_record recs[ODO_WIRE_MAX_RECORDS];
	size_t len = 0;
	assert_int_equal(odo_wire_encode_batch_raw("dev-1", bt.epoch, bt.floor, bt.range_start, bt.n, bt.cbor, bt.len,
						   msg, sizeof msg, &len),
			 ODO_OK);
	struct odo_batch d = { .recs = recs, .cap = ODO_ARRAY_LEN(recs) };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(msg, len, NULL, &d, &err), ODO_OK);
	assert_int_equal(d.n, 13);
	assert_int_equal(d.nbad, 0);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(recs[i].seq, i + 3);
	assert_int_equal(odo_store_ack(st, 10), ODO_OK); /* A's records (sealed in place and new) acknowledged */
	odo_store_close(st);
	st = open_ok(f, &b); /* old_key_file no longer needed */
	assert_int_equal(odo_store_stats(st, &ss), ODO_OK);
	assert_int_equal(ss.depth, 5);
	assert_int_equal(ss.old_key_at_open + ss.plain_at_open, 0);
	odo_store_close(st);
}

static void test_rows_bound(void **state)
{
	struct fx *f = *state;
	struct odo_store_cfg c = cfg(f, "b.db", f->key_a, NULL);
	struct odo_store *st = open_ok(f, &c);
	put_drive(st, 1, 6, 0); /* seqs 1..9 */
	odo_store_close(st);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(c.path, &db), SQLITE_OK);
	/* swap the bodies of seq 3 and 4 (two samples), and move seq 6's time */
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TEMP TABLE x AS SELECT seq, body FROM outbox WHERE seq IN (3, 4);"
				      "UPDATE outbox SET body = (SELECT body FROM x WHERE x.seq = 7 - outbox.seq)"
				      " WHERE seq IN (3, 4);"
				      "UPDATE outbox SET t_ms = t_ms + 1 WHERE seq = 6;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(f, &c); /* the oldest record (seq 1) authenticates */
	struct odo_store_batch bt;
	assert_int_equal(odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &bt), ODO_OK);
	assert_int_equal(bt.first, 1);
	assert_int_equal(bt.last, 2); /* stops before the first bad row */
	assert_int_equal(odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &bt), ODO_OK);
	assert_int_equal(bt.first, 5); /* 3 and 4 dropped */
	assert_int_equal(bt.last, 5);
	assert_int_equal(odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &bt), ODO_OK);
	assert_int_equal(bt.first, 7);
	assert_int_equal(bt.last, 9);
	struct odo_store_stats ss;
	assert_int_equal(odo_store_stats(st, &ss), ODO_OK);
	assert_int_equal(ss.unreadable, 3);
	assert_int_equal(ss.depth, 6);
	odo_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
