/*
 * odo-agent — continuous smoothness of a trip (docs/features.md "Smoothness"):
 * mean absolute longitudinal jerk, the shares of moving time beyond the
 * graded acceleration levels, the 95th percentiles of |a_lon| and |a_lat|.
 *
 * Everything is computed from one stream of 100 ms slots, whatever the IMU
 * rate (10-400 Hz): the vehicle-frame samples of a slot are averaged
 * (boxcar: anti-alias and decimation), a slot without a sample holds the
 * previous one's value, a gap over 0.5 s restarts; the slot values pass a
 * 2-pole low-pass of ODO_SMOOTH_LOWPASS_HZ with the exact coefficient for
 * 0.1 s. The longitudinal value of a slot comes from the calibrated
 * accelerometer, otherwise from the derivative of speed over ~1 s; the
 * lateral value from the accelerometer only. Fixed-size state inside
 * struct odo_trip, no allocation.
 */
#ifndef ODO_TRIP_SMOOTH_H
#define ODO_TRIP_SMOOTH_H

#include <stdint.h>

#include "odo/wire.h"

#define ODO_SMOOTH_SLOT_NS   100000000LL /* 100 ms */
#define ODO_SMOOTH_LOWPASS_HZ 1.5        /* part of the features' definition (docs/features.md) */
#define ODO_SMOOTH_BIN_G     0.005       /* histogram bin: the p95's worst-case error */
#define ODO_SMOOTH_BINS      201         /* [0, 1 g) in 200 bins, then >= 1 g */
#define ODO_SMOOTH_MIN_SLOTS 100         /* 10 s: fewer moving slots give no share / percentile */
#define ODO_SMOOTH_SPEED_RING 32

/* Levels (g) of the shares: longitudinal beyond -brake[k] or +accel[k],
 * lateral beyond +-corner[k] (the [detect] grade levels). */
struct odo_smooth_levels {
	double brake[ODO_GRADES], accel[ODO_GRADES], corner[ODO_GRADES];
};

/* Per-slot sources of the longitudinal value. */
enum { ODO_SMOOTH_NONE = 0, ODO_SMOOTH_ACCEL = 1, ODO_SMOOTH_SPEED = 2 };

struct odo_smooth {
	struct odo_smooth_levels lv;
	int counting; /* accumulators run (a trip is open) */
	double alpha; /* low-pass coefficient per 0.1 s slot */
	/* the slot being filled */
	int64_t slot; /* index (mono ns / 100 ms); INT64_MIN: none yet */
	double sum[2];
	uint32_t n;
	/* the last accelerometer slot's mean, held across empty slots */
	double hold[2];
	int64_t hold_slot;
	int have_hold;
	/* the low-pass over slot values, per axis (0 lon, 1 lat) */
	double f1[2], f2[2];
	int fsrc;     /* source the lon filter runs on (ODO_SMOOTH_*) */
	int lat_on;   /* the lat filter is running */
	double prev_lon; /* previous slot's filtered accelerometer lon, for the jerk */
	int prev_ok;
	/* speed, for the fallback derivative */
	int64_t sp_ns[ODO_SMOOTH_SPEED_RING];
	double sp_v[ODO_SMOOTH_SPEED_RING];
	unsigned sp_head, sp_n;
	double dlon;      /* latest derivative, m/s^2 */
	int64_t dlon_ns;  /* ... its time; 0 none */
	/* accumulators of the open trip */
	uint32_t n_lon, n_lat, n_lon_acc, n_lon_spd;
	uint32_t k_lon[ODO_GRADES], k_lat[ODO_GRADES];
	double jerk_sum;
	uint32_t jerk_n;
	uint32_t h_lon[ODO_SMOOTH_BINS], h_lat[ODO_SMOOTH_BINS];
};

/* Whole state. lv may be NULL (the [detect] defaults). */
void odo_smooth_init(struct odo_smooth *s, const struct odo_smooth_levels *lv);
/* A trip starts: clear the accumulators (filter state and speeds are kept). */
void odo_smooth_begin(struct odo_smooth *s);
/* A trip ends: stop accumulating. */
void odo_smooth_end(struct odo_smooth *s);

/* One calibrated vehicle-frame accelerometer sample (m/s^2, gravity
 * removed, unfiltered). moving: the vehicle moves at ns (trip rule). */
void odo_smooth_accel(struct odo_smooth *s, int64_t ns, double lon, double lat, int moving);
/* A speed report (the trip's speed: GPS, else OBD). Call after
 * odo_smooth_advance() for the same instant. */
void odo_smooth_speed(struct odo_smooth *s, int64_t ns, double v);
/* Close every slot that ended before ns (time passes without samples). */
void odo_smooth_advance(struct odo_smooth *s, int64_t ns, int moving);

/* Fill the summary's smoothness keys: mean_abs_jerk, lon_source,
 * lon_share/lat_share, lon_p95_g/lat_p95_g, lon_moving_s/lat_moving_s; each
 * absent (NaN / -1) when not measured (docs/features.md gives the rules). */
void odo_smooth_summary(const struct odo_smooth *s, struct odo_rec_trip_end *out);

/* The p95 of a histogram of n counts (g): linear within the bin; 1.0 when
 * it falls in the overflow bin; NaN below ODO_SMOOTH_MIN_SLOTS. */
double odo_smooth_p95(const uint32_t h[ODO_SMOOTH_BINS]);

#endif
