/*
 * Trip smoothness (agent/trip/smooth.c, docs/features.md "Smoothness") against
 * independent computations: the p95 against an exact sort, shares on a step
 * profile, the jerk of a sinusoid against its analytic value at 10-400 Hz,
 * the speed variability against a direct time-weighted computation, and the
 * absent-not-zero rules through the trip builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../engine/synth.h"
#include "trip/smooth.h"
#include "trip/trip.h"

#define NS(t) ((int64_t)llround((t)*1e9))

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The p95 of the histogram is within one bin (0.005 g) of the sample p95. */
static void test_p95_vs_sort(void **state)
{
	(void)state;
	uint64_t rng = 99;
	for (int trial = 0; trial < 200; trial++) {
		int n = 100 + trial * 37;
		double *v = malloc((size_t)n * sizeof(double));
		uint32_t h[ODO_SMOOTH_BINS] = {0};
		double scale = 0.05 + 0.4 * (syn_rand(&rng) + 1) / 2;
		for (int i = 0; i < n; i++) {
			/* skewed, like |acceleration|: mostly small, a tail */
			double u = (syn_rand(&rng) + 1) / 2;
			v[i] = scale * u * u * u;
			int b = (int)(v[i] / ODO_SMOOTH_BIN_G);
			h[b >= ODO_SMOOTH_BINS - 1 ? ODO_SMOOTH_BINS - 1 : b]++;
		}
		qsort(v, (size_t)n, sizeof(double), cmp);
		/* the sample p95: the smallest value with at least 95 % at or below it */
		double exact = v[(int)ceil(0.95 * n) - 1];
		double got = odo_smooth_p95(h);
		if (fabs(got - exact) > ODO_SMOOTH_BIN_G)
			printf("trial %d n %d: p95 %.5f, exact %.5f\n", trial, n, got, exact);
		assert_true(fabs(got - exact) <= ODO_SMOOTH_BIN_G);
		free(v);
	}
	/* saturation: beyond 1 g reads 1.0 */
	uint32_t h[ODO_SMOOTH_BINS] = {0};
	h[10] = 50;
	h[ODO_SMOOTH_BINS - 1] = 150;
	assert_true(odo_smooth_p95(h) == 1.0);
	/* too few slots: absent */
	memset(h, 0, sizeof(h));
	h[3] = ODO_SMOOTH_MIN_SLOTS - 1;
	assert_true(isnan(odo_smooth_p95(h)));
}

/* Feed a vehicle-frame profile lon(t), lat(t) (m/s^2) at rate_hz for secs,
 * moving, starting at t0, through odo_smooth. */
typedef void (*prof_fn)(double t, double *lon, double *lat);

static void feed(struct odo_smooth *s, prof_fn f, double t0, double secs, double rate_hz, int antialias)
{
	int n = (int)llround(secs * rate_hz);
	for (int i = 0; i < n; i++) {
		double t = t0 + i / rate_hz, lon, lat;
		if (antialias) {
			/* what a sensor with bandwidth <= rate/2 delivers: the mean over
			 * the sample period, computed finely */
			double sl = 0, st = 0;
			for (int k = 0; k < 20; k++) {
				double a, b;
				f(t - (k + 0.5) / (20 * rate_hz), &a, &b);
				sl += a, st += b;
			}
			lon = sl / 20, lat = st / 20;
		} else {
			f(t, &lon, &lat);
		}
		odo_smooth_accel(s, NS(t), lon, lat, 1);
	}
	odo_smooth_advance(s, NS(t0 + secs + 1), 1);
}

#define SIN_A 2.0
#define SIN_F 0.3
static void p_sine(double t, double *lon, double *lat)
{
	*lon = SIN_A * sin(2 * M_PI * SIN_F * t);
	*lat = 0.5 * SIN_A * cos(2 * M_PI * SIN_F * t);
}

/* The jerk of a sinusoid: the same at 10, 25, 100 and 400 Hz, and as the
 * analytic value for the slot stream: mean |a_k - a_k-1| / 0.1 of the
 * filtered sinusoid = (2/pi) 2 A' sin(pi f 0.1) / 0.1, A' = A |H(f)| with H
 * the two sections of the discrete low-pass and the boxcar of the slot. */
