/*
 * Test helper: a synthetic drive delivered through the engine's sink, with
 * its ground truth kept by the generator (header-only test code).
 *
 * Kinematics at 100 Hz: speed v += a dt, heading psi += w dt, position
 * stepped along psi. The accelerometer sees the vehicle-frame specific
 * force (a, v w, -g) rotated into the sensor by M^T, plus noise; GPS fixes
 * at 1 Hz (UTC from base_ms), OBD RPM and speed at 1 Hz (half a second
 * later); the engine's tick once a second.
 */
#ifndef ODO_TEST_DRIVE_H
#define ODO_TEST_DRIVE_H

#include <math.h>
#include <string.h>

#include "engine/engine.h"
#include "synth.h"

#define DRV_RATE_HZ 100

struct drv_phase {
	double secs;
	double a;     /* m/s^2 longitudinal */
	double w_dps; /* yaw rate, deg/s, clockwise (right) positive */
	int engine;   /* 1 on */
	int screen;   /* phone screen on */
};

struct drv_truth {
	double dist_m; /* integral of v dt */
	double t_first_rpm_on, t_last_rpm_on;
	double rpm_sum;
	int rpm_n;
	double max_speed;
	double moving_s; /* sample-and-hold over the 1 Hz GPS speeds, trip only */
	double prev_gps_v;
	double prev_gps_t;
	double screen_moving_s;
	int gps_n;
};

struct drv {
	struct odo_clock *clk;
	struct odo_sink sink;
	struct odo_engine *e;
	double M[3][3];
	double t, v, psi, lat, lon;
	int64_t base_ms;
	uint64_t rng;
	double noise;
	int screen;
	/* set before drv_run(), used at that phase's start and then cleared: */
	double impact_g; /* a 100 ms half-sine crash pulse of this peak (g) against the direction of
	                    travel (speed change 2/pi * impact_g * g * 0.1 s) */
	double bump_g;   /* a 30 ms vertical triangle of this peak (g): a pothole */
	struct drv_truth tr;
};

static inline void drv_init(struct drv *d, struct odo_clock *clk, struct odo_engine *e, const double M[3][3],
                            int64_t base_ms)
{
	memset(d, 0, sizeof(*d));
	d->clk = clk;
	d->e = e;
	d->sink = odo_engine_sink(e);
	memcpy(d->M, M, sizeof(d->M));
	d->lat = 52.52;
	d->lon = 13.40;
	d->psi = 30;
	d->base_ms = base_ms;
	d->rng = 12345;
	d->noise = 0.2;
	d->tr.t_first_rpm_on = -1;
	d->tr.prev_gps_t = -1;
}

