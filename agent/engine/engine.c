/* odo-agent — engine: sink -> calibration -> detectors -> trips -> records. */
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odo/geo.h"
#include "odo/log.h"

#define S struct odo_engine_sect
const struct odo_cfg_key odo_engine_cfg_keys[] = {
    ODO_CFG_D("sample_period_s", S, sample_period_s, "10", 0, 3600,
              "SAMPLE record period during a trip (s); 0 = none"),
    ODO_CFG_D("accel_timeout_s", S, accel_timeout_s, "1", 0.05, 60,
              "no accelerometer sample this long = fall back to speed (s)"),
    ODO_CFG_D("gps_stale_s", S, gps_stale_s, "3", 0.1, 60, "a fix older than this is not current (s)"),
    ODO_CFG_D("track_point_s", S, track.point_s, "1", 0, 60,
              "TRACK records (dense track for map matching): one point per this many seconds of a trip; 0 = none"),
    ODO_CFG_D("track_record_s", S, track.record_s, "60", 5, 600,
              "TRACK records: seconds of points per record (at most 64 points)"),
    ODO_CFG_D("crash_trace_pre_s", S, trace.pre_s, "15", 0, 30,
              "CRASH_TRACE records: seconds of full-rate accelerometer data kept before a crash "
              "(Teltonika's crash trace: up to 15 s; docs/detection.md)"),
    ODO_CFG_D("crash_trace_post_s", S, trace.post_s, "15", 0, 30,
              "CRASH_TRACE records: seconds after the crash's start; pre and post 0 = no traces"),
    ODO_CFG_D("crash_trace_max_hz", S, trace.max_hz, "400", 10, 1000,
              "CRASH_TRACE records: the fastest accelerometer rate the trace ring is sized for (Hz)"),
};
#undef S
const size_t odo_engine_cfg_nkeys = ODO_ARRAY_LEN(odo_engine_cfg_keys);

#define FIX_RING        64 /* recent fixes, for an event's position / heading */
#define GRAVITY_TAU_S   5.0 /* gravity for impacts before the mounting is known: low-pass of the raw samples */
#define SPEED_RING      64 /* recent speeds (GPS or OBD), for an event's speed before */
#define ENGINE_PATH_MAX 512

struct fixpt {
	int64_t ns;
	double lat, lon, speed, track;
};

struct odo_engine {
	struct odo_engine_cfg cfg;
	const struct odo_clock *clock;
	const struct odo_tz *tz;
	odo_engine_emit_fn emit;
	void *emit_ctx;
	char state_path[ENGINE_PATH_MAX];
	struct odo_calib calib;
	struct odo_detect det;
	struct odo_trip trip;
	struct odo_track track; /* TRACK records */
	struct odo_ctrace *trace; /* CRASH_TRACE records */
	double g_lp[3];           /* raw samples low-passed: gravity while not calibrated */
	int have_g_lp;
	int64_t imp_ns;           /* last impact sample */
	int airbag;               /* airbag signal: -1 none seen, 0/1 its last state */
	int64_t rpm_ns, obd_ns;   /* when rpm / obd_speed were reported */
	struct odo_engine_stats st;
	/* time */
	int have_gps_off;
	int64_t gps_off_ns; /* GPS UTC minus mono: independent of where mono starts */
	/* latest inputs */
	struct odo_gps_fix fix;
	int64_t fix_ns;
	double speed; /* best current speed */
	int64_t speed_ns;
	double rpm, obd_speed, throttle, coolant, fuel;
	struct fixpt ring[FIX_RING];
	int64_t sp_ns[SPEED_RING];
	double sp_v[SPEED_RING];
	unsigned sp_head, sp_n;
	unsigned ring_head, ring_n;
	/* accel filter (vehicle frame) */
	int64_t acc_ns;
	double f1[2], f2[2];
	int have_f;
	/* phone */
	struct odo_phone_state phone;
	int have_phone;
	int64_t next_sample_ns;
	/* accelerometer rate, timed over its first samples */
	uint32_t rate_n;
	int64_t rate_t0;
	int slow_imu;
	/* trip identity and checkpoints */
	struct odo_engine_trip_store ts; /* next_id NULL: in memory */
	uint64_t mem_next_id;
	int64_t next_ckpt_ns;
};

void odo_engine_cfg_defaults(struct odo_engine_cfg *cfg)
{
	struct odo_cfg_section secs[ODO_ENGINE_CFG_NSECTIONS];
	struct odo_cfg_error err;
	memset(cfg, 0, sizeof(*cfg));
	odo_engine_cfg_sections(cfg, secs);
	if (odo_config_defaults(secs, ODO_ENGINE_CFG_NSECTIONS, &err) != ODO_OK)
		ODO_LOG(ERROR, "engine", "bad default: %s", err.msg);
}

