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

int odo_recorder_open(const char *dir, const struct odo_recording_meta *meta, struct odo_recorder **out)
{
	if (!dir || !out)
		return ODO_ERR_INVAL;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ODO_ERR_IO;
	struct odo_recorder *r = calloc(1, sizeof *r);
	if (!r)
		return ODO_ERR_NOMEM;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++) {
		r->f[i] = open_in(dir, odo_replay_files[i], "w");
		if (!r->f[i]) {
			odo_recorder_close(r);
			return ODO_ERR_IO;
		}
	}
	fprintf(r->f[ODO_RSTREAM_ACCEL], "%s\n", ODO_ACCEL_CSV_HEADER);
	fprintf(r->f[ODO_RSTREAM_PHONE], "%s\n", ODO_PHONE_CSV_HEADER);
	FILE *m = open_in(dir, "meta.conf", "w");
	if (!m) {
		odo_recorder_close(r);
		return ODO_ERR_IO;
	}
	struct odo_recording_meta none;
	if (!meta) {
		memset(&none, 0, sizeof none);
		meta = &none;
	}
	fprintf(m, "# odo drive recording (docs/inputs.md)\n[recording]\nversion = 1\n");
	fprintf(m, "start = %lld.%06lld\n", (long long)(meta->start_real_ns / ODO_NS_PER_S),
		(long long)(meta->start_real_ns % ODO_NS_PER_S / 1000));
	fprintf(m, "\n[device]\n");
	put_str(m, "id", meta->device_id);
	fprintf(m, "\n[vehicle]\n");
	put_str(m, "name", meta->vehicle);
	fprintf(m, "\n[accel]\n");
	put_str(m, "chip", meta->accel_chip);
	put_str(m, "mounting", meta->mounting);
	int bad = ferror(m);
	if (fclose(m) != 0 || bad) {
		odo_recorder_close(r);
		return ODO_ERR_IO;
	}
	*out = r;
	return ODO_OK;
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
