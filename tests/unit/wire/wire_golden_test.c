/*
 * odo — wire format: the committed golden vectors of tests/data/wire/
 * (written once by wire_gen_golden) decode to the fixtures field by field,
 * the encoder still produces them byte for byte, and every truncation,
 * extension and bit flip of them gives either a valid message that
 * re-encodes consistently or a precise error, never a crash.
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

#define GOLDEN_DIR ODO_SOURCE_DIR "/tests/data/wire"
#define FILE_MAX 4096

enum gkind { G_REC, G_BATCH, G_ACK };

struct golden {
	char name[64];
	enum gkind kind;
	int rec_kind, full;
	unsigned v; /* wire version of a message */
	uint8_t b[FILE_MAX];
	size_t n;
};

static struct odo_record g_recs[WIRE_FIX_ALL], g_back[WIRE_FIX_ALL];
static struct odo_wire_bad g_bad[WIRE_FIX_ALL];

static void load(struct golden *g)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, g->name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open golden vector %s", path);
	g->n = fread(g->b, 1, sizeof(g->b), f);
	fclose(f);
	assert_true(g->n > 0 && g->n < sizeof(g->b));
}

static void add(struct golden *gs, size_t *n, const char *name, enum gkind kind, unsigned v)
{
	struct golden *g = &gs[(*n)++];
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->kind = kind;
	g->v = v;
}

static size_t all_golden(struct golden *gs)
{
	size_t n = 0;
	for (int k = 1; k <= ODO_REC__MAX; k++)
		for (int full = 0; full <= 1; full++) {
			struct golden *g = &gs[n++];
			snprintf(g->name, sizeof(g->name), "rec_%s_%s.cbor", odo_record_kind_name(k), full ? "full" : "min");
			g->kind = G_REC, g->rec_kind = k, g->full = full, g->v = 2;
		}
	add(gs, &n, "batch_all.cbor", G_BATCH, 2);
	add(gs, &n, "batch_small.cbor", G_BATCH, 2);
	add(gs, &n, "ack.cbor", G_ACK, 2);
	/* written by the version 1 encoder; receivers still accept them */
	add(gs, &n, "v1_batch_all.cbor", G_BATCH, 1);
	add(gs, &n, "v1_batch_small.cbor", G_BATCH, 1);
	add(gs, &n, "v1_ack.cbor", G_ACK, 1);
	for (size_t i = 0; i < n; i++)
		load(&gs[i]);
	return n;
}

static struct golden gs[2 * ODO_REC__MAX + 6];

static void test_golden_decode_and_reencode(void **state)
{
	(void)state;
	size_t ng = all_golden(gs);
	static uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES * WIRE_FIX_ALL];
	size_t len;
	char why[160];
	struct odo_wire_error err;
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
		if (g->v == 1)
			continue; /* test_golden_v1 */
		if (g->kind == G_REC) {
			struct odo_record want, got;
			wire_fix_record(&want, g->rec_kind, g->full, 42);
			if (odo_wire_decode_record(g->b, g->n, &got, &err) != ODO_OK)
				fail_msg("%s: %s", g->name, err.msg);
			if (!wire_record_eq(&want, &got, why, sizeof(why)))
				fail_msg("%s: %s", g->name, why);
			assert_int_equal(odo_wire_encode_record(&want, buf, sizeof(buf), &len), ODO_OK);
		} else if (g->kind == G_BATCH) {
			int small = strstr(g->name, "small") != NULL;
			size_t n = small ? wire_fix_small(g_recs) : wire_fix_all(g_recs);
			const char *dev = small ? WIRE_FIX_SMALL_DEVICE : WIRE_FIX_DEVICE;
			uint64_t ep = small ? WIRE_FIX_SMALL_EPOCH : WIRE_FIX_EPOCH;
			struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL, .bad = g_bad, .bad_cap = WIRE_FIX_ALL };
			struct odo_wire_limits lim = { .now_ms = 1763900000000LL };
			if (odo_wire_decode_batch(g->b, g->n, &lim, &b, &err) != ODO_OK)
				fail_msg("%s: %s", g->name, err.msg);
			assert_int_equal(b.v, 2);
			assert_string_equal(b.device, dev);
			assert_true(b.epoch == ep);
			assert_int_equal(b.floor, 2);
			assert_int_equal(b.seq, 3);
			assert_int_equal(b.n, n);
			assert_int_equal(b.nbad, 0);
			assert_int_equal(b.last_seq, g_recs[n - 1].seq);
			for (size_t j = 0; j < n; j++)
				if (!wire_record_eq(&g_recs[j], &g_back[j], why, sizeof(why)))
					fail_msg("%s record %zu: %s", g->name, j, why);
			assert_int_equal(odo_wire_encode_batch(dev, ep, 2, 3, g_recs, n, buf, sizeof(buf), &len), ODO_OK);
		} else {
			struct odo_ack a;
			assert_int_equal(odo_wire_decode_ack(g->b, g->n, &a, &err), ODO_OK);
			assert_int_equal(a.v, 2);
			assert_string_equal(a.device, WIRE_FIX_DEVICE);
			assert_true(a.epoch == WIRE_FIX_EPOCH);
			assert_int_equal(a.ack, 12345);
			assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
		}
		if (len != g->n || memcmp(buf, g->b, len) != 0)
			fail_msg("%s: the encoder no longer produces the golden bytes", g->name);
	}
}

