/*
 * odo — the wire format between odo-agent and odo-collector, version 2.
 *
 * docs/wire-format.md specifies it in CDDL; this header is its C face.
 *
 * One MQTT message on odo/v1/<device>/up carries one CBOR-encoded batch:
 *
 *   { "v": 2, "dev": "<device id>", "ep": <epoch>, "af": <acked floor>,
 *     "seq": <range start>, "recs": [ record, ... ] }
 *
 * "ep" is the sending outbox's epoch: a random 63-bit number chosen when
 * the outbox was created (0 only for an outbox migrated from version 1).
 * Sequence numbers and trip ids are unique per (device, epoch). Every record
 * carries its own sequence number "s" (strictly increasing within a batch).
 * "seq" is the start of the range the batch covers: the sender asserts that
 * no record exists with a sequence number in [seq, last record's s] other
 * than those in the batch (numbers in the range that are absent were
 * evicted on the device and will never come). "af" (acked floor, < seq)
 * says every seq in [1, af] of this epoch was acknowledged to this outbox
 * and is no longer held. The collector acknowledges on odo/v1/<device>/ack:
 *
 *   { "v": 2, "dev": "<device id>", "ep": <epoch>, "ack": <n> }
 *
 * meaning: every sequence number in [1, n] of that epoch has been committed
 * to the database or is known never to exist.
 *
 * Version policy: senders produce version 2 only; receivers accept 1 and 2.
 * A version 1 batch has no "ep"/"af" and reads as epoch 0, floor 0; keys
 * and kinds that appeared in version 2 are unknown inside it.
 *
 * Encoding never allocates: it writes into a caller-provided buffer.
 * Decoding is strict and bounded (see odo_wire_decode_batch()).
 */
#ifndef ODO_WIRE_H
#define ODO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

#define ODO_WIRE_VERSION 2        /* what the encoder produces */
#define ODO_WIRE_VERSION_MIN 1    /* oldest version the decoder accepts */

#define ODO_DEVICE_ID_MAX 64      /* characters, [A-Za-z0-9._-], at least 1 */
#define ODO_WIRE_MAX_RECORDS 1024 /* records in one batch */
#define ODO_WIRE_MAX_MESSAGE (256 * 1024) /* bytes of one encoded batch */
#define ODO_WIRE_MAX_DTCS 32      /* codes per list in one DTC record */
#define ODO_DTC_LEN 5             /* "P0301" */
#define ODO_VIN_LEN 17
#define ODO_WIRE_MAX_STRING 64    /* any other text field */
#define ODO_WIRE_MAX_TRACK 64     /* points in one track record */
#define ODO_WIRE_MAX_TRACE 128    /* samples per axis in one crash-trace record */
#define ODO_WIRE_MAX_TRACE_PARTS 256
/* Upper bound on one encoded record (a full track or crash trace is the
 * largest, about 1.3 KB). */
#define ODO_WIRE_MAX_RECORD_BYTES 2048

/* Bounds every value must respect so that PostgreSQL can store it. */
#define ODO_WIRE_MAX_U63 INT64_MAX       /* bigint: seq, epochs, trip ids, 64-bit counters, ms */
#define ODO_WIRE_MAX_COUNT INT32_MAX     /* integer: per-trip counters */
#define ODO_WIRE_MAX_EVENT_MS 86400000   /* an event lasts at most one day */
/* The receiver's time window: every timestamp lies in
 * [ODO_WIRE_TIME_MIN_MS, now + ODO_WIRE_TIME_AHEAD_MS]. */
#define ODO_WIRE_TIME_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define ODO_WIRE_TIME_AHEAD_MS 86400000LL
/*
 * Physical bounds on floats, with a wide margin (wire v2; docs/wire-format.md
 * "Bounds"): finite alone lets a hostile record carry 1e308, which overflows
 * the collector's unit conversions and monthly sums. Within these, a sum over
 * a million trips stays far inside a double.
 */