static void test_jerk_rate_independent(void **state)
{
	(void)state;
	double alpha = 1 - exp(-0.1 * 2 * M_PI * ODO_SMOOTH_LOWPASS_HZ);
	double w = 2 * M_PI * SIN_F * 0.1;
	/* one section y_k = y_k-1 + alpha (x_k - y_k-1): |H| = alpha / |1 - (1-alpha) e^-jw| */
	double h1 = alpha / sqrt(1 - 2 * (1 - alpha) * cos(w) + (1 - alpha) * (1 - alpha));
	double box = sin(w / 2) / (w / 2);
	double expect = 2 / M_PI * 2 * SIN_A * h1 * h1 * box * sin(M_PI * SIN_F * 0.1) / 0.1;
	const double rates[] = {10, 25, 100, 400};
	double first = 0;
	for (size_t i = 0; i < 4; i++) {
		struct odo_smooth s;
		odo_smooth_init(&s, NULL);
		odo_smooth_begin(&s);
		feed(&s, p_sine, 100, 200, rates[i], 1);
		struct odo_rec_trip_end te;
		odo_smooth_summary(&s, &te);
		printf("%3.0f Hz: mean |jerk| %.4f m/s^3 (analytic %.4f)\n", rates[i], te.mean_abs_jerk, expect);
		assert_true(fabs(te.mean_abs_jerk / expect - 1) < 0.02);
		if (i == 0)
			first = te.mean_abs_jerk;
		assert_true(fabs(te.mean_abs_jerk / first - 1) < 0.02);
		assert_int_equal(te.lon_source, ODO_LSRC_ACCEL);
		assert_true(te.lon_moving_s >= 199.8 && te.lon_moving_s <= 200.7); /* + the held slots after the last sample */
	}
}

/* A step profile: 30 s at 0.1 g, 20 s at -0.27 g (beyond brake level 1
 * only), 10 s at +0.5 g (beyond accel 1..3), 40 s at 0; lateral 0.45 g for
 * 25 s. Shares and percentiles by construction. */
static void p_steps(double t, double *lon, double *lat)
{
	double u = fmod(t, 100.0);
	double g = u < 30 ? 0.1 : u < 50 ? -0.27 : u < 60 ? 0.5 : 0;
	*lon = g * SYN_G;
	*lat = (u >= 60 && u < 85 ? 0.45 : 0.02) * SYN_G;
}

static void test_shares_and_p95(void **state)
{
	(void)state;
	struct odo_smooth s;
	odo_smooth_init(&s, NULL);
	odo_smooth_begin(&s);
	feed(&s, p_steps, 1000, 1000, 100, 0);
	struct odo_rec_trip_end te;
	odo_smooth_summary(&s, &te);
	/* the low-pass smears each step by a few slots: 0.6 % of a 100 s period */
	printf("lo %.4f %.4f %.4f la %.4f %.4f %.4f lop %.4f lap %.4f\n", te.lon_share[0], te.lon_share[1],
	       te.lon_share[2], te.lat_share[0], te.lat_share[1], te.lat_share[2], te.lon_p95_g, te.lat_p95_g);
	assert_true(fabs(te.lon_share[0] - 0.30) < 0.01); /* 20 s braking + 10 s accelerating */
	assert_true(fabs(te.lon_share[1] - 0.10) < 0.01); /* 0.27 g < 0.30: the acceleration only */
	assert_true(fabs(te.lon_share[2] - 0.10) < 0.01);
	assert_true(fabs(te.lat_share[0] - 0.25) < 0.01);
	assert_true(fabs(te.lat_share[1] - 0.25) < 0.01);
	assert_true(te.lat_share[2] < 0.005);
	/* 95 % of the time |lon| <= 0.5 g, and more than 5 % at 0.5: the p95 sits at 0.5 */
	assert_true(fabs(te.lon_p95_g - 0.5) <= ODO_SMOOTH_BIN_G + 0.002);
	assert_true(fabs(te.lat_p95_g - 0.45) <= ODO_SMOOTH_BIN_G + 0.002);
	/* less than 10 s of moving slots: shares and percentiles absent */
	odo_smooth_begin(&s);
	feed(&s, p_steps, 3000, 9, 100, 0);
	odo_smooth_summary(&s, &te);
	assert_true(isnan(te.lon_share[0]) && isnan(te.lat_share[2]) && isnan(te.lon_p95_g));
	assert_true(isfinite(te.mean_abs_jerk) && te.lon_source == ODO_LSRC_ACCEL);
}

/* Through the trip builder: what is measured without a mounting, with one
 * from midway, without any speed; the speed variability. */
struct tdrive {
	struct odo_trip t;
	struct odo_rec_trip_end s;
	int ended;
	double w, s1, s2; /* independent time-weighted sums of the held speed */
	double prev_v, prev_t;
};

static double v_of(double t)
{
	return t < 10 ? 2 * t : 20 + 5 * sin(t / 7);
}

