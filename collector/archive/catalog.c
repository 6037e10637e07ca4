/* odo-collector archive — tables, columns, row checksums, months, session (archive_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/archive_int.h"

/*
 * The raw tables. Not archived: trips and monthly_features (the
 * aggregates stay), dtc_reports (monthly_features.has_dtc_codes is computed
 * from it, so a month recomputed later must still find them; they are a
 * few rows per vehicle and month), trip_match_points/trip_roads/
 * speeding_episodes (derived per trip, erased with it), batches and the
 * per-device state. dead_letters and quarantine go by arrival time, as
 * forget and retention treat them.
 */
const struct arc_table arc__tables[] = {
	{ "samples", "t", "device_id", 1 },
	{ "tracks", "t", "device_id", 1 },
	{ "events", "t", "device_id", 0 },
	{ "vehicle_reports", "t", "device_id", 0 },
	{ "phone_states", "t", "device_id", 0 },
	{ "device_status", "t", "device_id", 0 },
	{ "crash_traces", "t", "device_id", 0 },
	{ "dead_letters", "received_at", "topic_device", 0 },
	{ "quarantine", "received_at", "device_id", 0 },
};
const size_t arc__ntables = ODO_ARRAY_LEN(arc__tables);

const struct arc_table *arc__table(const char *name)
{
	for (size_t i = 0; i < arc__ntables; i++)
		if (strcmp(arc__tables[i].name, name) == 0)
			return &arc__tables[i];
	return NULL;
}

/* ---- statements ----------------------------------------------------------- */

void arc__whyf(char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, ARC_WHY, fmt, ap);
	va_end(ap);
}

static void db_why(PGconn *c, const PGresult *r, char *why)
{
	arc__whyf(why, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	why[strcspn(why, "\n")] = '\0';
}

PGresult *arc__query(PGconn *c, const char *sql, int n, const char *const *vals, char *why)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	db_why(c, r, why);
	PQclear(r);
	return NULL;
}

int arc__exec(PGconn *c, const char *sql, int n, const char *const *vals, long long *rows, char *why)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		db_why(c, r, why);
		PQclear(r);
		return ODO_ERR_DB;
	}
	if (rows)
		*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	return ODO_OK;
}

void arc__rollback(PGconn *c)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

int arc__session(PGconn *c, char *why)
{
	/* The CSV must read back the same whatever the server's defaults:
	 * timestamps in UTC ISO, floats as the shortest exact text, bytea hex. */
	static const char *const set[] = {
		"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
		"SET extra_float_digits = 1", "SET bytea_output = 'hex'", "SET client_encoding = 'UTF8'",
		"SET client_min_messages = warning", /* no NOTICEs of IF [NOT] EXISTS */
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(set); i++)
		if (arc__exec(c, set[i], 0, NULL, NULL, why))
			return ODO_ERR_DB;
	PGresult *r = arc__query(c, "SELECT pg_try_advisory_lock(" ARC_LOCK_KEY ")", 0, NULL, why);
	if (!r)
		return ODO_ERR_DB;
	int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!got) {
		arc__whyf(why, "another archive command is running on this database");
		return ODO_ERR_AGAIN;
	}
	return ODO_OK;
}

void arc__unlock(PGconn *c)
{
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" ARC_LOCK_KEY ")"));
}

int arc__ident(PGconn *c, const char *name, char *buf, size_t len)
{
	char *q = PQescapeIdentifier(c, name, strlen(name));
	if (!q)
		return ODO_ERR_NOMEM;
	int rc = strlen(q) < len ? ODO_OK : ODO_ERR_TOOBIG;
	if (!rc)
		snprintf(buf, len, "%s", q);
	PQfreemem(q);
	return rc;
}

