/*
 * odo-collector — what the archive's files share (private; see archive.h):
 * catalog.c (tables, columns, row checksums, months, the session), file.c
 * (gzip files with their SHA-256s, the manifest), copy.c (COPY out to a
 * file, a file into a temporary table), run.c, restore.c, forget.c, cli.c.
 */
#ifndef ODO_COLLECTOR_ARCHIVE_INT_H
#define ODO_COLLECTOR_ARCHIVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "archive/archive.h"

#define ARC_WHY 256
#define ARC_PATH 1024
#define ARC_SHA_HEX 65
#define ARC_NUM 48            /* a numeric sum as text */
#define ARC_SQL 8192          /* one generated statement */
#define ARC_LOCK_KEY "7301000006" /* advisory lock of archive commands (migrate uses ...01) */
#define ARC_FORMAT "odo-archive/1"

/* A table whose rows are archived, with the column that puts a row in a
 * month (and, for forget, in a driver's assignment window). */
struct arc_table {
	const char *name;
	const char *time_col;
	const char *device_col;
	int partitioned; /* by month of time_col (samples_YYYY_MM) */
};
extern const struct arc_table arc__tables[];
extern const size_t arc__ntables;
const struct arc_table *arc__table(const char *name);

/* A table's columns as the catalog has them now, or as a part recorded them. */
struct arc_cols {
	size_t n;
	char **name, **type;
	char *list;  /* quoted, comma-separated: "device_id", "epoch", ... */
	char *pk;    /* the primary key, quoted, comma-separated (export order) */
	char *text;  /* "name type" per line (archive_parts.columns) */
};
int arc__cols_of_table(PGconn *c, const char *table, struct arc_cols *out, char *why) ODO_NODISCARD;
/* From archive_parts.columns text. */
int arc__cols_parse(PGconn *c, const char *text, struct arc_cols *out, char *why) ODO_NODISCARD;
void arc__cols_free(struct arc_cols *cols);

/* Order-independent checksum of rows: count and the sums of the two halves
 * of md5(ROW(columns)::text) read as signed 64-bit integers (docs/archive.md). */
struct arc_sum {
	long long rows;
	char hi[ARC_NUM], lo[ARC_NUM];
};
/* Over `rel` (already quoted SQL) with an optional WHERE (SQL built from
 * integers only). */
int arc__checksum(PGconn *c, const char *rel, const struct arc_cols *cols, const char *where, struct arc_sum *out,
		  char *why) ODO_NODISCARD;
/* The SELECT list computing that checksum over a subquery `src` with the columns. */
void arc__checksum_sql(char *sql, size_t len, const char *src, const struct arc_cols *cols);
int arc__sum_equal(const struct arc_sum *a, const struct arc_sum *b);

/* Months: "YYYY-MM" <-> y*12 + m-1. */
int arc__month_parse(const char *s, int *ym);
void arc__month_str(int ym, char out[8]);
/* "t >= '2026-01-01 00:00:00+00' AND t < '2026-02-01 00:00:00+00'" */
void arc__month_where(char *out, size_t len, const char *quoted_col, int ym);
/* The month (y*12 + m-1) that contains Unix second now_s, UTC. */
int arc__month_of(int64_t now_s);
/* Unix second of the month's first instant, UTC. */
int64_t arc__month_start_s(int ym);

/* Set why (ARC_WHY bytes), truncating. */
void arc__whyf(char *why, const char *fmt, ...) ODO_PRINTF(2, 3);
/* Run a statement; ODO_ERR_DB with why. rows: PQcmdTuples (NULL: ignore). */
int arc__exec(PGconn *c, const char *sql, int n, const char *const *vals, long long *rows, char *why) ODO_NODISCARD;
/* Same, returning the result (caller PQclear) when it is TUPLES_OK. */
PGresult *arc__query(PGconn *c, const char *sql, int n, const char *const *vals, char *why);
void arc__rollback(PGconn *c);
/* Session settings that make the CSV deterministic, and the advisory lock. */
int arc__session(PGconn *c, char *why) ODO_NODISCARD;
void arc__unlock(PGconn *c);
/* A quoted identifier in buf; ODO_ERR_NOMEM / ODO_ERR_TOOBIG. */
int arc__ident(PGconn *c, const char *name, char *buf, size_t len) ODO_NODISCARD;
int arc__audit(PGconn *c, const char *action, long long rows, const char *detail, const char *by,
	       char *why) ODO_NODISCARD;

