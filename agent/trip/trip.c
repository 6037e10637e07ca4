/* odo-agent — trips and trip summaries (see trip.h, docs/features.md). */
#include "trip/trip.h"

#include <math.h>
#include <string.h>

#include "odo/features.h"
#include "odo/geo.h"

#define S struct odo_trip_cfg
const struct odo_cfg_key odo_trip_cfg_keys[] = {
    ODO_CFG_D("start_speed_mps", S, start_speed_mps, "2.0", 0.1, 50, "moving at or above this speed ..."),
    ODO_CFG_D("start_s", S, start_s, "5", 0, 600, "... for this long starts a trip (s)"),
    ODO_CFG_D("stop_speed_mps", S, stop_speed_mps, "0.5", 0, 50, "below this speed the vehicle is stopped"),
    ODO_CFG_D("ignition_rpm", S, ignition_rpm, "300", 0, 5000, "engine running above this RPM"),
    ODO_CFG_D("rpm_timeout_s", S, rpm_timeout_s, "10", 0.5, 600,
              "no RPM report for this long = engine off (s)"),
    ODO_CFG_D("ignition_off_s", S, ignition_off_s, "30", 0, 3600,
              "engine off and stopped this long ends a trip (s)"),
    ODO_CFG_D("stationary_s", S, stationary_s, "300", 1, 86400,
              "without RPM: stopped this long ends a trip (s)"),
    ODO_CFG_D("max_eph_m", S, max_eph_m, "50", 1, 10000,
              "fixes with a larger horizontal error are not used for distance (m)"),
    ODO_CFG_D("max_jump_mps", S, max_jump_mps, "90", 1, 1000,
              "implied speed above this is a position jump (m/s)"),
    ODO_CFG_D("heavy_window_s", S, heavy_window_s, "120", 10, 3600, "stop-and-go: window (s)"),
    ODO_CFG_I("heavy_min_stops", S, heavy_min_stops, "2", 1, ODO_TRIP_STOP_RING,
              "stop-and-go: stops within the window"),
    ODO_CFG_D("heavy_max_speed_mps", S, heavy_max_speed_mps, "8.33", 0.5, 50,
              "stop-and-go: driving below this speed (m/s)"),
    ODO_CFG_D("checkpoint_s", S, checkpoint_s, "60", 1, 3600,
              "the open trip's summary is saved in the outbox this often (s): after a power cut or "
              "SIGKILL the next start ends the trip from it (\"end\": 2), losing at most this much of the "
              "trip; each save is one fsync"),
};
#undef S
const size_t odo_trip_cfg_nkeys = ODO_ARRAY_LEN(odo_trip_cfg_keys);

#define MAX_GAP_NS (5 * 1000000000LL) /* longer input gaps are not integrated */

void odo_trip_cfg_defaults(struct odo_trip_cfg *c)
{
	/* The tables' defaults are tested; a failure leaves *c zeroed. */
	(void)odo_config_section_defaults("trip", odo_trip_cfg_keys, odo_trip_cfg_nkeys, c, sizeof(*c));
}

void odo_trip_init(struct odo_trip *t, const struct odo_trip_cfg *cfg, const struct odo_tz *tz)
{
	memset(t, 0, sizeof(*t));
	if (cfg)
		t->cfg = *cfg;
	else
		odo_trip_cfg_defaults(&t->cfg);
	t->tz = tz;
	t->speed = NAN;
	t->rpm = NAN;
	t->wipers = -1; /* no signal seen */
	odo_smooth_init(&t->sm, NULL);
}

void odo_trip_set_levels(struct odo_trip *t, const struct odo_smooth_levels *lv)
{
	t->sm.lv = *lv;
}

/* The vehicle moves at ns by the held speed (GPS, else OBD). */
static int moving_at(const struct odo_trip *t, int64_t ns)
{
	return isfinite(t->speed) && t->speed_ns && ns - t->speed_ns <= MAX_GAP_NS &&
	       t->speed >= t->cfg.stop_speed_mps;
}

uint64_t odo_trip_id(const struct odo_trip *t)
{
	return t->open ? t->s.trip_id : 0;
}

void odo_trip_set_id(struct odo_trip *t, uint64_t id)
{
	if (t->open)
		t->s.trip_id = id;
}

void odo_trip_set_start_ms(struct odo_trip *t, int64_t start_ms)
{
	if (t->open)
		t->start_ms = start_ms;
}

