/* odo-agent calibration — the state file and the printed mount (calib.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_int.h"
#include "odo/err.h"

#define NSUMS (sizeof(struct odo_calib_sums) / sizeof(double))
#define LINE_MAX_LEN 1024

static const char *const state_name[] = {"learning", "ready", "re-learning"};

int odo_calib_save(const struct odo_calib *c, const char *path)
{
	char tmp[512];
	if (!path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return ODO_ERR_INVAL;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return ODO_ERR_IO;
	/* the statistics of every run so far at the lags in use */
	struct odo_calib_sums s = c->base;
	for (int k = 0; k < ODO_CALIB_NSRC; k++)
		calib__sums_axpy(&s, 1, &c->bank[k][c->lag[k]]);
	fprintf(f, "odo-calib 2\nstate %d\nconfidence %.6f\nsigma_deg %.6g\nready_s %.3f\nlearn_s %.3f\n"
	           "remounts %u\nlag_s %.1f %.1f\nR",
	        c->state, c->confidence, isfinite(c->sigma_deg) ? c->sigma_deg : -1.0,
	        isfinite(c->ready_s) ? c->ready_s : -1.0, c->learn_s, c->remounts, odo_calib_lag_s(c, 0),
	        odo_calib_lag_s(c, 1));
	/* the mount in use; while learning, the latest estimate (or none yet) */
	static const double I[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
	const double(*R)[3] = c->state == ODO_CAL_READY ? c->R : c->est.ok ? c->est.R : I;
	for (int k = 0; k < 9; k++)
		fprintf(f, " %.9f", R[k / 3][k % 3]);
	fprintf(f, "\ng %.6f %.6f %.6f\n", c->g_ref[0], c->g_ref[1], c->g_ref[2]);
	fprintf(f, "gyro %d %.6g %.6g %.6g %.6f %.6f %.6f %.4f\n", c->gyro_state, c->gbias[0], c->gbias[1],
	        c->gbias[2], c->gaxis[0], c->gaxis[1], c->gaxis[2], c->gaxis_se_deg);
	fprintf(f, "sums");
	const double *p = (const double *)&s;
	for (size_t i = 0; i < NSUMS; i++)
		fprintf(f, " %.17g", p[i]);
	fprintf(f, "\n");
	int bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path)) {
		remove(tmp);
		return ODO_ERR_IO;
	}
	return ODO_OK;
}

/* Read n doubles from p; 0 on success. */
static int doubles(const char *p, double *out, int n)
{
	for (int i = 0; i < n; i++) {
		char *end;
		out[i] = strtod(p, &end);
		if (end == p || !isfinite(out[i]))
			return -1;
		p = end;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return *p ? -1 : 0;
}

/* Version 1: "odo-calib 1 ready R confidence remounts R... g ..." */
static int load_v1(struct odo_calib *c, FILE *f, int *line)
{
	int ver = 0, ready = 0;
	unsigned rm = 0;
	double conf = 0, R[3][3], g[3];
	rewind(f);
	int n = fscanf(f,
	               "odo-calib %d ready %d confidence %lf remounts %u R %lf %lf %lf %lf %lf %lf %lf %lf "
	               "%lf g %lf %lf %lf",
	               &ver, &ready, &conf, &rm, &R[0][0], &R[0][1], &R[0][2], &R[1][0], &R[1][1], &R[1][2],
	               &R[2][0], &R[2][1], &R[2][2], &g[0], &g[1], &g[2]);
	if (n != 16 || ver != 1 || !calib__is_rotation(R) || !(conf >= 0 && conf <= 1)) {
		*line = 1;
		return ODO_ERR_PROTOCOL;
	}
	if (c->fixed)
		return ODO_OK;
	memcpy(c->R, R, sizeof(R));
	memcpy(c->g_ref, g, sizeof(g));
	c->state = ready ? ODO_CAL_READY : ODO_CAL_LEARNING;
	c->ready = c->state == ODO_CAL_READY;
	c->confidence = conf;
	c->remounts = rm;
	c->verify_left = c->ready ? 4 : 0;
	return ODO_OK;
}

int odo_calib_load(struct odo_calib *c, const char *path, int *line)
{
	int dummy;
	if (!line)
		line = &dummy;
	*line = 0;
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f)
		return ODO_ERR_NOTFOUND;
	char buf[LINE_MAX_LEN];
	int ver = 0;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "odo-calib %d", &ver) != 1) {
		fclose(f);
		*line = 1;
		return ODO_ERR_PROTOCOL;
	}
	if (ver == 1) {
		int rc = load_v1(c, f, line);
		fclose(f);
		return rc;
	}
	if (ver != 2) {
		fclose(f);
		*line = 1;
		return ODO_ERR_PROTOCOL;
	}
	struct odo_calib n = *c;
	double R[9] = {0}, g[3] = {0}, sums[NSUMS], v[8], lag[2];
	int seen = 0, ln = 1, rc = ODO_OK;
	while (fgets(buf, sizeof(buf), f)) {
		ln++;
		char key[16];
		int off = 0;
		if (sscanf(buf, "%15s %n", key, &off) != 1)
			continue;
		const char *p = buf + off;
		int ok = 0;
		if (!strcmp(key, "state") && !doubles(p, v, 1) && v[0] >= 0 && v[0] <= 2)
			n.state = (int)v[0], ok = 1, seen |= 1;
		else if (!strcmp(key, "confidence") && !doubles(p, v, 1) && v[0] >= 0 && v[0] <= 1)
			n.confidence = v[0], ok = 1;
		else if (!strcmp(key, "sigma_deg") && !doubles(p, v, 1))
			n.sigma_deg = v[0] < 0 ? NAN : v[0], ok = 1;
		else if (!strcmp(key, "ready_s") && !doubles(p, v, 1))
			n.ready_s = v[0] < 0 ? NAN : v[0], ok = 1;
		else if (!strcmp(key, "learn_s") && !doubles(p, v, 1) && v[0] >= 0)
			n.learn_s = v[0], ok = 1;
		else if (!strcmp(key, "remounts") && !doubles(p, v, 1) && v[0] >= 0)
			n.remounts = (uint32_t)v[0], ok = 1;
		else if (!strcmp(key, "lag_s") && !doubles(p, lag, 2) && lag[0] >= 0 && lag[0] <= 2 && lag[1] >= 0 &&
		         lag[1] <= 2)
			ok = 1, seen |= 2;
		else if (!strcmp(key, "R") && !doubles(p, R, 9))
			ok = 1, seen |= 4;
		else if (!strcmp(key, "g") && !doubles(p, g, 3))
			ok = 1, seen |= 8;
		else if (!strcmp(key, "gyro") && !doubles(p, v, 8) && v[0] >= 0 && v[0] <= 2)
			ok = 1, seen |= 16;
		else if (!strcmp(key, "sums") && !doubles(p, sums, (int)NSUMS) && sums[0] >= 0)
			ok = 1, seen |= 32;
		if (!ok) {
			*line = ln;
			rc = ODO_ERR_PROTOCOL;
			break;
		}
		if (!strcmp(key, "gyro")) {
			n.gyro_state = (int)v[0];
			memcpy(n.gbias, v + 1, 3 * sizeof(double));
			memcpy(n.gaxis, v + 4, 3 * sizeof(double));
			n.gaxis_se_deg = v[7];
			n.gbias_n = n.gyro_state != ODO_GYRO_NONE;
		}
	}
	fclose(f);
	double RR[3][3];
	memcpy(RR, R, sizeof(RR));
	if (rc == ODO_OK && (seen != 63 || !calib__is_rotation(RR))) {
		*line = ln;
		rc = ODO_ERR_PROTOCOL;
	}
	if (rc != ODO_OK)
		return rc;
	if (c->fixed)
		return ODO_OK; /* the configured matrix wins */
	memcpy(n.R, RR, sizeof(RR));
	memcpy(n.g_ref, g, sizeof(g));
	memcpy(&n.base, sums, sizeof(n.base));
	for (int s = 0; s < ODO_CALIB_NSRC; s++)
		n.lag[s] = (int)lround(lag[s] / ODO_CALIB_LAG_STEP_S);
	n.ready = n.state == ODO_CAL_READY;
	/* the first hard references of this run must agree with it */
	n.verify_left = n.ready ? 4 : 0;
	n.verify_against = 0;
	*c = n;
	return ODO_OK;
}

