/* odo-agent — hard braking and rapid acceleration from longitudinal g, and
 * the fallback from d(speed)/dt when there is no calibrated accelerometer. */
#include <math.h>

#include "detect/run.h"
#include "odo/geo.h"

static void lon_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	struct odo_det_lon_state *st = &d->lon;
	double g = s->lon / ODO_G;
	if (detect__run_step(&st->brake, &d->cfg.brake, s->mono_ns, -g)) {
		struct odo_det_event ev = detect__run_event(&st->brake, ODO_EV_HARD_BRAKE, ODO_EVSRC_ACCEL, -1);
		detect__combine_lon(d, &ev, s->mono_ns);
		/* when braking ends (above all at the stop) the body pitches back
		 * on its suspension: a sensor above the pitch axis then reads a
		 * forward pulse that is not the driver accelerating */
		int64_t until = s->mono_ns + (int64_t)(d->cfg.rebound_s * 1e9);
		if (until > st->accel.refractory_until_ns)
			st->accel.refractory_until_ns = until;
		st->accel.active = 0;
	}
	if (detect__run_step(&st->accel, &d->cfg.accel, s->mono_ns, g)) {
		struct odo_det_event ev = detect__run_event(&st->accel, ODO_EV_RAPID_ACCEL, ODO_EVSRC_ACCEL, 1);
		detect__combine_lon(d, &ev, s->mono_ns);
	}
	/* a corner may still claim what is held (combine.c) */
	detect__combine_release_lon(d, s->mono_ns);
}

const struct odo_detector_ops odo_det_longitudinal = {
    .name = "longitudinal",
    .on_sample = lon_sample,
    .on_tick = detect__combine_release_lon,
    .on_flush = detect__combine_flush_lon,
};

/* Fallback without an (calibrated) accelerometer: the derivative of
 * GPS/OBD speed over cfg.speed_window_s. Lower accuracy: speed comes at
 * 1-10 Hz and GPS speed lags and smooths (docs/detection.md). */
static void speed_update(struct odo_detect *d, int64_t t, double v, int accel_live)
{
	struct odo_det_speed_state *st = &d->speed;
	unsigned cap = ODO_DET_SPEED_RING;
	st->head = (st->head + 1) % cap;
	st->t[st->head] = t;
	st->v[st->head] = v;
	if (st->n < cap)
		st->n++;
	if (accel_live) {
		st->brake.active = st->accel.active = 0;
		return;
	}
	/* oldest entry within the window */
	int64_t win = (int64_t)(d->cfg.speed_window_s * 1e9);
	unsigned idx = st->head;
	for (unsigned k = 1; k < st->n; k++) {
		unsigned j = (st->head + cap - k) % cap;
		if (t - st->t[j] > win)
			break;
		idx = j;
	}
	int64_t span = t - st->t[idx];
	if (idx == st->head || span < win / 2)
		return;
	double a_g = (v - st->v[idx]) / ((double)span / 1e9) / ODO_G;
	/* the fallback's own levels; one minimum duration (speed_min_s) for
	 * every grade, hysteresis and refractory time as the accelerometer's */
	struct odo_det_thr b = d->cfg.speed_brake, a = d->cfg.speed_accel;
	for (int k = 0; k < ODO_DET_GRADES; k++)
		b.min_dur_s[k] = a.min_dur_s[k] = d->cfg.speed_brake.min_dur_s[0];
	b.hyst_g = d->cfg.brake.hyst_g;
	b.refractory_s = d->cfg.brake.refractory_s;
	a.hyst_g = d->cfg.accel.hyst_g;
	a.refractory_s = d->cfg.accel.refractory_s;
	/* the derivative window is centred half a window back */
	int64_t tc = t - span / 2;
	if (detect__run_step(&st->brake, &b, tc, -a_g)) {
		struct odo_det_event ev = detect__run_event(&st->brake, ODO_EV_HARD_BRAKE, ODO_EVSRC_SPEED, -1);
		detect__emit(d, &ev);
	}
	if (detect__run_step(&st->accel, &a, tc, a_g)) {
		struct odo_det_event ev = detect__run_event(&st->accel, ODO_EV_RAPID_ACCEL, ODO_EVSRC_SPEED, 1);
		detect__emit(d, &ev);
	}
}

const struct odo_detector_ops odo_det_speed = {
    .name = "speed",
    .on_speed = speed_update,
};
