/*
 * odo — wire format: hand-made malformed messages, one or more per
 * ODO_ERR_WIRE_* code, asserting the code, the field path and the offset.
 * Messages are built with libcbor's encoding functions, independently of
 * the encoder under test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>

#include "odo/wire.h"

#define CB_MAX (ODO_WIRE_MAX_MESSAGE + 64)

struct cb {
	uint8_t b[CB_MAX];
	size_t n;
};

static struct cb g;
static struct odo_record g_recs[ODO_WIRE_MAX_RECORDS + 1];

static void took(size_t k)
{
	assert_true(k > 0);
	g.n += k;
}
static void u(uint64_t v) { took(cbor_encode_uint(v, g.b + g.n, CB_MAX - g.n)); }
static void neg(uint64_t v) { took(cbor_encode_negint(v, g.b + g.n, CB_MAX - g.n)); }
static void map(size_t k) { took(cbor_encode_map_start(k, g.b + g.n, CB_MAX - g.n)); }
static void arr(size_t k) { took(cbor_encode_array_start(k, g.b + g.n, CB_MAX - g.n)); }
static void f32(float f) { took(cbor_encode_single(f, g.b + g.n, CB_MAX - g.n)); }
static void f64(double d) { took(cbor_encode_double(d, g.b + g.n, CB_MAX - g.n)); }
static void bl(int v) { took(cbor_encode_bool(v, g.b + g.n, CB_MAX - g.n)); }
static void raw(const char *hex)
{
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned x;
		sscanf(hex, "%2x", &x);
		g.b[g.n++] = (uint8_t)x;
	}
}
static void txtn(const char *s, size_t len)
{
	took(cbor_encode_string_start(len, g.b + g.n, CB_MAX - g.n));
	memcpy(g.b + g.n, s, len);
	g.n += len;
}
static void t(const char *s) { txtn(s, strlen(s)); }
static void reset(void) { g.n = 0; }

/* {"v":2,"dev":"d1","ep":7,"af":0,"seq":seq,"recs":[ ...n records follow */
static void hdr(uint64_t seq, size_t n)
{
	map(6);
	t("v"), u(2);
	t("dev"), t("d1");
	t("ep"), u(7);
	t("af"), u(0);
	t("seq"), u(seq);
	t("recs"), arr(n);
}

/* The version 1 header: {"v":1,"dev":"d1","seq":seq,"recs":[ ... */
static void hdr1(uint64_t seq, size_t n)
{
	map(4);
	t("v"), u(1);
	t("dev"), t("d1");
	t("seq"), u(seq);
	t("recs"), arr(n);
}

/* Start a record map of `extra` kind-specific pairs after s, t, ts, k. */
static void rec(size_t extra, uint64_t seq, uint64_t kind)
{
	map(4 + extra);
	t("s"), u(seq);
	t("t"), u(1763900000000ULL);
	t("ts"), u(0);
	t("k"), u(kind);
}

/* n filler pairs that complete a record map after the pair under test
 * (never reached: the decoder stops at the first error). */
static void fill(size_t n)
{
	for (size_t i = 0; i < n; i++)
		t("zz"), u(0);
}

/* A complete valid phone record. */
static void phone(uint64_t seq)
{
	rec(3, seq, ODO_REC_PHONE);
	t("scr"), bl(1);
	t("call"), u(1);
	t("hand"), bl(0);
}

static size_t offset_of_text(const char *s)
{
	size_t l = strlen(s);
	for (size_t i = 0; i + l < g.n; i++)
		if (g.b[i] == (0x60 | l) && memcmp(g.b + i + 1, s, l) == 0)
			return i;
	fail_msg("text %s not in message", s);
	return 0;
}

static struct odo_wire_bad g_bad[ODO_WIRE_MAX_RECORDS];
static struct odo_wire_limits g_lim = { .now_ms = 1763900000000LL };
static const struct odo_wire_limits *g_limp; /* NULL: no time window */

static void check_sentence(const struct odo_wire_error *err, int line)
{
	size_t ml = strlen(err->msg);
	if (ml < 10 || err->msg[ml - 1] != '.')
		fail_msg("line %d: \"%s\" is not a sentence", line, err->msg);
	assert_true(err->offset <= g.n);
}

/* The whole message is refused (with and without room for refused records). */
static void expect_batch_(int code, const char *field, long offset, int line)
{
	struct odo_batch b = { .recs = g_recs, .cap = ODO_ARRAY_LEN(g_recs), .bad = g_bad, .bad_cap = 8 };
	struct odo_wire_error err;
	memset(&err, 0x55, sizeof(err));
	int rc = odo_wire_decode_batch(g.b, g.n, g_limp, &b, &err);
	if (rc != code || strcmp(err.field, field) != 0)
		fail_msg("line %d: want message-level %s/\"%s\", got %s/\"%s\" (%zu refused records): %s", line,
			 odo_strerror(code), field, odo_strerror(rc), rc ? err.field : "", b.nbad,
			 rc ? err.msg : (b.nbad ? b.bad[0].err.msg : ""));
	assert_int_equal(err.code, code);
	check_sentence(&err, line);
	if (offset >= 0 && err.offset != (size_t)offset)
		fail_msg("line %d: offset %zu, want %ld (%s)", line, err.offset, offset, err.msg);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.nbad, 0);
}

/* One record is refused alone: the batch decodes, the record is in bad[]
 * with its error; strictly (bad_cap 0) the same error refuses the message. */