static void drive(struct tdrive *d, double secs, double calib_from, int gps)
{
	memset(d, 0, sizeof(*d));
	odo_trip_init(&d->t, NULL, NULL);
	d->prev_t = -1;
	for (int i = 0; i <= (int)(secs * 100); i++) {
		double t = i / 100.0;
		int64_t ns = NS(t);
		if (t >= calib_from)
			odo_trip_accel(&d->t, ns, 0.3 * SYN_G * sin(t), 0.1 * SYN_G * cos(t / 3));
		if (i % 100 == 0) {
			double v = v_of(t);
			if (gps)
				odo_trip_gps(&d->t, ns, 1768000000000LL + i * 10, 52.0 + t * 1e-5, 13.0, v, 5, 1);
			if (d->t.open && d->prev_t >= 0 && d->prev_v >= 0.5) {
				double dt = t - d->prev_t;
				d->w += dt;
				d->s1 += d->prev_v * dt;
				d->s2 += d->prev_v * d->prev_v * dt;
			}
			if (d->t.open) {
				d->prev_t = t;
				d->prev_v = v;
			}
		}
	}
	d->ended = odo_trip_finish(&d->t, NS(secs), 1768000000000LL + (int64_t)(secs * 1000), 1, &d->s);
}

static void test_trip_absent_not_zero(void **state)
{
	(void)state;
	struct tdrive *d = calloc(1, sizeof(*d));
	/* never calibrated: no jerk, no lateral; longitudinal from the speed derivative */
	drive(d, 300, 1e9, 1);
	assert_true(d->ended);
	assert_true(isnan(d->s.mean_abs_jerk));
	assert_true(isnan(d->s.lat_share[0]) && isnan(d->s.lat_p95_g) && isnan(d->s.lat_moving_s));
	assert_int_equal(d->s.lon_source, ODO_LSRC_SPEED);
	assert_true(isfinite(d->s.lon_share[0]) && isfinite(d->s.lon_p95_g));
	/* the speed's derivative: 5/7 m/s^2 at most (0.073 g) */
	assert_true(d->s.lon_p95_g > 0.03 && d->s.lon_p95_g < 0.08);
	assert_true(d->s.lon_moving_s > 280 && d->s.lon_moving_s <= 300);
	/* speed variability against the direct computation */
	double mean = d->s1 / d->w, sd = sqrt(d->s2 / d->w - mean * mean);
	printf("vsd %.4f, direct %.4f\n", d->s.speed_sd_mps, sd);
	assert_true(fabs(d->s.speed_sd_mps - sd) < 1e-6);
	assert_int_equal(d->s.phone_measured, 0);
	/* calibrated from 100 s on: both sources, jerk from the accelerometer part */
	drive(d, 300, 100, 1);
	assert_int_equal(d->s.lon_source, ODO_LSRC_BOTH);
	assert_true(isfinite(d->s.mean_abs_jerk) && d->s.mean_abs_jerk > 0);
	assert_true(isfinite(d->s.lat_share[0]) && d->s.lat_moving_s > 190 && d->s.lat_moving_s <= 200.1);
	/* no speed at all (RPM starts the trip): nothing moving, nothing measured */
	struct odo_trip *t = &d->t;
	odo_trip_init(t, NULL, NULL);
	assert_int_equal(odo_trip_rpm(t, NS(1), 1768000000000LL, 900), 1);
	for (int i = 100; i < 30000; i++)
		odo_trip_accel(t, NS(i / 100.0), 0.1, 0.1);
	assert_int_equal(odo_trip_finish(t, NS(300), 1768000300000LL, 1, &d->s), 1);
	assert_int_equal(d->s.lon_source, -1);
	assert_true(isnan(d->s.lon_share[0]) && isnan(d->s.lon_p95_g) && isnan(d->s.speed_sd_mps));
	assert_true(isnan(d->s.mean_abs_jerk) && isnan(d->s.lon_moving_s));
	/* a phone state seen: measured */
	odo_trip_init(t, NULL, NULL);
	odo_trip_phone(t, NS(0.5), 0, ODO_CALL_NONE, 0);
	assert_int_equal(odo_trip_rpm(t, NS(1), 1768000000000LL, 900), 1);
	assert_int_equal(odo_trip_finish(t, NS(30), 1768000030000LL, 1, &d->s), 1);
	assert_int_equal(d->s.phone_measured, 1);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_p95_vs_sort),
	    cmocka_unit_test(test_jerk_rate_independent),
	    cmocka_unit_test(test_shares_and_p95),
	    cmocka_unit_test(test_trip_absent_not_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
