/* odo-collector — what the files of collector/roads share (private). */
#ifndef ODO_COLLECTOR_ROADS_PRIVATE_H
#define ODO_COLLECTOR_ROADS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "roads.h"

/* ---- the road graph of one trip's corridor (graph.c) ---- */

struct roads__edge {
	int64_t id, way_id;
	int32_t u, v;        /* node indexes: OSM source and target node */
	double len_m;
	int oneway;          /* 1 only u->v, -1 only v->u, 0 both */
	/* the way's attributes, for the results */
	int highway;         /* 1 motorway/trunk (and links) */
	int urban;           /* 1 urban, 0 rural */
	double kph_fwd, kph_bwd; /* NaN = no limit known / none */
	int kind_fwd, kind_bwd;  /* enum odo_limit_kind */
	char cls[24];        /* OSM highway value */
	int64_t raw_u, raw_v; /* OSM node ids (before roads__graph_build) */
};

struct roads__graph {
	size_t n_nodes, n_edges;
	struct roads__edge *e;   /* sorted by id */
	size_t *off;             /* n_nodes + 1: arcs of node x are arc[off[x] .. off[x+1]) */
	int32_t *arc;            /* edge * 2 + 0: leave through u->v; + 1: through v->u */
};

/* Build the node index (u, v) and adjacency from the edges' raw OSM node ids. Takes ownership of `e` (n edges, malloc'd). */
int roads__graph_build(struct roads__graph *g, struct roads__edge *e, size_t n) ODO_NODISCARD;
void roads__graph_free(struct roads__graph *g);
/* Index of the edge with this id, or -1. */
int32_t roads__graph_find(const struct roads__graph *g, int64_t id);

/* ---- the HMM (match.c) ---- */

struct roads__cand {
	int32_t edge;        /* index into the graph */
	double dist_m;       /* fix to edge */
	double frac;         /* position along the edge, 0 at u, 1 at v */
};

struct roads__obs {
	int64_t t_ms;
	double lat, lon;
	double speed_mps;    /* NaN: not reported */
	double eph_m;        /* NaN: not reported */
	size_t c0, nc;       /* its candidates: cand[c0 .. c0 + nc) */
};

enum roads__status {
	ROADS_MATCHED = 0,
	ROADS_OFF_MAP = 1,   /* point: no road within the candidate radius */
	ROADS_ISOLATED = 2,  /* point: candidates, but no route to a neighbour */
	ROADS_GAP = 3,       /* segment: more than max_gap_s without a fix */
	ROADS_NO_ROUTE = 4,  /* segment: no drivable route between the matches */
	ROADS_NO_DATA = 5,   /* no road data around the trip at all */
};

struct roads__out {
	int32_t edge;        /* -1 unmatched */
	double frac;
	int dir;             /* +1 along u->v, -1 against, 0 unknown */
	int status;          /* of the point */
	int seg_status;      /* of the segment from the previous point to this one */
};

/* Candidate radius for a fix (m): max(radius_min, 4 sigma), at most radius_max. */
double roads__radius_m(const struct odo_roads_cfg *cfg, double eph_m);

/* Viterbi over the trip. out[n]. ODO_ERR_NOMEM only. */
int roads__match(const struct roads__graph *g, const struct roads__obs *obs, size_t n,
		 const struct roads__cand *cand, const struct odo_roads_cfg *cfg, struct roads__out *out) ODO_NODISCARD;

/* ---- per-trip features (features.c) ---- */

struct roads__episode {
	int64_t t0_ms, t1_ms;
	double dist_m;
	double limit_kph;     /* the limit at the start */
	double peak_over_mps; /* highest excess sustained for 3 s */
	double mean_over_mps;
	int band;             /* 1 .. 3 */
	size_t i0, i1;        /* point indexes */
};

struct roads__trip {
	double dist_m, matched_m, unmatched_m, highway_m, urban_m, limit_m;
	double speeding_s, speeding_m;
	double max_over_mps;  /* max over matched seconds of the 3-s sustained excess; >= 0 */
	int have_limit;       /* some matched second had a limit and a speed */
	size_t n_points, n_matched;
	size_t n_episodes, band[4];
};

/* Per-point limit (km/h, NaN none) and kind in the direction travelled. */
void roads__point_limit(const struct roads__graph *g, const struct roads__out *o, double *kph, int *kind);

/* seg_m[i]: distance from point i-1 to i (0 for i = 0). Fills *t and up to
 * max_ep episodes (the count beyond is still counted in t->n_episodes). */
void roads__features(const struct roads__graph *g, const struct roads__obs *obs, size_t n,
		     const struct roads__out *out, const struct odo_roads_cfg *cfg, double *seg_m,
		     struct roads__trip *t, struct roads__episode *ep, size_t max_ep);

#endif
