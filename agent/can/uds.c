/* odo-agent CAN — UDS ReadDTCInformation (19 02, ISO 14229-1) from restraint
 * (SRS) modules: their DTCs as records, a deployment DTC as the airbag
 * signal. */
#include <string.h>
#include <unistd.h>

#include "can/obd.h"
#include "can/vbus_int.h"
#include "odo/log.h"

int uds__is_deploy(const struct odo_vbus *vb, uint8_t a, uint8_t b)
{
	for (int i = 0; i < vb->ndeploy; i++)
		if (vb->deploy[i][0] == a && vb->deploy[i][1] == b)
			return 1;
	return 0;
}

void uds__begin(struct odo_vbus *vb, int i)
{
	vb->rq.kind = RQ_UDS;
	vb->rq.sid = 0x19;
	vb->rq.pid = 0x02;
	vb->rq.uds = i;
	vb->rq.expect = 1;
	vb->rq.got = 0;
	vb->rq.deadline = vbus__now(vb) + (int64_t)(vb->cfg->request_timeout_s * 1e9);
}

void uds__start(struct odo_vbus *vb, int i)
{
	static const uint8_t req[3] = { 0x19, 0x02, 0xFF }; /* reportDTCByStatusMask, all */
	struct uds_mod *m = &vb->uds[i];
	int64_t now = vbus__now(vb);
	uds__begin(vb, i);
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
		ODO_LOG(WARN, VBUS_AREA, "UDS %s: cannot send 19 02: %s", m->name, odo_strerror(rc));
		vb->rq.deadline = now;
	}
}

void uds__msg(struct odo_vbus *vb, int i, const uint8_t *d, size_t len)
{
	struct uds_mod *m = &vb->uds[i];
	if (len < 1)
		return;
	if (d[0] == 0x7F) {
		obdc__negative(vb, m->resp_id, i, d, len);
		return;
	}
	if (d[0] != 0x59 || len < 3 || d[1] != 0x02 || (len - 3) % 4 != 0) {
		vbus__malformed(vb, m->resp_id, "not a 59 02 response", d, len);
		return;
	}
	if (vbus__tracks_requests(vb) && !(vb->rq.kind == RQ_UDS && vb->rq.uds == i)) {
		vb->ct.unsolicited++;
		return;
	}
	if (vbus__tracks_requests(vb))
		vb->rq.got = 1;
	struct odo_rec_dtc rec;
	memset(&rec, 0, sizeof rec);
	rec.ecu = vbus__ecu_label(m->resp_id);
	rec.mil = -1;
	for (size_t k = 3; k + 4 <= len; k += 4) {
		uint8_t status = d[k + 3];
		/* pending (bit 2) vs confirmed/test failed (bits 3, 0) */
		int list = (status & 0x09) ? ODO_DTC_STORED : ODO_DTC_PENDING;
		if (rec.n[list] >= ODO_WIRE_MAX_DTCS)
			continue;
		odo_obd_dtc_str(d[k], d[k + 1], rec.codes[list][rec.n[list]++]);
	}
	vbus__deliver_dtc(vb, &rec);
	vbus__deliver_signal(vb, ODO_SIG_AIRBAG_DEPLOYED, rec.airbag_deployed);
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
	if (!c2 || vbus__parse_hex(c1 + 1, c2, &req) != 0 || vbus__parse_hex(c2 + 1, s + n, &resp) != 0)
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

int uds__open(struct odo_vbus *vb)
{
	if (vbus__each_item(vb->cfg->uds_modules, add_uds, vb) != 0) {
		ODO_LOG(ERROR, VBUS_AREA, "[can] uds_modules: bad list '%s' (NAME:REQ:RESP hex)", vb->cfg->uds_modules);
		return ODO_ERR_CONFIG;
	}
	if (vbus__each_item(vb->cfg->deployment_dtcs, add_deploy, vb) != 0) {
		ODO_LOG(ERROR, VBUS_AREA, "[can] deployment_dtcs: bad list '%s' (codes like B0001)",
			vb->cfg->deployment_dtcs);
		return ODO_ERR_CONFIG;
	}
	int64_t now = vbus__now(vb);
	for (int i = 0; i < vb->nuds; i++)
		vb->uds[i].next_due = now;
	return ODO_OK;
}
