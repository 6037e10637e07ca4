/* Unit tests for common/src/geo.c against independently published values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "odo/geo.h"

#define PI 3.14159265358979323846

static void assert_near(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.9f, want %.9f +- %g", got, want, tol);
}

/* Ed Williams, "Aviation Formulary" (worked example, V1.46): LAX at
 * 33deg57'N 118deg24'W to JFK at 40deg38'N 73deg47'W is 0.623585 rad of
 * great circle (2144 nm) and the initial true course is 1.150035 rad
 * (65.89 deg, "66 degrees"). */
static void test_lax_jfk(void **state)
{
	double lat1 = 33 + 57 / 60.0, lon1 = -(118 + 24 / 60.0);
	double lat2 = 40 + 38 / 60.0, lon2 = -(73 + 47 / 60.0);
	double d = odo_geo_distance_m(lat1, lon1, lat2, lon2);

	(void)state;
	assert_near(d / ODO_EARTH_RADIUS_M, 0.623585, 1e-6);
	/* nautical miles as the Formulary counts them: one minute of arc */
	assert_near(d / ODO_EARTH_RADIUS_M * 180 / PI * 60, 2144, 0.5);
	assert_near(odo_geo_bearing_deg(lat1, lon1, lat2, lon2), 1.150035 * 180 / PI, 1e-4);
	/* symmetric distance */
	assert_near(odo_geo_distance_m(lat2, lon2, lat1, lon1), d, 1e-6);
}

static void test_distance_by_hand(void **state)
{
	double one_deg = ODO_EARTH_RADIUS_M * PI / 180; /* 111195.08 m */

	(void)state;
	assert_near(odo_geo_distance_m(0, 0, 0, 0), 0, 0);
	assert_near(odo_geo_distance_m(10, 20, 11, 20), one_deg, 1e-6);
	assert_near(odo_geo_distance_m(0, 0, 0, 1), one_deg, 1e-6);
	/* across the antimeridian: 2 degrees, not 358 */
	assert_near(odo_geo_distance_m(0, 179, 0, -179), 2 * one_deg, 1e-6);
	/* pole to pole and antipodes: half the circumference */
	assert_near(odo_geo_distance_m(90, 0, -90, 0), PI * ODO_EARTH_RADIUS_M, 1e-6);
	assert_near(odo_geo_distance_m(0, 0, 0, 180), PI * ODO_EARTH_RADIUS_M, 1e-6);
	assert_near(odo_geo_distance_m(45, 45, -45, -135), PI * ODO_EARTH_RADIUS_M, 1e-3);
	/* a metre-scale step is resolved (the haversine form keeps precision) */
	assert_near(odo_geo_distance_m(48, 11, 48 + 1 / one_deg, 11), 1.0, 1e-6);
}

/* From (0,0) to (45N, 90E): y = sin(90)cos(45) = 0.7071,
 * x = cos(0)sin(45) - sin(0)cos(45)cos(90) = 0.7071, atan2(y, x) = 45 deg. */
static void test_bearing_by_hand(void **state)
{
	(void)state;
	assert_near(odo_geo_bearing_deg(0, 0, 45, 90), 45, 1e-9);
	assert_near(odo_geo_bearing_deg(0, 0, 1, 0), 0, 1e-9);
	assert_near(odo_geo_bearing_deg(0, 0, 0, 1), 90, 1e-9);
	assert_near(odo_geo_bearing_deg(0, 0, -1, 0), 180, 1e-9);
	assert_near(odo_geo_bearing_deg(0, 0, 0, -1), 270, 1e-9);
	assert_near(odo_geo_bearing_deg(0, 179, 0, -179), 90, 1e-9);
	assert_near(odo_geo_bearing_deg(0, -179, 0, 179), 270, 1e-9);
	/* the result is always in [0, 360) */
	for (double lon = -180; lon <= 180; lon += 7.5) {
		for (double lat = -89; lat <= 89; lat += 11) {
			double b = odo_geo_bearing_deg(lat, lon, -lat / 2, -lon);

			assert_true(b >= 0 && b < 360);
		}
	}
	/* a hair west of due north must not come out as 360 */
	assert_true(odo_geo_bearing_deg(0, 0, 1, -1e-15) < 360);
}

static void test_heading_diff(void **state)
{
	(void)state;
	assert_near(odo_geo_heading_diff_deg(350, 10), 20, 1e-12);
	assert_near(odo_geo_heading_diff_deg(10, 350), -20, 1e-12);
	assert_near(odo_geo_heading_diff_deg(0, 180), 180, 1e-12);
	assert_near(odo_geo_heading_diff_deg(180, 0), 180, 1e-12); /* (-180, 180] */
	assert_near(odo_geo_heading_diff_deg(90, -90), 180, 1e-12);
	assert_near(odo_geo_heading_diff_deg(0, -179.5), -179.5, 1e-12);
	assert_near(odo_geo_heading_diff_deg(-720, 45), 45, 1e-12);
	assert_near(odo_geo_heading_diff_deg(123.25, 123.25), 0, 0);
	for (double a = -400; a <= 400; a += 13.7) {
		for (double b = -400; b <= 400; b += 17.3) {
			double d = odo_geo_heading_diff_deg(a, b);
			double back = fmod(a + d - b, 360.0);

			assert_true(d > -180 && d <= 180);
			assert_true(fabs(back) < 1e-9 || fabs(fabs(back) - 360) < 1e-9);
		}
	}
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(odo_geo_valid(0, 0));
	assert_true(odo_geo_valid(90, 180));
	assert_true(odo_geo_valid(-90, -180));
	assert_false(odo_geo_valid(90.0001, 0));
	assert_false(odo_geo_valid(0, -180.0001));
	assert_false(odo_geo_valid(NAN, 0));
	assert_false(odo_geo_valid(0, NAN));
	assert_false(odo_geo_valid(INFINITY, 0));
	assert_false(odo_geo_valid(0, -INFINITY));
}

