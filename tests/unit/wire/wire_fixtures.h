/*
 * odo — wire-format test fixtures shared by the unit tests, the golden
 * vector generator and the fuzz target.
 */
#ifndef ODO_WIRE_FIXTURES_H
#define ODO_WIRE_FIXTURES_H

#include <stddef.h>

#include "odo/wire.h"

#define WIRE_FIX_DEVICE "veh-0042.test_A"

/* Fill r with a record of `kind` carrying every optional value (full = 1)
 * or none of them (full = 0). seq and t_ms are set from `seq`. */
void wire_fix_record(struct odo_record *r, int kind, int full, uint64_t seq);

/* Fill recs (room for WIRE_FIX_ALL records) with every kind, full then
 * minimal, seqs increasing from 5 with gaps; returns the count. */
#define WIRE_FIX_ALL (2 * ODO_REC__MAX)
#define WIRE_FIX_EPOCH 0x2f6b1c9d8e7a5043ULL /* the batches' epoch */
size_t wire_fix_all(struct odo_record *recs);

/* The small batch of docs/wire-format.md: device "veh-1", epoch
 * WIRE_FIX_SMALL_EPOCH, acked floor 2, range start 3, a minimal trip start
 * (s=3) and a full phone record (s=5); returns the count (2). */
#define WIRE_FIX_SMALL_DEVICE "veh-1"
#define WIRE_FIX_SMALL_EPOCH 0x5ca1ab1e0dd5eed5ULL
size_t wire_fix_small(struct odo_record *recs);

/* 1 when a and b hold the same record (NaN equals NaN; only the fields of
 * the record's kind are compared). On mismatch, names the field in why. */
int wire_record_eq(const struct odo_record *a, const struct odo_record *b, char *why, size_t whylen);

#endif
