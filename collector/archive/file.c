/* odo-collector archive — files, their checksums, the manifest (archive_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "archive/archive_int.h"

#define ARC_BUF 65536

void arc__month_dir(char *out, size_t len, const char *dir, const char *table, int ym)
{
	snprintf(out, len, "%s/%s/%04d/%02d", dir, table, ym / 12, ym % 12 + 1);
}

void arc__part_name(char *out, size_t len, const char *table, int ym, int part)
{
	snprintf(out, len, "%s-%04d-%02d.%d.csv.gz", table, ym / 12, ym % 12 + 1, part);
}

int arc__mkdirs(const char *path, char *why)
{
	char p[ARC_PATH];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char keep = *s;
		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			arc__whyf(why, "%s: %s", p, strerror(errno));
			return ODO_ERR_IO;
		}
		*s = keep;
		if (!keep)
			break;
	}
	return ODO_OK;
}

void arc__sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

static void hex(const unsigned char *d, unsigned n, char out[ARC_SHA_HEX])
{
	for (unsigned i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * (n < 32 ? n : 32)] = '\0';
}

int arc__file_sums(const char *path, struct arc_file *out, char *why)
{
	memset(out, 0, sizeof *out);
	int rc = ODO_ERR_NOMEM;
	unsigned char *buf = malloc(ARC_BUF);
	EVP_MD_CTX *gz = EVP_MD_CTX_new(), *csv = EVP_MD_CTX_new();
	gzFile g = NULL;
	FILE *f = NULL;
	if (!buf || !gz || !csv || !EVP_DigestInit_ex(gz, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(csv, EVP_sha256(), NULL)) {
		arc__whyf(why, "out of memory");
		goto out;
	}
	/* the file's own bytes */
	f = fopen(path, "rb");
	if (!f) {
		arc__whyf(why, "%s: %s", path, strerror(errno));
		rc = ODO_ERR_IO;
		goto out;
	}
	size_t n;
	while ((n = fread(buf, 1, ARC_BUF, f)) > 0) {
		EVP_DigestUpdate(gz, buf, n);
		out->gz_bytes += (long long)n;
	}
	if (ferror(f)) {
		arc__whyf(why, "%s: read error", path);
		rc = ODO_ERR_IO;
		goto out;
	}
	/* the content, through zlib (which checks the gzip CRC-32 and length) */
	g = gzopen(path, "rb");
	if (!g) {
		arc__whyf(why, "%s: %s", path, strerror(errno));
		rc = ODO_ERR_IO;
		goto out;
	}
	int got;
	while ((got = gzread(g, buf, ARC_BUF)) > 0)
		EVP_DigestUpdate(csv, buf, (size_t)got);
	if (got < 0) {
		int zerr;
		const char *msg = gzerror(g, &zerr);
		arc__whyf(why, "%s: not a valid gzip stream (%s)", path, msg);
		rc = ODO_ERR_PROTOCOL;
		goto out;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl;
	EVP_DigestFinal_ex(gz, d, &dl);
	hex(d, dl, out->gz_sha);
	EVP_DigestFinal_ex(csv, d, &dl);
	hex(d, dl, out->csv_sha);
	rc = ODO_OK;
out:
	if (g)
		gzclose(g);
	if (f)
		fclose(f);
	EVP_MD_CTX_free(gz);
	EVP_MD_CTX_free(csv);
	free(buf);
	return rc;
}

int arc__file_check(const char *path, const struct arc_file *want, char *why)
{
	struct arc_file got;
	int rc = arc__file_sums(path, &got, why);
	if (rc)
		return rc;
	if (got.gz_bytes != want->gz_bytes || strcmp(got.gz_sha, want->gz_sha) != 0) {
		arc__whyf(why, "%s: the file changed (%lld bytes, SHA-256 %.16s..., recorded %lld bytes, %.16s...)",
			 path, got.gz_bytes, got.gz_sha, want->gz_bytes, want->gz_sha);
		return ODO_ERR_PROTOCOL;
	}
	if (strcmp(got.csv_sha, want->csv_sha) != 0) {
		arc__whyf(why, "%s: its content's SHA-256 %.16s... is not the recorded %.16s...", path,
			 got.csv_sha, want->csv_sha);
		return ODO_ERR_PROTOCOL;
	}
	return ODO_OK;
}

/* ---- the manifest ------------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* "key": value-or-null, for a possibly NULL timestamp column */
static void json_opt(FILE *f, const char *key, const PGresult *r, int row, int col)
{
	fprintf(f, ",\n      \"%s\": ", key);
	if (PQgetisnull(r, row, col))
		fputs("null", f);
	else
		json_str(f, PQgetvalue(r, row, col));
}

