/*
 * odo — the wire format between odo-agent and odo-collector, version 1.
 *
 * docs/wire-format.md specifies it in CDDL; this header is its C face.
 *
 * One MQTT message on odo/v1/<device>/up carries one CBOR-encoded batch:
 *
 *   { "v": 1, "dev": "<device id>", "seq": <range start>, "recs": [ record, ... ] }
 *
 * Every record carries its own per-device sequence number "s" (strictly
 * increasing within a batch). "seq" is the start of the range the batch
 * covers: the sender asserts that no record exists with a sequence number
 * in [seq, last record's s] other than those in the batch (numbers in the
 * range that are absent were evicted on the device and will never come).
 * The collector acknowledges on odo/v1/<device>/ack with
 *
 *   { "v": 1, "dev": "<device id>", "ack": <n> }
 *
 * meaning: every sequence number in [1, n] has been committed to the
 * database or is known never to exist. Sequence numbers start at 1; ack 0
 * means nothing yet.
 *
 * Encoding never allocates: it writes into a caller-provided buffer.
 * Decoding is strict and bounded (see odo_wire_decode_batch()).
 */
#ifndef ODO_WIRE_H
#define ODO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

#define ODO_WIRE_VERSION 1

#define ODO_DEVICE_ID_MAX 64      /* characters, [A-Za-z0-9._-], at least 1 */
#define ODO_WIRE_MAX_RECORDS 1024 /* records in one batch */
#define ODO_WIRE_MAX_MESSAGE (256 * 1024) /* bytes of one encoded batch */
#define ODO_WIRE_MAX_DTCS 32      /* codes per list in one DTC record */
#define ODO_DTC_LEN 5             /* "P0301" */
#define ODO_VIN_LEN 17
#define ODO_WIRE_MAX_STRING 64    /* any other text field */
/* Upper bound on one encoded record (the DTC record is the largest). */
#define ODO_WIRE_MAX_RECORD_BYTES 2048

enum odo_record_kind {
	ODO_REC_TRIP_START = 1,
	ODO_REC_TRIP_END = 2, /* trip summary */
	ODO_REC_EVENT = 3,    /* driving event */
	ODO_REC_SAMPLE = 4,   /* periodic sample */
	ODO_REC_DTC = 5,      /* diagnostic trouble codes */
	ODO_REC_VEHICLE = 6,  /* vehicle information (VIN) */
	ODO_REC_PHONE = 7,    /* phone state change */
	ODO_REC_STATUS = 8,   /* device status / health */
	ODO_REC__MAX = 8
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

enum odo_call_state { ODO_CALL_NONE = 0, ODO_CALL_HANDHELD = 1, ODO_CALL_HANDSFREE = 2 };

/* GPS fix mode as gpsd reports it. */
enum odo_fix_mode { ODO_FIX_UNKNOWN = 0, ODO_FIX_NONE = 1, ODO_FIX_2D = 2, ODO_FIX_3D = 3 };

/*
 * Optional values: doubles are NaN when absent (the encoder omits the key,
 * the decoder writes NaN); integers that may be absent say so in a comment
 * and use -1. lat/lon are absent together.
 */

struct odo_rec_trip_start {
	uint64_t trip_id; /* per device, strictly increasing */
	double lat, lon;  /* optional */
};

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
	uint32_t hard_brakes, rapid_accels, harsh_corners, swerves, crashes;
	double mean_abs_jerk;       /* m/s^3, longitudinal */
	double gps_accuracy_m;      /* mean horizontal error estimate; optional */
	int has_dtc;                /* 0/1 */
	int airbag_deployed;        /* 0/1 */
};

