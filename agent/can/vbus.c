/* The vehicle bus source: OBD-II client, UDS SRS reader, DBC roles (see vbus.h). */
#include "can/vbus.h"

#include <errno.h>
#include <libsocketcan.h>
#include <linux/can/error.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "can/dbc.h"
#include "can/isotp.h"
#include "can/obd.h"
#include "can/socketcan.h"
#include "odo/log.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define A "can"
#define OBD_FUNC_11 0x7DFu
#define OBD_RESP_11 0x7E8u
#define OBD_FUNC_29 (0x18DB33F1u | CAN_EFF_FLAG)
#define OBD_RESP_29_BASE 0x18DAF100u /* 18DAF1xx: xx = ECU address */
#define TAG_RAW 0u
#define TAG_ECU 1u
#define TAG_UDS 100u
#define NRC_PENDING 0x78
#define ODO_CAN_BITRATE_UNKNOWN 0xFFFFFFFFu /* the kernel's CAN_BITRATE_UNKNOWN */
#define PENDING_EXTEND_NS (5000LL * ODO_NS_PER_MS)

static const char *const isotp_choices[] = { "auto", "kernel", "user", NULL };
static const char *const addr_choices[] = { "11", "29", NULL };

#define C struct odo_can_cfg
const struct odo_cfg_key odo_can_cfg_keys[] = {
	ODO_CFG_B("enabled", C, enabled, "true", "Read the vehicle bus (OBD-II, UDS, DBC signals)"),
	ODO_CFG_S("interface", C, interface, "can0", "SocketCAN interface"),
	ODO_CFG_E("isotp", C, isotp, "auto", isotp_choices,
		  "ISO-TP implementation: auto (kernel CAN_ISOTP when present), kernel, user"),
	ODO_CFG_E("addressing", C, addressing, "11", addr_choices,
		  "OBD-II identifiers: 11 (7DF/7E8-7EF) or 29 (18DB33F1/18DAF1xx)"),
	ODO_CFG_S("poll", C, poll, "0C:0.2,0D:0.2,05:5,11:0.5,1F:10,2F:30,21:30",
		  "Service 01 schedule: PID(hex):period(s), comma-separated"),
	ODO_CFG_D("request_timeout_s", C, request_timeout_s, "0.2", 0.01, 10, "Wait this long for responses (P2)"),
	ODO_CFG_D("dtc_period_s", C, dtc_period_s, "60", 1, 86400, "Read DTCs (services 03/07/0A) this often"),
	ODO_CFG_D("vin_retry_s", C, vin_retry_s, "30", 1, 86400, "Ask for the VIN (09 02) again after this until it comes"),
	ODO_CFG_D("discovery_retry_s", C, discovery_retry_s, "5", 0.1, 3600, "Repeat PID discovery this often while no ECU answers"),
	ODO_CFG_D("state_period_s", C, state_period_s, "5", 0.1, 3600, "Check the controller state (bus-off) this often"),
	ODO_CFG_I("bitrate", C, bitrate, "0", 0, 1000000, "Expected bitrate in bit/s; a mismatch is logged (0: no check)"),
	ODO_CFG_B("restart_bus_off", C, restart_bus_off, "true", "Restart the controller when it goes bus-off"),
	ODO_CFG_I("isotp_bs", C, isotp_bs, "0", 0, 255, "ISO-TP block size we announce (0: no limit)"),
	ODO_CFG_I("isotp_stmin", C, isotp_stmin, "0", 0, 255, "ISO-TP STmin we announce (raw byte)"),
	ODO_CFG_S("dbc", C, dbc, "", "DBC file describing broadcast frames (empty: none)"),
	ODO_CFG_S("airbag_deployed", C, role_airbag_deployed, "", "DBC signal MESSAGE.SIGNAL for airbag deployment"),
	ODO_CFG_S("crash_detected", C, role_crash_detected, "", "DBC signal MESSAGE.SIGNAL for crash detection"),
	ODO_CFG_S("wipers", C, role_wipers, "", "DBC signal MESSAGE.SIGNAL for wiper state"),
	ODO_CFG_S("seatbelt_driver", C, role_seatbelt_driver, "", "DBC signal MESSAGE.SIGNAL for the driver's belt"),
	ODO_CFG_S("vehicle_speed", C, role_vehicle_speed, "", "DBC signal MESSAGE.SIGNAL for speed (km/h, mph or m/s by unit)"),
	ODO_CFG_S("uds_modules", C, uds_modules, "", "UDS modules NAME:REQID:RESPID (hex), comma-separated, e.g. SRS:7D2:7DA"),
	ODO_CFG_S("deployment_dtcs", C, deployment_dtcs, "", "DTCs of those modules meaning airbag deployed, e.g. B0001,B0002"),
	ODO_CFG_D("uds_period_s", C, uds_period_s, "10", 0.5, 86400, "Read the UDS modules' DTCs this often"),
};
#undef C
const size_t odo_can_cfg_nkeys = ODO_ARRAY_LEN(odo_can_cfg_keys);

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
	int raw_fd, ep_fd;
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

/* Log the 1st..5th occurrence, then each power of two: a garbage flood
 * cannot flood the journal, and the counters keep the exact numbers. */
static int worth_logging(uint64_t n)
{
	return n <= 5 || (n & (n - 1)) == 0;
}

static int64_t now_mono(const struct odo_vbus *vb) { return odo_clock_mono_ns(vb->clock); }

static void record(struct odo_vbus *vb, const struct can_frame *f)
{
	if (!vb->rec)
		return;
	char line[ODO_CANDUMP_LINE_MAX];
	size_t n = odo_candump_format(line, sizeof line, odo_clock_real_ns(vb->clock), vb->cfg->interface, f);
	fwrite(line, 1, n, vb->rec);
}

static int raw_send(void *ctx, const struct can_frame *f)
{
	struct odo_vbus *vb = ctx;
	if (!vb->live)
		return 0; /* replay: the recording already holds what was sent */
	ssize_t w = write(vb->raw_fd, f, sizeof *f);
	if (w != (ssize_t)sizeof *f) {
		vb->st.errors++;
		if (worth_logging(vb->st.errors))
			ODO_LOG(WARN, A, "%s: send %03X failed: %s", vb->cfg->interface,
				(unsigned)(f->can_id & CAN_EFF_MASK), strerror(errno));
		return -1;
	}
	vb->ct.sent++;
	record(vb, f);
	return 0;
}

/* ---- sink delivery ------------------------------------------------------ */

static uint16_t ecu_label(uint32_t id)
{
	return (uint16_t)(id & 0xFFFF);
}

static int is_deploy(const struct odo_vbus *vb, uint8_t a, uint8_t b)
{
	for (int i = 0; i < vb->ndeploy; i++)
		if (vb->deploy[i][0] == a && vb->deploy[i][1] == b)
			return 1;
	return 0;
}

static void deliver_signal(struct odo_vbus *vb, int role, double v)
{
	vb->ct.signals++;
	vb->st.received++;
	if (vb->sink.signal) {
		struct odo_signal s = { .mono_ns = now_mono(vb), .role = (uint8_t)role, .value = v };
		vb->sink.signal(vb->sink.ctx, &s);
	}
}

