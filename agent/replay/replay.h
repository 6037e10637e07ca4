/*
 * odo-agent drive recordings: the recorder writes the files a drive
 * recording holds, and a replay is one more source under the loop
 * (docs/inputs.md).
 *
 * A recording directory holds
 *   gps.log    gpsd JSON reports as `gpspipe -w` writes them, each prefixed
 *              with its receipt time: "1533234567.123456 {"class":"TPV",...}"
 *   can.log    `candump -l` lines: "(1533234567.123456) can0 7E8#0441..."
 *   accel.csv  "t,x,y,z,saturated" (m/s^2, sensor frame)
 *   phone.csv  "t,screen,call,handled" (on|off, none|handheld|handsfree, 0|1)
 *   meta.conf  INI: [recording] version, start, end; [device] id;
 *              [vehicle] name; [accel] chip, mounting
 * t is the receipt time, Unix seconds with microseconds; `start` is when
 * the live agent's loop started, `end` when it stopped (absent after a
 * crash). A missing file is an empty
 * stream. Each source writes and parses its own line format (gps.c,
 * can/candump.c, accel/csv.c, phone.c); the replay only merges the streams
 * by time, over a const table of {file, parse, deliver}.
 *
 * The replay as a source (odo_replay_source()): its deadline is the time of
 * its next item on the virtual clock, so the loop advances the clock to the
 * earliest deadline of all sources and the timers of the other sources fire
 * between items exactly as they did live; its tick delivers every item of
 * that instant, to the same sources (in replay mode) a live drive uses.
 */
#ifndef ODO_AGENT_REPLAY_H
#define ODO_AGENT_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "odo/clock.h"
#include "odo/err.h"
#include "source.h"

/* Longest recording line accepted (a gpsd report plus its time prefix). */
#define ODO_REPLAY_LINE_MAX 4200
#define ODO_REPLAY_META_MAX 128

/* The streams, in the order items of the same instant are delivered (the
 * order in which the live loop serves its sources). */
enum odo_replay_stream { ODO_RSTREAM_GPS = 0, ODO_RSTREAM_CAN, ODO_RSTREAM_ACCEL, ODO_RSTREAM_PHONE, ODO_RSTREAM__COUNT };

/* File name of each stream inside a recording directory. */
extern const char *const odo_replay_files[ODO_RSTREAM__COUNT];

struct odo_recording_meta {
	int64_t start_real_ns;
	int64_t end_real_ns; /* 0: not known (the agent did not stop cleanly) */
	char device_id[ODO_REPLAY_META_MAX];
	char vehicle[ODO_REPLAY_META_MAX];
	char accel_chip[ODO_REPLAY_META_MAX];
	char mounting[ODO_REPLAY_META_MAX]; /* free text, e.g. "yaw=90 pitch=5 roll=-3 deg" */
};

struct odo_recorder;

/*
 * Create `dir` (if missing) and open its five files for writing (truncating),
 * writing meta.conf and the CSV headers. meta may be NULL (copied). Returns
 * ODO_OK, ODO_ERR_INVAL, ODO_ERR_NOMEM, ODO_ERR_IO.
 */
int odo_recorder_open(const char *dir, const struct odo_recording_meta *meta,
		      struct odo_recorder **out) ODO_NODISCARD;

/* The FILE* taps for odo_gps_set_recorder(), odo_vbus_set_recorder(),
 * odo_accel_set_recorder(), odo_phone_set_recorder(). Owned by r. */
FILE *odo_recorder_file(struct odo_recorder *r, enum odo_replay_stream s);

/* Flush everything written so far (e.g. once a second). ODO_OK / ODO_ERR_IO. */
int odo_recorder_flush(struct odo_recorder *r);

/* The agent stopped at end_real_ns (its pipeline clock): written to
 * meta.conf [recording] end, so that a replay runs the timers up to the
 * same instant. ODO_OK / ODO_ERR_IO. */
int odo_recorder_end(struct odo_recorder *r, int64_t end_real_ns) ODO_NODISCARD;

/* Flush and close the files; NULL is a no-op. */
void odo_recorder_close(struct odo_recorder *r);

struct odo_gps;
struct odo_vbus;
struct odo_accel;
struct odo_phone;

/*
 * Where replayed items go: the sources, opened in replay mode. A NULL
 * member's stream is read and counted but not delivered.
 *   gps   : each gps.log report through odo_gps_feed_json()
 *   vbus  : each can.log frame through odo_vbus_feed_frame()
 *   accel : each accel.csv sample through odo_accel_feed()
 *   phone : each phone.csv state through odo_phone_feed()
 */
struct odo_replay_targets {
	struct odo_gps *gps;
	struct odo_vbus *vbus;
	struct odo_accel *accel;
	struct odo_phone *phone;
};

struct odo_replay_stats {
	uint64_t items[ODO_RSTREAM__COUNT];   /* delivered */
	uint64_t corrupt[ODO_RSTREAM__COUNT]; /* lines skipped (logged with file:line) */
	uint64_t out_of_order;                /* items older than the one before (delivered at once) */
};

struct odo_replay;

/*
 * Open the recording in `dir` for replay on the virtual clock `clock`
 * (borrowed): REAL is set to the recording's start ([recording] start, the
 * instant the live agent's timers started from), or to the first item when
 * that is earlier or the start not known; MONO moves on (less than 1 s) so
 * that REAL - MONO is a whole number of seconds, as live (loop.h).
 * targets is copied. meta.conf gives start and end; one that cannot be
 * parsed is logged and ignored. Returns ODO_OK,
 * ODO_ERR_INVAL, ODO_ERR_NOMEM, ODO_ERR_NOTFOUND (dir has none of the files).
 */
int odo_replay_open(const char *dir, struct odo_clock *clock, const struct odo_replay_targets *t,
		    struct odo_replay **out) ODO_NODISCARD;

/* The poll-loop interface: no file descriptors; the deadline is the mono
 * instant of the next item (then of the recording's end); tick delivers
 * every item due. Register it after the sources it feeds: at one instant
 * the loop runs the other sources' timers first, as live. */
struct odo_source odo_replay_source(struct odo_replay *rp);

/* 1 when every item was delivered and the clock reached the recording's
 * end (or its last item, when the end is not known). */
int odo_replay_done(const struct odo_replay *rp);

/*
 * Without a loop (tools, tests): move the clock to the next item and
 * deliver it. Returns ODO_OK, or ODO_ERR_CLOSED when every stream is
 * exhausted.
 */
int odo_replay_step(struct odo_replay *rp) ODO_NODISCARD;

void odo_replay_stats(const struct odo_replay *rp, struct odo_replay_stats *out);

void odo_replay_close(struct odo_replay *rp);

#endif