#define ODO_WIRE_MAX_SPEED_MPS 1000.0 /* speeds: GPS, OBD, averages, spreads */
#define ODO_WIRE_MAX_DIST_M 1e9       /* distances of one trip */
#define ODO_WIRE_MAX_DUR_S 1e9        /* durations in seconds */
#define ODO_WIRE_MAX_RPM 1e5          /* engine speed, 1/min */
#define ODO_WIRE_MAX_G 1000.0         /* accelerations in g, either sign */
#define ODO_WIRE_MAX_JERK 1e5         /* m/s^3 */
#define ODO_WIRE_MAX_ERR_M 1e7        /* GPS error estimates */
#define ODO_WIRE_MAX_ALT_M 1e6        /* altitude, either sign */
#define ODO_WIRE_MIN_TEMP_C (-273.15) /* temperatures */
#define ODO_WIRE_MAX_TEMP_C 1e4

enum odo_record_kind {
	ODO_REC_TRIP_START = 1,
	ODO_REC_TRIP_END = 2, /* trip summary */
	ODO_REC_EVENT = 3,    /* driving event */
	ODO_REC_SAMPLE = 4,   /* periodic sample */
	ODO_REC_DTC = 5,      /* diagnostic trouble codes */
	ODO_REC_VEHICLE = 6,  /* vehicle information (VIN) */
	ODO_REC_PHONE = 7,    /* phone state change */
	ODO_REC_STATUS = 8,   /* device status / health */
	ODO_REC_TRACK = 9,    /* dense GPS track (version 2) */
	ODO_REC_CRASH_TRACE = 10, /* full-rate window around a crash (version 2) */
	ODO_REC__MAX = 10
};

/* Where a record's timestamp came from. */
enum odo_time_source {
	ODO_TSRC_GPS = 0,    /* GPS time, fix valid */
	ODO_TSRC_SYSTEM = 1, /* system clock (NTP or RTC, unverified) */
};

enum odo_event_kind {
	ODO_EV_HARD_BRAKE = 1,
	ODO_EV_RAPID_ACCEL = 2,
	ODO_EV_CORNER_LEFT = 3,
	ODO_EV_CORNER_RIGHT = 4,
	ODO_EV_SWERVE = 5,
	ODO_EV_CRASH = 6,
	ODO_EV_PHONE_DISTRACTION = 7,
	ODO_EV__MAX = 7
};

/* What an event was measured with. */
enum odo_event_source {
	ODO_EVSRC_ACCEL = 0,      /* accelerometer, vehicle frame */
	ODO_EVSRC_SPEED = 1,      /* derivative of GPS/OBD speed (lower accuracy) */
	ODO_EVSRC_AIRBAG = 2,     /* airbag / crash signal from the vehicle */
	ODO_EVSRC_ACCEL_AIRBAG = 3, /* both agreed */
	ODO_EVSRC_PHONE = 4,      /* phone state */
};

/* Event severity grade ("gr", docs/detection.md). */
enum odo_event_grade { ODO_GRADE_MODERATE = 1, ODO_GRADE_HARSH = 2, ODO_GRADE_SEVERE = 3 };

/* Why a trip ended ("end"). */
enum odo_trip_end_reason {
	ODO_TRIP_END_STOPPED = 0,   /* parked / ignition timeout */
	ODO_TRIP_END_SHUTDOWN = 1,  /* agent shut down (SIGTERM = ignition off) */
	ODO_TRIP_END_RECOVERED = 2, /* closed at start-up after an unclean stop, from the last checkpoint */
};

/* Longitudinal signal source of a trip ("lsrc"). */
enum odo_lon_source { ODO_LSRC_ACCEL = 0, ODO_LSRC_SPEED = 1, ODO_LSRC_BOTH = 2 };

/* Mount calibration state ("cal"). */
enum odo_calib_state { ODO_CAL_LEARNING = 0, ODO_CAL_READY = 1, ODO_CAL_RELEARNING = 2 };

/* Gyroscope use by calibration ("gyro"). */
enum odo_gyro_state { ODO_GYRO_NONE = 0, ODO_GYRO_LEARNING = 1, ODO_GYRO_ESTABLISHED = 2 };

enum odo_call_state { ODO_CALL_NONE = 0, ODO_CALL_HANDHELD = 1, ODO_CALL_HANDSFREE = 2 };

