/* odo-collector — the outcome of a libpq statement (result.h). */
#include "pg/result.h"

#include <stdio.h>
#include <string.h>

#include "odo/err.h"

int odo_pg_ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

int odo_pg_fail(PGconn *c, PGresult *r, char *why, size_t whylen, const char *what, int rollback)
{
	snprintf(why, whylen, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	why[strcspn(why, "\n")] = '\0';
	PQclear(r);
	if (rollback)
		PQclear(PQexec(c, "ROLLBACK"));
	return ODO_ERR_DB;
}
