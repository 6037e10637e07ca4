/*
 * collector_bounds — what the decoder accepts, the database can hold.
 *
 * For every field of the wire table (odo_wire_field_at(): type, range,
 * list length, time window, optional or not) this finds the column(s) the
 * collector writes it to, reads the column's type from information_schema
 * of a database migrated with collector/sql, and checks the type holds the
 * field's whole range (bigint for u63, integer for counts, smallint for
 * small enums and milli-g, timestamptz only for time-windowed
 * milliseconds, ...), that an optional field's column accepts NULL (absent
 * = not measured), and that the writer's SQL (collector/pg/sql.h) really
 * writes that column. A field without a mapping fails the test: a new wire
 * key needs a column first.
 *
 *   collector_bounds CONNINFO
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "odo/wire.h"
#include "pg/sql.h"

enum conv {
	CV_INT,     /* integer as is */
	CV_FLOAT,   /* double as is */
	CV_BOOL,    /* boolean */
	CV_TIME,    /* UTC ms -> timestamptz (to_timestamp(ms / 1000)) */
	CV_TEXT,    /* text */
	CV_TEXTS,   /* list of text -> text[] */
	CV_NAME,    /* small enum -> its name as text */
	CV_DT,      /* 0.1 s steps -> absolute ms, bigint[] */
	CV_E6,      /* 1e-6 degree (delta-coded) -> double precision[] */
	CV_SCALED,  /* 0.1 m/s or whole metres, null allowed -> double precision[] */
	CV_INTS,    /* integer list as is -> smallint[] etc. */
};

struct map {
	int kind;
	const char *key;
	enum conv conv;
	const char *cols; /* "table.column ..." */
};

#define ALL_SEQ                                                                                              \
	"samples.seq events.seq dtc_reports.seq vehicle_reports.seq phone_states.seq device_status.seq tracks.seq " \
	"crash_traces.seq trips.start_seq trips.end_seq quarantine.seq dead_letters.seq batches.seq_hi"
#define ALL_T                                                                                                \
	"samples.t events.t dtc_reports.t vehicle_reports.t phone_states.t device_status.t tracks.t crash_traces.t " \
	"trips.start_time quarantine.t"