static void expect_rec_(int code, const char *field, long offset, int line)
{
	struct odo_batch b = { .recs = g_recs, .cap = ODO_ARRAY_LEN(g_recs), .bad = g_bad, .bad_cap = 8 };
	struct odo_wire_error err;
	int rc = odo_wire_decode_batch(g.b, g.n, g_limp, &b, &err);
	if (rc != ODO_OK || b.nbad != 1 || b.bad[0].err.code != code || strcmp(b.bad[0].err.field, field) != 0)
		fail_msg("line %d: want record-level %s/\"%s\", got %s, %zu refused: %s/\"%s\": %s", line,
			 odo_strerror(code), field, odo_strerror(rc), rc ? 0 : b.nbad,
			 b.nbad ? odo_strerror(b.bad[0].err.code) : "-", b.nbad ? b.bad[0].err.field : "",
			 rc ? err.msg : (b.nbad ? b.bad[0].err.msg : ""));
	const struct odo_wire_bad *bad = &b.bad[0];
	check_sentence(&bad->err, line);
	if (offset >= 0 && bad->err.offset != (size_t)offset)
		fail_msg("line %d: offset %zu, want %ld (%s)", line, bad->err.offset, offset, bad->err.msg);
	assert_true(bad->off < g.n && bad->off + bad->len <= g.n && g.b[bad->off] >= 0xa0 && g.b[bad->off] <= 0xbb);
	assert_true(bad->seq >= 1 && bad->seq <= b.last_seq);
	struct odo_batch strict = { .recs = g_recs, .cap = ODO_ARRAY_LEN(g_recs) };
	rc = odo_wire_decode_batch(g.b, g.n, g_limp, &strict, &err);
	if (rc != code || strcmp(err.field, field) != 0)
		fail_msg("line %d: strict decode says %s/\"%s\"", line, odo_strerror(rc), err.field);
	assert_int_equal(strict.n, 0);
}

#define expect_batch(c, f, o) expect_batch_(c, f, o, __LINE__)
#define expect_rec(c, f, o) expect_rec_(c, f, o, __LINE__)

static void expect_ack(int code, const char *field)
{
	struct odo_ack a;
	struct odo_wire_error err;
	int rc = odo_wire_decode_ack(g.b, g.n, &a, &err);
	if (rc != code || strcmp(err.field, field) != 0)
		fail_msg("ack: want %s/\"%s\", got %s/\"%s\": %s", odo_strerror(code), field, odo_strerror(rc),
			 err.field, rc ? err.msg : "");
}

static void test_valid_baseline(void **state)
{
	(void)state;
	reset();
	hdr(1, 2);
	phone(1);
	phone(3);
	struct odo_batch b = { .recs = g_recs, .cap = 4 };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, NULL), ODO_OK);
	assert_int_equal(b.v, 2);
	assert_int_equal(b.epoch, 7);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.recs[1].seq, 3);
	assert_int_equal(b.last_seq, 3);
	/* key order is free, "v" last included; half-precision floats are accepted */
	reset();
	map(6);
	t("recs"), arr(1);
	rec(3, 7, ODO_REC_TRIP_START);
	t("lon"), raw("f93e00"); /* 1.5 */
	t("trip"), u(2);
	t("lat"), f64(-0.25);
	t("af"), u(6);
	t("seq"), u(7);
	t("ep"), u(UINT64_C(0x7fffffffffffffff));
	t("dev"), t("d1");
	t("v"), u(2);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	assert_true(b.recs[0].u.trip_start.lon == 1.5 && b.recs[0].u.trip_start.lat == -0.25);
	assert_true(b.epoch == INT64_MAX && b.floor == 6);
	/* the same as version 1, "v" last: epoch 0, floor 0 */
	reset();
	map(4);
	t("recs"), arr(1);
	rec(1, 7, ODO_REC_TRIP_START);
	t("trip"), u(2);
	t("seq"), u(7);
	t("dev"), t("d1");
	t("v"), u(1);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	assert_true(b.v == 1 && b.epoch == 0 && b.floor == 0 && b.seq == 7 && b.n == 1);
}

static void test_malformed(void **state)
{
	(void)state;
	reset();
	expect_batch(ODO_ERR_WIRE_MALFORMED, "", 0);
	reset();
	raw("bf"); /* indefinite map */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "", 0);
	reset();
	map(4);
	t("v"), u(1);
	t("dev"), raw("7f6164ff"); /* indefinite text */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "dev", 8);
	reset();
	map(4);
	t("v"), raw("1c"); /* reserved additional information */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "v", 3);
	reset();
	hdr(1, 1);
	phone(1);
	g.n -= 1; /* truncated inside the last value */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "recs[0].hand", (long)g.n);
	reset();
	hdr(1, 1);
	rec(1, 1, ODO_REC_VEHICLE);
	t("vin"), raw("71"); /* 17 bytes announced, none there */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "recs[0].vin", (long)g.n - 1);
	reset();
	hdr(1, 1);
	rec(2, 1, ODO_REC_VEHICLE); /* a record map claiming more pairs than it has */
	t("vin"), t("");
	expect_batch(ODO_ERR_WIRE_MALFORMED, "recs[0].<key>", (long)g.n);
	reset();
	map(1);
	raw("7a7fffffff"); /* key longer than the message */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "<key>", 1);
}

