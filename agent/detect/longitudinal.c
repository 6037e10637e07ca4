/* odo-agent — hard braking and rapid acceleration from longitudinal g. */
#include <math.h>

#include "detect/detect.h"
#include "odo/geo.h"

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x);
struct odo_det_event detect__run_event(const struct odo_det_run *r, uint8_t kind, uint8_t src, double sign);

static void emit_run(struct odo_detect *d, const struct odo_det_run *r, uint8_t kind, uint8_t src,
                     double sign)
{
	struct odo_det_event ev = detect__run_event(r, kind, src, sign);
	d->emit(d->emit_ctx, &ev);
}

/*
 * Combined manoeuvres. Drivers brake into a turn and accelerate out of
 * it; the turn is one manoeuvre and a harsh corner event already reports
 * it (its peak is the grip the driver used). A brake or acceleration
 * that overlaps a harsh corner event, give or take combine_s, is therefore
 * folded into the corner, not reported as a second event. Only a corner
 * that is reported claims one: a lobe that a swerve takes over does not
 * (braking while swerving is reported). So a brake or acceleration is
 * held while a corner could still claim it: until combine_s after it
 * ended, and while a corner under way began in time or a held corner
 * (waiting for a swerve) overlaps it.
 */
static int overlaps(int64_t a0, int64_t a1, const struct odo_det_event *ev, int64_t c)
{
	return a0 <= ev->end_ns + c && ev->start_ns <= a1 + c;
}

/* A reported corner claims ev. final: the decision cannot wait any more
 * (hold buffer full, end of the drive): a held corner and a corner under
 * way that already lasted corner_min_s count as reported. */
static int claimed(const struct odo_detect *d, const struct odo_det_event *ev, int64_t t, int final)
{
	int64_t c = (int64_t)(d->cfg.combine_s * 1e9);
	for (int i = 0; i < ODO_DET_CORNER_IV; i++)
		if (d->corner_iv[i][1] && overlaps(d->corner_iv[i][0], d->corner_iv[i][1], ev, c))
			return 1;
	if (!final)
		return 0;
	for (int i = 0; i < d->corner_pending; i++)
		if (overlaps(d->corner_ev[i].start_ns, d->corner_ev[i].end_ns, ev, c))
			return 1;
	const struct odo_det_run *rr[2] = {&d->corner_l, &d->corner_r};
	for (int k = 0; k < 2; k++)
		if (rr[k]->active && rr[k]->start_ns <= ev->end_ns + c &&
		    (double)(t - rr[k]->start_ns) >= d->cfg.corner.min_dur_s * 1e9)
			return 1;
	return 0;
}

/* A corner could still claim ev. */
static int claimable(const struct odo_detect *d, const struct odo_det_event *ev, int64_t t)
{
	int64_t c = (int64_t)(d->cfg.combine_s * 1e9);
	if (t - ev->end_ns <= c)
		return 1;
	if ((d->corner_l.active && d->corner_l.start_ns <= ev->end_ns + c) ||
	    (d->corner_r.active && d->corner_r.start_ns <= ev->end_ns + c))
		return 1;
	for (int i = 0; i < d->corner_pending; i++)
		if (overlaps(d->corner_ev[i].start_ns, d->corner_ev[i].end_ns, ev, c))
			return 1;
	return 0;
}

/* Decide the oldest held event now. */
static void lon_decide(struct odo_detect *d, int64_t t, int final)
{
	const struct odo_det_event *ev = &d->lon_ev[0];
	if (claimed(d, ev, t, final))
		d->combined++;
	else
		d->emit(d->emit_ctx, ev);
	for (int i = 1; i < d->lon_pending; i++)
		d->lon_ev[i - 1] = d->lon_ev[i];
	d->lon_pending--;
}

static void lon_release(struct odo_detect *d, int64_t t)
{
	while (d->lon_pending && !claimable(d, &d->lon_ev[0], t))
		lon_decide(d, t, 0);
}

/* End of the drive (odo_detect_flush, after the corners went out). */
void detect__lon_flush(struct odo_detect *d, int64_t t);
void detect__lon_flush(struct odo_detect *d, int64_t t)
{
	while (d->lon_pending)
		lon_decide(d, t, 1);
}

static void lon_hold(struct odo_detect *d, const struct odo_det_event *ev, int64_t t)
{
	if (d->cfg.combine_s <= 0) {
		d->emit(d->emit_ctx, ev);
		return;
	}
	if (d->lon_pending == ODO_DET_LON_HELD)
		lon_decide(d, t, 1); /* full: the oldest is decided now */
	d->lon_ev[d->lon_pending++] = *ev;
}

static void lon_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	double g = s->lon / ODO_G;
	if (detect__run_step(&d->brake, &d->cfg.brake, s->mono_ns, -g)) {
		struct odo_det_event ev =
		    detect__run_event(&d->brake, ODO_EV_HARD_BRAKE, ODO_EVSRC_ACCEL, -1);
		lon_hold(d, &ev, s->mono_ns);
		/* when braking ends (above all at the stop) the body pitches back
		 * on its suspension: a sensor above the pitch axis then reads a
		 * forward pulse that is not the driver accelerating */
		int64_t until = s->mono_ns + (int64_t)(d->cfg.rebound_s * 1e9);
		if (until > d->accel.refractory_until_ns)
			d->accel.refractory_until_ns = until;
		d->accel.active = 0;
	}
	if (detect__run_step(&d->accel, &d->cfg.accel, s->mono_ns, g)) {
		struct odo_det_event ev =
		    detect__run_event(&d->accel, ODO_EV_RAPID_ACCEL, ODO_EVSRC_ACCEL, 1);
		lon_hold(d, &ev, s->mono_ns);
	}
	lon_release(d, s->mono_ns);
}

const struct odo_detector_ops odo_det_longitudinal = {
    .name = "longitudinal",
    .on_sample = lon_sample,
    .on_tick = lon_release,
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
