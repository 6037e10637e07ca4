/* Unit tests of the road layer's pure parts: maxspeed parsing, the HMM
 * matcher on a small synthetic network, and the speeding-episode rule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "roads/roads_private.h"

static void test_maxspeed(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int kind;
		double kph;
		const char *cc, *zone;
	} cases[] = {
		{ "50", ODO_LIMIT_TAGGED, 50, "", "" },
		{ " 60 km/h", ODO_LIMIT_TAGGED, 60, "", "" },
		{ "80kmh", ODO_LIMIT_TAGGED, 80, "", "" },
		{ "30 mph", ODO_LIMIT_TAGGED, 48.28032, "", "" },
		{ "20mph", ODO_LIMIT_TAGGED, 32.18688, "", "" },
		{ "10 knots", ODO_LIMIT_TAGGED, 18.52, "", "" },
		{ "7.5", ODO_LIMIT_TAGGED, 7.5, "", "" },
		{ "none", ODO_LIMIT_NONE, 0, "", "" },
		{ "walk", ODO_LIMIT_TAGGED, ODO_MAXSPEED_WALK_KPH, "", "" },
		{ "FR:urban", ODO_LIMIT_IMPLICIT, 0, "FR", "urban" },
		{ "DE:rural", ODO_LIMIT_IMPLICIT, 0, "DE", "rural" },
		{ "GB:nsl_single", ODO_LIMIT_IMPLICIT, 0, "GB", "nsl_single" },
		{ "RU:living_street", ODO_LIMIT_IMPLICIT, 0, "RU", "living_street" },
		{ "DE:zone30", ODO_LIMIT_TAGGED, 30, "DE", "zone" },
		{ "DE:zone:30", ODO_LIMIT_TAGGED, 30, "DE", "zone" },
		{ "50;30", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "signals", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "variable", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "0", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "-30", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "50 kmph!", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "fr:urban", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "FR:Urban", ODO_LIMIT_UNKNOWN, 0, "", "" },
		{ "", ODO_LIMIT_UNKNOWN, 0, "", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct odo_maxspeed m;
		assert_int_equal(odo_maxspeed_parse(cases[i].in, &m), ODO_OK);
		if (m.kind != cases[i].kind)
			fail_msg("'%s': kind %d, want %d", cases[i].in, m.kind, cases[i].kind);
		if (fabs(m.kph - cases[i].kph) > 1e-6)
			fail_msg("'%s': %g km/h, want %g", cases[i].in, m.kph, cases[i].kph);
		assert_string_equal(m.country, cases[i].cc);
		assert_string_equal(m.zone, cases[i].zone);
	}
	struct odo_maxspeed m;
	assert_int_equal(odo_maxspeed_parse(NULL, &m), ODO_ERR_INVAL);
}

/*
 * A flat test network (metres; x east, y north): road A along y = 0 from
 * x = 0 to 1000 (two edges, two-way, 50 km/h), road B parallel along
 * y = 25 (one-way westbound, 30 km/h), joined by connectors at x = 0 and
 * x = 1000; road C far north along y = 400 (motorway, 110 km/h).
 */
enum { NODE_A0 = 1, NODE_A1, NODE_A2, NODE_B0, NODE_B1, NODE_B2 };

struct seg {
	int64_t id, way;
	int64_t u, v;
	double x0, y0, x1, y1;
	int oneway;
	double kph;
	const char *cls;
};

static const struct seg NET[] = {
	{ 10, 100, NODE_A0, NODE_A1, 0, 0, 500, 0, 0, 50, "primary" },
	{ 11, 100, NODE_A1, NODE_A2, 500, 0, 1000, 0, 0, 50, "primary" },
	{ 20, 200, NODE_B0, NODE_B1, 0, 25, 500, 25, -1, 30, "residential" },
	{ 21, 200, NODE_B1, NODE_B2, 500, 25, 1000, 25, -1, 30, "residential" },
	{ 30, 300, NODE_A0, NODE_B0, 0, 0, 0, 25, 0, 30, "residential" },
	{ 31, 301, NODE_A2, NODE_B2, 1000, 0, 1000, 25, 0, 30, "residential" },
	{ 40, 400, 50, 51, 0, 400, 1000, 400, 0, 110, "motorway" },
};

