/* odo-collector — the privilege matrix and applying it (see roles.h). */
#include "pg/roles.h"

#include <stdlib.h>
#include <string.h>

#include "pg/result.h"

#define WHY_MAX 256

#define IN ODO_ROLE_INGEST
#define AG ODO_ROLE_AGGREGATE
#define PR ODO_ROLE_PRIVACY
#define RD ODO_ROLE_READER

/* The score and fix-up columns the aggregation statement writes on trips
 * (migration 005; collector/aggregate/aggregate.c). */
#define TRIP_AGG_COLS                                                                                     \
	"mean_abs_jerk,phone_distraction_s,score,score_version,score_inputs,score_events_pts,"              \
	"score_smooth_pts,score_phone_pts,score_time_pts,score_speeding_pts"

const char *const odo_roles[4] = { IN, AG, PR, RD };

/*
 * Every table and view of schema public has a row per role that may touch
 * it (security_db_roles fails for a table without any). The owner is not
 * listed: it owns everything. Nothing here grants DELETE or UPDATE on
 * data_audit, TRUNCATE, or REFERENCES/TRIGGER on anything.
 */
const struct odo_grant odo_grants[] = {
	/* reference data and devices */
	{ "drivers", AG, "SELECT", NULL },
	/* privacy also registers drivers, vehicles and devices (collector/admin) */
	{ "drivers", PR, "SELECT, INSERT, UPDATE, DELETE", NULL },
	{ "vehicles", PR, "SELECT, INSERT, UPDATE", NULL },
	{ "devices", IN, "SELECT, INSERT, UPDATE", NULL },
	{ "devices", PR, "SELECT, INSERT", NULL },
	{ "devices", PR, "UPDATE", "last_seen" }, /* its row locks serialise forget/consent with the writer */
	{ "devices", RD, "SELECT", NULL },       /* device list */
	{ "device_assignments", IN, "SELECT", NULL },
	{ "device_assignments", AG, "SELECT", NULL },
	{ "device_assignments", PR, "SELECT, INSERT", NULL },
	{ "device_assignments", PR, "UPDATE", "driver_id,valid_to" }, /* forget; unassign */
	{ "device_assignments", RD, "SELECT", NULL },
	{ "driver_consent", IN, "SELECT", NULL },
	{ "driver_consent", AG, "SELECT", NULL },
	{ "driver_consent", PR, "SELECT, INSERT, UPDATE, DELETE", NULL },
	/* the ingest state */
	{ "device_epochs", IN, "SELECT, INSERT, UPDATE", NULL },
	{ "device_epochs", PR, "SELECT", NULL },
	{ "device_epochs", RD, "SELECT", NULL },
	{ "batches", IN, "SELECT, INSERT", NULL },
	{ "batches", PR, "SELECT, DELETE", NULL },
	{ "lost_at_server", IN, "SELECT, INSERT", NULL },
	{ "lost_at_server", PR, "SELECT", NULL },
	/* raw records: ingest adds (and cannot read them back), the aggregation
	 * reads, privacy erases */
	{ "samples", IN, "INSERT", NULL },
	{ "samples", PR, "SELECT, DELETE", NULL },
	{ "tracks", IN, "INSERT", NULL },
	{ "tracks", AG, "SELECT", NULL },
	{ "tracks", PR, "SELECT, DELETE", NULL },
	{ "events", IN, "INSERT", NULL },
	{ "events", AG, "SELECT", NULL },
	{ "events", PR, "SELECT, DELETE", NULL },
	{ "dtc_reports", IN, "INSERT", NULL },
	{ "dtc_reports", AG, "SELECT", NULL },
	{ "dtc_reports", PR, "SELECT, DELETE", NULL },
	{ "vehicle_reports", IN, "INSERT", NULL },
	{ "vehicle_reports", PR, "SELECT, DELETE", NULL },
	{ "phone_states", IN, "INSERT", NULL },
	{ "phone_states", AG, "SELECT", NULL },
	{ "phone_states", PR, "SELECT, DELETE", NULL },
	{ "device_status", IN, "INSERT", NULL },
	{ "device_status", PR, "SELECT, DELETE", NULL },
	{ "device_status", RD, "SELECT", NULL }, /* device list: the outbox backlog (health, no position) */
	{ "crash_traces", IN, "INSERT", NULL },
	{ "crash_traces", PR, "SELECT, DELETE", NULL },
	{ "quarantine", IN, "SELECT, INSERT", NULL },
	{ "quarantine", PR, "SELECT, DELETE", NULL },
	{ "dead_letters", IN, "SELECT, INSERT", NULL },
	{ "dead_letters", PR, "SELECT, DELETE", NULL },
	{ "arrival_drops", IN, "SELECT, INSERT", NULL }, /* SELECT: its ON CONFLICT target */
	{ "arrival_drops", PR, "SELECT", NULL },
	/* real-time alerts (migration 007): raised in the record's transaction and
	 * delivered from the collector's process, as ingest; their details hold
	 * positions: erased with the driver */
	{ "alert_rules", IN, "SELECT", NULL },
	{ "alerts", IN, "SELECT, INSERT", NULL },
	{ "alerts", PR, "SELECT, DELETE", NULL },
	{ "alert_deliveries", IN, "SELECT, INSERT, UPDATE", NULL },
	{ "alert_deliveries", PR, "SELECT, DELETE", NULL },
	/* trips: ingest writes the summary, the aggregation its score */
	{ "trips", IN, "SELECT, INSERT, UPDATE", NULL },
	{ "trips", AG, "SELECT", NULL },
	{ "trips", AG, "UPDATE", TRIP_AGG_COLS },
	{ "trips", PR, "SELECT, DELETE", NULL },
	{ "trips", PR, "UPDATE", "driver_id" }, /* device assign: stored driverless trips of the new window */
	{ "trips", RD, "SELECT", "-start_lat,start_lon" },
	/* features */
	{ "monthly_features_dirty", IN, "SELECT, INSERT", NULL },
	{ "monthly_features_dirty", AG, "SELECT, INSERT, DELETE", NULL },
	{ "monthly_features_dirty", PR, "SELECT, INSERT, DELETE", NULL },
	{ "monthly_features", AG, "SELECT, INSERT, UPDATE", NULL },
	{ "monthly_features", PR, "SELECT, DELETE", NULL },
	{ "monthly_features", RD, "SELECT", NULL },
	{ "monthly_behaviour", AG, "SELECT, INSERT, UPDATE", NULL },
	{ "monthly_behaviour", PR, "SELECT, DELETE", NULL },
	{ "monthly_behaviour", RD, "SELECT", NULL },
	/* map matching (roads match/follow) */
	{ "trip_match_points", AG, "SELECT, INSERT, DELETE", NULL },
	{ "trip_match_points", PR, "SELECT, DELETE", NULL },
	{ "speeding_episodes", AG, "SELECT, INSERT, DELETE", NULL },
	{ "speeding_episodes", PR, "SELECT, DELETE", NULL },
	{ "speeding_episodes", RD, "SELECT", "-start_lat,start_lon" },
	{ "trip_roads", AG, "SELECT, INSERT, DELETE", NULL },
	{ "trip_roads", PR, "SELECT, DELETE", NULL },
	{ "trip_roads", RD, "SELECT", NULL },
	{ "monthly_road_coverage", AG, "SELECT", NULL },
	{ "monthly_road_coverage", RD, "SELECT", NULL },
	/* erasure and its audit: append only */
	{ "erasures", IN, "SELECT", NULL },
	{ "erasures", PR, "SELECT, INSERT", NULL },
	{ "erasure_ranges", IN, "SELECT", NULL },
	{ "erasure_ranges", PR, "SELECT, INSERT", NULL },
	{ "data_audit", PR, "SELECT, INSERT", NULL },
	/* the archive (migration 006): run, restore and verify as the owner;
	 * forget rewrites the driver's files and records it */
	{ "archive_parts", PR, "SELECT, UPDATE", NULL },
	/* schema_migrations: the owner's alone */
};
const size_t odo_n_grants = ODO_ARRAY_LEN(odo_grants);

