/* odo-agent calibration — the sufficient statistics and their solution
 * (calib_int.h; docs/detection.md "Mounting calibration"). */
#include <math.h>
#include <string.h>

#include "calib/calib_int.h"

double calib__dot(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

void calib__cross(const double a[3], const double b[3], double o[3])
{
	o[0] = a[1] * b[2] - a[2] * b[1];
	o[1] = a[2] * b[0] - a[0] * b[2];
	o[2] = a[0] * b[1] - a[1] * b[0];
}

int calib__normalize(double v[3])
{
	double n = sqrt(calib__dot(v, v));
	if (!(n > 1e-9))
		return -1;
	for (int i = 0; i < 3; i++)
		v[i] /= n;
	return 0;
}

int calib__is_rotation(double R[3][3])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double d = calib__dot(R[i], R[j]) - (i == j ? 1.0 : 0.0);
			if (!(fabs(d) <= 1e-2))
				return 0;
		}
	double c[3];
	calib__cross(R[0], R[1], c);
	return calib__dot(c, R[2]) > 0.9;
}

void calib__sums_add(struct odo_calib_sums *s, const double a[3], double lon, double lat, int quiet)
{
	if (quiet) {
		for (int i = 0; i < 3; i++)
			s->gsum[i] += a[i];
		s->gn++;
	}
	s->n++;
	s->s_lon += lon;
	s->s_lat += lat;
	s->s_ll += lon * lon;
	s->s_tt += lat * lat;
	s->s_lt += lon * lat;
	s->e_ref += lon * lon + lat * lat;
	for (int i = 0; i < 3; i++) {
		s->s_a[i] += a[i];
		s->c_lon[i] += a[i] * lon;
		s->c_lat[i] += a[i] * lat;
	}
	s->s_aa[0] += a[0] * a[0];
	s->s_aa[1] += a[1] * a[1];
	s->s_aa[2] += a[2] * a[2];
	s->s_aa[3] += a[0] * a[1];
	s->s_aa[4] += a[0] * a[2];
	s->s_aa[5] += a[1] * a[2];
}

/* The sums are plain doubles: scale and add them as arrays. */
#define NSUMS (sizeof(struct odo_calib_sums) / sizeof(double))

void calib__sums_axpy(struct odo_calib_sums *s, double k, const struct odo_calib_sums *t)
{
	double *p = (double *)s;
	const double *q = (const double *)t;
	for (size_t i = 0; i < NSUMS; i++)
		p[i] += k * q[i];
}

void calib__sums_scale(struct odo_calib_sums *s, double k)
{
	double *p = (double *)s;
	for (size_t i = 0; i < NSUMS; i++)
		p[i] *= k;
}

void calib__corr_add(struct odo_calib_corr *c, double x, double y)
{
	c->n++;
	c->sx += x;
	c->sy += y;
	c->sxx += x * x;
	c->syy += y * y;
	c->sxy += x * y;
}

double calib__corr(const struct odo_calib_corr *c)
{
	if (c->n < 3)
		return -2;
	double vx = c->sxx - c->sx * c->sx / c->n, vy = c->syy - c->sy * c->sy / c->n;
	if (!(vx > 0 && vy > 0))
		return -2;
	return (c->sxy - c->sx * c->sy / c->n) / sqrt(vx * vy);
}

/* M = sum (a - g)(a - g)^T from the sums. */
static void scatter(const struct odo_calib_sums *s, const double g[3], double M[3][3])
{
	const double aa[3][3] = {{s->s_aa[0], s->s_aa[3], s->s_aa[4]},
	                         {s->s_aa[3], s->s_aa[1], s->s_aa[5]},
	                         {s->s_aa[4], s->s_aa[5], s->s_aa[2]}};
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			M[i][j] = aa[i][j] - g[i] * s->s_a[j] - s->s_a[i] * g[j] + s->n * g[i] * g[j];
}

/* Horizontal basis e1, e2 (e2 = d x e1) of the plane orthogonal to d. */
static void plane(const double d[3], double e1[3], double e2[3])
{
	double ax[3] = {0, 0, 0};
	int k = fabs(d[0]) < fabs(d[1]) ? (fabs(d[0]) < fabs(d[2]) ? 0 : 2) : (fabs(d[1]) < fabs(d[2]) ? 1 : 2);
	ax[k] = 1;
	double p = calib__dot(ax, d);
	for (int i = 0; i < 3; i++)
		e1[i] = ax[i] - p * d[i];
	calib__normalize(e1);
	calib__cross(d, e1, e2);
}

/* The Procrustes angle in the plane (e1, e2) and its standard error:
 * x, y the cross moments, rss the residual, sigma in rad. */