static void begin(struct odo_trip *t, int64_t start_ns, int64_t start_ms)
{
	/* Every optional value absent (NaN / -1) as the wire table says: a
	 * value not measured is never sent as 0. */
	struct odo_record blank;
	odo_record_init(&blank, ODO_REC_TRIP_END);
	t->s = blank.u.trip_end; /* trip_id 0 until odo_trip_set_id() */
	t->s.wiper_m = t->wipers >= 0 ? 0 : NAN;
	t->open = 1;
	t->start_ns = start_ns;
	t->start_ms = start_ms;
	t->last_motion_ns = start_ns;
	t->rpm_sum = t->eph_sum = 0;
	t->rpm_n = t->eph_n = 0;
	t->vs_w = t->vs_s1 = t->vs_s2 = 0;
	odo_smooth_begin(&t->sm);
	for (int g = 0; g < ODO_GRADES; g++) /* graded events are always counted */
		t->s.hard_brakes_g[g] = t->s.rapid_accels_g[g] = t->s.harsh_corners_g[g] = t->s.swerves_g[g] = 0;
	t->phone_ns = start_ns;
}

static void phone_accumulate(struct odo_trip *t, int64_t ns)
{
	if (t->open && ns > t->phone_ns) {
		double dt = (double)(ns - t->phone_ns) / 1e9;
		if (t->screen)
			t->s.screen_on_s += dt;
		if (t->call == ODO_CALL_HANDHELD)
			t->s.handheld_call_s += dt;
	}
	if (ns > t->phone_ns)
		t->phone_ns = ns;
}

/* Motion from one speed value; returns 1 when a trip started. */
static int motion(struct odo_trip *t, int64_t ns, int64_t t_ms, double v)
{
	int started = 0;
	odo_smooth_advance(&t->sm, ns, moving_at(t, ns));
	if (t->open && isfinite(t->speed) && t->speed_ns && ns > t->speed_ns &&
	    ns - t->speed_ns <= MAX_GAP_NS && t->speed >= t->cfg.stop_speed_mps) {
		double dt = (double)(ns - t->speed_ns) / 1e9;
		t->s.moving_s += dt;
		/* speed variability over the same moving time, the held speed
		 * weighted by time (sums around the first speed: no cancellation) */
		if (t->vs_w == 0)
			t->vs_v0 = t->speed;
		double d = t->speed - t->vs_v0;
		t->vs_w += dt;
		t->vs_s1 += d * dt;
		t->vs_s2 += d * d * dt;
	}
	int was_moving = isfinite(t->speed) && t->speed >= t->cfg.stop_speed_mps;
	if (v >= t->cfg.start_speed_mps) {
		if (!t->moving_since_ns)
			t->moving_since_ns = ns;
		if (!t->open && (double)(ns - t->moving_since_ns) >= t->cfg.start_s * 1e9) {
			double pre = t->pre_m;
			begin(t, t->moving_since_ns, t_ms - (ns - t->moving_since_ns) / 1000000);
			/* the trip began when the motion did: its time and track so far count */
			t->s.moving_s = (double)(ns - t->moving_since_ns) / 1e9;
			t->s.distance_m = pre;
			started = 1;
		}
	} else {
		t->moving_since_ns = 0;
		t->pre_m = 0;
	}
	if (v >= t->cfg.stop_speed_mps) {
		t->last_motion_ns = ns;
	} else if (was_moving) {
		t->stops[t->nstops % ODO_TRIP_STOP_RING] = ns;
		t->nstops++;
	}
	if (t->open && v > t->s.max_speed_mps)
		t->s.max_speed_mps = v;
	t->speed = v;
	t->speed_ns = ns;
	odo_smooth_speed(&t->sm, ns, v);
	return started;
}

static int heavy_traffic(const struct odo_trip *t, int64_t ns)
{
	int n = 0;
	unsigned k = t->nstops < ODO_TRIP_STOP_RING ? t->nstops : ODO_TRIP_STOP_RING;
	for (unsigned i = 0; i < k; i++)
		if ((double)(ns - t->stops[i]) <= t->cfg.heavy_window_s * 1e9)
			n++;
	return n >= t->cfg.heavy_min_stops;
}

/* Add d metres driven around (lat, lon) at UTC second mid_s to the summary. */
static void add_distance(struct odo_trip *t, double d, double lat, double lon, int64_t mid_s,
                         double speed_mps, int64_t ns)
{
	t->s.distance_m += d;
	if (odo_feat_is_night(lat, lon, mid_s))
		t->s.night_m += d;
	struct odo_ltime lt;
	if (t->tz)
		odo_tz_localtime(t->tz, mid_s, &lt);
	else
		odo_utc_time(mid_s, &lt);
	if (odo_feat_is_late_night_weekend(&lt))
		t->s.late_night_weekend_m += d;
	if (odo_feat_is_weekday_rush_hour(&lt))
		t->s.rush_hour_m += d;
	if (isfinite(speed_mps) && speed_mps < t->cfg.heavy_max_speed_mps && heavy_traffic(t, ns))
		t->s.heavy_traffic_m += d;
	if (t->wipers > 0)
		t->s.wiper_m += d;
}

