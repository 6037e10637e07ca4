/* odo-agent CAN — the adapter coming and going (see vbus_int.h): the live
 * bus's sockets are opened when the interface is there, and the bus waits
 * for it when it is not (a USB adapter not plugged in yet, can0 not created,
 * a kernel without CAN support): a logged, retried condition, never a reason
 * to stop. When the interface disappears (unplugged), the sockets are closed
 * and the bus waits for it again; OBD-II discovery starts over when it
 * returns (it may be another vehicle). */
#include "can/vbus_int.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "can/socketcan.h"
#include "odo/log.h"

/* Retries: 1 s, doubling, at most 30 s (gpsd's reconnect has the same shape). */
#define ATTACH_GAP_MIN_NS (1000LL * ODO_NS_PER_MS)
#define ATTACH_GAP_MAX_NS (30000LL * ODO_NS_PER_MS)

int attach__absent(int err)
{
	switch (err) {
	case ENODEV:          /* no such interface (yet) */
	case ENXIO:
	case ENOENT:
	case ENETDOWN:
	case EAFNOSUPPORT:    /* no CAN in this kernel (can.ko not loaded) */
	case EPROTONOSUPPORT: /* no CAN_RAW */
		return 1;
	default:
		return 0;
	}
}

static int ep_add(struct odo_vbus *vb, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(vb->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

int attach__kernel_open(struct odo_vbus *vb, int i)
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
		ODO_LOG(WARN, VBUS_AREA, "%s: kernel ISO-TP socket %X: %s", cfg->interface,
			(unsigned)(e->resp_id & CAN_EFF_MASK), strerror(err));
		errno = err;
		return rc;
	}
	if (cfg->addressing == ODO_CAN_ADDR_29)
		ODO_LOG(INFO, VBUS_AREA, "ECU %X: kernel ISO-TP, flow control on %X",
			(unsigned)(e->resp_id & CAN_EFF_MASK), (unsigned)(e->req_id & CAN_EFF_MASK));
	return ODO_OK;
}

void attach__close(struct odo_vbus *vb)
{
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++) {
		if (vb->ecus[i].kfd >= 0)
			close(vb->ecus[i].kfd);
		vb->ecus[i].kfd = -1;
	}
	for (int i = 0; i < vb->nuds; i++) {
		if (vb->uds[i].kfd >= 0)
			close(vb->uds[i].kfd);
		vb->uds[i].kfd = -1;
	}
	if (vb->raw_fd >= 0)
		close(vb->raw_fd);
	if (vb->ep_fd >= 0)
		close(vb->ep_fd);
	vb->raw_fd = vb->ep_fd = -1;
	vb->attached = 0;
}

/* What was learnt from the last bus starts over: requests, discovery, DTCs,
 * the VIN, the ISO-TP links. */
static void session_reset(struct odo_vbus *vb)
{
	int64_t now = vbus__now(vb);
	for (int i = 0; i < ODO_CAN_MAX_ECUS; i++) {
		struct ecu *e = &vb->ecus[i];
		if (vb->cfg->addressing == ODO_CAN_ADDR_11)
			e->used = 0;
		e->kfd_failed = 0;
		e->dtc_open = 0;
		memset(e->supported, 0, sizeof e->supported);
		odo_isotp_reset(&e->tp);
	}
	for (int i = 0; i < vb->nuds; i++)
		odo_isotp_reset(&vb->uds[i].tp);
	vb->rq.kind = RQ_NONE;
	vb->discovered = 0;
	vb->disc_base = 0;
	vb->dtc_step = 0;
	vb->have_vin = 0;
	vb->disc_due = vb->dtc_due = vb->vin_due = now;
	for (int i = 0; i < vb->nuds; i++)
		vb->uds[i].next_due = now;
}

