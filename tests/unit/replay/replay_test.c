/* Drive recordings: merge order, virtual clock, corrupt lines, recorder
 * round trip, and a committed drive replayed twice to identical output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel/accel.h"
#include "can/vbus.h"
#include "odo/config.h"
#include "odo/log.h"
#include "gps/gps.h"
#include "phone/phone.h"
#include "replay/replay.h"

/* A sink that prints everything it gets (and the clock) into `out`. */
struct rec {
	FILE *out;
	struct odo_clock *clk;
	int gps, gps3, accel, phone, obd;
	uint64_t can; /* frames the bus source took */
};

static void s_gps(void *ctx, const struct odo_gps_fix *f)
{
	struct rec *r = ctx;
	r->gps++;
	r->gps3 += f->mode == 3;
	fprintf(r->out, "gps %lld %lld %lld %u %.9f %.9f %.3f %.4f\n", (long long)odo_clock_real_ns(r->clk),
		(long long)f->mono_ns, (long long)f->t_ms, f->mode, f->lat, f->lon, f->speed_mps, f->track_deg);
}

static void s_accel(void *ctx, const struct odo_accel_sample *s)
{
	struct rec *r = ctx;
	r->accel++;
	fprintf(r->out, "acc %lld %lld %.5f %.5f %.5f %u\n", (long long)odo_clock_real_ns(r->clk),
		(long long)s->mono_ns, (double)s->x, (double)s->y, (double)s->z, s->saturated);
}

static void s_phone(void *ctx, const struct odo_phone_state *p)
{
	struct rec *r = ctx;
	r->phone++;
	fprintf(r->out, "phone %lld %lld %d %u %d\n", (long long)odo_clock_real_ns(r->clk), (long long)p->mono_ns,
		p->screen_on, p->call, p->handled);
}

/* CAN frames reach the sink through the bus source's decoding (vbus.c). */
static void s_obd(void *ctx, const struct odo_obd_value *v)
{
	struct rec *r = ctx;
	r->obd++;
	fprintf(r->out, "obd %lld %lld %X %02X %.3f\n", (long long)odo_clock_real_ns(r->clk), (long long)v->mono_ns,
		v->ecu, v->pid, v->value);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Replay `dir` into a fresh sink; returns the printed output (caller frees). */
static char *replay_dir(const char *dir, struct rec *r, struct odo_replay_stats *st)
{
	char *buf = NULL;
	size_t len = 0;
	static struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 1000);
	memset(r, 0, sizeof *r);
	r->out = open_memstream(&buf, &len);
	r->clk = &clk;
	/* every stream through its own source, in replay mode */
	static struct odo_can_cfg ccfg;
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &ccfg };
	struct odo_cfg_error err;
	assert_int_equal(odo_config_defaults(&sec, 1, &err), ODO_OK);
	struct odo_sink sink = { .ctx = r, .gps = s_gps, .accel = s_accel, .phone = s_phone, .obd = s_obd };
	struct odo_replay_targets t;
	assert_int_equal(odo_gps_open(NULL, &clk, &sink, &t.gps), ODO_OK);
	assert_int_equal(odo_vbus_open_replay(&ccfg, &clk, &sink, &t.vbus), ODO_OK);
	assert_int_equal(odo_accel_open_replay(&clk, &sink, &t.accel), ODO_OK);
	assert_int_equal(odo_phone_open(NULL, &clk, &sink, &t.phone), ODO_OK);
	struct odo_replay *rp;
	assert_int_equal(odo_replay_open(dir, &clk, &t, &rp), ODO_OK);
	int rc;
	while ((rc = odo_replay_step(rp)) == ODO_OK)
		;
	assert_int_equal(rc, ODO_ERR_CLOSED);
	assert_int_equal(odo_replay_step(rp), ODO_ERR_CLOSED);
	odo_replay_stats(rp, st);
	odo_replay_close(rp);
	struct odo_can_counters cc;
	odo_vbus_counters(t.vbus, &cc);
	r->can = cc.frames;
	odo_gps_close(t.gps);
	odo_vbus_close(t.vbus);
	odo_accel_close(t.accel);
	odo_phone_close(t.phone);
	fclose(r->out);
	return buf;
}

