/* odo-collector archive — `archive run`: export, verify, remove, expire (archive.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/archive_int.h"
#include "odo/log.h"

#define ARC_ATTEMPTS 3 /* exports of one month in one run when rows keep changing under it */
#define ARC_CHECK_TABLE "arc_check"

/* ---- parts ------------------------------------------------------------------- */

void arc__parts_free(struct arc_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].columns);
	free(p);
}

int arc__parts(PGconn *c, const char *table, int ym, const char *states, struct arc_part **out, size_t *n, char *why)
{
	*out = NULL;
	*n = 0;
	char month[8];
	if (ym >= 0)
		arc__month_str(ym, month);
	const char *v[3] = { table, ym >= 0 ? month : NULL, states };
	PGresult *r = arc__query(c,
		"SELECT tbl, month, part, state, path, columns, rows, csv_sha256, gz_sha256, gz_bytes, sum_hi, sum_lo"
		" FROM archive_parts WHERE ($1::text IS NULL OR tbl = $1) AND ($2::text IS NULL OR month = $2)"
		" AND state = ANY (string_to_array($3, ',')) ORDER BY tbl, month, part", 3, v, why);
	if (!r)
		return ODO_ERR_DB;
	int rows = PQntuples(r);
	struct arc_part *p = rows ? calloc((size_t)rows, sizeof *p) : NULL;
	if (rows && !p) {
		PQclear(r);
		arc__whyf(why, "out of memory");
		return ODO_ERR_NOMEM;
	}
	for (int i = 0; i < rows; i++) {
		snprintf(p[i].table, sizeof p[i].table, "%s", PQgetvalue(r, i, 0));
		(void)arc__month_parse(PQgetvalue(r, i, 1), &p[i].ym);
		p[i].part = atoi(PQgetvalue(r, i, 2));
		snprintf(p[i].state, sizeof p[i].state, "%s", PQgetvalue(r, i, 3));
		snprintf(p[i].path, sizeof p[i].path, "%s", PQgetvalue(r, i, 4));
		p[i].columns = strdup(PQgetvalue(r, i, 5));
		p[i].f.rows = atoll(PQgetvalue(r, i, 6));
		snprintf(p[i].f.csv_sha, sizeof p[i].f.csv_sha, "%s", PQgetvalue(r, i, 7));
		snprintf(p[i].f.gz_sha, sizeof p[i].f.gz_sha, "%s", PQgetvalue(r, i, 8));
		p[i].f.gz_bytes = atoll(PQgetvalue(r, i, 9));
		p[i].sum.rows = p[i].f.rows;
		snprintf(p[i].sum.hi, sizeof p[i].sum.hi, "%s", PQgetvalue(r, i, 10));
		snprintf(p[i].sum.lo, sizeof p[i].sum.lo, "%s", PQgetvalue(r, i, 11));
		if (!p[i].columns) {
			PQclear(r);
			arc__parts_free(p, (size_t)rows);
			arc__whyf(why, "out of memory");
			return ODO_ERR_NOMEM;
		}
	}
	PQclear(r);
	*out = p;
	*n = (size_t)rows;
	return ODO_OK;
}

void arc__abs(char *out, size_t len, const struct odo_archive_cfg *cfg, const struct arc_part *p)
{
	snprintf(out, len, "%s/%s", cfg->dir, p->path);
}