static void deliver_dtc(struct odo_vbus *vb, struct odo_rec_dtc *d)
{
	d->airbag_deployed = 0;
	for (int l = 0; l < ODO_DTC__LISTS; l++)
		for (int i = 0; i < d->n[l]; i++) {
			uint8_t b[2];
			if (odo_obd_dtc_parse(d->codes[l][i], b) == ODO_OK && is_deploy(vb, b[0], b[1]))
				d->airbag_deployed = 1;
		}
	vb->ct.dtc_records++;
	vb->st.received++;
	ODO_LOG(INFO, A, "ECU %X: %d stored, %d pending, %d permanent DTCs%s", (unsigned)d->ecu, d->n[0],
		d->n[1], d->n[2], d->airbag_deployed ? ", airbag deployed" : "");
	if (vb->sink.dtc)
		vb->sink.dtc(vb->sink.ctx, now_mono(vb), d);
}

/* ---- requests and schedule ---------------------------------------------- */

static int ecu_index(struct odo_vbus *vb, uint32_t id, int create)
{
	if (vb->cfg->addressing == ODO_CAN_ADDR_11) {
		if (!(id & CAN_EFF_FLAG) && id >= OBD_RESP_11 && id < OBD_RESP_11 + ODO_CAN_MAX_ECUS)
			return (int)(id - OBD_RESP_11);
		return -1;
	}
	if (!(id & CAN_EFF_FLAG) || ((id & CAN_EFF_MASK) & 0xFFFFFF00u) != OBD_RESP_29_BASE)
		return -1;
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].used && vb->ecus[i].resp_id == id)
			return i;
	if (!create)
		return -1;
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (!vb->ecus[i].used) {
			uint8_t addr = (uint8_t)(id & 0xFF);
			vb->ecus[i].used = 1;
			vb->ecus[i].resp_id = id;
			vb->ecus[i].req_id = (0x18DA00F1u | (uint32_t)addr << 8) | CAN_EFF_FLAG;
			vb->ecus[i].tp.rx_id = id;
			vb->ecus[i].tp.tx_id = vb->ecus[i].req_id;
			return i;
		}
	return -1;
}

static uint32_t supporters(const struct odo_vbus *vb, uint8_t pid)
{
	uint32_t m = 0;
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].supported[pid])
			m |= 1u << i;
	return m;
}

static int send_functional(struct odo_vbus *vb, uint8_t sid, int pid)
{
	struct can_frame f;
	memset(&f, 0, sizeof f);
	f.can_id = vb->cfg->addressing == ODO_CAN_ADDR_29 ? OBD_FUNC_29 : OBD_FUNC_11;
	f.can_dlc = CAN_MAX_DLEN;
	memset(f.data, ODO_ISOTP_PAD, CAN_MAX_DLEN);
	f.data[0] = pid >= 0 ? 2 : 1;
	f.data[1] = sid;
	if (pid >= 0)
		f.data[2] = (uint8_t)pid;
	return raw_send(vb, &f);
}

static void start_rq(struct odo_vbus *vb, int kind, uint8_t sid, int pid, uint32_t expect)
{
	int64_t now = now_mono(vb);
	vb->rq.kind = kind;
	vb->rq.sid = sid;
	vb->rq.pid = pid >= 0 ? (uint8_t)pid : 0;
	vb->rq.expect = expect;
	vb->rq.got = 0;
	vb->rq.deadline = now + (int64_t)(vb->cfg->request_timeout_s * 1e9);
	if (send_functional(vb, sid, pid) != 0)
		vb->rq.deadline = now; /* fails like a timeout, retried by the schedule */
}

static void start_uds(struct odo_vbus *vb, int i)
{
	static const uint8_t req[3] = { 0x19, 0x02, 0xFF }; /* reportDTCByStatusMask, all */
	struct uds_mod *m = &vb->uds[i];
	int64_t now = now_mono(vb);
	vb->rq.kind = RQ_UDS;
	vb->rq.sid = 0x19;
	vb->rq.pid = 0x02;
	vb->rq.uds = i;
	vb->rq.expect = 1;
	vb->rq.got = 0;
	vb->rq.deadline = now + (int64_t)(vb->cfg->request_timeout_s * 1e9);
	int rc;
	if (vb->kernel) {
		rc = write(m->kfd, req, sizeof req) == (ssize_t)sizeof req ? ODO_OK : ODO_ERR_IO;
		if (rc == ODO_OK)
			vb->ct.sent++;
	} else {
		rc = odo_isotp_send(&m->tp, req, sizeof req, now);
	}
	if (rc != ODO_OK) {
		vb->st.errors++;
		ODO_LOG(WARN, A, "UDS %s: cannot send 19 02: %s", m->name, odo_strerror(rc));
		vb->rq.deadline = now;
	}
}

static void finish_dtc_cycle(struct odo_vbus *vb)
{
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++) {
		struct ecu *e = &vb->ecus[i];
		if (e->dtc_open) {
			e->dtc_open = 0;
			e->dtc.mil = e->mil;
			deliver_dtc(vb, &e->dtc);
		}
	}
}

/* The request in flight is over (all expected answered, or timed out). */
static void complete_rq(struct odo_vbus *vb, int timed_out)
{
	int64_t now = now_mono(vb);
	int kind = vb->rq.kind;
	if (timed_out && vb->rq.got == 0) {
		vb->ct.timeouts++;
		vb->st.errors++;
		if (worth_logging(vb->ct.timeouts)) {
			if (kind == RQ_UDS)
				ODO_LOG(WARN, A, "UDS %s: no response to 19 02 within %.0f ms (%llu timeouts)",
					vb->uds[vb->rq.uds].name, vb->cfg->request_timeout_s * 1e3,
					(unsigned long long)vb->ct.timeouts);
			else
				ODO_LOG(WARN, A, "no ECU answered %02X %02X within %.0f ms (%llu timeouts)", vb->rq.sid,
					vb->rq.pid, vb->cfg->request_timeout_s * 1e3, (unsigned long long)vb->ct.timeouts);
		}
	}
	vb->rq.kind = RQ_NONE;
	switch (kind) {
	case RQ_DISCOVER: {
		int any = 0;
		for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
			any |= vb->ecus[i].used;
		if (!any) {
			vb->disc_due = now + (int64_t)(vb->cfg->discovery_retry_s * 1e9);
			vb->disc_base = 0;
			break;
		}
		int next = vb->disc_base + 0x20;
		if (next <= 0xE0 && supporters(vb, (uint8_t)next)) {
			vb->disc_base = next;
			vb->disc_due = now;
			break;
		}
		vb->discovered = 1;
		for (int p = 0; p < vb->npoll; p++) {
			vb->poll[p].enabled = supporters(vb, vb->poll[p].pid) != 0;
			vb->poll[p].next_due = now;
			if (!vb->poll[p].enabled)
				ODO_LOG(INFO, A, "PID %02X: no ECU supports it, not polled", vb->poll[p].pid);
		}
		ODO_LOG(INFO, A, "PID discovery done");
		break;
	}
	case RQ_DTC:
		if (++vb->dtc_step >= 4) {
			finish_dtc_cycle(vb);
			vb->dtc_step = 0;
			vb->dtc_due = now + (int64_t)(vb->cfg->dtc_period_s * 1e9);
		} else {
			vb->dtc_due = now;
		}
		break;
	case RQ_VIN:
		if (!vb->have_vin)
			vb->vin_due = now + (int64_t)(vb->cfg->vin_retry_s * 1e9);
		break;
	default:
		break;
	}
}

