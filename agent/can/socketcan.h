/*
 * odo-agent CAN — opening SocketCAN sockets: raw CAN and kernel ISO-TP
 * (CAN_ISOTP), non-blocking, with the options odo relies on. Used by the
 * vehicle bus source (vbus.c) and by tools/ecu-sim, which plays the ECUs.
 */
#ifndef ODO_CAN_SOCKETCAN_H
#define ODO_CAN_SOCKETCAN_H

#include <stdint.h>

#include "odo/err.h"

#define ODO_CAN_RCVBUF (4 << 20) /* bytes of socket receive queue asked for */

/* Raw CAN socket on ifname: non-blocking, SO_RXQ_OVFL on, error frames for
 * bus-off / controller problems / restarts. ODO_OK or ODO_ERR_IO (errno). */
int odo_can_raw_open(const char *ifname, int *fd) ODO_NODISCARD;

/* 1 when the kernel has CAN_ISOTP (socket() succeeds), 0 when not. */
int odo_can_isotp_available(void);

/* Kernel ISO-TP socket bound to ifname, sending on tx_id, receiving rx_id
 * (CAN_EFF_FLAG for 29-bit), frames padded to 8 bytes, our FC with bs/stmin.
 * Non-blocking. ODO_OK, ODO_ERR_UNSUPPORTED (no CAN_ISOTP), ODO_ERR_IO. */
int odo_can_isotp_open(const char *ifname, uint32_t tx_id, uint32_t rx_id, uint8_t bs,
		       uint8_t stmin, int *fd) ODO_NODISCARD;

#endif