/* Version 1 messages, exactly as the version 1 agent sent them, are still
 * accepted: epoch 0, floor 0; a version 1 ack still decodes. Literal values,
 * independent of the fixture code. */
static void test_golden_v1(void **state)
{
	(void)state;
	struct golden g = { .name = "v1_batch_small.cbor" };
	load(&g);
	struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL, .bad = g_bad, .bad_cap = WIRE_FIX_ALL };
	struct odo_wire_limits lim = { .now_ms = 1763900000000LL };
	struct odo_wire_error err;
	if (odo_wire_decode_batch(g.b, g.n, &lim, &b, &err) != ODO_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(b.v, 1);
	assert_string_equal(b.device, "veh-1");
	assert_true(b.epoch == 0 && b.floor == 0 && b.seq == 1 && b.last_seq == 3);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.nbad, 0);
	assert_int_equal(b.recs[0].kind, ODO_REC_TRIP_START);
	assert_int_equal(b.recs[0].u.trip_start.trip_id, 7);
	assert_int_equal(b.recs[1].kind, ODO_REC_PHONE);
	assert_int_equal(b.recs[1].u.phone.call, ODO_CALL_HANDHELD);

	/* All of version 1's kinds. Its full status record carries a counter of
	 * 2^64 - 1 that no bigint holds: that record alone is refused. */
	strcpy(g.name, "v1_batch_all.cbor");
	load(&g);
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &lim, &b, &err), ODO_OK);
	assert_int_equal(b.v, 1);
	assert_int_equal(b.n, 15);
	assert_int_equal(b.nbad, 1);
	assert_int_equal(b.bad[0].index, 14);
	assert_int_equal(b.bad[0].err.code, ODO_ERR_WIRE_RANGE);
	assert_string_equal(b.bad[0].err.field, "recs[14].accerr");
	assert_true(b.bad[0].off > 0 && b.bad[0].off + b.bad[0].len <= g.n);
	assert_int_equal(g.b[b.bad[0].off], 0xae); /* the status record's map(14) */
	assert_int_equal(b.recs[0].kind, ODO_REC_TRIP_START);
	assert_int_equal(b.recs[0].seq, 5);
	assert_int_equal(b.recs[0].t_ms, 1763900005000LL);
	assert_int_equal(b.recs[0].tsrc, ODO_TSRC_GPS);
	assert_true(b.recs[0].u.trip_start.lat == 48.137154 && b.recs[0].u.trip_start.lon == -11.5);
	assert_true(isnan(b.recs[1].u.trip_start.lat));
	assert_int_equal(b.recs[2].u.trip_end.end_ms - b.recs[2].u.trip_end.start_ms, 1000000);
	assert_true(b.recs[2].u.trip_end.distance_m == 12345.678);
	assert_int_equal(b.recs[2].u.trip_end.harsh_corners, 4);
	assert_true(b.recs[2].u.trip_end.mean_abs_jerk == 0.41);
	assert_int_equal(b.recs[2].u.trip_end.end_reason, -1); /* a version 2 key: absent */
	assert_int_equal(b.recs[4].u.event.kind, ODO_EV_HARD_BRAKE);
	assert_true(b.recs[4].u.event.peak_g == -0.62);
	assert_int_equal(b.recs[4].u.event.grade, -1);
	assert_int_equal(b.recs[5].u.event.kind, ODO_EV_PHONE_DISTRACTION);
	assert_true(isnan(b.recs[5].u.event.peak_g));
	assert_true(b.recs[6].u.sample.lat == 90.0 && b.recs[6].u.sample.lon == -180.0);
	assert_int_equal(b.recs[8].u.dtc.ecu, 0x7E8);
	assert_int_equal(b.recs[8].u.dtc.mil, 1);
	assert_string_equal(b.recs[8].u.dtc.codes[ODO_DTC_STORED][1], "B3A7F");
	assert_string_equal(b.recs[8].u.dtc.codes[ODO_DTC_PERMANENT][0], "C1234");
	assert_string_equal(b.recs[10].u.vehicle.vin, "1HGCM82633A004352");
	assert_string_equal(b.recs[11].u.vehicle.vin, "");
	assert_int_equal(b.recs[12].u.phone.call, ODO_CALL_HANDHELD);
	assert_int_equal(b.recs[14].kind, ODO_REC_STATUS); /* the minimal one */
	assert_true(b.last_seq == b.recs[14].seq && b.bad[0].seq < b.last_seq);
	for (size_t i = 1; i < b.n; i++)
		assert_true(b.recs[i].seq > b.recs[i - 1].seq);
	/* bad_cap 0: strict, the refusal is the whole message's */
	struct odo_batch strict = { .recs = g_back, .cap = WIRE_FIX_ALL };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &lim, &strict, &err), ODO_ERR_WIRE_RANGE);
	assert_string_equal(err.field, "recs[14].accerr");
	assert_int_equal(strict.n, 0);

	strcpy(g.name, "v1_ack.cbor");
	load(&g);
	struct odo_ack a;
	assert_int_equal(odo_wire_decode_ack(g.b, g.n, &a, &err), ODO_OK);
	assert_int_equal(a.v, 1);
	assert_true(a.epoch == 0 && a.ack == 12345);
	assert_string_equal(a.device, WIRE_FIX_DEVICE);
	/* a version 1 ack encodes to the same bytes */
	uint8_t buf[64];
	size_t len;
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
	assert_int_equal(len, g.n);
	assert_memory_equal(buf, g.b, len);
}