static const struct map MAP[] = {
	{ ODO_WIRE_KIND_BATCH, "ep", CV_INT, "batches.epoch device_epochs.epoch" },
	{ ODO_WIRE_KIND_BATCH, "af", CV_INT, "device_epochs.acked lost_at_server.seq_hi" },
	{ ODO_WIRE_KIND_BATCH, "seq", CV_INT, "batches.seq_lo" },
	{ ODO_WIRE_KIND_ACK, "ep", CV_INT, "device_epochs.epoch" },
	{ ODO_WIRE_KIND_ACK, "ack", CV_INT, "device_epochs.acked" },
	{ ODO_WIRE_KIND_COMMON, "s", CV_INT, ALL_SEQ },
	{ ODO_WIRE_KIND_COMMON, "t", CV_TIME, ALL_T },
	{ ODO_WIRE_KIND_COMMON, "ts", CV_INT, "samples.tsrc events.tsrc tracks.tsrc crash_traces.tsrc" },
	{ ODO_WIRE_KIND_COMMON, "k", CV_INT, "quarantine.kind dead_letters.kind" },
	{ ODO_REC_TRIP_START, "trip", CV_INT, "trips.device_trip_id" },
	{ ODO_REC_TRIP_START, "lat", CV_FLOAT, "trips.start_lat" },
	{ ODO_REC_TRIP_START, "lon", CV_FLOAT, "trips.start_lon" },
	{ ODO_REC_TRIP_END, "trip", CV_INT, "trips.device_trip_id" },
	{ ODO_REC_TRIP_END, "t0", CV_TIME, "trips.start_time" },
	{ ODO_REC_TRIP_END, "t1", CV_TIME, "trips.end_time" },
	{ ODO_REC_TRIP_END, "dist", CV_FLOAT, "trips.distance_m trips.total_distance_miles" },
	{ ODO_REC_TRIP_END, "odist", CV_FLOAT, "trips.obd_distance_m" },
	{ ODO_REC_TRIP_END, "dur", CV_FLOAT, "trips.duration_s trips.duration_minutes" },
	{ ODO_REC_TRIP_END, "mov", CV_FLOAT, "trips.moving_s" },
	{ ODO_REC_TRIP_END, "idle", CV_FLOAT, "trips.idle_s" },
	{ ODO_REC_TRIP_END, "vavg", CV_FLOAT, "trips.avg_speed_mps trips.avg_speed_mph" },
	{ ODO_REC_TRIP_END, "vmax", CV_FLOAT, "trips.max_speed_mps" },
	{ ODO_REC_TRIP_END, "rpm", CV_FLOAT, "trips.avg_rpm" },
	{ ODO_REC_TRIP_END, "night", CV_FLOAT, "trips.night_m" },
	{ ODO_REC_TRIP_END, "lnw", CV_FLOAT, "trips.late_night_weekend_m" },
	{ ODO_REC_TRIP_END, "rush", CV_FLOAT, "trips.rush_hour_m" },
	{ ODO_REC_TRIP_END, "heavy", CV_FLOAT, "trips.heavy_traffic_m" },
	{ ODO_REC_TRIP_END, "wiper", CV_FLOAT, "trips.wiper_m" },
	{ ODO_REC_TRIP_END, "scr", CV_FLOAT, "trips.screen_on_s" },
	{ ODO_REC_TRIP_END, "call", CV_FLOAT, "trips.handheld_call_s" },
	{ ODO_REC_TRIP_END, "phc", CV_INT, "trips.phone_handled_count" },
	{ ODO_REC_TRIP_END, "hb", CV_INT, "trips.hard_brakes" },
	{ ODO_REC_TRIP_END, "ra", CV_INT, "trips.rapid_accels" },
	{ ODO_REC_TRIP_END, "hc", CV_INT, "trips.harsh_corners" },
	{ ODO_REC_TRIP_END, "sw", CV_INT, "trips.swerves" },
	{ ODO_REC_TRIP_END, "cr", CV_INT, "trips.crashes" },
	{ ODO_REC_TRIP_END, "jerk", CV_FLOAT, "trips.mean_abs_jerk" },
	{ ODO_REC_TRIP_END, "acc", CV_FLOAT, "trips.gps_accuracy_m" },
	{ ODO_REC_TRIP_END, "dtc", CV_BOOL, "trips.has_dtc" },
	{ ODO_REC_TRIP_END, "air", CV_BOOL, "trips.airbag_deployed" },
	{ ODO_REC_TRIP_END, "end", CV_INT, "trips.end_reason" },
	{ ODO_REC_TRIP_END, "lsrc", CV_INT, "trips.lon_source" },
	{ ODO_REC_TRIP_END, "hb1", CV_INT, "trips.hard_brakes_g1" },
	{ ODO_REC_TRIP_END, "hb2", CV_INT, "trips.hard_brakes_g2" },
	{ ODO_REC_TRIP_END, "hb3", CV_INT, "trips.hard_brakes_g3" },
	{ ODO_REC_TRIP_END, "ra1", CV_INT, "trips.rapid_accels_g1" },
	{ ODO_REC_TRIP_END, "ra2", CV_INT, "trips.rapid_accels_g2" },
	{ ODO_REC_TRIP_END, "ra3", CV_INT, "trips.rapid_accels_g3" },
	{ ODO_REC_TRIP_END, "hc1", CV_INT, "trips.harsh_corners_g1" },
	{ ODO_REC_TRIP_END, "hc2", CV_INT, "trips.harsh_corners_g2" },
	{ ODO_REC_TRIP_END, "hc3", CV_INT, "trips.harsh_corners_g3" },
	{ ODO_REC_TRIP_END, "sw1", CV_INT, "trips.swerves_g1" },
	{ ODO_REC_TRIP_END, "sw2", CV_INT, "trips.swerves_g2" },
	{ ODO_REC_TRIP_END, "sw3", CV_INT, "trips.swerves_g3" },
	{ ODO_REC_TRIP_END, "lo1", CV_FLOAT, "trips.lon_share_g1" },
	{ ODO_REC_TRIP_END, "lo2", CV_FLOAT, "trips.lon_share_g2" },
	{ ODO_REC_TRIP_END, "lo3", CV_FLOAT, "trips.lon_share_g3" },
	{ ODO_REC_TRIP_END, "la1", CV_FLOAT, "trips.lat_share_g1" },
	{ ODO_REC_TRIP_END, "la2", CV_FLOAT, "trips.lat_share_g2" },
	{ ODO_REC_TRIP_END, "la3", CV_FLOAT, "trips.lat_share_g3" },
	{ ODO_REC_TRIP_END, "lop", CV_FLOAT, "trips.lon_p95_g" },
	{ ODO_REC_TRIP_END, "lap", CV_FLOAT, "trips.lat_p95_g" },
	{ ODO_REC_TRIP_END, "vsd", CV_FLOAT, "trips.speed_sd_mps" },
	{ ODO_REC_TRIP_END, "ph", CV_BOOL, "trips.phone_measured" },
	{ ODO_REC_TRIP_END, "lmt", CV_FLOAT, "trips.lon_moving_s" },
	{ ODO_REC_TRIP_END, "amt", CV_FLOAT, "trips.lat_moving_s" },
	{ ODO_REC_EVENT, "trip", CV_INT, "events.device_trip_id" },
	{ ODO_REC_EVENT, "ek", CV_NAME, "events.kind" },
	{ ODO_REC_EVENT, "src", CV_INT, "events.source" },
	{ ODO_REC_EVENT, "dur", CV_INT, "events.duration_ms" },
	{ ODO_REC_EVENT, "pk", CV_FLOAT, "events.peak_g" },
	{ ODO_REC_EVENT, "mg", CV_FLOAT, "events.mean_g" },
	{ ODO_REC_EVENT, "v0", CV_FLOAT, "events.speed_before_mps" },
	{ ODO_REC_EVENT, "v1", CV_FLOAT, "events.speed_after_mps" },
	{ ODO_REC_EVENT, "lat", CV_FLOAT, "events.lat" },
	{ ODO_REC_EVENT, "lon", CV_FLOAT, "events.lon" },
	{ ODO_REC_EVENT, "hdg", CV_FLOAT, "events.heading_deg" },
	{ ODO_REC_EVENT, "gr", CV_INT, "events.grade" },
	{ ODO_REC_SAMPLE, "trip", CV_INT, "samples.device_trip_id" },
	{ ODO_REC_SAMPLE, "fix", CV_INT, "samples.fix" },
	{ ODO_REC_SAMPLE, "lat", CV_FLOAT, "samples.lat" },
	{ ODO_REC_SAMPLE, "lon", CV_FLOAT, "samples.lon" },
	{ ODO_REC_SAMPLE, "v", CV_FLOAT, "samples.speed_mps" },
	{ ODO_REC_SAMPLE, "hdg", CV_FLOAT, "samples.heading_deg" },
	{ ODO_REC_SAMPLE, "eph", CV_FLOAT, "samples.eph_m" },
	{ ODO_REC_SAMPLE, "alt", CV_FLOAT, "samples.alt_m" },
	{ ODO_REC_SAMPLE, "rpm", CV_FLOAT, "samples.rpm" },
	{ ODO_REC_SAMPLE, "ov", CV_FLOAT, "samples.obd_speed_mps" },
	{ ODO_REC_SAMPLE, "thr", CV_FLOAT, "samples.throttle_pct" },
	{ ODO_REC_SAMPLE, "cool", CV_FLOAT, "samples.coolant_c" },
	{ ODO_REC_SAMPLE, "fuel", CV_FLOAT, "samples.fuel_pct" },
	{ ODO_REC_SAMPLE, "ax", CV_FLOAT, "samples.ax_g" },
	{ ODO_REC_SAMPLE, "ay", CV_FLOAT, "samples.ay_g" },
	{ ODO_REC_DTC, "ecu", CV_INT, "dtc_reports.ecu" },
	{ ODO_REC_DTC, "mil", CV_BOOL, "dtc_reports.mil" },
	{ ODO_REC_DTC, "st", CV_TEXTS, "dtc_reports.stored" },
	{ ODO_REC_DTC, "pd", CV_TEXTS, "dtc_reports.pending" },
	{ ODO_REC_DTC, "pm", CV_TEXTS, "dtc_reports.permanent" },
	{ ODO_REC_DTC, "air", CV_BOOL, "dtc_reports.airbag_deployed" },
	{ ODO_REC_VEHICLE, "vin", CV_TEXT, "vehicle_reports.vin" },
	{ ODO_REC_VEHICLE, "ecu", CV_INT, "vehicle_reports.ecu" },
	{ ODO_REC_PHONE, "scr", CV_BOOL, "phone_states.screen_on" },
	{ ODO_REC_PHONE, "call", CV_INT, "phone_states.call" },
	{ ODO_REC_PHONE, "hand", CV_BOOL, "phone_states.handled" },
	{ ODO_REC_STATUS, "up", CV_INT, "device_status.uptime_s" },
	{ ODO_REC_STATUS, "obd", CV_INT, "device_status.outbox_depth" },
	{ ODO_REC_STATUS, "oage", CV_INT, "device_status.outbox_oldest_age_s" },
	{ ODO_REC_STATUS, "evict", CV_INT, "device_status.evicted" },
	{ ODO_REC_STATUS, "rc", CV_INT, "device_status.reconnects" },
	{ ODO_REC_STATUS, "canerr", CV_INT, "device_status.can_errors" },
	{ ODO_REC_STATUS, "gpserr", CV_INT, "device_status.gps_errors" },
	{ ODO_REC_STATUS, "accerr", CV_INT, "device_status.accel_errors" },
	{ ODO_REC_STATUS, "fix", CV_INT, "device_status.fix" },
	{ ODO_REC_STATUS, "clk", CV_INT, "device_status.clock_source" },
	{ ODO_REC_STATUS, "cal", CV_INT, "device_status.calib_state" },
	{ ODO_REC_STATUS, "calq", CV_FLOAT, "device_status.calib_confidence" },
	{ ODO_REC_STATUS, "roll", CV_FLOAT, "device_status.calib_roll_deg" },
	{ ODO_REC_STATUS, "pitch", CV_FLOAT, "device_status.calib_pitch_deg" },
	{ ODO_REC_STATUS, "yaw", CV_FLOAT, "device_status.calib_yaw_deg" },
	{ ODO_REC_STATUS, "calt", CV_FLOAT, "device_status.calib_ready_s" },
	{ ODO_REC_STATUS, "glag", CV_FLOAT, "device_status.calib_gps_lag_s" },
	{ ODO_REC_STATUS, "gyro", CV_INT, "device_status.calib_gyro_state" },
	{ ODO_REC_TRACK, "trip", CV_INT, "tracks.device_trip_id" },
	{ ODO_REC_TRACK, "dt", CV_DT, "tracks.t_ms" },
	{ ODO_REC_TRACK, "la", CV_E6, "tracks.lat" },
	{ ODO_REC_TRACK, "lo", CV_E6, "tracks.lon" },
	{ ODO_REC_TRACK, "v", CV_SCALED, "tracks.speed_mps" },
	{ ODO_REC_TRACK, "e", CV_SCALED, "tracks.eph_m" },
	{ ODO_REC_CRASH_TRACE, "trip", CV_INT, "crash_traces.device_trip_id" },
	{ ODO_REC_CRASH_TRACE, "ct", CV_TIME, "crash_traces.crash_t" },
	{ ODO_REC_CRASH_TRACE, "i", CV_INT, "crash_traces.part" },
	{ ODO_REC_CRASH_TRACE, "n", CV_INT, "crash_traces.parts" },
	{ ODO_REC_CRASH_TRACE, "hz", CV_INT, "crash_traces.hz" },
	{ ODO_REC_CRASH_TRACE, "fr", CV_INT, "crash_traces.frame" },
	{ ODO_REC_CRASH_TRACE, "ax", CV_INTS, "crash_traces.ax" },
	{ ODO_REC_CRASH_TRACE, "ay", CV_INTS, "crash_traces.ay" },
	{ ODO_REC_CRASH_TRACE, "az", CV_INTS, "crash_traces.az" },
	{ ODO_REC_CRASH_TRACE, "v", CV_FLOAT, "crash_traces.speed_mps" },
	{ ODO_REC_CRASH_TRACE, "ov", CV_FLOAT, "crash_traces.obd_speed_mps" },
	{ ODO_REC_CRASH_TRACE, "rpm", CV_FLOAT, "crash_traces.rpm" },
	{ ODO_REC_CRASH_TRACE, "air", CV_BOOL, "crash_traces.airbag" },
	{ ODO_REC_CRASH_TRACE, "lat", CV_FLOAT, "crash_traces.lat" },
	{ ODO_REC_CRASH_TRACE, "lon", CV_FLOAT, "crash_traces.lon" },
};