static void test_merge_and_corrupt(void **state)
{
	(void)state;
	char dir[] = "/tmp/odo-replay-XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_file(dir, "gps.log",
	           "10.500000 {\"class\":\"TPV\",\"mode\":2,\"lat\":1.0,\"lon\":2.0}\n"
	           "garbage line\n"
	           "11.000000 {\"class\":\"TPV\",\"mode\":3,\"lat\":1.1,\"lon\":2.1,\"altMSL\":5.0}\n"
	           "11.2 {not json\n"
	           /* hung libgps 3.22's gps_unpack() (issue #3) */
	           "11.3 {\"class\":\"SKY\",\"satellites\":[{\"PRN\":1,\"class\":\"SKY\",\"used\":\"x\"}]}\n"
	           "1970-01-01 00:00:12 12.000000: {\"class\":\"TPV\",\"mode\":1}\n"
	           "1970-01-01 00:00:12 12.5: {\"class\":\"VERSION\",\"release\":\"3.22\"}\n");
	write_file(dir, "can.log",
		   "(10.600000) can0 7E8#03410D20\n"
		   "(10.7) can0 7E8#0341ZZ\n"
		   "(11.100000) can0 123#\n");
	write_file(dir, "accel.csv",
		   "t,x,y,z,saturated\n"
		   "10.000000,0.1,0.2,9.8,0\n"
		   "10.01,abc,0,0,0\n"
		   "10.900000,1.5,-2.5,9.8,1\n");
	write_file(dir, "phone.csv",
		   "t,screen,call,handled\n"
		   "10.550000,on,handheld,1\n"
		   "10.56,on,video,1\n"
		   "11.5,off\n");
	struct rec r;
	struct odo_replay_stats st;
	/* capture the log (stderr) to check each skipped line is reported */
	char logpath[512];
	snprintf(logpath, sizeof logpath, "%s/log.txt", dir);
	fflush(stderr);
	int saved = dup(2);
	assert_int_equal(odo_log_reopen(logpath), ODO_OK);
	char *out = replay_dir(dir, &r, &st);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *lf = fopen(logpath, "r");
	assert_non_null(lf);
	char logtxt[4096];
	size_t ln = fread(logtxt, 1, sizeof logtxt - 1, lf);
	logtxt[ln] = '\0';
	fclose(lf);
	unlink(logpath);
	const char *reports[] = {
	    "/gps.log:2: bad receipt time; line skipped",
	    "/gps.log:4: not a gpsd JSON report (expected a key at byte 1); line skipped",
	    ("/gps.log:5: not a gpsd JSON report (SKY satellite \"used\": not true or false at byte 59); "
	     "line skipped"),
	    "/can.log:2: not a candump -l line; line skipped",
	    "/accel.csv:3: not an accel.csv row (t,x,y,z,saturated); line skipped",
	    "/phone.csv:3: bad phone state; line skipped",
	    "/phone.csv:4: not a phone.csv row (t,screen,call,handled); line skipped",
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(reports); i++)
		if (!strstr(logtxt, reports[i]))
			fail_msg("log lacks '%s':\n%s", reports[i], logtxt);
	const char *want =
		"acc 10000000000 1000000000 0.10000 0.20000 9.80000 0\n"
		"gps 10500000000 1500000000 0 2 1.000000000 2.000000000 nan nan\n"
		"phone 10550000000 1550000000 1 1 1\n"
		"obd 10600000000 1600000000 7E8 0D 8.889\n"
		"acc 10900000000 1900000000 1.50000 -2.50000 9.80000 1\n"
		"gps 11000000000 2000000000 0 3 1.100000000 2.100000000 nan nan\n"
		"gps 12000000000 3000000000 0 1 nan nan nan nan\n";
	/* (MONO starts at 1000 ns, moves on to REAL's place in its second -
	 * REAL - MONO whole seconds, as live - and then with REAL.) */
	assert_string_equal(out, want);
	assert_int_equal(st.items[ODO_RSTREAM_GPS], 4);
	assert_int_equal(st.corrupt[ODO_RSTREAM_GPS], 3);
	assert_int_equal(st.corrupt[ODO_RSTREAM_CAN], 1);
	assert_int_equal(st.corrupt[ODO_RSTREAM_ACCEL], 1);
	assert_int_equal(st.corrupt[ODO_RSTREAM_PHONE], 2);
	free(out);
	/* a directory without recordings */
	char empty[] = "/tmp/odo-replay-XXXXXX";
	assert_non_null(mkdtemp(empty));
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_replay *rp;
	assert_int_equal(odo_replay_open(empty, &c, NULL, &rp), ODO_ERR_NOTFOUND);
	rmdir(empty);
	const char *names[] = { "gps.log", "can.log", "accel.csv", "phone.csv" };
	for (int i = 0; i < 4; i++) {
		char p[512];
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* What the recorder taps write replays to the same values. */
static void test_recorder_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/odo-rec-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct odo_recording_meta meta = { .start_real_ns = 1700000000LL * ODO_NS_PER_S, .device_id = "dev-1",
					   .vehicle = "test \"car\"", .accel_chip = "lis3dh", .mounting = "yaw=0" };
	struct odo_recorder *rec;
	assert_int_equal(odo_recorder_open(dir, &meta, &rec), ODO_OK);
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 0);
	struct odo_phone *ph;
	assert_int_equal(odo_phone_open(NULL, &clk, NULL, &ph), ODO_OK);
	odo_phone_set_recorder(ph, odo_recorder_file(rec, ODO_RSTREAM_PHONE));
	odo_clock_advance(&clk, 250 * ODO_NS_PER_MS);
	const char *l = "odo-phone/1 screen=on call=handsfree handled=0";
	assert_int_equal(odo_phone_feed_line(ph, l, strlen(l)), ODO_OK);
	char line[ODO_ACCEL_CSV_LINE_MAX];
	struct odo_accel_sample s = { .x = 0.5f, .y = -0.25f, .z = 9.75f };
	odo_clock_advance(&clk, 10 * ODO_NS_PER_MS);
	odo_accel_csv_format(line, sizeof line, odo_clock_real_ns(&clk), &s);
	fputs(line, odo_recorder_file(rec, ODO_RSTREAM_ACCEL));
	fputs("1700000000.300000 {\"class\":\"TPV\",\"mode\":2,\"lat\":3.5,\"lon\":4.5}\n",
	      odo_recorder_file(rec, ODO_RSTREAM_GPS));
	assert_int_equal(odo_recorder_flush(rec), ODO_OK);
	odo_recorder_close(rec);
	odo_phone_close(ph);

	char p[512];
	snprintf(p, sizeof p, "%s/meta.conf", dir);
	FILE *m = fopen(p, "r");
	assert_non_null(m);
	char meta_txt[1024];
	size_t n = fread(meta_txt, 1, sizeof meta_txt - 1, m);
	meta_txt[n] = '\0';
	fclose(m);
	assert_non_null(strstr(meta_txt, "start = 1700000000.000000\n"));
	assert_non_null(strstr(meta_txt, "name = \"test 'car'\"\n"));
	assert_non_null(strstr(meta_txt, "chip = \"lis3dh\"\n"));

	struct rec r;
	struct odo_replay_stats st;
	char *out = replay_dir(dir, &r, &st);
	/* the replay's clock starts at the recording's start (meta.conf), where
	 * the live agent's timers started: MONO 1 s there (REAL - MONO whole
	 * seconds) */
	assert_string_equal(out, "phone 1700000000250000000 1250000000 1 2 0\n"
				 "acc 1700000000260000000 1260000000 0.50000 -0.25000 9.75000 0\n"
				 "gps 1700000000300000000 1300000000 0 2 3.500000000 4.500000000 nan nan\n");
	free(out);
	const char *names[] = { "gps.log", "can.log", "accel.csv", "phone.csv", "meta.conf" };
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* The committed synthetic drive: replayed twice, byte-identical; counts
 * match its truth.json; gravity at rest. */