/* Literal values of the version 2 vector, independent of the fixture code. */
static void test_golden_literals(void **state)
{
	(void)state;
	struct golden g = { .name = "batch_all.cbor" };
	load(&g);
	struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, NULL, &b, NULL), ODO_OK);
	assert_int_equal(b.n, 20);
	assert_true(b.epoch == 0x2f6b1c9d8e7a5043ULL);
	assert_int_equal(b.recs[2].kind, ODO_REC_TRIP_END);
	const struct odo_rec_trip_end *te = &b.recs[2].u.trip_end;
	assert_int_equal(te->end_reason, ODO_TRIP_END_SHUTDOWN);
	assert_int_equal(te->lon_source, ODO_LSRC_BOTH);
	assert_int_equal(te->hard_brakes, 2);
	assert_int_equal(te->hard_brakes_g[0], 5);
	assert_int_equal(te->hard_brakes_g[1] + te->hard_brakes_g[2], 2);
	assert_true(te->lat_share[2] == 1.0 / 1024 && te->speed_sd_mps == 6.5);
	assert_int_equal(te->phone_measured, 1);
	assert_true(te->lon_moving_s == 850.5 && te->lat_moving_s == 820.0);
	assert_int_equal(b.recs[3].u.trip_end.phone_measured, -1);
	assert_true(isnan(b.recs[3].u.trip_end.lon_moving_s));
	assert_true(isnan(b.recs[3].u.trip_end.mean_abs_jerk)); /* minimal: not measured */
	assert_int_equal(b.recs[3].u.trip_end.hard_brakes_g[1], -1);
	assert_int_equal(b.recs[4].u.event.grade, ODO_GRADE_HARSH);
	assert_int_equal(b.recs[5].u.event.grade, -1);
	assert_true(b.recs[14].u.status.accel_errors == INT64_MAX);
	assert_int_equal(b.recs[14].u.status.calib_state, ODO_CAL_READY);
	assert_true(b.recs[14].u.status.yaw_deg == -179.75);
	assert_true(isnan(b.recs[15].u.status.roll_deg));
	assert_true(b.recs[14].u.status.gps_lag_s == 0.5);
	assert_int_equal(b.recs[14].u.status.gyro_state, ODO_GYRO_ESTABLISHED);
	assert_int_equal(b.recs[15].u.status.gyro_state, -1);
	assert_int_equal(b.recs[16].kind, ODO_REC_TRACK);
	const struct odo_rec_track *tk = &b.recs[16].u.track;
	assert_int_equal(tk->n, 8);
	assert_int_equal(tk->pt[0].lat_e6, 1200);
	assert_int_equal(tk->pt[4].lon_e6, -310);
	assert_int_equal(tk->pt[2].v_dms, -1);
	assert_int_equal(tk->pt[3].eph_m, -1);
	assert_int_equal(tk->pt[6].lat_e6, -90000000);
	assert_int_equal(tk->pt[7].lon_e6, -180000000);
	assert_int_equal(tk->pt[6].dt_ds, 65535);
	assert_int_equal(b.recs[17].u.track.n, 1);
	assert_int_equal(b.recs[17].u.track.pt[0].v_dms, -1);
	assert_int_equal(b.recs[18].kind, ODO_REC_CRASH_TRACE);
	const struct odo_rec_crash_trace *ct = &b.recs[18].u.crash_trace;
	assert_int_equal(ct->n, 16);
	assert_int_equal(ct->part, 2);
	assert_int_equal(ct->parts, 30);
	assert_int_equal(ct->ax[7], -2800);
	assert_int_equal(ct->ax[15], INT16_MIN);
	assert_int_equal(ct->ay[15], INT16_MAX);
	assert_int_equal(ct->crash_ms - b.recs[18].t_ms, 15000);
	assert_int_equal(ct->airbag, 1);
	assert_int_equal(b.recs[19].u.crash_trace.airbag, -1);
	assert_true(isnan(b.recs[19].u.crash_trace.lat));
	for (size_t i = 1; i < b.n; i++)
		assert_true(b.recs[i].seq > b.recs[i - 1].seq);
	assert_int_equal(b.last_seq, b.recs[19].seq);
}

