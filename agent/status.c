/* odo-agent — the device-status record and its timer (see status.h). */
#include "status.h"

#include <stdlib.h>

#include "accel/accel.h"
#include "can/vbus.h"
#include "engine/engine.h"
#include "gps/gps.h"
#include "store/store.h"
#include "uplink/uplink.h"

struct odo_status {
	struct odo_status_parts parts;
	const struct odo_clock *clock;
	int64_t start_ns, period_ns, next_ns;
	odo_status_put_fn put;
	void *ctx;
};

void odo_status_record(const struct odo_status_parts *p, const struct odo_clock *clock, int64_t start_mono_ns,
		       struct odo_record *r)
{
	struct odo_store_stats ss;
	struct odo_uplink_stats us;
	struct odo_gps_stats gs;
	struct odo_source_stats cs;
	struct odo_accel_stats as;
	uint8_t fix = ODO_FIX_UNKNOWN;

	odo_record_init(r, ODO_REC_STATUS);
	r->t_ms = odo_clock_real_ns(clock) / ODO_NS_PER_MS;
	r->tsrc = ODO_TSRC_SYSTEM;
	r->u.status.uptime_s = (uint64_t)((odo_clock_mono_ns(clock) - start_mono_ns) / ODO_NS_PER_S);
	if (p->store && odo_store_stats(p->store, &ss) == ODO_OK) {
		r->u.status.outbox_depth = ss.depth;
		r->u.status.outbox_oldest_age_s = ss.oldest_age_s;
		r->u.status.evicted = ss.evicted;
	}
	if (p->uplink && odo_uplink_stats(p->uplink, &us) == ODO_OK)
		r->u.status.reconnects = us.reconnects;
	if (p->gps) {
		odo_gps_stats(p->gps, &gs);
		r->u.status.gps_errors = gs.src.errors;
		fix = gs.fix_mode;
	}
	if (p->vbus) {
		odo_vbus_stats(p->vbus, &cs);
		r->u.status.can_errors = cs.errors + cs.dropped;
	}
	if (p->accel) {
		odo_accel_stats(p->accel, &as);
		r->u.status.accel_errors = as.src.errors + as.src.dropped;
	}
	if (p->engine)
		odo_engine_calib_status(p->engine, &r->u.status);
	r->u.status.fix = fix;
	r->u.status.clock_source = fix >= ODO_FIX_2D ? ODO_TSRC_GPS : ODO_TSRC_SYSTEM;
}

int odo_status_open(const struct odo_status_parts *parts, const struct odo_clock *clock, double period_s,
		    odo_status_put_fn put, void *ctx, struct odo_status **out)
{
	if (!parts || !clock || !put || !out || !(period_s > 0))
		return ODO_ERR_INVAL;
	struct odo_status *s = calloc(1, sizeof(*s));
	if (!s)
		return ODO_ERR_NOMEM;
	s->parts = *parts;
	s->clock = clock;
	s->put = put;
	s->ctx = ctx;
	s->start_ns = odo_clock_mono_ns(clock);
	s->period_ns = (int64_t)(period_s * (double)ODO_NS_PER_S);
	s->next_ns = s->start_ns + s->period_ns;
	*out = s;
	return ODO_OK;
}

static int64_t status_deadline(void *self)
{
	return ((struct odo_status *)self)->next_ns;
}

static void status_tick(void *self)
{
	struct odo_status *s = self;
	int64_t now = odo_clock_mono_ns(s->clock);
	struct odo_record r;

	if (now < s->next_ns)
		return;
	odo_status_record(&s->parts, s->clock, s->start_ns, &r);
	s->put(s->ctx, &r);
	s->next_ns = now + s->period_ns;
}

static const struct odo_source_ops status_ops = {
	.name = "status",
	.deadline = status_deadline,
	.tick = status_tick,
};

struct odo_source odo_status_source(struct odo_status *s)
{
	return (struct odo_source){.ops = &status_ops, .self = s};
}

void odo_status_close(struct odo_status *s)
{
	free(s);
}