static void procrustes(const struct odo_calib_sums *s, const double g[3], const double d[3], const double e1[3],
                       const double e2[3], double *theta, double *sigma, double *fit)
{
	double cl[3], ct[3];
	for (int i = 0; i < 3; i++) {
		cl[i] = s->c_lon[i] - g[i] * s->s_lon;
		ct[i] = s->c_lat[i] - g[i] * s->s_lat;
	}
	double y = calib__dot(e2, cl) - calib__dot(e1, ct);
	double x = calib__dot(e1, cl) + calib__dot(e2, ct);
	*theta = atan2(y, x);
	/* horizontal energy of the measured dynamic acceleration */
	double M[3][3], Md[3];
	scatter(s, g, M);
	for (int i = 0; i < 3; i++)
		Md[i] = calib__dot(M[i], d);
	double ph = M[0][0] + M[1][1] + M[2][2] - calib__dot(d, Md);
	double proj = sqrt(x * x + y * y);
	double rss = ph + s->e_ref - 2 * proj;
	if (rss < 0)
		rss = 0;
	*fit = (s->e_ref > 0 && ph > 0) ? fmin(1, proj / sqrt(s->e_ref * ph)) : 0;
	/* residual variance per horizontal component rss / 2n, over the
	 * reference energy: the angle's variance */
	*sigma = s->e_ref > 0 && s->n > 0 ? sqrt(rss / (2 * s->n) / s->e_ref) : HUGE_VAL;
}

void calib__solve(const struct odo_calib_sums *s, const double *axis, double axis_se_deg,
                  struct odo_calib_solution *out)
{
	memset(out, 0, sizeof(*out));
	out->sigma_deg = HUGE_VAL;
	out->e_ref = s->e_ref;
	if (s->n < CALIB_MIN_REFS)
		return;
	/* regression a = g + lon F + lat L per component, over the reference
	 * columns that vary (a source without lateral references, tools with
	 * lateral ones only): X^T X and its inverse by Gauss-Jordan */
	int cols[3] = {0, 1, 2}, m = 1;
	const double X[3][3] = {{s->n, s->s_lon, s->s_lat}, {s->s_lon, s->s_ll, s->s_lt}, {s->s_lat, s->s_lt, s->s_tt}};
	for (int j = 1; j < 3; j++)
		if (X[j][j] - X[0][j] * X[0][j] / s->n > 1e-6 * s->n)
			cols[m++] = j;
	double A[3][6];
	for (int r = 0; r < m; r++)
		for (int q = 0; q < m; q++) {
			A[r][q] = X[cols[r]][cols[q]];
			A[r][m + q] = r == q;
		}
	int invertible = 1;
	for (int p = 0; p < m && invertible; p++) {
		int best = p;
		for (int r = p + 1; r < m; r++)
			if (fabs(A[r][p]) > fabs(A[best][p]))
				best = r;
		if (!(fabs(A[best][p]) > 1e-12 * s->n)) {
			invertible = 0;
			break;
		}
		for (int q = 0; q < 2 * m; q++) {
			double t = A[p][q];
			A[p][q] = A[best][q];
			A[best][q] = t;
		}
		double piv = A[p][p];
		for (int q = 0; q < 2 * m; q++)
			A[p][q] /= piv;
		for (int r = 0; r < m; r++)
			if (r != p) {
				double f = A[r][p];
				for (int q = 0; q < 2 * m; q++)
					A[r][q] -= f * A[p][q];
			}
	}
	double g[3], tilt = HUGE_VAL;
	if (invertible && m > 1 && s->n > m) {
		double rss = 0;
		for (int j = 0; j < 3; j++) {
			const double yall[3] = {s->s_a[j], s->c_lon[j], s->c_lat[j]};
			double beta[3] = {0, 0, 0};
			for (int r = 0; r < m; r++)
				for (int q = 0; q < m; q++)
					beta[r] += A[r][m + q] * yall[cols[q]];
			g[j] = beta[0];
			double fitted = 0;
			for (int r = 0; r < m; r++)
				fitted += beta[r] * yall[cols[r]];
			rss += s->s_aa[j] - fitted;
		}
		double s2 = fmax(rss, 0) / (3 * (s->n - m));
		double gn = sqrt(calib__dot(g, g));
		if (gn > 1)
			tilt = sqrt(s2 * A[0][m]) / gn;
	} else if (s->gn >= CALIB_MIN_REFS) {
		for (int i = 0; i < 3; i++)
			g[i] = s->gsum[i] / s->gn;
	} else {
		return;
	}
	double d[3] = {-g[0], -g[1], -g[2]};
	if (calib__normalize(d))
		return;
	if (axis) {
		memcpy(d, axis, sizeof(d));
		tilt = axis_se_deg * M_PI / 180;
	}
	double e1[3], e2[3], th, sth;
	plane(d, e1, e2);
	procrustes(s, g, d, e1, e2, &th, &sth, &out->fit);
	for (int i = 0; i < 3; i++) {
		out->R[0][i] = cos(th) * e1[i] + sin(th) * e2[i];
		out->R[2][i] = d[i];
		out->g[i] = g[i];
	}
	calib__cross(d, out->R[0], out->R[1]);
	out->sigma_deg = sqrt(sth * sth + tilt * tilt) * 180 / M_PI;
	out->ok = isfinite(out->sigma_deg) || s->e_ref > 0;
}

int calib__angle_in_plane(const struct odo_calib_sums *s, const double g[3], const double down[3],
                          const double fwd[3], double *angle, double *sigma_deg)
{
	if (s->n < CALIB_MIN_REFS || !(s->e_ref > 0))
		return 0;
	double e1[3], e2[3], p = calib__dot(fwd, down), th, sth, fit;
	for (int i = 0; i < 3; i++)
		e1[i] = fwd[i] - p * down[i];
	if (calib__normalize(e1))
		return 0;
	calib__cross(down, e1, e2);
	procrustes(s, g, down, e1, e2, &th, &sth, &fit);
	*angle = th;
	*sigma_deg = sth * 180 / M_PI;
	return 1;
}
