/* odo-agent — crash: a high-g impact on the unfiltered dynamic acceleration,
 * fused with the vehicle's airbag / crash signal when there is one. A crash
 * is held for crash_fuse_s so that the other source can join it. */
#include <math.h>

#include "detect/detect.h"
#include "odo/geo.h"

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x);

static void crash_flush(struct odo_detect *d)
{
	if (!d->crash_pending)
		return;
	d->crash_pending = 0;
	d->emit(d->emit_ctx, &d->crash_ev);
}

static void crash_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	struct odo_det_thr p = {
	    .thr_g = d->cfg.crash_g, .hyst_g = 0.1 * d->cfg.crash_g, .min_dur_s = 0, .refractory_s = 10};
	if (!detect__run_step(&d->crash, &p, s->mono_ns, s->dyn / ODO_G))
		return;
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (d->crash_pending && d->crash_ev.source == ODO_EVSRC_AIRBAG) {
		d->crash_ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		d->crash_ev.peak_g = d->crash.peak;
		d->crash_ev.mean_g = d->crash.sum / (double)d->crash.n;
		d->crash_ev.start_ns =
		    d->crash.start_ns < d->crash_ev.start_ns ? d->crash.start_ns : d->crash_ev.start_ns;
		crash_flush(d);
		return;
	}
	crash_flush(d);
	d->crash_pending = 1;
	d->crash_ev = (struct odo_det_event){.kind = ODO_EV_CRASH,
	                                     .source = ODO_EVSRC_ACCEL,
	                                     .start_ns = d->crash.start_ns,
	                                     .end_ns = d->crash.last_ns,
	                                     .peak_g = d->crash.peak,
	                                     .mean_g = d->crash.sum / (double)d->crash.n};
	if (d->airbag_ns && s->mono_ns - d->airbag_ns <= fuse) {
		d->crash_ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		crash_flush(d);
	}
}

static void crash_tick(struct odo_detect *d, int64_t t)
{
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (d->crash_pending && t - d->crash_ev.end_ns > fuse)
		crash_flush(d);
}

void odo_detect_airbag(struct odo_detect *d, int64_t mono_ns)
{
	int64_t fuse = (int64_t)(d->cfg.crash_fuse_s * 1e9);
	if (d->airbag_ns && mono_ns - d->airbag_ns <= fuse * 5)
		return; /* the same deployment reported again */
	d->airbag_ns = mono_ns;
	if (d->crash_pending && d->crash_ev.source == ODO_EVSRC_ACCEL &&
	    mono_ns - d->crash_ev.end_ns <= fuse) {
		d->crash_ev.source = ODO_EVSRC_ACCEL_AIRBAG;
		crash_flush(d);
		return;
	}
	crash_flush(d);
	d->crash_pending = 1;
	/* the wire format (v1) requires peak/mean g on every non-phone event:
	 * 0 here means "not measured" (source AIRBAG says why) */
	d->crash_ev = (struct odo_det_event){.kind = ODO_EV_CRASH,
	                                     .source = ODO_EVSRC_AIRBAG,
	                                     .start_ns = mono_ns,
	                                     .end_ns = mono_ns,
	                                     .peak_g = 0,
	                                     .mean_g = 0};
}

const struct odo_detector_ops odo_det_crash = {
    .name = "crash",
    .on_sample = crash_sample,
    .on_tick = crash_tick,
};
