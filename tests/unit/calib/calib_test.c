/*
 * Mounting calibration on synthetic drives with known truth: rotations are
 * recovered through the speed-report spans (any IMU rate 10-400 Hz, GPS
 * 1-10 Hz), a GPS lag up to 2 s is estimated, the uncertainty rule never
 * declares ready while the true error exceeds 5 degrees, re-mounts (gravity
 * while still, about the vertical while driving, after a restart) are found
 * and re-learnt, the gyroscope's yaw axis and an inverted accelerometer sign,
 * the state file (version 2 round trip, version 1, damage), the transitions.
 */
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

static double calib_dot(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* ---- the generator: a car driving a varied route, with its truth ---- */

struct gen {
	double M[3][3];     /* sensor -> vehicle (rows forward, right, down in sensor axes) */
	double imu_hz, gps_hz, lag_s, noise, gps_noise;
	int gyro, ios_sign, mirror_course;
	uint64_t rng;
	double t, v, psi;   /* s, m/s, deg (clockwise from north) */
	double next_imu, next_gps;
	/* GPS reports wait in a queue until their lag has passed */
	double q_t[64], q_v[64], q_psi[64];
	int q_n;
	int still;          /* force standing still */
};

static void gen_init(struct gen *g, const double M[3][3], double imu_hz, double gps_hz, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->M, M, sizeof(g->M));
	g->imu_hz = imu_hz;
	g->gps_hz = gps_hz;
	g->noise = 0.3;
	g->gps_noise = 0.05;
	g->rng = seed;
	g->v = 12;
	g->psi = 40;
}

/* The manoeuvre at time t: longitudinal acceleration (m/s^2) and yaw rate
 * (deg/s): an 8 s accelerate/brake cycle and a 13 s turn cycle, a few
 * seconds of each, with the speed held between 6 and 25 m/s. */
static void manoeuvre(const struct gen *g, double t, double *a, double *w)
{
	double u = fmod(t, 40.0);
	*a = u < 4 ? 1.5 : u < 8 ? 0 : u < 11 ? -1.8 : u < 20 ? 0 : u < 23 ? 1.0 : u < 26 ? -1.2 : 0;
	*w = u >= 12 && u < 17 ? 12 : u >= 28 && u < 34 ? -10 : u >= 36 && u < 39 ? 8 : 0;
	if ((g->v > 25 && *a > 0) || (g->v < 6 && *a < 0))
		*a = 0;
}

/* Run the generator for secs seconds into c. */
static void gen_run(struct gen *g, struct odo_calib *c, double secs)
{
	double dt = 0.001, end = g->t + secs;
	while (g->t < end) {
		double a = 0, w = 0;
		if (!g->still)
			manoeuvre(g, g->t, &a, &w);
		else
			a = -g->v / dt;
		if (g->still && g->v + a * dt < 0)
			a = -g->v / dt;
		g->v += a * dt;
		if (g->v < 1e-9)
			g->v = 0, w = 0;
		g->psi += w * dt;
		g->t += dt;
		if (g->t >= g->next_imu) {
			g->next_imu += 1.0 / g->imu_hz;
			double f[3] = {g->still ? 0 : a, g->v * w * M_PI / 180, -SYN_G}, s[3];
			syn_mul_t(g->M, f, s);
			for (int k = 0; k < 3; k++)
				s[k] = (s[k] + g->noise * syn_rand(&g->rng)) * (g->ios_sign ? -1 : 1);
			double wv[3] = {0, 0, w * M_PI / 180}, ws[3];
			syn_mul_t(g->M, wv, ws);
			for (int k = 0; k < 3; k++)
				ws[k] += 0.01 + 0.005 * syn_rand(&g->rng); /* bias and noise */
			odo_calib_accel(c, (int64_t)llround(g->t * 1e9), s, g->gyro ? ws : NULL);
		}
		if (g->t >= g->next_gps) {
			g->next_gps += 1.0 / g->gps_hz;
			if (g->q_n < 64) {
				g->q_t[g->q_n] = g->t;
				g->q_v[g->q_n] = g->v + g->gps_noise * syn_rand(&g->rng);
				g->q_psi[g->q_n] = g->mirror_course ? -g->psi : g->psi;
				g->q_n++;
			}
		}
		/* deliver the reports whose lag has passed, stamped when received */
		while (g->q_n && g->q_t[0] + g->lag_s <= g->t) {
			double trk = fmod(fmod(g->q_psi[0], 360) + 360, 360);
			odo_calib_speed(c, 0, (int64_t)llround(g->t * 1e9), fmax(0, g->q_v[0]), trk);
			memmove(g->q_t, g->q_t + 1, (size_t)(g->q_n - 1) * sizeof(double));
			memmove(g->q_v, g->q_v + 1, (size_t)(g->q_n - 1) * sizeof(double));
			memmove(g->q_psi, g->q_psi + 1, (size_t)(g->q_n - 1) * sizeof(double));
			g->q_n--;
		}
	}
}

