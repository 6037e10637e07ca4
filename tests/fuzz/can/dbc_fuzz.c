/*
 * odo — libFuzzer target for the DBC parser (odo_dbc_parse_buf) and the
 * signal decoder on whatever it accepts.
 *
 * A parse either fails with PROTOCOL/NOMEM and no handle, or yields a
 * handle whose messages are sorted by id, findable by id and by name,
 * whose signals are findable by name and fit a 64-bit raw value, and whose
 * signals decode on frames of every length without a crash: a decode that
 * succeeds gives a raw value equal to what odo_dbc_raw gives.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/dbc.h"

static void die(const char *what)
{
	fprintf(stderr, "dbc_fuzz: %s\n", what);
	abort();
}

static const uint8_t patterns[][8] = {
	{ 0, 0, 0, 0, 0, 0, 0, 0 },
	{ 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
	{ 0x80, 0x01, 0x7F, 0xFE, 0x55, 0xAA, 0x12, 0x34 },
};

static void check_signal(const struct odo_dbc_msg *m, const struct odo_dbc_signal *s)
{
	if (strnlen(s->name, sizeof s->name) >= sizeof s->name || !s->name[0])
		die("signal name not terminated or empty");
	if (strnlen(s->unit, sizeof s->unit) >= sizeof s->unit)
		die("unit not terminated");
	if (odo_dbc_find_signal(m, s->name) == NULL)
		die("signal not found by its own name");
	if (s->nvals && !s->vals)
		die("value table count without table");
	for (size_t v = 0; v < s->nvals; v++)
		if (strnlen(s->vals[v].desc, sizeof s->vals[v].desc) >= sizeof s->vals[v].desc)
			die("value description not terminated");
	for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++)
		for (size_t len = 0; len <= 8; len++) {
			int64_t raw = 0;
			double val = 0;
			int rr = odo_dbc_raw(s, patterns[p], len, &raw);
			int rd = odo_dbc_decode(s, patterns[p], len, &val);
			if (rr != rd)
				die("raw and decode disagree on whether the signal fits");
			if (rr == ODO_OK) {
				if (s->len == 0 || s->len > 64 || (s->big_endian > 1))
					die("decoded a signal of impossible shape");
				if (!s->is_signed && s->len < 64 && (raw < 0 || (uint64_t)raw >> s->len))
					die("unsigned raw value wider than the signal");
				(void)odo_dbc_val_desc(s, raw);
			} else if (rr != ODO_ERR_RANGE) {
				die("decode returned an unexpected code");
			}
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct odo_dbc *d = NULL;
	int errline = -1;
	int rc = odo_dbc_parse_buf((const char *)data, size, &d, &errline);
	if (rc != ODO_OK) {
		if (d)
			die("failed parse returned a handle");
		if (rc != ODO_ERR_PROTOCOL && rc != ODO_ERR_NOMEM)
			die("parse returned an unexpected code");
		if (rc == ODO_ERR_PROTOCOL && errline < 1)
			die("PROTOCOL without a line number");
		return 0;
	}
	if (!d)
		die("ODO_OK without a handle");
	size_t n = odo_dbc_nmsgs(d);
	for (size_t i = 0; i < n; i++) {
		const struct odo_dbc_msg *m = odo_dbc_msg_at(d, i);
		if (!m)
			die("msg_at returned NULL inside the count");
		if (i > 0 && odo_dbc_msg_at(d, i - 1)->id > m->id)
			die("messages not sorted by id");
		const struct odo_dbc_msg *byid = odo_dbc_find_id(d, m->id);
		if (!byid || byid->id != m->id)
			die("message not found by its id");
		if (strnlen(m->name, sizeof m->name) >= sizeof m->name || !m->name[0])
			die("message name not terminated or empty");
		const struct odo_dbc_msg *byname = odo_dbc_find_msg(d, m->name);
		if (!byname || strcmp(byname->name, m->name) != 0)
			die("message not found by its name");
		if (m->nsigs && !m->sigs)
			die("signal count without signals");
		for (size_t s = 0; s < m->nsigs; s++)
			check_signal(m, &m->sigs[s]);
	}
	if (odo_dbc_msg_at(d, n) != NULL)
		die("msg_at beyond the count returned a message");
	odo_dbc_close(d);
	return 0;
}
