/*
 * odo-agent CAN — what the files of the vehicle bus source share (private
 * to agent/can/; see vbus.h for the public face):
 *   vbus.c    open and close, the poll-loop source, frame dispatch, the
 *             raw socket (recvmmsg) and kernel ISO-TP reads, sink delivery
 *   obdc.c    the OBD-II client: schedule, requests, responses
 *   uds.c     UDS ReadDTCInformation from restraint (SRS) modules
 *   busoff.c  controller state, bus-off and restart backoff
 *   roles.c   DBC-described signals in their roles
 */
#ifndef ODO_CAN_VBUS_INT_H
#define ODO_CAN_VBUS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "can/dbc.h"
#include "can/isotp.h"
#include "can/obd.h"
#include "can/vbus.h"

#define VBUS_AREA "can" /* ODO_LOG area */
#define OBD_FUNC_11 0x7DFu
#define OBD_RESP_11 0x7E8u
#define OBD_FUNC_29 (0x18DB33F1u | CAN_EFF_FLAG)
#define OBD_RESP_29_BASE 0x18DAF100u /* 18DAF1xx: xx = ECU address */
#define TAG_RAW 0u   /* epoll tags: the raw socket, */
#define TAG_ECU 1u   /* ... TAG_ECU + i: OBD responder i's kernel ISO-TP socket, */
#define TAG_UDS 100u /* ... TAG_UDS + i: UDS module i's */

enum rq_kind { RQ_NONE = 0, RQ_DISCOVER, RQ_PID, RQ_DTC, RQ_VIN, RQ_UDS };

struct ecu {
	uint32_t resp_id, req_id;
	int used;
	int kfd;        /* kernel ISO-TP socket; -1: the userspace ISO-TP serves it */
	int kfd_failed; /* opening it failed once: stay on the userspace ISO-TP */
	uint8_t supported[ODO_OBD_MAX_PIDS];
	int dtc_open; /* a DTC record is being collected */
	struct odo_rec_dtc dtc;
	int mil;
	struct odo_isotp tp;
};

struct uds_mod {
	char name[16];
	uint32_t req_id, resp_id;
	int kfd;
	int64_t next_due;
	struct odo_isotp tp;
};

struct poll_item {
	uint8_t pid;
	int enabled;
	int64_t period_ns, next_due;
};

struct role {
	uint32_t id;
	const struct odo_dbc_signal *sig;
	double scale; /* unit conversion to input.h units */
	int have_last;
	double last;
};

struct odo_vbus {
	const struct odo_can_cfg *cfg;
	const struct odo_clock *clock;
	struct odo_sink sink;
	int live, kernel;
	int requests_seen; /* replay: the recording holds odo's own requests */
	int raw_fd, ep_fd;
	/* the interface (attach.c): sockets open, or waiting for it */
	int attached;
	int lost; /* errno of a read that found the interface gone; 0: not lost */
	int absent_said;
	int64_t attach_next_ns, attach_gap_ns;
	uint64_t attach_failures;
	FILE *rec;
	struct odo_source_stats st;
	struct odo_can_counters ct;
	uint32_t last_ovfl;
	int state_ok;
	int64_t state_due;
	int in_bus_off; /* a bus-off episode is open (counted once) */
	int down_by_us; /* our restart took the interface down; not up yet */
	uint64_t restart_failures;
	int kernel_restarts_said;                         /* "the kernel restarts it" logged */
	int64_t last_restart_ns, restart_next_ns, restart_gap_ns; /* restart backoff */
	/* OBD */
	struct ecu ecus[ODO_CAN_MAX_ECUS];
	struct poll_item poll[ODO_CAN_MAX_POLL];
	int npoll;
	int discovered, disc_base;
	int64_t disc_due, dtc_due, vin_due;
	int have_vin, dtc_step;
	struct {
		int kind;
		uint8_t sid, pid;
		int uds;
		int64_t deadline;
		uint32_t expect, got;
	} rq;
	/* UDS */
	struct uds_mod uds[ODO_CAN_MAX_UDS];
	int nuds;
	uint8_t deploy[ODO_CAN_MAX_DEPLOY][2];
	int ndeploy;
	/* DBC */
	struct odo_dbc *dbc;
	struct role roles[ODO_SIG__COUNT];
	/* receive batch */
	struct mmsghdr mm[ODO_CAN_RX_BATCH];
	struct iovec iov[ODO_CAN_RX_BATCH];
	struct can_frame rxf[ODO_CAN_RX_BATCH];
	char cmsg[ODO_CAN_RX_BATCH][CMSG_SPACE(sizeof(uint32_t))];
	uint8_t kbuf[ODO_ISOTP_MAX];
};

/* Whether responses are matched to the request in flight: always live; in
 * a replay once the recording has shown one of odo's requests (a recording
 * of somebody else's bus has none: then every well-formed response is
 * decoded). */
static inline int vbus__tracks_requests(const struct odo_vbus *vb)
{
	return vb->live || vb->requests_seen;
}

