/*
 * odo-agent CAN — the vehicle bus source: OBD-II (SAE J1979 over ISO 15765-4),
 * UDS ReadDTCInformation for restraint (SRS) modules, DBC-described broadcast
 * signals, on one SocketCAN interface, delivered to a `struct odo_sink`.
 *
 * Live: a raw CAN socket (+ kernel ISO-TP sockets when selected), one epoll
 * fd exposed through `struct odo_source`; requests follow a per-PID schedule.
 * Replay: no sockets, frames are fed with odo_vbus_feed_frame() and go
 * through the same decoding (userspace ISO-TP reassembly, DBC signals).
 * The requests odo sent are in the recording: a replay tracks them as the
 * live agent did, so the same responses are solicited and the same requests
 * time out; a recording without them (somebody else's bus) has every
 * well-formed response decoded. In both modes the source's deadline covers
 * the ISO-TP timers (N_Cr, N_Bs, STmin) and the request in flight, and the
 * loop ticks it there; live adds the schedule and the controller checks.
 * The files of this module: vbus_int.h.
 * No allocation after open. See docs/can.md.
 */
#ifndef ODO_CAN_VBUS_H
#define ODO_CAN_VBUS_H

#include <linux/can.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "odo/clock.h"
#include "odo/config.h"
#include "odo/err.h"
#include "source.h"

#define ODO_CAN_MAX_ECUS 8       /* OBD responders tracked (7E8..7EF) */
#define ODO_CAN_MAX_POLL 24      /* PIDs in the polling schedule */
#define ODO_CAN_MAX_UDS 4        /* UDS modules */
#define ODO_CAN_MAX_DEPLOY 16    /* deployment DTCs */
#define ODO_CAN_RX_BATCH 64      /* frames per recvmmsg() */
#define ODO_CAN_PATH_MAX 256
#define ODO_CAN_LIST_MAX 256
#define ODO_CAN_ROLE_MAX 96      /* "MESSAGE.SIGNAL" */

enum odo_can_isotp_mode { ODO_ISOTP_AUTO = 0, ODO_ISOTP_KERNEL = 1, ODO_ISOTP_USER = 2 };
enum odo_can_addressing { ODO_CAN_ADDR_11 = 0, ODO_CAN_ADDR_29 = 1 };

/* Section [can]; see odo_can_cfg_keys for meanings and defaults. */
struct odo_can_cfg {
	int enabled;
	char interface[IFNAMSIZ];
	int isotp;                   /* enum odo_can_isotp_mode */
	int addressing;              /* enum odo_can_addressing */
	char poll[ODO_CAN_LIST_MAX]; /* "0C:0.2,0D:0.2,..." PID(hex):period(s) */
	double request_timeout_s;
	double dtc_period_s;
	double vin_retry_s;
	double discovery_retry_s;
	double state_period_s;
	long long bitrate;           /* expected; 0 = do not check */
	int restart_bus_off;
	long long isotp_bs, isotp_stmin;
	char dbc[ODO_CAN_PATH_MAX];
	char role_airbag_deployed[ODO_CAN_ROLE_MAX];
	char role_crash_detected[ODO_CAN_ROLE_MAX];
	char role_wipers[ODO_CAN_ROLE_MAX];
	char role_seatbelt_driver[ODO_CAN_ROLE_MAX];
	char role_vehicle_speed[ODO_CAN_ROLE_MAX];
	char uds_modules[ODO_CAN_LIST_MAX];   /* "SRS:7D2:7DA,..." name:request:response (hex) */
	char deployment_dtcs[ODO_CAN_LIST_MAX]; /* "B0001,B1620" */
	double uds_period_s;
};

extern const struct odo_cfg_key odo_can_cfg_keys[];
extern const size_t odo_can_cfg_nkeys;

/* Finer counters than odo_source_stats (tests, device status, logs). */
struct odo_can_counters {
	uint64_t frames;        /* frames received / fed */
	uint64_t sent;          /* frames or ISO-TP messages sent */
	uint64_t obd_values;    /* service 01 values delivered */
	uint64_t dtc_records, vin_records, signals;
	uint64_t negative;      /* 7F responses */
	uint64_t timeouts;      /* requests nobody answered */
	uint64_t malformed;     /* bad ISO-TP / OBD / UDS payloads */
	uint64_t unsolicited;   /* well-formed responses to no request (live) */
	uint64_t kernel_drops;  /* SO_RXQ_OVFL */
	uint64_t bus_off;       /* bus-off episodes (each counted once) */
	uint64_t restarts;      /* successful restarts (can_do_restart or down/up) */
};

struct odo_vbus;

/*
 * Open the live bus: raw socket on cfg->interface, ISO-TP per cfg->isotp
 * (auto: kernel CAN_ISOTP when socket() succeeds, else userspace), DBC and
 * roles, UDS modules. cfg, clock and sink are borrowed and must outlive it.
 * ODO_OK; ODO_ERR_CONFIG (bad poll list, role, module, DTC; DBC unreadable or
 * malformed); ODO_ERR_IO (no such interface); ODO_ERR_UNSUPPORTED (isotp =
 * kernel without CAN_ISOTP); ODO_ERR_NOMEM. With kernel ISO-TP and 29-bit
 * addressing, a responder's socket opens when it first answers.
 */
int odo_vbus_open(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
		  const struct odo_sink *sink, struct odo_vbus **out) ODO_NODISCARD;

/* Same decoding without sockets: frames come from odo_vbus_feed_frame(). */
int odo_vbus_open_replay(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
			 const struct odo_sink *sink, struct odo_vbus **out) ODO_NODISCARD;

/* The poll-loop interface: one epoll fd live, none in replay; the
 * deadline and tick as the header comment says, in both modes. */
struct odo_source odo_vbus_source(struct odo_vbus *vb);

/* Replay (or tests): process one frame as if received on ifname (NULL: any;
 * frames from another interface than cfg->interface are ignored). Time is
 * the clock's current mono time. */
void odo_vbus_feed_frame(struct odo_vbus *vb, const struct can_frame *f, const char *ifname);

/* Tap: every frame received and sent is written as a `candump -l` line with
 * the clock's REAL time. NULL stops. The FILE is borrowed. */
void odo_vbus_set_recorder(struct odo_vbus *vb, FILE *candump_log);

/* Copy the source counters: received = sink deliveries, errors = malformed,
 * negative, timeouts, send failures, bus-off; dropped = kernel drops. */
void odo_vbus_stats(const struct odo_vbus *vb, struct odo_source_stats *st);
/* Copy the detailed counters. */
void odo_vbus_counters(const struct odo_vbus *vb, struct odo_can_counters *c);
/* 1 when ISO-TP runs in the kernel, 0 userspace. */
int odo_vbus_kernel_isotp(const struct odo_vbus *vb);
/* Close sockets and free; NULL is a no-op. */
void odo_vbus_close(struct odo_vbus *vb);

#endif
