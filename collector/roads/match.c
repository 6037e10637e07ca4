/*
 * odo-collector — map matching with a hidden Markov model after P. Newson and
 * J. Krumm, "Hidden Markov Map Matching Through Noise and Sparseness", ACM
 * SIGSPATIAL GIS 2009:
 *  - states: candidate positions on road edges near each fix (PostGIS
 *    nearest-neighbour query within a radius that follows the fix's eph);
 *  - emission: the fix's distance to the candidate, zero-mean Gaussian with
 *    sigma from the fix's eph (floor: N&K's measured 4.07 m);
 *  - transition: exponential in |route distance - great-circle distance|
 *    between consecutive fixes (N&K section 4.2), route distance by our own
 *    Dijkstra search over the loaded graph, bounded by what a vehicle can
 *    drive in the interval;
 *  - Viterbi per chain. A chain breaks at a fix without candidates
 *    (off the map), at a gap in the fixes longer than max_gap_s (tunnel,
 *    lost signal), and where no route links any pair of candidates (N&K's
 *    "break"); the stretch in between is marked unmatched, never guessed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "odo/geo.h"
#include "roads_private.h"

/* gpsd's eph read as the radius of a circular 2-D normal's 95 % region:
 * 2.45 sigma (sqrt(-2 ln 0.05)). */
#define EPH_PER_SIGMA 2.4477
#define DIR_MIN_M 0.5 /* a smaller move along an edge tells no direction */
#define ONEWAY_BACK_M 15.0 /* backward jitter tolerated on a one-way edge (~3.5 sigma of N&K's 4.07 m) */
#define SLOW_MPS 3.0       /* ... while the GPS speed (or the displacement) is below this */

static double sigma_m(const struct odo_roads_cfg *cfg, double eph)
{
	double s = eph > 0 ? eph / EPH_PER_SIGMA : 0;
	return s < cfg->sigma_min_m ? cfg->sigma_min_m : s;
}

double roads__radius_m(const struct odo_roads_cfg *cfg, double eph_m)
{
	double r = cfg->radius_eph_k * sigma_m(cfg, eph_m);
	if (r < cfg->radius_min_m)
		r = cfg->radius_min_m;
	return r > cfg->radius_max_m ? cfg->radius_max_m : r;
}

/* ---- bounded Dijkstra from one candidate ---- */

struct heap_item {
	double d;
	int32_t node;
};

struct search {
	double *dist;          /* per node; INFINITY = not reached */
	int8_t *origin;        /* per node: 1 reached leaving the start edge u->v, -1 via v->u */
	int32_t *touched;
	size_t ntouched;
	struct heap_item *h;
	size_t nh, cap;
};

static int heap_push(struct search *s, double d, int32_t node)
{
	if (s->nh == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 256;
		struct heap_item *p = realloc(s->h, nc * sizeof *p);
		if (!p)
			return ODO_ERR_NOMEM;
		s->h = p, s->cap = nc;
	}
	size_t i = s->nh++;
	while (i > 0 && s->h[(i - 1) / 2].d > d) {
		s->h[i] = s->h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->h[i] = (struct heap_item){ d, node };
	return ODO_OK;
}

static struct heap_item heap_pop(struct search *s)
{
	struct heap_item top = s->h[0], last = s->h[--s->nh];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nh)
			break;
		if (c + 1 < s->nh && s->h[c + 1].d < s->h[c].d)
			c++;
		if (s->h[c].d >= last.d)
			break;
		s->h[i] = s->h[c];
		i = c;
	}
	if (s->nh)
		s->h[i] = last;
	return top;
}

static int relax(struct search *s, int32_t node, double d, int8_t origin)
{
	if (!(d < s->dist[node]))
		return ODO_OK;
	if (isinf(s->dist[node]))
		s->touched[s->ntouched++] = node;
	s->dist[node] = d;
	s->origin[node] = origin;
	return heap_push(s, d, node);
}

static void search_reset(struct search *s)
{
	for (size_t i = 0; i < s->ntouched; i++)
		s->dist[s->touched[i]] = INFINITY;
	s->ntouched = 0;
	s->nh = 0;
}

