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

/* {"v":1,"dev":"d1","seq":seq,"recs":[ ...n records follow */
static void hdr(uint64_t seq, size_t n)
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

static void expect_batch_(int code, const char *field, long offset, int line)
{
	struct odo_batch b = { .recs = g_recs, .cap = ODO_ARRAY_LEN(g_recs) };
	struct odo_wire_error err;
	memset(&err, 0x55, sizeof(err));
	int rc = odo_wire_decode_batch(g.b, g.n, &b, &err);
	if (rc != code || strcmp(err.field, field) != 0)
		fail_msg("line %d: want %s/\"%s\", got %s/\"%s\": %s", line, odo_strerror(code), field, odo_strerror(rc),
			 err.field, rc ? err.msg : "");
	assert_int_equal(err.code, code);
	assert_true(strlen(err.msg) > 10 && err.msg[strlen(err.msg) - 1] == '.');
	assert_true(err.offset <= g.n);
	if (offset >= 0 && err.offset != (size_t)offset)
		fail_msg("line %d: offset %zu, want %ld (%s)", line, err.offset, offset, err.msg);
	assert_int_equal(b.n, 0);
}

#define expect_batch(c, f, o) expect_batch_(c, f, o, __LINE__)

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
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &b, NULL), ODO_OK);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.recs[1].seq, 3);
	/* key order is free; half-precision floats are accepted */
	reset();
	map(4);
	t("recs"), arr(1);
	rec(3, 7, ODO_REC_TRIP_START);
	t("lon"), raw("f93e00"); /* 1.5 */
	t("trip"), u(2);
	t("lat"), f64(-0.25);
	t("seq"), u(7);
	t("dev"), t("d1");
	t("v"), u(1);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &b, NULL), ODO_OK);
	assert_true(b.recs[0].u.trip_start.lon == 1.5 && b.recs[0].u.trip_start.lat == -0.25);
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
	map(1);
	raw("7a7fffffff"); /* key longer than the message */
	expect_batch(ODO_ERR_WIRE_MALFORMED, "<key>", 1);
}

static void test_version(void **state)
{
	(void)state;
	reset();
	map(4), t("v"), u(2);
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
	hdr(1, 1), arr(0);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0]", (long)g.n - 1);
	reset();
	map(4), u(1);
	expect_batch(ODO_ERR_WIRE_TYPE, "<key>", 1);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_TRIP_START);
	t("trip"), u(1), t("lat"), u(48);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].lat", (long)g.n - 2);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_PHONE);
	t("scr"), u(1);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].scr", (long)g.n - 1);
	reset();
	hdr(1, 1);
	map(4), t("s"), u(1), t("t"), raw("c11a5f000000"), t("ts"), u(0), t("k"), u(7);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].t", -1);
	reset();
	hdr(1, 1);
	map(4), t("k"), t("phone");
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].k", -1);
	reset();
	hdr(1, 1);
	map(5); /* nested deeper than any field of the format, before "k" */
	t("zz");
	size_t at = g.n;
	arr(1), arr(1), arr(1), arr(1), u(1);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0]", (long)at + 2);
	reset();
	hdr(1, 1);
	rec(2, 1, ODO_REC_DTC);
	t("ecu"), u(0x7e8), t("st"), arr(1), u(301);
	expect_batch(ODO_ERR_WIRE_TYPE, "recs[0].st[0]", (long)g.n - 3);
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
	hdr(1, 1);
	size_t at = g.n;
	map(3), t("s"), u(1), t("t"), u(5), t("ts"), u(0);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].k", (long)at);
	reset();
	hdr(1, 1);
	map(6), t("t"), u(5), t("ts"), u(0), t("k"), u(7), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].s", -1);
	reset();
	hdr(1, 1);
	rec(2, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].hand", -1);
	reset();
	hdr(1, 1);
	rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("lat"), f64(48.1);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].lon", -1);
	reset();
	hdr(1, 1);
	rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(ODO_EV_HARD_BRAKE), t("src"), u(0), t("dur"), u(5);
	expect_batch(ODO_ERR_WIRE_MISSING, "recs[0].pk", -1);
	reset();
	map(2), t("v"), u(1), t("dev"), t("d1");
	expect_ack(ODO_ERR_WIRE_MISSING, "ack");
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
	reset();
	hdr(1, 1);
	map(4), t("k"), u(7), t("s"), u(1), t("t"), neg(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].t", (long)g.n - 1);
	reset();
	hdr(1, 1);
	map(4), t("k"), u(7), t("s"), u(1), t("t"), u(1), t("ts"), u(2);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].ts", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_TRIP_START), t("trip"), u(1), t("lat"), f32(91.0f);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].lat", (long)g.n - 5);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_TRIP_START), t("trip"), u(1), t("lat"), f32(1.0f), t("lon"), f64(-180.5);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].lon", (long)g.n - 9);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("v"), f64(NAN);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].v", (long)g.n - 9);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("alt"), raw("f97c00");
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].alt", (long)g.n - 3); /* half-precision infinity */
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(3), t("hdg"), f32(360.0f);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].hdg", -1);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_SAMPLE), t("trip"), u(1), t("fix"), u(4);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].fix", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_EVENT), t("trip"), u(1), t("ek"), u(7), t("src"), u(4), t("dur"), neg(9);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].dur", (long)g.n - 1); /* negative duration */
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(5), t("t1"), u(9), t("dist"),
		f32(-1.0f); /* negative distance */
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].dist", (long)g.n - 5);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t("1HGCM82633A00435"), t("ecu"), u(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].vin", -1);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t("1HGCM82633A00435I"), t("ecu"), u(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].vin", -1);
	reset();
	hdr(1, 1), rec(2, 1, ODO_REC_VEHICLE), t("vin"), t(""), t("ecu"), u(65536);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].ecu", (long)g.n - 5);
	static const char *const bad_dtcs[] = { "P4301", "X0301", "P030G", "p0301", "P03", "P0 01" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad_dtcs); i++) {
		reset();
		hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("pd"), arr(2), t("P0301"),
			t(bad_dtcs[i]);
		expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].pd[1]", (long)(g.n - 1 - strlen(bad_dtcs[i])));
	}
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("pm"), arr(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].pm", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(24, 1, ODO_REC_TRIP_END), t("trip"), u(1), t("t0"), u(5000), t("t1"), u(4999);
	static const char *const req[] = { "dist", "dur", "mov", "idle", "vavg", "vmax", "night", "lnw",
					   "rush", "heavy", "scr",  "call", "jerk" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(req); i++)
		t(req[i]), f32(1.0f);
	static const char *const cnt[] = { "phc", "hb", "ra", "hc", "sw", "cr" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(cnt); i++)
		t(cnt[i]), u(0);
	t("dtc"), bl(0), t("air"), bl(0);
	expect_batch(ODO_ERR_WIRE_RANGE, "recs[0].t1", -1);
}

