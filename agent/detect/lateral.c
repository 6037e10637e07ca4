/* odo-agent — harsh cornering (sustained lateral g) and swerving (a lateral
 * lobe followed by an opposite one within a short window). */
#include <math.h>

#include "detect/detect.h"
#include "odo/geo.h"

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x);
struct odo_det_event detect__run_event(const struct odo_det_run *r, uint8_t kind, uint8_t src, double sign);

static int slow(const struct odo_detect *d, const struct odo_det_sample *s)
{
	return isfinite(s->speed_mps) && s->speed_mps < d->cfg.min_speed_mps;
}

/* Emit the oldest `n` held corners; each is remembered for the brakes and
 * accelerations of the same manoeuvre (longitudinal.c). */
static void release(struct odo_detect *d, int n)
{
	for (int i = 0; i < n && i < d->corner_pending; i++) {
		d->emit(d->emit_ctx, &d->corner_ev[i]);
		for (int j = ODO_DET_CORNER_IV - 1; j > 0; j--) {
			d->corner_iv[j][0] = d->corner_iv[j - 1][0];
			d->corner_iv[j][1] = d->corner_iv[j - 1][1];
		}
		d->corner_iv[0][0] = d->corner_ev[i].start_ns;
		d->corner_iv[0][1] = d->corner_ev[i].end_ns;
	}
	int k = n < d->corner_pending ? n : d->corner_pending;
	for (int i = k; i < d->corner_pending; i++)
		d->corner_ev[i - k] = d->corner_ev[i];
	d->corner_pending -= k;
}

static void corner_release_due(struct odo_detect *d, int64_t t)
{
	int64_t hold = (int64_t)((d->cfg.swerve_window_s + d->cfg.swerve_max_s) * 1e9);
	while (d->corner_pending && t - d->corner_ev[0].end_ns > hold)
		release(d, 1);
}

static void corner_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	double g = s->lat / ODO_G;
	int sl = slow(d, s);
	struct odo_det_run *rr[2] = {&d->corner_r, &d->corner_l};
	for (int k = 0; k < 2; k++) {
		double x = k == 0 ? g : -g;
		if (sl && !rr[k]->active)
			x = 0;
		if (detect__run_step(rr[k], &d->cfg.corner, s->mono_ns, x)) {
			struct odo_det_event ev =
			    detect__run_event(rr[k], k == 0 ? ODO_EV_CORNER_RIGHT : ODO_EV_CORNER_LEFT,
			                      ODO_EVSRC_ACCEL, k == 0 ? 1 : -1);
			/* held: a swerve that includes this lobe replaces it */
			if (d->corner_pending == ODO_DET_CORNER_HELD)
				release(d, 1);
			d->corner_ev[d->corner_pending++] = ev;
		}
	}
	corner_release_due(d, s->mono_ns);
}

static void corner_tick(struct odo_detect *d, int64_t t)
{
	corner_release_due(d, t);
}

const struct odo_detector_ops odo_det_corner = {
    .name = "corner",
    .on_sample = corner_sample,
    .on_tick = corner_tick,
};

static void swerve_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	double g = s->lat / ODO_G;
	struct odo_det_run *r = &d->lobe;
	struct odo_det_thr lobe = d->cfg.swerve;
	lobe.refractory_s = 0;
	double x;
	if (!r->active) {
		if (slow(d, s))
			return;
		r->sign = g >= 0 ? 1 : -1;
	}
	x = r->sign * g;
	if (!detect__run_step(r, &lobe, s->mono_ns, x))
		return;
	/* a lobe ended */
	int64_t window = (int64_t)(d->cfg.swerve_window_s * 1e9);
	/* lateral impulse of each lobe (mean g x duration): a lane change
	 * ends with the heading it began with, so v * d(heading) = the
	 * integral of lateral acceleration comes back to zero and its two
	 * lobes are about equal; a turn followed by a short counter-swing at
	 * its exit is not a swerve */
	int balanced = 0;
	if (d->lobe_n) {
		double i1 =
		    fabs(d->lobe_sum) / (double)d->lobe_n * (double)(d->lobe_end_ns - d->lobe_start_ns);
		double i2 = r->sum / (double)r->n * (double)(r->last_ns - r->start_ns);
		balanced = fmin(i1, i2) >= d->cfg.swerve_balance * fmax(i1, i2);
	}
	if (d->lobe_sign == -r->sign && d->lobe_n && r->start_ns - d->lobe_end_ns <= window &&
	    r->start_ns >= d->swerve_refractory_until_ns && balanced &&
	    (double)(r->last_ns - d->lobe_start_ns) <= d->cfg.swerve_max_s * 1e9) {
		/* a corner inside the reversal was part of the swerve */
		int keep = 0;
		for (int i = 0; i < d->corner_pending; i++)
			if (d->corner_ev[i].start_ns < d->lobe_start_ns - window)
				d->corner_ev[keep++] = d->corner_ev[i];
		d->corner_pending = keep;
		double p1 = d->lobe_peak, p2 = r->sign * r->peak;
		struct odo_det_event ev = {.kind = ODO_EV_SWERVE,
		                           .source = ODO_EVSRC_ACCEL,
		                           .start_ns = d->lobe_start_ns,
		                           .end_ns = r->last_ns,
		                           .peak_g = fabs(p1) >= fabs(p2) ? p1 : p2,
		                           /* mean of |lateral| over both lobes, signed as the first lobe */
		                           .mean_g = (d->lobe_sign * (fabs(d->lobe_sum) + r->sum)) /
		                                     (double)(d->lobe_n + r->n)};
		d->emit(d->emit_ctx, &ev);
		d->swerve_refractory_until_ns = r->last_ns + (int64_t)(d->cfg.swerve.refractory_s * 1e9);
		d->lobe_n = 0;
		d->lobe_sign = 0;
		return;
	}
	d->lobe_sign = r->sign;
	d->lobe_start_ns = r->start_ns;
	d->lobe_end_ns = r->last_ns;
	d->lobe_peak = r->sign * r->peak;
	d->lobe_sum = r->sign * r->sum;
	d->lobe_n = r->n;
}

const struct odo_detector_ops odo_det_swerve = {
    .name = "swerve",
    .on_sample = swerve_sample,
};