static void assert_precise(const struct golden *g, int rc, const struct odo_wire_error *err, size_t n)
{
	if (rc < ODO_ERR_WIRE_MALFORMED || rc > ODO_ERR_WIRE_DUPLICATE)
		fail_msg("%s: code %d is not a wire error", g->name, rc);
	assert_int_equal(err->code, rc);
	size_t ml = strlen(err->msg);
	if (ml < 10 || err->msg[ml - 1] != '.')
		fail_msg("%s: message \"%s\" is not a sentence", g->name, err->msg);
	if (err->offset > n)
		fail_msg("%s: offset %zu beyond input of %zu", g->name, err->offset, n);
	/* Errors about a value name its field; only the top-level item,
	 * trailing bytes and unreadable CBOR may have no name. */
	if (!err->field[0] && rc != ODO_ERR_WIRE_MALFORMED && rc != ODO_ERR_WIRE_TRAILING &&
	    rc != ODO_ERR_WIRE_TYPE && rc != ODO_ERR_WIRE_TOOLONG)
		fail_msg("%s: %s without a field name: %s", g->name, odo_strerror(rc), err->msg);
}

/* 'M' when the last decode_check() refused the whole message, 'R' when it
 * refused records alone (the first one's error is reported), 0 when OK. */
static char g_level;

/* Decode with the decoder for g's kind; on success check that re-encoding
 * and decoding again gives the same values. A batch is decoded twice: with
 * room for refused records (their errors must be precise and their byte
 * ranges inside the message) and strictly, which must fail exactly when a
 * record was refused, with that record's error. Returns the first error. */
