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
	int n = s->has_gyro
			? snprintf(buf, size, "%lld.%06lld,%.5f,%.5f,%.5f,%u,%.6f,%.6f,%.6f\n",
				   (long long)(t / ODO_NS_PER_S), (long long)((t % ODO_NS_PER_S) / 1000), (double)s->x,
				   (double)s->y, (double)s->z, s->saturated, (double)s->gx, (double)s->gy,
				   (double)s->gz)
			: snprintf(buf, size, "%lld.%06lld,%.5f,%.5f,%.5f,%u\n", (long long)(t / ODO_NS_PER_S),
				   (long long)((t % ODO_NS_PER_S) / 1000), (double)s->x, (double)s->y, (double)s->z,
				   s->saturated);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* "1533234567.123456" -> ns; exactly 6 fraction digits accepted as 1..9. */
int odo__parse_unix_us(const char *s, char **end, int64_t *ns);
int odo__parse_unix_us(const char *s, char **end, int64_t *ns)
{
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -1;
	long long sec = 0;
	int digits = 0;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 12)
			return -1;
		sec = sec * 10 + (*p++ - '0');
	}
	long long frac = 0;
	int fd = 0;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (fd < 9) {
				frac = frac * 10 + (*p - '0');
				fd++;
			} else {
				return -1;
			}
			p++;
		}
		if (fd == 0)
			return -1;
	}
	while (fd < 9) {
		frac *= 10;
		fd++;
	}
	/* 12 digits of seconds do not all fit int64 nanoseconds (found by
	 * tests/fuzz/inputs: signed overflow). */
	if (sec > (INT64_MAX - 999999999) / ODO_NS_PER_S)
		return -1;
	*ns = sec * ODO_NS_PER_S + frac;
	*end = (char *)p;
	return 0;
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
	char *p;
	int64_t t;
	struct odo_accel_sample o = { 0 };
	if (odo__parse_unix_us(line, &p, &t) != 0 || *p++ != ',')
		return ODO_ERR_INVAL;
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
