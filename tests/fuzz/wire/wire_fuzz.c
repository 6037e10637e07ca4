/*
 * odo — libFuzzer target for the wire decoders (odo_wire_decode_batch,
 * odo_wire_decode_record, odo_wire_decode_ack), versions 1 and 2.
 *
 * Every input goes through all three decoders. Whatever decodes must
 * re-encode (as version 2), and the re-encoded bytes must decode to the same
 * values and re-encode to the same bytes; refused records must lie inside
 * the message, decode alone to an error, and refuse a strict decode with
 * the same error; any mismatch aborts. Seeds: corpus/ (the golden vectors of
 * tests/data/wire and a few hand-made ones); dictionary: wire.dict.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odo/wire.h"
#include "wire_fixtures.h"

#define FUZZ_RECS 64 /* destination slots: more records must be TOOLONG */

static struct odo_record recs1[FUZZ_RECS], recs2[FUZZ_RECS];
static struct odo_wire_bad bad1[FUZZ_RECS];
static uint8_t enc1[ODO_WIRE_MAX_MESSAGE], enc2[ODO_WIRE_MAX_MESSAGE];

static void die(const char *what, const char *why)
{
	fprintf(stderr, "wire_fuzz: %s: %s\n", what, why);
	abort();
}

static void check_err(int rc, const struct odo_wire_error *err, size_t size)
{
	if (rc < ODO_ERR_WIRE_MALFORMED || rc > ODO_ERR_WIRE_DUPLICATE)
		die("decode", "returned a code that is not a wire error");
	if (err->code != rc || !err->msg[0] || err->offset > size)
		die("decode", "error detail inconsistent with the code");
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	struct odo_record r, r2;
	struct odo_wire_error err;
	size_t l1, l2;
	char why[160];
	int rc = odo_wire_decode_record(data, size, &r, &err);
	if (rc != ODO_OK) {
		check_err(rc, &err, size);
		return;
	}
	if (odo_wire_encode_record(&r, enc1, sizeof(enc1), &l1) != ODO_OK)
		die("record", "decoded record does not re-encode");
	if (odo_wire_decode_record(enc1, l1, &r2, &err) != ODO_OK)
		die("record", err.msg);
	if (!wire_record_eq(&r, &r2, why, sizeof(why)))
		die("record", why);
	if (odo_wire_encode_record(&r2, enc2, sizeof(enc2), &l2) != ODO_OK || l1 != l2 || memcmp(enc1, enc2, l1))
		die("record", "encoding is not stable");
}

static void fuzz_batch(const uint8_t *data, size_t size)
{
	struct odo_batch b = { .recs = recs1, .cap = FUZZ_RECS, .bad = bad1, .bad_cap = FUZZ_RECS };
	struct odo_batch b2 = { .recs = recs2, .cap = FUZZ_RECS };
	struct odo_wire_error err;
	size_t l1, l2;
	char why[160];
	/* a fixed clock: the time window is exercised, deterministically */
	const struct odo_wire_limits lim = { .now_ms = 1763900000000LL };
	int rc = odo_wire_decode_batch(data, size, &lim, &b, &err);
	if (rc != ODO_OK) {
		check_err(rc, &err, size);
		if (b.n != 0 || b.nbad != 0)
			die("batch", "failed decode left records behind");
		return;
	}
	if (b.n + b.nbad < 1 || b.n > FUZZ_RECS || (b.v != 1 && b.v != 2) || !odo_wire_device_id_valid(b.device) ||
	    b.floor >= b.seq || b.last_seq < b.seq || (b.v == 1 && (b.epoch || b.floor)))
		die("batch", "decoded batch breaks its invariants");
	for (size_t i = 0; i < b.nbad; i++) {
		const struct odo_wire_bad *x = &b.bad[i];
		struct odo_record r;
		check_err(x->err.code, &x->err, size);
		if (x->off >= size || x->len > size - x->off || x->seq < b.seq || x->seq > b.last_seq)
			die("batch", "refused record outside the message or its range");
		if (b.v == 2 && odo_wire_decode_record(data + x->off, x->len, &r, &err) == ODO_OK &&
		    x->err.code != ODO_ERR_WIRE_RANGE)
			die("batch", "refused record decodes alone"); /* RANGE: the time window */
	}
	if (b.nbad) {
		rc = odo_wire_decode_batch(data, size, &lim, &b2, &err);
		if (rc != b.bad[0].err.code || strcmp(err.field, b.bad[0].err.field) != 0)
			die("batch", "strict decode disagrees with the first refusal");
	}
	if (b.n == 0)
		return;
	if (odo_wire_encode_batch(b.device, b.epoch, b.floor, b.seq, b.recs, b.n, enc1, sizeof(enc1), &l1) != ODO_OK)
		die("batch", "decoded batch does not re-encode");
	if (odo_wire_decode_batch(enc1, l1, &lim, &b2, &err) != ODO_OK || b2.v != ODO_WIRE_VERSION)
		die("batch", err.msg);
	if (strcmp(b.device, b2.device) != 0 || b.seq != b2.seq || b.n != b2.n || b.epoch != b2.epoch ||
	    b.floor != b2.floor)
		die("batch", "header differs after the round trip");
	for (size_t i = 0; i < b.n; i++)
		if (!wire_record_eq(&b.recs[i], &b2.recs[i], why, sizeof(why)))
			die("batch", why);
	if (odo_wire_encode_batch(b2.device, b2.epoch, b2.floor, b2.seq, b2.recs, b2.n, enc2, sizeof(enc2), &l2) !=
		    ODO_OK ||
	    l1 != l2 || memcmp(enc1, enc2, l1))
		die("batch", "encoding is not stable");
}

static void fuzz_ack(const uint8_t *data, size_t size)
{
	struct odo_ack a, a2;
	struct odo_wire_error err;
	size_t l1;
	int rc = odo_wire_decode_ack(data, size, &a, &err);
	if (rc != ODO_OK) {
		check_err(rc, &err, size);
		return;
	}
	if (odo_wire_encode_ack(&a, enc1, sizeof(enc1), &l1) != ODO_OK)
		die("ack", "decoded ack does not re-encode");
	if (odo_wire_decode_ack(enc1, l1, &a2, &err) != ODO_OK)
		die("ack", err.msg);
	if (a.ack != a2.ack || a.v != a2.v || a.epoch != a2.epoch || strcmp(a.device, a2.device) != 0)
		die("ack", "ack differs after the round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_batch(data, size);
	fuzz_record(data, size);
	fuzz_ack(data, size);
	return 0;
}
