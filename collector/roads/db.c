/*
 * odo-collector — matching a stored trip: read its dense track (table
 * `tracks`, wire kind 9), its candidates (PostGIS nearest-neighbour query)
 * and the road graph of its corridor, run the HMM (match.c), compute the
 * features (features.c) and store everything in one transaction.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roads_private.h"
#include "aggregate/aggregate.h"
#include "pg/result.h"

#define WHY_MAX 256
#define MAX_EPISODES 4096
#define CORRIDOR_M 1500.0 /* graph loaded within (about) this distance of the track */
#define MPH_PER_MPS 2.2369362920544025

/* ---- a growable text buffer for array parameters ---- */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) ODO_PRINTF(2, 3);
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		size_t nc = (b->cap ? 2 * b->cap : 4096) + (size_t)k;
		char *q = realloc(b->p, nc);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q, b->cap = nc;
	}
}

/* "{a,b,...}" builders: begin, element, end */
static void arr_dbl(struct sbuf *b, size_t i, double v)
{
	if (isnan(v))
		sb_add(b, "%sNULL", i ? "," : "{");
	else
		sb_add(b, "%s%.9g", i ? "," : "{", v);
}

static void arr_i64(struct sbuf *b, size_t i, long long v, int null)
{
	if (null)
		sb_add(b, "%sNULL", i ? "," : "{");
	else
		sb_add(b, "%s%lld", i ? "," : "{", v);
}

static void arr_str(struct sbuf *b, size_t i, const char *s)
{
	if (!s) {
		sb_add(b, "%sNULL", i ? "," : "{");
		return;
	}
	sb_add(b, "%s\"", i ? "," : "{");
	for (; *s; s++)
		sb_add(b, (*s == '"' || *s == '\\') ? "\\%c" : "%c", *s);
	sb_add(b, "\"");
}

static void arr_end(struct sbuf *b, size_t n)
{
	sb_add(b, n ? "}" : "{}");
}

static double dbl_or_nan(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NAN : atof(PQgetvalue(r, row, col));
}

static int db_err(PGconn *c, PGresult *r, char *why, const char *what)
{
	return odo_pg_fail(c, r, why, WHY_MAX, what, 0);
}

static int cmd(PGconn *c, const char *sql, int n, const char *const *v, char *why, const char *what)
{
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return db_err(c, r, why, what);
	PQclear(r);
	return ODO_OK;
}

/* ---- one trip ---- */

struct trip_ctx {
	const struct odo_roads_cfg *cfg;
	char trip_id[256];
	char device[128];
	struct roads__obs *obs;
	size_t n;
	struct roads__cand *cand;
	size_t ncand;
	struct roads__graph g;
	struct roads__out *out;
	double *seg_m;
	struct roads__episode *ep;
	struct roads__trip f;
	long long import_id;
	int have_layer;
	char null_reason[160];
};

static void ctx_free(struct trip_ctx *t)
{
	free(t->obs), free(t->cand), free(t->out), free(t->seg_m), free(t->ep);
	roads__graph_free(&t->g);
}

