/*
 * odo-agent — mounting calibration: the rotation from the accelerometer's
 * sensor frame to the vehicle frame (x forward, y right, z down), learnt
 * while driving (docs/detection.md "Mounting calibration").
 *
 *  - references: spans of at least ref_span_s between speed reports (GPS,
 *    else OBD), whatever their rate: the longitudinal acceleration the speed
 *    change implies, the lateral (centripetal) one from speed x the change of
 *    the GPS course, or "still";
 *  - the IMU's raw samples are kept in 100 ms slots (ring of 6.4 s); each
 *    span is paired with the mean specific force over the same span shifted
 *    back by every candidate GPS lag 0, 0.1, ... 2.0 s, each lag keeping its
 *    own sums (the lag bank); the lag in use is the one whose references
 *    explain the IMU best (a rotation-invariant correlation), once enough
 *    spans were seen;
 *  - down: the intercept of the least-squares regression a = g + lon F +
 *    lat L; forward/right: the 2-D Procrustes angle in the plane orthogonal
 *    to down; with a gyroscope, down is the yaw axis (the rotation measured
 *    in turns against the GPS course rate), which also fixes the sign;
 *  - ready when enough excitation was seen and the estimate's uncertainty
 *    (2 sigma) is within 5 degrees and it stopped moving;
 *  - re-mounts: gravity moving while still, or the forward axis of the last
 *    minutes (exponential forgetting) turning away from the one in use, or
 *    (after a restart) the first hard references pointing backwards;
 *  - the sufficient statistics persist across restarts (a state file).
 * Plain struct, fixed size, no allocation; the engine embeds it.
 */
#ifndef ODO_CALIB_H
#define ODO_CALIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "odo/config.h"
#include "odo/wire.h"

#define ODO_CALIB_MATRIX_STR 256

/* [calib] section. */
struct odo_calib_cfg {
	char matrix[ODO_CALIB_MATRIX_STR]; /* "r11 r12 r13 r21 ... r33" rows = forward,right,down in sensor
	                                      axes; "" = learn */
	double ready_excitation;  /* sum of squared reference accelerations ((m/s^2)^2 x spans) before ready */
	double ready_sigma_deg;   /* the estimate's standard error must be at most this before ready */
	double ready_stable_deg;  /* ... and it must have moved less than this ... */
	double ready_stable_s;    /* ... over this much driving */
	double quiet_mps2;        /* reference |lon|,|lat| below this: the span shows gravity */
	double remount_deg;       /* gravity direction change that means re-mounted */
	double remount_s;         /* ... sustained this long while still */
	double remount_yaw_deg;   /* forward axis of the last minutes this far from the one in use: re-mounted */
	double recent_s;          /* time constant of that recent estimate's forgetting (driving seconds) */
	double min_lat_speed_mps; /* lateral references need at least this speed */
	double ref_span_s;        /* a reference spans at least this long */
	double gps_lag_s;         /* GPS lag behind the IMU assumed until it is estimated (s) */
};

extern const struct odo_cfg_key odo_calib_cfg_keys[];
extern const size_t odo_calib_cfg_nkeys;

#define ODO_CALIB_NLAG 21          /* candidate GPS lags 0.0 .. 2.0 s */
#define ODO_CALIB_LAG_STEP_S 0.1
#define ODO_CALIB_RING 64          /* 100 ms IMU slots kept: 6.4 s >= longest span (3 s) + lag (2 s) */
#define ODO_CALIB_NSRC 2           /* reference sources: 0 GPS, 1 OBD speed */
#define ODO_CALIB_SOLVES 8         /* recent solutions kept for the stability rule */

/* Sufficient statistics of the references (additive). */
struct odo_calib_sums {
	double n;                  /* references */
	double s_lon, s_lat;       /* sum lon, lat */
	double s_ll, s_tt, s_lt;   /* sum lon^2, lat^2, lon*lat */
	double e_ref;              /* sum lon^2 + lat^2 */
	double s_a[3];             /* sum a (mean specific force of the span, sensor frame) */
	double c_lon[3], c_lat[3]; /* sum a lon, a lat */
	double s_aa[6];            /* sum a a^T (xx yy zz xy xz yz) */
	double gsum[3], gn;        /* quiet spans: sum a, count (gravity without excitation) */
};