/* ---- files (file.c) ---- */

struct arc_file {
	long long rows;            /* data rows (export and load only) */
	char csv_sha[ARC_SHA_HEX]; /* of the uncompressed CSV */
	char gz_sha[ARC_SHA_HEX];  /* of the file */
	long long gz_bytes;
};

/* dir/<table>/<YYYY>/<MM> and the part's file name in it. */
void arc__month_dir(char *out, size_t len, const char *dir, const char *table, int ym);
void arc__part_name(char *out, size_t len, const char *table, int ym, int part);
int arc__mkdirs(const char *path, char *why) ODO_NODISCARD;
/* Read a file back whole: its SHA-256, the gzip stream (CRC and length
 * checked by zlib) and the SHA-256 of its content. ODO_ERR_IO (cannot
 * read), ODO_ERR_PROTOCOL (not a valid gzip stream). */
int arc__file_sums(const char *path, struct arc_file *out, char *why) ODO_NODISCARD;
/* Compare with what was recorded; ODO_ERR_PROTOCOL naming the mismatch. */
int arc__file_check(const char *path, const struct arc_file *want, char *why) ODO_NODISCARD;
/* fsync a directory (after a rename in it). */
void arc__sync_dir(const char *dir);

/* Write MANIFEST.json of a month from archive_parts (atomically). */
int arc__manifest(PGconn *c, const struct odo_archive_cfg *cfg, const char *table, int ym, char *why) ODO_NODISCARD;

/* ---- COPY (copy.c) ---- */

/* COPY (SELECT columns FROM rel [WHERE where] ORDER BY pk) TO STDOUT as CSV
 * with a header into `path` (written as path.tmp, fsynced, renamed):
 * rows and the CSV's SHA-256 into out. */
int arc__export(PGconn *c, const char *rel, const struct arc_cols *cols, const char *where, const char *path,
		int level, struct arc_file *out, char *why) ODO_NODISCARD;
/* A temporary table `tmp` (dropped first if present) LIKE `table`, loaded
 * from the file with the given columns; rows loaded into *rows. */
int arc__load_temp(PGconn *c, const char *table, const char *tmp, const struct arc_cols *cols, const char *path,
		   long long *rows, char *why) ODO_NODISCARD;

/* forget.c: finish or undo a file rewrite a crash interrupted (at the
 * start of every command that reads or writes archive files). */
void arc__reconcile(PGconn *c, const struct odo_archive_cfg *cfg);

/* ---- parts (run.c) ---- */

struct arc_part {
	char table[64];
	int ym, part;
	char state[16];
	char path[ARC_PATH];       /* relative to cfg->dir */
	char *columns;             /* archive_parts.columns (malloc) */
	struct arc_file f;
	struct arc_sum sum;
};
/* The parts of (table, month) in the given states ("dropped,restored"); a
 * NULL table: every table; ym < 0: every month. Caller frees with arc__parts_free. */
int arc__parts(PGconn *c, const char *table, int ym, const char *states, struct arc_part **out, size_t *n,
	       char *why) ODO_NODISCARD;
void arc__parts_free(struct arc_part *p, size_t n);
/* Full path of a part. */
void arc__abs(char *out, size_t len, const struct odo_archive_cfg *cfg, const struct arc_part *p);
/* The file's checksums and, loaded into a temporary table, its row
 * checksum, against what the part records. ODO_ERR_PROTOCOL when not. */
int arc__verify_part(PGconn *c, const struct odo_archive_cfg *cfg, const struct arc_part *p, const char *tmp,
		     char *why) ODO_NODISCARD;

#endif
