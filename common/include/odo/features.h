/*
 * odo — feature definitions shared by the agent (trip summaries) and the
 * collector (monthly features). docs/features.md is the prose version of
 * this file; keep them together.
 */
#ifndef ODO_FEATURES_H
#define ODO_FEATURES_H

#include "odo/ltime.h"

/* Night: the sun's centre more than 0.833 deg below the horizon (sunset /
 * sunrise as almanacs define them: refraction plus the solar radius). */
#define ODO_FEAT_NIGHT_SUN_ELEV_DEG (-0.833)

/* 1 when local time lt falls in weekday rush hours (Mon-Fri, 07:00-09:59
 * and 16:00-18:59). */
int odo_feat_is_weekday_rush_hour(const struct odo_ltime *lt);
/* 1 when local time lt is a weekend late night: Friday/Saturday/Sunday
 * nights, i.e. Saturday, Sunday or Monday... see docs/features.md for the
 * exact window (00:00-04:59 on Saturday and Sunday). */
int odo_feat_is_late_night_weekend(const struct odo_ltime *lt);
/* 1 when the sun is below the horizon at (lat, lon) at t_utc_s. */
int odo_feat_is_night(double lat, double lon, long long t_utc_s);

#endif
