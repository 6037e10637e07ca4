/* odo-agent CAN — the vehicle bus source (see vbus.h and vbus_int.h): open
 * and close, the poll-loop source, frame dispatch to the OBD-II client
 * (obdc.c), the UDS reader (uds.c), the controller (busoff.c) and the DBC
 * roles (roles.c), the raw socket's recvmmsg() and kernel ISO-TP reads. */
#include "can/vbus_int.h"

#include <errno.h>
#include <linux/can/error.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "can/candump.h"
#include "can/obd.h"
#include "can/socketcan.h"
#include "odo/log.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif


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

/* Log the 1st..5th occurrence, then each power of two: a garbage flood
 * cannot flood the journal, and the counters keep the exact numbers. */
int vbus__worth_logging(uint64_t n)
{
	return n <= 5 || (n & (n - 1)) == 0;
}

int64_t vbus__now(const struct odo_vbus *vb) { return odo_clock_mono_ns(vb->clock); }

static void record(struct odo_vbus *vb, const struct can_frame *f)
{
	if (!vb->rec)
		return;
	char line[ODO_CANDUMP_LINE_MAX];
	size_t n = odo_candump_format(line, sizeof line, odo_clock_real_ns(vb->clock), vb->cfg->interface, f);
	fwrite(line, 1, n, vb->rec);
}

int vbus__send(void *ctx, const struct can_frame *f)
{
	struct odo_vbus *vb = ctx;
	if (!vb->live)
		return 0; /* replay: the recording already holds what was sent */
	ssize_t w = write(vb->raw_fd, f, sizeof *f);
	if (w != (ssize_t)sizeof *f) {
		vb->st.errors++;
		if (vbus__worth_logging(vb->st.errors))
			ODO_LOG(WARN, VBUS_AREA, "%s: send %03X failed: %s", vb->cfg->interface,
				(unsigned)(f->can_id & CAN_EFF_MASK), strerror(errno));
		return -1;
	}
	vb->ct.sent++;
	record(vb, f);
	return 0;
}

/* ---- sink delivery ------------------------------------------------------ */

uint16_t vbus__ecu_label(uint32_t id)
{
	return (uint16_t)(id & 0xFFFF);
}

void vbus__deliver_signal(struct odo_vbus *vb, int role, double v)
{
	vb->ct.signals++;
	vb->st.received++;
	if (vb->sink.signal) {
		struct odo_signal s = { .mono_ns = vbus__now(vb), .role = (uint8_t)role, .value = v };
		vb->sink.signal(vb->sink.ctx, &s);
	}
}

void vbus__deliver_dtc(struct odo_vbus *vb, struct odo_rec_dtc *d)
{
	d->airbag_deployed = 0;
	for (int l = 0; l < ODO_DTC__LISTS; l++)
		for (int i = 0; i < d->n[l]; i++) {
			uint8_t b[2];
			if (odo_obd_dtc_parse(d->codes[l][i], b) == ODO_OK && uds__is_deploy(vb, b[0], b[1]))
				d->airbag_deployed = 1;
		}
	vb->ct.dtc_records++;
	vb->st.received++;
	ODO_LOG(INFO, VBUS_AREA, "ECU %X: %d stored, %d pending, %d permanent DTCs%s", (unsigned)d->ecu, d->n[0],
		d->n[1], d->n[2], d->airbag_deployed ? ", airbag deployed" : "");
	if (vb->sink.dtc)
		vb->sink.dtc(vb->sink.ctx, vbus__now(vb), d);
}

void vbus__malformed(struct odo_vbus *vb, uint32_t id, const char *why, const uint8_t *d, size_t len)
{
	vb->ct.malformed++;
	vb->st.errors++;
	if (vbus__worth_logging(vb->ct.malformed))
		ODO_LOG(WARN, VBUS_AREA, "%X: malformed response (%s), %zu bytes starting %02X (%llu malformed so far)",
			(unsigned)(id & CAN_EFF_MASK), why, len, len ? d[0] : 0, (unsigned long long)vb->ct.malformed);
}

/* ---- ISO-TP callbacks: to the OBD-II client or the UDS reader ----------- */