static struct roads__graph make_graph(void)
{
	size_t n = sizeof NET / sizeof NET[0];
	struct roads__edge *e = calloc(n, sizeof *e);
	assert_non_null(e);
	for (size_t i = 0; i < n; i++) {
		e[i].id = NET[i].id;
		e[i].way_id = NET[i].way;
		e[i].raw_u = NET[i].u, e[i].raw_v = NET[i].v;
		e[i].len_m = hypot(NET[i].x1 - NET[i].x0, NET[i].y1 - NET[i].y0);
		e[i].oneway = NET[i].oneway;
		e[i].kph_fwd = e[i].kph_bwd = NET[i].kph;
		e[i].kind_fwd = e[i].kind_bwd = ODO_LIMIT_TAGGED;
		e[i].highway = !strcmp(NET[i].cls, "motorway");
		e[i].urban = !e[i].highway;
		strcpy(e[i].cls, NET[i].cls);
	}
	struct roads__graph g;
	assert_int_equal(roads__graph_build(&g, e, n), ODO_OK);
	return g;
}

/* Metres to degrees around (43.7, 7.4), for the great-circle distances. */
#define LAT0 43.7
#define LON0 7.4
static double lat_of(double y) { return LAT0 + y / 111194.9; }
static double lon_of(double x) { return LON0 + x / (111194.9 * cos(LAT0 * M_PI / 180)); }

/* Candidates as the PostGIS query would give them: edges within `r`. */
static size_t candidates(const struct roads__graph *g, double x, double y, double r, struct roads__cand *out,
			 size_t at)
{
	size_t k = at;
	for (size_t i = 0; i < sizeof NET / sizeof NET[0]; i++) {
		const struct seg *s = &NET[i];
		double dx = s->x1 - s->x0, dy = s->y1 - s->y0, L2 = dx * dx + dy * dy;
		double f = ((x - s->x0) * dx + (y - s->y0) * dy) / L2;
		f = f < 0 ? 0 : f > 1 ? 1 : f;
		double d = hypot(s->x0 + f * dx - x, s->y0 + f * dy - y);
		if (d <= r)
			out[k++] = (struct roads__cand){ .edge = roads__graph_find(g, s->id), .dist_m = d, .frac = f };
	}
	return k - at;
}

struct drive {
	size_t n;
	struct roads__obs obs[400];
	struct roads__cand cand[400 * 8];
	struct roads__out out[400];
	double seg[400];
};

/* fixes at (x(t), y(t)) every second; NAN x = no fix at that second */
static void build(struct drive *d, const struct roads__graph *g, const struct odo_roads_cfg *cfg, size_t n,
		  const double *x, const double *y, const double *v)
{
	size_t c = 0;
	d->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			continue;
		struct roads__obs *o = &d->obs[d->n++];
		*o = (struct roads__obs){ .t_ms = 1772874000000LL + (int64_t)i * 1000, .lat = lat_of(y[i]),
					  .lon = lon_of(x[i]), .speed_mps = v[i], .eph_m = 6 };
		o->c0 = c;
		o->nc = candidates(g, x[i], y[i], roads__radius_m(cfg, o->eph_m), d->cand, c);
		c += o->nc;
	}
}

static void test_match_parallel_oneway_gap(void **state)
{
	(void)state;
	struct odo_roads_cfg cfg;
	odo_roads_cfg_defaults(&cfg);
	struct roads__graph g = make_graph();
	static struct drive d;
	double x[100], y[100], v[100];
	/* eastbound on A at 15 m/s, fixes pulled 14-18 m north (closer to the
	 * one-way westbound B, 7-11 m away): the transitions keep the car on A */
	for (int i = 0; i < 60; i++) {
		x[i] = 20 + 15.0 * i;
		y[i] = 14.0 + 2.0 * (i % 3);
		v[i] = 15;
	}
	for (int i = 30; i < 42; i++) /* 12 s without a fix: a tunnel */
		x[i] = NAN;
	build(&d, &g, &cfg, 60, x, y, v);
	assert_int_equal(roads__match(&g, d.obs, d.n, d.cand, &cfg, d.out), ODO_OK);
	int gaps = 0;
	for (size_t i = 0; i < d.n; i++) {
		assert_int_equal(d.out[i].status, ROADS_MATCHED);
		assert_true(d.out[i].edge >= 0);
		if (g.e[d.out[i].edge].way_id != 100)
			fail_msg("fix %zu matched to way %lld, want 100", i, (long long)g.e[d.out[i].edge].way_id);
		assert_int_equal(d.out[i].dir, 1);
		gaps += d.out[i].seg_status == ROADS_GAP;
	}
	assert_int_equal(gaps, 1);
	/* the same fixes westbound: now B (one-way west) is legal and nearer */
	for (int i = 0; i < 60; i++) {
		x[i] = 950 - 15.0 * i;
		y[i] = 16 + 2.0 * (i % 3);
	}
	build(&d, &g, &cfg, 60, x, y, v);
	assert_int_equal(roads__match(&g, d.obs, d.n, d.cand, &cfg, d.out), ODO_OK);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(g.e[d.out[i].edge].way_id, 200);
	roads__graph_free(&g);
}