/* Tables no role but the owner touches (listed, so every table has a row). */
const char *const odo_owner_only[] = { "schema_migrations" };
const size_t odo_n_owner_only = ODO_ARRAY_LEN(odo_owner_only);

static int fail(PGconn *c, PGresult *r, char *why, const char *what, int in_tx)
{
	return odo_pg_fail(c, r, why, WHY_MAX, what, in_tx);
}

int odo_roles_ensure(PGconn *c, char *why)
{
	char missing[128] = "";
	for (size_t i = 0; i < ODO_ARRAY_LEN(odo_roles); i++) {
		const char *v[1] = { odo_roles[i] };
		PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL, v, NULL, NULL, 0);
		if (!odo_pg_ok(r))
			return fail(c, r, why, "pg_roles", 0);
		int exists = PQntuples(r) > 0;
		PQclear(r);
		if (exists)
			continue;
		/* names from the constant list above */
		char sql[96];
		snprintf(sql, sizeof sql, "CREATE ROLE %s NOLOGIN", odo_roles[i]);
		r = PQexec(c, sql);
		if (odo_pg_ok(r)) {
			PQclear(r);
			continue;
		}
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		int dup = st && (strcmp(st, "42710") == 0 || strcmp(st, "23505") == 0); /* created meanwhile */
		PQclear(r);
		if (!dup)
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", missing[0] ? ", " : "",
				 odo_roles[i]);
	}
	if (missing[0]) {
		snprintf(why, WHY_MAX,
			 "role(s) %s do not exist and this user may not create roles: create them as an"
			 " administrator first (docs/deploy.md, \"Database roles\")", missing);
		return ODO_ERR_CONFIG;
	}
	return ODO_OK;
}