static int decode_check(const struct golden *g, const uint8_t *p, size_t n, struct odo_wire_error *err)
{
	static uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES * WIRE_FIX_ALL];
	static struct odo_record again[WIRE_FIX_ALL];
	size_t len;
	char why[160];
	int rc;
	memset(err, 0, sizeof(*err));
	g_level = 'M';
	if (g->kind == G_REC) {
		struct odo_record r, r2;
		if ((rc = odo_wire_decode_record(p, n, &r, err)) != ODO_OK)
			return rc;
		assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
		assert_int_equal(odo_wire_decode_record(buf, len, &r2, NULL), ODO_OK);
		if (!wire_record_eq(&r, &r2, why, sizeof(why)))
			fail_msg("%s: %s", g->name, why);
	} else if (g->kind == G_BATCH) {
		struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL, .bad = g_bad, .bad_cap = WIRE_FIX_ALL };
		struct odo_batch strict = { .recs = again, .cap = WIRE_FIX_ALL };
		struct odo_wire_error serr;
		int src = odo_wire_decode_batch(p, n, NULL, &strict, &serr);
		if ((rc = odo_wire_decode_batch(p, n, NULL, &b, err)) != ODO_OK) {
			/* strict stops at the same place or at an earlier refused record */
			if (src == ODO_OK)
				fail_msg("%s: strict decode accepts what lenient refuses (%s)", g->name, err->msg);
			return rc;
		}
		assert_true(b.n + b.nbad >= 1 && b.last_seq >= b.seq && b.floor < b.seq);
		for (size_t i = 0; i < b.nbad; i++) {
			assert_precise(g, b.bad[i].err.code, &b.bad[i].err, n);
			assert_true(b.bad[i].off < n && b.bad[i].len >= 1 && b.bad[i].off + b.bad[i].len <= n);
			assert_true(b.bad[i].seq >= b.seq && b.bad[i].seq <= b.last_seq);
			char want[16];
			snprintf(want, sizeof(want), "recs[%zu]", b.bad[i].index);
			assert_memory_equal(b.bad[i].err.field, want, strlen(want));
		}
		if (b.nbad) {
			if (src != b.bad[0].err.code || strcmp(serr.field, b.bad[0].err.field) != 0)
				fail_msg("%s: strict decode says %s/%s, lenient refused %s/%s", g->name,
					 odo_strerror(src), serr.field, odo_strerror(b.bad[0].err.code),
					 b.bad[0].err.field);
			*err = b.bad[0].err;
			g_level = 'R';
		} else if (src != ODO_OK) {
			fail_msg("%s: strict decode fails (%s) where nothing was refused", g->name, serr.msg);
		}
		if (b.n) {
			/* the good records re-encode, as version 2 */
			assert_int_equal(odo_wire_encode_batch(b.device, b.epoch, b.floor, b.seq, b.recs, b.n, buf,
							       sizeof(buf), &len),
					 ODO_OK);
			struct odo_batch b2 = { .recs = again, .cap = WIRE_FIX_ALL };
			assert_int_equal(odo_wire_decode_batch(buf, len, NULL, &b2, NULL), ODO_OK);
			assert_string_equal(b.device, b2.device);
			assert_true(b.seq == b2.seq && b.n == b2.n && b.epoch == b2.epoch && b.floor == b2.floor);
			for (size_t i = 0; i < b.n; i++)
				if (!wire_record_eq(&b.recs[i], &b2.recs[i], why, sizeof(why)))
					fail_msg("%s: %s", g->name, why);
		}
		if (b.nbad)
			return b.bad[0].err.code;
	} else {
		struct odo_ack a, a2;
		if ((rc = odo_wire_decode_ack(p, n, &a, err)) != ODO_OK)
			return rc;
		assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
		assert_int_equal(odo_wire_decode_ack(buf, len, &a2, NULL), ODO_OK);
		assert_true(a.ack == a2.ack && a.v == a2.v && a.epoch == a2.epoch && strcmp(a.device, a2.device) == 0);
	}
	g_level = 0;
	return ODO_OK;
}

static void test_golden_truncated_and_extended(void **state)
{
	(void)state;
	size_t ng = all_golden(gs);
	struct odo_wire_error err;
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
		for (size_t cut = 0; cut < g->n; cut++) {
			int rc = decode_check(g, g->b, cut, &err);
			if (rc != ODO_ERR_WIRE_MALFORMED || g_level != 'M')
				fail_msg("%s cut at %zu: %s (%s)", g->name, cut, odo_strerror(rc), err.msg);
			assert_precise(g, rc, &err, cut);
		}
		static const uint8_t tails[] = { 0x00, 0x01, 0x60, 0xa0, 0xf6, 0xff };
		uint8_t ext[FILE_MAX + 2];
		memcpy(ext, g->b, g->n);
		for (size_t t = 0; t < sizeof(tails); t++) {
			ext[g->n] = tails[t];
			ext[g->n + 1] = tails[t];
			for (size_t extra = 1; extra <= 2; extra++) {
				int rc = decode_check(g, ext, g->n + extra, &err);
				assert_int_equal(rc, ODO_ERR_WIRE_TRAILING);
				assert_int_equal(err.offset, g->n);
				assert_precise(g, rc, &err, g->n + extra);
			}
		}
	}
}

