/* odo-agent — the dense track for map matching (see track.h). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "track.h"

void odo_track_init(struct odo_track *t, const struct odo_track_cfg *cfg)
{
	memset(t, 0, sizeof *t);
	t->cfg = *cfg;
}

/* Tolerance on the point period: a receiver's 1 Hz fixes arrive with jitter. */
#define PERIOD_SLACK_MS 100

static int take(struct odo_track *t, int64_t t_ms)
{
	int64_t period = (int64_t)llround(t->cfg.point_s * 1000.0);
	return t->last_ms == 0 || t_ms - t->last_ms >= period - PERIOD_SLACK_MS || t_ms < t->last_ms;
}

static int32_t i32_or_absent(double v, double scale, int ceil_it)
{
	if (!isfinite(v) || v < 0)
		return -1;
	double x = ceil_it ? ceil(v * scale) : llround(v * scale);
	return x > 65535 ? 65535 : (int32_t)x;
}

static int finish(struct odo_track *t, struct odo_record *out)
{
	if (t->rec.n == 0)
		return 0;
	odo_record_init(out, ODO_REC_TRACK);
	out->t_ms = t->t0_ms;
	out->u.track = t->rec;
	out->u.track.trip_id = t->trip_id;
	t->rec.n = 0;
	t->trip_id = 0;
	return 1;
}

/* Append a point to the pending record (which has room and the right trip). */
static void append(struct odo_track *t, uint64_t trip_id, const struct odo_track_pt *p)
{
	if (t->rec.n == 0) {
		t->trip_id = trip_id;
		t->t0_ms = p->t_ms;
		t->last_ds = 0;
	}
	/* offsets from t0 rounded once, so the rounding never accumulates */
	int64_t ds = (int64_t)llround((double)(p->t_ms - t->t0_ms) / 100.0);
	struct odo_track_point *q = &t->rec.pt[t->rec.n++];
	int64_t d = ds - t->last_ds;
	q->dt_ds = (uint32_t)(d < 0 ? 0 : d > 65535 ? 65535 : d);
	t->last_ds = ds;
	q->lat_e6 = (int32_t)llround(p->lat * 1e6);
	q->lon_e6 = (int32_t)llround(p->lon * 1e6);
	q->v_dms = i32_or_absent(p->speed_mps, 10.0, 0);
	q->eph_m = i32_or_absent(p->eph_m, 1.0, 1);
	t->last_ms = p->t_ms;
}

/* Would this point close the pending record first? */
static int full_before(const struct odo_track *t, uint64_t trip_id, int64_t t_ms)
{
	if (t->rec.n == 0)
		return 0;
	return t->trip_id != trip_id || t->rec.n >= ODO_WIRE_MAX_TRACK ||
	       (double)(t_ms - t->t0_ms) >= t->cfg.record_s * 1000.0 - PERIOD_SLACK_MS ||
	       t_ms - t->t0_ms > 6553500 || t_ms < t->t0_ms;
}

int odo_track_fix(struct odo_track *t, uint64_t trip_id, int64_t trip_start_ms, int64_t t_ms, double lat,
		  double lon, double speed_mps, double eph_m, struct odo_record *out)
{
	if (t->cfg.point_s <= 0)
		return 0;
	struct odo_track_pt p = { t_ms, lat, lon, speed_mps, eph_m };
	if (trip_id == 0) {
		/* no trip: remember the fix in case a trip is back-dated over it */
		int r = finish(t, out);
		t->pre_head = (t->pre_head + 1) % ODO_TRACK_PRE_RING;
		t->pre[t->pre_head] = p;
		if (t->pre_n < ODO_TRACK_PRE_RING)
			t->pre_n++;
		return r;
	}
	int ready = 0;
	if (t->rec.n > 0 && t->trip_id != trip_id)
		ready = finish(t, out);
	if (t->rec.n == 0 && t->pre_n > 0 && !ready) {
		/* a new trip: its back-dated start may lie before this fix */
		int64_t last = t->last_ms;
		t->last_ms = 0;
		for (unsigned k = t->pre_n; k > 0; k--) {
			const struct odo_track_pt *q = &t->pre[(t->pre_head + ODO_TRACK_PRE_RING + 1 - k) % ODO_TRACK_PRE_RING];
			if (q->t_ms >= trip_start_ms && q->t_ms < t_ms && take(t, q->t_ms) && t->rec.n < ODO_WIRE_MAX_TRACK)
				append(t, trip_id, q);
		}
		if (t->rec.n == 0)
			t->last_ms = last;
		t->pre_n = 0;
	}
	if (!take(t, t_ms))
		return ready;
	if (!ready && full_before(t, trip_id, t_ms))
		ready = finish(t, out);
	else if (ready && full_before(t, trip_id, t_ms))
		return ready; /* cannot happen: a finished record leaves none pending */
	append(t, trip_id, &p);
	return ready;
}

int odo_track_flush(struct odo_track *t, struct odo_record *out)
{
	return finish(t, out);
}