static struct odo_calib cal, cal2;

static void test_recovers_rotations(void **state)
{
	(void)state;
	const double angles[][3] = {{0, 0, 0},      {90, 0, 0},   {-135, 10, -5}, {30, 80, 20},
	                            {170, -30, 45}, {45, 0, 180}, {-60, 25, 90}};
	for (size_t k = 0; k < sizeof(angles) / sizeof(angles[0]); k++) {
		double M[3][3];
		syn_rot(angles[k][0], angles[k][1], angles[k][2], M);
		struct gen g;
		gen_init(&g, M, 100, 1, 42 + k);
		assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
		gen_run(&g, &cal, 20);
		assert_int_equal(cal.state, ODO_CAL_LEARNING);
		gen_run(&g, &cal, 600);
		double err = odo_calib_angle_deg(cal.R, M);
		printf("rotation %zu: error %.2f deg, sigma %.2f, ready after %.0f s\n", k, err, cal.sigma_deg,
		       cal.ready_s);
		assert_int_equal(cal.state, ODO_CAL_READY);
		assert_true(cal.ready);
		assert_true(err < 1.5);
		assert_true(cal.confidence > 0.5);
		assert_true(cal.ready_s > 0 && cal.ready_s < 300);
		struct odo_calib_transition t;
		assert_int_equal(odo_calib_take_transition(&cal, &t), 1);
		assert_int_equal(t.from, ODO_CAL_LEARNING);
		assert_int_equal(t.to, ODO_CAL_READY);
		assert_int_equal(odo_calib_take_transition(&cal, &t), 0);
	}
}

/* The same drive at every IMU and GPS rate: the same mount. */
static void test_rates(void **state)
{
	(void)state;
	double M[3][3];
	syn_rot(-120, 15, 8, M);
	const double imu[] = {10, 100, 400}, gps[] = {1, 5, 10};
	double R0[3][3];
	int first = 1;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			struct gen g;
			gen_init(&g, M, imu[i], gps[j], 7);
			g.noise = 0.1;
			assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
			gen_run(&g, &cal, 500);
			printf("IMU %3.0f Hz, GPS %2.0f Hz: %s, error %.2f deg, sigma %.2f\n", imu[i], gps[j],
			       cal.ready ? "ready" : "not ready", odo_calib_angle_deg(cal.R, M), cal.sigma_deg);
			assert_true(cal.ready);
			assert_true(odo_calib_angle_deg(cal.R, M) < 1.0);
			if (first)
				memcpy(R0, cal.R, sizeof(R0)), first = 0;
			assert_true(odo_calib_angle_deg(cal.R, R0) < 1.0);
		}
}

