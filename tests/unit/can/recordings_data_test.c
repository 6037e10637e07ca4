/*
 * Real recordings in ${ODO_SHARED_DATA} (not redistributable, label `data`):
 *  - obd-logs (Toyota Etios, eron93br/carOBD): every mode-01 payload of
 *    raw-can.txt has the length odo expects for its PID and decodes; every
 *    value of drive1.csv (decoded independently) lies on odo's formula's
 *    lattice, i.e. odo's scale and offset reproduce it for some raw value.
 *  - comma2k19-rav4: WHEEL_SPEEDS (id 170) of the whole log, decoded with the
 *    opendbc DBC through the vbus replay path, equal can_wheel_speed.csv
 *    bit for bit (all four wheels; FL also through the vehicle_speed role).
 *  - can-logs: busy proprietary buses yield no OBD value, DTC or VIN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/dbc.h"
#include "can/obd.h"
#include "can/candump.h"
#include "can/vbus.h"
#include "odo/log.h"

static const char *dir;

static FILE *open_data(const char *rel)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	FILE *f = fopen(p, "r");
	if (!f)
		fail_msg("cannot open %s", p);
	return f;
}

static void etios_raw_payloads(void **st)
{
	(void)st;
	FILE *f = open_data("obd-logs/raw-can.txt");
	char tok[128];
	int n = 0, known = 0;
	while (fscanf(f, "%127s", tok) == 1) {
		/* entries look like 266.5:0d00, (trailing comma optional) */
		char *c = strchr(tok, ':');
		if (!c || c == tok || !strchr("0123456789", tok[0]))
			continue;
		char *hex = c + 1;
		size_t hl = strcspn(hex, ",");
		if (hl < 2 || hl % 2)
			continue;
		uint8_t b[16];
		size_t nb = hl / 2;
		if (nb > sizeof b)
			fail_msg("long entry %s", tok);
		for (size_t i = 0; i < nb; i++) {
			unsigned v;
			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				fail_msg("bad hex %s", tok);
			b[i] = (uint8_t)v;
		}
		n++;
		int len = odo_obd_pid_len(b[0]);
		if (len == 0)
			continue;
		known++;
		if ((size_t)len != nb - 1)
			fail_msg("%s: PID %02X has %zu data bytes, odo expects %d", tok, b[0], nb - 1, len);
		double v;
		int rc = odo_obd_decode_pid(b[0], b + 1, nb - 1, &v);
		if ((b[0] & 0x1F) == 0 || b[0] == 0x01)
			assert_int_equal(rc, ODO_ERR_UNSUPPORTED);
		else if (rc != ODO_ERR_UNSUPPORTED) {
			assert_int_equal(rc, ODO_OK);
			assert_true(isfinite(v));
		}
	}
	fclose(f);
	print_message("raw-can.txt: %d payloads, %d with PIDs odo knows\n", n, known);
	assert_true(n > 150);
	assert_true(known > 120);
}