void odo_engine_cfg_sections(struct odo_engine_cfg *cfg, struct odo_cfg_section *secs)
{
	secs[0] = (struct odo_cfg_section){"detect", odo_detect_cfg_keys, odo_detect_cfg_nkeys, &cfg->detect};
	secs[1] = (struct odo_cfg_section){"calib", odo_calib_cfg_keys, odo_calib_cfg_nkeys, &cfg->calib};
	secs[2] = (struct odo_cfg_section){"trip", odo_trip_cfg_keys, odo_trip_cfg_nkeys, &cfg->trip};
	secs[3] = (struct odo_cfg_section){"engine", odo_engine_cfg_keys, odo_engine_cfg_nkeys, &cfg->engine};
}

/* UTC ms for a mono instant, and where it came from. */
static int64_t wall_ms(const struct odo_engine *e, int64_t ns, uint8_t *tsrc)
{
	if (e->have_gps_off) {
		*tsrc = ODO_TSRC_GPS;
		return (ns + e->gps_off_ns) / ODO_NS_PER_MS;
	}
	*tsrc = ODO_TSRC_SYSTEM;
	int64_t real = odo_clock_real_ns(e->clock) - (odo_clock_mono_ns(e->clock) - ns);
	return real / ODO_NS_PER_MS;
}

static void put(struct odo_engine *e, struct odo_record *r, int64_t ns)
{
	r->seq = 0;
	r->t_ms = wall_ms(e, ns, &r->tsrc);
	if (e->emit(e->emit_ctx, r)) {
		e->st.emit_errors++;
		ODO_LOG(WARN, "engine", "record %s not taken", odo_record_kind_name(r->kind));
	} else {
		e->st.records++;
	}
}

static int64_t now_ns(const struct odo_engine *e)
{
	return odo_clock_mono_ns(e->clock);
}

static void emit_trip_start(struct odo_engine *e)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_TRIP_START);
	r.u.trip_start.trip_id = odo_trip_id(&e->trip);
	if (e->fix_ns && odo_geo_valid(e->fix.lat, e->fix.lon)) {
		r.u.trip_start.lat = e->fix.lat;
		r.u.trip_start.lon = e->fix.lon;
	}
	int64_t ns = e->trip.start_ns;
	put(e, &r, ns);
	e->next_sample_ns = ns;
}

static void calib_save(struct odo_engine *e);

static void emit_trip_end(struct odo_engine *e, const struct odo_rec_trip_end *s, int64_t end_ns)
{
	calib_save(e); /* what this trip taught the calibration survives a power cut */
	struct odo_record r;
	if (odo_track_flush(&e->track, &r)) /* the trip's last track points come before its end */
		put(e, &r, end_ns - (s->end_ms - r.t_ms) * ODO_NS_PER_MS);
	odo_record_init(&r, ODO_REC_TRIP_END);
	r.u.trip_end = *s;
	/* the record's time is the trip's end; start_ms/end_ms are what trip computed */
	put(e, &r, end_ns);
	e->st.trips++;
}

static const struct fixpt *fix_at(const struct odo_engine *e, int64_t ns)
{
	const struct fixpt *best = NULL;
	for (unsigned k = 0; k < e->ring_n; k++) {
		const struct fixpt *p = &e->ring[(e->ring_head + FIX_RING - k) % FIX_RING];
		best = p;
		if (p->ns <= ns)
			break;
	}
	return best;
}

/* *v = the last speed (GPS or OBD) at or before ns, if not stale there. */
static void speed_at(const struct odo_engine *e, int64_t ns, double *v)
{
	int64_t stale = (int64_t)(e->cfg.engine.gps_stale_s * 1e9);
	for (unsigned k = 0; k < e->sp_n; k++) {
		unsigned j = (e->sp_head + SPEED_RING - k) % SPEED_RING;
		if (e->sp_ns[j] <= ns) {
			if (ns - e->sp_ns[j] <= stale)
				*v = e->sp_v[j];
			return;
		}
	}
}

/* Emit the crash trace's parts that are ready (final: the agent stops). */
static void trace_flush(struct odo_engine *e, int final)
{
	struct odo_record r;
	int64_t first_ns;
	while (odo_ctrace_next(e->trace, final, &r, &first_ns))
		put(e, &r, first_ns);
	struct odo_ctrace_stats ts;
	odo_ctrace_stats(e->trace, &ts);
	if (ts.gaps > e->st.trace.gaps)
		ODO_LOG(WARN, "engine",
		        "crash trace: the accelerometer skipped samples %llu time(s) (largest gap %.0f ms): times inside "
		        "the part after each gap are off by up to that",
		        (unsigned long long)(ts.gaps - e->st.trace.gaps), (double)ts.max_gap_ns / 1e6);
	e->st.trace = ts;
}