/* ---- vbus.c ---- */

/* Log the 1st..5th occurrence, then each power of two. */
int vbus__worth_logging(uint64_t n);
/* The clock's mono time. */
int64_t vbus__now(const struct odo_vbus *vb);
/* Put one frame on the bus (the ISO-TP `send` callback too); replay: no-op.
 * 0 or -1 (counted, logged). */
int vbus__send(void *ctx, const struct can_frame *f);
/* The label of a responder in records: the low 16 bits of its CAN id. */
uint16_t vbus__ecu_label(uint32_t id);
/* Deliver to the sink, counted. */
void vbus__deliver_signal(struct odo_vbus *vb, int role, double v);
void vbus__deliver_dtc(struct odo_vbus *vb, struct odo_rec_dtc *d);
/* A payload that cannot be decoded: counted, logged (rate-limited). */
void vbus__malformed(struct odo_vbus *vb, uint32_t id, const char *why, const uint8_t *d, size_t len);
/* Configuration lists: hex CAN id; comma-separated items through fn. 0 / -1. */
int vbus__parse_hex(const char *s, const char *end, uint32_t *out);
int vbus__each_item(const char *list, int (*fn)(struct odo_vbus *, const char *, size_t), struct odo_vbus *vb);

/* ---- attach.c ---- */

/* 1 when errno `err` says the interface is not there (now): wait for it. */
int attach__absent(int err);
/* Live: open the interface's sockets (raw, epoll, kernel ISO-TP) and start
 * the bus session over; the interface not there is not an error: logged,
 * retried from attach__tick(). ODO_OK, or another error (logged). */
int attach__first(struct odo_vbus *vb);
/* Open the sockets now. ODO_OK; otherwise nothing is left open and errno
 * says why. */
int attach__open(struct odo_vbus *vb);
/* Close every socket (the bus then waits for the interface). */
void attach__close(struct odo_vbus *vb);
/* The kernel ISO-TP socket of OBD responder i. ODO_OK or an error (logged;
 * the responder stays on the userspace ISO-TP). */
int attach__kernel_open(struct odo_vbus *vb, int i);
/* Live: when to call attach__tick() (ODO_DEADLINE_NONE while attached). */
int64_t attach__deadline(const struct odo_vbus *vb);
/* Live: close a lost interface, retry an absent one. 1 when attached. */
int attach__tick(struct odo_vbus *vb, int64_t now);

/* ---- obdc.c ---- */

/* Parse [can] poll and start the schedule (discovery first). ODO_OK or
 * ODO_ERR_CONFIG (logged). */
int obdc__open(struct odo_vbus *vb);
/* Responder index of a response id (create: learn a new 29-bit one), or -1. */
int obdc__ecu_index(struct odo_vbus *vb, uint32_t id, int create);
/* Live: send the next request that is due, when none is in flight. */
void obdc__schedule(struct odo_vbus *vb);
/* The request in flight is over (all expected answered, or timed out). */
void obdc__complete(struct odo_vbus *vb, int timed_out);
/* A complete ISO-TP message from OBD responder `ecu`. */
void obdc__msg(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len);
/* Replay: when f is a request odo sent (OBD functional, or a UDS module's
 * 19 02), start tracking it as the live agent did when it sent it; 1 when
 * it was one, 0 when not. */
int obdc__request_seen(struct odo_vbus *vb, const struct can_frame *f);
/* A negative response (7F) from `id`; uds: the UDS module's index or -1. */
void obdc__negative(struct odo_vbus *vb, uint32_t id, int uds, const uint8_t *d, size_t len);

/* ---- uds.c ---- */

/* Parse [can] uds_modules and deployment_dtcs. ODO_OK or ODO_ERR_CONFIG. */
int uds__open(struct odo_vbus *vb);
/* Ask module i for its DTCs (19 02 FF). */
void uds__start(struct odo_vbus *vb, int i);
/* The request to module i is in flight (sent now, or seen in a replay). */
void uds__begin(struct odo_vbus *vb, int i);
/* A complete message from module i. */
void uds__msg(struct odo_vbus *vb, int i, const uint8_t *d, size_t len);
/* Whether DTC bytes a, b are a deployment DTC ([can] deployment_dtcs). */
int uds__is_deploy(const struct odo_vbus *vb, uint8_t a, uint8_t b);

/* ---- busoff.c ---- */

/* Live, at open: controller state and bitrate (real controllers only). */
void busoff__open(struct odo_vbus *vb);
/* Every state_period_s, on bus-off and restarted error frames. */
void busoff__check(struct odo_vbus *vb, int busoff_frame);

/* ---- roles.c ---- */

/* Load the DBC and resolve the configured roles. ODO_OK or ODO_ERR_CONFIG. */
int roles__open(struct odo_vbus *vb);
/* A broadcast frame: decode the roles it carries. */
void roles__frame(struct odo_vbus *vb, const struct can_frame *f);

#endif
