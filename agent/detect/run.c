/* odo-agent detectors — the shared graded excursion and the output (run.h). */
#include "detect/run.h"

struct odo_det_event detect__run_event(const struct odo_det_run *r, uint8_t kind, uint8_t src, double sign)
{
	return (struct odo_det_event){.kind = kind,
	                              .source = src,
	                              .start_ns = r->start_ns,
	                              .end_ns = r->last_ns,
	                              .peak_g = sign * r->peak,
	                              .mean_g = sign * r->sum / (double)r->n,
	                              .grade = r->grade};
}

/* The run at grade k's level ends at t. */
static void level_end(struct odo_det_run *r, int k, int64_t t)
{
	if (r->in[k] && t - r->in_ns[k] > r->best_ns[k])
		r->best_ns[k] = t - r->in_ns[k];
	r->in[k] = 0;
}

/* The grades' runs follow x at t (inside the excursion). */
static void levels_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x)
{
	for (int k = 0; k < ODO_DET_GRADES; k++) {
		if (r->in[k]) {
			if (x < p->thr_g[k] - p->hyst_g)
				level_end(r, k, t);
		} else if (x >= p->thr_g[k]) {
			r->in[k] = 1;
			r->in_ns[k] = t;
		}
	}
}

int detect__run_grade_at(const struct odo_det_run *r, const struct odo_det_thr *p, int64_t t)
{
	int g = 0;
	if (!r->active)
		return 0;
	for (int k = 0; k < ODO_DET_GRADES; k++) {
		int64_t len = r->best_ns[k];
		if (r->in[k] && t - r->in_ns[k] > len)
			len = t - r->in_ns[k];
		if (len > 0 && (double)len >= p->min_dur_s[k] * 1e9)
			g = k + 1;
	}
	return g;
}

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x)
{
	if (!r->active) {
		if (t >= r->refractory_until_ns && x >= p->thr_g[0]) {
			r->active = 1;
			r->start_ns = t;
			r->last_ns = t;
			r->peak = x;
			r->sum = x;
			r->n = 1;
			r->grade = 0;
			for (int k = 0; k < ODO_DET_GRADES; k++)
				r->in[k] = 0, r->best_ns[k] = 0;
			levels_step(r, p, t, x);
		}
		return 0;
	}
	if (x >= p->thr_g[0] - p->hyst_g) {
		if (x > r->peak)
			r->peak = x;
		r->sum += x;
		r->n++;
		r->last_ns = t;
		levels_step(r, p, t, x);
		return 0;
	}
	/* the excursion ends at t (the first sample below): every run with it */
	int g = 0;
	for (int k = 0; k < ODO_DET_GRADES; k++) {
		level_end(r, k, t);
		if (r->best_ns[k] > 0 && (double)r->best_ns[k] >= p->min_dur_s[k] * 1e9)
			g = k + 1;
	}
	r->active = 0;
	r->grade = (uint8_t)g;
	if (!g)
		return 0;
	r->refractory_until_ns = t + (int64_t)(p->refractory_s * 1e9);
	r->last_ns = t;
	return 1;
}

void detect__emit(struct odo_detect *d, const struct odo_det_event *ev)
{
	d->emit(d->emit_ctx, ev);
}