int odo_trip_gps(struct odo_trip *t, int64_t ns, int64_t t_ms, double lat, double lon, double speed_mps,
                 double eph_m, int fix_ok)
{
	int started = 0;
	if (!fix_ok || !odo_geo_valid(lat, lon))
		return 0;
	if (isfinite(speed_mps))
		started = motion(t, ns, t_ms, speed_mps);
	if (isfinite(eph_m) && t->open) {
		t->eph_sum += eph_m;
		t->eph_n++;
	}
	if (isfinite(eph_m) && eph_m > t->cfg.max_eph_m)
		return started; /* too vague for distance: skipped, the next good fix spans it */
	if (started) {
		/* the track since the motion began belongs to the trip */
		double pre = t->s.distance_m;
		t->s.distance_m = 0;
		add_distance(t, pre, lat, lon, t_ms / 1000, speed_mps, ns);
	}
	if (t->have_pt && ns > t->pns) {
		double d = odo_geo_distance_m(t->plat, t->plon, lat, lon);
		double dt = (double)(ns - t->pns) / 1e9;
		if (d / dt > t->cfg.max_jump_mps && ns - t->pns <= 10 * MAX_GAP_NS)
			return started; /* an outlier: keep the last good point */
		int mov = isfinite(speed_mps) ? speed_mps >= t->cfg.stop_speed_mps
		                              : d / dt >= t->cfg.stop_speed_mps;
		if (mov && ns - t->pns <= 10 * MAX_GAP_NS) {
			if (t->open) {
				int64_t mid_s = (t_ms - (int64_t)(dt * 500)) / 1000;
				add_distance(t, d, (lat + t->plat) / 2, (lon + t->plon) / 2, mid_s, speed_mps,
				             ns);
			} else if (t->moving_since_ns && ns >= t->moving_since_ns) {
				t->pre_m += d;
			}
		}
	}
	t->have_pt = 1;
	t->plat = lat;
	t->plon = lon;
	t->pns = ns;
	return started;
}

int odo_trip_obd_speed(struct odo_trip *t, int64_t ns, int64_t t_ms, double v)
{
	int started = 0;
	if (!isfinite(v))
		return 0;
	/* OBD drives motion only when GPS speed is stale */
	if (!(t->have_pt && ns - t->pns <= 3 * 1000000000LL) || !t->open)
		started = motion(t, ns, t_ms, v);
	double dd = 0;
	if (t->have_obd && ns > t->obd_ns && ns - t->obd_ns <= MAX_GAP_NS)
		dd = (v + t->obd_speed) / 2 * (double)(ns - t->obd_ns) / 1e9;
	if (t->open) {
		/* a trip started by motion includes the OBD distance since the motion began */
		double pre = started ? t->pre_obd_m : 0;
		t->s.obd_distance_m = (isfinite(t->s.obd_distance_m) ? t->s.obd_distance_m : 0) + dd + pre;
		t->pre_obd_m = 0;
	} else if (t->moving_since_ns && ns > t->moving_since_ns) {
		t->pre_obd_m += dd;
	} else {
		t->pre_obd_m = 0;
	}
	if (t->open && v > t->s.max_speed_mps)
		t->s.max_speed_mps = v;
	t->have_obd = 1;
	t->obd_speed = v;
	t->obd_ns = ns;
	return started;
}

int odo_trip_rpm(struct odo_trip *t, int64_t ns, int64_t t_ms, double rpm)
{
	int started = 0;
	if (!isfinite(rpm))
		return 0;
	t->rpm = rpm;
	if (rpm > t->cfg.ignition_rpm) {
		t->rpm_ns = ns;
		if (!t->open) {
			begin(t, ns, t_ms);
			started = 1;
		}
	}
	if (t->open) {
		t->have_rpm = 1;
		if (rpm > t->cfg.ignition_rpm) { /* average while the engine runs */
			t->rpm_sum += rpm;
			t->rpm_n++;
		}
	}
	return started;
}

void odo_trip_accel(struct odo_trip *t, int64_t ns, double lon, double lat)
{
	odo_smooth_accel(&t->sm, ns, lon, lat, moving_at(t, ns));
}

void odo_trip_event(struct odo_trip *t, uint8_t kind, uint8_t grade)
{
	if (!t->open)
		return;
	int32_t *per;
	uint32_t *harsh;
	switch (kind) {
	case ODO_EV_HARD_BRAKE:
		per = t->s.hard_brakes_g, harsh = &t->s.hard_brakes;
		break;
	case ODO_EV_RAPID_ACCEL:
		per = t->s.rapid_accels_g, harsh = &t->s.rapid_accels;
		break;
	case ODO_EV_CORNER_LEFT:
	case ODO_EV_CORNER_RIGHT:
		per = t->s.harsh_corners_g, harsh = &t->s.harsh_corners;
		break;
	case ODO_EV_SWERVE:
		per = t->s.swerves_g, harsh = &t->s.swerves;
		break;
	case ODO_EV_CRASH:
		t->s.crashes++;
		return;
	default:
		return;
	}
	if (grade < 1 || grade > ODO_GRADES || per[grade - 1] >= INT32_MAX)
		return;
	per[grade - 1]++;
	if (grade >= ODO_GRADE_HARSH)
		(*harsh)++;
}

