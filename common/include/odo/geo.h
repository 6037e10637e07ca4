/*
 * odo — geodesy helpers. Pure functions, WGS-84 degrees in, SI units out.
 */
#ifndef ODO_GEO_H
#define ODO_GEO_H

#include <stdint.h>

#define ODO_EARTH_RADIUS_M 6371008.8 /* IUGG mean radius */
#define ODO_M_PER_MILE 1609.344
#define ODO_G 9.80665 /* standard gravity, m/s^2 */

/* Great-circle (haversine) distance in metres. */
double odo_geo_distance_m(double lat1, double lon1, double lat2, double lon2);
/* Initial bearing from point 1 to point 2, degrees clockwise from true
 * north in [0, 360). */
double odo_geo_bearing_deg(double lat1, double lon1, double lat2, double lon2);
/* Signed smallest difference b - a between two headings, in (-180, 180]. */
double odo_geo_heading_diff_deg(double a, double b);
/* Solar elevation angle in degrees (NOAA's approximation, ~0.1 deg) above
 * the horizon at the given place and UTC instant (s since the epoch). */
double odo_geo_sun_elevation_deg(double lat, double lon, int64_t t_utc_s);
/* 1 when lat/lon are finite and inside [-90,90] x [-180,180]. */
int odo_geo_valid(double lat, double lon);

#endif