/* A crash was reported (its event record r is stored): start its trace. */
static void trace_crash(struct odo_engine *e, const struct odo_det_event *ev, const struct odo_record *r)
{
	int rc = odo_ctrace_trigger(e->trace, ev->start_ns, r->t_ms, r->u.event.trip_id,
	                            e->calib.ready ? (const double(*)[3])e->calib.R : NULL);
	static const char *const src[] = {"accelerometer", "speed", "airbag signal", "accelerometer and airbag signal",
	                                  "phone"};
	const char *sn = ev->source < ODO_ARRAY_LEN(src) ? src[ev->source] : "?";
	char what[96];
	if (ev->source == ODO_EVSRC_AIRBAG)
		snprintf(what, sizeof(what), "%s", sn);
	else
		snprintf(what, sizeof(what), "%s, peak %.1f g, speed change %.1f km/h", sn, ev->peak_g,
		         odo_detect_last_dv(&e->det) * 3.6);
	if (rc == ODO_OK)
		ODO_LOG(WARN, "engine", "crash (%s): crash trace started, %s frame", what,
		        e->calib.ready ? "vehicle" : "sensor");
	else if (rc == ODO_ERR_AGAIN)
		ODO_LOG(WARN, "engine", "crash (%s): inside the crash trace under way", what);
	else if (rc == ODO_ERR_NOTFOUND && e->trace)
		ODO_LOG(WARN, "engine", "crash (%s): no accelerometer samples, no crash trace", what);
	trace_flush(e, 0);
}

static void on_det_event(void *ctx, const struct odo_det_event *ev)
{
	struct odo_engine *e = ctx;
	struct odo_record r;
	odo_record_init(&r, ODO_REC_EVENT);
	struct odo_rec_event *x = &r.u.event;
	x->trip_id = odo_trip_id(&e->trip);
	x->kind = ev->kind;
	x->source = ev->source;
	x->duration_ms = (ev->end_ns - ev->start_ns) / ODO_NS_PER_MS;
	if (x->duration_ms < 0)
		x->duration_ms = 0;
	x->peak_g = ev->peak_g;
	x->mean_g = ev->mean_g;
	if (ev->grade >= ODO_GRADE_MODERATE && ev->grade <= ODO_GRADE_SEVERE)
		x->grade = ev->grade;
	const struct fixpt *p = fix_at(e, ev->start_ns);
	if (p && ev->start_ns - p->ns <= (int64_t)(e->cfg.engine.gps_stale_s * 1e9)) {
		x->lat = p->lat;
		x->lon = p->lon;
		x->heading_deg = p->track;
	}
	/* speeds before and after: the last speed (GPS or OBD) at or before the
	 * start and the end (events can be reported seconds after they end) */
	speed_at(e, ev->start_ns, &x->speed_before_mps);
	speed_at(e, ev->end_ns, &x->speed_after_mps);
	if (ev->kind <= ODO_EV__MAX)
		e->st.events[ev->kind]++;
	odo_trip_event(&e->trip, ev->kind, ev->grade);
	put(e, &r, ev->start_ns);
	if (ev->kind == ODO_EV_CRASH)
		trace_crash(e, ev, &r);
}

