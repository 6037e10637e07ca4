/*
 * Drive replay: the time merge of a recording's streams, as a source under
 * the loop (see replay.h). What a line means is its source's business: the
 * table below only pairs each file with its source's parser and feeder.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel/accel.h"
#include "can/candump.h"
#include "can/vbus.h"
#include "gps/gps.h"
#include "odo/config.h"
#include "odo/log.h"
#include "phone/phone.h"
#include "replay/replay.h"

#define REPLAY_PATH_MAX 4096
/* Room for the reason a source gives when it refuses an item. */
#define REPLAY_WHY_MAX (ODO_GPS_WHY_MAX + 32)

/* One parsed line, whichever stream it came from. */
union item {
	struct {
		const char *json; /* into the stream's line buffer */
		size_t len;
	} gps;
	struct {
		struct can_frame f;
		char ifname[IFNAMSIZ];
	} can;
	struct odo_accel_sample accel;
	struct odo_phone_state phone;
};

/* ---- the streams: {file, header, parse, deliver} ---- */

static int gps_parse(const char *line, int64_t *t, union item *it, const char **why)
{
	return odo_gps_log_parse(line, t, &it->gps.json, &it->gps.len, why);
}

static int gps_deliver(const struct odo_replay_targets *t, const union item *it, char *why, size_t n)
{
	if (t->gps && odo_gps_feed_json(t->gps, it->gps.json, it->gps.len) != ODO_OK) {
		snprintf(why, n, "not a gpsd JSON report (%s)", odo_gps_error(t->gps));
		return -1;
	}
	return 0;
}

static int can_parse(const char *line, int64_t *t, union item *it, const char **why)
{
	int rc = odo_candump_parse_line(line, t, it->can.ifname, &it->can.f);
	if (rc != ODO_OK)
		*why = rc == ODO_ERR_UNSUPPORTED ? "CAN FD frame (not supported)" : "not a candump -l line";
	return rc;
}

static int can_deliver(const struct odo_replay_targets *t, const union item *it, char *why, size_t n)
{
	(void)why;
	(void)n;
	if (t->vbus)
		odo_vbus_feed_frame(t->vbus, &it->can.f, it->can.ifname);
	return 0;
}

static int accel_parse(const char *line, int64_t *t, union item *it, const char **why)
{
	int rc = odo_accel_csv_parse(line, t, &it->accel);
	if (rc != ODO_OK)
		*why = "not an accel.csv row (t,x,y,z,saturated)";
	return rc;
}

static int accel_deliver(const struct odo_replay_targets *t, const union item *it, char *why, size_t n)
{
	(void)why;
	(void)n;
	return t->accel && odo_accel_feed(t->accel, &it->accel) != ODO_OK ? -1 : 0;
}

static int phone_parse(const char *line, int64_t *t, union item *it, const char **why)
{
	int rc = odo_phone_csv_parse(line, t, &it->phone);
	if (rc != ODO_OK)
		*why = rc == ODO_ERR_PROTOCOL ? "bad phone state" : "not a phone.csv row (t,screen,call,handled)";
	return rc;
}

static int phone_deliver(const struct odo_replay_targets *t, const union item *it, char *why, size_t n)
{
	(void)why;
	(void)n;
	return t->phone && odo_phone_feed(t->phone, &it->phone) != ODO_OK ? -1 : 0;
}

static const struct stream_kind {
	const char *header[2]; /* first lines to skip (CSV headers), or NULL */
	int (*parse)(const char *line, int64_t *t_real_ns, union item *it, const char **why);
	int (*deliver)(const struct odo_replay_targets *t, const union item *it, char *why, size_t whysz);
} kinds[ODO_RSTREAM__COUNT] = {
	[ODO_RSTREAM_GPS] = { { NULL, NULL }, gps_parse, gps_deliver },
	[ODO_RSTREAM_CAN] = { { NULL, NULL }, can_parse, can_deliver },
	[ODO_RSTREAM_ACCEL] = { { ODO_ACCEL_CSV_HEADER, ODO_ACCEL_CSV_HEADER_GYRO }, accel_parse, accel_deliver },
	[ODO_RSTREAM_PHONE] = { { ODO_PHONE_CSV_HEADER, NULL }, phone_parse, phone_deliver },
};

/* ---- the merge ---- */

struct stream {
	FILE *f;
	char path[REPLAY_PATH_MAX];
	long lineno;
	int has; /* an item is ready */
	int64_t t;
	union item it;
	char line[ODO_REPLAY_LINE_MAX + 2];
};

struct odo_replay {
	struct odo_clock *clock;
	struct odo_replay_targets t;
	struct stream s[ODO_RSTREAM__COUNT];
	int64_t last_t;
	int64_t end_ns; /* [recording] end, 0 unknown */
	int done;
	struct odo_replay_stats st;
};

