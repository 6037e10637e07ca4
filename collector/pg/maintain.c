/* odo-collector — month partitions ahead of time (see maintain.h). */
#include "pg/maintain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/result.h"

#define WHY_MAX 256
/* Advisory lock key serialising concurrent maintain runs (migrate uses ...01). */
#define MAINTAIN_LOCK_KEY "7301000002"
/* Tables partitioned by month of t. */
static const char *const PARTITIONED[] = { "samples", "tracks" };

/* Every failure here ends the transaction. */
static int fail(PGconn *c, PGresult *r, char *why, const char *what)
{
	return odo_pg_fail(c, r, why, WHY_MAX, what, 1);
}

int odo_maintain(PGconn *c, int months_back, int months_ahead, int *created, int *dropped, char *why)
{
	*created = 0;
	if (dropped)
		*dropped = 0;
	if (months_back < 0 || months_ahead < 0) {
		snprintf(why, WHY_MAX, "the partition window must not be negative");
		return ODO_ERR_INVAL;
	}
	PGresult *r = PQexec(c, "BEGIN");
	if (!odo_pg_ok(r))
		return fail(c, r, why, "BEGIN");
	PQclear(r);
	r = PQexec(c, "SELECT pg_advisory_xact_lock(" MAINTAIN_LOCK_KEY ")");
	if (!odo_pg_ok(r))
		return fail(c, r, why, "lock");
	PQclear(r);
	r = PQexec(c, "SELECT extract(year FROM now() AT TIME ZONE 'UTC')::int,"
		      " extract(month FROM now() AT TIME ZONE 'UTC')::int");
	if (!odo_pg_ok(r) || PQntuples(r) != 1)
		return fail(c, r, why, "clock");
	int now_m = atoi(PQgetvalue(r, 0, 0)) * 12 + atoi(PQgetvalue(r, 0, 1)) - 1;
	PQclear(r);
	for (size_t t = 0; t < ODO_ARRAY_LEN(PARTITIONED); t++) {
		for (int m = now_m - months_back; m <= now_m + months_ahead; m++) {
			int y = m / 12, mo = m % 12 + 1, ny = (m + 1) / 12, nmo = (m + 1) % 12 + 1;
			char name[64], sql[320];
			/* identifiers and bounds from the table list and integers only */
			snprintf(name, sizeof name, "%s_%04d_%02d", PARTITIONED[t], y, mo);
			const char *v[1] = { name };
			r = PQexecParams(c, "SELECT 1 FROM pg_class WHERE relname = $1 AND relkind IN ('r', 'p')"
					    " AND pg_table_is_visible(oid)", 1, NULL, v, NULL, NULL, 0);
			if (!odo_pg_ok(r))
				return fail(c, r, why, name);
			int exists = PQntuples(r) > 0;
			PQclear(r);
			if (exists)
				continue;
			snprintf(sql, sizeof sql,
				 "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%04d-%02d-01 00:00:00+00')"
				 " TO ('%04d-%02d-01 00:00:00+00')",
				 name, PARTITIONED[t], y, mo, ny, nmo);
			r = PQexec(c, sql);
			if (!odo_pg_ok(r))
				return fail(c, r, why, name);
			PQclear(r);
			(*created)++;
		}
	}
	/* Partitions before the window that retention left empty: dropped
	 * (DDL is the owner's; retention, as odo_privacy, deletes rows only).
	 * A partition that still holds rows is kept whatever its age. */
	for (size_t t = 0; t < ODO_ARRAY_LEN(PARTITIONED); t++) {
		const char *v[2] = { PARTITIONED[t], "" };
		char first[16];
		int m0 = now_m - months_back;
		snprintf(first, sizeof first, "%04d_%02d", m0 / 12, m0 % 12 + 1);
		v[1] = first;
		r = PQexecParams(c, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
				    " WHERE i.inhparent = $1::text::regclass AND c.relname ~ ('^' || $1::text || '_[0-9]{4}_[0-9]{2}$')"
				    " AND substr(c.relname, length($1::text) + 2) < $2::text ORDER BY 1", 2, NULL, v, NULL, NULL, 0);
		if (!odo_pg_ok(r))
			return fail(c, r, why, PARTITIONED[t]);
		for (int i = 0; i < PQntuples(r); i++) {
			char name[64], sql[160];
			int y, mo;
			/* names of the form maintain creates, rebuilt from integers */
			if (sscanf(PQgetvalue(r, i, 0) + strlen(PARTITIONED[t]), "_%4d_%2d", &y, &mo) != 2)
				continue;
			snprintf(name, sizeof name, "%s_%04d_%02d", PARTITIONED[t], y, mo);
			snprintf(sql, sizeof sql, "SELECT NOT EXISTS (SELECT 1 FROM %s)", name);
			PGresult *e = PQexec(c, sql);
			if (!odo_pg_ok(e)) {
				PQclear(r);
				return fail(c, e, why, name);
			}
			int empty = PQgetvalue(e, 0, 0)[0] == 't';
			PQclear(e);
			if (!empty)
				continue;
			snprintf(sql, sizeof sql, "DROP TABLE %s", name);
			e = PQexec(c, sql);
			if (!odo_pg_ok(e)) {
				PQclear(r);
				return fail(c, e, why, name);
			}
			PQclear(e);
			if (dropped)
				(*dropped)++;
		}
		PQclear(r);
	}
	r = PQexec(c, "COMMIT");
	if (!odo_pg_ok(r))
		return fail(c, r, why, "COMMIT");
	PQclear(r);
	return ODO_OK;
}
