/* odo-collector — importing OpenStreetMap roads (see roads.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "roads.h"
#include "roads_sql.h"
#include "pg/result.h"

#define WHY_MAX 256
/* Advisory lock key serialising concurrent imports (and their swap). */
#define IMPORT_LOCK_KEY "7301000015"
#define MAX_VALUES 100000

static int db_err(PGconn *c, PGresult *r, char *why, const char *what)
{
	return odo_pg_fail(c, r, why, WHY_MAX, what, 0);
}

static int exec_ok(PGconn *c, const char *sql, int n, const char *const *v, char *why, const char *what)
{
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return db_err(c, r, why, what);
	PQclear(r);
	return ODO_OK;
}

/* osm2pgsql with the embedded style (written to a private temporary file),
 * the password only in the child's environment. */
static int run_osm2pgsql(const struct odo_roads_import_opts *o, char *why)
{
	char style[] = "/tmp/odo-roads-style.XXXXXX";
	int fd = mkstemp(style);
	if (fd < 0) {
		snprintf(why, WHY_MAX, "cannot create the style file: %s", strerror(errno));
		return ODO_ERR_IO;
	}
	size_t len = strlen(odo_roads_flex_lua);
	int wok = write(fd, odo_roads_flex_lua, len) == (ssize_t)len;
	close(fd);
	if (!wok) {
		unlink(style);
		snprintf(why, WHY_MAX, "cannot write the style file");
		return ODO_ERR_IO;
	}
	const char *prog = o->osm2pgsql && o->osm2pgsql[0] ? o->osm2pgsql : "osm2pgsql";
	char db[1024];
	snprintf(db, sizeof db, "%s", o->conninfo);
	const char *argv[] = { prog, "--create", "--slim", "--drop", "--output=flex", "--style", style,
			       "--middle-schema=roads_stage", "--log-level=warn", "--database", db, o->pbf, NULL };
	pid_t pid = fork();
	if (pid < 0) {
		unlink(style);
		snprintf(why, WHY_MAX, "fork: %s", strerror(errno));
		return ODO_ERR_IO;
	}
	if (pid == 0) {
		if (o->password && o->password[0])
			setenv("PGPASSWORD", o->password, 1);
		if (o->user && o->user[0])
			setenv("PGUSER", o->user, 1); /* used where the connection string names none */
		execvp(prog, (char *const *)argv);
		fprintf(stderr, "odo-collector: cannot run %s: %s (install osm2pgsql: tools/bootstrap)\n", prog,
			strerror(errno));
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	unlink(style);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(why, WHY_MAX, "osm2pgsql failed (%s %d) on %s", WIFEXITED(st) ? "exit" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), o->pbf);
		return ODO_ERR_IO;
	}
	return ODO_OK;
}

/* Read every distinct value of the speed tags, parse it here, store the
 * result in roads.maxspeed_parsed. *unparsed = values of maxspeed,
 * maxspeed:forward and maxspeed:backward that were not understood. */
static int parse_values(PGconn *c, int *unparsed, char *why)
{
	*unparsed = 0;
	PGresult *r = PQexec(c, "SELECT v, bool_or(speed) FROM ("
				" SELECT maxspeed AS v, true AS speed FROM roads_stage.osm_ways"
				" UNION ALL SELECT maxspeed_forward, true FROM roads_stage.osm_ways"
				" UNION ALL SELECT maxspeed_backward, true FROM roads_stage.osm_ways"
				" UNION ALL SELECT maxspeed_type, false FROM roads_stage.osm_ways"
				" UNION ALL SELECT source_maxspeed, false FROM roads_stage.osm_ways) x"
				" WHERE v IS NOT NULL GROUP BY v");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_err(c, r, why, "reading maxspeed values");
	int n = PQntuples(r);
	if (n > MAX_VALUES) {
		PQclear(r);
		snprintf(why, WHY_MAX, "%d distinct maxspeed values (more than %d)", n, MAX_VALUES);
		return ODO_ERR_TOOBIG;
	}
	/* Arrays as PostgreSQL text literals of the form {"a","b"}: every value
	 * is quoted and escaped, and travels as one parameter. */
	size_t cap = 64;
	for (int i = 0; i < n; i++)
		cap += 2 * strlen(PQgetvalue(r, i, 0)) + 64;
	char *raws = malloc(cap), *kinds = malloc(16 * (size_t)n + 8), *kphs = malloc(24 * (size_t)n + 8),
	     *ccs = malloc(8 * (size_t)n + 8), *zones = malloc(64 * (size_t)n + 8);
	if (!raws || !kinds || !kphs || !ccs || !zones) {
		free(raws), free(kinds), free(kphs), free(ccs), free(zones);
		PQclear(r);
		return ODO_ERR_NOMEM;
	}
	size_t pr = 0, pk = 0, ps = 0, pc = 0, pz = 0;
	raws[pr++] = '{', kinds[pk++] = '{', kphs[ps++] = '{', ccs[pc++] = '{', zones[pz++] = '{';
	for (int i = 0; i < n; i++) {
		const char *v = PQgetvalue(r, i, 0);
		struct odo_maxspeed m;
		if (odo_maxspeed_parse(v, &m) != ODO_OK)
			m.kind = ODO_LIMIT_UNKNOWN;
		if (m.kind == ODO_LIMIT_UNKNOWN && PQgetvalue(r, i, 1)[0] == 't')
			(*unparsed)++;
		const char *sep = i ? "," : "";
		pr += (size_t)snprintf(raws + pr, cap - pr, "%s\"", sep);
		for (const char *p = v; *p; p++) {
			if (*p == '"' || *p == '\\')
				raws[pr++] = '\\';
			raws[pr++] = *p;
		}
		raws[pr++] = '"';
		pk += (size_t)sprintf(kinds + pk, "%s%d", sep, m.kind);
		if (m.kind == ODO_LIMIT_TAGGED)
			ps += (size_t)sprintf(kphs + ps, "%s%.3f", sep, m.kph);
		else
			ps += (size_t)sprintf(kphs + ps, "%sNULL", sep);
		pc += (size_t)sprintf(ccs + pc, "%s%s", sep, m.country[0] ? m.country : "NULL");
		pz += (size_t)sprintf(zones + pz, "%s%s", sep, m.zone[0] ? m.zone : "NULL");
	}
	raws[pr++] = '}', raws[pr] = '\0';
	strcpy(kinds + pk, "}"), strcpy(kphs + ps, "}"), strcpy(ccs + pc, "}"), strcpy(zones + pz, "}");
	PQclear(r);
	const char *v[5] = { raws, kinds, kphs, ccs, zones };
	int rc = exec_ok(c, "DELETE FROM roads.maxspeed_parsed", 0, NULL, why, "maxspeed_parsed");
	if (!rc)
		rc = exec_ok(c, "INSERT INTO roads.maxspeed_parsed (raw, kind, kph, country, zone)"
				" SELECT * FROM unnest($1::text[], $2::smallint[], $3::real[], $4::text[], $5::text[])",
			     5, v, why, "maxspeed_parsed");
	free(raws), free(kinds), free(kphs), free(ccs), free(zones);
	return rc;
}