static void schedule(struct odo_vbus *vb)
{
	if (!vb->live || vb->rq.kind != RQ_NONE)
		return;
	int64_t now = now_mono(vb);
	if (!vb->discovered) {
		if (now >= vb->disc_due) {
			vb->disc_due = INT64_MAX;
			start_rq(vb, RQ_DISCOVER, 0x01, vb->disc_base, vb->disc_base ? supporters(vb, (uint8_t)vb->disc_base) : 0);
		}
	} else {
		/* most overdue first */
		int best = -1;
		for (int p = 0; p < vb->npoll; p++)
			if (vb->poll[p].enabled && vb->poll[p].next_due <= now &&
			    (best < 0 || vb->poll[p].next_due < vb->poll[best].next_due))
				best = p;
		if (vb->dtc_due <= now && (best < 0 || vb->dtc_due < vb->poll[best].next_due)) {
			static const uint8_t steps[4][2] = { { 0x01, 0x01 }, { 0x03, 0 }, { 0x07, 0 }, { 0x0A, 0 } };
			int s = vb->dtc_step;
			if (s == 0)
				for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
					vb->ecus[i].mil = -1;
			start_rq(vb, RQ_DTC, steps[s][0], s == 0 ? 1 : -1, s == 0 ? supporters(vb, 1) : 0);
			return;
		}
		if (!vb->have_vin && vb->vin_due <= now) {
			vb->vin_due = INT64_MAX;
			start_rq(vb, RQ_VIN, 0x09, 0x02, 0);
			return;
		}
		if (best >= 0) {
			struct poll_item *it = &vb->poll[best];
			it->next_due += it->period_ns;
			if (it->next_due < now)
				it->next_due = now + it->period_ns; /* fell behind: do not burst */
			start_rq(vb, RQ_PID, 0x01, it->pid, supporters(vb, it->pid));
			return;
		}
	}
	if (vb->rq.kind == RQ_NONE)
		for (int i = 0; i < vb->nuds; i++)
			if (vb->uds[i].next_due <= now) {
				vb->uds[i].next_due = now + (int64_t)(vb->cfg->uds_period_s * 1e9);
				start_uds(vb, i);
				return;
			}
}

/* ---- responses ---------------------------------------------------------- */

static void malformed(struct odo_vbus *vb, uint32_t id, const char *why, const uint8_t *d, size_t len)
{
	vb->ct.malformed++;
	vb->st.errors++;
	if (worth_logging(vb->ct.malformed))
		ODO_LOG(WARN, A, "%X: malformed response (%s), %zu bytes starting %02X (%llu malformed so far)",
			(unsigned)(id & CAN_EFF_MASK), why, len, len ? d[0] : 0, (unsigned long long)vb->ct.malformed);
}

/* Live: does this response answer the request in flight? Replay: always. */
static int solicited(struct odo_vbus *vb, int ecu, uint8_t sid, int pid)
{
	if (!vb->live)
		return 1;
	int ok = vb->rq.kind != RQ_NONE && vb->rq.kind != RQ_UDS && vb->rq.sid == sid &&
		 (pid < 0 || vb->rq.pid == pid);
	if (!ok) {
		vb->ct.unsolicited++;
		if (worth_logging(vb->ct.unsolicited))
			ODO_LOG(DEBUG, A, "ECU %X: unsolicited response %02X ignored", (unsigned)ecu_label(vb->ecus[ecu].resp_id),
				sid + 0x40);
		return 0;
	}
	vb->rq.got |= 1u << ecu;
	return 1;
}

static void on_mode01(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len)
{
	struct ecu *e = &vb->ecus[ecu];
	if (len < 2) {
		malformed(vb, e->resp_id, "41 without PID", d, len);
		return;
	}
	/* check the whole payload first: a bad one delivers nothing */
	size_t i = 1;
	while (i < len) {
		int n = odo_obd_pid_len(d[i]);
		if (n == 0 || i + 1 + (size_t)n > len) {
			/* trailing padding after a complete PID is tolerated */
			if (i > 1 && n == 0)
				break;
			malformed(vb, e->resp_id, n == 0 ? "unknown PID" : "short PID data", d, len);
			return;
		}
		i += 1 + (size_t)n;
	}
	size_t end = i;
	if (!solicited(vb, ecu, 0x01, d[1]))
		return;
	for (i = 1; i < end;) {
		uint8_t pid = d[i];
		int n = odo_obd_pid_len(pid);
		const uint8_t *v = d + i + 1;
		i += 1 + (size_t)n;
		if ((pid & 0x1F) == 0 && n == 4) {
			odo_obd_supported(pid, v, e->supported);
			e->supported[pid] = 1;
			continue;
		}
		if (pid == 0x01) {
			e->mil = odo_obd_mil(v);
			continue;
		}
		double val;
		if (odo_obd_decode_pid(pid, v, (size_t)n, &val) != ODO_OK)
			continue;
		vb->ct.obd_values++;
		vb->st.received++;
		if (vb->sink.obd) {
			struct odo_obd_value ov = { .mono_ns = now_mono(vb), .ecu = ecu_label(e->resp_id), .pid = pid, .value = val };
			vb->sink.obd(vb->sink.ctx, &ov);
		}
	}
}

static void on_dtcs(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len)
{
	struct ecu *e = &vb->ecus[ecu];
	int list = d[0] == 0x43 ? ODO_DTC_STORED : d[0] == 0x47 ? ODO_DTC_PENDING : ODO_DTC_PERMANENT;
	char codes[ODO_WIRE_MAX_DTCS][ODO_DTC_LEN + 1];
	int n = odo_obd_decode_dtcs(d, len, codes, ODO_WIRE_MAX_DTCS);
	if (n < 0) {
		malformed(vb, e->resp_id, "DTC count does not match length", d, len);
		return;
	}
	if (!solicited(vb, ecu, (uint8_t)(d[0] - 0x40), -1))
		return;
	if (!e->dtc_open || list == ODO_DTC_STORED) {
		/* a new cycle starts with service 03 (or whatever came first) */
		int keep_mil = e->mil;
		memset(&e->dtc, 0, sizeof e->dtc);
		e->dtc.ecu = ecu_label(e->resp_id);
		e->dtc.mil = keep_mil;
		e->dtc_open = 1;
	}
	e->dtc.n[list] = (uint8_t)n;
	memcpy(e->dtc.codes[list], codes, sizeof codes[0] * (size_t)n);
	if (list == ODO_DTC_PERMANENT) { /* last of the cycle */
		e->dtc_open = 0;
		e->dtc.mil = e->mil;
		deliver_dtc(vb, &e->dtc);
	}
}

static void on_vin(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len)
{
	struct ecu *e = &vb->ecus[ecu];
	if (len < 3 || d[1] != 0x02)
		return; /* other 09 PIDs: not used */
	/* ISO 15765-4: 49 02 01 + 17 chars (some ECUs pad with NULs first) */
	const uint8_t *p = d + 3;
	size_t n = len - 3;
	while (n > ODO_VIN_LEN && *p == 0) {
		p++;
		n--;
	}
	if (n != ODO_VIN_LEN) {
		malformed(vb, e->resp_id, "VIN is not 17 characters", d, len);
		return;
	}
	struct odo_rec_vehicle v;
	memset(&v, 0, sizeof v);
	for (size_t i = 0; i < n; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z'))) {
			malformed(vb, e->resp_id, "VIN has a non-alphanumeric character", d, len);
			return;
		}
		v.vin[i] = (char)p[i];
	}
	if (!solicited(vb, ecu, 0x09, 0x02))
		return;
	v.ecu = ecu_label(e->resp_id);
	vb->have_vin = 1;
	vb->ct.vin_records++;
	vb->st.received++;
	ODO_LOG(INFO, A, "ECU %X: VIN %s", (unsigned)v.ecu, v.vin);
	if (vb->sink.vehicle)
		vb->sink.vehicle(vb->sink.ctx, now_mono(vb), &v);
}