static int exec1(PGconn *c, const char *sql, char *why, const char *what)
{
	PGresult *r = PQexec(c, sql); /* identifiers from the constant tables or quote_ident */
	if (!odo_pg_ok(r))
		return fail(c, r, why, what, 1);
	PQclear(r);
	return ODO_OK;
}

/* The column list of a grant, quoted, into out ("" = whole table). */
static int grant_cols(PGconn *c, const struct odo_grant *g, char *out, size_t outsz, char *why)
{
	out[0] = '\0';
	if (!g->cols)
		return ODO_OK;
	int except = g->cols[0] == '-';
	const char *v[2] = { g->rel, except ? g->cols + 1 : g->cols };
	PGresult *r = PQexecParams(c,
		except ? "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
			 " WHERE attrelid = ('public.' || quote_ident($1))::regclass AND attnum > 0"
			 " AND NOT attisdropped AND attname <> ALL (string_to_array($2, ','))"
		       : "SELECT string_agg(quote_ident(x), ', ') FROM unnest(string_to_array($2, ',')) AS x"
			 " WHERE $1::text IS NOT NULL",
		2, NULL, v, NULL, NULL, 0);
	if (!odo_pg_ok(r) || PQntuples(r) != 1)
		return fail(c, r, why, g->rel, 1);
	snprintf(out, outsz, " (%s)", PQgetvalue(r, 0, 0));
	PQclear(r);
	return ODO_OK;
}

