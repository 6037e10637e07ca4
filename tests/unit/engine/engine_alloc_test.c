/*
 * No allocation on the per-sample path: malloc/calloc/realloc are
 * interposed in this executable (glibc: the definitions here win over
 * libc's, and forward to __libc_malloc & co.) and counted while a
 * synthetic drive of several minutes (tens of thousands of accelerometer
 * samples, fixes, OBD values, events, a crash and its trace, trip
 * start/end) goes through the engine. Not built with sanitizers (they
 * interpose malloc themselves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drive.h"

#include "../../lib/alloc_count.h"

static long records;

static int sink_rec(void *ctx, struct odo_record *r)
{
	(void)ctx;
	(void)r;
	records++;
	return 0;
}

static void test_no_alloc(void **state)
{
	(void)state;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1768010400000LL * ODO_NS_PER_MS, 0);
	struct odo_engine *e;
	/* learning calibration, no state file: the whole path incl. learning */
	assert_int_equal(odo_engine_open(NULL, &clk, NULL, sink_rec, NULL, NULL, &e), ODO_OK);
	double M[3][3];
	syn_rot(75, -10, 5, M);
	struct drv d;
	drv_init(&d, &clk, e, M, 1768010400000LL);
	/* a first allocation check that the counter works at all */
	counting = 1;
	void *p = malloc(16);
	counting = 0;
	free(p);
	assert_int_equal(allocs, 1);
	allocs = 0;

	counting = 1;
	const struct drv_phase start[] = {{20, 0, 0, 1, 0}, {10, 1.0, 0, 1, 0}};
	for (size_t i = 0; i < 2; i++)
		drv_run(&d, &start[i]);
	drv_warmup(&d, 12);
	const struct drv_phase man[] = {
	    {5, 0, 0, 1, 0}, {1.5, -4.4, 0, 1, 0}, {5, 0, 0, 1, 0},  {2, 3.0, 0, 1, 1}, {5, 0, 20, 1, 1},
	    {5, 0, 0, 1, 0}, {12, -1.0, 0, 1, 0},  {10, 0, 0, 1, 0}, {40, 0, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(man) / sizeof(man[0]); i++) {
		if (i == 5)
			d.impact_g = 20; /* a crash: its trace (30 s at 100 Hz) goes out on the same path */
		drv_run(&d, &man[i]);
	}
	odo_engine_finish(e);
	counting = 0;

	struct odo_engine_stats st;
	odo_engine_stats(e, &st);
	printf("%llu accel samples, %ld records, %ld allocations\n", (unsigned long long)st.accel_samples,
	       records, allocs);
	assert_true(st.accel_samples > 30000);
	assert_true(st.calib_ready);
	assert_true(st.events[ODO_EV_HARD_BRAKE] >= 1);
	assert_int_equal(st.trips, 1);
	assert_int_equal(st.events[ODO_EV_CRASH], 1);
	assert_int_equal(st.trace.traces, 1);
	assert_int_equal(st.trace.parts, 24);
	assert_int_equal(allocs, 0);
	odo_engine_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_alloc)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