static const char *nrc_name(uint8_t nrc)
{
	switch (nrc) {
	case 0x10: return "generalReject";
	case 0x11: return "serviceNotSupported";
	case 0x12: return "subFunctionNotSupported";
	case 0x13: return "incorrectMessageLength";
	case 0x14: return "responseTooLong";
	case 0x21: return "busyRepeatRequest";
	case 0x22: return "conditionsNotCorrect";
	case 0x31: return "requestOutOfRange";
	case 0x33: return "securityAccessDenied";
	case 0x78: return "responsePending";
	case 0x7F: return "serviceNotSupportedInActiveSession";
	default: return "other";
	}
}

static void on_negative(struct odo_vbus *vb, uint32_t id, int uds, const uint8_t *d, size_t len)
{
	if (len < 3) {
		malformed(vb, id, "short negative response", d, len);
		return;
	}
	if (d[2] == NRC_PENDING) {
		if (vb->rq.kind != RQ_NONE)
			vb->rq.deadline = now_mono(vb) + PENDING_EXTEND_NS;
		return;
	}
	vb->ct.negative++;
	vb->st.errors++;
	if (worth_logging(vb->ct.negative))
		ODO_LOG(WARN, A, "%s %X: negative response to service %02X: NRC %02X %s", uds >= 0 ? "UDS module" : "ECU",
			(unsigned)(id & CAN_EFF_MASK), d[1], d[2], nrc_name(d[2]));
	if (vb->live && vb->rq.kind != RQ_NONE && vb->rq.sid == d[1]) {
		if (uds >= 0)
			vb->rq.got = 1;
		else {
			int e = ecu_index(vb, id, 0);
			if (e >= 0)
				vb->rq.got |= 1u << e;
		}
	}
}

static void on_uds(struct odo_vbus *vb, int i, const uint8_t *d, size_t len)
{
	struct uds_mod *m = &vb->uds[i];
	if (len < 1)
		return;
	if (d[0] == 0x7F) {
		on_negative(vb, m->resp_id, i, d, len);
		return;
	}
	if (d[0] != 0x59 || len < 3 || d[1] != 0x02 || (len - 3) % 4 != 0) {
		malformed(vb, m->resp_id, "not a 59 02 response", d, len);
		return;
	}
	if (vb->live && !(vb->rq.kind == RQ_UDS && vb->rq.uds == i)) {
		vb->ct.unsolicited++;
		return;
	}
	if (vb->live)
		vb->rq.got = 1;
	struct odo_rec_dtc rec;
	memset(&rec, 0, sizeof rec);
	rec.ecu = ecu_label(m->resp_id);
	rec.mil = -1;
	for (size_t k = 3; k + 4 <= len; k += 4) {
		uint8_t status = d[k + 3];
		/* pending (bit 2) vs confirmed/test failed (bits 3, 0) */
		int list = (status & 0x09) ? ODO_DTC_STORED : ODO_DTC_PENDING;
		if (rec.n[list] >= ODO_WIRE_MAX_DTCS)
			continue;
		odo_obd_dtc_str(d[k], d[k + 1], rec.codes[list][rec.n[list]++]);
	}
	deliver_dtc(vb, &rec);
	deliver_signal(vb, ODO_SIG_AIRBAG_DEPLOYED, rec.airbag_deployed);
}

/* A complete ISO-TP message from OBD responder `ecu`. */
static void on_obd_msg(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len)
{
	if (len < 1)
		return;
	vb->ecus[ecu].used = 1;
	switch (d[0]) {
	case 0x41:
		on_mode01(vb, ecu, d, len);
		break;
	case 0x43: case 0x47: case 0x4A:
		on_dtcs(vb, ecu, d, len);
		break;
	case 0x49:
		on_vin(vb, ecu, d, len);
		break;
	case 0x7F:
		on_negative(vb, vb->ecus[ecu].resp_id, -1, d, len);
		break;
	default:
		malformed(vb, vb->ecus[ecu].resp_id, "unknown service", d, len);
	}
	if (vb->live && vb->rq.kind != RQ_NONE && vb->rq.kind != RQ_UDS && vb->rq.expect &&
	    (vb->rq.got & vb->rq.expect) == vb->rq.expect)
		complete_rq(vb, 0);
}

static void tp_msg(void *ctx, struct odo_isotp *l, const uint8_t *d, size_t len)
{
	struct odo_vbus *vb = ctx;
	intptr_t tag = (intptr_t)l->user;
	if (tag >= (intptr_t)TAG_UDS)
		on_uds(vb, (int)(tag - TAG_UDS), d, len);
	else
		on_obd_msg(vb, (int)(tag - TAG_ECU), d, len);
	if (vb->live && vb->rq.kind == RQ_UDS && vb->rq.got)
		complete_rq(vb, 0);
}

static void tp_event(void *ctx, struct odo_isotp *l, enum odo_isotp_event ev)
{
	struct odo_vbus *vb = ctx;
	if (ev == ODO_ISOTP_EV_TX_DONE) {
		vb->ct.sent++;
		return;
	}
	vb->ct.malformed++;
	vb->st.errors++;
	if (worth_logging(vb->ct.malformed))
		ODO_LOG(WARN, A, "ISO-TP %X: %s", (unsigned)(l->rx_id & CAN_EFF_MASK),
			ev == ODO_ISOTP_EV_RX_TIMEOUT ? "consecutive frame timeout (N_Cr)"
			: ev == ODO_ISOTP_EV_TX_TIMEOUT ? "flow control timeout (N_Bs)"
			: ev == ODO_ISOTP_EV_OVERFLOW ? "peer reports overflow"
			: "bad frame (PCI, length or sequence)");
}

/* ---- DBC roles ---------------------------------------------------------- */

static void on_dbc(struct odo_vbus *vb, const struct can_frame *f)
{
	for (int r = 0; r < ODO_SIG__COUNT; r++) {
		struct role *ro = &vb->roles[r];
		if (!ro->sig || ro->id != f->can_id)
			continue;
		double v;
		if (odo_dbc_decode(ro->sig, f->data, f->can_dlc, &v) != ODO_OK) {
			malformed(vb, f->can_id, "frame too short for the DBC signal", f->data, f->can_dlc);
			continue;
		}
		v *= ro->scale;
		/* states are reported on change; speed on every frame */
		if (r != ODO_SIG_VEHICLE_SPEED && ro->have_last && ro->last == v)
			continue;
		ro->have_last = 1;
		ro->last = v;
		if (r == ODO_SIG_AIRBAG_DEPLOYED || r == ODO_SIG_CRASH_DETECTED)
			ODO_LOG(INFO, A, "%s.%s = %g", odo_dbc_find_id(vb->dbc, ro->id)->name, ro->sig->name, v);
		deliver_signal(vb, r, v);
	}
}

/* ---- frame path --------------------------------------------------------- */

static const char *state_name(int st)
{
	switch (st) {
	case CAN_STATE_ERROR_ACTIVE:
		return "ERROR-ACTIVE";
	case CAN_STATE_ERROR_WARNING:
		return "ERROR-WARNING";
	case CAN_STATE_ERROR_PASSIVE:
		return "ERROR-PASSIVE";
	case CAN_STATE_BUS_OFF:
		return "BUS-OFF";
	case CAN_STATE_STOPPED:
		return "STOPPED";
	case CAN_STATE_SLEEPING:
		return "SLEEPING";
	default:
		return "unknown";
	}
}

/* Interface down and up again: the driver's open re-initialises the
 * controller and open_candev() switches the carrier back on. Resumable: a
 * failed "up" is retried by the next state check. */
