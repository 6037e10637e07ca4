/* odo-collector — OSM maxspeed values (see roads.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "roads.h"

#define KPH_PER_MPH 1.609344
#define KPH_PER_KNOT 1.852

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A positive number followed by an optional unit and nothing else. */
static int parse_speed(const char *s, double *kph)
{
	const char *p = skip_ws(s);
	if (!isdigit((unsigned char)*p))
		return 0;
	char *end;
	double v = strtod(p, &end);
	if (end == p || !(v > 0) || v > 400)
		return 0;
	p = skip_ws(end);
	double k = 1.0;
	if (*p == '\0' || strcmp(p, "km/h") == 0 || strcmp(p, "kmh") == 0 || strcmp(p, "kph") == 0)
		k = 1.0;
	else if (strcmp(p, "mph") == 0)
		k = KPH_PER_MPH;
	else if (strcmp(p, "knots") == 0)
		k = KPH_PER_KNOT;
	else
		return 0;
	*kph = v * k;
	return 1;
}

int odo_maxspeed_parse(const char *s, struct odo_maxspeed *out)
{
	if (!s || !out)
		return ODO_ERR_INVAL;
	memset(out, 0, sizeof *out);
	s = skip_ws(s);
	if (strcmp(s, "none") == 0) {
		out->kind = ODO_LIMIT_NONE;
		return ODO_OK;
	}
	if (strcmp(s, "walk") == 0) {
		out->kind = ODO_LIMIT_TAGGED;
		out->kph = ODO_MAXSPEED_WALK_KPH;
		return ODO_OK;
	}
	if (parse_speed(s, &out->kph)) {
		out->kind = ODO_LIMIT_TAGGED;
		return ODO_OK;
	}
	/* "CC:zone", "CC:zone30", "CC:zone:30": two capital letters, a colon
	 * (country subdivisions such as "US-CA:" are not in the default table) */
	if (isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) && s[2] == ':' && s[3]) {
		const char *z = s + 3;
		size_t n = strlen(z);
		if (n >= sizeof out->zone)
			return ODO_OK;
		for (size_t i = 0; i < n; i++)
			if (!(islower((unsigned char)z[i]) || isdigit((unsigned char)z[i]) || z[i] == '_' || z[i] == ':'))
				return ODO_OK; /* UNKNOWN */
		if (strncmp(z, "zone", 4) == 0 && z[4]) {
			/* a speed-limit zone names its own number: tagged */
			const char *num = z[4] == ':' ? z + 5 : z + 4;
			if (parse_speed(num, &out->kph)) {
				out->kind = ODO_LIMIT_TAGGED;
				out->country[0] = s[0], out->country[1] = s[1];
				strcpy(out->zone, "zone");
			}
			return ODO_OK;
		}
		out->kind = ODO_LIMIT_IMPLICIT;
		out->country[0] = s[0], out->country[1] = s[1];
		memcpy(out->zone, z, n + 1);
		return ODO_OK;
	}
	return ODO_OK; /* UNKNOWN: "signals", "variable", "50;30", conditions, typos */
}
