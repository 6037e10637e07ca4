/*
 * odo — geodesy helpers on a spherical Earth (see odo/geo.h).
 *
 * Distance and bearing are the haversine and initial-course formulas as
 * given in Ed Williams' "Aviation Formulary"; the solar position follows
 * NOAA's "General Solar Position Calculations" spreadsheet
 * (https://gml.noaa.gov/grad/solcalc/calcdetails.html, after Meeus,
 * "Astronomical Algorithms"), accurate to about 0.1 degree for years
 * 1901-2099 (the spreadsheet's stated range).
 */
#include <math.h>

#include "odo/geo.h"

#define DEG2RAD(d)              ((d) * (M_PI / 180.0))
#define RAD2DEG(r)              ((r) * (180.0 / M_PI))
#define S_PER_DAY               86400.0
#define JD_UNIX_EPOCH           2440587.5 /* Julian day of 1970-01-01T00:00Z */
#define JD_J2000                2451545.0 /* Julian day of 2000-01-01T12:00 TT */
#define DAYS_PER_JULIAN_CENTURY 36525.0

double odo_geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = DEG2RAD(lat1), p2 = DEG2RAD(lat2);
	double dp = DEG2RAD(lat2 - lat1), dl = DEG2RAD(lon2 - lon1);
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	/* Rounding may push a a hair above 1 for antipodes. */
	if (a > 1.0)
		a = 1.0;
	return 2.0 * ODO_EARTH_RADIUS_M * asin(sqrt(a));
}

double odo_geo_bearing_deg(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = DEG2RAD(lat1), p2 = DEG2RAD(lat2), dl = DEG2RAD(lon2 - lon1);
	double y = sin(dl) * cos(p2);
	double x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
	double b = RAD2DEG(atan2(y, x));

	if (b < 0)
		b += 360.0;
	/* -tiny + 360 rounds to 360, which is outside [0, 360). */
	if (b >= 360.0)
		b -= 360.0;
	return b;
}

double odo_geo_heading_diff_deg(double a, double b)
{
	double d = fmod(b - a, 360.0); /* (-360, 360) */

	if (d > 180.0)
		d -= 360.0;
	else if (d <= -180.0)
		d += 360.0;
	return d;
}

/* The geometric elevation of the sun's centre: the NOAA spreadsheet's
 * column AE ("Solar Elevation Angle"), without its refraction correction,
 * so sunrise/sunset as almanacs define them is elevation -0.833 degrees. */
double odo_geo_sun_elevation_deg(double lat, double lon, int64_t t_utc_s)
{
	double jd = (double)t_utc_s / S_PER_DAY + JD_UNIX_EPOCH;
	double jc = (jd - JD_J2000) / DAYS_PER_JULIAN_CENTURY;
	/* geometric mean longitude and anomaly of the sun, deg */
	double l0 = fmod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0);
	double m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc);
	double e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc);
	double mr = DEG2RAD(m);
	double c = sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc)) +
	           sin(2 * mr) * (0.019993 - 0.000101 * jc) + sin(3 * mr) * 0.000289;
	double true_long = l0 + c;
	double omega = DEG2RAD(125.04 - 1934.136 * jc);
	double app_long = true_long - 0.00569 - 0.00478 * sin(omega);
	double obliq0 =
	    23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0;
	double obliq = obliq0 + 0.00256 * cos(omega);
	double decl = asin(sin(DEG2RAD(obliq)) * sin(DEG2RAD(app_long)));
	double y = tan(DEG2RAD(obliq / 2)) * tan(DEG2RAD(obliq / 2));
	double l0r = DEG2RAD(l0);
	double eot_min =
	    4.0 * RAD2DEG(y * sin(2 * l0r) - 2 * e * sin(mr) + 4 * e * y * sin(mr) * cos(2 * l0r) -
	                  0.5 * y * y * sin(4 * l0r) - 1.25 * e * e * sin(2 * mr));
	/* minutes past UTC midnight, floored so negative instants work too */
	int64_t sod = t_utc_s % 86400;
	double tst, ha, cosz;

	if (sod < 0)
		sod += 86400;
	tst = fmod((double)sod / 60.0 + eot_min + 4.0 * lon, 1440.0);
	if (tst < 0)
		tst += 1440.0;
	ha = tst / 4.0 - 180.0;
	cosz = sin(DEG2RAD(lat)) * sin(decl) + cos(DEG2RAD(lat)) * cos(decl) * cos(DEG2RAD(ha));
	if (cosz > 1.0)
		cosz = 1.0;
	if (cosz < -1.0)
		cosz = -1.0;
	return 90.0 - RAD2DEG(acos(cosz));
}

int odo_geo_valid(double lat, double lon)
{
	return isfinite(lat) && isfinite(lon) && lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0;
}
