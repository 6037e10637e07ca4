/* odo-collector — per-trip road features from a matched track
 * (definitions: docs/features.md "Road features"). */
#include <math.h>
#include <string.h>

#include "odo/geo.h"
#include "roads_private.h"

#define MPS_PER_MPH 0.44704
#define KPH_TO_MPS (1 / 3.6)
#define SUSTAIN_MS 2000 /* "sustained" excess: the minimum over 3 s of 1 Hz fixes */
#define MERGE_MS 3000   /* dips below the threshold this short do not end an episode */

void roads__point_limit(const struct roads__graph *g, const struct roads__out *o, double *kph, int *kind)
{
	*kph = NAN;
	*kind = ODO_LIMIT_UNKNOWN;
	if (o->edge < 0 || o->status != ROADS_MATCHED)
		return;
	const struct roads__edge *e = &g->e[o->edge];
	int dir = o->dir ? o->dir : e->oneway;
	if (dir > 0) {
		*kph = e->kph_fwd, *kind = e->kind_fwd;
	} else if (dir < 0) {
		*kph = e->kph_bwd, *kind = e->kind_bwd;
	} else if (e->kph_fwd >= e->kph_bwd || isnan(e->kph_bwd)) {
		/* direction unknown on a two-way road: the higher limit (no false speeding) */
		*kph = e->kph_fwd, *kind = e->kind_fwd;
	} else {
		*kph = e->kph_bwd, *kind = e->kind_bwd;
	}
}

/* Excess speed over the limit at point i (m/s), NaN when not measurable. */
static double excess(const struct roads__graph *g, const struct roads__obs *o, const struct roads__out *r,
		     double *lim_mps)
{
	double kph;
	int kind;
	roads__point_limit(g, r, &kph, &kind);
	*lim_mps = kph * KPH_TO_MPS;
	if (isnan(kph) || isnan(o->speed_mps))
		return NAN;
	return o->speed_mps - *lim_mps;
}

static double threshold(double lim_mps, double mph, double pct)
{
	double a = mph * MPS_PER_MPH, b = pct / 100.0 * lim_mps;
	return a > b ? a : b;
}

void roads__features(const struct roads__graph *g, const struct roads__obs *obs, size_t n,
		     const struct roads__out *out, const struct odo_roads_cfg *cfg, double *seg_m,
		     struct roads__trip *t, struct roads__episode *ep, size_t max_ep)
{
	memset(t, 0, sizeof *t);
	t->n_points = n;
	for (size_t i = 0; i < n; i++) {
		seg_m[i] = i ? odo_geo_distance_m(obs[i - 1].lat, obs[i - 1].lon, obs[i].lat, obs[i].lon) : 0;
		if (out[i].status == ROADS_MATCHED)
			t->n_matched++;
		if (i == 0)
			continue;
		t->dist_m += seg_m[i];
		if (out[i].seg_status != ROADS_MATCHED) {
			t->unmatched_m += seg_m[i];
			continue;
		}
		t->matched_m += seg_m[i];
		const struct roads__edge *e = &g->e[out[i].edge];
		if (e->highway)
			t->highway_m += seg_m[i];
		if (e->urban)
			t->urban_m += seg_m[i];
		double kph;
		int kind;
		roads__point_limit(g, &out[i], &kph, &kind);
		if (!isnan(kph) || kind == ODO_LIMIT_NONE)
			t->limit_m += seg_m[i];
	}
	/* the trip's maximum sustained excess, then the episodes */
	size_t i = 0;
	double lim;
	for (size_t j = 0; j < n; j++) {
		double x = excess(g, &obs[j], &out[j], &lim);
		if (isnan(x))
			continue;
		t->have_limit = 1;
		/* sustained: minimum over the next 2 s of measurable fixes */
		double m = x;
		size_t k = j;
		int covered = 0;
		while (k + 1 < n && obs[k + 1].t_ms - obs[j].t_ms <= SUSTAIN_MS) {
			k++;
			double y = excess(g, &obs[k], &out[k], &lim);
			if (isnan(y)) {
				covered = -1;
				break;
			}
			if (y < m)
				m = y;
			covered = 1;
		}
		if (covered == 1 && m > t->max_over_mps)
			t->max_over_mps = m;
	}
	while (i < n) {
		double x = excess(g, &obs[i], &out[i], &lim);
		if (isnan(x) || !(x > threshold(lim, cfg->speeding_mph, cfg->speeding_pct))) {
			i++;
			continue;
		}
		/* an episode candidate starts at i; extend while over, tolerating short dips */
		size_t i0 = i, i1 = i, j = i + 1;
		double lim0 = lim;
		while (j < n) {
			double l2;
			double y = excess(g, &obs[j], &out[j], &l2);
			if (isnan(y) || out[j].seg_status != ROADS_MATCHED)
				break;
			if (y > threshold(l2, cfg->speeding_mph, cfg->speeding_pct))
				i1 = j;
			else if (obs[j].t_ms - obs[i1].t_ms > MERGE_MS)
				break;
			j++;
		}
		double dur = (double)(obs[i1].t_ms - obs[i0].t_ms) / 1000.0;
		i = i1 + 1;
		if (dur < cfg->speeding_min_s)
			continue;
		struct roads__episode e = { .t0_ms = obs[i0].t_ms, .t1_ms = obs[i1].t_ms, .limit_kph = lim0 * 3.6,
					    .i0 = i0, .i1 = i1 };
		double sum = 0, peak = 0;
		double peak_lim = lim0;
		for (size_t k = i0; k <= i1; k++) {
			double l2, y = excess(g, &obs[k], &out[k], &l2);
			if (k > i0)
				e.dist_m += seg_m[k];
			sum += isnan(y) ? 0 : y;
			/* sustained excess from k */
			double m = y;
			size_t q = k;
			int ok = 0;
			while (q + 1 <= i1 && obs[q + 1].t_ms - obs[k].t_ms <= SUSTAIN_MS) {
				q++;
				double z = excess(g, &obs[q], &out[q], &l2);
				if (isnan(z)) {
					ok = 0;
					break;
				}
				if (z < m)
					m = z;
				ok = 1;
			}
			if (ok && m > peak) {
				peak = m;
				peak_lim = l2;
			}
		}
		e.peak_over_mps = peak;
		e.mean_over_mps = sum / (double)(i1 - i0 + 1);
		e.band = peak > threshold(peak_lim, cfg->band3_mph, cfg->band3_pct) ? 3
			 : peak > threshold(peak_lim, cfg->band2_mph, cfg->band2_pct) ? 2 : 1;
		if (t->n_episodes < max_ep)
			ep[t->n_episodes] = e;
		t->n_episodes++;
		t->band[e.band]++;
		t->speeding_s += dur;
		t->speeding_m += e.dist_m;
	}
}