static int bus_reopen(struct odo_vbus *vb)
{
	const char *ifn = vb->cfg->interface;
	if (!vb->down_by_us) {
		if (can_do_stop(ifn) != 0)
			return -1;
		vb->down_by_us = 1;
	}
	if (can_do_start(ifn) != 0)
		return -1;
	vb->down_by_us = 0;
	return 0;
}

/* Whether the interface sits on a controller device (SPI, USB, platform):
 * /sys/class/net/IF/device. A line-discipline adapter such as slcan has
 * none. */
static int has_controller_device(const char *ifn)
{
	char path[128];
	snprintf(path, sizeof path, "/sys/class/net/%s/device", ifn);
	return access(path, F_OK) == 0;
}

#define RESTART_GAP_MIN_NS (1000LL * ODO_NS_PER_MS)  /* first restart after another */
#define RESTART_GAP_MAX_NS (60000LL * ODO_NS_PER_MS) /* a bus that keeps failing */
#define RESTART_CALM_NS    (10000LL * ODO_NS_PER_MS) /* bus-off again sooner: double the gap */

/*
 * Restart a bus-off controller. can_do_restart() (netlink IFLA_CAN_RESTART)
 * is the kernel's way, but it needs the driver's restart callback
 * (can_priv::do_set_mode): drivers without one, slcan among them, refuse it
 * with EOPNOTSUPP "Device doesn't support restart from Bus Off" -- on kernels
 * that have that check (upstream c1f3f9797c1f; Debian 12's 6.1 has it);
 * older ones follow the NULL pointer. So an interface without a controller
 * device (slcan) is never sent IFLA_CAN_RESTART: it is taken down and up,
 * as an operator would. Any refusal of can_do_restart() takes that way too:
 * libsocketcan reports the kernel's answer only on stderr ("RTNETLINK
 * answers: ..."), and its errno does not survive its perror() (glibc's
 * perror() may reset it when stderr has not been written through stdio, as
 * ODO_LOG does not). A bus that goes off again within RESTART_CALM_NS of a
 * restart waits twice as long for the next one (1 s up to 60 s): a wrong
 * bitrate or a shorted bus must not become a restart storm.
 */
static void bus_restart(struct odo_vbus *vb)
{
	const char *ifn = vb->cfg->interface;
	uint32_t restart_ms = 0;
	if (can_get_restart_ms(ifn, &restart_ms) == 0 && restart_ms > 0) {
		if (!vb->kernel_restarts_said) {
			vb->kernel_restarts_said = 1;
			ODO_LOG(INFO, A, "%s: the kernel restarts it (restart-ms %u)", ifn, (unsigned)restart_ms);
		}
		return;
	}
	int64_t now = now_mono(vb);
	if (now < vb->restart_next_ns)
		return; /* the next state check tries again */
	const char *how = "can_do_restart";
	int netlink = !vb->down_by_us && has_controller_device(ifn);
	int ok = netlink && can_do_restart(ifn) == 0;
	if (!ok) {
		how = "interface down and up";
		if (vb->restart_failures == 0)
			ODO_LOG(INFO, A, "%s: %s; taking the interface down and up", ifn,
			        netlink ? "can_do_restart refused (drivers without a bus-off restart answer "
			                  "EOPNOTSUPP)"
			                : "no controller device behind it (a line-discipline adapter such as slcan): "
			                  "no IFLA_CAN_RESTART");
		ok = bus_reopen(vb) == 0;
	}
	if (!ok) {
		vb->restart_failures++;
		if (worth_logging(vb->restart_failures))
			ODO_LOG(
			    WARN, A,
			    "%s: restart failed, interface %s (%llu failures; the kernel's reason is in the "
			    "RTNETLINK line before; restarts need CAP_NET_ADMIN)",
			    ifn, vb->down_by_us ? "left down, retried" : "not taken down",
			    (unsigned long long)vb->restart_failures);
		return;
	}
	vb->restart_gap_ns = vb->last_restart_ns && now - vb->last_restart_ns < RESTART_CALM_NS
	                         ? (vb->restart_gap_ns * 2 > RESTART_GAP_MAX_NS ? RESTART_GAP_MAX_NS
	                                                                        : vb->restart_gap_ns * 2)
	                         : RESTART_GAP_MIN_NS;
	vb->last_restart_ns = now;
	vb->restart_next_ns = now + vb->restart_gap_ns;
	vb->ct.restarts++;
	int st = -1;
	(void)can_get_state(ifn, &st);
	if (st != CAN_STATE_BUS_OFF)
		vb->in_bus_off = 0;
	ODO_LOG(INFO, A, "%s: controller restarted (%s), state %s; next restart no sooner than %lld ms", ifn,
	        how, state_name(st), (long long)(vb->restart_gap_ns / ODO_NS_PER_MS));
}

/* Called every state_period_s, on bus-off and restarted error frames. A
 * bus-off episode is counted once however often it is seen; while it lasts
 * the restart is retried at each check. */
static void bus_state_check(struct odo_vbus *vb, int busoff_frame)
{
	if (!vb->live)
		return;
	const char *ifn = vb->cfg->interface;
	int st = -1;
	if (vb->down_by_us) { /* our restart took it down but could not bring it up */
		bus_restart(vb);
		return;
	}
	if (can_get_state(ifn, &st) != 0) {
		if (vb->state_ok)
			ODO_LOG(INFO, A, "%s: controller state not available (virtual interface?)", ifn);
		vb->state_ok = 0;
		return;
	}
	vb->state_ok = 1;
	int off = st == CAN_STATE_BUS_OFF;
	if ((off || busoff_frame) && !vb->in_bus_off) {
		vb->in_bus_off = 1;
		vb->restart_failures = 0;
		vb->ct.bus_off++;
		vb->st.errors++;
		ODO_LOG(WARN, A, "%s: bus-off (%llu times), state %s%s", ifn,
		        (unsigned long long)vb->ct.bus_off, state_name(st),
		        vb->cfg->restart_bus_off ? "" : "; restart_bus_off = false: not restarting it");
	}
	if (!off) {
		if (vb->in_bus_off && !busoff_frame) {
			vb->in_bus_off = 0;
			ODO_LOG(INFO, A, "%s: out of bus-off, state %s", ifn, state_name(st));
		}
		return;
	}
	if (vb->cfg->restart_bus_off)
		bus_restart(vb);
}

static int ep_add(struct odo_vbus *vb, int fd, uint32_t tag);

/* Kernel ISO-TP socket for OBD responder i: receives on its response id,
 * sends flow control on its physical request id (29-bit: 18DAF1xx and
 * 18DAxxF1, CAN_EFF_FLAG set). */
static int ecu_kernel_open(struct odo_vbus *vb, int i)
{
	const struct odo_can_cfg *cfg = vb->cfg;
	struct ecu *e = &vb->ecus[i];
	int rc = odo_can_isotp_open(cfg->interface, e->req_id, e->resp_id, (uint8_t)cfg->isotp_bs,
	                         (uint8_t)cfg->isotp_stmin, &e->kfd);
	if (rc == ODO_OK && ep_add(vb, e->kfd, TAG_ECU + (unsigned)i) != 0)
		rc = ODO_ERR_IO;
	if (rc != ODO_OK) {
		int err = errno;
		if (e->kfd >= 0)
			close(e->kfd);
		e->kfd = -1;
		e->kfd_failed = 1;
		ODO_LOG(WARN, A, "%s: kernel ISO-TP socket %X: %s", cfg->interface,
		        (unsigned)(e->resp_id & CAN_EFF_MASK), strerror(err));
		return rc;
	}
	if (cfg->addressing == ODO_CAN_ADDR_29)
		ODO_LOG(INFO, A, "ECU %X: kernel ISO-TP, flow control on %X",
		        (unsigned)(e->resp_id & CAN_EFF_MASK), (unsigned)(e->req_id & CAN_EFF_MASK));
	return ODO_OK;
}

