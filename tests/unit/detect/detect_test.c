/*
 * Detectors on synthetic vehicle-frame recordings: each kind's event
 * start, duration and peak asserted against the generated profile
 * (thresholds read from the defaults: 0.30 g brake, 0.20 g accel, 0.30 g
 * corner, 0.20 g swerve lobes, 2.5 g crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "odo/geo.h"

#define RATE_HZ 100
#define MAXEV   32
#define NS(t)   ((int64_t)((t)*1e9 + 0.5))

struct got {
	struct odo_det_event ev[MAXEV];
	int n;
};

static void collect(void *ctx, const struct odo_det_event *ev)
{
	struct got *g = ctx;
	if (g->n < MAXEV)
		g->ev[g->n++] = *ev;
}

/* Trapezoid pulse: 0 before t0, ramps to `amp` g over `ramp` s, holds
 * for `hold` s, ramps back over `ramp` s. */
static double pulse(double t, double t0, double ramp, double hold, double amp)
{
	if (t < t0 || t > t0 + 2 * ramp + hold)
		return 0;
	if (t < t0 + ramp)
		return amp * (t - t0) / ramp;
	if (t <= t0 + ramp + hold)
		return amp;
	return amp * (t0 + 2 * ramp + hold - t) / ramp;
}

/* instant the pulse rises through |thr| g (first sample at or after) */
static double rise(double t0, double ramp, double amp, double thr)
{
	double t = t0 + ramp * thr / fabs(amp);
	return ceil(t * RATE_HZ - 1e-9) / RATE_HZ;
}

typedef double (*profile_fn)(double t, int axis); /* axis 0 lon, 1 lat, 2 dyn; in g */

static void run(struct odo_detect *d, profile_fn f, double secs, double speed)
{
	for (int i = 0; i <= (int)(secs * RATE_HZ); i++) {
		double t = (double)i / RATE_HZ;
		struct odo_det_sample s = {.mono_ns = NS(t),
		                           .lon = f(t, 0) * ODO_G,
		                           .lat = f(t, 1) * ODO_G,
		                           .dyn = f(t, 2) * ODO_G,
		                           .speed_mps = speed};
		odo_detect_sample(d, &s);
		if (i % 10 == 0)
			odo_detect_tick(d, s.mono_ns);
	}
}

static struct odo_detect_cfg dflt; /* the defaults, for the analytic crossings */

static void init(struct odo_detect *d, struct got *g)
{
	memset(g, 0, sizeof(*g));
	odo_detect_cfg_defaults(&dflt);
	odo_detect_init(d, NULL, collect, g);
}

static void init_cfg(struct odo_detect *d, struct got *g, const struct odo_detect_cfg *c)
{
	memset(g, 0, sizeof(*g));
	odo_detect_init(d, c, collect, g);
}

static int count_kind(const struct got *g, int kind)
{
	int n = 0;
	for (int i = 0; i < g->n; i++)
		n += g->ev[i].kind == kind;
	return n;
}

static double p_brake(double t, int ax)
{
	return ax == 0 ? pulse(t, 10, 0.2, 1.5, -0.45) : 0;
}
static double p_accel(double t, int ax)
{
	return ax == 0 ? pulse(t, 5, 0.5, 2.0, 0.32) : 0;
}
static double p_right(double t, int ax)
{
	return ax == 1 ? pulse(t, 3, 0.5, 2.0, 0.42) : 0;
}
static double p_left(double t, int ax)
{
	return ax == 1 ? pulse(t, 3, 0.5, 2.0, -0.38) : 0;
}
static double p_swerve(double t, int ax)
{
	return ax == 1 ? pulse(t, 4, 0.2, 0.5, 0.33) + pulse(t, 4.95, 0.2, 0.5, -0.36) : 0;
}
static double p_small(double t, int ax)
{
	return ax == 0 ? pulse(t, 2, 0.2, 3, -0.22) : ax == 1 ? pulse(t, 8, 0.2, 0.2, 0.5) : 0;
}
static double p_two_brakes(double t, int ax)
{
	return ax == 0
	           ? pulse(t, 2, 0.1, 0.5, -0.4) + pulse(t, 3.5, 0.1, 0.5, -0.4) + pulse(t, 9, 0.1, 0.5, -0.4)
	           : 0;
}
static double p_crash(double t, int ax)
{
	return ax == 2 ? pulse(t, 6, 0.005, 0.03, 4.0) : ax == 0 ? pulse(t, 6, 0.005, 0.03, -3.9) : 0;
}

