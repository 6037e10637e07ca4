/* The discrete-event loop (agent/loop.c): on the virtual clock of a replay
 * each round jumps to the earliest deadline and runs everything due there,
 * timers before the replay; live, the timers that came due while poll()
 * slept run at their own deadlines before the inputs of the wake-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

#define MS ODO_NS_PER_MS

/* What ran, in order: "name@mono_ms". */
static char trace[4096];

static void note(const char *name, const struct odo_clock *c)
{
	size_t n = strlen(trace);
	snprintf(trace + n, sizeof trace - n, "%s@%lld ", name, (long long)(odo_clock_mono_ns(c) / MS));
}

/* A periodic timer: due at next, then every period (0: once). */
struct timer {
	const char *name;
	struct odo_clock *clock;
	int64_t next, period;
	int ticks;
};

static int64_t timer_deadline(void *self)
{
	return ((struct timer *)self)->next;
}

static void timer_tick(void *self)
{
	struct timer *t = self;
	if (odo_clock_mono_ns(t->clock) < t->next)
		return;
	t->ticks++;
	note(t->name, t->clock);
	t->next = t->period ? t->next + t->period : ODO_DEADLINE_NONE;
}

static const struct odo_source_ops timer_ops = {.name = "timer", .deadline = timer_deadline, .tick = timer_tick};

/* A replay-like source: items at fixed instants, delivered all at once
 * when due. */
struct items {
	struct odo_clock *clock;
	const int64_t *at;
	int n, i;
};

static int64_t items_deadline(void *self)
{
	struct items *it = self;
	return it->i < it->n ? it->at[it->i] : ODO_DEADLINE_NONE;
}

static void items_tick(void *self)
{
	struct items *it = self;
	while (it->i < it->n && it->at[it->i] <= odo_clock_mono_ns(it->clock)) {
		note("item", it->clock);
		it->i++;
	}
}

static const struct odo_source_ops items_ops = {.name = "items", .deadline = items_deadline, .tick = items_tick};

static void replay_runs_every_instant_in_order(void **state)
{
	(void)state;
	struct odo_clock clk;
	struct odo_loop l;
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 1000 * MS);
	odo_loop_init(&l, &clk, ODO_LOOP_REPLAY);
	struct timer fast = {"fast", &clk, 1100 * MS, 100 * MS, 0};
	struct timer slow = {"slow", &clk, 1250 * MS, 0, 0};
	static const int64_t at[] = {1050 * MS, 1200 * MS, 1200 * MS, 1400 * MS};
	struct items it = {&clk, at, 4, 0};
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&timer_ops, &fast}), ODO_OK);
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&timer_ops, &slow}), ODO_OK);
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&items_ops, &it}), ODO_OK);
	trace[0] = '\0';
	while (it.i < it.n)
		assert_int_equal(odo_loop_once(&l, ODO_NS_PER_S), ODO_OK);
	/* every timer at its deadline, between the items; at 1200 ms the
	 * timer before the items; REAL moved with MONO */
	assert_string_equal(trace, "item@1050 fast@1100 fast@1200 item@1200 item@1200 slow@1250 fast@1300 "
	                           "fast@1400 item@1400 ");
	assert_int_equal(odo_clock_real_ns(&clk), 1700000000LL * ODO_NS_PER_S + 400 * MS);
	/* a source whose deadline is in the past: run now, the clock never goes back */
	fast.next = 1000 * MS;
	fast.period = 0;
	trace[0] = '\0';
	assert_int_equal(odo_loop_once(&l, 0), ODO_OK);
	assert_string_equal(trace, "fast@1400 ");
}

/* Always due and never moving its deadline: the loop gives up on it for
 * this instant instead of spinning. */
static int64_t stuck_deadline(void *self)
{
	(void)self;
	return 0;
}

static void stuck_tick(void *self)
{
	(*(int *)self)++;
}

static const struct odo_source_ops stuck_ops = {.name = "stuck", .deadline = stuck_deadline, .tick = stuck_tick};

static void stuck_source_does_not_hang(void **state)
{
	(void)state;
	struct odo_clock clk;
	struct odo_loop l;
	int ticks = 0;
	odo_clock_init_virtual(&clk, 0, 5 * MS);
	odo_loop_init(&l, &clk, ODO_LOOP_REPLAY);
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&stuck_ops, &ticks}), ODO_OK);
	assert_int_equal(odo_loop_once(&l, 0), ODO_OK);
	assert_true(ticks >= ODO_LOOP_MAX_PASSES && ticks <= 2 * ODO_LOOP_MAX_PASSES);
	assert_true(l.stuck >= 1);
}

/* Live: an input source that records the clock when it handles its fd. */
struct input {
	int fd;
	struct odo_clock *clock;
	int64_t seen_mono;
};

static int input_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct input *in = self;
	if (max < 1)
		return 0;
	pfd[0].fd = in->fd;
	pfd[0].events = POLLIN;
	return 1;
}

static void input_handle(void *self, const struct pollfd *pfd, int n)
{
	struct input *in = self;
	char b[16];
	if (n >= 1 && (pfd[0].revents & POLLIN) && read(in->fd, b, sizeof b) > 0) {
		in->seen_mono = odo_clock_mono_ns(in->clock);
		note("input", in->clock);
	}
}

static const struct odo_source_ops input_ops = {.name = "input", .pollfds = input_pollfds, .handle = input_handle};