static void process(struct odo_vbus *vb, const struct can_frame *f)
{
	vb->ct.frames++;
	record(vb, f);
	if (f->can_id & CAN_ERR_FLAG) {
		if (f->can_id & CAN_ERR_BUSOFF)
			bus_state_check(vb, 1);
		else if (f->can_id & CAN_ERR_RESTARTED)
			bus_state_check(vb, 0);
		return;
	}
	if (f->can_dlc > CAN_MAX_DLEN) {
		malformed(vb, f->can_id, "DLC > 8", f->data, 0);
		return;
	}
	int64_t now = now_mono(vb);
	/* 29-bit responders (18DAF1xx) are learnt from the bus in both modes. */
	int e = ecu_index(vb, f->can_id, !vb->kernel || vb->cfg->addressing == ODO_CAN_ADDR_29);
	if (e >= 0) {
		struct ecu *ec = &vb->ecus[e];
		if (ec->kfd < 0) {
			odo_isotp_rx(&ec->tp, f, now);
			/* Kernel ISO-TP, 29-bit: a new ECU's first frames were read here;
			 * once its message is complete, the kernel takes it over. */
			if (vb->kernel && !ec->tp.rx_active && !ec->kfd_failed)
				ecu_kernel_open(vb, e);
		}
		return;
	}
	for (int i = 0; i < vb->nuds; i++)
		if (f->can_id == vb->uds[i].resp_id) {
			if (!vb->kernel)
				odo_isotp_rx(&vb->uds[i].tp, f, now);
			return;
		}
	if (vb->dbc)
		on_dbc(vb, f);
}

void odo_vbus_feed_frame(struct odo_vbus *vb, const struct can_frame *f, const char *ifname)
{
	if (!vb || !f)
		return;
	if (ifname && strcmp(ifname, vb->cfg->interface) != 0)
		return;
	process(vb, f);
}

static void read_raw(struct odo_vbus *vb)
{
	/* bounded: at most a few batches per wake-up so timers still run */
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < ODO_CAN_RX_BATCH; i++) {
			vb->mm[i].msg_hdr.msg_controllen = sizeof vb->cmsg[i];
			vb->mm[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(vb->raw_fd, vb->mm, ODO_CAN_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ENETDOWN) {
			/* The interface went down (our bus-off restart, or an operator):
			 * the socket says so once and stays bound. Not a frame error. */
			ODO_LOG(INFO, A, "%s: interface went down", vb->cfg->interface);
			continue;
		}
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				vb->st.errors++;
				if (worth_logging(vb->st.errors))
					ODO_LOG(WARN, A, "%s: read: %s", vb->cfg->interface, strerror(errno));
			}
			return;
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &vb->mm[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
					uint32_t ov;
					memcpy(&ov, CMSG_DATA(c), sizeof ov);
					if (ov != vb->last_ovfl) {
						uint32_t d = ov - vb->last_ovfl;
						vb->last_ovfl = ov;
						vb->ct.kernel_drops += d;
						vb->st.dropped += d;
						ODO_LOG(WARN, A, "%s: kernel dropped %u frames (%llu total)", vb->cfg->interface,
							(unsigned)d, (unsigned long long)vb->ct.kernel_drops);
					}
				}
			if (vb->mm[i].msg_len < CAN_MTU) {
				malformed(vb, 0, "short read", NULL, 0);
				continue;
			}
			process(vb, &vb->rxf[i]);
		}
		if (n < ODO_CAN_RX_BATCH)
			return;
	}
}

static void read_kernel(struct odo_vbus *vb, int fd, int ecu, int uds)
{
	for (int round = 0; round < 8; round++) {
		ssize_t n = read(fd, vb->kbuf, sizeof vb->kbuf);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			if (errno == ENETDOWN)
				continue; /* reported once by the raw socket */
			/* ECOMM: N_Cr timeout, EILSEQ: wrong SN, EBADMSG: bad padding... */
			vb->ct.malformed++;
			vb->st.errors++;
			if (worth_logging(vb->ct.malformed))
				ODO_LOG(WARN, A, "kernel ISO-TP: receive error: %s", strerror(errno));
			continue;
		}
		if (uds >= 0) {
			on_uds(vb, uds, vb->kbuf, (size_t)n);
			if (vb->live && vb->rq.kind == RQ_UDS && vb->rq.got)
				complete_rq(vb, 0);
		} else {
			on_obd_msg(vb, ecu, vb->kbuf, (size_t)n);
		}
	}
}

/* ---- source ------------------------------------------------------------- */

static int src_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_vbus *vb = self;
	if (!vb->live || max < 1)
		return 0;
	pfd[0].fd = vb->ep_fd;
	pfd[0].events = POLLIN;
	return 1;
}

static void src_tick(void *self);

static void src_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_vbus *vb = self;
	if (n < 1 || !(pfd[0].revents & POLLIN))
		return;
	struct epoll_event ev[ODO_CAN_MAX_ECUS + ODO_CAN_MAX_UDS + 1];
	int k = epoll_wait(vb->ep_fd, ev, (int)ODO_ARRAY_LEN(ev), 0);
	for (int i = 0; i < k; i++) {
		uint32_t tag = ev[i].data.u32;
		if (tag == TAG_RAW)
			read_raw(vb);
		else if (tag >= TAG_UDS)
			read_kernel(vb, vb->uds[tag - TAG_UDS].kfd, -1, (int)(tag - TAG_UDS));
		else
			read_kernel(vb, vb->ecus[tag - TAG_ECU].kfd, (int)(tag - TAG_ECU), -1);
	}
	src_tick(vb);
}

static int64_t src_deadline(void *self)
{
	struct odo_vbus *vb = self;
	int64_t d = ODO_DEADLINE_NONE;
#define MIN(x) do { int64_t _x = (x); if (_x < d) d = _x; } while (0)
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].kfd < 0)
			MIN(odo_isotp_deadline(&vb->ecus[i].tp));
	if (!vb->kernel)
		for (int i = 0; i < vb->nuds; i++)
			MIN(odo_isotp_deadline(&vb->uds[i].tp));
	if (!vb->live)
		return d;
	if (vb->state_ok)
		MIN(vb->state_due);
	if (vb->rq.kind != RQ_NONE)
		return vb->rq.deadline < d ? vb->rq.deadline : d;
	if (!vb->discovered) {
		MIN(vb->disc_due);
	} else {
		for (int p = 0; p < vb->npoll; p++)
			if (vb->poll[p].enabled)
				MIN(vb->poll[p].next_due);
		MIN(vb->dtc_due);
		if (!vb->have_vin)
			MIN(vb->vin_due);
	}
	for (int i = 0; i < vb->nuds; i++)
		MIN(vb->uds[i].next_due);
#undef MIN
	return d;
}

static void src_tick(void *self)
{
	struct odo_vbus *vb = self;
	int64_t now = now_mono(vb);
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].kfd < 0)
			odo_isotp_tick(&vb->ecus[i].tp, now);
	if (!vb->kernel)
		for (int i = 0; i < vb->nuds; i++)
			odo_isotp_tick(&vb->uds[i].tp, now);
	if (!vb->live)
		return;
	if (vb->state_ok && now >= vb->state_due) {
		vb->state_due = now + (int64_t)(vb->cfg->state_period_s * 1e9);
		bus_state_check(vb, 0);
	}
	if (vb->rq.kind != RQ_NONE && now >= vb->rq.deadline)
		complete_rq(vb, 1);
	schedule(vb);
}

