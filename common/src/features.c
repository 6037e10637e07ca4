/* odo — feature definitions shared by agent and collector (see features.h,
 * docs/features.md). Pure functions. */
#include "odo/features.h"

#include "odo/geo.h"

int odo_feat_is_weekday_rush_hour(const struct odo_ltime *lt)
{
	if (!lt || lt->wday < 1 || lt->wday > 5)
		return 0;
	return (lt->hour >= 7 && lt->hour <= 9) || (lt->hour >= 16 && lt->hour <= 18);
}

int odo_feat_is_late_night_weekend(const struct odo_ltime *lt)
{
	if (!lt)
		return 0;
	/* the nights of Friday->Saturday and Saturday->Sunday: 00:00-04:59 local */
	return (lt->wday == 6 || lt->wday == 0) && lt->hour >= 0 && lt->hour <= 4;
}

int odo_feat_is_night(double lat, double lon, long long t_utc_s)
{
	if (!odo_geo_valid(lat, lon))
		return 0;
	return odo_geo_sun_elevation_deg(lat, lon, (int64_t)t_utc_s) < ODO_FEAT_NIGHT_SUN_ELEV_DEG;
}