/* GPS fix mode as gpsd reports it. */
enum odo_fix_mode { ODO_FIX_UNKNOWN = 0, ODO_FIX_NONE = 1, ODO_FIX_2D = 2, ODO_FIX_3D = 3 };

/* Crash-trace axes frame ("fr"). */
enum odo_trace_frame { ODO_FRAME_VEHICLE = 0, ODO_FRAME_SENSOR = 1 };

/*
 * Optional values: doubles are NaN when absent (the encoder omits the key,
 * the decoder writes NaN); integers that may be absent say so in a comment
 * and use -1. lat/lon are absent together.
 */

struct odo_rec_trip_start {
	uint64_t trip_id; /* unique per (device, epoch) for ever */
	double lat, lon;  /* optional */
};

/* Grade index into the per-grade arrays below: [0] moderate, [1] harsh, [2] severe. */
#define ODO_GRADES 3

struct odo_rec_trip_end {
	uint64_t trip_id;
	int64_t start_ms, end_ms;   /* UTC ms since the epoch */
	double distance_m;          /* GPS track */
	double obd_distance_m;      /* integrated OBD speed; optional */
	double duration_s, moving_s, idle_s;
	double avg_speed_mps, max_speed_mps; /* avg = distance / moving time */
	double avg_rpm;             /* optional */
	double night_m;             /* metres driven with the sun below the horizon */
	double late_night_weekend_m;/* local time, see docs/features.md */
	double rush_hour_m;         /* weekday rush hours, local time */
	double heavy_traffic_m;     /* stop-and-go, see docs/features.md */
	double wiper_m;             /* optional: needs a wiper signal */
	double screen_on_s, handheld_call_s;
	uint32_t phone_handled_count;
	uint32_t hard_brakes, rapid_accels, harsh_corners, swerves, crashes; /* harsh and above */
	double mean_abs_jerk;       /* m/s^3, longitudinal; optional (v2): no longitudinal signal */
	double gps_accuracy_m;      /* mean horizontal error estimate; optional */
	int has_dtc;                /* 0/1 */
	int airbag_deployed;        /* 0/1 */
	/* version 2, all optional */
	int32_t end_reason;         /* enum odo_trip_end_reason; -1 absent */
	int32_t lon_source;         /* enum odo_lon_source; -1 absent (no signal) */
	int32_t hard_brakes_g[ODO_GRADES];   /* per grade; -1 absent */
	int32_t rapid_accels_g[ODO_GRADES];
	int32_t harsh_corners_g[ODO_GRADES];
	int32_t swerves_g[ODO_GRADES];
	double lon_share[ODO_GRADES];        /* 0..1 of moving time at or above each level; NaN absent */
	double lat_share[ODO_GRADES];
	double lon_p95_g, lat_p95_g;         /* g; NaN absent */
	double speed_sd_mps;                 /* NaN absent */
	int phone_measured;                  /* "ph": a phone source was connected during the trip, so
	                                        scr/call/phc measured something; -1 absent, 0/1 */
	double lon_moving_s, lat_moving_s;   /* "lmt"/"amt": moving seconds with a longitudinal / lateral
	                                        value (the denominators of lon_share / lat_share); NaN absent */
};

struct odo_rec_event {
	uint64_t trip_id;       /* 0 outside a trip */
	uint8_t kind;           /* enum odo_event_kind */
	uint8_t source;         /* enum odo_event_source */
	int64_t duration_ms;    /* start time is the record's t_ms; <= 1 day */
	double peak_g, mean_g;  /* signed: negative = braking / left; optional for phone */
	double speed_before_mps, speed_after_mps; /* optional */
	double lat, lon;        /* optional */
	double heading_deg;     /* optional */
	int32_t grade;          /* v2: enum odo_event_grade; -1 absent (ungraded, crash, phone) */
};

struct odo_rec_sample {
	uint64_t trip_id;
	uint8_t fix;            /* enum odo_fix_mode */
	double lat, lon;        /* optional */
	double speed_mps;       /* optional */
	double heading_deg;     /* optional */
	double eph_m;           /* optional: horizontal error estimate */
	double alt_m;           /* optional */
	double rpm;             /* optional */
	double obd_speed_mps;   /* optional */
	double throttle_pct;    /* optional */
	double coolant_c;       /* optional */
	double fuel_pct;        /* optional */
	double ax_g, ay_g;      /* optional: vehicle-frame longitudinal/lateral */
};

