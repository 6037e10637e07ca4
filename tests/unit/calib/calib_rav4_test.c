/*
 * Mounting calibration on a real recording: comma2k19 (MIT; Example_1
 * segment 40, a 2017 Toyota RAV4 on I-280) has a vehicle-frame IMU
 * (forward/right/down) with u-blox GPS. The IMU is rotated by known
 * mounting matrices and fed with the GPS speed/track references, as the
 * engine does; the estimate must recover each rotation within
 * RAV4_MAX_ERR_DEG. Argument: the comma2k19-rav4 directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../engine/synth.h"
#include "calib/calib.h"
#include "odo/err.h"

#define RAV4_MAX_ERR_DEG 5.0 /* stated accuracy on this one-minute highway drive */
#define MAXN             8192
#define REF_EVERY        5 /* GPS fixes per reference interval (10 Hz -> 0.5 s) */

static const char *dir;
static double it[MAXN], ia[MAXN][3];
static size_t ni;
static double gt[MAXN], gv[MAXN], gb[MAXN];
static size_t ng;

static void load(void)
{
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/imu_accelerometer.csv", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) && ni < MAXN)
		if (sscanf(line, "%lf,%lf,%lf,%lf", &it[ni], &ia[ni][0], &ia[ni][1], &ia[ni][2]) == 4)
			ni++;
	fclose(f);
	snprintf(path, sizeof(path), "%s/gnss_live_gnss_ublox.csv", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	double lat, lon, utc, alt;
	while (fgets(line, sizeof(line), f) && ng < MAXN)
		if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &gt[ng], &lat, &lon, &gv[ng], &utc, &alt,
		           &gb[ng]) == 7)
			ng++;
	fclose(f);
	assert_true(ni > 5000);
	assert_true(ng > 500);
}

static double hdiff(double a, double b)
{
	double d = fmod(b - a + 540.0, 360.0) - 180.0;
	return d;
}

static void test_rav4_rotations(void **state)
{
	(void)state;
	load();
	const double angles[][3] = {{0, 0, 0}, {90, 0, 0}, {-135, 10, -5}, {30, 60, 20}, {170, -30, 45}};
	for (size_t k = 0; k < sizeof(angles) / sizeof(angles[0]); k++) {
		double M[3][3];
		syn_rot(angles[k][0], angles[k][1], angles[k][2], M);
		struct odo_calib c;
		assert_int_equal(odo_calib_init(&c, NULL), ODO_OK);
		size_t g = 0, lastref = 0;
		for (size_t i = 0; i < ni; i++) {
			while (g < ng && gt[g] <= it[i]) {
				if (g >= lastref + REF_EVERY) {
					double dt = gt[g] - gt[lastref];
					double lonr = (gv[g] - gv[lastref]) / dt;
					double vm = (gv[g] + gv[lastref]) / 2;
					double latr = vm * hdiff(gb[lastref], gb[g]) * M_PI / 180 / dt;
					odo_calib_reference(&c, (int64_t)(gt[g] * 1e9), lonr, latr, 0);
					lastref = g;
				} else if (g == 0) {
					odo_calib_reference(&c, (int64_t)(gt[g] * 1e9), NAN, NAN, 0);
				}
				g++;
			}
			/* the recording's down axis reads -g at rest: specific force, as our frame */
			double v[3] = {ia[i][0], ia[i][1], ia[i][2]}, s[3];
			syn_mul_t(M, v, s);
			odo_calib_accel(&c, (int64_t)(it[i] * 1e9), s);
		}
		double err = odo_calib_angle_deg(c.R, M);
		printf("rav4 rotation %zu: ready %d, error %.2f deg, confidence %.2f\n", k, c.ready, err,
		       c.confidence);
		assert_true(c.ready);
		assert_true(err < RAV4_MAX_ERR_DEG);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMA2K19_RAV4_DIR\n", argv[0]);
		return 1;
	}
	dir = argv[1];
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_rav4_rotations)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