static void test_version(void **state)
{
	(void)state;
	reset();
	map(4), t("v"), u(3);
	expect_batch(ODO_ERR_WIRE_VERSION, "v", 3);
	reset();
	map(4), t("v"), u(0);
	expect_batch(ODO_ERR_WIRE_VERSION, "v", 3);
	reset();
	map(4), t("v"), neg(0);
	expect_batch(ODO_ERR_WIRE_VERSION, "v", 3);
	reset();
	map(3), t("v"), u(7);
	expect_ack(ODO_ERR_WIRE_VERSION, "v");
	/* the keys of version 2 are not those of version 1 */
	reset();
	map(6), t("v"), u(1), t("dev"), t("d1");
	size_t at = g.n;
	t("ep"), u(7);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "ep", (long)at);
	reset();
	map(4), t("v"), u(1), t("dev"), t("d1");
	at = g.n;
	t("af"), u(0);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "af", (long)at);
	reset();
	map(4), t("v"), u(1), t("dev"), t("d1"), t("ep"), u(0);
	expect_ack(ODO_ERR_WIRE_UNKNOWN, "ep");
	/* a version 1 ack decodes as epoch 0 */
	reset();
	map(3), t("v"), u(1), t("dev"), t("d1"), t("ack"), u(9);
	struct odo_ack a;
	assert_int_equal(odo_wire_decode_ack(g.b, g.n, &a, NULL), ODO_OK);
	assert_true(a.v == 1 && a.epoch == 0 && a.ack == 9);
	/* version 2 kinds and keys are unknown in a version 1 batch: that
	 * record alone is refused */
	reset();
	hdr1(1, 2), phone(1), rec(0, 2, ODO_REC_TRACK);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[1].k", (long)g.n - 1);
	reset();
	hdr1(1, 1), rec(0, 2, ODO_REC_CRASH_TRACE);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].k", (long)g.n - 1);
	reset();
	hdr1(1, 1), rec(6, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(1), t("src"), u(0), t("dur"), u(5);
	at = g.n;
	t("gr"), u(2), fill(1);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].gr", (long)at);
	reset();
	hdr1(1, 1), rec(11, 1, ODO_REC_STATUS);
	static const char *const st[] = { "up", "obd", "oage", "evict", "rc", "canerr", "gpserr", "accerr", "fix", "clk" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(st); i++)
		t(st[i]), u(0);
	at = g.n;
	t("cal"), u(1);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].cal", (long)at);
	/* "jerk" is required in version 1, optional in version 2 */
	static const char *const req[] = { "dist", "dur", "mov", "idle", "vavg", "vmax", "night",
					   "lnw",  "rush", "heavy", "scr", "call" };
	static const char *const cnt[] = { "phc", "hb", "ra", "hc", "sw", "cr" };
	for (unsigned v = 1; v <= 2; v++) {
		reset();
		if (v == 1)
			hdr1(1, 1);
		else
			hdr(1, 1);
		rec(23, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(1763800000000ULL), t("t1"),
			u(1763800000000ULL);
		for (size_t i = 0; i < ODO_ARRAY_LEN(req); i++)
			t(req[i]), f32(1.0f);
		for (size_t i = 0; i < ODO_ARRAY_LEN(cnt); i++)
			t(cnt[i]), u(0);
		t("dtc"), bl(0), t("air"), bl(0);
		if (v == 1) {
			expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].jerk", -1);
		} else {
			struct odo_batch b = { .recs = g_recs, .cap = 2 };
			assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, NULL), ODO_OK);
			assert_true(isnan(b.recs[0].u.trip_end.mean_abs_jerk));
		}
	}
}

static void test_type(void **state)
{
	(void)state;
	reset();
	arr(0);
	expect_batch(ODO_ERR_WIRE_TYPE, "", 0);
	reset();
	map(4), t("v"), t("1");
	expect_batch(ODO_ERR_WIRE_TYPE, "v", 3);
	reset();
	map(4), t("v"), u(1), t("dev"), u(5);
	expect_batch(ODO_ERR_WIRE_TYPE, "dev", 8);
	reset();
	map(4), t("recs"), map(0);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs", 6);
	reset();
	map(6), t("v"), u(2), t("ep"), f32(1.0f);
	expect_batch(ODO_ERR_WIRE_TYPE, "ep", 7);
	reset();
	hdr(1, 1), arr(0); /* a record that is not a map */
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0]", (long)g.n - 1);
	reset();
	map(4), u(1);
	expect_batch(ODO_ERR_WIRE_TYPE, "<key>", 1);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_TRIP_START);
	t("trip"), u(1), t("lat"), u(48), fill(1);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].lat", (long)g.n - 6);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_PHONE);
	t("scr"), u(1), fill(2);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].scr", (long)g.n - 9);
	reset();
	hdr(1, 1);
	map(4), t("s"), u(1), t("t"), raw("c11a5f000000"), t("ts"), u(0), t("k"), u(7);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].t", -1);
	reset();
	hdr(1, 1);
	map(4), t("k"), t("phone"), t("s"), u(1), t("t"), u(5), t("ts"), u(0);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].k", -1);
	reset();
	hdr(1, 1);
	map(1); /* nested deeper than any field of the format: cannot be skipped */
	t("zz");
	size_t at = g.n;
	arr(1), arr(1), arr(1), arr(1), u(1);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].zz", (long)at + 2);
	reset();
	hdr(1, 1);
	rec(2, 1, ODO_REC_DTC);
	t("ecu"), u(0x7e8), t("st"), arr(1), u(301);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].st[0]", (long)g.n - 3);
	reset();
	hdr(1, 1);
	rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("dt"), arr(2), u(0), f32(1.0f), fill(4);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].dt[1]", (long)g.n - 5 - 4 * 4);
	reset();
	hdr(1, 1);
	rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("la"), arr(2), u(0), raw("f6"), fill(4); /* null only in v, e */
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].la[1]", (long)g.n - 1 - 4 * 4);
	reset();
	hdr(1, 1);
	rec(10, 1, ODO_REC_CRASH_TRACE), t("trip"), u(1), t("air"), u(1), fill(8);
	expect_rec(ODO_ERR_WIRE_TYPE, "recs[0].air", (long)g.n - 1 - 8 * 4);
}