enum odo_dtc_list { ODO_DTC_STORED = 0, ODO_DTC_PENDING = 1, ODO_DTC_PERMANENT = 2, ODO_DTC__LISTS = 3 };

struct odo_rec_dtc {
	uint16_t ecu;                /* responding CAN id, e.g. 0x7E8; 0 unknown */
	int mil;                     /* -1 unknown, 0 off, 1 on */
	uint8_t n[ODO_DTC__LISTS];   /* codes per list */
	char codes[ODO_DTC__LISTS][ODO_WIRE_MAX_DTCS][ODO_DTC_LEN + 1]; /* "P0301" */
	int airbag_deployed;         /* 1: a configured SRS deployment code is among them */
};

struct odo_rec_vehicle {
	char vin[ODO_VIN_LEN + 1];   /* 17 chars, or "" when unknown */
	uint16_t ecu;
};

struct odo_rec_phone {
	int screen_on;               /* 0/1 */
	uint8_t call;                /* enum odo_call_state */
	int handled;                 /* 0/1 */
};

struct odo_rec_status {
	uint64_t uptime_s;           /* all 64-bit counters <= INT64_MAX */
	uint64_t outbox_depth;       /* records waiting */
	uint64_t outbox_oldest_age_s;
	uint64_t evicted;            /* records evicted since install */
	uint64_t reconnects;
	uint64_t can_errors, gps_errors, accel_errors;
	uint8_t fix;                 /* enum odo_fix_mode */
	uint8_t clock_source;        /* enum odo_time_source */
	/* version 2, optional */
	int32_t calib_state;         /* enum odo_calib_state; -1 absent */
	double calib_confidence;     /* 0..1; NaN absent */
	double roll_deg, pitch_deg, yaw_deg; /* the learnt mount; NaN absent */
	double calib_ready_s;        /* s of driving it took to become ready; NaN absent */
	double gps_lag_s;            /* "glag": GPS lag behind the IMU that calibration uses, s; NaN absent */
	int32_t gyro_state;          /* "gyro": enum odo_gyro_state; -1 absent */
};

/* One point of a track, absolute values (the codec does the differences). */
struct odo_track_point {
	uint32_t dt_ds;              /* 0.1 s since the previous point (first: since the record's t) */
	int32_t lat_e6, lon_e6;      /* 1e-6 degree */
	int32_t v_dms;               /* GPS speed, 0.1 m/s; -1 absent */
	int32_t eph_m;               /* whole metres, rounded up; -1 absent */
};

struct odo_rec_track {
	uint64_t trip_id;
	uint16_t n;                  /* 1..ODO_WIRE_MAX_TRACK */
	struct odo_track_point pt[ODO_WIRE_MAX_TRACK];
};

struct odo_rec_crash_trace {
	uint64_t trip_id;
	int64_t crash_ms;            /* "t" of the crash event this trace belongs to */
	uint16_t part, parts;        /* part < parts <= ODO_WIRE_MAX_TRACE_PARTS */
	uint16_t hz;                 /* 1..1000 */
	uint8_t frame;               /* enum odo_trace_frame */
	uint16_t n;                  /* samples per axis, 1..ODO_WIRE_MAX_TRACE */
	int16_t ax[ODO_WIRE_MAX_TRACE], ay[ODO_WIRE_MAX_TRACE], az[ODO_WIRE_MAX_TRACE]; /* milli-g */
	double speed_mps, obd_speed_mps, rpm; /* at the first sample; NaN absent */
	double lat, lon;             /* optional, together */
	int airbag;                  /* -1 absent (no airbag signal), 0/1 */
};

struct odo_record {
	size_t off, len;             /* its bytes in the message (odo_wire_decode_batch only; else 0):
				      * raw CBOR for a per-record dead letter or quarantine */
	uint64_t seq;                /* 1..INT64_MAX */
	int64_t t_ms;                /* UTC ms since the epoch */
	uint8_t tsrc;                /* enum odo_time_source */
	uint8_t kind;                /* enum odo_record_kind */
	union {
		struct odo_rec_trip_start trip_start;
		struct odo_rec_trip_end trip_end;
		struct odo_rec_event event;
		struct odo_rec_sample sample;
		struct odo_rec_dtc dtc;
		struct odo_rec_vehicle vehicle;
		struct odo_rec_phone phone;
		struct odo_rec_status status;
		struct odo_rec_track track;
		struct odo_rec_crash_trace crash_trace;
	} u;
};

