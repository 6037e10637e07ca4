/* odo-collector — applying the embedded migrations (see aggregate.h). */
#include <stdio.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "pg/result.h"
#include "pg/migrations.h"

#define WHY_MAX 256
/* Advisory lock key serialising concurrent `odo-collector migrate` runs. */
#define MIGRATE_LOCK_KEY "7301000001"

/* Every failure here ends the transaction. */
static int fail(PGconn *c, PGresult *r, char *why, const char *what)
{
	return odo_pg_fail(c, r, why, WHY_MAX, what, 1);
}

int odo_migrate(PGconn *c, int *applied, char *why)
{
	*applied = 0;
	PGresult *r = PQexec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
				" name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
	if (!odo_pg_ok(r)) {
		/* a concurrent first run may race on the catalog; the lock below orders the rest */
		PQclear(r);
		r = PQexec(c, "SELECT 1 FROM schema_migrations LIMIT 0");
		if (!odo_pg_ok(r))
			return fail(c, r, why, "schema_migrations");
	}
	PQclear(r);
	for (size_t i = 0; i < odo_n_migrations; i++) {
		const struct odo_migration *m = &odo_migrations[i];
		char ver[16];
		snprintf(ver, sizeof ver, "%d", m->version);
		const char *v[2] = { ver, m->name };
		r = PQexec(c, "BEGIN");
		if (!odo_pg_ok(r))
			return fail(c, r, why, "BEGIN");
		PQclear(r);
		r = PQexec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")");
		if (!odo_pg_ok(r))
			return fail(c, r, why, "lock");
		PQclear(r);
		r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1, NULL, v, NULL, NULL, 0);
		if (!odo_pg_ok(r))
			return fail(c, r, why, m->name);
		int done = PQntuples(r) > 0;
		PQclear(r);
		if (!done) {
			r = PQexec(c, m->sql); /* trusted text compiled into the binary */
			if (!odo_pg_ok(r))
				return fail(c, r, why, m->name);
			PQclear(r);
			r = PQexecParams(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
					 NULL, v, NULL, NULL, 0);
			if (!odo_pg_ok(r))
				return fail(c, r, why, m->name);
			PQclear(r);
		}
		r = PQexec(c, "COMMIT");
		if (!odo_pg_ok(r))
			return fail(c, r, why, "COMMIT");
		PQclear(r);
		if (!done)
			(*applied)++;
	}
	return ODO_OK;
}