static void test_hard_brake(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_brake, 20, 15);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_HARD_BRAKE);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_ACCEL);
	/* starts when the ramp crosses the threshold, ends when it falls under threshold - hysteresis */
	double t0 = rise(10, 0.2, 0.45, dflt.brake.thr_g);
	double t1 =
	    ceil((10 + 0.4 + 1.5 - 0.2 * (dflt.brake.thr_g - dflt.brake.hyst_g) / 0.45) * RATE_HZ - 1e-6) /
	    RATE_HZ;
	assert_true(llabs(g.ev[0].start_ns - NS(t0)) <= NS(0.011));
	assert_true(fabs((double)(g.ev[0].end_ns - g.ev[0].start_ns) / 1e9 - (t1 - t0)) <= 0.021);
	assert_true(fabs(g.ev[0].peak_g + 0.45) < 1e-9);
	assert_true(g.ev[0].mean_g < -0.40 && g.ev[0].mean_g > -0.45);
}

static void test_rapid_accel(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_accel, 15, 5);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_RAPID_ACCEL);
	assert_true(llabs(g.ev[0].start_ns - NS(rise(5, 0.5, 0.32, dflt.accel.thr_g))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g - 0.32) < 1e-9);
	assert_true(g.ev[0].mean_g > 0.2 && g.ev[0].mean_g < 0.32);
}

static void test_corners(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_right, 15, 10);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_RIGHT);
	assert_true(llabs(g.ev[0].start_ns - NS(rise(3, 0.5, 0.42, dflt.corner.thr_g))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g - 0.42) < 1e-9);
	init(&d, &g);
	run(&d, p_left, 15, 10);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_LEFT);
	assert_true(fabs(g.ev[0].peak_g + 0.38) < 1e-9);
	/* too slow: a manoeuvring car park is not cornering */
	init(&d, &g);
	run(&d, p_right, 15, 1.0);
	assert_int_equal(g.n, 0);
}

static void test_swerve(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_swerve, 15, 20);
	/* one swerve, and its lobes are not reported as corners */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_SWERVE);
	assert_true(llabs(g.ev[0].start_ns - NS(rise(4, 0.2, 0.33, dflt.swerve.thr_g))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g + 0.36) < 1e-9); /* the larger lobe, signed */
	assert_true(g.ev[0].mean_g > 0);                 /* signed as the first lobe */
}

static void test_below_threshold_and_refractory(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_small, 15, 10); /* 0.22 g braking; a 0.5 g lateral spike of 0.4 s */
	for (int i = 0; i < g.n; i++)
		assert_int_not_equal(g.ev[i].kind, ODO_EV_HARD_BRAKE);
	for (int i = 0; i < g.n; i++)
		assert_int_not_equal(g.ev[i].kind, ODO_EV_CORNER_RIGHT);
	init(&d, &g);
	run(&d, p_two_brakes, 15, 10); /* second brake within the 3 s refractory time */
	assert_int_equal(g.n, 2);
	assert_true(llabs(g.ev[1].start_ns - NS(rise(9, 0.1, 0.4, dflt.brake.thr_g))) <= NS(0.011));
}

static double p_rebound(double t, int ax)
{
	/* hard brake ending at ~3.5 s, a forward pulse 1 s later (rebound), another 5 s later */
	return ax == 0 ? pulse(t, 2, 0.1, 1.2, -0.45) + pulse(t, 4.5, 0.1, 0.5, 0.3) +
	                     pulse(t, 9.5, 0.1, 0.5, 0.3)
	               : 0;
}

static void test_rebound(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_rebound, 15, 10);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ev[0].kind, ODO_EV_HARD_BRAKE);
	assert_int_equal(g.ev[1].kind, ODO_EV_RAPID_ACCEL);
	assert_true(llabs(g.ev[1].start_ns - NS(rise(9.5, 0.1, 0.3, dflt.accel.thr_g))) <= NS(0.011));
}

/* braking into a right turn, accelerating out of it; later a brake on its own */
static double p_combined(double t, int ax)
{
	if (ax == 0)
		return pulse(t, 2, 0.1, 1.0, -0.4) + pulse(t, 6.0, 0.1, 0.6, 0.3) +
		       pulse(t, 12, 0.1, 0.8, -0.4);
	return ax == 1 ? pulse(t, 3.5, 0.3, 1.5, 0.45) : 0;
}

