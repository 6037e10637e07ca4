/*
 * Drive replay: merge the recording's streams by receipt time and feed
 * each item through the live parsers on a virtual clock (see replay.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accel/accel.h"
#include "can/candump.h"
#include "can/vbus.h"
#include "gps/gps.h"
#include "odo/log.h"
#include "phone/phone.h"
#include "replay/replay.h"

#define REPLAY_PATH_MAX 4096

struct stream {
	FILE *f;
	char path[REPLAY_PATH_MAX];
	long lineno;
	int has; /* an item is ready */
	int64_t t;
	char line[ODO_REPLAY_LINE_MAX + 2];
	/* parsed item */
	size_t json_off, json_len;
	struct can_frame frame;
	char ifname[IFNAMSIZ];
	struct odo_accel_sample acc;
	struct odo_phone_state ph;
	char phone_line[ODO_PHONE_LINE_MAX];
};

struct odo_replay {
	struct odo_clock *clock;
	struct odo_replay_targets t;
	struct stream s[ODO_RSTREAM__COUNT];
	int64_t last_t;
	struct odo_replay_stats st;
};

int odo_replay_parse_time(const char *s, const char **end, int64_t *ns)
{
	const char *p = s;
	long long sec = 0, frac = 0;
	int nd = 0, fd = 0;
	while (*p >= '0' && *p <= '9') {
		if (++nd > 12)
			return -1;
		sec = sec * 10 + (*p++ - '0');
	}
	if (nd == 0)
		return -1;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++fd > 9)
				return -1;
			frac = frac * 10 + (*p++ - '0');
		}
		if (fd == 0)
			return -1;
	}
	for (; fd < 9; fd++)
		frac *= 10;
	*ns = sec * ODO_NS_PER_S + frac;
	*end = p;
	return 0;
}

static void corrupt(struct odo_replay *rp, int i, const char *why)
{
	rp->st.corrupt[i]++;
	ODO_LOG(WARN, "replay", "%s:%ld: %s; line skipped", rp->s[i].path, rp->s[i].lineno, why);
}


/* "YYYY-MM-DD HH:MM:SS " */
static int is_gpspipe_date(const char *l)
{
	static const char pat[] = "dddd-dd-dd dd:dd:dd ";
	for (int i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? (l[i] < '0' || l[i] > '9') : l[i] != pat[i])
			return 0;
	}
	return 1;
}

