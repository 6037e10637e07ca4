/*
 * odo — wire format: encode/decode round trips for every record kind, the
 * float rule, batch/raw/ack encoding, encoder refusals and TOOBIG at every
 * buffer size below the needed one.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "odo/wire.h"
#include "wire_fixtures.h"

#define BUF 8192

/* Number of map entries each kind encodes: [kind][full]. */
static const unsigned expected_keys[ODO_REC__MAX + 1][2] = {
	[ODO_REC_TRIP_START] = { 5, 7 }, [ODO_REC_TRIP_END] = { 27, 58 }, [ODO_REC_EVENT] = { 8, 16 },
	[ODO_REC_SAMPLE] = { 6, 19 },    [ODO_REC_DTC] = { 6, 10 },       [ODO_REC_VEHICLE] = { 6, 6 },
	[ODO_REC_PHONE] = { 7, 7 },      [ODO_REC_STATUS] = { 14, 22 },   [ODO_REC_TRACK] = { 10, 10 },
	[ODO_REC_CRASH_TRACE] = { 13, 19 },
};

static unsigned map_size(const uint8_t *b)
{
	if ((b[0] & 0xe0) != 0xa0)
		return 9999;
	if ((b[0] & 0x1f) < 24)
		return b[0] & 0x1f;
	assert_int_equal(b[0], 0xb8);
	return b[1];
}

static void roundtrip_one(int kind, int full)
{
	struct odo_record r, back;
	uint8_t buf[BUF];
	size_t len = 0;
	char why[128] = "";
	wire_fix_record(&r, kind, full, 42);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_true(len > 0 && len <= ODO_WIRE_MAX_RECORD_BYTES);
	assert_int_equal(map_size(buf), expected_keys[kind][full]);
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_record(buf, len, &back, &err), ODO_OK);
	if (!wire_record_eq(&r, &back, why, sizeof(why)))
		fail_msg("kind %d full %d: %s", kind, full, why);
	/* Re-encoding the decoded record gives the same bytes. */
	uint8_t again[BUF];
	size_t len2 = 0;
	assert_int_equal(odo_wire_encode_record(&back, again, sizeof(again), &len2), ODO_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
}

static void test_roundtrip_every_kind(void **state)
{
	(void)state;
	for (int k = 1; k <= ODO_REC__MAX; k++) {
		roundtrip_one(k, 1);
		roundtrip_one(k, 0);
	}
}

static void test_absent_values_decode_as_absent(void **state)
{
	(void)state;
	struct odo_record r, back;
	uint8_t buf[BUF];
	size_t len;
	wire_fix_record(&r, ODO_REC_SAMPLE, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_true(isnan(back.u.sample.lat) && isnan(back.u.sample.lon) && isnan(back.u.sample.rpm));
	assert_true(isnan(back.u.sample.ax_g) && isnan(back.u.sample.fuel_pct));
	wire_fix_record(&r, ODO_REC_DTC, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.dtc.mil, -1);
	assert_int_equal(back.u.dtc.n[0] + back.u.dtc.n[1] + back.u.dtc.n[2], 0);
	wire_fix_record(&r, ODO_REC_TRIP_END, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_true(isnan(back.u.trip_end.obd_distance_m) && isnan(back.u.trip_end.avg_rpm));
	assert_true(isnan(back.u.trip_end.wiper_m) && isnan(back.u.trip_end.gps_accuracy_m));
	/* version 2: jerk is not measured without a longitudinal signal */
	assert_true(isnan(back.u.trip_end.mean_abs_jerk) && isnan(back.u.trip_end.lon_share[0]));
	assert_int_equal(back.u.trip_end.end_reason, -1);
	assert_int_equal(back.u.trip_end.lon_source, -1);
	assert_int_equal(back.u.trip_end.swerves_g[2], -1);
	wire_fix_record(&r, ODO_REC_STATUS, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.status.calib_state, -1);
	assert_true(isnan(back.u.status.calib_confidence) && isnan(back.u.status.yaw_deg));
	wire_fix_record(&r, ODO_REC_TRACK, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.track.pt[0].v_dms, -1);
	assert_int_equal(back.u.track.pt[0].eph_m, -1);
	/* null elements are CBOR null (f6): [null] */
	static const uint8_t nul[] = { 0x81, 0xf6 };
	const uint8_t *v = NULL;
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == 0x61 && buf[i + 1] == 'e')
			v = buf + i + 2;
	assert_non_null(v);
	assert_memory_equal(v, nul, sizeof(nul));
	wire_fix_record(&r, ODO_REC_CRASH_TRACE, 0, 1);
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.crash_trace.airbag, -1);
	assert_true(isnan(back.u.crash_trace.speed_mps) && isnan(back.u.crash_trace.lon));
}

