/*
 * Detectors on synthetic vehicle-frame recordings: each kind's event
 * start, duration, peak and grade asserted against the generated profile
 * (levels read from the defaults, docs/detection.md: brake 0.25/0.30/0.45 g,
 * accel 0.20/0.25/0.35 g, corner 0.30/0.40/0.50 g, swerve lobes 0.20 g and
 * grades 0.20/0.30/0.50 g, crash 2.5 g confirmed by 8 km/h in 150 ms), at
 * 10, 100 and 400 Hz.
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
#include "odo/err.h"
#include "odo/geo.h"

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

static int RATE_HZ = 100; /* the sample rate of run() */

/* instant the pulse rises through |thr| g (first sample at or after) */
static double rise(double t0, double ramp, double amp, double thr)
{
	double t = t0 + ramp * thr / fabs(amp);
	return ceil(t * RATE_HZ - 1e-9) / RATE_HZ;
}

/* axis 0 lon, 1 lat (filtered, for the driving detectors); the impact
 * (unfiltered, for the crash detector): 2 forward, 3 vertical; in g */
typedef double (*profile_fn)(double t, int axis);

/* The impact sample of a profile at t. calibrated: the speed change sees
 * the horizontal plane only; else the whole dynamic vector, as before the
 * mounting is known. */
static int IMPACT_CALIBRATED = 0;
static struct odo_det_impact impact_of(profile_fn f, double t)
{
	double x = f(t, 2) * ODO_G, z = f(t, 3) * ODO_G;
	struct odo_det_impact im = {.mono_ns = NS(t), .mag = sqrt(x * x + z * z), .h = {x, 0, IMPACT_CALIBRATED ? 0 : z}};
	return im;
}

