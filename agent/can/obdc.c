/* odo-agent CAN — the OBD-II client (SAE J1979 over ISO 15765-4): PID
 * discovery, the polling schedule, DTCs (services 03/07/0A with the MIL from
 * 01 01) and the VIN (09 02); one request in flight at a time, shared with
 * the UDS reads (uds.c). */
#include <stdlib.h>
#include <string.h>

#include "can/obd.h"
#include "can/vbus_int.h"
#include "odo/log.h"

#define NRC_PENDING 0x78
#define PENDING_EXTEND_NS (5000LL * ODO_NS_PER_MS)

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
	return vbus__send(vb, &f);
}

/* A request is in flight from now (sent, or seen in a replay). */
static void begin_rq(struct odo_vbus *vb, int kind, uint8_t sid, int pid, uint32_t expect)
{
	vb->rq.kind = kind;
	vb->rq.sid = sid;
	vb->rq.pid = pid >= 0 ? (uint8_t)pid : 0;
	vb->rq.expect = expect;
	vb->rq.got = 0;
	vb->rq.deadline = vbus__now(vb) + (int64_t)(vb->cfg->request_timeout_s * 1e9);
}

static void start_rq(struct odo_vbus *vb, int kind, uint8_t sid, int pid, uint32_t expect)
{
	begin_rq(vb, kind, sid, pid, expect);
	if (send_functional(vb, sid, pid) != 0)
		vb->rq.deadline = vbus__now(vb); /* fails like a timeout, retried by the schedule */
}

/* The DTC cycle (01 01 for the MIL, then 03, 07, 0A) starts at step 0. */
static void dtc_cycle_start(struct odo_vbus *vb)
{
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		vb->ecus[i].mil = -1;
}

int obdc__request_seen(struct odo_vbus *vb, const struct can_frame *f)
{
	uint32_t func = vb->cfg->addressing == ODO_CAN_ADDR_29 ? OBD_FUNC_29 : OBD_FUNC_11;
	int n = f->can_dlc >= 2 && (f->data[0] >> 4) == 0 ? f->data[0] & 15 : 0; /* single frame */
	int uds = -1;
	for (int i = 0; i < vb->nuds; i++)
		if (f->can_id == vb->uds[i].req_id)
			uds = i;
	if ((f->can_id != func && uds < 0) || n < 1 || n + 1 > f->can_dlc)
		return 0;
	uint8_t sid = f->data[1];
	int pid = n >= 2 ? f->data[2] : -1;
	if (uds >= 0 && sid != 0x19)
		return 0;
	vb->requests_seen = 1;
	/* odo has one request in flight; a recording made otherwise may not */
	if (vb->rq.kind != RQ_NONE)
		obdc__complete(vb, 0);
	if (uds >= 0) {
		uds__begin(vb, uds);
	} else if (sid == 0x01 && !vb->discovered && pid >= 0 && pid % 0x20 == 0) {
		vb->disc_base = pid;
		vb->disc_due = INT64_MAX;
		begin_rq(vb, RQ_DISCOVER, sid, pid, pid ? supporters(vb, (uint8_t)pid) : 0);
	} else if (sid == 0x01 && pid == 0x01) {
		vb->dtc_step = 0;
		dtc_cycle_start(vb);
		begin_rq(vb, RQ_DTC, sid, pid, supporters(vb, 1));
	} else if (sid == 0x03 || sid == 0x07 || sid == 0x0A) {
		vb->dtc_step = sid == 0x03 ? 1 : sid == 0x07 ? 2 : 3;
		begin_rq(vb, RQ_DTC, sid, -1, 0);
	} else if (sid == 0x09) {
		vb->vin_due = INT64_MAX;
		begin_rq(vb, RQ_VIN, sid, pid, 0);
	} else if (sid == 0x01 && pid >= 0) {
		begin_rq(vb, RQ_PID, sid, pid, supporters(vb, (uint8_t)pid));
	} else {
		begin_rq(vb, RQ_PID, sid, pid, 0); /* a service odo does not decode */
	}
	return 1;
}

static void finish_dtc_cycle(struct odo_vbus *vb)
{
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++) {
		struct ecu *e = &vb->ecus[i];
		if (e->dtc_open) {
			e->dtc_open = 0;
			e->dtc.mil = e->mil;
			vbus__deliver_dtc(vb, &e->dtc);
		}
	}
}

int obdc__ecu_index(struct odo_vbus *vb, uint32_t id, int create)
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

