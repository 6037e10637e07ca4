/*
 * odo-agent calibration — what the calibration files share (private to
 * agent/calib/): the sums' arithmetic and the solver (solve.c), the spans,
 * IMU ring and lag bank (span.c), the state machine (calib.c), the state
 * file (state.c).
 */
#ifndef ODO_CALIB_INT_H
#define ODO_CALIB_INT_H

#include "calib/calib.h"

#define CALIB_SLOT_NS 100000000LL /* IMU ring slot: 100 ms */
#define CALIB_MIN_REFS 10         /* references before a solution is attempted */

/* ---- solve.c ---- */

/* Add one reference: mean specific force a, reference lon/lat (0 when
 * unknown or still), quiet: the span shows gravity alone. */
void calib__sums_add(struct odo_calib_sums *s, const double a[3], double lon, double lat, int quiet);
/* s += k * t */
void calib__sums_axpy(struct odo_calib_sums *s, double k, const struct odo_calib_sums *t);
void calib__sums_scale(struct odo_calib_sums *s, double k);

void calib__corr_add(struct odo_calib_corr *c, double x, double y);
/* Pearson correlation; -2 when undefined. */
double calib__corr(const struct odo_calib_corr *c);

/* Solve the sums: gravity (regression intercept), down (-gravity, or
 * `axis` when given: the gyroscope's yaw axis, whose standard error
 * axis_se_deg then stands for the tilt's), the forward angle in the plane
 * orthogonal to down, and the standard error. out->ok = 0 when the sums
 * cannot say. */
void calib__solve(const struct odo_calib_sums *s, const double *axis, double axis_se_deg,
                  struct odo_calib_solution *out);

/* The forward angle (rad) of the sums in the plane orthogonal to `down`,
 * measured from the projection of R_fwd, and its standard error (deg); with
 * the gravity of `g`. 0 when the sums cannot say. */
int calib__angle_in_plane(const struct odo_calib_sums *s, const double g[3], const double down[3],
                          const double fwd[3], double *angle, double *sigma_deg);

double calib__dot(const double a[3], const double b[3]);
void calib__cross(const double a[3], const double b[3], double o[3]);
int calib__normalize(double v[3]);
int calib__is_rotation(double R[3][3]);

/* ---- span.c ---- */

/* Mean IMU sample over slots [k1, k2) of the ring: returns the accel sample
 * count (0: none there); *nw the gyro count (w filled when > 0). */
uint32_t calib__ring_mean(const struct odo_calib *c, int64_t k1, int64_t k2, double a[3], double w[3],
                          uint32_t *nw);

/* ---- calib.c ---- */

/* After each reference (the lag-in-use mean a, the reference, still): the
 * re-mount rules, learning time, and every 10 references the solution and
 * the ready rule. */
void calib__after_reference(struct odo_calib *c, const double a[3], double lon, double lat, int still,
                            double span_s);
/* Forget every statistic (a gravity re-mount). */
void calib__reset_stats(struct odo_calib *c);
/* Record a transition for the engine. */
void calib__transition(struct odo_calib *c, int to, const char *fmt, ...) ODO_PRINTF(3, 4);

#endif