/* Shortest distances from candidate a to every node within `bound`. */
static int search_from(const struct roads__graph *g, struct search *s, const struct roads__cand *a, double bound)
{
	search_reset(s);
	const struct roads__edge *e = &g->e[a->edge];
	int rc = ODO_OK;
	if (e->oneway != -1)
		rc = relax(s, e->v, (1 - a->frac) * e->len_m, 1);
	if (!rc && e->oneway != 1)
		rc = relax(s, e->u, a->frac * e->len_m, -1);
	while (!rc && s->nh) {
		struct heap_item it = heap_pop(s);
		if (it.d > s->dist[it.node])
			continue; /* stale entry */
		if (it.d > bound)
			break;
		for (size_t k = g->off[it.node]; k < g->off[it.node + 1] && !rc; k++) {
			int32_t arc = g->arc[k];
			const struct roads__edge *x = &g->e[arc / 2];
			int32_t to = (arc & 1) ? x->u : x->v;
			rc = relax(s, to, it.d + x->len_m, s->origin[it.node]);
		}
	}
	return rc;
}

/* Route distance from a to b after search_from(a); INFINITY when none within
 * the bound. *bdir: direction on b when arriving; *adir: leaving a. */
static double route_to(const struct roads__graph *g, const struct search *s, const struct roads__cand *a,
		       const struct roads__cand *b, int slow, int *adir, int *bdir)
{
	const struct roads__edge *eb = &g->e[b->edge];
	if (a->edge == b->edge) {
		double d = (b->frac - a->frac) * eb->len_m;
		/* on a one-way edge only GPS noise moves a vehicle backwards, and
		 * only while it is (nearly) standing: otherwise it must drive round
		 * (the node search below) */
		if (!eb->oneway || d * eb->oneway >= 0 || (slow && d * eb->oneway >= -ONEWAY_BACK_M)) {
			int dir = fabs(d) < DIR_MIN_M ? 0 : (d > 0 ? 1 : -1);
			if (eb->oneway)
				dir = eb->oneway;
			*adir = *bdir = dir;
			return fabs(d);
		}
	}
	double best = INFINITY;
	if (eb->oneway != -1 && !isinf(s->dist[eb->u])) { /* enter at u, drive towards v */
		best = s->dist[eb->u] + b->frac * eb->len_m;
		*bdir = 1;
		*adir = s->origin[eb->u];
	}
	if (eb->oneway != 1 && !isinf(s->dist[eb->v])) {
		double d = s->dist[eb->v] + (1 - b->frac) * eb->len_m;
		if (d < best) {
			best = d;
			*bdir = -1;
			*adir = s->origin[eb->v];
		}
	}
	return best;
}

/* ---- Viterbi ---- */

struct chain {
	double *score;     /* per candidate */
	int32_t *back;     /* per candidate: index of the best predecessor candidate, -1 at a chain start */
	int8_t *adir, *bdir;
};

static void finish_chain(const struct roads__obs *obs, size_t first, size_t last, const struct roads__cand *cand,
			 const struct chain *ch, struct roads__out *out)
{
	const struct roads__obs *o = &obs[last];
	size_t best = o->c0;
	for (size_t k = o->c0; k < o->c0 + o->nc; k++)
		if (ch->score[k] > ch->score[best])
			best = k;
	if (first == last) { /* one fix alone: it has candidates but we cannot confirm any */
		out[first].status = ROADS_ISOLATED;
		out[first].edge = -1;
		return;
	}
	int next_adir = 0;
	int32_t k = (int32_t)best;
	for (size_t j = last + 1; j-- > first;) {
		out[j].edge = cand[k].edge;
		out[j].frac = cand[k].frac;
		out[j].status = ROADS_MATCHED;
		int dir = j > first ? ch->bdir[k] : 0;
		if (dir == 0)
			dir = next_adir; /* how the vehicle left this edge towards the next fix */
		out[j].dir = dir;
		next_adir = ch->adir[k];
		if (j > first)
			k = ch->back[k];
	}
	/* moves too small to tell: take the direction of a neighbour on the same edge */
	for (size_t j = first + 1; j <= last; j++)
		if (out[j].dir == 0 && out[j].edge == out[j - 1].edge)
			out[j].dir = out[j - 1].dir;
	for (size_t j = last; j-- > first;)
		if (out[j].dir == 0 && out[j].edge == out[j + 1].edge)
			out[j].dir = out[j + 1].dir;
}