static void test_missing(void **state)
{
	(void)state;
	reset();
	map(3), t("v"), u(1), t("dev"), t("d1"), t("seq"), u(1);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs", 0);
	reset();
	map(3), t("v"), u(1), t("seq"), u(1), t("recs"), arr(1), phone(1);
	expect_batch(ODO_ERR_WIRE_MISSING, "dev", 0);
	reset();
	map(5), t("v"), u(2), t("dev"), t("d1"), t("af"), u(0), t("seq"), u(1), t("recs"), arr(1), phone(1);
	expect_batch(ODO_ERR_WIRE_MISSING, "ep", 0);
	reset();
	map(5), t("v"), u(2), t("dev"), t("d1"), t("ep"), u(0), t("seq"), u(1), t("recs"), arr(1), phone(1);
	expect_batch(ODO_ERR_WIRE_MISSING, "af", 0);
	reset();
	hdr(1, 1);
	size_t at = g.n;
	map(3), t("s"), u(1), t("t"), u(5), t("ts"), u(0);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].k", (long)at);
	reset();
	hdr(1, 1);
	map(6), t("t"), u(5), t("ts"), u(0), t("k"), u(7), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].s", -1); /* no "s": the range is unknown */
	reset();
	hdr(1, 1);
	rec(2, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].hand", -1);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("lat"), f64(48.1);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].lon", -1);
	reset();
	hdr(1, 1);
	rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(ODO_EV_HARD_BRAKE), t("src"), u(0), t("dur"), u(5);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].pk", -1);
	reset();
	hdr(1, 1);
	rec(5, 1, ODO_REC_TRACK), t("trip"), u(1), t("dt"), arr(1), u(0), t("la"), arr(1), u(0), t("lo"), arr(1),
		u(0), t("v"), arr(1), u(0);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].e", -1);
	reset();
	map(2), t("v"), u(1), t("dev"), t("d1");
	expect_ack(ODO_ERR_WIRE_MISSING, "ack");
	reset();
	map(3), t("v"), u(2), t("dev"), t("d1"), t("ack"), u(1);
	expect_ack(ODO_ERR_WIRE_MISSING, "ep");
}

static void test_range(void **state)
{
	(void)state;
	reset();
	map(4), t("v"), u(1), t("dev"), t("a/b");
	expect_batch(ODO_ERR_WIRE_RANGE, "dev", 8);
	reset();
	map(4), t("v"), u(1), t("dev"), t("");
	expect_batch(ODO_ERR_WIRE_RANGE, "dev", 8);
	reset();
	map(4), t("v"), u(1), t("dev"), txtn("a\0b", 3);
	expect_batch(ODO_ERR_WIRE_RANGE, "dev", 8);
	reset();
	map(4), t("v"), u(1), t("seq"), u(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "seq", 8);
	reset();
	map(4), t("v"), u(1), t("seq"), neg(4);
	expect_batch(ODO_ERR_WIRE_RANGE, "seq", 8);
	reset();
	hdr(1, 0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs", (long)g.n - 1);
	reset();
	hdr(5, 2), phone(4), phone(9); /* range start above the first record */
	expect_batch(ODO_ERR_WIRE_RANGE, "seq", (long)offset_of_text("seq") + 4);
	reset();
	hdr(1, 3), phone(2), phone(5);
	size_t third = g.n;
	phone(5); /* not increasing */
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[2].s", (long)third);
	reset();
	hdr(1, 1), rec(3, 0, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].s", -1);
	/* the acked floor is below the range start */
	reset();
	map(6), t("v"), u(2), t("dev"), t("d1"), t("ep"), u(1), t("af"), u(4);
	size_t af = g.n - 1;
	t("seq"), u(4), t("recs"), arr(1), phone(4);
	expect_batch(ODO_ERR_WIRE_RANGE, "af", (long)af);
	reset();
	hdr(1, 1);
	map(4), t("k"), u(7), t("s"), u(1), t("t"), neg(0), t("ts"), u(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].t", (long)g.n - 5);
	reset();
	hdr(1, 1);
	map(4), t("k"), u(7), t("s"), u(1), t("t"), u(1), t("ts"), u(2);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ts", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_TRIP_START), t("trip"), u(1), t("lat"), f32(91.0f), fill(1);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].lat", (long)g.n - 9);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_TRIP_START), t("trip"), u(1), t("lat"), f32(1.0f), t("lon"), f64(-180.5);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].lon", (long)g.n - 9);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("v"), f64(NAN);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].v", (long)g.n - 9);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("alt"), raw("f97c00");
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].alt", (long)g.n - 3); /* half-precision infinity */
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("hdg"), f32(360.0f);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].hdg", -1);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(4), fill(1);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].fix", (long)g.n - 5);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(7), t("src"), u(4), t("dur"), neg(9);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].dur", (long)g.n - 1); /* negative duration */
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(5), t("t1"), u(9), t("dist"),
		f32(-1.0f); /* negative distance */
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].dist", (long)g.n - 5);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t("1HGCM82633A00435"), t("ecu"), u(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].vin", -1);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t("1HGCM82633A00435I"), t("ecu"), u(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].vin", -1);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t(""), t("ecu"), u(65536);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ecu", (long)g.n - 5);
	static const char *const bad_dtcs[] = { "P4301", "X0301", "P030G", "p0301", "P03", "P0 01" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad_dtcs); i++) {
		reset();
		hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("pd"), arr(2), t("P0301"),
			t(bad_dtcs[i]);
		expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].pd[1]", (long)(g.n - 1 - strlen(bad_dtcs[i])));
	}
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("pm"), arr(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].pm", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(23, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(5000), t("t1"), u(4999);
	static const char *const req[] = { "dist", "dur", "mov", "idle", "vavg", "vmax", "night",
					   "lnw",  "rush", "heavy", "scr", "call" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(req); i++)
		t(req[i]), f32(1.0f);
	static const char *const cnt[] = { "phc", "hb", "ra", "hc", "sw", "cr" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(cnt); i++)
		t(cnt[i]), u(0);
	t("dtc"), bl(0), t("air"), bl(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].t1", -1);
}

/* Every integer fits the PostgreSQL column it is written to (bigint,
 * integer), and an event lasts at most a day. */
