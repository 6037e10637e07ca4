/*
 * odo-agent CAN — userspace ISO-TP (ISO 15765-2) for one (tx id, rx id) pair:
 * single, first and consecutive frames, flow control with block size and
 * STmin, N_Bs / N_Cr timeouts. A pure state machine: frames come in through
 * odo_isotp_rx(), go out through the `send` callback, time is passed in
 * (monotonic ns), and odo_isotp_tick() is called at odo_isotp_deadline().
 * No allocation: buffers are inside the struct. Frames are padded to 8 bytes.
 */
#ifndef ODO_CAN_ISOTP_H
#define ODO_CAN_ISOTP_H

#include <linux/can.h>
#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

#define ODO_ISOTP_MAX 4095          /* classic ISO-TP message limit */
#define ODO_ISOTP_PAD 0xCC
#define ODO_ISOTP_N_BS_NS (1000LL * 1000 * 1000) /* wait for FC: 1 s */
#define ODO_ISOTP_N_CR_NS (1000LL * 1000 * 1000) /* wait for CF: 1 s */

enum odo_isotp_event {
	ODO_ISOTP_EV_RX_TIMEOUT = 1, /* N_Cr: consecutive frame did not come */
	ODO_ISOTP_EV_TX_TIMEOUT,     /* N_Bs: flow control did not come */
	ODO_ISOTP_EV_BAD_FRAME,      /* unknown PCI, bad length, wrong sequence */
	ODO_ISOTP_EV_OVERFLOW,       /* peer's FC said overflow / too long */
	ODO_ISOTP_EV_TX_DONE,        /* a message went out completely */
};

struct odo_isotp;

struct odo_isotp_cb {
	void *ctx;
	/* Put one frame on the bus; return 0 on success. */
	int (*send)(void *ctx, const struct can_frame *f);
	/* A complete message arrived (valid during the call only). */
	void (*msg)(void *ctx, struct odo_isotp *l, const uint8_t *data, size_t len);
	/* Something went wrong or finished; may be NULL. */
	void (*event)(void *ctx, struct odo_isotp *l, enum odo_isotp_event ev);
};

struct odo_isotp {
	uint32_t tx_id, rx_id;   /* CAN ids with CAN_EFF_FLAG for 29-bit */
	uint8_t bs, stmin;       /* what our flow control frames announce */
	int64_t n_bs_ns, n_cr_ns;
	struct odo_isotp_cb cb;
	void *user;              /* free for the owner */
	/* receive state */
	int rx_active;
	uint16_t rx_len, rx_have;
	uint8_t rx_sn, rx_bs_left;
	int64_t rx_deadline;
	uint8_t rx_buf[ODO_ISOTP_MAX];
	/* transmit state */
	int tx_state;            /* 0 idle, 1 wait FC, 2 sending CFs */
	uint16_t tx_len, tx_off;
	uint8_t tx_sn, tx_bs, tx_bs_left;
	int64_t tx_stmin_ns, tx_deadline;
	uint8_t tx_buf[ODO_ISOTP_MAX];
};

/* Set up a link. bs/stmin are what we ask of senders (0/0: all at once). */
void odo_isotp_init(struct odo_isotp *l, uint32_t tx_id, uint32_t rx_id, uint8_t bs,
		    uint8_t stmin, const struct odo_isotp_cb *cb);

/* Start sending a message (1..ODO_ISOTP_MAX bytes). ODO_ERR_AGAIN while a
 * transmission is in progress, ODO_ERR_TOOBIG, ODO_ERR_IO when send fails. */
int odo_isotp_send(struct odo_isotp *l, const uint8_t *data, size_t len, int64_t now) ODO_NODISCARD;

/* Feed a frame whose id is rx_id (others are ignored). */
void odo_isotp_rx(struct odo_isotp *l, const struct can_frame *f, int64_t now);

/* Next instant tick() must run, or INT64_MAX. */
int64_t odo_isotp_deadline(const struct odo_isotp *l);
/* Run timers due at `now`: N_Cr / N_Bs timeouts, STmin-paced frames. */
void odo_isotp_tick(struct odo_isotp *l, int64_t now);

/* Abort everything in progress. */
void odo_isotp_reset(struct odo_isotp *l);

/* STmin byte -> ns (0x00-0x7F ms, 0xF1-0xF9 100-900 us, reserved = 127 ms). */
int64_t odo_isotp_stmin_ns(uint8_t stmin);

#endif
