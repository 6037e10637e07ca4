/* odo-collector archive — erasure in archive files for `forget` (archive.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/archive_int.h"
#include "odo/log.h"

#define ARC_WORK "arc_forget"
#define ARC_RECHECK "arc_recheck"

/* A driver's assignment windows, as forget erases them in the database. */
struct windows {
	int n;
	char *dev, *from, *to; /* PostgreSQL array literals for the parameters */
	double *from_s, *to_s; /* Unix s; to_s < 0: open */
};

static void windows_free(struct windows *w)
{
	free(w->dev);
	free(w->from);
	free(w->to);
	free(w->from_s);
	free(w->to_s);
}

static int load_windows(PGconn *c, const char *driver, struct windows *w, char *why)
{
	memset(w, 0, sizeof *w);
	const char *v[1] = { driver };
	PGresult *r = arc__query(c,
		"SELECT array_agg(device_id ORDER BY id)::text, array_agg(valid_from ORDER BY id)::text,"
		" array_agg(valid_to ORDER BY id)::text, count(*),"
		" string_agg(extract(epoch FROM valid_from)::text || ' ' || coalesce(extract(epoch FROM valid_to)::text, '-1'),"
		" ' ' ORDER BY id)"
		" FROM device_assignments WHERE driver_id = $1", 1, v, why);
	if (!r)
		return ODO_ERR_DB;
	w->n = atoi(PQgetvalue(r, 0, 3));
	if (w->n == 0) {
		PQclear(r);
		return ODO_OK;
	}
	w->dev = strdup(PQgetvalue(r, 0, 0));
	w->from = strdup(PQgetvalue(r, 0, 1));
	w->to = strdup(PQgetvalue(r, 0, 2));
	w->from_s = calloc((size_t)w->n, sizeof *w->from_s);
	w->to_s = calloc((size_t)w->n, sizeof *w->to_s);
	if (!w->dev || !w->from || !w->to || !w->from_s || !w->to_s) {
		PQclear(r);
		windows_free(w);
		arc__whyf(why, "out of memory");
		return ODO_ERR_NOMEM;
	}
	const char *p = PQgetvalue(r, 0, 4);
	for (int i = 0; i < w->n; i++) {
		char *e;
		w->from_s[i] = strtod(p, &e);
		w->to_s[i] = strtod(e, &e);
		p = e;
	}
	PQclear(r);
	return ODO_OK;
}

/* Does any window overlap month ym? */
static int overlaps(const struct windows *w, int ym)
{
	double ms = (double)arc__month_start_s(ym), me = (double)arc__month_start_s(ym + 1);
	for (int i = 0; i < w->n; i++)
		if (w->from_s[i] < me && (w->to_s[i] < 0 || w->to_s[i] > ms))
			return 1;
	return 0;
}

