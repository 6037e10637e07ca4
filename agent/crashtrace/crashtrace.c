/* odo-agent — the crash trace (see crashtrace.h). */
#include "crashtrace/crashtrace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "odo/geo.h"

#define CTX_PERIOD_NS 100000000LL /* context kept at most every 100 ms */
#define CTX_HZ 10
#define RING_SLACK_S 3.0          /* beyond pre_s + hold_s: the impact itself, the judging, jitter */
#define RATE_SPAN_NS 2000000000LL /* the rate is measured over the last 2 s */
#define MAX_SAMPLES (ODO_WIRE_MAX_TRACE * ODO_WIRE_MAX_TRACE_PARTS)

struct ct_sample {
	int64_t ns;
	int16_t mg[3]; /* sensor frame, milli-g */
};

struct ct_ctx {
	int64_t ns;
	struct odo_ctrace_ctx c;
};

struct odo_ctrace {
	struct odo_ctrace_cfg cfg;
	int off;
	/* samples: the one with absolute number k is at ring[k % cap] */
	struct ct_sample *ring;
	uint64_t cap, total;
	/* context */
	struct ct_ctx *ctx;
	uint64_t ctx_cap, ctx_total;
	/* the trace under way */
	int active;
	uint64_t cursor;    /* absolute number of the next sample to send */
	uint32_t remaining; /* samples still to send */
	uint16_t part, parts, hz;
	int frame;
	double R[3][3];
	int64_t crash_ms;
	uint64_t trip_id;
	int64_t prev_ns;    /* the last sample sent (gap check) */
	struct odo_ctrace_stats st;
};

int odo_ctrace_open(const struct odo_ctrace_cfg *cfg, double hold_s, struct odo_ctrace **out)
{
	if (!cfg || !out)
		return ODO_ERR_INVAL;
	*out = NULL;
	if (!(cfg->pre_s >= 0 && cfg->pre_s <= 60 && cfg->post_s >= 0 && cfg->post_s <= 60 && cfg->max_hz >= 1 &&
	      cfg->max_hz <= 1000 && hold_s >= 0 && hold_s <= 60) ||
	    (cfg->pre_s + cfg->post_s) * cfg->max_hz > MAX_SAMPLES)
		return ODO_ERR_INVAL;
	struct odo_ctrace *t = calloc(1, sizeof(*t));
	if (!t)
		return ODO_ERR_NOMEM;
	t->cfg = *cfg;
	t->off = cfg->pre_s + cfg->post_s <= 0;
	if (!t->off) {
		double keep_s = cfg->pre_s + hold_s + RING_SLACK_S;
		t->cap = (uint64_t)ceil(keep_s * cfg->max_hz) + ODO_WIRE_MAX_TRACE;
		t->ctx_cap = (uint64_t)ceil(keep_s * CTX_HZ) + 8;
		t->ring = calloc(t->cap, sizeof(*t->ring));
		t->ctx = calloc(t->ctx_cap, sizeof(*t->ctx));
		if (!t->ring || !t->ctx) {
			odo_ctrace_close(t);
			return ODO_ERR_NOMEM;
		}
	}
	*out = t;
	return ODO_OK;
}

void odo_ctrace_close(struct odo_ctrace *t)
{
	if (!t)
		return;
	free(t->ring);
	free(t->ctx);
	free(t);
}

static int16_t mg_of(double a)
{
	double mg = round(a / ODO_G * 1000.0);
	if (!(mg >= -32768))
		return mg > 0 ? 32767 : -32768; /* NaN: the low end, never seen in a real sample */
	return mg > 32767 ? 32767 : (int16_t)mg;
}

void odo_ctrace_sample(struct odo_ctrace *t, int64_t ns, const double a[3])
{
	if (!t || t->off)
		return;
	if (t->active && t->total - t->cursor >= t->cap) {
		/* cannot happen with the ring's size (parts leave as soon as they
		 * are full); if it did, the oldest unsent sample goes */
		t->cursor++;
		if (t->remaining)
			t->remaining--;
	}
	struct ct_sample *s = &t->ring[t->total % t->cap];
	s->ns = ns;
	for (int i = 0; i < 3; i++)
		s->mg[i] = mg_of(a[i]);
	t->total++;
}

void odo_ctrace_context(struct odo_ctrace *t, int64_t ns, const struct odo_ctrace_ctx *c)
{
	if (!t || t->off || !c)
		return;
	if (t->ctx_total) {
		const struct ct_ctx *last = &t->ctx[(t->ctx_total - 1) % t->ctx_cap];
		if (ns - last->ns < CTX_PERIOD_NS)
			return;
	}
	t->ctx[t->ctx_total % t->ctx_cap] = (struct ct_ctx){.ns = ns, .c = *c};
	t->ctx_total++;
}

static const struct ct_sample *at(const struct odo_ctrace *t, uint64_t k)
{
	return &t->ring[k % t->cap];
}

/* The sensor's rate over the last 2 s of samples, whole Hz, 1..1000. */
static uint16_t measured_hz(const struct odo_ctrace *t)
{
	uint64_t n = t->total < t->cap ? t->total : t->cap;
	if (n < 2)
		return (uint16_t)fmin(1000, fmax(1, round(t->cfg.max_hz)));
	uint64_t last = t->total - 1, k = last;
	int64_t newest = at(t, last)->ns;
	while (k > t->total - n && newest - at(t, k - 1)->ns <= RATE_SPAN_NS)
		k--;
	if (k == last)
		k = last - 1; /* two samples further apart than the span: their rate */
	double span = (double)(newest - at(t, k)->ns) / 1e9;
	double hz = span > 0 ? (double)(last - k) / span : t->cfg.max_hz;
	return (uint16_t)fmin(1000, fmax(1, round(hz)));
}

