/* odo-agent — mounting calibration: configuration, the learning / ready /
 * re-learning states and their rules (see calib.h). */
#include "calib/calib.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_int.h"
#include "odo/err.h"
#include "odo/geo.h"

#define S struct odo_calib_cfg
const struct odo_cfg_key odo_calib_cfg_keys[] = {
    ODO_CFG_S("matrix", S, matrix, "",
              "explicit sensor->vehicle rotation, 9 numbers row-major (forward,right,down); empty: learn"),
    ODO_CFG_D("ready_excitation", S, ready_excitation, "40", 0, 1e9,
              "excitation needed before the estimate is used ((m/s^2)^2 x reference spans)"),
    ODO_CFG_D("ready_sigma_deg", S, ready_sigma_deg, "2.5", 0.1, 45,
              "the estimate's standard error must be at most this before it is used (deg; 2 sigma = 5 deg)"),
    ODO_CFG_D("ready_stable_deg", S, ready_stable_deg, "1", 0.01, 45,
              "... and it must have moved less than this (deg) ..."),
    ODO_CFG_D("ready_stable_s", S, ready_stable_s, "30", 0, 3600, "... over this much driving (s)"),
    ODO_CFG_D("quiet_mps2", S, quiet_mps2, "0.3", 0, 5,
              "reference acceleration below which a span shows gravity (m/s^2)"),
    ODO_CFG_D("remount_deg", S, remount_deg, "10", 1, 90,
              "gravity direction change that means the box was re-mounted (deg)"),
    ODO_CFG_D("remount_s", S, remount_s, "5", 0.5, 600, "the change must last this long while still (s)"),
    ODO_CFG_D("remount_yaw_deg", S, remount_yaw_deg, "30", 5, 180,
              "the recent forward axis this far from the one in use means re-mounted (deg)"),
    ODO_CFG_D("recent_s", S, recent_s, "60", 10, 3600,
              "time constant of the recent estimate that detects a turn about the vertical (driving s)"),
    ODO_CFG_D("min_lat_speed_mps", S, min_lat_speed_mps, "3", 0, 50,
              "lateral references need this speed (m/s)"),
    ODO_CFG_D("ref_span_s", S, ref_span_s, "1", 0.2, 3, "a reference spans at least this long (s)"),
    ODO_CFG_D("gps_lag_s", S, gps_lag_s, "0", 0, 2,
              "GPS lag behind the IMU assumed until calibration has estimated it (s)"),
    ODO_CFG_GONE("ready_fit", "ready_sigma_deg (the estimate's uncertainty; docs/detection.md)"),
};
#undef S
const size_t odo_calib_cfg_nkeys = ODO_ARRAY_LEN(odo_calib_cfg_keys);

#define HARD_REF_MPS2 1.5   /* hard references checked after a restore ... */
#define VERIFY_SPANS 4      /* ... the first four of them ... */
#define VERIFY_AGAINST 3    /* ... at least three pointing backwards: re-mounted */
#define SOLVE_EVERY 10      /* references between solutions */
#define RECENT_MAX_SIGMA 5.0
#define GYRO_MIN_TURNING 1.5 /* rad^2/s of course rate^2 x time: about three 90 deg turns of 5 s */
#define GYRO_MAX_SE_DEG 1.0
#define GYRO_AGREE_DEG 5.0
#define GYRO_INVERTED_DEG 170.0

int odo_calib_cfg_set_matrix(struct odo_calib_cfg *cfg, const double R[3][3])
{
	char buf[sizeof(cfg->matrix)];
	size_t n = 0;

	if (!cfg || !R)
		return ODO_ERR_INVAL;
	for (int i = 0; i < 9; i++) {
		if (!isfinite(R[i / 3][i % 3]))
			return ODO_ERR_INVAL;
		/* %.17g: the file's text reads back as the same double */
		int k = snprintf(buf + n, sizeof(buf) - n, "%s%.17g", i ? " " : "", R[i / 3][i % 3]);
		if (k < 0 || (size_t)k >= sizeof(buf) - n)
			return ODO_ERR_INVAL;
		n += (size_t)k;
	}
	memcpy(cfg->matrix, buf, n + 1);
	return ODO_OK;
}

void odo_calib_cfg_defaults(struct odo_calib_cfg *c)
{
	/* The tables' defaults are tested; a failure leaves *c zeroed. */
	(void)odo_config_section_defaults("calib", odo_calib_cfg_keys, odo_calib_cfg_nkeys, c, sizeof(*c));
}