int odo_engine_open(const struct odo_engine_cfg *cfg, const struct odo_clock *clock, const struct odo_tz *tz,
                    odo_engine_emit_fn emit, void *emit_ctx, const char *state_path, struct odo_engine **out)
{
	if (!clock || !emit || !out)
		return ODO_ERR_INVAL;
	*out = NULL;
	if (state_path && strlen(state_path) >= ENGINE_PATH_MAX)
		return ODO_ERR_INVAL;
	char why[160];
	if (cfg && odo_detect_cfg_check(&cfg->detect, why, sizeof(why)) != ODO_OK) {
		ODO_LOG(ERROR, "engine", "%s", why);
		return ODO_ERR_CONFIG;
	}
	struct odo_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return ODO_ERR_NOMEM;
	if (cfg)
		e->cfg = *cfg;
	else
		odo_engine_cfg_defaults(&e->cfg);
	e->clock = clock;
	e->tz = tz;
	e->emit = emit;
	e->emit_ctx = emit_ctx;
	if (state_path)
		strcpy(e->state_path, state_path);
	int rc = odo_calib_init(&e->calib, &e->cfg.calib);
	if (rc) {
		free(e);
		return rc;
	}
	if (e->state_path[0]) {
		int line = 0;
		rc = odo_calib_load(&e->calib, e->state_path, &line);
		if (rc == ODO_ERR_PROTOCOL) {
			ODO_LOG(WARN, "calib", "%s:%d is malformed: learning the mounting again", e->state_path, line);
		} else if (rc == ODO_OK && !e->calib.fixed) {
			double r, p, y;
			odo_calib_euler(e->calib.R, &r, &p, &y);
			ODO_LOG(INFO, "calib", "mounting restored: %s, roll %.1f pitch %.1f yaw %.1f deg, confidence %.2f",
			        e->calib.state == ODO_CAL_READY ? "ready" : "still learning", r, p, y, e->calib.confidence);
		}
	}
	/* a crash is reported up to crash_fuse_s after the impact ends */
	rc = odo_ctrace_open(&e->cfg.engine.trace, e->cfg.detect.crash_fuse_s + 1, &e->trace);
	if (rc) {
		ODO_LOG(ERROR, "engine", "crash trace: %s (crash_trace_pre_s + crash_trace_post_s at "
		        "crash_trace_max_hz is too many samples?)", odo_strerror(rc));
		free(e);
		return rc == ODO_ERR_INVAL ? ODO_ERR_CONFIG : rc;
	}
	odo_detect_init(&e->det, &e->cfg.detect, on_det_event, e);
	odo_trip_init(&e->trip, &e->cfg.trip, tz);
	e->mem_next_id = 1;
	odo_track_init(&e->track, &e->cfg.engine.track);
	struct odo_smooth_levels lv;
	for (int g = 0; g < ODO_GRADES; g++) {
		lv.brake[g] = e->cfg.detect.brake.thr_g[g];
		lv.accel[g] = e->cfg.detect.accel.thr_g[g];
		lv.corner[g] = e->cfg.detect.corner.thr_g[g];
	}
	odo_trip_set_levels(&e->trip, &lv);
	e->speed = e->rpm = e->obd_speed = e->throttle = e->coolant = e->fuel = NAN;
	e->airbag = -1;
	e->fix.lat = e->fix.lon = NAN;
	*out = e;
	return ODO_OK;
}

/* Save the open trip's summary so far (the outbox keeps it for a restart
 * after an unclean stop). */
static void checkpoint(struct odo_engine *e, int64_t ns)
{
	e->next_ckpt_ns = ns + (int64_t)(e->cfg.trip.checkpoint_s * 1e9);
	if (!e->ts.checkpoint || !odo_trip_id(&e->trip))
		return;
	struct odo_record r;
	odo_record_init(&r, ODO_REC_TRIP_END);
	uint8_t ts;
	int64_t tms = wall_ms(e, ns, &ts);
	odo_trip_snapshot(&e->trip, ns, tms, &r.u.trip_end);
	r.t_ms = tms;
	r.tsrc = ts;
	int rc = e->ts.checkpoint(e->ts.ctx, &r);
	if (rc == ODO_OK) {
		e->st.checkpoints++;
	} else {
		e->st.trip_store_errors++;
		ODO_LOG(WARN, "trip", "cannot checkpoint trip %llu: %s", (unsigned long long)r.u.trip_end.trip_id,
			odo_strerror(rc));
	}
}

static void trip_started(struct odo_engine *e, int started)
{
	if (!started)
		return;
	uint64_t id = e->mem_next_id++;
	if (e->ts.next_id) {
		int rc = e->ts.next_id(e->ts.ctx, &id);
		if (rc != ODO_OK) {
			e->st.trip_store_errors++;
			ODO_LOG(ERROR, "trip", "trip id %llu could not be saved (%s): unique in this run only",
				(unsigned long long)id, odo_strerror(rc));
		}
	}
	odo_trip_set_id(&e->trip, id);
	/* The trip began when the motion did, before the report that showed it;
	 * its wall time is the engine's for that instant, so the start record
	 * and the end's start_ms are the same millisecond (the trip's own
	 * difference of truncated times could carry one more). */
	uint8_t tsrc;
	odo_trip_set_start_ms(&e->trip, wall_ms(e, e->trip.start_ns, &tsrc));
	emit_trip_start(e);
	checkpoint(e, now_ns(e) > e->trip.start_ns ? now_ns(e) : e->trip.start_ns);
}

int odo_engine_set_trip_store(struct odo_engine *e, const struct odo_engine_trip_store *ts)
{
	if (!e || !ts)
		return 0;
	e->ts = *ts;
	int n = 0;
	struct odo_record r;
	/* Every trip left open (normally at most one); a bound, never a loop. */
	for (int i = 0; i < 16 && ts->recover; i++) {
		int rc = ts->recover(ts->ctx, &r);
		if (rc == ODO_ERR_NOTFOUND)
			break;
		if (rc != ODO_OK) {
			ODO_LOG(ERROR, "trip", "the checkpoint of trip %llu is unreadable (%s): that trip has no end",
				(unsigned long long)r.u.trip_end.trip_id, odo_strerror(rc));
			continue;
		}
		ODO_LOG(WARN, "trip",
			"trip %llu was left open by an unclean stop: ended from its checkpoint at %lld (the distance "
			"after it is lost)",
			(unsigned long long)r.u.trip_end.trip_id, (long long)r.u.trip_end.end_ms);
		/* keep the checkpoint's own time and source: put() would restamp */
		if (e->emit(e->emit_ctx, &r)) {
			e->st.emit_errors++;
			ODO_LOG(WARN, "engine", "recovered trip end %llu not taken", (unsigned long long)r.u.trip_end.trip_id);
			break; /* still in the outbox: the next start tries again */
		}
		e->st.records++;
		e->st.recovered++;
		n++;
	}
	return n;
}

