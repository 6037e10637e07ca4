/* odo-collector archive — COPY between PostgreSQL and archive files (archive_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "archive/archive_int.h"

#define ARC_BUF 65536

static int copy_end_result(PGconn *c, char *why)
{
	int rc = ODO_OK;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == ODO_OK) {
			arc__whyf(why, "%s", PQresultErrorMessage(r));
			why[strcspn(why, "\n")] = '\0';
			rc = ODO_ERR_DB;
		}
		PQclear(r);
	}
	return rc;
}

int arc__export(PGconn *c, const char *rel, const struct arc_cols *cols, const char *where, const char *path,
		int level, struct arc_file *out, char *why)
{
	memset(out, 0, sizeof *out);
	char tmp[ARC_PATH + 8], mode[8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(mode, sizeof mode, "wb%d", level >= 1 && level <= 9 ? level : 6);
	char *sql = malloc(ARC_SQL * 2);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!sql || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		free(sql);
		EVP_MD_CTX_free(md);
		arc__whyf(why, "out of memory");
		return ODO_ERR_NOMEM;
	}
	snprintf(sql, ARC_SQL * 2, "COPY (SELECT %s FROM %s%s%s ORDER BY %s) TO STDOUT WITH (FORMAT csv, HEADER true)",
		 cols->list, rel, where ? " WHERE " : "", where ? where : "", cols->pk);
	int rc = ODO_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	gzFile g = NULL;
	if (fd < 0 || !(g = gzdopen(dup(fd), mode))) {
		arc__whyf(why, "%s: %s", tmp, strerror(errno));
		rc = ODO_ERR_IO;
	}
	PGresult *r = rc ? NULL : PQexec(c, sql);
	if (!rc && PQresultStatus(r) != PGRES_COPY_OUT) {
		arc__whyf(why, "%s", PQresultErrorMessage(r));
		why[strcspn(why, "\n")] = '\0';
		rc = ODO_ERR_DB;
	}
	PQclear(r);
	if (!rc) {
		/* one row per PQgetCopyData (libpq), the header first */
		char *buf;
		int n;
		long long lines = 0;
		while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
			if (!rc && gzwrite(g, buf, (unsigned)n) != n) {
				arc__whyf(why, "%s: write failed", tmp);
				rc = ODO_ERR_IO; /* keep reading: the COPY must end */
			}
			EVP_DigestUpdate(md, buf, (size_t)n);
			lines++;
			PQfreemem(buf);
		}
		int end = n == -1 ? copy_end_result(c, why) : ODO_ERR_DB;
		if (n == -2) {
			arc__whyf(why, "%s", PQerrorMessage(c));
			why[strcspn(why, "\n")] = '\0';
		}
		rc = rc ? rc : end;
		out->rows = lines > 0 ? lines - 1 : 0;
	}
	if (g && gzclose(g) != Z_OK && !rc) {
		arc__whyf(why, "%s: gzip close failed", tmp);
		rc = ODO_ERR_IO;
	}
	if (fd >= 0) {
		if (!rc && fsync(fd) != 0) {
			arc__whyf(why, "%s: fsync: %s", tmp, strerror(errno));
			rc = ODO_ERR_IO;
		}
		close(fd);
	}
	if (!rc && rename(tmp, path) != 0) {
		arc__whyf(why, "%s: %s", path, strerror(errno));
		rc = ODO_ERR_IO;
	}
	if (rc) {
		unlink(tmp);
	} else {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dl;
		EVP_DigestFinal_ex(md, d, &dl);
		for (unsigned i = 0; i < dl && i < 32; i++)
			sprintf(out->csv_sha + 2 * i, "%02x", d[i]);
		char dir[ARC_PATH];
		snprintf(dir, sizeof dir, "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			arc__sync_dir(dir);
		}
	}
	EVP_MD_CTX_free(md);
	free(sql);
	return rc;
}

int arc__load_temp(PGconn *c, const char *table, const char *tmp, const struct arc_cols *cols, const char *path,
		   long long *rows, char *why)
{
	*rows = 0;
	char qt[160], sql[ARC_SQL];
	if (arc__ident(c, table, qt, sizeof qt)) {
		arc__whyf(why, "bad table name");
		return ODO_ERR_INVAL;
	}
	/* the archived columns with the table's current types, no constraints */
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS pg_temp.%s", tmp);
	int rc = arc__exec(c, sql, 0, NULL, NULL, why);
	snprintf(sql, sizeof sql, "CREATE TEMP TABLE %s AS SELECT %s FROM %s WITH NO DATA", tmp, cols->list, qt);
	rc = rc ? rc : arc__exec(c, sql, 0, NULL, NULL, why);
	if (rc) {
		char w[ARC_WHY];
		snprintf(w, sizeof w, "%s", why);
		arc__whyf(why, "%s does not have the archived columns any more: %s", table, w);
		return rc;
	}
	gzFile g = gzopen(path, "rb");
	if (!g) {
		arc__whyf(why, "%s: %s", path, strerror(errno));
		return ODO_ERR_IO;
	}
	char *buf = malloc(ARC_BUF);
	if (!buf) {
		gzclose(g);
		arc__whyf(why, "out of memory");
		return ODO_ERR_NOMEM;
	}
	snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN WITH (FORMAT csv, HEADER true)", tmp, cols->list);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		arc__whyf(why, "%s", PQresultErrorMessage(r));
		why[strcspn(why, "\n")] = '\0';
		PQclear(r);
		free(buf);
		gzclose(g);
		return ODO_ERR_DB;
	}
	PQclear(r);
	int n;
	const char *abort_msg = NULL;
	while ((n = gzread(g, buf, ARC_BUF)) > 0)
		if (PQputCopyData(c, buf, n) != 1) {
			abort_msg = "could not send";
			break;
		}
	if (n < 0) {
		int zerr;
		arc__whyf(why, "%s: not a valid gzip stream (%s)", path, gzerror(g, &zerr));
		abort_msg = "archive file unreadable";
		rc = ODO_ERR_PROTOCOL;
	}
	PQputCopyEnd(c, abort_msg);
	r = PQgetResult(c);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		*rows = atoll(PQcmdTuples(r));
	} else if (!rc) {
		/* the server refused the content: a CSV that is not what we wrote */
		arc__whyf(why, "%s: PostgreSQL refuses its content: %s", path, PQresultErrorMessage(r));
		why[strcspn(why, "\n")] = '\0';
		rc = PQresultErrorField(r, PG_DIAG_SQLSTATE) &&
				     strncmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22", 2) == 0
			     ? ODO_ERR_PROTOCOL
			     : ODO_ERR_DB;
	}
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	free(buf);
	gzclose(g);
	return rc;
}
