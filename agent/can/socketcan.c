/* SocketCAN socket set-up (see socketcan.h). */
#include "can/socketcan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/isotp.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "odo/err.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

int odo_can_raw_open(const char *ifname, int *fd)
{
	int s = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (s < 0)
		return ODO_ERR_IO;
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0) {
		int e = errno;
		close(s);
		errno = e;
		return ODO_ERR_IO;
	}
	int one = 1;
	(void)setsockopt(s, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	can_err_mask_t em = CAN_ERR_BUSOFF | CAN_ERR_CRTL | CAN_ERR_RESTARTED | CAN_ERR_BUSERROR;
	(void)setsockopt(s, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &em, sizeof em);
	/* A saturated bus must not overrun a briefly busy loop: ask for a
	 * large queue, beyond rmem_max when privileged (SO_RCVBUFFORCE). */
	int rcvbuf = ODO_CAN_RCVBUF;
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_can a;
	memset(&a, 0, sizeof a);
	a.can_family = AF_CAN;
	a.can_ifindex = (int)idx;
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return ODO_ERR_IO;
	}
	*fd = s;
	return ODO_OK;
}

int odo_can_isotp_available(void)
{
	int s = socket(PF_CAN, SOCK_DGRAM | SOCK_CLOEXEC, CAN_ISOTP);
	if (s < 0)
		return 0; /* EPROTONOSUPPORT / ENOENT: module absent */
	close(s);
	return 1;
}

int odo_can_isotp_open(const char *ifname, uint32_t tx_id, uint32_t rx_id, uint8_t bs,
		       uint8_t stmin, int *fd)
{
	int s = socket(PF_CAN, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_ISOTP);
	if (s < 0)
		return (errno == EPROTONOSUPPORT || errno == ENOENT || errno == EAFNOSUPPORT)
			       ? ODO_ERR_UNSUPPORTED : ODO_ERR_IO;
	struct can_isotp_options opt;
	memset(&opt, 0, sizeof opt);
	opt.flags = CAN_ISOTP_TX_PADDING | CAN_ISOTP_RX_PADDING;
	opt.txpad_content = 0xCC;
	opt.rxpad_content = 0xCC;
	struct can_isotp_fc_options fc = { .bs = bs, .stmin = stmin, .wftmax = 0 };
	unsigned idx = if_nametoindex(ifname);
	struct sockaddr_can a;
	memset(&a, 0, sizeof a);
	a.can_family = AF_CAN;
	a.can_ifindex = (int)idx;
	a.can_addr.tp.tx_id = tx_id;
	a.can_addr.tp.rx_id = rx_id;
	if (idx == 0 || setsockopt(s, SOL_CAN_ISOTP, CAN_ISOTP_OPTS, &opt, sizeof opt) < 0 ||
	    setsockopt(s, SOL_CAN_ISOTP, CAN_ISOTP_RECV_FC, &fc, sizeof fc) < 0 ||
	    bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return ODO_ERR_IO;
	}
	*fd = s;
	return ODO_OK;
}