/* The track's lat/lon go as a first absolute value and then differences;
 * the decoder gives absolute values back. */
static void test_track_delta_coding(void **state)
{
	(void)state;
	struct odo_record r, back;
	uint8_t buf[BUF];
	size_t len;
	odo_record_init(&r, ODO_REC_TRACK);
	r.seq = 1;
	r.t_ms = 1763900000000LL;
	r.u.track.trip_id = 3;
	r.u.track.n = 3;
	static const int32_t lat[3] = { 48137154, 48137254, 48137004 };
	for (int i = 0; i < 3; i++) {
		r.u.track.pt[i].dt_ds = i ? 10 : 0;
		r.u.track.pt[i].lat_e6 = lat[i];
		r.u.track.pt[i].lon_e6 = -1;
		r.u.track.pt[i].v_dms = 100 + i;
	}
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	/* "la": [48137154, 100, -250]: 83 1a 02 de 83 c2 18 64 38 f9 */
	static const uint8_t la[] = { 0x62, 'l', 'a', 0x83, 0x1a, 0x02, 0xde, 0x83, 0xc2, 0x18, 0x64, 0x38, 0xf9 };
	int found = 0;
	for (size_t i = 0; i + sizeof(la) <= len; i++)
		found |= memcmp(buf + i, la, sizeof(la)) == 0;
	assert_true(found);
	/* "lo": [-1, 0, 0] */
	static const uint8_t lo[] = { 0x62, 'l', 'o', 0x83, 0x20, 0x00, 0x00 };
	found = 0;
	for (size_t i = 0; i + sizeof(lo) <= len; i++)
		found |= memcmp(buf + i, lo, sizeof(lo)) == 0;
	assert_true(found);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(back.u.track.pt[i].lat_e6, lat[i]);
		assert_int_equal(back.u.track.pt[i].lon_e6, -1);
	}
}

/* Find text key `k` in buf and return a pointer to the value after it. */
static const uint8_t *value_of(const uint8_t *buf, size_t len, const char *k)
{
	size_t kl = strlen(k);
	for (size_t i = 0; i + 1 + kl < len; i++)
		if (buf[i] == (0x60 | kl) && memcmp(buf + i + 1, k, kl) == 0)
			return buf + i + 1 + kl;
	return NULL;
}

static void test_float_rule(void **state)
{
	(void)state;
	struct odo_record r;
	uint8_t buf[BUF];
	size_t len;
	wire_fix_record(&r, ODO_REC_SAMPLE, 0, 1);
	r.u.sample.speed_mps = 13.5;      /* exact in float32 */
	r.u.sample.rpm = 0.1;             /* not */
	r.u.sample.alt_m = -0.0;          /* sign survives */
	r.u.sample.ax_g = 1e300 / 1e300;  /* 1.0 */
	r.u.sample.coolant_c = 9999.0001; /* float32 would round it (no bound reaches float32's range) */
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	const uint8_t *v = value_of(buf, len, "v");
	assert_non_null(v);
	static const uint8_t f135[] = { 0xfa, 0x41, 0x58, 0x00, 0x00 };
	assert_memory_equal(v, f135, sizeof(f135));
	v = value_of(buf, len, "rpm");
	static const uint8_t d01[] = { 0xfb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a };
	assert_memory_equal(v, d01, sizeof(d01));
	v = value_of(buf, len, "alt");
	static const uint8_t mz[] = { 0xfa, 0x80, 0x00, 0x00, 0x00 };
	assert_memory_equal(v, mz, sizeof(mz));
	v = value_of(buf, len, "cool");
	assert_int_equal(v[0], 0xfb);
	struct odo_record back;
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_true(back.u.sample.rpm == 0.1 && back.u.sample.coolant_c == 9999.0001);
	assert_true(back.u.sample.alt_m == 0.0 && signbit(back.u.sample.alt_m));
}

