/* odo-collector — `roads` commands and the [roads] configuration (roads.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "odo/log.h"
#include "roads.h"

#define WHY_MAX 256

/*
 * Sources of the defaults (docs/features.md "Road features", docs/collector.md
 * "Map matching"):
 *  - sigma 4.07 m, candidate radius up to 200 m: Newson & Krumm 2009;
 *  - speeding X = 5 mph, Y = 10 %: between Lightfoot's "minor" overspeed
 *    (> 4 mph and > 12 %) and Motive's posted-limit speeding (> 6 mph), and
 *    the UK police enforcement guideline of 10 % + 2 mph (NPCC);
 *  - bands 10 mph / 25 % and 20 mph / 40 %: Lightfoot's "major" (> 10 mph and
 *    > 25 %) and "severe" (> 19 mph and > 40 %) overspeed;
 *  - Z = 30 s: Motive and Samsara's examples use 60 s at their 5 s
 *    positions; at 1 Hz half of that still excludes a brief overtake.
 */
const struct odo_cfg_key odo_roads_cfg_keys[ODO_ROADS_NKEYS] = {
	ODO_CFG_D("sigma_min_m", struct odo_roads_cfg, sigma_min_m, "4.07", 0.5, 100,
		  "GPS error sigma floor for the emission probability, m (Newson & Krumm 2009)"),
	ODO_CFG_D("beta_m", struct odo_roads_cfg, beta_m, "3", 0.1, 1000,
		  "transition scale: |route - great-circle| distance per e-fold, m"),
	ODO_CFG_D("radius_min_m", struct odo_roads_cfg, radius_min_m, "50", 5, 1000,
		  "candidate search radius at least (else 4 sigma from the fix's eph), m"),
	ODO_CFG_D("radius_max_m", struct odo_roads_cfg, radius_max_m, "200", 5, 2000,
		  "candidate search radius at most, m (Newson & Krumm 2009)"),
	ODO_CFG_I("max_candidates", struct odo_roads_cfg, max_candidates, "8", 1, 64,
		  "candidate road edges per fix (nearest first)"),
	ODO_CFG_D("max_gap_s", struct odo_roads_cfg, max_gap_s, "10", 1, 3600,
		  "a longer gap between fixes (tunnel, lost signal) breaks the match and stays unmatched"),
	ODO_CFG_D("max_speed_mps", struct odo_roads_cfg, max_speed_mps, "70", 10, 200,
		  "route distance between fixes at most 50 m + gap x this"),
	ODO_CFG_D("max_unmatched_share", struct odo_roads_cfg, max_unmatched_share, "0.2", 0, 1,
		  "share of a trip's distance that may be unmatched before its road features are NULL"),
	ODO_CFG_D("speeding_mph", struct odo_roads_cfg, speeding_mph, "5", 0, 100,
		  "speeding: over the limit by more than max(this, speeding_pct)"),
	ODO_CFG_D("speeding_pct", struct odo_roads_cfg, speeding_pct, "10", 0, 200,
		  "speeding: over the limit by more than this % of it (or speeding_mph)"),
	ODO_CFG_D("speeding_min_s", struct odo_roads_cfg, speeding_min_s, "30", 0, 3600,
		  "speeding: for at least this many seconds"),
	ODO_CFG_D("band2_mph", struct odo_roads_cfg, band2_mph, "10", 0, 200, "severity band 2 (major): peak excess > max(this mph, band2_pct)"),
	ODO_CFG_D("band2_pct", struct odo_roads_cfg, band2_pct, "25", 0, 500, "severity band 2: % of the limit (with band2_mph)"),
	ODO_CFG_D("band3_mph", struct odo_roads_cfg, band3_mph, "20", 0, 200, "severity band 3 (severe): peak excess > max(this mph, band3_pct)"),
	ODO_CFG_D("band3_pct", struct odo_roads_cfg, band3_pct, "40", 0, 500, "severity band 3: % of the limit (with band3_mph)"),
	ODO_CFG_D("poll_s", struct odo_roads_cfg, poll_s, "30", 0.1, 86400,
		  "`roads follow`: seconds between looks for finished trips to match"),
	ODO_CFG_S("osm2pgsql", struct odo_roads_cfg, osm2pgsql, "osm2pgsql", "the osm2pgsql program (roads import)"),
	ODO_CFG_D("radius_eph_k", struct odo_roads_cfg, radius_eph_k, "4", 1, 10,
		  "candidate radius = this x sigma (sigma = eph / 2.45, at least sigma_min_m)"),
};

void odo_roads_cfg_defaults(struct odo_roads_cfg *c)
{
	(void)odo_config_section_defaults("roads", odo_roads_cfg_keys, ODO_ROADS_NKEYS, c, sizeof *c);
}

static void usage(void)
{
	fprintf(stderr, "usage: odo-collector [--config FILE] roads COMMAND\n"
			"  import FILE.osm.pbf [--country CC]   load (or update) the road layer from an OSM extract\n"
			"  match [--trip ID | --stale] [--limit N]   match finished trips not matched yet\n"
			"                                        (--stale: also those matched against an older import)\n"
			"  follow                                match finished trips as they arrive, every [roads] poll_s\n"
			"  status                                the road layer and the matching backlog\n");
}