/* The request in flight is over (all expected answered, or timed out). */
void obdc__complete(struct odo_vbus *vb, int timed_out)
{
	int64_t now = vbus__now(vb);
	int kind = vb->rq.kind;
	if (timed_out && vb->rq.got == 0) {
		vb->ct.timeouts++;
		vb->st.errors++;
		if (vbus__worth_logging(vb->ct.timeouts)) {
			if (kind == RQ_UDS)
				ODO_LOG(WARN, VBUS_AREA, "UDS %s: no response to 19 02 within %.0f ms (%llu timeouts)",
					vb->uds[vb->rq.uds].name, vb->cfg->request_timeout_s * 1e3,
					(unsigned long long)vb->ct.timeouts);
			else
				ODO_LOG(WARN, VBUS_AREA, "no ECU answered %02X %02X within %.0f ms (%llu timeouts)", vb->rq.sid,
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
				ODO_LOG(INFO, VBUS_AREA, "PID %02X: no ECU supports it, not polled", vb->poll[p].pid);
		}
		ODO_LOG(INFO, VBUS_AREA, "PID discovery done");
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

void obdc__schedule(struct odo_vbus *vb)
{
	if (!vb->live || vb->rq.kind != RQ_NONE)
		return;
	int64_t now = vbus__now(vb);
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
				dtc_cycle_start(vb);
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
				uds__start(vb, i);
				return;
			}
}

/* Does this response answer the request in flight? (Always, in the
 * replay of a recording without odo's requests.) */
static int solicited(struct odo_vbus *vb, int ecu, uint8_t sid, int pid)
{
	if (!vbus__tracks_requests(vb))
		return 1;
	int ok = vb->rq.kind != RQ_NONE && vb->rq.kind != RQ_UDS && vb->rq.sid == sid &&
		 (pid < 0 || vb->rq.pid == pid);
	if (!ok) {
		vb->ct.unsolicited++;
		if (vbus__worth_logging(vb->ct.unsolicited))
			ODO_LOG(DEBUG, VBUS_AREA, "ECU %X: unsolicited response %02X ignored", (unsigned)vbus__ecu_label(vb->ecus[ecu].resp_id),
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
		vbus__malformed(vb, e->resp_id, "41 without PID", d, len);
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
			vbus__malformed(vb, e->resp_id, n == 0 ? "unknown PID" : "short PID data", d, len);
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
			struct odo_obd_value ov = { .mono_ns = vbus__now(vb), .ecu = vbus__ecu_label(e->resp_id), .pid = pid, .value = val };
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
		vbus__malformed(vb, e->resp_id, "DTC count does not match length", d, len);
		return;
	}
	if (!solicited(vb, ecu, (uint8_t)(d[0] - 0x40), -1))
		return;
	if (!e->dtc_open || list == ODO_DTC_STORED) {
		/* a new cycle starts with service 03 (or whatever came first) */
		int keep_mil = e->mil;
		memset(&e->dtc, 0, sizeof e->dtc);
		e->dtc.ecu = vbus__ecu_label(e->resp_id);
		e->dtc.mil = keep_mil;
		e->dtc_open = 1;
	}
	e->dtc.n[list] = (uint8_t)n;
	memcpy(e->dtc.codes[list], codes, sizeof codes[0] * (size_t)n);
	if (list == ODO_DTC_PERMANENT) { /* last of the cycle */
		e->dtc_open = 0;
		e->dtc.mil = e->mil;
		vbus__deliver_dtc(vb, &e->dtc);
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
		vbus__malformed(vb, e->resp_id, "VIN is not 17 characters", d, len);
		return;
	}
	struct odo_rec_vehicle v;
	memset(&v, 0, sizeof v);
	for (size_t i = 0; i < n; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z'))) {
			vbus__malformed(vb, e->resp_id, "VIN has a non-alphanumeric character", d, len);
			return;
		}
		v.vin[i] = (char)p[i];
	}
	if (!solicited(vb, ecu, 0x09, 0x02))
		return;
	v.ecu = vbus__ecu_label(e->resp_id);
	vb->have_vin = 1;
	vb->ct.vin_records++;
	vb->st.received++;
	ODO_LOG(INFO, VBUS_AREA, "ECU %X: VIN %s", (unsigned)v.ecu, v.vin);
	if (vb->sink.vehicle)
		vb->sink.vehicle(vb->sink.ctx, vbus__now(vb), &v);
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

void obdc__negative(struct odo_vbus *vb, uint32_t id, int uds, const uint8_t *d, size_t len)
{
	if (len < 3) {
		vbus__malformed(vb, id, "short negative response", d, len);
		return;
	}
	if (d[2] == NRC_PENDING) {
		if (vb->rq.kind != RQ_NONE)
			vb->rq.deadline = vbus__now(vb) + PENDING_EXTEND_NS;
		return;
	}
	vb->ct.negative++;
	vb->st.errors++;
	if (vbus__worth_logging(vb->ct.negative))
		ODO_LOG(WARN, VBUS_AREA, "%s %X: negative response to service %02X: NRC %02X %s", uds >= 0 ? "UDS module" : "ECU",
			(unsigned)(id & CAN_EFF_MASK), d[1], d[2], nrc_name(d[2]));
	if (vbus__tracks_requests(vb) && vb->rq.kind != RQ_NONE && vb->rq.sid == d[1]) {
		if (uds >= 0)
			vb->rq.got = 1;
		else {
			int e = obdc__ecu_index(vb, id, 0);
			if (e >= 0)
				vb->rq.got |= 1u << e;
		}
	}
}

/* A complete ISO-TP message from OBD responder `ecu`. */
void obdc__msg(struct odo_vbus *vb, int ecu, const uint8_t *d, size_t len)
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
		obdc__negative(vb, vb->ecus[ecu].resp_id, -1, d, len);
		break;
	default:
		vbus__malformed(vb, vb->ecus[ecu].resp_id, "unknown service", d, len);
	}
	if (vbus__tracks_requests(vb) && vb->rq.kind != RQ_NONE && vb->rq.kind != RQ_UDS && vb->rq.expect &&
	    (vb->rq.got & vb->rq.expect) == vb->rq.expect)
		obdc__complete(vb, 0);
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
	if (!colon || vbus__parse_hex(buf, colon, &pid) != 0 || pid > 0xFF || odo_obd_pid_len((uint8_t)pid) == 0)
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

int obdc__open(struct odo_vbus *vb)
{
	if (vbus__each_item(vb->cfg->poll, add_poll, vb) != 0) {
		ODO_LOG(ERROR, VBUS_AREA, "[can] poll: bad list '%s' (PID:seconds, known PIDs, up to %d)", vb->cfg->poll,
			ODO_CAN_MAX_POLL);
		return ODO_ERR_CONFIG;
	}
	int64_t now = vbus__now(vb);
	vb->disc_due = now;
	vb->dtc_due = now; /* both wait for discovery, then run at once */
	vb->vin_due = now;
	vb->rq.kind = RQ_NONE;
	return ODO_OK;
}
