/*
 * accel.csv rows: "t,x,y,z,saturated" and, from a chip with a gyroscope,
 * ",gx,gy,gz" (rad/s) after them (docs/inputs.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "accel/accel.h"

size_t odo_accel_csv_format(char *buf, size_t size, int64_t t, const struct odo_accel_sample *s)
{
	size_t k = odo_clock_format_unix_us(buf, size, t);
	if (k == 0)
		return 0;
	int n = s->has_gyro ? snprintf(buf + k, size - k, ",%.5f,%.5f,%.5f,%u,%.6f,%.6f,%.6f\n", (double)s->x,
				       (double)s->y, (double)s->z, s->saturated, (double)s->gx, (double)s->gy,
				       (double)s->gz)
			    : snprintf(buf + k, size - k, ",%.5f,%.5f,%.5f,%u\n", (double)s->x, (double)s->y,
				       (double)s->z, s->saturated);
	if (n < 0 || (size_t)n >= size - k)
		return 0; /* never a truncated row */
	return k + (size_t)n;
}

static int parse_float(const char *p, char **end, float *out)
{
	errno = 0;
	double v = strtod(p, end);
	if (*end == p || errno || !isfinite(v) || fabs(v) > 1e6)
		return -1;
	*out = (float)v;
	return 0;
}

int odo_accel_csv_parse(const char *line, int64_t *t_real_ns, struct odo_accel_sample *s)
{
	if (!line || !t_real_ns || !s)
		return ODO_ERR_INVAL;
	const char *tp;
	char *p;
	int64_t t;
	struct odo_accel_sample o = { 0 };
	if (odo_clock_parse_unix(line, &tp, &t) != ODO_OK || *tp != ',')
		return ODO_ERR_INVAL;
	p = (char *)tp + 1;
	float *ax[3] = { &o.x, &o.y, &o.z };
	for (int i = 0; i < 3; i++) {
		if (parse_float(p, &p, ax[i]) != 0 || *p++ != ',')
			return ODO_ERR_INVAL;
	}
	if ((*p != '0' && *p != '1'))
		return ODO_ERR_INVAL;
	o.saturated = (uint8_t)(*p++ - '0');
	if (*p == ',') { /* the gyroscope's columns */
		p++;
		float *gw[3] = { &o.gx, &o.gy, &o.gz };
		for (int i = 0; i < 3; i++) {
			if (parse_float(p, &p, gw[i]) != 0 || (i < 2 && *p++ != ','))
				return ODO_ERR_INVAL;
		}
		o.has_gyro = 1;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	if (*p != '\0')
		return ODO_ERR_INVAL;
	*t_real_ns = t;
	*s = o;
	return ODO_OK;
}
