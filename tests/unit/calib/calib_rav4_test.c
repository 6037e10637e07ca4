/*
 * Mounting calibration on a real recording: comma2k19 (MIT; Example_1
 * segment 40, a 2017 Toyota RAV4 on I-280) has a vehicle-frame IMU
 * (forward/right/down) with u-blox GPS. The IMU is rotated by known
 * mounting matrices and fed, with every 10 Hz u-blox fix's speed and
 * course, through the calibration exactly as the engine feeds it (the
 * reference spans are built inside). The estimate must recover each
 * rotation within RAV4_MAX_ERR_DEG, the five estimates must agree (the
 * estimator is rotation-equivariant), and a ready declaration must keep its
 * promise. Argument: the comma2k19-rav4 directory.
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

static void test_rav4_rotations(void **state)
{
	(void)state;
	load();
	const double angles[][3] = {{0, 0, 0}, {90, 0, 0}, {-135, 10, -5}, {30, 60, 20}, {170, -30, 45}};
	double E0[3][3];
	for (size_t k = 0; k < sizeof(angles) / sizeof(angles[0]); k++) {
		double M[3][3];
		syn_rot(angles[k][0], angles[k][1], angles[k][2], M);
		static struct odo_calib c;
		assert_int_equal(odo_calib_init(&c, NULL), ODO_OK);
		size_t g = 0;
		for (size_t i = 0; i < ni; i++) {
			while (g < ng && gt[g] <= it[i]) {
				odo_calib_speed(&c, 0, (int64_t)(gt[g] * 1e9), gv[g], gb[g]);
				g++;
			}
			/* the recording's down axis reads -g at rest: specific force, as our frame */
			double v[3] = {ia[i][0], ia[i][1], ia[i][2]}, s[3];
			syn_mul_t(M, v, s);
			odo_calib_accel(&c, (int64_t)(it[i] * 1e9), s, NULL);
		}
		assert_true(c.est.ok);
		double err = odo_calib_angle_deg(c.est.R, M);
		/* the estimate in the vehicle frame (E = est M^T): the same for every rotation */
		double E[3][3];
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				E[a][b] = c.est.R[a][0] * M[b][0] + c.est.R[a][1] * M[b][1] + c.est.R[a][2] * M[b][2];
		if (k == 0)
			memcpy(E0, E, sizeof(E0));
		printf("rav4 rotation %zu: %s, estimate %.2f deg from the known mount, sigma %.2f deg, %.2f deg from "
		       "rotation 0's, gps lag %.1f s\n",
		       k, c.ready ? "ready" : "not ready", err, c.sigma_deg, odo_calib_angle_deg(E, E0),
		       odo_calib_lag_s(&c, 0));
		assert_true(err < RAV4_MAX_ERR_DEG);
		assert_true(odo_calib_angle_deg(E, E0) < 0.5);
		if (c.ready)
			assert_true(odo_calib_angle_deg(c.R, M) < RAV4_MAX_ERR_DEG);
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
