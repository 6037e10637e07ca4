/*
 * odo-agent — the crash trace (wire kind 10, CRASH_TRACE): the accelerometer
 * at the sensor's full rate from pre_s before a crash to post_s after it,
 * with the speeds, engine speed, position and airbag state around it
 * (docs/detection.md "Crash trace").
 *
 * Every accelerometer sample goes into a ring sized at open for
 * pre_s + hold_s + 3 s at max_hz (hold_s: how long after its start a crash
 * can be reported, the fusion window), and the context at most every
 * 100 ms into a second ring. A crash starts a trace of N = round((pre_s +
 * post_s) * hz) consecutive samples from the first at or after
 * crash - pre_s, hz being the rate measured over the ring; they go out in
 * n = ceil(N / 128) parts of 128 samples (the last one shorter), each part as
 * soon as it is full: the parts before the crash at once (so a power cut
 * during the window after it still leaves them in the outbox), the others
 * as the samples come. Each part carries its own first sample's time, so a
 * sensor gap shifts the times inside one part at most (counted, logged by
 * the caller). At shutdown the samples gathered so far go out as a last,
 * shorter part: such a trace has fewer than n parts.
 *
 * One trace at a time: a crash during a trace is inside it (counted).
 * Nothing allocates after odo_ctrace_open().
 */
#ifndef ODO_AGENT_CRASHTRACE_H
#define ODO_AGENT_CRASHTRACE_H

#include <stdint.h>

#include "odo/err.h"
#include "odo/wire.h"

/* Configured as [engine] crash_trace_pre_s, crash_trace_post_s,
 * crash_trace_max_hz (agent/engine). */
struct odo_ctrace_cfg {
	double pre_s;  /* seconds before the crash's start; 0 with post_s 0 = no traces */
	double post_s; /* seconds after it */
	double max_hz; /* the fastest accelerometer rate the ring is sized for */
};

/* What the trace says about the vehicle at a part's first sample (the
 * latest context given at or before it): NaN / -1 = not known then. */
struct odo_ctrace_ctx {
	double speed_mps;     /* GPS, with a current fix */
	double obd_speed_mps; /* OBD-II / vehicle bus, current */
	double rpm;
	double lat, lon;      /* with a current fix */
	int airbag;           /* -1 no airbag signal seen, 0 / 1 its last state */
};

struct odo_ctrace_stats {
	uint64_t traces;  /* started */
	uint64_t parts;   /* records made */
	uint64_t inside;  /* crashes that fell inside a trace under way */
	uint64_t gaps;    /* sensor gaps (> 1.5 periods) inside traces */
	uint64_t short_traces; /* ended before all their samples (shutdown) */
	int64_t max_gap_ns;
};

struct odo_ctrace;

/* Open with cfg (copied); hold_s: the longest delay between a crash's start
 * and odo_ctrace_trigger(). ODO_OK, ODO_ERR_INVAL (NULL, ranges: pre_s and
 * post_s 0..60, max_hz 1..1000, at most 256 parts), ODO_ERR_NOMEM. With
 * pre_s = post_s = 0 the handle records nothing. */
int odo_ctrace_open(const struct odo_ctrace_cfg *cfg, double hold_s, struct odo_ctrace **out) ODO_NODISCARD;
/* NULL is a no-op. */
void odo_ctrace_close(struct odo_ctrace *t);

/* One accelerometer sample: sensor frame, m/s^2 (specific force, gravity
 * included), at mono time ns (increasing). */
void odo_ctrace_sample(struct odo_ctrace *t, int64_t ns, const double a[3]);
/* The context as of ns (kept at most every 100 ms). */
void odo_ctrace_context(struct odo_ctrace *t, int64_t ns, const struct odo_ctrace_ctx *c);

/* A crash that started at crash_ns (mono) and whose event record has time
 * crash_ms ("ct") and trip trip_id. R: the sensor -> vehicle rotation (rows
 * forward, right, down in sensor axes) when the mounting is calibrated
 * (frame 0), NULL for the sensor frame (1). ODO_OK (started),
 * ODO_ERR_AGAIN (a trace is under way: this crash is inside it),
 * ODO_ERR_NOTFOUND (no samples, or traces off). */
int odo_ctrace_trigger(struct odo_ctrace *t, int64_t crash_ns, int64_t crash_ms, uint64_t trip_id,
		       const double R[3][3]) ODO_NODISCARD;

/* 1 while a trace is under way. */
int odo_ctrace_active(const struct odo_ctrace *t);

/* The next part that is ready: 1 with *r filled (t_ms and seq left 0: the
 * caller stamps the record with the time of *first_ns, its first sample)
 * and the part taken; 0 when none. final: the agent stops, the samples
 * gathered so far make a last part (and the trace ends). */
int odo_ctrace_next(struct odo_ctrace *t, int final, struct odo_record *r, int64_t *first_ns);

void odo_ctrace_stats(const struct odo_ctrace *t, struct odo_ctrace_stats *st);

#endif
