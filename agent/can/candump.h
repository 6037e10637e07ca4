/*
 * odo-agent CAN — `candump -l` log lines: "(1690000000.123456) can0 7E8#0641..."
 * Parsing is allocation-free; the recorder writes the same format.
 */
#ifndef ODO_CAN_CANDUMP_H
#define ODO_CAN_CANDUMP_H

#include <linux/can.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "odo/err.h"

/* Longest line odo writes or accepts (classic CAN: well under this). */
#define ODO_CANDUMP_LINE_MAX 128

/*
 * Parse one `candump -l` line into *t_real_ns (timestamp, ns since the epoch
 * as written), ifname and frame. Accepts 3-digit standard and 8-digit
 * extended ids (error frames keep CAN_ERR_FLAG), `R` remote frames, 0..8
 * data bytes, optional trailing newline. Returns ODO_OK, ODO_ERR_INVAL on
 * garbage (bad timestamp, interface, id, odd hex, > 8 bytes, trailing junk),
 * ODO_ERR_UNSUPPORTED for CAN FD lines (`##`). Outputs are untouched on error.
 */
int odo_candump_parse_line(const char *line, int64_t *t_real_ns, char ifname[IFNAMSIZ],
			   struct can_frame *f) ODO_NODISCARD;

/* Format one frame as a `candump -l` line with trailing newline into buf
 * (at least ODO_CANDUMP_LINE_MAX bytes). Returns the length written. */
size_t odo_candump_format(char *buf, size_t size, int64_t t_real_ns, const char *ifname,
			  const struct can_frame *f);

#endif