static void calib_save(struct odo_engine *e)
{
	if (e->state_path[0] && !e->calib.fixed && odo_calib_save(&e->calib, e->state_path))
		ODO_LOG(WARN, "calib", "cannot save %s", e->state_path);
}

/* Log a calibration state change and persist it. */
static void calib_transitions(struct odo_engine *e)
{
	static const char *const name[] = {"learning", "ready", "re-learning"};
	struct odo_calib_transition t;
	if (!odo_calib_take_transition(&e->calib, &t))
		return;
	const char *from = name[t.from >= 0 && t.from <= 2 ? t.from : 0], *to = name[t.to >= 0 && t.to <= 2 ? t.to : 0];
	if (t.to == ODO_CAL_READY && t.from != ODO_CAL_READY) {
		double r, p, y;
		odo_calib_euler(e->calib.R, &r, &p, &y);
		ODO_LOG(INFO, "calib",
		        "%s -> %s after %.0f s of driving (at %.0f s): roll %.1f pitch %.1f yaw %.1f deg, confidence "
		        "%.2f (%s), gps lag %.1f s",
		        from, to, t.learn_s, t.moving_s, r, p, y, e->calib.confidence, t.why,
		        odo_calib_lag_s(&e->calib, 0));
	} else if (t.from == t.to) {
		ODO_LOG(ERROR, "calib", "%s: %s", from, t.why);
	} else {
		ODO_LOG(WARN, "calib", "%s -> %s at %.0f s of driving: re-mounted (%s)", from, to, t.moving_s, t.why);
	}
	calib_save(e);
}

static int accel_live(const struct odo_engine *e, int64_t ns)
{
	return e->calib.ready && e->acc_ns &&
	       ns - e->acc_ns <= (int64_t)(e->cfg.engine.accel_timeout_s * 1e9);
}

static void set_speed(struct odo_engine *e, int64_t ns, double v)
{
	e->speed = v;
	e->speed_ns = ns;
	e->sp_head = (e->sp_head + 1) % SPEED_RING;
	e->sp_ns[e->sp_head] = ns;
	e->sp_v[e->sp_head] = v;
	if (e->sp_n < SPEED_RING)
		e->sp_n++;
	odo_detect_speed(&e->det, ns, v, accel_live(e, ns));
	if (e->have_phone)
		odo_detect_phone(&e->det, ns,
		                 e->phone.screen_on || e->phone.handled || e->phone.call == ODO_CALL_HANDHELD,
		                 v);
}

static void sink_gps(void *ctx, const struct odo_gps_fix *f)
{
	struct odo_engine *e = ctx;
	int ok = f->mode >= ODO_FIX_2D && odo_geo_valid(f->lat, f->lon);
	if (ok && f->t_ms > 0) {
		e->have_gps_off = 1;
		e->gps_off_ns = f->t_ms * ODO_NS_PER_MS - f->mono_ns;
	}
	if (!ok)
		return;
	e->fix = *f;
	e->fix_ns = f->mono_ns;
	e->ring_head = (e->ring_head + 1) % FIX_RING;
	e->ring[e->ring_head] = (struct fixpt){f->mono_ns, f->lat, f->lon, f->speed_mps, f->track_deg};
	if (e->ring_n < FIX_RING)
		e->ring_n++;
	uint8_t ts;
	int64_t tms = wall_ms(e, f->mono_ns, &ts);
	trip_started(e, odo_trip_gps(&e->trip, f->mono_ns, tms, f->lat, f->lon, f->speed_mps, f->eph, 1));
	struct odo_record tr;
	if (odo_track_fix(&e->track, odo_trip_id(&e->trip), e->trip.start_ms, tms, f->lat, f->lon, f->speed_mps,
	                  f->eph, &tr))
		put(e, &tr, f->mono_ns - (tms - tr.t_ms) * ODO_NS_PER_MS);
	if (isfinite(f->speed_mps)) {
		set_speed(e, f->mono_ns, f->speed_mps);
		odo_calib_speed(&e->calib, 0, f->mono_ns, f->speed_mps, f->track_deg);
		calib_transitions(e);
	}
}

