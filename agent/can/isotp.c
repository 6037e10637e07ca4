/* Userspace ISO 15765-2 state machine (see isotp.h). */
#include "can/isotp.h"

#include <string.h>

enum { PCI_SF = 0, PCI_FF = 1, PCI_CF = 2, PCI_FC = 3 };
enum { FC_CTS = 0, FC_WAIT = 1, FC_OVFL = 2 };
enum { TX_IDLE = 0, TX_WAIT_FC, TX_SENDING };

int64_t odo_isotp_stmin_ns(uint8_t s)
{
	if (s <= 0x7F)
		return (int64_t)s * 1000000;
	if (s >= 0xF1 && s <= 0xF9)
		return (int64_t)(s - 0xF0) * 100000;
	return 127LL * 1000000;
}

void odo_isotp_init(struct odo_isotp *l, uint32_t tx_id, uint32_t rx_id, uint8_t bs,
		    uint8_t stmin, const struct odo_isotp_cb *cb)
{
	memset(l, 0, sizeof *l);
	l->tx_id = tx_id;
	l->rx_id = rx_id;
	l->bs = bs;
	l->stmin = stmin;
	l->n_bs_ns = ODO_ISOTP_N_BS_NS;
	l->n_cr_ns = ODO_ISOTP_N_CR_NS;
	l->cb = *cb;
	l->rx_deadline = l->tx_deadline = INT64_MAX;
}

void odo_isotp_reset(struct odo_isotp *l)
{
	l->rx_active = 0;
	l->tx_state = TX_IDLE;
	l->rx_deadline = l->tx_deadline = INT64_MAX;
}

static void event(struct odo_isotp *l, enum odo_isotp_event ev)
{
	if (l->cb.event)
		l->cb.event(l->cb.ctx, l, ev);
}

static int put(struct odo_isotp *l, const uint8_t *b, size_t n)
{
	struct can_frame f;
	memset(&f, 0, sizeof f);
	f.can_id = l->tx_id;
	f.can_dlc = CAN_MAX_DLEN;
	memset(f.data, ODO_ISOTP_PAD, CAN_MAX_DLEN);
	memcpy(f.data, b, n);
	return l->cb.send ? l->cb.send(l->cb.ctx, &f) : -1;
}

static void send_fc(struct odo_isotp *l, uint8_t flag)
{
	uint8_t b[3] = { (uint8_t)(0x30 | flag), l->bs, l->stmin };
	(void)put(l, b, 3);
}

static int send_cf(struct odo_isotp *l)
{
	uint8_t b[8];
	size_t n = l->tx_len - l->tx_off;
	if (n > 7)
		n = 7;
	b[0] = (uint8_t)(0x20 | l->tx_sn);
	memcpy(b + 1, l->tx_buf + l->tx_off, n);
	if (put(l, b, 1 + n) != 0)
		return -1;
	l->tx_off = (uint16_t)(l->tx_off + n);
	l->tx_sn = (l->tx_sn + 1) & 15;
	return 0;
}

int odo_isotp_send(struct odo_isotp *l, const uint8_t *data, size_t len, int64_t now)
{
	if (len == 0)
		return ODO_ERR_INVAL;
	if (len > ODO_ISOTP_MAX)
		return ODO_ERR_TOOBIG;
	if (l->tx_state != TX_IDLE)
		return ODO_ERR_AGAIN;
	uint8_t b[8];
	if (len <= 7) {
		b[0] = (uint8_t)len;
		memcpy(b + 1, data, len);
		if (put(l, b, 1 + len) != 0)
			return ODO_ERR_IO;
		event(l, ODO_ISOTP_EV_TX_DONE);
		return ODO_OK;
	}
	memcpy(l->tx_buf, data, len);
	l->tx_len = (uint16_t)len;
	b[0] = (uint8_t)(0x10 | (len >> 8));
	b[1] = (uint8_t)len;
	memcpy(b + 2, data, 6);
	if (put(l, b, 8) != 0)
		return ODO_ERR_IO;
	l->tx_off = 6;
	l->tx_sn = 1;
	l->tx_state = TX_WAIT_FC;
	l->tx_deadline = now + l->n_bs_ns;
	return ODO_OK;
}

/* Send consecutive frames while allowed (STmin 0: the whole block now). */
static void tx_pump(struct odo_isotp *l, int64_t now)
{
	while (l->tx_state == TX_SENDING) {
		if (send_cf(l) != 0) {
			l->tx_state = TX_IDLE;
			l->tx_deadline = INT64_MAX;
			event(l, ODO_ISOTP_EV_TX_TIMEOUT);
			return;
		}
		if (l->tx_off >= l->tx_len) {
			l->tx_state = TX_IDLE;
			l->tx_deadline = INT64_MAX;
			event(l, ODO_ISOTP_EV_TX_DONE);
			return;
		}
		if (l->tx_bs && --l->tx_bs_left == 0) {
			l->tx_state = TX_WAIT_FC;
			l->tx_deadline = now + l->n_bs_ns;
			return;
		}
		if (l->tx_stmin_ns > 0) {
			l->tx_deadline = now + l->tx_stmin_ns;
			return;
		}
	}
}