int odo_calib_init(struct odo_calib *c, const struct odo_calib_cfg *cfg)
{
	memset(c, 0, sizeof(*c));
	if (cfg)
		c->cfg = *cfg;
	else
		odo_calib_cfg_defaults(&c->cfg);
	c->ring_slot = INT64_MIN;
	c->sigma_deg = c->ready_s = NAN;
	c->state = ODO_CAL_LEARNING;
	int lag = (int)lround(c->cfg.gps_lag_s / ODO_CALIB_LAG_STEP_S);
	for (int s = 0; s < ODO_CALIB_NSRC; s++)
		c->lag[s] = lag < 0 ? 0 : lag >= ODO_CALIB_NLAG ? ODO_CALIB_NLAG - 1 : lag;
	if (c->cfg.matrix[0]) {
		const char *p = c->cfg.matrix;
		for (int k = 0; k < 9; k++) {
			char *end;
			double v = strtod(p, &end);
			if (end == p || !isfinite(v))
				return ODO_ERR_CONFIG;
			c->R[k / 3][k % 3] = v;
			p = end;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p || !calib__is_rotation(c->R))
			return ODO_ERR_CONFIG;
		c->fixed = 1;
		c->state = ODO_CAL_READY;
		c->ready = 1;
		c->confidence = 1;
		for (int i = 0; i < 3; i++)
			c->g_ref[i] = -ODO_G * c->R[2][i];
	}
	return ODO_OK;
}

void calib__transition(struct odo_calib *c, int to, const char *fmt, ...)
{
	c->transition.from = c->state;
	c->transition.to = to;
	c->transition.learn_s = c->learn_s;
	c->transition.moving_s = c->moving_s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->transition.why, sizeof(c->transition.why), fmt, ap);
	va_end(ap);
	c->have_transition = 1;
	c->state = to;
	c->ready = to == ODO_CAL_READY;
}

int odo_calib_take_transition(struct odo_calib *c, struct odo_calib_transition *t)
{
	if (!c->have_transition)
		return 0;
	*t = c->transition;
	c->have_transition = 0;
	return 1;
}

void calib__reset_stats(struct odo_calib *c)
{
	memset(c->bank, 0, sizeof(c->bank));
	memset(c->gbank, 0, sizeof(c->gbank));
	memset(&c->base, 0, sizeof(c->base));
	memset(&c->recent, 0, sizeof(c->recent));
	c->nsol = 0;
	c->verify_left = 0;
	c->learn_s = 0;
	c->remount_still_s = 0;
	memset(&c->est, 0, sizeof(c->est));
	c->sigma_deg = NAN;
	c->confidence = 0;
	if (c->gyro_state == ODO_GYRO_ESTABLISHED)
		c->gyro_state = ODO_GYRO_LEARNING;
}

/* The box was moved: learn again from nothing (why: which rule). */
static void remount(struct odo_calib *c, const char *why)
{
	c->remounts++;
	c->fixed = 0;
	calib__reset_stats(c);
	calib__transition(c, ODO_CAL_RELEARNING, "%s", why);
}

/* The gyroscope's yaw axis from the lag-in-use sums; state update. */
static void gyro_axis(struct odo_calib *c)
{
	if (!c->have_gyro)
		return;
	if (c->gyro_state == ODO_GYRO_NONE)
		c->gyro_state = ODO_GYRO_LEARNING;
	struct odo_calib_gsums g = {0};
	for (int s = 0; s < ODO_CALIB_NSRC; s++) {
		const struct odo_calib_gsums *b = &c->gbank[s][c->lag[s]];
		g.n += b->n;
		g.s_r += b->s_r;
		g.s_rr += b->s_rr;
		g.s_ww += b->s_ww;
		g.s_rr_dt += b->s_rr_dt;
		for (int j = 0; j < 3; j++) {
			g.s_w[j] += b->s_w[j];
			g.s_wr[j] += b->s_wr[j];
		}
	}
	if (g.n < CALIB_MIN_REFS)
		return;
	/* w = bias + k rate per component: centred moments */
	double rr = g.s_rr - g.s_r * g.s_r / g.n;
	if (!(rr > 0))
		return;
	double k[3], wr[3], ww = g.s_ww;
	for (int j = 0; j < 3; j++) {
		wr[j] = g.s_wr[j] - g.s_w[j] * g.s_r / g.n;
		k[j] = wr[j] / rr;
		ww -= g.s_w[j] * g.s_w[j] / g.n;
	}
	double kn = sqrt(calib__dot(k, k));
	double res = ww - 2 * calib__dot(k, wr) + kn * kn * rr;
	double se = kn > 0 && g.n > 2 ? sqrt(fmax(res, 0) / (3 * (g.n - 2)) / rr) / kn * 180 / M_PI : HUGE_VAL;
	/* |k| ~ 1: the sensor turns as the course does (course from GPS under-reads a little) */
	if (g.s_rr_dt >= GYRO_MIN_TURNING && se <= GYRO_MAX_SE_DEG && kn > 0.5 && kn < 1.5) {
		for (int j = 0; j < 3; j++)
			c->gaxis[j] = k[j] / kn;
		c->gaxis_se_deg = se;
		c->gyro_state = ODO_GYRO_ESTABLISHED;
	}
}

