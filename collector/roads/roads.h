/*
 * odo-collector — the optional road layer (issue #15): OpenStreetMap roads in
 * PostGIS, map matching of the dense track, speeding and road-type features.
 *
 * Nothing here is needed for ingest: the core schema (collector/sql/NNN_*.sql)
 * stays portable, and the PostGIS layer (schema `roads`) is created only by
 * `odo-collector roads import`. Definitions: docs/features.md "Road features";
 * matching: docs/collector.md "Map matching"; operation: docs/deploy.md.
 */
#ifndef ODO_COLLECTOR_ROADS_H
#define ODO_COLLECTOR_ROADS_H

#include <stdint.h>

#include <libpq-fe.h>

#include "odo/err.h"

/* ---- maxspeed tag parsing (maxspeed.c, no database) -------------------- */

enum odo_limit_kind {
	ODO_LIMIT_UNKNOWN = 0,  /* no usable limit (unparsed tag and no default) */
	ODO_LIMIT_TAGGED = 1,   /* a number (km/h, mph, knots) on the way */
	ODO_LIMIT_IMPLICIT = 2, /* "CC:zone" resolved through the default table */
	ODO_LIMIT_DEFAULT = 3,  /* no tag: legal default by country, class, urban */
	ODO_LIMIT_NONE = 4,     /* "none": no limit applies (e.g. DE autobahn) */
};

struct odo_maxspeed {
	int kind;          /* enum odo_limit_kind; UNKNOWN = not understood */
	double kph;        /* TAGGED: the limit in km/h; else 0 */
	char country[3];   /* IMPLICIT: ISO 3166-1 alpha-2, upper case */
	char zone[24];     /* IMPLICIT: urban, rural, motorway, trunk, living_street,
			    * nsl_single, nsl_dual, nsl_restricted, zone (with kph) ... */
};

/* Parse one OSM maxspeed value (OSM wiki "Key:maxspeed"): "50", "50 km/h",
 * "30 mph", "10 knots", "none", "walk", "signals"/"variable" (UNKNOWN: the
 * legal default applies), "FR:urban", "DE:zone30" / "DE:zone:30" (TAGGED 30,
 * zone "zone"), "GB:nsl_single". Several values ("50;30"), conditions and
 * anything else: UNKNOWN. Returns ODO_OK, or ODO_ERR_INVAL for NULL input. */
int odo_maxspeed_parse(const char *s, struct odo_maxspeed *out) ODO_NODISCARD;

/* km/h assumed for "walk" (docs/features.md). */
#define ODO_MAXSPEED_WALK_KPH 7.0

/* ---- import (import.c) ------------------------------------------------- */

struct odo_roads_import_opts {
	const char *pbf;              /* the OSM extract (.osm.pbf) */
	const char *conninfo;         /* libpq conninfo (no password) */
	const char *user;             /* the role to log in as, or "": the conninfo's */
	const char *password;         /* or "" */
	const char *osm2pgsql;        /* program, default "osm2pgsql" */
	const char *fallback_country; /* ISO code for ways outside any complete country polygon, or "" */
	const char *by;               /* who imports (collector name) */
};

/* Run osm2pgsql with the embedded flex style into schema roads_stage, then
 * build roads.ways / roads.edges / roads.areas in one transaction and record
 * a roads.imports row. Idempotent (re-running replaces the layer); also the
 * update path. *import_id = the new import's id. */
int odo_roads_import(PGconn *c, const struct odo_roads_import_opts *o, long long *import_id, char *why)
	ODO_NODISCARD;

/* ---- matching (match.c: HMM; db.c: reading and writing) ---------------- */

struct odo_roads_cfg {
	double sigma_min_m;        /* emission sigma floor (Newson & Krumm's 4.07 m) */
	double beta_m;             /* transition scale */
	double radius_min_m, radius_max_m; /* candidate radius bounds */
	long long max_candidates;  /* per fix */
	double max_gap_s;          /* a longer gap between fixes breaks the match */
	double max_speed_mps;      /* route distance bound: 50 m + dt * this */
	double max_unmatched_share;/* above: the trip's road features are NULL */
	double speeding_mph;       /* X: an episode is over the limit by > max(X mph, */
	double speeding_pct;       /* Y %) */
	double speeding_min_s;     /* Z: for at least this long */
	double band2_mph, band2_pct, band3_mph, band3_pct; /* severity bands */
	double radius_eph_k;       /* candidate radius = this x sigma */
	double poll_s;             /* `roads follow`: seconds between looks for finished trips */
	char osm2pgsql[256];       /* the osm2pgsql program */
};

#include "odo/config.h"

/* The [roads] configuration keys (their defaults are the documented ones:
 * docs/features.md, docs/collector.md). */
#define ODO_ROADS_NKEYS 18
extern const struct odo_cfg_key odo_roads_cfg_keys[ODO_ROADS_NKEYS];

/* The defaults of odo_roads_cfg_keys. */
void odo_roads_cfg_defaults(struct odo_roads_cfg *c);

/* Match one finished trip (by trips.trip_id) and store its per-point
 * results, episodes and summary, replacing any earlier result; marks the
 * driver's month dirty. ODO_ERR_NOTFOUND: no such finished trip.
 * ODO_ERR_AGAIN: the trip's track is no longer in the database (archived)
 * but an earlier result was matched from it: that result is kept, `why`
 * says so. */
int odo_roads_match_trip(PGconn *c, const struct odo_roads_cfg *cfg, const char *trip_id, char *why) ODO_NODISCARD;

/* Match every finished trip that has no result yet (or, with `stale`, whose
 * result predates the current road import); at most `limit` trips (0 = all).
 * *done = trips matched; *kept = trips whose track is gone that kept their
 * earlier result (`kept_why`, WHY_MAX bytes: the first of them). */
int odo_roads_match_pending(PGconn *c, const struct odo_roads_cfg *cfg, int stale, long long limit,
			    long long *done, long long *kept, char *kept_why, char *why) ODO_NODISCARD;

/* `odo-collector roads ...` (cli.c): import, match, follow, status. argv[0]
 * is "roads". `stop` is set by the caller's signal handler (follow ends).
 * Returns the process exit status. */
int odo_roads_cli(PGconn *c, const struct odo_roads_cfg *cfg, const char *conninfo, const char *user,
		  const char *password, const char *by, int argc, char **argv, volatile int *stop);

#endif