int attach__open(struct odo_vbus *vb)
{
	const struct odo_can_cfg *cfg = vb->cfg;
	int rc, err;
	/* auto: the kernel's ISO-TP when its module is there now */
	vb->kernel = cfg->isotp == ODO_ISOTP_KERNEL || (cfg->isotp == ODO_ISOTP_AUTO && odo_can_isotp_available());
	if ((rc = odo_can_raw_open(cfg->interface, &vb->raw_fd)) != ODO_OK) {
		vb->raw_fd = -1;
		return rc; /* errno: why */
	}
	if (cfg->isotp == ODO_ISOTP_KERNEL && !odo_can_isotp_available()) {
		ODO_LOG(ERROR, VBUS_AREA, "[can] isotp = kernel but this kernel has no CAN_ISOTP (modprobe can-isotp)");
		errno = EOPNOTSUPP; /* not an absent interface */
		rc = ODO_ERR_UNSUPPORTED;
		goto fail;
	}
	vb->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vb->ep_fd < 0 || ep_add(vb, vb->raw_fd, TAG_RAW) != 0) {
		rc = ODO_ERR_IO;
		goto fail;
	}
	session_reset(vb);
	if (vb->kernel) {
		/* 11-bit: the eight responders 7E8..7EF are known in advance. 29-bit:
		 * sockets open as ECUs answer (attach__kernel_open() from process()). */
		for (int i = 0; cfg->addressing == ODO_CAN_ADDR_11 && i < ODO_CAN_MAX_ECUS; i++)
			if ((rc = attach__kernel_open(vb, i)) != ODO_OK)
				goto fail;
		for (int i = 0; i < vb->nuds; i++) {
			struct uds_mod *m = &vb->uds[i];
			rc = odo_can_isotp_open(cfg->interface, m->req_id, m->resp_id, (uint8_t)cfg->isotp_bs,
						(uint8_t)cfg->isotp_stmin, &m->kfd);
			if (rc != ODO_OK || ep_add(vb, m->kfd, TAG_UDS + (unsigned)i) != 0) {
				ODO_LOG(ERROR, VBUS_AREA, "%s: kernel ISO-TP socket for UDS %s: %s", cfg->interface, m->name,
					strerror(errno));
				rc = rc != ODO_OK ? rc : ODO_ERR_IO;
				goto fail;
			}
		}
	}
	busoff__open(vb);
	vb->attached = 1;
	vb->lost = 0;
	vb->attach_gap_ns = ATTACH_GAP_MIN_NS;
	vb->absent_said = 0;
	ODO_LOG(INFO, VBUS_AREA, "%s: OBD-II %s-bit, %s ISO-TP, %d PIDs scheduled, %d UDS modules%s%s", cfg->interface,
		cfg->addressing == ODO_CAN_ADDR_29 ? "29" : "11", vb->kernel ? "kernel" : "userspace", vb->npoll, vb->nuds,
		vb->dbc ? ", DBC " : "", vb->dbc ? cfg->dbc : "");
	return ODO_OK;
fail:
	err = errno;
	attach__close(vb);
	errno = err;
	return rc;
}

/* The interface is not there: say so (once per absence), try again later. */
static void wait_for_it(struct odo_vbus *vb, int err, int64_t now)
{
	vb->attach_failures++;
	if (!vb->absent_said) {
		vb->absent_said = 1;
		ODO_LOG(WARN, VBUS_AREA, "%s: no CAN interface (%s): running without the vehicle bus, retrying every"
			" %.0f s at first, then every %.0f s", vb->cfg->interface, strerror(err),
			(double)ATTACH_GAP_MIN_NS / 1e9, (double)ATTACH_GAP_MAX_NS / 1e9);
	} else {
		ODO_LOG(DEBUG, VBUS_AREA, "%s: still no CAN interface (%s)", vb->cfg->interface, strerror(err));
	}
	vb->attach_next_ns = now + vb->attach_gap_ns;
	vb->attach_gap_ns = vb->attach_gap_ns * 2 > ATTACH_GAP_MAX_NS ? ATTACH_GAP_MAX_NS : vb->attach_gap_ns * 2;
}

int attach__first(struct odo_vbus *vb)
{
	vb->attach_gap_ns = ATTACH_GAP_MIN_NS;
	int rc = attach__open(vb);
	if (rc == ODO_OK)
		return ODO_OK;
	int err = errno;
	if (!attach__absent(err)) {
		ODO_LOG(ERROR, VBUS_AREA, "%s: cannot open the CAN interface: %s", vb->cfg->interface, strerror(err));
		return rc;
	}
	wait_for_it(vb, err, vbus__now(vb));
	return ODO_OK;
}

int64_t attach__deadline(const struct odo_vbus *vb)
{
	if (vb->lost)
		return vbus__now(vb); /* close at once */
	return vb->attached ? ODO_DEADLINE_NONE : vb->attach_next_ns;
}

int attach__tick(struct odo_vbus *vb, int64_t now)
{
	if (vb->lost) {
		ODO_LOG(WARN, VBUS_AREA, "%s: the CAN interface is gone (%s): waiting for it to come back", vb->cfg->interface,
			strerror(vb->lost));
		attach__close(vb);
		vb->lost = 0;
		vb->attach_gap_ns = ATTACH_GAP_MIN_NS;
		vb->absent_said = 1; /* said just now */
		vb->attach_next_ns = now + vb->attach_gap_ns;
		return 0;
	}
	if (vb->attached)
		return 1;
	if (now < vb->attach_next_ns)
		return 0;
	if (attach__open(vb) == ODO_OK) {
		ODO_LOG(INFO, VBUS_AREA, "%s: the CAN interface is there: reading the vehicle bus", vb->cfg->interface);
		return 1;
	}
	int err = errno;
	if (!attach__absent(err) && vbus__worth_logging(vb->attach_failures + 1))
		ODO_LOG(WARN, VBUS_AREA, "%s: cannot open the CAN interface: %s; retrying", vb->cfg->interface,
			strerror(err));
	wait_for_it(vb, err, now);
	return 0;
}