static void test_database_bounds(void **state)
{
	(void)state;
	const uint64_t big = (uint64_t)INT64_MAX + 1, cnt = (uint64_t)INT32_MAX + 1;
	reset();
	map(6), t("v"), u(2), t("dev"), t("d1"), t("ep"), u(big);
	expect_batch(ODO_ERR_WIRE_RANGE, "ep", 14);
	reset();
	map(6), t("v"), u(2), t("dev"), t("d1"), t("af"), u(big);
	expect_batch(ODO_ERR_WIRE_RANGE, "af", 14);
	reset();
	map(6), t("v"), u(2), t("dev"), t("d1"), t("seq"), u(big);
	expect_batch(ODO_ERR_WIRE_RANGE, "seq", 15);
	reset();
	hdr(1, 1), rec(3, big, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].s", -1); /* the range cannot be known */
	reset();
	hdr(1, 1), rec(1, 1, ODO_REC_TRIP_START), t("trip"), u(big);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].trip", (long)g.n - 9);
	reset();
	hdr(1, 1), map(4), t("s"), u(1), t("t"), u(big), t("ts"), u(0), t("k"), u(7);
	g_limp = NULL; /* even without a clock */
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].t", -1);
	reset();
	hdr(1, 1), rec(22, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(5000), t("t1"), u(5000);
	size_t at = g.n;
	t("hb"), u(cnt), fill(18);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].hb", (long)at + 3);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(7), t("src"), u(4);
	at = g.n;
	t("dur"), u(ODO_WIRE_MAX_EVENT_MS + 1);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].dur", (long)at + 4);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(7), t("src"), u(4), t("dur"),
		u(ODO_WIRE_MAX_EVENT_MS);
	struct odo_batch b = { .recs = g_recs, .cap = 2 };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	/* floats: finite is not enough (a hostile 1e306 m/s overflowed the
	 * collector's mph conversion), each has a physical bound */
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3);
	at = g.n;
	t("v"), f64(1e306);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].v", (long)at + 2);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("v"), f64(ODO_WIRE_MAX_SPEED_MPS);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	reset();
	hdr(1, 1), rec(6, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(1), t("src"), u(0), t("dur"), u(500);
	at = g.n;
	t("pk"), f64(-ODO_WIRE_MAX_G - 1), t("mg"), f32(-0.3f);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].pk", (long)at + 3);
	reset();
	hdr(1, 1), rec(10, 1, ODO_REC_STATUS), t("up"), u(big), fill(9);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].up", -1);
	reset();
	map(4), t("v"), u(2), t("dev"), t("d1"), t("ep"), u(1), t("ack"), u(big);
	expect_ack(ODO_ERR_WIRE_RANGE, "ack");
	reset();
	map(4), t("v"), u(2), t("dev"), t("d1"), t("ep"), u(big), t("ack"), u(1);
	expect_ack(ODO_ERR_WIRE_RANGE, "ep");
}

/* The receiver's clock: timestamps before 2000-01-01 or more than a day
 * ahead refuse their record alone; without limits there is no window. */
static void test_time_window(void **state)
{
	(void)state;
	const int64_t now = g_lim.now_ms, day = 86400000;
	g_limp = &g_lim;
	const uint64_t bad_t[] = { 0, 946684799999ULL, (uint64_t)(now + day + 1), (uint64_t)INT64_MAX };
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad_t); i++) {
		reset();
		hdr(1, 2), phone(1);
		size_t at = g.n;
		map(7), t("s"), u(2), t("t");
		size_t toff = g.n;
		u(bad_t[i]), t("ts"), u(1), t("k"), u(7), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
		expect_rec(ODO_ERR_WIRE_RANGE, "recs[1].t", (long)toff);
		struct odo_batch b = { .recs = g_recs, .cap = 4, .bad = g_bad, .bad_cap = 4 };
		assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, NULL), ODO_OK);
		assert_int_equal(b.n, 1);
		assert_int_equal(b.bad[0].off, at);
		assert_int_equal(b.bad[0].seq, 2);
		assert_int_equal(b.last_seq, 2);
		/* no limits: only the bigint bound */
		int rc = odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL);
		assert_int_equal(rc, ODO_OK);
		assert_int_equal(b.nbad, bad_t[i] > (uint64_t)INT64_MAX ? 1 : 0);
	}
	const uint64_t good_t[] = { 946684800000ULL, (uint64_t)(now + day) };
	for (size_t i = 0; i < ODO_ARRAY_LEN(good_t); i++) {
		reset();
		hdr(1, 1), map(7), t("s"), u(1), t("t"), u(good_t[i]), t("ts"), u(1), t("k"), u(7), t("scr"), bl(0),
			t("call"), u(0), t("hand"), bl(0);
		struct odo_batch b = { .recs = g_recs, .cap = 4, .bad = g_bad, .bad_cap = 4 };
		assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, NULL), ODO_OK);
		assert_int_equal(b.nbad, 0);
	}
	/* t0, t1 of a trip end and ct of a crash trace too */
	reset();
	hdr(1, 1), rec(23, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0");
	size_t at = g.n;
	u(5000), fill(21);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].t0", (long)at);
	reset();
	hdr(1, 1), rec(23, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(1763800000000ULL), t("t1");
	at = g.n;
	u((uint64_t)(now + 2 * day)), fill(20);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].t1", (long)at);
	reset();
	hdr(1, 1), rec(9, 1, ODO_REC_CRASH_TRACE), t("trip"), u(1), t("ct");
	at = g.n;
	u(1000), fill(7);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ct", (long)at);
	g_limp = NULL;
}

