/*
 * odo-accuracy — replay the labelled real trips of the Driver Behavior
 * Dataset (Ferreira Jr. et al., PLoS ONE 12(4), 2017) through the engine's
 * detectors with their default configuration and score them per event kind
 * by interval overlap, counting the detections of grade --min-grade (1)
 * and above (the labels carry no grade). Usage: odo-accuracy DATASET_DIR [TRIP ...]
 *
 * The dataset is in an Earth frame (z up, x/y horizontal). To get a
 * vehicle-fixed frame, the z gyro (yaw rate) is integrated into a heading
 * and the horizontal acceleration rotated by it; the unknown constant angle
 * that remains is the mounting, learnt by the calibration module from the
 * correlation of the horizontal acceleration with the centripetal
 * acceleration (yaw rate x a nominal speed: the dataset has no speed, and
 * the angle does not depend on the scale). The detectors then see
 * accelerometer samples through the engine's sink exactly as on a device
 * whose mounting is already known (explicit matrix).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "odo/geo.h"

#define MAX_TRIPS         8
#define MAX_LABELS        64
#define MAX_DETS          512
#define LINE_MAX_LEN      512
#define NOMINAL_SPEED_MPS 8.0 /* scale of the lateral reference; the angle does not depend on it */
#define REF_PERIOD_S      0.1 /* calibration reference interval */
#define MATCH_SLACK_S     0.5
#define LOCAL_WINDOW_S    30.0 /* re-anchoring window of the converter */

enum kind { K_BRAKE, K_ACCEL, K_RIGHT, K_LEFT, K_SWERVE, K_NEG, K__N };
static const char *const kind_name[K__N] = {"hard_brake",  "rapid_accel", "corner_right",
                                            "corner_left", "swerve",      "non_aggressive"};

struct series {
	size_t n, cap;
	double *t, *x, *y, *z;
};

struct ival {
	int kind;
	double a, b;
};

static int read_series(const char *path, int64_t t0, struct series *s)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "odo-accuracy: cannot open %s\n", path);
		return -1;
	}
	char line[LINE_MAX_LEN];
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ',');
		if (!p || line[0] == 't')
			continue;
		char *end;
		long long up = strtoll(p + 1, &end, 10);
		if (*end != ',')
			continue;
		double x = strtod(end + 1, &end);
		double y = strtod(end + 1, &end);
		double z = strtod(end + 1, &end);
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 4096;
			s->t = realloc(s->t, s->cap * sizeof(double));
			s->x = realloc(s->x, s->cap * sizeof(double));
			s->y = realloc(s->y, s->cap * sizeof(double));
			s->z = realloc(s->z, s->cap * sizeof(double));
			if (!s->t || !s->x || !s->y || !s->z) {
				fclose(f);
				return -1;
			}
		}
		s->t[s->n] = (double)(up - t0) / 1e9;
		s->x[s->n] = x;
		s->y[s->n] = y;
		s->z[s->n] = z;
		s->n++;
	}
	fclose(f);
	/* samples are nearly but not always in order */
	for (size_t i = 1; i < s->n; i++)
		for (size_t j = i; j > 0 && s->t[j] < s->t[j - 1]; j--) {
			double *arr[4] = {s->t, s->x, s->y, s->z};
			for (int k = 0; k < 4; k++) {
				double tmp = arr[k][j];
				arr[k][j] = arr[k][j - 1];
				arr[k][j - 1] = tmp;
			}
		}
	return s->n ? 0 : -1;
}

static int label_kind(const char *s)
{
	if (strstr(s, "freada"))
		return K_BRAKE;
	if (strstr(s, "aceleracao"))
		return K_ACCEL;
	if (strstr(s, "curva_direita"))
		return K_RIGHT;
	if (strstr(s, "curva_esquerda"))
		return K_LEFT;
	if (strstr(s, "troca_faixa"))
		return K_SWERVE;
	if (strstr(s, "nao_agressivo"))
		return K_NEG;
	return -1;
}

static int read_labels(const char *path, struct ival *lab, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "odo-accuracy: cannot open %s\n", path);
		return -1;
	}
	char line[LINE_MAX_LEN];
	*n = 0;
	while (fgets(line, sizeof(line), f) && *n < MAX_LABELS) {
		char *c1 = strchr(line, ',');
		if (!c1)
			continue;
		*c1 = 0;
		int k = label_kind(line);
		if (k < 0)
			continue;
		char *end;
		double a = strtod(c1 + 1, &end);
		double b = strtod(end + 1, NULL);
		lab[(*n)++] = (struct ival){k, a, b};
	}
	fclose(f);
	return 0;
}

