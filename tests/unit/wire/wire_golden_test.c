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
	uint8_t b[FILE_MAX];
	size_t n;
};

static struct odo_record g_recs[WIRE_FIX_ALL], g_back[WIRE_FIX_ALL];

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

static size_t all_golden(struct golden *gs)
{
	size_t n = 0;
	for (int k = 1; k <= ODO_REC__MAX; k++)
		for (int full = 0; full <= 1; full++) {
			struct golden *g = &gs[n++];
			snprintf(g->name, sizeof(g->name), "rec_%s_%s.cbor", odo_record_kind_name(k), full ? "full" : "min");
			g->kind = G_REC, g->rec_kind = k, g->full = full;
		}
	strcpy(gs[n].name, "batch_all.cbor"), gs[n++].kind = G_BATCH;
	strcpy(gs[n].name, "batch_small.cbor"), gs[n++].kind = G_BATCH;
	strcpy(gs[n].name, "ack.cbor"), gs[n++].kind = G_ACK;
	for (size_t i = 0; i < n; i++)
		load(&gs[i]);
	return n;
}

static struct golden gs[2 * ODO_REC__MAX + 3];

static void test_golden_decode_and_reencode(void **state)
{
	(void)state;
	size_t ng = all_golden(gs);
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES * WIRE_FIX_ALL];
	size_t len;
	char why[160];
	struct odo_wire_error err;
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
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
			uint64_t seq = small ? 1 : 3;
			struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL };
			if (odo_wire_decode_batch(g->b, g->n, &b, &err) != ODO_OK)
				fail_msg("%s: %s", g->name, err.msg);
			assert_int_equal(b.v, 1);
			assert_string_equal(b.device, dev);
			assert_int_equal(b.seq, seq);
			assert_int_equal(b.n, n);
			for (size_t j = 0; j < n; j++)
				if (!wire_record_eq(&g_recs[j], &g_back[j], why, sizeof(why)))
					fail_msg("%s record %zu: %s", g->name, j, why);
			assert_int_equal(odo_wire_encode_batch(dev, seq, g_recs, n, buf, sizeof(buf), &len), ODO_OK);
		} else {
			struct odo_ack a;
			assert_int_equal(odo_wire_decode_ack(g->b, g->n, &a, &err), ODO_OK);
			assert_string_equal(a.device, WIRE_FIX_DEVICE);
			assert_int_equal(a.ack, 12345);
			assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
		}
		if (len != g->n || memcmp(buf, g->b, len) != 0)
			fail_msg("%s: the encoder no longer produces the golden bytes", g->name);
	}
}

/* Literal values, independent of the fixture code. */
static void test_golden_literals(void **state)
{
	(void)state;
	struct golden g = { .name = "batch_all.cbor" };
	load(&g);
	struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL };
	assert_int_equal(odo_wire_decode_batch(g.b, g.n, &b, NULL), ODO_OK);
	assert_int_equal(b.n, 16);
	assert_int_equal(b.recs[0].kind, ODO_REC_TRIP_START);
	assert_int_equal(b.recs[0].seq, 5);
	assert_int_equal(b.recs[0].t_ms, 1763900005000LL);
	assert_int_equal(b.recs[0].tsrc, ODO_TSRC_GPS);
	assert_true(b.recs[0].u.trip_start.lat == 48.137154 && b.recs[0].u.trip_start.lon == -11.5);
	assert_true(isnan(b.recs[1].u.trip_start.lat));
	assert_int_equal(b.recs[2].u.trip_end.end_ms - b.recs[2].u.trip_end.start_ms, 1000000);
	assert_true(b.recs[2].u.trip_end.distance_m == 12345.678);
	assert_int_equal(b.recs[2].u.trip_end.harsh_corners, 4);
	assert_int_equal(b.recs[4].u.event.kind, ODO_EV_HARD_BRAKE);
	assert_true(b.recs[4].u.event.peak_g == -0.62);
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
	assert_true(b.recs[14].u.status.accel_errors == UINT64_MAX);
	assert_true(b.recs[14].u.status.evicted == 5000000000ULL);
	for (size_t i = 1; i < b.n; i++)
		assert_true(b.recs[i].seq > b.recs[i - 1].seq);
}