static void test_grades(void **state)
{
	(void)state;
	const uint64_t g0[] = { 0, 4 };
	for (size_t i = 0; i < ODO_ARRAY_LEN(g0); i++) {
		reset();
		hdr(1, 1), rec(7, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(1), t("src"), u(0), t("dur"), u(5),
			t("pk"), f32(-0.5f), t("mg"), f32(-0.3f), t("gr");
		u(g0[i]);
		expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].gr", (long)g.n - 1);
	}
	/* crashes and phone distraction are not graded */
	reset();
	hdr(1, 1), rec(7, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(6), t("src"), u(0), t("dur"), u(5), t("pk"),
		f32(-3.5f), t("mg"), f32(-2.0f), t("gr"), u(3);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].gr", -1);
	/* trip end: a family's three grades come together, and hb = hb2 + hb3 */
	static const char *const req[] = { "dist", "dur", "mov", "idle", "vavg", "vmax", "night",
					   "lnw",  "rush", "heavy", "scr", "call" };
	static const char *const cnt[] = { "phc", "ra", "hc", "sw", "cr" };
	for (int c = 0; c < 3; c++) {
		reset();
		hdr(1, 1), rec(c == 0 ? 25 : 26, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(1763800000000ULL),
			t("t1"), u(1763800000000ULL);
		for (size_t i = 0; i < ODO_ARRAY_LEN(req); i++)
			t(req[i]), f32(1.0f);
		for (size_t i = 0; i < ODO_ARRAY_LEN(cnt); i++)
			t(cnt[i]), u(0);
		t("dtc"), bl(0), t("air"), bl(0);
		t("hb"), u(3);
		if (c == 0) {
			t("hb2"), u(2), t("hb3"), u(1);
			expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].hb1", -1);
		} else {
			t("hb1"), u(9), t("hb2"), u(2), t("hb3"), u(c == 1 ? 0 : 1);
			if (c == 1) {
				expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].hb", -1);
			} else {
				struct odo_batch b = { .recs = g_recs, .cap = 2 };
				assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
				assert_int_equal(b.recs[0].u.trip_end.hard_brakes_g[0], 9);
				assert_int_equal(b.recs[0].u.trip_end.rapid_accels_g[0], -1);
			}
		}
	}
	/* the jerk is the accelerometer's: never with lsrc 1 (speed derivative only) */
	for (int l = 0; l <= 2; l++) {
		reset();
		hdr(1, 1), rec(25, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(1763800000000ULL), t("t1"),
			u(1763800000000ULL);
		for (size_t i = 0; i < ODO_ARRAY_LEN(req); i++)
			t(req[i]), f32(1.0f);
		for (size_t i = 0; i < ODO_ARRAY_LEN(cnt); i++)
			t(cnt[i]), u(0);
		t("hb"), u(0), t("dtc"), bl(0), t("air"), bl(0), t("lsrc"), u((uint64_t)l), t("jerk"), f32(0.5f);
		if (l == ODO_LSRC_SPEED) {
			expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].jerk", -1);
		} else {
			struct odo_batch b = { .recs = g_recs, .cap = 2 };
			assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
		}
	}
	/* calibration state */
	reset();
	hdr(1, 1), rec(11, 1, ODO_REC_STATUS);
	static const char *const st[] = { "up", "obd", "oage", "evict", "rc", "canerr", "gpserr", "accerr", "fix", "clk" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(st); i++)
		t(st[i]), u(0);
	t("cal"), u(3);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].cal", (long)g.n - 1);
	g.n -= 1, u(2);
	struct odo_batch b = { .recs = g_recs, .cap = 2 };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	assert_int_equal(b.recs[0].u.status.calib_state, ODO_CAL_RELEARNING);
	g.n -= 5, t("yaw"), f32(180.0f);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].yaw", (long)g.n - 5);
	g.n -= 9, t("calq"), f32(1.5f);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].calq", (long)g.n - 5);
}

/* A track record with five lists of n elements: dt, la, lo, v, e. */
static void track(uint64_t seq, size_t n, const int64_t *la)
{
	rec(6, seq, ODO_REC_TRACK);
	t("trip"), u(1);
	t("dt"), arr(n);
	for (size_t i = 0; i < n; i++)
		u(10);
	t("la"), arr(n);
	for (size_t i = 0; i < n; i++)
		la[i] < 0 ? neg((uint64_t)(-1 - la[i])) : u((uint64_t)la[i]);
	t("lo"), arr(n);
	for (size_t i = 0; i < n; i++)
		u(5);
	t("v"), arr(n);
	for (size_t i = 0; i < n; i++)
		i % 2 ? raw("f6") : u(100);
	t("e"), arr(n);
	for (size_t i = 0; i < n; i++)
		u(3);
}

static void test_track(void **state)
{
	(void)state;
	int64_t la[ODO_WIRE_MAX_TRACK + 1];
	for (size_t i = 0; i <= ODO_WIRE_MAX_TRACK; i++)
		la[i] = i ? -7 : 48000000;
	reset();
	hdr(1, 1), track(1, ODO_WIRE_MAX_TRACK, la);
	struct odo_batch b = { .recs = g_recs, .cap = 2 };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	assert_int_equal(b.recs[0].u.track.n, ODO_WIRE_MAX_TRACK);
	assert_int_equal(b.recs[0].u.track.pt[63].lat_e6, 48000000 - 63 * 7);
	assert_int_equal(b.recs[0].u.track.pt[1].v_dms, -1);
	assert_int_equal(b.recs[0].u.track.pt[2].v_dms, 100);
	reset();
	hdr(1, 1), track(1, ODO_WIRE_MAX_TRACK + 1, la);
	expect_rec(ODO_ERR_WIRE_TOOLONG, "recs[0].dt", (long)offset_of_text("dt") + 3);
	la[0] = 90000001;
	reset();
	hdr(1, 1), track(1, 2, la);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].la[0]", (long)offset_of_text("la") + 4);
	la[0] = 89999999, la[1] = 2; /* the sum leaves the range */
	reset();
	hdr(1, 1), track(1, 2, la);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].la[1]", (long)offset_of_text("la") + 9);
	la[0] = 0, la[1] = 180000001; /* no two latitudes differ by that much */
	reset();
	hdr(1, 1), track(1, 2, la);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].la[1]", (long)offset_of_text("la") + 5);
	la[1] = INT64_MIN;
	reset();
	hdr(1, 1), track(1, 2, la);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].la[1]", (long)offset_of_text("la") + 5);
	/* lists of different lengths */
	reset();
	hdr(1, 1), rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("dt"), arr(2), u(0), u(10);
	size_t at = g.n;
	t("la"), arr(1), u(0), t("lo"), arr(1), u(0), t("v"), arr(1), u(0), t("e"), arr(1), u(0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].la", (long)at + 3);
	reset();
	hdr(1, 1), rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("dt"), arr(0), fill(4);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].dt", (long)offset_of_text("dt") + 3);
	reset();
	hdr(1, 1), rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("dt"), arr(1), u(65536), fill(4);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].dt[0]", (long)offset_of_text("dt") + 4);
	reset();
	hdr(1, 1), rec(6, 1, ODO_REC_TRACK), t("trip"), u(1), t("e"), arr(1), neg(0), fill(4);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].e[0]", (long)offset_of_text("e") + 3);
}