#define RATE_SAMPLES   200  /* accelerometer samples timed before the rate is judged */
#define CRASH_MIN_HZ   90.0 /* crash detection needs >= 100 Hz (10 % slack for jitter) */

/* Time the first samples: a slow IMU turns the accelerometer's crash
 * detection off (said once). */
static void rate_check(struct odo_engine *e, int64_t ns)
{
	if (e->rate_n > RATE_SAMPLES)
		return;
	if (e->rate_n == 0)
		e->rate_t0 = ns;
	if (++e->rate_n <= RATE_SAMPLES || ns <= e->rate_t0)
		return;
	double hz = (double)RATE_SAMPLES / ((double)(ns - e->rate_t0) / 1e9);
	e->slow_imu = hz < CRASH_MIN_HZ;
	if (e->slow_imu)
		ODO_LOG(WARN, "engine",
		        "accelerometer at %.0f Hz: crash detection from the accelerometer is off (it needs 100 Hz); "
		        "the airbag signal is still used",
		        hz);
}

/* What a crash trace says about the vehicle now. */
static void trace_context(struct odo_engine *e, int64_t ns)
{
	int64_t stale = (int64_t)(e->cfg.engine.gps_stale_s * 1e9);
	int fix = e->fix_ns && ns - e->fix_ns <= stale;
	struct odo_ctrace_ctx c = {.speed_mps = fix ? e->fix.speed_mps : NAN,
	                           .obd_speed_mps = e->obd_ns && ns - e->obd_ns <= stale ? e->obd_speed : NAN,
	                           .rpm = e->rpm_ns && ns - e->rpm_ns <= stale ? e->rpm : NAN,
	                           .lat = fix ? e->fix.lat : NAN,
	                           .lon = fix ? e->fix.lon : NAN,
	                           .airbag = e->airbag};
	odo_ctrace_context(e->trace, ns, &c);
}

/* Every sample at full rate, calibrated or not: the crash detector and the
 * crash trace. Before the mounting is known, gravity is a low-pass of the
 * raw samples and the speed change integrates the whole dynamic vector;
 * after, the vehicle's horizontal plane only (docs/detection.md "Crash"). */
static void impact(struct odo_engine *e, int64_t ns, const double a[3])
{
	odo_ctrace_sample(e->trace, ns, a);
	trace_context(e, ns);
	double dt = e->imp_ns ? (double)(ns - e->imp_ns) / 1e9 : 0;
	e->imp_ns = ns;
	if (!e->have_g_lp || dt <= 0 || dt > 1) {
		memcpy(e->g_lp, a, sizeof(e->g_lp));
		e->have_g_lp = 1;
	} else {
		double al = 1 - exp(-dt / GRAVITY_TAU_S);
		for (int i = 0; i < 3; i++)
			e->g_lp[i] += al * (a[i] - e->g_lp[i]);
	}
	if (!e->slow_imu) {
		/* an impact lasts tens of ms: below 100 Hz the crash detector sees
		 * none of it reliably and is not fed (the airbag signal still is) */
		struct odo_det_impact im = {.mono_ns = ns};
		const double *g = e->calib.ready ? e->calib.g_ref : e->g_lp;
		double d[3];
		for (int i = 0; i < 3; i++)
			d[i] = a[i] - g[i];
		im.mag = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
		if (e->calib.ready) {
			im.h[0] = e->calib.R[0][0] * a[0] + e->calib.R[0][1] * a[1] + e->calib.R[0][2] * a[2];
			im.h[1] = e->calib.R[1][0] * a[0] + e->calib.R[1][1] * a[1] + e->calib.R[1][2] * a[2];
			im.h[2] = 0;
		} else {
			memcpy(im.h, d, sizeof(im.h));
		}
		odo_detect_impact(&e->det, &im);
	}
	if (odo_ctrace_active(e->trace))
		trace_flush(e, 0);
}