static void test_drive_twice(void **state)
{
	(void)state;
	const char *dir = ODO_SOURCE_DIR "/tests/data/drives/synthetic-1";
	struct rec r1, r2;
	struct odo_replay_stats st1, st2;
	char *a = replay_dir(dir, &r1, &st1);
	char *b = replay_dir(dir, &r2, &st2);
	assert_true(strlen(a) > 1000000);
	assert_string_equal(a, b);
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++)
		assert_int_equal(st1.corrupt[i], 0);
	assert_int_equal(st1.out_of_order, 0);
	/* truth.json: 165.67 s drive, one TPV a second, no fix for the first
	 * 5 s (161 fixes), accel 100 Hz, 6 phone events, two OBD request/answer
	 * pairs per second */
	assert_int_equal(r1.gps3, 161);
	assert_int_equal(r1.gps, 166);
	assert_int_equal(r1.accel, 16566);
	assert_int_equal(r1.phone, 6);
	assert_int_equal(r1.can, 165 * 4);
	free(a);
	free(b);
}

/* The synthetic drive's OBD-II answers through the CAN helper's real
 * decoder (odo_vbus in replay mode): one speed and one RPM value a second,
 * 58 km/h while cruising at 16 m/s. */
struct obdrec {
	struct odo_clock *clk;
	int speed, rpm, cruise_ok;
};

static void s_obd_count(void *ctx, const struct odo_obd_value *v)
{
	struct obdrec *o = ctx;
	int64_t t = odo_clock_real_ns(o->clk) / ODO_NS_PER_S - 1715673600LL;
	if (v->pid == ODO_OBD_SPEED) {
		o->speed++;
		if (t >= 25 && t < 35 && fabs(v->value - 58 / 3.6) < 1e-9)
			o->cruise_ok++;
	} else if (v->pid == ODO_OBD_RPM) {
		o->rpm++;
	}
}

static void test_drive_vbus(void **state)
{
	(void)state;
	struct odo_can_cfg cfg;
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &cfg };
	struct odo_cfg_error err;
	assert_int_equal(odo_config_defaults(&sec, 1, &err), ODO_OK);
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	struct obdrec o = { .clk = &clk };
	struct odo_sink sink = { .ctx = &o, .obd = s_obd_count };
	struct odo_vbus *vb;
	assert_int_equal(odo_vbus_open_replay(&cfg, &clk, &sink, &vb), ODO_OK);
	struct odo_replay_targets t = { .vbus = vb };
	struct odo_replay *rp;
	assert_int_equal(odo_replay_open(ODO_SOURCE_DIR "/tests/data/drives/synthetic-1", &clk, &t, &rp), ODO_OK);
	while (odo_replay_step(rp) == ODO_OK)
		;
	odo_replay_close(rp);
	odo_vbus_close(vb);
	assert_int_equal(o.speed, 165);
	assert_int_equal(o.rpm, 165);
	assert_int_equal(o.cruise_ok, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_corrupt),
		cmocka_unit_test(test_recorder_roundtrip),
		cmocka_unit_test(test_drive_twice),
		cmocka_unit_test(test_drive_vbus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
