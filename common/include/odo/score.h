/*
 * odo — the driving score, version 1 (docs/features.md "Driving score"):
 * "100 minus points", modelled on Samsara's safety score, with Zendrive's
 * rule that a component that cannot be measured is left out (and recorded)
 * rather than counted as 0. Pure: no state, no logging, no allocation.
 *
 * The collector computes the same formula in SQL (collector/sql/005,
 * function odo_score_v1); tests/data/score/cases.csv holds hand-computed
 * cases that both implementations must reproduce. A new formula is a new
 * function (odo_score_v2) and a new score_version; stored scores keep theirs.
 */
#ifndef ODO_SCORE_H
#define ODO_SCORE_H

#include "odo/err.h"

#define ODO_SCORE_VERSION 1

/* Component bits of odo_score_out.inputs. */
enum {
	ODO_SCORE_EVENTS = 1,   /* graded events per 100 miles */
	ODO_SCORE_SMOOTH = 2,   /* time beyond the moderate acceleration levels */
	ODO_SCORE_PHONE = 4,    /* phone distraction share of moving time */
	ODO_SCORE_TIME = 8,     /* night and late-night-weekend share of distance */
	ODO_SCORE_SPEEDING = 16 /* share of distance with a known limit driven speeding */
};

/* Kinds of the events array. */
enum { ODO_SCORE_BRAKE, ODO_SCORE_ACCEL, ODO_SCORE_CORNER, ODO_SCORE_SWERVE, ODO_SCORE_KINDS };

/* What the score is computed from: a trip, or a driver-month's sums. A
 * value that was not measured is NaN. */
struct odo_score_in {
	int graded;                       /* the events below were counted per grade (wire v2) */
	double events[ODO_SCORE_KINDS][3]; /* per kind and grade (1..3 at [0..2]), over graded_m */
	double graded_m;                  /* m driven by the trips whose events were graded */
	double distance_m;                /* m driven (all trips) */
	double lon_share1, lat_share1;    /* 0..1, NaN absent */
	double phone_distraction_s;       /* s of phone distraction events; NaN: phone not measured */
	double phone_moving_s;            /* moving s of the phone-measured trips */
	double night_m, late_night_weekend_m;
	double speeding_m, limit_m;       /* m driven speeding / with a known limit; NaN: no road coverage */
};

struct odo_score_out {
	double events_pts, smooth_pts, phone_pts, time_pts, speeding_pts; /* NaN: component absent */
	int inputs;   /* ODO_SCORE_* bits of the components used; 0 when not scored */
	double score; /* 0..100; NaN: not scored (no graded events, or under 0.5 graded mile) */
};

/*
 * Score v1. ODO_OK; ODO_ERR_INVAL when a present value is negative or not
 * finite, or a share is above 1 (*field names it, e.g. "events[0][1]",
 * "lon_share1"; out is then all absent).
 */
int odo_score_v1(const struct odo_score_in *in, struct odo_score_out *out, const char **field) ODO_NODISCARD;

/* An input with every value absent (not graded, NaN). */
void odo_score_in_init(struct odo_score_in *in);

#endif
