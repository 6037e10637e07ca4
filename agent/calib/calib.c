/* odo-agent — mounting calibration (see calib.h). */
#include "calib/calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odo/err.h"
#include "odo/geo.h"

#define S struct odo_calib_cfg
const struct odo_cfg_key odo_calib_cfg_keys[] = {
    ODO_CFG_S("matrix", S, matrix, "",
              "explicit sensor->vehicle rotation, 9 numbers row-major (forward,right,down); empty: learn"),
    ODO_CFG_D("ready_excitation", S, ready_excitation, "40", 0, 1e9,
              "excitation needed before the estimate is used ((m/s^2)^2 intervals)"),
    ODO_CFG_D("ready_fit", S, ready_fit, "0.5", 0, 1, "fit correlation needed before the estimate is used"),
    ODO_CFG_D("quiet_mps2", S, quiet_mps2, "0.3", 0, 5,
              "reference acceleration below which an interval shows gravity"),
    ODO_CFG_D("remount_deg", S, remount_deg, "10", 1, 90,
              "gravity direction change that means the box was re-mounted (deg)"),
    ODO_CFG_D("remount_s", S, remount_s, "5", 0.5, 600, "the change must last this long while still (s)"),
    ODO_CFG_D("min_lat_speed_mps", S, min_lat_speed_mps, "3", 0, 50,
              "lateral references need this speed (m/s)"),
};
#undef S
const size_t odo_calib_cfg_nkeys = ODO_ARRAY_LEN(odo_calib_cfg_keys);

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

static double dot(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross(const double a[3], const double b[3], double o[3])
{
	o[0] = a[1] * b[2] - a[2] * b[1];
	o[1] = a[2] * b[0] - a[0] * b[2];
	o[2] = a[0] * b[1] - a[1] * b[0];
}

static int normalize(double v[3])
{
	double n = sqrt(dot(v, v));
	if (!(n > 1e-9))
		return -1;
	for (int i = 0; i < 3; i++)
		v[i] /= n;
	return 0;
}

static int is_rotation(double R[3][3])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double d = dot(R[i], R[j]) - (i == j ? 1.0 : 0.0);
			if (fabs(d) > 1e-2)
				return 0;
		}
	double c[3];
	cross(R[0], R[1], c);
	return dot(c, R[2]) > 0.9;
}

static void reset_stats(struct odo_calib *c)
{
	memset(c->gsum, 0, sizeof(c->gsum));
	c->gn = 0;
	memset(c->c_lon, 0, sizeof(c->c_lon));
	memset(c->c_lat, 0, sizeof(c->c_lat));
	c->s_lon = c->s_lat = c->e_ref = c->m2 = c->nref = 0;
	c->s_ll = c->s_tt = c->s_lt = 0;
	memset(c->s_a, 0, sizeof(c->s_a));
}

int odo_calib_init(struct odo_calib *c, const struct odo_calib_cfg *cfg)
{
	memset(c, 0, sizeof(*c));
	if (cfg)
		c->cfg = *cfg;
	else
		odo_calib_cfg_defaults(&c->cfg);
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
		if (*p || !is_rotation(c->R))
			return ODO_ERR_CONFIG;
		c->fixed = 1;
		c->ready = 1;
		c->confidence = 1;
		for (int i = 0; i < 3; i++)
			c->g_ref[i] = -ODO_G * c->R[2][i];
	}
	return ODO_OK;
}

void odo_calib_accel(struct odo_calib *c, int64_t mono_ns, const double a[3])
{
	(void)mono_ns;
	for (int i = 0; i < 3; i++)
		c->acc_sum[i] += a[i];
	c->acc_n++;
}