int odo_roads_import(PGconn *c, const struct odo_roads_import_opts *o, long long *import_id, char *why)
{
	*import_id = 0;
	struct stat sb;
	if (!o->pbf || stat(o->pbf, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, WHY_MAX, "cannot read the OSM extract '%s'", o->pbf ? o->pbf : "");
		return ODO_ERR_INVAL;
	}
	const char *cc = o->fallback_country ? o->fallback_country : "";
	if (cc[0] && (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')) {
		snprintf(why, WHY_MAX, "--country '%s' is not an ISO 3166-1 alpha-2 code (e.g. FR)", cc);
		return ODO_ERR_INVAL;
	}
	/* one import at a time (session lock: osm2pgsql runs outside our transaction) */
	int rc = exec_ok(c, "SELECT pg_advisory_lock(" IMPORT_LOCK_KEY ")", 0, NULL, why, "lock");
	if (rc)
		return rc;
	rc = exec_ok(c, odo_roads_setup_sql, 0, NULL, why, "road layer set-up (is PostGIS installed?)");
	if (rc)
		goto out;
	const char *iv[3] = { o->pbf, cc, o->by ? o->by : "odo-collector" };
	PGresult *r = PQexecParams(c, "INSERT INTO roads.imports (source_file, fallback_country, performed_by)"
				      " VALUES ($1, nullif($2, ''), $3) RETURNING import_id", 3, NULL, iv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_err(c, r, why, "roads.imports");
		goto out;
	}
	char id[32];
	snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((rc = run_osm2pgsql(o, why)))
		goto out;
	int unparsed = 0;
	if ((rc = exec_ok(c, "BEGIN", 0, NULL, why, "BEGIN")))
		goto out;
	if ((rc = parse_values(c, &unparsed, why)))
		goto rollback;
	const char *pv[2] = { cc, id };
	rc = exec_ok(c, "CREATE TEMP TABLE import_params ON COMMIT DROP AS"
			" SELECT $1::text AS fallback_country, $2::bigint AS import_id", 2, pv, why, "import_params");
	if (rc)
		goto rollback;
	if ((rc = exec_ok(c, odo_roads_build_sql, 0, NULL, why, "building the road layer")))
		goto rollback;
	char un[16];
	snprintf(un, sizeof un, "%d", unparsed);
	const char *fv[2] = { id, un };
	rc = exec_ok(c, "UPDATE roads.imports SET finished_at = now(), ways = (SELECT count(*) FROM roads.ways),"
			" edges = (SELECT count(*) FROM roads.edges), unparsed_maxspeed = $2::int"
			" WHERE import_id = $1::bigint", 2, fv, why, "roads.imports");
	if (rc)
		goto rollback;
	if ((rc = exec_ok(c, "COMMIT", 0, NULL, why, "COMMIT")))
		goto out;
	*import_id = atoll(id);
	/* the stage is only needed while building: free its disk */
	rc = exec_ok(c, "DROP TABLE IF EXISTS roads_stage.osm_ways, roads_stage.osm_areas, roads_stage.osm_places",
		     0, NULL, why, "dropping the stage");
	goto out;
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
out:
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" IMPORT_LOCK_KEY ")"));
	return rc;
}