/* Decode with the decoder for g's kind; on success check that re-encoding
 * and decoding again gives the same values. Returns the decoder's code. */
static int decode_check(const struct golden *g, const uint8_t *p, size_t n, struct odo_wire_error *err)
{
	static uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES * WIRE_FIX_ALL];
	static struct odo_record again[WIRE_FIX_ALL];
	size_t len;
	char why[160];
	int rc;
	memset(err, 0, sizeof(*err));
	if (g->kind == G_REC) {
		struct odo_record r, r2;
		if ((rc = odo_wire_decode_record(p, n, &r, err)) != ODO_OK)
			return rc;
		assert_int_equal(odo_wire_encode_record(&r, buf, sizeof(buf), &len), ODO_OK);
		assert_int_equal(odo_wire_decode_record(buf, len, &r2, NULL), ODO_OK);
		if (!wire_record_eq(&r, &r2, why, sizeof(why)))
			fail_msg("%s: %s", g->name, why);
	} else if (g->kind == G_BATCH) {
		struct odo_batch b = { .recs = g_back, .cap = WIRE_FIX_ALL };
		if ((rc = odo_wire_decode_batch(p, n, &b, err)) != ODO_OK)
			return rc;
		assert_int_equal(odo_wire_encode_batch(b.device, b.seq, b.recs, b.n, buf, sizeof(buf), &len), ODO_OK);
		struct odo_batch b2 = { .recs = again, .cap = WIRE_FIX_ALL };
		assert_int_equal(odo_wire_decode_batch(buf, len, &b2, NULL), ODO_OK);
		assert_string_equal(b.device, b2.device);
		assert_true(b.seq == b2.seq && b.n == b2.n);
		for (size_t i = 0; i < b.n; i++)
			if (!wire_record_eq(&b.recs[i], &b2.recs[i], why, sizeof(why)))
				fail_msg("%s: %s", g->name, why);
	} else {
		struct odo_ack a, a2;
		if ((rc = odo_wire_decode_ack(p, n, &a, err)) != ODO_OK)
			return rc;
		assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
		assert_int_equal(odo_wire_decode_ack(buf, len, &a2, NULL), ODO_OK);
		assert_true(a.ack == a2.ack && strcmp(a.device, a2.device) == 0);
	}
	return ODO_OK;
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

