/*
 * odo — libFuzzer target for recorded gpsd JSON reports (odo_gps_feed_json
 * on a replay-only odo_gps: our checks, then libgps's gps_unpack on the
 * rebuilt TPV). A libgps hang shows as a libFuzzer timeout (issue #3).
 *
 * The input is split into lines, each fed as one report. Every return is
 * OK, TOOBIG or PROTOCOL, a refusal comes with a reason and an accepted
 * line with none; errors and deliveries are counted against the source's
 * stats; every delivered fix obeys the fix-mode rules of gps.h (no position
 * without a fix, no altitude without 3D) and carries the clock's mono time.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gps/gps.h"
#include "odo/log.h"

struct counts {
	const struct odo_clock *clock;
	uint64_t fixes;
};

static void die(const char *what)
{
	fprintf(stderr, "gps_fuzz: %s\n", what);
	abort();
}

static void on_fix(void *ctx, const struct odo_gps_fix *f)
{
	struct counts *c = ctx;
	if (f->mono_ns != odo_clock_mono_ns(c->clock))
		die("fix not stamped with the clock's mono time");
	if (f->mode > ODO_FIX_3D)
		die("fix mode out of range");
	if (f->mode < ODO_FIX_2D && (!isnan(f->lat) || !isnan(f->lon) || !isnan(f->alt_m)))
		die("position delivered without a fix");
	if (f->mode == ODO_FIX_2D && !isnan(f->alt_m))
		die("altitude delivered with a 2D fix");
	if (isnan(f->lat) != isnan(f->lon))
		die("only one of lat/lon is NaN");
	c->fixes++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	odo_log_threshold = -1;
	struct odo_clock clock;
	odo_clock_init_virtual(&clock, 1715673600LL * ODO_NS_PER_S, ODO_NS_PER_S);
	struct counts cnt = { .clock = &clock };
	struct odo_sink sink = { .ctx = &cnt, .gps = on_fix };
	struct odo_gps *g = NULL;
	if (odo_gps_open(NULL, &clock, &sink, &g) != ODO_OK || !g)
		die("replay-only odo_gps_open failed");
	uint64_t errors = 0;
	size_t pos = 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
		/* the line as a gps.log line of a recording too */
		char logline[ODO_GPS_JSON_MAX + 64];
		if (len < sizeof logline) {
			const char *json = NULL, *why = NULL;
			size_t jl = 0;
			int64_t t;
			memcpy(logline, data + pos, len);
			logline[len] = '\0';
			int lr = odo_gps_log_parse(logline, &t, &json, &jl, &why);
			if (lr == ODO_OK && (!json || json < logline || json + jl != logline + strlen(logline) ||
			                     *json != '{' || t < 0))
				die("log line parsed to a report outside the line");
			if (lr != ODO_OK && (lr != ODO_ERR_INVAL || !why || !why[0]))
				die("log line refused without a reason");
		}
		int rc = odo_gps_feed_json(g, (const char *)data + pos, len);
		pos += len;
		if (rc == ODO_ERR_TOOBIG || rc == ODO_ERR_PROTOCOL)
			errors++;
		else if (rc != ODO_OK)
			die("feed returned an unexpected code");
		if ((rc != ODO_OK) != (odo_gps_error(g)[0] != '\0'))
			die("a refusal without a reason, or a reason without a refusal");
		odo_clock_advance(&clock, ODO_NS_PER_S);
	}
	struct odo_gps_stats st;
	odo_gps_stats(g, &st);
	if (st.src.received != cnt.fixes || st.src.errors != errors)
		die("stats differ from what the feed returned and delivered");
	odo_gps_close(g);
	return 0;
}