/* Gyroscope statistics per lag (additive). */
struct odo_calib_gsums {
	double n;
	double s_w[3];   /* sum w (span mean angular rate, sensor frame) */
	double s_r;      /* sum course rate */
	double s_wr[3];  /* sum w * course rate */
	double s_rr;     /* sum course rate^2 */
	double s_ww;     /* sum |w|^2 */
	double s_rr_dt;  /* sum course rate^2 * span length: turning seen (rad^2/s) */
};

/* Correlation sums of the lag score (x, y: two magnitudes). */
struct odo_calib_corr {
	double n, sx, sy, sxx, syy, sxy;
};

/* The reference span under way of one source. */
struct odo_calib_span {
	int have;
	int64_t t0, tlast;
	double v0, trk0;
};

/* One solution of the sums. */
struct odo_calib_solution {
	int ok;
	double R[3][3];    /* rows forward, right, down in sensor axes */
	double g[3];       /* gravity (specific force at rest), sensor frame */
	double sigma_deg;  /* standard error of the rotation (forward angle and tilt) */
	double fit;        /* correlation of measured and reference horizontal acceleration */
	double e_ref;
};

/* A state transition, for the engine to log and persist. */
struct odo_calib_transition {
	int from, to;       /* enum odo_calib_state */
	double learn_s;     /* driving seconds of the learning that ended (to ready) */
	double moving_s;    /* driving seconds of this run when it happened */
	char why[128];      /* what triggered it */
};

struct odo_calib {
	struct odo_calib_cfg cfg;
	int fixed; /* explicit matrix from the config */
	int state; /* enum odo_calib_state */
	int ready; /* state == ODO_CAL_READY: the rotation is in use */
	double R[3][3];    /* in use (state 1) */
	double g_ref[3];   /* gravity the rotation was made with */
	double confidence; /* 0..1: 1 - sigma / 5 deg */
	double sigma_deg;  /* of the latest solution; NaN before the first */
	struct odo_calib_solution est; /* the latest solution (also while learning) */
	uint32_t remounts;
	double learn_s;    /* driving seconds since (re)learning began (persisted) */
	double ready_s;    /* driving seconds the last learning took; NaN never ready */
	double moving_s;   /* driving seconds seen in this run */
	int sign_error;    /* gravity and the yaw axis point opposite ways: never ready */
	/* IMU ring of 100 ms slots: sums of raw samples */
	int64_t ring_slot;            /* slot index of the newest entry; INT64_MIN none */
	double ring_a[ODO_CALIB_RING][3], ring_w[ODO_CALIB_RING][3];
	uint32_t ring_n[ODO_CALIB_RING], ring_nw[ODO_CALIB_RING];
	int have_gyro;
	struct odo_calib_span span[ODO_CALIB_NSRC]; /* reference spans per source */
	uint64_t spans;               /* references seen (this run) */
	/* the lag bank: per source and lag */
	struct odo_calib_sums bank[ODO_CALIB_NSRC][ODO_CALIB_NLAG];
	struct odo_calib_gsums gbank[ODO_CALIB_NSRC][ODO_CALIB_NLAG];
	struct odo_calib_corr lagscore[ODO_CALIB_NSRC][ODO_CALIB_NLAG]; /* |a - g| vs |reference| */
	struct odo_calib_corr gscore[ODO_CALIB_NSRC][ODO_CALIB_NLAG];   /* |w - bias| vs |course rate| */
	int lag[ODO_CALIB_NSRC];      /* index in use per source */
	struct odo_calib_sums base;   /* restored from the state file (earlier runs) */
	struct odo_calib_sums recent; /* exponentially forgotten, lag in use: re-mount about the vertical */
	double grav_ema[3];           /* slow mean of raw samples (lag score before a solution) */
	int have_grav;
	/* gyroscope */
	double gbias[3];
	int gbias_n;
	int gyro_state;               /* enum odo_gyro_state */
	double gaxis[3];              /* yaw axis (vehicle down) in sensor axes, once established */
	double gaxis_se_deg;
	/* stability: recent solutions with the driving time they were made at */
	double sol_R[ODO_CALIB_SOLVES][3][3];
	double sol_t[ODO_CALIB_SOLVES];
	unsigned nsol;
	/* after a restore: the first hard references must point the learnt way */
	int verify_left, verify_against;
	/* still-period gravity check: still seconds with gravity elsewhere */
	double remount_still_s;
	/* pending transition for the engine */
	int have_transition;
	struct odo_calib_transition transition;
};

