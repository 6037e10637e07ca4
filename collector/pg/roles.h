/*
 * odo-collector — least privilege in PostgreSQL (issue #13 item 3).
 *
 * Five roles (docs/security.md "Database roles"):
 *
 *   owner      whoever runs `odo-collector migrate`: owns every table, runs
 *              migrations and `maintain` (partitions) — the only role with DDL,
 *              TRUNCATE, and UPDATE/DELETE on data_audit;
 *   odo_ingest      `run`: SELECT/INSERT/UPDATE on the tables ingest writes;
 *   odo_aggregate   the feature refresh, `aggregate`, `roads match|follow`:
 *                   writes the feature and map-matching tables;
 *   odo_privacy     `forget`, `retention`, `consent set`: deletes personal data,
 *                   writes tombstones, consent and the audit (append only);
 *   odo_reader      analysts and dashboards: features and trips, no raw
 *                   positions (trips without start_lat/start_lon).
 *
 * The four odo_* roles are NOLOGIN group roles: grant them to login roles
 * (or ALTER ROLE ... LOGIN). The matrix is one const table (roles.c); it is
 * applied in full at the end of every `migrate` (REVOKE ALL, then GRANT), so
 * it always equals that table, and it is what `odo-collector roles` prints.
 */
#ifndef ODO_COLLECTOR_ROLES_H
#define ODO_COLLECTOR_ROLES_H

#include <stdio.h>

#include <libpq-fe.h>

#include "odo/err.h"

#define ODO_ROLE_INGEST "odo_ingest"
#define ODO_ROLE_AGGREGATE "odo_aggregate"
#define ODO_ROLE_PRIVACY "odo_privacy"
#define ODO_ROLE_READER "odo_reader"

/* One grant of the matrix. `cols`: NULL = the whole table; "a,b" = only
 * those columns; "-a,b" = every column but those (resolved when applied, so
 * columns later migrations add are included). */
struct odo_grant {
	const char *rel;   /* table or view in schema public */
	const char *role;  /* ODO_ROLE_* */
	const char *privs; /* "SELECT, INSERT" ... */
	const char *cols;
};

extern const struct odo_grant odo_grants[];
extern const size_t odo_n_grants;
/* Tables only the owner may touch. */
extern const char *const odo_owner_only[];
extern const size_t odo_n_owner_only;
/* The four roles, in order. */
extern const char *const odo_roles[4];

/* Create the four roles (NOLOGIN) that do not exist yet. When the current
 * user may not create roles, ODO_ERR_CONFIG naming the missing ones (create
 * them first: docs/deploy.md). Outside a transaction. */
int odo_roles_ensure(PGconn *c, char *why) ODO_NODISCARD;

/* Apply the matrix in one transaction: revoke everything the four roles
 * hold in schema public, grant the table above (tables that do not exist
 * are skipped), USAGE on the sequences of the serial columns of tables a
 * role may INSERT into, read access to the road layer (schema roads) for
 * odo_aggregate when it exists, and no CREATE on schema public for PUBLIC.
 * *granted = GRANT statements run. */
int odo_roles_apply(PGconn *c, int *granted, char *why) ODO_NODISCARD;

/* The matrix as a Markdown table (docs/security.md). */
void odo_roles_print(FILE *f);

#endif