/* GPS that lags the IMU by up to 2 s: estimated within 0.2 s, same mount. */
static void test_gps_lag(void **state)
{
	(void)state;
	double M[3][3];
	syn_rot(75, -10, 5, M);
	const double lags[] = {0, 0.7, 1.5, 2.0};
	for (size_t i = 0; i < 4; i++) {
		for (int gyro = 0; gyro < 2; gyro++) {
			struct gen g;
			gen_init(&g, M, 100, 1, 11);
			g.lag_s = lags[i];
			g.gyro = gyro;
			assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
			gen_run(&g, &cal, 600);
			double est = odo_calib_lag_s(&cal, 0), err = odo_calib_angle_deg(cal.R, M);
			printf("lag %.1f s%s: estimated %.1f s, %s, error %.2f deg\n", lags[i], gyro ? " (gyro)" : "",
			       est, cal.ready ? "ready" : "not ready", err);
			assert_true(fabs(est - lags[i]) <= 0.2 + 1e-9);
			assert_true(cal.ready);
			assert_true(err < 1.5);
		}
	}
}

/* The ready rule's promise: on drives with more noise, whenever it says
 * ready the true error is within 5 degrees. */
static void test_ready_rule_promise(void **state)
{
	(void)state;
	uint64_t seeds = 77;
	int readies = 0;
	for (int k = 0; k < 100; k++) {
		double M[3][3];
		syn_rot(360 * syn_rand(&seeds), 40 * syn_rand(&seeds), 180 * syn_rand(&seeds), M);
		struct gen g;
		gen_init(&g, M, 50, 1, 1000 + (uint64_t)k);
		g.noise = 0.8;
		g.gps_noise = 0.3;
		assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
		for (int s = 0; s < 60 && !cal.ready; s++)
			gen_run(&g, &cal, 10);
		if (cal.ready) {
			readies++;
			double err = odo_calib_angle_deg(cal.R, M);
			if (err > 5)
				printf("seed %d: ready with error %.2f deg (sigma %.2f)\n", k, err, cal.sigma_deg);
			assert_true(err <= 5);
		}
	}
	printf("%d of 100 noisy drives ready within 600 s\n", readies);
	assert_true(readies >= 80);
}

/* Re-mounts: gravity moving while still; a turn about the vertical while
 * driving (gravity unchanged: only the forward axis can tell). */
static void test_remounts(void **state)
{
	(void)state;
	double M1[3][3], M2[3][3];
	syn_rot(20, 5, 0, M1);
	syn_rot(-70, 30, 10, M2);
	struct gen g;
	gen_init(&g, M1, 100, 1, 7);
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	gen_run(&g, &cal, 400);
	assert_true(cal.ready);
	struct odo_calib_transition t;
	assert_int_equal(odo_calib_take_transition(&cal, &t), 1);
	/* still with the original mounting: nothing happens */
	g.still = 1;
	gen_run(&g, &cal, 20);
	assert_int_equal(cal.remounts, 0);
	/* moved while parked: gravity elsewhere */
	memcpy(g.M, M2, sizeof(g.M));
	gen_run(&g, &cal, 20);
	assert_int_equal(cal.remounts, 1);
	assert_int_equal(cal.state, ODO_CAL_RELEARNING);
	assert_int_equal(odo_calib_take_transition(&cal, &t), 1);
	assert_int_equal(t.to, ODO_CAL_RELEARNING);
	assert_non_null(strstr(t.why, "gravity"));
	g.still = 0;
	gen_run(&g, &cal, 400);
	assert_int_equal(cal.state, ODO_CAL_READY);
	assert_true(odo_calib_angle_deg(cal.R, M2) < 1.5);
	(void)odo_calib_take_transition(&cal, &t);

	/* turned 90 and 180 degrees about the vertical while driving */
	for (int turn = 90; turn <= 180; turn += 90) {
		double M[3][3], Y[3][3], Mn[3][3];
		syn_rot(-40, 8, 3, M);
		gen_init(&g, M, 100, 1, 21 + (uint64_t)turn);
		assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
		gen_run(&g, &cal, 400);
		assert_true(cal.ready);
		/* new mount: the vehicle sees the sensor turned by `turn` about down */
		syn_rot(turn, 0, 0, Y);
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				Mn[i][j] = Y[i][0] * M[0][j] + Y[i][1] * M[1][j] + Y[i][2] * M[2][j];
		memcpy(g.M, Mn, sizeof(g.M));
		double t0 = g.t;
		while (cal.state == ODO_CAL_READY && g.t - t0 < 600)
			gen_run(&g, &cal, 5);
		printf("turned %d deg: re-mount found after %.0f s of driving\n", turn, g.t - t0);
		assert_int_equal(cal.state, ODO_CAL_RELEARNING);
		assert_true(g.t - t0 < 240);
		(void)odo_calib_take_transition(&cal, &t);
		gen_run(&g, &cal, 400);
		assert_int_equal(cal.state, ODO_CAL_READY);
		printf("  re-learnt: error %.2f deg\n", odo_calib_angle_deg(cal.R, Mn));
		assert_true(odo_calib_angle_deg(cal.R, Mn) < 1.5);
	}
}