/* Re-estimate R from the statistics. */
static void solve(struct odo_calib *c)
{
	if (c->nref < 10)
		return;
	double g[3];
	/* regression a = g + lon F + lat L: g is the intercept (Cramer's rule) */
	double n = c->nref, a = c->s_lon, b = c->s_lat;
	double det = n * (c->s_ll * c->s_tt - c->s_lt * c->s_lt) - a * (a * c->s_tt - c->s_lt * b) +
	             b * (a * c->s_lt - c->s_ll * b);
	if (fabs(det) > 1e-6 * n * n * n) {
		for (int i = 0; i < 3; i++) {
			double y0 = c->s_a[i], y1 = c->c_lon[i], y2 = c->c_lat[i];
			g[i] = (y0 * (c->s_ll * c->s_tt - c->s_lt * c->s_lt) -
			        a * (y1 * c->s_tt - c->s_lt * y2) + b * (y1 * c->s_lt - c->s_ll * y2)) /
			       det;
		}
	} else if (c->gn >= 10) {
		for (int i = 0; i < 3; i++)
			g[i] = c->gsum[i] / c->gn;
	} else {
		return;
	}
	double d[3] = {-g[0], -g[1], -g[2]};
	if (normalize(d))
		return;
	/* horizontal basis e1, e2 = d x e1 */
	double ax[3] = {0, 0, 0};
	int k =
	    fabs(d[0]) < fabs(d[1]) ? (fabs(d[0]) < fabs(d[2]) ? 0 : 2) : (fabs(d[1]) < fabs(d[2]) ? 1 : 2);
	ax[k] = 1;
	double e1[3], e2[3];
	double p = dot(ax, d);
	for (int i = 0; i < 3; i++)
		e1[i] = ax[i] - p * d[i];
	normalize(e1);
	cross(d, e1, e2);
	/* cross moments of the dynamic acceleration (a - g) */
	double cl[3], ct[3];
	for (int i = 0; i < 3; i++) {
		cl[i] = c->c_lon[i] - g[i] * c->s_lon;
		ct[i] = c->c_lat[i] - g[i] * c->s_lat;
	}
	double y = dot(e2, cl) - dot(e1, ct);
	double x = dot(e1, cl) + dot(e2, ct);
	double th = atan2(y, x);
	double f[3], r[3];
	for (int i = 0; i < 3; i++)
		f[i] = cos(th) * e1[i] + sin(th) * e2[i];
	cross(d, f, r);
	/* fit correlation: |projection| / sqrt(E * P), P = sum |a - g|^2 */
	double P = c->m2 - 2 * dot(g, c->s_a) + c->nref * dot(g, g);
	double fit = (c->e_ref > 0 && P > 0) ? sqrt(x * x + y * y) / sqrt(c->e_ref * P) : 0;
	if (fit > 1)
		fit = 1;
	double ex = c->e_ref / c->cfg.ready_excitation;
	c->confidence = fit * (ex < 1 ? ex : 1);
	if (c->e_ref >= c->cfg.ready_excitation && fit >= c->cfg.ready_fit) {
		for (int i = 0; i < 3; i++) {
			c->R[0][i] = f[i];
			c->R[1][i] = r[i];
			c->R[2][i] = d[i];
			c->g_ref[i] = g[i];
		}
		c->ready = 1;
	}
}