static void test_golden_bit_flips(void **state)
{
	(void)state;
	size_t ng = all_golden(gs);
	struct odo_wire_error err;
	static const uint8_t masks[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, 0x1f, 0xe0 };
	unsigned count[ODO_ERR__COUNT] = { 0 }, record_level = 0;
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
		uint8_t m[FILE_MAX];
		for (size_t pos = 0; pos < g->n; pos++)
			for (size_t k = 0; k < sizeof(masks); k++) {
				memcpy(m, g->b, g->n);
				m[pos] ^= masks[k];
				int rc = decode_check(g, m, g->n, &err);
				count[rc]++;
				record_level += g_level == 'R';
				if (rc != ODO_OK)
					assert_precise(g, rc, &err, g->n);
			}
	}
	/* The sweep reaches every kind of rejection (and some flips in values
	 * stay valid), and refuses records alone. */
	assert_true(count[ODO_OK] > 0);
	assert_true(record_level > 0);
	for (int c = ODO_ERR_WIRE_MALFORMED; c <= ODO_ERR_WIRE_DUPLICATE; c++)
		if (c != ODO_ERR_WIRE_DUPLICATE && count[c] == 0)
			fail_msg("no flip produced %s", odo_strerror(c));
}

/* Single-byte edits of batch_small.cbor at known positions, with the exact
 * answer and its level: M the whole message, R that record alone (layout:
 * see docs/wire-format.md). */
