/* odo-agent — crash: an impact on the unfiltered dynamic acceleration,
 * confirmed by the speed change it caused, fused with the vehicle's airbag /
 * crash signal when there is one (docs/detection.md "Crash").
 *
 * An impact is one or more excursions of |a - g| at or above crash_g, less
 * than crash_dv_window_s apart. It is a crash when, at some instant during
 * it or up to crash_dv_window_s after it, the acceleration integrated over
 * the preceding crash_dv_window_s (any shorter interval included) amounts to
 * crash_dv_kmh: the trigger of an event data recorder (49 CFR 563.5, 8 km/h
 * within 150 ms). A pothole or a knock on the box peaks as high but lasts
 * tens of ms and changes the speed by a fraction of that; no braking reaches
 * 1.5 g for 150 ms. A crash is held for crash_fuse_s so that the airbag
 * signal can join it; the airbag signal is a crash on its own. */
#include <math.h>

#include "detect/run.h"
#include "odo/geo.h"

#define CRASH_REFRACTORY_S 10 /* further impacts of one crash (a second collision, the car landing) */
#define DV_MAX_GAP_S 0.1      /* a longer sensor gap restarts the integral */

static void crash_out(struct odo_detect *d)
{
	struct odo_det_crash_state *st = &d->crash;
	if (!st->pending)
		return;
	st->pending = 0;
	detect__emit(d, &st->ev);
}

static void crash_init(struct odo_detect *d)
{
	d->crash.dv_last = NAN;
}

/* Push the cumulative integral of h at this sample. */
static void dv_push(struct odo_det_crash_state *st, const struct odo_det_impact *s)
{
	double dt = st->dv_last_ns ? (double)(s->mono_ns - st->dv_last_ns) / 1e9 : 0;
	if (dt < 0 || dt > DV_MAX_GAP_S) {
		st->dv_n = 0; /* a gap: what came before says nothing about this window */
		dt = 0;
	}
	for (int i = 0; i < 3; i++)
		st->dv_cum[i] += (isfinite(s->h[i]) ? s->h[i] : 0) * dt;
	st->dv_last_ns = s->mono_ns;
	st->dv_head = (st->dv_head + 1) % ODO_DET_DV_RING;
	st->dv_t[st->dv_head] = s->mono_ns;
	for (int i = 0; i < 3; i++)
		st->dv_v[st->dv_head][i] = st->dv_cum[i];
	if (st->dv_n < ODO_DET_DV_RING)
		st->dv_n++;
}

/* The largest speed change (m/s) over an interval of at most w that ends
 * now: against every earlier sample in the window, and the last one before
 * it (the window's start falls between those two). */
static double dv_now(const struct odo_det_crash_state *st, int64_t w_ns)
{
	double best = 0;
	int64_t now = st->dv_t[st->dv_head];
	for (unsigned k = 1; k < st->dv_n; k++) {
		unsigned j = (st->dv_head + ODO_DET_DV_RING - k) % ODO_DET_DV_RING;
		double d2 = 0;
		for (int i = 0; i < 3; i++) {
			double x = st->dv_cum[i] - st->dv_v[j][i];
			d2 += x * x;
		}
		if (d2 > best)
			best = d2;
		if (now - st->dv_t[j] >= w_ns)
			break;
	}
	return sqrt(best);
}

/* An accelerometer crash confirmed at t (the impact in st->imp). */
static void crash_confirmed(struct odo_detect *d, int64_t t)
{
	struct odo_det_crash_state *st = &d->crash;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	st->refractory_until_ns = t + (int64_t)CRASH_REFRACTORY_S * 1000000000;
	if (st->pending && st->ev.source == ODO_EVSRC_AIRBAG) {
		/* the airbag signal came first: one crash, both sources */
		int64_t start = st->imp.start_ns < st->ev.start_ns ? st->imp.start_ns : st->ev.start_ns;
		st->ev = st->imp;
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		st->ev.start_ns = start;
		crash_out(d);
		return;
	}
	crash_out(d);
	st->pending = 1;
	st->ev = st->imp;
	if (st->airbag_ns && t - st->airbag_ns <= fuse) {
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		crash_out(d);
	}
}

/* An impact without the speed change: not a crash by itself. */
static void impact_rejected(struct odo_detect *d, int64_t t)
{
	struct odo_det_crash_state *st = &d->crash;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	st->rejected++;
	if (st->pending && st->ev.source == ODO_EVSRC_AIRBAG && t - st->airbag_ns <= fuse) {
		/* the vehicle says crash and the box felt this impact: one crash */
		int64_t start = st->imp.start_ns < st->ev.start_ns ? st->imp.start_ns : st->ev.start_ns;
		st->ev = st->imp;
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		st->ev.start_ns = start;
		crash_out(d);
		return;
	}
	st->have_rej = 1;
	st->rej = st->imp;
}