void odo_calib_reference(struct odo_calib *c, int64_t mono_ns, double lon, double lat, int still)
{
	if (c->acc_n == 0)
		return;
	double a[3];
	for (int i = 0; i < 3; i++)
		a[i] = c->acc_sum[i] / c->acc_n;
	c->acc_sum[0] = c->acc_sum[1] = c->acc_sum[2] = 0;
	c->acc_n = 0;

	/* re-mount check while still, against the rotation in use */
	if (still && c->ready) {
		double u[3] = {a[0], a[1], a[2]}, v[3] = {c->g_ref[0], c->g_ref[1], c->g_ref[2]};
		if (!normalize(u) && !normalize(v)) {
			double ang = acos(fmin(1, fmax(-1, dot(u, v)))) * 180 / M_PI;
			if (ang > c->cfg.remount_deg) {
				if (!c->remount_since_ns)
					c->remount_since_ns = mono_ns;
				if ((double)(mono_ns - c->remount_since_ns) >= c->cfg.remount_s * 1e9) {
					c->remounts++;
					c->ready = 0;
					c->fixed = 0;
					c->confidence = 0;
					c->remount_since_ns = 0;
					reset_stats(c);
				}
			} else {
				c->remount_since_ns = 0;
			}
		}
	} else if (!still) {
		c->remount_since_ns = 0;
	}
	if (c->fixed)
		return;
	int lon_ok = isfinite(lon), lat_ok = isfinite(lat);
	if (!lon_ok && !lat_ok && !still)
		return; /* no reference for this interval: its samples are dropped */
	if (still ||
	    ((!lon_ok || fabs(lon) < c->cfg.quiet_mps2) && (!lat_ok || fabs(lat) < c->cfg.quiet_mps2))) {
		for (int i = 0; i < 3; i++)
			c->gsum[i] += a[i];
		c->gn++;
	}
	if (still)
		lon = lat = 0, lon_ok = lat_ok = 1;
	if (!lon_ok)
		lon = 0;
	if (!lat_ok)
		lat = 0;
	for (int i = 0; i < 3; i++) {
		c->c_lon[i] += a[i] * lon;
		c->c_lat[i] += a[i] * lat;
		c->s_a[i] += a[i];
	}
	c->s_lon += lon;
	c->s_lat += lat;
	c->e_ref += lon * lon + lat * lat;
	c->s_ll += lon * lon;
	c->s_tt += lat * lat;
	c->s_lt += lon * lat;
	c->m2 += dot(a, a);
	c->nref++;
	/* re-solve now and then: cheap, but not needed every interval */
	if (((uint64_t)c->nref % 10) == 0)
		solve(c);
}

void odo_calib_rotate(const struct odo_calib *c, const double in[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = dot(c->R[i], in);
}

double odo_calib_angle_deg(const double A[3][3], const double B[3][3])
{
	/* angle of A B^T: acos((trace - 1) / 2) */
	double tr = 0;
	for (int i = 0; i < 3; i++)
		tr += dot(A[i], B[i]);
	double x = (tr - 1) / 2;
	return acos(fmin(1, fmax(-1, x))) * 180 / M_PI;
}

int odo_calib_save(const struct odo_calib *c, const char *path)
{
	char tmp[512];
	if (!path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return ODO_ERR_INVAL;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return ODO_ERR_IO;
	fprintf(f, "odo-calib 1\nready %d\nconfidence %.6f\nremounts %u\nR", c->ready, c->confidence,
	        c->remounts);
	for (int k = 0; k < 9; k++)
		fprintf(f, " %.9f", c->R[k / 3][k % 3]);
	fprintf(f, "\ng %.6f %.6f %.6f\n", c->g_ref[0], c->g_ref[1], c->g_ref[2]);
	int bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path)) {
		remove(tmp);
		return ODO_ERR_IO;
	}
	return ODO_OK;
}

int odo_calib_load(struct odo_calib *c, const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f)
		return ODO_ERR_NOTFOUND;
	int ver = 0, ready = 0;
	unsigned rm = 0;
	double conf = 0, R[3][3], g[3];
	int n = fscanf(f,
	               "odo-calib %d ready %d confidence %lf remounts %u R %lf %lf %lf %lf %lf %lf %lf %lf "
	               "%lf g %lf %lf %lf",
	               &ver, &ready, &conf, &rm, &R[0][0], &R[0][1], &R[0][2], &R[1][0], &R[1][1], &R[1][2],
	               &R[2][0], &R[2][1], &R[2][2], &g[0], &g[1], &g[2]);
	fclose(f);
	if (n != 16 || ver != 1 || !is_rotation(R) || !(conf >= 0 && conf <= 1))
		return ODO_ERR_PROTOCOL;
	if (c->fixed)
		return ODO_OK; /* the configured matrix wins */
	memcpy(c->R, R, sizeof(R));
	memcpy(c->g_ref, g, sizeof(g));
	c->ready = ready ? 1 : 0;
	c->confidence = conf;
	c->remounts = rm;
	return ODO_OK;
}