int arc__audit(PGconn *c, const char *action, long long rows, const char *detail, const char *by, char *why)
{
	char n[32];
	snprintf(n, sizeof n, "%lld", rows);
	const char *v[4] = { action, n, detail, by };
	return arc__exec(c, "INSERT INTO data_audit (action, rows_deleted, detail, performed_by)"
			    " VALUES ($1, $2::bigint, $3, $4)", 4, v, NULL, why);
}

/* ---- columns -------------------------------------------------------------- */

void arc__cols_free(struct arc_cols *cols)
{
	for (size_t i = 0; i < cols->n; i++) {
		free(cols->name[i]);
		free(cols->type[i]);
	}
	free(cols->name);
	free(cols->type);
	free(cols->list);
	free(cols->pk);
	free(cols->text);
	memset(cols, 0, sizeof *cols);
}

/* Append a quoted identifier to a comma-separated list. */
static int list_add(PGconn *c, char **list, const char *name)
{
	char *q = PQescapeIdentifier(c, name, strlen(name));
	if (!q)
		return ODO_ERR_NOMEM;
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + strlen(q) + 3);
	if (!n) {
		PQfreemem(q);
		return ODO_ERR_NOMEM;
	}
	sprintf(n + old, "%s%s", old ? ", " : "", q);
	*list = n;
	PQfreemem(q);
	return ODO_OK;
}

static int cols_add(PGconn *c, struct arc_cols *cols, const char *name, const char *type)
{
	char **nn = realloc(cols->name, (cols->n + 1) * sizeof *nn);
	if (!nn)
		return ODO_ERR_NOMEM;
	cols->name = nn;
	char **tt = realloc(cols->type, (cols->n + 1) * sizeof *tt);
	if (!tt)
		return ODO_ERR_NOMEM;
	cols->type = tt;
	cols->name[cols->n] = strdup(name);
	cols->type[cols->n] = strdup(type);
	cols->n++;
	if (!cols->name[cols->n - 1] || !cols->type[cols->n - 1])
		return ODO_ERR_NOMEM;
	size_t old = cols->text ? strlen(cols->text) : 0;
	char *t = realloc(cols->text, old + strlen(name) + strlen(type) + 3);
	if (!t)
		return ODO_ERR_NOMEM;
	sprintf(t + old, "%s %s\n", name, type);
	cols->text = t;
	return list_add(c, &cols->list, name);
}

int arc__cols_of_table(PGconn *c, const char *table, struct arc_cols *out, char *why)
{
	memset(out, 0, sizeof *out);
	const char *v[1] = { table };
	PGresult *r = arc__query(c,
		"SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
		" WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
		1, v, why);
	if (!r)
		return ODO_ERR_DB;
	int rc = PQntuples(r) ? ODO_OK : ODO_ERR_NOTFOUND;
	if (rc)
		arc__whyf(why, "no table %s", table);
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = cols_add(c, out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	if (rc)
		goto fail;
	r = arc__query(c,
		"SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)"
		" JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
		" WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.ord",
		1, v, why);
	if (!r) {
		rc = ODO_ERR_DB;
		goto fail;
	}
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = list_add(c, &out->pk, PQgetvalue(r, i, 0));
	if (!rc && !PQntuples(r)) {
		arc__whyf(why, "table %s has no primary key to order its archive by", table);
		rc = ODO_ERR_INVAL;
	}
	PQclear(r);
	if (!rc)
		return ODO_OK;
fail:
	if (rc == ODO_ERR_NOMEM)
		arc__whyf(why, "out of memory");
	arc__cols_free(out);
	return rc;
}

int arc__cols_parse(PGconn *c, const char *text, struct arc_cols *out, char *why)
{
	memset(out, 0, sizeof *out);
	const char *p = text;
	int rc = ODO_OK;
	while (*p && !rc) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *sp = memchr(p, ' ', len);
		if (!sp || sp == p) {
			arc__whyf(why, "bad column list in archive_parts");
			rc = ODO_ERR_INVAL;
			break;
		}
		char name[128], type[128];
		snprintf(name, sizeof name, "%.*s", (int)(sp - p), p);
		snprintf(type, sizeof type, "%.*s", (int)(len - (size_t)(sp - p) - 1), sp + 1);
		rc = cols_add(c, out, name, type);
		p += len + (nl ? 1 : 0);
	}
	if (!rc && out->n == 0) {
		arc__whyf(why, "empty column list in archive_parts");
		rc = ODO_ERR_INVAL;
	}
	if (rc)
		arc__cols_free(out);
	return rc;
}