static void trace_head(size_t extra, uint64_t part, uint64_t parts, uint64_t hz, uint64_t fr)
{
	rec(6 + extra, 1, ODO_REC_CRASH_TRACE);
	t("trip"), u(1), t("ct"), u(1763900001000ULL), t("i"), u(part), t("n"), u(parts), t("hz"), u(hz), t("fr"),
		u(fr);
}

static void axis(const char *k, size_t n, int64_t v)
{
	t(k), arr(n);
	for (size_t i = 0; i < n; i++)
		v < 0 ? neg((uint64_t)(-1 - v)) : u((uint64_t)v);
}

static void test_crash_trace(void **state)
{
	(void)state;
	struct odo_batch b = { .recs = g_recs, .cap = 2 };
	reset();
	hdr(1, 1), trace_head(3, 255, 256, 1000, 1), axis("ax", 128, -32768), axis("ay", 128, 32767), axis("az", 128, 0);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, NULL), ODO_OK);
	assert_int_equal(b.recs[0].u.crash_trace.ax[127], -32768);
	assert_int_equal(b.recs[0].u.crash_trace.airbag, -1);
	reset();
	hdr(1, 1), trace_head(3, 3, 3, 100, 0), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].i", -1);
	reset();
	hdr(1, 1), trace_head(3, 0, 0, 100, 0), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].n", (long)offset_of_text("n") + 2);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 0, 0), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].hz", (long)offset_of_text("hz") + 3);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 1001, 0), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].hz", (long)offset_of_text("hz") + 3);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 100, 2), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].fr", (long)offset_of_text("fr") + 3);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 100, 0), axis("ax", 1, 32768), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ax[0]", (long)offset_of_text("ax") + 4);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 100, 0), axis("ax", 1, -32769), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ax[0]", (long)offset_of_text("ax") + 4);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 100, 0), axis("ax", 2, 0), axis("ay", 1, 0), axis("az", 2, 0);
	expect_rec(ODO_ERR_WIRE_RANGE, "recs[0].ay", (long)offset_of_text("ay") + 3);
	reset();
	hdr(1, 1), trace_head(3, 0, 1, 100, 0), axis("ax", 129, 0), axis("ay", 1, 0), axis("az", 1, 0);
	expect_rec(ODO_ERR_WIRE_TOOLONG, "recs[0].ax", (long)offset_of_text("ax") + 3);
	reset();
	hdr(1, 1), trace_head(4, 0, 1, 100, 0), axis("ax", 1, 0), axis("ay", 1, 0), axis("az", 1, 0), t("lat"),
		f32(1.0f);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].lon", -1);
	reset();
	hdr(1, 1), trace_head(2, 0, 1, 100, 0), axis("ax", 1, 0), axis("ay", 1, 0);
	expect_rec(ODO_ERR_WIRE_MISSING, "recs[0].az", -1);
}

/* Refused records leave the others alone; each is reported with its index,
 * seq and exact bytes, which decode alone to the same error. */
static void test_record_level(void **state)
{
	(void)state;
	reset();
	hdr(2, 5);
	phone(2);
	size_t b1 = g.n;
	rec(3, 4, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(9), t("hand"), bl(0); /* call out of range */
	size_t e1 = g.n;
	phone(5);
	size_t b2 = g.n;
	rec(1, 6, ODO_REC_PHONE), t("zz"), u(0); /* unknown key */
	size_t e2 = g.n;
	phone(9);
	struct odo_batch b = { .recs = g_recs, .cap = 8, .bad = g_bad, .bad_cap = 8 };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, &err), ODO_OK);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.recs[0].seq, 2);
	assert_int_equal(b.recs[1].seq, 5);
	assert_int_equal(b.recs[2].seq, 9);
	assert_int_equal(b.recs[1].off, e1); /* every record's bytes */
	assert_int_equal(b.recs[1].len, b2 - e1);
	assert_int_equal(b.recs[0].off + b.recs[0].len, b1);
	assert_int_equal(b.seq, 2);
	assert_int_equal(b.last_seq, 9);
	assert_int_equal(b.nbad, 2);
	assert_int_equal(b.bad[0].index, 1);
	assert_int_equal(b.bad[0].seq, 4);
	assert_int_equal(b.bad[0].off, b1);
	assert_int_equal(b.bad[0].len, e1 - b1);
	assert_string_equal(b.bad[0].err.field, "recs[1].call");
	assert_int_equal(b.bad[1].index, 3);
	assert_int_equal(b.bad[1].seq, 6);
	assert_int_equal(b.bad[1].off, b2);
	assert_int_equal(b.bad[1].len, e2 - b2);
	assert_int_equal(b.bad[1].err.code, ODO_ERR_WIRE_UNKNOWN);
	assert_string_equal(b.bad[1].err.field, "recs[3].zz");
	/* the raw bytes of a refused record are that record */
	struct odo_record r;
	assert_int_equal(odo_wire_decode_record(g.b + b.bad[0].off, b.bad[0].len, &r, &err), ODO_ERR_WIRE_RANGE);
	assert_string_equal(err.field, "call");
	/* room for one refusal only: the second refuses the whole message */
	b.bad_cap = 1;
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, &err), ODO_ERR_WIRE_UNKNOWN);
	assert_string_equal(err.field, "recs[3].zz");
	assert_true(b.n == 0 && b.nbad == 0);
	/* every record refused: still a batch, its range still known */
	reset();
	hdr(1, 2);
	rec(0, 1, 11);
	rec(0, 3, 12);
	b.bad_cap = 8;
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, &err), ODO_OK);
	assert_true(b.n == 0 && b.nbad == 2 && b.seq == 1 && b.last_seq == 3);
	/* a refused record does not hide a message-level error after it */
	reset();
	hdr(1, 2);
	rec(0, 1, 11);
	rec(0, 1, 7);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &g_lim, &b, &err), ODO_ERR_WIRE_RANGE);
	assert_string_equal(err.field, "recs[1].s");
	assert_true(b.n == 0 && b.nbad == 0);
}