static void test_match_off_map_and_isolated(void **state)
{
	(void)state;
	struct odo_roads_cfg cfg;
	odo_roads_cfg_defaults(&cfg);
	struct roads__graph g = make_graph();
	static struct drive d;
	double x[40], y[40], v[40];
	for (int i = 0; i < 40; i++) {
		x[i] = 100 + 10.0 * i;
		y[i] = i < 10 ? 0 : i < 30 ? 200 : 3; /* 20 s far from any road */
		v[i] = 10;
	}
	build(&d, &g, &cfg, 40, x, y, v);
	assert_int_equal(roads__match(&g, d.obs, d.n, d.cand, &cfg, d.out), ODO_OK);
	for (int i = 0; i < 40; i++) {
		int want = i >= 10 && i < 30 ? ROADS_OFF_MAP : ROADS_MATCHED;
		assert_int_equal(d.out[i].status, want);
		if (want == ROADS_OFF_MAP)
			assert_int_equal(d.out[i].edge, -1);
	}
	assert_int_equal(d.out[10].seg_status, ROADS_OFF_MAP);
	assert_int_equal(d.out[30].seg_status, ROADS_OFF_MAP);
	/* one fix alone near a road, between stretches off the map: never guessed */
	for (int i = 0; i < 40; i++)
		y[i] = i == 20 ? 0 : 200;
	build(&d, &g, &cfg, 40, x, y, v);
	assert_int_equal(roads__match(&g, d.obs, d.n, d.cand, &cfg, d.out), ODO_OK);
	assert_int_equal(d.out[20].status, ROADS_ISOLATED);
	assert_int_equal(d.out[20].edge, -1);
	roads__graph_free(&g);
}

static void test_speeding_episodes(void **state)
{
	(void)state;
	struct odo_roads_cfg cfg;
	odo_roads_cfg_defaults(&cfg);
	struct roads__graph g = make_graph();
	static struct drive d;
	double x[300], y[300], v[300];
	/* 50 km/h road: threshold max(5 mph = 2.24 m/s, 10 % = 1.39 m/s) = 2.24 m/s
	 * over 13.89 m/s. 0..59 s at 13 m/s; 60..99 s (40 s) at 17 m/s (over by
	 * 3.1 m/s = 6.9 mph: band 1); 100..149 s at 13; 150..169 s (20 s) at 18:
	 * too short; 170..299 at 13 m/s with 210..249 s (40 s) at 21.5 m/s
	 * (over by 7.6 m/s = 17 mph > max(10 mph, 25 %): band 2). */
	double s = 0;
	for (int i = 0; i < 300; i++) {
		v[i] = i >= 60 && i < 100 ? 17 : i >= 150 && i < 170 ? 18 : i >= 210 && i < 250 ? 21.5 : 13;
		x[i] = fmod(s, 1900) < 950 ? 20 + fmod(s, 950) : 970 - fmod(s, 950);
		y[i] = 0;
		s += v[i];
	}
	build(&d, &g, &cfg, 300, x, y, v);
	assert_int_equal(roads__match(&g, d.obs, d.n, d.cand, &cfg, d.out), ODO_OK);
	struct roads__trip t;
	struct roads__episode ep[8];
	roads__features(&g, d.obs, d.n, d.out, &cfg, d.seg, &t, ep, 8);
	assert_int_equal(t.n_episodes, 2);
	assert_int_equal(ep[0].t0_ms - d.obs[0].t_ms, 60000);
	assert_int_equal(ep[0].t1_ms - d.obs[0].t_ms, 99000);
	assert_int_equal(ep[0].band, 1);
	assert_int_equal(ep[1].t0_ms - d.obs[0].t_ms, 210000);
	assert_int_equal(ep[1].band, 2);
	assert_true(fabs(ep[1].peak_over_mps - (21.5 - 50 / 3.6)) < 1e-6);
	assert_true(fabs(t.max_over_mps - (21.5 - 50 / 3.6)) < 1e-6);
	assert_true(t.have_limit);
	assert_true(fabs(t.urban_m - t.matched_m) < 1e-6);
	assert_true(t.highway_m == 0);
	assert_true(t.unmatched_m == 0);
	roads__graph_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxspeed),
		cmocka_unit_test(test_match_parallel_oneway_gap),
		cmocka_unit_test(test_match_off_map_and_isolated),
		cmocka_unit_test(test_speeding_episodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
