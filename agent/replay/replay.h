/*
 * odo-agent drive recordings: record live inputs to a directory, replay
 * them through the very same parsers on a virtual clock (docs/inputs.md).
 *
 * A recording directory holds
 *   gps.log    gpsd JSON reports as `gpspipe -w` writes them, each prefixed
 *              with its receipt time: "1533234567.123456 {"class":"TPV",...}"
 *   can.log    `candump -l` lines: "(1533234567.123456) can0 7E8#0441..."
 *   accel.csv  "t,x,y,z,saturated" (m/s^2, sensor frame)
 *   phone.csv  "t,screen,call,handled" (on|off, none|handheld|handsfree, 0|1)
 *   meta.conf  INI: [recording] start, [device] id, [vehicle] name,
 *              [accel] chip, mounting
 * t is the receipt time, Unix seconds with microseconds. A missing file is
 * an empty stream.
 */
#ifndef ODO_AGENT_REPLAY_H
#define ODO_AGENT_REPLAY_H

#include <linux/can.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "odo/clock.h"
#include "odo/err.h"

/* Longest recording line accepted (a gpsd report plus its time prefix). */
#define ODO_REPLAY_LINE_MAX 4200
#define ODO_REPLAY_META_MAX 128

enum odo_replay_stream { ODO_RSTREAM_GPS = 0, ODO_RSTREAM_CAN, ODO_RSTREAM_ACCEL, ODO_RSTREAM_PHONE, ODO_RSTREAM__COUNT };

/* File name of each stream inside a recording directory. */
extern const char *const odo_replay_files[ODO_RSTREAM__COUNT];

struct odo_recording_meta {
	int64_t start_real_ns;
	char device_id[ODO_REPLAY_META_MAX];
	char vehicle[ODO_REPLAY_META_MAX];
	char accel_chip[ODO_REPLAY_META_MAX];
	char mounting[ODO_REPLAY_META_MAX]; /* free text, e.g. "yaw=90 pitch=5 roll=-3 deg" */
};

struct odo_recorder;

/*
 * Create `dir` (if missing) and open its five files for writing (truncating),
 * writing meta.conf and the CSV headers. meta may be NULL. Returns ODO_OK,
 * ODO_ERR_INVAL, ODO_ERR_NOMEM, ODO_ERR_IO.
 */
int odo_recorder_open(const char *dir, const struct odo_recording_meta *meta,
		      struct odo_recorder **out) ODO_NODISCARD;

/* The FILE* taps for odo_gps_set_recorder(), odo_vbus_set_recorder(),
 * odo_accel_set_recorder(), odo_phone_set_recorder(). Owned by r. */
FILE *odo_recorder_file(struct odo_recorder *r, enum odo_replay_stream s);

/* Flush everything written so far (e.g. once a second). ODO_OK / ODO_ERR_IO. */
int odo_recorder_flush(struct odo_recorder *r);

/* Flush and close the files; NULL is a no-op. */
void odo_recorder_close(struct odo_recorder *r);

struct odo_gps;
struct odo_vbus;
struct odo_phone;

/*
 * Where replayed items go. Any member may be NULL (that stream is read and
 * counted but not delivered).
 *   gps   : each gps.log report goes through odo_gps_feed_json()
 *   vbus  : each can.log frame goes through odo_vbus_feed_frame(), or through
 *           can_feed(can_ctx, ...) when that hook is set
 *   phone : each phone.csv row goes through odo_phone_feed_line(); when NULL
 *           the row is parsed with odo_phone_parse() and given to sink->phone
 *   sink  : accel samples (and phone states without `phone`)
 */
struct odo_replay_targets {
	struct odo_gps *gps;
	struct odo_vbus *vbus;
	struct odo_phone *phone;
	const struct odo_sink *sink;
	void (*can_feed)(void *can_ctx, const struct can_frame *f, const char *ifname);
	void *can_ctx;
};

struct odo_replay_stats {
	uint64_t items[ODO_RSTREAM__COUNT];   /* delivered */
	uint64_t corrupt[ODO_RSTREAM__COUNT]; /* lines skipped (logged with file:line) */
	uint64_t out_of_order;            /* items older than the one before (clock held) */
};

struct odo_replay;

/*
 * Open the recording in `dir` for replay on the virtual clock `clock`
 * (borrowed; odo_replay_step() moves it). targets is copied. Returns ODO_OK,
 * ODO_ERR_INVAL, ODO_ERR_NOMEM, ODO_ERR_NOTFOUND (dir has none of the files).
 */
int odo_replay_open(const char *dir, struct odo_clock *clock, const struct odo_replay_targets *t,
		    struct odo_replay **out) ODO_NODISCARD;

/*
 * Deliver the next item of the merged streams in receipt-time order (ties:
 * gps, can, accel, phone), after setting the clock's REAL time to its time
 * (odo_clock_set_real). Corrupt lines are counted, logged and skipped.
 * Returns ODO_OK, or ODO_ERR_CLOSED when every stream is exhausted.
 */
int odo_replay_step(struct odo_replay *rp) ODO_NODISCARD;

void odo_replay_stats(const struct odo_replay *rp, struct odo_replay_stats *out);

void odo_replay_close(struct odo_replay *rp);

/* Parse a receipt time "1533234567.123456" at s; *end after it. 0 / -1. */
int odo_replay_parse_time(const char *s, const char **end, int64_t *ns);

#endif