static inline void drv_run(struct drv *d, const struct drv_phase *p)
{
	int n = (int)llround(p->secs * DRV_RATE_HZ);
	for (int i = 0; i < n; i++) {
		double dt = 1.0 / DRV_RATE_HZ;
		double a = p->a, up = 0, tp = (i + 1) * dt; /* time into the phase */
		if (d->impact_g > 0 && tp <= 0.1)
			a -= d->impact_g * SYN_G * sin(M_PI * tp / 0.1);
		if (d->bump_g > 0 && tp <= 0.03)
			up = d->bump_g * SYN_G * (tp <= 0.015 ? tp / 0.015 : (0.03 - tp) / 0.015);
		if (d->v + a * dt < 0)
			a = -d->v / dt;
		double w = p->w_dps * M_PI / 180;
		double v0 = d->v;
		d->v += a * dt;
		double vm = (v0 + d->v) / 2;
		if (d->v < 1e-9)
			w = 0;
		d->psi += p->w_dps * dt * (d->v > 1e-9 ? 1 : 0);
		syn_step(&d->lat, &d->lon, d->psi, vm * dt);
		d->tr.dist_m += vm * dt;
		d->t += dt;
		int64_t ns = llround(d->t * 1e9);
		odo_clock_advance(d->clk, ns - odo_clock_mono_ns(d->clk));
		/* accelerometer */
		double f[3] = {a, d->v * w, -SYN_G - up}, s[3];
		syn_mul_t(d->M, f, s);
		struct odo_accel_sample as = {.mono_ns = ns,
		                              .x = (float)(s[0] + d->noise * syn_rand(&d->rng)),
		                              .y = (float)(s[1] + d->noise * syn_rand(&d->rng)),
		                              .z = (float)(s[2] + d->noise * syn_rand(&d->rng))};
		d->sink.accel(d->sink.ctx, &as);
		long k = lround(d->t * DRV_RATE_HZ);
		if (k % DRV_RATE_HZ == 0) {
			struct odo_gps_fix fx = {.mono_ns = ns,
			                         .t_ms = d->base_ms + llround(d->t * 1000),
			                         .mode = ODO_FIX_3D,
			                         .lat = d->lat,
			                         .lon = d->lon,
			                         .alt_m = 40,
			                         .speed_mps = d->v,
			                         .track_deg = fmod(fmod(d->psi, 360) + 360, 360),
			                         .climb_mps = 0,
			                         .eph = 5,
			                         .epx = 4,
			                         .epy = 4,
			                         .epv = 8,
			                         .eps = 0.5,
			                         .ept = 0.005};
			if (d->tr.t_first_rpm_on >= 0 && d->tr.prev_gps_t >= 0 && d->tr.prev_gps_v >= 0.5)
				d->tr.moving_s += d->t - d->tr.prev_gps_t;
			if (d->tr.t_first_rpm_on >= 0) {
				d->tr.prev_gps_t = d->t;
				d->tr.prev_gps_v = d->v;
				d->tr.gps_n++;
			}
			d->sink.gps(d->sink.ctx, &fx);
			if (d->v > d->tr.max_speed)
				d->tr.max_speed = d->v;
			if (p->screen != d->screen) {
				struct odo_phone_state ph = {.mono_ns = ns, .screen_on = p->screen};
				d->sink.phone(d->sink.ctx, &ph);
				d->screen = p->screen;
			}
			odo_engine_tick(d->e);
		} else if (k % DRV_RATE_HZ == DRV_RATE_HZ / 2) {
			double rpm = p->engine ? 800 + 100 * d->v : 0;
			struct odo_obd_value o1 = {
			    .mono_ns = ns, .ecu = 0x7E8, .pid = ODO_OBD_RPM, .value = rpm};
			struct odo_obd_value o2 = {
			    .mono_ns = ns, .ecu = 0x7E8, .pid = ODO_OBD_SPEED, .value = d->v};
			d->sink.obd(d->sink.ctx, &o1);
			d->sink.obd(d->sink.ctx, &o2);
			if (rpm > 300) {
				if (d->tr.t_first_rpm_on < 0)
					d->tr.t_first_rpm_on = d->t;
				d->tr.t_last_rpm_on = d->t;
			}
			if (rpm > 300) {
				d->tr.rpm_sum += rpm;
				d->tr.rpm_n++;
			}
		}
		if (d->screen && d->v >= 2.78)
			d->tr.screen_moving_s += dt;
	}
	d->impact_g = d->bump_g = 0;
}

/* The calibration warm-up: gentle accelerations, turns both ways, brakes
 * (all below the event thresholds: 0.12 g longitudinal, <= 0.2 g lateral). */
static inline void drv_warmup(struct drv *d, int cycles)
{
	for (int c = 0; c < cycles; c++) {
		const struct drv_phase ph[] = {
		    {4, 1.2, 0, 1, 0},  {3, 0, 0, 1, 0},  {4, 0, 6, 1, 0},
		    {4, -1.2, 0, 1, 0}, {4, 0, -6, 1, 0}, {2, 0, 0, 1, 0},
		};
		for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
			drv_run(d, &ph[i]);
	}
}

#endif