/* The solution of driving time `t` at least ready_stable_s ago is within
 * ready_stable_deg of R. */
static int stable(const struct odo_calib *c, const double R[3][3])
{
	double now = c->moving_s;
	int best = -1;
	for (unsigned i = 0; i < c->nsol && i < ODO_CALIB_SOLVES; i++)
		if (c->sol_t[i] <= now - c->cfg.ready_stable_s && (best < 0 || c->sol_t[i] > c->sol_t[best]))
			best = (int)i;
	return best >= 0 && odo_calib_angle_deg(R, c->sol_R[best]) < c->cfg.ready_stable_deg;
}

static void keep_solution(struct odo_calib *c, const double R[3][3])
{
	unsigned i = c->nsol % ODO_CALIB_SOLVES;
	memcpy(c->sol_R[i], R, sizeof(c->sol_R[i]));
	c->sol_t[i] = c->moving_s;
	c->nsol++;
}

static void decide(struct odo_calib *c)
{
	struct odo_calib_sums s = c->base;
	for (int k = 0; k < ODO_CALIB_NSRC; k++)
		calib__sums_axpy(&s, 1, &c->bank[k][c->lag[k]]);
	gyro_axis(c);
	int axis = c->gyro_state == ODO_GYRO_ESTABLISHED;
	struct odo_calib_solution sol;
	calib__solve(&s, axis ? c->gaxis : NULL, c->gaxis_se_deg, &sol);
	if (!sol.ok)
		return;
	c->est = sol;
	c->sigma_deg = sol.sigma_deg;
	c->confidence = fmax(0, fmin(1, 1 - sol.sigma_deg / (2 * c->cfg.ready_sigma_deg)));
	int steady = stable(c, sol.R);
	keep_solution(c, sol.R);
	int agree = 1;
	if (axis) {
		double d[3] = {-sol.g[0], -sol.g[1], -sol.g[2]};
		calib__normalize(d);
		double ang = acos(fmax(-1, fmin(1, calib__dot(d, c->gaxis)))) * 180 / M_PI;
		agree = ang <= GYRO_AGREE_DEG;
		if (ang >= GYRO_INVERTED_DEG && !c->sign_error) {
			c->sign_error = 1;
			calib__transition(c, c->state,
			                  "accelerometer sign inverted: gravity and the yaw axis disagree by %.0f deg "
			                  "(the driver must report specific force, +9.8 m/s^2 up at rest)",
			                  ang);
		}
	}
	int ok = s.e_ref >= c->cfg.ready_excitation && sol.sigma_deg <= c->cfg.ready_sigma_deg && steady && agree &&
	         !c->sign_error;
	if (!ok)
		return;
	memcpy(c->R, sol.R, sizeof(c->R));
	memcpy(c->g_ref, sol.g, sizeof(c->g_ref));
	if (c->state != ODO_CAL_READY) {
		c->ready_s = c->learn_s;
		calib__transition(c, ODO_CAL_READY, "sigma %.1f deg, fit %.2f", sol.sigma_deg, sol.fit);
		c->learn_s = 0;
	}
}

/* In state ready: the recent references' forward axis against the one in use. */
static void yaw_check(struct odo_calib *c)
{
	double th, sr;
	if (!calib__angle_in_plane(&c->recent, c->g_ref, c->R[2], c->R[0], &th, &sr))
		return;
	double deg = fabs(th) * 180 / M_PI;
	if (c->recent.e_ref >= c->cfg.ready_excitation && sr < RECENT_MAX_SIGMA && deg > c->cfg.remount_yaw_deg) {
		char why[96];
		snprintf(why, sizeof(why), "the forward axis of the last minutes is %.0f deg from the one in use (sigma %.1f)",
		         deg, sr);
		/* learnt again from what comes now: the recent references still hold
		 * the old mount's, which would bias the new one */
		remount(c, why);
	}
}