int arc__manifest(PGconn *c, const struct odo_archive_cfg *cfg, const char *table, int ym, char *why)
{
	const struct arc_table *t = arc__table(table);
	char month[8], dir[ARC_PATH], path[ARC_PATH + 32], tmp[ARC_PATH + 32];
	arc__month_str(ym, month);
	arc__month_dir(dir, sizeof dir, cfg->dir, table, ym);
	snprintf(path, sizeof path, "%s/MANIFEST.json", dir);
	snprintf(tmp, sizeof tmp, "%s/MANIFEST.json.tmp", dir);
	const char *v[2] = { table, month };
	PGresult *r = arc__query(c,
		"SELECT part, state, path, columns, rows, csv_sha256, gz_sha256, gz_bytes, sum_hi, sum_lo,"
		" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(dropped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(restored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(rewritten_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" rows_forgotten, performed_by"
		" FROM archive_parts WHERE tbl = $1 AND month = $2 AND state IN ('exported', 'dropped', 'restored')"
		" ORDER BY part", 2, v, why);
	if (!r)
		return ODO_ERR_DB;
	if (PQntuples(r) == 0) {
		PQclear(r);
		if (unlink(path) == 0)
			arc__sync_dir(dir);
		return ODO_OK; /* nothing archived in this month (any more) */
	}
	int rc = arc__mkdirs(dir, why);
	int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (fd >= 0 && !f)
		close(fd);
	if (!rc && !f) {
		arc__whyf(why, "%s: %s", tmp, strerror(errno));
		rc = ODO_ERR_IO;
	}
	if (rc) {
		PQclear(r);
		return rc;
	}
	char from[32], to[32];
	snprintf(from, sizeof from, "%04d-%02d-01T00:00:00Z", ym / 12, ym % 12 + 1);
	snprintf(to, sizeof to, "%04d-%02d-01T00:00:00Z", (ym + 1) / 12, (ym + 1) % 12 + 1);
	fprintf(f, "{\n  \"format\": \"%s\",\n  \"table\": ", ARC_FORMAT);
	json_str(f, table);
	fprintf(f, ",\n  \"month\": \"%s\",\n  \"rows_from\": { \"column\": ", month);
	json_str(f, t ? t->time_col : "");
	fprintf(f, ", \"at_or_after\": \"%s\", \"before\": \"%s\" },\n", from, to);
	fputs("  \"csv\": { \"dialect\": \"PostgreSQL COPY FORMAT csv\", \"header\": true, \"delimiter\": \",\","
	      " \"quote\": \"\\\"\", \"null\": \"unquoted empty field\", \"encoding\": \"UTF-8\","
	      " \"timestamptz\": \"ISO 8601, UTC (+00)\", \"floats\": \"shortest exact (extra_float_digits 1)\","
	      " \"bytea\": \"hex (\\\\x...)\", \"arrays\": \"PostgreSQL array literals\","
	      " \"order\": \"primary key\" },\n", f);
	fputs("  \"row_checksum\": \"count; sums of the first and last 8 bytes of md5(ROW(columns)::text) read as"
	      " signed 64-bit integers (docs/archive.md)\",\n  \"parts\": [", f);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *file = strrchr(PQgetvalue(r, i, 2), '/');
		fprintf(f, "%s\n    {\n      \"part\": %s,\n      \"file\": ", i ? "," : "", PQgetvalue(r, i, 0));
		json_str(f, file ? file + 1 : PQgetvalue(r, i, 2));
		fputs(",\n      \"state\": ", f);
		json_str(f, PQgetvalue(r, i, 1));
		fprintf(f, ",\n      \"rows\": %s,\n      \"csv_sha256\": \"%s\",\n      \"gz_sha256\": \"%s\","
			   "\n      \"gz_bytes\": %s,\n      \"row_checksum\": { \"rows\": %s, \"sum_hi\": \"%s\","
			   " \"sum_lo\": \"%s\" },\n      \"columns\": [",
			PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
			PQgetvalue(r, i, 4), PQgetvalue(r, i, 8), PQgetvalue(r, i, 9));
		/* "name type" per line */
		const char *p = PQgetvalue(r, i, 3);
		int first = 1;
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			const char *sp = memchr(p, ' ', len);
			char name[128], type[128];
			snprintf(name, sizeof name, "%.*s", sp ? (int)(sp - p) : (int)len, p);
			snprintf(type, sizeof type, "%.*s", sp ? (int)(len - (size_t)(sp - p) - 1) : 0, sp ? sp + 1 : "");
			fprintf(f, "%s{ \"name\": ", first ? "" : ", ");
			json_str(f, name);
			fputs(", \"type\": ", f);
			json_str(f, type);
			fputs(" }", f);
			first = 0;
			p += len + (nl ? 1 : 0);
		}
		fputs("]", f);
		json_opt(f, "created_at", r, i, 10);
		json_opt(f, "dropped_at", r, i, 11);
		json_opt(f, "restored_at", r, i, 12);
		json_opt(f, "rewritten_at", r, i, 13);
		fprintf(f, ",\n      \"rows_forgotten\": %s,\n      \"performed_by\": ", PQgetvalue(r, i, 14));
		json_str(f, PQgetvalue(r, i, 15));
		fputs("\n    }", f);
	}
	fputs("\n  ]\n}\n", f);
	PQclear(r);
	int bad = ferror(f) | fflush(f) | fsync(fileno(f));
	bad |= fclose(f);
	if (bad || rename(tmp, path) != 0) {
		arc__whyf(why, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return ODO_ERR_IO;
	}
	arc__sync_dir(dir);
	return ODO_OK;
}
