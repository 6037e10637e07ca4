/* Unit tests of the collector's message validation (collector/decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"

static struct odo_batch *scratch;
static uint8_t buf[ODO_WIRE_MAX_MESSAGE + 16];

#define NOW_MS 1793491300000LL /* the receiver's clock in these tests */

static size_t encode(const char *dev, uint64_t seq, int n)
{
	struct odo_record r[4];
	for (int i = 0; i < n; i++) {
		odo_record_init(&r[i], ODO_REC_SAMPLE);
		r[i].seq = seq + (uint64_t)i;
		r[i].t_ms = 1793491200000LL + i * 1000;
		r[i].u.sample.trip_id = 1;
		r[i].u.sample.fix = ODO_FIX_3D;
		r[i].u.sample.lat = 52.5;
		r[i].u.sample.lon = 13.4;
	}
	size_t len = 0;
	assert_int_equal(odo_wire_encode_batch(dev, 77, seq - 1, seq, r, (size_t)n, buf, sizeof buf, &len), ODO_OK);
	return len;
}

static void topic_shapes(void **st)
{
	(void)st;
	char dev[ODO_DEVICE_ID_MAX + 1];
	struct odo_wire_error e;
	assert_int_equal(odo_decode_topic("odo/v1/car-1/up", dev, &e), ODO_OK);
	assert_string_equal(dev, "car-1");
	assert_int_equal(odo_decode_topic("odo/v1/car-1/ack", dev, &e), ODO_ERR_INVAL);
	assert_string_equal(e.field, "topic");
	assert_int_equal(odo_decode_topic("odo/v2/car-1/up", dev, &e), ODO_ERR_INVAL);
	assert_int_equal(odo_decode_topic("odo/v1//up", dev, &e), ODO_ERR_INVAL);
	assert_int_equal(odo_decode_topic("odo/v1/a/b/up", dev, &e), ODO_ERR_INVAL);
	assert_int_equal(odo_decode_topic("odo/v1/bad id/up", dev, &e), ODO_ERR_INVAL);
}

static void accepts_valid_batch(void **st)
{
	(void)st;
	size_t len = encode("car-1", 7, 3);
	struct odo_batch *b = scratch;
	struct odo_wire_error e;
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", buf, len, NOW_MS, b, &e), ODO_OK);
	assert_string_equal(b->device, "car-1");
	assert_int_equal(b->v, 2);
	assert_int_equal(b->epoch, 77);
	assert_int_equal(b->floor, 6);
	assert_int_equal(b->seq, 7);
	assert_int_equal(b->last_seq, 9);
	assert_int_equal(b->nbad, 0);
	assert_int_equal(b->n, 3);
	assert_int_equal(b->recs[2].seq, 9);
	assert_true(b->recs[1].u.sample.lat == 52.5);
	/* the writer decodes the same bytes again when it writes them */
	memset(b->recs, 0, 3 * sizeof *b->recs);
	assert_int_equal(odo_decode_again(buf, len, NOW_MS, b, &e), ODO_OK);
	assert_int_equal(b->recs[2].seq, 9);
	odo_decode_batch_free(NULL);
}

static void rejects_forged_device(void **st)
{
	(void)st;
	size_t len = encode("car-2", 1, 2);
	struct odo_wire_error e;
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", buf, len, NOW_MS, scratch, &e), ODO_ERR_PROTOCOL);
	assert_string_equal(e.field, "dev");
	assert_non_null(strstr(e.msg, "'car-2' is not the topic's 'car-1'"));
	assert_string_equal(odo_decode_code_name(e.code), "ODO_ERR_PROTOCOL");
}

static void rejects_oversize_before_parsing(void **st)
{
	(void)st;
	memset(buf, 0xff, sizeof buf); /* garbage: the size check must come first */
	struct odo_wire_error e;
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", buf, ODO_WIRE_MAX_MESSAGE + 1, NOW_MS, scratch, &e),
			 ODO_ERR_WIRE_TOOLONG);
	assert_string_equal(e.field, "message");
}

static void rejects_malformed(void **st)
{
	(void)st;
	const uint8_t bad[] = { 0xa4, 0x61, 0x76, 0x01, 0x63, 'd', 'e', 'v', 0x7f, 0xff };
	struct odo_wire_error e;
	int rc = odo_decode_message("odo/v1/car-1/up", bad, sizeof bad, NOW_MS, scratch, &e);
	assert_true(rc >= ODO_ERR_WIRE_MALFORMED && rc <= ODO_ERR_WIRE_DUPLICATE);
	assert_int_equal(e.code, rc);
	assert_true(strlen(e.msg) > 0);
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", bad, 0, NOW_MS, scratch, &e) != ODO_OK, 1);
}

/* A version 1 batch (as the version 1 agent sent it) keeps working: epoch
 * 0, floor 0. */
static void accepts_version_1(void **st)
{
	(void)st;
	FILE *f = fopen(ODO_SOURCE_DIR "/tests/data/wire/v1_batch_small.cbor", "rb");
	assert_non_null(f);
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	struct odo_batch *b = scratch;
	struct odo_wire_error e;
	assert_int_equal(odo_decode_message("odo/v1/veh-1/up", buf, len, NOW_MS, b, &e), ODO_OK);
	assert_true(b->v == 1 && b->epoch == 0 && b->floor == 0 && b->seq == 1 && b->n == 2 && b->last_seq == 3);
}

/* The receiver's clock: a record more than a day ahead of it is refused
 * alone, with its bytes; one refused record or all of them still make a
 * batch whose range is known. */
static void refuses_records_alone(void **st)
{
	(void)st;
	size_t len = encode("car-1", 7, 3);
	struct odo_batch *b = scratch;
	struct odo_wire_error e;
	/* the clock a year earlier: every record is "from the future" */
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", buf, len, NOW_MS - 365LL * 86400000, b, &e),
			 ODO_OK);
	assert_int_equal(b->n, 0);
	assert_int_equal(b->nbad, 3);
	assert_int_equal(b->last_seq, 9);
	assert_string_equal(b->bad[2].err.field, "recs[2].t");
	assert_int_equal(b->bad[2].seq, 9);
	assert_true(b->bad[2].off + b->bad[2].len == len);
	/* the clock at the second record: the third is more than a day ahead */
	assert_int_equal(odo_decode_message("odo/v1/car-1/up", buf, len, 1793491200000LL + 1000 - 86400000,
					    b, &e),
			 ODO_OK);
	assert_int_equal(b->n, 2);
	assert_int_equal(b->nbad, 1);
	assert_int_equal(b->bad[0].index, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topic_shapes),
		cmocka_unit_test(accepts_valid_batch),
		cmocka_unit_test(rejects_forged_device),
		cmocka_unit_test(rejects_oversize_before_parsing),
		cmocka_unit_test(accepts_version_1),
		cmocka_unit_test(refuses_records_alone),
		cmocka_unit_test(rejects_malformed),
	};
	if (odo_decode_batch_alloc(&scratch) != ODO_OK)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	odo_decode_batch_free(scratch);
	return rc;
}
