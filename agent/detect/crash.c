/* odo-agent — crash: a high-g impact on the unfiltered dynamic acceleration,
 * fused with the vehicle's airbag / crash signal when there is one. A crash
 * is held for crash_fuse_s so that the other source can join it. */
#include <math.h>

#include "detect/run.h"
#include "odo/geo.h"

static void crash_out(struct odo_detect *d)
{
	struct odo_det_crash_state *st = &d->crash;
	if (!st->pending)
		return;
	st->pending = 0;
	detect__emit(d, &st->ev);
}

static void crash_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	struct odo_det_crash_state *st = &d->crash;
	/* one level, ungraded (a crash is an outcome, not a degree of behaviour) */
	struct odo_det_thr p = {.thr_g = {d->cfg.crash_g, HUGE_VAL, HUGE_VAL},
	                        .min_dur_s = {0, 0, 0},
	                        .hyst_g = 0.1 * d->cfg.crash_g,
	                        .refractory_s = 10};
	if (!detect__run_step(&st->run, &p, s->mono_ns, s->dyn / ODO_G))
		return;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (st->pending && st->ev.source == ODO_EVSRC_AIRBAG) {
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		st->ev.peak_g = st->run.peak;
		st->ev.mean_g = st->run.sum / (double)st->run.n;
		st->ev.start_ns = st->run.start_ns < st->ev.start_ns ? st->run.start_ns : st->ev.start_ns;
		crash_out(d);
		return;
	}
	crash_out(d);
	st->pending = 1;
	st->ev = (struct odo_det_event){.kind = ODO_EV_CRASH,
	                                .grade = 0,
	                                .source = ODO_EVSRC_ACCEL,
	                                .start_ns = st->run.start_ns,
	                                .end_ns = st->run.last_ns,
	                                .peak_g = st->run.peak,
	                                .mean_g = st->run.sum / (double)st->run.n};
	if (st->airbag_ns && s->mono_ns - st->airbag_ns <= fuse) {
		st->ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		crash_out(d);
	}
}

static void crash_tick(struct odo_detect *d, int64_t t)
{
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (d->crash.pending && t - d->crash.ev.end_ns > fuse)
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
    .on_sample = crash_sample,
    .on_airbag = crash_airbag,
    .on_tick = crash_tick,
};
