/* odo-agent — hard braking and rapid acceleration from longitudinal g. */
#include <math.h>

#include "detect/detect.h"
#include "odo/geo.h"

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x);

static void emit_run(struct odo_detect *d, const struct odo_det_run *r, uint8_t kind, uint8_t src,
                     double sign)
{
	struct odo_det_event ev = {.kind = kind,
	                           .source = src,
	                           .start_ns = r->start_ns,
	                           .end_ns = r->last_ns,
	                           .peak_g = sign * r->peak,
	                           .mean_g = sign * r->sum / (double)r->n};
	d->emit(d->emit_ctx, &ev);
}

static void lon_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	double g = s->lon / ODO_G;
	if (detect__run_step(&d->brake, &d->cfg.brake, s->mono_ns, -g)) {
		emit_run(d, &d->brake, ODO_EV_HARD_BRAKE, ODO_EVSRC_ACCEL, -1);
		/* when braking ends (above all at the stop) the body pitches back
		 * on its suspension: a sensor above the pitch axis then reads a
		 * forward pulse that is not the driver accelerating */
		int64_t until = s->mono_ns + (int64_t)(d->cfg.rebound_s * 1e9);
		if (until > d->accel.refractory_until_ns)
			d->accel.refractory_until_ns = until;
		d->accel.active = 0;
	}
	if (detect__run_step(&d->accel, &d->cfg.accel, s->mono_ns, g))
		emit_run(d, &d->accel, ODO_EV_RAPID_ACCEL, ODO_EVSRC_ACCEL, 1);
}

const struct odo_detector_ops odo_det_longitudinal = {
    .name = "longitudinal",
    .on_sample = lon_sample,
};

/* Fallback without an (calibrated) accelerometer: the derivative of
 * GPS/OBD speed over cfg.speed_window_s. Lower accuracy: speed comes at
 * 1-10 Hz and GPS speed lags and smooths (docs/detection.md). */
static void speed_update(struct odo_detect *d, int64_t t, double v, int accel_live)
{
	unsigned cap = ODO_DET_SPEED_RING;
	d->sp_head = (d->sp_head + 1) % cap;
	d->sp_t[d->sp_head] = t;
	d->sp_v[d->sp_head] = v;
	if (d->sp_n < cap)
		d->sp_n++;
	if (accel_live) {
		d->sbrake.active = d->saccel.active = 0;
		return;
	}
	/* oldest entry within the window */
	int64_t win = (int64_t)(d->cfg.speed_window_s * 1e9);
	unsigned idx = d->sp_head;
	for (unsigned k = 1; k < d->sp_n; k++) {
		unsigned j = (d->sp_head + cap - k) % cap;
		if (t - d->sp_t[j] > win)
			break;
		idx = j;
	}
	int64_t span = t - d->sp_t[idx];
	if (idx == d->sp_head || span < win / 2)
		return;
	double a_g = (v - d->sp_v[idx]) / ((double)span / 1e9) / ODO_G;
	struct odo_det_thr b = d->cfg.brake, a = d->cfg.accel;
	b.thr_g = d->cfg.speed_brake_g;
	b.min_dur_s = d->cfg.speed_min_dur_s;
	a.thr_g = d->cfg.speed_accel_g;
	a.min_dur_s = d->cfg.speed_min_dur_s;
	/* the derivative window is centred half a window back */
	int64_t tc = t - span / 2;
	if (detect__run_step(&d->sbrake, &b, tc, -a_g))
		emit_run(d, &d->sbrake, ODO_EV_HARD_BRAKE, ODO_EVSRC_SPEED, -1);
	if (detect__run_step(&d->saccel, &a, tc, a_g))
		emit_run(d, &d->saccel, ODO_EV_RAPID_ACCEL, ODO_EVSRC_SPEED, 1);
}

const struct odo_detector_ops odo_det_speed = {
    .name = "speed",
    .on_speed = speed_update,
};