/* ---- checksums ------------------------------------------------------------- */

void arc__checksum_sql(char *sql, size_t len, const char *src, const struct arc_cols *cols)
{
	/* md5 of the row's text form; its two 64-bit halves summed as numeric:
	 * independent of row order, sensitive to every value, duplicates and
	 * missing rows (docs/archive.md "Verification"). */
	snprintf(sql, len,
		 "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0),"
		 " coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)"
		 " FROM (SELECT md5(ROW(%s)::text) AS h FROM %s) s",
		 cols->list, src);
}

int arc__checksum(PGconn *c, const char *rel, const struct arc_cols *cols, const char *where, struct arc_sum *out,
		  char *why)
{
	char *src = malloc(ARC_SQL), *sql = malloc(ARC_SQL + 1024);
	int rc = ODO_ERR_NOMEM;
	if (!src || !sql) {
		arc__whyf(why, "out of memory");
		goto out;
	}
	snprintf(src, ARC_SQL, "%s%s%s", rel, where ? " WHERE " : "", where ? where : "");
	arc__checksum_sql(sql, ARC_SQL + 1024, src, cols);
	PGresult *r = arc__query(c, sql, 0, NULL, why);
	rc = ODO_ERR_DB;
	if (!r)
		goto out;
	out->rows = atoll(PQgetvalue(r, 0, 0));
	snprintf(out->hi, sizeof out->hi, "%s", PQgetvalue(r, 0, 1));
	snprintf(out->lo, sizeof out->lo, "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	rc = ODO_OK;
out:
	free(src);
	free(sql);
	return rc;
}

int arc__sum_equal(const struct arc_sum *a, const struct arc_sum *b)
{
	return a->rows == b->rows && strcmp(a->hi, b->hi) == 0 && strcmp(a->lo, b->lo) == 0;
}

/* ---- months ------------------------------------------------------------------ */

int arc__month_parse(const char *s, int *ym)
{
	int y, m;
	char tail;
	if (!s || strlen(s) != 7 || sscanf(s, "%4d-%2d%c", &y, &m, &tail) != 2 || s[4] != '-' || y < 1970 ||
	    y > 9999 || m < 1 || m > 12)
		return ODO_ERR_INVAL;
	*ym = y * 12 + m - 1;
	return ODO_OK;
}

void arc__month_str(int ym, char out[8])
{
	int y = ym / 12, m = ym % 12 + 1;
	if (ym < 0 || y > 9999) {
		snprintf(out, 8, "?");
		return;
	}
	out[0] = (char)('0' + y / 1000), out[1] = (char)('0' + y / 100 % 10), out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10), out[4] = '-', out[5] = (char)('0' + m / 10), out[6] = (char)('0' + m % 10);
	out[7] = '\0';
}

void arc__month_where(char *out, size_t len, const char *quoted_col, int ym)
{
	/* literals from integers only: COPY (query) takes no parameters */
	snprintf(out, len, "%s >= '%04d-%02d-01 00:00:00+00' AND %s < '%04d-%02d-01 00:00:00+00'", quoted_col,
		 ym / 12, ym % 12 + 1, quoted_col, (ym + 1) / 12, (ym + 1) % 12 + 1);
}

int arc__month_of(int64_t now_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

int64_t arc__month_start_s(int ym)
{
	/* days from 1970-01-01 to y-m-01 (proleptic Gregorian, H. Hinnant's
	 * days_from_civil) */
	int64_t y = ym / 12, m = ym % 12 + 1;
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400;
}
