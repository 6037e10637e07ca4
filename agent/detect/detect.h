/*
 * odo-agent — driving-event detectors.
 *
 * Every detector is a small module behind one const interface
 * (struct odo_detector_ops, the table in detect.c) and is driven by the same
 * vehicle-frame samples:
 * longitudinal/lateral acceleration (m/s^2, low-pass filtered, gravity
 * removed; forward and right positive). The crash detector is driven by
 * impact samples instead: every accelerometer sample at full rate, the
 * unfiltered dynamic acceleration, calibrated or not. The speed fallback
 * detector is driven by speed updates; phone distraction by phone state
 * and speed.
 * State lives in struct odo_detect, sized at compile time: nothing here
 * allocates. Thresholds are in g (docs/detection.md gives defaults and
 * their sources).
 */
#ifndef ODO_DETECT_H
#define ODO_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "odo/config.h"
#include "odo/wire.h"

#define ODO_DET_GRADES 3 /* 1 moderate, 2 harsh, 3 severe (docs/detection.md) */

/* One graded detector's parameters. Grade k (1..3) is index k-1. */
struct odo_det_thr {
	double thr_g[ODO_DET_GRADES];     /* level of each grade, strictly increasing; an excursion starts at
	                                     thr_g[0] (in the detector's direction) */
	double min_dur_s[ODO_DET_GRADES]; /* a grade counts when a run at or above its level lasted this long */
	double hyst_g;                    /* a run at level L continues while the value stays >= L - hyst_g */
	double refractory_s;              /* no new event of this kind until this long after the last ended */
};

/* [detect] section. */
struct odo_detect_cfg {
	double lowpass_hz; /* cut-off of the 2nd-order low-pass on vehicle-frame accel */
	struct odo_det_thr brake, accel, corner, swerve; /* swerve: lobes at thr_g[0] for min_dur_s[0]; the
	                                                    grade from the smaller lobe's peak */
	double rebound_s; /* after a hard brake ends, no rapid acceleration for this long (pitch rebound) */
	double swerve_window_s; /* opposite lateral lobe must start within this of the first ending */
	double swerve_max_s;   /* a reversal lasting longer than this (both lobes) is steering through a turn,
	                          not a swerve */
	double swerve_balance; /* smaller/larger lobe impulse of a swerve: a lane change ends heading
	                          where it began, so its two lobes cancel; a turn's exit wobble does not */
	double combine_s;      /* a brake or acceleration within this of a harsh corner is part of it */
	double crash_g;        /* dynamic-acceleration magnitude (unfiltered) */
	double crash_dv_kmh;   /* ... confirmed by a speed change of at least this ... */
	double crash_dv_window_s; /* ... within this long (49 CFR 563.5: 8 km/h in 150 ms) */
	double crash_fuse_s;   /* accel and airbag within this window are one crash */
	struct odo_det_thr speed_brake, speed_accel; /* fallback grades on d(speed)/dt */
	double speed_window_s; /* derivative over this span */
	double phone_min_speed_mps;
	double phone_min_dur_s;
	double min_speed_mps; /* corner/swerve need at least this speed (when known) */
};

extern const struct odo_cfg_key odo_detect_cfg_keys[];
extern const size_t odo_detect_cfg_nkeys;

/* Relations the key table cannot express: every kind's levels strictly
 * increasing. ODO_OK, or ODO_ERR_CONFIG with why (len bytes) naming the keys
 * ("detect.brake_g2 (0.25) must be above detect.brake_g1 (0.30)"). */
int odo_detect_cfg_check(const struct odo_detect_cfg *c, char *why, size_t len) ODO_NODISCARD;

/* What a detector reports; the engine adds speeds, position, trip id. */
struct odo_det_event {
	uint8_t kind;          /* enum odo_event_kind */
	uint8_t source;        /* enum odo_event_source */
	int64_t start_ns;      /* mono */
	int64_t end_ns;        /* mono */
	double peak_g, mean_g; /* signed (negative: braking / left); NaN for phone */
	uint8_t grade;         /* 1..3 for brake, accel, corner, swerve; 0 for crash and phone */
};

typedef void (*odo_det_emit_fn)(void *ctx, const struct odo_det_event *ev);

/* One vehicle-frame sample for the detectors. */
struct odo_det_sample {
	int64_t mono_ns;
	double lon, lat;  /* m/s^2, filtered, gravity removed */
	double speed_mps; /* latest known speed, NaN if none */
};

/* One accelerometer sample for the crash detector, at the sensor's full
 * rate, whether or not the mounting is calibrated. */
