/* candump -l line parser and formatter (see candump.h). */
#include "can/candump.h"

#include <string.h>

#include "odo/clock.h"
#include "odo/hex.h"

int odo_candump_parse_line(const char *line, int64_t *t_real_ns, char ifname[IFNAMSIZ],
			   struct can_frame *f)
{
	if (!line || !t_real_ns || !ifname || !f)
		return ODO_ERR_INVAL;
	const char *p = line, *t0;
	int64_t t;
	if (*p++ != '(')
		return ODO_ERR_INVAL;
	/* candump always writes a fraction */
	t0 = p;
	if (odo_clock_parse_unix(t0, &p, &t) != ODO_OK || !memchr(t0, '.', (size_t)(p - t0)) || *p++ != ')' ||
	    *p++ != ' ')
		return ODO_ERR_INVAL;
	char name[IFNAMSIZ];
	size_t nl = 0;
	while (*p && *p != ' ') {
		unsigned char c = (unsigned char)*p;
		if (nl + 1 >= IFNAMSIZ || c <= ' ' || c >= 0x7f || c == '/')
			return ODO_ERR_INVAL;
		name[nl++] = *p++;
	}
	if (nl == 0 || *p++ != ' ')
		return ODO_ERR_INVAL;
	name[nl] = '\0';
	uint32_t id = 0;
	int nid = 0;
	while (odo_hex_digit(*p) >= 0) {
		if (++nid > 8)
			return ODO_ERR_INVAL;
		id = (id << 4) | (uint32_t)odo_hex_digit(*p++);
	}
	if ((nid != 3 && nid != 8) || *p++ != '#')
		return ODO_ERR_INVAL;
	struct can_frame fr;
	memset(&fr, 0, sizeof fr);
	if (nid == 3) {
		if (id > CAN_SFF_MASK)
			return ODO_ERR_INVAL;
		fr.can_id = id;
	} else if (id & CAN_ERR_FLAG) {
		fr.can_id = id & (CAN_ERR_FLAG | CAN_ERR_MASK);
	} else {
		if (id > CAN_EFF_MASK)
			return ODO_ERR_INVAL;
		fr.can_id = id | CAN_EFF_FLAG;
	}
	if (*p == '#')
		return ODO_ERR_UNSUPPORTED; /* CAN FD */
	if (*p == 'R' || *p == 'r') {
		fr.can_id |= CAN_RTR_FLAG;
		p++;
		if (*p >= '0' && *p <= '8')
			fr.can_dlc = (uint8_t)(*p++ - '0');
	} else {
		int n = 0;
		while (odo_hex_digit(p[0]) >= 0) {
			if (odo_hex_digit(p[1]) < 0 || n >= CAN_MAX_DLEN)
				return ODO_ERR_INVAL;
			fr.data[n++] = (uint8_t)(odo_hex_digit(p[0]) << 4 | odo_hex_digit(p[1]));
			p += 2;
		}
		fr.can_dlc = (uint8_t)n;
	}
	/* candump -l may append " T"/" R" direction flags (-x); accept them. */
	if (*p == ' ' && (p[1] == 'T' || p[1] == 'R'))
		p += 2;
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	if (*p != '\0')
		return ODO_ERR_INVAL;
	*t_real_ns = t;
	memcpy(ifname, name, nl + 1);
	*f = fr;
	return ODO_OK;
}

size_t odo_candump_format(char *buf, size_t size, int64_t t_real_ns, const char *ifname,
			  const struct can_frame *f)
{
	static const char hx[] = "0123456789ABCDEF";
	char data[2 * CAN_MAX_DLEN + 2];
	size_t n = 0;
	uint8_t dlc = f->can_dlc > CAN_MAX_DLEN ? CAN_MAX_DLEN : f->can_dlc;
	if (f->can_id & CAN_RTR_FLAG) {
		data[n++] = 'R';
	} else {
		for (uint8_t i = 0; i < dlc; i++) {
			data[n++] = hx[f->data[i] >> 4];
			data[n++] = hx[f->data[i] & 15];
		}
	}
	data[n] = '\0';
	if (t_real_ns < 0)
		t_real_ns = 0;
	long long sec = t_real_ns / 1000000000LL;
	long usec = (long)((t_real_ns % 1000000000LL) / 1000);
	int w;
	if (f->can_id & CAN_ERR_FLAG)
		w = snprintf(buf, size, "(%lld.%06ld) %s %08X#%s\n", sec, usec, ifname,
			     (unsigned)(f->can_id & (CAN_ERR_MASK | CAN_ERR_FLAG)), data);
	else if (f->can_id & CAN_EFF_FLAG)
		w = snprintf(buf, size, "(%lld.%06ld) %s %08X#%s\n", sec, usec, ifname,
			     (unsigned)(f->can_id & CAN_EFF_MASK), data);
	else
		w = snprintf(buf, size, "(%lld.%06ld) %s %03X#%s\n", sec, usec, ifname,
			     (unsigned)(f->can_id & CAN_SFF_MASK), data);
	if (w < 0)
		return 0;
	return (size_t)w < size ? (size_t)w : size - 1;
}