/* The writer's statements that write each table. */
static const struct {
	const char *table;
	const char *sql[3];
} WRITES[] = {
	{ "samples", { SQL_SAMPLES } },
	{ "events", { SQL_EVENTS } },
	{ "dtc_reports", { SQL_DTC } },
	{ "vehicle_reports", { SQL_VEHICLE } },
	{ "phone_states", { SQL_PHONE } },
	{ "device_status", { SQL_STATUS } },
	{ "tracks", { SQL_TRACKS } },
	{ "crash_traces", { SQL_CRASH_TRACES } },
	{ "trips", { SQL_TRIP_START, SQL_TRIP_END } },
	{ "quarantine", { SQL_QUARANTINE } },
	{ "dead_letters", { SQL_DEAD, SQL_TRIP_START } },
	{ "batches", { SQL_BATCHES } },
	{ "device_epochs", { SQL_EPOCHS, SQL_ACK, SQL_LOST } },
	{ "lost_at_server", { SQL_LOST } },
};

static int fails, checks;

static void bad(const struct odo_wire_field *f, const char *col, const char *fmt, const char *what)
	__attribute__((format(printf, 3, 0)));
static void bad(const struct odo_wire_field *f, const char *col, const char *fmt, const char *what)
{
	char msg[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(msg, sizeof msg, fmt, what);
#pragma GCC diagnostic pop
	fprintf(stderr, "FAIL: field %d/\"%s\" -> %s: %s\n", f->kind, f->key, col, msg);
	fails++;
}

/* Does one of the writer's statements for `table` write `col`? (the column
 * list after "INSERT INTO table", or "col = " in an UPDATE / upsert) */
static int written(const char *table, const char *col)
{
	char ins[96], set[96];
	snprintf(ins, sizeof ins, "INTO %s ", table);
	snprintf(set, sizeof set, " %s = ", col);
	for (size_t i = 0; i < sizeof WRITES / sizeof WRITES[0]; i++) {
		if (strcmp(WRITES[i].table, table) != 0)
			continue;
		for (int k = 0; k < 3 && WRITES[i].sql[k]; k++) {
			const char *s = WRITES[i].sql[k], *p = strstr(s, ins);
			if (strstr(s, set))
				return 1;
			if (!p || !(p = strchr(p, '(')))
				continue;
			const char *end = strchr(p, ')');
			size_t n = strlen(col);
			for (const char *q = p; (q = strstr(q, col)) && q < end; q++)
				if ((q[-1] == '(' || q[-1] == ' ') && (q[n] == ',' || q[n] == ')'))
					return 1;
		}
	}
	return 0;
}

/* The largest integer a column type holds exactly ("" when not an integer type). */
static int int_type_holds(const char *udt, int64_t lo, uint64_t hi)
{
	int64_t min;
	uint64_t max;
	if (strcmp(udt, "int2") == 0)
		min = INT16_MIN, max = INT16_MAX;
	else if (strcmp(udt, "int4") == 0)
		min = INT32_MIN, max = INT32_MAX;
	else if (strcmp(udt, "int8") == 0)
		min = INT64_MIN, max = INT64_MAX;
	else
		return -1;
	return lo >= min && hi <= max;
}

static void check_column(PGconn *c, const struct odo_wire_field *f, enum conv conv, const char *col)
{
	char table[64], name[64];
	const char *dot = strchr(col, '.');
	snprintf(table, sizeof table, "%.*s", (int)(dot - col), col);
	snprintf(name, sizeof name, "%s", dot + 1);
	const char *v[2] = { table, name };
	PGresult *r = PQexecParams(c,
				   "SELECT data_type, udt_name, coalesce(character_maximum_length, 0), is_nullable"
				   " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1"
				   " AND column_name = $2",
				   2, NULL, v, NULL, NULL, 0);
	checks++;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		bad(f, col, "%s", "no such column");
		PQclear(r);
		return;
	}
	const char *type = PQgetvalue(r, 0, 0), *udt = PQgetvalue(r, 0, 1);
	long maxlen = atol(PQgetvalue(r, 0, 2));
	int nullable = strcmp(PQgetvalue(r, 0, 3), "YES") == 0;
	/* a column the writer fills from a different field or computes is checked by its own mapping */
	if (!written(table, name))
		bad(f, col, "%s", "the writer's SQL (collector/pg/sql.h) does not write this column");
	/* absent = not measured = NULL; an absent DTC list is the empty list (docs/wire-format.md) */
	if (!f->required && !nullable && conv != CV_TEXTS)
		bad(f, col, "%s", "optional field (absent = not measured) but the column is NOT NULL");
	switch (conv) {
	case CV_INT: {
		int h = int_type_holds(udt, f->imin, f->imax);
		if (h < 0)
			bad(f, col, "integer field stored in %s", type);
		else if (!h)
			bad(f, col, "range does not fit %s", udt);
		break;
	}
	case CV_FLOAT:
		/* finite doubles; derived columns (miles, minutes) are double precision too */
		if (strcmp(udt, "float8") != 0)
			bad(f, col, "float field stored in %s (double precision needed)", type);
		break;
	case CV_BOOL:
		if (strcmp(udt, "bool") != 0)
			bad(f, col, "boolean stored in %s", type);
		break;
	case CV_TIME:
		/* to_timestamp() of any int64 ms overflows timestamptz (22008): only the
		 * receiver's window [2000-01-01, now + 1 day] makes every accepted t fit */
		if (strcmp(udt, "timestamptz") != 0)
			bad(f, col, "time stored in %s", type);
		else if (!f->time_window)
			bad(f, col, "%s", "milliseconds without the receiver's time window cannot all be a timestamptz");
		break;
	case CV_TEXT:
		if (strcmp(udt, "text") != 0 && !(strcmp(udt, "varchar") == 0 && maxlen >= (long)f->max_len))
			bad(f, col, "text stored in %s too short", type);
		break;
	case CV_TEXTS:
		if (strcmp(udt, "_text") != 0)
			bad(f, col, "text list stored in %s", type);
		break;
	case CV_NAME:
		if (strcmp(udt, "text") != 0)
			bad(f, col, "named value stored in %s", type);
		for (uint64_t x = (uint64_t)f->imin; x <= f->imax; x++)
			if (strcmp(odo_event_kind_name((int)x), "?") == 0)
				bad(f, col, "%s", "a value the decoder accepts has no name to store");
		break;
	case CV_DT:
		/* t + up to max_len steps of imax tenths of a second, in ms */
		if (strcmp(udt, "_int8") != 0)
			bad(f, col, "absolute ms stored in %s", type);
		else if ((double)f->max_len * (double)f->imax * 100 > 1e15)
			bad(f, col, "%s", "the track's span could overflow bigint ms");
		break;
	case CV_E6:
	case CV_SCALED:
		/* integers up to 2^53 are exact in a double */
		if (strcmp(udt, "_float8") != 0)
			bad(f, col, "scaled list stored in %s", type);
		else if (f->imax > (1ULL << 53) || f->imin < -(1LL << 53))
			bad(f, col, "%s", "range not exact in double precision");
		break;
	case CV_INTS: {
		const char *elem = udt[0] == '_' ? udt + 1 : "";
		int h = int_type_holds(elem, f->imin, f->imax);
		if (h <= 0)
			bad(f, col, "integer list does not fit %s", type);
		break;
	}
	}
	PQclear(r);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: collector_bounds CONNINFO\n");
		return 2;
	}
	PGconn *c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "collector_bounds: %s", PQerrorMessage(c));
		return 1;
	}
	struct odo_wire_field f;
	size_t nfields = 0;
	for (size_t i = 0; odo_wire_field_at(i, &f) == ODO_OK; i++, nfields++) {
		const struct map *m = NULL;
		for (size_t k = 0; k < sizeof MAP / sizeof MAP[0] && !m; k++)
			if (MAP[k].kind == f.kind && strcmp(MAP[k].key, f.key) == 0)
				m = &MAP[k];
		if (!m) {
			fprintf(stderr, "FAIL: field %d/\"%s\" is not mapped to a column: a new wire key needs its column"
					" (collector/sql) and a line here\n", f.kind, f.key);
			fails++;
			continue;
		}
		char cols[512];
		snprintf(cols, sizeof cols, "%s", m->cols);
		for (char *save = NULL, *col = strtok_r(cols, " ", &save); col; col = strtok_r(NULL, " ", &save))
			check_column(c, &f, m->conv, col);
	}
	PQfinish(c);
	printf("%zu wire fields, %d (field, column) pairs checked, %d failure(s)\n", nfields, checks, fails);
	if (nfields < 100)
		fails++, fprintf(stderr, "FAIL: only %zu fields in the wire table?\n", nfields);
	return fails ? 1 : 0;
}