struct odo_det_impact {
	int64_t mono_ns;
	double mag;  /* m/s^2, |unfiltered specific force - gravity| */
	double h[3]; /* m/s^2, the acceleration the speed change integrates: vehicle frame
	                (forward, right, 0) when calibrated (gravity is not in it); else the
	                whole dynamic vector (specific force - gravity) in the sensor frame */
};

/* Generic state of one graded excursion (run.c). */
struct odo_det_run {
	int active;
	int sign;
	int64_t start_ns, last_ns;
	double peak, sum;
	uint32_t n;
	int64_t refractory_until_ns;
	uint8_t in[ODO_DET_GRADES];           /* a run at grade k's level is under way ... */
	int64_t in_ns[ODO_DET_GRADES];        /* ... since */
	int64_t best_ns[ODO_DET_GRADES];      /* longest completed run at each level in this excursion */
	uint8_t grade;                        /* of the excursion that just ended (detect__run_step() == 1) */
};

#define ODO_DET_SPEED_RING  32 /* speed updates kept for the fallback derivative */
#define ODO_DET_CORNER_HELD 2  /* corners held back while a swerve may still claim them */
#define ODO_DET_LON_HELD    4  /* brakes/accelerations held back while a corner may still claim them */
#define ODO_DET_CORNER_IV   2  /* recent harsh-corner intervals remembered for that */
#define ODO_DET_DV_RING     512 /* impact samples kept for the speed change (0.3 s at 1 kHz) */

/* Each detector's own state; a detector reads and writes its own only.
 * What they must share goes through the combining stage (combine.c). */
struct odo_det_lon_state { /* longitudinal.c: hard brake, rapid acceleration */
	struct odo_det_run brake, accel;
};

struct odo_det_speed_state { /* longitudinal.c: the fallback from d(speed)/dt */
	struct odo_det_run brake, accel;
	int64_t t[ODO_DET_SPEED_RING];
	double v[ODO_DET_SPEED_RING];
	unsigned head, n;
};

struct odo_det_corner_state { /* lateral.c: harsh cornering */
	struct odo_det_run left, right;
};

struct odo_det_swerve_state { /* lateral.c: a lateral reversal */
	struct odo_det_run lobe;       /* the lobe under way */
	int sign;                      /* of the last completed lobe, 0 none */
	int64_t start_ns, end_ns;      /* ... its extent */
	double peak, sum;
	uint32_t n;
	int64_t refractory_until_ns;
};

struct odo_det_crash_state { /* crash.c */
	struct odo_det_run run;   /* one excursion above crash_g */
	int pending;              /* a crash held for the fusion window */
	struct odo_det_event ev;
	int64_t airbag_ns;        /* last airbag/crash signal, 0 none */
	/* the speed change: cumulative integral of h at each impact sample */
	int64_t dv_t[ODO_DET_DV_RING];
	double dv_v[ODO_DET_DV_RING][3];
	unsigned dv_head, dv_n;
	double dv_cum[3];
	int64_t dv_last_ns;       /* 0: none yet */
	/* the impact being judged: excursions above crash_g less than the
	 * window apart, and the largest speed change seen over them */
	int impact;
	struct odo_det_event imp;
	double imp_sum;           /* of the excursions' samples (g), for the mean */
	uint32_t imp_n;
	int64_t judge_ns;         /* decided at this time (the last excursion's end + window) */
	double dv_peak;           /* m/s */
	int64_t refractory_until_ns; /* after a crash: its further impacts are the same crash */
	/* what was judged */
	uint32_t rejected;        /* impacts above crash_g without the speed change (potholes, knocks) */
	double dv_last;           /* m/s, of the last impact judged; NaN none */
	int have_rej;             /* the last rejected impact, for an airbag signal close to it */
	struct odo_det_event rej;
};

struct odo_det_phone_state { /* distraction.c */
	int active;
	int64_t start_ns;
};

/*
 * The combining stage (combine.c) between the detectors and the output: a
 * manoeuvre is reported once. A swerve claims the harsh corners inside it;
 * a reported harsh corner claims the brakes and accelerations of the same
 * turn. Corner intervals in (held corners, corners under way, reported
 * ones), brake and acceleration decisions out.
 */
struct odo_det_combine {
	int ncorner;                                     /* corners held for a swerve */
	struct odo_det_event corner[ODO_DET_CORNER_HELD];
	int run_active[2];                               /* corners under way (right, left) */
	int64_t run_start_ns[2];
	uint8_t run_grade[2];                            /* ... the grade each has reached so far */
	int64_t corner_iv[ODO_DET_CORNER_IV][2];         /* start, end of the latest reported corners, newest first */
	uint8_t corner_iv_grade[ODO_DET_CORNER_IV];      /* ... their grades */
	int nlon;                                        /* brakes/accelerations held for a corner */
	struct odo_det_event lon[ODO_DET_LON_HELD];
	uint32_t combined;                               /* longitudinal events folded into a corner */
};

