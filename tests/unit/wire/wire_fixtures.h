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

/* 1 when a and b hold the same record (NaN equals NaN; only the fields of
 * the record's kind are compared). On mismatch, names the field in why. */
int wire_record_eq(const struct odo_record *a, const struct odo_record *b, char *why, size_t whylen);

#endif