void calib__after_reference(struct odo_calib *c, const double a[3], double lon, double lat, int still,
                            double span_s)
{
	double L = isfinite(lon) ? lon : 0, T = isfinite(lat) ? lat : 0;
	if (!still) {
		c->moving_s += span_s;
		if (c->state != ODO_CAL_READY)
			c->learn_s += span_s;
	}
	/* gravity moved while still: the box was re-mounted (also a fixed matrix) */
	if (still && c->state == ODO_CAL_READY) {
		double u[3] = {a[0], a[1], a[2]}, v[3] = {c->g_ref[0], c->g_ref[1], c->g_ref[2]};
		if (!calib__normalize(u) && !calib__normalize(v)) {
			double ang = acos(fmax(-1, fmin(1, calib__dot(u, v)))) * 180 / M_PI;
			c->remount_still_s = ang > c->cfg.remount_deg ? c->remount_still_s + span_s : 0;
			if (c->remount_still_s >= c->cfg.remount_s) {
				char why[96];
				snprintf(why, sizeof(why), "gravity moved %.0f deg while still", ang);
				remount(c, why);
				return;
			}
		}
	} else if (!still) {
		c->remount_still_s = 0;
	}
	if (c->fixed)
		return;
	int quiet = still || (fabs(L) < c->cfg.quiet_mps2 && fabs(T) < c->cfg.quiet_mps2);
	if (!still)
		calib__sums_scale(&c->recent, exp(-span_s / c->cfg.recent_s));
	calib__sums_add(&c->recent, a, L, T, quiet);
	/* after a restore: do the first hard references agree with the mount? */
	if (c->verify_left > 0 && c->state == ODO_CAL_READY && !still && hypot(L, T) >= HARD_REF_MPS2) {
		double d[3] = {a[0] - c->g_ref[0], a[1] - c->g_ref[1], a[2] - c->g_ref[2]};
		if (calib__dot(c->R[0], d) * L + calib__dot(c->R[1], d) * T < 0)
			c->verify_against++;
		c->verify_left--;
		if (c->verify_against >= VERIFY_AGAINST) {
			char why[96];
			snprintf(why, sizeof(why), "%d of the first %d hard references point against the restored mount",
			         c->verify_against, VERIFY_SPANS - c->verify_left);
			remount(c, why);
			return;
		}
	}
	if (c->spans % SOLVE_EVERY != 0)
		return;
	decide(c);
	if (c->state == ODO_CAL_READY)
		yaw_check(c);
}

void odo_calib_rotate(const struct odo_calib *c, const double in[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = calib__dot(c->R[i], in);
}

double odo_calib_angle_deg(const double A[3][3], const double B[3][3])
{
	/* angle of A B^T: acos((trace - 1) / 2) */
	double tr = 0;
	for (int i = 0; i < 3; i++)
		tr += calib__dot(A[i], B[i]);
	double x = (tr - 1) / 2;
	return acos(fmin(1, fmax(-1, x))) * 180 / M_PI;
}

void odo_calib_euler(const double R[3][3], double *roll, double *pitch, double *yaw)
{
	*yaw = atan2(R[1][0], R[0][0]) * 180 / M_PI;
	*pitch = -asin(fmax(-1, fmin(1, R[2][0]))) * 180 / M_PI;
	*roll = atan2(R[2][1], R[2][2]) * 180 / M_PI;
	if (*yaw >= 180)
		*yaw -= 360; /* [-180, 180) */
}

void odo_calib_status(const struct odo_calib *c, struct odo_rec_status *st)
{
	st->calib_state = c->state;
	st->gyro_state = c->gyro_state;
	const double(*R)[3] = NULL;
	if (c->fixed || c->state == ODO_CAL_READY)
		R = c->R;
	else if (c->est.ok)
		R = c->est.R;
	if (c->fixed || c->est.ok || c->state == ODO_CAL_READY)
		st->calib_confidence = c->confidence;
	if (R)
		odo_calib_euler(R, &st->roll_deg, &st->pitch_deg, &st->yaw_deg);
	if (isfinite(c->ready_s))
		st->calib_ready_s = c->ready_s;
	if (!c->fixed)
		st->gps_lag_s = odo_calib_lag_s(c, 0);
}
