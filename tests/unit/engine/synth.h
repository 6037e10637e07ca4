/*
 * Test helper: small synthetic-drive building blocks shared by the engine,
 * calib and trip tests (header-only, test code). Independent of the code
 * under test: its own rotation and great-circle maths.
 */
#ifndef ODO_TEST_SYNTH_H
#define ODO_TEST_SYNTH_H

#include <math.h>
#include <stdint.h>

#define SYN_G       9.80665
#define SYN_R_EARTH 6371008.8

/* R = Rz(yaw) Ry(pitch) Rx(roll), angles in degrees. */
static inline void syn_rot(double yaw, double pitch, double roll, double R[3][3])
{
	double a = yaw * M_PI / 180, b = pitch * M_PI / 180, c = roll * M_PI / 180;
	double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cc = cos(c), sc = sin(c);
	R[0][0] = ca * cb;
	R[0][1] = ca * sb * sc - sa * cc;
	R[0][2] = ca * sb * cc + sa * sc;
	R[1][0] = sa * cb;
	R[1][1] = sa * sb * sc + ca * cc;
	R[1][2] = sa * sb * cc - ca * sc;
	R[2][0] = -sb;
	R[2][1] = cb * sc;
	R[2][2] = cb * cc;
}

/* out = M^T in (vehicle -> sensor when M is sensor->vehicle) */
static inline void syn_mul_t(const double M[3][3], const double in[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = M[0][i] * in[0] + M[1][i] * in[1] + M[2][i] * in[2];
}

/* Angle (deg) between rotations A and B. */
static inline double syn_angle(const double A[3][3], const double B[3][3])
{
	double tr = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			tr += A[i][j] * B[i][j];
	double x = (tr - 1) / 2;
	if (x > 1)
		x = 1;
	if (x < -1)
		x = -1;
	return acos(x) * 180 / M_PI;
}

/* Move (lat, lon) by d metres along heading hdg (deg from north), flat-earth step. */
static inline void syn_step(double *lat, double *lon, double hdg, double d)
{
	double h = hdg * M_PI / 180;
	*lat += d * cos(h) / SYN_R_EARTH * 180 / M_PI;
	*lon += d * sin(h) / (SYN_R_EARTH * cos(*lat * M_PI / 180)) * 180 / M_PI;
}

/* Haversine, written here independently of odo_geo. */
static inline double syn_dist(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180;
	double dp = p2 - p1, dl = (lon2 - lon1) * M_PI / 180;
	double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
	return 2 * SYN_R_EARTH * asin(sqrt(h));
}

/* Deterministic pseudo-random in [-1, 1]. */
static inline double syn_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) / (double)(1ULL << 53) * 2 - 1;
}

#endif