static const struct odo_source_ops vbus_ops = {
	.name = "can",
	.pollfds = src_pollfds,
	.handle = src_handle,
	.deadline = src_deadline,
	.tick = src_tick,
};

struct odo_source odo_vbus_source(struct odo_vbus *vb)
{
	struct odo_source s = { .ops = &vbus_ops, .self = vb };
	return s;
}

/* ---- configuration ------------------------------------------------------ */

static int parse_hex(const char *s, const char *end, uint32_t *out)
{
	if (s == end)
		return -1;
	uint32_t v = 0;
	for (; s < end; s++) {
		int h = (*s >= '0' && *s <= '9') ? *s - '0' : ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f') ? (*s | 0x20) - 'a' + 10 : -1;
		if (h < 0 || v > 0x1FFFFFFFu >> 4)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

/* Split `list` on commas; call fn for each trimmed item. */
static int each_item(const char *list, int (*fn)(struct odo_vbus *, const char *, size_t), struct odo_vbus *vb)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if (t > p && fn(vb, p, (size_t)(t - p)) != 0)
			return -1;
		p = e;
	}
	return 0;
}

static int add_poll(struct odo_vbus *vb, const char *s, size_t n)
{
	char buf[32];
	if (n >= sizeof buf || vb->npoll >= ODO_CAN_MAX_POLL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *colon = strchr(buf, ':');
	uint32_t pid;
	if (!colon || parse_hex(buf, colon, &pid) != 0 || pid > 0xFF || odo_obd_pid_len((uint8_t)pid) == 0)
		return -1;
	char *end;
	double per = strtod(colon + 1, &end);
	if (*end || !(per >= 0.05) || per > 86400)
		return -1;
	vb->poll[vb->npoll].pid = (uint8_t)pid;
	vb->poll[vb->npoll].period_ns = (int64_t)(per * 1e9);
	vb->npoll++;
	return 0;
}

static int add_uds(struct odo_vbus *vb, const char *s, size_t n)
{
	if (vb->nuds >= ODO_CAN_MAX_UDS)
		return -1;
	const char *c1 = memchr(s, ':', n);
	if (!c1 || c1 == s || (size_t)(c1 - s) >= sizeof vb->uds[0].name)
		return -1;
	const char *c2 = memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1));
	uint32_t req, resp;
	if (!c2 || parse_hex(c1 + 1, c2, &req) != 0 || parse_hex(c2 + 1, s + n, &resp) != 0)
		return -1;
	struct uds_mod *m = &vb->uds[vb->nuds++];
	memcpy(m->name, s, (size_t)(c1 - s));
	m->name[c1 - s] = '\0';
	m->req_id = req > CAN_SFF_MASK ? req | CAN_EFF_FLAG : req;
	m->resp_id = resp > CAN_SFF_MASK ? resp | CAN_EFF_FLAG : resp;
	return 0;
}

static int add_deploy(struct odo_vbus *vb, const char *s, size_t n)
{
	char buf[8];
	if (n >= sizeof buf || vb->ndeploy >= ODO_CAN_MAX_DEPLOY)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return odo_obd_dtc_parse(buf, vb->deploy[vb->ndeploy++]) == ODO_OK ? 0 : -1;
}

static int setup_roles(struct odo_vbus *vb)
{
	const char *spec[ODO_SIG__COUNT] = {
		[ODO_SIG_AIRBAG_DEPLOYED] = vb->cfg->role_airbag_deployed,
		[ODO_SIG_CRASH_DETECTED] = vb->cfg->role_crash_detected,
		[ODO_SIG_WIPERS] = vb->cfg->role_wipers,
		[ODO_SIG_SEATBELT_DRIVER] = vb->cfg->role_seatbelt_driver,
		[ODO_SIG_VEHICLE_SPEED] = vb->cfg->role_vehicle_speed,
	};
	int any = 0;
	for (int r = 0; r < ODO_SIG__COUNT; r++)
		any |= spec[r][0] != '\0';
	if (!vb->cfg->dbc[0]) {
		if (any) {
			ODO_LOG(ERROR, A, "[can] signal roles are set but no dbc file");
			return ODO_ERR_CONFIG;
		}
		return ODO_OK;
	}
	int line = 0;
	int rc = odo_dbc_load(vb->cfg->dbc, &vb->dbc, &line);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, A, "DBC %s: %s (line %d)", vb->cfg->dbc, odo_strerror(rc), line);
		return ODO_ERR_CONFIG;
	}
	for (int r = 0; r < ODO_SIG__COUNT; r++) {
		if (!spec[r][0])
			continue;
		char buf[ODO_CAN_ROLE_MAX];
		snprintf(buf, sizeof buf, "%s", spec[r]);
		char *dot = strchr(buf, '.');
		if (!dot) {
			ODO_LOG(ERROR, A, "[can] role '%s' is not MESSAGE.SIGNAL", spec[r]);
			return ODO_ERR_CONFIG;
		}
		*dot = '\0';
		const struct odo_dbc_msg *m = odo_dbc_find_msg(vb->dbc, buf);
		const struct odo_dbc_signal *s = odo_dbc_find_signal(m, dot + 1);
		if (!s) {
			ODO_LOG(ERROR, A, "[can] role signal '%s' not in %s", spec[r], vb->cfg->dbc);
			return ODO_ERR_CONFIG;
		}
		vb->roles[r].id = m->id;
		vb->roles[r].sig = s;
		vb->roles[r].scale = 1.0;
		if (r == ODO_SIG_VEHICLE_SPEED) {
			if (strcmp(s->unit, "km/h") == 0 || strcmp(s->unit, "kph") == 0)
				vb->roles[r].scale = 1 / 3.6;
			else if (strcmp(s->unit, "mph") == 0)
				vb->roles[r].scale = 0.44704;
		}
	}
	return ODO_OK;
}