/* Why decoding failed: code is an ODO_ERR_WIRE_* value; `field` names the
 * offending field as a path ("recs[3].lat"); `offset` is the byte offset
 * in the input where it was noticed; `msg` is a full sentence. */
struct odo_wire_error {
	int code;
	size_t offset;
	char field[48];
	char msg[160];
};

/* A record the decoder refused on its own (see odo_wire_decode_batch()). */
struct odo_wire_bad {
	size_t index;                /* position in "recs" */
	uint64_t seq;                /* its "s" (always valid) */
	size_t off, len;             /* its bytes in the message: raw CBOR to dead-letter */
	struct odo_wire_error err;   /* why, with the field path ("recs[3].t") */
};

/*
 * A decoded batch. `recs` points at caller-owned storage of `cap` records,
 * `bad` at caller-owned storage of `bad_cap` refusals (bad_cap 0: strict,
 * the first refused record fails the whole message).
 */
struct odo_batch {
	uint32_t v;                  /* 1 or 2 */
	char device[ODO_DEVICE_ID_MAX + 1];
	uint64_t epoch;              /* "ep"; 0 for version 1 */
	uint64_t floor;              /* "af"; 0 for version 1 */
	uint64_t seq;                /* range start, see top of file */
	uint64_t last_seq;           /* "s" of the last record, good or bad: the range end */
	size_t n;                    /* good records, in order */
	struct odo_record *recs;
	size_t cap;
	size_t nbad;                 /* refused records, in order */
	struct odo_wire_bad *bad;
	size_t bad_cap;
};

struct odo_ack {
	uint32_t v;                  /* 1 or 2 (answer a batch in its own version) */
	char device[ODO_DEVICE_ID_MAX + 1];
	uint64_t epoch;              /* "ep"; must be 0 for version 1 */
	uint64_t ack;
};

/* What a receiver checks against its own clock. */
struct odo_wire_limits {
	int64_t now_ms;              /* receiver's UTC ms: timestamps must be <= now + 1 day */
};

/* Initialise a record with every optional value absent (NaN / -1 / 0). */
void odo_record_init(struct odo_record *r, enum odo_record_kind kind);

/* 1 when `id` is a valid device id. */
int odo_wire_device_id_valid(const char *id);

/* Name of a record kind / event kind ("trip_end", "hard_brake"), or "?". */
const char *odo_record_kind_name(int kind);
const char *odo_event_kind_name(int kind);

/*
 * Encoding, allocation-free, into buf[0..cap), always version 2:
 *
 *   odo_wire_encode_record(): one record as a CBOR map; *len set to its size.
 *   odo_wire_encode_batch():  the batch header and the n records.
 *   odo_wire_encode_batch_raw(): the batch header followed by n records
 *       already encoded with odo_wire_encode_record(), concatenated in
 *       `recs_cbor` (what the agent's outbox stores); no re-encoding.
 *   odo_wire_encode_ack(): a->v chooses version 1 (no "ep") or 2.
 *
 * The batch header needs epoch <= INT64_MAX, 1 <= seq <= INT64_MAX and
 * floor < seq. Return ODO_OK, ODO_ERR_TOOBIG when the buffer is too small,
 * ODO_ERR_INVAL for anything that would not decode (bad device id, unknown
 * kind, value out of range, ...).
 */