/* drive1.csv column -> PID and unit factor from the CSV's unit to odo's. */
static const struct { const char *col; uint8_t pid; double to_odo; } etios_cols[] = {
	{ "ENGINE_RPM", 0x0C, 1 }, { "VEHICLE_SPEED", 0x0D, 1 / 3.6 }, { "COOLANT_TEMPERATURE", 0x05, 1 },
	{ "THROTTLE", 0x11, 1 }, { "ENGINE_RUN_TINE", 0x1F, 1 }, { "FUEL_TANK", 0x2F, 1 },
	{ "DISTANCE_TRAVELED_WITH_MIL_ON", 0x21, 1000 }, { "ENGINE_LOAD", 0x04, 1 }, { "TIMING_ADVANCE", 0x0E, 1 },
	{ "INTAKE_AIR_TEMP", 0x0F, 1 }, { "CONTROL_MODULE_VOLTAGE", 0x42, 1 },
	{ "CATALYST_TEMPERATURE_BANK1_SENSOR1", 0x3C, 1 }, { "INTAKE_MANIFOLD_PRESSURE", 0x0B, 1 },
	{ "ABSOLUTE_BAROMETRIC_PRESSURE", 0x33, 1 },
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void etios_decoded_values(void **st)
{
	(void)st;
	FILE *f = open_data("obd-logs/drive1.csv");
	static char line[4096];
	assert_non_null(fgets(line, sizeof line, f));
	int idx[ODO_ARRAY_LEN(etios_cols)];
	for (size_t k = 0; k < ODO_ARRAY_LEN(etios_cols); k++) {
		idx[k] = -1;
		int col = 0;
		for (char *p = line; p; p = strchr(p, ','), p = p ? p + 1 : NULL, col++)
			if (strncmp(p, etios_cols[k].col, strlen(etios_cols[k].col)) == 0 &&
			    p[strlen(etios_cols[k].col)] == ' ')
				idx[k] = col;
		if (idx[k] < 0)
			fail_msg("column %s missing", etios_cols[k].col);
	}
	static double lattice[65536];
	static double vals[ODO_ARRAY_LEN(etios_cols)][4096];
	int nv = 0;
	while (fgets(line, sizeof line, f) && nv < 4096) {
		double row[64];
		int nc = 0;
		for (char *p = line; p && nc < 64; p = strchr(p, ','), p = p ? p + 1 : NULL)
			row[nc++] = strtod(p, NULL);
		for (size_t k = 0; k < ODO_ARRAY_LEN(etios_cols); k++)
			vals[k][nv] = row[idx[k]];
		nv++;
	}
	fclose(f);
	assert_true(nv > 2000);
	for (size_t k = 0; k < ODO_ARRAY_LEN(etios_cols); k++) {
		uint8_t pid = etios_cols[k].pid;
		int len = odo_obd_pid_len(pid);
		int nl = len == 1 ? 256 : 65536;
		for (int r = 0; r < nl; r++) {
			uint8_t d[2] = { (uint8_t)(len == 1 ? r : r >> 8), (uint8_t)r };
			assert_int_equal(odo_obd_decode_pid(pid, d, (size_t)len, &lattice[r]), ODO_OK);
		}
		qsort(lattice, (size_t)nl, sizeof lattice[0], cmpd);
		for (int i = 0; i < nv; i++) {
			double want = vals[k][i] * etios_cols[k].to_odo;
			/* the CSV holds float32 printed with 6 decimals */
			double tol = 2e-4 * fmax(1, fabs(want)) * fmax(1, etios_cols[k].to_odo);
			size_t lo = 0, hi = (size_t)nl;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (lattice[mid] < want)
					lo = mid + 1;
				else
					hi = mid;
			}
			double best = INFINITY;
			if (lo < (size_t)nl)
				best = fabs(lattice[lo] - want);
			if (lo > 0)
				best = fmin(best, fabs(lattice[lo - 1] - want));
			if (!(best <= tol))
				fail_msg("%s row %d: %.6f is not a value PID %02X decodes to (off by %g)",
					 etios_cols[k].col, i + 2, vals[k][i], pid, best);
		}
	}
}

struct wcap {
	int n;
	double *v;
	size_t cap;
};
static void w_sig(void *c, const struct odo_signal *s)
{
	struct wcap *w = c;
	if (s->role == ODO_SIG_VEHICLE_SPEED && (size_t)w->n < w->cap)
		w->v[w->n] = s->value;
	w->n++;
}

struct counts {
	int obd, dtc, veh;
};
static void c_obd(void *c, const struct odo_obd_value *v) { (void)v; ((struct counts *)c)->obd++; }
static void c_dtc(void *c, int64_t t, const struct odo_rec_dtc *d) { (void)t; (void)d; ((struct counts *)c)->dtc++; }
static void c_veh(void *c, int64_t t, const struct odo_rec_vehicle *v) { (void)t; (void)v; ((struct counts *)c)->veh++; }

static void cfg_defaults(struct odo_can_cfg *cfg)
{
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, cfg };
	struct odo_cfg_error err;
	assert_int_equal(odo_config_defaults(&sec, 1, &err), ODO_OK);
}