static int64_t read_first_uptime(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[LINE_MAX_LEN];
	int64_t v = -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "firstCollectionUptimeNanos");
		if (p && (p = strchr(p, ':')))
			v = strtoll(p + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

struct collect {
	struct ival det[MAX_DETS];
	int n;
	double peak[MAX_DETS];
};

static int min_grade = 1; /* --min-grade N: only detections of grade N and above are scored */

static int on_record(void *ctx, struct odo_record *r)
{
	struct collect *c = ctx;
	if (r->kind != ODO_REC_EVENT || c->n >= MAX_DETS || r->u.event.grade < min_grade)
		return 0;
	int k;
	switch (r->u.event.kind) {
	case ODO_EV_HARD_BRAKE:
		k = K_BRAKE;
		break;
	case ODO_EV_RAPID_ACCEL:
		k = K_ACCEL;
		break;
	case ODO_EV_CORNER_RIGHT:
		k = K_RIGHT;
		break;
	case ODO_EV_CORNER_LEFT:
		k = K_LEFT;
		break;
	case ODO_EV_SWERVE:
		k = K_SWERVE;
		break;
	default:
		return 0;
	}
	double a = (double)r->t_ms / 1000.0;
	c->peak[c->n] = r->u.event.peak_g;
	c->det[c->n++] = (struct ival){k, a, a + (double)r->u.event.duration_ms / 1000.0};
	return 0;
}

/* Heading (rad, CCW) at each accel time from the z gyro minus `bias`. */
static void headings(const struct series *acc, const struct series *gyr, double bias, double *psi)
{
	double h = 0, tg = gyr->t[0];
	size_t g = 0;
	for (size_t i = 0; i < acc->n; i++) {
		while (g < gyr->n && gyr->t[g] <= acc->t[i]) {
			double dt = gyr->t[g] - tg;
			if (dt > 0 && dt < 1)
				h += (gyr->z[g] - bias) * dt;
			tg = gyr->t[g];
			g++;
		}
		psi[i] = h;
	}
}

static int overlaps(const struct ival *p, const struct ival *q)
{
	return p->a <= q->b + MATCH_SLACK_S && q->a <= p->b + MATCH_SLACK_S;
}

static int untilt_on = 1; /* --no-untilt: keep the dataset's tilt (see untilt()) */

#define UNTILT_LP_HZ 2.0 /* direction estimates from 2-pole low-passed samples */
#define UNTILT_TAU_S 0.4 /* smoothing of the tilt estimate */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Undo the dataset's tilt error. Its Earth frame comes from Android's
 * SensorManager.getRotationMatrix() fed with the GRAVITY sensor and the
 * magnetometer (EarthAxesConverterFunction in the dataset's app,
 * github.com/jair-jr/driverBehavior), and that gravity estimate follows
 * sustained acceleration: during a 0.35 g acceleration the reported "up"
 * leans up to ~20 degrees toward it, so the horizontal part shrinks (to
 * ~0.15 g) and reappears in z. The length of the specific-force vector
 * does not depend on any rotation, so the true angle psi between it and
 * the vertical is known up to its sign: cos psi = g / |a|. The reported
 * angle phi differs from it by the tilt error d = +-psi - phi; the branch
 * taken is the one that keeps d continuous (the gravity estimate moves
 * smoothly), and the smoothed d rotates each sample back in the vertical
 * plane of its horizontal acceleration. A car-fixed accelerometer has no
 * such error; this is dataset repair, not part of the agent.
 */
/* m = the samples v through a 2-pole low-pass at UNTILT_LP_HZ, nm = |m|,
 * *g = the median of nm (the accelerometer's own 1 g). 0 or -1 (memory). */
static int smooth_norm(const double *t, double (*v)[3], size_t n, double (*m)[3], double *nm, double *g)
{
	double f1[3], f2[3], tau = 1.0 / (2 * M_PI * UNTILT_LP_HZ);
	for (int k = 0; k < 3; k++)
		f1[k] = f2[k] = v[0][k];
	for (size_t i = 0; i < n; i++) {
		double dt = i ? t[i] - t[i - 1] : 0, al = dt > 0 ? dt / (tau + dt) : 0;
		for (int k = 0; k < 3; k++) {
			f1[k] += al * (v[i][k] - f1[k]);
			f2[k] += al * (f1[k] - f2[k]);
			m[i][k] = f2[k];
		}
		nm[i] = sqrt(m[i][0] * m[i][0] + m[i][1] * m[i][1] + m[i][2] * m[i][2]);
	}
	double *sorted = malloc(n * sizeof(double));
	if (!sorted)
		return -1;
	memcpy(sorted, nm, n * sizeof(double));
	qsort(sorted, n, sizeof(double), cmp_double);
	*g = sorted[n / 2];
	free(sorted);
	return 0;
}

static void untilt(const double *t, double (*v)[3], size_t n)
{
	double(*m)[3] = malloc(n * sizeof(*m));
	double *nm = malloc(n * sizeof(double)), g;
	if (!m || !nm || smooth_norm(t, v, n, m, nm, &g)) {
		free(m);
		free(nm);
		return;
	}
	double dl[2] = {0, 0};
	for (size_t i = 0; i < n; i++) {
		double dt = i ? t[i] - t[i - 1] : 0, al = dt > 0 ? dt / (UNTILT_TAU_S + dt) : 0;
		double ph = hypot(m[i][0], m[i][1]);
		double e0 = ph > 1e-6 ? m[i][0] / ph : 1, e1 = ph > 1e-6 ? m[i][1] / ph : 0;
		double phi = atan2(ph, m[i][2]);
		double psi = nm[i] > g ? acos(g / nm[i]) : 0;
		double de = dl[0] * e0 + dl[1] * e1;
		double c1 = psi - phi, c2 = -psi - phi;
		double dc = fabs(c1 - de) <= fabs(c2 - de) ? c1 : c2;
		dl[0] += al * (dc * e0 - dl[0]);
		dl[1] += al * (dc * e1 - dl[1]);
		double d = dl[0] * e0 + dl[1] * e1;
		double p = v[i][0] * e0 + v[i][1] * e1, r = -v[i][0] * e1 + v[i][1] * e0, q = v[i][2];
		double p2 = p * cos(d) + q * sin(d), q2 = q * cos(d) - p * sin(d);
		v[i][0] = p2 * e0 - r * e1;
		v[i][1] = p2 * e1 + r * e0;
		v[i][2] = q2;
	}
	free(m);
	free(nm);
}

/* Rotate into the frame turning with the car (heading from the z gyro minus bias). */
static void to_car_frame(const struct series *acc, const struct series *gyr, double bias, double *psi,
                         double (*v)[3])
{
	headings(acc, gyr, bias, psi);
	for (size_t i = 0; i < acc->n; i++) {
		/* Earth horizontal -> frame turning with the car (unknown offset angle) */
		double c = cos(psi[i]), s = sin(psi[i]);
		v[i][0] = c * acc->x[i] + s * acc->y[i];
		v[i][1] = -s * acc->x[i] + c * acc->y[i];
		v[i][2] = acc->z[i];
	}
	if (untilt_on)
		untilt(acc->t, v, acc->n);
}

/* Run the calibration module over samples [i0, i1) with yaw-rate references. */
static void calib_range(const struct series *acc, const struct series *gyr, double bias, double (*v)[3],
                        size_t i0, size_t i1, struct odo_calib *cal)
{
	struct odo_calib_cfg ccfg;
	odo_calib_cfg_defaults(&ccfg);
	if (odo_calib_init(cal, &ccfg))
		return;
	double next = acc->t[i0] + REF_PERIOD_S;
	size_t g = 0;
	while (g < gyr->n && gyr->t[g] < acc->t[i0])
		g++;
	for (size_t i = i0; i < i1; i++) {
		if (acc->t[i] >= next) {
			double sw = 0;
			int nw = 0;
			while (g < gyr->n && gyr->t[g] < next) {
				if (gyr->t[g] >= next - REF_PERIOD_S) {
					sw += gyr->z[g] - bias;
					nw++;
				}
				g++;
			}
			double w = nw ? sw / nw : 0;
			/* CCW yaw (left turn) pushes to the left: right-positive lateral = -v w */
			odo_calib_reference(cal, 0, (int64_t)((next - REF_PERIOD_S) * 1e9), (int64_t)(next * 1e9), NAN,
			                    -NOMINAL_SPEED_MPS * w, -w, 0);
			next += REF_PERIOD_S;
		}
		odo_calib_accel(cal, (int64_t)(acc->t[i] * 1e9), v[i], NULL);
	}
}

static void calibrate(const struct series *acc, const struct series *gyr, double bias, double *psi,
                      double (*v)[3], struct odo_calib *cal)
{
	to_car_frame(acc, gyr, bias, psi, v);
	calib_range(acc, gyr, bias, v, 0, acc->n, cal);
}

static const char *dump_dir; /* --dump DIR: car-frame samples per trip as CSV (for analysis) */
/* The engine's configuration: defaults and --set SECTION.KEY=VALUE (a
 * non-default parameter, for ablations). */
static struct odo_engine_cfg engine_cfg;
static struct odo_cfg_section engine_secs[ODO_ENGINE_CFG_NSECTIONS];
static int pca =
    1; /* local forward axis from the principal axis of straight-line acceleration (--global: off) */

#define PCA_MAX_YAW   0.05 /* rad/s: "driving straight" */
#define PCA_MIN_ANISO 2.0  /* principal/minor variance ratio needed to trust the axis */
#define TURN_CORR_MIN 0.3  /* turns decide the forward direction above this correlation */
#define EVIDENCE_FRAC 0.8  /* |a|-derived horizontal g, as a fraction of the threshold, that confirms */
#define EVIDENCE_YAW  0.1  /* rad/s: a swerve's yaw each way, a corner's mean yaw its way */

/*
 * Forward axis over samples [a0, a1): the principal axis of the horizontal
 * acceleration (0.1 s means) while not turning. Driving straight, the
 * horizontal acceleration is longitudinal (speeding up, slowing down);
 * lateral acceleration needs a yaw rate. Returns 1 with the axis angle
 * (*ang, rad, mod pi) and, for the direction (cos, sin) of it, the
 * normalised correlation of its right axis with the centripetal
 * reference -w (*corr: turning right, w < 0, pushes to the right), when
 * the axis is well defined.
 */
static int pca_axis(const struct series *acc, const double *wz, double (*v)[3], size_t a0, size_t a1,
                    double *ang, double *turn_ang, double *turn_corr)
{
	double sxx = 0, syy = 0, sxy = 0, mx = 0, my = 0;
	int n = 0;
	for (size_t i = a0; i < a1;) {
		size_t j = i;
		double x = 0, y = 0, w = 0;
		int m = 0;
		while (j < a1 && acc->t[j] < acc->t[i] + 0.1) {
			x += v[j][0];
			y += v[j][1];
			w = fmax(w, fabs(wz[j]));
			m++;
			j++;
		}
		i = j;
		if (!m || w > PCA_MAX_YAW)
			continue;
		x /= m;
		y /= m;
		sxx += x * x;
		syy += y * y;
		sxy += x * y;
		mx += x;
		my += y;
		n++;
	}
	if (n < 50)
		return 0;
	sxx = sxx / n - (mx / n) * (mx / n);
	syy = syy / n - (my / n) * (my / n);
	sxy = sxy / n - (mx / n) * (my / n);
	double tr = sxx + syy, det = sxx * syy - sxy * sxy;
	double l1 = tr / 2 + sqrt(fmax(0, tr * tr / 4 - det)), l2 = tr - l1;
	if (!(l1 > PCA_MIN_ANISO * fmax(l2, 1e-9)))
		return 0;
	*ang = 0.5 * atan2(2 * sxy, sxx - syy);
	/* the turns' verdict on each of the four axis candidates */
	double best = -2;
	for (int q = 0; q < 4; q++) {
		double a = *ang + q * M_PI / 2, fx = cos(a), fy = sin(a), c = 0, sl = 0, sw = 0;
		for (size_t i = a0; i < a1; i++) {
			double lat = fy * v[i][0] - fx * v[i][1];
			c += lat * -wz[i];
			sl += lat * lat;
			sw += wz[i] * wz[i];
		}
		c = sl > 0 && sw > 0 ? c / sqrt(sl * sw) : 0;
		if (c > best) {
			best = c;
			*turn_ang = a;
		}
	}
	*turn_corr = best;
	return 1;
}

static double wrap_pi(double a)
{
	return remainder(a, 2 * M_PI);
}

struct score {
	int tp_det, ndet, tp_lab, nlab;
	int fp_real; /* false positives with label-free evidence of a real manoeuvre */
};

static int run_trip(const char *dir, const char *trip, struct score *sc)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/viagem.json", dir, trip);
	int64_t t0 = read_first_uptime(path);
	if (t0 < 0) {
		fprintf(stderr, "odo-accuracy: no firstCollectionUptimeNanos in %s\n", path);
		return -1;
	}
	struct series acc, gyr;
	snprintf(path, sizeof(path), "%s/%s/acelerometro_terra.csv", dir, trip);
	if (read_series(path, t0, &acc))
		return -1;
	snprintf(path, sizeof(path), "%s/%s/giroscopio_terra.csv", dir, trip);
	if (read_series(path, t0, &gyr))
		return -1;
	struct ival lab[MAX_LABELS];
	int nlab;
	snprintf(path, sizeof(path), "%s/%s/groundTruth.csv", dir, trip);
	if (read_labels(path, lab, &nlab))
		return -1;

	double *psi = malloc(acc.n * sizeof(double));
	double(*v)[3] = malloc(acc.n * sizeof(*v));
	if (!psi || !v)
		return -1;
	/*
	 * pass 1: gyro bias and mounting. The phone gyro's zero-rate offset
	 * makes the integrated heading drift; it is the mean yaw rate over the
	 * 1 s blocks in which the car goes straight or stands (|w| below
	 * PCA_MAX_YAW: turns are excluded, both directions alike). The
	 * whole-trip mounting is the calibration module's estimate under that
	 * bias (used where no local frame can be built).
	 */
	double *wz = malloc(acc.n * sizeof(double)); /* yaw rate at each sample, bias removed below */
	if (!wz)
		return -1;
	for (size_t i = 0, g = 0; i < acc.n; i++) {
		while (g + 1 < gyr.n && gyr.t[g + 1] <= acc.t[i])
			g++;
		wz[i] = gyr.z[g];
	}
	double best_bias = 0, sum = 0;
	int nstraight = 0;
	for (size_t i = 0; i < acc.n;) {
		size_t j = i;
		double m = 0;
		for (; j < acc.n && acc.t[j] < acc.t[i] + 1.0; j++)
			m += wz[j];
		m /= (double)(j - i);
		if (fabs(m) < PCA_MAX_YAW) {
			sum += m;
			nstraight++;
		}
		i = j;
	}
	if (nstraight)
		best_bias = sum / nstraight;
	for (size_t i = 0; i < acc.n; i++)
		wz[i] -= best_bias;
	static struct odo_calib cal;
	calibrate(&acc, &gyr, best_bias, psi, v, &cal);
	/* the whole-trip estimate (the frame drifts with the converter's
	 * heading, so the ready rule's stability need not hold here) */
	if (!cal.est.ok) {
		fprintf(stderr, "odo-accuracy: %s: mounting calibration found no estimate (confidence %.2f)\n", trip,
		        cal.confidence);
		return -1;
	}
	memcpy(cal.R, cal.est.R, sizeof(cal.R));
	double fwd_deg = atan2(cal.R[0][1], cal.R[0][0]) * 180 / M_PI;

	/*
	 * The integrated heading still drifts (the bias is not quite constant,
	 * and the dataset's heading comes from a magnetometer that the car
	 * disturbs), which a real, car-fixed sensor does not: the frame is
	 * re-anchored locally below.
	 */
	double(*vv)[3] = malloc(acc.n * sizeof(*vv));
	if (!vv)
		return -1;
	/*
	 * Local frames: for each 1 s block, the forward axis from the
	 * +-LOCAL_WINDOW_S around it (pca_axis). Blocks without a
	 * well-defined axis keep the neighbouring one; with none at all the
	 * whole-trip calibration is used. Which direction is forward: below.
	 */
	size_t nblk = 0, cap = (size_t)(acc.t[acc.n - 1] - acc.t[0]) + 2;
	size_t *blk = malloc((cap + 1) * sizeof(size_t));
	double *bang = malloc(cap * sizeof(double));
	double *bturn_ang = malloc(cap * sizeof(double)), *bturn_corr = malloc(cap * sizeof(double));
	int *bok = malloc(cap * sizeof(int)), *bdec = malloc(cap * sizeof(int));
	if (!blk || !bang || !bok || !bturn_ang || !bturn_corr || !bdec)
		return -1;
	for (size_t i = 0; i < acc.n && nblk < cap;) {
		size_t j = i;
		while (j < acc.n && acc.t[j] < acc.t[i] + 1.0)
			j++;
		size_t a0 = i, a1 = j;
		while (a0 > 0 && acc.t[a0 - 1] >= acc.t[i] - LOCAL_WINDOW_S)
			a0--;
		while (a1 < acc.n && acc.t[a1] < acc.t[i] + LOCAL_WINDOW_S)
			a1++;
		blk[nblk] = i;
		bok[nblk] =
		    pca && pca_axis(&acc, wz, v, a0, a1, &bang[nblk], &bturn_ang[nblk], &bturn_corr[nblk]);
		nblk++;
		i = j;
	}
	blk[nblk] = acc.n;
	/*
	 * Which direction is forward: where the turns in the window say so
	 * clearly (TURN_CORR_MIN), their best of the four directions along
	 * and across the principal axis (the axis can be the lateral one in a
	 * window full of curves); elsewhere the one of the two ends of the
	 * axis closest to the previous block's forward (the offset drifts
	 * slowly), going forward in time from the first decided block and
	 * backward before it. No decided block at all: the whole-trip
	 * calibration's forward decides.
	 */
	size_t first = nblk;
	for (size_t b = 0; b < nblk; b++) {
		if (bok[b] && bturn_corr[b] >= TURN_CORR_MIN) {
			bang[b] = bturn_ang[b];
			bdec[b] = 1;
			if (first == nblk)
				first = b;
		} else {
			bdec[b] = 0;
		}
	}
	double glob = atan2(cal.R[0][1], cal.R[0][0]), prev = first < nblk ? bang[first] : glob;
	int local_used = 0;
	for (size_t k = 0; k < nblk; k++) {
		/* forward from `first`, then backward from it */
		size_t b = first + k < nblk ? first + k : (first < nblk ? first - (first + k - nblk) - 1 : k);
		if (first + k == nblk)
			prev = first < nblk ? bang[first] : glob;
		if (!bok[b])
			continue;
		local_used++;
		if (!bdec[b]) {
			double a = bang[b];
			if (fabs(wrap_pi(a + M_PI - prev)) < fabs(wrap_pi(a - prev)))
				a += M_PI;
			bang[b] = a;
		}
		prev = bang[b];
	}
	for (size_t b = 0, last = nblk; b < nblk; b++) {
		if (bok[b])
			last = b;
		size_t use = last;
		if (use == nblk) /* before the first well-defined block: the next one */
			for (size_t k = b; k < nblk && use == nblk; k++)
				if (bok[k])
					use = k;
		struct odo_calib pc = cal;
		if (use != nblk) {
			double fx = cos(bang[use]), fy = sin(bang[use]);
			double R[3][3] = {{fx, fy, 0}, {fy, -fx, 0}, {0, 0, -1}};
			memcpy(pc.R, R, sizeof(R));
		}
		for (size_t k = blk[b]; k < blk[b + 1]; k++)
			odo_calib_rotate(&pc, v[k], vv[k]);
	}
	int blocks = (int)nblk;
	free(blk);
	free(bang);
	free(bok);
	free(bdec);
	free(bturn_ang);
	free(bturn_corr);

	if (dump_dir) {
		snprintf(path, sizeof(path), "%s/%s.csv", dump_dir, trip);
		FILE *df = fopen(path, "w");
		if (df) {
			fprintf(df, "t,lon,lat,down,wz\n");
			for (size_t i = 0; i < acc.n; i++)
				fprintf(df, "%.4f,%.4f,%.4f,%.4f,%.5f\n", acc.t[i], vv[i][0], vv[i][1],
				        vv[i][2], wz[i]);
			fclose(df);
		}
	}
	/* pass 2: the engine with its default detectors; samples already in the vehicle frame */
	struct odo_engine_cfg cfg = engine_cfg;
	/* samples are in the vehicle frame already: the identity mounting */
	static const double identity[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
	if (odo_calib_cfg_set_matrix(&cfg.calib, identity) != ODO_OK)
		return -1;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	struct collect *col = calloc(1, sizeof(*col));
	struct odo_engine *e;
	if (!col || odo_engine_open(&cfg, &clk, NULL, on_record, col, NULL, &e)) {
		fprintf(stderr, "odo-accuracy: engine open failed\n");
		return -1;
	}
	struct odo_sink sink = odo_engine_sink(e);
	for (size_t i = 0; i < acc.n; i++) {
		int64_t ns = (int64_t)(acc.t[i] * 1e9);
		if (ns > odo_clock_mono_ns(&clk))
			odo_clock_advance(&clk, ns - odo_clock_mono_ns(&clk));
		struct odo_accel_sample s = {
		    .mono_ns = ns, .x = (float)vv[i][0], .y = (float)vv[i][1], .z = (float)vv[i][2]};
		sink.accel(sink.ctx, &s);
	}
	odo_engine_finish(e);
	odo_engine_close(e);

	printf("# %s: %zu accel samples, %.0f s, gyro bias %+.4f rad/s, mounting: forward at %.1f deg, "
	       "confidence %.2f; local frames %d/%d s\n",
	       trip, acc.n, acc.t[acc.n - 1] - acc.t[0], best_bias, fwd_deg, cal.confidence, local_used,
	       blocks);
	/*
	 * Label-free evidence for each detection (a reading aid for the false
	 * positives: the trips hold manoeuvres nobody labelled): the
	 * horizontal specific force from the rotation-invariant |a| (mean
	 * sqrt(|a|^2 - g^2) over the event; no frame conversion involved) for
	 * brakes, accelerations and corners (a corner also needs a yaw rate
	 * its way), and for a swerve a yaw rate of both signs (the car turned
	 * one way, then back).
	 */
	double(*raw)[3] = malloc(acc.n * sizeof(*raw)), (*rm)[3] = malloc(acc.n * sizeof(*rm));
	double *rn = malloc(acc.n * sizeof(double)), g1 = ODO_G;
	if (!raw || !rm || !rn)
		return -1;
	for (size_t i = 0; i < acc.n; i++) {
		raw[i][0] = acc.x[i];
		raw[i][1] = acc.y[i];
		raw[i][2] = acc.z[i];
	}
	if (smooth_norm(acc.t, raw, acc.n, rm, rn, &g1))
		return -1;
	const double thr_g[K__N] = {cfg.detect.brake.thr_g[0], cfg.detect.accel.thr_g[0], cfg.detect.corner.thr_g[0],
	                            cfg.detect.corner.thr_g[0], cfg.detect.swerve.thr_g[0], 0};
	for (int i = 0; i < col->n; i++) {
		const struct ival *dv = &col->det[i];
		int hit = 0;
		for (int j = 0; j < nlab; j++)
			hit |= lab[j].kind == dv->kind && overlaps(&lab[j], dv);
		double hsum = 0, wsum = 0, wmax = -1e9, wmin = 1e9;
		int hn = 0;
		for (size_t k = 0; k < acc.n; k++) {
			if (acc.t[k] >= dv->a && acc.t[k] <= dv->b) {
				hsum += sqrt(fmax(rn[k] * rn[k] - g1 * g1, 0));
				wsum += wz[k];
				hn++;
			}
			if (acc.t[k] >= dv->a - 0.5 && acc.t[k] <= dv->b + 0.5) {
				wmax = fmax(wmax, wz[k]);
				wmin = fmin(wmin, wz[k]);
			}
		}
		double h = hn ? hsum / hn / ODO_G : 0;
		int real = h >= EVIDENCE_FRAC * thr_g[dv->kind];
		if (dv->kind == K_SWERVE)
			real = wmax >= EVIDENCE_YAW && wmin <= -EVIDENCE_YAW;
		else if (dv->kind == K_RIGHT) /* and the car turned that way meanwhile */
			real = real && hn && wsum / hn <= -EVIDENCE_YAW;
		else if (dv->kind == K_LEFT)
			real = real && hn && wsum / hn >= EVIDENCE_YAW;
		printf(
		    "#   detected %-13s %7.2f-%7.2f s peak %+.2f g |a|: %.2f g, yaw %+.2f..%+.2f rad/s %s\n",
		    kind_name[dv->kind], dv->a, dv->b, col->peak[i], h, wmin, wmax,
		    hit    ? "match"
		    : real ? "FALSE POSITIVE (unlabelled, real by the evidence)"
		           : "FALSE POSITIVE");
		sc[dv->kind].ndet++;
		sc[dv->kind].tp_det += hit;
		sc[dv->kind].fp_real += !hit && real;
	}
	free(raw);
	free(rm);
	free(rn);

	/* per label: the strongest 0.5 s mean of the vehicle-frame acceleration (diagnostic) */
	for (int j = 0; j < nlab; j++) {
		double best = 0, blon = 0, blat = 0;
		for (size_t i = 0; i < acc.n; i++) {
			if (acc.t[i] < lab[j].a - 1 || acc.t[i] > lab[j].b + 1)
				continue;
			double sl = 0, st = 0;
			int n = 0;
			for (size_t k = i; k < acc.n && acc.t[k] < acc.t[i] + 0.5; k++, n++) {
				sl += vv[k][0];
				st += vv[k][1];
			}
			if (n && hypot(sl, st) / n > best) {
				best = hypot(sl, st) / n;
				blon = sl / n;
				blat = st / n;
			}
		}
		printf("#   label %-13s %7.2f-%7.2f s strongest 0.5 s: lon %+.2f g lat %+.2f g\n",
		       kind_name[lab[j].kind], lab[j].a, lab[j].b, blon / ODO_G, blat / ODO_G);
	}
	for (int j = 0; j < nlab; j++) {
		int hit = 0;
		for (int i = 0; i < col->n; i++)
			hit |= lab[j].kind == col->det[i].kind && overlaps(&lab[j], &col->det[i]);
		if (lab[j].kind == K_NEG) {
			int any = 0;
			for (int i = 0; i < col->n; i++)
				any |= overlaps(&lab[j], &col->det[i]);
			sc[K_NEG].nlab++;
			sc[K_NEG].tp_lab += !any; /* correctly left alone */
			if (any)
				printf("#   non-aggressive %7.2f-%7.2f s was flagged\n", lab[j].a, lab[j].b);
			continue;
		}
		if (!hit)
			printf("#   MISSED %-13s %7.2f-%7.2f s\n", kind_name[lab[j].kind], lab[j].a,
			       lab[j].b);
		sc[lab[j].kind].nlab++;
		sc[lab[j].kind].tp_lab += hit;
	}
	free(col);
	free(psi);
	free(v);
	free(vv);
	free(wz);
	free(acc.t);
	free(acc.x);
	free(acc.y);
	free(acc.z);
	free(gyr.t);
	free(gyr.x);
	free(gyr.y);
	free(gyr.z);
	return 0;
}

int main(int argc, char **argv)
{
	odo_engine_cfg_defaults(&engine_cfg);
	odo_engine_cfg_sections(&engine_cfg, engine_secs);
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "--global") == 0)
			pca = 0;
		else if (strcmp(argv[1], "--no-untilt") == 0)
			untilt_on = 0;
		else if (strcmp(argv[1], "--min-grade") == 0 && argc > 2) {
			min_grade = atoi(argv[2]);
			if (min_grade < 1 || min_grade > 3) {
				fprintf(stderr, "odo-accuracy: --min-grade takes 1, 2 or 3\n");
				return 2;
			}
			argv++;
			argc--;
		}
		else if (strcmp(argv[1], "--set") == 0 && argc > 2) {
			struct odo_cfg_error err;
			if (odo_config_set_arg(engine_secs, ODO_ENGINE_CFG_NSECTIONS, argv[2], &err)) {
				fprintf(stderr, "odo-accuracy: %s\n", err.msg);
				return 2;
			}
			argv++;
			argc--;
		} else if (strcmp(argv[1], "--dump") == 0 && argc > 2) {
			dump_dir = argv[2];
			argv++;
			argc--;
		} else
			break;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: odo-accuracy [--global] [--no-untilt] [--min-grade N] [--set SECTION.KEY=VALUE]... "
		                "[--dump DIR] DATASET_DIR [TRIP ...]\n");
		return 2;
	}
	const char *deftrips[] = {"trip17", "trip20"};
	const char **trips = argc > 2 ? (const char **)argv + 2 : deftrips;
	int ntrips = argc > 2 ? argc - 2 : 2;
	struct score sc[K__N];
	memset(sc, 0, sizeof(sc));
	for (int i = 0; i < ntrips && i < MAX_TRIPS; i++)
		if (run_trip(argv[1], trips[i], sc))
			return 1;
	printf("| kind | labelled | detected | precision | recall | F1 | false positives with evidence of a "
	       "real "
	       "manoeuvre | precision if those counted |\n|---|---|---|---|---|---|---|---|\n");
	for (int k = 0; k < K_NEG; k++) {
		double p = sc[k].ndet ? (double)sc[k].tp_det / sc[k].ndet : NAN;
		double r = sc[k].nlab ? (double)sc[k].tp_lab / sc[k].nlab : NAN;
		double f = (p + r > 0) ? 2 * p * r / (p + r) : 0;
		printf("| %s | %d | %d | %.2f | %.2f | %.2f | %d | %.2f |\n", kind_name[k], sc[k].nlab,
		       sc[k].ndet, p, r, f, sc[k].fp_real,
		       sc[k].ndet ? (double)(sc[k].tp_det + sc[k].fp_real) / sc[k].ndet : NAN);
	}
	printf("| non_aggressive (negatives left alone) | %d | - | - | %d/%d | - | - | - |\n", sc[K_NEG].nlab,
	       sc[K_NEG].tp_lab, sc[K_NEG].nlab);
	return 0;
}
