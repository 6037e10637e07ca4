/*
 * odo-accuracy — replay the labelled real trips of the Driver Behavior
 * Dataset (Ferreira Jr. et al., PLoS ONE 12(4), 2017) through the engine's
 * detectors with their default configuration and score them per event kind
 * by interval overlap. Usage: odo-accuracy DATASET_DIR [TRIP ...]
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
#define LOCAL_WINDOW_S    30.0   /* re-anchoring window of the converter */
#define GYRO_BIAS_MAX     0.03   /* rad/s searched either side of zero */
#define GYRO_BIAS_STEP    0.0005 /* intervals closer than this count as overlapping */

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

static int on_record(void *ctx, struct odo_record *r)
{
	struct collect *c = ctx;
	if (r->kind != ODO_REC_EVENT || c->n >= MAX_DETS)
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
			odo_calib_reference(cal, (int64_t)(acc->t[i] * 1e9), NAN, -NOMINAL_SPEED_MPS * w, 0);
			next += REF_PERIOD_S;
		}
		odo_calib_accel(cal, (int64_t)(acc->t[i] * 1e9), v[i]);
	}
}

static void calibrate(const struct series *acc, const struct series *gyr, double bias, double *psi,
                      double (*v)[3], struct odo_calib *cal)
{
	to_car_frame(acc, gyr, bias, psi, v);
	calib_range(acc, gyr, bias, v, 0, acc->n, cal);
}

static int reanchor; /* --reanchor: local frames (see run_trip) */
static int pca =
    1; /* local forward axis from the principal axis of straight-line acceleration (--global: off) */

#define PCA_MAX_YAW   0.05 /* rad/s: "driving straight" */
#define PCA_MIN_ANISO 2.0  /* principal/minor variance ratio needed to trust the axis */

/*
 * Forward axis over samples [a0, a1): the principal axis of the horizontal
 * acceleration (0.1 s means) while not turning, its sign from the turns
 * in the window (below). Driving straight, the horizontal
 * acceleration is longitudinal (speeding up, slowing down); lateral
 * acceleration needs a yaw rate. Returns 1 and fills *out when the axis is
 * well defined.
 */
static int pca_frame(const struct series *acc, const double *wz, double (*v)[3], size_t a0, size_t a1,
                     const struct odo_calib *glob, struct odo_calib *out)
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
	double phi = 0.5 * atan2(2 * sxy, sxx - syy);
	double fx = cos(phi), fy = sin(phi);
	/*
	 * Which way is forward: the right axis (fy, -fx) must correlate
	 * positively with the centripetal reference -w (turning right, w < 0,
	 * pushes to the right). The turns in the window decide; without enough
	 * turning the whole-trip calibration does.
	 */
	double c = 0, cw = 0;
	for (size_t i = a0; i < a1; i++) {
		double lat = fy * v[i][0] - fx * v[i][1];
		c += lat * -wz[i];
		cw += fabs(wz[i]);
	}
	int sign_from_turns = cw / (double)(a1 - a0) > PCA_MAX_YAW / 2;
	if (sign_from_turns ? c < 0 : fx * glob->R[0][0] + fy * glob->R[0][1] < 0) {
		fx = -fx;
		fy = -fy;
	}
	*out = *glob;
	double R[3][3] = {{fx, fy, 0}, {fy, -fx, 0}, {0, 0, -1}};
	memcpy(out->R, R, sizeof(R));
	return 1;
}