/* Rewrite one part without the driver's rows. *erased: rows removed. */
static int rewrite_part(PGconn *c, const struct odo_archive_cfg *cfg, const struct arc_part *p,
			const struct windows *w, long long *erased, char *why)
{
	*erased = 0;
	const struct arc_table *t = arc__table(p->table);
	if (!t) {
		arc__whyf(why, "archive_parts names an unknown table %s", p->table);
		return ODO_ERR_INVAL;
	}
	/* a file that does not match its checksums cannot be erased from
	 * reliably: refuse (the database forget does not run either) */
	int rc = arc__verify_part(c, cfg, p, ARC_WORK, why);
	if (rc)
		return rc;
	struct arc_cols cols, now;
	if ((rc = arc__cols_parse(c, p->columns, &cols, why)))
		return rc;
	if ((rc = arc__cols_of_table(c, t->name, &now, why))) {
		arc__cols_free(&cols);
		return rc;
	}
	cols.pk = now.pk; /* the export order */
	now.pk = NULL;
	arc__cols_free(&now);
	char qdev[80], qtime[80], sql[ARC_SQL], path[ARC_PATH * 2], tmp[ARC_PATH * 2 + 8];
	rc = arc__ident(c, t->device_col, qdev, sizeof qdev);
	rc = rc ? rc : arc__ident(c, t->time_col, qtime, sizeof qtime);
	snprintf(sql, sizeof sql,
		 "DELETE FROM pg_temp.%s x USING unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) w(d, a, b)"
		 " WHERE x.%s = w.d AND x.%s >= w.a AND (w.b IS NULL OR x.%s < w.b)",
		 ARC_WORK, qdev, qtime, qtime);
	const char *v[3] = { w->dev, w->from, w->to };
	rc = rc ? rc : arc__exec(c, sql, 3, v, erased, why);
	if (rc || *erased == 0)
		goto out;
	/* the new file beside the old one, checked, then recorded, then moved in */
	arc__abs(path, sizeof path, cfg, p);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	struct arc_part np = *p;
	char qwork[64];
	snprintf(qwork, sizeof qwork, "pg_temp.%s", ARC_WORK);
	struct arc_file ex;
	rc = arc__checksum(c, qwork, &cols, NULL, &np.sum, why);
	rc = rc ? rc : arc__export(c, qwork, &cols, NULL, tmp, (int)cfg->gzip_level, &ex, why);
	rc = rc ? rc : arc__file_sums(tmp, &np.f, why);
	if (!rc && (strcmp(np.f.csv_sha, ex.csv_sha) != 0 || ex.rows != np.sum.rows)) {
		arc__whyf(why, "%s: reads back differently from what was written", tmp);
		rc = ODO_ERR_PROTOCOL;
	}
	np.f.rows = ex.rows;
	if (!rc) {
		/* the rewritten file, loaded again, has the new checksum */
		long long rows;
		struct arc_sum got;
		char qre[64];
		snprintf(qre, sizeof qre, "pg_temp.%s", ARC_RECHECK);
		rc = arc__load_temp(c, t->name, ARC_RECHECK, &cols, tmp, &rows, why);
		rc = rc ? rc : arc__checksum(c, qre, &cols, NULL, &got, why);
		if (!rc && (rows != np.f.rows || !arc__sum_equal(&got, &np.sum))) {
			arc__whyf(why, "%s: the rewritten file does not read back as written", tmp);
			rc = ODO_ERR_PROTOCOL;
		}
	}
	if (!rc) {
		char month[8], part[16], rows[32], bytes[32], gone[32];
		arc__month_str(p->ym, month);
		snprintf(part, sizeof part, "%d", p->part);
		snprintf(rows, sizeof rows, "%lld", np.f.rows);
		snprintf(bytes, sizeof bytes, "%lld", np.f.gz_bytes);
		snprintf(gone, sizeof gone, "%lld", *erased);
		const char *u[10] = { p->table, month, part, rows, np.f.csv_sha, np.f.gz_sha, bytes, np.sum.hi, np.sum.lo,
				      gone };
		rc = arc__exec(c, "UPDATE archive_parts SET rows = $4::bigint, csv_sha256 = $5, gz_sha256 = $6,"
				  " gz_bytes = $7::bigint, sum_hi = $8::numeric, sum_lo = $9::numeric, rewritten_at = now(),"
				  " rows_forgotten = rows_forgotten + $10::bigint"
				  " WHERE tbl = $1 AND month = $2 AND part = $3::int", 10, u, NULL, why);
	}
	if (rc) {
		unlink(tmp);
		goto out;
	}
	/* recorded: the old file (with the driver's rows) is replaced */
	if (rename(tmp, path) != 0) {
		arc__whyf(why, "%s: %s (the recorded checksums are the new file's: run the command again)", path,
			 strerror(errno));
		rc = ODO_ERR_IO;
		goto out;
	}
	char dir[ARC_PATH * 2];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	arc__sync_dir(dir);
out:
	arc__cols_free(&cols);
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS pg_temp.%s, pg_temp.%s", ARC_WORK, ARC_RECHECK);
	PQclear(PQexec(c, sql));
	return rc;
}