static int layer_present(PGconn *c, long long *import_id, char *why)
{
	*import_id = 0;
	PGresult *r = PQexec(c, "SELECT to_regclass('roads.edges') IS NOT NULL AND to_regclass('roads.imports') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "road layer");
	int present = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!present)
		return ODO_OK;
	r = PQexec(c, "SELECT max(import_id) FROM roads.imports WHERE finished_at IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "roads.imports");
	if (!PQgetisnull(r, 0, 0))
		*import_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return ODO_OK;
}

static int load_points(PGconn *c, struct trip_ctx *t, char *why)
{
	const char *v[1] = { t->trip_id };
	PGresult *r = PQexecParams(c,
		"SELECT tr.device_id, u.t_ms, u.lat, u.lon, u.v, u.e FROM trips tr"
		" JOIN tracks k ON k.device_id = tr.device_id AND k.epoch = tr.epoch"
		"  AND k.device_trip_id = tr.device_trip_id"
		" CROSS JOIN LATERAL unnest(k.t_ms, k.lat, k.lon, k.speed_mps, k.eph_m) AS u(t_ms, lat, lon, v, e)"
		" WHERE tr.trip_id = $1 ORDER BY u.t_ms", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "reading the track");
	size_t n = (size_t)PQntuples(r);
	t->obs = calloc(n + 1, sizeof *t->obs);
	if (!t->obs) {
		PQclear(r);
		return ODO_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct roads__obs o = {
			.t_ms = atoll(PQgetvalue(r, (int)i, 1)),
			.lat = atof(PQgetvalue(r, (int)i, 2)),
			.lon = atof(PQgetvalue(r, (int)i, 3)),
			.speed_mps = dbl_or_nan(r, (int)i, 4),
			.eph_m = dbl_or_nan(r, (int)i, 5),
		};
		if (t->n && t->obs[t->n - 1].t_ms == o.t_ms)
			continue; /* the same instant twice: keep the first */
		t->obs[t->n++] = o;
	}
	if (n)
		snprintf(t->device, sizeof t->device, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return ODO_OK;
}

/* A trip whose track is gone from the database (its months archived, see
 * docs/archive.md) but that was matched from a track before keeps that
 * result: re-matching it now would replace good features with "no track".
 * Returns ODO_ERR_AGAIN (why says so) when a result is kept, ODO_OK when
 * the trip never had a track to match. */
static int kept_without_track(PGconn *c, const char *trip_id, char *why)
{
	const char *v[1] = { trip_id };
	PGresult *r = PQexecParams(c,
		"SELECT to_char(matched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM trip_roads"
		" WHERE trip_id = $1 AND coalesce(null_reason, '') NOT LIKE 'no track%'", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "reading the trip's previous match");
	int kept = PQntuples(r) > 0;
	if (kept)
		snprintf(why, WHY_MAX,
			 "trip %s: its track is no longer in the database (archived?); the result matched at %s UTC"
			 " is kept (restore the track's months first: `odo-collector archive restore --table tracks`)",
			 trip_id, PQgetvalue(r, 0, 0));
	PQclear(r);
	return kept ? ODO_ERR_AGAIN : ODO_OK;
}

/* lat, lon (and radius) arrays of the track as parameters */
static int point_arrays(const struct trip_ctx *t, struct sbuf *la, struct sbuf *lo, struct sbuf *ra)
{
	for (size_t i = 0; i < t->n; i++) {
		arr_dbl(la, i, t->obs[i].lat);
		arr_dbl(lo, i, t->obs[i].lon);
		if (ra)
			arr_dbl(ra, i, roads__radius_m(t->cfg, t->obs[i].eph_m));
	}
	arr_end(la, t->n), arr_end(lo, t->n);
	if (ra)
		arr_end(ra, t->n);
	return la->oom || lo->oom || (ra && ra->oom) ? ODO_ERR_NOMEM : ODO_OK;
}

#define CORRIDOR_CHUNK 30 /* fixes per bounding box of the corridor */

static int load_graph(PGconn *c, struct trip_ctx *t, char *why)
{
	/* the corridor: bounding boxes of runs of fixes, grown by CORRIDOR_M */
	struct sbuf la = { 0 }, lo = { 0 }, la2 = { 0 }, lo2 = { 0 };
	size_t nb = 0;
	for (size_t i = 0; i < t->n; i += CORRIDOR_CHUNK) {
		double y0 = 90, y1 = -90, x0 = 180, x1 = -180;
		for (size_t k = i; k < t->n && k <= i + CORRIDOR_CHUNK; k++) {
			const struct roads__obs *o = &t->obs[k];
			y0 = fmin(y0, o->lat), y1 = fmax(y1, o->lat), x0 = fmin(x0, o->lon), x1 = fmax(x1, o->lon);
		}
		double dy = CORRIDOR_M / 111194.9, dx = dy / fmax(0.01, cos((y0 + y1) / 2 * M_PI / 180.0));
		arr_dbl(&la, nb, y0 - dy), arr_dbl(&la2, nb, y1 + dy);
		arr_dbl(&lo, nb, x0 - dx), arr_dbl(&lo2, nb, x1 + dx);
		nb++;
	}
	arr_end(&la, nb), arr_end(&lo, nb), arr_end(&la2, nb), arr_end(&lo2, nb);
	int rc = la.oom || lo.oom || la2.oom || lo2.oom ? ODO_ERR_NOMEM : ODO_OK;
	PGresult *r = NULL;
	if (!rc) {
		const char *v[4] = { lo.p, la.p, lo2.p, la2.p };
		r = PQexecParams(c,
			"SELECT e.edge_id, e.way_id, e.source, e.target, e.length_m, w.oneway,"
			"   w.class, w.urban, w.kph_fwd, w.kind_fwd, w.kph_bwd, w.kind_bwd"
			" FROM roads.edges e JOIN roads.ways w ON w.way_id = e.way_id"
			" WHERE e.edge_id IN (SELECT x.edge_id FROM unnest($1::float8[], $2::float8[], $3::float8[],"
			"   $4::float8[]) AS b(x0, y0, x1, y1) CROSS JOIN LATERAL (SELECT edge_id FROM roads.edges"
			"   WHERE geom && ST_Transform(ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, 4326), 3857)) x)",
			4, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			rc = db_err(c, r, why, "loading the road graph");
	}
	free(la2.p), free(lo2.p);
	free(la.p), free(lo.p);
	if (rc)
		return rc;
	size_t n = (size_t)PQntuples(r);
	struct roads__edge *e = calloc(n + 1, sizeof *e);
	if (!e) {
		PQclear(r);
		return ODO_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		struct roads__edge *x = &e[i];
		x->id = atoll(PQgetvalue(r, row, 0));
		x->way_id = atoll(PQgetvalue(r, row, 1));
		x->u = (int32_t)0, x->v = (int32_t)0;
		/* raw node ids go through 64-bit temporaries: graph_build rewrites u/v */
		int64_t su = atoll(PQgetvalue(r, row, 2)), tv = atoll(PQgetvalue(r, row, 3));
		x->len_m = atof(PQgetvalue(r, row, 4));
		x->oneway = atoi(PQgetvalue(r, row, 5));
		snprintf(x->cls, sizeof x->cls, "%s", PQgetvalue(r, row, 6));
		x->urban = PQgetvalue(r, row, 7)[0] == 't';
		x->kph_fwd = dbl_or_nan(r, row, 8);
		x->kind_fwd = atoi(PQgetvalue(r, row, 9));
		x->kph_bwd = dbl_or_nan(r, row, 10);
		x->kind_bwd = atoi(PQgetvalue(r, row, 11));
		x->highway = !strncmp(x->cls, "motorway", 8) || !strncmp(x->cls, "trunk", 5);
		x->raw_u = su, x->raw_v = tv;
	}
	PQclear(r);
	return roads__graph_build(&t->g, e, n);
}

static int load_candidates(PGconn *c, struct trip_ctx *t, char *why)
{
	struct sbuf la = { 0 }, lo = { 0 }, ra = { 0 };
	int rc = point_arrays(t, &la, &lo, &ra);
	char k[16];
	snprintf(k, sizeof k, "%lld", t->cfg->max_candidates);
	PGresult *r = NULL;
	if (!rc) {
		const char *v[4] = { la.p, lo.p, ra.p, k };
		r = PQexecParams(c,
			"SELECT p.i - 1, c.edge_id, c.d, c.f FROM ("
			"  SELECT x.i, ST_Transform(ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326), 3857) AS g,"
			"         cosd(x.lat) AS k, x.r"
			"  FROM unnest($1::float8[], $2::float8[], $3::float8[]) WITH ORDINALITY AS x(lat, lon, r, i)) p"
			" CROSS JOIN LATERAL (SELECT e.edge_id, ST_Distance(e.geom, p.g) * p.k AS d,"
			"         ST_LineLocatePoint(e.geom, p.g) AS f FROM roads.edges e"
			"   WHERE ST_DWithin(e.geom, p.g, p.r / p.k) ORDER BY e.geom <-> p.g LIMIT $4::int) c"
			" ORDER BY 1, 3",
			4, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			rc = db_err(c, r, why, "candidate query");
	}
	free(la.p), free(lo.p), free(ra.p);
	if (rc)
		return rc;
	size_t n = (size_t)PQntuples(r);
	t->cand = calloc(n + 1, sizeof *t->cand);
	if (!t->cand) {
		PQclear(r);
		return ODO_ERR_NOMEM;
	}
	for (size_t i = 0; i < t->n; i++)
		t->obs[i].c0 = 0, t->obs[i].nc = 0;
	size_t prev = (size_t)-1;
	for (size_t row = 0; row < n; row++) {
		size_t i = (size_t)atoll(PQgetvalue(r, (int)row, 0));
		int32_t e = roads__graph_find(&t->g, atoll(PQgetvalue(r, (int)row, 1)));
		if (i >= t->n || e < 0)
			continue;
		if (i != prev) {
			t->obs[i].c0 = t->ncand;
			prev = i;
		}
		t->cand[t->ncand++] = (struct roads__cand){ .edge = e, .dist_m = atof(PQgetvalue(r, (int)row, 2)),
							    .frac = atof(PQgetvalue(r, (int)row, 3)) };
		t->obs[i].nc++;
	}
	PQclear(r);
	return ODO_OK;
}

static int store(PGconn *c, struct trip_ctx *t, char *why)
{
	struct sbuf a[15] = { { 0 } };
	for (size_t i = 0; i < t->n; i++) {
		const struct roads__obs *o = &t->obs[i];
		const struct roads__out *m = &t->out[i];
		const struct roads__edge *e = m->edge >= 0 ? &t->g.e[m->edge] : NULL;
		double kph = NAN;
		int kind = 0;
		roads__point_limit(&t->g, m, &kph, &kind);
		arr_i64(&a[0], i, (long long)i, 0);
		arr_i64(&a[1], i, o->t_ms, 0);
		arr_dbl(&a[2], i, o->lat);
		arr_dbl(&a[3], i, o->lon);
		arr_dbl(&a[4], i, o->speed_mps);
		arr_dbl(&a[5], i, o->eph_m);
		arr_i64(&a[6], i, m->status, 0);
		arr_i64(&a[7], i, m->seg_status, 0);
		arr_dbl(&a[8], i, t->seg_m[i]);
		arr_i64(&a[9], i, e ? e->id : 0, !e);
		arr_i64(&a[10], i, e ? e->way_id : 0, !e);
		arr_str(&a[11], i, e ? e->cls : NULL);
		arr_str(&a[12], i, e ? (e->urban ? "t" : "f") : NULL);
		arr_dbl(&a[13], i, e ? kph : NAN);
		arr_i64(&a[14], i, kind, !e);
	}
	int rc = ODO_OK;
	for (size_t k = 0; k < ODO_ARRAY_LEN(a); k++) {
		arr_end(&a[k], t->n);
		if (a[k].oom)
			rc = ODO_ERR_NOMEM;
	}
	const char *tv[1] = { t->trip_id };
	if (!rc)
		rc = cmd(c, "BEGIN", 0, NULL, why, "BEGIN");
	if (rc)
		goto out;
	/* this transaction marks the driver's month (aggregate.h) */
	if ((rc = cmd(c, odo_agg_marks_lock_sql(0), 0, NULL, why, "marks lock")))
		goto fail;
	/* serialise with a concurrent matcher of the same trip */
	if ((rc = cmd(c, "SELECT 1 FROM trips WHERE trip_id = $1 FOR UPDATE", 1, tv, why, "lock trip")))
		goto fail;
	static const char *const del[] = { "DELETE FROM trip_match_points WHERE trip_id = $1",
					   "DELETE FROM speeding_episodes WHERE trip_id = $1",
					   "DELETE FROM trip_roads WHERE trip_id = $1" };
	for (size_t k = 0; k < ODO_ARRAY_LEN(del); k++)
		if ((rc = cmd(c, del[k], 1, tv, why, "replacing the earlier result")))
			goto fail;
	const char *pv[17] = { t->trip_id, t->device };
	for (size_t k = 0; k < ODO_ARRAY_LEN(a); k++)
		pv[2 + k] = a[k].p;
	rc = cmd(c, "INSERT INTO trip_match_points (trip_id, device_id, i, t, lat, lon, speed_mps, eph_m, status,"
		    " seg_status, seg_m, edge_id, way_id, road_class, urban, limit_kph, limit_kind)"
		    " SELECT $1, $2, u.i, to_timestamp(u.t / 1000.0), u.lat, u.lon, u.v, u.e, u.st, u.ss, u.sm, u.ed,"
		    "  u.w, u.cl, u.ur, u.lk, u.kd FROM unnest($3::int[], $4::bigint[], $5::float8[], $6::float8[],"
		    "  $7::float8[], $8::float8[], $9::smallint[], $10::smallint[], $11::float8[], $12::bigint[],"
		    "  $13::bigint[], $14::text[], $15::boolean[], $16::real[], $17::smallint[])"
		    " AS u(i, t, lat, lon, v, e, st, ss, sm, ed, w, cl, ur, lk, kd)",
		 17, pv, why, "trip_match_points");
	if (rc)
		goto fail;
	size_t nep = t->f.n_episodes < MAX_EPISODES ? t->f.n_episodes : MAX_EPISODES;
	for (size_t k = 0; k < nep && t->have_layer && !t->null_reason[0]; k++) {
		const struct roads__episode *e = &t->ep[k];
		char s[11][40];
		snprintf(s[0], 40, "%zu", k + 1);
		snprintf(s[1], 40, "%lld", (long long)e->t0_ms);
		snprintf(s[2], 40, "%lld", (long long)e->t1_ms);
		snprintf(s[3], 40, "%.3f", (double)(e->t1_ms - e->t0_ms) / 1000.0);
		snprintf(s[4], 40, "%.3f", e->dist_m);
		snprintf(s[5], 40, "%.3f", e->limit_kph);
		snprintf(s[6], 40, "%.4f", e->peak_over_mps * MPH_PER_MPS);
		snprintf(s[7], 40, "%.4f", e->mean_over_mps * MPH_PER_MPS);
		snprintf(s[8], 40, "%d", e->band);
		snprintf(s[9], 40, "%.7f", t->obs[e->i0].lat);
		snprintf(s[10], 40, "%.7f", t->obs[e->i0].lon);
		const struct roads__out *m = &t->out[e->i0];
		char way[32];
		snprintf(way, sizeof way, "%lld", m->edge >= 0 ? (long long)t->g.e[m->edge].way_id : 0LL);
		const char *ev[13] = { t->trip_id, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10],
				       m->edge >= 0 ? way : NULL };
		rc = cmd(c, "INSERT INTO speeding_episodes (trip_id, n, start_time, end_time, duration_s, distance_m,"
			    " limit_kph, peak_over_mph, mean_over_mph, band, start_lat, start_lon, way_id) VALUES ($1,"
			    " $2::int, to_timestamp($3::bigint / 1000.0), to_timestamp($4::bigint / 1000.0), $5, $6, $7,"
			    " $8, $9, $10::smallint, $11, $12, $13::bigint)", 13, ev, why, "speeding_episodes");
		if (rc)
			goto fail;
	}
	{
		const struct roads__trip *f = &t->f;
		int cov = !t->null_reason[0];
		char s[20][40];
		snprintf(s[0], 40, "%lld", t->import_id);
		snprintf(s[1], 40, "%zu", f->n_points);
		snprintf(s[2], 40, "%zu", f->n_matched);
		snprintf(s[3], 40, "%.3f", f->dist_m);
		snprintf(s[4], 40, "%.3f", f->matched_m);
		snprintf(s[5], 40, "%.3f", f->unmatched_m);
		snprintf(s[6], 40, "%.6f", f->dist_m > 0 ? f->unmatched_m / f->dist_m : 0);
		snprintf(s[7], 40, "%.3f", f->highway_m);
		snprintf(s[8], 40, "%.3f", f->urban_m);
		snprintf(s[9], 40, "%.3f", f->limit_m);
		snprintf(s[10], 40, "%zu", f->n_episodes);
		snprintf(s[11], 40, "%zu", f->band[1]);
		snprintf(s[12], 40, "%zu", f->band[2]);
		snprintf(s[13], 40, "%zu", f->band[3]);
		snprintf(s[14], 40, "%.3f", f->speeding_s);
		snprintf(s[15], 40, "%.3f", f->speeding_m);
		snprintf(s[16], 40, "%.4f", f->max_over_mps * MPH_PER_MPS);
		const char *rv[19] = { t->trip_id, t->import_id ? s[0] : NULL, s[1], s[2], s[3], s[4], s[5],
				       f->dist_m > 0 ? s[6] : NULL, cov ? "t" : "f", cov ? NULL : t->null_reason,
				       cov ? s[7] : NULL, cov ? s[8] : NULL, cov ? s[9] : NULL, cov ? s[10] : NULL,
				       cov ? s[11] : NULL, cov ? s[12] : NULL, cov ? s[13] : NULL, cov ? s[14] : NULL,
				       cov ? s[15] : NULL };
		const char *rv2[20];
		memcpy(rv2, rv, sizeof rv);
		rv2[19] = cov && f->have_limit ? s[16] : NULL;
		rc = cmd(c, "INSERT INTO trip_roads (trip_id, import_id, points, matched_points, distance_m, matched_m,"
			    " unmatched_m, unmatched_share, covered, null_reason, highway_m, urban_m, limit_m,"
			    " speeding_episodes, speeding_band1, speeding_band2, speeding_band3, speeding_s, speeding_m,"
			    " max_over_limit_mph) VALUES ($1, $2::bigint, $3::int, $4::int, $5, $6, $7, $8, $9::boolean,"
			    " $10, $11, $12, $13, $14::int, $15::int, $16::int, $17::int, $18, $19, $20)",
			 20, rv2, why, "trip_roads");
		if (rc)
			goto fail;
	}
	rc = cmd(c, "INSERT INTO monthly_features_dirty (driver_id, month)"
		    " SELECT driver_id, to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips"
		    " WHERE trip_id = $1 AND driver_id IS NOT NULL AND start_time IS NOT NULL ON CONFLICT DO NOTHING",
		 1, tv, why, "monthly_features_dirty");
	if (rc)
		goto fail;
	rc = cmd(c, "COMMIT", 0, NULL, why, "COMMIT");
	goto out;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
out:
	for (size_t k = 0; k < ODO_ARRAY_LEN(a); k++)
		free(a[k].p);
	return rc;
}

int odo_roads_match_trip(PGconn *c, const struct odo_roads_cfg *cfg, const char *trip_id, char *why)
{
	struct trip_ctx t = { .cfg = cfg };
	snprintf(t.trip_id, sizeof t.trip_id, "%s", trip_id);
	const char *v[1] = { trip_id };
	PGresult *r = PQexecParams(c, "SELECT device_id FROM trips WHERE trip_id = $1 AND end_time IS NOT NULL", 1,
				   NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "trips");
	if (PQntuples(r) == 0) {
		PQclear(r);
		snprintf(why, WHY_MAX, "no finished trip '%s'", trip_id);
		return ODO_ERR_NOTFOUND;
	}
	snprintf(t.device, sizeof t.device, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	int rc = layer_present(c, &t.import_id, why);
	t.have_layer = t.import_id > 0;
	if (!rc)
		rc = load_points(c, &t, why);
	if (!rc && t.n < 2 && (rc = kept_without_track(c, trip_id, why)) != ODO_OK)
		goto out;
	if (!rc && t.have_layer && t.n >= 2)
		rc = load_graph(c, &t, why);
	if (!rc && t.have_layer && t.n >= 2 && t.g.n_edges > 0)
		rc = load_candidates(c, &t, why);
	if (rc)
		goto out;
	t.out = calloc(t.n + 1, sizeof *t.out);
	t.seg_m = calloc(t.n + 1, sizeof *t.seg_m);
	t.ep = calloc(MAX_EPISODES, sizeof *t.ep);
	if (!t.out || !t.seg_m || !t.ep) {
		rc = ODO_ERR_NOMEM;
		goto out;
	}
	if (t.have_layer && t.g.n_edges > 0) {
		if ((rc = roads__match(&t.g, t.obs, t.n, t.cand, cfg, t.out)))
			goto out;
	} else {
		for (size_t i = 0; i < t.n; i++)
			t.out[i] = (struct roads__out){ .edge = -1, .status = ROADS_NO_DATA,
							.seg_status = i ? ROADS_NO_DATA : ROADS_MATCHED };
	}
	roads__features(&t.g, t.obs, t.n, t.out, cfg, t.seg_m, &t.f, t.ep, MAX_EPISODES);
	if (t.n < 2)
		snprintf(t.null_reason, sizeof t.null_reason, "no track (%zu fixes)", t.n);
	else if (!t.have_layer)
		snprintf(t.null_reason, sizeof t.null_reason, "no road data (no road layer imported)");
	else if (t.g.n_edges == 0 || t.f.n_matched == 0)
		snprintf(t.null_reason, sizeof t.null_reason,
			 "no road data (no road within reach of the track: outside the imported map)");
	else if (t.f.dist_m > 0 && t.f.unmatched_m / t.f.dist_m > cfg->max_unmatched_share)
		snprintf(t.null_reason, sizeof t.null_reason, "unmatched share above the bound (%.2f > %.2f)",
			 t.f.unmatched_m / t.f.dist_m, cfg->max_unmatched_share);
	rc = store(c, &t, why);
out:
	ctx_free(&t);
	return rc;
}

int odo_roads_match_pending(PGconn *c, const struct odo_roads_cfg *cfg, int stale, long long limit,
			    long long *done, long long *kept, char *kept_why, char *why)
{
	*done = *kept = 0;
	kept_why[0] = '\0';
	long long current = 0;
	int rc = layer_present(c, &current, why);
	if (rc)
		return rc;
	char cur[32], lim[32];
	snprintf(cur, sizeof cur, "%lld", current);
	snprintf(lim, sizeof lim, "%lld", limit > 0 ? limit : 1000000000LL);
	const char *v[3] = { cur, stale ? "t" : "f", lim };
	/* New trips; trips whose track grew after their match (track records
	 * arriving late, within a week); with `stale`, trips matched against an
	 * older road import (or before any). */
	PGresult *r = PQexecParams(c,
		"SELECT tr.trip_id FROM trips tr LEFT JOIN trip_roads x ON x.trip_id = tr.trip_id"
		" WHERE tr.end_time IS NOT NULL AND (x.trip_id IS NULL"
		"  OR ($2::boolean AND x.import_id IS DISTINCT FROM nullif($1::bigint, 0))"
		"  OR (tr.end_time > now() - interval '7 days' AND EXISTS (SELECT 1 FROM tracks k"
		"      WHERE k.device_id = tr.device_id AND k.epoch = tr.epoch"
		"      AND k.device_trip_id = tr.device_trip_id AND k.received_at > x.matched_at)))"
		" ORDER BY tr.end_time LIMIT $3::bigint", 3, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "finding trips to match");
	int failed = 0;
	char first_why[WHY_MAX] = "";
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		rc = odo_roads_match_trip(c, cfg, PQgetvalue(r, i, 0), why);
		if (rc == ODO_ERR_NOTFOUND) {
			rc = ODO_OK; /* deleted meanwhile */
		} else if (rc == ODO_ERR_AGAIN) {
			if (!(*kept)++)
				snprintf(kept_why, WHY_MAX, "%s", why);
			rc = ODO_OK;
		} else if (rc == ODO_ERR_DB && PQstatus(c) == CONNECTION_OK) {
			/* this trip failed (its result stays as it was and it is tried
			 * again next time); the others still get matched */
			if (!failed++)
				snprintf(first_why, sizeof first_why, "trip %s: %s", PQgetvalue(r, i, 0), why);
			rc = ODO_OK;
		} else if (!rc) {
			(*done)++;
		}
	}
	PQclear(r);
	if (!rc && failed) {
		snprintf(why, WHY_MAX, "%d trip(s) not matched, first %s", failed, first_why);
		return ODO_ERR_DB;
	}
	return rc;
}
