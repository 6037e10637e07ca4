/*
 * odo — libFuzzer target for accel.csv rows (odo_accel_csv_parse,
 * "t,x,y,z,saturated").
 *
 * The input is NUL-terminated (the parser takes a C string). A failure must
 * be INVAL with the outputs untouched; a success must give finite bounded
 * axes and a 0/1 saturation flag, and the row odo_accel_csv_format writes
 * for it must parse back to the same sample (microsecond time, 5 decimals).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/accel.h"

#define FUZZ_ROW_MAX 8192 /* -max_len of the CTest run */
#define FUZZ_FMT_MAX 160  /* a formatted row: 3 axes of at most 1e6 */

static char row[FUZZ_ROW_MAX + 1];

static void die(const char *what)
{
	fprintf(stderr, "accel_fuzz: %s\n", what);
	abort();
}

static int near(float a, float b)
{
	return fabsf(a - b) <= 1e-4f + 1e-6f * fabsf(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < FUZZ_ROW_MAX ? size : FUZZ_ROW_MAX;
	memcpy(row, data, n);
	row[n] = '\0';
	int64_t t = 0x5A5A5A5A, t2;
	struct odo_accel_sample s, s2;
	memset(&s, 0x5A, sizeof s);
	int rc = odo_accel_csv_parse(row, &t, &s);
	if (rc != ODO_OK) {
		if (rc != ODO_ERR_INVAL)
			die("parse returned an unexpected code");
		if (t != 0x5A5A5A5A || s.saturated != 0x5A)
			die("failed parse touched its outputs");
		return 0;
	}
	if (t < 0 || !isfinite(s.x) || !isfinite(s.y) || !isfinite(s.z) || s.saturated > 1)
		die("parsed sample out of range");
	char buf[FUZZ_FMT_MAX];
	size_t len = odo_accel_csv_format(buf, sizeof buf, t, &s);
	if (len == 0 || len >= sizeof buf - 1)
		die("formatted row truncated");
	if (odo_accel_csv_parse(buf, &t2, &s2) != ODO_OK) {
		fprintf(stderr, "formatted: %s", buf);
		die("formatted row does not parse");
	}
	if (t2 != t / 1000 * 1000 || !near(s.x, s2.x) || !near(s.y, s2.y) || !near(s.z, s2.z) ||
	    s.saturated != s2.saturated) {
		fprintf(stderr, "formatted: %s", buf);
		die("round trip changed the sample");
	}
	return 0;
}
