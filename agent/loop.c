/* odo-agent — the discrete-event loop (see loop.h). */
#include <errno.h>
#include <poll.h>

#include "loop.h"
#include "odo/err.h"
#include "odo/log.h"

#define LOOP_MAX_POLLFDS (ODO_LOOP_MAX_SOURCES * ODO_SOURCE_MAX_FDS + 1)
#define NS_PER_US 1000

static int64_t trunc_us(int64_t ns)
{
	return ns / NS_PER_US * NS_PER_US;
}

/* Live: the system's now, in whole microseconds (what a recording keeps). */
static void live_now(struct odo_loop *l, int64_t *mono, int64_t *real)
{
	*mono = trunc_us(odo_clock_mono_ns(&l->sys));
	*real = trunc_us(odo_clock_real_ns(&l->sys));
}

/* Live: the clock to an instant read with live_now(): MONO is the
 * system's shifted by mono_shift_ns (< 1 s, fixed at the start) so that
 * REAL - MONO = off_ns is a whole number of seconds, as in a replay
 * (odo_replay_open): what is aligned on MONO (100 ms slots, ms) falls
 * alike in both. The offset is re-taken when the system clock was stepped. */
static void live_sync(struct odo_loop *l, int64_t m, int64_t r, int first)
{
	if (first) {
		l->mono_shift_ns = (r - m) % ODO_NS_PER_S;
		if (l->mono_shift_ns < 0)
			l->mono_shift_ns += ODO_NS_PER_S;
	}
	m += l->mono_shift_ns;
	int64_t off = r - m;
	int64_t d = off - l->off_ns;

	if (first || d > ODO_LOOP_CLOCK_STEP_NS || d < -ODO_LOOP_CLOCK_STEP_NS) {
		if (!first)
			ODO_LOG(INFO, "loop", "system clock stepped by %lld ms", (long long)(d / ODO_NS_PER_MS));
		l->off_ns = off;
	}
	if (first || m > odo_clock_mono_ns(l->clock))
		odo_clock_init_virtual(l->clock, m + l->off_ns, m);
}

void odo_loop_init(struct odo_loop *l, struct odo_clock *clock, enum odo_loop_mode mode)
{
	l->clock = clock;
	l->mode = mode;
	l->nsrc = 0;
	l->extra_fd = -1;
	l->extra_ready = 0;
	l->off_ns = 0;
	l->mono_shift_ns = 0;
	l->stuck = 0;
	odo_clock_init_system(&l->sys);
	if (mode == ODO_LOOP_LIVE) {
		int64_t m, r;
		live_now(l, &m, &r);
		live_sync(l, m, r, 1);
	}
}

static int add(struct odo_loop *l, struct odo_source s, const struct odo_clock *clock)
{
	if (!s.ops)
		return ODO_ERR_INVAL;
	if (l->nsrc >= ODO_LOOP_MAX_SOURCES)
		return ODO_ERR_FULL;
	l->src[l->nsrc].s = s;
	l->src[l->nsrc].clock = clock == l->clock ? NULL : clock;
	l->nsrc++;
	return ODO_OK;
}

int odo_loop_add(struct odo_loop *l, struct odo_source s)
{
	return add(l, s, NULL);
}

int odo_loop_add_on(struct odo_loop *l, struct odo_source s, const struct odo_clock *clock)
{
	return add(l, s, clock);
}

void odo_loop_set_extra_fd(struct odo_loop *l, int fd)
{
	l->extra_fd = fd;
}

static int64_t deadline_of(const struct odo_loop_entry *e)
{
	return e->s.ops->deadline ? e->s.ops->deadline(e->s.self) : ODO_DEADLINE_NONE;
}

int64_t odo_loop_next_deadline(const struct odo_loop *l)
{
	int64_t d = ODO_DEADLINE_NONE;
	for (int i = 0; i < l->nsrc; i++)
		if (!l->src[i].clock) {
			int64_t x = deadline_of(&l->src[i]);
			if (x < d)
				d = x;
		}
	return d;
}

/* Run the loop clock's timers up to `until`: the earliest first, the
 * clock moved to it, every source due there ticked in order; again until
 * none is due. */
static void run_due(struct odo_loop *l, int64_t until)
{
	int64_t last = INT64_MIN;
	for (int same = 0;; same++) {
		int64_t d = odo_loop_next_deadline(l);
		if (d == ODO_DEADLINE_NONE || d > until)
			return;
		int64_t now = odo_clock_mono_ns(l->clock);
		/* catching up on many timers is fine; a source that stays due
		 * at one instant is not (give it up until the next round) */
		if (d > now || d != last)
			same = 0;
		last = d;
		if (same == ODO_LOOP_MAX_PASSES) {
			if (l->stuck++ == 0)
				ODO_LOG(WARN, "loop", "a source stays due after %d passes at one instant", same);
			return;
		}
		if (d > now)
			odo_clock_advance(l->clock, d - now);
		now = odo_clock_mono_ns(l->clock);
		for (int i = 0; i < l->nsrc; i++) {
			const struct odo_loop_entry *e = &l->src[i];
			if (!e->clock && e->s.ops->tick && deadline_of(e) <= now)
				e->s.ops->tick(e->s.self);
		}
	}
}

