#include <stdio.h>
#include <time.h>

#include "odo/clock.h"

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * ODO_NS_PER_S + ts.tv_nsec;
}

void odo_clock_init_system(struct odo_clock *c)
{
	c->kind = ODO_CLOCK_SYSTEM;
	c->real_ns = 0;
	c->mono_ns = 0;
}

void odo_clock_init_virtual(struct odo_clock *c, int64_t real_ns, int64_t mono_ns)
{
	c->kind = ODO_CLOCK_VIRTUAL;
	c->real_ns = real_ns;
	c->mono_ns = mono_ns;
}

int64_t odo_clock_real_ns(const struct odo_clock *c)
{
	return c->kind == ODO_CLOCK_VIRTUAL ? c->real_ns : read_clock(CLOCK_REALTIME);
}

int64_t odo_clock_mono_ns(const struct odo_clock *c)
{
	return c->kind == ODO_CLOCK_VIRTUAL ? c->mono_ns : read_clock(CLOCK_MONOTONIC);
}

void odo_clock_advance(struct odo_clock *c, int64_t delta_ns)
{
	if (c->kind != ODO_CLOCK_VIRTUAL || delta_ns <= 0)
		return;
	c->real_ns += delta_ns;
	c->mono_ns += delta_ns;
}

void odo_clock_set_real(struct odo_clock *c, int64_t real_ns)
{
	if (c->kind != ODO_CLOCK_VIRTUAL)
		return;
	if (real_ns > c->real_ns)
		c->mono_ns += real_ns - c->real_ns;
	c->real_ns = real_ns;
}

int odo_clock_parse_unix(const char *s, const char **end, int64_t *ns)
{
	const char *p = s;
	int64_t sec = 0, frac = 0;
	int nd = 0, fd = 0;

	if (!s || !end || !ns)
		return ODO_ERR_INVAL;
	while (*p >= '0' && *p <= '9') {
		if (++nd > 12)
			return ODO_ERR_INVAL;
		sec = sec * 10 + (*p++ - '0');
	}
	if (nd == 0)
		return ODO_ERR_INVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++fd > 9)
				return ODO_ERR_INVAL;
			frac = frac * 10 + (*p++ - '0');
		}
		if (fd == 0)
			return ODO_ERR_INVAL;
	}
	for (; fd < 9; fd++)
		frac *= 10;
	/* 12 digits of seconds do not all fit int64 nanoseconds */
	if (sec > (INT64_MAX - (ODO_NS_PER_S - 1)) / ODO_NS_PER_S)
		return ODO_ERR_INVAL;
	*ns = sec * ODO_NS_PER_S + frac;
	*end = p;
	return ODO_OK;
}

size_t odo_clock_format_unix_us(char *buf, size_t size, int64_t ns)
{
	int n = snprintf(buf, size, "%lld.%06lld", (long long)(ns / ODO_NS_PER_S),
			 (long long)((ns % ODO_NS_PER_S) / 1000));
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