static void test_toolong(void **state)
{
	(void)state;
	struct odo_batch b = { .recs = g_recs, .cap = 1 };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(g.b, ODO_WIRE_MAX_MESSAGE + 1, &b, &err), ODO_ERR_WIRE_TOOLONG);
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
	expect_batch(ODO_ERR_WIRE_TOOLONG, "recs[0].vin", (long)g.n - 24);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("st");
	size_t at = g.n;
	arr(ODO_WIRE_MAX_DTCS + 1);
	for (int i = 0; i <= ODO_WIRE_MAX_DTCS; i++)
		t("P0301");
	expect_batch(ODO_ERR_WIRE_TOOLONG, "recs[0].st", (long)at);
	reset();
	hdr(1, 1), rec(3, 1, ODO_REC_DTC), t("ecu"), u(1), t("air"), bl(0), t("st"), arr(1), t("P03011");
	expect_batch(ODO_ERR_WIRE_TOOLONG, "recs[0].st[0]", (long)g.n - 7);
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
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &b, &err), ODO_OK);
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
	hdr(1, 1), rec(0, 1, 9);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "recs[0].k", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(0, 1, 0);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "recs[0].k", (long)g.n - 1);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	size_t at = g.n;
	t("lat"), f32(1.0f); /* a key of another kind */
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "recs[0].lat", (long)at);
	reset();
	hdr(1, 1), rec(1, 1, ODO_REC_PHONE);
	at = g.n;
	t("a_key_much_longer_than_any"), u(1);
	expect_batch(ODO_ERR_WIRE_UNKNOWN, "recs[0].<key>", (long)at);
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
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "recs[0].s", (long)at);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("hand"), bl(0);
	at = g.n;
	t("k"), u(7);
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "recs[0].k", (long)at);
	reset();
	hdr(1, 1), rec(4, 1, ODO_REC_PHONE), t("scr"), bl(0), t("call"), u(0), t("call"), u(0);
	expect_batch(ODO_ERR_WIRE_DUPLICATE, "recs[0].call", (long)g.n - 6);
	reset();
	map(3), t("v"), u(1), t("ack"), u(1), t("ack"), u(2);
	expect_ack(ODO_ERR_WIRE_DUPLICATE, "ack");
}

static void test_null_args(void **state)
{
	(void)state;
	struct odo_wire_error err;
	struct odo_record r;
	struct odo_ack a;
	assert_int_equal(odo_wire_decode_batch(g.b, 1, NULL, &err), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_decode_record(NULL, 3, &r, &err), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_decode_ack(NULL, 3, &a, NULL), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_baseline), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_version),        cmocka_unit_test(test_type),
		cmocka_unit_test(test_missing),        cmocka_unit_test(test_range),
		cmocka_unit_test(test_toolong),        cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_unknown),        cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_null_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