/* The gyroscope: the yaw axis is established and agrees with gravity;
 * an accelerometer reporting -(specific force) (the iOS convention) is
 * refused; a mirrored course turns the axis around. */
static void test_gyro(void **state)
{
	(void)state;
	double M[3][3];
	syn_rot(100, -20, 170, M);
	struct gen g;
	gen_init(&g, M, 50, 1, 5);
	g.gyro = 1;
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	gen_run(&g, &cal, 500);
	assert_int_equal(cal.gyro_state, ODO_GYRO_ESTABLISHED);
	double ang = acos(fmin(1, calib_dot(cal.gaxis, M[2]))) * 180 / M_PI;
	printf("gyro axis %.2f deg from the true down (se %.2f); mount error %.2f\n", ang, cal.gaxis_se_deg,
	       odo_calib_angle_deg(cal.R, M));
	assert_true(ang < 1.0);
	assert_true(cal.ready && odo_calib_angle_deg(cal.R, M) < 1.5);
	struct odo_rec_status st;
	struct odo_record r;
	odo_record_init(&r, ODO_REC_STATUS);
	st = r.u.status;
	odo_calib_status(&cal, &st);
	assert_int_equal(st.gyro_state, ODO_GYRO_ESTABLISHED);
	assert_int_equal(st.calib_state, ODO_CAL_READY);
	double roll, pitch, yaw;
	odo_calib_euler(M, &roll, &pitch, &yaw);
	assert_true(fabs(remainder(st.yaw_deg - yaw, 360)) < 2 && fabs(st.pitch_deg - pitch) < 2);
	assert_true(fabs(remainder(st.roll_deg - roll, 360)) < 2);
	assert_true(st.calib_ready_s > 0 && st.calib_confidence > 0.5 && st.gps_lag_s == 0);

	/* the iOS sign mistake: gravity and the yaw axis point opposite ways */
	gen_init(&g, M, 50, 1, 5);
	g.gyro = 1;
	g.ios_sign = 1;
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	gen_run(&g, &cal, 600);
	assert_true(cal.sign_error);
	assert_false(cal.ready);
	struct odo_calib_transition t;
	assert_int_equal(odo_calib_take_transition(&cal, &t), 1);
	assert_non_null(strstr(t.why, "sign inverted"));

	/* a mirrored course (right turns reported as left): the axis flips */
	gen_init(&g, M, 50, 1, 5);
	g.gyro = 1;
	g.mirror_course = 1;
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	gen_run(&g, &cal, 500);
	if (cal.gyro_state == ODO_GYRO_ESTABLISHED)
		assert_true(calib_dot(cal.gaxis, M[2]) < -0.99);
	assert_false(cal.ready);
}