static void on_fc(struct odo_isotp *l, const struct can_frame *f, int64_t now)
{
	if (l->tx_state != TX_WAIT_FC)
		return; /* stray FC: ignored, as the standard says */
	if (f->can_dlc < 3) {
		event(l, ODO_ISOTP_EV_BAD_FRAME);
		return;
	}
	switch (f->data[0] & 15) {
	case FC_CTS:
		l->tx_bs = f->data[1];
		l->tx_bs_left = f->data[1];
		l->tx_stmin_ns = odo_isotp_stmin_ns(f->data[2]);
		l->tx_state = TX_SENDING;
		tx_pump(l, now);
		break;
	case FC_WAIT:
		l->tx_deadline = now + l->n_bs_ns;
		break;
	case FC_OVFL:
		l->tx_state = TX_IDLE;
		l->tx_deadline = INT64_MAX;
		event(l, ODO_ISOTP_EV_OVERFLOW);
		break;
	default:
		l->tx_state = TX_IDLE;
		l->tx_deadline = INT64_MAX;
		event(l, ODO_ISOTP_EV_BAD_FRAME);
	}
}

void odo_isotp_rx(struct odo_isotp *l, const struct can_frame *f, int64_t now)
{
	if (f->can_id != l->rx_id)
		return;
	if (f->can_dlc < 1 || f->can_dlc > CAN_MAX_DLEN) {
		event(l, ODO_ISOTP_EV_BAD_FRAME);
		return;
	}
	const uint8_t *d = f->data;
	uint8_t dlc = f->can_dlc;
	switch (d[0] >> 4) {
	case PCI_SF: {
		uint8_t n = d[0] & 15;
		if (n == 0 || n > 7 || n + 1 > dlc) {
			event(l, ODO_ISOTP_EV_BAD_FRAME);
			return;
		}
		if (l->rx_active) /* a new message aborts the old (ISO 15765-2) */
			event(l, ODO_ISOTP_EV_BAD_FRAME);
		l->rx_active = 0;
		l->rx_deadline = INT64_MAX;
		if (l->cb.msg)
			l->cb.msg(l->cb.ctx, l, d + 1, n);
		return;
	}
	case PCI_FF: {
		uint16_t n = (uint16_t)((d[0] & 15) << 8 | (dlc > 1 ? d[1] : 0));
		if (dlc < 8 || n < 8) {
			event(l, ODO_ISOTP_EV_BAD_FRAME);
			return;
		}
		if (l->rx_active)
			event(l, ODO_ISOTP_EV_BAD_FRAME);
		memcpy(l->rx_buf, d + 2, 6);
		l->rx_len = n;
		l->rx_have = 6;
		l->rx_sn = 1;
		l->rx_active = 1;
		l->rx_bs_left = l->bs;
		l->rx_deadline = now + l->n_cr_ns;
		send_fc(l, FC_CTS);
		return;
	}
	case PCI_CF: {
		if (!l->rx_active)
			return; /* not for a message we are receiving: ignore */
		if ((d[0] & 15) != l->rx_sn) {
			l->rx_active = 0;
			l->rx_deadline = INT64_MAX;
			event(l, ODO_ISOTP_EV_BAD_FRAME);
			return;
		}
		size_t n = (size_t)(l->rx_len - l->rx_have);
		if (n > 7)
			n = 7;
		if ((size_t)dlc < 1 + n) {
			l->rx_active = 0;
			l->rx_deadline = INT64_MAX;
			event(l, ODO_ISOTP_EV_BAD_FRAME);
			return;
		}
		memcpy(l->rx_buf + l->rx_have, d + 1, n);
		l->rx_have = (uint16_t)(l->rx_have + n);
		l->rx_sn = (l->rx_sn + 1) & 15;
		if (l->rx_have >= l->rx_len) {
			l->rx_active = 0;
			l->rx_deadline = INT64_MAX;
			if (l->cb.msg)
				l->cb.msg(l->cb.ctx, l, l->rx_buf, l->rx_len);
			return;
		}
		l->rx_deadline = now + l->n_cr_ns;
		if (l->bs && --l->rx_bs_left == 0) {
			l->rx_bs_left = l->bs;
			send_fc(l, FC_CTS);
		}
		return;
	}
	case PCI_FC:
		on_fc(l, f, now);
		return;
	default:
		event(l, ODO_ISOTP_EV_BAD_FRAME);
	}
}

int64_t odo_isotp_deadline(const struct odo_isotp *l)
{
	return l->rx_deadline < l->tx_deadline ? l->rx_deadline : l->tx_deadline;
}

void odo_isotp_tick(struct odo_isotp *l, int64_t now)
{
	if (l->rx_active && now >= l->rx_deadline) {
		l->rx_active = 0;
		l->rx_deadline = INT64_MAX;
		event(l, ODO_ISOTP_EV_RX_TIMEOUT);
	}
	if (l->tx_state != TX_IDLE && now >= l->tx_deadline) {
		if (l->tx_state == TX_WAIT_FC) {
			l->tx_state = TX_IDLE;
			l->tx_deadline = INT64_MAX;
			event(l, ODO_ISOTP_EV_TX_TIMEOUT);
		} else {
			tx_pump(l, now);
		}
	}
}