static void test_combined_manoeuvre(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_combined, 20, 10);
	/* the turn is one event; the lone brake is its own */
	assert_int_equal(g.n, 2);
	assert_int_equal(count_kind(&g, ODO_EV_CORNER_RIGHT), 1);
	assert_int_equal(count_kind(&g, ODO_EV_HARD_BRAKE), 1);
	assert_int_equal(count_kind(&g, ODO_EV_RAPID_ACCEL), 0);
	for (int i = 0; i < g.n; i++)
		if (g.ev[i].kind == ODO_EV_HARD_BRAKE)
			assert_true(llabs(g.ev[i].start_ns - NS(rise(12, 0.1, 0.4, dflt.brake.thr_g))) <=
			            NS(0.011));
	assert_int_equal(odo_detect_combined(&d), 2);
	/* combine_s = 0: every excursion is its own event */
	struct odo_detect_cfg c = dflt;
	c.combine_s = 0;
	init_cfg(&d, &g, &c);
	run(&d, p_combined, 20, 10);
	assert_int_equal(g.n, 4);
	assert_int_equal(count_kind(&g, ODO_EV_HARD_BRAKE), 2);
	assert_int_equal(count_kind(&g, ODO_EV_RAPID_ACCEL), 1);
	assert_int_equal(count_kind(&g, ODO_EV_CORNER_RIGHT), 1);
}

/* a harsh right turn whose exit swings briefly the other way */
static double p_turn_exit(double t, int ax)
{
	return ax == 1 ? pulse(t, 3, 0.2, 1.0, 0.45) + pulse(t, 4.4, 0.1, 0.3, -0.3) : 0;
}

static void test_swerve_needs_balanced_lobes(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_turn_exit, 15, 10);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_RIGHT);
	/* without the balance rule the same profile is a swerve */
	struct odo_detect_cfg c = dflt;
	c.swerve_balance = 0;
	init_cfg(&d, &g, &c);
	run(&d, p_turn_exit, 15, 10);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_SWERVE);
}

/* a lane change to the right with hard braking during it */
static double p_swerve_brake(double t, int ax)
{
	if (ax == 0)
		return pulse(t, 4, 0.1, 0.8, -0.45);
	return ax == 1 ? pulse(t, 4, 0.2, 0.5, 0.40) + pulse(t, 4.95, 0.2, 0.5, -0.40) : 0;
}

/* five hard brakes (1.8 s apart, beyond the refractory time) in one long right curve */
static double p_brakes_in_curve(double t, int ax)
{
	if (ax == 0) {
		double x = 0;
		for (int k = 0; k < 5; k++)
			x += pulse(t, 3 + 3.5 * k, 0.1, 0.5, -0.4);
		return x;
	}
	return ax == 1 ? pulse(t, 2, 0.5, 18, 0.4) : 0;
}

static void test_combine_edges(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	/* a lobe that a swerve takes over claims no brake: both are reported */
	init(&d, &g);
	run(&d, p_swerve_brake, 12, 20);
	assert_int_equal(g.n, 2);
	assert_int_equal(count_kind(&g, ODO_EV_SWERVE), 1);
	assert_int_equal(count_kind(&g, ODO_EV_HARD_BRAKE), 1);
	assert_int_equal(odo_detect_combined(&d), 0);
	/* more brakes than the hold buffer inside one corner: all folded into it */
	init(&d, &g);
	run(&d, p_brakes_in_curve, 30, 20);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_RIGHT);
	assert_int_equal(odo_detect_combined(&d), 5);
	/* a corner that a zero sample cannot end (hysteresis = threshold):
	 * the flush still decides the held brake (folded into that corner) */
	struct odo_detect_cfg c = dflt;
	c.corner.hyst_g = c.corner.thr_g;
	init_cfg(&d, &g, &c);
	run(&d, p_brakes_in_curve, 4.5, 20);
	assert_int_equal(d.combine.nlon, 1);
	odo_detect_flush(&d, NS(4.5));
	assert_int_equal(d.combine.nlon, 0);
	assert_int_equal(odo_detect_combined(&d), 1);
}

static void test_flush_releases_held_events(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	/* a corner that ended just before the end of the drive is still held
	 * (a swerve could claim it), and so is a brake (a corner could) */
	run(&d, p_right, 6.0, 10);
	assert_int_equal(g.n, 0);
	odo_detect_flush(&d, NS(6.0));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_RIGHT);
	init(&d, &g);
	run(&d, p_brake, 12.3, 15);
	assert_int_equal(g.n, 0);
	odo_detect_flush(&d, NS(12.3));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_HARD_BRAKE);
}