int odo_roles_apply(PGconn *c, int *granted, char *why)
{
	*granted = 0;
	int rc = exec1(c, "BEGIN", why, "BEGIN");
	if (rc)
		return rc;
	char sql[2048];
	for (size_t i = 0; i < ODO_ARRAY_LEN(odo_roles) && !rc; i++) {
		snprintf(sql, sizeof sql,
			 "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s;"
			 " REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %s;"
			 " GRANT USAGE ON SCHEMA public TO %s",
			 odo_roles[i], odo_roles[i], odo_roles[i]);
		rc = exec1(c, sql, why, odo_roles[i]);
	}
	for (size_t i = 0; i < odo_n_grants && !rc; i++) {
		const struct odo_grant *g = &odo_grants[i];
		const char *v[1] = { g->rel };
		PGresult *r = PQexecParams(c, "SELECT to_regclass('public.' || quote_ident($1)) IS NOT NULL", 1, NULL,
					   v, NULL, NULL, 0);
		if (!odo_pg_ok(r) || PQntuples(r) != 1)
			return fail(c, r, why, g->rel, 1);
		int exists = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (!exists)
			continue; /* a table of a migration this database does not have yet */
		char cols[1200];
		if ((rc = grant_cols(c, g, cols, sizeof cols, why)))
			return rc;
		snprintf(sql, sizeof sql, "GRANT %s%s ON public.%s TO %s", g->privs, cols, g->rel, g->role);
		if ((rc = exec1(c, sql, why, g->rel)))
			return rc;
		(*granted)++;
		if (!strstr(g->privs, "INSERT"))
			continue;
		/* the sequences of its serial / identity columns */
		r = PQexecParams(c,
			"SELECT string_agg(s.oid::regclass::text, ', ') FROM pg_depend d JOIN pg_class s ON s.oid = d.objid"
			" WHERE d.refobjid = ('public.' || quote_ident($1))::regclass AND s.relkind = 'S'"
			" AND d.deptype IN ('a', 'i')", 1, NULL, v, NULL, NULL, 0);
		if (!odo_pg_ok(r) || PQntuples(r) != 1)
			return fail(c, r, why, g->rel, 1);
		if (!PQgetisnull(r, 0, 0)) {
			snprintf(sql, sizeof sql, "GRANT USAGE ON SEQUENCE %s TO %s", PQgetvalue(r, 0, 0), g->role);
			PQclear(r);
			if ((rc = exec1(c, sql, why, g->rel)))
				return rc;
		} else {
			PQclear(r);
		}
	}
	if (rc)
		return rc;
	/* the optional road layer (roads import creates it): read by map matching */
	PGresult *r = PQexec(c, "SELECT 1 FROM pg_namespace WHERE nspname = 'roads'");
	if (!odo_pg_ok(r))
		return fail(c, r, why, "roads", 1);
	int roads = PQntuples(r) > 0;
	PQclear(r);
	if (roads && (rc = exec1(c, "GRANT USAGE ON SCHEMA roads TO " AG ";"
				     " GRANT SELECT ON ALL TABLES IN SCHEMA roads TO " AG, why, "roads")))
		return rc;
	/* Nobody but the owner creates tables (PostgreSQL 15's default for a new
	 * database; older ones and upgraded clusters let PUBLIC). A savepoint:
	 * a migrating role that does not own schema public cannot revoke. */
	if ((rc = exec1(c, "SAVEPOINT public_create", why, "savepoint")))
		return rc;
	r = PQexec(c, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
	int revoked = odo_pg_ok(r);
	PQclear(r);
	if ((rc = exec1(c, revoked ? "RELEASE SAVEPOINT public_create" : "ROLLBACK TO SAVEPOINT public_create", why,
			"savepoint")))
		return rc;
	return exec1(c, "COMMIT", why, "COMMIT");
}

void odo_roles_print(FILE *f)
{
	fprintf(f, "| table | %s | %s | %s | %s |\n|---|---|---|---|---|\n", odo_roles[0], odo_roles[1], odo_roles[2],
		odo_roles[3]);
	for (size_t i = 0; i < odo_n_grants; i++) {
		const char *rel = odo_grants[i].rel;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(odo_grants[j].rel, rel) == 0;
		if (seen)
			continue;
		fprintf(f, "| `%s` |", rel);
		for (size_t k = 0; k < ODO_ARRAY_LEN(odo_roles); k++) {
			int n = 0;
			for (size_t j = i; j < odo_n_grants; j++) {
				const struct odo_grant *g = &odo_grants[j];
				if (strcmp(g->rel, rel) != 0 || strcmp(g->role, odo_roles[k]) != 0)
					continue;
				fprintf(f, "%s%s", n++ ? "; " : " ", g->privs);
				if (g->cols)
					fprintf(f, " (%s%s)", g->cols[0] == '-' ? "all but " : "",
						g->cols[0] == '-' ? g->cols + 1 : g->cols);
			}
			fprintf(f, "%s |", n ? "" : " -");
		}
		fprintf(f, "\n");
	}
	for (size_t i = 0; i < odo_n_owner_only; i++)
		fprintf(f, "| `%s` | - | - | - | - |\n", odo_owner_only[i]);
}
