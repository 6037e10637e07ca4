/* odo-agent — harsh cornering (sustained lateral g) and swerving (a lateral
 * lobe followed by an opposite one within a short window). Which of them a
 * manoeuvre is, is the combining stage's decision (combine.c). */
#include <math.h>

#include "detect/run.h"
#include "odo/geo.h"

static int slow(const struct odo_detect *d, const struct odo_det_sample *s)
{
	return isfinite(s->speed_mps) && s->speed_mps < d->cfg.min_speed_mps;
}

static void corner_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	double g = s->lat / ODO_G;
	int sl = slow(d, s);
	struct odo_det_run *rr[2] = {&d->corner.right, &d->corner.left};
	for (int k = 0; k < 2; k++) {
		double x = k == 0 ? g : -g;
		if (sl && !rr[k]->active)
			x = 0;
		if (detect__run_step(rr[k], &d->cfg.corner, s->mono_ns, x)) {
			struct odo_det_event ev =
			    detect__run_event(rr[k], k == 0 ? ODO_EV_CORNER_RIGHT : ODO_EV_CORNER_LEFT,
			                      ODO_EVSRC_ACCEL, k == 0 ? 1 : -1);
			/* held: a swerve that includes this lobe replaces it */
			detect__combine_corner(d, &ev);
		}
	}
	for (int k = 0; k < 2; k++)
		detect__combine_corner_run(d, k, rr[k]->active, rr[k]->start_ns,
		                           detect__run_grade_at(rr[k], &d->cfg.corner, s->mono_ns));
	detect__combine_release_corners(d, s->mono_ns);
}

const struct odo_detector_ops odo_det_corner = {
    .name = "corner",
    .on_sample = corner_sample,
    .on_tick = detect__combine_release_corners,
};

static void swerve_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	struct odo_det_swerve_state *st = &d->swerve;
	double g = s->lat / ODO_G;
	struct odo_det_run *r = &st->lobe;
	/* lobes: one level (grade 1's), swerve_min_s; the swerve's grade comes
	 * from the lobes' peaks below */
	struct odo_det_thr lobe = d->cfg.swerve;
	lobe.refractory_s = 0;
	for (int k = 1; k < ODO_DET_GRADES; k++) {
		lobe.thr_g[k] = HUGE_VAL;
		lobe.min_dur_s[k] = 0;
	}
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
	if (st->n) {
		double i1 = fabs(st->sum) / (double)st->n * (double)(st->end_ns - st->start_ns);
		double i2 = r->sum / (double)r->n * (double)(r->last_ns - r->start_ns);
		balanced = fmin(i1, i2) >= d->cfg.swerve_balance * fmax(i1, i2);
	}
	if (st->sign == -r->sign && st->n && r->start_ns - st->end_ns <= window &&
	    r->start_ns >= st->refractory_until_ns && balanced &&
	    (double)(r->last_ns - st->start_ns) <= d->cfg.swerve_max_s * 1e9) {
		double p1 = st->peak, p2 = r->sign * r->peak;
		/* graded by the smaller lobe: both must reach the level */
		double lo = fmin(fabs(p1), fabs(p2));
		uint8_t grade = 1;
		for (int k = 1; k < ODO_DET_GRADES; k++)
			if (lo >= d->cfg.swerve.thr_g[k])
				grade = (uint8_t)(k + 1);
		struct odo_det_event ev = {.kind = ODO_EV_SWERVE,
		                           .grade = grade,
		                           .source = ODO_EVSRC_ACCEL,
		                           .start_ns = st->start_ns,
		                           .end_ns = r->last_ns,
		                           .peak_g = fabs(p1) >= fabs(p2) ? p1 : p2,
		                           /* mean of |lateral| over both lobes, signed as the first lobe */
		                           .mean_g = (st->sign * (fabs(st->sum) + r->sum)) / (double)(st->n + r->n)};
		/* the corners inside the reversal were part of it */
		detect__combine_swerve(d, &ev);
		st->refractory_until_ns = r->last_ns + (int64_t)(d->cfg.swerve.refractory_s * 1e9);
		st->n = 0;
		st->sign = 0;
		return;
	}
	st->sign = r->sign;
	st->start_ns = r->start_ns;
	st->end_ns = r->last_ns;
	st->peak = r->sign * r->peak;
	st->sum = r->sign * r->sum;
	st->n = r->n;
}

const struct odo_detector_ops odo_det_swerve = {
    .name = "swerve",
    .on_sample = swerve_sample,
};
