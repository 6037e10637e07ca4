/*
 * odo-agent — the single-threaded discrete-event loop, one for live and
 * replay.
 *
 * The loop owns no sources: it is handed `struct odo_source`s
 * (agent/source.h). Their deadlines are on the MONO line of the loop's
 * pipeline clock, which is virtual in both modes and moves only as the loop
 * says:
 *
 *   live    each round sleeps in poll() until the earliest deadline (never
 *           longer than max_wait), then runs every timer that came due, in
 *           deadline order and each at its own deadline (the clock set
 *           there), then sets the clock to the system's now (microseconds;
 *           REAL = MONO + a whole number of seconds, as in a replay, the
 *           offset re-taken only when the system clock is stepped),
 *           dispatches the revents of that instant, and runs what the
 *           inputs made due at that instant.
 *   replay  never sleeps: each round advances the clock to the earliest
 *           deadline of all sources (the replay's next item is one of them)
 *           and runs everything due there.
 *
 * So a timer fires at the same instant relative to the inputs in both
 * modes, and a recording replays to the records the live run made. At one
 * instant sources run in the order they were added (timers before inputs:
 * add the replay last). Sources on another clock (the uplink, on the system
 * clock: odo_loop_add_on()) are polled and ticked by their own clock.
 */
#ifndef ODO_AGENT_LOOP_H
#define ODO_AGENT_LOOP_H

#include <stdint.h>

#include "odo/clock.h"
#include "odo/err.h"
#include "source.h"

#define ODO_LOOP_MAX_SOURCES 16
/* A system-clock jump (REAL against MONO) larger than this re-takes the
 * live offset; smaller differences are the two clocks' read jitter. */
#define ODO_LOOP_CLOCK_STEP_NS (50 * ODO_NS_PER_MS)
/* Timer passes at one instant before the loop gives up on a source that
 * stays due (and logs it). */
#define ODO_LOOP_MAX_PASSES 64

enum odo_loop_mode {
	ODO_LOOP_SYSTEM = 0, /* clock is a system clock: sleep and tick as it reads (drain, tools) */
	ODO_LOOP_LIVE,       /* virtual clock following the system clock (see above) */
	ODO_LOOP_REPLAY,     /* virtual clock jumping from deadline to deadline */
};

struct odo_loop_entry {
	struct odo_source s;
	const struct odo_clock *clock; /* NULL: the loop's clock */
};

struct odo_loop {
	struct odo_clock *clock;
	enum odo_loop_mode mode;
	struct odo_clock sys; /* live: what the clock follows */
	int64_t off_ns;        /* live: REAL - MONO, whole seconds */
	int64_t mono_shift_ns; /* live: MONO - the system's MONO, < 1 s */
	struct odo_loop_entry src[ODO_LOOP_MAX_SOURCES];
	int nsrc;
	int extra_fd; /* e.g. a signalfd; -1 when none */
	int extra_ready;
	uint64_t stuck; /* instants at which a source stayed due (logged) */
};

/* Set up a loop on `clock` (borrowed). ODO_LOOP_LIVE makes the clock a
 * virtual one standing at the system's now; ODO_LOOP_REPLAY leaves it to
 * the replay (odo_replay_open() sets its REAL); ODO_LOOP_SYSTEM wants a
 * system clock. */
void odo_loop_init(struct odo_loop *l, struct odo_clock *clock, enum odo_loop_mode mode);
/* Add a source on the loop's clock; ODO_ERR_FULL past ODO_LOOP_MAX_SOURCES,
 * ODO_ERR_INVAL without ops. */
int odo_loop_add(struct odo_loop *l, struct odo_source s) ODO_NODISCARD;
/* Add a source whose deadlines are on `clock` (borrowed), e.g. the uplink
 * on the system clock: polled with the others, ticked when its clock says. */
int odo_loop_add_on(struct odo_loop *l, struct odo_source s, const struct odo_clock *clock) ODO_NODISCARD;
/* One more fd polled for input alongside the sources (the signalfd);
 * after odo_loop_once(), l->extra_ready says whether it was readable. */
void odo_loop_set_extra_fd(struct odo_loop *l, int fd);
/* One round (see above); max_wait_ns bounds the sleep (0: do not block).
 * Returns ODO_OK, or ODO_ERR_IO when poll() itself failed (not EINTR). */
int odo_loop_once(struct odo_loop *l, int64_t max_wait_ns) ODO_NODISCARD;
/* The earliest deadline of the sources on the loop's clock
 * (ODO_DEADLINE_NONE when none has one). */
int64_t odo_loop_next_deadline(const struct odo_loop *l);

#endif
