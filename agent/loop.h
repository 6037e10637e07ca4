/*
 * odo-agent — the single-threaded poll loop.
 *
 * The loop owns no sources: it is handed `struct odo_source`s (agent/source.h)
 * and, each round, gathers their pollfds and deadlines, sleeps in poll() until
 * the earliest deadline (never longer than max_wait), dispatches revents back
 * to the source that asked, and ticks every source whose deadline has come.
 * Deadlines are on the given clock's MONO line; with a virtual clock (replay)
 * the loop never sleeps: the replay moves time.
 */
#ifndef ODO_AGENT_LOOP_H
#define ODO_AGENT_LOOP_H

#include <stdint.h>

#include "odo/clock.h"
#include "odo/err.h"
#include "source.h"

#define ODO_LOOP_MAX_SOURCES 16

struct odo_loop {
	const struct odo_clock *clock;
	struct odo_source src[ODO_LOOP_MAX_SOURCES];
	int nsrc;
	int extra_fd; /* e.g. a signalfd; -1 when none */
	int extra_ready;
};

void odo_loop_init(struct odo_loop *l, const struct odo_clock *clock);
/* Add a source; ODO_ERR_FULL past ODO_LOOP_MAX_SOURCES. */
int odo_loop_add(struct odo_loop *l, struct odo_source s) ODO_NODISCARD;
/* One more fd polled for input alongside the sources (the signalfd);
 * after odo_loop_once(), l->extra_ready says whether it was readable. */
void odo_loop_set_extra_fd(struct odo_loop *l, int fd);
/* One round: poll (up to max_wait_ns; 0 = do not block), dispatch, tick.
 * Returns ODO_OK, or ODO_ERR_IO when poll() itself failed (not EINTR). */
int odo_loop_once(struct odo_loop *l, int64_t max_wait_ns);
/* Tick every source whose deadline is at or before the clock's now
 * (what a replay calls after moving the virtual clock). */
void odo_loop_tick_due(struct odo_loop *l);

#endif
