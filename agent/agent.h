/*
 * odo-agent — the program's parts and its one run (agent.c): the wiring of
 * sources -> engine -> outbox -> uplink into the discrete-event loop, the
 * signals, and the drain at the end. main.c is the command line.
 */
#ifndef ODO_AGENT_AGENT_H
#define ODO_AGENT_AGENT_H

#include <stdint.h>
#include <stdio.h>

#include "odo/clock.h"

#include "conf.h"
#include "loop.h"
#include "replay/replay.h"
#include "status.h"

struct agent {
	struct odo_agent_conf conf;

	/* clocks: `pipe` drives sources and the engine (virtual in replay),
	 * `sys` drives the outbox and the network */
	struct odo_clock pipe_clock, sys_clock;

	/* parts */
	struct odo_gps *gps;
	struct odo_vbus *vbus;
	struct odo_accel *accel;
	struct odo_phone *phone;
	struct odo_engine *engine;
	struct odo_store *store;
	struct odo_uplink *uplink;
	struct odo_recorder *recorder;
	struct odo_replay *replay;
	struct odo_status *status;
	struct odo_sink sink;       /* what sources deliver to: the engine's */

	struct odo_loop loop;      /* live or replay, every part */
	int sigfd;
	FILE *emit;                /* --emit: one line per record */
	int64_t start_mono_ns;
	int64_t next_engine_ns;    /* on the pipeline clock */
	int64_t next_flush_ns;     /* recorder flush */
	uint64_t records, record_errors;
	int stop, reload;
};

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd for them (-1 on
 * error); SIGPIPE is ignored. */
int agent_signals_open(void);

/* Opens every part into a->loop: the outbox, the engine, the uplink (unless
 * no_uplink or [agent] uplink is off), then the replay's sources (replay_dir)
 * or the live ones (recording into record_dir when given). with_state: a
 * replay loads and saves the calibration in [agent] state_dir. Logs what
 * failed; returns ODO_OK or the first error (agent_close() in any case). */
int agent_open(struct agent *a, const char *replay_dir, const char *record_dir, int no_uplink, int with_state);

/* The one loop, live or replaying, until a signal or the recording's end;
 * then the trip ends and what the link allows is sent (a replay waits up to
 * drain_s for the collector's acks). Returns the exit status. */
int agent_run(struct agent *a, double drain_s);

void agent_close(struct agent *a);

#endif