int odo_ctrace_trigger(struct odo_ctrace *t, int64_t crash_ns, int64_t crash_ms, uint64_t trip_id,
		       const double R[3][3])
{
	if (!t || t->off || !t->total)
		return ODO_ERR_NOTFOUND;
	if (t->active) {
		t->st.inside++;
		return ODO_ERR_AGAIN;
	}
	uint64_t n = t->total < t->cap ? t->total : t->cap;
	uint64_t k = t->total - n; /* the oldest kept */
	int64_t from = crash_ns - (int64_t)llround(t->cfg.pre_s * 1e9);
	while (k < t->total - 1 && at(t, k)->ns < from)
		k++;
	t->hz = measured_hz(t);
	double want = round((t->cfg.pre_s + t->cfg.post_s) * t->hz);
	if (want < 1)
		want = 1;
	if (want > MAX_SAMPLES)
		want = MAX_SAMPLES;
	t->remaining = (uint32_t)want;
	t->parts = (uint16_t)((t->remaining + ODO_WIRE_MAX_TRACE - 1) / ODO_WIRE_MAX_TRACE);
	t->part = 0;
	t->cursor = k;
	t->frame = R ? ODO_FRAME_VEHICLE : ODO_FRAME_SENSOR;
	if (R)
		memcpy(t->R, R, sizeof(t->R));
	t->crash_ms = crash_ms;
	t->trip_id = trip_id;
	t->prev_ns = 0;
	t->active = 1;
	t->st.traces++;
	return ODO_OK;
}

int odo_ctrace_active(const struct odo_ctrace *t)
{
	return t && t->active;
}

/* The context at ns: the latest kept at or before it. */
static const struct odo_ctrace_ctx *ctx_at(const struct odo_ctrace *t, int64_t ns)
{
	uint64_t n = t->ctx_total < t->ctx_cap ? t->ctx_total : t->ctx_cap;
	for (uint64_t k = 0; k < n; k++) {
		const struct ct_ctx *c = &t->ctx[(t->ctx_total - 1 - k) % t->ctx_cap];
		if (c->ns <= ns)
			return &c->c;
	}
	return NULL;
}

int odo_ctrace_next(struct odo_ctrace *t, int final, struct odo_record *r, int64_t *first_ns)
{
	if (!t || !t->active || !r || !first_ns)
		return 0;
	uint64_t avail = t->total - t->cursor;
	uint32_t m = t->remaining < ODO_WIRE_MAX_TRACE ? t->remaining : ODO_WIRE_MAX_TRACE;
	if (avail < m) {
		if (!final)
			return 0;
		m = (uint32_t)avail; /* the agent stops: what there is */
		t->st.short_traces++;
		if (!m) {
			t->active = 0;
			return 0;
		}
		t->remaining = m; /* this is the last part */
	}
	odo_record_init(r, ODO_REC_CRASH_TRACE);
	struct odo_rec_crash_trace *x = &r->u.crash_trace;
	x->trip_id = t->trip_id;
	x->crash_ms = t->crash_ms;
	x->part = t->part;
	x->parts = t->parts;
	x->hz = t->hz;
	x->frame = (uint8_t)t->frame;
	x->n = (uint16_t)m;
	int64_t period = (int64_t)(1e9 / t->hz);
	for (uint32_t i = 0; i < m; i++) {
		const struct ct_sample *s = at(t, t->cursor + i);
		if (t->prev_ns && s->ns - t->prev_ns > period + period / 2) {
			t->st.gaps++;
			if (s->ns - t->prev_ns > t->st.max_gap_ns)
				t->st.max_gap_ns = s->ns - t->prev_ns;
		}
		t->prev_ns = s->ns;
		double v[3] = {s->mg[0], s->mg[1], s->mg[2]};
		if (t->frame == ODO_FRAME_VEHICLE) {
			double w[3];
			for (int a = 0; a < 3; a++)
				w[a] = t->R[a][0] * v[0] + t->R[a][1] * v[1] + t->R[a][2] * v[2];
			for (int a = 0; a < 3; a++)
				v[a] = w[a];
		}
		int16_t *out[3] = {&x->ax[i], &x->ay[i], &x->az[i]};
		for (int a = 0; a < 3; a++)
			*out[a] = (int16_t)fmax(-32768, fmin(32767, round(v[a])));
	}
	*first_ns = at(t, t->cursor)->ns;
	x->speed_mps = x->obd_speed_mps = x->rpm = x->lat = x->lon = NAN;
	x->airbag = -1;
	const struct odo_ctrace_ctx *c = ctx_at(t, *first_ns);
	if (c) {
		if (isfinite(c->speed_mps) && c->speed_mps >= 0)
			x->speed_mps = c->speed_mps;
		if (isfinite(c->obd_speed_mps) && c->obd_speed_mps >= 0)
			x->obd_speed_mps = c->obd_speed_mps;
		if (isfinite(c->rpm) && c->rpm >= 0)
			x->rpm = c->rpm;
		if (odo_geo_valid(c->lat, c->lon)) {
			x->lat = c->lat;
			x->lon = c->lon;
		}
		x->airbag = c->airbag < 0 ? -1 : c->airbag ? 1 : 0;
	}
	t->cursor += m;
	t->remaining -= m;
	t->part++;
	t->st.parts++;
	if (!t->remaining || t->part >= t->parts)
		t->active = 0;
	return 1;
}

void odo_ctrace_stats(const struct odo_ctrace *t, struct odo_ctrace_stats *st)
{
	if (t && st)
		*st = t->st;
}