int arc__verify_part(PGconn *c, const struct odo_archive_cfg *cfg, const struct arc_part *p, const char *tmp,
		     char *why)
{
	char path[ARC_PATH * 2];
	arc__abs(path, sizeof path, cfg, p);
	int rc = arc__file_check(path, &p->f, why);
	if (rc)
		return rc;
	struct arc_cols cols;
	if ((rc = arc__cols_parse(c, p->columns, &cols, why)))
		return rc;
	long long rows = 0;
	struct arc_sum got;
	rc = arc__load_temp(c, p->table, tmp, &cols, path, &rows, why);
	if (!rc && rows != p->f.rows) {
		arc__whyf(why, "%s: %lld rows read back, %lld recorded", path, rows, p->f.rows);
		rc = ODO_ERR_PROTOCOL;
	}
	char qtmp[80];
	snprintf(qtmp, sizeof qtmp, "pg_temp.%s", tmp);
	if (!rc)
		rc = arc__checksum(c, qtmp, &cols, NULL, &got, why);
	if (!rc && !arc__sum_equal(&got, &p->sum)) {
		arc__whyf(why, "%s: the rows read back do not have the recorded row checksum", path);
		rc = ODO_ERR_PROTOCOL;
	}
	arc__cols_free(&cols);
	return rc;
}

/* ---- one month ------------------------------------------------------------------ */

struct month_ctx {
	PGconn *c;
	const struct odo_archive_cfg *cfg;
	const char *by;
	const struct arc_table *t;
	char qtable[80], qtime[80];
	struct arc_cols cols;
	struct odo_archive_result *res;
	int failed; /* some month could not be archived (reported at the end) */
};

static int next_part_no(PGconn *c, const char *table, int ym, int *part, char *why)
{
	char month[8];
	arc__month_str(ym, month);
	const char *v[2] = { table, month };
	PGresult *r = arc__query(c, "SELECT coalesce(max(part), 0) + 1 FROM archive_parts WHERE tbl = $1 AND month = $2",
				 2, v, why);
	if (!r)
		return ODO_ERR_DB;
	*part = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return ODO_OK;
}

/* Export the month's rows as a new part (state exported); *none when the
 * month has no rows. */
static int export_part(struct month_ctx *m, int ym, struct arc_part *p, int *none, char *why)
{
	PGconn *c = m->c;
	*none = 0;
	memset(p, 0, sizeof *p);
	snprintf(p->table, sizeof p->table, "%s", m->t->name);
	p->ym = ym;
	snprintf(p->state, sizeof p->state, "exported");
	int rc = next_part_no(c, m->t->name, ym, &p->part, why);
	if (rc)
		return rc;
	char where[256], dir[ARC_PATH], name[128], path[ARC_PATH + 160];
	arc__month_where(where, sizeof where, m->qtime, ym);
	arc__month_dir(dir, sizeof dir, m->cfg->dir, m->t->name, ym);
	arc__part_name(name, sizeof name, m->t->name, ym, p->part);
	snprintf(p->path, sizeof p->path, "%s/%04d/%02d/%s", m->t->name, ym / 12, ym % 12 + 1, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((rc = arc__mkdirs(dir, why)))
		return rc;
	/* one snapshot for the checksum and the file */
	if ((rc = arc__exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, why)))
		return rc;
	rc = arc__checksum(c, m->qtable, &m->cols, where, &p->sum, why);
	if (!rc && p->sum.rows == 0) {
		*none = 1;
		return arc__exec(c, "COMMIT", 0, NULL, NULL, why);
	}
	struct arc_file ex;
	if (!rc)
		rc = arc__export(c, m->qtable, &m->cols, where, path, (int)m->cfg->gzip_level, &ex, why);
	if (rc) {
		arc__rollback(c);
		return rc;
	}
	if ((rc = arc__exec(c, "COMMIT", 0, NULL, NULL, why)))
		return rc;
	if (ex.rows != p->sum.rows) {
		arc__whyf(why, "%s: %lld rows written, %lld in the snapshot", path, ex.rows, p->sum.rows);
		unlink(path);
		return ODO_ERR_DB;
	}
	/* read back #1: the whole gzip stream, and the content is what was sent */
	if ((rc = arc__file_sums(path, &p->f, why)))
		return rc;
	if (strcmp(p->f.csv_sha, ex.csv_sha) != 0) {
		arc__whyf(why, "%s: reads back differently from what was written", path);
		return ODO_ERR_PROTOCOL;
	}
	p->f.rows = ex.rows;
	p->columns = strdup(m->cols.text);
	if (!p->columns) {
		arc__whyf(why, "out of memory");
		return ODO_ERR_NOMEM;
	}
	char month[8], rows[32], bytes[32], part[16];
	arc__month_str(ym, month);
	snprintf(rows, sizeof rows, "%lld", p->f.rows);
	snprintf(bytes, sizeof bytes, "%lld", p->f.gz_bytes);
	snprintf(part, sizeof part, "%d", p->part);
	const char *v[12] = { p->table, month, part, p->path, p->columns, rows, p->f.csv_sha, p->f.gz_sha, bytes,
			      p->sum.hi, p->sum.lo, m->by };
	return arc__exec(c, "INSERT INTO archive_parts (tbl, month, part, state, path, columns, rows, csv_sha256,"
			    " gz_sha256, gz_bytes, sum_hi, sum_lo, performed_by)"
			    " VALUES ($1, $2, $3::int, 'exported', $4, $5, $6::bigint, $7, $8, $9::bigint, $10::numeric,"
			    " $11::numeric, $12)", 12, v, NULL, why);
}

