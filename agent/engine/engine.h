/*
 * odo-agent — the engine: implements the input sink (agent/input.h) and ties
 * mounting calibration (calib/), the detectors (detect/) and the trip builder
 * (trip/) together. It emits wire records (TRIP_START, TRIP_END, EVENT,
 * SAMPLE, PHONE, DTC, VEHICLE) through a callback, seq left 0 (the store
 * assigns it), each stamped with t_ms/tsrc: GPS time (offset GPS UTC minus
 * mono, kept from the last valid fix) when known, else the injected clock's
 * real time with ODO_TSRC_SYSTEM.
 * Nothing on the per-sample path allocates; all state is sized at open.
 */
#ifndef ODO_ENGINE_H
#define ODO_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "calib/calib.h"
#include "crashtrace/crashtrace.h"
#include "detect/detect.h"
#include "input.h"
#include "odo/clock.h"
#include "odo/config.h"
#include "odo/ltime.h"
#include "odo/wire.h"
#include "track/track.h"
#include "trip/trip.h"

/* [engine] section. */
struct odo_engine_sect {
	double sample_period_s; /* SAMPLE record period during a trip; 0 = none */
	double accel_timeout_s; /* no accel sample for this long = no accelerometer (speed fallback) */
	double gps_stale_s;     /* a fix older than this is not "current" */
	struct odo_track_cfg track; /* TRACK records (dense track for map matching) */
	struct odo_ctrace_cfg trace; /* CRASH_TRACE records (the full-rate window around a crash) */
};

extern const struct odo_cfg_key odo_engine_cfg_keys[];
extern const size_t odo_engine_cfg_nkeys;

struct odo_engine_cfg {
	struct odo_detect_cfg detect;
	struct odo_calib_cfg calib;
	struct odo_trip_cfg trip;
	struct odo_engine_sect engine;
};

#define ODO_ENGINE_CFG_NSECTIONS 4

/* Fill cfg with the defaults of every section. */
void odo_engine_cfg_defaults(struct odo_engine_cfg *cfg);
/* Describe the four sections ([detect] [calib] [trip] [engine]) of cfg for
 * odo_config_parse_*(); secs has ODO_ENGINE_CFG_NSECTIONS entries. */
void odo_engine_cfg_sections(struct odo_engine_cfg *cfg, struct odo_cfg_section *secs);

struct odo_engine;

/* The record callback: r is valid during the call only. Non-zero return =
 * the record was not taken (counted in stats.emit_errors). */
typedef int (*odo_engine_emit_fn)(void *ctx, struct odo_record *r);

/*
 * Open an engine. cfg is copied; clock and tz are borrowed (must outlive the
 * engine; tz may be NULL = UTC). state_path: calibration persistence file
 * (NULL = none); loaded now, saved at every calibration state change, at
 * every trip end and at close (the statistics learnt so far carry over). Returns ODO_OK, ODO_ERR_INVAL (NULL clock/emit/out), ODO_ERR_CONFIG
 * (bad mounting matrix, grade levels not increasing: logged), ODO_ERR_NOMEM.
 */
int odo_engine_open(const struct odo_engine_cfg *cfg, const struct odo_clock *clock, const struct odo_tz *tz,
                    odo_engine_emit_fn emit, void *emit_ctx, const char *state_path,
                    struct odo_engine **out) ODO_NODISCARD;

/*
 * Where trip identity and the open trip's checkpoint live: the outbox
 * (agent/store: odo_store_trip_next_id / _checkpoint / _recover). Without
 * one (a replay with no outbox, tests) trip ids come from an in-memory
 * counter starting at 1 and nothing is checkpointed.
 *   next_id:    the next trip id, durable, never reused (ODO_OK; on error
 *               *id is still set and the engine logs it);
 *   checkpoint: the open trip's summary so far (a TRIP_END record, end
 *               reason "recovered"), every [trip] checkpoint_s and right
 *               after the trip starts;
 *   recover:    a trip an unclean stop left open: ODO_OK with its last
 *               checkpoint, ODO_ERR_NOTFOUND when none.
 */
struct odo_engine_trip_store {
	void *ctx;
	int (*next_id)(void *ctx, uint64_t *id);
	int (*checkpoint)(void *ctx, const struct odo_record *trip_end);
	int (*recover)(void *ctx, struct odo_record *trip_end);
};

/* Use ts (copied; ts->ctx borrowed) for trip ids and checkpoints, and close
 * right away every trip a previous unclean stop left open: each is emitted
 * as its trip end ("end": 2, the summary of its last checkpoint). Returns
 * the number of trips closed so. */
int odo_engine_set_trip_store(struct odo_engine *e, const struct odo_engine_trip_store *ts);

/* The sink sources deliver to (ctx = e). */
struct odo_sink odo_engine_sink(struct odo_engine *e);

/* Periodic work (call at least once a second): SAMPLE records, pending
 * crash fusion, trip end on timeouts. Uses the clock's mono time. */
void odo_engine_tick(struct odo_engine *e);

/* End an open trip now (shutdown, end of a replay): "end": 1. A crash
 * trace under way is ended with the samples it has (a shorter last part). */
void odo_engine_finish(struct odo_engine *e);

struct odo_engine_stats {
	uint64_t records; /* emitted */
	uint64_t emit_errors;
	uint64_t events[ODO_EV__MAX + 1]; /* by enum odo_event_kind */
	uint64_t trips;                   /* ended */
	uint64_t recovered;               /* trips closed from a checkpoint at start-up */
	uint64_t checkpoints;             /* open-trip checkpoints written */
	uint64_t trip_store_errors;       /* trip id / checkpoint writes that failed */
	uint64_t accel_samples;
	int calib_ready;
	int calib_fixed;         /* explicit matrix */
	double calib_confidence; /* 0..1 */
	uint32_t remounts;
	uint32_t combined; /* brakes/accelerations folded into a harsh corner */
	int crash_accel_off; /* the accelerometer runs below 100 Hz: no crash detection from it */
	uint32_t impacts_rejected; /* impacts >= crash_g without the crash's speed change */
	double last_impact_dv_kmh; /* speed change of the last impact judged (km/h), NaN none */
	struct odo_ctrace_stats trace; /* crash traces */
	double R[3][3];    /* sensor -> vehicle rotation in use */
};

/* Copy the counters into *st. */
void odo_engine_stats(const struct odo_engine *e, struct odo_engine_stats *st);

/* The status record's calibration keys (cal, calq, roll, pitch, yaw,
 * calt, glag, gyro) as of now. */
void odo_engine_calib_status(const struct odo_engine *e, struct odo_rec_status *st);

/* Save calibration, free. NULL is a no-op. Does not end a trip. */
void odo_engine_close(struct odo_engine *e);

#endif