/* A rewrite interrupted between recording the new file and moving it in:
 * finish it (the .new file matches the record) or drop it (it does not). */
void arc__reconcile(PGconn *c, const struct odo_archive_cfg *cfg)
{
	struct arc_part *p;
	size_t n;
	char why[ARC_WHY];
	if (arc__parts(c, NULL, -1, "exported,dropped,restored", &p, &n, why))
		return;
	for (size_t i = 0; i < n; i++) {
		char path[ARC_PATH * 2], tmp[ARC_PATH * 2 + 8];
		arc__abs(path, sizeof path, cfg, &p[i]);
		snprintf(tmp, sizeof tmp, "%s.new", path);
		if (access(tmp, F_OK) != 0)
			continue;
		if (arc__file_check(tmp, &p[i].f, why) == ODO_OK && rename(tmp, path) == 0)
			ODO_LOG(WARN, "archive", "finished an interrupted rewrite of %s", path);
		else if (unlink(tmp) == 0)
			ODO_LOG(WARN, "archive", "removed %s, left by an interrupted rewrite", tmp);
	}
	arc__parts_free(p, n);
}

int odo_archive_forget(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, const char *driver,
		       struct odo_archive_result *res, char *why)
{
	memset(res, 0, sizeof *res);
	/* before migration 006 there is nothing archived */
	PGresult *r = arc__query(c, "SELECT to_regclass('archive_parts') IS NOT NULL", 0, NULL, why);
	if (!r)
		return ODO_ERR_DB;
	int has = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!has)
		return ODO_OK;
	int rc = arc__session(c, why);
	if (rc)
		return rc;
	struct windows w;
	struct arc_part *p = NULL;
	size_t n = 0;
	rc = load_windows(c, driver, &w, why);
	if (!rc && w.n)
		rc = arc__parts(c, NULL, -1, "exported,dropped,restored", &p, &n, why);
	if (!rc && n && !cfg->dir[0]) {
		arc__whyf(why, "%zu archive file(s) exist but [archive] dir is not set: cannot erase from them", n);
		rc = ODO_ERR_INVAL;
	}
	if (!rc && n)
		arc__reconcile(c, cfg);
	char files[ARC_WHY * 4] = "";
	for (size_t i = 0; i < n && !rc; i++) {
		if (!overlaps(&w, p[i].ym))
			continue;
		long long gone;
		rc = rewrite_part(c, cfg, &p[i], &w, &gone, why);
		if (rc || !gone)
			continue;
		res->parts++;
		res->rows += gone;
		res->files++;
		ODO_LOG(INFO, "archive", "forget: %lld row(s) erased from %s", gone, p[i].path);
		size_t used = strlen(files);
		if (used + strlen(p[i].path) + 3 < sizeof files)
			snprintf(files + used, sizeof files - used, "%s%s", used ? ", " : "", p[i].path);
		rc = arc__manifest(c, cfg, p[i].table, p[i].ym, why);
	}
	if (!rc && res->files) {
		/* the audit names the rewritten files: copies of them elsewhere
		 * (backups, replicated storage) must be replaced too */
		char detail[sizeof files + 128];
		snprintf(detail, sizeof detail, "driver %s: %lld row(s) erased from %lld archive file(s), rewritten: %s",
			 driver, res->rows, res->files, files);
		char rows[32];
		snprintf(rows, sizeof rows, "%lld", res->rows);
		const char *v[4] = { driver, rows, detail, by };
		rc = arc__exec(c, "INSERT INTO data_audit (action, driver_id, rows_deleted, detail, performed_by)"
				  " VALUES ('forget archive', $1, $2::bigint, $3, $4)", 4, v, NULL, why);
	}
	arc__parts_free(p, n);
	windows_free(&w);
	arc__unlock(c);
	return rc;
}
