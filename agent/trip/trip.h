/*
 * odo-agent — trip segmentation and the trip summary (struct odo_rec_trip_end).
 * docs/features.md defines every field. Plain struct, no allocation.
 * Times are mono ns; wall-clock UTC ms is supplied by the caller with each
 * GPS fix (for night / local-time classification) and at start/end.
 */
#ifndef ODO_TRIP_H
#define ODO_TRIP_H

#include <stddef.h>
#include <stdint.h>

#include "odo/config.h"
#include "odo/ltime.h"
#include "odo/wire.h"
#include "trip/smooth.h"

/* [trip] section. */
struct odo_trip_cfg {
	double start_speed_mps;     /* moving: speed at or above this ... */
	double start_s;             /* ... for this long starts a trip */
	double stop_speed_mps;      /* below this the vehicle is stopped */
	double ignition_rpm;        /* RPM above this = engine running */
	double rpm_timeout_s;       /* no RPM report for this long = engine off */
	double ignition_off_s;      /* engine off (and stopped) this long ends a trip */
	double stationary_s;        /* without RPM: stopped this long ends a trip */
	double max_eph_m;           /* fixes with a larger horizontal error are not used for distance */
	double max_jump_mps;        /* implied speed above this = a position jump, not counted */
	double heavy_window_s;      /* stop-and-go: ... */
	int heavy_min_stops;        /* ... at least this many stops in the window ... */
	double heavy_max_speed_mps; /* ... and driving below this speed */
	double checkpoint_s;        /* the open trip is checkpointed this often (engine, outbox) */
};

extern const struct odo_cfg_key odo_trip_cfg_keys[];
extern const size_t odo_trip_cfg_nkeys;

#define ODO_TRIP_STOP_RING 16 /* recent stop times kept for the stop-and-go rule */

struct odo_trip {
	struct odo_trip_cfg cfg;
	const struct odo_tz *tz;
	int open;
	struct odo_rec_trip_end s; /* summary being built */
	/* motion / ignition */
	double speed; /* latest speed (GPS, else OBD) */
	int64_t speed_ns;
	int moving;
	int64_t moving_since_ns, stopped_since_ns;
	double rpm;
	int64_t rpm_ns;
	int have_rpm;
	int64_t start_ns, last_motion_ns;
	int64_t start_ms;
	/* distance */
	int have_pt;
	double plat, plon;
	int64_t pns;
	double obd_speed;
	int64_t obd_ns;
	int have_obd;
	/* accumulators */
	double rpm_sum;
	uint32_t rpm_n;
	double eph_sum;
	uint32_t eph_n;
	struct odo_smooth sm;  /* jerk, shares, percentiles (smooth.h) */
	double vs_w, vs_s1, vs_s2, vs_v0; /* speed variability: moving time, sums around v0 */
	int phone_known;       /* a phone state was reported since the agent started */
	int64_t stops[ODO_TRIP_STOP_RING];
	unsigned nstops;
	int wipers; /* -1 no signal, 0 off, 1 on */
	int screen, call, handled;
	int64_t phone_ns;
	double pre_m;     /* track since the motion began, before the trip started */
	double pre_obd_m; /* OBD distance over the same span */
};

void odo_trip_cfg_defaults(struct odo_trip_cfg *c);
/* tz may be NULL (UTC). Trip ids are not made here: the caller gives each
 * trip its id when it starts (odo_trip_set_id), from the outbox's durable
 * counter, so an id is never reused across restarts. */
void odo_trip_init(struct odo_trip *t, const struct odo_trip_cfg *cfg, const struct odo_tz *tz);
/* The id of the trip that just started (call when an input returned 1). */
void odo_trip_set_id(struct odo_trip *t, uint64_t id);
/* The wall time of the trip's start (start_ns) as the caller stamps its
 * records, so the start record and the end's start_ms agree. */
void odo_trip_set_start_ms(struct odo_trip *t, int64_t start_ms);

/* Inputs. Each returns 1 when a trip STARTED on this input (the caller
 * emits TRIP_START with odo_trip_id()). t_ms = UTC ms of the input. */
int odo_trip_gps(struct odo_trip *t, int64_t ns, int64_t t_ms, double lat, double lon, double speed_mps,
                 double eph_m, int fix_ok);
int odo_trip_obd_speed(struct odo_trip *t, int64_t ns, int64_t t_ms, double speed_mps);
int odo_trip_rpm(struct odo_trip *t, int64_t ns, int64_t t_ms, double rpm);
/* The levels of the smoothness shares (the [detect] grade levels, g). */
void odo_trip_set_levels(struct odo_trip *t, const struct odo_smooth_levels *lv);
/* One calibrated vehicle-frame accelerometer sample (m/s^2, gravity removed,
 * unfiltered), for the smoothness features; not called while the mounting
 * is not known (the speed derivative stands in). */
void odo_trip_accel(struct odo_trip *t, int64_t ns, double lon_mps2, double lat_mps2);
/* A driving event of `kind` and `grade` (1..3; 0 ungraded: crash, phone).
 * The summary's hard_brakes/rapid_accels/harsh_corners/swerves count
 * grade >= 2 (harsh and above); every grade is counted per grade too. */
void odo_trip_event(struct odo_trip *t, uint8_t kind, uint8_t grade);
void odo_trip_phone(struct odo_trip *t, int64_t ns, int screen_on, int call, int handled);
void odo_trip_wipers(struct odo_trip *t, int on);
void odo_trip_dtc(struct odo_trip *t, int n_codes, int airbag);
void odo_trip_airbag(struct odo_trip *t);

/* Check the end conditions at ns; returns 1 when the trip ended, with the
 * summary in *out (end_ms is the UTC ms of the end instant, given by
 * wall_ms_at(ns_end) = t_ms_now - (ns - ns_end)/1e6; end_reason
 * ODO_TRIP_END_STOPPED). Optional values that were not measured are absent
 * (NaN / -1): the smoothness keys without their signal (smooth.h), the speed
 * variability with less than 10 s of moving time. */
int odo_trip_check_end(struct odo_trip *t, int64_t ns, int64_t t_ms, struct odo_rec_trip_end *out);
/* The open trip's summary as if it ended at ns (t_ms = UTC ms of ns),
 * end reason ODO_TRIP_END_RECOVERED; the trip goes on. The checkpoint a
 * later start recovers from after an unclean stop. */
void odo_trip_snapshot(const struct odo_trip *t, int64_t ns, int64_t t_ms, struct odo_rec_trip_end *out);
/* End an open trip now for `reason` (enum odo_trip_end_reason: shutdown,
 * end of a replay); 1 when one was open. */
int odo_trip_finish(struct odo_trip *t, int64_t ns, int64_t t_ms, int reason, struct odo_rec_trip_end *out);

/* Id of the open trip, 0 when none. */
uint64_t odo_trip_id(const struct odo_trip *t);

#endif