static void tp_msg(void *ctx, struct odo_isotp *l, const uint8_t *d, size_t len)
{
	struct odo_vbus *vb = ctx;
	intptr_t tag = (intptr_t)l->user;
	if (tag >= (intptr_t)TAG_UDS)
		uds__msg(vb, (int)(tag - TAG_UDS), d, len);
	else
		obdc__msg(vb, (int)(tag - TAG_ECU), d, len);
	if (vbus__tracks_requests(vb) && vb->rq.kind == RQ_UDS && vb->rq.got)
		obdc__complete(vb, 0);
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
	if (vbus__worth_logging(vb->ct.malformed))
		ODO_LOG(WARN, VBUS_AREA, "ISO-TP %X: %s", (unsigned)(l->rx_id & CAN_EFF_MASK),
			ev == ODO_ISOTP_EV_RX_TIMEOUT ? "consecutive frame timeout (N_Cr)"
			: ev == ODO_ISOTP_EV_TX_TIMEOUT ? "flow control timeout (N_Bs)"
			: ev == ODO_ISOTP_EV_OVERFLOW ? "peer reports overflow"
			: "bad frame (PCI, length or sequence)");
}

/* ---- frame path --------------------------------------------------------- */

static void process(struct odo_vbus *vb, const struct can_frame *f)
{
	vb->ct.frames++;
	record(vb, f);
	if (f->can_id & CAN_ERR_FLAG) {
		if (f->can_id & CAN_ERR_BUSOFF)
			busoff__check(vb, 1);
		else if (f->can_id & CAN_ERR_RESTARTED)
			busoff__check(vb, 0);
		return;
	}
	if (f->can_dlc > CAN_MAX_DLEN) {
		vbus__malformed(vb, f->can_id, "DLC > 8", f->data, 0);
		return;
	}
	int64_t now = vbus__now(vb);
	/* A replay meets odo's own requests in the recording: tracked as sent. */
	if (!vb->live && obdc__request_seen(vb, f))
		return;
	/* 29-bit responders (18DAF1xx) are learnt from the bus in both modes. */
	int e = obdc__ecu_index(vb, f->can_id, !vb->kernel || vb->cfg->addressing == ODO_CAN_ADDR_29);
	if (e >= 0) {
		struct ecu *ec = &vb->ecus[e];
		if (ec->kfd < 0) {
			odo_isotp_rx(&ec->tp, f, now);
			/* Kernel ISO-TP, 29-bit: a new ECU's first frames were read here;
			 * once its message is complete, the kernel takes it over. */
			if (vb->kernel && !ec->tp.rx_active && !ec->kfd_failed)
				attach__kernel_open(vb, e);
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
		roles__frame(vb, f);
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
		if (n < 0 && (errno == ENODEV || errno == ENXIO)) {
			/* The interface is gone (the adapter unplugged): closed and
			 * waited for by the tick right after (attach.c). */
			vb->lost = errno;
			return;
		}
		if (n < 0 && errno == ENETDOWN) {
			/* The interface went down (our bus-off restart, or an operator):
			 * the socket says so once and stays bound. Not a frame error. */
			ODO_LOG(INFO, VBUS_AREA, "%s: interface went down", vb->cfg->interface);
			continue;
		}
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				vb->st.errors++;
				if (vbus__worth_logging(vb->st.errors))
					ODO_LOG(WARN, VBUS_AREA, "%s: read: %s", vb->cfg->interface, strerror(errno));
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
						ODO_LOG(WARN, VBUS_AREA, "%s: kernel dropped %u frames (%llu total)", vb->cfg->interface,
							(unsigned)d, (unsigned long long)vb->ct.kernel_drops);
					}
				}
			if (vb->mm[i].msg_len < CAN_MTU) {
				vbus__malformed(vb, 0, "short read", NULL, 0);
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
			if (vbus__worth_logging(vb->ct.malformed))
				ODO_LOG(WARN, VBUS_AREA, "kernel ISO-TP: receive error: %s", strerror(errno));
			continue;
		}
		if (uds >= 0) {
			uds__msg(vb, uds, vb->kbuf, (size_t)n);
			if (vb->live && vb->rq.kind == RQ_UDS && vb->rq.got)
				obdc__complete(vb, 0);
		} else {
			obdc__msg(vb, ecu, vb->kbuf, (size_t)n);
		}
	}
}

/* ---- source ------------------------------------------------------------- */

static int src_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_vbus *vb = self;
	if (!vb->live || !vb->attached || vb->lost || max < 1)
		return 0;
	pfd[0].fd = vb->ep_fd;
	pfd[0].events = POLLIN;
	return 1;
}

/* Frames in; what they make due (the next request, a timeout) is ticked by
 * the loop right after, at the same instant. */