static void run(struct odo_detect *d, profile_fn f, double secs, double speed)
{
	int tick = RATE_HZ / 10 ? RATE_HZ / 10 : 1;
	for (int i = 0; i <= (int)(secs * RATE_HZ); i++) {
		double t = (double)i / RATE_HZ;
		struct odo_det_sample s = {.mono_ns = NS(t),
		                           .lon = f(t, 0) * ODO_G,
		                           .lat = f(t, 1) * ODO_G,
		                           .speed_mps = speed};
		odo_detect_sample(d, &s);
		struct odo_det_impact im = impact_of(f, t);
		odo_detect_impact(d, &im);
		if (i % tick == 0)
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
/* Half-sine pulse: 0 outside [t0, t0 + dur], amp * sin(pi (t - t0) / dur) inside. */
static double halfsine(double t, double t0, double dur, double amp)
{
	return t < t0 || t > t0 + dur ? 0 : amp * sin(M_PI * (t - t0) / dur);
}
/* A frontal collision at about 45 km/h into something that gives: a
 * 100 ms half-sine crash pulse of 20 g against the direction of travel
 * (speed change 2/pi * 20 g * 0.1 s = 12.5 m/s = 45 km/h; frontal pulses
 * last 70-150 ms), the braking before it seen by the filtered signal. */
static double p_crash(double t, int ax)
{
	return ax == 2 ? halfsine(t, 6, 0.1, -20.0) : ax == 0 ? pulse(t, 4, 0.2, 1.6, -0.5) : 0;
}
/* A pothole: a 5 g vertical spike of 30 ms (triangle) and its rebound,
 * with a 1 g horizontal component: far above crash_g, but its speed change
 * (0.5 * 5 g * 0.03 s = 0.7 m/s = 2.6 km/h, vertical at that) is no
 * collision's. */
static double p_pothole(double t, int ax)
{
	return ax == 3   ? pulse(t, 6, 0.015, 0, 5.0) - pulse(t, 6.04, 0.015, 0, 3.0)
	       : ax == 2 ? pulse(t, 6, 0.015, 0, -1.0)
	                 : 0;
}
/* Emergency braking on a rough road: 0.9 g held for 2 s (a car's tyres
 * give no more) with 10 ms knocks of 3 g on top every 150 ms. */
static double p_rough_brake(double t, int ax)
{
	double knock = 0;
	if (t >= 5 && t < 7 && fmod(t - 5, 0.15) < 0.0101)
		knock = 3.0;
	double b = pulse(t, 5, 0.1, 1.8, -0.9);
	return ax == 0 ? b : ax == 2 ? b : ax == 3 ? knock : 0;
}
/* A rectangular pulse of 4 g lasting `dur` s (for the speed change limit). */
static double RECT_DUR = 0.06;
static double p_rect(double t, int ax)
{
	return ax == 2 && t >= 6 - 1e-9 && t < 6 + RECT_DUR - 1e-9 ? -4.0 : 0;
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
	double t0 = rise(10, 0.2, 0.45, dflt.brake.thr_g[0]);
	double t1 =
	    ceil((10 + 0.4 + 1.5 - 0.2 * (dflt.brake.thr_g[0] - dflt.brake.hyst_g) / 0.45) * RATE_HZ - 1e-6) /
	    RATE_HZ;
	assert_true(llabs(g.ev[0].start_ns - NS(t0)) <= NS(0.011));
	assert_true(fabs((double)(g.ev[0].end_ns - g.ev[0].start_ns) / 1e9 - (t1 - t0)) <= 0.021);
	assert_true(fabs(g.ev[0].peak_g + 0.45) < 1e-9);
	assert_true(g.ev[0].mean_g < -0.40 && g.ev[0].mean_g > -0.45);
	assert_int_equal(g.ev[0].grade, 3); /* 0.45 g held 1.5 s */
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
	assert_true(llabs(g.ev[0].start_ns - NS(rise(5, 0.5, 0.32, dflt.accel.thr_g[0]))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g - 0.32) < 1e-9);
	assert_true(g.ev[0].mean_g > 0.2 && g.ev[0].mean_g < 0.32);
	assert_int_equal(g.ev[0].grade, 2);
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
	assert_true(llabs(g.ev[0].start_ns - NS(rise(3, 0.5, 0.42, dflt.corner.thr_g[0]))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g - 0.42) < 1e-9);
	assert_int_equal(g.ev[0].grade, 2);
	init(&d, &g);
	run(&d, p_left, 15, 10);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ev[0].kind, ODO_EV_CORNER_LEFT);
	assert_true(fabs(g.ev[0].peak_g + 0.38) < 1e-9);
	assert_int_equal(g.ev[0].grade, 1);
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
	assert_true(llabs(g.ev[0].start_ns - NS(rise(4, 0.2, 0.33, dflt.swerve.thr_g[0]))) <= NS(0.011));
	assert_true(fabs(g.ev[0].peak_g + 0.36) < 1e-9); /* the larger lobe, signed */
	assert_true(g.ev[0].mean_g > 0);                 /* signed as the first lobe */
	assert_int_equal(g.ev[0].grade, 2);              /* the smaller lobe, 0.33 g */
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
	assert_true(llabs(g.ev[1].start_ns - NS(rise(9, 0.1, 0.4, dflt.brake.thr_g[0]))) <= NS(0.011));
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
	assert_true(llabs(g.ev[1].start_ns - NS(rise(9.5, 0.1, 0.3, dflt.accel.thr_g[0]))) <= NS(0.011));
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
			assert_true(llabs(g.ev[i].start_ns - NS(rise(12, 0.1, 0.4, dflt.brake.thr_g[0]))) <=
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
	c.corner.hyst_g = c.corner.thr_g[0];
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
	static const int rates[] = {100, 400};
	for (int r = 0; r < 2; r++) {
		RATE_HZ = rates[r];
		for (IMPACT_CALIBRATED = 0; IMPACT_CALIBRATED <= 1; IMPACT_CALIBRATED++) {
			struct odo_detect d;
			struct got g;
			init(&d, &g);
			run(&d, p_crash, 12, 15);
			assert_int_equal(count_kind(&g, ODO_EV_CRASH), 1);
			for (int i = 0; i < g.n; i++)
				if (g.ev[i].kind == ODO_EV_CRASH) {
					assert_int_equal(g.ev[i].source, ODO_EVSRC_ACCEL);
					assert_int_equal(g.ev[i].grade, 0); /* crashes are not graded */
					/* the half-sine's top falls on a sample at both rates */
					assert_true(fabs(g.ev[i].peak_g - 20.0) < 1e-6);
					/* starts where the pulse rises through 2.5 g: t0 + T/pi asin(2.5/20) */
					double rise_t = 6 + 0.1 / M_PI * asin(dflt.crash_g / 20.0);
					rise_t = ceil(rise_t * RATE_HZ - 1e-9) / RATE_HZ;
					assert_true(llabs(g.ev[i].start_ns - NS(rise_t)) <= NS(1.0 / RATE_HZ));
					/* ends within a sample of where it falls under 2.25 g */
					assert_true(g.ev[i].end_ns > NS(6.09) && g.ev[i].end_ns <= NS(6.1) + NS(1.0 / RATE_HZ));
				}
			assert_int_equal(odo_detect_impacts_rejected(&d), 0);
			/* the speed change, integrated from the samples: 45 km/h within a sample's worth */
			double dv = odo_detect_last_dv(&d) * 3.6;
			printf("%d Hz, %s: crash pulse speed change %.2f km/h\n", RATE_HZ,
			       IMPACT_CALIBRATED ? "calibrated" : "sensor frame", dv);
			assert_true(fabs(dv - 2 / M_PI * 20 * ODO_G * 0.1 * 3.6) < 20 * ODO_G * 3.6 / RATE_HZ);
		}
	}
	RATE_HZ = 100;
	IMPACT_CALIBRATED = 0;
	/* with the airbag signal 0.5 s later: one crash, both sources */
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	for (int i = 0; i <= 12 * RATE_HZ; i++) {
		double t = (double)i / RATE_HZ;
		struct odo_det_impact im = impact_of(p_crash, t);
		odo_detect_impact(&d, &im);
		if (i == 650)
			odo_detect_airbag(&d, im.mono_ns);
		odo_detect_tick(&d, im.mono_ns);
	}
	assert_int_equal(count_kind(&g, ODO_EV_CRASH), 1);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_ACCEL_AIRBAG);
	assert_true(fabs(g.ev[0].peak_g - 20.0) < 1e-6);
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

/* Potholes and hard braking are not crashes: far above crash_g, but not the
 * speed change of a collision. */
static void test_crash_not_pothole(void **state)
{
	(void)state;
	static const int rates[] = {100, 400};
	for (int r = 0; r < 2; r++) {
		RATE_HZ = rates[r];
		for (IMPACT_CALIBRATED = 0; IMPACT_CALIBRATED <= 1; IMPACT_CALIBRATED++) {
			struct odo_detect d;
			struct got g;
			init(&d, &g);
			run(&d, p_pothole, 12, 15);
			odo_detect_flush(&d, NS(12));
			assert_int_equal(count_kind(&g, ODO_EV_CRASH), 0);
			assert_int_equal(odo_detect_impacts_rejected(&d), 1); /* the spike and its rebound: one impact */
			printf("%d Hz, %s: pothole speed change %.2f km/h\n", RATE_HZ,
			       IMPACT_CALIBRATED ? "calibrated" : "sensor frame", odo_detect_last_dv(&d) * 3.6);
			assert_true(odo_detect_last_dv(&d) * 3.6 < 4);
			/* emergency braking on a rough road */
			init(&d, &g);
			run(&d, p_rough_brake, 12, 25);
			odo_detect_flush(&d, NS(12));
			assert_int_equal(count_kind(&g, ODO_EV_CRASH), 0);
			assert_true(count_kind(&g, ODO_EV_HARD_BRAKE) == 1);
			assert_true(odo_detect_impacts_rejected(&d) >= 1); /* knocks < 150 ms apart: one impact */
			assert_true(odo_detect_last_dv(&d) * 3.6 < 8);
		}
	}
	RATE_HZ = 100;
	IMPACT_CALIBRATED = 0;
	/* the limit: 4 g for 60 ms is 8.5 km/h (a crash), for 50 ms 7.1 km/h (not) */
	for (int k = 0; k < 2; k++) {
		RECT_DUR = k ? 0.05 : 0.06;
		struct odo_detect d;
		struct got g;
		init(&d, &g);
		run(&d, p_rect, 12, 15);
		odo_detect_flush(&d, NS(12));
		assert_int_equal(count_kind(&g, ODO_EV_CRASH), k ? 0 : 1);
		assert_true(fabs(odo_detect_last_dv(&d) - 4 * ODO_G * RECT_DUR) < 1e-6);
	}
	/* a pothole, then the airbag signal within the fusion window: the
	 * vehicle says crash, and that impact is its peak */
	struct odo_detect d;
	struct got g;
	init(&d, &g);
	run(&d, p_pothole, 7, 15);
	odo_detect_airbag(&d, NS(7));
	odo_detect_tick(&d, NS(12));
	assert_int_equal(count_kind(&g, ODO_EV_CRASH), 1);
	assert_int_equal(g.ev[0].source, ODO_EVSRC_ACCEL_AIRBAG);
	assert_true(g.ev[0].peak_g >= dflt.crash_g);
	/* crash_dv_kmh = 0: every impact above crash_g is a crash (the v1 rule) */
	struct odo_detect_cfg c;
	odo_detect_cfg_defaults(&c);
	c.crash_dv_kmh = 0;
	init_cfg(&d, &g, &c);
	run(&d, p_pothole, 12, 15);
	assert_int_equal(count_kind(&g, ODO_EV_CRASH), 1);
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
	assert_int_equal(g.ev[0].grade, 2); /* 0.357 g: 0.32 <= a < 0.41 */
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

/* ---- grades: every graded kind, every grade, at 10, 100 and 400 Hz ---- */

struct gkind {
	const char *name;
	int kind;   /* expected event kind */
	int axis;   /* 0 lon, 1 lat */
	double sgn; /* signal = sgn * profile */
	const struct odo_det_thr *(*thr)(const struct odo_detect_cfg *c);
};

static const struct odo_det_thr *thr_brake(const struct odo_detect_cfg *c)
{
	return &c->brake;
}
static const struct odo_det_thr *thr_accel(const struct odo_detect_cfg *c)
{
	return &c->accel;
}
static const struct odo_det_thr *thr_corner(const struct odo_detect_cfg *c)
{
	return &c->corner;
}

static const struct gkind gkinds[] = {
    {"brake", ODO_EV_HARD_BRAKE, 0, -1, thr_brake},
    {"accel", ODO_EV_RAPID_ACCEL, 0, 1, thr_accel},
    {"right", ODO_EV_CORNER_RIGHT, 1, 1, thr_corner},
    {"left", ODO_EV_CORNER_LEFT, 1, -1, thr_corner},
};

/* The profile of one case: a base trapezoid (amplitude b_amp, plateau b_hold)
 * with a spike (s_amp above it, plateau s_hold) in its middle; ramps R. */
#define GR_T0 3.0
#define GR_R  0.2
static struct {
	int axis;
	double sgn, b_amp, b_hold, s_amp, s_hold;
} gp;

static double p_graded(double t, int ax)
{
	if (ax != gp.axis)
		return 0;
	double x = pulse(t, GR_T0, GR_R, gp.b_hold, gp.b_amp);
	if (gp.s_amp > 0) {
		double mid = GR_T0 + GR_R + gp.b_hold / 2;
		x += pulse(t, mid - GR_R - gp.s_hold / 2, GR_R, gp.s_hold, gp.s_amp);
	}
	return gp.sgn * x;
}

static int only_grade(const struct got *g, int kind)
{
	int gr = -1, n = 0;
	for (int i = 0; i < g->n; i++)
		if (g->ev[i].kind == kind) {
			gr = g->ev[i].grade;
			n++;
		}
	return n == 1 ? gr : n == 0 ? 0 : -n;
}

static void grade_case(const struct gkind *k, double b_amp, double b_hold, double s_amp, double s_hold, int want)
{
	struct odo_detect d;
	struct got g;
	gp.axis = k->axis;
	gp.sgn = k->sgn;
	gp.b_amp = b_amp;
	gp.b_hold = b_hold;
	gp.s_amp = s_amp;
	gp.s_hold = s_hold;
	init(&d, &g);
	run(&d, p_graded, GR_T0 + 2 * GR_R + b_hold + 8, 15);
	odo_detect_flush(&d, NS(GR_T0 + 2 * GR_R + b_hold + 8));
	int got = only_grade(&g, k->kind);
	if (got != want)
		printf("%s at %d Hz: base %.3f g %.2f s, spike +%.3f g %.2f s: grade %d, want %d\n", k->name, RATE_HZ,
		       b_amp, b_hold, s_amp, s_hold, got, want);
	assert_int_equal(got, want);
	/* no other kind was reported */
	assert_int_equal(g.n, want ? 1 : 0);
}

static const int rates[] = {10, 100, 400};

static void test_grades_start_duration_peak(void **state)
{
	(void)state;
	odo_detect_cfg_defaults(&dflt);
	for (size_t r = 0; r < ODO_ARRAY_LEN(rates); r++) {
		RATE_HZ = rates[r];
		double dt = 1.0 / RATE_HZ;
		for (size_t i = 0; i < ODO_ARRAY_LEN(gkinds); i++) {
			const struct gkind *k = &gkinds[i];
			const struct odo_det_thr *p = k->thr(&dflt);
			for (int gr = 1; gr <= ODO_DET_GRADES; gr++) {
				/* peak just above grade gr's level, held just longer than its minimum */
				double amp = p->thr_g[gr - 1] + 0.03, hold = p->min_dur_s[gr - 1] + 0.1;
				struct odo_detect d;
				struct got g;
				gp.axis = k->axis;
				gp.sgn = k->sgn;
				gp.b_amp = amp;
				gp.b_hold = hold;
				gp.s_amp = 0;
				init(&d, &g);
				run(&d, p_graded, GR_T0 + 2 * GR_R + hold + 8, 15);
				odo_detect_flush(&d, NS(GR_T0 + 2 * GR_R + hold + 8));
				assert_int_equal(g.n, 1);
				assert_int_equal(g.ev[0].kind, k->kind);
				assert_int_equal(g.ev[0].source, ODO_EVSRC_ACCEL);
				assert_int_equal(g.ev[0].grade, gr);
				/* start: the up-ramp crosses grade 1's level; end: the down-ramp
				 * falls below it minus the hysteresis (analytic, +-1 sample) */
				double t_on = GR_T0 + GR_R * p->thr_g[0] / amp;
				double t_off = GR_T0 + 2 * GR_R + hold - GR_R * (p->thr_g[0] - p->hyst_g) / amp;
				double st = (double)g.ev[0].start_ns / 1e9;
				double du = (double)(g.ev[0].end_ns - g.ev[0].start_ns) / 1e9;
				if (fabs(st - t_on) > dt + 1e-9 || fabs(du - (t_off - t_on)) > dt + 1e-9)
					printf("%s g%d %d Hz: start %.4f (want %.4f), duration %.4f (want %.4f)\n",
					       k->name, gr, RATE_HZ, st, t_on, du, t_off - t_on);
				assert_true(fabs(st - t_on) <= dt + 1e-9);
				assert_true(st >= t_on - 1e-9); /* the first sample at or above */
				assert_true(fabs(du - (t_off - t_on)) <= dt + 1e-9);
				/* the plateau is sampled: the peak is exact, signed */
				assert_true(fabs(g.ev[0].peak_g - k->sgn * amp) < 1e-9);
				assert_true(fabs(g.ev[0].mean_g) < amp + 1e-9 && fabs(g.ev[0].mean_g) > p->thr_g[0] - p->hyst_g);
				assert_true(g.ev[0].mean_g * k->sgn > 0);
			}
		}
	}
	RATE_HZ = 100;
}

static void test_grades_boundaries(void **state)
{
	(void)state;
	odo_detect_cfg_defaults(&dflt);
	for (size_t r = 0; r < ODO_ARRAY_LEN(rates); r++) {
		RATE_HZ = rates[r];
		for (size_t i = 0; i < ODO_ARRAY_LEN(gkinds); i++) {
			const struct gkind *k = &gkinds[i];
			const struct odo_det_thr *p = k->thr(&dflt);
			double long_hold = 0;
			for (int j = 0; j < ODO_DET_GRADES; j++)
				long_hold = fmax(long_hold, p->min_dur_s[j] + 0.2);
			for (int gr = 1; gr <= ODO_DET_GRADES; gr++) {
				double lvl = p->thr_g[gr - 1];
				/* held long enough at every level: just below grade gr's level is
				 * grade gr-1, just above is gr */
				grade_case(k, lvl - 0.01, long_hold, 0, 0, gr - 1);
				grade_case(k, lvl + 0.01, long_hold, 0, 0, gr);
				/* a spike above grade gr's level shorter than its minimum, on a
				 * shoulder that holds grade gr-1 long enough: grade gr-1. The
				 * shoulder must lie below gr's level minus the hysteresis (a
				 * run at a level continues down to it): where the levels are
				 * closer than that (brake and accel, grades 1 and 2) reaching
				 * grade 2's level at all makes the shoulder part of its run. */
				if (gr > 1 && p->thr_g[gr - 1] - p->hyst_g > p->thr_g[gr - 2] + 0.004) {
					double base = (p->thr_g[gr - 2] + p->thr_g[gr - 1] - p->hyst_g) / 2;
					grade_case(k, base, long_hold + 1, lvl + 0.03 - base,
					           fmax(0, p->min_dur_s[gr - 1] - 0.1 - 2 * GR_R), gr - 1);
				} else if (gr == 1) {
					/* grade 1's level held too briefly: no event */
					grade_case(k, lvl + 0.03, fmax(0, p->min_dur_s[0] - 0.1 - 2 * GR_R * 0.75), 0, 0, 0);
				}
			}
			/* a sweep of peaks never lowers the grade, and the grade is the
			 * highest level reached */
			int last = 0;
			for (int ai = 15; ai < 65; ai++) {
				double a = ai / 100.0 + 0.005; /* between the levels' hundredths: no ties */
				int want = 0;
				for (int j = 0; j < ODO_DET_GRADES; j++)
					if (a >= p->thr_g[j])
						want = j + 1;
				grade_case(k, a, long_hold, 0, 0, want);
				assert_true(want >= last);
				last = want;
			}
		}
	}
	RATE_HZ = 100;
}

static double sw_p1, sw_p2;
static double p_swerve_graded(double t, int ax)
{
	return ax == 1 ? pulse(t, 4, 0.2, 0.5, sw_p1) - pulse(t, 4.95, 0.2, 0.5, sw_p2) : 0;
}

static void test_swerve_grade_smaller_lobe(void **state)
{
	(void)state;
	const double cases[][3] = {{0.28, 0.45, 1}, {0.35, 0.55, 2}, {0.55, 0.35, 2}, {0.55, 0.6, 3}, {0.32, 0.32, 2}};
	for (size_t r = 0; r < ODO_ARRAY_LEN(rates); r++) {
		RATE_HZ = rates[r];
		for (size_t i = 0; i < ODO_ARRAY_LEN(cases); i++) {
			struct odo_detect d;
			struct got g;
			sw_p1 = cases[i][0];
			sw_p2 = cases[i][1];
			init(&d, &g);
			run(&d, p_swerve_graded, 15, 20);
			assert_int_equal(g.n, 1);
			assert_int_equal(g.ev[0].kind, ODO_EV_SWERVE);
			assert_int_equal(g.ev[0].grade, (int)cases[i][2]);
			/* the larger lobe's peak, signed */
			double big = sw_p1 >= sw_p2 ? sw_p1 : -sw_p2;
			assert_true(fabs(g.ev[0].peak_g - big) < 1e-9);
			assert_true(llabs(g.ev[0].start_ns - NS(rise(4, 0.2, sw_p1, dflt.swerve.thr_g[0]))) <=
			            NS(1.0 / RATE_HZ + 1e-6));
		}
	}
	RATE_HZ = 100;
}

/* a severe brake in a moderate bend; a moderate brake in a harsh one */
static double cf_brake, cf_corner;
static double p_corner_fold(double t, int ax)
{
	if (ax == 0)
		return pulse(t, 3.5, 0.1, 0.8, -cf_brake);
	return ax == 1 ? pulse(t, 3, 0.3, 2.0, cf_corner) : 0;
}

static void test_fold_only_into_equal_or_higher_grade(void **state)
{
	(void)state;
	struct odo_detect d;
	struct got g;
	/* severe brake (0.50 g) in a moderate corner (0.33 g): both reported */
	cf_brake = 0.50;
	cf_corner = 0.33;
	init(&d, &g);
	run(&d, p_corner_fold, 15, 15);
	odo_detect_flush(&d, NS(15));
	assert_int_equal(g.n, 2);
	assert_int_equal(only_grade(&g, ODO_EV_HARD_BRAKE), 3);
	assert_int_equal(only_grade(&g, ODO_EV_CORNER_RIGHT), 1);
	assert_int_equal(odo_detect_combined(&d), 0);
	/* harsh brake (0.35 g) in a harsh corner (0.43 g): one event, the corner */
	cf_brake = 0.35;
	cf_corner = 0.43;
	init(&d, &g);
	run(&d, p_corner_fold, 15, 15);
	odo_detect_flush(&d, NS(15));
	assert_int_equal(g.n, 1);
	assert_int_equal(only_grade(&g, ODO_EV_CORNER_RIGHT), 2);
	assert_int_equal(odo_detect_combined(&d), 1);
}

static void test_speed_fallback_grades(void **state)
{
	(void)state;
	odo_detect_cfg_defaults(&dflt);
	for (int gr = 1; gr <= 3; gr++) {
		for (int dir = 0; dir < 2; dir++) {
			const struct odo_det_thr *p = dir == 0 ? &dflt.speed_brake : &dflt.speed_accel;
			double a = (p->thr_g[gr - 1] + 0.02) * ODO_G * (dir == 0 ? -1 : 1);
			double v0 = dir == 0 ? 30 : 2;
			struct odo_detect d;
			struct got g;
			init(&d, &g);
			/* 10 Hz speed, a constant deceleration / acceleration for 2.5 s from t = 5 s */
			for (int i = 0; i <= 150; i++) {
				double t = i / 10.0;
				double v = t < 5 ? v0 : t < 7.5 ? v0 + a * (t - 5) : v0 + a * 2.5;
				odo_detect_speed(&d, NS(t), v, 0);
			}
			assert_int_equal(g.n, 1);
			assert_int_equal(g.ev[0].kind, dir == 0 ? ODO_EV_HARD_BRAKE : ODO_EV_RAPID_ACCEL);
			assert_int_equal(g.ev[0].source, ODO_EVSRC_SPEED);
			assert_int_equal(g.ev[0].grade, gr);
			assert_true(fabs(g.ev[0].peak_g - a / ODO_G) < 0.005);
		}
	}
}

static void test_config_grades(void **state)
{
	(void)state;
	struct odo_detect_cfg c;
	odo_detect_cfg_defaults(&c);
	char why[160];
	assert_int_equal(odo_detect_cfg_check(&c, why, sizeof(why)), ODO_OK);
	c.brake.thr_g[1] = c.brake.thr_g[0];
	assert_int_equal(odo_detect_cfg_check(&c, why, sizeof(why)), ODO_ERR_CONFIG);
	assert_non_null(strstr(why, "detect.brake_g2"));
	assert_non_null(strstr(why, "detect.brake_g1"));
	odo_detect_cfg_defaults(&c);
	c.speed_accel.thr_g[2] = c.speed_accel.thr_g[1];
	assert_int_equal(odo_detect_cfg_check(&c, why, sizeof(why)), ODO_ERR_CONFIG);
	assert_non_null(strstr(why, "speed_accel_g3"));
	/* the version 1 keys are refused, naming what replaced them */
	struct odo_cfg_section sec = {"detect", odo_detect_cfg_keys, odo_detect_cfg_nkeys, &c};
	struct odo_cfg_error err;
	const char *txt = "[detect]\nbrake_g = 0.25\n";
	assert_int_equal(odo_config_parse_buf("t.conf", txt, strlen(txt), &sec, 1, &err), ODO_ERR_CONFIG);
	printf("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "t.conf:2"));
	assert_non_null(strstr(err.msg, "brake_g1"));
	assert_int_equal(odo_config_set_arg(&sec, 1, "detect.speed_brake_g=0.3", &err), ODO_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "speed_brake_g1"));
	txt = "[detect]\nbrake_g2 = 0.35\nbrake_min_s1 = 1\n";
	assert_int_equal(odo_config_parse_buf("t.conf", txt, strlen(txt), &sec, 1, &err), ODO_OK);
	assert_true(c.brake.thr_g[1] == 0.35 && c.brake.min_dur_s[0] == 1);
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
	    cmocka_unit_test(test_crash_not_pothole),
	    cmocka_unit_test(test_speed_fallback),
	    cmocka_unit_test(test_phone),
	    cmocka_unit_test(test_grades_start_duration_peak),
	    cmocka_unit_test(test_grades_boundaries),
	    cmocka_unit_test(test_swerve_grade_smaller_lobe),
	    cmocka_unit_test(test_fold_only_into_equal_or_higher_grade),
	    cmocka_unit_test(test_speed_fallback_grades),
	    cmocka_unit_test(test_config_grades),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