/* The instant in [lo, hi] where elevation crosses `level` (bisection). */
static int64_t crossing(double lat, double lon, int64_t lo, int64_t hi, double level)
{
	int rising = odo_geo_sun_elevation_deg(lat, lon, lo) < level;

	assert_true((odo_geo_sun_elevation_deg(lat, lon, hi) < level) != rising);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if ((odo_geo_sun_elevation_deg(lat, lon, mid) < level) == rising)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* U.S. Naval Observatory "Sun and Moon Data for One Day", as quoted by
 * Steve Kluge (http://stevekluge.com/astronomy/equinoxsunrise.html), for
 * Wednesday 20 March 2002, Eastern Standard Time (UTC-5):
 *   Washington DC (W77.0, N38.9): civil twilight begins 5:45, sunrise 6:12,
 *     sunset 18:21, civil twilight ends 18:47;
 *   Cape May NJ (W74.9, N38.9): 5:37, 6:04, 18:12, 18:39.
 * USNO's sunrise/sunset is the centre 0.833 deg below the horizon, civil
 * twilight 6 deg. The times are rounded to the minute (30 s), the places
 * to 0.1 deg (12 s of time), and NOAA states its rise/set times good to
 * about a minute: hence 90 s tolerance (observed: -68 s .. +5 s). */
static void check_day(const char *place, double lat, double lon, const int hm_est[4])
{
	const int64_t day = 1016582400; /* 2002-03-20T00:00:00Z */
	const double level[4] = {-6, -0.833, -0.833, -6};
	const int64_t win[4][2] = {{6, 13}, {6, 13}, {20, 26}, {20, 26}}; /* UTC hours */

	for (int i = 0; i < 4; i++) {
		int64_t want = day + (hm_est[i] / 100 + 5) * 3600 + hm_est[i] % 100 * 60;
		int64_t got = crossing(lat, lon, day + win[i][0] * 3600, day + win[i][1] * 3600, level[i]);

		if (llabs(got - want) > 90)
			fail_msg("%s event %d: %lld s from the USNO time", place, i, (long long)(got - want));
	}
}

static void test_usno_equinox_2002(void **state)
{
	static const int washington[4] = {545, 612, 1821, 1847};
	static const int cape_may[4] = {537, 604, 1812, 1839};

	(void)state;
	check_day("Washington", 38.9, -77.0, washington);
	check_day("Cape May", 38.9, -74.9, cape_may);
}

/* At a pole the sun's elevation equals its declination, whatever the hour.
 * Published instants (e.g. USNO "Earth's Seasons"): March equinox
 * 2022-03-20 15:33 UTC (declination 0), June solstice 2022-06-21 09:14 UTC
 * (declination = obliquity, 23.436 deg in 2022). */
static void test_equinox_solstice(void **state)
{
	(void)state;
	for (int h = 0; h < 24; h += 6) {
		assert_near(odo_geo_sun_elevation_deg(90, h * 15.0, 1647790380), 0, 0.01);
		assert_near(odo_geo_sun_elevation_deg(-90, h * 15.0, 1647790380), 0, 0.01);
		assert_near(odo_geo_sun_elevation_deg(90, h * 15.0, 1655802840), 23.436, 0.01);
		assert_near(odo_geo_sun_elevation_deg(-90, h * 15.0, 1655802840), -23.436, 0.01);
	}
	/* at the solstice the sun stands overhead somewhere on the Tropic of
	 * Cancer, and nowhere is it higher than 90 */
	{
		double best = -90;

		for (double lon = -180; lon < 180; lon += 0.05) {
			double e = odo_geo_sun_elevation_deg(23.436, lon, 1655802840);

			assert_true(e <= 90.0);
			if (e > best)
				best = e;
		}
		assert_true(best > 89.9);
	}
}

/* Midnight sun and polar night are plain elevations, no special cases:
 * Tromsø (69.65 N) in June never sees the sun below the horizon; in
 * December it never sees it above. */
static void test_polar(void **state)
{
	(void)state;
	for (int64_t t = 1655769600; t < 1655769600 + 86400; t += 600)
		assert_true(odo_geo_sun_elevation_deg(69.65, 18.96, t) > 0);
	for (int64_t t = 1671580800; t < 1671580800 + 86400; t += 600) /* 2022-12-21 */
		assert_true(odo_geo_sun_elevation_deg(69.65, 18.96, t) < 0);
	/* before 1970 the time of day still floors correctly */
	assert_near(odo_geo_sun_elevation_deg(0, 0, -86400 * 365 + 43200),
	            odo_geo_sun_elevation_deg(0, 0, -86400 * 365 + 43200 + 1), 0.01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lax_jfk),
	    cmocka_unit_test(test_distance_by_hand),
	    cmocka_unit_test(test_bearing_by_hand),
	    cmocka_unit_test(test_heading_diff),
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_usno_equinox_2002),
	    cmocka_unit_test(test_equinox_solstice),
	    cmocka_unit_test(test_polar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
