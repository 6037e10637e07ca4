/*
 * Drive recorder: the files a recording directory holds (see replay.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accel/accel.h"
#include "phone/phone.h"
#include "replay/replay.h"

#define REC_PATH_MAX 4096

const char *const odo_replay_files[ODO_RSTREAM__COUNT] = { "gps.log", "can.log", "accel.csv", "phone.csv" };

struct odo_recorder {
	FILE *f[ODO_RSTREAM__COUNT];
	char dir[REC_PATH_MAX];
	struct odo_recording_meta meta;
};

static FILE *open_in(const char *dir, const char *name, const char *mode)
{
	char path[REC_PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(path, mode);
}

/* INI values are written quoted; quotes and newlines in them are replaced. */
static void put_str(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s = \"", key);
	for (; *v; v++)
		fputc((*v == '"' || *v == '\n' || *v == '\r') ? '\'' : *v, f);
	fputs("\"\n", f);
}

static void put_time(FILE *f, const char *key, int64_t ns)
{
	char t[32];
	if (odo_clock_format_unix_us(t, sizeof t, ns))
		fprintf(f, "%s = %s\n", key, t);
}

/* meta.conf, written whole (at open, and again with the end). */
static int write_meta(const struct odo_recorder *r)
{
	const struct odo_recording_meta *meta = &r->meta;
	FILE *m = open_in(r->dir, "meta.conf", "w");
	if (!m)
		return ODO_ERR_IO;
	fprintf(m, "# odo drive recording (docs/inputs.md)\n[recording]\nversion = 1\n");
	put_time(m, "start", meta->start_real_ns);
	if (meta->end_real_ns)
		put_time(m, "end", meta->end_real_ns);
	fprintf(m, "\n[device]\n");
	put_str(m, "id", meta->device_id);
	fprintf(m, "\n[vehicle]\n");
	put_str(m, "name", meta->vehicle);
	fprintf(m, "\n[accel]\n");
	put_str(m, "chip", meta->accel_chip);
	put_str(m, "mounting", meta->mounting);
	int bad = ferror(m);
	if (fclose(m) != 0 || bad)
		return ODO_ERR_IO;
	return ODO_OK;
}

int odo_recorder_open(const char *dir, const struct odo_recording_meta *meta, struct odo_recorder **out)
{
	if (!dir || !out || strlen(dir) >= REC_PATH_MAX)
		return ODO_ERR_INVAL;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ODO_ERR_IO;
	struct odo_recorder *r = calloc(1, sizeof *r);
	if (!r)
		return ODO_ERR_NOMEM;
	snprintf(r->dir, sizeof r->dir, "%s", dir);
	if (meta)
		r->meta = *meta;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++) {
		r->f[i] = open_in(dir, odo_replay_files[i], "w");
		if (!r->f[i]) {
			odo_recorder_close(r);
			return ODO_ERR_IO;
		}
	}
	fprintf(r->f[ODO_RSTREAM_ACCEL], "%s\n", ODO_ACCEL_CSV_HEADER);
	fprintf(r->f[ODO_RSTREAM_PHONE], "%s\n", ODO_PHONE_CSV_HEADER);
	if (write_meta(r) != ODO_OK) {
		odo_recorder_close(r);
		return ODO_ERR_IO;
	}
	*out = r;
	return ODO_OK;
}

int odo_recorder_end(struct odo_recorder *r, int64_t end_real_ns)
{
	if (!r)
		return ODO_ERR_INVAL;
	r->meta.end_real_ns = end_real_ns;
	return write_meta(r);
}

FILE *odo_recorder_file(struct odo_recorder *r, enum odo_replay_stream s)
{
	if (!r || (int)s < 0 || s >= ODO_RSTREAM__COUNT)
		return NULL;
	return r->f[s];
}

int odo_recorder_flush(struct odo_recorder *r)
{
	int rc = ODO_OK;
	if (!r)
		return ODO_ERR_INVAL;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		if (r->f[i] && fflush(r->f[i]) != 0)
			rc = ODO_ERR_IO;
	return rc;
}

void odo_recorder_close(struct odo_recorder *r)
{
	if (!r)
		return;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		if (r->f[i])
			fclose(r->f[i]);
	free(r);
}
