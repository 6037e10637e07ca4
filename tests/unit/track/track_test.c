/* The agent's dense-track producer (agent/track): 1 Hz thinning, records of
 * at most record_s seconds / 64 points, delta times without drift, absent
 * values, back-dated trip starts, trip changes, and the encoded size. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "track/track.h"

#define T0 1772874000000LL

static struct odo_track tr;
static struct odo_record rec;

static void init(void)
{
	struct odo_track_cfg c = { .point_s = 1, .record_s = 60 }; /* the [engine] defaults */
	odo_track_init(&tr, &c);
}

static int64_t sum_dt_ms(const struct odo_rec_track *t, unsigned upto)
{
	int64_t s = 0;
	for (unsigned i = 0; i <= upto; i++)
		s += t->pt[i].dt_ds * 100;
	return s;
}

static void test_one_hz_records(void **state)
{
	(void)state;
	init();
	int got = 0;
	unsigned sizes[8];
	int64_t starts[8];
	/* 5 Hz fixes for 150 s, receipt jitter of up to 80 ms: thinned to 1 Hz */
	for (int k = 0; k < 750; k++) {
		int64_t t = T0 + k * 200 + (k * 37) % 80;
		if (odo_track_fix(&tr, 7, T0, t, 43.7 + k * 1e-6, 7.4 + k * 2e-6, 12.34, 3.2, &rec)) {
			assert_int_equal(rec.kind, ODO_REC_TRACK);
			assert_int_equal(rec.u.track.trip_id, 7);
			sizes[got] = rec.u.track.n;
			starts[got++] = rec.t_ms;
			const struct odo_rec_track *x = &rec.u.track;
			assert_int_equal(x->pt[0].dt_ds, 0);
			for (unsigned i = 1; i < x->n; i++)
				assert_true(x->pt[i].dt_ds >= 9 && x->pt[i].dt_ds <= 11);
			assert_int_equal(x->pt[1].v_dms, 123);
			assert_int_equal(x->pt[1].eph_m, 4); /* rounded up */
		}
	}
	assert_int_equal(odo_track_flush(&tr, &rec), 1);
	sizes[got] = rec.u.track.n;
	starts[got++] = rec.t_ms;
	assert_int_equal(odo_track_flush(&tr, &rec), 0);
	assert_int_equal(got, 3);
	assert_int_equal(sizes[0] + sizes[1] + sizes[2], 150);
	assert_true(sizes[0] == 60 && sizes[1] == 60);
	assert_true(starts[1] - starts[0] >= 59900 && starts[1] - starts[0] <= 60100);
}

static void test_no_drift_and_absent_values(void **state)
{
	(void)state;
	init();
	/* fixes 1.03 s apart: the deltas round to 10, the offsets never drift */
	int64_t last = 0;
	for (int k = 0; k < 50; k++) {
		last = T0 + k * 1030;
		assert_int_equal(odo_track_fix(&tr, 3, T0, last, 1, 2, k % 2 ? NAN : 5, k % 3 ? NAN : 7, &rec), 0);
	}
	assert_int_equal(odo_track_flush(&tr, &rec), 1);
	const struct odo_rec_track *x = &rec.u.track;
	assert_int_equal(x->n, 50);
	assert_true(llabs(rec.t_ms + sum_dt_ms(x, 49) - last) <= 50);
	assert_int_equal(x->pt[1].v_dms, -1);
	assert_int_equal(x->pt[0].v_dms, 50);
	assert_int_equal(x->pt[1].eph_m, -1);
	assert_int_equal(x->pt[3].eph_m, 7);
	assert_int_equal(x->pt[0].lat_e6, 1000000);
	assert_int_equal(x->pt[0].lon_e6, 2000000);
}

static void test_backdated_start_and_trip_change(void **state)
{
	(void)state;
	init();
	/* 10 s of fixes with no trip, then the trip starts, back-dated to 5 s */
	for (int k = 0; k < 10; k++)
		assert_int_equal(odo_track_fix(&tr, 0, 0, T0 + k * 1000, 1, 2, 3, 4, &rec), 0);
	assert_int_equal(odo_track_fix(&tr, 9, T0 + 5000, T0 + 10000, 1, 2, 3, 4, &rec), 0);
	assert_int_equal(odo_track_fix(&tr, 9, T0 + 5000, T0 + 11000, 1, 2, 3, 4, &rec), 0);
	/* the next trip begins without a flush: the previous record comes out */
	assert_int_equal(odo_track_fix(&tr, 10, T0 + 12000, T0 + 12000, 1, 2, 3, 4, &rec), 1);
	assert_int_equal(rec.u.track.trip_id, 9);
	assert_int_equal(rec.t_ms, T0 + 5000);
	assert_int_equal(rec.u.track.n, 7); /* 5..11 s */
	assert_int_equal(odo_track_flush(&tr, &rec), 1);
	assert_int_equal(rec.u.track.trip_id, 10);
	assert_int_equal(rec.u.track.n, 1);
}

static void test_encoded_size(void **state)
{
	(void)state;
	init();
	/* a realistic minute: 15 m/s east-north-east with speed and eph changes */
	for (int k = 0; k < 60; k++)
		(void)odo_track_fix(&tr, 1234, T0, T0 + k * 1000, 43.731 + k * 4.1e-5, 7.419 + k * 1.6e-4,
				    15 + 0.3 * sin(k / 5.0), 4 + k % 3, &rec);
	assert_int_equal(odo_track_flush(&tr, &rec), 1);
	rec.seq = 1;
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t len = 0;
	assert_int_equal(odo_wire_encode_record(&rec, buf, sizeof buf, &len), ODO_OK);
	/* wire-v2.md's budget: about 10 bytes per 1 Hz point */
	print_message("one 60-point track record: %zu bytes (%.1f per point)\n", len, (double)len / 60);
	assert_true(len <= 60 * 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_hz_records),
		cmocka_unit_test(test_no_drift_and_absent_values),
		cmocka_unit_test(test_backdated_start_and_trip_change),
		cmocka_unit_test(test_encoded_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
