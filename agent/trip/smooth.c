/* odo-agent — trip smoothness from a 10 Hz slot stream (see smooth.h). */
#include "trip/smooth.h"

#include <math.h>
#include <string.h>

#include "odo/geo.h"

#define GAP_SLOTS 5 /* a gap over 0.5 s restarts the stream */
#define DERIV_WIN_NS 1250000000LL /* the derivative spans the oldest report <= 1.25 s old ... */
#define DERIV_MIN_NS 500000000LL  /* ... and at least 0.5 s */
#define DERIV_STALE_NS 1500000000LL

static const struct odo_smooth_levels default_levels = {
    .brake = {0.25, 0.30, 0.45}, .accel = {0.20, 0.25, 0.35}, .corner = {0.30, 0.40, 0.50}};

void odo_smooth_init(struct odo_smooth *s, const struct odo_smooth_levels *lv)
{
	memset(s, 0, sizeof(*s));
	s->lv = lv ? *lv : default_levels;
	s->slot = INT64_MIN;
	/* exact discretisation of each first-order section for 0.1 s */
	s->alpha = 1 - exp(-(double)ODO_SMOOTH_SLOT_NS / 1e9 * 2 * M_PI * ODO_SMOOTH_LOWPASS_HZ);
}

void odo_smooth_begin(struct odo_smooth *s)
{
	s->counting = 1;
	s->n_lon = s->n_lat = s->n_lon_acc = s->n_lon_spd = 0;
	memset(s->k_lon, 0, sizeof(s->k_lon));
	memset(s->k_lat, 0, sizeof(s->k_lat));
	s->jerk_sum = 0;
	s->jerk_n = 0;
	memset(s->h_lon, 0, sizeof(s->h_lon));
	memset(s->h_lat, 0, sizeof(s->h_lat));
}

void odo_smooth_end(struct odo_smooth *s)
{
	s->counting = 0;
}

/* One step of the 2-pole low-pass of axis i. */
static double lowpass(struct odo_smooth *s, int i, double x, int restart)
{
	if (restart) {
		s->f1[i] = s->f2[i] = x;
		return x;
	}
	s->f1[i] += s->alpha * (x - s->f1[i]);
	s->f2[i] += s->alpha * (s->f1[i] - s->f2[i]);
	return s->f2[i];
}

static unsigned bin(double g)
{
	double b = fabs(g) / ODO_SMOOTH_BIN_G;
	return b >= ODO_SMOOTH_BINS - 1 ? ODO_SMOOTH_BINS - 1 : (unsigned)b;
}

/* The speed derivative valid at slot end `ns` (NaN when none is fresh). */
static double speed_lon(const struct odo_smooth *s, int64_t ns)
{
	if (!s->dlon_ns || ns - s->dlon_ns > DERIV_STALE_NS)
		return NAN;
	return s->dlon;
}

/* Process slot k: acc = its accelerometer mean (NULL: none). */
static void slot_done(struct odo_smooth *s, int64_t k, const double *acc, int moving)
{
	int64_t end_ns = (k + 1) * ODO_SMOOTH_SLOT_NS;
	double lon = NAN, lat = NAN;
	int src = ODO_SMOOTH_NONE;
	if (acc) {
		src = ODO_SMOOTH_ACCEL;
		lon = lowpass(s, 0, acc[0], s->fsrc != ODO_SMOOTH_ACCEL);
		lat = lowpass(s, 1, acc[1], !s->lat_on);
		s->lat_on = 1;
	} else {
		s->lat_on = 0;
		double d = speed_lon(s, end_ns);
		if (isfinite(d)) {
			src = ODO_SMOOTH_SPEED;
			lon = lowpass(s, 0, d, s->fsrc != ODO_SMOOTH_SPEED);
		}
	}
	int jerk_ok = src == ODO_SMOOTH_ACCEL && s->fsrc == ODO_SMOOTH_ACCEL && s->prev_ok;
	s->fsrc = src;
	if (!(s->counting && moving)) {
		s->prev_ok = 0;
		return;
	}
	if (src != ODO_SMOOTH_NONE) {
		double g = lon / ODO_G;
		s->n_lon++;
		if (src == ODO_SMOOTH_ACCEL)
			s->n_lon_acc++;
		else
			s->n_lon_spd++;
		for (int j = 0; j < ODO_GRADES; j++)
			if (g <= -s->lv.brake[j] || g >= s->lv.accel[j])
				s->k_lon[j]++;
		s->h_lon[bin(g)]++;
	}
	if (src == ODO_SMOOTH_ACCEL) {
		double g = lat / ODO_G;
		s->n_lat++;
		for (int j = 0; j < ODO_GRADES; j++)
			if (fabs(g) >= s->lv.corner[j])
				s->k_lat[j]++;
		s->h_lat[bin(g)]++;
		if (jerk_ok) {
			s->jerk_sum += fabs(lon - s->prev_lon) / 0.1;
			s->jerk_n++;
		}
		s->prev_lon = lon;
		s->prev_ok = 1;
	} else {
		s->prev_ok = 0;
	}
}

