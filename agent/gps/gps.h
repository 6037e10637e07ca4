/*
 * odo-agent GPS — a gpsd client (libgps 3.22, JSON watch mode).
 *
 * Live: connects to gpsd, streams with WATCH_ENABLE|WATCH_JSON, reads
 * without blocking from the poll loop (the gpsd socket is the pollfd) and
 * delivers every TPV report to sink->gps. When gpsd goes away the client
 * closes and reconnects with exponential backoff (reconnect_min_ms doubling
 * up to reconnect_max_ms), driven by deadline()/tick().
 * Replay: odo_gps_feed_json() checks one recorded gpsd JSON line, rebuilds
 * a TPV from the members the fix uses, parses that with libgps's own parser
 * (gps_unpack) and delivers it the same way (why rebuilt: gps.c, issue #3).
 * Recording: every JSON line received live is written to the recorder
 * FILE* as "<unix s.us> <json>\n" (docs/inputs.md, gps.log).
 *
 * Fix handling: mode 0/1 (no fix) delivers lat/lon/alt NaN whatever gpsd
 * sent; mode 2 delivers alt NaN; all other doubles are as reported (NaN
 * when absent).
 */
#ifndef ODO_AGENT_GPS_H
#define ODO_AGENT_GPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "odo/clock.h"
#include "odo/config.h"
#include "source.h"

/* Longest gpsd JSON report accepted (gpsd's own GPS_JSON_RESPONSE_MAX is 4096). */
#define ODO_GPS_JSON_MAX 4096
#define ODO_GPS_HOST_MAX 128
#define ODO_GPS_PORT_MAX 16
/* Longest reason odo_gps_error() gives, NUL included. */
#define ODO_GPS_WHY_MAX 96

/* Section [gps]. */
struct odo_gps_cfg {
	char host[ODO_GPS_HOST_MAX];
	char port[ODO_GPS_PORT_MAX];
	long long reconnect_min_ms;
	long long reconnect_max_ms;
};

extern const struct odo_cfg_key odo_gps_cfg_keys[];
extern const size_t odo_gps_cfg_nkeys;

struct odo_gps;

struct odo_gps_stats {
	struct odo_source_stats src; /* received = TPVs delivered; errors = refused reports */
	uint64_t reports;            /* JSON reports of any class parsed */
	uint64_t reconnects;         /* successful connections after the first */
	uint64_t connect_failures;
	int connected;               /* 1 while a gpsd session is up */
	uint8_t fix_mode;            /* mode of the last TPV delivered (enum odo_fix_mode); 0 before any */
};

/*
 * Create a GPS source. cfg NULL: replay-only (never connects; feed JSON by
 * hand). Otherwise the first connection attempt is made at once; a failure
 * is not an error (it is retried by tick()). clock and sink are borrowed
 * and must outlive the handle. Returns ODO_OK, ODO_ERR_INVAL, ODO_ERR_NOMEM.
 */
int odo_gps_open(const struct odo_gps_cfg *cfg, const struct odo_clock *clock,
		 const struct odo_sink *sink, struct odo_gps **out) ODO_NODISCARD;

/* The poll-loop interface of g (valid until odo_gps_close). */
struct odo_source odo_gps_source(struct odo_gps *g);

/*
 * Feed one recorded gpsd JSON report (len bytes, no NUL needed, trailing
 * newline allowed). It must be one strict JSON object (nesting up to 8)
 * with a string "class" of A-Z/0-9. A TPV's time, mode, lat, lon, altMSL,
 * speed, track, climb, eph, epx, epy, epv, eps and ept must each be given
 * at most once and be of their type (time: "YYYY-MM-DDTHH:MM:SS[.f]Z";
 * mode: 0..3; the others finite numbers); those members alone are parsed by
 * libgps's gps_unpack() and the fix delivered. Other classes are counted in
 * stats.reports and otherwise ignored. Returns ODO_OK, ODO_ERR_TOOBIG
 * (longer than ODO_GPS_JSON_MAX), ODO_ERR_PROTOCOL (refused); both errors
 * are counted in stats.src.errors and explained by odo_gps_error().
 */
int odo_gps_feed_json(struct odo_gps *g, const char *line, size_t len) ODO_NODISCARD;

/*
 * Why the last odo_gps_feed_json() on g refused its line, e.g.
 * `TPV "lat": not a number at byte 31`; "" after an accepted line or for
 * g NULL. Owned by g, valid until the next feed.
 */
const char *odo_gps_error(const struct odo_gps *g);

/*
 * One gps.log line of a drive recording, as the recorder writes it:
 * "<receipt time, Unix s.us> <gpsd JSON report>" (gpspipe's "-uu" date
 * prefix and "<t>:" are accepted too). *json points into line (len bytes,
 * for odo_gps_feed_json()). ODO_OK, or ODO_ERR_INVAL with *why saying what
 * is wrong; outputs untouched on error.
 */
int odo_gps_log_parse(const char *line, int64_t *t_real_ns, const char **json, size_t *len,
		      const char **why) ODO_NODISCARD;

/* Write received JSON lines to f (borrowed; NULL stops recording) in the
 * format odo_gps_log_parse() reads. */
void odo_gps_set_recorder(struct odo_gps *g, FILE *f);

void odo_gps_stats(const struct odo_gps *g, struct odo_gps_stats *out);

/* Disconnect and free; NULL is a no-op. */
void odo_gps_close(struct odo_gps *g);

#endif