void odo_calib_print(const struct odo_calib *c, FILE *f)
{
	double roll, pitch, yaw;
	odo_calib_euler(c->R, &roll, &pitch, &yaw);
	fprintf(f, "state        %s%s\n", state_name[c->state < 0 || c->state > 2 ? 0 : c->state],
	        c->fixed ? " (configured matrix)" : "");
	if (isfinite(c->sigma_deg))
		fprintf(f, "confidence   %.2f (standard error %.1f deg)\n", c->confidence, c->sigma_deg);
	else
		fprintf(f, "confidence   %.2f\n", c->confidence);
	fprintf(f, "mount        roll %.1f  pitch %.1f  yaw %.1f deg\n", roll, pitch, yaw);
	fprintf(f, "matrix       forward %8.5f %8.5f %8.5f\n             right   %8.5f %8.5f %8.5f\n"
	           "             down    %8.5f %8.5f %8.5f   (rows in sensor axes)\n",
	        c->R[0][0], c->R[0][1], c->R[0][2], c->R[1][0], c->R[1][1], c->R[1][2], c->R[2][0], c->R[2][1],
	        c->R[2][2]);
	if (isfinite(c->ready_s))
		fprintf(f, "time to ready %.0f s of driving\n", c->ready_s);
	fprintf(f, "remounts     %u\n", c->remounts);
	fprintf(f, "gps lag      %.1f s\n", odo_calib_lag_s(c, 0));
	static const char *const gyro[] = {"none", "learning its axis", "yaw axis established"};
	fprintf(f, "gyroscope    %s", gyro[c->gyro_state < 0 || c->gyro_state > 2 ? 0 : c->gyro_state]);
	if (c->gyro_state == ODO_GYRO_ESTABLISHED)
		fprintf(f, " (%.3f %.3f %.3f, standard error %.1f deg)", c->gaxis[0], c->gaxis[1], c->gaxis[2],
		        c->gaxis_se_deg);
	fprintf(f, "\n");
	/* in words: which sensor axis points forward, and which way up it is */
	static const char *const ax[] = {"x", "y", "z"};
	int k = 0;
	for (int i = 1; i < 3; i++)
		if (fabs(c->R[0][i]) > fabs(c->R[0][k]))
			k = i;
	double off = acos(fmin(1, fabs(c->R[0][k]))) * 180 / M_PI;
	fprintf(f, "in words     sensor %s points %s", ax[k], c->R[0][k] >= 0 ? "forward" : "backward");
	if (off >= 1)
		fprintf(f, " (%.0f deg off)", off);
	int u = 0;
	for (int i = 1; i < 3; i++)
		if (fabs(c->R[2][i]) > fabs(c->R[2][u]))
			u = i;
	/* R[2] is down in sensor axes: a sensor axis with R[2][u] < 0 points up */
	fprintf(f, "; sensor %s points %s\n", ax[u], c->R[2][u] < 0 ? "up" : "down");
}