/* A part that will not be used: its row ends, its file goes (kept as
 * .bad for inspection when `bad`). */
static void retire(struct month_ctx *m, const struct arc_part *p, int bad)
{
	char path[ARC_PATH * 2], why[ARC_WHY], part[16], month[8];
	arc__abs(path, sizeof path, m->cfg, p);
	if (bad) {
		char to[ARC_PATH * 2 + 8];
		snprintf(to, sizeof to, "%s.bad", path);
		if (rename(path, to) == 0)
			ODO_LOG(ERROR, "archive", "kept the refused file as %s for inspection", to);
	} else {
		unlink(path);
	}
	arc__month_str(p->ym, month);
	snprintf(part, sizeof part, "%d", p->part);
	const char *v[3] = { p->table, month, part };
	if (arc__exec(m->c, "UPDATE archive_parts SET state = 'superseded', ended_at = now()"
			    " WHERE tbl = $1 AND month = $2 AND part = $3::int", 3, v, NULL, why))
		ODO_LOG(ERROR, "archive", "cannot retire %s part %d: %s", p->table, p->part, why);
}

/* Remove exactly the part's rows from the table, or nothing. *changed when
 * the rows are not those of the export (late arrivals, edits). */
static int drop_rows(struct month_ctx *m, const struct arc_part *p, int *changed, char *why)
{
	PGconn *c = m->c;
	*changed = 0;
	char where[256], sql[ARC_SQL * 2];
	arc__month_where(where, sizeof where, m->qtime, p->ym);
	int rc = arc__exec(c, "BEGIN", 0, NULL, NULL, why);
	if (rc)
		return rc;
	struct arc_sum got;
	if (m->t->partitioned) {
		/* the month's partition: lock it (ingest waits only if it writes to
		 * this month), check its rows are the archived ones, truncate */
		char part[96], qpart[128];
		snprintf(part, sizeof part, "%s_%04d_%02d", m->t->name, p->ym / 12, p->ym % 12 + 1);
		if ((rc = arc__ident(c, part, qpart, sizeof qpart)))
			goto fail;
		const char *pv[1] = { part };
		PGresult *e = arc__query(c, "SELECT to_regclass($1) IS NOT NULL", 1, pv, why);
		if (!e) {
			rc = ODO_ERR_DB;
			goto fail;
		}
		int exists = strcmp(PQgetvalue(e, 0, 0), "t") == 0;
		PQclear(e);
		if (!exists) {
			/* dropped meanwhile (retention): its rows are not those of the export */
			*changed = 1;
			arc__rollback(c);
			return ODO_OK;
		}
		snprintf(sql, sizeof sql, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", qpart);
		if ((rc = arc__exec(c, sql, 0, NULL, NULL, why)))
			goto fail;
		if ((rc = arc__checksum(c, qpart, &m->cols, NULL, &got, why)))
			goto fail;
		if (!arc__sum_equal(&got, &p->sum)) {
			*changed = 1;
			arc__rollback(c);
			return ODO_OK;
		}
		snprintf(sql, sizeof sql, "TRUNCATE %s", qpart);
		rc = arc__exec(c, sql, 0, NULL, NULL, why);
	} else {
		/* delete, and checksum exactly what was deleted, in one statement */
		char inner[ARC_SQL];
		arc__checksum_sql(inner, sizeof inner, "d", &m->cols);
		snprintf(sql, sizeof sql, "WITH d AS (DELETE FROM %s WHERE %s RETURNING %s) %s", m->qtable, where,
			 m->cols.list, inner);
		PGresult *r = arc__query(c, sql, 0, NULL, why);
		if (!r) {
			rc = ODO_ERR_DB;
			goto fail;
		}
		got.rows = atoll(PQgetvalue(r, 0, 0));
		snprintf(got.hi, sizeof got.hi, "%s", PQgetvalue(r, 0, 1));
		snprintf(got.lo, sizeof got.lo, "%s", PQgetvalue(r, 0, 2));
		PQclear(r);
		if (!arc__sum_equal(&got, &p->sum)) {
			*changed = 1;
			arc__rollback(c);
			return ODO_OK;
		}
	}
	if (rc)
		goto fail;
	char month[8], part[16], detail[ARC_PATH + 128];
	arc__month_str(p->ym, month);
	snprintf(part, sizeof part, "%d", p->part);
	const char *v[3] = { p->table, month, part };
	/* this part now holds the month's rows; earlier parts whose rows were
	 * restored (and so were exported again in this one) are superseded */
	rc = arc__exec(c, "UPDATE archive_parts SET state = 'dropped', dropped_at = now()"
			  " WHERE tbl = $1 AND month = $2 AND part = $3::int", 3, v, NULL, why);
	rc = rc ? rc : arc__exec(c, "UPDATE archive_parts SET state = 'superseded', ended_at = now()"
				    " WHERE tbl = $1 AND month = $2 AND part < $3::int AND state = 'restored'", 3, v, NULL, why);
	snprintf(detail, sizeof detail, "%s %s part %d: %lld rows moved to %s (verified)", p->table, month, p->part,
		 p->f.rows, p->path);
	rc = rc ? rc : arc__audit(c, "archive", p->f.rows, detail, m->by, why);
	rc = rc ? rc : arc__exec(c, "COMMIT", 0, NULL, NULL, why);
	if (!rc)
		return ODO_OK;
fail:
	arc__rollback(c);
	return rc;
}

/* Files of superseded parts left behind (a crash between a commit and the unlink). */
static void sweep_superseded(struct month_ctx *m, int ym)
{
	struct arc_part *p;
	size_t n;
	char why[ARC_WHY];
	if (arc__parts(m->c, m->t->name, ym, "superseded,expired", &p, &n, why))
		return;
	for (size_t i = 0; i < n; i++) {
		char path[ARC_PATH * 2];
		arc__abs(path, sizeof path, m->cfg, &p[i]);
		if (unlink(path) == 0)
			ODO_LOG(INFO, "archive", "removed %s (%s)", path, p[i].state);
	}
	arc__parts_free(p, n);
}

static int archive_month(struct month_ctx *m, int ym, int keep_rows, char *why)
{
	char month[8];
	arc__month_str(ym, month);
	for (int attempt = 0; attempt < ARC_ATTEMPTS; attempt++) {
		struct arc_part *pend;
		size_t npend;
		int rc = arc__parts(m->c, m->t->name, ym, "exported", &pend, &npend, why);
		if (rc)
			return rc;
		struct arc_part p;
		int none = 0;
		if (npend) {
			p = pend[npend - 1];
			pend[npend - 1].columns = NULL; /* moved */
			for (size_t i = 0; i + 1 < npend; i++)
				retire(m, &pend[i], 0); /* cannot happen: one pending export at a time */
		} else {
			rc = export_part(m, ym, &p, &none, why);
			if (rc == ODO_OK && !none)
				ODO_LOG(INFO, "archive", "%s %s: %lld rows exported to %s (%lld bytes)", m->t->name, month,
					p.f.rows, p.path, p.f.gz_bytes);
		}
		arc__parts_free(pend, npend);
		if (rc || none)
			return rc;
		/* read back #2: the file against its checksums, loaded into a
		 * temporary table whose rows must carry the export's checksum */
		rc = arc__verify_part(m->c, m->cfg, &p, ARC_CHECK_TABLE, why);
		if (rc == ODO_ERR_PROTOCOL || rc == ODO_ERR_IO) {
			ODO_LOG(ERROR, "archive", "%s %s: REFUSED, nothing removed from the database: %s", m->t->name, month,
				why);
			retire(m, &p, 1);
			free(p.columns);
			char mwhy[ARC_WHY];
			if (arc__manifest(m->c, m->cfg, m->t->name, ym, mwhy))
				ODO_LOG(ERROR, "archive", "manifest of %s %s: %s", m->t->name, month, mwhy);
			arc__whyf(why, "%s %s: the archive file failed verification; its rows stay in the database",
				 m->t->name, month);
			return ODO_ERR_PROTOCOL;
		}
		if (rc) {
			free(p.columns);
			return rc;
		}
		if (keep_rows) {
			ODO_LOG(INFO, "archive", "%s %s part %d verified; rows kept (--keep-rows)", m->t->name, month, p.part);
			free(p.columns);
			return arc__manifest(m->c, m->cfg, m->t->name, ym, why);
		}
		int changed;
		rc = drop_rows(m, &p, &changed, why);
		if (rc == ODO_OK && changed) {
			ODO_LOG(WARN, "archive", "%s %s: rows changed since the export (late records?): exporting again",
				m->t->name, month);
			retire(m, &p, 0);
			free(p.columns);
			continue;
		}
		if (rc == ODO_OK) {
			m->res->parts++;
			m->res->rows += p.f.rows;
			m->res->files++;
			m->res->bytes += p.f.gz_bytes;
			ODO_LOG(INFO, "archive", "%s %s part %d: %lld rows verified and removed from the database", m->t->name,
				month, p.part, p.f.rows);
			sweep_superseded(m, ym);
			rc = arc__manifest(m->c, m->cfg, m->t->name, ym, why);
		}
		free(p.columns);
		return rc;
	}
	arc__whyf(why, "%s %s: the rows kept changing during %d exports; try again later", m->t->name, month,
		 ARC_ATTEMPTS);
	return ODO_ERR_AGAIN;
}

/* Months of the table before `before` (y*12+m-1) that have rows, or an
 * export pending, ascending. */
static int months_with_rows(struct month_ctx *m, int before, int **out, size_t *n, char *why)
{
	*out = NULL;
	*n = 0;
	char sql[ARC_SQL], cut[32];
	snprintf(cut, sizeof cut, "%04d-%02d-01 00:00:00+00", before / 12, before % 12 + 1);
	if (m->t->partitioned) {
		/* the partitions of those months that are not empty */
		const char *v[2] = { m->t->name, cut };
		PGresult *r = arc__query(m->c,
			"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
			" WHERE i.inhparent = to_regclass($1) AND c.relname ~ ('^' || $1 || '_[0-9]{4}_[0-9]{2}$')"
			" AND to_date(right(c.relname, 7), 'YYYY_MM') < $2::timestamptz ORDER BY 1", 2, v, why);
		if (!r)
			return ODO_ERR_DB;
		int *ms = PQntuples(r) ? calloc((size_t)PQntuples(r), sizeof *ms) : NULL;
		for (int i = 0; i < PQntuples(r) && ms; i++) {
			const char *rel = PQgetvalue(r, i, 0);
			size_t L = strlen(rel);
			int y = atoi(rel + L - 7), mo = atoi(rel + L - 2);
			char q[128];
			if (arc__ident(m->c, rel, q, sizeof q))
				continue;
			snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", q);
			PGresult *e = arc__query(m->c, sql, 0, NULL, why);
			if (e && PQntuples(e))
				ms[(*n)++] = y * 12 + mo - 1;
			PQclear(e);
		}
		PQclear(r);
		*out = ms;
	} else {
		snprintf(sql, sizeof sql,
			 "SELECT DISTINCT to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM') FROM %s WHERE %s < $1::timestamptz"
			 " ORDER BY 1", m->qtime, m->qtable, m->qtime);
		const char *v[1] = { cut };
		PGresult *r = arc__query(m->c, sql, 1, v, why);
		if (!r)
			return ODO_ERR_DB;
		int *ms = PQntuples(r) ? calloc((size_t)PQntuples(r), sizeof *ms) : NULL;
		for (int i = 0; i < PQntuples(r) && ms; i++)
			if (arc__month_parse(PQgetvalue(r, i, 0), &ms[*n]) == ODO_OK)
				(*n)++;
		PQclear(r);
		*out = ms;
	}
	/* exports left pending by --keep-rows (their rows may be gone meanwhile) */
	struct arc_part *p;
	size_t np;
	if (arc__parts(m->c, m->t->name, -1, "exported", &p, &np, why) == ODO_OK) {
		for (size_t i = 0; i < np; i++) {
			int seen = 0;
			for (size_t k = 0; k < *n; k++)
				seen |= (*out)[k] == p[i].ym;
			if (seen || p[i].ym >= before)
				continue;
			int *ms = realloc(*out, (*n + 1) * sizeof *ms);
			if (!ms)
				break;
			ms[(*n)++] = p[i].ym;
			*out = ms;
		}
		arc__parts_free(p, np);
	}
	return ODO_OK;
}

/* A month restored within the hold stays in the database. */
static int held(struct month_ctx *m, int ym, int64_t now_s)
{
	char month[8], hold[32], now[32], why[ARC_WHY];
	arc__month_str(ym, month);
	snprintf(hold, sizeof hold, "%lld", m->cfg->restore_hold_days);
	snprintf(now, sizeof now, "%lld", (long long)now_s);
	const char *v[4] = { m->t->name, month, hold, now };
	PGresult *r = arc__query(m->c,
		"SELECT 1 FROM archive_parts WHERE tbl = $1 AND month = $2 AND state = 'restored'"
		" AND restored_at > to_timestamp($4::bigint) - make_interval(days => $3::int)", 4, v, why);
	int h = r && PQntuples(r) > 0;
	PQclear(r);
	return h;
}

static int expire(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, int64_t now_s,
		  struct odo_archive_result *res, char *why)
{
	if (cfg->expire_days <= 0)
		return ODO_OK;
	/* months whose end is older than expire_days */
	int before = arc__month_of(now_s - (int64_t)cfg->expire_days * 86400);
	struct arc_part *p;
	size_t n;
	int rc = arc__parts(c, NULL, -1, "dropped", &p, &n, why);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (p[i].ym >= before)
			continue;
		char path[ARC_PATH * 2], month[8], part[16], detail[ARC_PATH + 128];
		arc__abs(path, sizeof path, cfg, &p[i]);
		arc__month_str(p[i].ym, month);
		snprintf(part, sizeof part, "%d", p[i].part);
		const char *v[3] = { p[i].table, month, part };
		snprintf(detail, sizeof detail, "%s %s part %d: %s deleted (older than %lld days)", p[i].table, month,
			 p[i].part, p[i].path, cfg->expire_days);
		rc = arc__exec(c, "BEGIN", 0, NULL, NULL, why);
		rc = rc ? rc : arc__exec(c, "UPDATE archive_parts SET state = 'expired', ended_at = now()"
					    " WHERE tbl = $1 AND month = $2 AND part = $3::int", 3, v, NULL, why);
		rc = rc ? rc : arc__audit(c, "archive expire", p[i].f.rows, detail, by, why);
		rc = rc ? rc : arc__exec(c, "COMMIT", 0, NULL, NULL, why);
		if (rc) {
			arc__rollback(c);
			break;
		}
		if (unlink(path) != 0 && errno != ENOENT)
			ODO_LOG(WARN, "archive", "%s: %s", path, strerror(errno));
		ODO_LOG(INFO, "archive", "expired %s", detail);
		res->files++;
		rc = arc__manifest(c, cfg, p[i].table, p[i].ym, why);
		char dir[ARC_PATH];
		arc__month_dir(dir, sizeof dir, cfg->dir, p[i].table, p[i].ym);
		if (rmdir(dir) == 0) { /* empty once its manifest went */
			char *slash = strrchr(dir, '/');
			if (slash) {
				*slash = '\0';
				(void)rmdir(dir);
			}
		}
	}
	arc__parts_free(p, n);
	return rc;
}