/* Close the slots up to (not including) slot `upto`. */
static void close_slots(struct odo_smooth *s, int64_t upto, int moving)
{
	if (s->slot == INT64_MIN)
		return;
	while (s->slot < upto) {
		const double *acc = NULL;
		if (s->n) {
			s->hold[0] = s->sum[0] / s->n;
			s->hold[1] = s->sum[1] / s->n;
			s->hold_slot = s->slot;
			s->have_hold = 1;
			acc = s->hold;
		} else if (s->have_hold && s->slot - s->hold_slot <= GAP_SLOTS) {
			acc = s->hold; /* an empty slot holds the previous value */
		} else {
			s->have_hold = 0;
		}
		int64_t end_ns = (s->slot + 1) * ODO_SMOOTH_SLOT_NS;
		if (acc || isfinite(speed_lon(s, end_ns))) {
			slot_done(s, s->slot, acc, moving);
			s->slot++;
		} else {
			/* no value: the stream restarts; nothing can fill the slots
			 * before `upto` once the derivative is stale (it only changes
			 * with the next speed report) */
			s->fsrc = ODO_SMOOTH_NONE;
			s->lat_on = 0;
			s->prev_ok = 0;
			s->slot = upto;
		}
		s->n = 0;
		s->sum[0] = s->sum[1] = 0;
	}
}

void odo_smooth_advance(struct odo_smooth *s, int64_t ns, int moving)
{
	int64_t k = ns / ODO_SMOOTH_SLOT_NS;
	if (s->slot == INT64_MIN) {
		s->slot = k;
		return;
	}
	close_slots(s, k, moving);
}

void odo_smooth_accel(struct odo_smooth *s, int64_t ns, double lon, double lat, int moving)
{
	if (!isfinite(lon) || !isfinite(lat))
		return;
	odo_smooth_advance(s, ns, moving);
	if (ns / ODO_SMOOTH_SLOT_NS != s->slot)
		return; /* older than the slot under way: late sample, dropped */
	s->sum[0] += lon;
	s->sum[1] += lat;
	s->n++;
}

void odo_smooth_speed(struct odo_smooth *s, int64_t ns, double v)
{
	if (!isfinite(v))
		return;
	unsigned cap = ODO_SMOOTH_SPEED_RING;
	s->sp_head = (s->sp_head + 1) % cap;
	s->sp_ns[s->sp_head] = ns;
	s->sp_v[s->sp_head] = v;
	if (s->sp_n < cap)
		s->sp_n++;
	/* the oldest report within the last second */
	unsigned idx = s->sp_head;
	for (unsigned j = 1; j < s->sp_n; j++) {
		unsigned i = (s->sp_head + cap - j) % cap;
		if (ns - s->sp_ns[i] > DERIV_WIN_NS)
			break;
		idx = i;
	}
	int64_t span = ns - s->sp_ns[idx];
	if (idx == s->sp_head || span < DERIV_MIN_NS)
		return;
	s->dlon = (v - s->sp_v[idx]) / ((double)span / 1e9);
	s->dlon_ns = ns;
}

double odo_smooth_p95(const uint32_t h[ODO_SMOOTH_BINS])
{
	uint64_t n = 0;
	for (int i = 0; i < ODO_SMOOTH_BINS; i++)
		n += h[i];
	if (n < ODO_SMOOTH_MIN_SLOTS)
		return NAN;
	double r = 0.95 * (double)n, c = 0;
	for (int i = 0; i < ODO_SMOOTH_BINS; i++) {
		if (h[i] && c + h[i] >= r) {
			if (i == ODO_SMOOTH_BINS - 1)
				return 1.0; /* saturated: beyond 1 g */
			return (i + (r - c) / h[i]) * ODO_SMOOTH_BIN_G;
		}
		c += h[i];
	}
	return 1.0;
}

void odo_smooth_summary(const struct odo_smooth *s, struct odo_rec_trip_end *out)
{
	out->mean_abs_jerk = s->jerk_n ? s->jerk_sum / s->jerk_n : NAN;
	out->lon_source = s->n_lon == 0 ? -1
	                  : s->n_lon_spd == 0 ? ODO_LSRC_ACCEL
	                  : s->n_lon_acc == 0 ? ODO_LSRC_SPEED
	                                      : ODO_LSRC_BOTH;
	out->lon_moving_s = s->n_lon ? s->n_lon * 0.1 : NAN;
	out->lat_moving_s = s->n_lat ? s->n_lat * 0.1 : NAN;
	for (int j = 0; j < ODO_GRADES; j++) {
		out->lon_share[j] = s->n_lon >= ODO_SMOOTH_MIN_SLOTS ? (double)s->k_lon[j] / s->n_lon : NAN;
		out->lat_share[j] = s->n_lat >= ODO_SMOOTH_MIN_SLOTS ? (double)s->k_lat[j] / s->n_lat : NAN;
	}
	out->lon_p95_g = odo_smooth_p95(s->h_lon);
	out->lat_p95_g = odo_smooth_p95(s->h_lat);
}
