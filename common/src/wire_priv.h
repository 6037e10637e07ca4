/*
 * odo — what the wire format's files share (private to common/src/wire_*.c).
 *
 * One table per record kind (key, C type, struct offset, range, version it
 * appeared in) drives the encoder (wire_encode.c), the decoder
 * (wire_decode.c) and the introspection API (wire_table.c), so they cannot
 * disagree on names, ranges or versions.
 */
#ifndef ODO_WIRE_PRIV_H
#define ODO_WIRE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "odo/wire.h"

/* Longest map key in the format ("canerr", "gpserr", ...), plus slack. */
#define WIRE_MAX_KEY 16
/* Deepest nesting below a record map the skipper walks: record map > list >
 * element, plus one level so a too-deep value is reported at its own offset. */
#define WIRE_SKIP_DEPTH 3
/* Largest ack message accepted by the decoder. */
#define WIRE_MAX_ACK_BYTES 256

enum wire_ftype {
	FT_U8 = 1, /* uint8_t, CBOR unsigned */
	FT_U16,    /* uint16_t */
	FT_U32,    /* uint32_t */
	FT_U64,    /* uint64_t */
	FT_I64,    /* int64_t, non-negative on the wire */
	FT_OI32,   /* int32_t, CBOR unsigned, -1 = absent (optional integers) */
	FT_DBL,    /* double, CBOR float; NaN = absent when optional */
	FT_BOOL,   /* int 0/1, CBOR true/false */
	FT_MIL,    /* int -1/0/1, CBOR true/false, -1 = absent */
	FT_VIN,    /* char[18], text of 17 or 0 characters */
	FT_DTCS,   /* one DTC list; `off` is the list index */
	FT_ARR,    /* an integer list described by `a` */
};

#define F_REQ 1u    /* required */
#define F_HIEXCL 2u /* upper bound of a float exclusive */
#define F_TIME 4u   /* a timestamp: the receiver's time window applies */

/* Element C types of FT_ARR. */
enum wire_ctype { C_U32 = 1, C_I32, C_I16 };

#define A_DELTA 1u /* first element absolute, then differences */
#define A_NULL 2u  /* an element may be null (C value -1) */
#define A_SIGNED 4u /* elements may be negative */

/* An integer list: elements live at off + i * stride in the record, the
 * element count in a uint16_t at cnt_off, shared by every list of the kind
 * (all lists of one record have the same length). */
struct wire_adesc {
	size_t cnt_off, stride;
	unsigned char ctype, flags;
	uint16_t maxn;
	int64_t min, max; /* absolute element values */
};

struct wire_fdesc {
	const char *key;
	unsigned char type;  /* enum wire_ftype */
	unsigned char flags; /* F_* */
	unsigned char since; /* wire version the key appeared in */
	size_t off;          /* in struct odo_record */
	uint64_t umin, umax; /* integer types */
	double lo, hi;       /* FT_DBL */
	const struct wire_adesc *a;
};

struct wire_kdesc {
	const char *name;
	const struct wire_fdesc *f;
	size_t n;
	unsigned since;
};

/* record-common: s, t, ts, k (in encoding order). */
extern const struct wire_fdesc wire__common[];
extern const size_t wire__ncommon;
#define WIRE_COMMON_S 0
#define WIRE_COMMON_K 3

/* Indexed by enum odo_record_kind; [0] unused. */
extern const struct wire_kdesc wire__kinds[ODO_REC__MAX + 1];

/* Batch header and ack integers, for the range checks and introspection. */
extern const struct wire_fdesc wire__batch_ep, wire__batch_af, wire__batch_seq, wire__ack_ack;

#endif
