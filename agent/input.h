/*
 * odo-agent — what the input sources deliver, and the sink they deliver it to.
 *
 * Every source (gps/, can/, accel/, phone/) has a live backend and a replay
 * backend; both hand the same structs to the same `struct odo_sink`, so the
 * detectors, trip builder and everything downstream cannot tell a recorded
 * drive from a live one. Times are from the injected clock (agent never calls
 * clock_gettime() itself): `mono_ns` is odo_clock_mono_ns() at receipt.
 * All pointers passed to sink callbacks are valid during the call only.
 */
#ifndef ODO_AGENT_INPUT_H
#define ODO_AGENT_INPUT_H

#include <stdint.h>

#include "odo/wire.h"

/* One gpsd TPV report. Doubles are NaN when gpsd did not report them. */
struct odo_gps_fix {
	int64_t mono_ns;
	int64_t t_ms;      /* GPS UTC time of the fix, ms since the epoch; 0 = none */
	uint8_t mode;      /* enum odo_fix_mode */
	double lat, lon;   /* degrees; NaN without a 2D/3D fix */
	double alt_m;      /* NaN unless 3D */
	double speed_mps;  /* over ground */
	double track_deg;  /* course over ground, true north */
	double climb_mps;
	double eph, epx, epy, epv, eps, ept; /* error estimates as reported (m, m/s, s) */
};

/* One accelerometer reading, sensor frame, m/s^2, gravity included. */
struct odo_accel_sample {
	int64_t mono_ns;
	float x, y, z;
	uint8_t saturated; /* 1: an axis hit the full-scale range */
	uint8_t has_gyro;  /* 1: gx, gy, gz hold the chip's angular rate */
	float gx, gy, gz;  /* rad/s, sensor frame, right-handed */
};

/* OBD-II service 01 value, decoded to SI-ish units per SAE J1979:
 * rpm, km/h converted to m/s, %, degC, s, m. */
enum odo_obd_quantity {
	ODO_OBD_RPM = 0x0C,
	ODO_OBD_SPEED = 0x0D,      /* delivered in m/s */
	ODO_OBD_COOLANT = 0x05,    /* degC */
	ODO_OBD_THROTTLE = 0x11,   /* % */
	ODO_OBD_RUNTIME = 0x1F,    /* s */
	ODO_OBD_FUEL_LEVEL = 0x2F, /* % */
	ODO_OBD_DIST_MIL = 0x21,   /* m (J1979 gives km) */
};

struct odo_obd_value {
	int64_t mono_ns;
	uint16_t ecu;   /* responding CAN id (0x7E8..0x7EF, or 29-bit) */
	uint8_t pid;
	double value;
};

/* Vehicle-specific signals decoded from broadcast frames (DBC) or UDS. */
enum odo_signal_role {
	ODO_SIG_AIRBAG_DEPLOYED = 0, /* 0/1 */
	ODO_SIG_CRASH_DETECTED,      /* 0/1 */
	ODO_SIG_WIPERS,              /* 0 off, >0 on */
	ODO_SIG_SEATBELT_DRIVER,     /* 0 unbuckled, 1 buckled */
	ODO_SIG_VEHICLE_SPEED,       /* m/s */
	ODO_SIG__COUNT
};

struct odo_signal {
	int64_t mono_ns;
	uint8_t role; /* enum odo_signal_role */
	double value;
};

/* Phone state as the companion app reports it. */
struct odo_phone_state {
	int64_t mono_ns;
	int screen_on;   /* 0/1 */
	uint8_t call;    /* enum odo_call_state */
	int handled;     /* 0/1 */
};

/*
 * The sink: the engine (detectors, calibration, trip builder) implements it.
 * Any callback may be NULL. DTC and VIN reports reuse the wire structs.
 */
struct odo_sink {
	void *ctx;
	void (*gps)(void *ctx, const struct odo_gps_fix *fix);
	void (*accel)(void *ctx, const struct odo_accel_sample *s);
	void (*obd)(void *ctx, const struct odo_obd_value *v);
	void (*dtc)(void *ctx, int64_t mono_ns, const struct odo_rec_dtc *d);
	void (*vehicle)(void *ctx, int64_t mono_ns, const struct odo_rec_vehicle *v);
	void (*signal)(void *ctx, const struct odo_signal *s);
	void (*phone)(void *ctx, const struct odo_phone_state *p);
};

/* Error counters every source keeps (reported in the device-status record). */
struct odo_source_stats {
	uint64_t received;  /* items delivered to the sink */
	uint64_t errors;    /* malformed input, read errors, timeouts */
	uint64_t dropped;   /* known losses (kernel drops, overruns) */
};

#endif
