/* odo-agent calibration — the IMU ring, the reference spans and the GPS-lag
 * bank (calib.h, docs/detection.md "Mounting calibration"). */
#include <math.h>
#include <string.h>

#include "calib/calib_int.h"
#include "odo/geo.h"

#define SPAN_GAP_NS 3000000000LL   /* a span longer than 3 s (a gap in the reports) is dropped */
#define SPAN_TOL_NS 50000000LL     /* a span closes at ref_span_s minus this (report jitter) */
#define STILL_MPS 0.1              /* both ends below: still */
#define GRAV_TAU_S 60.0            /* the raw mean that stands for gravity in the lag score */
#define GBIAS_TAU_S 30.0           /* gyro bias: mean of still spans */
#define LAG_MIN_SPANS 100          /* moving spans before the lag is estimated */
#define LAG_MIN_GAIN 0.02          /* the best lag must beat lag 0 by this much */

static int64_t slot_of(int64_t ns)
{
	return ns >= 0 ? ns / CALIB_SLOT_NS : -((-ns + CALIB_SLOT_NS - 1) / CALIB_SLOT_NS);
}

static unsigned ring_idx(int64_t k)
{
	int64_t m = k % ODO_CALIB_RING;
	return (unsigned)(m < 0 ? m + ODO_CALIB_RING : m);
}

/* The newest slot is complete: fold it into the slow gravity mean. */
static void grav_update(struct odo_calib *c, unsigned i)
{
	if (!c->ring_n[i])
		return;
	double m[3];
	for (int k = 0; k < 3; k++)
		m[k] = c->ring_a[i][k] / c->ring_n[i];
	if (!c->have_grav) {
		memcpy(c->grav_ema, m, sizeof(m));
		c->have_grav = 1;
		return;
	}
	double al = (double)CALIB_SLOT_NS / 1e9 / GRAV_TAU_S;
	for (int k = 0; k < 3; k++)
		c->grav_ema[k] += al * (m[k] - c->grav_ema[k]);
}

void odo_calib_accel(struct odo_calib *c, int64_t mono_ns, const double a[3], const double *w)
{
	if (!isfinite(a[0]) || !isfinite(a[1]) || !isfinite(a[2]))
		return;
	int64_t k = slot_of(mono_ns);
	if (c->ring_slot == INT64_MIN || k > c->ring_slot) {
		int64_t from = c->ring_slot == INT64_MIN ? k : c->ring_slot + 1;
		if (c->ring_slot != INT64_MIN)
			grav_update(c, ring_idx(c->ring_slot));
		if (k - from >= ODO_CALIB_RING)
			from = k - ODO_CALIB_RING + 1;
		for (int64_t j = from; j <= k; j++) {
			unsigned i = ring_idx(j);
			memset(c->ring_a[i], 0, sizeof(c->ring_a[i]));
			memset(c->ring_w[i], 0, sizeof(c->ring_w[i]));
			c->ring_n[i] = c->ring_nw[i] = 0;
		}
		c->ring_slot = k;
	} else if (k <= c->ring_slot - ODO_CALIB_RING) {
		return; /* older than the ring */
	}
	unsigned i = ring_idx(k);
	for (int j = 0; j < 3; j++)
		c->ring_a[i][j] += a[j];
	c->ring_n[i]++;
	if (w && isfinite(w[0]) && isfinite(w[1]) && isfinite(w[2])) {
		for (int j = 0; j < 3; j++)
			c->ring_w[i][j] += w[j];
		c->ring_nw[i]++;
		c->have_gyro = 1;
	}
}

uint32_t calib__ring_mean(const struct odo_calib *c, int64_t k1, int64_t k2, double a[3], double w[3],
                          uint32_t *nw)
{
	uint32_t n = 0;
	*nw = 0;
	double sa[3] = {0, 0, 0}, sw[3] = {0, 0, 0};
	if (c->ring_slot == INT64_MIN)
		return 0;
	if (k1 <= c->ring_slot - ODO_CALIB_RING)
		return 0; /* the window's start has left the ring */
	for (int64_t k = k1; k < k2 && k <= c->ring_slot; k++) {
		unsigned i = ring_idx(k);
		for (int j = 0; j < 3; j++) {
			sa[j] += c->ring_a[i][j];
			sw[j] += c->ring_w[i][j];
		}
		n += c->ring_n[i];
		*nw += c->ring_nw[i];
	}
	for (int j = 0; j < 3; j++) {
		a[j] = n ? sa[j] / n : 0;
		w[j] = *nw ? sw[j] / *nw : 0;
	}
	return n;
}

/* The lag index with the best score for source src, or the configured one
 * while the evidence is thin. */
static int choose_lag(const struct odo_calib *c, int src)
{
	int def = (int)lround(c->cfg.gps_lag_s / ODO_CALIB_LAG_STEP_S);
	if (def < 0)
		def = 0;
	if (def >= ODO_CALIB_NLAG)
		def = ODO_CALIB_NLAG - 1;
	/* the gyroscope's score where there is one (no gravity involved) */
	const struct odo_calib_corr *sc = c->gscore[src];
	if (sc[0].n < LAG_MIN_SPANS)
		sc = c->lagscore[src];
	if (sc[0].n < LAG_MIN_SPANS)
		return def;
	int best = 0;
	double bv = calib__corr(&sc[0]);
	for (int l = 1; l < ODO_CALIB_NLAG; l++) {
		double v = calib__corr(&sc[l]);
		if (v > bv) {
			bv = v;
			best = l;
		}
	}
	return bv - calib__corr(&sc[0]) >= LAG_MIN_GAIN ? best : def;
}

