/* odo-agent detectors — the shared excursion logic and the output (run.h). */
#include "detect/run.h"

struct odo_det_event detect__run_event(const struct odo_det_run *r, uint8_t kind, uint8_t src, double sign)
{
	return (struct odo_det_event){.kind = kind,
	                              .source = src,
	                              .start_ns = r->start_ns,
	                              .end_ns = r->last_ns,
	                              .peak_g = sign * r->peak,
	                              .mean_g = sign * r->sum / (double)r->n};
}

int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x)
{
	if (!r->active) {
		if (t >= r->refractory_until_ns && x >= p->thr_g) {
			r->active = 1;
			r->start_ns = t;
			r->last_ns = t;
			r->peak = x;
			r->sum = x;
			r->n = 1;
		}
		return 0;
	}
	if (x >= p->thr_g - p->hyst_g) {
		if (x > r->peak)
			r->peak = x;
		r->sum += x;
		r->n++;
		r->last_ns = t;
		return 0;
	}
	r->active = 0;
	if ((double)(t - r->start_ns) >= p->min_dur_s * 1e9) {
		r->refractory_until_ns = t + (int64_t)(p->refractory_s * 1e9);
		r->last_ns = t;
		return 1;
	}
	return 0;
}

void detect__emit(struct odo_detect *d, const struct odo_det_event *ev)
{
	d->emit(d->emit_ctx, ev);
}
