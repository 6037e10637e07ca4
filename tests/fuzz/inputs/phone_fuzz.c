/*
 * odo — libFuzzer target for the companion-phone protocol line parser
 * (odo_phone_parse, "odo-phone/1 screen=on call=handheld handled=0").
 *
 * The input is passed as is (no NUL), so any read past `len` is caught by
 * ASan. A failure must be PROTOCOL with a terminated, non-empty reason and
 * leave the state untouched; a success must give in-range fields that the
 * canonical line reproduces. The same bytes, NUL-terminated, are also a
 * phone.csv row of a recording (odo_phone_csv_parse): an accepted row
 * formats back to a row that parses to the same state and time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phone/phone.h"

static const char *const calls[] = { "none", "handheld", "handsfree" };

static void die(const char *what)
{
	fprintf(stderr, "phone_fuzz: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void csv_row(const uint8_t *data, size_t size)
{
	char row[ODO_PHONE_CSV_LINE_MAX * 2], back[ODO_PHONE_CSV_LINE_MAX];
	struct odo_phone_state s, s2;
	int64_t t = -1, t2 = 0;
	if (size >= sizeof row)
		return;
	memcpy(row, data, size);
	row[size] = '\0';
	int rc = odo_phone_csv_parse(row, &t, &s);
	if (rc != ODO_OK) {
		if (rc != ODO_ERR_INVAL && rc != ODO_ERR_PROTOCOL)
			die("csv parse returned an unexpected code");
		if (t != -1)
			die("failed csv parse touched the time");
		return;
	}
	if (t < 0 || (s.screen_on != 0 && s.screen_on != 1) || (s.handled != 0 && s.handled != 1) ||
	    s.call > ODO_CALL_HANDSFREE)
		die("csv row parsed out of range");
	size_t n = odo_phone_csv_format(back, sizeof back, t, &s);
	if (n == 0 || odo_phone_csv_parse(back, &t2, &s2) != ODO_OK)
		die("formatted csv row rejected");
	if (t2 != t / 1000 * 1000 || s2.screen_on != s.screen_on || s2.call != s.call || s2.handled != s.handled)
		die("formatted csv row parses to another state");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct odo_phone_state s, s2;
	csv_row(data, size);
	char reason[ODO_PHONE_REASON_MAX];
	memset(&s, 0x5A, sizeof s);
	memset(reason, 0x5A, sizeof reason);
	int rc = odo_phone_parse((const char *)data, size, &s, reason);
	if (rc != ODO_OK) {
		if (rc != ODO_ERR_PROTOCOL)
			die("parse returned an unexpected code");
		if (strnlen(reason, sizeof reason) >= sizeof reason || !reason[0])
			die("reason not terminated or empty");
		if (s.screen_on != 0x5A5A5A5A || s.handled != 0x5A5A5A5A || s.call != 0x5A)
			die("failed parse touched the state");
		return 0;
	}
	if ((s.screen_on != 0 && s.screen_on != 1) || (s.handled != 0 && s.handled != 1) ||
	    s.call > ODO_CALL_HANDSFREE)
		die("parsed state out of range");
	char line[ODO_PHONE_LINE_MAX];
	int n = snprintf(line, sizeof line, "odo-phone/1 screen=%s call=%s handled=%d\n",
			 s.screen_on ? "on" : "off", calls[s.call], s.handled);
	if (n <= 0 || (size_t)n >= sizeof line)
		die("canonical line does not fit");
	if (odo_phone_parse(line, (size_t)n, &s2, reason) != ODO_OK)
		die("canonical line rejected");
	if (s2.screen_on != s.screen_on || s2.call != s.call || s2.handled != s.handled)
		die("canonical line parses to another state");
	return 0;
}
