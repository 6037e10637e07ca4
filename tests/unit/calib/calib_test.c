/* Mounting calibration on synthetic drives: known rotations are recovered,
 * re-mounts are detected and re-learnt, explicit matrices and the state
 * file behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../engine/synth.h"
#include "calib/calib.h"
#include "odo/err.h"

#define RATE_HZ 100
#define REF_HZ  1

/* Drive a synthetic manoeuvre sequence (vehicle frame: lon, lat), mounted
 * with sensor->vehicle rotation M, for `secs` seconds; sensor noise 0.3 m/s^2. */
static void drive(struct odo_calib *c, const double M[3][3], double t0, double secs, uint64_t *rng, int still)
{
	int n = (int)(secs * RATE_HZ);
	for (int i = 0; i < n; i++) {
		double t = t0 + (double)i / RATE_HZ;
		/* 8 s period acceleration/braking, 13 s period turns; constant over each second */
		double ts = floor(t);
		double lon = still ? 0 : 1.5 * sin(2 * M_PI * ts / 8);
		double lat = still ? 0 : 2.0 * sin(2 * M_PI * ts / 13);
		double v[3] = {lon, lat, -SYN_G}, s[3];
		syn_mul_t(M, v, s);
		for (int k = 0; k < 3; k++)
			s[k] += 0.3 * syn_rand(rng);
		int64_t ns = (int64_t)(t * 1e9);
		odo_calib_accel(c, ns, s);
		if ((i + 1) % (RATE_HZ / REF_HZ) == 0)
			odo_calib_reference(c, ns + 10000000, still ? 0 : lon, still ? 0 : lat, still);
	}
}

static void test_recovers_rotations(void **state)
{
	(void)state;
	const double angles[][3] = {{0, 0, 0},      {90, 0, 0},   {-135, 10, -5}, {30, 80, 20},
	                            {170, -30, 45}, {45, 0, 180}, {-60, 25, 90}};
	for (size_t k = 0; k < sizeof(angles) / sizeof(angles[0]); k++) {
		double M[3][3];
		syn_rot(angles[k][0], angles[k][1], angles[k][2], M);
		struct odo_calib c;
		assert_int_equal(odo_calib_init(&c, NULL), ODO_OK);
		uint64_t rng = 42 + k;
		drive(&c, M, 0, 10, &rng, 1);
		assert_false(c.ready);
		drive(&c, M, 10, 300, &rng, 0);
		assert_true(c.ready);
		double err = odo_calib_angle_deg(c.R, M);
		printf("rotation %zu: error %.2f deg, confidence %.2f\n", k, err, c.confidence);
		assert_true(err < 2.0);
		assert_true(c.confidence > 0.5);
	}
}

static void test_remount(void **state)
{
	(void)state;
	double M1[3][3], M2[3][3];
	syn_rot(20, 5, 0, M1);
	syn_rot(-70, 30, 10, M2);
	struct odo_calib c;
	assert_int_equal(odo_calib_init(&c, NULL), ODO_OK);
	uint64_t rng = 7;
	drive(&c, M1, 0, 300, &rng, 0);
	assert_true(c.ready);
	assert_true(odo_calib_angle_deg(c.R, M1) < 2.0);
	/* still with the original mounting: nothing happens */
	drive(&c, M1, 300, 20, &rng, 1);
	assert_int_equal(c.remounts, 0);
	/* the box is moved: still, gravity now elsewhere */
	drive(&c, M2, 320, 20, &rng, 1);
	assert_int_equal(c.remounts, 1);
	assert_false(c.ready);
	drive(&c, M2, 340, 300, &rng, 0);
	assert_true(c.ready);
	assert_true(odo_calib_angle_deg(c.R, M2) < 2.0);
}

static void test_explicit_matrix_and_state(void **state)
{
	(void)state;
	struct odo_calib_cfg cfg;
	struct odo_calib c;
	odo_calib_cfg_defaults(&cfg);
	strcpy(cfg.matrix, "0 1 0  -1 0 0  0 0 1");
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_OK);
	assert_true(c.ready);
	assert_true(c.fixed);
	double in[3] = {1, 2, 3}, out[3];
	odo_calib_rotate(&c, in, out);
	assert_true(fabs(out[0] - 2) < 1e-12 && fabs(out[1] + 1) < 1e-12 && fabs(out[2] - 3) < 1e-12);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0");
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 2 0 0 0 1");
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0 -1"); /* a reflection */
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0 1 x");
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_ERR_CONFIG);

	/* the setter writes what init reads back exactly (a 30 degree yaw) */
	double cy = cos(M_PI / 6), sy = sin(M_PI / 6);
	const double yaw[3][3] = {{cy, sy, 0}, {-sy, cy, 0}, {0, 0, 1}};
	assert_int_equal(odo_calib_cfg_set_matrix(&cfg, yaw), ODO_OK);
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_OK);
	assert_true(c.fixed);
	for (int i = 0; i < 9; i++)
		assert_true(c.R[i / 3][i % 3] == yaw[i / 3][i % 3]);
	const double bad[3][3] = {{1, 0, 0}, {0, NAN, 0}, {0, 0, 1}};
	assert_int_equal(odo_calib_cfg_set_matrix(&cfg, bad), ODO_ERR_INVAL);
	assert_int_equal(odo_calib_init(&c, &cfg), ODO_OK); /* unchanged: still the yaw */
	assert_true(c.R[0][1] == sy);

	/* learnt estimate survives a save / load */
	char path[] = "/tmp/odo-calib-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	double M[3][3];
	syn_rot(123, -20, 15, M);
	assert_int_equal(odo_calib_init(&c, NULL), ODO_OK);
	uint64_t rng = 3;
	drive(&c, M, 0, 300, &rng, 0);
	assert_true(c.ready);
	assert_int_equal(odo_calib_save(&c, path), ODO_OK);
	struct odo_calib d;
	assert_int_equal(odo_calib_init(&d, NULL), ODO_OK);
	assert_int_equal(odo_calib_load(&d, path), ODO_OK);
	assert_true(d.ready);
	assert_true(odo_calib_angle_deg(d.R, c.R) < 1e-3);
	/* a damaged file is refused */
	FILE *f = fopen(path, "w");
	fputs("odo-calib 1\nready 1\nconfidence 7\n", f);
	fclose(f);
	assert_int_equal(odo_calib_init(&d, NULL), ODO_OK);
	assert_int_equal(odo_calib_load(&d, path), ODO_ERR_PROTOCOL);
	assert_false(d.ready);
	unlink(path);
	assert_int_equal(odo_calib_load(&d, path), ODO_ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recovers_rotations),
	    cmocka_unit_test(test_remount),
	    cmocka_unit_test(test_explicit_matrix_and_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