#define make_all wire_fix_all

static void test_batch_roundtrip_and_raw(void **state)
{
	(void)state;
	static struct odo_record recs[WIRE_FIX_ALL], back[WIRE_FIX_ALL];
	size_t n = make_all(recs);
	static uint8_t buf[ODO_WIRE_MAX_MESSAGE], raw[ODO_WIRE_MAX_MESSAGE],
		cat[WIRE_FIX_ALL * ODO_WIRE_MAX_RECORD_BYTES];
	size_t len = 0, rawlen = 0, catlen = 0;
	assert_int_equal(odo_wire_encode_batch(WIRE_FIX_DEVICE, 77, 2, 3, recs, n, buf, sizeof(buf), &len), ODO_OK);
	for (size_t i = 0; i < n; i++) {
		size_t l;
		assert_int_equal(odo_wire_encode_record(&recs[i], cat + catlen, sizeof(cat) - catlen, &l), ODO_OK);
		catlen += l;
	}
	assert_int_equal(
		odo_wire_encode_batch_raw(WIRE_FIX_DEVICE, 77, 2, 3, n, cat, catlen, raw, sizeof(raw), &rawlen),
		ODO_OK);
	assert_int_equal(rawlen, len);
	assert_memory_equal(raw, buf, len);

	struct odo_batch b = { .recs = back, .cap = WIRE_FIX_ALL };
	struct odo_wire_error err;
	assert_int_equal(odo_wire_decode_batch(buf, len, NULL, &b, &err), ODO_OK);
	assert_int_equal(b.v, 2);
	assert_string_equal(b.device, WIRE_FIX_DEVICE);
	assert_int_equal(b.epoch, 77);
	assert_int_equal(b.floor, 2);
	assert_int_equal(b.seq, 3);
	assert_int_equal(b.last_seq, recs[n - 1].seq);
	assert_int_equal(b.n, n);
	for (size_t i = 0; i < n; i++) {
		char why[128];
		if (!wire_record_eq(&recs[i], &back[i], why, sizeof(why)))
			fail_msg("record %zu: %s", i, why);
	}
	/* A destination with too few slots is TOOLONG, not an overflow. */
	b.cap = WIRE_FIX_ALL - 1;
	assert_int_equal(odo_wire_decode_batch(buf, len, NULL, &b, &err), ODO_ERR_WIRE_TOOLONG);
	assert_string_equal(err.field, "recs");
	assert_int_equal(b.n, 0);
}

static void test_ack_roundtrip(void **state)
{
	(void)state;
	uint64_t vals[] = { 0, 1, 23, 24, 255, 256, 65536, INT64_MAX };
	for (unsigned v = 1; v <= 2; v++)
		for (size_t i = 0; i < ODO_ARRAY_LEN(vals); i++) {
			struct odo_ack a = { .v = v, .ack = vals[i], .epoch = v == 2 ? vals[i] : 0 }, back;
			strcpy(a.device, WIRE_FIX_DEVICE);
			uint8_t buf[128];
			size_t len;
			assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
			assert_int_equal(odo_wire_decode_ack(buf, len, &back, NULL), ODO_OK);
			assert_string_equal(back.device, a.device);
			assert_true(back.ack == a.ack && back.epoch == a.epoch && back.v == v);
		}
	/* {"v":2,"dev":"d","ep":9,"ack":5} byte for byte */
	struct odo_ack a = { .v = 2, .device = "d", .epoch = 9, .ack = 5 };
	uint8_t buf[64];
	size_t len;
	static const uint8_t want[] = { 0xa4, 0x61, 'v', 0x02, 0x63, 'd', 'e', 'v', 0x61, 'd',
					0x62, 'e',  'p', 0x09, 0x63, 'a', 'c', 'k', 0x05 };
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, len);
	/* {"v":1,"dev":"d","ack":5}: a version 1 ack has no epoch */
	a.v = 1;
	a.epoch = 0;
	static const uint8_t want1[] = { 0xa3, 0x61, 'v',  0x01, 0x63, 'd', 'e', 'v',
					 0x61, 'd',  0x63, 'a',  'c',  'k', 0x05 };
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(len, sizeof(want1));
	assert_memory_equal(buf, want1, len);
}