static void sink_accel(void *ctx, const struct odo_accel_sample *s)
{
	struct odo_engine *e = ctx;
	double a[3] = {s->x, s->y, s->z};
	e->st.accel_samples++;
	rate_check(e, s->mono_ns);
	impact(e, s->mono_ns, a);
	double w[3] = {s->gx, s->gy, s->gz};
	odo_calib_accel(&e->calib, s->mono_ns, a, s->has_gyro ? w : NULL);
	if (!e->calib.ready) {
		e->acc_ns = s->mono_ns;
		return;
	}
	double v[3];
	odo_calib_rotate(&e->calib, a, v);
	double dt = e->acc_ns ? (double)(s->mono_ns - e->acc_ns) / 1e9 : 0;
	if (!e->have_f || dt <= 0 || dt > 0.5) {
		e->f1[0] = e->f2[0] = v[0];
		e->f1[1] = e->f2[1] = v[1];
		e->have_f = 1;
	} else {
		/* exact discretisation of the first-order section: the same
		 * filter at any sample rate (10-400 Hz) */
		double tau = 1.0 / (2 * M_PI * e->cfg.detect.lowpass_hz);
		double al = 1 - exp(-dt / tau);
		for (int i = 0; i < 2; i++) {
			e->f1[i] += al * (v[i] - e->f1[i]);
			e->f2[i] += al * (e->f1[i] - e->f2[i]);
		}
	}
	e->acc_ns = s->mono_ns;
	double sp =
	    (isfinite(e->speed) && s->mono_ns - e->speed_ns <= (int64_t)(e->cfg.engine.gps_stale_s * 1e9))
	        ? e->speed
	        : NAN;
	struct odo_det_sample ds = {.mono_ns = s->mono_ns, .lon = e->f2[0], .lat = e->f2[1], .speed_mps = sp};
	odo_detect_sample(&e->det, &ds);
	odo_trip_accel(&e->trip, s->mono_ns, v[0], v[1]);
}

static void sink_obd(void *ctx, const struct odo_obd_value *o)
{
	struct odo_engine *e = ctx;
	uint8_t ts;
	int64_t tms = wall_ms(e, o->mono_ns, &ts);
	switch (o->pid) {
	case ODO_OBD_RPM:
		e->rpm = o->value;
		e->rpm_ns = o->mono_ns;
		trip_started(e, odo_trip_rpm(&e->trip, o->mono_ns, tms, o->value));
		break;
	case ODO_OBD_SPEED:
		e->obd_speed = o->value;
		e->obd_ns = o->mono_ns;
		trip_started(e, odo_trip_obd_speed(&e->trip, o->mono_ns, tms, o->value));
		if (!e->fix_ns || o->mono_ns - e->fix_ns > (int64_t)(e->cfg.engine.gps_stale_s * 1e9)) {
			set_speed(e, o->mono_ns, o->value);
			odo_calib_speed(&e->calib, 1, o->mono_ns, o->value, NAN);
			calib_transitions(e);
		}
		break;
	case ODO_OBD_THROTTLE:
		e->throttle = o->value;
		break;
	case ODO_OBD_COOLANT:
		e->coolant = o->value;
		break;
	case ODO_OBD_FUEL_LEVEL:
		e->fuel = o->value;
		break;
	default:
		break;
	}
}

static void sink_dtc(void *ctx, int64_t ns, const struct odo_rec_dtc *d)
{
	struct odo_engine *e = ctx;
	struct odo_record r;
	odo_record_init(&r, ODO_REC_DTC);
	r.u.dtc = *d;
	put(e, &r, ns);
	odo_trip_dtc(&e->trip, d->n[0] + d->n[1] + d->n[2], d->airbag_deployed);
	if (d->airbag_deployed) {
		e->airbag = 1;
		odo_detect_airbag(&e->det, ns);
	}
}

static void sink_vehicle(void *ctx, int64_t ns, const struct odo_rec_vehicle *v)
{
	struct odo_engine *e = ctx;
	struct odo_record r;
	odo_record_init(&r, ODO_REC_VEHICLE);
	r.u.vehicle = *v;
	put(e, &r, ns);
}

static void sink_signal(void *ctx, const struct odo_signal *s)
{
	struct odo_engine *e = ctx;
	switch (s->role) {
	case ODO_SIG_AIRBAG_DEPLOYED:
	case ODO_SIG_CRASH_DETECTED:
		if (s->role == ODO_SIG_AIRBAG_DEPLOYED)
			e->airbag = s->value > 0.5;
		if (s->value > 0.5) {
			odo_detect_airbag(&e->det, s->mono_ns);
			odo_trip_airbag(&e->trip);
		}
		break;
	case ODO_SIG_WIPERS:
		odo_trip_wipers(&e->trip, s->value > 0);
		break;
	case ODO_SIG_VEHICLE_SPEED: {
		struct odo_obd_value o = {.mono_ns = s->mono_ns, .pid = ODO_OBD_SPEED, .value = s->value};
		sink_obd(ctx, &o);
		break;
	}
	default:
		break;
	}
}

static void sink_phone(void *ctx, const struct odo_phone_state *p)
{
	struct odo_engine *e = ctx;
	int changed = !e->have_phone || p->screen_on != e->phone.screen_on || p->call != e->phone.call ||
	              p->handled != e->phone.handled;
	e->phone = *p;
	e->have_phone = 1;
	odo_trip_phone(&e->trip, p->mono_ns, p->screen_on, p->call, p->handled);
	double sp =
	    (isfinite(e->speed) && p->mono_ns - e->speed_ns <= (int64_t)(e->cfg.engine.gps_stale_s * 1e9))
	        ? e->speed
	        : NAN;
	odo_detect_phone(&e->det, p->mono_ns, p->screen_on || p->handled || p->call == ODO_CALL_HANDHELD, sp);
	if (changed) {
		struct odo_record r;
		odo_record_init(&r, ODO_REC_PHONE);
		r.u.phone.screen_on = p->screen_on ? 1 : 0;
		r.u.phone.call = p->call;
		r.u.phone.handled = p->handled ? 1 : 0;
		put(e, &r, p->mono_ns);
	}
}