static void test_crash(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_crash, 12, 15);
	int crashes = 0;
	for (int i = 0; i < g.n; i++)
		if (g.ev[i].kind == ODO_EV_CRASH) {
			crashes++;
			assert_int_equal(g.ev[i].source, ODO_EVSRC_ACCEL);
			assert_true(fabs(g.ev[i].peak_g - 4.0) < 1e-9);
			assert_true(llabs(g.ev[i].start_ns - NS(rise(6, 0.005, 4.0, dflt.crash_g))) <=
			            NS(0.011));
		}
	assert_int_equal(crashes, 1);
	/* with the airbag signal 0.5 s later: one crash, both sources */
	init(&d, &g);
	for (int i = 0; i <= 12 * RATE_HZ; i++) {
		double t = (double)i / RATE_HZ;
		struct odo_det_sample s = {.mono_ns = NS(t), .dyn = p_crash(t, 2) * ODO_G, .speed_mps = 15};
		odo_detect_sample(&d, &s);
		if (i == 650)
			odo_detect_airbag(&d, s.mono_ns);
		odo_detect_tick(&d, s.mono_ns);
	}
	crashes = 0;
	for (int i = 0; i < g.n; i++)
		if (g.ev[i].kind == ODO_EV_CRASH) {
			crashes++;
			assert_int_equal(g.ev[i].source, ODO_EVSRC_ACCEL_AIRBAG);
		}
	assert_int_equal(crashes, 1);
	/* airbag alone */
	init(&d, &g);
	odo_detect_airbag(&d, NS(3));
	odo_detect_tick(&d, NS(4));
	assert_int_equal(g.n, 0); /* held for the fusion window */
	odo_detect_tick(&d, NS(6));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_AIRBAG);
	assert_true(g.ev[0].peak_g == 0); /* not measured: wire v1 needs a number */
}

static void test_speed_fallback(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	/* 10 Hz speed: 20 m/s, then -3.5 m/s^2 (0.357 g) for 3 s from t = 5 s */
	for (int i = 0; i <= 150; i++) {
		double t = i / 10.0;
		double v = t < 5 ? 20 : t < 8 ? 20 - 3.5 * (t - 5) : 9.5;
		odo_detect_speed(&d, NS(t), v, 0);
	}
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_HARD_BRAKE);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_SPEED);
	assert_true(fabs(g.ev[0].peak_g + 3.5 / ODO_G) < 0.01);
	/* the 1 s derivative window blurs the start by up to half a window */
	assert_true(fabs((double)g.ev[0].start_ns / 1e9 - 5.0) <= 0.6);
	assert_true(fabs((double)(g.ev[0].end_ns - g.ev[0].start_ns) / 1e9 - 3.0) <= 1.1);
	/* with a live accelerometer the fallback stays quiet */
	init(&d, &g);
	for (int i = 0; i <= 150; i++) {
		double t = i / 10.0;
		double v = t < 5 ? 20 : t < 8 ? 20 - 3.5 * (t - 5) : 9.5;
		odo_detect_speed(&d, NS(t), v, 1);
	}
	assert_int_equal(g.n, 0);
}

static void test_phone(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	odo_detect_phone(&d, NS(10), 1, 12);
	odo_detect_phone(&d, NS(12), 1, 13);
	odo_detect_phone(&d, NS(17.5), 0, 13);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_PHONE_DISTRACTION);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_PHONE);
	assert_int_equal(g.ev[0].start_ns, NS(10));
	assert_int_equal(g.ev[0].end_ns, NS(17.5));
	/* parked: screen on is fine; speeding up with the screen on starts one */
	odo_detect_phone(&d, NS(20), 1, 0);
	odo_detect_phone(&d, NS(30), 1, 5);
	odo_detect_phone(&d, NS(31), 1, 1); /* slowed below 2.78 m/s after 1 s: too short */
	assert_int_equal(g.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hard_brake),
	    cmocka_unit_test(test_rapid_accel),
	    cmocka_unit_test(test_corners),
	    cmocka_unit_test(test_swerve),
	    cmocka_unit_test(test_below_threshold_and_refractory),
	    cmocka_unit_test(test_rebound),
	    cmocka_unit_test(test_combined_manoeuvre),
	    cmocka_unit_test(test_swerve_needs_balanced_lobes),
	    cmocka_unit_test(test_combine_edges),
	    cmocka_unit_test(test_flush_releases_held_events),
	    cmocka_unit_test(test_crash),
	    cmocka_unit_test(test_speed_fallback),
	    cmocka_unit_test(test_phone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
