/*
 * odo-agent CAN — DBC files: messages (BO_), signals (SG_) with Intel or
 * Motorola byte order, signedness, factor/offset, min/max, unit, and value
 * tables (VAL_). Multiplexed signals are parsed (the indicator is kept) but
 * decoded like plain ones; other sections are skipped.
 * Parsing allocates once at start-up; decoding never allocates.
 */
#ifndef ODO_CAN_DBC_H
#define ODO_CAN_DBC_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

#define ODO_DBC_NAME_MAX 64
#define ODO_DBC_UNIT_MAX 16
#define ODO_DBC_DESC_MAX 48

struct odo_dbc_val {
	int64_t raw;
	char desc[ODO_DBC_DESC_MAX];
};

struct odo_dbc_signal {
	char name[ODO_DBC_NAME_MAX];
	uint16_t start, len;    /* DBC start bit (Motorola: MSB in sawtooth numbering) */
	uint8_t big_endian;     /* @0 Motorola */
	uint8_t is_signed;      /* - */
	uint8_t mux;            /* 0 plain, 1 multiplexor (M), 2 multiplexed (mN) */
	uint16_t mux_val;
	double factor, offset, min, max;
	char unit[ODO_DBC_UNIT_MAX];
	struct odo_dbc_val *vals; /* value table, nvals entries */
	size_t nvals;
};

struct odo_dbc_msg {
	uint32_t id;            /* CAN id; CAN_EFF_FLAG set for extended ids */
	char name[ODO_DBC_NAME_MAX];
	uint8_t dlc;
	struct odo_dbc_signal *sigs;
	size_t nsigs;
};

struct odo_dbc;

/* Parse DBC text. ODO_OK; ODO_ERR_NOMEM; ODO_ERR_PROTOCOL on a malformed
 * BO_/SG_/VAL_ line (line number in *errline when non-NULL). Caller closes. */
int odo_dbc_parse_buf(const char *buf, size_t len, struct odo_dbc **out, int *errline) ODO_NODISCARD;
/* Same from a file (ODO_ERR_IO when unreadable). */
int odo_dbc_load(const char *path, struct odo_dbc **out, int *errline) ODO_NODISCARD;
/* Free; NULL is a no-op. */
void odo_dbc_close(struct odo_dbc *dbc);

/* Messages, sorted by id; pointers stay valid until odo_dbc_close(). */
size_t odo_dbc_nmsgs(const struct odo_dbc *dbc);
const struct odo_dbc_msg *odo_dbc_msg_at(const struct odo_dbc *dbc, size_t i);
/* Message by CAN id (with CAN_EFF_FLAG for extended), or NULL. */
const struct odo_dbc_msg *odo_dbc_find_id(const struct odo_dbc *dbc, uint32_t id);
/* Message by name, or NULL. */
const struct odo_dbc_msg *odo_dbc_find_msg(const struct odo_dbc *dbc, const char *name);
/* Signal of a message by name, or NULL. */
const struct odo_dbc_signal *odo_dbc_find_signal(const struct odo_dbc_msg *m, const char *name);

/* Raw (sign-extended when signed) value of a signal from `len` data bytes;
 * ODO_ERR_RANGE when the signal does not fit the frame. */
int odo_dbc_raw(const struct odo_dbc_signal *s, const uint8_t *data, size_t len, int64_t *raw) ODO_NODISCARD;
/* Physical value raw*factor+offset. */
int odo_dbc_decode(const struct odo_dbc_signal *s, const uint8_t *data, size_t len, double *value) ODO_NODISCARD;
/* Value-table description of a raw value, or NULL. */
const char *odo_dbc_val_desc(const struct odo_dbc_signal *s, int64_t raw);

#endif