static void rav4_wheel_speeds(void **st)
{
	(void)st;
	static struct odo_can_cfg cfg;
	cfg_defaults(&cfg);
	snprintf(cfg.dbc, sizeof cfg.dbc, "%s/comma2k19-rav4/toyota_2017.dbc", dir);
	snprintf(cfg.role_vehicle_speed, sizeof cfg.role_vehicle_speed, "WHEEL_SPEEDS.WHEEL_SPEED_FL");
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	static double got[8192];
	struct wcap w = { 0, got, 8192 };
	struct odo_sink sink = { .ctx = &w, .signal = w_sig };
	struct odo_vbus *vb;
	assert_int_equal(odo_vbus_open_replay(&cfg, &clk, &sink, &vb), ODO_OK);
	struct odo_dbc *dbc;
	assert_int_equal(odo_dbc_load(cfg.dbc, &dbc, NULL), ODO_OK);
	const struct odo_dbc_msg *m = odo_dbc_find_id(dbc, 170);
	assert_non_null(m);
	static const char *names[4] = { "WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR" };
	const struct odo_dbc_signal *s[4];
	for (int i = 0; i < 4; i++)
		assert_non_null(s[i] = odo_dbc_find_signal(m, names[i]));

	FILE *log = open_data("comma2k19-rav4/can_rav4_2017.candump.log");
	FILE *csv = open_data("comma2k19-rav4/can_wheel_speed.csv");
	char l[256], c[256];
	assert_non_null(fgets(c, sizeof c, csv));
	int rows = 0, frames = 0;
	while (fgets(l, sizeof l, log)) {
		int64_t t;
		char ifn[IFNAMSIZ];
		struct can_frame f;
		assert_int_equal(odo_candump_parse_line(l, &t, ifn, &f), ODO_OK);
		frames++;
		odo_clock_set_real(&clk, t);
		odo_vbus_feed_frame(vb, &f, ifn);
		if (strcmp(ifn, "can0") != 0 || f.can_id != 170)
			continue;
		assert_non_null(fgets(c, sizeof c, csv));
		char *p = c;
		strtod(p, &p);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(*p++, ',');
			double want = strtod(p, &p), v;
			assert_int_equal(odo_dbc_decode(s[i], f.data, f.can_dlc, &v), ODO_OK);
			v *= 1 / 3.6;
			if (v != want)
				fail_msg("row %d %s: %.17g != %.17g", rows, names[i], v, want);
			if (i == 0 && got[rows] != want)
				fail_msg("row %d vbus role: %.17g != %.17g", rows, got[rows], want);
		}
		rows++;
	}
	assert_null(fgets(c, sizeof c, csv));
	fclose(log);
	fclose(csv);
	print_message("rav4: %d frames, %d WHEEL_SPEEDS rows identical\n", frames, rows);
	assert_int_equal(rows, 4974);
	assert_int_equal(w.n, rows);
	odo_dbc_close(dbc);
	odo_vbus_close(vb);
}

static void busy_buses_give_no_obd(void **st)
{
	(void)st;
	static const char *logs[] = { "can-logs/civic_19_type_r_turnonanddrive.log", "can-logs/tsx_drivestop.log",
				      "can-logs/camaro_candump-2021-04-18_191854.log" };
	for (size_t k = 0; k < ODO_ARRAY_LEN(logs); k++) {
		static struct odo_can_cfg cfg;
		cfg_defaults(&cfg);
		struct odo_clock clk;
		odo_clock_init_virtual(&clk, 0, 0);
		struct counts cnt = { 0, 0, 0 };
		struct odo_sink sink = { .ctx = &cnt, .obd = c_obd, .dtc = c_dtc, .vehicle = c_veh };
		struct odo_vbus *vb;
		assert_int_equal(odo_vbus_open_replay(&cfg, &clk, &sink, &vb), ODO_OK);
		FILE *f = open_data(logs[k]);
		char l[256];
		int frames = 0, bad = 0;
		while (fgets(l, sizeof l, f)) {
			int64_t t;
			char ifn[IFNAMSIZ];
			struct can_frame fr;
			if (odo_candump_parse_line(l, &t, ifn, &fr) != ODO_OK) {
				bad++;
				continue;
			}
			frames++;
			odo_clock_set_real(&clk, t);
			odo_vbus_feed_frame(vb, &fr, NULL);
		}
		fclose(f);
		struct odo_can_counters c;
		odo_vbus_counters(vb, &c);
		print_message("%s: %d frames (%d unparsable lines), %llu malformed\n", logs[k], frames, bad,
			      (unsigned long long)c.malformed);
		assert_true(frames > 1000);
		assert_int_equal(c.frames, (uint64_t)frames);
		assert_int_equal(cnt.obd, 0);
		assert_int_equal(cnt.dtc, 0);
		assert_int_equal(cnt.veh, 0);
		odo_vbus_close(vb);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SHARED_DATA_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	odo_log_threshold = ODO_LOG_ERROR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(etios_raw_payloads),
		cmocka_unit_test(etios_decoded_values),
		cmocka_unit_test(rav4_wheel_speeds),
		cmocka_unit_test(busy_buses_give_no_obd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