static void live_timers_run_at_their_deadlines(void **state)
{
	(void)state;
	struct odo_clock clk, sys;
	struct odo_loop l;
	int p[2];
	assert_int_equal(pipe(p), 0);
	odo_clock_init_system(&sys);
	odo_loop_init(&l, &clk, ODO_LOOP_LIVE);
	/* the clock is virtual, at the system's now in whole microseconds */
	assert_int_equal(clk.kind, ODO_CLOCK_VIRTUAL);
	int64_t t0 = odo_clock_mono_ns(&clk);
	assert_int_equal(t0 % 1000, 0);
	assert_int_equal(odo_clock_real_ns(&clk) % 1000, 0);
	/* REAL - MONO whole seconds, as in a replay */
	assert_int_equal((odo_clock_real_ns(&clk) - t0) % ODO_NS_PER_S, 0);
	int64_t drift = odo_clock_real_ns(&clk) - odo_clock_real_ns(&sys);
	assert_true(drift > -ODO_LOOP_CLOCK_STEP_NS && drift < ODO_LOOP_CLOCK_STEP_NS);
	/* two timers that came due while the loop was busy, and an input */
	struct timer a = {"a", &clk, t0 + 3 * MS, 0, 0}, b = {"b", &clk, t0 + 1 * MS, 0, 0};
	struct input in = {p[0], &clk, 0};
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&input_ops, &in}), ODO_OK);
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&timer_ops, &a}), ODO_OK);
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&timer_ops, &b}), ODO_OK);
	usleep(20000);
	assert_int_equal(write(p[1], "x", 1), 1);
	trace[0] = '\0';
	assert_int_equal(odo_loop_once(&l, ODO_NS_PER_S), ODO_OK);
	/* each timer ran with the clock at its own deadline, earliest first,
	 * and the input after them at the wake-up instant */
	char want[128];
	snprintf(want, sizeof want, "b@%lld a@%lld input@%lld ", (long long)((t0 + MS) / MS),
	         (long long)((t0 + 3 * MS) / MS), (long long)(in.seen_mono / MS));
	assert_string_equal(trace, want);
	assert_true(in.seen_mono >= t0 + 20 * MS);
	assert_int_equal(odo_clock_real_ns(&clk) - odo_clock_mono_ns(&clk), l.off_ns);
	close(p[0]);
	close(p[1]);
}

/* Live, after a long stall: hundreds of timer instants to catch up on, each
 * run at its own deadline (none at the wake-up instant), none taken for a
 * source that stays due. */
struct every {
	struct odo_clock *clock;
	int64_t next, period, bad;
	int ticks;
};

static int64_t every_deadline(void *self)
{
	return ((struct every *)self)->next;
}

static void every_tick(void *self)
{
	struct every *e = self;
	if (odo_clock_mono_ns(e->clock) != e->next)
		e->bad++;
	e->ticks++;
	e->next += e->period;
}

static const struct odo_source_ops every_ops = {.name = "every", .deadline = every_deadline, .tick = every_tick};

static void live_catches_up_at_deadlines(void **state)
{
	(void)state;
	struct odo_clock clk;
	struct odo_loop l;
	odo_loop_init(&l, &clk, ODO_LOOP_LIVE);
	int64_t t0 = odo_clock_mono_ns(&clk);
	struct every e = {&clk, t0 + MS, MS, 0, 0};
	assert_int_equal(odo_loop_add(&l, (struct odo_source){&every_ops, &e}), ODO_OK);
	usleep(300000);
	assert_int_equal(odo_loop_once(&l, 0), ODO_OK);
	assert_true(e.ticks >= 300);
	assert_int_equal(e.bad, 0);
	assert_int_equal(l.stuck, 0);
	assert_true(e.next > odo_clock_mono_ns(&clk));
}

/* A source on another clock (the uplink on the system clock) is ticked
 * by that clock, whatever the loop's virtual clock says. */
static void other_clock_source(void **state)
{
	(void)state;
	struct odo_clock clk, other;
	struct odo_loop l;
	odo_clock_init_virtual(&clk, 0, 10 * ODO_NS_PER_S);
	odo_clock_init_virtual(&other, 0, 5 * MS);
	odo_loop_init(&l, &clk, ODO_LOOP_REPLAY);
	struct timer up = {"up", &other, 6 * MS, 0, 0};
	assert_int_equal(odo_loop_add_on(&l, (struct odo_source){&timer_ops, &up}, &other), ODO_OK);
	trace[0] = '\0';
	assert_int_equal(odo_loop_once(&l, 0), ODO_OK);
	assert_int_equal(up.ticks, 0); /* its clock is at 5 ms */
	assert_int_equal(odo_clock_mono_ns(&clk), 10 * ODO_NS_PER_S); /* and it does not move the loop's */
	odo_clock_advance(&other, 2 * MS);
	assert_int_equal(odo_loop_once(&l, 0), ODO_OK);
	assert_int_equal(up.ticks, 1);
	assert_true(odo_loop_next_deadline(&l) == ODO_DEADLINE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(replay_runs_every_instant_in_order),
	    cmocka_unit_test(stuck_source_does_not_hang),
	    cmocka_unit_test(live_timers_run_at_their_deadlines),
	    cmocka_unit_test(live_catches_up_at_deadlines),
	    cmocka_unit_test(other_clock_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