static void corrupt(struct odo_replay *rp, int i, const char *why)
{
	rp->st.corrupt[i]++;
	ODO_LOG(WARN, "replay", "%s:%ld: %s; line skipped", rp->s[i].path, rp->s[i].lineno, why);
}

static int is_header(int i, const char *line)
{
	for (int k = 0; k < 2; k++)
		if (kinds[i].header[k] && strcmp(line, kinds[i].header[k]) == 0)
			return 1;
	return 0;
}

/* Read stream i up to its next valid item (or its end). */
static void advance(struct odo_replay *rp, int i)
{
	struct stream *s = &rp->s[i];
	s->has = 0;
	while (s->f && fgets(s->line, sizeof s->line, s->f)) {
		s->lineno++;
		size_t len = strlen(s->line);
		if (len > 0 && s->line[len - 1] == '\n') {
			s->line[--len] = '\0';
		} else if (!feof(s->f)) {
			int c;
			while ((c = fgetc(s->f)) != EOF && c != '\n')
				;
			corrupt(rp, i, "line too long");
			continue;
		}
		if (len > 0 && s->line[len - 1] == '\r')
			s->line[--len] = '\0';
		if (len == 0 || s->line[0] == '#' || is_header(i, s->line))
			continue;
		if (memchr(s->line, '\0', len) != NULL || strlen(s->line) != len) {
			corrupt(rp, i, "NUL byte in line");
			continue;
		}
		const char *why = "malformed";
		if (kinds[i].parse(s->line, &s->t, &s->it, &why) != ODO_OK) {
			corrupt(rp, i, why);
			continue;
		}
		s->has = 1;
		return;
	}
}

/* The stream whose item is next (earliest; ties in stream order), or -1. */
static int next_stream(const struct odo_replay *rp)
{
	int best = -1;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		if (rp->s[i].has && (best < 0 || rp->s[i].t < rp->s[best].t))
			best = i;
	return best;
}

/* Deliver the next item (the clock stands at its time or later). */
static void deliver_next(struct odo_replay *rp, int i)
{
	struct stream *s = &rp->s[i];
	char why[REPLAY_WHY_MAX];
	if (s->t < rp->last_t)
		rp->st.out_of_order++;
	else
		rp->last_t = s->t;
	if (kinds[i].deliver(&rp->t, &s->it, why, sizeof why) == 0)
		rp->st.items[i]++;
	else
		corrupt(rp, i, why);
	advance(rp, i);
}

/* [recording] start and end from meta.conf, 0 when absent or unreadable. */
static void read_meta(const char *dir, int64_t *start, int64_t *end)
{
	struct meta {
		long long version;
		char start[32], end[32];
		char id[ODO_REPLAY_META_MAX], vehicle[ODO_REPLAY_META_MAX];
		char chip[ODO_REPLAY_META_MAX], mounting[ODO_REPLAY_META_MAX];
	} m;
#define M struct meta
	static const struct odo_cfg_key rec_keys[] = {
		ODO_CFG_I("version", M, version, "1", 1, 1, "recording format"),
		ODO_CFG_S("start", M, start, "", "first instant"),
		ODO_CFG_S("end", M, end, "", "when the agent stopped"),
	};
	static const struct odo_cfg_key dev_keys[] = { ODO_CFG_S("id", M, id, "", "device") };
	static const struct odo_cfg_key veh_keys[] = { ODO_CFG_S("name", M, vehicle, "", "vehicle") };
	static const struct odo_cfg_key acc_keys[] = {
		ODO_CFG_S("chip", M, chip, "", "accelerometer"),
		ODO_CFG_S("mounting", M, mounting, "", "mounting"),
	};
#undef M
	const struct odo_cfg_section secs[] = {
		{ "recording", rec_keys, ODO_ARRAY_LEN(rec_keys), &m },
		{ "device", dev_keys, ODO_ARRAY_LEN(dev_keys), &m },
		{ "vehicle", veh_keys, ODO_ARRAY_LEN(veh_keys), &m },
		{ "accel", acc_keys, ODO_ARRAY_LEN(acc_keys), &m },
	};
	char path[REPLAY_PATH_MAX];
	struct odo_cfg_error err;
	*start = *end = 0;
	if ((size_t)snprintf(path, sizeof path, "%s/meta.conf", dir) >= sizeof path)
		return;
	int rc = odo_config_parse_file(path, secs, ODO_ARRAY_LEN(secs), &err);
	if (rc == ODO_ERR_IO && access(path, F_OK) != 0)
		return;
	if (rc != ODO_OK) {
		ODO_LOG(WARN, "replay", "%s (meta.conf ignored: the replay runs from the first item to the last)",
			err.msg);
		return;
	}
	const char *txt[2] = { m.start, m.end }, *e;
	int64_t *out[2] = { start, end };
	for (int k = 0; k < 2; k++)
		if (txt[k][0] && (odo_clock_parse_unix(txt[k], &e, out[k]) != ODO_OK || *e)) {
			ODO_LOG(WARN, "replay", "%s: [recording] %s '%s' is not a Unix time (ignored)", path,
				k ? "end" : "start", txt[k]);
			*out[k] = 0;
		}
}

