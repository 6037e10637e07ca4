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