static int open_common(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
		       const struct odo_sink *sink, int live, struct odo_vbus **out)
{
	if (!cfg || !clock || !out)
		return ODO_ERR_INVAL;
	struct odo_vbus *vb = calloc(1, sizeof *vb);
	if (!vb)
		return ODO_ERR_NOMEM;
	vb->cfg = cfg;
	vb->clock = clock;
	if (sink)
		vb->sink = *sink;
	vb->live = live;
	vb->raw_fd = vb->ep_fd = -1;
	int rc = ODO_ERR_CONFIG;
	if (each_item(cfg->poll, add_poll, vb) != 0) {
		ODO_LOG(ERROR, A, "[can] poll: bad list '%s' (PID:seconds, known PIDs, up to %d)", cfg->poll, ODO_CAN_MAX_POLL);
		goto fail;
	}
	if (each_item(cfg->uds_modules, add_uds, vb) != 0) {
		ODO_LOG(ERROR, A, "[can] uds_modules: bad list '%s' (NAME:REQ:RESP hex)", cfg->uds_modules);
		goto fail;
	}
	if (each_item(cfg->deployment_dtcs, add_deploy, vb) != 0) {
		ODO_LOG(ERROR, A, "[can] deployment_dtcs: bad list '%s' (codes like B0001)", cfg->deployment_dtcs);
		goto fail;
	}
	if ((rc = setup_roles(vb)) != ODO_OK)
		goto fail;
	struct odo_isotp_cb cb = { .ctx = vb, .send = raw_send, .msg = tp_msg, .event = tp_event };
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++) {
		struct ecu *e = &vb->ecus[i];
		e->kfd = -1;
		e->mil = -1;
		if (cfg->addressing == ODO_CAN_ADDR_11) {
			e->used = 0; /* becomes used on first response */
			e->resp_id = OBD_RESP_11 + (uint32_t)i;
			e->req_id = e->resp_id - 8;
		}
		odo_isotp_init(&e->tp, e->req_id, e->resp_id, (uint8_t)cfg->isotp_bs, (uint8_t)cfg->isotp_stmin, &cb);
		e->tp.user = (void *)(intptr_t)(TAG_ECU + (unsigned)i);
	}
	for (int i = 0; i < vb->nuds; i++) {
		vb->uds[i].kfd = -1;
		odo_isotp_init(&vb->uds[i].tp, vb->uds[i].req_id, vb->uds[i].resp_id, (uint8_t)cfg->isotp_bs,
			       (uint8_t)cfg->isotp_stmin, &cb);
		vb->uds[i].tp.user = (void *)(intptr_t)(TAG_UDS + (unsigned)i);
	}
	for (int i = 0; i < ODO_CAN_RX_BATCH; i++) {
		vb->iov[i].iov_base = &vb->rxf[i];
		vb->iov[i].iov_len = sizeof vb->rxf[i];
		vb->mm[i].msg_hdr.msg_iov = &vb->iov[i];
		vb->mm[i].msg_hdr.msg_iovlen = 1;
		vb->mm[i].msg_hdr.msg_control = vb->cmsg[i];
	}
	int64_t now = odo_clock_mono_ns(clock);
	vb->disc_due = now;
	vb->dtc_due = now; /* both wait for discovery, then run at once */
	vb->vin_due = now;
	vb->rq.kind = RQ_NONE;
	for (int i = 0; i < vb->nuds; i++)
		vb->uds[i].next_due = now;
	*out = vb;
	return ODO_OK;
fail:
	odo_vbus_close(vb);
	return rc;
}

static int ep_add(struct odo_vbus *vb, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(vb->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

int odo_vbus_open(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
		  const struct odo_sink *sink, struct odo_vbus **out)
{
	struct odo_vbus *vb;
	int rc = open_common(cfg, clock, sink, 1, &vb);
	if (rc != ODO_OK)
		return rc;
	int kernel = 0;
	if (cfg->isotp == ODO_ISOTP_KERNEL) {
		if (!odo_can_isotp_available()) {
			ODO_LOG(ERROR, A, "[can] isotp = kernel but this kernel has no CAN_ISOTP (modprobe can-isotp)");
			rc = ODO_ERR_UNSUPPORTED;
			goto fail;
		}
		kernel = 1;
	} else if (cfg->isotp == ODO_ISOTP_AUTO) {
		kernel = odo_can_isotp_available();
	}
	vb->kernel = kernel;
	rc = odo_can_raw_open(cfg->interface, &vb->raw_fd);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, A, "%s: cannot open raw CAN socket: %s", cfg->interface, strerror(errno));
		goto fail;
	}
	vb->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vb->ep_fd < 0 || ep_add(vb, vb->raw_fd, TAG_RAW) != 0) {
		rc = ODO_ERR_IO;
		goto fail;
	}
	if (kernel) {
		/* 11-bit: the eight responders 7E8..7EF are known in advance. 29-bit:
		 * sockets open as ECUs answer (ecu_kernel_open() from process()). */
		for (int i = 0; cfg->addressing == ODO_CAN_ADDR_11 && i < ODO_CAN_MAX_ECUS; i++)
			if ((rc = ecu_kernel_open(vb, i)) != ODO_OK)
				goto fail;
		for (int i = 0; i < vb->nuds; i++) {
			struct uds_mod *m = &vb->uds[i];
			rc = odo_can_isotp_open(cfg->interface, m->req_id, m->resp_id, (uint8_t)cfg->isotp_bs,
					     (uint8_t)cfg->isotp_stmin, &m->kfd);
			if (rc != ODO_OK || ep_add(vb, m->kfd, TAG_UDS + (unsigned)i) != 0) {
				ODO_LOG(ERROR, A, "%s: kernel ISO-TP socket for UDS %s: %s", cfg->interface, m->name,
					strerror(errno));
				rc = rc != ODO_OK ? rc : ODO_ERR_IO;
				goto fail;
			}
		}
	}
	/* Controller state and bitrate: real CAN controllers only (not vcan). */
	struct can_bittiming bt;
	int st;
	if (can_get_state(cfg->interface, &st) == 0) {
		vb->state_ok = 1;
		vb->state_due = odo_clock_mono_ns(clock);
		/* A bitrate the adapter chose itself (slcan brought up without one)
		 * reads as CAN_BITRATE_UNKNOWN: nothing to compare. */
		if (can_get_bittiming(cfg->interface, &bt) != 0 || bt.bitrate == 0 ||
		    bt.bitrate == ODO_CAN_BITRATE_UNKNOWN)
			ODO_LOG(INFO, A, "%s: bitrate not known to the kernel (set by the adapter)%s",
			        cfg->interface, cfg->bitrate ? ", not checked" : "");
		else if (cfg->bitrate && bt.bitrate != (uint32_t)cfg->bitrate)
			ODO_LOG(WARN, A, "%s: bitrate %u bit/s, expected %lld", cfg->interface, bt.bitrate,
			        cfg->bitrate);
		else
			ODO_LOG(INFO, A, "%s: bitrate %u bit/s", cfg->interface, bt.bitrate);
	} else {
		ODO_LOG(INFO, A, "%s: no controller state (virtual interface); bus-off checks off", cfg->interface);
	}
	ODO_LOG(INFO, A, "%s: OBD-II %s-bit, %s ISO-TP, %d PIDs scheduled, %d UDS modules%s%s", cfg->interface,
		cfg->addressing == ODO_CAN_ADDR_29 ? "29" : "11", kernel ? "kernel" : "userspace", vb->npoll, vb->nuds,
		vb->dbc ? ", DBC " : "", vb->dbc ? cfg->dbc : "");
	*out = vb;
	return ODO_OK;
fail:
	odo_vbus_close(vb);
	return rc;
}

int odo_vbus_open_replay(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
			 const struct odo_sink *sink, struct odo_vbus **out)
{
	return open_common(cfg, clock, sink, 0, out);
}

void odo_vbus_set_recorder(struct odo_vbus *vb, FILE *f)
{
	if (vb)
		vb->rec = f;
}

void odo_vbus_stats(const struct odo_vbus *vb, struct odo_source_stats *st)
{
	if (vb && st)
		*st = vb->st;
}

void odo_vbus_counters(const struct odo_vbus *vb, struct odo_can_counters *c)
{
	if (vb && c)
		*c = vb->ct;
}

int odo_vbus_kernel_isotp(const struct odo_vbus *vb)
{
	return vb ? vb->kernel : 0;
}

void odo_vbus_close(struct odo_vbus *vb)
{
	if (!vb)
		return;
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].kfd >= 0)
			close(vb->ecus[i].kfd);
	for (int i = 0; i < vb->nuds; i++)
		if (vb->uds[i].kfd >= 0)
			close(vb->uds[i].kfd);
	if (vb->raw_fd >= 0)
		close(vb->raw_fd);
	if (vb->ep_fd >= 0)
		close(vb->ep_fd);
	odo_dbc_close(vb->dbc);
	free(vb);
}