int odo_wire_encode_record(const struct odo_record *r, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;
int odo_wire_encode_batch(const char *device, uint64_t epoch, uint64_t floor, uint64_t seq,
			  const struct odo_record *recs, size_t n, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;
int odo_wire_encode_batch_raw(const char *device, uint64_t epoch, uint64_t floor, uint64_t seq, size_t n,
			      const uint8_t *recs_cbor, size_t recs_len, uint8_t *buf, size_t cap,
			      size_t *len) ODO_NODISCARD;
int odo_wire_encode_ack(const struct odo_ack *a, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;

/*
 * Decoding. Strict and bounded: rejects messages over ODO_WIRE_MAX_MESSAGE,
 * versions other than 1 and 2, wrong types, missing required fields,
 * unknown keys and record kinds (including version 2 ones in a version 1
 * message), duplicate keys, out-of-range values, over-long strings/arrays,
 * indefinite lengths, nesting deeper than the format needs, and trailing
 * bytes. No allocation.
 *
 * Two levels of refusal (docs/wire-format.md):
 *  - message-level: the return value is the ODO_ERR_WIRE_* code, *err says
 *    why, out->n = out->nbad = 0. Size, malformed CBOR, the header (v, dev,
 *    ep, af, seq, recs), a record that is not a map or cannot be skipped, a
 *    record whose "s" is missing/invalid/not strictly increasing, af >= seq,
 *    seq above the first "s", trailing bytes, more records than out->cap.
 *  - record-level: anything else inside a record whose "s" is good. The
 *    record goes to out->bad[] (index, seq, byte range, error) and the
 *    others decode normally; the return value is ODO_OK. When out->bad is
 *    full (or bad_cap is 0) the refusal becomes message-level instead.
 * `lim` (may be NULL: no time window) is the receiver's clock: every "t",
 * "t0", "t1", "ct" must lie in [2000-01-01, now + 1 day] (else RANGE).
 */
int odo_wire_decode_batch(const uint8_t *buf, size_t len, const struct odo_wire_limits *lim,
			  struct odo_batch *out, struct odo_wire_error *err) ODO_NODISCARD;
/* One record of the current version, as odo_wire_encode_record() wrote it. */
int odo_wire_decode_record(const uint8_t *buf, size_t len, struct odo_record *out,
			   struct odo_wire_error *err) ODO_NODISCARD;
/* An ack of version 1 or 2 (a->v says which; version 1 gives epoch 0). */
int odo_wire_decode_ack(const uint8_t *buf, size_t len, struct odo_ack *out,
			struct odo_wire_error *err) ODO_NODISCARD;

/*
 * Introspection of the field table that drives the encoder and decoder, so
 * a test can compare every field with the database column it is written to.
 */
enum odo_wire_type {
	ODO_WT_UINT = 1,  /* CBOR unsigned integer */
	ODO_WT_FLOAT,     /* CBOR float (finite) */
	ODO_WT_BOOL,
	ODO_WT_TEXT,
	ODO_WT_TEXT_LIST, /* array of text */
	ODO_WT_UINT_LIST, /* array of unsigned integers (elements may be null when nullable) */
	ODO_WT_INT_LIST,  /* array of integers */
};

/* Pseudo-kinds of odo_wire_field.kind besides enum odo_record_kind. */
#define ODO_WIRE_KIND_COMMON 0    /* record-common keys (s, t, ts, k) */
#define ODO_WIRE_KIND_BATCH (-1)  /* batch header integers (ep, af, seq) */
#define ODO_WIRE_KIND_ACK (-2)    /* ack integers (ep, ack) */

struct odo_wire_field {
	int kind;                 /* enum odo_record_kind or ODO_WIRE_KIND_* */
	const char *key;          /* "hb2" */
	enum odo_wire_type type;
	int required;             /* 0: optional (absent = NULL in the database) */
	unsigned since;           /* wire version the key appeared in */
	int64_t imin;             /* integers (and list elements): inclusive range */
	uint64_t imax;
	double fmin, fmax;        /* floats: range; fmax excluded when fmax_open */
	int fmax_open;
	size_t max_len;           /* text: bytes; lists: elements */
	int nullable;             /* list elements may be null */
	int delta;                /* list is delta-coded on the wire; imin/imax bound the absolute values */
	int time_window;          /* a timestamp checked against the receiver's clock */
};

/* How many fields the table has, and the i-th (0-based, over every kind:
 * the batch and ack header integers, record-common, then each kind);
 * ODO_ERR_NOTFOUND past the last one. */
size_t odo_wire_field_count(void);
int odo_wire_field_at(size_t i, struct odo_wire_field *out) ODO_NODISCARD;

#endif