static void test_explicit_matrix(void **state)
{
	(void)state;
	struct odo_calib_cfg cfg;
	struct odo_calib *c = &cal;
	odo_calib_cfg_defaults(&cfg);
	strcpy(cfg.matrix, "0 1 0  -1 0 0  0 0 1");
	assert_int_equal(odo_calib_init(c, &cfg), ODO_OK);
	assert_true(c->ready && c->fixed && c->state == ODO_CAL_READY && c->confidence == 1);
	double in[3] = {1, 2, 3}, out[3];
	odo_calib_rotate(c, in, out);
	assert_true(fabs(out[0] - 2) < 1e-12 && fabs(out[1] + 1) < 1e-12 && fabs(out[2] - 3) < 1e-12);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0");
	assert_int_equal(odo_calib_init(c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 2 0 0 0 1");
	assert_int_equal(odo_calib_init(c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0 -1"); /* a reflection */
	assert_int_equal(odo_calib_init(c, &cfg), ODO_ERR_CONFIG);
	strcpy(cfg.matrix, "1 0 0 0 1 0 0 0 1 x");
	assert_int_equal(odo_calib_init(c, &cfg), ODO_ERR_CONFIG);
	/* the setter writes what init reads back exactly (a 30 degree yaw) */
	double cy = cos(M_PI / 6), sy = sin(M_PI / 6);
	const double yaw[3][3] = {{cy, sy, 0}, {-sy, cy, 0}, {0, 0, 1}};
	assert_int_equal(odo_calib_cfg_set_matrix(&cfg, yaw), ODO_OK);
	assert_int_equal(odo_calib_init(c, &cfg), ODO_OK);
	assert_true(c->fixed);
	for (int i = 0; i < 9; i++)
		assert_true(c->R[i / 3][i % 3] == yaw[i / 3][i % 3]);
	const double bad[3][3] = {{1, 0, 0}, {0, NAN, 0}, {0, 0, 1}};
	assert_int_equal(odo_calib_cfg_set_matrix(&cfg, bad), ODO_ERR_INVAL);
	assert_int_equal(odo_calib_init(c, &cfg), ODO_OK); /* unchanged: still the yaw */
	assert_true(c->R[0][1] == sy);
	/* the old ready_fit key names its replacement */
	struct odo_cfg_section sec = {"calib", odo_calib_cfg_keys, odo_calib_cfg_nkeys, &cfg};
	struct odo_cfg_error err;
	assert_int_equal(odo_config_set_arg(&sec, 1, "calib.ready_fit=0.5", &err), ODO_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "ready_sigma_deg"));
}

static void test_state_file(void **state)
{
	(void)state;
	char path[] = "/tmp/odo-calib-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	double M[3][3];
	syn_rot(123, -20, 15, M);
	struct gen g;
	gen_init(&g, M, 100, 1, 3);
	g.lag_s = 0.5;
	/* learning interrupted by a restart: the statistics carry over */
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	gen_run(&g, &cal, 25);
	assert_false(cal.ready);
	double learnt = cal.learn_s;
	assert_int_equal(odo_calib_save(&cal, path), ODO_OK);
	assert_int_equal(odo_calib_init(&cal2, NULL), ODO_OK);
	int line = -1;
	assert_int_equal(odo_calib_load(&cal2, path, &line), ODO_OK);
	assert_int_equal(cal2.state, ODO_CAL_LEARNING);
	assert_true(fabs(cal2.learn_s - learnt) < 1e-3);
	assert_true(cal2.base.n > 15);
	/* continuing where it stopped reaches ready no later than one uninterrupted learning */
	gen_run(&g, &cal2, 400);
	gen_run(&g, &cal, 400);
	printf("restarted: state %d sigma %.2f lag %.1f e_ref %.0f; uninterrupted: state %d sigma %.2f lag %.1f\n", cal2.state,
	       cal2.sigma_deg, odo_calib_lag_s(&cal2, 0), cal2.est.e_ref, cal.state, cal.sigma_deg, odo_calib_lag_s(&cal, 0));
	assert_true(cal2.ready && cal.ready);
	printf("ready after %.0f s (restarted at 25 s) and %.0f s (uninterrupted)\n", cal2.ready_s, cal.ready_s);
	assert_true(cal2.ready_s <= cal.ready_s + 35); /* a restart costs at most the stability window */
	assert_true(odo_calib_angle_deg(cal2.R, M) < 1.5);
	/* a ready mount round-trips, and so does the lag */
	assert_int_equal(odo_calib_save(&cal2, path), ODO_OK);
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	assert_int_equal(odo_calib_load(&cal, path, &line), ODO_OK);
	assert_true(cal.ready && odo_calib_angle_deg(cal.R, cal2.R) < 1e-3);
	assert_true(fabs(odo_calib_lag_s(&cal, 0) - odo_calib_lag_s(&cal2, 0)) < 1e-9);
	assert_true(fabs(cal.ready_s - cal2.ready_s) < 1e-3);
	/* restored, then the box turned 180 degrees while the agent was off:
	 * the first hard references point backwards */
	double Y[3][3], Mn[3][3];
	syn_rot(180, 0, 0, Y);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			Mn[i][j] = Y[i][0] * M[0][j] + Y[i][1] * M[1][j] + Y[i][2] * M[2][j];
	memcpy(g.M, Mn, sizeof(g.M));
	double t0 = g.t;
	while (cal.state == ODO_CAL_READY && g.t - t0 < 120)
		gen_run(&g, &cal, 1);
	printf("restored mount refused after %.0f s of driving\n", g.t - t0);
	assert_int_equal(cal.state, ODO_CAL_RELEARNING);
	assert_true(g.t - t0 < 60);
	struct odo_calib_transition t;
	assert_int_equal(odo_calib_take_transition(&cal, &t), 1);
	assert_non_null(strstr(t.why, "restored mount"));
	gen_run(&g, &cal, 400);
	assert_true(cal.ready && odo_calib_angle_deg(cal.R, Mn) < 1.5);

	/* version 1 files load as ready, without statistics */
	FILE *f = fopen(path, "w");
	fputs("odo-calib 1\nready 1\nconfidence 0.800000\nremounts 2\nR 0 1 0 -1 0 0 0 0 1\ng 0 0 -9.8\n", f);
	fclose(f);
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	assert_int_equal(odo_calib_load(&cal, path, &line), ODO_OK);
	assert_true(cal.ready && cal.remounts == 2 && cal.base.n == 0);
	/* damage is refused, naming the line */
	f = fopen(path, "w");
	fputs("odo-calib 2\nstate 1\nconfidence 7\n", f);
	fclose(f);
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	assert_int_equal(odo_calib_load(&cal, path, &line), ODO_ERR_PROTOCOL);
	assert_int_equal(line, 3);
	assert_false(cal.ready);
	f = fopen(path, "w");
	fputs("odo-calib 2\nstate 1\n", f);
	fclose(f);
	assert_int_equal(odo_calib_load(&cal, path, &line), ODO_ERR_PROTOCOL); /* incomplete */
	unlink(path);
	assert_int_equal(odo_calib_load(&cal, path, &line), ODO_ERR_NOTFOUND);
	/* the printed mount */
	char buf[2048];
	f = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(odo_calib_init(&cal, NULL), ODO_OK);
	memcpy(cal.R, (double[3][3]){{0, -1, 0}, {1, 0, 0}, {0, 0, -1}}, sizeof(cal.R));
	odo_calib_print(&cal, f);
	fclose(f);
	printf("%s", buf);
	assert_non_null(strstr(buf, "sensor y points backward"));
	assert_non_null(strstr(buf, "sensor z points up"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recovers_rotations), cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_gps_lag),            cmocka_unit_test(test_ready_rule_promise),
	    cmocka_unit_test(test_remounts),           cmocka_unit_test(test_gyro),
	    cmocka_unit_test(test_explicit_matrix),    cmocka_unit_test(test_state_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
