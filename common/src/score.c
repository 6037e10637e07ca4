/* odo — driving score v1 (see score.h and docs/features.md). */
#include "odo/score.h"

#include <math.h>
#include <stddef.h>

#define M_PER_MILE 1609.344
#define PSEUDO_MILES 5.0    /* exposure added to every trip: short trips are damped */
#define MIN_MILES 0.5       /* less graded exposure is not scored */
static const double grade_pts[3] = {0.1, 0.5, 2.0}; /* per event per 100 miles, by grade */
#define SMOOTH_PTS 100.0    /* per unit share beyond the moderate level, each axis */
#define PHONE_PTS 200.0     /* per unit share of moving time distracted (Samsara: weight 2) */
#define NIGHT_PTS 10.0      /* per unit share of distance at night */
#define LATE_PTS 10.0       /* per unit share of distance late at night on weekends */
#define SPEEDING_PTS 100.0  /* per unit share of limited distance speeding (Samsara: weight 1) */

void odo_score_in_init(struct odo_score_in *in)
{
	in->graded = 0;
	for (int k = 0; k < ODO_SCORE_KINDS; k++)
		for (int g = 0; g < 3; g++)
			in->events[k][g] = NAN;
	in->graded_m = in->distance_m = NAN;
	in->lon_share1 = in->lat_share1 = NAN;
	in->phone_distraction_s = in->phone_moving_s = NAN;
	in->night_m = in->late_night_weekend_m = NAN;
	in->speeding_m = in->limit_m = NAN;
}

/* A present value must be finite, >= 0 and <= max. */
static int bad(double v, double max)
{
	return !isnan(v) && !(isfinite(v) && v >= 0 && v <= max);
}

static int check(const struct odo_score_in *in, const char **field)
{
	static const char *const names[ODO_SCORE_KINDS][3] = {
	    {"events[0][0]", "events[0][1]", "events[0][2]"},
	    {"events[1][0]", "events[1][1]", "events[1][2]"},
	    {"events[2][0]", "events[2][1]", "events[2][2]"},
	    {"events[3][0]", "events[3][1]", "events[3][2]"},
	};
	const char *f = NULL;
	for (int k = 0; k < ODO_SCORE_KINDS && !f; k++)
		for (int g = 0; g < 3 && !f; g++)
			if (bad(in->events[k][g], INFINITY) || (in->graded && isnan(in->events[k][g])))
				f = names[k][g];
	if (!f && bad(in->graded_m, INFINITY))
		f = "graded_m";
	else if (!f && bad(in->distance_m, INFINITY))
		f = "distance_m";
	else if (!f && bad(in->lon_share1, 1))
		f = "lon_share1";
	else if (!f && bad(in->lat_share1, 1))
		f = "lat_share1";
	else if (!f && bad(in->phone_distraction_s, INFINITY))
		f = "phone_distraction_s";
	else if (!f && bad(in->phone_moving_s, INFINITY))
		f = "phone_moving_s";
	else if (!f && bad(in->night_m, INFINITY))
		f = "night_m";
	else if (!f && bad(in->late_night_weekend_m, INFINITY))
		f = "late_night_weekend_m";
	else if (!f && bad(in->speeding_m, INFINITY))
		f = "speeding_m";
	else if (!f && bad(in->limit_m, INFINITY))
		f = "limit_m";
	if (field)
		*field = f;
	return f ? -1 : 0;
}

int odo_score_v1(const struct odo_score_in *in, struct odo_score_out *out, const char **field)
{
	if (field)
		*field = NULL;
	if (!in || !out)
		return ODO_ERR_INVAL;
	out->events_pts = out->smooth_pts = out->phone_pts = out->time_pts = out->speeding_pts = NAN;
	out->inputs = 0;
	out->score = NAN;
	if (check(in, field))
		return ODO_ERR_INVAL;
	double miles = in->graded_m / M_PER_MILE;
	if (!in->graded || !(miles >= MIN_MILES))
		return ODO_OK; /* no graded exposure: not scored (never 0) */
	double sum = 0, w = 0;
	for (int k = 0; k < ODO_SCORE_KINDS; k++)
		for (int g = 0; g < 3; g++)
			w += grade_pts[g] * in->events[k][g];
	out->events_pts = 100.0 / (miles + PSEUDO_MILES) * w;
	out->inputs |= ODO_SCORE_EVENTS;
	sum += out->events_pts;
	if (!isnan(in->lon_share1) || !isnan(in->lat_share1)) {
		out->smooth_pts = (isnan(in->lon_share1) ? 0 : SMOOTH_PTS * in->lon_share1) +
		                  (isnan(in->lat_share1) ? 0 : SMOOTH_PTS * in->lat_share1);
		out->inputs |= ODO_SCORE_SMOOTH;
		sum += out->smooth_pts;
	}
	if (!isnan(in->phone_distraction_s) && in->phone_moving_s > 0) {
		out->phone_pts = PHONE_PTS * in->phone_distraction_s / in->phone_moving_s;
		out->inputs |= ODO_SCORE_PHONE;
		sum += out->phone_pts;
	}
	if (in->distance_m > 0 && !isnan(in->night_m) && !isnan(in->late_night_weekend_m)) {
		out->time_pts = NIGHT_PTS * in->night_m / in->distance_m + LATE_PTS * in->late_night_weekend_m /
		                                                                in->distance_m;
		out->inputs |= ODO_SCORE_TIME;
		sum += out->time_pts;
	}
	if (in->limit_m > 0 && !isnan(in->speeding_m)) {
		out->speeding_pts = SPEEDING_PTS * in->speeding_m / in->limit_m;
		out->inputs |= ODO_SCORE_SPEEDING;
		sum += out->speeding_pts;
	}
	double s = 100 - sum;
	out->score = s < 0 ? 0 : s > 100 ? 100 : s;
	return ODO_OK;
}