static void judge(struct odo_detect *d, int64_t t)
{
	struct odo_det_crash_state *st = &d->crash;
	st->impact = 0;
	st->dv_last = st->dv_peak;
	if (st->dv_peak * 3.6 >= d->cfg.crash_dv_kmh)
		crash_confirmed(d, t);
	else
		impact_rejected(d, t);
}

static void crash_impact(struct odo_detect *d, const struct odo_det_impact *s)
{
	struct odo_det_crash_state *st = &d->crash;
	int64_t w = (int64_t)(d->cfg.crash_dv_window_s * 1e9);
	dv_push(st, s);
	/* one level, ungraded (a crash is an outcome, not a degree of
	 * behaviour); its own refractory time, started only by a crash */
	struct odo_det_thr p = {.thr_g = {d->cfg.crash_g, HUGE_VAL, HUGE_VAL},
	                        .min_dur_s = {0, 0, 0},
	                        .hyst_g = 0.1 * d->cfg.crash_g,
	                        .refractory_s = 0};
	int was = st->run.active;
	int ended = 0;
	if (was || s->mono_ns >= st->refractory_until_ns)
		ended = detect__run_step(&st->run, &p, s->mono_ns, s->mag / ODO_G);
	if (!was && st->run.active && !st->impact) {
		st->impact = 1;
		st->dv_peak = 0;
		st->imp_sum = 0;
		st->imp_n = 0;
		st->imp = (struct odo_det_event){.kind = ODO_EV_CRASH,
		                                 .grade = 0,
		                                 .source = ODO_EVSRC_ACCEL,
		                                 .start_ns = st->run.start_ns,
		                                 .end_ns = st->run.start_ns};
	}
	if (ended) {
		/* the excursion joins the impact: peak, mean over all its samples */
		st->imp_sum += st->run.sum;
		st->imp_n += st->run.n;
		st->imp.mean_g = st->imp_sum / (double)st->imp_n;
		if (st->run.peak > st->imp.peak_g)
			st->imp.peak_g = st->run.peak;
		st->imp.end_ns = st->run.last_ns;
		st->judge_ns = s->mono_ns + w;
	} else if (st->run.active) {
		st->judge_ns = INT64_MAX; /* under way (again) */
	}
	if (st->impact) {
		double v = dv_now(st, w);
		if (v > st->dv_peak)
			st->dv_peak = v;
		if (!st->run.active && s->mono_ns >= st->judge_ns)
			judge(d, s->mono_ns);
	}
}

static void crash_tick(struct odo_detect *d, int64_t t)
{
	struct odo_det_crash_state *st = &d->crash;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (st->impact && !st->run.active && t >= st->judge_ns)
		judge(d, t);
	if (st->pending && t - st->ev.end_ns > fuse)
		crash_out(d);
}

static void crash_airbag(struct odo_detect *d, int64_t mono_ns)
{
	struct odo_det_crash_state *st = &d->crash;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (st->airbag_ns && mono_ns - st->airbag_ns <= fuse * 5)
		return; /* the same deployment reported again */
	st->airbag_ns = mono_ns;
	if (st->pending && st->ev.source == ODO_EVSRC_ACCEL && mono_ns - st->ev.end_ns <= fuse) {
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		crash_out(d);
		return;
	}
	if (st->have_rej && mono_ns - st->rej.end_ns <= fuse && mono_ns >= st->rej.start_ns) {
		/* an impact the speed change did not confirm, and now the vehicle
		 * says crash: one crash, both sources */
		st->have_rej = 0;
		crash_out(d);
		st->ev = st->rej;
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		st->pending = 1;
		crash_out(d);
		st->refractory_until_ns = mono_ns + (int64_t)CRASH_REFRACTORY_S * 1000000000;
		return;
	}
	crash_out(d);
	st->pending = 1;
	/* the wire format (v1) requires peak/mean g on every non-phone event:
	 * 0 here means "not measured" (source AIRBAG says why) */
	st->ev = (struct odo_det_event){.kind = ODO_EV_CRASH,
	                                .source = ODO_EVSRC_AIRBAG,
	                                .start_ns = mono_ns,
	                                .end_ns = mono_ns,
	                                .peak_g = 0,
	                                .mean_g = 0};
}

const struct odo_detector_ops odo_det_crash = {
    .name = "crash",
    .init = crash_init,
    .on_impact = crash_impact,
    .on_airbag = crash_airbag,
    .on_tick = crash_tick,
};