void odo_calib_cfg_defaults(struct odo_calib_cfg *c);

/* Set an explicit mounting (cfg->matrix, what [calib] matrix holds): R's
 * rows are the vehicle's forward, right and down axes in sensor axes.
 * odo_calib_init() then checks it is a rotation. ODO_OK, or ODO_ERR_INVAL
 * (a non-finite entry; cfg unchanged). */
int odo_calib_cfg_set_matrix(struct odo_calib_cfg *cfg, const double R[3][3]) ODO_NODISCARD;

/* Initialise; ODO_ERR_CONFIG when cfg->matrix is set but is not 9 numbers
 * forming a rotation (orthonormal within 1e-2). */
int odo_calib_init(struct odo_calib *c, const struct odo_calib_cfg *cfg) ODO_NODISCARD;

/* One raw IMU sample: specific force a (sensor frame, m/s^2) and, when the
 * chip has a gyroscope, angular rate w (rad/s, sensor frame; NULL none). */
void odo_calib_accel(struct odo_calib *c, int64_t mono_ns, const double a[3], const double *w);

/* One speed report of source src (0 GPS, 1 OBD): speed (m/s) and course
 * (deg true, NaN when unknown). Closes a reference span when due. */
void odo_calib_speed(struct odo_calib *c, int src, int64_t mono_ns, double v, double track_deg);

/*
 * One reference span [t1, t2] of source src: the vehicle's longitudinal and
 * lateral (right positive) acceleration over it (NaN when unknown), the
 * course rate (rad/s, right turns positive; NaN unknown), whether it was
 * still. Paired with the IMU ring at every candidate lag. (Called by
 * odo_calib_speed(); tools and tests with their own references call it
 * directly.)
 */
void odo_calib_reference(struct odo_calib *c, int src, int64_t t1_ns, int64_t t2_ns, double lon_mps2,
                         double lat_mps2, double course_rate, int still);

/* The last transition since the previous call: 1 and *t filled, or 0. */
int odo_calib_take_transition(struct odo_calib *c, struct odo_calib_transition *t);

/* The GPS lag in use for source src (s). */
double odo_calib_lag_s(const struct odo_calib *c, int src);

/* Vehicle-frame vector from a sensor-frame one. */
void odo_calib_rotate(const struct odo_calib *c, const double in[3], double out[3]);

/* Angle (deg) between two rotation matrices. */
double odo_calib_angle_deg(const double A[3][3], const double B[3][3]);

/* Roll, pitch, yaw (deg) of R = Rz(yaw) Ry(pitch) Rx(roll):
 * yaw = atan2(R21, R11), pitch = -asin(R31), roll = atan2(R32, R33). */
void odo_calib_euler(const double R[3][3], double *roll, double *pitch, double *yaw);

/* The status record's calibration keys (cal, calq, roll, pitch, yaw, calt,
 * glag, gyro); absent ones stay as odo_record_init() left them. */
void odo_calib_status(const struct odo_calib *c, struct odo_rec_status *st);

/* Persist to / restore from a small text file ("odo-calib 2"; version 1
 * files load as ready without statistics). Load: ODO_ERR_NOTFOUND when
 * absent, ODO_ERR_PROTOCOL when malformed (then *line names the line, and
 * the estimate starts over). Save is atomic (rename). */
int odo_calib_save(const struct odo_calib *c, const char *path) ODO_NODISCARD;
int odo_calib_load(struct odo_calib *c, const char *path, int *line) ODO_NODISCARD;

/* The learnt mount in words and numbers (odo-agent --print-mount). */
void odo_calib_print(const struct odo_calib *c, FILE *f);

#endif
