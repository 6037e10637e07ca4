/* odo-collector — `archive` commands and the [archive] configuration (archive.h). */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archive/archive_int.h"
#include "odo/log.h"

/*
 * Defaults (docs/archive.md "Retention"):
 *  - hot_days 90: a month stays in PostgreSQL until a quarter has passed
 *    since its end: longer than records keep arriving late (a gateway's
 *    outbox holds weeks of driving), than the map-matching worker re-reads
 *    late tracks (7 days), and than a monthly insurance period is still
 *    being corrected; the quarter is the reporting period of most fleet
 *    and insurance work.
 *  - expire_days 455: then 365 days in the archive ("tiered retention:
 *    hot, then archived for 365 days", the project's seed), 90 + 365.
 *  - restore_hold_days 30: a month brought back for an investigation or a
 *    claim stays a month before it is archived again.
 *  - gzip_level 6: zlib's default, the usual speed/size balance.
 */
const struct odo_cfg_key odo_archive_cfg_keys[ODO_ARCHIVE_NKEYS] = {
	ODO_CFG_S("dir", struct odo_archive_cfg, dir, "/var/lib/odo/archive",
		  "archive root: <table>/<YYYY>/<MM>/ per month (docs/archive.md); a local or mounted file system"),
	ODO_CFG_I("hot_days", struct odo_archive_cfg, hot_days, "90", 1, 36500,
		  "raw records stay in PostgreSQL until their month ended this many days ago, then `archive run` "
		  "moves them to the archive"),
	ODO_CFG_I("expire_days", struct odo_archive_cfg, expire_days, "455", 0, 36500,
		  "archive files are deleted once their month ended this many days ago (90 hot + 365 archived); "
		  "0 = keep for ever"),
	ODO_CFG_I("restore_hold_days", struct odo_archive_cfg, restore_hold_days, "30", 1, 3650,
		  "a month brought back by `archive restore` stays in PostgreSQL this long before it is archived again"),
	ODO_CFG_I("gzip_level", struct odo_archive_cfg, gzip_level, "6", 1, 9, "gzip compression level of archive files"),
};

static void usage(void)
{
	fprintf(stderr, "usage: odo-collector [--config FILE] archive COMMAND\n"
			"  run [--keep-rows]              archive every month past [archive] hot_days (export, verify,\n"
			"                                 remove from PostgreSQL), delete files past expire_days;\n"
			"                                 --keep-rows: export and verify only\n"
			"  restore --month YYYY-MM [--table T]   load an archived month back into PostgreSQL\n"
			"  verify [--month YYYY-MM]       read archive files back against their recorded checksums\n"
			"  list [--month YYYY-MM]         the archive's parts and their state\n");
}

static int list(PGconn *c, const char *month)
{
	char why[ARC_WHY];
	int ym = -1;
	if (month && arc__month_parse(month, &ym)) {
		fprintf(stderr, "odo-collector: --month wants YYYY-MM\n");
		return 2;
	}
	struct arc_part *p;
	size_t n;
	if (arc__parts(c, NULL, ym, "exported,dropped,restored,superseded,expired", &p, &n, why)) {
		ODO_LOG(ERROR, "archive", "%s", why);
		return 1;
	}
	printf("%-16s %-7s %4s %-10s %12s %12s  %s\n", "table", "month", "part", "state", "rows", "bytes", "file");
	for (size_t i = 0; i < n; i++) {
		char m[8];
		arc__month_str(p[i].ym, m);
		printf("%-16s %-7s %4d %-10s %12lld %12lld  %s\n", p[i].table, m, p[i].part, p[i].state, p[i].f.rows,
		       p[i].f.gz_bytes, p[i].path);
	}
	arc__parts_free(p, n);
	return 0;
}

int odo_archive_cli(PGconn *c, const struct odo_archive_cfg *cfg, const char *by, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "month", required_argument, NULL, 'm' }, { "table", required_argument, NULL, 't' },
		{ "keep-rows", no_argument, NULL, 'k' },   { NULL, 0, NULL, 0 },
	};
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *cmd = argv[1], *month = NULL, *table = NULL;
	int keep = 0, o;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'm': month = optarg; break;
		case 't': table = optarg; break;
		case 'k': keep = 1; break;
		default: usage(); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "odo-collector: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (strcmp(cmd, "list") == 0)
		return list(c, month);
	char why[ARC_WHY] = "";
	struct odo_archive_result res;
	int rc;
	if (strcmp(cmd, "run") == 0) {
		if (month || table) {
			usage();
			return 2;
		}
		rc = odo_archive_run(c, cfg, by, (int64_t)time(NULL), keep, &res, why);
		if (!rc)
			ODO_LOG(INFO, "archive", "%lld part(s), %lld row(s) moved to %s (%lld bytes); %s", res.parts, res.rows,
				cfg->dir, res.bytes, keep ? "rows kept (--keep-rows)" : "verified before removal");
	} else if (strcmp(cmd, "restore") == 0) {
		if (!month) {
			fprintf(stderr, "odo-collector: archive restore needs --month YYYY-MM\n");
			return 2;
		}
		rc = odo_archive_restore(c, cfg, by, month, table, &res, why);
		if (!rc)
			ODO_LOG(INFO, "archive", "%s: %lld row(s) restored from %lld file(s)", month, res.rows, res.files);
	} else if (strcmp(cmd, "verify") == 0) {
		if (table) {
			usage();
			return 2;
		}
		rc = odo_archive_verify(c, cfg, month, &res, why);
		if (!rc)
			ODO_LOG(INFO, "archive", "%lld file(s), %lld row(s), %lld bytes: every checksum matches", res.files,
				res.rows, res.bytes);
	} else {
		usage();
		return 2;
	}
	if (rc) {
		ODO_LOG(ERROR, "archive", "%s: %s", odo_strerror(rc), why);
		return rc == ODO_ERR_INVAL ? 2 : 1;
	}
	return 0;
}
