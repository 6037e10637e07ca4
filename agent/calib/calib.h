/*
 * odo-agent — mounting calibration: the rotation from the accelerometer's
 * sensor frame to the vehicle frame (x forward, y right, z down).
 *
 *  - down: gravity, the constant term of a least-squares regression of the
 *    interval-mean acceleration on the reference (lon, lat) accelerations
 *    (so every interval counts, not only still or steady ones); the plain
 *    mean of still / quiet intervals when there is no excitation yet;
 *  - forward and right: the horizontal acceleration is regressed on the
 *    longitudinal acceleration measured by GPS/OBD speed changes and on
 *    the lateral (centripetal) acceleration speed x yaw rate, the yaw rate
 *    taken from changes of the GPS track; the rotation angle about "down"
 *    is the least-squares (2-D Procrustes) solution.
 *  - re-mount: while still, the gravity direction is compared with the
 *    calibrated one; a change over remount_deg lasting remount_s resets
 *    the estimate, which is then learnt again.
 * Plain struct, no allocation; the engine embeds it.
 */
#ifndef ODO_CALIB_H
#define ODO_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "odo/config.h"

#define ODO_CALIB_MATRIX_STR 256

/* [calib] section. */
struct odo_calib_cfg {
	char matrix[ODO_CALIB_MATRIX_STR]; /* "r11 r12 r13 r21 ... r33" rows = forward,right,down in sensor
	                                      axes; "" = learn */
	double ready_excitation;  /* sum of squared reference accelerations ((m/s^2)^2 x intervals) before
	                             ready */
	double ready_fit;         /* minimum fit correlation (0..1) before ready */
	double quiet_mps2;        /* reference |lon|,|lat| below this: interval used for gravity */
	double remount_deg;       /* gravity direction change that means re-mounted */
	double remount_s;         /* ... sustained this long while still */
	double min_lat_speed_mps; /* lateral references need at least this speed */
};

extern const struct odo_cfg_key odo_calib_cfg_keys[];
extern const size_t odo_calib_cfg_nkeys;

struct odo_calib {
	struct odo_calib_cfg cfg;
	int fixed; /* explicit matrix from the config */
	int ready;
	double R[3][3];    /* rows: forward, right, down, in sensor axes */
	double confidence; /* 0..1 */
	double g_ref[3];   /* gravity (specific force at rest) the rotation was made with */
	uint32_t remounts;
	/* accumulation of raw accel between reference updates */
	double acc_sum[3];
	uint32_t acc_n;
	/* statistics */
	double gsum[3];
	double gn;
	double c_lon[3], c_lat[3]; /* sum a * lon, a * lat */
	double s_lon, s_lat;       /* sum lon, sum lat (for removing gravity) */
	double s_ll, s_tt, s_lt;   /* sum lon^2, lat^2, lon*lat (regression for gravity) */
	double e_ref;              /* sum lon^2 + lat^2 */
	double m2;                 /* sum |a|^2 over reference intervals */
	double s_a[3];             /* sum a over reference intervals */
	double nref;
	/* still-period gravity check */
	double still_sum[3];
	uint32_t still_n;
	int64_t still_since_ns, remount_since_ns;
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

/* One raw accelerometer sample (sensor frame, m/s^2). */
void odo_calib_accel(struct odo_calib *c, int64_t mono_ns, const double a[3]);

/*
 * One reference interval that just ended: the vehicle's longitudinal and
 * lateral (right positive) acceleration over it, from speed and track
 * changes (NaN when unknown), and whether the vehicle was still. The raw
 * samples since the previous call are averaged against it. With both
 * lon and lat NaN and not still, the samples are dropped (starts a new
 * interval).
 */
void odo_calib_reference(struct odo_calib *c, int64_t mono_ns, double lon_mps2, double lat_mps2, int still);

/* Vehicle-frame vector from a sensor-frame one. */
void odo_calib_rotate(const struct odo_calib *c, const double in[3], double out[3]);

/* Angle (deg) between two rotation matrices. */
double odo_calib_angle_deg(const double A[3][3], const double B[3][3]);

/* Persist to / restore from a small text file. Load: ODO_ERR_NOTFOUND when
 * absent, ODO_ERR_PROTOCOL when malformed (then the estimate starts over). */
int odo_calib_save(const struct odo_calib *c, const char *path) ODO_NODISCARD;
int odo_calib_load(struct odo_calib *c, const char *path) ODO_NODISCARD;

#endif