/* The other clocks' sources: ticked once a round when due. */
static void tick_others(struct odo_loop *l)
{
	for (int i = 0; i < l->nsrc; i++) {
		const struct odo_loop_entry *e = &l->src[i];
		if (e->clock && e->s.ops->tick && deadline_of(e) <= odo_clock_mono_ns(e->clock))
			e->s.ops->tick(e->s.self);
	}
}

/* How long poll() may sleep: until the earliest deadline of any clock. */
static int poll_timeout_ms(struct odo_loop *l, int64_t max_wait_ns)
{
	int64_t wait = max_wait_ns > 0 ? max_wait_ns : 0;
	if (l->mode == ODO_LOOP_REPLAY)
		return 0;
	for (int i = 0; i < l->nsrc; i++) {
		const struct odo_loop_entry *e = &l->src[i];
		int64_t d = deadline_of(e);
		if (d == ODO_DEADLINE_NONE)
			continue;
		/* live: the loop clock's MONO is the system's, shifted */
		const struct odo_clock *c = e->clock ? e->clock : l->mode == ODO_LOOP_LIVE ? &l->sys : l->clock;
		int64_t w = d - odo_clock_mono_ns(c) - (!e->clock && l->mode == ODO_LOOP_LIVE ? l->mono_shift_ns : 0);
		if (w < wait)
			wait = w > 0 ? w : 0;
	}
	/* Round up so we never wake just before a deadline and spin. */
	int64_t ms = (wait + ODO_NS_PER_MS - 1) / ODO_NS_PER_MS;
	return ms > 60000 ? 60000 : (int)ms;
}

int odo_loop_once(struct odo_loop *l, int64_t max_wait_ns)
{
	struct pollfd pfd[LOOP_MAX_POLLFDS];
	int first[ODO_LOOP_MAX_SOURCES], count[ODO_LOOP_MAX_SOURCES];
	int n = 0, rc;

	for (int i = 0; i < l->nsrc; i++) {
		const struct odo_source *s = &l->src[i].s;
		int k = 0;

		first[i] = n;
		if (s->ops->pollfds)
			k = s->ops->pollfds(s->self, &pfd[n], ODO_SOURCE_MAX_FDS);
		if (k < 0)
			k = 0;
		for (int j = 0; j < k; j++)
			pfd[n + j].revents = 0;
		count[i] = k;
		n += k;
	}
	if (l->extra_fd >= 0) {
		pfd[n].fd = l->extra_fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}

	rc = poll(pfd, (nfds_t)n, poll_timeout_ms(l, max_wait_ns));
	if (rc < 0 && errno != EINTR)
		return ODO_ERR_IO;

	/* the timers that came due before the inputs of this instant */
	int64_t now;
	if (l->mode == ODO_LOOP_LIVE) {
		/* the instant of this wake-up: the timers before it run at their
		 * own deadlines, however long they take; the inputs are at it */
		int64_t r;
		live_now(l, &now, &r);
		run_due(l, now + l->mono_shift_ns);
		live_sync(l, now, r, 0);
		now = odo_clock_mono_ns(l->clock);
	} else if (l->mode == ODO_LOOP_REPLAY) {
		/* the next instant anything happens */
		now = odo_loop_next_deadline(l);
		if (now == ODO_DEADLINE_NONE)
			now = odo_clock_mono_ns(l->clock);
		run_due(l, now);
	} else {
		now = odo_clock_mono_ns(l->clock);
		run_due(l, now);
	}

	l->extra_ready = 0;
	if (rc > 0) {
		for (int i = 0; i < l->nsrc; i++) {
			const struct odo_source *s = &l->src[i].s;
			int any = 0;

			for (int j = 0; j < count[i]; j++)
				any |= pfd[first[i] + j].revents != 0;
			if (any && s->ops->handle)
				s->ops->handle(s->self, &pfd[first[i]], count[i]);
		}
		if (l->extra_fd >= 0 && (pfd[n - 1].revents & POLLIN))
			l->extra_ready = 1;
	}
	/* what the inputs made due at this instant */
	if (l->mode == ODO_LOOP_SYSTEM)
		now = odo_clock_mono_ns(l->clock);
	run_due(l, now);
	tick_others(l);
	return ODO_OK;
}