struct odo_detect {
	struct odo_detect_cfg cfg;
	struct odo_det_lon_state lon;
	struct odo_det_speed_state speed;
	struct odo_det_corner_state corner;
	struct odo_det_swerve_state swerve;
	struct odo_det_crash_state crash;
	struct odo_det_phone_state phone;
	struct odo_det_combine combine;
	odo_det_emit_fn emit;
	void *emit_ctx;
};

/* The one interface every detector implements; any hook may be NULL. The
 * core (detect.c) calls every detector's hook in table order and names
 * none of them. */
struct odo_detector_ops {
	const char *name;
	void (*init)(struct odo_detect *d);
	/* vehicle-frame accelerometer sample */
	void (*on_sample)(struct odo_detect *d, const struct odo_det_sample *s);
	/* speed update (m/s) from GPS or OBD; accel_live: calibrated samples flow */
	void (*on_speed)(struct odo_detect *d, int64_t mono_ns, double speed_mps, int accel_live);
	/* phone use (screen on, handled, handheld call) and the current speed (NaN unknown) */
	void (*on_phone)(struct odo_detect *d, int64_t mono_ns, int active, double speed_mps);
	/* the vehicle reported an airbag deployment / crash */
	void (*on_airbag)(struct odo_detect *d, int64_t mono_ns);
	/* full-rate accelerometer sample (calibrated or not) */
	void (*on_impact)(struct odo_detect *d, const struct odo_det_impact *s);
	/* time passes: release what nothing can claim any more */
	void (*on_tick)(struct odo_detect *d, int64_t mono_ns);
	/* end of the drive, after every excursion was ended and time ran out:
	 * decide whatever the detector still holds */
	void (*on_flush)(struct odo_detect *d, int64_t mono_ns);
};

extern const struct odo_detector_ops odo_det_longitudinal; /* hard brake, rapid accel */
extern const struct odo_detector_ops odo_det_corner;       /* harsh cornering L/R */
extern const struct odo_detector_ops odo_det_swerve;       /* lateral reversal */
extern const struct odo_detector_ops odo_det_crash;        /* high-g, fused with airbag */
extern const struct odo_detector_ops odo_det_speed;        /* fallback from d(speed)/dt */
extern const struct odo_detector_ops odo_det_distraction;  /* phone use while moving */

/* All of the above, NULL-terminated. */
extern const struct odo_detector_ops *const odo_detectors[];

/* Fill defaults (same values as the key table's). */
void odo_detect_cfg_defaults(struct odo_detect_cfg *c);
/* Reset all detector state; events go to emit(ctx, ev) (called synchronously). */
void odo_detect_init(struct odo_detect *d, const struct odo_detect_cfg *cfg, odo_det_emit_fn emit, void *ctx);
/* Feed one vehicle-frame sample to every sample-driven detector. */
void odo_detect_sample(struct odo_detect *d, const struct odo_det_sample *s);
/* Feed one speed update; accel_live=1 when calibrated accelerometer samples
 * are flowing (the speed fallback then stays quiet). */
void odo_detect_speed(struct odo_detect *d, int64_t mono_ns, double speed_mps, int accel_live);
/* The vehicle reported an airbag deployment / crash at mono_ns. */
void odo_detect_airbag(struct odo_detect *d, int64_t mono_ns);
/* Feed one full-rate accelerometer sample to the crash detector (every
 * sample, before and after the mounting is calibrated). */
void odo_detect_impact(struct odo_detect *d, const struct odo_det_impact *s);
/* Impacts at or above crash_g that the speed change did not confirm (so
 * far), and the speed change (m/s) of the last impact judged (NaN none). */
uint32_t odo_detect_impacts_rejected(const struct odo_detect *d);
double odo_detect_last_dv(const struct odo_detect *d);
/* Phone distraction: active = screen on or handled or handheld call;
 * speed_mps the current speed (NaN unknown). */
void odo_detect_phone(struct odo_detect *d, int64_t mono_ns, int active, double speed_mps);
/* Let time pass: releases what is held back once nothing can claim it any
 * more (a crash after the fusion window, corners a swerve did not take,
 * brakes and accelerations no corner took). */
void odo_detect_tick(struct odo_detect *d, int64_t mono_ns);
/* End every open excursion now (end of trip / replay). */
void odo_detect_flush(struct odo_detect *d, int64_t mono_ns);
/* Brakes and accelerations folded into a harsh corner so far. */
uint32_t odo_detect_combined(const struct odo_detect *d);

#endif