int roads__match(const struct roads__graph *g, const struct roads__obs *obs, size_t n,
		 const struct roads__cand *cand, const struct odo_roads_cfg *cfg, struct roads__out *out)
{
	size_t ncand = 0;
	for (size_t i = 0; i < n; i++)
		if (obs[i].c0 + obs[i].nc > ncand)
			ncand = obs[i].c0 + obs[i].nc;
	struct chain ch = { 0 };
	struct search s = { 0 };
	int rc = ODO_ERR_NOMEM;
	ch.score = malloc((ncand + 1) * sizeof *ch.score);
	ch.back = malloc((ncand + 1) * sizeof *ch.back);
	ch.adir = calloc(ncand + 1, 1);
	ch.bdir = calloc(ncand + 1, 1);
	s.dist = malloc((g->n_nodes + 1) * sizeof *s.dist);
	s.origin = calloc(g->n_nodes + 1, 1);
	s.touched = malloc((g->n_nodes + 1) * sizeof *s.touched);
	if (!ch.score || !ch.back || !ch.adir || !ch.bdir || !s.dist || !s.origin || !s.touched)
		goto out;
	for (size_t x = 0; x < g->n_nodes; x++)
		s.dist[x] = INFINITY;
	rc = ODO_OK;
	size_t first = 0;
	int in_chain = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct roads__obs *o = &obs[i];
		out[i] = (struct roads__out){ .edge = -1, .dir = 0, .status = ROADS_OFF_MAP, .seg_status = ROADS_MATCHED };
		double sig = sigma_m(cfg, o->eph_m);
		double dt = i ? (double)(o->t_ms - obs[i - 1].t_ms) / 1000.0 : 0;
		if (i > 0) {
			if (dt > cfg->max_gap_s)
				out[i].seg_status = ROADS_GAP;
			else if (!in_chain)
				out[i].seg_status = obs[i - 1].nc ? ROADS_NO_ROUTE : ROADS_OFF_MAP;
		}
		if (o->nc == 0) {
			if (in_chain)
				finish_chain(obs, first, i - 1, cand, &ch, out);
			in_chain = 0;
			if (i > 0 && out[i].seg_status == ROADS_MATCHED)
				out[i].seg_status = ROADS_OFF_MAP;
			continue;
		}
		int linked = 0;
		if (in_chain && dt <= cfg->max_gap_s) {
			const struct roads__obs *p = &obs[i - 1];
			double gc = odo_geo_distance_m(p->lat, p->lon, o->lat, o->lon);
			double bound = 50.0 + (dt > 0 ? dt : 1) * cfg->max_speed_mps;
			int slow = !isnan(o->speed_mps) ? o->speed_mps < SLOW_MPS : gc < SLOW_MPS * (dt > 0 ? dt : 1);
			for (size_t k = o->c0; k < o->c0 + o->nc; k++) {
				ch.score[k] = -INFINITY;
				ch.back[k] = -1;
			}
			for (size_t a = p->c0; a < p->c0 + p->nc && !rc; a++) {
				if (isinf(ch.score[a]))
					continue;
				if ((rc = search_from(g, &s, &cand[a], bound)))
					break;
				for (size_t k = o->c0; k < o->c0 + o->nc; k++) {
					int adir = 0, bdir = 0;
					double d = route_to(g, &s, &cand[a], &cand[k], slow, &adir, &bdir);
					if (isinf(d) || d > bound)
						continue;
					double v = ch.score[a] - fabs(d - gc) / cfg->beta_m;
					if (v > ch.score[k]) {
						ch.score[k] = v;
						ch.back[k] = (int32_t)a;
						ch.adir[k] = (int8_t)adir;
						ch.bdir[k] = (int8_t)bdir;
					}
				}
			}
			for (size_t k = o->c0; k < o->c0 + o->nc; k++)
				if (!isinf(ch.score[k])) {
					double z = cand[k].dist_m / sig;
					ch.score[k] += -0.5 * z * z - log(sig);
					linked = 1;
				}
		}
		if (!linked) {
			if (in_chain) {
				finish_chain(obs, first, i - 1, cand, &ch, out);
				if (out[i].seg_status == ROADS_MATCHED)
					out[i].seg_status = ROADS_NO_ROUTE;
			}
			first = i;
			in_chain = 1;
			for (size_t k = o->c0; k < o->c0 + o->nc; k++) {
				double z = cand[k].dist_m / sig;
				ch.score[k] = -0.5 * z * z - log(sig);
				ch.back[k] = -1;
				ch.adir[k] = ch.bdir[k] = 0;
			}
		}
	}
	if (!rc && in_chain)
		finish_chain(obs, first, n - 1, cand, &ch, out);
	/* a segment is matched only when both of its ends are */
	for (size_t i = 1; i < n && !rc; i++)
		if (out[i].seg_status == ROADS_MATCHED && (out[i].status != ROADS_MATCHED || out[i - 1].status != ROADS_MATCHED))
			out[i].seg_status = out[i].status == ROADS_OFF_MAP || out[i - 1].status == ROADS_OFF_MAP
						    ? ROADS_OFF_MAP : ROADS_NO_ROUTE;
out:
	free(ch.score), free(ch.back), free(ch.adir), free(ch.bdir);
	free(s.dist), free(s.origin), free(s.touched), free(s.h);
	return rc;
}