int odo_replay_open(const char *dir, struct odo_clock *clock, const struct odo_replay_targets *t,
		    struct odo_replay **out)
{
	if (!dir || !clock || !out)
		return ODO_ERR_INVAL;
	struct odo_replay *rp = calloc(1, sizeof *rp);
	if (!rp)
		return ODO_ERR_NOMEM;
	rp->clock = clock;
	if (t)
		rp->t = *t;
	int any = 0;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++) {
		struct stream *s = &rp->s[i];
		if ((size_t)snprintf(s->path, sizeof s->path, "%s/%s", dir, odo_replay_files[i]) >= sizeof s->path) {
			odo_replay_close(rp);
			return ODO_ERR_INVAL;
		}
		s->f = fopen(s->path, "r");
		if (s->f)
			any = 1;
		else if (errno != ENOENT)
			ODO_LOG(WARN, "replay", "%s: %s", s->path, strerror(errno));
	}
	if (!any) {
		ODO_LOG(ERROR, "replay", "%s: no recording files (gps.log, can.log, accel.csv, phone.csv)", dir);
		odo_replay_close(rp);
		return ODO_ERR_NOTFOUND;
	}
	int64_t start;
	read_meta(dir, &start, &rp->end_ns);
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		advance(rp, i);
	int first = next_stream(rp);
	/* The replay owns the virtual clock: REAL starts where the live agent
	 * started (its timers ran from there), or at the first item when that
	 * is earlier or not known; MONO stays where it stands and moves with the
	 * recording from there. */
	if (first >= 0 && (!start || rp->s[first].t < start))
		start = rp->s[first].t;
	/* MONO moved on to REAL's place in its second: REAL - MONO is a whole
	 * number of seconds, as live (loop.c), so what is aligned on MONO
	 * (100 ms slots, milliseconds) falls alike in both */
	if (start) {
		int64_t m = odo_clock_mono_ns(clock), r = (start - m) % ODO_NS_PER_S;
		odo_clock_init_virtual(clock, start, m + (r < 0 ? r + ODO_NS_PER_S : r));
	}
	rp->last_t = INT64_MIN;
	*out = rp;
	return ODO_OK;
}

/* The REAL instant the replay wants next: its next item, then the
 * recording's end (0 when unknown: at once); INT64_MAX when done. */
static int64_t next_real(const struct odo_replay *rp)
{
	int i = next_stream(rp);
	if (i >= 0)
		return rp->s[i].t;
	return rp->done ? INT64_MAX : rp->end_ns;
}

static int64_t replay_deadline(void *self)
{
	struct odo_replay *rp = self;
	int64_t t = next_real(rp);
	if (t == INT64_MAX)
		return ODO_DEADLINE_NONE;
	int64_t ahead = t - odo_clock_real_ns(rp->clock);
	/* an item older than the clock (out of order) is due now */
	return odo_clock_mono_ns(rp->clock) + (ahead > 0 ? ahead : 0);
}

static void replay_tick(void *self)
{
	struct odo_replay *rp = self;
	int64_t now = odo_clock_real_ns(rp->clock);
	int i;
	/* everything of this instant, in stream order: what the live loop
	 * received in one round */
	while ((i = next_stream(rp)) >= 0 && rp->s[i].t <= now)
		deliver_next(rp, i);
	if (next_stream(rp) < 0 && (rp->end_ns <= now))
		rp->done = 1;
}

static const struct odo_source_ops replay_ops = {
	.name = "replay",
	.deadline = replay_deadline,
	.tick = replay_tick,
};

struct odo_source odo_replay_source(struct odo_replay *rp)
{
	return (struct odo_source){ .ops = &replay_ops, .self = rp };
}

int odo_replay_done(const struct odo_replay *rp)
{
	return !rp || rp->done;
}

int odo_replay_step(struct odo_replay *rp)
{
	if (!rp)
		return ODO_ERR_INVAL;
	int i = next_stream(rp);
	if (i < 0)
		return ODO_ERR_CLOSED;
	/* the clock follows the recording; it never goes back */
	if (rp->s[i].t > odo_clock_real_ns(rp->clock))
		odo_clock_set_real(rp->clock, rp->s[i].t);
	deliver_next(rp, i);
	return ODO_OK;
}

void odo_replay_stats(const struct odo_replay *rp, struct odo_replay_stats *out)
{
	if (rp && out)
		*out = rp->st;
}

void odo_replay_close(struct odo_replay *rp)
{
	if (!rp)
		return;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		if (rp->s[i].f)
			fclose(rp->s[i].f);
	free(rp);
}