int odo_archive_run(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, int64_t now_s, int keep_rows,
		    struct odo_archive_result *res, char *why)
{
	memset(res, 0, sizeof *res);
	if (!cfg->dir[0]) {
		arc__whyf(why, "[archive] dir is not set");
		return ODO_ERR_INVAL;
	}
	int rc = arc__session(c, why);
	if (rc)
		return rc;
	rc = arc__mkdirs(cfg->dir, why);
	if (!rc)
		arc__reconcile(c, cfg);
	/* months whose end is at least hot_days old */
	int before = arc__month_of(now_s - (int64_t)cfg->hot_days * 86400);
	int failed = 0;
	char first[ARC_WHY] = "";
	for (size_t i = 0; i < arc__ntables && !rc; i++) {
		struct month_ctx m = { .c = c, .cfg = cfg, .by = by, .t = &arc__tables[i], .res = res };
		PGresult *r = arc__query(c, "SELECT to_regclass($1) IS NOT NULL", 1, &m.t->name, why);
		int exists = r && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (!exists)
			continue; /* an older schema */
		if ((rc = arc__ident(c, m.t->name, m.qtable, sizeof m.qtable)) ||
		    (rc = arc__ident(c, m.t->time_col, m.qtime, sizeof m.qtime)) ||
		    (rc = arc__cols_of_table(c, m.t->name, &m.cols, why)))
			break;
		int *months;
		size_t nm;
		rc = months_with_rows(&m, before, &months, &nm, why);
		for (size_t k = 0; k < nm && !rc; k++) {
			if (held(&m, months[k], now_s)) {
				char month[8];
				arc__month_str(months[k], month);
				ODO_LOG(INFO, "archive", "%s %s: restored recently, kept in the database", m.t->name, month);
				continue;
			}
			int mrc = archive_month(&m, months[k], keep_rows, why);
			if (mrc == ODO_ERR_PROTOCOL || mrc == ODO_ERR_AGAIN) {
				/* this month refused; the others go on; the run fails at the end */
				if (!failed++)
					snprintf(first, sizeof first, "%s", why);
			} else {
				rc = mrc;
			}
		}
		free(months);
		arc__cols_free(&m.cols);
	}
	if (!rc)
		rc = expire(c, cfg, by, now_s, res, why);
	arc__unlock(c);
	if (!rc && failed) {
		arc__whyf(why, "%d month(s) not archived; first: %s", failed, first);
		return ODO_ERR_PROTOCOL;
	}
	return rc;
}