static void quiet(void *arg, const char *msg)
{
	(void)arg, (void)msg; /* PostgreSQL NOTICEs of idempotent DDL */
}

static int status(PGconn *c)
{
	PGresult *r = PQexec(c,
		"SELECT (SELECT count(*) FROM trips WHERE end_time IS NOT NULL),"
		" (SELECT count(*) FROM trip_roads), (SELECT count(*) FROM trip_roads WHERE covered),"
		" to_regclass('roads.imports') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ODO_LOG(ERROR, "roads", "status: %s", PQresultErrorMessage(r));
		PQclear(r);
		return 1;
	}
	printf("finished trips %s, matched %s, covered by the map %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
	       PQgetvalue(r, 0, 2));
	int layer = PQgetvalue(r, 0, 3)[0] == 't';
	PQclear(r);
	if (!layer) {
		printf("road layer: none (odo-collector roads import FILE.osm.pbf)\n");
		return 0;
	}
	r = PQexec(c, "SELECT import_id, source_file, coalesce(fallback_country, '-'), finished_at, ways, edges,"
		      " unparsed_maxspeed, pg_size_pretty(pg_total_relation_size('roads.ways')"
		      "  + pg_total_relation_size('roads.edges') + pg_total_relation_size('roads.areas'))"
		      " FROM roads.imports WHERE finished_at IS NOT NULL ORDER BY import_id DESC LIMIT 1");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		printf("road layer: import %s of %s (fallback country %s) at %s: %s ways, %s edges, %s maxspeed"
		       " values not understood, %s on disk\n",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
		       PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7));
	else
		printf("road layer: no finished import\n");
	PQclear(r);
	return 0;
}

int odo_roads_cli(PGconn *c, const struct odo_roads_cfg *cfg, const char *conninfo, const char *user,
		  const char *password, const char *by, int argc, char **argv, volatile int *stop)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	const char *cmd = argv[1], *country = "", *trip = NULL;
	const char *file = NULL;
	int stale = 0;
	long long limit = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--country") && i + 1 < argc)
			country = argv[++i];
		else if (!strcmp(argv[i], "--trip") && i + 1 < argc)
			trip = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--stale"))
			stale = 1;
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			fprintf(stderr, "odo-collector roads: unexpected argument '%s'\n", argv[i]);
			usage();
			return 2;
		}
	}
	char why[WHY_MAX] = "";
	int rc;
	if (!strcmp(cmd, "import")) {
		if (!file) {
			usage();
			return 2;
		}
		struct odo_roads_import_opts o = { .pbf = file, .conninfo = conninfo, .user = user, .password = password,
						   .osm2pgsql = cfg->osm2pgsql, .fallback_country = country, .by = by };
		long long id = 0;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = odo_roads_import(c, &o, &id, why);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (!rc) {
			ODO_LOG(INFO, "roads", "import %lld of %s done in %.1f s; re-match older trips with"
				" `odo-collector roads match --stale`", id, file,
				(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
			return status(c);
		}
	} else if (!strcmp(cmd, "match")) {
		long long done = 0, kept = 0;
		char kept_why[WHY_MAX] = "";
		if (trip) {
			rc = odo_roads_match_trip(c, cfg, trip, why);
			done = rc == ODO_OK;
			if (rc == ODO_ERR_AGAIN) {
				kept = 1;
				snprintf(kept_why, sizeof kept_why, "%s", why);
				rc = ODO_OK;
			}
		} else {
			rc = odo_roads_match_pending(c, cfg, stale, limit, &done, &kept, kept_why, why);
		}
		if (kept)
			ODO_LOG(WARN, "roads", "%lld trip(s) kept their earlier result: %s%s", kept, kept_why,
				kept > 1 ? " (the first of them)" : "");
		if (!rc)
			ODO_LOG(INFO, "roads", "%lld trip(s) matched", done);
	} else if (!strcmp(cmd, "follow")) {
		ODO_LOG(INFO, "roads", "matching finished trips every %.0f s", cfg->poll_s);
		rc = ODO_OK;
		while (!*stop && !rc) {
			long long done = 0, kept = 0;
			char kept_why[WHY_MAX];
			rc = odo_roads_match_pending(c, cfg, 0, 100, &done, &kept, kept_why, why);
			if (done)
				ODO_LOG(INFO, "roads", "%lld trip(s) matched", done);
			if (rc && PQstatus(c) == CONNECTION_BAD) {
				ODO_LOG(WARN, "roads", "%s; reconnecting", why);
				PQreset(c);
				rc = ODO_OK;
			} else if (rc == ODO_ERR_DB) {
				ODO_LOG(ERROR, "roads", "%s", why); /* and carry on with the next round */
				rc = ODO_OK;
			}
			if (!rc && done < 100) {
				struct timespec ts = { (time_t)cfg->poll_s,
						       (long)((cfg->poll_s - (double)(time_t)cfg->poll_s) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
	} else if (!strcmp(cmd, "status")) {
		return status(c);
	} else {
		usage();
		return 2;
	}
	if (rc) {
		ODO_LOG(ERROR, "roads", "%s: %s: %s", cmd, odo_strerror(rc), why);
		return rc == ODO_ERR_INVAL ? 2 : 1;
	}
	return 0;
}
