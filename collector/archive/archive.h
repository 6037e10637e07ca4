/*
 * odo-collector — tiered retention: raw records older than the hot window
 * leave PostgreSQL for monthly archive files, and come back on demand.
 *
 * Layout under [archive] dir (docs/archive.md):
 *   <table>/<YYYY>/<MM>/<table>-<YYYY>-<MM>.<part>.csv.gz   PostgreSQL COPY CSV with a header, gzip
 *   <table>/<YYYY>/<MM>/MANIFEST.json                       what the month's files hold, checksums
 * The database records every part in archive_parts (migration 006).
 *
 * A month of a table leaves the database only after its file was read back
 * whole (gzip CRC, SHA-256 of the CSV, row count) and loaded into a
 * temporary table whose row checksum equals the source's; the removal then
 * checks, under lock, that it removes exactly those rows, or removes none.
 *
 * Every function runs its own transactions on `c` (which must not be in
 * one), serialised against other archive commands by an advisory lock, and
 * writes a data_audit row for what it changed. `why` (256 bytes) says what
 * failed. Codes: ODO_ERR_DB, ODO_ERR_IO (a file), ODO_ERR_PROTOCOL (a file
 * that does not match its checksums: corrupted), ODO_ERR_INVAL,
 * ODO_ERR_NOTFOUND, ODO_ERR_NOMEM.
 */
#ifndef ODO_COLLECTOR_ARCHIVE_H
#define ODO_COLLECTOR_ARCHIVE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "odo/config.h"
#include "odo/err.h"

#define ODO_ARCHIVE_DIR_MAX 512

struct odo_archive_cfg {
	char dir[ODO_ARCHIVE_DIR_MAX];
	long long hot_days;          /* a month is archived once its end is this old */
	long long expire_days;       /* ... and its files deleted once this old (0: never) */
	long long restore_hold_days; /* a restored month stays in the database this long */
	long long gzip_level;
};

#define ODO_ARCHIVE_NKEYS 5
extern const struct odo_cfg_key odo_archive_cfg_keys[ODO_ARCHIVE_NKEYS];

/* What a command did (for its log line and the audit). */
struct odo_archive_result {
	long long parts, rows, files, bytes;
};

/* `odo-collector archive ...` (argv[0] = "archive"): run | restore | verify |
 * list. Returns the process exit status (0, 1 failure, 2 usage). */
int odo_archive_cli(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, int argc, char **argv);

/* Every month of every archived table past the hot window: export, verify,
 * remove (keep_rows: export and verify only); then expire old files. now_s:
 * wall clock (Unix s) the windows are measured from. */
int odo_archive_run(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, int64_t now_s, int keep_rows,
		    struct odo_archive_result *res, char *why) ODO_NODISCARD;

/* Load a month (YYYY-MM) of one table (NULL: every table) back. */
int odo_archive_restore(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, const char *month,
			const char *table, struct odo_archive_result *res, char *why) ODO_NODISCARD;

/* Read every archived file (or one month's) back against its recorded
 * checksums; nothing changes. ODO_ERR_PROTOCOL names the first bad file. */
int odo_archive_verify(PGconn *c, const struct odo_archive_cfg *cfg, const char *month,
		       struct odo_archive_result *res, char *why) ODO_NODISCARD;

/* Erase a driver's records from every archive file holding some (the same
 * windows `forget` erases in the database): each such file is rewritten
 * without them and verified. Run before odo_forget_driver() (which clears
 * the driver's assignments). res->rows: rows erased. */
int odo_archive_forget(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, const char *driver,
		       struct odo_archive_result *res, char *why) ODO_NODISCARD;

#endif