static void test_toolong(void **state)
{
	(void)state;
	struct odo_batch b = { .recs = g_recs, .cap = 1 };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(g.b, ODO_WIRE_MAX_MESSAGE + 1, NULL, &b, &err), ODO_ERR_WIRE_TOOLONG);
	assert_string_equal(err.field, "");
	struct odo_record r;
	assert_int_equal(odo_wire_decode_record(g.b, ODO_WIRE_MAX_RECORD_BYTES + 1, &r, &err),
			 ODO_ERR_WIRE_TOOLONG);
	char dev[ODO_DEVICE_ID_MAX + 2];
	memset(dev, 'a', sizeof(dev));
	dev[ODO_DEVICE_ID_MAX + 1] = 0;
	reset();
	map(4), t("v"), u(1), t("dev"), t(dev);
	expect_batch(ODO_ERR_WIRE_TOOLONG, "dev", 8);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t("1HGCM82633A0043521"), t("ecu"), u(0);
	expect_rec(ODO_ERR_WIRE_TOOLONG, "recs[0].vin", (long)g.n - 24);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("st");
	size_t at = g.n;
	arr(ODO_WIRE_MAX_DTCS + 1);
	for (int i = 0; i <= ODO_WIRE_MAX_DTCS; i++)
		t("P0301");
	expect_rec(ODO_ERR_WIRE_TOOLONG, "recs[0].st", (long)at);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("st"), arr(1), t("P03011");
	expect_rec(ODO_ERR_WIRE_TOOLONG, "recs[0].st[0]", (long)g.n - 7);
	reset();
	hdr(1, ODO_WIRE_MAX_RECORDS + 1);
	at = g.n - 3;
	for (uint64_t i = 1; i <= ODO_WIRE_MAX_RECORDS + 1; i++)
		phone(i);
	expect_batch(ODO_ERR_WIRE_TOOLONG, "recs", (long)at);
	/* exactly the maximum is fine */
	reset();
	hdr(1, ODO_WIRE_MAX_RECORDS);
	for (uint64_t i = 1; i <= ODO_WIRE_MAX_RECORDS; i++)
		phone(i);
	b.cap = ODO_WIRE_MAX_RECORDS;
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, &err), ODO_OK);
	assert_int_equal(b.n, ODO_WIRE_MAX_RECORDS);
	reset();
	raw("a3");
	for (int i = 0; i < 300; i++)
		raw("00");
	expect_ack(ODO_ERR_WIRE_TOOLONG, "");
}

static void test_trailing(void **state)
{
	(void)state;
	reset();
	hdr(1, 1), phone(1);
	size_t end = g.n;
	raw("00");
	expect_batch(ODO_ERR_WIRE_TRAILING, "", (long)end);
	reset();
	map(3), t("v"), u(1), t("dev"), t("d1"), t("ack"), u(0), raw("a0");
	expect_ack(ODO_ERR_WIRE_TRAILING, "");
	reset();
	phone(1), raw("f6");
	struct odo_record r;
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_record(g.b, g.n, &r, &err), ODO_ERR_WIRE_TRAILING);
	assert_int_equal(err.offset, g.n - 1);
}

static void test_unknown(void **state)
{
	(void)state;
	reset();
	map(4), t("v"), u(1), t("x"), u(1);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "x", 4);
	reset();
	hdr(1, 1), rec(0, 1, ODO_REC__MAX + 1);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].k", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(0, 1, 0);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].k", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	size_t at = g.n;
	t("lat"), f32(1.0f); /* a key of another kind */
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].lat", (long)at);
	reset();
	hdr(1, 1), rec(1, 1, ODO_REC_PHONE);
	at = g.n;
	t("a_key_much_longer_than_any"), u(1);
	expect_rec(ODO_ERR_WIRE_UNKNOWN, "recs[0].<key>", (long)at);
	reset();
	map(3), t("v"), u(1), t("seq"), u(1);
	expect_ack(ODO_ERR_WIRE_UNKNOWN, "seq");
}

static void test_duplicate(void **state)
{
	(void)state;
	reset();
	map(4), t("v"), u(1), t("v"), u(1);
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "v", 4);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	size_t at = g.n;
	t("s"), u(1);
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "recs[0].s", (long)at); /* which "s" is the record's? */
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	at = g.n;
	t("k"), u(7);
	expect_rec(ODO_ERR_WIRE_DUPLICATE, "recs[0].k", (long)at);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("call"), u(0), fill(1);
	expect_rec(ODO_ERR_WIRE_DUPLICATE, "recs[0].call", (long)g.n - 10);
	reset();
	map(3), t("v"), u(1), t("ack"), u(1), t("ack"), u(2);
	expect_ack(ODO_ERR_WIRE_DUPLICATE, "ack");
	reset();
	map(6), t("v"), u(2), t("ep"), u(1), t("ep"), u(2);
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "ep", 8);
}

static void test_null_args(void **state)
{
	(void)state;
	struct odo_wire_error err;
	struct odo_record r;
	struct odo_ack a;
	assert_int_equal(odo_wire_decode_batch(g.b, 1, NULL, NULL, &err), ODO_ERR_INVAL);
	struct odo_batch b = { .recs = g_recs, .cap = 1, .bad = NULL, .bad_cap = 3 };
	assert_int_equal(odo_wire_decode_batch(g.b, 1, NULL, &b, &err), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_decode_record(NULL, 3, &r, &err), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_decode_ack(NULL, 3, &a, NULL), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_baseline),  cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_version),         cmocka_unit_test(test_type),
		cmocka_unit_test(test_missing),         cmocka_unit_test(test_range),
		cmocka_unit_test(test_database_bounds), cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_grades),          cmocka_unit_test(test_track),
		cmocka_unit_test(test_crash_trace),     cmocka_unit_test(test_record_level),
		cmocka_unit_test(test_toolong),         cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_unknown),         cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_null_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