void odo_calib_reference(struct odo_calib *c, int src, int64_t t1, int64_t t2, double lon, double lat,
                         double rate, int still)
{
	if (src < 0 || src >= ODO_CALIB_NSRC || t2 <= t1)
		return;
	int lon_ok = isfinite(lon), lat_ok = isfinite(lat);
	if (!lon_ok && !lat_ok && !still)
		return; /* no reference for this span */
	double span_s = (double)(t2 - t1) / 1e9;
	int quiet = still || ((!lon_ok || fabs(lon) < c->cfg.quiet_mps2) && (!lat_ok || fabs(lat) < c->cfg.quiet_mps2));
	double L = still || !lon_ok ? 0 : lon, T = still || !lat_ok ? 0 : lat;
	double ref = hypot(L, T);
	double a_l[ODO_CALIB_NLAG][3], w_l[ODO_CALIB_NLAG][3];
	uint32_t n_l[ODO_CALIB_NLAG], nw_l[ODO_CALIB_NLAG];
	for (int l = 0; l < ODO_CALIB_NLAG; l++) {
		int64_t lag = (int64_t)l * (int64_t)(ODO_CALIB_LAG_STEP_S * 1e9 + 0.5);
		n_l[l] = calib__ring_mean(c, slot_of(t1 - lag), slot_of(t2 - lag), a_l[l], w_l[l], &nw_l[l]);
	}
	if (!n_l[0] && !n_l[c->lag[src]])
		return; /* no IMU samples over the span */
	c->spans++;
	/* gyroscope bias: the mean rate while still */
	if (still && nw_l[0]) {
		double al = c->gbias_n ? fmin(1, span_s / GBIAS_TAU_S) : 1;
		for (int j = 0; j < 3; j++)
			c->gbias[j] += al * (w_l[0][j] - c->gbias[j]);
		c->gbias_n++;
	}
	if (!c->fixed) {
		for (int l = 0; l < ODO_CALIB_NLAG; l++) {
			if (!n_l[l])
				continue;
			calib__sums_add(&c->bank[src][l], a_l[l], L, T, quiet);
			if (still)
				continue;
			if (c->have_grav) {
				double d[3] = {a_l[l][0] - c->grav_ema[0], a_l[l][1] - c->grav_ema[1],
				               a_l[l][2] - c->grav_ema[2]};
				calib__corr_add(&c->lagscore[src][l], sqrt(calib__dot(d, d)), ref);
			}
			if (nw_l[l] && isfinite(rate)) {
				/* the regression w = bias + k rate has its own intercept: no
				 * still period is needed; the score uses the still bias */
				const double *w = w_l[l];
				struct odo_calib_gsums *g = &c->gbank[src][l];
				g->n++;
				for (int j = 0; j < 3; j++) {
					g->s_w[j] += w[j];
					g->s_wr[j] += w[j] * rate;
				}
				g->s_r += rate;
				g->s_rr += rate * rate;
				g->s_ww += calib__dot(w, w);
				g->s_rr_dt += rate * rate * span_s;
				double wb[3] = {w[0] - c->gbias[0], w[1] - c->gbias[1], w[2] - c->gbias[2]};
				calib__corr_add(&c->gscore[src][l], sqrt(calib__dot(wb, wb)), fabs(rate));
			}
		}
		c->lag[src] = choose_lag(c, src);
	}
	int l = c->lag[src];
	if (!n_l[l])
		l = 0;
	calib__after_reference(c, a_l[l], still ? 0 : (lon_ok ? lon : NAN), still ? 0 : (lat_ok ? lat : NAN), still,
	                       span_s);
}

void odo_calib_speed(struct odo_calib *c, int src, int64_t ns, double v, double trk)
{
	if (src < 0 || src >= ODO_CALIB_NSRC || !isfinite(v))
		return;
	for (int s = 0; s < ODO_CALIB_NSRC; s++)
		if (s != src)
			c->span[s].have = 0; /* another source took over: its span restarts */
	struct odo_calib_span *sp = &c->span[src];
	if (!sp->have || ns <= sp->tlast || ns - sp->tlast > SPAN_GAP_NS || ns - sp->t0 > SPAN_GAP_NS) {
		sp->have = 1;
		sp->t0 = sp->tlast = ns;
		sp->v0 = v;
		sp->trk0 = trk;
		return;
	}
	sp->tlast = ns;
	if ((double)(ns - sp->t0) < c->cfg.ref_span_s * 1e9 - SPAN_TOL_NS)
		return;
	double dt = (double)(ns - sp->t0) / 1e9;
	double lon = (v - sp->v0) / dt, vm = (v + sp->v0) / 2, lat = NAN, rate = NAN;
	if (isfinite(trk) && isfinite(sp->trk0) && vm >= c->cfg.min_lat_speed_mps) {
		rate = odo_geo_heading_diff_deg(sp->trk0, trk) * M_PI / 180 / dt;
		lat = vm * rate;
	}
	int still = v < STILL_MPS && sp->v0 < STILL_MPS;
	odo_calib_reference(c, src, sp->t0, ns, lon, lat, rate, still);
	sp->t0 = ns;
	sp->v0 = v;
	sp->trk0 = trk;
}

double odo_calib_lag_s(const struct odo_calib *c, int src)
{
	if (src < 0 || src >= ODO_CALIB_NSRC)
		return NAN;
	return c->lag[src] * ODO_CALIB_LAG_STEP_S;
}
