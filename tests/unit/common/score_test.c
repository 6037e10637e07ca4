/*
 * Driving score v1 (common/src/score.c) against the hand-computed cases of
 * tests/data/score/cases.csv (the collector's SQL function is checked against
 * the same file in collector_aggregate), plus the error and NULL rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "odo/score.h"

#define NCOL 31

/* Split one CSV line (no quoting: the file has none) into fields. */
static int split(char *line, char *f[NCOL])
{
	int n = 0;
	char *p = line;
	while (n < NCOL) {
		f[n++] = p;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	p = f[n - 1];
	p[strcspn(p, "\r\n")] = 0;
	return n;
}

static double num(const char *s)
{
	return *s ? strtod(s, NULL) : NAN;
}

static int same(double got, const char *want)
{
	if (!*want)
		return isnan(got);
	double w = strtod(want, NULL);
	return fabs(got - w) <= 1e-9 * fmax(1, fabs(w));
}

static void test_cases(void **state)
{
	(void)state;
	FILE *f = fopen(ODO_SOURCE_DIR "/tests/data/score/cases.csv", "r");
	assert_non_null(f);
	char line[1024];
	int n = 0, header = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (!header++)
			continue;
		char *c[NCOL];
		assert_int_equal(split(line, c), NCOL);
		struct odo_score_in in;
		odo_score_in_init(&in);
		in.graded = atoi(c[1]);
		for (int k = 0; k < ODO_SCORE_KINDS; k++)
			for (int g = 0; g < 3; g++)
				in.events[k][g] = num(c[2 + 3 * k + g]);
		in.graded_m = num(c[14]);
		in.distance_m = num(c[15]);
		in.lon_share1 = num(c[16]);
		in.lat_share1 = num(c[17]);
		in.phone_distraction_s = num(c[18]);
		in.phone_moving_s = num(c[19]);
		in.night_m = num(c[20]);
		in.late_night_weekend_m = num(c[21]);
		in.speeding_m = num(c[22]);
		in.limit_m = num(c[23]);
		struct odo_score_out out;
		const char *bad = "x";
		assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_OK);
		assert_null(bad);
		printf("%-60s score %s (%g), inputs %d\n", c[0], c[30], out.score, out.inputs);
		assert_true(same(out.events_pts, c[24]));
		assert_true(same(out.smooth_pts, c[25]));
		assert_true(same(out.phone_pts, c[26]));
		assert_true(same(out.time_pts, c[27]));
		assert_true(same(out.speeding_pts, c[28]));
		assert_int_equal(out.inputs, atoi(c[29]));
		assert_true(same(out.score, c[30]));
		n++;
	}
	fclose(f);
	assert_true(n >= 10);
}

static void test_invalid_names_field(void **state)
{
	(void)state;
	struct odo_score_in in;
	struct odo_score_out out;
	const char *bad;
	odo_score_in_init(&in);
	in.graded = 1;
	for (int k = 0; k < ODO_SCORE_KINDS; k++)
		for (int g = 0; g < 3; g++)
			in.events[k][g] = 0;
	in.graded_m = in.distance_m = 5000;
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_OK);
	assert_true(out.score == 100 && out.inputs == ODO_SCORE_EVENTS);
	in.events[1][2] = -1;
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_ERR_INVAL);
	assert_string_equal(bad, "events[1][2]");
	assert_true(isnan(out.score) && out.inputs == 0);
	in.events[1][2] = NAN; /* graded counts must all be there */
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_ERR_INVAL);
	assert_string_equal(bad, "events[1][2]");
	in.events[1][2] = 0;
	in.lat_share1 = 1.5;
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_ERR_INVAL);
	assert_string_equal(bad, "lat_share1");
	in.lat_share1 = NAN;
	in.night_m = INFINITY;
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_ERR_INVAL);
	assert_string_equal(bad, "night_m");
	in.night_m = NAN;
	in.graded_m = -3;
	assert_int_equal(odo_score_v1(&in, &out, &bad), ODO_ERR_INVAL);
	assert_string_equal(bad, "graded_m");
	assert_int_equal(odo_score_v1(NULL, &out, &bad), ODO_ERR_INVAL);
}

static void test_not_measured_is_not_zero(void **state)
{
	(void)state;
	struct odo_score_in in;
	struct odo_score_out out;
	odo_score_in_init(&in);
	/* nothing graded: no score, no component, not 0 and not 100 */
	in.distance_m = 20000;
	in.night_m = 20000;
	in.late_night_weekend_m = 0;
	assert_int_equal(odo_score_v1(&in, &out, NULL), ODO_OK);
	assert_true(isnan(out.score) && isnan(out.events_pts) && isnan(out.time_pts) && out.inputs == 0);
	/* more events can only lower the score; leaving a component out never does */
	in.graded = 1;
	for (int k = 0; k < ODO_SCORE_KINDS; k++)
		for (int g = 0; g < 3; g++)
			in.events[k][g] = 0;
	in.graded_m = 20000;
	double last = 101;
	for (int n = 0; n < 30; n++) {
		in.events[ODO_SCORE_BRAKE][1] = n;
		assert_int_equal(odo_score_v1(&in, &out, NULL), ODO_OK);
		assert_true(out.score <= last);
		last = out.score;
	}
	double with_time = out.score;
	in.night_m = NAN;
	assert_int_equal(odo_score_v1(&in, &out, NULL), ODO_OK);
	assert_true(out.score >= with_time && !(out.inputs & ODO_SCORE_TIME));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_invalid_names_field),
	    cmocka_unit_test(test_not_measured_is_not_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