struct score {
	int tp_det, ndet, tp_lab, nlab;
	int fp_other; /* false positives inside another kind's aggressive label */
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
	 * pass 1: gyro bias and mounting. The phone's z-gyro bias makes the
	 * integrated heading drift, which smears the (constant) mounting angle;
	 * the bias is chosen as the one under which the horizontal acceleration
	 * correlates best with the centripetal reference (a 1-D search), and
	 * the mounting is the calibration module's estimate under that bias.
	 */
	struct odo_calib cal;
	double best_fit = -1, best_bias = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (double bias = -GYRO_BIAS_MAX; bias <= GYRO_BIAS_MAX + 1e-12; bias += GYRO_BIAS_STEP) {
			double b = pass ? best_bias : bias;
			calibrate(&acc, &gyr, b, psi, v, &cal);
			if (pass)
				break;
			if (cal.confidence > best_fit) {
				best_fit = cal.confidence;
				best_bias = bias;
			}
		}
	}
	if (!cal.ready) {
		fprintf(stderr, "odo-accuracy: %s: mounting calibration did not converge (confidence %.2f)\n",
		        trip, cal.confidence);
		return -1;
	}
	double fwd_deg = atan2(cal.R[0][1], cal.R[0][0]) * 180 / M_PI;

	/*
	 * The integrated heading still drifts slowly (the bias is not quite
	 * constant), which a real, car-fixed sensor does not. With --reanchor
	 * the converter re-anchors the frame locally (an experiment: it did not
	 * help on these trips, see docs/accuracy.md), taking each second's rotation from the
	 * calibration module run over the references within +-LOCAL_WINDOW_S
	 * (the whole-trip estimate where a window lacks turns).
	 */
	double(*vv)[3] = malloc(acc.n * sizeof(*vv));
	double *wz = malloc(acc.n * sizeof(double));
	if (!vv || !wz)
		return -1;
	for (size_t i = 0, g = 0; i < acc.n; i++) {
		while (g + 1 < gyr.n && gyr.t[g + 1] <= acc.t[i])
			g++;
		wz[i] = gyr.z[g] - best_bias;
	}
	int local_used = 0, blocks = 0;
	for (size_t i = 0; i < acc.n;) {
		size_t j = i;
		while (j < acc.n && acc.t[j] < acc.t[i] + 1.0)
			j++;
		size_t a0 = i, a1 = j;
		while (a0 > 0 && acc.t[a0 - 1] >= acc.t[i] - LOCAL_WINDOW_S)
			a0--;
		while (a1 < acc.n && acc.t[a1] < acc.t[i] + LOCAL_WINDOW_S)
			a1++;
		struct odo_calib loc;
		loc.ready = 0;
		if (reanchor)
			calib_range(&acc, &gyr, best_bias, v, a0, a1, &loc);
		const struct odo_calib *use = (reanchor && loc.ready) ? &loc : &cal;
		local_used += loc.ready;
		blocks++;
		struct odo_calib pc;
		if (pca && pca_frame(&acc, wz, v, a0, a1, &cal, &pc)) {
			use = &pc;
			local_used++;
		}
		for (size_t k = i; k < j; k++)
			odo_calib_rotate(use, v[k], vv[k]);
		i = j;
	}

	/* pass 2: the engine with its default detectors; samples already in the vehicle frame */
	struct odo_engine_cfg cfg;
	odo_engine_cfg_defaults(&cfg);
	strcpy(cfg.calib.matrix, "1 0 0 0 1 0 0 0 1");
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
	for (int i = 0; i < col->n; i++) {
		int hit = 0;
		for (int j = 0; j < nlab; j++)
			hit |= lab[j].kind == col->det[i].kind && overlaps(&lab[j], &col->det[i]);
		printf("#   detected %-13s %7.2f-%7.2f s peak %+.2f g %s\n", kind_name[col->det[i].kind],
		       col->det[i].a, col->det[i].b, col->peak[i], hit ? "match" : "FALSE POSITIVE");
		sc[col->det[i].kind].ndet++;
		sc[col->det[i].kind].tp_det += hit;
		if (!hit) {
			int other = 0;
			for (int j = 0; j < nlab; j++)
				other |= lab[j].kind != K_NEG && overlaps(&lab[j], &col->det[i]);
			sc[col->det[i].kind].fp_other += other;
		}
	}
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
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "--reanchor") == 0)
			reanchor = 1;
		else if (strcmp(argv[1], "--global") == 0)
			pca = 0;
		else
			break;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: odo-accuracy [--global | --reanchor] DATASET_DIR [TRIP ...]\n");
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
	printf("| kind | labelled | detected | precision | recall | F1 | FP inside other labelled manoeuvres "
	       "| precision without those |\n|---|---|---|---|---|---|---|---|\n");
	for (int k = 0; k < K_NEG; k++) {
		double p = sc[k].ndet ? (double)sc[k].tp_det / sc[k].ndet : NAN;
		double r = sc[k].nlab ? (double)sc[k].tp_lab / sc[k].nlab : NAN;
		double f = (p + r > 0) ? 2 * p * r / (p + r) : 0;
		int nd = sc[k].ndet - sc[k].fp_other;
		printf("| %s | %d | %d | %.2f | %.2f | %.2f | %d | %.2f |\n", kind_name[k], sc[k].nlab,
		       sc[k].ndet, p, r, f, sc[k].fp_other, nd ? (double)sc[k].tp_det / nd : NAN);
	}
	printf("| non_aggressive (negatives left alone) | %d | - | - | %d/%d | - | - | - |\n", sc[K_NEG].nlab,
	       sc[K_NEG].tp_lab, sc[K_NEG].nlab);
	return 0;
}