/* Parse s->line as an item of stream i; 0 ok, -1 corrupt (reason in *why). */
static int parse_item(struct stream *s, int i, const char **why)
{
	const char *p;
	switch (i) {
	case ODO_RSTREAM_GPS: {
		/* `gpspipe -w -uu` (3.22) writes "2018-08-02 16:14:48 1533226488.299000: {";
		 * the date/time in front of the Unix time is skipped. */
		const char *l = s->line;
		if (is_gpspipe_date(l))
			l += 20;
		if (odo_replay_parse_time(l, &p, &s->t) != 0) {
			*why = "bad receipt time";
			return -1;
		}
		if (*p == ':') /* gpspipe -u style "<t>: " */
			p++;
		if (*p != ' ' || p[1] != '{') {
			*why = "expected ' {' after the time";
			return -1;
		}
		s->json_off = (size_t)(p + 1 - s->line);
		s->json_len = strlen(p + 1);
		return 0;
	}
	case ODO_RSTREAM_CAN: {
		int64_t t;
		int rc = odo_candump_parse_line(s->line, &t, s->ifname, &s->frame);
		if (rc != ODO_OK) {
			*why = rc == ODO_ERR_UNSUPPORTED ? "CAN FD frame (not supported)" : "not a candump -l line";
			return -1;
		}
		s->t = t;
		return 0;
	}
	case ODO_RSTREAM_ACCEL:
		if (odo_accel_csv_parse(s->line, &s->t, &s->acc) != ODO_OK) {
			*why = "not an accel.csv row (t,x,y,z,saturated)";
			return -1;
		}
		return 0;
	case ODO_RSTREAM_PHONE: {
		if (odo_replay_parse_time(s->line, &p, &s->t) != 0 || *p != ',') {
			*why = "bad time";
			return -1;
		}
		char scr[8], call[16];
		int handled, n = 0;
		if (sscanf(p, ",%7[a-z],%15[a-z],%d%n", scr, call, &handled, &n) != 3 || p[n] != '\0') {
			*why = "not a phone.csv row (t,screen,call,handled)";
			return -1;
		}
		snprintf(s->phone_line, sizeof s->phone_line, "odo-phone/1 screen=%s call=%s handled=%d", scr,
			 call, handled);
		char reason[ODO_PHONE_REASON_MAX];
		if (odo_phone_parse(s->phone_line, strlen(s->phone_line), &s->ph, reason) != ODO_OK) {
			*why = "bad phone state";
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

static int is_header(int i, const char *line)
{
	return (i == ODO_RSTREAM_ACCEL &&
		(strcmp(line, ODO_ACCEL_CSV_HEADER) == 0 || strcmp(line, ODO_ACCEL_CSV_HEADER_GYRO) == 0)) ||
	       (i == ODO_RSTREAM_PHONE && strcmp(line, ODO_PHONE_CSV_HEADER) == 0);
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
		if (parse_item(s, i, &why) != 0) {
			corrupt(rp, i, why);
			continue;
		}
		s->has = 1;
		return;
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
	int64_t first = INT64_MAX;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++) {
		advance(rp, i);
		if (rp->s[i].has && rp->s[i].t < first)
			first = rp->s[i].t;
	}
	/* The replay owns the virtual clock: start REAL at the first item and
	 * keep MONO where it stands, so MONO then moves with the recording. */
	if (first != INT64_MAX)
		odo_clock_init_virtual(clock, first, odo_clock_mono_ns(clock));
	rp->last_t = INT64_MIN;
	*out = rp;
	return ODO_OK;
}

int odo_replay_step(struct odo_replay *rp)
{
	if (!rp)
		return ODO_ERR_INVAL;
	for (;;) {
		int best = -1;
		for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
			if (rp->s[i].has && (best < 0 || rp->s[i].t < rp->s[best].t))
				best = i;
		if (best < 0)
			return ODO_ERR_CLOSED;
		struct stream *s = &rp->s[best];
		if (s->t < rp->last_t)
			rp->st.out_of_order++;
		else
			rp->last_t = s->t;
		odo_clock_set_real(rp->clock, rp->last_t);
		int delivered = 1;
		switch (best) {
		case ODO_RSTREAM_GPS:
			if (rp->t.gps && odo_gps_feed_json(rp->t.gps, s->line + s->json_off, s->json_len) != ODO_OK) {
				char why[ODO_GPS_WHY_MAX + 32];
				snprintf(why, sizeof why, "not a gpsd JSON report (%s)",
				         odo_gps_error(rp->t.gps));
				corrupt(rp, best, why);
				delivered = 0;
			}
			break;
		case ODO_RSTREAM_CAN:
			if (rp->t.can_feed)
				rp->t.can_feed(rp->t.can_ctx, &s->frame, s->ifname);
			else if (rp->t.vbus)
				odo_vbus_feed_frame(rp->t.vbus, &s->frame, s->ifname);
			break;
		case ODO_RSTREAM_ACCEL:
			s->acc.mono_ns = odo_clock_mono_ns(rp->clock);
			if (rp->t.sink && rp->t.sink->accel)
				rp->t.sink->accel(rp->t.sink->ctx, &s->acc);
			break;
		case ODO_RSTREAM_PHONE:
			if (rp->t.phone) {
				if (odo_phone_feed_line(rp->t.phone, s->phone_line, strlen(s->phone_line)) != ODO_OK)
					delivered = 0;
			} else {
				s->ph.mono_ns = odo_clock_mono_ns(rp->clock);
				if (rp->t.sink && rp->t.sink->phone)
					rp->t.sink->phone(rp->t.sink->ctx, &s->ph);
			}
			break;
		}
		if (delivered)
			rp->st.items[best]++;
		advance(rp, best);
		if (delivered)
			return ODO_OK;
	}
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