static void test_toobig_every_size(void **state)
{
	(void)state;
	static uint8_t buf[BUF * 4], big[BUF * 4];
	for (int k = 1; k <= ODO_REC__MAX; k++) {
		struct odo_record r;
		wire_fix_record(&r, k, 1, 9);
		size_t need = 0;
		assert_int_equal(odo_wire_encode_record(&r, big, sizeof(big), &need), ODO_OK);
		for (size_t cap = 0; cap < need; cap++) {
			size_t len = 12345;
			assert_int_equal(odo_wire_encode_record(&r, cap ? buf : NULL, cap, &len), ODO_ERR_TOOBIG);
			assert_int_equal(len, 12345);
		}
		size_t len;
		assert_int_equal(odo_wire_encode_record(&r, buf, need, &len), ODO_OK);
		assert_memory_equal(buf, big, need);
	}
	static struct odo_record recs[WIRE_FIX_ALL];
	size_t n = make_all(recs), need = 0;
	assert_int_equal(odo_wire_encode_batch(WIRE_FIX_DEVICE, 5, 0, 1, recs, n, big, sizeof(big), &need), ODO_OK);
	for (size_t cap = 0; cap < need; cap++) {
		size_t len;
		assert_int_equal(
			odo_wire_encode_batch(WIRE_FIX_DEVICE, 5, 0, 1, recs, n, cap ? buf : NULL, cap, &len),
			ODO_ERR_TOOBIG);
	}
	size_t len;
	assert_int_equal(odo_wire_encode_batch(WIRE_FIX_DEVICE, 5, 0, 1, recs, n, buf, need, &len), ODO_OK);
	assert_memory_equal(buf, big, need);
	/* raw: header + records */
	size_t hdr = need;
	for (size_t i = 0; i < n; i++) {
		size_t l;
		assert_int_equal(odo_wire_encode_record(&recs[i], buf, sizeof(buf), &l), ODO_OK);
		hdr -= l;
	}
	const uint8_t *body = big + hdr;
	for (size_t cap = 0; cap < need; cap++)
		assert_int_equal(odo_wire_encode_batch_raw(WIRE_FIX_DEVICE, 5, 0, 1, n, body, need - hdr,
							   cap ? buf : NULL, cap, &len),
				 ODO_ERR_TOOBIG);
	struct odo_ack a = { .v = 2, .device = WIRE_FIX_DEVICE, .epoch = 5, .ack = 1ULL << 40 };
	assert_int_equal(odo_wire_encode_ack(&a, big, sizeof(big), &need), ODO_OK);
	for (size_t cap = 0; cap < need; cap++)
		assert_int_equal(odo_wire_encode_ack(&a, cap ? buf : NULL, cap, &len), ODO_ERR_TOOBIG);
}

