/* odo-collector archive — `archive restore` and `archive verify` (archive.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive_int.h"
#include "odo/log.h"

#define ARC_RESTORE_TABLE "arc_restore"

/* Load one part back; *inserted: rows that were not in the table already. */
static int restore_part(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, const struct arc_part *p,
			long long *inserted, char *why)
{
	*inserted = 0;
	const struct arc_table *t = arc__table(p->table);
	if (!t) {
		arc__whyf(why, "archive_parts names an unknown table %s", p->table);
		return ODO_ERR_INVAL;
	}
	/* the whole file, read back and loaded, against its recorded checksums */
	int rc = arc__verify_part(c, cfg, p, ARC_RESTORE_TABLE, why);
	if (rc)
		return rc;
	struct arc_cols cols;
	if ((rc = arc__cols_parse(c, p->columns, &cols, why)))
		return rc;
	char qt[80], sql[ARC_SQL * 2], month[8], part[16], detail[ARC_PATH + 128];
	arc__month_str(p->ym, month);
	snprintf(part, sizeof part, "%d", p->part);
	rc = arc__ident(c, t->name, qt, sizeof qt);
	rc = rc ? rc : arc__exec(c, "BEGIN", 0, NULL, NULL, why);
	if (!rc && t->partitioned) {
		/* the month's partition (TRUNCATEd by the archive, or dropped by retention) */
		snprintf(sql, sizeof sql,
			 "CREATE TABLE IF NOT EXISTS %s_%04d_%02d PARTITION OF %s FOR VALUES FROM ('%04d-%02d-01 00:00:00+00')"
			 " TO ('%04d-%02d-01 00:00:00+00')",
			 t->name, p->ym / 12, p->ym % 12 + 1, qt, p->ym / 12, p->ym % 12 + 1, (p->ym + 1) / 12,
			 (p->ym + 1) % 12 + 1);
		rc = arc__exec(c, sql, 0, NULL, NULL, why);
	}
	if (!rc) {
		/* rows already there (a record re-sent and stored again) are kept */
		snprintf(sql, sizeof sql, "INSERT INTO %s (%s) SELECT %s FROM pg_temp.%s ON CONFLICT DO NOTHING", qt,
			 cols.list, cols.list, ARC_RESTORE_TABLE);
		rc = arc__exec(c, sql, 0, NULL, inserted, why);
	}
	const char *v[3] = { p->table, month, part };
	rc = rc ? rc : arc__exec(c, "UPDATE archive_parts SET state = 'restored', restored_at = now()"
				    " WHERE tbl = $1 AND month = $2 AND part = $3::int", 3, v, NULL, why);
	snprintf(detail, sizeof detail, "%s %s part %d: %lld of %lld rows loaded back from %s", p->table, month,
		 p->part, *inserted, p->f.rows, p->path);
	rc = rc ? rc : arc__audit(c, "archive restore", *inserted, detail, by, why);
	rc = rc ? rc : arc__exec(c, "COMMIT", 0, NULL, NULL, why);
	if (rc)
		arc__rollback(c);
	else
		ODO_LOG(INFO, "archive", "restored %s", detail);
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS pg_temp.%s", ARC_RESTORE_TABLE);
	PQclear(PQexec(c, sql));
	arc__cols_free(&cols);
	return rc;
}

int odo_archive_restore(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, const char *month,
			const char *table, struct odo_archive_result *res, char *why)
{
	memset(res, 0, sizeof *res);
	int ym;
	if (arc__month_parse(month, &ym)) {
		arc__whyf(why, "--month wants YYYY-MM, not '%s'", month ? month : "");
		return ODO_ERR_INVAL;
	}
	if (table && !arc__table(table)) {
		arc__whyf(why, "%s is not an archived table", table);
		return ODO_ERR_INVAL;
	}
	int rc = arc__session(c, why);
	if (rc)
		return rc;
	arc__reconcile(c, cfg);
	struct arc_part *p;
	size_t n;
	rc = arc__parts(c, table, ym, "dropped", &p, &n, why);
	if (!rc && n == 0) {
		arc__whyf(why, "nothing of %s%s%s is archived (out of the database)", month, table ? " in " : "",
			 table ? table : "");
		rc = ODO_ERR_NOTFOUND;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		long long ins;
		rc = restore_part(c, cfg, by, &p[i], &ins, why);
		if (!rc) {
			res->parts++;
			res->rows += ins;
			res->files++;
			rc = arc__manifest(c, cfg, p[i].table, p[i].ym, why);
		}
	}
	arc__parts_free(p, n);
	arc__unlock(c);
	return rc;
}

int odo_archive_verify(PGconn *c, const struct odo_archive_cfg *cfg, const char *month,
		       struct odo_archive_result *res, char *why)
{
	memset(res, 0, sizeof *res);
	int ym = -1;
	if (month && arc__month_parse(month, &ym)) {
		arc__whyf(why, "--month wants YYYY-MM, not '%s'", month);
		return ODO_ERR_INVAL;
	}
	struct arc_part *p;
	size_t n;
	int rc = arc__parts(c, NULL, ym, "exported,dropped,restored", &p, &n, why);
	int bad = 0;
	char first[ARC_WHY] = "";
	for (size_t i = 0; i < n && !rc; i++) {
		char path[ARC_PATH * 2];
		arc__abs(path, sizeof path, cfg, &p[i]);
		int frc = arc__file_check(path, &p[i].f, why);
		if (frc == ODO_OK) {
			res->files++;
			res->rows += p[i].f.rows;
			res->bytes += p[i].f.gz_bytes;
			continue;
		}
		ODO_LOG(ERROR, "archive", "%s", why);
		if (!bad++)
			snprintf(first, sizeof first, "%s", why);
	}
	arc__parts_free(p, n);
	if (!rc && bad) {
		arc__whyf(why, "%d file(s) do not match their checksums; first: %s", bad, first);
		return ODO_ERR_PROTOCOL;
	}
	return rc;
}
