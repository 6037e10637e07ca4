/*
 * odo-agent — the device-status record (ODO_REC_STATUS): the gateway's own
 * health, not the drive's. Every [agent] status_period_s it reads the parts'
 * counters: uptime, outbox depth, oldest age and evictions, broker
 * reconnects, GPS/CAN/accelerometer errors, the GPS fix and so the clock
 * source, and the mount calibration (state, confidence, roll/pitch/yaw,
 * time it took to become ready, GPS lag, gyroscope). A replay emits none: a recording describes a drive, and its
 * output must depend on the recording alone.
 */
#ifndef ODO_AGENT_STATUS_H
#define ODO_AGENT_STATUS_H

#include <stdint.h>

#include "odo/clock.h"
#include "odo/err.h"
#include "odo/wire.h"
#include "source.h"

struct odo_store;
struct odo_uplink;
struct odo_gps;
struct odo_vbus;
struct odo_accel;
struct odo_engine;

/* The parts whose counters the record reports; borrowed. store is
 * required; a NULL part is absent (its fields stay 0). */
struct odo_status_parts {
	struct odo_store *store;
	struct odo_uplink *uplink;
	struct odo_gps *gps;
	struct odo_vbus *vbus;
	struct odo_accel *accel;
	struct odo_engine *engine; /* the mount calibration's state */
};

/* Fill *r with a STATUS record as of the clock's now (t_ms: system time);
 * start_mono_ns is when the agent started (uptime). */
void odo_status_record(const struct odo_status_parts *p, const struct odo_clock *clock, int64_t start_mono_ns,
		       struct odo_record *r);

/* Where the records go (the outbox); r is valid during the call only. */
typedef int (*odo_status_put_fn)(void *ctx, struct odo_record *r);

struct odo_status;

/* A timer source emitting one record every period_s, the first period_s
 * after now. parts is copied; clock borrowed. ODO_OK, ODO_ERR_INVAL,
 * ODO_ERR_NOMEM. */
int odo_status_open(const struct odo_status_parts *parts, const struct odo_clock *clock, double period_s,
		    odo_status_put_fn put, void *ctx, struct odo_status **out) ODO_NODISCARD;

/* The poll-loop interface (a deadline and a tick; no file descriptors). */
struct odo_source odo_status_source(struct odo_status *s);

/* Free; NULL is a no-op. */
void odo_status_close(struct odo_status *s);

#endif
