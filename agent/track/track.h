/*
 * odo-agent — the dense track for map matching (wire kind 9, TRACK).
 *
 * GPS fixes of an open trip, thinned to one point per `point_s` (1 Hz), are
 * batched into track records of at most `record_s` seconds and
 * ODO_WIRE_MAX_TRACK points; the codec delta-encodes them (~10 bytes per
 * point on the wire: docs/benchmarks.md "Dense track"). Fixes from the few
 * seconds before a trip starts (a trip started by motion is back-dated to when
 * the motion began) are kept in a small ring and go into the trip's first
 * record. No allocation after odo_track_init(): the state, the pending
 * record and the ring are inside struct odo_track.
 */
#ifndef ODO_AGENT_TRACK_H
#define ODO_AGENT_TRACK_H

#include <stdint.h>

#include "odo/wire.h"

/* Configured as [engine] track_point_s, track_record_s (agent/engine). */
struct odo_track_cfg {
	double point_s;  /* at most one point per this many seconds (1 = 1 Hz); 0 = no track records */
	double record_s; /* a record holds at most this many seconds of points */
};

#define ODO_TRACK_PRE_RING 32 /* fixes kept from before a trip starts */

struct odo_track_pt {
	int64_t t_ms;
	double lat, lon, speed_mps, eph_m; /* NaN speed/eph: not reported */
};

struct odo_track {
	struct odo_track_cfg cfg;
	uint64_t trip_id;             /* of the pending record; 0 none */
	int64_t t0_ms;                /* the pending record's "t" */
	int64_t last_ms;              /* time of the last point taken (any trip) */
	int64_t last_ds;              /* its offset from t0 in 0.1 s */
	struct odo_rec_track rec;     /* the pending record */
	struct odo_track_pt pre[ODO_TRACK_PRE_RING];
	unsigned pre_head, pre_n;
};

void odo_track_init(struct odo_track *t, const struct odo_track_cfg *cfg);

/*
 * A fix (valid 2D/3D position; t_ms on the records' clock). trip_id: the
 * open trip, 0 when none (the fix is only remembered for a trip about to
 * be back-dated). trip_start_ms: that trip's start (pre-trip fixes at or after
 * it are included). Returns 1 and fills *out when a record is complete
 * (the caller emits it; the fix itself may then start the next record).
 */
int odo_track_fix(struct odo_track *t, uint64_t trip_id, int64_t trip_start_ms, int64_t t_ms, double lat,
		  double lon, double speed_mps, double eph_m, struct odo_record *out);

/* The pending record, if any (at trip end or shutdown): 1 and *out filled. */
int odo_track_flush(struct odo_track *t, struct odo_record *out);

#endif