struct odo_rec_event {
	uint64_t trip_id;       /* 0 outside a trip */
	uint8_t kind;           /* enum odo_event_kind */
	uint8_t source;         /* enum odo_event_source */
	int64_t duration_ms;    /* start time is the record's t_ms */
	double peak_g, mean_g;  /* signed: negative = braking / left; optional for phone */
	double speed_before_mps, speed_after_mps; /* optional */
	double lat, lon;        /* optional */
	double heading_deg;     /* optional */
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
	uint64_t uptime_s;
	uint64_t outbox_depth;       /* records waiting */
	uint64_t outbox_oldest_age_s;
	uint64_t evicted;            /* records evicted since install */
	uint64_t reconnects;
	uint64_t can_errors, gps_errors, accel_errors;
	uint8_t fix;                 /* enum odo_fix_mode */
	uint8_t clock_source;        /* enum odo_time_source */
};

struct odo_record {
	uint64_t seq;                /* >= 1 */
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
	} u;
};

/* A decoded batch. `recs` points at caller-owned storage of `cap` records. */
struct odo_batch {
	uint32_t v;
	char device[ODO_DEVICE_ID_MAX + 1];
	uint64_t seq;                /* range start, see top of file */
	size_t n;
	struct odo_record *recs;
	size_t cap;
};

struct odo_ack {
	char device[ODO_DEVICE_ID_MAX + 1];
	uint64_t ack;
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

/* Initialise a record with every optional value absent (NaN / -1 / 0). */
void odo_record_init(struct odo_record *r, enum odo_record_kind kind);

/* 1 when `id` is a valid device id. */
int odo_wire_device_id_valid(const char *id);

/* Name of a record kind / event kind ("trip_end", "hard_brake"), or "?". */
const char *odo_record_kind_name(int kind);
const char *odo_event_kind_name(int kind);

/*
 * Encoding, allocation-free, into buf[0..cap):
 *
 *   odo_wire_encode_record(): one record as a CBOR map; *len set to its size.
 *   odo_wire_encode_batch():  the batch header and the n records.
 *   odo_wire_encode_batch_raw(): the batch header followed by n records
 *       already encoded with odo_wire_encode_record(), concatenated in
 *       `recs_cbor` (what the agent's outbox stores); no re-encoding.
 *   odo_wire_encode_ack().
 *
 * Return ODO_OK, ODO_ERR_TOOBIG when the buffer is too small, ODO_ERR_INVAL
 * for a record that would not decode (bad device id, unknown kind, ...).
 */
int odo_wire_encode_record(const struct odo_record *r, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;
int odo_wire_encode_batch(const char *device, uint64_t seq, const struct odo_record *recs, size_t n,
			  uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;
int odo_wire_encode_batch_raw(const char *device, uint64_t seq, size_t n, const uint8_t *recs_cbor,
			      size_t recs_len, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;
int odo_wire_encode_ack(const struct odo_ack *a, uint8_t *buf, size_t cap, size_t *len) ODO_NODISCARD;

/*
 * Decoding. Strict and bounded: rejects messages over ODO_WIRE_MAX_MESSAGE,
 * versions other than 1, wrong types, missing required fields, unknown keys
 * and record kinds, duplicate keys, out-of-range values (lat/lon, non-finite
 * floats, negative durations, seq 0, non-increasing seqs, seq range start
 * above the first record), over-long strings/arrays, indefinite lengths,
 * nesting deeper than the format needs, and trailing bytes. No allocation:
 * records go into out->recs (more than out->cap records is TOOLONG).
 * On failure returns the ODO_ERR_WIRE_* code and fills *err (may be NULL).
 */
int odo_wire_decode_batch(const uint8_t *buf, size_t len, struct odo_batch *out,
			  struct odo_wire_error *err) ODO_NODISCARD;
int odo_wire_decode_record(const uint8_t *buf, size_t len, struct odo_record *out,
			   struct odo_wire_error *err) ODO_NODISCARD;
int odo_wire_decode_ack(const uint8_t *buf, size_t len, struct odo_ack *out,
			struct odo_wire_error *err) ODO_NODISCARD;

#endif