static void expect_inval(struct odo_record *r)
{
	uint8_t buf[BUF];
	size_t len;
	assert_int_equal(odo_wire_encode_record(r, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	/* INVAL wins over TOOBIG: the answer does not depend on the buffer. */
	assert_int_equal(odo_wire_encode_record(r, buf, 1, &len), ODO_ERR_INVAL);
}

static void test_encoder_refuses_what_would_not_decode(void **state)
{
	(void)state;
	struct odo_record r;
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.seq = 0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.kind = ODO_REC__MAX + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, (uint64_t)INT64_MAX + 1); /* no bigint holds it */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.u.sample.trip_id = (uint64_t)INT64_MAX + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.t_ms = -1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.u.sample.lon = NAN; /* lat without lon */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.u.sample.lat = 90.5;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.u.sample.speed_mps = INFINITY;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_SAMPLE, 1, 1);
	r.u.sample.heading_deg = 360.0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.distance_m = NAN; /* required */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.idle_s = -1.0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.end_ms = r.u.trip_end.start_ms - 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.has_dtc = 2;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 0, 1);
	r.u.trip_end.phone_handled_count = (uint32_t)INT32_MAX + 1; /* no integer column holds it */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.hard_brakes_g[2] = 5; /* hb != hb2 + hb3 */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.swerves_g[0] = -1; /* sw2, sw3 without sw1 */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.end_reason = 3;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.lat_share[1] = 1.01;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRIP_END, 1, 1);
	r.u.trip_end.lon_source = ODO_LSRC_SPEED; /* a jerk without an accelerometer */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.peak_g = NAN; /* required for a hard brake */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.kind = 0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.duration_ms = -5;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.duration_ms = ODO_WIRE_MAX_EVENT_MS + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.grade = 4;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_EVENT, 1, 1);
	r.u.event.kind = ODO_EV_CRASH; /* crashes are not graded */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_STATUS, 1, 1);
	r.u.status.evicted = (uint64_t)INT64_MAX + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_STATUS, 1, 1);
	r.u.status.yaw_deg = 180.0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRACK, 1, 1);
	r.u.track.n = 0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRACK, 1, 1);
	r.u.track.n = ODO_WIRE_MAX_TRACK + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRACK, 1, 1);
	r.u.track.pt[1].lat_e6 = 90000001;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRACK, 1, 1);
	r.u.track.pt[1].dt_ds = 65536;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_TRACK, 1, 1);
	r.u.track.pt[1].v_dms = -2;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_CRASH_TRACE, 1, 1);
	r.u.crash_trace.part = 30; /* part i of n: i < n */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_CRASH_TRACE, 1, 1);
	r.u.crash_trace.hz = 0;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_CRASH_TRACE, 1, 1);
	r.u.crash_trace.n = ODO_WIRE_MAX_TRACE + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_CRASH_TRACE, 1, 1);
	r.u.crash_trace.lat = NAN;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_VEHICLE, 1, 1);
	strcpy(r.u.vehicle.vin, "1HGCM82633A00435"); /* 16 */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_VEHICLE, 1, 1);
	memset(r.u.vehicle.vin, 'A', sizeof(r.u.vehicle.vin)); /* not terminated */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_VEHICLE, 1, 1);
	strcpy(r.u.vehicle.vin, "1HGCM82633A00435O"); /* O is not a VIN character */
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_DTC, 1, 1);
	strcpy(r.u.dtc.codes[0][1], "P4301");
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_DTC, 1, 1);
	r.u.dtc.n[2] = ODO_WIRE_MAX_DTCS + 1;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_DTC, 1, 1);
	r.u.dtc.mil = 2;
	expect_inval(&r);
	wire_fix_record(&r, ODO_REC_PHONE, 1, 1);
	r.u.phone.call = 3;
	expect_inval(&r);

	/* Batch-level refusals. */
	struct odo_record recs[2];
	wire_fix_record(&recs[0], ODO_REC_PHONE, 1, 10);
	wire_fix_record(&recs[1], ODO_REC_PHONE, 1, 11);
	uint8_t buf[BUF];
	size_t len;
	const char *d = WIRE_FIX_DEVICE;
	assert_int_equal(odo_wire_encode_batch(d, 1, 9, 10, recs, 2, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(odo_wire_encode_batch(d, 1, 0, 11, recs, 2, buf, sizeof(buf), &len),
			 ODO_ERR_INVAL); /* range start above first */
	assert_int_equal(odo_wire_encode_batch(d, 1, 0, 0, recs, 2, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_encode_batch(d, 1, 10, 10, recs, 2, buf, sizeof(buf), &len),
			 ODO_ERR_INVAL); /* floor not below the range start */
	assert_int_equal(odo_wire_encode_batch(d, (uint64_t)INT64_MAX + 1, 0, 1, recs, 2, buf, sizeof(buf), &len),
			 ODO_ERR_INVAL); /* epoch beyond 63 bits */
	assert_int_equal(odo_wire_encode_batch(d, 1, 0, 1, recs, 0, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_encode_batch("bad id", 1, 0, 1, recs, 2, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_encode_batch("", 1, 0, 1, recs, 2, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	recs[1].seq = 10;
	assert_int_equal(odo_wire_encode_batch(d, 1, 0, 1, recs, 2, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	recs[1].seq = 11;
	recs[1].kind = 0;
	assert_int_equal(odo_wire_encode_batch(d, 1, 0, 1, recs, 2, buf, 3, &len), ODO_ERR_INVAL);
	struct odo_ack a = { .v = 2, .device = "x/y", .ack = 1 };
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	strcpy(a.device, "d");
	a.v = 3;
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	a.v = 1;
	a.epoch = 5; /* version 1 has epoch 0 only */
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	a.v = 2;
	a.ack = (uint64_t)INT64_MAX + 1;
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_encode_batch_raw("a", 1, 0, 1, 0, buf, 0, buf, sizeof(buf), &len), ODO_ERR_INVAL);
	assert_int_equal(odo_wire_encode_batch_raw("a", 1, 1, 1, 1, buf, 1, buf, sizeof(buf), &len), ODO_ERR_INVAL);
}

/* The largest record (three full DTC lists) fits ODO_WIRE_MAX_RECORD_BYTES,
 * and the ack example of docs/wire-format.md is what the encoder writes. */
static void test_largest_record_and_doc_ack(void **state)
{
	(void)state;
	struct odo_record r, back;
	wire_fix_record(&r, ODO_REC_DTC, 1, INT64_MAX);
	r.t_ms = INT64_MAX;
	r.u.dtc.ecu = UINT16_MAX;
	for (int l = 0; l < ODO_DTC__LISTS; l++) {
		r.u.dtc.n[l] = ODO_WIRE_MAX_DTCS;
		for (int i = 0; i < ODO_WIRE_MAX_DTCS; i++)
			snprintf(r.u.dtc.codes[l][i], sizeof(r.u.dtc.codes[l][i]), "U3%03X", 0xF00 + i);
	}
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t len;
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_true(len < 700);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_string_equal(back.u.dtc.codes[2][31], "U3F1F");
	/* the largest track: 64 points, every difference as large as it gets */
	odo_record_init(&r, ODO_REC_TRACK);
	r.seq = INT64_MAX;
	r.t_ms = INT64_MAX;
	r.u.track.trip_id = INT64_MAX;
	r.u.track.n = ODO_WIRE_MAX_TRACK;
	for (int i = 0; i < ODO_WIRE_MAX_TRACK; i++) {
		struct odo_track_point *p = &r.u.track.pt[i];
		p->dt_ds = UINT16_MAX;
		p->lat_e6 = i % 2 ? 90000000 : -90000000;
		p->lon_e6 = i % 2 ? -180000000 : 180000000;
		p->v_dms = p->eph_m = UINT16_MAX;
	}
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_true(len < 1400);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.track.pt[63].lat_e6, 90000000);
	/* the largest crash trace: 128 samples per axis at the extremes */
	odo_record_init(&r, ODO_REC_CRASH_TRACE);
	r.seq = INT64_MAX;
	r.t_ms = INT64_MAX;
	r.u.crash_trace.trip_id = INT64_MAX;
	r.u.crash_trace.crash_ms = INT64_MAX;
	r.u.crash_trace.part = 255, r.u.crash_trace.parts = 256, r.u.crash_trace.hz = 1000;
	r.u.crash_trace.n = ODO_WIRE_MAX_TRACE;
	for (int i = 0; i < ODO_WIRE_MAX_TRACE; i++)
		r.u.crash_trace.ax[i] = r.u.crash_trace.ay[i] = r.u.crash_trace.az[i] = INT16_MIN;
	r.u.crash_trace.speed_mps = r.u.crash_trace.obd_speed_mps = r.u.crash_trace.rpm = 0.1;
	r.u.crash_trace.lat = r.u.crash_trace.lon = 0.1;
	r.u.crash_trace.airbag = 1;
	assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
	assert_true(len < 1400);
	assert_int_equal(odo_wire_decode_record(buf, len, &back, NULL), ODO_OK);
	assert_int_equal(back.u.crash_trace.az[127], INT16_MIN);
	struct odo_ack a = { .v = 2, .device = "veh-1", .epoch = WIRE_FIX_SMALL_EPOCH, .ack = 5 };
	/* {"v": 2, "dev": "veh-1", "ep": 0x5ca1ab1e0dd5eed5, "ack": 5} */
	static const uint8_t doc[] = { 0xa4, 0x61, 0x76, 0x02, 0x63, 0x64, 0x65, 0x76, 0x65, 0x76, 0x65,
				       0x68, 0x2d, 0x31, 0x62, 0x65, 0x70, 0x1b, 0x5c, 0xa1, 0xab, 0x1e,
				       0x0d, 0xd5, 0xee, 0xd5, 0x63, 0x61, 0x63, 0x6b, 0x05 };
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(len, sizeof(doc));
	assert_memory_equal(buf, doc, len);
}

static void test_names_and_ids(void **state)
{
	(void)state;
	assert_string_equal(odo_record_kind_name(ODO_REC_TRIP_END), "trip_end");
	assert_string_equal(odo_record_kind_name(ODO_REC_STATUS), "status");
	assert_string_equal(odo_record_kind_name(0), "?");
	assert_string_equal(odo_record_kind_name(ODO_REC_TRACK), "track");
	assert_string_equal(odo_record_kind_name(ODO_REC_CRASH_TRACE), "crash_trace");
	assert_string_equal(odo_record_kind_name(ODO_REC__MAX + 1), "?");
	assert_string_equal(odo_event_kind_name(ODO_EV_HARD_BRAKE), "hard_brake");
	assert_string_equal(odo_event_kind_name(ODO_EV_PHONE_DISTRACTION), "phone_distraction");
	assert_string_equal(odo_event_kind_name(8), "?");
	assert_true(odo_wire_device_id_valid("a"));
	assert_true(odo_wire_device_id_valid("Veh_01.x-Y"));
	char id[ODO_DEVICE_ID_MAX + 2];
	memset(id, 'z', sizeof(id));
	id[ODO_DEVICE_ID_MAX] = 0;
	assert_true(odo_wire_device_id_valid(id));
	id[ODO_DEVICE_ID_MAX] = 'z';
	id[ODO_DEVICE_ID_MAX + 1] = 0;
	assert_false(odo_wire_device_id_valid(id));
	assert_false(odo_wire_device_id_valid(""));
	assert_false(odo_wire_device_id_valid(NULL));
	assert_false(odo_wire_device_id_valid("a/b"));
	assert_false(odo_wire_device_id_valid("a+"));
	assert_false(odo_wire_device_id_valid("a#"));
	assert_false(odo_wire_device_id_valid("\xc3\xa9"));
	struct odo_record r;
	odo_record_init(&r, ODO_REC_EVENT);
	assert_true(isnan(r.u.event.peak_g) && isnan(r.u.event.heading_deg));
	assert_int_equal(r.u.event.grade, -1);
	odo_record_init(&r, ODO_REC_DTC);
	assert_int_equal(r.u.dtc.mil, -1);
	odo_record_init(&r, ODO_REC_TRACK);
	assert_int_equal(r.u.track.pt[ODO_WIRE_MAX_TRACK - 1].v_dms, -1);
	assert_int_equal(r.u.track.pt[0].eph_m, -1);
	odo_record_init(&r, ODO_REC_CRASH_TRACE);
	assert_int_equal(r.u.crash_trace.airbag, -1);
}

/* The introspection API lists every field once with the bounds the decoder
 * applies; what it says is what the decoder does. */
static void test_field_table(void **state)
{
	(void)state;
	struct odo_wire_field f;
	size_t n = 0, v2 = 0;
	int seen_hb2 = 0, seen_dur = 0, seen_la = 0, seen_tv = 0, seen_t = 0, seen_ep = 0;
	for (; odo_wire_field_at(n, &f) == ODO_OK; n++) {
		assert_non_null(f.key);
		assert_true(f.since == 1 || f.since == 2);
		v2 += f.since == 2;
		assert_true(f.kind >= ODO_WIRE_KIND_ACK && f.kind <= ODO_REC__MAX);
		if (f.type == ODO_WT_UINT || f.type == ODO_WT_UINT_LIST || f.type == ODO_WT_INT_LIST)
			assert_true(f.imax <= (uint64_t)INT64_MAX); /* a bigint holds every integer */
		/* unique per kind */
		struct odo_wire_field g;
		for (size_t j = 0; j < n; j++) {
			assert_int_equal(odo_wire_field_at(j, &g), ODO_OK);
			if (g.kind == f.kind && strcmp(g.key, f.key) == 0)
				fail_msg("key %s twice in kind %d", f.key, f.kind);
		}
		if (f.kind == ODO_REC_TRIP_END && strcmp(f.key, "hb2") == 0) {
			seen_hb2 = 1;
			assert_int_equal(f.type, ODO_WT_UINT);
			assert_int_equal(f.since, 2);
			assert_false(f.required);
			assert_true(f.imax == INT32_MAX);
		}
		if (f.kind == ODO_REC_EVENT && strcmp(f.key, "dur") == 0) {
			seen_dur = 1;
			assert_true(f.imax == 86400000 && f.required && f.since == 1);
		}
		if (f.kind == ODO_REC_TRACK && strcmp(f.key, "la") == 0) {
			seen_la = 1;
			assert_true(f.type == ODO_WT_INT_LIST && f.delta && !f.nullable && f.max_len == 64);
			assert_true(f.imin == -90000000 && f.imax == 90000000);
		}
		if (f.kind == ODO_REC_TRACK && strcmp(f.key, "v") == 0) {
			seen_tv = 1;
			assert_true(f.type == ODO_WT_UINT_LIST && f.nullable && f.imax == 65535);
		}
		if (f.kind == ODO_WIRE_KIND_COMMON && strcmp(f.key, "t") == 0) {
			seen_t = 1;
			assert_true(f.time_window && f.imax == INT64_MAX);
		}
		if (f.kind == ODO_WIRE_KIND_BATCH && strcmp(f.key, "ep") == 0) {
			seen_ep = 1;
			assert_true(f.imax == INT64_MAX && f.since == 2);
		}
		if (f.kind == ODO_REC_STATUS && strcmp(f.key, "yaw") == 0)
			assert_true(f.type == ODO_WT_FLOAT && f.fmin == -180.0 && f.fmax == 180.0 && f.fmax_open);
	}
	assert_true(seen_hb2 && seen_dur && seen_la && seen_tv && seen_t && seen_ep);
	assert_true(n > 100 && v2 > 40);
	assert_int_equal(odo_wire_field_at(n, &f), ODO_ERR_NOTFOUND);
	assert_int_equal(odo_wire_field_count(), n);
	assert_int_equal(odo_wire_field_at(0, NULL), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_kind),
		cmocka_unit_test(test_absent_values_decode_as_absent),
		cmocka_unit_test(test_float_rule),
		cmocka_unit_test(test_batch_roundtrip_and_raw),
		cmocka_unit_test(test_ack_roundtrip),
		cmocka_unit_test(test_toobig_every_size),
		cmocka_unit_test(test_encoder_refuses_what_would_not_decode),
		cmocka_unit_test(test_largest_record_and_doc_ack),
		cmocka_unit_test(test_names_and_ids),
		cmocka_unit_test(test_track_delta_coding),
		cmocka_unit_test(test_field_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