static void src_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_vbus *vb = self;
	if (n < 1 || !(pfd[0].revents & POLLIN))
		return;
	struct epoll_event ev[ODO_CAN_MAX_ECUS + ODO_CAN_MAX_UDS + 1];
	int k = epoll_wait(vb->ep_fd, ev, (int)ODO_ARRAY_LEN(ev), 0);
	/* The raw socket first: the frames a kernel ISO-TP message was made of
	 * are recorded at the instant the message is decoded, as far as the
	 * kernel has queued them (a replay decodes from those frames). */
	read_raw(vb);
	for (int i = 0; i < k; i++) {
		uint32_t tag = ev[i].data.u32;
		if (tag == TAG_RAW)
			continue;
		else if (tag >= TAG_UDS)
			read_kernel(vb, vb->uds[tag - TAG_UDS].kfd, -1, (int)(tag - TAG_UDS));
		else
			read_kernel(vb, vb->ecus[tag - TAG_ECU].kfd, (int)(tag - TAG_ECU), -1);
	}
}

static int64_t src_deadline(void *self)
{
	struct odo_vbus *vb = self;
	int64_t d = ODO_DEADLINE_NONE;
	if (vb->live && (!vb->attached || vb->lost))
		return attach__deadline(vb); /* nothing else until the interface is there */
#define MIN(x) do { int64_t _x = (x); if (_x < d) d = _x; } while (0)
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].kfd < 0)
			MIN(odo_isotp_deadline(&vb->ecus[i].tp));
	if (!vb->kernel)
		for (int i = 0; i < vb->nuds; i++)
			MIN(odo_isotp_deadline(&vb->uds[i].tp));
	if (vb->live && vb->state_ok)
		MIN(vb->state_due);
	/* a replay times out the requests the recording shows, as live */
	if (vb->rq.kind != RQ_NONE)
		return vb->rq.deadline < d ? vb->rq.deadline : d;
	if (!vb->live)
		return d;
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
	int64_t now = vbus__now(vb);
	if (vb->live && !attach__tick(vb, now))
		return;
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++)
		if (vb->ecus[i].kfd < 0)
			odo_isotp_tick(&vb->ecus[i].tp, now);
	if (!vb->kernel)
		for (int i = 0; i < vb->nuds; i++)
			odo_isotp_tick(&vb->uds[i].tp, now);
	if (vb->live && vb->state_ok && now >= vb->state_due) {
		vb->state_due = now + (int64_t)(vb->cfg->state_period_s * 1e9);
		busoff__check(vb, 0);
	}
	if (vb->rq.kind != RQ_NONE && now >= vb->rq.deadline)
		obdc__complete(vb, 1);
	obdc__schedule(vb); /* live only: sends what is due */
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

int vbus__parse_hex(const char *s, const char *end, uint32_t *out)
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
int vbus__each_item(const char *list, int (*fn)(struct odo_vbus *, const char *, size_t), struct odo_vbus *vb)
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
	int rc;
	if ((rc = obdc__open(vb)) != ODO_OK || (rc = uds__open(vb)) != ODO_OK || (rc = roles__open(vb)) != ODO_OK)
		goto fail;
	struct odo_isotp_cb cb = { .ctx = vb, .send = vbus__send, .msg = tp_msg, .event = tp_event };
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
	*out = vb;
	return ODO_OK;
fail:
	odo_vbus_close(vb);
	return rc;
}
int odo_vbus_open(const struct odo_can_cfg *cfg, const struct odo_clock *clock,
		  const struct odo_sink *sink, struct odo_vbus **out)
{
	struct odo_vbus *vb;
	int rc = open_common(cfg, clock, sink, 1, &vb);
	if (rc != ODO_OK)
		return rc;
	if (cfg->isotp == ODO_ISOTP_KERNEL && !odo_can_isotp_available() && errno != EAFNOSUPPORT) {
		/* (a kernel without any CAN support is an adapter not there yet) */
		ODO_LOG(ERROR, VBUS_AREA, "[can] isotp = kernel but this kernel has no CAN_ISOTP (modprobe can-isotp)");
		odo_vbus_close(vb);
		return ODO_ERR_UNSUPPORTED;
	}
	/* The interface now, or later (attach.c). */
	if ((rc = attach__first(vb)) != ODO_OK) {
		odo_vbus_close(vb);
		return rc;
	}
	*out = vb;
	return ODO_OK;
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
	attach__close(vb);
	odo_dbc_close(vb->dbc);
	free(vb);
}