static void test_golden_truncated_and_extended(void **state)
{
	(void)state;
	size_t ng = all_golden(gs);
	struct odo_wire_error err;
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
		for (size_t cut = 0; cut < g->n; cut++) {
			int rc = decode_check(g, g->b, cut, &err);
			if (rc != ODO_ERR_WIRE_MALFORMED)
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
	unsigned count[ODO_ERR__COUNT] = { 0 };
	for (size_t i = 0; i < ng; i++) {
		struct golden *g = &gs[i];
		uint8_t m[FILE_MAX];
		for (size_t pos = 0; pos < g->n; pos++)
			for (size_t k = 0; k < sizeof(masks); k++) {
				memcpy(m, g->b, g->n);
				m[pos] ^= masks[k];
				int rc = decode_check(g, m, g->n, &err);
				count[rc]++;
				if (rc != ODO_OK)
					assert_precise(g, rc, &err, g->n);
			}
	}
	/* The sweep reaches every kind of rejection (and some flips in values
	 * stay valid). */
	assert_true(count[ODO_OK] > 0);
	for (int c = ODO_ERR_WIRE_MALFORMED; c <= ODO_ERR_WIRE_DUPLICATE; c++)
		if (c != ODO_ERR_WIRE_VERSION && c != ODO_ERR_WIRE_DUPLICATE && count[c] == 0)
			fail_msg("no flip produced %s", odo_strerror(c));
}

/* Single-byte edits of batch_small.cbor at known positions, with the exact
 * answer (layout: see docs/wire-format.md). */
static void test_golden_targeted_edits(void **state)
{
	(void)state;
	struct golden g = { .name = "batch_small.cbor", .kind = G_BATCH };
	load(&g);
	assert_int_equal(g.b[3], 0x01);   /* v */
	assert_int_equal(g.b[18], 0x01);  /* seq */
	assert_int_equal(g.b[24], 0x82);  /* recs: 2 */
	assert_int_equal(g.b[25], 0xa5);  /* record 0: 5 pairs */
	static const struct {
		size_t pos;
		uint8_t val;
		int code;
		const char *field;
		size_t off;
	} cases[] = {
		{ 0, 0x84, ODO_ERR_WIRE_TYPE, "", 0 },
		{ 0, 0xa5, ODO_ERR_WIRE_MALFORMED, "<key>", 92 },
		{ 0, 0xa3, ODO_ERR_WIRE_MISSING, "recs", 0 }, /* the map ends before "recs" */
		{ 2, 'w', ODO_ERR_WIRE_UNKNOWN, "w", 1 },
		{ 3, 0x02, ODO_ERR_WIRE_VERSION, "v", 3 },
		{ 3, 0x20, ODO_ERR_WIRE_VERSION, "v", 3 },
		{ 10, '/', ODO_ERR_WIRE_RANGE, "dev", 8 },
		{ 18, 0x02, ODO_ERR_WIRE_RANGE, "seq", 18 },
		{ 18, 0x00, ODO_ERR_WIRE_RANGE, "seq", 18 },
		{ 24, 0x81, ODO_ERR_WIRE_TRAILING, "", 53 },
		{ 24, 0x80, ODO_ERR_WIRE_RANGE, "recs", 24 },
		{ 25, 0xa4, ODO_ERR_WIRE_MISSING, "recs[0].trip", 25 },
		{ 27, 'k', ODO_ERR_WIRE_DUPLICATE, "recs[0].k", 44 },
		{ 28, 0x00, ODO_ERR_WIRE_RANGE, "recs[0].s", 28 },
		{ 28, 0x03, ODO_ERR_WIRE_RANGE, "recs[1].s", 53 },
		{ 46, 0x09, ODO_ERR_WIRE_UNKNOWN, "recs[0].k", 46 },
		{ 79, 0xf6, ODO_ERR_WIRE_TYPE, "recs[1].scr", 79 },
		{ 85, 0x03, ODO_ERR_WIRE_RANGE, "recs[1].call", 85 },
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(cases); i++) {
		uint8_t m[FILE_MAX];
		memcpy(m, g.b, g.n);
		m[cases[i].pos] = cases[i].val;
		struct odo_wire_error err;
		int rc = decode_check(&g, m, g.n, &err);
		if (rc != cases[i].code || strcmp(err.field, cases[i].field) != 0 || err.offset != cases[i].off)
			fail_msg("edit %zu (byte %zu = 0x%02x): want %s/\"%s\"@%zu, got %s/\"%s\"@%zu: %s", i,
				 cases[i].pos, cases[i].val, odo_strerror(cases[i].code), cases[i].field, cases[i].off,
				 odo_strerror(rc), err.field, err.offset, err.msg);
	}
}

/* The one-line hex example in docs/wire-format.md is the golden file. */
static void test_doc_example_is_golden(void **state)
{
	(void)state;
	struct golden g = { .name = "batch_small.cbor" };
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
		fail_msg("docs/wire-format.md does not show batch_small.cbor as one hex line");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_decode_and_reencode),
		cmocka_unit_test(test_golden_literals),
		cmocka_unit_test(test_golden_truncated_and_extended),
		cmocka_unit_test(test_golden_bit_flips),
		cmocka_unit_test(test_golden_targeted_edits),
		cmocka_unit_test(test_doc_example_is_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