struct odo_sink odo_engine_sink(struct odo_engine *e)
{
	struct odo_sink s = {.ctx = e,
	                     .gps = sink_gps,
	                     .accel = sink_accel,
	                     .obd = sink_obd,
	                     .dtc = sink_dtc,
	                     .vehicle = sink_vehicle,
	                     .signal = sink_signal,
	                     .phone = sink_phone};
	return s;
}

static void emit_sample(struct odo_engine *e, int64_t ns)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_SAMPLE);
	struct odo_rec_sample *x = &r.u.sample;
	int64_t stale = (int64_t)(e->cfg.engine.gps_stale_s * 1e9);
	x->trip_id = odo_trip_id(&e->trip);
	x->fix = (e->fix_ns && ns - e->fix_ns <= stale) ? e->fix.mode : ODO_FIX_NONE;
	if (x->fix >= ODO_FIX_2D) {
		x->lat = e->fix.lat;
		x->lon = e->fix.lon;
		x->speed_mps = e->fix.speed_mps;
		x->heading_deg = e->fix.track_deg;
		x->eph_m = e->fix.eph;
		x->alt_m = e->fix.alt_m;
	}
	x->rpm = e->rpm;
	x->obd_speed_mps = e->obd_speed;
	x->throttle_pct = e->throttle;
	x->coolant_c = e->coolant;
	x->fuel_pct = e->fuel;
	if (accel_live(e, ns)) {
		x->ax_g = e->f2[0] / ODO_G;
		x->ay_g = e->f2[1] / ODO_G;
	}
	put(e, &r, ns);
}

void odo_engine_tick(struct odo_engine *e)
{
	if (!e)
		return;
	int64_t ns = now_ns(e);
	odo_detect_tick(&e->det, ns);
	if (odo_trip_id(&e->trip) && e->cfg.engine.sample_period_s > 0 && ns >= e->next_sample_ns) {
		emit_sample(e, ns);
		int64_t p = (int64_t)(e->cfg.engine.sample_period_s * 1e9);
		e->next_sample_ns += p * ((ns - e->next_sample_ns) / p + 1);
	}
	uint8_t ts;
	int64_t tms = wall_ms(e, ns, &ts);
	struct odo_rec_trip_end s;
	if (odo_trip_check_end(&e->trip, ns, tms, &s)) {
		int64_t end_ns = ns - (tms - s.end_ms) * ODO_NS_PER_MS;
		emit_trip_end(e, &s, end_ns);
	} else if (odo_trip_id(&e->trip) && ns >= e->next_ckpt_ns) {
		checkpoint(e, ns);
	}
}

void odo_engine_finish(struct odo_engine *e)
{
	if (!e)
		return;
	int64_t ns = now_ns(e);
	if (e->acc_ns > ns)
		ns = e->acc_ns;
	odo_detect_flush(&e->det, ns);
	trace_flush(e, 1); /* a trace under way ends with what it has */
	uint8_t ts;
	int64_t tms = wall_ms(e, ns, &ts);
	struct odo_rec_trip_end s;
	if (odo_trip_finish(&e->trip, ns, tms, ODO_TRIP_END_SHUTDOWN, &s))
		emit_trip_end(e, &s, ns);
}

void odo_engine_stats(const struct odo_engine *e, struct odo_engine_stats *st)
{
	if (!e || !st)
		return;
	*st = e->st;
	st->calib_ready = e->calib.ready;
	st->calib_fixed = e->calib.fixed;
	st->calib_confidence = e->calib.confidence;
	st->remounts = e->calib.remounts;
	st->combined = odo_detect_combined(&e->det);
	st->crash_accel_off = e->slow_imu;
	st->impacts_rejected = odo_detect_impacts_rejected(&e->det);
	st->last_impact_dv_kmh = odo_detect_last_dv(&e->det) * 3.6;
	odo_ctrace_stats(e->trace, &st->trace);
	memcpy(st->R, e->calib.R, sizeof(st->R));
}

void odo_engine_calib_status(const struct odo_engine *e, struct odo_rec_status *st)
{
	if (e && st)
		odo_calib_status(&e->calib, st);
}

void odo_engine_close(struct odo_engine *e)
{
	if (!e)
		return;
	calib_save(e);
	odo_ctrace_close(e->trace);
	free(e);
}