static void test_golden_targeted_edits(void **state)
{
	(void)state;
	struct golden g = { .name = "batch_small.cbor", .kind = G_BATCH };
	load(&g);
	assert_int_equal(g.n, 108);
	assert_int_equal(g.b[3], 0x02);   /* v */
	assert_int_equal(g.b[17], 0x1b);  /* ep: 8 bytes follow */
	assert_int_equal(g.b[29], 0x02);  /* af */
	assert_int_equal(g.b[34], 0x03);  /* seq */
	assert_int_equal(g.b[40], 0x82);  /* recs: 2 */
	assert_int_equal(g.b[41], 0xa5);  /* record 0: 5 pairs */
	assert_int_equal(g.b[69], 0xa7);  /* record 1: 7 pairs */
	static const struct {
		size_t pos;
		uint8_t val;
		int code;
		char level;
		const char *field;
		size_t off;
	} cases[] = {
		{ 0, 0x86, ODO_ERR_WIRE_TYPE, 'M', "", 0 },
		{ 0, 0xa7, ODO_ERR_WIRE_MALFORMED, 'M', "<key>", 108 },
		{ 0, 0xa5, ODO_ERR_WIRE_MISSING, 'M', "recs", 0 }, /* the map ends before "recs" */
		{ 2, 'w', ODO_ERR_WIRE_UNKNOWN, 'M', "w", 1 },
		{ 3, 0x03, ODO_ERR_WIRE_VERSION, 'M', "v", 3 },
		{ 3, 0x20, ODO_ERR_WIRE_VERSION, 'M', "v", 3 },
		{ 3, 0x01, ODO_ERR_WIRE_UNKNOWN, 'M', "ep", 14 }, /* version 1 has no epoch */
		{ 10, '/', ODO_ERR_WIRE_RANGE, 'M', "dev", 8 },
		{ 17, 0x3b, ODO_ERR_WIRE_RANGE, 'M', "ep", 17 }, /* negative */
		{ 18, 0xdc, ODO_ERR_WIRE_RANGE, 'M', "ep", 17 }, /* above INT64_MAX */
		{ 29, 0x03, ODO_ERR_WIRE_RANGE, 'M', "af", 29 },  /* af = seq */
		{ 34, 0x04, ODO_ERR_WIRE_RANGE, 'M', "seq", 34 }, /* above the first s */
		{ 34, 0x00, ODO_ERR_WIRE_RANGE, 'M', "seq", 34 },
		{ 40, 0x81, ODO_ERR_WIRE_TRAILING, 'M', "", 69 },
		{ 40, 0x80, ODO_ERR_WIRE_RANGE, 'M', "recs", 40 },
		/* record 0 ends after "k": its "trip" text is read as record 1 */
		{ 41, 0xa4, ODO_ERR_WIRE_TYPE, 'M', "recs[1]", 63 },
		{ 43, 'k', ODO_ERR_WIRE_MISSING, 'M', "recs[0].s", 41 },
		{ 44, 0x00, ODO_ERR_WIRE_RANGE, 'M', "recs[0].s", 44 },
		{ 44, 0x05, ODO_ERR_WIRE_RANGE, 'M', "recs[1].s", 69 },
		{ 59, 0x02, ODO_ERR_WIRE_RANGE, 'R', "recs[0].ts", 59 },
		{ 61, 's', ODO_ERR_WIRE_DUPLICATE, 'M', "recs[0].s", 60 },
		{ 62, 0x0b, ODO_ERR_WIRE_UNKNOWN, 'R', "recs[0].k", 62 },
		{ 62, 0x09, ODO_ERR_WIRE_MISSING, 'R', "recs[0].dt", 41 }, /* a track without points */
		{ 64, 'x', ODO_ERR_WIRE_UNKNOWN, 'R', "recs[0].xrip", 63 },
		{ 95, 0xf6, ODO_ERR_WIRE_TYPE, 'R', "recs[1].scr", 95 },
		{ 101, 0x03, ODO_ERR_WIRE_RANGE, 'R', "recs[1].call", 101 },
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(cases); i++) {
		uint8_t m[FILE_MAX];
		memcpy(m, g.b, g.n);
		m[cases[i].pos] = cases[i].val;
		struct odo_wire_error err;
		int rc = decode_check(&g, m, g.n, &err);
		if (rc != cases[i].code || g_level != cases[i].level || strcmp(err.field, cases[i].field) != 0 ||
		    err.offset != cases[i].off)
			fail_msg("edit %zu (byte %zu = 0x%02x): want %s/%c/\"%s\"@%zu, got %s/%c/\"%s\"@%zu: %s", i,
				 cases[i].pos, cases[i].val, odo_strerror(cases[i].code), cases[i].level,
				 cases[i].field, cases[i].off, odo_strerror(rc), g_level ? g_level : '-', err.field,
				 err.offset, err.msg);
	}
	/* a refused record: its bytes are the record's, the other decodes */
	uint8_t m[FILE_MAX];
	memcpy(m, g.b, g.n);
	m[101] = 0x03;
	struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL, .bad = g_bad, .bad_cap = WIRE_FIX_ALL };
	assert_int_equal(odo_wire_decode_batch(m, g.n, NULL, &b, NULL), ODO_OK);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.recs[0].seq, 3);
	assert_int_equal(b.nbad, 1);
	assert_int_equal(b.bad[0].index, 1);
	assert_int_equal(b.bad[0].seq, 5);
	assert_int_equal(b.bad[0].off, 69);
	assert_int_equal(b.bad[0].len, 108 - 69);
	assert_int_equal(b.last_seq, 5);
}

/* The one-line hex example in docs/wire-format.md is the golden file. */
static void test_doc_example_is_golden(void **state)
{
	(void)state;
	static const char *const names[] = { "batch_small.cbor", "v1_batch_small.cbor" };
	for (size_t k = 0; k < ODO_ARRAY_LEN(names); k++) {
		struct golden g;
		snprintf(g.name, sizeof(g.name), "%s", names[k]);
		load(&g);
		FILE *f = fopen(ODO_SOURCE_DIR "/docs/wire-format.md", "r");
		assert_non_null(f);
		char line[1024];
		int found = 0;
		while (fgets(line, sizeof(line), f)) {
			if (strlen(line) != 2 * g.n + 1)
				continue;
			uint8_t b[FILE_MAX];
			size_t i;
			for (i = 0; i < g.n; i++) {
				unsigned x;
				if (sscanf(line + 2 * i, "%2x", &x) != 1)
					break;
				b[i] = (uint8_t)x;
			}
			if (i == g.n && memcmp(b, g.b, g.n) == 0)
				found = 1;
		}
		fclose(f);
		if (!found)
			fail_msg("docs/wire-format.md does not show %s as one hex line", g.name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_decode_and_reencode),
		cmocka_unit_test(test_golden_v1),
		cmocka_unit_test(test_golden_literals),
		cmocka_unit_test(test_golden_truncated_and_extended),
		cmocka_unit_test(test_golden_bit_flips),
		cmocka_unit_test(test_golden_targeted_edits),
		cmocka_unit_test(test_doc_example_is_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