void odo_trip_phone(struct odo_trip *t, int64_t ns, int screen_on, int call, int handled)
{
	t->phone_known = 1;
	phone_accumulate(t, ns);
	if (t->open && handled && !t->handled)
		t->s.phone_handled_count++;
	t->screen = screen_on;
	t->call = call;
	t->handled = handled;
}

void odo_trip_wipers(struct odo_trip *t, int on)
{
	t->wipers = on ? 1 : 0;
	if (t->open && !isfinite(t->s.wiper_m))
		t->s.wiper_m = 0;
}

void odo_trip_dtc(struct odo_trip *t, int n_codes, int airbag)
{
	if (!t->open)
		return;
	if (n_codes > 0)
		t->s.has_dtc = 1;
	if (airbag)
		t->s.airbag_deployed = 1;
}

void odo_trip_airbag(struct odo_trip *t)
{
	if (t->open)
		t->s.airbag_deployed = 1;
}

static void close_trip(struct odo_trip *t, int64_t end_ns, int64_t ns, int64_t t_ms, int reason,
                       struct odo_rec_trip_end *out)
{
	t->s.end_reason = reason;
	phone_accumulate(t, end_ns);
	t->s.start_ms = t->start_ms;
	t->s.end_ms = t_ms - (ns - end_ns) / 1000000;
	t->s.duration_s = (double)(end_ns - t->start_ns) / 1e9;
	if (t->s.moving_s > t->s.duration_s)
		t->s.moving_s = t->s.duration_s;
	t->s.idle_s = t->s.duration_s - t->s.moving_s;
	t->s.avg_speed_mps = t->s.moving_s > 0 ? t->s.distance_m / t->s.moving_s : 0;
	t->s.avg_rpm = t->rpm_n ? t->rpm_sum / t->rpm_n : NAN;
	t->s.gps_accuracy_m = t->eph_n ? t->eph_sum / t->eph_n : NAN;
	/* smoothness: each key absent when its signal was not measured */
	odo_smooth_advance(&t->sm, ns, moving_at(t, ns));
	odo_smooth_summary(&t->sm, &t->s);
	odo_smooth_end(&t->sm);
	t->s.speed_sd_mps = t->vs_w >= 10 ? sqrt(fmax(0, t->vs_s2 / t->vs_w - (t->vs_s1 / t->vs_w) *
	                                                                           (t->vs_s1 / t->vs_w)))
	                                  : NAN;
	t->s.phone_measured = t->phone_known;
	*out = t->s;
	t->open = 0;
	t->have_rpm = 0;
	t->moving_since_ns = 0;
}

int odo_trip_check_end(struct odo_trip *t, int64_t ns, int64_t t_ms, struct odo_rec_trip_end *out)
{
	if (!t->open)
		return 0;
	int speed_fresh = isfinite(t->speed) && ns - t->speed_ns <= MAX_GAP_NS;
	int moving = speed_fresh && t->speed >= t->cfg.stop_speed_mps;
	if (moving)
		return 0;
	if (t->have_rpm) {
		int engine_on =
		    t->rpm > t->cfg.ignition_rpm && (double)(ns - t->rpm_ns) <= t->cfg.rpm_timeout_s * 1e9;
		if (engine_on)
			return 0;
		int64_t last = t->rpm_ns > t->last_motion_ns ? t->rpm_ns : t->last_motion_ns;
		if ((double)(ns - last) >= t->cfg.ignition_off_s * 1e9) {
			close_trip(t, last, ns, t_ms, ODO_TRIP_END_STOPPED, out);
			return 1;
		}
		return 0;
	}
	if ((double)(ns - t->last_motion_ns) >= t->cfg.stationary_s * 1e9) {
		close_trip(t, t->last_motion_ns, ns, t_ms, ODO_TRIP_END_STOPPED, out);
		return 1;
	}
	return 0;
}

void odo_trip_snapshot(const struct odo_trip *t, int64_t ns, int64_t t_ms, struct odo_rec_trip_end *out)
{
	/* what ending the trip now would report, without ending it */
	struct odo_trip copy = *t;
	close_trip(&copy, ns, ns, t_ms, ODO_TRIP_END_RECOVERED, out);
}

int odo_trip_finish(struct odo_trip *t, int64_t ns, int64_t t_ms, int reason, struct odo_rec_trip_end *out)
{
	if (!t->open)
		return 0;
	close_trip(t, ns, ns, t_ms, reason, out);
	return 1;
}
